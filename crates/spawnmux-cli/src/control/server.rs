//! The control server in the runner's loop: the listener and every client are sources of the
//! runner's `Mux` (non-blocking, level-triggered), so a client is served between two rounds
//! of output and can never block the loop.
//!
//! Limits: at most [`MAX_CLIENTS`] connections (a client beyond that gets an error and is
//! closed; on Windows a connection that has not shown the token yet makes room first); a
//! request line of at most 64 KiB; a client's requests are not read while 64 KiB of its
//! replies wait ([`conn::PAUSE_AT`]); a following client whose unsent lines pass 2 MiB is
//! dropped ([`conn::DROP_AT`]).

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;
use spawnmux::{Interest, Mux, Output, Readiness, SourceId, Stream};

use super::conn::{self, Conn, Line};
use super::endpoint::Guard;
use super::protocol::{self, HelperStatus, Invalid, Request};
use super::ring::{Kind, Ring};
use crate::os::{self, CtlListener, CtlStream};
use crate::supervisor::Supervisor;

/// Connections served at once.
pub(crate) const MAX_CLIENTS: usize = 64;
/// Pieces kept per helper for `logs`.
pub(crate) const KEEP_LINES: usize = 1000;
/// Bytes kept per helper for `logs` (a power of two).
pub(crate) const KEEP_BYTES: usize = 256 * 1024;
/// A longer piece is kept cut to this many bytes.
pub(crate) const KEEP_PIECE: usize = 16 * 1024;

struct Client {
    conn: Conn,
    /// What the `Mux` reports for it now.
    interest: Interest,
}

pub(crate) struct Server {
    listener: SourceId,
    /// The listener reported an error (out of descriptors?): not polled until a client goes.
    listener_paused: bool,
    clients: HashMap<SourceId, Client>,
    token: Option<String>,
    names: Vec<String>,
    /// Each helper's name as a JSON string.
    json_names: Vec<Vec<u8>>,
    rings: Vec<Ring>,
    /// Per helper: how many clients follow its log.
    followers: Vec<usize>,
    /// A follower has lines to send.
    dirty: bool,
    /// Removes the socket file when the server goes.
    _guard: Guard,
}

impl Server {
    /// Serves `endpoint` (at `path`) for helpers called `names`.
    pub(crate) fn new(
        endpoint: os::CtlEndpoint,
        path: PathBuf,
        names: &[String],
        mux: &mut Mux,
    ) -> std::io::Result<Server> {
        let guard = Guard {
            path,
            stamp: endpoint.stamp,
        };
        let listener = mux.add_source(endpoint.listener, Interest::Readable)?;
        Ok(Server {
            listener,
            listener_paused: false,
            clients: HashMap::new(),
            token: endpoint.token,
            names: names.to_vec(),
            json_names: names
                .iter()
                .map(|n| json!(n).to_string().into_bytes())
                .collect(),
            rings: names
                .iter()
                .map(|_| Ring::new(KEEP_LINES, KEEP_BYTES, KEEP_PIECE))
                .collect(),
            followers: vec![0; names.len()],
            dirty: false,
            _guard: guard,
        })
    }

    /// Whether `source` is the listener or a client.
    pub(crate) fn owns(&self, source: SourceId) -> bool {
        source == self.listener || self.clients.contains_key(&source)
    }

    /// One of [`Server::owns`]'s sources is ready. Requests go to `sup` (the runner applies
    /// its actions afterwards).
    pub(crate) fn ready(
        &mut self,
        r: Readiness,
        mux: &mut Mux,
        sup: &mut Supervisor,
        now: Instant,
    ) {
        if r.source == self.listener {
            self.accept(mux);
        } else {
            self.serve(r.source, r.readable, mux, sup, now);
        }
    }

    /// One piece of helper `helper`'s output (the log's hot path): kept for `logs`, and
    /// queued for the clients that follow the helper.
    #[inline]
    pub(crate) fn output(&mut self, helper: usize, out: &Output<'_>) {
        let Some(ring) = self.rings.get_mut(helper) else {
            return;
        };
        let kind = Kind {
            stderr: out.stream == Stream::Stderr,
            newline: out.newline,
            continued: out.continued,
            cut: false,
        };
        ring.push(out.bytes, kind);
        if self.followers[helper] > 0 {
            self.follow(helper);
        }
    }

    /// The newest piece of `helper` to every client that follows it.
    #[cold]
    fn follow(&mut self, helper: usize) {
        let Some(piece) = self.rings[helper].last(1).next() else {
            return;
        };
        for c in self.clients.values_mut() {
            if c.conn.follow == Some(helper) {
                protocol::piece(c.conn.out(), &self.json_names[helper], &piece);
                c.conn.out().push(b'\n');
            }
        }
        self.dirty = true;
    }

