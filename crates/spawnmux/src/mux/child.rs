//! One child's record in the [`Mux`]: its process, its streams, and where its exit stands.

use std::sync::Arc;
use std::time::Duration;

use slab::Slab;

use super::output::OutStream;
use super::stdin::InStream;
use super::Mux;
use crate::command::Command;
use crate::event::{ChildId, Events, Exit};
use crate::sys;

#[derive(Debug)]
pub(super) struct Slot {
    pub(super) id: ChildId,
    pub(super) name: Arc<str>,
    pub(super) process: sys::Process,
    pub(super) watch: Option<sys::Watch>,
    /// Set when the child is reaped.
    pub(super) exit: Option<Exit>,
    /// `Event::Exited` pushed: the streams were drained after the exit (see `finish_exit`).
    pub(super) reported: bool,
    /// After the exit: bytes drained per stream so far, and whether it is drained.
    pub(super) drained: [(usize, bool); 2],
    /// Kinds (`1 << KIND_*`) of this slot waiting in `Mux::backlog`.
    pub(super) queued: u8,
    pub(super) streams: [Option<OutStream>; 2],
    pub(super) stdin: Option<InStream>,
    /// The child's pseudo-terminal (`Command::pty`), kept until the slot goes.
    pub(super) pty: Option<sys::PtyHandle>,
    pub(super) flush_after: Option<Duration>,
    /// `Events` batch in which `name_index` is valid.
    batch: u64,
    name_index: u32,
}

impl Slot {
    /// The record of a child just spawned from `cmd` (its streams already registered).
    pub(super) fn new(
        id: ChildId,
        cmd: &Command,
        process: sys::Process,
        watch: sys::Watch,
        [stdout, stderr]: [Option<sys::Reader>; 2],
        stdin: Option<InStream>,
        pty: Option<sys::PtyHandle>,
    ) -> Slot {
        let framing = cmd.effective_framing();
        let out = |reader: Option<sys::Reader>| reader.map(|r| OutStream::new(r, framing));
        Slot {
            id,
            name: Arc::from(cmd.get_name()),
            process,
            watch: Some(watch),
            exit: None,
            reported: false,
            drained: [(0, false); 2],
            queued: 0,
            streams: [out(stdout), out(stderr)],
            stdin,
            pty,
            flush_after: cmd.flush_partial_after,
            batch: 0,
            name_index: 0,
        }
    }

    /// Exit reported and every stream closed: nothing more can happen to this child.
    fn finished(&self) -> bool {
        self.reported && self.streams.iter().all(Option::is_none) && self.stdin.is_none()
    }

    /// The index of the child's name in `events.names`, pushed once per batch.
    pub(super) fn name_in(&mut self, events: &mut Events, batch: u64) -> u32 {
        if self.batch != batch {
            self.batch = batch;
            self.name_index = events.names.len() as u32;
            events.names.push(self.name.clone());
        }
        self.name_index
    }
}

/// The child `id` in `children`, if it is still there (not a newer child in its slot).
pub(super) fn find_mut(children: &mut Slab<Slot>, id: ChildId) -> Option<&mut Slot> {
    children.get_mut(id.index()).filter(|s| s.id == id)
}

impl Mux {
    pub(super) fn slot(&self, id: ChildId) -> Option<&Slot> {
        self.children.get(id.index()).filter(|s| s.id == id)
    }

    pub(super) fn slot_mut(&mut self, id: ChildId) -> Option<&mut Slot> {
        find_mut(&mut self.children, id)
    }

    /// Forgets the child once nothing more can happen to it.
    pub(super) fn remove_if_finished(&mut self, index: usize) {
        if self.children.get(index).is_some_and(Slot::finished) {
            self.children.remove(index);
        }
    }
}
