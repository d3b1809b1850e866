//! Cloud-init config drives (the OpenStack format Ironic writes): a small VFAT file system
//! labelled `config-2` holding `openstack/latest/meta_data.json`, `user_data` and
//! `network_data.json` (and any other files), written into a new partition at the end of the
//! disk, after the image.
//!
//! **Why VFAT:** cloud-init accepts the `config-2` label on VFAT or ISO9660. VFAT can be built
//! in pure Rust by the small, long-lived `fatfs` crate (long file names included), in memory and
//! without `unsafe`; an ISO9660 with the Rock Ridge/Joliet extensions needed for names like
//! `meta_data.json` would need either a C tool (genisoimage) or a larger hand-written writer.
//!
//! ```
//! use imaging::ConfigDrive;
//! let drive = ConfigDrive::new(r#"{"uuid": "83679162-1378-4288-a2d4-70e13ec132aa"}"#)
//!     .user_data("#cloud-config\nhostname: node-1\n")
//!     .network_data(r#"{"links": [], "networks": [], "services": []}"#)
//!     .build()?;
//! assert_eq!(drive.len() % (1 << 20), 0);
//! # Ok::<(), imaging::Error>(())
//! ```

use std::fs::File;
use std::io::{self, Cursor, Write};
use std::os::unix::fs::FileExt;

use crate::error::{Error, Result, Stage};

/// The file-system label cloud-init looks for.
pub const LABEL: &str = "config-2";
/// The largest config drive accepted (Ironic's own limit is 64 MiB).
pub const MAX_SIZE: u64 = 64 << 20;

/// The contents of a config drive; [`ConfigDrive::build`] makes the VFAT image.
#[derive(Debug, Clone, Default)]
pub struct ConfigDrive {
    files: Vec<(String, Vec<u8>)>,
}

impl ConfigDrive {
    /// A drive with `openstack/latest/meta_data.json` (JSON text, written as given).
    pub fn new(meta_data_json: impl Into<String>) -> Self {
        ConfigDrive::default().file(
            "openstack/latest/meta_data.json",
            meta_data_json.into().into_bytes(),
        )
    }

    /// `openstack/latest/user_data` (a cloud-config, a script, anything).
    pub fn user_data(self, data: impl Into<Vec<u8>>) -> Self {
        self.file("openstack/latest/user_data", data)
    }

    /// `openstack/latest/network_data.json`.
    pub fn network_data(self, json: impl Into<String>) -> Self {
        self.file(
            "openstack/latest/network_data.json",
            json.into().into_bytes(),
        )
    }

    /// Any other file (e.g. `openstack/latest/vendor_data.json`, `ec2/latest/meta-data.json`);
    /// `path` is relative, `/`-separated. A later file with the same path replaces the earlier.
    pub fn file(mut self, path: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        let path = path.into().trim_matches('/').to_string();
        self.files.retain(|(p, _)| *p != path);
        self.files.push((path, data.into()));
        self
    }

    /// The files, in the order given.
    pub fn files(&self) -> &[(String, Vec<u8>)] {
        &self.files
    }

    /// Builds the VFAT image (a whole number of MiB, at least 4 MiB).
    pub fn build(&self) -> Result<Vec<u8>> {
        let fail = |e: io::Error| Error::io(Stage::Finalize, None, e);
        for (p, _) in &self.files {
            if p.is_empty() || p.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
                return Err(Error::InvalidOptions(
                    "config drive paths must be relative and without . or ..",
                ));
            }
        }
        let content: u64 = self
            .files
            .iter()
            .map(|(_, d)| (d.len() as u64).div_ceil(4096) * 4096 + 4096)
            .sum();
        let size = (content + content / 8 + (2 << 20)).div_ceil(1 << 20) * (1 << 20);
        let size = size.max(4 << 20);
        if size > MAX_SIZE {
            return Err(Error::InvalidOptions("config drive contents exceed 64 MiB"));
        }
        let mut img = Cursor::new(vec![0u8; size as usize]);
        let mut label = [b' '; 11];
        label[..LABEL.len()].copy_from_slice(LABEL.as_bytes());
        fatfs::format_volume(
            &mut img,
            fatfs::FormatVolumeOptions::new()
                .volume_label(label)
                .volume_id(0x0c0f_2002),
        )
        .map_err(fail)?;
        {
            let fs = fatfs::FileSystem::new(&mut img, fatfs::FsOptions::new()).map_err(fail)?;
            for (path, data) in &self.files {
                let root = fs.root_dir();
                let mut dir = root;
                let parts: Vec<&str> = path.split('/').collect();
                for comp in &parts[..parts.len() - 1] {
                    dir = match dir.open_dir(comp) {
                        Ok(d) => d,
                        Err(_) => dir.create_dir(comp).map_err(fail)?,
                    };
                }
                let name = parts[parts.len() - 1];
                let mut f = dir.create_file(name).map_err(fail)?;
                f.truncate().map_err(fail)?;
                f.write_all(data).map_err(fail)?;
                f.flush().map_err(fail)?;
            }
            fs.unmount().map_err(fail)?;
        }
        Ok(img.into_inner())
    }
}

