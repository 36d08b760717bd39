//! `spawnmux.toml`: raw serde structs (unknown keys rejected), then validation into
//! [`RunSpec`]. Every error is one line: `FILE:LINE:COL: problem`, naming the key.

use indexmap::IndexMap;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

use super::error::LoadError;
use crate::duration::parse as parse_duration;
use crate::spec::{HelperSpec, OnBusy, Program, Restart, RunSpec, WatchSpec};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    helpers: IndexMap<String, Spanned<RawHelper>>,
    watch: Option<Spanned<RawWatch>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWatch {
    paths: Option<Spanned<Vec<Spanned<String>>>>,
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
    env: BTreeMap<String, String>,
    stop_timeout: Option<Spanned<String>>,
    #[serde(default)]
    restart: Vec<Spanned<String>>,
    on_busy: Option<Spanned<String>>,
    poll: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHelper {
    command: Option<Spanned<Vec<String>>>,
    shell: Option<Spanned<String>>,
    cwd: Option<Spanned<String>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    restart: Option<Spanned<String>>,
    max_restarts: Option<Spanned<u32>>,
    stop_signal: Option<Spanned<toml::Value>>,
    stop_timeout: Option<Spanned<String>>,
    ready_line: Option<String>,
    ready_timeout: Option<Spanned<String>>,
    color: Option<bool>,
    #[serde(default)]
    depends_on: Vec<Spanned<String>>,
}

/// Where in the file, for messages.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn at(&self, span: Range<usize>, msg: impl std::fmt::Display) -> LoadError {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        LoadError(format!("{}:{line}:{col}: {msg}", self.path.display()))
    }
}

/// Loads and validates a config file; `cwd`s are resolved against its directory.
pub(crate) fn load(path: &Path) -> Result<RunSpec, LoadError> {
    let bytes = std::fs::read(path)
        .map_err(|e| LoadError(format!("{}: cannot read: {e}", path.display())))?;
    load_bytes(path, bytes)
}

/// [`load`] on the file's contents, already read.
pub(crate) fn load_bytes(path: &Path, bytes: Vec<u8>) -> Result<RunSpec, LoadError> {
    let text = String::from_utf8(bytes).map_err(|e| {
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
    })?;
    let src = Source { path, text: &text };
    let raw: RawConfig = toml::from_str(&text).map_err(|e| {
        let msg = e.message().trim_end().replace('\n', " ");
        match e.span() {
            Some(span) => src.at(span, msg),
            None => LoadError(format!("{}: {msg}", path.display())),
        }
    })?;
    if raw.helpers.is_empty() && raw.watch.is_none() {
        return Err(LoadError(format!(
            "{}: no helpers defined (add a [helpers.NAME] table)",
            path.display()
        )));
    }
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut helpers = Vec::new();
    for (name, helper) in &raw.helpers {
        helpers.push(helper_spec(&src, base, name, helper)?);
    }
    check_dependencies(&src, &raw, &helpers)?;
    let watch = match &raw.watch {
        Some(w) => Some(watch_spec(&src, base, w, &raw)?),
        None => None,
    };
    Ok(RunSpec {
        helpers,
        origin: path.display().to_string(),
        watch,
        notes: Vec::new(),
    })
}

