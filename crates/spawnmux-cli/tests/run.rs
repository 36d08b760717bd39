//! `spawnmux run`, end to end: the built binary on temporary configs, helpers being the
//! workspace's test child (built by `cargo test --workspace` next to `spawnmux`).
#![cfg(unix)]

#[cfg(target_os = "linux")]
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
#[cfg(target_os = "linux")]
use std::time::{Duration, Instant};

use serde_json::Value;

mod util;
use util::testchild;

/// A fresh directory with `files` written in it.
fn dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnmux-run-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    for (f, text) in files {
        std::fs::write(d.join(f), text.replace("TC", &testchild())).expect("write");
    }
    d
}

fn spawnmux(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spawnmux"));
    c.arg("run")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .env_remove("NO_COLOR")
        .env_remove("FORCE_COLOR");
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    spawnmux(dir, args).output().expect("run spawnmux")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

#[test]
fn text_log_marks_stderr_pads_names_and_passes_bytes_through() {
    let d = dir(
        "text",
        &[(
            "spawnmux.toml",
            r#"
[helpers.a]
command = ["TC", "out", "hello\\n", "err", "careful\\n"]
[helpers.longer]
command = ["TC", "out", "\\xff raw\\n"]
"#,
        )],
    );
    let out = run(&d, &["--no-timestamps", "--color", "never"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = out.stdout;
    let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
    assert!(
        has(b"a        | hello\n"),
        "{}",
        String::from_utf8_lossy(&text)
    );
    assert!(has(b"a        ! careful\n"));
    assert!(has(b"longer   | \xff raw\n"));
    assert!(!has(b"\x1b["), "no colour with --color never");
    let coloured = run(&d, &["--no-timestamps", "--color", "always"]).stdout;
    assert!(coloured.windows(2).any(|w| w == b"\x1b["));
    let mut no_color = spawnmux(&d, &["--no-timestamps"]);
    no_color.env("NO_COLOR", "1").env("FORCE_COLOR", "1");
    assert!(!no_color
        .output()
        .expect("run")
        .stdout
        .windows(2)
        .any(|w| w == b"\x1b["));
    let timestamps = String::from_utf8_lossy(&run(&d, &["--color", "never"]).stdout).into_owned();
    let first = timestamps.lines().next().expect("a line");
    assert!(
        first.as_bytes()[2] == b':' && first.as_bytes()[5] == b':',
        "{first}"
    );
}

#[test]
fn json_log_has_every_field_and_escapes_invalid_utf8() {
    let d = dir(
        "json",
        &[(
            "spawnmux.toml",
            r#"
[helpers.web]
command = ["TC", "out", "hi\\n", "err", "bad \\xff\\\\ byte\\n", "exit", "3"]
"#,
        )],
    );
    let out = run(&d, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(3), "the first failing code");
    let recs = json_lines(&out);
    let line = recs
        .iter()
        .find(|r| r["line"] == "hi")
        .expect("stdout line");
    assert_eq!(line["helper"], "web");
    assert_eq!(line["stream"], "stdout");
    assert_eq!(line["level"], "info");
    let ts = line["ts"].as_str().expect("ts");
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[10] == b'T',
        "{ts}"
    );
    let bad = recs
        .iter()
        .find(|r| r["stream"] == "stderr")
        .expect("stderr line");
    assert_eq!(bad["level"], "warning");
    // 0xFF becomes `\xFF`, the backslash the child wrote is doubled.
    assert_eq!(bad["line"], "bad \\xFF\\\\ byte");
    assert_eq!(bad["escaped"], true);
    let start = recs.iter().find(|r| r["event"] == "start").expect("start");
    assert!(start["pid"].as_u64().is_some_and(|p| p > 0));
    let exit = recs.iter().find(|r| r["event"] == "exit").expect("exit");
    assert_eq!(exit["code"], 3);
}

#[test]
fn ad_hoc_helpers_are_named_by_names_or_by_what_they_run() {
    let d = dir("names", &[]);
    let tc = testchild();
    let web = format!("{tc} out 'from web\\n'");
    let api = format!("NODE_ENV=dev {tc} err 'from api\\n'");
    let args = ["--no-timestamps", "--color", "never"];
    let out = run(
        &d,
        &[&args[..], &["-n", "web,api", "--", &web, &api]].concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&"web      | from web"), "{text}");
    assert!(lines.contains(&"api      ! from api"), "{text}");
    // Without --names: the program's file name, after the `VAR=value` words.
    let out = run(&d, &[&args[..], &["--", &web, &api]].concat());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.contains(&"spawnmux-testchild   | from web"), "{text}");
    assert!(lines.contains(&"spawnmux-testchild-2 ! from api"), "{text}");
}

