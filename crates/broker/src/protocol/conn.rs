//! [`Conn`]: who is connected, per connection (a TCP peer or the Unix socket).

use std::sync::OnceLock;

/// Who is connected (per connection).
#[derive(Debug)]
pub(crate) struct Conn {
    /// Peer address for audit lines (`unix` on the socket).
    pub peer: String,
    /// TCP peer and local addresses.
    pub tcp: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
    /// The uid from `SO_PEERCRED` (Unix socket).
    pub unix_uid: Option<u32>,
    tcp_uid: OnceLock<Option<u32>>,
}

impl Conn {
    /// A TCP connection.
    pub(crate) fn tcp(peer: std::net::SocketAddr, local: std::net::SocketAddr) -> Self {
        Self {
            peer: peer.to_string(),
            tcp: Some((peer, local)),
            unix_uid: None,
            tcp_uid: OnceLock::new(),
        }
    }

    /// A Unix socket connection.
    pub(crate) fn unix(uid: Option<u32>) -> Self {
        Self {
            peer: "unix".into(),
            tcp: None,
            unix_uid: uid,
            tcp_uid: OnceLock::new(),
        }
    }

    /// Is the peer on this machine?
    pub(crate) fn local(&self) -> bool {
        match self.tcp {
            None => true,
            Some((peer, _)) => {
                peer.ip().is_loopback()
                    || matches!(peer.ip(), std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v| v.is_loopback()))
            }
        }
    }

    /// The peer's uid, looked up once per connection.
    pub(crate) fn uid(&self) -> Option<u32> {
        if self.unix_uid.is_some() {
            return self.unix_uid;
        }
        let (peer, local) = self.tcp?;
        *self
            .tcp_uid
            .get_or_init(|| crate::peer::loopback_tcp_uid(peer, local))
    }
}
