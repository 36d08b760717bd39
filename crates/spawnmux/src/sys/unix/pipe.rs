//! The parent's ends of a child's captured streams.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};

use polling::{Event, Poller};

/// Sets `O_NONBLOCK` on `fd` (only the parent's end: the child's end is a separate open file
/// description and stays blocking, as programs expect).
pub(super) fn set_nonblocking(fd: &OwnedFd) -> io::Result<()> {
    rustix::io::ioctl_fionbio(fd, true)?;
    Ok(())
}

/// Bytes a pipe holds by default on Linux, and at most on macOS/BSD: what a read asks for
/// until the pipe has grown.
const BASE_SIZE: usize = 64 * 1024;

/// The read end of a child's stdout or stderr.
#[derive(Debug)]
pub(crate) struct Reader {
    fd: OwnedFd,
}

impl Reader {
    pub(super) fn new(fd: OwnedFd) -> io::Result<Reader> {
        set_nonblocking(&fd)?;
        Ok(Reader { fd })
    }

    /// Bytes one read should ask for: as much as the pipe holds.
    #[inline]
    pub(crate) fn read_size(&self) -> usize {
        BASE_SIZE
    }

    /// A read of a running child's stream asked for `asked` bytes and got `got`.
    #[inline]
    pub(crate) fn after_read(&mut self, _asked: usize, _got: usize) {}

    pub(crate) fn register(&self, poller: &Poller, key: usize) -> io::Result<()> {
        super::register(poller, self.fd.as_fd(), Event::readable(key))
    }

    pub(crate) fn deregister(&self, poller: &Poller) {
        super::deregister(poller, self.fd.as_fd());
    }

    /// After the child's exit, a read returned `WouldBlock`: on Unix everything the child wrote
    /// is already readable, so there is nothing to wait for.
    pub(crate) fn settle(&mut self, _deadline: std::time::Instant) -> bool {
        false
    }

    /// Appends up to `max` bytes to `buf`. `Ok(0)` is EOF; `WouldBlock` means nothing is ready.
    pub(crate) fn read_into(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        buf.reserve(max);
        let spare: &mut [MaybeUninit<u8>] = &mut buf.spare_capacity_mut()[..max];
        let n = loop {
            match rustix::io::read(&self.fd, &mut *spare) {
                Ok((filled, _)) => break filled.len(),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let len = buf.len();
        // SAFETY: `read` initialised the first `n` bytes of the spare capacity, which starts at
        // `len`, and `reserve(max)` with `n <= max` guarantees `len + n <= capacity`.
        unsafe { buf.set_len(len + n) };
        Ok(n)
    }
}

/// The write end of a child's stdin.
#[derive(Debug)]
pub(crate) struct Writer {
    fd: OwnedFd,
}

impl Writer {
    pub(super) fn new(fd: OwnedFd) -> io::Result<Writer> {
        set_nonblocking(&fd)?;
        Ok(Writer { fd })
    }

    /// Registers with no interest; see [`Writer::set_writable`].
    pub(crate) fn register(&self, poller: &Poller, key: usize) -> io::Result<()> {
        super::register(poller, self.fd.as_fd(), Event::none(key))
    }

    pub(crate) fn set_writable(&self, poller: &Poller, key: usize, on: bool) -> io::Result<()> {
        let interest = if on {
            Event::writable(key)
        } else {
            Event::none(key)
        };
        super::modify(poller, self.fd.as_fd(), interest)
    }

    pub(crate) fn deregister(&self, poller: &Poller) {
        super::deregister(poller, self.fd.as_fd());
    }

    /// Writes as much of `data` as the pipe takes now. A child that closed its stdin gives
    /// `BrokenPipe`, never a `SIGPIPE` for this process.
    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let _guard = SigpipeGuard::new();
        loop {
            match rustix::io::write(&self.fd, data) {
                Ok(n) => return Ok(n),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Keeps a `write` to a pipe without readers from raising `SIGPIPE` in this process.
///
/// Pipes have no `MSG_NOSIGNAL`. If `SIGPIPE` is ignored (Rust programs ignore it by default)
/// this does nothing. Otherwise it blocks `SIGPIPE` in the calling thread for the duration of
/// the write, and on drop consumes a `SIGPIPE` that the write left pending (the signal is
/// directed at the writing thread), then restores the mask. The same technique as OpenSSL and
/// libcurl use; it changes nothing process-wide.
struct SigpipeGuard {
    /// The mask to restore, if we changed it.
    restore: Option<libc::sigset_t>,
    /// SIGPIPE was already pending before our write: not ours to consume.
    was_pending: bool,
}

impl SigpipeGuard {
    fn new() -> SigpipeGuard {
        let mut guard = SigpipeGuard {
            restore: None,
            was_pending: false,
        };
        if sigpipe_ignored() {
            return guard;
        }
        let set = sigpipe_set();
        let mut old = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: `set` is an initialised signal set and `old` is valid for writes.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, old.as_mut_ptr()) };
        if rc != 0 {
            return guard;
        }
        // SAFETY: pthread_sigmask succeeded, so it wrote the previous mask into `old`.
        let old = unsafe { old.assume_init() };
        // SAFETY: `old` is an initialised signal set.
        let already_blocked = unsafe { libc::sigismember(&old, libc::SIGPIPE) } == 1;
        guard.was_pending = sigpipe_pending();
        if !already_blocked {
            guard.restore = Some(old);
        }
        guard
    }
}

impl Drop for SigpipeGuard {
    fn drop(&mut self) {
        let Some(old) = self.restore else {
            return;
        };
        if !self.was_pending && sigpipe_pending() {
            let set = sigpipe_set();
            let mut sig = 0;
            // SAFETY: `set` is initialised, `sig` is valid for writes; SIGPIPE is pending and
            // blocked, so `sigwait` returns at once, consuming it.
            unsafe { libc::sigwait(&set, &mut sig) };
        }
        // SAFETY: `old` is the initialised mask saved by `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    }
}

fn sigpipe_set() -> libc::sigset_t {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set it is given; sigaddset then adds a valid signal.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
        set.assume_init()
    }
}

fn sigpipe_ignored() -> bool {
    let mut old = MaybeUninit::<libc::sigaction>::uninit();
    // SAFETY: a null `act` only queries the current action into `old`, valid for writes.
    let rc = unsafe { libc::sigaction(libc::SIGPIPE, std::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: sigaction succeeded, so `old` is initialised.
    rc == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_IGN
}

fn sigpipe_pending() -> bool {
    let mut pending = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigpending writes the pending set into `pending`.
    if unsafe { libc::sigpending(pending.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: sigpending succeeded, so `pending` is initialised.
    unsafe { libc::sigismember(pending.as_ptr(), libc::SIGPIPE) == 1 }
}
