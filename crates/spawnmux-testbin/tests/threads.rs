//! 500 children at once and the parent's thread count does not move (own test binary, so no
//! other test's threads come and go meanwhile).
#![cfg(target_os = "linux")]

mod util;

use spawnmux::{Event, Mux};

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("Threads: line")
}

fn raise_fd_limit() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let want = limit.maximum.map_or(65536, |max| max.min(65536));
    if limit.current.is_some_and(|cur| cur < want) {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(want),
                maximum: limit.maximum,
            },
        )
        .expect("raise RLIMIT_NOFILE");
    }
}

#[test]
fn five_hundred_concurrent_children_no_extra_threads() {
    raise_fd_limit();
    let mut mux = Mux::new().expect("mux");
    // Warm up: the first spawn starts spawnmux's group guard (a process, per process; the
    // spawner thread only if the guard cannot start: see `Command::die_with_parent`).
    mux.spawn(&util::child(&["exit", "0"])).expect("spawn");
    util::run_to_end(&mut mux);
    let base = threads();

    let ids: Vec<_> = (0..500)
        .map(|_| {
            mux.spawn(&util::child(&["sleep", "1500", "out", r"done\n"]))
                .expect("spawn")
        })
        .collect();
    assert_eq!(mux.running(), 500);
    let during = threads();
    let mut lines = 0;
    let mut exits = 0;
    let mut peak = during;
    util::run_until(&mut mux, |_, e| {
        match e {
            Event::Output(o) => {
                assert_eq!(o.bytes, b"done");
                lines += 1;
            }
            Event::Exited { exit, .. } => {
                assert!(exit.success());
                exits += 1;
            }
            _ => {}
        }
        peak = peak.max(threads());
        exits == ids.len()
    });
    println!("threads: {base} before, {during} with 500 children, peak {peak}");
    assert_eq!(lines, 500);
    assert_eq!(during, base);
    assert_eq!(peak, base);
}
