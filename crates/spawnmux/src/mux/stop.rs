//! Stopping children: signals to a child's tree, [`Mux::shutdown`], and the kill-reap-release
//! path that ends both `shutdown` and `Drop`.

use std::io;
use std::time::{Duration, Instant};

use super::Mux;
use crate::error::context;
use crate::event::{ChildId, Event, Events};
use crate::sys::Signal;

/// After `SIGKILL`, how long `shutdown` keeps the loop running for the last output and exits.
const AFTER_KILL: Duration = Duration::from_secs(5);

/// The callback of [`Mux::shutdown`].
type OnEvent<'a> = &'a mut dyn FnMut(Event<'_>);

/// Stopping children: one, or all of them.
impl Mux {
    /// Asks the child's whole tree to stop: `SIGTERM` to its process group (Windows:
    /// `CTRL_BREAK_EVENT` to its process group). The exit arrives as [`Event::Exited`].
    ///
    /// Calling it for a child that has already finished does nothing.
    ///
    /// # Errors
    /// If the OS refuses the signal (`EPERM`).
    pub fn terminate(&mut self, id: ChildId) -> io::Result<()> {
        self.signal(id, Signal::Terminate)
    }

    /// Kills the child's whole tree: `SIGKILL` to its process group (Windows:
    /// `TerminateJobObject`). The exit arrives as [`Event::Exited`].
    ///
    /// Calling it for a child that has already finished does nothing.
    ///
    /// # Errors
    /// If the OS refuses the signal (`EPERM`).
    pub fn kill(&mut self, id: ChildId) -> io::Result<()> {
        self.signal(id, Signal::Kill)
    }

    pub(crate) fn signal(&mut self, id: ChildId, sig: Signal) -> io::Result<()> {
        let Some(slot) = self.slot_mut(id) else {
            return Ok(());
        };
        let name = slot.name.clone();
        slot.process
            .signal_tree(sig)
            .map_err(|e| context(e, format!("signalling `{name}`")))
    }

    fn signal_all(&mut self, sig: Signal) {
        for (_, slot) in self.children.iter_mut() {
            let _ = slot.process.signal_tree(sig);
        }
    }

    /// Stops everything: [`terminate`](Mux::terminate)s every child, keeps running the loop
    /// for up to `grace` while they exit, then [`kill`](Mux::kill)s what is left and reaps every
    /// child. Every event that happens meanwhile (last lines, exits) is passed to `on_event`.
    /// Afterwards the `Mux` has no children; your sources stay registered. A `grace` longer
    /// than the clock can count from now (`Duration::MAX`) waits for every exit.
    ///
    /// # Errors
    /// Only if the OS poller fails.
    pub fn shutdown(
        &mut self,
        grace: Duration,
        mut on_event: impl FnMut(Event<'_>),
    ) -> io::Result<()> {
        let mut events = Events::new();
        self.signal_all(Signal::Terminate);
        // `None`: a grace beyond what the clock can count (`Duration::MAX`), i.e. no deadline.
        let deadline = Instant::now().checked_add(grace);
        while self.running > 0 {
            let left = match deadline {
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => break,
                },
                None => grace,
            };
            self.wait_children(&mut events, left, &mut on_event)?;
        }
        // Whatever is left (children that ignore SIGTERM, grandchildren holding a pipe open).
        self.kill_reap_release(Some((&mut events, &mut on_event)))
    }

    /// The end of every child, for `shutdown` and `Drop`: `SIGKILL` to every tree; with
    /// `report`, the loop runs on (up to [`AFTER_KILL`]) so the last output and exits reach
    /// its callback; then every child not yet reaped is reaped (blocking) and every slot
    /// released.
    pub(super) fn kill_reap_release(
        &mut self,
        report: Option<(&mut Events, OnEvent<'_>)>,
    ) -> io::Result<()> {
        self.signal_all(Signal::Kill);
        if let Some((events, on_event)) = report {
            let deadline = Instant::now() + AFTER_KILL;
            while !self.children.is_empty() && Instant::now() < deadline {
                self.wait_children(events, Duration::from_millis(50), on_event)?;
            }
        }
        // Still there after SIGKILL: a descendant that left the group (setsid) holds a pipe,
        // or a child is stuck in the kernel. Reap what we can, then let go of the rest.
        for (_, slot) in self.children.iter_mut() {
            if slot.exit.is_none() {
                slot.exit = slot.process.wait().ok();
            }
        }
        self.release_children();
        Ok(())
    }

    /// One `wait` that passes events to `on_event` but leaves `Woken`/`Ready` for later.
    fn wait_children(
        &mut self,
        events: &mut Events,
        timeout: Duration,
        on_event: OnEvent<'_>,
    ) -> io::Result<()> {
        self.wait(events, Some(timeout))?;
        let mut requeue = Vec::new();
        for ev in events.iter() {
            match ev {
                Event::Woken(t) => requeue.push(t),
                other => on_event(other),
            }
        }
        if !requeue.is_empty() {
            self.wakes.add(requeue);
        }
        Ok(())
    }

    /// Deregisters and drops every child (they must be reaped or beyond help).
    fn release_children(&mut self) {
        for (_, mut slot) in std::mem::take(&mut self.children) {
            for st in slot.streams.iter_mut().filter_map(Option::take) {
                st.reader.deregister(&self.poller);
            }
            if let Some(stdin) = slot.stdin.take() {
                stdin.close(&self.poller);
            }
            if let Some(watch) = slot.watch.take() {
                self.exits.unwatch(&self.poller, watch);
            }
        }
        self.running = 0;
        self.check_now.clear();
        self.backlog.clear();
        self.flush_timers.clear();
    }
}

impl Drop for Mux {
    fn drop(&mut self) {
        // Without `report` nothing can fail.
        let _ = self.kill_reap_release(None);
        self.deregister_sources();
    }
}
