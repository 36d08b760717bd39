//! The last lines of a helper, for `spawnmux ctl logs`: a byte ring with a bounded index.
//!
//! The rule (what `logs` returns): a helper's ring holds its most recent output pieces (a
//! piece is what the log shows as one line), as many as fit both bounds: at most `lines`
//! pieces, and at most `bytes` bytes together, each piece counted after it is cut to its
//! first `piece` bytes (then flagged [`Kind::cut`]).
//!
//! # Implementation notes
//! This is on the log's hot path (every output line): after the first piece, a push allocates
//! nothing. The bytes go into one buffer of `bytes` bytes (a power of two, allocated at the
//! first piece), written round and round; the index is a `VecDeque` of (offset, length,
//! flags), its capacity reserved at the first piece. Offsets count every byte ever written,
//! so a piece is still whole exactly while it starts at most `bytes` bytes back; older index
//! entries are dropped as the writing passes them.

use std::collections::VecDeque;

/// How a piece ended and where it came from (the log's flags, and `cut`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Kind {
    pub(crate) stderr: bool,
    /// The piece ends a line (else more of the line follows, or it was cut by the library).
    pub(crate) newline: bool,
    /// The piece continues a line shown before.
    pub(crate) continued: bool,
    /// Only the piece's first `piece` bytes were kept.
    pub(crate) cut: bool,
}

/// One kept piece: its bytes (in two parts where the ring wraps) and its kind.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Piece<'a> {
    pub(crate) head: &'a [u8],
    pub(crate) tail: &'a [u8],
    pub(crate) kind: Kind,
}

impl Piece<'_> {
    /// The bytes in one slice (a copy only where the ring wrapped).
    pub(crate) fn bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        if self.tail.is_empty() {
            self.head.into()
        } else {
            [self.head, self.tail].concat().into()
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Offset of the first byte, counting every byte ever written.
    start: u64,
    len: u32,
    kind: Kind,
}

#[derive(Debug)]
pub(crate) struct Ring {
    lines: usize,
    bytes: usize,
    piece: usize,
    /// Empty until the first piece, then `bytes` long.
    buf: Box<[u8]>,
    /// Bytes written so far (the offset of the next one).
    written: u64,
    index: VecDeque<Entry>,
}

impl Ring {
    /// A ring that keeps at most `lines` pieces and `bytes` bytes (a power of two), each piece
    /// cut to `piece` bytes (at most `bytes`).
    pub(crate) fn new(lines: usize, bytes: usize, piece: usize) -> Ring {
        assert!(
            lines > 0 && bytes.is_power_of_two() && piece <= bytes && piece <= u32::MAX as usize
        );
        Ring {
            lines,
            bytes,
            piece,
            buf: Box::default(),
            written: 0,
            index: VecDeque::new(),
        }
    }

    /// Keeps `bytes` as the newest piece, dropping what no longer fits.
    pub(crate) fn push(&mut self, bytes: &[u8], mut kind: Kind) {
        if self.buf.is_empty() {
            self.buf = vec![0; self.bytes].into_boxed_slice();
            self.index.reserve_exact(self.lines);
        }
        let bytes = if bytes.len() > self.piece {
            kind.cut = true;
            &bytes[..self.piece]
        } else {
            bytes
        };
        if self.index.len() == self.lines {
            self.index.pop_front();
        }
        // `bytes` is a power of two: the position is the offset's low bits.
        let at = (self.written as usize) & (self.bytes - 1);
        let first = bytes.len().min(self.bytes - at);
        self.buf[at..at + first].copy_from_slice(&bytes[..first]);
        self.buf[..bytes.len() - first].copy_from_slice(&bytes[first..]);
        self.index.push_back(Entry {
            start: self.written,
            len: bytes.len() as u32,
            kind,
        });
        self.written += bytes.len() as u64;
        let oldest = self.written.saturating_sub(self.bytes as u64);
        while self.index.front().is_some_and(|e| e.start < oldest) {
            self.index.pop_front();
        }
    }

