//! Entry points for the fuzz targets in `fuzz/` (not a public API).
//!
//! Each `check_*` function runs a loader on text that would have come from a file and panics
//! if it panics itself or breaks what it promises: every error is one line naming the file
//! (and the line, where there is one), and what it accepts is valid. The unit tests below run
//! the same checks on hand-picked inputs without libFuzzer.

use std::collections::BTreeMap;
use std::path::Path;

use crate::spec::{Program, RunSpec};

/// Reads `env_text` as a `.env` file, then `procfile_text` as a Procfile with that
/// environment, and checks errors and results; an accepted Procfile, written back out as
/// `name: command` lines, must load to the same helpers.
pub fn check_procfile(env_text: &str, procfile_text: &str) {
    let mut env = BTreeMap::new();
    if let Err(e) = crate::load::parse_env_file(Path::new(".env"), env_text, &mut env) {
        check_line_error(&e.to_string(), ".env", env_text);
        return;
    }
    for key in env.keys() {
        // dotenvy's rule: letters, digits, `_` and `.`, not starting with a digit or `.`.
        assert!(
            key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'),
            "accepted variable name `{key}`"
        );
    }
    let spec = match crate::load::procfile_text(Path::new("Procfile"), procfile_text, &env) {
        Ok(spec) => spec,
        Err(e) => {
            check_line_error(&e.to_string(), "Procfile", procfile_text);
            return;
        }
    };
    assert_eq!(spec.origin, "Procfile");
    assert!(!spec.helpers.is_empty());
    let mut written = String::new();
    check_names(&spec.helpers);
    for (i, h) in spec.helpers.iter().enumerate() {
        let Program::Shell(command) = &h.program else {
            panic!("a Procfile command is not a shell command: {:?}", h.program);
        };
        assert!(!command.is_empty() && command.trim() == command);
        for (k, v) in &env {
            if k != "PORT" {
                assert_eq!(h.env.get(k), Some(v), "env file's `{k}` not passed on");
            }
        }
        let port: u64 = h.env["PORT"].parse().expect("PORT is a number");
        let base: u64 = env
            .get("PORT")
            .map_or(5000, |p| p.parse().expect("checked"));
        assert_eq!(port, base + 100 * i as u64, "PORT of process {i}");
        written.push_str(&format!("{}: {command}\n", h.name));
    }
    let again = crate::load::procfile_text(Path::new("Procfile"), &written, &env)
        .unwrap_or_else(|e| panic!("written back, it fails: {e}\n{written}"));
    assert_eq!(
        again, spec,
        "written back, it loads differently:\n{written}"
    );
}

/// Loads `bytes` as a `spawnmux.toml` and checks errors and results: an error is one line,
/// `FILE:LINE:COL: problem` with the position inside the text (or `FILE: problem`); an
/// accepted config has valid, unique helper names, runnable programs, known signals and
/// dependencies that exist and form no cycle.
pub fn check_config(bytes: &[u8]) {
    // A directory that does not exist: relative `cwd`s never resolve, whatever the fuzzer's
    // current directory holds.
    let path = Path::new("spawnmux-fuzz-nowhere").join("spawnmux.toml");
    let file = path.display().to_string();
    let spec: RunSpec = match crate::load::config_bytes(&path, bytes.to_vec()) {
        Ok(spec) => spec,
        Err(e) => {
            let msg = &e.to_string();
            assert!(
                !msg.contains(['\n', '\r']),
                "error of more than one line: {msg:?}"
            );
            let rest = msg
                .strip_prefix(&format!("{file}:"))
                .unwrap_or_else(|| panic!("error does not name the file: {msg:?}"));
            if let Some((line, col)) = position(rest) {
                let text = String::from_utf8_lossy(bytes);
                let lines: Vec<&str> = text.split('\n').collect();
                assert!(
                    (1..=lines.len()).contains(&line),
                    "line {line} of {}: {msg:?}",
                    lines.len()
                );
                assert!(
                    (1..=lines[line - 1].len() + 1).contains(&col),
                    "column {col} of line {line}: {msg:?}"
                );
            } else {
                assert!(rest.starts_with(' '), "malformed error: {msg:?}");
            }
            return;
        }
    };
    check_names(&spec.helpers);
    for h in &spec.helpers {
        match &h.program {
            Program::Argv(argv) => assert!(!argv.is_empty() && !argv[0].is_empty()),
            Program::Shell(s) => assert!(!s.trim().is_empty()),
        }
        assert!((1..=64).contains(&h.stop_signal));
        for d in &h.depends_on {
            assert!(spec.helpers.iter().any(|o| &o.name == d), "unknown `{d}`");
        }
    }
    assert_eq!(crate::load::find_cycle(&spec.helpers), None);
}

