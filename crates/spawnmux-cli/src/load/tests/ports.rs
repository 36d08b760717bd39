//! `port`, `scale` and `${…}` references (docs/config.md, "Ports, copies and references"),
//! from text to plan or error. Each expectation is a documented rule.

use std::net::{Ipv4Addr, TcpListener};

use super::args::run_args;
use super::config::{err, load_text};
use crate::load::load_in;
use crate::spec::{Condition, HelperSpec, Program, RunSpec, Target};

fn names(spec: &RunSpec) -> Vec<&str> {
    spec.helpers.iter().map(|h| h.name.as_str()).collect()
}

fn port(h: &HelperSpec) -> u16 {
    h.port.as_ref().expect("a port").number
}

fn argv(v: &[&str]) -> Program {
    Program::Argv(v.iter().map(|s| s.to_string()).collect())
}

/// `LINE:COL` of the first `needle` in `text` (both from 1).
fn at(text: &str, needle: &str) -> String {
    let i = text.find(needle).expect("in the text");
    let line = text[..i].matches('\n').count() + 1;
    let col = i - text[..i].rfind('\n').map_or(0, |n| n + 1) + 1;
    format!("{line}:{col}")
}

#[test]
fn a_port_is_given_as_port_and_named_by_references() {
    let spec = load_text(
        "ports-refs",
        r#"
[helpers.web]
command = ["vite", "--port", "${port}"]
port = 5173
[helpers.api]
shell = "node api.js --web http://127.0.0.1:${port.web}"
env = { WEB = "http://localhost:${port.web}/", OWN = "${port}", KEEP = "$HOME $$" }
port = 3000
ready_http = "http://127.0.0.1:${port}/health"
alive_tcp = "127.0.0.1:${port.api}"
[helpers.client]
command = ["curl", "http://[::1]:${port.web}"]
ready_exec = ["probe", "${port.api}"]
"#,
    )
    .expect("valid");
    let (web, api, client) = (&spec.helpers[0], &spec.helpers[1], &spec.helpers[2]);
    assert_eq!((port(web), port(api)), (5173, 3000));
    assert!(!web.port.as_ref().expect("port").auto);
    assert!(client.port.is_none());
    assert_eq!(web.env["PORT"], "5173");
    assert_eq!(api.env["PORT"], "3000");
    assert!(!client.env.contains_key("PORT"), "no port, no PORT");
    assert_eq!(web.program, argv(&["vite", "--port", "5173"]));
    assert_eq!(
        api.program,
        Program::Shell("node api.js --web http://127.0.0.1:5173".into())
    );
    assert_eq!(api.env["WEB"], "http://localhost:5173/");
    assert_eq!(api.env["OWN"], "3000");
    assert_eq!(api.env["KEEP"], "$HOME $$", "a `$` alone is itself");
    let Some(Target::Http { at, path, .. }) = api.ready_check.as_ref().map(|c| &c.target) else {
        panic!("ready_http");
    };
    assert_eq!((at.addrs[0].port(), path.as_str()), (3000, "/health"));
    let Some(Target::Tcp(alive)) = api.alive_check.as_ref().map(|c| &c.target) else {
        panic!("alive_tcp");
    };
    assert_eq!(alive.written, "127.0.0.1:3000");
    assert_eq!(client.program, argv(&["curl", "http://[::1]:5173"]));
    let exec = client.ready_check.as_ref().map(|c| c.target.clone());
    assert_eq!(exec, Some(Target::Exec(argv(&["probe", "3000"]))));
}

