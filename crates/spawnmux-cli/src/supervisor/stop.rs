//! The stop sequence: the stop signal to a helper's main process, the kill after its
//! `stop_timeout`, what is left of its tree once the main process has gone (stop signal,
//! kill, give up), and the stop of the whole run.

use std::time::{Duration, Instant};

/// While the run stops, what it waits for is said this often.
pub(crate) const PROGRESS_EVERY: Duration = Duration::from_secs(1);

use super::{Action, After, Probe, State, Stop, Supervisor, Then, LAST_WAIT};
use crate::os::SIGKILL;
use crate::record::{Leftovers, Record, StopWait};

impl Supervisor {
    /// Stops the whole run: helpers not running are done, old trees are killed, and every
    /// main process gets its stop signal (killed after its `stop_timeout`) once no helper that
    /// depends on it is left: dependents stop before their dependencies, helpers without
    /// relations together.
    pub(crate) fn begin_stop(&mut self, stop: Stop, now: Instant) {
        self.stopping = Some(stop);
        self.stop_deadline = Some(now + LAST_WAIT);
        self.next_progress = Some(now + PROGRESS_EVERY);
        for i in 0..self.helpers.len() {
            let h = &mut self.helpers[i];
            match h.state {
                State::Waiting { .. } | State::Backoff { .. } | State::PortWait { .. } => {
                    h.state = State::Done { code: 0 };
                }
                // An old tree being replaced (or left behind) already had its stop signal.
                // Once its pipes are closed the `Mux` no longer waits for it, so whatever is
                // left of its group (a server that closed its output but holds its port) is
                // killed now; the helper is done once the group is empty.
                State::Draining { pid, then, .. } => {
                    h.state = State::Draining {
                        pid,
                        deadline: now + LAST_WAIT,
                        killed: true,
                        then,
                    };
                    let pgid = pid;
                    self.actions
                        .push_back(Action::KillReleasedGroup { helper: i, pgid });
                }
                // Already stopping: its kill deadline stands.
                State::Stopping {
                    kill_at: Some(at), ..
                } => {
                    let end = at + LAST_WAIT;
                    self.stop_deadline = self.stop_deadline.map(|d| d.max(end));
                }
                // Stopped in turn by `stop_in_order`; `spawned` stops a start in flight.
                _ => {}
            }
        }
        self.stop_in_order(now);
        // Exited children whose descendants still hold a pipe are stopped the same way.
        self.actions.push_back(Action::StopStrays);
    }

    /// While the run stops: sends the stop signal to every running helper that no live
    /// helper depends on any more.
    pub(crate) fn stop_in_order(&mut self, now: Instant) {
        if self.stopping.is_none() {
            return;
        }
        let due: Vec<usize> = (0..self.helpers.len())
            .filter(|&i| matches!(self.helpers[i].state, State::Running { .. }))
            .filter(|&i| self.dependents_alive(i).is_empty())
            .collect();
        for i in due {
            self.stop_main(i, now, After::Policy);
        }
    }

    /// The helpers depending on `i` that still have a process (or are starting).
    pub(crate) fn dependents_alive(&self, i: usize) -> Vec<usize> {
        (0..self.helpers.len())
            .filter(|&j| self.helpers[j].deps.contains(&i) && self.helpers[j].busy())
            .collect()
    }

    /// Sends the helper's stop signal to its main process, which is killed if it has not
    /// exited after `stop_timeout`; `after` says what its exit leads to (`Policy` keeps what
    /// an earlier stop asked for).
    pub(crate) fn stop_main(&mut self, i: usize, now: Instant, after: After) {
        let h = &mut self.helpers[i];
        let kill_at = Some(now + h.spec.stop_timeout);
        h.state = match h.state {
            State::Running { pid, since, .. } => State::Stopping {
                pid,
                since,
                kill_at,
                after,
                failed: false,
            },
            State::Stopping {
                pid,
                since,
                after: before,
                failed,
                ..
            } => State::Stopping {
                pid,
                since,
                kill_at,
                after: if after == After::Policy {
                    before
                } else {
                    after
                },
                failed,
            },
            _ => return,
        };
        if self.stopping.is_some() {
            let end = now + h.spec.stop_timeout + LAST_WAIT;
            self.stop_deadline = Some(self.stop_deadline.map_or(end, |d| d.max(end)));
        }
        let signal = h.spec.stop_signal;
        self.actions.push_back(Action::Stop { helper: i, signal });
    }

    /// The main process outlived its stop timeout.
    pub(crate) fn kill_main(&mut self, i: usize) {
        if let State::Stopping { kill_at, .. } = &mut self.helpers[i].state {
            *kill_at = None;
        }
        let helper = self.helpers[i].name();
        self.log(Record::KillMain { helper });
        self.actions.push_back(Action::Kill(i));
    }

