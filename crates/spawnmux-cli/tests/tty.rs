//! `tty` helpers, end to end: the built binary with helpers on pseudo-terminals (`tty = true`,
//! `tty = "stdout"`, `--tty`). Python's `isatty()` as the example, the test child's
//! `tty` / `winch` ops for the window size, `script` (util-linux) for a terminal around
//! spawnmux itself.
#![cfg(unix)]

use std::io::Write;
#[cfg(target_os = "linux")]
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod util;
use util::testchild;

/// A fresh directory with a spawnmux.toml (`TC`: the test child).
fn dir(name: &str, config: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnmux-tty-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    std::fs::write(d.join("spawnmux.toml"), config.replace("TC", &testchild())).expect("write");
    d
}

fn spawnmux(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_spawnmux"));
    c.arg("run")
        .args(["--no-timestamps", "--color", "never"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("NO_COLOR")
        .env_remove("FORCE_COLOR");
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    spawnmux(dir, args).output().expect("run spawnmux")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_has(log: &str, wants: &[&str]) {
    for want in wants {
        assert!(log.contains(want), "{want:?} missing from:\n{log}");
    }
}

/// What Python says of its stdout (the "done when").
const ISATTY: &str = "import sys; print(sys.stdout.isatty())";

#[test]
fn python_sees_a_terminal_with_tty_true_and_a_pipe_with_tty_false() {
    let d = dir(
        "isatty",
        &format!(
            "[helpers.on]\ncommand = ['python3', '-c', '{ISATTY}']\ntty = true\n\
             [helpers.off]\ncommand = ['python3', '-c', '{ISATTY}']\ntty = false\n"
        ),
    );
    let out = run(&d, &[]);
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert_has(&log, &["on       | True\n", "off      | False\n"]);
}

#[test]
fn tty_stdout_keeps_stderr_a_pipe_whose_lines_stay_warnings() {
    let py = "import sys; print('out', sys.stdout.isatty(), sys.stdin.isatty()); \
              print('err', sys.stderr.isatty(), file=sys.stderr)";
    let d = dir(
        "stdout",
        &format!("[helpers.web]\ncommand = ['python3', '-c', \"{py}\"]\ntty = 'stdout'\n"),
    );
    let out = run(&d, &[]);
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert_has(
        &log,
        &["web      | out True True\n", "web      ! err False\n"],
    );
    let json = run(&d, &["--format", "json"]);
    let recs: Vec<Value> = String::from_utf8_lossy(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let err = recs
        .iter()
        .find(|r| r["line"] == "err False")
        .unwrap_or_else(|| panic!("no stderr line in {recs:?}"));
    assert_eq!(
        (&err["stream"], &err["level"]),
        (&"stderr".into(), &"warning".into())
    );
}

#[test]
fn tty_flag_puts_ad_hoc_commands_on_80x24_terminals_off_a_terminal() {
    let d = dir("flag", "");
    let tc = testchild();
    let on = run(&d, &["--tty", "-n", "t", "--", &format!("{tc} tty")]);
    assert_eq!(on.status.code(), Some(0), "{}", text(&on));
    assert_has(
        &text(&on),
        &["t        | tty in=true out=true err=true size=24x80\n"],
    );
    let off = run(&d, &["-n", "t", "--", &format!("{tc} tty")]);
    assert_has(
        &text(&off),
        &["t        | tty in=false out=false err=false size=none\n"],
    );
}

/// In a terminal of 40x100 (`script`), a `tty` helper's terminal is 100 columns less the
/// log's prefix: the names padded to 8, then ` |+ ` (12 columns without timestamps). When
/// the outer terminal changes to 30x90 (`TIOCSWINSZ`, the kernel's `SIGWINCH` to spawnmux), the
/// running helper's terminal follows.
#[cfg(target_os = "linux")]
#[test]
fn a_tty_helper_gets_spawnmux_s_terminal_less_the_prefix_and_follows_its_resizes() {
    let d = dir(
        "size",
        "[helpers.size]\ncommand = ['TC', 'tty']\ntty = true\n\
         [helpers.winch]\ncommand = ['TC', 'winch']\ntty = true\n",
    );
    let inner = format!(
        "tty; stty rows 40 cols 100; exec {} run --no-timestamps --color never",
        env!("CARGO_BIN_EXE_spawnmux")
    );
    // `timeout`: a hang fails the test (script's output ends) instead of blocking it.
    let mut script = Command::new("timeout")
        .args(["120", "script", "-qfec", &inner, "/dev/null"])
        .current_dir(&d)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("script (util-linux)");
    let mut lines = BufReader::new(script.stdout.take().expect("stdout")).lines();
    let mut log = Vec::new();
    let pts = lines.next().expect("tty's line").expect("read");
    let pts = pts.trim_end().to_string();
    assert!(pts.starts_with("/dev/"), "{pts}");
    for line in lines {
        let line = line.expect("read").trim_end().to_string();
        if line.ends_with("| winch ready") {
            // One `TIOCSWINSZ` (one `SIGWINCH`): `stty rows 30 cols 90` sets rows and columns
            // with one call each, and under load spawnmux and the helper (which reports the
            // first `SIGWINCH` and exits) could see the size in between, 30x100.
            let tty = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&pts)
                .expect("open the terminal");
            let size = rustix::termios::Winsize {
                ws_row: 30,
                ws_col: 90,
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            rustix::termios::tcsetwinsize(&tty, size).expect("TIOCSWINSZ");
        }
        log.push(line);
    }
    let status = script.wait().expect("wait");
    let log = log.join("\n");
    assert!(status.success(), "{status}: {log}");
    assert_has(
        &log,
        &[
            "size     | tty in=true out=true err=true size=40x88",
            "winch    | winch 30x78",
        ],
    );
}

#[test]
fn the_text_log_keeps_a_tty_helper_s_colours_json_none_raw_everything() {
    let d = dir(
        "ansi",
        "[helpers.web]\n\
         command = ['TC', 'out', '\\x1b[2J\\x1b[H\\x1b]0;title\\x07\\x1b[31mred\\x1b[0m plain\\n']\n\
         tty = true\n",
    );
    // The helper's lines only (spawnmux's `started` line shows the command's arguments).
    let helper_lines = |log: Vec<u8>| -> Vec<u8> {
        let lines = log.split_inclusive(|&b| b == b'\n');
        lines
            .filter(|l| l.starts_with(b"web "))
            .flatten()
            .copied()
            .collect()
    };
    let text_log = helper_lines(run(&d, &[]).stdout);
    let has = |log: &[u8], needle: &[u8]| log.windows(needle.len()).any(|w| w == needle);
    assert!(
        has(&text_log, b"web      | \x1b[31mred\x1b[0m plain\n"),
        "{}",
        String::from_utf8_lossy(&text_log)
    );
    for gone in [&b"\x1b[2J"[..], b"\x1b[H", b"\x1b]", b"title"] {
        assert!(!has(&text_log, gone), "{gone:?} kept");
    }
    let json = run(&d, &["--format", "json"]).stdout;
    let line = String::from_utf8_lossy(&json)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
        .find(|r| r["helper"] == "web" && r.get("line").is_some())
        .expect("web's line");
    assert_eq!(line["line"], "red plain");
    let raw = helper_lines(run(&d, &["--raw"]).stdout);
    assert!(
        has(
            &raw,
            b"\x1b[2J\x1b[H\x1b]0;title\x07\x1b[31mred\x1b[0m plain"
        ),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

#[test]
fn handle_input_types_into_a_tty_helper_s_terminal() {
    let d = dir(
        "input",
        "[helpers.ask]\ncommand = ['python3', '-c', \"import sys; print('got', input(), sys.stdin.isatty())\"]\n\
         tty = true\ninput = true\n",
    );
    let mut child = spawnmux(&d, &[])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn spawnmux");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"hello\n").expect("write");
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    // The terminal echoes what was typed, then Python answers.
    assert_has(&log, &["ask      | hello\n", "ask      | got hello True\n"]);
}

/// `/proc/PID/stat`'s state, if the process exists.
#[cfg(target_os = "linux")]
fn state(pid: u32) -> Option<char> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    text[text.rfind(')')? + 2..].chars().next()
}

/// Runs `spawnmux run` in `d` until its helper prints `grandchild <pid>`, then `then` (with
/// spawnmux's pid); returns the grandchild's pid, the log and the exit code.
#[cfg(target_os = "linux")]
fn run_with_grandchild(d: &Path, then: impl FnOnce(u32)) -> (u32, String, Option<i32>) {
    let mut child = spawnmux(d, &[]).spawn().expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut log = Vec::new();
    let grandchild = loop {
        let line = lines.next().expect("a grandchild line").expect("read");
        log.push(line.clone());
        if let Some(pid) = line.split("| grandchild ").nth(1) {
            break pid.trim().parse::<u32>().expect("pid");
        }
    };
    then(child.id());
    log.extend(lines.map(|l| l.expect("read")));
    let code = child.wait().expect("wait").code();
    (grandchild, log.join("\n"), code)
}

#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_stops_a_tty_helper_and_its_tree() {
    let d = dir(
        "ctrlc",
        "[helpers.web]\ncommand = ['TC', 'grandchild', '600000', 'forever', '100']\ntty = true\n",
    );
    let (grandchild, log, code) = run_with_grandchild(&d, |spawnmux| {
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(spawnmux as i32).expect("pid"),
            rustix::process::Signal::INT,
        )
        .expect("SIGINT");
    });
    assert_eq!(code, Some(130), "{log}");
    assert_has(&log, &["got SIGINT: stopping every helper", "web exited"]);
    assert!(!log.contains("still running"), "{log}");
    assert!(
        matches!(state(grandchild), None | Some('Z')),
        "grandchild {grandchild} alive: {log}"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn nothing_of_a_tty_helper_s_tree_outlives_the_run() {
    let d = dir(
        "tree",
        "[helpers.web]\ncommand = ['TC', 'grandchild', '600000']\ntty = true\n",
    );
    let (grandchild, log, code) = run_with_grandchild(&d, |_| {});
    assert_eq!(code, Some(0), "{log}");
    assert!(
        matches!(state(grandchild), None | Some('Z')),
        "grandchild {grandchild} alive: {log}"
    );
}
