//! Shared by the CLI's end-to-end tests (each uses some of it).
#![allow(dead_code)]

use std::path::Path;

/// The test child, built beside the `spawnmux` binary by `cargo test --workspace`.
pub fn testchild() -> String {
    let name = if cfg!(windows) {
        "spawnmux-testchild.exe"
    } else {
        "spawnmux-testchild"
    };
    let p = Path::new(env!("CARGO_BIN_EXE_spawnmux")).with_file_name(name);
    assert!(
        p.exists(),
        "{} missing: run `cargo test --workspace`",
        p.display()
    );
    p.display().to_string()
}

/// `Command::output` and `Command::spawn` for starting `spawnmux` (or a helper) from a test,
/// retried when Wine fails the `CreateProcess`: Wine 8 now and then fails one of several
/// process starts at once with ERROR_INTERNAL_ERROR (1359) inside Wine (CI: the `hostile`
/// tests' spawn of `spawnmux.exe`; the library's fan-in test started 64 children at once and
/// saw the same). Only that error, only on Windows, up to 5 tries; real Windows is not known
/// to do this, and every other error is returned at once.
pub trait Launch {
    fn output_retried(&mut self) -> std::io::Result<std::process::Output>;
    fn spawn_retried(&mut self) -> std::io::Result<std::process::Child>;
}

impl Launch for std::process::Command {
    fn output_retried(&mut self) -> std::io::Result<std::process::Output> {
        retried(|| self.output())
    }

    fn spawn_retried(&mut self) -> std::io::Result<std::process::Child> {
        retried(|| self.spawn())
    }
}

fn retried<T>(mut start: impl FnMut() -> std::io::Result<T>) -> std::io::Result<T> {
    const WINE_INTERNAL_ERROR: i32 = 1359;
    let mut tries = 1;
    loop {
        match start() {
            Err(e)
                if cfg!(windows) && e.raw_os_error() == Some(WINE_INTERNAL_ERROR) && tries < 5 =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            result => return result,
        }
    }
}
