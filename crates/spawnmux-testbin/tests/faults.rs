//! Fault injection (issue 7): children killed mid-write, closing stdout early, never reading
//! stdin, flooding; the fd and process limits reached; signals interrupting every system call;
//! the parent SIGKILLed; a 10,000-spawn soak. Every test checks every line, the exact exit
//! status and that no process is left behind, and prints what it measured (`--nocapture`).
//!
//! Scenarios that change something process-wide (resource limits, uid, signal handlers) or
//! measure the whole process (fds, threads, RSS) run in a fresh copy of this test binary
//! ([`isolated`]), so they neither disturb nor are disturbed by the tests running beside them.
#![cfg(target_os = "linux")]

mod util;

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader};
use std::time::{Duration, Instant};

use spawnmux::{ChildId, Event, Events, Exit, Mux, Stdio, Stream};
use util::{child, exit_of, lines_of, run_to_end, run_until, Ev};

/// The environment variable that tells a copy of this binary which scenario to run.
const SCENARIO_ENV: &str = "SPAWNMUX_FAULTS_SCENARIO";

/// Runs the test `name` again in a fresh process (only it, on one test thread), where
/// `SCENARIO_ENV` is set, and checks that it passed. Returns `true` in that fresh process: the
/// caller then runs the scenario itself.
fn isolated(name: &str) -> bool {
    if std::env::var_os(SCENARIO_ENV).is_some_and(|v| v == name) {
        return true;
    }
    let out = std::process::Command::new(std::env::current_exe().expect("current_exe"))
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(SCENARIO_ENV, name)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the scenario's process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The figures the scenario printed, for this test's own output.
    for line in stdout.lines().filter_map(scenario_line) {
        println!("{line}");
    }
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "scenario {name} failed: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    false
}

/// A line the scenario printed, without what libtest prints around it (its first line follows
/// `test NAME ... ` on the same line).
fn scenario_line(line: &str) -> Option<&str> {
    let line = match line.split_once(" ... ") {
        Some((head, rest)) if head.starts_with("test ") => rest,
        _ if line.starts_with("running ") || line.starts_with("test result") => return None,
        _ => line,
    };
    (!line.is_empty() && line != "ok").then_some(line)
}

/// `CLOCK_MONOTONIC` in ns, the clock of the test child's `stamps`.
fn monotonic_ns() -> u128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    assert_eq!(rc, 0);
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn status_field(name: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{name} in /proc/self/status"))
}

fn rss_kib() -> u64 {
    status_field("VmRSS:")
}

fn threads() -> u64 {
    status_field("Threads:")
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// Every process in `/proc` as (pid, state, ppid, process group), from `/proc/PID/stat`
/// (the fields after the command name, which may itself contain `)` or spaces).
fn processes() -> Vec<(u32, String, u32, u32)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        // state ppid pgrp ...
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if let [state, ppid, pgrp, ..] = fields[..] {
            if let (Ok(ppid), Ok(pgrp)) = (ppid.parse(), pgrp.parse()) {
                all.push((pid, state.to_string(), ppid, pgrp));
            }
        }
    }
    all
}

/// Live (not zombie) processes in process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, state, _, pgrp)| *pgrp == pgid && state != "Z")
        .map(|(pid, ..)| pid)
        .collect()
}

/// Children of this process (any state).
fn our_children() -> Vec<u32> {
    let me = std::process::id();
    processes()
        .into_iter()
        .filter(|&(_, _, ppid, _)| ppid == me)
        .map(|(pid, ..)| pid)
        .collect()
}

/// Checks that a stream is the sequence `<tag> 0`, `<tag> 1`, ... (as `lines` writes it), of
/// which the last may be cut short (no newline) because the writer died. Returns the number of
/// complete lines.
fn check_sequence(evs: &[Ev], id: ChildId, stream: Stream, tag: &str) -> usize {
    let mut complete = 0;
    let mut cut = false;
    for e in evs {
        let Ev::Line {
            child,
            stream: s,
            bytes,
            newline,
            continued,
        } = e
        else {
            continue;
        };
        if *child != id || *s != stream {
            continue;
        }
        assert!(!cut, "{tag}: a piece after the cut-short last line");
        assert!(!continued, "{tag}: short lines are never continued");
        let expect = format!("{tag} {complete}");
        if *newline {
            assert_eq!(
                bytes,
                expect.as_bytes(),
                "{tag}: line {complete} lost or out of order"
            );
            complete += 1;
        } else {
            assert!(
                expect.as_bytes().starts_with(bytes),
                "{tag}: last piece {:?} is not the start of {expect:?}",
                String::from_utf8_lossy(bytes)
            );
            cut = true;
        }
    }
    complete
}

/// Runs the loop, keeping every event, until `done` holds after a whole batch (unlike
/// `util::run_until`, no event of the last batch is dropped).
fn run_collecting(mux: &mut Mux, evs: &mut Vec<Ev>, mut done: impl FnMut(&[Ev]) -> bool) {
    let deadline = Instant::now() + util::DEADLINE;
    let mut events = Events::new();
    while !done(evs) {
        assert!(Instant::now() < deadline, "hangs; {mux:?}");
        mux.wait(&mut events, Some(Duration::from_secs(1)))
            .expect("wait");
        evs.extend(events.iter().map(Ev::from));
    }
}

/// Position of the first event matching `f`.
fn position(evs: &[Ev], f: impl Fn(&Ev) -> bool) -> usize {
    evs.iter()
        .position(f)
        .unwrap_or_else(|| panic!("event not found"))
}

// ---------------------------------------------------------------------------------------------
// 1. Children killed by signals mid-write.

