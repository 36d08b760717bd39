//! `spawnmux run`: starts the helpers of a [`RunSpec`] on one `Mux`, logs their output,
//! restarts them by policy, and stops everything on Ctrl-C / SIGTERM / SIGHUP.
//!
//! Theory of operation: one loop. Each helper is in one [`State`]; every event (a line, an
//! exit, a signal, a timer) moves helpers between states and may produce actions (spawn,
//! signal, kill, log). Timers (restart backoff, stop timeouts) shorten the loop's wait; nothing
//! polls.

use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::Value;
use spawnmux::{ChildId, Command, Event, Events, Exit, Mux};

use crate::cli::RunArgs;
use crate::output::{fields, Log};
use crate::spec::{HelperSpec, Program, Restart, RunSpec};

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A helper that stayed up this long starts its backoff from the beginning again.
const STABLE_AFTER: Duration = Duration::from_secs(10);
/// Partial lines (prompts, progress bars) are shown after this much silence.
const PARTIAL_AFTER: Duration = Duration::from_millis(300);
/// After every stop timeout and kill, how long to wait for trees to go away.
const LAST_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    /// Not started: waiting for its dependencies to be ready.
    Waiting,
    Running {
        id: ChildId,
        since: Instant,
    },
    /// Will be started again at this time.
    Backoff(Instant),
    /// Ended for good (exit code as spawnmux reports it).
    Done(i32),
}

struct Helper {
    spec: HelperSpec,
    state: State,
    ready: bool,
    restarts: u32,
    backoff: Duration,
    /// When a stop was requested: kill the tree at this time.
    kill_at: Option<Instant>,
}

/// Why the runner is stopping, and the exit code that goes with it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    Signal(i32),
    HelperFailed(i32),
}

struct Runner {
    mux: Mux,
    log: Log,
    helpers: Vec<Helper>,
    kill_others_on_fail: bool,
    stopping: Option<Stop>,
    first_failure: Option<i32>,
    /// Deadline of the whole stop (after which the `Mux` is dropped, killing what is left).
    stop_deadline: Option<Instant>,
    signals: Option<crate::signals::Signals>,
}

