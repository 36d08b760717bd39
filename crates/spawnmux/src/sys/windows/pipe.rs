//! The pipe transport: named pipes whose parent end is overlapped and polled through the
//! `OVERLAPPED` event registered as a waitable (see the module doc of `sys::windows`).
//!
//! Invariants that make this sound:
//! - the `OVERLAPPED` and the buffer live in a `Box` that never moves while an operation is in
//!   flight, and an in-flight operation is cancelled and waited for before they are freed;
//! - the event is removed from the poller (`deregister`) before it is closed: the `Mux` always
//!   deregisters a stream before dropping it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::io;
use std::mem::ManuallyDrop;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use polling::os::iocp::PollerIocpExt;
use polling::{Event, PollMode, Poller};
use windows_sys::Win32::Foundation::{
    GetLastError, ERROR_BROKEN_PIPE, ERROR_HANDLE_EOF, ERROR_IO_INCOMPLETE, ERROR_IO_PENDING,
    ERROR_NO_DATA, ERROR_OPERATION_ABORTED, ERROR_PIPE_NOT_CONNECTED, FALSE, GENERIC_READ,
    GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE, TRUE, WAIT_TIMEOUT,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, ReadFile, WriteFile, FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_FLAG_OVERLAPPED,
    FILE_READ_ATTRIBUTES, FILE_WRITE_ATTRIBUTES, OPEN_EXISTING, PIPE_ACCESS_INBOUND,
    PIPE_ACCESS_OUTBOUND,
};
use windows_sys::Win32::System::Pipes::{
    CreateNamedPipeW, PeekNamedPipe, PIPE_READMODE_BYTE, PIPE_REJECT_REMOTE_CLIENTS,
    PIPE_TYPE_BYTE, PIPE_WAIT,
};
use windows_sys::Win32::System::Threading::{CreateEventW, SetEvent};
use windows_sys::Win32::System::IO::{
    CancelIoEx, GetOverlappedResult, GetOverlappedResultEx, OVERLAPPED,
};

use super::last_error;

/// The named pipe's in/out buffer quota and the size of the one read kept in flight (see
/// ARCHITECTURE.md, "Pipe sizes").
pub(crate) const BUF: usize = 64 * 1024;

/// Creates a pipe for one standard stream. `inbound`: the parent reads (stdout/stderr), else
/// the parent writes (stdin). Returns (parent's overlapped end, child's inheritable end).
pub(crate) fn pair(inbound: bool) -> io::Result<(OwnedHandle, OwnedHandle)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        r"\\.\pipe\spawnmux-{}-{}-{:016x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        RandomState::new().hash_one(0u8),
    );
    let wide: Vec<u16> = name.encode_utf16().chain([0]).collect();
    let direction = if inbound {
        PIPE_ACCESS_INBOUND
    } else {
        PIPE_ACCESS_OUTBOUND
    };
    // SAFETY: `wide` is NUL-terminated; a null security descriptor makes a non-inheritable
    // handle with the default security.
    let parent = unsafe {
        CreateNamedPipeW(
            wide.as_ptr(),
            direction | FILE_FLAG_OVERLAPPED | FILE_FLAG_FIRST_PIPE_INSTANCE,
            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
            1,
            BUF as u32,
            BUF as u32,
            0,
            std::ptr::null(),
        )
    };
    if parent == INVALID_HANDLE_VALUE {
        return Err(last_error("creating a named pipe"));
    }
    // SAFETY: `parent` is a valid handle we just created and own.
    let parent = unsafe { OwnedHandle::from_raw_handle(parent as RawHandle) };
    let access = if inbound {
        GENERIC_WRITE | FILE_READ_ATTRIBUTES
    } else {
        GENERIC_READ | FILE_WRITE_ATTRIBUTES
    };
    let sa = super::inheritable();
    // SAFETY: `wide` is NUL-terminated, `sa` lives across the call; no template file.
    let child = unsafe {
        CreateFileW(
            wide.as_ptr(),
            access,
            0,
            &sa,
            OPEN_EXISTING,
            0,
            std::ptr::null_mut(),
        )
    };
    if child == INVALID_HANDLE_VALUE {
        return Err(last_error("opening the child's end of a named pipe"));
    }
    // SAFETY: `child` is a valid handle we just opened and own.
    let child = unsafe { OwnedHandle::from_raw_handle(child as RawHandle) };
    Ok((parent, child))
}

