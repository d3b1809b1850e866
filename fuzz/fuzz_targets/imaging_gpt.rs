//! Moving the backup GPT to a disk's end (`gpt::relocate_backup`) on hostile GPTs: the input
//! picks the sector size, the disk's size, the header's fields and the partition table; the
//! harness sets the signature and both CRCs so that every LBA and size field reaches the
//! relocation logic. No panic, no write past the disk's end, and a relocated GPT is valid
//! where it was moved to.
#![no_main]

use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// One file on tmpfs, rewritten for every input.
fn disk() -> &'static std::fs::File {
    static DISK: OnceLock<std::fs::File> = OnceLock::new();
    DISK.get_or_init(|| {
        let path = format!("/dev/shm/imaging-fuzz-gpt-{}", std::process::id());
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("a file in /dev/shm");
        let _ = std::fs::remove_file(&path);
        f
    })
}

/// CRC-32 (IEEE), as the GPT uses it.
fn crc32(b: &[u8]) -> u32 {
    let mut c = !0u32;
    for &x in b {
        c ^= u32::from(x);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xedb8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 + 92 {
        return;
    }
    let sector: u64 = if data[0] & 1 == 0 { 512 } else { 4096 };
    let size =
        (u64::from(u16::from_le_bytes([data[1], data[2]])) * sector).clamp(4 * sector, 4 << 20);
    let mut hdr = vec![0u8; sector as usize];
    hdr[..92].copy_from_slice(&data[3..95]);
    hdr[..8].copy_from_slice(b"EFI PART");
    hdr[12..16].copy_from_slice(&92u32.to_le_bytes());
    let table = &data[95..];
    let f = disk();
    f.set_len(0).unwrap();
    f.set_len(size).unwrap();
    // The partition table where the header says, as far as the disk and the input reach; its
    // CRC over the bytes the header says it has.
    let lba = u64::from_le_bytes(hdr[72..80].try_into().unwrap());
    let entries = u64::from(u32::from_le_bytes(hdr[80..84].try_into().unwrap()));
    let esize = u64::from(u32::from_le_bytes(hdr[84..88].try_into().unwrap()));
    if let Some(at) = lba.checked_mul(sector).filter(|&a| a < size) {
        let n = (table.len() as u64).min(size - at) as usize;
        f.write_all_at(&table[..n], at).unwrap();
        let len = entries.saturating_mul(esize).min(size - at).min(1 << 20) as usize;
        let mut t = vec![0u8; len];
        f.read_exact_at(&mut t, at).unwrap();
        hdr[88..92].copy_from_slice(&crc32(&t).to_le_bytes());
    }
    hdr[16..20].fill(0);
    let c = crc32(&hdr[..92]);
    hdr[16..20].copy_from_slice(&c.to_le_bytes());
    f.write_all_at(&hdr, sector).unwrap();
    if let Ok(true) = imaging::gpt::relocate_backup(f, size, sector) {
        assert_eq!(f.metadata().unwrap().len(), size);
        let mut last = vec![0u8; sector as usize];
        f.read_exact_at(&mut last, size / sector * sector - sector)
            .unwrap();
        assert_eq!(&last[..8], b"EFI PART");
        assert!(imaging::gpt::has_gpt(f, sector).unwrap());
    }
});
