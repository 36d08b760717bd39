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
