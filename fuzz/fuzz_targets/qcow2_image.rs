//! Format detection, the qcow2 header, L1/L2 parsing and cluster decoding on arbitrary bytes
//! (the input is a whole image file): no panic, bounded memory, and whatever is accepted stays
//! inside the file and the virtual disk.
#![no_main]

use std::io::Cursor;

use imaging::qcow2::{ClusterMap, Header, Limits};
use imaging::{Format, SeekableSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Format::detect(data);
    let Ok(header) = Header::parse(data) else {
        return;
    };
    assert!(header.l1_entries_needed() <= u64::from(header.l1_size));
    assert!((9..=21).contains(&header.cluster_bits));
    let limits = Limits::default()
        .max_l1_entries(1 << 16)
        .max_map_entries(1 << 16);
    let Ok(mut source) = SeekableSource::new(Cursor::new(data)) else {
        return;
    };
    let file_len = data.len() as u64;
    let Ok(map) = ClusterMap::read(&mut source, &header, file_len, &limits) else {
        return;
    };
    for e in map.extents() {
        assert!(e.host < file_len);
        assert!(e.guest < header.size);
    }
    // Decode every cluster from the stream; output must stay inside the virtual disk and
    // each compressed cluster yields at most one cluster.
    let mut produced = 0u64;
    let _ = map.stream(Cursor::new(data), |guest, bytes| {
        assert!(guest + bytes.len() as u64 <= header.size);
        assert!(bytes.len() as u64 <= (4 << 20).max(header.cluster_size()));
        produced += bytes.len() as u64;
        Ok(())
    });
    assert!(produced <= header.size);
});
