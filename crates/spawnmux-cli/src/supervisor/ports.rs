//! A start's wait for the helper's port. A helper with a `port` that starts again (its
//! restart policy, watch mode, a liveness failure, `restart_with`, `spawnmux ctl`) first waits
//! until the port is free, so that the new process does not fail with EADDRINUSE because the
//! old one still has it: a grandchild that left the helper's process group, a socket the
//! system has not let go of yet (Windows), or another program. The first start of an `auto`
//! port waits too, once spawnmux has let go of its hold ([`Action::ReleasePort`]): a process
//! forked by spawnmux meanwhile may still have a copy of the holding socket for a moment (the
//! library's group guard, until it has closed what it inherited). The first start of a
//! numbered port does not: whoever has it, it is not the helper's old process.
//!
//! The supervisor asks the world ([`Probe::port_free`]: the runner tries to bind it) at the
//! next tick, then every [`PORT_CHECK`]. A wait that lasts [`PORT_QUIET`] is logged (once); if
//! the port is still in use after the helper's `stop_timeout`, the helper starts anyway, with
//! a warning.

use std::time::{Duration, Instant};

use super::{Action, Probe, Role, State, Supervisor};
use crate::record::Record;

/// While a start waits for its port, how often to look again.
pub(crate) const PORT_CHECK: Duration = Duration::from_millis(50);
/// A wait for a port shorter than this is not worth a line in the log.
pub(crate) const PORT_QUIET: Duration = Duration::from_millis(250);

impl Supervisor {
    /// A start of helper `i` that must wait for its port first: it waits (`PortWait`) and
    /// `true`.
    pub(super) fn wait_for_port(&mut self, i: usize) -> bool {
        let h = &self.helpers[i];
        let Some(port) = h.spec.port.as_ref().filter(|_| h.role == Role::Helper) else {
            return false;
        };
        match (h.starts, port.auto) {
            (0, false) => return false,
            (0, true) => self.actions.push_back(Action::ReleasePort(i)),
            _ => {}
        }
        self.helpers[i].state = State::PortWait {
            port: port.number,
            taken_since: None,
            next_look: None,
            said: false,
        };
        true
    }

    /// Starts each helper whose port is free now, or that has waited its `stop_timeout`
    /// (with a warning); says once what a helper waits for, when it lasts.
    pub(super) fn check_ports(&mut self, now: Instant, probe: &dyn Probe) {
        if self.stopping.is_some() {
            return;
        }
        for i in 0..self.helpers.len() {
            let State::PortWait {
                port,
                taken_since,
                next_look,
                mut said,
            } = self.helpers[i].state
            else {
                continue;
            };
            if next_look.is_some_and(|t| t > now) {
                continue;
            }
            if probe.port_free(port) {
                self.launch(i);
                continue;
            }
            let (helper, timeout) = (self.helpers[i].name(), self.helpers[i].spec.stop_timeout);
            let since = taken_since.unwrap_or(now);
            if now >= since + timeout {
                let waited = now - since;
                self.log(Record::PortBusy {
                    helper,
                    port,
                    waited,
                });
                self.launch(i);
                continue;
            }
            if !said && now >= since + PORT_QUIET {
                self.log(Record::PortWait { helper, port });
                said = true;
            }
            self.helpers[i].state = State::PortWait {
                port,
                taken_since: Some(since),
                next_look: Some((now + PORT_CHECK).min(since + timeout)),
                said,
            };
        }
    }

    /// The spawn, now.
    fn launch(&mut self, i: usize) {
        self.helpers[i].state = State::Starting;
        self.actions.push_back(Action::Spawn(i));
    }
}
