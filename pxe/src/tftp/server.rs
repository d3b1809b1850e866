//! The TFTP server (feature `tokio`): read-only, one socket per transfer on an ephemeral port
//! (RFC 1350), concurrency bounded globally and per client, socket buffers sized for
//! `windowsize x blksize` (the window granted is capped by the buffer the kernel grants), and
//! the block size capped by the path MTU towards each client (on Linux, `IP_MTU` of the
//! transfer socket: a request that reaches us over a 1500-byte link gets at most 1468,
//! loopback allows 65464), so that no block is fragmented.
//!
//! Each transfer reads ahead: the next window's blocks are read from the content (in chunks
//! of a window, within 64 KiB and 1 MiB) while the client takes the current one in, and
//! each DATA datagram goes out with one `sendmsg` straight from that buffer, with no
//! allocation or copy per block.
//!
//! The listening socket is served by a tokio task that never blocks; each transfer is
//! driven by a thread with a blocking socket ([`Driver::Thread`], the default: lock-step
//! TFTP is bound by the latency of each block, and a blocking `recv` wakes fastest) or by a
//! tokio task ([`Driver::Task`]). Both drive the same sans-IO
//! [`ReadTransfer`].
//!
//! A lock-step transfer spends most of each block waiting for the ACK, and on a virtual
//! machine the wake-up of a sleeping thread alone costs tens of microseconds (an
//! inter-processor interrupt through the hypervisor): more than the whole round trip over
//! loopback or a fast LAN. So a thread-driven transfer first polls its socket without
//! blocking for a short while ([`TftpServerBuilder::busy_poll`], 100 µs by default, as the
//! kernel's own `net.core.busy_read` does for NIC queues), then blocks. Between polls it
//! yields the CPU (`sched_yield`), so whatever else is runnable there (another transfer, or
//! over loopback the client itself) runs first: polling never delays the packet it waits
//! for. The spin is bounded twice: it is skipped when this client's recent ACKs came later
//! than the budget (a slow or distant client costs no CPU), and at most one transfer per
//! spare CPU spins at a time (never on a single-CPU machine), so a boot storm is not slowed
//! by spinning threads. On the 2-vCPU benchmark machine this tripled lock-step throughput
//! at block sizes up to 8192 over loopback (`scripts/bench.sh`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), pxe::Error> {
//! use std::sync::Arc;
//! use pxe::tftp::server::TftpServer;
//! use pxe::tftp::source::DirSource;
//! let root = DirSource::new("/srv/tftp").map_err(|e| pxe::Error::Io {
//!     during: "opening the root", message: e.to_string() })?;
//! let server = TftpServer::builder(Arc::new(root))
//!     .listen("127.0.0.1:6969".parse().unwrap())
//!     .max_transfers(1000)
//!     .max_per_client(8)
//!     .bind()
//!     .await?;
//! server.run().await
//! # }
//! ```

use std::collections::HashMap;
use std::io::IoSlice;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tracing::Instrument;

use super::packet::{ErrorCode, Packet, error_packet};
use super::source::{FileSource, OpenRequest};
use super::transfer::{Outcome, ReadTransfer, TransferConfig};
use crate::error::{Error, Result};

fn lock<S>(m: &Mutex<S>) -> std::sync::MutexGuard<'_, S> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Builds a [`TftpServer`].
pub struct TftpServerBuilder {
    source: Arc<dyn FileSource>,
    listen: SocketAddr,
    transfer: TransferConfig,
    max_transfers: usize,
    max_per_client: usize,
    socket_buffer: usize,
    driver: Driver,
    busy_poll: Duration,
}

impl std::fmt::Debug for TftpServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TftpServerBuilder")
            .field("listen", &self.listen)
            .field("transfer", &self.transfer)
            .field("max_transfers", &self.max_transfers)
            .field("max_per_client", &self.max_per_client)
            .field("socket_buffer", &self.socket_buffer)
            .field("driver", &self.driver)
            .field("busy_poll", &self.busy_poll)
            .finish_non_exhaustive()
    }
}

