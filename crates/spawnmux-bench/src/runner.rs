//! The `runner` workload: `spawnmux run` as a whole program, side by side with the tools people
//! run helper processes with: concurrently (npm) and honcho (pip).
//!
//! Helpers: `spawnmux-testchild lines N out barrier DIR H` as a shell command, the same for
//! every tool: N lines `out <i>` through a 64 KiB `BufWriter`, then wait until all H helpers
//! have written theirs (honcho stops every process as soon as one ends; the barrier makes them
//! end together, for every tool alike). Each tool's log goes to a file. Sizes: 1 helper ×
//! 2,000,000 lines and 50 helpers × 20,000 lines.
//!
//! Figures per run (the tool started fresh, runs interleaved, the median of `--runs`):
//! - wall time, from spawning the tool until it has exited;
//! - CPU: user + system of the tool **and every process it started** (helpers and their shells
//!   included, the same work for every tool), from `wait4`; and the tool process's own CPU
//!   (`/proc/<pid>/stat`; honcho reads each helper in a forked worker process of its own,
//!   which that figure leaves out);
//! - peak RSS of the tool process (`VmHWM`, sampled every 20 ms while it runs);
//! - write calls of the tool process (`/proc/<pid>/io` `syscw`, all write-family system calls,
//!   read after it exited and before it is reaped: `waitid(WEXITED | WNOWAIT)`);
//! - broken lines: log lines that are not exactly one expected helper line under its prefix
//!   (in order per helper), and missing lines.
//!
//! The peers are installed under the target directory by their ordinary clients when npm / pip
//! exist (`npm install --prefix <target>/bench-tools concurrently@9`, `pip install --target
//! <target>/bench-tools/honcho honcho`), else reported absent.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::report::{fmt_num, median};
use crate::sys;

pub const USAGE: &str = "\
usage: spawnmux-bench runner [--quick] [--runs N] [--out DIR] [--testchild PATH]
                             [--spawnmux PATH] [--no-peers]

  The runner workload: `spawnmux run` against concurrently and honcho, logs to a file.
  --quick           1 x 2,000 and 5 x 500 lines
  --runs N          runs per tool and size, interleaved (default 3)
  --out DIR         where BENCHMARKS.md's runner section is written (default: the workspace
                    root for a full run, else target/bench)
  --spawnmux PATH   the spawnmux binary (default: next to this binary)
  --no-peers        spawnmux only

Build first:
  cargo build --release -p spawnmux-cli -p spawnmux-testbin -p spawnmux-bench
  target/release/spawnmux-bench runner";

const BEGIN: &str = "<!-- runner:begin (written by `spawnmux-bench runner`) -->";
const END: &str = "<!-- runner:end -->";

#[derive(Debug, Clone, Default)]
struct Options {
    quick: bool,
    runs: usize,
    out: Option<PathBuf>,
    testchild: Option<PathBuf>,
    spawnmux: Option<PathBuf>,
    no_peers: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut o = Options {
        runs: 3,
        ..Options::default()
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value"))
        };
        match a.as_str() {
            "--quick" => o.quick = true,
            "--no-peers" => o.no_peers = true,
            "--runs" => {
                let v = value()?;
                o.runs = v
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| format!("--runs: `{v}` is not a positive number"))?;
            }
            "--out" => o.out = Some(value()?.into()),
            "--testchild" => o.testchild = Some(value()?.into()),
            "--spawnmux" => o.spawnmux = Some(value()?.into()),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(o))
}

/// A contender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Spawnmux,
    SpawnmuxNoTimestamps,
    SpawnmuxJson,
    Concurrently,
    Honcho,
}

impl Tool {
    const ALL: [Tool; 5] = [
        Tool::Spawnmux,
        Tool::SpawnmuxNoTimestamps,
        Tool::SpawnmuxJson,
        Tool::Concurrently,
        Tool::Honcho,
    ];

    fn label(self) -> &'static str {
        match self {
            Tool::Spawnmux => "spawnmux (text)",
            Tool::SpawnmuxNoTimestamps => "spawnmux (text, --no-timestamps)",
            Tool::SpawnmuxJson => "spawnmux (--format json)",
            Tool::Concurrently => "concurrently 9",
            Tool::Honcho => "honcho",
        }
    }

    fn format(self) -> LogFormat {
        match self {
            Tool::Spawnmux => LogFormat::Spawnmux { timestamps: true },
            Tool::SpawnmuxNoTimestamps => LogFormat::Spawnmux { timestamps: false },
            Tool::SpawnmuxJson => LogFormat::SpawnmuxJson,
            Tool::Concurrently => LogFormat::Concurrently,
            Tool::Honcho => LogFormat::Honcho,
        }
    }
}

