//! Checksums over the image as downloaded (the source's bytes, before any decoding).

use std::fmt;
use std::str::FromStr;

use md5::Md5;
use sha2::{Digest, Sha256, Sha512};

use crate::error::{Error, Result};

/// A checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-256 (the recommended one; SHA-NI makes it the fastest here).
    Sha256,
    /// SHA-512 (2–3x slower than SHA-256 on x86 with SHA-NI).
    Sha512,
    /// MD5, only for legacy images and only when explicitly asked for.
    Md5,
}

impl Algorithm {
    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
            Algorithm::Md5 => 16,
        }
    }

    /// Lowercase name: `sha256`, `sha512`, `md5`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
            Algorithm::Md5 => "md5",
        }
    }

    fn from_name(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            "md5" => Some(Algorithm::Md5),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An expected checksum: an algorithm and a digest.
#[derive(Clone, PartialEq, Eq)]
pub struct Checksum {
    algorithm: Algorithm,
    digest: Vec<u8>,
}

impl fmt::Debug for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checksum({self})")
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm, hex::encode(&self.digest))
    }
}

impl Checksum {
    /// Parses `ALGO:HEX` (`sha256:…`, `sha512:…`, `md5:…`; `sha-256`, upper case and `ALGO-HEX`
    /// are accepted too) or bare hex, whose length picks the algorithm: 64 digits SHA-256,
    /// 128 SHA-512. Bare 32-digit hex would be MD5 and is only accepted when `allow_md5` is
    /// true; `md5:HEX` is an explicit request and always accepted.
    ///
    /// ```
    /// use imaging::{Algorithm, Checksum};
    /// let c = Checksum::parse(&"ab".repeat(32), false)?;
    /// assert_eq!(c.algorithm(), Algorithm::Sha256);
    /// let c = Checksum::parse(&format!("sha512:{}", "CD".repeat(64)), false)?;
    /// assert_eq!(c.algorithm(), Algorithm::Sha512);
    /// assert!(Checksum::parse(&"00".repeat(16), false).is_err()); // md5 not asked for
    /// assert!(Checksum::parse(&"00".repeat(16), true).is_ok());
    /// # Ok::<(), imaging::Error>(())
    /// ```
    pub fn parse(spec: &str, allow_md5: bool) -> Result<Self> {
        let s = spec.trim();
        let bad = |reason| Error::InvalidChecksum {
            spec: spec.to_string(),
            reason,
        };
        let split = s.find([':', '=']).or_else(|| {
            // `sha512-HEX` (Ignition style): only when the prefix is an algorithm name
            s.rfind('-')
                .filter(|&i| Algorithm::from_name(&s[..i]).is_some())
        });
        let (algorithm, hex_part) = match split {
            Some(i) => {
                let algorithm = Algorithm::from_name(s[..i].trim())
                    .ok_or_else(|| bad("unknown algorithm (sha256, sha512, md5)"))?;
                (Some(algorithm), s[i + 1..].trim())
            }
            None => (None, s),
        };
        if hex_part.is_empty() || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("not a hexadecimal digest"));
        }
        let digest = hex::decode(hex_part).map_err(|_| bad("odd number of hex digits"))?;
        let algorithm = match algorithm {
            Some(a) => a,
            None => match digest.len() {
                32 => Algorithm::Sha256,
                64 => Algorithm::Sha512,
                16 if allow_md5 => Algorithm::Md5,
                16 => {
                    return Err(bad(
                        "32 hex digits would be md5, which is off unless asked for (write md5:HEX)",
                    ));
                }
                _ => return Err(bad("length matches no algorithm (64: sha256, 128: sha512)")),
            },
        };
        if digest.len() != algorithm.digest_len() {
            return Err(bad("digest length does not match the algorithm"));
        }
        Ok(Checksum { algorithm, digest })
    }

    /// Looks `image_name` up in a checksum list, as published next to images: GNU lines
    /// `HEX  NAME` or `HEX *NAME` (as `sha256sum` writes them), BSD lines
    /// `SHA256 (NAME) = HEX`, `#` comments, or a file holding one bare digest. Names are
    /// compared by their base name (`./disk.img`, `images/disk.img` and `disk.img` match).
    /// The digest's length picks the algorithm as in [`Checksum::parse`].
    ///
    /// ```
    /// use imaging::Checksum;
    /// let list = format!("# made by sha256sum\n{}  other.img\n{} *disk.img\n", "1".repeat(64), "2".repeat(64));
    /// assert_eq!(Checksum::from_list(&list, "https://x/y/disk.img", false)?.hex(), "2".repeat(64));
    /// let bsd = format!("SHA512 (disk.img) = {}\n", "3".repeat(128));
    /// assert_eq!(Checksum::from_list(&bsd, "disk.img", false)?.algorithm(), imaging::Algorithm::Sha512);
    /// assert!(Checksum::from_list(&list, "missing.img", false).is_err());
    /// # Ok::<(), imaging::Error>(())
    /// ```
    pub fn from_list(text: &str, image_name: &str, allow_md5: bool) -> Result<Self> {
        let base = |n: &str| -> String {
            let n = n.split(['?', '#']).next().unwrap_or(n);
            n.rsplit('/').next().unwrap_or(n).to_string()
        };
        let want = base(image_name.trim());
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        for line in &lines {
            // BSD: ALGO (NAME) = HEX
            if let (Some(open), Some(close)) = (line.find(" ("), line.rfind(") = ")) {
                if open < close {
                    let algo = &line[..open];
                    let name = &line[open + 2..close];
                    let hex = &line[close + 4..];
                    if base(name) == want {
                        return Checksum::parse(&format!("{algo}:{hex}"), allow_md5);
                    }
                    continue;
                }
            }
            // GNU: HEX  NAME / HEX *NAME
            let mut parts = line.splitn(2, char::is_whitespace);
            let (Some(hex), Some(name)) = (parts.next(), parts.next()) else {
                continue;
            };
            let name = name.trim_start();
            let name = name.strip_prefix('*').unwrap_or(name);
            if base(name) == want {
                return Checksum::parse(hex, allow_md5);
            }
        }
        if let [only] = lines[..] {
            if !only.contains(char::is_whitespace) {
                return Checksum::parse(only, allow_md5);
            }
        }
        Err(Error::ChecksumNotListed {
            list: "list".into(),
            name: want,
        })
    }

    /// A checksum from an algorithm and raw digest bytes.
    ///
    /// ```
    /// let c = imaging::Checksum::new(imaging::Algorithm::Md5, vec![0; 16])?;
    /// assert_eq!(c.to_string(), format!("md5:{}", "0".repeat(32)));
    /// # Ok::<(), imaging::Error>(())
    /// ```
    pub fn new(algorithm: Algorithm, digest: Vec<u8>) -> Result<Self> {
        if digest.len() != algorithm.digest_len() {
            return Err(Error::InvalidChecksum {
                spec: hex::encode(&digest),
                reason: "digest length does not match the algorithm",
            });
        }
        Ok(Checksum { algorithm, digest })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The digest bytes.
    pub fn digest(&self) -> &[u8] {
        &self.digest
    }

    /// The digest as lowercase hex.
    pub fn hex(&self) -> String {
        hex::encode(&self.digest)
    }
}

