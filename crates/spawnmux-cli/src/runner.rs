//! `spawnmux run`: starts the helpers of a [`RunSpec`] on one `Mux`, logs their output,
//! restarts them by policy, and stops everything on Ctrl-C / SIGTERM / SIGHUP.
//!
//! Theory of operation: one loop. Each helper is in one [`State`]; every event (a line, an
//! exit, a signal, a timer) moves helpers between states and may produce actions (spawn,
//! signal, kill, log). Timers (restart backoff, stop timeouts) shorten the loop's wait; nothing
//! polls.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use indexmap::IndexSet;
use serde_json::Value;
use spawnmux::{ChildId, Command, Event, Events, Exit, Mux};

use crate::cli::RunArgs;
use crate::output::{fields, Log};
use crate::spec::{HelperSpec, OnBusy, Program, Restart, RunSpec, WatchSpec};
use crate::watch::Watch;

const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A helper that stayed up this long starts its backoff from the beginning again.
const STABLE_AFTER: Duration = Duration::from_secs(10);
/// Partial lines (prompts, progress bars) are shown after this much silence.
const PARTIAL_AFTER: Duration = Duration::from_millis(300);
/// After every stop timeout and kill, how long to wait for trees to go away.
const LAST_WAIT: Duration = Duration::from_secs(5);
/// How often to look again for an old process tree that has closed its pipes but not yet
/// gone (only while a helper waits to be restarted).
const TREE_CHECK: Duration = Duration::from_millis(20);
/// Builds in a row triggered only by changes made during the previous build: a rebuild loop.
const LOOP_LIMIT: u32 = 3;
/// A burst of changes is acted on after at most this many debounce periods (and 2 s).
const MAX_DEBOUNCES: u32 = 10;

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
    /// Exited after a stop that restarts it: waiting for its old process tree to be gone
    /// (pipes closed, process group empty), then started again (`then_start`) or done.
    Draining {
        id: ChildId,
        pid: u32,
        deadline: Instant,
        killed: bool,
        then_start: bool,
    },
}

struct Helper {
    spec: HelperSpec,
    state: State,
    ready: bool,
    restarts: u32,
    backoff: Duration,
    /// When a stop was requested: kill the tree at this time.
    kill_at: Option<Instant>,
    /// Process id of the current (or last) process.
    pid: u32,
    /// Being stopped in order to start again (watch mode).
    replace: bool,
    /// The watch mode's rebuild command: started by changes only.
    is_build: bool,
}

impl Helper {
    fn new(spec: HelperSpec, is_build: bool) -> Helper {
        Helper {
            spec,
            state: if is_build {
                State::Done(0)
            } else {
                State::Waiting
            },
            ready: false,
            restarts: 0,
            backoff: FIRST_BACKOFF,
            kill_at: None,
            pid: 0,
            replace: false,
            is_build,
        }
    }
}

/// Watch mode's state: changes waiting for the debounce, the build, loop detection.
struct WatchState {
    watch: Watch,
    /// Index of the build in `Runner::helpers`.
    build: Option<usize>,
    /// Indices of the helpers to restart.
    restart: Vec<usize>,
    debounce: Duration,
    on_busy: OnBusy,
    pending: IndexSet<PathBuf>,
    first: Option<Instant>,
    last: Option<Instant>,
    /// Every pending change arrived while a build ran (or right after it).
    pending_from_build: bool,
    build_end: Option<Instant>,
    /// Changes during the current build were reported as ignored (on_busy = ignore).
    ignore_reported: bool,
    loop_streak: u32,
    /// Paths a rebuild loop was found on: their changes during a build are dropped.
    loop_paths: HashSet<PathBuf>,
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
    watch: Option<WatchState>,
    /// Which helper each child the `Mux` may still report belongs to (pruned in `start`).
    ids: HashMap<ChildId, usize>,
}

