//! The async adapters on Windows: one thread per adapter owns the [`Mux`] and runs its loop;
//! the async side takes whole [`Events`] batches from it and reaches the `Mux` in between.
//!
//! Why a thread: the `Mux` waits on an IOCP (through `polling`), and an IOCP is not a handle
//! another runtime's IOCP can wait on, so the readiness-fd design of Unix has no equivalent.
//!
//! How: the thread loops `Mux::wait(None)` with the `Mux` locked. A batch it collected is
//! parked in `State::ready` (one at a time: the thread waits until the async side took it, so
//! the `Mux`'s byte budgets still bound memory) and the async task is woken. The async side
//! swaps the batch into the caller's `Events` and hands its old buffer back (`spare`): nothing
//! is copied. [`Bridge::with_mux`] interrupts the thread's `wait` (the `Mux`'s crate-private
//! [`Interrupter`]), holds the thread off until done, and runs the closure on the caller's
//! thread. The batch moves only in a poll that returns `Ready`, so the future is cancel-safe.
//!
//! Not Windows-specific code: pure std, unit-tested on every platform.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use crate::error::context;
use crate::event::Events;
use crate::mux::Interrupter;
use crate::Mux;

/// What the thread and the async side share besides the `Mux`.
#[derive(Default)]
struct State {
    /// A batch for the async side.
    ready: Option<Events>,
    /// A buffer for the thread's next `wait`.
    spare: Option<Events>,
    /// The task waiting for a batch.
    task: Option<std::task::Waker>,
    /// `with_mux` calls that want the `Mux`: the thread does not wait meanwhile.
    access: usize,
    stop: bool,
    /// The `Mux`'s `wait` failed: reported by the next async `wait`; the thread has ended.
    error: Option<io::Error>,
}

struct Shared {
    mux: Mutex<Mux>,
    state: Mutex<State>,
    turn: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// The thread: waits, hands batches over, until `stop` or an error.
    fn run(&self) {
        loop {
            let mut st = lock(&self.state);
            while !st.stop && (st.access > 0 || st.ready.is_some()) {
                st = self.turn.wait(st).unwrap_or_else(|p| p.into_inner());
            }
            if st.stop {
                return;
            }
            let mut events = st.spare.take().unwrap_or_default();
            drop(st);
            let waited = lock(&self.mux).wait(&mut events, None);
            let mut st = lock(&self.state);
            match waited {
                Ok(0) => st.spare = Some(events), // interrupted
                Ok(_) => st.ready = Some(events),
                Err(e) => st.error = Some(e),
            }
            let failed = st.error.is_some();
            if let Some(task) = st.ready.is_some().then(|| st.task.take()).flatten() {
                task.wake();
            } else if failed {
                if let Some(task) = st.task.take() {
                    task.wake();
                }
            }
            if failed {
                return;
            }
        }
    }
}

/// The async side's handle on the thread and the `Mux`.
pub(crate) struct Bridge {
    shared: Arc<Shared>,
    interrupter: Interrupter,
    thread: Option<JoinHandle<()>>,
}

impl Bridge {
    pub(crate) fn new(mux: Mux) -> io::Result<Bridge> {
        let interrupter = mux.interrupter();
        let shared = Arc::new(Shared {
            mux: Mutex::new(mux),
            state: Mutex::new(State::default()),
            turn: Condvar::new(),
        });
        let run = shared.clone();
        let thread = std::thread::Builder::new()
            .name("spawnmux-async".into())
            .spawn(move || run.run())
            .map_err(|e| context(e, "starting the AsyncMux's thread"))?;
        Ok(Bridge {
            shared,
            interrupter,
            thread: Some(thread),
        })
    }

    /// Stops and joins the thread (its `wait` is interrupted).
    fn stop(&mut self) {
        lock(&self.shared.state).stop = true;
        self.shared.turn.notify_all();
        let _ = self.interrupter.interrupt();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    pub(crate) fn into_inner(mut self) -> Mux {
        self.stop();
        let shared = self.shared.clone();
        drop(self);
        // UNWRAP: the thread has ended and `self` is gone: this is the last reference.
        #[allow(clippy::unwrap_used)]
        let shared = Arc::into_inner(shared).unwrap();
        shared
            .mux
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn with_mux<R>(&mut self, f: impl FnOnce(&mut Mux) -> R) -> R {
        lock(&self.shared.state).access += 1;
        // An error here means the poller is gone; the thread's `wait` reports it.
        let _ = self.interrupter.interrupt();
        let result = f(&mut lock(&self.shared.mux));
        let mut st = lock(&self.shared.state);
        st.access -= 1;
        if st.access == 0 {
            self.shared.turn.notify_all();
        }
        result
    }

    fn poll_wait(&self, cx: &mut Context<'_>, events: &mut Events) -> Poll<io::Result<usize>> {
        let mut st = lock(&self.shared.state);
        if let Some(e) = st.error.take() {
            return Poll::Ready(Err(context(e, "waiting for events (AsyncMux thread)")));
        }
        let Some(mut batch) = st.ready.take() else {
            st.task = Some(cx.waker().clone());
            return Poll::Pending;
        };
        std::mem::swap(events, &mut batch);
        st.spare = Some(batch);
        self.shared.turn.notify_all();
        Poll::Ready(Ok(events.len()))
    }

    pub(crate) async fn wait(&mut self, events: &mut Events) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_wait(cx, events)).await
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // The thread drops nothing: the `Mux` (children killed and reaped) goes with `shared`.
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
                return out;
            }
            std::thread::park();
        }
    }

    #[test]
    fn wakes_pass_through_with_mux_gets_the_mux_and_into_inner_returns_it() -> io::Result<()> {
        let mut bridge = Bridge::new(Mux::new()?)?;
        let waker = bridge.with_mux(|mux| mux.waker(7));
        let mut events = Events::new();
        for round in 0..50 {
            waker.wake()?;
            assert_eq!(block_on(bridge.wait(&mut events))?, 1, "round {round}");
            assert!(matches!(events.iter().next(), Some(crate::Event::Woken(7))));
            // The thread is in `wait` again: `with_mux` must get through.
            assert!(bridge.with_mux(|mux| mux.is_empty()));
        }
        let mux = bridge.into_inner();
        assert!(mux.is_empty());
        Ok(())
    }

    #[test]
    fn dropped_wait_polls_lose_nothing() -> io::Result<()> {
        let mut bridge = Bridge::new(Mux::new()?)?;
        let waker = bridge.with_mux(|mux| mux.waker(1));
        let noop = std::task::Waker::noop();
        let mut events = Events::new();
        // A poll that finds nothing registers the task and is dropped; the batch stays.
        assert!(bridge
            .poll_wait(&mut Context::from_waker(noop), &mut events)
            .is_pending());
        waker.wake()?;
        assert_eq!(block_on(bridge.wait(&mut events))?, 1);
        Ok(())
    }
}
