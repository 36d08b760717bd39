//! Unix backend: pipes made by `std::process::Command` (CLOEXEC, posix_spawn where possible),
//! made non-blocking on the parent's side and polled level-triggered; one process group per
//! child; exits from pidfd (Linux), kqueue `EVFILT_PROC` (macOS, BSD) or a SIGCHLD self-pipe.
//!
//! Cost per child: two or three pipe fds and, on Linux, one pidfd. No threads: the only thread
//! spawnmux may start is the process-wide spawner used for `PR_SET_PDEATHSIG` when the group
//! guard cannot be started (see `spawn.rs`); the only helper process is the process-wide group
//! guard (Linux, `guard.rs`).

#[cfg(any(target_os = "linux", target_os = "android"))]
mod epoll;
mod exit;
#[cfg(any(target_os = "linux", target_os = "android"))]
mod guard;
mod pipe;
mod pty;
mod signal;
mod spawn;

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use epoll::{DirectWait, Waited};
pub(crate) use exit::{ExitWatcher, Watch};
pub(crate) use pipe::{Reader, Writer};
pub(crate) use pty::PtyHandle;
pub use signal::{signal_name, signal_number};
pub(crate) use spawn::{spawn, Process};

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// The pid of this process's group guard, once the first `die_with_parent` child started it
/// (Linux; elsewhere there is none): a helper process that kills the process groups of such
/// children if this process dies, and exits by itself when this process does.
///
/// It is not this process's child, unless this process is a child subreaper
/// (`PR_SET_CHILD_SUBREAPER`, as `spawnmux run` is), which then adopts it: such a program
/// should leave it out when it stops the descendants it has left. Its name
/// (`spawnmux-guard`) is set by the guard itself and may not be set yet; the pid is known as
/// soon as it exists.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn group_guard_pid() -> Option<u32> {
    guard::guard_pid()
}

/// There is no group guard on this system (see the Linux version).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub fn group_guard_pid() -> Option<u32> {
    None
}

use polling::{Event, PollMode, Poller};

/// The options of a `Command` that only Unix has: none so far (every captured stream is a
/// pipe; `os::windows::CommandExt` is the other backend's).
#[derive(Debug, Default)]
pub(crate) struct CommandOptions {}

/// The borrowed OS handle of a user's source.
pub(crate) type Handle<'a> = BorrowedFd<'a>;

/// `true` if every new event of the poller wakes a poll of the poller's own fd, even while
/// earlier readiness is still queued in it. Linux: epoll's callback wakes its `poll` waiters
/// for every event, queued or not (`ep_poll_callback`). Elsewhere (kqueue) not established:
/// `false`, so adapters keep the readiness until a poll finds nothing.
pub(crate) const OUTER_WAKE_ON_EVERY_EVENT: bool =
    cfg!(any(target_os = "linux", target_os = "android"));

/// Something you own that the [`Mux`](crate::Mux) can poll: on Unix anything
/// [`AsFd`](std::os::fd::AsFd) (a `TcpStream`, `UnixStream`, `UdpSocket`, a pipe), on Windows
/// anything `AsSocket`.
///
/// Set it non-blocking yourself if you read it until `WouldBlock`.
pub trait Source: AsFd + Send + 'static {}
impl<T: AsFd + Send + 'static> Source for T {}

/// The OS handle of a user's source.
pub(crate) fn source_handle<S: Source>(source: &S) -> Handle<'_> {
    source.as_fd()
}

/// Registers `fd` level-triggered with `interest`.
///
/// The caller must call [`deregister`] before `fd` is closed.
pub(crate) fn register(poller: &Poller, fd: BorrowedFd<'_>, interest: Event) -> io::Result<()> {
    // SAFETY: every caller (Reader, Writer, ExitWatcher, Mux for user sources) owns the fd and
    // deletes it from the poller before dropping it; see the `Drop`/`deregister` paths there.
    unsafe { poller.add_with_mode(fd.as_raw_fd(), interest, PollMode::Level) }
}

/// Changes the interest of a registered fd.
pub(crate) fn modify(poller: &Poller, fd: BorrowedFd<'_>, interest: Event) -> io::Result<()> {
    poller.modify_with_mode(fd, interest, PollMode::Level)
}

/// Removes a registered fd (errors ignored: the fd may already be gone from the poller).
pub(crate) fn deregister(poller: &Poller, fd: BorrowedFd<'_>) {
    let _ = poller.delete(fd);
}

/// Registers a user's source (owned by the `Mux` until it deregisters it).
pub(crate) fn register_source(poller: &Poller, fd: Handle<'_>, interest: Event) -> io::Result<()> {
    register(poller, fd, interest)
}

/// Changes a user's source's interest.
pub(crate) fn modify_source(poller: &Poller, fd: Handle<'_>, interest: Event) -> io::Result<()> {
    modify(poller, fd, interest)
}

/// Removes a user's source.
pub(crate) fn deregister_source(poller: &Poller, fd: Handle<'_>) {
    deregister(poller, fd)
}

/// Every Unix whose poller is an fd: Linux, Android, macOS, iOS, the BSDs, illumos, Solaris
/// (one `cfg` for both impls).
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "illumos",
    target_os = "solaris",
    spawnmux_bsd
))]
mod poller_fd {
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

    /// The `Mux`'s poller fd (epoll, kqueue or event port), readable whenever
    /// [`Mux::wait`](crate::Mux::wait) has readiness to handle: what lets an outer event loop
    /// (tokio, async-io, mio) drive a `Mux`. The crate documentation states the contract.
    ///
    /// # Portability
    /// Every Unix whose poller is an fd: Linux, Android, macOS, iOS, the BSDs, illumos, Solaris.
    impl AsFd for crate::Mux {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.poller().as_fd()
        }
    }

    /// The raw form of [`AsFd for Mux`](crate::Mux#impl-AsFd-for-Mux).
    impl AsRawFd for crate::Mux {
        fn as_raw_fd(&self) -> RawFd {
            self.poller().as_raw_fd()
        }
    }
}
