//! The IPMI LAN message inside a session wrapper (IPMI v2.0 section 13.8, table 13-8):
//!
//! ```text
//! request:  rsAddr | netFn<<2 | rsLUN | chk1 | rqAddr | rqSeq<<2 | rqLUN | cmd | data.. | chk2
//! response: rqAddr | netFn<<2 | rqLUN | chk1 | rsAddr | rqSeq<<2 | rsLUN | cmd | cc | data.. | chk2
//! ```
//!
//! `chk1` covers the first two bytes, `chk2` everything from the fourth byte to the end of the
//! data. A response's net function is the request's plus one.

use bytes::{BufMut, BytesMut};

use crate::cmd::CompletionCode;
use crate::error::{Error, Result};
use crate::wire::checksum;

/// The BMC's slave address.
pub const BMC_SLAVE_ADDR: u8 = 0x20;
/// The software id that remote consoles use as requester address.
pub const REMOTE_CONSOLE_SWID: u8 = 0x81;

/// Network functions (even values are requests; the response is the next odd value).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NetFn {
    /// 0x00 Chassis.
    Chassis,
    /// 0x02 Bridge.
    Bridge,
    /// 0x04 Sensor/Event.
    SensorEvent,
    /// 0x06 Application.
    App,
    /// 0x08 Firmware.
    Firmware,
    /// 0x0A Storage (SDR, SEL, FRU).
    Storage,
    /// 0x0C Transport (LAN, SOL configuration).
    Transport,
    /// 0x2C Group extension (first data byte names the defining body).
    GroupExtension,
    /// 0x2E OEM/group (first three data bytes are an IANA number).
    OemGroup,
    /// Any other request net function (raw value, even).
    Other(u8),
}

impl NetFn {
    /// The request value (6 bits, even).
    pub fn request_value(self) -> u8 {
        match self {
            Self::Chassis => 0x00,
            Self::Bridge => 0x02,
            Self::SensorEvent => 0x04,
            Self::App => 0x06,
            Self::Firmware => 0x08,
            Self::Storage => 0x0a,
            Self::Transport => 0x0c,
            Self::GroupExtension => 0x2c,
            Self::OemGroup => 0x2e,
            Self::Other(v) => v & 0x3e,
        }
    }

    /// Decode a 6-bit net function; odd (response) values map to their request.
    pub fn from_value(v: u8) -> Self {
        match v & 0x3e {
            0x00 => Self::Chassis,
            0x02 => Self::Bridge,
            0x04 => Self::SensorEvent,
            0x06 => Self::App,
            0x08 => Self::Firmware,
            0x0a => Self::Storage,
            0x0c => Self::Transport,
            0x2c => Self::GroupExtension,
            0x2e => Self::OemGroup,
            other => Self::Other(other),
        }
    }
}

/// An IPMI request message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpmiRequest {
    /// Responder slave address (0x20 for the BMC).
    pub rs_addr: u8,
    /// Net function (request value).
    pub netfn: u8,
    /// Responder LUN (2 bits).
    pub rs_lun: u8,
    /// Requester address (0x81 for a remote console).
    pub rq_addr: u8,
    /// Request sequence number (6 bits).
    pub rq_seq: u8,
    /// Requester LUN.
    pub rq_lun: u8,
    /// Command number.
    pub cmd: u8,
    /// Request data.
    pub data: Vec<u8>,
}

/// An IPMI response message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpmiResponse {
    /// Requester address (echoed).
    pub rq_addr: u8,
    /// Net function (response value, odd).
    pub netfn: u8,
    /// Requester LUN.
    pub rq_lun: u8,
    /// Responder address.
    pub rs_addr: u8,
    /// Request sequence number (echoed).
    pub rq_seq: u8,
    /// Responder LUN.
    pub rs_lun: u8,
    /// Command number (echoed).
    pub cmd: u8,
    /// Completion code.
    pub completion: CompletionCode,
    /// Response data after the completion code (may be empty on errors).
    pub data: Vec<u8>,
}

fn split_checked(what: &'static str, data: &[u8], min: usize) -> Result<()> {
    if data.len() < min {
        return Err(Error::truncated(what));
    }
    if checksum(&data[..2]) != data[2] {
        return Err(Error::Checksum {
            what: "IPMI message header checksum",
        });
    }
    if checksum(&data[3..data.len() - 1]) != data[data.len() - 1] {
        return Err(Error::Checksum {
            what: "IPMI message data checksum",
        });
    }
    Ok(())
}

