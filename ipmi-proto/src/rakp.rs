//! RMCP+ session set-up messages (IPMI v2.0 section 13.17–13.23): Open Session Request and
//! Response, and RAKP messages 1 to 4. The codes they carry are computed in [`crate::crypto`].

use bytes::{BufMut, BytesMut};

use crate::error::{Error, Result};
use crate::wire::{self, array, le_u32, take, u8_};

macro_rules! rakp_status {
    ($( $name:ident = $val:literal, $text:literal; )*) => {
        /// RMCP+ and RAKP message status codes (IPMI v2.0 table 13-15).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum RakpStatus {
            $( #[doc = $text] $name, )*
            /// A reserved or OEM value.
            Other(u8),
        }
        impl RakpStatus {
            /// Decode a status byte.
            pub fn from_u8(v: u8) -> Self {
                match v { $( $val => Self::$name, )* _ => Self::Other(v) }
            }
            /// The wire value.
            pub fn to_u8(self) -> u8 {
                match self { $( Self::$name => $val, )* Self::Other(v) => v }
            }
            /// The specification's wording.
            pub fn meaning(self) -> &'static str {
                match self { $( Self::$name => $text, )* Self::Other(_) => "reserved status code" }
            }
        }
    };
}

rakp_status! {
    NoErrors = 0x00, "No errors";
    InsufficientResources = 0x01, "Insufficient resources to create a session";
    InvalidSessionId = 0x02, "Invalid session ID";
    InvalidPayloadType = 0x03, "Invalid payload type";
    InvalidAuthAlgorithm = 0x04, "Invalid authentication algorithm";
    InvalidIntegrityAlgorithm = 0x05, "Invalid integrity algorithm";
    NoMatchingAuthPayload = 0x06, "No matching authentication payload";
    NoMatchingIntegrityPayload = 0x07, "No matching integrity payload";
    InactiveSessionId = 0x08, "Inactive session ID";
    InvalidRole = 0x09, "Invalid role";
    UnauthorizedRole = 0x0a, "Unauthorized role or privilege level requested";
    InsufficientResourcesForRole = 0x0b, "Insufficient resources to create a session at the requested role";
    InvalidNameLength = 0x0c, "Invalid name length";
    UnauthorizedName = 0x0d, "Unauthorized name";
    UnauthorizedGuid = 0x0e, "Unauthorized GUID";
    InvalidIntegrityCheckValue = 0x0f, "Invalid integrity check value";
    InvalidConfidentialityAlgorithm = 0x10, "Invalid confidentiality algorithm";
    NoCipherSuiteMatch = 0x11, "No cipher suite match with proposed security algorithms";
    IllegalParameter = 0x12, "Illegal or unrecognized parameter";
}

impl RakpStatus {
    /// Whether the refusal is about the proposed algorithms (try another suite).
    pub fn is_algorithm_mismatch(self) -> bool {
        matches!(
            self,
            Self::InvalidAuthAlgorithm
                | Self::InvalidIntegrityAlgorithm
                | Self::NoMatchingAuthPayload
                | Self::NoMatchingIntegrityPayload
                | Self::InvalidConfidentialityAlgorithm
                | Self::NoCipherSuiteMatch
        )
    }

    /// Whether the refusal is about the credentials or the role.
    pub fn is_authentication(self) -> bool {
        matches!(
            self,
            Self::UnauthorizedName
                | Self::UnauthorizedRole
                | Self::InvalidRole
                | Self::InvalidNameLength
                | Self::InvalidIntegrityCheckValue
                | Self::UnauthorizedGuid
        )
    }

    /// Whether a later attempt may succeed (the BMC is out of session slots).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::InsufficientResources | Self::InsufficientResourcesForRole
        )
    }
}

impl std::fmt::Display for RakpStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (0x{:02x})", self.meaning(), self.to_u8())
    }
}

/// The three algorithm numbers proposed or chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithms {
    /// Authentication algorithm number.
    pub auth: u8,
    /// Integrity algorithm number.
    pub integrity: u8,
    /// Confidentiality algorithm number.
    pub confidentiality: u8,
}

impl Algorithms {
    /// The algorithms of a cipher suite.
    pub fn of(suite: &crate::crypto::CipherSuite) -> Self {
        Algorithms {
            auth: suite.auth.number(),
            integrity: suite.integrity.number(),
            confidentiality: suite.confidentiality.number(),
        }
    }

