//! The supervisor's rules, each driven with a fake clock and a fake world: no process, no
//! sleep, no thread. [`Run`] plays the runner: it answers spawns (with pids, or an error for
//! helpers told to fail) and keeps every action and record in order.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use spawnmux::Exit;

use super::*;
use crate::record::{Ended, Leftovers};
use crate::spec::{HelperSpec, OnBusy, Program, Restart, RunSpec, WatchSpec};

/// What the runner would know: which helpers' children the `Mux` still holds, and how many
/// live members each process group has.
#[derive(Default)]
struct Fake {
    held: HashSet<usize>,
    members: HashMap<u32, usize>,
    /// Ports something listens on.
    busy_ports: HashSet<u16>,
}

impl Probe for Fake {
    fn holds(&self, helper: usize) -> bool {
        self.held.contains(&helper)
    }
    fn members(&self, pgid: u32) -> usize {
        self.members.get(&pgid).copied().unwrap_or(0)
    }
    fn count_is_exact(&self) -> bool {
        true
    }
    fn port_free(&self, port: u16) -> bool {
        !self.busy_ports.contains(&port)
    }
}

struct Run {
    sup: Supervisor,
    t0: Instant,
    now: Instant,
    world: Fake,
    /// Helpers whose spawn fails.
    failing: HashSet<usize>,
    next_pid: u32,
    /// Per helper: the pid of its last start.
    pids: HashMap<usize, u32>,
    /// Everything applied, in order (records as `Action::Log`), but the stop's progress
    /// records, which go to `progress`.
    done: Vec<Action>,
    progress: Vec<Record>,
}

fn helper(name: &str) -> HelperSpec {
    HelperSpec::new(name, Program::Shell(format!("run {name}")))
}

fn plan(helpers: Vec<HelperSpec>) -> RunSpec {
    RunSpec {
        helpers,
        origin: "test".into(),
        watch: None,
        notes: Vec::new(),
    }
}

fn watch_plan(helpers: Vec<HelperSpec>, build: bool, restart: &[&str], on_busy: OnBusy) -> RunSpec {
    let mut w = WatchSpec::new(vec![PathBuf::from("src")], PathBuf::from("."));
    w.build = build.then(|| helper("build"));
    w.restart = restart.iter().map(|s| s.to_string()).collect();
    w.on_busy = on_busy;
    let mut p = plan(helpers);
    p.watch = Some(w);
    p
}

impl Run {
    fn new(plan: RunSpec) -> Run {
        Run::with(plan, Options::default())
    }

    fn with(plan: RunSpec, options: Options) -> Run {
        let t0 = Instant::now();
        let mut r = Run {
            sup: Supervisor::new(&plan, options, t0),
            t0,
            now: t0,
            world: Fake::default(),
            failing: HashSet::new(),
            next_pid: 100,
            pids: HashMap::new(),
            done: Vec::new(),
            progress: Vec::new(),
        };
        r.apply();
        r
    }

    /// Starts the run (what the runner does after installing its handlers).
    fn start(mut self) -> Run {
        self.sup.start_ready(self.now);
        self.apply();
        self
    }

    fn apply(&mut self) {
        while let Some(a) = self.sup.next_action() {
            if let Action::Spawn(i) = a {
                let result = if self.failing.contains(&i) {
                    Err("no such file".to_string())
                } else {
                    self.next_pid += 1;
                    self.pids.insert(i, self.next_pid);
                    self.world.held.insert(i);
                    Ok(self.next_pid)
                };
                self.sup.spawned(i, result, self.now);
            }
            match a {
                Action::Log(r @ Record::StopProgress { .. }) => self.progress.push(r),
                a => self.done.push(a),
            }
        }
    }

    /// Clears and returns what was applied so far.
    fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.done)
    }

    /// The records among what was applied so far (cleared).
    fn records(&mut self) -> Vec<Record> {
        self.take()
            .into_iter()
            .filter_map(|a| match a {
                Action::Log(r) => Some(r),
                _ => None,
            })
            .collect()
    }

    fn events(&mut self) -> Vec<&'static str> {
        self.records().iter().map(Record::event).collect()
    }

    /// `secs` after the start: ticks the clock there.
    fn at(&mut self, secs: f64) {
        self.now = self.t0 + Duration::from_secs_f64(secs);
        self.sup.tick(self.now, &self.world);
        self.apply();
    }

    /// Helper `i`'s main process exits with `exit`; its tree is gone unless `members` says
    /// otherwise.
    fn exit(&mut self, i: usize, exit: Exit) {
        self.world.held.remove(&i);
        self.sup.exited(i, exit, self.now, &self.world);
        self.apply();
    }

    fn request(&mut self, i: usize, request: Request, _now: Instant) -> Result<(), String> {
        let result = self.sup.request(i, request, self.now);
        self.apply();
        result
    }

    /// Why `request` was refused (it must be).
    fn refused(&mut self, i: usize, request: Request) -> String {
        self.request(i, request, self.now).expect_err("refused")
    }

    fn signal(&mut self, signal: i32, name: Option<&'static str>) {
        self.sup.signal(signal, name, self.now);
        self.apply();
    }

    fn output(&mut self, i: usize, line: &str) {
        self.sup.output(i, line.as_bytes(), self.now);
        self.apply();
    }

    fn pid(&self, i: usize) -> u32 {
        self.pids[&i]
    }

    fn state(&self, i: usize) -> State {
        self.sup.state(i)
    }

    fn finished(&mut self, mux_empty: bool) -> Option<i32> {
        let code = self.sup.finished(mux_empty, self.now);
        self.apply();
        code
    }

    fn spawns(&mut self) -> Vec<usize> {
        self.take()
            .into_iter()
            .filter_map(|a| match a {
                Action::Spawn(i) => Some(i),
                _ => None,
            })
            .collect()
    }
}

