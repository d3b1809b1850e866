//! Application net function (0x06): device identity and the session-management commands.

use bytes::{BufMut, BytesMut};

use super::{Privilege, Request, Response};
use crate::error::{Error, Result};
use crate::message::NetFn;
use crate::wire::{self, array, le_u16, le_u24, le_u32, u8_};

/// Get Device ID (App 0x01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GetDeviceId;

/// The Get Device ID response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId {
    /// Device ID.
    pub device_id: u8,
    /// Device revision (low 4 bits).
    pub device_revision: u8,
    /// Whether the device provides device SDRs.
    pub provides_sdrs: bool,
    /// False while the device firmware is updating or self-initialising.
    pub available: bool,
    /// Firmware major revision (7 bits).
    pub firmware_major: u8,
    /// Firmware minor revision, BCD-encoded.
    pub firmware_minor: u8,
    /// IPMI version byte, BCD with the digits swapped: 0x02 is 2.0, 0x51 is 1.5.
    pub ipmi_version: u8,
    /// Additional device support bits (sensor, SDR repository, SEL, FRU, ... chassis device).
    pub additional_support: u8,
    /// Manufacturer IANA number (20 bits).
    pub manufacturer_id: u32,
    /// Product ID.
    pub product_id: u16,
    /// Auxiliary firmware revision, when the BMC sends it.
    pub aux_firmware: Option<[u8; 4]>,
}

impl DeviceId {
    /// The IPMI version as (major, minor).
    pub fn ipmi_version(&self) -> (u8, u8) {
        (self.ipmi_version & 0x0f, self.ipmi_version >> 4)
    }

    /// Firmware revision as printed by ipmitool (`2.09`).
    pub fn firmware_revision(&self) -> String {
        format!("{}.{:02x}", self.firmware_major, self.firmware_minor)
    }
}

impl Request for GetDeviceId {
    type Response = DeviceId;
    const NETFN: NetFn = NetFn::App;
    const CMD: u8 = 0x01;
    fn emit(&self, _out: &mut BytesMut) {}
    fn parse(_data: &[u8]) -> Result<Self> {
        Ok(GetDeviceId)
    }
}

impl Response for DeviceId {
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get Device ID response";
        let (i, device_id) = wire::ctx(what, u8_(data))?;
        let (i, rev) = wire::ctx(what, u8_(i))?;
        let (i, fw1) = wire::ctx(what, u8_(i))?;
        let (i, fw2) = wire::ctx(what, u8_(i))?;
        let (i, ipmi_version) = wire::ctx(what, u8_(i))?;
        let (i, additional_support) = wire::ctx(what, u8_(i))?;
        let (i, manufacturer_id) = wire::ctx(what, le_u24(i))?;
        let (i, product_id) = wire::ctx(what, le_u16(i))?;
        // The auxiliary revision is optional: BMCs (ipmi_sim among them) omit it.
        let aux_firmware = array::<4>(i).ok().map(|(_, a)| a);
        Ok(DeviceId {
            device_id,
            device_revision: rev & 0x0f,
            provides_sdrs: rev & 0x80 != 0,
            available: fw1 & 0x80 == 0,
            firmware_major: fw1 & 0x7f,
            firmware_minor: fw2,
            ipmi_version,
            additional_support,
            manufacturer_id: manufacturer_id & 0x0f_ffff,
            product_id,
            aux_firmware,
        })
    }

    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.device_id);
        out.put_u8((self.device_revision & 0x0f) | if self.provides_sdrs { 0x80 } else { 0 });
        out.put_u8((self.firmware_major & 0x7f) | if self.available { 0 } else { 0x80 });
        out.put_u8(self.firmware_minor);
        out.put_u8(self.ipmi_version);
        out.put_u8(self.additional_support);
        let m = self.manufacturer_id & 0x0f_ffff;
        out.put_slice(&m.to_le_bytes()[..3]);
        out.put_u16_le(self.product_id);
        if let Some(aux) = self.aux_firmware {
            out.put_slice(&aux);
        }
    }
}

/// Get Channel Authentication Capabilities (App 0x38), sent before a session exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetChannelAuthCapabilities {
    /// Channel number; 0x0E is "the channel this request arrives on".
    pub channel: u8,
    /// Ask for IPMI v2.0 extended data (bit 7 of the channel byte).
    pub ipmi20: bool,
    /// The privilege level the console intends to request.
    pub privilege: Privilege,
}

