//! The contenders. Each runs a set of children at once, counting every line where it reads
//! it, and does echo round trips.

mod async_process;
mod spawnmux;
mod spawnmux_tokio;
mod threads;
mod tokio;

use std::io;
use std::path::Path;
use std::time::Duration;

use crate::common::{Job, Tally};

pub use self::async_process::AsyncProcessPeer;
pub use self::spawnmux::SpawnmuxPeer;
pub use self::spawnmux_tokio::SpawnmuxTokioPeer;
pub use self::threads::{raw_read, raw_read_grown, std_output, ThreadsPeer};
pub use self::tokio::TokioPeer;

/// Read buffer per stream for every peer: the same 64 KiB spawnmux reads at a time (a
/// `BufReader`'s default 8 KiB would make the peers pay four times the syscalls).
pub const BUF: usize = 64 * 1024;

/// A way to run children and read their output.
pub trait Peer {
    /// Starts every job at once, calls `spawned` when all have been started, and returns one
    /// tally per job once every child has exited and both its streams are closed.
    fn run_all(
        &mut self,
        exe: &Path,
        jobs: &[Job],
        spawned: &mut dyn FnMut(),
    ) -> io::Result<Vec<Tally>>;

    /// Starts `spawnmux-testchild echo` and does `rounds` round trips: a line written to its
    /// stdin until it is read back from its stdout. Returns each round trip's time.
    fn echo(&mut self, exe: &Path, rounds: usize) -> io::Result<Vec<Duration>>;
}

/// The line sent in round trip `i` (fixed width, so every round moves the same bytes).
pub fn ping(i: usize, buf: &mut Vec<u8>) {
    use std::io::Write;
    buf.clear();
    let _ = writeln!(buf, "ping {i:010}");
}

/// Checks an echoed line (with its `\n`) against what was sent.
pub fn check_echo(sent: &[u8], got: &[u8]) -> io::Result<()> {
    if sent == got {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "echo mismatch: sent {:?}, got {:?}",
            String::from_utf8_lossy(sent),
            String::from_utf8_lossy(got)
        )))
    }
}

/// A `std::process::Stdio` for a job's stdin: the shared barrier pipe (duplicated) or null.
pub fn std_stdin(job: &Job) -> io::Result<std::process::Stdio> {
    Ok(match &job.stdin {
        Some(fd) => std::process::Stdio::from(fd.try_clone()?),
        None => std::process::Stdio::null(),
    })
}

fn missing(what: &str) -> io::Error {
    io::Error::other(format!("{what} was not captured"))
}
