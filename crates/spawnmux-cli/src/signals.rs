//! Ctrl-C, SIGTERM and SIGHUP into the runner's one loop.
//!
//! Unix: the seed article's technique: signal-hook's handler writes a byte to a socket pair
//! whose other end is one of the `Mux`'s own sources, so a signal is just another readable
//! descriptor. Windows: the console control handler (Ctrl+C, Ctrl+Break, console close) runs on
//! a thread of its own and wakes the loop with a `Waker` whose token is the signal number
//! (SIGINT = 2).

use std::io;

use spawnmux::{Mux, SourceId};

/// Keeps the handlers installed; removes them when dropped.
pub(crate) struct Signals {
    #[cfg(unix)]
    installed: Vec<(SourceId, i32, signal_hook::SigId)>,
}

#[cfg(unix)]
pub(crate) fn install(mux: &mut Mux) -> io::Result<Signals> {
    use std::os::unix::net::UnixStream;
    let mut installed = Vec::new();
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
        // Not a stop: an exited child (ours or an orphan re-parented to us) to reap.
        signal_hook::consts::SIGCHLD,
    ] {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        let id = signal_hook::low_level::pipe::register(sig, write)?;
        let source = mux.add_source(read, spawnmux::Interest::Readable)?;
        installed.push((source, sig, id));
    }
    Ok(Signals { installed })
}

/// Whether `sig` (from [`Signals::drain`]) only says that a child exited.
#[cfg(unix)]
pub(crate) fn is_child_exit(sig: i32) -> bool {
    sig == signal_hook::consts::SIGCHLD
}

#[cfg(not(unix))]
pub(crate) fn is_child_exit(_sig: i32) -> bool {
    false
}

#[cfg(unix)]
impl Signals {
    /// The signal that `source` stands for, once per byte read (at least once).
    pub(crate) fn drain(&self, mux: &mut Mux, source: SourceId) -> Vec<i32> {
        use std::io::Read;
        let Some(&(_, sig, _)) = self.installed.iter().find(|(s, _, _)| *s == source) else {
            return Vec::new();
        };
        let mut n = 0;
        if let Some(stream) = mux.source_mut::<std::os::unix::net::UnixStream>(source) {
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

#[cfg(unix)]
impl Drop for Signals {
    fn drop(&mut self) {
        for (_, _, id) in &self.installed {
            signal_hook::low_level::unregister(*id);
        }
    }
}

#[cfg(not(unix))]
pub(crate) fn install(mux: &mut Mux) -> io::Result<Signals> {
    let waker = mux.waker(2);
    ctrlc::set_handler(move || {
        let _ = waker.wake();
    })
    .map_err(io::Error::other)?;
    Ok(Signals {})
}

#[cfg(not(unix))]
impl Signals {
    /// Windows has no signal sources in the loop (wake-ups arrive as `Woken`).
    pub(crate) fn drain(&self, _mux: &mut Mux, _source: SourceId) -> Vec<i32> {
        Vec::new()
    }
}
