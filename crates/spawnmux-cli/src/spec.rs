//! The plan: what `spawnmux run` runs, validated, whatever it came from (a `spawnmux.toml`, a
//! Procfile, or commands on the command line). `load/` produces a [`RunSpec`] (its last step,
//! `load/validate.rs`); the runner only reads it. Imports nothing of the crate.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
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

/// `tty`: whether the helper runs on a pseudo-terminal of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Tty {
    /// Pipes (default).
    #[default]
    Off,
    /// `tty = true`: stdin, stdout and stderr on the terminal (one stream: every line is
    /// stdout, level info).
    All,
    /// `tty = "stdout"`: stdin and stdout on the terminal, stderr a pipe (warnings stay
    /// warnings).
    Stdout,
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

/// `backoff`: the restart policy waits `initial` before the first restart, then twice as long
/// before each next one, up to `max` (`0 < initial <= max`). A helper that stayed up 10 s
/// starts from `initial` again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    /// Without `backoff`: 1 s, doubling up to 30 s.
    pub(crate) const DEFAULT: Backoff = Backoff {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(30),
    };
}

/// One helper process.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HelperSpec {
    /// Unique name; the log prefix.
    pub(crate) name: String,
    pub(crate) program: Program,
    /// Working directory, already resolved against the config file's directory.
    pub(crate) cwd: Option<PathBuf>,
    /// Extra environment (on top of spawnmux's own environment): the helper's `env`, over the
    /// `-e` files' variables, over its `env_file`s' (already read).
    pub(crate) env: BTreeMap<String, String>,
    /// Its `env_file`s, resolved (for `spawnmux check`; their variables are in `env`).
    pub(crate) env_files: Vec<PathBuf>,
    pub(crate) restart: Restart,
    /// Restarts allowed before giving up on the helper (None: unlimited).
    pub(crate) max_restarts: Option<u32>,
    /// The delay before each restart of the restart policy.
    pub(crate) backoff: Backoff,
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
    /// Helpers that must be ready (or meet their [`Condition`]) before this one starts.
    pub(crate) depends_on: Vec<String>,
    /// `depends_on`'s table form: the condition of each dependency named there (a name not
    /// in it: [`Condition::Ready`]).
    pub(crate) conditions: BTreeMap<String, Condition>,
    /// Dependencies whose restart restarts this helper too (each is also in `depends_on`).
    pub(crate) restart_with: Vec<String>,
    /// `ready_http` / `ready_tcp` / `ready_exec` (never with `ready_line`).
    pub(crate) ready_check: Option<Check>,
    /// Before the first readiness attempt after a start.
    pub(crate) ready_delay: Duration,
    /// `alive_http` / `alive_tcp` / `alive_exec`: checked once ready.
    pub(crate) alive_check: Option<Check>,
    /// Consecutive failed liveness attempts that restart the helper.
    pub(crate) alive_failures: u32,
    /// `log_file`: where its raw output is appended too.
    pub(crate) log_file: Option<LogFile>,
    /// `port`: given to the helper as `PORT`; a restart waits until it is free again.
    pub(crate) port: Option<Port>,
    /// A copy made by `scale = N` (`web.2`): the helper's name as written (`web`).
    pub(crate) copy_of: Option<String>,
    /// The input helper: lines typed into spawnmux's terminal without a `NAME:` go to its
    /// stdin (`input = true`, `--handle-input`). At most one helper has it; when one does,
    /// spawnmux reads its stdin and every helper's stdin is a pipe from spawnmux.
    pub(crate) input: bool,
    /// `tty` / `--tty`.
    pub(crate) tty: Tty,
}

/// `log_file` and `log_max_size`: a helper's output, line by line as it came (stdout and
/// stderr, no time, name or colour added, its own bytes unchanged), appended to `path`; before
/// a write would take the file past `max_size` it is renamed `PATH.1` (`PATH.1` to `PATH.2`, …,
/// [`LogFile::KEEP`] old files kept) and a new one begun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogFile {
    /// Absolute.
    pub(crate) path: PathBuf,
    /// More than 0.
    pub(crate) max_size: u64,
}

impl LogFile {
    /// Default `log_max_size`: 10 MiB.
    pub(crate) const DEFAULT_MAX_SIZE: u64 = 10 << 20;
    /// Old files kept: `PATH.1` (the newest) to `PATH.3`.
    pub(crate) const KEEP: u32 = 3;

    /// `PATH.n`, the `n`th newest old file (from 1).
    pub(crate) fn old(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }
}

