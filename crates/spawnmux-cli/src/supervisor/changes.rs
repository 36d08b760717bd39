//! Watch mode's decisions about file changes: the debounce (a burst of changes is acted on
//! once it has been quiet for `debounce`, and at the latest after `MAX_DEBOUNCES` periods),
//! what a change during a build does (`on_busy`), and rebuild-loop detection (a build that
//! keeps changing its own watched inputs). Paths arrive as shown in the log (relative to the
//! watch's base), which also identifies them.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use indexmap::IndexSet;

use crate::record::Record;
use crate::spec::OnBusy;

/// Builds in a row triggered only by changes made during the previous build: a rebuild loop.
pub(crate) const LOOP_LIMIT: u32 = 3;
/// A burst of changes is acted on after at most this many debounce periods (and 2 s).
const MAX_DEBOUNCES: u32 = 10;
/// A change this soon after a build (or within the debounce, if longer) counts as made by it.
const BUILD_ECHO: Duration = Duration::from_millis(300);
/// The `paths` field of a change record lists at most this many.
const LISTED: usize = 100;

#[derive(Debug)]
pub(crate) struct Changes {
    debounce: Duration,
    on_busy: OnBusy,
    pending: IndexSet<String>,
    first: Option<Instant>,
    last: Option<Instant>,
    /// Every pending change arrived while a build ran (or right after it).
    pending_from_build: bool,
    build_end: Option<Instant>,
    /// Changes during the current build were reported as ignored (on_busy = ignore).
    ignore_reported: bool,
    loop_streak: u32,
    /// Paths a rebuild loop was found on: their changes during a build are dropped.
    loop_paths: HashSet<String>,
}

/// What a batch of changes asks for.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Added {
    /// Say so: changes during the build are ignored (once per build).
    pub(crate) ignored: Option<Record>,
    /// Stop the running build to start it again (on_busy = restart).
    pub(crate) stop_build: bool,
}

/// What the pending changes lead to once due.
#[derive(Debug, PartialEq)]
pub(crate) enum Fired {
    /// Build (or restart the helpers); the record says what changed.
    Act(Record),
    /// A rebuild loop was found: nothing is done, the record says why.
    Loop(Record),
}

impl Changes {
    pub(crate) fn new(debounce: Duration, on_busy: OnBusy) -> Changes {
        Changes {
            debounce,
            on_busy,
            pending: IndexSet::new(),
            first: None,
            last: None,
            pending_from_build: false,
            build_end: None,
            ignore_reported: false,
            loop_streak: 0,
            loop_paths: HashSet::new(),
        }
    }

    /// Changed `paths` arrived at `now`; `busy`: the build is running.
    pub(crate) fn add(&mut self, mut paths: Vec<String>, busy: bool, now: Instant) -> Added {
        let grace = self.debounce.max(BUILD_ECHO);
        let build_window = busy
            || self
                .build_end
                .is_some_and(|t| now.duration_since(t) < grace);
        if build_window {
            paths.retain(|p| !self.loop_paths.contains(p));
        }
        let mut added = Added::default();
        if paths.is_empty() {
            return added;
        }
        match (busy, self.on_busy) {
            (true, OnBusy::Ignore) => {
                if !std::mem::replace(&mut self.ignore_reported, true) {
                    added.ignored = Some(Record::ChangeIgnored {
                        shown: shown(paths.iter()),
                    });
                }
                return added;
            }
            (true, OnBusy::Restart) => added.stop_build = true,
            _ => {}
        }
        if self.pending.is_empty() {
            self.first = Some(now);
            self.pending_from_build = build_window;
        } else {
            self.pending_from_build &= build_window;
        }
        self.pending.extend(paths);
        self.last = Some(now);
        added
    }

    /// When the pending changes are due (`None`: none pending, or `busy`: the build runs).
    pub(crate) fn due(&self, busy: bool) -> Option<Instant> {
        if self.pending.is_empty() || busy {
            return None;
        }
        let max_wait = (self.debounce * MAX_DEBOUNCES).max(Duration::from_secs(2));
        Some((self.last? + self.debounce).min(self.first? + max_wait))
    }

    /// Takes the pending changes. `has_build`: watch mode runs a build (only builds loop).
    pub(crate) fn fire(&mut self, has_build: bool) -> Fired {
        let paths = std::mem::take(&mut self.pending);
        let from_build = std::mem::take(&mut self.pending_from_build);
        let listed = paths.iter().take(LISTED).cloned().collect();
        let (count, shown) = (paths.len(), shown(paths.iter()));
        self.loop_streak = if has_build && from_build {
            self.loop_streak + 1
        } else {
            0
        };
        if self.loop_streak >= LOOP_LIMIT {
            self.loop_streak = 0;
            self.loop_paths.extend(paths);
            return Fired::Loop(Record::RebuildLoop {
                paths: listed,
                count,
                shown,
            });
        }
        self.ignore_reported = false;
        Fired::Act(Record::Change {
            paths: listed,
            count,
            shown,
        })
    }

    /// The build ended at `now`.
    pub(crate) fn build_ended(&mut self, now: Instant) {
        self.build_end = Some(now);
    }
}

/// `src/a.md (+3 more)`.
fn shown<'a>(mut paths: impl ExactSizeIterator<Item = &'a String>) -> String {
    let n = paths.len();
    match paths.next() {
        None => String::new(),
        Some(first) if n == 1 => first.clone(),
        Some(first) => format!("{first} (+{} more)", n - 1),
    }
}
