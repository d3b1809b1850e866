//! Property tests: every wire message of the session layer and the app/chassis commands
//! survives emit → parse unchanged, and no parser panics on arbitrary bytes.

use bytes::BytesMut;
use ipmi_proto::cmd::app::{
    ChannelAuthCapabilities, CipherSuitesPage, CloseSession, DeviceId, GetChannelAuthCapabilities,
    GetChannelCipherSuites, SetSessionPrivilegeLevel,
};
use ipmi_proto::cmd::chassis::{
    BootDevice, BootFlags, BootMode, BootParameter, BootPersistence, ChassisControl, ChassisStatus,
    GetSystemBootOptions, PowerRestorePolicy, SetSystemBootOptions, SystemBootOptions,
};
use ipmi_proto::cmd::{CompletionCode, Privilege, Request, Response};
use ipmi_proto::message::{IpmiRequest, IpmiResponse};
use ipmi_proto::packet::{AuthType, Ipmi15Packet, Ipmi20Header, Ipmi20Packet, Packet, PayloadType};
use ipmi_proto::rakp::{
    AcceptedSession, Algorithms, OpenSessionRequest, OpenSessionResponse, Rakp1, Rakp2, Rakp3,
    Rakp4, RakpStatus,
};
use ipmi_proto::rmcp::AsfMessage;
use proptest::prelude::*;

fn privilege() -> impl Strategy<Value = Privilege> {
    prop_oneof![
        Just(Privilege::Callback),
        Just(Privilege::User),
        Just(Privilege::Operator),
        Just(Privilege::Administrator),
        Just(Privilege::Oem),
    ]
}

