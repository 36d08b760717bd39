//! Windows: no process groups to look at. A child's job object holds its whole tree: the
//! `Mux` kills it with the job (`Mux::kill`), and closes the job (`KILL_ON_JOB_CLOSE`) when it
//! lets go of the child, so nothing of a helper outlives its slot. No orphans come back to us.

use std::collections::HashSet;
use std::io;

use spawnmux::{ChildId, Command, Mux, SourceId};

use super::{Reaped, Wake};

/// POSIX numbers, used as names only (a stop on Windows is the library's `terminate`).
pub(crate) const SIGINT: i32 = 2;
pub(crate) const SIGTERM: i32 = 15;
pub(crate) const SIGKILL: i32 = 9;

/// Keeps the console control handler installed (for the life of the process).
pub(crate) struct Signals;

/// The console control handler (Ctrl+C, Ctrl+Break, console close) runs on a thread of its
/// own and wakes the loop with [`Wake::Interrupt`].
pub(crate) fn install(mux: &mut Mux) -> io::Result<Signals> {
    let waker = mux.waker(Wake::Interrupt.token());
    ctrlc::set_handler(move || {
        let _ = waker.wake();
    })
    .map_err(io::Error::other)?;
    Ok(Signals)
}

impl Signals {
    /// Windows has no signal sources in the loop (wake-ups arrive as `Woken`).
    pub(crate) fn drain(&self, _mux: &mut Mux, _source: SourceId) -> Vec<i32> {
        Vec::new()
    }
}

/// The size of spawnmux's console window (rows, columns), if stdout is a console.
///
/// # Platform specific behavior
/// Read at each `tty` helper's start: a console sends no resize event that the loop could
/// wait for (`WINDOW_BUFFER_SIZE_EVENT` arrives only through console *input*, which
/// `--handle-input` reads as text), so a helper keeps the size it started with.
pub(crate) fn window_size() -> Option<(u16, u16)> {
    use std::io::IsTerminal;
    use std::os::windows::io::AsRawHandle;
    use windows_sys::Win32::System::Console::{
        GetConsoleScreenBufferInfo, CONSOLE_SCREEN_BUFFER_INFO,
    };
    let out = io::stdout();
    if !out.is_terminal() {
        return None;
    }
    // SAFETY: all-zero is a valid CONSOLE_SCREEN_BUFFER_INFO (an out parameter); the handle
    // is stdout's, open for the life of the process.
    let info = unsafe {
        let mut info: CONSOLE_SCREEN_BUFFER_INFO = std::mem::zeroed();
        if GetConsoleScreenBufferInfo(out.as_raw_handle(), &mut info) == 0 {
            return None;
        }
        info
    };
    let w = info.srWindow;
    let rows = u16::try_from(i32::from(w.Bottom) - i32::from(w.Top) + 1).ok()?;
    let cols = u16::try_from(i32::from(w.Right) - i32::from(w.Left) + 1).ok()?;
    (rows > 0 && cols > 0).then_some((rows, cols))
}

/// spawnmux's own stdin (`--handle-input`), read by one thread.
///
/// # Implementation notes
/// Console input cannot be polled with the `Mux`'s completion port (a console handle is not
/// overlapped, and its "signalled" state also counts mouse and focus events), so one thread
/// does blocking reads (`ReadConsoleW` in line mode through std's `Stdin`, or `ReadFile` on a
/// pipe) and hands the bytes over under a lock, waking the loop with [`Wake::Input`]. It is the
/// process's only such thread, whatever the number of helpers; it is not joined (a blocked
/// console read cannot be cancelled portably) and ends with the process.
pub(crate) struct Input {
    shared: std::sync::Arc<std::sync::Mutex<Typed>>,
}

/// What the reader thread has read and not yet handed over.
#[derive(Default)]
struct Typed {
    bytes: Vec<u8>,
    ended: bool,
}

