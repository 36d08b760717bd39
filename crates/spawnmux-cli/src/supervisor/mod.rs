//! The supervisor: every rule of `spawnmux run`, as a pure state machine.
//!
//! Each helper is in one [`State`] (see `helper.rs` and the diagram in ARCHITECTURE.md). The
//! runner feeds the supervisor what happened (a spawn's result, output, an exit, a signal, file
//! changes, the clock) and applies the [`Action`]s it queues (spawn, signal, kill, log). The
//! supervisor never reads the clock (every input carries `now`), never touches a process and
//! never writes the log: that is what makes every rule unit-testable with a fake clock
//! (`tests.rs`). What it must know about the world (is a tree gone?) it asks a [`Probe`].
//!
//! Restart policy and backoff, readiness and `depends_on`, the stop sequence (stop signal,
//! kill after `stop_timeout`, processes left behind), watch debounce and rebuild-loop
//! detection all live here; timers are deadlines ([`Supervisor::next_deadline`]) that the
//! runner waits for and then reports with [`Supervisor::tick`].

mod changes;
mod checks;
mod control;
mod helper;
pub(crate) mod input;
mod ports;
mod ready;
mod stop;
#[cfg(test)]
mod tests;
mod watch;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use spawnmux::Exit;

use crate::record::{Ended, Record};
use crate::spec::{Program, RunSpec};
use changes::Changes;
pub(crate) use checks::{CheckAttempt, CheckKind};
pub(crate) use control::{Request, Status};
use helper::Helper;
pub(crate) use helper::{After, Role, State, Then};

/// After every stop timeout and kill, how long to wait for trees to go away.
pub(crate) const LAST_WAIT: Duration = Duration::from_secs(5);
/// How often to look again for an old process tree that has closed its pipes but not yet
/// gone.
pub(crate) const TREE_CHECK: Duration = Duration::from_millis(20);

/// What the supervisor asks the runner to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// Start the helper; report the result with [`Supervisor::spawned`].
    Spawn(usize),
    /// Let go of spawnmux's hold on the helper's `auto` port: it starts once the port is
    /// free.
    ReleasePort(usize),
    /// Send `signal` to the helper's (last) child through the `Mux` (its process group).
    Stop {
        helper: usize,
        signal: i32,
    },
    /// Kill the helper's (last) child's tree through the `Mux`.
    Kill(usize),
    /// Send `signal` to what is left of process group `pgid` (the `Mux` has let go of it).
    SignalGroup {
        pgid: u32,
        signal: i32,
    },
    /// Kill what is left of process group `pgid` if the `Mux` no longer has the helper's
    /// last child (once it has let go, nothing else would).
    KillReleasedGroup {
        helper: usize,
        pgid: u32,
    },
    /// Terminate every child of the `Mux` that is not a helper's main process (exited
    /// processes whose descendants still hold a pipe).
    StopStrays,
    /// Kill every child of the `Mux` now (a second stop signal).
    KillAll,
    /// The stop's deadline passed: let go of what the `Mux` still has (it kills and reaps).
    LetGo,
    Log(Record),
    /// Make an attempt of a helper's check (its spec: [`Supervisor::current_check`]);
    /// report its result with [`Supervisor::check_result`].
    Check(CheckAttempt),
}

/// What the supervisor asks about the world.
pub(crate) trait Probe {
    /// Whether the `Mux` still has the helper's last child (unreaped, or a stream open).
    fn holds(&self, helper: usize) -> bool;
    /// Live members of process group `pgid` (zombies do not count).
    fn members(&self, pgid: u32) -> usize;
    /// Whether [`Probe::members`] is exact, or only tells some (1) from none (0).
    fn count_is_exact(&self) -> bool;
    /// Whether a server could listen on `port` now (a world without ports: always).
    fn port_free(&self, _port: u16) -> bool {
        true
    }
}

/// Why the run is stopping, and the exit code that goes with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Stop {
    Signal(i32),
    HelperFailed(i32),
    /// Every helper ended; only streams held by leftovers are open.
    Finished,
    /// The log could not be written (`first_failure` holds the exit code).
    LogBroken,
}

/// Run-wide switches from the command line.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    /// `--kill-others-on-fail`: stop all when a helper failed for good.
    pub(crate) kill_others_on_fail: bool,
    /// `--kill-others`: stop all as soon as any helper has ended for good.
    pub(crate) kill_others: bool,
}

/// Watch mode: which helper is the build, which helpers a change restarts, the changes.
#[derive(Debug)]
struct Watching {
    build: Option<usize>,
    restart: Vec<usize>,
    changes: Changes,
}

