//! `spawnmux.toml` loading from arbitrary bytes; `spawnmux_cli::__fuzz::check_config` states
//! the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| spawnmux_cli::__fuzz::check_config(data));