impl IpmiRequest {
    /// A request from a remote console (0x81) to the BMC (0x20), LUN 0.
    pub fn to_bmc(netfn: u8, cmd: u8, rq_seq: u8, data: Vec<u8>) -> Self {
        IpmiRequest {
            rs_addr: BMC_SLAVE_ADDR,
            netfn: netfn & 0x3e,
            rs_lun: 0,
            rq_addr: REMOTE_CONSOLE_SWID,
            rq_seq: rq_seq & 0x3f,
            rq_lun: 0,
            cmd,
            data,
        }
    }

    /// Parse a request message (checksums verified).
    pub fn parse(data: &[u8]) -> Result<Self> {
        split_checked("IPMI request", data, 7)?;
        Ok(IpmiRequest {
            rs_addr: data[0],
            netfn: data[1] >> 2,
            rs_lun: data[1] & 3,
            rq_addr: data[3],
            rq_seq: data[4] >> 2,
            rq_lun: data[4] & 3,
            cmd: data[5],
            data: data[6..data.len() - 1].to_vec(),
        })
    }

    /// Append the encoded request to `out`.
    pub fn emit(&self, out: &mut BytesMut) {
        let start = out.len();
        out.put_u8(self.rs_addr);
        out.put_u8((self.netfn << 2) | (self.rs_lun & 3));
        let c1 = checksum(&out[start..start + 2]);
        out.put_u8(c1);
        out.put_u8(self.rq_addr);
        out.put_u8((self.rq_seq << 2) | (self.rq_lun & 3));
        out.put_u8(self.cmd);
        out.put_slice(&self.data);
        let c2 = checksum(&out[start + 3..]);
        out.put_u8(c2);
    }

    /// The response to this request with completion code `completion` and `data`.
    pub fn response(&self, completion: CompletionCode, data: Vec<u8>) -> IpmiResponse {
        IpmiResponse {
            rq_addr: self.rq_addr,
            netfn: (self.netfn | 1) & 0x3f,
            rq_lun: self.rq_lun,
            rs_addr: self.rs_addr,
            rq_seq: self.rq_seq,
            rs_lun: self.rs_lun,
            cmd: self.cmd,
            completion,
            data,
        }
    }
}

impl IpmiResponse {
    /// Parse a response message (checksums verified). A response carrying only a completion
    /// code is accepted (BMCs answer errors that way).
    pub fn parse(data: &[u8]) -> Result<Self> {
        split_checked("IPMI response", data, 8)?;
        Ok(IpmiResponse {
            rq_addr: data[0],
            netfn: data[1] >> 2,
            rq_lun: data[1] & 3,
            rs_addr: data[3],
            rq_seq: data[4] >> 2,
            rs_lun: data[4] & 3,
            cmd: data[5],
            completion: CompletionCode::from_u8(data[6]),
            data: data[7..data.len() - 1].to_vec(),
        })
    }

    /// Append the encoded response to `out`.
    pub fn emit(&self, out: &mut BytesMut) {
        let start = out.len();
        out.put_u8(self.rq_addr);
        out.put_u8((self.netfn << 2) | (self.rq_lun & 3));
        let c1 = checksum(&out[start..start + 2]);
        out.put_u8(c1);
        out.put_u8(self.rs_addr);
        out.put_u8((self.rq_seq << 2) | (self.rs_lun & 3));
        out.put_u8(self.cmd);
        out.put_u8(self.completion.to_u8());
        out.put_slice(&self.data);
        let c2 = checksum(&out[start + 3..]);
        out.put_u8(c2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_channel_auth_caps_bytes() {
        // What ipmitool sends pre-session: 20 18 c8 81 00 38 8e 04 b5
        let r = IpmiRequest::to_bmc(0x06, 0x38, 0, vec![0x8e, 0x04]);
        let mut out = BytesMut::new();
        r.emit(&mut out);
        assert_eq!(
            &out[..],
            &[0x20, 0x18, 0xc8, 0x81, 0x00, 0x38, 0x8e, 0x04, 0xb5]
        );
        assert_eq!(IpmiRequest::parse(&out).unwrap(), r);
    }

    #[test]
    fn response_round_trip_and_bad_checksum() {
        let req = IpmiRequest::to_bmc(0x00, 0x01, 5, vec![]);
        let resp = req.response(CompletionCode::Ok, vec![0x01, 0x00, 0x40]);
        let mut out = BytesMut::new();
        resp.emit(&mut out);
        assert_eq!(IpmiResponse::parse(&out).unwrap(), resp);
        let mut bad = out.clone();
        let n = bad.len();
        bad[n - 2] ^= 1;
        assert!(matches!(
            IpmiResponse::parse(&bad),
            Err(Error::Checksum { .. })
        ));
    }
}
