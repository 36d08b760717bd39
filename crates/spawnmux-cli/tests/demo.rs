//! `spawnmux demo`, run as a user would run it.
#![cfg(target_os = "linux")]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{kill_process, Pid, Signal};

const DEADLINE: Duration = Duration::from_secs(120);

/// `[child PID][LEVEL]: Rust child pid PID writing to STREAM before sleeping N ms.`
fn parse(line: &str) -> Option<(u32, &str)> {
    let rest = line.strip_prefix("[child ")?;
    let (pid, rest) = rest.split_once("][")?;
    let (level, text) = rest.split_once("]: ")?;
    let pid: u32 = pid.parse().ok()?;
    let stream = match level {
        "info" => "stdout",
        "warning" => "stderr",
        _ => return None,
    };
    let expect = format!("Rust child pid {pid} writing to {stream} before sleeping ");
    let ms = text.strip_prefix(&expect)?.strip_suffix(" ms.")?;
    ms.parse::<u64>().ok()?;
    Some((pid, level))
}

/// No process with this pid, or only a zombie that is not our child.
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| {
            let mut f = rest.split_whitespace();
            f.next() == Some("Z") && f.next() != Some(&std::process::id().to_string())
        }),
    }
}

fn wait_gone(pids: &BTreeSet<u32>) {
    let deadline = Instant::now() + DEADLINE;
    for &pid in pids {
        while !gone(pid) {
            assert!(Instant::now() < deadline, "child {pid} survived");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn demo(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spawnmux"));
    cmd.arg("demo").args(args).stdin(Stdio::null());
    cmd
}

#[test]
fn demo_prints_every_childs_lines_then_terminates_them() {
    let out = demo(&[
        "--children",
        "3",
        "--max-sleep-ms",
        "30",
        "--duration",
        "1s",
    ])
    .output()
    .expect("run spawnmux demo");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"all child processes terminated."));
    let mut seen: BTreeMap<u32, BTreeSet<&str>> = BTreeMap::new();
    let mut terminated = BTreeSet::new();
    for line in &lines[..lines.len() - 1] {
        if let Some((pid, level)) = parse(line) {
            seen.entry(pid).or_default().insert(level);
        } else if let Some(pid) = line
            .strip_prefix("[child ")
            .and_then(|r| r.split_once("] terminated: "))
        {
            terminated.insert(pid.0.parse::<u32>().expect("pid"));
        } else {
            panic!("unexpected line {line:?}");
        }
    }
    assert_eq!(seen.len(), 3, "{text}");
    for (pid, levels) in &seen {
        assert_eq!(levels.len(), 2, "child {pid} printed only {levels:?}");
    }
    let pids: BTreeSet<u32> = seen.keys().copied().collect();
    assert_eq!(terminated, pids);
    wait_gone(&pids);
}

/// Starts the demo, reads until every child has printed a line, returns the process, the
/// reader and the children's pids.
fn start_and_collect_pids(
    children: usize,
    max_sleep_ms: u64,
) -> (
    std::process::Child,
    BufReader<std::process::ChildStdout>,
    BTreeSet<u32>,
) {
    let mut proc = demo(&[
        "--children",
        &children.to_string(),
        "--max-sleep-ms",
        &max_sleep_ms.to_string(),
    ])
    .stdout(Stdio::piped())
    .spawn()
    .expect("spawn demo");
    let mut reader = BufReader::new(proc.stdout.take().expect("stdout"));
    let mut pids = BTreeSet::new();
    let mut line = String::new();
    while pids.len() < children {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "demo ended early"
        );
        let (pid, _) = parse(line.trim_end()).expect("a child line");
        pids.insert(pid);
    }
    (proc, reader, pids)
}

#[test]
fn ctrl_c_terminates_reaps_and_reports() {
    let (mut proc, mut reader, pids) = start_and_collect_pids(3, 50);
    let pid = Pid::from_raw(proc.id() as i32).expect("pid");
    kill_process(pid, Signal::INT).expect("SIGINT");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).expect("read");
    let status = proc.wait().expect("wait");
    assert!(status.success(), "{status:?}");
    assert_eq!(
        rest.lines().last(),
        Some("all child processes terminated."),
        "{rest}"
    );
    wait_gone(&pids);
}

#[test]
fn children_die_when_spawnmux_is_killed() {
    // The children sleep up to an hour after their first line, so they do not die of a write
    // to the dead parent's pipe (EPIPE) within the test: only the group guard kills them.
    let (mut proc, reader, pids) = start_and_collect_pids(3, 3_600_000);
    drop(reader);
    let pid = Pid::from_raw(proc.id() as i32).expect("pid");
    kill_process(pid, Signal::KILL).expect("SIGKILL");
    proc.wait().expect("wait");
    wait_gone(&pids);
}
