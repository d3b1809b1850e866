//! Block maps (`.bmap` files, as made by `bmaptool create`): the mapped (data) block ranges of
//! a raw image, each with its SHA-256.
//!
//! With a [`Bmap`] in [`WriteOptions::bmap`](crate::WriteOptionsBuilder::bmap), a local raw
//! image has only its mapped ranges read, and every source (raw, or a gzip/zstd/xz/bzip2 stream
//! of it) has only its mapped ranges written, each checked against its checksum as it goes:
//! what `bmaptool copy` does. Unlike `bmaptool`, unmapped ranges are zeroed on a target that
//! does not read back zeros (a block device without `--discard`/`--pre-zeroed`), so the target
//! always ends up holding the image.
//!
//! Parsing ([`Bmap::parse`]) accepts bmap format 2.x with `sha256` range checksums (what
//! bmap-tools 3.x writes) or without range checksums, checks the file's own
//! `BmapFileChecksum`, and validates every field before use: the block size, the block count
//! against the image size, every range inside the image, ranges in increasing order without
//! overlap, and the mapped-block count. Bad input is an error, never a panic.
//!
//! ```
//! let xml = r#"<?xml version="1.0" ?>
//! <bmap version="2.0">
//!     <ImageSize> 8192 </ImageSize>
//!     <BlockSize> 4096 </BlockSize>
//!     <BlocksCount> 2 </BlocksCount>
//!     <MappedBlocksCount> 1 </MappedBlocksCount>
//!     <BlockMap>
//!         <Range> 1 </Range>
//!     </BlockMap>
//! </bmap>"#;
//! let bmap = imaging::Bmap::parse(xml.as_bytes())?;
//! assert_eq!(bmap.image_size(), 8192);
//! assert_eq!(bmap.byte_ranges().collect::<Vec<_>>(), vec![(4096, 8192)]);
//! # Ok::<(), imaging::Error>(())
//! ```

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::checksum::{Algorithm, Hasher};

/// The largest bmap file accepted (a 4 TiB image fragmented into 4 KiB runs is far below).
pub const MAX_BMAP_LEN: usize = 64 << 20;

/// What is wrong with a bmap file. Carried by [`Error::Bmap`](crate::Error::Bmap).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BmapError {
    /// Not well-formed XML, or not a `<bmap>` document.
    #[error("not a bmap file: {0}")]
    Syntax(String),
    /// A format version this reader does not know.
    #[error("unsupported bmap version {0:?} (2.x is supported)")]
    Version(String),
    /// A range checksum type other than sha256.
    #[error("unsupported bmap checksum type {0:?} (sha256 is supported)")]
    ChecksumType(String),
    /// A required element is missing.
    #[error("bmap element <{0}> missing")]
    Missing(&'static str),
    /// A field that cannot be right.
    #[error("invalid bmap field {field}: {value:?}")]
    Invalid {
        /// Element or attribute name.
        field: &'static str,
        /// Its text.
        value: String,
    },
    /// The file is larger than [`MAX_BMAP_LEN`].
    #[error("bmap file of {0} bytes is larger than the limit")]
    TooLarge(usize),
    /// A range outside the image, out of order or overlapping the previous one.
    #[error("bmap range {first}-{last} is outside the image or out of order")]
    BadRange {
        /// First block.
        first: u64,
        /// Last block (inclusive).
        last: u64,
    },
    /// `MappedBlocksCount` differs from the blocks the ranges hold.
    #[error("bmap says {declared} mapped blocks, its ranges hold {counted}")]
    MappedCount {
        /// `MappedBlocksCount`.
        declared: u64,
        /// Sum over the ranges.
        counted: u64,
    },
    /// The bmap file's own checksum does not match (the file was altered or truncated).
    #[error("bmap file checksum mismatch: expected {expected}, got {actual}")]
    FileChecksum {
        /// `BmapFileChecksum`.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// The image's size differs from the bmap's `ImageSize`.
    #[error("image is {actual} bytes, the bmap describes {expected}")]
    ImageSize {
        /// `ImageSize`.
        expected: u64,
        /// The source's (or decoded stream's) size.
        actual: u64,
    },
    /// A mapped range's data does not match its checksum.
    #[error("blocks {first}-{last}: sha256 expected {expected}, got {actual}")]
    RangeChecksum {
        /// First block.
        first: u64,
        /// Last block (inclusive).
        last: u64,
        /// From the bmap.
        expected: String,
        /// Of the data read.
        actual: String,
    },
}

/// One mapped range: blocks `first..=last`, with its SHA-256 if the bmap has one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BmapRange {
    /// First block.
    pub first: u64,
    /// Last block (inclusive).
    pub last: u64,
    /// SHA-256 of the range's bytes (cut at the image's end).
    pub sha256: Option<[u8; 32]>,
}