/// Runs `spec` until every helper has ended or a signal stops spawnmux.
pub(crate) fn run(spec: RunSpec, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let names: Vec<String> = spec.helpers.iter().map(|h| h.name.clone()).collect();
    let color = crate::output::use_color(args.color);
    let mut runner = Runner {
        mux: Mux::new()?,
        log: Log::new(args.format, color, !args.no_timestamps, &names),
        helpers: spec
            .helpers
            .into_iter()
            .map(|spec| Helper {
                spec,
                state: State::Waiting,
                ready: false,
                restarts: 0,
                backoff: FIRST_BACKOFF,
                kill_at: None,
            })
            .collect(),
        kill_others_on_fail: args.kill_others_on_fail,
        stopping: None,
        first_failure: None,
        stop_deadline: None,
        signals: None,
    };
    runner.signals = Some(crate::signals::install(&mut runner.mux)?);
    runner.start_ready_helpers()?;
    let code = runner.run_loop()?;
    runner.log.flush()?;
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

impl Runner {
    fn run_loop(&mut self) -> anyhow::Result<i32> {
        let mut events = Events::new();
        loop {
            if let Some(code) = self.finished() {
                return Ok(code);
            }
            let timeout = self
                .next_timer()
                .map(|t| t.saturating_duration_since(Instant::now()));
            self.mux.wait(&mut events, timeout)?;
            let mut signals = Vec::new();
            for event in &events {
                match event {
                    Event::Woken(sig) => signals.push(sig as i32),
                    Event::Ready(r) => {
                        if let Some(s) = &self.signals {
                            signals.extend(s.drain(&mut self.mux, r.source));
                        }
                    }
                    other => self.on_event(other)?,
                }
            }
            for sig in signals {
                self.on_signal(sig)?;
            }
            self.on_timers()?;
            self.start_ready_helpers()?;
            self.log.flush()?;
        }
    }

    /// The exit code, once there is nothing left to wait for.
    fn finished(&self) -> Option<i32> {
        match self.stopping {
            Some(stop) if self.mux.is_empty() => Some(match stop {
                Stop::Signal(sig) => 128 + sig,
                Stop::HelperFailed(code) => code,
            }),
            Some(_) => None,
            None => {
                let all_done = self
                    .helpers
                    .iter()
                    .all(|h| matches!(h.state, State::Done(_)));
                (all_done && self.mux.is_empty()).then(|| self.first_failure.unwrap_or(0))
            }
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        let backoffs = self.helpers.iter().filter_map(|h| match h.state {
            State::Backoff(t) if self.stopping.is_none() => Some(t),
            _ => None,
        });
        let kills = self.helpers.iter().filter_map(|h| h.kill_at);
        backoffs.chain(kills).chain(self.stop_deadline).min()
    }

    fn index_of(&self, id: ChildId) -> Option<usize> {
        self.helpers
            .iter()
            .position(|h| matches!(h.state, State::Running { id: r, .. } if r == id))
    }

    fn on_event(&mut self, event: Event<'_>) -> io::Result<()> {
        match event {
            Event::Output(out) => {
                let name = out.name.to_string();
                self.log.output(&name, &out)?;
                if let Some(i) = self.index_of(out.child) {
                    let h = &self.helpers[i];
                    let hit = h.spec.ready_line.as_deref().is_some_and(|needle| {
                        !h.ready
                            && out
                                .bytes
                                .windows(needle.len().max(1))
                                .any(|w| w == needle.as_bytes())
                    });
                    if hit {
                        self.mark_ready(i)?;
                    }
                }
            }
            Event::Exited { child, exit, .. } => {
                if let Some(i) = self.index_of(child) {
                    self.on_exit(i, exit)?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn mark_ready(&mut self, i: usize) -> io::Result<()> {
        self.helpers[i].ready = true;
        let name = self.helpers[i].spec.name.clone();
        self.log.event(
            &name,
            "ready",
            Value::Null,
            &format!("{name} is ready"),
            false,
        )
    }

    /// Starts every waiting helper whose dependencies are ready; skips those whose dependency
    /// ended without becoming ready.
    fn start_ready_helpers(&mut self) -> io::Result<()> {
        if self.stopping.is_some() {
            return Ok(());
        }
        for i in 0..self.helpers.len() {
            if self.helpers[i].state != State::Waiting {
                continue;
            }
            let deps = self.helpers[i].spec.depends_on.clone();
            let dep = |name: &String| self.helpers.iter().find(|h| &h.spec.name == name);
            if let Some(dead) = deps
                .iter()
                .find(|d| dep(d).is_some_and(|h| !h.ready && matches!(h.state, State::Done(_))))
            {
                let name = self.helpers[i].spec.name.clone();
                let msg = format!("{name} not started: {dead} ended before it was ready");
                self.log.event(&name, "error", Value::Null, &msg, true)?;
                self.helpers[i].state = State::Done(1);
                self.first_failure.get_or_insert(1);
                continue;
            }
            if deps.iter().all(|d| dep(d).is_some_and(|h| h.ready)) {
                self.start(i)?;
            }
        }
        Ok(())
    }

    fn start(&mut self, i: usize) -> io::Result<()> {
        let name = self.helpers[i].spec.name.clone();
        let cmd = command(&self.helpers[i].spec);
        match self.mux.spawn(&cmd) {
            Ok(id) => {
                let pid = self.mux.pid(id).unwrap_or(0);
                self.helpers[i].state = State::Running {
                    id,
                    since: Instant::now(),
                };
                let what = describe(&self.helpers[i].spec.program);
                self.log.event(
                    &name,
                    "start",
                    fields(&[("pid", pid.into())]),
                    &format!("{name} started: {what} (pid {pid})"),
                    false,
                )?;
                if self.helpers[i].spec.ready_line.is_none() && !self.helpers[i].ready {
                    self.mark_ready(i)?;
                }
            }
            Err(e) => {
                let msg = format!("{name} cannot start: {e}");
                self.log.event(&name, "error", Value::Null, &msg, true)?;
                self.after_end(i, 127, Duration::ZERO)?;
            }
        }
        Ok(())
    }

    fn on_exit(&mut self, i: usize, exit: Exit) -> io::Result<()> {
        let name = self.helpers[i].spec.name.clone();
        let uptime = match self.helpers[i].state {
            State::Running { since, .. } => since.elapsed(),
            _ => Duration::ZERO,
        };
        self.helpers[i].kill_at = None;
        let (code, detail) = match exit {
            Exit::Signal(s) => (128 + s, fields(&[("signal", s.into())])),
            other => (
                other.code().unwrap_or(1),
                fields(&[("code", other.code().unwrap_or(1).into())]),
            ),
        };
        let msg = format!("{name} exited ({exit})");
        self.log.event(
            &name,
            "exit",
            detail,
            &msg,
            code != 0 && self.stopping.is_none(),
        )?;
        self.after_end(i, code, uptime)
    }

    /// A helper ended with `code` (127: could not start): restart, give up, or stop all.
    fn after_end(&mut self, i: usize, code: i32, uptime: Duration) -> io::Result<()> {
        let h = &mut self.helpers[i];
        let name = h.spec.name.clone();
        let restart = self.stopping.is_none()
            && match h.spec.restart {
                Restart::Never => false,
                Restart::OnFailure => code != 0,
                Restart::Always => true,
            };
        if !restart {
            h.state = State::Done(code);
            return self.failed(code, &name);
        }
        if h.spec.max_restarts.is_some_and(|max| h.restarts >= max) {
            h.state = State::Done(code);
            let msg = format!("giving up on {name} after {} restarts", h.restarts);
            self.log.event(
                &name,
                "give_up",
                fields(&[("restarts", h.restarts.into())]),
                &msg,
                true,
            )?;
            return self.failed(code, &name);
        }
        if uptime >= STABLE_AFTER {
            h.backoff = FIRST_BACKOFF;
        }
        let delay = h.backoff;
        h.backoff = (h.backoff * 2).min(MAX_BACKOFF);
        h.restarts += 1;
        h.state = State::Backoff(Instant::now() + delay);
        let attempt = h.restarts;
        let msg = format!(
            "restarting {name} in {}s (attempt {attempt})",
            delay.as_secs_f32()
        );
        let f = fields(&[
            ("attempt", attempt.into()),
            ("delay_ms", (delay.as_millis() as u64).into()),
        ]);
        self.log.event(&name, "restart", f, &msg, true)
    }

    fn failed(&mut self, code: i32, name: &str) -> io::Result<()> {
        if code == 0 || self.stopping.is_some() {
            return Ok(());
        }
        self.first_failure.get_or_insert(code);
        if self.kill_others_on_fail {
            let msg = format!("{name} failed: stopping the others (--kill-others-on-fail)");
            self.log
                .event("spawnmux", "stop", Value::Null, &msg, true)?;
            self.begin_stop(Stop::HelperFailed(code))?;
        }
        Ok(())
    }

    fn on_signal(&mut self, sig: i32) -> io::Result<()> {
        if self.stopping.is_some() {
            self.log.event(
                "spawnmux",
                "stop",
                Value::Null,
                "second signal: killing everything now",
                true,
            )?;
            for id in self.mux.children().collect::<Vec<_>>() {
                let _ = self.mux.kill(id);
            }
            return Ok(());
        }
        let msg = format!("got {}: stopping every helper", signal_name(sig));
        self.log.event(
            "spawnmux",
            "stop",
            fields(&[("signal", sig.into())]),
            &msg,
            false,
        )?;
        self.begin_stop(Stop::Signal(sig))
    }

    fn begin_stop(&mut self, stop: Stop) -> io::Result<()> {
        self.stopping = Some(stop);
        let now = Instant::now();
        let mut longest = Duration::ZERO;
        for h in &mut self.helpers {
            match h.state {
                State::Running { id, .. } => {
                    let _ = send_stop(&mut self.mux, id, h.spec.stop_signal);
                    h.kill_at = Some(now + h.spec.stop_timeout);
                    longest = longest.max(h.spec.stop_timeout);
                }
                State::Waiting | State::Backoff(_) => h.state = State::Done(0),
                State::Done(_) => {}
            }
        }
        // Exited children whose grandchildren still hold a pipe are stopped the same way.
        let running: Vec<ChildId> = self
            .helpers
            .iter()
            .filter_map(|h| match h.state {
                State::Running { id, .. } => Some(id),
                _ => None,
            })
            .collect();
        for id in self
            .mux
            .children()
            .filter(|id| !running.contains(id))
            .collect::<Vec<_>>()
        {
            let _ = self.mux.terminate(id);
        }
        self.stop_deadline = Some(now + longest + LAST_WAIT);
        Ok(())
    }

    fn on_timers(&mut self) -> io::Result<()> {
        let now = Instant::now();
        for i in 0..self.helpers.len() {
            if let Some(at) = self.helpers[i].kill_at.filter(|at| *at <= now) {
                let _ = at;
                self.helpers[i].kill_at = None;
                if let State::Running { id, .. } = self.helpers[i].state {
                    let name = self.helpers[i].spec.name.clone();
                    self.log.event(
                        &name,
                        "stop",
                        Value::Null,
                        &format!("{name} did not stop in time: killing it"),
                        true,
                    )?;
                    let _ = self.mux.kill(id);
                }
            }
            if let State::Backoff(at) = self.helpers[i].state {
                if at <= now && self.stopping.is_none() {
                    self.start(i)?;
                }
            }
        }
        if self.stop_deadline.is_some_and(|d| d <= now) {
            // Whatever is left holds a pipe from outside its group: let go (Drop kills and
            // reaps what it can).
            self.mux.shutdown(Duration::ZERO, |_| {})?;
        }
        Ok(())
    }
}

fn send_stop(mux: &mut Mux, id: ChildId, signal: i32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use spawnmux::os::unix::MuxExt;
        mux.signal(id, signal)
    }
    #[cfg(not(unix))]
    {
        let _ = signal;
        mux.terminate(id)
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        15 => "SIGTERM",
        _ => "a signal",
    }
}

fn describe(p: &Program) -> String {
    match p {
        Program::Argv(v) => v.join(" "),
        Program::Shell(s) => s.clone(),
    }
}

/// The library command for a helper: argv directly, a shell string through `sh -c` /
/// `cmd /c`.
fn command(spec: &HelperSpec) -> Command {
    let mut cmd = match &spec.program {
        Program::Argv(v) => {
            let mut c = Command::new(&v[0]);
            c.args(&v[1..]);
            c
        }
        Program::Shell(s) if cfg!(windows) => {
            let mut c = Command::new("cmd");
            c.args(["/d", "/c", s]);
            c
        }
        Program::Shell(s) => {
            let mut c = Command::new("sh");
            c.args(["-c", s]);
            c
        }
    };
    cmd.name(spec.name.clone())
        .flush_partial_after(PARTIAL_AFTER);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    cmd
}
