//! Spawning on Windows: `CreateProcessW` with an explicit handle list, suspended, in a job
//! object of its own, then resumed (see the module doc of `sys::windows`).

use std::ffi::OsString;
use std::io;
use std::mem::ManuallyDrop;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, AsRawSocket, FromRawHandle, OwnedHandle, RawHandle};

use windows_sys::Win32::Foundation::{
    DuplicateHandle, DUPLICATE_SAME_ACCESS, ERROR_INTERNAL_ERROR, FALSE, GENERIC_READ,
    GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE, TRUE, WAIT_OBJECT_0,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
};
use windows_sys::Win32::System::Console::HPCON;
use windows_sys::Win32::System::Console::{
    GenerateConsoleCtrlEvent, GetStdHandle, CTRL_BREAK_EVENT, STD_ERROR_HANDLE, STD_HANDLE,
    STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::{
    CreateProcessW, DeleteProcThreadAttributeList, GetCurrentProcess, GetExitCodeProcess,
    InitializeProcThreadAttributeList, ResumeThread, TerminateProcess, UpdateProcThreadAttribute,
    WaitForSingleObject, CREATE_NEW_PROCESS_GROUP, CREATE_SUSPENDED, CREATE_UNICODE_ENVIRONMENT,
    EXTENDED_STARTUPINFO_PRESENT, INFINITE, LPPROC_THREAD_ATTRIBUTE_LIST, PROCESS_INFORMATION,
    PROC_THREAD_ATTRIBUTE_HANDLE_LIST, PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE, STARTF_USESTDHANDLES,
    STARTUPINFOEXW,
};

use super::pipe::{self, PipeReader, PipeWriter};
use super::pty::{self, CtrlC, PtyHandle};
use super::socket::{self, SocketReader, SocketWriter};
use super::{last_error, path, wide_nul, Reader, Transport, Writer};
use crate::cmdline;
use crate::command::{Command, Stdio};
use crate::event::Exit;
use crate::sys::{Signal, Spawned};

/// A child process and the job object that holds its tree.
#[derive(Debug)]
pub(crate) struct Process {
    /// Closed through `close_later`: it is registered as a waitable.
    handle: ManuallyDrop<OwnedHandle>,
    job: OwnedHandle,
    pid: u32,
    exit: Option<Exit>,
    /// A child on a pseudo console: `terminate` types Ctrl+C into it.
    ctrl_c: Option<CtrlC>,
}

impl Process {
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    pub(crate) fn raw_handle(&self) -> RawHandle {
        self.handle.as_raw_handle()
    }

    pub(crate) fn try_wait(&mut self) -> io::Result<Option<Exit>> {
        if self.exit.is_none() {
            self.exit = self.wait_ms(0)?;
        }
        Ok(self.exit)
    }

    pub(crate) fn wait(&mut self) -> io::Result<Exit> {
        if let Some(exit) = self.exit {
            return Ok(exit);
        }
        let exit = self
            .wait_ms(INFINITE)?
            .ok_or_else(|| last_error("waiting for a process"))?;
        self.exit = Some(exit);
        Ok(exit)
    }

    fn wait_ms(&self, ms: u32) -> io::Result<Option<Exit>> {
        let h = self.handle.as_raw_handle() as HANDLE;
        // SAFETY: `h` is our valid process handle.
        if unsafe { WaitForSingleObject(h, ms) } != WAIT_OBJECT_0 {
            return Ok(None);
        }
        let mut code = 0u32;
        // SAFETY: as above; `code` is valid for writes.
        if unsafe { GetExitCodeProcess(h, &mut code) } == 0 {
            return Err(last_error("GetExitCodeProcess"));
        }
        Ok(Some(Exit::Code(code as i32)))
    }

    /// Terminate: `CTRL_BREAK_EVENT` to the child's process group (it shares our console);
    /// without a console to deliver it, the job is terminated instead. A child on a pseudo
    /// console gets Ctrl+C typed into it (`0x03`; its console gone: the job). Kill: the job
    /// (the tree).
    pub(crate) fn signal_tree(&mut self, sig: Signal) -> io::Result<()> {
        match sig {
            Signal::Terminate if self.ctrl_c.is_some() => {
                match self.ctrl_c.as_mut().map(CtrlC::send) {
                    Some(Ok(())) => Ok(()),
                    _ => self.terminate_job(),
                }
            }
            Signal::Terminate => {
                // SAFETY: plain call; the group id is our child's pid (CREATE_NEW_PROCESS_GROUP).
                if unsafe { GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, self.pid) } != 0 {
                    return Ok(());
                }
                self.terminate_job()
            }
            Signal::Kill => self.terminate_job(),
            Signal::Raw(_) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "signals by number do not exist on Windows",
            )),
        }
    }

    fn terminate_job(&self) -> io::Result<()> {
        // SAFETY: `job` is our valid job handle; exit code 1 as TerminateProcess users expect.
        if unsafe { TerminateJobObject(self.job.as_raw_handle() as HANDLE, 1) } == 0 {
            return Err(last_error("TerminateJobObject"));
        }
        Ok(())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // SAFETY: `handle` is not used after this.
        super::close_later(unsafe { ManuallyDrop::take(&mut self.handle) });
    }
}

