//! Unix: the `Mux`'s poller fd in tokio's reactor, the `Mux`'s timers in `tokio::time`.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::event::Events;
use crate::Mux;

/// The `Mux`, and its poller's fd in the runtime's reactor (for readability) whenever the
/// `Mux` may have to wait.
pub(super) struct Inner {
    /// Declared before `mux`, so it is dropped (deregistered) while the fd is still open.
    fd: Option<AsyncFd<PollerFd>>,
    mux: Mux,
}

/// The `Mux`'s poller fd, by number, for the reactor (the `Mux` itself stays with `Inner`).
struct PollerFd(RawFd);

impl AsRawFd for PollerFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

/// `Ok(n)` for events, `WouldBlock` for none (so that `try_io` clears the readiness).
fn some(n: io::Result<usize>) -> io::Result<usize> {
    match n {
        Ok(0) => Err(io::ErrorKind::WouldBlock.into()),
        other => other,
    }
}

impl Inner {
    pub(super) fn new(mux: Mux) -> io::Result<Inner> {
        Ok(Inner {
            fd: Some(register(&mux)?),
            mux,
        })
    }

    pub(super) fn into_inner(mut self) -> Mux {
        self.fd = None;
        self.mux
    }

    pub(super) fn mux(&self) -> &Mux {
        &self.mux
    }

    pub(super) fn mux_mut(&mut self) -> &mut Mux {
        &mut self.mux
    }

    pub(super) fn with_mux<R>(&mut self, f: impl FnOnce(&mut Mux) -> R) -> R {
        f(&mut self.mux)
    }

    /// Zero-timeout `Mux::wait`s (which never block), after the fd's readiness or the `Mux`'s
    /// next deadline. Events only enter `events` in a `wait` that is immediately returned, so
    /// a drop at any await point loses nothing.
    ///
    /// tokio's readiness is edge-triggered and cached: it is cleared (`try_io` on
    /// `WouldBlock`) only after a zero-timeout `wait` found nothing, and tokio keeps it if new
    /// readiness came meanwhile; clearing it earlier could miss a wake-up and hang. Work that
    /// no fd announces (a backlog left by a byte budget, a due timer) is in `next_deadline`,
    /// so a `wait` is only made when one of the two says there is something: one zero `wait`
    /// per batch. After a batch the readiness is forgotten at once when the `Mux` says every
    /// readiness it holds will be announced again (`Mux::announces_all`: Linux, no user
    /// source, nothing due); otherwise one more zero `wait` finds nothing and clears it. (A
    /// first version made three zero `wait`s per batch: line-buffered children paid ~35 % more
    /// CPU through the adapter than through the native `Mux`.)
    ///
    /// A zero-timeout `wait` is made first, before tokio's reactor is asked (every `wait`
    /// returns events, so the last one did), and once that finds events the fd leaves the
    /// reactor until a `wait` finds none: a busy stream then costs what it costs with the
    /// native `Mux`. Registered, the `Mux`'s epoll fd is an epoll in tokio's epoll, and the
    /// kernel runs a second wake-up chain (the outer epoll's callback) on *every* write of
    /// every child, whether anyone sleeps or not: line-buffered children went through the
    /// adapter ~20 % slower than through the native `Mux`, the children using the CPU. A
    /// request/response exchange never finds a second batch at once, so it keeps the
    /// registration and pays one zero `wait` per batch. The shortcut spends tokio's
    /// cooperative budget like tokio's own I/O: a `Mux` that always has events still lets the
    /// other tasks of its thread run.
    pub(super) async fn wait(&mut self, events: &mut Events) -> io::Result<usize> {
        {
            // (The budget's guard is not `Send`: it must be gone before the next await.)
            let budget = std::future::poll_fn(::tokio::task::coop::poll_proceed).await;
            let n = self.mux.wait(events, Some(Duration::ZERO))?;
            if n > 0 {
                budget.made_progress();
                self.fd = None;
                return Ok(n);
            }
        }
        let fd = match &mut self.fd {
            Some(fd) => fd,
            none => none.insert(register(&self.mux)?),
        };
        wait_ready(fd, &mut self.mux, events).await
    }
}

/// Puts the `Mux`'s poller fd in the current runtime's reactor.
fn register(mux: &Mux) -> io::Result<AsyncFd<PollerFd>> {
    // SAFETY: the fd is the `Mux`'s poller, which the `Mux` owns (through an `Arc` that only
    // it and its wakers hold) from `Mux::new` to its drop: open, the same file description and
    // the same number for as long as the `AsyncFd` lives, which `Inner` drops before the `Mux`
    // (field order; `into_inner` and `wait` drop it by hand).
    unsafe { AsyncFd::register_with_interest(PollerFd(mux.as_raw_fd()), Interest::READABLE) }
        .map_err(|e| crate::error::context(e.into(), "registering the Mux with tokio"))
}

/// [`Inner::wait`] once the `Mux` has no event at hand: awaits the fd's readiness or the
/// `Mux`'s next deadline.
async fn wait_ready(
    fd: &mut AsyncFd<PollerFd>,
    mux: &mut Mux,
    events: &mut Events,
) -> io::Result<usize> {
    loop {
        let deadline = mux.next_deadline();
        if deadline.is_some_and(|at| at <= Instant::now()) {
            let n = mux.wait(events, Some(Duration::ZERO))?;
            if n > 0 {
                return Ok(n);
            }
            // Work left over that gave no event yet: let other tasks run first.
            ::tokio::task::yield_now().await;
            continue;
        }
        let readable = match deadline {
            None => Some(fd.readable_mut().await),
            Some(at) => {
                let at = ::tokio::time::Instant::from_std(at);
                ::tokio::time::timeout_at(at, fd.readable_mut()).await.ok()
            }
        };
        let Some(guard) = readable else {
            continue; // the deadline passed: a timer of the `Mux` is due
        };
        let mut guard = guard.map_err(|e| crate::error::context(e, "awaiting the Mux's fd"))?;
        if let Ok(result) = guard.try_io(|_| some(mux.wait(events, Some(Duration::ZERO)))) {
            // Nothing left that only this readiness would report: forget it now rather
            // than with one more zero `wait` at the next call (tokio keeps it if an edge
            // came meanwhile: the guard clears only the readiness it saw).
            if mux.announces_all() {
                guard.clear_ready();
            }
            return result;
        }
    }
}
