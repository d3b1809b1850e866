//! The DHCP server (feature `tokio`): ProxyDHCP beside another DHCP server, or a full DHCP
//! server leasing from a [`Pool`], with an optional PXE boot server (port 4011) under the
//! same policy. The receive loop never blocks: each datagram is decided by pure functions
//! and answered at once (no ping before an OFFER).
//!
//! ```no_run
//! # async fn demo() -> Result<(), pxe::Error> {
//! use std::net::Ipv4Addr;
//! use pxe::dhcp::BootPolicy;
//! use pxe::dhcp::server::DhcpServer;
//! let policy = BootPolicy::new(Ipv4Addr::new(10, 99, 0, 1), "http://10.99.0.1:8080");
//! let server = DhcpServer::builder(policy)
//!     .listen("0.0.0.0:67".parse().unwrap())
//!     .interface("eth1")
//!     .proxy()
//!     .bind()
//!     .await?;
//! server.run().await
//! # }
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tokio::net::UdpSocket;
use tracing::Instrument;

use super::frame::Frame;
use super::lease::{LeaseRecord, LeaseStore, MemoryStore};
use super::policy::{
    AllowAll, BootBackend, BootPolicy, ClassifyConfig, Decision, Mode, Reply, classify, decide,
};
pub use super::pool::Pool;
use crate::error::{Error, Result};

/// Builds a [`DhcpServer`].
pub struct DhcpServerBuilder {
    policy: BootPolicy,
    backend: Arc<dyn BootBackend + Send + Sync>,
    classify: ClassifyConfig,
    listen: SocketAddr,
    boot_server: Option<SocketAddr>,
    interface: Option<String>,
    client_port: u16,
    reply_to_source: bool,
    pool: Option<Pool>,
    store: Box<dyn LeaseStore>,
}

impl std::fmt::Debug for DhcpServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhcpServerBuilder")
            .field("policy", &self.policy)
            .field("listen", &self.listen)
            .field("boot_server", &self.boot_server)
            .field("interface", &self.interface)
            .finish_non_exhaustive()
    }
}

