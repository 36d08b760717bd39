//! `spawnmux-testchild`: the one program spawnmux's tests and benchmarks run, so that they do
//! not depend on `sh`, `cat` or `echo` behaving the same on every platform.
//!
//! It executes its arguments as a list of ops, left to right, then exits 0:
//!
//! | op | effect |
//! |---|---|
//! | `out STR` / `err STR` | write STR (escapes: `\n \r \t \0 \\ \xHH`) to stdout / stderr, flush |
//! | `lines N WHICH [WIDTH]` | N lines `out <i>` / `err <i>` (WHICH: `out`, `err`, `both`), padded with `.` to WIDTH bytes incl. `\n` |
//! | `bigline N WHICH` | one line of N bytes cycling `a..z`, then `\n` |
//! | `spew BYTES WHICH` | BYTES bytes cycling `0..9`, every 64th a `\n` |
//! | `flood BYTES WHICH [WIDTH]` | BYTES bytes as lines `flood <i> ...` padded with `.` to WIDTH (default 1024) bytes incl. `\n`, written in 64 KiB blocks (the last line may be cut short) |
//! | `pipe-size BYTES WHICH` | Linux: make our stdout / stderr pipe hold BYTES (`F_SETPIPE_SZ`), print nothing; elsewhere nothing |
//! | `report-pipe-size WHICH` | print `pipe <bytes>` to stderr: what our stdout / stderr pipe holds now (Linux: `F_GETPIPE_SZ`; elsewhere 0) |
//! | `stamps N MS` | N lines `stamp <i> <ns>` (`CLOCK_MONOTONIC` in ns; 0 where there is none) to stdout, MS ms apart |
//! | `sleep MS` | sleep |
//! | `barrier DIR N` | create `DIR/<pid>`, then wait (polling every 5 ms) until DIR holds N entries: helpers that end together |
//! | `exit CODE` | exit now with CODE |
//! | `abort` | `std::process::abort()` |
//! | `echo` | copy stdin to stdout line by line, flushing each line, until EOF |
//! | `cat` | copy stdin to stdout in raw chunks until EOF |
//! | `drain` | read stdin to EOF, then print `drained <bytes>` |
//! | `wait-eof` | read stdin to EOF, print nothing |
//! | `pid` | print `pid <pid>` |
//! | `env NAME` | print `NAME=<value>` or `NAME unset` |
//! | `cwd` | print the working directory |
//! | `argv ARGS...` | print each remaining argument as `[<arg>]` on its own line (consumes the rest) |
//! | `fds` | Linux: print `fds 0,1,2,...` (our open fds); elsewhere `fds unsupported` |
//! | `grandchild MS` | start `spawnmux-testchild pid sleep MS` with inherited stdio, print `grandchild <pid>`, don't wait |
//! | `ignored-signals` | print `ignored <names>`: which of SIGHUP, SIGINT, SIGQUIT, SIGTSTP, SIGTTIN, SIGTTOU this process ignores (`HUP,INT,...`, or `none`; always `none` on Windows) |
//! | `ignore-term` | ignore SIGTERM (Windows: Ctrl+C / Ctrl+Break), then print `ignoring term` |
//! | `forever MS` | print `tick <i>` every MS ms, forever |
//! | `tty` | print `tty in=<bool> out=<bool> err=<bool> size=<rows>x<cols>`: which streams are terminals, and the window size (`?x?` where unknown) |
//! | `console-stdio` | Windows: if stdout is not a console but we are attached to one, take `CONIN$`/`CONOUT$` as stdin, stdout and stderr (Wine 8 never gives a pseudo console's child its standard handles); elsewhere nothing |
//! | `trap-term` | on SIGTERM/SIGINT (Windows: Ctrl+C / Ctrl+Break) print `caught <name>` and exit 130; print `trapping term` |
//! | `read-line` | read one line from stdin, print nothing |
//! | `close-out` | close our stdout and carry on |
//! | `listen PORT DELAY_MS FOR_MS STATUS` | after DELAY_MS, print `listening <port>` and listen on 127.0.0.1:PORT (port 0: listen, then print), answer every connection with `HTTP/1.1 STATUS` for FOR_MS ms (0: forever), then close the listener and go on |
//! | `connect PORT` | connect once to 127.0.0.1:PORT: print `connected`, or `refused: <error>` to stderr and exit 3 |
//! | `hold PORT MS` | listen on 127.0.0.1:PORT without `SO_REUSEADDR` for MS ms, accepting nothing |
//! | `hold-detached PORT MS` | start `hold PORT MS` with no stdio (Unix: in a process group of its own), wait until it listens, print `held <port> by <pid>`, don't wait for it |
//! | `tty` | print `tty in=<bool> out=<bool> err=<bool> size=<rows>x<cols>`: whether stdin, stdout, stderr are terminals, and stdout's window size (`size=none` without one) |
//! | `winch` | print `winch ready`, wait for `SIGWINCH`, print `winch <rows>x<cols>` (Windows: `winch unsupported` at once) |
//!
//! A write that fails because the reader is gone exits with code 141. Bad usage exits 2.

