//! Unix (Linux, macOS, the BSDs): what is common to every Unix. The process-tree items that
//! differ come from `linux.rs` (with `/proc`) or `bsd.rs` (without).
//!
//! Signals reach the runner's loop the seed article's way: signal-hook's handler writes a byte
//! to a socket pair whose other end is one of the `Mux`'s own sources, so a signal is just
//! another readable descriptor.

use std::collections::HashSet;
use std::io;
use std::os::unix::net::UnixStream;

use spawnmux::os::unix::MuxExt;
use spawnmux::{ChildId, Command, Mux, SourceId};

use super::Reaped;

pub(crate) const SIGINT: i32 = libc::SIGINT;
pub(crate) const SIGTERM: i32 = libc::SIGTERM;
pub(crate) const SIGKILL: i32 = libc::SIGKILL;

/// The runner's stop signals, and `SIGCHLD` (an exited child to reap).
const HANDLED: [i32; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGCHLD];

/// Keeps the handlers installed; removes them when dropped.
pub(crate) struct Signals {
    installed: Vec<(SourceId, i32, signal_hook::SigId)>,
}

/// Routes SIGINT, SIGTERM, SIGHUP and SIGCHLD into `mux` (each as a source of its own).
pub(crate) fn install(mux: &mut Mux) -> io::Result<Signals> {
    let mut installed = Vec::new();
    for sig in HANDLED {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        let id = signal_hook::low_level::pipe::register(sig, write)?;
        let source = mux.add_source(read, spawnmux::Interest::Readable)?;
        installed.push((source, sig, id));
    }
    Ok(Signals { installed })
}

/// Whether `sig` (from [`Signals::drain`]) only says that a child exited.
pub(crate) fn is_child_exit(sig: i32) -> bool {
    sig == libc::SIGCHLD
}

impl Signals {
    /// The signal that `source` stands for, once per byte read (at least once, at most
    /// twice: a second stop signal means "kill now").
    pub(crate) fn drain(&self, mux: &mut Mux, source: SourceId) -> Vec<i32> {
        use std::io::Read;
        let Some(&(_, sig, _)) = self.installed.iter().find(|(s, _, _)| *s == source) else {
            return Vec::new();
        };
        let mut n = 0;
        if let Some(stream) = mux.source_mut::<UnixStream>(source) {
            let mut buf = [0u8; 16];
            while let Ok(k) = stream.read(&mut buf) {
                if k == 0 {
                    break;
                }
                n += k;
            }
        }
        vec![sig; n.clamp(1, 2)]
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for (_, _, id) in &self.installed {
            signal_hook::low_level::unregister(*id);
        }
    }
}

/// A stop signal's name for the log (`SIGINT`).
pub(crate) fn signal_name(sig: i32) -> Option<&'static str> {
    match sig {
        libc::SIGHUP => Some("SIGHUP"),
        libc::SIGINT => Some("SIGINT"),
        libc::SIGTERM => Some("SIGTERM"),
        _ => None,
    }
}

/// Sends a helper's stop signal to its process group.
pub(crate) fn send_stop(mux: &mut Mux, id: ChildId, signal: i32) -> io::Result<()> {
    mux.signal(id, signal)
}

/// Pipes are the only transport outside Windows.
pub(crate) fn set_transport(_: &mut Command, _: crate::cli::DemoTransport) {}

/// A shell command line: `sh -c LINE`.
pub(crate) fn shell(line: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", line]);
    c
}

/// Reaps exited children that are not in `owned` (the pids the `Mux` still has to reap).
///
/// `waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT)` names an exited child without reaping it;
/// only if it is not one of the `Mux`'s is it reaped (by pid). The `Mux`'s promise (it
/// reaps its own children by pid, nobody else does) is kept. When the exited child named
/// is the `Mux`'s, the pass stops (`blocked`): the kernel would name it again until the
/// `Mux` reaps it, which it does on its next `wait`.
pub(crate) fn reap_orphans(owned: &HashSet<u32>) -> Reaped {
    let mut reaped = Reaped::default();
    loop {
        // SAFETY: `siginfo_t` is plain data; zeroed is a valid value (si_pid 0 = nothing).
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t; P_ALL ignores the id argument.
        let r = unsafe {
            libc::waitid(
                libc::P_ALL,
                0,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if r != 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return reaped; // ECHILD: no child at all
        }
        // SAFETY: waitid filled `info` for an exited child (or left si_pid 0 for none).
        let pid = unsafe { info.si_pid() };
        if pid <= 0 {
            return reaped;
        }
        if owned.contains(&(pid as u32)) {
            reaped.blocked = true;
            return reaped;
        }
        let Some(p) = rustix::process::Pid::from_raw(pid) else {
            return reaped;
        };
        // It has exited: this does not block. ECHILD: someone else reaped it meanwhile.
        let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty());
        reaped.count += 1;
    }
}

/// `signal` (a number) as rustix's type; `None` for a number this platform does not know.
fn os_signal(signal: i32) -> Option<rustix::process::Signal> {
    rustix::process::Signal::from_named_raw(signal)
}

/// Sends `signal` to each pid (errors ignored: it may be gone).
pub(crate) fn signal_pids(pids: &[u32], signal: i32) {
    let Some(sig) = os_signal(signal) else {
        return;
    };
    for &pid in pids {
        if let Some(pid) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, sig);
        }
    }
}

/// `killpg(pgid, signal)` (errors ignored); never for group 1 (init's).
pub(crate) fn killpg(pgid: u32, signal: i32) {
    let (Some(sig), Some(pgid)) = (
        os_signal(signal),
        i32::try_from(pgid)
            .ok()
            .filter(|&p| p > 1)
            .and_then(rustix::process::Pid::from_raw),
    ) else {
        return;
    };
    let _ = rustix::process::kill_process_group(pgid, sig);
}

/// A non-blocking `connect` answered `EINPROGRESS`: the connection is under way.
pub(crate) fn connect_pending(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EINPROGRESS) || error.kind() == io::ErrorKind::WouldBlock
}

/// Whether a server's bind sets `SO_REUSEADDR`: it does on Unix (servers set it, so that the
/// connections of an old instance in `TIME_WAIT` do not keep a new one from listening).
pub(crate) const SERVER_REUSES_ADDRESS: bool = true;

/// Whether a bind's `error` says that the port is in use.
pub(crate) fn in_use(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::AddrInUse
}