fn algorithms() -> impl Strategy<Value = Algorithms> {
    (0u8..64, 0u8..64, 0u8..64).prop_map(|(auth, integrity, confidentiality)| Algorithms {
        auth,
        integrity,
        confidentiality,
    })
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn rt_resp<T: Response + PartialEq + std::fmt::Debug>(v: T) -> Result<(), TestCaseError> {
    let mut b = BytesMut::new();
    v.emit(&mut b);
    prop_assert_eq!(T::parse(&b).ok(), Some(v));
    Ok(())
}

fn rt_req<T: Request + PartialEq + std::fmt::Debug>(v: T) -> Result<(), TestCaseError> {
    let mut b = BytesMut::new();
    v.emit(&mut b);
    prop_assert_eq!(T::parse(&b).ok(), Some(v));
    Ok(())
}

proptest! {
    #[test]
    fn ipmi_messages(netfn in 0u8..32, cmd: u8, seq in 0u8..64, data in bytes(64), cc: u8) {
        let req = IpmiRequest::to_bmc(netfn * 2, cmd, seq, data.clone());
        let mut b = BytesMut::new();
        req.emit(&mut b);
        prop_assert_eq!(IpmiRequest::parse(&b).ok(), Some(req.clone()));
        let resp = req.response(CompletionCode::from_u8(cc), data);
        let mut b = BytesMut::new();
        resp.emit(&mut b);
        prop_assert_eq!(IpmiResponse::parse(&b).ok(), Some(resp));
    }

    #[test]
    fn session_wrappers(payload in bytes(200), sid: u32, seq: u32, auth: bool, enc: bool, pt in prop_oneof![Just(PayloadType::Ipmi), Just(PayloadType::Sol), Just(PayloadType::Rakp1), (any::<u32>(), any::<u16>()).prop_map(|(iana, id)| PayloadType::OemExplicit { iana, id })]) {
        let h = Ipmi20Header { payload_type: pt, encrypted: enc, authenticated: auth, session_id: sid, sequence: seq };
        let mut out = BytesMut::new();
        Ipmi20Packet::emit_unsigned(&h, &payload, &mut out).unwrap();
        if auth { out.extend_from_slice(&[7u8; 16]); }
        match Packet::parse(&out, 16).unwrap() {
            Packet::Ipmi20(p) => { prop_assert_eq!(p.header, h); prop_assert_eq!(p.payload, &payload[..]); }
            other => prop_assert!(false, "{:?}", other),
        }
        let v15 = Ipmi15Packet { auth_type: AuthType::None, sequence: seq, session_id: sid, auth_code: None, payload: &payload };
        let mut out = BytesMut::new();
        v15.emit(&mut out).unwrap();
        prop_assert_eq!(Packet::parse(&out, 0).ok(), Some(Packet::Ipmi15(v15)));
    }

    #[test]
    fn asf(tag: u8, iana: u32, oem: u32, e: u8, i: u8) {
        for m in [AsfMessage::Ping { tag }, AsfMessage::Pong { tag, iana, oem, entities: e, interactions: i }] {
            let d = m.to_datagram();
            prop_assert_eq!(Packet::parse(&d, 0).ok(), Some(Packet::Asf(m)));
        }
    }

    #[test]
    fn rakp_messages(tag: u8, status: u8, p in 0u8..16, csid: u32, bsid: u32, a in algorithms(), r1: [u8; 16], r2: [u8; 16], name in bytes(17), code in bytes(65)) {
        macro_rules! rt { ($v:expr, $t:ty) => {{ let v = $v; let mut b = BytesMut::new(); v.emit(&mut b); prop_assert_eq!(<$t>::parse(&b).ok(), Some(v)); }} }
        rt!(OpenSessionRequest { tag, max_privilege: p, console_session_id: csid, algorithms: a }, OpenSessionRequest);
        let status = RakpStatus::from_u8(status);
        let ok = status == RakpStatus::NoErrors;
        rt!(OpenSessionResponse { tag, status, max_privilege: p, console_session_id: csid, accepted: ok.then_some(AcceptedSession { bmc_session_id: bsid, algorithms: a }) }, OpenSessionResponse);
        let name = name[..name.len().min(16)].to_vec();
        rt!(Rakp1 { tag, bmc_session_id: bsid, console_random: r1, role: p, username: name }, Rakp1);
        let code = code[..code.len().min(64)].to_vec();
        rt!(Rakp2 { tag, status, console_session_id: csid, bmc_random: if ok { r2 } else { [0; 16] }, bmc_guid: if ok { r1 } else { [0; 16] }, code: if ok { code.clone() } else { Vec::new() } }, Rakp2);
        rt!(Rakp3 { tag, status, bmc_session_id: bsid, code: code.clone() }, Rakp3);
        rt!(Rakp4 { tag, status, console_session_id: csid, icv: code }, Rakp4);
    }

    #[test]
    fn app_commands(ch in 0u8..16, v2: bool, p in privilege(), idx in 0u8..64, records in bytes(17), sid: u32, d in any::<[u8; 15]>(), aux: bool) {
        rt_req(GetChannelAuthCapabilities { channel: ch, ipmi20: v2, privilege: p })?;
        rt_req(GetChannelCipherSuites { channel: ch, payload_type: d[0], index: idx })?;
        rt_req(SetSessionPrivilegeLevel { privilege: Some(p) })?;
        rt_req(CloseSession { session_id: sid })?;
        rt_resp(CipherSuitesPage { channel: ch, records: records[..records.len().min(16)].to_vec() })?;
        rt_resp(ChannelAuthCapabilities { channel: d[0], auth_types: d[1], flags: d[2], extended: d[3], oem_id: u32::from_le_bytes([d[4], d[5], d[6], 0]), oem_aux: d[7] })?;
        rt_resp(DeviceId {
            device_id: d[0], device_revision: d[1] & 0x0f, provides_sdrs: d[2] & 1 != 0, available: d[2] & 2 != 0,
            firmware_major: d[3] & 0x7f, firmware_minor: d[4], ipmi_version: d[5], additional_support: d[6],
            manufacturer_id: u32::from_le_bytes([d[7], d[8], d[9] & 0x0f, 0]), product_id: u16::from_le_bytes([d[10], d[11]]),
            aux_firmware: aux.then_some([d[12], d[13], d[14], d[0]]),
        })?;
    }

    #[test]
    fn chassis_commands(bits in any::<[u8; 8]>(), sel in 6u8..128, data in bytes(16), fp: bool) {
        let policies = [PowerRestorePolicy::AlwaysOff, PowerRestorePolicy::Previous, PowerRestorePolicy::AlwaysOn, PowerRestorePolicy::Unknown];
        rt_resp(ChassisStatus {
            power_on: bits[0] & 1 != 0, overload: bits[0] & 2 != 0, interlock: bits[0] & 4 != 0, power_fault: bits[0] & 8 != 0,
            control_fault: bits[0] & 16 != 0, restore_policy: policies[usize::from(bits[1] % 4)], last_event: bits[2], misc: bits[3],
            front_panel: fp.then_some(bits[4]),
        })?;
        for c in [ChassisControl::PowerDown, ChassisControl::PowerUp, ChassisControl::PowerCycle, ChassisControl::HardReset, ChassisControl::DiagnosticInterrupt, ChassisControl::SoftShutdown] {
            rt_req(c)?;
        }
        let flags = BootFlags {
            valid: bits[0] & 1 != 0,
            persistence: if bits[0] & 2 != 0 { BootPersistence::Persistent } else { BootPersistence::NextBoot },
            mode: if bits[0] & 4 != 0 { BootMode::Efi } else { BootMode::Legacy },
            device: BootDevice::from_selector(bits[1]),
            data2_other: bits[2] & 0xc3,
            data3_5: [bits[3], bits[4], bits[5]],
        };
        let params = [
            BootParameter::SetInProgress(bits[6] & 3),
            BootParameter::ValidBitClearing(bits[7]),
            BootParameter::BootInfoAck { mask: bits[6], data: bits[7] },
            BootParameter::BootFlags(flags),
            BootParameter::Other { selector: sel, data: data.clone() },
        ];
        for p in params {
            rt_req(SetSystemBootOptions { mark_invalid: bits[0] & 8 != 0, parameter: p.clone() })?;
            rt_resp(SystemBootOptions { version: 1, invalid: bits[0] & 16 != 0, parameter: p })?;
        }
        rt_req(GetSystemBootOptions { selector: sel & 0x7f, set: bits[0], block: bits[1] })?;
    }

    #[test]
    fn parsers_never_panic(data in bytes(300)) {
        for n in [0usize, 12, 16] { let _ = Packet::parse(&data, n); }
        let _ = ipmi_proto::session::route(&data);
        let _ = IpmiRequest::parse(&data);
        let _ = IpmiResponse::parse(&data);
        let _ = OpenSessionRequest::parse(&data);
        let _ = OpenSessionResponse::parse(&data);
        let _ = Rakp1::parse(&data);
        let _ = Rakp2::parse(&data);
        let _ = Rakp3::parse(&data);
        let _ = Rakp4::parse(&data);
        let _ = DeviceId::parse(&data);
        let _ = SystemBootOptions::parse(&data);
        let _ = SetSystemBootOptions::parse(&data);
    }
}
