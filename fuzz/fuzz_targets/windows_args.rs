//! Windows command lines: arbitrary UTF-16 program/script and arguments (biased towards the
//! characters the CRT and cmd.exe treat specially), quoted as an ordinary program's command
//! line and as a batch file's `cmd.exe /c` line; `spawnmux::__fuzz` states the invariants.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use spawnmux::__fuzz::{check_batch_command_line, check_command_line};

#[derive(Debug, Arbitrary)]
enum Unit {
    Special(u8),
    Ascii(u8),
    Any(u16),
}

const SPECIAL: &[u8] = b" \t\"\\%&|<>()^!,;=\r\n\0:~cd";

impl Unit {
    fn wide(&self) -> u16 {
        match *self {
            Unit::Special(i) => u16::from(SPECIAL[usize::from(i) % SPECIAL.len()]),
            Unit::Ascii(b) => u16::from(b & 0x7f),
            Unit::Any(w) => w,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    program: Vec<Unit>,
    args: Vec<Vec<Unit>>,
}

fuzz_target!(|input: Input| {
    let program: Vec<u16> = input.program.iter().map(Unit::wide).collect();
    let args: Vec<Vec<u16>> = input
        .args
        .iter()
        .map(|a| a.iter().map(Unit::wide).collect())
        .collect();
    check_command_line(&program, &args);
    check_batch_command_line(&program, &args);
});