use std::ffi::OsString;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

mod escape;
mod net;
mod tty;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: spawnmux-testchild OP [ARGS] [OP [ARGS]]...  (ops: see src/main.rs)");
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("spawnmux-testchild: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(141),
        Err(Failure::Io(e)) => {
            eprintln!("spawnmux-testchild: {e}");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    Usage(String),
    Io(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Io(e)
    }
}

/// The ops' arguments, consumed left to right.
struct Args<'a> {
    rest: std::slice::Iter<'a, OsString>,
    op: String,
}

impl<'a> Args<'a> {
    fn next_op(&mut self) -> Option<String> {
        let op = self.rest.next()?.to_string_lossy().into_owned();
        self.op = op.clone();
        Some(op)
    }

    fn string(&mut self) -> Result<String, Failure> {
        match self.rest.next() {
            Some(s) => Ok(s.to_string_lossy().into_owned()),
            None => Err(Failure::Usage(format!("`{}` needs an argument", self.op))),
        }
    }

    fn number<T: std::str::FromStr>(&mut self) -> Result<T, Failure> {
        let s = self.string()?;
        s.parse()
            .map_err(|_| Failure::Usage(format!("`{}`: `{s}` is not a number", self.op)))
    }

    fn which(&mut self) -> Result<Which, Failure> {
        match self.string()?.as_str() {
            "out" => Ok(Which::Out),
            "err" => Ok(Which::Err),
            "both" => Ok(Which::Both),
            other => Err(Failure::Usage(format!(
                "`{}`: `{other}` is not out, err or both",
                self.op
            ))),
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Which {
    Out,
    Err,
    Both,
}

fn run(argv: &[OsString]) -> Result<(), Failure> {
    let mut args = Args {
        rest: argv.iter(),
        op: String::new(),
    };
    while let Some(op) = args.next_op() {
        match op.as_str() {
            "out" => write_flush(&mut io::stdout(), &escape::unescape(&args.string()?))?,
            "err" => write_flush(&mut io::stderr(), &escape::unescape(&args.string()?))?,
            "lines" => {
                let n: u64 = args.number()?;
                let which = args.which()?;
                let width = peek_number(&mut args);
                lines(n, which, width)?;
            }
            "blanks" => {
                let n: u64 = args.number()?;
                let which = args.which()?;
                blanks(n, which)?;
            }
            "bigline" => {
                let n: usize = args.number()?;
                let which = args.which()?;
                let mut line: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
                line.push(b'\n');
                to(which, &line)?;
            }
            "spew" => {
                let n: u64 = args.number()?;
                let which = args.which()?;
                spew(n, which)?;
            }
            "flood" => {
                let n: u64 = args.number()?;
                let which = args.which()?;
                let width = peek_number(&mut args).unwrap_or(1024);
                flood(n, which, width)?;
            }
            "pipe-size" => {
                let n: usize = args.number()?;
                let which = args.which()?;
                sys::pipe_size(n, which)?;
            }
            "report-pipe-size" => {
                let which = args.which()?;
                let size = sys::get_pipe_size(which)?;
                write_flush(&mut io::stderr(), format!("pipe {size}\n").as_bytes())?;
            }
            "stamps" => {
                let n: u64 = args.number()?;
                let ms: u64 = args.number()?;
                for i in 0..n {
                    let line = format!("stamp {i} {}\n", sys::monotonic_ns());
                    write_flush(&mut io::stdout(), line.as_bytes())?;
                    if i + 1 < n {
                        std::thread::sleep(Duration::from_millis(ms));
                    }
                }
            }
            "sleep" => std::thread::sleep(Duration::from_millis(args.number()?)),
            "barrier" => {
                let dir = std::path::PathBuf::from(args.string()?);
                let n: usize = args.number()?;
                std::fs::write(dir.join(std::process::id().to_string()), b"")?;
                while std::fs::read_dir(&dir)?.count() < n {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            "exit" => {
                let code: i32 = args.number()?;
                let _ = io::stdout().flush();
                std::process::exit(code);
            }
            "abort" => std::process::abort(),
            "echo" => echo()?,
            "cat" => cat()?,
            "drain" => {
                let n = io::copy(&mut io::stdin().lock(), &mut io::sink())?;
                write_flush(&mut io::stdout(), format!("drained {n}\n").as_bytes())?;
            }
            "wait-eof" => {
                io::copy(&mut io::stdin().lock(), &mut io::sink())?;
            }
            "pid" => write_flush(
                &mut io::stdout(),
                format!("pid {}\n", std::process::id()).as_bytes(),
            )?,
            "env" => {
                let name = args.string()?;
                let line = match std::env::var_os(&name) {
                    Some(v) => format!("{name}={}\n", v.to_string_lossy()),
                    None => format!("{name} unset\n"),
                };
                write_flush(&mut io::stdout(), line.as_bytes())?;
            }
            "cwd" => {
                let dir = std::env::current_dir()?;
                write_flush(&mut io::stdout(), format!("{}\n", dir.display()).as_bytes())?;
            }
            "argv" => {
                let mut out = io::stdout().lock();
                for arg in args.rest.by_ref() {
                    out.write_all(b"[")?;
                    out.write_all(&os_bytes(arg))?;
                    out.write_all(b"]\n")?;
                }
                out.flush()?;
            }
            "fds" => write_flush(&mut io::stdout(), fds().as_bytes())?,
            "grandchild" => {
                let ms = args.string()?;
                let child = std::process::Command::new(std::env::current_exe()?)
                    .args(["pid", "sleep", &ms])
                    .spawn()?;
                write_flush(
                    &mut io::stdout(),
                    format!("grandchild {}\n", child.id()).as_bytes(),
                )?;
                std::mem::forget(child);
            }
            "ignored-signals" => {
                let line = format!("ignored {}\n", sys::ignored_signals()?);
                write_flush(&mut io::stdout(), line.as_bytes())?;
            }
            "ignore-term" => {
                sys::ignore_term()?;
                write_flush(&mut io::stdout(), b"ignoring term\n")?;
            }
            "forever" => {
                let ms: u64 = args.number()?;
                for i in 0u64.. {
                    write_flush(&mut io::stdout(), format!("tick {i}\n").as_bytes())?;
                    std::thread::sleep(Duration::from_millis(ms));
                }
            }
            "close-out" => sys::close_stdout(),
            "tty" => tty::report()?,
            "winch" => tty::winch()?,
            "console-stdio" => sys::console_stdio(),
            "trap-term" => {
                sys::trap_term()?;
                write_flush(&mut io::stdout(), b"trapping term\n")?;
            }
            "read-line" => {
                io::stdin().lock().read_line(&mut String::new())?;
            }
            "listen" | "connect" | "hold" | "hold-detached" => net::op(&op, &mut args)?,
            other => return Err(Failure::Usage(format!("unknown op `{other}`"))),
        }
    }
    Ok(())
}

/// The optional WIDTH of `lines`: taken only if the next argument is a number.
fn peek_number(args: &mut Args<'_>) -> Option<usize> {
    let mut look = args.rest.clone();
    let n = look.next()?.to_str()?.parse().ok()?;
    args.rest = look;
    Some(n)
}

fn write_flush(w: &mut impl Write, data: &[u8]) -> io::Result<()> {
    w.write_all(data)?;
    w.flush()
}

fn to(which: Which, data: &[u8]) -> io::Result<()> {
    if which != Which::Err {
        write_flush(&mut io::stdout().lock(), data)?;
    }
    if which != Which::Out {
        write_flush(&mut io::stderr().lock(), data)?;
    }
    Ok(())
}

fn lines(n: u64, which: Which, width: Option<usize>) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut err = BufWriter::with_capacity(64 * 1024, io::stderr().lock());
    let mut line = Vec::with_capacity(128);
    let mut emit = |w: &mut dyn Write, tag: &str, i: u64| -> io::Result<()> {
        line.clear();
        write!(line, "{tag} {i}")?;
        if let Some(width) = width {
            while line.len() + 1 < width {
                line.push(b'.');
            }
        }
        line.push(b'\n');
        w.write_all(&line)
    };
    for i in 0..n {
        if which != Which::Err {
            emit(&mut out, "out", i)?;
        }
        if which != Which::Out {
            emit(&mut err, "err", i)?;
        }
    }
    out.flush()?;
    err.flush()
}

/// `blanks`: for each `i`, `out i` / `err i` followed by an empty line, the two terminators
/// cycling through `\n\n`, `\r\n\r\n`, `\n\r\n` and `\r\n\n` (by `i % 4`), through a 64 KiB
/// `BufWriter` so that terminators fall on every read boundary.
fn blanks(n: u64, which: Which) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, io::stdout().lock());
    let mut err = BufWriter::with_capacity(64 * 1024, io::stderr().lock());
    let ends: [&str; 4] = ["\n\n", "\r\n\r\n", "\n\r\n", "\r\n\n"];
    for i in 0..n {
        let end = ends[(i % 4) as usize];
        if which != Which::Err {
            write!(out, "out {i}{end}")?;
        }
        if which != Which::Out {
            write!(err, "err {i}{end}")?;
        }
    }
    out.flush()?;
    err.flush()
}

/// `spew`: byte `i` is `\n` if `i % 64 == 63`, else `'0' + i % 10`. The pattern repeats every
/// 320 bytes, so one 64,000-byte block (200 periods) is written over and over: memory stays
/// small and the child costs little CPU (the benchmarks' throughput workload uses it).
fn spew(n: u64, which: Which) -> io::Result<()> {
    const BLOCK: usize = 320 * 200;
    let block: Vec<u8> = (0..BLOCK)
        .map(|i| {
            if i % 64 == 63 {
                b'\n'
            } else {
                b'0' + (i % 10) as u8
            }
        })
        .collect();
    let mut out = io::stdout().lock();
    let mut err = io::stderr().lock();
    let mut left = n;
    while left > 0 {
        let chunk = &block[..left.min(BLOCK as u64) as usize];
        if which != Which::Err {
            out.write_all(chunk)?;
        }
        if which != Which::Out {
            err.write_all(chunk)?;
        }
        left -= chunk.len() as u64;
    }
    out.flush()?;
    err.flush()
}

fn flood(bytes: u64, which: Which, width: usize) -> io::Result<()> {
    let width = width.max(2);
    let mut block = Vec::with_capacity(64 * 1024 + width);
    let mut line = Vec::with_capacity(width);
    let mut written = 0u64;
    let mut i = 0u64;
    while written < bytes {
        while block.len() < 64 * 1024 {
            line.clear();
            write!(line, "flood {i}")?;
            line.resize(width - 1, b'.');
            line.push(b'\n');
            block.extend_from_slice(&line);
            i += 1;
        }
        let take = (bytes - written).min(64 * 1024) as usize;
        to(which, &block[..take])?;
        block.drain(..take);
        written += take as u64;
    }
    Ok(())
}

fn echo() -> io::Result<()> {
    let mut input = io::stdin().lock();
    let mut out = io::stdout().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        write_flush(&mut out, &line)?;
    }
}

fn cat() -> io::Result<()> {
    let mut input = io::stdin().lock();
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        write_flush(&mut out, &buf[..n])?;
    }
}

