//! The merged log: one line per output line, appended whole to the log's own buffer, which is
//! written to stdout with one `write_all` when it reaches 64 KiB and at the end of every loop
//! iteration ([`Log::flush`]). The runner is stdout's only writer, so lines of different
//! helpers never mix, and no line waits longer than one loop iteration.
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
//! `--keep-ansi` or `--raw`. The text log keeps colours (SGR) and removes the other sequences
//! and control characters but tab, which would wreck a merged log (clear screen, cursor moves,
//! the alternate screen, titles), unless `--raw` (the rule: [`crate::sanitize`]). Each helper
//! stream has its own parser, so a sequence cut by a line end does not leak.
//! Lifecycle records: `{"ts":…,"helper":"web","event":"start","level":"info","pid":123,"message":"…"}`
//! (every record, its event name and fields: [`Record`]).
//!
//! # Implementation notes
//! Per output line the log does no allocation and no lookup: each helper's prefixes (name,
//! padding, colour codes for `|`, `|+`, `!`, `!+`; the JSON `"helper"` value) are built once,
//! the timestamp text once per second ([`Clock`]; JSON formats only the milliseconds), and
//! JSON records are written straight into the buffer, each string escaped by serde_json's
//! serializer. The buffer goes through `Stdout` with one `write_all` that always ends in a
//! newline, so std's line buffering passes it on as one `write` without splitting it.

use std::borrow::Cow;
use std::io::{self, Write};

use chrono::{DateTime, Local, Utc};
use spawnmux::Stream;

use crate::cli::Format;
use crate::record::Record;
use crate::sanitize::Sanitizer;

const PALETTE: [&str; 6] = ["36", "33", "32", "35", "34", "91"];

/// The buffer is written out once it holds this much (and at every [`Log::flush`]).
pub(crate) const FLUSH_AT: usize = 64 * 1024;

/// Where the merged log goes and how it looks. `W` is stdout except in tests.
pub(crate) struct Log<W: Write = io::Stdout> {
    format: Format,
    color: bool,
    timestamps: bool,
    width: usize,
    names: Vec<String>,
    /// Per helper (index in `names`): its prefixes.
    prefixes: Vec<Prefix>,
    /// Per helper: a filter for its stdout and one for its stderr; none with `--raw` (and in
    /// JSON with `--keep-ansi`).
    filters: Option<Vec<[Sanitizer; 2]>>,
    /// spawnmux's own lines.
    own: Prefix,
    clock: Clock,
    buf: Vec<u8>,
    out: W,
    /// The first error writing `out` (a closed pipe, a full disk): from then on records are
    /// dropped, and the runner stops the helpers ([`Log::failure`]).
    failed: Option<io::Error>,
}

/// What the log needs of a [`spawnmux::Output`] (which only the library can build).
#[derive(Debug, Clone, Copy)]
struct Piece<'a> {
    name: &'a str,
    stream: Stream,
    bytes: &'a [u8],
    newline: bool,
    continued: bool,
}

/// One name's precomputed prefixes.
#[derive(Debug, Clone, PartialEq)]
struct Prefix {
    /// Text: name, padding and separator (coloured if on), indexed by [`sep`]; no timestamp.
    text: [Box<[u8]>; 4],
    /// JSON: the name as a JSON string, quotes included.
    json: Box<[u8]>,
}

const SEPS: [&str; 4] = ["|", "|+", "!", "!+"];

/// Index into [`Prefix::text`]: `|`, `|+`, `!`, `!+`.
fn sep(warn: bool, continued: bool) -> usize {
    usize::from(warn) * 2 + usize::from(continued)
}

impl Prefix {
    fn new(name: &str, names: &[String], width: usize, color: bool) -> Prefix {
        let pad = width.saturating_sub(name.len());
        let code = match names.iter().position(|n| n == name) {
            Some(i) => PALETTE[i % PALETTE.len()],
            None => "1",
        };
        let text = std::array::from_fn(|k| {
            let sep = SEPS[k];
            let warn = k >= 2;
            let mut t = Vec::new();
            if color {
                let sep_code = if warn { "1;31" } else { "2" };
                let _ = write!(
                    t,
                    "\x1b[{code}m{name}\x1b[0m{:pad$} \x1b[{sep_code}m{sep}\x1b[0m ",
                    ""
                );
            } else {
                let _ = write!(t, "{name}{:pad$} {sep} ", "");
            }
            t.into_boxed_slice()
        });
        let mut json = Vec::new();
        json_str(&mut json, name);
        Prefix {
            text,
            json: json.into_boxed_slice(),
        }
    }
}

