//! Flood fairness on loopback: one client (one MAC) sending DISCOVERs as fast as it can does
//! not starve the others, and gets no more answers than its per-client rate; a flooder that
//! changes its MAC each time gets no more than the new-client rate, and reserved nodes keep
//! getting their addresses.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pxe::dhcp::BootPolicy;
use pxe::dhcp::server::{DhcpServer, FloodGuard};

fn discover(mac_tail: u16, xid: u32) -> Vec<u8> {
    let mut d = pxe::dhcp::policy::example_discover();
    d[4..8].copy_from_slice(&xid.to_be_bytes());
    d[32..34].copy_from_slice(&mac_tail.to_be_bytes());
    d
}

#[test]
fn one_flooding_client_does_not_starve_the_others() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(async {
        DhcpServer::builder(BootPolicy::new(Ipv4Addr::LOCALHOST, "http://127.0.0.1"))
            .listen("127.0.0.1:0".parse().unwrap())
            .reply_to_source(true)
            .proxy()
            .flood_guard(Some(FloodGuard::new(16, 4)))
            .bind()
            .await
            .unwrap()
    });
    let addr: SocketAddr = server.local_addr().unwrap();
    rt.spawn(server.run());

    // The flooder: one MAC, as fast as it can send, counting the answers it gets.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let flood = UdpSocket::bind("127.0.0.1:0").unwrap();
    flood
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let started = Instant::now();
    let sender = {
        let (flood, stop, sent) = (flood.try_clone().unwrap(), stop.clone(), sent.clone());
        std::thread::spawn(move || {
            let d = discover(0xf100, 0xf100_0000);
            while !stop.load(Ordering::Relaxed) {
                if flood.send_to(&d, addr).is_ok() {
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
                if flood.recv_from(&mut buf).is_ok() {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));

    // Meanwhile 40 ordinary clients, each retransmitting every 250 ms like firmware (which
    // waits longer), must all get their OFFER.
    let clients: Vec<_> = (0..40u16)
        .map(|i| {
            std::thread::spawn(move || {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                s.set_read_timeout(Some(Duration::from_millis(250)))
                    .unwrap();
                let xid = 0x0c00_0000 + u32::from(i);
                let d = discover(i, xid);
                let t0 = Instant::now();
                let mut buf = [0u8; 1500];
                for _ in 0..12 {
                    s.send_to(&d, addr).unwrap();
                    while let Ok((n, _)) = s.recv_from(&mut buf) {
                        if n > 8 && buf[4..8] == xid.to_be_bytes() {
                            return Some(t0.elapsed());
                        }
                    }
                }
                None
            })
        })
        .collect();
    let waits: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    counter.join().unwrap();
    let (sent, answered) = (
        sent.load(Ordering::Relaxed),
        answered.load(Ordering::Relaxed),
    );

    let slowest = waits.iter().flatten().max();
    eprintln!(
        "flood: {sent} datagrams in {elapsed:?}, {answered} answered; slowest other client {slowest:?}"
    );
    let starved = waits.iter().filter(|w| w.is_none()).count();
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
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let reserved = |i: u16| Ipv4Addr::new(10, 99, 1, 10 + i as u8);
    let mut pool = pxe::dhcp::server::Pool::new(
        Ipv4Addr::new(10, 99, 0, 10),
        Ipv4Addr::new(10, 99, 0, 250),
        Ipv4Addr::new(255, 255, 0, 0),
    )
    .unwrap();
    for i in 0..40u16 {
        let t = i.to_be_bytes();
        pool = pool.with_reservation([0x52, 0x54, 0x00, 0x12, t[0], t[1]], reserved(i));
    }
    let server = rt.block_on(async {
        DhcpServer::builder(BootPolicy::new(Ipv4Addr::LOCALHOST, "http://127.0.0.1"))
            .listen("127.0.0.1:0".parse().unwrap())
            .reply_to_source(true)
            .pool(pool)
            .flood_guard(Some(FloodGuard::new(16, 4).with_new_clients(64, 32)))
            .bind()
            .await
            .unwrap()
    });
    let addr: SocketAddr = server.local_addr().unwrap();
    rt.spawn(server.run());

    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let sent = Arc::new(AtomicUsize::new(0));
    let flood = UdpSocket::bind("127.0.0.1:0").unwrap();
    flood
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let started = Instant::now();
    let sender = {
        let (flood, stop, sent) = (flood.try_clone().unwrap(), stop.clone(), sent.clone());
        std::thread::spawn(move || {
            let mut d = discover(0, 0xf200_0000);
            let mut n: u32 = 0;
            while !stop.load(Ordering::Relaxed) {
                n = n.wrapping_add(1);
                // A new MAC (02:00:xx:xx:xx:xx, locally administered) and xid each time.
                d[28..30].copy_from_slice(&[0x02, 0x00]);
                d[30..34].copy_from_slice(&n.to_be_bytes());
                d[4..8].copy_from_slice(&(0xf200_0000 ^ n).to_be_bytes());
                if flood.send_to(&d, addr).is_ok() {
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
                if flood.recv_from(&mut buf).is_ok() {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));

    let clients: Vec<_> = (0..40u16)
        .map(|i| {
            std::thread::spawn(move || {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                s.set_read_timeout(Some(Duration::from_millis(250)))
                    .unwrap();
                let xid = 0x0d00_0000 + u32::from(i);
                let mut d = discover(0, xid);
                let t = i.to_be_bytes();
                d[28..34].copy_from_slice(&[0x52, 0x54, 0x00, 0x12, t[0], t[1]]);
                let t0 = Instant::now();
                let mut buf = [0u8; 1500];
                for _ in 0..12 {
                    s.send_to(&d, addr).unwrap();
                    while let Ok((n, _)) = s.recv_from(&mut buf) {
                        if n > 20 && buf[4..8] == xid.to_be_bytes() {
                            let yiaddr = Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19]);
                            return Some((t0.elapsed(), yiaddr));
                        }
                    }
                }
                None
            })
        })
        .collect();
    let got: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    counter.join().unwrap();
    let (sent, answered) = (
        sent.load(Ordering::Relaxed),
        answered.load(Ordering::Relaxed),
    );
    let slowest = got.iter().flatten().map(|(w, _)| *w).max();
    eprintln!(
        "spoofed flood: {sent} datagrams (each a new MAC) in {elapsed:?}, {answered} answered; \
         slowest reserved node {slowest:?}"
    );
    for (i, g) in got.iter().enumerate() {
        let Some((_, yiaddr)) = g else {
            panic!("reserved node {i} got no OFFER during the flood ({sent} datagrams flooded)");
        };
        assert_eq!(
            *yiaddr,
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
