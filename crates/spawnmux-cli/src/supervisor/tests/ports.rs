//! A start's wait for the helper's port, with the same fake clock and fake world as the
//! rest of `tests.rs` (the [`Run`] harness; `Fake::busy_ports` are the ports in use).

use super::*;
use crate::spec::Port;
use crate::supervisor::ports::{PORT_CHECK, PORT_QUIET};

/// `web` on port 5173 (`auto`: chosen by spawnmux), restarted whenever it ends (after 1 s),
/// `stop_timeout` 3 s.
fn web(auto: bool) -> RunSpec {
    let mut web = helper("web");
    web.restart = Restart::Always;
    web.stop_timeout = secs(3.0);
    web.port = Some(Port {
        number: 5173,
        auto,
        held: Default::default(),
    });
    plan(vec![web])
}

/// `web` has ended at 0.5 s with its port still in use; its backoff ends at 1.5 s.
fn ended_with_port_in_use() -> Run {
    let mut r = Run::new(web(false)).start();
    r.at(0.5);
    r.exit(0, Exit::Code(0));
    assert!(matches!(r.state(0), State::Backoff { .. }));
    r.world.busy_ports.insert(5173);
    r.take();
    r
}

/// The records among `done`.
fn logged(done: &[Action]) -> Vec<&Record> {
    let records = done.iter().filter_map(|a| match a {
        Action::Log(r) => Some(r),
        _ => None,
    });
    records.collect()
}

fn is_port_wait(s: State) -> bool {
    matches!(s, State::PortWait { port: 5173, .. })
}

#[test]
fn a_restart_waits_while_the_port_is_in_use_and_starts_once_it_is_free() {
    let mut r = ended_with_port_in_use();
    r.at(1.5);
    assert!(is_port_wait(r.state(0)));
    assert!(r.take().is_empty(), "no spawn");
    // Looked at again every PORT_CHECK.
    assert_eq!(
        r.sup.next_deadline(&r.world, r.now),
        Some(r.now + PORT_CHECK)
    );
    // Said once the wait has lasted PORT_QUIET, and only once.
    r.at(1.5 + PORT_QUIET.as_secs_f64());
    let recs = r.records();
    assert_eq!(
        recs,
        [Record::PortWait {
            helper: "web".into(),
            port: 5173
        }]
    );
    assert_eq!(recs[0].message(), "web waits for port 5173 to be free");
    assert!(!recs[0].warn());
    r.at(2.5);
    assert!(is_port_wait(r.state(0)));
    assert!(r.take().is_empty(), "no spawn, no second line");
    r.world.busy_ports.clear();
    r.at(2.55);
    assert_eq!(r.spawns(), [0]);
    assert!(is_running(r.state(0)));
}

#[test]
fn a_short_wait_is_not_said() {
    let mut r = ended_with_port_in_use();
    r.at(1.5);
    r.at(1.6);
    r.world.busy_ports.clear();
    r.at(1.65);
    let done = r.take();
    assert_eq!(done.len(), 3, "{done:?}");
    assert_eq!(done[0], Action::Spawn(0));
    let events: Vec<&str> = logged(&done).iter().map(|r| r.event()).collect();
    assert_eq!(events, ["start", "ready"]);
}

#[test]
fn a_restart_whose_port_is_free_starts_at_once() {
    let mut r = ended_with_port_in_use();
    r.world.busy_ports.clear();
    r.at(1.5);
    assert_eq!(r.spawns(), [0]);
    assert!(is_running(r.state(0)));
}

#[test]
fn after_stop_timeout_the_helper_starts_anyway_with_a_warning() {
    let mut r = ended_with_port_in_use();
    r.at(1.5);
    r.at(2.0);
    r.take();
    // The last look is due when the stop_timeout is over, not later.
    r.at(4.48);
    assert!(r.take().is_empty());
    assert_eq!(r.sup.next_deadline(&r.world, r.now), Some(r.t0 + secs(4.5)));
    r.at(4.5);
    let done = r.take();
    assert!(done.contains(&Action::Spawn(0)), "{done:?}");
    let busy: Vec<&Record> = logged(&done)
        .into_iter()
        .filter(|r| matches!(r, Record::PortBusy { .. }))
        .collect();
    assert_eq!(busy.len(), 1, "{done:?}");
    assert!(busy[0].warn());
    assert_eq!(
        busy[0].message(),
        "port 5173 is still in use after 3s: starting web anyway"
    );
    assert!(is_running(r.state(0)));
}

#[test]
fn no_wait_without_a_port() {
    let mut a = helper("a");
    a.restart = Restart::Always;
    let mut r = Run::new(plan(vec![a])).start();
    r.world.busy_ports.insert(5173);
    r.exit(0, Exit::Code(0));
    r.take();
    r.at(1.0);
    assert_eq!(r.spawns(), [0], "started when its backoff ends");
}

#[test]
fn the_first_start_of_a_numbered_port_does_not_wait() {
    let mut r = Run::new(web(false));
    r.world.busy_ports.insert(5173);
    let mut r = r.start();
    assert_eq!(r.spawns(), [0]);
}

#[test]
fn the_first_start_of_an_auto_port_lets_go_of_it_then_waits_until_it_is_free() {
    let mut r = Run::new(web(true));
    // A copy of spawnmux's holding socket, in a process forked meanwhile.
    r.world.busy_ports.insert(5173);
    let mut r = r.start();
    assert_eq!(r.take(), [Action::ReleasePort(0)]);
    assert!(is_port_wait(r.state(0)));
    r.at(0.0);
    assert!(r.take().is_empty());
    r.world.busy_ports.clear();
    r.at(0.05);
    assert_eq!(r.spawns(), [0]);
    // Its restarts wait like any, and there is nothing to let go of any more.
    r.exit(0, Exit::Code(0));
    r.take();
    r.at(1.05);
    assert!(!r.take().contains(&Action::ReleasePort(0)));
    assert!(is_running(r.state(0)));
}

#[test]
fn a_replaced_helper_waits_for_its_port_once_its_tree_is_gone() {
    let mut r = Run::new(web(false)).start();
    r.take();
    assert_eq!(r.request(0, Request::Restart, r.now), Ok(()));
    r.world.busy_ports.insert(5173);
    r.exit(0, Exit::Signal(15));
    r.at(0.1);
    assert!(is_port_wait(r.state(0)));
    assert_eq!(
        r.request(0, Request::Start, r.now),
        Err("web is starting (it waits for port 5173 to be free)".into())
    );
    assert_eq!(r.sup.status(r.now)[0].state, "port_wait");
    r.world.busy_ports.clear();
    r.at(0.2);
    assert!(is_running(r.state(0)));
}

#[test]
fn a_stop_ends_the_wait() {
    let mut r = ended_with_port_in_use();
    r.at(1.5);
    r.signal(2, Some("SIGINT"));
    assert_eq!(r.state(0), State::Done { code: 0 });
    r.at(5.0);
    assert!(r.spawns().is_empty());
    assert_eq!(r.finished(true), Some(130));
    // `spawnmux ctl stop` too.
    let mut r = ended_with_port_in_use();
    r.at(1.5);
    assert_eq!(r.request(0, Request::Stop, r.now), Ok(()));
    assert_eq!(r.state(0), State::Done { code: 0 });
}
