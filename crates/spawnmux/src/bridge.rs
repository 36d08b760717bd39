//! The async adapters on Windows: one thread per adapter does the only blocking poll of the
//! `Mux`'s poller and hands the readiness to the async side, which owns the [`Mux`] and
//! handles it there.
//!
//! Why a thread: the `Mux` waits on an IOCP (through `polling`), and an IOCP is not a handle
//! another runtime's IOCP can wait on, so the readiness-fd design of Unix has no equivalent.
//!
//! How: the thread is a readiness source, nothing more. When the async `wait` has nothing to
//! return it asks the thread for readiness (with the `Mux`'s next deadline as the poll's
//! timeout) and awaits it; the thread blocks in `Poller::wait`, parks what it got (a
//! `Vec<polling::Event>`, possibly empty: a notification or the timeout) and wakes the task.
//! The async side then runs `Mux::wait_given` on it — the same dispatch, reads, exit drains
//! and timers as `Mux::wait`, without a poll — on its own thread. So the `Mux` is never
//! touched by the thread, its state (`is_empty`, `running`) always matches the events
//! returned, and `with_mux` needs no lock: it runs the closure, then notifies the poller (a
//! spawn's registrations are queued until the thread's wait returns, see
//! /work/shared/windows/NOTES.md, `add_waitable`). Readiness is taken only in a poll that
//! handles it synchronously and returns, so the future is cancel-safe.
//!
//! Not Windows-specific code: pure std and `polling`, unit-tested on every platform.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::Instant;

use polling::Poller;

use crate::error::context;
use crate::event::Events;
use crate::Mux;

/// What the thread and the async side share.
#[derive(Default)]
struct State {
    /// The async side wants readiness, polled until this deadline (`None`: no deadline).
    want: Option<Option<Instant>>,
    /// The deadline of the poll in progress, if one is.
    polling: Option<Option<Instant>>,
    /// Readiness for the async side.
    ready: Option<Vec<polling::Event>>,
    /// The task waiting for readiness.
    task: Option<std::task::Waker>,
    stop: bool,
    /// The poller failed: reported by the next async `wait`; the thread has ended.
    error: Option<io::Error>,
}

struct Shared {
    state: Mutex<State>,
    turn: Condvar,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// The thread: polls when asked, parks the readiness, until `stop` or an error.
    fn run(&self, poller: &Poller) {
        let mut found = polling::Events::new();
        loop {
            let mut st = lock(&self.state);
            while !st.stop && st.want.is_none() {
                st = self.turn.wait(st).unwrap_or_else(|p| p.into_inner());
            }
            let Some(deadline) = st.want.take().filter(|_| !st.stop) else {
                return;
            };
            st.polling = Some(deadline);
            drop(st);
            found.clear();
            let timeout = deadline.map(|at| at.saturating_duration_since(Instant::now()));
            let polled = poller.wait(&mut found, timeout);
            let mut st = lock(&self.state);
            st.polling = None;
            let failed = polled.is_err();
            match polled {
                Ok(_) => st.ready.get_or_insert_with(Vec::new).extend(found.iter()),
                Err(e) => st.error = Some(e),
            }
            if let Some(task) = st.task.take() {
                task.wake();
            }
            if failed {
                return;
            }
        }
    }
}

/// The polling thread; stopped and joined on drop.
struct Thread {
    shared: Arc<Shared>,
    poller: Arc<Poller>,
    handle: Option<JoinHandle<()>>,
}

