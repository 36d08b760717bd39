//! The draft, checked and turned into the plan (`crate::spec`): names, dependencies and
//! cycles, paths, durations, signals and modes, for every source alike. A helper and the
//! rebuild are checked by the same code ([`helper`]); only the wording differs, after how the
//! value was written ([`Kind`], [`At::Flag`]). Every error names the file and position (or
//! the flag), the key and the value.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::draft::{BackoffDraft, Draft, Field, HelperDraft, Kind, Poll, WatchDraft, WatchPath};
use super::error::{At, LoadError, Origin};
use crate::spec::{check_name, Backoff, HelperSpec, OnBusy, Restart, RunSpec, Tty, WatchSpec};

mod checks;
mod files;
mod ports;
mod references;

/// The plan, or the first problem of the draft.
pub(crate) fn plan(draft: &Draft) -> Result<RunSpec, LoadError> {
    for (i, h) in draft.helpers.iter().enumerate() {
        name(&draft.origin, h, &draft.helpers[..i])?;
    }
    // Copies (`scale`), ports and `${…}` references: the rest checks what they make.
    let (draft, extras) = ports::expand(draft)?;
    let draft = &draft;
    let mut helpers = Vec::new();
    for (h, extra) in draft.helpers.iter().zip(extras) {
        let mut spec = helper(&draft.origin, &draft.base, h)?;
        (spec.port, spec.copy_of) = (extra.port, extra.copy_of);
        helpers.push(spec);
    }
    dependencies(draft, &helpers)?;
    files::distinct_log_files(&draft.origin, &draft.helpers, &helpers)?;
    let watch = match &draft.watch {
        Some(w) => Some(watch(draft, w, &helpers)?),
        None => None,
    };
    let watch = watch.map(|w| files::unwatched_logs(w, &helpers));
    Ok(RunSpec {
        helpers,
        origin: draft.origin.name(),
        watch,
        notes: draft.notes.clone(),
    })
}

/// The one rule for names (`spec::check_name`), and not a name one of `others` has.
fn name(origin: &Origin, h: &HelperDraft, others: &[HelperDraft]) -> Result<(), LoadError> {
    let name = &h.name.value;
    let problem = match check_name(name) {
        Err(problem) => match h.kind {
            Kind::Helper => format!("helper name `{name}` {problem}"),
            Kind::Build => format!("[watch] name `{name}` {problem}"),
            Kind::Process => format!("process name `{name}` {problem}"),
            Kind::Command => format!("--names: `{name}` {problem}"),
        },
        Ok(()) if others.iter().any(|o| o.name.value == *name) => match h.kind {
            Kind::Helper => format!("helper `{name}` is defined twice"),
            Kind::Build => {
                format!("[watch] the build's name `{name}` is taken; set [watch] name = \"...\"")
            }
            Kind::Process => format!("process `{name}` is defined twice"),
            Kind::Command => format!("--names: `{name}` is given twice"),
        },
        Ok(()) => return Ok(()),
    };
    Err(origin.error(&h.name.at, problem))
}

/// How messages name a key of `h`: "`cwd` of helper `web`", "[watch] cwd".
fn key(h: &HelperDraft, key: &str) -> String {
    match h.kind {
        Kind::Build => format!("[watch] {key}"),
        Kind::Helper | Kind::Process | Kind::Command => {
            format!("`{key}` of helper `{}`", h.name.value)
        }
    }
}

