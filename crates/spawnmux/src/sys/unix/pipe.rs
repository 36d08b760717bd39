//! The parent's ends of a child's captured streams.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

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
    /// A pseudo-terminal's master, not a pipe: `EIO` is end of file (see [`Reader::pty`]).
    pty: bool,
    /// Linux: the pipe grows while reads keep coming back full (see [`Growth`]).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    growth: Growth,
}

impl Reader {
    pub(super) fn new(fd: OwnedFd) -> io::Result<Reader> {
        set_nonblocking(&fd)?;
        Ok(Reader {
            fd,
            pty: false,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            growth: Growth::new(),
        })
    }

    /// The reader of a pseudo-terminal's master. Once the last fd of the slave is closed (the
    /// child and everything that inherited its terminal are gone), a read of the master fails
    /// with `EIO` on Linux rather than returning 0: here that is end of file. Everything the
    /// child wrote before is read first (the kernel pushes pending output to the master before
    /// it reports `EIO`). Never grown: a pty is not a pipe.
    pub(super) fn pty(fd: OwnedFd) -> io::Result<Reader> {
        let mut reader = Reader::new(fd)?;
        reader.pty = true;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            reader.growth.done = true;
        }
        Ok(reader)
    }

    /// `true` if a read that got less than it asked for found the stream empty: so for a
    /// pipe (a read takes everything there is, up to the size asked), not for a terminal (one
    /// read returns at most one line discipline buffer, ~4 KiB on Linux, however much waits).
    #[inline]
    pub(crate) fn short_read_means_empty(&self) -> bool {
        !self.pty
    }

    /// Bytes one read should ask for: as much as the pipe holds.
    #[inline]
    pub(crate) fn read_size(&self) -> usize {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        return self.growth.size;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        BASE_SIZE
    }

    /// A read of a running child's stream asked for `asked` bytes and got `got` (not EOF, not
    /// `WouldBlock`): on Linux, grows the pipe once reads keep coming back full. Never fails; a
    /// refusal stops further tries.
    #[inline]
    pub(crate) fn after_read(&mut self, asked: usize, got: usize) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(target) = self.growth.on_read(asked, got, &GROWN_TOTAL) {
            self.grow(target);
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = (asked, got);
    }

    /// Asks the kernel for `target` bytes (reserved by `Growth::on_read`). Out of line: it
    /// happens a few times per pipe at most.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[cold]
    #[inline(never)]
    fn grow(&mut self, target: usize) {
        // The child (or whoever made the pipe) may have grown it already: never shrink it.
        let result = match rustix::pipe::fcntl_getpipe_size(&self.fd) {
            Ok(now) if now >= target => Ok(now),
            _ => rustix::pipe::fcntl_setpipe_size(&self.fd, target),
        };
        self.growth.grown(target, result, &GROWN_TOTAL);
    }

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
                Err(rustix::io::Errno::IO) if self.pty => break 0,
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

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Drop for Reader {
    fn drop(&mut self) {
        self.growth.release(&GROWN_TOTAL);
    }
}

/// Consecutive full reads after which a pipe doubles.
#[cfg(any(target_os = "linux", target_os = "android"))]
const GROW_AFTER: u32 = 4;
/// The largest size a pipe grows to (if `/proc/sys/fs/pipe-max-size` allows it).
#[cfg(any(target_os = "linux", target_os = "android"))]
const GROW_MAX: usize = 1 << 20;
/// Bytes beyond [`BASE_SIZE`] that all of this process's grown pipes may hold together: the
/// kernel charges pipe pages to the user (`/proc/sys/fs/pipe-user-pages-soft`, 64 MiB by
/// default, shared by all of the user's processes), and once that is spent every *new* pipe
/// the user creates gets a single page. Growth must never starve the rest of the system.
#[cfg(any(target_os = "linux", target_os = "android"))]
const GROWN_TOTAL_MAX: usize = 16 << 20;

/// Bytes grown beyond [`BASE_SIZE`] by the live pipes of this process.
#[cfg(any(target_os = "linux", target_os = "android"))]
static GROWN_TOTAL: AtomicUsize = AtomicUsize::new(0);

