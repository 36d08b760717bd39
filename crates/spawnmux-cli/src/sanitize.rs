//! What a helper's output may put into the merged log: a terminal parser (`vte`, alacritty's)
//! per helper stream decides which escape sequences stay.
//!
//! The rule, for the text log ([`Sanitizer::text`]): SGR sequences (`ESC [ … m`: colours,
//! bold, underline) stay; every other escape sequence is removed (clear screen or line,
//! cursor movement and positioning, the alternate screen, titles and hyperlinks (OSC),
//! other CSI, ESC, DCS, SOS/PM/APC strings), and so is every control character but tab (BEL,
//! backspace, a lone CR, DEL, C1 controls written as UTF-8). For the JSON log
//! ([`Sanitizer::json`]) every escape sequence is removed, SGR included, and control characters
//! stay (JSON escapes them). Everything else passes unchanged, bytes that are not UTF-8
//! included.
//!
//! A sequence may be cut by a line end or a read: the parser's state is kept from one piece of
//! a stream to the next, so the second half of a cut sequence is removed too, and an SGR
//! sequence is only written once it is complete (rebuilt from its parsed parameters, so its
//! bytes may differ: `ESC[m` becomes `ESC[0m`).
//!
//! # Implementation notes
//! Text outside sequences is handled here, not by the parser, which reads UTF-8 and would
//! turn invalid bytes into U+FFFD: a piece without ESC or a control character (the usual case)
//! is returned as it is, without a copy. From an ESC on, bytes go to the parser one at a time,
//! until a callback says the sequence has ended. (The one end without a callback, a malformed
//! CSI, is noticed at the next printed character, which is then taken from the parser.) An OSC
//! string is buffered by the parser; one longer than [`OSC_MAX`] is restarted empty, so a
//! helper never makes it grow without bound.

use vte::{Params, Parser, Perform};

const ESC: u8 = 0x1b;

/// The longest OSC string kept in the parser's buffer (see the module's notes).
const OSC_MAX: usize = 16 * 1024;

/// One stream's filter; see the module documentation for the rule.
pub(crate) struct Sanitizer {
    parser: Parser,
    /// Outside any sequence: bytes are handled here, not by the parser.
    ground: bool,
    /// Text log: SGR stays, control characters go. JSON log: neither.
    text: bool,
    /// The byte after the last ESC (which kind of sequence this is), once seen.
    kind: Option<u8>,
    /// The last byte fed was ESC.
    after_esc: bool,
    /// Bytes fed since the last ESC.
    len: usize,
    out: Vec<u8>,
}

impl std::fmt::Debug for Sanitizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sanitizer")
            .field("ground", &self.ground)
            .field("text", &self.text)
            .finish_non_exhaustive()
    }
}

impl Sanitizer {
    /// For the text log: keeps SGR, removes other sequences and control characters but tab.
    pub(crate) fn text() -> Sanitizer {
        Sanitizer::new(true)
    }

    /// For the JSON log: removes every escape sequence, keeps control characters.
    pub(crate) fn json() -> Sanitizer {
        Sanitizer::new(false)
    }

    fn new(text: bool) -> Sanitizer {
        Sanitizer {
            parser: Parser::new(),
            ground: true,
            text,
            kind: None,
            after_esc: false,
            len: 0,
            out: Vec::new(),
        }
    }

    /// Forgets a sequence left open (a helper's new process starts on a clean slate).
    pub(crate) fn reset(&mut self) {
        *self = Sanitizer::new(self.text);
    }