/// Starts the reader thread.
pub(crate) fn input(mux: &mut Mux) -> io::Result<Input> {
    use std::io::Read;
    let shared = std::sync::Arc::new(std::sync::Mutex::new(Typed::default()));
    let theirs = shared.clone();
    let waker = mux.waker(Wake::Input.token());
    std::thread::Builder::new()
        .name("spawnmux-stdin".into())
        .spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                let n = io::stdin().read(&mut buf).unwrap_or(0);
                let mut t = theirs
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                t.bytes.extend_from_slice(&buf[..n]);
                t.ended = n == 0;
                drop(t);
                let _ = waker.wake();
                if n == 0 {
                    return;
                }
            }
        })
        .map_err(|e| io::Error::new(e.kind(), format!("starting the stdin reader: {e}")))?;
    Ok(Input { shared })
}

impl Input {
    /// Windows has no input source in the loop (wake-ups arrive as `Woken`).
    pub(crate) fn owns(&self, _source: SourceId) -> bool {
        false
    }

    /// What was typed since the last call, and whether the input has ended.
    pub(crate) fn read(&mut self, _mux: &mut Mux) -> io::Result<(Vec<u8>, bool)> {
        let mut t = (self.shared.lock()).unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok((std::mem::take(&mut t.bytes), t.ended))
    }
}

pub(crate) fn is_child_exit(_sig: i32) -> bool {
    false
}

/// A console has no resize signal (see [`window_size`]).
pub(crate) fn is_resize(_sig: i32) -> bool {
    false
}

pub(crate) fn signal_name(sig: i32) -> Option<&'static str> {
    (sig == SIGINT).then_some("SIGINT")
}

/// A config's `stop_signal` is ignored on Windows (a stop is the job object's), but a config
/// written for Unix must still load: the usual stop signals' names (and numbers) are accepted,
/// all as SIGTERM.
pub(crate) fn signal_number(name: &str) -> Option<i32> {
    let upper = name.to_ascii_uppercase();
    let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
    let named = [
        "HUP", "INT", "QUIT", "KILL", "TERM", "USR1", "USR2", "WINCH",
    ]
    .contains(&bare);
    let numbered = name.parse::<u8>().is_ok_and(|n| (1..=64).contains(&n));
    (named || numbered).then_some(SIGTERM)
}

/// No signals: the child's tree ends with its job object.
pub(crate) fn send_stop(mux: &mut Mux, id: ChildId, _signal: i32) -> io::Result<()> {
    mux.terminate(id)
}

/// A shell command line: `cmd /d /c LINE`.
pub(crate) fn shell(line: &str) -> Command {
    let mut c = Command::new("cmd");
    c.args(["/d", "/c", line]);
    c
}

pub(crate) fn set_transport(cmd: &mut Command, transport: crate::cli::DemoTransport) {
    use crate::cli::DemoTransport;
    use spawnmux::os::windows::{CommandExt, Transport};
    cmd.transport(match transport {
        DemoTransport::Pipe => Transport::Pipe,
        DemoTransport::Socket => Transport::Socket,
    });
}

pub(crate) const COUNT_IS_EXACT: bool = false;

pub(crate) fn group_members(_pgid: u32) -> usize {
    0
}

pub(crate) fn signal_group(_pgid: u32, _signal: i32) {}

pub(crate) fn become_subreaper() -> bool {
    false
}

pub(crate) fn reap_orphans(_owned: &HashSet<u32>) -> Reaped {
    Reaped::default()
}

pub(crate) fn descendants() -> Vec<u32> {
    Vec::new()
}

pub(crate) fn signal_pids(_pids: &[u32], _signal: i32) {}

/// A non-blocking `connect` answered `WSAEWOULDBLOCK`: the connection is under way.
pub(crate) fn connect_pending(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::WouldBlock
}

// The control endpoint (`spawnmux ctl`). Windows has AF_UNIX sockets (since Windows 10 1803),
// but Wine 8, where this is tested, has none (`socket(AF_UNIX, …)` fails with
// WSAEAFNOSUPPORT), and the `Mux` polls sockets only (named pipes would need a thread). So: a
// loopback TCP listener (port chosen by the system, `SO_EXCLUSIVEADDRUSE`: no other socket can
// take the port over) and a random 128-bit token, both written to an endpoint file created
// with a DACL that grants access to its owner only. A client reads the file and presents the
// token in its first request; other users can connect to the port but not read the token.
// (The DACL names the user's SID: Wine maps a DACL to Unix permissions and knows no
// `OWNER RIGHTS`; with it the file came out mode 000 and unreadable once its creator died.)
// ARCHITECTURE.md and docs/control.md have the reasoning.

