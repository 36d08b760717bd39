//! Part of `validate.rs`: the files a helper names, relative to the config file's directory:
//! its `env_file`s (read here, with `envfile.rs`) and its `log_file` (with `log_max_size`,
//! `crate::size`'s grammar): one file per helper, never a trigger of watch mode.

use std::path::Path;

use super::key;
use crate::load::draft::{Field, HelperDraft};
use crate::load::envfile;
use crate::load::error::{LoadError, Origin};
use crate::spec::{HelperSpec, LogFile, WatchSpec};

/// Reads `h`'s `env_file`s, in order (a later file's variable replaces an earlier one's), under
/// what `spec.env` holds already (the helper's `env`, and the `-e` files' variables).
pub(super) fn env_files(
    origin: &Origin,
    base: &Path,
    h: &HelperDraft,
    spec: &mut HelperSpec,
) -> Result<(), LoadError> {
    let mut from_files = std::collections::BTreeMap::new();
    for file in &h.env_files {
        let path = base.join(&file.value);
        envfile::read(&path, &mut from_files)
            .map_err(|e| origin.error(&file.at, format!("{}: {e}", key(h, "env_file"))))?;
        spec.env_files.push(path);
    }
    for (k, v) in from_files {
        spec.env.entry(k).or_insert(v);
    }
    Ok(())
}

/// `log_file` (resolved and made absolute; not a directory) with `log_max_size` (a size
/// more than 0, default 10 MiB; only with `log_file`).
pub(super) fn log_file(
    origin: &Origin,
    base: &Path,
    h: &HelperDraft,
    spec: &mut HelperSpec,
) -> Result<(), LoadError> {
    let max_size = match (&h.log_max_size, &h.log_file) {
        (Some(size), None) => {
            let problem = format!("{} needs `log_file`", key(h, "log_max_size"));
            return Err(origin.error(&size.at, problem));
        }
        (Some(size), Some(_)) => max_size(origin, h, size)?,
        (None, _) => LogFile::DEFAULT_MAX_SIZE,
    };
    let Some(file) = &h.log_file else {
        return Ok(());
    };
    let problem = |why: String| origin.error(&file.at, format!("{}: {why}", key(h, "log_file")));
    if file.value.trim().is_empty() {
        return Err(problem("the path is empty".into()));
    }
    let path = std::path::absolute(base.join(&file.value))
        .map_err(|e| problem(format!("`{}`: {e}", file.value)))?;
    if path.is_dir() {
        return Err(problem(format!("`{}` is a directory", path.display())));
    }
    spec.log_file = Some(LogFile { path, max_size });
    Ok(())
}

/// `log_max_size`: an integer (bytes) or a string (`10MiB`), more than 0.
fn max_size(origin: &Origin, h: &HelperDraft, size: &Field<toml::Value>) -> Result<u64, LoadError> {
    let key = key(h, "log_max_size");
    let bytes = match &size.value {
        toml::Value::Integer(n) => crate::size::parse(&n.to_string()),
        toml::Value::String(text) => crate::size::parse(text),
        other => {
            let problem =
                format!("{key} must be a number of bytes or a string like \"10MiB\", not {other}");
            return Err(origin.error(&size.at, problem));
        }
    };
    match bytes {
        Ok(0) => Err(origin.error(&size.at, format!("{key} must be more than 0"))),
        Ok(bytes) => Ok(bytes),
        Err(e) => Err(origin.error(&size.at, format!("{key}: {e}"))),
    }
}

/// No two helpers write the same `log_file` (`drafts` are `helpers` as written, in order).
pub(super) fn distinct_log_files(
    origin: &Origin,
    drafts: &[HelperDraft],
    helpers: &[HelperSpec],
) -> Result<(), LoadError> {
    let path = |h: &HelperSpec| h.log_file.as_ref().map(|l| l.path.clone());
    for (i, h) in helpers.iter().enumerate() {
        let Some(mine) = path(h) else {
            continue;
        };
        let Some(other) = helpers[..i]
            .iter()
            .find(|o| path(o).as_ref() == Some(&mine))
        else {
            continue;
        };
        let at = drafts[i]
            .log_file
            .as_ref()
            .map_or(&drafts[i].name.at, |f| &f.at);
        let problem = format!(
            "{}: `{}` is `{}`'s log_file too; give each helper a file of its own",
            key(&drafts[i], "log_file"),
            mine.display(),
            other.name
        );
        return Err(origin.error(at, problem));
    }
    Ok(())
}

/// Watch mode never triggers on the helpers' log files (nor their rotated copies), wherever
/// they are: a write to one would otherwise rebuild, which writes to one….
pub(super) fn unwatched_logs(mut watch: WatchSpec, helpers: &[HelperSpec]) -> WatchSpec {
    for log in helpers.iter().filter_map(|h| h.log_file.as_ref()) {
        watch.output.push(log.path.clone());
        watch.output.extend((1..=LogFile::KEEP).map(|n| log.old(n)));
    }
    watch
}