#[cfg(unix)]
fn os_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    std::os::unix::ffi::OsStrExt::as_bytes(s).to_vec()
}

#[cfg(not(unix))]
fn os_bytes(s: &std::ffi::OsStr) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}

/// Our open fds, without the one `read_dir` itself held while listing (gone by the time
/// `fd_is_open` checks, which opens nothing).
#[cfg(target_os = "linux")]
fn fds() -> String {
    let mut listed: Vec<u32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    listed.sort_unstable();
    let open: Vec<String> = listed
        .into_iter()
        .filter(|fd| sys::fd_is_open(*fd))
        .map(|fd| fd.to_string())
        .collect();
    format!("fds {}\n", open.join(","))
}

#[cfg(not(target_os = "linux"))]
fn fds() -> String {
    "fds unsupported\n".to_string()
}

#[cfg(unix)]
mod sys {
    use std::io;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// Which of the terminal's signals this process ignores (`SIG_IGN` survives `exec`):
    /// `none`, or their names joined by commas.
    pub(crate) fn ignored_signals() -> io::Result<String> {
        let signals = [
            (libc::SIGHUP, "HUP"),
            (libc::SIGINT, "INT"),
            (libc::SIGQUIT, "QUIT"),
            (libc::SIGTSTP, "TSTP"),
            (libc::SIGTTIN, "TTIN"),
            (libc::SIGTTOU, "TTOU"),
        ];
        let mut ignored = Vec::new();
        for (sig, name) in signals {
            // SAFETY: all-zero bytes are a valid `sigaction` (no handler, empty mask).
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: a query (no new action) into a struct we own.
            if unsafe { libc::sigaction(sig, std::ptr::null(), &mut old) } != 0 {
                return Err(io::Error::last_os_error());
            }
            if old.sa_sigaction == libc::SIG_IGN {
                ignored.push(name);
            }
        }
        Ok(if ignored.is_empty() {
            "none".to_string()
        } else {
            ignored.join(",")
        })
    }

