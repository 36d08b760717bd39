//! `spawnmux ctl`'s arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::Format;

#[derive(Debug, Args)]
#[command(after_help = "\
The runner is found as `spawnmux run` finds its config: run `spawnmux ctl` in the same \
directory, with the same -c or -f (before the command: `spawnmux ctl -c dev.toml status`), or \
with the same commands after `--`; or name its socket with --control.

Examples:
  spawnmux ctl status
  spawnmux ctl restart web
  spawnmux ctl logs web -f -n 20
  spawnmux ctl --format json status | jq '.helpers[].state'

Exit codes: 0 done, 1 the runner refused (its reason is printed), 2 usage or no runner found.")]
pub(crate) struct CtlArgs {
    #[command(subcommand)]
    pub(crate) what: CtlCmd,
    /// The runner's config file or Procfile, as given to `spawnmux run` (before the command).
    #[command(flatten)]
    pub(crate) source: crate::cli::Source,
    /// The runner's control socket (as given to `spawnmux run --control`).
    #[arg(long, value_name = "PATH", global = true)]
    pub(crate) control: Option<PathBuf>,
    /// Output: text for people, json (one object per line) for scripts.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true)]
    pub(crate) format: Format,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CtlCmd {
    /// Each helper's state, pid, uptime, restarts and readiness.
    Status(Commands),
    /// Start a helper that has ended or was stopped.
    Start(Named),
    /// Stop a helper and keep it stopped (until `start` or `restart`).
    Stop(Named),
    /// Stop a helper if it runs, then start it again.
    Restart(Named),
    /// A helper's last output lines (stdout lines to stdout, stderr lines to stderr).
    Logs(LogsArgs),
}

/// The commands the runner was given after `--` (they name its socket).
#[derive(Debug, Args)]
pub(crate) struct Commands {
    /// The runner's commands, when it runs commands given after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub(crate) commands: Vec<String>,
}

#[derive(Debug, Args)]
pub(crate) struct Named {
    /// The helper.
    pub(crate) name: String,
    #[command(flatten)]
    pub(crate) commands: Commands,
}

#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The helper.
    pub(crate) name: String,
    /// Then print new lines as they come, until Ctrl-C or the run ends.
    #[arg(short = 'f', long)]
    pub(crate) follow: bool,
    /// Only the last N lines (the runner keeps up to 1,000 per helper).
    #[arg(short = 'n', long = "lines", value_name = "N")]
    pub(crate) lines: Option<usize>,
    #[command(flatten)]
    pub(crate) commands: Commands,
}

impl CtlCmd {
    /// The commands given after `--`.
    pub(crate) fn commands(&self) -> &[String] {
        match self {
            CtlCmd::Status(c) => &c.commands,
            CtlCmd::Start(n) | CtlCmd::Stop(n) | CtlCmd::Restart(n) => &n.commands.commands,
            CtlCmd::Logs(l) => &l.commands.commands,
        }
    }

    /// The request to send.
    pub(crate) fn request(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            CtlCmd::Status(_) => json!({"cmd": "status"}),
            CtlCmd::Start(n) => json!({"cmd": "start", "name": n.name}),
            CtlCmd::Stop(n) => json!({"cmd": "stop", "name": n.name}),
            CtlCmd::Restart(n) => json!({"cmd": "restart", "name": n.name}),
            CtlCmd::Logs(l) => {
                let mut r = json!({"cmd": "logs", "name": l.name, "follow": l.follow});
                if let Some(n) = l.lines {
                    r["lines"] = n.into();
                }
                r
            }
        }
    }
}
