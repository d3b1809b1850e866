//! # imaging
//!
//! Streams an OS image onto a disk at the speed of the disk, verified, without staging it: raw,
//! qcow2 (v2 and v3, zlib- and zstd-compressed clusters) and gzip/zstd/xz/bzip2 streams of raw
//! images, from a local file or any [`Source`], to a regular file or any [`Target`].
//!
//! ```
//! use imaging::{FileSource, FileTarget, WriteOptions, write_image};
//! # let dir = tempfile::tempdir()?;
//! # let src_path = dir.path().join("disk.raw");
//! # let mut img = vec![0u8; 8 << 20];
//! # img[5 << 20] = 1;
//! # std::fs::write(&src_path, &img)?;
//! # let sha = { let mut h = imaging::Hasher::new(imaging::Algorithm::Sha256); h.update(&img); h.finish().hex() };
//! let mut source = FileSource::open(&src_path)?;
//! let mut target = FileTarget::create(dir.path().join("out.img"))?;
//! let options = WriteOptions::builder()
//!     .checksum(format!("sha256:{sha}").parse()?)
//!     .verify(true)
//!     .build()?;
//! let summary = write_image(&mut source, &mut target, &options)?;
//! assert_eq!(summary.image_size, 8 << 20);
//! assert_eq!(summary.bytes_written, 4096); // the rest stays a hole
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## How it works
//!
//! * **Format** ([`Format::detect`]): magic bytes, overridable. A compressed stream's content is
//!   detected again after decompression (raw; a qcow2 inside a compressed stream is refused).
//! * **Pipeline** ([`write_image`]): an input thread reads the source into pooled 4 MiB
//!   page-aligned buffers and hands each to a hasher thread (checksum over the bytes as
//!   downloaded) and to the decoder; the decoder's output goes to a writer thread that skips
//!   4 KiB zero blocks on targets that read back zeros and writes the rest with positioned
//!   writes, while a flusher thread starts the write-back of every 32 MiB written
//!   (`posix_fadvise(DONTNEED)`), so writing to the medium overlaps the rest and the final
//!   fsync has little left. A local sparse raw image has only its data extents read
//!   (`SEEK_DATA`); with a checksum, its holes are hashed as zeros from a static buffer. Channels
//!   are bounded and buffers come from fixed pools, so memory stays bounded (about
//!   `(2 × buffers + 3) × buffer_size`, 76 MiB by default, plus the qcow2 map; the benchmark's
//!   whole process peaks under 100 MB on a 4 GiB image).
//! * **qcow2** ([`qcow2`]): header, L1 and L2 tables are read and validated first, then the file
//!   is streamed once in file order; uncompressed clusters go to the writer as parts of the
//!   input buffers (no copy), compressed ones are inflated into exactly one cluster. See the
//!   module docs for what is refused.
//! * **bmap** ([`bmap`]): with a `bmaptool create` block map, only the mapped ranges are
//!   read (local raw) and written, each checked against its sha256 as it streams past, as
//!   `bmaptool copy` does (works for compressed streams of the raw image too).
//! * **Success** means: every byte decoded, the checksum (if given) matched, the target was
//!   flushed with fsync, and (if asked) read back and compared.
//!
//! The core is plain Rust over the [`Source`] and [`Target`] traits (no async runtime).
//! Sources: [`FileSource`], [`HttpSource`] (feature `http`, default: resumes with Range
//! requests, checks ETag/Last-Modified/length and the [`ContentRange`] of every resumed
//! response, reads qcow2 tables by ranged reads) and any reader. Targets: [`FileTarget`],
//! [`BlockTarget`] (refused when mounted, swap or held by device-mapper/RAID, then O_EXCL;
//! [`Zeroing`]; optional O_DIRECT; a GPT image for another logical sector size refused; backup
//! GPT moved to the disk's end; optional [`ConfigDrive`] partition; partition table re-read)
//! and [`MemoryTarget`].
//!
//! ## Speed
//!
//! `benches/src/bin/imaging_write.rs` (run by `scripts/bench.sh`) times it against
//! `qemu-img convert`, `dd`, `cat`, `bmaptool copy` and `zstd -d | dd` on a 4 GiB image with a
//! quarter of its blocks data; ours always verifies a sha256. The cost floor of a checksum is
//! SHA-256 itself (about 1.4 GB/s on one core with SHA-NI, picked at run time by `sha2`): a
//! whole-image sha256 of a sparse raw image hashes its holes too, and a qcow2's sha256 covers
//! the whole file, so those rows are bound by one core hashing.
//!
//! ## Not yet
//!
//! Writing the first MiB last (so that a half-written disk does not boot); `BLKRRPART`
//! through an ioctl of our own (see [`BlockTarget`]'s docs: `blockdev --rereadpt` issues it,
//! as the safe wrappers lack it).
//!
//! ## Dependencies and why
//!
//! * `flate2` with the `zlib-rs` backend: gzip streams and zlib (raw deflate) qcow2 clusters;
//!   zlib-rs is pure Rust and 3.6× faster than system zlib here. Its CRC-32 also serves the
//!   read-back verification.
//! * `zstd` (libzstd): zstd streams and zstd qcow2 clusters; about 3× faster than pure-Rust
//!   `ruzstd`.
//! * `liblzma` with `parallel` (bundled liblzma, built statically): xz streams, decoded on
//!   several threads when the file has several blocks (`xz -T`).
//! * `bzip2` (pure-Rust libbz2-rs backend): bzip2 streams.
//! * `sha2`, `md-5` (RustCrypto), `hex`: checksums (SHA-NI is picked at run time); MD5 only on
//!   request, for legacy images.
//! * `rustix` (safe syscall wrappers): `SEEK_DATA`/`SEEK_HOLE` so that the holes of a sparse
//!   local raw image are not read, `posix_fadvise` (sequential read-ahead on sources; early
//!   write-back of the target; dropping its cached pages before a read-back), `fallocate`,
//!   `BLKSSZGET` and device numbers for the in-use checks.
//! * `quick-xml`: the bmap files' XML, read as a stream of events (no DOM, bounded input).
//! * At run time, util-linux's `blockdev --rereadpt` re-reads a block device's partition table
//!   after a write (no safe `BLKRRPART` wrapper exists; this crate forbids `unsafe`).
//! * `reqwest` (rustls) on a private current-thread `tokio` runtime, and `bytes`: the HTTP
//!   source (feature `http`).
//! * `fatfs`: the config drive's VFAT file system, built in memory in pure Rust (see
//!   [`configdrive`] for why VFAT rather than ISO9660).
//! * `thiserror`: the one [`Error`] type; `tracing`: spans per run and per pipeline thread.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod blockdev;
pub mod bmap;
mod buffer;
mod checksum;
pub mod configdrive;
mod error;
mod format;
pub mod gpt;
#[cfg(feature = "http")]
mod http;
mod pipeline;
pub mod qcow2;
mod source;
mod target;

pub use blockdev::{BlockTarget, BlockTargetBuilder, Zeroing};
pub use bmap::{Bmap, BmapError, BmapRange};
pub use checksum::{Algorithm, Checksum, Hasher};
pub use configdrive::ConfigDrive;
pub use error::{Error, Qcow2Error, Result, Stage};
pub use format::{DETECT_LEN, Format};
#[cfg(feature = "http")]
pub use http::{ContentRange, HttpError, HttpSource, HttpSourceBuilder, checksum_from_url};
pub use pipeline::{
    CancelToken, Phase, Progress, ProgressFn, Summary, WriteOptions, WriteOptionsBuilder,
    ZERO_BLOCK, write_image,
};
pub use source::{FileSource, SeekableSource, Source, StreamSource};
pub use target::{FileTarget, MemoryTarget, Target};