/// One helper's settings (its name is checked by [`name`]); `cwd` relative to `base`.
fn helper(origin: &Origin, base: &Path, h: &HelperDraft) -> Result<HelperSpec, LoadError> {
    let mut spec = HelperSpec::new(h.name.value.clone(), h.program.clone());
    if let Some(cwd) = &h.cwd {
        spec.cwd = Some(existing_dir(origin, base, cwd, &key(h, "cwd"))?);
    }
    spec.env = h.env.clone();
    files::env_files(origin, base, h, &mut spec)?;
    if let Some(r) = &h.restart {
        let modes = [
            ("never", Restart::Never),
            ("on-failure", Restart::OnFailure),
            ("always", Restart::Always),
        ];
        spec.restart = one_of(origin, r, &key(h, "restart"), &modes)?;
    }
    spec.max_restarts = h.max_restarts;
    if let Some(b) = &h.backoff {
        spec.backoff = backoff(origin, h, b, spec.restart)?;
    }
    if let Some(sig) = &h.stop_signal {
        spec.stop_signal = signal_number(&sig.value).ok_or_else(|| {
            let problem = format!("{}: unknown signal {}", key(h, "stop_signal"), sig.value);
            origin.error(&sig.at, problem)
        })?;
    }
    if let Some(t) = &h.stop_timeout {
        spec.stop_timeout = duration(origin, t, &key(h, "stop_timeout"))?;
    }
    spec.ready_line = h.ready_line.clone();
    checks::checks(origin, h, &mut spec)?;
    files::log_file(origin, base, h, &mut spec)?;
    if let Some(t) = &h.ready_timeout {
        let key = key(h, "ready_timeout");
        let waits = spec.ready_line.is_some() || spec.ready_check.is_some();
        spec.ready_timeout = ready_timeout(origin, t, &key, waits)?;
    }
    spec.color = h.color.unwrap_or(true);
    spec.input = h.input.as_ref().is_some_and(|i| i.value);
    if let Some(t) = &h.tty {
        spec.tty = tty(origin, t, &key(h, "tty"))?;
    }
    spec.depends_on = h.depends_on.iter().map(|d| d.value.clone()).collect();
    checks::relations(origin, h, &mut spec)?;
    Ok(spec)
}

/// `tty = true | "stdout" | false`. Every platform spawnmux builds for has terminals (Unix:
/// pseudo-terminals; Windows: ConPTY, where a Windows older than 10 1809 fails the helper's
/// start, naming it).
fn tty(origin: &Origin, t: &Field<toml::Value>, key: &str) -> Result<Tty, LoadError> {
    match &t.value {
        toml::Value::Boolean(true) => Ok(Tty::All),
        toml::Value::Boolean(false) => Ok(Tty::Off),
        toml::Value::String(s) if s == "stdout" => Ok(Tty::Stdout),
        other => {
            let problem = format!("{key}: expected true, false or \"stdout\", got {other}");
            Err(origin.error(&t.at, problem))
        }
    }
}

/// `base/cwd`, which must be a directory.
fn existing_dir(
    origin: &Origin,
    base: &Path,
    cwd: &Field<String>,
    key: &str,
) -> Result<PathBuf, LoadError> {
    let dir = base.join(&cwd.value);
    if !dir.is_dir() {
        let problem = format!("{key}: directory `{}` does not exist", dir.display());
        return Err(origin.error(&cwd.at, problem));
    }
    Ok(dir)
}

/// A duration (`crate::duration`'s grammar); `key` names the key or flag.
fn duration(origin: &Origin, text: &Field<String>, key: &str) -> Result<Duration, LoadError> {
    crate::duration::parse(&text.value).map_err(|e| origin.error(&text.at, format!("{key}: {e}")))
}

/// `backoff`: only with a restart policy; `initial` more than 0 (default 1s), `max` at least
/// `initial` (default 30s, or `initial` when that is more).
fn backoff(
    origin: &Origin,
    h: &HelperDraft,
    b: &BackoffDraft,
    restart: Restart,
) -> Result<Backoff, LoadError> {
    if restart == Restart::Never {
        let problem = format!(
            "{} needs `restart` (on-failure or always): it is the delay between restarts",
            key(h, "backoff")
        );
        return Err(origin.error(&b.at, problem));
    }
    let mut backoff = Backoff::DEFAULT;
    if let Some(initial) = &b.initial {
        backoff.initial = duration(origin, initial, &key(h, "backoff.initial"))?;
        if backoff.initial.is_zero() {
            let problem = format!(
                "{} must be more than 0s, not `{}`",
                key(h, "backoff.initial"),
                initial.value
            );
            return Err(origin.error(&initial.at, problem));
        }
        backoff.max = backoff.max.max(backoff.initial);
    }
    if let Some(max) = &b.max {
        backoff.max = duration(origin, max, &key(h, "backoff.max"))?;
        if backoff.max < backoff.initial {
            let problem = format!(
                "{} must be at least `backoff.initial` ({}), not `{}`",
                key(h, "backoff.max"),
                humantime::format_duration(backoff.initial),
                max.value
            );
            return Err(origin.error(&max.at, problem));
        }
    }
    Ok(backoff)
}

