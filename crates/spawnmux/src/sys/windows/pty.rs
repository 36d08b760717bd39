//! Pseudo-terminals on Windows (ConPTY): not built yet. A command with `pty` fails to spawn
//! with `Unsupported`, so no `PtyHandle` ever exists.

use std::io;

use crate::command::Command;
use crate::pty::PtySize;

/// A child's pseudo console (none can exist yet: see the module doc).
#[derive(Debug)]
pub(crate) enum PtyHandle {}

impl PtyHandle {
    /// Changes the console's size.
    pub(crate) fn resize(&self, _size: PtySize) -> io::Result<()> {
        match *self {}
    }
}

/// Refuses a command that asks for a pseudo-terminal.
pub(super) fn refuse(cmd: &Command) -> io::Result<()> {
    match cmd.pty {
        Some(_) => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "pseudo-terminals on Windows: not built yet",
        )),
        None => Ok(()),
    }
}