/// The calling thread's last Win32 error code.
fn last_code() -> u32 {
    // SAFETY: GetLastError has no preconditions.
    unsafe { GetLastError() }
}

/// A manual-reset event, initially not signalled.
fn event() -> io::Result<OwnedHandle> {
    // SAFETY: no name, default security; the result is checked.
    let h = unsafe { CreateEventW(std::ptr::null(), TRUE, FALSE, std::ptr::null()) };
    if h.is_null() {
        return Err(last_error("creating an event"));
    }
    // SAFETY: `h` is a valid event handle we own.
    Ok(unsafe { OwnedHandle::from_raw_handle(h as RawHandle) })
}

/// The `OVERLAPPED` and its buffer, at a fixed address (boxed) while I/O is in flight.
struct Io {
    ov: OVERLAPPED,
    buf: [u8; BUF],
}

// SAFETY: the raw pointers inside OVERLAPPED are a handle value (`hEvent`) and kernel-owned
// fields; `Io` is only accessed through its owning reader/writer, which may move to another
// thread with the `Mux` (handles are process-wide), never shared.
unsafe impl Send for Io {}

impl Io {
    fn new() -> Box<Io> {
        // SAFETY: OVERLAPPED and a byte array are plain data for which all-zero is valid.
        unsafe { Box::new(std::mem::zeroed()) }
    }

    /// Resets the `OVERLAPPED` for a new operation signalling `event`.
    fn arm(&mut self, event: &OwnedHandle) {
        // SAFETY: all-zero is a valid OVERLAPPED (offset 0, no result yet).
        self.ov = unsafe { std::mem::zeroed() };
        self.ov.hEvent = event.as_raw_handle() as HANDLE;
    }

    /// Starts an overlapped operation signalling `event`: `call` issues it (`ReadFile` or
    /// `WriteFile` on this buffer and `OVERLAPPED`). Returns `ERROR_IO_PENDING` if it is under
    /// way or already done (either way its result comes from `GetOverlappedResult`), else the
    /// error code.
    fn start(&mut self, event: &OwnedHandle, call: impl FnOnce(&mut Io) -> i32) -> u32 {
        self.arm(event);
        if call(self) != 0 {
            ERROR_IO_PENDING
        } else {
            last_code()
        }
    }
}

/// Result of `GetOverlappedResult` without waiting.
enum Done {
    Bytes(u32),
    Incomplete,
    Closed,
    /// The operation was cancelled: Windows cancels a thread's pending I/O when the thread
    /// exits, and a `Mux` may be created on a thread that ends before it does. Reissue it.
    Aborted,
}

fn overlapped_result(pipe: &OwnedHandle, io: &Io, what: &str) -> io::Result<Done> {
    let mut n = 0u32;
    // SAFETY: `io.ov` is the OVERLAPPED of an operation started on `pipe`, alive and unmoved.
    let ok = unsafe { GetOverlappedResult(pipe.as_raw_handle() as HANDLE, &io.ov, &mut n, FALSE) };
    if ok != 0 {
        return Ok(Done::Bytes(n));
    }
    match last_code() {
        ERROR_IO_INCOMPLETE => Ok(Done::Incomplete),
        ERROR_OPERATION_ABORTED => Ok(Done::Aborted),
        ERROR_BROKEN_PIPE | ERROR_PIPE_NOT_CONNECTED | ERROR_HANDLE_EOF | ERROR_NO_DATA => {
            Ok(Done::Closed)
        }
        code => Err(crate::error::context(
            io::Error::from_raw_os_error(code as i32),
            what,
        )),
    }
}