#[derive(Debug)]
pub(crate) struct Supervisor {
    helpers: Vec<Helper>,
    options: Options,
    stopping: Option<Stop>,
    first_failure: Option<i32>,
    /// Deadline of the whole stop (then the `Mux` lets go of what is left).
    stop_deadline: Option<Instant>,
    /// While the run stops: when to say next what it waits for.
    next_progress: Option<Instant>,
    watching: Option<Watching>,
    actions: VecDeque<Action>,
    /// The number of the last check attempt asked for.
    check_seq: u64,
}

impl Supervisor {
    /// The helpers of `plan` (then watch mode's build, if any), none started yet.
    pub(crate) fn new(plan: &RunSpec, options: Options, now: Instant) -> Supervisor {
        let build = plan.watch.as_ref().and_then(|w| w.build.clone());
        let specs = plan.helpers.iter().cloned().map(|s| (s, Role::Helper));
        let specs: Vec<_> = specs.chain(build.map(|b| (b, Role::Build))).collect();
        let index = |name: &String| specs.iter().position(|(s, _)| &s.name == name);
        let helpers: Vec<Helper> = specs
            .iter()
            .map(|(spec, role)| {
                let deps = spec.depends_on.iter().filter_map(index).collect();
                Helper::new(spec.clone(), *role, deps, now)
            })
            .collect();
        let watching = plan.watch.as_ref().map(|w| Watching {
            build: helpers.iter().position(|h| h.role == Role::Build),
            restart: w.restart.iter().filter_map(index).collect(),
            changes: Changes::new(w.debounce, w.on_busy),
        });
        let mut sup = Supervisor {
            helpers,
            options,
            stopping: None,
            first_failure: None,
            stop_deadline: None,
            next_progress: None,
            watching,
            actions: VecDeque::new(),
            check_seq: 0,
        };
        for note in &plan.notes {
            sup.log(Record::Note(note.clone()));
        }
        sup
    }

    /// The next action to apply.
    pub(crate) fn next_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub(crate) fn names(&self) -> Vec<String> {
        self.helpers.iter().map(Helper::name).collect()
    }

    pub(crate) fn spec(&self, i: usize) -> &crate::spec::HelperSpec {
        &self.helpers[i].spec
    }

    #[cfg(test)]
    pub(crate) fn state(&self, i: usize) -> State {
        self.helpers[i].state
    }

    /// Whether the helper's main process runs (or is being stopped): its exit matters.
    pub(crate) fn has_main(&self, i: usize) -> bool {
        self.helpers[i].main_pid().is_some()
    }

    /// What watch mode does on a change, for the line that says what is watched.
    pub(crate) fn watch_plan(&self) -> Vec<String> {
        let Some(w) = &self.watching else {
            return Vec::new();
        };
        let mut what = Vec::new();
        if let Some(b) = w.build {
            let spec = &self.helpers[b].spec;
            what.push(format!("run {} ({})", spec.name, describe(&spec.program)));
        }
        if !w.restart.is_empty() {
            let names: Vec<&str> = w
                .restart
                .iter()
                .map(|&i| self.helpers[i].spec.name.as_str())
                .collect();
            what.push(format!("restart {}", names.join(", ")));
        }
        what
    }

    fn log(&mut self, record: Record) {
        self.actions.push_back(Action::Log(record));
    }

    fn start(&mut self, i: usize) {
        if self.wait_for_port(i) {
            return;
        }
        self.helpers[i].state = State::Starting;
        self.actions.push_back(Action::Spawn(i));
    }

    /// The result of [`Action::Spawn`]: the child's pid, or why it could not start.
    pub(crate) fn spawned(&mut self, i: usize, result: Result<u32, String>, now: Instant) {
        let h = &mut self.helpers[i];
        let pid = match result {
            Ok(pid) => pid,
            Err(error) => {
                let helper = h.name();
                self.log(Record::CannotStart { helper, error });
                self.helpers[i].state = State::Done { code: 127 };
                return match self.helpers[i].role {
                    Role::Build => self.build_ended(127, now),
                    Role::Helper => self.after_end(i, 127, now),
                };
            }
        };
        // Readiness is per start: `X is ready` once after every (re)start.
        h.ready = false;
        h.starts += 1;
        let waits = h.spec.ready_line.is_some() || h.spec.ready_check.is_some();
        let ready_by = waits.then(|| now + h.spec.ready_timeout);
        h.state = State::Running {
            pid,
            since: now,
            ready_by,
        };
        let record = Record::Start {
            helper: h.name(),
            pid,
            command: describe(&h.spec.program),
        };
        let mark = ready_by.is_none() && h.role == Role::Helper;
        let restarted = h.starts > 1;
        self.log(record);
        if self.stopping.is_some() {
            return self.stop_main(i, now, After::Policy);
        }
        self.begin_checks(i, now);
        if restarted {
            self.restart_with(i, now);
        }
        if mark {
            self.mark_ready(i, now);
        } else {
            // Dependents that only wait for it to start (`depends_on` condition `started`).
            self.start_ready(now);
        }
    }

