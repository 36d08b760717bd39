//! A restart's wait for the helper's port. A helper with a `port` that starts again (its
//! restart policy, watch mode, a liveness failure, `restart_with`, `spawnmux ctl`) first waits
//! until the port is free, so that the new process does not fail with EADDRINUSE because the
//! old one still has it: a grandchild that left the helper's process group, a socket the
//! system has not let go of yet (Windows), or another program. The first start never waits
//! (an `auto` port is spawnmux's own until then).
//!
//! The supervisor asks the world ([`Probe::port_free`]: the runner tries to bind it) at the
//! next tick, then every [`PORT_CHECK`]; if the port is still in use after the helper's
//! `stop_timeout`, the helper starts anyway, with a warning.

use std::time::{Duration, Instant};

use super::{Action, Probe, Role, State, Supervisor};
use crate::record::Record;

/// While a restart waits for its port, how often to look again.
pub(crate) const PORT_CHECK: Duration = Duration::from_millis(50);

impl Supervisor {
    /// A start of helper `i` that must wait for its port first (it has one, and has started
    /// before): it waits (`PortWait`) and `true`.
    pub(super) fn wait_for_port(&mut self, i: usize) -> bool {
        let h = &mut self.helpers[i];
        let Some(port) = h.spec.port.as_ref().map(|p| p.number) else {
            return false;
        };
        if h.starts == 0 || h.role != Role::Helper {
            return false;
        }
        h.state = State::PortWait {
            port,
            taken_since: None,
            next_look: None,
        };
        true
    }

    /// Starts each helper whose port is free now, or that has waited its `stop_timeout`
    /// (with a warning); says once what a helper waits for.
    pub(super) fn check_ports(&mut self, now: Instant, probe: &dyn Probe) {
        if self.stopping.is_some() {
            return;
        }
        for i in 0..self.helpers.len() {
            let h = &self.helpers[i];
            let State::PortWait {
                port,
                taken_since,
                next_look,
            } = h.state
            else {
                continue;
            };
            if next_look.is_some_and(|t| t > now) {
                continue;
            }
            let (helper, timeout) = (h.name(), h.spec.stop_timeout);
            if probe.port_free(port) {
                self.launch(i);
                continue;
            }
            let since = taken_since.unwrap_or(now);
            if taken_since.is_none() {
                self.log(Record::PortWait { helper, port });
            } else if now >= since + timeout {
                let waited = now - since;
                self.log(Record::PortBusy {
                    helper,
                    port,
                    waited,
                });
                self.launch(i);
                continue;
            }
            self.helpers[i].state = State::PortWait {
                port,
                taken_since: Some(since),
                next_look: Some((now + PORT_CHECK).min(since + timeout)),
            };
        }
    }

    /// The spawn, now.
    fn launch(&mut self, i: usize) {
        self.helpers[i].state = State::Starting;
        self.actions.push_back(Action::Spawn(i));
    }
}
