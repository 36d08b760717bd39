//! `spawnmux demo` on Windows (under Wine in CI), with both stdio transports.
#![cfg(windows)]

use std::collections::BTreeSet;
use std::process::{Command, Stdio};

mod util;
use util::Launch;

#[test]
fn demo_runs_with_both_transports() {
    for transport in ["pipe", "socket"] {
        let out = Command::new(env!("CARGO_BIN_EXE_spawnmux"))
            .args([
                "demo",
                "--children",
                "3",
                "--max-sleep-ms",
                "30",
                "--duration",
                "2s",
            ])
            .args(["--transport", transport])
            .stdin(Stdio::null())
            .output_retried()
            .expect("run spawnmux demo");
        assert!(out.status.success(), "{transport}: {out:?}");
        let text = String::from_utf8(out.stdout).expect("utf8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.last(),
            Some(&"all child processes terminated."),
            "{transport}"
        );
        let mut pids = BTreeSet::new();
        let mut levels = BTreeSet::new();
        for line in &lines {
            let Some(rest) = line.strip_prefix("[child ") else {
                continue;
            };
            let Some((pid, rest)) = rest.split_once("][") else {
                continue;
            };
            let (level, text) = rest.split_once("]: ").expect("[child PID][LEVEL]: TEXT");
            let stream = if level == "info" { "stdout" } else { "stderr" };
            assert!(
                text.starts_with(&format!(
                    "Rust child pid {pid} writing to {stream} before sleeping "
                )),
                "{transport}: {line}"
            );
            pids.insert(pid.to_string());
            levels.insert(level.to_string());
        }
        assert_eq!(pids.len(), 3, "{transport}: {text}");
        assert_eq!(
            levels.len(),
            2,
            "{transport}: both info and warning lines: {text}"
        );
    }
}