#[test]
fn a_note_says_spawnmux_toml_wins_over_a_procfile() {
    let d = dir(
        "note",
        &[
            (
                "spawnmux.toml",
                "[helpers.web]\ncommand = [\"TC\", \"out\", \"toml\\\\n\"]\n",
            ),
            ("Procfile", "worker: TC out 'procfile\\n'\n"),
        ],
    );
    let out = run(&d, &["--no-timestamps", "--color", "never"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "spawnmux | using spawnmux.toml (a Procfile is here too; -f Procfile runs that instead)",
        "{text}"
    );
    assert!(lines.contains(&"web      | toml"), "{text}");
    let recs = json_lines(&run(&d, &["--format", "json"]));
    assert_eq!(recs[0]["event"], "note");
    assert_eq!(recs[0]["helper"], "spawnmux");
    let out = run(
        &d,
        &["--no-timestamps", "--color", "never", "-f", "Procfile"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("using"), "{text}");
    assert!(text.lines().any(|l| l == "worker   | procfile"), "{text}");
}

#[test]
fn merged_output_of_noisy_helpers_is_lossless() {
    let d = dir("lossless", &[]);
    let tc = testchild();
    let cmd = format!("{tc} lines 20000 both");
    let out = run(&d, &["--format", "json", "--", &cmd, &cmd, &cmd]);
    assert_eq!(out.status.code(), Some(0));
    let recs = json_lines(&out);
    for helper in [
        "spawnmux-testchild",
        "spawnmux-testchild-2",
        "spawnmux-testchild-3",
    ] {
        for (stream, tag) in [("stdout", "out"), ("stderr", "err")] {
            let lines: Vec<&str> = recs
                .iter()
                .filter(|r| r["helper"] == helper && r["stream"] == stream)
                .map(|r| r["line"].as_str().expect("line"))
                .collect();
            assert_eq!(lines.len(), 20000, "{helper} {stream}");
            for (i, l) in lines.iter().enumerate() {
                assert_eq!(*l, format!("{tag} {i}"));
            }
        }
    }
}

#[test]
fn restarts_with_backoff_then_gives_up() {
    let d = dir(
        "restart",
        &[(
            "spawnmux.toml",
            r#"
[helpers.crashy]
command = ["TC", "exit", "4"]
restart = "on-failure"
max_restarts = 2
"#,
        )],
    );
    let out = run(&d, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(4));
    let recs = json_lines(&out);
    let events: Vec<&str> = recs.iter().filter_map(|r| r["event"].as_str()).collect();
    assert_eq!(
        events,
        [
            "start", "ready", "exit", "restart", "start", "ready", "exit", "restart", "start",
            "ready", "exit", "give_up"
        ]
    );
    let delays: Vec<u64> = recs
        .iter()
        .filter(|r| r["event"] == "restart")
        .map(|r| r["delay_ms"].as_u64().expect("delay"))
        .collect();
    assert_eq!(delays, [1000, 2000]);
}

#[test]
fn depends_on_waits_for_the_ready_line() {
    let d = dir(
        "ready",
        &[(
            "spawnmux.toml",
            r#"
[helpers.web]
command = ["TC", "out", "web\\n"]
depends_on = ["api"]
[helpers.api]
command = ["TC", "sleep", "300", "out", "listening, ready in 300ms\\n"]
ready_line = "ready in"
"#,
        )],
    );
    let out = run(&d, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let recs = json_lines(&out);
    let pos = |helper: &str, event: &str| {
        recs.iter()
            .position(|r| r["helper"] == helper && r["event"] == event)
            .expect(event)
    };
    assert!(
        pos("api", "ready") < pos("web", "start"),
        "web started before api was ready"
    );
}

#[test]
fn a_missing_program_is_reported_and_the_others_run_on() {
    let d = dir(
        "missing",
        &[(
            "spawnmux.toml",
            r#"
[helpers.ghost]
command = ["spawnmux-no-such-program"]
[helpers.ok]
command = ["TC", "sleep", "200", "out", "still here\\n"]
"#,
        )],
    );
    let out = run(&d, &["--no-timestamps", "--color", "never"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("ghost cannot start: spawning `spawnmux-no-such-program`"),
        "{text}"
    );
    assert!(text.contains("ok       | still here"), "{text}");
    assert_eq!(out.status.code(), Some(127));
}

#[test]
fn kill_others_on_fail_stops_the_rest() {
    let d = dir(
        "kof",
        &[(
            "spawnmux.toml",
            r#"
[helpers.bad]
command = ["TC", "sleep", "100", "exit", "5"]
[helpers.forever]
command = ["TC", "forever", "50"]
"#,
        )],
    );
    let out = run(&d, &["--kill-others-on-fail", "--format", "json"]);
    assert_eq!(out.status.code(), Some(5));
    let recs = json_lines(&out);
    assert!(recs
        .iter()
        .any(|r| r["helper"] == "forever" && r["event"] == "exit" && r["signal"] == 15));
}

#[test]
fn config_errors_exit_2_with_one_line() {
    let d = dir(
        "bad",
        &[("spawnmux.toml", "[helpers.web]\ncomand = [\"x\"]\n")],
    );
    let out = run(&d, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).expect("utf8");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("spawnmux.toml:2:1: unknown field `comand`"),
        "{err}"
    );
    let empty = dir("none", &[]);
    let out = run(&empty, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no spawnmux.toml or Procfile"));
}

#[test]
fn procfile_with_env_file_and_ports() {
    let d = dir(
        "procfile",
        &[
            (
                "Procfile",
                "web: TC env PORT env GREETING\nworker: TC env PORT\n",
            ),
            (".env", "GREETING=hello\n"),
        ],
    );
    let out = run(&d, &["--no-timestamps", "--color", "never"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("web      | PORT=5000"), "{text}");
    assert!(text.contains("web      | GREETING=hello"), "{text}");
    assert!(text.contains("worker   | PORT=5100"), "{text}");
}

/// Processes whose process group is `pgid`.
#[cfg(target_os = "linux")]
fn group_members(pgid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .is_some_and(|s| {
                    let Some((_, rest)) = s.rsplit_once(')') else {
                        return false;
                    };
                    let f: Vec<&str> = rest.split_whitespace().collect();
                    f.first() != Some(&"Z")
                        && f.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(pgid)
                })
        })
        .collect()
}

#[cfg(target_os = "linux")]
fn stop_with(signal: rustix::process::Signal, expect: i32) {
    let d = dir(
        &format!("sig{expect}"),
        &[(
            "spawnmux.toml",
            r#"
[helpers.tree]
command = ["TC", "grandchild", "60000", "forever", "50"]
[helpers.stubborn]
command = ["TC", "ignore-term", "forever", "50"]
stop_timeout = "300ms"
"#,
        )],
    );
    let mut child = spawnmux(&d, &["--format", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut pids, mut ignoring, mut grandchild) = (Vec::new(), false, false);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut line = String::new();
    while pids.len() < 2 || !ignoring || !grandchild {
        assert!(Instant::now() < deadline, "helpers did not start");
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "spawnmux ended early"
        );
        let rec: Value = serde_json::from_str(&line).expect("json");
        if rec["event"] == "start" {
            pids.push(rec["pid"].as_u64().expect("pid") as u32);
        }
        ignoring |= rec["line"] == "ignoring term";
        grandchild |= rec["line"]
            .as_str()
            .is_some_and(|l| l.starts_with("grandchild "));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(child.id() as i32).expect("pid"),
        signal,
    )
    .expect("signal");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).expect("read");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(expect), "{rest}");
    for pgid in pids {
        assert_eq!(
            group_members(pgid),
            Vec::<u32>::new(),
            "process group {pgid} left behind"
        );
    }
    let exits = rest
        .lines()
        .filter(|l| l.contains("\"event\":\"exit\""))
        .count();
    assert_eq!(exits, 2, "{rest}");
}

#[cfg(target_os = "linux")]
#[test]
fn sigint_stops_every_tree_and_exits_130() {
    stop_with(rustix::process::Signal::INT, 130);
}

#[cfg(target_os = "linux")]
#[test]
fn sigterm_stops_every_tree_and_exits_143() {
    stop_with(rustix::process::Signal::TERM, 143);
}

#[test]
fn a_prompt_without_newline_is_shown_after_a_short_silence() {
    let d = dir(
        "prompt",
        &[(
            "spawnmux.toml",
            r#"
[helpers.ask]
command = ["TC", "out", "Continue? ", "sleep", "1500", "out", "yes\\n"]
"#,
        )],
    );
    let out = run(&d, &["--format", "json"]);
    let recs = json_lines(&out);
    let pieces: Vec<(&str, bool, bool)> = recs
        .iter()
        .filter(|r| r["stream"] == "stdout")
        .map(|r| {
            (
                r["line"].as_str().expect("line"),
                r["partial"] == true,
                r["continued"] == true,
            )
        })
        .collect();
    assert_eq!(pieces, [("Continue? ", true, false), ("yes", false, true)]);
}

#[cfg(target_os = "linux")]
#[test]
fn a_second_sigint_kills_at_once() {
    let d = dir(
        "second",
        &[(
            "spawnmux.toml",
            r#"
[helpers.stubborn]
command = ["TC", "ignore-term", "forever", "50"]
stop_signal = "TERM"
stop_timeout = "1h"
"#,
        )],
    );
    let mut child = spawnmux(&d, &["--format", "json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while !line.contains("ignoring term") {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "spawnmux ended early"
        );
    }
    let pid = rustix::process::Pid::from_raw(child.id() as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("first");
    // Wait for the first stop record, then interrupt again: no waiting for the hour.
    while !line.contains("\"event\":\"stop\"") {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "spawnmux ended early"
        );
    }
    assert!(
        line.contains("got SIGINT: stopping every helper (Ctrl-C again kills them at once)"),
        "the first stop line says what a second Ctrl-C does: {line}"
    );
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("second");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).expect("read");
    assert_eq!(child.wait().expect("wait").code(), Some(130));
    assert!(rest.contains("\"signal\":9"), "{rest}");
}