#[test]
fn children_killed_mid_write_deliver_all_they_wrote_and_the_signal() {
    const KILL_AFTER: usize = 20_000;
    const OTHERS_LINES: usize = 200_000;
    let mut mux = Mux::new().expect("mux");
    // Two writers that would never finish on their own, killed from outside (not through the
    // Mux) by SIGKILL and by SIGTERM (default action) while they write both streams.
    let victims: Vec<(ChildId, rustix::process::Signal)> =
        [rustix::process::Signal::KILL, rustix::process::Signal::TERM]
            .into_iter()
            .map(|sig| {
                let id = mux
                    .spawn(&child(&["lines", "1000000000", "both"]))
                    .expect("spawn");
                (id, sig)
            })
            .collect();
    let others: Vec<ChildId> = (0..3)
        .map(|_| {
            mux.spawn(&child(&["lines", &OTHERS_LINES.to_string(), "both"]))
                .expect("spawn")
        })
        .collect();
    let mut seen: HashMap<(ChildId, Stream), usize> = HashMap::new();
    let mut killed_at: HashMap<ChildId, usize> = HashMap::new();
    let mut all = Vec::new();
    let deadline = Instant::now() + util::DEADLINE;
    let mut events = Events::new();
    while !mux.is_empty() {
        assert!(Instant::now() < deadline, "hangs; {mux:?}");
        mux.wait(&mut events, Some(Duration::from_secs(1)))
            .expect("wait");
        for e in &events {
            if let Event::Output(o) = e {
                *seen.entry((o.child, o.stream)).or_default() += 1;
            }
            all.push(Ev::from(e));
        }
        for &(id, sig) in &victims {
            let out = seen.get(&(id, Stream::Stdout)).copied().unwrap_or(0);
            let err = seen.get(&(id, Stream::Stderr)).copied().unwrap_or(0);
            if !killed_at.contains_key(&id) && out >= KILL_AFTER && err >= KILL_AFTER {
                let pid = mux.pid(id).expect("still running");
                rustix::process::kill_process(
                    rustix::process::Pid::from_raw(pid as i32).expect("pid"),
                    sig,
                )
                .expect("kill");
                killed_at.insert(id, out + err);
            }
        }
    }
    for (i, &(id, sig)) in victims.iter().enumerate() {
        let out = check_sequence(&all, id, Stream::Stdout, "out");
        let err = check_sequence(&all, id, Stream::Stderr, "err");
        assert!(out + err >= killed_at[&id], "lines lost");
        assert_eq!(exit_of(&all, id), Exit::Signal(sig.as_raw()));
        // Both streams reached EOF: nothing the child wrote was left in the pipe; and `Exited`
        // came after every line.
        let exited = position(&all, |e| matches!(e, Ev::Exited(c, _) if *c == id));
        for s in [Stream::Stdout, Stream::Stderr] {
            let closed = position(&all, |e| *e == Ev::Closed(id, s));
            let last_line = all
                .iter()
                .rposition(
                    |e| matches!(e, Ev::Line { child, stream, .. } if *child == id && *stream == s),
                )
                .expect("lines");
            assert!(
                last_line < closed && closed < exited,
                "order for victim {i}"
            );
        }
        println!(
            "victim {i} (signal {}): {out} stdout + {err} stderr lines delivered, killed after {}",
            sig.as_raw(),
            killed_at[&id]
        );
    }
    for &id in &others {
        assert_eq!(
            check_sequence(&all, id, Stream::Stdout, "out"),
            OTHERS_LINES
        );
        assert_eq!(
            check_sequence(&all, id, Stream::Stderr, "err"),
            OTHERS_LINES
        );
        assert_eq!(exit_of(&all, id), Exit::Code(0));
    }
    println!(
        "3 siblings: {OTHERS_LINES} lines on each stream, exit 0; {} events in all",
        all.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 2. A child closing stdout early and running on.

#[test]
fn child_closing_stdout_early_runs_on_and_writes_stderr() {
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&[
        "out",
        r"before\n",
        "close-out",
        "lines",
        "1000",
        "err",
        "wait-eof",
        "err",
        r"bye\n",
        "exit",
        "5",
    ]);
    cmd.stdin(Stdio::Capture);
    let id = mux.spawn(&cmd).expect("spawn");
    let pid = mux.pid(id).expect("pid");
    let mut evs = Vec::new();
    run_collecting(&mut mux, &mut evs, |evs| {
        evs.contains(&Ev::Closed(id, Stream::Stdout))
            && lines_of(evs, id, Stream::Stderr).len() == 1000
    });
    // stdout has ended, stderr is still being written, and the child is running (blocked
    // reading stdin): no exit was reported, it is no zombie.
    assert!(!evs.iter().any(|e| matches!(e, Ev::Exited(..))), "{evs:?}");
    assert_eq!(mux.running(), 1);
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let state = state.rsplit_once(')').expect("stat").1.trim_start();
    assert!(!state.starts_with('Z'), "child is a zombie: {state}");
    // Quiet for a while: nothing else arrives while it runs on.
    let mut events = Events::new();
    let n = mux
        .wait(&mut events, Some(Duration::from_millis(200)))
        .expect("wait");
    assert_eq!(n, 0, "unexpected events while the child waits");
    assert_eq!(mux.running(), 1);

    mux.close_stdin(id).expect("close stdin");
    evs.extend(run_to_end(&mut mux));
    assert_eq!(lines_of(&evs, id, Stream::Stdout), [b"before".to_vec()]);
    let err = lines_of(&evs, id, Stream::Stderr);
    assert_eq!(err.len(), 1001);
    for (i, line) in err[..1000].iter().enumerate() {
        assert_eq!(line, format!("err {i}").as_bytes());
    }
    assert_eq!(err[1000], b"bye");
    assert_eq!(exit_of(&evs, id), Exit::Code(5));
    let closed_out = position(&evs, |e| *e == Ev::Closed(id, Stream::Stdout));
    let closed_err = position(&evs, |e| *e == Ev::Closed(id, Stream::Stderr));
    let exited = position(&evs, |e| matches!(e, Ev::Exited(..)));
    assert!(closed_out < closed_err && closed_err < exited, "{evs:?}");
    util::wait_gone(pid);
    println!(
        "Closed(stdout) at event {closed_out}, then 1000 stderr lines while running, \
         Closed(stderr) at {closed_err}, Exited(5) at {exited}"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. A child that never reads the stdin we fill.

#[test]
fn child_never_reading_stdin_blocks_nothing_and_unsent_bytes_are_reported() {
    if !isolated("child_never_reading_stdin_blocks_nothing_and_unsent_bytes_are_reported") {
        return;
    }
    const TOTAL: usize = 64 << 20;
    const ECHOERS: usize = 4;
    const LINES: usize = 2000;
    let mut mux = Mux::new().expect("mux");
    let mut cmd = child(&["out", r"ready\n", "sleep", "600000"]);
    cmd.stdin(Stdio::Capture);
    let sleeper = mux.spawn(&cmd).expect("spawn");
    let echoers: Vec<ChildId> = (0..ECHOERS)
        .map(|_| {
            let mut cmd = child(&["echo"]);
            cmd.stdin(Stdio::Capture);
            mux.spawn(&cmd).expect("spawn")
        })
        .collect();
    let rss_before = rss_kib();
    let data = vec![b'x'; TOTAL];
    let started = Instant::now();
    mux.write_stdin(sleeper, &data).expect("queue");
    let queue_time = started.elapsed();
    drop(data);
    let queued = mux.stdin_queued(sleeper);
    let accepted = TOTAL - queued;
    assert!(
        accepted > 0 && accepted <= 1 << 20,
        "the pipe took {accepted} bytes"
    );
    // Our own copy is gone: what is left is the Mux's queue.
    let rss_queued = rss_kib();

    // The loop serves the echoing children while 64 MiB wait for the sleeper.
    for (c, &id) in echoers.iter().enumerate() {
        let text: String = (0..LINES).map(|i| format!("echo {c} {i}\n")).collect();
        mux.write_stdin(id, text.as_bytes()).expect("write");
        mux.close_stdin(id).expect("close");
    }
    let mut evs = Vec::new();
    let mut exits = 0;
    let mut rounds = 0;
    let mut events = Events::new();
    let deadline = Instant::now() + util::DEADLINE;
    while exits < ECHOERS {
        assert!(Instant::now() < deadline, "hangs; {mux:?}");
        mux.wait(&mut events, Some(Duration::from_secs(1)))
            .expect("wait");
        rounds += 1;
        for e in &events {
            if matches!(e, Event::Exited { .. }) {
                exits += 1;
            }
            evs.push(Ev::from(e));
        }
    }
    assert_eq!(
        mux.stdin_queued(sleeper),
        queued,
        "the sleeper read nothing"
    );
    assert_eq!(mux.running(), 1);
    mux.terminate(sleeper).expect("terminate");
    evs.extend(run_to_end(&mut mux));
    for (c, &id) in echoers.iter().enumerate() {
        let got = lines_of(&evs, id, Stream::Stdout);
        assert_eq!(got.len(), LINES);
        for (i, line) in got.iter().enumerate() {
            assert_eq!(line, format!("echo {c} {i}").as_bytes());
        }
        assert_eq!(exit_of(&evs, id), Exit::Code(0));
    }
    assert_eq!(lines_of(&evs, sleeper, Stream::Stdout), [b"ready".to_vec()]);
    let failed: Vec<&Ev> = evs
        .iter()
        .filter(|e| matches!(e, Ev::StdinFailed(..)))
        .collect();
    assert_eq!(
        failed,
        [&Ev::StdinFailed(sleeper, io::ErrorKind::BrokenPipe, queued)]
    );
    assert_eq!(exit_of(&evs, sleeper), Exit::Signal(libc::SIGTERM));
    let rss_after = rss_kib();
    println!(
        "write_stdin of {} MiB returned in {queue_time:?}: pipe took {accepted} B, {queued} B queued",
        TOTAL >> 20
    );
    println!(
        "RSS {rss_before} KiB before, {rss_queued} KiB queued (+{} KiB), {rss_after} KiB after the exit",
        rss_queued.saturating_sub(rss_before)
    );
    println!(
        "{ECHOERS} echoing children: {LINES} lines each round-tripped in {rounds} wait rounds meanwhile; \
         StdinFailed(BrokenPipe, unsent {queued}), Exited(SIGTERM)"
    );
    // The queue is the only copy the Mux keeps (no more than the queued bytes, + slack for the
    // allocator and the echoes), and it is freed when the child is gone.
    let slack = 8 << 10;
    assert!(
        rss_queued <= rss_before + (queued as u64 >> 10) + slack,
        "RSS grew more than the queue"
    );
    assert!(rss_after <= rss_before + slack, "the queue was not freed");
}

// ---------------------------------------------------------------------------------------------
// 4. One child floods a stream while slow children write now and then.

#[test]
fn flooding_child_does_not_starve_slow_children() {
    const FLOOD: u64 = 256 << 20;
    const WIDTH: usize = 1024;
    const SLOW: usize = 3;
    let mut mux = Mux::new().expect("mux");
    // Slow children: a time-stamped line every 2 ms until terminated.
    let slow: Vec<ChildId> = (0..SLOW)
        .map(|_| {
            mux.spawn(&child(&["stamps", "1000000", "2"]))
                .expect("spawn")
        })
        .collect();
    let mut warm_up = Vec::new();
    run_collecting(&mut mux, &mut warm_up, |evs| {
        slow.iter()
            .all(|&id| !lines_of(evs, id, Stream::Stdout).is_empty())
    });
    // Lines seen per slow child: the index of its next stamp.
    let slow_seen: HashMap<ChildId, u64> = slow
        .iter()
        .map(|&id| (id, lines_of(&warm_up, id, Stream::Stdout).len() as u64))
        .collect();
    let flooder = mux
        .spawn(&child(&[
            "pipe-size",
            "1048576",
            "out",
            "flood",
            &FLOOD.to_string(),
            "out",
            &WIDTH.to_string(),
        ]))
        .expect("spawn");

    // Per wait round: when it was called, flood bytes it delivered.
    let mut round_start: Vec<u128> = Vec::new();
    let mut round_flood: Vec<u64> = Vec::new();
    // Per slow line during the flood: (stamp, round delivered).
    let mut slow_lines: Vec<(ChildId, u128, usize)> = Vec::new();
    let mut next_stamp: HashMap<ChildId, u64> = HashMap::new();
    let mut flood_lines = 0u64;
    let mut flood_bytes = 0u64;
    let mut flood_first_round = None;
    let mut flood_closed_round = None;
    let mut flood_exit_round = None;
    let mut exits: HashMap<ChildId, Exit> = HashMap::new();
    let mut events = Events::new();
    let deadline = Instant::now() + util::DEADLINE;
    let started = Instant::now();
    while !mux.is_empty() {
        assert!(Instant::now() < deadline, "hangs; {mux:?}");
        let round = round_start.len();
        round_start.push(monotonic_ns());
        mux.wait(&mut events, Some(Duration::from_secs(1)))
            .expect("wait");
        let mut bytes_this_round = 0;
        for e in &events {
            match e {
                Event::Output(o) if o.child == flooder => {
                    assert_eq!(o.stream, Stream::Stdout);
                    assert!(o.newline && !o.continued, "flood line cut");
                    let head = format!("flood {flood_lines}");
                    assert!(
                        o.bytes.len() == WIDTH - 1
                            && o.bytes.starts_with(head.as_bytes())
                            && o.bytes[head.len()..].iter().all(|&b| b == b'.'),
                        "flood line {flood_lines} wrong: {:?}",
                        String::from_utf8_lossy(&o.bytes[..40.min(o.bytes.len())])
                    );
                    flood_lines += 1;
                    bytes_this_round += WIDTH as u64;
                    flood_first_round.get_or_insert(round);
                }
                Event::Output(o) => {
                    let text = o.text();
                    let mut parts = text.split(' ');
                    assert_eq!(parts.next(), Some("stamp"), "{text}");
                    let i: u64 = parts.next().and_then(|n| n.parse().ok()).expect("index");
                    let ns: u128 = parts.next().and_then(|n| n.parse().ok()).expect("stamp");
                    let next = next_stamp.entry(o.child).or_insert(slow_seen[&o.child]);
                    assert_eq!(i, *next, "slow line lost");
                    *next += 1;
                    if flood_first_round.is_some() && flood_closed_round.is_none() {
                        slow_lines.push((o.child, ns, round));
                    }
                }
                Event::Closed { child, stream, .. }
                    if child == flooder && stream == Stream::Stdout =>
                {
                    flood_closed_round = Some(round);
                }
                Event::Exited { child, exit, .. } => {
                    exits.insert(child, exit);
                    if child == flooder {
                        flood_exit_round = Some(round);
                        for &id in &slow {
                            mux.terminate(id).expect("terminate");
                        }
                    }
                }
                _ => {}
            }
        }
        flood_bytes += bytes_this_round;
        round_flood.push(bytes_this_round);
    }
    let elapsed = started.elapsed();
    assert_eq!(flood_bytes, FLOOD, "flood bytes lost");
    assert_eq!(flood_lines, FLOOD / WIDTH as u64);
    assert_eq!(exits[&flooder], Exit::Code(0));
    for id in &slow {
        assert_eq!(exits[id], Exit::Signal(libc::SIGTERM));
    }
    let (first, closed) = (
        flood_first_round.expect("flood began"),
        flood_closed_round.expect("flood ended"),
    );
    let flood_rounds = closed - first + 1;
    // The flood bytes of each round but the one of the flooder's exit (which reads
    // everything left in its pipe, so that `Exited` follows all of it).
    let exit_round = flood_exit_round.expect("flooder exited");
    let max_round = round_flood
        .iter()
        .enumerate()
        .filter(|&(r, _)| r != exit_round)
        .map(|(_, &b)| b)
        .max()
        .expect("rounds");

    // Lag of each slow line: wait rounds that began after it was written and did not deliver
    // it, and the flood bytes those rounds delivered instead.
    let mut lag_rounds = Vec::new();
    let mut lag_bytes = Vec::new();
    for &(_, stamp, delivered) in &slow_lines {
        let from = round_start.partition_point(|&t| t <= stamp);
        let missed = delivered.saturating_sub(from);
        lag_rounds.push(missed);
        lag_bytes.push(
            round_flood[from.min(delivered)..delivered]
                .iter()
                .sum::<u64>(),
        );
    }
    lag_rounds.sort_unstable();
    lag_bytes.sort_unstable();
    let pct = |v: &[usize], p: usize| v[(v.len() - 1) * p / 100];
    let pct_b = |v: &[u64], p: usize| v[(v.len() - 1) * p / 100];
    let per_slow: Vec<usize> = slow
        .iter()
        .map(|id| slow_lines.iter().filter(|l| l.0 == *id).count())
        .collect();
    let rounds_with_slow = {
        let mut r: Vec<usize> = slow_lines.iter().map(|l| l.2).collect();
        r.dedup();
        r.len()
    };
    println!(
        "flood: {} MiB in {} lines over {flood_rounds} wait rounds ({elapsed:?}); at most {} KiB per round, {} KiB in the round of its exit",
        FLOOD >> 20,
        flood_lines,
        max_round >> 10,
        round_flood[exit_round] >> 10
    );
    println!(
        "slow children during the flood: {per_slow:?} lines, in {rounds_with_slow} of the {flood_rounds} rounds"
    );
    println!(
        "slow line lag in rounds: p50 {} p90 {} p99 {} max {}; in flood bytes: p50 {} p90 {} max {} KiB",
        pct(&lag_rounds, 50),
        pct(&lag_rounds, 90),
        pct(&lag_rounds, 99),
        lag_rounds.last().expect("lags"),
        pct_b(&lag_bytes, 50) >> 10,
        pct_b(&lag_bytes, 90) >> 10,
        lag_bytes.last().expect("lags") >> 10
    );
    // The bounds: no round gives the flooder more than its budget (256 KiB per stream per wait,
    // in one read from its 1 MiB pipe, plus the line carried over from the previous round)
    // although the pipe holds more (the drain after its exit gets the same budget per round); every slow child got lines through while the flood lasted, and at least 90%
    // of slow lines arrived in the first round that began after they were written or the next
    // (a line misses more only when its writer is preempted between taking the time stamp and
    // writing).
    assert!(
        max_round <= (256 << 10) + WIDTH as u64,
        "a round delivered {max_round} flood bytes"
    );
    assert!(
        per_slow.iter().all(|&n| n > 0),
        "slow children starved: {per_slow:?}"
    );
    assert!(pct(&lag_rounds, 90) <= 2, "slow lines wait for the flood");
}

// ---------------------------------------------------------------------------------------------
// 5. Resource exhaustion: the fd limit, the process limit.

/// Children that write a numbered line every 5 ms for half a second, then exit 0.
fn steady_children(mux: &mut Mux, n: usize) -> (Vec<ChildId>, Vec<Ev>) {
    let ids: Vec<ChildId> = (0..n)
        .map(|_| mux.spawn(&child(&["stamps", "100", "5"])).expect("spawn"))
        .collect();
    // Running and writing before the fault.
    let mut evs = Vec::new();
    run_collecting(mux, &mut evs, |evs| {
        ids.iter()
            .all(|&id| !lines_of(evs, id, Stream::Stdout).is_empty())
    });
    (ids, evs)
}

/// Checks that each steady child delivered its 100 lines in order and exited 0; returns how
/// many lines in all arrived after event `mark`.
fn check_steady(evs: &[Ev], ids: &[ChildId], mark: usize) -> usize {
    for &id in ids {
        let lines = lines_of(evs, id, Stream::Stdout);
        assert_eq!(lines.len(), 100, "lines lost");
        for (i, line) in lines.iter().enumerate() {
            assert!(line.starts_with(format!("stamp {i} ").as_bytes()));
        }
        assert_eq!(exit_of(evs, id), Exit::Code(0));
    }
    evs[mark..]
        .iter()
        .filter(|e| matches!(e, Ev::Line { .. }))
        .count()
}

fn set_soft_limit(resource: rustix::process::Resource, soft: Option<u64>) {
    let limit = rustix::process::getrlimit(resource);
    rustix::process::setrlimit(
        resource,
        rustix::process::Rlimit {
            current: soft,
            maximum: limit.maximum,
        },
    )
    .expect("setrlimit");
}

#[test]
fn fd_limit_reached_spawn_fails_clearly_and_others_run_on() {
    use rustix::process::Resource;
    if !isolated("fd_limit_reached_spawn_fails_clearly_and_others_run_on") {
        return;
    }
    let program = env!("CARGO_BIN_EXE_spawnmux-testchild");
    let original = rustix::process::getrlimit(Resource::Nofile).current;
    let mut mux = Mux::new().expect("mux");
    let (others, mut evs) = steady_children(&mut mux, 3);
    let other_pids: Vec<u32> = others.iter().filter_map(|&id| mux.pid(id)).collect();
    let fds_before = open_fds();
    // The lowest free fd: with the soft limit there, no fd can be opened at all.
    let lowest = {
        let probe = std::fs::File::open("/dev/null").expect("open");
        std::os::fd::AsRawFd::as_raw_fd(&probe) as u64
    };
    // Allow 0, 1, 2, ... fds more, so that each fd a spawn needs (stdin/stdout/stderr pipes,
    // std's exec-error pipe, the pidfd) is the one refused in turn, until a spawn succeeds.
    let mut failures = Vec::new();
    let mut late = None;
    for extra in 0..64 {
        let mut cmd = child(&["out", r"late\n"]);
        cmd.stdin(Stdio::Capture);
        set_soft_limit(Resource::Nofile, Some(lowest + extra));
        let result = mux.spawn(&cmd);
        set_soft_limit(Resource::Nofile, original);
        match result {
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(program) && msg.contains("Too many open files"),
                    "unclear error: {msg}"
                );
                assert_eq!(e.raw_os_error(), None, "context added: {msg}");
                // Nothing left behind: no fd, no child.
                assert_eq!(open_fds(), fds_before, "a failed spawn leaked an fd");
                let mut children = our_children();
                children.retain(|p| !other_pids.contains(p));
                assert_eq!(children, [] as [u32; 0], "a failed spawn left a child");
                failures.push((extra, msg));
            }
            Ok(id) => {
                late = Some((extra, id));
                break;
            }
        }
    }
    let (late_extra, late) = late.expect("a spawn succeeds once enough fds are allowed");
    assert!(!failures.is_empty());
    // The siblings run on to the end with no fd to spare: the loop needs none.
    let mark = evs.len();
    set_soft_limit(Resource::Nofile, Some(lowest));
    let rest = run_to_end(&mut mux);
    set_soft_limit(Resource::Nofile, original);
    evs.extend(rest);
    let after = check_steady(&evs, &others, mark);
    assert_eq!(lines_of(&evs, late, Stream::Stdout), [b"late".to_vec()]);
    assert_eq!(exit_of(&evs, late), Exit::Code(0));
    drop(mux);
    assert_eq!(our_children(), [] as [u32; 0]);
    for (extra, msg) in &failures {
        println!(
            "{extra} fds allowed: {}",
            msg.replace(program, "<testchild>")
        );
    }
    println!(
        "{late_extra} fds allowed: spawned; 3 siblings delivered all 100 lines each ({after} lines \
         after the failures, with the limit at the lowest free fd) and exit 0; no fd or child leaked"
    );
}

/// The uid and gid of `nobody`.
const NOBODY: libc::uid_t = 65534;

/// A copy of the test child that another user can run wherever the checkout is: in a fresh
/// directory under the temporary directory, owned by that user (so it can remove the copy
/// after dropping to it), mode 0755 down from `/`. Removed on drop.
struct ChildCopy {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl ChildCopy {
    fn for_user(uid: libc::uid_t) -> ChildCopy {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!(
            "spawnmux-faults-{}-{}",
            std::process::id(),
            monotonic_ns()
        ));
        std::fs::create_dir(&dir).expect("create the copy's directory");
        let path = dir.join("spawnmux-testchild");
        std::fs::copy(env!("CARGO_BIN_EXE_spawnmux-testchild"), &path).expect("copy the child");
        for (p, mode) in [(&dir, 0o755), (&path, 0o755)] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
            std::os::unix::fs::chown(p, Some(uid), Some(uid)).expect("chown");
        }
        let copy = ChildCopy { dir, path };
        // Every directory above must let the user through.
        for ancestor in copy.dir.ancestors().skip(1) {
            let mode = std::fs::metadata(ancestor)
                .expect("stat")
                .permissions()
                .mode();
            assert!(
                mode & 0o001 != 0,
                "{} is not searchable by others: set TMPDIR to a directory that is",
                ancestor.display()
            );
        }
        copy
    }
}

