//! Windows backend: every captured stream is pollable in the one IOCP-backed `polling` loop,
//! with no thread of ours per stream or per child.
//!
//! # Two transports (chosen per command, `os::windows::CommandExt::transport`)
//! - **Pipe** (default, works with every program, Node.js included): a named pipe per stream.
//!   The parent's end is overlapped; one `ReadFile` is always pending on it, and the
//!   `OVERLAPPED`'s manual-reset event is registered with polling as a *waitable*
//!   (`PollerIocpExt::add_waitable`, level-triggered). A completion signals the event, the loop
//!   collects the bytes (`GetOverlappedResult`) and immediately issues the next read, which
//!   resets the event. The child's end is an ordinary synchronous handle, which is what C
//!   runtimes and libuv expect. Cost: one event handle and one 64 KiB buffer per stream;
//!   polling waits on events through the OS thread pool (`RegisterWaitForSingleObject`: one
//!   pool thread per 63 waits), not through threads of ours.
//! - **Socket** (the seed article's technique): a loopback TCP pair made like a `socketpair`.
//!   The listener is made with `WSASocketW` *without* `WSA_FLAG_OVERLAPPED`, so the accepted
//!   socket (the child's end) is non-overlapped: only such a socket works as a standard handle
//!   for ordinary C runtimes (Wine also accepts an overlapped one; real Windows may not). The
//!   parent's end is a normal `TcpStream` polled by AFD like any socket. Node.js rejects a
//!   socket as stdout (libuv sees `FILE_TYPE_PIPE` and calls named-pipe functions on it), which
//!   is why the pipe is the default.
//!
//! # Processes
//! `CreateProcessW` with `STARTUPINFOEXW` and `PROC_THREAD_ATTRIBUTE_HANDLE_LIST` naming only
//! the child's own three standard handles, so no child ever inherits a sibling's pipe (which
//! would delay that sibling's EOF until the other child exits). Each child is created suspended
//! in a new process group, put in a job object of its own (`KILL_ON_JOB_CLOSE` when
//! `die_with_parent`), then resumed, so its whole tree is in the job from the first instruction.
//! Exit: the process handle is a waitable (one-shot). Terminate: `CTRL_BREAK_EVENT` to the
//! child's process group (a child on a pseudo console: Ctrl+C typed into it, see `pty.rs`);
//! kill: `TerminateJobObject` (the tree).
//!
//! # Pseudo consoles
//! `Command::pty` runs the child on a ConPTY whose output and input are pipes of the pipe
//! transport: see `pty.rs`.

mod exit;
mod path;
mod pipe;
mod pty;
mod socket;
mod spawn;

pub(crate) use exit::{ExitWatcher, Watch};
pub(crate) use pty::PtyHandle;
pub(crate) use spawn::{spawn, Process};

use std::io;
use std::os::windows::io::{AsRawSocket, AsSocket, BorrowedSocket};

use polling::{Event, PollMode, Poller};

/// How captured streams reach a Windows child; see `os::windows::Transport` (re-exported there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Transport {
    /// A named pipe per stream (default): every Windows program accepts it.
    #[default]
    Pipe,
    /// A loopback socket pair per stream (the seed article's technique).
    Socket,
}

/// The options of a `Command` that only Windows has.
#[derive(Debug, Default)]
pub(crate) struct CommandOptions {
    /// How captured streams are connected (`os::windows::CommandExt::transport`).
    pub(crate) transport: Transport,
}

/// The read end of a captured stdout/stderr.
#[derive(Debug)]
pub(crate) enum Reader {
    Pipe(pipe::PipeReader),
    Socket(socket::SocketReader),
    /// A pseudo console's output (a pipe that closes the console at the child's exit).
    Pty(pty::PtyReader),
}

impl Reader {
    pub(crate) fn register(&mut self, poller: &Poller, key: usize) -> io::Result<()> {
        match self {
            Reader::Pipe(r) => r.register(poller, key),
            Reader::Socket(r) => r.register(poller, key),
            Reader::Pty(r) => r.register(poller, key),
        }
    }

    pub(crate) fn deregister(&self, poller: &Poller) {
        match self {
            Reader::Pipe(r) => r.deregister(poller),
            Reader::Socket(r) => r.deregister(poller),
            Reader::Pty(r) => r.deregister(poller),
        }
    }

    /// `true`: a short read took what had arrived (an overlapped read completes with what is
    /// there; the next one is issued at once and reports more by its event).
    #[inline]
    pub(crate) fn short_read_means_empty(&self) -> bool {
        true
    }

    /// Bytes one read should ask for: the pipe's buffer (and the socket's read chunk).
    #[inline]
    pub(crate) fn read_size(&self) -> usize {
        pipe::BUF
    }

    /// Pipes do not grow on Windows (see ARCHITECTURE.md, "Pipe sizes").
    #[inline]
    pub(crate) fn after_read(&mut self, _asked: usize, _got: usize) {}

    pub(crate) fn read_into(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        match self {
            Reader::Pipe(r) => r.read_into(buf, max),
            Reader::Socket(r) => r.read_into(buf, max),
            Reader::Pty(r) => r.read_into(buf, max),
        }
    }

    /// After the child's exit, a read returned `WouldBlock`: wait for output still in flight.
    /// `true` if reading again may make progress.
    pub(crate) fn settle(&mut self, deadline: std::time::Instant) -> bool {
        match self {
            Reader::Pipe(r) => r.settle(deadline),
            Reader::Socket(_) => false,
            Reader::Pty(r) => r.settle(deadline),
        }
    }
}

