//! The BMC's side of the protocol: a sans-IO [`Responder`] that answers RMCP+ session set-up
//! and commands for a [`ManagedSystem`]. It takes a datagram and `now` and returns the answer
//! (or nothing), so one thread can serve thousands of virtual BMCs; the
//! [`crate::server`] module runs it on a tokio UDP socket.
//!
//! ```
//! use std::time::Instant;
//! use ipmi_proto::bmc::{BmcConfig, Responder, SimpleSystem, User};
//! use ipmi_proto::cmd::Privilege;
//! let cfg = BmcConfig::builder()
//!     .user(User::new(2, "admin", "password", Privilege::Administrator).unwrap())
//!     .build();
//! let mut bmc = Responder::new(cfg);
//! let mut system = SimpleSystem::default();
//! let ping = ipmi_proto::rmcp::AsfMessage::Ping { tag: 1 }.to_datagram();
//! let pong = bmc.handle(Instant::now(), &ping, &mut system).unwrap();
//! assert_eq!(pong[3], 0x06); // an ASF pong
//! ```

pub mod storage;
mod system;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

pub use system::{ManagedSystem, SimpleSystem};

use crate::cmd::app::{
    ChannelAuthCapabilities, CipherSuitesPage, CloseSession, GetChannelAuthCapabilities,
    GetChannelCipherSuites, GetDeviceId, SessionPrivilegeLevel, SetSessionPrivilegeLevel,
    emit_cipher_suite_records,
};
use crate::cmd::chassis::{
    ChassisControl, ChassisIdentify, GetChassisStatus, GetSystemBootOptions, SetPowerRestorePolicy,
    SetSystemBootOptions, SystemBootOptions,
};
use crate::cmd::sol::{
    ActivatePayload, DeactivatePayload, GetPayloadActivationStatus, PAYLOAD_TYPE_SOL,
    PayloadActivated, PayloadActivationStatus, SolPacket,
};
use crate::cmd::{CompletionCode, Privilege, Request, Response};
use crate::crypto::{
    CipherSuite, OsRandom, RakpTranscript, RandomSource, Secret, SessionKeys, verify,
};
use crate::error::{Error, Result};
use crate::message::{IpmiRequest, IpmiResponse};
use crate::packet::{AuthType, Ipmi15Packet, Ipmi20Header, Ipmi20Packet, Packet, PayloadType};
use crate::rakp::{
    AcceptedSession, Algorithms, OpenSessionRequest, OpenSessionResponse, Rakp1, Rakp2, Rakp3,
    Rakp4, RakpStatus,
};
use crate::rmcp::AsfMessage;
use crate::session::ReplayWindow;
use crate::sol::SolChannel;

/// A BMC user account.
#[derive(Clone)]
pub struct User {
    /// User id (1..=63).
    pub id: u8,
    /// Name (at most 16 bytes).
    pub name: Vec<u8>,
    password: Secret,
    /// Highest privilege the user may have.
    pub max_privilege: Privilege,
    /// Whether the account may log in.
    pub enabled: bool,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("name", &String::from_utf8_lossy(&self.name))
            .field("password", &"<redacted>")
            .field("max_privilege", &self.max_privilege)
            .field("enabled", &self.enabled)
            .finish()
    }
}

impl User {
    /// A user; the name must fit in 16 bytes and the password in 20.
    pub fn new(
        id: u8,
        name: impl Into<Vec<u8>>,
        password: impl Into<Vec<u8>>,
        max_privilege: Privilege,
    ) -> Result<Self> {
        let name = name.into();
        let password = Secret::new(password);
        if name.len() > 16 {
            return Err(Error::InvalidArgument {
                what: "user name",
                reason: "longer than 16 bytes",
            });
        }
        if password.len() > 20 {
            return Err(Error::InvalidArgument {
                what: "password",
                reason: "longer than 20 bytes",
            });
        }
        Ok(User {
            id,
            name,
            password,
            max_privilege,
            enabled: true,
        })
    }
}

/// The BMC's configuration: users, cipher suites, K_g, GUID, limits.
#[derive(Debug, Clone)]
pub struct BmcConfig {
    users: Vec<User>,
    suites: Vec<CipherSuite>,
    kg: Option<Secret>,
    guid: [u8; 16],
    max_sessions: usize,
    session_timeout: Duration,
    channel: u8,
    port: u16,
}

/// Builder of [`BmcConfig`].
#[derive(Debug, Clone)]
pub struct BmcConfigBuilder {
    cfg: BmcConfig,
}

