//! `tty` and `winch`: what a child on a pseudo-terminal sees (`Command::pty`).

use std::io::{self, IsTerminal};

/// `tty`: prints `tty in=<bool> out=<bool> err=<bool> size=<rows>x<cols>` (`size=none` when
/// stdout has no window size).
pub(crate) fn report() -> io::Result<()> {
    let line = format!(
        "tty in={} out={} err={} size={}\n",
        io::stdin().is_terminal(),
        io::stdout().is_terminal(),
        io::stderr().is_terminal(),
        size(),
    );
    super::write_flush(&mut io::stdout(), line.as_bytes())
}

/// `winch`: prints `winch ready`, waits for the window size to change (`SIGWINCH`), then
/// prints `winch <rows>x<cols>`. Where there is no `SIGWINCH`: `winch unsupported`.
pub(crate) fn winch() -> io::Result<()> {
    match sys::wait_for_winch(|| super::write_flush(&mut io::stdout(), b"winch ready\n"))? {
        true => super::write_flush(&mut io::stdout(), format!("winch {}\n", size()).as_bytes()),
        false => super::write_flush(&mut io::stdout(), b"winch unsupported\n"),
    }
}

/// Our stdout's window size as `<rows>x<cols>`, or `none`.
fn size() -> String {
    match sys::window_size() {
        Some((rows, cols)) => format!("{rows}x{cols}"),
        None => "none".to_string(),
    }
}

#[cfg(unix)]
mod sys {
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    /// `TIOCGWINSZ` on stdout.
    pub(super) fn window_size() -> Option<(u16, u16)> {
        let ws = rustix::termios::tcgetwinsize(rustix::stdio::stdout()).ok()?;
        Some((ws.ws_row, ws.ws_col))
    }

    /// Catches `SIGWINCH`, calls `ready`, and returns once the signal has come.
    pub(super) fn wait_for_winch(ready: impl FnOnce() -> io::Result<()>) -> io::Result<bool> {
        let got = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGWINCH, got.clone())?;
        ready()?;
        while !got.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(true)
    }
}

#[cfg(windows)]
mod sys {
    use std::io;

    /// The console window's size, if stdout is a console.
    pub(super) fn window_size() -> Option<(u16, u16)> {
        crate::sys::window_size()
    }

    /// Windows has no `SIGWINCH`.
    pub(super) fn wait_for_winch(_ready: impl FnOnce() -> io::Result<()>) -> io::Result<bool> {
        Ok(false)
    }
}
