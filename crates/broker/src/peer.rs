//! Who is on the other end of a connection.
//!
//! IMDS and Cloud Shell requests carry no secret: on Azure the endpoint is reachable
//! only from inside the VM or container. The broker narrows that down further:
//!
//! - on the Unix socket, the kernel tells us the peer's uid (`SO_PEERCRED`);
//! - on loopback TCP (Linux), the broker asks the kernel about the client's socket by
//!   its exact 4-tuple over netlink `sock_diag` (`SOCK_DIAG_BY_FAMILY` with an
//!   `inet_diag_req_v2`, the query `ss` makes): one small request per connection,
//!   whatever the number of sockets on the host. Only when netlink cannot be used at all
//!   (a sandbox without `NETLINK_SOCK_DIAG`) does it fall back to reading
//!   `/proc/net/tcp{,6}`, which costs a scan of every TCP socket of the namespace.
//!
//! A socket that no process holds any more (closed by its owner, or in `TIME_WAIT`)
//! has no owner to speak of: the kernel reports uid 0 for it, and the broker reports it
//! as unknown instead (`"uid":"unknown"` in audit lines), so it can never pass for root.
//!
//! The risk, documented in the README: any process of an allowed user gets that user's
//! tokens; processes in other network namespaces (containers) are not found and so
//! match no uid (only `[imds] caller`, if set), while `hostNetwork` containers share the
//! host's namespace and so are known by their uid, which may equal a host user's; and on
//! non-Linux systems only `[imds] caller` applies to TCP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once netlink `sock_diag` has found a socket: it works here.
static NETLINK_ANSWERED: AtomicBool = AtomicBool::new(false);

/// How a uid was found (public for the `peer` benchmark).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The socket is live and owned by this uid.
    Uid(u32),
    /// The socket was found but no process holds it any more (closed, `TIME_WAIT`).
    Closed,
    /// No such socket in this network namespace.
    NotFound,
}

/// The uid owning the loopback TCP connection from `peer` to `local`, on Linux: through
/// netlink `sock_diag`, or `/proc/net/tcp{,6}` where netlink is unavailable.
pub(crate) fn loopback_tcp_uid(peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    if !peer.ip().is_loopback() && !is_mapped_loopback(peer.ip()) {
        return None;
    }
    let found = match sock_diag_lookup(peer, local) {
        Ok(Lookup::NotFound) if !NETLINK_ANSWERED.load(Ordering::Relaxed) => {
            // The kernel answers ENOENT both for "no such socket" and for "no inet_diag
            // handler": until netlink has found a socket once, look in /proc too.
            proc_net_tcp_lookup(peer, local)
        }
        Ok(l) => {
            if l != Lookup::NotFound {
                NETLINK_ANSWERED.store(true, Ordering::Relaxed);
            }
            l
        }
        Err(_) => proc_net_tcp_lookup(peer, local),
    };
    match found {
        Lookup::Uid(u) => Some(u),
        Lookup::Closed | Lookup::NotFound => None,
    }
}

/// Asks the kernel over netlink `sock_diag` about the TCP socket whose local address is
/// `peer` and remote address is `local` (the client's end of our connection).
/// `Err` when netlink `sock_diag` cannot be used here. Public for the `peer` benchmark.
#[cfg(target_os = "linux")]
pub fn sock_diag_lookup(peer: SocketAddr, local: SocketAddr) -> std::io::Result<Lookup> {
    diag::lookup(canonical_addr(peer), canonical_addr(local))
}

/// Netlink `sock_diag` exists on Linux only. Public for the `peer` benchmark.
#[cfg(not(target_os = "linux"))]
pub fn sock_diag_lookup(_peer: SocketAddr, _local: SocketAddr) -> std::io::Result<Lookup> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// The `/proc/net/tcp{,6}` lookup (the fallback where netlink is unavailable). Public for
/// the `peer` benchmark.
pub fn proc_net_tcp_lookup(peer: SocketAddr, local: SocketAddr) -> Lookup {
    let files: &[&str] = if peer.is_ipv4() {
        &["/proc/net/tcp", "/proc/net/tcp6"]
    } else {
        &["/proc/net/tcp6", "/proc/net/tcp"]
    };
    for f in files {
        if let Ok(text) = std::fs::read_to_string(f) {
            let l = find_row(&text, peer, local);
            if l != Lookup::NotFound {
                return l;
            }
        }
    }
    Lookup::NotFound
}

fn canonical_addr(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(canonical(a.ip()), a.port())
}

#[cfg(target_os = "linux")]
mod diag {
    //! One `SOCK_DIAG_BY_FAMILY` request for an exact 4-tuple (linux/inet_diag.h).

