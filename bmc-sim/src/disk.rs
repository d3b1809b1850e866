//! What a virtual node's firmware finds on its disk when it boots from it.
//!
//! A node's disk is a file (a raw image, as `imaging` writes it). Booting from it does what real
//! firmware does, from the on-disk formats' magic numbers and structures:
//!
//! * the partition table: an MBR (boot signature `55 AA` at byte 510, four entries at 446; the
//!   logical partitions of an extended one followed through their chain of extended boot
//!   records and numbered from 5, as Linux does) or a GPT (a protective MBR entry of type
//!   `0xEE`, then `EFI PART` at LBA 1 with the header's CRC32 checked, as UEFI firmware does).
//!   The logical sector size is the one the GPT was made for: its header at byte 512 (512-byte
//!   sectors) or at byte 4096 (4Kn disks); an MBR-only disk is taken to have 512-byte sectors;
//! * each partition's file system from its superblock magic: ext2/3/4 (`0xEF53` at byte 1080,
//!   the journal and extent feature bits tell which), FAT (`FAT` type string in the boot
//!   sector), XFS (`XFSB`), Btrfs (`_BHRfS_M` at 64 KiB + 64), swap (`SWAPSPACE2`), ISO 9660
//!   (`CD001` at 32 KiB + 1) and LUKS;
//! * the verdict: in UEFI mode an EFI System Partition (GPT type
//!   `C12A7328-F81F-11D2-BA4B-00A0C93EC93B` or MBR type `0xEF`) holding the removable-media
//!   loader `\EFI\BOOT\BOOTX64.EFI` (UEFI 2.x, 3.5.1.1: what firmware without boot entries
//!   starts), read with the `fatfs` crate; in legacy BIOS mode a boot signature over a boot
//!   code area that is not blank (a BIOS would jump into it);
//! * the operating system: `/etc/os-release` (or `/usr/lib/os-release`) read from an ext2/3/4
//!   partition with the `ext4-view` crate, its `PRETTY_NAME` reported.
//!
//! Nothing here trusts the image: sizes and counts are bounded and every read is checked, so a
//! hostile image gives a verdict, never a panic or a large allocation.
//!
//! ```
//! use bmc_sim::disk::{inspect, Disk, PartitionTable};
//! // A blank 1 MiB disk: no partition table, nothing to boot.
//! let report = inspect(&Disk::from_bytes(vec![0u8; 1 << 20]), true);
//! assert_eq!(report.table, PartitionTable::None);
//! assert!(!report.bootable());
//! ```

use std::io;

/// A disk as the firmware reads it: a file (a node's disk image) or bytes in memory. Cheap to
/// clone (shared).
#[derive(Debug, Clone)]
pub struct Disk(Source);

#[derive(Debug, Clone)]
enum Source {
    File(std::sync::Arc<std::fs::File>, u64),
    Bytes(std::sync::Arc<[u8]>),
}

impl Disk {
    /// Open a disk image file, read-only.
    pub fn open(path: impl AsRef<std::path::Path>) -> io::Result<Self> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Disk(Source::File(std::sync::Arc::new(file), len)))
    }

    /// A disk held in memory.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Disk(Source::Bytes(bytes.into().into()))
    }

    /// Fill `buf` from byte `offset`; an error if the disk ends first.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        match &self.0 {
            Source::File(f, _) => std::os::unix::fs::FileExt::read_exact_at(&**f, buf, offset),
            Source::Bytes(b) => {
                let start = usize::try_from(offset).map_err(|_| eof())?;
                let end = start.checked_add(buf.len()).ok_or_else(eof)?;
                buf.copy_from_slice(b.get(start..end).ok_or_else(eof)?);
                Ok(())
            }
        }
    }

    /// The disk's size in bytes.
    pub fn size(&self) -> u64 {
        match &self.0 {
            Source::File(_, len) => *len,
            Source::Bytes(b) => b.len() as u64,
        }
    }
}

fn eof() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "read past the end of the disk",
    )
}

