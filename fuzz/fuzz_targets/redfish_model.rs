//! redfish-client's model and error-body parsing on arbitrary bytes (a hostile or broken
//! service's response body): no panic, whatever the input; accepted resources keep their
//! unknown fields.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redfish_client::model::{
    Bios, Chassis, ComputerSystem, Manager, Message, SecureBoot, Sensor, ServiceRoot, Session,
    SessionService, Task, VirtualMedia,
};
use redfish_client::{Collection, Link};

fn parse<T: serde::de::DeserializeOwned>(data: &[u8]) -> Option<T> {
    serde_json::from_slice(data).ok()
}

fuzz_target!(|data: &[u8]| {
    if let Some(s) = parse::<ComputerSystem>(data) {
        let _ = s.allowed_reset_types();
        let _ = s.boot.as_ref().map(|b| b.advertises_mode());
        if let Some(boot) = &s.boot {
            let req =
                redfish_client::ops::BootOverride::once(redfish_client::model::BootSource::Cd);
            for q in [
                redfish_client::quirks::Vendor::Supermicro,
                redfish_client::quirks::Vendor::Hpe,
            ] {
                let _ = redfish_client::ops::boot_override_patches(
                    Some(boot),
                    &req,
                    &redfish_client::quirks::Quirks::for_vendor(q),
                );
            }
        }
    }
    if let Some(r) = parse::<ServiceRoot>(data) {
        let _ = redfish_client::quirks::Quirks::detect(&r, parse::<Manager>(data).as_ref());
        let _ = r.supports_expand();
    }
    let _ = parse::<Chassis>(data);
    let _ = parse::<Sensor>(data);
    if let Some(v) = parse::<VirtualMedia>(data) {
        let _ = (v.is_cd(), v.has_media());
    }
    let _ = parse::<Bios>(data);
    let _ = parse::<SecureBoot>(data);
    let _ = parse::<Task>(data);
    let _ = parse::<SessionService>(data);
    let _ = parse::<Session>(data);
    if let Some(m) = parse::<Message>(data) {
        let _ = (m.is_error(), m.message_key());
    }
    let _ = parse::<Collection<ComputerSystem>>(data);
    let _ = parse::<Link<ComputerSystem>>(data);
    let _ = parse::<Vec<Message>>(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = redfish_client::etag::if_match(redfish_client::EtagPolicy::StripQuotes, Some(s));
        let _ = redfish_client::ODataId::new(s).last_segment().len();
    }
});
