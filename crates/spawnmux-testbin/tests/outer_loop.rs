//! A `Mux` driven by someone else's loop (mio here): its fd (`AsFd`), `next_deadline` and
//! zero-timeout waits, which never block, with a backlog, a flush timer and exit drains.
#![cfg(unix)]

mod util;

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events as MioEvents, Interest, Poll, Token};
use spawnmux::{Events, Mux, Stream};
use util::{exit_of, lines_of, Ev};

#[test]
fn mio_drives_a_mux_through_its_fd_and_deadline() {
    let mut mux = Mux::new().expect("mux");
    // Floods (several byte budgets' worth: a backlog between waits) and a partial line that
    // only a flush timer delivers.
    let flood = mux
        .spawn(&util::child(&["lines", "100000", "both"]))
        .expect("spawn");
    let mut partial = util::child(&["out", "partial", "sleep", "300"]);
    partial.flush_partial_after(Duration::from_millis(10));
    let partial = mux.spawn(&partial).expect("spawn");

    let mut poll = Poll::new().expect("poll");
    let fd = mux.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), Token(0), Interest::READABLE)
        .expect("register");
    let mut mio_events = MioEvents::with_capacity(8);
    let mut events = Events::new();
    let mut all = Vec::new();
    let deadline = Instant::now() + util::DEADLINE;
    while !mux.is_empty() {
        assert!(Instant::now() < deadline, "hangs: {mux:?}");
        let timeout = mux
            .next_deadline()
            .map(|at| at.saturating_duration_since(Instant::now()));
        poll.poll(&mut mio_events, timeout).expect("poll");
        // Never blocks, whatever the Mux holds.
        mux.wait(&mut events, Some(Duration::ZERO)).expect("wait");
        all.extend(events.iter().map(Ev::from));
    }
    assert_eq!(lines_of(&all, flood, Stream::Stdout).len(), 100000);
    assert_eq!(lines_of(&all, flood, Stream::Stderr).len(), 100000);
    assert_eq!(lines_of(&all, partial, Stream::Stdout), [b"partial"]);
    assert!(exit_of(&all, flood).success());
}

#[test]
fn an_idle_mux_has_no_deadline_and_a_zero_wait_returns_at_once() {
    let mut mux = Mux::new().expect("mux");
    assert_eq!(mux.next_deadline(), None);
    mux.spawn(&util::child(&["sleep", "60000"])).expect("spawn");
    let mut events = Events::new();
    // Nothing to report: 0 events, and back without waiting for the child.
    assert_eq!(
        mux.wait(&mut events, Some(Duration::ZERO)).expect("wait"),
        0
    );
    assert_eq!(mux.next_deadline(), None);
}
