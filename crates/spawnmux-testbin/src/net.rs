//! The network ops: a tiny HTTP server (`listen`) and a one-shot TCP client (`connect`), for
//! the runner's readiness and liveness checks; a port held by a process that is not the
//! helper's (`hold-detached`), for its restarts.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::{Args, Failure};

/// `listen PORT DELAY_MS FOR_MS STATUS`, `connect PORT`, `hold PORT MS` and
/// `hold-detached PORT MS`.
pub(crate) fn op(op: &str, args: &mut Args<'_>) -> Result<(), Failure> {
    match op {
        "connect" => return Ok(connect(args.number()?)?),
        "hold" => return Ok(hold(args.number()?, args.number()?)?),
        "hold-detached" => return Ok(hold_detached(args.number()?, args.number()?)?),
        _ => {}
    }
    let port: u16 = args.number()?;
    let delay: u64 = args.number()?;
    let serve_for: u64 = args.number()?;
    let status: u16 = args.number()?;
    std::thread::sleep(Duration::from_millis(delay));
    Ok(listen(port, Duration::from_millis(serve_for), status)?)
}

/// Listens on 127.0.0.1:`port` and answers each connection with `status` (after reading the
/// request's head, or its end), for `serve_for` (zero: forever); then closes the listener.
///
/// `listening <port>` is written *before* the port takes connections when the port is given
/// (after binding port 0, whose number only the bind tells): a client that connects, or a
/// readiness check that succeeds, always comes after the line, so a test may expect the line
/// even if the helper is stopped at once after that (under load the gap was long enough).
fn listen(port: u16, serve_for: Duration, status: u16) -> io::Result<()> {
    let say = |port: u16| {
        let mut out = io::stdout();
        out.write_all(format!("listening {port}\n").as_bytes())?;
        out.flush()
    };
    if port != 0 {
        say(port)?;
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    listener.set_nonblocking(true)?;
    if port == 0 {
        say(listener.local_addr()?.port())?;
    }
    let until = (!serve_for.is_zero()).then(|| Instant::now() + serve_for);
    while until.is_none_or(|t| Instant::now() < t) {
        match listener.accept() {
            Ok((stream, _)) => {
                let _ = answer(stream, status);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads until the request's blank line (or its end), then writes the response.
fn answer(mut stream: TcpStream, status: u16) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf)? {
            0 => return Ok(()),
            n => head.extend_from_slice(&buf[..n]),
        }
    }
    let response =
        format!("HTTP/1.1 {status} Test\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    stream.write_all(response.as_bytes())
}

/// One connection attempt to 127.0.0.1:`port`: exit 3 if refused.
fn connect(port: u16) -> io::Result<()> {
    match TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(5)) {
        Ok(_) => {
            let mut out = io::stdout();
            out.write_all(b"connected\n")?;
            out.flush()
        }
        Err(e) => {
            eprintln!("refused: {e}");
            std::process::exit(3);
        }
    }
}

/// Listens on 127.0.0.1:`port` without `SO_REUSEADDR` (a server that makes the port
/// unusable while it lives, whatever the other side sets) for `ms`, accepting nothing; then
/// exits.
fn hold(port: u16, ms: u64) -> io::Result<()> {
    let _listener = super::sys::listen_without_reuse(port)?;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(())
}

/// Starts `spawnmux-testchild hold PORT MS` on its own (no inherited stdio, Unix: a process
/// group of its own, so that nothing counts it as ours), waits until it listens, prints
/// `held <port> by <pid>` and goes on without waiting for it.
fn hold_detached(port: u16, ms: u64) -> io::Result<()> {
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args(["hold", &port.to_string(), &ms.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    super::sys::detach(&mut cmd);
    let child = cmd.spawn()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = (Ipv4Addr::LOCALHOST, port).into();
    while TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        if Instant::now() > deadline {
            return Err(io::Error::other("the holder never listened"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = io::stdout();
    out.write_all(format!("held {port} by {}\n", child.id()).as_bytes())?;
    out.flush()
}
