//! Command-line arguments (clap): the raw input of `spawnmux run` (and `check`, which takes the
//! same arguments) and `spawnmux demo` (and of `completions` and `man`, which print what `manual.rs` generates from these). Values
//! that a config file can give too (the watch flags' durations and modes) stay text here, so
//! that `load/validate.rs` reads flag and key the same way; `load/` turns these into the plan.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

// The one duration grammar (`duration.rs`): here for `demo --duration`; `run`'s duration
// flags are read with it by `load/validate.rs`.
use crate::duration::parse as parse_duration;

/// Run helper processes side by side, with their output merged into one log.
#[derive(Debug, Parser)]
#[command(name = "spawnmux", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Cmd,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Cmd {
    /// Run helpers from spawnmux.toml (or -c FILE), a Procfile (-f, or when no spawnmux.toml
    /// exists), or the commands given after `--`; merge their output into one log.
    #[command(after_help = crate::manual::RUN_EXAMPLES)]
    Run(Box<RunArgs>),
    /// Talk to a running `spawnmux run` from another terminal: status, start, stop, restart a
    /// helper, its last lines (and follow them).
    Ctl(crate::control::CtlArgs),
    /// Check spawnmux.toml (or -c FILE), a Procfile (-f) or the commands after `--` and print
    /// the plan: each helper's settings, the start and stop order, watch mode; environment
    /// variables by name only. Nothing is started. Takes the arguments of `run`.
    #[command(
        after_help = crate::manual::CHECK_EXAMPLES,
        mut_arg("format", |a| a
            .help("Output format: text, or json (one object) for scripts")
            .hide_possible_values(true)),
        mut_arg("color", |a| a.hide(true)),
        mut_arg("no_timestamps", |a| a.hide(true)),
        mut_arg("keep_ansi", |a| a.hide(true)),
        mut_arg("raw", |a| a.hide(true))
    )]
    Check(Box<RunArgs>),
    /// Print the completion script for a shell (to be saved where the shell looks for it).
    #[command(after_help = crate::manual::COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print the man page (roff) of spawnmux, or of one of its subcommands.
    #[command(after_help = crate::manual::MAN_EXAMPLES)]
    Man(ManArgs),
    /// The seed article's parent: start children that write to stdout and stderr at random
    /// times, and print their lines as `[child PID][info]` / `[child PID][warning]` as they
    /// arrive, until Ctrl-C (or --duration).
    Demo(DemoArgs),
    /// The demo's child (internal).
    #[command(hide = true)]
    DemoChild(DemoChildArgs),
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// How many children to start.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) children: u32,
    /// Longest random sleep between two lines of a child, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub(crate) max_sleep_ms: u64,
    /// Stop after this long (e.g. `10s`, `1m30s`) instead of waiting for Ctrl-C.
    #[arg(long, value_parser = parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// How the children's stdout/stderr reach spawnmux on Windows: named pipes, or the seed
    /// article's loopback socket pairs. Other platforms always use pipes and ignore this.
    #[arg(long, value_enum, default_value_t = DemoTransport::Pipe)]
    pub(crate) transport: DemoTransport,
}

/// `--transport` of the demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum DemoTransport {
    /// Named pipes (default).
    Pipe,
    /// Loopback socket pairs.
    Socket,
}

/// Output format of the merged log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// `HH:MM:SS name | line`.
    Text,
    /// One JSON object per line.
    Json,
}

/// When to colour the text log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ColorChoice {
    /// When stdout is a terminal and NO_COLOR is not set (FORCE_COLOR forces it).
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Which file a run reads (`spawnmux ctl` names its runner the same way).
#[derive(Debug, Args)]
pub(crate) struct Source {
    /// Config file (default: spawnmux.toml in the current directory).
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        conflicts_with = "procfile"
    )]
    pub(crate) config: Option<PathBuf>,
    /// Procfile (default: ./Procfile when there is no spawnmux.toml).
    #[arg(short = 'f', long = "procfile", value_name = "FILE")]
    pub(crate) procfile: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) source: Source,
    /// Environment file(s) for Procfile helpers (default: .env beside the Procfile, if any).
    #[arg(short = 'e', long = "env-file", value_name = "FILE")]
    pub(crate) env_files: Vec<PathBuf>,
    /// Run only these helpers (comma-separated names).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "NAME,...",
        conflicts_with = "except"
    )]
    pub(crate) only: Vec<String>,
    /// Run all helpers but these (comma-separated names).
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub(crate) except: Vec<String>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Colour the text log.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub(crate) color: ColorChoice,
    /// Leave out the HH:MM:SS column of the text log.
    #[arg(long)]
    pub(crate) no_timestamps: bool,
    /// JSON log: keep the helpers' ANSI escape sequences (colours, cursor moves) in `line`
    /// instead of removing them.
    #[arg(long)]
    pub(crate) keep_ansi: bool,
    /// Pass the helpers' output through unchanged. Without it the text log and the helpers'
    /// `log_file`s keep colours but remove clear-screen, cursor moves, the alternate screen,
    /// titles and control characters (tab stays), and the JSON log removes every escape
    /// sequence.
    #[arg(long)]
    pub(crate) raw: bool,
    /// Read lines typed into spawnmux's terminal: `NAME: text` goes to helper NAME's stdin,
    /// any other line to the input helper's (this NAME, the helper with `input = true`, or the
    /// only helper). Every helper's stdin is then a pipe from spawnmux (a `tty` helper's: its
    /// terminal, where Enter is typed as a carriage return).
    #[arg(long, value_name = "NAME", num_args = 0..=1, default_missing_value = "", require_equals = true)]
    pub(crate) handle_input: Option<String>,
    /// Run each command after `--` on a pseudo-terminal of its own (as `tty = true`; Windows:
    /// ConPTY), so that tools which check `isatty` colour, draw and take keys as in a
    /// terminal. Its size is spawnmux's terminal less the log's prefix (80x24 off a
    /// terminal), and follows it when it is resized (Unix).
    #[arg(long)]
    pub(crate) tty: bool,
    /// Stop every helper as soon as one exits, whatever its exit code (honcho's and foreman's
    /// behaviour). Implies --kill-others-on-fail.
    #[arg(long)]
    pub(crate) kill_others: bool,
    /// Stop every helper as soon as one exits with a failure.
    #[arg(long)]
    pub(crate) kill_others_on_fail: bool,
    /// Serve `spawnmux ctl` on this socket instead of the one named after the config (give
    /// `spawnmux ctl` the same --control).
    #[arg(long, value_name = "PATH")]
    pub(crate) control: Option<PathBuf>,
    /// Names of the commands after `--`, one per command, in order (default: from each
    /// command: `npm run dev` → dev, `npx vite` → vite, `./bin/api.sh` → api.sh).
    #[arg(short = 'n', long, value_delimiter = ',', value_name = "NAME,...")]
    pub(crate) names: Vec<String>,
    /// Arguments given where commands do not belong (`spawnmux run 'npm start'`): refused
    /// with a hint to put them after `--`.
    #[arg(hide = true, value_name = "STRAY")]
    pub(crate) stray: Vec<String>,
    /// Ad-hoc helpers: each argument is one shell command.
    #[arg(last = true, value_name = "COMMAND")]
    pub(crate) commands: Vec<String>,
    // Last: its `next_help_heading` would otherwise put the arguments after it under
    // "Watch mode" in --help.
    #[command(flatten)]
    pub(crate) watch: WatchArgs,
}

