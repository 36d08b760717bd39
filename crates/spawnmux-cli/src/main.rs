//! The `spawnmux` command: thin entry point; see `lib.rs`, and `cli.rs` for the arguments.

fn main() -> std::process::ExitCode {
    spawnmux_cli::run()
}
