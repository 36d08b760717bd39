//! spawnmux's own log records: what happened to a helper (started, ready, exited, restarted…)
//! or to the run (a signal, a change, a rebuild loop). The supervisor produces them, the
//! [`Log`](crate::output::Log) writes them. Each record has one text rendering
//! ([`Record::message`]: the `spawnmux | …` line) and one JSON rendering (its
//! [`event`](Record::event) name, [`level`](Record::warn) and [`fields`](Record::fields)),
//! so the two formats always say the same thing.

use std::time::Duration;

use serde_json::Value;
use spawnmux::Exit;

use crate::spec::Condition;

/// The helper name of records about the run as a whole.
pub(crate) const RUN: &str = "spawnmux";

/// How a helper's main process ended, as the `exit` record tells it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ended {
    /// It exited on its own (or was stopped with everything else): `web exited (…)`.
    Exited,
    /// It was stopped on purpose (to be started again, or by `spawnmux ctl stop`):
    /// `web stopped (…)`.
    Stopped,
    /// The rebuild command finished after `took`: `build succeeded in 1.2s`.
    Build { took: Duration },
}

/// Processes a helper left behind once its main process ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Leftovers {
    /// Live members of its process group (0: only a process outside it holds a pipe).
    pub(crate) count: usize,
    /// Whether `count` is exact (Linux) or only says "some" (other Unixes).
    pub(crate) exact: bool,
}

/// A helper the run's stop waits for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StopWait {
    pub(crate) helper: String,
    /// Live processes of its group.
    pub(crate) processes: usize,
    /// Until it is killed (`None`: it has been).
    pub(crate) kill_in: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    /// A remark of the loader (`RunSpec::notes`).
    Note(String),
    Start {
        helper: String,
        pid: u32,
        command: String,
    },
    Ready {
        helper: String,
    },
    /// A dependency ended for good without meeting `condition` (with exit code `code`):
    /// `helper` is not started.
    NotStarted {
        helper: String,
        dependency: String,
        condition: Condition,
        code: i32,
    },
    CannotStart {
        helper: String,
        error: String,
    },
    Exit {
        helper: String,
        exit: Exit,
        ended: Ended,
        /// Shown as a warning (a failure outside a stop).
        warn: bool,
    },
    ReadyTimeout {
        helper: String,
        timeout: Duration,
        line: String,
    },
    Waiting {
        helper: String,
        /// The dependencies it waits for, each with its condition.
        missing: Vec<(String, Condition)>,
        waited: Duration,
    },
    /// A readiness check did not succeed within `timeout` (`last`: why its last attempt
    /// failed).
    CheckTimeout {
        helper: String,
        timeout: Duration,
        check: String,
        last: Option<String>,
    },
    /// `failures` liveness attempts failed in a row: the helper is restarted.
    NotAlive {
        helper: String,
        failures: u32,
        check: String,
        error: String,
    },
    /// `dependency` was restarted and `helper` has `restart_with` naming it.
    RestartWith {
        helper: String,
        dependency: String,
    },
    GiveUp {
        helper: String,
        restarts: u32,
    },
    /// A restart waits until the helper's port is free again.
    PortWait {
        helper: String,
        port: u16,
    },
    /// The port was still in use after `waited` (the helper's `stop_timeout`): the helper
    /// starts anyway.
    PortBusy {
        helper: String,
        port: u16,
        waited: Duration,
    },
    /// The restart policy starts `helper` again after `delay`.
    Restart {
        helper: String,
        attempt: u32,
        delay: Duration,
    },
    /// Watch mode restarts a running helper (`running`) or starts an ended one again.
    RestartForChange {
        helper: String,
        why: String,
        running: bool,
    },
    /// The main process ended and left processes behind: they get the stop signal.
    LeftBehind {
        helper: String,
        left: Leftovers,
    },
    /// Processes left behind outlived `timeout` after the stop signal: they are killed.
    KillLeftovers {
        helper: String,
        left: Leftovers,
        timeout: Duration,
    },
    /// Killed processes did not go away either: the helper goes on without them.
    LeftoversStuck {
        helper: String,
    },
    /// The main process did not exit within its stop timeout: it is killed.
    KillMain {
        helper: String,
    },
    /// `--kill-others` / `--kill-others-on-fail` stops the run.
    KillOthers {
        helper: String,
        code: i32,
        on_fail: bool,
    },
    /// A stop signal arrived (`name`, e.g. `SIGINT`; `None`: another number).
    GotSignal {
        signal: i32,
        name: Option<&'static str>,
    },
    SecondSignal,
    /// While the run stops: the helpers it waits for (`exact`: their process counts are
    /// exact), and those stopped after them (their dependencies).
    StopProgress {
        waiting: Vec<StopWait>,
        later: Vec<String>,
        exact: bool,
    },
    /// `spawnmux ctl` asked to `request` (start, stop, restart) the helper.
    Requested {
        helper: String,
        request: &'static str,
    },
    /// A line typed into spawnmux (`--handle-input`) that went nowhere, and why; or the
    /// input's end or failure.
    Input {
        message: String,
        warn: bool,
    },
    /// The run has no control socket (`spawnmux ctl` cannot reach it), and why.
    ControlOff {
        why: String,
    },
    /// The final sweep stops `count` processes that escaped the helpers' groups.
    Sweep {
        count: usize,
    },
    /// A watch problem, or a change to what is watched (`warn`: a problem).
    Watch {
        message: String,
        warn: bool,
    },
    ChangeIgnored {
        shown: String,
    },
    /// A change during the build stops it to start it again (`on_busy = restart`).
    StopBuildForChange {
        helper: String,
    },
    Change {
        paths: Vec<String>,
        count: usize,
        shown: String,
    },
    RebuildLoop {
        paths: Vec<String>,
        count: usize,
        shown: String,
    },
    BuildFailed,
    /// A helper's `log_file` could not be opened or written: it is no longer written (the
    /// run goes on).
    LogFileFailed {
        helper: String,
        path: String,
        error: String,
    },
}