/// `[watch]`: paths must exist; `run` is a list (argv) or a string (shell); `restart` names
/// helpers.
fn watch_spec(
    src: &Source<'_>,
    base: &Path,
    raw: &Spanned<RawWatch>,
    config: &RawConfig,
) -> Result<WatchSpec, LoadError> {
    let w = raw.get_ref();
    let abs_base = std::path::absolute(base)
        .map_err(|e| src.at(raw.span(), format!("[watch]: {}: {e}", base.display())))?;
    let Some(paths) = w.paths.as_ref().filter(|p| !p.get_ref().is_empty()) else {
        return Err(src.at(
            raw.span(),
            "[watch] needs `paths`, a list of directories or files to watch",
        ));
    };
    let mut abs = Vec::new();
    for p in paths.get_ref() {
        let full = abs_base.join(p.get_ref());
        if let Err(e) = std::fs::metadata(&full) {
            return Err(src.at(
                p.span(),
                format!(
                    "[watch] paths: `{}` cannot be watched: {}: {e}",
                    p.get_ref(),
                    full.display()
                ),
            ));
        }
        abs.push(full);
    }
    let mut spec = WatchSpec::new(abs, abs_base.clone());
    for pattern in &w.ignore {
        crate::watch::check_pattern(pattern.get_ref())
            .map_err(|e| src.at(pattern.span(), format!("[watch] ignore: {e}")))?;
        spec.ignore.push(pattern.get_ref().clone());
    }
    spec.gitignore = w.gitignore.unwrap_or(true);
    spec.output = w.output.iter().map(|o| abs_base.join(o)).collect();
    if let Some(d) = &w.debounce {
        spec.debounce = parse_duration(d.get_ref())
            .map_err(|e| src.at(d.span(), format!("[watch] debounce: {e}")))?;
    }
    if let Some(b) = &w.on_busy {
        spec.on_busy = match b.get_ref().as_str() {
            "queue" => OnBusy::Queue,
            "restart" => OnBusy::Restart,
            "ignore" => OnBusy::Ignore,
            other => {
                return Err(src.at(
                    b.span(),
                    format!("[watch] on_busy must be queue, restart or ignore, not `{other}`"),
                ))
            }
        };
    }
    if let Some(p) = &w.poll {
        spec.poll = match p.get_ref() {
            toml::Value::Boolean(true) => Some(crate::watch::DEFAULT_POLL),
            toml::Value::Boolean(false) => None,
            toml::Value::String(s) => Some(
                parse_duration(s).map_err(|e| src.at(p.span(), format!("[watch] poll: {e}")))?,
            ),
            other => {
                return Err(src.at(
                    p.span(),
                    format!(
                        "[watch] poll must be true, false or a duration like \"1s\", not {other}"
                    ),
                ))
            }
        };
    }
    for r in &w.restart {
        if !config.helpers.contains_key(r.get_ref()) {
            return Err(src.at(
                r.span(),
                format!(
                    "[watch] restart names `{}`, which is not a helper",
                    r.get_ref()
                ),
            ));
        }
        spec.restart.push(r.get_ref().clone());
    }
    if let Some(run) = &w.run {
        let program = match run.get_ref() {
            toml::Value::String(s) if !s.trim().is_empty() => Program::Shell(s.clone()),
            toml::Value::Array(items)
                if !items.is_empty()
                    && items.iter().all(|i| i.is_str())
                    && items[0].as_str().is_some_and(|s| !s.is_empty()) =>
            {
                Program::Argv(
                    items
                        .iter()
                        .filter_map(|i| i.as_str().map(String::from))
                        .collect(),
                )
            }
            _ => {
                return Err(src.at(
                    run.span(),
                    "[watch] run must be a non-empty list of strings (argv) or a non-empty string (shell)",
                ))
            }
        };
        let name = w.name.as_ref().map_or("build", |n| n.get_ref().as_str());
        let name_span = w.name.as_ref().map_or(run.span(), |n| n.span());
        if let Err(problem) = crate::spec::check_name(name) {
            return Err(src.at(name_span, format!("[watch] name `{name}` {problem}")));
        }
        if config.helpers.contains_key(name) {
            return Err(src.at(
                name_span,
                format!("[watch] the build's name `{name}` is taken; set [watch] name = \"...\""),
            ));
        }
        let mut build = HelperSpec::new(name, program);
        if let Some(cwd) = &w.cwd {
            build.cwd = Some(existing_dir(src, base, cwd, "[watch] cwd")?);
        }
        build.env = w.env.clone();
        if let Some(t) = &w.stop_timeout {
            build.stop_timeout = parse_duration(t.get_ref())
                .map_err(|e| src.at(t.span(), format!("[watch] stop_timeout: {e}")))?;
        }
        spec.build = Some(build);
    } else if let Some(key) = [
        ("name", w.name.as_ref().map(|n| n.span())),
        ("cwd", w.cwd.as_ref().map(|c| c.span())),
    ]
    .into_iter()
    .find_map(|(k, s)| s.map(|s| (k, s)))
    {
        return Err(src.at(
            key.1,
            format!(
                "[watch] {} is for the `run` command, and there is none",
                key.0
            ),
        ));
    }
    if spec.build.is_none() && spec.restart.is_empty() {
        return Err(src.at(
            raw.span(),
            "[watch] needs `run` (a rebuild command), `restart` (helpers to restart), or both",
        ));
    }
    Ok(spec)
}

/// `base/cwd`, which must be a directory.
fn existing_dir(
    src: &Source<'_>,
    base: &Path,
    cwd: &Spanned<String>,
    what: &str,
) -> Result<std::path::PathBuf, LoadError> {
    let dir = base.join(cwd.get_ref());
    if !dir.is_dir() {
        return Err(src.at(
            cwd.span(),
            format!("{what}: directory `{}` does not exist", dir.display()),
        ));
    }
    Ok(dir)
}