/// How a tool's log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `[HH:MM:SS ]name<pad> | line`, own lines under the name `spawnmux`.
    Spawnmux { timestamps: bool },
    /// One JSON object per line; lifecycle records have `event`.
    SpawnmuxJson,
    /// `[name] line`; own lines `[name] <command> exited with code N`.
    Concurrently,
    /// `HH:MM:SS name.1<pad> | line`; own lines under the name `system`.
    Honcho,
}

/// One log line, as read back.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// The tool's own message (started, exited).
    Own,
    /// A helper's line: helper name (as configured), text.
    Helper(String, String),
    /// Neither: a cut or mixed line.
    Broken,
}

fn strip_clock(l: &str) -> Option<&str> {
    let b = l.as_bytes();
    let digits = [0, 1, 3, 4, 6, 7]
        .iter()
        .all(|&i| b.get(i).is_some_and(u8::is_ascii_digit));
    (digits && b[2] == b':' && b[5] == b':' && b.get(8) == Some(&b' ')).then(|| &l[9..])
}

pub fn parse_line(format: LogFormat, l: &str) -> Line {
    let helper = |name: &str, text: &str| Line::Helper(name.to_string(), text.to_string());
    match format {
        LogFormat::Spawnmux { timestamps } => {
            let Some(rest) = (if timestamps { strip_clock(l) } else { Some(l) }) else {
                return Line::Broken;
            };
            let Some((name, after)) = rest.split_once(' ') else {
                return Line::Broken;
            };
            let after = after.trim_start_matches(' ');
            match after
                .strip_prefix("| ")
                .or_else(|| after.strip_prefix("! "))
            {
                Some(_) if name == "spawnmux" => Line::Own,
                Some(text) => helper(name, text),
                None => Line::Broken,
            }
        }
        LogFormat::SpawnmuxJson => match serde_json::from_str::<serde_json::Value>(l) {
            Ok(r) if r.get("event").is_some() => Line::Own,
            Ok(r) => match (r["helper"].as_str(), r["line"].as_str()) {
                (Some(h), Some(t)) if r.as_object().is_some_and(|o| o.len() == 5) => helper(h, t),
                _ => Line::Broken,
            },
            Err(_) => Line::Broken,
        },
        LogFormat::Concurrently => match l.strip_prefix('[').and_then(|r| r.split_once("] ")) {
            Some((_, text)) if !text.starts_with("out ") && text.contains(" exited with code ") => {
                Line::Own
            }
            Some((name, text)) => helper(name, text),
            None => Line::Broken,
        },
        LogFormat::Honcho => {
            let Some((name, text)) = strip_clock(l).and_then(|r| r.split_once(" | ")) else {
                return Line::Broken;
            };
            match name.trim_end() {
                "system" => Line::Own,
                n => helper(n.strip_suffix(".1").unwrap_or(n), text),
            }
        }
    }
}

/// What a log holds of `helpers` helpers (`h00`, `h01`, …) writing `out 0` … `out <lines-1>`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub broken: u64,
    pub missing: u64,
}

pub fn tally(format: LogFormat, log: &str, helpers: usize, lines: usize) -> Tally {
    let mut next = vec![0usize; helpers];
    let mut t = Tally::default();
    for l in log.lines() {
        let (name, text) = match parse_line(format, l) {
            Line::Own => continue,
            Line::Helper(name, text) => (name, text),
            Line::Broken => {
                t.broken += 1;
                continue;
            }
        };
        let h = name
            .strip_prefix('h')
            .filter(|n| n.len() == 2)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|h| *h < helpers);
        match h {
            Some(h) if next[h] < lines && text == format!("out {}", next[h]) => next[h] += 1,
            _ => t.broken += 1,
        }
    }
    t.missing = next.iter().map(|n| (lines - n) as u64).sum();
    t
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
struct Run {
    wall: f64,
    cpu_all: f64,
    cpu_own: Option<f64>,
    rss_kib: Option<u64>,
    writes: Option<u64>,
    log_bytes: u64,
    tally: Tally,
}

