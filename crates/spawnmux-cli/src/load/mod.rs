//! Loading: what `spawnmux run` runs, from its arguments to the plan (`crate::spec`), in one
//! direction (ripgrep's lowargs -> hiargs):
//!
//! 1. raw input: the arguments (`crate::cli`), spawnmux.toml (`config.rs`'s serde structs), a
//!    Procfile (`procfile.rs`) and `.env` files (`envfile.rs`, dotenvy), the commands after
//!    `--` (`adhoc.rs`);
//! 2. each source lowered to the one intermediate form, a [`Draft`](draft::Draft) (the watch
//!    flags laid over it by `flags.rs`);
//! 3. the draft checked and turned into the plan (`validate.rs`);
//! 4. `--only` / `--except` applied to the plan ([`select`]).
//!
//! `error.rs` is the bottom: [`LoadError`] and positions. No module imports one above it
//! (ARCHITECTURE.md, "Loading").

mod adhoc;
mod config;
mod draft;
mod envfile;
mod error;
mod flags;
mod interpolate;
mod procfile;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) use envfile::parse as parse_env_file;
pub(crate) use error::LoadError;
pub(crate) use validate::find_cycle;

use crate::cli::RunArgs;
use crate::spec::{HelperSpec, RunSpec};
use draft::Draft;

/// Loads the helpers `args` ask for, relative to the current directory.
pub(crate) fn load(args: &RunArgs) -> Result<RunSpec, LoadError> {
    let cwd = std::env::current_dir().map_err(|e| LoadError(format!("current directory: {e}")))?;
    load_in(args, &cwd)
}

/// [`load`], relative to `dir`.
pub(crate) fn load_in(args: &RunArgs, dir: &Path) -> Result<RunSpec, LoadError> {
    let mut draft = source(args, dir)?;
    flags::apply(&mut draft, &args.watch, dir)?;
    let mut spec = validate::plan(&draft)?;
    select(&mut spec.helpers, &args.only, &args.except)?;
    input(&mut spec.helpers, args.handle_input.as_deref())?;
    if let Some(w) = &mut spec.watch {
        w.restart
            .retain(|r| spec.helpers.iter().any(|h| &h.name == r));
    }
    Ok(spec)
}

/// A config file's bytes, lowered and checked alone (the `config` fuzz target).
pub(crate) fn config_bytes(path: &Path, bytes: Vec<u8>) -> Result<RunSpec, LoadError> {
    validate::plan(&config::lower(path, bytes)?)
}

/// A Procfile's text with `env`, lowered and checked (the `procfile` fuzz target).
pub(crate) fn procfile_text(
    path: &Path,
    text: &str,
    env: &BTreeMap<String, String>,
) -> Result<RunSpec, LoadError> {
    validate::plan(&procfile::lower(path, text, env)?)
}

/// Where the helpers come from: the commands after `--`, a config file, a Procfile, or (watch
/// flags alone) nowhere; lowered.
fn source(args: &RunArgs, dir: &Path) -> Result<Draft, LoadError> {
    adhoc::refuse_stray(&args.stray, &args.commands)?;
    if args.tty && args.commands.is_empty() {
        return Err(LoadError(
            "--tty is for the commands after --; in spawnmux.toml set `tty = true` per helper"
                .into(),
        ));
    }
    if !args.names.is_empty() && args.commands.is_empty() {
        return Err(LoadError(
            "--names names the commands after --, and there are none".into(),
        ));
    }
    if !args.commands.is_empty() {
        if args.source.config.is_some() || args.source.procfile.is_some() {
            return Err(LoadError(
                "commands after `--` cannot be combined with -c or -f".into(),
            ));
        }
        let mut draft = adhoc::lower(&args.commands, &args.names)?;
        if args.tty {
            let on = || draft::Field::new(toml::Value::Boolean(true), error::At::Flag("--tty"));
            draft.helpers.iter_mut().for_each(|h| h.tty = Some(on()));
        }
        return Ok(draft);
    }
    if let Some(config) = config_path(args, dir) {
        return config_draft(args, dir, &config);
    }
    let procfile = args
        .source
        .procfile
        .clone()
        .unwrap_or_else(|| dir.join("Procfile"));
    if args.source.procfile.is_none() && !procfile.exists() {
        if args.watch.any() {
            // Watch mode alone: `spawnmux run --watch src --on-change 'make'` (without
            // --watch, flags.rs says what is missing).
            return adhoc::lower(&[], &[]);
        }
        return Err(LoadError(format!(
            "no spawnmux.toml or Procfile in {}; pass -c FILE, -f FILE or commands after --",
            dir.display()
        )));
    }
    let env = env_files(&args.env_files, procfile.parent())?;
    procfile::read(&procfile, &env)
}

