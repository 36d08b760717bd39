//! The harness end to end on quick sizes: every workload runs with every peer, every line is
//! verified, and the report and chart are written.
#![cfg(unix)]

use std::path::PathBuf;
use std::process::Command;

/// The test child lives in another package (`spawnmux-testbin`), so Cargo does not build it
/// for this package's tests alone; `cargo test --workspace` does.
fn testchild() -> PathBuf {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_spawnmux-bench"));
    let child = bench.with_file_name("spawnmux-testchild");
    assert!(
        child.is_file(),
        "{} is not built: run `cargo build -p spawnmux-testbin` (or `cargo test --workspace`)",
        child.display()
    );
    child
}

#[test]
fn quick_run_verifies_every_workload_and_writes_the_report() {
    let out = std::env::temp_dir().join(format!("spawnmux-bench-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let output = Command::new(env!("CARGO_BIN_EXE_spawnmux-bench"))
        .args(["--quick", "--runs", "1", "--out"])
        .arg(&out)
        .arg("--testchild")
        .arg(testchild())
        .output()
        .expect("run spawnmux-bench");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    for label in [
        "W1 throughput, BufWriter",
        "W1 throughput, line-buffered",
        "W2 fan-in, BufWriter",
        "W2 fan-in, line-buffered",
        "W3 spawn rate",
        "W4 scale (200)",
        "W4 scale (500)",
        "W5 idle",
        "W6 latency",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(label))
            .unwrap_or_else(|| panic!("no summary for {label}:\n{stdout}"));
        assert!(line.ends_with("| verified"), "{line}");
        assert!(line.contains("spawnmux: "), "{line}");
        assert!(!line.contains('?'), "a figure is missing: {line}");
    }
    assert!(stdout.contains("every run verified"), "{stdout}");
    let md = std::fs::read_to_string(out.join("BENCHMARKS.md")).expect("BENCHMARKS.md");
    assert!(md.contains("| W1 throughput, BufWriter | s wall"), "{md}");
    assert!(
        md.contains("baseline: raw read, pipe grown to 1 MiB"),
        "{md}"
    );
    assert!(md.contains("## Goals of issues 12"), "{md}");
    assert!(md.contains("| issue 16: wall through AsyncMux"), "{md}");
    assert!(md.contains("| W6 latency | µs p99"), "{md}");
    assert!(md.contains("docs/benchmarks.svg"), "{md}");
    let svg = std::fs::read_to_string(out.join("docs/benchmarks.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn a_missing_test_child_is_explained() {
    let output = Command::new(env!("CARGO_BIN_EXE_spawnmux-bench"))
        .args(["--quick", "--testchild", "/nonexistent/spawnmux-testchild"])
        .output()
        .expect("run spawnmux-bench");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cargo build"), "{stderr}");
}

#[test]
fn runner_workload_runs_spawnmux_on_a_tiny_size_with_no_broken_line() {
    let bench = PathBuf::from(env!("CARGO_BIN_EXE_spawnmux-bench"));
    let spawnmux = bench.with_file_name("spawnmux");
    assert!(
        spawnmux.is_file(),
        "{} is not built: run `cargo build -p spawnmux-cli` (or `cargo test --workspace`)",
        spawnmux.display()
    );
    let out = std::env::temp_dir().join(format!("spawnmux-bench-runner-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let output = Command::new(&bench)
        .args(["runner", "--quick", "--runs", "1", "--no-peers", "--out"])
        .arg(&out)
        .arg("--spawnmux")
        .arg(&spawnmux)
        .arg("--testchild")
        .arg(testchild())
        .output()
        .expect("run spawnmux-bench runner");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    // Every spawnmux run: 0 broken, 0 missing (the harness fails otherwise); peers not run.
    let runs: Vec<&str> = stderr.lines().filter(|l| l.contains(" run 1/1 ")).collect();
    assert_eq!(runs.len(), 6, "{stderr}");
    assert!(
        runs.iter()
            .all(|l| l.contains("spawnmux") && l.ends_with("0 broken, 0 missing")),
        "{stderr}"
    );
    let md = std::fs::read_to_string(out.join("BENCHMARKS.md")).expect("BENCHMARKS.md");
    assert!(md.contains("## The runner's log"), "{md}");
    assert!(
        md.contains("| concurrently 9 | absent: not run (--no-peers)"),
        "{md}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn children_write_exactly_their_64_byte_lines() {
    for kind in ["bufwriter", "line", "blocks"] {
        let output = Command::new(env!("CARGO_BIN_EXE_spawnmux-bench"))
            .args(["--child", kind, "1500", "both"])
            .output()
            .expect("run the child");
        assert!(output.status.success(), "{kind}: {}", output.status);
        for stream in [&output.stdout, &output.stderr] {
            assert_eq!(stream.len(), 1500 * 64, "{kind}");
            let lines: Vec<&[u8]> = stream.split_inclusive(|&b| b == b'\n').collect();
            assert_eq!(lines.len(), 1500, "{kind}");
            assert!(lines.iter().all(|l| l.len() == 64), "{kind}");
            assert!(lines[1499].starts_with(b"line 000000001499 "), "{kind}");
        }
    }
}

#[test]
fn cost_model_runs_on_small_sizes_and_draws_the_chart() {
    let out = std::env::temp_dir().join(format!("spawnmux-bench-cost-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let output = Command::new(env!("CARGO_BIN_EXE_spawnmux-bench"))
        .args([
            "cost",
            "--quick",
            "--sizes",
            "5,20",
            "--peers",
            "spawnmux,tokio",
            "--out",
        ])
        .arg(&out)
        .arg("--testchild")
        .arg(testchild())
        .output()
        .expect("run spawnmux-bench cost");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "exit {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("| 20 |"), "{stdout}");
    assert!(stdout.contains("| W2 | spawnmux |"), "{stdout}");
    let svg = std::fs::read_to_string(out.join("docs/rss-children.svg")).expect("svg");
    assert!(svg.starts_with("<svg") && svg.contains("polyline"));
    let _ = std::fs::remove_dir_all(&out);
}
