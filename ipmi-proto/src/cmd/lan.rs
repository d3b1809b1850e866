//! LAN configuration (Transport net function 0x0C; IPMI v2.0 section 23): Get and Set LAN
//! Configuration Parameters with typed parameters for the addresses a provisioning tool cares
//! about.
//!
//! The Get response does not repeat the parameter selector, so [`LanConfigParameters`] keeps
//! the raw data and [`LanConfigParameters::parameter`] types it given the selector asked for.
//!
//! ```
//! use ipmi_proto::cmd::Request;
//! use ipmi_proto::cmd::lan::{LanParameter, SetLanConfigParameters};
//! let mut data = bytes::BytesMut::new();
//! SetLanConfigParameters {
//!     channel: 1,
//!     parameter: LanParameter::IpAddress([192, 168, 1, 10].into()),
//! }
//! .emit(&mut data);
//! assert_eq!(&data[..], &[0x01, 0x03, 192, 168, 1, 10]);
//! ```

use std::net::Ipv4Addr;

use bytes::{BufMut, BytesMut};

use super::{Request, Response};
use crate::error::Result;
use crate::message::NetFn;
use crate::wire::{self, array, le_u16, u8_};

/// The parameter revision BMCs report (1.1).
pub const LAN_PARAMETER_REVISION: u8 = 0x11;

/// How the BMC gets its IP address (parameter 4, bits 3:0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IpSource {
    /// 0: unspecified.
    Unspecified,
    /// 1: static address (manually configured).
    Static,
    /// 2: address obtained by the BMC running DHCP.
    Dhcp,
    /// 3: address loaded by the BIOS or system software.
    Bios,
    /// 4: address obtained by another assignment protocol.
    Other,
    /// A reserved value (4 bits).
    Reserved(u8),
}

impl IpSource {
    /// Decode the 4-bit value.
    pub fn from_u8(v: u8) -> Self {
        match v & 0x0f {
            0 => Self::Unspecified,
            1 => Self::Static,
            2 => Self::Dhcp,
            3 => Self::Bios,
            4 => Self::Other,
            v => Self::Reserved(v),
        }
    }

    /// The 4-bit value.
    pub fn to_u8(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::Static => 1,
            Self::Dhcp => 2,
            Self::Bios => 3,
            Self::Other => 4,
            Self::Reserved(v) => v & 0x0f,
        }
    }
}

/// A LAN configuration parameter (IPMI v2.0 table 23-4), by selector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LanParameter {
    /// 0: set in progress (0 set complete, 1 set in progress, 2 commit write).
    SetInProgress(u8),
    /// 3: IP address.
    IpAddress(Ipv4Addr),
    /// 4: IP address source.
    IpSource(IpSource),
    /// 5: MAC address.
    MacAddress([u8; 6]),
    /// 6: subnet mask.
    SubnetMask(Ipv4Addr),
    /// 12: default gateway address.
    DefaultGateway(Ipv4Addr),
    /// 20: 802.1q VLAN id.
    VlanId {
        /// VLAN tagging is enabled.
        enabled: bool,
        /// VLAN id (12 bits).
        id: u16,
    },
    /// Any other parameter with its raw data.
    Other {
        /// Parameter selector.
        selector: u8,
        /// Parameter data.
        data: Vec<u8>,
    },
}

impl LanParameter {
    /// Selector of [`LanParameter::SetInProgress`].
    pub const SET_IN_PROGRESS: u8 = 0;
    /// Selector of [`LanParameter::IpAddress`].
    pub const IP_ADDRESS: u8 = 3;
    /// Selector of [`LanParameter::IpSource`].
    pub const IP_SOURCE: u8 = 4;
    /// Selector of [`LanParameter::MacAddress`].
    pub const MAC_ADDRESS: u8 = 5;
    /// Selector of [`LanParameter::SubnetMask`].
    pub const SUBNET_MASK: u8 = 6;
    /// Selector of [`LanParameter::DefaultGateway`].
    pub const DEFAULT_GATEWAY: u8 = 12;
    /// Selector of [`LanParameter::VlanId`].
    pub const VLAN_ID: u8 = 20;

