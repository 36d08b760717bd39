//! A child's captured stdin: a queue the loop writes out as the pipe takes it.

use std::collections::VecDeque;
use std::io;

use polling::Poller;

use super::child::find_mut;
use super::key::{key, KIND_STDIN};
use super::{unknown, Mux};
use crate::error::{context, error};
use crate::event::{ChildId, Events, Item};
use crate::sys;

/// A captured stdin.
#[derive(Debug)]
pub(super) struct InStream {
    writer: sys::Writer,
    queue: VecDeque<u8>,
    close_when_empty: bool,
    want_writable: bool,
}

impl InStream {
    /// Registers the child's stdin with the poller (no interest until something is queued);
    /// `None` if the poller refuses it (the pipe is then closed: the child sees end of file).
    pub(super) fn register(writer: sys::Writer, poller: &Poller, index: usize) -> Option<InStream> {
        writer.register(poller, key(index, KIND_STDIN)).ok()?;
        Some(InStream {
            writer,
            queue: VecDeque::new(),
            close_when_empty: false,
            want_writable: false,
        })
    }

    /// Deregisters and closes the pipe; returns how many queued bytes were never written.
    pub(super) fn close(self, poller: &Poller) -> usize {
        self.writer.deregister(poller);
        self.queue.len()
    }

    /// Writes what the pipe takes. `Ok(true)`: queue empty and close was requested.
    fn flush(&mut self, poller: &Poller, index: usize) -> io::Result<bool> {
        while !self.queue.is_empty() {
            let (front, _) = self.queue.as_slices();
            match self.writer.write(front) {
                Ok(0) => break,
                Ok(n) => {
                    self.queue.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        let want = !self.queue.is_empty();
        if want != self.want_writable {
            self.writer
                .set_writable(poller, key(index, KIND_STDIN), want)?;
            self.want_writable = want;
        }
        Ok(!want && self.close_when_empty)
    }
}

/// Writing to a child's stdin.
impl Mux {
    /// Queues `data` for the child's stdin (which must be [`Stdio::Capture`](crate::Stdio)) and
    /// writes what the pipe takes now without blocking; the loop writes the rest as the child
    /// reads. Order is preserved.
    ///
    /// # Errors
    /// `BrokenPipe` if the child has closed its stdin or died (this process never gets
    /// `SIGPIPE`), `NotFound` for an unknown child, `InvalidInput` if stdin is not captured or
    /// [`close_stdin`](Mux::close_stdin) was called. A failure found later, by the loop, is
    /// reported as [`Event::StdinFailed`](crate::Event::StdinFailed).
    pub fn write_stdin(&mut self, id: ChildId, data: &[u8]) -> io::Result<()> {
        // Disjoint borrows of `poller` and `children`: no reference-count traffic per write.
        let poller = &*self.poller;
        let slot = find_mut(&mut self.children, id).ok_or_else(|| unknown(id))?;
        let name = &slot.name;
        let Some(stdin) = slot.stdin.as_mut() else {
            let kind = if slot.exit.is_some() {
                io::ErrorKind::BrokenPipe
            } else {
                io::ErrorKind::InvalidInput
            };
            return Err(error(
                kind,
                format!("writing to stdin of `{name}`: stdin is not captured or closed"),
            ));
        };
        if stdin.close_when_empty {
            return Err(error(
                io::ErrorKind::InvalidInput,
                format!("writing to stdin of `{name}`: close_stdin was called"),
            ));
        }
        stdin.queue.extend(data);
        let index = id.index();
        match stdin.flush(poller, index) {
            Ok(done) => {
                if done {
                    self.close_stdin_now(index);
                }
                Ok(())
            }
            Err(e) => {
                let name = name.clone();
                self.close_stdin_now(index);
                Err(context(e, format!("writing to stdin of `{name}`")))
            }
        }
    }

    /// Closes the child's stdin once everything queued has been written (at once if nothing
    /// is queued), so the child sees end of file.
    ///
    /// # Errors
    /// `NotFound` for an unknown child.
    pub fn close_stdin(&mut self, id: ChildId) -> io::Result<()> {
        let slot = self.slot_mut(id).ok_or_else(|| unknown(id))?;
        if let Some(stdin) = slot.stdin.as_mut() {
            if stdin.queue.is_empty() {
                self.close_stdin_now(id.index());
            } else {
                stdin.close_when_empty = true;
            }
        }
        Ok(())
    }

    /// Bytes queued for the child's stdin and not yet written.
    pub fn stdin_queued(&self, id: ChildId) -> usize {
        self.slot(id)
            .and_then(|s| s.stdin.as_ref())
            .map_or(0, |s| s.queue.len())
    }

    fn close_stdin_now(&mut self, index: usize) {
        if let Some(stdin) = self.children.get_mut(index).and_then(|s| s.stdin.take()) {
            stdin.close(&self.poller);
        }
        self.remove_if_finished(index);
    }

    /// The loop found stdin writable: writes what is queued; a failure becomes
    /// [`Event::StdinFailed`](crate::Event::StdinFailed) and closes stdin.
    pub(super) fn on_stdin_writable(&mut self, index: usize, events: &mut Events) {
        let batch = self.batch;
        let Some(slot) = self.children.get_mut(index) else {
            return;
        };
        let Some(stdin) = slot.stdin.as_mut() else {
            return;
        };
        match stdin.flush(&self.poller, index) {
            Ok(false) => {}
            Ok(true) => self.close_stdin_now(index),
            Err(e) => {
                let unsent = stdin.queue.len();
                let name = slot.name_in(events, batch);
                events.items.push(Item::StdinFailed {
                    child: slot.id,
                    name,
                    kind: e.kind(),
                    unsent,
                });
                self.close_stdin_now(index);
            }
        }
    }
}