impl BmcConfig {
    /// Defaults: no users, suites 17, 3, 16, 2, 15, 1 (not 0), no K_g, 64 sessions, 60 s idle
    /// timeout, LAN channel 1.
    pub fn builder() -> BmcConfigBuilder {
        BmcConfigBuilder {
            cfg: BmcConfig {
                users: Vec::new(),
                suites: CipherSuite::ALL
                    .iter()
                    .filter(|s| !s.is_insecure())
                    .copied()
                    .collect(),
                kg: None,
                guid: [0; 16],
                max_sessions: 64,
                session_timeout: Duration::from_secs(60),
                channel: 1,
                port: 623,
            },
        }
    }
}

impl BmcConfigBuilder {
    /// Add a user.
    pub fn user(mut self, u: User) -> Self {
        self.cfg.users.push(u);
        self
    }
    /// Offer exactly these suites (unknown ids are ignored).
    pub fn cipher_suites(mut self, ids: &[u8]) -> Self {
        self.cfg.suites = ids
            .iter()
            .filter_map(|id| CipherSuite::by_id(*id))
            .collect();
        self
    }
    /// Set a BMC key (two-key login).
    pub fn kg(mut self, kg: impl Into<Vec<u8>>) -> Self {
        self.cfg.kg = Some(Secret::new(kg));
        self
    }
    /// The system GUID sent in RAKP 2.
    pub fn guid(mut self, guid: [u8; 16]) -> Self {
        self.cfg.guid = guid;
        self
    }
    /// Most sessions open at once.
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.cfg.max_sessions = n;
        self
    }
    /// Idle time after which a session is dropped.
    pub fn session_timeout(mut self, t: Duration) -> Self {
        self.cfg.session_timeout = t;
        self
    }
    /// The UDP port the BMC listens on, announced for SOL in Activate Payload and the SOL
    /// configuration (default 623; the tokio server sets its bound port).
    pub fn port(mut self, port: u16) -> Self {
        self.cfg.port = port;
        self
    }
    /// Build.
    pub fn build(self) -> BmcConfig {
        self.cfg
    }
}

#[derive(Debug)]
enum BmcState {
    /// Open Session answered; waiting for RAKP 1.
    Opened,
    /// RAKP 2 sent; waiting for RAKP 3.
    Rakp2Sent {
        transcript: RakpTranscript,
        user: usize,
    },
    Active {
        keys: SessionKeys,
        max_privilege: Privilege,
        privilege: Privilege,
    },
}

#[derive(Debug)]
struct BmcSession {
    console_sid: u32,
    suite: CipherSuite,
    requested: u8,
    state: BmcState,
    window: ReplayWindow,
    out_seq: u32,
    last_seen: Instant,
    /// The last RAKP answer, resent when the console retransmits its message.
    last_reply: Option<(PayloadType, Bytes)>,
    /// The SOL payload, while activated on this session.
    sol: Option<SolChannel>,
}

impl BmcSession {
    /// Seal a payload for this (active) session with the next session sequence number.
    fn seal(
        &mut self,
        rng: &mut dyn RandomSource,
        payload_type: PayloadType,
        payload: &[u8],
    ) -> Result<Bytes> {
        let BmcState::Active { keys, .. } = &self.state else {
            return Err(Error::invalid("RMCP+ session", "not active"));
        };
        self.out_seq = self.out_seq.wrapping_add(1).max(1);
        let mut iv = [0u8; 16];
        rng.fill(&mut iv);
        let mut out = BytesMut::with_capacity(payload.len() + 64);
        keys.seal(
            payload_type,
            self.console_sid,
            self.out_seq,
            payload,
            iv,
            &mut out,
        )?;
        Ok(out.freeze())
    }
}

/// Counters of what the responder did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResponderStats {
    /// Sessions established.
    pub sessions_opened: u64,
    /// Commands answered.
    pub commands: u64,
    /// Datagrams dropped (malformed, forged, replayed, unknown session).
    pub dropped: u64,
    /// Failed logins.
    pub auth_failures: u64,
}

/// The BMC side of RMCP+. See the [module docs](self).
pub struct Responder {
    cfg: BmcConfig,
    sessions: HashMap<u32, BmcSession>,
    rng: Box<dyn RandomSource>,
    stats: ResponderStats,
}

