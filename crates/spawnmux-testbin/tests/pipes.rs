//! Pipe sizes (issue 12, Linux): a captured pipe grows while its child floods it, and stays at
//! the default size while its child writes now and then. The sizes are observed from the child
//! (`report-pipe-size`: `F_GETPIPE_SZ` on its own stdout).
//!
//! The growth policy's refusal path (`EPERM` once the user's pipe-page budget is spent: keep
//! the size, stop trying, no error) is unit-tested in `spawnmux/src/sys/unix/pipe.rs`.
//! The tests here run in their own test binary: every grown pipe of a process counts against
//! one process-wide allowance, which other tests' floods would otherwise share.
#![cfg(target_os = "linux")]

mod util;

use spawnmux::{ChildId, Exit, Mux, Stream};
use util::{child, exit_of, lines_of, number_after, run_to_end, Ev};

/// Linux's default pipe size.
const DEFAULT: u32 = 64 * 1024;

/// The size the child reported on stderr.
fn reported_size(evs: &[Ev], id: ChildId) -> u32 {
    lines_of(evs, id, Stream::Stderr)
        .iter()
        .find_map(|l| number_after(l, "pipe "))
        .expect("the child reported its pipe size")
}

#[test]
fn a_flooding_childs_pipe_grows() {
    const FLOOD: u64 = 64 << 20;
    const WIDTH: usize = 1024;
    let mut mux = Mux::new().expect("mux");
    let id = mux
        .spawn(&child(&[
            "flood",
            &FLOOD.to_string(),
            "out",
            &WIDTH.to_string(),
            "report-pipe-size",
            "out",
        ]))
        .expect("spawn");
    let evs = run_to_end(&mut mux);
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
    let lines = lines_of(&evs, id, Stream::Stdout);
    assert_eq!(lines.len() as u64, FLOOD / WIDTH as u64, "lines lost");
    for (i, line) in lines.iter().enumerate() {
        assert!(
            line.starts_with(format!("flood {i}.").as_bytes()),
            "line {i}"
        );
        assert_eq!(line.len(), WIDTH - 1);
    }
    let size = reported_size(&evs, id);
    println!(
        "after a {} MiB flood the pipe holds {} KiB",
        FLOOD >> 20,
        size >> 10
    );
    assert!(size > DEFAULT, "the pipe did not grow: {size}");
}

#[test]
fn a_quiet_childs_pipe_keeps_the_default_size() {
    let mut mux = Mux::new().expect("mux");
    // A line every 2 ms, 200 times: many reads, each of one short line.
    let id = mux
        .spawn(&child(&["stamps", "200", "2", "report-pipe-size", "out"]))
        .expect("spawn");
    let evs = run_to_end(&mut mux);
    assert_eq!(exit_of(&evs, id), Exit::Code(0));
    assert_eq!(lines_of(&evs, id, Stream::Stdout).len(), 200);
    assert_eq!(reported_size(&evs, id), DEFAULT);
}