    /// The parameter selector.
    pub fn selector(&self) -> u8 {
        match self {
            Self::SetInProgress(_) => Self::SET_IN_PROGRESS,
            Self::IpAddress(_) => Self::IP_ADDRESS,
            Self::IpSource(_) => Self::IP_SOURCE,
            Self::MacAddress(_) => Self::MAC_ADDRESS,
            Self::SubnetMask(_) => Self::SUBNET_MASK,
            Self::DefaultGateway(_) => Self::DEFAULT_GATEWAY,
            Self::VlanId { .. } => Self::VLAN_ID,
            Self::Other { selector, .. } => *selector,
        }
    }

    /// Append the parameter data (without the selector).
    pub fn emit_data(&self, out: &mut BytesMut) {
        match self {
            Self::SetInProgress(v) => out.put_u8(v & 3),
            Self::IpAddress(a) | Self::SubnetMask(a) | Self::DefaultGateway(a) => {
                out.put_slice(&a.octets());
            }
            Self::IpSource(s) => out.put_u8(s.to_u8()),
            Self::MacAddress(m) => out.put_slice(m),
            Self::VlanId { enabled, id } => {
                out.put_u16_le((id & 0x0fff) | if *enabled { 0x8000 } else { 0 });
            }
            Self::Other { data, .. } => out.put_slice(data),
        }
    }

    /// Type the data of parameter `selector` (bytes after the parameter are ignored).
    pub fn parse(selector: u8, data: &[u8]) -> Result<Self> {
        let what = "LAN configuration parameter";
        let ipv4 = |d: &[u8]| -> Result<Ipv4Addr> {
            let (_, a) = wire::ctx(what, array::<4>(d))?;
            Ok(Ipv4Addr::from(a))
        };
        Ok(match selector {
            Self::SET_IN_PROGRESS => Self::SetInProgress(wire::ctx(what, u8_(data))?.1 & 3),
            Self::IP_ADDRESS => Self::IpAddress(ipv4(data)?),
            Self::IP_SOURCE => Self::IpSource(IpSource::from_u8(wire::ctx(what, u8_(data))?.1)),
            Self::MAC_ADDRESS => Self::MacAddress(wire::ctx(what, array::<6>(data))?.1),
            Self::SUBNET_MASK => Self::SubnetMask(ipv4(data)?),
            Self::DEFAULT_GATEWAY => Self::DefaultGateway(ipv4(data)?),
            Self::VLAN_ID => {
                let (_, v) = wire::ctx(what, le_u16(data))?;
                Self::VlanId {
                    enabled: v & 0x8000 != 0,
                    id: v & 0x0fff,
                }
            }
            s => Self::Other {
                selector: s,
                data: data.to_vec(),
            },
        })
    }
}

/// Set LAN Configuration Parameters (Transport 0x01).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetLanConfigParameters {
    /// Channel number (4 bits; 0x0E is the channel the request arrives on).
    pub channel: u8,
    /// The parameter and its new value.
    pub parameter: LanParameter,
}

impl Request for SetLanConfigParameters {
    type Response = ();
    const NETFN: NetFn = NetFn::Transport;
    const CMD: u8 = 0x01;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.channel & 0x0f);
        out.put_u8(self.parameter.selector());
        self.parameter.emit_data(out);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Set LAN Configuration Parameters request";
        let (i, channel) = wire::ctx(what, u8_(data))?;
        let (i, selector) = wire::ctx(what, u8_(i))?;
        Ok(SetLanConfigParameters {
            channel: channel & 0x0f,
            parameter: LanParameter::parse(selector, i)?,
        })
    }
}

/// Get LAN Configuration Parameters (Transport 0x02).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetLanConfigParameters {
    /// Channel number (4 bits).
    pub channel: u8,
    /// Ask for the parameter revision only (bit 7 of the channel byte).
    pub revision_only: bool,
    /// Parameter selector.
    pub selector: u8,
    /// Set selector (0 when the parameter has no sets).
    pub set: u8,
    /// Block selector (0 when the parameter has no blocks).
    pub block: u8,
}

impl GetLanConfigParameters {
    /// Ask for parameter `selector` of `channel` (set and block 0).
    pub fn parameter(channel: u8, selector: u8) -> Self {
        GetLanConfigParameters {
            channel,
            revision_only: false,
            selector,
            set: 0,
            block: 0,
        }
    }
}