    /// The helper's main process has ended: if it left processes behind (a pipe still held,
    /// its process group not empty), they get the stop signal and the helper drains (killed
    /// after `stop_timeout`) before `then`; otherwise `then` now.
    pub(crate) fn settle(&mut self, i: usize, then: Then, now: Instant, probe: &dyn Probe) {
        let Some(pid) = self.helpers[i].main_pid() else {
            return self.resolve(i, then);
        };
        let (holds, count) = (probe.holds(i), probe.members(pid));
        if !holds && count == 0 {
            return self.resolve(i, then);
        }
        // During a stop every tree already had its signal: a line per helper would be noise.
        if self.stopping.is_none() {
            let helper = self.helpers[i].name();
            let exact = probe.count_is_exact();
            let left = Leftovers { count, exact };
            self.log(Record::LeftBehind { helper, left });
        }
        let signal = self.helpers[i].spec.stop_signal;
        self.actions.push_back(match holds {
            true => Action::Stop { helper: i, signal },
            false => Action::SignalGroup { pgid: pid, signal },
        });
        self.drain(i, now, then);
    }

    /// Waits for the helper's old tree (which had its stop signal) to go before `then`.
    pub(crate) fn drain(&mut self, i: usize, now: Instant, then: Then) {
        let h = &mut self.helpers[i];
        if let Some(pid) = h.main_pid() {
            h.state = State::Draining {
                pid,
                deadline: now + h.spec.stop_timeout,
                killed: false,
                then,
            };
        }
    }

    /// The helper's old tree is gone (or given up on): on to `then`.
    pub(crate) fn resolve(&mut self, i: usize, then: Then) {
        self.helpers[i].state = match then {
            Then::Done(code) => State::Done { code },
            _ if self.stopping.is_some() => State::Done { code: 0 },
            Then::Backoff(until) => State::Backoff { until },
            Then::Start => return self.start(i),
            Then::Wait(since) => State::Waiting {
                since,
                next_note: since + super::helper::WAIT_NOTE_EVERY,
            },
        };
    }

    /// Moves on the helpers whose old process tree has gone, kills trees that outlived
    /// their stop timeout, and gives up on killed ones after `LAST_WAIT`.
    pub(crate) fn check_draining(&mut self, now: Instant, probe: &dyn Probe) {
        for i in 0..self.helpers.len() {
            let State::Draining {
                pid,
                deadline,
                killed,
                then,
            } = self.helpers[i].state
            else {
                continue;
            };
            let count = probe.members(pid);
            let gone = !probe.holds(i) && count == 0;
            if !gone && now < deadline {
                continue;
            }
            let helper = self.helpers[i].name();
            if !gone && !killed {
                let left = Leftovers {
                    count,
                    exact: probe.count_is_exact(),
                };
                let timeout = self.helpers[i].spec.stop_timeout;
                self.log(Record::KillLeftovers {
                    helper,
                    left,
                    timeout,
                });
                self.actions.push_back(Action::Kill(i));
                let signal = SIGKILL;
                self.actions
                    .push_back(Action::SignalGroup { pgid: pid, signal });
                self.helpers[i].state = State::Draining {
                    pid,
                    deadline: now + LAST_WAIT,
                    killed: true,
                    then,
                };
                continue;
            }
            if !gone {
                self.log(Record::LeftoversStuck { helper });
            }
            self.resolve(i, then);
        }
    }

    /// While the run stops: what it still waits for (said every `PROGRESS_EVERY`).
    pub(crate) fn progress(&mut self, now: Instant, probe: &dyn Probe) {
        self.next_progress = Some(now + PROGRESS_EVERY);
        let mut waiting = Vec::new();
        let mut later = Vec::new();
        for h in &self.helpers {
            let (pid, kill_at) = match h.state {
                State::Stopping { pid, kill_at, .. } => (pid, kill_at),
                State::Draining {
                    pid,
                    deadline,
                    killed,
                    ..
                } => (pid, (!killed).then_some(deadline)),
                State::Running { .. } | State::Starting => {
                    later.push(h.name());
                    continue;
                }
                _ => continue,
            };
            waiting.push(StopWait {
                helper: h.name(),
                processes: probe.members(pid),
                kill_in: kill_at.map(|t| t.saturating_duration_since(now)),
            });
        }
        if waiting.is_empty() && later.is_empty() {
            return;
        }
        let exact = probe.count_is_exact();
        self.log(Record::StopProgress {
            waiting,
            later,
            exact,
        });
    }
}
