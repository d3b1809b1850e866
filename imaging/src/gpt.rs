//! GPT fix-ups after an image is written to a larger disk: the backup header and partition
//! table are moved from the image's end to the disk's end (what `sgdisk -e` does), with both
//! headers' CRCs recomputed and the protective MBR resized.
//!
//! ```
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("disk");
//! let file = std::fs::OpenOptions::new().read(true).write(true).create(true).open(&path)?;
//! file.set_len(1 << 20)?; // no GPT at all
//! assert!(!imaging::gpt::relocate_backup(&file, 1 << 20, 512)?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

const SIGNATURE: &[u8; 8] = b"EFI PART";
/// The largest partition table accepted (1 MiB: 8192 entries of 128 bytes).
const MAX_TABLE: u64 = 1 << 20;

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn crc32(b: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(b);
    c.sum()
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Whether `sector` holds a GPT header (signature and CRC checked) at LBA 1 of `file`.
pub fn has_gpt(file: &File, sector: u64) -> io::Result<bool> {
    let mut hdr = vec![0u8; sector as usize];
    if file.read_exact_at(&mut hdr, sector).is_err() {
        return Ok(false);
    }
    Ok(check_header(&hdr).is_ok())
}

fn check_header(hdr: &[u8]) -> io::Result<usize> {
    if &hdr[..8] != SIGNATURE {
        return Err(invalid("no GPT signature at LBA 1".into()));
    }
    let size = le32(hdr, 12) as usize;
    if !(92..=hdr.len()).contains(&size) {
        return Err(invalid(format!("GPT header size {size} out of range")));
    }
    let mut h = hdr[..size].to_vec();
    h[16..20].fill(0);
    if crc32(&h) != le32(hdr, 16) {
        return Err(invalid("GPT header CRC mismatch".into()));
    }
    Ok(size)
}

fn set_crc(hdr: &mut [u8], size: usize) {
    hdr[16..20].fill(0);
    let c = crc32(&hdr[..size]);
    hdr[16..20].copy_from_slice(&c.to_le_bytes());
}

/// Moves the backup GPT of the image at the start of `file` (a disk of `disk_size` bytes with
/// `sector`-byte logical sectors) to the disk's last sectors, extends the last usable LBA,
/// zeroes the old backup and resizes the protective MBR. Returns `false` when there is no
/// valid GPT at LBA 1 or the backup is already at the end. The caller flushes.
pub fn relocate_backup(file: &File, disk_size: u64, sector: u64) -> io::Result<bool> {
    if !(512..=4096).contains(&sector) || !sector.is_power_of_two() {
        return Err(invalid(format!("sector size {sector}")));
    }
    let mut hdr = vec![0u8; sector as usize];
    file.read_exact_at(&mut hdr, sector)?;
    let Ok(size) = check_header(&hdr) else {
        return Ok(false);
    };
    // Every LBA below comes from the image: checked before it is used (no overflow, nothing
    // outside the disk).
    let Some(disk_last) = (disk_size / sector).checked_sub(1) else {
        return Ok(false);
    };
    let my_lba = le64(&hdr, 24);
    let old_alt = le64(&hdr, 32);
    let entries_lba = le64(&hdr, 72);
    let n = u64::from(le32(&hdr, 80));
    let esize = u64::from(le32(&hdr, 84));
    if my_lba != 1 || old_alt == disk_last {
        return Ok(false);
    }
    if old_alt > disk_last {
        return Err(invalid(format!(
            "backup GPT at LBA {old_alt} lies past the disk's last LBA {disk_last}"
        )));
    }
    let table = n * esize;
    if !(128..=MAX_TABLE).contains(&table) || esize < 128 {
        return Err(invalid(format!(
            "GPT table of {n} entries of {esize} bytes"
        )));
    }
    let table_sectors = table.div_ceil(sector);
    if entries_lba < 2 || entries_lba.saturating_add(table_sectors) > disk_last {
        return Err(invalid(format!(
            "GPT partition table at LBA {entries_lba} lies outside the disk"
        )));
    }
    let mut entries = vec![0u8; (table_sectors * sector) as usize];
    file.read_exact_at(&mut entries, entries_lba * sector)?;
    if crc32(&entries[..table as usize]) != le32(&hdr, 88) {
        return Err(invalid("GPT partition table CRC mismatch".into()));
    }
    // The new backup table goes right before the disk's last LBA, past the old backup and
    // past every usable LBA of the image.
    let backup_entries = disk_last - table_sectors; // table_sectors < disk_last: checked above
    let first_usable = le64(&hdr, 40);
    if backup_entries <= old_alt || backup_entries <= le64(&hdr, 48) || first_usable > old_alt {
        return Err(invalid(
            "disk too small for the relocated backup GPT, or an inconsistent GPT header".into(),
        ));
    }
    let last_usable = backup_entries - 1;
    // primary
    hdr[32..40].copy_from_slice(&disk_last.to_le_bytes());
    hdr[48..56].copy_from_slice(&last_usable.to_le_bytes());
    set_crc(&mut hdr, size);
    // backup
    let mut bak = hdr.clone();
    bak[24..32].copy_from_slice(&disk_last.to_le_bytes());
    bak[32..40].copy_from_slice(&1u64.to_le_bytes());
    bak[72..80].copy_from_slice(&backup_entries.to_le_bytes());
    set_crc(&mut bak, size);

    // The old backup (table and header) lies past every partition: wipe it.
    let old_start = old_alt.saturating_sub(table_sectors).max(first_usable);
    let zeros = vec![0u8; ((old_alt + 1 - old_start) * sector) as usize];
    file.write_all_at(&zeros, old_start * sector)?;
    file.write_all_at(&entries, backup_entries * sector)?;
    file.write_all_at(&bak, disk_last * sector)?;
    file.write_all_at(&hdr, sector)?;

    // Protective MBR: a 0xEE entry starting at LBA 1 covers the whole disk (or 2^32-1).
    let mut mbr = [0u8; 512];
    file.read_exact_at(&mut mbr, 0)?;
    if mbr[510..512] == [0x55, 0xaa] {
        for i in 0..4 {
            let e = 446 + 16 * i;
            if mbr[e + 4] == 0xee && le32(&mbr, e + 8) == 1 {
                let len = u32::try_from(disk_last).unwrap_or(u32::MAX);
                mbr[e + 12..e + 16].copy_from_slice(&len.to_le_bytes());
                file.write_all_at(&mbr, 0)?;
                break;
            }
        }
    }
    Ok(true)
}
