//! Pseudo consoles (ConPTY): a child on a terminal, in the same loop as every pipe.
//!
//! `CreatePseudoConsole` gets two pipes made exactly as the pipe transport makes them, so the
//! parent's ends are the transport's own overlapped [`PipeReader`] (the console's output,
//! delivered as stdout) and [`PipeWriter`] (its input, fed by the stdin queue): no thread of
//! ours per child. The console's own host (`conhost.exe`, or `OpenConsole.exe`) holds the
//! child's ends.
//!
//! # Implementation notes
//! - **End of file.** The host keeps the output pipe open after the child exits; only
//!   `ClosePseudoConsole` ends it. Before Windows 11 24H2 that call waits for the host, which
//!   may first paint a final frame into the output pipe: if that pipe is full and nobody reads
//!   it, the call never returns (microsoft/terminal#1810, #17489). So the console is closed by
//!   the *reader*, at the child's exit, at the moment its read has caught up (a read is pending
//!   and the pipe is empty, see [`PtyReader::settle`]): the final frame then fits in the empty
//!   pipe, the call returns, and the read goes on to end of file. Dropping a `PtyReader` first
//!   closes its pipe, so a later close cannot block on it either.
//! - **Graceful stop.** A console delivers Ctrl+C (`CTRL_C_EVENT`) to its programs when `0x03`
//!   arrives on its input, and only to programs not started with `CREATE_NEW_PROCESS_GROUP`
//!   (that flag disables Ctrl+C), so a tty child gets no process group of its own:
//!   [`CtrlC`] writes `0x03` through a second handle of the input pipe, bypassing the stdin
//!   queue.
//! - **Standard handles.** The child gets `STARTF_USESTDHANDLES` with `INVALID_HANDLE_VALUE`
//!   for each stream on the console (what Windows Terminal, Alacritty and WezTerm do), so it
//!   never inherits our own standard handles (microsoft/terminal#11276).
//! - **Missing API.** The three functions are looked up at run time (they exist from Windows
//!   10 1809): without them, spawning a tty child fails with `Unsupported`; nothing else in
//!   the program needs them to load.
//!
//! # Wine 8
//! See ARCHITECTURE.md, "ConPTY under Wine": Wine's console host works, but Wine never connects
//! a pseudo console's child's standard handles to it, has no `ResizePseudoConsole`, and ends
//! the console (and the child, without its handler) on `0x03`.

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use polling::Poller;
use windows_sys::core::HRESULT;
use windows_sys::Win32::Foundation::{DuplicateHandle, DUPLICATE_SAME_ACCESS, FALSE, HANDLE};
use windows_sys::Win32::System::Console::{COORD, HPCON};
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
use windows_sys::Win32::System::Threading::GetCurrentProcess;

use super::last_error;
use super::pipe::{self, PipeReader, PipeWriter};
use crate::pty::PtySize;

type CreateFn = unsafe extern "system" fn(COORD, HANDLE, HANDLE, u32, *mut HPCON) -> HRESULT;
type ResizeFn = unsafe extern "system" fn(HPCON, COORD) -> HRESULT;
type CloseFn = unsafe extern "system" fn(HPCON);

/// The ConPTY functions of this Windows.
#[derive(Clone, Copy)]
struct Api {
    create: CreateFn,
    resize: ResizeFn,
    close: CloseFn,
}