const SECTOR: u64 = 512;
/// The logical sector sizes a GPT is looked for with, in this order.
const SECTOR_SIZES: [u64; 2] = [512, 4096];
/// GPT partition entries read at most (the usual table has 128).
const MAX_GPT_ENTRIES: u32 = 256;
/// Logical partitions followed at most in an extended partition's chain.
const MAX_LOGICAL: u32 = 128;
/// Largest os-release file read.
const MAX_OS_RELEASE: u64 = 64 << 10;
const ESP_GUID: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
/// The loader UEFI firmware starts from removable media and from disks without boot entries.
pub const UEFI_FALLBACK_LOADER: &str = "\\EFI\\BOOT\\BOOTX64.EFI";

/// The disk's partition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PartitionTable {
    /// None recognised.
    None,
    /// A DOS/MBR table.
    Mbr,
    /// A GUID partition table.
    Gpt,
}

/// A file system recognised from its superblock.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Filesystem {
    /// ext2, ext3 or ext4 (`version` 2, 3 or 4), with its volume label.
    Ext {
        /// 2, 3 or 4.
        version: u8,
        /// The volume label, when set.
        label: Option<String>,
    },
    /// FAT12/16/32, with its volume label.
    Vfat {
        /// The volume label, when set.
        label: Option<String>,
    },
    /// XFS.
    Xfs,
    /// Btrfs.
    Btrfs,
    /// Linux swap.
    Swap,
    /// ISO 9660 (a CD image or a hybrid ISO).
    Iso9660,
    /// A LUKS encrypted volume.
    Luks,
}

impl Filesystem {
    /// The name `blkid` gives it (`ext4`, `vfat`, `xfs`...).
    pub fn name(&self) -> &'static str {
        match self {
            Filesystem::Ext { version: 2, .. } => "ext2",
            Filesystem::Ext { version: 3, .. } => "ext3",
            Filesystem::Ext { .. } => "ext4",
            Filesystem::Vfat { .. } => "vfat",
            Filesystem::Xfs => "xfs",
            Filesystem::Btrfs => "btrfs",
            Filesystem::Swap => "swap",
            Filesystem::Iso9660 => "iso9660",
            Filesystem::Luks => "crypto_LUKS",
        }
    }
}

/// One partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// 1-based, as Linux numbers them.
    pub number: u32,
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub size: u64,
    /// GPT type GUID (upper case) or MBR type byte (`0x83`).
    pub kind: String,
    /// GPT partition name, when set.
    pub name: Option<String>,
    /// The file system found in it.
    pub filesystem: Option<Filesystem>,
}

impl Partition {
    /// Whether this is an EFI System Partition by its type.
    pub fn is_esp(&self) -> bool {
        self.kind == ESP_GUID || self.kind == "0xEF"
    }
}

/// What the firmware found on the disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskReport {
    /// Disk size in bytes.
    pub size: u64,
    /// The logical sector size the partition table uses (4096 for a GPT made for a 4Kn
    /// disk, otherwise 512).
    pub sector_size: u64,
    /// The partition table.
    pub table: PartitionTable,
    /// Partitions (for a disk without a table, a whole-disk file system as partition 0).
    pub partitions: Vec<Partition>,
    /// The boot loader the firmware would start (`\EFI\BOOT\BOOTX64.EFI` on partition 1, or
    /// `MBR boot code`), or why there is none.
    pub loader: Result<String, String>,
    /// `PRETTY_NAME` of the first os-release found on an ext2/3/4 partition.
    pub os: Option<String>,
}

