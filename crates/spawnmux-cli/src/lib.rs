//! The `spawnmux` command as a library: `src/main.rs` calls [`run`]. The modules are private;
//! the library exists so that the binary stays thin and the fuzz targets in `fuzz/` can reach
//! the loaders (`__fuzz`). Not a public API.

mod check;
mod cli;
mod control;
mod demo;
mod duration;
mod load;
mod manual;
mod os;
mod output;
mod record;
mod runner;
mod sanitize;
mod size;
mod spec;
mod supervisor;
mod watch;

#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// Parses the process's arguments, runs the subcommand and returns the exit code (2 for a
/// problem with the user's input, 1 for any other error).
#[doc(hidden)]
pub fn run() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Cmd::Run(args) => match load::load(&args) {
            Ok(spec) => runner::run(spec, &args),
            Err(err) => {
                let _ = writeln!(std::io::stderr(), "spawnmux: {err}");
                return ExitCode::from(2);
            }
        },
        cli::Cmd::Ctl(args) => return control::ctl(&args),
        cli::Cmd::Check(args) => check::run(&args),
        cli::Cmd::Completions(args) => print(&manual::completions(args.shell)),
        cli::Cmd::Man(args) => match manual::man(args.subcommand.as_deref()) {
            Ok(page) => print(&page),
            Err(known) => {
                let (asked, known) = (args.subcommand.unwrap_or_default(), known.join(", "));
                let _ = writeln!(
                    std::io::stderr(),
                    "spawnmux: no subcommand `{asked}` (pages: {known})"
                );
                return ExitCode::from(2);
            }
        },
        cli::Cmd::Demo(args) => demo::run(&args),
        cli::Cmd::DemoChild(args) => demo::child(&args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // A closed stdout (`spawnmux demo | head`) is a normal way to stop.
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "spawnmux: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Writes `bytes` (a completion script, a man page) to stdout.
fn print(bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
