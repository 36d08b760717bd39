//! Readiness and liveness checks, `depends_on` conditions and `restart_with`, with the same
//! fake clock and fake world as the rest of `tests.rs` (the [`Run`] harness).

use super::*;
use crate::spec::{Addresses, Check, Condition, Target};

/// A TCP check every `interval` seconds.
fn tcp(interval: f64) -> Check {
    Check {
        target: Target::Tcp(Addresses {
            addrs: vec![([127, 0, 0, 1], 5432).into()],
            written: "127.0.0.1:5432".into(),
        }),
        interval: secs(interval),
    }
}

/// `db` with a readiness check (every 0.5 s, after `delay`), `web` depending on it.
fn db_and_web(delay: f64) -> RunSpec {
    let mut db = helper("db");
    db.ready_check = Some(tcp(0.5));
    db.ready_delay = secs(delay);
    db.ready_timeout = secs(10.0);
    let mut web = helper("web");
    web.depends_on = vec!["db".into()];
    plan(vec![db, web])
}

/// The check attempts among `done`.
fn attempts(done: &[Action]) -> Vec<CheckAttempt> {
    done.iter()
        .filter_map(|a| match a {
            Action::Check(c) => Some(*c),
            _ => None,
        })
        .collect()
}

impl Run {
    /// The attempts asked for since the last `take` (the rest is dropped).
    fn attempts(&mut self) -> Vec<CheckAttempt> {
        attempts(&self.take())
    }

    /// The one attempt asked for since the last `take`.
    fn attempt(&mut self) -> CheckAttempt {
        let a = self.attempts();
        assert_eq!(a.len(), 1, "{a:?}");
        a[0]
    }

    fn result(&mut self, a: CheckAttempt, result: Result<(), &str>) {
        self.sup
            .check_result(a.helper, a.number, result.map_err(String::from), self.now);
        self.apply();
    }
}

// ---- readiness checks -----------------------------------------------------------------------

#[test]
fn the_first_attempt_comes_after_ready_delay_then_every_interval() {
    let mut r = Run::new(db_and_web(2.0)).start();
    assert_eq!(r.spawns(), [0]);
    assert_eq!(r.sup.next_deadline(&r.world, r.now), Some(r.t0 + secs(2.0)));
    r.at(1.9);
    assert!(r.attempts().is_empty());
    r.at(2.0);
    let a = r.attempt();
    assert_eq!((a.helper, a.kind), (0, CheckKind::Ready));
    // In flight: nothing more is asked for, whatever the time.
    r.at(2.4);
    assert!(r.attempts().is_empty());
    r.result(a, Err("connection refused"));
    // The next attempt starts an interval after the last one started...
    assert_eq!(r.sup.next_deadline(&r.world, r.now), Some(r.t0 + secs(2.5)));
    r.at(2.5);
    let b = r.attempt();
    assert_ne!(a.number, b.number);
    // ... or at once if the attempt took its whole interval.
    r.at(3.2);
    r.result(b, Err("no answer in time"));
    assert_eq!(r.sup.next_deadline(&r.world, r.now), Some(r.now));
    assert!(matches!(r.state(1), State::Waiting { .. }));
}

#[test]
fn a_successful_attempt_makes_the_helper_ready_and_starts_its_dependents() {
    let mut r = Run::new(db_and_web(0.0)).start();
    r.take();
    r.at(0.0);
    let a = r.attempt();
    r.result(a, Ok(()));
    assert!(is_running(r.state(1)));
    assert_eq!(r.events(), ["ready", "start", "ready"]);
    // No liveness check: nothing more is asked for.
    r.at(5.0);
    assert!(r.attempts().is_empty());
    assert_eq!(r.sup.current_check(0), None);
}

#[test]
fn a_check_does_not_read_the_output_and_a_line_does_not_make_it_ready() {
    let mut r = Run::new(db_and_web(0.0)).start();
    assert!(!r.sup.wants_output(0));
    r.output(0, "ready");
    assert!(matches!(r.state(1), State::Waiting { .. }));
}

#[test]
fn a_check_that_never_succeeds_times_out_with_its_last_error() {
    let mut r = Run::new(db_and_web(0.0)).start();
    r.take();
    r.at(0.0);
    let a = r.attempt();
    r.result(a, Err("connection refused"));
    r.at(10.0);
    let recs = r.records();
    let timeout = recs.iter().find(|x| x.event() == "ready_timeout");
    assert_eq!(
        timeout.map(Record::message).as_deref(),
        Some("db was not ready after 10s: tcp 127.0.0.1:5432 never succeeded (last attempt: connection refused); stopping it (it counts as failed)")
    );
    assert!(matches!(r.state(0), State::Stopping { failed: true, .. }));
    // Stopping: no more attempts; the stray result of one in flight is ignored.
    r.at(10.5);
    assert!(r.attempts().is_empty());
    r.exit(0, Exit::Signal(15));
    r.at(10.6);
    assert_eq!(r.state(0), State::Done { code: 143 });
    assert_eq!(r.state(1), State::Done { code: 1 }, "web is not started");
}

