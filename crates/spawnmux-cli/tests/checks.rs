//! Readiness and liveness checks and `depends_on` conditions, end to end: the built binary,
//! real sockets on 127.0.0.1, the workspace's test child as the helpers (a server that
//! listens after a delay, a client that connects once). Every run ends by itself
//! (`--kill-others` when a helper serves forever); assertions are about order, not timing.
//! Runs on every platform (Windows: under Wine in CI).

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod util;
use util::{testchild, Launch};

/// A free port on 127.0.0.1 (bound, then released for the helper to take).
fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
    l.local_addr().expect("addr").port()
}

/// A fresh directory with `config` as spawnmux.toml; `TC` is the test child's path and
/// `PORT` the port.
fn dir(name: &str, config: &str, port: u16) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnmux-checks-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    let config = config
        .replace("TC", &testchild())
        .replace("PORT", &port.to_string());
    std::fs::write(d.join("spawnmux.toml"), config).expect("write");
    d
}

fn run(dir: &Path, args: &[&str]) -> (Output, Vec<Value>) {
    let out = Command::new(env!("CARGO_BIN_EXE_spawnmux"))
        .args(["run", "--format", "json"])
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output_retried()
        .expect("run spawnmux");
    let recs = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    (out, recs)
}

/// Where the first record of `helper` with `event` (or output `line`) is in the log.
fn find(recs: &[Value], helper: &str, event: &str) -> usize {
    recs.iter()
        .position(|r| r["helper"] == helper && (r["event"] == event || r["line"] == event))
        .unwrap_or_else(|| panic!("no {event} of {helper} in {recs:#?}"))
}

fn count(recs: &[Value], helper: &str, event: &str) -> usize {
    recs.iter()
        .filter(|r| r["helper"] == helper && r["event"] == event)
        .count()
}