/// Cancels an in-flight operation and waits until the OS no longer uses `io`.
fn cancel(pipe: &OwnedHandle, io: &Io) {
    let mut n = 0u32;
    // SAFETY: `io.ov` belongs to an operation on `pipe`; after CancelIoEx, a waiting
    // GetOverlappedResult returns once the operation has ended (completed or cancelled).
    unsafe {
        CancelIoEx(pipe.as_raw_handle() as HANDLE, &io.ov);
        GetOverlappedResult(pipe.as_raw_handle() as HANDLE, &io.ov, &mut n, TRUE);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Pending,
    Eof,
}

/// The parent's end of a child's stdout or stderr.
pub(crate) struct PipeReader {
    pipe: OwnedHandle,
    event: ManuallyDrop<OwnedHandle>,
    io: Box<Io>,
    state: State,
    /// Completed bytes in `io.buf` not yet handed out.
    avail: (usize, usize),
    registered: bool,
}

impl std::fmt::Debug for PipeReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeReader")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl PipeReader {
    pub(crate) fn new(pipe: OwnedHandle) -> io::Result<PipeReader> {
        Ok(PipeReader {
            pipe,
            event: ManuallyDrop::new(event()?),
            io: Io::new(),
            state: State::Idle,
            avail: (0, 0),
            registered: false,
        })
    }

    pub(crate) fn register(&mut self, poller: &Poller, key: usize) -> io::Result<()> {
        if self.state == State::Idle {
            self.start_read()?;
        }
        // SAFETY: the event is owned by `self` and removed from the poller (`deregister`) before
        // `self` is dropped.
        unsafe {
            poller.add_waitable(
                self.event.as_raw_handle(),
                Event::readable(key),
                PollMode::Level,
            )?
        };
        self.registered = true;
        Ok(())
    }

    pub(crate) fn deregister(&self, poller: &Poller) {
        if self.registered {
            let _ = poller.remove_waitable(&*self.event);
        }
    }

    /// Issues the next overlapped read. Reaching EOF signals the event, so the loop comes back
    /// and sees `Ok(0)`.
    fn start_read(&mut self) -> io::Result<()> {
        let pipe = self.pipe.as_raw_handle() as HANDLE;
        let code = self.io.start(&self.event, |io| {
            // SAFETY: buffer and OVERLAPPED are in `self.io` (boxed, unmoved until the read
            // ends or is cancelled in `Drop`); the length is the buffer's.
            unsafe {
                ReadFile(
                    pipe,
                    io.buf.as_mut_ptr(),
                    BUF as u32,
                    std::ptr::null_mut(),
                    &mut io.ov,
                )
            }
        });
        match code {
            // Completed at once or later: either way the result comes from GetOverlappedResult.
            ERROR_IO_PENDING => self.state = State::Pending,
            ERROR_BROKEN_PIPE | ERROR_PIPE_NOT_CONNECTED | ERROR_HANDLE_EOF => {
                self.state = State::Eof;
                // SAFETY: the event handle is valid.
                unsafe { SetEvent(self.event.as_raw_handle() as HANDLE) };
            }
            code => {
                return Err(crate::error::context(
                    io::Error::from_raw_os_error(code as i32),
                    "reading from a pipe",
                ))
            }
        }
        Ok(())
    }

    /// Called when the child has exited and a read found nothing yet: waits (until `deadline`)
    /// for the pending read if it is bound to complete (every writer is gone, or bytes wait in
    /// the pipe), or briefly otherwise (a grandchild may still hold the pipe). Returns `true`
    /// if reading again may make progress.
    ///
    /// Real Windows completes a pipe read inside the writer's `WriteFile`, so after the child's
    /// exit everything it wrote is already in our buffer; Wine completes it asynchronously and
    /// delivers the completion on a later (alertable) wait, which this covers.
    pub(crate) fn settle(&mut self, deadline: Instant) -> bool {
        let left = deadline.saturating_duration_since(Instant::now());
        if self.state != State::Pending || left.is_zero() {
            return false;
        }
        let mut avail = 0u32;
        let h = self.pipe.as_raw_handle() as HANDLE;
        let null = std::ptr::null_mut();
        // SAFETY: `h` is our pipe handle; only the byte count is asked for.
        let ok = unsafe { PeekNamedPipe(h, null, 0, null.cast(), &mut avail, null.cast()) };
        let writers_gone = ok == 0 && last_code() == ERROR_BROKEN_PIPE;
        let bound = if writers_gone || avail > 0 {
            left
        } else {
            left.min(Duration::from_millis(20))
        };
        let mut n = 0u32;
        // SAFETY: `io.ov` is the OVERLAPPED of the read in flight on `h`; alertable, so Wine can
        // deliver the completion while we wait.
        let done = unsafe {
            GetOverlappedResultEx(h, &self.io.ov, &mut n, bound.as_millis() as u32, TRUE)
        };
        // Completed (or failed: reading again reports how), or woken by an APC: try again.
        done != 0 || !matches!(last_code(), WAIT_TIMEOUT | ERROR_IO_INCOMPLETE)
    }

    pub(crate) fn read_into(&mut self, out: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        if self.avail.0 == self.avail.1 {
            match self.state {
                State::Eof => return Ok(0),
                State::Idle => self.start_read()?,
                State::Pending => {}
            }
            if self.state == State::Eof {
                return Ok(0);
            }
            match overlapped_result(&self.pipe, &self.io, "reading from a pipe")? {
                Done::Incomplete => return Err(io::ErrorKind::WouldBlock.into()),
                Done::Closed => {
                    self.state = State::Eof;
                    return Ok(0);
                }
                // A zero-byte message is not end of file.
                Done::Bytes(0) | Done::Aborted => {
                    self.start_read()?;
                    return Err(io::ErrorKind::WouldBlock.into());
                }
                Done::Bytes(n) => {
                    self.state = State::Idle;
                    self.avail = (0, n as usize);
                }
            }
        }
        let (from, to) = self.avail;
        let n = (to - from).min(max);
        out.extend_from_slice(&self.io.buf[from..from + n]);
        self.avail.0 += n;
        if self.avail.0 == self.avail.1 {
            // Keep one read in flight: data keeps flowing, and the event is reset.
            self.start_read()?;
        }
        Ok(n)
    }
}

