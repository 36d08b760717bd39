//! `spawnmux run` on Windows (under Wine in CI): config helpers, `cmd /d /c` shell strings,
//! JSON log, restarts and exit codes.
#![cfg(windows)]

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

mod util;
use util::Launch;

#[test]
fn run_on_windows_with_config_and_shell_helpers() {
    let tc = Path::new(env!("CARGO_BIN_EXE_spawnmux")).with_file_name("spawnmux-testchild.exe");
    assert!(
        tc.exists(),
        "{} missing: run the whole workspace's tests",
        tc.display()
    );
    let dir = std::env::temp_dir().join(format!("spawnmux-run-win-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let tc = tc.display().to_string().replace('\\', "\\\\");
    let config = format!(
        r#"
[helpers.argv]
command = ["{tc}", "out", "from argv\\n", "err", "careful\\n"]
[helpers.shell]
shell = "echo from cmd& exit 6"
restart = "on-failure"
max_restarts = 1
"#
    );
    std::fs::write(dir.join("spawnmux.toml"), config).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_spawnmux"))
        .args(["run", "--format", "json"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output_retried()
        .expect("run spawnmux");
    let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    assert_eq!(out.status.code(), Some(6), "{recs:?}");
    let line = |helper: &str, stream: &str| -> Vec<String> {
        recs.iter()
            .filter(|r| r["helper"] == helper && r["stream"] == stream)
            .map(|r| {
                r["line"]
                    .as_str()
                    .expect("line")
                    .trim_end_matches('\r')
                    .to_string()
            })
            .collect()
    };
    assert_eq!(line("argv", "stdout"), ["from argv"]);
    assert_eq!(line("argv", "stderr"), ["careful"]);
    assert_eq!(line("shell", "stdout"), ["from cmd", "from cmd"]);
    let events: Vec<&str> = recs
        .iter()
        .filter(|r| r["helper"] == "shell")
        .filter_map(|r| r["event"].as_str())
        .collect();
    assert_eq!(
        events,
        ["start", "ready", "exit", "restart", "start", "ready", "exit", "give_up"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A helper whose main process ends while a process it started holds its output: the run
/// does not hang; the leftover is stopped through the child's job
/// object.
#[test]
fn a_helper_that_leaves_a_child_behind_does_not_hang_the_run() {
    let tc = Path::new(env!("CARGO_BIN_EXE_spawnmux")).with_file_name("spawnmux-testchild.exe");
    let dir = std::env::temp_dir().join(format!("spawnmux-run-win-left-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let tc = tc.display().to_string().replace('\\', "\\\\");
    let config = format!(
        r#"
[helpers.g]
command = ["{tc}", "grandchild", "600000", "out", "started\\n"]
stop_timeout = "2s"
"#
    );
    std::fs::write(dir.join("spawnmux.toml"), config).expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_spawnmux"))
        .args(["run", "--no-timestamps", "--color", "never"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn_retried()
        .expect("run spawnmux");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while child.try_wait().expect("try_wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("spawnmux hung on the helper's background process");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("g exited (exit code 0)"), "{text}");
    assert!(
        text.contains("g left a process holding its output: stopping it"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
