//! `spawnmux check`'s text: one block per helper (`key  value` lines, defaults spelt out),
//! then the start and stop order, watch mode, the loader's notes.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use super::{command_line, conditions, start_stages, stop_stages, Options};
use crate::spec::{Check, Condition, HelperSpec, LogFile, Program, Restart, RunSpec, WatchSpec};

/// Width of the key column.
const KEY: usize = 14;

/// The whole plan.
pub(super) fn plan(spec: &RunSpec, options: Options) -> String {
    let mut out = String::new();
    let count = match spec.helpers.len() {
        1 => "1 helper".to_string(),
        n => format!("{n} helpers"),
    };
    let _ = writeln!(out, "{}: valid, {count}", spec.origin);
    line(&mut out, "", "on exit", on_exit(options));
    for h in &spec.helpers {
        let _ = writeln!(out, "\n{}", h.name);
        helper(&mut out, "  ", h, false);
    }
    order(&mut out, spec);
    if let Some(w) = &spec.watch {
        watch(&mut out, w);
    }
    if !spec.notes.is_empty() {
        out.push_str("\nnotes\n");
        for n in &spec.notes {
            let _ = writeln!(out, "  {n}");
        }
    }
    out
}

/// `indent key  value`, the key padded to the column.
fn line(out: &mut String, indent: &str, key: &str, value: impl AsRef<str>) {
    let _ = writeln!(out, "{indent}{key:KEY$} {}", value.as_ref());
}

fn on_exit(options: Options) -> &'static str {
    match (options.kill_others, options.kill_others_on_fail) {
        (true, _) => "the first helper to end for good stops the others (--kill-others)",
        (false, true) => "a failure stops every helper (--kill-others-on-fail)",
        (false, false) => "each helper ends on its own; the run ends when all have",
    }
}

