//! Bytes to lines (or chunks), with the partial line carried between reads.
//!
//! Pure logic, no OS calls. The framer works *in place* on the [`Events`](crate::Events) byte
//! arena: before a read, [`Framer::begin`] appends the carried partial line to the arena, the
//! read appends new bytes right after it, and [`Framer::frame`] then cuts the new region into
//! pieces that point into the arena. Complete lines are never copied; only the trailing partial
//! line (usually a few bytes) is moved back into the carry. Memory per stream is bounded by the
//! maximum line length.

mod scan;

use scan::Terminators;

/// How a captured stream is cut into [`Output`](crate::Output) events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FramingOptions {
    /// `None`: raw chunks, one event per read. `Some(max)`: lines of at most `max` bytes.
    pub(crate) max_line: Option<usize>,
    /// Remove a `\r` that precedes the `\n`.
    pub(crate) strip_cr: bool,
    /// A `\r` not followed by `\n` ends a line too (progress bars); `\r\n` is one line end.
    pub(crate) cr_ends_line: bool,
}

/// One event's worth of bytes: `arena[start..end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// The piece ended with a line terminator (not included in `start..end`).
    pub(crate) newline: bool,
    /// The piece continues a line begun in an earlier piece.
    pub(crate) continued: bool,
}

/// Per-stream framing state.
#[derive(Debug)]
pub(crate) struct Framer {
    opts: FramingOptions,
    /// Bytes of a line that has not ended yet.
    carry: Vec<u8>,
    /// An earlier piece of the current line has been emitted already.
    in_line: bool,
}

impl Framer {
    pub(crate) fn new(opts: FramingOptions) -> Framer {
        Framer {
            opts,
            carry: Vec::new(),
            in_line: false,
        }
    }

    /// Bytes held back waiting for the end of their line.
    pub(crate) fn pending(&self) -> usize {
        self.carry.len()
    }

    /// Appends the carried partial line to `arena`; returns where the unframed region starts.
    /// The caller then appends freshly read bytes and calls [`Framer::frame`].
    pub(crate) fn begin(&mut self, arena: &mut Vec<u8>) -> usize {
        let start = arena.len();
        arena.extend_from_slice(&self.carry);
        self.carry.clear();
        start
    }

    /// Cuts `arena[start..]` into pieces. A trailing partial line is moved back into the carry
    /// (and removed from `arena`) unless `eof`, in which case it is emitted without `newline`.
    // Out of line, as the compiler chose while `Mux::read_stream` was one large function: inlined
    // into the smaller read loop (`OutStream::read`), it cost one more instruction per line
    // (callgrind, W1: 685.1 M instead of 680.9 M for 256 MiB of 64-byte lines).
    #[inline(never)]
    pub(crate) fn frame(
        &mut self,
        arena: &mut Vec<u8>,
        start: usize,
        eof: bool,
        out: &mut impl FnMut(Piece),
    ) {
        let Some(max) = self.opts.max_line else {
            if arena.len() > start {
                out(Piece {
                    start,
                    end: arena.len(),
                    newline: false,
                    continued: false,
                });
            }
            return;
        };
        let max = max.max(1);
        let mut pos = start;
        if self.opts.cr_ends_line {
            pos = self.cut_at_cr_or_lf(arena, pos, eof, max, out);
        } else {
            // One scan over the whole region rather than a search per line (`scan.rs`), and
            // the common case (a line that fits, no `\r` to strip) emitted inline: this loop
            // runs once per line of output.
            // `in_line` in a local: it stays in a register across `out` calls.
            let mut in_line = self.in_line;
            let strip_cr = self.opts.strip_cr;
            for i in Terminators::new(&arena[start..], false) {
                let nl = start + i;
                if nl - pos <= max && !strip_cr {
                    out(Piece {
                        start: pos,
                        end: nl,
                        newline: true,
                        continued: in_line,
                    });
                    in_line = false;
                } else {
                    self.in_line = in_line;
                    self.emit_line(arena, pos, nl, max, out);
                    in_line = self.in_line;
                }
                pos = nl + 1;
            }
            self.in_line = in_line;
        }
        // `pos..` has no newline: emit full-size pieces while more than `max` bytes remain
        // (exactly `max` are kept: if the newline comes next, that piece ends the line; with
        // `strip_cr`, `max` and a last `\r`, which that newline would remove; with
        // `cr_ends_line`, `max` and the held `\r` that ends the line).
        let cr_held = self.opts.strip_cr || self.opts.cr_ends_line;
        let keep = if !eof && cr_held && arena.last() == Some(&b'\r') {
            max.saturating_add(1)
        } else {
            max
        };
        while arena.len() - pos > keep {
            self.emit(pos, pos + max, false, out);
            pos += max;
        }
        if eof {
            if arena.len() > pos {
                self.emit(pos, arena.len(), false, out);
            }
            self.in_line = false;
        } else {
            self.carry.extend_from_slice(&arena[pos..]);
            arena.truncate(pos);
        }
    }

