//! Entry points for the fuzz targets in `fuzz/` (feature `__fuzz`; not a public API).
//!
//! Each `check_*` function runs private, pure code on one input and panics if an invariant
//! that code promises does not hold. The fuzz targets only turn bytes into inputs; the unit
//! tests below run the same checks on hand-picked inputs without libFuzzer.

use std::io;

use crate::cmdline;
use crate::framing::{Framer, FramingOptions, Piece};

/// One thing that happens to a captured stream, as the `Mux` drives its framer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FramerOp<'a> {
    /// A read returned these bytes (empty: the read would block).
    Read(&'a [u8]),
    /// The partial-line idle time passed (`Command::flush_partial_after`).
    Flush,
    /// `Mux::wait` starts a new batch: the `Events` arena is cleared.
    NewBatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Framed {
    bytes: Vec<u8>,
    newline: bool,
    continued: bool,
    /// Emitted by a flush.
    flushed: bool,
}

/// Feeds `ops` (then EOF if `eof`) to a framer with these options, the way `Mux` does (one
/// shared arena, `begin` / append / `frame`), and checks that what comes out is the input:
/// every byte once and in order (a `\r` before `\n` removed if `strip_cr`), no piece over the
/// maximum, cut only at newlines, at the maximum or by a flush, flags consistent, earlier
/// pieces never overwritten, the carry bounded; and, when nothing was flushed, exactly the
/// documented pieces whatever the chunking.
pub fn check_framer(max_line: Option<usize>, strip_cr: bool, ops: &[FramerOp<'_>], eof: bool) {
    let input = concat_reads(ops);
    let opts = FramingOptions {
        max_line,
        strip_cr,
        cr_ends_line: false,
    };
    let (pieces, pending) = frame(opts, ops, eof);
    let Some(max) = max_line else {
        check_raw_chunks(ops, &pieces, pending);
        return;
    };
    let max = max.max(1);
    let off = check_pieces_are_the_input(&input, &pieces, max, strip_cr, eof);
    if eof {
        assert_eq!(off, input.len(), "bytes lost at EOF");
        assert_eq!(pending, 0);
    } else {
        assert_eq!(
            off + pending,
            input.len(),
            "bytes neither delivered nor carried"
        );
        assert!(
            !input[off..].contains(&b'\n'),
            "a complete line was held back"
        );
    }
    if !pieces.iter().any(|p| p.flushed) {
        check_chunking_does_not_matter(&input, &pieces, pending, max, strip_cr, eof);
    }
}

/// Raw chunks (no maximum line length): one piece per non-empty read, untouched.
fn check_raw_chunks(ops: &[FramerOp<'_>], pieces: &[Framed], pending: usize) {
    let reads: Vec<&[u8]> = ops
        .iter()
        .filter_map(|op| match op {
            FramerOp::Read(b) if !b.is_empty() => Some(*b),
            _ => None,
        })
        .collect();
    let got: Vec<&[u8]> = pieces.iter().map(|p| p.bytes.as_slice()).collect();
    assert_eq!(got, reads, "raw chunks must be the reads");
    assert!(pieces.iter().all(|p| !p.newline && !p.continued));
    assert_eq!(pending, 0);
}

/// Each piece is the next bytes of `input`, at most `max` long, cut at a newline (which
/// follows it in `input`), at the maximum, by a flush or at EOF, with consistent flags.
/// Returns how much of `input` the pieces account for.
fn check_pieces_are_the_input(
    input: &[u8],
    pieces: &[Framed],
    max: usize,
    strip_cr: bool,
    eof: bool,
) -> usize {
    let mut off = 0;
    for (i, p) in pieces.iter().enumerate() {
        assert!(p.bytes.len() <= max, "piece {i} longer than {max}: {p:?}");
        let prev = i.checked_sub(1).map(|j| &pieces[j]);
        assert_eq!(
            p.continued,
            prev.is_some_and(|q| !q.newline),
            "piece {i}: `continued` must say whether the line began earlier"
        );
        assert_eq!(
            input.get(off..off + p.bytes.len()),
            Some(p.bytes.as_slice()),
            "piece {i} is not the next input bytes"
        );
        off += p.bytes.len();
        if p.newline {
            if strip_cr && input.get(off..off + 2) == Some(b"\r\n") {
                off += 2;
            } else {
                assert_eq!(input.get(off), Some(&b'\n'), "piece {i}: no newline here");
                off += 1;
                assert!(
                    !(strip_cr && p.bytes.last() == Some(&b'\r')),
                    "piece {i}: `\\r` before `\\n` kept"
                );
            }
        } else {
            // Cut where the line did not end: only at the maximum, by a flush, or at EOF.
            let last = i + 1 == pieces.len();
            assert!(
                p.bytes.len() == max || p.flushed || (eof && last),
                "piece {i} cut short of {max} bytes without a flush: {p:?}"
            );
        }
        assert!(!p.bytes.contains(&b'\n'), "piece {i} contains a newline");
    }
    off
}

/// Without flushes the pieces depend only on the bytes, not on how reads cut them: they are
/// the documented pieces of `input` (before EOF, those of its complete part, the rest held).
fn check_chunking_does_not_matter(
    input: &[u8],
    pieces: &[Framed],
    pending: usize,
    max: usize,
    strip_cr: bool,
    eof: bool,
) {
    let want = documented_pieces(input, max, strip_cr);
    if eof {
        assert_eq!(pieces, want, "pieces depend on the chunking");
        return;
    }
    let (done, rest) = want.split_at(pieces.len().min(want.len()));
    assert_eq!(pieces, done, "pieces depend on the chunking");
    assert!(rest.iter().all(|p| !p.newline));
    assert_eq!(rest.iter().map(|p| p.bytes.len()).sum::<usize>(), pending);
    // Held back: at most `max` bytes, or `max` and a `\r` a newline may remove.
    let held = rest.len() <= 1 || (strip_cr && rest.len() == 2 && rest[1].bytes == b"\r");
    assert!(held, "a full piece was held back: {rest:?}");
}

/// Every byte the reads in `ops` returned, in order.
fn concat_reads(ops: &[FramerOp<'_>]) -> Vec<u8> {
    ops.iter()
        .flat_map(|op| match op {
            FramerOp::Read(b) => *b,
            _ => &[],
        })
        .copied()
        .collect()
}

/// Runs the framer as `Mux::read_stream` and `Mux::flush_due` do; returns the pieces and the
/// carried byte count.
fn frame(opts: FramingOptions, ops: &[FramerOp<'_>], eof: bool) -> (Vec<Framed>, usize) {
    let mut framer = Framer::new(opts);
    let mut arena = Vec::new();
    let mut out: Vec<Framed> = Vec::new();
    // Pieces of the current batch (and their index in `out`): they must stay intact in the
    // arena until it is cleared.
    let mut batch: Vec<(Piece, usize)> = Vec::new();
    let steps = ops.iter().copied().map(Some).chain(eof.then_some(None));
    for op in steps {
        let mut new = Vec::new();
        match op {
            Some(FramerOp::Read(bytes)) => {
                let start = framer.begin(&mut arena);
                arena.extend_from_slice(bytes);
                framer.frame(&mut arena, start, false, &mut |p| new.push(p));
            }
            Some(FramerOp::Flush) => framer.flush(&mut arena, &mut |p| new.push(p)),
            Some(FramerOp::NewBatch) => {
                arena.clear();
                batch.clear();
            }
            None => {
                let start = framer.begin(&mut arena);
                framer.frame(&mut arena, start, true, &mut |p| new.push(p));
            }
        }
        for p in new {
            assert!(
                p.start <= p.end && p.end <= arena.len(),
                "piece out of the arena"
            );
            batch.push((p, out.len()));
            out.push(Framed {
                bytes: arena[p.start..p.end].to_vec(),
                newline: p.newline,
                continued: p.continued,
                flushed: op == Some(FramerOp::Flush),
            });
        }
        for &(p, i) in &batch {
            assert_eq!(
                arena.get(p.start..p.end),
                Some(out[i].bytes.as_slice()),
                "an earlier piece was overwritten in the arena"
            );
        }
        if let Some(max) = opts.max_line {
            let cr_held = opts.strip_cr || opts.cr_ends_line;
            assert!(
                framer.pending() <= max.max(1).saturating_add(usize::from(cr_held)),
                "carry of {} bytes exceeds the maximum",
                framer.pending()
            );
        }
    }
    (out, framer.pending())
}

/// [`check_framer`] for `Command::cr_ends_line` (`\n`, `\r\n` and a lone `\r` end a line):
/// at EOF, the pieces hold every byte of the input but the line ends, in order; no piece is
/// over the maximum; and, when nothing was flushed, the pieces are the same whatever the
/// chunking (as if the input came in one read), and none contains a `\r` or `\n`.
pub fn check_framer_cr(max_line: usize, ops: &[FramerOp<'_>]) {
    let opts = FramingOptions {
        max_line: Some(max_line),
        strip_cr: false,
        cr_ends_line: true,
    };
    let input = concat_reads(ops);
    let (pieces, pending) = frame(opts, ops, true);
    assert_eq!(pending, 0, "EOF leaves nothing carried");
    let max = max_line.max(1);
    assert!(
        pieces.iter().all(|p| p.bytes.len() <= max),
        "a piece over the maximum"
    );
    let flushed = ops.contains(&FramerOp::Flush);
    if flushed {
        return;
    }
    let content: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| *b != b'\r' && *b != b'\n')
        .collect();
    let got: Vec<u8> = pieces.iter().flat_map(|p| p.bytes.clone()).collect();
    assert_eq!(got, content, "every byte but the line ends, once, in order");
    assert_eq!(
        pieces,
        documented_cr_pieces(&input, max),
        "the pieces differ from the documented rule"
    );
    let (whole, _) = frame(opts, &[FramerOp::Read(&input)], true);
    assert_eq!(pieces, whole, "the pieces depend on how the input was read");
}

/// The pieces `Command::cr_ends_line` documents for `input` read at once and then EOF,
/// written from the rule, not from the framer: every `\n` and every `\r\n` ends exactly one
/// line, empty or not; a lone `\r` ends a line too, except that an empty piece ended by a
/// lone `\r` (a progress bar's leading carriage return) is dropped; a `\r` at EOF is a lone
/// `\r`. Lines come in pieces of at most `max` bytes, the last flagged `newline`; an
/// unterminated last line is not flagged.
fn documented_cr_pieces(input: &[u8], max: usize) -> Vec<Framed> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < input.len() {
        let (end, next, keep_empty) = match (input[i], input.get(i + 1)) {
            (b'\n', _) => (i, i + 1, true),
            (b'\r', Some(b'\n')) => (i, i + 2, true),
            (b'\r', _) => (i, i + 1, false),
            _ => {
                i += 1;
                continue;
            }
        };
        if end > start || keep_empty {
            push_line_pieces(&input[start..end], max, true, &mut out);
        }
        start = next;
        i = next;
    }
    if start < input.len() {
        push_line_pieces(&input[start..], max, false, &mut out);
    }
    out
}

/// One line as pieces of at most `max` bytes (an empty line is one empty piece); the last
/// one flagged `newline` if the line was terminated.
fn push_line_pieces(line: &[u8], max: usize, newline: bool, out: &mut Vec<Framed>) {
    let parts: Vec<&[u8]> = if line.is_empty() {
        vec![line]
    } else {
        line.chunks(max).collect()
    };
    let n = parts.len();
    for (i, part) in parts.into_iter().enumerate() {
        out.push(Framed {
            bytes: part.to_vec(),
            newline: newline && i + 1 == n,
            continued: i > 0,
            flushed: false,
        });
    }
}

/// The pieces [`Output`](crate::Output) documents for `input` read at once and then EOF:
/// each line (its `\r` before `\n` removed if `strip_cr`) in pieces of `max` bytes, the
/// last one flagged `newline` (an unterminated last line: not flagged).
fn documented_pieces(input: &[u8], max: usize, strip_cr: bool) -> Vec<Framed> {
    let mut out = Vec::new();
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let tail = lines.pop().unwrap_or_default();
    for line in lines {
        let line = match line.strip_suffix(b"\r") {
            Some(l) if strip_cr => l,
            _ => line,
        };
        push_line_pieces(line, max, true, &mut out);
    }
    if !tail.is_empty() {
        push_line_pieces(tail, max, false, &mut out);
    }
    out
}

const SPACE: u16 = b' ' as u16;
const QUOTE: u16 = b'"' as u16;
const BACKSLASH: u16 = b'\\' as u16;
const PERCENT: u16 = b'%' as u16;

/// Builds an ordinary program's command line and checks that it is refused exactly when
/// something cannot be passed (NUL anywhere, `"` in the program), and otherwise that the
/// Microsoft C runtime's rules split it back into `program` and `args`, unchanged.
pub fn check_command_line(program: &[u16], args: &[Vec<u16>]) {
    let refuse =
        program.contains(&QUOTE) || program.contains(&0) || args.iter().any(|a| a.contains(&0));
    match cmdline::command_line(program, args) {
        Err(e) => {
            assert!(refuse, "refused for no reason: {e}");
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        }
        Ok(line) => {
            assert!(!refuse, "accepted an argument it cannot pass");
            let parsed = cmdline::parse_command_line(&line);
            assert_eq!(parsed[0], program, "argv[0] changed");
            assert_eq!(&parsed[1..], args, "arguments changed");
        }
    }
}

/// Builds the `cmd.exe /c` line for batch file `script` and checks that it is refused exactly
/// when something cannot be passed (`\r`, `\n` or NUL in an argument; `"`, NUL or a trailing
/// `\` in the script path), and otherwise that cmd.exe cannot be made to do anything but run
/// the script with these arguments:
/// 1. percent expansion (a model of cmd's command-line mode) meets no variable name except
///    the `%cd:~,%` neutraliser, so no environment can change the line;
/// 2. after it, every character outside quotes is plain (no `& | < > ( ) ^ !`, no argument
///    delimiter `, ; =` or tab, no control character), and no quote is left open;
/// 3. cmd splits the line into the script and one token per argument; and
/// 4. a program the script hands `%*` to, splitting with the C runtime's rules, gets `script`
///    and `args` back unchanged.
pub fn check_batch_command_line(script: &[u16], args: &[Vec<u16>]) {
    let bad_script =
        script.contains(&QUOTE) || script.contains(&0) || script.last() == Some(&BACKSLASH);
    let bad_arg = args.iter().any(|a| {
        a.iter()
            .any(|&c| c == 0 || c == u16::from(b'\r') || c == u16::from(b'\n'))
    });
    let line = match cmdline::batch_command_line(script, args) {
        Err(e) => {
            assert!(bad_script || bad_arg, "refused for no reason: {e}");
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            return;
        }
        Ok(line) => {
            assert!(
                !bad_script && !bad_arg,
                "accepted what cannot be passed safely"
            );
            line
        }
    };
    let prefix: Vec<u16> = "cmd.exe /e:ON /v:OFF /d /c \"".encode_utf16().collect();
    assert!(line.starts_with(&prefix) && line.last() == Some(&QUOTE));
    // cmd /c removes the first and the last quote of what follows when there are more than two.
    let body = &line[prefix.len()..line.len() - 1];
    let expanded = match cmd_percent_expansion(body) {
        Ok(e) => e,
        Err(name) => panic!(
            "cmd.exe would expand %{}% in {}",
            String::from_utf16_lossy(&name),
            String::from_utf16_lossy(&line)
        ),
    };
    let tokens = cmd_tokens(&expanded);
    assert_eq!(tokens, args.len() + 1, "cmd.exe sees other arguments");
    let parsed = cmdline::parse_command_line(&expanded);
    assert_eq!(parsed[0], script, "script path changed");
    assert_eq!(&parsed[1..], args, "arguments changed");
}

/// cmd.exe's percent expansion of a `/c` command line (command-line mode, per the usual
/// model of cmd's parser): at `%`, the text up to the next `%` is a variable name; a defined
/// one is replaced along with both `%`, an undefined one (or an empty name) leaves the first
/// `%` and scanning resumes at the second. `%cd:~,%` (an empty substring of the always-defined
/// `cd`) becomes nothing; any other name is an `Err`, as some environment could define it.
fn cmd_percent_expansion(line: &[u16]) -> Result<Vec<u16>, Vec<u16>> {
    let neutraliser: Vec<u16> = "cd:~,".encode_utf16().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i] != PERCENT {
            out.push(line[i]);
            i += 1;
            continue;
        }
        let Some(n) = line[i + 1..].iter().position(|&c| c == PERCENT) else {
            out.extend_from_slice(&line[i..]);
            break;
        };
        let name = &line[i + 1..i + 1 + n];
        if name.is_empty() {
            out.push(PERCENT);
            i += 1;
        } else if name == neutraliser {
            i += n + 2;
        } else {
            return Err(name.to_vec());
        }
    }
    Ok(out)
}

/// Checks cmd.exe's view of an expanded command line (quotes toggle; `^` and the operators
/// act only outside them) and returns how many tokens its argument splitting sees.
fn cmd_tokens(line: &[u16]) -> usize {
    let mut quoted = false;
    let mut tokens = 0;
    let mut in_token = false;
    for &c in line {
        if c == QUOTE {
            quoted = !quoted;
        } else if !quoted {
            let plain = match char::from_u32(u32::from(c)) {
                Some(ch) if ch.is_ascii() => !ch.is_ascii_control() && !"&|<>()^!,;=".contains(ch),
                _ => true, // non-ASCII (or half a surrogate pair): not special to cmd
            };
            assert!(
                plain,
                "cmd.exe sees {c:#x} outside quotes in {}",
                String::from_utf16_lossy(line)
            );
            if c == SPACE {
                in_token = false;
                continue;
            }
        }
        if !in_token {
            tokens += 1;
            in_token = true;
        }
    }
    assert!(
        !quoted,
        "a quote is left open: {}",
        String::from_utf16_lossy(line)
    );
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framer_invariants_hold_on_hand_inputs() {
        use FramerOp::{Flush, NewBatch, Read};
        let cases: &[&[FramerOp<'_>]] = &[
            &[Read(b"ab\ncd"), Read(b"ef\n\ngh")],
            &[
                Read(b"abcdefghij\nxy"),
                NewBatch,
                Read(b"z0123"),
                Read(b""),
                Read(b"45\n"),
            ],
            &[Read(b"Password: "), Flush, Read(b"ok\n")],
            &[Read(b"a\r\nb\rc\r"), Read(b"\n\r")],
            &[Read(b"abc\r"), Flush, Read(b"\n")],
            &[Read(b"\n\n\n"), Read(b"")],
        ];
        for ops in cases {
            for max in [
                None,
                Some(0),
                Some(1),
                Some(3),
                Some(4),
                Some(100),
                Some(usize::MAX),
            ] {
                for strip_cr in [false, true] {
                    for eof in [false, true] {
                        check_framer(max, strip_cr, ops, eof);
                    }
                }
                check_framer_cr(max.unwrap_or(usize::MAX), ops);
            }
        }
        // Progress bars: `\r` at read ends, `\r\n` split across reads, a line of exactly the
        // maximum ended by a held `\r`.
        let cr_cases: &[&[FramerOp<'_>]] = &[
            &[
                Read(b"\r 10%\r 20%"),
                Read(b"\r"),
                Read(b"\n"),
                Read(b"\r\r"),
            ],
            &[Read(b"abc\r"), Read(b"d\r"), Read(b"\nef")],
            &[Read(b"abcd\r"), NewBatch, Read(b"\r\n\n")],
            // Empty lines: every `\n` and `\r\n` ends one, split anywhere.
            &[Read(b"a\n\nb\n")],
            &[
                Read(b"a\n"),
                Read(b"\n"),
                Read(b"b\r"),
                Read(b"\n\r"),
                Read(b"\n\n"),
            ],
            &[Read(b"\r\n\r\n\n\n\r\r\n")],
            &[Read(b"\r"), Read(b"\r"), Read(b"\n"), Read(b"x\r\r\n")],
        ];
        for ops in cr_cases {
            for max in [1, 2, 3, 4, 100] {
                check_framer_cr(max, ops);
            }
        }
    }

    fn u(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn command_line_invariants_hold_on_hand_inputs() {
        let args: Vec<Vec<u16>> = [
            "",
            "a b",
            r#"\""#,
            r"x\\",
            "\t",
            r#"a\\\"b"#,
            "%PATH%",
            "^&|<>",
            "ünï",
        ]
        .iter()
        .map(|a| u(a))
        .collect();
        check_command_line(&u(r"C:\Program Files\x.exe"), &args);
        check_command_line(&u(""), &args);
        check_command_line(&u("a\"b"), &args);
        check_command_line(&u("x"), &[u("a\0b")]);
        check_command_line(&[0xd800, SPACE], &[vec![0xdfff, QUOTE, BACKSLASH]]);
    }

    #[test]
    fn batch_invariants_hold_on_hand_inputs() {
        let args: Vec<Vec<u16>> = [
            "vite",
            "a&calc",
            "%PATH%",
            "%%",
            r#"say "hi""#,
            "",
            r"dir\",
            r#"\""#,
            "a,b;c=d",
            "^",
            "!x!",
            "%cd:~,%",
            "%",
            "\t",
            "ü %x",
        ]
        .iter()
        .map(|a| u(a))
        .collect();
        check_batch_command_line(&u(r"C:\npm\npx.cmd"), &args);
        for bad in ["a\nb", "a\rb", "a\0b"] {
            check_batch_command_line(&u("x.bat"), &[u(bad)]);
        }
        check_batch_command_line(&u("x\".bat"), &[]);
        check_batch_command_line(&u(r"C:\dir\"), &[]);
    }

    #[test]
    fn percent_model_flags_expansions() {
        assert_eq!(cmd_percent_expansion(&u("a%%cd:~,%b")), Ok(u("a%b")));
        assert_eq!(cmd_percent_expansion(&u("50% off")), Ok(u("50% off")));
        assert_eq!(cmd_percent_expansion(&u("%PATH%")), Err(u("PATH")));
        // `%a %b% c%` with only `b` defined is `%a a c%`: an undefined name leaves its first
        // `%` and the second one starts the next name, which the model must follow.
        assert_eq!(cmd_percent_expansion(&u("%%x%")), Err(u("x")));
    }
}
