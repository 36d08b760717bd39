//! Readiness and `depends_on`: when a helper counts as ready (its `ready_line`, or at once),
//! when a waiting helper starts, and what happens when readiness does not come.

use std::time::Instant;

use super::helper::WAIT_NOTE_EVERY;
use super::{After, State, Supervisor};
use crate::record::Record;

impl Supervisor {
    /// Whether the helper waits for its `ready_line`: only then does its output matter here.
    pub(crate) fn wants_output(&self, i: usize) -> bool {
        matches!(
            self.helpers[i].state,
            State::Running {
                ready_by: Some(_),
                ..
            }
        )
    }

    /// A piece of output of the helper's main process's tree.
    pub(crate) fn output(&mut self, i: usize, bytes: &[u8], now: Instant) {
        if self.wants_output(i) && self.helpers[i].is_ready_line(bytes) {
            self.mark_ready(i, now);
        }
    }

    pub(super) fn mark_ready(&mut self, i: usize, now: Instant) {
        let h = &mut self.helpers[i];
        h.ready = true;
        if let State::Running { pid, since, .. } = h.state {
            h.state = State::Running {
                pid,
                since,
                ready_by: None,
            };
        }
        let helper = h.name();
        self.log(Record::Ready { helper });
        self.start_ready(now);
    }

    /// Starts every waiting helper whose dependencies are ready; one whose dependency ended
    /// without ever being ready is not started (a failure).
    pub(crate) fn start_ready(&mut self, now: Instant) {
        if self.stopping.is_some() {
            return;
        }
        for i in 0..self.helpers.len() {
            let State::Waiting { since, next_note } = self.helpers[i].state else {
                continue;
            };
            let deps = &self.helpers[i].deps;
            let dead = deps
                .iter()
                .find(|&&d| !self.helpers[d].ready && self.helpers[d].is_done());
            if let Some(&d) = dead {
                let helper = self.helpers[i].name();
                let dependency = self.helpers[d].name();
                self.log(Record::NotStarted { helper, dependency });
                self.helpers[i].state = State::Done { code: 1 };
                self.first_failure.get_or_insert(1);
            } else if deps.iter().all(|&d| self.helpers[d].ready) {
                self.start(i);
            } else if now >= next_note {
                self.note_waiting(i, since, now);
            }
        }
    }

    pub(super) fn note_waiting(&mut self, i: usize, since: Instant, now: Instant) {
        let h = &self.helpers[i];
        let missing = h.deps.iter().filter(|&&d| !self.helpers[d].ready);
        let missing = missing.map(|&d| self.helpers[d].name()).collect();
        let record = Record::Waiting {
            helper: h.name(),
            missing,
            waited: now.duration_since(since),
        };
        self.helpers[i].state = State::Waiting {
            since,
            next_note: now + WAIT_NOTE_EVERY,
        };
        self.log(record);
    }

    /// `ready_line` did not come in time: the helper counts as failed. It is stopped (its
    /// restart policy then applies to the exit); dependents go on waiting for a restart, or
    /// are not started if there is none.
    pub(super) fn ready_timeout(&mut self, i: usize, now: Instant) {
        let h = &self.helpers[i];
        let record = Record::ReadyTimeout {
            helper: h.name(),
            timeout: h.spec.ready_timeout,
            line: h.spec.ready_line.clone().unwrap_or_default(),
        };
        self.log(record);
        self.stop_main(i, now, After::Policy);
        if let State::Stopping { failed, .. } = &mut self.helpers[i].state {
            *failed = true;
        }
    }
}
