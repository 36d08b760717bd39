//! `spawnmux run`: the loop. It starts the helpers of a [`RunSpec`] on one `Mux`, writes their
//! output to the log, and carries out what the [`Supervisor`] decides.
//!
//! Theory of operation: one thread, one `Mux::wait`. Output goes straight to the log (and, for
//! a helper waiting for its `ready_line`, to the supervisor). Exits, signals, file changes and
//! the clock go to the supervisor, whose [`Action`]s (spawn, signal, kill, log) are applied at
//! once, in order. The wait ends at the supervisor's next deadline; nothing polls, except
//! for an old process tree that has closed its pipes but not yet gone (every `TREE_CHECK`).

mod checks;
mod command;
mod input;
mod leftovers;
mod logfiles;
mod ports;
mod watch;

use std::collections::{HashMap, HashSet};
use std::io;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use spawnmux::{ChildId, Event, Events, Mux};

use crate::cli::RunArgs;
use crate::control;
use crate::os::{self, Wake};
use crate::output::Log;
use crate::record::Record;
use crate::spec::RunSpec;
use crate::supervisor::{Action, Options, Probe, Supervisor};
use crate::watch::Watch;

/// Off a terminal, the longest a log line waits in the buffer before it is written (on a
/// terminal: not at all).
const LOG_HOLD: Duration = Duration::from_millis(10);

/// The exit code when the log's reader went away (a closed pipe): 128 + SIGPIPE, what a shell
/// reports for a program killed by it.
const LOG_CLOSED_CODE: i32 = 141;

struct Runner {
    mux: Mux,
    log: Log,
    sup: Supervisor,
    /// Per helper: its last child in the `Mux` (`None` before its first start, or after a
    /// start that failed).
    current: Vec<Option<ChildId>>,
    /// Which helper each child the `Mux` may still report belongs to (pruned in `spawn`).
    ids: HashMap<ChildId, usize>,
    /// The log is coloured: helpers are told to colour too (`FORCE_COLOR`).
    color: bool,
    /// stdout is a terminal: the log is written after every round of events.
    interactive: bool,
    /// Off a terminal: since when records wait in the log's buffer.
    log_since: Option<Instant>,
    signals: Option<os::Signals>,
    watch: Option<Watch>,
    /// The control socket (`spawnmux ctl`), if the run has one.
    control: Option<control::Server>,
    /// A `SIGCHLD` arrived: reap orphans at the end of this iteration.
    reap_pending: bool,
    /// A reaping pass blocked by one of the `Mux`'s own exited children is tried again then.
    reap_retry: Option<Instant>,
    /// Readiness and liveness check attempts in flight.
    checks: checks::Checks,
    /// The helpers' `log_file`s.
    files: logfiles::LogFiles,
    /// spawnmux's stdin, read for the helpers (`--handle-input`), until its end.
    input: Option<os::Input>,
    /// What was typed and not yet ended by a newline.
    typed: crate::supervisor::input::Lines,
}

/// What the supervisor may ask about the world, answered from the `Mux` and `/proc`.
struct World<'a> {
    mux: &'a Mux,
    current: &'a [Option<ChildId>],
}

impl<'a> World<'a> {
    /// Built from the runner's fields, not from `&self`, so that the supervisor can be
    /// borrowed mutably beside it.
    fn new(mux: &'a Mux, current: &'a [Option<ChildId>]) -> World<'a> {
        World { mux, current }
    }
}

impl Probe for World<'_> {
    fn holds(&self, helper: usize) -> bool {
        self.current[helper].is_some_and(|id| self.mux.pid(id).is_some())
    }

    fn members(&self, pgid: u32) -> usize {
        os::group_members(pgid)
    }

    fn count_is_exact(&self) -> bool {
        os::COUNT_IS_EXACT
    }
    fn port_free(&self, port: u16) -> bool {
        ports::is_free(port)
    }
}