    fn emit(&self, out: &mut BytesMut) {
        for (kind, alg) in [
            (0u8, self.auth),
            (1, self.integrity),
            (2, self.confidentiality),
        ] {
            out.put_slice(&[kind, 0, 0, 8, alg & 0x3f, 0, 0, 0]);
        }
    }

    fn parse<'a>(what: &'static str, i: &'a [u8]) -> Result<(&'a [u8], Self)> {
        let mut algs = [0u8; 3];
        let mut i = i;
        for (kind, slot) in algs.iter_mut().enumerate() {
            let (rest, rec) = wire::ctx(what, array::<8>(i))?;
            if rec[0] != kind as u8 {
                return Err(Error::invalid(what, "algorithm payloads out of order"));
            }
            // A length of 0 means "any" in a request; responses always carry 8.
            if rec[3] != 8 && rec[3] != 0 {
                return Err(Error::invalid(what, "algorithm payload length is not 8"));
            }
            *slot = rec[4] & 0x3f;
            i = rest;
        }
        Ok((
            i,
            Algorithms {
                auth: algs[0],
                integrity: algs[1],
                confidentiality: algs[2],
            },
        ))
    }
}

/// RMCP+ Open Session Request (payload type 0x10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenSessionRequest {
    /// Message tag, echoed in the response.
    pub tag: u8,
    /// Requested maximum privilege (0 = highest the user may have).
    pub max_privilege: u8,
    /// The remote console's session id.
    pub console_session_id: u32,
    /// Proposed algorithms.
    pub algorithms: Algorithms,
}

impl OpenSessionRequest {
    /// Parse the payload.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let what = "Open Session Request";
        let (i, tag) = wire::ctx(what, u8_(data))?;
        let (i, max_privilege) = wire::ctx(what, u8_(i))?;
        let (i, _) = wire::ctx(what, take(2)(i))?;
        let (i, console_session_id) = wire::ctx(what, le_u32(i))?;
        let (_, algorithms) = Algorithms::parse(what, i)?;
        Ok(OpenSessionRequest {
            tag,
            max_privilege: max_privilege & 0x0f,
            console_session_id,
            algorithms,
        })
    }

    /// Append the payload.
    pub fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.tag);
        out.put_u8(self.max_privilege & 0x0f);
        out.put_u16(0);
        out.put_u32_le(self.console_session_id);
        self.algorithms.emit(out);
    }
}

/// RMCP+ Open Session Response (payload type 0x11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenSessionResponse {
    /// Message tag.
    pub tag: u8,
    /// Status; on an error the rest may be absent.
    pub status: RakpStatus,
    /// Maximum privilege level granted.
    pub max_privilege: u8,
    /// The remote console's session id.
    pub console_session_id: u32,
    /// Present when `status` is no errors.
    pub accepted: Option<AcceptedSession>,
}

/// The part of an Open Session Response present on success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedSession {
    /// The managed system's (BMC's) session id.
    pub bmc_session_id: u32,
    /// The algorithms the BMC chose.
    pub algorithms: Algorithms,
}

impl OpenSessionResponse {
    /// Parse the payload (an error response may stop after the console session id).
    pub fn parse(data: &[u8]) -> Result<Self> {
        let what = "Open Session Response";
        let (i, tag) = wire::ctx(what, u8_(data))?;
        let (i, status) = wire::ctx(what, u8_(i))?;
        let status = RakpStatus::from_u8(status);
        let (i, max_privilege) = wire::ctx(what, u8_(i))?;
        let (i, _) = wire::ctx(what, u8_(i))?;
        let (i, console_session_id) = wire::ctx(what, le_u32(i))?;
        let accepted = if status == RakpStatus::NoErrors {
            let (i, bmc_session_id) = wire::ctx(what, le_u32(i))?;
            let (_, algorithms) = Algorithms::parse(what, i)?;
            Some(AcceptedSession {
                bmc_session_id,
                algorithms,
            })
        } else {
            None
        };
        Ok(OpenSessionResponse {
            tag,
            status,
            max_privilege: max_privilege & 0x0f,
            console_session_id,
            accepted,
        })
    }

    /// Append the payload.
    pub fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.tag);
        out.put_u8(self.status.to_u8());
        out.put_u8(self.max_privilege);
        out.put_u8(0);
        out.put_u32_le(self.console_session_id);
        if let Some(a) = &self.accepted {
            out.put_u32_le(a.bmc_session_id);
            a.algorithms.emit(out);
        }
    }
}

