//! Byte-exact DISCOVERs of real firmware (from the captures in the research notes) through
//! classify and decide, and the replies read back with dhcproto.

use std::net::Ipv4Addr;

use dhcproto::Decodable;
use dhcproto::v4::{DhcpOption, Message, MessageType, OptionCode};
use proptest::prelude::*;

use super::policy::*;
use super::pxe::{Arch, PxeVendorOptions};
use super::{Frame, answer};

const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x99, 0x00, 0x01];

/// A BOOTREQUEST header (broadcast flag, xid 0x1a2b3c4d, MAC above) and then `options`
/// exactly as given (they end with 255 themselves).
fn discover(options: &[u8]) -> Vec<u8> {
    let mut d = vec![0u8; 240];
    d[0] = 1;
    d[1] = 1;
    d[2] = 6;
    d[4..8].copy_from_slice(&[0x1a, 0x2b, 0x3c, 0x4d]);
    d[10] = 0x80;
    d[28..34].copy_from_slice(&MAC);
    d[236..240].copy_from_slice(&[99, 130, 83, 99]);
    d.extend_from_slice(options);
    d
}

fn opt(code: u8, value: &[u8]) -> Vec<u8> {
    let mut v = vec![code, value.len() as u8];
    v.extend_from_slice(value);
    v
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut v: Vec<u8> = parts.concat();
    v.push(255);
    v
}

const GUID: [u8; 17] = [
    0, 0x8f, 0x3c, 0x2e, 0x61, 0x5d, 0x4a, 0x41, 0x9b, 0x1e, 0x3e, 0x51, 0x0a, 0x9d, 0x22, 0x7c,
    0x01,
];

/// EDK2's parameter request list.
const EDK2_PRL: &[u8] = &[
    1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66,
    67, 97, 128, 129, 130, 131, 132, 133, 134, 135,
];

/// A BIOS PXE ROM (Intel UNDI 2.1): 93 = 0, 94 = 01 02 01.
fn bios_pxe() -> Vec<u8> {
    discover(&cat(&[
        opt(53, &[1]),
        opt(57, &[0x04, 0xec]),
        opt(
            55,
            &[
                1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 66, 67, 128, 129, 130, 131,
                132, 133, 134, 135,
            ],
        ),
        opt(97, &GUID),
        opt(94, &[1, 2, 1]),
        opt(93, &[0, 0]),
        opt(60, b"PXEClient:Arch:00000:UNDI:002001"),
    ]))
}

/// OVMF's own EDK2 PxeBcDxe on x64.
fn uefi_x64() -> Vec<u8> {
    discover(&cat(&[
        opt(53, &[1]),
        opt(57, &[0x05, 0xc0]),
        opt(55, EDK2_PRL),
        opt(97, &GUID),
        opt(94, &[1, 3, 0]),
        opt(93, &[0, 7]),
        opt(60, b"PXEClient:Arch:00007:UNDI:003000"),
    ]))
}

/// EDK2 on ARM64 (AAVMF).
fn uefi_arm64() -> Vec<u8> {
    discover(&cat(&[
        opt(53, &[1]),
        opt(57, &[0x05, 0xc0]),
        opt(55, EDK2_PRL),
        opt(97, &GUID),
        opt(94, &[1, 3, 0]),
        opt(93, &[0, 11]),
        opt(60, b"PXEClient:Arch:00011:UNDI:003000"),
    ]))
}

/// EDK2 HttpBootDxe on x64.
fn http_boot() -> Vec<u8> {
    discover(&cat(&[
        opt(53, &[1]),
        opt(57, &[0x05, 0xc0]),
        opt(55, &[1, 3, 6, 15, 43, 60, 66, 67, 97]),
        opt(97, &GUID),
        opt(94, &[1, 3, 0]),
        opt(93, &[0, 16]),
        opt(60, b"HTTPClient:Arch:00016:UNDI:003000"),
    ]))
}

