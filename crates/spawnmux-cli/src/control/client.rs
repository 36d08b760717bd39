//! `spawnmux ctl`: one request to a running `spawnmux run`, its reply printed. Also the
//! `hello` with which a starting runner asks whether another one already serves its socket.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};

use super::args::{CtlArgs, CtlCmd};
use super::endpoint::{self, Target};
use super::protocol::WirePiece;
use crate::cli::Format;
use crate::os::{self, CtlStream};

/// How long to wait for a reply.
const REPLY_WAIT: Duration = Duration::from_secs(10);
/// How long a starting runner waits for another one's `hello`.
const HELLO_WAIT: Duration = Duration::from_secs(2);
/// The longest reply line read (a `logs` reply is at most a few MiB).
const MAX_REPLY: u64 = 64 << 20;

/// A connection to a runner.
pub(crate) struct Session {
    reader: BufReader<CtlStream>,
    writer: CtlStream,
    token: Option<String>,
}

impl Session {
    pub(crate) fn connect(path: &Path, wait: Duration) -> io::Result<Session> {
        let (stream, token) = os::ctl_connect(path)?;
        stream.set_read_timeout(Some(wait))?;
        stream.set_write_timeout(Some(wait))?;
        Ok(Session {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
            token,
        })
    }

    /// Sends `request` (with the endpoint's token, if it has one).
    pub(crate) fn send(&mut self, mut request: Value) -> io::Result<()> {
        if let Some(t) = &self.token {
            request["token"] = t.as_str().into();
        }
        let mut line = request.to_string().into_bytes();
        line.push(b'\n');
        self.writer.write_all(&line)
    }

    /// The runner's next line, as sent and parsed; `None` once it has closed the connection.
    pub(crate) fn next(&mut self) -> io::Result<Option<(String, Value)>> {
        let mut line = Vec::new();
        let n = match (&mut self.reader)
            .take(MAX_REPLY)
            .read_until(b'\n', &mut line)
        {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer in time"));
            }
            other => other?,
        };
        if n == 0 {
            return Ok(None);
        }
        let bad = |e: &dyn std::fmt::Display| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the reply is not JSON: {e}"),
            )
        };
        let line = String::from_utf8(line).map_err(|e| bad(&e))?;
        let value = serde_json::from_str(&line).map_err(|e| bad(&e))?;
        Ok(Some((line.trim_end().to_string(), value)))
    }

    /// From now on, wait as long as it takes (`logs -f`).
    fn wait_forever(&self) -> io::Result<()> {
        self.reader.get_ref().set_read_timeout(None)
    }
}

/// Asks the runner at `path` for its pid.
pub(crate) fn hello(path: &Path) -> io::Result<u32> {
    let mut s = Session::connect(path, HELLO_WAIT)?;
    s.send(json!({"cmd": "hello"}))?;
    let (_, reply) = s.next()?.ok_or(io::ErrorKind::UnexpectedEof)?;
    reply["pid"]
        .as_u64()
        .and_then(|p| u32::try_from(p).ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not a spawnmux runner"))
}

enum Failure {
    /// Exit 2: no runner to talk to.
    NotFound(String),
    /// Exit 1.
    Io(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Io(e)
    }
}

/// Runs `spawnmux ctl`: 0 done, 1 refused (or the connection failed), 2 no runner found.
pub(crate) fn run(args: &CtlArgs) -> ExitCode {
    match ctl(args) {
        Ok(code) => code,
        Err(Failure::NotFound(message)) => {
            eprintln!("spawnmux ctl: {message}");
            ExitCode::from(2)
        }
        // `spawnmux ctl logs web | head`.
        Err(Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Io(e)) => {
            eprintln!("spawnmux ctl: {e}");
            ExitCode::from(1)
        }
    }
}

fn ctl(args: &CtlArgs) -> Result<ExitCode, Failure> {
    let path = find(args)?;
    let mut s = Session::connect(&path, REPLY_WAIT).map_err(|e| {
        Failure::NotFound(match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => format!(
                "no spawnmux runs this config: nothing answers at {} ({e}); start one with \
                 `spawnmux run`, or name its socket with --control",
                path.display()
            ),
            _ => format!("cannot reach the runner at {}: {e}", path.display()),
        })
    })?;
    s.send(args.what.request())?;
    let closed = || {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the runner closed the connection",
        )
    };
    let (raw, reply) = s.next()?.ok_or_else(closed)?;
    let json = args.format == Format::Json;
    let mut out = io::stdout().lock();
    if reply["ok"] != true {
        let error = reply["error"].as_str().unwrap_or("refused");
        match json {
            true => writeln!(out, "{raw}")?,
            false => eprintln!("spawnmux ctl: {error}"),
        }
        return Ok(ExitCode::from(1));
    }
    match &args.what {
        CtlCmd::Status(_) if json => writeln!(out, "{raw}")?,
        CtlCmd::Status(_) => out.write_all(status_table(&reply).as_bytes())?,
        CtlCmd::Logs(l) => {
            let pieces: Vec<WirePiece> = serde_json::from_value(reply["lines"].clone())
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            for piece in &pieces {
                print_piece(&mut out, piece, json)?;
            }
            out.flush()?;
            if l.follow {
                s.wait_forever()?;
                while let Some((_, piece)) = s.next()? {
                    let piece = serde_json::from_value(piece)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    print_piece(&mut out, &piece, json)?;
                    out.flush()?;
                }
            }
        }
        _ if json => writeln!(out, "{raw}")?,
        CtlCmd::Start(n) => writeln!(out, "{}: starting", n.name)?,
        CtlCmd::Stop(n) => writeln!(out, "{}: stopping", n.name)?,
        CtlCmd::Restart(n) => writeln!(out, "{}: restarting", n.name)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The runner's socket: `--control`, else the one named after the config (whose directory
/// must pass the same checks as when the runner made it).
fn find(args: &CtlArgs) -> Result<PathBuf, Failure> {
    if let Some(p) = &args.control {
        return Ok(p.clone());
    }
    let cwd = std::env::current_dir()?;
    let target = Target {
        config: args.source.config.as_deref(),
        procfile: args.source.procfile.as_deref(),
        commands: args.what.commands(),
    };
    let path = endpoint::default_path(&target, &cwd);
    let dir = path.parent().unwrap_or(Path::new("."));
    os::ctl_dir_ready(dir, false).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Failure::NotFound(format!(
            "no spawnmux runs this config: no control socket at {} ({e})",
            path.display()
        )),
        _ => Failure::NotFound(format!("{e}; not connecting to {}", path.display())),
    })?;
    Ok(path)
}

