//! DHCP request reading, classification and decision on arbitrary bytes: no panic, in every
//! mode; the PXE option codecs re-encode what they parse.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use pxe::dhcp::pxe::{IpxeOptions, PxeVendorOptions, VendorClass};
use pxe::dhcp::{AllowAll, BootPolicy, ClassifyConfig, Frame, Mode, answer, classify};

fuzz_target!(|data: &[u8]| {
    let policy = BootPolicy::new(Ipv4Addr::new(10, 0, 0, 1), "http://10.0.0.1:8080");
    let cfg = ClassifyConfig::default();
    for mode in [Mode::Proxy, Mode::BootServer, Mode::Full] {
        let _ = answer(data, &cfg, &AllowAll, &policy, mode);
    }
    // The same bytes as the option area of a valid header.
    let mut d = vec![0u8; 240];
    d[0] = 1;
    d[1] = 1;
    d[2] = 6;
    d[236..240].copy_from_slice(&[99, 130, 83, 99]);
    d.extend_from_slice(data);
    if let Ok(f) = Frame::parse(&d) {
        let _ = classify(&f, &cfg);
    }
    for mode in [Mode::Proxy, Mode::BootServer] {
        let _ = answer(&d, &cfg, &AllowAll, &policy, mode);
    }
    if let Ok(v) = VendorClass::parse(data) {
        assert_eq!(v.to_bytes(), data);
    }
    if let Ok(o) = PxeVendorOptions::parse(data) {
        assert_eq!(PxeVendorOptions::parse(&o.to_bytes()).ok(), Some(o));
    }
    if let Ok(o) = IpxeOptions::parse(data) {
        assert_eq!(IpxeOptions::parse(&o.to_bytes()).ok(), Some(o));
    }
});
