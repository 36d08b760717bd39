//! [`LoadError`]: the one error type of loading, at the bottom of `load/` (every loader
//! returns it; it imports nothing of the crate).

use std::fmt::{self, Write as _};

/// A problem with the user's input (config file, Procfile, env file, arguments): one line,
/// naming the file, the position and the problem. `spawnmux` prints it and exits with 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadError(pub(crate) String);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line whatever the file held: control characters quoted from it (a `\n` from an
        // escape in a TOML or .env string, an ESC) are shown escaped.
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}