impl DhcpServerBuilder {
    /// Listen address (default `0.0.0.0:67`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }
    /// Also serve the PXE boot server port (normally `0.0.0.0:4011`).
    pub fn boot_server(mut self, addr: SocketAddr) -> Self {
        self.boot_server = Some(addr);
        self
    }
    /// Bind to this network interface (needed to broadcast replies on a host with several).
    pub fn interface(mut self, name: impl Into<String>) -> Self {
        self.interface = Some(name.into());
        self
    }
    /// The port replies to clients go to (68; tests may change it).
    pub fn client_port(mut self, port: u16) -> Self {
        self.client_port = port;
        self
    }
    /// Answer every client at the address and port its request came from, instead of the
    /// relay, its address or a broadcast (RFC 2131 4.1). Only for simulated clients that
    /// cannot receive broadcasts, such as `bmc-sim`'s virtual nodes on loopback; real firmware
    /// needs the default.
    pub fn reply_to_source(mut self, yes: bool) -> Self {
        self.reply_to_source = yes;
        self
    }
    /// Who may netboot (default: everyone).
    pub fn backend(mut self, backend: Arc<dyn BootBackend + Send + Sync>) -> Self {
        self.backend = backend;
        self
    }
    /// Classification settings (accepted PXE vendor prefixes, our iPXE's user class).
    pub fn classify_config(mut self, cfg: ClassifyConfig) -> Self {
        self.classify = cfg;
        self
    }
    /// ProxyDHCP mode: boot information only (the default when no pool is given).
    pub fn proxy(mut self) -> Self {
        self.pool = None;
        self
    }
    /// Full DHCP mode: lease addresses from `pool`.
    pub fn pool(mut self, pool: Pool) -> Self {
        self.pool = Some(pool);
        self
    }
    /// Where leases are kept across restarts (default: in memory only). Its leases are
    /// loaded into the pool at [`bind`](Self::bind); each ACK is recorded before it is sent.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), pxe::Error> {
    /// use std::net::Ipv4Addr;
    /// use pxe::dhcp::BootPolicy;
    /// use pxe::dhcp::lease::FileStore;
    /// use pxe::dhcp::server::{DhcpServer, Pool};
    /// let pool = Pool::new(Ipv4Addr::new(10, 99, 1, 1), Ipv4Addr::new(10, 99, 1, 254),
    ///                      Ipv4Addr::new(255, 255, 0, 0))?;
    /// let server = DhcpServer::builder(BootPolicy::new(Ipv4Addr::new(10, 99, 0, 1), "http://10.99.0.1"))
    ///     .pool(pool)
    ///     .lease_store(FileStore::open("/var/lib/pxe/leases")?)
    ///     .bind()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn lease_store(mut self, store: impl LeaseStore + 'static) -> Self {
        self.store = Box::new(store);
        self
    }

    fn socket(&self, addr: SocketAddr) -> Result<UdpSocket> {
        let s = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )
        .map_err(|e| Error::io("creating the DHCP socket", &e))?;
        let _ = s.set_recv_buffer_size(4 << 20);
        s.set_broadcast(true)
            .map_err(|e| Error::io("enabling broadcast", &e))?;
        s.set_reuse_address(true)
            .map_err(|e| Error::io("setting SO_REUSEADDR", &e))?;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(i) = &self.interface {
            s.bind_device(Some(i.as_bytes()))
                .map_err(|e| Error::io("binding to the interface", &e))?;
        }
        s.set_nonblocking(true)
            .map_err(|e| Error::io("setting non-blocking", &e))?;
        s.bind(&addr.into())
            .map_err(|e| Error::io("binding the DHCP socket", &e))?;
        UdpSocket::from_std(s.into()).map_err(|e| Error::io("registering the DHCP socket", &e))
    }

    /// Bind the sockets (and load the lease store's leases into the pool).
    pub async fn bind(mut self) -> Result<DhcpServer> {
        let socket = self.socket(self.listen)?;
        let boot = match self.boot_server {
            Some(a) => Some(self.socket(a)?),
            None => None,
        };
        if let Some(pool) = self.pool.as_mut() {
            restore_leases(pool, &mut *self.store)?;
        }
        Ok(DhcpServer {
            socket,
            boot,
            core: Core {
                policy: self.policy,
                backend: self.backend,
                classify: self.classify,
                pool: self.pool,
                client_port: self.client_port,
                reply_to_source: self.reply_to_source,
                store: self.store,
            },
        })
    }
}

/// Load a store's leases into a pool.
fn restore_leases(pool: &mut Pool, store: &mut dyn LeaseStore) -> Result<()> {
    let (now, wall) = (Instant::now(), SystemTime::now());
    let mut restored = 0;
    for l in store.load()? {
        let left = l.expires.duration_since(wall).unwrap_or_default();
        if pool.restore(l.mac, l.ip, left, now) {
            restored += 1;
        }
    }
    tracing::info!(restored, "leases loaded");
    Ok(())
}

/// The decision core, without sockets.
struct Core {
    policy: BootPolicy,
    backend: Arc<dyn BootBackend + Send + Sync>,
    classify: ClassifyConfig,
    pool: Option<Pool>,
    client_port: u16,
    reply_to_source: bool,
    store: Box<dyn LeaseStore>,
}

fn fmt_mac(m: Option<[u8; 6]>) -> String {
    match m {
        Some(m) => m
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
        None => "-".into(),
    }
}

