//! Procfiles and their `.env` files, from text to plan or error.

use std::collections::BTreeMap;
use std::path::Path;

use crate::load::envfile::{parse as parse_env_file, read as read_env_file};
use crate::load::error::LoadError;
use crate::load::procfile::read;
use crate::spec::{Program, RunSpec};

/// A Procfile at `path` with `env`, lowered and checked.
fn load(path: &Path, env: &BTreeMap<String, String>) -> Result<RunSpec, LoadError> {
    crate::load::validate::plan(&read(path, env)?)
}

/// A Procfile's text, lowered and checked.
fn parse(path: &Path, text: &str, env: &BTreeMap<String, String>) -> Result<RunSpec, LoadError> {
    crate::load::procfile_text(path, text, env)
}

fn write(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("spawnmux-procfile-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn procfile_with_ports_and_env() {
    let p = write(
        "Procfile",
        "# app\nweb: bundle exec puma -p $PORT\n\nworker:  rake jobs:work\n",
    );
    let env = BTreeMap::from([("A".to_string(), "1".to_string())]);
    let spec = load(&p, &env).expect("valid");
    assert_eq!(spec.helpers.len(), 2);
    assert_eq!(spec.helpers[0].name, "web");
    assert_eq!(
        spec.helpers[0].program,
        Program::Shell("bundle exec puma -p $PORT".into())
    );
    assert_eq!(spec.helpers[0].env["PORT"], "5000");
    assert_eq!(spec.helpers[1].env["PORT"], "5100");
    assert_eq!(
        spec.helpers[1].program,
        Program::Shell("rake jobs:work".into())
    );
    assert_eq!(spec.helpers[1].env["A"], "1");
}

#[test]
fn procfile_errors_name_the_line() {
    let p = write("Bad1", "web: ok\nnonsense\n");
    assert!(load(&p, &BTreeMap::new())
        .expect_err("bad")
        .0
        .ends_with(":2: expected `name: command`, found `nonsense`"));
    let p = write("Bad2", "web: a\nweb: b\n");
    assert!(load(&p, &BTreeMap::new())
        .expect_err("dup")
        .0
        .ends_with(":2: process `web` is defined twice"));
    let e = parse(Path::new("Procfile"), "web ui: a\n", &BTreeMap::new()).expect_err("space");
    assert_eq!(
        e.0,
        "Procfile:1: process name `web ui` may only contain ASCII letters, digits, `.`, `-` and `_`"
    );
    let e = parse(Path::new("Procfile"), "spawnmux: a\n", &BTreeMap::new()).expect_err("reserved");
    assert_eq!(
        e.0,
        "Procfile:1: process name `spawnmux` is reserved (it names spawnmux's own lines in the log)"
    );
    let spec = parse(Path::new("Procfile"), "web.1: a\n", &BTreeMap::new()).expect("a dot is fine");
    assert_eq!(spec.helpers[0].name, "web.1");
    let p = write("Bad3", "# nothing\n");
    assert!(load(&p, &BTreeMap::new())
        .expect_err("empty")
        .0
        .ends_with(": no processes defined"));
}

#[test]
fn env_files() {
    let p = write(
        ".env",
        "# c\nexport A=1\nB = 'x # y'\nC=\"a\\nb \\\"q\\\"\"\nD=plain # comment\n",
    );
    let mut env = BTreeMap::new();
    read_env_file(&p, &mut env).expect("valid");
    assert_eq!(env["A"], "1");
    assert_eq!(env["B"], "x # y");
    assert_eq!(env["C"], "a\nb \"q\"");
    assert_eq!(env["D"], "plain");
    let bad = write("bad.env", "OK=1\nNOEQUALS\n");
    assert!(read_env_file(&bad, &mut env)
        .expect_err("bad")
        .0
        .contains(":2: expected KEY=VALUE"));
}

/// Found by the `procfile` fuzz target: a `PORT` with an escaped newline (`PORT="50\n00"`)
/// made the "not a number" error two lines.
#[test]
fn port_with_an_escaped_newline_gives_a_one_line_error() {
    let mut env = BTreeMap::new();
    parse_env_file(Path::new(".env"), "PORT=\"50\\n00\"\n", &mut env).expect("valid");
    let e = parse(Path::new("Procfile"), "web: x\n", &env).expect_err("not a number");
    assert_eq!(
        e.to_string(),
        "PORT from the env file is not a port number (0-65535): `50\\n00`"
    );
}

/// Found while writing the `procfile` fuzz target's PORT check (and confirmed with it): a
/// `PORT` near `u32::MAX` overflowed `base + 100 × position` (a panic in debug builds, a
/// wrapped port in release).
#[test]
fn port_beyond_65535_is_refused_and_ports_never_overflow() {
    let procfile = "a: x\nb: y\n";
    let env = BTreeMap::from([("PORT".to_string(), "4294967290".to_string())]);
    let e = parse(Path::new("Procfile"), procfile, &env).expect_err("not a port");
    assert!(
        e.0.starts_with("PORT from the env file is not a port number"),
        "{e}"
    );
    let env = BTreeMap::from([("PORT".to_string(), "65535".to_string())]);
    let spec = parse(Path::new("Procfile"), procfile, &env).expect("valid");
    assert_eq!(spec.helpers[1].env["PORT"], "65635");
}