/// iPXE 1.0.0+git-20190125 in QEMU's e1000 ROM, as captured: raw user class `iPXE`,
/// option 175, all-zero UUID.
fn ipxe_bios() -> Vec<u8> {
    let o175 = hex::decode(
        "b105018086100eeb03010000170101220101130101110101270101190101290101100102210101150101180101120101",
    )
    .unwrap();
    let mut o61 = vec![1];
    o61.extend_from_slice(&MAC);
    let mut prl = vec![1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119];
    prl.extend(128..=135);
    prl.extend([175, 203]);
    discover(&cat(&[
        opt(53, &[1]),
        opt(57, &[0x05, 0xc0]),
        opt(93, &[0, 0]),
        opt(94, &[1, 2, 1]),
        opt(60, b"PXEClient:Arch:00000:UNDI:002001"),
        opt(77, b"iPXE"),
        opt(55, &prl),
        opt(175, &o175),
        opt(61, &o61),
        opt(97, &[0; 17]),
    ]))
}

fn policy() -> BootPolicy {
    BootPolicy::new(Ipv4Addr::new(10, 99, 0, 1), "http://10.99.0.1:8080/")
}

fn reply_for(d: &[u8], mode: Mode) -> (Reply, Message) {
    let f = Frame::parse(d).unwrap();
    let info = classify(&f, &ClassifyConfig::default());
    let Decision::Respond(r) = decide(&info, &AllowAll, &policy(), mode) else {
        panic!("no reply for {info:?}")
    };
    let bytes = r.encode(&f).unwrap();
    let m = Message::decode(&mut dhcproto::Decoder::new(&bytes)).unwrap();
    assert_eq!(m.xid(), 0x1a2b3c4d);
    assert_eq!(m.chaddr(), &MAC);
    assert!(m.flags().broadcast());
    (*r, m)
}

/// The `file` field without its NUL padding (dhcproto keeps the terminating NUL).
fn fname(m: &Message) -> Vec<u8> {
    let f = m.fname().unwrap_or(&[]);
    f[..f.iter().position(|b| *b == 0).unwrap_or(f.len())].to_vec()
}

fn opt_bytes(m: &Message, code: OptionCode) -> Option<Vec<u8>> {
    match m.opts().get(code)? {
        DhcpOption::ClassIdentifier(v)
        | DhcpOption::BootfileName(v)
        | DhcpOption::TFTPServerName(v)
        | DhcpOption::VendorExtensions(v)
        | DhcpOption::ClientMachineIdentifier(v) => Some(v.clone()),
        _ => None,
    }
}

#[test]
fn bios_pxe_gets_undionly_with_discovery_control() {
    let f = Frame::parse(&bios_pxe()).unwrap();
    let info = classify(&f, &ClassifyConfig::default());
    assert_eq!(info.kind, ClientKind::Pxe);
    assert_eq!(info.arch, Some(Arch::BIOS));
    assert!(!info.is_ipxe);
    assert_eq!(info.max_message_size, 1260);
    let (r, m) = reply_for(&bios_pxe(), Mode::Proxy);
    assert_eq!(r.kind, BootKind::Tftp);
    assert_eq!(fname(&m), b"undionly.kpxe");
    assert_eq!(m.siaddr(), Ipv4Addr::new(10, 99, 0, 1));
    assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert_eq!(m.opts().msg_type(), Some(MessageType::Offer));
    assert_eq!(
        opt_bytes(&m, OptionCode::BootfileName).unwrap(),
        b"undionly.kpxe"
    );
    assert_eq!(
        opt_bytes(&m, OptionCode::TFTPServerName).unwrap(),
        b"10.99.0.1"
    );
    assert_eq!(
        opt_bytes(&m, OptionCode::ClassIdentifier).unwrap(),
        b"PXEClient"
    );
    assert_eq!(
        opt_bytes(&m, OptionCode::VendorExtensions).unwrap(),
        [6, 1, 8, 255]
    );
    assert_eq!(
        opt_bytes(&m, OptionCode::ClientMachineIdentifier).unwrap(),
        GUID
    );
}

