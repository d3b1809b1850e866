//! A qcow2 (v2 and v3) reader that streams: no staging, bounded memory, hostile-input safe.
//!
//! Reading goes in two passes over the [`Source`]:
//!
//! 1. **Metadata** ([`Header::parse`], [`ClusterMap::read`]): the header cluster, the L1 table
//!    and every L2 table, read with [`Source::read_at`]. Every field that decides a size or an
//!    offset is checked before use: `cluster_bits` in 9..=21, the L1 table's size against the
//!    virtual size and [`Limits::max_l1_entries`], every table and cluster inside the file and
//!    cluster-aligned, reserved bits clear, no L2 table referenced twice. Backing files,
//!    external data files, encryption, extended L2 entries and unknown incompatible features
//!    are refused. The result is a list of [`Extent`]s (runs of allocated clusters), sorted by
//!    their offset in the file and bounded by [`Limits::max_map_entries`].
//! 2. **Data**: the file is read once from the start, in order, and each extent is decoded as
//!    the stream reaches it (normal clusters passed on as parts of the buffers read, without a
//!    copy; compressed clusters inflated with zlib or zstd into exactly one cluster, never
//!    more). Zero and unallocated clusters produce nothing: the writer leaves them as holes or
//!    writes zeros.
//!
//! Because pass 2 is a forward-only stream of the whole file, the checksum of the file as
//! downloaded comes for free, and an HTTP source needs only ranged reads for pass 1 and one
//! GET for pass 2. Refcounts and snapshots are ignored (only the active L1 table is read).

use std::io::{self, Read};

use flate2::{Decompress, FlushDecompress, Status};
use zstd::stream::raw::Operation;

use crate::error::{Error, Qcow2Error, Result};
use crate::source::Source;

/// The magic at offset 0: `QFI\xfb`.
pub const MAGIC: [u8; 4] = *b"QFI\xfb";

const V2_HEADER_LEN: usize = 72;
const V3_HEADER_LEN: usize = 104;
/// qemu's own bound on the L1 table: 32 MiB.
const QEMU_MAX_L1_ENTRIES: u64 = (32 << 20) / 8;
/// Longest extent (merged run of contiguous clusters).
const MAX_EXTENT: u64 = 4 << 20;

const INCOMPAT_DIRTY: u64 = 1 << 0;
const INCOMPAT_CORRUPT: u64 = 1 << 1;
const INCOMPAT_DATA_FILE: u64 = 1 << 2;
const INCOMPAT_COMPRESSION: u64 = 1 << 3;
const INCOMPAT_EXTL2: u64 = 1 << 4;

const EXT_END: u32 = 0;
const EXT_DATA_FILE: u32 = 0x4441_5441;
const EXT_CRYPTO: u32 = 0x0537_be77;

const L1E_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const L1E_RESERVED_MASK: u64 = 0x7f00_0000_0000_01ff;
const L2E_OFFSET_MASK: u64 = 0x00ff_ffff_ffff_fe00;
const L2E_RESERVED_MASK: u64 = 0x3f00_0000_0000_01fe;
const L2E_COMPRESSED: u64 = 1 << 62;
const L2E_ZERO: u64 = 1;

/// How compressed clusters are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterCompression {
    /// Raw deflate (the default).
    Zlib,
    /// zstd (`-o compression_type=zstd`).
    Zstd,
}

/// A validated qcow2 header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Header {
    /// 2 or 3.
    pub version: u32,
    /// log2 of the cluster size, 9..=21.
    pub cluster_bits: u32,
    /// Virtual disk size in bytes.
    pub size: u64,
    /// Entries in the L1 table.
    pub l1_size: u32,
    /// File offset of the L1 table.
    pub l1_table_offset: u64,
    /// Incompatible feature bits (v3; 0 for v2).
    pub incompatible_features: u64,
    /// Compression of compressed clusters.
    pub compression: ClusterCompression,
    /// Header length (72 for v2).
    pub header_length: u32,
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(a)
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

