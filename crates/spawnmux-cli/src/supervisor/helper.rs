//! One helper's state: where it is in its life ([`State`]) and what it carries across
//! restarts (readiness, restart count, backoff).

use std::time::{Duration, Instant};

use super::checks::Checking;
use crate::spec::{HelperSpec, Restart};

/// A helper that stayed up this long starts its backoff (its spec's `backoff.initial`, doubling
/// up to `backoff.max`) from the beginning again.
pub(crate) const STABLE_AFTER: Duration = Duration::from_secs(10);
/// While a helper waits for its dependencies to be ready, a line says so this often.
pub(crate) const WAIT_NOTE_EVERY: Duration = Duration::from_secs(10);

/// What a helper is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Started with the run (once its dependencies are ready), restarted by its policy.
    Helper,
    /// Watch mode's rebuild command: started by changes only, never restarted by a policy.
    Build,
}

/// Where a helper is in its life. Every state that has a process carries its pid (which is
/// also its process group's id: each helper leads a group of its own).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum State {
    /// Not started: waiting for its dependencies to be ready.
    Waiting { since: Instant, next_note: Instant },
    /// A spawn was asked for ([`Action::Spawn`](super::Action::Spawn)); its result comes as
    /// [`Supervisor::spawned`](super::Supervisor::spawned).
    Starting,
    /// Its main process runs. `ready_by`: it has not printed its `ready_line` yet and times
    /// out at this time.
    Running {
        pid: u32,
        since: Instant,
        ready_by: Option<Instant>,
    },
    /// Its main process was sent the stop signal; at `kill_at` it is killed (`None`: it has
    /// been). `after`: what its exit leads to. `failed`: it was stopped for not becoming
    /// ready, so its exit counts as a failure whatever its code.
    Stopping {
        pid: u32,
        since: Instant,
        kill_at: Option<Instant>,
        after: After,
        failed: bool,
    },
    /// Starts again at this time (restart policy).
    Backoff { until: Instant },
    /// A start waits until its port is free (`supervisor/ports.rs`): looked at at
    /// `next_look` (`None`: at the next tick), for at most its `stop_timeout` from
    /// `taken_since` (when it was first found in use), then started anyway; `said`: the wait
    /// has been logged.
    PortWait {
        port: u16,
        taken_since: Option<Instant>,
        next_look: Option<Instant>,
        said: bool,
    },
    /// Its main process has ended but its process tree has not gone yet (a pipe still held,
    /// its group not empty): processes left behind, which were sent the stop signal, or the
    /// old tree of a replaced helper. Once the tree is gone, `then`; at `deadline` the tree is
    /// killed (`killed`), and after another `LAST_WAIT` given up on.
    Draining {
        pid: u32,
        deadline: Instant,
        killed: bool,
        then: Then,
    },
    /// Ended for good (exit code as spawnmux reports it).
    Done { code: i32 },
}

/// What a stopped helper's exit leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum After {
    /// What any exit leads to: the restart policy (or the end, while the run stops).
    Policy,
    /// It is started again (a change in watch mode, `spawnmux ctl restart`).
    Restart,
    /// It stays stopped (`spawnmux ctl stop`): done, neither restarted nor a failure.
    Hold,
    /// It waits for its dependencies again, then starts (`restart_with`: one restarted).
    Rewait,
}

/// What a draining helper does once its old tree is gone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Then {
    /// Start again at once (a restart in watch mode).
    Start,
    /// Start again at this time (restart policy, backoff).
    Backoff(Instant),
    /// Ended for good with this exit code.
    Done(i32),
    /// Wait for its dependencies again (since this time), then start (`restart_with`).
    Wait(Instant),
}

#[derive(Debug)]
pub(crate) struct Helper {
    pub(crate) spec: HelperSpec,
    pub(crate) role: Role,
    /// Indices of the helpers it depends on.
    pub(crate) deps: Vec<usize>,
    pub(crate) state: State,
    /// It printed its `ready_line` (or has none) since its last start.
    pub(crate) ready: bool,
    pub(crate) restarts: u32,
    pub(crate) backoff: Duration,
    /// Successful spawns so far (`depends_on` condition `started`; a restart is a start
    /// after the first).
    pub(crate) starts: u32,
    /// Its readiness or liveness check (reset at every start).
    pub(crate) checking: Checking,
}

impl Helper {
    pub(crate) fn new(spec: HelperSpec, role: Role, deps: Vec<usize>, now: Instant) -> Helper {
        let state = match role {
            Role::Build => State::Done { code: 0 },
            Role::Helper => State::Waiting {
                since: now,
                next_note: now + WAIT_NOTE_EVERY,
            },
        };
        Helper {
            backoff: spec.backoff.initial,
            spec,
            role,
            deps,
            state,
            ready: false,
            restarts: 0,
            starts: 0,
            checking: Checking::default(),
        }
    }

    pub(crate) fn name(&self) -> String {
        self.spec.name.clone()
    }

    /// The pid of its main process while it has one.
    pub(crate) fn main_pid(&self) -> Option<u32> {
        match self.state {
            State::Running { pid, .. } | State::Stopping { pid, .. } => Some(pid),
            _ => None,
        }
    }

    /// Running, being stopped, or its old tree going away: not idle.
    pub(crate) fn busy(&self) -> bool {
        matches!(
            self.state,
            State::Starting
                | State::Running { .. }
                | State::Stopping { .. }
                | State::Draining { .. }
        )
    }

    pub(crate) fn is_done(&self) -> bool {
        matches!(self.state, State::Done { .. })
    }

    /// Whether its restart policy starts it again after it ended with `code`.
    pub(crate) fn wants_restart(&self, code: i32) -> bool {
        match self.spec.restart {
            Restart::Never => false,
            Restart::OnFailure => code != 0,
            Restart::Always => true,
        }
    }

    /// The delay before the next restart of a helper that was up for `uptime`, and the
    /// attempt's number; doubles the backoff for the next time.
    pub(crate) fn next_backoff(&mut self, uptime: Duration) -> (Duration, u32) {
        if uptime >= STABLE_AFTER {
            self.backoff = self.spec.backoff.initial;
        }
        let delay = self.backoff;
        self.backoff = (self.backoff.saturating_mul(2)).min(self.spec.backoff.max);
        self.restarts += 1;
        (delay, self.restarts)
    }

    /// A fresh start asked for by a change: the restart policy counts from zero again.
    pub(crate) fn reset_restarts(&mut self) {
        self.restarts = 0;
        self.backoff = self.spec.backoff.initial;
    }

    /// Whether `bytes` (a piece of output) contains its `ready_line`.
    pub(crate) fn is_ready_line(&self, bytes: &[u8]) -> bool {
        self.spec.ready_line.as_deref().is_some_and(|needle| {
            bytes
                .windows(needle.len().max(1))
                .any(|w| w == needle.as_bytes())
        })
    }
}