/// `1.5s`, `500ms`, `1m 30s`.
fn dur(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// One helper's settings, each line starting with `indent`; for the rebuild (`build`) only
/// those that apply to it (it is started by changes, never by a policy or its dependencies).
fn helper(out: &mut String, indent: &str, h: &HelperSpec, build: bool) {
    let (key, how) = match &h.program {
        Program::Argv(_) => ("command", "argv, no shell"),
        Program::Shell(_) => ("shell", "through the shell"),
    };
    line(
        out,
        indent,
        key,
        format!("{}  ({how})", command_line(&h.program)),
    );
    if let Some(cwd) = &h.cwd {
        line(out, indent, "cwd", cwd.display().to_string());
    }
    if let Some(port) = &h.port {
        line(out, indent, "port", port_text(port, h.copy_of.as_deref()));
    }
    if !build {
        line(out, indent, "restart", restart(h));
    }
    let signal = match crate::os::signal_name(h.stop_signal) {
        Some(name) => format!("signal {} ({name})", h.stop_signal),
        None => format!("signal {}", h.stop_signal),
    };
    let stop = format!("{signal}, killed after {}", dur(h.stop_timeout));
    line(out, indent, "stop", stop);
    if !build {
        relations(out, indent, h);
    }
    if !h.env.is_empty() {
        let keys: Vec<&str> = h.env.keys().map(String::as_str).collect();
        line(
            out,
            indent,
            "environment",
            keys.join(", ") + "  (values not shown)",
        );
    }
    if !h.env_files.is_empty() {
        let files: Vec<String> = h
            .env_files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        line(out, indent, "env files", files.join(", "));
    }
    if h.input {
        line(
            out,
            indent,
            "input",
            "lines typed into spawnmux without a NAME: go here",
        );
    }
    if !h.color {
        line(out, indent, "color", "off (no FORCE_COLOR)");
    }
    if let Some(log) = &h.log_file {
        let how = format!(
            "{}  (rotated past {}, {} old files kept)",
            log.path.display(),
            size(log.max_size),
            LogFile::KEEP
        );
        line(out, indent, "log file", how);
    }
}

/// `10 MiB`, `512 KiB`, `1000 bytes`.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

/// Readiness, liveness and dependencies.
fn relations(out: &mut String, indent: &str, h: &HelperSpec) {
    line(out, indent, "ready", ready(h));
    if let Some(alive) = &h.alive_check {
        let how = format!(
            "{} every {}; {} failures in a row restart it",
            alive.target,
            dur(alive.interval),
            h.alive_failures
        );
        line(out, indent, "alive", how);
    }
    if !h.depends_on.is_empty() {
        let deps: Vec<String> = conditions(h)
            .iter()
            .map(|(d, c)| format!("{d} ({})", c.name()))
            .collect();
        line(out, indent, "depends on", deps.join(", "));
    }
    if !h.restart_with.is_empty() {
        line(out, indent, "restart with", h.restart_with.join(", "));
    }
}

/// `5173 (auto, held until it starts; PORT; a restart waits until it is free)`.
fn port_text(port: &crate::spec::Port, copy_of: Option<&str>) -> String {
    let how = if port.auto {
        "auto, held until it starts; "
    } else {
        ""
    };
    let copy = copy_of.map_or(String::new(), |of| format!("; a copy of {of}"));
    format!(
        "{}  ({how}PORT; a restart waits until it is free{copy})",
        port.number
    )
}

fn restart(h: &HelperSpec) -> String {
    let policy = super::restart(h.restart);
    let at_most = match (h.restart, h.max_restarts) {
        (Restart::Never, _) => return policy.to_string(),
        (_, Some(n)) => format!(", at most {n} times"),
        (_, None) => String::new(),
    };
    let (initial, max) = (dur(h.backoff.initial), dur(h.backoff.max));
    format!("{policy}{at_most}; after {initial}, doubling up to {max}")
}

fn ready(h: &HelperSpec) -> String {
    let timeout = dur(h.ready_timeout);
    if let Some(text) = &h.ready_line {
        return format!("once a line contains {text:?} (within {timeout})");
    }
    let Some(Check { target, interval }) = &h.ready_check else {
        return "as soon as it has started".to_string();
    };
    let delay = match h.ready_delay.is_zero() {
        true => String::new(),
        false => format!(", the first after {}", dur(h.ready_delay)),
    };
    format!(
        "once {target} succeeds (every {}{delay}; within {timeout})",
        dur(*interval)
    )
}

/// The start and stop order.
fn order(out: &mut String, spec: &RunSpec) {
    let helpers = &spec.helpers;
    let names = |stage: &[usize]| {
        let names: Vec<&str> = stage.iter().map(|&h| helpers[h].name.as_str()).collect();
        names.join(", ")
    };
    out.push_str("\nstart order\n");
    for (i, stage) in start_stages(helpers).iter().enumerate() {
        for &h in stage {
            let _ = writeln!(
                out,
                "  {}  {:KEY$} {}",
                i + 1,
                helpers[h].name,
                when(&helpers[h])
            );
        }
    }
    out.push_str("stop order (dependents first; each stage with its stop_timeout)\n");
    for (i, stage) in stop_stages(helpers).iter().enumerate() {
        let _ = writeln!(out, "  {}  {}", i + 1, names(stage));
    }
}

/// When a helper starts: `at once`, `once db is ready and migrate has completed`.
fn when(h: &HelperSpec) -> String {
    if h.depends_on.is_empty() {
        return "at once".to_string();
    }
    let parts: Vec<String> = conditions(h)
        .iter()
        .map(|(d, c)| {
            let verb = match c {
                Condition::Started => "has started",
                Condition::Ready => "is ready",
                Condition::Completed => "has completed",
                Condition::CompletedSuccessfully => "has completed successfully",
            };
            format!("{d} {verb}")
        })
        .collect();
    format!("once {}", parts.join(" and "))
}

/// Watch mode.
fn watch(out: &mut String, w: &WatchSpec) {
    let shown = |p: &Path| p.strip_prefix(&w.base).unwrap_or(p).display().to_string();
    let list = |paths: &[std::path::PathBuf]| {
        let shown: Vec<String> = paths.iter().map(|p| shown(p)).collect();
        shown.join(", ")
    };
    let _ = writeln!(out, "\nwatch (paths relative to {})", w.base.display());
    line(out, "  ", "paths", list(&w.paths));
    if !w.ignore.is_empty() {
        line(out, "  ", "ignore", w.ignore.join(", "));
    }
    let gitignore = match w.gitignore {
        true => ".gitignore, .ignore, .git/info/exclude honoured",
        false => "not read",
    };
    line(out, "  ", "ignore files", gitignore);
    if !w.output.is_empty() {
        line(out, "  ", "output", list(&w.output));
    }
    let on_busy = super::on_busy(w.on_busy);
    let timing = format!("debounce {}, on_busy {on_busy}", dur(w.debounce));
    line(out, "  ", "timing", timing);
    let how = match w.poll {
        Some(every) => format!("polling every {}", dur(every)),
        None => "OS notifications".to_string(),
    };
    line(out, "  ", "changes seen", how);
    match &w.build {
        Some(b) => {
            line(
                out,
                "  ",
                "rebuild",
                format!("{} (started by changes only)", b.name),
            );
            helper(out, "    ", b, true);
        }
        None => line(out, "  ", "rebuild", "none: a change restarts the helpers"),
    }
    if !w.restart.is_empty() {
        line(out, "  ", "restart", w.restart.join(", "));
    }
}
