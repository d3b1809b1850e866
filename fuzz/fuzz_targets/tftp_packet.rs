//! TFTP packet parsing on arbitrary bytes: no panic; whatever parses re-encodes to the same
//! packet; the read transfer takes any datagram (as a request and as a client reply) without
//! panicking.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use pxe::tftp::packet::Packet;
use pxe::tftp::source::MemoryContent;
use pxe::tftp::transfer::{ReadTransfer, TransferConfig};

fuzz_target!(|data: &[u8]| {
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
    // Any datagram as a client reply in the middle of a windowed transfer.
    let rrq = b"\x00\x01f\x00octet\x00blksize\x008\x00windowsize\x004\x00";
    if let Ok(Packet::Rrq(req)) = Packet::parse(rrq) {
        let now = Instant::now();
        let mut t = ReadTransfer::new(
            &req,
            Box::new(MemoryContent::new(vec![2u8; 100])),
            &TransferConfig::default(),
            now,
        );
        let mut out = Vec::new();
        while t.poll_transmit(&mut out) {}
        t.handle_datagram(now, &[0, 4, 0, 0]);
        for chunk in data.chunks(4) {
            while t.poll_transmit(&mut out) {}
            t.handle_datagram(now, chunk);
        }
    }
});
