//! `spawnmux-bench cost`: the figures of BENCHMARKS.md's cost model.
//!
//! 1. **Parent RSS against the number of children**, from 10 up to what `RLIMIT_NOFILE` allows:
//!    W4 (idle children on a start barrier, then one line per stream) in a fresh worker per
//!    size and peer; RSS when all are spawned and the peak (`VmHWM`). Printed as a table and
//!    drawn in `docs/rss-children.svg`.
//! 2. **Kernel pipe memory per busy stream**: W1 (one busy stream) and W2 (128) with the
//!    BufWriter child, in a fresh worker per peer, while a sampler thread reads, every 2 ms,
//!    each pipe read end this process holds: its capacity (`F_GETPIPE_SZ`) and the bytes queued
//!    in it (`FIONREAD`). The kernel allocates a pipe's pages as they are written, so what it
//!    holds is between the bytes queued and the capacity.
//!
//! System calls per read round and per line come from `strace -c` (commands in
//! BENCHMARKS.md's notes), not from here.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::child::{self, ChildKind, LINE};
use crate::common::{verify, Expect, Job};
use crate::report::fmt_num;
use crate::workloads::{thousands, PeerKind};

const USAGE: &str = "\
usage: spawnmux-bench cost [--quick] [--peers LIST] [--sizes LIST] [--out DIR] [--testchild PATH]

  --quick           small pipe workloads (W1 16 MiB, W2 8 children x 10,000 lines), for a
                    smoke run

  --peers LIST      peers (default spawnmux,tokio,async-process,threads)
  --sizes LIST      numbers of children for the RSS chart (default 10,100,1000,2000,4000 and
                    the most RLIMIT_NOFILE allows)
  --out DIR         where docs/rss-children.svg goes (default target/bench)
  --testchild PATH  the spawnmux-testchild binary (default: next to this binary)

Prints the tables (markdown) on stdout.";

struct Options {
    peers: Vec<PeerKind>,
    sizes: Option<Vec<u64>>,
    quick: bool,
    out: PathBuf,
    testchild: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut opts = Options {
        peers: vec![
            PeerKind::Spawnmux,
            PeerKind::Tokio,
            PeerKind::AsyncProcess,
            PeerKind::Threads,
        ],
        sizes: None,
        quick: false,
        out: Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench"),
        testchild: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--peers" => {
                opts.peers = value()?
                    .split(',')
                    .map(|p| PeerKind::parse(p).ok_or(format!("--peers: unknown `{p}`")))
                    .collect::<Result<_, _>>()?;
            }
            "--quick" => opts.quick = true,
            "--sizes" => {
                opts.sizes = Some(
                    value()?
                        .split(',')
                        .map(|n| n.parse().map_err(|_| format!("--sizes: `{n}`")))
                        .collect::<Result<_, _>>()?,
                );
            }
            "--out" => opts.out = PathBuf::from(value()?),
            "--testchild" => opts.testchild = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(opts))
}

pub fn main(args: &[String]) -> ExitCode {
    if args.first().map(String::as_str) == Some("--pipes") {
        return pipes_worker(&args[1..]);
    }
    crate::cli::subcommand("spawnmux-bench cost", USAGE, args, parse, run)
}

/// `key=value` figures of a worker's `RESULT` line; `None` for `SKIP`.
fn worker(me: &Path, args: &[String]) -> Result<Option<Vec<(String, f64)>>, String> {
    let out = Command::new(me)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("starting a worker: {e}"))?;
    if !out.status.success() {
        return Err(format!("worker {args:?} failed ({})", out.status));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in stdout.lines() {
        if line.starts_with("SKIP ") {
            return Ok(None);
        }
        if let Some(fields) = line.strip_prefix("RESULT ") {
            return Ok(Some(
                fields
                    .split_whitespace()
                    .filter_map(|f| {
                        let (k, v) = f.split_once('=')?;
                        Some((k.to_string(), v.parse().ok()?))
                    })
                    .collect(),
            ));
        }
    }
    Err(format!("worker {args:?} printed no result"))
}

fn get(f: &[(String, f64)], key: &str) -> f64 {
    f.iter()
        .find(|(k, _)| k == key)
        .map_or(f64::NAN, |(_, v)| *v)
}

