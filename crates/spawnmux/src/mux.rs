//! [`Mux`]: the one event loop for children, wake-ups and your own sources.
//!
//! This file holds the loop ([`Mux::wait`]: poll, dispatch, serve) and the child-facing API;
//! each thing the loop drives has a file of its own below `mux/`:
//!
//! - `key.rs`: poller keys (slab index and kind);
//! - `child.rs`: one child's record (`Slot`) and its lookup by [`ChildId`];
//! - `output.rs`: the backlog of ready streams, reads within the byte budgets, framing into
//!   [`Event::Output`](crate::Event::Output), partial-line flushes;
//! - `exit.rs`: reaping, and the drain of a child's streams before
//!   [`Event::Exited`](crate::Event::Exited);
//! - `stdin.rs`: the stdin queue;
//! - `stop.rs`: signals, [`Mux::shutdown`], and the kill-reap-release path of `shutdown` and
//!   `Drop`;
//! - `source.rs`: [`Interest`] and your own [`Source`](crate::Source)s;
//! - `waker.rs`: [`Waker`].
//!
//! The loop here calls the handlers in `output.rs`, `exit.rs`, `stdin.rs`, `source.rs` and
//! `waker.rs`; `output.rs` and `exit.rs` call each other (an exit waiting in the backlog is
//! drained by reading its streams); `stop.rs` runs the loop (`shutdown`); all use `key.rs` and
//! `child.rs`.

mod child;
mod exit;
mod key;
mod output;
mod source;
mod stdin;
mod stop;
mod waker;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polling::Poller;
use slab::Slab;

