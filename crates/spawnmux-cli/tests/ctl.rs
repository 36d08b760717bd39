//! `spawnmux ctl` end to end: a real `spawnmux run` in one process, `spawnmux ctl` (or a raw
//! socket client, for what `ctl` never sends) in another. Each test has its own runtime
//! directory (`XDG_RUNTIME_DIR`, Windows: `LOCALAPPDATA`), so sockets never meet.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod util;
use util::{testchild, Launch};

/// Where the control directory lives for the processes of one test.
const RUNTIME_VAR: &str = if cfg!(windows) {
    "LOCALAPPDATA"
} else {
    "XDG_RUNTIME_DIR"
};

/// A test's directory (the config's) and its runtime directory, removed at the end.
struct Env {
    base: PathBuf,
    dir: PathBuf,
    runtime: PathBuf,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

impl Env {
    /// A fresh directory holding `spawnmux.toml` = `toml` (`TC` is the test child).
    fn new(name: &str, toml: &str) -> Env {
        let base = std::env::temp_dir().join(format!("spawnmux-ctl-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let dir = base.join("project");
        let runtime = base.join("runtime");
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::create_dir_all(&runtime).expect("runtime dir");
        let tc = testchild().replace('\\', "\\\\");
        std::fs::write(dir.join("spawnmux.toml"), toml.replace("TC", &tc)).expect("write");
        Env { base, dir, runtime }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_spawnmux"));
        c.args(args)
            .current_dir(&self.dir)
            .env(RUNTIME_VAR, &self.runtime)
            .stdin(Stdio::null());
        c
    }

    /// `spawnmux ctl ARGS`, finished.
    fn ctl(&self, args: &[&str]) -> Output {
        let mut all = vec!["ctl"];
        all.extend(args);
        self.command(&all)
            .output_retried()
            .expect("run spawnmux ctl")
    }

    /// `spawnmux run ARGS` in the background, its log in `log.txt`; returns once `ctl status`
    /// answers.
    fn run(&self, args: &[&str]) -> Runner {
        let log = self.dir.join("log.txt");
        let mut all = vec!["run", "--color", "never", "--no-timestamps"];
        all.extend(args);
        let child = self
            .command(&all)
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(Stdio::piped())
            .spawn_retried()
            .expect("spawn spawnmux run");
        let runner = Runner { child, log };
        eventually("the runner answers", || {
            self.ctl(&["status"]).status.success().then_some(())
        });
        runner
    }

    /// The helpers' status, as `ctl --format json status` says.
    fn status(&self) -> Vec<Value> {
        let out = self.ctl(&["--format", "json", "status"]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        v["helpers"].as_array().expect("helpers").clone()
    }

    fn helper(&self, name: &str) -> Value {
        self.status()
            .into_iter()
            .find(|h| h["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))
    }

    /// The control socket (or Windows' endpoint file) of the run.
    fn socket(&self) -> PathBuf {
        let dir = self.runtime.join("spawnmux");
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("control dir")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        found.remove(0)
    }
}

struct Runner {
    child: Child,
    log: PathBuf,
}

impl Runner {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops the run as Ctrl-C does and returns its exit code and stderr.
    fn stop(mut self) -> (Option<i32>, String) {
        interrupt(&mut self.child);
        let status = wait_for(&mut self.child, Duration::from_secs(20)).expect("the run ends");
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        (status.code(), err)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            interrupt(&mut self.child);
            if wait_for(&mut self.child, Duration::from_secs(10)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
    }
}

#[cfg(unix)]
fn interrupt(child: &mut Child) {
    use rustix::process::{kill_process, Pid, Signal};
    if let Some(pid) = Pid::from_raw(child.id() as i32) {
        let _ = kill_process(pid, Signal::INT);
    }
}

#[cfg(windows)]
fn interrupt(child: &mut Child) {
    let _ = child.kill();
}

fn wait_for(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Polls `f` until it gives a value (10 s at most).
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const TWO: &str = r#"
[helpers.web]
command = ["TC", "forever", "100"]
[helpers.db]
# The sleeps keep the order of the two streams.
command = ["TC", "out", "db up\n", "sleep", "100", "err", "db careful\n", "sleep", "100",
           "out", "db ready\n", "sleep", "600000"]
"#;

#[test]
fn status_in_text_and_json() {
    let env = Env::new("status", TWO);
    let run = env.run(&[]);
    let out = env.ctl(&["status"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let table = text(&out.stdout);
    let rows: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows[0],
        ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "READY"]
    );
    assert_eq!(rows[1][..2], ["web", "running"], "{table}");
    assert_eq!(rows[2][..2], ["db", "running"], "{table}");
    assert!(rows[1][2].parse::<u32>().is_ok(), "{table}");
    let web = env.helper("web");
    assert_eq!(web["state"], "running");
    assert!(web["pid"].as_u64().is_some_and(|p| p > 0));
    assert!(web["uptime_ms"].as_u64().is_some());
    assert_eq!(web["restarts"], 0);
    assert_eq!(web["ready"], true);
    assert_eq!(web["code"], Value::Null);
    // The options after the command work too.
    let out = env.ctl(&["status", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["ok"], true);
    assert_eq!(v["helpers"].as_array().map(Vec::len), Some(2));
    drop(run);
}

#[test]
fn stop_start_and_restart() {
    let env = Env::new("stop-start", TWO);
    let run = env.run(&[]);
    let out = env.ctl(&["stop", "web"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stdout), "web: stopping\n");
    eventually("web is done", || {
        (env.helper("web")["state"] == "done").then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let web = env.helper("web");
    assert_eq!(
        (web["state"].as_str(), web["code"].as_i64()),
        (Some("done"), Some(0)),
        "stays stopped"
    );
    assert_eq!(env.helper("db")["state"], "running", "the run goes on");
    let again = env.ctl(&["stop", "web"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("web is not running"),
        "{again:?}"
    );

    assert_eq!(env.ctl(&["start", "web"]).status.code(), Some(0));
    let first = eventually("web runs again", || env.helper("web")["pid"].as_u64());
    assert_eq!(env.ctl(&["restart", "web"]).status.code(), Some(0));
    let second = eventually("web has a new pid", || {
        env.helper("web")["pid"].as_u64().filter(|&p| p != first)
    });
    assert_ne!(first, second);
    // Each request is in the log (which reaches its file within 10 ms).
    for request in ["stop", "start", "restart"] {
        let asked = format!("spawnmux | {request} web: asked by spawnmux ctl");
        eventually(&asked, || run.log().contains(&asked).then_some(()));
    }
    let (code, _) = run.stop();
    assert!(code.is_some());
}

#[test]
fn logs_last_lines_and_follow() {
    let env = Env::new("logs", TWO);
    let run = env.run(&[]);
    eventually("db wrote its lines", || {
        run.log().contains("| db ready").then_some(())
    });
    let out = env.ctl(&["logs", "db", "-n", "2"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(text(&out.stdout).replace('\r', ""), "db ready\n");
    assert_eq!(text(&out.stderr).replace('\r', ""), "db careful\n");
    let out = env.ctl(&["--format", "json", "logs", "db"]);
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    let got: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["stream"].as_str().unwrap_or(""),
                l["line"].as_str().unwrap_or(""),
            )
        })
        .map(|(s, l)| (s, l.trim_end_matches('\r')))
        .collect();
    assert_eq!(
        got,
        [
            ("stdout", "db up"),
            ("stderr", "db careful"),
            ("stdout", "db ready")
        ]
    );
    assert!(lines.iter().all(|l| l["helper"] == "db"));

    // Follow: new ticks of web arrive while the client reads.
    let mut follow = env
        .command(&["ctl", "logs", "web", "-f", "-n", "0"])
        .stdout(Stdio::piped())
        .spawn_retried()
        .expect("ctl logs -f");
    let stdout = follow.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.expect("line")).is_err() {
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a new line");
    assert!(line.starts_with("tick "), "{line}");
    let next = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("another one");
    let number = |l: &str| {
        l.trim()["tick ".len()..]
            .parse::<u64>()
            .expect("tick number")
    };
    assert_eq!(number(&next), number(&line) + 1);
    // The run's end ends the follow (on Unix the run ends cleanly: exit 0).
    drop(run);
    let status = wait_for(&mut follow, Duration::from_secs(10)).expect("follow ends with the run");
    if cfg!(unix) {
        assert_eq!(status.code(), Some(0));
    }
}

#[test]
fn unknown_names_and_commands_are_refused() {
    let env = Env::new("unknown", TWO);
    let run = env.run(&[]);
    let out = env.ctl(&["restart", "nope"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        text(&out.stderr),
        "spawnmux ctl: no helper named `nope` (helpers: web, db)\n"
    );
    let out = env.ctl(&["--format", "json", "logs", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().is_some_and(|e| e.contains("nope")));
    let usage = env.ctl(&["reboot"]);
    assert_eq!(usage.status.code(), Some(2), "{usage:?}");
    assert_eq!(env.helper("web")["state"], "running", "nothing broke");
    drop(run);
}

#[test]
fn without_a_runner_ctl_exits_2_and_names_the_socket() {
    let env = Env::new("none", TWO);
    let out = env.ctl(&["status"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = text(&out.stderr);
    assert!(err.contains("no spawnmux runs this config"), "{err}");
    assert!(
        err.contains(&env.runtime.join("spawnmux").display().to_string()),
        "{err}"
    );
    let there = env.dir.join("nothing.sock");
    let out = env.ctl(&["--control", there.to_str().expect("path"), "status"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        text(&out.stderr).contains(there.to_str().expect("path")),
        "{out:?}"
    );
}

#[test]
fn a_second_runner_of_the_same_config_is_refused_with_the_pid() {
    let env = Env::new("second", TWO);
    let run = env.run(&[]);
    let out = env.command(&["run"]).output_retried().expect("second run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = text(&out.stderr);
    let want = format!("another spawnmux runs this config: pid {}", run.child.id());
    assert!(err.contains(&want), "{err}");
    assert!(out.stdout.is_empty(), "nothing started: {out:?}");
    // The first one is unharmed; another socket serves a second run.
    assert_eq!(env.helper("web")["state"], "running");
    let other = env.dir.join("other.sock");
    let other = other.to_str().expect("path");
    let mut second = env
        .command(&["run", "--control", other])
        .stdout(Stdio::null())
        .spawn_retried()
        .expect("run");
    eventually("the second run answers", || {
        env.ctl(&["--control", other, "status"])
            .status
            .success()
            .then_some(())
    });
    interrupt(&mut second);
    wait_for(&mut second, Duration::from_secs(20)).expect("second run ends");
    drop(run);
}

#[test]
fn the_socket_is_removed_at_the_end_and_a_stale_one_is_replaced() {
    let env = Env::new("stale", TWO);
    let run = env.run(&[]);
    let socket = env.socket();
    let (code, _) = run.stop();
    assert!(code.is_some());
    // (On Windows the test can only kill the run, which then removes nothing.)
    if cfg!(unix) {
        assert!(!socket.exists(), "removed at the end");
    }
    // A runner killed outright leaves its socket behind; the next run replaces it.
    let mut run = env.run(&[]);
    run.child.kill().expect("kill");
    run.child.wait().expect("wait");
    assert!(env.socket().exists(), "left behind");
    let run = env.run(&[]);
    assert_eq!(env.helper("web")["state"], "running");
    drop(run);
}

/// Unix-only: modes, directory checks and raw clients (Windows' endpoint needs a token).
#[cfg(unix)]
mod unix {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixStream;
    use std::path::Path;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p)
            .expect("stat")
            .permissions()
            .mode()
            & 0o7777
    }

    #[test]
    fn socket_0600_in_a_0700_directory() {
        let env = Env::new("modes", TWO);
        let run = env.run(&[]);
        let socket = env.socket();
        assert_eq!(mode(&socket), 0o600);
        assert_eq!(mode(socket.parent().expect("dir")), 0o700);
        assert!(socket.to_str().expect("utf-8").ends_with(".sock"));
        drop(run);
    }

    #[test]
    fn a_directory_others_may_write_is_refused() {
        let env = Env::new("open-dir", TWO);
        let dir = env.runtime.join("spawnmux");
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        // The run goes on without a socket, and says why.
        let mut run = env
            .command(&["run", "--color", "never"])
            .stdout(Stdio::piped())
            .spawn_retried()
            .expect("run");
        let mut first = String::new();
        let mut stdout = BufReader::new(run.stdout.take().expect("stdout"));
        stdout.read_line(&mut first).expect("a line");
        assert!(first.contains("no control socket"), "{first}");
        assert!(
            first.contains("others may write to it (mode 777)"),
            "{first}"
        );
        assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 0);
        let out = env.ctl(&["status"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            text(&out.stderr).contains("refusing the control directory"),
            "{out:?}"
        );
        interrupt(&mut run);
        wait_for(&mut run, Duration::from_secs(20)).expect("ends");
    }

    /// A raw client on the run's socket.
    fn client(env: &Env) -> BufReader<UnixStream> {
        let s = UnixStream::connect(env.socket()).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        BufReader::new(s)
    }

    fn ask(c: &mut BufReader<UnixStream>, line: &[u8]) -> Value {
        c.get_mut().write_all(line).expect("write");
        let mut reply = String::new();
        c.read_line(&mut reply).expect("reply");
        serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{reply:?}: {e}"))
    }

    fn closed(c: &mut BufReader<UnixStream>) -> bool {
        let mut rest = Vec::new();
        c.read_to_end(&mut rest).is_ok_and(|_| rest.is_empty())
    }

    #[test]
    fn garbage_and_oversized_requests_get_an_error() {
        let env = Env::new("garbage", TWO);
        let run = env.run(&[]);
        let mut c = client(&env);
        let r = ask(&mut c, b"{\"cmd\":\"reboot\"}\n");
        assert_eq!(r["ok"], false);
        assert!(r["error"]
            .as_str()
            .expect("error")
            .contains("unknown command `reboot`"));
        let r = ask(&mut c, b"{\"cmd\":\"status\",\"name\":7}\n");
        assert_eq!(r["ok"], false, "{r}");
        let r = ask(&mut c, b"{\"cmd\":\"hello\"}\n");
        assert_eq!(
            (r["ok"].as_bool(), r["pid"].as_u64()),
            (Some(true), Some(u64::from(run.child.id())))
        );
        assert_eq!(r["helpers"], serde_json::json!(["web", "db"]));
        // Not JSON: an error, then the end of the connection.
        let r = ask(&mut c, b"status please\n");
        assert!(
            r["error"].as_str().expect("error").starts_with("not JSON"),
            "{r}"
        );
        assert!(closed(&mut c));
        // Over 64 KiB without a newline: the same.
        let mut c = client(&env);
        let big = vec![b'{'; 70 * 1024];
        let r = ask(&mut c, &big);
        assert!(
            r["error"]
                .as_str()
                .expect("error")
                .contains("over 65536 bytes"),
            "{r}"
        );
        assert!(closed(&mut c));
        // Binary junk.
        let mut c = client(&env);
        let r = ask(&mut c, b"\xff\xfe\x00\x01\n");
        assert_eq!(r["ok"], false);
        assert_eq!(env.helper("web")["state"], "running", "nothing broke");
        drop(run);
    }

    #[test]
    fn a_client_that_never_reads_does_not_hold_up_the_log() {
        let toml = r#"
[helpers.flood]
command = ["TC", "lines", "200000", "out", "sleep", "300", "lines", "200000", "out"]
"#;
        let env = Env::new("stuck-client", toml);
        let start = Instant::now();
        let run = env.run(&[]);
        // Follows the flood, never reads; another connects and sends nothing at all.
        let mut stuck = UnixStream::connect(env.socket()).expect("connect");
        stuck
            .write_all(b"{\"cmd\":\"logs\",\"name\":\"flood\",\"follow\":true}\n")
            .expect("write");
        let _silent = UnixStream::connect(env.socket()).expect("connect");
        let mut run = run;
        let status = wait_for(&mut run.child, Duration::from_secs(60)).expect("the run ends");
        assert_eq!(status.code(), Some(0));
        let lines = run
            .log()
            .lines()
            .filter(|l| l.starts_with("flood "))
            .count();
        assert_eq!(lines, 400_000, "every line logged");
        assert!(start.elapsed() < Duration::from_secs(60));
        // The stuck client was dropped (or closed at the end): it reads to the end.
        stuck
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut all = Vec::new();
        stuck.read_to_end(&mut all).expect("read to the end");
        assert!(all.starts_with(b"{\"ok\":true,\"lines\":["));
    }
}
