//! The merged log: one line per output line, whole lines written with a single `write_all`
//! under the stdout lock, so lines of different helpers never mix.
//!
//! Text: `HH:MM:SS name | line` for stdout (level info), `HH:MM:SS name ! line` for stderr
//! (level warning), names padded to the longest. A line delivered in pieces (a prompt shown
//! after an idle time, a line longer than 1 MiB) is printed one log line per piece, pieces
//! after the first with `|+` / `!+`. spawnmux's own messages use the name `spawnmux`. Bytes
//! that are not UTF-8 pass through unchanged.
//!
//! JSON (`--format json`): one object per line, e.g.
//! `{"ts":"2026-11-24T18:00:00.123Z","helper":"web","stream":"stdout","level":"info","line":"…"}`;
//! pieces carry `"partial":true` (no newline yet) / `"continued":true`; a line that is not
//! UTF-8 has each invalid byte as `\xHH`, each backslash doubled, and `"escaped":true`. ANSI
//! escape sequences (colours, cursor moves, titles) are removed from `line` unless
//! `--keep-ansi`; the text log passes every byte through to the terminal.
//! Lifecycle records: `{"ts":…,"helper":"web","event":"start","pid":123,"message":"…"}` with
//! events start, ready, exit (`code` or `signal`), restart (`attempt`, `delay_ms`), give_up,
//! stop, error.

use std::io::{self, Write};

use serde_json::{Map, Value};
use spawnmux::Stream;

use crate::cli::Format;

const PALETTE: [&str; 6] = ["36", "33", "32", "35", "34", "91"];

/// Where the merged log goes and how it looks.
pub(crate) struct Log {
    format: Format,
    color: bool,
    timestamps: bool,
    keep_ansi: bool,
    width: usize,
    names: Vec<String>,
    buf: Vec<u8>,
    out: io::Stdout,
}

/// Whether to colour: `--color`, then `NO_COLOR` / `FORCE_COLOR`, then "is stdout a terminal".
pub(crate) fn use_color(choice: crate::cli::ColorChoice) -> bool {
    use std::io::IsTerminal;
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    match choice {
        crate::cli::ColorChoice::Always => true,
        crate::cli::ColorChoice::Never => false,
        crate::cli::ColorChoice::Auto if set("NO_COLOR") => false,
        crate::cli::ColorChoice::Auto if set("FORCE_COLOR") => true,
        crate::cli::ColorChoice::Auto => io::stdout().is_terminal(),
    }
}

impl Log {
    pub(crate) fn new(
        format: Format,
        color: bool,
        timestamps: bool,
        keep_ansi: bool,
        names: &[String],
    ) -> Log {
        let width = names.iter().map(String::len).chain([8]).max().unwrap_or(8);
        Log {
            format,
            color,
            timestamps,
            keep_ansi,
            width,
            names: names.to_vec(),
            buf: Vec::new(),
            out: io::stdout(),
        }
    }

    /// One piece of a helper's output.
    pub(crate) fn output(&mut self, helper: &str, out: &spawnmux::Output<'_>) -> io::Result<()> {
        self.buf.clear();
        match self.format {
            Format::Text => {
                let sep = match (out.stream, out.continued) {
                    (Stream::Stdout, false) => "|",
                    (Stream::Stdout, true) => "|+",
                    (Stream::Stderr, false) => "!",
                    (Stream::Stderr, true) => "!+",
                };
                self.prefix(helper, sep, out.stream == Stream::Stderr);
                self.buf.extend_from_slice(out.bytes);
                self.buf.push(b'\n');
            }
            Format::Json => {
                let mut rec = self.record(helper);
                rec.insert("stream".into(), out.stream.as_str().into());
                rec.insert(
                    "level".into(),
                    if out.stream == Stream::Stdout {
                        "info"
                    } else {
                        "warning"
                    }
                    .into(),
                );
                let stripped;
                let bytes = if self.keep_ansi {
                    out.bytes
                } else {
                    stripped = strip_ansi(out.bytes);
                    &stripped
                };
                let (line, escaped) = json_text(bytes);
                rec.insert("line".into(), line.into());
                if escaped {
                    rec.insert("escaped".into(), true.into());
                }
                if !out.newline {
                    rec.insert("partial".into(), true.into());
                }
                if out.continued {
                    rec.insert("continued".into(), true.into());
                }
                self.push_json(rec);
            }
        }
        self.write()
    }