impl Drop for Thread {
    fn drop(&mut self) {
        lock(&self.shared.state).stop = true;
        self.shared.turn.notify_all();
        let _ = self.poller.notify();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Thread {
    /// Asks the thread for readiness until `deadline`; cuts a poll in progress short if it
    /// would sleep past it.
    fn request(&self, deadline: Option<Instant>) {
        let mut st = lock(&self.shared.state);
        st.want = Some(deadline);
        let later = |d: Option<Instant>| deadline.is_some_and(|at| d.is_none_or(|d| d > at));
        if st.polling.is_some_and(later) {
            let _ = self.poller.notify();
        }
        self.shared.turn.notify_all();
    }

    /// Takes parked readiness (`None`: none yet; the task is registered).
    fn poll_ready(&self, cx: Option<&mut Context<'_>>) -> Poll<io::Result<Vec<polling::Event>>> {
        let mut st = lock(&self.shared.state);
        if let Some(e) = st.error.take() {
            return Poll::Ready(Err(context(e, "waiting for events (AsyncMux thread)")));
        }
        match (st.ready.take(), cx) {
            (Some(ready), _) => Poll::Ready(Ok(ready)),
            (None, Some(cx)) => {
                st.task = Some(cx.waker().clone());
                Poll::Pending
            }
            (None, None) => Poll::Ready(Ok(Vec::new())),
        }
    }
}

/// The async side: the `Mux` and its polling thread.
pub(crate) struct Bridge {
    // Declared first: stopped before the `Mux` is dropped.
    thread: Thread,
    mux: Mux,
}

/// Ready at the second poll: lets other tasks run (any executor).
async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

impl Bridge {
    pub(crate) fn new(mux: Mux) -> io::Result<Bridge> {
        let poller = mux.shared_poller();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            turn: Condvar::new(),
        });
        let (run, run_poller) = (shared.clone(), poller.clone());
        let handle = std::thread::Builder::new()
            .name("spawnmux-async".into())
            .spawn(move || run.run(&run_poller))
            .map_err(|e| context(e, "starting the AsyncMux's thread"))?;
        let thread = Thread {
            shared,
            poller,
            handle: Some(handle),
        };
        Ok(Bridge { thread, mux })
    }

    pub(crate) fn into_inner(self) -> Mux {
        let Bridge { thread, mux } = self;
        drop(thread);
        mux
    }

    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn mux(&self) -> &Mux {
        &self.mux
    }

    pub(crate) fn with_mux<R>(&mut self, f: impl FnOnce(&mut Mux) -> R) -> R {
        let result = f(&mut self.mux);
        // Lets the thread's poll register what `f` added (and re-poll with it). An error here
        // means the poller is gone; the thread's poll reports it.
        let _ = self.thread.poller.notify();
        result
    }

    pub(crate) async fn wait(&mut self, events: &mut Events) -> io::Result<usize> {
        // Only `thread` (Sync) is borrowed across awaits: the future is `Send`.
        let thread = &self.thread;
        let mut ready = match thread.poll_ready(None) {
            Poll::Ready(r) => r?,
            Poll::Pending => Vec::new(),
        };
        loop {
            let n = self.mux.wait_given(&ready, events);
            if n > 0 {
                return Ok(n);
            }
            let deadline = self.mux.next_deadline();
            if deadline.is_some_and(|at| at <= Instant::now()) {
                yield_now().await;
                ready.clear();
                continue;
            }
            thread.request(deadline);
            ready = std::future::poll_fn(|cx| thread.poll_ready(Some(cx))).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;

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
            assert!(bridge.with_mux(|mux| mux.is_empty()));
        }
        assert!(bridge.mux().is_empty());
        let mux = bridge.into_inner();
        assert!(mux.is_empty());
        Ok(())
    }

    #[test]
    fn a_dropped_wait_loses_nothing() -> io::Result<()> {
        let mut bridge = Bridge::new(Mux::new()?)?;
        let waker = bridge.with_mux(|mux| mux.waker(1));
        let mut events = Events::new();
        {
            // Polled once (the thread is asked to poll), then dropped.
            let noop = std::task::Waker::noop();
            let mut fut = std::pin::pin!(bridge.wait(&mut events));
            assert!(fut
                .as_mut()
                .poll(&mut Context::from_waker(noop))
                .is_pending());
        }
        waker.wake()?;
        assert_eq!(block_on(bridge.wait(&mut events))?, 1);
        Ok(())
    }
}