/// The Get LAN Configuration Parameters response: the parameter revision and raw data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LanConfigParameters {
    /// Parameter revision ([`LAN_PARAMETER_REVISION`]).
    pub revision: u8,
    /// Parameter data (empty when only the revision was asked for).
    pub data: Vec<u8>,
}

impl LanConfigParameters {
    /// The data typed as parameter `selector` (the one the request asked for).
    pub fn parameter(&self, selector: u8) -> Result<LanParameter> {
        LanParameter::parse(selector, &self.data)
    }
}

impl Request for GetLanConfigParameters {
    type Response = LanConfigParameters;
    const NETFN: NetFn = NetFn::Transport;
    const CMD: u8 = 0x02;
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8((self.channel & 0x0f) | if self.revision_only { 0x80 } else { 0 });
        out.put_u8(self.selector);
        out.put_u8(self.set);
        out.put_u8(self.block);
    }
    fn parse(data: &[u8]) -> Result<Self> {
        let what = "Get LAN Configuration Parameters request";
        let (i, channel) = wire::ctx(what, u8_(data))?;
        let (i, selector) = wire::ctx(what, u8_(i))?;
        let (i, set) = wire::ctx(what, u8_(i))?;
        let (_, block) = wire::ctx(what, u8_(i))?;
        Ok(GetLanConfigParameters {
            channel: channel & 0x0f,
            revision_only: channel & 0x80 != 0,
            selector,
            set,
            block,
        })
    }
}

impl Response for LanConfigParameters {
    fn parse(data: &[u8]) -> Result<Self> {
        let (rest, revision) = wire::ctx("Get LAN Configuration Parameters response", u8_(data))?;
        Ok(LanConfigParameters {
            revision,
            data: rest.to_vec(),
        })
    }
    fn emit(&self, out: &mut BytesMut) {
        out.put_u8(self.revision);
        out.put_slice(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use proptest::prelude::*;

    fn set_bytes(p: LanParameter) -> Vec<u8> {
        let req = SetLanConfigParameters {
            channel: 1,
            parameter: p,
        };
        let mut b = BytesMut::new();
        req.emit(&mut b);
        assert_eq!(SetLanConfigParameters::parse(&b).expect("parse"), req);
        b.to_vec()
    }

    #[test]
    fn set_known_answers() {
        // ipmitool lan set 1 ipaddr 192.168.1.10
        assert_eq!(
            set_bytes(LanParameter::IpAddress(Ipv4Addr::new(192, 168, 1, 10))),
            vec![0x01, 0x03, 0xc0, 0xa8, 0x01, 0x0a]
        );
        // ipmitool lan set 1 ipsrc static
        assert_eq!(
            set_bytes(LanParameter::IpSource(IpSource::Static)),
            vec![0x01, 0x04, 0x01]
        );
        // ipmitool lan set 1 netmask 255.255.255.0
        assert_eq!(
            set_bytes(LanParameter::SubnetMask(Ipv4Addr::new(255, 255, 255, 0))),
            vec![0x01, 0x06, 0xff, 0xff, 0xff, 0x00]
        );
        // ipmitool lan set 1 defgw ipaddr 192.168.1.1
        assert_eq!(
            set_bytes(LanParameter::DefaultGateway(Ipv4Addr::new(192, 168, 1, 1))),
            vec![0x01, 0x0c, 0xc0, 0xa8, 0x01, 0x01]
        );
        // ipmitool lan set 1 vlan id 100
        assert_eq!(
            set_bytes(LanParameter::VlanId {
                enabled: true,
                id: 100
            }),
            vec![0x01, 0x14, 0x64, 0x80]
        );
        // ipmitool lan set 1 vlan id off
        assert_eq!(
            set_bytes(LanParameter::VlanId {
                enabled: false,
                id: 0
            }),
            vec![0x01, 0x14, 0x00, 0x00]
        );
        assert_eq!(
            set_bytes(LanParameter::MacAddress([0, 0x0e, 0x0c, 0xaa, 0x8e, 0x13])),
            vec![0x01, 0x05, 0x00, 0x0e, 0x0c, 0xaa, 0x8e, 0x13]
        );
        assert_eq!(
            set_bytes(LanParameter::Other {
                selector: 13,
                data: vec![1, 2, 3, 4, 5, 6]
            }),
            vec![0x01, 0x0d, 1, 2, 3, 4, 5, 6]
        );
        assert_eq!(
            set_bytes(LanParameter::SetInProgress(1)),
            vec![0x01, 0x00, 0x01]
        );
    }

    #[test]
    fn get_known_answers() {
        let req = GetLanConfigParameters::parameter(1, LanParameter::MAC_ADDRESS);
        let mut b = BytesMut::new();
        req.emit(&mut b);
        assert_eq!(&b[..], &[0x01, 0x05, 0x00, 0x00]);
        assert_eq!(GetLanConfigParameters::parse(&b).expect("parse"), req);

        let resp =
            LanConfigParameters::parse(&[0x11, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56]).expect("parse");
        assert_eq!(resp.revision, LAN_PARAMETER_REVISION);
        assert_eq!(
            resp.parameter(LanParameter::MAC_ADDRESS).expect("typed"),
            LanParameter::MacAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56])
        );
        let resp = LanConfigParameters::parse(&[0x11, 0x02]).expect("parse");
        assert_eq!(
            resp.parameter(LanParameter::IP_SOURCE).expect("typed"),
            LanParameter::IpSource(IpSource::Dhcp)
        );
        // A short address is a typed error.
        let resp = LanConfigParameters::parse(&[0x11, 10, 0]).expect("parse");
        assert!(matches!(
            resp.parameter(LanParameter::IP_ADDRESS),
            Err(Error::Truncated { .. })
        ));
        assert!(LanConfigParameters::parse(&[]).is_err());
        let resp = LanConfigParameters::parse(&[0x11, 0x0e, 0x85]).expect("parse");
        assert_eq!(
            resp.parameter(LanParameter::VLAN_ID).expect("typed"),
            LanParameter::VlanId {
                enabled: true,
                id: 0x50e
            }
        );
    }

    fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
        any::<[u8; 4]>().prop_map(Ipv4Addr::from)
    }

    fn parameter() -> impl Strategy<Value = LanParameter> {
        prop_oneof![
            (0u8..4).prop_map(LanParameter::SetInProgress),
            ipv4().prop_map(LanParameter::IpAddress),
            (0u8..16).prop_map(|v| LanParameter::IpSource(IpSource::from_u8(v))),
            any::<[u8; 6]>().prop_map(LanParameter::MacAddress),
            ipv4().prop_map(LanParameter::SubnetMask),
            ipv4().prop_map(LanParameter::DefaultGateway),
            (any::<bool>(), 0u16..0x1000)
                .prop_map(|(enabled, id)| LanParameter::VlanId { enabled, id }),
            (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..32))
                .prop_filter("typed selector", |(s, _)| ![0, 3, 4, 5, 6, 12, 20]
                    .contains(s))
                .prop_map(|(selector, data)| LanParameter::Other { selector, data }),
        ]
    }

    proptest! {
        #[test]
        fn parsers_never_panic(sel in any::<u8>(), data in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = LanParameter::parse(sel, &data);
            let _ = SetLanConfigParameters::parse(&data);
            let _ = GetLanConfigParameters::parse(&data);
            if let Ok(r) = LanConfigParameters::parse(&data) {
                let _ = r.parameter(sel);
            }
        }

        #[test]
        fn round_trips(p in parameter(), channel in 0u8..16, rev in any::<bool>(),
                       set in any::<u8>(), block in any::<u8>()) {
            let req = SetLanConfigParameters { channel, parameter: p.clone() };
            let mut b = BytesMut::new();
            req.emit(&mut b);
            prop_assert_eq!(SetLanConfigParameters::parse(&b).expect("parse"), req);

            let get = GetLanConfigParameters {
                channel, revision_only: rev, selector: p.selector(), set, block,
            };
            let mut b = BytesMut::new();
            get.emit(&mut b);
            prop_assert_eq!(GetLanConfigParameters::parse(&b).expect("parse"), get);

            let mut data = BytesMut::new();
            p.emit_data(&mut data);
            let resp = LanConfigParameters { revision: LAN_PARAMETER_REVISION, data: data.to_vec() };
            let mut b = BytesMut::new();
            resp.emit(&mut b);
            let back = LanConfigParameters::parse(&b).expect("parse");
            prop_assert_eq!(&back, &resp);
            prop_assert_eq!(back.parameter(p.selector()).expect("typed"), p);
        }
    }
}
