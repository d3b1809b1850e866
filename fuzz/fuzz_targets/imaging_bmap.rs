//! bmap files (`bmaptool create` XML) on arbitrary bytes: no panic, bounded work, and whatever
//! is accepted has its ranges in order inside the image.
#![no_main]

use imaging::Bmap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(bmap) = Bmap::parse(data) else {
        return;
    };
    let mut next = 0u64;
    for (start, end) in bmap.byte_ranges() {
        assert!(start >= next && start < end && end <= bmap.image_size());
        next = end;
    }
    assert!(bmap.mapped_bytes() <= bmap.image_size());
    assert!(bmap.block_size().is_power_of_two());
});
