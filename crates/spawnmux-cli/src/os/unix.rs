//! Unix (Linux, macOS, the BSDs): what is common to every Unix. The process-tree items that
//! differ come from `linux.rs` (with `/proc`) or `bsd.rs` (without).
//!
//! Signals reach the runner's loop the seed article's way: signal-hook's handler writes a byte
//! to a socket pair whose other end is one of the `Mux`'s own sources, so a signal is just
//! another readable descriptor.

use std::collections::HashSet;
use std::io;
use std::os::unix::net::UnixStream;

use spawnmux::os::unix::MuxExt;
use spawnmux::{ChildId, Command, Mux, SourceId};

use super::Reaped;

pub(crate) const SIGINT: i32 = libc::SIGINT;
pub(crate) const SIGTERM: i32 = libc::SIGTERM;
pub(crate) const SIGKILL: i32 = libc::SIGKILL;

/// The runner's stop signals, `SIGCHLD` (an exited child to reap) and `SIGWINCH` (spawnmux's
/// terminal changed size: the `tty` helpers' terminals follow).
const HANDLED: [i32; 5] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGCHLD,
    libc::SIGWINCH,
];

/// Keeps the handlers installed; removes them when dropped.
pub(crate) struct Signals {
    installed: Vec<(SourceId, i32, signal_hook::SigId)>,
}

/// Routes SIGINT, SIGTERM, SIGHUP, SIGCHLD and SIGWINCH into `mux` (each as a source of its
/// own).
pub(crate) fn install(mux: &mut Mux) -> io::Result<Signals> {
    let mut installed = Vec::new();
    for sig in HANDLED {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        let id = signal_hook::low_level::pipe::register(sig, write)?;
        let source = mux.add_source(read, spawnmux::Interest::Readable)?;
        installed.push((source, sig, id));
    }
    Ok(Signals { installed })
}

/// Whether `sig` (from [`Signals::drain`]) only says that a child exited.
pub(crate) fn is_child_exit(sig: i32) -> bool {
    sig == libc::SIGCHLD
}

/// Whether `sig` (from [`Signals::drain`]) says that spawnmux's terminal changed size.
pub(crate) fn is_resize(sig: i32) -> bool {
    sig == libc::SIGWINCH
}

impl Signals {
    /// The signal that `source` stands for, once per byte read (at least once, at most
    /// twice: a second stop signal means "kill now").
    pub(crate) fn drain(&self, mux: &mut Mux, source: SourceId) -> Vec<i32> {
        use std::io::Read;
        let Some(&(_, sig, _)) = self.installed.iter().find(|(s, _, _)| *s == source) else {
            return Vec::new();
        };
        let mut n = 0;
        if let Some(stream) = mux.source_mut::<UnixStream>(source) {
            let mut buf = [0u8; 16];
            while let Ok(k) = stream.read(&mut buf) {
                if k == 0 {
                    break;
                }
                n += k;
            }
        }
        vec![sig; n.clamp(1, 2)]
    }
}

impl Drop for Signals {
    fn drop(&mut self) {
        for (_, _, id) in &self.installed {
            signal_hook::low_level::unregister(*id);
        }
    }
}

/// A signal's name for the log (`SIGINT`), from the library's one table.
pub(crate) fn signal_name(sig: i32) -> Option<&'static str> {
    spawnmux::os::unix::signal_name(sig)
}

/// A config's `stop_signal` (`TERM`, `SIGUSR1`, `10`) as this platform's number, from the
/// library's one table (`USR1` is 10 on Linux, 30 on macOS and the BSDs).
pub(crate) fn signal_number(name: &str) -> Option<i32> {
    spawnmux::os::unix::signal_number(name)
}

/// Sends a helper's stop signal to its process group.
pub(crate) fn send_stop(mux: &mut Mux, id: ChildId, signal: i32) -> io::Result<()> {
    mux.signal(id, signal)
}

/// Pipes are the only transport outside Windows.
pub(crate) fn set_transport(_: &mut Command, _: crate::cli::DemoTransport) {}

/// A shell command line: `sh -c LINE`.
pub(crate) fn shell(line: &str) -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", line]);
    c
}

