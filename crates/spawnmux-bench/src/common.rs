//! What every peer is given (jobs) and gives back (tallies), and the check that nothing was
//! lost.

use std::os::fd::OwnedFd;
use std::sync::Arc;

/// Index of stdout in the per-stream arrays.
pub const OUT: usize = 0;
/// Index of stderr in the per-stream arrays.
pub const ERR: usize = 1;

/// One child to run: the test child's ops, and optionally a shared stdin (the read end of a
/// pipe all children block on until the parent closes the write end: a start barrier).
#[derive(Debug, Clone)]
pub struct Job {
    pub args: Vec<String>,
    pub stdin: Option<Arc<OwnedFd>>,
}

impl Job {
    pub fn new(args: &[&str]) -> Job {
        Job {
            args: args.iter().map(|s| s.to_string()).collect(),
            stdin: None,
        }
    }
}

/// What one child delivered, counted by the peer where it reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Lines ending in `\n`, per stream.
    pub lines: [u64; 2],
    /// Bytes including the `\n`s, per stream.
    pub bytes: [u64; 2],
    /// Pieces that did not end in `\n` (a truncated last line), per stream.
    pub partial: [u64; 2],
    /// The child exited with code 0.
    pub exit_ok: bool,
}

impl Tally {
    /// Counts one piece read from `stream`: `len` bytes including its `\n` if `newline`.
    #[inline]
    pub fn piece(&mut self, stream: usize, len: usize, newline: bool) {
        self.bytes[stream] += len as u64;
        if newline {
            self.lines[stream] += 1;
        } else {
            self.partial[stream] += 1;
        }
    }

    /// Counts what `read_until(b'\n')` returned.
    #[inline]
    pub fn read_until(&mut self, stream: usize, buf: &[u8]) {
        self.piece(stream, buf.len(), buf.last() == Some(&b'\n'));
    }
}

/// What every child of a job must deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    pub lines: [u64; 2],
    pub bytes: [u64; 2],
}

/// `Ok` if every child delivered exactly what it was expected to and exited with 0.
pub fn verify(tallies: &[Tally], expect: &[Expect]) -> Result<(), String> {
    if tallies.len() != expect.len() {
        return Err(format!(
            "{} children reported, {} expected",
            tallies.len(),
            expect.len()
        ));
    }
    for (i, (t, e)) in tallies.iter().zip(expect).enumerate() {
        if !t.exit_ok {
            return Err(format!("child {i} did not exit with 0"));
        }
        for (s, name) in [(OUT, "stdout"), (ERR, "stderr")] {
            if t.lines[s] != e.lines[s] || t.bytes[s] != e.bytes[s] || t.partial[s] != 0 {
                return Err(format!(
                    "child {i} {name}: {} lines / {} bytes / {} partial pieces received, \
                     {} lines / {} bytes expected",
                    t.lines[s], t.bytes[s], t.partial[s], e.lines[s], e.bytes[s]
                ));
            }
        }
    }
    Ok(())
}

/// Total lines over all children and streams.
pub fn total_lines(tallies: &[Tally]) -> u64 {
    tallies.iter().map(|t| t.lines[OUT] + t.lines[ERR]).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_catches_a_lost_line() {
        let e = Expect {
            lines: [2, 0],
            bytes: [4, 0],
        };
        let mut t = Tally::default();
        t.read_until(OUT, b"a\n");
        t.exit_ok = true;
        assert!(verify(&[t], &[e]).is_err());
        t.read_until(OUT, b"b\n");
        assert_eq!(verify(&[t], &[e]), Ok(()));
        t.read_until(OUT, b"c");
        assert!(verify(&[t], &[e]).is_err());
    }
}