impl Record {
    /// The helper the record is about (`spawnmux` for the run).
    pub(crate) fn helper(&self) -> &str {
        use Record::*;
        match self {
            Start { helper, .. }
            | Ready { helper }
            | NotStarted { helper, .. }
            | CannotStart { helper, .. }
            | Exit { helper, .. }
            | ReadyTimeout { helper, .. }
            | Waiting { helper, .. }
            | CheckTimeout { helper, .. }
            | NotAlive { helper, .. }
            | RestartWith { helper, .. }
            | GiveUp { helper, .. }
            | Restart { helper, .. }
            | RestartForChange { helper, .. }
            | LeftBehind { helper, .. }
            | KillLeftovers { helper, .. }
            | LeftoversStuck { helper }
            | KillMain { helper }
            | StopBuildForChange { helper }
            | PortWait { helper, .. }
            | PortBusy { helper, .. }
            | Requested { helper, .. }
            | LogFileFailed { helper, .. } => helper,
            Note(_) | KillOthers { .. } | GotSignal { .. } | SecondSignal | Sweep { .. } => RUN,
            ControlOff { .. } | Input { .. } => RUN,
            StopProgress { .. } => RUN,
            Watch { .. } | ChangeIgnored { .. } | Change { .. } | RebuildLoop { .. } => RUN,
            BuildFailed => RUN,
        }
    }