/// The size cap: [`GROW_MAX`], or `/proc/sys/fs/pipe-max-size` if smaller (read once).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn grow_cap() -> usize {
    static CAP: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CAP.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/fs/pipe-max-size")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok())
            .map_or(GROW_MAX, |max| max.min(GROW_MAX))
    })
}

/// When a captured pipe grows (Linux): the pure state machine behind [`Reader::after_read`].
///
/// A read that fills (7/8 of) all it asked for (at least [`BASE_SIZE`] or the pipe's size) is evidence
/// that the child writes faster than one pipe-full per wake-up; after [`GROW_AFTER`] such reads
/// in a row the pipe doubles, up to [`grow_cap`], while this process's grown pipes stay under
/// [`GROWN_TOTAL_MAX`]. A short read resets the count, so a child that writes now and then
/// keeps the default size. Any refusal (`EPERM` once the user's pipe-page budget is spent,
/// `EBUSY`, anything) keeps the size and stops trying for this pipe.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[derive(Debug)]
struct Growth {
    /// The pipe's size as far as we know (assumed [`BASE_SIZE`] until we set it).
    size: usize,
    /// Full reads in a row.
    streak: u32,
    /// Growth refused or at the cap: never try again.
    done: bool,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
impl Growth {
    fn new() -> Growth {
        Growth {
            size: BASE_SIZE,
            streak: 0,
            done: false,
        }
    }

    /// After a read: the size to ask the kernel for, if the pipe should grow now. Reserves
    /// the growth in `total` (the process's grown bytes); the caller reports the outcome to
    /// [`Growth::grown`].
    #[inline]
    fn on_read(&mut self, asked: usize, got: usize, total: &AtomicUsize) -> Option<usize> {
        if self.done {
            return None;
        }
        // "Full" allows for a writer whose blocks are not a multiple of the page size: a pipe
        // counts pages, so a 64 KiB pipe is full with one 64,000-byte write in it.
        if got < asked - asked / 8 {
            self.streak = 0;
            return None;
        }
        // A small read (the wait's byte budget nearly spent) says nothing about the pipe.
        if asked < self.size.min(BASE_SIZE) {
            return None;
        }
        self.streak += 1;
        if self.streak < GROW_AFTER {
            return None;
        }
        self.streak = 0;
        let target = (self.size * 2).min(grow_cap());
        if target <= self.size {
            self.done = true;
            return None;
        }
        let extra = target - self.size;
        // Over the process-wide allowance: stay as we are and try again after the next streak
        // (other pipes may have closed by then).
        total
            .fetch_update(Relaxed, Relaxed, |t| {
                (t + extra <= GROWN_TOTAL_MAX).then_some(t + extra)
            })
            .ok()
            .map(|_| target)
    }

    /// The outcome of `F_SETPIPE_SZ` to `target` (reserved by [`Growth::on_read`]).
    fn grown(&mut self, target: usize, result: rustix::io::Result<usize>, total: &AtomicUsize) {
        let reserved = target - self.size;
        match result {
            // The kernel rounds up to a power-of-two number of pages: account what it set.
            Ok(size) if size > self.size => {
                total.fetch_add(size - self.size, Relaxed);
                self.size = size;
            }
            _ => self.done = true,
        }
        total.fetch_sub(reserved, Relaxed);
    }

