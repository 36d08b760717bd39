//! The socket transport: the seed article's socket pair over loopback.
//!
//! `pair()` follows the article and hardens it: the listener is made with `WSASocketW` without
//! `WSA_FLAG_OVERLAPPED` (so the accepted socket, the child's end, is non-overlapped: ordinary C
//! runtimes can only use such a socket as a standard handle), bound to 127.0.0.1 port 0 with
//! `SO_EXCLUSIVEADDRUSE` (no other socket can bind the port), `listen(1)`. The parent's end
//! connects (a std `TcpStream`: overlapped, not inheritable, polled by AFD); the accepted peer's
//! address must be the connector's own address, else another local process raced us and that
//! connection is dropped (bounded retries). The listener is closed as soon as the pair exists.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream};
use std::os::windows::io::{AsRawSocket, AsSocket, FromRawSocket, OwnedSocket, RawSocket};
use std::sync::OnceLock;

use polling::{Event, Poller};
use windows_sys::Win32::Foundation::{SetHandleInformation, HANDLE, HANDLE_FLAG_INHERIT};
use windows_sys::Win32::Networking::WinSock::{
    accept, bind, getsockname, listen, setsockopt, WSAGetLastError, WSASocketW, WSAStartup,
    AF_INET, INVALID_SOCKET, IPPROTO_TCP, SOCKADDR, SOCKADDR_IN, SOCKET_ERROR, SOCK_STREAM,
    SOL_SOCKET, SO_EXCLUSIVEADDRUSE, WSADATA,
};

/// How often to retry when a foreign connection wins the race for our listener.
const ATTEMPTS: usize = 8;

/// `WSAStartup` once per process (std does its own for its sockets; the counts are independent).
fn startup() -> io::Result<()> {
    static RESULT: OnceLock<i32> = OnceLock::new();
    let rc = *RESULT.get_or_init(|| {
        // SAFETY: WSADATA is plain data for which all-zero is valid; WSAStartup fills it.
        unsafe {
            let mut data: WSADATA = std::mem::zeroed();
            WSAStartup(0x0202, &mut data)
        }
    });
    if rc != 0 {
        return Err(crate::error::context(
            io::Error::from_raw_os_error(rc),
            "WSAStartup",
        ));
    }
    Ok(())
}

fn wsa_error(what: &str) -> io::Error {
    // SAFETY: WSAGetLastError has no preconditions.
    let code = unsafe { WSAGetLastError() };
    crate::error::context(io::Error::from_raw_os_error(code), what)
}

