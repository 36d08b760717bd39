//! Hostile or broken input (issue 7): configs that are empty, binary, deeply nested, huge or
//! wrong in every way each give one line naming file, position and problem, exit code 2, and
//! no panic; helper output with NUL bytes, invalid UTF-8, ANSI escapes, 100 MiB without a
//! newline and `\r`-only progress lines is logged faithfully with bounded memory.

#[cfg(target_os = "linux")]
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod util;
use util::{testchild, Launch};

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnmux-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn spawnmux(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spawnmux"))
        .arg("run")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output_retried()
        .expect("run spawnmux")
}

/// Loads `config` (bytes) as spawnmux.toml; asserts exit 2, no panic, one line that starts
/// with the file's path and `:LINE:COL: ` when `pos`, and contains `problem`.
fn bad_config(name: &str, config: &[u8], pos: Option<(usize, usize)>, problem: &str) {
    let d = dir(name);
    std::fs::write(d.join("spawnmux.toml"), config).expect("write");
    let out = spawnmux(&d, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{name}: {err}");
    assert!(out.stdout.is_empty(), "{name}: nothing runs");
    assert_eq!(err.lines().count(), 1, "{name}: one line: {err}");
    assert!(!err.contains("panicked"), "{name}: {err}");
    let file = d.join("spawnmux.toml").display().to_string();
    let head = match pos {
        Some((line, col)) => format!("spawnmux: {file}:{line}:{col}: "),
        None => format!("spawnmux: {file}: "),
    };
    assert!(err.starts_with(&head), "{name}: want {head:?}…, got {err}");
    assert!(err.contains(problem), "{name}: want {problem:?} in {err}");
    // The longest lines list a helper's known keys (`unknown field …, expected one of …`).
    assert!(
        err.len() < 512,
        "{name}: the line stays short: {} bytes",
        err.len()
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_configs_are_one_line_errors_with_exit_2() {
    bad_config("empty", b"", None, "no helpers defined");
    let mut garbage = b"[helpers.a]\ncommand = [\"x\"]\n".to_vec();
    garbage.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | 0x80));
    bad_config("garbage", &garbage, Some((3, 1)), "not UTF-8");
    let deep = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    bad_config("deep", deep.as_bytes(), Some((1, 85)), "recursion");
    let tables = format!("a = {}1{}", "{b=".repeat(5_000), "}".repeat(5_000));
    bad_config("tables", tables.as_bytes(), Some((1, 245)), "recursion");
    // A 16 MiB string is read, and the problem after it still found and reported briefly.
    let huge = format!(
        "[helpers.a]\ncommand = [\"{}\"]\nbogus = 1\n",
        "x".repeat(16 << 20)
    );
    bad_config(
        "huge",
        huge.as_bytes(),
        Some((3, 1)),
        "unknown field `bogus`",
    );
    bad_config(
        "unknown",
        b"[helpers.a]\ncommand = [\"x\"]\n\n[server]\nport = 1\n",
        Some((4, 2)),
        "unknown field `server`",
    );
    bad_config(
        "type",
        b"[helpers.a]\ncommand = \"x\"\n",
        Some((2, 11)),
        "invalid type: string \"x\", expected a sequence",
    );
    bad_config(
        "type2",
        b"[helpers.a]\nshell = \"x\"\nmax_restarts = \"three\"\n",
        Some((3, 16)),
        "invalid type",
    );
    bad_config(
        "dup",
        b"[helpers.web]\nshell = \"a\"\n[helpers.web]\nshell = \"b\"\n",
        Some((3, 10)),
        "duplicate key",
    );
    bad_config(
        "cycle",
        b"[helpers.a]\nshell = \"a\"\ndepends_on = [\"b\"]\n[helpers.b]\nshell = \"b\"\ndepends_on = [\"a\"]\n",
        Some((3, 15)),
        "depends_on forms a cycle: a -> b -> a",
    );
    bad_config(
        "cwd",
        b"[helpers.a]\nshell = \"a\"\ncwd = \"missing\"\n",
        Some((3, 7)),
        "does not exist",
    );
    bad_config(
        "neither",
        b"[helpers.a]\ncwd = \".\"\n",
        Some((1, 1)),
        "needs `command` (a list) or `shell` (a string)",
    );
    // Past what the clock can count: the stop used to panic ("overflow when adding duration to
    // instant") once it began.
    bad_config(
        "forever",
        b"[helpers.a]\nshell = \"a\"\nstop_timeout = \"18446744073709551615\"\n",
        Some((3, 16)),
        "`stop_timeout` of helper `a`: `18446744073709551615` is too long: at most 36500d (100 years)",
    );
}

/// `spawnmux run ARGS` in `dir` is refused before anything starts: exit 2, nothing on
/// stdout, exactly `spawnmux: {message}` on stderr.
fn refused(dir: &Path, args: &[&str], message: &str) {
    let out = spawnmux(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(
        out.stdout.is_empty(),
        "{args:?}: nothing starts: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(err, format!("spawnmux: {message}\n"), "{args:?}");
}

#[test]
fn bad_helper_names_are_refused_by_every_loader() {
    let d = dir("names");
    std::fs::write(
        d.join("spawnmux.toml"),
        "[helpers.\"web ui\"]\nshell = \"x\"\n",
    )
    .expect("write");
    let file = d.join("spawnmux.toml").display().to_string();
    refused(
        &d,
        &[],
        &format!("{file}:1:1: helper name `web ui` may only contain ASCII letters, digits, `.`, `-` and `_`"),
    );
    std::fs::write(d.join("Procfile"), "web: x\nspawnmux: y\n").expect("write");
    refused(
        &d,
        &["-f", "Procfile"],
        "Procfile:2: process name `spawnmux` is reserved (it names spawnmux's own lines in the log)",
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_ad_hoc_command_lines_are_refused_before_anything_starts() {
    let d = dir("adhoc");
    let hi = format!("{} out 'hi\\n'", testchild());
    refused(&d, &["--", &hi, ""], "command 2 after -- is empty");
    refused(&d, &["--", " \t "], "command 1 after -- is empty");
    refused(
        &d,
        &["echo one"],
        "put the commands after --: spawnmux run -- 'echo one'",
    );
    refused(
        &d,
        &["--format", "json", "echo one", "npm", "--", "it's"],
        r"put the commands after --: spawnmux run -- 'echo one' npm 'it'\''s'",
    );
    // With a config here, a stray argument is still not taken for anything else.
    std::fs::write(d.join("spawnmux.toml"), "[helpers.web]\nshell = \"x\"\n").expect("write");
    refused(
        &d,
        &["web"],
        "put the commands after --: spawnmux run -- web",
    );
    refused(
        &d,
        &["-n", "web,api", "--", &hi],
        "--names gives 2 names for 1 command after --",
    );
    refused(
        &d,
        &["--names", "web,web", "--", &hi, &hi],
        "--names: `web` is given twice",
    );
    refused(
        &d,
        &["--names", "web,a b", "--", &hi, &hi],
        "--names: `a b` may only contain ASCII letters, digits, `.`, `-` and `_`",
    );
    refused(
        &d,
        &["--names", "web"],
        "--names names the commands after --, and there are none",
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn an_unreadable_config_is_one_line_with_exit_2() {
    let d = dir("unreadable");
    // A directory where the file should be: unreadable as a file for root too.
    std::fs::create_dir(d.join("spawnmux.toml")).expect("mkdir");
    let out = spawnmux(&d, &["-c", "spawnmux.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("spawnmux: spawnmux.toml: cannot read: "),
        "{err}"
    );
    let out = spawnmux(&d, &["-c", "nowhere.toml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("spawnmux: nowhere.toml: cannot read: "),
        "{err}"
    );
}

/// One helper (argv: the test child with `ops`) in JSON; its stdout records.
fn json_lines_of(name: &str, ops: &[&str], extra: &[&str]) -> Vec<Value> {
    let d = dir(name);
    let mut args = vec!["--format", "json"];
    args.extend_from_slice(extra);
    let tc = testchild().replace('\\', "\\\\");
    let quoted: Vec<String> = ops
        .iter()
        .map(|o| format!("\"{}\"", o.replace('\\', "\\\\")))
        .collect();
    std::fs::write(
        d.join("spawnmux.toml"),
        format!("[helpers.h]\ncommand = [\"{tc}\", {}]\n", quoted.join(", ")),
    )
    .expect("write");
    let out = spawnmux(&d, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&d);
    String::from_utf8(out.stdout)
        .expect("the JSON log is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .filter(|r: &Value| r["stream"] == "stdout")
        .collect()
}

#[test]
fn nul_invalid_utf8_and_ansi_in_the_json_log() {
    let ops = [
        "out",
        r"a\0b\xffc \x1b[1;31mred\x1b[0m \x1b]0;title\x07end\n",
    ];
    let recs = json_lines_of("bytes", &ops, &[]);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["line"], "a\u{0}b\\xFFc red end");
    assert_eq!(recs[0]["escaped"], true);
    let kept = json_lines_of("bytes-kept", &ops, &["--keep-ansi"]);
    assert_eq!(
        kept[0]["line"],
        "a\u{0}b\\xFFc \u{1b}[1;31mred\u{1b}[0m \u{1b}]0;title\u{7}end"
    );
}

#[test]
fn invalid_utf8_and_colours_pass_through_the_text_log_and_raw_keeps_everything() {
    let d = dir("text");
    let tc = testchild().replace('\\', "\\\\");
    std::fs::write(
        d.join("spawnmux.toml"),
        format!(
            "[helpers.h]\ncommand = [\"{tc}\", \"out\", \"a\\\\0b\\\\xffc\\\\x1b[31mred\\\\x1b[2J\\\\n\"]\n"
        ),
    )
    .expect("write");
    let has = |out: &std::process::Output, want: &[u8]| {
        assert_eq!(out.status.code(), Some(0));
        assert!(
            out.stdout.windows(want.len()).any(|w| w == want),
            "{:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    };
    // The NUL and the clear-screen are removed; the colour and the invalid byte stay.
    let out = spawnmux(&d, &["--no-timestamps", "--color", "never"]);
    has(&out, b"h        | ab\xffc\x1b[31mred\n");
    let out = spawnmux(&d, &["--no-timestamps", "--color", "never", "--raw"]);
    has(&out, b"h        | a\0b\xffc\x1b[31mred\x1b[2J\n");
}

#[test]
fn carriage_return_progress_lines_are_lines() {
    let recs = json_lines_of(
        "progress",
        &[
            "out",
            r"\r 10%\r 20%",
            "sleep",
            "50",
            "out",
            r"\r 30%\rdone\r\n",
        ],
        &[],
    );
    let lines: Vec<&str> = recs
        .iter()
        .map(|r| r["line"].as_str().expect("line"))
        .collect();
    assert_eq!(lines, [" 10%", " 20%", " 30%", "done"]);
    assert!(recs.iter().all(|r| r.get("partial").is_none()), "{recs:?}");
}

/// Peak resident memory of `pid` (Linux: VmHWM), in KiB.
#[cfg(target_os = "linux")]
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(target_os = "linux")]
#[test]
fn a_100_mib_line_comes_in_bounded_pieces_with_bounded_memory() {
    const SIZE: usize = 100 << 20;
    let d = dir("bigline");
    let tc = testchild();
    let size = SIZE.to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_spawnmux"))
        .args(["run", "--format", "json", "--"])
        .arg(format!("{tc} bigline {size} out"))
        .current_dir(&d)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn_retried()
        .expect("spawn");
    let pid = child.id();
    let stdout = child.stdout.take().expect("stdout");
    let (mut bytes, mut pieces, mut peak) = (0usize, 0usize, 0u64);
    let mut ended = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read");
        let r: Value = serde_json::from_str(&line).expect("JSON");
        if let Some(l) = r["line"].as_str() {
            assert!(l.len() <= 1 << 20, "a piece of {} bytes", l.len());
            assert_eq!(r["continued"].as_bool().unwrap_or(false), pieces > 0);
            bytes += l.len();
            pieces += 1;
            ended = r.get("partial").is_none();
            peak = peak.max(peak_rss_kib(pid).unwrap_or(0));
        }
    }
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    assert_eq!(bytes, SIZE, "every byte arrived");
    assert_eq!(pieces, 100, "in 1 MiB pieces");
    assert!(ended, "the last piece ends the line");
    println!("100 MiB line: {pieces} pieces, spawnmux peak RSS {peak} KiB");
    assert!(peak > 0, "VmHWM was read");
    assert!(
        peak < 64 << 10,
        "spawnmux's memory stays bounded: {peak} KiB"
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn environment_values_never_reach_the_log() {
    let d = dir("secret");
    let tc = testchild().replace('\\', "\\\\");
    std::fs::write(
        d.join("spawnmux.toml"),
        format!(
            "[helpers.ok]\ncommand = [\"{tc}\", \"out\", \"hi\\\\n\"]\nenv = {{ TOKEN = \"hunter2-secret\" }}\n\
             [helpers.missing]\ncommand = [\"no-such-program-spawnmux\"]\nenv = {{ TOKEN = \"hunter2-secret\" }}\n"
        ),
    )
    .expect("write");
    std::fs::write(d.join(".env.extra"), "API_KEY=dotenv-secret-value\n").expect("env file");
    for format in ["text", "json"] {
        let out = spawnmux(&d, &["--format", format, "-e", ".env.extra"]);
        assert_eq!(out.status.code(), Some(127), "the missing program's code");
        let all = [out.stdout, out.stderr].concat();
        let all = String::from_utf8_lossy(&all);
        assert!(all.contains("hi"), "{all}");
        assert!(!all.contains("hunter2"), "{format}: {all}");
        assert!(!all.contains("dotenv-secret"), "{format}: {all}");
    }
    let _ = std::fs::remove_dir_all(&d);
}