impl Header {
    /// Parses and validates the header from the first bytes of the file (pass the header
    /// cluster, or as much of it as exists, so that header extensions are checked too).
    ///
    /// Never panics, whatever the bytes.
    ///
    /// ```
    /// let mut h = vec![0u8; 512];
    /// h[..4].copy_from_slice(b"QFI\xfb");
    /// h[7] = 2; // version 2
    /// h[23] = 16; // cluster_bits
    /// h[31] = 1; // size = 1 byte
    /// h[39] = 1; // l1_size = 1
    /// h[45] = 1; // l1_table_offset = 0x10000
    /// let header = imaging::qcow2::Header::parse(&h)?;
    /// assert_eq!(header.cluster_size(), 65536);
    /// h[15] = 1; // backing_file_offset
    /// assert!(imaging::qcow2::Header::parse(&h).is_err());
    /// # Ok::<(), imaging::Error>(())
    /// ```
    pub fn parse(buf: &[u8]) -> Result<Header, Qcow2Error> {
        if buf.len() < 8 {
            return Err(if buf.len() >= 4 && buf[..4] != MAGIC {
                Qcow2Error::BadMagic
            } else {
                Qcow2Error::TruncatedHeader {
                    len: buf.len(),
                    need: V2_HEADER_LEN,
                }
            });
        }
        if buf[..4] != MAGIC {
            return Err(Qcow2Error::BadMagic);
        }
        let version = be32(buf, 4);
        let need = match version {
            2 => V2_HEADER_LEN,
            3 => V3_HEADER_LEN,
            v => return Err(Qcow2Error::UnsupportedVersion(v)),
        };
        if buf.len() < need {
            return Err(Qcow2Error::TruncatedHeader {
                len: buf.len(),
                need,
            });
        }
        let backing_file_offset = be64(buf, 8);
        let backing_file_size = be32(buf, 16);
        let cluster_bits = be32(buf, 20);
        let size = be64(buf, 24);
        let crypt_method = be32(buf, 32);
        let l1_size = be32(buf, 36);
        let l1_table_offset = be64(buf, 40);

        if !(9..=21).contains(&cluster_bits) {
            return Err(Qcow2Error::ClusterBits(cluster_bits));
        }
        let cluster_size = 1u64 << cluster_bits;
        if backing_file_offset != 0 {
            let name = usize::try_from(backing_file_offset)
                .ok()
                .and_then(|start| {
                    let len = (backing_file_size as usize).min(1023);
                    buf.get(start..start.checked_add(len)?)
                })
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_else(|| "<name outside the header>".into());
            return Err(Qcow2Error::BackingFile { name });
        }
        if crypt_method != 0 {
            return Err(Qcow2Error::Encrypted(crypt_method));
        }

        let (incompatible_features, header_length, compression) = if version == 3 {
            let incompat = be64(buf, 72);
            let header_length = be32(buf, 100);
            if (header_length as usize) < V3_HEADER_LEN || u64::from(header_length) > cluster_size {
                return Err(Qcow2Error::InvalidField {
                    field: "header_length",
                    value: header_length.into(),
                });
            }
            if incompat & INCOMPAT_CORRUPT != 0 {
                return Err(Qcow2Error::MarkedCorrupt);
            }
            if incompat & INCOMPAT_DATA_FILE != 0 {
                return Err(Qcow2Error::ExternalDataFile);
            }
            if incompat & INCOMPAT_EXTL2 != 0 {
                return Err(Qcow2Error::ExtendedL2);
            }
            let known = INCOMPAT_DIRTY
                | INCOMPAT_CORRUPT
                | INCOMPAT_DATA_FILE
                | INCOMPAT_COMPRESSION
                | INCOMPAT_EXTL2;
            if incompat & !known != 0 {
                return Err(Qcow2Error::UnknownIncompatibleFeatures(incompat & !known));
            }
            let ctype = if header_length > 104 {
                *buf.get(104).ok_or(Qcow2Error::TruncatedHeader {
                    len: buf.len(),
                    need: 105,
                })?
            } else {
                0
            };
            let compression = match (ctype, incompat & INCOMPAT_COMPRESSION != 0) {
                (0, false) => ClusterCompression::Zlib,
                (1, true) => ClusterCompression::Zstd,
                (t, _) => return Err(Qcow2Error::CompressionType(t)),
            };
            (incompat, header_length, compression)
        } else {
            (0, V2_HEADER_LEN as u32, ClusterCompression::Zlib)
        };

        // The L1 table must cover the virtual size and stay within qemu's bound.
        if u64::from(l1_size) > QEMU_MAX_L1_ENTRIES {
            return Err(Qcow2Error::L1TooLarge {
                entries: l1_size.into(),
                max: QEMU_MAX_L1_ENTRIES,
            });
        }
        let header = Header {
            version,
            cluster_bits,
            size,
            l1_size,
            l1_table_offset,
            incompatible_features,
            compression,
            header_length,
        };
        let needed = header.l1_entries_needed();
        if needed > u64::from(l1_size) {
            return Err(Qcow2Error::L1TooSmall {
                entries: l1_size.into(),
                needed,
            });
        }
        if l1_size > 0 {
            if l1_table_offset == 0 {
                return Err(Qcow2Error::InvalidField {
                    field: "l1_table_offset",
                    value: 0,
                });
            }
            if l1_table_offset % cluster_size != 0 {
                return Err(Qcow2Error::Misaligned {
                    what: "L1 table",
                    offset: l1_table_offset,
                });
            }
        }

        // Header extensions, inside the header cluster.
        let limit = buf.len().min(cluster_size as usize);
        let mut at = header_length as usize;
        loop {
            let Some(ext) = buf.get(at..at + 8).filter(|_| at + 8 <= limit) else {
                if buf.len() >= cluster_size as usize {
                    return Err(Qcow2Error::BadExtension {
                        kind: 0,
                        offset: at as u64,
                    });
                }
                break; // the caller gave less than the header cluster
            };
            let kind = be32(ext, 0);
            let len = be32(ext, 4) as usize;
            if kind == EXT_END {
                break;
            }
            let next = at + 8 + len.div_ceil(8) * 8;
            if next > cluster_size as usize {
                return Err(Qcow2Error::BadExtension {
                    kind,
                    offset: at as u64,
                });
            }
            match kind {
                EXT_DATA_FILE => return Err(Qcow2Error::ExternalDataFile),
                EXT_CRYPTO => return Err(Qcow2Error::Encrypted(0)),
                _ => {}
            }
            at = next;
        }
        Ok(header)
    }

