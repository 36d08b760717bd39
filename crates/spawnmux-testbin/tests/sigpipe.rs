//! Writing to the stdin of a child that is gone never kills us with SIGPIPE, even when the
//! process has SIGPIPE at its default action (own test binary: it changes a process-wide
//! setting).
#![cfg(unix)]

mod util;

use std::io;

use spawnmux::{Event, Exit, Mux, Stdio};

#[test]
fn dead_childs_stdin_gives_broken_pipe_with_sigpipe_at_default() {
    // SAFETY: setting a signal's disposition to SIG_DFL installs no handler code; the test
    // binary has no other use for SIGPIPE.
    let previous = unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    assert_ne!(previous, libc::SIG_ERR);

    let mut mux = Mux::new().expect("mux");
    let mut cmd = util::child(&["out", r"bye\n", "sleep", "100"]);
    cmd.stdin(Stdio::Capture);
    let id = mux.spawn(&cmd).expect("spawn");
    // Fill the pipe while the child lives; it exits without reading: the loop's writes hit
    // EPIPE, which must become an event, not a signal.
    mux.write_stdin(id, &vec![b'x'; 1 << 20]).expect("queue");
    let mut failed = None;
    let mut exit = None;
    util::run_until(&mut mux, |_, e| {
        match e {
            Event::StdinFailed { kind, .. } => failed = Some(kind),
            Event::Exited { exit: x, .. } => exit = Some(x),
            _ => {}
        }
        exit.is_some()
    });
    assert_eq!(failed, Some(io::ErrorKind::BrokenPipe));
    assert_eq!(exit, Some(Exit::Code(0)));

    // Deterministic EPIPE: the child is a zombie (dead, not yet reaped) when we write.
    #[cfg(target_os = "linux")]
    {
        let mut cmd = util::child(&["exit", "0"]);
        cmd.stdin(Stdio::Capture);
        let id = mux.spawn(&cmd).expect("spawn");
        let pid = mux.pid(id).expect("pid");
        let deadline = std::time::Instant::now() + util::DEADLINE;
        while !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .expect("stat")
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        {
            assert!(std::time::Instant::now() < deadline);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let err = mux.write_stdin(id, b"hello?\n").expect_err("EPIPE");
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
        let evs = util::run_to_end(&mut mux);
        assert_eq!(util::exit_of(&evs, id), Exit::Code(0));
    }
    // SAFETY: restores the previous disposition returned by the first call.
    unsafe { libc::signal(libc::SIGPIPE, previous) };
}