/// The Get Channel Authentication Capabilities response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelAuthCapabilities {
    /// Channel number.
    pub channel: u8,
    /// Authentication type support bits (bit 7: IPMI v2.0 extended capabilities present;
    /// bit 5 OEM, bit 4 straight password, bit 2 MD5, bit 1 MD2, bit 0 none).
    pub auth_types: u8,
    /// Bit 5: a non-zero K_g is set; bit 4: per-message authentication disabled; bit 3: user-level
    /// authentication disabled; bits 2..0: non-null users, null users, anonymous login enabled.
    pub flags: u8,
    /// Bit 1: IPMI v2.0 connections supported; bit 0: IPMI v1.5 supported.
    pub extended: u8,
    /// OEM IANA number.
    pub oem_id: u32,
    /// OEM auxiliary data.
    pub oem_aux: u8,
}

impl ChannelAuthCapabilities {
    /// Whether the channel accepts RMCP+ sessions.
    pub fn supports_ipmi20(&self) -> bool {
        self.auth_types & 0x80 != 0 && self.extended & 0x02 != 0
    }

    /// Whether the BMC has a non-zero K_g (two-key login) configured.
    pub fn kg_set(&self) -> bool {
        self.flags & 0x20 != 0
    }
}

impl Request for GetChannelAuthCapabilities {
    type Response = ChannelAuthCapabilities;
    const NETFN: NetFn = NetFn::App;
    const CMD: u8 = 0x38;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8((self.channel & 0x0f) | if self.ipmi20 { 0x80 } else { 0 });
        out.put_u8(self.privilege.to_u8());
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get Channel Auth Capabilities request";
        let (i, ch) = wire::ctx(what, u8_(data))?;
        let (_, p) = wire::ctx(what, u8_(i))?;
        Ok(GetChannelAuthCapabilities {
            channel: ch & 0x0f,
            ipmi20: ch & 0x80 != 0,
            privilege: Privilege::from_u8(p)
                .ok_or_else(|| Error::invalid(what, "reserved privilege level"))?,
        })
    }
}

impl Response for ChannelAuthCapabilities {
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get Channel Auth Capabilities response";
        let (i, channel) = wire::ctx(what, u8_(data))?;
        let (i, auth_types) = wire::ctx(what, u8_(i))?;
        let (i, flags) = wire::ctx(what, u8_(i))?;
        let (i, extended) = wire::ctx(what, u8_(i))?;
        let (i, oem_id) = wire::ctx(what, le_u24(i))?;
        let (_, oem_aux) = wire::ctx(what, u8_(i))?;
        Ok(ChannelAuthCapabilities {
            channel,
            auth_types,
            flags,
            extended,
            oem_id,
            oem_aux,
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.channel);
        out.put_u8(self.auth_types);
        out.put_u8(self.flags);
        out.put_u8(self.extended);
        out.put_slice(&self.oem_id.to_le_bytes()[..3]);
        out.put_u8(self.oem_aux);
    }
}

/// Get Channel Cipher Suites (App 0x54): one page (16 bytes) of the suite records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetChannelCipherSuites {
    /// Channel number (0x0E: this channel).
    pub channel: u8,
    /// Payload type the suites are listed for (0 = IPMI).
    pub payload_type: u8,
    /// Page index (0..=63).
    pub index: u8,
}

/// One page of cipher suite record data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CipherSuitesPage {
    /// Channel number.
    pub channel: u8,
    /// Up to 16 bytes of record data; a shorter page is the last.
    pub records: Vec<u8>,
}

impl Request for GetChannelCipherSuites {
    type Response = CipherSuitesPage;
    const NETFN: NetFn = NetFn::App;
    const CMD: u8 = 0x54;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.channel & 0x0f);
        out.put_u8(self.payload_type);
        // Bit 7: list algorithms by cipher suite.
        out.put_u8(0x80 | (self.index & 0x3f));
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get Channel Cipher Suites request";
        let (i, ch) = wire::ctx(what, u8_(data))?;
        let (i, payload_type) = wire::ctx(what, u8_(i))?;
        let (_, idx) = wire::ctx(what, u8_(i))?;
        Ok(GetChannelCipherSuites {
            channel: ch & 0x0f,
            payload_type,
            index: idx & 0x3f,
        })
    }
}

impl Response for CipherSuitesPage {
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get Channel Cipher Suites response";
        let (rest, channel) = wire::ctx(what, u8_(data))?;
        if rest.len() > 16 {
            return Err(Error::invalid(what, "more than 16 bytes of record data"));
        }
        Ok(CipherSuitesPage {
            channel,
            records: rest.to_vec(),
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.channel);
        out.put_slice(&self.records[..self.records.len().min(16)]);
    }
}