fn run(opts: &Options) -> Result<(), String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let testchild = opts
        .testchild
        .clone()
        .unwrap_or_else(|| me.with_file_name("spawnmux-testchild"));
    let limit = crate::sys::raise_fd_limit(1 << 16);
    let sizes = opts.sizes.clone().unwrap_or_else(|| {
        // 3 fds per child (2 pipes + a pidfd or a tokio/async-io registration), ~100 for the
        // process itself: the most every peer can reach, rounded down to 100.
        let most = limit.saturating_sub(100) / 3 / 100 * 100;
        let mut v: Vec<u64> = [10, 100, 1000, 2000, 4000]
            .into_iter()
            .filter(|&n| n < most)
            .collect();
        v.push(most);
        v
    });
    let mut md = String::new();
    let load = crate::sys::load_average();
    let _ = writeln!(
        md,
        "Parent RSS with N children alive (W4: idle on a start barrier, then one line per \
         stream), one fresh worker per cell, RLIMIT_NOFILE {} (the hard limit here; raising it \
         needs CAP_SYS_RESOURCE, which this container does not grant), load average {} at the \
         start. \"at spawn\" is VmRSS once all N are spawned, \"peak\" VmHWM after all exited; \
         in parentheses KiB per child over the worker's RSS before the first spawn.\n",
        thousands(limit),
        fmt_num(load)
    );
    let _ = write!(md, "| children |");
    for p in &opts.peers {
        let _ = write!(md, " {} at spawn MiB | peak MiB |", p.label());
    }
    let _ = writeln!(md);
    let _ = write!(md, "|---:|");
    for _ in &opts.peers {
        let _ = write!(md, "---:|---:|");
    }
    let _ = writeln!(md);
    let mut series: Vec<Series> = opts.peers.iter().map(|&p| (p, Vec::new())).collect();
    for &n in &sizes {
        let _ = write!(md, "| {} |", thousands(n));
        for (peer, points) in &mut series {
            let args: Vec<String> = [
                "--worker",
                "W4",
                peer.id(),
                &testchild.to_string_lossy(),
                &n.to_string(),
                "0",
            ]
            .map(String::from)
            .to_vec();
            eprintln!("   {} children, {}", thousands(n), peer.label());
            match worker(&me, &args)? {
                None => {
                    let _ = write!(md, " not reached | |");
                }
                Some(f) => {
                    let base = get(&f, "rss_base_kib");
                    let at = get(&f, "rss_spawned_kib");
                    let peak = get(&f, "hwm_kib");
                    let per = |kib: f64| (kib - base) / n as f64;
                    let _ = write!(
                        md,
                        " {} ({}) | {} ({}) |",
                        fmt_num(at / 1024.0),
                        fmt_num(per(at)),
                        fmt_num(peak / 1024.0),
                        fmt_num(per(peak))
                    );
                    points.push((n, at / 1024.0, peak / 1024.0));
                }
            }
        }
        let _ = writeln!(md);
    }
    let svg_path = opts.out.join("docs/rss-children.svg");
    std::fs::create_dir_all(opts.out.join("docs")).map_err(|e| e.to_string())?;
    std::fs::write(&svg_path, chart(&series, limit)).map_err(|e| e.to_string())?;

    let _ = writeln!(
        md,
        "\nKernel pipe memory, BufWriter children (W1: {}, 1 stream; W2: {}), sampled every 2 ms from a thread of the worker: the \
         largest capacity of one pipe (`F_GETPIPE_SZ`), the largest total capacity and total \
         bytes queued (`FIONREAD`) over all its pipe read ends at one instant, and that total \
         per busy stream (W1 holds two read ends, the busy stdout and an idle stderr, and counts \
         as one busy stream; W2 has 2 per child).\n",
        if opts.quick { "16 MiB" } else { "1 GiB" },
        if opts.quick {
            "8 children x 10,000 lines x 2 streams"
        } else {
            "64 children x 250,000 lines x 2 streams"
        }
    );
    let _ = writeln!(
        md,
        "| workload | peer | largest pipe KiB | total capacity KiB (peak) | per stream KiB | \
         queued KiB (peak) | per stream KiB | samples |\n|---|---|---:|---:|---:|---:|---:|---:|"
    );
    let pipe_cases = if opts.quick {
        [("W1", 1u64, 16u64 << 20, 1u64), ("W2", 8, 10_000, 16)]
    } else {
        [("W1", 1, 1 << 30, 1), ("W2", 64, 250_000, 128)]
    };
    for (w, n, m, streams) in pipe_cases {
        for peer in &opts.peers {
            let args: Vec<String> = [
                "cost",
                "--pipes",
                w,
                peer.id(),
                &n.to_string(),
                &m.to_string(),
            ]
            .map(String::from)
            .to_vec();
            eprintln!("   pipes {w}, {}", peer.label());
            let f = worker(&me, &args)?.ok_or("pipes worker skipped")?;
            let kib = |k: &str| get(&f, k) / 1024.0;
            let _ = writeln!(
                md,
                "| {w} | {} | {} | {} | {} | {} | {} | {} |",
                peer.label(),
                fmt_num(kib("largest")),
                fmt_num(kib("capacity")),
                fmt_num(kib("capacity") / streams as f64),
                fmt_num(kib("queued")),
                fmt_num(kib("queued") / streams as f64),
                fmt_num(get(&f, "samples"))
            );
        }
    }
    print!("{md}");
    println!("\nwrote {}", svg_path.display());
    Ok(())
}

