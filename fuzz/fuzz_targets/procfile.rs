//! Procfile and `.env` loading: the input up to the first NUL byte is the `.env` file, the
//! rest the Procfile; `spawnmux_cli::__fuzz::check_procfile` states the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (env, procfile) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    spawnmux_cli::__fuzz::check_procfile(
        &String::from_utf8_lossy(env),
        &String::from_utf8_lossy(procfile),
    );
});
