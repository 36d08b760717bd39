//! The library [`Command`] for a helper.

use std::io;
use std::time::Duration;

use spawnmux::{Command, PtySize};

use crate::spec::{HelperSpec, Program, Tty};

/// Partial lines (prompts, progress bars) are shown after this much silence.
const PARTIAL_AFTER: Duration = Duration::from_millis(300);

/// The library command for a helper: argv directly, a shell string through `sh -c` /
/// `cmd /d /c`. `input`: its stdin is a pipe from spawnmux (`--handle-input`), else null;
/// `window`: the size of a `tty` helper's terminal.
pub(crate) fn command(spec: &HelperSpec, color: bool, input: bool, window: PtySize) -> Command {
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
    match spec.tty {
        Tty::Off => {}
        Tty::All => {
            cmd.pty(window);
        }
        Tty::Stdout => {
            cmd.pty_stdout(window);
        }
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

/// Why a helper did not start, as its `cannot start` record says: the library's error (it
/// names the program), and for a `tty` helper on a system without terminals (`Unsupported`:
/// Windows before 10 1809) what to change.
pub(crate) fn start_error(spec: &HelperSpec, e: &io::Error) -> String {
    if spec.tty != Tty::Off && e.kind() == io::ErrorKind::Unsupported {
        return format!("{e} (`tty` needs a terminal this system cannot give: set tty = false)");
    }
    e.to_string()
}

/// A `tty` helper's window: spawnmux's terminal (`terminal`: rows, columns) less the log's
/// prefix (`prefix` columns), at least 20 columns; without a terminal, 80x24.
pub(crate) fn window(terminal: Option<(u16, u16)>, prefix: usize) -> PtySize {
    match terminal {
        Some((rows, cols)) => {
            let prefix = u16::try_from(prefix).unwrap_or(u16::MAX);
            PtySize {
                rows,
                cols: cols.saturating_sub(prefix).max(20),
            }
        }
        None => PtySize::default(),
    }
}

/// The children on a terminal of their own: each `tty` helper's current one (`current`: a
/// child per helper, in the order of `specs`).
pub(crate) fn on_terminals<'a, Id: Copy>(
    specs: impl Iterator<Item = &'a HelperSpec>,
    current: &[Option<Id>],
) -> Vec<Id> {
    specs
        .zip(current)
        .filter(|(spec, _)| spec.tty != Tty::Off)
        .filter_map(|(_, id)| *id)
        .collect()
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

#[cfg(test)]
mod window_tests {
    use super::*;

    #[test]
    fn a_tty_helper_that_cannot_have_a_terminal_is_told_what_to_change() {
        let mut spec = HelperSpec::new("web", Program::Shell("x".into()));
        let e = io::Error::new(io::ErrorKind::Unsupported, "spawning `cmd`: no ConPTY");
        assert_eq!(start_error(&spec, &e), "spawning `cmd`: no ConPTY");
        spec.tty = Tty::All;
        assert_eq!(
            start_error(&spec, &e),
            "spawning `cmd`: no ConPTY (`tty` needs a terminal this system cannot give: set \
             tty = false)"
        );
        let other = io::Error::new(io::ErrorKind::NotFound, "spawning `x`: not found");
        assert_eq!(start_error(&spec, &other), "spawning `x`: not found");
    }

    #[test]
    fn a_resize_reaches_the_running_tty_helpers_only() {
        let spec = |name: &str, tty| {
            let mut s = HelperSpec::new(name, Program::Shell("x".into()));
            s.tty = tty;
            s
        };
        let specs = [
            spec("all", Tty::All),
            spec("pipes", Tty::Off),
            spec("out", Tty::Stdout),
            spec("stopped", Tty::All),
        ];
        let current = [Some(1), Some(2), Some(3), None];
        assert_eq!(on_terminals(specs.iter(), &current), vec![1, 3]);
    }

    #[test]
    fn a_tty_helper_gets_the_terminal_less_the_prefix_or_80x24() {
        assert_eq!(window(None, 30), PtySize { rows: 24, cols: 80 });
        assert_eq!(window(Some((50, 120)), 30), PtySize { rows: 50, cols: 90 });
        assert_eq!(window(Some((10, 25)), 30), PtySize { rows: 10, cols: 20 });
    }
}