struct Env {
    testchild: PathBuf,
    spawnmux: PathBuf,
    concurrently: Option<PathBuf>,
    honcho: Option<PathBuf>,
    scratch: PathBuf,
}

fn target_dir() -> PathBuf {
    // <target>/release/spawnmux-bench
    std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

fn quiet(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// concurrently's launcher, installed by npm under `tools` if npm exists.
fn install_concurrently(tools: &Path) -> Result<PathBuf, String> {
    let bin = tools.join("node_modules/.bin/concurrently");
    if bin.exists() {
        return Ok(bin);
    }
    if !quiet(Command::new("npm").arg("--version")) {
        return Err("npm not found".into());
    }
    eprintln!(
        "installing concurrently@9 with npm into {}",
        tools.display()
    );
    let mut npm = Command::new("npm");
    npm.args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(tools)
        .arg("concurrently@9");
    if quiet(&mut npm) && bin.exists() {
        Ok(bin)
    } else {
        Err("`npm install concurrently@9` failed".into())
    }
}

/// honcho's package directory (for PYTHONPATH), installed by pip under `tools` if pip exists.
fn install_honcho(tools: &Path) -> Result<PathBuf, String> {
    let dir = tools.join("honcho");
    if dir.join("honcho").is_dir() {
        return Ok(dir);
    }
    if !quiet(Command::new("python3").args(["-m", "pip", "--version"])) {
        return Err("python3 -m pip not found".into());
    }
    eprintln!("installing honcho with pip into {}", dir.display());
    let mut pip = Command::new("python3");
    pip.args(["-m", "pip", "install", "--quiet", "--target"])
        .arg(&dir)
        .arg("honcho");
    if quiet(&mut pip) && dir.join("honcho").is_dir() {
        Ok(dir)
    } else {
        Err("`pip install honcho` failed".into())
    }
}

static RUN_NO: AtomicU64 = AtomicU64::new(0);

fn run_once(env: &Env, tool: Tool, helpers: usize, lines: usize) -> Result<Run, String> {
    let dir = env
        .scratch
        .join(format!("run-{}", RUN_NO.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    let barrier = dir.join("barrier");
    std::fs::create_dir_all(&barrier).map_err(|e| format!("{}: {e}", barrier.display()))?;
    let shell = format!(
        "'{}' lines {lines} out barrier '{}' {helpers}",
        env.testchild.display(),
        barrier.display()
    );
    let names: Vec<String> = (0..helpers).map(|h| format!("h{h:02}")).collect();
    let procfile: String = names.iter().map(|n| format!("{n}: {shell}\n")).collect();
    std::fs::write(dir.join("Procfile"), procfile).map_err(|e| e.to_string())?;
    let mut cmd = match tool {
        Tool::Spawnmux | Tool::SpawnmuxNoTimestamps | Tool::SpawnmuxJson => {
            let mut c = Command::new(&env.spawnmux);
            c.args(["run", "--color", "never"]);
            match tool {
                Tool::SpawnmuxNoTimestamps => c.arg("--no-timestamps"),
                Tool::SpawnmuxJson => c.args(["--format", "json"]),
                _ => &mut c,
            };
            c
        }
        Tool::Concurrently => {
            let mut c = Command::new(env.concurrently.as_ref().ok_or("no concurrently")?);
            c.args(["-n", &names.join(",")]);
            c.args(names.iter().map(|_| &shell));
            c
        }
        Tool::Honcho => {
            let mut c = Command::new("python3");
            c.args(["-m", "honcho", "start", "--no-colour"])
                .env("PYTHONPATH", env.honcho.as_ref().ok_or("no honcho")?);
            c
        }
    };
    let log_path = dir.join("log");
    let log = std::fs::File::create(&log_path).map_err(|e| e.to_string())?;
    let err = std::fs::File::create(dir.join("stderr")).map_err(|e| e.to_string())?;
    cmd.current_dir(&dir)
        .env_remove("NO_COLOR")
        .env_remove("FORCE_COLOR")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err);
    let start = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| format!("starting {}: {e}", tool.label()))?;
    let pid = child.id();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = None;
            while !stop.load(Ordering::Relaxed) {
                if let Some(k) = sys::hwm_kib(pid) {
                    peak = Some(k);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };
    sys::wait_exited(pid).map_err(|e| format!("waitid: {e}"))?;
    let wall = start.elapsed().as_secs_f64();
    let (cpu_own, writes) = sys::exited_figures(pid);
    stop.store(true, Ordering::Relaxed);
    let rss_kib = sampler.join().ok().flatten();
    let (ok, cpu_all) = sys::reap(pid).map_err(|e| format!("wait4: {e}"))?;
    drop(child);
    if !ok {
        let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap_or_default();
        return Err(format!("{} failed: {}", tool.label(), stderr.trim()));
    }
    let text = std::fs::read(&log_path).map_err(|e| e.to_string())?;
    let log_bytes = text.len() as u64;
    let tally = tally(
        tool.format(),
        &String::from_utf8_lossy(&text),
        helpers,
        lines,
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Run {
        wall,
        cpu_all: cpu_all.as_secs_f64(),
        cpu_own: cpu_own.map(|d| d.as_secs_f64()),
        rss_kib,
        writes,
        log_bytes,
        tally,
    })
}

struct Row {
    tool: Tool,
    runs: Vec<Run>,
    absent: Option<String>,
}

impl Row {
    fn med(&self, f: impl Fn(&Run) -> Option<f64>) -> Option<f64> {
        median(self.runs.iter().filter_map(f).collect())
    }
}

pub fn main(args: &[String]) -> ExitCode {
    crate::cli::subcommand("spawnmux-bench runner", USAGE, args, parse, run)
}

fn run(opts: &Options) -> Result<(), String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let beside = |name: &str| me.with_file_name(name);
    let testchild = opts
        .testchild
        .clone()
        .or_else(|| std::env::var_os("SPAWNMUX_TESTCHILD").map(PathBuf::from))
        .unwrap_or_else(|| beside("spawnmux-testchild"));
    let spawnmux = opts.spawnmux.clone().unwrap_or_else(|| beside("spawnmux"));
    // Absolute: the tools run in a directory of their own.
    let absolute = |p: &Path| {
        std::fs::canonicalize(p)
            .map_err(|e| format!("{}: {e}; build it first:\n{USAGE}", p.display()))
    };
    let (testchild, spawnmux) = (absolute(&testchild)?, absolute(&spawnmux)?);
    let target = target_dir();
    let tools = target.join("bench-tools");
    let (concurrently, honcho) = if opts.no_peers {
        let no = || Err("not run (--no-peers)".to_string());
        (no(), no())
    } else {
        let _ = std::fs::create_dir_all(&tools);
        (install_concurrently(&tools), install_honcho(&tools))
    };
    let scratch = target.join("bench-runner");
    let env = Env {
        testchild,
        spawnmux,
        concurrently: concurrently.as_ref().ok().cloned(),
        honcho: honcho.as_ref().ok().cloned(),
        scratch: scratch.clone(),
    };
    let sizes: [(usize, usize); 2] = if opts.quick {
        [(1, 2_000), (5, 500)]
    } else {
        [(1, 2_000_000), (50, 20_000)]
    };
    if cfg!(debug_assertions) {
        eprintln!(
            "note: this is a debug build of the harness (spawnmux is whichever binary was given)"
        );
    }
    let mut results = Vec::new();
    for (helpers, lines) in sizes {
        eprintln!("== runner: {helpers} helper(s) x {lines} lines, log to a file");
        let mut rows: Vec<Row> = Tool::ALL
            .iter()
            .map(|&tool| Row {
                tool,
                runs: Vec::new(),
                absent: match tool {
                    Tool::Concurrently => concurrently.as_ref().err().cloned(),
                    Tool::Honcho => honcho.as_ref().err().cloned(),
                    _ => None,
                },
            })
            .collect();
        for r in 0..opts.runs {
            for row in rows.iter_mut().filter(|row| row.absent.is_none()) {
                let run = run_once(&env, row.tool, helpers, lines)?;
                eprintln!(
                    "   run {}/{} {:<34} {:.2} s wall, {:.2} s CPU, {} writes, {} broken, {} missing",
                    r + 1,
                    opts.runs,
                    row.tool.label(),
                    run.wall,
                    run.cpu_all,
                    run.writes.map_or("?".into(), |w| w.to_string()),
                    run.tally.broken,
                    run.tally.missing
                );
                let spawnmux = !matches!(row.tool, Tool::Concurrently | Tool::Honcho);
                if spawnmux && run.tally != Tally::default() {
                    return Err(format!(
                        "{}: {} broken and {} missing lines",
                        row.tool.label(),
                        run.tally.broken,
                        run.tally.missing
                    ));
                }
                row.runs.push(run);
            }
        }
        results.push(((helpers, lines), rows));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let section = section(opts, &results);
    println!("{section}");
    let complete = !opts.quick && !opts.no_peers;
    let dir = opts.out.clone().unwrap_or_else(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        if complete {
            root
        } else {
            root.join("target/bench")
        }
    });
    let path = dir.join("BENCHMARKS.md");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    std::fs::write(&path, splice(&old, &section)).map_err(|e| e.to_string())?;
    println!("wrote {}", path.display());
    Ok(())
}

/// `old` with its runner section replaced by `section` (or inserted before `## Notes`, or
/// appended).
pub fn splice(old: &str, section: &str) -> String {
    let block = format!("{BEGIN}\n{section}\n{END}\n");
    match (old.find(BEGIN), old.find(END)) {
        (Some(b), Some(e)) if b < e => {
            let e = e + END.len();
            let e = e + usize::from(old[e..].starts_with('\n'));
            format!("{}{block}{}", &old[..b], &old[e..])
        }
        _ => match old.find("## Notes") {
            Some(n) => format!("{}{block}\n{}", &old[..n], &old[n..]),
            None => format!("{old}\n{block}"),
        },
    }
}

/// The runner section of `old` (to keep when the W1..W6 report rewrites the file).
pub fn kept(old: &str) -> Option<String> {
    let b = old.find(BEGIN)?;
    let e = old[b..].find(END)? + b + END.len();
    Some(format!("{}\n", &old[b..e]))
}

type Results = Vec<((usize, usize), Vec<Row>)>;

fn section(opts: &Options, results: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## The runner's log (`spawnmux run` vs concurrently and honcho)\n"
    );
    let m = sys::machine();
    let _ = writeln!(
        s,
        "`target/release/spawnmux-bench runner{}{}` (issue 11 part 4), release build, same machine as \
         above ({} cores, {}), measured in one run: medians of {} interleaved runs. Each \
         helper is `spawnmux-testchild lines N out barrier DIR H` run by a shell (a 64 KiB \
         `BufWriter`, lines `out <i>`, then all helpers end together: honcho stops every \
         process when the first one ends); the tool's stdout is a file. CPU counts the tool \
         **and everything it started** (helpers and shells, the same work for every tool; \
         `wait4`); \"own CPU\" is the tool process alone (honcho reads helpers in forked \
         workers, which it leaves out). Peak RSS is the tool process's `VmHWM`. Writes are \
         the write-family system calls of its main thread, which writes the log \
         (`/proc/<pid>/task/<pid>/io` `syscw`, read before reaping; `/proc/<pid>/io` would add \
         every reaped helper's writes). A broken line is a log line that is not exactly one expected helper line under its \
         prefix, in order.\n",
        if opts.quick { " --quick" } else { "" },
        if opts.runs != 3 {
            format!(" --runs {}", opts.runs)
        } else {
            String::new()
        },
        m.cores,
        m.cpu,
        opts.runs
    );
    let _ = writeln!(
        s,
        "| helpers × lines | tool | wall s | vs concurrently | vs honcho | CPU s | own CPU s | peak RSS MiB | writes | log KiB per write | broken | missing |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let f = |v: Option<f64>| v.map_or_else(|| "".to_string(), fmt_num);
    // Counts: whole numbers (a median of 3 counts is one of them).
    let n = |v: Option<f64>| match v {
        Some(v) if v >= 1000.0 => fmt_num(v.round()),
        Some(v) => format!("{v:.0}"),
        None => String::new(),
    };
    for ((helpers, lines), rows) in results {
        let wall_of = |t: Tool| {
            rows.iter()
                .find(|r| r.tool == t && r.absent.is_none())
                .and_then(|r| r.med(|x| Some(x.wall)))
        };
        let (conc, honcho) = (wall_of(Tool::Concurrently), wall_of(Tool::Honcho));
        for row in rows {
            let size = format!("{helpers} × {}", fmt_num(*lines as f64));
            if let Some(why) = &row.absent {
                let _ = writeln!(
                    s,
                    "| {size} | {} | absent: {why} | | | | | | | | | |",
                    row.tool.label()
                );
                continue;
            }
            let wall = row.med(|x| Some(x.wall));
            let ratio = |peer: Option<f64>| match (wall, peer) {
                (Some(w), Some(p)) if p > 0.0 => format!("{:.2}×", w / p),
                _ => String::new(),
            };
            let per_write = row.med(|x| {
                x.writes
                    .filter(|w| *w > 0)
                    .map(|w| x.log_bytes as f64 / 1024.0 / w as f64)
            });
            let _ = writeln!(
                s,
                "| {size} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.tool.label(),
                f(wall),
                ratio(conc),
                ratio(honcho),
                f(row.med(|x| Some(x.cpu_all))),
                f(row.med(|x| x.cpu_own)),
                f(row.med(|x| x.rss_kib.map(|k| k as f64 / 1024.0))),
                n(row.med(|x| x.writes.map(|w| w as f64))),
                f(per_write),
                n(row.med(|x| Some(x.tally.broken as f64))),
                n(row.med(|x| Some(x.tally.missing as f64))),
            );
        }
    }
    let _ = writeln!(
        s,
        "\n\"vs\" is the tool's median wall time ÷ the peer's (< 1: faster). Every run:\n"
    );
    let _ = writeln!(s, "| helpers × lines | tool | run | wall s | CPU s | writes | log bytes | broken | missing |\n|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for ((helpers, lines), rows) in results {
        for row in rows {
            for (i, r) in row.runs.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "| {helpers} × {} | {} | {} | {:.2} | {:.2} | {} | {} | {} | {} |",
                    fmt_num(*lines as f64),
                    row.tool.label(),
                    i + 1,
                    r.wall,
                    r.cpu_all,
                    r.writes.map_or("".into(), |w| w.to_string()),
                    r.log_bytes,
                    r.tally.broken,
                    r.tally.missing
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_lines_are_counted_in_every_format() {
        let good = "12:00:00 spawnmux | h00 started\n12:00:00 h00      | out 0\n12:00:00 h01      | out 0\n12:00:00 h00      | out 1\n12:00:01 h01      ! out 1\n";
        assert_eq!(
            tally(LogFormat::Spawnmux { timestamps: true }, good, 2, 2),
            Tally::default()
        );
        // h01's line cut by h00's, a duplicate, a line with no prefix.
        let bad = "12:00:00 h00      | out 0\n12:00:00 h01      | ou12:00:00 h00      | out 1\n12:00:00 h00      | out 1\n12:00:00 h00      | out 1\nout 0\nh01      | out 0\n";
        assert_eq!(
            tally(LogFormat::Spawnmux { timestamps: true }, bad, 2, 2),
            Tally {
                broken: 4,
                missing: 2
            }
        );
        let conc =
            "[h00] out 0\n[h01] out 0[h00] out 1\n[h00] sh -c x exited with code 0\n[h01] out 1\n";
        assert_eq!(
            tally(LogFormat::Concurrently, conc, 2, 2),
            Tally {
                broken: 2,
                missing: 3
            }
        );
        let honcho = "12:00:00 system | h00.1 started (pid=1)\n12:00:00 h00.1  | out 0\n12:00:00 h00.1  | out 1\n";
        assert_eq!(tally(LogFormat::Honcho, honcho, 1, 2), Tally::default());
        let json = "{\"ts\":\"x\",\"helper\":\"h00\",\"event\":\"start\"}\n{\"ts\":\"x\",\"helper\":\"h00\",\"stream\":\"stdout\",\"level\":\"info\",\"line\":\"out 0\"}\n{\"ts\":\"x\",\"helper\":\"h00\",\"stream\":\"stdout\",\"level\":\"info\",\"line\":\"out\"}\n{\"ts\":\n";
        assert_eq!(
            tally(LogFormat::SpawnmuxJson, json, 1, 1),
            Tally {
                broken: 2,
                missing: 0
            }
        );
        assert_eq!(
            parse_line(LogFormat::Spawnmux { timestamps: false }, "h00 | out 0"),
            Line::Helper("h00".into(), "out 0".into())
        );
    }

    #[test]
    fn the_section_is_replaced_or_inserted() {
        let doc = "# B\n\n## Notes\n\nn\n";
        let once = splice(doc, "S1");
        assert!(
            once.contains(&format!("{BEGIN}\nS1\n{END}\n\n## Notes")),
            "{once}"
        );
        let twice = splice(&once, "S2");
        assert_eq!(twice, once.replace("S1", "S2"));
        assert_eq!(kept(&twice), Some(format!("{BEGIN}\nS2\n{END}\n")));
    }
}
