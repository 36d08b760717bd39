//! The files a helper names, end to end: `env_file` reaching the helper. Every platform
//! (Windows under Wine in CI); helpers are the test child, in argv form.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod util;
use util::testchild;

/// A fresh directory with `files` written in it (`TC` in their text: the test child, inside
/// a TOML literal string).
fn dir(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let d = std::env::temp_dir().join(format!("spawnmux-files-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    for (f, text) in files {
        std::fs::write(d.join(f), text.replace("TC", &testchild())).expect("write");
    }
    d
}

fn run(dir: &Path, env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spawnmux"))
        .args(["run", "--format", "json"])
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run spawnmux")
}

/// The lines `helper` wrote to stdout (carriage returns dropped, for Windows).
fn lines(out: &Output, helper: &str) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .filter(|r| r["helper"] == helper && r["stream"] == "stdout")
        .map(|r| {
            r["line"]
                .as_str()
                .expect("line")
                .trim_end_matches('\r')
                .to_string()
        })
        .collect()
}

#[test]
fn env_file_values_reach_the_helper() {
    let config = r#"
[helpers.show]
command = ['TC', 'env', 'QUOTED', 'env', 'MULTI', 'env', 'EXPANDED', 'env', 'OUTER', 'env', 'WINS']
env_file = [".env", "more.env"]
env = { WINS = "env table" }
"#;
    let dot_env = concat!(
        "# comment\n",
        "export BASE=/srv\n",
        "QUOTED='a # b'\n",
        "MULTI=\"line 1\nline 2\"\n",
        "EXPANDED=${BASE}/data\n",
        "WINS=file\n",
    );
    let more = "OUTER=\"[${SPAWNMUX_FILES_TEST_OUTER}]\"\n";
    let d = dir(
        "env-file",
        &[
            ("spawnmux.toml", config),
            (".env", dot_env),
            ("more.env", more),
        ],
    );
    let out = run(
        &d,
        &[("SPAWNMUX_FILES_TEST_OUTER", "from spawnmux's environment")],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        lines(&out, "show"),
        [
            "QUOTED=a # b",
            "MULTI=line 1",
            "line 2",
            "EXPANDED=/srv/data",
            "OUTER=[from spawnmux's environment]",
            "WINS=env table",
        ]
    );
}
