//! Every command's request and response parser on arbitrary bytes.
#![no_main]

use ipmi_proto::cmd::{Request, Response, app, chassis};
use libfuzzer_sys::fuzz_target;

fn req<R: Request + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(v) = R::parse(data) {
        let mut b = bytes::BytesMut::new();
        v.emit(&mut b);
        // Re-encoding is canonical: parsing it again gives the same value.
        assert_eq!(R::parse(&b).ok(), Some(v));
    }
}

fn resp<R: Response + PartialEq + std::fmt::Debug>(data: &[u8]) {
    if let Ok(v) = R::parse(data) {
        let mut b = bytes::BytesMut::new();
        v.emit(&mut b);
        assert_eq!(R::parse(&b).ok(), Some(v));
    }
}

fuzz_target!(|data: &[u8]| {
    req::<app::GetChannelAuthCapabilities>(data);
    req::<app::GetChannelCipherSuites>(data);
    req::<app::SetSessionPrivilegeLevel>(data);
    req::<app::CloseSession>(data);
    req::<chassis::ChassisControl>(data);
    req::<chassis::SetSystemBootOptions>(data);
    req::<chassis::GetSystemBootOptions>(data);
    resp::<app::DeviceId>(data);
    resp::<app::ChannelAuthCapabilities>(data);
    resp::<app::CipherSuitesPage>(data);
    resp::<chassis::ChassisStatus>(data);
    resp::<chassis::SystemBootOptions>(data);
    let _ = app::parse_cipher_suite_records(data);
});