#[cfg(target_os = "linux")]
#[test]
fn sighup_stops_every_tree_and_exits_129() {
    stop_with(rustix::process::Signal::HUP, 129);
}

/// Every `\n` and `\r\n` ends one line, empty or not, in the text and the JSON log; an empty
/// piece ended by a lone `\r` (a progress bar's carriage return) is the only one dropped.
#[test]
fn empty_lines_reach_the_log() {
    let d = dir(
        "blank",
        &[(
            "spawnmux.toml",
            r#"
[helpers.b]
command = ["TC", "out", "a\\n\\nb\\r\\n\\r\\n\\n\\rc\\n"]
"#,
        )],
    );
    let out = run(&d, &["--no-timestamps", "--color", "never"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("b ")).collect();
    assert_eq!(
        lines,
        [
            "b        | a",
            "b        | ",
            "b        | b",
            "b        | ",
            "b        | ",
            "b        | c"
        ],
        "{text}"
    );
    let recs = json_lines(&run(&d, &["--format", "json"]));
    let got: Vec<&str> = recs
        .iter()
        .filter(|r| r["stream"] == "stdout")
        .map(|r| r["line"].as_str().expect("line"))
        .collect();
    assert_eq!(got, ["a", "", "b", "", "", "c"]);
}

/// A `ready_line` that never comes: a waiting dependent says so every 10 s, and at
/// `ready_timeout` the helper is stopped and counts as failed; its dependent is not started.
#[test]
fn a_ready_line_that_never_comes_times_out() {
    let d = dir(
        "ready-timeout",
        &[(
            "spawnmux.toml",
            r#"
[helpers.db]
command = ["TC", "out", "starting\\n", "sleep", "600000"]
ready_line = "accepting connections"
ready_timeout = "10500ms"
[helpers.api]
command = ["TC", "out", "api up\\n"]
depends_on = ["db"]
"#,
        )],
    );
    let out = run(&d, &["--format", "json"]);
    let recs = json_lines(&out);
    let events: Vec<(&str, &str)> = recs
        .iter()
        .filter_map(|r| Some((r["helper"].as_str()?, r["event"].as_str()?)))
        .collect();
    assert_eq!(
        events,
        [
            ("db", "start"),
            ("api", "waiting"),
            ("db", "ready_timeout"),
            ("db", "exit"),
            ("api", "error"),
        ],
        "{recs:#?}"
    );
    let waiting = recs
        .iter()
        .find(|r| r["event"] == "waiting")
        .expect("waiting");
    assert_eq!(waiting["message"], "api waits for db to be ready: 10s");
    assert_eq!(waiting["waiting_for"], serde_json::json!(["db"]));
    let timeout = recs
        .iter()
        .find(|r| r["event"] == "ready_timeout")
        .expect("timeout");
    assert_eq!(timeout["level"], "warning");
    assert_eq!(timeout["timeout_ms"], 10500);
    assert_eq!(out.status.code(), Some(143), "SIGTERMed: 128 + 15");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("api up"));
}