/// A peer's points: (children, RSS at spawn MiB, peak RSS MiB).
type Series = (PeerKind, Vec<(u64, f64, f64)>);

/// What the sampler saw: per sample, over every pipe read end of this process.
#[derive(Default, Clone, Copy)]
struct PipeFigures {
    largest: u64,
    capacity: u64,
    queued: u64,
    samples: u64,
}

/// One look at this process's pipe read ends: (largest capacity, total capacity, total queued).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn look() -> (u64, u64, u64) {
    let mut largest = 0;
    let mut capacity = 0;
    let mut queued = 0;
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return (0, 0, 0);
    };
    for entry in dir.flatten() {
        let is_pipe = std::fs::read_link(entry.path())
            .is_ok_and(|t| t.to_string_lossy().starts_with("pipe:"));
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if !is_pipe {
            continue;
        }
        // Raw calls on a number, not an owned fd: the main thread may close it meanwhile (then
        // EBADF, or another file's answer for one sample). Queries only, nothing changes.
        // SAFETY: fcntl with F_GETFL / F_GETPIPE_SZ and ioctl FIONREAD only read; `n` is a
        // valid `c_int` for FIONREAD to write.
        let (flags, size, n) = unsafe {
            let mut n: libc::c_int = 0;
            let flags = libc::fcntl(fd, libc::F_GETFL);
            let size = libc::fcntl(fd, libc::F_GETPIPE_SZ);
            let rc = libc::ioctl(fd, libc::FIONREAD, &mut n);
            (flags, size, if rc == 0 { n } else { 0 })
        };
        if flags < 0 || size <= 0 || flags & libc::O_ACCMODE != libc::O_RDONLY {
            continue;
        }
        largest = largest.max(size as u64);
        capacity += size as u64;
        queued += n.max(0) as u64;
    }
    (largest, capacity, queued)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn look() -> (u64, u64, u64) {
    (0, 0, 0)
}

/// `cost --pipes W1|W2 PEER N M`: runs W1 (N = 1 child, M bytes) or W2 (N children, M lines
/// per stream) with BufWriter children while a thread samples the pipes; prints `RESULT`.
fn pipes_worker(args: &[String]) -> ExitCode {
    let parsed = (|| {
        let w = args.first()?.clone();
        let peer = PeerKind::parse(args.get(1)?)?;
        let n: u64 = args.get(2)?.parse().ok()?;
        let m: u64 = args.get(3)?.parse().ok()?;
        Some((w, peer, n, m))
    })();
    let Some((w, peer, n, m)) = parsed else {
        eprintln!("usage: spawnmux-bench cost --pipes W1|W2 PEER N M");
        return ExitCode::from(2);
    };
    match pipes(&w, peer, n, m) {
        Ok(f) => {
            println!(
                "RESULT largest={} capacity={} queued={} samples={}",
                f.largest, f.capacity, f.queued, f.samples
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("spawnmux-bench cost --pipes: {e}");
            ExitCode::FAILURE
        }
    }
}

fn pipes(w: &str, peer: PeerKind, n: u64, m: u64) -> Result<PipeFigures, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let (lines, both, expect) = if w == "W1" {
        (m / LINE, false, [m / LINE, 0])
    } else {
        (m, true, [m, m])
    };
    let job = Job {
        args: child::args(ChildKind::BufWriter, lines, both),
        stdin: None,
    };
    let jobs = vec![job; n as usize];
    let mut p = crate::worker::make_peer(peer).map_err(|e| e.to_string())?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut f = PipeFigures::default();
            while !stop.load(Ordering::Relaxed) {
                let (largest, capacity, queued) = look();
                f.largest = f.largest.max(largest);
                f.capacity = f.capacity.max(capacity);
                f.queued = f.queued.max(queued);
                f.samples += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
            f
        })
    };
    let start = Instant::now();
    let tallies = p.run_all(&exe, &jobs, &mut || {});
    stop.store(true, Ordering::Relaxed);
    let f = sampler.join().map_err(|_| "the sampler panicked")?;
    let tallies = tallies.map_err(|e| e.to_string())?;
    let per = Expect {
        lines: expect,
        bytes: expect.map(|l| l * LINE),
    };
    verify(&tallies, &vec![per; jobs.len()])?;
    eprintln!(
        "   {w} {}: {:.2} s, verified",
        peer.label(),
        start.elapsed().as_secs_f64()
    );
    Ok(f)
}

