//! `\n`, `\r`, `\t`, `\0`, `\\` and `\xHH` in op arguments, so tests can write any byte.

/// Turns an escaped argument into bytes. An unknown or incomplete escape is kept literally.
pub(crate) fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 == b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let simple = match b[i + 1] {
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'0' => Some(0),
            b'\\' => Some(b'\\'),
            _ => None,
        };
        if let Some(c) = simple {
            out.push(c);
            i += 2;
        } else if let Some(byte) = hex_escape(&b[i + 1..]) {
            out.push(byte);
            i += 4;
        } else {
            out.push(b'\\');
            i += 1;
        }
    }
    out
}

/// `xHH` at the start of `b`.
fn hex_escape(b: &[u8]) -> Option<u8> {
    if b.len() < 3 || b[0] != b'x' {
        return None;
    }
    let hex = std::str::from_utf8(&b[1..3]).ok()?;
    u8::from_str_radix(hex, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn escapes() {
        assert_eq!(unescape(r"a\nb\r\t\0\\"), b"a\nb\r\t\0\\");
        assert_eq!(unescape(r"\xff\x00\x41"), [0xff, 0, b'A']);
        assert_eq!(unescape(r"\q\x4\"), b"\\q\\x4\\");
        assert_eq!(unescape("plain"), b"plain");
    }
}
