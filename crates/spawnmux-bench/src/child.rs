//! The children of W1 and W2: `spawnmux-bench --child KIND LINES WHICH` writes LINES lines of
//! exactly 64 bytes (`line 000000000042 ......\n`) to stdout (`out`) or to stdout and stderr
//! (`both`), in one of the ways real programs write:
//!
//! - `bufwriter`: through a 64 KiB `BufWriter`, as Rust and Go programs that buffer their
//!   output for throughput do: one `write` of 65,536 bytes per 1,024 lines.
//! - `line`: one `write` per line, as C stdio in line-buffered mode (`setvbuf(_IOLBF)`), Python
//!   `-u`, or a Rust `println!` to a pipe (std's stdout is a `LineWriter`).
//! - `blocks`: one `write` of 64,000 bytes per 1,000 lines, which is what W1 used before
//!   (`spawnmux-testchild spew`); kept for `--discrepancy` (it fills a 64 KiB pipe in one write).
//!
//! The child does no formatting beyond incrementing the decimal counter in place, so that it
//! costs little CPU and the parent's reading is what is measured. These children live in this
//! binary (not in `spawnmux-testchild`) so that the benchmark owns the write pattern it measures.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::process::ExitCode;

/// Bytes per line, including the `\n`.
pub const LINE: u64 = 64;

/// How a child writes its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChildKind {
    /// 64-byte lines through a 64 KiB `BufWriter`: 65,536-byte writes.
    BufWriter,
    /// One `write` per 64-byte line.
    Line,
    /// 64,000-byte writes (the former W1 child, `spew`).
    Blocks,
}

impl ChildKind {
    pub const ALL: [ChildKind; 3] = [ChildKind::BufWriter, ChildKind::Line, ChildKind::Blocks];

    pub fn id(self) -> &'static str {
        match self {
            ChildKind::BufWriter => "bufwriter",
            ChildKind::Line => "line",
            ChildKind::Blocks => "blocks",
        }
    }

    pub fn parse(s: &str) -> Option<ChildKind> {
        ChildKind::ALL.into_iter().find(|k| k.id() == s)
    }

    /// For the report.
    pub fn label(self) -> &'static str {
        match self {
            ChildKind::BufWriter => "64 KiB BufWriter child",
            ChildKind::Line => "line-buffered child",
            ChildKind::Blocks => "64,000-byte-block child (former W1)",
        }
    }
}

/// The line template; the 12 digits after `line ` are the line's number.
fn template() -> [u8; LINE as usize] {
    let mut line = [b'.'; LINE as usize];
    line[..5].copy_from_slice(b"line ");
    line[5..17].fill(b'0');
    line[17] = b' ';
    line[LINE as usize - 1] = b'\n';
    line
}

/// Adds one to the decimal counter in `line[5..17]`.
#[inline]
fn increment(line: &mut [u8; LINE as usize]) {
    for d in line[5..17].iter_mut().rev() {
        if *d == b'9' {
            *d = b'0';
        } else {
            *d += 1;
            return;
        }
    }
}

/// fd 1 or 2 as a writer that never closes it and buffers nothing: every `write_all` of a
/// line is one `write`.
fn raw(fd: i32) -> Raw {
    // SAFETY: fds 1 and 2 are open for the whole life of this process (the parent gave them);
    // `ManuallyDrop` keeps the `File` from closing them.
    Raw(ManuallyDrop::new(unsafe { File::from_raw_fd(fd) }))
}

/// fd 1 or 2, unbuffered.
struct Raw(ManuallyDrop<File>);

impl Write for Raw {
    #[inline]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.write(data)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer that sends what it holds in writes of exactly `block` bytes (the last one may be
/// shorter): 1,000 lines per write for `blocks`.
struct Blocks {
    inner: Raw,
    buf: Vec<u8>,
    block: usize,
}

impl Write for Blocks {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= self.block {
            self.inner.write_all(&self.buf[..self.block])?;
            self.buf.drain(..self.block);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

fn write_lines(kind: ChildKind, lines: u64, both: bool) -> io::Result<()> {
    match kind {
        ChildKind::BufWriter => {
            let w = |fd| BufWriter::with_capacity(64 * 1024, raw(fd));
            write_to(w(1), both.then(|| w(2)), lines)
        }
        ChildKind::Line => write_to(raw(1), both.then(|| raw(2)), lines),
        ChildKind::Blocks => {
            let w = |fd| Blocks {
                inner: raw(fd),
                buf: Vec::with_capacity(128 * 1024),
                block: 64_000,
            };
            write_to(w(1), both.then(|| w(2)), lines)
        }
    }
}

/// Generic, so that a line costs a copy and no dynamic call.
fn write_to<W: Write>(mut out: W, mut err: Option<W>, lines: u64) -> io::Result<()> {
    let mut line = template();
    for _ in 0..lines {
        out.write_all(&line)?;
        if let Some(err) = err.as_mut() {
            err.write_all(&line)?;
        }
        increment(&mut line);
    }
    out.flush()?;
    if let Some(err) = err.as_mut() {
        err.flush()?;
    }
    Ok(())
}

/// `spawnmux-bench --child KIND LINES out|both`.
pub fn main(args: &[String]) -> ExitCode {
    let parsed = (|| {
        let kind = ChildKind::parse(args.first()?)?;
        let lines: u64 = args.get(1)?.parse().ok()?;
        let both = match args.get(2)?.as_str() {
            "out" => false,
            "both" => true,
            _ => return None,
        };
        Some((kind, lines, both))
    })();
    let Some((kind, lines, both)) = parsed else {
        eprintln!("usage: spawnmux-bench --child bufwriter|line|blocks LINES out|both");
        return ExitCode::from(2);
    };
    match write_lines(kind, lines, both) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spawnmux-bench --child: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The arguments that start this child.
pub fn args(kind: ChildKind, lines: u64, both: bool) -> Vec<String> {
    vec![
        "--child".to_string(),
        kind.id().to_string(),
        lines.to_string(),
        if both { "both" } else { "out" }.to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_64_bytes_and_numbered() {
        let mut line = template();
        assert_eq!(&line[..18], b"line 000000000000 ");
        assert_eq!(line[63], b'\n');
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        for _ in 0..1_009 {
            increment(&mut line);
        }
        assert_eq!(&line[..18], b"line 000000001009 ");
    }
}
