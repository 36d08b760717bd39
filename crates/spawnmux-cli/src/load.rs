//! Finding and loading what `spawnmux run` runs: a `spawnmux.toml`, a Procfile, or commands
//! given after `--`; then `--only` / `--except`.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::cli::{RunArgs, WatchArgs};
use crate::spec::{HelperSpec, Program, RunSpec, WatchSpec};

/// A problem with the user's input (config file, Procfile, env file, arguments): one line,
/// naming the file, the position and the problem. `spawnmux` prints it and exits with 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LoadError(pub(crate) String);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line whatever the file held: control characters quoted from it (a `\n` from an
        // escape in a TOML or .env string, an ESC) are shown escaped.
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// Loads the helpers `args` ask for, relative to the current directory.
pub(crate) fn load(args: &RunArgs) -> Result<RunSpec, LoadError> {
    let cwd = std::env::current_dir().map_err(|e| LoadError(format!("current directory: {e}")))?;
    load_in(args, &cwd)
}

pub(crate) fn load_in(args: &RunArgs, dir: &Path) -> Result<RunSpec, LoadError> {
    let mut spec = if !args.commands.is_empty() {
        if args.config.is_some() || args.procfile.is_some() {
            return Err(LoadError(
                "commands after `--` cannot be combined with -c or -f".into(),
            ));
        }
        ad_hoc(&args.commands)
    } else if let Some(config) = config_path(args, dir) {
        let mut spec = crate::config::load(&config)?;
        let env = env_files(&args.env_files, None)?;
        for h in &mut spec.helpers {
            for (k, v) in &env {
                h.env.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        spec
    } else {
        let procfile = args
            .procfile
            .clone()
            .unwrap_or_else(|| dir.join("Procfile"));
        if args.procfile.is_none() && !procfile.exists() && args.watch.any() {
            // Watch mode alone: `spawnmux run --watch src --on-change 'make'` (without
            // --watch, apply_watch_args says what is missing).
            ad_hoc(&[])
        } else if args.procfile.is_none() && !procfile.exists() {
            return Err(LoadError(format!(
                "no spawnmux.toml or Procfile in {}; pass -c FILE, -f FILE or commands after --",
                dir.display()
            )));
        } else {
            let env = env_files(&args.env_files, procfile.parent())?;
            crate::procfile::load(&procfile, &env)?
        }
    };
    apply_watch_args(&mut spec, &args.watch, dir)?;
    select(&mut spec.helpers, &args.only, &args.except)?;
    if let Some(w) = &mut spec.watch {
        w.restart
            .retain(|r| spec.helpers.iter().any(|h| &h.name == r));
    }
    Ok(spec)
}

/// The watch flags on top of the config's `[watch]` (or instead of it).
fn apply_watch_args(spec: &mut RunSpec, args: &WatchArgs, dir: &Path) -> Result<(), LoadError> {
    if !args.any() {
        return Ok(());
    }
    let abs_dir = std::path::absolute(dir)
        .map_err(|e| LoadError(format!("current directory {}: {e}", dir.display())))?;
    let mut watch = match spec.watch.take() {
        Some(w) => w,
        None if args.paths.is_empty() => {
            return Err(LoadError(
                "watch flags need --watch PATH (or a [watch] table in the config)".into(),
            ))
        }
        None => WatchSpec::new(Vec::new(), abs_dir.clone()),
    };
    if !args.paths.is_empty() {
        watch.paths.clear();
        for p in &args.paths {
            let full = abs_dir.join(p);
            std::fs::metadata(&full).map_err(|e| {
                LoadError(format!(
                    "--watch {}: cannot be watched: {}: {e}",
                    p.display(),
                    full.display()
                ))
            })?;
            watch.paths.push(full);
        }
    }
    if let Some(cmd) = &args.on_change {
        if cmd.trim().is_empty() {
            return Err(LoadError("--on-change: the command is empty".into()));
        }
        let program = Program::Shell(cmd.clone());
        match &mut watch.build {
            Some(b) => b.program = program,
            None => {
                let mut name = "build".to_string();
                let mut n = 1;
                while spec.helpers.iter().any(|h| h.name == name) {
                    n += 1;
                    name = format!("build-{n}");
                }
                watch.build = Some(HelperSpec::new(name, program));
            }
        }
    }
    if !args.restart_on_change.is_empty() {
        for name in &args.restart_on_change {
            if !spec.helpers.iter().any(|h| &h.name == name) {
                let known: Vec<&str> = spec.helpers.iter().map(|h| h.name.as_str()).collect();
                return Err(LoadError(format!(
                    "--restart-on-change: no helper named `{name}` (known: {})",
                    known.join(", ")
                )));
            }
        }
        watch.restart = args.restart_on_change.clone();
    }
    for pattern in &args.ignore {
        crate::watch::check_pattern(pattern).map_err(|e| LoadError(format!("--ignore: {e}")))?;
        watch.ignore.push(pattern.clone());
    }
    watch
        .output
        .extend(args.output.iter().map(|o| abs_dir.join(o)));
    if let Some(d) = args.debounce {
        watch.debounce = d;
    }
    if let Some(b) = args.on_busy {
        watch.on_busy = b;
    }
    if args.poll.is_some() {
        watch.poll = args.poll;
    }
    if args.no_gitignore {
        watch.gitignore = false;
    }
    if watch.build.is_none() && watch.restart.is_empty() {
        return Err(LoadError(
            "--watch needs --on-change COMMAND, --restart-on-change NAME, or both".into(),
        ));
    }
    spec.watch = Some(watch);
    Ok(())
}

fn config_path(args: &RunArgs, dir: &Path) -> Option<PathBuf> {
    if let Some(c) = &args.config {
        return Some(c.clone());
    }
    let default = dir.join("spawnmux.toml");
    (args.procfile.is_none() && default.exists()).then_some(default)
}

/// The env files named with `-e`, else `.env` beside the Procfile if there is one.
fn env_files(
    files: &[PathBuf],
    procfile_dir: Option<&Path>,
) -> Result<BTreeMap<String, String>, LoadError> {
    let mut env = BTreeMap::new();
    if files.is_empty() {
        if let Some(dot_env) = procfile_dir.map(|d| d.join(".env")).filter(|p| p.exists()) {
            crate::procfile::read_env_file(&dot_env, &mut env)?;
        }
    }
    for f in files {
        crate::procfile::read_env_file(f, &mut env)?;
    }
    Ok(env)
}

/// One helper per shell command, named by its program (`npx vite` → `npx`), made unique.
fn ad_hoc(commands: &[String]) -> RunSpec {
    let mut helpers: Vec<HelperSpec> = Vec::new();
    for c in commands {
        let first = c.split_whitespace().next().unwrap_or("cmd");
        let base = Path::new(first)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| first.to_string());
        // `npx.cmd` and `node.exe` are named `npx` and `node`, as on Unix.
        let base = match base.rsplit_once('.') {
            Some((stem, ext))
                if !stem.is_empty()
                    && ["exe", "cmd", "bat", "com"]
                        .iter()
                        .any(|e| ext.eq_ignore_ascii_case(e)) =>
            {
                stem.to_string()
            }
            _ => base,
        };
        let mut name = base.clone();
        let mut n = 1;
        while helpers.iter().any(|h| h.name == name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        helpers.push(HelperSpec::new(name, Program::Shell(c.clone())));
    }
    RunSpec {
        helpers,
        origin: "command line".into(),
        watch: None,
    }
}

fn select(
    helpers: &mut Vec<HelperSpec>,
    only: &[String],
    except: &[String],
) -> Result<(), LoadError> {
    for name in only.iter().chain(except) {
        if !helpers.iter().any(|h| &h.name == name) {
            let known: Vec<&str> = helpers.iter().map(|h| h.name.as_str()).collect();
            return Err(LoadError(format!(
                "no helper named `{name}` (known: {})",
                known.join(", ")
            )));
        }
    }
    if !only.is_empty() {
        helpers.retain(|h| only.contains(&h.name));
    }
    helpers.retain(|h| !except.contains(&h.name));
    let kept: Vec<String> = helpers.iter().map(|h| h.name.clone()).collect();
    for h in helpers.iter_mut() {
        h.depends_on.retain(|d| kept.contains(d));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ad_hoc_names_are_unique() {
        let spec = ad_hoc(&[
            "npx vite".into(),
            "./bin/web.sh -p 1".into(),
            "npx tsc -w".into(),
            "/opt/node/node.EXE server.js".into(),
            "npx.cmd eslint".into(),
        ]);
        let names: Vec<&str> = spec.helpers.iter().map(|h| h.name.as_str()).collect();
        assert_eq!(names, ["npx", "web.sh", "npx-2", "node", "npx-3"]);
    }

    #[test]
    fn only_and_except() {
        let mut hs = ad_hoc(&["a".into(), "b".into(), "c".into()]).helpers;
        hs[2].depends_on = vec!["a".into()];
        select(&mut hs, &["b".into(), "c".into()], &[]).expect("ok");
        assert_eq!(
            hs.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert!(hs[1].depends_on.is_empty());
        let mut hs = ad_hoc(&["a".into(), "b".into()]).helpers;
        let e = select(&mut hs, &[], &["zz".into()]).expect_err("unknown");
        assert_eq!(e.0, "no helper named `zz` (known: a, b)");
    }
}
