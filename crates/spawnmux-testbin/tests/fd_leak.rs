//! No file descriptor is leaked over 1,000 spawns (own test binary: other tests running in
//! parallel would open and close fds of their own).
#![cfg(target_os = "linux")]

mod util;

use spawnmux::{Command, Mux, Stdio};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

#[test]
fn no_fd_leak_over_1000_spawns() {
    // Warm up: the first spawn starts spawnmux's process-wide group guard (Linux), whose socket
    // stays open for the life of the process; that is one fd per process, not per child.
    let mut mux = Mux::new().expect("mux");
    mux.spawn(&util::child(&["exit", "0"])).expect("spawn");
    util::run_to_end(&mut mux);
    drop(mux);
    let before = open_fds();
    let mut mux = Mux::new().expect("mux");
    let mut spawned = 0;
    while spawned < 1000 {
        for _ in 0..25 {
            let mut cmd = util::child(&["echo"]);
            cmd.stdin(Stdio::Capture);
            let id = mux.spawn(&cmd).expect("spawn");
            mux.write_stdin(id, b"x\n").expect("write");
            mux.close_stdin(id).expect("close");
            spawned += 1;
        }
        // A failed spawn must not leak either.
        assert!(mux
            .spawn(&Command::new("spawnmux-no-such-program-xyz"))
            .is_err());
        let evs = util::run_to_end(&mut mux);
        assert_eq!(
            evs.iter()
                .filter(|e| matches!(e, util::Ev::Exited(..)))
                .count(),
            25
        );
    }
    drop(mux);
    let after = open_fds();
    println!("open fds: {before} before, {after} after 1000 spawns");
    assert_eq!(before, after, "fds leaked");
}
