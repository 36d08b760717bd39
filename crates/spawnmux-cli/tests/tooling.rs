//! Tooling, end to end: `check`, `completions`, `man`, the examples in `--help`, and the files
//! a helper names (`env_file` reaching the helper, `log_file` and its rotation). Every
//! platform (Windows under Wine in CI); helpers are the test child, in argv form.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod util;
use util::{testchild, Launch};

fn spawnmux(args: &[&str]) -> Output {
    spawnmux_in(Path::new("."), args)
}

fn spawnmux_in(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output_retried().expect("run spawnmux")
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spawnmux"));
    c.args(args).current_dir(dir).stdin(Stdio::null());
    c
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

// ---- env_file and log_file ----------------------------------------------------------------

/// `spawnmux run --format json` in `dir`, with `env` added to its environment.
fn run(dir: &Path, env: &[(&str, &str)]) -> Output {
    let mut c = command(dir, &["run", "--format", "json"]);
    c.envs(env.iter().copied())
        .output_retried()
        .expect("run spawnmux")
}

/// The records of `out` (the JSON log).
fn records(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// The lines `helper` wrote to stdout (carriage returns dropped, for Windows).
fn lines(out: &Output, helper: &str) -> Vec<String> {
    let line = |r: &Value| {
        r["line"]
            .as_str()
            .map(|l| l.trim_end_matches('\r').to_string())
    };
    records(out)
        .iter()
        .filter(|r| r["helper"] == helper && r["stream"] == "stdout")
        .filter_map(line)
        .collect()
}

#[test]
fn env_file_values_reach_the_helper() {
    let config = r#"
[helpers.show]
command = ['TC', 'env', 'QUOTED', 'env', 'MULTI', 'env', 'EXPANDED', 'env', 'OUTER', 'env', 'WINS']
env_file = [".env", "more.env"]
env = { WINS = "env table" }
"#;
    let dot_env = concat!(
        "# comment\n",
        "export BASE=/srv\n",
        "QUOTED='a # b'\n",
        "MULTI=\"line 1\nline 2\"\n",
        "EXPANDED=${BASE}/data\n",
        "WINS=file\n",
    );
    let more = "OUTER=\"[${SPAWNMUX_FILES_TEST_OUTER}]\"\n";
    let d = dir(
        "env-file",
        &[
            ("spawnmux.toml", config),
            (".env", dot_env),
            ("more.env", more),
        ],
    );
    let out = run(
        &d,
        &[("SPAWNMUX_FILES_TEST_OUTER", "from spawnmux's environment")],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        lines(&out, "show"),
        [
            "QUOTED=a # b",
            "MULTI=line 1",
            "line 2",
            "EXPANDED=/srv/data",
            "OUTER=[from spawnmux's environment]",
            "WINS=env table",
        ]
    );
}

#[test]
fn log_file_gets_the_raw_lines_of_both_streams() {
    let config = r#"
[helpers.web]
command = ['TC', 'out', 'hello\n', 'err', 'careful\n', 'out', '\x1b[32mgreen\x1b[0m \xff\n']
log_file = "logs/web.log"
[helpers.other]
command = ['TC', 'out', 'not in the file\n']
"#;
    let d = dir("log-file", &[("spawnmux.toml", config)]);
    let out = run(&d, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let written = std::fs::read(d.join("logs/web.log")).expect("the log file");
    let mut got: Vec<&[u8]> = written.split(|&b| b == b'\n').collect();
    assert_eq!(got.pop(), Some(&b""[..]), "every line ends with a newline");
    // Each stream in order; the two streams as they arrived.
    got.sort();
    let want: [&[u8]; 3] = [b"\x1b[32mgreen\x1b[0m \xff", b"careful", b"hello"];
    let got: Vec<Vec<u8>> = got
        .iter()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .collect();
    assert_eq!(
        got,
        want.map(<[u8]>::to_vec),
        "{:?}",
        String::from_utf8_lossy(&written)
    );
    assert_eq!(lines(&out, "web").len(), 2, "the merged log has them too");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("logs/web.log"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only: {mode:o}");
    }
}

/// A helper that clears the screen, moves the cursor and sets a title (as vite and other tools
/// on a terminal do): the file keeps the text and its colours and loses the rest, so that
/// `cat` or `tail -f` of it cannot wreck a terminal; with `--raw` it keeps every byte.
#[test]
fn log_file_drops_what_would_wreck_a_terminal_unless_raw() {
    let config = r#"
[helpers.web]
command = ['TC', 'out', '\x1b[2J\x1b[Hready \x1b]0;my title\x07in \x1b[1m5 ms\x1b[0m\x1b[K\n']
log_file = "web.log"
"#;
    let d = dir("log-file-clean", &[("spawnmux.toml", config)]);
    // The file's one line after `spawnmux run ARGS` (then the file is removed).
    let line_after = |args: &[&str]| {
        let out = command(&d, args).output_retried().expect("run spawnmux");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let written = std::fs::read(d.join("web.log")).expect("the log file");
        std::fs::remove_file(d.join("web.log")).expect("remove");
        let written = String::from_utf8_lossy(&written);
        written.trim_end_matches(['\r', '\n']).to_string()
    };
    assert_eq!(
        line_after(&["run", "--format", "json"]),
        "ready in \x1b[1m5 ms\x1b[0m"
    );
    assert_eq!(
        line_after(&["run", "--raw"]),
        "\x1b[2J\x1b[Hready \x1b]0;my title\x07in \x1b[1m5 ms\x1b[0m\x1b[K"
    );
}

#[test]
fn log_file_rotates_past_its_size() {
    // Six 40-byte lines, each written on its own (the log is written 10 ms after a line, at
    // the latest), into files of at most 100 bytes: two lines a file.
    let mut command = vec!["'TC'".to_string()];
    for i in 1..=6 {
        command.push(format!("'out', 'line {i} {}\\n'", "x".repeat(31)));
        command.push("'sleep', '150'".to_string());
    }
    let config = format!(
        "[helpers.web]\ncommand = [{}]\nlog_file = \"web.log\"\nlog_max_size = 100\n",
        command.join(", ")
    );
    let d = dir("log-rotate", &[("spawnmux.toml", &config)]);
    let out = run(&d, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let read = |name: &str| std::fs::read_to_string(d.join(name)).unwrap_or_default();
    assert!(d.join("web.log.1").exists(), "rotated");
    assert!(!d.join("web.log.4").exists());
    let all: String = ["web.log.3", "web.log.2", "web.log.1", "web.log"]
        .map(read)
        .concat();
    let want: String = (1..=6)
        .map(|i| format!("line {i} {}\n", "x".repeat(31)))
        .collect();
    // Oldest first, nothing repeated or out of order; the oldest may be gone.
    assert!(
        want.ends_with(&all) && all.ends_with(&format!("line 6 {}\n", "x".repeat(31))),
        "{all}"
    );
    for name in ["web.log", "web.log.1"] {
        assert!(
            read(name).len() <= 100 || read(name).lines().count() == 1,
            "{name}: {}",
            read(name)
        );
    }
}

#[test]
fn a_log_file_that_cannot_be_written_is_reported_and_the_run_goes_on() {
    let config = r#"
[helpers.web]
command = ['TC', 'out', 'still logged\n']
log_file = "blocker/web.log"
"#;
    let d = dir(
        "log-fail",
        &[
            ("spawnmux.toml", config),
            ("blocker", "a file, not a directory"),
        ],
    );
    let out = run(&d, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(lines(&out, "web"), ["still logged"]);
    let failures: Vec<Value> = records(&out)
        .into_iter()
        .filter(|r| r["event"] == "log_file_error")
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["helper"], "web");
    assert_eq!(failures[0]["level"], "warning");
    assert!(failures[0]["path"]
        .as_str()
        .is_some_and(|p| p.ends_with("web.log")));
}
