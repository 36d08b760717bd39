//! The library [`Command`] for a helper.

use std::time::Duration;

use spawnmux::Command;

use crate::spec::{HelperSpec, Program};

/// Partial lines (prompts, progress bars) are shown after this much silence.
const PARTIAL_AFTER: Duration = Duration::from_millis(300);

/// The library command for a helper: argv directly, a shell string through `sh -c` /
/// `cmd /d /c`. `input`: its stdin is a pipe from spawnmux (`--handle-input`), else null.
pub(crate) fn command(spec: &HelperSpec, color: bool, input: bool) -> Command {
    let mut cmd = match &spec.program {
        Program::Argv(v) => {
            let mut c = Command::new(&v[0]);
            c.args(&v[1..]);
            c
        }
        Program::Shell(s) => crate::os::shell(s),
    };
    // A progress bar drawn with `\r` shows each update as a line, not nothing until 1 MiB.
    cmd.name(spec.name.clone())
        .flush_partial_after(PARTIAL_AFTER)
        .cr_ends_line(true);
    if input {
        cmd.stdin(spawnmux::Stdio::Capture);
    }
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    for (k, v) in color_env(spec, color, |k| std::env::var_os(k).is_some()) {
        cmd.env(k, v);
    }
    cmd
}

/// What tells a helper to colour its output although its stdout is a pipe, when spawnmux's
/// own log is coloured: `FORCE_COLOR=1` (Node.js tools: vite, tsc, jest, eslint, chalk) and
/// `CLICOLOR_FORCE=1` (the clicolors convention), each unless the environment (`in_env`) or
/// the helper's `env` already sets it; nothing if `NO_COLOR` is set there or the helper has
/// `color = false`.
fn color_env(
    spec: &HelperSpec,
    color: bool,
    in_env: impl Fn(&str) -> bool,
) -> Vec<(&'static str, &'static str)> {
    let set = |k: &str| in_env(k) || spec.env.contains_key(k);
    if !color || !spec.color || set("NO_COLOR") {
        return Vec::new();
    }
    ["FORCE_COLOR", "CLICOLOR_FORCE"]
        .into_iter()
        .filter(|k| !set(k))
        .map(|k| (k, "1"))
        .collect()
}