const LINUX_FS_GUID: [u8; 16] = [
    0xaf, 0x3d, 0xc6, 0x0f, 0x83, 0x84, 0x72, 0x47, 0x8e, 0x79, 0x3d, 0x69, 0xd8, 0x47, 0x7d, 0xe4,
];

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

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Where [`add_partition`] put the drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Placement {
    /// Partition number (1-based).
    pub number: u32,
    /// Byte offset of the partition on the disk.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
}

/// Adds a partition at the end of the disk in `file` (`disk_size` bytes, `sector`-byte
/// sectors) and writes `drive` into it, as Ironic does: on a GPT disk (whose backup GPT must
/// already be at the disk's end) a new entry named `config-2` in the first free slot, both
/// tables and headers updated with their CRCs; on an MBR disk a new primary partition of type
/// 0x83. The partition starts on a 1 MiB boundary after every existing partition. The caller
/// flushes.
pub fn add_partition(
    file: &File,
    disk_size: u64,
    sector: u64,
    drive: &[u8],
) -> io::Result<Placement> {
    let mut hdr = vec![0u8; sector as usize];
    file.read_exact_at(&mut hdr, sector)?;
    let placement = if &hdr[..8] == b"EFI PART" {
        add_gpt(file, disk_size, sector, &mut hdr, drive.len() as u64)?
    } else {
        add_mbr(file, disk_size, sector, drive.len() as u64)?
    };
    file.write_all_at(drive, placement.offset)?;
    Ok(placement)
}