impl TftpServerBuilder {
    /// Listen address (default `0.0.0.0:69`; tests use `127.0.0.1:0`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }
    /// Transfer limits (block size, window, timeout, retries).
    pub fn transfer_config(mut self, cfg: TransferConfig) -> Self {
        self.transfer = cfg;
        self
    }
    /// Most transfers at once (default 1024); requests beyond get ERROR 0 "server busy".
    pub fn max_transfers(mut self, n: usize) -> Self {
        self.max_transfers = n.max(1);
        self
    }
    /// Most transfers at once from one client address (default 16).
    pub fn max_per_client(mut self, n: usize) -> Self {
        self.max_per_client = n.max(1);
        self
    }
    /// Send buffer asked for each transfer socket (default 4 MiB; the kernel may grant
    /// less, and the window is capped by what it grants).
    pub fn socket_buffer(mut self, bytes: usize) -> Self {
        self.socket_buffer = bytes;
        self
    }
    /// How transfers are driven (default [`Driver::Thread`]).
    pub fn driver(mut self, driver: Driver) -> Self {
        self.driver = driver;
        self
    }
    /// How long a thread-driven transfer polls for the client's next packet before it
    /// sleeps (default 100 µs; [`Duration::ZERO`] never spins). See the module docs: the
    /// spin is skipped for clients slower than this, and at most one transfer per spare
    /// CPU spins at a time.
    pub fn busy_poll(mut self, budget: Duration) -> Self {
        self.busy_poll = budget;
        self
    }
    /// Bind the listening socket.
    pub async fn bind(self) -> Result<TftpServer> {
        let socket = bind_udp(self.listen, 1 << 20, 1 << 20)
            .map_err(|e| Error::io("binding the TFTP socket", &e))?;
        Ok(TftpServer {
            socket,
            shared: Arc::new(Shared {
                source: self.source,
                transfer: self.transfer,
                max_transfers: self.max_transfers,
                max_per_client: self.max_per_client,
                socket_buffer: self.socket_buffer,
                driver: self.driver,
                busy_poll: self.busy_poll,
                spinners: Spinners::new(spare_cpus()),
                active: Mutex::new(Active::default()),
            }),
        })
    }
}

#[derive(Default)]
struct Active {
    total: usize,
    per_client: HashMap<IpAddr, usize>,
    /// The request each running transfer answers: a retransmitted RRQ (same client port,
    /// same bytes) is not a new transfer.
    requests: HashMap<SocketAddr, Vec<u8>>,
}

struct Shared {
    source: Arc<dyn FileSource>,
    transfer: TransferConfig,
    max_transfers: usize,
    max_per_client: usize,
    socket_buffer: usize,
    driver: Driver,
    busy_poll: Duration,
    spinners: Spinners,
    active: Mutex<Active>,
}

/// CPUs a spinning transfer may take without starving anything: all but one.
fn spare_cpus() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get() - 1)
}

/// At most `max` transfers spin at once.
struct Spinners {
    now: AtomicUsize,
    max: usize,
}

impl Spinners {
    fn new(max: usize) -> Self {
        Spinners {
            now: AtomicUsize::new(0),
            max,
        }
    }

    /// A spinning slot, if one is free.
    fn try_acquire(&self) -> Option<SpinSlot<'_>> {
        self.now
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| SpinSlot(self))
    }
}

/// Frees its spinning slot when dropped.
struct SpinSlot<'a>(&'a Spinners);

impl Drop for SpinSlot<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Whether to spin before the next wait: a moving average of how long this client takes
/// to answer, compared with the budget.
#[derive(Debug)]
struct BusyPoll {
    budget: Duration,
    /// Exponentially weighted average of the waits (weight 1/8), in nanoseconds.
    average_ns: u64,
}

impl BusyPoll {
    fn new(budget: Duration) -> Self {
        // Optimistic start: the first wait spins and so measures the client.
        BusyPoll {
            budget,
            average_ns: 0,
        }
    }

    /// Spin before this wait?
    fn worth_spinning(&self) -> bool {
        !self.budget.is_zero() && u128::from(self.average_ns) < self.budget.as_nanos()
    }

    /// How long the client took this time (a timeout counts as its full length).
    fn observe(&mut self, waited: Duration) {
        let w = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.average_ns = self.average_ns - self.average_ns / 8 + w / 8;
    }
}