/// One log piece of a `logs` reply: text to stdout or stderr as it came (like the text log,
/// an empty piece ending a line already shown is no line), JSON as the object.
fn print_piece(out: &mut impl Write, piece: &WirePiece, json: bool) -> io::Result<()> {
    if json {
        let line = serde_json::to_string(piece).map_err(io::Error::other)?;
        return writeln!(out, "{line}");
    }
    if piece.line.is_empty() && piece.continued && !piece.partial {
        return Ok(());
    }
    let mut bytes = piece.bytes();
    bytes.push(b'\n');
    if piece.stream == "stderr" {
        out.flush()?;
        let mut err = io::stderr().lock();
        err.write_all(&bytes)?;
        err.flush()
    } else {
        out.write_all(&bytes)
    }
}

/// `status` as a table: NAME STATE PID UPTIME RESTARTS READY.
fn status_table(reply: &Value) -> String {
    let mut rows = vec![["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "READY"].map(String::from)];
    for h in reply["helpers"].as_array().into_iter().flatten() {
        let text = |k: &str| h[k].as_str().unwrap_or("-").to_string();
        let number = |k: &str| h[k].as_u64().map_or("-".to_string(), |n| n.to_string());
        let state = match h["code"].as_i64() {
            Some(code) => format!("{} ({code})", text("state")),
            None => text("state"),
        };
        let running = h["pid"].is_u64();
        let ready = match h["ready"].as_bool() {
            Some(r) if running => if r { "yes" } else { "no" }.to_string(),
            _ => "-".to_string(),
        };
        let uptime = h["uptime_ms"].as_u64().map_or("-".to_string(), uptime);
        rows.push([
            text("name"),
            state,
            number("pid"),
            uptime,
            number("restarts"),
            ready,
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut table = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        table.push_str(cells.join("  ").trim_end());
        table.push('\n');
    }
    table
}

/// `5s`, `3m 5s`, `2h 10m`, `3d 4h`.
fn uptime(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86400 => format!("{}h {}m", s / 3600, s / 60 % 60),
        _ => format!("{}d {}h", s / 86400, s / 3600 % 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptimes() {
        assert_eq!(uptime(999), "0s");
        assert_eq!(uptime(59_999), "59s");
        assert_eq!(uptime(65_000), "1m 5s");
        assert_eq!(uptime(7_260_000), "2h 1m");
        assert_eq!(uptime(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
    }

    #[test]
    fn the_status_table_lines_up() {
        let reply = json!({"ok": true, "helpers": [
            {"name": "web", "state": "running", "pid": 4242, "uptime_ms": 65_000,
             "restarts": 0, "ready": true, "code": null},
            {"name": "database", "state": "done", "pid": null, "uptime_ms": null,
             "restarts": 2, "ready": false, "code": 1},
        ]});
        assert_eq!(
            status_table(&reply),
            "NAME      STATE     PID   UPTIME  RESTARTS  READY\n\
             web       running   4242  1m 5s   0         yes\n\
             database  done (1)  -     -       2         -\n"
        );
    }
}
