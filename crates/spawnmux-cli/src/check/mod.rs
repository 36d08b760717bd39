//! `spawnmux check`: loads what `spawnmux run` with the same arguments would run, and prints
//! the plan instead of running it: the helpers with every setting (defaults included), the
//! order they start and stop in, watch mode. Nothing is started and no file is written.
//! Environment variables are listed by name only: their values may be secrets.
//!
//! Text for people (`text.rs`), JSON for scripts (`json.rs`). Exit status 0 for a valid plan,
//! 2 with the load error (one line on stderr; with `--format json` also
//! `{"valid":false,"error":…}` on stdout).

mod json;
mod text;

use std::io::Write;
use std::process::ExitCode;

use crate::cli::{Format, RunArgs};
use crate::spec::{Condition, HelperSpec, OnBusy, Program, Restart};

/// Loads the plan `args` describe and prints it (or the error).
pub(crate) fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let spec = match crate::load::load(args) {
        Ok(spec) => spec,
        Err(err) => {
            if args.format == Format::Json {
                let error = serde_json::json!({ "valid": false, "error": err.to_string() });
                writeln!(out, "{error}")?;
                out.flush()?;
            }
            let _ = writeln!(std::io::stderr(), "spawnmux: {err}");
            return Ok(ExitCode::from(2));
        }
    };
    let options = Options {
        kill_others: args.kill_others,
        kill_others_on_fail: args.kill_others_on_fail,
    };
    match args.format {
        Format::Text => out.write_all(text::plan(&spec, options).as_bytes())?,
        Format::Json => writeln!(out, "{}", json::plan(&spec, options))?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The run's options that are part of the plan (what ends the run).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Options {
    pub(crate) kill_others: bool,
    pub(crate) kill_others_on_fail: bool,
}

/// The order helpers start in, as stages: a helper without `depends_on` is in the first
/// stage, any other one stage after the last of its dependencies. The helpers of a stage
/// start together (in file order), each once its own conditions hold.
pub(crate) fn start_stages(helpers: &[HelperSpec]) -> Vec<Vec<usize>> {
    stages(helpers, |h| {
        let deps = &helpers[h].depends_on;
        deps.iter()
            .filter_map(|d| helpers.iter().position(|o| &o.name == d))
            .collect()
    })
}

/// The order a run's stop goes in: dependents first, so a helper is one stage after the last
/// helper that depends on it; helpers without relations stop together in the first stage.
pub(crate) fn stop_stages(helpers: &[HelperSpec]) -> Vec<Vec<usize>> {
    stages(helpers, |h| {
        let name = &helpers[h].name;
        (0..helpers.len())
            .filter(|&o| helpers[o].depends_on.contains(name))
            .collect()
    })
}

/// Each helper's stage is one after the highest stage among `before(helper)` (0 for none),
/// for an acyclic relation (`validate.rs` refuses cycles); grouped, in file order.
fn stages(helpers: &[HelperSpec], before: impl Fn(usize) -> Vec<usize>) -> Vec<Vec<usize>> {
    let before: Vec<Vec<usize>> = (0..helpers.len()).map(before).collect();
    let mut stage = vec![0; helpers.len()];
    // A longest path has fewer edges than there are helpers: as many rounds settle every stage.
    for _ in 0..helpers.len() {
        for h in 0..helpers.len() {
            stage[h] = before[h].iter().map(|&b| stage[b] + 1).max().unwrap_or(0);
        }
    }
    let count = stage.iter().max().map_or(0, |m| m + 1);
    (0..count)
        .map(|s| (0..helpers.len()).filter(|&h| stage[h] == s).collect())
        .collect()
}

/// `h`'s dependencies, each with the condition it waits for.
pub(crate) fn conditions(h: &HelperSpec) -> Vec<(&str, Condition)> {
    let condition = |d: &String| h.conditions.get(d).copied().unwrap_or(Condition::Ready);
    h.depends_on
        .iter()
        .map(|d| (d.as_str(), condition(d)))
        .collect()
}

/// A restart policy as spawnmux.toml writes it.
pub(crate) fn restart(r: Restart) -> &'static str {
    match r {
        Restart::Never => "never",
        Restart::OnFailure => "on-failure",
        Restart::Always => "always",
    }
}

/// An `on_busy` mode as spawnmux.toml writes it.
pub(crate) fn on_busy(b: OnBusy) -> &'static str {
    match b {
        OnBusy::Queue => "queue",
        OnBusy::Restart => "restart",
        OnBusy::Ignore => "ignore",
    }
}

/// How a program is shown: argv words (quoted when they need it), or the shell string.
pub(crate) fn command_line(program: &Program) -> String {
    match program {
        Program::Shell(s) => s.clone(),
        Program::Argv(words) => {
            let word = |w: &String| match w.is_empty() || w.contains(char::is_whitespace) {
                true => format!("{w:?}"),
                false => w.clone(),
            };
            words.iter().map(word).collect::<Vec<_>>().join(" ")
        }
    }
}

#[cfg(test)]
mod tests;
