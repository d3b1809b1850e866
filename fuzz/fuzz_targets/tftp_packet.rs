//! TFTP on arbitrary bytes, three ways:
//! 1. packet parsing: no panic; whatever parses re-encodes to the same packet; a parsed RRQ
//!    starts a read transfer;
//! 2. option negotiation: the input builds an RRQ from the options firmware sends
//!    (`blksize`, `tsize`, `timeout`, `windowsize`, in any case, repeated, unknown ones) with
//!    values legal and illegal (0, 7, 65465, huge, empty, signs, text); a refusal is ERROR 8
//!    (or 4 for a bad mode), a grant stays within RFC 2347-2349/7440 and the configured
//!    limits, and only options asked for are acknowledged;
//! 3. the sans-IO transfer state machine fed arbitrary client datagrams (ACKs near the
//!    window, stale, rolled-over, ERRORs, garbage), timer expiries and read-ahead calls: no
//!    panic, no DATA longer than the block size or outside the content, and the counters stay
//!    consistent.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use pxe::tftp::packet::{ErrorCode, Packet, Request, TftpOption};
use pxe::tftp::source::MemoryContent;
use pxe::tftp::transfer::{
    MAX_BLKSIZE, MIN_BLKSIZE, Outcome, ReadTransfer, TransferConfig, negotiate,
};

const NAMES: &[&str] = &[
    "blksize",
    "BLKSIZE",
    "tsize",
    "TSize",
    "timeout",
    "windowsize",
    "WindowSize",
    "multicast",
    "x",
];
const VALUES: &[&str] = &[
    "0",
    "1",
    "7",
    "8",
    "9",
    "512",
    "1432",
    "1468",
    "65464",
    "65465",
    "65535",
    "65536",
    "99999999999999999999",
    "",
    "-1",
    "+8",
    " 8",
    "abc",
    "255",
    "256",
    "4",
    "16",
    "64",
];

/// Take one byte from the input (0 when it runs out).
fn take(data: &mut &[u8]) -> u8 {
    match data.split_first() {
        Some((b, rest)) => {
            *data = rest;
            *b
        }
        None => 0,
    }
}

