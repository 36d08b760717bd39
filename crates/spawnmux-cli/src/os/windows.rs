//! Windows: no process groups to look at. A child's job object holds its whole tree: the
//! `Mux` kills it with the job (`Mux::kill`), and closes the job (`KILL_ON_JOB_CLOSE`) when it
//! lets go of the child, so nothing of a helper outlives its slot. No orphans come back to us.

use std::collections::HashSet;
use std::io;

use spawnmux::{ChildId, Command, Mux, SourceId};

use super::{Reaped, Wake};

/// POSIX numbers, used as names only (a stop on Windows is the library's `terminate`).
pub(crate) const SIGINT: i32 = 2;
pub(crate) const SIGTERM: i32 = 15;
pub(crate) const SIGKILL: i32 = 9;

/// Keeps the console control handler installed (for the life of the process).
pub(crate) struct Signals;

/// The console control handler (Ctrl+C, Ctrl+Break, console close) runs on a thread of its
/// own and wakes the loop with [`Wake::Interrupt`].
pub(crate) fn install(mux: &mut Mux) -> io::Result<Signals> {
    let waker = mux.waker(Wake::Interrupt.token());
    ctrlc::set_handler(move || {
        let _ = waker.wake();
    })
    .map_err(io::Error::other)?;
    Ok(Signals)
}

impl Signals {
    /// Windows has no signal sources in the loop (wake-ups arrive as `Woken`).
    pub(crate) fn drain(&self, _mux: &mut Mux, _source: SourceId) -> Vec<i32> {
        Vec::new()
    }
}

pub(crate) fn is_child_exit(_sig: i32) -> bool {
    false
}

pub(crate) fn signal_name(sig: i32) -> Option<&'static str> {
    (sig == SIGINT).then_some("SIGINT")
}

/// No signals: the child's tree ends with its job object.
pub(crate) fn send_stop(mux: &mut Mux, id: ChildId, _signal: i32) -> io::Result<()> {
    mux.terminate(id)
}

/// A shell command line: `cmd /d /c LINE`.
pub(crate) fn shell(line: &str) -> Command {
    let mut c = Command::new("cmd");
    c.args(["/d", "/c", line]);
    c
}

pub(crate) fn set_transport(cmd: &mut Command, transport: crate::cli::DemoTransport) {
    use crate::cli::DemoTransport;
    use spawnmux::os::windows::{CommandExt, Transport};
    cmd.transport(match transport {
        DemoTransport::Pipe => Transport::Pipe,
        DemoTransport::Socket => Transport::Socket,
    });
}

pub(crate) const COUNT_IS_EXACT: bool = false;

pub(crate) fn group_members(_pgid: u32) -> usize {
    0
}

pub(crate) fn signal_group(_pgid: u32, _signal: i32) {}

pub(crate) fn become_subreaper() -> bool {
    false
}

pub(crate) fn reap_orphans(_owned: &HashSet<u32>) -> Reaped {
    Reaped::default()
}

pub(crate) fn descendants() -> Vec<u32> {
    Vec::new()
}

pub(crate) fn signal_pids(_pids: &[u32], _signal: i32) {}

/// A non-blocking `connect` answered `WSAEWOULDBLOCK`: the connection is under way.
pub(crate) fn connect_pending(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
}

/// Whether a server's bind sets `SO_REUSEADDR`: not on Windows, where it would let the bind
/// take a port that another socket listens on.
pub(crate) const SERVER_REUSES_ADDRESS: bool = false;

/// `WSAEACCES`: the port is bound by a socket with `SO_EXCLUSIVEADDRUSE`.
const WSAEACCES: i32 = 10013;

/// Whether a bind's `error` says that the port is in use: `WSAEADDRINUSE`, or `WSAEACCES`
/// (a socket with `SO_EXCLUSIVEADDRUSE` has it).
pub(crate) fn in_use(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::AddrInUse || error.raw_os_error() == Some(WSAEACCES)
}
