//! Where image bytes come from.
//!
//! A [`Source`] is a byte stream read front to back, optionally able to jump (`seek_to`) and to
//! tell its length. The pipeline needs nothing more: raw and compressed images are read
//! strictly in order; qcow2 reads its header, L1 and L2 tables with [`Source::read_at`], then
//! the clusters in file order from offset 0, so the bytes hashed are exactly the file as
//! downloaded.
//!
//! A resuming HTTP source fits the same trait: `read` resumes a dropped transfer with a
//! `Range: bytes=N-` request (checking the ETag / Last-Modified / length), and `seek_to` /
//! `read_at` become ranged requests.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result, Stage};

/// A source of image bytes.
///
/// ```
/// use imaging::{SeekableSource, Source};
/// let mut s = SeekableSource::new(std::io::Cursor::new(b"hello".to_vec()))?;
/// assert_eq!(s.size(), Some(5));
/// let mut buf = [0u8; 3];
/// s.read_at(2, &mut buf)?;
/// assert_eq!(&buf, b"llo");
/// # Ok::<(), imaging::Error>(())
/// ```
pub trait Source: Send {
    /// Reads the next bytes at the current position; `Ok(0)` is the end of the source.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// The source's total length, if known.
    fn size(&self) -> Option<u64>;

    /// Whether [`Source::seek_to`] works.
    fn is_seekable(&self) -> bool {
        false
    }

    /// Moves the read position to `offset` bytes from the start.
    fn seek_to(&mut self, offset: u64) -> io::Result<()> {
        let _ = offset;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this source cannot seek",
        ))
    }

    /// A short description for logs and errors (a path or a URL).
    fn describe(&self) -> String;

    /// The next range `[start, end)` at or after `offset` that may hold non-zero bytes, or
    /// `None` when only zeros (holes) remain. Used to skip the holes of a sparse local raw
    /// image when no checksum needs every byte. The default knows no holes.
    fn next_data(&mut self, offset: u64) -> io::Result<Option<(u64, u64)>> {
        Ok(Some((offset, u64::MAX)))
    }

    /// The shortest gap worth a [`Source::seek_to`] when only some ranges are wanted (the data
    /// extents of a sparse image, the mapped ranges of a bmap): shorter gaps are read through.
    /// The default, 0, is for sources where seeking is free; an HTTP source pays a new request
    /// for every seek.
    fn min_skip(&self) -> u64 {
        0
    }

    /// Reads exactly `buf.len()` bytes at `offset` (leaves the position after them).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.seek_to(offset)
            .map_err(|e| Error::io(Stage::SeekSource, Some(offset), e))?;
        let mut done = 0;
        while done < buf.len() {
            match self.read(&mut buf[done..]) {
                Ok(0) => {
                    return Err(Error::io(
                        Stage::ReadSource,
                        Some(offset + done as u64),
                        io::Error::new(io::ErrorKind::UnexpectedEof, "source ended early"),
                    ));
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(Stage::ReadSource, Some(offset + done as u64), e)),
            }
        }
        Ok(())
    }
}

impl<S: Source + ?Sized> Source for &mut S {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read(buf)
    }
    fn size(&self) -> Option<u64> {
        (**self).size()
    }
    fn is_seekable(&self) -> bool {
        (**self).is_seekable()
    }
    fn seek_to(&mut self, offset: u64) -> io::Result<()> {
        (**self).seek_to(offset)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn next_data(&mut self, offset: u64) -> io::Result<Option<(u64, u64)>> {
        (**self).next_data(offset)
    }
    fn min_skip(&self) -> u64 {
        (**self).min_skip()
    }
}

impl<S: Source + ?Sized> Source for Box<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (**self).read(buf)
    }
    fn size(&self) -> Option<u64> {
        (**self).size()
    }
    fn is_seekable(&self) -> bool {
        (**self).is_seekable()
    }
    fn seek_to(&mut self, offset: u64) -> io::Result<()> {
        (**self).seek_to(offset)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn next_data(&mut self, offset: u64) -> io::Result<Option<(u64, u64)>> {
        (**self).next_data(offset)
    }
    fn min_skip(&self) -> u64 {
        (**self).min_skip()
    }
}

/// A local file (seekable, length known).
///
/// ```no_run
/// let src = imaging::FileSource::open("disk.qcow2")?;
/// # Ok::<(), imaging::Error>(())
/// ```
#[derive(Debug)]
pub struct FileSource {
    file: File,
    path: PathBuf,
    size: u64,
}

impl FileSource {
    /// Opens `path` for reading.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| Error::io(Stage::OpenSource, None, e))?;
        let size = file
            .metadata()
            .map_err(|e| Error::io(Stage::OpenSource, None, e))?
            .len();
        // Larger read-ahead; a hint only.
        let _ = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::Sequential);
        Ok(FileSource { file, path, size })
    }
}

impl Source for FileSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
    fn size(&self) -> Option<u64> {
        Some(self.size)
    }
    fn is_seekable(&self) -> bool {
        true
    }
    fn seek_to(&mut self, offset: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(offset)).map(|_| ())
    }
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    /// SEEK_DATA / SEEK_HOLE; on filesystems without them the whole file is data.
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
}

/// Any `Read + Seek` (an in-memory `Cursor`, an already opened file).
#[derive(Debug)]
pub struct SeekableSource<R> {
    inner: R,
    size: u64,
}

impl<R: Read + Seek + Send> SeekableSource<R> {
    /// Wraps `inner`, measuring its length and rewinding it to the start.
    pub fn new(mut inner: R) -> Result<Self> {
        let size = inner
            .seek(SeekFrom::End(0))
            .and_then(|n| inner.seek(SeekFrom::Start(0)).map(|_| n))
            .map_err(|e| Error::io(Stage::SeekSource, None, e))?;
        Ok(SeekableSource { inner, size })
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read + Seek + Send> Source for SeekableSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
    fn size(&self) -> Option<u64> {
        Some(self.size)
    }
    fn is_seekable(&self) -> bool {
        true
    }
    fn seek_to(&mut self, offset: u64) -> io::Result<()> {
        self.inner.seek(SeekFrom::Start(offset)).map(|_| ())
    }
    fn describe(&self) -> String {
        "in-memory or seekable reader".into()
    }
}

/// A forward-only stream (a pipe, stdin, a socket): raw and compressed raw images only.
///
/// ```
/// let s = imaging::StreamSource::new(std::io::empty(), None, "stdin");
/// assert!(!imaging::Source::is_seekable(&s));
/// ```
#[derive(Debug)]
pub struct StreamSource<R> {
    inner: R,
    size: Option<u64>,
    name: String,
}

impl<R: Read + Send> StreamSource<R> {
    /// Wraps `inner`; `size` is its length if known (e.g. a Content-Length).
    pub fn new(inner: R, size: Option<u64>, name: impl Into<String>) -> Self {
        StreamSource {
            inner,
            size,
            name: name.into(),
        }
    }
}

impl<R: Read + Send> Source for StreamSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
    fn size(&self) -> Option<u64> {
        self.size
    }
    fn describe(&self) -> String {
        self.name.clone()
    }
}
