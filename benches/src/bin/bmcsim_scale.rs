//! Start-up time and memory per virtual node: starts N bmc-sim nodes in this process with the
//! faces asked for (`ipmi`, `redfish` or `both`), reports the wall time and the resident
//! memory added per node, then checks the fleet is live: the last node answers a Redfish GET
//! and an IPMI session (power status).
//!
//! `bmcsim_scale N [ipmi|redfish|both]` (one fleet per process, so the figures of one size do
//! not inherit another's freed memory).
#![allow(clippy::print_stdout)]

use std::time::Instant;

use bmc_sim::{Fleet, FleetConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One Redfish GET of the service root on a fresh connection; the status line.
async fn redfish_get(url: &str) -> anyhow::Result<String> {
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    s.write_all(
        format!("GET /redfish/v1/ HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
    .await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    Ok(String::from_utf8_lossy(&out)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string())
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1000);
    let faces = args.next().unwrap_or_else(|| "ipmi".into());
    let (ipmi, redfish) = match faces.as_str() {
        "ipmi" => (true, false),
        "redfish" => (false, true),
        "both" => (true, true),
        other => anyhow::bail!("faces: ipmi, redfish or both, not {other}"),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let before = rss_kib();
        let start = Instant::now();
        let mut cfg = FleetConfig::builder().count(n).ipmi(ipmi);
        if redfish {
            cfg = cfg.redfish("127.0.0.1:0".parse()?);
        }
        let fleet = Fleet::start(cfg).await?;
        let secs = start.elapsed().as_secs_f64();
        let after = rss_kib();
        let last = fleet.len() - 1;
        let mut live = Vec::new();
        if let Some(url) = fleet.redfish_url(last) {
            live.push(format!("redfish {}", redfish_get(&url).await?));
        }
        if let Some(addr) = fleet.ipmi_addr(last) {
            let client = ipmi_proto::client::Client::builder()
                .bind("127.0.0.1:0".parse()?)
                .build()
                .await?;
            let cfg = ipmi_proto::session::SessionConfig::builder("admin", "password").build()?;
            let bmc = client.bmc(addr, cfg);
            let power = bmc.power_status().await?;
            bmc.close().await;
            live.push(format!("ipmi power {power}"));
        }
        println!(
            "bmcsim_scale: {} nodes ({faces}) started in {secs:.3} s ({:.1} us/node), resident memory +{} KiB ({:.1} KiB/node); last node: {}",
            fleet.len(),
            secs * 1e6 / f64::from(n),
            after.saturating_sub(before),
            after.saturating_sub(before) as f64 / f64::from(n),
            live.join(", ")
        );
        Ok(())
    })
}
