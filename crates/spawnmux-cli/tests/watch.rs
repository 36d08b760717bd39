//! Watch mode, end to end: the built `spawnmux` on real files in temporary directories. Each
//! test reads spawnmux's JSON log as it is written and waits for records (never for a fixed
//! time); "nothing else happened" is shown with a sentinel change: the next change record must
//! name the sentinel alone.
//!
//! Tests whose commands need a Unix shell (or `/proc`) are `#[cfg(unix)]`; the rest also run
//! on Windows (under Wine in CI, whose ReadDirectoryChangesW is built on inotify: real
//! Windows may batch or order notifications differently, which the tests tolerate).

#[cfg(unix)]
use std::io::Read;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

mod util;
use util::{testchild, Launch};

/// Generous: CI machines are small and busy.
const PATIENCE: Duration = Duration::from_secs(60);

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnmux-watch-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("src")).expect("dir");
    d
}

fn write(dir: &Path, file: &str, text: &str) {
    let p = dir.join(file);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    // TOML basic strings: a Windows path's backslashes must be escaped.
    let tc = testchild().replace('\\', "\\\\");
    std::fs::write(p, text.replace("TC", &tc)).expect("write");
}

/// A running `spawnmux run --format json`, and its log records as they come.
struct Run {
    child: Child,
    records: Receiver<Value>,
    seen: Vec<Value>,
}

impl Run {
    fn start(dir: &Path, args: &[&str]) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_spawnmux"))
            .arg("run")
            .args(["--format", "json"])
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn_retried()
            .expect("spawn spawnmux");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, records) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Run::with(child, records)
    }

    /// spawnmux with its stdout redirected to `log` (a file), read as it grows.
    #[cfg(unix)]
    fn start_logging_to(dir: &Path, log: &Path, args: &[&str]) -> Run {
        let file = std::fs::File::create(log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_spawnmux"))
            .arg("run")
            .args(["--format", "json"])
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(file)
            .spawn_retried()
            .expect("spawn spawnmux");
        let (tx, records) = channel();
        let log = log.to_path_buf();
        std::thread::spawn(move || {
            let mut f = std::fs::File::open(&log).expect("open log");
            let mut pending = Vec::new();
            loop {
                let mut buf = [0u8; 4096];
                match f.read(&mut buf) {
                    Ok(0) => std::thread::sleep(Duration::from_millis(20)),
                    Ok(n) => pending.extend_from_slice(&buf[..n]),
                    Err(_) => break,
                }
                while let Some(i) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=i).collect();
                    let v: Value = serde_json::from_slice(&line).expect("JSON");
                    if tx.send(v).is_err() {
                        return;
                    }
                }
            }
        });
        Run::with(child, records)
    }

    fn with(child: Child, records: Receiver<Value>) -> Run {
        let mut run = Run {
            child,
            records,
            seen: Vec::new(),
        };
        run.expect("the watch to start", |r| r["event"] == "watch");
        run
    }

    /// Waits for the next record matching `pred`; records before it are kept in `seen`.
    fn expect(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.records.recv_timeout(left) {
                Ok(r) => {
                    self.seen.push(r.clone());
                    if pred(&r) {
                        return r;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no record for {what} within {PATIENCE:?}; seen:\n{}",
                    self.dump()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "spawnmux ended ({:?}) before {what}; seen:\n{}",
                    self.child.wait(),
                    self.dump()
                ),
            }
        }
    }

    /// The next `change` record's paths.
    fn next_change(&mut self) -> Vec<String> {
        let r = self.expect("a change", is_change);
        r["paths"]
            .as_array()
            .expect("paths")
            .iter()
            .map(|p| p.as_str().expect("str").to_string())
            .collect()
    }

    fn dump(&self) -> String {
        self.seen
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn count(&self, pred: impl Fn(&Value) -> bool) -> usize {
        self.seen.iter().filter(|r| pred(r)).count()
    }

    /// Unix: SIGTERM, and spawnmux exits with 143. Windows: no signal can be sent to a process
    /// without a shared console, so it is killed (its helpers' job objects end them).
    fn stop(mut self) {
        #[cfg(unix)]
        {
            let pid = rustix::process::Pid::from_child(&self.child);
            rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
            let status = self.child.wait().expect("wait");
            assert_eq!(status.code(), Some(143), "{}", self.dump());
        }
        #[cfg(windows)]
        {
            self.child.kill().expect("kill");
            self.child.wait().expect("wait");
        }
    }
}