impl std::fmt::Debug for Responder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Responder")
            .field("sessions", &self.sessions.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Responder {
    /// A responder with the OS random generator.
    pub fn new(cfg: BmcConfig) -> Self {
        Self::with_random(cfg, Box::new(OsRandom))
    }

    /// A responder with a given random source.
    pub fn with_random(cfg: BmcConfig, rng: Box<dyn RandomSource>) -> Self {
        Responder {
            cfg,
            sessions: HashMap::new(),
            rng,
            stats: ResponderStats::default(),
        }
    }

    /// Counters.
    pub fn stats(&self) -> ResponderStats {
        self.stats
    }

    /// Sessions currently open or being set up.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Change the session limit at run time (existing sessions are kept).
    pub fn set_max_sessions(&mut self, n: usize) {
        self.cfg.max_sessions = n;
    }

    /// Forget every session, as a BMC reset does.
    pub fn drop_sessions(&mut self) {
        self.sessions.clear();
    }

    /// Whether the BMC session `id` exists.
    pub fn has_session(&self, id: u32) -> bool {
        self.sessions.contains_key(&id)
    }

    /// Set the UDP port announced for SOL (the server calls this with its bound port).
    pub fn set_port(&mut self, port: u16) {
        self.cfg.port = port;
    }

    /// Whether any session has SOL active (the server then polls [`Responder::poll_sol`]).
    pub fn sol_active(&self) -> bool {
        self.sessions.values().any(|s| s.sol.is_some())
    }

    /// The next SOL packet to send, as `(BMC session id, datagram)`: characters the managed
    /// system wrote to its serial port, or a retransmission. The caller sends it to the
    /// address that session's datagrams come from. A session whose console stopped
    /// acknowledging has its SOL deactivated.
    pub fn poll_sol(
        &mut self,
        now: Instant,
        system: &mut dyn ManagedSystem,
    ) -> Option<(u32, Bytes)> {
        for (sid, s) in self.sessions.iter_mut() {
            let Some(chan) = &mut s.sol else { continue };
            if chan.unsent() == 0 {
                let out = system.sol_read(4096);
                chan.write(&out);
            }
            let pkt = chan.poll_packet(now);
            if chan.is_failed() {
                s.sol = None;
                continue;
            }
            let Some(pkt) = pkt else { continue };
            let mut payload = BytesMut::new();
            pkt.emit(&mut payload);
            if let Ok(d) = s.seal(&mut *self.rng, PayloadType::Sol, &payload) {
                return Some((*sid, d));
            }
        }
        None
    }

    /// Drop sessions idle past the timeout. Call now and then (the server does, each second).
    pub fn handle_timeout(&mut self, now: Instant) {
        let t = self.cfg.session_timeout;
        self.sessions
            .retain(|_, s| now.saturating_duration_since(s.last_seen) < t);
    }

    /// Answer one datagram. `None` means no answer is due (ignored or dropped input).
    pub fn handle(
        &mut self,
        now: Instant,
        data: &[u8],
        system: &mut dyn ManagedSystem,
    ) -> Option<Bytes> {
        match self.process(now, data, system) {
            Ok(r) => r,
            Err(e) => {
                self.stats.dropped += 1;
                tracing::debug!(error = %e, "BMC dropped datagram");
                None
            }
        }
    }

    fn random<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.rng.fill(&mut b);
        b
    }

    fn auth_len_for(&self, data: &[u8]) -> usize {
        // The session id is in the header: find its integrity length before full parsing.
        let Some(rest) = data.get(4..) else { return 0 };
        match Ipmi20Packet::peek_header(rest) {
            Ok(h) if h.session_id != 0 => self
                .sessions
                .get(&h.session_id)
                .map_or(0, |s| s.suite.integrity.auth_code_len()),
            _ => 0,
        }
    }

    fn process(
        &mut self,
        now: Instant,
        data: &[u8],
        system: &mut dyn ManagedSystem,
    ) -> Result<Option<Bytes>> {
        let packet = Packet::parse(data, self.auth_len_for(data))?;
        match packet {
            Packet::Asf(AsfMessage::Ping { tag }) => {
                Ok(Some(AsfMessage::pong_for(tag).to_datagram().freeze()))
            }
            Packet::Asf(_) => Ok(None),
            Packet::Ipmi15(p) => {
                if p.session_id != 0 || p.auth_type != AuthType::None {
                    return Ok(None);
                }
                let req = IpmiRequest::parse(p.payload)?;
                let Some(resp) = self.presession_command(&req) else {
                    return Ok(None);
                };
                let mut msg = BytesMut::new();
                resp.emit(&mut msg);
                let mut out = BytesMut::new();
                Ipmi15Packet {
                    auth_type: AuthType::None,
                    sequence: 0,
                    session_id: 0,
                    auth_code: None,
                    payload: &msg,
                }
                .emit(&mut out)?;
                Ok(Some(out.freeze()))
            }
            Packet::Ipmi20(p) if p.header.session_id == 0 => self.presession_v20(now, &p),
            Packet::Ipmi20(p) => self.session_packet(now, &p, system),
        }
    }

    fn reply_v20(&self, payload_type: PayloadType, payload: &[u8]) -> Result<Bytes> {
        let mut out = BytesMut::new();
        Ipmi20Packet::emit_unsigned(
            &Ipmi20Header {
                payload_type,
                encrypted: false,
                authenticated: false,
                session_id: 0,
                sequence: 0,
            },
            payload,
            &mut out,
        )?;
        Ok(out.freeze())
    }

    fn presession_command(&self, req: &IpmiRequest) -> Option<IpmiResponse> {
        match (req.netfn, req.cmd) {
            (0x06, GetChannelAuthCapabilities::CMD) => {
                let r = GetChannelAuthCapabilities::parse(&req.data);
                Some(match r {
                    Ok(q) => {
                        let caps = ChannelAuthCapabilities {
                            channel: self.cfg.channel,
                            // IPMI v2.0 extended data when asked; no v1.5 auth types offered.
                            auth_types: if q.ipmi20 { 0x80 } else { 0x00 },
                            flags: 0x04 | if self.cfg.kg.is_some() { 0x20 } else { 0 },
                            extended: 0x02,
                            oem_id: 0,
                            oem_aux: 0,
                        };
                        req.response(CompletionCode::Ok, encode_resp(&caps))
                    }
                    Err(_) => req.response(CompletionCode::InvalidDataField, Vec::new()),
                })
            }
            (0x06, GetChannelCipherSuites::CMD) => Some(self.cipher_suites(req)),
            _ => None,
        }
    }

    fn cipher_suites(&self, req: &IpmiRequest) -> IpmiResponse {
        match GetChannelCipherSuites::parse(&req.data) {
            Ok(q) if q.payload_type == 0 => {
                let all = emit_cipher_suite_records(&self.cfg.suites);
                let start = (q.index as usize * 16).min(all.len());
                let end = (start + 16).min(all.len());
                let page = CipherSuitesPage {
                    channel: self.cfg.channel,
                    records: all[start..end].to_vec(),
                };
                req.response(CompletionCode::Ok, encode_resp(&page))
            }
            _ => req.response(CompletionCode::InvalidDataField, Vec::new()),
        }
    }

    fn presession_v20(&mut self, now: Instant, p: &Ipmi20Packet<'_>) -> Result<Option<Bytes>> {
        if p.header.authenticated || p.header.encrypted {
            return Ok(None);
        }
        match p.header.payload_type {
            PayloadType::Ipmi => {
                let req = IpmiRequest::parse(p.payload)?;
                let Some(resp) = self.presession_command(&req) else {
                    return Ok(None);
                };
                let mut msg = BytesMut::new();
                resp.emit(&mut msg);
                Ok(Some(self.reply_v20(PayloadType::Ipmi, &msg)?))
            }
            PayloadType::OpenSessionRequest => self.open_session(now, p.payload),
            PayloadType::Rakp1 => self.rakp1(now, p.payload),
            PayloadType::Rakp3 => self.rakp3(now, p.payload),
            _ => Ok(None),
        }
    }

    fn open_session(&mut self, now: Instant, payload: &[u8]) -> Result<Option<Bytes>> {
        let req = OpenSessionRequest::parse(payload)?;
        // A retransmitted request for a session we already opened gets the same answer.
        if let Some(s) = self.sessions.values().find(|s| {
            s.console_sid == req.console_session_id && matches!(s.state, BmcState::Opened)
        }) {
            if let Some((PayloadType::OpenSessionResponse, d)) = &s.last_reply {
                return Ok(Some(d.clone()));
            }
        }
        let mut resp = OpenSessionResponse {
            tag: req.tag,
            status: RakpStatus::NoErrors,
            max_privilege: 0,
            console_session_id: req.console_session_id,
            accepted: None,
        };
        let a = req.algorithms;
        let suite = CipherSuite::by_algorithms(a.auth, a.integrity, a.confidentiality)
            .filter(|s| self.cfg.suites.contains(s));
        let requested = if req.max_privilege == 0 {
            Privilege::Administrator.to_u8()
        } else {
            req.max_privilege
        };
        if req.console_session_id == 0 {
            resp.status = RakpStatus::InvalidSessionId;
        } else if Privilege::from_u8(requested).is_none() {
            resp.status = RakpStatus::InvalidRole;
        } else if let Some(suite) = suite {
            if self.sessions.len() >= self.cfg.max_sessions {
                resp.status = RakpStatus::InsufficientResources;
            } else {
                let mut sid;
                loop {
                    sid = u32::from_le_bytes(self.random::<4>());
                    if sid != 0 && !self.sessions.contains_key(&sid) {
                        break;
                    }
                }
                resp.max_privilege = requested;
                resp.accepted = Some(AcceptedSession {
                    bmc_session_id: sid,
                    algorithms: Algorithms::of(&suite),
                });
                let mut out = BytesMut::new();
                resp.emit(&mut out);
                let d = self.reply_v20(PayloadType::OpenSessionResponse, &out)?;
                self.sessions.insert(
                    sid,
                    BmcSession {
                        console_sid: req.console_session_id,
                        suite,
                        requested,
                        state: BmcState::Opened,
                        window: ReplayWindow::new(),
                        out_seq: 0,
                        last_seen: now,
                        last_reply: Some((PayloadType::OpenSessionResponse, d.clone())),
                        sol: None,
                    },
                );
                return Ok(Some(d));
            }
        } else {
            resp.status = if CipherSuite::by_algorithms(a.auth, 0, 0).is_none() {
                RakpStatus::InvalidAuthAlgorithm
            } else {
                RakpStatus::NoCipherSuiteMatch
            };
        }
        let mut out = BytesMut::new();
        resp.emit(&mut out);
        Ok(Some(
            self.reply_v20(PayloadType::OpenSessionResponse, &out)?,
        ))
    }

    fn rakp1(&mut self, now: Instant, payload: &[u8]) -> Result<Option<Bytes>> {
        let m = Rakp1::parse(payload)?;
        let bmc_random = self.random::<16>();
        let guid = self.cfg.guid;
        let users = &self.cfg.users;
        let Some(s) = self.sessions.get_mut(&m.bmc_session_id) else {
            let r = Rakp2 {
                tag: m.tag,
                status: RakpStatus::InvalidSessionId,
                console_session_id: 0,
                bmc_random: [0; 16],
                bmc_guid: [0; 16],
                code: Vec::new(),
            };
            let mut out = BytesMut::new();
            r.emit(&mut out);
            return Ok(Some(self.reply_v20(PayloadType::Rakp2, &out)?));
        };
        if let BmcState::Rakp2Sent { transcript, .. } = &s.state {
            if transcript.console_random == m.console_random {
                // Retransmitted RAKP 1: same answer.
                if let Some((PayloadType::Rakp2, d)) = &s.last_reply {
                    return Ok(Some(d.clone()));
                }
            }
        }
        if !matches!(s.state, BmcState::Opened) {
            return Ok(None);
        }
        s.last_seen = now;
        let console_sid = s.console_sid;
        let user = match lookup_user(users, &m, s.requested) {
            Ok(u) => u,
            Err(status) => {
                self.stats.auth_failures += 1;
                self.sessions.remove(&m.bmc_session_id);
                let r = Rakp2 {
                    tag: m.tag,
                    status,
                    console_session_id: console_sid,
                    bmc_random: [0; 16],
                    bmc_guid: [0; 16],
                    code: Vec::new(),
                };
                let mut out = BytesMut::new();
                r.emit(&mut out);
                return Ok(Some(self.reply_v20(PayloadType::Rakp2, &out)?));
            }
        };
        let transcript = RakpTranscript {
            console_session_id: console_sid,
            bmc_session_id: m.bmc_session_id,
            console_random: m.console_random,
            bmc_random,
            bmc_guid: guid,
            role: m.role,
            username: m.username.clone(),
        };
        let code = transcript.rakp2_code(s.suite.auth, &users[user].password);
        let r = Rakp2 {
            tag: m.tag,
            status: RakpStatus::NoErrors,
            console_session_id: console_sid,
            bmc_random,
            bmc_guid: guid,
            code: code.to_vec(),
        };
        let mut out = BytesMut::new();
        r.emit(&mut out);
        let mut hdr = BytesMut::new();
        Ipmi20Packet::emit_unsigned(
            &Ipmi20Header {
                payload_type: PayloadType::Rakp2,
                encrypted: false,
                authenticated: false,
                session_id: 0,
                sequence: 0,
            },
            &out,
            &mut hdr,
        )?;
        let d = hdr.freeze();
        s.state = BmcState::Rakp2Sent { transcript, user };
        s.last_reply = Some((PayloadType::Rakp2, d.clone()));
        Ok(Some(d))
    }

    fn rakp3(&mut self, now: Instant, payload: &[u8]) -> Result<Option<Bytes>> {
        let m = Rakp3::parse(payload)?;
        let Some(s) = self.sessions.get_mut(&m.bmc_session_id) else {
            return Ok(None);
        };
        if matches!(s.state, BmcState::Active { .. }) {
            if let Some((PayloadType::Rakp4, d)) = &s.last_reply {
                return Ok(Some(d.clone()));
            }
            return Ok(None);
        }
        let BmcState::Rakp2Sent { transcript, user } = &s.state else {
            return Ok(None);
        };
        let console_sid = s.console_sid;
        if m.status != RakpStatus::NoErrors {
            // The console gave up (e.g. our RAKP 2 did not verify): free the session.
            self.sessions.remove(&m.bmc_session_id);
            self.stats.auth_failures += 1;
            return Ok(None);
        }
        let u = &self.cfg.users[*user];
        let expected = transcript.rakp3_code(s.suite.auth, &u.password);
        let mut r = Rakp4 {
            tag: m.tag,
            status: RakpStatus::NoErrors,
            console_session_id: console_sid,
            icv: Vec::new(),
        };
        if !verify(&expected, &m.code) {
            self.stats.auth_failures += 1;
            r.status = RakpStatus::InvalidIntegrityCheckValue;
            self.sessions.remove(&m.bmc_session_id);
            let mut out = BytesMut::new();
            r.emit(&mut out);
            return Ok(Some(self.reply_v20(PayloadType::Rakp4, &out)?));
        }
        let sik = transcript.sik(s.suite.auth, &u.password, self.cfg.kg.as_ref());
        r.icv = transcript.rakp4_icv(s.suite.auth, &sik).to_vec();
        let keys = SessionKeys::derive(s.suite, &sik);
        let max_privilege = Privilege::from_u8(transcript.role & 0x0f).unwrap_or(Privilege::User);
        let mut out = BytesMut::new();
        r.emit(&mut out);
        let mut d = BytesMut::new();
        Ipmi20Packet::emit_unsigned(
            &Ipmi20Header {
                payload_type: PayloadType::Rakp4,
                encrypted: false,
                authenticated: false,
                session_id: 0,
                sequence: 0,
            },
            &out,
            &mut d,
        )?;
        let d = d.freeze();
        s.state = BmcState::Active {
            keys,
            max_privilege,
            // Sessions start at USER (or lower) until Set Session Privilege Level.
            privilege: max_privilege.min(Privilege::User),
        };
        s.last_reply = Some((PayloadType::Rakp4, d.clone()));
        s.last_seen = now;
        self.stats.sessions_opened += 1;
        Ok(Some(d))
    }

    fn session_packet(
        &mut self,
        now: Instant,
        p: &Ipmi20Packet<'_>,
        system: &mut dyn ManagedSystem,
    ) -> Result<Option<Bytes>> {
        let sid = p.header.session_id;
        let Some(s) = self.sessions.get_mut(&sid) else {
            return Err(Error::invalid("RMCP+ session id", "no such session"));
        };
        let BmcState::Active { keys, .. } = &s.state else {
            return Err(Error::invalid("RMCP+ session", "not active"));
        };
        let payload = keys.open(p)?;
        if !s.window.accept(p.header.sequence) {
            return Err(Error::invalid(
                "RMCP+ session sequence",
                "replayed or outside the window",
            ));
        }
        s.last_seen = now;
        if p.header.payload_type == PayloadType::Sol {
            let Some(chan) = &mut s.sol else {
                return Ok(None);
            };
            let pkt = SolPacket::parse(&payload)?;
            let got = chan.receive(now, &pkt);
            if let Some(d) = got.data {
                system.sol_write(&d);
            }
            if chan.unsent() == 0 {
                // Answer with the system's output in the same packet as the acknowledgement.
                let out = system.sol_read(4096);
                chan.write(&out);
            }
            let Some(reply) = chan.poll_packet(now) else {
                return Ok(None);
            };
            let mut payload = BytesMut::new();
            reply.emit(&mut payload);
            return s.seal(&mut *self.rng, PayloadType::Sol, &payload).map(Some);
        }
        if p.header.payload_type != PayloadType::Ipmi {
            return Ok(None);
        }
        let req = IpmiRequest::parse(&payload)?;
        let resp = self.dispatch(sid, &req, system);
        let Some(s) = self.sessions.get_mut(&sid) else {
            return Ok(None);
        };
        let mut msg = BytesMut::new();
        resp.emit(&mut msg);
        let out = s.seal(&mut *self.rng, PayloadType::Ipmi, &msg)?;
        self.stats.commands += 1;
        if req.netfn == 0x06
            && req.cmd == CloseSession::CMD
            && resp.completion == CompletionCode::Ok
        {
            self.sessions.remove(&sid);
        }
        Ok(Some(out))
    }

    fn dispatch(
        &mut self,
        sid: u32,
        req: &IpmiRequest,
        system: &mut dyn ManagedSystem,
    ) -> IpmiResponse {
        let Some(BmcSession {
            state:
                BmcState::Active {
                    max_privilege,
                    privilege,
                    ..
                },
            ..
        }) = self.sessions.get_mut(&sid)
        else {
            return req.response(CompletionCode::Unspecified, Vec::new());
        };
        let current = *privilege;
        let need = required_privilege(req.netfn, req.cmd);
        if current < need {
            return req.response(CompletionCode::InsufficientPrivilege, Vec::new());
        }
        let result: std::result::Result<Vec<u8>, CompletionCode> = match (req.netfn, req.cmd) {
            (0x06, SetSessionPrivilegeLevel::CMD) => {
                match SetSessionPrivilegeLevel::parse(&req.data) {
                    Ok(SetSessionPrivilegeLevel { privilege: None }) => {
                        Ok(encode_resp(&SessionPrivilegeLevel(current.to_u8())))
                    }
                    Ok(SetSessionPrivilegeLevel { privilege: Some(p) }) if p <= *max_privilege => {
                        *privilege = p;
                        Ok(encode_resp(&SessionPrivilegeLevel(p.to_u8())))
                    }
                    // 0x81: requested level not available for this user.
                    Ok(_) => Err(CompletionCode::CommandSpecific(0x81)),
                    Err(_) => Err(CompletionCode::InvalidDataField),
                }
            }
            (0x06, CloseSession::CMD) => match CloseSession::parse(&req.data) {
                Ok(c) if c.session_id == sid => Ok(Vec::new()),
                // 0x87: invalid session id in request.
                Ok(_) => Err(CompletionCode::CommandSpecific(0x87)),
                Err(_) => Err(CompletionCode::RequestLengthInvalid),
            },
            (0x06, GetChannelAuthCapabilities::CMD) | (0x06, GetChannelCipherSuites::CMD) => {
                let r = self
                    .presession_command(req)
                    .unwrap_or_else(|| req.response(CompletionCode::InvalidCommand, Vec::new()));
                return r;
            }
            (0x06, GetDeviceId::CMD) => Ok(encode_resp(&system.device_id())),
            (0x06, ActivatePayload::CMD) => {
                let port = self.cfg.port;
                let others_active = self
                    .sessions
                    .iter()
                    .any(|(id, x)| *id != sid && x.sol.is_some());
                match ActivatePayload::parse(&req.data) {
                    Ok(a) if a.payload_type != PAYLOAD_TYPE_SOL || a.instance != 1 => {
                        Err(CompletionCode::InvalidDataField)
                    }
                    // 0x80: payload already active on another session.
                    Ok(_) if others_active => Err(CompletionCode::Oem(0x80)),
                    Ok(_) => match self.sessions.get_mut(&sid) {
                        Some(s) if s.sol.is_some() => Err(CompletionCode::Oem(0x80)),
                        Some(s) => {
                            s.sol = Some(SolChannel::new(
                                usize::from(SOL_PAYLOAD_SIZE) - SolPacket::HEADER_LEN,
                                Duration::from_millis(500),
                                7,
                            ));
                            Ok(encode_resp(&PayloadActivated {
                                aux: [0; 4],
                                inbound_size: SOL_PAYLOAD_SIZE,
                                outbound_size: SOL_PAYLOAD_SIZE,
                                port,
                                vlan: 0xffff,
                            }))
                        }
                        None => Err(CompletionCode::Unspecified),
                    },
                    Err(_) => Err(CompletionCode::RequestLengthInvalid),
                }
            }
            (0x06, DeactivatePayload::CMD) => match DeactivatePayload::parse(&req.data) {
                Ok(d) if d.payload_type == PAYLOAD_TYPE_SOL => {
                    if self
                        .sessions
                        .get_mut(&sid)
                        .and_then(|s| s.sol.take())
                        .is_some()
                    {
                        Ok(Vec::new())
                    } else {
                        // 0x80: payload already deactivated.
                        Err(CompletionCode::Oem(0x80))
                    }
                }
                Ok(_) => Err(CompletionCode::InvalidDataField),
                Err(_) => Err(CompletionCode::RequestLengthInvalid),
            },
            (0x06, GetPayloadActivationStatus::CMD) => {
                match GetPayloadActivationStatus::parse(&req.data) {
                    Ok(g) if g.payload_type == PAYLOAD_TYPE_SOL => {
                        let active = self.sessions.values().any(|x| x.sol.is_some());
                        Ok(encode_resp(&PayloadActivationStatus {
                            capacity: 1,
                            active: u16::from(active),
                        }))
                    }
                    Ok(_) => Err(CompletionCode::InvalidDataField),
                    Err(_) => Err(CompletionCode::RequestLengthInvalid),
                }
            }
            // Get Channel Payload Support: IPMI and SOL, and the session set-up payloads.
            (0x06, 0x4e) => Ok(vec![0x03, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x00, 0x00]),
            // Get SOL Configuration Parameters (Transport 0x22).
            (0x0c, 0x22) => sol_config(&req.data, self.cfg.channel, self.cfg.port),
            (0x00, GetChassisStatus::CMD) => Ok(encode_resp(&system.chassis_status())),
            (0x00, ChassisControl::CMD) => ChassisControl::parse(&req.data)
                .map_err(|_| CompletionCode::InvalidDataField)
                .and_then(|c| system.chassis_control(c))
                .map(|()| Vec::new()),
            (0x00, ChassisIdentify::CMD) => ChassisIdentify::parse(&req.data)
                .map_err(|_| CompletionCode::InvalidDataField)
                .and_then(|c| system.identify(c))
                .map(|()| Vec::new()),
            (0x00, SetPowerRestorePolicy::CMD) => SetPowerRestorePolicy::parse(&req.data)
                .map_err(|_| CompletionCode::InvalidDataField)
                .and_then(|c| system.set_power_restore_policy(c.0))
                .map(|s| encode_resp(&s)),
            (0x00, SetSystemBootOptions::CMD) => SetSystemBootOptions::parse(&req.data)
                .map_err(|_| CompletionCode::RequestLengthInvalid)
                .and_then(|c| system.set_boot_option(c.parameter, c.mark_invalid))
                .map(|()| Vec::new()),
            (0x00, GetSystemBootOptions::CMD) => GetSystemBootOptions::parse(&req.data)
                .map_err(|_| CompletionCode::RequestLengthInvalid)
                .and_then(|c| system.boot_option(c.selector))
                .map(|(parameter, invalid)| {
                    encode_resp(&SystemBootOptions {
                        version: 1,
                        invalid,
                        parameter,
                    })
                }),
            (netfn, cmd) => system.handle(current, netfn, cmd, &req.data),
        };
        match result {
            Ok(data) => req.response(CompletionCode::Ok, data),
            Err(cc) => req.response(cc, Vec::new()),
        }
    }
}

