//! The network ops: a tiny HTTP server (`listen`) and a one-shot TCP client (`connect`), for
//! the runner's readiness and liveness checks.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::{Args, Failure};

/// `listen PORT DELAY_MS FOR_MS STATUS` and `connect PORT`.
pub(crate) fn op(op: &str, args: &mut Args<'_>) -> Result<(), Failure> {
    if op == "connect" {
        return Ok(connect(args.number()?)?);
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
fn listen(port: u16, serve_for: Duration, status: u16) -> io::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let mut out = io::stdout();
    out.write_all(format!("listening {port}\n").as_bytes())?;
    out.flush()?;
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
