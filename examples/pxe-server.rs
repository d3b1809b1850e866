//! `pxe-server`: serve network boot from a directory over TFTP (and DHCP when asked),
//! logging every decision.
//!
//! ```text
//! cargo run --release --example pxe-server -- --root DIR [--tftp ADDR:PORT]
//!     [--max-blksize N] [--max-window N] [--max-per-client N] [--tftp-tasks] [--busy-poll-us N]
//!     [--http ADDR:PORT [--kernel URL [--initrd URL]... [--append ARGS] [--callback URL]]]
//!     [--dhcp ADDR:PORT [--proxy [--boot-server ADDR:PORT]]
//!      [--pool FIRST-LAST --netmask MASK [--router IP] [--leases FILE]]
//!      [--new-clients-per-second N]]
//!     [--next-server IP] [--http-base URL] [--ipxe-script URL]
//! ```
//!
//! TFTP listens on `0.0.0.0:69` by default (use `--tftp 127.0.0.1:6969` to run unprivileged).
//! With `--dhcp`, a DHCP server answers netboot clients: ProxyDHCP (boot information only,
//! beside another DHCP server) with `--proxy` (and the PXE boot server on `--boot-server`,
//! normally `0.0.0.0:4011`), otherwise a full server leasing from `--pool`, its leases kept
//! in the append-only log `--leases FILE` across restarts (each ACK sent once its lease is
//! synced; many leases share one sync).
//! With `--http`, DIR is also served over HTTP (`HEAD` and ranges, for UEFI HTTP boot and
//! iPXE; the DHCP answer to a UEFI HTTP boot client is `HTTP-BASE/ipxe.efi`); with `--kernel`, `/boot.ipxe` is an iPXE script rendered per node (the MAC from
//! `?mac=`) that boots that kernel with `--initrd`s, `--append` and the agent `--callback`
//! URL. `RUST_LOG=debug` shows every transfer's negotiation.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Parser;
use pxe::dhcp::BootPolicy;
use pxe::dhcp::server::{DhcpServer, FloodGuard, Pool};
use pxe::http::server::HttpServer;
use pxe::http::{Files, FnHandler, Request, Response, Router};
use pxe::ipxe::IpxeScript;
use pxe::tftp::server::{Driver, TftpServer};
use pxe::tftp::source::{DirSource, OpenError};
use pxe::tftp::transfer::TransferConfig;

#[derive(Parser, Debug)]
#[command(
    name = "pxe-server",
    about = "TFTP (and DHCP) network-boot server for a directory"
)]
struct Args {
    /// Directory served over TFTP.
    #[arg(long)]
    root: PathBuf,
    /// TFTP listen address.
    #[arg(long, default_value = "0.0.0.0:69")]
    tftp: SocketAddr,
    /// Largest TFTP block size granted; each transfer is also capped by the path MTU
    /// towards its client less 32 (1468 over a 1500-byte link), so no block is fragmented.
    #[arg(long, default_value_t = 65464)]
    max_blksize: u16,
    /// Largest TFTP window granted (RFC 7440).
    #[arg(long, default_value_t = 64)]
    max_window: u16,
    /// Most concurrent transfers per client address.
    #[arg(long, default_value_t = 16)]
    max_per_client: usize,
    /// Drive TFTP transfers as tokio tasks instead of one thread each.
    #[arg(long)]
    tftp_tasks: bool,
    /// Microseconds a TFTP transfer thread polls for the next ACK before it sleeps (0:
    /// never; see pxe::tftp::server).
    #[arg(long, default_value_t = 100)]
    busy_poll_us: u64,
    /// Most concurrent transfers in all.
    #[arg(long, default_value_t = 1024)]
    max_transfers: usize,
    /// HTTP listen address (e.g. 0.0.0.0:8080); no HTTP without it.
    #[arg(long)]
    http: Option<SocketAddr>,
    /// Kernel URL of the per-node iPXE script served at /boot.ipxe.
    #[arg(long)]
    kernel: Option<String>,
    /// Initrd URL of the per-node script (repeat for several).
    #[arg(long)]
    initrd: Vec<String>,
    /// Kernel arguments of the per-node script.
    #[arg(long, default_value = "")]
    append: String,
    /// Agent callback URL, passed as kernel argument `CALLBACK_ARG=URL?mac=<node's MAC>`.
    #[arg(long)]
    callback: Option<String>,
    /// Kernel argument name of the callback URL.
    #[arg(long, default_value = "agent.callback")]
    callback_arg: String,
    /// DHCP listen address (e.g. 0.0.0.0:67); no DHCP without it.
    #[arg(long)]
    dhcp: Option<SocketAddr>,
    /// Network interface for DHCP broadcasts (SO_BINDTODEVICE).
    #[arg(long)]
    interface: Option<String>,
    /// ProxyDHCP: boot information only, beside another DHCP server.
    #[arg(long)]
    proxy: bool,
    /// Address pool FIRST-LAST (full DHCP mode).
    #[arg(long)]
    pool: Option<String>,
    /// Subnet mask (full DHCP mode).
    #[arg(long, default_value = "255.255.255.0")]
    netmask: Ipv4Addr,
    /// Router (full DHCP mode).
    #[arg(long)]
    router: Option<Ipv4Addr>,
    /// Durable lease log (full DHCP mode); leases are kept in memory only without it.
    #[arg(long)]
    leases: Option<PathBuf>,
    /// PXE boot server address (e.g. 0.0.0.0:4011), under the same policy.
    #[arg(long)]
    boot_server: Option<SocketAddr>,
    /// The TFTP server clients are told to use (and the DHCP server identifier).
    #[arg(long)]
    next_server: Option<Ipv4Addr>,
    /// Base URL of the HTTP server for UEFI HTTP boot and iPXE scripts.
    #[arg(long)]
    http_base: Option<String>,
    /// iPXE script URL handed to iPXE clients (default HTTP_BASE/boot.ipxe).
    #[arg(long)]
    ipxe_script: Option<String>,
    /// Admit at most this many new DHCP clients (MACs neither seen nor known to the pool)
    /// per second, with a burst of 4 seconds' worth: a flood of spoofed MACs is held to it
    /// while reserved and leased nodes are not. Off by default.
    #[arg(long)]
    new_clients_per_second: Option<u32>,
    /// DHCP client port replies are sent to (68; change only for tests).
    #[arg(long, default_value_t = 68)]
    client_port: u16,
}

