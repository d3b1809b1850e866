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
//! * **After the write** (fsync, then the optional read-back): the backup GPT is moved to the
//!   disk's end ([`gpt::relocate_backup`](crate::gpt::relocate_backup)) and the result flushed.
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
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

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
}

impl BlockTargetBuilder {
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

    /// Opens the device exclusively (`O_EXCL`: refused while mounted or held by another
    /// user such as LVM or RAID).
    pub fn open(self) -> Result<BlockTarget> {
        let err = |e| Error::io(Stage::OpenTarget, None, e);
        let meta = std::fs::metadata(&self.path).map_err(err)?;
        if !meta.file_type().is_block_device() {
            return Err(Error::Unsupported(format!(
                "{} is not a block device (use FileTarget for files)",
                self.path.display()
            )));
        }
        let mut flags = OFlags::EXCL;
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
            gpt_relocated: false,
            zeroed_by_discard: false,
            config_drive: self.config_drive,
            config_partition: None,
        })
    }
}

/// A block device as the target (see the module docs).
#[derive(Debug)]
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
    gpt_relocated: bool,
    zeroed_by_discard: bool,
    config_drive: Option<Vec<u8>>,
    config_partition: Option<crate::configdrive::Placement>,
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
        }
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
        if self.direct && !self.aligned(offset, data) {
            return self.write_bounced(offset, data);
        }
        self.file.write_all_at(data, offset)
    }

    fn finish(&mut self, _image_size: u64) -> io::Result<()> {
        self.file.sync_all()?;
        self.aux.sync_all()
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.aux.read_exact_at(buf, offset)
    }

    fn drop_cache(&mut self) {
        let _ = rustix::fs::fadvise(&self.aux, 0, None, rustix::fs::Advice::DontNeed);
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
        Ok(())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
