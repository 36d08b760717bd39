//! What the runtime adapters (`tokio.rs`, `async_io.rs`) share: their public `AsyncMux`, one
//! definition for both. Each adapter module declares its own `imp` (`imp::Inner`: `new`,
//! `into_inner`, `with_mux`, `async wait`, and on Unix `mux`/`mux_mut`) and calls
//! [`async_mux!`] with the words its docs need; the methods are the same for every runtime.

/// Defines `pub struct AsyncMux` around `imp::Inner`, its methods, and (Unix) `Deref` to the
/// `Mux`. The arguments are doc text: the runtime (`driven_by`), where it works (`works`), what
/// `new` and `from_mux` may panic for (`panics`, a whole `# Panics` section or ""), the reactor
/// registration can fail with (`reactor`), and what drops a `wait` future (`race`).
macro_rules! async_mux {
    (
        driven_by: $driven_by:literal,
        works: $works:literal,
        panics: $panics:literal,
        reactor: $reactor:literal,
        race: $race:literal $(,)?
    ) => {
        #[doc = concat!("A [`Mux`](crate::Mux) driven by ", $driven_by, ": [`wait`](AsyncMux::wait) is an `async fn`; everything else is")]
        /// the `Mux`'s own API, reached through [`with_mux`](AsyncMux::with_mux) (every platform)
        /// or, on Unix, `Deref`/`DerefMut` (`mux.spawn(..)`, `mux.terminate(..)`).
        ///
        #[doc = $works]
        ///
        /// Don't call the blocking [`Mux::shutdown`](crate::Mux::shutdown) on a runtime thread: it runs its own loop for
        /// up to its grace period. Terminate the children and keep awaiting `wait` instead, or drop
        /// the `AsyncMux` (which kills and reaps every child, like dropping a `Mux`).
        ///
        /// # Platform specific behavior
        /// Unix: no thread; the `Mux` lives in the `AsyncMux`. Windows: one background thread per
        /// `AsyncMux` (never per child) does the blocking poll of the `Mux`'s IOCP and hands the
        /// readiness over; the `Mux` stays in the `AsyncMux` and handles it on the awaiting task's
        /// thread. Cost there: one thread, a thread hand-off per poll, and a poller notification
        /// per `with_mux` call (so the thread's poll sees what the closure registered). No `Deref`
        /// there (it would skip that notification): use `with_mux` in portable code.
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
            #[doc = concat!("If the `Mux` cannot be created or registered with ", $reactor, ".")]
            ///
            #[doc = $panics]
            pub fn new() -> std::io::Result<AsyncMux> {
                AsyncMux::from_mux($crate::Mux::new()?)
            }

            /// Drives an existing `Mux` (its children and sources stay).
            ///
            /// # Errors
            #[doc = concat!("If the `Mux` cannot be registered with ", $reactor, " (Windows: its thread cannot start).")]
            ///
            #[doc = $panics]
            pub fn from_mux(mux: $crate::Mux) -> std::io::Result<AsyncMux> {
                Ok(AsyncMux {
                    inner: imp::Inner::new(mux)?,
                })
            }

            /// The `Mux` back (events not yet returned by `wait` stay in it).
            pub fn into_inner(self) -> $crate::Mux {
                self.inner.into_inner()
            }

            /// Waits for events and puts them in `events` (cleared first); returns how many
            /// (never 0). [`Mux::wait`](crate::Mux::wait)'s guarantees hold (order, byte budgets, `Exited` after
            /// output).
            ///
            /// # Cancel safety
            /// Cancel-safe: events are moved into `events` only just before the future completes,
            #[doc = concat!("so dropping it (", $race, ") loses nothing; the next call returns what was")]
            /// not returned yet.
            ///
            /// # Errors
            #[doc = concat!("If the OS poller or ", $reactor, " fails.")]
            pub async fn wait(&mut self, events: &mut $crate::Events) -> std::io::Result<usize> {
                self.inner.wait(events).await
            }

            /// Runs `f` with the `Mux` (spawn, write to stdin, terminate, a waker, …) and returns
            /// what it returns: the same on every platform.
            pub fn with_mux<R>(&mut self, f: impl FnOnce(&mut $crate::Mux) -> R) -> R {
                self.inner.with_mux(f)
            }
        }

        #[cfg(all(unix, not(spawnmux_force_bridge)))]
        impl std::ops::Deref for AsyncMux {
            type Target = $crate::Mux;
            fn deref(&self) -> &$crate::Mux {
                self.inner.mux()
            }
        }

        #[cfg(all(unix, not(spawnmux_force_bridge)))]
        impl std::ops::DerefMut for AsyncMux {
            fn deref_mut(&mut self) -> &mut $crate::Mux {
                self.inner.mux_mut()
            }
        }
    };
}

pub(crate) use async_mux;
