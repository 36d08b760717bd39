//! Exit detection without a thread per child.
//!
//! | mechanism | where | cost |
//! |---|---|---|
//! | pidfd (`pidfd_open`, readable at exit) | Linux ≥ 5.3 | one fd per child |
//! | kqueue `EVFILT_PROC` / `NOTE_EXIT` | macOS, iOS, FreeBSD, NetBSD, OpenBSD, DragonFly | none |
//! | SIGCHLD self-pipe (signal-hook) | everywhere else, old Linux, or `--cfg spawnmux_force_sigchld` | one pipe per `Mux` |
//!
//! The mechanism is chosen once per `Mux`. With the SIGCHLD pipe, every SIGCHLD makes the `Mux`
//! call `try_wait` on its own children only (`waitpid(pid, WNOHANG)`), never `waitpid(-1)`,
//! so other code's children are left alone.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;

use polling::{Event, Poller};

use super::spawn::Process;
use crate::sys::GLOBAL_EXIT_KEY;

/// How one child's exit is being watched.
#[derive(Debug)]
pub(crate) enum Watch {
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    Pidfd(OwnedFd),
    #[cfg_attr(not(spawnmux_bsd), allow(dead_code))]
    Kqueue(std::num::NonZeroI32),
    /// Covered by the SIGCHLD pipe.
    Sigchld,
}

impl Watch {
    /// `true` if this child must be checked when the shared SIGCHLD source fires.
    pub(crate) fn is_global(&self) -> bool {
        matches!(self, Watch::Sigchld)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))]
    Pidfd,
    #[cfg_attr(any(target_os = "linux", target_os = "android"), allow(dead_code))]
    Kqueue,
    Sigchld,
}

/// The SIGCHLD self-pipe: signal-hook's handler writes a byte, we poll the read end.
#[derive(Debug)]
struct SigchldPipe {
    read: UnixStream,
    id: signal_hook::SigId,
}

/// One per `Mux`.
#[derive(Debug)]
pub(crate) struct ExitWatcher {
    mechanism: Mechanism,
    sigchld: Option<SigchldPipe>,
}

impl ExitWatcher {
    pub(crate) fn new(poller: &Poller) -> io::Result<ExitWatcher> {
        let mechanism = choose();
        let sigchld = if mechanism == Mechanism::Sigchld {
            Some(SigchldPipe::new(poller)?)
        } else {
            None
        };
        Ok(ExitWatcher { mechanism, sigchld })
    }

    /// Starts watching `process`; its exit makes the poller report `key`. If the child had
    /// already exited so that it cannot be watched, returns `Watch::Sigchld`-like polling: the
    /// caller must `try_wait` it once right away (it does so for every new child anyway).
    pub(crate) fn watch(
        &mut self,
        poller: &Poller,
        process: &Process,
        key: usize,
    ) -> io::Result<Watch> {
        match self.mechanism {
            Mechanism::Pidfd => watch_pidfd(poller, process, key),
            Mechanism::Kqueue => watch_kqueue(poller, process, key),
            Mechanism::Sigchld => Ok(Watch::Sigchld),
        }
    }

    pub(crate) fn unwatch(&mut self, poller: &Poller, watch: Watch) {
        match watch {
            Watch::Pidfd(fd) => super::deregister(poller, fd.as_fd()),
            Watch::Kqueue(pid) => unwatch_kqueue(poller, pid),
            Watch::Sigchld => {}
        }
    }

    /// Handles an event for [`GLOBAL_EXIT_KEY`]: drains the SIGCHLD pipe. The caller then
    /// `try_wait`s every child whose watch [`is_global`](Watch::is_global).
    pub(crate) fn on_global_event(&mut self) {
        if let Some(pipe) = &mut self.sigchld {
            pipe.drain();
        }
    }
}

impl Drop for ExitWatcher {
    fn drop(&mut self) {
        if let Some(pipe) = &self.sigchld {
            signal_hook::low_level::unregister(pipe.id);
        }
    }
}

fn choose() -> Mechanism {
    if cfg!(spawnmux_force_sigchld) {
        return Mechanism::Sigchld;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // Probe once: pidfd_open needs Linux 5.3 and may be blocked by seccomp.
        let me = rustix::process::getpid();
        if rustix::process::pidfd_open(me, rustix::process::PidfdFlags::empty()).is_ok() {
            return Mechanism::Pidfd;
        }
    }
    #[cfg(spawnmux_bsd)]
    {
        return Mechanism::Kqueue;
    }
    #[allow(unreachable_code)]
    Mechanism::Sigchld
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn watch_pidfd(poller: &Poller, process: &Process, key: usize) -> io::Result<Watch> {
    let pid = rustix::process::Pid::from_raw(process.pid() as i32)
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    // The child is unreaped, so `pid` cannot have been recycled: the pidfd is for our child
    // (an exited, unreaped child still has a pidfd, and it is readable at once).
    let fd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty())?;
    super::register(poller, fd.as_fd(), Event::readable(key))?;
    Ok(Watch::Pidfd(fd))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn watch_pidfd(_: &Poller, _: &Process, _: usize) -> io::Result<Watch> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(spawnmux_bsd)]
mod kq {
    use std::io;
    use std::num::NonZeroI32;

    use polling::os::kqueue::{PollerKqueueExt, Process as ProcFilter, ProcessOps};
    use polling::{PollMode, Poller};

    use super::{Process, Watch};

    pub(super) fn watch(poller: &Poller, process: &Process, key: usize) -> io::Result<Watch> {
        let pid = NonZeroI32::new(process.pid() as i32)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: `pid` is our own unreaped child, so it names that process until we reap it,
        // and the filter is deleted (`unwatch`) before or when the child is reaped.
        let filter = unsafe { ProcFilter::from_pid(pid, ProcessOps::Exit) };
        match poller.add_filter(filter, key, PollMode::Oneshot) {
            Ok(()) => Ok(Watch::Kqueue(pid)),
            // Already exited (a zombie cannot be watched): the caller's immediate try_wait
            // sees it.
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(Watch::Sigchld),
            Err(e) => Err(e),
        }
    }

    pub(super) fn unwatch(poller: &Poller, pid: NonZeroI32) {
        // SAFETY: as in `watch`; deleting a filter that already fired is harmless.
        let filter = unsafe { ProcFilter::from_pid(pid, ProcessOps::Exit) };
        let _ = poller.delete_filter(filter);
    }
}

#[cfg(spawnmux_bsd)]
use kq::{unwatch as unwatch_kqueue, watch as watch_kqueue};

#[cfg(not(spawnmux_bsd))]
fn watch_kqueue(_: &Poller, _: &Process, _: usize) -> io::Result<Watch> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(not(spawnmux_bsd))]
fn unwatch_kqueue(_: &Poller, _: std::num::NonZeroI32) {}

impl SigchldPipe {
    fn new(poller: &Poller) -> io::Result<SigchldPipe> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        let id = signal_hook::low_level::pipe::register(signal_hook::consts::SIGCHLD, write)?;
        if let Err(e) = super::register(poller, read.as_fd(), Event::readable(GLOBAL_EXIT_KEY)) {
            signal_hook::low_level::unregister(id);
            return Err(e);
        }
        Ok(SigchldPipe { read, id })
    }

    fn drain(&mut self) {
        let mut buf = [0u8; 256];
        while let Ok(n) = io::Read::read(&mut self.read, &mut buf) {
            if n == 0 {
                break;
            }
        }
    }
}
