//! The commands around `spawnmux run`, end to end: `completions`, `man`, and the examples in
//! `--help`. Every platform (Windows under Wine in CI).

use std::process::{Command, Output, Stdio};

fn spawnmux(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spawnmux"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run spawnmux")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("UTF-8")
}

#[test]
fn completions_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = spawnmux(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {out:?}");
        let script = stdout(&out);
        assert!(script.len() > 1000, "{shell}: {script}");
        assert!(script.contains("run"), "{shell}: no `run`");
        assert!(script.contains("spawnmux"), "{shell}");
    }
    let out = spawnmux(&["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values: bash"));
}

#[test]
fn man_pages() {
    for (args, title) in [
        (&["man"][..], ".TH spawnmux 1"),
        (&["man", "run"], ".TH spawnmux-run 1"),
    ] {
        let out = spawnmux(args);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let page = stdout(&out);
        // roff's preamble (a string for `'`) comes first, then the title.
        let first = page
            .lines()
            .find(|l| !l.starts_with(".ie") && !l.starts_with(".el"));
        assert!(first.is_some_and(|l| l.starts_with(title)), "{page}");
        assert!(page.contains(".SH SYNOPSIS"), "{page}");
    }
    let out = spawnmux(&["man", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("spawnmux: no subcommand `nope` (pages: run,"),
        "{err}"
    );
}

#[test]
fn help_shows_examples() {
    let out = spawnmux(&["run", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    assert!(help.contains("Examples:\n  spawnmux run "), "{help}");
    let out = spawnmux(&["completions", "--help"]);
    assert!(stdout(&out).contains("spawnmux completions bash >"));
}
