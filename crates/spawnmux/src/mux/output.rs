//! Captured output: the backlog of ready streams, reading them within the byte budgets,
//! framing what was read into [`Event::Output`](crate::Event::Output)s, and the flush of a
//! partial line that stayed idle.

use std::cmp::Reverse;
use std::io;
use std::time::{Duration, Instant};

use super::child::Slot;
use super::key::{self, key, KIND_EXIT};
use super::Mux;
use crate::event::{ChildId, Events, Item, Stream, WAIT_BUDGET};
use crate::framing::{Framer, FramingOptions, Piece};
use crate::sys;

/// Bytes one stream may deliver per `wait` (the fairness budget), so one flooding child cannot
/// starve the others. A read asks for the pipe's size (which grows on Linux) within this.
pub(super) const STREAM_BUDGET: usize = 256 * 1024;
/// A stream is served only if at least this much of the wait's byte budget
/// ([`WAIT_BUDGET`]) is left; otherwise it is served first at the next `wait`.
const MIN_ROOM: usize = 4096;
/// At exit, how long a stream may wait for output still in flight (Windows under Wine only;
/// see `Reader::settle`).
const SETTLE_AT_EXIT: Duration = Duration::from_secs(2);

/// A captured stdout or stderr.
#[derive(Debug)]
pub(super) struct OutStream {
    pub(super) reader: sys::Reader,
    framer: Framer,
    flush_deadline: Option<Instant>,
    /// Bytes read in `Mux::round` number `round`: the fairness budget holds per round of a
    /// `wait`, even when an exit drain follows a read in the same round. (Per round, not per
    /// `wait`: a `wait` whose round completed no line polls again, and a long line still being
    /// assembled must be read on.)
    round: u64,
    taken: usize,
}

/// How a stream's turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Served {
    /// End of file (or a read error): the stream is closed.
    Eof,
    /// The pipe is empty (a short read or `WouldBlock`).
    Empty,
    /// A budget ran out: there may be more.
    More,
}

/// What every output item of one stream carries.
#[derive(Debug, Clone, Copy)]
struct Tag {
    child: ChildId,
    name: u32,
    stream: Stream,
}

impl Tag {
    /// The tag of stream `si` of `slot`, its name pushed into this batch.
    fn of(slot: &mut Slot, si: usize, events: &mut Events, batch: u64) -> Tag {
        Tag {
            name: slot.name_in(events, batch),
            child: slot.id,
            stream: Stream::from_index(si),
        }
    }

    /// Where framed pieces go: one `Item::Output` each (the only place one is made). `move`:
    /// the closure holds the tag by value, not pointers to reload for every line.
    #[inline]
    fn sink(self, items: &mut Vec<Item>) -> impl FnMut(Piece) + '_ {
        move |p: Piece| {
            items.push(Item::Output {
                child: self.child,
                name: self.name,
                stream: self.stream,
                start: p.start,
                end: p.end,
                newline: p.newline,
                continued: p.continued,
            })
        }
    }
}

/// `true` if the batch has room for a stream's turn: its carried partial line and at least
/// [`MIN_ROOM`] bytes more. The first turn of a batch always has room.
fn has_room(events: &Events, carry: usize) -> bool {
    events.bytes.is_empty() || events.bytes.len() + carry + MIN_ROOM <= WAIT_BUDGET
}

impl OutStream {
    pub(super) fn new(reader: sys::Reader, framing: FramingOptions) -> OutStream {
        OutStream {
            reader,
            framer: Framer::new(framing),
            flush_deadline: None,
            round: 0,
            taken: 0,
        }
    }