/// A failed test must not leave spawnmux (and its helpers) running: SIGKILL it (its children
/// die with it: the group guard).
impl Drop for Run {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn is_change(r: &Value) -> bool {
    r["event"] == "change"
}

fn started(name: &'static str) -> impl Fn(&Value) -> bool {
    move |r: &Value| r["helper"] == name && r["event"] == "start"
}

fn exited(name: &'static str) -> impl Fn(&Value) -> bool {
    move |r: &Value| r["helper"] == name && r["event"] == "exit"
}

fn p(s: &str) -> String {
    format!("src{}{s}", std::path::MAIN_SEPARATOR)
}

/// Whether `pid` is a process that has not ended (a zombie has ended).
#[cfg(unix)]
fn alive(pid: u64) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        // No /proc (macOS): ask the kernel.
        Err(_) if !Path::new("/proc/self").exists() => rustix::process::test_kill_process(
            rustix::process::Pid::from_raw(pid as i32).expect("pid"),
        )
        .is_ok(),
        Err(_) => false,
    }
}

#[test]
fn one_change_is_one_build_and_a_burst_of_100_is_one_build() {
    let d = dir("burst");
    write(
        &d,
        "spawnmux.toml",
        r#"
[watch]
paths = ["src"]
debounce = "400ms"
run = ["TC", "out", "built\n"]
"#,
    );
    let mut run = Run::start(&d, &[]);
    write(&d, "src/a.md", "a");
    assert_eq!(run.next_change(), [p("a.md")]);
    run.expect("the build", started("build"));
    run.expect("its output", |r| {
        r["helper"] == "build" && r["line"] == "built"
    });
    let exit = run.expect("the build's exit", exited("build"));
    assert_eq!(exit["code"], 0, "{}", run.dump());

    for i in 0..100 {
        write(&d, &format!("src/many-{i:03}.txt"), "x");
    }
    let r = run.expect("the burst", is_change);
    assert_eq!(r["count"], 100, "{r}");
    assert!(r["message"]
        .as_str()
        .is_some_and(|m| m.contains("(+99 more)")));
    run.expect("the second build's exit", exited("build"));

    write(&d, "src/sentinel", "s");
    assert_eq!(run.next_change(), [p("sentinel")]);
    run.expect("the third build's exit", exited("build"));
    // Three builds in a row, each triggered only by the previous one's write, make a loop. On
    // a loaded machine the watcher may report a write more than 300 ms after its build ended;
    // that change then counts as the user's and the count starts again, so a loop can take a
    // build or two more to be recognised.
    let builds = run.count(started("build"));
    assert!((3..=5).contains(&builds), "{builds} builds: {}", run.dump());
    run.stop();
}

