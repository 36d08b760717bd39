//! The files a helper names: `env_file` (read with dotenvy, under `env` and `-e`).

use std::path::Path;

use super::flow::{dir, try_load};
use crate::spec::RunSpec;

/// `files` written in `dir` (creating subdirectories), then `spawnmux run ARGS` loaded there.
fn load_with(dir: &Path, files: &[(&str, &str)], args: &[&str]) -> Result<RunSpec, String> {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("dir");
        std::fs::write(path, text).expect("write");
    }
    try_load(args, dir)
}

#[test]
fn env_files_lie_under_e_files_under_env() {
    let d = dir("env-file-order");
    let config = r#"
[helpers.web]
shell = "x"
env_file = [".env", ".env.local"]   # beside this file, not the current directory
env = { FROM_ENV = "env", ALL = "env" }
[helpers.api]
shell = "y"
env_file = ".env"
"#;
    let files = [
        ("conf/spawnmux.toml", config),
        ("conf/.env", "ONE=1\nALL=file\nLOCAL=no\nE=file\n"),
        (
            "conf/.env.local",
            "LOCAL=yes\nMULTI=\"a\nb\"\nREF=${ONE}-x\n",
        ),
        ("e.env", "E=dash-e\nALL=dash-e\n"),
    ];
    // -c and -e are relative to the current directory, not `d`.
    let (c, e) = (d.join("conf/spawnmux.toml"), d.join("e.env"));
    let (c, e) = (c.display().to_string(), e.display().to_string());
    let spec = load_with(&d, &files, &["-c", &c, "-e", &e]).expect("valid");
    let web = &spec.helpers[0].env;
    let get = |k: &str| web.get(k).map(String::as_str);
    assert_eq!(get("ONE"), Some("1"));
    assert_eq!(get("LOCAL"), Some("yes"), "a later env_file wins");
    assert_eq!(get("MULTI"), Some("a\nb"));
    // `${ONE}` is another file's variable: not seen (each file expands on its own).
    assert_eq!(get("REF"), Some("-x"));
    assert_eq!(get("E"), Some("dash-e"), "-e wins over env_file");
    assert_eq!(get("ALL"), Some("env"), "env wins over everything");
    assert_eq!(get("FROM_ENV"), Some("env"));
    let files: Vec<String> = spec.helpers[0]
        .env_files
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        files[0].ends_with(".env") && files[1].ends_with(".env.local"),
        "{files:?}"
    );
    assert_eq!(spec.helpers[1].env["ALL"], "dash-e");
    assert_eq!(spec.helpers[1].env["ONE"], "1");
}

#[test]
fn env_file_errors_name_the_key_the_file_and_its_line() {
    let d = dir("env-file-errors");
    let e = load_with(
        &d,
        &[(
            "spawnmux.toml",
            "[helpers.web]\nshell = \"x\"\nenv_file = [1]\n",
        )],
        &[],
    )
    .expect_err("not a path");
    assert!(
        e.ends_with(
            "spawnmux.toml:3:12: `env_file` of helper `web` must be a path or a list of paths"
        ),
        "{e}"
    );
    let config = "[helpers.web]\nshell = \"x\"\nenv_file = \"missing.env\"\n";
    let e = load_with(&d, &[("spawnmux.toml", config)], &[]).expect_err("missing");
    assert!(
        e.contains("spawnmux.toml:3:12: `env_file` of helper `web`: "),
        "{e}"
    );
    assert!(e.contains("missing.env: cannot read: "), "{e}");
    let config = "[helpers.web]\nshell = \"x\"\nenv_file = \".env\"\n";
    let bad = "A=1\n# comment\nTOKEN=two words\n";
    let e = load_with(&d, &[("spawnmux.toml", config), (".env", bad)], &[]).expect_err("bad");
    assert!(
        e.contains(".env:3: the value of `TOKEN` cannot be read"),
        "{e}"
    );
    assert!(!e.contains("two words"), "the value is not shown: {e}");
}

/// spawnmux.toml with `text`, in a fresh directory `name`; the plan or the error.
fn config(name: &str, text: &str) -> (std::path::PathBuf, Result<RunSpec, String>) {
    let d = dir(name);
    let result = load_with(&d, &[("spawnmux.toml", text)], &[]);
    (d, result)
}