/// The documented name rule (docs/config.md): not empty, only ASCII letters, digits, `.`, `-`
/// and `_`, not `spawnmux`, each name once.
fn check_names(helpers: &[crate::spec::HelperSpec]) {
    for (i, h) in helpers.iter().enumerate() {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_.-".contains(c);
        assert!(
            !h.name.is_empty() && h.name.chars().all(allowed) && h.name != "spawnmux",
            "accepted helper name `{}`",
            h.name
        );
        assert!(
            helpers[..i].iter().all(|o| o.name != h.name),
            "`{}` twice",
            h.name
        );
    }
}

/// `LINE:COL: ...` → (LINE, COL).
fn position(s: &str) -> Option<(usize, usize)> {
    let (line, rest) = s.split_once(':')?;
    let (col, rest) = rest.split_once(':')?;
    rest.starts_with(' ').then_some(())?;
    Some((line.parse().ok()?, col.parse().ok()?))
}

/// An error from a line-based file: `FILE:LINE: problem` (LINE within the text) or
/// `FILE: problem`, on one line.
fn check_line_error(msg: &str, file: &str, text: &str) {
    assert!(
        !msg.contains(['\n', '\r']),
        "error of more than one line: {msg:?}"
    );
    let rest = msg
        .strip_prefix(&format!("{file}:"))
        .or_else(|| msg.strip_prefix("PORT from the env file"))
        .unwrap_or_else(|| panic!("error does not name the file: {msg:?}"));
    if let Some((n, _)) = rest.split_once(": ") {
        if let Ok(n) = n.parse::<usize>() {
            assert!(
                (1..=text.lines().count()).contains(&n),
                "line {n} of {}: {msg:?}",
                text.lines().count()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procfile_invariants_hold_on_hand_inputs() {
        let procfiles = [
            "web: bundle exec puma -p $PORT\n\nworker:  rake jobs:work\n",
            "# only a comment\n",
            "web: a\nweb: b\n",
            "nonsense\n",
            "a b: x\n",
            "web:   \n",
            "web: a\r\nw2: b \u{3000}\r\n",
            "",
        ];
        let envs = [
            "",
            "PORT=7000\nA='x # y'\nexport B=\"q\\\"\"\n",
            "PORT=nope\n",
            "PORT=4294967290\n",
            "PORT=\"50\\n00\"\n",
            "=1\n",
            "X\n",
            "A='unterminated\n",
            "A=\"multi\nline\"\nB=${A}\n",
            "A=1 2\n\n\n",
            "dotted.key=1\n.bad=2\n",
            "A=\"x\\qy\"",
        ];
        for env in envs {
            for procfile in procfiles {
                check_procfile(env, procfile);
            }
        }
    }

    #[test]
    fn config_invariants_hold_on_hand_inputs() {
        let configs: &[&[u8]] = &[
            b"[helpers.web]\ncommand = [\"npx\", \"vite\"]\nstop_signal = \"INT\"\n",
            b"[helpers.a]\nshell = \"a\"\ndepends_on = [\"b\"]\n[helpers.b]\nshell = \"b\"\ndepends_on = [\"a\"]\n",
            b"[helpers.web]\ncomand = [\"x\"]\n",
            b"[helpers.web]\nshell = \"a\"\ncwd = \"nowhere\"\n",
            b"[helpers.\"a b\"]\nshell = \"x\"\n",
            b"[helpers.web]\nshell = \"x\"\nstop_signal = 65\n",
            b"\xff\xfe",
            b"x = \"\xc3\xa9\n",
            b"\x01\x02[[[\n",
            b"",
            b"[helpers.web]\nshell = \"w ${port}\"\nport = \"auto\"\nscale = 3\n[helpers.c]\nshell = \"c ${port.web.3}\"\ndepends_on = [\"web\"]\n",
            b"[helpers.web]\nshell = '''\nw\n${port.nope}'''\n",
            b"[helpers.web]\ncommand = [\"a\", \"\\u0024{port}\"]\n",
            b"[helpers.web]\nshell = \"x\"\nport = 65535\nscale = 2\n",
            b"[helpers.web]\nshell = \"${env.}\"\n",
        ];
        for c in configs {
            check_config(c);
        }
    }
}
