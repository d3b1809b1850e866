//! Where the image goes.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, Stage};

/// A destination for the image: a regular file ([`FileTarget`]), a block device
/// ([`BlockTarget`](crate::BlockTarget)) or memory ([`MemoryTarget`]).
///
/// The pipeline calls [`prepare`](Target::prepare) once, then [`write_at`](Target::write_at)
/// from one writer thread (in any order, never past the image's end), then
/// [`finish`](Target::finish), which must make the data durable, and optionally
/// [`read_at`](Target::read_at) to verify.
pub trait Target: Send {
    /// The most bytes the target can hold, if bounded. An image larger than this is refused
    /// before anything is written.
    fn capacity(&self) -> Option<u64>;

    /// Prepares for an image of `image_size` bytes (`None`: not known yet). Returns whether
    /// regions that are never written read back as zeros, which lets the writer skip zero runs.
    /// `sparse == false` asks for every byte to be written.
    fn prepare(&mut self, image_size: Option<u64>, sparse: bool) -> io::Result<bool>;

    /// Writes all of `data` at `offset`.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;

    /// Sets the final size (the image's) and flushes everything to stable storage.
    fn finish(&mut self, image_size: u64) -> io::Result<()>;

    /// Reads exactly `buf.len()` bytes at `offset` (for verification).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()>;

    /// Asks the system to drop cached pages so that a verification reads the medium. The
    /// default does nothing.
    fn drop_cache(&mut self) {}

    /// The next range `[start, end)` at or after `offset` that may hold non-zero bytes, or
    /// `None` if only holes remain (a sparse file's holes read as zeros by definition, so the
    /// verification need not read them). The default knows no holes.
    fn next_data(&mut self, offset: u64) -> io::Result<Option<(u64, u64)>> {
        Ok(Some((offset, u64::MAX)))
    }

    /// Called once with the image's first bytes (from offset 0, as many as the first write
    /// holds) before they are written; an error stops the write. A block device refuses a
    /// GPT made for another logical sector size. The default accepts anything.
    fn check_image_head(&mut self, head: &[u8]) -> crate::Result<()> {
        let _ = head;
        Ok(())
    }

    /// A second handle on the target's file on which the pipeline starts the write-back of
    /// written ranges early (`posix_fadvise(DONTNEED)`, from a helper thread), so that the
    /// final fsync has little left to do and writing to the medium overlaps reading, hashing
    /// and decoding. `None` (the default): no early write-back.
    fn writeback_handle(&self) -> Option<File> {
        None
    }

    /// Last step, after the flush and the optional verification: target-specific fix-ups
    /// that change what was written (a block device moves the backup GPT to its end) and
    /// flushes them. The default does nothing.
    fn complete(&mut self, image_size: u64) -> io::Result<()> {
        let _ = image_size;
        Ok(())
    }

    /// A short description for logs and errors.
    fn describe(&self) -> String;
}

/// A regular file. It is truncated and resized to the image's size (so zero runs stay holes:
/// the file is sparse), written with positioned writes and fsynced before success.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let target = imaging::FileTarget::create(dir.path().join("disk.img"))?.with_capacity(1 << 30);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileTarget {
    file: File,
    path: PathBuf,
    capacity: Option<u64>,
}

impl FileTarget {
    /// Creates (or opens and later truncates) the file at `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io(Stage::OpenTarget, None, e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(Stage::OpenTarget, None, e))?;
        if !meta.file_type().is_file() {
            return Err(Error::Unsupported(format!(
                "{} is not a regular file (block devices come in a later version)",
                path.display()
            )));
        }
        Ok(FileTarget {
            file,
            path,
            capacity: None,
        })
    }

    /// Refuses images larger than `bytes`.
    pub fn with_capacity(mut self, bytes: u64) -> Self {
        self.capacity = Some(bytes);
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Target for FileTarget {
    fn capacity(&self) -> Option<u64> {
        self.capacity
    }

    fn prepare(&mut self, image_size: Option<u64>, _sparse: bool) -> io::Result<bool> {
        // A fresh, all-hole file reads as zeros everywhere: zero runs need not be written.
        self.file.set_len(0)?;
        if let Some(size) = image_size {
            self.file.set_len(size)?;
        }
        Ok(true)
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.write_all_at(data, offset)
    }

    fn writeback_handle(&self) -> Option<File> {
        self.file.try_clone().ok()
    }

    fn finish(&mut self, image_size: u64) -> io::Result<()> {
        if self.file.metadata()?.len() != image_size {
            self.file.set_len(image_size)?;
        }
        self.file.sync_all()
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    /// The data is flushed by then, so its cached pages are clean and can be dropped: the
    /// verification then reads the disk, not the page cache.
    fn drop_cache(&mut self) {
        let _ = rustix::fs::fadvise(&self.file, 0, None, rustix::fs::Advice::DontNeed);
    }

    fn next_data(&mut self, offset: u64) -> io::Result<Option<(u64, u64)>> {
        use rustix::fs::{SeekFrom as S, seek};
        let start = match seek(&self.file, S::Data(offset)) {
            Ok(s) => s,
            Err(rustix::io::Errno::NXIO) => return Ok(None),
            Err(_) => return Ok(Some((offset, u64::MAX))),
        };
        let end = seek(&self.file, S::Hole(start)).unwrap_or(u64::MAX);
        Ok(Some((start, end)))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// An in-memory target of bounded capacity (tests, examples, fuzzing).
///
/// ```
/// let t = imaging::MemoryTarget::new(1 << 20);
/// assert!(t.data().is_empty());
/// ```
#[derive(Debug, Default)]
pub struct MemoryTarget {
    data: Vec<u8>,
    capacity: u64,
}

impl MemoryTarget {
    /// An empty target of at most `capacity` bytes.
    pub fn new(capacity: u64) -> Self {
        MemoryTarget {
            data: Vec::new(),
            capacity,
        }
    }

    /// The bytes written.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The bytes written, by value.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    fn grow(&mut self, end: u64) -> io::Result<()> {
        if end > self.capacity {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "past the target's capacity",
            ));
        }
        let end = usize::try_from(end)
            .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "too large"))?;
        if self.data.len() < end {
            self.data
                .try_reserve_exact(end - self.data.len())
                .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "out of memory"))?;
            self.data.resize(end, 0);
        }
        Ok(())
    }
}

impl Target for MemoryTarget {
    fn capacity(&self) -> Option<u64> {
        Some(self.capacity)
    }

    fn prepare(&mut self, _image_size: Option<u64>, _sparse: bool) -> io::Result<bool> {
        self.data.clear();
        Ok(true)
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset overflow"))?;
        self.grow(end)?;
        self.data[offset as usize..end as usize].copy_from_slice(data);
        Ok(())
    }

    fn finish(&mut self, image_size: u64) -> io::Result<()> {
        self.grow(image_size)?;
        self.data.truncate(image_size as usize);
        Ok(())
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let src = usize::try_from(offset)
            .ok()
            .and_then(|start| self.data.get(start..start.checked_add(buf.len())?))
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past the end"))?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn describe(&self) -> String {
        "memory".into()
    }
}
