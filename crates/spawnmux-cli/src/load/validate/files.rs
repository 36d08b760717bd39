//! Part of `validate.rs`: the files a helper names, relative to the config file's directory:
//! its `env_file`s (read here, with `envfile.rs`).

use std::path::Path;

use super::key;
use crate::load::draft::HelperDraft;
use crate::load::envfile;
use crate::load::error::{LoadError, Origin};
use crate::spec::HelperSpec;

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