/// Poll `socket` without blocking, yielding the CPU between polls, until a datagram comes
/// or `budget` has passed; `None` when nothing came (then block as usual).
fn spin_recv(
    socket: &std::net::UdpSocket,
    buf: &mut [u8],
    budget: Duration,
) -> Option<std::io::Result<usize>> {
    let start = Instant::now();
    loop {
        match rustix::net::recv(socket, &mut *buf, rustix::net::RecvFlags::DONTWAIT) {
            Ok((n, _)) => return Some(Ok(n)),
            Err(rustix::io::Errno::AGAIN | rustix::io::Errno::INTR) => {}
            Err(e) => return Some(Err(e.into())),
        }
        if start.elapsed() >= budget {
            return None;
        }
        std::thread::yield_now();
    }
}

/// Releases a transfer's slot when dropped.
struct Slot {
    shared: Arc<Shared>,
    client: IpAddr,
    peer: SocketAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut a = lock(&self.shared.active);
        a.requests.remove(&self.peer);
        a.total = a.total.saturating_sub(1);
        if let Some(n) = a.per_client.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                a.per_client.remove(&self.client);
            }
        }
    }
}

/// A read-only TFTP server.
pub struct TftpServer {
    socket: UdpSocket,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TftpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TftpServer")
            .field("local_addr", &self.socket.local_addr().ok())
            .finish_non_exhaustive()
    }
}

fn bind_udp(addr: SocketAddr, rcv: usize, snd: usize) -> std::io::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let s = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // Best effort: the kernel may grant less.
    let _ = s.set_recv_buffer_size(rcv);
    let _ = s.set_send_buffer_size(snd);
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

impl TftpServer {
    /// A builder serving `source`.
    pub fn builder(source: Arc<dyn FileSource>) -> TftpServerBuilder {
        TftpServerBuilder {
            source,
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 69),
            transfer: TransferConfig::default(),
            max_transfers: 1024,
            max_per_client: 16,
            socket_buffer: 4 << 20,
            driver: Driver::default(),
            busy_poll: Duration::from_micros(100),
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.socket
            .local_addr()
            .map_err(|e| Error::io("reading the local address", &e))
    }

    /// Run on a new task.
    pub fn spawn(self) -> tokio::task::JoinHandle<Result<()>> {
        tokio::spawn(self.run())
    }

    /// Serve until the task is dropped or aborted.
    pub async fn run(self) -> Result<()> {
        let span = tracing::info_span!("tftp", addr = ?self.socket.local_addr().ok());
        self.serve().instrument(span).await
    }

    async fn serve(self) -> Result<()> {
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, from) = match self.socket.recv_from(&mut buf).await {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, "recv_from");
                    continue;
                }
            };
            let reply = self.on_datagram(&buf[..n], from);
            if let Some(reply) = reply
                && let Err(e) = self.socket.send_to(&reply, from).await
            {
                tracing::debug!(error = %e, %from, "send_to");
            }
        }
    }

    /// Handle one datagram on the listening port; an ERROR to send back, if any.
    fn on_datagram(&self, data: &[u8], from: SocketAddr) -> Option<Vec<u8>> {
        let packet = match Packet::parse(data) {
            Ok(p) => p,
            Err(e) => {
                tracing::info!(client = %from, error = %e, "malformed request refused");
                return Some(error_packet(
                    ErrorCode::IllegalOperation,
                    "malformed request",
                ));
            }
        };
        let req = match packet {
            Packet::Rrq(r) => r,
            Packet::Wrq(r) => {
                tracing::info!(client = %from, file = %r.filename, "write request refused (read-only)");
                return Some(error_packet(ErrorCode::AccessViolation, "read-only server"));
            }
            // Never answer an ERROR with an ERROR.
            Packet::Error { .. } => return None,
            _ => {
                tracing::debug!(client = %from, "stray packet on the listening port");
                return Some(error_packet(
                    ErrorCode::UnknownTransferId,
                    "unknown transfer id",
                ));
            }
        };
        if let Err(r) = super::transfer::check_mode(&req) {
            tracing::info!(client = %from, file = %req.filename, mode = %req.mode, "unsupported mode refused");
            return Some(error_packet(r.code, &r.message));
        }
        // Admission: global and per-client bounds. A client is its address; an IPv4 client of
        // a dual-stack socket (a mapped address) counts as that IPv4 address.
        let client = from.ip().to_canonical();
        {
            let mut a = lock(&self.shared.active);
            if a.requests.get(&from).is_some_and(|r| r.as_slice() == data) {
                tracing::debug!(client = %from, "retransmitted request ignored (transfer running)");
                return None;
            }
            let mine = a.per_client.get(&client).copied().unwrap_or(0);
            if a.total >= self.shared.max_transfers || mine >= self.shared.max_per_client {
                tracing::warn!(client = %from, file = %req.filename, total = a.total, mine,
                    "transfer refused: server busy");
                return Some(error_packet(ErrorCode::NotDefined, "server busy"));
            }
            a.total += 1;
            *a.per_client.entry(client).or_insert(0) += 1;
            a.requests.insert(from, data.to_vec());
        }
        let slot = Slot {
            shared: self.shared.clone(),
            client,
            peer: from,
        };
        // The request borrows the receive buffer: keep an owned copy for the task.
        let owned = data.to_vec();
        let local_ip = self
            .socket
            .local_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        let span = tracing::info_span!("tftp_transfer", client = %from, file = %req.filename);
        match self.shared.driver {
            Driver::Task => {
                tokio::spawn(run_task(slot, owned, from, local_ip).instrument(span));
            }
            _ => {
                let spawned = std::thread::Builder::new()
                    .name("tftp-transfer".into())
                    .stack_size(256 << 10)
                    .spawn(move || {
                        let _entered = span.entered();
                        run_thread(slot, owned, from, local_ip);
                    });
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "cannot start a transfer thread");
                    return Some(error_packet(ErrorCode::NotDefined, "server busy"));
                }
            }
        }
        None
    }
}