/// RAKP Message 1 (payload type 0x12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rakp1 {
    /// Message tag.
    pub tag: u8,
    /// The BMC's session id.
    pub bmc_session_id: u32,
    /// Remote console random number.
    pub console_random: [u8; 16],
    /// Requested role: privilege in bits 3:0, bit 4 set for name-only lookup.
    pub role: u8,
    /// User name (at most 16 bytes).
    pub username: Vec<u8>,
}

impl Rakp1 {
    /// Parse the payload.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let what = "RAKP Message 1";
        let (i, tag) = wire::ctx(what, u8_(data))?;
        let (i, _) = wire::ctx(what, take(3)(i))?;
        let (i, bmc_session_id) = wire::ctx(what, le_u32(i))?;
        let (i, console_random) = wire::ctx(what, array::<16>(i))?;
        let (i, role) = wire::ctx(what, u8_(i))?;
        let (i, _) = wire::ctx(what, take(2)(i))?;
        let (i, ulen) = wire::ctx(what, u8_(i))?;
        if ulen > 16 {
            return Err(Error::invalid(what, "user name longer than 16 bytes"));
        }
        let (_, name) = wire::ctx(what, take(ulen as usize)(i))?;
        Ok(Rakp1 {
            tag,
            bmc_session_id,
            console_random,
            role,
            username: name.to_vec(),
        })
    }

    /// Append the payload.
    pub fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.tag);
        out.put_bytes(0, 3);
        out.put_u32_le(self.bmc_session_id);
        out.put_slice(&self.console_random);
        out.put_u8(self.role);
        out.put_u16(0);
        let n = self.username.len().min(16);
        out.put_u8(n as u8);
        out.put_slice(&self.username[..n]);
    }
}

/// RAKP Message 2 (payload type 0x13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rakp2 {
    /// Message tag.
    pub tag: u8,
    /// Status.
    pub status: RakpStatus,
    /// The remote console's session id.
    pub console_session_id: u32,
    /// BMC random number (zero on error).
    pub bmc_random: [u8; 16],
    /// BMC GUID (zero on error).
    pub bmc_guid: [u8; 16],
    /// Key exchange authentication code (length set by the suite).
    pub code: Vec<u8>,
}

impl Rakp2 {
    /// Parse the payload. An error status may come with nothing after the console session id.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let what = "RAKP Message 2";
        let (i, tag) = wire::ctx(what, u8_(data))?;
        let (i, status) = wire::ctx(what, u8_(i))?;
        let status = RakpStatus::from_u8(status);
        let (i, _) = wire::ctx(what, take(2)(i))?;
        let (i, console_session_id) = wire::ctx(what, le_u32(i))?;
        if status != RakpStatus::NoErrors {
            return Ok(Rakp2 {
                tag,
                status,
                console_session_id,
                bmc_random: [0; 16],
                bmc_guid: [0; 16],
                code: Vec::new(),
            });
        }
        let (i, bmc_random) = wire::ctx(what, array::<16>(i))?;
        let (i, bmc_guid) = wire::ctx(what, array::<16>(i))?;
        if i.len() > 64 {
            return Err(Error::invalid(
                what,
                "key exchange code longer than 64 bytes",
            ));
        }
        Ok(Rakp2 {
            tag,
            status,
            console_session_id,
            bmc_random,
            bmc_guid,
            code: i.to_vec(),
        })
    }

    /// Append the payload (random, GUID and code only on success).
    pub fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.tag);
        out.put_u8(self.status.to_u8());
        out.put_u16(0);
        out.put_u32_le(self.console_session_id);
        if self.status == RakpStatus::NoErrors {
            out.put_slice(&self.bmc_random);
            out.put_slice(&self.bmc_guid);
            out.put_slice(&self.code);
        }
    }
}

/// RAKP Message 3 (payload type 0x14).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rakp3 {
    /// Message tag.
    pub tag: u8,
    /// Status (the console reports its own failures to the BMC with it).
    pub status: RakpStatus,
    /// The BMC's session id.
    pub bmc_session_id: u32,
    /// Key exchange authentication code.
    pub code: Vec<u8>,
}

