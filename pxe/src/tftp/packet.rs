//! The TFTP wire format (RFC 1350, with the OACK of RFC 2347): one type per packet, each with a
//! parser that never panics and an encoder that round-trips.
//!
//! ```
//! use pxe::tftp::packet::{Packet, Request, TftpOption};
//! let rrq = Packet::Rrq(Request {
//!     filename: "undionly.kpxe",
//!     mode: "octet",
//!     options: vec![TftpOption { name: "blksize", value: "1432" }],
//! });
//! let bytes = rrq.to_vec();
//! assert_eq!(&bytes[..2], &[0, 1]);
//! assert_eq!(Packet::parse(&bytes).unwrap(), rrq);
//! assert!(Packet::parse(&[0, 9]).is_err());
//! ```

use std::borrow::Cow;

use crate::error::{Error, Result};

/// Opcode of a read request.
pub const OP_RRQ: u16 = 1;
/// Opcode of a write request.
pub const OP_WRQ: u16 = 2;
/// Opcode of a data packet.
pub const OP_DATA: u16 = 3;
/// Opcode of an acknowledgement.
pub const OP_ACK: u16 = 4;
/// Opcode of an error packet.
pub const OP_ERROR: u16 = 5;
/// Opcode of an option acknowledgement (RFC 2347).
pub const OP_OACK: u16 = 6;

/// Most options a request may carry before it is refused (an "option bomb" guard).
pub const MAX_OPTIONS: usize = 32;

/// A TFTP error code (RFC 1350 section 5, RFC 2347 for 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 0: not defined, see the message.
    NotDefined,
    /// 1: file not found.
    FileNotFound,
    /// 2: access violation.
    AccessViolation,
    /// 3: disk full or allocation exceeded.
    DiskFull,
    /// 4: illegal TFTP operation.
    IllegalOperation,
    /// 5: unknown transfer ID.
    UnknownTransferId,
    /// 6: file already exists.
    FileExists,
    /// 7: no such user.
    NoSuchUser,
    /// 8: option negotiation refused (RFC 2347); EDK2 also sends it to end a size probe.
    OptionRefused,
    /// Any other code.
    Other(u16),
}

impl ErrorCode {
    /// The wire value.
    pub fn to_u16(self) -> u16 {
        match self {
            ErrorCode::NotDefined => 0,
            ErrorCode::FileNotFound => 1,
            ErrorCode::AccessViolation => 2,
            ErrorCode::DiskFull => 3,
            ErrorCode::IllegalOperation => 4,
            ErrorCode::UnknownTransferId => 5,
            ErrorCode::FileExists => 6,
            ErrorCode::NoSuchUser => 7,
            ErrorCode::OptionRefused => 8,
            ErrorCode::Other(n) => n,
        }
    }

    /// From the wire value.
    pub fn from_u16(n: u16) -> Self {
        match n {
            0 => ErrorCode::NotDefined,
            1 => ErrorCode::FileNotFound,
            2 => ErrorCode::AccessViolation,
            3 => ErrorCode::DiskFull,
            4 => ErrorCode::IllegalOperation,
            5 => ErrorCode::UnknownTransferId,
            6 => ErrorCode::FileExists,
            7 => ErrorCode::NoSuchUser,
            8 => ErrorCode::OptionRefused,
            n => ErrorCode::Other(n),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            ErrorCode::NotDefined => "not defined",
            ErrorCode::FileNotFound => "file not found",
            ErrorCode::AccessViolation => "access violation",
            ErrorCode::DiskFull => "disk full",
            ErrorCode::IllegalOperation => "illegal operation",
            ErrorCode::UnknownTransferId => "unknown transfer id",
            ErrorCode::FileExists => "file exists",
            ErrorCode::NoSuchUser => "no such user",
            ErrorCode::OptionRefused => "option negotiation refused",
            ErrorCode::Other(_) => "unknown error code",
        };
        write!(f, "{} ({s})", self.to_u16())
    }
}

/// One `name\0value\0` pair of a request or an OACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TftpOption<'a> {
    /// Option name as sent (compare case-insensitively).
    pub name: &'a str,
    /// Option value as sent.
    pub value: &'a str,
}

/// A read or write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The file name as sent.
    pub filename: &'a str,
    /// The transfer mode as sent (`octet`, `netascii`, `mail`; compare case-insensitively).
    pub mode: &'a str,
    /// Options (RFC 2347) in the order sent.
    pub options: Vec<TftpOption<'a>>,
}

impl Request<'_> {
    /// The value of option `name` (first occurrence, case-insensitive).
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|o| o.name.eq_ignore_ascii_case(name))
            .map(|o| o.value)
    }
}