    /// Cluster size in bytes.
    pub fn cluster_size(&self) -> u64 {
        1 << self.cluster_bits
    }

    /// Entries per L2 table.
    pub fn l2_entries(&self) -> u64 {
        self.cluster_size() / 8
    }

    /// L1 entries needed to cover the virtual size.
    pub fn l1_entries_needed(&self) -> u64 {
        // bytes covered by one L1 entry: cluster_size * l2_entries = 2^(2*cluster_bits - 3)
        let shift = 2 * self.cluster_bits - 3;
        (self.size >> shift) + u64::from(self.size & ((1u64 << shift) - 1) != 0)
    }

    /// Decodes one L2 entry of the guest cluster `index`.
    ///
    /// ```
    /// use imaging::qcow2::{Header, L2Entry};
    /// # let mut h = vec![0u8; 104];
    /// # h[..4].copy_from_slice(b"QFI\xfb"); h[7] = 3; h[23] = 16; h[39] = 1; h[45] = 1; h[103] = 104;
    /// let header = Header::parse(&h)?;
    /// assert_eq!(header.decode_l2_entry(0, 0)?, L2Entry::Unallocated);
    /// assert_eq!(header.decode_l2_entry(1, 0)?, L2Entry::Zero);
    /// assert_eq!(header.decode_l2_entry(0x8000_0000_0003_0000, 0)?, L2Entry::Normal { host: 0x30000 });
    /// # Ok::<(), imaging::Error>(())
    /// ```
    pub fn decode_l2_entry(&self, entry: u64, index: u64) -> Result<L2Entry, Qcow2Error> {
        if entry & L2E_COMPRESSED != 0 {
            let x = 62 - (self.cluster_bits - 8);
            let host = entry & ((1u64 << x) - 1);
            let sectors = (entry >> x) & ((1u64 << (self.cluster_bits - 8)) - 1);
            let len = (sectors + 1) * 512 - (host & 511);
            return Ok(L2Entry::Compressed { host, len });
        }
        let reserved = if self.version >= 3 {
            L2E_RESERVED_MASK
        } else {
            L2E_RESERVED_MASK | L2E_ZERO
        };
        if entry & reserved != 0 {
            return Err(Qcow2Error::ReservedBits {
                what: "L2",
                index,
                entry,
            });
        }
        let host = entry & L2E_OFFSET_MASK;
        if entry & L2E_ZERO != 0 {
            return Ok(L2Entry::Zero);
        }
        if host == 0 {
            return Ok(L2Entry::Unallocated);
        }
        if host % self.cluster_size() != 0 {
            return Err(Qcow2Error::Misaligned {
                what: "data cluster",
                offset: host,
            });
        }
        Ok(L2Entry::Normal { host })
    }
}

/// One decoded L2 entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum L2Entry {
    /// Not allocated: reads as zeros (there is no backing file).
    Unallocated,
    /// Reads as zeros (v3 zero flag), allocated or not.
    Zero,
    /// A data cluster at this file offset.
    Normal {
        /// File offset.
        host: u64,
    },
    /// A compressed cluster: `len` bytes at this file offset (an upper bound; the last sector
    /// may be shared with the next compressed cluster).
    Compressed {
        /// File offset.
        host: u64,
        /// Bytes that may hold the compressed data.
        len: u64,
    },
}

