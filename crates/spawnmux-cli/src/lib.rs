//! The `spawnmux` command as a library: `src/main.rs` calls [`run`]. The modules are private;
//! the library exists so that the binary stays thin and the fuzz targets in `fuzz/` can reach
//! the loaders (`__fuzz`). Not a public API.

mod cli;
mod control;
mod demo;
mod duration;
mod load;
mod os;
mod output;
mod record;
mod runner;
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