/// Watch mode on the command line; each flag overrides the same key of the config's `[watch]`.
#[derive(Debug, Args, Default)]
#[command(next_help_heading = "Watch mode")]
pub(crate) struct WatchArgs {
    /// Watch this directory (recursively) or file; repeat for more. Replaces `[watch] paths`.
    #[arg(long = "watch", value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
    /// Rebuild command (a shell string) to run after a change. Replaces `[watch] run`.
    #[arg(long, value_name = "COMMAND")]
    pub(crate) on_change: Option<String>,
    /// Helpers to restart after a successful rebuild (after every change without
    /// --on-change).
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    pub(crate) restart_on_change: Vec<String>,
    /// Ignore changes to paths matching this gitignore-style pattern; repeat for more. Added
    /// to `[watch] ignore`.
    #[arg(long = "ignore", value_name = "GLOB")]
    pub(crate) ignore: Vec<String>,
    /// Directory or file the rebuild writes: its changes never trigger. Added to
    /// `[watch] output`.
    #[arg(long = "build-output", value_name = "PATH")]
    pub(crate) output: Vec<PathBuf>,
    /// Quiet time after the last change before acting (default 200ms). Replaces
    /// `[watch] debounce`.
    #[arg(long, value_name = "DURATION")]
    pub(crate) debounce: Option<String>,
    /// A change during a rebuild: `queue` another rebuild (default), `restart` the running
    /// one, or `ignore` it. Replaces `[watch] on_busy`.
    #[arg(long, value_name = "MODE")]
    pub(crate) on_busy: Option<String>,
    /// Poll the file system (default every 1s) instead of OS notifications: for network
    /// drives and file systems that do not report changes. Replaces `[watch] poll`.
    #[arg(long, value_name = "INTERVAL", num_args = 0..=1)]
    pub(crate) poll: Option<Option<String>>,
    /// Do not read .gitignore, .ignore and .git/info/exclude files.
    #[arg(long)]
    pub(crate) no_gitignore: bool,
}

impl WatchArgs {
    /// Whether any watch flag was given.
    pub(crate) fn any(&self) -> bool {
        !self.paths.is_empty()
            || self.on_change.is_some()
            || !self.restart_on_change.is_empty()
            || !self.ignore.is_empty()
            || !self.output.is_empty()
            || self.debounce.is_some()
            || self.on_busy.is_some()
            || self.poll.is_some()
            || self.no_gitignore
    }
}

/// `spawnmux completions`.
#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub(crate) shell: clap_complete::Shell,
}

/// `spawnmux man`.
#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// The subcommand whose page to print (`run` prints spawnmux-run(1)); none: spawnmux(1).
    #[arg(value_name = "SUBCOMMAND")]
    pub(crate) subcommand: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct DemoChildArgs {
    /// Longest random sleep between two lines, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    pub(crate) max_sleep_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("soon").unwrap_err().contains("`soon`"));
        assert!(parse_duration("-1").is_err());
    }

    fn run_args(args: &[&str]) -> RunArgs {
        let cli = Cli::try_parse_from(["spawnmux", "run"].iter().chain(args)).expect("valid");
        match cli.command {
            Cmd::Run(args) => *args,
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn kill_others_flags() {
        let a = run_args(&[]);
        assert!(!a.kill_others && !a.kill_others_on_fail);
        let a = run_args(&["--kill-others"]);
        assert!(
            a.kill_others && !a.kill_others_on_fail,
            "lib.rs turns on the other"
        );
        let a = run_args(&["--kill-others", "--kill-others-on-fail"]);
        assert!(a.kill_others && a.kill_others_on_fail, "both are allowed");
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
