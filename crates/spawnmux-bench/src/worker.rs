//! One measurement in a fresh process: `spawnmux-bench --worker WORKLOAD PEER TESTCHILD N M
//! [KIND]` (KIND: the child kind of W1 and W2, `bufwriter`, `line` or `blocks`).
//!
//! Prints `RESULT key=value ...` on stdout and exits 0; `SKIP reason` (exit 0) when a W4
//! size cannot be reached on this machine (fd, process or thread limits); anything else, in
//! particular a lost line, is an error: message on stderr, exit code 1.

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::child::{self, ChildKind, LINE};
use crate::common::{total_lines, verify, Expect, Job, Tally};
use crate::peers::{
    raw_read, raw_read_grown, std_output, AsyncProcessPeer, Peer, SpawnmuxPeer, SpawnmuxTokioPeer,
    ThreadsPeer, TokioPeer, BUF,
};
use crate::sys;
use crate::workloads::{thousands, Case, PeerKind, Workload};

/// Figures of one run, in the order printed.
type Figures = Vec<(&'static str, f64)>;

enum Failure {
    /// The machine cannot do this size (W4): reported, not fatal.
    Unreachable(String),
    Fatal(String),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Fatal(e.to_string())
    }
}

pub fn main(args: &[String]) -> ExitCode {
    let parsed = (|| {
        let workload = Workload::parse(args.first()?)?;
        let peer = PeerKind::parse(args.get(1)?)?;
        let exe = PathBuf::from(args.get(2)?);
        let n = args.get(3)?.parse().ok()?;
        let m = args.get(4)?.parse().ok()?;
        let kind = match args.get(5) {
            Some(k) => Some(ChildKind::parse(k)?),
            None => None,
        };
        Some((
            Case {
                workload,
                n,
                m,
                kind,
            },
            peer,
            exe,
        ))
    })();
    let Some((case, peer, exe)) = parsed else {
        eprintln!(
            "usage: spawnmux-bench --worker W1..W6 PEER TESTCHILD N M [bufwriter|line|blocks]"
        );
        return ExitCode::from(2);
    };
    match run(case, peer, &exe) {
        Ok(figures) => {
            let fields: Vec<String> = figures.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("RESULT {}", fields.join(" "));
            ExitCode::SUCCESS
        }
        Err(Failure::Unreachable(why)) => {
            println!("SKIP {why}");
            ExitCode::SUCCESS
        }
        Err(Failure::Fatal(why)) => {
            eprintln!(
                "spawnmux-bench: {} with {}: {why}",
                case.label(),
                peer.label()
            );
            ExitCode::FAILURE
        }
    }
}

pub fn make_peer(peer: PeerKind) -> io::Result<Box<dyn Peer>> {
    Ok(match peer {
        PeerKind::Spawnmux => Box::new(SpawnmuxPeer::new(true)?),
        PeerKind::SpawnmuxNoDeathSignal => Box::new(SpawnmuxPeer::new(false)?),
        PeerKind::SpawnmuxTokio => Box::new(SpawnmuxTokioPeer::new()?),
        PeerKind::Tokio => Box::new(TokioPeer::new(BUF, None)?),
        PeerKind::Tokio8k => Box::new(TokioPeer::new(8 * 1024, None)?),
        PeerKind::TokioMt8k => Box::new(TokioPeer::new(8 * 1024, Some(2))?),
        PeerKind::AsyncProcess => Box::new(AsyncProcessPeer::new()),
        PeerKind::Threads => Box::new(ThreadsPeer),
        PeerKind::Raw | PeerKind::RawGrown | PeerKind::StdOutput => {
            return Err(io::Error::other("not a multiplexing peer"))
        }
    })
}

fn run(case: Case, peer: PeerKind, exe: &Path) -> Result<Figures, Failure> {
    let base = sys::status();
    let fd_limit = sys::raise_fd_limit(1 << 16);
    match case.workload {
        Workload::W1 => throughput(case, peer),
        Workload::W2 => fan_in(case, peer),
        Workload::W3 => spawn_rate(case, peer, exe),
        Workload::W4 => scale(case, peer, exe, base, fd_limit),
        Workload::W5 => idle(case, peer, exe),
        Workload::W6 => latency(case, peer, exe),
    }
}

fn checked(tallies: &[Tally], expect: &[Expect]) -> Result<(), Failure> {
    verify(tallies, expect).map_err(|e| Failure::Fatal(format!("verification failed: {e}")))
}

/// W1 and W2 children are this program (`--child`, see `child.rs`).
fn kind_child(case: Case) -> Result<(ChildKind, std::path::PathBuf), Failure> {
    let kind = case
        .kind
        .ok_or_else(|| Failure::Fatal(format!("{} needs a child kind", case.workload)))?;
    Ok((kind, std::env::current_exe()?))
}