pub(crate) type CtlListener = std::net::TcpListener;
pub(crate) type CtlStream = std::net::TcpStream;

/// The endpoint file's name ends with this.
pub(crate) const CTL_SUFFIX: &str = ".ctl";

/// What identifies the endpoint file this process wrote (its token), so that only that one
/// is removed at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CtlStamp(String);

/// A control endpoint, listening (non-blocking), and its file written.
pub(crate) struct CtlEndpoint {
    pub(crate) listener: CtlListener,
    /// The token every connection must present in its first request.
    pub(crate) token: Option<String>,
    pub(crate) stamp: CtlStamp,
}

/// What the endpoint file holds: one JSON object.
#[derive(serde::Deserialize)]
struct EndpointFile {
    port: u16,
    token: String,
}

/// The directory of endpoint files: `%LOCALAPPDATA%\\spawnmux` (in the user's profile, which
/// only the user, SYSTEM and administrators may open), else `<temp dir>\\spawnmux`.
pub(crate) fn ctl_dir() -> std::path::PathBuf {
    let base = std::env::var_os("LOCALAPPDATA")
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(std::env::temp_dir);
    base.join("spawnmux")
}

/// Makes `dir` if missing and `create`; else it must exist. (Who may open it is the
/// profile's ACL; each endpoint file has its own owner-only DACL.)
pub(crate) fn ctl_dir_ready(dir: &std::path::Path, create: bool) -> io::Result<()> {
    let shown = dir.display();
    if create {
        std::fs::create_dir_all(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("creating {shown}: {e}")))
    } else if dir.is_dir() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{shown}: no such directory"),
        ))
    }
}

/// Listens on 127.0.0.1 and writes the endpoint file at `path`. `AlreadyExists` if the file
/// is there.
pub(crate) fn ctl_bind(path: &std::path::Path) -> io::Result<CtlEndpoint> {
    let listener = exclusive_listener()?;
    let port = listener.local_addr()?.port();
    let token = random_token()?;
    let text = serde_json::json!({"port": port, "token": token, "pid": std::process::id()});
    write_private_new(path, format!("{text}\n").as_bytes())?;
    listener.set_nonblocking(true)?;
    Ok(CtlEndpoint {
        listener,
        token: Some(token.clone()),
        stamp: CtlStamp(token),
    })
}

/// Reads the endpoint file at `path` and connects (blocking); returns the token to present.
pub(crate) fn ctl_connect(path: &std::path::Path) -> io::Result<(CtlStream, Option<String>)> {
    let f = read_endpoint(path)?;
    let addr = std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, f.port));
    // Windows retries a refused loopback connection for a while: no answer counts as refused.
    let stream = CtlStream::connect_timeout(&addr, std::time::Duration::from_secs(3)).map_err(
        |e| match e.kind() {
            io::ErrorKind::TimedOut => io::Error::new(io::ErrorKind::ConnectionRefused, e),
            _ => e,
        },
    )?;
    Ok((stream, Some(f.token)))
}

fn read_endpoint(path: &std::path::Path) -> io::Result<EndpointFile> {
    let text = std::fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

/// A connection waiting on the listener, non-blocking.
pub(crate) fn ctl_accept(listener: &CtlListener) -> io::Result<CtlStream> {
    let (stream, _) = listener.accept()?;
    stream.set_nonblocking(true)?;
    Ok(stream)
}

/// Whether a connection that failed this way means "no runner is there any more": nothing
/// listens on the port, or the file is not an endpoint file (a crash while writing it).
pub(crate) fn ctl_is_stale(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::InvalidData
    )
}

