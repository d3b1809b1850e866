//! The client session: a sans-IO state machine that takes datagrams and `now`, and gives
//! datagrams, a timer and events. It does no I/O and reads no clock, so tests drive it in
//! virtual time and the [`crate::client`] driver runs thousands of them on one socket.
//!
//! ```text
//! AuthCaps ─► [CipherSuites] ─► OpenSession ─► Rakp1/2 ─► Rakp3/4 ─► SetPrivilege ─► Established
//!                                                                                       │ close()
//!                                                                                   Closing ─► Closed
//! ```
//!
//! The run loop, as with quinn-proto or str0m:
//!
//! ```
//! use std::time::Instant;
//! use ipmi_proto::session::{Session, SessionConfig, Event};
//! let cfg = SessionConfig::builder("admin", "password").build().unwrap();
//! let now = Instant::now();
//! let mut s = Session::new(cfg, now);
//! // The first datagram is Get Channel Authentication Capabilities.
//! let d = s.poll_transmit().unwrap();
//! assert_eq!(&d[..4], &[0x06, 0x00, 0xff, 0x07]);
//! // Without an answer, the timer fires and the datagram is sent again.
//! let t = s.poll_timeout().unwrap();
//! s.handle_timeout(t);
//! assert!(s.poll_transmit().is_some());
//! assert!(s.poll_event().is_none());
//! ```

mod config;
mod window;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

pub use config::{Lookup, SessionConfig, SessionConfigBuilder, SuiteChoice};
pub use window::ReplayWindow;

use crate::cmd::app::{
    ChannelAuthCapabilities, CipherSuitesPage, CloseSession, GetChannelAuthCapabilities,
    GetChannelCipherSuites, GetDeviceId, SetSessionPrivilegeLevel, parse_cipher_suite_records,
};
use crate::cmd::{CompletionCode, RawRequest, Request, Response};
use crate::crypto::{CipherSuite, OsRandom, RakpTranscript, RandomSource, SessionKeys, verify};
use crate::error::{Error, Result};
use crate::message::{IpmiRequest, IpmiResponse};
use crate::packet::{AuthType, Ipmi15Packet, Ipmi20Header, Ipmi20Packet, Packet, PayloadType};
use crate::rakp::{
    Algorithms, OpenSessionRequest, OpenSessionResponse, Rakp1, Rakp2, Rakp3, Rakp4, RakpStatus,
};

/// Identifies a submitted request in [`Event`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A response as received: completion code and data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// Net function of the request.
    pub netfn: u8,
    /// Command.
    pub cmd: u8,
    /// Completion code.
    pub completion: CompletionCode,
    /// Data after the completion code.
    pub data: Vec<u8>,
}

impl RawResponse {
    /// Decode as the response of `R`: a non-zero completion code becomes
    /// [`Error::Completion`].
    pub fn decode<R: Request>(&self) -> Result<R::Response> {
        if self.completion != CompletionCode::Ok {
            return Err(Error::Completion {
                netfn: self.netfn,
                cmd: self.cmd,
                code: self.completion,
            });
        }
        R::Response::parse(&self.data)
    }
}

/// What the session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The session is open at `privilege` with cipher suite `suite`.
    Established {
        /// Cipher suite id.
        suite: u8,
        /// Privilege level granted (wire value).
        privilege: u8,
    },
    /// A request was answered (any completion code).
    Response {
        /// Which request.
        id: RequestId,
        /// The answer.
        response: RawResponse,
    },
    /// A request could not be completed.
    RequestFailed {
        /// Which request.
        id: RequestId,
        /// Why.
        error: Error,
    },
    /// Session set-up failed; every queued request fails with it too.
    Failed(Error),
    /// Serial-over-LAN characters from the BMC (after [`Session::sol_start`]).
    SolData(Vec<u8>),
    /// The SOL payload ended: the BMC deactivated it or stopped acknowledging.
    SolClosed,
    /// The session is closed; nothing more will happen.
    Closed,
}

/// Counters of what the session did and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams sent (retransmissions included).
    pub sent: u64,
    /// Retransmissions.
    pub retransmits: u64,
    /// Datagrams received and accepted.
    pub accepted: u64,
    /// Datagrams dropped: malformed, forged, replayed, late or duplicate.
    pub dropped: u64,
    /// Times the session was re-established.
    pub reestablished: u64,
}

/// Where a received datagram belongs, read without any session state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// To the session whose console session id this is.
    Console(u32),
    /// A pre-session message (session id 0, no id inside): to the sessions of the sender's
    /// address that are setting up.
    PreSession,
    /// An ASF message (presence pong).
    Asf,
}

/// Read which session a datagram is for.
///
/// ```
/// use ipmi_proto::session::{route, Route};
/// let pong = ipmi_proto::rmcp::AsfMessage::pong_for(1).to_datagram();
/// assert_eq!(route(&pong), Some(Route::Asf));
/// assert_eq!(route(b"garbage"), None);
/// ```
pub fn route(data: &[u8]) -> Option<Route> {
    let (h, rest) = crate::rmcp::RmcpHeader::parse(data).ok()?;
    match h.class {
        crate::rmcp::MessageClass::Asf => return Some(Route::Asf),
        crate::rmcp::MessageClass::Ipmi => {}
        _ => return None,
    }
    if rest.first() != Some(&AuthType::RmcpPlus.to_u8()) {
        return Some(Route::PreSession);
    }
    let header = Ipmi20Packet::peek_header(rest).ok()?;
    if header.session_id != 0 {
        return Some(Route::Console(header.session_id));
    }
    match header.payload_type {
        PayloadType::OpenSessionResponse | PayloadType::Rakp2 | PayloadType::Rakp4 => {
            let p = Ipmi20Packet::parse(rest, 0).ok()?;
            let id = p.payload.get(4..8)?;
            Some(Route::Console(u32::from_le_bytes([
                id[0], id[1], id[2], id[3],
            ])))
        }
        _ => Some(Route::PreSession),
    }
}