/// Helpers are told to colour when spawnmux's log is coloured, unless they or the
/// environment say otherwise.
#[test]
fn helpers_get_force_color_when_the_log_is_coloured() {
    let d = dir(
        "color",
        &[(
            "spawnmux.toml",
            r#"
[helpers.plain]
command = ["TC", "env", "FORCE_COLOR", "env", "CLICOLOR_FORCE"]
[helpers.optout]
command = ["TC", "env", "FORCE_COLOR"]
color = false
[helpers.own]
command = ["TC", "env", "FORCE_COLOR", "env", "CLICOLOR_FORCE"]
env = { FORCE_COLOR = "3" }
"#,
        )],
    );
    let lines = |args: &[&str], extra: &[(&str, &str)]| -> Vec<String> {
        let mut c = spawnmux(&d, args);
        c.args(["--format", "json"]);
        for (k, v) in extra {
            c.env(k, v);
        }
        let out = c.output().expect("run");
        json_lines(&out)
            .iter()
            .filter(|r| r["stream"] == "stdout")
            .map(|r| {
                format!(
                    "{} {}",
                    r["helper"].as_str().unwrap(),
                    r["line"].as_str().unwrap()
                )
            })
            .collect::<Vec<_>>()
    };
    let mut on = lines(&["--color", "always"], &[]);
    on.sort();
    assert_eq!(
        on,
        [
            "optout FORCE_COLOR unset",
            "own CLICOLOR_FORCE=1",
            "own FORCE_COLOR=3",
            "plain CLICOLOR_FORCE=1",
            "plain FORCE_COLOR=1",
        ]
    );
    // Not a terminal, no --color: the log is plain, so are the helpers.
    let off = lines(&[], &[]);
    assert!(
        off.contains(&"plain FORCE_COLOR unset".to_string()),
        "{off:?}"
    );
    let no_color = lines(&["--color", "always"], &[("NO_COLOR", "1")]);
    assert!(
        no_color.contains(&"plain FORCE_COLOR unset".to_string()),
        "{no_color:?}"
    );
}

