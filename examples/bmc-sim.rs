//! `bmc-sim`: virtual nodes behind IPMI BMCs on loopback, until interrupted.
//!
//! ```text
//! cargo run --release --example bmc-sim -- [--ipmi ADDR:PORT] [--redfish ADDR:PORT] [--tls] --user USER --password PASS [--count N] [--vendor V] [--faults SPEC] [--power-delay 2s] [--disks DIR]
//! ```
//!
//! BMC i listens on PORT+i (IPMI, and Redfish when asked). `--faults` takes groups separated
//! by `;`, each a comma-separated list of `latency=50ms`, `loss=0.1`, `hang`, `sessions=4`
//! (IPMI), `http5xx=0.1`, `reset=0.1` (Redfish), for every BMC or, prefixed with `I:` or
//! `I-J:`, for BMCs I to J: `--faults 'latency=20ms;3:hang;10-19:http5xx=0.5,reset=0.1'`.
//! `--vendor generic|openbmc|dell|hpe|supermicro|lenovo` picks the Redfish quirks; `--tls`
//! serves HTTPS with a self-signed certificate and prints where it wrote it. `--disks DIR` gives
//! node i the disk image `DIR/node-IIIII.img`, which it boots from without a boot override.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use bmc_sim::{Fleet, FleetConfig};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "bmc-sim",
    about = "Virtual nodes and their IPMI BMCs on loopback"
)]
struct Args {
    /// Address of the first IPMI BMC; BMC i listens on PORT+i.
    #[arg(long, default_value = "127.0.0.1:9623")]
    ipmi: SocketAddr,
    /// Address of the first Redfish service (plain HTTP); service i listens on PORT+i.
    #[arg(long)]
    redfish: Option<SocketAddr>,
    /// Serve Redfish over HTTPS with a self-signed certificate (written to a file whose path
    /// is printed, for clients' --ca-cert).
    #[arg(long)]
    tls: bool,
    /// Redfish vendor profile: generic, openbmc, dell, hpe, supermicro, lenovo.
    #[arg(long, default_value = "generic")]
    vendor: bmc_sim::Vendor,
    /// BMC user (ADMINISTRATOR).
    #[arg(long, default_value = "admin")]
    user: String,
    /// BMC password.
    #[arg(long, default_value = "password")]
    password: String,
    /// Number of nodes.
    #[arg(long, default_value_t = 1)]
    count: u32,
    /// Faults: latency=50ms,loss=0.1,hang,sessions=4,http5xx=0.1,reset=0.1 for every BMC;
    /// groups separated by `;`, prefixed with `I:` or `I-J:` for some BMCs.
    #[arg(long, default_value = "")]
    faults: bmc_sim::FaultPlan,
    /// Folder of node disk images (node-00000.img, ...), booted from without an override.
    #[arg(long)]
    disks: Option<std::path::PathBuf>,
    /// How long power changes take (e.g. 2s).
    #[arg(long, default_value = "0s")]
    power_delay: humantime_lite::Dur,
}

mod humantime_lite {
    /// A duration written as `250ms`, `2s` or `1.5s`.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Dur(pub(crate) std::time::Duration);
    impl std::str::FromStr for Dur {
        type Err = String;
        fn from_str(s: &str) -> Result<Self, String> {
            let d = if let Some(ms) = s.strip_suffix("ms") {
                ms.parse::<u64>().map(std::time::Duration::from_millis).ok()
            } else {
                s.strip_suffix('s')
                    .unwrap_or(s)
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .map(std::time::Duration::from_secs_f64)
            };
            d.map(Dur).ok_or_else(|| format!("not a duration: {s}"))
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        // Colours on a terminal only, never escape codes in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let mut cfg = FleetConfig::builder()
        .count(args.count)
        .base(args.ipmi)
        .credentials(&args.user, &args.password)
        .fault_plan(args.faults)
        .power_delay(args.power_delay.0)
        .vendor(args.vendor)
        .tls(args.tls);
    if let Some(r) = args.redfish {
        cfg = cfg.redfish(r);
    }
    if let Some(d) = args.disks {
        cfg = cfg.disks(d);
    }
    let fleet = Fleet::start(cfg).await.context("starting the BMCs")?;
    if let Some(pem) = fleet.ca_pem() {
        let path = std::env::temp_dir().join(format!("bmc-sim-ca-{}.pem", std::process::id()));
        std::fs::write(&path, pem).context("writing the CA certificate")?;
        println!("ca-cert {}", path.display());
    }
    for i in 0..fleet.len() {
        let ipmi = fleet
            .ipmi_addr(i)
            .map(|a| format!(" ipmi {a}"))
            .unwrap_or_default();
        let redfish = fleet
            .redfish_url(i)
            .map(|u| format!(" redfish {u}"))
            .unwrap_or_default();
        println!("node-{i:05}{ipmi}{redfish}");
    }
    eprintln!("{} virtual nodes running; Ctrl-C to stop", fleet.len());
    tokio::signal::ctrl_c().await?;
    drop(fleet);
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
