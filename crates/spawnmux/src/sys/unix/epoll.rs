//! Linux/Android: `epoll_wait` on the `polling::Poller`'s own epoll fd, for the waits that
//! need no timer.
//!
//! `polling`'s epoll backend makes four system calls around every `epoll_wait`, whatever the
//! timeout: `timerfd_settime` and an `EPOLL_CTL_MOD` of its timerfd before, a `read` of its
//! notifier eventfd and an `EPOLL_CTL_MOD` re-arming it after (smol-rs/polling#224). For a wait
//! with no timeout or a zero one the timerfd is not needed, and the notifier only needs
//! clearing when it fired. So such waits call `epoll_wait` directly on the poller's fd
//! (`AsFd for Poller`), and hand back to `Poller::wait` only when one of the poller's own fds
//! (key `usize::MAX`, which `polling` reserves) is reported: `Poller::wait` then clears the
//! notifier, disarms the timer and re-arms both, exactly as it would have.
//!
//! This relies on the epoll backend storing an `Event`'s key as the epoll data, unchanged.
//! [`DirectWait::new`] checks that once per process on a throw-away poller and returns `None`
//! (always use `Poller::wait`) if it does not hold.

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::OnceLock;

use polling::{Event, Events, PollMode, Poller};

/// `polling`'s reserved key (its notifier and timerfd).
const POLLER_OWN_KEY: u64 = usize::MAX as u64;

/// How many events one `epoll_wait` returns at most (the rest come next round: level-triggered).
const CAPACITY: usize = crate::sys::POLL_CAPACITY;

const READ_FLAGS: u32 = (libc::EPOLLIN | libc::EPOLLHUP | libc::EPOLLERR | libc::EPOLLPRI) as u32;
const WRITE_FLAGS: u32 = (libc::EPOLLOUT | libc::EPOLLHUP | libc::EPOLLERR) as u32;

/// What a direct wait found.
pub(crate) enum Waited {
    /// The events were appended.
    Done,
    /// One of the poller's own fds fired: call `Poller::wait` (zero timeout) instead; nothing
    /// was appended.
    PollerOwn,
}

/// Buffer for direct waits.
pub(crate) struct DirectWait {
    buf: Vec<libc::epoll_event>,
}

impl std::fmt::Debug for DirectWait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectWait").finish_non_exhaustive()
    }
}

impl DirectWait {
    /// `None` if `polling` does not store keys as epoll data (checked once per process).
    pub(crate) fn new() -> Option<DirectWait> {
        static USABLE: OnceLock<bool> = OnceLock::new();
        if !*USABLE.get_or_init(|| probe().unwrap_or(false)) {
            return None;
        }
        Some(DirectWait {
            buf: Vec::with_capacity(CAPACITY),
        })
    }

    /// `epoll_wait` on `poller`'s fd, blocking (`block`) or not; appends what is ready to
    /// `ready` as `polling` would report it.
    pub(crate) fn wait(
        &mut self,
        poller: &Poller,
        ready: &mut Vec<Event>,
        block: bool,
    ) -> io::Result<Waited> {
        let n = epoll_wait(poller, &mut self.buf, if block { -1 } else { 0 })?;
        let events = &self.buf[..n];
        if events.iter().any(|ev| ev.u64 == POLLER_OWN_KEY) {
            return Ok(Waited::PollerOwn);
        }
        ready.extend(events.iter().map(|ev| {
            let flags = ev.events;
            Event::new(
                ev.u64 as usize,
                flags & READ_FLAGS != 0,
                flags & WRITE_FLAGS != 0,
            )
        }));
        Ok(Waited::Done)
    }
}

/// Fills `buf` (up to its capacity) from one `epoll_wait`, retrying on `EINTR`.
fn epoll_wait(
    poller: &Poller,
    buf: &mut Vec<libc::epoll_event>,
    timeout_ms: i32,
) -> io::Result<usize> {
    buf.clear();
    let cap = buf.capacity().min(i32::MAX as usize) as i32;
    loop {
        // SAFETY: the poller's fd is a valid epoll fd for the duration of the borrow; `buf` has
        // room for `cap` events, and the kernel writes at most that many.
        let n = unsafe {
            libc::epoll_wait(
                poller.as_fd().as_raw_fd(),
                buf.as_mut_ptr(),
                cap,
                timeout_ms,
            )
        };
        if n >= 0 {
            let n = n as usize;
            // SAFETY: epoll_wait initialised the first `n <= cap` entries.
            unsafe { buf.set_len(n) };
            return Ok(n);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// On a throw-away poller: a readable pipe registered with a known key must come back from
/// `epoll_wait` with exactly that key as data, and a notification with `usize::MAX`.
fn probe() -> io::Result<bool> {
    const KEY: usize = 0x5a5a_0003;
    let poller = Poller::new()?;
    let (reader, writer) = rustix::pipe::pipe()?;
    rustix::io::write(&writer, b"x")?;
    // SAFETY: `reader` outlives its registration: it is deleted from the poller below, before
    // either is dropped.
    unsafe { poller.add_with_mode(reader.as_raw_fd(), Event::readable(KEY), PollMode::Level)? };
    let mut buf = Vec::with_capacity(4);
    let found = epoll_wait(&poller, &mut buf, 0);
    poller.delete(&reader)?;
    let keyed = match found? {
        1 => buf[0].u64 == KEY as u64 && buf[0].events & libc::EPOLLIN as u32 != 0,
        _ => false,
    };
    poller.notify()?;
    let notified = epoll_wait(&poller, &mut buf, 0)?;
    let own = notified == 1 && buf[0].u64 == POLLER_OWN_KEY;
    // Let polling clear its notifier (and check it still reports nothing of ours).
    let mut events = Events::new();
    poller.wait(&mut events, Some(std::time::Duration::ZERO))?;
    Ok(keyed && own && events.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_holds_for_the_polling_in_use() -> io::Result<()> {
        assert!(probe()?);
        Ok(())
    }

    #[test]
    fn notification_is_handed_to_polling() -> io::Result<()> {
        let poller = Poller::new()?;
        let mut direct = DirectWait::new().expect("the probe holds");
        let mut ready = Vec::new();
        poller.notify()?;
        assert!(matches!(
            direct.wait(&poller, &mut ready, true)?,
            Waited::PollerOwn
        ));
        assert!(ready.is_empty());
        let mut events = Events::new();
        poller.wait(&mut events, Some(std::time::Duration::ZERO))?;
        // Cleared and re-armed: nothing more, and a new notification is seen again.
        assert!(matches!(
            direct.wait(&poller, &mut ready, false)?,
            Waited::Done
        ));
        assert!(ready.is_empty());
        poller.notify()?;
        assert!(matches!(
            direct.wait(&poller, &mut ready, true)?,
            Waited::PollerOwn
        ));
        Ok(())
    }
}