impl FromStr for Checksum {
    type Err = Error;

    /// Like [`Checksum::parse`] with MD5 allowed only as `md5:HEX`.
    fn from_str(s: &str) -> Result<Self> {
        Checksum::parse(s, false)
    }
}

/// An incremental hasher for one [`Algorithm`].
///
/// ```
/// use imaging::{Algorithm, Hasher};
/// let mut h = Hasher::new(Algorithm::Sha256);
/// h.update(b"abc");
/// assert_eq!(
///     h.finish().hex(),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
#[derive(Clone)]
pub struct Hasher(HasherInner);

#[derive(Clone)]
enum HasherInner {
    Sha256(Sha256),
    Sha512(Sha512),
    Md5(Md5),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Hasher").field(&self.algorithm()).finish()
    }
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(algorithm: Algorithm) -> Self {
        Hasher(match algorithm {
            Algorithm::Sha256 => HasherInner::Sha256(Sha256::new()),
            Algorithm::Sha512 => HasherInner::Sha512(Sha512::new()),
            Algorithm::Md5 => HasherInner::Md5(Md5::new()),
        })
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self.0 {
            HasherInner::Sha256(_) => Algorithm::Sha256,
            HasherInner::Sha512(_) => Algorithm::Sha512,
            HasherInner::Md5(_) => Algorithm::Md5,
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            HasherInner::Sha256(h) => h.update(data),
            HasherInner::Sha512(h) => h.update(data),
            HasherInner::Md5(h) => h.update(data),
        }
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Checksum {
        let algorithm = self.algorithm();
        let digest = match self.0 {
            HasherInner::Sha256(h) => h.finalize().to_vec(),
            HasherInner::Sha512(h) => h.finalize().to_vec(),
            HasherInner::Md5(h) => h.finalize().to_vec(),
        };
        Checksum { algorithm, digest }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        let h64 = "a".repeat(64);
        for spec in [
            h64.clone(),
            format!("sha256:{h64}"),
            format!("SHA256:{h64}"),
            format!("sha-256:{h64}"),
            format!("sha256-{h64}"),
            format!("sha256={h64}"),
            format!("  {h64}\n"),
        ] {
            let c = Checksum::parse(&spec, false).unwrap();
            assert_eq!(c.algorithm(), Algorithm::Sha256, "{spec}");
            assert_eq!(c.hex(), h64);
        }
        assert_eq!(
            Checksum::parse(&"b".repeat(128), false)
                .unwrap()
                .algorithm(),
            Algorithm::Sha512
        );
        assert_eq!(
            Checksum::parse(&format!("md5:{}", "c".repeat(32)), false)
                .unwrap()
                .algorithm(),
            Algorithm::Md5
        );
        for bad in [
            "",
            "sha256:",
            "sha1:abcd",
            "xyz",
            "abc",
            &"a".repeat(40),
            &format!("sha512:{}", "a".repeat(64)),
            &"a".repeat(32),
        ] {
            assert!(Checksum::parse(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn known_digests() {
        let mut h = Hasher::new(Algorithm::Md5);
        h.update(b"abc");
        assert_eq!(h.finish().hex(), "900150983cd24fb0d6963f7d28e17f72");
        let mut h = Hasher::new(Algorithm::Sha512);
        h.update(b"abc");
        assert!(h.finish().hex().starts_with("ddaf35a193617aba"));
    }
}
