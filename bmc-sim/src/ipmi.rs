//! The IPMI face: `ipmi-proto`'s sans-IO BMC responder over a [`Node`], on a UDP socket, with
//! faults applied between the socket and the responder.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipmi_proto::bmc::{BmcConfig, Responder};
use ipmi_proto::packet::Ipmi20Packet;
use tokio::net::UdpSocket;
use tracing::Instrument;

use crate::Error;
use crate::fault::{Dice, Faults};
use crate::node::Node;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A running IPMI face (the task stops when this is dropped).
#[derive(Debug)]
pub struct IpmiFace {
    addr: SocketAddr,
    faults: Arc<Mutex<Faults>>,
    reboot: Arc<tokio::sync::Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for IpmiFace {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl IpmiFace {
    /// Serve `node` at `addr` with `config` (users, suites), applying `faults`.
    pub async fn start(
        addr: SocketAddr,
        config: BmcConfig,
        node: Arc<Mutex<Node>>,
        faults: Faults,
    ) -> Result<Self, Error> {
        let socket = UdpSocket::bind(addr).await.map_err(|source| Error::Io {
            during: "binding an IPMI face",
            source,
        })?;
        let addr = socket.local_addr().map_err(|source| Error::Io {
            during: "reading the IPMI face address",
            source,
        })?;
        let faults = Arc::new(Mutex::new(faults));
        let reboot = Arc::new(tokio::sync::Notify::new());
        let mut responder = Responder::new(config);
        responder.set_port(addr.port());
        let run = Run {
            socket: Arc::new(socket),
            responder,
            node,
            faults: faults.clone(),
            reboot: reboot.clone(),
            dice: Dice::new(u64::from(addr.port()) << 32 | 0x9e37_79b9),
        };
        let span = tracing::debug_span!("bmc_sim_ipmi", %addr);
        let task = tokio::spawn(run.serve().instrument(span));
        Ok(IpmiFace {
            addr,
            faults,
            reboot,
            task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replace the faults at run time.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    /// Reboot the BMC: every session is lost (the node keeps running).
    pub fn reboot(&self) {
        self.reboot.notify_one();
    }
}

struct Run {
    socket: Arc<UdpSocket>,
    responder: Responder,
    node: Arc<Mutex<Node>>,
    faults: Arc<Mutex<Faults>>,
    reboot: Arc<tokio::sync::Notify>,
    dice: Dice,
}

impl Run {
    async fn serve(mut self) {
        let mut buf = vec![0u8; 65536];
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut peers: HashMap<u32, SocketAddr> = HashMap::new();
        let mut last_expiry = Instant::now();
        loop {
            tokio::select! {
                r = self.socket.recv_from(&mut buf) => {
                    let Ok((n, from)) = r else { continue };
                    let faults = lock(&self.faults).clone();
                    if faults.hang || self.dice.roll(faults.loss) {
                        continue;
                    }
                    let data = &buf[..n];
                    if let Some(Ok(h)) = data.get(4..).map(Ipmi20Packet::peek_header) {
                        if h.session_id != 0 && self.responder.has_session(h.session_id) {
                            peers.insert(h.session_id, from);
                        }
                    }
                    let now = Instant::now();
                    let reply = {
                        let mut node = lock(&self.node);
                        node.tick(now);
                        if let Some(max) = faults.max_sessions {
                            self.responder.set_max_sessions(max);
                        }
                        self.responder.handle(now, data, &mut *node)
                    };
                    if let Some(reply) = reply {
                        self.send(reply, from, &faults).await;
                    }
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    lock(&self.node).tick(now);
                    if now.duration_since(last_expiry) >= Duration::from_secs(1) {
                        last_expiry = now;
                        self.responder.handle_timeout(now);
                        peers.retain(|id, _| self.responder.has_session(*id));
                    }
                    if self.responder.sol_active() {
                        let faults = lock(&self.faults).clone();
                        loop {
                            let next = {
                                let mut node = lock(&self.node);
                                self.responder.poll_sol(now, &mut *node)
                            };
                            let Some((sid, d)) = next else { break };
                            if let Some(to) = peers.get(&sid).copied() {
                                self.send(d, to, &faults).await;
                            }
                        }
                    }
                }
                _ = self.reboot.notified() => {
                    // Every session is gone, as after a BMC reset.
                    self.responder.drop_sessions();
                    peers.clear();
                }
            }
        }
    }

    async fn send(&mut self, datagram: bytes::Bytes, to: SocketAddr, faults: &Faults) {
        if faults.hang || self.dice.roll(faults.loss) {
            return;
        }
        if faults.latency.is_zero() {
            let _ = self.socket.send_to(&datagram, to).await;
        } else {
            let socket = self.socket.clone();
            let delay = faults.latency;
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = socket.send_to(&datagram, to).await;
            });
        }
    }
}
