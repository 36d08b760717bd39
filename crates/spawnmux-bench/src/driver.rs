//! The harness: runs every (workload, peer) in fresh worker processes, interleaved, and
//! writes the report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use crate::cli::{self, Options};
use crate::report::{self, CaseResult, Outcome, PeerRuns};
use crate::sys;
use crate::workloads::{Case, PeerKind, Sizes};

pub fn main(args: &[String]) -> ExitCode {
    cli::subcommand("spawnmux-bench", cli::USAGE, args, cli::parse, run)
}

/// The test child: `--testchild`, `$SPAWNMUX_TESTCHILD`, or next to this binary.
fn testchild(opts: &Options) -> Result<PathBuf, String> {
    let path = match opts
        .testchild
        .clone()
        .or_else(|| std::env::var_os("SPAWNMUX_TESTCHILD").map(PathBuf::from))
    {
        Some(p) => p,
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find this program's path: {e}"))?
            .with_file_name("spawnmux-testchild"),
    };
    if !path.is_file() {
        let profile = std::env::current_exe()
            .ok()
            .and_then(|p| Some(p.parent()?.file_name()?.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let release = if profile == "debug" { "" } else { "--release " };
        return Err(format!(
            "the test child `{}` does not exist. Build it first:\n  \
             cargo build {release}-p spawnmux-testbin\n\
             (or pass --testchild PATH / set SPAWNMUX_TESTCHILD)",
            path.display()
        ));
    }
    Ok(path)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(opts: &Options) -> Result<(), String> {
    let child = testchild(opts)?;
    let me = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let sizes = if opts.quick {
        Sizes::QUICK
    } else {
        Sizes::FULL
    };
    let cases: Vec<Case> = Case::all(&sizes, &opts.kinds)
        .into_iter()
        .filter(|c| opts.only.as_ref().is_none_or(|o| o.contains(&c.workload)))
        .collect();
    let complete = !opts.quick && opts.only.is_none() && !opts.extra;
    let out_dir = opts.out.clone().unwrap_or_else(|| {
        if complete {
            workspace_root()
        } else {
            workspace_root().join("target/bench")
        }
    });
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build; figures are only meaningful from --release");
    }
    let mut results = Vec::new();
    for case in cases {
        let load_before = sys::load_average();
        eprintln!(
            "== {}: {} (load average {})",
            case.label(),
            case.describe(),
            report::fmt_num(load_before)
        );
        let peers = case.peers(opts.extra);
        let mut runs: Vec<PeerRuns> = peers
            .iter()
            .map(|&peer| PeerRuns {
                peer,
                runs: Vec::new(),
            })
            .collect();
        for r in 0..opts.runs {
            // Interleaved: A B C, A B C, ... so that machine noise spreads over every peer.
            for pr in &mut runs {
                if pr.skipped().is_some() {
                    continue;
                }
                let outcome = worker(&me, &child, case, pr.peer)?;
                eprintln!(
                    "   run {}/{} {:<30} {}",
                    r + 1,
                    opts.runs,
                    pr.peer.label(),
                    outcome.brief(&case)
                );
                pr.runs.push(outcome);
            }
        }
        let result = CaseResult {
            case,
            peers: runs,
            load: (load_before, sys::load_average()),
        };
        println!("{}", report::summary_line(&result));
        results.push(result);
    }
    println!("every run verified: every line of every child and stream arrived");
    let written = report::write(&out_dir, opts, &results)
        .map_err(|e| format!("writing the report to {}: {e}", out_dir.display()))?;
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Runs one measurement in a fresh process.
fn worker(me: &Path, child: &Path, case: Case, peer: PeerKind) -> Result<Outcome, String> {
    let mut cmd = Command::new(me);
    cmd.arg("--worker")
        .arg(case.workload.to_string())
        .arg(peer.id())
        .arg(child)
        .arg(case.n.to_string())
        .arg(case.m.to_string());
    if let Some(kind) = case.kind {
        cmd.arg(kind.id());
    }
    let output = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("starting a worker: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{} with {} failed ({}); see the message above",
            case.label(),
            peer.label(),
            output.status
        ));
    }
    for line in stdout.lines() {
        if let Some(fields) = line.strip_prefix("RESULT ") {
            let mut figures = BTreeMap::new();
            for field in fields.split_whitespace() {
                let (k, v) = field
                    .split_once('=')
                    .ok_or_else(|| format!("bad worker output `{line}`"))?;
                let v: f64 = v
                    .parse()
                    .map_err(|_| format!("bad worker output `{line}`"))?;
                figures.insert(k.to_string(), v);
            }
            return Ok(Outcome::Figures(figures));
        }
        if let Some(why) = line.strip_prefix("SKIP ") {
            return Ok(Outcome::Skipped(why.to_string()));
        }
    }
    Err(format!(
        "{} with {}: the worker printed no result",
        case.label(),
        peer.label()
    ))
}