    /// `bytes`, the next piece of the stream, filtered. Borrows `bytes` when nothing changes.
    pub(crate) fn clean<'a>(&'a mut self, bytes: &'a [u8]) -> &'a [u8] {
        if self.ground && !bytes.iter().any(|&b| self.special(b)) {
            return bytes;
        }
        self.out.clear();
        let mut i = 0;
        while i < bytes.len() {
            if !self.ground {
                self.feed(bytes[i]);
                i += 1;
                continue;
            }
            let run = bytes[i..].iter().position(|&b| self.special(b));
            let end = run.map_or(bytes.len(), |p| i + p);
            self.out.extend_from_slice(&bytes[i..end]);
            i = end;
            match bytes.get(i) {
                Some(&ESC) => {
                    self.ground = false;
                    self.feed(ESC);
                    i += 1;
                }
                // A C1 control written as UTF-8 (U+0080..U+009F).
                Some(0xc2) if matches!(bytes.get(i + 1), Some(0x80..=0x9f)) => i += 2,
                Some(0xc2) => {
                    self.out.push(0xc2);
                    i += 1;
                }
                Some(_) => i += 1,
                None => {}
            }
        }
        &self.out
    }

    /// Whether `b` ends a run of plain text (in the ground state).
    fn special(&self, b: u8) -> bool {
        b == ESC || (self.text && ((b < 0x20 && b != b'\t') || b == 0x7f || b == 0xc2))
    }

    /// One byte of a sequence, to the parser.
    fn feed(&mut self, byte: u8) {
        if self.after_esc {
            self.kind = Some(byte);
        }
        self.after_esc = byte == ESC;
        self.len = if byte == ESC { 0 } else { self.len + 1 };
        if self.kind == Some(b']') && self.len > OSC_MAX {
            // Still inside the same string, with the parser's buffer emptied.
            self.parser = Parser::new();
            self.parser.advance(&mut Ignore, b"\x1b]");
            self.len = 0;
        }
        let mut perf = Perf {
            out: &mut self.out,
            sgr: self.text,
            byte,
            ended: false,
        };
        self.parser.advance(&mut perf, &[byte]);
        if perf.ended {
            self.ground = true;
            self.kind = None;
        }
    }
}

/// Callbacks of the parser for one byte of a sequence.
struct Perf<'a> {
    out: &'a mut Vec<u8>,
    /// Write SGR sequences.
    sgr: bool,
    /// The byte being parsed.
    byte: u8,
    /// The parser is back in its ground state.
    ended: bool,
}

impl Perform for Perf<'_> {
    fn print(&mut self, c: char) {
        // Only the ground state prints: a malformed CSI ended without a dispatch.
        self.ended = true;
        if c != '\x7f' || !self.sgr {
            self.out
                .extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        }
    }

    fn execute(&mut self, byte: u8) {
        // CAN and SUB cancel a sequence; other controls inside one are dropped.
        self.ended |= byte == 0x18 || byte == 0x1a;
    }

    fn unhook(&mut self) {
        // A DCS string ended by ESC goes on as an escape (`ESC \`), which dispatches.
        self.ended |= self.byte != ESC;
    }

    fn osc_dispatch(&mut self, _params: &[&[u8]], _bell_terminated: bool) {
        self.ended |= self.byte != ESC;
    }

    fn csi_dispatch(&mut self, params: &Params, intermediates: &[u8], ignore: bool, c: char) {
        self.ended = true;
        if self.sgr && c == 'm' && intermediates.is_empty() && !ignore {
            write_sgr(self.out, params);
        }
    }

    fn esc_dispatch(&mut self, _intermediates: &[u8], _ignore: bool, _byte: u8) {
        self.ended = true;
    }
}

/// Callbacks that do nothing (restarting an OSC string).
struct Ignore;

impl Perform for Ignore {}

/// `ESC [ params m`, parameters separated by `;`, sub-parameters by `:`.
fn write_sgr(out: &mut Vec<u8>, params: &Params) {
    out.extend_from_slice(b"\x1b[");
    for (k, group) in params.iter().enumerate() {
        if k > 0 {
            out.push(b';');
        }
        for (j, value) in group.iter().enumerate() {
            if j > 0 {
                out.push(b':');
            }
            out.extend_from_slice(value.to_string().as_bytes());
        }
    }
    out.push(b'm');
}

#[cfg(test)]
mod tests;