/// A run of one helper called `name`, set up by `set`, started.
fn one(name: &str, set: impl FnOnce(&mut HelperSpec)) -> Run {
    let mut h = helper(name);
    set(&mut h);
    Run::new(plan(vec![h])).start()
}

/// `db`, ready on a line containing `up` and set up further by `set`, and `web` depending on
/// it: a run started.
fn web_after_db(set: impl FnOnce(&mut HelperSpec)) -> Run {
    let mut db = helper("db");
    db.ready_line = Some("up".into());
    set(&mut db);
    let mut web = helper("web");
    web.depends_on = vec!["db".into()];
    Run::new(plan(vec![db, web])).start()
}

fn is_running(s: State) -> bool {
    matches!(s, State::Running { .. })
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

// ---- starting -------------------------------------------------------------------------------

#[test]
fn helpers_without_dependencies_start_at_once_and_are_ready() {
    let mut r = Run::new(plan(vec![helper("a"), helper("b")])).start();
    assert!(is_running(r.state(0)) && is_running(r.state(1)));
    let recs = r.records();
    let starts: Vec<&str> = recs.iter().map(Record::event).collect();
    assert_eq!(starts, ["start", "ready", "start", "ready"]);
    assert_eq!(recs[0].message(), "a started: run a (pid 101)");
}

#[test]
fn loader_notes_come_first() {
    let mut p = plan(vec![helper("a")]);
    p.notes = vec!["hello".into()];
    let mut r = Run::new(p).start();
    assert_eq!(r.records()[0], Record::Note("hello".into()));
}

#[test]
fn a_dependent_waits_until_its_dependency_is_ready() {
    let mut r = web_after_db(|db| db.ready_line = Some("accepting".into()));
    assert_eq!(r.spawns(), [0]);
    assert!(matches!(r.state(1), State::Waiting { .. }));
    r.output(0, "starting up");
    assert!(matches!(r.state(1), State::Waiting { .. }));
    r.output(0, "db: accepting connections");
    assert!(is_running(r.state(1)));
    assert_eq!(r.events(), ["ready", "start", "ready"]);
}

#[test]
fn a_dependency_without_ready_line_lets_dependents_start_in_the_same_step() {
    let mut b = helper("b");
    b.depends_on = vec!["a".into()];
    let mut c = helper("c");
    c.depends_on = vec!["b".into()];
    let mut r = Run::new(plan(vec![c, b, helper("a")])).start();
    assert!((0..3).all(|i| is_running(r.state(i))));
    let names: Vec<String> = r
        .records()
        .iter()
        .filter(|x| x.event() == "start")
        .map(|x| x.helper().to_string())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
}

#[test]
fn a_waiting_helper_says_what_it_waits_for_every_ten_seconds() {
    let mut r = web_after_db(|_| {});
    r.take();
    r.at(9.9);
    assert!(r.records().is_empty());
    assert_eq!(
        r.sup.next_deadline(&r.world, r.now),
        Some(r.t0 + secs(10.0))
    );
    r.at(10.0);
    let recs = r.records();
    assert_eq!(
        recs,
        [Record::Waiting {
            helper: "web".into(),
            missing: vec![("db".into(), crate::spec::Condition::Ready)],
            waited: secs(10.0)
        }]
    );
    assert_eq!(recs[0].message(), "web waits for db to be ready: 10s");
    r.at(15.0);
    assert!(r.records().is_empty());
    r.at(20.0);
    assert_eq!(r.events(), ["waiting"]);
}

#[test]
fn a_dependent_of_a_helper_that_ended_unready_is_not_started_and_fails_the_run() {
    let mut r = web_after_db(|_| {});
    r.take();
    r.exit(0, Exit::Code(0));
    // The next step of the loop finds it.
    r.at(0.0);
    assert_eq!(r.state(1), State::Done { code: 1 });
    let recs = r.records();
    assert_eq!(
        recs.last().map(Record::message).as_deref(),
        Some("web not started: db ended before it was ready")
    );
    assert_eq!(r.finished(true), Some(1));
}

#[test]
fn a_dependency_that_ended_after_being_ready_still_lets_dependents_start() {
    let mut job = helper("job");
    job.ready_line = Some("done".into());
    let mut web = helper("web");
    web.depends_on = vec!["job".into()];
    let mut r = Run::new(plan(vec![job, web])).start();
    r.output(0, "done");
    r.exit(0, Exit::Code(0));
    assert!(is_running(r.state(1)));
}

#[test]
fn a_helper_that_cannot_start_is_an_error_with_exit_code_127() {
    let p = plan(vec![helper("a")]);
    let mut r = Run::new(p);
    r.failing.insert(0);
    let mut r = r.start();
    assert_eq!(r.state(0), State::Done { code: 127 });
    let recs = r.records();
    assert_eq!(recs[0].message(), "a cannot start: no such file");
    assert!(recs[0].warn());
    assert_eq!(r.finished(true), Some(127));
}

#[test]
fn a_helper_that_cannot_start_is_retried_by_its_restart_policy() {
    let mut a = helper("a");
    a.restart = Restart::OnFailure;
    let mut r = Run::new(plan(vec![a]));
    r.failing.insert(0);
    let mut r = r.start();
    assert_eq!(
        r.state(0),
        State::Backoff {
            until: r.t0 + secs(1.0)
        }
    );
    assert_eq!(r.events(), ["error", "restart"]);
    r.failing.clear();
    r.at(1.0);
    assert!(is_running(r.state(0)));
}

// ---- readiness ------------------------------------------------------------------------------

#[test]
fn readiness_is_announced_once_per_start() {
    let mut r = one("a", |h| {
        h.ready_line = Some("up".into());
        h.restart = Restart::Always;
    });
    r.output(0, "up");
    r.output(0, "up again");
    r.take();
    r.exit(0, Exit::Code(0));
    r.at(1.0);
    r.output(0, "up");
    let ready = r.events().iter().filter(|e| **e == "ready").count();
    assert_eq!(ready, 1, "once after the restart");
}

#[test]
fn output_matters_only_while_waiting_for_the_ready_line() {
    let mut a = helper("a");
    a.ready_line = Some("up".into());
    let mut r = Run::new(plan(vec![a, helper("b")])).start();
    assert!(r.sup.wants_output(0));
    assert!(!r.sup.wants_output(1), "no ready_line");
    r.output(0, "it is up");
    assert!(!r.sup.wants_output(0), "already ready");
}

#[test]
fn ready_timeout_stops_the_helper_and_its_clean_exit_counts_as_failure() {
    let mut r = one("a", |h| {
        h.ready_line = Some("up".into());
        h.ready_timeout = secs(30.0);
    });
    r.take();
    assert_eq!(
        r.sup.next_deadline(&r.world, r.now),
        Some(r.t0 + secs(30.0))
    );
    r.at(30.0);
    let done = r.take();
    assert!(matches!(&done[0], Action::Log(Record::ReadyTimeout { .. })));
    assert_eq!(
        done[1],
        Action::Stop {
            helper: 0,
            signal: 15
        }
    );
    assert!(matches!(r.state(0), State::Stopping { failed: true, .. }));
    r.exit(0, Exit::Code(0));
    assert_eq!(r.finished(true), Some(1));
}

#[test]
fn ready_timeout_message_names_the_line_and_the_timeout() {
    let rec = Record::ReadyTimeout {
        helper: "db".into(),
        timeout: secs(60.0),
        line: "ready".into(),
    };
    assert_eq!(
        rec.message(),
        "db was not ready after 1m: no line contained \"ready\"; stopping it (it counts as failed)"
    );
}

#[test]
fn a_ready_timeout_then_restart_lets_dependents_wait_for_the_new_start() {
    let mut r = web_after_db(|db| {
        db.ready_timeout = secs(5.0);
        db.restart = Restart::OnFailure;
    });
    r.at(5.0);
    r.exit(0, Exit::Signal(15));
    assert!(matches!(r.state(0), State::Backoff { .. }));
    assert!(matches!(r.state(1), State::Waiting { .. }));
    r.at(6.0);
    r.output(0, "up");
    assert!(is_running(r.state(1)));
}

// ---- restarts -------------------------------------------------------------------------------

#[test]
fn restart_never_ends_the_helper_with_its_code() {
    let mut r = Run::new(plan(vec![helper("a")])).start();
    r.exit(0, Exit::Code(3));
    assert_eq!(r.state(0), State::Done { code: 3 });
    assert_eq!(r.finished(true), Some(3));
}

#[test]
fn on_failure_restarts_a_failure_but_not_a_success() {
    let mut a = helper("a");
    a.restart = Restart::OnFailure;
    let mut r = Run::new(plan(vec![a.clone()])).start();
    r.exit(0, Exit::Code(1));
    assert!(matches!(r.state(0), State::Backoff { .. }));
    let mut r = Run::new(plan(vec![a])).start();
    r.exit(0, Exit::Code(0));
    assert_eq!(r.state(0), State::Done { code: 0 });
}

#[test]
fn always_restarts_even_a_success() {
    let mut r = one("a", |h| {
        h.restart = Restart::Always;
    });
    r.exit(0, Exit::Code(0));
    assert!(matches!(r.state(0), State::Backoff { .. }));
}

#[test]
fn backoff_doubles_up_to_thirty_seconds() {
    let mut r = one("a", |h| {
        h.restart = Restart::Always;
    });
    let mut t = 0.0;
    let mut delays = Vec::new();
    for _ in 0..7 {
        r.exit(0, Exit::Code(1));
        let State::Backoff { until } = r.state(0) else {
            panic!("not in backoff: {:?}", r.state(0));
        };
        let d = until.duration_since(r.now).as_secs_f64();
        delays.push(d);
        t += d;
        r.at(t);
        assert!(is_running(r.state(0)));
    }
    assert_eq!(delays, [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]);
}

#[test]
fn a_helper_up_for_ten_seconds_starts_its_backoff_again() {
    let mut r = one("a", |h| {
        h.restart = Restart::Always;
    });
    r.exit(0, Exit::Code(1));
    r.at(1.0);
    r.exit(0, Exit::Code(1));
    r.at(3.0);
    r.at(13.0);
    r.exit(0, Exit::Code(1));
    assert_eq!(
        r.state(0),
        State::Backoff {
            until: r.t0 + secs(14.0)
        }
    );
}

#[test]
fn restart_records_carry_attempt_and_delay() {
    let mut r = one("a", |h| {
        h.restart = Restart::Always;
    });
    r.take();
    r.exit(0, Exit::Code(1));
    let recs = r.records();
    assert_eq!(
        recs[1],
        Record::Restart {
            helper: "a".into(),
            attempt: 1,
            delay: secs(1.0)
        }
    );
    assert_eq!(recs[1].message(), "restarting a in 1s (attempt 1)");
}

#[test]
fn max_restarts_gives_up_and_the_failure_ends_the_run() {
    let mut r = one("a", |h| {
        h.restart = Restart::Always;
        h.max_restarts = Some(2);
    });
    r.exit(0, Exit::Code(4));
    r.at(1.0);
    r.exit(0, Exit::Code(4));
    r.at(3.0);
    r.take();
    r.exit(0, Exit::Code(4));
    assert_eq!(r.state(0), State::Done { code: 4 });
    let recs = r.records();
    assert_eq!(recs[1].message(), "giving up on a after 2 restarts");
    assert_eq!(r.finished(true), Some(4));
}

#[test]
fn a_backoff_is_not_started_once_the_run_stops() {
    let mut r = one("a", |h| {
        h.restart = Restart::Always;
    });
    r.exit(0, Exit::Code(1));
    r.signal(2, Some("SIGINT"));
    assert_eq!(r.state(0), State::Done { code: 0 });
    r.take();
    r.at(5.0);
    assert!(r.spawns().is_empty());
    assert_eq!(r.finished(true), Some(130));
}

#[test]
fn a_killed_helper_ends_with_128_plus_the_signal() {
    let mut r = Run::new(plan(vec![helper("a")])).start();
    r.exit(0, Exit::Signal(9));
    assert_eq!(r.state(0), State::Done { code: 137 });
}

// ---- exit records ---------------------------------------------------------------------------

#[test]
fn a_failure_is_a_warning_but_not_during_a_stop() {
    let mut r = Run::new(plan(vec![helper("a"), helper("b")])).start();
    r.take();
    r.exit(0, Exit::Code(2));
    let rec = &r.records()[0];
    assert!(rec.warn() && rec.message().starts_with("a exited ("));
    r.signal(15, Some("SIGTERM"));
    r.take();
    r.exit(1, Exit::Signal(15));
    assert!(!r.records()[0].warn());
}

// ---- the stop sequence ----------------------------------------------------------------------

#[test]
fn a_stop_signal_stops_every_running_helper_and_exits_128_plus_it() {
    let mut r = Run::new(plan(vec![helper("a"), helper("b")])).start();
    r.take();
    r.signal(2, Some("SIGINT"));
    let done = r.take();
    assert_eq!(
        done[0],
        Action::Log(Record::GotSignal {
            signal: 2,
            name: Some("SIGINT")
        })
    );
    assert_eq!(
        done[1..],
        [
            Action::Stop {
                helper: 0,
                signal: 15
            },
            Action::Stop {
                helper: 1,
                signal: 15
            },
            Action::StopStrays
        ]
    );
    r.exit(0, Exit::Signal(15));
    assert_eq!(r.finished(false), None, "b still runs");
    r.exit(1, Exit::Signal(15));
    assert_eq!(r.finished(true), Some(130));
}

#[test]
fn got_signal_tells_how_to_kill_at_once() {
    let rec = Record::GotSignal {
        signal: crate::os::SIGINT,
        name: Some("SIGINT"),
    };
    assert_eq!(
        rec.message(),
        "got SIGINT: stopping every helper (Ctrl-C again kills them at once)"
    );
}

#[test]
fn a_helper_that_ignores_its_stop_signal_is_killed_after_stop_timeout() {
    let mut r = one("a", |h| {
        h.stop_timeout = secs(2.0);
    });
    r.signal(15, None);
    r.take();
    r.at(1.9);
    assert!(r.take().is_empty());
    r.at(2.0);
    let done = r.take();
    assert_eq!(
        done,
        [
            Action::Log(Record::KillMain { helper: "a".into() }),
            Action::Kill(0)
        ]
    );
    r.at(3.0);
    assert!(r.take().is_empty(), "killed once");
}

#[test]
fn a_second_signal_kills_everything_at_once() {
    let mut r = Run::new(plan(vec![helper("a")])).start();
    r.signal(2, None);
    r.take();
    r.signal(2, None);
    assert_eq!(
        r.take(),
        [Action::Log(Record::SecondSignal), Action::KillAll]
    );
}

#[test]
fn the_stop_deadline_lets_go_of_whatever_is_left() {
    let mut r = one("a", |h| {
        h.stop_timeout = secs(2.0);
    });
    r.signal(15, None);
    // Progress every second, the kill at 2 s, letting go 5 s later.
    let mut deadlines = Vec::new();
    while let Some(t) = r.sup.next_deadline(&r.world, r.now) {
        deadlines.push(t.duration_since(r.t0).as_secs_f64());
        r.now = t;
        r.sup.tick(t, &r.world);
        r.apply();
    }
    assert_eq!(deadlines, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
    let done = r.take();
    assert_eq!(done.last(), Some(&Action::LetGo));
    assert_eq!(r.progress.len(), 6);
}

#[test]
fn waiting_helpers_are_done_when_the_run_stops() {
    let mut r = web_after_db(|_| {});
    r.signal(1, Some("SIGHUP"));
    r.take();
    assert_eq!(r.state(1), State::Done { code: 0 });
    r.output(0, "up");
    assert_eq!(r.state(1), State::Done { code: 0 });
    assert!(r.spawns().is_empty());
}

#[test]
fn the_log_breaking_stops_the_run_with_its_code_once() {
    let mut r = Run::new(plan(vec![helper("a")])).start();
    r.take();
    r.sup.log_broken(141, r.now);
    r.apply();
    assert_eq!(
        r.take(),
        [
            Action::Stop {
                helper: 0,
                signal: 15
            },
            Action::StopStrays
        ]
    );
    r.sup.log_broken(141, r.now);
    r.apply();
    assert!(r.take().is_empty());
    r.exit(0, Exit::Signal(15));
    assert_eq!(r.finished(true), Some(141));
}

/// Helpers a and b with `--kill-others-on-fail` (`on_fail`) or `--kill-others`; a exits with
/// `code`: the records that follow, and whether b is being stopped.
fn kill_others(on_fail: bool, code: i32) -> (Vec<Record>, bool) {
    let opts = Options {
        kill_others_on_fail: on_fail,
        kill_others: !on_fail,
    };
    let mut r = Run::with(plan(vec![helper("a"), helper("b")]), opts).start();
    r.take();
    r.exit(0, Exit::Code(code));
    let stopping = matches!(r.state(1), State::Stopping { .. });
    let recs = r.records();
    if stopping {
        r.exit(1, Exit::Signal(15));
        let want = if code == 0 { 0 } else { code };
        assert_eq!(r.finished(true), Some(want));
    }
    (recs, stopping)
}

#[test]
fn kill_others_on_fail_stops_the_run_with_the_failures_code() {
    assert!(
        !kill_others(true, 0).1,
        "a success does not stop the others"
    );
    let (recs, stopping) = kill_others(true, 3);
    assert!(stopping);
    assert_eq!(
        recs[1].message(),
        "a failed: stopping the others (--kill-others-on-fail)"
    );
}

#[test]
fn kill_others_stops_the_run_on_any_end() {
    let (recs, stopping) = kill_others(false, 0);
    assert!(stopping);
    assert_eq!(
        recs[1].message(),
        "a ended: stopping the others (--kill-others)"
    );
    assert!(!recs[1].warn());
}

#[test]
fn a_helper_started_while_stopping_is_stopped_at_once() {
    let mut r = Run::new(plan(vec![helper("a")]));
    r.sup.start_ready(r.now);
    // The spawn is asked for, then the run stops before the runner applies it.
    r.sup.begin_stop(Stop::Signal(2), r.now);
    r.apply();
    assert!(matches!(r.state(0), State::Stopping { .. }));
    assert!(r.take().contains(&Action::Stop {
        helper: 0,
        signal: 15
    }));
}

// ---- what a helper leaves behind ------------------------------------------------------------

#[test]
fn leftovers_get_the_stop_signal_and_the_run_ends_when_they_are_gone() {
    let mut r = Run::new(plan(vec![helper("g")])).start();
    let pid = r.pid(0);
    r.world.members.insert(pid, 1);
    r.take();
    r.exit(0, Exit::Code(0));
    let done = r.take();
    assert_eq!(
        done[1],
        Action::Log(Record::LeftBehind {
            helper: "g".into(),
            left: Leftovers {
                count: 1,
                exact: true
            }
        })
    );
    assert_eq!(
        done[2],
        Action::SignalGroup {
            pgid: pid,
            signal: 15
        }
    );
    assert!(matches!(r.state(0), State::Draining { .. }));
    assert_eq!(r.finished(true), None, "still draining");
    assert_eq!(
        r.sup.next_deadline(&r.world, r.now),
        Some(r.now + TREE_CHECK),
        "pipes closed: the group is looked at again soon"
    );
    r.world.members.clear();
    r.at(0.02);
    assert_eq!(r.state(0), State::Done { code: 0 });
    assert_eq!(r.finished(true), Some(0));
}

#[test]
fn a_leftover_holding_the_pipe_is_stopped_through_the_mux() {
    let mut r = Run::new(plan(vec![helper("g")])).start();
    r.take();
    r.world.held.insert(0);
    r.sup.exited(0, Exit::Code(0), r.now, &r.world);
    r.apply();
    let done = r.take();
    assert_eq!(
        done[2],
        Action::Stop {
            helper: 0,
            signal: 15
        }
    );
    assert_eq!(
        r.sup.next_deadline(&r.world, r.now),
        Some(r.now + secs(5.0)),
        "the pipe's end of file will come: no polling"
    );
}

#[test]
fn leftovers_that_outlive_stop_timeout_are_killed_then_given_up_on() {
    let mut r = one("g", |h| {
        h.stop_timeout = secs(1.0);
    });
    let pid = r.pid(0);
    r.world.members.insert(pid, 2);
    r.exit(0, Exit::Code(0));
    r.take();
    r.at(1.0);
    let done = r.take();
    assert_eq!(
        done[0].clone(),
        Action::Log(Record::KillLeftovers {
            helper: "g".into(),
            left: Leftovers {
                count: 2,
                exact: true
            },
            timeout: secs(1.0)
        })
    );
    assert_eq!(
        done[1..],
        [
            Action::Kill(0),
            Action::SignalGroup {
                pgid: pid,
                signal: crate::os::SIGKILL
            }
        ]
    );
    r.at(5.9);
    assert!(matches!(r.state(0), State::Draining { killed: true, .. }));
    r.at(6.0);
    assert_eq!(r.records(), [Record::LeftoversStuck { helper: "g".into() }]);
    assert_eq!(r.state(0), State::Done { code: 0 });
}

#[test]
fn a_restart_waits_for_the_old_tree_to_go() {
    let mut r = one("a", |h| {
        h.restart = Restart::Always;
    });
    let pid = r.pid(0);
    r.world.members.insert(pid, 1);
    r.exit(0, Exit::Code(1));
    assert!(matches!(
        r.state(0),
        State::Draining {
            then: Then::Backoff(_),
            ..
        }
    ));
    r.world.members.clear();
    r.at(0.5);
    assert!(matches!(r.state(0), State::Backoff { .. }));
    r.at(1.0);
    assert!(is_running(r.state(0)));
}

#[test]
fn no_leftover_line_during_a_stop() {
    let mut r = Run::new(plan(vec![helper("g")])).start();
    r.signal(15, None);
    r.world.members.insert(r.pid(0), 1);
    r.take();
    r.exit(0, Exit::Signal(15));
    assert_eq!(r.events(), ["exit"]);
    assert!(matches!(r.state(0), State::Draining { .. }));
}

#[test]
fn a_stop_kills_an_old_tree_that_the_mux_let_go_of() {
    let mut r = one("a", |h| {
        h.restart = Restart::Always;
    });
    let pid = r.pid(0);
    r.world.members.insert(pid, 1);
    r.exit(0, Exit::Code(1));
    r.take();
    r.signal(2, None);
    assert!(r.take().contains(&Action::KillReleasedGroup {
        helper: 0,
        pgid: pid
    }));
    assert!(matches!(r.state(0), State::Draining { killed: true, .. }));
    r.world.members.clear();
    r.at(0.1);
    assert_eq!(r.state(0), State::Done { code: 0 }, "no restart in a stop");
}

#[test]
fn every_helper_done_but_a_stream_held_ends_the_run_at_once() {
    let mut r = Run::new(plan(vec![helper("a")])).start();
    r.exit(0, Exit::Code(0));
    r.take();
    assert_eq!(r.finished(false), None);
    assert_eq!(r.take(), [Action::StopStrays]);
    r.at(0.0);
    assert_eq!(r.take(), [Action::LetGo]);
    assert_eq!(r.finished(true), Some(0));
}

// ---- watch mode -----------------------------------------------------------------------------

fn change(r: &mut Run, at: f64, paths: &[&str]) {
    r.now = r.t0 + secs(at);
    r.sup
        .changes(paths.iter().map(|s| s.to_string()).collect(), r.now);
    r.apply();
}

#[test]
fn changes_are_debounced_then_build() {
    let mut r = Run::new(watch_plan(vec![], true, &[], OnBusy::Queue)).start();
    assert_eq!(r.state(0), State::Done { code: 0 }, "the build waits");
    change(&mut r, 1.0, &["src/a.rs"]);
    change(&mut r, 1.1, &["src/b.rs"]);
    assert_eq!(r.sup.next_deadline(&r.world, r.now), Some(r.t0 + secs(1.3)));
    r.at(1.29);
    assert!(r.spawns().is_empty());
    r.at(1.3);
    let done = r.take();
    assert_eq!(
        done[0],
        Action::Log(Record::Change {
            paths: vec!["src/a.rs".into(), "src/b.rs".into()],
            count: 2,
            shown: "src/a.rs (+1 more)".into()
        })
    );
    assert_eq!(done[1], Action::Spawn(0));
}

#[test]
fn a_burst_is_acted_on_after_at_most_ten_debounce_periods_or_two_seconds() {
    let mut r = Run::new(watch_plan(vec![], true, &[], OnBusy::Queue)).start();
    for k in 0..30 {
        change(&mut r, 1.0 + 0.1 * k as f64, &["src/a.rs"]);
        r.sup.tick(r.now, &r.world);
        r.apply();
    }
    assert_eq!(r.spawns(), [0], "one build, at 3.0 s");
}

#[test]
fn the_watch_runs_until_stopped() {
    let mut r = Run::new(watch_plan(
        vec![helper("web")],
        false,
        &["web"],
        OnBusy::Queue,
    ))
    .start();
    r.exit(0, Exit::Code(0));
    assert_eq!(r.finished(true), None);
}

#[test]
fn a_successful_build_restarts_the_helpers() {
    let p = watch_plan(vec![helper("web")], true, &["web"], OnBusy::Queue);
    let mut r = Run::new(p).start();
    change(&mut r, 1.0, &["src/a.rs"]);
    r.at(1.2);
    r.take();
    r.at(2.0);
    r.exit(1, Exit::Code(0));
    let done = r.take();
    assert!(matches!(
        &done[0],
        Action::Log(Record::Exit {
            ended: Ended::Build { .. },
            ..
        })
    ));
    assert_eq!(
        done[1],
        Action::Log(Record::RestartForChange {
            helper: "web".into(),
            why: "the build succeeded".into(),
            running: true
        })
    );
    assert_eq!(
        done[2],
        Action::Stop {
            helper: 0,
            signal: 15
        }
    );
    assert!(matches!(
        r.state(0),
        State::Stopping {
            after: After::Restart,
            ..
        }
    ));
}

#[test]
fn a_failed_build_leaves_the_helpers_alone() {
    let p = watch_plan(vec![helper("web")], true, &["web"], OnBusy::Queue);
    let mut r = Run::new(p).start();
    change(&mut r, 1.0, &["src/a.rs"]);
    r.at(1.2);
    r.take();
    r.exit(1, Exit::Code(2));
    let recs = r.records();
    assert_eq!(recs[0].message(), "build failed (exit code 2) after 0.0s");
    assert!(recs[0].warn());
    assert_eq!(recs[1], Record::BuildFailed);
    assert!(is_running(r.state(0)));
}

#[test]
fn a_replaced_helper_starts_again_once_its_old_tree_is_gone() {
    let p = watch_plan(vec![helper("web")], false, &["web"], OnBusy::Queue);
    let mut r = Run::new(p).start();
    let old = r.pid(0);
    change(&mut r, 1.0, &["src/a.rs"]);
    r.at(1.2);
    assert!(matches!(
        r.state(0),
        State::Stopping {
            after: After::Restart,
            ..
        }
    ));
    r.take();
    r.world.members.insert(old, 1);
    r.exit(0, Exit::Signal(15));
    assert_eq!(
        r.records()[0].message(),
        format!("web stopped ({})", Exit::Signal(15))
    );
    assert!(matches!(
        r.state(0),
        State::Draining {
            then: Then::Start,
            ..
        }
    ));
    r.world.members.clear();
    r.at(1.25);
    assert!(is_running(r.state(0)));
    assert_ne!(r.pid(0), old);
}

#[test]
fn a_change_restarts_an_ended_helper_with_a_fresh_restart_count() {
    let mut web = helper("web");
    web.restart = Restart::OnFailure;
    web.max_restarts = Some(0);
    let p = watch_plan(vec![web], false, &["web"], OnBusy::Queue);
    let mut r = Run::new(p).start();
    r.exit(0, Exit::Code(1));
    assert_eq!(r.state(0), State::Done { code: 1 });
    r.take();
    change(&mut r, 1.0, &["src/a.rs"]);
    r.at(1.2);
    let recs = r.records();
    assert_eq!(recs[1].message(), "starting web again: files changed");
    assert!(is_running(r.state(0)));
}

/// Watch mode with a build only, running since 1.2 s after a change at 1 s.
fn building(on_busy: OnBusy) -> Run {
    let mut r = Run::new(watch_plan(vec![], true, &[], on_busy)).start();
    change(&mut r, 1.0, &["src/a.rs"]);
    r.at(1.2);
    r.take();
    r
}

#[test]
fn on_busy_queue_builds_again_after_the_running_build() {
    let mut r = building(OnBusy::Queue);
    change(&mut r, 1.5, &["src/b.rs"]);
    r.at(3.0);
    assert!(r.spawns().is_empty(), "not while the build runs");
    r.exit(0, Exit::Code(0));
    r.at(3.0);
    assert_eq!(r.spawns(), [0]);
}

#[test]
fn on_busy_ignore_drops_changes_during_the_build_and_says_so_once() {
    let mut r = building(OnBusy::Ignore);
    change(&mut r, 1.5, &["src/b.rs"]);
    change(&mut r, 1.6, &["src/c.rs"]);
    assert_eq!(
        r.records(),
        [Record::ChangeIgnored {
            shown: "src/b.rs".into()
        }]
    );
    r.exit(0, Exit::Code(0));
    r.at(10.0);
    assert!(r.spawns().is_empty());
}

#[test]
fn on_busy_restart_stops_the_build_and_starts_it_again() {
    let mut r = building(OnBusy::Restart);
    change(&mut r, 1.5, &["src/b.rs"]);
    let done = r.take();
    assert_eq!(
        done,
        [
            Action::Log(Record::StopBuildForChange {
                helper: "build".into()
            }),
            Action::Stop {
                helper: 0,
                signal: 15
            }
        ]
    );
    change(&mut r, 1.6, &["src/c.rs"]);
    assert!(r.take().is_empty(), "already being replaced");
    r.exit(0, Exit::Signal(15));
    r.at(1.8);
    assert_eq!(r.spawns(), [0]);
}

#[test]
fn a_build_that_keeps_changing_its_inputs_is_a_rebuild_loop() {
    let mut r = Run::new(watch_plan(vec![], true, &[], OnBusy::Queue)).start();
    change(&mut r, 1.0, &["src/a.rs"]);
    r.at(1.2);
    let mut t = 1.2;
    let mut kinds = Vec::new();
    for _ in 0..4 {
        // Each build writes src/gen.rs while it runs.
        change(&mut r, t + 0.1, &["src/gen.rs"]);
        t += 0.5;
        r.now = r.t0 + secs(t);
        r.exit(0, Exit::Code(0));
        r.take();
        r.at(t + 0.3);
        kinds.extend(r.events().into_iter().filter(|e| *e != "start"));
    }
    assert_eq!(kinds, ["change", "change", "rebuild_loop"]);
    // From then on, gen.rs changes during a build are dropped; other changes still build.
    change(&mut r, 20.0, &["src/gen.rs"]);
    r.at(20.3);
    assert_eq!(
        r.events(),
        ["change", "start"],
        "outside a build, gen.rs still counts"
    );
}

#[test]
fn changes_are_ignored_once_the_run_stops() {
    let mut r = Run::new(watch_plan(vec![], true, &[], OnBusy::Queue)).start();
    r.signal(2, None);
    change(&mut r, 1.0, &["src/a.rs"]);
    r.at(5.0);
    assert!(r.spawns().is_empty());
    assert_eq!(r.finished(true), Some(130));
}

#[test]
fn watch_plan_names_the_build_and_the_restarted_helpers() {
    let p = watch_plan(
        vec![helper("web"), helper("api")],
        true,
        &["web", "api"],
        OnBusy::Queue,
    );
    let r = Run::new(p);
    assert_eq!(
        r.sup.watch_plan(),
        ["run build (run build)", "restart web, api"]
    );
}

// ---- the run's stop in order, and what it waits for -----------------------------------------

/// db ← api ← web (web depends on api, api on db), and a lone `log`.
fn chain() -> RunSpec {
    let mut api = helper("api");
    api.depends_on = vec!["db".into()];
    let mut web = helper("web");
    web.depends_on = vec!["api".into()];
    plan(vec![helper("db"), api, web, helper("log")])
}

fn stops(done: &[Action]) -> Vec<usize> {
    done.iter()
        .filter_map(|a| match a {
            Action::Stop { helper, .. } => Some(*helper),
            _ => None,
        })
        .collect()
}

#[test]
fn dependents_stop_before_their_dependencies_and_loners_at_once() {
    let mut r = Run::new(chain()).start();
    r.take();
    r.signal(2, None);
    assert_eq!(stops(&r.take()), [2, 3], "web and log first");
    assert!(is_running(r.state(0)) && is_running(r.state(1)));
    r.exit(2, Exit::Signal(15));
    r.at(0.1);
    assert_eq!(stops(&r.take()), [1], "then api");
    r.exit(1, Exit::Signal(15));
    r.at(0.2);
    assert_eq!(stops(&r.take()), [0], "then db");
    r.exit(0, Exit::Signal(15));
    r.exit(3, Exit::Signal(15));
    assert_eq!(r.finished(true), Some(130));
}

#[test]
fn a_dependent_that_left_processes_holds_its_dependency_until_they_are_gone() {
    let mut r = Run::new(chain()).start();
    r.signal(15, None);
    let web = r.pid(2);
    r.world.members.insert(web, 1);
    r.exit(2, Exit::Signal(15));
    r.at(0.1);
    assert!(matches!(r.state(2), State::Draining { .. }));
    assert!(is_running(r.state(1)), "api waits for web's tree");
    r.world.members.clear();
    r.take();
    r.at(0.2);
    assert_eq!(stops(&r.take()), [1]);
}

#[test]
fn each_stage_of_an_ordered_stop_gets_its_own_stop_timeout() {
    let mut r = Run::new(chain()).start();
    r.signal(15, None);
    r.at(4.0);
    r.exit(2, Exit::Signal(15));
    r.at(4.0);
    let State::Stopping { kill_at, .. } = r.state(1) else {
        panic!("api is not stopping: {:?}", r.state(1));
    };
    assert_eq!(kill_at, Some(r.t0 + secs(9.0)));
    r.take();
    r.at(7.5);
    assert!(
        !r.take().contains(&Action::LetGo),
        "the run's deadline moved on with the stage"
    );
}

#[test]
fn the_stop_says_every_second_what_it_waits_for() {
    let mut r = Run::new(chain()).start();
    r.signal(2, None);
    r.world.members.insert(r.pid(2), 3);
    r.world.members.insert(r.pid(3), 1);
    r.at(0.5);
    assert!(r.progress.is_empty(), "not before a second");
    r.at(1.0);
    let [rec] = r.progress.as_slice() else {
        panic!("one progress record: {:?}", r.progress);
    };
    assert_eq!(
        rec.message(),
        "waiting for web (3 processes), 4s until kill; log (1 process), 4s until kill; then db, api; Ctrl-C again to kill now"
    );
    assert_eq!(rec.event(), "stop");
    let fields = rec.fields();
    assert_eq!(fields[0].0, "waiting");
    assert_eq!(
        fields[0].1[0],
        serde_json::json!({"helper": "web", "processes": 3, "kill_in_ms": 4000})
    );
    assert_eq!(fields[1], ("then", serde_json::json!(["db", "api"])));
    r.at(1.5);
    assert_eq!(r.progress.len(), 1, "at most once a second");
}

#[test]
fn progress_ends_with_the_stop() {
    let mut r = Run::new(plan(vec![helper("a")])).start();
    r.signal(2, None);
    r.exit(0, Exit::Signal(15));
    r.at(1.0);
    assert!(r.progress.is_empty(), "nothing left to wait for");
    assert_eq!(r.finished(true), Some(130));
}

// ---- requests from `spawnmux ctl` -----------------------------------------------------------

#[test]
fn ctl_stop_keeps_a_helper_stopped_without_failure_or_restart() {
    let mut a = helper("a");
    a.restart = Restart::Always;
    let mut r = Run::new(plan(vec![a, helper("b")])).start();
    r.take();
    assert_eq!(r.request(0, Request::Stop, r.now), Ok(()));
    assert_eq!(
        r.take(),
        [
            Action::Log(Record::Requested {
                helper: "a".into(),
                request: "stop"
            }),
            Action::Stop {
                helper: 0,
                signal: 15
            }
        ]
    );
    r.exit(0, Exit::Signal(15));
    r.at(0.1);
    assert_eq!(r.state(0), State::Done { code: 0 });
    let recs = r.records();
    assert!(recs[0].message().starts_with("a stopped (") && !recs[0].warn());
    r.at(60.0);
    assert!(r.spawns().is_empty(), "not restarted");
    assert_eq!(r.refused(0, Request::Stop), "a is not running");
}

#[test]
fn ctl_start_starts_an_ended_helper_with_a_fresh_restart_count() {
    let mut a = helper("a");
    a.restart = Restart::OnFailure;
    a.max_restarts = Some(0);
    let mut r = Run::new(plan(vec![a, helper("b")])).start();
    r.exit(0, Exit::Code(1));
    assert_eq!(r.state(0), State::Done { code: 1 });
    r.take();
    assert_eq!(r.request(0, Request::Start, r.now), Ok(()));
    assert!(is_running(r.state(0)));
    assert_eq!(r.refused(0, Request::Start), "a is already running");
}

#[test]
fn ctl_restart_stops_then_starts_a_running_helper() {
    let mut r = Run::new(plan(vec![helper("a")])).start();
    let old = r.pid(0);
    r.take();
    assert_eq!(r.request(0, Request::Restart, r.now), Ok(()));
    assert!(matches!(
        r.state(0),
        State::Stopping {
            after: After::Restart,
            ..
        }
    ));
    r.exit(0, Exit::Signal(15));
    r.at(0.1);
    assert!(is_running(r.state(0)));
    assert_ne!(r.pid(0), old);
}

#[test]
fn ctl_restart_starts_a_helper_in_backoff_at_once() {
    let mut r = one("a", |h| {
        h.restart = Restart::Always;
    });
    r.exit(0, Exit::Code(1));
    assert!(matches!(r.state(0), State::Backoff { .. }));
    assert_eq!(r.request(0, Request::Restart, r.now), Ok(()));
    assert!(is_running(r.state(0)));
}

#[test]
fn ctl_requests_are_refused_for_waiting_helpers_and_while_the_run_stops() {
    let mut r = web_after_db(|_| {});
    assert_eq!(
        r.refused(1, Request::Start),
        "web waits for its dependencies to be ready"
    );
    r.signal(2, None);
    assert_eq!(r.refused(0, Request::Restart), "spawnmux is stopping");
}

#[test]
fn ctl_status_tells_state_pid_uptime_restarts_and_readiness() {
    let mut db = helper("db");
    db.ready_line = Some("up".into());
    db.restart = Restart::Always;
    let mut r = Run::new(plan(vec![db, helper("x")])).start();
    r.exit(1, Exit::Code(0));
    r.at(3.0);
    let st = r.sup.status(r.now);
    assert_eq!(st[0].state, "running");
    assert_eq!(st[0].pid, Some(r.pid(0)));
    assert_eq!(st[0].uptime, Some(secs(3.0)));
    assert!(!st[0].ready);
    assert_eq!(
        (st[1].state, st[1].code, st[1].pid),
        ("done", Some(0), None)
    );
    r.output(0, "up");
    assert!(r.sup.status(r.now)[0].ready);
    assert_eq!(r.sup.index("x"), Some(1));
    assert_eq!(r.sup.index("nope"), None);
}

// A helper's own backoff.
mod backoff;
// Readiness and liveness checks, depends_on conditions, restart_with.
mod checks;

// A restart's wait for the helper's port.
mod ports;