#[derive(Debug)]
enum State {
    AuthCaps,
    CipherSuites {
        index: u8,
        records: Vec<u8>,
        /// Querying only to report what the BMC offers after it refused a fixed suite.
        for_error: bool,
    },
    OpenSession {
        candidates: VecDeque<CipherSuite>,
        suite: CipherSuite,
    },
    Rakp1 {
        suite: CipherSuite,
        transcript: RakpTranscript,
    },
    Rakp3 {
        suite: CipherSuite,
        keys: SessionKeys,
        /// The RAKP 4 integrity check value we expect.
        icv: zeroize::Zeroizing<Vec<u8>>,
    },
    SetPrivilege,
    Established,
    Closing,
    Closed,
}

/// An exchange waiting for its answer.
#[derive(Debug)]
struct InFlight {
    kind: Exchange,
    attempts: u32,
    retry_at: Instant,
    /// Resent as-is for handshake messages; in-session requests are re-sealed with a new
    /// session sequence number.
    datagram: Bytes,
}

#[derive(Debug, Clone)]
enum Exchange {
    Handshake(&'static str),
    /// A command on the established session: the request and whose it is.
    Command {
        owner: Owner,
        req: IpmiRequest,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    User(RequestId),
    SetPrivilege,
    Keepalive,
    Close,
}

#[derive(Debug)]
struct Queued {
    id: RequestId,
    req: RawRequest,
    deadline: Instant,
    reestablished: bool,
}

/// A client session with one BMC. See the [module docs](self).
pub struct Session {
    cfg: SessionConfig,
    state: State,
    rng: Box<dyn RandomSource>,
    console_sid: u32,
    bmc_sid: u32,
    keys: Option<SessionKeys>,
    out_seq: u32,
    window: ReplayWindow,
    rq_seq: u8,
    tag: u8,
    offered: Vec<u8>,
    granted_privilege: u8,
    in_flight: Option<InFlight>,
    /// The user request currently on the wire (kept to re-queue it after re-establishment).
    current: Option<Queued>,
    queue: VecDeque<Queued>,
    transmits: VecDeque<Bytes>,
    events: VecDeque<Event>,
    next_id: u64,
    last_activity: Instant,
    next_send_allowed: Instant,
    handshake_deadline: Instant,
    close_requested: bool,
    sol: Option<crate::sol::SolChannel>,
    stats: Stats,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("state", &self.state_name())
            .field("console_sid", &format_args!("{:#010x}", self.console_sid))
            .field("bmc_sid", &format_args!("{:#010x}", self.bmc_sid))
            .field("queued", &self.queue.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session that starts its set-up at once, with the OS random generator.
    pub fn new(cfg: SessionConfig, now: Instant) -> Self {
        Self::with_random(cfg, now, Box::new(OsRandom))
    }

    /// A session with a given random source (deterministic tests).
    pub fn with_random(cfg: SessionConfig, now: Instant, rng: Box<dyn RandomSource>) -> Self {
        let mut s = Session {
            handshake_deadline: now + cfg.request_deadline,
            cfg,
            state: State::Closed,
            rng,
            console_sid: 0,
            bmc_sid: 0,
            keys: None,
            out_seq: 0,
            window: ReplayWindow::new(),
            rq_seq: 0,
            tag: 0,
            offered: Vec::new(),
            granted_privilege: 0,
            in_flight: None,
            current: None,
            queue: VecDeque::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            next_id: 0,
            last_activity: now,
            next_send_allowed: now,
            close_requested: false,
            sol: None,
            stats: Stats::default(),
        };
        s.start_handshake(now);
        s
    }

    fn state_name(&self) -> &'static str {
        match self.state {
            State::AuthCaps => "AuthCaps",
            State::CipherSuites { .. } => "CipherSuites",
            State::OpenSession { .. } => "OpenSession",
            State::Rakp1 { .. } => "Rakp1",
            State::Rakp3 { .. } => "Rakp3",
            State::SetPrivilege => "SetPrivilege",
            State::Established => "Established",
            State::Closing => "Closing",
            State::Closed => "Closed",
        }
    }

    /// Whether the session is established (commands flow).
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established)
    }

    /// Whether the session has ended (closed or failed).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Whether the session is setting up (accepts pre-session datagrams).
    pub fn is_setting_up(&self) -> bool {
        matches!(
            self.state,
            State::AuthCaps | State::CipherSuites { .. } | State::OpenSession { .. }
        )
    }

    /// Our (the remote console's) session id; 0 before Open Session.
    pub fn console_session_id(&self) -> u32 {
        self.console_sid
    }

