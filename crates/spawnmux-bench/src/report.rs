//! Medians, ratios, goals, `BENCHMARKS.md` and the SVG chart (drawn by hand: bars and text).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use crate::cli::Options;
use crate::sys;
use crate::workloads::{thousands, Case, Metric, PeerKind, Workload};

/// What one worker run gave.
#[derive(Debug, Clone)]
pub enum Outcome {
    Figures(BTreeMap<String, f64>),
    /// This size cannot be reached here (W4: fd / process / thread limits).
    Skipped(String),
}

impl Outcome {
    /// One line for the progress log.
    pub fn brief(&self, case: &Case) -> String {
        match self {
            Outcome::Skipped(why) => format!("not reached: {why}"),
            Outcome::Figures(f) => case
                .metrics()
                .iter()
                .map(|m| {
                    format!(
                        "{} {}",
                        fmt_num(f.get(m.key).copied().unwrap_or(f64::NAN)),
                        m.unit
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PeerRuns {
    pub peer: PeerKind,
    pub runs: Vec<Outcome>,
}

impl PeerRuns {
    pub fn skipped(&self) -> Option<&str> {
        self.runs.iter().find_map(|r| match r {
            Outcome::Skipped(why) => Some(why.as_str()),
            Outcome::Figures(_) => None,
        })
    }

    pub fn values(&self, key: &str) -> Vec<f64> {
        self.runs
            .iter()
            .filter_map(|r| match r {
                Outcome::Figures(f) => f.get(key).copied(),
                Outcome::Skipped(_) => None,
            })
            .collect()
    }

    pub fn median(&self, key: &str) -> Option<f64> {
        median(self.values(key))
    }
}

#[derive(Debug, Clone)]
pub struct CaseResult {
    pub case: Case,
    pub peers: Vec<PeerRuns>,
    /// The 1-minute load average before the case's first run and after its last.
    pub load: (f64, f64),
}

impl CaseResult {
    fn peer(&self, kind: PeerKind) -> Option<&PeerRuns> {
        self.peers.iter().find(|p| p.peer == kind)
    }

    fn median(&self, kind: PeerKind, key: &str) -> Option<f64> {
        self.peer(kind)?.median(key)
    }

    /// spawnmux's median ÷ the peer's, on `key`.
    fn ratio(&self, kind: PeerKind, key: &str) -> Option<f64> {
        let ours = self.median(PeerKind::Spawnmux, key)?;
        let theirs = self.median(kind, key)?;
        (ours >= 0.0 && theirs > 0.0).then(|| ours / theirs)
    }

    /// The median over rounds of spawnmux's figure ÷ the peer's in the same round: peers run
    /// interleaved, so a round's pair saw about the same load (robust against load that comes
    /// and goes between rounds).
    fn paired_ratio(&self, kind: PeerKind, key: &str) -> Option<f64> {
        let ours = self.peer(PeerKind::Spawnmux)?;
        let theirs = self.peer(kind)?;
        let per_round = ours
            .runs
            .iter()
            .zip(&theirs.runs)
            .filter_map(|pair| match pair {
                (Outcome::Figures(a), Outcome::Figures(b)) => {
                    let (a, b) = (*a.get(key)?, *b.get(key)?);
                    (a >= 0.0 && b > 0.0).then(|| a / b)
                }
                _ => None,
            })
            .collect();
        median(per_round)
    }

    fn load(&self) -> String {
        format!("{}→{}", fmt_num(self.load.0), fmt_num(self.load.1))
    }

    /// The peer's standing relative to spawnmux on `metric`: > 1 better, < 1 worse.
    fn relative(&self, kind: PeerKind, metric: &Metric) -> Option<f64> {
        let ours = self.median(PeerKind::Spawnmux, metric.key)?;
        let theirs = self.median(kind, metric.key)?;
        relative(ours, theirs, metric.higher_is_better)
    }
}

fn relative(ours: f64, theirs: f64, higher_is_better: bool) -> Option<f64> {
    if !(ours > 0.0 && theirs > 0.0) {
        return None;
    }
    Some(if higher_is_better {
        theirs / ours
    } else {
        ours / theirs
    })
}

pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        "?".to_string()
    } else if v.abs() >= 1000.0 {
        thousands(v.round() as u64)
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn cell(result: &CaseResult, kind: PeerKind, metric: &Metric) -> String {
    let Some(pr) = result.peer(kind) else {
        return String::new();
    };
    if pr.skipped().is_some() {
        return "not reached (below)".to_string();
    }
    let Some(v) = pr.median(metric.key) else {
        return "?".to_string();
    };
    match (kind, result.ratio(kind, metric.key)) {
        (PeerKind::Spawnmux, _) => format!("**{}**", fmt_num(v)),
        (_, Some(r)) => format!("{} ({r:.2}×)", fmt_num(v)),
        (_, None) => fmt_num(v),
    }
}

/// One line per case for the terminal.
pub fn summary_line(result: &CaseResult) -> String {
    let mut s = format!("{:<18}", result.case.label());
    for metric in result.case.metrics() {
        for pr in &result.peers {
            let _ = write!(s, " | {}: ", pr.peer.label());
            if let Some(why) = pr.skipped() {
                let _ = write!(s, "not reached ({why})");
                continue;
            }
            let v = pr.median(metric.key).unwrap_or(f64::NAN);
            let _ = write!(s, "{} {}", fmt_num(v), metric.unit);
            if pr.peer != PeerKind::Spawnmux {
                if let Some(r) = result.relative(pr.peer, metric) {
                    let _ = write!(s, " ({r:.2})");
                }
            }
        }
    }
    s.push_str(" | verified");
    s
}

/// A goal from the issue, checked against the medians.
struct Goal {
    workload: String,
    text: String,
    met: Option<bool>,
    detail: String,
}

fn goals(results: &[CaseResult]) -> Vec<Goal> {
    let mut goals = Vec::new();
    let peers_behind = |r: &CaseResult, key: &str, higher: bool| -> (bool, String) {
        let ours = r.median(PeerKind::Spawnmux, key);
        let mut all = true;
        let mut parts = Vec::new();
        for kind in [PeerKind::Tokio, PeerKind::AsyncProcess, PeerKind::Threads] {
            if let (Some(o), Some(t)) = (ours, r.median(kind, key)) {
                let ahead = if higher { o > t } else { o < t };
                all &= ahead;
                if let Some(rel) = relative(o, t, higher) {
                    parts.push(format!("{} {rel:.2}", kind.label()));
                }
            } else {
                all = false;
            }
        }
        (all, parts.join(", "))
    };
    for r in results {
        let label = r.case.label();
        match r.case.workload {
            Workload::W1 => {
                let ours = r.median(PeerKind::Spawnmux, "mib_s");
                let raw = r.median(PeerKind::Raw, "mib_s");
                let ratio = ours.zip(raw).map(|(o, w)| o / w);
                goals.push(Goal {
                    workload: label.clone(),
                    text: "spawnmux ≥ 0.9× the raw pipe read".into(),
                    met: ratio.map(|x| x >= 0.9),
                    detail: ratio.map_or("?".into(), |x| format!("{x:.2}×")),
                });
                let (met, detail) = peers_behind(r, "mib_s", true);
                goals.push(Goal {
                    workload: label,
                    text: "ahead of every peer".into(),
                    met: Some(met),
                    detail: format!("peers relative to spawnmux: {detail}"),
                });
            }
            Workload::W2 => {
                let (met, detail) = peers_behind(r, "mlines_s", true);
                goals.push(Goal {
                    workload: label,
                    text: "ahead of every peer".into(),
                    met: Some(met),
                    detail: format!("peers relative to spawnmux: {detail}"),
                });
            }
            Workload::W3 => {
                let ours = r.median(PeerKind::Spawnmux, "us_per_spawn");
                let std = r.median(PeerKind::StdOutput, "us_per_spawn");
                let ratio = ours.zip(std).map(|(o, s)| o / s);
                goals.push(Goal {
                    workload: label,
                    text: "within 10% of a bare std `Command::output()`".into(),
                    met: ratio.map(|x| x <= 1.10),
                    detail: ratio.map_or("?".into(), |x| {
                        format!("spawnmux takes {x:.2}× the time per spawn")
                    }),
                });
            }
            Workload::W4 => {
                let pr = r.peer(PeerKind::Spawnmux);
                if let Some(why) = pr.and_then(PeerRuns::skipped) {
                    goals.push(Goal {
                        workload: label,
                        text: "reachable on this machine".into(),
                        met: Some(false),
                        detail: why.to_string(),
                    });
                    continue;
                }
                let extra = r.median(PeerKind::Spawnmux, "extra_threads");
                goals.push(Goal {
                    workload: label.clone(),
                    text: "the parent stays at its base thread count".into(),
                    met: extra.map(|x| x == 0.0),
                    detail: extra.map_or("?".into(), |x| format!("{x:.0} extra threads")),
                });
                let per = r.median(PeerKind::Spawnmux, "kib_per_child");
                goals.push(Goal {
                    workload: label,
                    text: "under 16 KiB of parent RSS per child".into(),
                    met: per.map(|x| x < 16.0),
                    detail: per.map_or("?".into(), |x| format!("{x:.2} KiB per child")),
                });
            }
            Workload::W5 => {
                let cpu = r.median(PeerKind::Spawnmux, "cpu_ms");
                let idle = r.median(PeerKind::Spawnmux, "idle_secs");
                let switches = r.median(PeerKind::Spawnmux, "switches");
                goals.push(Goal {
                    workload: label,
                    text: "~0 CPU while children are quiet (no periodic wake-ups)".into(),
                    met: cpu.map(|x| x < 10.0),
                    detail: format!(
                        "{} ms CPU and {} wake-ups (voluntary context switches) in {} s, \
                         {} children exiting included",
                        cpu.map_or("?".into(), fmt_num),
                        switches.map_or("?".into(), |s| format!("{s:.0}")),
                        idle.map_or("?".into(), |s| format!("{s:.1}")),
                        r.case.n
                    ),
                });
            }
            Workload::W6 => {}
        }
    }
    goals
}

/// The two tokio peers the W1 and W2 goals are checked against: the issue's (its harness read
/// through `BufReader::new`, 8 KiB) and this harness's stricter one (64 KiB, like every peer).
const TOKIO_PEERS: [(PeerKind, &str); 2] = [
    (PeerKind::Tokio8k, "(8 KiB `BufReader`, the issue's peer)"),
    (PeerKind::Tokio, "(64 KiB `BufReader`, stricter)"),
];

/// The goals of issue 12 ("Library hot path"), each a ratio against a peer of the same run.
fn goals_hot_path(results: &[CaseResult]) -> Vec<Goal> {
    let mut goals = Vec::new();
    // (peer, key, text, limit, at most): met if spawnmux ÷ peer is at most (or at least) limit.
    let mut check = |r: &CaseResult, peer: PeerKind, key: &str, text: &str, limit: f64, at_most| {
        let x = r.ratio(peer, key);
        goals.push(Goal {
            workload: r.case.label(),
            text: text.to_string(),
            met: x.map(|x| if at_most { x <= limit } else { x >= limit }),
            detail: x.map_or("?".into(), |x| {
                format!(
                    "{x:.2}× ({} vs {}) | {}",
                    r.median(PeerKind::Spawnmux, key)
                        .map_or("?".into(), fmt_num),
                    r.median(peer, key).map_or("?".into(), fmt_num),
                    r.paired_ratio(peer, key)
                        .map_or("?".into(), |p| format!("{p:.2}×"))
                )
            }),
        });
    };
    for r in results {
        use PeerKind::*;
        match r.case.workload {
            Workload::W1 => {
                check(
                    r,
                    RawGrown,
                    "secs",
                    "wall ≤ 1.15× raw read on a grown pipe",
                    1.15,
                    true,
                );
                for (tokio, which) in TOKIO_PEERS {
                    let wall = format!("wall ≤ 0.75× tokio::process {which}");
                    check(r, tokio, "secs", &wall, 0.75, true);
                    let cpu = format!("parent CPU ≤ tokio::process's {which}");
                    check(r, tokio, "cpu_s", &cpu, 1.0, true);
                }
                async_mux_within_5_percent(&mut check, r);
            }
            Workload::W2 => {
                async_mux_within_5_percent(&mut check, r);
                for (tokio, which) in TOKIO_PEERS {
                    let rss = format!("peak RSS ≤ tokio::process's {which}");
                    check(r, tokio, "hwm_mib", &rss, 1.0, true);
                }
                check(r, Threads, "secs", "wall ≤ std threads'", 1.0, true);
            }
            Workload::W3 => {
                check(
                    r,
                    Tokio,
                    "spawns_s",
                    "spawns/s ≥ tokio::process's",
                    1.0,
                    false,
                );
            }
            Workload::W4 if r.peer(Spawnmux).is_some_and(|p| p.skipped().is_none()) => {
                check(
                    r,
                    Tokio,
                    "spawn_secs",
                    "time until all spawned ≤ tokio::process's",
                    1.0,
                    true,
                );
            }
            Workload::W4 => {}
            Workload::W5 => check(r, Tokio, "cpu_ms", "idle CPU ≤ tokio::process's", 1.0, true),
            Workload::W6 => check(
                r,
                Tokio,
                "p50_us",
                "round trip p50 ≤ tokio::process's",
                1.0,
                true,
            ),
        }
    }
    goals
}

/// Issue 16's goal: W1 and W2 through `spawnmux::tokio::AsyncMux` within 5 % of the native
/// `Mux`'s wall time, i.e. native ÷ adapter ≥ 1 / 1.05.
fn async_mux_within_5_percent(
    check: &mut impl FnMut(&CaseResult, PeerKind, &str, &str, f64, bool),
    r: &CaseResult,
) {
    check(
        r,
        PeerKind::SpawnmuxTokio,
        "secs",
        "issue 16: wall through AsyncMux within 5 % of the native Mux (native ÷ AsyncMux ≥ 0.95)",
        1.0 / 1.05,
        false,
    );
}

fn goal_table(s: &mut String, figure: &str, goals: Vec<Goal>, load: impl Fn(&str) -> String) {
    let rule = "|---".repeat(4 + figure.matches(" | ").count() + 1);
    let _ = writeln!(
        s,
        "| workload | goal | met | {figure} | load avg |\n{rule}|"
    );
    for g in goals {
        let met = match g.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "?",
        };
        let _ = writeln!(
            s,
            "| {} | {} | {met} | {} | {} |",
            g.workload,
            g.text,
            g.detail,
            load(&g.workload)
        );
    }
}

const NOTES_BEGIN: &str = "<!-- notes:begin (kept when the harness rewrites this file) -->";
const NOTES_END: &str = "<!-- notes:end -->";

fn kept_notes(path: &Path) -> String {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    match (old.find(NOTES_BEGIN), old.find(NOTES_END)) {
        (Some(b), Some(e)) if b < e => old[b + NOTES_BEGIN.len()..e].trim().to_string(),
        _ => "(No notes yet.)".to_string(),
    }
}

fn reproduce(opts: &Options) -> String {
    let mut flags = String::new();
    if opts.quick {
        flags.push_str(" --quick");
    }
    if opts.runs != 3 {
        let _ = write!(flags, " --runs {}", opts.runs);
    }
    if let Some(only) = &opts.only {
        let list: Vec<String> = only.iter().map(|w| w.to_string()).collect();
        let _ = write!(flags, " --only {}", list.join(","));
    }
    format!(
        "cargo build --release -p spawnmux-testbin -p spawnmux-bench && target/release/spawnmux-bench{flags}"
    )
}

/// Writes `BENCHMARKS.md` and `docs/benchmarks.svg` under `dir`.
pub fn write(dir: &Path, opts: &Options, results: &[CaseResult]) -> io::Result<Vec<PathBuf>> {
    let md_path = dir.join("BENCHMARKS.md");
    let svg_path = dir.join("docs").join("benchmarks.svg");
    std::fs::create_dir_all(dir.join("docs"))?;
    let notes = kept_notes(&md_path);
    let old = std::fs::read_to_string(&md_path).unwrap_or_default();
    let mut md = markdown(opts, results, &notes);
    if let Some(block) = crate::runner::kept(&old) {
        // `spawnmux-bench runner`'s section stays until that command rewrites it.
        md = md.replacen("## Notes", &format!("{block}\n## Notes"), 1);
    }
    std::fs::write(&svg_path, svg(results))?;
    std::fs::write(&md_path, md)?;
    Ok(vec![md_path, svg_path])
}

/// The columns of the results table (W3's baseline, `Command::output()`, shares the raw read's).
const COLUMNS: [PeerKind; 9] = [
    PeerKind::Spawnmux,
    PeerKind::SpawnmuxTokio,
    PeerKind::Tokio,
    PeerKind::Tokio8k,
    PeerKind::TokioMt8k,
    PeerKind::AsyncProcess,
    PeerKind::Threads,
    PeerKind::Raw,
    PeerKind::RawGrown,
];

fn column_title(kind: PeerKind) -> &'static str {
    match kind {
        PeerKind::Raw => "baseline: raw 64 KiB read (W1), `Command::output()` (W3)",
        PeerKind::RawGrown => "baseline: raw read, pipe grown to 1 MiB (W1)",
        other => other.label(),
    }
}

/// `YYYY-MM-DD HH:MM UTC`, from the system clock (no date crate).
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rest / 3_600,
        rest % 3_600 / 60
    )
}

fn markdown(opts: &Options, results: &[CaseResult], notes: &str) -> String {
    let m = sys::machine();
    let mut s = String::new();
    let _ = writeln!(s, "# Benchmarks\n");
    let _ = writeln!(
        s,
        "Generated by `crates/spawnmux-bench` (do not edit by hand, except between the notes \
         markers). Every figure is the **median of {} runs**; peers run interleaved (A B C, A B C, \
         ...), each run in a fresh process, and **every run verified that every line and byte of \
         every child and stream arrived** (a loss fails the harness instead of producing a \
         figure).\n",
        opts.runs
    );
    let _ = writeln!(s, "```sh\n{}\n```\n", reproduce(opts));
    if opts.quick {
        let _ = writeln!(
            s,
            "**Quick (smoke) sizes**: these figures are not the benchmark.\n"
        );
    }
    let first_load = results.first().map_or(f64::NAN, |r| r.load.0);
    let last_load = results.last().map_or(f64::NAN, |r| r.load.1);
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(s, "| date | {} (end of the run) |", utc_now());
    let _ = writeln!(s, "| CPU | {} |", m.cpu);
    let _ = writeln!(s, "| cores | {} (`nproc`) |", m.cores);
    let _ = writeln!(s, "| memory | {} |", m.memory);
    let _ = writeln!(s, "| kernel | {} |", m.kernel);
    let _ = writeln!(
        s,
        "| load average (1 min) | {} at the start, {} at the end; per workload in the tables |",
        fmt_num(first_load),
        fmt_num(last_load)
    );
    let _ = writeln!(s, "| rustc | {} |", env!("SPAWNMUX_BENCH_RUSTC"));
    let _ = writeln!(
        s,
        "| crates | spawnmux {}, tokio {}, async-process {}, async-executor {}, async-io {} |",
        env!("CARGO_PKG_VERSION"),
        sys::locked_version("tokio"),
        sys::locked_version("async-process"),
        sys::locked_version("async-executor"),
        sys::locked_version("async-io"),
    );
    let _ = writeln!(
        s,
        "| profile | {} |",
        if cfg!(debug_assertions) {
            "debug (figures not meaningful)"
        } else {
            "release"
        }
    );
    let _ = writeln!(
        s,
        "\nThe machine is shared with other jobs (other engineers' compilers ran during the \
         measurement; see the load averages), so absolute figures are noisy; interleaving \
         spreads that noise over every peer, and the ratios are the figures to read.\n"
    );

    // Summary table.
    let _ = writeln!(s, "## Results\n");
    let _ = writeln!(
        s,
        "Medians. In parentheses: **spawnmux's median ÷ this peer's**, so for times, CPU, memory \
         and latency < 1× means spawnmux is better, and for spawns/s > 1× does. W1 and W2 run \
         twice, with two kinds of children writing 64-byte lines: through a 64 KiB `BufWriter` \
         (65,536-byte writes) and line-buffered (one 64-byte write per line). \"load\" is the \
         1-minute load average before → after the workload.\n"
    );
    let columns: Vec<PeerKind> = COLUMNS
        .into_iter()
        .filter(|&k| {
            results.iter().any(|r| {
                r.peer(k).is_some() || (k == PeerKind::Raw && r.peer(PeerKind::StdOutput).is_some())
            })
        })
        .collect();
    let _ = write!(s, "| workload | figure |");
    for &k in &columns {
        let _ = write!(s, " {} |", column_title(k));
    }
    let _ = writeln!(s, " load |");
    let _ = write!(s, "|---|---|");
    for _ in &columns {
        let _ = write!(s, "---:|");
    }
    let _ = writeln!(s, "---:|");
    for r in results {
        for metric in r.case.metrics() {
            let better = if metric.higher_is_better {
                "higher is better"
            } else {
                "lower is better"
            };
            let _ = write!(s, "| {} | {} ({better}) |", r.case.label(), metric.unit);
            for &kind in &columns {
                let kind = if kind == PeerKind::Raw && r.case.workload == Workload::W3 {
                    PeerKind::StdOutput
                } else {
                    kind
                };
                let _ = write!(s, " {} |", cell(r, kind, metric));
            }
            let _ = writeln!(s, " {} |", r.load());
        }
    }
    let mut unreached = Vec::new();
    for r in results {
        for pr in &r.peers {
            if let Some(why) = pr.skipped() {
                unreached.push(format!("- {}, {}: {why}", r.case.label(), pr.peer.label()));
            }
        }
    }
    if !unreached.is_empty() {
        let _ = writeln!(
            s,
            "\nNot reached on this machine:\n\n{}",
            unreached.join("\n")
        );
    }
    let _ = writeln!(s, "\n![Relative performance](docs/benchmarks.svg)\n");

    // Goals.
    let load_of = |label: &str| {
        results
            .iter()
            .find(|r| r.case.label() == label)
            .map_or(String::new(), CaseResult::load)
    };
    let _ = writeln!(
        s,
        "## Goals of issues 12 (library hot path) and 16 (the tokio adapter), checked against the \
         medians of this run\n"
    );
    let _ = writeln!(
        s,
        "\"met\" judges the ratio of the medians; the next column is the median of the \
         per-round ratios (spawnmux's run ÷ the peer's run of the same round), which cancels \
         load that changed between rounds. Where the two disagree on a goal, the load decided \
         it (see the notes).\n"
    );
    goal_table(
        &mut s,
        "spawnmux ÷ peer (ratio of medians) | median of per-round ratios",
        goals_hot_path(results),
        load_of,
    );
    let _ = writeln!(s, "\n## Earlier goals (issue 6)\n");
    goal_table(&mut s, "figure", goals(results), load_of);

    // Details.
    let _ = writeln!(s, "\n## Workloads and every run\n");
    let _ = writeln!(
        s,
        "W1 and W2 children are this benchmark's own (`spawnmux-bench --child KIND LINES \
         out|both`, `crates/spawnmux-bench/src/child.rs`): 64-byte lines `line <12 digits> \
         ...\\n`, through a 64 KiB `BufWriter` or one `write` per line. The other workloads run \
         `spawnmux-testchild` (`crates/spawnmux-testbin/src/main.rs`). Every peer counts lines \
         where it reads them: spawnmux in its `wait` loop (default settings: reads of up to \
         256 KiB, the pipe grown while reads come back full); tokio and async-process in a task \
         per stream (`BufReader::read_until`, 64 KiB buffer; in W1 and W2 tokio also with \
         `BufReader::new`'s 8 KiB, the configuration of issue 12's harness and of most \
         programs); std in two reader threads per child (`read_until`, 64 KiB); the raw \
         baselines in one blocking `read` loop counting \
         newlines with `memchr`, 64 KiB at a time on a default pipe, or as much as the pipe holds \
         on a pipe grown to 1 MiB (`F_SETPIPE_SZ` right after the spawn). Context switches are \
         the parent's, all threads (`getrusage`): voluntary ones are sleeps, involuntary ones \
         preemptions (runnable, but the CPU went to another process); read calls are the \
         parent's read-family system calls (`/proc/self/io` `syscr`).\n"
    );
    for r in results {
        let _ = writeln!(
            s,
            "### {}: {} (load average {})\n",
            r.case.label(),
            r.case.describe(),
            r.load()
        );
        let keys = detail_keys(r.case.workload);
        let _ = write!(s, "| peer | run |");
        for (_, title) in keys {
            let _ = write!(s, " {title} |");
        }
        let _ = writeln!(s);
        let _ = write!(s, "|---|---|");
        for _ in keys {
            let _ = write!(s, "---:|");
        }
        let _ = writeln!(s);
        for pr in &r.peers {
            for (i, run) in pr.runs.iter().enumerate() {
                let _ = write!(s, "| {} | {} |", pr.peer.label(), i + 1);
                match run {
                    Outcome::Figures(f) => {
                        for (k, _) in keys {
                            let v = f.get(*k).copied().unwrap_or(f64::NAN);
                            let _ = write!(s, " {} |", fmt_num(v));
                        }
                    }
                    Outcome::Skipped(why) => {
                        let _ = write!(s, " not reached: {why} |");
                        for _ in 1..keys.len() {
                            let _ = write!(s, " |");
                        }
                    }
                }
                let _ = writeln!(s);
            }
        }
        let _ = writeln!(s);
    }

    let _ = writeln!(s, "## Notes\n");
    let _ = writeln!(s, "{NOTES_BEGIN}\n{notes}\n{NOTES_END}");
    s
}

/// The figures listed per run in the detail tables.
fn detail_keys(w: Workload) -> &'static [(&'static str, &'static str)] {
    match w {
        Workload::W1 => &[
            ("secs", "seconds"),
            ("mib_s", "MiB/s"),
            ("cpu_s", "parent CPU s"),
            ("reads", "read calls"),
            ("switches", "voluntary context switches"),
            ("preempted", "involuntary context switches"),
        ],
        Workload::W2 => &[
            ("secs", "seconds"),
            ("mlines_s", "M lines/s"),
            ("cpu_s", "parent CPU s"),
            ("reads", "read calls"),
            ("switches", "voluntary context switches"),
            ("preempted", "involuntary context switches"),
            ("rss_base_mib", "RSS at start MiB"),
            ("hwm_mib", "peak RSS MiB"),
        ],
        Workload::W3 => &[
            ("secs", "seconds"),
            ("spawns_s", "spawns/s"),
            ("us_per_spawn", "µs/spawn"),
        ],
        Workload::W4 => &[
            ("secs", "seconds"),
            ("spawn_secs", "s until all spawned"),
            ("threads_base", "threads at start"),
            ("threads_peak", "threads (peak)"),
            ("rss_base_kib", "RSS at start (KiB)"),
            ("hwm_kib", "peak RSS (KiB)"),
            ("kib_per_child", "KiB/child"),
            ("fd_limit", "fd limit"),
        ],
        Workload::W5 => &[
            ("idle_secs", "seconds"),
            ("cpu_ms", "CPU ms"),
            ("switches", "voluntary context switches"),
        ],
        Workload::W6 => &[
            ("p50_us", "p50 µs"),
            ("p99_us", "p99 µs"),
            ("mean_us", "mean µs"),
        ],
    }
}

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Horizontal bars: each peer's performance relative to spawnmux (= 1, the dashed line),
/// longer is better. W5 (CPU near zero) and thread counts are left to the table.
fn svg(results: &[CaseResult]) -> String {
    const WIDTH: f64 = 930.0;
    // Wide enough for the longest peer label, "spawnmux AsyncMux (tokio current_thread)".
    const LABEL_W: f64 = 300.0;
    const BAR_MAX: f64 = 470.0;
    const ROW: f64 = 20.0;
    const TITLE: f64 = 26.0;
    // (title, [(peer, relative standing, bar text)])
    type Bars = Vec<(PeerKind, Option<f64>, String)>;
    let mut groups: Vec<(String, Bars)> = Vec::new();
    let mut top = 1.0f64;
    for r in results {
        for metric in r.case.metrics() {
            if r.case.workload == Workload::W5 || metric.key == "extra_threads" {
                continue;
            }
            let better = if metric.higher_is_better {
                "higher is better"
            } else {
                "lower is better"
            };
            let title = format!("{}: {} ({better})", r.case.label(), metric.unit);
            let mut rows = Vec::new();
            for pr in &r.peers {
                let value = pr.median(metric.key);
                let rel = if pr.peer == PeerKind::Spawnmux {
                    value.map(|_| 1.0)
                } else {
                    r.relative(pr.peer, metric)
                };
                let text = match (pr.skipped(), rel, value) {
                    (Some(_), _, _) => "not reached".to_string(),
                    (None, Some(x), Some(v)) => {
                        format!("{x:.2}×  ({} {})", fmt_num(v), metric.unit)
                    }
                    _ => "?".to_string(),
                };
                if let Some(x) = rel {
                    top = top.max(x);
                }
                rows.push((pr.peer, rel, text));
            }
            groups.push((title, rows));
        }
    }
    let scale_max = (top * 1.05).min(4.0);
    let rows: usize = groups.iter().map(|(_, r)| r.len()).sum();
    let height = 60.0 + groups.len() as f64 * (TITLE + 8.0) + rows as f64 * ROW + 20.0;
    let x0 = LABEL_W;
    let px = |x: f64| x0 + BAR_MAX * (x.min(scale_max) / scale_max);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="10" y="22" font-size="15" font-weight="bold">Performance relative to spawnmux (1.0 = spawnmux, longer bar = better)</text>"#
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="40" fill="#555">medians; for "lower is better" figures the bar is spawnmux ÷ peer</text>"##
    );
    let mut y = 60.0;
    for (title, rows) in &groups {
        y += TITLE;
        let _ = writeln!(
            s,
            r#"<text x="10" y="{:.0}" font-weight="bold">{}</text>"#,
            y - 8.0,
            esc(title)
        );
        let group_top = y;
        for (peer, rel, text) in rows {
            let color = match peer {
                PeerKind::Spawnmux => "#2b6cb0",
                PeerKind::SpawnmuxNoDeathSignal => "#63b3ed",
                PeerKind::Raw | PeerKind::RawGrown | PeerKind::StdOutput => "#dd6b20",
                _ => "#a0aec0",
            };
            let _ = writeln!(
                s,
                r#"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text>"#,
                x0 - 8.0,
                y + 13.0,
                esc(peer.label())
            );
            let end = rel.map_or(x0, px);
            let _ = writeln!(
                s,
                r#"<rect x="{x0:.0}" y="{:.0}" width="{:.1}" height="{:.0}" fill="{color}"/>"#,
                y + 2.0,
                (end - x0).max(0.5),
                ROW - 5.0
            );
            let clipped = rel.is_some_and(|x| x > scale_max);
            let _ = writeln!(
                s,
                r#"<text x="{:.0}" y="{:.0}">{}{}</text>"#,
                end + 6.0,
                y + 13.0,
                if clipped { "» " } else { "" },
                esc(text)
            );
            y += ROW;
        }
        let one = px(1.0);
        let _ = writeln!(
            s,
            r##"<line x1="{one:.1}" y1="{:.0}" x2="{one:.1}" y2="{:.0}" stroke="#1a202c" stroke-dasharray="3,3"/>"##,
            group_top, y
        );
        y += 8.0;
    }
    let _ = writeln!(s, "</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }

    #[test]
    fn relative_is_oriented() {
        assert_eq!(relative(100.0, 50.0, true), Some(0.5));
        assert_eq!(relative(2.0, 4.0, false), Some(0.5));
        assert_eq!(relative(0.0, 4.0, false), None);
    }
}
