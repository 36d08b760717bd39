//! [`Mux`]: the one event loop for children, wake-ups and your own sources.

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polling::Poller;
use slab::Slab;

use crate::command::Command;
use crate::error::{context, error};
use crate::event::{ChildId, Event, Events, Exit, Item, Readiness, SourceId, Stream, WAIT_BUDGET};
use crate::framing::{Framer, Piece};
use crate::sys::{self, Signal, Source, GLOBAL_EXIT_KEY};

/// Bytes one stream may deliver per `wait` (the fairness budget), so one flooding child cannot
/// starve the others. A read asks for the pipe's size (which grows on Linux) within this.
const STREAM_BUDGET: usize = 256 * 1024;
/// A stream is served only if at least this much of the wait's byte budget
/// ([`WAIT_BUDGET`]) is left; otherwise it is served first at the next `wait`.
const MIN_ROOM: usize = 4096;
/// At exit, bytes read per stream (over as many `wait`s as the byte budget needs) to collect
/// what the child wrote before exiting. A pipe holds at most 1 MiB on Linux (`pipe-max-size`),
/// so this takes all of it; the bound only matters when a grandchild keeps writing.
const DRAIN_AT_EXIT: usize = 4 << 20;

/// At exit, how long a stream may wait for output still in flight (Windows under Wine only;
/// see `Reader::settle`).
const SETTLE_AT_EXIT: Duration = Duration::from_secs(2);

const KIND_BITS: usize = 3;
const KIND_STDOUT: usize = 0;
const KIND_STDERR: usize = 1;
const KIND_STDIN: usize = 2;
const KIND_EXIT: usize = 3;
const KIND_SOURCE: usize = 4;

fn key(index: usize, kind: usize) -> usize {
    (index << KIND_BITS) | kind
}

/// Which readiness to report for a source added with [`Mux::add_source`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Interest {
    /// Nothing (the source stays registered but quiet).
    None,
    /// Readable.
    Readable,
    /// Writable.
    Writable,
    /// Readable or writable.
    Both,
}

impl Interest {
    fn event(self, key: usize) -> polling::Event {
        match self {
            Interest::None => polling::Event::none(key),
            Interest::Readable => polling::Event::readable(key),
            Interest::Writable => polling::Event::writable(key),
            Interest::Both => polling::Event::all(key),
        }
    }
}

/// A type-erased owned source.
trait AnySource: Send {
    fn handle(&self) -> sys::Handle<'_>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<T: Source> AnySource for T {
    fn handle(&self) -> sys::Handle<'_> {
        sys::source_handle(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

struct UserSource {
    source: Box<dyn AnySource>,
}

/// A captured stdout or stderr.
#[derive(Debug)]
struct OutStream {
    reader: sys::Reader,
    framer: Framer,
    flush_deadline: Option<Instant>,
    /// Bytes read in `Mux::round` number `round`: the fairness budget holds per round of a
    /// `wait`, even when an exit drain follows a read in the same round. (Per round, not per
    /// `wait`: a `wait` whose round completed no line polls again, and a long line still being
    /// assembled must be read on.)
    round: u64,
    taken: usize,
}

/// A captured stdin.
#[derive(Debug)]
struct InStream {
    writer: sys::Writer,
    queue: VecDeque<u8>,
    close_when_empty: bool,
    want_writable: bool,
}

#[derive(Debug)]
struct Slot {
    id: ChildId,
    name: Arc<str>,
    process: sys::Process,
    watch: Option<sys::Watch>,
    /// Set when the child is reaped.
    exit: Option<Exit>,
    /// `Event::Exited` pushed: the streams were drained after the exit (see `finish_exit`).
    reported: bool,
    /// After the exit: bytes drained per stream so far, and whether it is drained.
    drained: [(usize, bool); 2],
    /// Kinds (`1 << KIND_*`) of this slot waiting in `Mux::backlog`.
    queued: u8,
    streams: [Option<OutStream>; 2],
    stdin: Option<InStream>,
    flush_after: Option<Duration>,
    /// `Events` batch in which `name_index` is valid.
    batch: u64,
    name_index: u32,
}

impl Slot {
    fn finished(&self) -> bool {
        self.reported && self.streams.iter().all(Option::is_none) && self.stdin.is_none()
    }

    fn name_in(&mut self, events: &mut Events, batch: u64) -> u32 {
        if self.batch != batch {
            self.batch = batch;
            self.name_index = events.names.len() as u32;
            events.names.push(self.name.clone());
        }
        self.name_index
    }
}

struct WakeShared {
    poller: Arc<Poller>,
    tokens: Mutex<Vec<u64>>,
}

/// Wakes a [`Mux`] from any thread: its next (or current) [`Mux::wait`] returns
/// [`Event::Woken`] with this waker's token.
///
/// This is how an event source that is not a file descriptor (a thread waiting on something,
/// a channel, a file-system watcher) joins the one loop: the seed article's "turn an arbitrary
/// event source into a selectable descriptor". Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Waker {
    shared: Arc<WakeShared>,
    token: u64,
}

impl fmt::Debug for Waker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waker").field("token", &self.token).finish()
    }
}