    use std::cell::RefCell;
    use std::net::{IpAddr, SocketAddr};
    use std::os::fd::OwnedFd;
    use std::sync::atomic::{AtomicU32, Ordering};

    use rustix::net::{
        AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, netlink, recv, sendto,
        socket_with,
    };

    use super::Lookup;

    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const NLM_F_REQUEST: u16 = 1;
    const NLMSG_ERROR: u16 = 2;
    const NLMSG_DONE: u16 = 3;
    const AF_INET: u8 = 2;
    const AF_INET6: u8 = 10;
    const IPPROTO_TCP: u8 = 6;
    const TCP_TIME_WAIT: u8 = 6;
    const NOCOOKIE: u32 = !0;
    const REQ_LEN: usize = 16 + 56;

    static SEQ: AtomicU32 = AtomicU32::new(1);

    thread_local! {
        // One netlink socket per server thread, kept open: a lookup is then one sendto
        // and one recv. Each server thread runs one request at a time between awaits,
        // and a lookup has no await, so requests never interleave on it.
        static SOCKET: RefCell<Option<OwnedFd>> = const { RefCell::new(None) };
    }

    fn open() -> std::io::Result<OwnedFd> {
        let fd = socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            Some(netlink::SOCK_DIAG),
        )?;
        rustix::net::sockopt::set_socket_timeout(
            &fd,
            rustix::net::sockopt::Timeout::Recv,
            Some(std::time::Duration::from_millis(500)),
        )?;
        Ok(fd)
    }

    fn request(seq: u32, src: SocketAddr, dst: SocketAddr) -> [u8; REQ_LEN] {
        let mut m = [0u8; REQ_LEN];
        // struct nlmsghdr (host byte order)
        m[0..4].copy_from_slice(&(REQ_LEN as u32).to_ne_bytes());
        m[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        m[6..8].copy_from_slice(&NLM_F_REQUEST.to_ne_bytes());
        m[8..12].copy_from_slice(&seq.to_ne_bytes());
        // struct inet_diag_req_v2
        let r = &mut m[16..];
        r[0] = if src.is_ipv4() { AF_INET } else { AF_INET6 };
        r[1] = IPPROTO_TCP;
        // idiag_states: any state (the exact lookup matches one socket).
        r[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
        // struct inet_diag_sockid: ports and addresses in network byte order.
        let id = &mut r[8..56];
        id[0..2].copy_from_slice(&src.port().to_be_bytes());
        id[2..4].copy_from_slice(&dst.port().to_be_bytes());
        put_ip(&mut id[4..20], src.ip());
        put_ip(&mut id[20..36], dst.ip());
        // idiag_if = 0, idiag_cookie = INET_DIAG_NOCOOKIE
        id[40..44].copy_from_slice(&NOCOOKIE.to_ne_bytes());
        id[44..48].copy_from_slice(&NOCOOKIE.to_ne_bytes());
        m
    }

    fn put_ip(out: &mut [u8], ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => out[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => out.copy_from_slice(&v6.octets()),
        }
    }

    fn ask(fd: &OwnedFd, src: SocketAddr, dst: SocketAddr) -> std::io::Result<Lookup> {
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let req = request(seq, src, dst);
        sendto(
            fd,
            &req,
            SendFlags::empty(),
            &netlink::SocketAddrNetlink::new(0, 0),
        )?;
        let mut buf = [0u8; 8192];
        // Replies of an earlier, timed-out request may still be queued: skip them.
        for _ in 0..8 {
            let (n, _) = recv(fd, &mut buf[..], RecvFlags::empty())?;
            if let Some(l) = parse(&buf[..n], seq)? {
                return Ok(l);
            }
        }
        Err(std::io::Error::other("sock_diag: no answer to our request"))
    }

    /// The answer to request `seq` in one datagram, or `None` if it answers another.
    fn parse(mut b: &[u8], seq: u32) -> std::io::Result<Option<Lookup>> {
        let u32_at = |b: &[u8], i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        while b.len() >= 16 {
            let len = u32_at(b, 0) as usize;
            let kind = u16::from_ne_bytes([b[4], b[5]]);
            if len < 16 || len > b.len() {
                return Err(std::io::Error::other("sock_diag: truncated message"));
            }
            let msg = &b[..len];
            b = &b[len.next_multiple_of(4).min(b.len())..];
            if u32_at(msg, 8) != seq {
                continue;
            }
            match kind {
                NLMSG_ERROR => {
                    let errno = if msg.len() >= 20 {
                        -(u32_at(msg, 16) as i32)
                    } else {
                        0
                    };
                    return match errno {
                        // ENOENT: no such socket in this namespace.
                        2 => Ok(Some(Lookup::NotFound)),
                        0 => Ok(Some(Lookup::NotFound)),
                        e => Err(std::io::Error::from_raw_os_error(e)),
                    };
                }
                NLMSG_DONE => return Ok(Some(Lookup::NotFound)),
                SOCK_DIAG_BY_FAMILY if msg.len() >= 16 + 72 => {
                    // struct inet_diag_msg
                    let d = &msg[16..];
                    let state = d[1];
                    let uid = u32_at(d, 64);
                    let inode = u32_at(d, 68);
                    return Ok(Some(if state == TCP_TIME_WAIT || inode == 0 {
                        Lookup::Closed
                    } else {
                        Lookup::Uid(uid)
                    }));
                }
                _ => return Err(std::io::Error::other("sock_diag: unexpected reply")),
            }
        }
        Ok(None)
    }

    pub(super) fn lookup(src: SocketAddr, dst: SocketAddr) -> std::io::Result<Lookup> {
        if src.is_ipv4() != dst.is_ipv4() {
            return Ok(Lookup::NotFound);
        }
        SOCKET.with(|cell| {
            let mut slot = cell.borrow_mut();
            let fd = match slot.take() {
                Some(fd) => fd,
                None => open()?,
            };
            let result = ask(&fd, src, dst);
            if result.is_ok() {
                *slot = Some(fd);
            }
            result
        })
    }
}

fn is_mapped_loopback(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        IpAddr::V4(_) => false,
    }
}

