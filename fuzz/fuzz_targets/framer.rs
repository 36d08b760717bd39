//! The line framer: arbitrary bytes in arbitrary reads, flushes and batches, any maximum line
//! length; `spawnmux::__fuzz::check_framer` states the invariants.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use spawnmux::__fuzz::{check_framer, check_framer_cr, FramerOp};

#[derive(Debug, Arbitrary)]
enum Op {
    Read(Vec<u8>),
    Flush,
    NewBatch,
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// `None`: raw chunks; else lines of at most `n % 32` bytes (0 is treated as 1), or
    /// `usize::MAX` for 255.
    max_line: Option<u8>,
    strip_cr: bool,
    /// Frame with `Command::cr_ends_line` instead (then `strip_cr` and `eof` are unused:
    /// that check always ends with EOF).
    cr_ends_line: bool,
    eof: bool,
    ops: Vec<Op>,
}

/// One byte in eight becomes `\n`, one in eight `\r`: random bytes rarely end a line.
fn make_line_heavy(bytes: &mut [u8]) {
    for b in bytes {
        match *b & 7 {
            0 => *b = b'\n',
            1 => *b = b'\r',
            _ => {}
        }
    }
}

fuzz_target!(|input: Input| {
    let mut input = input;
    for op in &mut input.ops {
        if let Op::Read(bytes) = op {
            make_line_heavy(bytes);
        }
    }
    let ops: Vec<FramerOp<'_>> = input
        .ops
        .iter()
        .map(|op| match op {
            Op::Read(bytes) => FramerOp::Read(bytes),
            Op::Flush => FramerOp::Flush,
            Op::NewBatch => FramerOp::NewBatch,
        })
        .collect();
    let max_line = input.max_line.map(|n| match n {
        255 => usize::MAX,
        n => usize::from(n % 32),
    });
    if input.cr_ends_line {
        check_framer_cr(max_line.unwrap_or(usize::MAX), &ops);
    } else {
        check_framer(max_line, input.strip_cr, &ops, input.eof);
    }
});