/// The three handles a child gets, and what the parent keeps.
#[derive(Default)]
struct Stdios {
    child: Vec<OwnedHandle>,
    stdin: Option<Writer>,
    stdout: Option<Reader>,
    stderr: Option<Reader>,
    /// With `Command::pty`: the console (the child's `hpc`) and what the parent keeps of it.
    pty: Option<(HPCON, PtyHandle, CtrlC)>,
}

impl Stdios {
    /// The child's three handles for `cmd`: on a pseudo console, `INVALID_HANDLE_VALUE` for
    /// each stream the console carries (so the child uses the console's, never ours).
    fn for_command(cmd: &Command) -> io::Result<(Stdios, [HANDLE; 3])> {
        let mut stdios = Stdios::default();
        let t = cmd.os.transport;
        let Some(p) = cmd.pty else {
            let handles = [
                stdio(&cmd.stdin, StdStream::In, t, &mut stdios)?,
                stdio(&cmd.stdout, StdStream::Out, t, &mut stdios)?,
                stdio(&cmd.stderr, StdStream::Err, t, &mut stdios)?,
            ];
            return Ok((stdios, handles));
        };
        let opened = pty::open(p.size)?;
        stdios.stdin = Some(Writer::Pipe(opened.input));
        stdios.stdout = Some(Reader::Pty(opened.output));
        stdios.pty = Some((opened.hpc, opened.handle, opened.ctrl_c));
        let err = if p.stderr_too {
            INVALID_HANDLE_VALUE
        } else {
            stdio(&cmd.stderr, StdStream::Err, t, &mut stdios)?
        };
        Ok((stdios, [INVALID_HANDLE_VALUE, INVALID_HANDLE_VALUE, err]))
    }
}

