//! `.env` files (a helper's `env_file`, `-e FILE`, the `.env` beside a Procfile), read with
//! dotenvy, the maintained dotenv parser: `KEY=VALUE`, `export KEY=VALUE`, `#` comments,
//! `'literal'` values, `"…"` values with the escapes `\n \\ \" \' \$` and multi-line values
//! (a quote open at the end of a line continues on the next), `$VAR` / `${VAR}` expanded in
//! unquoted and `"…"` values (not in `'…'`). A name is letters, digits, `_` and `.`, not
//! starting with a digit or `.`. dotenvy's own rules, kept as they are, are also:
//! an unquoted value ends at a blank (`A=b c` is an error, `A=b #c` has a comment), and
//! `${VAR}` takes VAR from spawnmux's own environment when it is set there, else from an
//! earlier line of the same file (else it is empty), as dotenv-expand does.
//!
//! What dotenvy does not give is where an error is: its errors carry the text of the entry.
//! [`parse`] hands dotenvy the file one line per read, so that the bytes handed over when an
//! entry fails end where that entry ends, and names the file and the entry's first line.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use super::error::{read_text, LoadError};

/// Reads the `.env` file at `path` into `into` (later entries replace earlier ones).
pub(crate) fn read(path: &Path, into: &mut BTreeMap<String, String>) -> Result<(), LoadError> {
    parse(path, &read_text(path)?, into)
}

/// [`read`] on the file's text, already read (`path` is for messages). Errors are one line,
/// `FILE:LINE: problem`, and never show a value (it may be a secret).
pub(crate) fn parse(
    path: &Path,
    text: &str,
    into: &mut BTreeMap<String, String>,
) -> Result<(), LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // dotenvy refuses a last line without a newline that ends in a blank (`A=1 `).
    let owned;
    let text = match text.is_empty() || text.ends_with('\n') {
        true => text,
        false => {
            owned = format!("{text}\n");
            &owned
        }
    };
    let handed = Cell::new(0);
    let lines = OneLine {
        rest: text.as_bytes(),
        handed: &handed,
    };
    let mut from = 0;
    for entry in dotenvy::from_read_iter(lines) {
        match entry {
            Ok((key, value)) => {
                into.insert(key, value);
            }
            Err(e) => return Err(error(path, text, from, &e)),
        }
        from = handed.get();
    }
    Ok(())
}

/// A reader that gives at most one line per `read`: dotenvy's buffer then never holds more
/// than the line it works on, and `handed` is where the entry it last returned ended.
struct OneLine<'a> {
    rest: &'a [u8],
    /// Bytes handed out so far.
    handed: &'a Cell<usize>,
}

impl Read for OneLine<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let line_end = self.rest.iter().position(|&b| b == b'\n');
        let n = line_end.map_or(self.rest.len(), |i| i + 1).min(buf.len());
        buf[..n].copy_from_slice(&self.rest[..n]);
        self.rest = &self.rest[n..];
        self.handed.set(self.handed.get() + n);
        Ok(n)
    }
}

/// The error of the entry that starts after `from` (dotenvy skipped blank and comment lines
/// before it): its line, and what is wrong, without its value.
fn error(path: &Path, text: &str, from: usize, e: &dotenvy::Error) -> LoadError {
    let rest = &text[from..];
    let mut start = from;
    for line in rest.split_inclusive('\n') {
        let content = line.trim_start();
        if !content.is_empty() && !content.starts_with('#') {
            break;
        }
        start += line.len();
    }
    let lines = text.lines().count().max(1);
    let number = (text[..start].matches('\n').count() + 1).min(lines);
    let first = text[start..].lines().next().unwrap_or_default();
    let why = match e {
        dotenvy::Error::LineParse(..) => problem(first),
        other => other.to_string(),
    };
    LoadError(format!("{}:{number}: {why}", path.display()))
}