/// How each transfer is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Driver {
    /// A thread per transfer with a blocking socket (the default): the lowest latency per
    /// lock-step block, as tftpd-hpa's process per transfer has, and a short busy poll
    /// before each wait ([`TftpServerBuilder::busy_poll`]).
    #[default]
    Thread,
    /// A tokio task per transfer: no thread per transfer, a little more latency per packet.
    Task,
}

/// Open the transfer socket (connected to the client, on an ephemeral port: its port is
/// the server's TID) and the content; `None` when the request was refused (the ERROR is
/// sent) or the socket could not be opened.
fn prepare(
    shared: &Shared,
    req: &super::packet::Request<'_>,
    peer: SocketAddr,
    local_ip: IpAddr,
) -> Option<(std::net::UdpSocket, ReadTransfer)> {
    let addr = SocketAddr::new(local_ip, 0);
    let open_socket = || -> std::io::Result<socket2::Socket> {
        let s = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        let _ = s.set_recv_buffer_size(256 << 10);
        let _ = s.set_send_buffer_size(shared.socket_buffer);
        s.bind(&addr.into())?;
        s.connect(&peer.into())?;
        Ok(s)
    };
    let socket = match open_socket() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open a transfer socket");
            return None;
        }
    };
    let granted = socket.send_buffer_size().unwrap_or(shared.socket_buffer);
    let mut cfg = shared.transfer.clone();
    cfg.max_window_bytes = cfg.max_window_bytes.min(granted);
    // A block must fit the path MTU in one datagram: firmware rarely reassembles fragments.
    if let Some(cap) = blksize_for_path(&socket, peer) {
        if cap < cfg.max_blksize {
            tracing::debug!(cap, "block size capped by the path MTU");
        }
        cfg.max_blksize = cfg.max_blksize.min(cap);
    }
    let socket: std::net::UdpSocket = socket.into();
    let content = match shared.source.open(&OpenRequest::new(req.filename, peer)) {
        Ok(c) => c,
        Err(e) => {
            let (code, message) = e.to_tftp();
            tracing::info!(%code, reason = %message, "request refused");
            let _ = socket.send(&error_packet(code, &message));
            return None;
        }
    };
    let t = ReadTransfer::new(req, content, &cfg, Instant::now());
    let neg = t.negotiated();
    tracing::debug!(
        blksize = neg.blksize,
        windowsize = neg.windowsize,
        timeout_s = neg.timeout.as_secs(),
        oack = ?neg.oack,
        "transfer started"
    );
    Some((socket, t))
}