#[test]
fn log_file_is_beside_the_config_and_rotates_at_10_mib_by_default() {
    let text = "[helpers.web]\nshell = \"x\"\nlog_file = \"logs/web.log\"\n[helpers.api]\nshell = \"y\"\nlog_file = \"api.log\"\nlog_max_size = \"512K\"\n[helpers.db]\nshell = \"z\"\nlog_file = \"db.log\"\nlog_max_size = 4096\n";
    let (d, spec) = config("log-file", text);
    let spec = spec.expect("valid");
    let web = spec.helpers[0].log_file.as_ref().expect("log_file");
    assert!(web.path.is_absolute(), "{}", web.path.display());
    assert_eq!(
        web.path,
        std::path::absolute(d.join("logs/web.log")).expect("absolute")
    );
    assert_eq!(web.max_size, 10 << 20);
    assert!(!d.join("logs").exists(), "loading creates nothing");
    let size = |i: usize| spec.helpers[i].log_file.as_ref().map(|l| l.max_size);
    assert_eq!((size(1), size(2)), (Some(512 << 10), Some(4096)));
    assert_eq!(
        web.old(2).file_name().and_then(|n| n.to_str()),
        Some("web.log.2")
    );
}

#[test]
fn log_file_errors() {
    let e = |name: &str, keys: &str| {
        let (_, r) = config(name, &format!("[helpers.web]\nshell = \"x\"\n{keys}\n"));
        let e = r.expect_err("invalid");
        e.rsplit_once("spawnmux.toml:")
            .map_or(e.clone(), |(_, rest)| rest.to_string())
    };
    assert_eq!(
        e("lf1", "log_max_size = \"1M\""),
        "3:16: `log_max_size` of helper `web` needs `log_file`"
    );
    assert_eq!(
        e("lf2", "log_file = \"a.log\"\nlog_max_size = 0"),
        "4:16: `log_max_size` of helper `web` must be more than 0"
    );
    assert!(e("lf3", "log_file = \"a.log\"\nlog_max_size = \"10 parsecs\"").starts_with(
        "4:16: `log_max_size` of helper `web`: `10 parsecs` is not a size (unknown unit `parsecs`); write bytes"
    ));
    assert!(e("lf4", "log_file = \"a.log\"\nlog_max_size = -5")
        .starts_with("4:16: `log_max_size` of helper `web`: `-5` is not a size (negative)"));
    assert_eq!(
        e("lf5", "log_file = \"a.log\"\nlog_max_size = 1.5"),
        "4:16: `log_max_size` of helper `web` must be a number of bytes or a string like \"10MiB\", not 1.5"
    );
    assert_eq!(
        e("lf6", "log_file = \" \""),
        "3:12: `log_file` of helper `web`: the path is empty"
    );
    assert!(e("lf7", "log_file = \".\"").ends_with("` is a directory"));
    let (_, r) = config(
        "lf8",
        "[helpers.a]\nshell = \"x\"\nlog_file = \"same.log\"\n[helpers.b]\nshell = \"y\"\nlog_file = \"./same.log\"\n",
    );
    let e = r.expect_err("twice");
    assert!(
        e.contains("spawnmux.toml:6:12: `log_file` of helper `b`: `"),
        "{e}"
    );
    assert!(
        e.ends_with("same.log` is `a`'s log_file too; give each helper a file of its own"),
        "{e}"
    );
}

#[test]
fn log_files_never_trigger_watch_mode() {
    let text = "[helpers.web]\nshell = \"x\"\nlog_file = \"src/web.log\"\n[watch]\npaths = [\"src\"]\nrestart = [\"web\"]\n";
    let d = dir("log-watch");
    std::fs::create_dir_all(d.join("src")).expect("dir");
    let spec = load_with(&d, &[("spawnmux.toml", text)], &[]).expect("valid");
    let log = spec.helpers[0].log_file.clone().expect("log_file");
    let output = spec.watch.expect("watch").output;
    for path in [log.path.clone(), log.old(1), log.old(2), log.old(3)] {
        assert!(
            output.contains(&path),
            "{} not in {output:?}",
            path.display()
        );
    }
}
