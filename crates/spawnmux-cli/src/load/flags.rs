//! The watch flags, lowered onto the draft: each flag replaces (or, for `--ignore` and
//! `--build-output`, adds to) the same key of the file's `[watch]`, or makes a `[watch]` of
//! its own. Relative paths are resolved against the current directory. `validate.rs` checks
//! the result, flags and file alike.

use std::path::Path;

use super::draft::{Draft, Field, HelperDraft, Kind, Poll, WatchDraft, WatchPath};
use super::error::{At, LoadError};
use crate::cli::WatchArgs;
use crate::spec::Program;

/// `args` over `draft.watch`; `dir` is the current directory.
pub(crate) fn apply(draft: &mut Draft, args: &WatchArgs, dir: &Path) -> Result<(), LoadError> {
    if !args.any() {
        return Ok(());
    }
    let abs_dir = std::path::absolute(dir)
        .map_err(|e| LoadError(format!("current directory {}: {e}", dir.display())))?;
    let mut watch = match draft.watch.take() {
        Some(w) => w,
        None if args.paths.is_empty() => {
            return Err(LoadError(
                "watch flags need --watch PATH (or a [watch] table in the config)".into(),
            ))
        }
        None => WatchDraft::new(At::Flag("--watch"), abs_dir.clone()),
    };
    if !args.paths.is_empty() {
        watch.paths = args
            .paths
            .iter()
            .map(|p| {
                let (written, full) = (p.display().to_string(), abs_dir.join(p));
                Field::new(WatchPath { written, full }, At::Flag("--watch"))
            })
            .collect();
    }
    if let Some(cmd) = &args.on_change {
        on_change(draft, &mut watch, cmd)?;
    }
    if !args.restart_on_change.is_empty() {
        let names = args.restart_on_change.iter().cloned();
        let flag = |name| Field::new(name, At::Flag("--restart-on-change"));
        watch.restart = names.map(flag).collect();
    }
    let flag = |text: &String, name| Field::new(text.clone(), At::Flag(name));
    (watch.ignore).extend(args.ignore.iter().map(|p| flag(p, "--ignore")));
    (watch.output).extend(args.output.iter().map(|o| abs_dir.join(o)));
    if let Some(d) = &args.debounce {
        watch.debounce = Some(flag(d, "--debounce"));
    }
    if let Some(b) = &args.on_busy {
        watch.on_busy = Some(flag(b, "--on-busy"));
    }
    match &args.poll {
        Some(Some(every)) => watch.poll = Some(Poll::Every(flag(every, "--poll"))),
        Some(None) => watch.poll = Some(Poll::Default),
        None => {}
    }
    if args.no_gitignore {
        watch.gitignore = Some(false);
    }
    draft.watch = Some(watch);
    Ok(())
}

/// `--on-change`: the build's program, or a build of its own, named `build` (`build-2`, … when
/// a helper has that name).
fn on_change(draft: &Draft, watch: &mut WatchDraft, cmd: &str) -> Result<(), LoadError> {
    if cmd.trim().is_empty() {
        return Err(LoadError("--on-change: the command is empty".into()));
    }
    let program = Program::Shell(cmd.to_string());
    if let Some(b) = &mut watch.build {
        b.program = program;
        // The flag's command is the shell's: no `${…}` of spawnmux.toml in it.
        b.program_at = None;
        return Ok(());
    }
    let name = Field::new(draft.free_name("build"), At::Flag("--on-change"));
    watch.build = Some(HelperDraft::new(Kind::Build, name, program));
    Ok(())
}