/// Reaps exited children that are not in `owned` (the pids the `Mux` still has to reap).
///
/// `waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT)` names an exited child without reaping it;
/// only if it is not one of the `Mux`'s is it reaped (by pid). The `Mux`'s promise (it
/// reaps its own children by pid, nobody else does) is kept. When the exited child named
/// is the `Mux`'s, the pass stops (`blocked`): the kernel would name it again until the
/// `Mux` reaps it, which it does on its next `wait`.
pub(crate) fn reap_orphans(owned: &HashSet<u32>) -> Reaped {
    let mut reaped = Reaped::default();
    loop {
        // SAFETY: `siginfo_t` is plain data; zeroed is a valid value (si_pid 0 = nothing).
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable siginfo_t; P_ALL ignores the id argument.
        let r = unsafe {
            libc::waitid(
                libc::P_ALL,
                0,
                &mut info,
                libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
            )
        };
        if r != 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return reaped; // ECHILD: no child at all
        }
        // SAFETY: waitid filled `info` for an exited child (or left si_pid 0 for none).
        let pid = unsafe { info.si_pid() };
        if pid <= 0 {
            return reaped;
        }
        if owned.contains(&(pid as u32)) {
            reaped.blocked = true;
            return reaped;
        }
        let Some(p) = rustix::process::Pid::from_raw(pid) else {
            return reaped;
        };
        // It has exited: this does not block. ECHILD: someone else reaped it meanwhile.
        let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty());
        reaped.count += 1;
    }
}

/// `signal` (a number) as rustix's type; `None` for a number this platform does not know.
fn os_signal(signal: i32) -> Option<rustix::process::Signal> {
    rustix::process::Signal::from_named_raw(signal)
}

/// Sends `signal` to each pid (errors ignored: it may be gone).
pub(crate) fn signal_pids(pids: &[u32], signal: i32) {
    let Some(sig) = os_signal(signal) else {
        return;
    };
    for &pid in pids {
        if let Some(pid) = i32::try_from(pid)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, sig);
        }
    }
}

/// `killpg(pgid, signal)` (errors ignored); never for group 1 (init's).
pub(crate) fn killpg(pgid: u32, signal: i32) {
    let (Some(sig), Some(pgid)) = (
        os_signal(signal),
        i32::try_from(pgid)
            .ok()
            .filter(|&p| p > 1)
            .and_then(rustix::process::Pid::from_raw),
    ) else {
        return;
    };
    let _ = rustix::process::kill_process_group(pgid, sig);
}

/// A non-blocking `connect` answered `EINPROGRESS`: the connection is under way.
pub(crate) fn connect_pending(error: &io::Error) -> bool {
    error.raw_os_error() == Some(libc::EINPROGRESS) || error.kind() == io::ErrorKind::WouldBlock
}

// The control socket (`spawnmux ctl`): a Unix domain socket, mode 0600, in a directory only
// its user may enter.

pub(crate) type CtlListener = std::os::unix::net::UnixListener;
pub(crate) type CtlStream = UnixStream;

/// The control socket's file name ends with this.
pub(crate) const CTL_SUFFIX: &str = ".sock";

/// What identifies the socket file this process made (its device and inode), so that only
/// that one is removed at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CtlStamp(u64, u64);

/// A control socket, bound and listening (non-blocking).
pub(crate) struct CtlEndpoint {
    pub(crate) listener: CtlListener,
    /// The token a client must present first (none here: the socket's mode decides who can
    /// connect).
    pub(crate) token: Option<String>,
    pub(crate) stamp: CtlStamp,
}

/// The directory of control sockets: `$XDG_RUNTIME_DIR/spawnmux`, else
/// `<temp dir>/spawnmux-<uid>`.
pub(crate) fn ctl_dir() -> std::path::PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").map(std::path::PathBuf::from) {
        Some(d) if d.is_absolute() => d.join("spawnmux"),
        _ => {
            let uid = rustix::process::geteuid().as_raw();
            std::env::temp_dir().join(format!("spawnmux-{uid}"))
        }
    }
}

/// Makes `dir` (mode 0700) if missing and `create`; an existing one must be a directory (not
/// a link) of this user that no one else may write to (`PermissionDenied` says why not).
pub(crate) fn ctl_dir_ready(dir: &std::path::Path, create: bool) -> io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let shown = dir.display();
    if create {
        match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            // The umask may have taken bits away: 0700 it is.
            Ok(()) => return std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("creating {shown}: {e}"))),
        }
    }
    let m = std::fs::symlink_metadata(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("{shown}: {e}")))?;
    let uid = rustix::process::geteuid().as_raw();
    let why = if !m.is_dir() {
        "not a directory".to_string()
    } else if m.uid() != uid {
        format!("it belongs to uid {}, not to you (uid {uid})", m.uid())
    } else if m.mode() & 0o022 != 0 {
        format!("others may write to it (mode {:o})", m.mode() & 0o7777)
    } else {
        return Ok(());
    };
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("refusing the control directory {shown}: {why}"),
    ))
}