/// `--kill-others`: any helper ending stops the rest, whatever its code.
#[test]
fn kill_others_stops_the_rest_when_one_ends_cleanly() {
    let d = dir(
        "ko",
        &[(
            "spawnmux.toml",
            r#"
[helpers.once]
command = ["TC", "sleep", "100", "exit", "0"]
[helpers.forever]
command = ["TC", "forever", "50"]
"#,
        )],
    );
    let out = run(&d, &["--kill-others", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let recs = json_lines(&out);
    assert!(recs.iter().any(|r| r["event"] == "stop"
        && r["message"] == "once ended: stopping the others (--kill-others)"));
    assert!(recs
        .iter()
        .any(|r| r["helper"] == "forever" && r["event"] == "exit" && r["signal"] == 15));
}

/// Runs `spawnmux` with its log going to a file; returns the log, the exit status and, on
/// Linux, the write-family syscalls of spawnmux's main thread (`/proc/<pid>/task/<pid>/io`, read
/// after it exited but before it is reaped).
fn run_to_file(dir: &Path, args: &[&str]) -> (Vec<u8>, std::process::ExitStatus, Option<u64>) {
    let path = dir.join("log.out");
    let file = std::fs::File::create(&path).expect("log file");
    let mut child = spawnmux(dir, args).stdout(file).spawn().expect("spawn");
    #[cfg(target_os = "linux")]
    let writes = {
        use rustix::process::{waitid, Pid, WaitId, WaitIdOptions};
        let pid = Pid::from_raw(child.id() as i32).expect("pid");
        waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOWAIT,
        )
        .expect("waitid");
        // The main thread's own count: `/proc/<pid>/io` also holds the I/O of every child
        // spawnmux reaped (the helpers' writes).
        // A normal user may not read a zombie's `io` (the kernel's ptrace-read check fails
        // once its memory is gone): then the count is not checked.
        match std::fs::read_to_string(format!("/proc/{0}/task/{0}/io", child.id())) {
            Ok(io) => io
                .lines()
                .find_map(|l| l.strip_prefix("syscw: "))
                .and_then(|n| n.trim().parse().ok()),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                eprintln!("/proc/<pid>/task/<pid>/io of the exited spawnmux: {e}; write count not checked");
                None
            }
            Err(e) => panic!("io: {e}"),
        }
    };
    #[cfg(not(target_os = "linux"))]
    let writes = None;
    let status = child.wait().expect("wait");
    (std::fs::read(&path).expect("read log"), status, writes)
}

