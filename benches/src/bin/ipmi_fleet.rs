//! Fleet throughput of the async client: power status with full session set-up (cipher suite
//! 17) and Close Session, on every BMC of 127.0.0.1:BASE..BASE+N at once, from one process.
//! Prints wall time, sessions per second, failures and peak resident memory.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use clap::Parser;
use ipmi_proto::client::Client;
use ipmi_proto::session::{SessionConfig, SuiteChoice};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1000)]
    count: u16,
    #[arg(long, default_value_t = 20000)]
    base_port: u16,
    #[arg(long, default_value_t = 17)]
    suite: u8,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let cfg = SessionConfig::builder("admin", "password")
            .cipher_suite(SuiteChoice::Fixed(args.suite))
            .build()?;
        let client = Client::builder().bind("127.0.0.1:0".parse()?).build().await?;
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..args.count {
            let bmc = client.bmc(
                std::net::SocketAddr::from(([127, 0, 0, 1], args.base_port + i)),
                cfg.clone(),
            );
            set.spawn(async move {
                let r = bmc.power_status().await;
                bmc.close().await;
                r
            });
        }
        let (mut ok, mut failed) = (0u32, 0u32);
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Ok(_)) => ok += 1,
                _ => failed += 1,
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "ipmi_fleet: {} BMCs, {ok} ok, {failed} failed, {secs:.3} s wall, {:.0} sessions/s, peak RSS {} KiB",
            args.count,
            f64::from(ok) / secs,
            benches::peak_rss_kib().unwrap_or(0)
        );
        Ok(())
    })
}