#[test]
fn uefi_x64_gets_ipxe_efi_without_option_43() {
    let (r, m) = reply_for(&uefi_x64(), Mode::Proxy);
    assert_eq!(r.boot_file, "ipxe.efi");
    assert_eq!(fname(&m), b"ipxe.efi");
    assert!(opt_bytes(&m, OptionCode::VendorExtensions).is_none());
    // snponly.efi by policy.
    let f = Frame::parse(&uefi_x64()).unwrap();
    let info = classify(&f, &ClassifyConfig::default());
    let Decision::Respond(r) = decide(
        &info,
        &AllowAll,
        &policy().with_efi_x64("snponly.efi"),
        Mode::Proxy,
    ) else {
        panic!()
    };
    assert_eq!(r.boot_file, "snponly.efi");
}

#[test]
fn arm64_gets_its_binary() {
    let (r, _) = reply_for(&uefi_arm64(), Mode::Proxy);
    assert_eq!(r.boot_file, "arm64/snponly.efi");
}

#[test]
fn http_boot_gets_a_url_and_httpclient_echoed() {
    let f = Frame::parse(&http_boot()).unwrap();
    assert_eq!(
        classify(&f, &ClassifyConfig::default()).kind,
        ClientKind::Http
    );
    let (r, m) = reply_for(&http_boot(), Mode::Proxy);
    assert_eq!(r.kind, BootKind::HttpBoot);
    assert_eq!(r.boot_file, "http://10.99.0.1:8080/ipxe.efi");
    assert_eq!(
        opt_bytes(&m, OptionCode::ClassIdentifier).unwrap(),
        b"HTTPClient"
    );
    assert_eq!(
        opt_bytes(&m, OptionCode::BootfileName).unwrap(),
        b"http://10.99.0.1:8080/ipxe.efi"
    );
    assert!(opt_bytes(&m, OptionCode::TFTPServerName).is_none());
}

#[test]
fn ipxe_gets_the_script_never_a_binary() {
    let f = Frame::parse(&ipxe_bios()).unwrap();
    let info = classify(&f, &ClassifyConfig::default());
    assert!(info.is_ipxe);
    assert_eq!(info.user_classes, vec![b"iPXE".to_vec()]);
    assert_eq!(info.ipxe.as_ref().unwrap().version(), Some((1, 0, 0)));
    assert!(
        info.machine_id.as_ref().unwrap().guid().is_none(),
        "all-zero UUID accepted"
    );
    let (r, m) = reply_for(&ipxe_bios(), Mode::Proxy);
    assert_eq!(r.kind, BootKind::IpxeScript);
    assert_eq!(r.boot_file, "http://10.99.0.1:8080/boot.ipxe");
    assert_eq!(fname(&m), b"http://10.99.0.1:8080/boot.ipxe");
    assert!(opt_bytes(&m, OptionCode::VendorExtensions).is_none());
    // Per-node script from the backend.
    let backend = StaticBackend::new().with_node(
        MAC,
        BootSpec::allowed().with_ipxe_script("http://x/node1.ipxe"),
    );
    let Decision::Respond(r) = decide(&info, &backend, &policy(), Mode::Proxy) else {
        panic!()
    };
    assert_eq!(r.boot_file, "http://x/node1.ipxe");
    // Our own iPXE build's user class counts as iPXE too.
    let mine = discover(&cat(&[
        opt(53, &[1]),
        opt(93, &[0, 7]),
        opt(60, b"PXEClient:Arch:00007:UNDI:003010"),
        opt(77, b"\x07sdkipxe"),
    ]));
    let cfg = ClassifyConfig {
        ipxe_user_class: Some(b"sdkipxe".to_vec()),
        ..ClassifyConfig::default()
    };
    assert!(classify(&Frame::parse(&mine).unwrap(), &cfg).is_ipxe);
}