impl Drop for ChildCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn process_limit_reached_spawn_fails_with_eagain_and_others_run_on() {
    use rustix::process::Resource;
    if !isolated("process_limit_reached_spawn_fails_with_eagain_and_others_run_on") {
        return;
    }
    // RLIMIT_NPROC does not bind root (nor CAP_SYS_RESOURCE / CAP_SYS_ADMIN): as root, become
    // `nobody` first (which drops every capability). glibc's set*id apply to every thread,
    // spawnmux's threads included. The children spawned before stay root's and run on.
    // `nobody` may not reach the test child where Cargo built it (a root's checkout in a 0700
    // directory, as `mktemp -d` makes): it runs a copy in a directory of its own instead, made
    // before any fork (a fork while the copy is open for writing would make its exec ETXTBSY).
    let was_root = rustix::process::getuid().is_root();
    let copy = was_root.then(|| ChildCopy::for_user(NOBODY));
    let mut mux = Mux::new().expect("mux");
    let (others, mut evs) = steady_children(&mut mux, 3);
    let program = match &copy {
        Some(copy) => copy.path.to_str().expect("a UTF-8 temporary path"),
        None => env!("CARGO_BIN_EXE_spawnmux-testchild"),
    };
    let child = |ops: &[&str]| {
        let mut cmd = spawnmux::Command::new(program);
        cmd.args(ops);
        cmd
    };
    if was_root {
        // SAFETY: plain system calls with valid arguments (an empty group list).
        unsafe {
            assert_eq!(libc::setgroups(0, std::ptr::null()), 0, "setgroups");
            assert_eq!(libc::setgid(NOBODY), 0, "setgid");
            assert_eq!(libc::setuid(NOBODY), 0, "setuid");
        }
    }
    // Our uid has at least one process (this one): a limit of 0 refuses every fork.
    set_soft_limit(Resource::Nproc, Some(0));
    let mut errors = Vec::new();
    for die_with_parent in [true, false] {
        // true: posix_spawn, then registration with the group guard; false: posix_spawn only.
        let mut cmd = child(&["out", r"never\n"]);
        cmd.die_with_parent(die_with_parent);
        let e = mux.spawn(&cmd).expect_err("fork must fail");
        let msg = e.to_string();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "{msg}");
        assert!(
            msg.contains(program) && msg.contains("Resource temporarily unavailable"),
            "unclear error: {msg}"
        );
        errors.push(msg);
    }
    let mark = evs.len();
    evs.extend(run_to_end(&mut mux));
    let after = check_steady(&evs, &others, mark);
    // With the limit back, spawning works again.
    set_soft_limit(
        Resource::Nproc,
        rustix::process::getrlimit(Resource::Nproc).maximum,
    );
    let again = mux.spawn(&child(&["out", r"again\n"])).expect("spawn");
    let rest = run_to_end(&mut mux);
    assert_eq!(lines_of(&rest, again, Stream::Stdout), [b"again".to_vec()]);
    assert_eq!(exit_of(&rest, again), Exit::Code(0));
    assert_eq!(our_children(), [] as [u32; 0]);
    for msg in &errors {
        println!(
            "RLIMIT_NPROC 0{}: {}",
            if was_root { " as nobody" } else { "" },
            msg.replace(program, "<testchild>")
        );
    }
    println!(
        "3 siblings delivered all 100 lines each ({after} after the failures) and exit 0; \
         spawning works again once the limit is raised"
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Signals interrupting system calls everywhere (EINTR).

static USR1_HANDLED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

extern "C" fn on_usr1(_: libc::c_int) {
    USR1_HANDLED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

#[test]
fn signals_during_spawn_io_and_shutdown_cause_no_error() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    if !isolated("signals_during_spawn_io_and_shutdown_cause_no_error") {
        return;
    }
    const ECHOERS: usize = 200;
    const LINES: usize = 20;
    const STOPPED: usize = 20;
    // A handler without SA_RESTART: every blocking system call it interrupts fails with EINTR.
    // SAFETY: `sa` is fully initialised (zeroed, then the handler, no flags, an empty mask);
    // the handler only increments an atomic, which is async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_usr1 as extern "C" fn(libc::c_int) as usize;
        sa.sa_flags = 0;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
    // Fire SIGUSR1 at every other thread of this process (the test's) over
    // and over, until the scenario ends.
    let stop = Arc::new(AtomicBool::new(false));
    let firing = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let me = rustix::thread::gettid().as_raw_nonzero().get();
            let pid = std::process::id() as libc::pid_t;
            let mut sent = 0usize;
            while !stop.load(Ordering::Relaxed) {
                for tid in std::fs::read_dir("/proc/self/task")
                    .expect("task")
                    .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<libc::pid_t>().ok())
                    .filter(|&t| t != me)
                {
                    // SAFETY: tgkill with our own pid, one of our thread ids and a signal whose
                    // handler is installed above; a thread that just ended gives ESRCH.
                    if unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR1) } == 0 {
                        sent += 1;
                    }
                }
                std::thread::sleep(Duration::from_micros(100));
            }
            sent
        })
    };
    let started = Instant::now();
    let mut mux = Mux::new().expect("mux");
    let echoers: Vec<ChildId> = (0..ECHOERS)
        .map(|_| {
            let mut cmd = child(&["echo"]);
            cmd.stdin(Stdio::Capture);
            mux.spawn(&cmd).expect("spawn under signals")
        })
        .collect();
    for (c, &id) in echoers.iter().enumerate() {
        let text: String = (0..LINES).map(|i| format!("{c} {i}\n")).collect();
        mux.write_stdin(id, text.as_bytes()).expect("write_stdin");
        mux.close_stdin(id).expect("close_stdin");
    }
    let evs = run_to_end(&mut mux);
    for (c, &id) in echoers.iter().enumerate() {
        let got = lines_of(&evs, id, Stream::Stdout);
        let want: Vec<Vec<u8>> = (0..LINES)
            .map(|i| format!("{c} {i}").into_bytes())
            .collect();
        assert_eq!(got, want);
        assert_eq!(exit_of(&evs, id), Exit::Code(0));
    }
    let handled_io = USR1_HANDLED.load(Ordering::Relaxed);
    // Shutdown under signals: half stop at SIGTERM, half ignore it and are killed.
    let polite: Vec<ChildId> = (0..STOPPED)
        .map(|_| mux.spawn(&child(&["forever", "10"])).expect("spawn"))
        .collect();
    let stubborn: Vec<ChildId> = (0..STOPPED)
        .map(|_| {
            mux.spawn(&child(&["ignore-term", "forever", "10"]))
                .expect("spawn")
        })
        .collect();
    let mut ready = std::collections::HashSet::new();
    run_until(&mut mux, |_, e| {
        if let Event::Output(o) = e {
            ready.insert(o.child);
        }
        ready.len() == 2 * STOPPED
    });
    let mut exits = HashMap::new();
    mux.shutdown(Duration::from_millis(500), |e| {
        if let Event::Exited { child, exit, .. } = e {
            exits.insert(child, exit);
        }
    })
    .expect("shutdown under signals");
    stop.store(true, Ordering::Relaxed);
    let sent = firing.join().expect("firing thread");
    for id in &polite {
        assert_eq!(exits[id], Exit::Signal(libc::SIGTERM));
    }
    for id in &stubborn {
        assert_eq!(exits[id], Exit::Signal(libc::SIGKILL));
    }
    assert!(mux.is_empty());
    drop(mux);
    assert_eq!(our_children(), [] as [u32; 0]);
    let handled = USR1_HANDLED.load(Ordering::Relaxed);
    println!(
        "{sent} SIGUSR1 (no SA_RESTART) sent to the other threads in {:?}, {handled} handled \
         ({handled_io} during {ECHOERS} spawns + stdin round trips of {LINES} lines each); \
         shutdown of {} children: {STOPPED} SIGTERM, {STOPPED} SIGKILL; no error",
        started.elapsed(),
        2 * STOPPED
    );
    assert!(handled_io >= 100, "too few signals to mean anything");
}