/// More than zero, and only with a line to wait for.
fn ready_timeout(
    origin: &Origin,
    text: &Field<String>,
    key: &str,
    has_ready_line: bool,
) -> Result<Duration, LoadError> {
    let timeout = duration(origin, text, key)?;
    if timeout.is_zero() {
        let problem = format!("{key} must be more than 0s, not `{}`", text.value);
        return Err(origin.error(&text.at, problem));
    }
    if !has_ready_line {
        let problem = format!(
            "{key} needs `ready_line`, `ready_http`, `ready_tcp` or `ready_exec` (it is how long to wait for readiness)"
        );
        return Err(origin.error(&text.at, problem));
    }
    Ok(timeout)
}

/// The value of the mode named `text` among `modes` (at least two).
fn one_of<T: Copy>(
    origin: &Origin,
    text: &Field<String>,
    key: &str,
    modes: &[(&str, T)],
) -> Result<T, LoadError> {
    if let Some((_, mode)) = modes.iter().find(|(name, _)| *name == text.value) {
        return Ok(*mode);
    }
    let names: Vec<&str> = modes.iter().map(|(name, _)| *name).collect();
    let (last, others) = names.split_last().unwrap_or((&"", &[]));
    let problem = format!(
        "{key} must be {} or {last}, not `{}`",
        others.join(", "),
        text.value
    );
    Err(origin.error(&text.at, problem))
}

/// `TERM`, `SIGTERM`, `term` or a number.
/// A `stop_signal` value (`"TERM"`, `"SIGUSR1"`, `15`) as this platform's number, through
/// the library's one signal table (`USR1` is 10 on Linux, 30 on macOS and the BSDs).
fn signal_number(v: &toml::Value) -> Option<i32> {
    match v {
        toml::Value::Integer(n) => crate::os::signal_number(&n.to_string()),
        toml::Value::String(s) => crate::os::signal_number(s),
        _ => None,
    }
}

/// Every `depends_on` names a helper, and there is no cycle.
fn dependencies(draft: &Draft, helpers: &[HelperSpec]) -> Result<(), LoadError> {
    for h in &draft.helpers {
        for dep in &h.depends_on {
            if !draft.helpers.iter().any(|o| o.name.value == dep.value) {
                let (name, dep_name) = (&h.name.value, &dep.value);
                let problem =
                    format!("helper `{name}` depends on `{dep_name}`, which is not defined");
                return Err(draft.origin.error(&dep.at, problem));
            }
        }
    }
    let Some(cycle) = find_cycle(helpers) else {
        return Ok(());
    };
    // At the first helper's `depends_on` entry that names the next one.
    let first = draft.helpers.iter().find(|h| h.name.value == cycle[0]);
    let at = first.map_or(&At::File, |first| {
        let next = first
            .depends_on
            .iter()
            .find(|d| Some(&d.value) == cycle.get(1));
        next.map_or(&first.name.at, |d| &d.at)
    });
    let problem = format!("depends_on forms a cycle: {}", cycle.join(" -> "));
    Err(draft.origin.error(at, problem))
}