    /// Pieces kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.index.len()
    }

    /// The newest `n` pieces kept (all of them if fewer), oldest first.
    pub(crate) fn last(&self, n: usize) -> impl Iterator<Item = Piece<'_>> + '_ {
        let skip = self.index.len().saturating_sub(n);
        self.index.iter().skip(skip).map(|e| {
            let at = (e.start as usize) & (self.bytes - 1);
            let len = e.len as usize;
            let first = len.min(self.bytes - at);
            Piece {
                head: &self.buf[at..at + first],
                tail: &self.buf[..len - first],
                kind: e.kind,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `last(n)` must return after `pushed`, computed from the rule in the module doc
    /// alone: the longest run of newest pieces within both bounds, then its last `n`.
    fn oracle(
        pushed: &[(Vec<u8>, Kind)],
        (lines, bytes, piece): (usize, usize, usize),
        n: usize,
    ) -> Vec<(Vec<u8>, Kind)> {
        let cut: Vec<(Vec<u8>, Kind)> = pushed
            .iter()
            .map(|(b, k)| {
                let mut k = *k;
                k.cut = b.len() > piece;
                (b[..b.len().min(piece)].to_vec(), k)
            })
            .collect();
        let mut kept = 0;
        let mut total = 0;
        for (b, _) in cut.iter().rev() {
            if kept == lines || total + b.len() > bytes {
                break;
            }
            kept += 1;
            total += b.len();
        }
        let kept = &cut[cut.len() - kept..];
        kept[kept.len().saturating_sub(n)..].to_vec()
    }

    fn got(ring: &Ring, n: usize) -> Vec<(Vec<u8>, Kind)> {
        ring.last(n)
            .map(|p| (p.bytes().into_owned(), p.kind))
            .collect()
    }

    #[test]
    fn keeps_what_the_rule_says_for_random_pieces() {
        let mut rng = fastrand::Rng::with_seed(15);
        for bounds in [(5, 64, 20), (3, 16, 16), (50, 256, 40), (1, 8, 8)] {
            let mut ring = Ring::new(bounds.0, bounds.1, bounds.2);
            let mut pushed = Vec::new();
            for i in 0..2000 {
                let len = rng.usize(0..=bounds.2 + 10);
                let bytes: Vec<u8> = (0..len).map(|j| (i * 7 + j) as u8).collect();
                let kind = Kind {
                    stderr: rng.bool(),
                    newline: rng.bool(),
                    continued: rng.bool(),
                    cut: false,
                };
                ring.push(&bytes, kind);
                pushed.push((bytes, kind));
                for n in [0, 1, 2, bounds.0, usize::MAX] {
                    assert_eq!(
                        got(&ring, n),
                        oracle(&pushed, bounds, n),
                        "{bounds:?}, push {i}, n {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn wrapped_pieces_and_the_bounds() {
        let mut ring = Ring::new(3, 8, 8);
        assert_eq!(ring.len(), 0);
        assert_eq!(got(&ring, 10), vec![]);
        ring.push(b"abcde", Kind::default());
        ring.push(b"fgh", Kind::default());
        // 8 bytes written: the next piece wraps round to the start.
        ring.push(b"ij", Kind::default());
        assert_eq!(ring.len(), 2, "abcde was overwritten");
        let p: Vec<Piece<'_>> = ring.last(1).collect();
        assert_eq!((p[0].head, p[0].tail), (&b"ij"[..], &b""[..]));
        ring.push(b"klmnop", Kind::default());
        let all = got(&ring, 9);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].0, b"ij");
        assert_eq!(all[1].0, b"klmnop");
        // A piece longer than the cut is kept cut and flagged.
        let mut ring = Ring::new(3, 16, 4);
        ring.push(b"0123456789", Kind::default());
        let p = got(&ring, 1);
        assert_eq!(p[0].0, b"0123");
        assert!(p[0].1.cut);
        // Empty pieces count as pieces.
        for _ in 0..5 {
            ring.push(b"", Kind::default());
        }
        assert_eq!(ring.len(), 3);
    }

    #[test]
    fn a_push_allocates_only_the_first_time() {
        let mut ring = Ring::new(4, 64, 16);
        ring.push(b"first", Kind::default());
        let buf = ring.buf.as_ptr();
        let cap = ring.index.capacity();
        for i in 0..1000 {
            ring.push(&[b'x'; 16][..i % 17], Kind::default());
        }
        assert_eq!(ring.buf.as_ptr(), buf);
        assert_eq!(ring.index.capacity(), cap);
    }
}
