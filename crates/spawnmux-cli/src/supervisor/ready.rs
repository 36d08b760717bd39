//! Readiness and `depends_on`: when a helper counts as ready (its `ready_line`, its readiness
//! check, or at once), when a waiting helper starts (each dependency's [`Condition`]), what
//! happens when readiness does not come or a condition can no longer be met, and
//! `restart_with`.

use std::time::Instant;

use super::helper::WAIT_NOTE_EVERY;
use super::{After, State, Supervisor};
use crate::record::Record;
use crate::spec::Condition;

/// Where a dependency stands with respect to a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Met {
    Yes,
    NotYet,
    /// It has ended for good without meeting it.
    Never,
}

impl Supervisor {
    /// Whether the helper waits for its `ready_line`: only then does its output matter here.
    pub(crate) fn wants_output(&self, i: usize) -> bool {
        let h = &self.helpers[i];
        let waiting = matches!(
            h.state,
            State::Running {
                ready_by: Some(_),
                ..
            }
        );
        waiting && h.spec.ready_line.is_some()
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
        self.begin_liveness(i, now);
        self.start_ready(now);
    }

    /// The condition helper `i` sets on its dependency `d`.
    fn condition(&self, i: usize, d: usize) -> Condition {
        let name = &self.helpers[d].spec.name;
        let conditions = &self.helpers[i].spec.conditions;
        conditions.get(name).copied().unwrap_or(Condition::Ready)
    }

    /// Whether dependency `d` meets `condition` (or never will).
    fn met(&self, d: usize, condition: Condition) -> Met {
        let h = &self.helpers[d];
        let code = match h.state {
            State::Done { code } => Some(code),
            _ => None,
        };
        let yes = match condition {
            Condition::Started => h.starts > 0,
            Condition::Ready => h.ready,
            Condition::Completed => code.is_some() && h.starts > 0,
            Condition::CompletedSuccessfully => code == Some(0) && h.starts > 0,
        };
        match (yes, code) {
            (true, _) => Met::Yes,
            (false, Some(_)) => Met::Never,
            (false, None) => Met::NotYet,
        }
    }

    /// Starts every waiting helper whose dependencies meet their conditions; one with a
    /// dependency that ended for good without meeting its condition is not started (a
    /// failure).
    pub(crate) fn start_ready(&mut self, now: Instant) {
        if self.stopping.is_some() {
            return;
        }
        for i in 0..self.helpers.len() {
            let State::Waiting { since, next_note } = self.helpers[i].state else {
                continue;
            };
            let deps = self.helpers[i].deps.clone();
            let met: Vec<Met> = deps
                .iter()
                .map(|&d| self.met(d, self.condition(i, d)))
                .collect();
            if let Some(k) = met.iter().position(|m| *m == Met::Never) {
                self.not_started(i, deps[k]);
            } else if met.iter().all(|m| *m == Met::Yes) {
                self.start(i);
            } else if now >= next_note {
                self.note_waiting(i, since, now);
            }
        }
    }

    /// Helper `i` will never start: its dependency `d` can no longer meet its condition.
    fn not_started(&mut self, i: usize, d: usize) {
        let code = match self.helpers[d].state {
            State::Done { code } => code,
            _ => 0,
        };
        self.log(Record::NotStarted {
            helper: self.helpers[i].name(),
            dependency: self.helpers[d].name(),
            condition: self.condition(i, d),
            code,
        });
        self.helpers[i].state = State::Done { code: 1 };
        self.first_failure.get_or_insert(1);
    }

    pub(super) fn note_waiting(&mut self, i: usize, since: Instant, now: Instant) {
        let h = &self.helpers[i];
        let missing = h.deps.iter().map(|&d| (d, self.condition(i, d)));
        let missing = missing.filter(|&(d, c)| self.met(d, c) != Met::Yes);
        let missing = missing.map(|(d, c)| (self.helpers[d].name(), c)).collect();
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

    /// Readiness did not come in time: the helper counts as failed. It is stopped (its
    /// restart policy then applies to the exit); dependents go on waiting for a restart, or
    /// are not started if there is none.
    pub(super) fn ready_timeout(&mut self, i: usize, now: Instant) {
        let h = &mut self.helpers[i];
        let (helper, timeout) = (h.name(), h.spec.ready_timeout);
        let record = match &h.spec.ready_check {
            Some(check) => Record::CheckTimeout {
                helper,
                timeout,
                check: check.target.to_string(),
                last: h.checking.last_error.take(),
            },
            None => Record::ReadyTimeout {
                helper,
                timeout,
                line: h.spec.ready_line.clone().unwrap_or_default(),
            },
        };
        self.log(record);
        self.stop_main(i, now, After::Policy);
        if let State::Stopping { failed, .. } = &mut self.helpers[i].state {
            *failed = true;
        }
    }

    /// Dependency `d` was started again: each running helper with `restart_with` naming it
    /// is stopped, and starts again once its dependencies meet their conditions again.
    pub(super) fn restart_with(&mut self, d: usize, now: Instant) {
        let name = self.helpers[d].name();
        for i in 0..self.helpers.len() {
            let h = &self.helpers[i];
            if !h.spec.restart_with.contains(&name) || !matches!(h.state, State::Running { .. }) {
                continue;
            }
            let helper = h.name();
            let dependency = name.clone();
            self.log(Record::RestartWith { helper, dependency });
            self.stop_main(i, now, After::Rewait);
        }
    }
}
