//! Block-device targets: a whole disk (or a loop device) opened exclusively.
//!
//! * **Capacity**: the device's size; a larger image is refused before anything is written.
//! * **Zero runs** ([`Zeroing`]): written as zeros unless the device is known to read back
//!   zeros there, either because the caller says it is pre-zeroed or because the range was
//!   zeroed first with `fallocate(PUNCH_HOLE | KEEP_SIZE)`, which on a block device is a
//!   write-zeroes/discard that is guaranteed to read back zeros and fails rather than writing
//!   zeros slowly (then the zeros are written).
//! * **O_DIRECT** (optional): writes bypass the page cache; unaligned pieces (the tail, 512-byte
//!   qcow2 clusters on a 4Kn disk) go through an aligned bounce buffer with read-modify-write.
//! * **In use**: before opening, the device is refused ([`Error::DeviceInUse`]) when it or one
//!   of its partitions is mounted (`/proc/self/mountinfo`), used as swap (`/proc/swaps`) or
//!   held by another device (`/sys/block/*/holders`: device-mapper, LVM, MD RAID), and it is
//!   opened with `O_EXCL`; [`BlockTargetBuilder::force`] skips both.
//! * **Sector size**: a GPT image made for 512-byte sectors (its header at byte 512) is refused
//!   on a disk with 4 KiB logical sectors, and the reverse ([`Error::SectorSizeMismatch`]),
//!   before its first bytes are written: firmware would find no partition table.
//! * **The first MiB last**, as coreos-installer does: the image's first MiB (the MBR or
//!   the primary GPT, and the boot loader's first stage) is held in memory while the rest is
//!   written, and the device's first MiB is zeroed (and flushed) before the first write, so
//!   the old partition table is gone at once. Only once everything else is durable, and
//!   the whole image's checksum has matched, is the first MiB written and flushed. A write
//!   that fails, is cancelled or has the wrong checksum leaves a disk with no partition
//!   table (its stale backup GPT is wiped too, below), never a half-written one that
//!   firmware would try to boot.
//! * **After the write** (fsync, then the optional read-back): the backup GPT is moved to the
//!   disk's end ([`gpt::relocate_backup`](crate::gpt::relocate_backup)) and the result flushed;
//!   then the kernel re-reads the partition table (`BLKRRPART`, retried while busy) so that
//!   the new partitions appear. Neither `rustix` nor `nix` offers `BLKRRPART` without `unsafe`
//!   (their generic `ioctl` is an `unsafe fn`, and this crate forbids `unsafe`), so util-linux's
//!   `blockdev --rereadpt` issues it; a device without partition support (a loop device
//!   without `-P`) is left as it is.
//!
//! ```no_run
//! use imaging::{BlockTarget, FileSource, WriteOptions, Zeroing, write_image};
//! let mut target = BlockTarget::builder("/dev/sdb")
//!     .zeroing(Zeroing::Discard)
//!     .direct(true)
//!     .open()?;
//! let mut source = FileSource::open("disk.raw")?;
//! write_image(&mut source, &mut target, &WriteOptions::default())?;
//! # Ok::<(), imaging::Error>(())
//! ```

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rustix::fs::{FallocateFlags, OFlags, fallocate};
use tracing::{info, warn};

use crate::buffer::ALIGN;
use crate::error::{Error, Result, Stage};
use crate::target::Target;

/// How a block device's zero runs are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Zeroing {
    /// Write them (safe on any device; the default).
    #[default]
    Write,
    /// Zero the image's range first with `fallocate(PUNCH_HOLE | KEEP_SIZE)` (write-zeroes or
    /// discard that reads back zeros), then skip zero runs; falls back to writing them when
    /// the device cannot do it.
    Discard,
    /// The caller guarantees the device reads back zeros (a new thin volume): skip zero runs.
    PreZeroed,
}

/// Builder of a [`BlockTarget`].
#[derive(Debug, Clone)]
pub struct BlockTargetBuilder {
    path: PathBuf,
    zeroing: Zeroing,
    direct: bool,
    relocate_gpt: bool,
    config_drive: Option<Vec<u8>>,
    force: bool,
    reread: bool,
}

impl BlockTargetBuilder {
    /// Writes even when the device is in use (mounted, swap, held by device-mapper or RAID),
    /// and opens it without `O_EXCL` (default false). Writing under a mounted file system
    /// corrupts it: only for callers who know better than these checks.
    pub fn force(mut self, force: bool) -> Self {
        self.force = force;
        self
    }

