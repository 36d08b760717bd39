//! Ports end to end: `port` (a number or `"auto"`) reaching the helper as `PORT`, `${port.…}`
//! and `${env.…}` in other helpers, `scale` copies on consecutive ports, an `auto` port held
//! until its helper starts, and a restart that waits until the old port is free. The helpers
//! are the workspace's test child on 127.0.0.1; assertions are about order, not timing.
//! Runs on every platform (Windows: under Wine in CI).

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Command, Stdio};

use serde_json::Value;

mod util;
use util::{testchild, Launch};

/// A finished `spawnmux run --format json` of a spawnmux.toml in a directory of its own.
struct Ran {
    code: Option<i32>,
    stderr: String,
    recs: Vec<Value>,
}

impl Ran {
    /// Runs `config` (`TC` stands for the test child) with `args`; spawnmux's environment
    /// has `SPAWNMUX_PORTS_TEST=from-env`.
    fn new(name: &str, config: &str, args: &[&str]) -> Ran {
        let pid = std::process::id();
        let dir = std::env::temp_dir().join(format!("spawnmux-ports-{pid}-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let config = config.replace("TC", &testchild());
        std::fs::write(dir.join("spawnmux.toml"), config).expect("write");
        let out = Command::new(env!("CARGO_BIN_EXE_spawnmux"))
            .args(["run", "--format", "json"])
            .args(args)
            .current_dir(&dir)
            .env("SPAWNMUX_PORTS_TEST", "from-env")
            .stdin(Stdio::null())
            .output_retried()
            .expect("run spawnmux");
        let _ = std::fs::remove_dir_all(&dir);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let recs = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")));
        Ran {
            code: out.status.code(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            recs: recs.collect(),
        }
    }

    /// Where each record of `helper` with `event` is in the log.
    fn all(&self, helper: &str, event: &str) -> Vec<usize> {
        let ours = |r: &Value| r["helper"] == helper && r["event"] == event;
        (0..self.recs.len())
            .filter(|&i| ours(&self.recs[i]))
            .collect()
    }

    /// Where the first record of `helper` with `event` is.
    fn first(&self, helper: &str, event: &str) -> usize {
        let all = self.all(helper, event);
        *all.first()
            .unwrap_or_else(|| panic!("no {event} of {helper}: {:#?}", self.recs))
    }

    /// `helper`'s output lines, in order.
    fn lines(&self, helper: &str) -> Vec<&str> {
        let ours = self.recs.iter().filter(|r| r["helper"] == helper);
        ours.filter_map(|r| r["line"].as_str()).collect()
    }
}

/// A server that says its `PORT`, then listens on `${port}`, ready once it answers.
const SERVER: &str = r#"
command = ['TC', 'env', 'PORT', 'listen', '${port}', '0', '0', '200']
ready_tcp = '127.0.0.1:${port}'
ready_interval = "200ms"
"#;

#[test]
fn a_helper_gets_its_port_as_port_and_a_dependent_names_it() {
    let config = r#"
[helpers.web]
port = "auto"
SERVER
[helpers.client]
command = ['TC', 'connect', '${port.web}', 'out', 'web is ${port.web}, ${env.SPAWNMUX_PORTS_TEST}\n']
depends_on = ["web"]
"#
    .replace("SERVER", SERVER);
    let ran = Ran::new("port", &config, &["--kill-others"]);
    assert_eq!(ran.code, Some(0), "{:#?}", ran.recs);
    let web = ran.lines("web");
    let port = web[0].strip_prefix("PORT=").expect("PORT first");
    assert!(port.parse::<u16>().is_ok_and(|p| p > 0), "{port}");
    assert_eq!(web[1], format!("listening {port}"));
    assert_eq!(
        ran.lines("client"),
        ["connected".to_string(), format!("web is {port}, from-env")]
    );
    assert!(ran.first("web", "ready") < ran.first("client", "start"));
}

/// `n` and `n + 1`, both free on 127.0.0.1 a moment ago.
fn two_free_ports() -> u16 {
    loop {
        let first = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let n = first.local_addr().expect("addr").port();
        if n < u16::MAX && TcpListener::bind((Ipv4Addr::LOCALHOST, n + 1)).is_ok() {
            return n;
        }
    }
}

#[test]
fn scaled_copies_listen_on_consecutive_ports_and_a_dependent_waits_for_all() {
    let base = two_free_ports();
    let config = r#"
[helpers.web]
port = BASE
scale = 2
SERVER
[helpers.client]
command = ['TC', 'connect', '${port.web.1}', 'connect', '${port.web.2}']
depends_on = ["web"]
"#
    .replace("SERVER", SERVER)
    .replace("BASE", &base.to_string());
    let ran = Ran::new("scale", &config, &["--kill-others"]);
    assert_eq!(ran.code, Some(0), "{:#?}", ran.recs);
    for (copy, port) in [("web.1", base), ("web.2", base + 1)] {
        let want = [format!("PORT={port}"), format!("listening {port}")];
        assert_eq!(ran.lines(copy), want, "{copy}");
        assert!(ran.first(copy, "ready") < ran.first("client", "start"));
    }
    assert_eq!(ran.lines("client"), ["connected", "connected"]);
}

#[test]
fn an_auto_port_is_held_until_its_helper_starts() {
    // `thief` runs first and tries to listen on web's port: spawnmux still holds it.
    let config = r#"
[helpers.thief]
command = ['TC', 'listen', '${port.web}', '0', '1', '200']
[helpers.web]
port = "auto"
command = ['TC', 'listen', '${port}', '0', '1', '200']
depends_on = { thief = "completed" }
"#;
    let ran = Ran::new("held", config, &[]);
    let thief = &ran.recs[ran.first("thief", "exit")];
    assert_eq!(thief["code"], 1, "thief could not listen: {:#?}", ran.recs);
    let web = ran.lines("web");
    assert_eq!(web.len(), 1, "{web:?}");
    assert!(web[0].starts_with("listening "), "{:#?}", ran.recs);
    assert!(ran.first("thief", "exit") < ran.first("web", "start"));
    assert_eq!(ran.code, Some(1), "thief's failure is the run's");
}

/// web listens for 300 ms, then leaves its port to a process of its own (not in its process
/// group, not holding its output) that keeps it 6 s, and exits. Its restart must not start
/// before the port is free: the new instance listens on the same port without EADDRINUSE.
/// (Windows: the helper's job object ends the holder with it, so there may be nothing to
/// wait for; the restart must succeed all the same.)
#[test]
fn a_restart_waits_until_the_old_port_is_free() {
    let config = r#"
[helpers.web]
port = "auto"
restart = "always"
max_restarts = 1
stop_timeout = "30s"
command = ['TC', 'listen', '${port}', '0', '300', '200', 'hold-detached', '${port}', '6000']
"#;
    let ran = Ran::new("restart", config, &[]);
    assert_eq!(ran.code, Some(0), "{:#?}", ran.recs);
    let web = ran.lines("web");
    let listening: Vec<&&str> = web.iter().filter(|l| l.starts_with("listening")).collect();
    assert_eq!(listening.len(), 2, "both instances listened: {web:?}");
    assert_eq!(listening[0], listening[1], "on the same port");
    let (starts, exits) = (ran.all("web", "start"), ran.all("web", "exit"));
    assert_eq!((starts.len(), exits.len()), (2, 2), "{:#?}", ran.recs);
    if cfg!(unix) {
        let wait = ran.first("web", "port_wait");
        assert!(exits[0] < wait && wait < starts[1], "{:#?}", ran.recs);
        let port = listening[0].trim_start_matches("listening ");
        assert_eq!(ran.recs[wait]["port"].to_string(), port);
    }
    assert!(ran.all("web", "port_busy").is_empty(), "{:#?}", ran.recs);
}

#[test]
fn a_reference_to_nothing_is_a_config_error_at_its_column() {
    let config = "[helpers.web]\nshell = \"w\"\nport = 5173\n[helpers.api]\nshell = \"api --web ${port.wbe}\"\n";
    let ran = Ran::new("bad", config, &[]);
    assert_eq!(ran.code, Some(2));
    assert!(
        ran.stderr.contains(
            "spawnmux.toml:5:20: `shell` of helper `api`: `${port.wbe}`: no helper named `wbe`"
        ),
        "{}",
        ran.stderr
    );
    assert!(ran.recs.is_empty());
}
