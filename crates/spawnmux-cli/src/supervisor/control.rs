//! What `spawnmux ctl` can ask of a running supervisor: each helper's status, and to start,
//! stop or restart one.

use std::time::{Duration, Instant};

use super::{After, State, Supervisor, Then};
use crate::record::Record;

/// A request for one helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// Start it if it has ended (or waits for a restart).
    Start,
    /// Stop it (its tree, as on Ctrl-C) and keep it stopped: neither restarted nor a failure.
    Stop,
    /// Stop it if it runs, then start it again; its restart count starts from zero.
    Restart,
}

impl Request {
    fn verb(self) -> &'static str {
        match self {
            Request::Start => "start",
            Request::Stop => "stop",
            Request::Restart => "restart",
        }
    }
}

/// One helper as `spawnmux ctl status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Status {
    pub(crate) name: String,
    /// waiting, starting, running, stopping, backoff, port_wait, draining, done.
    pub(crate) state: &'static str,
    pub(crate) pid: Option<u32>,
    pub(crate) uptime: Option<Duration>,
    pub(crate) restarts: u32,
    /// It printed its `ready_line` (or has none) since its last start.
    pub(crate) ready: bool,
    /// Done: its exit code as spawnmux reports it.
    pub(crate) code: Option<i32>,
}

impl Supervisor {
    /// The helper called `name`.
    pub(crate) fn index(&self, name: &str) -> Option<usize> {
        self.helpers.iter().position(|h| h.spec.name == name)
    }

    pub(crate) fn status(&self, now: Instant) -> Vec<Status> {
        self.helpers
            .iter()
            .map(|h| {
                let (state, since, code) = match h.state {
                    State::Waiting { .. } => ("waiting", None, None),
                    State::Starting => ("starting", None, None),
                    State::Running { since, .. } => ("running", Some(since), None),
                    State::Stopping { since, .. } => ("stopping", Some(since), None),
                    State::Backoff { .. } => ("backoff", None, None),
                    State::PortWait { .. } => ("port_wait", None, None),
                    State::Draining { .. } => ("draining", None, None),
                    State::Done { code } => ("done", None, Some(code)),
                };
                Status {
                    name: h.name(),
                    state,
                    pid: h.main_pid(),
                    uptime: since.map(|s| now.saturating_duration_since(s)),
                    restarts: h.restarts,
                    ready: h.ready,
                    code,
                }
            })
            .collect()
    }

    /// Carries out `request` for helper `i`, or says why it cannot be done.
    pub(crate) fn request(
        &mut self,
        i: usize,
        request: Request,
        now: Instant,
    ) -> Result<(), String> {
        if self.stopping.is_some() {
            return Err("spawnmux is stopping".to_string());
        }
        let name = self.helpers[i].name();
        let state = self.helpers[i].state;
        refusal(&name, request, state).map_or(Ok(()), Err)?;
        self.log(Record::Requested {
            helper: name,
            request: request.verb(),
        });
        match (request, &mut self.helpers[i].state) {
            (Request::Stop, State::Draining { then, .. }) => *then = Then::Done(0),
            (_, State::Draining { then, .. }) => *then = Then::Start,
            (Request::Stop, state @ (State::Backoff { .. } | State::PortWait { .. })) => {
                *state = State::Done { code: 0 }
            }
            (Request::Stop, _) => self.stop_main(i, now, After::Hold),
            (_, State::Running { .. } | State::Stopping { .. }) => {
                self.helpers[i].reset_restarts();
                self.stop_main(i, now, After::Restart);
            }
            _ => {
                self.helpers[i].reset_restarts();
                self.start(i);
            }
        }
        Ok(())
    }
}

/// Why `request` cannot be done for helper `name` in `state`, if it cannot.
fn refusal(name: &str, request: Request, state: State) -> Option<String> {
    let held = matches!(
        state,
        State::Stopping {
            after: After::Hold,
            ..
        }
    );
    Some(match (request, state) {
        (_, State::Waiting { .. }) => format!("{name} waits for its dependencies to be ready"),
        (_, State::Starting) => format!("{name} is starting"),
        (_, State::PortWait { port, .. }) if request != Request::Stop => {
            format!("{name} is starting (it waits for port {port} to be free)")
        }
        (Request::Stop, State::Done { .. }) => format!("{name} is not running"),
        (Request::Start, State::Running { .. } | State::Stopping { .. }) if !held => {
            format!("{name} is already running")
        }
        (Request::Start, State::Draining { then, .. }) if then != Then::Done(0) => {
            format!("{name} is already being restarted")
        }
        _ => return None,
    })
}