/// Removes a stale endpoint file.
pub(crate) fn ctl_remove_stale(path: &std::path::Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes the endpoint file at `path` if it still holds the token `stamp` names.
pub(crate) fn ctl_remove(path: &std::path::Path, stamp: &CtlStamp) {
    if read_endpoint(path).is_ok_and(|f| f.token == stamp.0) {
        let _ = std::fs::remove_file(path);
    }
}

fn wsa_error(what: &str) -> io::Error {
    // SAFETY: no preconditions.
    let code = unsafe { windows_sys::Win32::Networking::WinSock::WSAGetLastError() };
    let e = io::Error::from_raw_os_error(code);
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// A listener on 127.0.0.1 (a port the system picks) that no other socket may share.
fn exclusive_listener() -> io::Result<CtlListener> {
    use std::os::windows::io::{FromRawSocket, OwnedSocket, RawSocket};
    use windows_sys::Win32::Networking::WinSock as ws;
    // SAFETY: WSADATA is plain data (all-zero is valid) that WSAStartup fills; the call is
    // reference-counted, so a second one (std makes its own) is harmless.
    if unsafe { ws::WSAStartup(0x0202, &mut std::mem::zeroed()) } != 0 {
        return Err(wsa_error("WSAStartup"));
    }
    let flags = ws::WSA_FLAG_OVERLAPPED | ws::WSA_FLAG_NO_HANDLE_INHERIT;
    // SAFETY: creates a socket; no pointers are passed.
    let raw = unsafe {
        ws::WSASocketW(
            ws::AF_INET as i32,
            ws::SOCK_STREAM,
            ws::IPPROTO_TCP,
            std::ptr::null(),
            0,
            flags,
        )
    };
    if raw == ws::INVALID_SOCKET {
        return Err(wsa_error("creating the control socket"));
    }
    // SAFETY: `raw` is a valid socket that nothing else owns.
    let sock = unsafe { OwnedSocket::from_raw_socket(raw as RawSocket) };
    let one: i32 = 1;
    // SAFETY: `one` is a valid i32 option value of the length given.
    let rc = unsafe {
        ws::setsockopt(
            raw,
            ws::SOL_SOCKET,
            ws::SO_EXCLUSIVEADDRUSE,
            (&one as *const i32).cast(),
            4,
        )
    };
    if rc == ws::SOCKET_ERROR {
        return Err(wsa_error("SO_EXCLUSIVEADDRUSE"));
    }
    // SAFETY: all-zero is a valid SOCKADDR_IN; family and address are set below (port 0).
    let mut addr: ws::SOCKADDR_IN = unsafe { std::mem::zeroed() };
    addr.sin_family = ws::AF_INET;
    addr.sin_addr.S_un.S_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
    let len = std::mem::size_of::<ws::SOCKADDR_IN>() as i32;
    // SAFETY: `addr` is a valid SOCKADDR_IN of `len` bytes.
    if unsafe { ws::bind(raw, (&addr as *const ws::SOCKADDR_IN).cast(), len) } == ws::SOCKET_ERROR {
        return Err(wsa_error("binding the control socket to 127.0.0.1"));
    }
    // SAFETY: a bound socket.
    if unsafe { ws::listen(raw, 64) } == ws::SOCKET_ERROR {
        return Err(wsa_error("listen"));
    }
    Ok(CtlListener::from(sock))
}

/// 128 random bits from the system's generator, as 32 hex digits.
fn random_token() -> io::Result<String> {
    use windows_sys::Win32::Security::Cryptography::{
        BCryptGenRandom, BCRYPT_USE_SYSTEM_PREFERRED_RNG,
    };
    let mut bytes = [0u8; 16];
    // SAFETY: `bytes` is writable for its length; no algorithm handle with this flag.
    let status = unsafe {
        BCryptGenRandom(
            std::ptr::null_mut(),
            bytes.as_mut_ptr(),
            bytes.len() as u32,
            BCRYPT_USE_SYSTEM_PREFERRED_RNG,
        )
    };
    if status != 0 {
        return Err(io::Error::other(format!(
            "BCryptGenRandom failed: {status:#x}"
        )));
    }
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// This process's user, as a SID string (`S-1-5-21-…`).
fn user_sid() -> io::Result<String> {
    use windows_sys::Win32::Foundation::{CloseHandle, LocalFree};
    use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
    use windows_sys::Win32::Security::{GetTokenInformation, TokenUser, TOKEN_QUERY, TOKEN_USER};
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
    let mut token = std::ptr::null_mut();
    // SAFETY: the current process's pseudo-handle; `token` receives a handle, closed below.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // Room for a TOKEN_USER and its SID (at most 76 bytes), aligned for it.
    let mut buf = [0u64; 32];
    let mut len = 0u32;
    // SAFETY: `buf` is writable for the size given; `token` is a valid token handle.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buf.as_mut_ptr().cast(),
            std::mem::size_of_val(&buf) as u32,
            &mut len,
        )
    };
    let err = io::Error::last_os_error();
    // SAFETY: a handle this function opened.
    unsafe { CloseHandle(token) };
    if ok == 0 {
        return Err(err);
    }
    // SAFETY: GetTokenInformation wrote a TOKEN_USER at the start of `buf`, which is aligned
    // for it; its SID pointer points into `buf`, alive until the end of this function.
    let sid = unsafe { (*buf.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    let mut text = std::ptr::null_mut();
    // SAFETY: `sid` is valid (above); `text` receives a LocalAlloc'ed string, freed below.
    if unsafe { ConvertSidToStringSidW(sid, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `text` is the NUL-terminated UTF-16 string the call returned.
    let len = (0..).take_while(|&i| unsafe { *text.add(i) } != 0).count();
    // SAFETY: `len` UTF-16 units before the NUL, as counted above.
    let sid = String::from_utf16_lossy(unsafe { std::slice::from_raw_parts(text, len) });
    // SAFETY: allocated by ConvertSidToStringSidW, not used again.
    unsafe { LocalFree(text.cast()) };
    Ok(sid)
}

/// Creates `path` (never replacing a file: `AlreadyExists`) with a protected DACL that gives
/// this user full access and no one else any, and writes `bytes` to it.
fn write_private_new(path: &std::path::Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::io::FromRawHandle;
    use windows_sys::Win32::Foundation::{LocalFree, GENERIC_WRITE, INVALID_HANDLE_VALUE};
    use windows_sys::Win32::Security::Authorization::ConvertStringSecurityDescriptorToSecurityDescriptorW as from_sddl;
    use windows_sys::Win32::Security::SECURITY_ATTRIBUTES;
    use windows_sys::Win32::Storage::FileSystem::{
        CreateFileW, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, FILE_SHARE_READ,
    };
    // P: nothing inherited from the directory; FA: all access, for this user only.
    let sddl = format!("D:P(A;;FA;;;{})", user_sid()?);
    let sddl: Vec<u16> = sddl.encode_utf16().chain([0]).collect();
    let mut sd = std::ptr::null_mut();
    // SAFETY: `sddl` is NUL-terminated; `sd` receives a LocalAlloc'ed descriptor, freed below.
    if unsafe { from_sddl(sddl.as_ptr(), 1, &mut sd, std::ptr::null_mut()) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let sa = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: sd,
        bInheritHandle: 0,
    };
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
    // SAFETY: `wide` is NUL-terminated and `sa` valid for the call.
    let handle = unsafe {
        CreateFileW(
            wide.as_ptr(),
            GENERIC_WRITE,
            FILE_SHARE_READ,
            &sa,
            CREATE_NEW,
            FILE_ATTRIBUTE_NORMAL,
            std::ptr::null_mut(),
        )
    };
    let err = io::Error::last_os_error();
    // SAFETY: `sd` came from the conversion above and is not used again.
    unsafe { LocalFree(sd) };
    if handle == INVALID_HANDLE_VALUE {
        return Err(err);
    }
    // SAFETY: a valid file handle that nothing else owns.
    let mut file = unsafe { std::fs::File::from_raw_handle(handle) };
    let written = file.write_all(bytes);
    drop(file);
    if written.is_err() {
        let _ = std::fs::remove_file(path);
    }
    written
}

/// A log file, opened to append; created with the directory's default ACL if missing.
pub(crate) fn open_log(path: &std::path::Path) -> io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
}

/// Whether a server's bind sets `SO_REUSEADDR`: not on Windows, where it would let the bind
/// take a port that another socket listens on.
pub(crate) const SERVER_REUSES_ADDRESS: bool = false;

/// `WSAEACCES`: the port is bound by a socket with `SO_EXCLUSIVEADDRUSE`.
const WSAEACCES: i32 = 10013;

/// Whether a bind's `error` says that the port is in use: `WSAEADDRINUSE`, or `WSAEACCES`
/// (a socket with `SO_EXCLUSIVEADDRUSE` has it).
pub(crate) fn in_use(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::AddrInUse || error.raw_os_error() == Some(WSAEACCES)
}
