//! Readiness and liveness checks (`ready_http`, `ready_tcp`, `ready_exec`, `alive_*`), as
//! the supervisor sees them: when an attempt is due ([`Action::Check`]), what its result
//! leads to ([`Supervisor::check_result`]). The runner runs the attempts (`runner/checks.rs`)
//! and times them out after the check's interval; the supervisor only counts.
//!
//! A readiness check starts `ready_delay` after a start and is tried every `ready_interval`
//! until it succeeds (the helper is ready, dependents may start) or `ready_timeout` passes
//! (the `ReadyTimeout` path, as for `ready_line`). A liveness check starts once the helper is
//! ready and is tried every `alive_interval`; `alive_failures` failures in a row restart the
//! helper (stop, then start once its tree is gone). Attempts are made only while the helper's
//! main process runs and the run is not stopping; a result that comes after that (or for an
//! older attempt) is ignored.

use std::time::Instant;

use super::{Action, After, State, Supervisor};
use crate::record::Record;
use crate::spec::Check;

/// Which of a helper's checks an attempt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckKind {
    Ready,
    Alive,
}

/// One attempt of a helper's check, as [`Action::Check`] asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CheckAttempt {
    pub(crate) helper: usize,
    pub(crate) kind: CheckKind,
    /// Its number, unique in the run: [`Supervisor::check_result`] names it.
    pub(crate) number: u64,
}

/// A helper's checking, reset at every start.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Checking {
    /// When the next attempt is due (`None`: none is planned).
    pub(crate) next: Option<Instant>,
    /// The attempt in flight (its number) and when it began.
    pub(crate) in_flight: Option<(u64, Instant)>,
    /// Liveness attempts failed in a row.
    pub(crate) failures: u32,
    /// Why the last readiness attempt failed (for the timeout's message).
    pub(crate) last_error: Option<String>,
}

impl Checking {
    /// When an attempt is due, if one is planned and none is in flight.
    pub(crate) fn due(&self) -> Option<Instant> {
        self.next.filter(|_| self.in_flight.is_none())
    }
}

impl Supervisor {
    /// The check helper `i` runs now, if any: readiness until it is ready, then liveness.
    pub(crate) fn current_check(&self, i: usize) -> Option<(CheckKind, &Check)> {
        let h = &self.helpers[i];
        let State::Running { ready_by, .. } = h.state else {
            return None;
        };
        match ready_by {
            Some(_) => h.spec.ready_check.as_ref().map(|c| (CheckKind::Ready, c)),
            None if h.ready => h.spec.alive_check.as_ref().map(|c| (CheckKind::Alive, c)),
            None => None,
        }
    }

    /// Whether attempt `attempt` of helper `i` is still wanted (else the runner drops it).
    pub(crate) fn awaits_check(&self, i: usize, attempt: u64) -> bool {
        let h = &self.helpers[i];
        self.stopping.is_none()
            && matches!(h.state, State::Running { .. })
            && h.checking.in_flight.is_some_and(|(n, _)| n == attempt)
    }

    /// A (re)start: the readiness check begins after `ready_delay`.
    pub(super) fn begin_checks(&mut self, i: usize, now: Instant) {
        let h = &mut self.helpers[i];
        h.checking = Default::default();
        if h.spec.ready_check.is_some() {
            h.checking.next = Some(now + h.spec.ready_delay);
        }
    }

    /// The helper became ready: its liveness check begins an interval later.
    pub(super) fn begin_liveness(&mut self, i: usize, now: Instant) {
        let h = &mut self.helpers[i];
        h.checking = Default::default();
        h.checking.next = h.spec.alive_check.as_ref().map(|c| now + c.interval);
    }

    /// Starts the helper's attempt if one is due.
    pub(super) fn tick_check(&mut self, i: usize, now: Instant) {
        if self.stopping.is_some() || self.helpers[i].checking.due().is_none_or(|t| t > now) {
            return;
        }
        let Some((kind, _)) = self.current_check(i) else {
            return;
        };
        self.check_seq += 1;
        let number = self.check_seq;
        self.helpers[i].checking.in_flight = Some((number, now));
        self.actions.push_back(Action::Check(CheckAttempt {
            helper: i,
            kind,
            number,
        }));
    }

    /// The result of [`Action::Check`] `attempt` for helper `i` (`Err`: why it failed).
    pub(crate) fn check_result(
        &mut self,
        i: usize,
        attempt: u64,
        result: Result<(), String>,
        now: Instant,
    ) {
        if !self.awaits_check(i, attempt) {
            return;
        }
        let Some((kind, check)) = self.current_check(i) else {
            return;
        };
        let (interval, need) = (check.interval, self.helpers[i].spec.alive_failures);
        let c = &mut self.helpers[i].checking;
        let began = c.in_flight.take().map_or(now, |(_, t)| t);
        c.next = Some((began + interval).max(now));
        match (kind, result) {
            (CheckKind::Ready, Ok(())) => self.mark_ready(i, now),
            (CheckKind::Ready, Err(e)) => c.last_error = Some(e),
            (CheckKind::Alive, Ok(())) => c.failures = 0,
            (CheckKind::Alive, Err(error)) => {
                c.failures += 1;
                if c.failures >= need {
                    self.not_alive(i, error, now);
                }
            }
        }
    }

    /// Too many liveness failures in a row: the helper is restarted.
    fn not_alive(&mut self, i: usize, error: String, now: Instant) {
        let h = &mut self.helpers[i];
        let record = Record::NotAlive {
            helper: h.name(),
            failures: h.checking.failures,
            check: h
                .spec
                .alive_check
                .as_ref()
                .map(|c| c.target.to_string())
                .unwrap_or_default(),
            error,
        };
        h.checking = Default::default();
        self.log(record);
        self.stop_main(i, now, After::Restart);
    }
}