    /// The JSON `event` name.
    pub(crate) fn event(&self) -> &'static str {
        use Record::*;
        match self {
            Note(_) => "note",
            Start { .. } => "start",
            Ready { .. } => "ready",
            NotStarted { .. } | CannotStart { .. } => "error",
            Exit { .. } => "exit",
            ReadyTimeout { .. } | CheckTimeout { .. } => "ready_timeout",
            NotAlive { .. } => "not_alive",
            RestartWith { .. } => "restart",
            Waiting { .. } => "waiting",
            PortWait { .. } => "port_wait",
            PortBusy { .. } => "port_busy",
            GiveUp { .. } => "give_up",
            Restart { .. } | RestartForChange { .. } => "restart",
            LeftBehind { .. } | KillLeftovers { .. } | LeftoversStuck { .. } | KillMain { .. } => {
                "stop"
            }
            KillOthers { .. } | GotSignal { .. } | SecondSignal | Sweep { .. } => "stop",
            StopProgress { .. } => "stop",
            Requested { .. } => "control",
            ControlOff { .. } => "control_error",
            Input { .. } => "input",
            StopBuildForChange { .. } => "stop",
            Watch { warn: true, .. } => "watch_error",
            Watch { .. } => "watch",
            ChangeIgnored { .. } => "change_ignored",
            Change { .. } => "change",
            RebuildLoop { .. } => "rebuild_loop",
            BuildFailed => "build_failed",
            LogFileFailed { .. } => "log_file_error",
        }
    }

    /// Level warning (else info).
    pub(crate) fn warn(&self) -> bool {
        use Record::*;
        match self {
            NotStarted { .. } | CannotStart { .. } | ReadyTimeout { .. } | GiveUp { .. } => true,
            CheckTimeout { .. } | NotAlive { .. } | PortBusy { .. } => true,
            Restart { .. } | KillLeftovers { .. } | LeftoversStuck { .. } | KillMain { .. } => true,
            SecondSignal | Sweep { .. } | RebuildLoop { .. } | BuildFailed => true,
            ControlOff { .. } => true,
            LogFileFailed { .. } => true,
            Exit { warn, .. } | Watch { warn, .. } | Input { warn, .. } => *warn,
            KillOthers { code, on_fail, .. } => *on_fail || *code != 0,
            _ => false,
        }
    }

    /// The JSON fields besides `ts`, `helper`, `event`, `level` and `message`.
    pub(crate) fn fields(&self) -> Vec<(&'static str, Value)> {
        use Record::*;
        let ms = |d: &Duration| Value::from(d.as_millis() as u64);
        match self {
            Start { pid, .. } => vec![("pid", (*pid).into())],
            Exit { exit, ended, .. } => {
                let mut f = vec![match exit {
                    spawnmux::Exit::Signal(s) => ("signal", (*s).into()),
                    other => ("code", other.code().unwrap_or(1).into()),
                }];
                if let Ended::Build { took } = ended {
                    f.push(("duration_ms", ms(took)));
                }
                f
            }
            ReadyTimeout { timeout, .. } => vec![("timeout_ms", ms(timeout))],
            Waiting {
                missing, waited, ..
            } => vec![
                (
                    "waiting_for",
                    missing.iter().map(|(n, _)| n.clone()).collect(),
                ),
                (
                    "conditions",
                    missing.iter().map(|(_, c)| c.name()).collect(),
                ),
                ("waited_s", waited.as_secs().into()),
            ],
            GiveUp { restarts, .. } => vec![("restarts", (*restarts).into())],
            Restart { attempt, delay, .. } => {
                vec![("attempt", (*attempt).into()), ("delay_ms", ms(delay))]
            }
            LeftBehind { left, .. } | KillLeftovers { left, .. } => {
                vec![("count", left.count.into())]
            }
            Sweep { count } => vec![("count", (*count).into())],
            StopProgress { waiting, later, .. } => {
                let waiting: Vec<Value> = waiting
                    .iter()
                    .map(|w| {
                        serde_json::json!({
                            "helper": w.helper,
                            "processes": w.processes,
                            "kill_in_ms": w.kill_in.map(|d| d.as_millis() as u64),
                        })
                    })
                    .collect();
                vec![("waiting", waiting.into()), ("then", later.clone().into())]
            }
            Requested { request, .. } => vec![("request", (*request).into())],
            LogFileFailed { path, error, .. } => {
                vec![
                    ("path", path.clone().into()),
                    ("error", error.clone().into()),
                ]
            }
            GotSignal { signal, .. } => vec![("signal", (*signal).into())],
            Change { paths, count, .. } | RebuildLoop { paths, count, .. } => {
                vec![("paths", paths.clone().into()), ("count", (*count).into())]
            }
            _ => self.check_fields(),
        }
    }

    /// [`Record::fields`] for checks, `depends_on` and ports.
    fn check_fields(&self) -> Vec<(&'static str, Value)> {
        use Record::*;
        let ms = |d: &Duration| Value::from(d.as_millis() as u64);
        match self {
            NotStarted {
                dependency,
                condition,
                code,
                ..
            } => vec![
                ("dependency", dependency.clone().into()),
                ("condition", condition.name().into()),
                ("code", (*code).into()),
            ],
            CheckTimeout {
                timeout,
                check,
                last,
                ..
            } => vec![
                ("timeout_ms", ms(timeout)),
                ("check", check.clone().into()),
                ("last_error", last.clone().into()),
            ],
            NotAlive {
                failures,
                check,
                error,
                ..
            } => vec![
                ("failures", (*failures).into()),
                ("check", check.clone().into()),
                ("error", error.clone().into()),
            ],
            RestartWith { dependency, .. } => vec![("dependency", dependency.clone().into())],
            PortWait { port, .. } => vec![("port", (*port).into())],
            PortBusy { port, waited, .. } => {
                vec![("port", (*port).into()), ("waited_ms", ms(waited))]
            }
            _ => Vec::new(),
        }
    }

    /// The text of the record (the text log's line, the JSON `message`).
    pub(crate) fn message(&self) -> String {
        use Record::*;
        match self {
            Note(text) => text.clone(),
            Start {
                helper,
                pid,
                command,
            } => format!("{helper} started: {command} (pid {pid})"),
            Ready { helper } => format!("{helper} is ready"),
            NotStarted {
                helper,
                dependency,
                condition,
                code,
            } => not_started(helper, dependency, *condition, *code),
            CannotStart { helper, error } => format!("{helper} cannot start: {error}"),
            Exit {
                helper,
                exit,
                ended,
                ..
            } => exit_message(helper, exit, ended),
            ReadyTimeout {
                helper,
                timeout,
                line,
            } => format!(
                "{helper} was not ready after {}: no line contained {line:?}; stopping it (it counts as failed)",
                humantime::format_duration(*timeout),
            ),
            Waiting {
                helper,
                missing,
                waited,
            } => format!(
                "{helper} waits for {}: {}s",
                waits_for(missing),
                waited.as_secs()
            ),
            GiveUp { helper, restarts } => format!(
                "giving up on {helper} after {}",
                plural(*restarts as usize, "restart")
            ),
            Restart {
                helper,
                attempt,
                delay,
            } => format!(
                "restarting {helper} in {}s (attempt {attempt})",
                delay.as_secs_f32()
            ),
            RestartForChange {
                helper,
                why,
                running: true,
            } => format!("restarting {helper}: {why}"),
            RestartForChange { helper, why, .. } => format!("starting {helper} again: {why}"),
            LogFileFailed {
                helper,
                path,
                error,
            } => format!("{helper}'s log_file {path} failed ({error}): from now on its output is only in this log"),
            CheckTimeout { .. } | NotAlive { .. } | RestartWith { .. } => self.check_message(),
            PortWait { .. } | PortBusy { .. } => self.check_message(),
            _ => self.stop_or_watch_message(),
        }
    }

    /// [`Record::message`] for checks, `restart_with` and ports.
    fn check_message(&self) -> String {
        use Record::*;
        match self {
            CheckTimeout {
                helper,
                timeout,
                check,
                last,
            } => format!(
                "{helper} was not ready after {}: {check} never succeeded{}; stopping it (it counts as failed)",
                humantime::format_duration(*timeout),
                last.as_ref().map(|e| format!(" (last attempt: {e})")).unwrap_or_default(),
            ),
            NotAlive {
                helper,
                failures,
                check,
                error,
            } => format!(
                "{helper} is not alive: {check} failed {failures} times in a row (last: {error}); restarting it"
            ),
            RestartWith { helper, dependency } => {
                format!("restarting {helper}: {dependency} restarted (restart_with)")
            }
            PortWait { helper, port } => format!("{helper} waits for port {port} to be free"),
            PortBusy {
                helper,
                port,
                waited,
            } => format!(
                "port {port} is still in use after {}: starting {helper} anyway",
                humantime::format_duration(*waited)
            ),
            _ => unreachable!("message() renders the others"),
        }
    }

    /// [`Record::message`] for the stop sequence and watch mode.
    fn stop_or_watch_message(&self) -> String {
        use Record::*;
        match self {
            LeftBehind { helper, left } => left_behind(helper, *left),
            KillLeftovers {
                helper,
                left,
                timeout,
            } => kill_leftovers(helper, *left, *timeout),
            LeftoversStuck { helper } => {
                format!("{helper}'s old processes did not go away; going on without them")
            }
            KillMain { helper } => format!("{helper} did not stop in time: killing it"),
            KillOthers {
                helper,
                on_fail: false,
                ..
            } => format!("{helper} ended: stopping the others (--kill-others)"),
            KillOthers { helper, .. } => {
                format!("{helper} failed: stopping the others (--kill-others-on-fail)")
            }
            GotSignal { signal, name } => {
                let again = if *signal == crate::os::SIGINT {
                    " (Ctrl-C again kills them at once)"
                } else {
                    " (the same signal again kills them at once)"
                };
                let name = name.unwrap_or("a signal");
                format!("got {name}: stopping every helper{again}")
            }
            SecondSignal => "second signal: killing everything now".to_string(),
            StopProgress {
                waiting,
                later,
                exact,
            } => stop_progress(waiting, later, *exact),
            Requested { helper, request } => format!("{request} {helper}: asked by spawnmux ctl"),
            ControlOff { why } => why.clone(),
            Input { message, .. } => message.clone(),
            Sweep { count } => format!(
                "{} left by the helpers still running: stopping {}",
                plural(*count, "process"),
                them(*count)
            ),
            Watch { message, .. } => message.clone(),
            ChangeIgnored { shown } => {
                format!("change during the build ignored (on_busy = ignore): {shown}")
            }
            StopBuildForChange { helper } => format!(
                "files changed during the build: stopping {helper} to start it again (on_busy = restart)"
            ),
            Change { shown, .. } => format!("change: {shown}"),
            RebuildLoop { shown, .. } => format!(
                "rebuild loop: each build changes watched files ({shown}); their changes during a build no longer trigger one. Add them to [watch] ignore or output."
            ),
            BuildFailed => "the build failed: helpers not restarted".to_string(),
            _ => unreachable!("message() renders the others"),
        }
    }
}