/// A dependency cycle, as names from a helper back to itself.
pub(crate) fn find_cycle(helpers: &[HelperSpec]) -> Option<Vec<String>> {
    fn visit(
        h: &str,
        helpers: &[HelperSpec],
        path: &mut Vec<String>,
        done: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == h) {
            let mut cycle = path[i..].to_vec();
            cycle.push(h.to_string());
            return Some(cycle);
        }
        if done.iter().any(|d| d == h) {
            return None;
        }
        path.push(h.to_string());
        let deps = helpers
            .iter()
            .find(|s| s.name == h)
            .map(|s| s.depends_on.clone())
            .unwrap_or_default();
        for d in deps {
            if let Some(c) = visit(&d, helpers, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.push(h.to_string());
        None
    }
    let mut done = Vec::new();
    helpers
        .iter()
        .find_map(|h| visit(&h.name, helpers, &mut Vec::new(), &mut done))
}

/// How messages name a watch key: `--debounce` when a flag gave it, else `[watch] debounce`.
fn watch_key(at: &At, key: &str) -> String {
    match at {
        At::Flag(flag) => flag.to_string(),
        _ => format!("[watch] {key}"),
    }
}

/// `[watch]` and the watch flags; `helpers` are the plan's.
fn watch(draft: &Draft, w: &WatchDraft, helpers: &[HelperSpec]) -> Result<WatchSpec, LoadError> {
    let origin = &draft.origin;
    let mut spec = WatchSpec::new(watch_paths(origin, w)?, w.base.clone());
    for pattern in &w.ignore {
        crate::watch::check_pattern(&pattern.value).map_err(|e| {
            let key = watch_key(&pattern.at, "ignore");
            origin.error(&pattern.at, format!("{key}: {e}"))
        })?;
        spec.ignore.push(pattern.value.clone());
    }
    spec.gitignore = w.gitignore.unwrap_or(true);
    spec.output = w.output.clone();
    if let Some(d) = &w.debounce {
        spec.debounce = duration(origin, d, &watch_key(&d.at, "debounce"))?;
    }
    if let Some(b) = &w.on_busy {
        let modes = [
            ("queue", OnBusy::Queue),
            ("restart", OnBusy::Restart),
            ("ignore", OnBusy::Ignore),
        ];
        spec.on_busy = one_of(origin, b, &watch_key(&b.at, "on_busy"), &modes)?;
    }
    spec.poll = match &w.poll {
        None | Some(Poll::Off) => None,
        Some(Poll::Default) => Some(crate::watch::DEFAULT_POLL),
        Some(Poll::Every(p)) => Some(duration(origin, p, &watch_key(&p.at, "poll"))?),
    };
    spec.restart = restart_names(origin, w, helpers)?;
    if let Some(build) = &w.build {
        name(origin, build, &draft.helpers)?;
        spec.build = Some(helper(origin, &draft.base, build)?);
    }
    if spec.build.is_none() && spec.restart.is_empty() {
        let problem = match w.at {
            At::Flag(_) => "--watch needs --on-change COMMAND, --restart-on-change NAME, or both",
            _ => "[watch] needs `run` (a rebuild command), `restart` (helpers to restart), or both",
        };
        return Err(origin.error(&w.at, problem));
    }
    Ok(spec)
}

/// The paths to watch, which must exist.
fn watch_paths(origin: &Origin, w: &WatchDraft) -> Result<Vec<PathBuf>, LoadError> {
    if w.paths.is_empty() {
        let problem = "[watch] needs `paths`, a list of directories or files to watch";
        return Err(origin.error(&w.at, problem));
    }
    let mut paths = Vec::new();
    for path in &w.paths {
        let WatchPath { written, full } = &path.value;
        if let Err(e) = std::fs::metadata(full) {
            let full = full.display();
            let problem = match path.at {
                At::Flag(flag) => format!("{flag} {written}: cannot be watched: {full}: {e}"),
                _ => format!("[watch] paths: `{written}` cannot be watched: {full}: {e}"),
            };
            return Err(origin.error(&path.at, problem));
        }
        paths.push(full.clone());
    }
    Ok(paths)
}

/// The helpers to restart after a change, which must exist.
fn restart_names(
    origin: &Origin,
    w: &WatchDraft,
    helpers: &[HelperSpec],
) -> Result<Vec<String>, LoadError> {
    for r in &w.restart {
        if helpers.iter().any(|h| h.name == r.value) {
            continue;
        }
        let problem = match r.at {
            At::Flag(flag) => {
                let known: Vec<&str> = helpers.iter().map(|h| h.name.as_str()).collect();
                let known = known.join(", ");
                format!("{flag}: no helper named `{}` (known: {known})", r.value)
            }
            _ => format!("[watch] restart names `{}`, which is not a helper", r.value),
        };
        return Err(origin.error(&r.at, problem));
    }
    Ok(w.restart.iter().map(|r| r.value.clone()).collect())
}