/// Runs `spec` until every helper has ended or a signal stops spawnmux.
pub(crate) fn run(spec: RunSpec, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let mut helpers: Vec<Helper> = spec
        .helpers
        .into_iter()
        .map(|spec| Helper::new(spec, false))
        .collect();
    if let Some(build) = spec.watch.as_ref().and_then(|w| w.build.clone()) {
        helpers.push(Helper::new(build, true));
    }
    let names: Vec<String> = helpers.iter().map(|h| h.spec.name.clone()).collect();
    let color = crate::output::use_color(args.color);
    let mut runner = Runner {
        mux: Mux::new()?,
        log: Log::new(
            args.format,
            color,
            !args.no_timestamps,
            args.keep_ansi,
            &names,
        ),
        helpers,
        kill_others_on_fail: args.kill_others_on_fail,
        stopping: None,
        first_failure: None,
        stop_deadline: None,
        signals: None,
        watch: None,
        ids: HashMap::new(),
    };
    runner.signals = Some(crate::signals::install(&mut runner.mux)?);
    if let Some(w) = &spec.watch {
        runner.start_watch(w)?;
    }
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
            // The log is buffered: nothing may wait in it while the loop blocks.
            self.log.flush()?;
            self.mux.wait(&mut events, timeout)?;
            let mut signals = Vec::new();
            for event in &events {
                match event {
                    Event::Woken(crate::watch::WAKE_TOKEN) => self.on_watch_wake()?,
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
            self.check_draining()?;
            self.on_timers()?;
            self.start_ready_helpers()?;
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
            // Watch mode runs until stopped.
            None if self.watch.is_some() => None,
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
        let now = Instant::now();
        let draining = self.helpers.iter().filter_map(|h| match h.state {
            // Pipes closed but the group not yet empty: look again soon.
            State::Draining { id, deadline, .. } if !self.mux.children().any(|c| c == id) => {
                Some(deadline.min(now + TREE_CHECK))
            }
            State::Draining { deadline, .. } => Some(deadline),
            _ => None,
        });
        let watch = self.watch_due();
        backoffs
            .chain(kills)
            .chain(draining)
            .chain(watch)
            .chain(self.stop_deadline)
            .min()
    }

    /// The helper `id` is the running process of.
    fn index_of(&self, id: ChildId) -> Option<usize> {
        let i = *self.ids.get(&id)?;
        matches!(self.helpers[i].state, State::Running { id: r, .. } if r == id).then_some(i)
    }

    fn on_event(&mut self, event: Event<'_>) -> io::Result<()> {
        match event {
            Event::Output(out) => {
                self.log.output(self.ids.get(&out.child).copied(), &out)?;
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
                if self.ids.len() >= 2 * self.helpers.len() {
                    // Keep what the Mux tracks, and each helper's current child (its `Exited`
                    // may be later in this very batch of events).
                    let live: HashSet<ChildId> = self.mux.children().collect();
                    let helpers = &self.helpers;
                    self.ids.retain(|id, j| {
                        live.contains(id)
                            || matches!(helpers[*j].state,
                                State::Running { id: r, .. } | State::Draining { id: r, .. } if r == *id)
                    });
                }
                self.ids.insert(id, i);
                self.helpers[i].pid = pid;
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
                let h = &self.helpers[i];
                if h.spec.ready_line.is_none() && !h.ready && !h.is_build {
                    self.mark_ready(i)?;
                }
            }
            Err(e) => {
                let msg = format!("{name} cannot start: {e}");
                self.log.event(&name, "error", Value::Null, &msg, true)?;
                if self.helpers[i].is_build {
                    self.helpers[i].state = State::Done(127);
                    self.build_ended(127)?;
                } else {
                    self.after_end(i, 127, Duration::ZERO)?;
                }
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
        let (code, mut detail) = match exit {
            Exit::Signal(s) => (128 + s, fields(&[("signal", s.into())])),
            other => (
                other.code().unwrap_or(1),
                fields(&[("code", other.code().unwrap_or(1).into())]),
            ),
        };
        if std::mem::take(&mut self.helpers[i].replace) {
            let msg = format!("{name} stopped ({exit})");
            self.log.event(&name, "exit", detail, &msg, false)?;
            if let State::Running { id, .. } = self.helpers[i].state {
                self.helpers[i].state = State::Draining {
                    id,
                    pid: self.helpers[i].pid,
                    deadline: Instant::now() + self.helpers[i].spec.stop_timeout,
                    killed: false,
                    then_start: !self.helpers[i].is_build,
                };
            }
            return Ok(());
        }
        if self.helpers[i].is_build {
            self.helpers[i].state = State::Done(code);
            if let Value::Object(m) = &mut detail {
                m.insert("duration_ms".into(), (uptime.as_millis() as u64).into());
            }
            let secs = uptime.as_secs_f32();
            let (msg, warn) = match exit {
                Exit::Code(0) => (format!("{name} succeeded in {secs:.1}s"), false),
                _ => (format!("{name} failed ({exit}) after {secs:.1}s"), true),
            };
            self.log
                .event(&name, "exit", detail, &msg, warn && self.stopping.is_none())?;
            return self.build_ended(code);
        }
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
                // An old tree being replaced already had its stop signal. Once its pipes are
                // closed the `Mux` no longer waits for it, so whatever is left of its group
                // (a server that closed its output but holds its port) is killed now.
                State::Draining { id, pid, .. } => {
                    if !self.mux.children().any(|c| c == id) {
                        tree::kill_group(pid);
                    }
                    h.state = State::Done(0);
                }
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
        if self.watch_due().is_some_and(|t| t <= now) {
            self.fire()?;
        }
        if self.stop_deadline.is_some_and(|d| d <= now) {
            // Whatever is left holds a pipe from outside its group: let go (Drop kills and
            // reaps what it can).
            self.mux.shutdown(Duration::ZERO, |_| {})?;
        }
        Ok(())
    }
}

/// Watch mode.
impl Runner {
    fn start_watch(&mut self, spec: &WatchSpec) -> io::Result<()> {
        let (watch, warnings) = Watch::start(spec, self.mux.waker(crate::watch::WAKE_TOKEN))?;
        for w in warnings {
            self.log
                .event("spawnmux", "watch_error", Value::Null, &w, true)?;
        }
        let build = self.helpers.iter().position(|h| h.is_build);
        let restart: Vec<usize> = spec
            .restart
            .iter()
            .filter_map(|name| self.helpers.iter().position(|h| &h.spec.name == name))
            .collect();
        let mut what = Vec::new();
        if let Some(b) = build {
            let spec = &self.helpers[b].spec;
            what.push(format!("run {} ({})", spec.name, describe(&spec.program)));
        }
        if !restart.is_empty() {
            let names: Vec<&str> = restart
                .iter()
                .map(|&i| self.helpers[i].spec.name.as_str())
                .collect();
            what.push(format!("restart {}", names.join(", ")));
        }
        let msg = format!(
            "watching {} (debounce {}): on change, {}",
            watch.describe(),
            humantime::format_duration(spec.debounce),
            what.join(", then ")
        );
        self.log
            .event("spawnmux", "watch", Value::Null, &msg, false)?;
        self.watch = Some(WatchState {
            watch,
            build,
            restart,
            debounce: spec.debounce,
            on_busy: spec.on_busy,
            pending: IndexSet::new(),
            first: None,
            last: None,
            pending_from_build: false,
            build_end: None,
            ignore_reported: false,
            loop_streak: 0,
            loop_paths: HashSet::new(),
        });
        Ok(())
    }

    /// Whether the build is running (or its old tree is still going away).
    fn build_busy(&self) -> bool {
        let build = self.watch.as_ref().and_then(|w| w.build);
        build.is_some_and(|b| {
            matches!(
                self.helpers[b].state,
                State::Running { .. } | State::Draining { .. }
            )
        })
    }

    /// The watcher thread collected something.
    fn on_watch_wake(&mut self) -> io::Result<()> {
        let busy = self.build_busy();
        let Some(w) = &mut self.watch else {
            return Ok(());
        };
        let batch = w.watch.take();
        let mut notes: Vec<(&str, String, bool)> = Vec::new();
        for e in batch.errors {
            notes.push(("watch_error", format!("watch: {e}"), true));
        }
        if batch.ignore_files_changed {
            for e in w.watch.reload_filter() {
                notes.push(("watch_error", e, true));
            }
        }
        if batch.roots_changed {
            for m in w.watch.rewatch() {
                notes.push(("watch", m, false));
            }
        }
        let now = Instant::now();
        let grace = w.debounce.max(Duration::from_millis(300));
        let build_window = busy || w.build_end.is_some_and(|t| now.duration_since(t) < grace);
        let mut paths = batch.paths;
        if build_window {
            paths.retain(|p| !w.loop_paths.contains(p));
        }
        let mut stop_build = None;
        if !paths.is_empty() && self.stopping.is_none() {
            match (busy, w.on_busy) {
                (true, OnBusy::Ignore) => {
                    if !std::mem::replace(&mut w.ignore_reported, true) {
                        let msg = format!(
                            "change during the build ignored (on_busy = ignore): {}",
                            shown(&w.watch, &paths)
                        );
                        notes.push(("change_ignored", msg, false));
                    }
                    paths.clear();
                }
                (true, OnBusy::Restart) => stop_build = w.build,
                _ => {}
            }
            if !paths.is_empty() {
                if w.pending.is_empty() {
                    w.first = Some(now);
                    w.pending_from_build = build_window;
                } else {
                    w.pending_from_build &= build_window;
                }
                w.pending.extend(paths);
                w.last = Some(now);
            }
        }
        for (event, msg, warn) in notes {
            self.log.event("spawnmux", event, Value::Null, &msg, warn)?;
        }
        if let Some(b) = stop_build {
            if let State::Running { id, .. } = self.helpers[b].state {
                if !self.helpers[b].replace {
                    let name = self.helpers[b].spec.name.clone();
                    let msg = format!("files changed during the build: stopping {name} to start it again (on_busy = restart)");
                    self.log.event(&name, "stop", Value::Null, &msg, false)?;
                    self.stop_to_replace(b, id)?;
                }
            }
        }
        Ok(())
    }

    /// When the pending changes are due (debounced, build not busy).
    fn watch_due(&self) -> Option<Instant> {
        let w = self.watch.as_ref()?;
        if w.pending.is_empty() || self.stopping.is_some() || self.build_busy() {
            return None;
        }
        let max_wait = (w.debounce * MAX_DEBOUNCES).max(Duration::from_secs(2));
        Some((w.last? + w.debounce).min(w.first? + max_wait))
    }

    /// Acts on the pending changes: starts the build, or restarts the helpers.
    fn fire(&mut self) -> io::Result<()> {
        let Some(w) = &mut self.watch else {
            return Ok(());
        };
        let paths = std::mem::take(&mut w.pending);
        let from_build = std::mem::take(&mut w.pending_from_build);
        let shown_paths = shown(&w.watch, &paths);
        let list: Vec<Value> = paths
            .iter()
            .take(100)
            .map(|p| w.watch.show(p).into())
            .collect();
        let detail = fields(&[("paths", list.into()), ("count", paths.len().into())]);
        if w.build.is_some() && from_build {
            w.loop_streak += 1;
        } else {
            w.loop_streak = 0;
        }
        if w.loop_streak >= LOOP_LIMIT {
            w.loop_streak = 0;
            w.loop_paths.extend(paths);
            let msg = format!(
                "rebuild loop: each build changes watched files ({shown_paths}); their changes during a build no longer trigger one. Add them to [watch] ignore or output."
            );
            return self
                .log
                .event("spawnmux", "rebuild_loop", detail, &msg, true);
        }
        let build = w.build;
        w.ignore_reported = false;
        self.log.event(
            "spawnmux",
            "change",
            detail,
            &format!("change: {shown_paths}"),
            false,
        )?;
        match build {
            Some(b) => self.start(b),
            None => self.restart_helpers("files changed"),
        }
    }

    /// The build ended (or could not start) with `code`.
    fn build_ended(&mut self, code: i32) -> io::Result<()> {
        if let Some(w) = &mut self.watch {
            w.build_end = Some(Instant::now());
        }
        if self.stopping.is_some() {
            return Ok(());
        }
        let restart = self.watch.as_ref().map_or(0, |w| w.restart.len());
        if code == 0 {
            self.restart_helpers("the build succeeded")
        } else if restart > 0 {
            let msg = "the build failed: helpers not restarted";
            self.log
                .event("spawnmux", "build_failed", Value::Null, msg, true)
        } else {
            Ok(())
        }
    }

    fn restart_helpers(&mut self, why: &str) -> io::Result<()> {
        let list = self
            .watch
            .as_ref()
            .map(|w| w.restart.clone())
            .unwrap_or_default();
        for i in list {
            let name = self.helpers[i].spec.name.clone();
            match self.helpers[i].state {
                State::Running { id, .. } if !self.helpers[i].replace => {
                    let msg = format!("restarting {name}: {why}");
                    self.log.event(&name, "restart", Value::Null, &msg, false)?;
                    self.stop_to_replace(i, id)?;
                }
                State::Done(_) | State::Backoff(_) => {
                    let msg = format!("starting {name} again: {why}");
                    self.log.event(&name, "restart", Value::Null, &msg, false)?;
                    self.helpers[i].restarts = 0;
                    self.helpers[i].backoff = FIRST_BACKOFF;
                    self.start(i)?;
                }
                // Already being restarted, or not started yet (dependencies).
                State::Running { .. } | State::Draining { .. } | State::Waiting => {}
            }
        }
        Ok(())
    }

    /// Sends the helper's stop signal; its exit leads to `Draining`, then to a new start.
    fn stop_to_replace(&mut self, i: usize, id: ChildId) -> io::Result<()> {
        let h = &mut self.helpers[i];
        h.replace = true;
        h.kill_at = Some(Instant::now() + h.spec.stop_timeout);
        let _ = send_stop(&mut self.mux, id, h.spec.stop_signal);
        Ok(())
    }

    /// Moves on the helpers whose old process tree was waited for.
    fn check_draining(&mut self) -> io::Result<()> {
        let now = Instant::now();
        for i in 0..self.helpers.len() {
            let State::Draining {
                id,
                pid,
                deadline,
                killed,
                then_start,
            } = self.helpers[i].state
            else {
                continue;
            };
            let name = self.helpers[i].spec.name.clone();
            let gone = !self.mux.children().any(|c| c == id) && !tree::group_alive(pid);
            if !gone && now < deadline {
                continue;
            }
            if !gone && !killed {
                let msg = format!(
                    "{name}'s old processes are still running {} after it exited: killing them",
                    humantime::format_duration(self.helpers[i].spec.stop_timeout)
                );
                self.log.event(&name, "stop", Value::Null, &msg, true)?;
                let _ = self.mux.kill(id);
                tree::kill_group(pid);
                self.helpers[i].state = State::Draining {
                    id,
                    pid,
                    deadline: now + LAST_WAIT,
                    killed: true,
                    then_start,
                };
                continue;
            }
            if !gone {
                let msg = format!("{name}'s old processes did not go away; starting anyway");
                self.log.event(&name, "stop", Value::Null, &msg, true)?;
            }
            self.helpers[i].state = State::Done(0);
            if then_start && self.stopping.is_none() {
                self.start(i)?;
            }
        }
        Ok(())
    }
}

/// `src/a.md (+3 more)`.
fn shown(watch: &Watch, paths: &IndexSet<PathBuf>) -> String {
    match paths.first() {
        None => String::new(),
        Some(first) if paths.len() == 1 => watch.show(first),
        Some(first) => format!("{} (+{} more)", watch.show(first), paths.len() - 1),
    }
}

/// Whether a helper's old process tree is still there.
mod tree {
    /// Whether the process group `pgid` (a helper's, led by its first process) has members.
    #[cfg(unix)]
    pub(super) fn group_alive(pgid: u32) -> bool {
        let Some(pid) = i32::try_from(pgid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        else {
            return false;
        };
        rustix::process::test_kill_process_group(pid).is_ok()
    }

    #[cfg(unix)]
    pub(super) fn kill_group(pgid: u32) {
        if let Some(pid) = i32::try_from(pgid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }

    /// Windows: the `Mux` closes a child's job object (`KILL_ON_JOB_CLOSE`) once its pipes
    /// are closed, which ends the tree.
    #[cfg(not(unix))]
    pub(super) fn group_alive(_pgid: u32) -> bool {
        false
    }

    #[cfg(not(unix))]
    pub(super) fn kill_group(_pgid: u32) {}
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
    // A progress bar drawn with `\r` shows each update as a line, not nothing until 1 MiB.
    cmd.name(spec.name.clone())
        .flush_partial_after(PARTIAL_AFTER)
        .cr_ends_line(true);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    for (k, v) in &spec.env {
        cmd.env(k, v);
    }
    cmd
}