use self::child::Slot;
use self::key::{key, KIND_EXIT, KIND_SOURCE, KIND_STDERR, KIND_STDIN, KIND_STDOUT};
use self::source::AnySource;
pub use self::source::Interest;
use self::stdin::InStream;
pub use self::waker::Waker;
use self::waker::Wakes;
use crate::command::Command;
use crate::error::{context, error};
use crate::event::{ChildId, Events};
use crate::pty::PtySize;
use crate::sys::{self, Signal, GLOBAL_EXIT_KEY};

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
    sources: Slab<Box<dyn AnySource>>,
    exits: sys::ExitWatcher,
    wakes: Arc<Wakes>,
    flush_timers: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Children to `try_wait` at the next `wait` (exit watch by SIGCHLD only).
    check_now: Vec<usize>,
    /// Output streams found ready and exits to drain (keys), not yet served because a `wait`'s
    /// byte budget was spent: served first, oldest first, by the next `wait`.
    backlog: VecDeque<usize>,
    /// The last poll filled its buffer: more may be ready (`next_deadline` says call again).
    poll_full: bool,
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
            wakes: Arc::new(Wakes::new(poller.clone())),
            poller,
            waiter: sys::Waiter::new(),
            scratch: Vec::new(),
            children: Slab::new(),
            sources: Slab::new(),
            exits,
            flush_timers: BinaryHeap::new(),
            check_now: Vec::new(),
            backlog: VecDeque::new(),
            poll_full: false,
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
        let mut streams = [spawned.stdout, spawned.stderr];
        let watch = match self.register_child(index, &mut process, &mut streams) {
            Ok(watch) => watch,
            Err(e) => {
                for r in streams.iter().flatten() {
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
        let stdin = spawned
            .stdin
            .and_then(|writer| InStream::register(writer, &self.poller, index));
        if watch.is_global() {
            self.check_now.push(index);
        }
        let slot = Slot::new(id, cmd, process, watch, streams, stdin, spawned.pty);
        self.children.insert(slot);
        self.running += 1;
        Ok(id)
    }

    fn register_child(
        &mut self,
        index: usize,
        process: &mut sys::Process,
        [stdout, stderr]: &mut [Option<sys::Reader>; 2],
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
        // No clock read when there is nothing to time: neither for the common `wait(None)` nor
        // for the outer loops' `wait(Some(ZERO))`, which makes exactly one round.
        let once = timeout == Some(Duration::ZERO);
        let deadline = match timeout {
            Some(t) if !once => Instant::now().checked_add(t),
            _ => None,
        };
        loop {
            self.round += 1;
            self.check_pending_exits();
            let poll_timeout = if once || !events.is_empty() || !self.backlog.is_empty() {
                Some(Duration::ZERO)
            } else {
                let mut poll_until = deadline;
                if let Some(Reverse((t, _))) = self.flush_timers.peek() {
                    poll_until = Some(poll_until.map_or(*t, |d| d.min(*t)));
                }
                poll_until.map(|t| t.saturating_duration_since(Instant::now()))
            };
            let mut ready = std::mem::take(&mut self.scratch);
            ready.clear();
            self.waiter
                .wait(&self.poller, &mut ready, poll_timeout)
                .map_err(|e| context(e, "waiting for events"))?;
            self.poll_full = ready.len() >= sys::POLL_CAPACITY;
            for ev in &ready {
                self.dispatch(*ev, events);
            }
            self.scratch = ready;
            self.serve_backlog(events);
            self.wakes.take(events);
            self.flush_due(events);
            if once || !events.is_empty() || deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(events.len());
            }
        }
    }

    /// One round of [`wait`](Mux::wait) on readiness someone else polled (the async
    /// adapters' thread on Windows, which owns the only blocking poll): handles `ready`, then
    /// what the `Mux` holds. Never polls; never blocks (but for Windows' bounded exit settle).
    #[cfg_attr(not(windows), allow(dead_code))]
    pub(crate) fn wait_given(&mut self, ready: &[polling::Event], events: &mut Events) -> usize {
        events.clear();
        self.batch += 1;
        self.round += 1;
        self.check_pending_exits();
        for ev in ready {
            self.dispatch(*ev, events);
        }
        self.serve_backlog(events);
        self.wakes.take(events);
        self.flush_due(events);
        events.len()
    }

    /// The poller, shared (for the thread that polls it on behalf of an async adapter).
    #[cfg_attr(not(windows), allow(dead_code))]
    pub(crate) fn shared_poller(&self) -> Arc<Poller> {
        self.poller.clone()
    }

    /// Hands one readiness to its handler. Output streams and exits only join the backlog
    /// here; `serve_backlog` reads them within the byte budgets.
    fn dispatch(&mut self, ev: polling::Event, events: &mut Events) {
        if ev.key == GLOBAL_EXIT_KEY {
            self.on_global_exit();
            return;
        }
        let (index, kind) = key::split(ev.key);
        match kind {
            KIND_STDOUT | KIND_STDERR => self.enqueue(index, kind),
            KIND_STDIN => self.on_stdin_writable(index, events),
            KIND_EXIT => self.on_exit(index),
            KIND_SOURCE => self.on_source_ready(index, ev, events),
            _ => {}
        }
    }

    /// The latest instant by which [`wait`](Mux::wait) must be called again even if the
    /// poller's fd (see [`AsFd for Mux`](#impl-AsFd-for-Mux)) does not become readable: the
    /// earliest partial-line flush timer ([`Command::flush_partial_after`]), or now if the
    /// `Mux` already holds work (streams a byte budget left unserved, an exit to check or
    /// drain, a wake-up recorded without a notification, a poll that filled its buffer). `None`: only readiness matters.
    ///
    /// This and the fd are what an outer event loop needs to drive the `Mux`: call
    /// `wait(&mut events, Some(Duration::ZERO))` (which never blocks) when the fd is readable or
    /// the deadline has passed. The crate documentation shows such a loop.
    pub fn next_deadline(&self) -> Option<Instant> {
        let more = self.poll_full || !self.backlog.is_empty() || !self.check_now.is_empty();
        if more || self.wakes.pending() {
            return Some(Instant::now());
        }
        self.flush_timers.peek().map(|Reverse((at, _))| *at)
    }

    /// `true` if all readiness the poller still holds after this `wait` will be announced by
    /// a new event, so an outer loop whose registration of the `Mux`'s fd is edge-triggered
    /// (tokio) may forget the readiness it had: no user source (their level-triggered
    /// readiness may persist untouched, as the user decides how much to read), nothing due
    /// now (`next_deadline`), and a poller whose new events always wake a poll of its own fd
    /// (`sys::OUTER_WAKE_ON_EVERY_EVENT`). Every stream was read until it was empty or put in
    /// the backlog (which is "due now").
    // Used by the tokio adapter's Unix side only.
    #[cfg_attr(
        not(all(unix, feature = "tokio", not(spawnmux_force_bridge))),
        allow(dead_code)
    )]
    pub(crate) fn announces_all(&self) -> bool {
        sys::OUTER_WAKE_ON_EVERY_EVENT
            && self.sources.is_empty()
            && self.next_deadline().is_none_or(|at| at > Instant::now())
    }

    /// The poller, for the platform layer (the fd an outer loop polls).
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) fn poller(&self) -> &Poller {
        &self.poller
    }

    /// The child's process id, while the `Mux` knows the child.
    pub fn pid(&self, id: ChildId) -> Option<u32> {
        self.slot(id).map(|s| s.process.pid())
    }

    /// The child's name, while the `Mux` knows the child.
    pub fn name(&self, id: ChildId) -> Option<&str> {
        self.slot(id).map(|s| &*s.name)
    }

    /// Changes the window size of a child's pseudo-terminal ([`Command::pty`]); the child gets
    /// `SIGWINCH` (Unix) and reads the new size, as when you resize a terminal window.
    ///
    /// # Errors
    /// `InvalidInput` naming the child if it runs on no terminal, `NotFound` if the `Mux` no
    /// longer knows it; otherwise the OS's error (the child's name in the message).
    pub fn resize(&mut self, id: ChildId, size: PtySize) -> io::Result<()> {
        let slot = self.slot(id).ok_or_else(|| unknown(id))?;
        let Some(pty) = &slot.pty else {
            return Err(error(
                io::ErrorKind::InvalidInput,
                format!(
                    "resizing `{}` ({id}): it runs on no terminal (see Command::pty)",
                    slot.name
                ),
            ));
        };
        pty.resize(size)
            .map_err(|e| context(e, format!("resizing the terminal of `{}`", slot.name)))
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

fn unknown(id: ChildId) -> io::Error {
    error(
        io::ErrorKind::NotFound,
        format!("no child {id} in this Mux (it may have finished)"),
    )
}

// What the crate promises about threads, checked at compile time.
const _: () = {
    const fn send<T: Send>() {}
    const fn send_sync<T: Send + Sync>() {}
    send::<Mux>();
    send::<Events>();
    send_sync::<Waker>();
};
