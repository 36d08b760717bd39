//! Shared by the CLI's end-to-end tests.

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
