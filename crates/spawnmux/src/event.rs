//! What [`Mux::wait`](crate::Mux::wait) reports: [`Event`]s, collected in [`Events`].

use std::fmt;
use std::io;
use std::sync::Arc;

/// Identifies a child of one [`Mux`](crate::Mux). Never reused within that `Mux`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChildId(pub(crate) u64);

impl ChildId {
    /// The id as a number, unique within its `Mux` (for logs and maps).
    pub fn as_u64(self) -> u64 {
        self.0
    }

    pub(crate) fn new(index: usize, generation: u32) -> ChildId {
        ChildId((u64::from(generation) << 32) | index as u64)
    }

    pub(crate) fn index(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }
}

impl fmt::Display for ChildId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Identifies one of your own sources registered with [`Mux::add_source`](crate::Mux::add_source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SourceId(pub(crate) usize);

/// A captured output stream of a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    pub(crate) fn from_index(i: usize) -> Stream {
        if i == 0 {
            Stream::Stdout
        } else {
            Stream::Stderr
        }
    }

    /// `"stdout"` or `"stderr"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a child ended, the same type on every platform.
///
/// Displayed as `exit code 3`, or `signal 15 (SIGTERM)` with the signal's name on this
/// platform (`os::unix::signal_name`; just `signal N` for a number it does not name).
///
/// # Platform specific behavior
/// On Windows a process always ends with a code (`TerminateProcess` sets one), so
/// [`Exit::Signal`] only occurs on Unix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Exit {
    /// The child exited with this code (`exit(code)`; on Windows the full 32-bit code).
    Code(i32),
    /// The child was killed by this signal number (Unix only).
    Signal(i32),
}

impl Exit {
    /// `true` for [`Exit::Code`]`(0)`.
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }

    /// The exit code, if the child exited normally.
    pub fn code(self) -> Option<i32> {
        match self {
            Exit::Code(c) => Some(c),
            Exit::Signal(_) => None,
        }
    }

    /// The signal number, if a signal killed the child.
    pub fn signal(self) -> Option<i32> {
        match self {
            Exit::Signal(s) => Some(s),
            Exit::Code(_) => None,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(s) => match crate::sys::signal_name(s) {
                Some(name) => write!(f, "signal {s} ({name})"),
                None => write!(f, "signal {s}"),
            },
        }
    }
}

/// A piece of a child's output: normally one line, without its terminator.
///
/// With the default framing every `Output` is a whole line and `newline` is `true`, except:
/// - the last line of a stream that did not end with `\n` arrives with `newline == false`,
///   followed by [`Event::Closed`];
/// - a line longer than [`Command::max_line_len`](crate::Command::max_line_len) arrives in
///   pieces: all but the last have `newline == false`, all but the first have `continued == true`;
/// - with [`Command::flush_partial_after`](crate::Command::flush_partial_after) an unfinished line
///   (a prompt) is delivered after that idle time with `newline == false`; its rest follows with
///   `continued == true`.
///
/// In raw chunk mode ([`Command::raw_chunks`](crate::Command::raw_chunks)) each `Output` is
/// whatever one read returned, `newline` and `continued` are `false`.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Output<'a> {
    /// The child that wrote it.
    pub child: ChildId,
    /// The child's name ([`Command::name`](crate::Command::name)).
    pub name: &'a str,
    /// Which stream it came from.
    pub stream: Stream,
    /// The bytes, exactly as written (never assumed to be UTF-8), without the line terminator.
    pub bytes: &'a [u8],
    /// The piece ended with `\n` (which is not part of `bytes`).
    pub newline: bool,
    /// The piece continues a line that an earlier piece began.
    pub continued: bool,
}

impl Output<'_> {
    /// The bytes as text, with invalid UTF-8 replaced by U+FFFD.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(self.bytes)
    }
}

/// Readiness of a source registered with [`Mux::add_source`](crate::Mux::add_source).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Readiness {
    /// The source.
    pub source: SourceId,
    /// It can be read without blocking (or is at EOF / in error).
    pub readable: bool,
    /// It can be written without blocking.
    pub writable: bool,
}