/// Every helper line of `lines` is `(helper, stream, text)`; checks each helper wrote each of
/// `n` lines per stream exactly once, whole and in order. Returns the number of broken lines
/// (any line that is not one expected line).
fn check_helper_lines<'a>(
    lines: impl Iterator<Item = Option<(String, &'a str, String)>>,
    helpers: usize,
    n: usize,
    width: usize,
) -> usize {
    let mut next = vec![[0usize; 2]; helpers];
    let mut broken = 0;
    for line in lines {
        let Some((helper, stream, text)) = line else {
            broken += 1;
            continue;
        };
        let (Some(h), Some(s)) = (
            helper
                .strip_prefix('h')
                .and_then(|h| h.parse::<usize>().ok())
                .filter(|h| *h < helpers),
            ["out", "err"].iter().position(|t| *t == stream),
        ) else {
            broken += 1;
            continue;
        };
        let i = next[h][s];
        let mut want = format!("{stream} {i}");
        while want.len() + 1 < width {
            want.push('.');
        }
        if text == want {
            next[h][s] += 1;
        } else {
            broken += 1;
        }
    }
    assert!(
        next.iter().all(|n2| *n2 == [n, n]),
        "lines missing: {next:?}"
    );
    broken
}

#[test]
fn lines_of_fifty_helpers_are_never_broken_and_the_log_is_written_in_big_blocks() {
    const HELPERS: usize = 50;
    const LINES: usize = 2000;
    const WIDTH: usize = 60;
    let mut toml = String::new();
    for h in 0..HELPERS {
        toml.push_str(&format!(
            "[helpers.h{h:02}]\ncommand = [\"TC\", \"lines\", \"{LINES}\", \"both\", \"{WIDTH}\"]\n"
        ));
    }
    let d = dir("fifty", &[("spawnmux.toml", &toml)]);
    // Text with timestamps: `HH:MM:SS hNN      | out 12....`.
    let (log, status, writes) = run_to_file(&d, &["--color", "never"]);
    assert!(status.success(), "{status:?}");
    let text = String::from_utf8(log.clone()).expect("UTF-8 log");
    let lines = text
        .lines()
        .filter(|l| !l.get(9..).is_some_and(|r| r.starts_with("spawnmux ")))
        .map(|l| {
            let b = l.as_bytes();
            if b.len() < 9 || b[2] != b':' || b[5] != b':' || b[8] != b' ' {
                return None;
            }
            let (name, rest) = l[9..].split_once(' ')?;
            let rest = rest.trim_start();
            let (stream, text) = match rest.split_at_checked(2)? {
                ("| ", t) => ("out", t),
                ("! ", t) => ("err", t),
                _ => return None,
            };
            Some((name.to_string(), stream, text.to_string()))
        });
    let broken = check_helper_lines(lines, HELPERS, LINES, WIDTH);
    assert_eq!(broken, 0, "broken lines in the text log");
    if let Some(writes) = writes {
        let per_write = log.len() as u64 / writes.max(1);
        println!(
            "text: {} bytes, {HELPERS} x {LINES} x 2 lines in {writes} writes ({per_write} B per write)",
            log.len()
        );
        // A write per line would be 200,000 writes of 70 bytes.
        assert!(
            per_write >= 32 * 1024,
            "{writes} writes for {} bytes",
            log.len()
        );
    }

    let (log, status, writes) = run_to_file(&d, &["--format", "json"]);
    assert!(status.success(), "{status:?}");
    let text = String::from_utf8(log.clone()).expect("UTF-8 log");
    let lines = text
        .lines()
        .filter_map(|l| match serde_json::from_str::<Value>(l) {
            Ok(r) if r["event"].is_string() => None,
            Ok(r) => Some((|| {
                let stream = match r["stream"].as_str()? {
                    "stdout" => "out",
                    "stderr" => "err",
                    _ => return None,
                };
                let line = r["line"].as_str()?.to_string();
                Some((r["helper"].as_str()?.to_string(), stream, line))
            })()),
            Err(_) => Some(None),
        });
    let broken = check_helper_lines(lines, HELPERS, LINES, WIDTH);
    assert_eq!(broken, 0, "broken lines in the JSON log");
    if let Some(writes) = writes {
        let per_write = log.len() as u64 / writes.max(1);
        println!(
            "json: {} bytes in {writes} writes ({per_write} B per write)",
            log.len()
        );
        assert!(
            per_write >= 32 * 1024,
            "{writes} writes for {} bytes",
            log.len()
        );
    }
}

