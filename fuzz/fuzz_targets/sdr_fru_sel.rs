//! The SDR, FRU, SEL and SOL parsers on arbitrary bytes: no panic, and what parses re-encodes
//! to the same value (SDR records and SEL records) or at least parses again (FRU).
#![no_main]

use ipmi_proto::cmd::fru::FruInventory;
use ipmi_proto::cmd::sdr::{self, Sdr};
use ipmi_proto::cmd::sel::SelRecord;
use ipmi_proto::cmd::sol::SolPacket;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Sdr::parse(data) {
        let mut b = bytes::BytesMut::new();
        r.emit(&mut b);
        assert_eq!(Sdr::parse(&b).ok(), Some(r.clone()));
        if let sdr::SdrRecord::FullSensor(f) = &r.record {
            for raw in [0u8, 1, 127, 128, 255] {
                let _ = f.convert(raw);
            }
        }
    }
    let _ = sdr::parse_sdrs(data);
    if let Ok(f) = FruInventory::parse(data) {
        if let Ok(bytes) = f.to_bytes() {
            assert!(FruInventory::parse(&bytes).is_ok());
        }
    }
    if let Ok(r) = SelRecord::parse(data) {
        let mut b = bytes::BytesMut::new();
        r.emit(&mut b);
        assert_eq!(SelRecord::parse(&b).ok(), Some(r));
    }
    if let Ok(p) = SolPacket::parse(data) {
        let mut b = bytes::BytesMut::new();
        p.emit(&mut b);
        assert_eq!(SolPacket::parse(&b).ok(), Some(p));
    }
});
