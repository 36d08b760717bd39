//! The one-way flow: every source lowers to a draft without checking names, durations or
//! paths; `validate.rs` checks them for all sources alike; flags are laid over the file's
//! `[watch]` before that check; every duration flag and key reads the same grammar.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::load::{adhoc, config, load_in, procfile, validate};
use crate::spec::{OnBusy, Program, RunSpec};

/// A fresh directory for one test.
pub(super) fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnmux-flow-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

/// `spawnmux run ARGS` in `dir`: the loaded spec, or the error (clap's or the loader's) as
/// the user would read it.
pub(super) fn try_load(args: &[&str], dir: &Path) -> Result<RunSpec, String> {
    use clap::Parser;
    let cli = crate::cli::Cli::try_parse_from(["spawnmux", "run"].iter().chain(args))
        .map_err(|e| e.to_string())?;
    let crate::cli::Cmd::Run(args) = cli.command else {
        panic!("not run");
    };
    load_in(&args, dir).map_err(|e| e.to_string())
}

/// Every duration flag and config key reads the same text the same way (`duration.rs`).
#[test]
fn one_duration_grammar_for_flags_and_config_keys() {
    let dir = std::env::temp_dir().join(format!("spawnmux-load-{}-durations", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // Not spawnmux.toml: the flags alone must not find it.
    let config = dir.join("durations.toml").display().to_string();
    for text in ["1.5", "10", "0.25", "300ms", "1.5s", "2m", "1h30m"] {
        let want = crate::duration::parse(text).expect("valid");
        let (debounce, poll) = (format!("--debounce={text}"), format!("--poll={text}"));
        let flags = ["--watch", ".", "--on-change", "x", &debounce, &poll];
        let spec = try_load(&flags, &dir).expect(text);
        let watch = spec.watch.expect("watch");
        assert_eq!((watch.debounce, watch.poll), (want, Some(want)), "{text}");
        std::fs::write(
            &config,
            format!(
                "[helpers.web]\nshell = \"x\"\nstop_timeout = \"{text}\"\nready_line = \"r\"\n\
                 ready_timeout = \"{text}\"\n[watch]\npaths = [\".\"]\nrun = \"x\"\n\
                 debounce = \"{text}\"\npoll = \"{text}\"\nstop_timeout = \"{text}\"\n"
            ),
        )
        .expect("write");
        let spec = try_load(&["-c", &config], &dir).expect(text);
        let web = &spec.helpers[0];
        assert_eq!(
            (web.stop_timeout, web.ready_timeout),
            (want, want),
            "{text}"
        );
        let watch = spec.watch.expect("watch");
        assert_eq!((watch.debounce, watch.poll), (want, Some(want)), "{text}");
        assert_eq!(watch.build.expect("build").stop_timeout, want, "{text}");
    }
    for text in ["soon", "-1", "", "1e3", "NaN"] {
        let debounce = format!("--debounce={text}");
        let flags = ["--watch", ".", "--on-change", "x", &debounce];
        let e = try_load(&flags, &dir).expect_err(text);
        assert!(e.contains("--debounce"), "{text:?}: {e}");
        assert!(e.contains(&format!("`{text}` is not a duration")), "{e}");
        assert!(e.contains("write seconds (10, 1.5)"), "{e}");
        std::fs::write(
            &config,
            format!("[helpers.web]\nshell = \"x\"\nstop_timeout = \"{text}\"\n"),
        )
        .expect("write");
        let e = try_load(&["-c", &config], &dir).expect_err(text);
        let key = format!("`stop_timeout` of helper `web`: `{text}` is not a duration");
        assert!(e.contains(&key), "{text:?}: {e}");
        assert!(e.contains("write seconds (10, 1.5)"), "{e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Lowering keeps what it is given; the same check then refuses a bad name from any source.
#[test]
fn sources_lower_unchecked_and_one_check_refuses_for_all() {
    let env = BTreeMap::new();
    let draft = procfile::lower(Path::new("Procfile"), "a b: x\n", &env).expect("lowered");
    assert_eq!(draft.helpers[0].name.value, "a b");
    let e = validate::plan(&draft).expect_err("bad name");
    assert_eq!(
        e.0,
        "Procfile:1: process name `a b` may only contain ASCII letters, digits, `.`, `-` and `_`"
    );
    let draft = adhoc::lower(&["x".into()], &["a b".into()]).expect("lowered");
    let e = validate::plan(&draft).expect_err("bad name");
    assert!(e.0.starts_with("--names: `a b` may only contain"), "{e}");
    let toml = b"[helpers.web]\nshell = \"x\"\nstop_timeout = \"soon\"\ncwd = \"nowhere\"\n";
    let draft = config::lower(Path::new("s.toml"), toml.to_vec()).expect("lowered");
    let stop_timeout = draft.helpers[0].stop_timeout.as_ref().expect("kept");
    assert_eq!(stop_timeout.value, "soon");
    let e = validate::plan(&draft).expect_err("bad cwd");
    assert!(
        e.0.starts_with("s.toml:4:7: `cwd` of helper `web`: directory `"),
        "{e}"
    );
}

/// The rebuild is a helper to the checks: its `stop_timeout` reads the duration grammar and
/// its `cwd` must exist, worded as `[watch]` keys.
#[test]
fn the_build_is_checked_by_the_helper_code() {
    let d = dir("build");
    let config = d.join("spawnmux.toml");
    let watch = "[watch]\npaths = [\".\"]\nrun = \"make\"\n";
    std::fs::write(
        &config,
        format!("{watch}stop_timeout = \"1.5\"\ncwd = \".\"\n"),
    )
    .expect("write");
    let spec = try_load(&[], &d).expect("valid");
    let build = spec.watch.expect("watch").build.expect("build");
    assert_eq!(build.stop_timeout, Duration::from_millis(1500));
    assert_eq!(build.cwd, Some(d.join(".")));
    let file = config.display().to_string();
    std::fs::write(&config, format!("{watch}stop_timeout = \"soon\"\n")).expect("write");
    let e = try_load(&[], &d).expect_err("bad duration");
    let want = format!("{file}:4:16: [watch] stop_timeout: `soon` is not a duration (");
    assert!(e.starts_with(&want), "{e}");
    std::fs::write(&config, format!("{watch}cwd = \"nowhere\"\n")).expect("write");
    let e = try_load(&[], &d).expect_err("bad cwd");
    assert!(
        e.starts_with(&format!("{file}:4:7: [watch] cwd: directory `")),
        "{e}"
    );
    let orphan = "[helpers.web]\nshell = \"x\"\n[watch]\npaths = [\".\"]\nrestart = [\"web\"]\n";
    std::fs::write(&config, format!("{orphan}name = \"site\"\n")).expect("write");
    let e = try_load(&[], &d).expect_err("no run");
    let want = format!("{file}:6:8: [watch] name is for the `run` command, and there is none");
    assert_eq!(e, want);
    let _ = std::fs::remove_dir_all(&d);
}

/// Each watch flag replaces the file's key before anything is checked: a `[watch] paths`
/// entry that does not exist is no error once `--watch` replaces it.
#[test]
fn watch_flags_replace_the_files_keys_before_the_check() {
    let d = dir("override");
    std::fs::create_dir(d.join("src")).expect("mkdir");
    std::fs::write(
        d.join("spawnmux.toml"),
        "[helpers.web]\nshell = \"x\"\n[watch]\npaths = [\"gone\"]\nrun = \"make\"\n\
         name = \"site\"\nstop_timeout = \"2s\"\non_busy = \"ignore\"\npoll = \"5s\"\n",
    )
    .expect("write");
    let e = try_load(&[], &d).expect_err("gone");
    assert!(e.contains("[watch] paths: `gone` cannot be watched"), "{e}");
    let flags = [
        "--watch",
        "src",
        "--on-change",
        "make all",
        "--on-busy",
        "restart",
        "--poll",
        "--restart-on-change",
        "web",
    ];
    let spec = try_load(&flags, &d).expect("valid");
    let w = spec.watch.expect("watch");
    assert_eq!(w.paths, [std::path::absolute(d.join("src")).expect("abs")]);
    let build = w.build.expect("build");
    assert_eq!(
        (build.name.as_str(), build.program),
        ("site", Program::Shell("make all".into()))
    );
    assert_eq!(
        build.stop_timeout,
        Duration::from_secs(2),
        "kept from the file"
    );
    assert_eq!(
        (w.on_busy, w.poll),
        (OnBusy::Restart, Some(crate::watch::DEFAULT_POLL))
    );
    assert_eq!(w.restart, ["web"]);
    let _ = std::fs::remove_dir_all(&d);
}

/// A flag's bad value is worded after the flag, a key's after the key.
#[test]
fn flags_and_keys_name_themselves_in_errors() {
    let d = dir("modes");
    let flags = ["--watch", ".", "--on-change", "x", "--on-busy", "later"];
    let e = try_load(&flags, &d).expect_err("bad mode");
    assert_eq!(e, "--on-busy must be queue, restart or ignore, not `later`");
    let e = try_load(
        &["--watch", ".", "--on-change", "x", "--ignore", "{a,b"],
        &d,
    )
    .expect_err("bad glob");
    assert!(e.starts_with("--ignore: `{a,b`: "), "{e}");
    let e = try_load(&["--watch", ".", "--restart-on-change", "web"], &d).expect_err("none");
    assert_eq!(e, "--restart-on-change: no helper named `web` (known: )");
    std::fs::write(
        d.join("spawnmux.toml"),
        "[helpers.web]\nshell = \"x\"\n[watch]\npaths = [\".\"]\nrestart = [\"web\"]\n\
         on_busy = \"later\"\n",
    )
    .expect("write");
    let e = try_load(&[], &d).expect_err("bad mode");
    assert!(
        e.ends_with(":6:11: [watch] on_busy must be queue, restart or ignore, not `later`"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&d);
}