    /// Asks the kernel to re-read the partition table after the write (default true).
    pub fn reread_partitions(mut self, on: bool) -> Self {
        self.reread = on;
        self
    }

    /// After the image, adds a partition at the disk's end holding this config drive (see
    /// [`ConfigDrive::build`](crate::ConfigDrive::build) and
    /// [`configdrive::add_partition`](crate::configdrive::add_partition)).
    pub fn config_drive(mut self, image: Vec<u8>) -> Self {
        self.config_drive = Some(image);
        self
    }

    /// How zero runs are handled (default [`Zeroing::Write`]).
    pub fn zeroing(mut self, z: Zeroing) -> Self {
        self.zeroing = z;
        self
    }

    /// Writes with O_DIRECT (default false).
    pub fn direct(mut self, direct: bool) -> Self {
        self.direct = direct;
        self
    }

    /// Moves a GPT image's backup header and table to the disk's end (default true).
    pub fn relocate_gpt(mut self, on: bool) -> Self {
        self.relocate_gpt = on;
        self
    }

    /// Checks that the device is not in use, then opens it exclusively (`O_EXCL`: refused
    /// while mounted or held by another user such as LVM or RAID); see the module docs.
    pub fn open(self) -> Result<BlockTarget> {
        let err = |e| Error::io(Stage::OpenTarget, None, e);
        let meta = std::fs::metadata(&self.path).map_err(err)?;
        if !meta.file_type().is_block_device() {
            return Err(Error::Unsupported(format!(
                "{} is not a block device (use FileTarget for files)",
                self.path.display()
            )));
        }
        if !self.force {
            if let Some(reason) = in_use(Path::new("/"), meta.rdev()).map_err(err)? {
                return Err(Error::DeviceInUse {
                    device: self.path.display().to_string(),
                    reason,
                });
            }
        }
        let mut flags = if self.force {
            OFlags::empty()
        } else {
            OFlags::EXCL
        };
        if self.direct {
            flags |= OFlags::DIRECT;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(flags.bits() as i32)
            .open(&self.path)
            .map_err(err)?;
        let size = file.seek(SeekFrom::End(0)).map_err(err)?;
        let sector = u64::from(rustix::fs::ioctl_blksszget(&file).unwrap_or(512)).max(512);
        // A buffered descriptor for reads (verification), GPT and unaligned fix-ups.
        let aux = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(err)?;
        info!(device = %self.path.display(), size, sector, direct = self.direct, zeroing = ?self.zeroing, "block device opened");
        Ok(BlockTarget {
            file,
            aux,
            path: self.path,
            size,
            sector,
            direct: self.direct,
            zeroing: self.zeroing,
            relocate_gpt: self.relocate_gpt,
            bounce: Vec::new(),
            head: Vec::new(),
            head_wiped: false,
            gpt_relocated: false,
            zeroed_by_discard: false,
            config_drive: self.config_drive,
            config_partition: None,
            reread: self.reread,
            partitions_reread: false,
        })
    }
}

/// `"major:minor"` of a device number, as sysfs and mountinfo write it.
fn dev_name(rdev: u64) -> String {
    format!("{}:{}", rustix::fs::major(rdev), rustix::fs::minor(rdev))
}

/// Why the disk `rdev` (or one of its partitions) is in use, if it is. `root` is `/` (tests
/// give a made-up tree of `sys/` and `proc/`).
fn in_use(root: &Path, rdev: u64) -> io::Result<Option<String>> {
    let sys = std::fs::canonicalize(root.join(format!("sys/dev/block/{}", dev_name(rdev))))?;
    let disk = sys
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The disk and its partitions: (name, "major:minor", sysfs dir).
    let mut devs = vec![(disk, dev_name(rdev), sys.clone())];
    for entry in std::fs::read_dir(&sys)?.flatten() {
        let dir = entry.path();
        if dir.join("partition").exists() {
            if let Ok(d) = std::fs::read_to_string(dir.join("dev")) {
                let name = entry.file_name().to_string_lossy().into_owned();
                devs.push((name, d.trim().to_string(), dir));
            }
        }
    }
    let find = |id: &str| {
        devs.iter()
            .find(|(_, d, _)| d == id)
            .map(|(n, _, _)| n.clone())
    };
    // Mounted: field 3 of mountinfo is the file system's device, field 5 the mount point.
    let mountinfo = std::fs::read_to_string(root.join("proc/self/mountinfo")).unwrap_or_default();
    for line in mountinfo.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if let (Some(id), Some(at)) = (f.get(2), f.get(4)) {
            if let Some(name) = find(id) {
                return Ok(Some(format!("{name} is mounted on {}", unescape(at))));
            }
        }
    }
    // Swap: the first field of /proc/swaps names the device.
    let swaps = std::fs::read_to_string(root.join("proc/swaps")).unwrap_or_default();
    for line in swaps.lines().skip(1) {
        let Some(path) = line.split_whitespace().next() else {
            continue;
        };
        let path = unescape(path);
        let on_root = root.join(path.trim_start_matches('/'));
        if let Ok(m) = std::fs::metadata(on_root) {
            if m.file_type().is_block_device() {
                if let Some(name) = find(&dev_name(m.rdev())) {
                    return Ok(Some(format!("{name} is used as swap ({path})")));
                }
            }
        }
    }
    // Holders: device-mapper (LVM, crypt), MD RAID and the like built on top.
    for (name, _, dir) in &devs {
        if let Ok(rd) = std::fs::read_dir(dir.join("holders")) {
            let holders: Vec<String> = rd
                .flatten()
                .map(|e| {
                    let h = e.file_name().to_string_lossy().into_owned();
                    match std::fs::read_to_string(root.join(format!("sys/block/{h}/dm/name"))) {
                        Ok(dm) => format!("{h} ({})", dm.trim()),
                        Err(_) => h,
                    }
                })
                .collect();
            if !holders.is_empty() {
                return Ok(Some(format!(
                    "{name} is held by {} (device-mapper, LVM or RAID)",
                    holders.join(", ")
                )));
            }
        }
    }
    Ok(None)
}

