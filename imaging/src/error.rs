//! The crate's one error type.

use std::io;

use crate::checksum::Algorithm;
use crate::format::Format;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in the pipeline an I/O error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Opening the source.
    OpenSource,
    /// Reading the source (the bytes as downloaded).
    ReadSource,
    /// Seeking in the source.
    SeekSource,
    /// Decompressing a gzip, zstd, xz or bzip2 stream.
    Decompress,
    /// Opening or preparing the target.
    OpenTarget,
    /// Writing the target.
    WriteTarget,
    /// Flushing the target to stable storage (fsync).
    SyncTarget,
    /// Reading the target back to verify it.
    Verify,
    /// Fixing up the target after the write (moving the backup GPT, the config drive).
    Finalize,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::OpenSource => "opening the source",
            Stage::ReadSource => "reading the source",
            Stage::SeekSource => "seeking in the source",
            Stage::Decompress => "decompressing",
            Stage::OpenTarget => "preparing the target",
            Stage::WriteTarget => "writing the target",
            Stage::SyncTarget => "flushing the target (fsync)",
            Stage::Verify => "reading the target back",
            Stage::Finalize => "finalizing the target (GPT, config drive)",
        })
    }
}

/// What is wrong with a qcow2 image. Carried by [`Error::Qcow2`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Qcow2Error {
    /// The first four bytes are not `QFI\xfb`.
    #[error("not a qcow2 image (bad magic)")]
    BadMagic,
    /// The header is shorter than its version requires.
    #[error("header truncated: {len} bytes, need {need}")]
    TruncatedHeader {
        /// Bytes available.
        len: usize,
        /// Bytes the header needs.
        need: usize,
    },
    /// Only versions 2 and 3 exist.
    #[error("unsupported qcow2 version {0} (2 and 3 are supported)")]
    UnsupportedVersion(u32),
    /// `cluster_bits` outside 9..=21 (qemu's own bounds).
    #[error("cluster_bits {0} out of range 9..=21")]
    ClusterBits(u32),
    /// The image names a backing file; it is refused (see CVE-2024-44082).
    #[error(
        "image has a backing file ({name:?}); images with backing files are refused: flatten it first (qemu-img convert -O qcow2)"
    )]
    BackingFile {
        /// The backing file name, as far as it could be read (lossy UTF-8).
        name: String,
    },
    /// The image's data lives in an external data file; refused.
    #[error("image uses an external data file; refused")]
    ExternalDataFile,
    /// Encrypted images are refused.
    #[error("image is encrypted (crypt_method {0}); refused")]
    Encrypted(u32),
    /// The header marks the image as corrupt.
    #[error("image is marked corrupt; repair it with qemu-img check -r all")]
    MarkedCorrupt,
    /// Extended L2 entries (subclusters) are not supported yet.
    #[error("extended L2 entries (subclusters) are not supported")]
    ExtendedL2,
    /// Incompatible feature bits this reader does not know.
    #[error("unknown incompatible feature bits {0:#x}")]
    UnknownIncompatibleFeatures(u64),
    /// A compression type other than zlib (0) and zstd (1), or one inconsistent with the
    /// compression-type feature bit.
    #[error("unsupported or inconsistent compression type {0}")]
    CompressionType(u8),
    /// A header field has a value that cannot be right.
    #[error("invalid header field {field}: {value}")]
    InvalidField {
        /// Header field name, as in the qcow2 specification.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// A header extension runs past the header cluster.
    #[error("header extension {kind:#x} at {offset} runs past the header cluster")]
    BadExtension {
        /// Extension type.
        kind: u32,
        /// Byte offset of the extension in the file.
        offset: u64,
    },
    /// The L1 table is larger than the configured limit.
    #[error("L1 table of {entries} entries exceeds the limit of {max}")]
    L1TooLarge {
        /// Entries in the header.
        entries: u64,
        /// The limit.
        max: u64,
    },
    /// The L1 table is too small for the virtual size.
    #[error("L1 table of {entries} entries cannot cover the virtual size (needs {needed})")]
    L1TooSmall {
        /// Entries in the header.
        entries: u64,
        /// Entries needed.
        needed: u64,
    },
    /// A structure or cluster lies (partly) outside the file.
    #[error("{what} at offset {offset} (+{len}) lies outside the file ({file_len} bytes)")]
    OutOfFile {
        /// What was referenced.
        what: &'static str,
        /// Its byte offset in the file.
        offset: u64,
        /// Its length.
        len: u64,
        /// The file's length.
        file_len: u64,
    },
    /// An offset that must be cluster-aligned is not.
    #[error("{what} offset {offset:#x} is not cluster-aligned")]
    Misaligned {
        /// What was referenced.
        what: &'static str,
        /// The offset.
        offset: u64,
    },
    /// Reserved bits are set in a table entry.
    #[error("{what} entry {index} has reserved bits set ({entry:#018x})")]
    ReservedBits {
        /// "L1" or "L2".
        what: &'static str,
        /// Index of the entry (L1 index, or guest cluster index for L2).
        index: u64,
        /// The raw entry.
        entry: u64,
    },
    /// Two L1 entries point at the same L2 table (a loop or a shared table).
    #[error("L2 table at {offset:#x} is referenced more than once")]
    SharedL2Table {
        /// The table's offset.
        offset: u64,
    },
    /// The cluster map has more entries than the configured limit.
    #[error("cluster map needs more than {max} entries; raise Limits::max_map_entries")]
    MapTooLarge {
        /// The limit.
        max: u64,
    },
    /// A compressed cluster did not decode to exactly one cluster.
    #[error("compressed cluster at guest offset {guest_offset} is corrupt: {reason}")]
    BadCompressedCluster {
        /// Guest offset of the cluster.
        guest_offset: u64,
        /// What went wrong.
        reason: String,
    },
    /// The image ended in the middle of a cluster.
    #[error("image ends inside the cluster at file offset {offset}")]
    TruncatedCluster {
        /// File offset of the cluster.
        offset: u64,
    },
}

