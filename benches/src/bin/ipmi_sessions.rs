//! Sessions per second one BMC sustains: COUNT sessions (set-up with the given suite, Get
//! Device ID, Close Session) against ADDR, CONCURRENCY at a time, from ipmi-proto's client.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use clap::Parser;
use ipmi_proto::client::Client;
use ipmi_proto::session::{SessionConfig, SuiteChoice};

#[derive(Parser)]
struct Args {
    #[arg(long)]
    addr: std::net::SocketAddr,
    #[arg(long, default_value_t = 2000)]
    count: u32,
    #[arg(long, default_value_t = 8)]
    concurrency: u32,
    #[arg(long, default_value_t = 3)]
    suite: u8,
    #[arg(long, default_value = "bmc")]
    label: String,
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
        let client = Client::builder()
            .bind("127.0.0.1:0".parse()?)
            .build()
            .await?;
        let per = args.count / args.concurrency.max(1);
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..args.concurrency {
            let client = client.clone();
            let cfg = cfg.clone();
            let addr = args.addr;
            set.spawn(async move {
                let mut ok = 0u32;
                for _ in 0..per {
                    let bmc = client.bmc(addr, cfg.clone());
                    if bmc.device_id().await.is_ok() {
                        ok += 1;
                    }
                    bmc.close().await;
                }
                ok
            });
        }
        let mut ok = 0;
        while let Some(r) = set.join_next().await {
            ok += r.unwrap_or(0);
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "ipmi_sessions {}: {ok}/{} sessions (suite {}, set-up + Get Device ID + close) in {secs:.3} s: {:.0} sessions/s",
            args.label,
            per * args.concurrency,
            args.suite,
            f64::from(ok) / secs
        );
        Ok(())
    })
}
