//! [`Waker`]: wakes the loop from another thread.

use std::fmt;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use polling::Poller;

use super::Mux;
use crate::event::{Events, Item};

/// What a `Mux` shares with its wakers: the poller to notify and the tokens woken since the
/// last `wait`.
pub(super) struct Wakes {
    poller: Arc<Poller>,
    tokens: Mutex<Vec<u64>>,
}

impl Wakes {
    pub(super) fn new(poller: Arc<Poller>) -> Wakes {
        Wakes {
            poller,
            tokens: Mutex::new(Vec::new()),
        }
    }

    fn tokens(&self) -> MutexGuard<'_, Vec<u64>> {
        self.tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records `tokens` for the next `wait`, each once however often it is added.
    pub(super) fn add(&self, tokens: impl IntoIterator<Item = u64>) {
        let mut woken = self.tokens();
        for token in tokens {
            if !woken.contains(&token) {
                woken.push(token);
            }
        }
    }

    /// `true` if tokens wait for the next `wait`.
    pub(super) fn pending(&self) -> bool {
        !self.tokens().is_empty()
    }

    /// Moves the recorded tokens into `events` as `Event::Woken`s.
    #[inline]
    pub(super) fn take(&self, events: &mut Events) {
        events
            .items
            .extend(self.tokens().drain(..).map(Item::Woken));
    }
}

/// Wakes a [`Mux`] from any thread: its next (or current) [`Mux::wait`] returns
/// [`Event::Woken`](crate::Event::Woken) with this waker's token.
///
/// This is how an event source that is not a file descriptor (a thread waiting on something,
/// a channel, a file-system watcher) joins the one loop: the seed article's "turn an arbitrary
/// event source into a selectable descriptor". Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Waker {
    shared: Arc<Wakes>,
    token: u64,
}

impl fmt::Debug for Waker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waker").field("token", &self.token).finish()
    }
}

impl Waker {
    /// Wakes the `Mux`. Several wakes with the same token before the loop runs are reported
    /// as one [`Event::Woken`](crate::Event::Woken). Works (and does nothing useful) after the
    /// `Mux` is dropped.
    ///
    /// # Errors
    /// Only if the OS refuses to signal the poller (practically never).
    pub fn wake(&self) -> io::Result<()> {
        self.shared.add([self.token]);
        self.shared.poller.notify()
    }

    /// The token this waker reports.
    pub fn token(&self) -> u64 {
        self.token
    }
}

/// Wake-ups from other threads.
impl Mux {
    /// A [`Waker`] that makes [`wait`](Mux::wait) report
    /// [`Event::Woken`](crate::Event::Woken)`(token)`.
    pub fn waker(&self, token: u64) -> Waker {
        Waker {
            shared: self.wakes.clone(),
            token,
        }
    }
}
