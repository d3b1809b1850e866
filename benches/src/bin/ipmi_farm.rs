//! N virtual BMCs (ipmi-proto's BMC side over an in-memory system) on 127.0.0.1, ports
//! BASE..BASE+N, all on one tokio runtime. Prints "ready" once every socket is bound, then runs
//! until killed. Users: admin/password (ADMINISTRATOR).
#![allow(clippy::print_stdout)]

use std::sync::{Arc, Mutex};

use clap::Parser;
use ipmi_proto::bmc::{BmcConfig, SimpleSystem, User};
use ipmi_proto::cmd::Privilege;
use ipmi_proto::server::BmcServer;

#[derive(Parser)]
struct Args {
    /// Number of BMCs.
    #[arg(long, default_value_t = 1000)]
    count: u16,
    /// First UDP port.
    #[arg(long, default_value_t = 20000)]
    base_port: u16,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        for i in 0..args.count {
            let cfg = BmcConfig::builder()
                .user(User::new(2, "admin", "password", Privilege::Administrator)?)
                .build();
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], args.base_port + i));
            let server =
                BmcServer::bind(addr, cfg, Arc::new(Mutex::new(SimpleSystem::default()))).await?;
            server.spawn();
        }
        println!(
            "ready: {} BMCs on 127.0.0.1:{}..{}",
            args.count,
            args.base_port,
            args.base_port + args.count - 1
        );
        tokio::signal::ctrl_c().await?;
        Ok(())
    })
}
