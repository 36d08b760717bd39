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
use crate::tree;
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
/// Off a terminal, the longest a log line waits in the buffer before it is written (on a
/// terminal: not at all).
const LOG_HOLD: Duration = Duration::from_millis(10);
/// While a helper waits for its dependencies to be ready, a line says so this often.
const WAIT_NOTE_EVERY: Duration = Duration::from_secs(10);
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
    /// Its main process has exited but its process tree has not gone yet (pipes held,
    /// process group not empty: a stop that restarts it, or processes it left behind, which
    /// were sent the stop signal). Once the tree is gone, `then`; at `deadline`, the tree is
    /// killed (`killed`), and after another `LAST_WAIT` given up on.
    Draining {
        id: Option<ChildId>,
        pid: u32,
        deadline: Instant,
        killed: bool,
        then: Then,
    },
}

/// What a draining helper does once its old tree is gone.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Then {
    /// Start again at once (a restart in watch mode).
    Start,
    /// Start again at this time (restart policy, backoff).
    Backoff(Instant),
    /// Ended for good with this exit code.
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
    /// Process id of the current (or last) process.
    pid: u32,
    /// Being stopped in order to start again (watch mode).
    replace: bool,
    /// The watch mode's rebuild command: started by changes only.
    is_build: bool,
    /// Its `ready_line` did not come within `ready_timeout`: it is being stopped, and its
    /// exit counts as a failure whatever its code.
    ready_timed_out: bool,
    /// While `Waiting` for dependencies: since when, and when to say so next.
    waiting_since: Instant,
    next_wait_note: Instant,
}

impl Helper {
    /// When a running helper that has not printed its `ready_line` yet times out.
    fn ready_deadline(&self) -> Option<Instant> {
        match self.state {
            State::Running { since, .. }
                if self.spec.ready_line.is_some() && !self.ready && !self.ready_timed_out =>
            {
                Some(since + self.spec.ready_timeout)
            }
            _ => None,
        }
    }

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
            ready_timed_out: false,
            waiting_since: Instant::now(),
            next_wait_note: Instant::now() + WAIT_NOTE_EVERY,
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
    /// Every helper ended; only streams held by leftovers are open.
    Finished,
    /// The log could not be written (`first_failure` holds the exit code).
    LogBroken,
}

/// The exit code when the log's reader went away (a closed pipe): 128 + SIGPIPE, what a shell
/// reports for a program killed by it.
const LOG_CLOSED_CODE: i32 = 141;

struct Runner {
    mux: Mux,
    log: Log,
    helpers: Vec<Helper>,
    kill_others_on_fail: bool,
    /// `--kill-others`: stop all as soon as any helper has ended for good.
    kill_others: bool,
    /// The log is coloured: helpers are told to colour too (`FORCE_COLOR`).
    color: bool,
    /// stdout is a terminal: the log is written after every round of events.
    interactive: bool,
    /// Off a terminal: since when records wait in the log's buffer.
    log_since: Option<Instant>,
    stopping: Option<Stop>,
    first_failure: Option<i32>,
    /// Deadline of the whole stop (after which the `Mux` is dropped, killing what is left).
    stop_deadline: Option<Instant>,
    signals: Option<crate::signals::Signals>,
    watch: Option<WatchState>,
    /// A `SIGCHLD` arrived (or a reaping pass was blocked by one of the `Mux`'s own exited
    /// children): reap orphans at the end of this iteration.
    reap_pending: bool,
    /// A blocked reaping pass is tried again at this time.
    reap_retry: Option<Instant>,
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
        kill_others: args.kill_others,
        color,
        interactive: std::io::IsTerminal::is_terminal(&std::io::stdout()),
        log_since: None,
        stopping: None,
        first_failure: None,
        stop_deadline: None,
        signals: None,
        watch: None,
        reap_pending: false,
        reap_retry: None,
        ids: HashMap::new(),
    };
    // Before the first spawn: orphans of the helpers' trees come back to spawnmux (Linux), to
    // be reaped (never counted as running) and stopped at the end.
    tree::become_subreaper();
    runner.signals = Some(crate::signals::install(&mut runner.mux)?);
    for note in &spec.notes {
        runner
            .log
            .event("spawnmux", "note", serde_json::Value::Null, note, false)?;
    }
    if let Some(w) = &spec.watch {
        runner.start_watch(w)?;
    }
    runner.start_ready_helpers()?;
    let code = runner.run_loop();
    // Whatever the outcome: no descendant outlives the run.
    let swept = runner.sweep();
    let code = code?;
    swept?;
    runner.log.flush()?;
    if let Some(e) = runner.log.failure() {
        // stdout is gone: stderr is the only place left to say why spawnmux failed.
        eprintln!("spawnmux: cannot write the log ({e}): stopped every helper");
    }
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