    pub(crate) fn ignore_term() -> io::Result<()> {
        // Registering a flag replaces the default action (terminate) with "set the flag".
        signal_hook::flag::register(
            signal_hook::consts::SIGTERM,
            Arc::new(AtomicBool::new(false)),
        )?;
        Ok(())
    }

    #[cfg(target_os = "linux")]
    pub(crate) fn pipe_size(bytes: usize, which: super::Which) -> io::Result<()> {
        use super::Which;
        if which != Which::Err {
            rustix::pipe::fcntl_setpipe_size(rustix::stdio::stdout(), bytes)?;
        }
        if which != Which::Out {
            rustix::pipe::fcntl_setpipe_size(rustix::stdio::stderr(), bytes)?;
        }
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn pipe_size(_bytes: usize, _which: super::Which) -> io::Result<()> {
        Ok(())
    }

    /// What our stdout (`out`, `both`) or stderr (`err`) pipe holds.
    #[cfg(target_os = "linux")]
    pub(crate) fn get_pipe_size(which: super::Which) -> io::Result<usize> {
        Ok(if which == super::Which::Err {
            rustix::pipe::fcntl_getpipe_size(rustix::stdio::stderr())?
        } else {
            rustix::pipe::fcntl_getpipe_size(rustix::stdio::stdout())?
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub(crate) fn get_pipe_size(_which: super::Which) -> io::Result<usize> {
        Ok(0)
    }

    pub(crate) fn monotonic_ns() -> u128 {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        t.tv_sec as u128 * 1_000_000_000 + t.tv_nsec as u128
    }

    pub(crate) fn close_stdout() {
        use std::os::fd::{FromRawFd, OwnedFd};
        // SAFETY: fd 1 is open (our stdout) and nothing else in this program owns it as an
        // OwnedFd; later writes through `io::stdout()` fail with EBADF, which is the point.
        drop(unsafe { OwnedFd::from_raw_fd(1) });
    }

    /// A listener on 127.0.0.1:`port` without `SO_REUSEADDR` (std's `TcpListener::bind`
    /// sets it on Unix).
    pub(crate) fn listen_without_reuse(port: u16) -> io::Result<std::net::TcpListener> {
        use rustix::net::{AddressFamily, SocketType};
        // Not close-on-exec (macOS has no SOCK_CLOEXEC): `hold` starts nothing.
        let fd = rustix::net::socket(AddressFamily::INET, SocketType::STREAM, None)?;
        let addr = std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port);
        rustix::net::bind(&fd, &addr)?;
        rustix::net::listen(&fd, 16)?;
        Ok(std::net::TcpListener::from(fd))
    }

    /// `cmd` starts in a process group of its own.
    pub(crate) fn detach(cmd: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }

    /// Nothing: a Unix child's standard streams are what it was given.
    pub(crate) fn console_stdio() {}

    /// SIGTERM / SIGINT: print `caught <name>`, exit 130 (a thread waits for them).
    pub(crate) fn trap_term() -> io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let name = if sig == SIGTERM { "SIGTERM" } else { "SIGINT" };
                let _ =
                    super::write_flush(&mut io::stdout(), format!("caught {name}\n").as_bytes());
                std::process::exit(130);
            }
        });
        Ok(())
    }

    /// `true` if `fd` is an open descriptor (checked with `/proc/self/fdinfo`, no unsafe).
    #[cfg(target_os = "linux")]
    pub(crate) fn fd_is_open(fd: u32) -> bool {
        std::path::Path::new(&format!("/proc/self/fdinfo/{fd}")).exists()
    }
}

