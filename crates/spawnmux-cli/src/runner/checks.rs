//! Readiness and liveness checks, run in the loop: the supervisor asks for an attempt
//! ([`Action::Check`](crate::supervisor::Action::Check)), this module makes it and reports
//! its result ([`Supervisor::check_result`](crate::supervisor::Supervisor::check_result)).
//!
//! No thread and no blocking call: a TCP or HTTP attempt is one non-blocking socket per
//! address (socket2), registered with the `Mux` as a source (`Mux::add_source`) and driven by
//! its readiness (`Event::Ready`): connect, then for HTTP write `GET` and read the response's
//! head, parsed by `httparse`. An exec attempt is a child of the same `Mux` (its output is not
//! logged; its last stderr lines explain a failure). Every attempt ends within the check's
//! interval: at that deadline its sockets are closed or its child killed.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use socket2::{Domain, Protocol, Socket, Type};
use spawnmux::{ChildId, Event, Interest, Readiness, SourceId};

use super::Runner;
use crate::spec::Target;
use crate::supervisor::{CheckAttempt, CheckKind};

/// The most of a response's head read before giving up on it.
const MAX_HEAD: usize = 16 * 1024;
/// Lines of an exec check's stderr kept to explain its failure.
const STDERR_LINES: usize = 3;

/// The attempts in flight.
#[derive(Default)]
pub(super) struct Checks {
    attempts: Vec<Attempt>,
    /// Exec children of attempts that ended (timed out, no longer wanted) and were killed:
    /// their last events are not a helper's output.
    killed: HashSet<ChildId>,
}

struct Attempt {
    helper: usize,
    number: u64,
    deadline: Instant,
    how: How,
}

enum How {
    /// One connection per address; the first to answer decides. `last`: why the latest
    /// failed connection failed.
    Net {
        conns: Vec<Conn>,
        request: Option<Vec<u8>>,
        last: String,
    },
    Exec {
        child: ChildId,
        stderr: Vec<String>,
    },
}

struct Conn {
    source: SourceId,
    phase: Phase,
}

enum Phase {
    Connecting,
    /// Writing the request: bytes written so far.
    Sending(usize),
    Reading(Vec<u8>),
}

/// What a readiness event did to one connection.
enum Step {
    Wait,
    /// This connection failed; others may still answer.
    Failed(String),
    /// The attempt's outcome.
    Done(Result<(), String>),
}

impl Checks {
    /// The earliest attempt deadline.
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.attempts.iter().map(|a| a.deadline).min()
    }

    /// Whether `source` is one of the attempts' sockets.
    pub(super) fn owns(&self, source: SourceId) -> bool {
        self.position(source).is_some()
    }

    fn position(&self, source: SourceId) -> Option<(usize, usize)> {
        self.attempts
            .iter()
            .enumerate()
            .find_map(|(a, attempt)| match &attempt.how {
                How::Net { conns, .. } => conns
                    .iter()
                    .position(|c| c.source == source)
                    .map(|c| (a, c)),
                How::Exec { .. } => None,
            })
    }

    fn exec_child(&self, child: ChildId) -> Option<usize> {
        self.attempts
            .iter()
            .position(|a| matches!(a.how, How::Exec { child: c, .. } if c == child))
    }
}

impl Runner {
    /// Starts an attempt of a helper's check.
    pub(super) fn start_check(&mut self, attempt: CheckAttempt) {
        let CheckAttempt {
            helper: i,
            kind,
            number,
        } = attempt;
        let spec = self.sup.spec(i);
        let check = match kind {
            CheckKind::Ready => spec.ready_check.clone(),
            CheckKind::Alive => spec.alive_check.clone(),
        };
        let Some(check) = check else {
            return;
        };
        let how = match &check.target {
            Target::Tcp(at) => self.connect(&at.addrs, None),
            Target::Http { at, host, path } => self.connect(&at.addrs, Some(request(host, path))),
            Target::Exec(program) => {
                let mut spec = self.sup.spec(i).clone();
                spec.program = program.clone();
                let mut cmd = super::command::command(&spec, false, false, Default::default());
                cmd.name(format!("{} check", spec.name));
                self.mux.spawn(&cmd).map(|child| How::Exec {
                    child,
                    stderr: Vec::new(),
                })
            }
        };
        match how {
            Ok(how) => self.checks.attempts.push(Attempt {
                helper: i,
                number,
                deadline: Instant::now() + check.interval,
                how,
            }),
            Err(e) => {
                self.sup
                    .check_result(i, number, Err(e.to_string()), Instant::now());
            }
        }
    }