/// One thing that happened, as reported by [`Mux::wait`](crate::Mux::wait).
///
/// # Ordering
/// For one child: its [`Output`]s arrive in the order written, per stream; [`Event::Exited`]
/// arrives after every byte the child wrote before it exited (unless a grandchild still holds the
/// stream: then later output and [`Event::Closed`] may follow `Exited`). A stream's `Closed`
/// is its last event.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A line (or piece, or chunk) of output.
    Output(Output<'a>),
    /// A captured stream reached end of file: every process holding it has closed it.
    Closed {
        /// The child.
        child: ChildId,
        /// Its name.
        name: &'a str,
        /// The stream.
        stream: Stream,
    },
    /// The child exited and has been reaped.
    Exited {
        /// The child.
        child: ChildId,
        /// Its name.
        name: &'a str,
        /// How it ended.
        exit: Exit,
    },
    /// Writing queued stdin data failed (typically [`io::ErrorKind::BrokenPipe`]: the child
    /// closed its stdin or died). The queue is dropped and stdin closed.
    StdinFailed {
        /// The child.
        child: ChildId,
        /// Its name.
        name: &'a str,
        /// What went wrong.
        kind: io::ErrorKind,
        /// Bytes queued but never written.
        unsent: usize,
    },
    /// A [`Waker`](crate::Waker) with this token was woken (several wakes before the loop
    /// runs are reported once).
    Woken(u64),
    /// One of your own sources is ready.
    Ready(Readiness),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Item {
    Output {
        child: ChildId,
        name: u32,
        stream: Stream,
        start: usize,
        end: usize,
        newline: bool,
        continued: bool,
    },
    Closed {
        child: ChildId,
        name: u32,
        stream: Stream,
    },
    Exited {
        child: ChildId,
        name: u32,
        exit: Exit,
    },
    StdinFailed {
        child: ChildId,
        name: u32,
        kind: io::ErrorKind,
        unsent: usize,
    },
    Woken(u64),
    Ready(Readiness),
}

/// Bytes of output one [`Mux::wait`](crate::Mux::wait) collects at most, across all streams
/// (plus the partial line the first stream carried over): the memory bound under fan-in. Ready
/// streams not served within it are served first by the next `wait`. Twice the per-stream
/// fairness budget, so that one flooding stream leaves room for the others' lines in the same
/// round (with both at 256 KiB, a slow child's line waited one round behind a flood).
pub(crate) const WAIT_BUDGET: usize = 512 * 1024;

/// Capacity beyond which [`Events::clear`] gives the arena's memory back: twice the budget, so
/// that only a batch past the budget (a line longer than it) triggers it.
const KEEP_BYTES: usize = 2 * WAIT_BUDGET;
/// Event records kept allocated: enough for a full batch of 4-byte lines (5 MiB of records; a
/// batch of 10-byte lines needs ~2 MiB, and a limit below what a normal batch needs would
/// reallocate at every `wait`: measured, +50 % parent CPU in W2). A batch of many more (a
/// flood of empty lines) gives its memory back at the next `clear`.
const KEEP_ITEMS: usize = WAIT_BUDGET / 4;

/// A reusable buffer of events filled by [`Mux::wait`](crate::Mux::wait).
///
/// Output bytes live in one arena owned by `Events`; the [`Event`]s you iterate borrow from it,
/// so no allocation happens per line once the buffers have grown. One `wait` collects at most
/// 512 KiB of output (whatever the number of ready children), and a buffer that grew past
/// that for one batch shrinks again when it is cleared.
#[derive(Debug, Default)]
pub struct Events {
    pub(crate) bytes: Vec<u8>,
    pub(crate) items: Vec<Item>,
    pub(crate) names: Vec<Arc<str>>,
}

impl Events {
    /// An empty buffer.
    pub fn new() -> Events {
        Events::default()
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// `true` if there are no events.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Removes all events, keeping the allocated memory (up to what a normal batch needs).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.items.clear();
        self.names.clear();
        if self.bytes.capacity() > KEEP_BYTES {
            self.bytes.shrink_to(WAIT_BUDGET);
        }
        if self.items.capacity() > KEEP_ITEMS {
            self.items.shrink_to(KEEP_ITEMS);
        }
    }

    /// The events, in the order they happened.
    #[inline]
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            events: self,
            pos: 0,
        }
    }

    // Inlined always, and `Iter::next` too: iterating is the per-line hot path of every
    // caller, and inlined into the caller's `match` the conversion from `Item` mostly
    // disappears. A plain `#[inline]` was not followed once a program iterated `Events` in two
    // places (the benchmark's W2: `get` out of line took 6 % of the parent's CPU).
    #[inline(always)]
    fn get(&self, item: &Item) -> Event<'_> {
        let name = |i: &u32| &*self.names[*i as usize];
        match item {
            Item::Output {
                child,
                name: n,
                stream,
                start,
                end,
                newline,
                continued,
            } => Event::Output(Output {
                child: *child,
                name: name(n),
                stream: *stream,
                bytes: &self.bytes[*start..*end],
                newline: *newline,
                continued: *continued,
            }),
            Item::Closed {
                child,
                name: n,
                stream,
            } => Event::Closed {
                child: *child,
                name: name(n),
                stream: *stream,
            },
            Item::Exited {
                child,
                name: n,
                exit,
            } => Event::Exited {
                child: *child,
                name: name(n),
                exit: *exit,
            },
            Item::StdinFailed {
                child,
                name: n,
                kind,
                unsent,
            } => Event::StdinFailed {
                child: *child,
                name: name(n),
                kind: *kind,
                unsent: *unsent,
            },
            Item::Woken(t) => Event::Woken(*t),
            Item::Ready(r) => Event::Ready(*r),
        }
    }
}

/// Iterator over [`Events`].
#[derive(Debug)]
pub struct Iter<'a> {
    events: &'a Events,
    pos: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Event<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Event<'a>> {
        let item = self.events.items.get(self.pos)?;
        self.pos += 1;
        Some(self.events.get(item))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.events.items.len() - self.pos;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Events {
    type Item = Event<'a>;
    type IntoIter = Iter<'a>;

    #[inline]
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_displays_code_or_signal() {
        assert_eq!(Exit::Code(3).to_string(), "exit code 3");
        assert_eq!(Exit::Signal(0).to_string(), "signal 0");
    }

    #[cfg(unix)]
    #[test]
    fn exit_names_the_platforms_signal() {
        let usr1 = libc::SIGUSR1; // 10 on Linux, 30 on macOS and the BSDs
        assert_eq!(
            Exit::Signal(usr1).to_string(),
            format!("signal {usr1} (SIGUSR1)")
        );
        let term = libc::SIGTERM;
        assert_eq!(
            Exit::Signal(term).to_string(),
            format!("signal {term} (SIGTERM)")
        );
    }
}
