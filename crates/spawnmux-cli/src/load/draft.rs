//! The one intermediate form: what every source lowers to (`config.rs` for spawnmux.toml,
//! `procfile.rs`, `adhoc.rs` for the commands after `--`, `flags.rs` for the watch flags)
//! before anything is checked. A [`Draft`] holds settings *as written* (text, with where it
//! was written); `validate.rs` alone interprets and checks them, the same way whatever their
//! source, and turns the draft into the plan (`crate::spec`).
//!
//! The sources check only what their own syntax requires: a TOML type, a Procfile line's
//! `name: command` shape, a program that is not empty.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::error::{At, Origin};
use crate::spec::{Program, RESERVED_NAME};

/// What `spawnmux run` was asked to run, not yet checked.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    /// What it was read from, for messages.
    pub(crate) origin: Origin,
    /// The directory relative `cwd`s are resolved against (the config file's).
    pub(crate) base: PathBuf,
    pub(crate) helpers: Vec<HelperDraft>,
    pub(crate) watch: Option<WatchDraft>,
    /// Things to say before anything starts (`RunSpec::notes`).
    pub(crate) notes: Vec<String>,
}

impl Draft {
    /// No helpers yet, from `origin`, with `cwd`s relative to `base`.
    pub(crate) fn new(origin: Origin, base: PathBuf) -> Draft {
        Draft {
            origin,
            base,
            helpers: Vec::new(),
            watch: None,
            notes: Vec::new(),
        }
    }

    /// `base`, or else the first of `base-2`, `base-3`, … that no helper has (nor spawnmux's
    /// own lines).
    pub(crate) fn free_name(&self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 1;
        while name == RESERVED_NAME || self.helpers.iter().any(|h| h.name.value == name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        name
    }
}

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field<T> {
    pub(crate) value: T,
    pub(crate) at: At,
}

impl<T> Field<T> {
    pub(crate) fn new(value: T, at: At) -> Field<T> {
        Field { value, at }
    }
}

/// How a helper was written; it decides how messages name the helper and its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A `[helpers.NAME]` table.
    Helper,
    /// The rebuild: `[watch] run`, or `--on-change`.
    Build,
    /// A Procfile line.
    Process,
    /// A command after `--`.
    Command,
}

/// One helper as written; `None` is "not given" (the plan's default applies).
#[derive(Debug, Clone)]
pub(crate) struct HelperDraft {
    pub(crate) kind: Kind,
    pub(crate) name: Field<String>,
    /// Checked by the source (never empty).
    pub(crate) program: Program,
    pub(crate) cwd: Option<Field<String>>,
    pub(crate) env: BTreeMap<String, String>,
    /// `env_file`: paths as written, relative to the config file's directory.
    pub(crate) env_files: Vec<Field<String>>,
    pub(crate) restart: Option<Field<String>>,
    pub(crate) max_restarts: Option<u32>,
    pub(crate) backoff: Option<BackoffDraft>,
    /// A name or a number, as TOML gives it (only spawnmux.toml has the key).
    pub(crate) stop_signal: Option<Field<toml::Value>>,
    pub(crate) stop_timeout: Option<Field<String>>,
    pub(crate) ready_line: Option<String>,
    pub(crate) ready_timeout: Option<Field<String>>,
    pub(crate) color: Option<bool>,
    /// `input = true`.
    pub(crate) input: Option<Field<bool>>,
    /// `tty`: `true`, `false` or `"stdout"` as TOML gives it (`--tty`: `true`).
    pub(crate) tty: Option<Field<toml::Value>>,
    pub(crate) depends_on: Vec<Field<String>>,
    /// `depends_on`'s table form: (dependency, condition) as written.
    pub(crate) conditions: Vec<(Field<String>, Field<String>)>,
    pub(crate) restart_with: Vec<Field<String>>,
    pub(crate) checks: ChecksDraft,
    /// `port`: a number or `"auto"`, as TOML gives it (only spawnmux.toml has the key).
    pub(crate) port: Option<Field<toml::Value>>,
    /// `scale`: how many copies to run.
    pub(crate) scale: Option<Field<i64>>,
    /// Where spawnmux.toml wrote the program (`command`, `shell`, `[watch] run`). `None`: it
    /// comes from elsewhere (a Procfile, the command line), where `${…}` is the shell's.
    pub(crate) program_at: Option<At>,
    /// Where spawnmux.toml wrote each `env` value (values from `-e` files have none).
    pub(crate) env_at: BTreeMap<String, At>,
    /// `log_file`: a path as written, relative to the config file's directory.
    pub(crate) log_file: Option<Field<String>>,
    /// An integer or a string, as TOML gives it.
    pub(crate) log_max_size: Option<Field<toml::Value>>,
}

