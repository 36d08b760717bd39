//! Procfiles (foreman-compatible) and `.env` files.

use std::collections::BTreeMap;
use std::path::Path;

use super::error::LoadError;
use crate::spec::{HelperSpec, Program, RunSpec};

/// Foreman's first port; each process type gets the next hundred.
const BASE_PORT: u16 = 5000;

/// `name: command` lines; `#` comments and blank lines ignored. `env` (from the env files) is
/// given to every helper, plus `PORT` = base + 100 × position, as foreman does (base 5000, or
/// `PORT` from the env files).
pub(crate) fn load(path: &Path, env: &BTreeMap<String, String>) -> Result<RunSpec, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError(format!("{}: cannot read: {e}", path.display())))?;
    parse(path, &text, env)
}

/// [`load`] on the Procfile's text, already read (`path` is for messages).
pub(crate) fn parse(
    path: &Path,
    text: &str,
    env: &BTreeMap<String, String>,
) -> Result<RunSpec, LoadError> {
    let base: u16 = match env.get("PORT") {
        Some(p) => p.parse().map_err(|_| {
            LoadError(format!(
                "PORT from the env file is not a port number (0-65535): `{p}`"
            ))
        })?,
        None => BASE_PORT,
    };
    let mut helpers: Vec<HelperSpec> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |msg: String| LoadError(format!("{}:{}: {msg}", path.display(), i + 1));
        let Some((name, command)) = line.split_once(':') else {
            return Err(at(format!("expected `name: command`, found `{line}`")));
        };
        let (name, command) = (name.trim(), command.trim());
        if let Err(problem) = crate::spec::check_name(name) {
            return Err(at(format!("process name `{name}` {problem}")));
        }
        if command.is_empty() {
            return Err(at(format!("process `{name}` has no command")));
        }
        if helpers.iter().any(|h| h.name == name) {
            return Err(at(format!("process `{name}` is defined twice")));
        }
        let mut h = HelperSpec::new(name, Program::Shell(command.to_string()));
        h.env = env.clone();
        h.env.insert(
            "PORT".into(),
            (u64::from(base) + 100 * helpers.len() as u64).to_string(),
        );
        helpers.push(h);
    }
    if helpers.is_empty() {
        return Err(LoadError(format!(
            "{}: no processes defined",
            path.display()
        )));
    }
    Ok(RunSpec {
        helpers,
        origin: path.display().to_string(),
        watch: None,
        notes: Vec::new(),
    })
}

/// Reads a `.env` file: `KEY=VALUE`, optional `export `, `#` comments, single quotes literal,
/// double quotes with `\n`, `\"`, `\\` escapes, unquoted values trimmed (` #` starts a comment).
pub(crate) fn read_env_file(
    path: &Path,
    into: &mut BTreeMap<String, String>,
) -> Result<(), LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError(format!("{}: cannot read: {e}", path.display())))?;
    parse_env_file(path, &text, into)
}

/// [`read_env_file`] on the file's text, already read (`path` is for messages).
pub(crate) fn parse_env_file(
    path: &Path,
    text: &str,
    into: &mut BTreeMap<String, String>,
) -> Result<(), LoadError> {
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let at = |msg: &str| LoadError(format!("{}:{}: {msg}", path.display(), i + 1));
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| at("expected KEY=VALUE"))?;
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(at(&format!("`{key}` is not a variable name")));
        }
        into.insert(key.to_string(), env_value(value.trim()).map_err(at)?);
    }
    Ok(())
}

fn env_value(v: &str) -> Result<String, &'static str> {
    if let Some(rest) = v.strip_prefix('\'') {
        return rest
            .strip_suffix('\'')
            .map(str::to_string)
            .ok_or("unterminated single quote");
    }
    if let Some(rest) = v.strip_prefix('"') {
        let body = rest.strip_suffix('"').ok_or("unterminated double quote")?;
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(c @ ('"' | '\\')) => out.push(c),
                Some(c) => {
                    out.push('\\');
                    out.push(c);
                }
                None => out.push('\\'),
            }
        }
        return Ok(out);
    }
    Ok(v.split(" #").next().unwrap_or("").trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("spawnmux-procfile-{}-{name}", std::process::id()));
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
        let e =
            parse(Path::new("Procfile"), "spawnmux: a\n", &BTreeMap::new()).expect_err("reserved");
        assert_eq!(
            e.0,
            "Procfile:1: process name `spawnmux` is reserved (it names spawnmux's own lines in the log)"
        );
        let spec =
            parse(Path::new("Procfile"), "web.1: a\n", &BTreeMap::new()).expect("a dot is fine");
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
            .ends_with(":2: expected KEY=VALUE"));
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
}