#[test]
fn env_references_read_spawnmux_environment_and_cwd_takes_references() {
    let path = std::env::var("PATH").expect("PATH is set");
    let dir = std::env::temp_dir().join(format!("spawnmux-ports-{}-cwd", std::process::id()));
    std::fs::create_dir_all(dir.join("5173")).expect("dir");
    let config = format!(
        "[helpers.web]\nshell = \"x ${{env.PATH}}\"\nport = 5173\ncwd = '{}/${{port}}'\n",
        dir.display()
    );
    let spec = load_text("ports-env", &config).expect("valid");
    assert_eq!(spec.helpers[0].program, Program::Shell(format!("x {path}")));
    assert_eq!(spec.helpers[0].cwd, Some(dir.join("5173")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_literal_dollar_brace_is_written_twice_dollar() {
    let spec = load_text(
        "ports-escape",
        "[helpers.web]\nshell = \"echo $${HOME} $${port.web} $$ $x\"\nenv = { A = \"$${env.X}\" }\n",
    )
    .expect("valid");
    let web = &spec.helpers[0];
    assert_eq!(
        web.program,
        Program::Shell("echo ${HOME} ${port.web} $$ $x".into())
    );
    assert_eq!(web.env["A"], "${env.X}");
}

#[test]
fn an_auto_port_is_free_and_held_until_released() {
    let spec = load_text(
        "ports-auto",
        "[helpers.web]\nshell = \"serve\"\nport = \"auto\"\n[helpers.api]\nshell = \"x\"\nport = \"auto\"\n",
    )
    .expect("valid");
    let (web, api) = (&spec.helpers[0], &spec.helpers[1]);
    let p = web.port.as_ref().expect("port");
    assert!(p.auto && p.number != 0);
    assert_ne!(port(web), port(api), "each auto port is another port");
    assert_eq!(web.env["PORT"], p.number.to_string());
    assert!(p.held.holds());
    assert!(
        TcpListener::bind((Ipv4Addr::LOCALHOST, p.number)).is_err(),
        "held: no one else can listen on it"
    );
    // Clones (the supervisor's plan) share the hold: releasing one releases it.
    let clone = spec.clone();
    clone.helpers[0].port.as_ref().expect("port").held.release();
    assert!(!p.held.holds());
    TcpListener::bind((Ipv4Addr::LOCALHOST, p.number)).expect("free once released");
}

#[test]
fn scale_runs_copies_with_consecutive_ports() {
    let spec = load_text(
        "ports-scale",
        r#"
[helpers.web]
command = ["serve", "--port", "${port}"]
port = 5000
scale = 3
[helpers.api]
shell = "api --web ${port.web.2}"
depends_on = ["web"]
restart_with = ["web"]
[helpers.worker]
shell = "w"
depends_on = { web = "started" }
scale = 2
[watch]
paths = ["."]
restart = ["web"]
"#,
    )
    .expect("valid");
    assert_eq!(
        names(&spec),
        ["web.1", "web.2", "web.3", "api", "worker.1", "worker.2"]
    );
    for (k, h) in spec.helpers[..3].iter().enumerate() {
        let want = 5000 + k as u16;
        assert_eq!(port(h), want);
        assert_eq!(h.env["PORT"], want.to_string());
        assert_eq!(h.program, argv(&["serve", "--port", &want.to_string()]));
        assert_eq!(h.copy_of.as_deref(), Some("web"));
    }
    let api = &spec.helpers[3];
    assert_eq!(api.program, Program::Shell("api --web 5001".into()));
    assert_eq!(api.depends_on, ["web.1", "web.2", "web.3"]);
    assert_eq!(api.restart_with, ["web.1", "web.2", "web.3"]);
    assert_eq!(api.copy_of, None);
    let worker = &spec.helpers[4];
    assert!(worker.port.is_none() && !worker.env.contains_key("PORT"));
    assert_eq!(worker.depends_on, ["web.1", "web.2", "web.3"]);
    assert_eq!(worker.conditions.get("web.3"), Some(&Condition::Started));
    assert_eq!(spec.helpers[5].depends_on, worker.depends_on);
    let watch = spec.watch.as_ref().expect("watch");
    assert_eq!(watch.restart, ["web.1", "web.2", "web.3"]);
}

#[test]
fn scale_with_auto_gives_each_copy_a_free_port_and_one_copy_keeps_its_name() {
    let spec = load_text(
        "ports-scale-auto",
        "[helpers.web]\nshell = \"s\"\nport = \"auto\"\nscale = 2\n[helpers.one]\nshell = \"o\"\nscale = 1\ndepends_on = [\"web.2\"]\n",
    )
    .expect("valid");
    assert_eq!(names(&spec), ["web.1", "web.2", "one"]);
    assert_ne!(port(&spec.helpers[0]), port(&spec.helpers[1]));
    assert!(spec.helpers[..2]
        .iter()
        .all(|h| h.port.as_ref().is_some_and(|p| p.auto && p.held.holds())));
    assert_eq!(spec.helpers[2].depends_on, ["web.2"], "a copy by its name");
}

#[test]
fn only_and_except_name_a_scaled_helper_or_one_copy() {
    let dir = std::env::temp_dir().join(format!("spawnmux-ports-{}-only", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let config = "[helpers.web]\nshell = \"s\"\nscale = 2\n[helpers.api]\nshell = \"a\"\n";
    std::fs::write(dir.join("spawnmux.toml"), config).expect("write");
    let load = |args: &[&str]| load_in(&run_args(args), &dir).expect("valid");
    assert_eq!(names(&load(&["--only", "web"])), ["web.1", "web.2"]);
    assert_eq!(names(&load(&["--except", "web"])), ["api"]);
    assert_eq!(names(&load(&["--only", "web.2,api"])), ["web.2", "api"]);
    let e = load_in(&run_args(&["--only", "web.3"]), &dir).expect_err("no such copy");
    assert!(e.0.starts_with("no helper named `web.3`"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn references_elsewhere_are_the_shells() {
    let dir = std::env::temp_dir().join(format!("spawnmux-ports-{}-shell", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("Procfile"), "web: serve -p ${PORT:-5000}\n").expect("write");
    std::fs::write(dir.join(".env"), "A='${port.web}'\n").expect("write");
    let spec = load_in(&run_args(&[]), &dir).expect("a Procfile's ${…} is the shell's");
    let web = &spec.helpers[0];
    assert_eq!(web.program, Program::Shell("serve -p ${PORT:-5000}".into()));
    assert_eq!(web.env["A"], "${port.web}");
    assert!(web.port.is_none(), "a Procfile's PORT is only a variable");
    let spec = load_in(&run_args(&["--", "echo ${HOME}"]), &dir).expect("commands after --");
    assert_eq!(
        spec.helpers[0].program,
        Program::Shell("echo ${HOME}".into())
    );
    // `-e` files with spawnmux.toml, and `--on-change` over `[watch] run`.
    let config = "[helpers.web]\nshell = \"s\"\nport = 1\n[watch]\npaths = [\".\"]\nrun = \"make ${port.web}\"\n";
    std::fs::write(dir.join("spawnmux.toml"), config).expect("write");
    let env = dir.join(".env").display().to_string();
    let spec = load_in(&run_args(&["-e", &env]), &dir).expect("valid");
    assert_eq!(spec.helpers[0].env["A"], "${port.web}");
    let build = spec.watch.as_ref().and_then(|w| w.build.as_ref());
    assert_eq!(
        build.map(|b| &b.program),
        Some(&Program::Shell("make 1".into()))
    );
    let spec = load_in(&run_args(&["--on-change", "make ${X}"]), &dir).expect("valid");
    let build = spec.watch.as_ref().and_then(|w| w.build.as_ref());
    assert_eq!(
        build.map(|b| &b.program),
        Some(&Program::Shell("make ${X}".into()))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Each bad reference is an error at its line and column, naming the key and the reference.
#[test]
fn bad_references_are_errors_where_they_are_written() {
    let head = "[helpers.web]\nshell = \"w\"\nport = 5173\n[helpers.db]\nshell = \"d\"\n[helpers.many]\nshell = \"m\"\nscale = 2\nport = 6000\n[helpers.api]\n";
    let unset = "SPAWNMUX_TEST_SURELY_UNSET_VARIABLE";
    for (name, line, reference, why) in [
        (
            "unknown",
            "command = [\"api\", \"--web\", \"${port.nope}\"]",
            "`command` of helper `api`: `${port.nope}`",
            "no helper named `nope`".to_string(),
        ),
        (
            "no-port",
            "shell = \"api ${port.db}\"",
            "`shell` of helper `api`: `${port.db}`",
            "helper `db` has no port (give it `port = 5173` or `port = \"auto\"`)".to_string(),
        ),
        (
            "own-no-port",
            "env = { P = \"${port}\" }\nshell = \"a\"",
            "`env.P` of helper `api`: `${port}`",
            "this helper has no port (give it `port = 5173` or `port = \"auto\"`)".to_string(),
        ),
        (
            "scaled",
            "shell = \"a\"\nready_tcp = \"127.0.0.1:${port.many}\"",
            "`ready_tcp` of helper `api`: `${port.many}`",
            "`many` runs 2 copies (scale = 2); name one: `${port.many.1}` to `${port.many.2}`"
                .to_string(),
        ),
        (
            "unset",
            &format!("shell = \"a\"\ncwd = \"${{env.{unset}}}\""),
            &format!("`cwd` of helper `api`: `${{env.{unset}}}`"),
            format!("`{unset}` is not set in spawnmux's environment"),
        ),
        (
            "syntax",
            "shell = \"echo ${HOME}\"",
            "`shell` of helper `api`: `${HOME}`",
            "not a reference: spawnmux knows `${port}`, `${port.NAME}` and `${env.NAME}` (for the shell's own `${HOME}`, write `$${HOME}`)".to_string(),
        ),
        (
            "unclosed",
            "shell = \"a\"\nalive_http = \"http://127.0.0.1:${port.web/\"",
            "`alive_http` of helper `api`: `${port.web/`",
            "`${` without its `}` (a literal `${` is written `$${`)".to_string(),
        ),
    ] {
        let text = format!("{head}{line}\n");
        let needle = reference.rsplit(": ").next().expect("reference");
        let needle = needle.trim_matches('`');
        let want = format!("spawnmux.toml:{}: {reference}: {why}", at(&text, needle));
        assert_eq!(err(name, &text), want, "{name}");
    }
}

#[test]
fn a_reference_is_found_after_escaped_twins_and_in_later_arguments() {
    let text = "[helpers.api]\ncommand = [\"a\", \"$${port.x}\", \"b ${port.x}\"]\n";
    let e = err("ports-nth", text);
    // The second `${port.x}` of the line: the first is escaped.
    let col = "command = [\"a\", \"$${port.x}\", \"b ".len() + 1;
    assert!(e.starts_with(&format!("spawnmux.toml:2:{col}: ")), "{e}");
}

#[test]
fn bad_ports_and_scales_are_errors_at_their_key() {
    let h = "[helpers.web]\nshell = \"x\"\n";
    for (name, text, want) in [
        ("zero", "port = 0", "3:8: `port` of helper `web`: 0 is not a port (1-65535)"),
        ("big", "port = 70000", "3:8: `port` of helper `web`: 70000 is not a port (1-65535)"),
        ("word", "port = \"any\"", "3:8: `port` of helper `web` must be a number (1-65535) or \"auto\", not \"any\""),
        ("text-number", "port = \"5173\"", "3:8: `port` of helper `web` must be a number (1-65535) or \"auto\", not \"5173\""),
        ("scale-zero", "scale = 0", "3:9: `scale` of helper `web` must be from 1 to 100, not 0 (to leave a helper out: --except NAME)"),
        ("scale-big", "scale = 101", "3:9: `scale` of helper `web` must be from 1 to 100, not 101"),
        ("past-65535", "port = 65535\nscale = 2", "3:8: `port` of helper `web`: 2 copies from port 65535 go past 65535"),
        ("env-port", "port = 1\nenv = { PORT = \"2\" }", "4:16: `env` of helper `web` sets PORT, which `port` sets too (1); keep one"),
    ] {
        let e = err(name, &format!("{h}{text}\n"));
        assert!(e.starts_with(&format!("spawnmux.toml:{want}")), "{name}: {e}");
    }
    let e = err("scale-type", &format!("{h}scale = \"2\"\n"));
    assert!(e.starts_with("spawnmux.toml:3:9: "), "{e}");
}

#[test]
fn two_helpers_cannot_share_a_port_or_a_name() {
    let e = err(
        "ports-shared",
        "[helpers.web]\nshell = \"w\"\nport = 5000\nscale = 3\n[helpers.api]\nshell = \"a\"\nport = 5002\n",
    );
    assert_eq!(
        e,
        "spawnmux.toml:7:8: `port` of helper `api`: port 5002 (of `api`) is `web.3`'s too; two helpers cannot listen on one port"
    );
    let e = err(
        "ports-name",
        "[helpers.\"web.2\"]\nshell = \"w\"\n[helpers.web]\nshell = \"a\"\nscale = 2\n",
    );
    assert_eq!(
        e,
        "spawnmux.toml:5:9: helper `web.2` is defined twice: `scale = 2` of helper `web` names its copies `web.1` to `web.2`"
    );
}

#[test]
fn dependencies_on_a_scaled_helper_are_checked_like_any() {
    let e = err(
        "ports-cycle",
        "[helpers.web]\nshell = \"w\"\nscale = 2\ndepends_on = [\"web\"]\n",
    );
    assert!(
        e.contains("depends_on forms a cycle: web.1 -> web.1"),
        "{e}"
    );
    let e = err(
        "ports-dep",
        "[helpers.web]\nshell = \"w\"\nscale = 2\n[helpers.api]\nshell = \"a\"\ndepends_on = [\"web.3\"]\n",
    );
    assert_eq!(
        e,
        "spawnmux.toml:6:15: helper `api` depends on `web.3`, which is not defined"
    );
}

#[test]
fn a_program_may_not_end_up_empty() {
    // Set once, to the same value, by this test only (std serialises its environment calls).
    std::env::set_var("SPAWNMUX_TEST_EMPTY", "");
    let e = err(
        "ports-empty",
        "[helpers.web]\nshell = \" ${env.SPAWNMUX_TEST_EMPTY} \"\n",
    );
    assert_eq!(
        e,
        "spawnmux.toml:2:9: `shell` of helper `web` is empty once its references are replaced"
    );
    let e = err(
        "ports-empty-exec",
        "[helpers.web]\nshell = \"w\"\nready_exec = [\"${env.SPAWNMUX_TEST_EMPTY}\", \"x\"]\n",
    );
    assert!(
        e.starts_with("spawnmux.toml:3:14: `ready_exec` of helper `web` is empty"),
        "{e}"
    );
}