#[test]
fn results_of_old_attempts_and_of_stopped_helpers_are_ignored() {
    let mut r = Run::new(db_and_web(0.0)).start();
    r.take();
    r.at(0.0);
    let a = r.attempt();
    r.result(a, Err("refused"));
    r.at(0.5);
    let b = r.attempt();
    r.result(a, Ok(()));
    assert!(
        matches!(r.state(1), State::Waiting { .. }),
        "an old attempt"
    );
    assert!(r.sup.awaits_check(0, b.number));
    r.signal(2, Some("SIGINT"));
    assert!(!r.sup.awaits_check(0, b.number), "the run stops");
    r.result(b, Ok(()));
    assert!(!r.events().contains(&"ready"));
}

#[test]
fn checks_start_again_after_a_restart() {
    let mut p = db_and_web(1.0);
    p.helpers[0].restart = Restart::Always;
    let mut r = Run::new(p).start();
    r.at(1.0);
    let a = r.attempt();
    r.exit(0, Exit::Code(1));
    assert!(!r.sup.awaits_check(0, a.number), "the helper exited");
    r.at(2.0);
    assert_eq!(r.spawns(), [0], "restarted after 1 s");
    r.at(2.9);
    assert!(r.attempts().is_empty(), "ready_delay again");
    r.at(3.0);
    assert_eq!(r.attempt().kind, CheckKind::Ready);
}

// ---- liveness checks ------------------------------------------------------------------------

/// `api` (ready at once) with a liveness check every second, restarted after 3 failures.
fn alive() -> Run {
    let mut api = helper("api");
    api.alive_check = Some(tcp(1.0));
    api.alive_failures = 3;
    let mut r = Run::new(plan(vec![api])).start();
    r.take();
    r
}

#[test]
fn liveness_begins_an_interval_after_ready_and_a_success_resets_the_count() {
    let mut r = alive();
    r.at(0.9);
    assert!(r.attempts().is_empty());
    for (t, result) in [(1.0, Err("refused")), (2.0, Err("refused")), (3.0, Ok(()))] {
        r.at(t);
        let a = r.attempt();
        assert_eq!(a.kind, CheckKind::Alive);
        r.result(a, result);
    }
    for t in [4.0, 5.0] {
        r.at(t);
        let a = r.attempt();
        r.result(a, Err("refused"));
    }
    assert!(
        is_running(r.state(0)),
        "2 failures in a row since the success"
    );
}

#[test]
fn liveness_failures_in_a_row_restart_the_helper() {
    let mut r = alive();
    for t in [1.0, 2.0, 3.0] {
        r.at(t);
        let a = r.attempt();
        r.result(a, Err("connection refused"));
    }
    let done = r.take();
    assert!(done.contains(&Action::Stop {
        helper: 0,
        signal: 15
    }));
    let msg = done.iter().find_map(|a| match a {
        Action::Log(rec @ Record::NotAlive { .. }) => Some(rec.message()),
        _ => None,
    });
    assert_eq!(
        msg.as_deref(),
        Some("api is not alive: tcp 127.0.0.1:5432 failed 3 times in a row (last: connection refused); restarting it")
    );
    r.at(3.5);
    assert!(r.attempts().is_empty(), "no attempt while it stops");
    r.exit(0, Exit::Signal(15));
    r.at(3.6);
    assert_eq!(r.spawns(), [0], "started again once its tree is gone");
    r.at(4.5);
    assert!(
        r.attempts().is_empty(),
        "ready at once, liveness an interval later"
    );
    r.at(4.6);
    assert_eq!(r.attempt().kind, CheckKind::Alive);
}

// ---- depends_on conditions ------------------------------------------------------------------

/// `dep` (failing to start if `fails`), and `app` depending on it under `condition`.
fn conditional(condition: Condition, dep: HelperSpec) -> Run {
    let mut app = helper("app");
    app.depends_on = vec![dep.name.clone()];
    app.conditions.insert(dep.name.clone(), condition);
    Run::new(plan(vec![dep, app]))
}

fn slow_dep() -> HelperSpec {
    let mut dep = helper("dep");
    dep.ready_line = Some("up".into());
    dep
}

#[test]
fn started_lets_the_dependent_start_with_the_dependency() {
    let mut r = conditional(Condition::Started, slow_dep()).start();
    assert_eq!(r.spawns(), [0, 1], "before dep is ready");
}

