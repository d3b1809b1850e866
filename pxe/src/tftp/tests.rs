//! The read transfer in virtual time: a simulated RFC 7440 client over links that lose,
//! duplicate and reorder datagrams.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::packet::{ErrorCode, Packet};
use super::source::MemoryContent;
use super::transfer::{Outcome, ReadTransfer, TransferConfig};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn chance(&mut self, per_mille: u64) -> bool {
        self.next() % 1000 < per_mille
    }
}

struct Link {
    loss: u64,
    dup: u64,
    reorder: u64,
}

fn deliver(link: &Link, rng: &mut Rng, q: &mut VecDeque<Vec<u8>>, d: Vec<u8>) {
    if rng.chance(link.loss) {
        return;
    }
    if rng.chance(link.dup) {
        q.push_back(d.clone());
    }
    if rng.chance(link.reorder) && !q.is_empty() {
        q.push_front(d);
    } else {
        q.push_back(d);
    }
}

struct SimResult {
    data: Vec<u8>,
    outcome: Outcome,
    oack: Option<Vec<(String, String)>>,
}

/// Run one transfer of `content` for `rrq` through lossy links; the client is a correct
/// RFC 7440 receiver (ACK the last block of each window; on a gap or a timeout, ACK the last
/// in-order block).
fn simulate(
    rrq: &[u8],
    content: Vec<u8>,
    cfg: &TransferConfig,
    link: Link,
    seed: u64,
) -> SimResult {
    let Ok(Packet::Rrq(req)) = Packet::parse(rrq) else {
        panic!("bad rrq")
    };
    let mut now = Instant::now();
    let mut rng = Rng(seed | 1);
    let mut t = ReadTransfer::new(&req, Box::new(MemoryContent::new(content)), cfg, now);
    let mut to_client: VecDeque<Vec<u8>> = VecDeque::new();
    let mut to_server: VecDeque<Vec<u8>> = VecDeque::new();
    let mut out = Vec::new();
    let mut got = Vec::new();
    let mut expected: u64 = 1;
    let mut blksize = 512usize;
    let mut window = 1u64;
    let mut in_window = 0u64;
    let mut oack = None;
    let mut client_done = false;
    let mut client_deadline = now + Duration::from_millis(1500);
    let mut acked_oack = false;
    for _step in 0..10_000_000u64 {
        while t.poll_transmit(&mut out) {
            deliver(&link, &mut rng, &mut to_client, out.clone());
        }
        // The shells read ahead before waiting; mostly, not always, to cover both paths.
        if rng.chance(700) {
            t.prefetch();
        }
        if t.is_done() && to_client.is_empty() {
            break;
        }
        if let Some(d) = to_client.pop_front() {
            if client_done {
                // A finished client answers a repeated last block with its last ACK.
                if let Ok(Packet::Data { block, .. }) = Packet::parse(&d) {
                    deliver(
                        &link,
                        &mut rng,
                        &mut to_server,
                        block
                            .to_be_bytes()
                            .to_vec()
                            .into_iter()
                            .fold(vec![0, 4], |mut v, b| {
                                v.push(b);
                                v
                            }),
                    );
                }
            } else {
                match Packet::parse(&d).unwrap() {
                    Packet::Oack { options } => {
                        let o: Vec<(String, String)> = options
                            .iter()
                            .map(|o| (o.name.to_string(), o.value.to_string()))
                            .collect();
                        for (n, v) in &o {
                            if n == "blksize" {
                                blksize = v.parse().unwrap();
                            }
                            if n == "windowsize" {
                                window = v.parse().unwrap();
                            }
                        }
                        oack = Some(o);
                        if expected == 1 {
                            acked_oack = true;
                            deliver(&link, &mut rng, &mut to_server, vec![0, 4, 0, 0]);
                        }
                    }
                    Packet::Data { block, data } => {
                        if block == (expected & 0xffff) as u16 {
                            got.extend_from_slice(data);
                            in_window += 1;
                            let last = data.len() < blksize;
                            if last || in_window >= window {
                                deliver(
                                    &link,
                                    &mut rng,
                                    &mut to_server,
                                    [0, 4, (block >> 8) as u8, block as u8].to_vec(),
                                );
                                in_window = 0;
                            }
                            expected += 1;
                            client_deadline = now + Duration::from_millis(1500);
                            if last {
                                client_done = true;
                            }
                        } else if (block.wrapping_sub((expected & 0xffff) as u16)) < 0x8000 {
                            // A gap: ACK the last in-order block.
                            let b = ((expected - 1) & 0xffff) as u16;
                            deliver(
                                &link,
                                &mut rng,
                                &mut to_server,
                                [0, 4, (b >> 8) as u8, b as u8].to_vec(),
                            );
                            in_window = 0;
                        }
                    }
                    Packet::Error { code, message } => {
                        panic!("server error {code}: {message}");
                    }
                    _ => {}
                }
            }
        } else if let Some(d) = to_server.pop_front() {
            t.handle_datagram(now, &d);
        } else {
            // Nothing in flight: advance virtual time to the next timer.
            let server_t = t.poll_timeout();
            let next = match server_t {
                Some(s) if client_done || s <= client_deadline => s,
                _ if !client_done => client_deadline,
                Some(s) => s,
                None => break,
            };
            now = next.max(now);
            if Some(now) >= server_t && server_t.is_some() {
                t.handle_timeout(now);
            }
            if !client_done && now >= client_deadline {
                let b = ((expected - 1) & 0xffff) as u16;
                if expected > 1 || acked_oack {
                    deliver(
                        &link,
                        &mut rng,
                        &mut to_server,
                        [0, 4, (b >> 8) as u8, b as u8].to_vec(),
                    );
                }
                in_window = 0;
                client_deadline = now + Duration::from_millis(1500);
            }
        }
    }
    SimResult {
        data: got,
        outcome: t.outcome().cloned().expect("transfer not finished"),
        oack,
    }
}