/// Runs `spec` until every helper has ended or a signal stops spawnmux.
pub(crate) fn run(spec: RunSpec, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let options = Options {
        kill_others_on_fail: args.kill_others_on_fail,
        kill_others: args.kill_others,
    };
    let sup = Supervisor::new(&spec, options, Instant::now());
    let names = sup.names();
    let color = crate::output::use_color(args.color);
    let mut log = Log::new(
        args.format,
        color,
        !args.no_timestamps,
        args.raw || (args.keep_ansi && args.format == crate::cli::Format::Json),
        &names,
    );
    let files = logfiles::LogFiles::open(&spec.helpers, args.raw);
    let mut mux = Mux::new()?;
    // Before anything starts: a run of this config may already be going on.
    let control = serve_control(args, &names, &mut mux, &mut log)?;
    let mut runner = Runner {
        mux,
        log,
        sup,
        current: vec![None; names.len()],
        ids: HashMap::new(),
        color,
        interactive: std::io::IsTerminal::is_terminal(&std::io::stdout()),
        log_since: None,
        signals: None,
        watch: None,
        control,
        reap_pending: false,
        reap_retry: None,
        checks: checks::Checks::default(),
        files,
        input: None,
        typed: Default::default(),
    };
    // Before the first spawn: orphans of the helpers' trees come back to spawnmux (Linux), to
    // be reaped (never counted as running) and stopped at the end.
    os::become_subreaper();
    runner.signals = Some(os::install(&mut runner.mux)?);
    runner.start_input()?;
    runner.apply()?;
    if let Some(w) = &spec.watch {
        runner.start_watch(w)?;
    }
    runner.sup.start_ready(Instant::now());
    runner.apply()?;
    let code = runner.run_loop();
    if let Some(server) = runner.control.take() {
        // No more answers: clients see the end now, not after the final sweep.
        server.close(&mut runner.mux);
    }
    // Whatever the outcome: no descendant outlives the run.
    let swept = runner.sweep();
    let code = code?;
    swept?;
    runner.flush_logs()?;
    if let Some(e) = runner.log.failure() {
        // stdout is gone: stderr is the only place left to say why spawnmux failed.
        eprintln!("spawnmux: cannot write the log ({e}): stopped every helper");
    }
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

/// The control socket (`spawnmux ctl`), or none and a warning in the log saying why.
fn serve_control(
    args: &RunArgs,
    names: &[String],
    mux: &mut Mux,
    log: &mut Log,
) -> anyhow::Result<Option<control::Server>> {
    match control::start(args, names, mux)? {
        Ok(server) => Ok(Some(server)),
        Err(why) => {
            log.record(&Record::ControlOff { why })?;
            Ok(None)
        }
    }
}

impl Runner {
    fn world(&self) -> World<'_> {
        World::new(&self.mux, &self.current)
    }

    fn run_loop(&mut self) -> anyhow::Result<i32> {
        let mut events = Events::new();
        loop {
            let now = Instant::now();
            let finished = self.sup.finished(self.mux.is_empty(), now);
            self.apply()?;
            if let Some(code) = finished {
                return Ok(code);
            }
            let next = self.sup.next_deadline(&self.world(), now);
            let next = next.into_iter().chain(self.reap_retry);
            let next = next.chain(self.checks.deadline()).min();
            let next = self.flush_log(now, next)?;
            let timeout = next.map(|t| t.saturating_duration_since(now));
            self.mux.wait(&mut events, timeout)?;
            let mut signals = Vec::new();
            for event in &events {
                match event {
                    Event::Woken(token) => match Wake::from_token(token) {
                        Some(Wake::Watch) => self.on_watch_wake()?,
                        Some(Wake::Interrupt) => signals.push(os::SIGINT),
                        Some(Wake::Input) => self.on_input()?,
                        None => {}
                    },
                    Event::Ready(r) if self.checks.owns(r.source) => self.on_check_ready(r)?,
                    Event::Ready(r) if self.input.as_ref().is_some_and(|i| i.owns(r.source)) => {
                        self.on_input()?
                    }
                    Event::Ready(r) => match &mut self.control {
                        Some(c) if c.owns(r.source) => {
                            c.ready(r, &mut self.mux, &mut self.sup, Instant::now());
                            self.apply()?;
                        }
                        _ => {
                            if let Some(s) = &self.signals {
                                signals.extend(s.drain(&mut self.mux, r.source));
                            }
                        }
                    },
                    other => self.on_event(other)?,
                }
            }
            if signals.iter().any(|&sig| os::is_resize(sig)) {
                self.on_resize();
            }
            for sig in signals {
                if os::is_child_exit(sig) {
                    self.reap_pending = true;
                } else if !os::is_resize(sig) {
                    self.sup.signal(sig, os::signal_name(sig), Instant::now());
                    self.apply()?;
                }
            }
            if let Some(c) = &mut self.control {
                c.flush(&mut self.mux);
            }
            self.reap();
            let now = Instant::now();
            let world = World::new(&self.mux, &self.current);
            self.sup.tick(now, &world);
            self.apply()?;
            self.check_deadlines()?;
            self.check_log()?;
        }
    }

    /// The log is buffered. On a terminal it is written before every wait: nothing waits in
    /// it while the loop blocks. Elsewhere (a file, a pipe) a line waits at most `LOG_HOLD`,
    /// so that a busy log goes out in 64 KiB writes (the `Log` writes whenever its buffer is
    /// full) and a quiet one almost at once. Returns the wait's deadline (`next`, or sooner).
    fn flush_log(&mut self, now: Instant, next: Option<Instant>) -> io::Result<Option<Instant>> {
        let sooner = |t: Instant| Some(next.map_or(t, |n| n.min(t)));
        match self.log_since {
            _ if !self.log.pending() => self.log_since = None,
            Some(since) if self.interactive || now >= since + LOG_HOLD => {
                self.flush_logs()?;
                self.log_since = None;
                self.check_log()?;
            }
            Some(since) => return Ok(sooner(since + LOG_HOLD)),
            None if self.interactive => self.flush_logs()?,
            None => {
                self.log_since = Some(now);
                return Ok(sooner(now + LOG_HOLD));
            }
        }
        Ok(next)
    }

    /// Carries out the supervisor's actions, in order (a spawn's result may queue more).
    fn apply(&mut self) -> io::Result<()> {
        while let Some(action) = self.sup.next_action() {
            match action {
                Action::Spawn(i) => self.spawn(i),
                Action::ReleasePort(i) => ports::release(self.sup.spec(i)),
                Action::Stop { helper, signal } => {
                    if let Some(id) = self.current[helper] {
                        let _ = os::send_stop(&mut self.mux, id, signal);
                    }
                }
                Action::Kill(helper) => {
                    if let Some(id) = self.current[helper] {
                        let _ = self.mux.kill(id);
                    }
                }
                Action::SignalGroup { pgid, signal } => os::signal_group(pgid, signal),
                Action::KillReleasedGroup { helper, pgid } => {
                    if !self.world().holds(helper) {
                        os::signal_group(pgid, os::SIGKILL);
                    }
                }
                Action::StopStrays => self.stop_strays(),
                Action::KillAll => {
                    for id in self.mux.children().collect::<Vec<_>>() {
                        let _ = self.mux.kill(id);
                    }
                }
                Action::LetGo => self.mux.shutdown(Duration::ZERO, |_| {})?,
                Action::Log(record) => self.log.record(&record)?,
                Action::Check(attempt) => self.start_check(attempt),
            }
        }
        Ok(())
    }

    fn spawn(&mut self, i: usize) {
        let window = command::window(os::window_size(), self.log.prefix_width());
        let cmd = command::command(self.sup.spec(i), self.color, self.takes_input(), window);
        let result = self.mux.spawn(&cmd);
        let now = Instant::now();
        match result {
            Ok(id) => {
                if self.ids.len() >= 2 * self.current.len() {
                    // Keep what the `Mux` tracks, and each helper's current child (its
                    // `Exited` may be later in this very batch of events).
                    let live: HashSet<ChildId> = self.mux.children().collect();
                    let current = &self.current;
                    self.ids
                        .retain(|id, j| live.contains(id) || current[*j] == Some(*id));
                }
                self.ids.insert(id, i);
                self.current[i] = Some(id);
                self.log.restarted(i);
                self.files.restarted(i);
                let pid = self.mux.pid(id).unwrap_or(0);
                self.sup.spawned(i, Ok(pid), now);
            }
            Err(e) => {
                self.current[i] = None;
                let why = command::start_error(self.sup.spec(i), &e);
                self.sup.spawned(i, Err(why), now);
            }
        }
    }

    /// spawnmux's terminal changed size (`SIGWINCH`): every running `tty` helper's terminal
    /// takes the new size less the log's prefix (a helper started later gets it at its spawn).
    fn on_resize(&mut self) {
        let size = command::window(os::window_size(), self.log.prefix_width());
        let specs = (0..self.current.len()).map(|i| self.sup.spec(i));
        for id in command::on_terminals(specs, &self.current) {
            // An error can only mean that the child is gone (the `Mux` let go of it since).
            let _ = self.mux.resize(id, size);
        }
    }

    /// Terminates every child of the `Mux` that is not a helper's main process: exited
    /// processes whose descendants still hold a pipe.
    fn stop_strays(&mut self) {
        let main: HashSet<ChildId> = (0..self.current.len())
            .filter(|&i| self.sup.has_main(i))
            .filter_map(|i| self.current[i])
            .collect();
        let strays: Vec<ChildId> = self.mux.children().filter(|c| !main.contains(c)).collect();
        for id in strays {
            let _ = self.mux.terminate(id);
        }
    }

    fn on_event(&mut self, event: Event<'_>) -> io::Result<()> {
        if self.check_event(&event)? {
            return Ok(());
        }
        match event {
            Event::Output(out) => {
                let helper = self.ids.get(&out.child).copied();
                self.log.output(helper, &out)?;
                if let (Some(c), Some(i)) = (&mut self.control, helper) {
                    c.output(i, &out);
                }
                self.files.output(helper, &out);
                if let Some(i) = helper.filter(|&i| self.current[i] == Some(out.child)) {
                    if self.sup.wants_output(i) {
                        self.sup.output(i, out.bytes, Instant::now());
                        self.apply()?;
                    }
                }
            }
            Event::Exited { child, exit, .. } => {
                let helper = self.ids.get(&child).copied();
                if let Some(i) = helper.filter(|&i| self.current[i] == Some(child)) {
                    let world = World::new(&self.mux, &self.current);
                    self.sup.exited(i, exit, Instant::now(), &world);
                    self.apply()?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The log's output broke (`spawnmux run … | head`, a full disk): a failure. The helpers
    /// are stopped as on Ctrl-C (without a word: there is nowhere to write it).
    fn check_log(&mut self) -> io::Result<()> {
        let Some(e) = self.log.failure() else {
            return Ok(());
        };
        let code = if e.kind() == io::ErrorKind::BrokenPipe {
            LOG_CLOSED_CODE
        } else {
            1
        };
        self.sup.log_broken(code, Instant::now());
        self.apply()
    }
}