/// The largest block that fits the path MTU towards `peer` in one datagram (the MTU less the
/// IP, UDP and TFTP headers: 32 bytes over IPv4, also to an IPv4-mapped peer of a dual-stack
/// socket, 52 over IPv6), from `IP_MTU` of the socket
/// connected to the peer: the MTU of the route's interface (or of the route, or what path MTU
/// discovery learnt). `None` where the OS does not tell.
fn blksize_for_path(socket: &socket2::Socket, peer: SocketAddr) -> Option<u16> {
    #[cfg(target_os = "linux")]
    let mtu = if peer.is_ipv4() {
        rustix::net::sockopt::ip_mtu(socket)
    } else {
        rustix::net::sockopt::ipv6_mtu(socket)
    }
    .ok()?;
    #[cfg(not(target_os = "linux"))]
    let mtu: u32 = {
        let _ = socket;
        return None;
    };
    // A dual-stack socket sees an IPv4 client as a mapped IPv6 address; its datagrams
    // still carry IPv4 headers.
    let overhead = if peer.ip().to_canonical().is_ipv4() {
        20 + 8 + 4
    } else {
        40 + 8 + 4
    };
    let cap = mtu.saturating_sub(overhead).clamp(
        u32::from(super::transfer::MIN_BLKSIZE),
        u32::from(super::transfer::MAX_BLKSIZE),
    );
    u16::try_from(cap).ok()
}

fn report(t: &ReadTransfer, start: Instant) {
    let elapsed = start.elapsed();
    match t.outcome() {
        Some(Outcome::Complete { bytes, blocks }) => {
            let mib_s = *bytes as f64 / 1_048_576.0 / elapsed.as_secs_f64().max(1e-9);
            tracing::info!(bytes, blocks, ms = elapsed.as_millis() as u64,
                mib_s = format!("{mib_s:.1}"), stats = ?t.stats(), "transfer complete");
        }
        Some(Outcome::SizeProbe) => {
            tracing::info!("size probe ended by the client (ERROR 8 after OACK), not a failure");
        }
        Some(o) => tracing::warn!(outcome = ?o, stats = ?t.stats(), "transfer failed"),
        None => tracing::warn!(stats = ?t.stats(), "transfer abandoned"),
    }
}

fn run_thread(slot: Slot, request: Vec<u8>, peer: SocketAddr, local_ip: IpAddr) {
    let Ok(Packet::Rrq(req)) = Packet::parse(&request) else {
        return;
    };
    let Some((socket, mut t)) = prepare(&slot.shared, &req, peer, local_ip) else {
        return;
    };
    let start = Instant::now();
    let mut rbuf = vec![0u8; 65536];
    // The read timeout is the retransmission timeout: set once; the core checks its own
    // deadline when the read times out.
    let _ = socket.set_read_timeout(Some(t.negotiated().timeout));
    let sock = socket2::SockRef::from(&socket);
    let mut busy = BusyPoll::new(slot.shared.busy_poll);
    loop {
        while let Some(d) = t.poll_datagram() {
            // One sendmsg per datagram, the payload straight from the read-ahead buffer.
            if let Err(e) = sock.send_vectored(&[IoSlice::new(d.head), IoSlice::new(d.body)]) {
                // ENOBUFS and friends: the retransmission timer recovers.
                tracing::trace!(error = %e, "send");
                break;
            }
        }
        if t.is_done() {
            break;
        }
        // While the client takes the window in, read the next one.
        t.prefetch();
        let waiting = Instant::now();
        let spun = if busy.worth_spinning() {
            slot.shared
                .spinners
                .try_acquire()
                .and_then(|_spinning| spin_recv(&socket, &mut rbuf, busy.budget))
        } else {
            None
        };
        let received = spun.unwrap_or_else(|| socket.recv(&mut rbuf));
        let now = Instant::now();
        busy.observe(now - waiting);
        match received {
            Ok(n) => t.handle_datagram(now, &rbuf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                t.handle_timeout(now);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                // The client's port is gone (ICMP port unreachable on a connected socket).
                tracing::debug!(error = %e, "client unreachable");
                break;
            }
        }
    }
    report(&t, start);
    drop(slot);
}

