//! The session wrappers inside an RMCP class-IPMI datagram (IPMI v2.0 section 13.6 and 13.8):
//! the IPMI v1.5 wrapper and the IPMI v2.0 RMCP+ wrapper, told apart by the first byte
//! (the authentication type; 0x06 means RMCP+).
//!
//! RMCP+ layout (all multi-byte fields little-endian):
//!
//! ```text
//! auth type 0x06 | payload type (bit7 encrypted, bit6 authenticated, 5:0 type)
//! [OEM IANA (4) + OEM payload id (2), only for payload type 0x02]
//! session id (4) | session sequence (4) | payload length (2) | payload
//! [authenticated only: integrity pad 0xFF.. | pad length | next header 0x07 | AuthCode]
//! ```
//!
//! The integrity pad makes the bytes from the auth type through the next-header byte a multiple of
//! four; the AuthCode is computed over exactly those bytes (see [`crate::crypto`]).

use bytes::{BufMut, BytesMut};

use crate::error::{Error, Result};
use crate::rmcp::{MessageClass, RmcpHeader};
use crate::wire::{self, array, le_u16, le_u32, take, u8_};

/// The authentication-type byte that starts every session wrapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthType {
    /// 0: none (the only one this crate sends in an IPMI 1.5 wrapper).
    None,
    /// 1: MD2.
    Md2,
    /// 2: MD5.
    Md5,
    /// 4: straight password/key.
    Password,
    /// 5: OEM proprietary.
    Oem,
    /// 6: RMCP+ (IPMI v2.0 format).
    RmcpPlus,
    /// Any other value.
    Unknown(u8),
}

impl AuthType {
    /// Decode the wire value.
    pub fn from_u8(v: u8) -> Self {
        match v & 0x0f {
            0 => Self::None,
            1 => Self::Md2,
            2 => Self::Md5,
            4 => Self::Password,
            5 => Self::Oem,
            6 => Self::RmcpPlus,
            _ => Self::Unknown(v),
        }
    }

    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Md2 => 1,
            Self::Md5 => 2,
            Self::Password => 4,
            Self::Oem => 5,
            Self::RmcpPlus => 6,
            Self::Unknown(v) => v,
        }
    }
}

/// An IPMI v1.5 session wrapper. Used here only before a session exists (Get Channel
/// Authentication Capabilities), with authentication type none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipmi15Packet<'a> {
    /// Authentication type.
    pub auth_type: AuthType,
    /// Session sequence number (0 outside a session).
    pub sequence: u32,
    /// Session id (0 outside a session).
    pub session_id: u32,
    /// The 16-byte AuthCode, present unless the authentication type is none.
    pub auth_code: Option<[u8; 16]>,
    /// The IPMI message.
    pub payload: &'a [u8],
}

impl<'a> Ipmi15Packet<'a> {
    /// Parse the wrapper (the bytes after the RMCP header).
    pub fn parse(data: &'a [u8]) -> Result<Self> {
        let what = "IPMI v1.5 session wrapper";
        let (i, at) = wire::ctx(what, u8_(data))?;
        let auth_type = AuthType::from_u8(at);
        if auth_type == AuthType::RmcpPlus {
            return Err(Error::invalid(what, "authentication type 6 is RMCP+"));
        }
        let (i, sequence) = wire::ctx(what, le_u32(i))?;
        let (i, session_id) = wire::ctx(what, le_u32(i))?;
        let (i, auth_code) = if auth_type == AuthType::None {
            (i, None)
        } else {
            let (i, c) = wire::ctx(what, array::<16>(i))?;
            (i, Some(c))
        };
        let (i, len) = wire::ctx(what, u8_(i))?;
        let (_legacy_pad, payload) = wire::ctx(what, take(len as usize)(i))?;
        Ok(Ipmi15Packet {
            auth_type,
            sequence,
            session_id,
            auth_code,
            payload,
        })
    }