    /// Reads up to `budget` bytes, within this round's fairness budget and the wait's byte
    /// budget, and frames them into `events` as `tag`'s output. `grow`: full reads may grow
    /// the pipe. `at_exit`: read until the pipe is empty and wait for output still in flight.
    // Inlined into its one caller, `Mux::read_stream`: the two were one function, and a call
    // between them cost ~30 instructions per turn of a stream (callgrind, W6).
    #[inline]
    fn read(
        &mut self,
        events: &mut Events,
        tag: Tag,
        budget: usize,
        round: u64,
        grow: bool,
        at_exit: bool,
    ) -> (Served, usize) {
        if self.round != round {
            self.round = round;
            self.taken = 0;
        }
        let budget = budget.min(STREAM_BUDGET - self.taken);
        let mut read = 0;
        let mut served = Served::More;
        // Bounded: a grandchild holding the pipe, or one sending empty messages, must not keep
        // the loop here.
        let settle_until = at_exit.then(|| Instant::now() + SETTLE_AT_EXIT);
        while read < budget {
            let carry = self.framer.pending();
            if !has_room(events, carry) {
                break;
            }
            // The wait's budget counts the carried partial line too (it ends up in the arena),
            // except for the first stream of a batch: a line longer than the budget must move.
            let room =
                WAIT_BUDGET - events.bytes.len() - if events.bytes.is_empty() { 0 } else { carry };
            let asked = self.reader.read_size().min(budget - read).min(room);
            let start = self.framer.begin(&mut events.bytes);
            let n = match self.reader.read_into(&mut events.bytes, asked) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.framer
                        .frame(&mut events.bytes, start, false, &mut |_| {});
                    if settle_until.is_some_and(|until| self.reader.settle(until)) {
                        continue;
                    }
                    // (Not a read that says anything about the pipe's size: after a full read
                    // it only shows that the reader drained it.)
                    served = Served::Empty;
                    break;
                }
                // Any other read error ends the stream like EOF: nothing more can come.
                Err(_) => 0,
            };
            let eof = n == 0;
            self.framer.frame(
                &mut events.bytes,
                start,
                eof,
                &mut tag.sink(&mut events.items),
            );
            read += n;
            if eof {
                served = Served::Eof;
                break;
            }
            if grow {
                // Full reads, again and again, grow the pipe (Linux).
                self.reader.after_read(asked, n);
            }
            // A short read of a pipe means it is empty (a terminal's may not: read on until
            // `WouldBlock`); at exit, make sure.
            if !at_exit && n < asked && self.reader.short_read_means_empty() {
                served = Served::Empty;
                break;
            }
        }
        self.taken += read;
        (served, read)
    }
}

impl Mux {
    /// Puts an output stream (`KIND_STDOUT`/`KIND_STDERR`) or an exit to drain (`KIND_EXIT`)
    /// at the end of the backlog, unless it is already waiting there.
    pub(super) fn enqueue(&mut self, index: usize, kind: usize) {
        if let Some(slot) = self.children.get_mut(index) {
            let bit = 1 << kind;
            if slot.queued & bit == 0 {
                slot.queued |= bit;
                self.backlog.push_back(key(index, kind));
            }
        }
    }

    /// Serves the backlog in order (what an earlier `wait` left over comes first) until the
    /// wait's byte budget is spent; the rest waits for the next `wait`. Level-triggered
    /// readiness reports a partly read stream again, and it then queues up behind the others.
    pub(super) fn serve_backlog(&mut self, events: &mut Events) {
        let mut left = self.backlog.len();
        while left > 0 {
            let Some(&k) = self.backlog.front() else {
                break;
            };
            let (index, kind) = key::split(k);
            let bit = 1 << kind;
            // Gone, or not queued any more: a stale key of a slot reused by a newer child.
            let Some(slot) = self.children.get_mut(index).filter(|s| s.queued & bit != 0) else {
                self.backlog.pop_front();
                left -= 1;
                continue;
            };
            let carry = match slot.streams.get(kind) {
                Some(Some(st)) => st.framer.pending(),
                _ => 0,
            };
            // No room left: it stays at the front for the next `wait`.
            if !has_room(events, carry) {
                break;
            }
            self.backlog.pop_front();
            left -= 1;
            slot.queued &= !bit;
            if kind == KIND_EXIT {
                if !self.finish_exit(index, events) {
                    // Not drained within its budgets: it queues up again, behind the others.
                    self.enqueue(index, KIND_EXIT);
                }
            } else {
                self.read_stream(index, kind, events, STREAM_BUDGET, false);
            }
        }
    }

