//! `spawnmux run` and what helpers leave behind: background children, orphans, zombies,
//! `setsid` escapees, and spawnmux as PID 1 of a container (Linux: `/proc` is the oracle).
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod util;
use util::testchild;

/// A fresh directory with `files` written in it (`TC` is the test child's path).
fn dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnmux-tree-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("src")).expect("dir");
    for (f, text) in files {
        std::fs::write(d.join(f), text.replace("TC", &testchild())).expect("write");
    }
    d
}

fn spawnmux(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spawnmux"));
    c.arg("run")
        .args(["--no-timestamps", "--color", "never"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Waits for `child` to exit, at most `limit` (a hang fails the test instead of blocking it).
fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "spawnmux did not end within {limit:?}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `/proc/PID/stat` fields: (state, ppid).
fn stat(pid: u32) -> Option<(char, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let state = f.next()?.chars().next()?;
    Some((state, f.next()?.parse().ok()?))
}

/// Live processes whose command line contains `marker`.
fn live_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(marker) && stat(pid).is_some_and(|(s, _)| s != 'Z') {
            found.push(pid);
        }
    }
    found
}

/// A sleep duration unique to this test run, so that its processes can be found.
fn marker(n: u32) -> String {
    format!("{}.{n}", 3000 + std::process::id() % 5000)
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_helper_that_leaves_a_child_behind_does_not_hang_the_run() {
    let m = marker(1);
    let d = dir(
        "leftover",
        &[(
            "spawnmux.toml",
            &format!(
                r#"
[helpers.g]
shell = "sleep {m} & echo started"
"#
            ),
        )],
    );
    let out = finish(
        spawnmux(&d, &[]).spawn().expect("spawn"),
        Duration::from_secs(60),
    );
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    let lines: Vec<&str> = log.lines().collect();
    let pos = |needle: &str| {
        lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {log}"))
    };
    assert!(pos("g        | started") < pos("g exited (exit code 0)"));
    assert!(pos("g exited (exit code 0)") < pos("g left 1 process running: stopping it"));
    assert!(live_with(&format!("sleep {m}")).is_empty(), "{log}");
}

#[test]
fn leftovers_are_stopped_before_a_restart() {
    let m = marker(2);
    let d = dir(
        "restart",
        &[(
            "spawnmux.toml",
            &format!(
                r#"
[helpers.r]
shell = "sleep {m} & echo up; exit 3"
restart = "on-failure"
max_restarts = 1
"#
            ),
        )],
    );
    let out = finish(
        spawnmux(&d, &["--format", "json"]).spawn().expect("spawn"),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let events: Vec<String> = text(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|r| {
            let e = r["event"].as_str()?.to_string();
            Some(if e == "stop" {
                format!("stop:{}", r["count"])
            } else {
                e
            })
        })
        .collect();
    assert_eq!(
        events,
        [
            "start", "ready", "exit", "restart", "stop:1", "start", "ready", "exit", "give_up",
            "stop:1"
        ],
        "{}",
        text(&out)
    );
    assert!(live_with(&format!("sleep {m}")).is_empty());
}

/// A process that left its helper's group (`setsid`) is no member to signal; whether it
/// holds the helper's output or not, the run ends and nothing of it is left running.
#[test]
fn setsid_escapees_are_stopped_when_the_run_ends() {
    let (held, quiet) = (marker(3), marker(4));
    let d = dir(
        "setsid",
        &[(
            "spawnmux.toml",
            &format!(
                r#"
[helpers.holds]
shell = "setsid sleep {held} & echo a"
stop_timeout = "1s"
[helpers.quiet]
shell = "setsid sleep {quiet} >/dev/null 2>&1 </dev/null & echo b"
"#
            ),
        )],
    );
    let out = finish(
        spawnmux(&d, &[]).spawn().expect("spawn"),
        Duration::from_secs(60),
    );
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    // Usually the escapee has left the group by then ("left a process holding its output");
    // if the stop came before its `setsid`, it was still a member ("left 1 process running").
    assert!(
        log.contains("holds left a process holding its output: stopping it")
            || log.contains("holds left 1 process running: stopping it"),
        "{log}"
    );
    assert!(live_with(&format!("sleep {held}")).is_empty(), "{log}");
    assert!(live_with(&format!("sleep {quiet}")).is_empty(), "{log}");
}

/// Zombies are not running processes: a restart in watch mode of a shell-wrapped server (the
/// shell forks the real process, which is orphaned when both get the stop signal) starts the
/// new one as soon as the old tree is gone, as a normal process and as a container's PID 1
/// (where nobody but spawnmux reaps anything).
#[test]
fn watch_restarts_of_a_shell_wrapped_helper_wait_on_no_zombie() {
    let unshare = Command::new("unshare")
        .args(["-fp", "--mount-proc", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let mut modes = vec![false];
    if unshare {
        modes.push(true);
    } else {
        eprintln!("unshare -fp --mount-proc is not available here: the PID 1 case is skipped");
    }
    for pid1 in modes {
        let d = dir(
            if pid1 { "pid1" } else { "zombies" },
            &[(
                "spawnmux.toml",
                r#"
[helpers.web]
shell = "TC out 'serving\n' sleep 600000; true"
[watch]
paths = ["src"]
restart = ["web"]
debounce = "50ms"
"#,
            )],
        );
        let mut cmd = if pid1 {
            let mut c = Command::new("unshare");
            c.args(["-fp", "--mount-proc", env!("CARGO_BIN_EXE_spawnmux")]);
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_spawnmux"))
        };
        cmd.args(["run", "--no-timestamps", "--color", "never"])
            .current_dir(&d)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let mut log = Vec::new();
        let mut wait_for = |needle: &str, log: &mut Vec<String>| loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("log ended before {needle:?}: {log:#?}"))
                .expect("line");
            log.push(line.clone());
            if line.contains(needle) {
                return;
            }
        };
        wait_for("web      | serving", &mut log);
        const RESTARTS: usize = 20;
        for n in 0..RESTARTS {
            std::fs::write(d.join("src").join(format!("f{n}")), "x").expect("write");
            wait_for("web started", &mut log);
            wait_for("web      | serving", &mut log);
        }
        // The runner (PID 1 inside the namespace) has no zombie child left.
        let runner = if pid1 {
            let unshare = child.id();
            (0..500)
                .find_map(|_| {
                    let found =
                        std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
                            .ok()
                            .and_then(|c| c.split_whitespace().next()?.parse::<u32>().ok());
                    if found.is_none() {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    found
                })
                .expect("unshare's child")
        } else {
            child.id()
        };
        std::thread::sleep(Duration::from_millis(300));
        let zombies: Vec<u32> = std::fs::read_dir("/proc")
            .expect("/proc")
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&p| stat(p) == Some(('Z', runner)))
            .collect();
        // SIGINT: a clean stop, exit code 130.
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(runner as i32).expect("pid"),
            rustix::process::Signal::INT,
        )
        .expect("SIGINT");
        for line in lines {
            log.push(line.expect("line"));
        }
        let status = child.wait().expect("wait");
        let log = log.join("\n");
        assert!(
            zombies.is_empty(),
            "pid1={pid1}: zombies {zombies:?}\n{log}"
        );
        assert!(!log.contains("still running"), "pid1={pid1}: {log}");
        assert!(!log.contains("did not go away"), "pid1={pid1}: {log}");
        assert_eq!(
            log.matches("web started").count(),
            RESTARTS + 1,
            "pid1={pid1}: {log}"
        );
        assert_eq!(
            log.matches("restarting web: files changed").count(),
            RESTARTS,
            "pid1={pid1}: each start replaced a running helper: {log}"
        );
        assert_eq!(status.code(), Some(130), "pid1={pid1}: {log}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