/// Undoes the octal escapes (`\040` for a space) of mountinfo and /proc/swaps.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = u16::from(b[i + 1] - b'0') * 64
                + u16::from(b[i + 2] - b'0') * 8
                + u16::from(b[i + 3] - b'0');
            out.push(v as u8); // at most \377 is ever written
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How much of the image's start is written last (see the module docs).
const HEAD_LAST: u64 = 1 << 20;

/// A block device as the target (see the module docs).
pub struct BlockTarget {
    file: File,
    aux: File,
    path: PathBuf,
    size: u64,
    sector: u64,
    direct: bool,
    zeroing: Zeroing,
    relocate_gpt: bool,
    bounce: Vec<u8>,
    /// The image's first MiB, held back until [`Target::finish`].
    head: Vec<u8>,
    /// Whether the device's first MiB was zeroed yet (at the first write).
    head_wiped: bool,
    gpt_relocated: bool,
    zeroed_by_discard: bool,
    config_drive: Option<Vec<u8>>,
    config_partition: Option<crate::configdrive::Placement>,
    reread: bool,
    partitions_reread: bool,
}

impl std::fmt::Debug for BlockTarget {
    /// The device and its settings; not the buffers (the held first MiB, the bounce buffer).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockTarget")
            .field("path", &self.path)
            .field("size", &self.size)
            .field("sector", &self.sector)
            .field("direct", &self.direct)
            .field("zeroing", &self.zeroing)
            .field("relocate_gpt", &self.relocate_gpt)
            .field("gpt_relocated", &self.gpt_relocated)
            .field("zeroed_by_discard", &self.zeroed_by_discard)
            .field("config_drive", &self.config_drive.as_ref().map(Vec::len))
            .field("config_partition", &self.config_partition)
            .field("reread", &self.reread)
            .field("partitions_reread", &self.partitions_reread)
            .finish_non_exhaustive()
    }
}

impl BlockTarget {
    /// A builder for the device at `path`.
    pub fn builder(path: impl AsRef<Path>) -> BlockTargetBuilder {
        BlockTargetBuilder {
            path: path.as_ref().to_path_buf(),
            zeroing: Zeroing::Write,
            direct: false,
            relocate_gpt: true,
            config_drive: None,
            force: false,
            reread: true,
        }
    }

    /// Whether the kernel re-read the partition table after the last write.
    pub fn partitions_reread(&self) -> bool {
        self.partitions_reread
    }