/// The ConPTY functions, looked up once; `None` before Windows 10 1809.
fn api() -> Option<Api> {
    static API: OnceLock<Option<Api>> = OnceLock::new();
    *API.get_or_init(|| {
        let name: Vec<u16> = "kernel32.dll".encode_utf16().chain([0]).collect();
        // SAFETY: NUL-terminated name; kernel32 is loaded in every process, never unloaded.
        let kernel32 = unsafe { GetModuleHandleW(name.as_ptr()) };
        if kernel32.is_null() {
            return None;
        }
        // SAFETY: NUL-terminated names; each symbol, if present, has the documented signature
        // of the type it is transmuted to (consoleapi.h).
        unsafe {
            let create = GetProcAddress(kernel32, c"CreatePseudoConsole".as_ptr().cast())?;
            let resize = GetProcAddress(kernel32, c"ResizePseudoConsole".as_ptr().cast())?;
            let close = GetProcAddress(kernel32, c"ClosePseudoConsole".as_ptr().cast())?;
            Some(Api {
                create: std::mem::transmute::<_, CreateFn>(create),
                resize: std::mem::transmute::<_, ResizeFn>(resize),
                close: std::mem::transmute::<_, CloseFn>(close),
            })
        }
    })
}

fn coord(size: PtySize) -> COORD {
    // ConPTY takes i16 cells; a larger size is clamped, not wrapped to a negative one.
    let cells = |n: u16| n.clamp(1, i16::MAX as u16) as i16;
    COORD {
        X: cells(size.cols),
        Y: cells(size.rows),
    }
}

/// An `HRESULT` failure as an `io::Error` naming `what`.
fn hresult_error(hr: HRESULT, what: &str) -> io::Error {
    const E_NOTIMPL: HRESULT = 0x8000_4001_u32 as HRESULT;
    let e = if (hr as u32) & 0xFFFF_0000 == 0x8007_0000 {
        io::Error::from_raw_os_error(hr & 0xFFFF)
    } else if hr == E_NOTIMPL {
        io::Error::new(io::ErrorKind::Unsupported, "not implemented (E_NOTIMPL)")
    } else {
        io::Error::other(format!("HRESULT {:#010x}", hr as u32))
    };
    crate::error::context(e, what)
}

/// A pseudo console, closed once: by the reader at the child's exit, or when the last of its
/// owners (the slot's [`PtyHandle`], the [`PtyReader`]) goes.
#[derive(Debug)]
struct Console {
    /// The `HPCON`, 0 once closed.
    hpc: AtomicIsize,
}

impl Console {
    fn close(&self) {
        let hpc = self.hpc.swap(0, Ordering::AcqRel);
        if hpc != 0 {
            if let Some(api) = api() {
                // SAFETY: `hpc` came from CreatePseudoConsole and is closed only here, once.
                unsafe { (api.close)(hpc) };
            }
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        self.close();
    }
}

/// A child's pseudo console, kept in its slot: [`resize`](PtyHandle::resize).
#[derive(Debug)]
pub(crate) struct PtyHandle {
    console: Arc<Console>,
}

impl PtyHandle {
    /// Changes the console's size (`ResizePseudoConsole`); the child sees it as a resized
    /// window (`WINDOW_BUFFER_SIZE_EVENT`, a new `GetConsoleScreenBufferInfo`).
    ///
    /// # Errors
    /// `Unsupported` where the OS does not implement it (Wine 8), or when the console is
    /// already closed (the child has exited).
    pub(crate) fn resize(&self, size: PtySize) -> io::Result<()> {
        let hpc = self.console.hpc.load(Ordering::Acquire);
        let api = api().filter(|_| hpc != 0).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::Unsupported,
                "resizing a pseudo console: it is closed (the child has exited)",
            )
        })?;
        // SAFETY: `hpc` is open (closing happens on this thread only, via the loop).
        let hr = unsafe { (api.resize)(hpc, coord(size)) };
        if hr < 0 {
            return Err(hresult_error(hr, "ResizePseudoConsole"));
        }
        Ok(())
    }
}

/// The console's output as the parent reads it: a pipe reader that closes the console at the
/// child's exit once the pipe is empty (see the module doc).
#[derive(Debug)]
pub(crate) struct PtyReader {
    // Declared first: dropped (pipe closed) before the console, so closing cannot block.
    pipe: PipeReader,
    console: Arc<Console>,
}