/// Decode concatenated cipher suite records into suite ids (IPMI v2.0 table 22-18):
/// `0xC0 id alg..` for standard suites, `0xC1 id iana(3) alg..` for OEM ones.
pub fn parse_cipher_suite_records(data: &[u8]) -> Vec<u8> {
    let mut ids = Vec::new();
    let mut i = 0;
    while i < data.len() {
        match data[i] {
            0xc0 | 0xc1 if i + 1 < data.len() => {
                if data[i] == 0xc0 {
                    ids.push(data[i + 1]);
                }
                i += if data[i] == 0xc1 { 5 } else { 2 };
                // Skip the algorithm bytes (tagged 00/01/10 in the top two bits).
                while i < data.len() && data[i] & 0xc0 != 0xc0 {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    ids
}

/// Encode suite records for the given suites (the BMC side).
pub fn emit_cipher_suite_records(suites: &[crate::crypto::CipherSuite]) -> Vec<u8> {
    let mut v = Vec::new();
    for s in suites {
        v.push(0xc0);
        v.push(s.id);
        v.push(s.auth.number());
        v.push(0x40 | s.integrity.number());
        v.push(0x80 | s.confidentiality.number());
    }
    v
}

/// Set Session Privilege Level (App 0x3B).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetSessionPrivilegeLevel {
    /// The level to switch to; `None` asks for the current level without changing it.
    pub privilege: Option<Privilege>,
}

/// The new privilege level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPrivilegeLevel(pub u8);

impl Request for SetSessionPrivilegeLevel {
    type Response = SessionPrivilegeLevel;
    const NETFN: NetFn = NetFn::App;
    const CMD: u8 = 0x3b;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.privilege.map_or(0, Privilege::to_u8));
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let (_, p) = wire::ctx("Set Session Privilege Level request", u8_(data))?;
        Ok(SetSessionPrivilegeLevel {
            privilege: Privilege::from_u8(p),
        })
    }
}

impl Response for SessionPrivilegeLevel {
    fn parse(data: &[u8]) -> Result<Self> {
        let (_, p) = wire::ctx("Set Session Privilege Level response", u8_(data))?;
        Ok(SessionPrivilegeLevel(p & 0x0f))
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.0);
    }
}

/// Close Session (App 0x3C).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseSession {
    /// The BMC's (managed system's) session id.
    pub session_id: u32,
}

impl Request for CloseSession {
    type Response = ();
    const NETFN: NetFn = NetFn::App;
    const CMD: u8 = 0x3c;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u32_le(self.session_id);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let (_, session_id) = wire::ctx("Close Session request", le_u32(data))?;
        Ok(CloseSession { session_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt<T: Response + PartialEq + std::fmt::Debug>(v: T) {
        let mut b = BytesMut::new();
        v.emit(&mut b);
        assert_eq!(T::parse(&b).unwrap(), v);
    }

    #[test]
    fn device_id_with_and_without_aux() {
        let mut d = DeviceId {
            device_id: 0x20,
            device_revision: 3,
            provides_sdrs: true,
            available: true,
            firmware_major: 2,
            firmware_minor: 0x09,
            ipmi_version: 0x02,
            additional_support: 0x9f,
            manufacturer_id: 0x1291,
            product_id: 0x0f02,
            aux_firmware: Some([1, 2, 3, 4]),
        };
        rt(d.clone());
        d.aux_firmware = None;
        rt(d.clone());
        assert_eq!(d.ipmi_version(), (2, 0));
        assert_eq!(d.firmware_revision(), "2.09");
    }

    #[test]
    fn cipher_suite_records() {
        // ipmi_sim style: suites 1, 2, 3 then an OEM record, then 17.
        let data = [
            0xc0, 0x01, 0x01, 0x40, 0x80, 0xc0, 0x02, 0x01, 0x41, 0x80, 0xc0, 0x03, 0x01, 0x41,
            0x81, 0xc1, 0x50, 0x11, 0x22, 0x33, 0x01, 0xc0, 0x11, 0x03, 0x44, 0x81,
        ];
        assert_eq!(parse_cipher_suite_records(&data), vec![1, 2, 3, 0x11]);
        let suites = [
            crate::crypto::CipherSuite::by_id(3).unwrap(),
            crate::crypto::CipherSuite::by_id(17).unwrap(),
        ];
        assert_eq!(
            parse_cipher_suite_records(&emit_cipher_suite_records(&suites)),
            vec![3, 17]
        );
    }

    #[test]
    fn auth_caps_round_trip() {
        rt(ChannelAuthCapabilities {
            channel: 1,
            auth_types: 0x97,
            flags: 0x04,
            extended: 0x03,
            oem_id: 0,
            oem_aux: 0,
        });
    }
}