/// The timestamp texts, formatted once per second.
#[derive(Debug)]
struct Clock {
    text_sec: i64,
    /// `HH:MM:SS ` local time.
    text: String,
    json_sec: i64,
    /// `YYYY-MM-DDTHH:MM:SS.` UTC.
    json: String,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            text_sec: i64::MIN,
            text: String::new(),
            json_sec: i64::MIN,
            json: String::new(),
        }
    }

    /// `HH:MM:SS ` (local time) of `now`.
    fn text(&mut self, now: DateTime<Utc>) -> &str {
        if now.timestamp() != self.text_sec {
            self.text_sec = now.timestamp();
            self.text = now.with_timezone(&Local).format("%H:%M:%S ").to_string();
        }
        &self.text
    }

    /// Appends `now` as `%Y-%m-%dT%H:%M:%S%.3fZ` (UTC) to `out`.
    fn json(&mut self, now: DateTime<Utc>, out: &mut Vec<u8>) {
        if now.timestamp() != self.json_sec {
            self.json_sec = now.timestamp();
            self.json = now.format("%Y-%m-%dT%H:%M:%S.").to_string();
        }
        out.extend_from_slice(self.json.as_bytes());
        // `%.3f` truncates; a leap second (nanos ≥ 1e9) shows as .999.
        let ms = now.timestamp_subsec_millis().min(999);
        out.extend_from_slice(&[
            b'0' + (ms / 100) as u8,
            b'0' + (ms / 10 % 10) as u8,
            b'0' + (ms % 10) as u8,
            b'Z',
        ]);
    }
}

/// Appends `s` as a JSON string (quotes included), escaped as serde_json escapes it.
fn json_str(out: &mut Vec<u8>, s: &str) {
    // Serialising a string into a Vec cannot fail.
    let _ = serde_json::to_writer(out, s);
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
        raw: bool,
        names: &[String],
    ) -> Log {
        Log::with_writer(format, color, timestamps, raw, names, io::stdout())
    }
}

impl<W: Write> Log<W> {
    /// `raw`: the helpers' bytes unchanged (`--raw`; in JSON also `--keep-ansi`).
    fn with_writer(
        format: Format,
        color: bool,
        timestamps: bool,
        raw: bool,
        names: &[String],
        out: W,
    ) -> Log<W> {
        let width = names.iter().map(String::len).chain([8]).max().unwrap_or(8);
        let filters = (!raw).then(|| names.iter().map(|_| filter_pair(format)).collect());
        Log {
            format,
            color,
            timestamps,
            filters,
            width,
            names: names.to_vec(),
            prefixes: names
                .iter()
                .map(|n| Prefix::new(n, names, width, color))
                .collect(),
            own: Prefix::new("spawnmux", names, width, color),
            clock: Clock::new(),
            buf: Vec::with_capacity(2 * FLUSH_AT),
            out,
            failed: None,
        }
    }

