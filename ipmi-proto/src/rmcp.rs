//! RMCP (DMTF ASF 2.0, section 3.2.2): the 4-byte header in front of every datagram, and the
//! ASF presence ping/pong carried in it.
//!
//! ```text
//!  0        1          2          3
//! +--------+----------+----------+-----------------+
//! |version | reserved | sequence | ack|class (7 bits)|
//! | 0x06   |  0x00    | 0xFF=no  |                 |
//! +--------+----------+----------+-----------------+
//! ```

use bytes::{BufMut, BytesMut};

use crate::error::{Error, Result};
use crate::wire::{self, be_u32, take, u8_};

/// RMCP version 1.0, the only one defined.
pub const RMCP_VERSION: u8 = 0x06;
/// Sequence number meaning "send no RMCP ACK" (used by every IPMI message).
pub const SEQ_NO_ACK: u8 = 0xFF;
/// The ASF IANA enterprise number (4542) carried in presence ping/pong.
pub const ASF_IANA: u32 = 4542;

/// The message class in the RMCP header's last byte (without the ACK bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageClass {
    /// 0x06: ASF (presence ping/pong).
    Asf,
    /// 0x07: IPMI (1.5 session wrapper or RMCP+).
    Ipmi,
    /// 0x08: OEM-defined.
    Oem,
    /// Any other value.
    Unknown(u8),
}

impl MessageClass {
    /// Decode the low 7 bits of the class byte.
    pub fn from_u8(v: u8) -> Self {
        match v & 0x7f {
            0x06 => Self::Asf,
            0x07 => Self::Ipmi,
            0x08 => Self::Oem,
            other => Self::Unknown(other),
        }
    }

    /// The class's wire value (without the ACK bit).
    pub fn to_u8(self) -> u8 {
        match self {
            Self::Asf => 0x06,
            Self::Ipmi => 0x07,
            Self::Oem => 0x08,
            Self::Unknown(v) => v & 0x7f,
        }
    }
}

/// The RMCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RmcpHeader {
    /// RMCP sequence number; [`SEQ_NO_ACK`] for IPMI.
    pub sequence: u8,
    /// Message class.
    pub class: MessageClass,
    /// Whether this is an RMCP ACK message.
    pub ack: bool,
}

impl RmcpHeader {
    /// Length on the wire.
    pub const LEN: usize = 4;

    /// The header of every IPMI datagram: no ACK requested, class IPMI.
    pub const IPMI: RmcpHeader = RmcpHeader {
        sequence: SEQ_NO_ACK,
        class: MessageClass::Ipmi,
        ack: false,
    };

    /// Parse the header; returns it and the rest of the datagram.
    ///
    /// ```
    /// use ipmi_proto::rmcp::{RmcpHeader, MessageClass};
    /// let (h, rest) = RmcpHeader::parse(&[0x06, 0x00, 0xff, 0x07, 0xaa]).unwrap();
    /// assert_eq!(h.class, MessageClass::Ipmi);
    /// assert_eq!(rest, &[0xaa]);
    /// ```
    pub fn parse(data: &[u8]) -> Result<(Self, &[u8])> {
        let what = "RMCP header";
        let (i, version) = wire::ctx(what, u8_(data))?;
        if version != RMCP_VERSION {
            return Err(Error::invalid(what, "version is not 0x06"));
        }
        let (i, _reserved) = wire::ctx(what, u8_(i))?;
        let (i, sequence) = wire::ctx(what, u8_(i))?;
        let (i, class) = wire::ctx(what, u8_(i))?;
        Ok((
            RmcpHeader {
                sequence,
                class: MessageClass::from_u8(class),
                ack: class & 0x80 != 0,
            },
            i,
        ))
    }

    /// Append the header to `out`.
    pub fn emit(&self, out: &mut BytesMut) {
        out.put_u8(RMCP_VERSION);
        out.put_u8(0);
        out.put_u8(self.sequence);
        out.put_u8(self.class.to_u8() | if self.ack { 0x80 } else { 0 });
    }
}

/// An ASF message (RMCP class 0x06): presence ping and pong, the only ones IPMI uses.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AsfMessage {
    /// Presence Ping (type 0x80).
    Ping {
        /// Message tag, echoed in the pong.
        tag: u8,
    },
    /// Presence Pong (type 0x40).
    Pong {
        /// Message tag copied from the ping.
        tag: u8,
        /// IANA enterprise number of the responder (4542 for plain ASF).
        iana: u32,
        /// OEM-defined value.
        oem: u32,
        /// Supported entities: bit 7 = IPMI supported, low bits = ASF version (1 = 1.0).
        entities: u8,
        /// Supported interactions (bit 5 = RMCP security extensions, bit 0 = DASH).
        interactions: u8,
    },
    /// Any other ASF message type, kept whole.
    Other {
        /// Message type.
        kind: u8,
        /// Message tag.
        tag: u8,
        /// The data after the 8-byte ASF header.
        data: Vec<u8>,
    },
}

