//! The platform layer. Everything OS-specific lives below this module; the rest of the crate
//! uses only the items listed here, which every backend provides with the same signatures:
//!
//! - `spawn(&Command) -> io::Result<Spawned>`: start the child in its own process group (Unix)
//!   or process group + job object (Windows), with the captured streams' parent ends
//!   non-blocking and owned by the returned [`Spawned`].
//! - `Process`: `pid()`, `try_wait() -> io::Result<Option<Exit>>` (reaps), `wait()` (blocking,
//!   reaps), `signal_tree(Signal)` (the child and everything in its group/job).
//! - `Reader`: a captured output stream. `register(&Poller, key)` / `deregister(&Poller)` in
//!   level-triggered mode, and `read_into(&mut Vec<u8>, max) -> io::Result<usize>` which appends
//!   up to `max` bytes, returns `Ok(0)` at EOF and `WouldBlock` when nothing is ready.
//! - `Writer`: a captured stdin. `register`, `set_writable(&Poller, key, bool)`, `deregister`,
//!   and `write(&[u8])`, which never raises `SIGPIPE` (a dead reader is `BrokenPipe`).
//! - `ExitWatcher`: one per `Mux`; turns "this child exited" into a poller event with the
//!   child's key, with no thread per child (`watch`, `unwatch`, and `on_global_event` for a
//!   shared source such as the SIGCHLD self-pipe, whose events use [`GLOBAL_EXIT_KEY`]).
//! - `Source` (public, re-exported by the crate): what a user's own source must be (`AsFd` /
//!   `AsSocket`); `source_handle` borrows its OS handle for `register_source` /
//!   `modify_source` / `deregister_source`.
//! - `PtyHandle`: a child's pseudo-terminal (`Command::pty`), kept in the child's slot;
//!   `resize(PtySize) -> io::Result<()>`. Its output is an ordinary `Reader` (stdout), its
//!   input an ordinary `Writer` (stdin); a Unix master's `EIO` after the last slave fd closes
//!   is end of file (`Ok(0)`). Windows: also closes the pseudo console once the process has
//!   exited, so that the output pipe reaches end of file.
//! - `group_guard_pid() -> Option<u32>` (Unix, public in `os::unix`): the group guard's pid
//!   once started (Linux; `None` elsewhere), for programs that are child subreapers.
//! - `signal_name(i32) -> Option<&'static str>`: the name of a signal number, for
//!   `Exit`'s `Display` (Unix: the table in `unix/signal.rs`, public in `os::unix` with
//!   `signal_number`; Windows: none).
//! - `OUTER_WAKE_ON_EVERY_EVENT`: whether each new event wakes a poll of the poller's own fd
//!   even while earlier readiness is queued (Linux epoll: yes), which lets an edge-triggered
//!   outer loop forget its readiness after a `wait` that left nothing due (`Mux::announces_all`).
//! - `Waiter` (`wait.rs`, shared): one poll of the poller, `Poller::wait` or a faster way the
//!   backend knows (Linux: `epoll_wait` on the poller's fd when no timer is needed).
//!
//! Readiness is a hint everywhere: spurious events are harmless because every read and write
//! is non-blocking and `try_wait` is checked in a loop.

/// Poller key reserved for the exit watcher's shared source (the SIGCHLD pipe on Unix).
pub(crate) const GLOBAL_EXIT_KEY: usize = usize::MAX - 1; // usize::MAX is polling's own

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;
#[cfg(unix)]
pub use unix::{group_guard_pid, signal_name, signal_number, Source};

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;
#[cfg(windows)]
pub use windows::{Source, Transport};

mod wait;
pub(crate) use wait::{Waiter, POLL_CAPACITY};

#[cfg(not(any(unix, windows)))]
compile_error!("spawnmux supports Unix (Linux, macOS, BSD) and Windows");

/// A freshly spawned child and the parent's ends of its captured streams (what `spawn` returns
/// on every platform).
#[derive(Debug)]
pub(crate) struct Spawned {
    pub(crate) process: Process,
    pub(crate) stdin: Option<Writer>,
    pub(crate) stdout: Option<Reader>,
    pub(crate) stderr: Option<Reader>,
    /// The pseudo-terminal, for a command with `pty`/`pty_stdout` (its output is `stdout`, its
    /// input `stdin`).
    pub(crate) pty: Option<PtyHandle>,
}

/// The signals the portable API can send to a child's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Ask politely: SIGTERM (Windows: CTRL_BREAK_EVENT).
    Terminate,
    /// Force: SIGKILL (Windows: TerminateJobObject).
    Kill,
    /// A signal by number (Unix only, through `os::unix::MuxExt`).
    #[cfg_attr(not(unix), allow(dead_code))]
    Raw(i32),
}
