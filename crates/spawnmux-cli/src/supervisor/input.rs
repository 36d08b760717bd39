//! `--handle-input`: where a line typed into spawnmux's terminal goes. Pure: the runner reads
//! the bytes and writes the line to a helper's stdin.
//!
//! The rule: a line `NAME: text` (a helper's name, a colon, an optional space) sends `text`
//! to helper NAME; any other line goes whole to the input helper (`input = true`, or the one
//! `--handle-input` names). A line that starts like `NAME:` with a word that is not a helper's
//! name (name characters only: letters, digits, `.`, `-`, `_`) is not sent: it is probably a
//! typo, and the warning lists the names. To send such a line to the input helper, prefix it
//! with the input helper's own name (`web: note: x`).

/// What to do with one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route<'a> {
    /// Write `text` (and a newline) to helper `helper`'s stdin.
    Send { helper: usize, text: &'a str },
    /// `NAME:` names no helper.
    UnknownName(&'a str),
    /// A line without a name, and no helper takes those.
    NoTarget,
}

/// Where `line` goes; `names` are the helpers' names, `target` the input helper's index.
pub(crate) fn route<'a>(line: &'a str, names: &[String], target: Option<usize>) -> Route<'a> {
    if let Some((word, rest)) = line.split_once(':') {
        let is_word = !word.is_empty()
            && (word.bytes()).all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if is_word {
            let text = rest.strip_prefix(' ').unwrap_or(rest);
            return match names.iter().position(|n| n == word) {
                Some(helper) => Route::Send { helper, text },
                None => Route::UnknownName(word),
            };
        }
    }
    match target {
        Some(helper) => Route::Send { helper, text: line },
        None => Route::NoTarget,
    }
}

/// The bytes written to a helper's stdin for `text`: the line and its end, which is what
/// Enter sends. On a terminal (`tty`) that is a carriage return (the terminal's `ICRNL` makes
/// it `\n` for a program reading lines; one in raw mode, like vite's key handler, sees what a
/// real terminal sends); on a pipe, `\n`.
pub(crate) fn line_bytes(text: &str, tty: bool) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(if tty { b'\r' } else { b'\n' });
    bytes
}

/// Bytes of spawnmux's stdin cut into lines (`\n` or `\r\n`); a line not ended yet waits.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    carry: Vec<u8>,
}

impl Lines {
    /// The lines `bytes` complete, without their line ends (invalid UTF-8 replaced).
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        self.carry.extend_from_slice(bytes);
        let Some(last) = self.carry.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        let rest = self.carry.split_off(last + 1);
        let done = std::mem::replace(&mut self.carry, rest);
        done[..last]
            .split(|&b| b == b'\n')
            .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)).into_owned())
            .collect()
    }

    /// End of input: the last line, if it had no line end.
    pub(crate) fn finish(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.carry);
        (!rest.is_empty()).then(|| String::from_utf8_lossy(&rest).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        ["web", "api", "db.2"].map(String::from).to_vec()
    }

    #[test]
    fn a_line_goes_to_the_input_helper_or_to_the_helper_it_names() {
        let n = names();
        assert_eq!(
            route("r", &n, Some(0)),
            Route::Send {
                helper: 0,
                text: "r"
            }
        );
        assert_eq!(
            route("api: rs", &n, Some(0)),
            Route::Send {
                helper: 1,
                text: "rs"
            }
        );
        assert_eq!(
            route("db.2:x", &n, Some(0)),
            Route::Send {
                helper: 2,
                text: "x"
            }
        );
        assert_eq!(
            route("api:  two", &n, None),
            Route::Send {
                helper: 1,
                text: " two"
            }
        );
        assert_eq!(
            route("api:", &n, None),
            Route::Send {
                helper: 1,
                text: ""
            }
        );
        // A colon after something that is not a name: the whole line, to the input helper.
        let url = "see http ://x";
        assert_eq!(
            route(url, &n, Some(0)),
            Route::Send {
                helper: 0,
                text: url
            }
        );
        assert_eq!(
            route(": x", &n, Some(2)),
            Route::Send {
                helper: 2,
                text: ": x"
            }
        );
        assert_eq!(
            route("", &n, Some(1)),
            Route::Send {
                helper: 1,
                text: ""
            }
        );
        // The escape: the input helper's own name.
        assert_eq!(
            route("web: note: x", &n, Some(0)),
            Route::Send {
                helper: 0,
                text: "note: x"
            }
        );
    }

    #[test]
    fn an_unknown_name_or_no_input_helper_sends_nothing() {
        let n = names();
        assert_eq!(route("wbe: r", &n, Some(0)), Route::UnknownName("wbe"));
        assert_eq!(route("note: x", &n, None), Route::UnknownName("note"));
        assert_eq!(route("r", &n, None), Route::NoTarget);
    }

    #[test]
    fn enter_is_a_carriage_return_on_a_terminal_and_a_newline_on_a_pipe() {
        assert_eq!(line_bytes("r", true), b"r\r");
        assert_eq!(line_bytes("r", false), b"r\n");
        assert_eq!(line_bytes("", true), b"\r");
    }

    #[test]
    fn bytes_are_cut_into_lines_whatever_the_reads() {
        let mut l = Lines::default();
        assert_eq!(l.push(b"r"), Vec::<String>::new());
        assert_eq!(l.push(b"\nap"), ["r"]);
        assert_eq!(l.push(b"i: x\r\n\nlast \xff"), ["api: x", ""]);
        assert_eq!(l.finish().as_deref(), Some("last \u{fffd}"));
        assert_eq!(l.finish(), None);
    }
}
