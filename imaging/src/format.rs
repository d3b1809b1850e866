//! Image formats and their detection by magic bytes.

use std::fmt;
use std::str::FromStr;

/// A source format: a disk image format or a compressed stream around one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// A raw disk image: the bytes are the disk.
    Raw,
    /// A qcow2 image (version 2 or 3).
    Qcow2,
    /// A gzip stream (one or more members) of an image.
    Gzip,
    /// A zstd stream (one or more frames) of an image.
    Zstd,
    /// An xz stream of an image.
    Xz,
    /// A bzip2 stream of an image.
    Bzip2,
}

/// Bytes [`Format::detect`] looks at; fewer are fine (a short input is raw unless a prefix
/// matches a full magic).
pub const DETECT_LEN: usize = 8;

const QCOW2_MAGIC: &[u8; 4] = b"QFI\xfb";

impl Format {
    /// Detects the format from the first bytes of a source (at most [`DETECT_LEN`] are used).
    ///
    /// Anything that starts with the qcow2 magic is qcow2, whatever its version, so that a
    /// qcow2 file of an unsupported version is refused rather than written out as raw bytes.
    /// Bytes that match no magic are raw.
    ///
    /// ```
    /// use imaging::Format;
    /// assert_eq!(Format::detect(b"QFI\xfb\0\0\0\x03"), Format::Qcow2);
    /// assert_eq!(Format::detect(&[0x28, 0xb5, 0x2f, 0xfd, 0x04]), Format::Zstd);
    /// assert_eq!(Format::detect(b"\x1f\x8b\x08\0"), Format::Gzip);
    /// assert_eq!(Format::detect(b"\xfd7zXZ\0"), Format::Xz);
    /// assert_eq!(Format::detect(b"BZh9"), Format::Bzip2);
    /// assert_eq!(Format::detect(&[0u8; 512]), Format::Raw);
    /// ```
    pub fn detect(head: &[u8]) -> Format {
        if head.starts_with(QCOW2_MAGIC) {
            Format::Qcow2
        } else if head.starts_with(&[0x1f, 0x8b, 0x08]) {
            Format::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
            // zstd skippable frame (pzstd and seekable zstd start with one)
            || (head.len() >= 4 && head[0] & 0xf0 == 0x50 && head[1..4] == [0x2a, 0x4d, 0x18])
        {
            Format::Zstd
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Format::Xz
        } else if head.len() >= 4 && head.starts_with(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
            Format::Bzip2
        } else {
            Format::Raw
        }
    }

    /// Whether this is a compressed stream around an image (gzip, zstd, xz, bzip2).
    ///
    /// ```
    /// assert!(imaging::Format::Zstd.is_compressed());
    /// assert!(!imaging::Format::Qcow2.is_compressed());
    /// ```
    pub fn is_compressed(self) -> bool {
        matches!(
            self,
            Format::Gzip | Format::Zstd | Format::Xz | Format::Bzip2
        )
    }

    /// The lowercase name, as accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Format::Raw => "raw",
            Format::Qcow2 => "qcow2",
            Format::Gzip => "gzip",
            Format::Zstd => "zstd",
            Format::Xz => "xz",
            Format::Bzip2 => "bzip2",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = crate::Error;

    /// Parses `raw`, `qcow2`, `gzip`/`gz`, `zstd`/`zst`, `xz`, `bzip2`/`bz2`.
    ///
    /// ```
    /// assert_eq!("qcow2".parse::<imaging::Format>().unwrap(), imaging::Format::Qcow2);
    /// assert!("vhd".parse::<imaging::Format>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "raw" | "img" => Format::Raw,
            "qcow2" => Format::Qcow2,
            "gzip" | "gz" => Format::Gzip,
            "zstd" | "zst" => Format::Zstd,
            "xz" => Format::Xz,
            "bzip2" | "bz2" => Format::Bzip2,
            _ => {
                return Err(crate::Error::Unsupported(format!(
                    "format {s:?} (known: raw, qcow2, gzip, zstd, xz, bzip2)"
                )));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_inputs() {
        assert_eq!(Format::detect(b""), Format::Raw);
        assert_eq!(Format::detect(b"QFI"), Format::Raw);
        assert_eq!(Format::detect(b"BZh"), Format::Raw);
        assert_eq!(Format::detect(b"BZh0"), Format::Raw);
        assert_eq!(Format::detect(b"QFI\xfb\0\0\0\x02"), Format::Qcow2);
        assert_eq!(Format::detect(b"QFI\xfb\0\0\0\x01"), Format::Qcow2);
        assert_eq!(Format::detect(&[0x50, 0x2a, 0x4d, 0x18]), Format::Zstd);
    }

    #[test]
    fn names_round_trip() {
        for f in [
            Format::Raw,
            Format::Qcow2,
            Format::Gzip,
            Format::Zstd,
            Format::Xz,
            Format::Bzip2,
        ] {
            assert_eq!(f.name().parse::<Format>().unwrap(), f);
        }
    }

    proptest! {
        #[test]
        fn detect_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let f = Format::detect(&bytes);
            // detection only depends on the first DETECT_LEN bytes
            prop_assert_eq!(f, Format::detect(&bytes[..bytes.len().min(DETECT_LEN)]));
        }
    }
}
