//! The [`Mux`](crate::Mux) inside a tokio runtime: [`AsyncMux`] (feature `tokio`).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use spawnmux::{tokio::AsyncMux, Command, Event, Events};
//!
//! let mut mux = AsyncMux::new()?;
//! mux.with_mux(|mux| mux.spawn(Command::new("cargo").arg("--version")))?;
//! let mut events = Events::new();
//! while !mux.with_mux(|mux| mux.is_empty()) {
//!     mux.wait(&mut events).await?; // cancel-safe: fine in `tokio::select!`
//!     for event in &events {
//!         if let Event::Output(line) = event {
//!             println!("{}: {}", line.name, line.text());
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Implementation notes
//! On Unix the `Mux`'s poller fd is registered with tokio's reactor
//! ([`AsyncFd`](::tokio::io::unix::AsyncFd)); [`AsyncMux::wait`] awaits its readiness or
//! [`Mux::next_deadline`](crate::Mux::next_deadline) (with `tokio::time`), then calls `Mux::wait` with a zero timeout on
//! the task's own thread. No thread is started, nothing is copied. While every `wait` finds
//! events, the fd leaves the reactor (a nested epoll costs every write of every child a second
//! wake-up in the kernel) and `wait` answers from zero-timeout waits, spending tokio's
//! cooperative budget so that the thread's other tasks still run.
//!
//! On Windows an IOCP cannot be registered with another runtime's, so one thread per
//! `AsyncMux` does the blocking poll and hands the readiness over (see [`AsyncMux`]'s
//! `# Platform specific behavior`).

#[cfg(all(unix, not(spawnmux_force_bridge)))]
#[path = "tokio/unix.rs"]
mod imp;

// `spawnmux_force_bridge`: Linux CI runs the Windows design too.
#[cfg(any(windows, spawnmux_force_bridge))]
#[path = "tokio/windows.rs"]
mod imp;

crate::adapter::async_mux! {
    driven_by: "tokio",
    works: "Works on the current_thread and the multi-thread runtime. Must be created inside a \
            tokio runtime with IO and time enabled (`enable_all`).",
    panics: "# Panics\nOutside a tokio runtime, or in one without IO enabled.",
    reactor: "the runtime's reactor",
    race: "a losing `tokio::select!` branch",
}