    /// The pipe is closed: give its growth back to the process-wide allowance.
    fn release(&mut self, total: &AtomicUsize) {
        total.fetch_sub(self.size - BASE_SIZE, Relaxed);
        self.size = BASE_SIZE;
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

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;

    /// Feeds `n` full reads of the pipe's current size; returns the growth asked for, if any.
    fn full_reads(g: &mut Growth, n: u32, total: &AtomicUsize) -> Option<usize> {
        let mut asked_for = None;
        for _ in 0..n {
            let size = g.size;
            if let Some(t) = g.on_read(size, size, total) {
                asked_for = Some(t);
            }
        }
        asked_for
    }

    #[test]
    fn grows_after_a_streak_of_full_reads_and_doubles_up_to_the_cap() {
        let total = AtomicUsize::new(0);
        let mut g = Growth::new();
        assert_eq!(full_reads(&mut g, GROW_AFTER - 1, &total), None);
        let target = g.on_read(BASE_SIZE, BASE_SIZE, &total).expect("grows");
        assert_eq!(target, 2 * BASE_SIZE);
        assert_eq!(total.load(Relaxed), BASE_SIZE, "reserved");
        g.grown(target, Ok(target), &total);
        assert_eq!((g.size, total.load(Relaxed)), (2 * BASE_SIZE, BASE_SIZE));
        while let Some(t) = full_reads(&mut g, GROW_AFTER, &total) {
            g.grown(t, Ok(t), &total);
        }
        assert_eq!(g.size, grow_cap());
        assert!(g.done);
        assert_eq!(total.load(Relaxed), grow_cap() - BASE_SIZE);
        g.release(&total);
        assert_eq!(total.load(Relaxed), 0);
    }

    #[test]
    fn a_short_read_resets_the_streak_so_a_quiet_stream_never_grows() {
        let total = AtomicUsize::new(0);
        let mut g = Growth::new();
        for _ in 0..100 {
            assert_eq!(full_reads(&mut g, GROW_AFTER - 1, &total), None);
            assert_eq!(g.on_read(BASE_SIZE, 100, &total), None);
        }
        // Small reads (budget nearly spent) count neither way; nearly full ones count.
        assert_eq!(full_reads(&mut g, GROW_AFTER - 2, &total), None);
        assert_eq!(g.on_read(BASE_SIZE, 64_000, &total), None);
        assert_eq!(g.on_read(4096, 4096, &total), None);
        assert!(g.on_read(BASE_SIZE, BASE_SIZE, &total).is_some());
    }

    #[test]
    fn refused_growth_keeps_the_size_and_stops_trying() {
        for refusal in [rustix::io::Errno::PERM, rustix::io::Errno::BUSY] {
            let total = AtomicUsize::new(0);
            let mut g = Growth::new();
            let t = full_reads(&mut g, GROW_AFTER, &total).expect("grows");
            g.grown(t, Err(refusal), &total);
            assert_eq!((g.size, g.done), (BASE_SIZE, true));
            assert_eq!(total.load(Relaxed), 0, "reservation returned");
            assert_eq!(full_reads(&mut g, 10 * GROW_AFTER, &total), None);
        }
    }

    #[test]
    fn the_process_wide_allowance_bounds_growth() {
        let total = AtomicUsize::new(GROWN_TOTAL_MAX - BASE_SIZE / 2);
        let mut g = Growth::new();
        assert_eq!(full_reads(&mut g, 3 * GROW_AFTER, &total), None);
        assert!(!g.done, "tries again once other pipes give growth back");
        total.store(0, Relaxed);
        assert!(full_reads(&mut g, GROW_AFTER, &total).is_some());
    }

    #[test]
    fn a_real_pipe_grows_and_reports_its_size() -> io::Result<()> {
        let (r, _w) = rustix::pipe::pipe()?;
        let mut reader = Reader::new(r)?;
        for _ in 0..GROW_AFTER {
            reader.after_read(BASE_SIZE, BASE_SIZE);
        }
        // Root (or a user within the pipe-page budget) gets it; otherwise (or when other tests'
        // pipes hold the process's allowance) it keeps 64 KiB. Either way we know the size.
        let size = rustix::pipe::fcntl_getpipe_size(&reader.fd)?;
        assert_eq!(size, reader.read_size());
        assert!(size == 2 * BASE_SIZE || size == BASE_SIZE, "{size}");
        Ok(())
    }

    #[test]
    fn a_pipe_grown_by_someone_else_is_never_shrunk() -> io::Result<()> {
        let (r, _w) = rustix::pipe::pipe()?;
        let Ok(set) = rustix::pipe::fcntl_setpipe_size(&r, 4 * BASE_SIZE) else {
            return Ok(()); // not allowed to grow pipes here: nothing to check
        };
        let mut reader = Reader::new(r)?;
        for _ in 0..GROW_AFTER {
            reader.after_read(BASE_SIZE, BASE_SIZE);
        }
        assert_eq!(rustix::pipe::fcntl_getpipe_size(&reader.fd)?, set);
        assert_eq!(reader.read_size(), set, "adopted");
        Ok(())
    }
}
