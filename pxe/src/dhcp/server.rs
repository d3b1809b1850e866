//! The DHCP server (feature `tokio`): ProxyDHCP beside another DHCP server, or a full DHCP
//! server leasing from a [`Pool`], with an optional PXE boot server (port 4011) under the
//! same policy. The receive loop never blocks: each datagram is decided by pure functions
//! and answered at once (no ping before an OFFER). With a durable [`LeaseStore`], an ACK
//! waits for its lease to be committed by a [`GroupCommit`] writer thread (which syncs many
//! leases at once), while the loop goes on with other clients. One client flooding the
//! server is held to a per-MAC rate (see [`FloodGuard`]), so it cannot starve the others.
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
use tokio::sync::mpsc;
use tracing::Instrument;

use super::frame::Frame;
pub use super::guard::FloodGuard;
use super::lease::{GroupCommit, LeaseChange, LeaseRecord, LeaseStore};
use super::policy::{
    AllowAll, BootBackend, BootPolicy, ClassifyConfig, Decision, Mac, Mode, Reply, classify, decide,
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
    store: Option<Box<dyn LeaseStore>>,
    commit_queue: usize,
    guard: Option<FloodGuard>,
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
    /// Where leases are kept across restarts (default: in the pool's memory only). Its
    /// leases are loaded into the pool at [`bind`](Self::bind); then a [`GroupCommit`]
    /// writer thread owns it, and each ACK is sent once its lease is committed (many leases
    /// share one commit; the receive loop never waits for the disk).
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
        self.store = Some(Box::new(store));
        self
    }

    /// How many lease changes may wait for the writer (default 16,384); when the disk falls
    /// that far behind, further REQUESTs are dropped (the clients retry) rather than queued
    /// without bound.
    pub fn commit_queue(mut self, n: usize) -> Self {
        self.commit_queue = n.max(1);
        self
    }

    /// Hold each client (by MAC) to `burst` datagrams at once and `per_second` after that
    /// (default: [`FloodGuard::default`], 16 and 4/s); datagrams over the limit are dropped
    /// before any other work. `None` turns the limit off. With
    /// [`FloodGuard::with_new_clients`], first-seen MACs are also held to a shared rate,
    /// while the pool's known clients (a reservation or a lease) never are.
    pub fn flood_guard(mut self, guard: Option<FloodGuard>) -> Self {
        self.guard = guard;
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
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let writer = match (self.pool.as_mut(), self.store) {
            (Some(pool), Some(mut store)) => {
                restore_leases(pool, &mut *store)?;
                let writer = GroupCommit::spawn(
                    store,
                    self.commit_queue,
                    move |pending: Vec<Option<Pending>>, result: Result<()>| {
                        let _ = done_tx.send((pending, result.is_ok()));
                    },
                )?;
                Some(writer)
            }
            _ => None,
        };
        Ok(DhcpServer {
            socket,
            boot,
            writer,
            committed: done_rx,
            guard: self.guard,
            core: Core {
                policy: self.policy,
                backend: self.backend,
                classify: self.classify,
                pool: self.pool,
                client_port: self.client_port,
                reply_to_source: self.reply_to_source,
            },
        })
    }
}

/// Load a store's leases into a pool.
fn restore_leases(pool: &mut Pool, store: &mut (impl LeaseStore + ?Sized)) -> Result<()> {
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
}

/// A MAC for logs, formatted only if the log line is written.
struct MacFmt(Option<Mac>);

impl std::fmt::Display for MacFmt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(m) => write!(
                f,
                "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                m[0], m[1], m[2], m[3], m[4], m[5]
            ),
            None => f.write_str("-"),
        }
    }
}

/// An ACK waiting for its lease to be committed.
#[derive(Debug)]
struct Pending {
    bytes: Vec<u8>,
    to: SocketAddr,
    mac: Mac,
    ip: Ipv4Addr,
}

/// What the loop does with a decided datagram.
#[derive(Debug)]
enum Action {
    /// Send this now.
    Send(Vec<u8>, SocketAddr),
    /// Record this change first, then send the reply (if any).
    Commit(LeaseChange, Option<Pending>),
}