/// `spawnmux run … | head`: the log's reader goes away. That is a failure: the helpers are
/// stopped and spawnmux exits with 141 (128 + SIGPIPE), saying why on stderr.
#[cfg(target_os = "linux")]
#[test]
fn a_closed_log_output_stops_the_helpers_and_exits_141() {
    let d = dir(
        "closed",
        &[(
            "spawnmux.toml",
            r#"
[helpers.chatty]
command = ["TC", "forever", "1", "17017"]
"#,
        )],
    );
    let mut child = spawnmux(&d, &["--no-timestamps"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while !line.contains("tick 3") {
        line.clear();
        assert!(
            reader.read_line(&mut line).expect("read") > 0,
            "ended early"
        );
    }
    drop(reader);
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{stderr}");
    assert!(
        stderr.contains("spawnmux: cannot write the log (Broken pipe"),
        "{stderr}"
    );
    // The helper is gone (its argv carries the marker 17017).
    let left: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("forever 1 17017"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A prompt shown after a silence, then its newline alone: no empty `|+` line.
#[test]
fn the_newline_after_a_shown_prompt_adds_no_empty_line() {
    let d = dir(
        "prompt-nl",
        &[(
            "spawnmux.toml",
            r#"
[helpers.ask]
command = ["TC", "out", "Continue? ", "sleep", "1000", "out", "\\n", "out", "done\\n"]
"#,
        )],
    );
    let out = run(&d, &["--no-timestamps", "--color", "never"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("ask ")).collect();
    assert_eq!(
        lines,
        ["ask      | Continue? ", "ask      | done"],
        "{text}"
    );
}