/// Finds the row of `/proc/net/tcp{,6}` text whose local address is `peer` and remote
/// address is `local`, and returns its uid column (unknown when no process holds the
/// socket: inode 0, or `TIME_WAIT`).
pub(crate) fn find_row(text: &str, peer: SocketAddr, local: SocketAddr) -> Lookup {
    for line in text.lines().skip(1) {
        let mut cols = line.split_whitespace();
        let (_sl, Some(l), Some(r)) = (cols.next(), cols.next(), cols.next()) else {
            continue;
        };
        let (Some(l), Some(r)) = (parse_addr(l), parse_addr(r)) else {
            continue;
        };
        if same(l, peer) && same(r, local) {
            // st, tx:rx queue, tr:tm->when, retrnsmt, uid, timeout, inode.
            let state = cols.next();
            let mut rest = cols.skip(3);
            let uid = rest.next().and_then(|u| u.parse().ok());
            let inode = rest.nth(1);
            return match (uid, state, inode) {
                (_, Some("06"), _) | (_, _, Some("0")) => Lookup::Closed,
                (Some(u), Some(_), Some(_)) => Lookup::Uid(u),
                _ => Lookup::NotFound,
            };
        }
    }
    Lookup::NotFound
}

/// The uid column of the matching row, when its socket is live.
#[cfg(test)]
pub(crate) fn find_uid(text: &str, peer: SocketAddr, local: SocketAddr) -> Option<u32> {
    match find_row(text, peer, local) {
        Lookup::Uid(u) => Some(u),
        _ => None,
    }
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

    #[test]
    #[cfg(target_os = "linux")]
    fn imds_peer_uid_via_sock_diag() {
        let me = rustix::process::geteuid().as_raw();
        for addr in ["127.0.0.1:0", "[::1]:0"] {
            let Ok(listener) = std::net::TcpListener::bind(addr) else {
                assert!(addr.starts_with('['), "IPv4 loopback must be there");
                continue; // no IPv6 here
            };
            let local = listener.local_addr().unwrap();
            let client = std::net::TcpStream::connect(local).unwrap();
            let (_server, peer) = listener.accept().unwrap();
            // netlink itself, not the /proc fallback, answers.
            assert_eq!(
                sock_diag_lookup(peer, local).unwrap(),
                Lookup::Uid(me),
                "{addr}"
            );
            assert_eq!(loopback_tcp_uid(peer, local), Some(me), "{addr}");
            // A 4-tuple that is not there is not found.
            let nobody = SocketAddr::new(peer.ip(), peer.port().wrapping_add(1).max(1));
            assert_eq!(sock_diag_lookup(nobody, local).unwrap(), Lookup::NotFound);
            // Once the client has closed its end, no process owns it: unknown, not 0.
            drop(client);
            assert_eq!(
                sock_diag_lookup(peer, local).unwrap(),
                Lookup::Closed,
                "{addr}"
            );
            assert_eq!(proc_net_tcp_lookup(peer, local), Lookup::Closed, "{addr}");
            assert_eq!(loopback_tcp_uid(peer, local), None);
        }
    }
}
