//! The async BMC server (feature `tokio`): a [`Responder`] and a [`ManagedSystem`] on a UDP
//! socket.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ipmi_proto::Error> {
//! use std::sync::{Arc, Mutex};
//! use ipmi_proto::bmc::{BmcConfig, SimpleSystem, User};
//! use ipmi_proto::cmd::Privilege;
//! use ipmi_proto::server::BmcServer;
//! let cfg = BmcConfig::builder()
//!     .user(User::new(2, "admin", "password", Privilege::Administrator)?)
//!     .build();
//! let system = Arc::new(Mutex::new(SimpleSystem::default()));
//! let server = BmcServer::bind("127.0.0.1:9623".parse().unwrap(), cfg, system).await?;
//! server.run().await
//! # }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tracing::Instrument;

use crate::bmc::{BmcConfig, ManagedSystem, Responder};
use crate::error::{Error, Result};
use crate::packet::Ipmi20Packet;

fn lock<S>(m: &Mutex<S>) -> std::sync::MutexGuard<'_, S> {
    // A panic elsewhere while holding the lock leaves plain data; keep serving it.
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A BMC serving one UDP socket.
pub struct BmcServer<S> {
    socket: UdpSocket,
    responder: Responder,
    system: Arc<Mutex<S>>,
}

impl<S> std::fmt::Debug for BmcServer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BmcServer")
            .field("local_addr", &self.socket.local_addr().ok())
            .field("responder", &self.responder)
            .finish_non_exhaustive()
    }
}

impl<S: ManagedSystem + Send + 'static> BmcServer<S> {
    /// Bind `addr` and serve `system` with `config`.
    pub async fn bind(addr: SocketAddr, config: BmcConfig, system: Arc<Mutex<S>>) -> Result<Self> {
        let socket = crate::net::bind_udp(addr, 1 << 20).map_err(|e| Error::Io {
            during: "binding the BMC socket",
            message: e.to_string(),
        })?;
        let mut responder = Responder::new(config);
        if let Ok(a) = socket.local_addr() {
            responder.set_port(a.port());
        }
        Ok(BmcServer {
            socket,
            responder,
            system,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.socket.local_addr().map_err(|e| Error::Io {
            during: "reading the local address",
            message: e.to_string(),
        })
    }

    /// Serve until the task is dropped or aborted.
    pub async fn run(self) -> Result<()> {
        let span = tracing::debug_span!("ipmi_bmc", addr = ?self.socket.local_addr().ok());
        self.serve().instrument(span).await
    }

    async fn serve(mut self) -> Result<()> {
        let mut buf = vec![0u8; 65536];
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut sol_tick = tokio::time::interval(Duration::from_millis(20));
        sol_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Where each session's datagrams come from: SOL output is sent there.
        let mut peers: HashMap<u32, SocketAddr> = HashMap::new();
        loop {
            let sol_active = self.responder.sol_active();
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    let (n, from) = match r {
                        Ok(x) => x,
                        // ICMP errors from earlier sends surface here on some systems.
                        Err(e) => { tracing::debug!(error = %e, "recv_from"); continue; }
                    };
                    let data = &buf[..n];
                    if let Some(Ok(h)) = data.get(4..).map(Ipmi20Packet::peek_header) {
                        if h.session_id != 0 && self.responder.has_session(h.session_id) {
                            peers.insert(h.session_id, from);
                        }
                    }
                    let reply = {
                        let mut system = lock(&self.system);
                        self.responder.handle(Instant::now(), data, &mut *system)
                    };
                    if let Some(reply) = reply {
                        if let Err(e) = self.socket.send_to(&reply, from).await {
                            tracing::debug!(error = %e, %from, "send_to");
                        }
                    }
                }
                _ = sol_tick.tick(), if sol_active => self.send_sol(&peers).await,
                _ = tick.tick() => {
                    self.responder.handle_timeout(Instant::now());
                    peers.retain(|id, _| self.responder.has_session(*id));
                }
            }
        }
    }

    async fn send_sol(&mut self, peers: &HashMap<u32, SocketAddr>) {
        loop {
            let next = {
                let mut system = lock(&self.system);
                self.responder.poll_sol(Instant::now(), &mut *system)
            };
            let Some((sid, datagram)) = next else { break };
            if let Some(to) = peers.get(&sid) {
                if let Err(e) = self.socket.send_to(&datagram, *to).await {
                    tracing::debug!(error = %e, %to, "SOL send_to");
                }
            }
        }
    }

    /// Run on a new task.
    pub fn spawn(self) -> tokio::task::JoinHandle<Result<()>> {
        tokio::spawn(self.run())
    }
}
