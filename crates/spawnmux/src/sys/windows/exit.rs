//! Exit detection on Windows: the process handle is signalled when the process ends; it is
//! registered with polling as a one-shot waitable. No thread of ours; polling's waitables use
//! the OS thread pool's wait threads (one per 63 handles).

use std::io;
use std::os::windows::io::RawHandle;

use polling::os::iocp::PollerIocpExt;
use polling::{Event, PollMode, Poller};

use super::spawn::Process;

/// How one child's exit is being watched.
#[derive(Debug)]
pub(crate) struct Watch(RawHandle);

// SAFETY: a HANDLE value is an index into the process's handle table, usable from any thread;
// `Watch` only passes it back to the poller and never closes it.
unsafe impl Send for Watch {}

impl Watch {
    /// Never: Windows has no shared exit source like SIGCHLD.
    pub(crate) fn is_global(&self) -> bool {
        false
    }
}

/// One per `Mux`.
#[derive(Debug)]
pub(crate) struct ExitWatcher;

impl ExitWatcher {
    pub(crate) fn new(_poller: &Poller) -> io::Result<ExitWatcher> {
        Ok(ExitWatcher)
    }

    pub(crate) fn watch(
        &mut self,
        poller: &Poller,
        process: &Process,
        key: usize,
    ) -> io::Result<Watch> {
        let handle = process.raw_handle();
        // SAFETY: the process handle is owned by the child's slot in the `Mux`, which calls
        // `unwatch` before dropping it.
        unsafe { poller.add_waitable(handle, Event::readable(key), PollMode::Oneshot)? };
        Ok(Watch(handle))
    }

    pub(crate) fn unwatch(&mut self, poller: &Poller, watch: Watch) {
        // SAFETY: the handle is still open (see `watch`); it is only borrowed for the call.
        let borrowed = unsafe { std::os::windows::io::BorrowedHandle::borrow_raw(watch.0) };
        let _ = poller.remove_waitable(borrowed);
    }

    pub(crate) fn on_global_event(&mut self) {}
}
