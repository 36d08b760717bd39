//! Pseudo-terminals: [`PtySize`], and the terminal settings a [`Command`](crate::Command)
//! carries ([`Command::pty`](crate::Command::pty), [`Command::pty_stdout`](crate::Command::pty_stdout)).
//!
//! Programs decide by `isatty()` whether to colour their output, draw progress bars, print
//! their banner and read keys. A child on a pseudo-terminal sees a terminal; spawnmux holds
//! the terminal's other side (the *master*), reads what the child writes to it as ordinary
//! output and types [`Mux::write_stdin`](crate::Mux::write_stdin)'s bytes into it.

/// The size of a pseudo-terminal's window, in character cells.
///
/// ```
/// use spawnmux::PtySize;
///
/// assert_eq!(PtySize::default(), PtySize { rows: 24, cols: 80 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PtySize {
    /// Lines.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

impl Default for PtySize {
    /// 24 rows by 80 columns, the size of a VT100 (and what most programs assume without a
    /// terminal).
    fn default() -> PtySize {
        PtySize { rows: 24, cols: 80 }
    }
}

/// How a command's child is put on a pseudo-terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pty {
    /// The window size at spawn.
    pub(crate) size: PtySize,
    /// stderr is on the terminal too (`Command::pty`); otherwise it is a pipe
    /// (`Command::pty_stdout`).
    pub(crate) stderr_too: bool,
}