/// A listening, non-overlapped loopback socket and its address.
fn listener() -> io::Result<(OwnedSocket, SocketAddrV4)> {
    // SAFETY: plain socket creation; flags 0 = no WSA_FLAG_OVERLAPPED (see module doc).
    let raw = unsafe {
        WSASocketW(
            AF_INET as i32,
            SOCK_STREAM,
            IPPROTO_TCP,
            std::ptr::null(),
            0,
            0,
        )
    };
    if raw == INVALID_SOCKET {
        return Err(wsa_error("WSASocketW for the socket-pair listener"));
    }
    // SAFETY: `raw` is a valid socket we own.
    let sock = unsafe { OwnedSocket::from_raw_socket(raw as RawSocket) };
    let s = sock.as_raw_socket() as usize;
    let one: i32 = 1;
    // SAFETY: `one` is a valid i32 option value of the given size.
    let rc = unsafe {
        setsockopt(
            s,
            SOL_SOCKET,
            SO_EXCLUSIVEADDRUSE,
            (&one as *const i32).cast(),
            4,
        )
    };
    if rc == SOCKET_ERROR {
        return Err(wsa_error("setting SO_EXCLUSIVEADDRUSE"));
    }
    let addr = sockaddr(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
    let len = std::mem::size_of::<SOCKADDR_IN>() as i32;
    // SAFETY: `addr` is a valid SOCKADDR_IN of `len` bytes.
    if unsafe { bind(s, (&addr as *const SOCKADDR_IN).cast::<SOCKADDR>(), len) } == SOCKET_ERROR {
        return Err(wsa_error("binding the socket-pair listener to 127.0.0.1"));
    }
    // SAFETY: bound socket.
    if unsafe { listen(s, 1) } == SOCKET_ERROR {
        return Err(wsa_error("listen"));
    }
    let mut bound: SOCKADDR_IN = sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    let mut len = std::mem::size_of::<SOCKADDR_IN>() as i32;
    // SAFETY: `bound` has room for `len` bytes.
    if unsafe {
        getsockname(
            s,
            (&mut bound as *mut SOCKADDR_IN).cast::<SOCKADDR>(),
            &mut len,
        )
    } == SOCKET_ERROR
    {
        return Err(wsa_error("getsockname"));
    }
    Ok((sock, from_sockaddr(&bound)))
}

fn sockaddr(a: SocketAddrV4) -> SOCKADDR_IN {
    // SAFETY: all-zero is a valid SOCKADDR_IN.
    let mut s: SOCKADDR_IN = unsafe { std::mem::zeroed() };
    s.sin_family = AF_INET;
    s.sin_port = a.port().to_be();
    s.sin_addr.S_un.S_addr = u32::from(*a.ip()).to_be();
    s
}

fn from_sockaddr(s: &SOCKADDR_IN) -> SocketAddrV4 {
    // SAFETY: every variant of the address union is a view of the same 4 bytes.
    let ip = u32::from_be(unsafe { s.sin_addr.S_un.S_addr });
    SocketAddrV4::new(Ipv4Addr::from(ip), u16::from_be(s.sin_port))
}

/// Accepts one connection; returns the socket and the peer's address.
fn accept_one(listener: &OwnedSocket) -> io::Result<(OwnedSocket, SocketAddrV4)> {
    let mut peer: SOCKADDR_IN = sockaddr(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
    let mut len = std::mem::size_of::<SOCKADDR_IN>() as i32;
    // SAFETY: `peer` has room for `len` bytes; the listener is valid and listening.
    let raw = unsafe {
        accept(
            listener.as_raw_socket() as usize,
            (&mut peer as *mut SOCKADDR_IN).cast::<SOCKADDR>(),
            &mut len,
        )
    };
    if raw == INVALID_SOCKET {
        return Err(wsa_error("accept"));
    }
    // SAFETY: `raw` is a valid socket we own.
    let sock = unsafe { OwnedSocket::from_raw_socket(raw as RawSocket) };
    Ok((sock, from_sockaddr(&peer)))
}

/// A connected pair: (parent's end, child's inheritable non-overlapped end).
pub(crate) fn pair() -> io::Result<(TcpStream, OwnedSocket)> {
    startup()?;
    let (listener, addr) = listener()?;
    for _ in 0..ATTEMPTS {
        let parent = TcpStream::connect(SocketAddr::V4(addr))?;
        let (child, peer) = accept_one(&listener)?;
        if SocketAddr::V4(peer) != parent.local_addr()? {
            // Someone else connected first: not ours. Drop both and try again.
            continue;
        }
        drop(listener);
        parent.set_nonblocking(true)?;
        parent.set_nodelay(true)?;
        // SAFETY: a SOCKET is a kernel handle; marking it inheritable lets CreateProcessW pass
        // it in the handle list.
        let ok = unsafe {
            SetHandleInformation(
                child.as_raw_socket() as HANDLE,
                HANDLE_FLAG_INHERIT,
                HANDLE_FLAG_INHERIT,
            )
        };
        if ok == 0 {
            return Err(super::last_error("making the child's socket inheritable"));
        }
        return Ok((parent, child));
    }
    Err(io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "socket pair: another process kept connecting to our loopback listener",
    ))
}

/// The parent's end of a child's stdout/stderr over a socket.
#[derive(Debug)]
pub(crate) struct SocketReader(TcpStream);

impl SocketReader {
    pub(crate) fn new(s: TcpStream) -> SocketReader {
        SocketReader(s)
    }

    pub(crate) fn register(&mut self, poller: &Poller, key: usize) -> io::Result<()> {
        super::register_socket(poller, self.0.as_socket(), Event::readable(key))
    }

    pub(crate) fn deregister(&self, poller: &Poller) {
        let _ = poller.delete(&self.0);
    }

    pub(crate) fn read_into(&mut self, buf: &mut Vec<u8>, max: usize) -> io::Result<usize> {
        let len = buf.len();
        buf.resize(len + max, 0);
        let r = self.0.read(&mut buf[len..]);
        buf.truncate(len + *r.as_ref().unwrap_or(&0));
        match r {
            // A reset connection (the child died abruptly) is the end of the stream.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ok(0),
            r => r,
        }
    }
}

/// The parent's end of a child's stdin over a socket.
#[derive(Debug)]
pub(crate) struct SocketWriter(TcpStream);

impl SocketWriter {
    pub(crate) fn new(s: TcpStream) -> SocketWriter {
        SocketWriter(s)
    }

    pub(crate) fn register(&self, poller: &Poller, key: usize) -> io::Result<()> {
        super::register_socket(poller, self.0.as_socket(), Event::none(key))
    }

    pub(crate) fn set_writable(&mut self, poller: &Poller, key: usize, on: bool) -> io::Result<()> {
        let interest = if on {
            Event::writable(key)
        } else {
            Event::none(key)
        };
        poller.modify_with_mode(&self.0, interest, polling::PollMode::Level)
    }

    pub(crate) fn deregister(&self, poller: &Poller) {
        let _ = poller.delete(&self.0);
    }

    pub(crate) fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self.0.write(data) {
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                ) =>
            {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            r => r,
        }
    }
}
