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