    /// Closes the exclusive descriptor (the kernel will not rescan a disk that another opener
    /// holds exclusively) and has `blockdev --rereadpt` issue `BLKRRPART`, retried while the
    /// device is busy (udev probing the new partitions). See the module docs for why not the
    /// ioctl itself.
    fn reread_partition_table(&mut self) -> io::Result<bool> {
        let mut flags = OFlags::empty();
        if self.direct {
            flags |= OFlags::DIRECT;
        }
        self.file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(flags.bits() as i32)
            .open(&self.path)?;
        let mut last = String::new();
        for attempt in 0..20 {
            let out = match Command::new("blockdev")
                .arg("--rereadpt")
                .arg(&self.path)
                .output()
            {
                Ok(o) => o,
                Err(e) => {
                    warn!(device = %self.path.display(), error = %e,
                        "cannot run blockdev (util-linux) to re-read the partition table");
                    return Ok(false);
                }
            };
            if out.status.success() {
                // Let udev create the partitions' device nodes, where it runs.
                let _ = Command::new("udevadm")
                    .args(["settle", "--timeout=10"])
                    .output();
                return Ok(true);
            }
            last = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if !last.to_lowercase().contains("busy") {
                break;
            }
            std::thread::sleep(Duration::from_millis(50 * (attempt + 1)));
        }
        warn!(device = %self.path.display(), error = %last,
            "the kernel did not re-read the partition table");
        Ok(false)
    }

    /// Where the config drive was written by the last write, if one was asked for.
    pub fn config_partition(&self) -> Option<crate::configdrive::Placement> {
        self.config_partition
    }

    /// Opens `path` with the defaults (zeros written, buffered, GPT relocated).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::builder(path).open()
    }

    /// The device's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The logical sector size.
    pub fn sector_size(&self) -> u64 {
        self.sector
    }

    /// Whether the backup GPT was moved to the disk's end by the last write.
    pub fn gpt_relocated(&self) -> bool {
        self.gpt_relocated
    }

    /// Whether the last write's zero runs were skipped after zeroing the range with
    /// write-zeroes/discard.
    pub fn zeroed_by_discard(&self) -> bool {
        self.zeroed_by_discard
    }

    /// Zeroes exactly `[offset, offset + len)` (within the device): the sector-aligned
    /// inner part by write-zeroes/discard when `fast` and the device supports it, the rest by
    /// writing zeros. Returns whether the inner part was zeroed the fast way.
    fn zero_range(&mut self, offset: u64, len: u64, fast: bool) -> io::Result<bool> {
        let end = offset.saturating_add(len).min(self.size);
        if offset >= end {
            return Ok(true);
        }
        let a = offset.div_ceil(self.sector) * self.sector;
        let b = end / self.sector * self.sector;
        let fast_ok = fast
            && a < b
            && fallocate(
                &self.file,
                FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
                a,
                b - a,
            )
            .is_ok();
        let pieces = if fast_ok {
            [(offset, a), (b, end)]
        } else {
            [(offset, end), (end, end)]
        };
        let zeros = vec![0u8; (1 << 20).min((end - offset) as usize)];
        for (mut at, stop) in pieces {
            while at < stop {
                let n = (stop - at).min(zeros.len() as u64) as usize;
                self.aux.write_all_at(&zeros[..n], at)?;
                at += n as u64;
            }
        }
        self.aux.sync_data()?;
        Ok(fast_ok)
    }

    /// Zero (and flush) the device's first MiB, where the old partition table and boot
    /// code are, before any of the image is written.
    fn wipe_head(&mut self) -> io::Result<()> {
        let fast = self.zeroing == Zeroing::Discard;
        self.zero_range(0, self.head.len() as u64, fast)?;
        self.head_wiped = true;
        Ok(())
    }

    /// One write at `offset`, through the bounce buffer when O_DIRECT needs alignment.
    fn write_device(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.direct && !self.aligned(offset, data) {
            return self.write_bounced(offset, data);
        }
        self.file.write_all_at(data, offset)
    }

    fn aligned(&self, offset: u64, data: &[u8]) -> bool {
        offset % self.sector == 0
            && data.len() as u64 % self.sector == 0
            && data.as_ptr() as usize % self.sector as usize == 0
    }

    /// An O_DIRECT write of unaligned data: the covering sectors are read, patched and
    /// written from an aligned buffer.
    fn write_bounced(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let s = self.sector;
        let start = offset / s * s;
        let end = (offset + data.len() as u64).div_ceil(s) * s;
        let end = end.min(self.size);
        let len = (end - start) as usize;
        if self.bounce.len() < len + ALIGN {
            self.bounce = vec![0u8; len + ALIGN];
        }
        let pad = (ALIGN - (self.bounce.as_ptr() as usize) % ALIGN) % ALIGN;
        let buf = &mut self.bounce[pad..pad + len];
        let head = (offset - start) as usize;
        if head != 0 || data.len() != len {
            self.file.read_exact_at(buf, start)?;
        }
        buf[head..head + data.len()].copy_from_slice(data);
        self.file.write_all_at(buf, start)
    }
}

