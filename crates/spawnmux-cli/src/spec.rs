//! What `spawnmux run` runs: helpers, validated, whatever they came from (a `spawnmux.toml`,
//! a Procfile, or commands on the command line). The loaders (`config.rs`, `procfile.rs`)
//! produce a [`RunSpec`]; the runner only reads it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the runner needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RunSpec {
    /// Helpers in the order they were declared (the order of start when nothing else applies).
    pub(crate) helpers: Vec<HelperSpec>,
    /// Where the helpers came from, for messages ("spawnmux.toml", "Procfile", "command line").
    pub(crate) origin: String,
}

/// How a helper's program is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Program {
    /// argv form: run directly, no shell.
    Argv(Vec<String>),
    /// string form: run through `sh -c` (Unix) / `cmd /c` (Windows).
    Shell(String),
}

/// When to start a helper again after it exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Restart {
    /// Never (default).
    #[default]
    Never,
    /// When it exits with anything but success.
    OnFailure,
    /// Whenever it exits (unless spawnmux is stopping).
    Always,
}

/// One helper process.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HelperSpec {
    /// Unique name; the log prefix.
    pub(crate) name: String,
    pub(crate) program: Program,
    /// Working directory, already resolved against the config file's directory.
    pub(crate) cwd: Option<PathBuf>,
    /// Extra environment (on top of spawnmux's own environment).
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) restart: Restart,
    /// Restarts allowed before giving up on the helper (None: unlimited).
    pub(crate) max_restarts: Option<u32>,
    /// Unix signal number sent first when stopping (default SIGTERM); ignored on Windows
    /// (Ctrl+Break, then the job object).
    pub(crate) stop_signal: i32,
    /// How long to wait after `stop_signal` before killing the tree.
    pub(crate) stop_timeout: Duration,
    /// The helper counts as ready once a line (stdout or stderr) contains this; without it,
    /// as soon as it has started.
    pub(crate) ready_line: Option<String>,
    /// Helpers that must be ready before this one starts.
    pub(crate) depends_on: Vec<String>,
}

/// SIGTERM's number on every Unix spawnmux supports.
pub(crate) const SIGTERM: i32 = 15;

impl HelperSpec {
    /// A helper with every option at its default.
    pub(crate) fn new(name: impl Into<String>, program: Program) -> HelperSpec {
        HelperSpec {
            name: name.into(),
            program,
            cwd: None,
            env: BTreeMap::new(),
            restart: Restart::Never,
            max_restarts: None,
            stop_signal: SIGTERM,
            stop_timeout: Duration::from_secs(5),
            ready_line: None,
            depends_on: Vec::new(),
        }
    }
}