/// A TFTP packet, borrowing from the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Packet<'a> {
    /// Read request.
    Rrq(Request<'a>),
    /// Write request.
    Wrq(Request<'a>),
    /// A block of data.
    Data {
        /// Block number (wraps to 0 after 65535).
        block: u16,
        /// The payload (shorter than the block size on the last block).
        data: &'a [u8],
    },
    /// Acknowledgement of a block (0 acknowledges an OACK).
    Ack {
        /// Block number.
        block: u16,
    },
    /// An error; ends the transfer.
    Error {
        /// The code.
        code: ErrorCode,
        /// The message (invalid UTF-8 replaced).
        message: Cow<'a, str>,
    },
    /// Option acknowledgement (RFC 2347).
    Oack {
        /// The options granted.
        options: Vec<TftpOption<'a>>,
    },
}

/// Split `data` into NUL-terminated UTF-8 strings; the data must end with a NUL.
fn strings<'a>(data: &'a [u8], what: &'static str) -> Result<Vec<&'a str>> {
    if data.is_empty() {
        return Ok(Vec::new());
    }
    let Some((last, body)) = data.split_last() else {
        return Ok(Vec::new());
    };
    if *last != 0 {
        return Err(Error::invalid(what, "string not NUL-terminated"));
    }
    body.split(|b| *b == 0)
        .map(|s| std::str::from_utf8(s).map_err(|_| Error::invalid(what, "not UTF-8")))
        .collect()
}

fn options<'a>(items: &[&'a str], what: &'static str) -> Result<Vec<TftpOption<'a>>> {
    if !items.len().is_multiple_of(2) {
        return Err(Error::invalid(what, "option without a value"));
    }
    if items.len() / 2 > MAX_OPTIONS {
        return Err(Error::invalid(what, "too many options"));
    }
    Ok(items
        .chunks_exact(2)
        .map(|c| TftpOption {
            name: c[0],
            value: c[1],
        })
        .collect())
}

fn parse_request<'a>(body: &'a [u8]) -> Result<Request<'a>> {
    if body.is_empty() {
        return Err(Error::truncated("TFTP request"));
    }
    let items = strings(body, "TFTP request")?;
    let (Some(filename), Some(mode)) = (items.first(), items.get(1)) else {
        return Err(Error::truncated("TFTP request"));
    };
    if filename.is_empty() {
        return Err(Error::invalid("TFTP request", "empty file name"));
    }
    if mode.is_empty() {
        return Err(Error::invalid("TFTP request", "empty mode"));
    }
    Ok(Request {
        filename,
        mode,
        options: options(items.get(2..).unwrap_or(&[]), "TFTP request")?,
    })
}

fn u16_at(data: &[u8], at: usize, what: &'static str) -> Result<u16> {
    match data.get(at..at + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(Error::truncated(what)),
    }
}

impl<'a> Packet<'a> {
    /// Parse one datagram.
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let op = u16_at(data, 0, "TFTP opcode")?;
        let body = data.get(2..).unwrap_or(&[]);
        match op {
            OP_RRQ => Ok(Packet::Rrq(parse_request(body)?)),
            OP_WRQ => Ok(Packet::Wrq(parse_request(body)?)),
            OP_DATA => Ok(Packet::Data {
                block: u16_at(data, 2, "TFTP DATA")?,
                data: data.get(4..).unwrap_or(&[]),
            }),
            OP_ACK => {
                if data.len() != 4 {
                    // Some clients pad; accept trailing bytes but not a short ACK.
                    if data.len() < 4 {
                        return Err(Error::truncated("TFTP ACK"));
                    }
                }
                Ok(Packet::Ack {
                    block: u16_at(data, 2, "TFTP ACK")?,
                })
            }
            OP_ERROR => {
                let code = ErrorCode::from_u16(u16_at(data, 2, "TFTP ERROR")?);
                let rest = data.get(4..).unwrap_or(&[]);
                // The message should end with a NUL; be lenient with clients that omit it.
                let text = match rest.iter().position(|b| *b == 0) {
                    Some(n) => &rest[..n],
                    None => rest,
                };
                Ok(Packet::Error {
                    code,
                    message: String::from_utf8_lossy(text),
                })
            }
            OP_OACK => {
                let items = strings(body, "TFTP OACK")?;
                Ok(Packet::Oack {
                    options: options(&items, "TFTP OACK")?,
                })
            }
            _ => Err(Error::invalid("TFTP opcode", "unknown opcode")),
        }
    }

    /// The opcode of this packet.
    pub fn opcode(&self) -> u16 {
        match self {
            Packet::Rrq(_) => OP_RRQ,
            Packet::Wrq(_) => OP_WRQ,
            Packet::Data { .. } => OP_DATA,
            Packet::Ack { .. } => OP_ACK,
            Packet::Error { .. } => OP_ERROR,
            Packet::Oack { .. } => OP_OACK,
        }
    }

    /// Append the encoding to `out`.
    ///
    /// Strings holding a NUL cannot be encoded faithfully; they are cut at the NUL.
    pub fn emit(&self, out: &mut Vec<u8>) {
        fn cstr(out: &mut Vec<u8>, s: &str) {
            let b = s.as_bytes();
            let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
            out.extend_from_slice(&b[..end]);
            out.push(0);
        }
        out.extend_from_slice(&self.opcode().to_be_bytes());
        match self {
            Packet::Rrq(r) | Packet::Wrq(r) => {
                cstr(out, r.filename);
                cstr(out, r.mode);
                for o in &r.options {
                    cstr(out, o.name);
                    cstr(out, o.value);
                }
            }
            Packet::Data { block, data } => {
                out.extend_from_slice(&block.to_be_bytes());
                out.extend_from_slice(data);
            }
            Packet::Ack { block } => out.extend_from_slice(&block.to_be_bytes()),
            Packet::Error { code, message } => {
                out.extend_from_slice(&code.to_u16().to_be_bytes());
                cstr(out, message);
            }
            Packet::Oack { options } => {
                for o in options {
                    cstr(out, o.name);
                    cstr(out, o.value);
                }
            }
        }
    }

    /// The encoding as a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::new();
        self.emit(&mut v);
        v
    }
}

