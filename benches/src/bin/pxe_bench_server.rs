//! `pxe_bench_server`: the `pxe` crate's TFTP server (a directory root) and/or its full DHCP
//! server (an address pool, leases in a [`FileStore`] log or in memory), for
//! `scripts/bench.sh`. The same servers and defaults as the `pxe-server` example, but with
//! no per-packet logging (the anchors run quiet too). Prints `ready` once every socket is
//! bound, then serves until interrupted.
//!
//! ```text
//! pxe_bench_server [--tftp ADDR:PORT --root DIR [--max-per-client N] [--tftp-tasks]
//!     [--busy-poll-us N]]
//!     [--dhcp ADDR:PORT --interface IF --server-ip IP --pool FIRST-LAST [--netmask M]
//!      [--leases FILE [--sync always|never|MILLIS]]]
//! ```
#![allow(clippy::print_stdout)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use pxe::dhcp::BootPolicy;
use pxe::dhcp::lease::{FileStore, SyncPolicy};
use pxe::dhcp::server::{DhcpServer, Pool};
use pxe::tftp::server::{Driver, TftpServer};
use pxe::tftp::source::DirSource;
use pxe::tftp::transfer::TransferConfig;

#[derive(Parser, Debug)]
struct Args {
    /// TFTP listen address (no TFTP without it).
    #[arg(long)]
    tftp: Option<SocketAddr>,
    /// Directory served over TFTP.
    #[arg(long)]
    root: Option<PathBuf>,
    /// Largest TFTP block size granted.
    #[arg(long, default_value_t = 65464)]
    max_blksize: u16,
    /// Largest TFTP window granted (RFC 7440).
    #[arg(long, default_value_t = 64)]
    max_window: u16,
    /// Most concurrent transfers per client address (a storm from one address needs more
    /// than the default 16).
    #[arg(long, default_value_t = 16)]
    max_per_client: usize,
    /// Most concurrent transfers in all.
    #[arg(long, default_value_t = 1024)]
    max_transfers: usize,
    /// Drive transfers as tokio tasks instead of one thread each.
    #[arg(long)]
    tftp_tasks: bool,
    /// Microseconds a transfer thread polls for the next ACK before it sleeps (0: never).
    #[arg(long, default_value_t = 100)]
    busy_poll_us: u64,
    /// DHCP listen address (no DHCP without it).
    #[arg(long)]
    dhcp: Option<SocketAddr>,
    /// Interface the DHCP socket is bound to.
    #[arg(long)]
    interface: Option<String>,
    /// This server's address (server identifier and next-server).
    #[arg(long)]
    server_ip: Option<Ipv4Addr>,
    /// Address pool FIRST-LAST.
    #[arg(long)]
    pool: Option<String>,
    /// Subnet mask of the pool.
    #[arg(long, default_value = "255.255.0.0")]
    netmask: Ipv4Addr,
    /// Lease log (FileStore); leases are kept in memory only without it.
    #[arg(long)]
    leases: Option<PathBuf>,
    /// When the lease log is synced: `always` (the default: an ACK goes out once its
    /// lease is fdatasync'ed; the leases queued meanwhile share one sync), `never`, or at
    /// most every MILLIS ms.
    #[arg(long, default_value = "always")]
    sync: String,
}

fn sync_policy(s: &str) -> anyhow::Result<SyncPolicy> {
    Ok(match s {
        "always" => SyncPolicy::Always,
        "never" => SyncPolicy::Never,
        ms => SyncPolicy::Interval(Duration::from_millis(
            ms.parse().context("--sync takes always, never or MILLIS")?,
        )),
    })
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    let mut ready = Vec::new();
    if let Some(addr) = args.tftp {
        let root = args.root.as_ref().context("--tftp needs --root")?;
        let source =
            DirSource::new(root).with_context(|| format!("TFTP root {}", root.display()))?;
        let cfg = TransferConfig::builder()
            .max_blksize(args.max_blksize)
            .max_window(args.max_window)
            .build();
        let server = TftpServer::builder(Arc::new(source))
            .listen(addr)
            .transfer_config(cfg)
            .max_per_client(args.max_per_client)
            .max_transfers(args.max_transfers)
            .driver(if args.tftp_tasks {
                Driver::Task
            } else {
                Driver::Thread
            })
            .busy_poll(Duration::from_micros(args.busy_poll_us))
            .bind()
            .await?;
        ready.push(format!("tftp={}", server.local_addr()?));
        tasks.push(server.spawn());
    }
    if let Some(addr) = args.dhcp {
        let ip = match (args.server_ip, addr.ip()) {
            (Some(ip), _) => ip,
            (None, IpAddr::V4(ip)) if !ip.is_unspecified() => ip,
            _ => bail!("--dhcp needs --server-ip"),
        };
        let (first, last) = args
            .pool
            .as_deref()
            .and_then(|p| p.split_once('-'))
            .context("--dhcp needs --pool FIRST-LAST")?;
        let pool = Pool::new(first.trim().parse()?, last.trim().parse()?, args.netmask)?;
        let policy = BootPolicy::new(ip, format!("http://{ip}:8080"));
        let mut b = DhcpServer::builder(policy).listen(addr).pool(pool);
        if let Some(i) = &args.interface {
            b = b.interface(i.clone());
        }
        if let Some(path) = &args.leases {
            let store = FileStore::open(path)?.with_sync(sync_policy(&args.sync)?);
            b = b.lease_store(store);
        }
        let server = b.bind().await?;
        ready.push(format!("dhcp={}", server.local_addr()?));
        tasks.push(server.spawn());
    }
    if tasks.is_empty() {
        bail!("nothing to serve: give --tftp and/or --dhcp");
    }
    println!("ready {}", ready.join(" "));
    let all = async {
        for t in tasks {
            t.await??;
        }
        anyhow::Ok(())
    };
    tokio::select! {
        r = all => r?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
