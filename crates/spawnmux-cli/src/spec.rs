//! The plan: what `spawnmux run` runs, validated, whatever it came from (a `spawnmux.toml`, a
//! Procfile, or commands on the command line). `load/` produces a [`RunSpec`] (its last step,
//! `load/validate.rs`); the runner only reads it. Imports nothing of the crate.

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
    /// Watch mode: file changes trigger a rebuild and/or helper restarts.
    pub(crate) watch: Option<WatchSpec>,
    /// Things worth saying before anything starts (which of two files is used, …); the runner
    /// logs each as a `note` event.
    pub(crate) notes: Vec<String>,
}

/// What to do with a file change that arrives while the rebuild is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum OnBusy {
    /// Rebuild again once the running build has ended (default).
    #[default]
    Queue,
    /// Stop the running build (its whole tree) and start a new one.
    Restart,
    /// Drop the change.
    Ignore,
}

/// `[watch]` / `--watch`: the paths to watch and what a change does.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct WatchSpec {
    /// Directories (watched recursively) and files, absolute; they existed at load time.
    pub(crate) paths: Vec<PathBuf>,
    /// The directory paths are shown relative to and `ignore` patterns are rooted at (the
    /// config file's directory, or the current directory).
    pub(crate) base: PathBuf,
    /// gitignore-syntax patterns relative to `base`, on top of `.gitignore` / `.ignore` files
    /// (when `gitignore`) and the built-in excludes.
    pub(crate) ignore: Vec<String>,
    /// Honour `.gitignore`, `.ignore` and `.git/info/exclude`.
    pub(crate) gitignore: bool,
    /// What the build writes (directories or files, absolute): never a trigger.
    pub(crate) output: Vec<PathBuf>,
    /// Quiet time after the last change before acting.
    pub(crate) debounce: Duration,
    /// The rebuild command (a helper that is only started by changes).
    pub(crate) build: Option<HelperSpec>,
    /// Helpers restarted after a successful rebuild (or after every change, without `build`).
    pub(crate) restart: Vec<String>,
    pub(crate) on_busy: OnBusy,
    /// Poll the file system at this interval instead of using OS notifications.
    pub(crate) poll: Option<Duration>,
}

/// Default `debounce`.
pub(crate) const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(200);

impl WatchSpec {
    /// Watch `paths` with every option at its default.
    pub(crate) fn new(paths: Vec<PathBuf>, base: PathBuf) -> WatchSpec {
        WatchSpec {
            paths,
            base,
            ignore: Vec::new(),
            gitignore: true,
            output: Vec::new(),
            debounce: DEFAULT_DEBOUNCE,
            build: None,
            restart: Vec::new(),
            on_busy: OnBusy::Queue,
            poll: None,
        }
    }
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
    /// How long to wait for `ready_line` (more than zero; only set with `ready_line`).
    pub(crate) ready_timeout: Duration,
    /// Whether the helper is told to colour its output (`FORCE_COLOR`); `color = false` opts
    /// out.
    pub(crate) color: bool,
    /// Helpers that must be ready before this one starts.
    pub(crate) depends_on: Vec<String>,
}

/// Default `ready_timeout`.
pub(crate) const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// The name of spawnmux's own lines in the log (`spawnmux | stopping`); no helper may have it.
pub(crate) const RESERVED_NAME: &str = "spawnmux";

/// The one rule for helper names, whatever they come from (a `[helpers.NAME]` table,
/// `[watch] name`, a Procfile line, `--names`): not empty, only ASCII letters, digits, `.`,
/// `-` and `_`, and not `spawnmux`. No length limit. `Err` is the problem, worded to follow
/// the name in a message: "helper name `a b` may only contain …".
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("is empty".into());
    }
    if !name.chars().all(name_char) {
        return Err("may only contain ASCII letters, digits, `.`, `-` and `_`".into());
    }
    if name == RESERVED_NAME {
        return Err("is reserved (it names spawnmux's own lines in the log)".into());
    }
    Ok(())
}

/// Whether `c` may appear in a helper name.
pub(crate) fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
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
            ready_timeout: DEFAULT_READY_TIMEOUT,
            color: true,
            depends_on: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_for_names() {
        for ok in [
            "web",
            "web-2",
            "build_css",
            "web.sh",
            "A9",
            "-",
            "spawnmux-2",
            "Spawnmux",
        ] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_name(""), Err("is empty".into()));
        for bad in ["a b", "build:css", "caf\u{e9}", "a/b", "x\n", "web!"] {
            assert_eq!(
                check_name(bad),
                Err("may only contain ASCII letters, digits, `.`, `-` and `_`".into()),
                "{bad}"
            );
        }
        assert!(check_name("spawnmux")
            .expect_err("reserved")
            .starts_with("is reserved"));
    }
}