#[test]
fn ignored_paths_gitignore_and_scratch_files_do_not_trigger() {
    let d = dir("ignore");
    // A repository whose root .gitignore applies to the watched `src` below it.
    std::fs::create_dir_all(d.join(".git/info")).expect("git");
    write(&d, ".gitignore", "*.log\n!keep.log\n");
    write(&d, ".git/info/exclude", "excluded/\n");
    write(&d, "src/sub/.gitignore", "local.txt\n");
    write(
        &d,
        "spawnmux.toml",
        r#"
[watch]
paths = ["src"]
ignore = ["*.tmp", "src/_site/**"]
run = ["TC", "out", "built\n"]
"#,
    );
    let mut run = Run::start(&d, &["--debounce", "300ms"]);
    for f in [
        "src/a.tmp",
        "src/_site/index.html",
        "src/debug.log",
        "src/sub/local.txt",
        "src/excluded/x.md",
        "src/.git/HEAD",
        "src/.a.md.swp",
        "src/b.md~",
        "src/4913",
    ] {
        write(&d, f, "ignored");
    }
    // Re-included by `!keep.log`: the first change, alone.
    write(&d, "src/keep.log", "kept");
    assert_eq!(run.next_change(), [p("keep.log")], "{}", run.dump());
    run.expect("the build's exit", exited("build"));
    // A file ignored only in `src/sub` counts elsewhere.
    write(&d, "src/local.txt", "counts");
    assert_eq!(run.next_change(), [p("local.txt")]);
    run.stop();
}

#[test]
fn without_gitignore_the_gitignored_files_trigger() {
    let d = dir("nogitignore");
    write(&d, "src/.gitignore", "*.log\n");
    let mut run = Run::start(
        &d,
        &["--watch", "src", "--on-change", "true", "--no-gitignore"],
    );
    write(&d, "src/debug.log", "x");
    assert_eq!(run.next_change(), [p("debug.log")]);
    run.stop();
}

#[cfg(unix)]
/// A build that runs until the test has changed a file during it.
fn busy_run(name: &str, on_busy: &str) -> (PathBuf, Run) {
    let d = dir(name);
    // Quoted: the shell would turn an unquoted `\n` into `n`.
    let build = format!("{} out 'building\\n' sleep 3000", testchild());
    let run = Run::start(
        &d,
        &[
            "--watch",
            "src",
            "--on-change",
            &build,
            "--on-busy",
            on_busy,
            "--debounce",
            "200ms",
        ],
    );
    (d, run)
}

#[cfg(unix)]
#[test]
fn on_busy_queue_rebuilds_after_the_running_build() {
    let (d, mut run) = busy_run("queue", "queue");
    write(&d, "src/a", "1");
    run.expect("the build's first line", |r| r["line"] == "building");
    write(&d, "src/b", "2");
    run.expect("the first build's exit", exited("build"));
    assert_eq!(run.next_change(), [p("b")]);
    let e = run.expect("the second build's exit", exited("build"));
    assert_eq!(e["code"], 0);
    assert_eq!(run.count(started("build")), 2);
    run.stop();
}

#[cfg(unix)]
#[test]
fn on_busy_ignore_drops_changes_during_the_build() {
    let (d, mut run) = busy_run("ignorebusy", "ignore");
    write(&d, "src/a", "1");
    run.expect("the build's first line", |r| r["line"] == "building");
    write(&d, "src/b", "2");
    let r = run.expect("the ignored change", |r| r["event"] == "change_ignored");
    assert!(
        r["message"].as_str().is_some_and(|m| m.contains(&p("b"))),
        "{r}"
    );
    run.expect("the build's exit", exited("build"));
    write(&d, "src/sentinel", "s");
    assert_eq!(run.next_change(), [p("sentinel")]);
    run.expect("the sentinel's build", started("build"));
    assert_eq!(run.count(started("build")), 2, "{}", run.dump());
    run.stop();
}

#[cfg(unix)]
#[test]
fn on_busy_restart_stops_the_build_and_starts_it_again() {
    let (d, mut run) = busy_run("restartbusy", "restart");
    write(&d, "src/a", "1");
    let first = run.expect("the first build", started("build"))["pid"]
        .as_u64()
        .expect("pid");
    run.expect("the build's first line", |r| r["line"] == "building");
    write(&d, "src/b", "2");
    run.expect("the stop", |r| {
        r["helper"] == "build" && r["event"] == "stop"
    });
    let e = run.expect("the first build's end", exited("build"));
    assert_eq!(e["signal"], 15, "stopped by SIGTERM: {e}");
    assert_eq!(run.next_change(), [p("b")]);
    run.expect("the second build", started("build"));
    assert!(
        !alive(first),
        "the old build {first} is gone before the new one starts"
    );
    let e = run.expect("the second build's exit", exited("build"));
    assert_eq!(e["code"], 0);
    run.stop();
}