/// Starts the child described by `cmd`.
pub(crate) fn spawn(cmd: &Command) -> io::Result<Spawned> {
    let child_path = cmd
        .env
        .iter()
        .rev()
        .find(|(k, _)| k.eq_ignore_ascii_case("PATH"))
        .map(|(_, v)| v.clone().unwrap_or_default())
        .or_else(|| cmd.env_clear.then(OsString::new));
    let exe = path::resolve(&cmd.program, child_path.as_deref())?;
    let wide_args: Vec<Vec<u16>> = cmd.args.iter().map(|a| a.encode_wide().collect()).collect();
    let exe_wide: Vec<u16> = exe.as_os_str().encode_wide().collect();
    let (app, mut line) = if path::is_batch(&exe) {
        let cmd_exe = path::cmd_exe();
        (cmd_exe, cmdline::batch_command_line(&exe_wide, &wide_args)?)
    } else {
        (exe.clone(), cmdline::command_line(&exe_wide, &wide_args)?)
    };
    line.push(0);
    let app = wide_nul(app.as_os_str(), "the program path")?;
    let env = env_block(cmd)?;
    let cwd = cmd
        .cwd
        .as_deref()
        .map(|d| wide_nul(d.as_os_str(), "the working directory"))
        .transpose()?;

    let (mut stdios, handles) = Stdios::for_command(cmd)?;
    let (hpc, pty, ctrl_c) = match stdios.pty.take() {
        Some((hpc, handle, ctrl_c)) => (Some(hpc), Some(handle), Some(ctrl_c)),
        None => (None, None, None),
    };
    let job = job(cmd.die_with_parent)?;
    let info = create(
        &app,
        &mut line,
        env.as_deref(),
        cwd.as_deref(),
        handles,
        hpc,
    )?;
    // The child's ends must be closed here, or EOF never comes.
    drop(stdios.child);
    // SAFETY: CreateProcessW returned these handles; we own them from now on.
    let (process, thread) = unsafe {
        (
            OwnedHandle::from_raw_handle(info.hProcess as RawHandle),
            OwnedHandle::from_raw_handle(info.hThread as RawHandle),
        )
    };
    let process = Process {
        handle: ManuallyDrop::new(process),
        job,
        pid: info.dwProcessId,
        exit: None,
        ctrl_c,
    };
    start(&process, &thread)?;
    Ok(Spawned {
        process,
        stdin: stdios.stdin,
        stdout: stdios.stdout,
        stderr: stdios.stderr,
        pty,
    })
}

/// Puts the suspended child in its job and lets it run; on failure it never runs.
fn start(process: &Process, thread: &OwnedHandle) -> io::Result<()> {
    let h = process.handle.as_raw_handle() as HANDLE;
    // SAFETY: valid job and process handles.
    if unsafe { AssignProcessToJobObject(process.job.as_raw_handle() as HANDLE, h) } == 0 {
        let err = last_error("putting the child in its job object");
        // SAFETY: our suspended child; it has run no code of its own.
        unsafe { TerminateProcess(h, 1) };
        return Err(err);
    }
    // SAFETY: the primary thread handle of our suspended child.
    if unsafe { ResumeThread(thread.as_raw_handle() as HANDLE) } == u32::MAX {
        let err = last_error("resuming the child");
        let _ = process.terminate_job();
        return Err(err);
    }
    Ok(())
}

