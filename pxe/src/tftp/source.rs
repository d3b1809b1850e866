//! Where served files come from: a directory root ([`DirSource`]), a map in memory
//! ([`MemorySource`]), or any [`FileSource`] that makes content per request (for example a
//! node's iPXE script), including a closure ([`FnSource`]).
//!
//! ```
//! use pxe::tftp::source::{FileSource, MemorySource, OpenRequest};
//! let src = MemorySource::new().with_file("boot.ipxe", b"#!ipxe\nchain http://10.0.0.1/s\n".to_vec());
//! let req = OpenRequest::new("/boot.ipxe", "127.0.0.1:5000".parse().unwrap());
//! let content = src.open(&req).unwrap();
//! assert_eq!(content.size(), Some(31));
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::packet::ErrorCode;

/// Random-access content of one transfer.
pub trait Content: Send {
    /// The size in bytes, when known before reading (it is offered as `tsize`).
    fn size(&self) -> Option<u64>;
    /// Read at `offset` into `buf`, returning how many bytes were read; fewer than `buf.len()`
    /// only at the end of the content.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

/// Content held in memory (cheap to share).
#[derive(Debug, Clone)]
pub struct MemoryContent(Arc<[u8]>);

impl MemoryContent {
    /// Wrap bytes.
    pub fn new(data: impl Into<Arc<[u8]>>) -> Self {
        MemoryContent(data.into())
    }
}

impl Content for MemoryContent {
    fn size(&self) -> Option<u64> {
        Some(self.0.len() as u64)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.0.len());
        let src = self.0.get(start..).unwrap_or(&[]);
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        Ok(n)
    }
}

/// An open file read with positioned reads (`pread`), so retransmissions need no seek.
#[derive(Debug)]
pub struct FileContent {
    file: File,
    size: u64,
}

impl FileContent {
    /// Wrap an open file (its size is read once).
    pub fn new(file: File) -> io::Result<Self> {
        let size = file.metadata()?.len();
        Ok(FileContent { file, size })
    }
}

impl Content for FileContent {
    fn size(&self) -> Option<u64> {
        Some(self.size)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            #[cfg(unix)]
            let n = {
                use std::os::unix::fs::FileExt;
                self.file.read_at(&mut buf[done..], offset + done as u64)
            };
            #[cfg(not(unix))]
            let n = {
                use std::io::{Read, Seek, SeekFrom};
                self.file
                    .seek(SeekFrom::Start(offset + done as u64))
                    .and_then(|_| self.file.read(&mut buf[done..]))
            };
            match n {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

/// What a client asked to read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenRequest {
    /// The file name exactly as the client sent it.
    pub filename: String,
    /// The client's address and port.
    pub client: SocketAddr,
}

impl OpenRequest {
    /// A request for `filename` from `client`.
    pub fn new(filename: impl Into<String>, client: SocketAddr) -> Self {
        OpenRequest {
            filename: filename.into(),
            client,
        }
    }
}

/// Why a file cannot be served; becomes a TFTP ERROR whose message never names a server path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// No such file (ERROR 1).
    #[error("file not found")]
    NotFound,
    /// Outside the root, not a regular file, or refused by policy (ERROR 2).
    #[error("access violation")]
    AccessDenied,
    /// Anything else (ERROR 0), with a message safe to send to the client.
    #[error("{0}")]
    Other(String),
}

impl OpenError {
    /// The TFTP error code and message to send.
    pub fn to_tftp(&self) -> (ErrorCode, String) {
        match self {
            OpenError::NotFound => (ErrorCode::FileNotFound, "file not found".into()),
            OpenError::AccessDenied => (ErrorCode::AccessViolation, "access violation".into()),
            OpenError::Other(m) => (ErrorCode::NotDefined, m.clone()),
        }
    }
}

/// A source of files: the handler trait for content made per request.
pub trait FileSource: Send + Sync {
    /// Open what `req` asks for.
    fn open(&self, req: &OpenRequest) -> Result<Box<dyn Content>, OpenError>;
}

impl<T: FileSource + ?Sized> FileSource for Arc<T> {
    fn open(&self, req: &OpenRequest) -> Result<Box<dyn Content>, OpenError> {
        (**self).open(req)
    }
}

/// Files under a directory. Requests are relative to the root whether or not they start with
/// `/`; `..` components, absolute escapes and symbolic links that lead outside the root are
/// refused with "access violation"; no error message names a server path.
#[derive(Debug, Clone)]
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    /// Serve the directory `root` (canonicalized now, so later symlink checks are exact).
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        let root = root.as_ref().canonicalize()?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "TFTP root is not a directory",
            ));
        }
        Ok(DirSource { root })
    }

    /// The relative path a request names, or `None` when it tries to leave the root.
    pub fn sanitize(filename: &str) -> Option<PathBuf> {
        // Windows-style clients send backslashes; treat them as separators.
        let name = filename.replace('\\', "/");
        let mut out = PathBuf::new();
        for c in Path::new(&name).components() {
            match c {
                Component::Normal(p) => out.push(p),
                Component::RootDir | Component::CurDir => {}
                Component::ParentDir | Component::Prefix(_) => return None,
            }
        }
        if out.as_os_str().is_empty() {
            return None;
        }
        Some(out)
    }
}

fn map_io(e: &io::Error) -> OpenError {
    match e.kind() {
        io::ErrorKind::NotFound => OpenError::NotFound,
        io::ErrorKind::PermissionDenied => OpenError::AccessDenied,
        _ => OpenError::Other("cannot read file".into()),
    }
}