    /// Append RMCP header and wrapper to `out`.
    pub fn emit(&self, out: &mut BytesMut) -> Result<()> {
        if self.payload.len() > 255 {
            return Err(Error::InvalidArgument {
                what: "IPMI v1.5 payload",
                reason: "longer than 255 bytes",
            });
        }
        RmcpHeader::IPMI.emit(out);
        out.put_u8(self.auth_type.to_u8());
        out.put_u32_le(self.sequence);
        out.put_u32_le(self.session_id);
        if let Some(code) = &self.auth_code {
            out.put_slice(code);
        }
        out.put_u8(self.payload.len() as u8);
        out.put_slice(self.payload);
        Ok(())
    }
}

/// RMCP+ payload types (IPMI v2.0 table 13-16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PayloadType {
    /// 0x00: an IPMI message.
    Ipmi,
    /// 0x01: Serial over LAN.
    Sol,
    /// 0x02: OEM explicit (IANA and payload id follow in the header).
    OemExplicit {
        /// OEM IANA number.
        iana: u32,
        /// OEM payload id.
        id: u16,
    },
    /// 0x10: RMCP+ Open Session Request.
    OpenSessionRequest,
    /// 0x11: RMCP+ Open Session Response.
    OpenSessionResponse,
    /// 0x12: RAKP Message 1.
    Rakp1,
    /// 0x13: RAKP Message 2.
    Rakp2,
    /// 0x14: RAKP Message 3.
    Rakp3,
    /// 0x15: RAKP Message 4.
    Rakp4,
    /// Any other value (6 bits).
    Unknown(u8),
}

impl PayloadType {
    /// The 6-bit type number.
    pub fn number(self) -> u8 {
        match self {
            Self::Ipmi => 0x00,
            Self::Sol => 0x01,
            Self::OemExplicit { .. } => 0x02,
            Self::OpenSessionRequest => 0x10,
            Self::OpenSessionResponse => 0x11,
            Self::Rakp1 => 0x12,
            Self::Rakp2 => 0x13,
            Self::Rakp3 => 0x14,
            Self::Rakp4 => 0x15,
            Self::Unknown(v) => v & 0x3f,
        }
    }

    fn from_number(v: u8) -> Self {
        match v & 0x3f {
            0x00 => Self::Ipmi,
            0x01 => Self::Sol,
            0x10 => Self::OpenSessionRequest,
            0x11 => Self::OpenSessionResponse,
            0x12 => Self::Rakp1,
            0x13 => Self::Rakp2,
            0x14 => Self::Rakp3,
            0x15 => Self::Rakp4,
            other => Self::Unknown(other),
        }
    }
}

/// The fixed part of an RMCP+ session header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipmi20Header {
    /// What the payload is.
    pub payload_type: PayloadType,
    /// Payload encrypted (bit 7).
    pub encrypted: bool,
    /// Packet carries an integrity trailer (bit 6).
    pub authenticated: bool,
    /// The receiver's session id (0 before the session exists).
    pub session_id: u32,
    /// Session sequence number (0 before the session exists).
    pub sequence: u32,
}

/// The integrity trailer of an authenticated RMCP+ packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer<'a> {
    /// Number of 0xFF pad bytes.
    pub pad_len: u8,
    /// Next header, always 0x07.
    pub next_header: u8,
    /// The AuthCode (integrity check value).
    pub auth_code: &'a [u8],
}

/// A parsed RMCP+ packet, borrowing from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipmi20Packet<'a> {
    /// Session header.
    pub header: Ipmi20Header,
    /// The payload as on the wire (still encrypted when `header.encrypted`).
    pub payload: &'a [u8],
    /// Integrity trailer, when `header.authenticated`.
    pub trailer: Option<Trailer<'a>>,
    /// The bytes the AuthCode covers: from the auth type through the next-header byte.
    pub signed: &'a [u8],
}

impl<'a> Ipmi20Packet<'a> {
    /// Read the session header without the trailer, to route a datagram to its session before
    /// the integrity algorithm is known. `data` starts after the RMCP header.
    pub fn peek_header(data: &'a [u8]) -> Result<Ipmi20Header> {
        Self::parse_header(data).map(|(h, _, _)| h)
    }