fn exit_message(helper: &str, exit: &Exit, ended: &Ended) -> String {
    match ended {
        Ended::Exited => format!("{helper} exited ({exit})"),
        Ended::Stopped => format!("{helper} stopped ({exit})"),
        Ended::Build { took } if *exit == Exit::Code(0) => {
            format!("{helper} succeeded in {:.1}s", took.as_secs_f32())
        }
        Ended::Build { took } => {
            format!("{helper} failed ({exit}) after {:.1}s", took.as_secs_f32())
        }
    }
}

fn not_started(helper: &str, dependency: &str, condition: Condition, code: i32) -> String {
    let why = match condition {
        Condition::Ready => format!("{dependency} ended before it was ready"),
        Condition::Started | Condition::Completed => format!("{dependency} never started"),
        Condition::CompletedSuccessfully => format!(
            "{dependency} ended with exit code {code}; {helper} needs it to complete successfully"
        ),
    };
    format!("{helper} not started: {why}")
}

/// `db, cache to be ready and migrate to complete successfully`.
fn waits_for(missing: &[(String, Condition)]) -> String {
    let mut groups: Vec<(Condition, Vec<&str>)> = Vec::new();
    for (name, condition) in missing {
        match groups.iter_mut().find(|(c, _)| c == condition) {
            Some((_, names)) => names.push(name),
            None => groups.push((*condition, vec![name])),
        }
    }
    let groups: Vec<String> = groups
        .into_iter()
        .map(|(condition, names)| {
            let verb = match condition {
                Condition::Started => "to start",
                Condition::Ready => "to be ready",
                Condition::Completed => "to complete",
                Condition::CompletedSuccessfully => "to complete successfully",
            };
            format!("{} {verb}", names.join(", "))
        })
        .collect();
    groups.join(" and ")
}