impl Target for BlockTarget {
    fn capacity(&self) -> Option<u64> {
        Some(self.size)
    }

    fn prepare(&mut self, image_size: Option<u64>, sparse: bool) -> io::Result<bool> {
        self.gpt_relocated = false;
        self.zeroed_by_discard = false;
        let head = HEAD_LAST
            .min(image_size.unwrap_or(self.size))
            .min(self.size);
        self.head = vec![0; head as usize];
        self.head_wiped = false;
        let fast = self.zeroing == Zeroing::Discard;
        // A stale backup GPT at the disk's end could be "recovered" by firmware after a failed
        // write: wipe the last MiB past the image.
        if let Some(img) = image_size {
            let tail = self.size.saturating_sub(1 << 20).max(img);
            self.zero_range(tail, self.size - tail, fast)?;
        }
        if !sparse {
            return Ok(false);
        }
        match self.zeroing {
            Zeroing::PreZeroed => Ok(true),
            Zeroing::Write => Ok(false),
            Zeroing::Discard => {
                let end = image_size.unwrap_or(self.size).min(self.size);
                // Only the sector-aligned part may be discarded; the image's last partial
                // sector is zeroed by a write (bytes past the image are never touched).
                let b = end / self.sector * self.sector;
                let ok = b == 0
                    || fallocate(
                        &self.file,
                        FallocateFlags::PUNCH_HOLE | FallocateFlags::KEEP_SIZE,
                        0,
                        b,
                    )
                    .map_err(|e| {
                        warn!(device = %self.path.display(), error = %e,
                            "device cannot zero by write-zeroes/discard; zero runs are written");
                    })
                    .is_ok();
                if ok {
                    self.zero_range(b, end - b, false)?;
                    self.zeroed_by_discard = true;
                }
                Ok(ok)
            }
        }
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if offset.saturating_add(data.len() as u64) > self.size {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "write past the device's end",
            ));
        }
        // The first write comes after the image's head was checked: only now is the old
        // partition table wiped.
        if !self.head_wiped {
            self.wipe_head()?;
        }
        // The part inside the first MiB is held back for `finish`.
        let held = self.head.len() as u64;
        if offset < held {
            let k = ((held - offset) as usize).min(data.len());
            let at = offset as usize;
            self.head[at..at + k].copy_from_slice(&data[..k]);
            let rest = &data[k..];
            if rest.is_empty() {
                return Ok(());
            }
            return self.write_device(offset + k as u64, rest);
        }
        self.write_device(offset, data)
    }

    fn writeback_handle(&self) -> Option<File> {
        // O_DIRECT writes leave nothing to write back.
        if self.direct {
            None
        } else {
            self.file.try_clone().ok()
        }
    }

    fn finish(&mut self, image_size: u64) -> io::Result<()> {
        if !self.head_wiped {
            self.wipe_head()?;
        }
        // Everything but the first MiB durable first; then the first MiB, flushed.
        self.file.sync_all()?;
        self.aux.sync_all()?;
        let head = std::mem::take(&mut self.head);
        let n = (head.len() as u64).min(image_size) as usize;
        let written = self.write_device(0, &head[..n]);
        self.head = head;
        written?;
        self.file.sync_all()?;
        self.aux.sync_all()
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.aux.read_exact_at(buf, offset)
    }

    fn drop_cache(&mut self) {
        let _ = rustix::fs::fadvise(&self.aux, 0, None, rustix::fs::Advice::DontNeed);
    }

    fn check_image_head(&mut self, head: &[u8]) -> Result<()> {
        let gpt_at = |off: usize| head.get(off..off + 8) == Some(&b"EFI PART"[..]);
        let image_sector = match (gpt_at(512), gpt_at(4096)) {
            (true, false) => 512,
            (false, true) => 4096,
            _ => return Ok(()), // no GPT, or headers for both sizes (hybrid images)
        };
        if image_sector != self.sector {
            return Err(Error::SectorSizeMismatch {
                device: self.path.display().to_string(),
                image_sector,
                device_sector: self.sector,
            });
        }
        Ok(())
    }

    fn complete(&mut self, image_size: u64) -> io::Result<()> {
        if self.relocate_gpt && image_size < self.size {
            self.gpt_relocated = crate::gpt::relocate_backup(&self.aux, self.size, self.sector)?;
            if self.gpt_relocated {
                info!(device = %self.path.display(), "backup GPT moved to the disk's end");
                self.aux.sync_all()?;
            }
        }
        if let Some(drive) = &self.config_drive {
            let p = crate::configdrive::add_partition(&self.aux, self.size, self.sector, drive)?;
            info!(device = %self.path.display(), partition = p.number, offset = p.offset, "config drive written");
            self.config_partition = Some(p);
            self.aux.sync_all()?;
        }
        self.partitions_reread = false;
        if self.reread {
            self.partitions_reread = self.reread_partition_table()?;
            if self.partitions_reread {
                info!(device = %self.path.display(), "partition table re-read");
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A made-up `/sys` and `/proc` for the disk 7:0 (`loop0`) with a partition 259:0.
    fn tree(mounts: &str, swaps: &str, holder: Option<&str>) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        let disk = r.join("sys/devices/virtual/block/loop0");
        std::fs::create_dir_all(disk.join("holders")).unwrap();
        std::fs::create_dir_all(disk.join("loop0p1/holders")).unwrap();
        std::fs::write(disk.join("loop0p1/partition"), "1\n").unwrap();
        std::fs::write(disk.join("loop0p1/dev"), "259:0\n").unwrap();
        std::fs::create_dir_all(r.join("sys/dev/block")).unwrap();
        symlink(&disk, r.join("sys/dev/block/7:0")).unwrap();
        if let Some(h) = holder {
            std::fs::create_dir(disk.join("loop0p1/holders").join(h)).unwrap();
            std::fs::create_dir_all(r.join(format!("sys/block/{h}/dm"))).unwrap();
            std::fs::write(r.join(format!("sys/block/{h}/dm/name")), "vg-root\n").unwrap();
        }
        std::fs::create_dir_all(r.join("proc/self")).unwrap();
        std::fs::write(r.join("proc/self/mountinfo"), mounts).unwrap();
        std::fs::write(
            r.join("proc/swaps"),
            format!("Filename\tType\tSize\tUsed\tPriority\n{swaps}"),
        )
        .unwrap();
        t
    }

    const ROOTFS: &str = "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n";

    #[test]
    fn free_disk() {
        let t = tree(ROOTFS, "", None);
        assert_eq!(in_use(t.path(), rustix::fs::makedev(7, 0)).unwrap(), None);
    }

    #[test]
    fn mounted_partition_with_a_space_in_its_mount_point() {
        let m = format!("{ROOTFS}40 22 259:0 / /mnt/my\\040disk rw - vfat /dev/loop0p1 rw\n");
        let t = tree(&m, "", None);
        let why = in_use(t.path(), rustix::fs::makedev(7, 0))
            .unwrap()
            .unwrap();
        assert_eq!(why, "loop0p1 is mounted on /mnt/my disk");
    }

    #[test]
    fn holders_are_named() {
        let t = tree(ROOTFS, "", Some("dm-3"));
        let why = in_use(t.path(), rustix::fs::makedev(7, 0))
            .unwrap()
            .unwrap();
        assert!(
            why.starts_with("loop0p1 is held by dm-3 (vg-root)"),
            "{why}"
        );
    }

    #[test]
    fn unescape_octal() {
        assert_eq!(unescape("a\\040b\\011c"), "a b\tc");
        assert_eq!(unescape("\\04"), "\\04");
        // out of range for a byte: kept lossy, never a panic
        assert_eq!(unescape("\\777x"), "\u{fffd}x");
    }
}
