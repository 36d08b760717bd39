//! The control protocol's requests, parsed and validated (docs/control.md has every request
//! and reply): one JSON object per line, at most [`MAX_LINE`] bytes.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ring::Piece;
use crate::supervisor;

/// The longest request line accepted, newline excluded.
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// The protocol's version, in the `hello` reply.
pub(crate) const VERSION: u32 = 1;

const COMMANDS: &str = "hello, status, start, stop, restart, logs";

/// A valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    Hello,
    Status,
    /// `start`, `stop` or `restart` a helper.
    Helper {
        name: String,
        request: supervisor::Request,
    },
    /// The helper's last `lines` pieces (`None`: all kept), then, with `follow`, every new one.
    Logs {
        name: String,
        lines: Option<usize>,
        follow: bool,
    },
}

/// A request line that is not a valid request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// Not JSON at all: the reply says so and the connection is closed.
    NotJson(String),
    /// JSON, but not a request this runner takes: the reply says why, the connection stays.
    Refused(String),
}

/// Every field a request may have (each command checks which it takes).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    cmd: String,
    name: Option<String>,
    lines: Option<u64>,
    follow: Option<bool>,
    token: Option<String>,
}

/// Parses one request line (without its newline); also returns its `token`, if any.
pub(crate) fn parse(line: &[u8]) -> Result<(Request, Option<String>), Invalid> {
    let value: Value =
        serde_json::from_slice(line).map_err(|e| Invalid::NotJson(format!("not JSON: {e}")))?;
    if !value.is_object() {
        return Err(Invalid::Refused(
            "a request is a JSON object, e.g. {\"cmd\":\"status\"}".into(),
        ));
    }
    let raw = Raw::deserialize(value).map_err(|e| Invalid::Refused(format!("bad request: {e}")))?;
    let refused = |m: String| Err(Invalid::Refused(m));
    let cmd = raw.cmd.as_str();
    let takes_name = matches!(cmd, "start" | "stop" | "restart" | "logs");
    if !takes_name && !matches!(cmd, "hello" | "status") {
        return refused(format!("unknown command `{cmd}` (commands: {COMMANDS})"));
    }
    if cmd != "logs" && (raw.lines.is_some() || raw.follow.is_some()) {
        return refused(format!("`lines` and `follow` go with logs, not {cmd}"));
    }
    let name = match (takes_name, raw.name) {
        (true, Some(name)) => name,
        (true, None) => return refused(format!("{cmd} needs a helper `name`")),
        (false, Some(_)) => return refused(format!("{cmd} takes no `name`")),
        (false, None) => String::new(),
    };
    let request = match cmd {
        "hello" => Request::Hello,
        "status" => Request::Status,
        "logs" => Request::Logs {
            name,
            lines: raw.lines.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            follow: raw.follow.unwrap_or(false),
        },
        _ => Request::Helper {
            name,
            request: match cmd {
                "start" => supervisor::Request::Start,
                "stop" => supervisor::Request::Stop,
                _ => supervisor::Request::Restart,
            },
        },
    };
    Ok((request, raw.token))
}

/// The reply to `hello`.
#[derive(Debug, Serialize)]
pub(crate) struct Hello<'a> {
    pub(crate) ok: bool,
    pub(crate) pid: u32,
    pub(crate) protocol: u32,
    pub(crate) version: &'static str,
    pub(crate) helpers: &'a [String],
}

/// The reply to `status`.
#[derive(Debug, Serialize)]
pub(crate) struct StatusReply<'a> {
    pub(crate) ok: bool,
    pub(crate) helpers: Vec<HelperStatus<'a>>,
}

/// One helper in the reply to `status`.
#[derive(Debug, Serialize)]
pub(crate) struct HelperStatus<'a> {
    pub(crate) name: &'a str,
    pub(crate) state: &'static str,
    pub(crate) pid: Option<u32>,
    pub(crate) uptime_ms: Option<u64>,
    pub(crate) restarts: u32,
    pub(crate) ready: bool,
    pub(crate) code: Option<i32>,
}

