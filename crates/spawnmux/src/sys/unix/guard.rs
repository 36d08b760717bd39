//! The group guard (Linux): one helper process per process that kills the process groups of
//! `die_with_parent` children when this process dies, however it dies (`SIGKILL` included).
//!
//! `PR_SET_PDEATHSIG` reaches only the direct child: a grandchild in the child's process group
//! (a shell's pipeline, `npm` starting `node`) is reparented and runs on. Nothing in a process
//! that is SIGKILLed runs, so the killing has to be done from outside, by a process that
//! notices the death: the guard.
//!
//! - **One per process, started at the first `die_with_parent` spawn**, not per child and not
//!   a thread. It is forked twice (so it is not our child: no zombie, no `SIGCHLD`, invisible
//!   to `waitpid`; unless this process is a child subreaper, as `spawnmux run` is, which then
//!   adopts it), calls `setsid` (no terminal signals, in no group that we signal), closes every
//!   inherited fd but its end of the socket, resets signal dispositions and the signal mask, and
//!   names itself `spawnmux-guard`.
//! - **Registration from the parent, right after the spawn, in shared memory**: the child is
//!   spawned without a `pre_exec` hook (so std uses `posix_spawn`, a `CLONE_VFORK` clone) and
//!   the parent stores its pid (= its process group, of which it is the leader) in a table
//!   shared with the guard (`MAP_SHARED`, mapped before the guard is forked) as soon as the
//!   spawn returns: one atomic store, no system call and no wake-up of the guard (a message
//!   per spawn and per release cost W3 4-5%). The slot is zeroed when the `Mux` lets go of the
//!   child (the group may be reused after that). Killing the group kills the child itself too.
//!   The window (the child runs, the parent is SIGKILLed before the store) is measured in
//!   ARCHITECTURE.md ("Spawning (Unix)").
//! - **Death = end of file**: the parent holds the only end of a socket pair on which nothing is
//!   ever sent (close-on-exec; a child holds a copy only between its clone and its exec). When
//!   the process is gone, the guard's `recv` returns 0 and it `SIGKILL`s every group in the
//!   table, then exits. A stuck or dead guard cannot block or break a spawn; if it cannot be
//!   started at all, children get `PR_SET_PDEATHSIG` instead.
//!
//! Costs and limits: one process, one fd and a 256 KiB shared mapping (touched only as used)
//! per process; the guard is a copy-on-write snapshot of the process at its first spawn (memory
//! the process had then and later rewrites is counted twice); it remembers at most
//! [`CAPACITY`] groups at once (more are not covered). A copy of the process made by `fork`
//! without `exec` elsewhere holds the socket's end, and delays the guard until it exits (and
//! shares the table: spawning through spawnmux in such a copy is not supported); `execve` of the
//! whole process counts as its death.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

use rustix::net::{AddressFamily, RecvFlags, SocketFlags, SocketType};
use rustix::process::{Pid, Signal, WaitOptions};

/// Process groups the guard remembers at once (256 KiB of shared table, touched only as used).
const CAPACITY: usize = 1 << 16;

/// The guard's link, or `None` if the guard could not be started.
static GUARD: OnceLock<Option<Guard>> = OnceLock::new();

/// This process's side of the guard.
pub(super) struct Guard {
    /// The only sending end of the guard's socket: nothing is ever sent on it; its closing (when
    /// this process dies) is the guard's end of file.
    _tx: OwnedFd,
    /// [`CAPACITY`] slots shared with the guard (`MAP_SHARED`): a process group, or 0.
    table: &'static [AtomicI32],
    /// The guard's pid (a subreaper adopts the guard and must tell it from its descendants).
    pid: u32,
    /// This process's side only: slots below the first count have been used; the list holds
    /// those given back.
    free: Mutex<(u32, Vec<u32>)>,
}

/// The guard, starting it if needed; `None` if it cannot be started (the children then rely on
/// `PR_SET_PDEATHSIG` alone).
pub(super) fn guard() -> Option<&'static Guard> {
    GUARD.get_or_init(|| start().ok()).as_ref()
}

/// The guard if it has been started (never starts it).
pub(super) fn started() -> Option<&'static Guard> {
    GUARD.get().and_then(Option::as_ref)
}

/// The guard's pid, if it has been started.
pub(super) fn guard_pid() -> Option<u32> {
    started().map(|g| g.pid).filter(|pid| *pid != 0)
}

impl Guard {
    /// In the parent, right after the spawn returned: registers the child's process group (its
    /// pid; the child is its group's leader). A store to memory shared with the guard: no
    /// system call, no wake-up. Returns the slot, `None` if the table is full.
    pub(super) fn register(&self, pid: u32) -> Option<u32> {
        let pid = i32::try_from(pid).ok()?;
        let slot = {
            let mut free = self.free.lock().ok()?;
            match free.1.pop() {
                Some(slot) => slot,
                None if (free.0 as usize) < CAPACITY => {
                    free.0 += 1;
                    free.0 - 1
                }
                None => return None,
            }
        };
        self.table.get(slot as usize)?.store(pid, Ordering::Release);
        Some(slot)
    }

    /// The `Mux` has let go of the child registered in `slot`.
    pub(super) fn forget(&self, slot: u32) {
        if let Some(entry) = self.table.get(slot as usize) {
            entry.store(0, Ordering::Release);
            if let Ok(mut free) = self.free.lock() {
                free.1.push(slot);
            }
        }
    }
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").finish_non_exhaustive()
    }
}