fn options_and_rest(mut data: &[u8]) -> (Vec<(&'static str, String)>, &'static str, &[u8]) {
    let mode = ["octet", "OCTET", "netascii", "mail", ""][usize::from(take(&mut data) % 5)];
    let n = take(&mut data) % 8;
    let mut opts = Vec::new();
    for _ in 0..n {
        let name = NAMES[usize::from(take(&mut data)) % NAMES.len()];
        let v = take(&mut data);
        let value = if v & 0x80 != 0 {
            // A number made from two more bytes.
            (u32::from(take(&mut data)) << 8 | u32::from(take(&mut data))).to_string()
        } else {
            VALUES[usize::from(v) % VALUES.len()].to_string()
        };
        opts.push((name, value));
    }
    (opts, mode, data)
}

fn check_negotiation(req: &Request<'_>, size: u64, cfg: &TransferConfig) {
    match negotiate(req, Some(size), cfg) {
        Ok(n) => {
            assert!((MIN_BLKSIZE..=MAX_BLKSIZE).contains(&n.blksize));
            if req.option("blksize").is_some() {
                assert!(n.blksize <= cfg.max_blksize);
            } else {
                // Without the option the block size is RFC 1350's, whatever the limit.
                assert_eq!(n.blksize, 512);
            }
            assert!(n.windowsize >= 1 && n.windowsize <= cfg.max_window.max(1));
            assert!((1..=255).contains(&n.timeout.as_secs()) || n.timeout == cfg.timeout);
            for (name, _) in &n.oack {
                assert!(
                    req.options
                        .iter()
                        .any(|o| o.name.eq_ignore_ascii_case(name)),
                    "{name} acknowledged but not asked"
                );
            }
        }
        Err(r) => assert!(matches!(
            r.code,
            ErrorCode::OptionRefused | ErrorCode::IllegalOperation
        )),
    }
}

/// Drive `t` with the client datagrams and events the input describes.
fn drive(t: &mut ReadTransfer, content_len: usize, mut data: &[u8]) {
    let mut now = Instant::now();
    let blksize = usize::from(t.negotiated().blksize);
    let mut steps = 0;
    while !data.is_empty() && steps < 4096 {
        steps += 1;
        while let Some(d) = t.poll_datagram() {
            if d.head.len() == 4 && d.head[..2] == [0, 3] {
                assert!(d.body.len() <= blksize, "DATA longer than the block size");
            }
            assert!(d.len() <= 4 + blksize.max(content_len).max(1024));
        }
        let s = t.stats();
        assert!(s.retransmits <= s.sent);
        match take(&mut data) % 8 {
            0 => t.prefetch(),
            1 => {
                now += Duration::from_secs(u64::from(take(&mut data) % 4));
                t.handle_timeout(now);
            }
            2 | 3 | 4 => {
                // An ACK of a block near the ones sent (stale, current, ahead, rolled over).
                let block = u16::from_be_bytes([take(&mut data), take(&mut data)]);
                t.handle_datagram(now, &[0, 4, (block >> 8) as u8, block as u8]);
            }
            5 => t.handle_datagram(now, &[0, 4, 0, (s.sent & 0xff) as u8]),
            6 => {
                let code = take(&mut data) % 10;
                t.handle_datagram(now, &[0, 5, 0, code, b'x', 0]);
            }
            _ => {
                let n = usize::from(take(&mut data) % 16).min(data.len());
                let (raw, rest) = data.split_at(n);
                t.handle_datagram(now, raw);
                data = rest;
            }
        }
        if t.is_done() {
            assert!(t.poll_datagram().is_none() || t.is_done());
            break;
        }
    }
    if let Some(Outcome::Complete { bytes, .. }) = t.outcome() {
        assert_eq!(*bytes as usize, content_len);
    }
}

fuzz_target!(|data: &[u8]| {
    // 1. Any datagram as a packet (and, when it is an RRQ, as the start of a transfer).
    if let Ok(p) = Packet::parse(data) {
        let b = p.to_vec();
        assert_eq!(Packet::parse(&b).ok(), Some(p.clone()));
        if let Packet::Rrq(req) = p {
            let now = Instant::now();
            let cfg = TransferConfig::default();
            let mut t = ReadTransfer::new(
                &req,
                Box::new(MemoryContent::new(vec![1u8; 3000])),
                &cfg,
                now,
            );
            let mut out = Vec::new();
            for _ in 0..8 {
                while t.poll_transmit(&mut out) {}
                t.handle_datagram(now, data);
                t.handle_datagram(now, &[0, 4, 0, 0]);
                t.handle_datagram(now, &[0, 4, 0, 1]);
                t.handle_timeout(now + Duration::from_secs(300));
            }
        }
    }

    // 2 and 3. A structured request (options from the input), then a transfer driven by
    // the rest of the input.
    let (opts, mode, rest) = options_and_rest(data);
    let options: Vec<TftpOption<'_>> = opts
        .iter()
        .map(|(n, v)| TftpOption { name: n, value: v })
        .collect();
    let req = Request {
        filename: "f",
        mode,
        options,
    };
    let mut rest = rest;
    let cfg = TransferConfig::builder()
        .max_blksize((u32::from(take(&mut rest)) * 300 + 8).min(65_535) as u16)
        .max_window(u16::from(take(&mut rest) % 70))
        .max_window_bytes(usize::from(take(&mut rest)) * 4096)
        .build();
    let len = usize::from(take(&mut rest)) * 37 + usize::from(take(&mut rest) % 3) * 512;
    check_negotiation(&req, len as u64, &cfg);
    let mut t = ReadTransfer::new(
        &req,
        Box::new(MemoryContent::new(vec![3u8; len])),
        &cfg,
        Instant::now(),
    );
    // The encoded request parses back to the same options (the codec round trip).
    let wire = Packet::Rrq(req.clone()).to_vec();
    if let Ok(Packet::Rrq(back)) = Packet::parse(&wire) {
        assert_eq!(back.options.len(), req.options.len());
    }
    drive(&mut t, len, rest);
});