impl<'a> From<&'a supervisor::Status> for HelperStatus<'a> {
    fn from(s: &'a supervisor::Status) -> HelperStatus<'a> {
        HelperStatus {
            name: &s.name,
            state: s.state,
            pid: s.pid,
            uptime_ms: s.uptime.map(|d| d.as_millis() as u64),
            restarts: s.restarts,
            ready: s.ready,
            code: s.code,
        }
    }
}

/// An error reply: `{"ok":false,"error":…}`.
#[derive(Debug, Serialize)]
struct Error<'a> {
    ok: bool,
    error: &'a str,
}

/// Appends the reply `{"ok":true}`.
pub(crate) fn ok_reply(out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"ok\":true}\n");
}

/// Appends an error reply line.
pub(crate) fn error_reply(out: &mut Vec<u8>, error: &str) {
    reply(out, &Error { ok: false, error });
}

/// Appends `value` as one line.
pub(crate) fn reply(out: &mut Vec<u8>, value: &impl Serialize) {
    // Serialising these types into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
    out.push(b'\n');
}

/// A log piece as a client reads it (what [`piece`] writes, in the same key order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WirePiece {
    pub(crate) helper: String,
    pub(crate) stream: String,
    pub(crate) line: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) escaped: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) partial: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) continued: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub(crate) cut: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

impl WirePiece {
    /// The piece's bytes (the reverse of the escaping in [`piece`]).
    pub(crate) fn bytes(&self) -> Vec<u8> {
        unescape(&self.line, self.escaped)
    }
}

/// Appends one log piece as a JSON object (no newline): `{"helper":…,"stream":…,"line":…}`
/// and the flags that are set. `helper` is the name as a JSON string, quotes included. The
/// line is the piece's bytes as the JSON log has them, ANSI sequences kept: UTF-8 as is, else
/// each invalid byte as `\xHH`, backslashes doubled and `"escaped":true`.
pub(crate) fn piece(out: &mut Vec<u8>, helper: &[u8], piece: &Piece<'_>) {
    out.extend_from_slice(b"{\"helper\":");
    out.extend_from_slice(helper);
    out.extend_from_slice(if piece.kind.stderr {
        b",\"stream\":\"stderr\",\"line\":"
    } else {
        b",\"stream\":\"stdout\",\"line\":"
    });
    let bytes = piece.bytes();
    let (line, escaped) = crate::output::json_line(&bytes);
    // Serialising a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &line);
    for (set, flag) in [
        (escaped, &b",\"escaped\":true"[..]),
        (!piece.kind.newline, b",\"partial\":true"),
        (piece.kind.continued, b",\"continued\":true"),
        (piece.kind.cut, b",\"cut\":true"),
    ] {
        if set {
            out.extend_from_slice(flag);
        }
    }
    out.push(b'}');
}