fn helper_spec(
    src: &Source<'_>,
    base: &Path,
    name: &str,
    raw: &Spanned<RawHelper>,
) -> Result<HelperSpec, LoadError> {
    let span = raw.span();
    let h = raw.get_ref();
    if let Err(problem) = crate::spec::check_name(name) {
        return Err(src.at(span, format!("helper name `{name}` {problem}")));
    }
    let program = match (&h.command, &h.shell) {
        (Some(_), Some(shell)) => {
            return Err(src.at(
                shell.span(),
                format!("helper `{name}` has both `command` and `shell`; keep one"),
            ))
        }
        (None, None) => {
            return Err(src.at(
                span,
                format!("helper `{name}` needs `command` (a list) or `shell` (a string)"),
            ))
        }
        (Some(argv), None) if argv.get_ref().is_empty() || argv.get_ref()[0].is_empty() => {
            return Err(src.at(
                argv.span(),
                format!("`command` of helper `{name}` is empty"),
            ))
        }
        (Some(argv), None) => Program::Argv(argv.get_ref().clone()),
        (None, Some(shell)) if shell.get_ref().trim().is_empty() => {
            return Err(src.at(shell.span(), format!("`shell` of helper `{name}` is empty")))
        }
        (None, Some(shell)) => Program::Shell(shell.get_ref().clone()),
    };
    let mut spec = HelperSpec::new(name, program);
    if let Some(cwd) = &h.cwd {
        spec.cwd = Some(existing_dir(
            src,
            base,
            cwd,
            &format!("`cwd` of helper `{name}`"),
        )?);
    }
    spec.env = h.env.clone();
    if let Some(r) = &h.restart {
        spec.restart = match r.get_ref().as_str() {
            "never" => Restart::Never,
            "on-failure" => Restart::OnFailure,
            "always" => Restart::Always,
            other => {
                return Err(src.at(r.span(), format!("`restart` of helper `{name}` must be never, on-failure or always, not `{other}`")))
            }
        };
    }
    spec.max_restarts = h.max_restarts.as_ref().map(|m| *m.get_ref());
    if let Some(sig) = &h.stop_signal {
        spec.stop_signal = signal_number(sig.get_ref()).ok_or_else(|| {
            src.at(
                sig.span(),
                format!(
                    "`stop_signal` of helper `{name}`: unknown signal {}",
                    sig.get_ref()
                ),
            )
        })?;
    }
    if let Some(t) = &h.stop_timeout {
        spec.stop_timeout = parse_duration(t.get_ref())
            .map_err(|e| src.at(t.span(), format!("`stop_timeout` of helper `{name}`: {e}")))?;
    }
    spec.ready_line = h.ready_line.clone();
    if let Some(t) = &h.ready_timeout {
        let key = format!("`ready_timeout` of helper `{name}`");
        let timeout =
            parse_duration(t.get_ref()).map_err(|e| src.at(t.span(), format!("{key}: {e}")))?;
        if timeout.is_zero() {
            return Err(src.at(
                t.span(),
                format!("{key} must be more than 0s, not `{}`", t.get_ref()),
            ));
        }
        if spec.ready_line.is_none() {
            return Err(src.at(
                t.span(),
                format!("{key} needs `ready_line` (it is how long to wait for that line)"),
            ));
        }
        spec.ready_timeout = timeout;
    }
    spec.color = h.color.unwrap_or(true);
    spec.depends_on = h.depends_on.iter().map(|d| d.get_ref().clone()).collect();
    Ok(spec)
}

/// `TERM`, `SIGTERM`, `term` or a number.
fn signal_number(v: &toml::Value) -> Option<i32> {
    if let Some(n) = v.as_integer() {
        return i32::try_from(n).ok().filter(|n| (1..=64).contains(n));
    }
    let s = v.as_str()?.to_ascii_uppercase();
    let s = s.strip_prefix("SIG").unwrap_or(&s);
    Some(match s {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "KILL" => 9,
        "USR1" => 10,
        "USR2" => 12,
        "TERM" => 15,
        _ => return None,
    })
}

