//! Errors are [`std::io::Error`]s whose message names the operation and the program.
//!
//! The original OS error stays reachable: it is the error's [`source`](std::error::Error::source)
//! (and [`io::Error::get_ref`]), and the [`io::ErrorKind`] is kept, so
//! `err.kind() == io::ErrorKind::NotFound` still tells a missing program.

use std::error::Error as StdError;
use std::fmt;
use std::io;

/// An `io::Error` with what we were doing when it happened.
#[derive(Debug)]
struct Context {
    what: String,
    source: io::Error,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.source)
    }
}

impl StdError for Context {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.source)
    }
}

/// Wraps `err` so that its message starts with `what` ("spawning `node`", "reading stdout of
/// `web`"), keeping its kind.
pub(crate) fn context(err: io::Error, what: impl fmt::Display) -> io::Error {
    io::Error::new(
        err.kind(),
        Context {
            what: what.to_string(),
            source: err,
        },
    )
}

/// An error of `kind` with a plain message.
pub(crate) fn error(kind: io::ErrorKind, msg: impl fmt::Display) -> io::Error {
    io::Error::new(kind, msg.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_kind_and_source() {
        let e = context(io::Error::from(io::ErrorKind::NotFound), "spawning `nope`");
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(e.to_string().starts_with("spawning `nope`: "), "{e}");
        assert!(e.source().is_some());
    }
}