#[cfg(windows)]
mod sys {
    use std::io;

    use windows_sys::core::BOOL;
    use windows_sys::Win32::Foundation::{
        CloseHandle, GENERIC_READ, GENERIC_WRITE, HANDLE, INVALID_HANDLE_VALUE, TRUE,
    };
    use windows_sys::Win32::Storage::FileSystem::{
        CreateFileW, FILE_SHARE_READ, FILE_SHARE_WRITE, OPEN_EXISTING,
    };
    use windows_sys::Win32::System::Console::{
        GetConsoleScreenBufferInfo, GetStdHandle, SetConsoleCtrlHandler, SetStdHandle,
        CONSOLE_SCREEN_BUFFER_INFO, CTRL_BREAK_EVENT, CTRL_C_EVENT, STD_ERROR_HANDLE,
        STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
    };

    unsafe extern "system" fn ignore(_event: u32) -> BOOL {
        TRUE
    }

    /// Runs on a thread of its own (Windows starts one per control event).
    unsafe extern "system" fn trap(event: u32) -> BOOL {
        let name = match event {
            CTRL_C_EVENT => "ctrl-c",
            CTRL_BREAK_EVENT => "ctrl-break",
            _ => "ctrl-other",
        };
        let _ = super::write_flush(&mut io::stdout(), format!("caught {name}\n").as_bytes());
        std::process::exit(130);
    }

