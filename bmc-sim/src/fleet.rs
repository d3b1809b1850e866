//! Many virtual nodes with their BMCs, on consecutive loopback ports.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ipmi_proto::bmc::{BmcConfig, User};
use ipmi_proto::cmd::Privilege;

use crate::Error;
use crate::fault::Faults;
use crate::ipmi::IpmiFace;
use crate::netboot::NetbootConfig;
use crate::node::{Node, NodeConfig};
use crate::redfish::{RedfishConfig, RedfishFace, TlsIdentity};
use crate::vendor::Vendor;

/// How to start a [`Fleet`]. Build with [`FleetConfig::builder`].
#[derive(Debug, Clone)]
pub struct FleetConfig {
    count: u32,
    base: SocketAddr,
    user: String,
    password: String,
    suites: Option<Vec<u8>>,
    faults: Faults,
    plan: Option<crate::FaultPlan>,
    power_delay: Duration,
    redfish: Option<SocketAddr>,
    vendor: Vendor,
    tls: bool,
    netboot: Option<NetbootConfig>,
    disks: Option<std::path::PathBuf>,
    ipmi: bool,
    /// More IPMI users: name, password, privilege limit.
    users: Vec<(String, String, Privilege)>,
}

/// Builder of [`FleetConfig`].
#[derive(Debug, Clone)]
pub struct FleetConfigBuilder {
    cfg: FleetConfig,
}

impl FleetConfig {
    /// Defaults: one node, BMC on 127.0.0.1 with an ephemeral port, user admin/password
    /// (ADMINISTRATOR), suites 17, 3, 16, 2, 15, 1, no faults, instant power changes.
    pub fn builder() -> FleetConfigBuilder {
        FleetConfigBuilder {
            cfg: FleetConfig {
                count: 1,
                base: SocketAddr::from(([127, 0, 0, 1], 0)),
                user: "admin".into(),
                password: "password".into(),
                suites: None,
                faults: Faults::default(),
                plan: None,
                power_delay: Duration::ZERO,
                redfish: None,
                vendor: Vendor::Generic,
                tls: false,
                netboot: None,
                disks: None,
                ipmi: true,
                users: Vec::new(),
            },
        }
    }
}

impl FleetConfigBuilder {
    /// Number of nodes.
    pub fn count(mut self, n: u32) -> Self {
        self.cfg.count = n;
        self
    }
    /// Address of the first BMC; BMC i listens on port `base + i` (port 0: ephemeral ports).
    pub fn base(mut self, addr: SocketAddr) -> Self {
        self.cfg.base = addr;
        self
    }
    /// The BMC user (ADMINISTRATOR).
    pub fn credentials(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.cfg.user = user.into();
        self.cfg.password = password.into();
        self
    }
    /// Another IPMI user (ids 3, 4, ... in the order added), limited to `privilege`: an
    /// OPERATOR may control power, a USER only reads.
    pub fn ipmi_user(
        mut self,
        name: impl Into<String>,
        password: impl Into<String>,
        privilege: Privilege,
    ) -> Self {
        self.cfg
            .users
            .push((name.into(), password.into(), privilege));
        self
    }
    /// Cipher suites the BMCs offer.
    pub fn cipher_suites(mut self, ids: &[u8]) -> Self {
        self.cfg.suites = Some(ids.to_vec());
        self
    }
    /// Faults every BMC starts with.
    pub fn faults(mut self, f: Faults) -> Self {
        self.cfg.faults = f;
        self
    }
    /// Faults per BMC (replaces [`FleetConfigBuilder::faults`]): see [`crate::FaultPlan`].
    pub fn fault_plan(mut self, plan: crate::FaultPlan) -> Self {
        self.cfg.plan = Some(plan);
        self
    }
    /// Also serve each node over Redfish: node i at port `base + i` of this address (port 0:
    /// ephemeral ports).
    pub fn redfish(mut self, base: SocketAddr) -> Self {
        self.cfg.redfish = Some(base);
        self
    }
    /// Serve Redfish over HTTPS with one self-signed certificate for 127.0.0.1 and localhost
    /// (see [`Fleet::ca_pem`]).
    pub fn tls(mut self, yes: bool) -> Self {
        self.cfg.tls = yes;
        self
    }
    /// Nodes powered on with a PXE boot override network-boot against these servers; see
    /// [`Node::netboots`].
    pub fn netboot(mut self, cfg: NetbootConfig) -> Self {
        self.cfg.netboot = Some(cfg);
        self
    }
    /// Serve each node over IPMI (the default); `false` for a Redfish-only fleet, which needs
    /// one socket per node instead of two.
    pub fn ipmi(mut self, yes: bool) -> Self {
        self.cfg.ipmi = yes;
        self
    }
    /// Give node i the disk image `DIR/node-IIIII.img` (e.g. `node-00000.img`), which it boots
    /// from when it has no other boot override (see [`crate::disk`]). The files need not
    /// exist yet: a node whose file is missing finds no bootable device, as a blank disk.
    pub fn disks(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.cfg.disks = Some(dir.into());
        self
    }
    /// Which BMC the Redfish faces behave like.
    pub fn vendor(mut self, v: Vendor) -> Self {
        self.cfg.vendor = v;
        self
    }
    /// How long power changes take to show.
    pub fn power_delay(mut self, d: Duration) -> Self {
        self.cfg.power_delay = d;
        self
    }
}