impl Rakp3 {
    /// Parse the payload.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let what = "RAKP Message 3";
        let (i, tag) = wire::ctx(what, u8_(data))?;
        let (i, status) = wire::ctx(what, u8_(i))?;
        let (i, _) = wire::ctx(what, take(2)(i))?;
        let (i, bmc_session_id) = wire::ctx(what, le_u32(i))?;
        if i.len() > 64 {
            return Err(Error::invalid(
                what,
                "key exchange code longer than 64 bytes",
            ));
        }
        Ok(Rakp3 {
            tag,
            status: RakpStatus::from_u8(status),
            bmc_session_id,
            code: i.to_vec(),
        })
    }

    /// Append the payload.
    pub fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.tag);
        out.put_u8(self.status.to_u8());
        out.put_u16(0);
        out.put_u32_le(self.bmc_session_id);
        out.put_slice(&self.code);
    }
}

/// RAKP Message 4 (payload type 0x15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rakp4 {
    /// Message tag.
    pub tag: u8,
    /// Status.
    pub status: RakpStatus,
    /// The remote console's session id.
    pub console_session_id: u32,
    /// Integrity check value.
    pub icv: Vec<u8>,
}

impl Rakp4 {
    /// Parse the payload.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let what = "RAKP Message 4";
        let (i, tag) = wire::ctx(what, u8_(data))?;
        let (i, status) = wire::ctx(what, u8_(i))?;
        let (i, _) = wire::ctx(what, take(2)(i))?;
        let (i, console_session_id) = wire::ctx(what, le_u32(i))?;
        if i.len() > 64 {
            return Err(Error::invalid(
                what,
                "integrity check value longer than 64 bytes",
            ));
        }
        Ok(Rakp4 {
            tag,
            status: RakpStatus::from_u8(status),
            console_session_id,
            icv: i.to_vec(),
        })
    }

    /// Append the payload.
    pub fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.tag);
        out.put_u8(self.status.to_u8());
        out.put_u16(0);
        out.put_u32_le(self.console_session_id);
        out.put_slice(&self.icv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_session_round_trip() {
        let r = OpenSessionRequest {
            tag: 3,
            max_privilege: 4,
            console_session_id: 0xdead_beef,
            algorithms: Algorithms {
                auth: 3,
                integrity: 4,
                confidentiality: 1,
            },
        };
        let mut b = BytesMut::new();
        r.emit(&mut b);
        assert_eq!(b.len(), 32);
        assert_eq!(OpenSessionRequest::parse(&b).unwrap(), r);

        let resp = OpenSessionResponse {
            tag: 3,
            status: RakpStatus::NoErrors,
            max_privilege: 4,
            console_session_id: 0xdead_beef,
            accepted: Some(AcceptedSession {
                bmc_session_id: 0x4202,
                algorithms: r.algorithms,
            }),
        };
        let mut b = BytesMut::new();
        resp.emit(&mut b);
        assert_eq!(b.len(), 36);
        assert_eq!(OpenSessionResponse::parse(&b).unwrap(), resp);

        // An error response stops after the console session id.
        let err = OpenSessionResponse::parse(&[3, 0x11, 0, 0, 1, 0, 0, 0]).unwrap();
        assert_eq!(err.status, RakpStatus::NoCipherSuiteMatch);
        assert!(err.accepted.is_none());
    }

    #[test]
    fn rakp_round_trips() {
        let r1 = Rakp1 {
            tag: 1,
            bmc_session_id: 9,
            console_random: [4; 16],
            role: 0x14,
            username: b"admin".to_vec(),
        };
        let mut b = BytesMut::new();
        r1.emit(&mut b);
        assert_eq!(Rakp1::parse(&b).unwrap(), r1);

        let r2 = Rakp2 {
            tag: 1,
            status: RakpStatus::NoErrors,
            console_session_id: 7,
            bmc_random: [5; 16],
            bmc_guid: [6; 16],
            code: vec![1; 20],
        };
        let mut b = BytesMut::new();
        r2.emit(&mut b);
        assert_eq!(Rakp2::parse(&b).unwrap(), r2);

        let r3 = Rakp3 {
            tag: 1,
            status: RakpStatus::NoErrors,
            bmc_session_id: 9,
            code: vec![2; 32],
        };
        let mut b = BytesMut::new();
        r3.emit(&mut b);
        assert_eq!(Rakp3::parse(&b).unwrap(), r3);

        let r4 = Rakp4 {
            tag: 1,
            status: RakpStatus::NoErrors,
            console_session_id: 7,
            icv: vec![3; 12],
        };
        let mut b = BytesMut::new();
        r4.emit(&mut b);
        assert_eq!(Rakp4::parse(&b).unwrap(), r4);
    }
}
