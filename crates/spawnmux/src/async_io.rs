//! The [`Mux`](crate::Mux) inside smol or any async-io based executor: [`AsyncMux`] (feature `async-io`).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use spawnmux::{async_io::AsyncMux, Command, Event, Events};
//!
//! let mut mux = AsyncMux::new()?;
//! mux.with_mux(|mux| mux.spawn(Command::new("cargo").arg("--version")))?;
//! let mut events = Events::new();
//! while !mux.with_mux(|mux| mux.is_empty()) {
//!     mux.wait(&mut events).await?; // cancel-safe: fine in a race (`futures_lite::future::or`)
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
//! On Unix a duplicate of the `Mux`'s poller fd is registered with async-io's reactor
//! ([`Async`](::async_io::Async)); [`AsyncMux::wait`] awaits its readiness or
//! [`Mux::next_deadline`](crate::Mux::next_deadline) (an [`async_io::Timer`]), then calls
//! `Mux::wait` with a zero timeout on the task's own thread. No thread is started, nothing is copied.
//!
//! On Windows an IOCP cannot be registered with another runtime's, so one thread per
//! `AsyncMux` does the blocking poll and hands the readiness over (see [`AsyncMux`]'s
//! `# Platform specific behavior`).

#[cfg(all(unix, not(spawnmux_force_bridge)))]
#[path = "async_io/unix.rs"]
mod imp;

// `spawnmux_force_bridge`: Linux CI runs the Windows design too.
#[cfg(any(windows, spawnmux_force_bridge))]
#[path = "async_io/windows.rs"]
mod imp;

crate::adapter::async_mux! {
    driven_by: "async-io (smol)",
    works: "Works with any executor: async-io runs its own reactor.",
    panics: "",
    reactor: "async-io's reactor",
    race: "a losing branch of a race",
}