    /// The helper's main process exited (the runner reports only the current child's exit).
    pub(crate) fn exited(&mut self, i: usize, exit: Exit, now: Instant, probe: &dyn Probe) {
        let h = &self.helpers[i];
        let (since, after, failed) = match h.state {
            State::Running { since, .. } => (since, After::Policy, false),
            State::Stopping {
                since,
                after,
                failed,
                ..
            } => (since, after, failed),
            _ => return,
        };
        let uptime = now.saturating_duration_since(since);
        let code = match exit {
            Exit::Signal(s) => 128 + s,
            other => other.code().unwrap_or(1),
        };
        // Stopped for not becoming ready: a failure, even if it exited cleanly.
        let code = if failed && code == 0 { 1 } else { code };
        let (helper, role) = (h.name(), h.role);
        let stopping = self.stopping.is_some();
        if after != After::Policy {
            let ended = Ended::Stopped;
            let warn = false;
            self.log(Record::Exit {
                helper,
                exit,
                ended,
                warn,
            });
            let then = match (after, role) {
                (After::Restart, Role::Helper) => Then::Start,
                (After::Restart, Role::Build) => Then::Done(code),
                (After::Rewait, _) => Then::Wait(now),
                _ => Then::Done(0),
            };
            return self.drain(i, now, then);
        }
        if role == Role::Build {
            self.settle(i, Then::Done(code), now, probe);
            let ended = Ended::Build { took: uptime };
            let warn = exit != Exit::Code(0) && !stopping;
            self.log(Record::Exit {
                helper,
                exit,
                ended,
                warn,
            });
            return self.build_ended(code, now);
        }
        let warn = code != 0 && !stopping;
        let ended = Ended::Exited;
        self.log(Record::Exit {
            helper,
            exit,
            ended,
            warn,
        });
        self.after_exit(i, code, uptime, now, probe);
    }

    /// A helper's main process ended with `code` after `up`: restart, give up, or stop all.
    fn after_exit(&mut self, i: usize, code: i32, up: Duration, now: Instant, p: &dyn Probe) {
        let (then, give_up) = self.next_after(i, code, up, now);
        self.settle(i, then, now, p);
        if give_up {
            self.failed(i, code, now);
        }
    }

    /// A helper that never got a child (it could not start: 127): restart, give up, or
    /// stop all.
    fn after_end(&mut self, i: usize, code: i32, now: Instant) {
        let (then, give_up) = self.next_after(i, code, Duration::ZERO, now);
        self.resolve(i, then);
        if give_up {
            self.failed(i, code, now);
        }
    }

    /// What follows the end of a helper (restart, backoff or done), logged; `true`: it has
    /// ended for good.
    fn next_after(&mut self, i: usize, code: i32, uptime: Duration, now: Instant) -> (Then, bool) {
        let h = &mut self.helpers[i];
        if self.stopping.is_some() || !h.wants_restart(code) {
            return (Then::Done(code), true);
        }
        let helper = h.name();
        if h.spec.max_restarts.is_some_and(|max| h.restarts >= max) {
            let restarts = h.restarts;
            self.log(Record::GiveUp { helper, restarts });
            return (Then::Done(code), true);
        }
        let (delay, attempt) = h.next_backoff(uptime);
        self.log(Record::Restart {
            helper,
            attempt,
            delay,
        });
        (Then::Backoff(now + delay), false)
    }

    /// A helper ended for good with `code`: remember a failure; `--kill-others(-on-fail)`.
    fn failed(&mut self, i: usize, code: i32, now: Instant) {
        if self.stopping.is_some() {
            return;
        }
        let helper = self.helpers[i].name();
        if self.options.kill_others {
            if code != 0 {
                self.first_failure.get_or_insert(code);
            }
            let on_fail = false;
            self.log(Record::KillOthers {
                helper,
                code,
                on_fail,
            });
            return self.begin_stop(Stop::HelperFailed(code), now);
        }
        if code == 0 {
            return;
        }
        self.first_failure.get_or_insert(code);
        if self.options.kill_others_on_fail {
            let on_fail = true;
            self.log(Record::KillOthers {
                helper,
                code,
                on_fail,
            });
            self.begin_stop(Stop::HelperFailed(code), now);
        }
    }