/// Parent RSS (MiB, at spawn) against children, one line per peer, log-scaled x.
fn chart(series: &[Series], limit: u64) -> String {
    const W: f64 = 900.0;
    const H: f64 = 420.0;
    const L: f64 = 70.0;
    const R: f64 = 290.0;
    const T: f64 = 50.0;
    const B: f64 = 60.0;
    let points = series.iter().flat_map(|(_, p)| p.iter());
    let xmax = points.clone().map(|p| p.0).max().unwrap_or(10).max(10) as f64;
    let ymax = points.map(|p| p.1).fold(1.0f64, f64::max) * 1.1;
    let x = |n: f64| L + (W - L - R) * (n.log10() - 1.0) / (xmax.log10() - 1.0).max(1e-9);
    let y = |mib: f64| H - B - (H - T - B) * mib / ymax;
    let colors = [
        "#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#718096", "#d53f8c",
    ];
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="22" font-size="15" font-weight="bold">Parent RSS with N children alive (all spawned, idle), RLIMIT_NOFILE {limit}</text>"#
    );
    // Axes, ticks.
    let _ = writeln!(
        s,
        r##"<line x1="{L}" y1="{}" x2="{}" y2="{}" stroke="#1a202c"/><line x1="{L}" y1="{T}" x2="{L}" y2="{}" stroke="#1a202c"/>"##,
        H - B,
        W - R,
        H - B,
        H - B
    );
    let mut tick = 10.0;
    while tick <= xmax * 1.001 {
        let _ = writeln!(
            s,
            r##"<text x="{:.1}" y="{}" text-anchor="middle">{}</text><line x1="{:.1}" y1="{}" x2="{:.1}" y2="{T}" stroke="#e2e8f0"/>"##,
            x(tick),
            H - B + 16.0,
            thousands(tick as u64),
            x(tick),
            H - B,
            x(tick)
        );
        tick *= 10.0;
    }
    let step = nice_step(ymax / 5.0);
    let mut v = 0.0;
    while v <= ymax {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{:.1}" text-anchor="end">{}</text><line x1="{L}" y1="{:.1}" x2="{}" y2="{:.1}" stroke="#e2e8f0"/>"##,
            L - 6.0,
            y(v) + 4.0,
            fmt_num(v),
            y(v),
            W - R,
            y(v)
        );
        v += step;
    }
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">children (log scale)</text>"#,
        L + (W - L - R) / 2.0,
        H - 20.0
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">parent RSS MiB</text>"#,
        T + (H - T - B) / 2.0,
        T + (H - T - B) / 2.0
    );
    for (i, (peer, pts)) in series.iter().enumerate() {
        let color = colors[i % colors.len()];
        let path: Vec<String> = pts
            .iter()
            .map(|&(n, mib, _)| format!("{:.1},{:.1}", x(n as f64), y(mib)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            path.join(" ")
        );
        for &(n, mib, _) in pts {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"#,
                x(n as f64),
                y(mib)
            );
        }
        if let Some(&(n, mib, _)) = pts.last() {
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{:.1}" fill="{color}">{} ({} MiB at {})</text>"#,
                W - R + 8.0,
                T + 16.0 * i as f64 + 10.0,
                crate::report::esc(peer.label()),
                fmt_num(mib),
                thousands(n)
            );
        }
    }
    let _ = writeln!(s, "</svg>");
    s
}

/// 1, 2 or 5 times a power of ten, at least `x`.
fn nice_step(x: f64) -> f64 {
    let p = 10f64.powf(x.max(1e-9).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|&s| s >= x)
        .unwrap_or(10.0 * p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(3.0), 5.0);
        assert_eq!(nice_step(12.0), 20.0);
        assert_eq!(nice_step(0.7), 1.0);
    }
}
