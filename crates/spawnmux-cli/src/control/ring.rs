//! The last lines of a helper, for `spawnmux ctl logs`: a byte ring with a bounded index.
//!
//! The rule (what `logs` returns): a helper's ring holds its most recent output pieces (a
//! piece is what the log shows as one line), as many as fit both bounds: at most `lines`
//! pieces, and at most `bytes` bytes together, each piece counted after it is cut to its
//! first `piece` bytes (then flagged [`Kind::cut`]).
//!
//! # Implementation notes
//! This is on the log's hot path (every output line), so a push is a copy into a buffer and
//! one index slot written: no allocation (but when the buffer grows), no loop, no `VecDeque`
//! bookkeeping. The bytes go round and round a buffer whose size is a power of two; it starts
//! at 4 KiB and doubles (up to `bytes`) whenever the newest `lines` pieces would not fit, so
//! a helper of short lines keeps a small buffer (its memory is touched all round). The index
//! has a slot per piece (`lines` rounded up to a power of two, 8 bytes each), written round
//! and round too: each slot holds where its piece starts (the low 32 bits of a count of every
//! byte written), its length and flags. Nothing is dropped as it is overwritten; a reader
//! walks back from the newest piece and stops at the first that is no longer whole (it
//! started more than the buffer's size back) or at `lines`.

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

const STDERR: u8 = 1;
const NEWLINE: u8 = 2;
const CONTINUED: u8 = 4;
const CUT: u8 = 8;

impl Kind {
    fn bits(self) -> u8 {
        let bit = |set: bool, b: u8| if set { b } else { 0 };
        bit(self.stderr, STDERR)
            | bit(self.newline, NEWLINE)
            | bit(self.continued, CONTINUED)
            | bit(self.cut, CUT)
    }

    fn from_bits(b: u8) -> Kind {
        Kind {
            stderr: b & STDERR != 0,
            newline: b & NEWLINE != 0,
            continued: b & CONTINUED != 0,
            cut: b & CUT != 0,
        }
    }
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

/// The buffer's first size (or `bytes`, if smaller).
const FIRST_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// Where the piece starts: the low 32 bits of the count of bytes written before it.
    start: u32,
    len: u16,
    kind: u8,
}

#[derive(Debug)]
pub(crate) struct Ring {
    lines: usize,
    /// The most bytes kept (a power of two).
    max: usize,
    piece: usize,
    /// Empty until the first piece; then a power of two, at most `max`.
    buf: Box<[u8]>,
    /// Empty until the first piece; then `lines` rounded up to a power of two.
    index: Box<[Entry]>,
    /// Bytes written so far.
    written: u64,
    /// Pieces written so far.
    count: u64,
}

impl Ring {
    /// A ring that keeps at most `lines` pieces and `bytes` bytes (a power of two), each piece
    /// cut to `piece` bytes (at most `bytes` and 65,535).
    pub(crate) fn new(lines: usize, bytes: usize, piece: usize) -> Ring {
        assert!(lines > 0 && bytes.is_power_of_two() && piece <= bytes);
        assert!(piece <= usize::from(u16::MAX) && (lines as u64) * (piece as u64) < 1 << 31);
        Ring {
            lines,
            max: bytes,
            piece,
            buf: Box::default(),
            index: Box::default(),
            written: 0,
            count: 0,
        }
    }

    /// Keeps `bytes` as the newest piece.
    #[inline]
    pub(crate) fn push(&mut self, bytes: &[u8], kind: Kind) {
        let mut kind = kind.bits();
        let bytes = if bytes.len() > self.piece {
            kind |= CUT;
            &bytes[..self.piece]
        } else {
            bytes
        };
        // The newest `lines` pieces, this one included, should fit the buffer.
        let before = self.count.min(self.lines as u64 - 1);
        let need = match before {
            0 => bytes.len(),
            _ => {
                let oldest = self.entry(self.count - before);
                (self.written as u32).wrapping_sub(oldest.start) as usize + bytes.len()
            }
        };
        if need >= self.buf.len() && self.buf.len() < self.max {
            self.grow(need);
        }
        write_at(&mut self.buf, self.written, bytes);
        let slot = (self.count as usize) & (self.index.len() - 1);
        self.index[slot] = Entry {
            start: self.written as u32,
            len: bytes.len() as u16,
            kind,
        };
        self.written += bytes.len() as u64;
        self.count += 1;
    }

