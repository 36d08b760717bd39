//! Command-line options of the harness.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::child::ChildKind;
use crate::workloads::Workload;

pub const USAGE: &str = "\
usage: spawnmux-bench [--quick] [--runs N] [--only W1,W3,...] [--kinds LIST] [--discrepancy]
                      [--out DIR] [--testchild PATH]
       spawnmux-bench runner --help   (`spawnmux run` vs concurrently and honcho)
       spawnmux-bench cost --help     (cost model: RSS per child, pipe memory per stream)

  --quick           small sizes, for a smoke run (16 MiB, 8 children x 10k lines, 100 spawns,
                    200/500 children, 1 s idle, 1000 round trips)
  --runs N          runs per peer and workload, interleaved; the median is reported (default 3)
  --only LIST       only these workloads (W1..W6, comma-separated)
  --kinds LIST      the child kinds of W1 and W2 (default bufwriter,line): bufwriter (64-byte
                    lines through a 64 KiB BufWriter), line (one write per line), blocks
                    (64,000-byte writes, the former W1 child)
  --discrepancy     W1 and W2 with all three child kinds, and W1 also with tokio reading through
                    an 8 KiB BufReader on a 2-worker runtime (why two harnesses disagreed;
                    BENCHMARKS.md notes)
  --out DIR         where BENCHMARKS.md and docs/benchmarks.svg are written (default: the
                    workspace root for a full run of every workload, else target/bench)
  --testchild PATH  the spawnmux-testchild binary (default: $SPAWNMUX_TESTCHILD, else next to
                    this binary)

Build both binaries first:
  cargo build --release -p spawnmux-testbin -p spawnmux-bench && target/release/spawnmux-bench";

/// Runs a command (`spawnmux-bench`, `spawnmux-bench runner`, ...; `name` prefixes its
/// messages): `parse` gives its options (`None`: help asked, print `usage`), then `run`. A usage
/// error exits with 2, a failure with 1.
pub fn subcommand<O>(
    name: &str,
    usage: &str,
    args: &[String],
    parse: impl Fn(&[String]) -> Result<Option<O>, String>,
    run: impl Fn(&O) -> Result<(), String>,
) -> ExitCode {
    let opts = match parse(args) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("{name}: {msg}\n\n{usage}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("{name}: {msg}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    pub quick: bool,
    pub runs: usize,
    pub only: Option<Vec<Workload>>,
    pub kinds: Vec<ChildKind>,
    /// `--discrepancy`: extra peers (tokio with an 8 KiB `BufReader` on 2 workers in W1).
    pub extra: bool,
    pub out: Option<PathBuf>,
    pub testchild: Option<PathBuf>,
}

/// The options, or `None` if help was asked for.
pub fn parse(args: &[String]) -> Result<Option<Options>, String> {
    let mut opts = Options {
        quick: false,
        runs: 3,
        only: None,
        kinds: vec![ChildKind::BufWriter, ChildKind::Line],
        extra: false,
        out: None,
        testchild: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "--quick" => opts.quick = true,
            "--runs" => {
                let v = value()?;
                opts.runs = v
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| format!("--runs: `{v}` is not a positive number"))?;
            }
            "--only" => {
                let v = value()?;
                let list = v
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| Workload::parse(s).ok_or_else(|| format!("--only: unknown `{s}`")))
                    .collect::<Result<Vec<_>, _>>()?;
                if list.is_empty() {
                    return Err("--only: no workload given".into());
                }
                opts.only = Some(list);
            }
            "--kinds" => {
                let v = value()?;
                let list = v
                    .split(',')
                    .filter(|s| !s.trim().is_empty())
                    .map(|s| {
                        ChildKind::parse(s.trim()).ok_or_else(|| format!("--kinds: unknown `{s}`"))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if list.is_empty() {
                    return Err("--kinds: no child kind given".into());
                }
                opts.kinds = list;
            }
            "--discrepancy" => {
                opts.extra = true;
                opts.kinds = ChildKind::ALL.to_vec();
            }
            "--out" => opts.out = Some(PathBuf::from(value()?)),
            "--testchild" => opts.testchild = Some(PathBuf::from(value()?)),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(Some(opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse(&args) {
            Ok(Some(o)) => o,
            _ => panic!("expected options"),
        }
    }

    #[test]
    fn flags() {
        let o = run(&["--quick", "--runs", "1", "--only=w1,W3", "--out", "x"]);
        assert!(o.quick);
        assert_eq!(o.runs, 1);
        assert_eq!(o.only, Some(vec![Workload::W1, Workload::W3]));
        assert_eq!(o.out, Some(PathBuf::from("x")));
        let bad: Vec<String> = vec!["--runs".into(), "0".into()];
        assert!(parse(&bad).is_err());
        let bad: Vec<String> = vec!["--only".into(), "W9".into()];
        assert!(parse(&bad).is_err());
        assert_eq!(o.kinds, vec![ChildKind::BufWriter, ChildKind::Line]);
        let o = run(&["--kinds", "line"]);
        assert_eq!(o.kinds, vec![ChildKind::Line]);
        assert!(!o.extra);
        let o = run(&["--discrepancy"]);
        assert_eq!(o.kinds, ChildKind::ALL.to_vec());
        assert!(o.extra);
        let bad: Vec<String> = vec!["--kinds".into(), "fast".into()];
        assert!(parse(&bad).is_err());
    }
}