impl Waker {
    /// Wakes the `Mux`. Several wakes with the same token before the loop runs are reported
    /// as one [`Event::Woken`]. Works (and does nothing useful) after the `Mux` is dropped.
    ///
    /// # Errors
    /// Only if the OS refuses to signal the poller (practically never).
    pub fn wake(&self) -> io::Result<()> {
        {
            let mut tokens = self
                .shared
                .tokens
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if !tokens.contains(&self.token) {
                tokens.push(self.token);
            }
        }
        self.shared.poller.notify()
    }

    /// The token this waker reports.
    pub fn token(&self) -> u64 {
        self.token
    }
}

/// Owns a poller and the children spawned through it, and reports everything that happens to
/// them, to [`Waker`]s and to your own sources, through one call: [`Mux::wait`].
///
/// See the [crate documentation](crate) for a complete loop.
///
/// # Dropping
/// Dropping a `Mux` kills (`SIGKILL` / `TerminateJobObject`) every child's whole process group
/// or job and reaps the children: nothing is left running, no zombie is left behind. For a
/// graceful stop, call [`Mux::shutdown`] first.
pub struct Mux {
    poller: Arc<Poller>,
    waiter: sys::Waiter,
    scratch: Vec<polling::Event>,
    children: Slab<Slot>,
    sources: Slab<UserSource>,
    exits: sys::ExitWatcher,
    wakes: Arc<WakeShared>,
    flush_timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Children to `try_wait` at the next `wait` (exit watch by SIGCHLD only).
    check_now: Vec<usize>,
    /// Output streams found ready and exits to drain (keys), not yet served because a `wait`'s
    /// byte budget was spent: served first, oldest first, by the next `wait`.
    backlog: VecDeque<usize>,
    /// The last `wait` left ready streams unserved: this loop, not the pipes, is the limit, so
    /// full reads are no reason to grow a pipe (it would only hold more bytes in the kernel).
    saturated: bool,
    /// Poll rounds so far (several per `wait` when a round collects no event).
    round: u64,
    generation: u32,
    batch: u64,
    running: usize,
}

impl fmt::Debug for Mux {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mux")
            .field("children", &self.children.len())
            .field("running", &self.running)
            .field("sources", &self.sources.len())
            .finish_non_exhaustive()
    }
}

impl Mux {
    /// A new, empty multiplexer.
    ///
    /// # Errors
    /// If the OS poller cannot be created (file descriptor limit reached).
    pub fn new() -> io::Result<Mux> {
        let poller = Arc::new(Poller::new().map_err(|e| context(e, "creating the poller"))?);
        let exits =
            sys::ExitWatcher::new(&poller).map_err(|e| context(e, "setting up exit detection"))?;
        Ok(Mux {
            wakes: Arc::new(WakeShared {
                poller: poller.clone(),
                tokens: Mutex::new(Vec::new()),
            }),
            poller,
            waiter: sys::Waiter::new(),
            scratch: Vec::new(),
            children: Slab::new(),
            sources: Slab::new(),
            exits,
            flush_timers: BinaryHeap::new(),
            check_now: Vec::new(),
            backlog: VecDeque::new(),
            saturated: false,
            round: 0,
            generation: 0,
            batch: 0,
            running: 0,
        })
    }