impl Drop for PipeReader {
    fn drop(&mut self) {
        if self.state == State::Pending {
            cancel(&self.pipe, &self.io);
        }
        bury(&mut self.event);
    }
}

/// Hands the event to `close_later`: it may still be in the thread pool's wait list.
fn bury(event: &mut ManuallyDrop<OwnedHandle>) {
    // SAFETY: only called from `Drop`, after which the field is never used again.
    super::close_later(unsafe { ManuallyDrop::take(event) });
}

/// The parent's end of a child's stdin.
pub(crate) struct PipeWriter {
    pipe: OwnedHandle,
    event: ManuallyDrop<OwnedHandle>,
    io: Box<Io>,
    /// Bytes of an overlapped write in flight.
    pending: Option<usize>,
    registered: bool,
}

impl std::fmt::Debug for PipeWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeWriter")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

impl PipeWriter {
    pub(crate) fn new(pipe: OwnedHandle) -> io::Result<PipeWriter> {
        Ok(PipeWriter {
            pipe,
            event: ManuallyDrop::new(event()?),
            io: Io::new(),
            pending: None,
            registered: false,
        })
    }

    pub(crate) fn set_writable(&mut self, poller: &Poller, key: usize, on: bool) -> io::Result<()> {
        if on && !self.registered {
            // SAFETY: the event is owned by `self` and removed before `self` is dropped.
            unsafe {
                poller.add_waitable(
                    self.event.as_raw_handle(),
                    Event::writable(key),
                    PollMode::Level,
                )?
            };
            self.registered = true;
        } else if !on && self.registered {
            poller.remove_waitable(&*self.event)?;
            self.registered = false;
        }
        Ok(())
    }

    pub(crate) fn deregister(&self, poller: &Poller) {
        if self.registered {
            let _ = poller.remove_waitable(&*self.event);
        }
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.pending.is_some() {
            return match overlapped_result(&self.pipe, &self.io, "writing to a pipe")? {
                Done::Incomplete => Err(io::ErrorKind::WouldBlock.into()),
                Done::Closed => {
                    self.pending = None;
                    Err(io::ErrorKind::BrokenPipe.into())
                }
                Done::Bytes(n) => {
                    self.pending = None;
                    Ok(n as usize)
                }
                // Nothing was written; the caller passes the same bytes again.
                Done::Aborted => {
                    self.pending = None;
                    Ok(0)
                }
            };
        }
        if data.is_empty() {
            return Ok(0);
        }
        let len = data.len().min(BUF);
        self.io.buf[..len].copy_from_slice(&data[..len]);
        let pipe = self.pipe.as_raw_handle() as HANDLE;
        let code = self.io.start(&self.event, |io| {
            // SAFETY: buffer and OVERLAPPED are boxed and unmoved until the write ends or is
            // cancelled in `Drop`; `len` is within the buffer.
            unsafe {
                WriteFile(
                    pipe,
                    io.buf.as_ptr(),
                    len as u32,
                    std::ptr::null_mut(),
                    &mut io.ov,
                )
            }
        });
        match code {
            ERROR_IO_PENDING => {
                self.pending = Some(len);
                // Completed at once? Then report it now; else the event tells us later.
                self.write(data)
            }
            ERROR_BROKEN_PIPE | ERROR_NO_DATA | ERROR_PIPE_NOT_CONNECTED => {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            code => Err(crate::error::context(
                io::Error::from_raw_os_error(code as i32),
                "writing to a pipe",
            )),
        }
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        if self.pending.is_some() {
            cancel(&self.pipe, &self.io);
        }
        bury(&mut self.event);
    }
}