/// The bytes a `line` of a reply stands for: the reverse of the escaping in [`piece`].
fn unescape(line: &str, escaped: bool) -> Vec<u8> {
    if !escaped {
        return line.as_bytes().to_vec();
    }
    let b = line.as_bytes();
    let hex = |i: usize| {
        let h = b
            .get(i + 2..i + 4)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
        u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let next = b.get(i + 1).copied();
        if b[i] == b'\\' && next == Some(b'\\') {
            out.push(b'\\');
            i += 2;
        } else if let (b'\\', Some(b'x'), Some(byte)) = (b[i], next, hex(i)) {
            out.push(byte);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::ring::Kind;

    fn refused(line: &str) -> String {
        match parse(line.as_bytes()) {
            Err(Invalid::Refused(m)) => m,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn valid_requests() {
        let ok = |l: &str| parse(l.as_bytes()).unwrap_or_else(|e| panic!("{l}: {e:?}"));
        assert_eq!(ok(r#"{"cmd":"hello"}"#), (Request::Hello, None));
        assert_eq!(
            ok(r#"{"cmd":"status","token":"ab"}"#),
            (Request::Status, Some("ab".into()))
        );
        let helper = |name: &str, request| Request::Helper {
            name: name.into(),
            request,
        };
        assert_eq!(
            ok(r#"{"cmd":"restart","name":"web"}"#).0,
            helper("web", supervisor::Request::Restart)
        );
        assert_eq!(
            ok(r#" {"name":"db","cmd":"stop"} "#).0,
            helper("db", supervisor::Request::Stop)
        );
        assert_eq!(
            ok(r#"{"cmd":"start","name":""}"#).0,
            helper("", supervisor::Request::Start),
            "an unknown name is the server's to refuse"
        );
        assert_eq!(
            ok(r#"{"cmd":"logs","name":"web"}"#).0,
            Request::Logs {
                name: "web".into(),
                lines: None,
                follow: false
            }
        );
        assert_eq!(
            ok(r#"{"cmd":"logs","name":"web","lines":0,"follow":true}"#).0,
            Request::Logs {
                name: "web".into(),
                lines: Some(0),
                follow: true
            }
        );
    }

    #[test]
    fn invalid_requests_say_why() {
        for (line, why) in [
            (r#"{"cmd":"reboot"}"#, "unknown command `reboot`"),
            (r#"{"cmd":"restart"}"#, "restart needs a helper `name`"),
            (r#"{"cmd":"status","name":"web"}"#, "status takes no `name`"),
            (
                r#"{"cmd":"stop","name":"web","follow":true}"#,
                "go with logs",
            ),
            (r#"{"cmd":"logs","name":"web","lines":-1}"#, "bad request"),
            (r#"{"cmd":"logs","name":"web","lines":"9"}"#, "bad request"),
            (r#"{"cmd":"status","extra":1}"#, "unknown field `extra`"),
            (r#"{"name":"web"}"#, "missing field `cmd`"),
            (r#"{"cmd":7}"#, "bad request"),
            (r#"["status"]"#, "a request is a JSON object"),
            (r#""status""#, "a request is a JSON object"),
        ] {
            let m = refused(line);
            assert!(m.contains(why), "{line}: {m}");
        }
        for line in ["", "{", "status", "{\"cmd\":\"status\"} x", "\u{feff}{}"] {
            assert!(
                matches!(parse(line.as_bytes()), Err(Invalid::NotJson(_))),
                "{line:?}"
            );
        }
        assert!(matches!(parse(b"\xff\xfe"), Err(Invalid::NotJson(_))));
    }

    #[test]
    fn pieces_are_json_and_unescape_to_their_bytes() {
        let cases: [(&[u8], Kind); 4] = [
            (b"plain \x1b[1mbold\x1b[0m", Kind::default()),
            (
                b"bad \xff\\x41 \\ end",
                Kind {
                    stderr: true,
                    newline: true,
                    ..Kind::default()
                },
            ),
            (
                b"quote \" and \n",
                Kind {
                    continued: true,
                    cut: true,
                    newline: true,
                    ..Kind::default()
                },
            ),
            (b"\\xZZ\xc3", Kind::default()),
        ];
        for (bytes, kind) in cases {
            let mut out = Vec::new();
            let p = Piece {
                head: &bytes[..3],
                tail: &bytes[3..],
                kind,
            };
            piece(&mut out, b"\"web\"", &p);
            let wire: WirePiece = serde_json::from_slice(&out).expect("a WirePiece");
            assert_eq!(
                serde_json::to_vec(&wire).expect("JSON"),
                out,
                "same keys, same order"
            );
            assert_eq!(wire.bytes(), bytes);
            let v: Value = serde_json::from_slice(&out).expect("JSON");
            assert_eq!(v["helper"], "web");
            let stream = if kind.stderr { "stderr" } else { "stdout" };
            assert_eq!(v["stream"], stream);
            assert_eq!(v["partial"].as_bool().unwrap_or(false), !kind.newline);
            assert_eq!(v["continued"].as_bool().unwrap_or(false), kind.continued);
            assert_eq!(v["cut"].as_bool().unwrap_or(false), kind.cut);
            let escaped = v["escaped"].as_bool().unwrap_or(false);
            assert_eq!(escaped, std::str::from_utf8(bytes).is_err());
            let line = v["line"].as_str().expect("line");
            assert_eq!(unescape(line, escaped), bytes, "{line}");
        }
    }
}