/// The write end of a captured stdin.
#[derive(Debug)]
pub(crate) enum Writer {
    Pipe(pipe::PipeWriter),
    Socket(socket::SocketWriter),
}

impl Writer {
    pub(crate) fn register(&self, poller: &Poller, key: usize) -> io::Result<()> {
        match self {
            Writer::Pipe(_) => Ok(()),
            Writer::Socket(w) => w.register(poller, key),
        }
    }

    pub(crate) fn set_writable(&mut self, poller: &Poller, key: usize, on: bool) -> io::Result<()> {
        match self {
            Writer::Pipe(w) => w.set_writable(poller, key, on),
            Writer::Socket(w) => w.set_writable(poller, key, on),
        }
    }

    pub(crate) fn deregister(&self, poller: &Poller) {
        match self {
            Writer::Pipe(w) => w.deregister(poller),
            Writer::Socket(w) => w.deregister(poller),
        }
    }

    /// Writes the front of `data`. `Ok(n)` only for bytes the child's pipe has accepted; while
    /// an overlapped write is in flight, `WouldBlock` (call again with the same front bytes).
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Writer::Pipe(w) => w.write(data),
            Writer::Socket(w) => w.write(data),
        }
    }
}

/// The borrowed OS handle of a user's source.
pub(crate) type Handle<'a> = BorrowedSocket<'a>;

/// An IOCP has no fd an outer loop polls (the adapters use a thread, `bridge.rs`).
pub(crate) const OUTER_WAKE_ON_EVERY_EVENT: bool = false;

/// Something you own that the [`Mux`](crate::Mux) can poll: on Unix anything
/// [`AsFd`](std::os::fd::AsFd) (a `TcpStream`, `UnixStream`, `UdpSocket`, a pipe), on Windows
/// anything `AsSocket`.
///
/// Set it non-blocking yourself if you read it until `WouldBlock`.
pub trait Source: AsSocket + Send + 'static {}
impl<T: AsSocket + Send + 'static> Source for T {}

/// The OS handle of a user's source.
pub(crate) fn source_handle<S: Source>(source: &S) -> Handle<'_> {
    source.as_socket()
}

/// Registers a socket level-triggered. The caller owns it and deregisters it before closing.
pub(crate) fn register_socket(
    poller: &Poller,
    s: BorrowedSocket<'_>,
    interest: Event,
) -> io::Result<()> {
    // SAFETY: every caller (socket transport, Mux for user sources) owns the socket and
    // deletes it from the poller before dropping it.
    unsafe { poller.add_with_mode(s.as_raw_socket(), interest, PollMode::Level) }
}

/// Registers a user's source (owned by the `Mux` until it deregisters it).
pub(crate) fn register_source(poller: &Poller, s: Handle<'_>, interest: Event) -> io::Result<()> {
    register_socket(poller, s, interest)
}

/// Changes a user's source's interest.
pub(crate) fn modify_source(poller: &Poller, s: Handle<'_>, interest: Event) -> io::Result<()> {
    poller.modify_with_mode(s, interest, PollMode::Level)
}

/// Removes a user's source.
pub(crate) fn deregister_source(poller: &Poller, s: Handle<'_>) {
    let _ = poller.delete(s);
}

/// No signal has a name here: an `Exit::Signal` only comes from Unix.
pub(crate) fn signal_name(_sig: i32) -> Option<&'static str> {
    None
}

/// A Win32 error as an `io::Error` whose message names the operation.
pub(crate) fn last_error(what: &str) -> io::Error {
    let e = io::Error::last_os_error();
    crate::error::context(e, what)
}

/// Closes `handle` later, not now: it was registered with polling as a waitable, and polling
/// unregisters waits without waiting (`UnregisterWait`), so the OS thread pool may still be
/// waiting on it for a moment. Closing a handle under a pending wait is undefined behaviour
/// (Windows documents it so); Wine's wait thread then spins and stops serving every other wait
/// in the process (measured here: all later exits and output went unreported). Handles are
/// kept for a grace period, long enough for the unregistration to have finished, so a handle
/// value is also never reused while a stale wait might still refer to it.
pub(crate) fn close_later(handle: std::os::windows::io::OwnedHandle) {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};
    const GRACE: Duration = Duration::from_secs(2);
    static GRAVEYARD: Mutex<VecDeque<(Instant, std::os::windows::io::OwnedHandle)>> =
        Mutex::new(VecDeque::new());
    let now = Instant::now();
    let mut graveyard = GRAVEYARD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    while graveyard
        .front()
        .is_some_and(|(at, _)| now.duration_since(*at) >= GRACE)
    {
        graveyard.pop_front();
    }
    graveyard.push_back((now, handle));
}

/// Security attributes that make a new handle inheritable (default security descriptor).
pub(crate) fn inheritable() -> windows_sys::Win32::Security::SECURITY_ATTRIBUTES {
    windows_sys::Win32::Security::SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<windows_sys::Win32::Security::SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: std::ptr::null_mut(),
        bInheritHandle: windows_sys::Win32::Foundation::TRUE,
    }
}

/// UTF-16 with a terminating NUL, refusing interior NULs.
pub(crate) fn wide_nul(s: &std::ffi::OsStr, what: &str) -> io::Result<Vec<u16>> {
    use std::os::windows::ffi::OsStrExt;
    let mut v: Vec<u16> = s.encode_wide().collect();
    if v.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} contains a NUL character"),
        ));
    }
    v.push(0);
    Ok(v)
}