impl DiskReport {
    /// Whether the firmware found something to start.
    pub fn bootable(&self) -> bool {
        self.loader.is_ok()
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

fn le32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn le64(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        x.copy_from_slice(s);
    }
    u64::from_le_bytes(x)
}

/// A GPT GUID in its text form (the first three fields are little-endian on disk).
fn guid(b: &[u8]) -> String {
    let mut s = String::with_capacity(36);
    for (i, idx) in [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
        .iter()
        .enumerate()
    {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{:02X}", b.get(*idx).copied().unwrap_or(0)));
    }
    s
}

fn label(raw: &[u8]) -> Option<String> {
    let s: String = String::from_utf8_lossy(raw)
        .trim_end_matches(['\0', ' '])
        .to_string();
    (!s.is_empty() && s != "NO NAME").then_some(s)
}

/// The file system at byte `start` of `disk`, from its magic numbers.
pub fn probe_filesystem(disk: &Disk, start: u64) -> Option<Filesystem> {
    let mut head = vec![0u8; 4096];
    disk.read_at(start, &mut head).ok()?;
    if le16(&head, 1024 + 56) == 0xEF53 {
        let compat = le32(&head, 1024 + 0x5C);
        let incompat = le32(&head, 1024 + 0x60);
        let version = if incompat & 0x40 != 0 {
            4
        } else if compat & 0x4 != 0 {
            3
        } else {
            2
        };
        return Some(Filesystem::Ext {
            version,
            label: label(&head[1024 + 0x78..1024 + 0x88]),
        });
    }
    if head.starts_with(b"XFSB") {
        return Some(Filesystem::Xfs);
    }
    if head.starts_with(b"LUKS\xba\xbe") {
        return Some(Filesystem::Luks);
    }
    if &head[4086..4096] == b"SWAPSPACE2" {
        return Some(Filesystem::Swap);
    }
    if le16(&head, 510) == 0xAA55 {
        if &head[0x52..0x57] == b"FAT32" {
            return Some(Filesystem::Vfat {
                label: label(&head[0x47..0x52]),
            });
        }
        if &head[0x36..0x39] == b"FAT" {
            return Some(Filesystem::Vfat {
                label: label(&head[0x2B..0x36]),
            });
        }
    }
    let mut m = [0u8; 8];
    if disk.read_at(start.saturating_add(0x10040), &mut m).is_ok() && &m == b"_BHRfS_M" {
        return Some(Filesystem::Btrfs);
    }
    let mut m = [0u8; 5];
    if disk.read_at(start.saturating_add(0x8001), &mut m).is_ok() && &m == b"CD001" {
        return Some(Filesystem::Iso9660);
    }
    None
}

/// The logical sector size and partitions of a GPT disk (its header looked for at LBA 1 of
/// 512-byte, then of 4096-byte sectors), or `None` when no header is found or its CRC is
/// wrong.
fn gpt(disk: &Disk) -> Option<(u64, Vec<Partition>)> {
    SECTOR_SIZES
        .into_iter()
        .find_map(|sector| Some((sector, gpt_partitions(disk, sector)?)))
}

/// The partitions of a GPT disk with `sector`-byte sectors.
fn gpt_partitions(disk: &Disk, sector: u64) -> Option<Vec<Partition>> {
    let mut h = [0u8; 512];
    disk.read_at(sector, &mut h).ok()?;
    if &h[..8] != b"EFI PART" {
        return None;
    }
    let header_size = le32(&h, 12) as usize;
    if !(92..=512).contains(&header_size) {
        return None;
    }
    let mut copy = h[..header_size].to_vec();
    copy[16..20].fill(0);
    if crc32(&copy) != le32(&h, 16) {
        return None;
    }
    let entries_lba = le64(&h, 72);
    let count = le32(&h, 80).min(MAX_GPT_ENTRIES);
    let entry_size = le32(&h, 84);
    if !(128..=4096).contains(&entry_size) || entry_size % 8 != 0 {
        return None;
    }
    let mut table = vec![0u8; (count * entry_size) as usize];
    disk.read_at(entries_lba.checked_mul(sector)?, &mut table)
        .ok()?;
    let mut parts = Vec::new();
    for (i, e) in table.chunks_exact(entry_size as usize).enumerate() {
        if e[..16].iter().all(|b| *b == 0) {
            continue;
        }
        let (first, last) = (le64(e, 32), le64(e, 40));
        if last < first {
            continue;
        }
        let name: Vec<u16> = e[56..128]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|c| *c != 0)
            .collect();
        let name = String::from_utf16_lossy(&name);
        parts.push(Partition {
            number: i as u32 + 1,
            start: first.saturating_mul(sector),
            size: (last - first).saturating_add(1).saturating_mul(sector),
            kind: guid(&e[..16]),
            name: (!name.is_empty()).then_some(name),
            filesystem: None,
        });
    }
    Some(parts)
}

/// Whether an MBR partition type is an extended partition (a container of logical ones).
fn is_extended(kind: u8) -> bool {
    matches!(kind, 0x05 | 0x0F | 0x85)
}

/// The logical partitions in the extended partition starting at LBA `extended` (512-byte
/// sectors): each extended boot record holds one logical partition (its start relative to
/// that record) and the link to the next record (relative to the extended partition's
/// start). Numbered from 5, as Linux numbers them. The chain is bounded and a loop in it
/// ends it.
fn logical_partitions(disk: &Disk, extended: u64) -> Vec<Partition> {
    let mut parts = Vec::new();
    let mut ebr = extended;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..MAX_LOGICAL {
        if !seen.insert(ebr) {
            break;
        }
        let mut b = [0u8; 512];
        let Some(at) = ebr.checked_mul(SECTOR) else {
            break;
        };
        if disk.read_at(at, &mut b).is_err() || le16(&b, 510) != 0xAA55 {
            break;
        }
        let (kind, start, count) = (b[446 + 4], le32(&b, 446 + 8), le32(&b, 446 + 12));
        if kind != 0 && count != 0 {
            parts.push(Partition {
                number: 5 + parts.len() as u32,
                start: (ebr + u64::from(start)) * SECTOR,
                size: u64::from(count) * SECTOR,
                kind: format!("0x{kind:02X}"),
                name: None,
                filesystem: None,
            });
        }
        let (next_kind, next) = (b[462 + 4], le32(&b, 462 + 8));
        if !is_extended(next_kind) || next == 0 {
            break;
        }
        ebr = extended + u64::from(next);
    }
    parts
}

/// CRC-32 (IEEE, as GPT uses), through the `crc` crate.
fn crc32(data: &[u8]) -> u32 {
    crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(data)
}

/// Look at `disk` as firmware in UEFI (`uefi`) or legacy BIOS mode would, and at the OS on it.
pub fn inspect(disk: &Disk, uefi: bool) -> DiskReport {
    let size = disk.size();
    let mut mbr = [0u8; 512];
    let have_mbr = disk.read_at(0, &mut mbr).is_ok();
    let signature = have_mbr && le16(&mbr, 510) == 0xAA55;
    let mbr_entries: Vec<(u8, u32, u32)> = (0..4)
        .map(|i| {
            let e = 446 + 16 * i;
            (mbr[e + 4], le32(&mbr, e + 8), le32(&mbr, e + 12))
        })
        .collect();
    let protective = signature && mbr_entries.iter().any(|(t, _, _)| *t == 0xEE);
    let (table, sector_size, mut partitions) = match protective.then(|| gpt(disk)).flatten() {
        Some((sector, p)) => (PartitionTable::Gpt, sector, p),
        // A FAT boot sector carries the same signature: a whole-disk file system is no table.
        None if signature
            && probe_filesystem(disk, 0).is_none()
            && mbr_entries.iter().any(|(t, _, n)| *t != 0 && *n != 0) =>
        {
            // Primary partitions (not the extended container itself, nor empty slots).
            let mut parts: Vec<Partition> = mbr_entries
                .iter()
                .enumerate()
                .filter(|(_, (t, _, n))| *t != 0 && !is_extended(*t) && *n != 0)
                .map(|(i, (t, lba, n))| Partition {
                    number: i as u32 + 1,
                    start: u64::from(*lba) * SECTOR,
                    size: u64::from(*n) * SECTOR,
                    kind: format!("0x{t:02X}"),
                    name: None,
                    filesystem: None,
                })
                .collect();
            // Then the logical partitions of the (first) extended one.
            if let Some((_, lba, _)) = mbr_entries
                .iter()
                .find(|(t, lba, n)| is_extended(*t) && *lba != 0 && *n != 0)
            {
                parts.extend(logical_partitions(disk, u64::from(*lba)));
            }
            (PartitionTable::Mbr, SECTOR, parts)
        }
        None => (PartitionTable::None, SECTOR, Vec::new()),
    };
    for p in &mut partitions {
        if p.start < size {
            p.filesystem = probe_filesystem(disk, p.start);
        }
    }
    if table == PartitionTable::None {
        if let Some(fs) = probe_filesystem(disk, 0) {
            partitions.push(Partition {
                number: 0,
                start: 0,
                size,
                kind: "disk".into(),
                name: None,
                filesystem: Some(fs),
            });
        }
    }
    let loader = if size == 0 {
        Err("the disk is empty".to_string())
    } else if uefi {
        uefi_loader(disk, &partitions)
    } else if !signature {
        Err("no boot signature in the first sector".to_string())
    } else if mbr[..440].iter().all(|b| *b == 0) {
        Err("the MBR boot code area is blank".to_string())
    } else {
        Ok("MBR boot code".to_string())
    };
    let os = partitions
        .iter()
        .filter(|p| matches!(p.filesystem, Some(Filesystem::Ext { .. })))
        .find_map(|p| os_release(disk, p.start, p.size));
    DiskReport {
        size,
        sector_size,
        table,
        partitions,
        loader,
        os,
    }
}

fn uefi_loader(disk: &Disk, partitions: &[Partition]) -> Result<String, String> {
    let mut esps = partitions.iter().filter(|p| p.is_esp()).peekable();
    if esps.peek().is_none() {
        return Err("no EFI System Partition".to_string());
    }
    for p in esps {
        if !matches!(p.filesystem, Some(Filesystem::Vfat { .. })) {
            continue;
        }
        if fat_has_file(disk, p.start, p.size, "EFI/BOOT/BOOTX64.EFI") {
            return Ok(format!("{UEFI_FALLBACK_LOADER} on partition {}", p.number));
        }
    }
    Err(format!(
        "no {UEFI_FALLBACK_LOADER} on an EFI System Partition"
    ))
}

/// A read-only window on a partition, for `fatfs` (which wants Read + Write + Seek).
struct Window<'a> {
    disk: &'a Disk,
    start: u64,
    len: u64,
    pos: u64,
}