/// Every `depends_on` names a helper, and there is no cycle.
fn check_dependencies(
    src: &Source<'_>,
    raw: &RawConfig,
    helpers: &[HelperSpec],
) -> Result<(), LoadError> {
    for (name, h) in &raw.helpers {
        for dep in &h.get_ref().depends_on {
            if !raw.helpers.contains_key(dep.get_ref()) {
                return Err(src.at(
                    dep.span(),
                    format!(
                        "helper `{name}` depends on `{}`, which is not defined",
                        dep.get_ref()
                    ),
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(helpers) {
        // At the first helper's `depends_on` entry that names the next one.
        let first = &raw.helpers[&cycle[0]];
        let span = first
            .get_ref()
            .depends_on
            .iter()
            .find(|d| Some(d.get_ref()) == cycle.get(1))
            .map_or(first.span(), |d| d.span());
        return Err(src.at(
            span,
            format!("depends_on forms a cycle: {}", cycle.join(" -> ")),
        ));
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn load_text(name: &str, text: &str) -> Result<RunSpec, LoadError> {
        let dir =
            std::env::temp_dir().join(format!("spawnmux-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("spawnmux.toml");
        std::fs::write(&path, text).expect("write");
        let r = load(&path);
        let _ = std::fs::remove_dir_all(&dir);
        r.map_err(|e| LoadError(e.0.replace(&path.display().to_string(), "spawnmux.toml")))
    }

    fn err(name: &str, text: &str) -> String {
        load_text(name, text).expect_err("must fail").0
    }

    #[test]
    fn full_example_loads_in_order() {
        let spec = load_text(
            "ok",
            r#"
[helpers.web]
command = ["npx", "vite", "--port", "5173"]
env = { NODE_ENV = "development" }
restart = "on-failure"
max_restarts = 5
stop_signal = "INT"
stop_timeout = "2s"
ready_line = "ready in"
depends_on = ["api"]

[helpers.api]
shell = "sass --watch src:out"
"#,
        )
        .expect("valid");
        let names: Vec<&str> = spec.helpers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["web", "api"]);
        let web = &spec.helpers[0];
        assert_eq!(
            web.program,
            Program::Argv(vec![
                "npx".into(),
                "vite".into(),
                "--port".into(),
                "5173".into()
            ])
        );
        assert_eq!(web.restart, Restart::OnFailure);
        assert_eq!(web.max_restarts, Some(5));
        assert_eq!(web.stop_signal, 2);
        assert_eq!(web.stop_timeout, Duration::from_secs(2));
        assert_eq!(web.env["NODE_ENV"], "development");
        assert_eq!(
            spec.helpers[1].program,
            Program::Shell("sass --watch src:out".into())
        );
    }

    #[test]
    fn errors_name_file_line_column_and_key() {
        let e = err("unknown", "[helpers.web]\ncomand = [\"x\"]\n");
        assert!(
            e.starts_with("spawnmux.toml:2:1: unknown field `comand`"),
            "{e}"
        );
        let e = err(
            "type",
            "[helpers.web]\nshell = \"x\"\nmax_restarts = \"five\"\n",
        );
        assert!(
            e.starts_with("spawnmux.toml:3:16: invalid type: string \"five\""),
            "{e}"
        );
        let e = err("neither", "[helpers.web]\nenv = {}\n");
        assert_eq!(
            e,
            "spawnmux.toml:1:1: helper `web` needs `command` (a list) or `shell` (a string)"
        );
        let e = err("both", "[helpers.web]\ncommand = [\"a\"]\nshell = \"b\"\n");
        assert_eq!(
            e,
            "spawnmux.toml:3:9: helper `web` has both `command` and `shell`; keep one"
        );
        let e = err(
            "dep",
            "[helpers.web]\nshell = \"a\"\ndepends_on = [\"db\"]\n",
        );
        assert_eq!(
            e,
            "spawnmux.toml:3:15: helper `web` depends on `db`, which is not defined"
        );
        let e = err("cycle", "[helpers.a]\nshell = \"a\"\ndepends_on = [\"b\"]\n[helpers.b]\nshell = \"b\"\ndepends_on = [\"a\"]\n");
        assert_eq!(
            e,
            "spawnmux.toml:3:15: depends_on forms a cycle: a -> b -> a"
        );
        let e = err(
            "dur",
            "[helpers.web]\nshell = \"a\"\nstop_timeout = \"soon\"\n",
        );
        assert!(
            e.starts_with(
                "spawnmux.toml:3:16: `stop_timeout` of helper `web`: `soon` is not a duration"
            ),
            "{e}"
        );
        let e = err(
            "sig",
            "[helpers.web]\nshell = \"a\"\nstop_signal = \"NOPE\"\n",
        );
        assert_eq!(
            e,
            "spawnmux.toml:3:15: `stop_signal` of helper `web`: unknown signal \"NOPE\""
        );
        let e = err("cwd", "[helpers.web]\nshell = \"a\"\ncwd = \"nowhere\"\n");
        assert!(
            e.starts_with("spawnmux.toml:3:7: `cwd` of helper `web`: directory `"),
            "{e}"
        );
        let e = err("empty", "");
        assert_eq!(
            e,
            "spawnmux.toml: no helpers defined (add a [helpers.NAME] table)"
        );
        let e = err(
            "dup",
            "[helpers.web]\nshell = \"a\"\n[helpers.web]\nshell = \"b\"\n",
        );
        assert!(e.starts_with("spawnmux.toml:3:"), "{e}");
        let e = err("top", "[helper.web]\nshell = \"a\"\n");
        assert!(
            e.starts_with("spawnmux.toml:1:2: unknown field `helper`"),
            "{e}"
        );
        let e = err("garbage", "\u{1}\u{2}[[[\n");
        assert!(e.starts_with("spawnmux.toml:1:"), "{e}");
    }

    #[test]
    fn ready_timeout_and_color() {
        let spec = load_text(
            "defaults",
            "[helpers.web]\nshell = \"a\"\nready_line = \"ready\"\n",
        )
        .expect("valid");
        assert_eq!(spec.helpers[0].ready_timeout, Duration::from_secs(60));
        assert!(spec.helpers[0].color);
        let spec = load_text(
            "set",
            "[helpers.web]\nshell = \"a\"\nready_line = \"ready\"\nready_timeout = \"1m30s\"\ncolor = false\n",
        )
        .expect("valid");
        assert_eq!(spec.helpers[0].ready_timeout, Duration::from_secs(90));
        assert!(!spec.helpers[0].color);
        let spec = load_text(
            "short",
            "[helpers.web]\nshell = \"a\"\nready_line = \"ready\"\nready_timeout = \"250ms\"\n",
        )
        .expect("valid");
        assert_eq!(spec.helpers[0].ready_timeout, Duration::from_millis(250));
        for zero in ["0s", "0", "0ms"] {
            let e = err(
                "zero",
                &format!("[helpers.web]\nshell = \"a\"\nready_line = \"r\"\nready_timeout = \"{zero}\"\n"),
            );
            assert_eq!(
                e,
                format!("spawnmux.toml:4:17: `ready_timeout` of helper `web` must be more than 0s, not `{zero}`")
            );
        }
        let e = err(
            "soon",
            "[helpers.web]\nshell = \"a\"\nready_line = \"r\"\nready_timeout = \"soon\"\n",
        );
        assert!(
            e.starts_with(
                "spawnmux.toml:4:17: `ready_timeout` of helper `web`: `soon` is not a duration"
            ),
            "{e}"
        );
        let e = err(
            "alone",
            "[helpers.web]\nshell = \"a\"\nready_timeout = \"5s\"\n",
        );
        assert_eq!(
            e,
            "spawnmux.toml:3:17: `ready_timeout` of helper `web` needs `ready_line` (it is how long to wait for that line)"
        );
        let e = err(
            "number",
            "[helpers.web]\nshell = \"a\"\nready_line = \"r\"\nready_timeout = 5\n",
        );
        assert!(
            e.starts_with("spawnmux.toml:4:17: invalid type: integer `5`, expected a string"),
            "{e}"
        );
        let e = err("color", "[helpers.web]\nshell = \"a\"\ncolor = \"no\"\n");
        assert!(
            e.starts_with("spawnmux.toml:3:9: invalid type: string \"no\", expected a boolean"),
            "{e}"
        );
    }

    #[test]
    fn helper_and_build_names_follow_the_one_rule() {
        let e = err("name", "[helpers.\"a b\"]\nshell = \"x\"\n");
        assert_eq!(
            e,
            "spawnmux.toml:1:1: helper name `a b` may only contain ASCII letters, digits, `.`, `-` and `_`"
        );
        let e = err("reserved", "[helpers.spawnmux]\nshell = \"x\"\n");
        assert_eq!(
            e,
            "spawnmux.toml:1:1: helper name `spawnmux` is reserved (it names spawnmux's own lines in the log)"
        );
        let e = err("empty-name", "[helpers.\"\"]\nshell = \"x\"\n");
        assert_eq!(e, "spawnmux.toml:1:1: helper name `` is empty");
        let e = err(
            "build-name",
            "[watch]\npaths = [\".\"]\nrun = \"make\"\nname = \"spawnmux\"\n",
        );
        assert_eq!(
            e,
            "spawnmux.toml:4:8: [watch] name `spawnmux` is reserved (it names spawnmux's own lines in the log)"
        );
        let spec = load_text("dotted", "[helpers.\"web.sh\"]\nshell = \"x\"\n").expect("valid");
        assert_eq!(spec.helpers[0].name, "web.sh");
    }
}