    pub(crate) fn trap_term() -> io::Result<()> {
        // SAFETY: `trap` is a valid handler for the whole life of the process.
        if unsafe { SetConsoleCtrlHandler(Some(trap), TRUE) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// If stdout is not a console but `CONOUT$` opens (we are attached to one), makes the
    /// console our stdin, stdout and stderr.
    pub(crate) fn console_stdio() {
        use std::io::IsTerminal;
        if io::stdout().is_terminal() {
            return;
        }
        let (Some(conin), Some(conout)) = (open_console("CONIN$"), open_console("CONOUT$")) else {
            return;
        };
        // SAFETY: valid handles, kept open for the rest of the process (never closed).
        unsafe {
            SetStdHandle(STD_INPUT_HANDLE, conin);
            SetStdHandle(STD_OUTPUT_HANDLE, conout);
            SetStdHandle(STD_ERROR_HANDLE, conout);
        }
    }

    fn open_console(name: &str) -> Option<HANDLE> {
        let wide: Vec<u16> = name.encode_utf16().chain([0]).collect();
        // SAFETY: NUL-terminated name; no security attributes, no template.
        let h = unsafe {
            CreateFileW(
                wide.as_ptr(),
                GENERIC_READ | GENERIC_WRITE,
                FILE_SHARE_READ | FILE_SHARE_WRITE,
                std::ptr::null(),
                OPEN_EXISTING,
                0,
                std::ptr::null_mut(),
            )
        };
        (h != INVALID_HANDLE_VALUE).then_some(h)
    }

    /// The console window's size (rows, columns), if stdout is a console.
    pub(crate) fn window_size() -> Option<(u16, u16)> {
        // SAFETY: all-zero is a valid CONSOLE_SCREEN_BUFFER_INFO (out parameter); GetStdHandle
        // has no preconditions.
        unsafe {
            let mut info: CONSOLE_SCREEN_BUFFER_INFO = std::mem::zeroed();
            if GetConsoleScreenBufferInfo(GetStdHandle(STD_OUTPUT_HANDLE), &mut info) == 0 {
                return None;
            }
            let w = info.srWindow;
            Some(((w.Bottom - w.Top + 1) as u16, (w.Right - w.Left + 1) as u16))
        }
    }

    /// Windows has no signal dispositions to inherit.
    pub(crate) fn ignored_signals() -> io::Result<String> {
        Ok("none".to_string())
    }

    pub(crate) fn ignore_term() -> io::Result<()> {
        // SAFETY: `ignore` is a valid handler for the whole life of the process.
        if unsafe { SetConsoleCtrlHandler(Some(ignore), TRUE) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    pub(crate) fn monotonic_ns() -> u128 {
        0
    }

    pub(crate) fn pipe_size(_bytes: usize, _which: super::Which) -> io::Result<()> {
        Ok(())
    }

    pub(crate) fn get_pipe_size(_which: super::Which) -> io::Result<usize> {
        Ok(0)
    }

    /// A listener on 127.0.0.1:`port`: std's bind sets no `SO_REUSEADDR` on Windows.
    pub(crate) fn listen_without_reuse(port: u16) -> io::Result<std::net::TcpListener> {
        std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port))
    }

    /// Nothing: the child stays in our job object (there are no process groups to leave).
    pub(crate) fn detach(_cmd: &mut std::process::Command) {}

    pub(crate) fn close_stdout() {
        // SAFETY: GetStdHandle has no preconditions; closing our own stdout handle only makes
        // later writes to it fail.
        unsafe {
            let h = GetStdHandle(STD_OUTPUT_HANDLE);
            if !h.is_null() {
                CloseHandle(h);
            }
        }
    }
}