    /// Reads up to `budget` bytes from one stream, within the wait's byte budget; frames them
    /// into `events`. Returns how the reading ended and the bytes read. `at_exit`: the child
    /// has exited, so read until the pipe is empty and wait for output still in flight
    /// (`Reader::settle`).
    pub(super) fn read_stream(
        &mut self,
        index: usize,
        si: usize,
        events: &mut Events,
        budget: usize,
        at_exit: bool,
    ) -> (Served, usize) {
        let (batch, round) = (self.batch, self.round);
        // Full reads of a running child's stream may grow its pipe, even when this loop is the
        // limit: fewer, larger reads cost less CPU per byte (ARCHITECTURE.md, "Pipe sizes").
        let grow = !at_exit;
        let Some(slot) = self.children.get_mut(index) else {
            return (Served::Eof, 0);
        };
        if slot.streams[si].is_none() {
            return (Served::Eof, 0);
        }
        let tag = Tag::of(slot, si, events, batch);
        let Some(st) = slot.streams[si].as_mut() else {
            return (Served::Eof, 0);
        };
        let (served, read) = st.read(events, tag, budget, round, grow, at_exit);
        if served == Served::Eof {
            if let Some(st) = slot.streams[si].take() {
                st.reader.deregister(&self.poller);
            }
            events.items.push(Item::Closed {
                child: tag.child,
                name: tag.name,
                stream: tag.stream,
            });
            // The last captured stream ended: the child has most likely exited. Checking now
            // costs one non-blocking wait and does not depend on the exit notification alone.
            if !at_exit && slot.exit.is_none() && slot.streams.iter().all(Option::is_none) {
                self.check_now.push(index);
            }
            self.remove_if_finished(index);
            return (Served::Eof, read);
        }
        if let (Some(idle), Some(st)) = (slot.flush_after, slot.streams[si].as_mut()) {
            // No timer for an idle time beyond what the clock can count (`Duration::MAX`):
            // the partial line waits for its newline or the end of the stream.
            if st.framer.pending() > 0 && read > 0 {
                if let Some(at) = Instant::now().checked_add(idle) {
                    st.flush_deadline = Some(at);
                    self.flush_timers.push(Reverse((at, key(index, si))));
                }
            }
        }
        (served, read)
    }

    /// Delivers partial lines whose idle time has passed.
    pub(super) fn flush_due(&mut self, events: &mut Events) {
        if self.flush_timers.is_empty() {
            return;
        }
        let now = Instant::now();
        while let Some(&Reverse((at, k))) = self.flush_timers.peek() {
            if at > now {
                break;
            }
            self.flush_timers.pop();
            let (index, si) = key::split(k);
            self.flush_partial(index, si, at, events);
        }
    }

    /// Delivers the partial line of stream `si` of child `index` if `at` is still its flush
    /// deadline.
    fn flush_partial(&mut self, index: usize, si: usize, at: Instant, events: &mut Events) {
        let batch = self.batch;
        let Some(slot) = self.children.get_mut(index) else {
            return;
        };
        // Bytes of this stream wait unread (its read, or the drain after its exit, is in the
        // backlog): the line may well go on in them, so it is not idle. Its next read sets a
        // new deadline if a partial line is still held then.
        let unread = slot.queued & ((1 << si) | (1 << KIND_EXIT)) != 0;
        match slot.streams[si].as_mut() {
            Some(st) if st.flush_deadline == Some(at) => st.flush_deadline = None,
            _ => return,
        }
        if unread {
            return;
        }
        let tag = Tag::of(slot, si, events, batch);
        let Some(st) = slot.streams[si].as_mut() else {
            return;
        };
        st.framer
            .flush(&mut events.bytes, &mut tag.sink(&mut events.items));
    }
}