    /// Emits the carried partial line now (a prompt, a progress bar) as a piece without
    /// `newline` (two if the carry is `max` bytes and a `\r`); the rest of the line will follow
    /// as `continued` pieces.
    pub(crate) fn flush(&mut self, arena: &mut Vec<u8>, out: &mut impl FnMut(Piece)) {
        if self.carry.is_empty() {
            return;
        }
        let max = self.opts.max_line.unwrap_or(usize::MAX).max(1);
        let mut start = self.begin(arena);
        while arena.len() - start > max {
            self.emit(start, start + max, false, out);
            start += max;
        }
        let end = arena.len();
        self.emit(start, end, false, out);
    }

    /// Line ends are `\n`, `\r\n` and a lone `\r`. A `\r` that is the last byte read is held
    /// back (unless `eof`): the next read tells whether a `\n` follows. Every `\n` and every
    /// `\r\n` ends exactly one line, empty or not; only an empty line ended by a lone `\r`
    /// (the `\r` a progress bar starts with) is not emitted. Returns where the unterminated
    /// rest starts.
    fn cut_at_cr_or_lf(
        &mut self,
        arena: &[u8],
        mut pos: usize,
        eof: bool,
        max: usize,
        out: &mut impl FnMut(Piece),
    ) -> usize {
        let from = pos;
        for i in Terminators::new(&arena[from..], true) {
            let end = from + i;
            // The `\n` of a `\r\n` already taken with its `\r`.
            if end < pos {
                continue;
            }
            // (where the next line starts, whether the terminator is a lone `\r`)
            let (next, lone_cr) = match (arena[end], arena.get(end + 1)) {
                (b'\n', _) => (end + 1, false),
                (_, Some(b'\n')) => (end + 2, false),
                (_, Some(_)) => (end + 1, true),
                (_, None) if eof => (end + 1, true),
                (_, None) => break,
            };
            if end > pos || self.in_line || !lone_cr {
                self.emit_line(arena, pos, end, max, out);
            }
            pos = next;
        }
        pos
    }

    /// `arena[pos..nl]` is a complete line (`arena[nl]` is its terminator).
    fn emit_line(
        &mut self,
        arena: &[u8],
        mut pos: usize,
        nl: usize,
        max: usize,
        out: &mut impl FnMut(Piece),
    ) {
        let mut end = nl;
        if self.opts.strip_cr && end > pos && arena[end - 1] == b'\r' && arena[nl] == b'\n' {
            end -= 1;
        }
        while end - pos > max {
            self.emit(pos, pos + max, false, out);
            pos += max;
        }
        self.emit(pos, end, true, out);
    }