/// Running virtual nodes and their BMCs.
#[derive(Debug)]
pub struct Fleet {
    nodes: Vec<Arc<Mutex<Node>>>,
    ipmi: Vec<IpmiFace>,
    redfish: Vec<RedfishFace>,
    tls: Option<TlsIdentity>,
    netboot_task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(t) = &self.netboot_task {
            t.abort();
        }
    }
}

/// Network-boot each node that announces a PXE boot, concurrently, recording the outcome.
async fn run_netboots(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<[u8; 6]>,
    cfg: NetbootConfig,
    nodes: Vec<Arc<Mutex<Node>>>,
) {
    while let Some(mac) = rx.recv().await {
        let Some(node) = nodes
            .iter()
            .find(|n| lock_node(n).config().macs.first() == Some(&mac))
            .cloned()
        else {
            continue;
        };
        let cfg = cfg.clone();
        tokio::spawn(async move {
            let r = crate::netboot(mac, &cfg).await.map_err(|e| e.to_string());
            if let Err(e) = &r {
                tracing::debug!(error = %e, "virtual node netboot failed");
            }
            lock_node(&node).netboots.push(r);
        });
    }
}

fn lock_node(n: &Mutex<Node>) -> std::sync::MutexGuard<'_, Node> {
    match n.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Fleet {
    /// Start the fleet (needs a tokio runtime).
    pub async fn start(builder: FleetConfigBuilder) -> Result<Self, Error> {
        let cfg = builder.cfg;
        let user = User::new(
            2,
            cfg.user.as_bytes(),
            cfg.password.as_bytes(),
            Privilege::Administrator,
        )
        .map_err(|e| Error::Config(e.to_string()))?;
        let mut more_users = Vec::new();
        for (i, (name, password, privilege)) in cfg.users.iter().enumerate() {
            let id = u8::try_from(i + 3)
                .ok()
                .filter(|id| *id <= 63)
                .ok_or_else(|| Error::Config("at most 61 more IPMI users".into()))?;
            more_users.push(
                User::new(id, name.as_bytes(), password.as_bytes(), *privilege)
                    .map_err(|e| Error::Config(e.to_string()))?,
            );
        }
        let base_port = u32::from(cfg.base.port());
        if base_port != 0 && base_port + cfg.count > 65536 {
            return Err(Error::Config(format!(
                "{} BMCs from port {base_port} run past port 65535",
                cfg.count
            )));
        }
        let tls = if cfg.tls {
            Some(TlsIdentity::self_signed(&["127.0.0.1", "localhost"])?)
        } else {
            None
        };
        let boot_tx = cfg.netboot.clone().map(|nb| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            (tx, rx, nb)
        });
        let now = Instant::now();
        let mut nodes = Vec::with_capacity(cfg.count as usize);
        let mut ipmi = Vec::with_capacity(cfg.count as usize);
        let mut redfish = Vec::new();
        for i in 0..cfg.count {
            let mut nc = NodeConfig::numbered(format!("node-{i:05}"), i);
            nc.power_delay = cfg.power_delay;
            nc.disk = cfg
                .disks
                .as_ref()
                .map(|d| d.join(format!("node-{i:05}.img")));
            let mut n = Node::new(nc, now);
            n.boot_events = boot_tx.as_ref().map(|(tx, _, _)| tx.clone());
            let node = Arc::new(Mutex::new(n));
            let mut b = BmcConfig::builder().user(user.clone());
            for u in &more_users {
                b = b.user(u.clone());
            }
            let mut guid = [0u8; 16];
            guid[..4].copy_from_slice(b"bsim");
            guid[12..].copy_from_slice(&i.to_be_bytes());
            b = b.guid(guid);
            if let Some(s) = &cfg.suites {
                b = b.cipher_suites(s);
            }
            let mut addr = cfg.base;
            if base_port != 0 {
                addr.set_port((base_port + i) as u16);
            }
            let faults = match &cfg.plan {
                Some(p) => p.for_bmc(i),
                None => cfg.faults.clone(),
            };
            if cfg.ipmi {
                ipmi.push(IpmiFace::start(addr, b.build(), node.clone(), faults.clone()).await?);
            }
            if let Some(mut rf) = cfg.redfish {
                if rf.port() != 0 {
                    let p = u32::from(rf.port()) + i;
                    let p = u16::try_from(p)
                        .map_err(|_| Error::Config("Redfish ports run past 65535".into()))?;
                    rf.set_port(p);
                }
                let rcfg = RedfishConfig {
                    user: cfg.user.clone(),
                    password: cfg.password.clone(),
                    vendor: cfg.vendor,
                    tls: tls.clone(),
                    ..RedfishConfig::default()
                };
                redfish.push(RedfishFace::start(rf, rcfg, node.clone(), faults).await?);
            }
            nodes.push(node);
        }
        let netboot_task =
            boot_tx.map(|(_tx, rx, nb)| tokio::spawn(run_netboots(rx, nb, nodes.clone())));
        Ok(Fleet {
            nodes,
            ipmi,
            redfish,
            tls,
            netboot_task,
        })
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the fleet is empty.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> Option<Arc<Mutex<Node>>> {
        self.nodes.get(i).cloned()
    }

    /// The IPMI face of node `i` (none in a Redfish-only fleet).
    pub fn ipmi(&self, i: usize) -> Option<&IpmiFace> {
        self.ipmi.get(i)
    }

    /// The IPMI address of node `i`.
    pub fn ipmi_addr(&self, i: usize) -> Option<SocketAddr> {
        self.ipmi.get(i).map(IpmiFace::addr)
    }

    /// The Redfish base URL of node `i` (`http://ADDR` or `https://ADDR`), when the fleet
    /// serves Redfish.
    pub fn redfish_url(&self, i: usize) -> Option<String> {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        self.redfish
            .get(i)
            .map(|f| format!("{scheme}://{}", f.addr()))
    }

    /// The certificate (PEM) the HTTPS faces present, for clients to trust.
    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.cert_pem.as_str())
    }

    /// The Redfish face of node `i`, when the fleet serves Redfish.
    pub fn redfish(&self, i: usize) -> Option<&RedfishFace> {
        self.redfish.get(i)
    }

    /// Set the faults of every BMC, on both faces.
    pub fn set_faults(&self, faults: &Faults) {
        for f in &self.ipmi {
            f.set_faults(faults.clone());
        }
        for f in &self.redfish {
            f.set_faults(faults.clone());
        }
    }

    /// Set each BMC's faults from `plan`, on both faces.
    pub fn set_fault_plan(&self, plan: &crate::FaultPlan) {
        for (i, f) in self.ipmi.iter().enumerate() {
            f.set_faults(plan.for_bmc(i as u32));
        }
        for (i, f) in self.redfish.iter().enumerate() {
            f.set_faults(plan.for_bmc(i as u32));
        }
    }

    /// Reboot BMC `i`: its IPMI and Redfish sessions are lost and its Redfish service closes
    /// connections unanswered for `down` (the node keeps running).
    pub fn reboot_bmc(&self, i: usize, down: Duration) {
        if let Some(f) = self.ipmi.get(i) {
            f.reboot();
        }
        if let Some(f) = self.redfish.get(i) {
            f.reboot(down);
        }
    }
}