impl Core {
    /// Decide on one datagram: what to send where, and what to record first.
    fn handle(&mut self, data: &[u8], from: SocketAddr, boot_port: bool) -> Option<Action> {
        let frame = Frame::parse(data).ok()?;
        if frame.op != 1 {
            return None;
        }
        let info = classify(&frame, &self.classify);
        let mac = MacFmt(info.mac);
        let mode = if boot_port {
            Mode::BootServer
        } else if self.pool.is_some() {
            Mode::Full
        } else {
            Mode::Proxy
        };
        let decision = decide(&info, &*self.backend, &self.policy, mode);
        let mut reply = match decision {
            Decision::Respond(r) => *r,
            Decision::Ignore(why) if mode == Mode::Full => {
                tracing::info!(%mac, arch = ?info.arch, kind = ?info.kind, why, "no boot file; address only");
                let t = match info.message_type {
                    Some(1) => 2,
                    Some(3 | 8) => 5,
                    _ => 0,
                };
                Reply::address_only(t, self.policy.server)
            }
            Decision::Ignore(why) => {
                tracing::info!(%mac, msg = ?info.message_type, arch = ?info.arch, kind = ?info.kind, why, "ignored");
                return None;
            }
        };
        let mut lease = None;
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
                            lease = Some(LeaseRecord {
                                mac: m,
                                ip,
                                expires: SystemTime::now() + pool.lease_time(),
                            });
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
                    tracing::info!(%mac, "released");
                    return Some(Action::Commit(LeaseChange::Release(m), None));
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
        Some(match lease {
            Some(l) => Action::Commit(
                LeaseChange::Bind(l),
                Some(Pending {
                    bytes,
                    to,
                    mac: l.mac,
                    ip: l.ip,
                }),
            ),
            None => Action::Send(bytes, to),
        })
    }

    /// A lease that could not be committed: take it back (no ACK went out; the client
    /// retries).
    fn uncommitted(&mut self, p: &Pending) {
        tracing::error!(mac = %MacFmt(Some(p.mac)), ip = %p.ip, "lease not recorded; no ACK");
        if let Some(pool) = self.pool.as_mut() {
            pool.release_if(p.mac, p.ip);
        }
    }
}

/// A DHCP / ProxyDHCP server.
pub struct DhcpServer {
    socket: UdpSocket,
    boot: Option<UdpSocket>,
    writer: Option<GroupCommit<Option<Pending>>>,
    committed: mpsc::UnboundedReceiver<(Vec<Option<Pending>>, bool)>,
    guard: Option<FloodGuard>,
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
            store: None,
            commit_queue: 16_384,
            guard: Some(FloodGuard::default()),
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
        let mut done = Vec::new();
        loop {
            let boot = tokio::select! {
                biased;
                // ACKs whose leases are now durable go out first.
                k = self.committed.recv_many(&mut done, 1024), if self.writer.is_some() => {
                    if k == 0 {
                        return Err(Error::Io {
                            during: "recording leases",
                            message: "the lease writer stopped".into(),
                        });
                    }
                    for (batch, ok) in done.drain(..) {
                        for p in batch.into_iter().flatten() {
                            if ok {
                                send(&self.socket, &p.bytes, p.to).await;
                            } else {
                                self.core.uncommitted(&p);
                            }
                        }
                    }
                    continue;
                }
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, from)) => {
                        self.datagram(&buf[..n], from, false).await;
                        false
                    }
                    Err(e) => { tracing::debug!(error = %e, "recv_from"); continue; }
                },
                r = async {
                    match &self.boot {
                        Some(s) => s.recv_from(&mut buf2).await,
                        None => std::future::pending().await,
                    }
                } => match r {
                    Ok((n, from)) => {
                        self.datagram(&buf2[..n], from, true).await;
                        true
                    }
                    Err(e) => { tracing::debug!(error = %e, "recv_from 4011"); continue; }
                },
            };
            // Under load, take what else is queued on that socket before polling again
            // (one readiness wake-up for a run of datagrams).
            for _ in 0..DRAIN {
                let sock = match (&self.boot, boot) {
                    (Some(s), true) => s,
                    _ => &self.socket,
                };
                let Ok((n, from)) = sock.try_recv_from(&mut buf) else {
                    break;
                };
                self.datagram(&buf[..n], from, boot).await;
            }
        }
    }

    /// Rate check, decision, and the reply sent (or queued behind its lease's commit).
    async fn datagram(&mut self, data: &[u8], from: SocketAddr, boot: bool) {
        let pool = self.core.pool.as_ref();
        if let Some(g) = self.guard.as_mut()
            && let Some(mac) = super::guard::chaddr(data)
            && !g.admit(mac, Instant::now(), || pool.is_some_and(|p| p.knows(mac)))
        {
            tracing::debug!(mac = %MacFmt(Some(mac)), "over the per-client rate; dropped");
            return;
        }
        let sock = match (&self.boot, boot) {
            (Some(s), true) => s,
            _ => &self.socket,
        };
        match self.core.handle(data, from, boot) {
            None => {}
            Some(Action::Send(reply, to)) => send(sock, &reply, to).await,
            Some(Action::Commit(change, pending)) => match &self.writer {
                None => {
                    if let Some(p) = pending {
                        send(sock, &p.bytes, p.to).await;
                    }
                }
                Some(w) => {
                    if let Err((e, pending)) = w.submit(change, pending) {
                        tracing::warn!(error = %e, "lease change not queued");
                        if let Some(p) = pending {
                            self.core.uncommitted(&p);
                        }
                    }
                }
            },
        }
    }
}