    /// Starts a child. Its captured streams and its exit are reported by [`Mux::wait`].
    ///
    /// # Errors
    /// If the program cannot be started (not found, not executable, bad working directory,
    /// resource limits). The message names the program; the [`io::ErrorKind`] is the OS's
    /// (`NotFound` for a missing program). Nothing is left behind, and the `Mux` keeps working.
    pub fn spawn(&mut self, cmd: &Command) -> io::Result<ChildId> {
        let program = cmd.program.to_string_lossy().into_owned();
        if let Some(dir) = &cmd.cwd {
            if !dir.is_dir() {
                return Err(error(
                    io::ErrorKind::NotFound,
                    format!(
                        "spawning `{program}`: working directory `{}` does not exist",
                        dir.display()
                    ),
                ));
            }
        }
        let spawned = sys::spawn(cmd).map_err(|e| context(e, format!("spawning `{program}`")))?;
        self.generation = self.generation.wrapping_add(1);
        let index = self.children.vacant_key();
        let id = ChildId::new(index, self.generation);
        let mut process = spawned.process;
        let (mut stdout, mut stderr) = (spawned.stdout, spawned.stderr);
        let registered = self.register_child(index, &mut process, &mut stdout, &mut stderr);
        let watch = match registered {
            Ok(watch) => watch,
            Err(e) => {
                for r in stdout.iter().chain(stderr.iter()) {
                    r.deregister(&self.poller);
                }
                let _ = process.signal_tree(Signal::Kill);
                let _ = process.wait();
                return Err(context(
                    e,
                    format!("registering `{program}` with the poller"),
                ));
            }
        };
        let stdin = match spawned.stdin {
            Some(writer) => match writer.register(&self.poller, key(index, KIND_STDIN)) {
                Ok(()) => Some(InStream {
                    writer,
                    queue: VecDeque::new(),
                    close_when_empty: false,
                    want_writable: false,
                }),
                Err(_) => None,
            },
            None => None,
        };
        let out = |reader: Option<sys::Reader>| {
            reader.map(|reader| OutStream {
                reader,
                framer: Framer::new(cmd.framing),
                flush_deadline: None,
                round: 0,
                taken: 0,
            })
        };
        if watch.is_global() {
            self.check_now.push(index);
        }
        self.children.insert(Slot {
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
            flush_after: cmd.flush_partial_after,
            batch: 0,
            name_index: 0,
        });
        self.running += 1;
        Ok(id)
    }

    fn register_child(
        &mut self,
        index: usize,
        process: &mut sys::Process,
        stdout: &mut Option<sys::Reader>,
        stderr: &mut Option<sys::Reader>,
    ) -> io::Result<sys::Watch> {
        if let Some(r) = stdout {
            r.register(&self.poller, key(index, KIND_STDOUT))?;
        }
        if let Some(r) = stderr {
            r.register(&self.poller, key(index, KIND_STDERR))?;
        }
        self.exits
            .watch(&self.poller, process, key(index, KIND_EXIT))
    }