impl Core {
    /// Decide on one datagram: the reply and where to send it.
    fn handle(
        &mut self,
        data: &[u8],
        from: SocketAddr,
        boot_port: bool,
    ) -> Option<(Vec<u8>, SocketAddr)> {
        let frame = Frame::parse(data).ok()?;
        if frame.op != 1 {
            return None;
        }
        let info = classify(&frame, &self.classify);
        let mac = fmt_mac(info.mac);
        let mode = if boot_port {
            Mode::BootServer
        } else if self.pool.is_some() {
            Mode::Full
        } else {
            Mode::Proxy
        };
        let decision = decide(&info, &*self.backend, &self.policy, mode);
        let mut reply = match (&decision, mode) {
            (Decision::Respond(r), _) => (**r).clone(),
            (Decision::Ignore(why), Mode::Full) => {
                tracing::info!(%mac, arch = ?info.arch, kind = ?info.kind, why, "no boot file; address only");
                let t = match info.message_type {
                    Some(1) => 2,
                    Some(3 | 8) => 5,
                    _ => 0,
                };
                Reply::address_only(t, self.policy.server)
            }
            (Decision::Ignore(why), _) => {
                tracing::info!(%mac, msg = ?info.message_type, arch = ?info.arch, kind = ?info.kind, why, "ignored");
                return None;
            }
        };
        if mode == Mode::Full {
            let pool = self.pool.as_mut()?;
            let m = info.mac?;
            let now = Instant::now();
            let requested = frame
                .option(50)
                .and_then(|v| <[u8; 4]>::try_from(v).ok())
                .map(Ipv4Addr::from)
                .or_else(|| (!frame.ciaddr.is_unspecified()).then_some(frame.ciaddr));
            let server_id = frame
                .option(54)
                .and_then(|v| <[u8; 4]>::try_from(v).ok())
                .map(Ipv4Addr::from);
            match info.message_type {
                Some(1) => match pool.offer(m, requested, now) {
                    Some(ip) => reply.yiaddr = ip,
                    None => {
                        tracing::warn!(%mac, "address pool exhausted");
                        return None;
                    }
                },
                Some(3) => {
                    if server_id.is_some_and(|s| s != self.policy.server) {
                        tracing::info!(%mac, "client chose another server");
                        pool.release(m);
                        return None;
                    }
                    match pool.request(m, requested, now) {
                        Some(ip) => {
                            let lease = LeaseRecord {
                                mac: m,
                                ip,
                                expires: SystemTime::now() + pool.lease_time(),
                            };
                            if let Err(e) = self.store.bind(&lease) {
                                // No ACK for a lease that could not be kept: the client retries.
                                tracing::error!(%mac, error = %e, "cannot record the lease");
                                pool.release(m);
                                return None;
                            }
                            reply.yiaddr = ip;
                        }
                        None => {
                            tracing::info!(%mac, ?requested, "NAK");
                            reply = Reply::address_only(6, self.policy.server);
                        }
                    }
                }
                Some(7) => {
                    pool.release(m);
                    if let Err(e) = self.store.release(m) {
                        tracing::warn!(%mac, error = %e, "cannot record the release");
                    }
                    tracing::info!(%mac, "released");
                    return None;
                }
                Some(8) => {}
                _ => return None,
            }
            if reply.message_type != 6 {
                reply.extra.extend(pool.options());
            }
        }
        let bytes = reply.encode(&frame).ok()?;
        // Where to send (RFC 2131 4.1): the relay, the client's address, or broadcast.
        let to = if boot_port || self.reply_to_source {
            from
        } else if let Some(relay) = info.relay {
            SocketAddr::V4(SocketAddrV4::new(relay, 67))
        } else if !frame.ciaddr.is_unspecified() && reply.message_type != 6 {
            SocketAddr::V4(SocketAddrV4::new(frame.ciaddr, self.client_port))
        } else {
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::BROADCAST, self.client_port))
        };
        tracing::info!(
            %mac,
            msg = ?info.message_type,
            reply = reply.message_type,
            arch = ?info.arch.map(|a| a.to_string()),
            kind = ?info.kind,
            ipxe = info.is_ipxe,
            relay = ?info.relay,
            yiaddr = %reply.yiaddr,
            boot_file = %reply.boot_file,
            %to,
            "answered"
        );
        Some((bytes, to))
    }
}

/// A DHCP / ProxyDHCP server.
pub struct DhcpServer {
    socket: UdpSocket,
    boot: Option<UdpSocket>,
    core: Core,
}

impl std::fmt::Debug for DhcpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhcpServer")
            .field("local_addr", &self.socket.local_addr().ok())
            .field("proxy", &self.core.pool.is_none())
            .finish_non_exhaustive()
    }
}

