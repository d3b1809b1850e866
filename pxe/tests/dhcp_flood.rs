//! Flood fairness on loopback: one client (one MAC) sending DISCOVERs as fast as it can does
//! not starve the others, and gets no more answers than its per-client rate; a flooder that
//! changes its MAC each time gets no more than the new-client rate, and reserved nodes keep
//! getting their addresses.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pxe::dhcp::BootPolicy;
use pxe::dhcp::server::{DhcpServer, DhcpServerBuilder, FloodGuard, Pool};

fn discover(mac: [u8; 6], xid: u32) -> Vec<u8> {
    let mut d = pxe::dhcp::policy::example_discover();
    d[4..8].copy_from_slice(&xid.to_be_bytes());
    d[28..34].copy_from_slice(&mac);
    d
}

/// Our server on 127.0.0.1 (replies to the source port), on a runtime of its own.
fn start(
    build: impl FnOnce(DhcpServerBuilder) -> DhcpServerBuilder,
) -> (tokio::runtime::Runtime, SocketAddr) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(async {
        build(
            DhcpServer::builder(BootPolicy::new(Ipv4Addr::LOCALHOST, "http://127.0.0.1"))
                .listen("127.0.0.1:0".parse().unwrap())
                .reply_to_source(true),
        )
        .bind()
        .await
        .unwrap()
    });
    let addr = server.local_addr().unwrap();
    rt.spawn(server.run());
    (rt, addr)
}

/// A flooder: one socket sending `datagram(n)` for n = 1, 2, ... as fast as it can, and
/// counting the answers it gets.
struct Flood {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicUsize>,
    answered: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<()>>,
    started: Instant,
}