    /// Waits for events, up to `timeout` (`None`: until something happens), and puts them in
    /// `events` (which is cleared first). Returns the number of events; 0 means the timeout
    /// expired.
    ///
    /// Readiness the `Mux` handles internally (a read that found only part of a line, a
    /// stdin write) does not end the wait early.
    ///
    /// One call collects at most 512 KiB of output in all and 256 KiB per stream, however many
    /// children are ready (plus the partial line a stream carried over); streams not served
    /// are served first by the next call. So memory stays bounded under fan-in and a flooding
    /// child cannot starve the others.
    ///
    /// # Errors
    /// Only if the OS poller fails; problems of one child (a read error, a failed stdin write)
    /// become events or end that stream, they never fail the loop.
    pub fn wait(&mut self, events: &mut Events, timeout: Option<Duration>) -> io::Result<usize> {
        events.clear();
        self.batch += 1;
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            self.round += 1;
            self.check_pending_exits();
            let mut poll_until = deadline;
            if let Some(Reverse((t, _))) = self.flush_timers.peek() {
                poll_until = Some(poll_until.map_or(*t, |d| d.min(*t)));
            }
            let poll_timeout = if events.is_empty() && self.backlog.is_empty() {
                // No clock read when there is nothing to time (the common `wait(None)`).
                poll_until.map(|t| t.saturating_duration_since(Instant::now()))
            } else {
                Some(Duration::ZERO)
            };
            let mut ready = std::mem::take(&mut self.scratch);
            ready.clear();
            self.waiter
                .wait(&self.poller, &mut ready, poll_timeout)
                .map_err(|e| context(e, "waiting for events"))?;
            for ev in &ready {
                self.dispatch(*ev, events);
            }
            self.scratch = ready;
            self.serve_backlog(events);
            self.take_wakes(events);
            self.flush_due(events);
            if !events.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(events.len());
            }
        }
    }

    fn dispatch(&mut self, ev: polling::Event, events: &mut Events) {
        if ev.key == GLOBAL_EXIT_KEY {
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
            return;
        }
        let index = ev.key >> KIND_BITS;
        match ev.key & ((1 << KIND_BITS) - 1) {
            KIND_STDOUT | KIND_STDERR => self.enqueue(index, ev.key & ((1 << KIND_BITS) - 1)),
            KIND_STDIN => self.on_stdin_writable(index, events),
            KIND_EXIT => self.on_exit(index),
            KIND_SOURCE if self.sources.contains(index) => {
                events.items.push(Item::Ready(Readiness {
                    source: SourceId(index),
                    readable: ev.readable,
                    writable: ev.writable,
                }));
            }
            _ => {}
        }
    }

    fn check_pending_exits(&mut self) {
        while let Some(index) = self.check_now.pop() {
            self.on_exit(index);
        }
    }

    /// Puts an output stream (`KIND_STDOUT`/`KIND_STDERR`) or an exit to drain (`KIND_EXIT`)
    /// at the end of the backlog, unless it is already waiting there.
    fn enqueue(&mut self, index: usize, kind: usize) {
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
    fn serve_backlog(&mut self, events: &mut Events) {
        let mut left = self.backlog.len();
        while left > 0 {
            let Some(&k) = self.backlog.front() else {
                break;
            };
            let (index, kind) = (k >> KIND_BITS, k & ((1 << KIND_BITS) - 1));
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
        self.saturated = !self.backlog.is_empty();
    }

    /// Reads up to `budget` bytes from one stream, within the wait's byte budget; frames them
    /// into `events`. Returns how the reading ended and the bytes read. `at_exit`: the child
    /// has exited, so read until the pipe is empty and wait for output still in flight
    /// (`Reader::settle`).
    fn read_stream(
        &mut self,
        index: usize,
        si: usize,
        events: &mut Events,
        budget: usize,
        at_exit: bool,
    ) -> (Served, usize) {
        let batch = self.batch;
        // Full reads of a running child's stream may grow its pipe, unless this loop is the
        // limit (`saturated`).
        let grow = !at_exit && !self.saturated;
        let Some(slot) = self.children.get_mut(index) else {
            return (Served::Eof, 0);
        };
        if slot.streams[si].is_none() {
            return (Served::Eof, 0);
        }
        let name = slot.name_in(events, batch);
        let child = slot.id;
        let stream = Stream::from_index(si);
        let Some(st) = slot.streams[si].as_mut() else {
            return (Served::Eof, 0);
        };
        if st.round != self.round {
            st.round = self.round;
            st.taken = 0;
        }
        let budget = budget.min(STREAM_BUDGET - st.taken);
        let mut read = 0;
        let mut served = Served::More;
        // Bounded: a grandchild holding the pipe, or one sending empty messages, must not keep
        // the loop here.
        let settle_until = at_exit.then(|| Instant::now() + SETTLE_AT_EXIT);
        while read < budget {
            let carry = st.framer.pending();
            if !has_room(events, carry) {
                break;
            }
            // The wait's budget counts the carried partial line too (it ends up in the arena),
            // except for the first stream of a batch: a line longer than the budget must move.
            let room =
                WAIT_BUDGET - events.bytes.len() - if events.bytes.is_empty() { 0 } else { carry };
            let asked = st.reader.read_size().min(budget - read).min(room);
            let start = st.framer.begin(&mut events.bytes);
            let result = st.reader.read_into(&mut events.bytes, asked);
            let n = match result {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    st.framer
                        .frame(&mut events.bytes, start, false, &mut |_| {});
                    if settle_until.is_some_and(|until| st.reader.settle(until)) {
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
            let items = &mut events.items;
            st.framer
                // `move`: the closure holds `child`, `name` and `stream` by value, not three
                // pointers to reload for every line.
                .frame(&mut events.bytes, start, eof, &mut move |p: Piece| {
                    items.push(Item::Output {
                        child,
                        name,
                        stream,
                        start: p.start,
                        end: p.end,
                        newline: p.newline,
                        continued: p.continued,
                    })
                });
            read += n;
            if eof {
                served = Served::Eof;
                break;
            }
            if grow {
                // Full reads, again and again, grow the pipe (Linux).
                st.reader.after_read(asked, n);
            }
            if !at_exit {
                // A short read usually means the pipe is empty; at exit, make sure.
                if n < asked {
                    served = Served::Empty;
                    break;
                }
            }
        }
        st.taken += read;
        if served == Served::Eof {
            if let Some(st) = slot.streams[si].take() {
                st.reader.deregister(&self.poller);
            }
            events.items.push(Item::Closed {
                child,
                name,
                stream,
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
            if st.framer.pending() > 0 && read > 0 {
                let at = Instant::now() + idle;
                st.flush_deadline = Some(at);
                self.flush_timers.push(Reverse((at, key(index, si))));
            }
        }
        (served, read)
    }

    /// Delivers partial lines whose idle time has passed.
    fn flush_due(&mut self, events: &mut Events) {
        if self.flush_timers.is_empty() {
            return;
        }
        let now = Instant::now();
        while let Some(&Reverse((at, k))) = self.flush_timers.peek() {
            if at > now {
                break;
            }
            self.flush_timers.pop();
            let (index, si) = (k >> KIND_BITS, k & ((1 << KIND_BITS) - 1));
            let batch = self.batch;
            let Some(slot) = self.children.get_mut(index) else {
                continue;
            };
            // Bytes of this stream wait unread (its read, or the drain after its exit, is in
            // the backlog): the line may well go on in them, so it is not idle. Its next read
            // sets a new deadline if a partial line is still held then.
            let unread = slot.queued & ((1 << si) | (1 << KIND_EXIT)) != 0;
            match slot.streams[si].as_mut() {
                Some(st) if st.flush_deadline == Some(at) => st.flush_deadline = None,
                _ => continue,
            }
            if unread {
                continue;
            }
            let name = slot.name_in(events, batch);
            let child = slot.id;
            let Some(st) = slot.streams[si].as_mut() else {
                continue;
            };
            let items = &mut events.items;
            st.framer.flush(&mut events.bytes, &mut |p: Piece| {
                items.push(Item::Output {
                    child,
                    name,
                    stream: Stream::from_index(si),
                    start: p.start,
                    end: p.end,
                    newline: p.newline,
                    continued: p.continued,
                })
            });
        }
    }

    /// Reaps the child if it has exited; its streams are then drained and `Exited` reported
    /// from the backlog (`finish_exit`), within the waits' byte budgets.
    fn on_exit(&mut self, index: usize) {
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
    /// it. Each stream gets its fairness budget ([`STREAM_BUDGET`]) per call, within the wait's
    /// byte budget. Returns `false` if a budget ran out first (call again next `wait`).
    /// `reported` is still `false` meanwhile, so a stream reaching EOF cannot remove the slot.
    fn finish_exit(&mut self, index: usize, events: &mut Events) -> bool {
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
        if !drained_all {
            return false;
        }
        let batch = self.batch;
        let Some(slot) = self.children.get_mut(index) else {
            return true;
        };
        let Some(exit) = slot.exit else {
            return true;
        };
        slot.reported = true;
        let name = slot.name_in(events, batch);
        let child = slot.id;
        if let Some(stdin) = slot.stdin.take() {
            stdin.writer.deregister(&self.poller);
            if !stdin.queue.is_empty() {
                events.items.push(Item::StdinFailed {
                    child,
                    name,
                    kind: io::ErrorKind::BrokenPipe,
                    unsent: stdin.queue.len(),
                });
            }
        }
        events.items.push(Item::Exited { child, name, exit });
        self.remove_if_finished(index);
        true
    }

    fn remove_if_finished(&mut self, index: usize) {
        if self.children.get(index).is_some_and(Slot::finished) {
            self.children.remove(index);
        }
    }

    fn take_wakes(&mut self, events: &mut Events) {
        let mut tokens = self
            .wakes
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        events.items.extend(tokens.drain(..).map(Item::Woken));
    }

    fn slot_mut(&mut self, id: ChildId) -> Option<&mut Slot> {
        self.children
            .get_mut(id.index())
            .filter(|s| s.id.generation() == id.generation() && s.id == id)
    }

    fn slot(&self, id: ChildId) -> Option<&Slot> {
        self.children.get(id.index()).filter(|s| s.id == id)
    }

    /// Queues `data` for the child's stdin (which must be [`Stdio::Capture`](crate::Stdio)) and
    /// writes what the pipe takes now without blocking; the loop writes the rest as the child
    /// reads. Order is preserved.
    ///
    /// # Errors
    /// `BrokenPipe` if the child has closed its stdin or died (this process never gets
    /// `SIGPIPE`), `NotFound` for an unknown child, `InvalidInput` if stdin is not captured or
    /// [`close_stdin`](Mux::close_stdin) was called. A failure found later, by the loop, is
    /// reported as [`Event::StdinFailed`].
    pub fn write_stdin(&mut self, id: ChildId, data: &[u8]) -> io::Result<()> {
        // Disjoint borrows of `poller` and `children`: no reference-count traffic per write.
        let poller = &*self.poller;
        let slot = self
            .children
            .get_mut(id.index())
            .filter(|s| s.id == id)
            .ok_or_else(|| unknown(id))?;
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
        match flush_stdin(stdin, poller, key(index, KIND_STDIN)) {
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
            stdin.writer.deregister(&self.poller);
        }
        self.remove_if_finished(index);
    }

    fn on_stdin_writable(&mut self, index: usize, events: &mut Events) {
        let batch = self.batch;
        let poller = self.poller.clone();
        let Some(slot) = self.children.get_mut(index) else {
            return;
        };
        let Some(stdin) = slot.stdin.as_mut() else {
            return;
        };
        match flush_stdin(stdin, &poller, key(index, KIND_STDIN)) {
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

    /// Asks the child's whole tree to stop: `SIGTERM` to its process group (Windows:
    /// `CTRL_BREAK_EVENT` to its process group). The exit arrives as [`Event::Exited`].
    ///
    /// Calling it for a child that has already finished does nothing.
    ///
    /// # Errors
    /// If the OS refuses the signal (`EPERM`).
    pub fn terminate(&mut self, id: ChildId) -> io::Result<()> {
        self.signal(id, Signal::Terminate)
    }

    /// Kills the child's whole tree: `SIGKILL` to its process group (Windows:
    /// `TerminateJobObject`). The exit arrives as [`Event::Exited`].
    ///
    /// Calling it for a child that has already finished does nothing.
    ///
    /// # Errors
    /// If the OS refuses the signal (`EPERM`).
    pub fn kill(&mut self, id: ChildId) -> io::Result<()> {
        self.signal(id, Signal::Kill)
    }

    pub(crate) fn signal(&mut self, id: ChildId, sig: Signal) -> io::Result<()> {
        let Some(slot) = self.slot_mut(id) else {
            return Ok(());
        };
        let name = slot.name.clone();
        slot.process
            .signal_tree(sig)
            .map_err(|e| context(e, format!("signalling `{name}`")))
    }

    fn signal_all(&mut self, sig: Signal) {
        for (_, slot) in self.children.iter_mut() {
            let _ = slot.process.signal_tree(sig);
        }
    }

    /// Stops everything: [`terminate`](Mux::terminate)s every child, keeps running the loop
    /// for up to `grace` while they exit, then [`kill`](Mux::kill)s what is left and reaps every
    /// child. Every event that happens meanwhile (last lines, exits) is passed to `on_event`.
    /// Afterwards the `Mux` has no children; your sources stay registered.
    ///
    /// # Errors
    /// Only if the OS poller fails.
    pub fn shutdown(
        &mut self,
        grace: Duration,
        mut on_event: impl FnMut(Event<'_>),
    ) -> io::Result<()> {
        let mut events = Events::new();
        self.signal_all(Signal::Terminate);
        let deadline = Instant::now() + grace;
        while self.running > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            self.wait_children(&mut events, deadline - now, &mut on_event)?;
        }
        // Whatever is left (children that ignore SIGTERM, grandchildren holding a pipe open).
        self.signal_all(Signal::Kill);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.children.is_empty() && Instant::now() < deadline {
            self.wait_children(&mut events, Duration::from_millis(50), &mut on_event)?;
        }
        // Still there after SIGKILL: a descendant that left the group (setsid) holds a pipe,
        // or a child is stuck in the kernel. Reap what we can, then let go of the rest.
        for (_, slot) in self.children.iter_mut() {
            if slot.exit.is_none() {
                slot.exit = slot.process.wait().ok();
            }
        }
        self.release_children();
        Ok(())
    }

    /// One `wait` that passes events to `on_event` but leaves `Woken`/`Ready` for later.
    fn wait_children(
        &mut self,
        events: &mut Events,
        timeout: Duration,
        on_event: &mut impl FnMut(Event<'_>),
    ) -> io::Result<()> {
        self.wait(events, Some(timeout))?;
        let mut requeue = Vec::new();
        for ev in events.iter() {
            match ev {
                Event::Woken(t) => requeue.push(t),
                other => on_event(other),
            }
        }
        if !requeue.is_empty() {
            let mut tokens = self
                .wakes
                .tokens
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for t in requeue {
                if !tokens.contains(&t) {
                    tokens.push(t);
                }
            }
        }
        Ok(())
    }

    /// Deregisters and drops every child (they must be reaped or beyond help).
    fn release_children(&mut self) {
        for (_, mut slot) in std::mem::take(&mut self.children) {
            for st in slot.streams.iter_mut().filter_map(Option::take) {
                st.reader.deregister(&self.poller);
            }
            if let Some(stdin) = slot.stdin.take() {
                stdin.writer.deregister(&self.poller);
            }
            if let Some(watch) = slot.watch.take() {
                self.exits.unwatch(&self.poller, watch);
            }
        }
        self.running = 0;
        self.check_now.clear();
        self.backlog.clear();
        self.flush_timers.clear();
    }

    /// A [`Waker`] that makes [`wait`](Mux::wait) report [`Event::Woken`]`(token)`.
    pub fn waker(&self, token: u64) -> Waker {
        Waker {
            shared: self.wakes.clone(),
            token,
        }
    }

    /// Adds one of your own sockets (or, on Unix, any fd) to the loop; readiness arrives as
    /// [`Event::Ready`] (level-triggered: reported at every `wait` while it lasts, so read
    /// until `WouldBlock` or change the interest with [`set_interest`](Mux::set_interest)).
    ///
    /// The `Mux` owns the source until [`remove_source`](Mux::remove_source); reach it with
    /// [`source`](Mux::source) / [`source_mut`](Mux::source_mut).
    ///
    /// # Errors
    /// If the poller refuses the source.
    pub fn add_source<S: Source>(&mut self, source: S, interest: Interest) -> io::Result<SourceId> {
        let index = self.sources.vacant_key();
        let boxed: Box<dyn AnySource> = Box::new(source);
        sys::register_source(
            &self.poller,
            boxed.handle(),
            interest.event(key(index, KIND_SOURCE)),
        )
        .map_err(|e| context(e, "registering a source"))?;
        self.sources.insert(UserSource { source: boxed });
        Ok(SourceId(index))
    }

    /// Changes which readiness is reported for a source.
    ///
    /// # Errors
    /// `NotFound` for an unknown source; otherwise the poller's error.
    pub fn set_interest(&mut self, id: SourceId, interest: Interest) -> io::Result<()> {
        let src = self
            .sources
            .get(id.0)
            .ok_or_else(|| error(io::ErrorKind::NotFound, "no such source"))?;
        sys::modify_source(
            &self.poller,
            src.source.handle(),
            interest.event(key(id.0, KIND_SOURCE)),
        )
    }

    /// The source, if `id` is one and it has type `S`.
    pub fn source<S: Source>(&self, id: SourceId) -> Option<&S> {
        self.sources.get(id.0)?.source.as_any().downcast_ref()
    }

    /// The source, mutably, if `id` is one and it has type `S`.
    pub fn source_mut<S: Source>(&mut self, id: SourceId) -> Option<&mut S> {
        self.sources
            .get_mut(id.0)?
            .source
            .as_any_mut()
            .downcast_mut()
    }

    /// Removes a source from the loop and gives it back.
    ///
    /// # Errors
    /// `NotFound` if `id` is unknown, `InvalidInput` if the source is not an `S` (it then stays).
    pub fn remove_source<S: Source>(&mut self, id: SourceId) -> io::Result<S> {
        let src = self
            .sources
            .get(id.0)
            .ok_or_else(|| error(io::ErrorKind::NotFound, "no such source"))?;
        if !src.source.as_any().is::<S>() {
            return Err(error(
                io::ErrorKind::InvalidInput,
                "the source has another type",
            ));
        }
        let src = self.sources.remove(id.0);
        sys::deregister_source(&self.poller, src.source.handle());
        match src.source.into_any().downcast::<S>() {
            Ok(s) => Ok(*s),
            Err(_) => Err(error(
                io::ErrorKind::InvalidInput,
                "the source has another type",
            )),
        }
    }

    /// The child's process id, while the `Mux` knows the child.
    pub fn pid(&self, id: ChildId) -> Option<u32> {
        self.slot(id).map(|s| s.process.pid())
    }

    /// The child's name, while the `Mux` knows the child.
    pub fn name(&self, id: ChildId) -> Option<&str> {
        self.slot(id).map(|s| &*s.name)
    }

    /// Children not yet exited (reaped).
    pub fn running(&self) -> usize {
        self.running
    }

    /// Children the `Mux` still tracks: running, or exited with a stream still open (a
    /// grandchild holding it).
    pub fn len(&self) -> usize {
        self.children.len()
    }

    /// `true` if the `Mux` tracks no child.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// The ids of the children the `Mux` tracks.
    pub fn children(&self) -> impl Iterator<Item = ChildId> + '_ {
        self.children.iter().map(|(_, s)| s.id)
    }
}

/// How a stream's turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Served {
    /// End of file (or a read error): the stream is closed.
    Eof,
    /// The pipe is empty (a short read or `WouldBlock`).
    Empty,
    /// A budget ran out: there may be more.
    More,
}

/// `true` if the batch has room for a stream's turn: its carried partial line and at least
/// [`MIN_ROOM`] bytes more. The first turn of a batch always has room.
fn has_room(events: &Events, carry: usize) -> bool {
    events.bytes.is_empty() || events.bytes.len() + carry + MIN_ROOM <= WAIT_BUDGET
}

/// Writes what the pipe takes. `Ok(true)`: queue empty and close was requested.
fn flush_stdin(stdin: &mut InStream, poller: &Poller, key: usize) -> io::Result<bool> {
    while !stdin.queue.is_empty() {
        let (front, _) = stdin.queue.as_slices();
        match stdin.writer.write(front) {
            Ok(0) => break,
            Ok(n) => {
                stdin.queue.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    let want = !stdin.queue.is_empty();
    if want != stdin.want_writable {
        stdin.writer.set_writable(poller, key, want)?;
        stdin.want_writable = want;
    }
    Ok(!want && stdin.close_when_empty)
}

fn unknown(id: ChildId) -> io::Error {
    error(
        io::ErrorKind::NotFound,
        format!("no child {id} in this Mux (it may have finished)"),
    )
}

impl Drop for Mux {
    fn drop(&mut self) {
        for (_, slot) in self.children.iter_mut() {
            let _ = slot.process.signal_tree(Signal::Kill);
        }
        for (_, slot) in self.children.iter_mut() {
            if slot.exit.is_none() {
                slot.exit = slot.process.wait().ok();
            }
        }
        self.release_children();
        for (_, src) in std::mem::take(&mut self.sources) {
            sys::deregister_source(&self.poller, src.source.handle());
        }
    }
}

#[allow(dead_code)]
fn _assert_send() {
    fn send<T: Send>() {}
    fn send_sync<T: Send + Sync>() {}
    send::<Mux>();
    send::<Events>();
    send_sync::<Waker>();
}
