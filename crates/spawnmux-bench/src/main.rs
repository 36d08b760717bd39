//! `spawnmux-bench`: what spawnmux exists for, measured side by side with what a Rust user
//! would pick instead, in one run.
//!
//! ```sh
//! cargo build --release -p spawnmux-testbin -p spawnmux-bench && target/release/spawnmux-bench
//! ```
//!
//! Peers: spawnmux; `tokio::process` (current-thread runtime, a task per stream); async-process
//! (async-executor `LocalExecutor` under `async_io::block_on`, a task per stream); `std::process`
//! with two reader threads per child; and baselines: raw blocking read loops on a default and
//! on a grown pipe (W1) and a bare `std::process::Command::output()` (W3). W1 and W2 run with
//! two kinds of children of this program's own (`--child`, `child.rs`): 64-byte lines through
//! a 64 KiB `BufWriter`, and one `write` per line. Workloads W1..W6 are described in
//! `workloads.rs`.
//!
//! Every measurement runs in a fresh copy of this program (`--worker`), so that peak RSS,
//! thread counts and CPU time belong to one peer alone; peers are interleaved run by run and
//! the median is reported. A lost line is an error (exit code 1), never a figure.
//!
//! `spawnmux-bench runner` measures `spawnmux run` itself against concurrently and honcho
//! (`runner.rs`); it writes its own section of `BENCHMARKS.md`, which the W1..W6 report keeps.
//! `spawnmux-bench cost` measures the cost model (`cost.rs`): parent RSS against the number of
//! children up to the fd limit, and kernel pipe memory per busy stream.
//!
//! Flags: `--quick` (small sizes), `--runs N` (default 3), `--only W1,W3`, `--kinds
//! bufwriter,line`, `--discrepancy` (the former W1 child and tokio with 8 KiB reads), `--out
//! DIR` (where `BENCHMARKS.md` and `docs/benchmarks.svg` go), `--testchild PATH` (or env
//! `SPAWNMUX_TESTCHILD`; default: next to this binary).

#[cfg(unix)]
mod child;
#[cfg(unix)]
mod cli;
#[cfg(unix)]
mod common;
#[cfg(unix)]
mod cost;
#[cfg(unix)]
mod driver;
#[cfg(unix)]
mod peers;
#[cfg(unix)]
mod report;
#[cfg(unix)]
mod runner;
#[cfg(unix)]
mod sys;
#[cfg(unix)]
mod worker;
#[cfg(unix)]
mod workloads;

use std::process::ExitCode;

#[cfg(unix)]
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child::main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("--worker") {
        return worker::main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("cost") {
        return cost::main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("runner") {
        return runner::main(&args[1..]);
    }
    driver::main(&args)
}

#[cfg(not(unix))]
fn main() -> ExitCode {
    eprintln!(
        "spawnmux-bench: the benchmarks need Unix (they compare against Unix-only baselines and \
         read /proc); nothing to do on this platform"
    );
    ExitCode::FAILURE
}