impl io::Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        let at = self.start.checked_add(self.pos).ok_or_else(eof)?;
        self.disk.read_at(at, &mut buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl io::Write for Window<'_> {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the firmware reads the disk only",
        ))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Seek for Window<'_> {
    fn seek(&mut self, to: io::SeekFrom) -> io::Result<u64> {
        let pos = match to {
            io::SeekFrom::Start(p) => Some(p),
            io::SeekFrom::End(d) => self.len.checked_add_signed(d),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad seek"))?;
        Ok(self.pos)
    }
}

fn fat_has_file(disk: &Disk, start: u64, len: u64, path: &str) -> bool {
    let len = len.min(disk.size().saturating_sub(start));
    let window = Window {
        disk,
        start,
        len,
        pos: 0,
    };
    let Ok(fs) = fatfs::FileSystem::new(window, fatfs::FsOptions::new()) else {
        return false;
    };
    fs.root_dir().open_file(path).is_ok()
}

/// An ext2/3/4 partition seen by `ext4-view`.
struct ExtReader {
    disk: Disk,
    start: u64,
    len: u64,
}

impl ext4_view::Ext4Read for ExtReader {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        if start_byte
            .checked_add(dst.len() as u64)
            .is_none_or(|end| end > self.len)
        {
            return Err(Box::new(eof()));
        }
        let at = self.start.checked_add(start_byte).ok_or_else(eof)?;
        Ok(self.disk.read_at(at, dst)?)
    }
}

