//! DHCP request reading, classification and decision on arbitrary bytes: no panic, in every
//! mode; the PXE option codecs (43, 60, 77, 93, 94, 97, 175) re-encode what they parse; option
//! overload (52) and RFC 3396 long options are reached through crafted headers.
#![no_main]

use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use pxe::dhcp::guard::chaddr;
use pxe::dhcp::pxe::{
    Arch, IpxeOptions, MachineId, NetworkInterface, PxeVendorOptions, VendorClass, parse_user_class,
};
use pxe::dhcp::{AllowAll, BootPolicy, ClassifyConfig, Frame, Mode, answer, classify};

/// A valid BOOTREQUEST header (file and sname from `file_sname`, cut or zero-padded to 192
/// bytes) followed by `options` as the option area.
fn request(file_sname: &[u8], options: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8; 240];
    d[0] = 1;
    d[1] = 1;
    d[2] = 6;
    d[28..34].copy_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    let n = file_sname.len().min(192);
    d[44..44 + n].copy_from_slice(&file_sname[..n]);
    d[236..240].copy_from_slice(&[99, 130, 83, 99]);
    d.extend_from_slice(options);
    d
}

/// Each PXE option codec on `data` alone.
fn codecs(data: &[u8]) {
    if let Ok(v) = VendorClass::parse(data) {
        assert_eq!(v.to_bytes(), data);
    }
    if let Ok(o) = PxeVendorOptions::parse(data) {
        assert_eq!(PxeVendorOptions::parse(&o.to_bytes()).ok(), Some(o));
    }
    if let Ok(o) = IpxeOptions::parse(data) {
        assert_eq!(IpxeOptions::parse(&o.to_bytes()).ok(), Some(o));
    }
    if let Ok(list) = Arch::parse_list(data) {
        assert_eq!(list.len() * 2, data.len());
        for a in list {
            let _ = (a.name(), a.firmware(), a.cpu(), a.is_http(), a.to_string());
        }
    }
    if let Ok(n) = NetworkInterface::parse(data) {
        assert_eq!(n.to_bytes(), data);
    }
    let id = MachineId::new(data);
    if let Some(g) = id.guid() {
        assert_eq!(&data[1..], &g);
    }
    let classes = parse_user_class(data);
    assert!(classes.iter().map(Vec::len).sum::<usize>() <= data.len());
}

fuzz_target!(|data: &[u8]| {
    let policy = BootPolicy::new(Ipv4Addr::new(10, 0, 0, 1), "http://10.0.0.1:8080");
    let cfg = ClassifyConfig::default();
    let _ = chaddr(data);
    for mode in [Mode::Proxy, Mode::BootServer, Mode::Full] {
        let _ = answer(data, &cfg, &AllowAll, &policy, mode);
    }
    // The same bytes as the option area of a valid header.
    let d = request(&[], data);
    if let Ok(f) = Frame::parse(&d) {
        let _ = classify(&f, &cfg);
        // Every option the reader found (RFC 3396 concatenated) through its codec.
        for (_, value) in f.options() {
            codecs(value);
        }
    }
    for mode in [Mode::Proxy, Mode::BootServer] {
        let _ = answer(&d, &cfg, &AllowAll, &policy, mode);
    }
    // Option overload (52 = 3: options continue in `file`, then `sname`): the first bytes
    // fill file/sname, the rest is the option area after a DISCOVER and an overload option.
    let split = data.len().min(192);
    let mut area = vec![53, 1, 1, 52, 1, 3];
    area.extend_from_slice(&data[split..]);
    let o = request(&data[..split], &area);
    if let Ok(f) = Frame::parse(&o) {
        let _ = classify(&f, &cfg);
        for (_, value) in f.options() {
            codecs(value);
        }
    }
    for mode in [Mode::Proxy, Mode::BootServer, Mode::Full] {
        let _ = answer(&o, &cfg, &AllowAll, &policy, mode);
    }
    // Option 43, 60, 77, 93, 94, 97 and 175 each carrying the input, split over several
    // instances (RFC 3396) when longer than 255 bytes: classification reads them all.
    for code in [43u8, 60, 77, 93, 94, 97, 175] {
        let mut area = vec![53, 1, 1];
        for chunk in data.chunks(255) {
            area.push(code);
            area.push(chunk.len() as u8);
            area.extend_from_slice(chunk);
        }
        if code != 60 {
            area.extend_from_slice(&[60, 9]);
            area.extend_from_slice(b"PXEClient");
        }
        area.push(255);
        let r = request(&[], &area);
        if let Ok(f) = Frame::parse(&r) {
            if !data.is_empty() {
                assert_eq!(f.option(code), Some(data));
            }
            let _ = classify(&f, &cfg);
        }
        let _ = answer(&r, &cfg, &AllowAll, &policy, Mode::Proxy);
    }
    codecs(data);
});
