//! Readiness and liveness checks, `depends_on` conditions and `restart_with` in
//! spawnmux.toml, from text to plan or error.

use std::net::SocketAddr;
use std::time::Duration;

use super::config::{err, load_text};
use crate::spec::{Condition, Program, Target};

#[test]
fn checks_conditions_and_restart_with_load() {
    let spec = load_text(
        "checks-ok",
        r#"
[helpers.db]
shell = "postgres"
ready_exec = "pg_isready -h localhost"
ready_interval = "1s"
ready_delay = "2s"
ready_timeout = "30s"
[helpers.migrate]
command = ["migrate"]
[helpers.web]
shell = "vite"
ready_http = "http://localhost:5173/health"
alive_tcp = "127.0.0.1:5173"
alive_interval = "5s"
alive_failures = 2
depends_on = { db = "ready", migrate = "completed_successfully" }
restart_with = ["db"]
"#,
    )
    .expect("valid");
    let (db, web) = (&spec.helpers[0], &spec.helpers[2]);
    let ready = db.ready_check.as_ref().expect("ready_exec");
    assert_eq!(
        ready.target,
        Target::Exec(Program::Shell("pg_isready -h localhost".into()))
    );
    assert_eq!(ready.interval, Duration::from_secs(1));
    assert_eq!(db.ready_delay, Duration::from_secs(2));
    assert_eq!(db.ready_timeout, Duration::from_secs(30));
    let Some(Target::Http { at, host, path }) = web.ready_check.as_ref().map(|c| &c.target) else {
        panic!("ready_http");
    };
    assert_eq!(
        (host.as_str(), path.as_str()),
        ("localhost:5173", "/health")
    );
    let v6: SocketAddr = "[::1]:5173".parse().expect("addr");
    assert_eq!(at.addrs[1], v6);
    let alive = web.alive_check.as_ref().expect("alive_tcp");
    assert_eq!(alive.interval, Duration::from_secs(5));
    assert_eq!(web.alive_failures, 2);
    assert_eq!(web.depends_on, ["db", "migrate"]);
    assert_eq!(
        web.conditions.get("migrate"),
        Some(&Condition::CompletedSuccessfully)
    );
    assert_eq!(web.restart_with, ["db"]);
}

#[test]
fn the_array_form_still_means_ready_and_checks_have_defaults() {
    let spec = load_text(
        "checks-defaults",
        "[helpers.a]\nshell = \"a\"\nready_tcp = \"[::1]:1\"\n[helpers.b]\nshell = \"b\"\ndepends_on = [\"a\"]\n",
    )
    .expect("valid");
    let a = &spec.helpers[0];
    assert_eq!(
        a.ready_check.as_ref().map(|c| c.interval),
        Some(Duration::from_millis(500))
    );
    assert_eq!(a.ready_timeout, Duration::from_secs(60));
    assert!(spec.helpers[1].conditions.is_empty());
}

#[test]
fn bad_checks_are_errors_at_their_key() {
    let h = "[helpers.web]\nshell = \"x\"\n";
    for (name, text, want) in [
        (
            "https",
            "ready_http = \"https://127.0.0.1/\"",
            "spawnmux.toml:3:14: `ready_http` of helper `web`: `https://127.0.0.1/`: https is not supported",
        ),
        (
            "dns",
            "ready_tcp = \"db.internal:5432\"",
            "spawnmux.toml:3:13: `ready_tcp` of helper `web`: `db.internal:5432`: host `db.internal` would need a DNS lookup",
        ),
        (
            "no-port",
            "alive_tcp = \"127.0.0.1\"",
            "spawnmux.toml:3:13: `alive_tcp` of helper `web`: `127.0.0.1`: no port",
        ),
        (
            "two",
            "ready_tcp = \"127.0.0.1:1\"\nready_exec = \"true\"",
            "spawnmux.toml:4:14: `ready_exec` of helper `web`: a helper has at most one of ready_http, ready_tcp and ready_exec",
        ),
        (
            "line-too",
            "ready_line = \"up\"\nready_tcp = \"127.0.0.1:1\"",
            "spawnmux.toml:4:13: `ready_tcp` of helper `web`: a helper has one way to become ready, and this one has `ready_line` too",
        ),
        (
            "delay-alone",
            "ready_delay = \"1s\"",
            "spawnmux.toml:3:15: `ready_delay` of helper `web` needs a check to go with it (`ready_http`, `ready_tcp` or `ready_exec`)",
        ),
        (
            "interval-alone",
            "alive_interval = \"1s\"",
            "spawnmux.toml:3:18: `alive_interval` of helper `web` needs a check to go with it (`alive_http`",
        ),
        (
            "interval-zero",
            "ready_tcp = \"127.0.0.1:1\"\nready_interval = \"0\"",
            "spawnmux.toml:4:18: `ready_interval` of helper `web` must be more than 0s",
        ),
        (
            "failures-zero",
            "alive_exec = [\"true\"]\nalive_failures = 0",
            "spawnmux.toml:4:18: `alive_failures` of helper `web` must be at least 1",
        ),
        (
            "exec-empty",
            "ready_exec = \" \"",
            "spawnmux.toml:3:14: `ready_exec` of helper `web` must be a non-empty list of strings",
        ),
    ] {
        let e = err(name, &format!("{h}{text}\n"));
        assert!(e.starts_with(want), "{name}: {e}");
    }
}

#[test]
fn bad_conditions_and_restart_with_are_errors_at_their_value() {
    let e = err(
        "condition",
        "[helpers.db]\nshell = \"x\"\n[helpers.web]\nshell = \"y\"\ndepends_on = { db = \"healthy\" }\n",
    );
    assert_eq!(
        e,
        "spawnmux.toml:5:21: `depends_on` of helper `web` condition for `db` must be started, ready, completed or completed_successfully, not `healthy`"
    );
    let e = err(
        "restart-with",
        "[helpers.db]\nshell = \"x\"\n[helpers.web]\nshell = \"y\"\nrestart_with = [\"db\"]\n",
    );
    assert!(
        e.starts_with("spawnmux.toml:5:17: `restart_with` of helper `web` names `db`, which is not in its depends_on"),
        "{e}"
    );
    let e = err(
        "unknown-dep",
        "[helpers.web]\nshell = \"y\"\ndepends_on = { nope = \"started\" }\n",
    );
    assert_eq!(
        e,
        "spawnmux.toml:3:16: helper `web` depends on `nope`, which is not defined"
    );
    let e = err("dep-type", "[helpers.web]\nshell = \"y\"\ndepends_on = 3\n");
    assert!(e.contains("a list of helper names or a table"), "{e}");
}
