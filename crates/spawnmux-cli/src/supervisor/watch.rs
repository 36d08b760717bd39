//! Watch mode's side of the supervisor: changes in, a build or restarts out (the decisions
//! about the changes themselves are in `changes.rs`).

use std::time::Instant;

use super::changes::Fired;
use super::{After, State, Supervisor};
use crate::record::Record;

impl Supervisor {
    /// Whether the build is running (or its old tree is still going away).
    pub(super) fn build_busy(&self) -> bool {
        let build = self.watching.as_ref().and_then(|w| w.build);
        build.is_some_and(|b| self.helpers[b].busy())
    }

    /// Changed files (as shown in the log) arrived at `now`.
    pub(crate) fn changes(&mut self, paths: Vec<String>, now: Instant) {
        let busy = self.build_busy();
        if self.stopping.is_some() {
            return;
        }
        let Some(w) = &mut self.watching else {
            return;
        };
        let added = w.changes.add(paths, busy, now);
        let build = w.build;
        if let Some(record) = added.ignored {
            self.log(record);
        }
        let Some(b) = build.filter(|_| added.stop_build) else {
            return;
        };
        let replacing = matches!(
            self.helpers[b].state,
            State::Stopping {
                after: After::Restart,
                ..
            }
        );
        if self.has_main(b) && !replacing {
            let helper = self.helpers[b].name();
            self.log(Record::StopBuildForChange { helper });
            self.stop_main(b, now, After::Restart);
        }
    }

    /// When the pending changes are due.
    pub(super) fn watch_due(&self) -> Option<Instant> {
        let w = self.watching.as_ref()?;
        if self.stopping.is_some() {
            return None;
        }
        w.changes.due(self.build_busy())
    }

    /// Acts on the pending changes: starts the build, or restarts the helpers.
    pub(super) fn fire(&mut self, now: Instant) {
        let Some(w) = &mut self.watching else {
            return;
        };
        let build = w.build;
        match w.changes.fire(build.is_some()) {
            Fired::Loop(record) => self.log(record),
            Fired::Act(record) => {
                self.log(record);
                match build {
                    Some(b) => self.start(b),
                    None => self.restart_helpers("files changed", now),
                }
            }
        }
    }

    /// The build ended (or could not start) with `code`.
    pub(super) fn build_ended(&mut self, code: i32, now: Instant) {
        let Some(w) = &mut self.watching else {
            return;
        };
        w.changes.build_ended(now);
        let restart = !w.restart.is_empty();
        if self.stopping.is_some() {
            return;
        }
        if code == 0 {
            self.restart_helpers("the build succeeded", now);
        } else if restart {
            self.log(Record::BuildFailed);
        }
    }

    pub(super) fn restart_helpers(&mut self, why: &str, now: Instant) {
        let list = self
            .watching
            .as_ref()
            .map(|w| w.restart.clone())
            .unwrap_or_default();
        for i in list {
            let helper = self.helpers[i].name();
            let why = why.to_string();
            match self.helpers[i].state {
                State::Running { .. }
                | State::Stopping {
                    after: After::Policy,
                    ..
                } => {
                    let running = true;
                    self.log(Record::RestartForChange {
                        helper,
                        why,
                        running,
                    });
                    self.stop_main(i, now, After::Restart);
                }
                State::Done { .. } | State::Backoff { .. } => {
                    let running = false;
                    self.log(Record::RestartForChange {
                        helper,
                        why,
                        running,
                    });
                    self.helpers[i].reset_restarts();
                    self.start(i);
                }
                // Already being restarted, or not started yet (dependencies).
                _ => {}
            }
        }
    }
}