#[test]
fn backend_gates_and_modes() {
    let f = Frame::parse(&uefi_x64()).unwrap();
    let info = classify(&f, &ClassifyConfig::default());
    let denied = StaticBackend::new().with_node(MAC, BootSpec::denied());
    assert_eq!(
        decide(&info, &denied, &policy(), Mode::Proxy),
        Decision::Ignore("netboot not allowed for this node")
    );
    assert_eq!(
        decide(&info, &StaticBackend::new(), &policy(), Mode::Proxy),
        Decision::Ignore("unknown node")
    );
    // REQUESTs are for the boot server on 4011 (ACK), not the ProxyDHCP on 67.
    let mut req = uefi_x64();
    req[242] = 3;
    let f = Frame::parse(&req).unwrap();
    let info = classify(&f, &ClassifyConfig::default());
    assert!(matches!(
        decide(&info, &AllowAll, &policy(), Mode::Proxy),
        Decision::Ignore(_)
    ));
    let Decision::Respond(r) = decide(&info, &AllowAll, &policy(), Mode::BootServer) else {
        panic!()
    };
    assert_eq!(r.message_type, 5);
    // Not netboot clients.
    let plain = discover(&cat(&[opt(53, &[1]), opt(60, b"udhcp 1.35.0")]));
    assert_eq!(
        answer(
            &plain,
            &ClassifyConfig::default(),
            &AllowAll,
            &policy(),
            Mode::Proxy
        ),
        Err("not a PXE or HTTP boot client")
    );
    // A configurable PXE vendor prefix.
    let hw = discover(&cat(&[
        opt(53, &[1]),
        opt(93, &[0, 0]),
        opt(60, b"HW-Client:Arch:00000"),
    ]));
    let cfg = ClassifyConfig {
        pxe_prefixes: vec!["PXEClient".into(), "HW-Client".into()],
        ..Default::default()
    };
    assert!(answer(&hw, &cfg, &AllowAll, &policy(), Mode::Proxy).is_ok());
    assert!(
        answer(
            &hw,
            &ClassifyConfig::default(),
            &AllowAll,
            &policy(),
            Mode::Proxy
        )
        .is_err()
    );
}

#[test]
fn relayed_requests_keep_giaddr() {
    let mut d = uefi_x64();
    d[24..28].copy_from_slice(&[10, 50, 0, 1]);
    d[3] = 1;
    let (_, m) = reply_for(&d, Mode::Proxy);
    assert_eq!(m.giaddr(), Ipv4Addr::new(10, 50, 0, 1));
    let f = Frame::parse(&d).unwrap();
    assert_eq!(
        classify(&f, &ClassifyConfig::default()).relay,
        Some(Ipv4Addr::new(10, 50, 0, 1))
    );
}

#[test]
fn long_boot_file_goes_only_in_option_67() {
    let url = format!("http://10.99.0.1:8080/{}", "a".repeat(300));
    let f = Frame::parse(&ipxe_bios()).unwrap();
    let info = classify(&f, &ClassifyConfig::default());
    let backend =
        StaticBackend::new().with_node(MAC, BootSpec::allowed().with_ipxe_script(url.clone()));
    let Decision::Respond(r) = decide(&info, &backend, &policy(), Mode::Proxy) else {
        panic!()
    };
    let bytes = r.encode(&f).unwrap();
    let m = Message::decode(&mut dhcproto::Decoder::new(&bytes)).unwrap();
    assert!(fname(&m).is_empty());
    assert_eq!(
        opt_bytes(&m, OptionCode::BootfileName).unwrap(),
        url.as_bytes()
    );
    // Our own reader agrees (RFC 3396 concatenation).
    assert_eq!(
        Frame::parse(&bytes).unwrap().option(67),
        Some(url.as_bytes())
    );
}

#[test]
fn pxe_43_sub_options_round_trip() {
    let o = PxeVendorOptions::parse(&[71, 4, 0x80, 0, 0, 0, 255]).unwrap();
    assert_eq!(o.boot_item.unwrap().kind, 0x8000);
    assert_eq!(o.to_bytes(), [71, 4, 0x80, 0, 0, 0, 255]);
}

proptest! {
    #[test]
    fn answer_never_panics(tail in proptest::collection::vec(any::<u8>(), 0..400), which in 0usize..5, cut in 0usize..400) {
        let base = [bios_pxe(), uefi_x64(), uefi_arm64(), http_boot(), ipxe_bios()][which].clone();
        let mut d = base[..cut.min(base.len())].to_vec();
        d.extend_from_slice(&tail);
        for mode in [Mode::Proxy, Mode::BootServer, Mode::Full] {
            let _ = answer(&d, &ClassifyConfig::default(), &AllowAll, &policy(), mode);
        }
    }
}