#[test]
fn started_is_never_met_by_a_dependency_that_cannot_start() {
    let mut r = conditional(Condition::Started, helper("dep"));
    r.failing.insert(0);
    let mut r = r.start();
    r.at(0.1);
    let msgs: Vec<String> = r.records().iter().map(Record::message).collect();
    assert!(
        msgs.contains(&"app not started: dep never started".to_string()),
        "{msgs:?}"
    );
    assert_eq!(r.state(1), State::Done { code: 1 });
}

#[test]
fn completed_waits_for_the_end_whatever_the_code() {
    let mut r = conditional(Condition::Completed, helper("dep")).start();
    assert_eq!(r.spawns(), [0]);
    r.at(10.0);
    let waiting = r.records().into_iter().find(|x| x.event() == "waiting");
    assert_eq!(
        waiting.map(|w| w.message()).as_deref(),
        Some("app waits for dep to complete: 10s")
    );
    r.exit(0, Exit::Code(3));
    r.at(10.1);
    assert!(is_running(r.state(1)));
}

#[test]
fn completed_successfully_waits_through_restarts_for_a_success() {
    let mut dep = helper("migrate");
    dep.restart = Restart::OnFailure;
    dep.max_restarts = Some(1);
    let mut r = conditional(Condition::CompletedSuccessfully, dep).start();
    r.exit(0, Exit::Code(1));
    r.at(0.5);
    assert!(
        matches!(r.state(1), State::Waiting { .. }),
        "in backoff: not yet"
    );
    r.at(1.0);
    r.exit(0, Exit::Code(0));
    r.at(1.1);
    assert!(is_running(r.state(1)));
}

#[test]
fn completed_successfully_is_never_met_by_a_failure_for_good() {
    let mut r = conditional(Condition::CompletedSuccessfully, helper("migrate")).start();
    r.exit(0, Exit::Code(2));
    r.at(0.1);
    let recs = r.records();
    let not = recs.iter().find(|x| matches!(x, Record::NotStarted { .. }));
    assert_eq!(
        not.map(Record::message).as_deref(),
        Some("app not started: migrate ended with exit code 2; app needs it to complete successfully")
    );
    assert_eq!(r.state(1), State::Done { code: 1 });
    assert_eq!(r.finished(true), Some(2), "the first failure's code");
}

#[test]
fn a_waiting_note_names_each_condition() {
    let mut app = helper("app");
    app.depends_on = vec!["db".into(), "migrate".into(), "cache".into()];
    app.conditions
        .insert("migrate".into(), Condition::CompletedSuccessfully);
    let mut db = helper("db");
    db.ready_line = Some("up".into());
    let mut cache = helper("cache");
    cache.ready_line = Some("up".into());
    let mut r = Run::new(plan(vec![db, helper("migrate"), cache, app])).start();
    r.at(10.0);
    let waiting = r.records().into_iter().find(|x| x.event() == "waiting");
    let waiting = waiting.expect("a note");
    assert_eq!(
        waiting.message(),
        "app waits for db, cache to be ready and migrate to complete successfully: 10s"
    );
    let fields = waiting.fields();
    assert_eq!(fields[0].1, serde_json::json!(["db", "migrate", "cache"]));
    assert_eq!(
        fields[1].1,
        serde_json::json!(["ready", "completed_successfully", "ready"])
    );
}

// ---- restart_with ---------------------------------------------------------------------------

/// `db` (restarted always, ready on a line) and `web` depending on it, `restart_with` or not.
fn db_restarts(restart_with: bool) -> Run {
    let mut db = helper("db");
    db.restart = Restart::Always;
    db.ready_line = Some("up".into());
    let mut web = helper("web");
    web.depends_on = vec!["db".into()];
    if restart_with {
        web.restart_with = vec!["db".into()];
    }
    let mut r = Run::new(plan(vec![db, web])).start();
    r.output(0, "up");
    assert!(is_running(r.state(1)));
    r.exit(0, Exit::Code(1));
    r.take();
    r
}

#[test]
fn a_restarting_dependency_leaves_its_dependents_alone() {
    let mut r = db_restarts(false);
    r.at(1.0);
    assert_eq!(r.spawns(), [0]);
    assert!(is_running(r.state(1)));
}

#[test]
fn restart_with_stops_the_dependent_and_starts_it_once_the_dependency_is_ready_again() {
    let mut r = db_restarts(true);
    r.at(1.0);
    let done = r.take();
    assert!(done.contains(&Action::Spawn(0)));
    assert!(done.contains(&Action::Stop {
        helper: 1,
        signal: 15
    }));
    assert!(done.contains(&Action::Log(Record::RestartWith {
        helper: "web".into(),
        dependency: "db".into()
    })));
    r.exit(1, Exit::Signal(15));
    r.at(1.1);
    assert!(
        matches!(r.state(1), State::Waiting { .. }),
        "db is not ready yet"
    );
    r.output(0, "up");
    assert!(is_running(r.state(1)));
    assert_eq!(r.finished(false), None);
}
