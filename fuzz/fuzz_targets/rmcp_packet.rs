//! Every wire parser of ipmi-proto on arbitrary bytes: no panic, and whatever parses
//! re-encodes to something that parses to the same value.
#![no_main]

use ipmi_proto::message::{IpmiRequest, IpmiResponse};
use ipmi_proto::packet::{Ipmi20Packet, Packet};
use ipmi_proto::rakp::{OpenSessionRequest, OpenSessionResponse, Rakp1, Rakp2, Rakp3, Rakp4};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for auth_len in [0usize, 12, 16] {
        let _ = Packet::parse(data, auth_len);
    }
    let _ = ipmi_proto::session::route(data);
    if let Some(rest) = data.get(4..) {
        let _ = Ipmi20Packet::peek_header(rest);
    }
    if let Ok(r) = IpmiRequest::parse(data) {
        let mut b = bytes::BytesMut::new();
        r.emit(&mut b);
        assert_eq!(IpmiRequest::parse(&b).ok(), Some(r));
    }
    if let Ok(r) = IpmiResponse::parse(data) {
        let mut b = bytes::BytesMut::new();
        r.emit(&mut b);
        assert_eq!(IpmiResponse::parse(&b).ok(), Some(r));
    }
    macro_rules! rt {
        ($t:ty) => {
            if let Ok(v) = <$t>::parse(data) {
                let mut b = bytes::BytesMut::new();
                v.emit(&mut b);
                assert_eq!(<$t>::parse(&b).ok(), Some(v));
            }
        };
    }
    rt!(OpenSessionRequest);
    rt!(OpenSessionResponse);
    rt!(Rakp1);
    rt!(Rakp2);
    rt!(Rakp3);
    rt!(Rakp4);
});