    /// A lifecycle record of `helper` (`event` with extra `fields`), shown in text mode as a
    /// `spawnmux` line saying `message`.
    pub(crate) fn event(
        &mut self,
        helper: &str,
        event: &str,
        fields: Value,
        message: &str,
        warn: bool,
    ) -> io::Result<()> {
        self.buf.clear();
        match self.format {
            Format::Text => {
                self.prefix("spawnmux", if warn { "!" } else { "|" }, warn);
                self.buf.extend_from_slice(message.as_bytes());
                self.buf.push(b'\n');
            }
            Format::Json => {
                let mut rec = self.record(helper);
                rec.insert("event".into(), event.into());
                rec.insert("level".into(), if warn { "warning" } else { "info" }.into());
                if let Value::Object(extra) = fields {
                    rec.extend(extra);
                }
                rec.insert("message".into(), message.into());
                self.push_json(rec);
            }
        }
        self.write()
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn record(&self, helper: &str) -> Map<String, Value> {
        let ts = chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let mut rec = Map::new();
        rec.insert("ts".into(), ts.into());
        rec.insert("helper".into(), helper.into());
        rec
    }

    fn push_json(&mut self, rec: Map<String, Value>) {
        // Serialising a map of strings, numbers and booleans cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, &Value::Object(rec));
        self.buf.push(b'\n');
    }

    fn prefix(&mut self, name: &str, sep: &str, warn: bool) {
        if self.timestamps {
            let ts = chrono::Local::now().format("%H:%M:%S ").to_string();
            self.buf.extend_from_slice(ts.as_bytes());
        }
        let pad = self.width.saturating_sub(name.len());
        if self.color {
            let code = match self.names.iter().position(|n| n == name) {
                Some(i) => PALETTE[i % PALETTE.len()],
                None => "1",
            };
            let sep_code = if warn { "1;31" } else { "2" };
            let _ = write!(
                self.buf,
                "\x1b[{code}m{name}\x1b[0m{:pad$} \x1b[{sep_code}m{sep}\x1b[0m ",
                ""
            );
        } else {
            let _ = write!(self.buf, "{name}{:pad$} {sep} ", "");
        }
    }

    fn write(&mut self) -> io::Result<()> {
        let mut out = self.out.lock();
        out.write_all(&self.buf)
    }
}

/// A JSON string for `bytes`: as is if UTF-8, else invalid bytes as `\xHH` and backslashes
/// doubled (lossless), flagged.
pub(crate) fn json_text(bytes: &[u8]) -> (String, bool) {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return (s.to_string(), false);
    }
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(&chunk.valid().replace('\\', "\\\\"));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    (out, true)
}

/// `bytes` without ANSI escape sequences: CSI (`ESC [` … final byte, e.g. colours), OSC
/// (`ESC ]` … BEL or `ESC \`, e.g. window titles, hyperlinks), DCS/SOS/PM/APC strings (… `ESC \`)
/// and two-byte escapes; an unterminated sequence runs to the end of the line. Every other byte
/// stays, invalid UTF-8 included (the crates that do this decode UTF-8 first and would replace
/// those bytes, and the JSON log keeps them as `\xHH`).
pub(crate) fn strip_ansi(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const ESC: u8 = 0x1b;
    if !bytes.contains(&ESC) {
        return bytes.into();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != ESC {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let rest = &bytes[i + 1..];
        let len = match rest.first() {
            // CSI: parameters and intermediates, then one final byte.
            Some(b'[') => rest[1..]
                .iter()
                .position(|b| (0x40..=0x7e).contains(b))
                .map_or(rest.len(), |p| p + 2),
            // Strings ended by BEL (OSC only) or ST (`ESC \`).
            Some(b']' | b'P' | b'X' | b'^' | b'_') => {
                let osc = rest[0] == b']';
                let mut end = rest.len();
                for j in 1..rest.len() {
                    if osc && rest[j] == 0x07 {
                        end = j + 1;
                        break;
                    }
                    if rest[j] == ESC && rest.get(j + 1) == Some(&b'\\') {
                        end = j + 2;
                        break;
                    }
                }
                end
            }
            // nF: intermediates (0x20..=0x2f), then a final byte; else one byte (Fp/Fe/Fs).
            Some(_) => rest
                .iter()
                .position(|b| !(0x20..=0x2f).contains(b))
                .map_or(rest.len(), |p| p + 1),
            None => 0,
        };
        i += 1 + len;
    }
    out.into()
}

/// `{"pid": n}` and friends.
pub(crate) fn fields(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_ansi_removes_sequences_and_keeps_other_bytes() {
        let cases: [(&[u8], &[u8]); 8] = [
            (b"plain", b"plain"),
            (b"\x1b[1;31merror\x1b[0m: x", b"error: x"),
            (b"\x1b]0;title\x07after", b"after"),
            (b"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", b"link"),
            (b"a\x1b(Bb\x1b=c\x1bPdcs\x1b\\d", b"abcd"),
            (b"\xff\x1b[2K\xfe\0", b"\xff\xfe\0"),
            (b"cut \x1b[12", b"cut "),
            (b"esc at end \x1b", b"esc at end "),
        ];
        for (input, want) in cases {
            assert_eq!(
                &*strip_ansi(input),
                want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn json_text_is_lossless_and_flagged() {
        assert_eq!(
            json_text(b"plain \\ text"),
            ("plain \\ text".to_string(), false)
        );
        assert_eq!(
            json_text(b"a\\b\xff\xfe"),
            ("a\\\\b\\xFF\\xFE".to_string(), true)
        );
    }
}