/// What is wrong with an entry dotenvy refused, from its first line: its name, or its value
/// (named by its key, never shown).
fn problem(line: &str) -> String {
    let line = line.trim_start();
    let entry = line
        .strip_prefix("export")
        .filter(|r| r.starts_with([' ', '\t']));
    let entry = entry.map_or(line, str::trim_start);
    let name_end = entry
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .unwrap_or(entry.len());
    let (name, after) = entry.split_at(name_end);
    let named = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    if !named || !after.trim_start().starts_with('=') {
        return "expected KEY=VALUE (a KEY is letters, digits, `_` and `.`, not starting with a digit or `.`)".into();
    }
    format!(
        "the value of `{name}` cannot be read: put a value with blanks in quotes (\"a b\", 'a b'), close every quote and `${{`, and escape only with \\n \\\\ \\\" \\' \\$"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        parse(Path::new(".env"), text, &mut env).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        env
    }

    fn parse_err(text: &str) -> String {
        let mut env = BTreeMap::new();
        parse(Path::new(".env"), text, &mut env)
            .expect_err(text)
            .to_string()
    }

    #[test]
    fn quoting_escapes_and_comments() {
        let env = parse_ok(concat!(
            "# a comment\n",
            "export A=1\n",
            "B = 'x # y $HOME \\n'\n",
            "C=\"a\\nb \\\"q\\\" \\\\ \\$x\"\n",
            "D=plain # comment\n",
            "E=\n",
            "F='it''s'\n",
            "G=s\\ ix\n",
            "dotted.name=ok\r\n",
            "H=last",
        ));
        let want = [
            ("A", "1"),
            ("B", "x # y $HOME \\n"),
            ("C", "a\nb \"q\" \\ $x"),
            ("D", "plain"),
            ("E", ""),
            ("F", "its"),
            ("G", "s ix"),
            ("dotted.name", "ok"),
            ("H", "last"),
        ];
        let want: BTreeMap<String, String> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(env, want);
    }

    #[test]
    fn multi_line_values_and_a_byte_order_mark() {
        let env = parse_ok("\u{feff}KEY=\"line 1\nline 2\n\"\nSINGLE='a\nb'\nNEXT=1\n");
        assert_eq!(env["KEY"], "line 1\nline 2\n");
        assert_eq!(env["SINGLE"], "a\nb");
        assert_eq!(env["NEXT"], "1");
    }

    #[test]
    fn expansion_takes_spawnmux_s_environment_then_earlier_lines() {
        // PATH is set in every test's environment (on Windows too, where names ignore case).
        let path = std::env::var("PATH").expect("PATH is set");
        let env = parse_ok(concat!(
            "BASE=/srv\n",
            "DATA=${BASE}/data\n",
            "BARE=$BASE/bare\n",
            "QUOTED=\"${BASE} and ${PATH}\"\n",
            "LITERAL='${BASE}'\n",
            "ESCAPED=\\${BASE}\n",
            "UNSET=[${SPAWNMUX_ENVFILE_TEST_UNSET}]\n",
            "PATH=/mine\n",
            "AFTER=${PATH}\n",
        ));
        assert_eq!(env["DATA"], "/srv/data");
        assert_eq!(env["BARE"], "/srv/bare");
        assert_eq!(env["QUOTED"], format!("/srv and {path}"));
        assert_eq!(env["LITERAL"], "${BASE}");
        assert_eq!(env["ESCAPED"], "${BASE}");
        assert_eq!(env["UNSET"], "[]");
        assert_eq!(env["PATH"], "/mine");
        assert_eq!(
            env["AFTER"], path,
            "spawnmux's environment comes first (dotenvy's rule)"
        );
    }

    #[test]
    fn errors_name_the_line_and_never_the_value() {
        for (text, want) in [
            ("A=1\nNOEQUALS\n", ".env:2: expected KEY=VALUE"),
            ("A=1\n1A=x\n", ".env:2: expected KEY=VALUE"),
            (
                "A=1\n\n# c\nPASSWORD=my secret\n",
                ".env:4: the value of `PASSWORD` cannot be read",
            ),
            ("A=\"x\\qy\"\n", ".env:1: the value of `A` cannot be read"),
            (
                "A=1\nB=\"open\nstill open\n",
                ".env:2: the value of `B` cannot be read",
            ),
            (
                "A=\"two\nlines\"\nexport B='x\n\nC=${D\n",
                ".env:3: the value of `B` cannot be read",
            ),
            (
                "A=1\nX=${UNCLOSED\n",
                ".env:2: the value of `X` cannot be read",
            ),
        ] {
            let e = parse_err(text);
            assert!(e.starts_with(want), "{text:?}: {e}");
            for secret in ["secret", "still open", "qy", "UNCLOSED"] {
                assert!(!e.contains(secret), "{text:?}: shows the value: {e}");
            }
        }
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = read(Path::new("no/such/.env"), &mut BTreeMap::new()).expect_err("missing");
        assert!(e.0.starts_with("no/such/.env: cannot read: "), "{e}");
    }
}
