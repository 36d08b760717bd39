//! Exits: reaping a child when its exit is seen, then draining its streams so that
//! [`Event::Exited`](crate::Event::Exited) follows everything it wrote.

use std::io;

use super::key::KIND_EXIT;
use super::output::{Served, STREAM_BUDGET};
use super::Mux;
use crate::event::{Events, Exit, Item};
use crate::sys;

/// At exit, bytes read per stream (over as many `wait`s as the byte budget needs) to collect
/// what the child wrote before exiting. A pipe holds at most 1 MiB on Linux (`pipe-max-size`),
/// so this takes all of it; the bound only matters when a grandchild keeps writing.
const DRAIN_AT_EXIT: usize = 4 << 20;

impl Mux {
    /// `try_wait`s the children whose exit is watched by nobody (SIGCHLD mode) or whose last
    /// stream just closed.
    pub(super) fn check_pending_exits(&mut self) {
        while let Some(index) = self.check_now.pop() {
            self.on_exit(index);
        }
    }

    /// The exit watcher's shared source fired (the SIGCHLD pipe): any child it watches may
    /// have exited.
    pub(super) fn on_global_exit(&mut self) {
        self.exits.on_global_event();
        let global: Vec<usize> = self
            .children
            .iter()
            .filter(|(_, s)| s.watch.as_ref().is_some_and(sys::Watch::is_global))
            .map(|(i, _)| i)
            .collect();
        for index in global {
            self.on_exit(index);
        }
    }

    /// Reaps the child if it has exited; its streams are then drained and `Exited` reported
    /// from the backlog (`finish_exit`), within the waits' byte budgets.
    pub(super) fn on_exit(&mut self, index: usize) {
        let Some(slot) = self.children.get_mut(index) else {
            return;
        };
        if slot.exit.is_some() {
            return;
        }
        let exit = match slot.process.try_wait() {
            Ok(Some(exit)) => exit,
            Ok(None) => return,
            // ECHILD: someone else reaped our child (a `waitpid(-1)` elsewhere in the
            // process). The status is lost; report it as a failure rather than never.
            Err(_) => Exit::Code(-1),
        };
        slot.exit = Some(exit);
        if let Some(watch) = slot.watch.take() {
            self.exits.unwatch(&self.poller, watch);
        }
        self.running -= 1;
        self.enqueue(index, KIND_EXIT);
    }

    /// After the exit: reads both streams until they are empty (everything the child wrote
    /// before exiting is in the pipes now), then reports `Exited`, so that it follows all of
    /// it. Returns `false` if a budget ran out first (call again next `wait`).
    pub(super) fn finish_exit(&mut self, index: usize, events: &mut Events) -> bool {
        if !self.drain_at_exit(index, events) {
            return false;
        }
        self.report_exit(index, events);
        true
    }

    /// Each stream gets its fairness budget ([`STREAM_BUDGET`]) per call, within the wait's
    /// byte budget. `true` when both streams are drained (or the child is gone). `reported`
    /// is still `false` meanwhile, so a stream reaching EOF cannot remove the slot.
    fn drain_at_exit(&mut self, index: usize, events: &mut Events) -> bool {
        let mut drained_all = true;
        for si in 0..2 {
            let Some(slot) = self.children.get_mut(index) else {
                return true;
            };
            let (done, finished) = slot.drained[si];
            if finished || slot.streams[si].is_none() {
                continue;
            }
            let budget = (DRAIN_AT_EXIT - done).min(STREAM_BUDGET);
            let (served, n) = self.read_stream(index, si, events, budget, true);
            let Some(slot) = self.children.get_mut(index) else {
                return true;
            };
            let drained = &mut slot.drained[si];
            drained.0 += n;
            if served == Served::More && drained.0 < DRAIN_AT_EXIT {
                drained_all = false;
            } else {
                drained.1 = true;
            }
        }
        drained_all
    }

    /// Pushes `Exited` (after `StdinFailed` for stdin bytes never written) and closes stdin.
    fn report_exit(&mut self, index: usize, events: &mut Events) {
        let batch = self.batch;
        let Some(slot) = self.children.get_mut(index) else {
            return;
        };
        let Some(exit) = slot.exit else {
            return;
        };
        slot.reported = true;
        let name = slot.name_in(events, batch);
        let child = slot.id;
        if let Some(stdin) = slot.stdin.take() {
            let unsent = stdin.close(&self.poller);
            if unsent > 0 {
                events.items.push(Item::StdinFailed {
                    child,
                    name,
                    kind: io::ErrorKind::BrokenPipe,
                    unsent,
                });
            }
        }
        events.items.push(Item::Exited { child, name, exit });
        self.remove_if_finished(index);
    }
}