    /// A socket per address, connecting.
    fn connect(&mut self, addrs: &[SocketAddr], request: Option<Vec<u8>>) -> io::Result<How> {
        let mut conns = Vec::new();
        let mut last = None;
        for addr in addrs {
            match start_connect(*addr).and_then(|s| self.mux.add_source(s, Interest::Writable)) {
                Ok(source) => conns.push(Conn {
                    source,
                    phase: Phase::Connecting,
                }),
                Err(e) => last = Some(e),
            }
        }
        match (conns.is_empty(), last) {
            (true, Some(e)) => Err(e),
            (_, last) => Ok(How::Net {
                conns,
                request,
                last: last.map(|e| e.to_string()).unwrap_or_default(),
            }),
        }
    }

    /// One of the attempts' sockets is ready.
    pub(super) fn on_check_ready(&mut self, r: Readiness) -> io::Result<()> {
        let Some((a, c)) = self.checks.position(r.source) else {
            return Ok(());
        };
        let How::Net { conns, request, .. } = &mut self.checks.attempts[a].how else {
            return Ok(());
        };
        let step = advance(&mut self.mux, &mut conns[c], request.as_deref());
        match step {
            Step::Wait => Ok(()),
            Step::Done(result) => self.end_check(a, result),
            Step::Failed(why) => {
                let source = conns.remove(c).source;
                let _ = self.mux.remove_source::<Socket>(source);
                let How::Net { conns, last, .. } = &mut self.checks.attempts[a].how else {
                    return Ok(());
                };
                *last = why;
                match conns.is_empty() {
                    true => {
                        let why = last.clone();
                        self.end_check(a, Err(why))
                    }
                    false => Ok(()),
                }
            }
        }
    }

    /// An event of an exec check's child (`true`: it was one, and is dealt with).
    pub(super) fn check_event(&mut self, event: &Event<'_>) -> io::Result<bool> {
        let child = match event {
            Event::Output(out) => out.child,
            Event::Exited { child, .. } | Event::Closed { child, .. } => *child,
            Event::StdinFailed { child, .. } => *child,
            _ => return Ok(false),
        };
        let Some(a) = self.checks.exec_child(child) else {
            if let Event::Exited { .. } = event {
                return Ok(self.checks.killed.remove(&child));
            }
            return Ok(self.checks.killed.contains(&child));
        };
        match event {
            Event::Output(out) if out.stream == spawnmux::Stream::Stderr => {
                if let How::Exec { stderr, .. } = &mut self.checks.attempts[a].how {
                    stderr.push(out.text().trim_end().to_string());
                    let extra = stderr.len().saturating_sub(STDERR_LINES);
                    stderr.drain(..extra);
                }
            }
            Event::Exited { exit, .. } => {
                let result = match (exit.success(), &self.checks.attempts[a].how) {
                    (true, _) => Ok(()),
                    (false, How::Exec { stderr, .. }) if !stderr.is_empty() => {
                        Err(format!("{exit}: {}", stderr.join(" / ")))
                    }
                    (false, _) => Err(exit.to_string()),
                };
                self.end_check(a, result)?;
            }
            _ => {}
        }
        Ok(true)
    }

    /// Ends attempts past their deadline (a failure) and attempts the supervisor no longer
    /// waits for (the helper stopped, the run stops).
    pub(super) fn check_deadlines(&mut self) -> io::Result<()> {
        let now = Instant::now();
        while let Some(a) = self
            .checks
            .attempts
            .iter()
            .position(|a| a.deadline <= now || !self.sup.awaits_check(a.helper, a.number))
        {
            let why = match &self.checks.attempts[a].how {
                How::Net { last, .. } if !last.is_empty() => format!("no answer in time ({last})"),
                _ => "no answer in time".to_string(),
            };
            self.end_check(a, Err(why))?;
        }
        Ok(())
    }

    /// Attempt `a` is over: its sockets are closed, its child killed if it still runs, and
    /// the result goes to the supervisor.
    fn end_check(&mut self, a: usize, result: Result<(), String>) -> io::Result<()> {
        let attempt = self.checks.attempts.swap_remove(a);
        match attempt.how {
            How::Net { conns, .. } => {
                for c in conns {
                    let _ = self.mux.remove_source::<Socket>(c.source);
                }
            }
            How::Exec { child, .. } if self.mux.pid(child).is_some() => {
                let _ = self.mux.kill(child);
                self.checks.killed.insert(child);
            }
            How::Exec { .. } => {}
        }
        let now = Instant::now();
        self.sup
            .check_result(attempt.helper, attempt.number, result, now);
        self.apply()
    }
}