    fn entry(&self, k: u64) -> Entry {
        self.index[(k as usize) & (self.index.len() - 1)]
    }

    /// A buffer for `need` bytes (up to `max`), keeping what the old one holds.
    #[cold]
    fn grow(&mut self, need: usize) {
        if self.index.is_empty() {
            let slots = self.lines.next_power_of_two();
            self.index = vec![Entry::default(); slots].into_boxed_slice();
        }
        let size = need
            .checked_next_power_of_two()
            .unwrap_or(self.max)
            .clamp(FIRST_BYTES.min(self.max), self.max);
        if size <= self.buf.len() {
            return;
        }
        let mut buf = vec![0; size].into_boxed_slice();
        let old = (self.buf.len() as u64).min(self.written);
        let from = self.written - old;
        let (head, tail) = self.slices(from as u32, old as usize);
        write_at(&mut buf, from, head);
        write_at(&mut buf, from + head.len() as u64, tail);
        self.buf = buf;
    }

    /// The `len` bytes that start at `start`, in one or two parts.
    fn slices(&self, start: u32, len: usize) -> (&[u8], &[u8]) {
        if len == 0 {
            return (&[], &[]);
        }
        let at = (start as usize) & (self.buf.len() - 1);
        let first = len.min(self.buf.len() - at);
        (&self.buf[at..at + first], &self.buf[..len - first])
    }

    /// How many of the newest pieces are still kept.
    fn kept(&self) -> usize {
        let written = self.written as u32;
        let limit = self.count.min(self.lines as u64);
        (1..=limit)
            .take_while(|&back| {
                let e = self.entry(self.count - back);
                written.wrapping_sub(e.start) as usize <= self.buf.len()
            })
            .count()
    }

    /// Pieces kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.kept()
    }

    /// The newest `n` pieces kept (all of them if fewer), oldest first.
    pub(crate) fn last(&self, n: usize) -> impl Iterator<Item = Piece<'_>> + '_ {
        let take = self.kept().min(n) as u64;
        (self.count - take..self.count).map(|k| {
            let e = self.entry(k);
            let (head, tail) = self.slices(e.start, usize::from(e.len));
            Piece {
                head,
                tail,
                kind: Kind::from_bits(e.kind),
            }
        })
    }
}

/// Copies `bytes` into the ring buffer `buf` at offset `at` (wrapping round).
#[inline]
fn write_at(buf: &mut [u8], at: u64, bytes: &[u8]) {
    let pos = (at as usize) & (buf.len() - 1);
    let first = bytes.len().min(buf.len() - pos);
    buf[pos..pos + first].copy_from_slice(&bytes[..first]);
    if first < bytes.len() {
        buf[..bytes.len() - first].copy_from_slice(&bytes[first..]);
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
        let growing = [(50, 16 * 1024, 1000), (3, 8192, 4000), (200, 8192, 60)];
        for bounds in [(5, 64, 20), (3, 16, 16), (50, 256, 40), (1, 8, 8)]
            .into_iter()
            .chain(growing)
        {
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
    fn the_buffer_grows_only_as_the_newest_lines_need() {
        // Short lines keep a small buffer: 1,000 lines of 10 bytes need 16 KiB, not 256.
        let mut ring = Ring::new(1000, 256 * 1024, 16 * 1024);
        for i in 0..100_000u32 {
            ring.push(
                format!("line {:04}", i % 10_000).as_bytes(),
                Kind::default(),
            );
        }
        assert_eq!(ring.buf.len(), 16 * 1024);
        assert_eq!(ring.len(), 1000);
        // Then no allocation in the steady state.
        let buf = ring.buf.as_ptr();
        let index = ring.index.as_ptr();
        for _ in 0..10_000 {
            ring.push(b"0123456789", Kind::default());
        }
        assert_eq!((ring.buf.as_ptr(), ring.index.as_ptr()), (buf, index));
        // Longer lines grow it, keeping what it held, up to the bound.
        ring.push(&[b'x'; 8000], Kind::default());
        assert_eq!(ring.buf.len(), 32 * 1024);
        assert_eq!(ring.len(), 1000);
        assert_eq!(got(&ring, 2)[0].0, b"0123456789");
        for _ in 0..1000 {
            ring.push(&[b'y'; 10_000], Kind::default());
        }
        assert_eq!(ring.buf.len(), 256 * 1024);
        assert_eq!(ring.len(), 26, "256 KiB / 10,000 bytes");
    }
}
