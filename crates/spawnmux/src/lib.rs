//! Spawn child processes and handle everything they do — every output line, every exit —
//! together with wake-ups from other threads and your own sockets, in **one poll loop with no
//! thread per child**, on Linux, macOS and Windows.
//!
//! ```
//! use spawnmux::{Command, Event, Events, Mux, Stream};
//!
//! // Two small shell scripts: one succeeds, one complains on stderr and fails.
//! let (shell, flag, ok, bad) = if cfg!(windows) {
//!     ("cmd", "/c", "echo hello", "echo oops 1>&2 & exit 3")
//! } else {
//!     ("sh", "-c", "echo hello", "echo oops >&2; exit 3")
//! };
//! let mut mux = Mux::new()?;
//! for (name, script) in [("ok", ok), ("bad", bad)] {
//!     let mut cmd = Command::new(shell);
//!     cmd.args([flag, script]).name(name);
//!     mux.spawn(&cmd)?;
//! }
//! let mut events = Events::new();
//! let mut exits = Vec::new();
//! while !mux.is_empty() {
//!     mux.wait(&mut events, None)?;
//!     for event in &events {
//!         match event {
//!             // stdout is information, stderr a warning: the seed article's Qgoda.
//!             Event::Output(out) if out.stream == Stream::Stdout => {
//!                 println!("[{}][info]: {}", out.name, out.text())
//!             }
//!             Event::Output(out) => println!("[{}][warning]: {}", out.name, out.text()),
//!             Event::Exited { name, exit, .. } => exits.push((name.to_string(), exit.code())),
//!             _ => {}
//!         }
//!     }
//! }
//! exits.sort();
//! assert_eq!(exits, [("bad".to_string(), Some(3)), ("ok".to_string(), Some(0))]);
//! # std::io::Result::Ok(())
//! ```
//!
//! # Concepts
//! - [`Command`] describes a child: program, arguments, environment, working directory, and
//!   for each standard stream whether it is [captured](Stdio::Capture), inherited, null or a
//!   file. It is built on [`std::process::Command`] on Unix.
//! - [`Mux`] owns a poller and the children. [`Mux::spawn`] starts one and returns its
//!   [`ChildId`]; [`Mux::wait`] fills an [`Events`] buffer with what happened.
//! - [`Event`]: an output line ([`Output`]: bytes, never assumed to be UTF-8, with `newline`
//!   and `continued` flags for partial and over-long lines), a stream's end ([`Event::Closed`]),
//!   an exit ([`Event::Exited`] with a portable [`Exit`]), a failed stdin write, a wake-up
//!   ([`Event::Woken`]) or readiness of one of your sources ([`Event::Ready`]).
//! - Terminals: [`Command::pty`] runs a child on a pseudo-terminal of a [`PtySize`] (it sees
//!   `isatty()`, colours, draws progress, reads keys); [`Command::pty_stdout`] keeps its stderr
//!   a pipe; [`Mux::resize`] changes the window size; [`Mux::write_stdin`] types into it.
//! - [`Waker`] wakes the loop from any thread: the way to bring a non-pollable event source
//!   (a file watcher, a channel) into the same loop.
//! - Termination: [`Mux::terminate`] and [`Mux::kill`] reach the child's whole process tree;
//!   [`Mux::shutdown`] stops everything gracefully; dropping the `Mux` kills and reaps every
//!   child.
//! - With the `tracing` feature, [`trace::log_event`] logs output the way the seed's Qgoda does:
//!   stdout at INFO, stderr at WARN, with the child's name as a field.
//!
//! # Inside another event loop
//! A program that already runs tokio, smol or its own loop drives the `Mux` from there:
//! - [`tokio::AsyncMux`] (feature `tokio`) and [`async_io::AsyncMux`] (feature `async-io`,
//!   for smol): `mux.wait(&mut events).await`, cancel-safe, no thread on Unix (one per
//!   `AsyncMux` on Windows, where an IOCP cannot be nested in another runtime's).
//! - Any other loop, on Unix: the `Mux` is [`AsFd`](std::os::fd::AsFd) (its epoll or kqueue
//!   fd). The contract: register that fd for readability (level- or edge-triggered), and call
//!   `mux.wait(&mut events, Some(Duration::ZERO))` — which never blocks — whenever it is
//!   readable or [`Mux::next_deadline`] has passed. With an edge-triggered loop, call again
//!   until a zero-timeout `wait` returns 0 events and `next_deadline` is not due, before waiting
//!   for the next edge. (On Linux, while the fd is registered in another epoll, every write of
//!   every child also wakes that epoll: a loop that keeps finding events may deregister the fd
//!   until a zero `wait` finds none, as the tokio adapter does.) With `mio`:
//!
//! ```
//! # #[cfg(unix)]
//! # fn main() -> std::io::Result<()> {
//! use std::os::fd::AsRawFd;
//! use std::time::{Duration, Instant};
//!
//! use mio::{unix::SourceFd, Interest, Poll, Token};
//! use spawnmux::{Command, Events, Mux};
//!
//! let mut mux = Mux::new()?;
//! mux.spawn(Command::new("sh").args(["-c", "echo hello"]))?;
//! let mut poll = Poll::new()?;
//! let fd = mux.as_raw_fd();
//! poll.registry().register(&mut SourceFd(&fd), Token(0), Interest::READABLE)?;
//! // ... your own sources, registered with other tokens ...
//! let mut ready = mio::Events::with_capacity(64);
//! let mut events = Events::new();
//! while !mux.is_empty() {
//!     let timeout = mux.next_deadline().map(|at| at.saturating_duration_since(Instant::now()));
//!     poll.poll(&mut ready, timeout)?;
//!     // (mio is edge-triggered, but one zero wait per turn is enough here: the Mux's own
//!     // registrations are level-triggered, so its fd fires again while work remains.)
//!     mux.wait(&mut events, Some(Duration::ZERO))?;
//!     for event in &events {
//!         println!("{event:?}");
//!     }
//! }
//! # Ok(())
//! # }
//! # #[cfg(not(unix))]
//! # fn main() {}
//! ```
//!
//! # Guarantees
//! - Lossless: every byte a child writes to a captured stream is delivered, once, in order.
//! - [`Event::Exited`] comes after every byte the child wrote before exiting. A grandchild that
//!   keeps the stream open does not delay it; what it writes later follows, then
//!   [`Event::Closed`].
//! - Memory per stream is bounded by the maximum line length ([`Command::max_line_len`]).
//! - No thread per child, no `waitpid(-1)`, no `SIGPIPE`, no fd or handle leaks into other
//!   children (every fd is close-on-exec; on Windows only the child's own handles are
//!   inherited). Per process, (Linux) one guard process, and a spawner thread only if the guard cannot
//!   be started.
//!
//! # Platforms
//! | | output | exit detection | tree termination | die with parent | terminal |
//! |---|---|---|---|---|---|
//! | Linux | pipes + epoll | pidfd (SIGCHLD pipe before 5.3) | process group | group guard process (the whole group) | pty, own session |
//! | macOS, BSD | pipes + kqueue | kqueue `EVFILT_PROC` | process group | — | pty, own session |
//! | Windows | overlapped named pipes (default) or loopback socket pairs, IOCP | process handle (waitable) | job object | job object | ConPTY (Windows 10 1809+) |
#![deny(missing_docs, missing_debug_implementations)]
#![warn(clippy::unwrap_used)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(test, feature = "__fuzz"))]
#[doc(hidden)]
#[path = "fuzz.rs"]
pub mod __fuzz;
#[cfg(any(feature = "tokio", feature = "async-io"))]
mod adapter;
#[cfg(feature = "async-io")]
#[cfg_attr(docsrs, doc(cfg(feature = "async-io")))]
pub mod async_io;
#[cfg(any(
    test,
    all(
        any(windows, spawnmux_force_bridge),
        any(feature = "tokio", feature = "async-io")
    )
))]
mod bridge;
#[cfg(any(windows, test, feature = "__fuzz"))]
mod cmdline;
mod command;
mod error;
mod event;
mod framing;
mod mux;
pub mod os;
mod pty;
mod sys;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod tokio;
#[cfg(feature = "tracing")]
pub mod trace;

pub use command::{Command, Stdio, DEFAULT_MAX_LINE_LEN};
pub use event::{ChildId, Event, Events, Exit, Iter, Output, Readiness, SourceId, Stream};
pub use mux::{Interest, Mux, Waker};
pub use pty::PtySize;
pub use sys::Source;