fn throughput(case: Case, peer: PeerKind) -> Result<Figures, Failure> {
    if case.n % LINE != 0 {
        return Err(Failure::Fatal("W1 bytes must be a multiple of 64".into()));
    }
    let (kind, exe) = kind_child(case)?;
    let job = Job {
        args: child::args(kind, case.n / LINE, false),
        stdin: None,
    };
    let expect = Expect {
        lines: [case.n / LINE, 0],
        bytes: [case.n, 0],
    };
    let mut p = match peer {
        PeerKind::Raw | PeerKind::RawGrown => None,
        other => Some(make_peer(other)?),
    };
    let cost = Cost::start();
    let start = Instant::now();
    let tallies = match (p.as_mut(), peer) {
        (Some(p), _) => p.run_all(&exe, &[job], &mut || {})?,
        (None, PeerKind::RawGrown) => vec![raw_read_grown(&exe, &job)?],
        (None, _) => vec![raw_read(&exe, &job)?],
    };
    let secs = start.elapsed().as_secs_f64();
    let cost = cost.end();
    checked(&tallies, &[expect])?;
    let mut figures = vec![
        ("secs", secs),
        ("mib_s", case.n as f64 / (1 << 20) as f64 / secs),
    ];
    figures.extend(cost);
    Ok(figures)
}

/// What the parent spent on a run: its CPU time, read calls and context switches.
struct Cost {
    usage: sys::Usage,
    reads: u64,
}

impl Cost {
    fn start() -> Cost {
        Cost {
            usage: sys::usage(),
            reads: sys::read_calls(),
        }
    }

    fn end(self) -> Figures {
        let after = sys::usage();
        let less = |a: u64, b: u64| a.saturating_sub(b) as f64;
        vec![
            (
                "cpu_s",
                after.cpu.saturating_sub(self.usage.cpu).as_secs_f64(),
            ),
            ("reads", less(sys::read_calls(), self.reads)),
            (
                "switches",
                less(after.voluntary_switches, self.usage.voluntary_switches),
            ),
            (
                "preempted",
                less(after.involuntary_switches, self.usage.involuntary_switches),
            ),
        ]
    }
}

fn fan_in(case: Case, peer: PeerKind) -> Result<Figures, Failure> {
    let (kind, exe) = kind_child(case)?;
    let job = Job {
        args: child::args(kind, case.m, true),
        stdin: None,
    };
    let jobs = vec![job; case.n as usize];
    let per = Expect {
        lines: [case.m, case.m],
        bytes: [case.m * LINE, case.m * LINE],
    };
    let mut p = make_peer(peer)?;
    let base = sys::status();
    let cost = Cost::start();
    let start = Instant::now();
    let tallies = p.run_all(&exe, &jobs, &mut || {})?;
    let secs = start.elapsed().as_secs_f64();
    let cost = cost.end();
    let end = sys::status();
    checked(&tallies, &vec![per; jobs.len()])?;
    let mut figures = vec![
        ("secs", secs),
        ("mlines_s", total_lines(&tallies) as f64 / secs / 1e6),
    ];
    figures.extend(cost);
    figures.extend([
        ("rss_base_mib", base.rss_kib as f64 / 1024.0),
        ("hwm_mib", end.hwm_kib as f64 / 1024.0),
    ]);
    Ok(figures)
}

