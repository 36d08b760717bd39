//! spawnmux.toml, from text to plan or error.

use std::path::Path;
use std::time::Duration;

use crate::load::error::LoadError;
use crate::spec::{Program, Restart, RunSpec};

/// spawnmux.toml at `path`, lowered and checked.
fn load(path: &Path) -> Result<RunSpec, LoadError> {
    crate::load::validate::plan(&crate::load::config::read(path)?)
}

pub(super) fn load_text(name: &str, text: &str) -> Result<RunSpec, LoadError> {
    let dir = std::env::temp_dir().join(format!("spawnmux-config-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("spawnmux.toml");
    std::fs::write(&path, text).expect("write");
    let r = load(&path);
    let _ = std::fs::remove_dir_all(&dir);
    r.map_err(|e| LoadError(e.0.replace(&path.display().to_string(), "spawnmux.toml")))
}

pub(super) fn err(name: &str, text: &str) -> String {
    load_text(name, text).expect_err("must fail").0
}

#[test]
fn full_example_loads_in_order() {
    let spec = load_text(
        "ok",
        r#"
[helpers.web]
command = ["npx", "vite", "--port", "5173"]
env = { NODE_ENV = "development" }
restart = "on-failure"
max_restarts = 5
stop_signal = "INT"
stop_timeout = "2s"
ready_line = "ready in"
depends_on = ["api"]

[helpers.api]
shell = "sass --watch src:out"
"#,
    )
    .expect("valid");
    let names: Vec<&str> = spec.helpers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["web", "api"]);
    let web = &spec.helpers[0];
    assert_eq!(
        web.program,
        Program::Argv(vec![
            "npx".into(),
            "vite".into(),
            "--port".into(),
            "5173".into()
        ])
    );
    assert_eq!(web.restart, Restart::OnFailure);
    assert_eq!(web.max_restarts, Some(5));
    // SIGINT on Unix; Windows ignores stop signals and keeps SIGTERM.
    assert_eq!(Some(web.stop_signal), crate::os::signal_number("INT"));
    assert_eq!(web.stop_timeout, Duration::from_secs(2));
    assert_eq!(web.env["NODE_ENV"], "development");
    assert_eq!(
        spec.helpers[1].program,
        Program::Shell("sass --watch src:out".into())
    );
}

#[test]
fn errors_name_file_line_column_and_key() {
    let e = err("unknown", "[helpers.web]\ncomand = [\"x\"]\n");
    assert!(
        e.starts_with("spawnmux.toml:2:1: unknown field `comand`"),
        "{e}"
    );
    let e = err(
        "type",
        "[helpers.web]\nshell = \"x\"\nmax_restarts = \"five\"\n",
    );
    assert!(
        e.starts_with("spawnmux.toml:3:16: invalid type: string \"five\""),
        "{e}"
    );
    let e = err("neither", "[helpers.web]\nenv = {}\n");
    assert_eq!(
        e,
        "spawnmux.toml:1:1: helper `web` needs `command` (a list) or `shell` (a string)"
    );
    let e = err("both", "[helpers.web]\ncommand = [\"a\"]\nshell = \"b\"\n");
    assert_eq!(
        e,
        "spawnmux.toml:3:9: helper `web` has both `command` and `shell`; keep one"
    );
    let e = err(
        "dep",
        "[helpers.web]\nshell = \"a\"\ndepends_on = [\"db\"]\n",
    );
    assert_eq!(
        e,
        "spawnmux.toml:3:15: helper `web` depends on `db`, which is not defined"
    );
    let e = err("cycle", "[helpers.a]\nshell = \"a\"\ndepends_on = [\"b\"]\n[helpers.b]\nshell = \"b\"\ndepends_on = [\"a\"]\n");
    assert_eq!(
        e,
        "spawnmux.toml:3:15: depends_on forms a cycle: a -> b -> a"
    );
    let e = err(
        "dur",
        "[helpers.web]\nshell = \"a\"\nstop_timeout = \"soon\"\n",
    );
    assert!(
        e.starts_with(
            "spawnmux.toml:3:16: `stop_timeout` of helper `web`: `soon` is not a duration"
        ),
        "{e}"
    );
    let e = err(
        "sig",
        "[helpers.web]\nshell = \"a\"\nstop_signal = \"NOPE\"\n",
    );
    assert_eq!(
        e,
        "spawnmux.toml:3:15: `stop_signal` of helper `web`: unknown signal \"NOPE\""
    );
    let e = err("cwd", "[helpers.web]\nshell = \"a\"\ncwd = \"nowhere\"\n");
    assert!(
        e.starts_with("spawnmux.toml:3:7: `cwd` of helper `web`: directory `"),
        "{e}"
    );
    let e = err("empty", "");
    assert_eq!(
        e,
        "spawnmux.toml: no helpers defined (add a [helpers.NAME] table)"
    );
    let e = err(
        "dup",
        "[helpers.web]\nshell = \"a\"\n[helpers.web]\nshell = \"b\"\n",
    );
    assert!(e.starts_with("spawnmux.toml:3:"), "{e}");
    let e = err("top", "[helper.web]\nshell = \"a\"\n");
    assert!(
        e.starts_with("spawnmux.toml:1:2: unknown field `helper`"),
        "{e}"
    );
    let e = err("garbage", "\u{1}\u{2}[[[\n");
    assert!(e.starts_with("spawnmux.toml:1:"), "{e}");
}

#[test]
fn ready_timeout_and_color() {
    let spec = load_text(
        "defaults",
        "[helpers.web]\nshell = \"a\"\nready_line = \"ready\"\n",
    )
    .expect("valid");
    assert_eq!(spec.helpers[0].ready_timeout, Duration::from_secs(60));
    assert!(spec.helpers[0].color);
    let spec = load_text(
        "set",
        "[helpers.web]\nshell = \"a\"\nready_line = \"ready\"\nready_timeout = \"1m30s\"\ncolor = false\n",
    )
    .expect("valid");
    assert_eq!(spec.helpers[0].ready_timeout, Duration::from_secs(90));
    assert!(!spec.helpers[0].color);
    let spec = load_text(
        "short",
        "[helpers.web]\nshell = \"a\"\nready_line = \"ready\"\nready_timeout = \"250ms\"\n",
    )
    .expect("valid");
    assert_eq!(spec.helpers[0].ready_timeout, Duration::from_millis(250));
    for zero in ["0s", "0", "0ms"] {
        let e = err(
            "zero",
            &format!(
                "[helpers.web]\nshell = \"a\"\nready_line = \"r\"\nready_timeout = \"{zero}\"\n"
            ),
        );
        assert_eq!(
            e,
            format!("spawnmux.toml:4:17: `ready_timeout` of helper `web` must be more than 0s, not `{zero}`")
        );
    }
    let e = err(
        "soon",
        "[helpers.web]\nshell = \"a\"\nready_line = \"r\"\nready_timeout = \"soon\"\n",
    );
    assert!(
        e.starts_with(
            "spawnmux.toml:4:17: `ready_timeout` of helper `web`: `soon` is not a duration"
        ),
        "{e}"
    );
    let e = err(
        "alone",
        "[helpers.web]\nshell = \"a\"\nready_timeout = \"5s\"\n",
    );
    assert_eq!(
        e,
        "spawnmux.toml:3:17: `ready_timeout` of helper `web` needs `ready_line`, `ready_http`, `ready_tcp` or `ready_exec` (it is how long to wait for readiness)"
    );
    let e = err(
        "number",
        "[helpers.web]\nshell = \"a\"\nready_line = \"r\"\nready_timeout = 5\n",
    );
    assert!(
        e.starts_with("spawnmux.toml:4:17: invalid type: integer `5`, expected a string"),
        "{e}"
    );
    let e = err("color", "[helpers.web]\nshell = \"a\"\ncolor = \"no\"\n");
    assert!(
        e.starts_with("spawnmux.toml:3:9: invalid type: string \"no\", expected a boolean"),
        "{e}"
    );
}

#[test]
fn helper_and_build_names_follow_the_one_rule() {
    let e = err("name", "[helpers.\"a b\"]\nshell = \"x\"\n");
    assert_eq!(
        e,
        "spawnmux.toml:1:1: helper name `a b` may only contain ASCII letters, digits, `.`, `-` and `_`"
    );
    let e = err("reserved", "[helpers.spawnmux]\nshell = \"x\"\n");
    assert_eq!(
        e,
        "spawnmux.toml:1:1: helper name `spawnmux` is reserved (it names spawnmux's own lines in the log)"
    );
    let e = err("empty-name", "[helpers.\"\"]\nshell = \"x\"\n");
    assert_eq!(e, "spawnmux.toml:1:1: helper name `` is empty");
    let e = err(
        "build-name",
        "[watch]\npaths = [\".\"]\nrun = \"make\"\nname = \"spawnmux\"\n",
    );
    assert_eq!(
        e,
        "spawnmux.toml:4:8: [watch] name `spawnmux` is reserved (it names spawnmux's own lines in the log)"
    );
    let spec = load_text("dotted", "[helpers.\"web.sh\"]\nshell = \"x\"\n").expect("valid");
    assert_eq!(spec.helpers[0].name, "web.sh");
}

/// `stop_signal` names mean this platform's numbers (USR1 is 10 on Linux, 30 on macOS and the
/// BSDs): the library's one table, not Linux's numbers everywhere.
#[cfg(unix)]
#[test]
fn stop_signal_names_are_the_platforms_numbers() {
    for (value, want) in [
        ("\"USR1\"", libc::SIGUSR1),
        ("\"sigusr2\"", libc::SIGUSR2),
        ("\"SIGHUP\"", libc::SIGHUP),
        ("\"WINCH\"", libc::SIGWINCH),
        ("2", libc::SIGINT),
    ] {
        let text = format!("[helpers.web]\nshell = \"a\"\nstop_signal = {value}\n");
        let spec = load_text("signals", &text).expect(value);
        assert_eq!(spec.helpers[0].stop_signal, want, "{value}");
    }
    for bad in ["0", "999", "-15", "\"SIGRTMIN\"", "true"] {
        let text = format!("[helpers.web]\nshell = \"a\"\nstop_signal = {bad}\n");
        assert!(
            err("signals-bad", &text).contains("unknown signal"),
            "{bad}"
        );
    }
}

#[test]
fn tty_takes_true_false_or_stdout_and_names_the_helper() {
    use crate::spec::Tty;
    let spec = load_text("tty-off", "[helpers.web]\nshell = \"x\"\ntty = false\n").expect("loads");
    assert_eq!(spec.helpers[0].tty, Tty::Off);
    let e = err(
        "tty-bad",
        "[helpers.web]\nshell = \"x\"\ntty = \"sometimes\"\n",
    );
    assert_eq!(
        e,
        "spawnmux.toml:3:7: `tty` of helper `web`: expected true, false or \"stdout\", got \"sometimes\""
    );
    for on in ["true", "\"stdout\""] {
        let text = format!("[helpers.web]\nshell = \"x\"\ntty = {on}\n");
        let spec = load_text("tty-on", &text).expect("loads");
        assert_ne!(spec.helpers[0].tty, Tty::Off);
    }
}