    /// Whether records wait in the buffer.
    pub(crate) fn pending(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The columns a text log line spends before the helper's bytes (timestamp, name, `|`).
    pub(crate) fn prefix_width(&self) -> usize {
        let stamp = if self.timestamps {
            "HH:MM:SS ".len()
        } else {
            0
        };
        stamp + self.width + " |+ ".len()
    }

    /// A new process of helper `helper` starts: a sequence its last one left open is
    /// forgotten.
    pub(crate) fn restarted(&mut self, helper: usize) {
        if let Some(pair) = self.filters.as_mut().and_then(|f| f.get_mut(helper)) {
            pair.iter_mut().for_each(Sanitizer::reset);
        }
    }

    /// The error that broke the log's output, if one did.
    pub(crate) fn failure(&self) -> Option<&io::Error> {
        self.failed.as_ref()
    }

    /// One piece of a helper's output; `helper` is its index in the names given to
    /// [`Log::new`] (`None`: unknown, named by `out.name`).
    pub(crate) fn output(
        &mut self,
        helper: Option<usize>,
        out: &spawnmux::Output<'_>,
    ) -> io::Result<()> {
        let piece = Piece {
            name: out.name,
            stream: out.stream,
            bytes: out.bytes,
            newline: out.newline,
            continued: out.continued,
        };
        self.output_at(helper, &piece, Utc::now())
    }

    fn output_at(
        &mut self,
        helper: Option<usize>,
        out: &Piece<'_>,
        now: DateTime<Utc>,
    ) -> io::Result<()> {
        let other;
        let prefix = match helper.and_then(|i| self.prefixes.get(i)) {
            Some(p) => p,
            None => {
                other = Prefix::new(out.name, &self.names, self.width, self.color);
                &other
            }
        };
        let warn = out.stream == Stream::Stderr;
        if self.format == Format::Text && out.continued && out.newline && out.bytes.is_empty() {
            // The newline after a piece already shown (a prompt flushed after a silence):
            // nothing to show, and an empty `|+` line would only be noise. (JSON keeps the
            // record: it tells where the line ended.)
            return Ok(());
        }
        let mut fresh;
        let filter = match (&mut self.filters, helper) {
            (None, _) => None,
            (Some(f), Some(i)) if i < f.len() => Some(&mut f[i][filter_index(out.stream)]),
            (Some(_), _) => {
                fresh = filter_pair(self.format);
                Some(&mut fresh[0])
            }
        };
        let bytes = match filter {
            Some(f) => f.clean(out.bytes),
            None => out.bytes,
        };
        let buf = &mut self.buf;
        match self.format {
            Format::Text => {
                if self.timestamps {
                    buf.extend_from_slice(self.clock.text(now).as_bytes());
                }
                buf.extend_from_slice(&prefix.text[sep(warn, out.continued)]);
                buf.extend_from_slice(bytes);
                buf.push(b'\n');
            }
            Format::Json => {
                buf.extend_from_slice(b"{\"ts\":\"");
                self.clock.json(now, buf);
                buf.extend_from_slice(b"\",\"helper\":");
                buf.extend_from_slice(&prefix.json);
                buf.extend_from_slice(if warn {
                    b",\"stream\":\"stderr\",\"level\":\"warning\",\"line\":"
                } else {
                    b",\"stream\":\"stdout\",\"level\":\"info\",\"line\":"
                });
                let (line, escaped) = json_line(bytes);
                json_str(buf, &line);
                if escaped {
                    buf.extend_from_slice(b",\"escaped\":true");
                }
                if !out.newline {
                    buf.extend_from_slice(b",\"partial\":true");
                }
                if out.continued {
                    buf.extend_from_slice(b",\"continued\":true");
                }
                buf.extend_from_slice(b"}\n");
            }
        }
        self.written()
    }

    /// One of spawnmux's own records: in text a `spawnmux` line saying its message, in JSON
    /// its event, level and fields.
    pub(crate) fn record(&mut self, record: &Record) -> io::Result<()> {
        self.record_at(record, Utc::now())
    }

    fn record_at(&mut self, record: &Record, now: DateTime<Utc>) -> io::Result<()> {
        let buf = &mut self.buf;
        let warn = record.warn();
        let message = record.message();
        match self.format {
            Format::Text => {
                if self.timestamps {
                    buf.extend_from_slice(self.clock.text(now).as_bytes());
                }
                buf.extend_from_slice(&self.own.text[sep(warn, false)]);
                buf.extend_from_slice(message.as_bytes());
                buf.push(b'\n');
            }
            Format::Json => {
                buf.extend_from_slice(b"{\"ts\":\"");
                self.clock.json(now, buf);
                buf.extend_from_slice(b"\",\"helper\":");
                json_str(buf, record.helper());
                buf.extend_from_slice(b",\"event\":");
                json_str(buf, record.event());
                buf.extend_from_slice(if warn {
                    b",\"level\":\"warning\""
                } else {
                    b",\"level\":\"info\""
                });
                for (k, v) in record.fields() {
                    buf.push(b',');
                    json_str(buf, k);
                    buf.push(b':');
                    // Serialising a Value into a Vec cannot fail.
                    let _ = serde_json::to_writer(&mut *buf, &v);
                }
                buf.extend_from_slice(b",\"message\":");
                json_str(buf, &message);
                buf.extend_from_slice(b"}\n");
            }
        }
        self.written()
    }

    /// Writes the buffer out: at the end of every loop iteration, and at the end.
    /// Writes out what the buffer holds. A write error is kept (see [`Log::failure`]), not
    /// returned: the runner still has to stop the helpers.
    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.write_buf()?;
        if self.failed.is_none() {
            if let Err(e) = self.out.flush() {
                self.failed = Some(e);
            }
        }
        Ok(())
    }

