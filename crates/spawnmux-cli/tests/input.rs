//! `--handle-input` / `input = true`, end to end: lines written to spawnmux's stdin reach the
//! helpers' stdin (the test child's `echo` prints each line it reads).
#![cfg(unix)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod util;
use util::testchild;

/// A fresh directory with a spawnmux.toml (`TC`: the test child).
fn dir(name: &str, config: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnmux-input-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    let config = config.replace("TC", &testchild());
    std::fs::write(d.join("spawnmux.toml"), config).expect("write");
    d
}

/// `spawnmux run ARGS` in `dir` with `input` on its stdin, then the end of input.
fn run_with_input(dir: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_spawnmux"))
        .arg("run")
        .args(["--no-timestamps", "--color", "never"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn spawnmux");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write the input");
    drop(stdin);
    child.wait_with_output().expect("wait for spawnmux")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn lines_go_to_the_input_helper_or_to_the_helper_they_name() {
    let d = dir(
        "route",
        "[helpers.web]\ncommand = ['TC', 'echo']\ninput = true\n\
         [helpers.api]\ncommand = ['TC', 'echo']\n",
    );
    let out = run_with_input(
        &d,
        &[],
        b"hello\napi: to the api\nweb: note: x\nwbe: typo\n",
    );
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    for want in [
        "web      | hello\n",
        "api      | to the api\n",
        "web      | note: x\n",
        "spawnmux ! no helper named `wbe`: line not sent (helpers: web, api)\n",
        "spawnmux | end of input: the helpers' stdin is closed\n",
    ] {
        assert!(log.contains(want), "{want:?} missing from:\n{log}");
    }
    assert!(!log.contains("typo"), "{log}");
}

#[test]
fn handle_input_names_the_helper_or_takes_the_only_one() {
    let config = "[helpers.a]\ncommand = ['TC', 'echo']\n[helpers.b]\ncommand = ['TC', 'echo']\n";
    let d = dir("flag", config);
    let out = run_with_input(&d, &["--handle-input=b"], b"to b\n");
    assert!(text(&out).contains("b        | to b\n"), "{}", text(&out));
    // Several helpers, none chosen: an error before anything starts.
    let out = run_with_input(&d, &["--handle-input"], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--handle-input: no helper takes input: set `input = true` on one helper"),
        "{err}"
    );
    assert!(err.contains("(helpers: a, b)"), "{err}");
    let tc = testchild();
    let out = run_with_input(
        &d,
        &["--handle-input", "-n", "only", "--", &format!("{tc} echo")],
        b"one\n",
    );
    assert!(text(&out).contains("only     | one\n"), "{}", text(&out));
}

#[test]
fn two_input_helpers_are_an_error() {
    let d = dir(
        "two",
        "[helpers.a]\ncommand = ['TC', 'echo']\ninput = true\n\
         [helpers.b]\ncommand = ['TC', 'echo']\ninput = true\n",
    );
    let out = run_with_input(&d, &[], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`input = true` on helpers `a`, `b`"), "{err}");
}