    /// A stop signal (SIGINT, SIGTERM, SIGHUP; Ctrl+C on Windows) named `name`.
    pub(crate) fn signal(&mut self, signal: i32, name: Option<&'static str>, now: Instant) {
        if self.stopping.is_some() {
            self.log(Record::SecondSignal);
            self.actions.push_back(Action::KillAll);
            return;
        }
        self.log(Record::GotSignal { signal, name });
        self.begin_stop(Stop::Signal(signal), now);
    }

    /// The log's output broke: a failure with `code`; the helpers are stopped.
    pub(crate) fn log_broken(&mut self, code: i32, now: Instant) {
        if self.stopping != Some(Stop::LogBroken) {
            self.first_failure = Some(code);
            self.begin_stop(Stop::LogBroken, now);
        }
    }

    /// The exit code, once there is nothing left to wait for; `mux_empty`: the `Mux` has
    /// no child left. Every helper done while the `Mux` still holds a stream (kept open by a
    /// process outside the helpers' groups, which the stop signal did not reach): the run
    /// stops as if asked to, letting go of it at once.
    pub(crate) fn finished(&mut self, mux_empty: bool, now: Instant) -> Option<i32> {
        let all_done = self.helpers.iter().all(Helper::is_done);
        if self.stopping.is_none() && self.watching.is_none() && all_done && !mux_empty {
            self.begin_stop(Stop::Finished, now);
            self.stop_deadline = Some(now);
            return None;
        }
        let draining = self
            .helpers
            .iter()
            .any(|h| matches!(h.state, State::Draining { .. }));
        match self.stopping {
            Some(stop) if mux_empty && !draining => Some(match stop {
                Stop::Signal(sig) => 128 + sig,
                Stop::HelperFailed(code) => code,
                Stop::Finished | Stop::LogBroken => self.first_failure.unwrap_or(0),
            }),
            Some(_) => None,
            // Watch mode runs until stopped.
            None if self.watching.is_some() => None,
            None => (all_done && mux_empty).then(|| self.first_failure.unwrap_or(0)),
        }
    }

    /// The earliest time something is due (then call [`Supervisor::tick`]).
    pub(crate) fn next_deadline(&self, probe: &dyn Probe, now: Instant) -> Option<Instant> {
        let stopping = self.stopping.is_some();
        let per_helper = self.helpers.iter().enumerate().filter_map(|(i, h)| {
            match h.state {
                State::Backoff { until } if !stopping => Some(until),
                State::PortWait { next_look, .. } if !stopping => Some(next_look.unwrap_or(now)),
                State::Running { ready_by, .. } if !stopping => {
                    ready_by.into_iter().chain(h.checking.due()).min()
                }
                State::Stopping { kill_at, .. } => kill_at,
                State::Waiting { next_note, .. } if !stopping && !h.deps.is_empty() => {
                    Some(next_note)
                }
                // Pipes closed but the group not yet empty: look again soon.
                State::Draining { deadline, .. } if !probe.holds(i) => {
                    Some(deadline.min(now + TREE_CHECK))
                }
                State::Draining { deadline, .. } => Some(deadline),
                _ => None,
            }
        });
        per_helper
            .chain(self.watch_due())
            .chain(self.stop_deadline)
            .chain(self.next_progress)
            .min()
    }

    /// Time has passed: acts on what is due at `now` (and on old trees that have gone).
    pub(crate) fn tick(&mut self, now: Instant, probe: &dyn Probe) {
        self.check_draining(now, probe);
        for i in 0..self.helpers.len() {
            self.tick_helper(i, now);
        }
        self.check_ports(now, probe);
        if self.watch_due().is_some_and(|t| t <= now) {
            self.fire(now);
        }
        self.stop_in_order(now);
        if self.stop_deadline.is_some_and(|d| d <= now) {
            self.stop_deadline = None;
            self.next_progress = None;
            self.actions.push_back(Action::LetGo);
            for h in &mut self.helpers {
                if matches!(h.state, State::Draining { .. }) {
                    h.state = State::Done { code: 0 };
                }
            }
        }
        if self.next_progress.is_some_and(|t| t <= now) {
            self.progress(now, probe);
        }
        self.start_ready(now);
    }

    fn tick_helper(&mut self, i: usize, now: Instant) {
        let stopping = self.stopping.is_some();
        match self.helpers[i].state {
            State::Running {
                ready_by: Some(at), ..
            } if at <= now && !stopping => self.ready_timeout(i, now),
            State::Stopping {
                kill_at: Some(at), ..
            } if at <= now => self.kill_main(i),
            State::Backoff { until } if until <= now && !stopping => self.start(i),
            _ => {}
        }
        self.tick_check(i, now);
    }
}

/// The command line of a helper, as the log shows it.
pub(crate) fn describe(p: &Program) -> String {
    match p {
        Program::Argv(v) => v.join(" "),
        Program::Shell(s) => s.clone(),
    }
}
