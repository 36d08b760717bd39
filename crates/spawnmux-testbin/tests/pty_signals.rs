//! A child on a pseudo-terminal starts with the terminal's signals at their default action even
//! where its parent ignores them (a parent under `nohup`, or in the background of a
//! non-interactive shell); other children keep what they inherit, as with std and tokio.
//!
//! A test binary of its own: it makes its whole process ignore those signals, and no other
//! test should run with that.
#![cfg(unix)]

mod util;

use spawnmux::{Exit, Mux, PtySize, Stream};
use util::{child, exit_of, lines_of, run_to_end, Ev};

/// What a parent under `nohup` and in a background job of `sh -c` ignores, and more: every
/// signal the library resets for a pty child.
fn ignore_the_terminal_signals() {
    for sig in [
        libc::SIGHUP,
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
    ] {
        // SAFETY: `SIG_IGN` installs no handler; this test binary relies on none of these.
        let previous = unsafe { libc::signal(sig, libc::SIG_IGN) };
        assert_ne!(previous, libc::SIG_ERR, "signal({sig})");
    }
}

fn text(evs: &[Ev], id: spawnmux::ChildId) -> Vec<String> {
    lines_of(evs, id, Stream::Stdout)
        .into_iter()
        .map(|l| String::from_utf8(l).expect("utf-8"))
        .collect()
}

#[test]
fn a_pty_child_gets_the_terminal_signals_at_their_default_action() {
    ignore_the_terminal_signals();
    let mut mux = Mux::new().expect("mux");
    let mut on_pty = child(&["ignored-signals"]);
    on_pty.pty(PtySize::default());
    let on_pty = mux.spawn(&on_pty).expect("spawn on a pty");
    let on_pipes = mux
        .spawn(&child(&["ignored-signals"]))
        .expect("spawn on pipes");
    let evs = run_to_end(&mut mux);
    assert_eq!(text(&evs, on_pty), ["ignored none"]);
    // The rule the reset departs from: an ignored disposition survives `exec`.
    assert_eq!(
        text(&evs, on_pipes),
        ["ignored HUP,INT,QUIT,TSTP,TTIN,TTOU"]
    );
}

/// `pty.rs`'s hang-up test with SIGHUP ignored by the parent: the child's reset is what lets
/// the hang-up end the grandchild (before it, this run hung with the grandchild alive).
#[cfg(target_os = "linux")]
#[test]
fn the_hang_up_ends_the_grandchild_even_when_the_parent_ignores_sighup() {
    ignore_the_terminal_signals();
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&["grandchild", "600000"]);
    cmd.pty(PtySize::default());
    let id = mux.spawn(&cmd).expect("spawn");
    let evs = run_to_end(&mut mux);
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
    let grandchild = lines_of(&evs, id, Stream::Stdout)
        .iter()
        .find_map(|l| util::number_after(l, "grandchild "))
        .expect("grandchild pid");
    assert!(evs.contains(&Ev::Closed(id, Stream::Stdout)), "{evs:?}");
    util::wait_gone(grandchild);
}