fn job(kill_on_close: bool) -> io::Result<OwnedHandle> {
    // SAFETY: anonymous job, default security; checked below.
    let h = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if h.is_null() {
        return Err(last_error("CreateJobObjectW"));
    }
    // SAFETY: `h` is a valid job handle we own.
    let job = unsafe { OwnedHandle::from_raw_handle(h as RawHandle) };
    if kill_on_close {
        // SAFETY: all-zero is a valid JOBOBJECT_EXTENDED_LIMIT_INFORMATION (no limits).
        let mut limits: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
        limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        // SAFETY: `limits` is the structure this information class expects, of that size.
        let ok = unsafe {
            SetInformationJobObject(
                h,
                JobObjectExtendedLimitInformation,
                (&limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
                std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        if ok == 0 {
            return Err(last_error("setting KILL_ON_JOB_CLOSE on the job object"));
        }
    }
    Ok(job)
}

#[derive(Clone, Copy, PartialEq)]
enum StdStream {
    In,
    Out,
    Err,
}

/// The child's handle for one stream (inheritable, owned by `stdios.child`), keeping the
/// parent's end of a captured stream in `stdios`.
fn stdio(
    s: &Stdio,
    which: StdStream,
    transport: Transport,
    stdios: &mut Stdios,
) -> io::Result<HANDLE> {
    let child = match s {
        Stdio::Capture => capture(which, transport, stdios)?,
        Stdio::Inherit => inherit(which)?,
        Stdio::Null => null_device()?,
        Stdio::File(f) => duplicate(f.as_raw_handle() as HANDLE)?,
    };
    let raw = child.as_raw_handle() as HANDLE;
    stdios.child.push(child);
    Ok(raw)
}

fn capture(which: StdStream, transport: Transport, stdios: &mut Stdios) -> io::Result<OwnedHandle> {
    let inbound = which != StdStream::In;
    match transport {
        Transport::Pipe => {
            let (parent, child) = pipe::pair(inbound)?;
            match which {
                StdStream::In => stdios.stdin = Some(Writer::Pipe(PipeWriter::new(parent)?)),
                StdStream::Out => stdios.stdout = Some(Reader::Pipe(PipeReader::new(parent)?)),
                StdStream::Err => stdios.stderr = Some(Reader::Pipe(PipeReader::new(parent)?)),
            }
            Ok(child)
        }
        Transport::Socket => {
            let (parent, child) = socket::pair()?;
            match which {
                StdStream::In => stdios.stdin = Some(Writer::Socket(SocketWriter::new(parent))),
                StdStream::Out => stdios.stdout = Some(Reader::Socket(SocketReader::new(parent))),
                StdStream::Err => stdios.stderr = Some(Reader::Socket(SocketReader::new(parent))),
            }
            // SAFETY: a SOCKET is a kernel handle; ownership moves from the socket to the
            // handle (closing a socket handle with CloseHandle is what the child will do too).
            Ok(unsafe { OwnedHandle::from_raw_handle(into_raw_socket(child) as RawHandle) })
        }
    }
}

fn into_raw_socket(s: std::os::windows::io::OwnedSocket) -> u64 {
    let raw = s.as_raw_socket();
    std::mem::forget(s);
    raw
}

fn inherit(which: StdStream) -> io::Result<OwnedHandle> {
    let id: STD_HANDLE = match which {
        StdStream::In => STD_INPUT_HANDLE,
        StdStream::Out => STD_OUTPUT_HANDLE,
        StdStream::Err => STD_ERROR_HANDLE,
    };
    // SAFETY: plain call.
    let h = unsafe { GetStdHandle(id) };
    if h.is_null() || h == INVALID_HANDLE_VALUE {
        // We have no such stream (a GUI or detached process): give the child the null device.
        return null_device();
    }
    duplicate(h)
}

/// An inheritable duplicate of `h`.
fn duplicate(h: HANDLE) -> io::Result<OwnedHandle> {
    let mut dup: HANDLE = std::ptr::null_mut();
    // SAFETY: `h` is a valid handle of this process; `dup` receives the new handle.
    let ok = unsafe {
        let me = GetCurrentProcess();
        DuplicateHandle(me, h, me, &mut dup, 0, TRUE, DUPLICATE_SAME_ACCESS)
    };
    if ok == 0 {
        return Err(last_error("duplicating a standard handle"));
    }
    // SAFETY: `dup` is a new handle we own.
    Ok(unsafe { OwnedHandle::from_raw_handle(dup as RawHandle) })
}

fn null_device() -> io::Result<OwnedHandle> {
    let name: Vec<u16> = "NUL".encode_utf16().chain([0]).collect();
    let sa = super::inheritable();
    // SAFETY: NUL-terminated name, `sa` outlives the call.
    let h = unsafe {
        CreateFileW(
            name.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            FILE_SHARE_READ | FILE_SHARE_WRITE,
            &sa,
            OPEN_EXISTING,
            0,
            std::ptr::null_mut(),
        )
    };
    if h == INVALID_HANDLE_VALUE {
        return Err(last_error("opening NUL"));
    }
    // SAFETY: a valid handle we own.
    Ok(unsafe { OwnedHandle::from_raw_handle(h as RawHandle) })
}

/// The environment block (`K=V\0...\0\0`, sorted case-insensitively), or `None` to inherit ours
/// unchanged.
fn env_block(cmd: &Command) -> io::Result<Option<Vec<u16>>> {
    if cmd.env.is_empty() && !cmd.env_clear {
        return Ok(None);
    }
    let mut vars: Vec<(OsString, OsString)> = if cmd.env_clear {
        Vec::new()
    } else {
        std::env::vars_os().collect()
    };
    for (k, v) in &cmd.env {
        vars.retain(|(old, _)| !old.eq_ignore_ascii_case(k));
        if let Some(v) = v {
            vars.push((k.clone(), v.clone()));
        }
    }
    vars.sort_by_cached_key(|(k, _)| k.to_ascii_uppercase());
    let mut block = Vec::new();
    for (k, v) in &vars {
        if k.is_empty() || k.encode_wide().skip(1).any(|c| c == u16::from(b'=')) {
            return Err(invalid(format!("invalid environment variable name {k:?}")));
        }
        if k.encode_wide().chain(v.encode_wide()).any(|c| c == 0) {
            return Err(invalid(format!("environment variable {k:?} contains NUL")));
        }
        block.extend(k.encode_wide());
        block.push(u16::from(b'='));
        block.extend(v.encode_wide());
        block.push(0);
    }
    if vars.is_empty() {
        block.push(0);
    }
    block.push(0);
    Ok(Some(block))
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// A `PROC_THREAD_ATTRIBUTE_LIST`: the inherited-handle list and/or the pseudo console.
struct AttributeList {
    buf: Vec<usize>,
}

impl AttributeList {
    /// Room for `count` attributes.
    fn new(count: u32) -> io::Result<AttributeList> {
        let mut size = 0usize;
        // SAFETY: the documented size query: null list.
        unsafe { InitializeProcThreadAttributeList(std::ptr::null_mut(), count, 0, &mut size) };
        let mut list = AttributeList {
            buf: vec![0usize; size.div_ceil(std::mem::size_of::<usize>())],
        };
        // SAFETY: `buf` has at least `size` bytes, suitably aligned.
        if unsafe { InitializeProcThreadAttributeList(list.ptr(), count, 0, &mut size) } == 0 {
            list.buf.clear();
            return Err(last_error("InitializeProcThreadAttributeList"));
        }
        Ok(list)
    }

    /// Sets `attribute` to the `size` bytes at `value`, which must outlive the list (they are
    /// read by CreateProcessW).
    fn set(
        &mut self,
        attribute: u32,
        value: *const std::ffi::c_void,
        size: usize,
    ) -> io::Result<()> {
        // SAFETY: the list is initialised with room for this attribute; the caller keeps
        // `value` (of `size` bytes) alive as long as the list.
        let ok = unsafe {
            UpdateProcThreadAttribute(
                self.ptr(),
                0,
                attribute as usize,
                value,
                size,
                std::ptr::null_mut(),
                std::ptr::null(),
            )
        };
        if ok == 0 {
            return Err(last_error("setting a process creation attribute"));
        }
        Ok(())
    }

    fn ptr(&mut self) -> LPPROC_THREAD_ATTRIBUTE_LIST {
        self.buf.as_mut_ptr().cast()
    }
}

impl Drop for AttributeList {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            // SAFETY: the list was initialised by InitializeProcThreadAttributeList.
            unsafe { DeleteProcThreadAttributeList(self.ptr()) };
        }
    }
}

/// The attributes of a new child: exactly `inherit` inherited (if any), and the pseudo
/// console `hpc`. `inherit` must outlive the list.
fn attributes(inherit: &[HANDLE], hpc: Option<HPCON>) -> io::Result<AttributeList> {
    let count = u32::from(!inherit.is_empty()) + u32::from(hpc.is_some());
    let mut attrs = AttributeList::new(count.max(1))?;
    if !inherit.is_empty() {
        let size = std::mem::size_of_val(inherit);
        attrs.set(
            PROC_THREAD_ATTRIBUTE_HANDLE_LIST,
            inherit.as_ptr().cast(),
            size,
        )?;
    }
    if let Some(hpc) = hpc {
        // The value *is* the HPCON (passed by value in the pointer), as the docs show.
        let size = std::mem::size_of::<HPCON>();
        attrs.set(PROC_THREAD_ATTRIBUTE_PSEUDOCONSOLE, hpc as *const _, size)?;
    }
    Ok(attrs)
}

fn create(
    app: &[u16],
    line: &mut [u16],
    env: Option<&[u16]>,
    cwd: Option<&[u16]>,
    std: [HANDLE; 3],
    hpc: Option<HPCON>,
) -> io::Result<PROCESS_INFORMATION> {
    // Each handle once (the list must not repeat one); none for streams on a pseudo console.
    let mut unique: Vec<HANDLE> = Vec::with_capacity(3);
    for h in std {
        if h != INVALID_HANDLE_VALUE && !unique.contains(&h) {
            unique.push(h);
        }
    }
    let mut attrs = attributes(&unique, hpc)?;
    // SAFETY: all-zero is a valid STARTUPINFOEXW; the fields are then set.
    let mut si: STARTUPINFOEXW = unsafe { std::mem::zeroed() };
    si.StartupInfo.cb = std::mem::size_of::<STARTUPINFOEXW>() as u32;
    si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    si.StartupInfo.hStdInput = std[0];
    si.StartupInfo.hStdOutput = std[1];
    si.StartupInfo.hStdError = std[2];
    si.lpAttributeList = attrs.ptr();
    // SAFETY: all-zero is a valid PROCESS_INFORMATION (out parameter).
    let mut info: PROCESS_INFORMATION = unsafe { std::mem::zeroed() };
    // A new process group disables Ctrl+C in the child: not on a pseudo console, where Ctrl+C
    // is how it is asked to stop (and it shares no console with us anyway).
    let group = if hpc.is_some() {
        0
    } else {
        CREATE_NEW_PROCESS_GROUP
    };
    let flags =
        CREATE_SUSPENDED | group | CREATE_UNICODE_ENVIRONMENT | EXTENDED_STARTUPINFO_PRESENT;
    // Wine 8 now and then fails one of several process starts at once with
    // ERROR_INTERNAL_ERROR (1359) from inside Wine (CI: a helper of `spawnmux run` "cannot
    // start", the library's 64-child fan-in test): that error alone is retried, a few times.
    // Real Windows is not known to return it here; if it did, the retries would cost ~0.2 s
    // before the error is reported. `CreateProcessW` may write into the command line, so each
    // try gets the original.
    let original = line.to_vec();
    let mut tries = 1;
    let result = loop {
        // SAFETY: `app`, `line` and `cwd` are NUL-terminated UTF-16; `env` is a double-NUL
        // terminated block; `si` (with the attribute list and `unique`) outlives the call;
        // only the listed handles are inherited.
        let ok = unsafe {
            CreateProcessW(
                app.as_ptr(),
                line.as_mut_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                if unique.is_empty() { FALSE } else { TRUE },
                flags,
                env.map_or(std::ptr::null(), |e| e.as_ptr().cast()),
                cwd.map_or(std::ptr::null(), <[u16]>::as_ptr),
                &si.StartupInfo,
                &mut info,
            )
        };
        if ok != 0 {
            break Ok(info);
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(ERROR_INTERNAL_ERROR as i32) || tries == CREATE_TRIES {
            break Err(err);
        }
        tries += 1;
        line.copy_from_slice(&original);
        std::thread::sleep(std::time::Duration::from_millis(20 * u64::from(tries)));
    };
    drop(attrs);
    result
}

/// How often `CreateProcessW` is tried when Wine fails it with ERROR_INTERNAL_ERROR.
const CREATE_TRIES: u32 = 5;