/// The config file, with a note when a Procfile was passed over and the `-e` files' variables
/// under each helper's own `env`.
fn config_draft(args: &RunArgs, dir: &Path, config: &Path) -> Result<Draft, LoadError> {
    let mut draft = config::read(config)?;
    if args.source.config.is_none() && dir.join("Procfile").exists() {
        draft.notes.push(
            "using spawnmux.toml (a Procfile is here too; -f Procfile runs that instead)".into(),
        );
    }
    let env = env_files(&args.env_files, None)?;
    for h in &mut draft.helpers {
        for (k, v) in &env {
            h.env.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    Ok(draft)
}

fn config_path(args: &RunArgs, dir: &Path) -> Option<PathBuf> {
    if let Some(c) = &args.source.config {
        return Some(c.clone());
    }
    let default = dir.join("spawnmux.toml");
    (args.source.procfile.is_none() && default.exists()).then_some(default)
}

/// The env files named with `-e`, else `.env` beside the Procfile if there is one.
fn env_files(
    files: &[PathBuf],
    procfile_dir: Option<&Path>,
) -> Result<BTreeMap<String, String>, LoadError> {
    let mut env = BTreeMap::new();
    if files.is_empty() {
        if let Some(dot_env) = procfile_dir.map(|d| d.join(".env")).filter(|p| p.exists()) {
            envfile::read(&dot_env, &mut env)?;
        }
    }
    for f in files {
        envfile::read(f, &mut env)?;
    }
    Ok(env)
}

/// `--only` / `--except`: every name must be a helper's (a scaled helper's name: all its
/// copies); a `depends_on` on a helper left out is dropped.
fn select(
    helpers: &mut Vec<HelperSpec>,
    only: &[String],
    except: &[String],
) -> Result<(), LoadError> {
    let named = |h: &HelperSpec, names: &[String]| {
        names.contains(&h.name) || h.copy_of.as_ref().is_some_and(|c| names.contains(c))
    };
    for name in only.iter().chain(except) {
        if !helpers.iter().any(|h| named(h, std::slice::from_ref(name))) {
            let known: Vec<&str> = helpers.iter().map(|h| h.name.as_str()).collect();
            return Err(LoadError(format!(
                "no helper named `{name}` (known: {})",
                known.join(", ")
            )));
        }
    }
    if !only.is_empty() {
        helpers.retain(|h| named(h, only));
    }
    helpers.retain(|h| !named(h, except));
    let kept: Vec<String> = helpers.iter().map(|h| h.name.clone()).collect();
    for h in helpers.iter_mut() {
        h.depends_on.retain(|d| kept.contains(d));
    }
    Ok(())
}

/// The input helper: `--handle-input=NAME`, else the one with `input = true`, else with a bare
/// `--handle-input` the only helper. More than one `input = true`, or `--handle-input` with
/// several helpers and none chosen, is an error.
fn input(helpers: &mut [HelperSpec], flag: Option<&str>) -> Result<(), LoadError> {
    let names = || {
        let names: Vec<&str> = helpers.iter().map(|h| h.name.as_str()).collect();
        names.join(", ")
    };
    let marked: Vec<&str> = (helpers.iter().filter(|h| h.input))
        .map(|h| h.name.as_str())
        .collect();
    if marked.len() > 1 && flag.is_none_or(str::is_empty) {
        return Err(LoadError(format!(
            "`input = true` on helpers `{}`: only one helper takes the lines typed into spawnmux",
            marked.join("`, `")
        )));
    }
    let target = match flag {
        None => return Ok(()),
        Some("") if !marked.is_empty() => return Ok(()),
        Some("") if helpers.len() == 1 => 0,
        Some("") => {
            return Err(LoadError(format!(
                "--handle-input: no helper takes input: set `input = true` on one helper, or \
                 name it: --handle-input=NAME (helpers: {})",
                names()
            )))
        }
        Some(name) => helpers.iter().position(|h| h.name == name).ok_or_else(|| {
            LoadError(format!(
                "--handle-input: no helper named `{name}` (known: {})",
                names()
            ))
        })?,
    };
    for (i, h) in helpers.iter_mut().enumerate() {
        h.input = i == target;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