fn left_behind(helper: &str, left: Leftovers) -> String {
    match left.count {
        0 => format!("{helper} left a process holding its output: stopping it"),
        n if left.exact => format!(
            "{helper} left {} running: stopping {}",
            plural(n, "process"),
            them(n)
        ),
        _ => format!("{helper} left processes running: stopping them"),
    }
}

fn kill_leftovers(helper: &str, left: Leftovers, timeout: Duration) -> String {
    let what = match left.count {
        0 => "a process holding its output is".to_string(),
        n if left.exact => {
            let verb = if n == 1 { "is" } else { "are" };
            format!("{} {verb}", plural(n, "process"))
        }
        _ => "processes are".to_string(),
    };
    format!(
        "{helper}: {what} still running {} after the stop signal: killing {}",
        humantime::format_duration(timeout),
        them(left.count),
    )
}

/// `waiting for web (3 processes), 4s until kill; then db; Ctrl-C again to kill now`.
fn stop_progress(waiting: &[StopWait], later: &[String], exact: bool) -> String {
    let mut parts: Vec<String> = waiting
        .iter()
        .map(|w| {
            let count = match exact {
                true => format!(" ({})", plural(w.processes, "process")),
                false => String::new(),
            };
            let kill = match w.kill_in {
                Some(d) => format!("{}s until kill", d.as_secs_f32().ceil()),
                None => "killed".to_string(),
            };
            format!("{}{count}, {kill}", w.helper)
        })
        .collect();
    if let Some(first) = parts.first_mut() {
        first.insert_str(0, "waiting for ");
    }
    if !later.is_empty() {
        parts.push(format!("then {}", later.join(", ")));
    }
    parts.push("Ctrl-C again to kill now".to_string());
    parts.join("; ")
}