// ---------------------------------------------------------------------------------------------
// 7. The parent SIGKILLed.

#[test]
fn sigkilled_parent_leaves_no_process_group_behind() {
    const NAME: &str = "sigkilled_parent_leaves_no_process_group_behind";
    const CHILDREN: usize = 4;
    if std::env::var_os(SCENARIO_ENV).is_some_and(|v| v == NAME) {
        // The parent to be killed: children each with a grandchild in its process group.
        let mut mux = Mux::new().expect("mux");
        // First a child that comes and goes, and a spawn that fails after its fork (exec of a
        // missing program): the guard must forget both groups.
        mux.spawn(&child(&["exit", "0"])).expect("spawn");
        // The first spawn started the guard: its pid is known at once.
        let guard = spawnmux::os::unix::group_guard_pid().expect("the guard's pid");
        println!("guard {guard}");
        run_to_end(&mut mux);
        assert!(mux
            .spawn(&spawnmux::Command::new("spawnmux-no-such-program-xyz"))
            .is_err());
        for _ in 0..CHILDREN {
            mux.spawn(&child(&["pid", "grandchild", "600000", "sleep", "600000"]))
                .expect("spawn");
        }
        // Per child: its pid (the first `pid` line), its grandchild's (which prints `pid` too
        // once it runs), and how many `pid` lines came.
        let mut pids: HashMap<ChildId, (Option<u32>, Option<u32>, usize)> = HashMap::new();
        run_until(&mut mux, |_, e| {
            if let Event::Output(o) = e {
                let entry = pids.entry(o.child).or_default();
                if let Some(p) = util::number_after(o.bytes, "pid ") {
                    entry.0.get_or_insert(p);
                    entry.2 += 1;
                }
                if let Some(p) = util::number_after(o.bytes, "grandchild ") {
                    entry.1 = Some(p);
                }
            }
            pids.len() == CHILDREN && pids.values().all(|(_, g, n)| g.is_some() && *n == 2)
        });
        for (child, grandchild, _) in pids.values() {
            println!(
                "group {} {}",
                child.expect("pid"),
                grandchild.expect("grandchild")
            );
        }
        println!("ready");
        // Wait to be killed (bounded, so that a failed test does not leave us behind).
        let deadline = Instant::now() + util::DEADLINE;
        let mut events = Events::new();
        while Instant::now() < deadline {
            mux.wait(&mut events, Some(Duration::from_secs(1)))
                .expect("wait");
        }
        return;
    }
    let mut parent = std::process::Command::new(std::env::current_exe().expect("current_exe"))
        .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(SCENARIO_ENV, NAME)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the parent");
    let mut groups = Vec::new();
    let mut grandchildren = Vec::new();
    let mut guard = None;
    for line in BufReader::new(parent.stdout.take().expect("stdout")).lines() {
        let line = line.expect("read");
        let Some(line) = scenario_line(&line) else {
            continue;
        };
        if let Some(pid) = line.strip_prefix("guard ") {
            guard = Some(pid.parse::<u32>().expect("guard pid"));
        } else if let Some(rest) = line.strip_prefix("group ") {
            let (g, gc) = rest.split_once(' ').expect("group line");
            groups.push(g.parse::<u32>().expect("pgid"));
            grandchildren.push(gc.parse::<u32>().expect("pid"));
        } else if line == "ready" {
            break;
        }
    }
    assert_eq!(groups.len(), CHILDREN, "the parent did not get ready");
    // `group_guard_pid` names the guard: a process called `spawnmux-guard` (it names itself a
    // moment after it starts), gone once the parent is.
    let guard = guard.expect("the parent printed its guard's pid");
    let comm = || std::fs::read_to_string(format!("/proc/{guard}/comm")).unwrap_or_default();
    let named_by = Instant::now() + Duration::from_secs(10);
    while comm().trim() != "spawnmux-guard" {
        assert!(Instant::now() < named_by, "process {guard} is {:?}", comm());
        std::thread::sleep(Duration::from_millis(10));
    }
    for (&g, &gc) in groups.iter().zip(&grandchildren) {
        let members = group_members(g);
        assert!(
            members.contains(&g) && members.contains(&gc),
            "group {g}: {members:?}"
        );
    }
    parent.kill().expect("SIGKILL the parent");
    let status = parent.wait().expect("reap the parent");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    let killed = Instant::now();
    let deadline = killed + Duration::from_secs(60);
    let mut left: Vec<(u32, Vec<u32>)>;
    loop {
        left = groups
            .iter()
            .map(|&g| (g, group_members(g)))
            .filter(|(_, m)| !m.is_empty())
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = killed.elapsed();
    // Leave nothing behind whatever the outcome.
    for (g, _) in &left {
        let _ = rustix::process::kill_process_group(
            rustix::process::Pid::from_raw(*g as i32).expect("pgid"),
            rustix::process::Signal::KILL,
        );
    }
    let direct_left: Vec<u32> = groups
        .iter()
        .copied()
        .filter(|g| left.iter().any(|(_, m)| m.contains(g)))
        .collect();
    println!(
        "parent SIGKILLed: {} groups (child + grandchild each); after {took:?}: {} groups with \
         live members {left:?}",
        groups.len(),
        left.len()
    );
    assert_eq!(direct_left, [] as [u32; 0], "direct children survived");
    assert_eq!(left, [], "grandchildren survived their parent's death");
    util::wait_gone(guard);
}

// ---------------------------------------------------------------------------------------------
// 8. Soak: 10,000 spawns.

#[test]
fn soak_10000_spawns_leave_fds_threads_and_memory_where_they_were() {
    if !isolated("soak_10000_spawns_leave_fds_threads_and_memory_where_they_were") {
        return;
    }
    const TOTAL: usize = 10_000;
    const WARM_UP: usize = 500;
    const AT_ONCE: usize = 16;
    let started = Instant::now();
    let mut mux = Mux::new().expect("mux");
    let mut events = Events::new();
    // Per child: its number, lines seen (stdout, stderr).
    let mut live: HashMap<ChildId, (usize, usize, usize)> = HashMap::new();
    let mut spawned = 0;
    let mut done = 0;
    let mut base = None;
    let mut checkpoints = Vec::new();
    let mut in_spawn = Duration::ZERO;
    let mut in_wait = Duration::ZERO;
    let deadline = Instant::now() + util::DEADLINE;
    while done < TOTAL {
        assert!(Instant::now() < deadline, "hangs after {done}; {mux:?}");
        if done == WARM_UP && mux.is_empty() && base.is_none() {
            base = Some((open_fds(), threads(), rss_kib()));
        }
        // Spawn up to AT_ONCE, but stop after the warm-up until the base is measured.
        while live.len() < AT_ONCE && spawned < TOTAL && (base.is_some() || spawned < WARM_UP) {
            let n = spawned;
            let t0 = Instant::now();
            let code = (n % 100).to_string();
            let id = if n % 4 == 0 {
                // stdin too: echo one line.
                let mut cmd = child(&["echo", "err", &format!(r"e {n}\n"), "exit", &code]);
                cmd.stdin(Stdio::Capture).die_with_parent(n % 8 == 0);
                let id = mux.spawn(&cmd).expect("spawn");
                mux.write_stdin(id, format!("o {n}\n").as_bytes())
                    .expect("write");
                mux.close_stdin(id).expect("close");
                id
            } else {
                let mut cmd = child(&[
                    "out",
                    &format!(r"o {n}\n"),
                    "err",
                    &format!(r"e {n}\n"),
                    "exit",
                    &code,
                ]);
                cmd.die_with_parent(n % 2 == 1);
                mux.spawn(&cmd).expect("spawn")
            };
            in_spawn += t0.elapsed();
            live.insert(id, (n, 0, 0));
            spawned += 1;
        }
        if mux.is_empty() {
            continue;
        }
        let t0 = Instant::now();
        mux.wait(&mut events, Some(Duration::from_secs(1)))
            .expect("wait");
        in_wait += t0.elapsed();
        for e in &events {
            match e {
                Event::Output(o) => {
                    let entry = live.get_mut(&o.child).expect("ours");
                    let (tag, count) = match o.stream {
                        Stream::Stdout => ("o", &mut entry.1),
                        Stream::Stderr => ("e", &mut entry.2),
                    };
                    assert_eq!(o.bytes, format!("{tag} {}", entry.0).as_bytes());
                    assert!(o.newline);
                    *count += 1;
                }
                Event::Exited { child, exit, .. } => {
                    let (n, out, err) = live.remove(&child).expect("ours");
                    assert_eq!(exit, Exit::Code((n % 100) as i32));
                    assert_eq!((out, err), (1, 1), "child {n}: lines lost");
                    done += 1;
                    if done % 2500 == 0 {
                        checkpoints.push((
                            done,
                            open_fds(),
                            threads(),
                            rss_kib(),
                            started.elapsed(),
                        ));
                    }
                }
                Event::Closed { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    // Exits come after all output; Closed may still be pending for the last ones.
    while !mux.is_empty() {
        mux.wait(&mut events, Some(Duration::from_secs(1)))
            .expect("wait");
    }
    let elapsed = started.elapsed();
    let (fds0, threads0, rss0) = base.expect("measured after the warm-up");
    let (fds1, threads1, rss1) = (open_fds(), threads(), rss_kib());
    assert_eq!(our_children(), [] as [u32; 0], "zombies or orphans");
    println!(
        "{TOTAL} spawns ({AT_ONCE} at a time, every 4th with stdin; 5 in 8 die_with_parent \
         (registered with the group guard), all posix_spawn) in {elapsed:?} ({:.0}/s)",
        TOTAL as f64 / elapsed.as_secs_f64()
    );
    println!("after {WARM_UP} (warm-up): fds {fds0}, threads {threads0}, RSS {rss0} KiB");
    for (n, fds, th, rss, t) in &checkpoints {
        println!("after {n}: fds {fds}, threads {th}, RSS {rss} KiB ({t:?})");
    }
    println!("time in Mux::spawn {in_spawn:?} (each waits for its child's exec), in Mux::wait {in_wait:?}");
    println!("after all, Mux empty: fds {fds1}, threads {threads1}, RSS {rss1} KiB");
    assert_eq!(fds1, fds0, "fds leaked");
    assert_eq!(threads1, threads0, "threads leaked");
    assert!(rss1 <= rss0 + 8 * 1024, "RSS grew by {} KiB", rss1 - rss0);
}
