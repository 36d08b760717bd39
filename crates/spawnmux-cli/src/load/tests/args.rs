//! The arguments: commands after `--`, `--names`, `--only` / `--except`, notes.

use crate::cli::RunArgs;
use crate::load::{load_in, select, LoadError};
use crate::spec::{Program, RunSpec};

/// The commands after `--`, named by `names`, lowered and checked.
fn ad_hoc(commands: &[String], names: &[String]) -> Result<RunSpec, LoadError> {
    crate::load::validate::plan(&crate::load::adhoc::lower(commands, names)?)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn names(commands: &[&str]) -> Vec<String> {
    ad_hoc(&strings(commands), &[])
        .expect("valid")
        .helpers
        .into_iter()
        .map(|h| h.name)
        .collect()
}

#[test]
fn ad_hoc_names_are_unique() {
    assert_eq!(
        names(&[
            "node a.js",
            "./bin/web.sh -p 1",
            "node b.js",
            "/opt/node/node.EXE server.js",
            "tsc -w",
            "C:\\tools\\tsc.cmd -w",
        ]),
        ["node", "web.sh", "node-2", "node-3", "tsc", "tsc-2"]
    );
    // `spawnmux` is reserved for spawnmux's own lines.
    assert_eq!(
        names(&["spawnmux demo", "spawnmux demo"]),
        ["spawnmux-2", "spawnmux-3"]
    );
}

#[test]
fn names_flag() {
    let commands = strings(&["npm run dev", "npx vite", "node s.js"]);
    let spec = ad_hoc(&commands, &strings(&["web", "css", "api"])).expect("valid");
    let got: Vec<&str> = spec.helpers.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(got, ["web", "css", "api"]);
    assert_eq!(spec.helpers[1].program, Program::Shell("npx vite".into()));
    let e = |names: &[&str]| ad_hoc(&commands, &strings(names)).expect_err("bad").0;
    assert_eq!(
        e(&["web", "css"]),
        "--names gives 2 names for 3 commands after --"
    );
    assert_eq!(
        e(&["a", "b", "c", "d"]),
        "--names gives 4 names for 3 commands after --"
    );
    assert_eq!(
        ad_hoc(&commands[..1], &strings(&["a", "b"]))
            .expect_err("bad")
            .0,
        "--names gives 2 names for 1 command after --"
    );
    assert_eq!(e(&["web", "css", "web"]), "--names: `web` is given twice");
    assert_eq!(
        e(&["web", "build:css", "api"]),
        "--names: `build:css` may only contain ASCII letters, digits, `.`, `-` and `_`"
    );
    assert_eq!(e(&["web", "", "api"]), "--names: `` is empty");
    assert!(e(&["web", "spawnmux", "api"]).starts_with("--names: `spawnmux` is reserved"));
}

#[test]
fn empty_commands_are_refused() {
    let e = ad_hoc(&strings(&["node s.js", " \t "]), &[]).expect_err("empty");
    assert_eq!(e.0, "command 2 after -- is empty");
    let e = ad_hoc(&strings(&[""]), &[]).expect_err("empty");
    assert_eq!(e.0, "command 1 after -- is empty");
}

/// `spawnmux run ARGS`, parsed.
pub(super) fn run_args(args: &[&str]) -> RunArgs {
    use clap::Parser;
    let cli = crate::cli::Cli::try_parse_from(["spawnmux", "run"].iter().chain(args))
        .expect("valid arguments");
    match cli.command {
        crate::cli::Cmd::Run(args) => *args,
        other => panic!("not run: {other:?}"),
    }
}

#[test]
fn a_note_says_which_of_two_files_is_used() {
    let dir = std::env::temp_dir().join(format!("spawnmux-load-{}-notes", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("spawnmux.toml"), "[helpers.web]\nshell = \"x\"\n").expect("write");
    let spec = load_in(&run_args(&[]), &dir).expect("valid");
    assert!(spec.notes.is_empty(), "{:?}", spec.notes);
    std::fs::write(dir.join("Procfile"), "worker: y\n").expect("write");
    let spec = load_in(&run_args(&[]), &dir).expect("valid");
    assert_eq!(spec.helpers[0].name, "web");
    assert_eq!(
        spec.notes,
        ["using spawnmux.toml (a Procfile is here too; -f Procfile runs that instead)"]
    );
    let explicit = dir.join("spawnmux.toml").display().to_string();
    let spec = load_in(&run_args(&["-c", &explicit]), &dir).expect("valid");
    assert!(spec.notes.is_empty(), "-c: no note");
    let procfile = dir.join("Procfile").display().to_string();
    let spec = load_in(&run_args(&["-f", &procfile]), &dir).expect("valid");
    assert_eq!(spec.helpers[0].name, "worker");
    assert!(spec.notes.is_empty(), "-f: no note");
    let spec = load_in(&run_args(&["--", "node s.js"]), &dir).expect("valid");
    assert!(spec.notes.is_empty(), "commands: no note");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stray_arguments_and_names_without_commands() {
    let dir = std::env::temp_dir();
    let e = load_in(&run_args(&["echo one"]), &dir).expect_err("stray");
    assert_eq!(e.0, "put the commands after --: spawnmux run -- 'echo one'");
    let e = load_in(&run_args(&["a", "b c", "--", "d"]), &dir).expect_err("stray");
    assert_eq!(e.0, "put the commands after --: spawnmux run -- a 'b c' d");
    let e = load_in(&run_args(&["-n", "web"]), &dir).expect_err("no commands");
    assert_eq!(
        e.0,
        "--names names the commands after --, and there are none"
    );
    let spec = load_in(&run_args(&["-n", "web", "-n", "api", "--", "a", "b"]), &dir)
        .expect("repeated -n adds up");
    assert_eq!(spec.helpers[1].name, "api");
}

#[test]
fn only_and_except() {
    let mut hs = ad_hoc(&strings(&["a", "b", "c"]), &[])
        .expect("valid")
        .helpers;
    hs[2].depends_on = vec!["a".into()];
    select(&mut hs, &["b".into(), "c".into()], &[]).expect("ok");
    assert_eq!(
        hs.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
        ["b", "c"]
    );
    assert!(hs[1].depends_on.is_empty());
    let mut hs = ad_hoc(&strings(&["a", "b"]), &[]).expect("valid").helpers;
    let e = select(&mut hs, &[], &["zz".into()]).expect_err("unknown");
    assert_eq!(e.0, "no helper named `zz` (known: a, b)");
}