/// Datagrams taken per wake-up beyond the first.
const DRAIN: usize = 64;

/// Send one datagram; a failure is logged, never fatal (UDP send on a full buffer or an
/// unreachable address only affects that client).
async fn send(sock: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = sock.send_to(bytes, to).await {
        tracing::warn!(error = %e, %to, "send_to");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dhcp::lease::FileStore;

    fn core(store: &mut FileStore) -> Core {
        let mut pool = Pool::new(
            Ipv4Addr::new(10, 0, 0, 10),
            Ipv4Addr::new(10, 0, 0, 20),
            Ipv4Addr::new(255, 255, 255, 0),
        )
        .unwrap();
        restore_leases(&mut pool, store).unwrap();
        Core {
            policy: BootPolicy::new(Ipv4Addr::new(10, 0, 0, 1), "http://10.0.0.1"),
            backend: Arc::new(AllowAll),
            classify: ClassifyConfig::default(),
            pool: Some(pool),
            client_port: 68,
            reply_to_source: false,
        }
    }

    /// Run one datagram through the core, committing as the loop's writer would.
    fn step(c: &mut Core, store: &mut FileStore, data: &[u8]) -> Option<Vec<u8>> {
        let from: SocketAddr = "0.0.0.0:68".parse().unwrap();
        match c.handle(data, from, false)? {
            Action::Send(b, _) => Some(b),
            Action::Commit(change, pending) => {
                store.commit(&[change]).unwrap();
                pending.map(|p| p.bytes)
            }
        }
    }

    #[test]
    fn leases_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leases");
        let discover = crate::dhcp::policy::example_discover();
        let mut request = discover.clone();
        request[242] = 3;
        let yiaddr = |b: &[u8]| Ipv4Addr::new(b[16], b[17], b[18], b[19]);
        let first = {
            let mut store = FileStore::open(&path).unwrap();
            let mut c = core(&mut store);
            let offer = step(&mut c, &mut store, &discover).unwrap();
            // The OFFER records nothing; the ACK waits for its lease to be committed.
            assert!(matches!(
                c.handle(&discover, "0.0.0.0:68".parse().unwrap(), false),
                Some(Action::Send(..))
            ));
            assert!(matches!(
                c.handle(&request, "0.0.0.0:68".parse().unwrap(), false),
                Some(Action::Commit(LeaseChange::Bind(_), Some(_)))
            ));
            let ack = step(&mut c, &mut store, &request).unwrap();
            assert_eq!(yiaddr(&offer), yiaddr(&ack));
            yiaddr(&ack)
        };
        // After a restart another client does not get that address, and the same client
        // gets it back.
        let mut store = FileStore::open(&path).unwrap();
        let mut c = core(&mut store);
        let mut other = discover.clone();
        other[28 + 5] ^= 0xff; // another MAC
        let offer = step(&mut c, &mut store, &other).unwrap();
        assert_ne!(yiaddr(&offer), first);
        let offer = step(&mut c, &mut store, &discover).unwrap();
        assert_eq!(yiaddr(&offer), first);
        // A lease that could not be recorded is taken back.
        let mut req2 = other.clone();
        req2[242] = 3;
        let Some(Action::Commit(_, Some(p))) =
            c.handle(&req2, "0.0.0.0:68".parse().unwrap(), false)
        else {
            panic!("no commit for a REQUEST");
        };
        c.uncommitted(&p);
        let Some(Action::Send(nak, _)) = c.handle(&req2, "0.0.0.0:68".parse().unwrap(), false)
        else {
            panic!("a REQUEST without an offer is answered at once");
        };
        assert_eq!(nak[242], 6, "NAK once the unrecorded lease was taken back");
    }

    /// The whole server on loopback with a durable store: every ACK arrives, after its lease
    /// is on disk, and many ACKs share one commit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acks_wait_for_group_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leases");
        let pool = Pool::new(
            Ipv4Addr::new(10, 0, 0, 10),
            Ipv4Addr::new(10, 0, 3, 250),
            Ipv4Addr::new(255, 255, 0, 0),
        )
        .unwrap();
        let server = DhcpServer::builder(BootPolicy::new(Ipv4Addr::LOCALHOST, "http://x"))
            .listen("127.0.0.1:0".parse().unwrap())
            .reply_to_source(true)
            .pool(pool)
            .lease_store(FileStore::open(&path).unwrap())
            .bind()
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let task = server.spawn();
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let n = 300u16;
        let mut req = crate::dhcp::policy::example_discover();
        req[242] = 3;
        req.pop(); // 255
        req.extend_from_slice(&[50, 4, 10, 0, 0, 0, 255]);
        let at = req.len() - 3;
        let mut acks = std::collections::HashSet::new();
        let mut buf = [0u8; 1500];
        // In waves of 50 (the client's own receive buffer holds no more than that).
        for wave in 0..n / 50 {
            for i in wave * 50..(wave + 1) * 50 {
                req[32..34].copy_from_slice(&i.to_be_bytes());
                req[at..at + 2].copy_from_slice(&(i + 10).to_be_bytes()); // 10.0.x.y
                client.send_to(&req, addr).await.unwrap();
            }
            while acks.len() < usize::from((wave + 1) * 50) {
                let (k, _) = tokio::time::timeout(
                    std::time::Duration::from_secs(10),
                    client.recv_from(&mut buf),
                )
                .await
                .unwrap_or_else(|_| panic!("every REQUEST gets its ACK: {} of {n}", acks.len()))
                .unwrap();
                let f = Frame::parse(&buf[..k]).unwrap();
                assert_eq!(f.message_type(), Some(5));
                acks.insert(f.mac().unwrap());
            }
        }
        // Every ACKed lease is in the log already.
        let on_disk = std::fs::read_to_string(&path).unwrap();
        assert_eq!(on_disk.lines().filter(|l| l.starts_with("B ")).count(), 300);
        task.abort();
    }

    /// A store whose commits take 400 ms (a very slow disk).
    struct SlowDisk(crate::dhcp::lease::MemoryStore);

    impl LeaseStore for SlowDisk {
        fn load(&mut self) -> Result<Vec<LeaseRecord>> {
            self.0.load()
        }
        fn bind(&mut self, lease: &LeaseRecord) -> Result<()> {
            std::thread::sleep(std::time::Duration::from_millis(400));
            self.0.bind(lease)
        }
        fn release(&mut self, mac: Mac) -> Result<()> {
            self.0.release(mac)
        }
    }

    /// While one client's ACK waits for a slow commit, the loop answers other clients at
    /// once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_commit_does_not_block_other_clients() {
        let pool = Pool::new(
            Ipv4Addr::new(10, 0, 0, 10),
            Ipv4Addr::new(10, 0, 0, 200),
            Ipv4Addr::new(255, 255, 255, 0),
        )
        .unwrap();
        let server = DhcpServer::builder(BootPolicy::new(Ipv4Addr::LOCALHOST, "http://x"))
            .listen("127.0.0.1:0".parse().unwrap())
            .reply_to_source(true)
            .pool(pool)
            .lease_store(SlowDisk(crate::dhcp::lease::MemoryStore::new()))
            .bind()
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let task = server.spawn();
        let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut request = crate::dhcp::policy::example_discover();
        request[242] = 3;
        request.pop();
        request.extend_from_slice(&[50, 4, 10, 0, 0, 50, 255]);
        let mut discover = crate::dhcp::policy::example_discover();
        discover[33] = 0x77; // another client
        let t0 = std::time::Instant::now();
        client.send_to(&request, addr).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        client.send_to(&discover, addr).await.unwrap();
        let mut buf = [0u8; 1500];
        let mut order = Vec::new();
        while order.len() < 2 {
            let (k, _) = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                client.recv_from(&mut buf),
            )
            .await
            .expect("both answered")
            .unwrap();
            let f = Frame::parse(&buf[..k]).unwrap();
            order.push((f.message_type(), t0.elapsed()));
        }
        assert_eq!(order[0].0, Some(2), "the OFFER first: {order:?}");
        assert!(
            order[0].1 < std::time::Duration::from_millis(300),
            "{order:?}"
        );
        assert_eq!(order[1].0, Some(5), "{order:?}");
        assert!(
            order[1].1 >= std::time::Duration::from_millis(400),
            "the ACK only once its lease is recorded: {order:?}"
        );
        task.abort();
    }
}
