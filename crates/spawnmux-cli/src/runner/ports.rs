//! Ports (`port`): an `auto` port's hold ends when its helper is about to start
//! (`Action::ReleasePort`), and whether a port is free (the supervisor's `Probe::port_free`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, Protocol, Socket, Type};

use crate::os;
use crate::spec::HelperSpec;

/// The addresses a server usually listens on: `localhost` (either family) and every address.
const ADDRESSES: [IpAddr; 4] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V6(Ipv6Addr::LOCALHOST),
    IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    IpAddr::V6(Ipv6Addr::UNSPECIFIED),
];

/// Lets go of the helper's port, if spawnmux holds it (`port = "auto"`): it is about to
/// start and bind it.
pub(super) fn release(spec: &HelperSpec) {
    if let Some(port) = &spec.port {
        port.held.release();
    }
}

/// Whether a server could listen on `port` now: binding it as a server does
/// (`os::SERVER_REUSES_ADDRESS`) on 127.0.0.1, ::1, 0.0.0.0 and :: is refused as "in use" on
/// none of them. An address this system lacks (no IPv6) does not count. Cheap and never
/// blocking: four sockets, bound and closed, never listening.
pub(super) fn is_free(port: u16) -> bool {
    !ADDRESSES.iter().any(|&ip| taken(SocketAddr::new(ip, port)))
}

/// Whether a bind of `addr` fails because something has the port.
fn taken(addr: SocketAddr) -> bool {
    let Ok(socket) = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
    else {
        return false;
    };
    if os::SERVER_REUSES_ADDRESS {
        let _ = socket.set_reuse_address(true);
    }
    socket.bind(&addr.into()).is_err_and(|e| os::in_use(&e))
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn a_listening_port_is_taken_on_any_address_and_free_once_closed() {
        for ip in [Ipv4Addr::LOCALHOST, Ipv4Addr::UNSPECIFIED] {
            let server = TcpListener::bind((ip, 0)).expect("bind");
            let port = server.local_addr().expect("addr").port();
            assert!(!is_free(port), "{ip}:{port} listens");
            drop(server);
            assert!(is_free(port), "{ip}:{port} closed");
        }
    }
}