/// A parsed and validated block map (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bmap {
    image_size: u64,
    block_size: u64,
    ranges: Vec<BmapRange>,
}

fn parse_u64(field: &'static str, text: &str) -> Result<u64, BmapError> {
    text.trim().parse().map_err(|_| BmapError::Invalid {
        field,
        value: text.chars().take(64).collect(),
    })
}

impl Bmap {
    /// Parses and validates a bmap file (see the module docs). Never panics, whatever the
    /// bytes.
    pub fn parse(xml: &[u8]) -> Result<Bmap, BmapError> {
        if xml.len() > MAX_BMAP_LEN {
            return Err(BmapError::TooLarge(xml.len()));
        }
        let mut reader = Reader::from_reader(xml);
        let syntax = |e: &dyn std::fmt::Display| BmapError::Syntax(e.to_string());
        // Element path from the root; the text of the innermost element.
        let mut path: Vec<Vec<u8>> = Vec::new();
        let mut text = String::new();
        let mut range_sum: Option<String> = None;
        let (mut version, mut image_size, mut block_size, mut blocks_count, mut mapped) =
            (None, None, None, None, None);
        let (mut checksum_type, mut file_checksum) = (None, None);
        let mut ranges = Vec::new();
        let mut seen_root = false;
        loop {
            match reader.read_event().map_err(|e| syntax(&e))? {
                Event::Start(e) => {
                    let name = e.name().as_ref().to_vec();
                    if path.is_empty() {
                        if name != b"bmap" || seen_root {
                            return Err(BmapError::Syntax("the root element is not <bmap>".into()));
                        }
                        seen_root = true;
                        let v = e
                            .try_get_attribute("version")
                            .map_err(|e| syntax(&e))?
                            .ok_or(BmapError::Missing("bmap version"))?;
                        version = Some(String::from_utf8_lossy(&v.value).into_owned());
                    }
                    if path.len() == 2 && path[1] == b"BlockMap" && name == b"Range" {
                        range_sum = e
                            .try_get_attribute("chksum")
                            .map_err(|e| syntax(&e))?
                            .map(|a| String::from_utf8_lossy(&a.value).into_owned());
                    }
                    if path.len() >= 8 {
                        return Err(BmapError::Syntax("elements nested too deeply".into()));
                    }
                    path.push(name);
                    text.clear();
                }
                Event::Empty(e) => {
                    if path.is_empty() {
                        return Err(BmapError::Syntax("empty document".into()));
                    }
                    let _ = e;
                }
                Event::Text(t) => {
                    let s = t.decode().map_err(|e| syntax(&e))?;
                    if text.len() + s.len() > 4096 {
                        return Err(BmapError::Syntax("element text too long".into()));
                    }
                    text.push_str(&s);
                }
                Event::GeneralRef(_) => text.push('&'), // no entity belongs in a bmap field
                Event::End(_) => {
                    let Some(name) = path.pop() else {
                        return Err(BmapError::Syntax("unbalanced end tag".into()));
                    };
                    match (path.len(), name.as_slice()) {
                        (1, b"ImageSize") => image_size = Some(parse_u64("ImageSize", &text)?),
                        (1, b"BlockSize") => block_size = Some(parse_u64("BlockSize", &text)?),
                        (1, b"BlocksCount") => {
                            blocks_count = Some(parse_u64("BlocksCount", &text)?)
                        }
                        (1, b"MappedBlocksCount") => {
                            mapped = Some(parse_u64("MappedBlocksCount", &text)?)
                        }
                        (1, b"ChecksumType") => checksum_type = Some(text.trim().to_string()),
                        (1, b"BmapFileChecksum") => file_checksum = Some(text.trim().to_string()),
                        (2, b"Range") => {
                            let t = text.trim();
                            let (a, b) = t.split_once('-').unwrap_or((t, t));
                            let first = parse_u64("Range", a)?;
                            let last = parse_u64("Range", b)?;
                            let sha256 = match range_sum.take() {
                                None => None,
                                Some(h) => {
                                    let mut d = [0u8; 32];
                                    hex::decode_to_slice(h.trim(), &mut d).map_err(|_| {
                                        BmapError::Invalid {
                                            field: "chksum",
                                            value: h.chars().take(80).collect(),
                                        }
                                    })?;
                                    Some(d)
                                }
                            };
                            ranges.push(BmapRange {
                                first,
                                last,
                                sha256,
                            });
                        }
                        _ => {}
                    }
                    text.clear();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if !path.is_empty() {
            return Err(BmapError::Syntax("document ends inside an element".into()));
        }
        let version = version.ok_or(BmapError::Missing("bmap"))?;
        if version.trim().split('.').next() != Some("2") {
            return Err(BmapError::Version(version));
        }
        let image_size = image_size.ok_or(BmapError::Missing("ImageSize"))?;
        let block_size = block_size.ok_or(BmapError::Missing("BlockSize"))?;
        let blocks_count = blocks_count.ok_or(BmapError::Missing("BlocksCount"))?;
        let mapped = mapped.ok_or(BmapError::Missing("MappedBlocksCount"))?;
        if !(512..=(1 << 20)).contains(&block_size) || !block_size.is_power_of_two() {
            return Err(BmapError::Invalid {
                field: "BlockSize",
                value: block_size.to_string(),
            });
        }
        if blocks_count != image_size.div_ceil(block_size) {
            return Err(BmapError::Invalid {
                field: "BlocksCount",
                value: blocks_count.to_string(),
            });
        }
        let has_sums = ranges.iter().any(|r| r.sha256.is_some());
        match checksum_type.as_deref() {
            Some("sha256") => {}
            None if !has_sums => {}
            Some(t) => return Err(BmapError::ChecksumType(t.into())),
            None => return Err(BmapError::Missing("ChecksumType")),
        }
        let mut counted = 0u64;
        let mut next = 0u64;
        for r in &ranges {
            if r.first < next || r.last < r.first || r.last >= blocks_count {
                return Err(BmapError::BadRange {
                    first: r.first,
                    last: r.last,
                });
            }
            next = r.last + 1;
            counted += r.last - r.first + 1;
        }
        if counted != mapped {
            return Err(BmapError::MappedCount {
                declared: mapped,
                counted,
            });
        }
        if let Some(expected) = file_checksum {
            // As bmaptool: the file's sha256 with the checksum's digits replaced by zeros.
            let actual = match find(xml, expected.as_bytes()) {
                Some(at) if !expected.is_empty() => {
                    let mut h = Hasher::new(Algorithm::Sha256);
                    h.update(&xml[..at]);
                    h.update(&"0".repeat(expected.len()).into_bytes());
                    h.update(&xml[at + expected.len()..]);
                    h.finish().hex()
                }
                _ => String::new(),
            };
            if !actual.eq_ignore_ascii_case(&expected) {
                return Err(BmapError::FileChecksum { expected, actual });
            }
        }
        Ok(Bmap {
            image_size,
            block_size,
            ranges,
        })
    }

    /// The image's size in bytes.
    pub fn image_size(&self) -> u64 {
        self.image_size
    }

    /// The block size in bytes.
    pub fn block_size(&self) -> u64 {
        self.block_size
    }

    /// The mapped ranges, in order.
    pub fn ranges(&self) -> &[BmapRange] {
        &self.ranges
    }

    /// Bytes in mapped ranges.
    pub fn mapped_bytes(&self) -> u64 {
        self.byte_ranges().map(|(a, b)| b - a).sum()
    }

    /// The mapped ranges as byte ranges `[start, end)`, cut at the image's end.
    pub fn byte_ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|r| self.bytes_of(r))
    }

    pub(crate) fn bytes_of(&self, r: &BmapRange) -> (u64, u64) {
        let start = r.first * self.block_size;
        let end = ((r.last + 1) * self.block_size).min(self.image_size);
        (start.min(end), end)
    }

    /// The first mapped byte range ending after `offset`, cut to start at `offset`.
    pub(crate) fn next_mapped(&self, offset: u64) -> Option<(u64, u64)> {
        let i = self
            .ranges
            .partition_point(|r| self.bytes_of(r).1 <= offset);
        self.ranges.get(i).map(|r| {
            let (a, b) = self.bytes_of(r);
            (a.max(offset), b)
        })
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > hay.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Checks the data of mapped ranges as it streams past, in image order: the pipeline's decoder
/// feeds it every byte range it produces; it says which parts are mapped and fails on the first
/// range whose checksum does not match.
pub(crate) struct RangeChecker<'a> {
    bmap: &'a Bmap,
    /// Index of the range being hashed.
    index: usize,
    /// Bytes of that range hashed so far (they must arrive in order).
    done: u64,
    hasher: Option<Hasher>,
    /// Ranges whose checksum matched.
    pub(crate) checked: u64,
}

impl<'a> RangeChecker<'a> {
    pub(crate) fn new(bmap: &'a Bmap) -> Self {
        RangeChecker {
            bmap,
            index: 0,
            done: 0,
            hasher: None,
            checked: 0,
        }
    }

    /// The mapped parts of `[offset, offset + data.len())`, as `(start, end)` offsets into
    /// `data`, after hashing them; fails on a checksum mismatch or data out of order.
    pub(crate) fn feed(
        &mut self,
        offset: u64,
        data: &[u8],
    ) -> Result<Vec<(usize, usize)>, BmapError> {
        let mut parts = Vec::new();
        let end = offset + data.len() as u64;
        while let Some(r) = self.bmap.ranges.get(self.index) {
            let (a, b) = self.bmap.bytes_of(r);
            if a >= end {
                break;
            }
            let (s, e) = (a.max(offset), b.min(end));
            if s < e {
                if s != a + self.done {
                    // A gap inside a mapped range: the data did not arrive in order.
                    return Err(BmapError::BadRange {
                        first: r.first,
                        last: r.last,
                    });
                }
                let piece = &data[(s - offset) as usize..(e - offset) as usize];
                if r.sha256.is_some() {
                    self.hasher
                        .get_or_insert_with(|| Hasher::new(Algorithm::Sha256))
                        .update(piece);
                }
                self.done += e - s;
                parts.push(((s - offset) as usize, (e - offset) as usize));
            }
            if a + self.done < b {
                break; // the range continues in the next data
            }
            self.close()?;
        }
        Ok(parts)
    }

    fn close(&mut self) -> Result<(), BmapError> {
        let Some(r) = self.bmap.ranges.get(self.index) else {
            return Ok(());
        };
        if let Some(want) = r.sha256 {
            let got = self
                .hasher
                .take()
                .unwrap_or_else(|| Hasher::new(Algorithm::Sha256))
                .finish();
            if got.digest() != want {
                return Err(BmapError::RangeChecksum {
                    first: r.first,
                    last: r.last,
                    expected: hex::encode(want),
                    actual: got.hex(),
                });
            }
            self.checked += 1;
        }
        self.index += 1;
        self.done = 0;
        Ok(())
    }

    /// At the end of the image: every range must have been seen whole.
    pub(crate) fn finish(&self) -> Result<(), BmapError> {
        match self.bmap.ranges.get(self.index) {
            None => Ok(()),
            Some(r) => Err(BmapError::BadRange {
                first: r.first,
                last: r.last,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sha(b: &[u8]) -> String {
        let mut h = Hasher::new(Algorithm::Sha256);
        h.update(b);
        h.finish().hex()
    }

    /// A bmap for `image` (blocks of 4 KiB holding a non-zero byte are mapped), with range
    /// checksums and the file checksum, as bmaptool writes it.
    pub(crate) fn make_bmap(image: &[u8]) -> String {
        let bs = 4096;
        let blocks = image.len().div_ceil(bs);
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for i in 0..blocks {
            let b = &image[i * bs..((i + 1) * bs).min(image.len())];
            if b.iter().any(|&x| x != 0) {
                match ranges.last_mut() {
                    Some(r) if r.1 + 1 == i => r.1 = i,
                    _ => ranges.push((i, i)),
                }
            }
        }
        let mapped: usize = ranges.iter().map(|r| r.1 - r.0 + 1).sum();
        let mut xml = format!(
            "<?xml version=\"1.0\" ?>\n<bmap version=\"2.0\">\n<ImageSize> {} </ImageSize>\n<BlockSize> {bs} </BlockSize>\n<BlocksCount> {blocks} </BlocksCount>\n<MappedBlocksCount> {mapped} </MappedBlocksCount>\n<ChecksumType> sha256 </ChecksumType>\n<BmapFileChecksum> {} </BmapFileChecksum>\n<BlockMap>\n",
            image.len(),
            "0".repeat(64)
        );
        for (a, b) in ranges {
            let data = &image[a * bs..((b + 1) * bs).min(image.len())];
            let text = if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            };
            xml.push_str(&format!(
                "<Range chksum=\"{}\"> {text} </Range>\n",
                sha(data)
            ));
        }
        xml.push_str("</BlockMap>\n</bmap>\n");
        let sum = sha(xml.as_bytes());
        xml.replacen(&"0".repeat(64), &sum, 1)
    }

    fn image() -> Vec<u8> {
        let mut img = vec![0u8; 10 * 4096 + 100];
        img[5] = 1;
        img[3 * 4096..5 * 4096].fill(7);
        img[10 * 4096 + 50] = 9;
        img
    }

    #[test]
    fn parses_and_checks() {
        let img = image();
        let bmap = Bmap::parse(make_bmap(&img).as_bytes()).unwrap();
        assert_eq!(bmap.image_size(), img.len() as u64);
        assert_eq!(
            bmap.byte_ranges().collect::<Vec<_>>(),
            vec![
                (0, 4096),
                (3 * 4096, 5 * 4096),
                (10 * 4096, 10 * 4096 + 100)
            ]
        );
        assert_eq!(bmap.next_mapped(4096), Some((3 * 4096, 5 * 4096)));
        assert_eq!(bmap.next_mapped(4 * 4096), Some((4 * 4096, 5 * 4096)));
        assert_eq!(bmap.next_mapped(img.len() as u64), None);
        // fed in odd pieces: every range checked
        let mut c = RangeChecker::new(&bmap);
        let mut mapped = 0;
        for (i, chunk) in img.chunks(3000).enumerate() {
            for (s, e) in c.feed(i as u64 * 3000, chunk).unwrap() {
                mapped += e - s;
            }
        }
        c.finish().unwrap();
        assert_eq!(c.checked, 3);
        assert_eq!(mapped as u64, bmap.mapped_bytes());
        // a changed byte in a mapped range is caught
        let mut bad = img.clone();
        bad[4 * 4096] = 8;
        let mut c = RangeChecker::new(&bmap);
        let err = c.feed(0, &bad).unwrap_err();
        assert!(
            matches!(
                err,
                BmapError::RangeChecksum {
                    first: 3,
                    last: 4,
                    ..
                }
            ),
            "{err}"
        );
        // data that stops early leaves a range unchecked
        let mut c = RangeChecker::new(&bmap);
        c.feed(0, &img[..4 * 4096]).unwrap();
        assert!(c.finish().is_err());
    }

    #[test]
    fn refuses_bad_files() {
        let img = image();
        let good = make_bmap(&img);
        // the file checksum covers everything
        let altered = good.replacen("<ImageSize> 41060 ", "<ImageSize> 41061 ", 1);
        assert!(matches!(
            Bmap::parse(altered.as_bytes()),
            Err(BmapError::FileChecksum { .. }) | Err(BmapError::Invalid { .. })
        ));
        let strip = |s: &str| {
            let a = s.find("<BmapFileChecksum>").unwrap();
            let b = s.find("</BmapFileChecksum>").unwrap() + "</BmapFileChecksum>".len();
            format!("{}{}", &s[..a], &s[b..])
        };
        let plain = strip(&good);
        assert!(Bmap::parse(plain.as_bytes()).is_ok());
        for (from, to) in [
            ("version=\"2.0\"", "version=\"1.4\""),
            ("<BlockSize> 4096 ", "<BlockSize> 4000 "),
            ("<BlocksCount> 11 ", "<BlocksCount> 12 "),
            ("<MappedBlocksCount> 4 ", "<MappedBlocksCount> 5 "),
            ("> 3-4 <", "> 4-3 <"),
            ("> 3-4 <", "> 0-4 <"),
            ("> 10 <", "> 11 <"),
            ("sha256 </ChecksumType>", "md5 </ChecksumType>"),
            ("<ImageSize>", "<ImageSizeX>"),
            ("</bmap>", ""),
            ("<bmap ", "<notbmap "),
        ] {
            let s = plain.replacen(from, to, 1);
            assert_ne!(s, plain, "{from}");
            assert!(
                Bmap::parse(s.as_bytes()).is_err(),
                "{from} -> {to} accepted"
            );
        }
        assert!(Bmap::parse(b"").is_err());
        assert!(Bmap::parse(b"<bmap version=\"2.0\"/>").is_err());
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Bmap::parse(&bytes);
        }

        #[test]
        fn mutated_bmaps_never_panic(flips in proptest::collection::vec((0usize..2000, any::<u8>()), 1..6)) {
            let mut b = make_bmap(&image()).into_bytes();
            for (i, x) in flips {
                let i = i % b.len();
                b[i] = x;
            }
            if let Ok(bmap) = Bmap::parse(&b) {
                let mut c = RangeChecker::new(&bmap);
                let data = vec![1u8; bmap.image_size().min(1 << 20) as usize];
                let _ = c.feed(0, &data);
                prop_assert!(bmap.mapped_bytes() <= bmap.image_size());
            }
        }
    }
}
