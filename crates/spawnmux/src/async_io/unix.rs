//! Unix: a duplicate of the `Mux`'s poller fd in async-io's reactor, the `Mux`'s timers as
//! `async_io::Timer`s.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::future;

use crate::event::Events;
use crate::Mux;

/// The `Mux`, and a duplicate of its fd registered with async-io (which wants to own what it
/// registers; the `Mux` stays directly reachable).
pub(super) struct Inner {
    // Declared first: deregistered and closed before the `Mux` is dropped.
    fd: Async<OwnedFd>,
    mux: Mux,
}

impl Inner {
    pub(super) fn new(mux: Mux) -> io::Result<Inner> {
        let context = |e| crate::error::context(e, "registering the Mux with async-io");
        let dup = mux.as_fd().try_clone_to_owned().map_err(context)?;
        // The poller fd needs no O_NONBLOCK (`wait` is given a zero timeout); don't set it.
        let fd = Async::new_nonblocking(dup).map_err(context)?;
        Ok(Inner { fd, mux })
    }

    pub(super) fn into_inner(self) -> Mux {
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

    /// Zero-timeout `Mux::wait`s (which never block), between awaits of the fd's readiness or
    /// the `Mux`'s next deadline. Events only enter `events` in a `wait` that is immediately
    /// returned, so a drop at any await point loses nothing. async-io polls level-triggered
    /// (oneshot, re-armed by each `readable()`): no readiness to clear by hand.
    pub(super) async fn wait(&mut self, events: &mut Events) -> io::Result<usize> {
        loop {
            let n = self.mux.wait(events, Some(Duration::ZERO))?;
            if n > 0 {
                return Ok(n);
            }
            let readable = async {
                self.fd
                    .readable()
                    .await
                    .map_err(|e| crate::error::context(e, "awaiting the Mux's fd"))
            };
            match self.mux.next_deadline() {
                // Work left over (a byte budget ran out): let other tasks run first.
                Some(at) if at <= Instant::now() => future::yield_now().await,
                Some(at) => {
                    let due = async {
                        Timer::at(at).await;
                        Ok(())
                    };
                    future::or(readable, due).await?;
                }
                None => readable.await?,
            }
        }
    }
}
