//! Procfiles (foreman-compatible), lowered to a [`Draft`]: each line's `name: command` shape
//! is checked here, names by `validate.rs`. Their `.env` files are read by `envfile.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::draft::{Draft, Field, HelperDraft, Kind};
use super::error::{read_text, At, LoadError, Origin};
use crate::spec::Program;

/// Foreman's first port; each process type gets the next hundred.
const BASE_PORT: u16 = 5000;

/// `name: command` lines; `#` comments and blank lines ignored. `env` (from the env files) is
/// given to every helper, plus `PORT` = base + 100 × position, as foreman does (base 5000, or
/// `PORT` from the env files).
pub(crate) fn read(path: &Path, env: &BTreeMap<String, String>) -> Result<Draft, LoadError> {
    lower(path, &read_text(path)?, env)
}

/// [`read`] on the Procfile's text, already read (`path` is for messages).
pub(crate) fn lower(
    path: &Path,
    text: &str,
    env: &BTreeMap<String, String>,
) -> Result<Draft, LoadError> {
    let base: u16 = match env.get("PORT") {
        Some(p) => p.parse().map_err(|_| {
            LoadError(format!(
                "PORT from the env file is not a port number (0-65535): `{p}`"
            ))
        })?,
        None => BASE_PORT,
    };
    let mut draft = Draft::new(Origin::file(path, String::new()), PathBuf::from("."));
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = At::Line(i + 1);
        let Some((name, command)) = line.split_once(':') else {
            let problem = format!("expected `name: command`, found `{line}`");
            return Err(draft.origin.error(&at, problem));
        };
        let (name, command) = (name.trim(), command.trim());
        if command.is_empty() {
            let problem = format!("process `{name}` has no command");
            return Err(draft.origin.error(&at, problem));
        }
        let program = Program::Shell(command.to_string());
        let mut h = HelperDraft::new(Kind::Process, Field::new(name.to_string(), at), program);
        h.env = env.clone();
        let port = u64::from(base) + 100 * draft.helpers.len() as u64;
        h.env.insert("PORT".into(), port.to_string());
        draft.helpers.push(h);
    }
    if draft.helpers.is_empty() {
        return Err(draft.origin.error(&At::File, "no processes defined"));
    }
    Ok(draft)
}
