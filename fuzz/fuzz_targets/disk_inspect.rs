//! bmc-sim's virtual firmware looking at an arbitrary disk image (partition tables, file
//! system superblocks, a FAT ESP, an ext4 os-release): a verdict for every image, never a
//! panic, and never a read or allocation beyond small bounds. The input is the disk (padded to
//! 72 KiB, past the deepest superblock probe); a GPT header's CRC is fixed up so that the
//! fuzzer gets past it to the partition contents. A good seed is a small real disk: GPT made
//! by `sfdisk` with partitions from sector 40, a FAT ESP by `mformat`/`mcopy` and an ext4 root
//! by `mke2fs -b 1024 -d` (run with `-max_len` above its size).
#![no_main]

use bmc_sim::disk::{Disk, inspect};
use libfuzzer_sys::fuzz_target;

/// CRC-32 (IEEE), bit by bit: small and independent of the code under test.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fuzz_target!(|data: &[u8]| {
    let mut image = data.to_vec();
    image.resize(image.len().max(72 << 10), 0);
    if &image[512..520] == b"EFI PART" {
        let size = u32::from_le_bytes([image[524], image[525], image[526], image[527]]) as usize;
        if (92..=512).contains(&size) {
            image[528..532].fill(0);
            let crc = crc32(&image[512..512 + size]);
            image[528..532].copy_from_slice(&crc.to_le_bytes());
        }
    }
    let disk = Disk::from_bytes(image);
    for uefi in [true, false] {
        let report = inspect(&disk, uefi);
        assert_eq!(report.bootable(), report.loader.is_ok());
        for p in &report.partitions {
            let _ = p.filesystem.as_ref().map(|f| f.name());
        }
    }
});