impl DhcpServer {
    /// A builder answering with `policy` (ProxyDHCP unless a pool is given).
    pub fn builder(policy: BootPolicy) -> DhcpServerBuilder {
        DhcpServerBuilder {
            policy,
            backend: Arc::new(AllowAll),
            classify: ClassifyConfig::default(),
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 67),
            boot_server: None,
            interface: None,
            client_port: 68,
            reply_to_source: false,
            pool: None,
            store: Box::new(MemoryStore::new()),
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.socket
            .local_addr()
            .map_err(|e| Error::io("reading the local address", &e))
    }

    /// The bound address of the PXE boot server socket, if any.
    pub fn boot_server_addr(&self) -> Result<Option<SocketAddr>> {
        match &self.boot {
            Some(s) => s
                .local_addr()
                .map(Some)
                .map_err(|e| Error::io("reading the local address", &e)),
            None => Ok(None),
        }
    }

    /// Run on a new task.
    pub fn spawn(self) -> tokio::task::JoinHandle<Result<()>> {
        tokio::spawn(self.run())
    }

    /// Serve until the task is dropped or aborted.
    pub async fn run(self) -> Result<()> {
        let span = tracing::info_span!("dhcp", addr = ?self.socket.local_addr().ok());
        self.serve().instrument(span).await
    }

    async fn serve(mut self) -> Result<()> {
        let mut buf = vec![0u8; 65536];
        let mut buf2 = vec![0u8; 65536];
        loop {
            let (n, from, boot) = tokio::select! {
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => (n, from, false),
                    Err(e) => { tracing::debug!(error = %e, "recv_from"); continue; }
                },
                r = async {
                    match &self.boot {
                        Some(s) => s.recv_from(&mut buf2).await,
                        None => std::future::pending().await,
                    }
                } => match r {
                    Ok((n, from)) => (n, from, true),
                    Err(e) => { tracing::debug!(error = %e, "recv_from 4011"); continue; }
                },
            };
            let data = if boot { &buf2[..n] } else { &buf[..n] };
            let Some((reply, to)) = self.core.handle(data, from, boot) else {
                continue;
            };
            let sock = match (&self.boot, boot) {
                (Some(s), true) => s,
                _ => &self.socket,
            };
            if let Err(e) = sock.send_to(&reply, to).await {
                tracing::warn!(error = %e, %to, "send_to");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::lease::FileStore;

    fn core(path: &std::path::Path) -> Core {
        let mut pool = Pool::new(
            Ipv4Addr::new(10, 0, 0, 10),
            Ipv4Addr::new(10, 0, 0, 20),
            Ipv4Addr::new(255, 255, 255, 0),
        )
        .unwrap();
        let mut store: Box<dyn LeaseStore> = Box::new(FileStore::open(path).unwrap());
        restore_leases(&mut pool, &mut *store).unwrap();
        Core {
            policy: BootPolicy::new(Ipv4Addr::new(10, 0, 0, 1), "http://10.0.0.1"),
            backend: Arc::new(AllowAll),
            classify: ClassifyConfig::default(),
            pool: Some(pool),
            client_port: 68,
            reply_to_source: false,
            store,
        }
    }

    #[test]
    fn leases_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leases");
        let from: SocketAddr = "0.0.0.0:68".parse().unwrap();
        let discover = crate::dhcp::policy::example_discover();
        let mut request = discover.clone();
        request[242] = 3;
        let yiaddr = |b: &[u8]| Ipv4Addr::new(b[16], b[17], b[18], b[19]);
        let first = {
            let mut c = core(&path);
            let (offer, _) = c.handle(&discover, from, false).unwrap();
            let (ack, _) = c.handle(&request, from, false).unwrap();
            assert_eq!(yiaddr(&offer), yiaddr(&ack));
            yiaddr(&ack)
        };
        // After a restart another client does not get that address, and the same client
        // gets it back.
        let mut c = core(&path);
        let mut other = discover.clone();
        other[28 + 5] ^= 0xff; // another MAC
        let (offer, _) = c.handle(&other, from, false).unwrap();
        assert_ne!(yiaddr(&offer), first);
        let (offer, _) = c.handle(&discover, from, false).unwrap();
        assert_eq!(yiaddr(&offer), first);
    }
}
