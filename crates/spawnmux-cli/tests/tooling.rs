//! The commands around `spawnmux run`, end to end: `check`, `completions`, `man`, and the
//! examples in `--help`. Every platform (Windows under Wine in CI).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod util;
use util::testchild;

fn spawnmux(args: &[&str]) -> Output {
    spawnmux_in(Path::new("."), args)
}

fn spawnmux_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spawnmux"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run spawnmux")
}

/// A fresh directory with `files` written in it (`TC` in their text: the test child, as a
/// TOML literal string's content).
fn dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnmux-tooling-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    for (f, text) in files {
        std::fs::write(d.join(f), text.replace("TC", &testchild())).expect("write");
    }
    d
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = spawnmux(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {out:?}");
        let script = stdout(&out);
        assert!(script.len() > 1000, "{shell}: {script}");
        assert!(script.contains("run"), "{shell}: no `run`");
        assert!(script.contains("check"), "{shell}: no `check`");
        assert!(script.contains("spawnmux"), "{shell}");
    }
    let out = spawnmux(&["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values: bash"));
}

#[test]
fn man_pages() {
    for (args, title) in [
        (&["man"][..], ".TH spawnmux 1"),
        (&["man", "run"], ".TH spawnmux-run 1"),
    ] {
        let out = spawnmux(args);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let page = stdout(&out);
        // roff's preamble (a string for `'`) comes first, then the title.
        let first = page
            .lines()
            .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"));
        assert!(first.is_some_and(|l| l.starts_with(title)), "{page}");
        assert!(page.contains(".SH SYNOPSIS"), "{page}");
    }
    let out = spawnmux(&["man", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("spawnmux: no subcommand `nope` (pages: run,"),
        "{err}"
    );
}

#[test]
fn help_shows_examples() {
    let out = spawnmux(&["run", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    assert!(help.contains("Examples:\n  spawnmux run "), "{help}");
    let out = spawnmux(&["check", "--help"]);
    assert!(stdout(&out).contains("Examples:\n  spawnmux check "));
    let out = spawnmux(&["completions", "--help"]);
    assert!(stdout(&out).contains("spawnmux completions bash >"));
}

const PLAN: &str = r#"
[helpers.db]
command = ['TC', 'barrier', 'started', '1']
env = { PGPASSWORD = "s3cret" }
ready_tcp = "127.0.0.1:5432"

[helpers.migrate]
command = ['TC', 'barrier', 'started', '1']
depends_on = ["db"]

[helpers.web]
shell = "npm run dev"
depends_on = { db = "ready", migrate = "completed_successfully" }
restart = "always"
"#;

#[test]
fn check_prints_the_plan_and_starts_nothing() {
    let d = dir("check", &[("spawnmux.toml", PLAN)]);
    std::fs::create_dir(d.join("started")).expect("dir");
    let out = spawnmux_in(&d, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("spawnmux.toml: valid, 3 helpers"), "{text}");
    assert!(text.contains("  environment    PGPASSWORD  (values not shown)"));
    assert!(!text.contains("s3cret"), "a value is shown: {text}");
    assert!(text
        .contains("  3  web            once db is ready and migrate has completed successfully"));
    let started = std::fs::read_dir(d.join("started")).expect("dir").count();
    assert_eq!(started, 0, "check started a helper");

    let out = spawnmux_in(&d, &["check", "--format", "json", "--except", "migrate"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let plan: Value = serde_json::from_str(&stdout(&out)).expect("one JSON object");
    assert_eq!(plan["start_order"], serde_json::json!([["db"], ["web"]]));
    assert_eq!(plan["helpers"][0]["env"], serde_json::json!(["PGPASSWORD"]));
    assert_eq!(plan["helpers"][1]["restart"], "always");
    assert!(!stdout(&out).contains("s3cret"));
}

#[test]
fn check_refuses_an_invalid_plan_with_exit_2() {
    let d = dir(
        "check-bad",
        &[(
            "spawnmux.toml",
            "[helpers.web]\nshell = \"x\"\nstop_timeout = \"soon\"\n",
        )],
    );
    let out = spawnmux_in(&d, &["check"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("spawnmux: ")
            && err.contains(
                "spawnmux.toml:3:16: `stop_timeout` of helper `web`: `soon` is not a duration"
            ),
        "{err}"
    );
    let out = spawnmux_in(&d, &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(v["valid"], false);
    assert!(v["error"]
        .as_str()
        .is_some_and(|e| e.contains("is not a duration")));
    let empty = dir("check-none", &[]);
    let out = spawnmux_in(&empty, &["check"]);
    assert_eq!(out.status.code(), Some(2), "no spawnmux.toml, no Procfile");
}

#[test]
fn check_takes_procfiles_and_commands_like_run() {
    let d = dir(
        "check-procfile",
        &[
            ("Procfile", "web: npm start\nworker: rake jobs\n"),
            (".env", "SECRET=abc\n"),
        ],
    );
    let out = spawnmux_in(&d, &["check"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    let first = text.lines().next().unwrap_or_default();
    assert!(first.ends_with("Procfile: valid, 2 helpers"), "{text}");
    assert!(
        text.contains("  environment    PORT, SECRET  (values not shown)"),
        "{text}"
    );
    assert!(!text.contains("abc"));
    let out = spawnmux_in(&d, &["check", "--", "npx vite", "npm run dev"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.starts_with("command line: valid, 2 helpers\n"),
        "{text}"
    );
    assert!(
        text.contains("\nvite\n") && text.contains("\ndev\n"),
        "{text}"
    );
}