fn spawn_rate(case: Case, peer: PeerKind, exe: &Path) -> Result<Figures, Failure> {
    let job = Job::new(&["out", r"spawned\n"]);
    let expect = Expect {
        lines: [1, 0],
        bytes: [8, 0],
    };
    let mut p = match peer {
        PeerKind::StdOutput => None,
        other => Some(make_peer(other)?),
    };
    let mut tallies = Vec::with_capacity(case.n as usize);
    let start = Instant::now();
    for _ in 0..case.n {
        match p.as_mut() {
            Some(p) => tallies.extend(p.run_all(exe, std::slice::from_ref(&job), &mut || {})?),
            None => tallies.push(std_output(exe, &job)?),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    checked(&tallies, &vec![expect; tallies.len().max(case.n as usize)])?;
    Ok(vec![
        ("secs", secs),
        ("spawns_s", case.n as f64 / secs),
        ("us_per_spawn", secs * 1e6 / case.n as f64),
    ])
}

fn scale(
    case: Case,
    peer: PeerKind,
    exe: &Path,
    base: sys::Status,
    fd_limit: u64,
) -> Result<Figures, Failure> {
    // `pipe` + `FD_CLOEXEC` rather than `pipe2` (`pipe_with`), which macOS lacks; the bench is
    // a fresh worker process that has started no thread or child yet, so nothing can inherit
    // the fds in between.
    let (barrier_read, barrier_write) = rustix::pipe::pipe().map_err(io::Error::from)?;
    for fd in [&barrier_read, &barrier_write] {
        rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC).map_err(io::Error::from)?;
    }
    let barrier_read: Arc<OwnedFd> = Arc::new(barrier_read);
    let mut barrier_write = Some(barrier_write);
    let job = Job {
        args: ["drain", "err", r"woke\n"].map(String::from).to_vec(),
        stdin: Some(barrier_read),
    };
    let jobs = vec![job; case.n as usize];
    // `drain` prints "drained 0\n" once its stdin (the barrier) reaches EOF.
    let per = Expect {
        lines: [1, 1],
        bytes: [10, 5],
    };
    let mut p = make_peer(peer)?;
    // Probe: how many fds does this peer hold per live child? If the size cannot fit under
    // RLIMIT_NOFILE, say so instead of spawning thousands of children to find out.
    let probe = Job {
        args: ["sleep", "100"].map(String::from).to_vec(),
        stdin: None,
    };
    // A first child opens what a peer keeps once per process (spawnmux's group-guard socket,
    // tokio's signal pipe): not a per-child cost. The second one is measured.
    p.run_all(exe, std::slice::from_ref(&probe), &mut || {})?;
    let before = sys::open_fds();
    let mut during = before;
    p.run_all(exe, std::slice::from_ref(&probe), &mut || {
        during = sys::open_fds();
    })?;
    let per_child = during.saturating_sub(before).max(1);
    let needed = before + per_child * case.n;
    if needed > fd_limit {
        return Err(Failure::Unreachable(format!(
            "{} children need about {} fds ({per_child} per child in this peer), \
             more than RLIMIT_NOFILE allows here ({fd_limit}, the hard limit)",
            thousands(case.n),
            thousands(needed)
        )));
    }
    let mut at_peak = sys::Status::default();
    let mut spawn_secs = 0.0;
    let start = Instant::now();
    let result = p.run_all(exe, &jobs, &mut || {
        spawn_secs = start.elapsed().as_secs_f64();
        at_peak = sys::status();
        // Every child is alive and blocked reading the barrier: release them.
        barrier_write = None;
    });
    let secs = start.elapsed().as_secs_f64();
    let tallies = result.map_err(|e| {
        Failure::Unreachable(format!(
            "{} children not reached: {e} (RLIMIT_NOFILE {fd_limit})",
            thousands(case.n)
        ))
    })?;
    drop(barrier_write);
    checked(&tallies, &vec![per; jobs.len()])?;
    let end = sys::status();
    let peak_threads = at_peak.threads.max(end.threads);
    let grown = end.hwm_kib.saturating_sub(base.rss_kib);
    Ok(vec![
        ("secs", secs),
        ("spawn_secs", spawn_secs),
        ("threads_base", base.threads as f64),
        ("threads_peak", peak_threads as f64),
        (
            "extra_threads",
            peak_threads.saturating_sub(base.threads) as f64,
        ),
        ("rss_base_kib", base.rss_kib as f64),
        ("rss_spawned_kib", at_peak.rss_kib as f64),
        ("hwm_kib", end.hwm_kib as f64),
        ("kib_per_child", grown as f64 / case.n as f64),
        ("fd_limit", fd_limit as f64),
    ])
}

fn idle(case: Case, peer: PeerKind, exe: &Path) -> Result<Figures, Failure> {
    let job = Job::new(&["sleep", &case.m.to_string()]);
    let jobs = vec![job; case.n as usize];
    let per = Expect {
        lines: [0, 0],
        bytes: [0, 0],
    };
    let mut p = make_peer(peer)?;
    let mut before = None;
    let mut spawned_at = None;
    let tallies = p.run_all(exe, &jobs, &mut || {
        spawned_at = Some(Instant::now());
        before = Some(sys::usage());
    })?;
    let after = sys::usage();
    let idle_secs = spawned_at.map_or(0.0, |t| t.elapsed().as_secs_f64());
    checked(&tallies, &vec![per; jobs.len()])?;
    let before = before.ok_or_else(|| Failure::Fatal("spawned hook not called".into()))?;
    Ok(vec![
        ("idle_secs", idle_secs),
        (
            "cpu_ms",
            after.cpu.saturating_sub(before.cpu).as_secs_f64() * 1e3,
        ),
        (
            "switches",
            after
                .voluntary_switches
                .saturating_sub(before.voluntary_switches) as f64,
        ),
    ])
}

fn latency(case: Case, peer: PeerKind, exe: &Path) -> Result<Figures, Failure> {
    let mut p = make_peer(peer)?;
    let mut times = p.echo(exe, case.n as usize)?;
    if times.len() as u64 != case.n {
        return Err(Failure::Fatal(format!(
            "{} round trips done, {} expected",
            times.len(),
            case.n
        )));
    }
    times.sort_unstable();
    let pct = |p: f64| -> f64 {
        let i = ((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1;
        times[i].as_secs_f64() * 1e6
    };
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1e6 / times.len() as f64;
    Ok(vec![
        ("p50_us", pct(0.50)),
        ("p99_us", pct(0.99)),
        ("mean_us", mean),
    ])
}