#[cfg(unix)]
#[test]
fn helpers_restart_after_a_successful_build_only() {
    let d = dir("restart");
    write(
        &d,
        "spawnmux.toml",
        r#"
[helpers.web]
command = ["TC", "grandchild", "600000", "pid", "forever", "1000"]

[watch]
paths = ["src"]
run = "test ! -e src/fail"
restart = ["web"]
"#,
    );
    let mut run = Run::start(&d, &[]);
    let num = |r: &Value, prefix: &str| -> u64 {
        r["line"].as_str().expect("line")[prefix.len()..]
            .parse()
            .expect("number")
    };
    let g1 = run.expect("web's grandchild", |r| {
        r["line"]
            .as_str()
            .is_some_and(|l| l.starts_with("grandchild "))
    });
    let g1 = num(&g1, "grandchild ");
    let p1 = run.expect("web's pid", |r| {
        r["line"].as_str().is_some_and(|l| l.starts_with("pid "))
    });
    let p1 = num(&p1, "pid ");

    write(&d, "src/fail", "make the build fail");
    run.next_change();
    let e = run.expect("the failed build", exited("build"));
    assert_eq!(e["code"], 1);
    run.expect("the note", |r| r["event"] == "build_failed");
    let before = run.seen.len();

    std::fs::remove_file(d.join("src/fail")).expect("rm");
    assert_eq!(run.next_change(), [p("fail")]);
    // Nothing happened to web between the failed build and this change.
    assert!(
        !run.seen[before..]
            .iter()
            .any(|r| r["helper"] == "web" && r["event"].is_string()),
        "{}",
        run.dump()
    );
    let e = run.expect("the good build", exited("build"));
    assert_eq!(e["code"], 0);
    run.expect("web's restart", |r| {
        r["helper"] == "web" && r["event"] == "restart"
    });
    let e = run.expect("old web's end", exited("web"));
    assert_eq!(e["signal"], 15, "{e}");
    let s = run.expect("new web", started("web"));
    // The old tree (web and the grandchild holding its pipes) is gone before the new start.
    assert!(!alive(p1), "old web {p1} still there at the restart");
    assert!(!alive(g1), "old grandchild {g1} still there at the restart");
    assert_ne!(s["pid"].as_u64(), Some(p1));
    run.expect("new web's output", |r| {
        r["line"].as_str().is_some_and(|l| l.starts_with("pid "))
    });
    run.stop();
}

#[test]
fn without_a_build_a_change_restarts_the_helpers() {
    let d = dir("nobuild");
    let web = format!("{} forever 1000", testchild());
    let mut run = Run::start(
        &d,
        &[
            "--watch",
            "src",
            "--restart-on-change",
            "spawnmux-testchild",
            "--",
            &web,
        ],
    );
    let name = "spawnmux-testchild";
    let first = run.expect("web", started(name))["pid"]
        .as_u64()
        .expect("pid");
    write(&d, "src/a", "1");
    run.next_change();
    run.expect("the restart", |r| {
        r["helper"] == name && r["event"] == "restart"
    });
    let again = run.expect("web again", started(name))["pid"]
        .as_u64()
        .expect("pid");
    assert_ne!(first, again);
    #[cfg(unix)]
    assert!(!alive(first));
    run.stop();
}