fn parse_pool(s: &str) -> anyhow::Result<(Ipv4Addr, Ipv4Addr)> {
    let (a, b) = s.split_once('-').context("--pool takes FIRST-LAST")?;
    Ok((a.trim().parse()?, b.trim().parse()?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        // Colours on a terminal only, never escape codes in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let args = Args::parse();
    let root =
        DirSource::new(&args.root).with_context(|| format!("TFTP root {}", args.root.display()))?;
    let cfg = TransferConfig::builder()
        .max_blksize(args.max_blksize)
        .max_window(args.max_window)
        .build();
    let tftp = TftpServer::builder(Arc::new(root))
        .listen(args.tftp)
        .transfer_config(cfg)
        .max_per_client(args.max_per_client)
        .max_transfers(args.max_transfers)
        .driver(if args.tftp_tasks {
            Driver::Task
        } else {
            Driver::Thread
        })
        .busy_poll(std::time::Duration::from_micros(args.busy_poll_us))
        .bind()
        .await?;
    tracing::info!(addr = %tftp.local_addr()?, root = %args.root.display(), "TFTP serving");
    let tftp_task = tftp.spawn();

    let http_task = match args.http {
        None => None,
        Some(addr) => {
            let files = DirSource::new(&args.root)
                .with_context(|| format!("HTTP root {}", args.root.display()))?;
            let mut router = Router::new();
            if let Some(kernel) = &args.kernel {
                let mut script = IpxeScript::new().kernel(kernel).args(&args.append)?;
                for i in &args.initrd {
                    script = script.initrd(i);
                }
                if let Some(cb) = &args.callback {
                    script = script.callback_setting(&args.callback_arg, cb);
                }
                script.render()?;
                router = router.route(
                    "/boot.ipxe",
                    FnHandler::new(move |r: &Request| {
                        let mac = r.query_param("mac").unwrap_or_else(|| "-".into());
                        let text = script
                            .clone()
                            .echo(&format!("pxe-server: booting node {mac}"))
                            .render()
                            .map_err(|e| OpenError::Other(e.to_string()))?;
                        Ok(Response::script(text))
                    }),
                );
            }
            let server = HttpServer::builder(router.route("/", Files(files)))
                .listen(addr)
                .bind()
                .await?;
            tracing::info!(addr = %server.local_addr()?, "HTTP serving");
            Some(server.spawn())
        }
    };

    let dhcp_task = match args.dhcp {
        None => None,
        Some(addr) => {
            let next = match (args.next_server, args.tftp.ip()) {
                (Some(ip), _) => ip,
                (None, std::net::IpAddr::V4(ip)) if !ip.is_unspecified() => ip,
                _ => bail!("--dhcp needs --next-server (the address clients reach TFTP at)"),
            };
            let http_base = args.http_base.clone().unwrap_or_else(|| match args.http {
                Some(h) => format!("http://{next}:{}", h.port()),
                None => format!("http://{next}"),
            });
            let mut policy = BootPolicy::new(next, http_base);
            if let Some(url) = &args.ipxe_script {
                policy = policy.with_ipxe_script(url.clone());
            }
            let mut b = DhcpServer::builder(policy)
                .listen(addr)
                .client_port(args.client_port);
            if let Some(n) = args.new_clients_per_second {
                b = b.flood_guard(Some(
                    FloodGuard::default().with_new_clients(n.saturating_mul(4), n),
                ));
            }
            if let Some(i) = &args.interface {
                b = b.interface(i.clone());
            }
            if let Some(a) = args.boot_server {
                b = b.boot_server(a);
            }
            if args.proxy {
                b = b.proxy();
            } else {
                let Some(pool) = &args.pool else {
                    bail!("full DHCP mode needs --pool FIRST-LAST (or use --proxy)")
                };
                let (first, last) = parse_pool(pool)?;
                let mut p = Pool::new(first, last, args.netmask)?;
                if let Some(r) = args.router {
                    p = p.with_router(r);
                }
                b = b.pool(p);
                if let Some(path) = &args.leases {
                    let store = pxe::dhcp::lease::FileStore::open(path)
                        .with_context(|| format!("lease file {}", path.display()))?;
                    b = b.lease_store(store);
                }
            }
            let server = b.bind().await?;
            tracing::info!(addr = %server.local_addr()?, proxy = args.proxy, "DHCP serving");
            Some(server.spawn())
        }
    };

    tokio::select! {
        r = tftp_task => { r??; }
        r = async { match dhcp_task { Some(t) => t.await, None => std::future::pending().await } } => { r??; }
        r = async { match http_task { Some(t) => t.await, None => std::future::pending().await } } => { r??; }
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted"),
    }
    Ok(())
}