/// Bounds on what a qcow2 image may make this reader allocate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Most L1 entries read (8 bytes each). Default: qemu's own bound, 4 Mi (32 MiB).
    pub max_l1_entries: u64,
    /// Most extents in the cluster map (24 bytes each). Default 4 Mi (96 MiB): enough for a
    /// 256 GiB image of 64 KiB compressed clusters; contiguous clusters merge into one.
    pub max_map_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_l1_entries: QEMU_MAX_L1_ENTRIES,
            max_map_entries: 4 << 20,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_l1_entries`].
    pub fn max_l1_entries(mut self, n: u64) -> Self {
        self.max_l1_entries = n;
        self
    }

    /// Sets [`Limits::max_map_entries`].
    pub fn max_map_entries(mut self, n: u64) -> Self {
        self.max_map_entries = n;
        self
    }
}

/// A run of allocated guest data: `len` bytes at guest offset `guest`, stored at file offset
/// `host` (contiguous clusters merged), or one compressed cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Extent {
    /// File offset.
    pub host: u64,
    /// Guest (virtual disk) offset.
    pub guest: u64,
    /// For a normal extent: bytes of guest data (= bytes in the file). For a compressed
    /// cluster: bytes in the file that may hold the compressed data.
    pub len: u32,
    /// Whether this is one compressed cluster.
    pub compressed: bool,
}

/// The allocated clusters of an image, sorted by file offset.
#[derive(Debug, Clone)]
pub struct ClusterMap {
    header: Header,
    extents: Vec<Extent>,
}

impl ClusterMap {
    /// Reads the L1 and L2 tables of `header`'s image from `source` (`file_len` bytes long),
    /// validating every entry.
    pub fn read<S: Source + ?Sized>(
        source: &mut S,
        header: &Header,
        file_len: u64,
        limits: &Limits,
    ) -> Result<ClusterMap> {
        let cs = header.cluster_size();
        let needed = header.l1_entries_needed();
        if needed > limits.max_l1_entries {
            return Err(Qcow2Error::L1TooLarge {
                entries: needed,
                max: limits.max_l1_entries,
            }
            .into());
        }
        let l1_bytes = u64::from(header.l1_size) * 8;
        check_in_file("L1 table", header.l1_table_offset, l1_bytes, file_len)?;
        let mut l1 = vec![0u8; (needed * 8) as usize];
        if needed > 0 {
            source.read_at(header.l1_table_offset, &mut l1)?;
        }
        let mut tables: Vec<(u64, u64)> = Vec::new();
        for (i, e) in l1.chunks_exact(8).enumerate() {
            let e = be64(e, 0);
            if e & L1E_RESERVED_MASK != 0 {
                return Err(Qcow2Error::ReservedBits {
                    what: "L1",
                    index: i as u64,
                    entry: e,
                }
                .into());
            }
            let off = e & L1E_OFFSET_MASK;
            if off == 0 {
                continue;
            }
            if off % cs != 0 {
                return Err(Qcow2Error::Misaligned {
                    what: "L2 table",
                    offset: off,
                }
                .into());
            }
            check_in_file("L2 table", off, cs, file_len)?;
            tables.push((off, i as u64));
        }
        drop(l1);
        // Read the tables in file order; a table referenced twice is a loop or a shared
        // table, either of which could multiply the work, so both are refused.
        tables.sort_unstable();
        if let Some(w) = tables.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Qcow2Error::SharedL2Table { offset: w[0].0 }.into());
        }

        let mut extents: Vec<Extent> = Vec::new();
        let mut l2 = vec![0u8; cs as usize];
        let l2_entries = header.l2_entries();
        for (off, l1_index) in tables {
            source.read_at(off, &mut l2)?;
            for (j, e) in l2.chunks_exact(8).enumerate() {
                let index = l1_index * l2_entries + j as u64;
                let guest = index << header.cluster_bits;
                if guest >= header.size {
                    break;
                }
                let data_len = (header.size - guest).min(cs);
                match header.decode_l2_entry(be64(e, 0), index)? {
                    L2Entry::Unallocated | L2Entry::Zero => continue,
                    L2Entry::Normal { host } => {
                        check_in_file("data cluster", host, data_len, file_len)?;
                        if let Some(last) = extents.last_mut() {
                            if !last.compressed
                                && last.host + u64::from(last.len) == host
                                && last.guest + u64::from(last.len) == guest
                                && u64::from(last.len) + data_len <= MAX_EXTENT
                            {
                                last.len += data_len as u32;
                                continue;
                            }
                        }
                        push(
                            &mut extents,
                            limits,
                            Extent {
                                host,
                                guest,
                                len: data_len as u32,
                                compressed: false,
                            },
                        )?;
                    }
                    L2Entry::Compressed { host, len } => {
                        if host >= file_len || host < cs {
                            return Err(Qcow2Error::OutOfFile {
                                what: "compressed cluster",
                                offset: host,
                                len,
                                file_len,
                            }
                            .into());
                        }
                        // The last sector may extend past the end of the file.
                        let len = len.min(file_len - host);
                        push(
                            &mut extents,
                            limits,
                            Extent {
                                host,
                                guest,
                                len: len as u32,
                                compressed: true,
                            },
                        )?;
                    }
                }
            }
        }
        extents.sort_unstable_by_key(|e| (e.host, e.guest));
        Ok(ClusterMap {
            header: header.clone(),
            extents,
        })
    }

    /// The header this map belongs to.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The extents, sorted by file offset.
    pub fn extents(&self) -> &[Extent] {
        &self.extents
    }

    /// Guest bytes held by allocated clusters (the rest reads as zeros).
    pub fn allocated_bytes(&self) -> u64 {
        let cs = self.header.cluster_size();
        self.extents
            .iter()
            .map(|e| {
                if e.compressed {
                    (self.header.size - e.guest).min(cs)
                } else {
                    u64::from(e.len)
                }
            })
            .sum()
    }

    /// Guest ranges `(offset, len)` that no extent covers (they read as zeros), in order.
    pub fn holes(&self) -> Vec<(u64, u64)> {
        let cs = self.header.cluster_size();
        let mut covered: Vec<(u64, u64)> = self
            .extents
            .iter()
            .map(|e| {
                let len = if e.compressed {
                    (self.header.size - e.guest).min(cs)
                } else {
                    u64::from(e.len)
                };
                (e.guest, len)
            })
            .collect();
        covered.sort_unstable();
        let mut holes = Vec::new();
        let mut at = 0u64;
        for (g, l) in covered {
            if g > at {
                holes.push((at, g - at));
            }
            at = at.max(g + l);
        }
        if at < self.header.size {
            holes.push((at, self.header.size - at));
        }
        holes
    }

    /// Streams the file from offset 0 (`reader` yields the file's bytes in order) and calls
    /// `emit(guest_offset, data)` for every allocated run, in file order. Compressed clusters
    /// decode to exactly one cluster (cut at the virtual size); a cluster that decodes to
    /// anything else is an error, so output is bounded by the virtual size.
    pub fn stream<R: Read>(
        &self,
        mut reader: R,
        mut emit: impl FnMut(u64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let chunk = (MAX_EXTENT as usize).max(2 * self.header.cluster_size() as usize);
        let mut pos = 0u64;
        let next = || -> Result<Option<std::rc::Rc<[u8]>>> {
            let mut buf = vec![0u8; chunk];
            let mut n = 0;
            while n < chunk {
                match reader.read(&mut buf[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        return Err(Error::io(
                            crate::error::Stage::ReadSource,
                            Some(pos + n as u64),
                            e,
                        ));
                    }
                }
            }
            pos += n as u64;
            buf.truncate(n);
            Ok((n > 0).then(|| buf.into()))
        };
        self.stream_chunks(next, |guest, piece| match piece {
            Piece::Shared { chunk, start, len } => emit(guest, &chunk[start..start + len]),
            Piece::Decoded(data) => emit(guest, data),
        })
    }

    /// The streaming core: `next` yields the file's bytes from offset 0 in chunks (any sizes);
    /// `emit` gets each allocated run, in file order, either as a part of an input chunk
    /// (uncompressed clusters: no copy) or as decoded bytes. Chunks are held only while a
    /// range still needs them: at most the chunks spanning one compressed cluster (up to
    /// 2 × the cluster size) plus one.
    pub(crate) fn stream_chunks<C: AsRef<[u8]>>(
        &self,
        next: impl FnMut() -> Result<Option<C>>,
        mut emit: impl FnMut(u64, Piece<'_, C>) -> Result<()>,
    ) -> Result<()> {
        let cs = self.header.cluster_size() as usize;
        let mut win = ChunkWindow::new(next);
        let mut decoder = ClusterDecoder::new(self.header.compression, cs)?;
        let mut scratch = Vec::new();
        for e in &self.extents {
            if e.compressed {
                let out_len = (self.header.size - e.guest).min(cs as u64) as usize;
                let input = win.contiguous(e.host, e.len as usize, &mut scratch)?;
                let out = decoder.decode(input, e.guest)?;
                emit(e.guest, Piece::Decoded(&out[..out_len]))?;
                continue;
            }
            // Uncompressed: part by part, as the chunks hold it.
            let (mut host, mut guest) = (e.host, e.guest);
            let end = e.host + u64::from(e.len);
            while host < end {
                let Some((chunk, start, len)) = win.part(host, end - host)? else {
                    return Err(Qcow2Error::TruncatedCluster { offset: e.host }.into());
                };
                emit(guest, Piece::Shared { chunk, start, len })?;
                host += len as u64;
                guest += len as u64;
            }
        }
        Ok(())
    }
}

/// Output of [`ClusterMap::stream_chunks`].
pub(crate) enum Piece<'a, C> {
    /// `chunk[start..start + len]` holds guest data as it is in the file.
    Shared {
        chunk: &'a C,
        start: usize,
        len: usize,
    },
    /// A decoded compressed cluster.
    Decoded(&'a [u8]),
}

/// A forward-only window over the file read as chunks: ranges must be asked for in
/// non-decreasing start order (they may overlap, as compressed clusters sharing a sector
/// do), which the host-sorted extents guarantee. Chunks wholly before the last range asked
/// for are released.
struct ChunkWindow<C, F> {
    next: F,
    /// `(file offset, chunk)`, contiguous.
    chunks: std::collections::VecDeque<(u64, C)>,
    /// File offset after the last chunk read.
    end: u64,
    /// Start of the last range asked for.
    pos: u64,
    eof: bool,
}

impl<C: AsRef<[u8]>, F: FnMut() -> Result<Option<C>>> ChunkWindow<C, F> {
    fn new(next: F) -> Self {
        ChunkWindow {
            next,
            chunks: std::collections::VecDeque::new(),
            end: 0,
            pos: 0,
            eof: false,
        }
    }

    /// Releases chunks before `off` and reads until `until` is covered (or the file ends).
    fn advance(&mut self, off: u64, until: u64) -> Result<()> {
        if off < self.pos {
            // Cannot happen with sorted extents; refuse rather than rewind.
            return Err(Qcow2Error::OutOfFile {
                what: "extent behind the stream position",
                offset: off,
                len: until - off,
                file_len: self.pos,
            }
            .into());
        }
        self.pos = off;
        while let Some((at, c)) = self.chunks.front() {
            if at + c.as_ref().len() as u64 <= off {
                self.chunks.pop_front();
            } else {
                break;
            }
        }
        while self.end < until && !self.eof {
            match (self.next)()? {
                Some(c) => {
                    let len = c.as_ref().len() as u64;
                    if self.end + len > off {
                        self.chunks.push_back((self.end, c));
                    }
                    self.end += len;
                }
                None => self.eof = true,
            }
        }
        Ok(())
    }

    /// The longest part of `[off, off + max)` inside one chunk, as `(chunk, start, len)`;
    /// `None` if the file ends before `off`.
    fn part(&mut self, off: u64, max: u64) -> Result<Option<(&C, usize, usize)>> {
        self.advance(off, off + 1)?;
        let found = self
            .chunks
            .iter()
            .find(|(at, c)| *at <= off && off < at + c.as_ref().len() as u64);
        Ok(found.map(|(at, c)| {
            let start = (off - at) as usize;
            let len = (c.as_ref().len() - start).min(max.min(usize::MAX as u64) as usize);
            (c, start, len)
        }))
    }

    /// Bytes `[off, off + len)` as one slice (copied into `scratch` when they span chunks);
    /// fewer if the file ends first.
    fn contiguous<'s>(
        &'s mut self,
        off: u64,
        len: usize,
        scratch: &'s mut Vec<u8>,
    ) -> Result<&'s [u8]> {
        let until = off.saturating_add(len as u64);
        self.advance(off, until)?;
        let mut parts = self
            .chunks
            .iter()
            .filter(|(at, c)| *at < until && off < at + c.as_ref().len() as u64)
            .map(|(at, c)| {
                let c = c.as_ref();
                let s = off.saturating_sub(*at) as usize;
                let e = ((until - at) as usize).min(c.len());
                &c[s..e]
            });
        let Some(first) = parts.next() else {
            return Ok(&[]);
        };
        if first.len() == len {
            return Ok(first);
        }
        scratch.clear();
        scratch.extend_from_slice(first);
        for p in parts {
            scratch.extend_from_slice(p);
        }
        Ok(&scratch[..])
    }
}

fn push(extents: &mut Vec<Extent>, limits: &Limits, e: Extent) -> Result<()> {
    if extents.len() as u64 >= limits.max_map_entries {
        return Err(Qcow2Error::MapTooLarge {
            max: limits.max_map_entries,
        }
        .into());
    }
    extents.push(e);
    Ok(())
}

fn check_in_file(what: &'static str, offset: u64, len: u64, file_len: u64) -> Result<()> {
    match offset.checked_add(len) {
        Some(end) if end <= file_len => Ok(()),
        _ => Err(Qcow2Error::OutOfFile {
            what,
            offset,
            len,
            file_len,
        }
        .into()),
    }
}

/// Decodes compressed clusters into exactly one cluster.
struct ClusterDecoder {
    kind: ClusterCompression,
    zlib: Decompress,
    zstd: Option<zstd::stream::raw::Decoder<'static>>,
    out: Vec<u8>,
}

impl ClusterDecoder {
    fn new(kind: ClusterCompression, cluster_size: usize) -> Result<Self> {
        let zstd = match kind {
            ClusterCompression::Zstd => {
                Some(zstd::stream::raw::Decoder::new().map_err(|e| {
                    Error::Unsupported(format!("cannot create a zstd decoder: {e}"))
                })?)
            }
            ClusterCompression::Zlib => None,
        };
        Ok(ClusterDecoder {
            kind,
            zlib: Decompress::new(false),
            zstd,
            out: vec![0u8; cluster_size],
        })
    }

    fn decode(&mut self, input: &[u8], guest: u64) -> Result<&[u8]> {
        let bad = |reason: String| {
            Error::from(Qcow2Error::BadCompressedCluster {
                guest_offset: guest,
                reason,
            })
        };
        let size = self.out.len();
        let mut out_pos = 0usize;
        match self.kind {
            ClusterCompression::Zlib => {
                self.zlib.reset(false);
                let mut in_pos = 0usize;
                while out_pos < size {
                    let (bi, bo) = (self.zlib.total_in(), self.zlib.total_out());
                    let status = self
                        .zlib
                        .decompress(
                            &input[in_pos..],
                            &mut self.out[out_pos..],
                            FlushDecompress::Finish,
                        )
                        .map_err(|e| bad(format!("deflate: {e}")))?;
                    in_pos += (self.zlib.total_in() - bi) as usize;
                    out_pos += (self.zlib.total_out() - bo) as usize;
                    if status == Status::StreamEnd
                        || (self.zlib.total_in() == bi && self.zlib.total_out() == bo)
                    {
                        break;
                    }
                }
            }
            ClusterCompression::Zstd => {
                let Some(dec) = self.zstd.as_mut() else {
                    return Err(bad("no zstd decoder".into()));
                };
                dec.reinit().map_err(|e| bad(format!("zstd: {e}")))?;
                let mut in_pos = 0usize;
                let mut remaining = 1usize;
                while out_pos < size {
                    let st = dec
                        .run_on_buffers(&input[in_pos..], &mut self.out[out_pos..])
                        .map_err(|e| bad(format!("zstd: {e}")))?;
                    in_pos += st.bytes_read;
                    out_pos += st.bytes_written;
                    remaining = st.remaining;
                    if st.bytes_read == 0 && st.bytes_written == 0 {
                        break;
                    }
                }
                // As qemu: the frame must be complete once the cluster is full.
                if out_pos == size && remaining > 0 {
                    let mut probe = [0u8; 1];
                    let st = dec
                        .run_on_buffers(&input[in_pos..], &mut probe)
                        .map_err(|e| bad(format!("zstd: {e}")))?;
                    if st.bytes_written > 0 || st.remaining > 0 {
                        return Err(bad("decodes to more than one cluster".into()));
                    }
                }
            }
        }
        if out_pos != size {
            return Err(bad(format!("decodes to {out_pos} bytes instead of {size}")));
        }
        Ok(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn header_bytes(version: u32, cluster_bits: u32, size: u64) -> Vec<u8> {
        let cs = 1usize << cluster_bits;
        let mut h = vec![0u8; cs];
        h[..4].copy_from_slice(&MAGIC);
        h[4..8].copy_from_slice(&version.to_be_bytes());
        h[20..24].copy_from_slice(&cluster_bits.to_be_bytes());
        h[24..32].copy_from_slice(&size.to_be_bytes());
        let shift = 2 * cluster_bits - 3;
        let l1 = (size >> shift) + u64::from(size & ((1 << shift) - 1) != 0);
        h[36..40].copy_from_slice(&(l1 as u32).to_be_bytes());
        h[40..48].copy_from_slice(&(cs as u64).to_be_bytes());
        if version == 3 {
            h[96..100].copy_from_slice(&4u32.to_be_bytes());
            h[100..104].copy_from_slice(&104u32.to_be_bytes());
        }
        h
    }

    #[test]
    fn parses_minimal_headers() {
        for v in [2, 3] {
            let h = Header::parse(&header_bytes(v, 16, 1 << 30)).unwrap();
            assert_eq!(h.version, v);
            assert_eq!(h.l1_entries_needed(), 2);
            assert_eq!(h.compression, ClusterCompression::Zlib);
        }
    }

    #[test]
    fn refuses_bad_fields() {
        let mut h = header_bytes(3, 16, 1 << 20);
        h[20..24].copy_from_slice(&22u32.to_be_bytes());
        assert_eq!(Header::parse(&h), Err(Qcow2Error::ClusterBits(22)));
        h[20..24].copy_from_slice(&8u32.to_be_bytes());
        assert_eq!(Header::parse(&h), Err(Qcow2Error::ClusterBits(8)));

        let mut h = header_bytes(3, 16, 1 << 20);
        h[72..80].copy_from_slice(&(1u64 << 9).to_be_bytes());
        assert_eq!(
            Header::parse(&h),
            Err(Qcow2Error::UnknownIncompatibleFeatures(1 << 9))
        );
        h[72..80].copy_from_slice(&4u64.to_be_bytes());
        assert_eq!(Header::parse(&h), Err(Qcow2Error::ExternalDataFile));

        let mut h = header_bytes(3, 16, 1 << 20);
        h[32..36].copy_from_slice(&2u32.to_be_bytes());
        assert_eq!(Header::parse(&h), Err(Qcow2Error::Encrypted(2)));

        let mut h = header_bytes(2, 16, 1 << 20);
        h[8..16].copy_from_slice(&0x200u64.to_be_bytes());
        h[16..20].copy_from_slice(&4u32.to_be_bytes());
        h[0x200..0x204].copy_from_slice(b"base");
        assert_eq!(
            Header::parse(&h),
            Err(Qcow2Error::BackingFile {
                name: "base".into()
            })
        );

        // L1 too small for the size
        let mut h = header_bytes(3, 16, 1 << 40);
        h[36..40].copy_from_slice(&1u32.to_be_bytes());
        assert!(matches!(
            Header::parse(&h),
            Err(Qcow2Error::L1TooSmall { .. })
        ));
        // huge L1
        let mut h = header_bytes(3, 16, 1 << 20);
        h[36..40].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            Header::parse(&h),
            Err(Qcow2Error::L1TooLarge { .. })
        ));
        // misaligned L1
        let mut h = header_bytes(3, 16, 1 << 20);
        h[40..48].copy_from_slice(&0x10200u64.to_be_bytes());
        assert!(matches!(
            Header::parse(&h),
            Err(Qcow2Error::Misaligned { .. })
        ));
        // zstd bit without type, and type without bit
        let mut h = header_bytes(3, 16, 1 << 20);
        h[100..104].copy_from_slice(&112u32.to_be_bytes());
        h[104] = 1;
        assert_eq!(Header::parse(&h), Err(Qcow2Error::CompressionType(1)));
        h[72..80].copy_from_slice(&8u64.to_be_bytes());
        assert_eq!(
            Header::parse(&h).unwrap().compression,
            ClusterCompression::Zstd
        );
        // extension running past the cluster
        let mut h = header_bytes(3, 9, 1 << 20);
        h[104..108].copy_from_slice(&0x1234u32.to_be_bytes());
        h[108..112].copy_from_slice(&1000u32.to_be_bytes());
        assert!(matches!(
            Header::parse(&h),
            Err(Qcow2Error::BadExtension { .. })
        ));
    }

    #[test]
    fn l1_needed_edges() {
        let h = Header::parse(&header_bytes(3, 9, 0)).unwrap();
        assert_eq!(h.l1_entries_needed(), 0);
        let mut b = header_bytes(3, 21, 1);
        b[24..32].copy_from_slice(&u64::MAX.to_be_bytes());
        // 2^64-1 bytes need 2^25 entries of 2^39 bytes: more than qemu's bound
        assert!(Header::parse(&b).is_err());
    }

    #[test]
    fn l2_entry_decoding() {
        let h = Header::parse(&header_bytes(2, 16, 1 << 20)).unwrap();
        assert!(h.decode_l2_entry(1, 0).is_err()); // zero flag is reserved in v2
        assert!(h.decode_l2_entry(0x1_0200, 0).is_err()); // misaligned
        assert!(h.decode_l2_entry(0x0100_0000_0000_0000, 0).is_err()); // reserved
        // compressed: cluster_bits 16 -> x = 54; offset 0x12345, 2 extra sectors
        let e = L2E_COMPRESSED | (2u64 << 54) | 0x12345;
        assert_eq!(
            h.decode_l2_entry(e, 0).unwrap(),
            L2Entry::Compressed {
                host: 0x12345,
                len: 3 * 512 - 0x145
            }
        );
    }

    #[test]
    fn chunk_window_overlaps_and_skips() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut chunks = data.chunks(1000).map(|c| c.to_vec());
        let mut w = ChunkWindow::new(|| Ok(chunks.next()));
        let mut scratch = Vec::new();
        assert_eq!(w.contiguous(10, 5, &mut scratch).unwrap(), &data[10..15]);
        // spans two chunks: copied
        assert_eq!(
            w.contiguous(12, 1500, &mut scratch).unwrap(),
            &data[12..1512]
        );
        let (c, start, len) = w.part(1990, 100).unwrap().unwrap();
        assert_eq!((&c[start..start + len], len), (&data[1990..2000], 10));
        assert_eq!(
            w.contiguous(5000, 4096, &mut scratch).unwrap(),
            &data[5000..9096]
        );
        assert_eq!(
            w.contiguous(9000, 2000, &mut scratch).unwrap(),
            &data[9000..]
        );
        assert!(w.contiguous(100, 1, &mut scratch).is_err()); // behind
        assert!(w.contiguous(20_000, 10, &mut scratch).unwrap().is_empty());
        assert!(w.part(20_000, 10).unwrap().is_none());
        // chunks wholly behind the position are released
        assert!(w.chunks.is_empty());
    }

    #[test]
    fn compressed_clusters_are_bounded() {
        let cs = 4096;
        // zlib raw deflate of more than one cluster: refused
        let big = vec![7u8; cs * 4];
        let mut enc = flate2::Compress::new(flate2::Compression::fast(), false);
        let mut comp = vec![0u8; 65536];
        enc.compress(&big, &mut comp, flate2::FlushCompress::Finish)
            .unwrap();
        comp.truncate(enc.total_out() as usize);
        let mut d = ClusterDecoder::new(ClusterCompression::Zlib, cs).unwrap();
        // qemu accepts a full output buffer; the rest is ignored, never decoded
        assert_eq!(d.decode(&comp, 0).unwrap(), &big[..cs]);
        // too short
        let mut enc = flate2::Compress::new(flate2::Compression::fast(), false);
        let mut comp = vec![0u8; 65536];
        enc.compress(&big[..100], &mut comp, flate2::FlushCompress::Finish)
            .unwrap();
        comp.truncate(enc.total_out() as usize);
        assert!(d.decode(&comp, 0).is_err());
        assert!(d.decode(b"garbage garbage", 0).is_err());

        let mut z = ClusterDecoder::new(ClusterCompression::Zstd, cs).unwrap();
        let exact = zstd::bulk::compress(&big[..cs], 3).unwrap();
        assert_eq!(z.decode(&exact, 0).unwrap(), &big[..cs]);
        let bomb = zstd::bulk::compress(&big, 3).unwrap();
        assert!(z.decode(&bomb, 0).is_err());
        assert!(z.decode(&exact[..exact.len() / 2], 0).is_err());
    }

    proptest! {
        #[test]
        fn header_parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..700)) {
            let _ = Header::parse(&bytes);
        }

        #[test]
        fn header_parse_mutated_never_panics(
            version in 2u32..4, bits in 9u32..22, size in any::<u64>(),
            flips in proptest::collection::vec((0usize..512, any::<u8>()), 0..8),
        ) {
            let mut h = header_bytes(version, 9, 1 << 20);
            h[20..24].copy_from_slice(&bits.to_be_bytes());
            h[24..32].copy_from_slice(&size.to_be_bytes());
            for (i, b) in flips { h[i] = b; }
            if let Ok(hd) = Header::parse(&h) {
                prop_assert!(hd.l1_entries_needed() <= u64::from(hd.l1_size));
                for e in [0u64, 1, u64::MAX, size] {
                    let _ = hd.decode_l2_entry(e, 0);
                }
            }
        }
    }
}