async fn run_task(slot: Slot, request: Vec<u8>, peer: SocketAddr, local_ip: IpAddr) {
    let Ok(Packet::Rrq(req)) = Packet::parse(&request) else {
        return;
    };
    let Some((socket, mut t)) = prepare(&slot.shared, &req, peer, local_ip) else {
        return;
    };
    let socket = match socket
        .set_nonblocking(true)
        .and_then(|()| UdpSocket::from_std(socket))
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot register the transfer socket");
            return;
        }
    };
    let start = Instant::now();
    let mut rbuf = vec![0u8; 65536];
    let far = || tokio::time::Instant::now() + std::time::Duration::from_secs(86_400);
    let sleep = tokio::time::sleep_until(far());
    tokio::pin!(sleep);
    loop {
        while let Some(d) = t.poll_datagram() {
            let bufs = [IoSlice::new(d.head), IoSlice::new(d.body)];
            let sent = socket
                .async_io(tokio::io::Interest::WRITABLE, || {
                    socket2::SockRef::from(&socket).send_vectored(&bufs)
                })
                .await;
            if let Err(e) = sent {
                // ENOBUFS and friends: the retransmission timer recovers.
                tracing::trace!(error = %e, "send");
                break;
            }
        }
        if t.is_done() {
            break;
        }
        t.prefetch();
        // One timer for the whole transfer, moved only when it would fire too late (or has
        // fired): no timer registration per packet. An early wake-up is harmless, the core
        // checks its own deadline.
        if let Some(d) = t.poll_timeout() {
            let d = tokio::time::Instant::from_std(d);
            if sleep.deadline() > d {
                sleep.as_mut().reset(d);
            }
        }
        tokio::select! {
            biased;
            r = socket.recv(&mut rbuf) => match r {
                Ok(n) => t.handle_datagram(Instant::now(), &rbuf[..n]),
                Err(e) => {
                    tracing::debug!(error = %e, "client unreachable");
                    break;
                }
            },
            () = &mut sleep => {
                t.handle_timeout(Instant::now());
                let next = t.poll_timeout().map_or(far(), tokio::time::Instant::from_std);
                sleep.as_mut().reset(next);
            }
        }
    }
    report(&t, start);
    drop(slot);
}

#[cfg(test)]
mod busy_poll_tests {
    use super::*;

    #[test]
    fn spins_while_the_client_answers_within_the_budget() {
        let mut b = BusyPoll::new(Duration::from_micros(100));
        assert!(
            b.worth_spinning(),
            "the first wait spins, to measure the client"
        );
        for _ in 0..100 {
            b.observe(Duration::from_micros(30));
        }
        assert!(b.worth_spinning());
        assert!(
            b.average_ns > 25_000 && b.average_ns <= 30_000,
            "{}",
            b.average_ns
        );
    }

    #[test]
    fn stops_for_a_slow_client_and_resumes_when_it_speeds_up() {
        let mut b = BusyPoll::new(Duration::from_micros(100));
        b.observe(Duration::from_millis(2));
        assert!(
            !b.worth_spinning(),
            "one 2 ms wait is enough to stop spinning"
        );
        let mut waits = 0;
        while !b.worth_spinning() {
            b.observe(Duration::from_micros(20));
            waits += 1;
            assert!(waits < 100, "never resumed");
        }
        assert!(waits > 5, "resumed after {waits} fast waits only");
    }

    #[test]
    fn a_timeout_stops_spinning_and_never_overflows() {
        let mut b = BusyPoll::new(Duration::from_micros(100));
        b.observe(Duration::MAX);
        assert!(!b.worth_spinning());
        b.observe(Duration::MAX);
        assert!(!b.worth_spinning());
    }

    #[test]
    fn a_zero_budget_never_spins() {
        let b = BusyPoll::new(Duration::ZERO);
        assert!(!b.worth_spinning());
    }

    #[test]
    fn at_most_max_spinners_at_once() {
        let s = Spinners::new(2);
        let a = s.try_acquire();
        let b = s.try_acquire();
        assert!(a.is_some() && b.is_some());
        assert!(
            s.try_acquire().is_none(),
            "a third spinner on two spare CPUs"
        );
        drop(a);
        assert!(s.try_acquire().is_some(), "a freed slot is reusable");
        assert!(
            Spinners::new(0).try_acquire().is_none(),
            "one CPU: nobody spins"
        );
    }

    #[test]
    fn spin_recv_gives_up_after_its_budget_and_takes_a_datagram_that_is_there() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        let mut buf = [0u8; 16];
        assert!(spin_recv(&a, &mut buf, Duration::from_micros(50)).is_none());
        b.send(b"ack").unwrap();
        let mut got = None;
        for _ in 0..1000 {
            got = spin_recv(&a, &mut buf, Duration::from_millis(1));
            if got.is_some() {
                break;
            }
        }
        assert_eq!(got.unwrap().unwrap(), 3);
        assert_eq!(&buf[..3], b"ack");
    }
}