/// Binds the control socket at `path` (mode 0600). `AlreadyExists` if something is there.
pub(crate) fn ctl_bind(path: &std::path::Path) -> io::Result<CtlEndpoint> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let listener = CtlListener::bind(path).map_err(|e| match e.kind() {
        io::ErrorKind::AddrInUse => io::Error::new(io::ErrorKind::AlreadyExists, e),
        _ => e,
    })?;
    let made = (|| {
        listener.set_nonblocking(true)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        std::fs::symlink_metadata(path)
    })();
    match made {
        Ok(m) => Ok(CtlEndpoint {
            listener,
            token: None,
            stamp: CtlStamp(m.dev(), m.ino()),
        }),
        Err(e) => {
            let _ = std::fs::remove_file(path);
            Err(e)
        }
    }
}

/// Connects to the control socket at `path` (blocking); no token is needed.
pub(crate) fn ctl_connect(path: &std::path::Path) -> io::Result<(CtlStream, Option<String>)> {
    Ok((UnixStream::connect(path)?, None))
}

/// A connection waiting on the listener, non-blocking.
pub(crate) fn ctl_accept(listener: &CtlListener) -> io::Result<CtlStream> {
    let (stream, _) = listener.accept()?;
    stream.set_nonblocking(true)?;
    Ok(stream)
}

/// Whether a connection that failed this way means "no runner is there any more"
/// (connection refused: a socket file without a listener).
pub(crate) fn ctl_is_stale(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::ConnectionRefused
}

/// Removes a stale control socket; anything but a socket is left alone (an error).
pub(crate) fn ctl_remove_stale(path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => std::fs::remove_file(path),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} is not a socket: leaving it alone", path.display()),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes the control socket at `path` if it is still the one `stamp` names.
pub(crate) fn ctl_remove(path: &std::path::Path, stamp: &CtlStamp) {
    use std::os::unix::fs::MetadataExt;
    if std::fs::symlink_metadata(path).is_ok_and(|m| CtlStamp(m.dev(), m.ino()) == *stamp) {
        let _ = std::fs::remove_file(path);
    }
}

/// A log file, opened to append; created with mode 0600 (before the umask) if missing.
pub(crate) fn open_log(path: &std::path::Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
}

/// The size of spawnmux's terminal (rows, columns), if stdout is one.
pub(crate) fn window_size() -> Option<(u16, u16)> {
    let ws = rustix::termios::tcgetwinsize(io::stdout()).ok()?;
    (ws.ws_row > 0 && ws.ws_col > 0).then_some((ws.ws_row, ws.ws_col))
}

/// spawnmux's own stdin as a `Mux` source (`--handle-input`).
///
/// # Implementation notes
/// The source is a duplicate of fd 0, left blocking: `O_NONBLOCK` would be set on the open
/// file description, which the terminal shares with the shell, and outlive spawnmux. One
/// `read` per readiness report never blocks (a terminal in canonical mode reports a whole
/// line, a pipe its bytes). A regular file cannot be polled: then there is no input source.
pub(crate) struct Input {
    source: Option<SourceId>,
}

/// Adds spawnmux's stdin to `mux`.
pub(crate) fn input(mux: &mut Mux) -> io::Result<Input> {
    use std::os::fd::AsFd;
    let fd = io::stdin().as_fd().try_clone_to_owned()?;
    let file = std::fs::File::from(fd);
    let source = mux
        .add_source(file, spawnmux::Interest::Readable)
        .map_err(|e| io::Error::new(e.kind(), format!("reading spawnmux's stdin: {e}")))?;
    Ok(Input {
        source: Some(source),
    })
}

impl Input {
    /// Whether `source` is the input's (its readiness is a reason to [`Input::read`]).
    pub(crate) fn owns(&self, source: SourceId) -> bool {
        self.source == Some(source)
    }

    /// What was typed since the last call (one `read`), and whether the input has ended
    /// (then the source is gone).
    pub(crate) fn read(&mut self, mux: &mut Mux) -> io::Result<(Vec<u8>, bool)> {
        use std::io::Read;
        let Some(id) = self.source else {
            return Ok((Vec::new(), true));
        };
        let mut buf = vec![0; 4096];
        let n = match mux
            .source_mut::<std::fs::File>(id)
            .map(|f| f.read(&mut buf))
        {
            Some(Ok(n)) => n,
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {
                return Ok((Vec::new(), false))
            }
            Some(Err(e)) => return Err(io::Error::new(e.kind(), format!("reading stdin: {e}"))),
            None => 0,
        };
        if n == 0 {
            self.source = None;
            mux.remove_source::<std::fs::File>(id)?;
        }
        buf.truncate(n);
        Ok((buf, n == 0))
    }
}

/// Whether a server's bind sets `SO_REUSEADDR`: it does on Unix (servers set it, so that the
/// connections of an old instance in `TIME_WAIT` do not keep a new one from listening).
pub(crate) const SERVER_REUSES_ADDRESS: bool = true;

/// Whether a bind's `error` says that the port is in use.
pub(crate) fn in_use(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::AddrInUse
}