/// A helper's port (`port = 5173`, `port = "auto"`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Port {
    pub(crate) number: u16,
    /// Chosen by spawnmux (`"auto"`).
    pub(crate) auto: bool,
    /// An `auto` port's hold, until the helper starts.
    pub(crate) held: Held,
}

/// A listening socket (127.0.0.1) that keeps a port chosen with `port = "auto"` from other
/// processes until its helper is about to start ([`Held::release`]). Clones share the socket
/// (the supervisor's copy of the plan and the runner's are the same hold), and any two are
/// equal: a hold is not part of what the plan says.
#[derive(Debug, Clone, Default)]
pub(crate) struct Held(Option<Arc<Mutex<Option<TcpListener>>>>);

impl Held {
    /// Holds the port `socket` is bound to.
    pub(crate) fn new(socket: TcpListener) -> Held {
        Held(Some(Arc::new(Mutex::new(Some(socket)))))
    }

    /// Closes the socket (every clone's): the port is free for the helper.
    pub(crate) fn release(&self) {
        if let Some(socket) = &self.0 {
            socket.lock().unwrap_or_else(PoisonError::into_inner).take();
        }
    }

    /// Whether the port is still held.
    #[cfg(test)]
    pub(crate) fn holds(&self) -> bool {
        self.0.as_ref().is_some_and(|socket| {
            socket
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some()
        })
    }
}

impl PartialEq for Held {
    fn eq(&self, _: &Held) -> bool {
        true
    }
}

/// What a dependency must have done before its dependent starts (`depends_on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    /// Started (its main process was spawned) at least once.
    Started,
    /// Ready since its last start (its `ready_line` or readiness check; at once without).
    Ready,
    /// Ended for good (not restarted any more), whatever its exit code.
    Completed,
    /// Ended for good with exit code 0.
    CompletedSuccessfully,
}

impl Condition {
    /// As written in spawnmux.toml, in the order the docs list them.
    pub(crate) const NAMES: [(&'static str, Condition); 4] = [
        ("started", Condition::Started),
        ("ready", Condition::Ready),
        ("completed", Condition::Completed),
        ("completed_successfully", Condition::CompletedSuccessfully),
    ];

    pub(crate) fn name(self) -> &'static str {
        Condition::NAMES
            .iter()
            .find(|(_, c)| *c == self)
            .map_or("ready", |(n, _)| n)
    }
}

/// A readiness or liveness check: what is tried, and how often.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Check {
    pub(crate) target: Target,
    /// Between the starts of two attempts; also each attempt's timeout.
    pub(crate) interval: Duration,
}

/// What a [`Check`] tries.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Target {
    /// A TCP connection is accepted by one of the addresses.
    Tcp(Addresses),
    /// `GET path` answers with a 2xx or 3xx status.
    Http {
        at: Addresses,
        /// The `Host` header.
        host: String,
        path: String,
    },
    /// The command exits with 0 (run like a helper: its `cwd`, its `env`).
    Exec(Program),
}

/// Where to connect: resolved at load time (IP literals, `localhost`), no DNS lookup.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Addresses {
    pub(crate) addrs: Vec<SocketAddr>,
    /// As written (the URL, or `host:port`), for the log.
    pub(crate) written: String,
}

/// Default `ready_interval` and `alive_interval`.
pub(crate) const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_millis(500);
/// Default `alive_failures`.
pub(crate) const DEFAULT_ALIVE_FAILURES: u32 = 3;

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Tcp(at) => write!(f, "tcp {}", at.written),
            Target::Http { at, .. } => write!(f, "{}", at.written),
            Target::Exec(Program::Argv(v)) => write!(f, "`{}`", v.join(" ")),
            Target::Exec(Program::Shell(s)) => write!(f, "`{s}`"),
        }
    }
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

impl HelperSpec {
    /// A helper with every option at its default.
    pub(crate) fn new(name: impl Into<String>, program: Program) -> HelperSpec {
        HelperSpec {
            name: name.into(),
            program,
            cwd: None,
            env: BTreeMap::new(),
            env_files: Vec::new(),
            restart: Restart::Never,
            max_restarts: None,
            backoff: Backoff::DEFAULT,
            stop_signal: crate::os::SIGTERM,
            stop_timeout: Duration::from_secs(5),
            ready_line: None,
            ready_timeout: DEFAULT_READY_TIMEOUT,
            color: true,
            depends_on: Vec::new(),
            conditions: BTreeMap::new(),
            restart_with: Vec::new(),
            ready_check: None,
            ready_delay: Duration::ZERO,
            alive_check: None,
            alive_failures: DEFAULT_ALIVE_FAILURES,
            log_file: None,
            port: None,
            copy_of: None,
            input: false,
            tty: Tty::Off,
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