    fn parse_header(data: &'a [u8]) -> Result<(Ipmi20Header, &'a [u8], &'a [u8])> {
        let what = "RMCP+ session header";
        let (i, at) = wire::ctx(what, u8_(data))?;
        if at != AuthType::RmcpPlus.to_u8() {
            return Err(Error::invalid(what, "authentication type is not 6 (RMCP+)"));
        }
        let (i, pt) = wire::ctx(what, u8_(i))?;
        let mut payload_type = PayloadType::from_number(pt);
        let i = if payload_type.number() == 0x02 {
            let (i, iana) = wire::ctx(what, le_u32(i))?;
            let (i, id) = wire::ctx(what, le_u16(i))?;
            payload_type = PayloadType::OemExplicit { iana, id };
            i
        } else {
            i
        };
        let (i, session_id) = wire::ctx(what, le_u32(i))?;
        let (i, sequence) = wire::ctx(what, le_u32(i))?;
        let (i, len) = wire::ctx(what, le_u16(i))?;
        let (rest, payload) = wire::ctx("RMCP+ payload", take(len as usize)(i))?;
        Ok((
            Ipmi20Header {
                payload_type,
                encrypted: pt & 0x80 != 0,
                authenticated: pt & 0x40 != 0,
                session_id,
                sequence,
            },
            payload,
            rest,
        ))
    }

    /// Parse an RMCP+ wrapper (the bytes after the RMCP header). `auth_code_len` is the length of
    /// the session's integrity AuthCode (12 for HMAC-SHA1-96, 16 for HMAC-SHA256-128); it is only
    /// used when the packet says it is authenticated.
    pub fn parse(data: &'a [u8], auth_code_len: usize) -> Result<Self> {
        let (header, payload, rest) = Self::parse_header(data)?;
        let consumed = data.len() - rest.len();
        if !header.authenticated {
            return Ok(Ipmi20Packet {
                header,
                payload,
                trailer: None,
                signed: &data[..consumed],
            });
        }
        let what = "RMCP+ integrity trailer";
        if rest.len() < 2 + auth_code_len {
            return Err(Error::truncated(what));
        }
        let pad_total = rest.len() - 2 - auth_code_len;
        let pad = &rest[..pad_total];
        let pad_len = rest[pad_total];
        let next_header = rest[pad_total + 1];
        if pad_len as usize != pad_total {
            return Err(Error::invalid(what, "pad length does not match the pad"));
        }
        if pad.iter().any(|b| *b != 0xff) {
            return Err(Error::invalid(what, "integrity pad bytes are not 0xFF"));
        }
        if next_header != 0x07 {
            return Err(Error::invalid(what, "next header is not 0x07"));
        }
        let signed_len = consumed + pad_total + 2;
        if signed_len % 4 != 0 {
            return Err(Error::invalid(what, "signed area is not a multiple of 4"));
        }
        Ok(Ipmi20Packet {
            header,
            payload,
            trailer: Some(Trailer {
                pad_len,
                next_header,
                auth_code: &rest[pad_total + 2..],
            }),
            signed: &data[..signed_len],
        })
    }

    /// Write RMCP header, session header and `payload` (already encrypted if `header.encrypted`).
    /// When `header.authenticated`, the integrity pad, pad length and next header follow, and the
    /// return value is the offset in `out` where the signed area starts: the caller appends the
    /// AuthCode it computes over `out[offset..]`.
    pub fn emit_unsigned(
        header: &Ipmi20Header,
        payload: &[u8],
        out: &mut BytesMut,
    ) -> Result<usize> {
        if payload.len() > u16::MAX as usize {
            return Err(Error::InvalidArgument {
                what: "RMCP+ payload",
                reason: "longer than 65535 bytes",
            });
        }
        RmcpHeader::IPMI.emit(out);
        let start = out.len();
        out.put_u8(AuthType::RmcpPlus.to_u8());
        let mut pt = header.payload_type.number();
        if header.encrypted {
            pt |= 0x80;
        }
        if header.authenticated {
            pt |= 0x40;
        }
        out.put_u8(pt);
        if let PayloadType::OemExplicit { iana, id } = header.payload_type {
            out.put_u32_le(iana);
            out.put_u16_le(id);
        }
        out.put_u32_le(header.session_id);
        out.put_u32_le(header.sequence);
        out.put_u16_le(payload.len() as u16);
        out.put_slice(payload);
        if header.authenticated {
            let unpadded = out.len() - start + 2;
            let pad = (4 - unpadded % 4) % 4;
            out.put_bytes(0xff, pad);
            out.put_u8(pad as u8);
            out.put_u8(0x07);
        }
        Ok(start)
    }
}