impl AsfMessage {
    /// A pong saying "IPMI supported, ASF 1.0", as BMCs send.
    pub fn pong_for(tag: u8) -> Self {
        AsfMessage::Pong {
            tag,
            iana: ASF_IANA,
            oem: 0,
            entities: 0x81,
            interactions: 0,
        }
    }

    /// Parse the ASF body (after the RMCP header).
    pub fn parse(data: &[u8]) -> Result<Self> {
        let what = "ASF message";
        let (i, iana) = wire::ctx(what, be_u32(data))?;
        if iana != ASF_IANA {
            return Err(Error::invalid(what, "IANA number is not ASF (4542)"));
        }
        let (i, kind) = wire::ctx(what, u8_(i))?;
        let (i, tag) = wire::ctx(what, u8_(i))?;
        let (i, _reserved) = wire::ctx(what, u8_(i))?;
        let (i, len) = wire::ctx(what, u8_(i))?;
        let (_, body) = wire::ctx(what, take(len as usize)(i))?;
        match kind {
            0x80 => Ok(AsfMessage::Ping { tag }),
            0x40 => {
                let w = "ASF pong";
                let (b, iana) = wire::ctx(w, be_u32(body))?;
                let (b, oem) = wire::ctx(w, be_u32(b))?;
                let (b, entities) = wire::ctx(w, u8_(b))?;
                let (_, interactions) = wire::ctx(w, u8_(b))?;
                Ok(AsfMessage::Pong {
                    tag,
                    iana,
                    oem,
                    entities,
                    interactions,
                })
            }
            _ => Ok(AsfMessage::Other {
                kind,
                tag,
                data: body.to_vec(),
            }),
        }
    }

    /// Append the ASF body (not the RMCP header) to `out`.
    pub fn emit(&self, out: &mut BytesMut) {
        out.put_u32(ASF_IANA);
        match self {
            AsfMessage::Ping { tag } => {
                out.put_slice(&[0x80, *tag, 0, 0]);
            }
            AsfMessage::Pong {
                tag,
                iana,
                oem,
                entities,
                interactions,
            } => {
                out.put_slice(&[0x40, *tag, 0, 16]);
                out.put_u32(*iana);
                out.put_u32(*oem);
                out.put_u8(*entities);
                out.put_u8(*interactions);
                out.put_bytes(0, 6);
            }
            AsfMessage::Other { kind, tag, data } => {
                let len = data.len().min(255);
                out.put_slice(&[*kind, *tag, 0, len as u8]);
                out.put_slice(&data[..len]);
            }
        }
    }

    /// A whole datagram: RMCP header (class ASF, sequence 0xFF) followed by this message.
    pub fn to_datagram(&self) -> BytesMut {
        let mut out = BytesMut::with_capacity(32);
        RmcpHeader {
            sequence: SEQ_NO_ACK,
            class: MessageClass::Asf,
            ack: false,
        }
        .emit(&mut out);
        self.emit(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_pong_round_trip() {
        for m in [
            AsfMessage::Ping { tag: 7 },
            AsfMessage::pong_for(9),
            AsfMessage::Other {
                kind: 0x10,
                tag: 1,
                data: vec![1, 2, 3],
            },
        ] {
            let d = m.to_datagram();
            let (h, rest) = RmcpHeader::parse(&d).unwrap();
            assert_eq!(h.class, MessageClass::Asf);
            assert_eq!(AsfMessage::parse(rest).unwrap(), m);
        }
    }

    #[test]
    fn ping_bytes_match_spec() {
        // ASF 2.0 example: 06 00 ff 06 | 00 00 11 be 80 tag 00 00
        let d = AsfMessage::Ping { tag: 0x42 }.to_datagram();
        assert_eq!(
            &d[..],
            &[0x06, 0, 0xff, 0x06, 0, 0, 0x11, 0xbe, 0x80, 0x42, 0, 0]
        );
    }

    #[test]
    fn bad_version_refused() {
        assert!(matches!(
            RmcpHeader::parse(&[0x05, 0, 0xff, 7]),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            RmcpHeader::parse(&[0x06, 0]),
            Err(Error::Truncated { .. })
        ));
    }
}
