//! spawnmux.toml, lowered: raw serde structs (unknown keys rejected, values kept with their
//! spans) -> a [`Draft`]. Only what TOML itself decides is checked here: UTF-8, syntax,
//! types, and the shape of a program (`command` or `shell`, `[watch] run`); `validate.rs`
//! checks the rest. Every error is one line, `FILE:LINE:COL: problem`, naming the key.

use std::collections::BTreeMap;
use std::path::Path;

use indexmap::IndexMap;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::draft::{BackoffDraft, CheckDraft, TargetDraft};
use super::draft::{ChecksDraft, Draft, Field, HelperDraft, Kind, Poll, WatchDraft, WatchPath};
use super::error::{At, LoadError, Origin};
use crate::spec::Program;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
/// The whole file.
struct RawConfig {
    #[serde(default)]
    helpers: IndexMap<String, Spanned<RawHelper>>,
    watch: Option<Spanned<RawWatch>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[watch]`.
struct RawWatch {
    #[serde(default)]
    paths: Vec<Spanned<String>>,
    #[serde(default)]
    ignore: Vec<Spanned<String>>,
    gitignore: Option<bool>,
    #[serde(default)]
    output: Vec<String>,
    debounce: Option<Spanned<String>>,
    run: Option<Spanned<toml::Value>>,
    name: Option<Spanned<String>>,
    cwd: Option<Spanned<String>>,
    #[serde(default)]
    env: BTreeMap<String, Spanned<String>>,
    stop_timeout: Option<Spanned<String>>,
    #[serde(default)]
    restart: Vec<Spanned<String>>,
    on_busy: Option<Spanned<String>>,
    poll: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
/// `[helpers.NAME]`.
struct RawHelper {
    command: Option<Spanned<Vec<String>>>,
    shell: Option<Spanned<String>>,
    cwd: Option<Spanned<String>>,
    #[serde(default)]
    env: BTreeMap<String, Spanned<String>>,
    env_file: Option<Spanned<toml::Value>>,
    restart: Option<Spanned<String>>,
    max_restarts: Option<Spanned<u32>>,
    backoff: Option<Spanned<RawBackoff>>,
    stop_signal: Option<Spanned<toml::Value>>,
    stop_timeout: Option<Spanned<String>>,
    ready_line: Option<String>,
    ready_timeout: Option<Spanned<String>>,
    color: Option<bool>,
    input: Option<Spanned<bool>>,
    tty: Option<Spanned<toml::Value>>,
    #[serde(default)]
    depends_on: RawDepends,
    #[serde(default)]
    restart_with: Vec<Spanned<String>>,
    ready_http: Option<Spanned<String>>,
    ready_tcp: Option<Spanned<String>>,
    ready_exec: Option<Spanned<toml::Value>>,
    ready_interval: Option<Spanned<String>>,
    ready_delay: Option<Spanned<String>>,
    alive_http: Option<Spanned<String>>,
    alive_tcp: Option<Spanned<String>>,
    alive_exec: Option<Spanned<toml::Value>>,
    alive_interval: Option<Spanned<String>>,
    alive_failures: Option<Spanned<u32>>,
    port: Option<Spanned<toml::Value>>,
    scale: Option<Spanned<i64>>,
    log_file: Option<Spanned<String>>,
    log_max_size: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
/// `backoff = { initial = "1s", max = "30s" }`.
struct RawBackoff {
    initial: Option<Spanned<String>>,
    max: Option<Spanned<String>>,
}

/// `depends_on`: a list of names, or a table of `name = "condition"` (conditions as written).
#[derive(Debug, Default)]
struct RawDepends {
    names: Vec<Spanned<String>>,
    conditions: Vec<(Spanned<String>, Spanned<String>)>,
}

impl<'de> Deserialize<'de> for RawDepends {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawDepends, D::Error> {
        struct Either;
        impl<'de> Visitor<'de> for Either {
            type Value = RawDepends;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of helper names or a table of name = \"condition\"")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawDepends, A::Error> {
                let mut deps = RawDepends::default();
                while let Some(name) = seq.next_element()? {
                    deps.names.push(name);
                }
                Ok(deps)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawDepends, A::Error> {
                let mut deps = RawDepends::default();
                while let Some((name, condition)) = map.next_entry::<Spanned<String>, _>()? {
                    deps.names.push(name.clone());
                    deps.conditions.push((name, condition));
                }
                Ok(deps)
            }
        }
        d.deserialize_any(Either)
    }
}

/// Reads and lowers a config file; `cwd`s will be resolved against its directory.
pub(crate) fn read(path: &Path) -> Result<Draft, LoadError> {
    let bytes = std::fs::read(path)
        .map_err(|e| LoadError(format!("{}: cannot read: {e}", path.display())))?;
    lower(path, bytes)
}

/// [`read`] on the file's contents, already read.
pub(crate) fn lower(path: &Path, bytes: Vec<u8>) -> Result<Draft, LoadError> {
    let origin = Origin::file(path, utf8(path, bytes)?);
    let raw: RawConfig = toml::from_str(origin.text()).map_err(|e| {
        let msg = e.message().trim_end().replace('\n', " ");
        origin.error(&e.span().map_or(At::File, At::Span), msg)
    })?;
    if raw.helpers.is_empty() && raw.watch.is_none() {
        let problem = "no helpers defined (add a [helpers.NAME] table)";
        return Err(origin.error(&At::File, problem));
    }
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut draft = Draft::new(origin, base.to_path_buf());
    for (name, helper) in &raw.helpers {
        let helper = lower_helper(&draft.origin, name, helper)?;
        draft.helpers.push(helper);
    }
    if let Some(w) = &raw.watch {
        draft.watch = Some(lower_watch(&draft.origin, base, w)?);
    }
    Ok(draft)
}

/// The text, or an error at the first byte that is not UTF-8.
fn utf8(path: &Path, bytes: Vec<u8>) -> Result<String, LoadError> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let col = at
            - bytes[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        LoadError(format!(
            "{}:{line}:{col}: not UTF-8 text (byte 0x{:02X}); a config must be UTF-8",
            path.display(),
            bytes[at]
        ))
    })
}

/// A value and its span.
fn field<T: Clone>(v: &Spanned<T>) -> Field<T> {
    Field::new(v.get_ref().clone(), At::Span(v.span()))
}

fn lower_helper(
    origin: &Origin,
    name: &str,
    raw: &Spanned<RawHelper>,
) -> Result<HelperDraft, LoadError> {
    let h = raw.get_ref();
    let program = helper_program(origin, name, raw)?;
    let name = Field::new(name.to_string(), At::Span(raw.span()));
    let mut draft = HelperDraft::new(Kind::Helper, name, program);
    let program_at = h.shell.as_ref().map(Spanned::span);
    draft.program_at = program_at
        .or(h.command.as_ref().map(Spanned::span))
        .map(At::Span);
    draft.cwd = h.cwd.as_ref().map(field);
    (draft.env, draft.env_at) = env(&h.env);
    draft.port = h.port.as_ref().map(field);
    draft.scale = h.scale.as_ref().map(field);
    if let Some(files) = &h.env_file {
        draft.env_files = env_files(origin, &draft.name.value, files)?;
    }
    draft.restart = h.restart.as_ref().map(field);
    draft.max_restarts = h.max_restarts.as_ref().map(|m| *m.get_ref());
    draft.backoff = h.backoff.as_ref().map(|b| BackoffDraft {
        at: At::Span(b.span()),
        initial: b.get_ref().initial.as_ref().map(field),
        max: b.get_ref().max.as_ref().map(field),
    });
    draft.stop_signal = h.stop_signal.as_ref().map(field);
    draft.stop_timeout = h.stop_timeout.as_ref().map(field);
    draft.ready_line = h.ready_line.clone();
    draft.ready_timeout = h.ready_timeout.as_ref().map(field);
    draft.color = h.color;
    draft.input = h.input.as_ref().map(field);
    draft.tty = h.tty.as_ref().map(field);
    draft.depends_on = h.depends_on.names.iter().map(field).collect();
    let conditions = h.depends_on.conditions.iter();
    draft.conditions = conditions.map(|(n, c)| (field(n), field(c))).collect();
    draft.restart_with = h.restart_with.iter().map(field).collect();
    draft.log_file = h.log_file.as_ref().map(field);
    draft.log_max_size = h.log_max_size.as_ref().map(field);
    let checks = lower_checks(origin, &draft.name.value, h)?;
    draft.checks = checks;
    Ok(draft)
}

/// `env_file`: a path or a list of paths, each with its span (a list's items share the
/// list's).
fn env_files(
    origin: &Origin,
    name: &str,
    raw: &Spanned<toml::Value>,
) -> Result<Vec<Field<String>>, LoadError> {
    let at = At::Span(raw.span());
    let paths = match raw.get_ref() {
        toml::Value::String(path) => Some(vec![path.clone()]),
        toml::Value::Array(items) => items.iter().map(|i| i.as_str().map(String::from)).collect(),
        _ => None,
    };
    let problem = format!("`env_file` of helper `{name}` must be a path or a list of paths");
    let paths = paths.ok_or_else(|| origin.error(&at, problem))?;
    Ok(paths
        .into_iter()
        .map(|p| Field::new(p, at.clone()))
        .collect())
}

/// `env`: its values, and where each was written.
fn env(
    raw: &BTreeMap<String, Spanned<String>>,
) -> (BTreeMap<String, String>, BTreeMap<String, At>) {
    let values = raw.iter().map(|(k, v)| (k.clone(), v.get_ref().clone()));
    let at = raw.iter().map(|(k, v)| (k.clone(), At::Span(v.span())));
    (values.collect(), at.collect())
}

/// The readiness and liveness keys, as written.
fn lower_checks(origin: &Origin, name: &str, h: &RawHelper) -> Result<ChecksDraft, LoadError> {
    let ready = ["ready_http", "ready_tcp", "ready_exec"];
    let alive = ["alive_http", "alive_tcp", "alive_exec"];
    Ok(ChecksDraft {
        ready: checks(
            origin,
            name,
            ready,
            &h.ready_http,
            &h.ready_tcp,
            &h.ready_exec,
        )?,
        ready_interval: h.ready_interval.as_ref().map(field),
        ready_delay: h.ready_delay.as_ref().map(field),
        alive: checks(
            origin,
            name,
            alive,
            &h.alive_http,
            &h.alive_tcp,
            &h.alive_exec,
        )?,
        alive_interval: h.alive_interval.as_ref().map(field),
        alive_failures: h.alive_failures.as_ref().map(field),
    })
}

/// Each of the `_http`, `_tcp` and `_exec` keys given (`keys` names them).
fn checks(
    origin: &Origin,
    name: &str,
    keys: [&'static str; 3],
    http: &Option<Spanned<String>>,
    tcp: &Option<Spanned<String>>,
    exec: &Option<Spanned<toml::Value>>,
) -> Result<Vec<CheckDraft>, LoadError> {
    let draft = |key, span, target| CheckDraft {
        key,
        at: At::Span(span),
        target,
    };
    let mut found = Vec::new();
    if let Some(url) = http {
        found.push(draft(
            keys[0],
            url.span(),
            TargetDraft::Http(url.get_ref().clone()),
        ));
    }
    if let Some(addr) = tcp {
        found.push(draft(
            keys[1],
            addr.span(),
            TargetDraft::Tcp(addr.get_ref().clone()),
        ));
    }
    if let Some(run) = exec {
        let what = format!("`{}` of helper `{name}`", keys[2]);
        let program = TargetDraft::Exec(run_program(origin, run, &what)?);
        found.push(draft(keys[2], run.span(), program));
    }
    Ok(found)
}

/// `command` (argv) or `shell` (a string): one of them, not empty.
fn helper_program(
    origin: &Origin,
    name: &str,
    raw: &Spanned<RawHelper>,
) -> Result<Program, LoadError> {
    let RawHelper { command, shell, .. } = raw.get_ref();
    let (at, problem) = match (command, shell) {
        (Some(_), Some(shell)) => (
            shell.span(),
            format!("helper `{name}` has both `command` and `shell`; keep one"),
        ),
        (None, None) => (
            raw.span(),
            format!("helper `{name}` needs `command` (a list) or `shell` (a string)"),
        ),
        (Some(argv), None) if argv.get_ref().is_empty() || argv.get_ref()[0].is_empty() => (
            argv.span(),
            format!("`command` of helper `{name}` is empty"),
        ),
        (Some(argv), None) => return Ok(Program::Argv(argv.get_ref().clone())),
        (None, Some(shell)) if shell.get_ref().trim().is_empty() => {
            (shell.span(), format!("`shell` of helper `{name}` is empty"))
        }
        (None, Some(shell)) => return Ok(Program::Shell(shell.get_ref().clone())),
    };
    Err(origin.error(&At::Span(at), problem))
}

/// `[watch]`; its paths and outputs resolved against the config file's directory.
fn lower_watch(
    origin: &Origin,
    base: &Path,
    raw: &Spanned<RawWatch>,
) -> Result<WatchDraft, LoadError> {
    let at = At::Span(raw.span());
    let w = raw.get_ref();
    let abs_base = std::path::absolute(base)
        .map_err(|e| origin.error(&at, format!("[watch]: {}: {e}", base.display())))?;
    let mut draft = WatchDraft::new(at, abs_base.clone());
    for p in &w.paths {
        let (written, full) = (p.get_ref().clone(), abs_base.join(p.get_ref()));
        draft
            .paths
            .push(Field::new(WatchPath { written, full }, At::Span(p.span())));
    }
    draft.ignore = w.ignore.iter().map(field).collect();
    draft.gitignore = w.gitignore;
    draft.output = w.output.iter().map(|o| abs_base.join(o)).collect();
    draft.debounce = w.debounce.as_ref().map(field);
    draft.on_busy = w.on_busy.as_ref().map(field);
    draft.poll = w.poll.as_ref().map(|p| poll(origin, p)).transpose()?;
    draft.restart = w.restart.iter().map(field).collect();
    draft.build = build(origin, w)?;
    Ok(draft)
}

/// `poll`: true, false or a duration.
fn poll(origin: &Origin, raw: &Spanned<toml::Value>) -> Result<Poll, LoadError> {
    match raw.get_ref() {
        toml::Value::Boolean(true) => Ok(Poll::Default),
        toml::Value::Boolean(false) => Ok(Poll::Off),
        toml::Value::String(s) => Ok(Poll::Every(Field::new(s.clone(), At::Span(raw.span())))),
        other => Err(origin.error(
            &At::Span(raw.span()),
            format!("[watch] poll must be true, false or a duration like \"1s\", not {other}"),
        )),
    }
}

/// The rebuild: `run` with `name`, `cwd`, `env` and `stop_timeout`, a helper of its own.
fn build(origin: &Origin, w: &RawWatch) -> Result<Option<HelperDraft>, LoadError> {
    let Some(run) = &w.run else {
        let orphan = [("name", &w.name), ("cwd", &w.cwd)]
            .into_iter()
            .find_map(|(key, value)| value.as_ref().map(|v| (key, v.span())));
        let Some((key, span)) = orphan else {
            return Ok(None);
        };
        let problem = format!("[watch] {key} is for the `run` command, and there is none");
        return Err(origin.error(&At::Span(span), problem));
    };
    let name = match &w.name {
        Some(n) => field(n),
        None => Field::new("build".to_string(), At::Span(run.span())),
    };
    let program = run_program(origin, run, "[watch] run")?;
    let mut build = HelperDraft::new(Kind::Build, name, program);
    build.program_at = Some(At::Span(run.span()));
    build.cwd = w.cwd.as_ref().map(field);
    (build.env, build.env_at) = env(&w.env);
    build.stop_timeout = w.stop_timeout.as_ref().map(field);
    Ok(Some(build))
}

/// `run`, `ready_exec`, `alive_exec` (`what` names the key): a non-empty list of strings
/// (argv) or a non-empty string (shell).
fn run_program(
    origin: &Origin,
    run: &Spanned<toml::Value>,
    what: &str,
) -> Result<Program, LoadError> {
    match run.get_ref() {
        toml::Value::String(s) if !s.trim().is_empty() => Ok(Program::Shell(s.clone())),
        toml::Value::Array(items)
            if !items.is_empty()
                && items.iter().all(|i| i.is_str())
                && items[0].as_str().is_some_and(|s| !s.is_empty()) =>
        {
            let argv = items.iter().filter_map(|i| i.as_str().map(String::from));
            Ok(Program::Argv(argv.collect()))
        }
        _ => Err(origin.error(
            &At::Span(run.span()),
            format!(
                "{what} must be a non-empty list of strings (argv) or a non-empty string (shell)"
            ),
        )),
    }
}