impl PtyReader {
    pub(crate) fn register(&mut self, poller: &Poller, key: usize) -> io::Result<()> {
        self.pipe.register(poller, key)
    }

    pub(crate) fn deregister(&self, poller: &Poller) {
        self.pipe.deregister(poller)
    }

    pub(crate) fn read_into(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        self.pipe.read_into(buf, max)
    }

    /// At the child's exit, the read found the pipe empty: close the console (its host then
    /// paints a last frame and ends the pipe) and read on; afterwards, wait like any pipe.
    pub(crate) fn settle(&mut self, deadline: Instant) -> bool {
        if self.console.hpc.load(Ordering::Acquire) != 0 {
            self.console.close();
            return true;
        }
        self.pipe.settle(deadline)
    }
}

/// Writes Ctrl+C (`0x03`) into a console's input, through a handle of its own: the first step
/// of `terminate` for a tty child.
#[derive(Debug)]
pub(crate) struct CtrlC {
    writer: PipeWriter,
}

impl CtrlC {
    /// Types Ctrl+C. `Ok` once it is written or under way; `BrokenPipe` if the console is gone.
    pub(crate) fn send(&mut self) -> io::Result<()> {
        match self.writer.write(b"\x03") {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// What the parent holds of a new pseudo console, and what the child's `CreateProcessW`
/// needs (`hpc` for `PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE`).
pub(super) struct Opened {
    pub(super) handle: PtyHandle,
    pub(super) hpc: HPCON,
    pub(super) input: PipeWriter,
    pub(super) output: PtyReader,
    pub(super) ctrl_c: CtrlC,
}

/// Creates a pseudo console of `size` on two new pipes.
///
/// # Errors
/// `Unsupported` before Windows 10 1809 (no ConPTY); the OS's error if creation fails.
pub(super) fn open(size: PtySize) -> io::Result<Opened> {
    let api = api().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::Unsupported,
            "a pseudo-terminal needs ConPTY (CreatePseudoConsole, Windows 10 1809 or later)",
        )
    })?;
    let (input, console_in) = pipe::pair(false)?;
    let (output, console_out) = pipe::pair(true)?;
    let mut hpc: HPCON = 0;
    // SAFETY: valid pipe handles (the host duplicates them); `hpc` receives the console.
    let hr = unsafe {
        (api.create)(
            coord(size),
            console_in.as_raw_handle() as HANDLE,
            console_out.as_raw_handle() as HANDLE,
            0,
            &mut hpc,
        )
    };
    // The host holds its own copies: ours must go, or the output never ends.
    drop((console_in, console_out));
    if hr < 0 {
        return Err(hresult_error(hr, "CreatePseudoConsole"));
    }
    let console = Arc::new(Console {
        hpc: AtomicIsize::new(hpc),
    });
    let ctrl_c = CtrlC {
        writer: PipeWriter::new(duplicate(&input)?)?,
    };
    Ok(Opened {
        handle: PtyHandle {
            console: console.clone(),
        },
        hpc,
        input: PipeWriter::new(input)?,
        output: PtyReader {
            pipe: PipeReader::new(output)?,
            console,
        },
        ctrl_c,
    })
}

/// A second, non-inheritable handle of `h`.
fn duplicate(h: &OwnedHandle) -> io::Result<OwnedHandle> {
    let mut dup: HANDLE = std::ptr::null_mut();
    // SAFETY: `h` is a valid handle of this process; `dup` receives the new one.
    let ok = unsafe {
        let me = GetCurrentProcess();
        DuplicateHandle(
            me,
            h.as_raw_handle() as HANDLE,
            me,
            &mut dup,
            0,
            FALSE,
            DUPLICATE_SAME_ACCESS,
        )
    };
    if ok == 0 {
        return Err(last_error("duplicating the pseudo console's input pipe"));
    }
    // SAFETY: `dup` is a new handle we own.
    Ok(unsafe { OwnedHandle::from_raw_handle(dup as RawHandle) })
}