fn add_gpt(
    file: &File,
    disk_size: u64,
    sector: u64,
    hdr: &mut [u8],
    len: u64,
) -> io::Result<Placement> {
    let size = le32(hdr, 12) as usize;
    if !(92..=hdr.len()).contains(&size) {
        return Err(invalid("bad GPT header size"));
    }
    let disk_last = disk_size / sector - 1;
    if le64(hdr, 32) != disk_last {
        return Err(invalid(
            "the backup GPT is not at the disk's end (relocate it first)",
        ));
    }
    let last_usable = le64(hdr, 48);
    let n = le32(hdr, 80) as usize;
    let esize = le32(hdr, 84) as usize;
    if esize < 128 || n * esize > 1 << 20 || n == 0 {
        return Err(invalid("bad GPT partition table size"));
    }
    let table_sectors = ((n * esize) as u64).div_ceil(sector);
    let mut entries = vec![0u8; (table_sectors * sector) as usize];
    file.read_exact_at(&mut entries, le64(hdr, 72) * sector)?;
    if crc32(&entries[..n * esize]) != le32(hdr, 88) {
        return Err(invalid("GPT partition table CRC mismatch"));
    }
    let mut used_end = le64(hdr, 40);
    let mut free = None;
    for i in 0..n {
        let e = &entries[i * esize..(i + 1) * esize];
        if e[..16].iter().all(|&b| b == 0) {
            free.get_or_insert(i);
        } else {
            used_end = used_end.max(le64(e, 40) + 1);
        }
    }
    let slot = free.ok_or_else(|| invalid("no free GPT entry"))?;
    let sectors = len.div_ceil(sector);
    let align = (1 << 20) / sector;
    let start = (last_usable + 1).saturating_sub(sectors) / align * align;
    if start < used_end || start == 0 {
        return Err(invalid(
            "no room for the config drive after the last partition",
        ));
    }
    let end = start + sectors - 1;
    let e = &mut entries[slot * esize..(slot + 1) * esize];
    e.fill(0);
    e[..16].copy_from_slice(&LINUX_FS_GUID);
    // A unique GUID derived from the disk's GUID and the slot (deterministic, no RNG).
    let mut h = crate::Hasher::new(crate::Algorithm::Sha256);
    h.update(&hdr[56..72]);
    h.update(&(slot as u64).to_le_bytes());
    h.update(b"config-2");
    let digest = h.finish();
    let mut guid = [0u8; 16];
    guid.copy_from_slice(&digest.digest()[..16]);
    guid[7] = (guid[7] & 0x0f) | 0x40; // version 4 (mixed-endian field)
    guid[8] = (guid[8] & 0x3f) | 0x80;
    e[16..32].copy_from_slice(&guid);
    e[32..40].copy_from_slice(&start.to_le_bytes());
    e[40..48].copy_from_slice(&end.to_le_bytes());
    for (i, u) in LABEL.encode_utf16().enumerate() {
        e[56 + 2 * i..58 + 2 * i].copy_from_slice(&u.to_le_bytes());
    }
    let ecrc = crc32(&entries[..n * esize]);
    hdr[88..92].copy_from_slice(&ecrc.to_le_bytes());
    let set_crc = |h: &mut [u8]| {
        h[16..20].fill(0);
        let c = crc32(&h[..size]);
        h[16..20].copy_from_slice(&c.to_le_bytes());
    };
    set_crc(hdr);
    let mut bak = vec![0u8; sector as usize];
    file.read_exact_at(&mut bak, disk_last * sector)?;
    if &bak[..8] != b"EFI PART" {
        return Err(invalid("no backup GPT header at the disk's end"));
    }
    bak[88..92].copy_from_slice(&ecrc.to_le_bytes());
    set_crc(&mut bak);
    file.write_all_at(&entries, le64(hdr, 72) * sector)?;
    file.write_all_at(&entries, le64(&bak, 72) * sector)?;
    file.write_all_at(&bak, disk_last * sector)?;
    file.write_all_at(hdr, sector)?;
    Ok(Placement {
        number: slot as u32 + 1,
        offset: start * sector,
        len: sectors * sector,
    })
}

fn add_mbr(file: &File, disk_size: u64, sector: u64, len: u64) -> io::Result<Placement> {
    let mut mbr = [0u8; 512];
    file.read_exact_at(&mut mbr, 0)?;
    if mbr[510..512] != [0x55, 0xaa] {
        return Err(invalid(
            "the disk has neither a GPT nor an MBR partition table",
        ));
    }
    let mut used_end = 1u64;
    let mut free = None;
    for i in 0..4 {
        let e = 446 + 16 * i;
        let kind = mbr[e + 4];
        let (s, n) = (u64::from(le32(&mbr, e + 8)), u64::from(le32(&mbr, e + 12)));
        if kind == 0 || n == 0 {
            free.get_or_insert(i);
        } else {
            if kind == 0xee {
                return Err(invalid("protective MBR without a valid GPT"));
            }
            used_end = used_end.max(s + n);
        }
    }
    let slot = free.ok_or_else(|| invalid("no free primary MBR partition"))?;
    let total = (disk_size / sector).min(u64::from(u32::MAX));
    let sectors = len.div_ceil(sector);
    let align = (1 << 20) / sector;
    let start = total.saturating_sub(sectors) / align * align;
    if start < used_end || start == 0 {
        return Err(invalid(
            "no room for the config drive after the last partition",
        ));
    }
    let e = 446 + 16 * slot;
    mbr[e..e + 16].fill(0);
    mbr[e + 1..e + 4].copy_from_slice(&[0xfe, 0xff, 0xff]);
    mbr[e + 4] = 0x83;
    mbr[e + 5..e + 8].copy_from_slice(&[0xfe, 0xff, 0xff]);
    mbr[e + 8..e + 12].copy_from_slice(&(start as u32).to_le_bytes());
    mbr[e + 12..e + 16].copy_from_slice(&(sectors as u32).to_le_bytes());
    file.write_all_at(&mbr, 0)?;
    Ok(Placement {
        number: slot as u32 + 1,
        offset: start * sector,
        len: sectors * sector,
    })
}
