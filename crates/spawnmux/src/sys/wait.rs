//! One poll of the `Mux`'s poller: `Poller::wait`, or on Linux, for a wait that needs no timer,
//! `epoll_wait` directly on the poller's own fd (`unix/epoll.rs` says why and when).

use std::io;
use std::time::Duration;

use polling::{Event, Events, Poller};

/// The most readiness one poll reports (polling's `Events::new()` and the direct wait's buffer
/// hold 1024): a poll that fills it may have left more ready, which an outer loop's
/// edge-triggered wait on the poller's fd would not hear about again.
pub(crate) const POLL_CAPACITY: usize = 1024;

/// Waits for readiness on a `Poller`, keeping its buffers from one wait to the next.
pub(crate) struct Waiter {
    events: Events,
    /// Waits without a timer bypass `polling`'s per-wait timerfd and notifier calls.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    direct: Option<super::DirectWait>,
}

impl Waiter {
    pub(crate) fn new() -> Waiter {
        Waiter {
            events: Events::new(),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            direct: super::DirectWait::new(),
        }
    }

    /// Waits up to `timeout` (`None`: until something is ready) and appends what is ready to
    /// `ready`.
    // Inlined into `Mux::wait`, where this code was before it moved behind `sys`.
    #[inline]
    pub(crate) fn wait(
        &mut self,
        poller: &Poller,
        ready: &mut Vec<Event>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(direct) = &mut self.direct {
            // Only waits that need no timer: `polling` keeps sub-millisecond timeouts.
            if timeout.is_none_or(|t| t.is_zero()) {
                match direct.wait(poller, ready, timeout.is_none())? {
                    super::Waited::Done => return Ok(()),
                    // A wake-up (or polling's timer): let polling clear and re-arm its own fds;
                    // it reports everything else that is ready too (level-triggered).
                    super::Waited::PollerOwn => {
                        return self.wait_polling(poller, ready, Some(Duration::ZERO))
                    }
                }
            }
        }
        self.wait_polling(poller, ready, timeout)
    }

    fn wait_polling(
        &mut self,
        poller: &Poller,
        ready: &mut Vec<Event>,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        self.events.clear();
        poller.wait(&mut self.events, timeout)?;
        ready.extend(self.events.iter());
        Ok(())
    }
}
