//! The `spawnmux` command: thin entry point; see `cli.rs` for the arguments.

mod cli;
mod config;
mod demo;
mod load;
mod output;
mod procfile;
mod runner;
mod signals;
mod spec;
mod watch;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Cmd::Run(args) => match load::load(&args) {
            Ok(spec) => runner::run(spec, &args),
            Err(err) => {
                let _ = writeln!(std::io::stderr(), "spawnmux: {err}");
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