impl Runner {
    fn run_loop(&mut self) -> anyhow::Result<i32> {
        let mut events = Events::new();
        loop {
            if let Some(code) = self.finished() {
                return Ok(code);
            }
            self.end_if_only_leftovers()?;
            // The log is buffered. On a terminal it is written before every wait: nothing
            // waits in it while the loop blocks. Elsewhere (a file, a pipe) a line waits at
            // most `LOG_HOLD`, so that a busy log goes out in 64 KiB writes (the `Log` writes
            // whenever its buffer is full) and a quiet one almost at once.
            let now = Instant::now();
            let mut next = self.next_timer();
            match self.log_since {
                _ if !self.log.pending() => self.log_since = None,
                Some(since) if self.interactive || now >= since + LOG_HOLD => {
                    self.log.flush()?;
                    self.log_since = None;
                    self.check_log()?;
                }
                Some(since) => {
                    next = Some(next.map_or(since + LOG_HOLD, |t| t.min(since + LOG_HOLD)))
                }
                None if self.interactive => self.log.flush()?,
                None => {
                    self.log_since = Some(now);
                    next = Some(next.map_or(now + LOG_HOLD, |t| t.min(now + LOG_HOLD)));
                }
            }
            let timeout = next.map(|t| t.saturating_duration_since(now));
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
                if crate::signals::is_child_exit(sig) {
                    self.reap_pending = true;
                } else {
                    self.on_signal(sig)?;
                }
            }
            self.reap()?;
            self.check_draining()?;
            self.on_timers()?;
            self.start_ready_helpers()?;
            self.check_log()?;
        }
    }

    /// The log's output broke (`spawnmux run … | head`, a full disk): a failure. The helpers
    /// are stopped as on Ctrl-C (without a word: there is nowhere to write it).
    fn check_log(&mut self) -> io::Result<()> {
        if self.stopping == Some(Stop::LogBroken) {
            return Ok(());
        }
        if let Some(e) = self.log.failure() {
            let code = if e.kind() == io::ErrorKind::BrokenPipe {
                LOG_CLOSED_CODE
            } else {
                1
            };
            self.first_failure = Some(code);
            self.begin_stop(Stop::LogBroken)?;
        }
        Ok(())
    }

    /// The exit code, once there is nothing left to wait for.
    fn finished(&self) -> Option<i32> {
        let draining = self
            .helpers
            .iter()
            .any(|h| matches!(h.state, State::Draining { .. }));
        match self.stopping {
            Some(stop) if self.mux.is_empty() && !draining => Some(match stop {
                Stop::Signal(sig) => 128 + sig,
                Stop::HelperFailed(code) => code,
                Stop::Finished | Stop::LogBroken => self.first_failure.unwrap_or(0),
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

    /// Every helper is done, yet the `Mux` still holds a stream that a process outside the
    /// helpers' groups keeps open (the stop signal and the kill did not reach it): stop as if
    /// asked to, which lets go of it; the final sweep then stops it.
    fn end_if_only_leftovers(&mut self) -> io::Result<()> {
        let all_done = self
            .helpers
            .iter()
            .all(|h| matches!(h.state, State::Done(_)));
        if self.stopping.is_none() && self.watch.is_none() && all_done && !self.mux.is_empty() {
            self.begin_stop(Stop::Finished)?;
            self.stop_deadline = Some(Instant::now());
        }
        Ok(())
    }

    fn next_timer(&self) -> Option<Instant> {
        let backoffs = self.helpers.iter().filter_map(|h| match h.state {
            State::Backoff(t) if self.stopping.is_none() => Some(t),
            _ => None,
        });
        let kills = self.helpers.iter().filter_map(|h| h.kill_at);
        let ready_timeouts = self.helpers.iter().filter_map(Helper::ready_deadline);
        let wait_notes = self.helpers.iter().filter_map(|h| {
            (self.stopping.is_none() && h.state == State::Waiting && !h.spec.depends_on.is_empty())
                .then_some(h.next_wait_note)
        });
        let now = Instant::now();
        let draining = self.helpers.iter().filter_map(|h| match h.state {
            // Pipes closed but the group not yet empty: look again soon.
            State::Draining { id, deadline, .. } if !self.holds(id) => {
                Some(deadline.min(now + TREE_CHECK))
            }
            State::Draining { deadline, .. } => Some(deadline),
            _ => None,
        });
        let watch = self.watch_due();
        backoffs
            .chain(kills)
            .chain(ready_timeouts)
            .chain(wait_notes)
            .chain(draining)
            .chain(watch)
            .chain(self.stop_deadline)
            .chain(self.reap_retry)
            .min()
    }

    /// Whether the `Mux` still has `id` (unreaped, or a stream still open).
    fn holds(&self, id: Option<ChildId>) -> bool {
        id.is_some_and(|id| self.mux.pid(id).is_some())
    }

    /// The pids the `Mux` still has to reap: a reaping pass must leave them alone.
    fn owned_pids(&self) -> HashSet<u32> {
        self.mux
            .children()
            .filter_map(|c| self.mux.pid(c))
            .collect()
    }

    /// Reaps the orphans that came back to us (we are a subreaper, or PID 1), never one of
    /// the `Mux`'s own children.
    fn reap(&mut self) -> io::Result<()> {
        if !self.reap_pending && self.reap_retry.is_none_or(|t| t > Instant::now()) {
            return Ok(());
        }
        let r = tree::reap_orphans(&self.owned_pids());
        self.reap_pending = false;
        self.reap_retry = r.blocked.then(|| Instant::now() + TREE_CHECK);
        Ok(())
    }

    /// At the end of the run: stops every descendant still left (processes that escaped
    /// their helper's group with `setsid`, or were orphaned outside it; Linux, where spawnmux
    /// is their subreaper): the stop signal, up to `LAST_WAIT`, then `SIGKILL`.
    fn sweep(&mut self) -> io::Result<()> {
        let left = tree::descendants();
        if left.is_empty() {
            return Ok(());
        }
        let n = left.len();
        let msg = format!(
            "{n} process{} left by the helpers still running: stopping {}",
            if n == 1 { "" } else { "es" },
            if n == 1 { "it" } else { "them" }
        );
        self.log.event(
            "spawnmux",
            "stop",
            fields(&[("count", n.into())]),
            &msg,
            true,
        )?;
        tree::signal_pids(&left, tree::SIGTERM);
        let deadline = Instant::now() + LAST_WAIT;
        loop {
            // The `Mux` may still own children here only after an error ended the loop; its
            // drop kills and reaps them.
            let owned = self.owned_pids();
            tree::reap_orphans(&owned);
            let left: Vec<u32> = tree::descendants()
                .into_iter()
                .filter(|p| !owned.contains(p))
                .collect();
            if left.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                tree::signal_pids(&left, tree::SIGKILL);
                std::thread::sleep(TREE_CHECK);
                tree::reap_orphans(&owned);
                return Ok(());
            }
            std::thread::sleep(TREE_CHECK);
        }
    }

    /// The helper `id` is the running process of.
    fn index_of(&self, id: ChildId) -> Option<usize> {
        let i = *self.ids.get(&id)?;
        matches!(self.helpers[i].state, State::Running { id: r, .. } if r == id).then_some(i)
    }

    fn on_event(&mut self, event: Event<'_>) -> io::Result<()> {
        match event {
            Event::Output(out) => {
                let helper = self.ids.get(&out.child).copied();
                self.log.output(helper, &out)?;
                let running = helper.filter(|&i| {
                    matches!(self.helpers[i].state, State::Running { id, .. } if id == out.child)
                });
                if let Some(i) = running {
                    let h = &self.helpers[i];
                    let hit = h.spec.ready_line.as_deref().is_some_and(|needle| {
                        !h.ready
                            && !h.ready_timed_out
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
            } else {
                self.note_waiting(i, Instant::now())?;
            }
        }
        Ok(())
    }

    fn start(&mut self, i: usize) -> io::Result<()> {
        let name = self.helpers[i].spec.name.clone();
        let cmd = command(&self.helpers[i].spec, self.color);
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
                                State::Running { id: r, .. } | State::Draining { id: Some(r), .. } if r == *id)
                    });
                }
                self.ids.insert(id, i);
                self.helpers[i].pid = pid;
                // Readiness is per start: `X is ready` once after every (re)start.
                self.helpers[i].ready = false;
                self.helpers[i].ready_timed_out = false;
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
                if h.spec.ready_line.is_none() && !h.is_build {
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
        let (mut code, mut detail) = match exit {
            Exit::Signal(s) => (128 + s, fields(&[("signal", s.into())])),
            other => (
                other.code().unwrap_or(1),
                fields(&[("code", other.code().unwrap_or(1).into())]),
            ),
        };
        if self.helpers[i].ready_timed_out && code == 0 {
            // Stopped for not becoming ready: a failure, even if it exited cleanly.
            code = 1;
        }
        if std::mem::take(&mut self.helpers[i].replace) {
            let msg = format!("{name} stopped ({exit})");
            self.log.event(&name, "exit", detail, &msg, false)?;
            if let State::Running { id, .. } = self.helpers[i].state {
                self.helpers[i].state = State::Draining {
                    id: Some(id),
                    pid: self.helpers[i].pid,
                    deadline: Instant::now() + self.helpers[i].spec.stop_timeout,
                    killed: false,
                    then: if self.helpers[i].is_build {
                        Then::Done(code)
                    } else {
                        Then::Start
                    },
                };
            }
            return Ok(());
        }
        if self.helpers[i].is_build {
            self.settle(i, Then::Done(code))?;
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

    /// `ready_line` did not come in time: the helper counts as failed. It is stopped (its
    /// restart policy then applies to the exit); dependents go on waiting for a restart, or
    /// are not started if there is none.
    fn ready_timeout(&mut self, i: usize, id: ChildId) -> io::Result<()> {
        let h = &mut self.helpers[i];
        h.ready_timed_out = true;
        let name = h.spec.name.clone();
        let msg = format!(
            "{name} was not ready after {}: no line contained {:?}; stopping it (it counts as failed)",
            humantime::format_duration(h.spec.ready_timeout),
            h.spec.ready_line.as_deref().unwrap_or_default(),
        );
        let timeout_ms = h.spec.ready_timeout.as_millis() as u64;
        if h.kill_at.is_none() {
            h.kill_at = Some(Instant::now() + h.spec.stop_timeout);
        }
        let signal = h.spec.stop_signal;
        self.log.event(
            &name,
            "ready_timeout",
            fields(&[("timeout_ms", timeout_ms.into())]),
            &msg,
            true,
        )?;
        let _ = send_stop(&mut self.mux, id, signal);
        Ok(())
    }

    /// Every `WAIT_NOTE_EVERY`, one line per helper still waiting for its dependencies.
    fn note_waiting(&mut self, i: usize, now: Instant) -> io::Result<()> {
        let h = &self.helpers[i];
        if now < h.next_wait_note {
            return Ok(());
        }
        let missing: Vec<&str> = h
            .spec
            .depends_on
            .iter()
            .filter(|d| !self.helpers.iter().any(|o| &o.spec.name == *d && o.ready))
            .map(String::as_str)
            .collect();
        let name = h.spec.name.clone();
        let waited = now.duration_since(h.waiting_since).as_secs();
        let msg = format!(
            "{name} waits for {} to be ready: {waited}s",
            missing.join(", ")
        );
        let f = fields(&[("waiting_for", missing.into()), ("waited_s", waited.into())]);
        self.helpers[i].next_wait_note = now + WAIT_NOTE_EVERY;
        self.log.event(&name, "waiting", f, &msg, false)
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
            self.settle(i, Then::Done(code))?;
            return self.failed(code, &name);
        }
        if h.spec.max_restarts.is_some_and(|max| h.restarts >= max) {
            let restarts = h.restarts;
            let msg = format!(
                "giving up on {name} after {}",
                plural(restarts as usize, "restart")
            );
            self.log.event(
                &name,
                "give_up",
                fields(&[("restarts", restarts.into())]),
                &msg,
                true,
            )?;
            self.settle(i, Then::Done(code))?;
            return self.failed(code, &name);
        }
        if uptime >= STABLE_AFTER {
            h.backoff = FIRST_BACKOFF;
        }
        let delay = h.backoff;
        h.backoff = (h.backoff * 2).min(MAX_BACKOFF);
        h.restarts += 1;
        let attempt = h.restarts;
        let msg = format!(
            "restarting {name} in {}s (attempt {attempt})",
            delay.as_secs_f32()
        );
        let f = fields(&[
            ("attempt", attempt.into()),
            ("delay_ms", (delay.as_millis() as u64).into()),
        ]);
        self.log.event(&name, "restart", f, &msg, true)?;
        self.settle(i, Then::Backoff(Instant::now() + delay))
    }

    /// The helper's main process has ended (or never started): if it left processes behind
    /// (a pipe still held, its process group not empty), they get the stop signal and the
    /// helper drains (killed after `stop_timeout`) before `then`; otherwise `then` now.
    fn settle(&mut self, i: usize, then: Then) -> io::Result<()> {
        let id = match self.helpers[i].state {
            State::Running { id, .. } => Some(id),
            _ => None,
        };
        let pid = self.helpers[i].pid;
        let members = if id.is_some() {
            tree::group_members(pid)
        } else {
            0
        };
        let holds = self.holds(id);
        if !holds && members == 0 {
            self.helpers[i].state = match then {
                Then::Start | Then::Done(_) if self.stopping.is_some() => State::Done(0),
                Then::Start => State::Waiting,
                Then::Backoff(at) => State::Backoff(at),
                Then::Done(code) => State::Done(code),
            };
            return Ok(());
        }
        let name = self.helpers[i].spec.name.clone();
        let msg = match members {
            0 => format!("{name} left a process holding its output: stopping it"),
            n if tree::COUNT_IS_EXACT => format!(
                "{name} left {} running: stopping {}",
                plural(n, "process"),
                if n == 1 { "it" } else { "them" }
            ),
            _ => format!("{name} left processes running: stopping them"),
        };
        // During a stop every tree already had its signal: a line per helper would be noise.
        if self.stopping.is_none() {
            self.log.event(
                &name,
                "stop",
                fields(&[("count", members.into())]),
                &msg,
                false,
            )?;
        }
        let signal = self.helpers[i].spec.stop_signal;
        match id {
            Some(id) if holds => {
                let _ = send_stop(&mut self.mux, id, signal);
            }
            _ => tree::signal_group(pid, signal),
        }
        self.helpers[i].state = State::Draining {
            id,
            pid,
            deadline: Instant::now() + self.helpers[i].spec.stop_timeout,
            killed: false,
            then,
        };
        Ok(())
    }

    /// A helper ended for good with `code`: remember a failure; `--kill-others(-on-fail)`.
    fn failed(&mut self, code: i32, name: &str) -> io::Result<()> {
        if self.stopping.is_some() {
            return Ok(());
        }
        if self.kill_others {
            let msg = format!("{name} ended: stopping the others (--kill-others)");
            self.log
                .event("spawnmux", "stop", Value::Null, &msg, code != 0)?;
            if code != 0 {
                self.first_failure.get_or_insert(code);
            }
            return self.begin_stop(Stop::HelperFailed(code));
        }
        if code == 0 {
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
        let again = if sig == 2 {
            " (Ctrl-C again kills them at once)"
        } else {
            " (the same signal again kills them at once)"
        };
        let msg = format!("got {}: stopping every helper{again}", signal_name(sig));
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
                // An old tree being replaced (or left behind) already had its stop signal.
                // Once its pipes are closed the `Mux` no longer waits for it, so whatever is
                // left of its group (a server that closed its output but holds its port) is
                // killed now; the helper is done once the group is empty.
                State::Draining { id, pid, then, .. } => {
                    if id.is_none_or(|id| self.mux.pid(id).is_none()) {
                        tree::signal_group(pid, tree::SIGKILL);
                    }
                    h.state = State::Draining {
                        id,
                        pid,
                        deadline: now + LAST_WAIT,
                        killed: true,
                        then,
                    };
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
            if let (Some(at), State::Running { id, .. }) =
                (self.helpers[i].ready_deadline(), self.helpers[i].state)
            {
                if at <= now && self.stopping.is_none() {
                    self.ready_timeout(i, id)?;
                }
            }
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
            // reaps what it can; the final sweep stops the rest).
            self.mux.shutdown(Duration::ZERO, |_| {})?;
            for h in &mut self.helpers {
                if matches!(h.state, State::Draining { .. }) {
                    h.state = State::Done(0);
                }
            }
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
                then,
            } = self.helpers[i].state
            else {
                continue;
            };
            let name = self.helpers[i].spec.name.clone();
            let members = tree::group_members(pid);
            let gone = !self.holds(id) && members == 0;
            if !gone && now < deadline {
                continue;
            }
            if !gone && !killed {
                let what = match members {
                    0 => "a process holding its output is".to_string(),
                    n if tree::COUNT_IS_EXACT => {
                        format!(
                            "{} {}",
                            plural(n, "process"),
                            if n == 1 { "is" } else { "are" }
                        )
                    }
                    _ => "processes are".to_string(),
                };
                let msg = format!(
                    "{name}: {what} still running {} after the stop signal: killing {}",
                    humantime::format_duration(self.helpers[i].spec.stop_timeout),
                    if members == 1 { "it" } else { "them" },
                );
                self.log.event(
                    &name,
                    "stop",
                    fields(&[("count", members.into())]),
                    &msg,
                    true,
                )?;
                if let Some(id) = id {
                    let _ = self.mux.kill(id);
                }
                tree::signal_group(pid, tree::SIGKILL);
                self.helpers[i].state = State::Draining {
                    id,
                    pid,
                    deadline: now + LAST_WAIT,
                    killed: true,
                    then,
                };
                continue;
            }
            if !gone {
                let msg = format!("{name}'s old processes did not go away; going on without them");
                self.log.event(&name, "stop", Value::Null, &msg, true)?;
            }
            self.helpers[i].state = match then {
                Then::Done(code) => State::Done(code),
                _ if self.stopping.is_some() => State::Done(0),
                Then::Backoff(at) => State::Backoff(at),
                Then::Start => {
                    self.helpers[i].state = State::Done(0);
                    self.start(i)?;
                    continue;
                }
            };
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

/// `1 restart`, `2 restarts`.
fn plural(n: usize, noun: &str) -> String {
    match (n, noun.ends_with('s')) {
        (1, _) => format!("1 {noun}"),
        (_, true) => format!("{n} {noun}es"),
        _ => format!("{n} {noun}s"),
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
fn command(spec: &HelperSpec, color: bool) -> Command {
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