    /// Sends what followers have waiting (once per loop round); drops those too far behind.
    pub(crate) fn flush(&mut self, mux: &mut Mux) {
        if self.listener_paused && self.clients.is_empty() {
            self.resume_listener(mux);
        }
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        let ids: Vec<SourceId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.conn.follow.is_some() && c.conn.unsent() > 0)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(mut c) = self.clients.remove(&id) else {
                continue;
            };
            let written = match mux.source_mut::<CtlStream>(id) {
                Some(stream) => c.conn.write_to(stream).is_ok(),
                None => false,
            };
            if written && c.conn.unsent() <= conn::DROP_AT {
                self.settle(id, c, mux);
            } else {
                self.drop_client(id, c, mux);
            }
        }
    }

    /// The run is over: a last try at what followers have waiting, then every connection and
    /// the listener are closed (the guard removes the socket file).
    pub(crate) fn close(mut self, mux: &mut Mux) {
        self.dirty = true;
        self.flush(mux);
        for (id, _) in self.clients.drain() {
            let _ = mux.remove_source::<CtlStream>(id);
        }
        let _ = mux.remove_source::<CtlListener>(self.listener);
    }

    fn accept(&mut self, mux: &mut Mux) {
        for _ in 0..MAX_CLIENTS {
            let Some(listener) = mux.source::<CtlListener>(self.listener) else {
                return;
            };
            let stream = match os::ctl_accept(listener) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionAborted => continue,
                Err(_) => {
                    // Likely out of descriptors: the listener would be ready at every round.
                    self.listener_paused = mux.set_interest(self.listener, Interest::None).is_ok();
                    return;
                }
            };
            if self.clients.len() >= MAX_CLIENTS && !self.evict_untrusted(mux) {
                let mut refused = Vec::new();
                let limit = format!("too many control connections (at most {MAX_CLIENTS})");
                protocol::error_reply(&mut refused, &limit);
                let _ = (&stream).write(&refused);
                continue;
            }
            if let Ok(id) = mux.add_source(stream, Interest::Readable) {
                let client = Client {
                    conn: Conn::new(self.token.is_none()),
                    interest: Interest::Readable,
                };
                self.clients.insert(id, client);
            }
        }
    }

    /// Closes a connection that has not shown the token yet, to make room.
    fn evict_untrusted(&mut self, mux: &mut Mux) -> bool {
        let Some(id) = self
            .clients
            .iter()
            .find(|(_, c)| !c.conn.trusted)
            .map(|(id, _)| *id)
        else {
            return false;
        };
        if let Some(c) = self.clients.remove(&id) {
            self.drop_client(id, c, mux);
        }
        true
    }

    fn resume_listener(&mut self, mux: &mut Mux) {
        self.listener_paused = mux.set_interest(self.listener, Interest::Readable).is_err();
    }

    /// Reads a client's requests, answers them and writes what it can.
    fn serve(
        &mut self,
        id: SourceId,
        readable: bool,
        mux: &mut Mux,
        sup: &mut Supervisor,
        now: Instant,
    ) {
        let Some(mut c) = self.clients.remove(&id) else {
            return;
        };
        let Some(stream) = mux.source_mut::<CtlStream>(id) else {
            return;
        };
        if readable && c.conn.wants_input() {
            c.conn.read_from(stream);
        }
        let mut ok = true;
        // Answer while the replies fit; a round of 16 keeps one client from holding the loop.
        for _ in 0..16 {
            let answered = self.answer(&mut c.conn, sup, now);
            ok = c.conn.write_to(stream).is_ok();
            if !ok || answered == 0 || c.conn.unsent() > 0 {
                break;
            }
        }
        if ok {
            self.settle(id, c, mux);
        } else {
            self.drop_client(id, c, mux);
        }
    }

    /// Answers the request lines the connection holds, while its replies fit.
    fn answer(&mut self, conn: &mut Conn, sup: &mut Supervisor, now: Instant) -> usize {
        let mut answered = 0;
        while !conn.closing && conn.unsent() < conn::PAUSE_AT {
            match conn.next_line() {
                None => break,
                Some(Line::TooLong) => {
                    let too_long = format!("request line over {} bytes", protocol::MAX_LINE);
                    protocol::error_reply(conn.out(), &too_long);
                    conn.closing = true;
                }
                Some(Line::Request(line)) => self.request(conn, &line, sup, now),
            }
            answered += 1;
        }
        answered
    }

    fn request(&mut self, conn: &mut Conn, line: &[u8], sup: &mut Supervisor, now: Instant) {
        let parsed = protocol::parse(line);
        if !conn.trusted {
            let token = parsed.as_ref().ok().and_then(|(_, t)| t.as_deref());
            if !same(token, self.token.as_deref()) {
                let needs = "this runner wants its endpoint file's token in the first request";
                protocol::error_reply(conn.out(), needs);
                conn.closing = true;
                return;
            }
            conn.trusted = true;
        }
        match parsed {
            Err(Invalid::NotJson(why)) => {
                protocol::error_reply(conn.out(), &why);
                conn.closing = true;
            }
            Err(Invalid::Refused(why)) => protocol::error_reply(conn.out(), &why),
            Ok(_) if conn.follow.is_some() => {
                let busy = "this connection follows a log; use another one for other requests";
                protocol::error_reply(conn.out(), busy);
            }
            Ok((request, _)) => self.dispatch(conn, request, sup, now),
        }
    }

    fn dispatch(&mut self, conn: &mut Conn, request: Request, sup: &mut Supervisor, now: Instant) {
        let out = conn.out();
        match request {
            Request::Hello => protocol::reply(
                out,
                &protocol::Hello {
                    ok: true,
                    pid: std::process::id(),
                    protocol: protocol::VERSION,
                    version: env!("CARGO_PKG_VERSION"),
                    helpers: &self.names,
                },
            ),
            Request::Status => {
                let status = sup.status(now);
                let helpers = status.iter().map(HelperStatus::from).collect();
                protocol::reply(out, &protocol::StatusReply { ok: true, helpers });
            }
            Request::Helper { name, request } => {
                match self
                    .index(&name, sup)
                    .and_then(|i| sup.request(i, request, now))
                {
                    Ok(()) => protocol::ok_reply(out),
                    Err(why) => protocol::error_reply(out, &why),
                }
            }
            Request::Logs {
                name,
                lines,
                follow,
            } => match self.index(&name, sup) {
                Ok(i) => self.logs(conn, i, lines, follow),
                Err(why) => protocol::error_reply(out, &why),
            },
        }
    }

    /// The helper called `name`, or an error naming the helpers there are.
    fn index(&self, name: &str, sup: &Supervisor) -> Result<usize, String> {
        sup.index(name)
            .filter(|&i| i < self.rings.len())
            .ok_or_else(|| {
                format!(
                    "no helper named `{name}` (helpers: {})",
                    self.names.join(", ")
                )
            })
    }

    /// `{"ok":true,"lines":[…]}`; with `follow`, the connection gets every new piece.
    fn logs(&mut self, conn: &mut Conn, i: usize, lines: Option<usize>, follow: bool) {
        let out = conn.out();
        out.extend_from_slice(b"{\"ok\":true,\"lines\":[");
        let ring = &self.rings[i];
        for (k, piece) in ring.last(lines.unwrap_or(usize::MAX)).enumerate() {
            if k > 0 {
                out.push(b',');
            }
            protocol::piece(out, &self.json_names[i], &piece);
        }
        out.extend_from_slice(b"]}\n");
        if follow {
            conn.follow = Some(i);
            self.followers[i] += 1;
        }
    }

    /// Puts a served client back, polled for what it now waits for, or closes it.
    fn settle(&mut self, id: SourceId, mut c: Client, mux: &mut Mux) {
        if c.conn.done() {
            return self.drop_client(id, c, mux);
        }
        let interest = match (c.conn.wants_input(), c.conn.unsent() > 0) {
            (true, true) => Interest::Both,
            (true, false) => Interest::Readable,
            (false, true) => Interest::Writable,
            (false, false) => Interest::None,
        };
        if interest != c.interest {
            if mux.set_interest(id, interest).is_err() {
                return self.drop_client(id, c, mux);
            }
            c.interest = interest;
        }
        self.clients.insert(id, c);
    }

    fn drop_client(&mut self, id: SourceId, c: Client, mux: &mut Mux) {
        if let Some(h) = c.conn.follow {
            self.followers[h] -= 1;
        }
        let _ = mux.remove_source::<CtlStream>(id);
        if self.listener_paused {
            self.resume_listener(mux);
        }
    }
}

/// Token comparison that takes as long whatever the first difference.
fn same(given: Option<&str>, wanted: Option<&str>) -> bool {
    match (given, wanted) {
        (Some(g), Some(w)) if g.len() == w.len() => {
            g.bytes()
                .zip(w.bytes())
                .fold(0, |acc, (a, b)| acc | (a ^ b))
                == 0
        }
        _ => false,
    }
}