/// A datagram parsed down to its session wrapper.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Packet<'a> {
    /// ASF presence ping or pong.
    Asf(crate::rmcp::AsfMessage),
    /// IPMI v1.5 session wrapper.
    Ipmi15(Ipmi15Packet<'a>),
    /// RMCP+ session wrapper.
    Ipmi20(Ipmi20Packet<'a>),
}

impl<'a> Packet<'a> {
    /// Parse a whole datagram. `auth_code_len` as in [`Ipmi20Packet::parse`].
    ///
    /// ```
    /// use ipmi_proto::packet::Packet;
    /// let ping = ipmi_proto::rmcp::AsfMessage::Ping { tag: 1 }.to_datagram();
    /// assert!(matches!(Packet::parse(&ping, 0), Ok(Packet::Asf(_))));
    /// assert!(Packet::parse(&[0x06, 0, 0xff], 0).is_err());
    /// ```
    pub fn parse(data: &'a [u8], auth_code_len: usize) -> Result<Self> {
        let (h, rest) = RmcpHeader::parse(data)?;
        match h.class {
            MessageClass::Asf => Ok(Packet::Asf(crate::rmcp::AsfMessage::parse(rest)?)),
            MessageClass::Ipmi => match rest.first() {
                Some(0x06) => Ok(Packet::Ipmi20(Ipmi20Packet::parse(rest, auth_code_len)?)),
                Some(_) => Ok(Packet::Ipmi15(Ipmi15Packet::parse(rest)?)),
                None => Err(Error::truncated("session wrapper")),
            },
            _ => Err(Error::invalid(
                "RMCP header",
                "message class is not ASF or IPMI",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v15_round_trip() {
        let p = Ipmi15Packet {
            auth_type: AuthType::None,
            sequence: 0,
            session_id: 0,
            auth_code: None,
            payload: &[0x20, 0x18, 0xc8, 0x81, 0x00, 0x38, 0x8e, 0x04, 0xb5],
        };
        let mut out = BytesMut::new();
        p.emit(&mut out).unwrap();
        match Packet::parse(&out, 0).unwrap() {
            Packet::Ipmi15(q) => assert_eq!(p, q),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn v20_authenticated_round_trip_and_alignment() {
        for len in 0..40usize {
            let payload: Vec<u8> = (0..len as u8).collect();
            let h = Ipmi20Header {
                payload_type: PayloadType::Ipmi,
                encrypted: false,
                authenticated: true,
                session_id: 0x1234_5678,
                sequence: 9,
            };
            let mut out = BytesMut::new();
            let start = Ipmi20Packet::emit_unsigned(&h, &payload, &mut out).unwrap();
            assert_eq!((out.len() - start) % 4, 0);
            out.put_slice(&[0xab; 12]);
            let p = Ipmi20Packet::parse(&out[4..], 12).unwrap();
            assert_eq!(p.header, h);
            assert_eq!(p.payload, &payload[..]);
            assert_eq!(p.trailer.unwrap().auth_code, &[0xab; 12]);
            assert_eq!(p.signed, &out[start..out.len() - 12]);
        }
    }

    #[test]
    fn oem_payload_header() {
        let h = Ipmi20Header {
            payload_type: PayloadType::OemExplicit {
                iana: 0x1234,
                id: 7,
            },
            encrypted: false,
            authenticated: false,
            session_id: 0,
            sequence: 0,
        };
        let mut out = BytesMut::new();
        Ipmi20Packet::emit_unsigned(&h, &[1, 2], &mut out).unwrap();
        let p = Ipmi20Packet::parse(&out[4..], 0).unwrap();
        assert_eq!(p.header, h);
    }
}
