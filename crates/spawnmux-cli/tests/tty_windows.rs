//! `tty` helpers on Windows (ConPTY; under Wine in CI). Wine 8 does not connect a pseudo
//! console's child to it: the test child's `console-stdio` op takes `CONIN$`/`CONOUT$` itself
//! (a no-op on Windows, where the handles are the console's already). See ARCHITECTURE.md,
//! "ConPTY under Wine", for what Wine does differently (no resize, `0x03` ends the child
//! without its handler).
#![cfg(windows)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod util;
use util::{testchild, Launch};

/// A fresh directory with a spawnmux.toml (`TC`: the test child, in TOML literal strings).
fn dir(name: &str, config: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnmux-ttyw-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    let config = config.replace("TC", &testchild());
    std::fs::write(d.join("spawnmux.toml"), config).expect("write");
    d
}

/// `spawnmux run --format json ARGS` in `dir`, `input` on its stdin.
fn run(dir: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spawnmux"))
        .args(["run", "--format", "json"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn_retried()
        .expect("spawn spawnmux");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("input");
    drop(stdin);
    child.wait_with_output().expect("wait")
}

/// The helper's output lines (the JSON log strips the console's sequences), trimmed.
fn lines(out: &Output, helper: &str) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
        .filter(|r| r["helper"] == helper && r.get("line").is_some())
        .map(|r| r["line"].as_str().expect("line").trim().to_string())
        .collect()
}

#[test]
fn a_tty_helper_runs_on_a_console_of_80x24_off_a_console() {
    let d = dir(
        "size",
        "[helpers.t]\ncommand = ['TC', 'console-stdio', 'tty']\ntty = true\n",
    );
    let out = run(&d, &[], b"");
    let got = lines(&out, "t");
    let log = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(
        got.iter()
            .any(|l| l == "tty in=true out=true err=true size=24x80"),
        "{got:?}"
    );
}

#[test]
fn handle_input_types_into_a_tty_helper_s_console() {
    let d = dir(
        "input",
        "[helpers.t]\ncommand = ['TC', 'console-stdio', 'read-line', 'out', 'after input\\n']\n\
         tty = true\ninput = true\n",
    );
    let out = run(&d, &[], b"hello\n");
    let got = lines(&out, "t");
    let log = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{log}");
    // The console echoes the line; the child goes on once it has read it.
    let at = |want: &str| got.iter().position(|l| l == want);
    assert!(at("hello").is_some(), "{got:?}");
    assert!(at("after input") > at("hello"), "{got:?}");
}

#[test]
fn a_tty_helper_is_stopped_with_the_run() {
    let d = dir(
        "stop",
        "[helpers.t]\ncommand = ['TC', 'console-stdio', 'forever', '100']\ntty = true\n\
         [helpers.quick]\ncommand = ['TC', 'exit', '0']\n",
    );
    let out = run(&d, &["--kill-others"], b"");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("\"t exited"), "{log}");
    assert!(out.status.success(), "{log}");
}
