//! The [`Mux`] inside a tokio runtime: [`AsyncMux`] (feature `tokio`).
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
//! [`Mux::next_deadline`] (with `tokio::time`), then calls `Mux::wait` with a zero timeout on
//! the task's own thread. No thread is started, nothing is copied.
//!
//! On Windows an IOCP cannot be registered with another runtime's, so one thread per
//! `AsyncMux` owns the `Mux` and runs its loop (see [`AsyncMux`]'s `# Platform specific
//! behavior`).

use std::io;

use crate::event::Events;
use crate::Mux;

/// A [`Mux`] driven by tokio: [`wait`](AsyncMux::wait) is an `async fn`; everything else is
/// the `Mux`'s own API, reached through [`with_mux`](AsyncMux::with_mux) (every platform) or,
/// on Unix, `Deref`/`DerefMut` (`mux.spawn(..)`, `mux.terminate(..)`).
///
/// Works on the current_thread and the multi-thread runtime. Must be created inside a tokio
/// runtime with IO and time enabled (`enable_all`).
///
/// Don't call the blocking [`Mux::shutdown`] on a runtime thread: it runs its own loop for up to
/// its grace period. Terminate the children and keep awaiting `wait` instead, or drop the
/// `AsyncMux` (which kills and reaps every child, like dropping a `Mux`).
///
/// # Platform specific behavior
/// Unix: no thread; the `Mux` lives in the `AsyncMux`. Windows: one background thread per
/// `AsyncMux` (never per child) does the blocking poll of the `Mux`'s IOCP and hands the
/// readiness over; the `Mux` stays in the `AsyncMux` and handles it on the awaiting task's
/// thread. Cost there: one thread, a thread hand-off per poll, and a poller notification per
/// `with_mux` call (so the thread's poll sees what the closure registered). No `Deref` there
/// (it would skip that notification): use `with_mux` in portable code.
pub struct AsyncMux {
    inner: imp::Inner,
}

impl std::fmt::Debug for AsyncMux {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncMux").finish_non_exhaustive()
    }
}

impl AsyncMux {
    /// A new, empty `AsyncMux`.
    ///
    /// # Errors
    /// If the `Mux` cannot be created or registered with the runtime.
    ///
    /// # Panics
    /// Outside a tokio runtime, or in one without IO enabled.
    pub fn new() -> io::Result<AsyncMux> {
        AsyncMux::from_mux(Mux::new()?)
    }

    /// Drives an existing `Mux` (its children and sources stay).
    ///
    /// # Errors
    /// If the `Mux` cannot be registered with the runtime (Windows: its thread cannot start).
    ///
    /// # Panics
    /// Outside a tokio runtime, or in one without IO enabled.
    pub fn from_mux(mux: Mux) -> io::Result<AsyncMux> {
        Ok(AsyncMux {
            inner: imp::Inner::new(mux)?,
        })
    }

    /// The `Mux` back (events not yet returned by `wait` stay in it).
    pub fn into_inner(self) -> Mux {
        self.inner.into_inner()
    }

    /// Waits for events and puts them in `events` (cleared first); returns how many (never 0).
    /// [`Mux::wait`]'s guarantees hold (order, byte budgets, `Exited` after output).
    ///
    /// # Cancel safety
    /// Cancel-safe: events are moved into `events` only just before the future completes, so
    /// dropping it (a losing `tokio::select!` branch) loses nothing; the next call returns
    /// what was not returned yet.
    ///
    /// # Errors
    /// If the OS poller or the runtime's reactor fails.
    pub async fn wait(&mut self, events: &mut Events) -> io::Result<usize> {
        self.inner.wait(events).await
    }

    /// Runs `f` with the `Mux` (spawn, write to stdin, terminate, a waker, …) and returns what
    /// it returns: the same on every platform.
    pub fn with_mux<R>(&mut self, f: impl FnOnce(&mut Mux) -> R) -> R {
        self.inner.with_mux(f)
    }
}

#[cfg(all(unix, not(spawnmux_force_bridge)))]
#[path = "tokio/unix.rs"]
mod imp;

// `spawnmux_force_bridge`: Linux CI runs the Windows design too.
#[cfg(any(windows, spawnmux_force_bridge))]
#[path = "tokio/windows.rs"]
mod imp;

#[cfg(all(unix, not(spawnmux_force_bridge)))]
impl std::ops::Deref for AsyncMux {
    type Target = Mux;
    fn deref(&self) -> &Mux {
        self.inner.mux()
    }
}

#[cfg(all(unix, not(spawnmux_force_bridge)))]
impl std::ops::DerefMut for AsyncMux {
    fn deref_mut(&mut self) -> &mut Mux {
        self.inner.mux_mut()
    }
}