    /// A record was appended: write the buffer out if it is full.
    fn written(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.write_buf()
        } else {
            Ok(())
        }
    }

    fn write_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        // The buffer holds whole records and ends with a newline: `Stdout`'s line buffering
        // passes it straight to one `write` (the tail after the last newline, here none, is
        // what it would keep).
        if self.failed.is_none() {
            if let Err(e) = self.out.write_all(&self.buf) {
                self.failed = Some(e);
            }
        }
        self.buf.clear();
        Ok(())
    }
}

impl<W: Write> Drop for Log<W> {
    /// Whatever an early return (an error) left in the buffer still reaches stdout.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// The filters of one helper's stdout and stderr for the log's format (stdout's first: index
/// them with [`filter_index`]).
pub(crate) fn filter_pair(format: Format) -> [Sanitizer; 2] {
    let new = match format {
        Format::Text => Sanitizer::text,
        Format::Json => Sanitizer::json,
    };
    [new(), new()]
}

/// Which filter of a [`filter_pair`] cleans `stream`.
pub(crate) fn filter_index(stream: Stream) -> usize {
    usize::from(stream == Stream::Stderr)
}

/// A JSON string for `bytes`: as is if UTF-8, else invalid bytes as `\xHH` and backslashes
/// doubled (lossless), flagged. (The log uses [`json_line`], which borrows when it can.)
#[cfg(test)]
pub(crate) fn json_text(bytes: &[u8]) -> (String, bool) {
    let (s, escaped) = json_line(bytes);
    (s.into_owned(), escaped)
}

/// [`json_text`] without a copy when `bytes` are UTF-8.
pub(crate) fn json_line(bytes: &[u8]) -> (Cow<'_, str>, bool) {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return (Cow::Borrowed(s), false);
    }
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        out.push_str(&chunk.valid().replace('\\', "\\\\"));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    (Cow::Owned(out), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    use chrono::TimeZone;
    use serde_json::Map;

    fn at(ms: i64) -> DateTime<Utc> {
        // UNWRAP: a millisecond count in range.
        #[allow(clippy::unwrap_used)]
        Utc.timestamp_millis_opt(ms).single().unwrap()
    }

    fn log(format: Format, color: bool, keep_ansi: bool, names: &[&str]) -> Log<Vec<u8>> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        Log::with_writer(format, color, true, keep_ansi, &names, Vec::new())
    }

    fn piece<'a>(name: &'a str, stream: Stream, bytes: &'a [u8]) -> Piece<'a> {
        Piece {
            name,
            stream,
            bytes,
            newline: true,
            continued: false,
        }
    }

    /// The log's written bytes, after a flush.
    fn written(log: &mut Log<Vec<u8>>) -> Vec<u8> {
        log.flush().expect("flush into a Vec");
        std::mem::take(&mut log.out)
    }

