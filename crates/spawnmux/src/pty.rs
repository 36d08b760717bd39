//! Pseudo-terminals: [`PtySize`], and the terminal settings a [`Command`](crate::Command)
//! carries ([`Command::pty`](crate::Command::pty), [`Command::pty_stdout`](crate::Command::pty_stdout)).

/// The size of a pseudo-terminal's window, in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PtySize {
    /// Lines.
    pub rows: u16,
    /// Columns.
    pub cols: u16,
}

impl Default for PtySize {
    /// 24 rows by 80 columns.
    fn default() -> PtySize {
        PtySize { rows: 24, cols: 80 }
    }
}

/// How a command's child is put on a pseudo-terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pty {
    /// The window size at spawn.
    pub(crate) size: PtySize,
    /// stderr is on the terminal too (`Command::pty`); otherwise it is a pipe.
    pub(crate) stderr_too: bool,
}