    /// The cipher suite in use, once established.
    pub fn cipher_suite(&self) -> Option<u8> {
        self.keys.as_ref().map(|k| k.suite().id)
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Queue a typed request; it is sent when the session is established and the previous
    /// request is answered (one request in flight per session).
    pub fn submit<R: Request>(&mut self, now: Instant, req: &R) -> RequestId {
        self.submit_raw(now, RawRequest::from_request(req))
    }

    /// Queue a raw request.
    pub fn submit_raw(&mut self, now: Instant, req: RawRequest) -> RequestId {
        let id = RequestId(self.next_id);
        self.next_id += 1;
        if matches!(self.state, State::Closed | State::Closing) || self.close_requested {
            self.events.push_back(Event::RequestFailed {
                id,
                error: Error::SessionClosed,
            });
            return id;
        }
        self.queue.push_back(Queued {
            id,
            req,
            deadline: now + self.cfg.request_deadline,
            reestablished: false,
        });
        self.pump(now);
        id
    }

    /// Close the session: queued requests are sent first, then Close Session.
    pub fn close(&mut self, now: Instant) {
        if self.close_requested || matches!(self.state, State::Closed) {
            return;
        }
        self.close_requested = true;
        if !matches!(self.state, State::Established) {
            // Nothing open on the BMC yet (or set-up in progress): stop here. A BMC that got as
            // far as RAKP 1 frees the half-open session on its own timeout.
            self.finish_closed(Error::SessionClosed);
            return;
        }
        self.pump(now);
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmits.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.state, State::Closed) {
            return None;
        }
        let mut t = self.in_flight.as_ref().map(|f| f.retry_at);
        if self.in_flight.is_none() && matches!(self.state, State::Established) {
            if !self.queue.is_empty() || self.close_requested {
                t = Some(self.next_send_allowed);
            } else if let Some(k) = self.cfg.keepalive {
                t = Some(self.last_activity + k);
            }
        }
        if let Some(st) = self.sol.as_ref().and_then(|c| c.poll_timeout()) {
            t = Some(t.map_or(st, |t| t.min(st)));
        }
        t
    }

    /// Start carrying Serial-over-LAN characters, once the BMC answered Activate Payload
    /// (see [`crate::cmd::sol::ActivatePayload`]): `max_chunk` is the BMC's inbound payload
    /// size less the 4-byte SOL header.
    pub fn sol_start(&mut self, max_chunk: usize) {
        self.sol = Some(crate::sol::SolChannel::new(
            max_chunk,
            self.cfg.retransmit_timeout / 2,
            self.cfg.retries.max(1) * 2,
        ));
    }

    /// Stop carrying SOL characters (after Deactivate Payload).
    pub fn sol_stop(&mut self) {
        self.sol = None;
    }

    /// Whether SOL characters are being carried.
    pub fn sol_active(&self) -> bool {
        self.sol.is_some()
    }

    /// Queue characters for the managed system's serial port.
    pub fn sol_write(&mut self, now: Instant, data: &[u8]) {
        if let Some(c) = &mut self.sol {
            c.write(data);
        }
        self.flush_sol(now);
    }

    fn flush_sol(&mut self, now: Instant) {
        let Some(keys) = self.keys.clone() else {
            return;
        };
        let mut failed = false;
        while let Some(chan) = &mut self.sol {
            let Some(p) = chan.poll_packet(now) else {
                failed = chan.is_failed();
                break;
            };
            let mut payload = BytesMut::new();
            p.emit(&mut payload);
            self.out_seq = self.out_seq.wrapping_add(1).max(1);
            let mut iv = [0u8; 16];
            self.rng.fill(&mut iv);
            let mut out = BytesMut::with_capacity(payload.len() + 64);
            if keys
                .seal(
                    PayloadType::Sol,
                    self.bmc_sid,
                    self.out_seq,
                    &payload,
                    iv,
                    &mut out,
                )
                .is_ok()
            {
                self.stats.sent += 1;
                self.transmits.push_back(out.freeze());
            }
        }
        if failed {
            self.sol = None;
            self.events.push_back(Event::SolClosed);
        }
    }

