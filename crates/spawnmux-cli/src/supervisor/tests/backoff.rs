//! A helper's own `backoff`, with the fake clock of `tests.rs` (the [`Run`] harness).

use super::*;
use crate::spec::Backoff;

/// `a`, restarted always, waiting `initial` doubling up to `max` (seconds).
fn restarting(initial: f64, max: f64) -> Run {
    let mut a = helper("a");
    a.restart = Restart::Always;
    a.backoff = Backoff {
        initial: secs(initial),
        max: secs(max),
    };
    Run::new(plan(vec![a])).start()
}

impl Run {
    /// `a` fails at once `n` times; the delay before each restart, in seconds.
    fn delays(&mut self, n: usize) -> Vec<f64> {
        let mut delays = Vec::new();
        for _ in 0..n {
            self.exit(0, Exit::Code(1));
            let State::Backoff { until } = self.state(0) else {
                panic!("not in backoff: {:?}", self.state(0));
            };
            let d = until.duration_since(self.now).as_secs_f64();
            delays.push(d);
            self.at((until - self.t0).as_secs_f64());
            assert!(is_running(self.state(0)));
        }
        delays
    }
}

#[test]
fn a_custom_backoff_doubles_from_its_initial_up_to_its_max() {
    let mut r = restarting(0.25, 1.5);
    assert_eq!(r.delays(6), [0.25, 0.5, 1.0, 1.5, 1.5, 1.5]);
    let mut r = restarting(45.0, 60.0);
    assert_eq!(r.delays(3), [45.0, 60.0, 60.0]);
}

#[test]
fn an_initial_equal_to_max_is_a_constant_delay() {
    let mut r = restarting(2.0, 2.0);
    assert_eq!(r.delays(4), [2.0, 2.0, 2.0, 2.0]);
}

#[test]
fn a_stable_helper_starts_again_from_its_own_initial() {
    let mut r = restarting(0.5, 8.0);
    assert_eq!(r.delays(3), [0.5, 1.0, 2.0]);
    // Up for STABLE_AFTER (10 s): the next delay is `initial` again, not 4 s.
    let up = (r.now - r.t0).as_secs_f64() + 10.0;
    r.at(up);
    assert_eq!(r.delays(2), [0.5, 1.0]);
}

#[test]
fn the_restart_record_tells_the_custom_delay() {
    let mut r = restarting(0.3, 1.0);
    r.take();
    r.exit(0, Exit::Code(1));
    let recs = r.records();
    assert_eq!(recs[1].message(), "restarting a in 0.3s (attempt 1)");
}

#[test]
fn a_ctl_restart_resets_the_backoff_to_its_initial() {
    let mut r = restarting(0.5, 8.0);
    assert_eq!(r.delays(3), [0.5, 1.0, 2.0]);
    assert_eq!(r.request(0, Request::Restart, r.now), Ok(()));
    r.exit(0, Exit::Signal(15));
    r.at((r.now - r.t0).as_secs_f64() + 0.1);
    assert!(is_running(r.state(0)));
    assert_eq!(r.delays(1), [0.5]);
}