/// `PRETTY_NAME` (or `NAME VERSION`, or `ID`) of the os-release file of an ext file system.
fn os_release(disk: &Disk, start: u64, len: u64) -> Option<String> {
    let reader = ExtReader {
        disk: disk.clone(),
        start,
        len: len.min(disk.size().saturating_sub(start)),
    };
    let fs = ext4_view::Ext4::load(Box::new(reader)).ok()?;
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        let Ok(meta) = fs.metadata(path) else {
            continue;
        };
        if meta.len() > MAX_OS_RELEASE {
            continue;
        }
        if let Some(name) = fs
            .read_to_string(path)
            .ok()
            .as_deref()
            .and_then(parse_os_release)
        {
            return Some(name);
        }
    }
    None
}

/// The name an os-release file gives: `PRETTY_NAME`, else `NAME VERSION`, else `ID`
/// (freedesktop.org os-release(5): shell-style `KEY=value` lines, values optionally quoted).
///
/// ```
/// let text = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n";
/// assert_eq!(bmc_sim::disk::parse_os_release(text).as_deref(), Some("Debian GNU/Linux 13 (trixie)"));
/// ```
pub fn parse_os_release(text: &str) -> Option<String> {
    let mut vars = std::collections::BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v)
            .replace("\\\"", "\"")
            .replace("\\\\", "\\");
        if !v.is_empty() {
            vars.insert(k.trim().to_string(), v);
        }
    }
    if let Some(p) = vars.get("PRETTY_NAME") {
        return Some(p.clone());
    }
    match (vars.get("NAME"), vars.get("VERSION")) {
        (Some(n), Some(v)) => Some(format!("{n} {v}")),
        (Some(n), None) => Some(n.clone()),
        _ => vars.get("ID").cloned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A DOS disk with one partition of `kind` holding `fs` (bytes at its start).
    fn dos_disk(kind: u8, fs: &[u8]) -> Vec<u8> {
        let mut d = vec![0u8; 4 << 20];
        d[446 + 4] = kind;
        d[446 + 8..446 + 12].copy_from_slice(&2048u32.to_le_bytes());
        d[446 + 12..446 + 16].copy_from_slice(&4096u32.to_le_bytes());
        d[510] = 0x55;
        d[511] = 0xAA;
        d[1 << 20..(1 << 20) + fs.len()].copy_from_slice(fs);
        d
    }

    #[test]
    fn superblock_magics() {
        let mut xfs = b"XFSB".to_vec();
        xfs.resize(4096, 0);
        let r = inspect(&Disk::from_bytes(dos_disk(0x83, &xfs)), false);
        assert_eq!(r.table, PartitionTable::Mbr);
        assert_eq!(r.partitions[0].filesystem, Some(Filesystem::Xfs));
        assert_eq!(r.partitions[0].start, 1 << 20);
        // Legacy BIOS: the signature is there but the boot code area is blank.
        assert!(r.loader.unwrap_err().contains("blank"));
        let mut swap = vec![0u8; 4096];
        swap[4086..].copy_from_slice(b"SWAPSPACE2");
        let r = inspect(&Disk::from_bytes(dos_disk(0x82, &swap)), true);
        assert_eq!(r.partitions[0].filesystem, Some(Filesystem::Swap));
        // UEFI: no ESP on this disk.
        assert_eq!(r.loader.unwrap_err(), "no EFI System Partition");
        // An ESP by type whose FAT is garbage: no loader, no panic.
        let r = inspect(&Disk::from_bytes(dos_disk(0xEF, &[0xff; 512])), true);
        assert!(r.partitions[0].is_esp());
        assert!(!r.bootable());
    }

    /// A GPT whose one entry ends at the last possible LBA (found by the fuzzer: the size
    /// computation overflowed).
    #[test]
    fn gpt_entry_reaching_the_end_of_lba_space() {
        let mut d = vec![0u8; 64 << 10];
        d[446 + 4] = 0xEE;
        d[510] = 0x55;
        d[511] = 0xAA;
        let h = 512;
        d[h..h + 8].copy_from_slice(b"EFI PART");
        d[h + 12..h + 16].copy_from_slice(&92u32.to_le_bytes());
        d[h + 72..h + 80].copy_from_slice(&2u64.to_le_bytes());
        d[h + 80..h + 84].copy_from_slice(&1u32.to_le_bytes());
        d[h + 84..h + 88].copy_from_slice(&128u32.to_le_bytes());
        let crc = crc32(&d[h..h + 92]);
        d[h + 16..h + 20].copy_from_slice(&crc.to_le_bytes());
        let e = 1024;
        d[e] = 1;
        d[e + 40..e + 48].copy_from_slice(&u64::MAX.to_le_bytes());
        let r = inspect(&Disk::from_bytes(d), true);
        assert_eq!(r.table, PartitionTable::Gpt);
        assert_eq!(r.partitions[0].size, u64::MAX);
        assert!(!r.bootable());
    }

    /// An extended partition whose chain of boot records loops back on itself: the logical
    /// partitions are listed once, and the walk ends.
    #[test]
    fn a_looping_extended_partition_chain_ends() {
        let mut d = vec![0u8; 1 << 20];
        let entry = |d: &mut [u8], at: usize, kind: u8, start: u32, count: u32| {
            d[at + 4] = kind;
            d[at + 8..at + 12].copy_from_slice(&start.to_le_bytes());
            d[at + 12..at + 16].copy_from_slice(&count.to_le_bytes());
        };
        entry(&mut d, 446, 0x83, 8, 8);
        entry(&mut d, 462, 0x05, 100, 1000);
        d[510] = 0x55;
        d[511] = 0xAA;
        // EBR at 100: a logical partition at 100 + 4, and the next EBR at 100 + 50.
        let ebr = 100 * 512;
        entry(&mut d, ebr + 446, 0x83, 4, 10);
        entry(&mut d, ebr + 462, 0x05, 50, 20);
        d[ebr + 510] = 0x55;
        d[ebr + 511] = 0xAA;
        // EBR at 150: one more, then a link back to the first EBR (offset 0).
        let ebr = 150 * 512;
        entry(&mut d, ebr + 446, 0x83, 2, 10);
        entry(&mut d, ebr + 462, 0x0F, 0, 20);
        d[ebr + 510] = 0x55;
        d[ebr + 511] = 0xAA;
        // ... which is not followed (a zero link ends the chain); make it loop for real:
        let mut looping = d.clone();
        looping[ebr + 462 + 8..ebr + 462 + 12].copy_from_slice(&50u32.to_le_bytes());
        for disk in [d, looping] {
            let r = inspect(&Disk::from_bytes(disk), false);
            assert_eq!(r.table, PartitionTable::Mbr);
            let got: Vec<_> = r
                .partitions
                .iter()
                .map(|p| (p.number, p.start / 512))
                .collect();
            assert_eq!(got, vec![(1, 8), (5, 104), (6, 152)]);
        }
    }

    #[test]
    fn os_release_names() {
        assert_eq!(
            parse_os_release("NAME=Fedora\nVERSION=\"41 (Server Edition)\"\n").as_deref(),
            Some("Fedora 41 (Server Edition)")
        );
        assert_eq!(
            parse_os_release("# x\nID=alpine\n").as_deref(),
            Some("alpine")
        );
        assert_eq!(parse_os_release("PRETTY_NAME=''\n"), None);
    }

    proptest! {
        /// Arbitrary bytes as a disk: a report, never a panic.
        #[test]
        fn any_disk_gives_a_report(
            head in proptest::collection::vec(any::<u8>(), 0..2048),
            sig in any::<bool>(),
            kind in any::<u8>(),
            uefi in any::<bool>(),
        ) {
            let mut d = dos_disk(kind, &head);
            if !sig {
                d[510] = 0;
            }
            d[..head.len().min(446)].copy_from_slice(&head[..head.len().min(446)]);
            let r = inspect(&Disk::from_bytes(d), uefi);
            prop_assert_eq!(r.bootable(), r.loader.is_ok());
        }

        #[test]
        fn any_os_release_parses(text in "\\PC{0,200}") {
            let _ = parse_os_release(&text);
        }
    }
}