fn rrq(opts: &[(&str, &str)]) -> Vec<u8> {
    let mut v = b"\x00\x01file\x00octet\x00".to_vec();
    for (n, val) in opts {
        v.extend_from_slice(n.as_bytes());
        v.push(0);
        v.extend_from_slice(val.as_bytes());
        v.push(0);
    }
    v
}

fn content(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

const CLEAN: Link = Link {
    loss: 0,
    dup: 0,
    reorder: 0,
};

#[test]
fn sizes_lock_step_and_windowed() {
    let cfg = TransferConfig::builder().retries(50).build();
    for (blk, ws) in [
        ("512", None),
        ("8", Some("4")),
        ("1468", Some("16")),
        ("100", Some("1")),
    ] {
        let b: usize = blk.parse().unwrap();
        for size in [0, 1, b - 1, b, b + 1, 3 * b, 10 * b + 3] {
            let mut opts = vec![("blksize", blk), ("tsize", "0")];
            if let Some(w) = ws {
                opts.push(("windowsize", w));
            }
            let c = content(size);
            let r = simulate(&rrq(&opts), c.clone(), &cfg, CLEAN, 1);
            assert_eq!(r.data, c, "blksize {blk} ws {ws:?} size {size}");
            assert!(matches!(r.outcome, Outcome::Complete { bytes, .. } if bytes == size as u64));
            let oack = r.oack.unwrap();
            assert_eq!(oack.contains(&("tsize".into(), size.to_string())), size > 0);
        }
    }
}

#[test]
fn no_options_no_oack() {
    let c = content(2000);
    let r = simulate(&rrq(&[]), c.clone(), &TransferConfig::default(), CLEAN, 3);
    assert_eq!(r.data, c);
    assert!(r.oack.is_none());
}

#[test]
fn rollover_past_65535_blocks() {
    let cfg = TransferConfig::default();
    // 70,000 blocks of 8 bytes (and an exact multiple: a final empty block 70,001).
    for size in [8 * 70_000 + 5, 8 * 70_000] {
        let c = content(size);
        let r = simulate(
            &rrq(&[("blksize", "8"), ("windowsize", "8")]),
            c.clone(),
            &cfg,
            CLEAN,
            5,
        );
        assert_eq!(r.data.len(), c.len());
        assert_eq!(r.data, c);
        let r = simulate(&rrq(&[("blksize", "8")]), c.clone(), &cfg, CLEAN, 6);
        assert_eq!(r.data, c);
    }
}

#[test]
fn exact_recovery_under_loss_duplication_and_reordering() {
    let cfg = TransferConfig::builder().retries(1000).build();
    let lossy = || Link {
        loss: 100,
        dup: 50,
        reorder: 50,
    };
    for seed in 1..=12u64 {
        for (blk, ws) in [("512", "1"), ("64", "4"), ("32", "16"), ("16", "64")] {
            let c = content(20_000 + seed as usize * 37);
            let r = simulate(
                &rrq(&[("blksize", blk), ("windowsize", ws)]),
                c.clone(),
                &cfg,
                lossy(),
                seed,
            );
            assert_eq!(r.data, c, "seed {seed} blksize {blk} ws {ws}");
            assert!(matches!(r.outcome, Outcome::Complete { .. }));
        }
    }
    // Roll-over under loss too.
    let c = content(8 * 66_000);
    let r = simulate(
        &rrq(&[("blksize", "8"), ("windowsize", "16")]),
        c.clone(),
        &cfg,
        lossy(),
        99,
    );
    assert_eq!(r.data, c);
}

#[test]
fn negotiation_rules() {
    let cfg = TransferConfig::builder()
        .max_blksize(1468)
        .max_window(8)
        .build();
    let now = Instant::now();
    let start = |opts: &[(&str, &str)]| {
        let bytes = rrq(opts);
        let Ok(Packet::Rrq(req)) = Packet::parse(&bytes) else {
            panic!()
        };
        let mut t = ReadTransfer::new(
            &req,
            Box::new(MemoryContent::new(vec![1u8; 3000])),
            &cfg,
            now,
        );
        let mut out = Vec::new();
        assert!(t.poll_transmit(&mut out));
        (Packet::parse(&out).unwrap().to_vec(), t)
    };
    for bad in [
        ("blksize", "7"),
        ("blksize", "65465"),
        ("blksize", "x"),
        ("timeout", "0"),
        ("timeout", "256"),
        ("windowsize", "0"),
        ("windowsize", "65536"),
    ] {
        let (p, t) = start(&[bad]);
        assert_eq!(&p[..4], &[0, 5, 0, 8], "{bad:?}");
        assert!(matches!(t.outcome(), Some(Outcome::Refused(_))));
    }
    // Capped, echoed in request order, unknown options dropped.
    let (p, _) = start(&[
        ("WindowSize", "64"),
        ("foo", "bar"),
        ("blksize", "65464"),
        ("timeout", "3"),
        ("tsize", "0"),
    ]);
    let Packet::Oack { options } = Packet::parse(&p).unwrap() else {
        panic!()
    };
    let got: Vec<(&str, &str)> = options.iter().map(|o| (o.name, o.value)).collect();
    assert_eq!(
        got,
        vec![
            ("windowsize", "8"),
            ("blksize", "1468"),
            ("timeout", "3"),
            ("tsize", "3000")
        ]
    );
    // Window capped by the socket buffer.
    let small = TransferConfig::builder().max_window_bytes(4 * 1472).build();
    let bytes = rrq(&[("blksize", "1468"), ("windowsize", "64")]);
    let Ok(Packet::Rrq(req)) = Packet::parse(&bytes) else {
        panic!()
    };
    let t = ReadTransfer::new(
        &req,
        Box::new(MemoryContent::new(vec![0u8; 1])),
        &small,
        now,
    );
    assert_eq!(t.negotiated().windowsize, 4);
    // Modes.
    let mail = b"\x00\x01f\x00mail\x00".to_vec();
    let Ok(Packet::Rrq(req)) = Packet::parse(&mail) else {
        panic!()
    };
    let mut t = ReadTransfer::new(&req, Box::new(MemoryContent::new(vec![0u8; 1])), &cfg, now);
    let mut out = Vec::new();
    assert!(t.poll_transmit(&mut out));
    assert_eq!(&out[..4], &[0, 5, 0, 4]);
}

#[test]
fn netascii_converts_and_reports_converted_size() {
    let bytes = b"\x00\x01f\x00NetASCII\x00tsize\x000\x00".to_vec();
    let Ok(Packet::Rrq(req)) = Packet::parse(&bytes) else {
        panic!()
    };
    let now = Instant::now();
    let mut t = ReadTransfer::new(
        &req,
        Box::new(MemoryContent::new(b"a\nb".to_vec())),
        &TransferConfig::default(),
        now,
    );
    let mut out = Vec::new();
    assert!(t.poll_transmit(&mut out));
    assert_eq!(out, b"\x00\x06tsize\x004\x00");
    t.handle_datagram(now, &[0, 4, 0, 0]);
    assert!(t.poll_transmit(&mut out));
    assert_eq!(out, b"\x00\x03\x00\x01a\r\nb");
}

#[test]
fn edk2_size_probe_is_not_a_failure() {
    let bytes = rrq(&[("tsize", "0"), ("blksize", "1468"), ("windowsize", "4")]);
    let Ok(Packet::Rrq(req)) = Packet::parse(&bytes) else {
        panic!()
    };
    let now = Instant::now();
    let mut t = ReadTransfer::new(
        &req,
        Box::new(MemoryContent::new(vec![0u8; 850_000])),
        &TransferConfig::default(),
        now,
    );
    let mut out = Vec::new();
    assert!(t.poll_transmit(&mut out));
    assert!(ReadTransfer::is_oack(&out));
    t.handle_datagram(now, b"\x00\x05\x00\x08User aborted the transfer\x00");
    assert_eq!(t.outcome(), Some(&Outcome::SizeProbe));
    assert!(!t.outcome().unwrap().is_failure());
    assert!(!t.poll_transmit(&mut out));
    // The re-request is a fresh transfer that completes.
    let bytes = rrq(&[("blksize", "1468"), ("windowsize", "4")]);
    let c = content(850_000);
    let r = simulate(&bytes, c.clone(), &TransferConfig::default(), CLEAN, 7);
    assert_eq!(r.data, c);
}

#[test]
fn duplicate_acks_do_not_cause_retransmission() {
    let bytes = rrq(&[]);
    let Ok(Packet::Rrq(req)) = Packet::parse(&bytes) else {
        panic!()
    };
    let now = Instant::now();
    let mut t = ReadTransfer::new(
        &req,
        Box::new(MemoryContent::new(vec![0u8; 5000])),
        &TransferConfig::default(),
        now,
    );
    let mut out = Vec::new();
    assert!(t.poll_transmit(&mut out));
    assert!(!t.poll_transmit(&mut out));
    t.handle_datagram(now, &[0, 4, 0, 1]);
    assert!(t.poll_transmit(&mut out)); // block 2
    t.handle_datagram(now, &[0, 4, 0, 1]); // duplicate
    assert!(!t.poll_transmit(&mut out), "Sorcerer's Apprentice");
    assert_eq!(t.stats().retransmits, 0);
}

#[test]
fn gives_up_after_retries() {
    let bytes = rrq(&[]);
    let Ok(Packet::Rrq(req)) = Packet::parse(&bytes) else {
        panic!()
    };
    let mut now = Instant::now();
    let cfg = TransferConfig::builder().retries(3).build();
    let mut t = ReadTransfer::new(
        &req,
        Box::new(MemoryContent::new(vec![0u8; 5000])),
        &cfg,
        now,
    );
    let mut out = Vec::new();
    let mut sends = 0;
    while !t.is_done() {
        while t.poll_transmit(&mut out) {
            sends += 1;
        }
        if let Some(d) = t.poll_timeout() {
            now = d;
            t.handle_timeout(now);
        }
    }
    assert_eq!(sends, 4);
    assert_eq!(t.outcome(), Some(&Outcome::TimedOut));
    let _ = ErrorCode::NotDefined;
}

#[test]
fn read_ahead_across_chunk_boundaries_under_loss() {
    let cfg = TransferConfig::builder().retries(1000).build();
    let lossy = || Link {
        loss: 80,
        dup: 40,
        reorder: 40,
    };
    // The read-ahead buffer holds at least 64 KiB: sizes at, around and across its edges.
    // 65464 x 32 is a window of 2 MiB, larger than the buffer (1 MiB): read in parts.
    for (i, size) in [
        3 << 16,
        (3 << 16) + 1,
        (2 << 16) - 1,
        65_464 * 3,
        65_464 * 40 + 7,
    ]
    .into_iter()
    .enumerate()
    {
        for (blk, ws) in [
            ("512", "1"),
            ("1468", "16"),
            ("65464", "4"),
            ("8192", "64"),
            ("65464", "32"),
        ] {
            let c = content(size);
            let r = simulate(
                &rrq(&[("blksize", blk), ("windowsize", ws)]),
                c.clone(),
                &cfg,
                lossy(),
                i as u64 + 17,
            );
            assert_eq!(r.data, c, "size {size} blksize {blk} ws {ws}");
            assert!(matches!(r.outcome, Outcome::Complete { bytes, .. } if bytes == size as u64));
        }
    }
}

/// Content that counts the reads made of it.
struct Counting(
    MemoryContent,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
);
impl super::source::Content for Counting {
    fn size(&self) -> Option<u64> {
        self.0.size()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.0.read_at(offset, buf)
    }
}

#[test]
fn small_blocks_are_read_in_large_chunks() {
    // 1 MiB at the default 512-byte blocks, lock-step: 2,049 DATA packets, but the content is
    // read 64 KiB at a time (17 reads: 16 full chunks and the empty tail), read-ahead or not.
    let c = content(1 << 20);
    let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let bytes = rrq(&[]);
    let Ok(Packet::Rrq(req)) = Packet::parse(&bytes) else {
        panic!()
    };
    let now = Instant::now();
    let mut t = ReadTransfer::new(
        &req,
        Box::new(Counting(MemoryContent::new(c.clone()), reads.clone())),
        &TransferConfig::default(),
        now,
    );
    let mut got = Vec::new();
    let mut datagrams = 0;
    while !t.is_done() {
        let Some(d) = t.poll_datagram() else {
            panic!("lock-step transfer stalled")
        };
        datagrams += 1;
        let block = [d.head[2], d.head[3]];
        got.extend_from_slice(d.body);
        if datagrams % 2 == 0 {
            t.prefetch();
        }
        t.handle_datagram(now, &[0, 4, block[0], block[1]]);
    }
    assert_eq!(got, c);
    assert_eq!(datagrams, 2049);
    assert_eq!(reads.load(std::sync::atomic::Ordering::Relaxed), 17);
    assert!(matches!(
        t.outcome(),
        Some(Outcome::Complete { blocks: 2049, .. })
    ));
}
