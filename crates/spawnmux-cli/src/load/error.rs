//! The bottom of `load/`: [`LoadError`], the one error type of loading, and how an error
//! names where the value was written ([`At`] in an [`Origin`]). Imports nothing of the crate.

use std::fmt::{self, Write as _};
use std::ops::Range;
use std::path::{Path, PathBuf};

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

/// A file's text (a Procfile, a `.env` file), or `FILE: cannot read: why`.
pub(crate) fn read_text(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path)
        .map_err(|e| LoadError(format!("{}: cannot read: {e}", path.display())))
}

/// Where a value was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum At {
    /// Bytes of the file's text (spawnmux.toml): `FILE:LINE:COL: problem`.
    Span(Range<usize>),
    /// A line of the file (a Procfile), from 1: `FILE:LINE: problem`.
    Line(usize),
    /// The file as a whole: `FILE: problem`.
    File,
    /// A flag (or the commands after `--`): the problem alone, which names the flag.
    Flag(&'static str),
}

/// What values were read from: a file, or only the command line.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    file: Option<PathBuf>,
    /// The file's text, to turn an [`At::Span`] into a line and column (empty for files that
    /// give lines).
    text: String,
}

impl Origin {
    /// A file; `text` is needed for [`At::Span`] positions only.
    pub(crate) fn file(path: &Path, text: String) -> Origin {
        Origin {
            file: Some(path.to_path_buf()),
            text,
        }
    }

    /// The command line: no file.
    pub(crate) fn command_line() -> Origin {
        Origin {
            file: None,
            text: String::new(),
        }
    }

    /// The file's text (empty for files that give lines, and for the command line).
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The file's path, or `command line` (`RunSpec::origin`).
    pub(crate) fn name(&self) -> String {
        self.file
            .as_ref()
            .map_or_else(|| "command line".into(), |f| f.display().to_string())
    }

    /// `problem`, prefixed with the file and the position `at` names.
    pub(crate) fn error(&self, at: &At, problem: impl fmt::Display) -> LoadError {
        let Some(file) = self.file.as_ref().filter(|_| !matches!(at, At::Flag(_))) else {
            return LoadError(problem.to_string());
        };
        let file = file.display();
        LoadError(match at {
            At::Span(span) => {
                let before = &self.text[..span.start.min(self.text.len())];
                let line = before.matches('\n').count() + 1;
                let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
                format!("{file}:{line}:{col}: {problem}")
            }
            At::Line(line) => format!("{file}:{line}: {problem}"),
            At::File | At::Flag(_) => format!("{file}: {problem}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_file_and_the_position() {
        let toml = Origin::file(Path::new("s.toml"), "a = 1\nbb = 2\n".into());
        assert_eq!(toml.error(&At::Span(8..9), "no").0, "s.toml:2:3: no");
        assert_eq!(toml.error(&At::Span(0..1), "no").0, "s.toml:1:1: no");
        assert_eq!(toml.error(&At::File, "no").0, "s.toml: no");
        assert_eq!(toml.error(&At::Flag("--x"), "--x: no").0, "--x: no");
        let procfile = Origin::file(Path::new("Procfile"), String::new());
        assert_eq!(procfile.error(&At::Line(3), "no").0, "Procfile:3: no");
        let args = Origin::command_line();
        assert_eq!(args.error(&At::Flag("--names"), "no").0, "no");
        assert_eq!(
            (toml.name(), args.name()),
            ("s.toml".into(), "command line".into())
        );
    }
}
