//! One IMDS peer-uid lookup for a live loopback TCP connection: netlink `sock_diag`
//! (what the broker does per IMDS request on Linux) against the `/proc/net/tcp{,6}` scan
//! (its fallback where netlink is unavailable), with about 3, 2,000 and 10,000 TCP
//! sockets in the network namespace.
//!
//! Run: `cargo bench -p entra-broker --bench peer`
//!
//! The other sockets are loopback connections this process opens (a client end and its
//! accepted server end each, so N sockets are N/2 connections and N file descriptors)
//! and closes with `SO_LINGER` 0 at the end of each level, so they leave no `TIME_WAIT`
//! rows behind. The soft `RLIMIT_NOFILE` is raised towards the hard one if it is too low
//! for that; where the hard limit is lower still, the level is cut to fit and the count
//! printed says so. Each level prints the rows `/proc/net/tcp` and `/proc/net/tcp6` hold
//! while it is measured (the other sockets of the namespace included).

#[cfg(target_os = "linux")]
mod linux {
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::Duration;

    use criterion::{BenchmarkId, Criterion};
    use entra_broker::{Lookup, proc_net_tcp_lookup, sock_diag_lookup};

    /// Other sockets wanted at each level (besides the measured connection's two and its
    /// listener).
    const LEVELS: [usize; 3] = [0, 2_000, 10_000];
    /// File descriptors kept free for the rest of the process (criterion, stdio, the
    /// netlink socket, the measured connection).
    const SPARE_FDS: u64 = 256;

    /// Loopback connections held open, both ends in this process.
    struct Crowd {
        _listener: Option<TcpListener>,
        ends: Vec<TcpStream>,
    }

    impl Crowd {
        fn open(sockets: usize) -> Crowd {
            if sockets == 0 {
                return Crowd {
                    _listener: None,
                    ends: Vec::new(),
                };
            }
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind the crowd's listener");
            let addr = listener.local_addr().unwrap();
            let mut ends = Vec::with_capacity(sockets);
            for _ in 0..sockets / 2 {
                let client = TcpStream::connect(addr).expect("connect a crowd socket");
                let (server, _) = listener.accept().expect("accept a crowd socket");
                ends.push(client);
                ends.push(server);
            }
            Crowd {
                _listener: Some(listener),
                ends,
            }
        }
    }

    impl Drop for Crowd {
        fn drop(&mut self) {
            // An abortive close (RST): no TIME_WAIT rows left in /proc/net/tcp for the
            // next level or for anyone else on the machine.
            for s in &self.ends {
                let _ = rustix::net::sockopt::set_socket_linger(s, Some(Duration::ZERO));
            }
            self.ends.clear();
        }
    }

    /// How many sockets this process may open besides the spare ones, after raising the
    /// soft limit towards the hard one if needed.
    fn socket_budget(wanted: usize) -> usize {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let need = wanted as u64 + SPARE_FDS;
        let limit = getrlimit(Resource::Nofile);
        let soft = limit.current.unwrap_or(u64::MAX);
        if soft < need {
            let hard = limit.maximum.unwrap_or(u64::MAX);
            let raised = Rlimit {
                current: Some(need.min(hard)),
                maximum: limit.maximum,
            };
            if let Err(e) = setrlimit(Resource::Nofile, raised) {
                eprintln!("peer bench: could not raise RLIMIT_NOFILE to {need}: {e}");
            }
        }
        let soft = getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX);
        (soft.saturating_sub(SPARE_FDS) as usize).min(wanted) / 2 * 2
    }

    fn proc_rows() -> usize {
        ["/proc/net/tcp", "/proc/net/tcp6"]
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .map(|t| t.lines().count().saturating_sub(1))
            .sum()
    }

    pub fn peer_uid(c: &mut Criterion) {
        let me = rustix::process::geteuid().as_raw();
        // The connection whose peer is looked up, as the broker sees it: `peer` is the
        // client's address, `local` the broker's.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let local: SocketAddr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(local).unwrap();
        let (_server, peer) = listener.accept().unwrap();

        let mut g = c.benchmark_group("imds peer uid");
        for wanted in LEVELS {
            let n = socket_budget(wanted);
            if n < wanted {
                eprintln!("peer bench: {wanted} other sockets wanted, {n} fit under RLIMIT_NOFILE");
            }
            let crowd = Crowd::open(n);
            let rows = proc_rows();
            eprintln!(
                "peer bench: level {wanted}: {} other sockets opened here, {rows} rows in /proc/net/tcp{{,6}}",
                crowd.ends.len()
            );
            // Both ways find the live connection and its owner before they are timed.
            assert_eq!(sock_diag_lookup(peer, local).unwrap(), Lookup::Uid(me));
            assert_eq!(proc_net_tcp_lookup(peer, local), Lookup::Uid(me));
            g.bench_function(BenchmarkId::new("sock_diag", wanted), |b| {
                b.iter(|| sock_diag_lookup(std::hint::black_box(peer), local).unwrap())
            });
            g.bench_function(BenchmarkId::new("proc_net_tcp", wanted), |b| {
                b.iter(|| proc_net_tcp_lookup(std::hint::black_box(peer), local))
            });
            drop(crowd);
        }
        g.finish();
    }
}

#[cfg(target_os = "linux")]
criterion::criterion_group!(benches, linux::peer_uid);
#[cfg(target_os = "linux")]
criterion::criterion_main!(benches);

/// Netlink `sock_diag` and `/proc/net/tcp` are Linux's: nothing to measure elsewhere.
#[cfg(not(target_os = "linux"))]
fn main() {}
