//! `spawnmux check --format json`: the plan as one JSON object, for scripts and editors.
//! Durations are milliseconds (`_ms`, as in the log's records); environment variables are
//! names only; paths are text (a path that is not UTF-8 shown lossily, never a panic).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{conditions, start_stages, stop_stages, Options};
use crate::spec::{Check, HelperSpec, Program, RunSpec, Target, WatchSpec};

/// `{"valid":true,"origin":…,"helpers":[…],"start_order":[[…]],"stop_order":[[…]],…}`.
pub(super) fn plan(spec: &RunSpec, options: Options) -> Value {
    let names = |stages: Vec<Vec<usize>>| -> Value {
        let stage = |s: Vec<usize>| -> Vec<&str> {
            s.iter().map(|&h| spec.helpers[h].name.as_str()).collect()
        };
        stages.into_iter().map(stage).collect::<Vec<_>>().into()
    };
    json!({
        "valid": true,
        "origin": spec.origin,
        "kill_others": options.kill_others,
        "kill_others_on_fail": options.kill_others_on_fail,
        "helpers": spec.helpers.iter().map(helper).collect::<Vec<_>>(),
        "start_order": names(start_stages(&spec.helpers)),
        "stop_order": names(stop_stages(&spec.helpers)),
        "watch": spec.watch.as_ref().map(watch),
        "notes": spec.notes,
    })
}

/// A path as text (serde would refuse one that is not UTF-8).
fn path(p: &Path) -> Value {
    p.display().to_string().into()
}

fn paths(ps: &[PathBuf]) -> Value {
    ps.iter().map(|p| path(p)).collect::<Vec<_>>().into()
}

fn ms(d: std::time::Duration) -> u64 {
    d.as_millis() as u64
}

fn helper(h: &HelperSpec) -> Value {
    let depends_on: serde_json::Map<String, Value> = conditions(h)
        .into_iter()
        .map(|(d, c)| (d.to_string(), c.name().into()))
        .collect();
    json!({
        "name": h.name,
        "command": program(&h.program),
        "cwd": h.cwd.as_deref().map(path),
        "port": h.port.as_ref().map(|p| json!({ "number": p.number, "auto": p.auto })),
        "copy_of": h.copy_of,
        "env": h.env.keys().collect::<Vec<_>>(),
        "restart": super::restart(h.restart),
        "max_restarts": h.max_restarts,
        "backoff": { "initial_ms": ms(h.backoff.initial), "max_ms": ms(h.backoff.max) },
        "stop_signal": h.stop_signal,
        "stop_timeout_ms": ms(h.stop_timeout),
        "ready": ready(h),
        "alive": h.alive_check.as_ref().map(|c| {
            let mut v = check(c);
            v["failures"] = h.alive_failures.into();
            v
        }),
        "depends_on": depends_on,
        "restart_with": h.restart_with,
        "color": h.color,
        "input": h.input,
        "tty": match h.tty {
            crate::spec::Tty::Off => serde_json::Value::Bool(false),
            crate::spec::Tty::All => serde_json::Value::Bool(true),
            crate::spec::Tty::Stdout => "stdout".into(),
        },
        "log_file": h.log_file.as_ref().map(|l| json!({ "path": path(&l.path), "max_size": l.max_size })),
    })
}

/// `{"argv":[…]}` or `{"shell":"…"}`.
fn program(p: &Program) -> Value {
    match p {
        Program::Argv(argv) => json!({ "argv": argv }),
        Program::Shell(line) => json!({ "shell": line }),
    }
}

/// `null` (ready once started), `{"line":…}` or a check, with `timeout_ms` but for `null`.
fn ready(h: &HelperSpec) -> Value {
    let mut ready = match (&h.ready_line, &h.ready_check) {
        (Some(line), _) => json!({ "line": line }),
        (None, Some(c)) => {
            let mut v = check(c);
            v["delay_ms"] = ms(h.ready_delay).into();
            v
        }
        (None, None) => return Value::Null,
    };
    ready["timeout_ms"] = ms(h.ready_timeout).into();
    ready
}

/// `{"tcp":"127.0.0.1:5432","interval_ms":500}`, `{"http":"http://…"}`, `{"exec":{…}}`.
fn check(c: &Check) -> Value {
    let mut v = match &c.target {
        Target::Tcp(at) => json!({ "tcp": at.written }),
        Target::Http { at, .. } => json!({ "http": at.written }),
        Target::Exec(p) => json!({ "exec": program(p) }),
    };
    v["interval_ms"] = ms(c.interval).into();
    v
}

fn watch(w: &WatchSpec) -> Value {
    json!({
        "base": path(&w.base),
        "paths": paths(&w.paths),
        "ignore": w.ignore,
        "gitignore": w.gitignore,
        "output": paths(&w.output),
        "debounce_ms": ms(w.debounce),
        "on_busy": super::on_busy(w.on_busy),
        "poll_ms": w.poll.map(ms),
        "build": w.build.as_ref().map(helper),
        "restart": w.restart,
    })
}