/// A non-blocking TCP socket connecting to `addr`.
fn start_connect(addr: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Err(e) if !crate::os::connect_pending(&e) => Err(e),
        _ => Ok(socket),
    }
}

/// Moves one connection on after a readiness event.
fn advance(mux: &mut spawnmux::Mux, conn: &mut Conn, request: Option<&[u8]>) -> Step {
    let source = conn.source;
    let Some(socket) = mux.source_mut::<Socket>(source) else {
        return Step::Failed("the socket is gone".to_string());
    };
    if let Phase::Connecting = conn.phase {
        if let Some(e) = socket.take_error().ok().flatten() {
            return Step::Failed(e.to_string());
        }
        if let Err(e) = socket.peer_addr() {
            return Step::Failed(e.to_string());
        }
        let Some(_) = request else {
            return Step::Done(Ok(()));
        };
        conn.phase = Phase::Sending(0);
    }
    if let (Phase::Sending(sent), Some(request)) = (&mut conn.phase, request) {
        match socket.write(&request[*sent..]) {
            Ok(n) => *sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
            Err(e) => return Step::Failed(e.to_string()),
        }
        if *sent < request.len() {
            return Step::Wait;
        }
        conn.phase = Phase::Reading(Vec::new());
        if let Err(e) = mux.set_interest(source, Interest::Readable) {
            return Step::Failed(e.to_string());
        }
        return Step::Wait;
    }
    let Phase::Reading(head) = &mut conn.phase else {
        return Step::Wait;
    };
    read_head(socket, head)
}

/// Reads what is there of the response and decides if its status line and headers are in.
fn read_head(mut socket: &Socket, head: &mut Vec<u8>) -> Step {
    let mut buf = [0u8; 4096];
    loop {
        match socket.read(&mut buf) {
            Ok(0) => {
                return match status(head) {
                    Some(result) => Step::Done(result),
                    None => Step::Failed("the connection closed before a response".to_string()),
                }
            }
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Wait,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Step::Failed(e.to_string()),
        }
        if let Some(result) = status(head) {
            return Step::Done(result);
        }
        if head.len() > MAX_HEAD {
            return Step::Done(Err(format!("no response head in {MAX_HEAD} bytes")));
        }
    }
}

/// `GET path`, with `Host` and `Connection: close`.
fn request(host: &str, path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: spawnmux\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    )
    .into_bytes()
}

/// The outcome of a response whose head is complete (2xx and 3xx: ready); `None` while it
/// is not.
fn status(head: &[u8]) -> Option<Result<(), String>> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Partial) => None,
        Ok(httparse::Status::Complete(_)) => Some(match response.code {
            Some(200..=399) => Ok(()),
            Some(code) => Err(format!(
                "HTTP {code} {}",
                response.reason.unwrap_or_default()
            )),
            None => Err("a response without a status".to_string()),
        }),
        Err(e) => Some(Err(format!("not an HTTP response ({e})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_names_the_host_and_closes() {
        let r = String::from_utf8(request("localhost:5173", "/health?x=1")).expect("utf8");
        assert!(r.starts_with("GET /health?x=1 HTTP/1.1\r\nHost: localhost:5173\r\n"));
        assert!(r.contains("\r\nConnection: close\r\n") && r.ends_with("\r\n\r\n"));
    }

    #[test]
    fn statuses_2xx_and_3xx_are_ready_and_a_partial_head_waits() {
        assert_eq!(
            status(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            Some(Ok(()))
        );
        assert_eq!(
            status(b"HTTP/1.0 302 Found\r\nLocation: /\r\n\r\n"),
            Some(Ok(()))
        );
        assert_eq!(
            status(b"HTTP/1.1 503 Service Unavailable\r\n\r\n"),
            Some(Err("HTTP 503 Service Unavailable".to_string()))
        );
        assert_eq!(status(b"HTTP/1.1 200 OK\r\nContent-Le"), None);
        assert_eq!(status(b"HTTP/1.1 2"), None);
        assert!(status(b"SSH-2.0-OpenSSH\r\n\r\n").is_some_and(|r| r.is_err()));
    }
}
