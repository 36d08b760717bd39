//! Unix: the `Mux`'s poller fd in tokio's reactor, the `Mux`'s timers in `tokio::time`.

use std::io;
use std::time::{Duration, Instant};

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::event::Events;
use crate::Mux;

/// The `Mux`, registered with the runtime's reactor for readability.
pub(super) struct Inner {
    fd: AsyncFd<Mux>,
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
        // SAFETY: `Mux::as_raw_fd` is its poller's fd, which the `Mux` owns (through an `Arc`
        // that only it and its wakers hold) from `Mux::new` to its drop: open, the same file
        // description and the same number for as long as the `AsyncFd` owns the `Mux`.
        let fd = unsafe { AsyncFd::register_with_interest(mux, Interest::READABLE) }
            .map_err(|e| crate::error::context(e.into(), "registering the Mux with tokio"))?;
        Ok(Inner { fd })
    }

    pub(super) fn into_inner(self) -> Mux {
        self.fd.into_inner()
    }

    pub(super) fn mux(&self) -> &Mux {
        self.fd.get_ref()
    }

    pub(super) fn mux_mut(&mut self) -> &mut Mux {
        self.fd.get_mut()
    }

    pub(super) fn with_mux<R>(&mut self, f: impl FnOnce(&mut Mux) -> R) -> R {
        f(self.fd.get_mut())
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
    pub(super) async fn wait(&mut self, events: &mut Events) -> io::Result<usize> {
        loop {
            let deadline = self.fd.get_ref().next_deadline();
            if deadline.is_some_and(|at| at <= Instant::now()) {
                let n = self.fd.get_mut().wait(events, Some(Duration::ZERO))?;
                if n > 0 {
                    return Ok(n);
                }
                // Work left over that gave no event yet: let other tasks run first.
                ::tokio::task::yield_now().await;
                continue;
            }
            let readable = match deadline {
                None => Some(self.fd.readable_mut().await),
                Some(at) => {
                    let at = ::tokio::time::Instant::from_std(at);
                    ::tokio::time::timeout_at(at, self.fd.readable_mut())
                        .await
                        .ok()
                }
            };
            let Some(guard) = readable else {
                continue; // the deadline passed: a timer of the `Mux` is due
            };
            let mut guard = guard.map_err(|e| crate::error::context(e, "awaiting the Mux's fd"))?;
            if let Ok(result) =
                guard.try_io(|fd| some(fd.get_mut().wait(events, Some(Duration::ZERO))))
            {
                // Nothing left that only this readiness would report: forget it now rather
                // than with one more zero `wait` at the next call (tokio keeps it if an edge
                // came meanwhile: the guard clears only the readiness it saw).
                if guard.get_inner().announces_all() {
                    guard.clear_ready();
                }
                return result;
            }
        }
    }
}