#[cfg(unix)]
#[test]
fn own_log_and_build_output_never_trigger() {
    let d = dir("self");
    write(
        &d,
        "spawnmux.toml",
        r#"
[watch]
paths = ["."]
output = ["_site"]
run = "mkdir -p _site && date > _site/index.html && echo built"
"#,
    );
    // spawnmux's log is a file inside the watched tree: every line it writes changes it.
    let log = d.join("spawnmux.log");
    let mut run = Run::start_logging_to(&d, &log, &[]);
    write(&d, "src/a.md", "a");
    assert_eq!(run.next_change(), [p("a.md")]);
    run.expect("the build's exit", exited("build"));
    write(&d, "src/sentinel", "s");
    assert_eq!(run.next_change(), [p("sentinel")], "{}", run.dump());
    run.expect("the second build's exit", exited("build"));
    assert_eq!(run.count(started("build")), 2);
    run.stop();
}

#[cfg(unix)]
#[test]
fn a_rebuild_loop_is_detected_and_broken() {
    let d = dir("loop");
    let mut run = Run::start(
        &d,
        &[
            "--watch",
            "src",
            "--on-change",
            "echo x >> src/generated.txt",
        ],
    );
    write(&d, "src/a.md", "a");
    let r = run.expect("the loop", |r| r["event"] == "rebuild_loop");
    assert!(
        r["message"]
            .as_str()
            .is_some_and(|m| m.contains(&p("generated.txt"))),
        "{r}"
    );
    // Three builds in a row, each triggered only by the previous one's write, make a loop. On
    // a loaded machine the watcher may report a write more than 300 ms after its build ended;
    // that change then counts as the user's and the count starts again, so a loop can take a
    // build or two more to be recognised.
    let builds = run.count(started("build"));
    assert!((3..=5).contains(&builds), "{builds} builds: {}", run.dump());
    // A real change still rebuilds; that build's own write no longer loops.
    write(&d, "src/b.md", "b");
    assert_eq!(run.next_change(), [p("b.md")]);
    run.expect("its exit", exited("build"));
    write(&d, "src/sentinel", "s");
    assert_eq!(run.next_change(), [p("sentinel")], "{}", run.dump());
    run.stop();
}

#[cfg(unix)]
#[test]
fn a_deleted_and_recreated_directory_is_watched_again() {
    let d = dir("recreate");
    let mut run = Run::start(&d, &["--watch", "src", "--on-change", "true"]);
    std::fs::remove_dir_all(d.join("src")).expect("rm");
    run.expect("the removal", |r| {
        r["event"] == "watch" && r["message"].as_str().is_some_and(|m| m.contains("removed"))
    });
    std::fs::create_dir(d.join("src")).expect("mkdir");
    run.expect("the re-creation", |r| {
        r["event"] == "watch" && r["message"].as_str().is_some_and(|m| m.contains("back"))
    });
    write(&d, "src/new.md", "n");
    let want = p("new.md");
    loop {
        if run.next_change().contains(&want) {
            break;
        }
    }
    run.stop();
}

#[test]
fn polling_sees_changes_too() {
    let d = dir("poll");
    write(&d, "src/a.md", "old");
    let mut run = Run::start(
        &d,
        &["--watch", "src", "--on-change", "true", "--poll", "100ms"],
    );
    write(&d, "src/b.md", "new file");
    assert_eq!(run.next_change(), [p("b.md")]);
    run.expect("the build", exited("build"));
    run.stop();
}

#[test]
fn bad_watch_input_is_a_one_line_error_exit_2() {
    let d = dir("bad");
    let out = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_spawnmux"))
            .arg("run")
            .args(args)
            .current_dir(&d)
            .stdin(Stdio::null())
            .output_retried()
            .expect("run")
    };
    let o = out(&["--watch", "nowhere", "--on-change", "true"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.starts_with("spawnmux: --watch nowhere: cannot be watched: ")
            && err.lines().count() == 1,
        "{err}"
    );
    let o = out(&["--watch", "src"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--on-change"));
    let o = out(&["--on-change", "make"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--watch PATH"));
    write(
        &d,
        "spawnmux.toml",
        "[watch]\npaths = [\"src\", \"gone\"]\nrun = \"true\"\n",
    );
    let o = out(&[]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("spawnmux.toml:2:17: [watch] paths: `gone` cannot be watched"),
        "{err}"
    );
}