/// Encode an ERROR packet.
pub fn error_packet(code: ErrorCode, message: &str) -> Vec<u8> {
    Packet::Error {
        code,
        message: Cow::Borrowed(message),
    }
    .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bytes() {
        let rrq =
            b"\x00\x01ipxe.efi\x00octet\x00tsize\x000\x00blksize\x001468\x00windowsize\x004\x00";
        let Packet::Rrq(r) = Packet::parse(rrq).unwrap() else {
            panic!()
        };
        assert_eq!(r.filename, "ipxe.efi");
        assert_eq!(r.option("BLKSIZE"), Some("1468"));
        assert_eq!(r.option("windowsize"), Some("4"));
        assert_eq!(Packet::Rrq(r).to_vec(), rrq);
        assert_eq!(
            Packet::parse(b"\x00\x04\x12\x34").unwrap(),
            Packet::Ack { block: 0x1234 }
        );
        let e = Packet::parse(b"\x00\x05\x00\x08User aborted the transfer\x00").unwrap();
        assert_eq!(
            e,
            Packet::Error {
                code: ErrorCode::OptionRefused,
                message: "User aborted the transfer".into()
            }
        );
    }

    #[test]
    fn refuses_bad_input() {
        for bad in [
            &b""[..],
            b"\x00",
            b"\x00\x01",
            b"\x00\x01file",
            b"\x00\x01file\x00",
            b"\x00\x01\x00octet\x00",
            b"\x00\x01f\x00octet\x00blksize\x00",
            b"\x00\x03\x00",
            b"\x00\x04\x00",
            b"\x00\x07\x00\x01",
            b"\xff\xff",
        ] {
            assert!(Packet::parse(bad).is_err(), "{bad:?}");
        }
        let mut bomb = b"\x00\x01f\x00octet\x00".to_vec();
        for _ in 0..1000 {
            bomb.extend_from_slice(b"a\x00b\x00");
        }
        assert!(Packet::parse(&bomb).is_err());
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9./_-]{1,20}"
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Packet::parse(&data);
        }

        #[test]
        fn requests_round_trip(
            write in any::<bool>(),
            file in text(),
            mode in text(),
            opts in proptest::collection::vec((text(), text()), 0..8),
        ) {
            let r = Request {
                filename: &file,
                mode: &mode,
                options: opts.iter().map(|(n, v)| TftpOption { name: n, value: v }).collect(),
            };
            let p = if write { Packet::Wrq(r) } else { Packet::Rrq(r) };
            let b = p.to_vec();
            prop_assert_eq!(Packet::parse(&b).unwrap(), p);
        }

        #[test]
        fn others_round_trip(
            block in any::<u16>(),
            data in proptest::collection::vec(any::<u8>(), 0..1500),
            code in any::<u16>(),
            msg in "[^\x00]{0,40}",
            opts in proptest::collection::vec((text(), text()), 0..8),
        ) {
            for p in [
                Packet::Data { block, data: &data },
                Packet::Ack { block },
                Packet::Error { code: ErrorCode::from_u16(code), message: msg.as_str().into() },
                Packet::Oack { options: opts.iter().map(|(n, v)| TftpOption { name: n, value: v }).collect() },
            ] {
                let b = p.to_vec();
                prop_assert_eq!(Packet::parse(&b).unwrap(), p);
            }
        }
    }
}