/// `db` listens after 1.5 s and serves forever; `web` connects once (exit 3 if refused) and
/// depends on db's readiness `check`. `--kill-others`: web's end ends the run with its code.
fn server_and_client(name: &str, check: &str) {
    let port = free_port();
    let config = format!(
        r#"
[helpers.db]
command = ['TC', 'listen', 'PORT', '1500', '0', '200']
{check}
ready_interval = "300ms"
ready_timeout = "60s"
[helpers.web]
command = ['TC', 'connect', 'PORT']
depends_on = ["db"]
"#
    );
    let d = dir(name, &config, port);
    let (out, recs) = run(&d, &["--kill-others"]);
    assert_eq!(out.status.code(), Some(0), "web connected: {recs:#?}");
    assert!(find(&recs, "db", "ready") < find(&recs, "web", "start"));
    assert!(find(&recs, "web", "start") < find(&recs, "web", "connected"));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn ready_tcp_starts_the_dependent_once_the_port_answers() {
    server_and_client("tcp", "ready_tcp = '127.0.0.1:PORT'");
}

#[test]
fn ready_http_starts_the_dependent_once_the_server_answers_2xx() {
    server_and_client("http", "ready_http = 'http://localhost:PORT/health'");
}

#[test]
fn ready_exec_starts_the_dependent_once_the_command_succeeds_and_is_not_logged() {
    server_and_client("exec", "ready_exec = ['TC', 'connect', 'PORT']");
    // The check's own output (`refused: …` before the server listens, `connected` after)
    // is not the helper's: the server's log has only its own line.
    let port = free_port();
    let config = r#"
[helpers.db]
command = ['TC', 'listen', 'PORT', '1000', '0', '200']
ready_exec = ['TC', 'connect', 'PORT']
ready_interval = "500ms"
[helpers.web]
command = ['TC', 'out', 'web ran\n']
depends_on = ["db"]
"#;
    let d = dir("exec-log", config, port);
    let (out, recs) = run(&d, &["--kill-others"]);
    assert_eq!(out.status.code(), Some(0), "{recs:#?}");
    let lines: Vec<&Value> = recs.iter().filter(|r| r.get("line").is_some()).collect();
    let db: Vec<&str> = lines
        .iter()
        .filter(|r| r["helper"] == "db")
        .filter_map(|r| r["line"].as_str())
        .collect();
    assert_eq!(db, [format!("listening {port}")], "{recs:#?}");
    assert_eq!(lines.len(), 2, "db's and web's lines only: {lines:#?}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_server_answering_503_is_never_ready_and_times_out_with_the_status() {
    let port = free_port();
    let config = r#"
[helpers.db]
command = ['TC', 'listen', 'PORT', '0', '0', '503']
ready_http = 'http://127.0.0.1:PORT/'
ready_interval = "300ms"
ready_timeout = "3s"
[helpers.web]
command = ['TC', 'out', 'never\n']
depends_on = ["db"]
"#;
    let d = dir("http-503", config, port);
    let (out, recs) = run(&d, &[]);
    // A failure: db's exit code (stopped: 143 on Unix), or 1 if it exited cleanly.
    assert_ne!(out.status.code(), Some(0), "{recs:#?}");
    let timeout = &recs[find(&recs, "db", "ready_timeout")];
    let last = timeout["last_error"].as_str().unwrap_or_default();
    assert!(last.starts_with("HTTP 503"), "{timeout}");
    let not = recs
        .iter()
        .find(|r| r["helper"] == "web" && r["event"] == "error");
    assert_eq!(not.map(|r| &r["condition"]), Some(&Value::from("ready")));
    assert_eq!(count(&recs, "web", "start"), 0);
    let _ = std::fs::remove_dir_all(&d);
}

/// A migration that ends with `code` before `web`, which needs it to complete successfully.
fn migration(name: &str, code: i32) -> (Output, Vec<Value>) {
    let config = format!(
        r#"
[helpers.migrate]
command = ['TC', 'sleep', '500', 'out', 'migrated\n', 'exit', '{code}']
[helpers.web]
command = ['TC', 'out', 'web ran\n']
depends_on = {{ migrate = "completed_successfully" }}
"#
    );
    let d = dir(name, &config, 0);
    let r = run(&d, &[]);
    let _ = std::fs::remove_dir_all(&d);
    r
}

#[test]
fn completed_successfully_starts_the_dependent_after_the_migration() {
    let (out, recs) = migration("migrate-ok", 0);
    assert_eq!(out.status.code(), Some(0), "{recs:#?}");
    assert!(find(&recs, "migrate", "exit") < find(&recs, "web", "start"));
    find(&recs, "web", "web ran");
}

#[test]
fn a_failed_migration_leaves_the_dependent_unstarted_and_fails_the_run() {
    let (out, recs) = migration("migrate-fails", 4);
    assert_eq!(out.status.code(), Some(4), "{recs:#?}");
    assert_eq!(count(&recs, "web", "start"), 0);
    let not = &recs[find(&recs, "web", "error")];
    assert_eq!(not["condition"], "completed_successfully");
    assert_eq!(not["code"], 4);
}

#[test]
fn a_helper_that_stops_answering_is_restarted_by_its_liveness_check() {
    let port = free_port();
    // api answers for 1.5 s, then closes its port but runs on; `timer` ends the run.
    let config = r#"
[helpers.api]
command = ['TC', 'listen', 'PORT', '0', '1500', '200', 'sleep', '60000']
alive_tcp = '127.0.0.1:PORT'
alive_interval = "300ms"
alive_failures = 2
[helpers.timer]
command = ['TC', 'sleep', '9000']
"#;
    let d = dir("alive", config, port);
    let (out, recs) = run(&d, &["--kill-others"]);
    assert_eq!(out.status.code(), Some(0), "{recs:#?}");
    let not_alive = find(&recs, "api", "not_alive");
    assert_eq!(recs[not_alive]["failures"], 2);
    let starts: Vec<usize> = recs
        .iter()
        .enumerate()
        .filter(|(_, r)| r["helper"] == "api" && r["event"] == "start")
        .map(|(i, _)| i)
        .collect();
    assert!(starts.len() >= 2, "restarted: {recs:#?}");
    assert!(starts[0] < not_alive && not_alive < starts[1]);
    let _ = std::fs::remove_dir_all(&d);
}