/// `it` for one, `them` for any other number.
fn them(n: usize) -> &'static str {
    if n == 1 {
        "it"
    } else {
        "them"
    }
}

/// `1 restart`, `2 restarts`, `2 processes`.
pub(crate) fn plural(n: usize, noun: &str) -> String {
    match (n, noun.ends_with('s')) {
        (1, _) => format!("1 {noun}"),
        (_, true) => format!("{n} {noun}es"),
        _ => format!("{n} {noun}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_say_the_same_thing() {
        let r = Record::Restart {
            helper: "web".into(),
            attempt: 2,
            delay: Duration::from_secs(2),
        };
        assert_eq!(r.message(), "restarting web in 2s (attempt 2)");
        assert_eq!(r.event(), "restart");
        assert!(r.warn());
        assert_eq!(
            r.fields(),
            vec![("attempt", 2.into()), ("delay_ms", 2000.into())]
        );
    }

    #[test]
    fn exits_carry_code_or_signal_and_builds_their_duration() {
        let r = Record::Exit {
            helper: "build".into(),
            exit: Exit::Code(0),
            ended: Ended::Build {
                took: Duration::from_millis(1234),
            },
            warn: false,
        };
        assert_eq!(r.message(), "build succeeded in 1.2s");
        assert_eq!(
            r.fields(),
            vec![("code", 0.into()), ("duration_ms", 1234.into())]
        );
        let r = Record::Exit {
            helper: "web".into(),
            exit: Exit::Signal(9),
            ended: Ended::Stopped,
            warn: false,
        };
        assert_eq!(r.fields(), vec![("signal", 9.into())]);
        assert!(r.message().starts_with("web stopped ("));
    }

    #[test]
    fn leftovers_are_counted_only_when_the_count_is_exact() {
        let left = |count, exact| Leftovers { count, exact };
        for (count, exact, want) in [
            (1, true, "g left 1 process running: stopping it"),
            (3, true, "g left 3 processes running: stopping them"),
            (1, false, "g left processes running: stopping them"),
            (0, true, "g left a process holding its output: stopping it"),
        ] {
            assert_eq!(left_behind("g", left(count, exact)), want);
        }
        assert_eq!(
            kill_leftovers("g", left(2, true), Duration::from_secs(5)),
            "g: 2 processes are still running 5s after the stop signal: killing them"
        );
    }
}
