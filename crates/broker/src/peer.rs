//! Who is on the other end of a connection.
//!
//! IMDS and Cloud Shell requests carry no secret: on Azure the endpoint is reachable
//! only from inside the VM or container. The broker narrows that down further:
//!
//! - on the Unix socket, the kernel tells us the peer's uid (`SO_PEERCRED`);
//! - on loopback TCP (Linux), the client's socket appears in `/proc/net/tcp{,6}` with its
//!   owner's uid: the broker finds the row whose local address is the peer's and whose
//!   remote address is ours.
//!
//! The risk, documented in the README: any process of an allowed user gets that user's
//! tokens; processes in other network namespaces (containers) do not appear in our
//! `/proc/net/tcp` and so match no uid (only `[imds] caller`, if set); and on non-Linux
//! systems only `[imds] caller` applies to TCP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The uid owning the loopback TCP connection from `peer` to `local`, on Linux.
pub fn loopback_tcp_uid(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    if !peer.ip().is_loopback() && !is_mapped_loopback(peer.ip()) {
        return None;
    }
    let files: &[&str] = if peer.is_ipv4() {
        &["/proc/net/tcp", "/proc/net/tcp6"]
    } else {
        &["/proc/net/tcp6", "/proc/net/tcp"]
    };
    for f in files {
        if let Ok(text) = std::fs::read_to_string(f)
            && let Some(uid) = find_uid(&text, peer, local)
        {
            return Some(uid);
        }
    }
    None
}

fn is_mapped_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(_) => false,
    }
}

/// Finds the row of `/proc/net/tcp{,6}` text whose local address is `peer` and remote
/// address is `local`, and returns its uid column.
pub fn find_uid(text: &str, peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    for line in text.lines().skip(1) {
        let mut cols = line.split_whitespace();
        let (_sl, Some(l), Some(r)) = (cols.next(), cols.next(), cols.next()) else {
            continue;
        };
        let (Some(l), Some(r)) = (parse_addr(l), parse_addr(r)) else {
            continue;
        };
        if same(l, peer) && same(r, local) {
            // st, tx:rx queue, tr:tm->when, retrnsmt, then uid.
            let uid = cols.nth(4)?;
            return uid.parse().ok();
        }
    }
    None
}

fn same(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && canonical(a.ip()) == canonical(b.ip())
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// `0100007F:1F90` (IPv4, the address in host byte order) or 32 hex digits (IPv6, four
/// host-order 32-bit words) and a port.
fn parse_addr(s: &str) -> Option<SocketAddr> {
    let (ip, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = match ip.len() {
        8 => IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(ip, 16).ok()?.to_ne_bytes(),
        )),
        32 => {
            let mut bytes = [0u8; 16];
            for (i, chunk) in bytes.chunks_mut(4).enumerate() {
                let word = u32::from_str_radix(&ip[i * 8..i * 8 + 8], 16).ok()?;
                chunk.copy_from_slice(&word.to_ne_bytes());
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_endian = "little")]
    fn parses_proc_net_tcp() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0000000000000000 20 4 30 10 -1\n";
        let peer: SocketAddr = "127.0.0.1:50000".parse().unwrap();
        let local: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(find_uid(text, peer, local), Some(1000));
        let other: SocketAddr = "127.0.0.1:50001".parse().unwrap();
        assert_eq!(find_uid(text, other, local), None);
        assert_eq!(
            parse_addr("00000000000000000000000001000000:1F90"),
            Some("[::1]:8080".parse().unwrap())
        );
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn finds_our_own_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let local = listener.local_addr().unwrap();
        let _client = std::net::TcpStream::connect(local).unwrap();
        let (_server, peer) = listener.accept().unwrap();
        // Our own euid: the owner of /proc/self.
        let me = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap());
        assert_eq!(loopback_tcp_uid(peer, local), Some(me));
    }
}