impl Flood {
    fn start(addr: SocketAddr, mut datagram: impl FnMut(u32) -> Vec<u8> + Send + 'static) -> Self {
        let started = Instant::now();
        let (stop, sent, answered) = (
            Arc::new(AtomicBool::new(false)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let sender = {
            let (sock, stop, sent) = (sock.try_clone().unwrap(), stop.clone(), sent.clone());
            std::thread::spawn(move || {
                let mut n: u32 = 0;
                while !stop.load(Ordering::Relaxed) {
                    n = n.wrapping_add(1);
                    if sock.send_to(&datagram(n), addr).is_ok() {
                        sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        let counter = {
            let (stop, answered) = (stop.clone(), answered.clone());
            std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                while !stop.load(Ordering::Relaxed) {
                    if sock.recv_from(&mut buf).is_ok() {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        Flood {
            stop,
            sent,
            answered,
            threads: vec![sender, counter],
            started,
        }
    }

    /// Stop; (datagrams sent, answers received, how long it ran).
    fn stop(self) -> (usize, usize, Duration) {
        let elapsed = self.started.elapsed();
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        (
            self.sent.load(Ordering::Relaxed),
            self.answered.load(Ordering::Relaxed),
            elapsed,
        )
    }
}

/// 40 clients at once, each sending `discover(i)` and retransmitting every 250 ms like
/// firmware (which waits longer): for each, how long until its answer came and the answer
/// (`None`: no answer after 12 tries).
fn clients(
    addr: SocketAddr,
    discover: fn(u16) -> (Vec<u8>, u32),
) -> Vec<Option<(Duration, Vec<u8>)>> {
    let threads: Vec<_> = (0..40u16)
        .map(|i| {
            std::thread::spawn(move || {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                s.set_read_timeout(Some(Duration::from_millis(250)))
                    .unwrap();
                let (d, xid) = discover(i);
                let t0 = Instant::now();
                let mut buf = [0u8; 1500];
                for _ in 0..12 {
                    s.send_to(&d, addr).unwrap();
                    while let Ok((n, _)) = s.recv_from(&mut buf) {
                        if n > 20 && buf[4..8] == xid.to_be_bytes() {
                            return Some((t0.elapsed(), buf[..n].to_vec()));
                        }
                    }
                }
                None
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn one_flooding_client_does_not_starve_the_others() {
    let (_rt, addr) = start(|b| b.proxy().flood_guard(Some(FloodGuard::new(16, 4))));
    let flood = Flood::start(addr, |_| discover([0x52, 0x54, 0, 0, 0xf1, 0], 0xf100_0000));
    std::thread::sleep(Duration::from_millis(300));
    let got = clients(addr, |i| {
        let xid = 0x0c00_0000 + u32::from(i);
        let t = i.to_be_bytes();
        (discover([0x52, 0x54, 0, 0, t[0], t[1]], xid), xid)
    });
    let (sent, answered, elapsed) = flood.stop();

    let slowest = got.iter().flatten().map(|(w, _)| *w).max();
    eprintln!(
        "flood: {sent} datagrams in {elapsed:?}, {answered} answered; slowest other client {slowest:?}"
    );
    let starved = got.iter().filter(|w| w.is_none()).count();
    assert_eq!(
        starved, 0,
        "{starved} of 40 clients got no OFFER during the flood ({sent} datagrams flooded)"
    );
    // The flooder was answered at its rate only: the burst plus 4 per second.
    let allowed = 16.0 + 4.0 * elapsed.as_secs_f64() + 1.0;
    assert!(
        (answered as f64) <= allowed,
        "the flooder got {answered} answers for {sent} datagrams in {elapsed:?} (at most {allowed})"
    );
    assert!(
        sent > 10 * answered.max(1),
        "the flood was no flood: {sent} sent"
    );
}

/// A flooder that changes its MAC on every DISCOVER (a DHCP starvation attack: each datagram
/// looks like a new client) against a full DHCP server with the new-client limit on: the
/// flood gets no more OFFERs than that shared rate, and 40 nodes with reservations (the
/// nodes a provisioner enrolled) all get their reserved address meanwhile.
#[test]
fn spoofed_macs_do_not_starve_reserved_nodes() {
    fn node(i: u16) -> [u8; 6] {
        let t = i.to_be_bytes();
        [0x52, 0x54, 0x00, 0x12, t[0], t[1]]
    }
    let reserved = |i: u16| Ipv4Addr::new(10, 99, 1, 10 + i as u8);
    let mut pool = Pool::new(
        Ipv4Addr::new(10, 99, 0, 10),
        Ipv4Addr::new(10, 99, 0, 250),
        Ipv4Addr::new(255, 255, 0, 0),
    )
    .unwrap();
    for i in 0..40u16 {
        pool = pool.with_reservation(node(i), reserved(i));
    }
    let (_rt, addr) = start(|b| {
        b.pool(pool)
            .flood_guard(Some(FloodGuard::new(16, 4).with_new_clients(64, 32)))
    });
    // A new MAC (02:00:xx:xx:xx:xx, locally administered) and xid each time.
    let flood = Flood::start(addr, |n| {
        let b = n.to_be_bytes();
        discover([0x02, 0x00, b[0], b[1], b[2], b[3]], 0xf200_0000 ^ n)
    });
    std::thread::sleep(Duration::from_millis(300));
    let got = clients(addr, |i| {
        let xid = 0x0d00_0000 + u32::from(i);
        (discover(node(i), xid), xid)
    });
    let (sent, answered, elapsed) = flood.stop();

    let slowest = got.iter().flatten().map(|(w, _)| *w).max();
    eprintln!(
        "spoofed flood: {sent} datagrams (each a new MAC) in {elapsed:?}, {answered} answered; \
         slowest reserved node {slowest:?}"
    );
    for (i, g) in got.iter().enumerate() {
        let Some((_, offer)) = g else {
            panic!("reserved node {i} got no OFFER during the flood ({sent} datagrams flooded)");
        };
        let yiaddr = Ipv4Addr::new(offer[16], offer[17], offer[18], offer[19]);
        assert_eq!(
            yiaddr,
            reserved(i as u16),
            "node {i} was offered another address"
        );
    }
    let allowed = 64.0 + 32.0 * elapsed.as_secs_f64() + 1.0;
    assert!(
        (answered as f64) <= allowed,
        "the spoofed flood got {answered} answers for {sent} datagrams in {elapsed:?} (at most {allowed})"
    );
    assert!(
        sent > 10 * answered.max(1),
        "the flood was no flood: {sent} sent"
    );
}