/// The user RAKP 1 names, if it may have the role asked for: its index, or the status that
/// refuses it. `opened_max` is the privilege Open Session allowed.
fn lookup_user(
    users: &[User],
    m: &Rakp1,
    opened_max: u8,
) -> std::result::Result<usize, RakpStatus> {
    let requested = m.role & 0x0f;
    let name_only = m.role & 0x10 != 0;
    let i = users
        .iter()
        .position(|u| u.enabled && u.name == m.username)
        .ok_or(RakpStatus::UnauthorizedName)?;
    let u = &users[i];
    match Privilege::from_u8(requested) {
        None => Err(RakpStatus::InvalidRole),
        Some(p) if p > u.max_privilege || requested > opened_max => {
            Err(RakpStatus::UnauthorizedRole)
        }
        // Name + privilege lookup: the user must hold exactly this level.
        Some(p) if !name_only && p != u.max_privilege => Err(RakpStatus::UnauthorizedName),
        Some(_) => Ok(i),
    }
}

/// Inbound and outbound SOL payload size this BMC announces.
const SOL_PAYLOAD_SIZE: u16 = 128;

/// Get SOL Configuration Parameters (IPMI v2.0 section 26.3): revision 0x11, then the
/// parameter. Reads only; the values are this BMC's fixed SOL set-up.
fn sol_config(data: &[u8], channel: u8, port: u16) -> std::result::Result<Vec<u8>, CompletionCode> {
    let (Some(&flags), Some(&selector)) = (data.first(), data.get(1)) else {
        return Err(CompletionCode::RequestLengthInvalid);
    };
    let mut out = vec![0x11];
    if flags & 0x80 != 0 {
        // Revision only.
        return Ok(out);
    }
    match selector {
        0 => out.push(0x00),       // set complete
        1 => out.push(0x01),       // SOL enabled
        2 => out.push(0x02),       // no forced encryption/authentication; USER privilege
        3 => out.extend([12, 96]), // accumulate 60 ms or 96 characters
        4 => out.extend([7, 50]),  // 7 retries, 500 ms apart
        5 | 6 => out.push(0x0a),   // 115200 bit/s
        7 => out.push(channel),
        8 => out.extend(port.to_le_bytes()),
        // 0x80: parameter not supported.
        _ => return Err(CompletionCode::Oem(0x80)),
    }
    Ok(out)
}

/// The privilege a command needs (IPMI v2.0 appendix G), for the commands this responder
/// implements itself; everything else needs USER, and the managed system may check further.
fn required_privilege(netfn: u8, cmd: u8) -> Privilege {
    match (netfn, cmd) {
        (0x00, 0x02) | (0x00, 0x04) | (0x00, 0x08) => Privilege::Operator,
        (0x00, 0x06) => Privilege::Administrator,
        (0x06, 0x3b) | (0x06, 0x3c) => Privilege::Callback,
        _ => Privilege::User,
    }
}

fn encode_resp<R: Response>(r: &R) -> Vec<u8> {
    let mut b = BytesMut::new();
    r.emit(&mut b);
    b.to_vec()
}

#[cfg(test)]
mod tests;