    /// Advance timers: retransmit, give up, pace, keep alive.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.flush_sol(now);
        if let Some(f) = &self.in_flight {
            if now >= f.retry_at {
                self.retransmit_or_fail(now);
            }
        }
        // Queued requests past their deadline fail even while set-up is still going on.
        let mut expired = Vec::new();
        self.queue.retain(|q| {
            if now >= q.deadline {
                expired.push(q.id);
                false
            } else {
                true
            }
        });
        for id in expired {
            self.events.push_back(Event::RequestFailed {
                id,
                error: Error::Timeout {
                    what: "the request",
                },
            });
        }
        if self.in_flight.is_none()
            && matches!(self.state, State::Established)
            && self.queue.is_empty()
            && !self.close_requested
        {
            if let Some(k) = self.cfg.keepalive {
                if now >= self.last_activity + k {
                    let req = RawRequest::from_request(&GetDeviceId);
                    self.send_command(now, Owner::Keepalive, req);
                }
            }
        }
        self.pump(now);
    }

    /// Feed a received datagram. Datagrams that are malformed, forged, replayed, late or not
    /// for this session are dropped and counted; they never change the session's state.
    pub fn handle_datagram(&mut self, now: Instant, data: &[u8]) {
        match self.process(now, data) {
            Ok(true) => {
                self.stats.accepted += 1;
                self.last_activity = now;
            }
            Ok(false) => self.stats.dropped += 1,
            Err(e) => {
                self.stats.dropped += 1;
                tracing::debug!(error = %e, "dropped datagram");
            }
        }
        self.pump(now);
    }

    // ----- internals -----

    fn random<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        self.rng.fill(&mut b);
        b
    }

    fn next_tag(&mut self) -> u8 {
        self.tag = self.tag.wrapping_add(1);
        self.tag
    }

    fn next_rq_seq(&mut self) -> u8 {
        self.rq_seq = (self.rq_seq + 1) & 0x3f;
        self.rq_seq
    }

    fn start_handshake(&mut self, now: Instant) {
        if self.sol.take().is_some() {
            // SOL belongs to the session being replaced.
            self.events.push_back(Event::SolClosed);
        }
        self.keys = None;
        self.bmc_sid = 0;
        self.out_seq = 0;
        self.window = ReplayWindow::new();
        self.state = State::AuthCaps;
        self.handshake_deadline = now + self.cfg.request_deadline;
        let rq_seq = self.next_rq_seq();
        let req = IpmiRequest::to_bmc(
            GetChannelAuthCapabilities::NETFN.request_value(),
            GetChannelAuthCapabilities::CMD,
            rq_seq,
            encode(&GetChannelAuthCapabilities {
                channel: self.cfg.channel,
                ipmi20: true,
                privilege: self.cfg.privilege,
            }),
        );
        let mut msg = BytesMut::new();
        req.emit(&mut msg);
        let mut out = BytesMut::new();
        let pkt = Ipmi15Packet {
            auth_type: AuthType::None,
            sequence: 0,
            session_id: 0,
            auth_code: None,
            payload: &msg,
        };
        if pkt.emit(&mut out).is_ok() {
            self.send_handshake(now, "Get Channel Authentication Capabilities", out.freeze());
        }
    }

    fn send_handshake(&mut self, now: Instant, what: &'static str, datagram: Bytes) {
        self.transmits.push_back(datagram.clone());
        self.stats.sent += 1;
        self.in_flight = Some(InFlight {
            kind: Exchange::Handshake(what),
            attempts: 0,
            retry_at: now + self.cfg.retransmit_timeout,
            datagram,
        });
    }

    fn presession_v20(&mut self, payload_type: PayloadType, payload: &[u8]) -> Bytes {
        let mut out = BytesMut::new();
        let header = Ipmi20Header {
            payload_type,
            encrypted: false,
            authenticated: false,
            session_id: 0,
            sequence: 0,
        };
        // Handshake payloads are small and fixed-size: emitting cannot fail.
        let _ = Ipmi20Packet::emit_unsigned(&header, payload, &mut out);
        out.freeze()
    }

    fn send_cipher_suites_query(&mut self, now: Instant, index: u8) {
        let rq_seq = self.next_rq_seq();
        let req = IpmiRequest::to_bmc(
            GetChannelCipherSuites::NETFN.request_value(),
            GetChannelCipherSuites::CMD,
            rq_seq,
            encode(&GetChannelCipherSuites {
                channel: self.cfg.channel,
                payload_type: 0,
                index,
            }),
        );
        let mut msg = BytesMut::new();
        req.emit(&mut msg);
        let d = self.presession_v20(PayloadType::Ipmi, &msg);
        self.send_handshake(now, "Get Channel Cipher Suites", d);
    }

    fn send_open_session(&mut self, now: Instant, suite: CipherSuite) {
        if self.console_sid == 0 {
            loop {
                let id = u32::from_le_bytes(self.random::<4>());
                if id != 0 {
                    self.console_sid = id;
                    break;
                }
            }
        }
        let req = OpenSessionRequest {
            tag: self.next_tag(),
            // Ask for exactly the privilege wanted (FreeIPMI's "opensesspriv"): BMCs that echo
            // the request would otherwise grant "0".
            max_privilege: self.cfg.privilege.to_u8(),
            console_session_id: self.console_sid,
            algorithms: Algorithms::of(&suite),
        };
        let mut p = BytesMut::new();
        req.emit(&mut p);
        let d = self.presession_v20(PayloadType::OpenSessionRequest, &p);
        self.send_handshake(now, "Open Session Response", d);
    }

    fn role_byte(&self) -> u8 {
        self.cfg.privilege.to_u8()
            | match self.cfg.lookup {
                Lookup::NameOnly => 0x10,
                Lookup::NameAndPrivilege => 0,
            }
    }

    fn candidates(&self) -> VecDeque<CipherSuite> {
        let allowed = self.cfg.allowed_suites();
        let mut v: VecDeque<CipherSuite> = CipherSuite::ALL
            .iter()
            .filter(|s| allowed.contains(&s.id))
            .filter(|s| self.offered.is_empty() || self.offered.contains(&s.id))
            .copied()
            .collect();
        if self.offered.is_empty() && self.cfg.suite == SuiteChoice::Auto {
            // No list from the BMC: try the two suites every modern BMC has.
            v.retain(|s| s.id == 17 || s.id == 3);
        }
        v
    }

    fn begin_open_session(&mut self, now: Instant) {
        let mut candidates = self.candidates();
        match candidates.pop_front() {
            Some(suite) => {
                let more = !candidates.is_empty();
                self.state = State::OpenSession { candidates, suite };
                self.send_open_session(now, suite);
                if more {
                    if let Some(f) = &mut self.in_flight {
                        f.attempts = self.cfg.retries.saturating_sub(1);
                    }
                }
            }
            None => self.fail(Error::UnsupportedCipherSuite {
                requested: match self.cfg.suite {
                    SuiteChoice::Fixed(id) => Some(id),
                    SuiteChoice::Auto => None,
                },
                offered: self.offered.clone(),
                supported: self.cfg.allowed_suites(),
            }),
        }
    }

    fn fail(&mut self, error: Error) {
        tracing::debug!(%error, "session failed");
        self.events.push_back(Event::Failed(error.clone()));
        self.finish_closed(error);
    }

    fn finish_closed(&mut self, error: Error) {
        self.in_flight = None;
        if self.sol.take().is_some() {
            self.events.push_back(Event::SolClosed);
        }
        if let Some(q) = self.current.take() {
            self.events.push_back(Event::RequestFailed {
                id: q.id,
                error: error.clone(),
            });
        }
        while let Some(q) = self.queue.pop_front() {
            self.events.push_back(Event::RequestFailed {
                id: q.id,
                error: error.clone(),
            });
        }
        self.keys = None;
        self.state = State::Closed;
        self.events.push_back(Event::Closed);
    }

    fn retransmit_or_fail(&mut self, now: Instant) {
        let Some(mut f) = self.in_flight.take() else {
            return;
        };
        let past_deadline = match &f.kind {
            Exchange::Handshake(_) => now >= self.handshake_deadline,
            Exchange::Command {
                owner: Owner::User(_),
                ..
            } => self.current.as_ref().is_some_and(|q| now >= q.deadline),
            Exchange::Command { .. } => false,
        };
        if f.attempts < self.cfg.retries && !past_deadline {
            f.attempts += 1;
            f.retry_at = now + self.cfg.retransmit_timeout;
            self.stats.retransmits += 1;
            self.stats.sent += 1;
            let datagram = match &f.kind {
                Exchange::Handshake(_) => f.datagram.clone(),
                Exchange::Command { req, .. } => {
                    let req = req.clone();
                    match self.seal_request(&req) {
                        Some(d) => d,
                        None => f.datagram.clone(),
                    }
                }
            };
            f.datagram = datagram.clone();
            self.transmits.push_back(datagram);
            self.in_flight = Some(f);
            return;
        }
        match f.kind {
            Exchange::Handshake(what) => {
                if let State::CipherSuites { for_error, .. } = self.state {
                    // BMCs such as ipmi_sim and iLO ignore this pre-session query.
                    if for_error {
                        self.fail(Error::UnsupportedCipherSuite {
                            requested: match self.cfg.suite {
                                SuiteChoice::Fixed(id) => Some(id),
                                SuiteChoice::Auto => None,
                            },
                            offered: Vec::new(),
                            supported: self.cfg.allowed_suites(),
                        });
                    } else {
                        self.begin_open_session(now);
                    }
                    return;
                }
                if let State::OpenSession { suite, .. } = self.state {
                    self.suite_refused(now, suite);
                    return;
                }
                self.fail(Error::Timeout { what });
            }
            Exchange::Command { owner, .. } => match owner {
                Owner::User(_) => {
                    let Some(mut q) = self.current.take() else {
                        return;
                    };
                    if self.cfg.reestablish && !q.reestablished && now < q.deadline {
                        // The BMC may have dropped the session: open a new one and resend.
                        tracing::debug!("no answer on the established session; re-establishing");
                        q.reestablished = true;
                        self.queue.push_front(q);
                        self.stats.reestablished += 1;
                        self.start_handshake(now);
                    } else {
                        self.events.push_back(Event::RequestFailed {
                            id: q.id,
                            error: Error::Timeout {
                                what: "the response",
                            },
                        });
                    }
                }
                Owner::SetPrivilege => self.fail(Error::Timeout {
                    what: "Set Session Privilege Level",
                }),
                Owner::Keepalive => {
                    if self.cfg.reestablish {
                        self.stats.reestablished += 1;
                        self.start_handshake(now);
                    } else {
                        self.fail(Error::Timeout { what: "keepalive" });
                    }
                }
                Owner::Close => self.finish_closed(Error::SessionClosed),
            },
        }
    }

    fn seal_request(&mut self, req: &IpmiRequest) -> Option<Bytes> {
        let keys = self.keys.as_ref()?;
        let mut msg = BytesMut::new();
        req.emit(&mut msg);
        self.out_seq = self.out_seq.wrapping_add(1);
        if self.out_seq == 0 {
            self.out_seq = 1;
        }
        let mut iv = [0u8; 16];
        self.rng.fill(&mut iv);
        let mut out = BytesMut::with_capacity(msg.len() + 64);
        keys.seal(
            PayloadType::Ipmi,
            self.bmc_sid,
            self.out_seq,
            &msg,
            iv,
            &mut out,
        )
        .ok()?;
        Some(out.freeze())
    }

    fn send_command(&mut self, now: Instant, owner: Owner, raw: RawRequest) {
        let rq_seq = self.next_rq_seq();
        let req = IpmiRequest::to_bmc(raw.netfn, raw.cmd, rq_seq, raw.data);
        let Some(d) = self.seal_request(&req) else {
            return;
        };
        self.transmits.push_back(d.clone());
        self.stats.sent += 1;
        self.last_activity = now;
        self.next_send_allowed = now + self.cfg.pacing;
        self.in_flight = Some(InFlight {
            kind: Exchange::Command { owner, req },
            attempts: 0,
            retry_at: now + self.cfg.retransmit_timeout,
            datagram: d,
        });
    }

    /// Start the next exchange when nothing is in flight.
    fn pump(&mut self, now: Instant) {
        if self.in_flight.is_some() || !matches!(self.state, State::Established) {
            return;
        }
        if now < self.next_send_allowed {
            return;
        }
        if let Some(q) = self.queue.pop_front() {
            let raw = q.req.clone();
            let id = q.id;
            self.current = Some(q);
            self.send_command(now, Owner::User(id), raw);
        } else if self.close_requested {
            self.state = State::Closing;
            let raw = RawRequest::from_request(&CloseSession {
                session_id: self.bmc_sid,
            });
            self.send_command(now, Owner::Close, raw);
        }
    }

    /// Returns Ok(true) when the datagram was accepted, Ok(false) when ignored.
    fn process(&mut self, now: Instant, data: &[u8]) -> Result<bool> {
        let auth_len = self
            .keys
            .as_ref()
            .map_or(0, |k| k.suite().integrity.auth_code_len());
        let packet = Packet::parse(data, auth_len)?;
        match (&self.state, packet) {
            (State::Closed, _) => Ok(false),
            (_, Packet::Asf(_)) => Ok(false),
            (State::AuthCaps | State::CipherSuites { .. }, Packet::Ipmi15(p)) => {
                if p.session_id != 0 {
                    return Ok(false);
                }
                self.on_presession_response(now, p.payload)
            }
            (State::AuthCaps | State::CipherSuites { .. }, Packet::Ipmi20(p)) => {
                if p.header.session_id != 0
                    || p.header.authenticated
                    || p.header.encrypted
                    || p.header.payload_type != PayloadType::Ipmi
                {
                    return Ok(false);
                }
                self.on_presession_response(now, p.payload)
            }
            (State::OpenSession { .. }, Packet::Ipmi20(p))
                if p.header.payload_type == PayloadType::OpenSessionResponse =>
            {
                self.on_open_session_response(now, p.payload)
            }
            (State::Rakp1 { .. }, Packet::Ipmi20(p))
                if p.header.payload_type == PayloadType::Rakp2 =>
            {
                self.on_rakp2(now, p.payload)
            }
            (State::Rakp3 { .. }, Packet::Ipmi20(p))
                if p.header.payload_type == PayloadType::Rakp4 =>
            {
                self.on_rakp4(now, p.payload)
            }
            (State::SetPrivilege | State::Established | State::Closing, Packet::Ipmi20(p)) => {
                self.on_session_packet(now, &p)
            }
            _ => Ok(false),
        }
    }

    fn expected_handshake(&self) -> bool {
        matches!(
            self.in_flight,
            Some(InFlight {
                kind: Exchange::Handshake(_),
                ..
            })
        )
    }

    fn on_presession_response(&mut self, now: Instant, msg: &[u8]) -> Result<bool> {
        let resp = IpmiResponse::parse(msg)?;
        if !self.expected_handshake() || resp.rq_seq != self.rq_seq {
            return Ok(false);
        }
        match &mut self.state {
            State::AuthCaps => {
                if resp.cmd != GetChannelAuthCapabilities::CMD {
                    return Ok(false);
                }
                self.in_flight = None;
                let raw = RawResponse {
                    netfn: resp.netfn & 0x3e,
                    cmd: resp.cmd,
                    completion: resp.completion,
                    data: resp.data,
                };
                let caps: ChannelAuthCapabilities = match raw.decode::<GetChannelAuthCapabilities>()
                {
                    Ok(c) => c,
                    Err(e) => {
                        self.fail(e);
                        return Ok(true);
                    }
                };
                if !caps.supports_ipmi20() {
                    self.fail(Error::NoIpmi20);
                    return Ok(true);
                }
                if caps.kg_set() && self.cfg.kg.is_none() {
                    tracing::warn!(
                        "the BMC has a K_g set but none was configured; RAKP 4 will fail"
                    );
                }
                match self.cfg.suite {
                    SuiteChoice::Auto => {
                        self.state = State::CipherSuites {
                            index: 0,
                            records: Vec::new(),
                            for_error: false,
                        };
                        self.send_cipher_suites_query(now, 0);
                        // BMCs such as ipmi_sim and iLO ignore this query: ask once, then fall back.
                        if let Some(f) = &mut self.in_flight {
                            f.attempts = self.cfg.retries;
                        }
                    }
                    SuiteChoice::Fixed(_) => self.begin_open_session(now),
                }
                Ok(true)
            }
            State::CipherSuites {
                index,
                records,
                for_error,
            } => {
                if resp.cmd != GetChannelCipherSuites::CMD {
                    return Ok(false);
                }
                self.in_flight = None;
                let (index, for_error) = (*index, *for_error);
                let page = if resp.completion == CompletionCode::Ok {
                    CipherSuitesPage::parse(&resp.data).ok()
                } else {
                    None
                };
                let last = match &page {
                    Some(p) => {
                        records.extend_from_slice(&p.records);
                        p.records.len() < 16 || index >= 63
                    }
                    None => true,
                };
                if !last {
                    if let State::CipherSuites { index: i, .. } = &mut self.state {
                        *i = index + 1;
                    }
                    self.send_cipher_suites_query(now, index + 1);
                    return Ok(true);
                }
                self.offered = parse_cipher_suite_records(records);
                if for_error {
                    self.fail(Error::UnsupportedCipherSuite {
                        requested: match self.cfg.suite {
                            SuiteChoice::Fixed(id) => Some(id),
                            SuiteChoice::Auto => None,
                        },
                        offered: self.offered.clone(),
                        supported: self.cfg.allowed_suites(),
                    });
                } else {
                    self.begin_open_session(now);
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The BMC refused `suite` (by status, or by never answering Open Session although it
    /// answered Get Channel Authentication Capabilities, as ipmi_sim does for suite 17): try the
    /// next candidate, or fail saying what the BMC offers.
    fn suite_refused(&mut self, now: Instant, suite: CipherSuite) {
        let next = match &mut self.state {
            State::OpenSession { candidates, .. } => candidates.pop_front(),
            _ => None,
        };
        if let Some(next) = next {
            tracing::debug!(refused = suite.id, trying = next.id, "cipher suite refused");
            let more = match &mut self.state {
                State::OpenSession { candidates, suite } => {
                    *suite = next;
                    !candidates.is_empty()
                }
                _ => false,
            };
            self.send_open_session(now, next);
            if more {
                // The BMC is alive (it answered before): two tries are enough per suite.
                if let Some(f) = &mut self.in_flight {
                    f.attempts = self.cfg.retries.saturating_sub(1);
                }
            }
            return;
        }
        if self.offered.is_empty() && matches!(self.cfg.suite, SuiteChoice::Fixed(_)) {
            // Learn what the BMC offers, to say so in the error.
            self.state = State::CipherSuites {
                index: 0,
                records: Vec::new(),
                for_error: true,
            };
            self.send_cipher_suites_query(now, 0);
            if let Some(f) = &mut self.in_flight {
                f.attempts = self.cfg.retries;
            }
            return;
        }
        self.fail(Error::UnsupportedCipherSuite {
            requested: match self.cfg.suite {
                SuiteChoice::Fixed(id) => Some(id),
                SuiteChoice::Auto => None,
            },
            offered: self.offered.clone(),
            supported: self.cfg.allowed_suites(),
        });
    }

    fn on_open_session_response(&mut self, now: Instant, payload: &[u8]) -> Result<bool> {
        let r = OpenSessionResponse::parse(payload)?;
        if r.tag != self.tag
            || r.console_session_id != self.console_sid
            || !self.expected_handshake()
        {
            return Ok(false);
        }
        self.in_flight = None;
        let State::OpenSession { suite, .. } = &mut self.state else {
            return Ok(false);
        };
        let suite = *suite;
        if r.status != RakpStatus::NoErrors {
            if r.status.is_algorithm_mismatch() {
                self.suite_refused(now, suite);
            } else if r.status.is_authentication() {
                self.fail(Error::Authentication {
                    reason: r.status.to_string(),
                });
            } else {
                self.fail(Error::SessionRefused {
                    stage: "Open Session",
                    status: r.status,
                });
            }
            return Ok(true);
        }
        let Some(accepted) = r.accepted else {
            return Err(Error::invalid("Open Session Response", "no session data"));
        };
        if accepted.algorithms != Algorithms::of(&suite) {
            self.fail(Error::invalid(
                "Open Session Response",
                "the BMC chose algorithms other than those proposed",
            ));
            return Ok(true);
        }
        if accepted.bmc_session_id == 0 {
            self.fail(Error::invalid(
                "Open Session Response",
                "managed system session id 0",
            ));
            return Ok(true);
        }
        self.bmc_sid = accepted.bmc_session_id;
        let transcript = RakpTranscript {
            console_session_id: self.console_sid,
            bmc_session_id: self.bmc_sid,
            console_random: self.random::<16>(),
            bmc_random: [0; 16],
            bmc_guid: [0; 16],
            role: self.role_byte(),
            username: self.cfg.username.clone(),
        };
        let msg = Rakp1 {
            tag: self.next_tag(),
            bmc_session_id: self.bmc_sid,
            console_random: transcript.console_random,
            role: transcript.role,
            username: transcript.username.clone(),
        };
        let mut p = BytesMut::new();
        msg.emit(&mut p);
        let d = self.presession_v20(PayloadType::Rakp1, &p);
        self.state = State::Rakp1 { suite, transcript };
        self.send_handshake(now, "RAKP Message 2", d);
        Ok(true)
    }

    fn on_rakp2(&mut self, now: Instant, payload: &[u8]) -> Result<bool> {
        let r = Rakp2::parse(payload)?;
        if r.tag != self.tag
            || r.console_session_id != self.console_sid
            || !self.expected_handshake()
        {
            return Ok(false);
        }
        self.in_flight = None;
        let State::Rakp1 { suite, transcript } = &mut self.state else {
            return Ok(false);
        };
        let suite = *suite;
        if r.status != RakpStatus::NoErrors {
            let e = if r.status.is_authentication() {
                Error::Authentication {
                    reason: r.status.to_string(),
                }
            } else {
                Error::SessionRefused {
                    stage: "RAKP Message 2",
                    status: r.status,
                }
            };
            self.fail(e);
            return Ok(true);
        }
        transcript.bmc_random = r.bmc_random;
        transcript.bmc_guid = r.bmc_guid;
        let transcript = transcript.clone();
        let expected = transcript.rakp2_code(suite.auth, &self.cfg.password);
        if !verify(&expected, &r.code) {
            // Tell the BMC, so it frees the half-open session at once.
            let abort = Rakp3 {
                tag: self.next_tag(),
                status: RakpStatus::InvalidIntegrityCheckValue,
                bmc_session_id: self.bmc_sid,
                code: Vec::new(),
            };
            let mut p = BytesMut::new();
            abort.emit(&mut p);
            let d = self.presession_v20(PayloadType::Rakp3, &p);
            self.transmits.push_back(d);
            self.fail(Error::Authentication {
                reason: "RAKP 2 key exchange code does not match: wrong password".into(),
            });
            return Ok(true);
        }
        let sik = transcript.sik(suite.auth, &self.cfg.password, self.cfg.kg.as_ref());
        let keys = SessionKeys::derive(suite, &sik);
        let msg = Rakp3 {
            tag: self.next_tag(),
            status: RakpStatus::NoErrors,
            bmc_session_id: self.bmc_sid,
            code: transcript
                .rakp3_code(suite.auth, &self.cfg.password)
                .to_vec(),
        };
        let mut p = BytesMut::new();
        msg.emit(&mut p);
        let d = self.presession_v20(PayloadType::Rakp3, &p);
        // The SIK lives only until the ICV and the session keys are derived from it.
        let icv = transcript.rakp4_icv(suite.auth, &sik);
        self.state = State::Rakp3 { suite, keys, icv };
        self.send_handshake(now, "RAKP Message 4", d);
        Ok(true)
    }

    fn on_rakp4(&mut self, now: Instant, payload: &[u8]) -> Result<bool> {
        let r = Rakp4::parse(payload)?;
        if r.tag != self.tag
            || r.console_session_id != self.console_sid
            || !self.expected_handshake()
        {
            return Ok(false);
        }
        self.in_flight = None;
        let State::Rakp3 { suite, keys, icv } = &self.state else {
            return Ok(false);
        };
        let (suite, keys, expected) = (*suite, keys.clone(), icv.clone());
        if r.status != RakpStatus::NoErrors {
            let e = if r.status.is_authentication() {
                Error::Authentication {
                    reason: r.status.to_string(),
                }
            } else {
                Error::SessionRefused {
                    stage: "RAKP Message 4",
                    status: r.status,
                }
            };
            self.fail(e);
            return Ok(true);
        }
        if !verify(&expected, &r.icv) {
            self.fail(Error::Authentication {
                reason: "RAKP 4 integrity check value does not match (wrong K_g?)".into(),
            });
            return Ok(true);
        }
        self.keys = Some(keys);
        self.state = State::SetPrivilege;
        tracing::debug!(suite = suite.id, "RAKP complete");
        let raw = RawRequest::from_request(&SetSessionPrivilegeLevel {
            privilege: Some(self.cfg.privilege),
        });
        self.send_command(now, Owner::SetPrivilege, raw);
        Ok(true)
    }

    fn on_session_packet(&mut self, now: Instant, p: &Ipmi20Packet<'_>) -> Result<bool> {
        if p.header.session_id != self.console_sid {
            return Ok(false);
        }
        let Some(keys) = &self.keys else {
            return Ok(false);
        };
        let payload = keys.open(p)?;
        if !self.window.check(p.header.sequence) {
            return Err(Error::invalid(
                "RMCP+ session sequence",
                "replayed or outside the window",
            ));
        }
        if p.header.payload_type == PayloadType::Sol {
            self.window.accept(p.header.sequence);
            let Some(chan) = &mut self.sol else {
                return Ok(false);
            };
            let pkt = crate::cmd::sol::SolPacket::parse(&payload)?;
            let got = chan.receive(now, &pkt);
            if let Some(d) = got.data {
                self.events.push_back(Event::SolData(d));
            }
            if got.deactivating {
                self.sol = None;
                self.events.push_back(Event::SolClosed);
            }
            self.flush_sol(now);
            return Ok(true);
        }
        if p.header.payload_type != PayloadType::Ipmi {
            // OEM payloads are not for this core: authenticated, so count them.
            self.window.accept(p.header.sequence);
            return Ok(false);
        }
        let resp = IpmiResponse::parse(&payload)?;
        let Some(InFlight {
            kind: Exchange::Command { owner, req },
            ..
        }) = &self.in_flight
        else {
            self.window.accept(p.header.sequence);
            return Ok(false);
        };
        if resp.rq_seq != req.rq_seq || resp.cmd != req.cmd || resp.netfn != (req.netfn | 1) {
            // A duplicate or late answer to an earlier request.
            self.window.accept(p.header.sequence);
            return Ok(false);
        }
        self.window.accept(p.header.sequence);
        let owner = *owner;
        self.in_flight = None;
        let raw = RawResponse {
            netfn: req_netfn(&resp),
            cmd: resp.cmd,
            completion: resp.completion,
            data: resp.data,
        };
        match owner {
            Owner::User(id) => {
                self.current = None;
                self.events.push_back(Event::Response { id, response: raw });
            }
            Owner::SetPrivilege => match raw.decode::<SetSessionPrivilegeLevel>() {
                Ok(level) => {
                    self.granted_privilege = level.0;
                    self.state = State::Established;
                    self.events.push_back(Event::Established {
                        suite: self.cipher_suite().unwrap_or(0),
                        privilege: level.0,
                    });
                }
                Err(e) => {
                    let e = match e {
                        Error::Completion { code, .. } => Error::Authentication {
                            reason: format!(
                                "the BMC refused privilege {:?}: {code}",
                                self.cfg.privilege
                            ),
                        },
                        other => other,
                    };
                    self.fail(e);
                }
            },
            Owner::Keepalive => {}
            Owner::Close => self.finish_closed(Error::SessionClosed),
        }
        Ok(true)
    }
}

fn req_netfn(resp: &IpmiResponse) -> u8 {
    resp.netfn & 0x3e
}

fn encode<R: Request>(r: &R) -> Vec<u8> {
    let mut b = BytesMut::new();
    r.emit(&mut b);
    b.to_vec()
}

#[cfg(test)]
mod tests;
