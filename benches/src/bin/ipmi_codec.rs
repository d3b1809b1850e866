//! Codec throughput: a suite-17 (AES-CBC-128 + HMAC-SHA256-128) Chassis Status request and
//! response, each sealed (encoded, encrypted, signed) and opened (parsed, verified, decrypted,
//! decoded), on one core. Prints packets per second.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use bytes::BytesMut;
use ipmi_proto::cmd::Response;
use ipmi_proto::cmd::chassis::ChassisStatus;
use ipmi_proto::crypto::{CipherSuite, SessionKeys};
use ipmi_proto::message::{IpmiRequest, IpmiResponse};
use ipmi_proto::packet::{Packet, PayloadType};

fn main() -> anyhow::Result<()> {
    let suite = CipherSuite::by_id(17).ok_or_else(|| anyhow::anyhow!("suite 17"))?;
    let keys = SessionKeys::derive(suite, &[0x42; 32]);
    let auth_len = suite.integrity.auth_code_len();
    let iters: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(500_000);
    let req = IpmiRequest::to_bmc(0x00, 0x01, 7, Vec::new());
    let status = ChassisStatus::with_power(true);
    let mut out = BytesMut::with_capacity(256);
    let mut msg = BytesMut::with_capacity(64);
    let start = Instant::now();
    for i in 0..iters {
        // Console side: encode and seal the request.
        msg.clear();
        req.emit(&mut msg);
        out.clear();
        keys.seal(
            PayloadType::Ipmi,
            0x1111,
            i as u32 + 1,
            &msg,
            [i as u8; 16],
            &mut out,
        )?;
        // BMC side: open it and decode.
        let Packet::Ipmi20(p) = Packet::parse(&out, auth_len)? else {
            anyhow::bail!("not RMCP+")
        };
        let plain = keys.open(&p)?;
        let got = IpmiRequest::parse(&plain)?;
        // BMC side: encode and seal the response.
        let mut data = BytesMut::with_capacity(8);
        status.emit(&mut data);
        let resp = got.response(ipmi_proto::cmd::CompletionCode::Ok, data.to_vec());
        msg.clear();
        resp.emit(&mut msg);
        out.clear();
        keys.seal(
            PayloadType::Ipmi,
            0x2222,
            i as u32 + 1,
            &msg,
            [!(i as u8); 16],
            &mut out,
        )?;
        // Console side: open and decode.
        let Packet::Ipmi20(p) = Packet::parse(&out, auth_len)? else {
            anyhow::bail!("not RMCP+")
        };
        let plain = keys.open(&p)?;
        let r = IpmiResponse::parse(&plain)?;
        black_box(ChassisStatus::parse(&r.data)?);
    }
    let secs = start.elapsed().as_secs_f64();
    // Two packets (request and response) per iteration, each encoded and decoded once.
    let pps = (2 * iters) as f64 / secs;
    println!(
        "ipmi_codec: {} packets (suite 17 Chassis Status request+response, seal+open) in {:.3} s: {:.0} packets/s on one core",
        2 * iters,
        secs,
        pps
    );
    println!(
        "ipmi_codec: ratio to the 1,000,000 packets/s target: {:.2}x",
        pps / 1e6
    );
    Ok(())
}