impl FileSource for DirSource {
    fn open(&self, req: &OpenRequest) -> Result<Box<dyn Content>, OpenError> {
        let rel = DirSource::sanitize(&req.filename).ok_or(OpenError::AccessDenied)?;
        let full = self.root.join(rel);
        // Resolve symbolic links and check the result is still under the root.
        let real = full.canonicalize().map_err(|e| map_io(&e))?;
        if !real.starts_with(&self.root) {
            return Err(OpenError::AccessDenied);
        }
        let file = File::open(&real).map_err(|e| map_io(&e))?;
        let meta = file.metadata().map_err(|e| map_io(&e))?;
        if !meta.is_file() {
            return Err(OpenError::AccessDenied);
        }
        Ok(Box::new(FileContent {
            file,
            size: meta.len(),
        }))
    }
}

/// Files held in memory by name (a leading `/` in requests is ignored).
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    files: HashMap<String, MemoryContent>,
}

impl MemorySource {
    /// An empty map.
    pub fn new() -> Self {
        MemorySource::default()
    }

    /// Add (or replace) a file.
    pub fn insert(&mut self, name: impl Into<String>, data: impl Into<Arc<[u8]>>) {
        let name: String = name.into();
        self.files.insert(
            name.trim_start_matches('/').to_string(),
            MemoryContent::new(data),
        );
    }

    /// Builder form of [`MemorySource::insert`].
    pub fn with_file(mut self, name: impl Into<String>, data: impl Into<Arc<[u8]>>) -> Self {
        self.insert(name, data);
        self
    }
}

impl FileSource for MemorySource {
    fn open(&self, req: &OpenRequest) -> Result<Box<dyn Content>, OpenError> {
        self.files
            .get(req.filename.trim_start_matches('/'))
            .map(|c| Box::new(c.clone()) as Box<dyn Content>)
            .ok_or(OpenError::NotFound)
    }
}

/// A closure as a [`FileSource`]: content made per request.
///
/// ```
/// use pxe::tftp::source::{FileSource, FnSource, MemoryContent, OpenError, OpenRequest};
/// let src = FnSource::new(|req: &OpenRequest| {
///     if req.filename.ends_with(".ipxe") {
///         Ok(Box::new(MemoryContent::new(format!("#!ipxe\necho {}\n", req.client.ip()).into_bytes()))
///             as Box<dyn pxe::tftp::source::Content>)
///     } else {
///         Err(OpenError::NotFound)
///     }
/// });
/// let c = src.open(&OpenRequest::new("a.ipxe", "10.0.0.9:1000".parse().unwrap())).unwrap();
/// assert_eq!(c.size(), Some(21));
/// ```
pub struct FnSource<F>(F);

impl<F> FnSource<F>
where
    F: Fn(&OpenRequest) -> Result<Box<dyn Content>, OpenError> + Send + Sync,
{
    /// Wrap a closure.
    pub fn new(f: F) -> Self {
        FnSource(f)
    }
}

impl<F> std::fmt::Debug for FnSource<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnSource")
    }
}

impl<F> FileSource for FnSource<F>
where
    F: Fn(&OpenRequest) -> Result<Box<dyn Content>, OpenError> + Send + Sync,
{
    fn open(&self, req: &OpenRequest) -> Result<Box<dyn Content>, OpenError> {
        (self.0)(req)
    }
}

/// Netascii (RFC 764) encoding of `data`: LF becomes CR LF, CR becomes CR NUL.
pub fn netascii_encode(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 16);
    for &b in data {
        match b {
            b'\n' => out.extend_from_slice(b"\r\n"),
            b'\r' => out.extend_from_slice(b"\r\0"),
            b => out.push(b),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str) -> OpenRequest {
        OpenRequest::new(name, "127.0.0.1:1".parse().unwrap())
    }

    #[test]
    fn sanitize_refuses_escapes() {
        assert_eq!(DirSource::sanitize("/a/b"), Some(PathBuf::from("a/b")));
        assert_eq!(DirSource::sanitize("a/./b"), Some(PathBuf::from("a/b")));
        for bad in ["../x", "a/../../x", "..\\..\\etc\\passwd", "/", "", "a/.."] {
            assert_eq!(DirSource::sanitize(bad), None, "{bad}");
        }
    }

    #[test]
    fn dir_source_no_escape_no_leak() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(outer.path().join("secret"), b"secret").unwrap();
        std::fs::write(root.join("ok.bin"), b"hello").unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outer.path().join("secret"), root.join("escape")).unwrap();
            std::os::unix::fs::symlink(root.join("ok.bin"), root.join("inside")).unwrap();
        }
        let src = DirSource::new(&root).unwrap();
        let mut c = src.open(&req("/ok.bin")).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(c.read_at(1, &mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"ello");
        assert_eq!(
            src.open(&req("../secret")).err(),
            Some(OpenError::AccessDenied)
        );
        assert_eq!(src.open(&req("sub")).err(), Some(OpenError::AccessDenied));
        assert_eq!(src.open(&req("nope")).err(), Some(OpenError::NotFound));
        #[cfg(unix)]
        {
            assert_eq!(
                src.open(&req("escape")).err(),
                Some(OpenError::AccessDenied)
            );
            assert!(src.open(&req("inside")).is_ok());
        }
        for e in [OpenError::NotFound, OpenError::AccessDenied] {
            let (_, msg) = e.to_tftp();
            assert!(!msg.contains('/'));
        }
    }

    #[test]
    fn netascii() {
        assert_eq!(netascii_encode(b"a\nb\rc"), b"a\r\nb\r\0c");
    }
}