fn start() -> io::Result<Guard> {
    let (tx, rx) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?;
    // The table, then one more slot: the guard's pid, stored by the intermediate child (which
    // knows it from `fork`) before it exits, so the pid is there when `waitpid` returns (the
    // guard itself may not have run yet, nor named itself).
    let bytes = (CAPACITY + 1) * std::mem::size_of::<AtomicI32>();
    // SAFETY: a fresh anonymous shared mapping (zero-filled, so every slot is 0, pages touched
    // only as used); never unmapped, so the `'static` slice below stays valid.
    let table = unsafe {
        let ptr = libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        std::slice::from_raw_parts(ptr.cast::<AtomicI32>(), CAPACITY + 1)
    };
    let (table, pid_slot) = table.split_at(CAPACITY);
    let pid_slot = &pid_slot[0];
    let rx_raw = rx.as_raw_fd();
    // SAFETY: after `fork` in a (possibly) multithreaded process, the child may only make
    // async-signal-safe calls. The intermediate child only forks again and `_exit`s; the guard
    // runs `guard_main`, which makes only raw system calls, reads only its stack and `table`
    // (a mapping that is never unmapped) and never returns.
    let intermediate = unsafe { libc::fork() };
    match intermediate {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            // SAFETY: as above.
            match unsafe { libc::fork() } {
                // SAFETY: as above; `rx_raw` is open in this process.
                0 => unsafe { guard_main(rx_raw, table) },
                // SAFETY: `_exit` is async-signal-safe and skips atexit handlers and unwinding.
                -1 => unsafe { libc::_exit(1) },
                guard => {
                    // An atomic store to shared memory is async-signal-safe.
                    pid_slot.store(guard, Ordering::Release);
                    // SAFETY: as above.
                    unsafe { libc::_exit(0) }
                }
            }
        }
        pid => {
            drop(rx);
            let pid = Pid::from_raw(pid).ok_or_else(|| io::Error::other("fork returned 0"))?;
            // The intermediate exits at once. ECHILD: code elsewhere reaped it (`waitpid(-1)`);
            // the guard most likely runs, and if not, its children are not covered.
            let status = loop {
                match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
                    Err(rustix::io::Errno::INTR) => continue,
                    Ok(Some((_, status))) => break Some(status),
                    _ => break None,
                }
            };
            if status.is_some_and(|s| s.exit_status() != Some(0)) {
                return Err(io::Error::other("could not start the group guard"));
            }
            Ok(Guard {
                _tx: tx,
                table,
                pid: pid_slot.load(Ordering::Acquire).unsigned_abs(),
                free: Mutex::new((0, Vec::new())),
            })
        }
    }
}

/// The guard: waits for end of file, then kills the groups in the shared table.
///
/// # Safety
/// Must run in a freshly forked child, with `rx` open; it never returns.
unsafe fn guard_main(rx: RawFd, table: &[AtomicI32]) -> ! {
    let _ = rustix::process::setsid();
    close_all_but(rx);
    reset_signals();
    let _ = rustix::thread::set_name(c"spawnmux-guard");
    // SAFETY: `rx` is open (kept by `close_all_but`) and this process never closes it.
    let rx = unsafe { BorrowedFd::borrow_raw(rx) };
    let mut buf = [0u8; 4];
    loop {
        match rustix::net::recv(rx, &mut buf, RecvFlags::empty()) {
            // End of file: every sender is gone, the process is dead.
            Ok((0, _)) => break,
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
    for entry in table {
        if let Some(pid) = Pid::from_raw(entry.load(Ordering::Acquire)) {
            let _ = rustix::process::kill_process_group(pid, Signal::KILL);
        }
    }
    // SAFETY: `_exit` is async-signal-safe and skips atexit handlers and unwinding.
    unsafe { libc::_exit(0) }
}

/// Closes every fd but `keep`: the parent's pipes and sockets must not be held open by the guard
/// (a child would never see end of file on its stdin, a peer never see the close).
fn close_all_but(keep: RawFd) {
    let keep = keep as libc::c_uint;
    // SAFETY: close_range only closes descriptors of this (single-threaded) process; nothing
    // in it uses them any more.
    let rc = unsafe {
        let low = if keep > 0 {
            libc::syscall(libc::SYS_close_range, 0 as libc::c_uint, keep - 1, 0)
        } else {
            0
        };
        let high = libc::syscall(libc::SYS_close_range, keep + 1, libc::c_uint::MAX, 0);
        if low == 0 && high == 0 {
            0
        } else {
            -1
        }
    };
    if rc == 0 {
        return;
    }
    // Before Linux 5.9: one by one, up to the fd limit.
    let max = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .current
        .unwrap_or(1 << 20)
        .min(1 << 20) as libc::c_int;
    for fd in (0..max).filter(|&fd| fd as libc::c_uint != keep) {
        // SAFETY: as above.
        unsafe { libc::close(fd) };
    }
}

/// Default dispositions and an empty mask: the parent's handlers (signal-hook's, say) must not
/// run in the guard, and a plain `kill` must end it like any process.
fn reset_signals() {
    // SAFETY: `sigaction` and `sigprocmask` are async-signal-safe; the structures are
    // zero-initialised (SIG_DFL, no flags, empty mask) before use.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        libc::sigemptyset(&mut action.sa_mask);
        // Every signal number Linux has (1..=64); glibc refuses its own two (EINVAL), harmless.
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::sigaction(sig, &action, std::ptr::null_mut());
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
    }
}
