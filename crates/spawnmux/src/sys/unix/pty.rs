//! Pseudo-terminals (`Command::pty`): opening the pair, and the parent's handle on the master.

use std::io;
use std::os::fd::OwnedFd;

use rustix::termios::Winsize;

use crate::pty::PtySize;

/// The parent's handle on a child's pseudo-terminal: a duplicate of the master fd, used to
/// change the window size (the kernel then sends `SIGWINCH` to the terminal's foreground
/// process group).
#[derive(Debug)]
pub(crate) struct PtyHandle {
    master: OwnedFd,
}

impl PtyHandle {
    /// Sets the window size (`TIOCSWINSZ`).
    pub(crate) fn resize(&self, size: PtySize) -> io::Result<()> {
        rustix::termios::tcsetwinsize(&self.master, winsize(size))?;
        Ok(())
    }
}

/// The kernel's form of `size`.
fn winsize(size: PtySize) -> Winsize {
    Winsize {
        ws_row: size.rows,
        ws_col: size.cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// A fresh pseudo-terminal: the master (the parent's side) and the slave (the child's
/// terminal), both close-on-exec so that no other child inherits either.
#[derive(Debug)]
pub(super) struct Pair {
    pub(super) master: OwnedFd,
    pub(super) slave: OwnedFd,
}

/// Opens a pseudo-terminal of `size`.
pub(super) fn open(size: PtySize) -> io::Result<Pair> {
    let master = open_master().map_err(|e| context(e, "opening a pseudo-terminal"))?;
    rustix::pty::grantpt(&master).map_err(|e| context(e.into(), "grantpt"))?;
    rustix::pty::unlockpt(&master).map_err(|e| context(e.into(), "unlockpt"))?;
    let slave = open_slave(&master)?;
    rustix::termios::tcsetwinsize(&master, winsize(size))
        .map_err(|e| context(e.into(), "setting a pseudo-terminal's size"))?;
    Ok(Pair { master, slave })
}

/// `what: err`, keeping the kind.
fn context(err: io::Error, what: &str) -> io::Error {
    io::Error::new(err.kind(), format!("{what}: {err}"))
}

/// The master, close-on-exec (atomically where the system can: Linux, FreeBSD, NetBSD).
fn open_master() -> io::Result<OwnedFd> {
    use rustix::pty::OpenptFlags;
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd"
    ))]
    let master =
        rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)?;
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd"
    )))]
    let master = {
        // No `O_CLOEXEC` for `posix_openpt` here: a fork by another thread between these two
        // calls would inherit the master (see ARCHITECTURE.md, "Pseudo-terminals").
        let fd = rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)?;
        rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC)?;
        fd
    };
    Ok(master)
}

/// The slave of `master`, close-on-exec: on Linux (4.13+) straight from the master
/// (`TIOCGPTPEER`, no path lookup), else by its name (`ptsname`).
fn open_slave(master: &OwnedFd) -> io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        use rustix::pty::OpenptFlags;
        let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
        match rustix::pty::ioctl_tiocgptpeer(master, flags) {
            Ok(slave) => return Ok(slave),
            // Older kernels: fall back to the name.
            Err(rustix::io::Errno::NOTTY | rustix::io::Errno::INVAL) => {}
            Err(e) => return Err(context(e.into(), "opening a pseudo-terminal's slave")),
        }
    }
    let name =
        rustix::pty::ptsname(master, Vec::new()).map_err(|e| context(e.into(), "ptsname"))?;
    let flags = OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC;
    rustix::fs::open(name.as_c_str(), flags, Mode::empty()).map_err(|e| {
        let what = format!("opening the pseudo-terminal `{}`", name.to_string_lossy());
        context(e.into(), &what)
    })
}

impl PtyHandle {
    /// The handle on `master` (the parent keeps the master itself here; the child's output
    /// reader and input writer get duplicates).
    pub(super) fn new(master: OwnedFd) -> PtyHandle {
        PtyHandle { master }
    }

    /// A duplicate of the master fd (close-on-exec), for the reader or the writer.
    pub(super) fn dup_master(&self) -> io::Result<OwnedFd> {
        Ok(rustix::io::fcntl_dupfd_cloexec(&self.master, 3)?)
    }
}

/// The signals a terminal sends: its hang-up, and those its keys and job control raise in its
/// foreground process group.
const TERMINAL_SIGNALS: [i32; 6] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
];

/// Makes the child, between its fork and its exec, the leader of a new session (and of a new
/// process group, whose id is its pid, as `process_group(0)` would make it) with its stdin,
/// the pseudo-terminal's slave, as its controlling terminal.
///
/// The terminal's signals start at their default action, as in a terminal emulator's shell:
/// an ignored disposition survives `exec`, and a parent started under `nohup` (SIGHUP) or in
/// the background of a non-interactive shell (SIGINT, SIGQUIT) would otherwise hand it on, so
/// that Ctrl-C typed into the terminal did nothing and the hang-up when the child exits left
/// its process group running.
pub(super) fn make_controlling(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the hook runs in the forked child before exec, after std has duplicated the
    // slave onto fds 0 and 1 (and 2); it only makes raw, async-signal-safe calls (setsid,
    // ioctl, signal), allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::setsid()?;
            rustix::process::ioctl_tiocsctty(rustix::stdio::stdin())?;
            for sig in TERMINAL_SIGNALS {
                if libc::signal(sig, libc::SIG_DFL) == libc::SIG_ERR {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::unix::pipe::Reader;

    #[test]
    fn the_master_reads_everything_then_eof_once_the_slave_is_closed() -> io::Result<()> {
        let Pair { master, slave } = open(PtySize::default())?;
        let mut reader = Reader::pty(master)?;
        rustix::io::write(&slave, b"one\ntwo\n")?;
        drop(slave);
        // What the exit drain relies on: no `WouldBlock` while output is still on its way to
        // the master, and `EIO` (end of file) only after all of it.
        let mut buf = Vec::new();
        while reader.read_into(&mut buf, 4096)? > 0 {}
        assert_eq!(buf, b"one\r\ntwo\r\n");
        assert_eq!(reader.read_into(&mut buf, 4096)?, 0, "EOF again");
        Ok(())
    }

    #[test]
    fn the_size_is_set_at_open_and_by_resize() -> io::Result<()> {
        let size = PtySize { rows: 7, cols: 9 };
        let Pair { master, slave } = open(size)?;
        let seen = rustix::termios::tcgetwinsize(&slave)?;
        assert_eq!((seen.ws_row, seen.ws_col), (7, 9));
        let handle = PtyHandle::new(master);
        handle.resize(PtySize { rows: 70, cols: 90 })?;
        let seen = rustix::termios::tcgetwinsize(&slave)?;
        assert_eq!((seen.ws_row, seen.ws_col), (70, 90));
        Ok(())
    }

    #[test]
    fn every_fd_is_close_on_exec() -> io::Result<()> {
        let Pair { master, slave } = open(PtySize::default())?;
        let handle = PtyHandle::new(master);
        for fd in [handle.dup_master()?, slave, handle.master] {
            let flags = rustix::io::fcntl_getfd(&fd)?;
            assert!(flags.contains(rustix::io::FdFlags::CLOEXEC));
        }
        Ok(())
    }
}
