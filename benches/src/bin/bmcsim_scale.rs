//! Start-up time and memory per virtual node: starts N bmc-sim nodes with their IPMI faces in
//! this process and reports the time taken and the resident memory added per node.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use bmc_sim::{Fleet, FleetConfig};

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

fn main() -> anyhow::Result<()> {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let before = rss_kib();
        let start = Instant::now();
        let fleet = Fleet::start(FleetConfig::builder().count(n)).await?;
        let secs = start.elapsed().as_secs_f64();
        let after = rss_kib();
        println!(
            "bmcsim_scale: {} nodes started in {secs:.3} s ({:.1} us/node), resident memory +{} KiB ({:.1} KiB/node)",
            fleet.len(),
            secs * 1e6 / f64::from(n),
            after.saturating_sub(before),
            after.saturating_sub(before) as f64 / f64::from(n)
        );
        Ok(())
    })
}