/// Every error of this crate. Each variant says where it failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error at a stage of the pipeline, at a byte offset when one is known (a source
    /// offset for source stages, a target offset for target stages).
    #[error("{stage}{}: {error}", at_offset(*.offset))]
    Io {
        /// The stage.
        stage: Stage,
        /// Byte offset, if known.
        offset: Option<u64>,
        /// The underlying error.
        error: io::Error,
    },
    /// A compressed stream is corrupt or truncated.
    #[error("{format} stream is corrupt or truncated after {decoded} decoded bytes: {error}")]
    Decompress {
        /// The stream's format.
        format: Format,
        /// Bytes decoded before the error.
        decoded: u64,
        /// The decoder's error.
        error: io::Error,
    },
    /// A qcow2 image is invalid, hostile or uses something refused.
    #[error("qcow2: {0}")]
    Qcow2(Qcow2Error),
    /// A bmap file is invalid, or the image does not match it.
    #[error("bmap: {0}")]
    Bmap(crate::bmap::BmapError),
    /// The format is known but cannot be handled this way.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A checksum specification could not be parsed.
    #[error("invalid checksum {spec:?}: {reason}")]
    InvalidChecksum {
        /// The specification as given.
        spec: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A checksum list (a `SHA256SUMS`-style file) has no line for the image.
    #[error("checksum list {list} has no checksum for {name:?}")]
    ChecksumNotListed {
        /// Where the list came from (a URL, or `list` when parsed from text).
        list: String,
        /// The image name looked up (its base name is matched).
        name: String,
    },
    /// An HTTP source failed while opening (errors while reading are [`Error::Io`] at
    /// [`Stage::ReadSource`], carrying the same [`HttpError`](crate::HttpError)).
    #[cfg(feature = "http")]
    #[error("HTTP: {0}")]
    Http(crate::http::HttpError),
    /// The image's checksum does not match the expected one. The target holds the unverified
    /// image and must not be booted.
    #[error("{algorithm} checksum mismatch: expected {expected}, got {actual}")]
    ChecksumMismatch {
        /// The algorithm.
        algorithm: Algorithm,
        /// The expected digest (lowercase hex).
        expected: String,
        /// The digest of the bytes read (lowercase hex).
        actual: String,
    },
    /// The image does not fit on the target. Nothing was written when `written` is false.
    #[error(
        "image of {image_size} bytes does not fit the target of {target_size} bytes{}",
        if *.written { " (refused mid-stream: the target holds a partial image)" } else { " (nothing written)" }
    )]
    TooLarge {
        /// The image's size (or the offset it reached, for streams of unknown size).
        image_size: u64,
        /// The target's capacity.
        target_size: u64,
        /// Whether part of the image had been written before this was detected.
        written: bool,
    },
    /// The read-back verification found different bytes.
    #[error("verification failed: target differs from the image at offset {offset} (+{len})")]
    VerifyMismatch {
        /// Target offset of the region that differs.
        offset: u64,
        /// Its length.
        len: u64,
    },
    /// The block device is in use: mounted, swap, or held by device-mapper/LVM/RAID
    /// (nothing was written; [`BlockTargetBuilder::force`](crate::BlockTargetBuilder::force)
    /// overrides).
    #[error("{device} is in use: {reason} (nothing written)")]
    DeviceInUse {
        /// The device.
        device: String,
        /// What uses it.
        reason: String,
    },
    /// The image's GPT is made for another logical sector size than the device's: the disk
    /// would not boot. Refused before the image's first bytes were written.
    #[error(
        "{device} has {device_sector}-byte logical sectors but the image's GPT is for {image_sector}-byte sectors: it would not boot; use an image built for {device_sector}-byte sectors"
    )]
    SectorSizeMismatch {
        /// The device.
        device: String,
        /// The sector size the image's GPT assumes (512 or 4096).
        image_sector: u64,
        /// The device's logical sector size.
        device_sector: u64,
    },
    /// The options are inconsistent.
    #[error("invalid options: {0}")]
    InvalidOptions(&'static str),
    /// The operation was cancelled; the target holds a partial image.
    #[error("cancelled; the target holds a partial image")]
    Cancelled,
    /// A pipeline thread stopped without reporting why (it panicked).
    #[error("internal error: the {0} thread stopped unexpectedly")]
    Internal(&'static str),
}

fn at_offset(offset: Option<u64>) -> String {
    match offset {
        Some(o) => format!(" at byte {o}"),
        None => String::new(),
    }
}

// Messages are complete on their own (they include the underlying error), so no variant
// exposes `source()`: reports that print the chain (anyhow's `{:#}`) do not repeat it.
impl From<Qcow2Error> for Error {
    fn from(e: Qcow2Error) -> Self {
        Error::Qcow2(e)
    }
}

impl From<crate::bmap::BmapError> for Error {
    fn from(e: crate::bmap::BmapError) -> Self {
        Error::Bmap(e)
    }
}

impl Error {
    pub(crate) fn io(stage: Stage, offset: Option<u64>, error: io::Error) -> Self {
        Error::Io {
            stage,
            offset,
            error,
        }
    }
}