/// `backoff = { initial, max }` as written (only spawnmux.toml has it).
#[derive(Debug, Clone)]
pub(crate) struct BackoffDraft {
    /// The table.
    pub(crate) at: At,
    pub(crate) initial: Option<Field<String>>,
    pub(crate) max: Option<Field<String>>,
}

/// The readiness and liveness checks of a helper, as written (only spawnmux.toml has them).
#[derive(Debug, Clone, Default)]
pub(crate) struct ChecksDraft {
    /// `ready_http`, `ready_tcp`, `ready_exec`: every one given (at most one is valid).
    pub(crate) ready: Vec<CheckDraft>,
    pub(crate) ready_interval: Option<Field<String>>,
    pub(crate) ready_delay: Option<Field<String>>,
    /// `alive_http`, `alive_tcp`, `alive_exec`.
    pub(crate) alive: Vec<CheckDraft>,
    pub(crate) alive_interval: Option<Field<String>>,
    pub(crate) alive_failures: Option<Field<u32>>,
}

/// One check key (`ready_tcp = "127.0.0.1:5432"`) as written.
#[derive(Debug, Clone)]
pub(crate) struct CheckDraft {
    /// The key, for messages.
    pub(crate) key: &'static str,
    pub(crate) at: At,
    pub(crate) target: TargetDraft,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TargetDraft {
    /// A URL, not yet parsed.
    Http(String),
    /// `host:port`, not yet parsed.
    Tcp(String),
    /// Checked by the source (never empty).
    Exec(Program),
}

impl HelperDraft {
    /// `name` running `program`, nothing else given.
    pub(crate) fn new(kind: Kind, name: Field<String>, program: Program) -> HelperDraft {
        HelperDraft {
            kind,
            name,
            program,
            cwd: None,
            env: BTreeMap::new(),
            env_files: Vec::new(),
            restart: None,
            max_restarts: None,
            backoff: None,
            stop_signal: None,
            stop_timeout: None,
            ready_line: None,
            ready_timeout: None,
            color: None,
            input: None,
            tty: None,
            depends_on: Vec::new(),
            conditions: Vec::new(),
            restart_with: Vec::new(),
            checks: ChecksDraft::default(),
            log_file: None,
            log_max_size: None,
            port: None,
            scale: None,
            program_at: None,
            env_at: BTreeMap::new(),
        }
    }
}

/// `[watch]` and the watch flags, as written.
#[derive(Debug, Clone)]
pub(crate) struct WatchDraft {
    /// The `[watch]` table, or `--watch` when only flags asked for watch mode.
    pub(crate) at: At,
    /// Absolute: what paths are shown relative to and `ignore` patterns are rooted at.
    pub(crate) base: PathBuf,
    pub(crate) paths: Vec<Field<WatchPath>>,
    pub(crate) ignore: Vec<Field<String>>,
    pub(crate) gitignore: Option<bool>,
    /// Absolute; never checked (a build may create them).
    pub(crate) output: Vec<PathBuf>,
    pub(crate) debounce: Option<Field<String>>,
    pub(crate) on_busy: Option<Field<String>>,
    pub(crate) poll: Option<Poll>,
    /// The rebuild (kind [`Kind::Build`]).
    pub(crate) build: Option<HelperDraft>,
    /// Names of helpers to restart.
    pub(crate) restart: Vec<Field<String>>,
}

impl WatchDraft {
    /// Nothing given yet.
    pub(crate) fn new(at: At, base: PathBuf) -> WatchDraft {
        WatchDraft {
            at,
            base,
            paths: Vec::new(),
            ignore: Vec::new(),
            gitignore: None,
            output: Vec::new(),
            debounce: None,
            on_busy: None,
            poll: None,
            build: None,
            restart: Vec::new(),
        }
    }
}

/// A path to watch: as written (for messages) and resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WatchPath {
    pub(crate) written: String,
    pub(crate) full: PathBuf,
}

/// `poll` / `--poll`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Poll {
    /// `poll = false`: OS notifications.
    Off,
    /// `poll = true`, `--poll` without a value: the default interval.
    Default,
    /// An interval, a duration as written.
    Every(Field<String>),
}