    fn emit(&mut self, start: usize, end: usize, newline: bool, out: &mut impl FnMut(Piece)) {
        out(Piece {
            start,
            end,
            newline,
            continued: self.in_line,
        });
        self.in_line = !newline;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(max: usize, strip_cr: bool) -> Framer {
        Framer::new(FramingOptions {
            max_line: Some(max),
            strip_cr,
            cr_ends_line: false,
        })
    }

    fn cr_lines(max: usize) -> Framer {
        Framer::new(FramingOptions {
            max_line: Some(max),
            strip_cr: false,
            cr_ends_line: true,
        })
    }

    /// Feeds `chunks` (then EOF if `eof`) and returns (text, newline, continued) per piece.
    fn run(f: &mut Framer, chunks: &[&[u8]], eof: bool) -> Vec<(Vec<u8>, bool, bool)> {
        let mut got = Vec::new();
        let mut arena = Vec::new();
        let n = chunks.len();
        for (i, chunk) in chunks.iter().enumerate() {
            let start = f.begin(&mut arena);
            arena.extend_from_slice(chunk);
            let mut pieces = Vec::new();
            f.frame(&mut arena, start, eof && i + 1 == n, &mut |p| {
                pieces.push(p)
            });
            for p in pieces {
                got.push((arena[p.start..p.end].to_vec(), p.newline, p.continued));
            }
            arena.clear();
        }
        got
    }

    fn p(s: &str, newline: bool, continued: bool) -> (Vec<u8>, bool, bool) {
        (s.as_bytes().to_vec(), newline, continued)
    }

    #[test]
    fn splits_lines_and_carries_partials() {
        let mut f = lines(100, false);
        let got = run(&mut f, &[b"ab\ncd", b"ef\n\ngh"], true);
        assert_eq!(
            got,
            vec![
                p("ab", true, false),
                p("cdef", true, false),
                p("", true, false),
                p("gh", false, false),
            ]
        );
        assert_eq!(f.pending(), 0);
    }

    #[test]
    fn partial_without_eof_stays_in_carry() {
        let mut f = lines(100, false);
        assert_eq!(run(&mut f, &[b"abc"], false), vec![]);
        assert_eq!(f.pending(), 3);
    }

    #[test]
    fn strip_cr_only_before_newline() {
        let mut f = lines(100, true);
        let got = run(&mut f, &[b"a\r\nb\rc\r", b"\n\r"], true);
        assert_eq!(
            got,
            vec![
                p("a", true, false),
                p("b\rc", true, false),
                p("\r", false, false)
            ]
        );
        let mut keep = lines(100, false);
        assert_eq!(
            run(&mut keep, &[b"a\r\n"], true),
            vec![p("a\r", true, false)]
        );
    }

    #[test]
    fn cr_ends_progress_lines_and_crlf_is_one_end() {
        let mut f = cr_lines(100);
        // A progress bar (each update starts with `\r`), then a CRLF line split between
        // reads right after the `\r`, then LF; an empty CRLF line is kept.
        let got = run(
            &mut f,
            &[b"\r 10%\r 20%", b"\r 30%\r", b"\ndone\r\n\r\nnext\nlast\r"],
            true,
        );
        assert_eq!(
            got,
            vec![
                p(" 10%", true, false),
                p(" 20%", true, false),
                p(" 30%", true, false),
                p("done", true, false),
                p("", true, false),
                p("next", true, false),
                p("last", true, false),
            ]
        );
        // Without EOF a trailing `\r` is held: a `\n` may follow.
        let mut g = cr_lines(100);
        assert_eq!(run(&mut g, &[b"a\r"], false), vec![]);
        assert_eq!(g.pending(), 2);
        // Pieces stay bounded by the maximum.
        let mut h = cr_lines(3);
        let got = run(&mut h, &[b"abcdefg\rxy"], true);
        assert_eq!(
            got,
            vec![
                p("abc", false, false),
                p("def", false, true),
                p("g", true, true),
                p("xy", false, false),
            ]
        );
    }

    /// Every `\n` and `\r\n` ends exactly one line, empty or not (a user's blank lines, Vite's
    /// banner spacing); only an empty piece ended by a lone `\r` is dropped.
    #[test]
    fn cr_mode_keeps_empty_lines_of_every_terminator() {
        let want = vec![
            p("a", true, false),
            p("", true, false),
            p("b", true, false),
            p("", true, false),
            p("", true, false),
            p("c", true, false),
        ];
        let data = b"a\n\nb\r\n\r\n\n\rc\r\n";
        for step in 1..=data.len() {
            let chunks: Vec<&[u8]> = data.chunks(step).collect();
            assert_eq!(run(&mut cr_lines(100), &chunks, true), want, "step {step}");
        }
        // A lone `\r` before an empty `\r\n` line: the `\r` ends nothing, the `\r\n` one line.
        assert_eq!(
            run(&mut cr_lines(100), &[b"x\r\r\n\r"], true),
            vec![p("x", true, false), p("", true, false)]
        );
    }

    #[test]
    fn cr_split_gives_the_same_lines_at_any_chunking() {
        let data = b"\rprog 1\rprog 2\r\nline\n\r\rx\r\n\ny".repeat(50);
        let whole = run(&mut cr_lines(1 << 20), &[&data], true);
        for step in [1usize, 2, 3, 7, 64] {
            let chunks: Vec<&[u8]> = data.chunks(step).collect();
            assert_eq!(
                run(&mut cr_lines(1 << 20), &chunks, true),
                whole,
                "step {step}"
            );
        }
    }

    #[test]
    fn long_lines_come_in_bounded_pieces() {
        let mut f = lines(4, false);
        let got = run(&mut f, &[b"abcdefghij\nxy", b"z0123", b"45\n"], true);
        assert_eq!(
            got,
            vec![
                p("abcd", false, false),
                p("efgh", false, true),
                p("ij", true, true),
                p("xyz0", false, false),
                p("1234", false, true),
                p("5", true, true),
            ]
        );
        // The carry never exceeds the maximum.
        let mut g = lines(4, false);
        run(&mut g, &[b"abcdefg"], false);
        assert!(g.pending() <= 4);
    }

    #[test]
    fn exact_multiple_of_max_ends_with_newline_piece() {
        let mut f = lines(3, false);
        let got = run(&mut f, &[b"abcdef\n"], true);
        assert_eq!(got, vec![p("abc", false, false), p("def", true, true)]);
    }

    /// Found by the `framer` fuzz target: with `strip_cr`, a line of exactly `max` bytes whose
    /// `\r` and `\n` came in different reads arrived as the line without `newline` and then an
    /// empty `continued` piece, instead of one piece (a spurious `|+` line in `spawnmux run`).
    #[test]
    fn crlf_line_of_exactly_max_bytes_is_one_piece_whatever_the_reads() {
        for reads in [
            &[&b"abc\r\n"[..]][..],
            &[b"abc\r", b"\n"],
            &[b"ab", b"c\r", b"\n"],
        ] {
            let mut f = lines(3, true);
            assert_eq!(
                run(&mut f, reads, true),
                vec![p("abc", true, false)],
                "{reads:?}"
            );
        }
        // A `\r` that no newline follows is still delivered, in pieces of at most `max`.
        let mut f = lines(3, true);
        assert_eq!(
            run(&mut f, &[b"abc\r", b"d\n"], true),
            vec![p("abc", false, false), p("\rd", true, true)]
        );
        let mut f = lines(3, true);
        assert_eq!(
            run(&mut f, &[b"abc\r"], true),
            vec![p("abc", false, false), p("\r", false, true)]
        );
        let mut f = lines(3, true);
        run(&mut f, &[b"abc\r"], false);
        assert_eq!(f.pending(), 4);
        let mut arena = Vec::new();
        let mut pieces = Vec::new();
        f.flush(&mut arena, &mut |p| pieces.push(p));
        let got: Vec<&[u8]> = pieces.iter().map(|p| &arena[p.start..p.end]).collect();
        assert_eq!(got, [&b"abc"[..], b"\r"]);
    }

    #[test]
    fn flush_emits_partial_and_marks_continuation() {
        let mut f = lines(100, false);
        let mut arena = Vec::new();
        let start = f.begin(&mut arena);
        arena.extend_from_slice(b"Password: ");
        f.frame(&mut arena, start, false, &mut |_| {
            panic!("no complete line yet")
        });
        let mut pieces = Vec::new();
        f.flush(&mut arena, &mut |p| pieces.push(p));
        assert_eq!(pieces.len(), 1);
        assert_eq!(&arena[pieces[0].start..pieces[0].end], b"Password: ");
        assert!(!pieces[0].newline && !pieces[0].continued);
        let got = run(&mut f, &[b"ok\n"], false);
        assert_eq!(got, vec![p("ok", true, true)]);
    }

    #[test]
    fn chunk_mode_passes_reads_through() {
        let mut f = Framer::new(FramingOptions {
            max_line: None,
            strip_cr: true,
            cr_ends_line: true,
        });
        let got = run(&mut f, &[b"a\r\nb", b"c"], true);
        assert_eq!(got, vec![p("a\r\nb", false, false), p("c", false, false)]);
    }

    #[test]
    fn arbitrary_splits_give_the_same_lines() {
        let data: Vec<u8> = (0..2000u32)
            .flat_map(|i| format!("line {i} {}\n", "x".repeat((i % 37) as usize)).into_bytes())
            .collect();
        let whole = run(&mut lines(1 << 20, false), &[&data], true);
        for step in [1usize, 7, 64, 4096] {
            let chunks: Vec<&[u8]> = data.chunks(step).collect();
            assert_eq!(
                run(&mut lines(1 << 20, false), &chunks, true),
                whole,
                "step {step}"
            );
        }
        assert_eq!(whole.len(), 2000);
    }
}
