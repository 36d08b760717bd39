//! The stop sequence: the stop signal to a helper's main process, the kill after its
//! `stop_timeout`, what is left of its tree once the main process has gone (stop signal,
//! kill, give up), and the stop of the whole run.

use std::time::Instant;

use super::{Action, Probe, State, Stop, Supervisor, Then, LAST_WAIT};
use crate::os::SIGKILL;
use crate::record::{Leftovers, Record};

impl Supervisor {
    /// Stops the whole run: every main process gets its stop signal (and is killed after its
    /// `stop_timeout`), helpers not running are done, old trees are killed.
    pub(crate) fn begin_stop(&mut self, stop: Stop, now: Instant) {
        self.stopping = Some(stop);
        let mut longest = std::time::Duration::ZERO;
        for i in 0..self.helpers.len() {
            let h = &mut self.helpers[i];
            match h.state {
                State::Running { .. } | State::Stopping { .. } => {
                    longest = longest.max(h.spec.stop_timeout);
                    self.stop_main(i, now, false);
                }
                State::Waiting { .. } | State::Backoff { .. } => {
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
                // `spawned` stops it.
                State::Starting | State::Done { .. } => {}
            }
        }
        // Exited children whose descendants still hold a pipe are stopped the same way.
        self.actions.push_back(Action::StopStrays);
        self.stop_deadline = Some(now + longest + LAST_WAIT);
    }

    /// Sends the helper's stop signal to its main process, which is killed if it has not
    /// exited after `stop_timeout`. `replace`: it is started again afterwards.
    pub(crate) fn stop_main(&mut self, i: usize, now: Instant, replace: bool) {
        let h = &mut self.helpers[i];
        let kill_at = Some(now + h.spec.stop_timeout);
        h.state = match h.state {
            State::Running { pid, since, .. } => State::Stopping {
                pid,
                since,
                kill_at,
                replace,
                failed: false,
            },
            State::Stopping {
                pid,
                since,
                replace: r,
                failed,
                ..
            } => State::Stopping {
                pid,
                since,
                kill_at,
                replace: r || replace,
                failed,
            },
            _ => return,
        };
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
}
