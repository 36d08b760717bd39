//! Shared helpers for the library's integration tests: the test child, an owned copy of
//! events, and a loop that runs until a condition holds or a generous deadline passes.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use spawnmux::{ChildId, Command, Event, Events, Exit, Mux, Stream};

/// Far beyond what any test needs on a loaded 2-core machine: hitting it is a hang, not
/// slowness.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// A command running the workspace's test child with `ops`.
pub fn child(ops: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spawnmux-testchild"));
    cmd.args(ops);
    cmd
}

/// An event, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Line {
        child: ChildId,
        stream: Stream,
        bytes: Vec<u8>,
        newline: bool,
        continued: bool,
    },
    Closed(ChildId, Stream),
    Exited(ChildId, Exit),
    StdinFailed(ChildId, std::io::ErrorKind, usize),
    Woken(u64),
    Ready(spawnmux::SourceId, bool, bool),
}

impl Ev {
    pub fn from(event: Event<'_>) -> Ev {
        match event {
            Event::Output(o) => Ev::Line {
                child: o.child,
                stream: o.stream,
                bytes: o.bytes.to_vec(),
                newline: o.newline,
                continued: o.continued,
            },
            Event::Closed { child, stream, .. } => Ev::Closed(child, stream),
            Event::Exited { child, exit, .. } => Ev::Exited(child, exit),
            Event::StdinFailed {
                child,
                kind,
                unsent,
                ..
            } => Ev::StdinFailed(child, kind, unsent),
            Event::Woken(t) => Ev::Woken(t),
            Event::Ready(r) => Ev::Ready(r.source, r.readable, r.writable),
            other => panic!("unexpected event {other:?}"),
        }
    }
}

/// Runs the loop, passing every event to `f`, until `f` returns `true`. Panics after
/// [`DEADLINE`].
pub fn run_until(mux: &mut Mux, mut f: impl FnMut(&Mux, Event<'_>) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    let mut events = Events::new();
    let mut seen = 0usize;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "deadline passed; the loop hangs after {seen} events; {mux:?}"
        );
        seen += events.len();
        mux.wait(&mut events, Some(left)).expect("wait");
        for event in &events {
            if f(mux, event) {
                return;
            }
        }
    }
}

/// Runs until the `Mux` tracks no child, and returns every event, owned.
pub fn run_to_end(mux: &mut Mux) -> Vec<Ev> {
    let mut all = Vec::new();
    if mux.is_empty() {
        return all;
    }
    let deadline = Instant::now() + DEADLINE;
    let mut events = Events::new();
    while !mux.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "deadline passed; the loop hangs; {} events so far, the last ones: {:?}",
            all.len(),
            &all[all.len().saturating_sub(8)..]
        );
        mux.wait(&mut events, Some(left)).expect("wait");
        all.extend(events.iter().map(Ev::from));
    }
    all
}

/// The lines (bytes) a child wrote to a stream, in order of arrival.
pub fn lines_of(evs: &[Ev], id: ChildId, which: Stream) -> Vec<Vec<u8>> {
    evs.iter()
        .filter_map(|e| match e {
            Ev::Line {
                child,
                stream,
                bytes,
                ..
            } if *child == id && *stream == which => Some(bytes.clone()),
            _ => None,
        })
        .collect()
}

/// The child's exit, which must have been reported exactly once.
pub fn exit_of(evs: &[Ev], id: ChildId) -> Exit {
    let exits: Vec<Exit> = evs
        .iter()
        .filter_map(|e| match e {
            Ev::Exited(c, x) if *c == id => Some(*x),
            _ => None,
        })
        .collect();
    assert_eq!(exits.len(), 1, "exit events for {id}: {evs:?}");
    exits[0]
}

/// `true` if no process with this pid exists any more (a zombie counts as existing).
#[cfg(target_os = "linux")]
pub fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // A zombie whose parent is not us (reparented to an init that does not reap) is dead.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z') && !is_our_child(pid)),
    }
}

#[cfg(target_os = "linux")]
fn is_our_child(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let (_, rest) = s.rsplit_once(')')?;
            rest.split_whitespace().nth(1)?.parse::<u32>().ok()
        })
        == Some(std::process::id())
}

/// Waits (polling /proc, up to [`DEADLINE`]) until `pid` is gone.
#[cfg(target_os = "linux")]
pub fn wait_gone(pid: u32) {
    let deadline = Instant::now() + DEADLINE;
    while !gone(pid) {
        assert!(Instant::now() < deadline, "process {pid} is still alive");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Parses `NAME <number>` from a line.
pub fn number_after(line: &[u8], prefix: &str) -> Option<u32> {
    std::str::from_utf8(line)
        .ok()?
        .strip_prefix(prefix)?
        .trim()
        .parse()
        .ok()
}

/// This process's fds that a child would inherit (no `O_CLOEXEC`), sorted.
#[cfg(target_os = "linux")]
pub fn inheritable_fds() -> Vec<u32> {
    const O_CLOEXEC: u32 = 0o2000000;
    let mut fds: Vec<u32> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| {
            std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
                .ok()
                .and_then(|info| {
                    let flags = info.lines().find_map(|l| l.strip_prefix("flags:"))?;
                    u32::from_str_radix(flags.trim(), 8).ok()
                })
                .is_some_and(|flags| flags & O_CLOEXEC == 0)
        })
        .collect();
    fds.sort_unstable();
    fds
}