    /// What the Value-based code before the direct writer produced for an output line.
    fn old_record(helper: &str, out: &Piece<'_>, keep_ansi: bool, now: DateTime<Utc>) -> Value {
        let mut rec = Map::new();
        rec.insert(
            "ts".into(),
            now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string().into(),
        );
        rec.insert("helper".into(), helper.into());
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
        // Each line on its own: the inputs leave no sequence open.
        let mut filter = Sanitizer::json();
        let bytes = if keep_ansi {
            out.bytes
        } else {
            filter.clean(out.bytes)
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
        Value::Object(rec)
    }

    #[test]
    fn clock_formats_once_per_second_and_is_right_across_a_second_boundary() {
        let mut clock = Clock::new();
        let old_text = |t: DateTime<Utc>| t.with_timezone(&Local).format("%H:%M:%S ").to_string();
        let old_json = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        // 2026-11-24T18:00:00.998Z, then across the second (and a minute, hour, day, year).
        let base = 1_795_543_199_998;
        for ms in [
            base,
            base + 1,
            base + 2,
            base + 3,
            base + 1_001,
            base + 1_002,
            1_798_761_599_999,
            1_798_761_600_000,
            1_798_761_600_007,
            0,
        ] {
            let t = at(ms);
            assert_eq!(clock.text(t), old_text(t), "text at {ms}");
            let mut json = Vec::new();
            clock.json(t, &mut json);
            assert_eq!(String::from_utf8_lossy(&json), old_json(t), "json at {ms}");
            assert_eq!(clock.json_sec, t.timestamp());
        }
        // Within one second the cached text is reused, not reformatted.
        clock.text(at(base + 2));
        clock.text = "cached".into();
        assert_eq!(clock.text(at(base + 500)), "cached");
        assert_ne!(clock.text(at(base + 1_002)), "cached");
    }

    #[test]
    fn prefixes_are_built_once_per_helper_with_its_colour() {
        let mut log = log(Format::Text, true, false, &["web", "worker-long", "db"]);
        let p = &log.prefixes;
        assert_eq!(
            &*p[0].text[sep(false, false)],
            b"\x1b[36mweb\x1b[0m         \x1b[2m|\x1b[0m "
        );
        assert_eq!(
            &*p[1].text[sep(false, true)],
            b"\x1b[33mworker-long\x1b[0m \x1b[2m|+\x1b[0m "
        );
        assert_eq!(
            &*p[2].text[sep(true, false)],
            b"\x1b[32mdb\x1b[0m          \x1b[1;31m!\x1b[0m "
        );
        assert_eq!(
            &*p[2].text[sep(true, true)],
            b"\x1b[32mdb\x1b[0m          \x1b[1;31m!+\x1b[0m "
        );
        assert_eq!(&*p[1].json, b"\"worker-long\"");
        assert_eq!(
            &*log.own.text[sep(true, false)],
            b"\x1b[1mspawnmux\x1b[0m    \x1b[1;31m!\x1b[0m "
        );
        // An index, or a name the log was not told about (bold, like spawnmux's own).
        let t = at(1_795_543_200_123);
        let stamp = t.with_timezone(&Local).format("%H:%M:%S ").to_string();
        log.output_at(Some(1), &piece("ignored", Stream::Stderr, b"x"), t)
            .expect("log");
        log.output_at(None, &piece("other", Stream::Stdout, b"y"), t)
            .expect("log");
        let want = format!(
            "{stamp}\x1b[33mworker-long\x1b[0m \x1b[1;31m!\x1b[0m x\n\
             {stamp}\x1b[1mother\x1b[0m       \x1b[2m|\x1b[0m y\n"
        );
        assert_eq!(String::from_utf8_lossy(&written(&mut log)), want);
        let mut plain = Log::with_writer(
            Format::Text,
            false,
            false,
            false,
            &["a".to_string()],
            Vec::new(),
        );
        let mut cont = piece("a", Stream::Stdout, b"rest");
        cont.continued = true;
        plain.output_at(Some(0), &cont, t).expect("log");
        plain
            .record_at(&Record::Note("a stopped".into()), t)
            .expect("log");
        assert_eq!(
            written(&mut plain),
            b"a        |+ rest\nspawnmux | a stopped\n"
        );
    }

    #[test]
    fn json_records_equal_the_old_value_based_ones() {
        let inputs: &[&[u8]] = &[
            b"plain",
            b"",
            b"say \"hi\" \\ back\\slash",
            b"ctl \0 \x01 \x07 \t \x08 \x0c \r \x1f \x7f end",
            b"bad \xff \xc3\x28 \xed\xa0\x80 cut \xe2\x82",
            b"\x1b[1;31merror\x1b[0m \x1b]0;title\x07 \x1b[2K",
            b"ansi and bad \x1b[32m\xfe\\",
            "unicode é 日本 \u{2028} \u{1F600}".as_bytes(),
        ];
        let names = ["web", "q\"uote\\d", "ctl\u{1}"];
        let t = at(1_795_543_200_007);
        for keep_ansi in [false, true] {
            let mut log = log(Format::Json, false, keep_ansi, &names);
            let mut want = Vec::new();
            for (k, bytes) in inputs.iter().enumerate() {
                for (i, name) in names.iter().enumerate() {
                    let mut p = piece(name, Stream::Stdout, bytes);
                    p.stream = if k % 2 == 0 {
                        Stream::Stdout
                    } else {
                        Stream::Stderr
                    };
                    p.newline = i != 1;
                    p.continued = i == 2;
                    log.output_at(Some(i), &p, t).expect("log");
                    want.push(old_record(name, &p, keep_ansi, t));
                }
            }
            let out = written(&mut log);
            let text = String::from_utf8(out).expect("the JSON log is UTF-8");
            let got: Vec<Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
                .collect();
            assert_eq!(got, want, "keep_ansi {keep_ansi}");
            // Keys in the documented order, as serde_json escapes them.
            let first = text.lines().nth(4).expect("a line");
            assert_eq!(
                first,
                r#"{"ts":"2026-11-24T18:00:00.007Z","helper":"q\"uote\\d","stream":"stderr","level":"warning","line":"","partial":true}"#
            );
        }
    }

    #[test]
    fn json_lifecycle_records_have_every_field() {
        let mut log = log(Format::Json, false, false, &["web"]);
        let t = at(1_795_543_200_123);
        let restart = Record::Restart {
            helper: "web".into(),
            attempt: 2,
            delay: std::time::Duration::from_millis(1500),
        };
        log.record_at(&restart, t).expect("log");
        log.record_at(&Record::Note("say \"hi\"".into()), t)
            .expect("log");
        let out = String::from_utf8(written(&mut log)).expect("UTF-8");
        assert_eq!(
            out,
            "{\"ts\":\"2026-11-24T18:00:00.123Z\",\"helper\":\"web\",\"event\":\"restart\",\"level\":\"warning\",\"attempt\":2,\"delay_ms\":1500,\"message\":\"restarting web in 1.5s (attempt 2)\"}\n\
             {\"ts\":\"2026-11-24T18:00:00.123Z\",\"helper\":\"spawnmux\",\"event\":\"note\",\"level\":\"info\",\"message\":\"say \\\"hi\\\"\"}\n"
        );
    }

    #[test]
    fn the_buffer_is_written_whole_at_64_kib_and_at_flush() {
        /// Records each `write` call's length.
        struct Writes(Vec<Vec<u8>>);
        impl Write for Writes {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.0.push(b.to_vec());
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let names = ["a".to_string()];
        let mut log = Log::with_writer(Format::Text, false, false, false, &names, Writes(vec![]));
        let line = [b'x'; 100];
        let t = at(0);
        let mut n = 0;
        while log.out.0.is_empty() {
            log.output_at(Some(0), &piece("a", Stream::Stdout, &line), t)
                .expect("log");
            n += 1;
        }
        // Nothing written before the buffer reached 64 KiB, then all of it at once.
        let rec = 100 + "a        | \n".len();
        assert_eq!(n, FLUSH_AT.div_ceil(rec));
        assert_eq!(log.out.0[0].len(), n * rec);
        log.output_at(Some(0), &piece("a", Stream::Stdout, b"last"), t)
            .expect("log");
        assert_eq!(log.out.0.len(), 1, "held until the flush");
        log.flush().expect("flush");
        assert_eq!(log.out.0[1], b"a        | last\n");
        log.flush().expect("flush");
        assert_eq!(log.out.0.len(), 2, "an empty buffer is not written");
        // Every write ends with a whole line.
        assert!(log.out.0.iter().all(|w| w.ends_with(b"\n")));
    }

    #[test]
    fn a_broken_output_is_kept_as_the_failure_and_later_records_are_dropped() {
        /// Accepts `left` writes, then fails like a closed pipe.
        struct Closing {
            left: usize,
            writes: usize,
        }
        impl Write for Closing {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                if self.left == 0 {
                    return Err(io::ErrorKind::BrokenPipe.into());
                }
                self.left -= 1;
                self.writes += 1;
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let names = ["a".to_string()];
        let out = Closing { left: 1, writes: 0 };
        let mut log = Log::with_writer(Format::Text, false, false, false, &names, out);
        let t = at(0);
        log.output_at(Some(0), &piece("a", Stream::Stdout, b"one"), t)
            .expect("log");
        log.flush().expect("flush");
        assert!(log.failure().is_none());
        log.output_at(Some(0), &piece("a", Stream::Stdout, b"two"), t)
            .expect("a record is accepted");
        log.flush().expect("the failure is kept, not returned");
        assert_eq!(
            log.failure().map(io::Error::kind),
            Some(io::ErrorKind::BrokenPipe)
        );
        assert!(!log.pending());
        // Later records are dropped without another write attempt.
        log.record_at(&Record::SecondSignal, t).expect("log");
        log.flush().expect("flush");
        assert_eq!(log.out.writes, 1);
        assert!(!log.pending());
    }

    #[test]
    fn an_empty_continuation_ending_a_shown_line_is_not_a_text_line() {
        let mut text = log(Format::Text, false, false, &["a"]);
        let t = at(0);
        let mut end = piece("a", Stream::Stdout, b"");
        end.continued = true;
        end.newline = true;
        text.output_at(Some(0), &end, t).expect("log");
        assert!(!text.pending());
        let mut json = log(Format::Json, false, false, &["a"]);
        json.output_at(Some(0), &end, t).expect("log");
        assert!(
            json.pending(),
            "JSON keeps the record of where the line ended"
        );
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
