//! The read transfer: a sans-IO state machine for one RRQ (RFC 1350), with option negotiation
//! (RFC 2347), `blksize` (2348), `tsize` and `timeout` (2349) and `windowsize` (7440).
//!
//! It takes datagrams from the client and `now`, and gives datagrams, a timer and an
//! [`Outcome`]; it reads its [`Content`] with positioned reads and never touches a socket or a
//! clock, so tests drive it in virtual time with loss and duplication.
//!
//! Content is read ahead into one buffer per transfer, in chunks of whole blocks (a window,
//! within 64 KiB and 1 MiB): [`ReadTransfer::poll_datagram`] lends each DATA payload straight
//! from it (no allocation or copy per block), and [`ReadTransfer::prefetch`], called while
//! waiting for the client, loads the next window so that no read sits between an ACK and the
//! DATA it releases.
//!
//! ```
//! use std::time::Instant;
//! use pxe::tftp::packet::Packet;
//! use pxe::tftp::source::MemoryContent;
//! use pxe::tftp::transfer::{Outcome, ReadTransfer, TransferConfig};
//! let rrq = b"\x00\x01f\x00octet\x00blksize\x00512\x00tsize\x000\x00";
//! let Ok(Packet::Rrq(req)) = Packet::parse(rrq) else { unreachable!() };
//! let now = Instant::now();
//! let mut t = ReadTransfer::new(&req, Box::new(MemoryContent::new(vec![7u8; 600])),
//!                               &TransferConfig::default(), now);
//! let mut out = Vec::new();
//! assert!(t.poll_transmit(&mut out));                      // the OACK: blksize=512 tsize=600
//! assert_eq!(&out[..2], &[0, 6]);
//! t.handle_datagram(now, &[0, 4, 0, 0]);                  // ACK 0
//! assert!(t.poll_transmit(&mut out));                      // DATA 1, 512 bytes
//! assert_eq!(out.len(), 4 + 512);
//! t.handle_datagram(now, &[0, 4, 0, 1]);
//! assert!(t.poll_transmit(&mut out));                      // DATA 2, 88 bytes: the last
//! t.handle_datagram(now, &[0, 4, 0, 2]);
//! assert!(matches!(t.outcome(), Some(Outcome::Complete { bytes: 600, .. })));
//! ```

use std::time::{Duration, Instant};

use super::packet::{ErrorCode, OP_DATA, OP_OACK, Packet, Request, TftpOption};
use super::source::{Content, MemoryContent, netascii_encode};

/// Smallest block size RFC 2348 allows.
pub const MIN_BLKSIZE: u16 = 8;
/// Largest block size RFC 2348 allows.
pub const MAX_BLKSIZE: u16 = 65464;
/// Block size without negotiation.
pub const DEFAULT_BLKSIZE: u16 = 512;

/// Limits and defaults for transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransferConfig {
    /// Largest block size granted (requests above it get this value); at most 65464. The
    /// server lowers it per transfer to the path MTU towards the client less 32.
    pub max_blksize: u16,
    /// Largest window granted (RFC 7440).
    pub max_window: u16,
    /// Cap on `windowsize x blksize` in bytes: the server sets it from its socket buffers.
    pub max_window_bytes: usize,
    /// Retransmission timeout when the client does not negotiate one.
    pub timeout: Duration,
    /// Retransmissions of one window (or OACK) before giving up.
    pub retries: u32,
    /// Largest netascii file (converted in memory).
    pub max_netascii_bytes: u64,
}

impl Default for TransferConfig {
    fn default() -> Self {
        TransferConfig {
            max_blksize: MAX_BLKSIZE,
            max_window: 64,
            max_window_bytes: 4 << 20,
            timeout: Duration::from_secs(1),
            retries: 5,
            max_netascii_bytes: 8 << 20,
        }
    }
}

impl TransferConfig {
    /// A builder starting from the defaults.
    pub fn builder() -> TransferConfigBuilder {
        TransferConfigBuilder(TransferConfig::default())
    }
}

/// Builds a [`TransferConfig`].
#[derive(Debug, Clone)]
pub struct TransferConfigBuilder(TransferConfig);

impl TransferConfigBuilder {
    /// Largest block size granted (clamped to 8..=65464).
    pub fn max_blksize(mut self, n: u16) -> Self {
        self.0.max_blksize = n.clamp(MIN_BLKSIZE, MAX_BLKSIZE);
        self
    }
    /// Largest window granted (at least 1).
    pub fn max_window(mut self, n: u16) -> Self {
        self.0.max_window = n.max(1);
        self
    }
    /// Cap on `windowsize x blksize` in bytes.
    pub fn max_window_bytes(mut self, n: usize) -> Self {
        self.0.max_window_bytes = n;
        self
    }
    /// Default retransmission timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.0.timeout = t;
        self
    }
    /// Retransmissions before giving up.
    pub fn retries(mut self, n: u32) -> Self {
        self.0.retries = n;
        self
    }
    /// Largest netascii file.
    pub fn max_netascii_bytes(mut self, n: u64) -> Self {
        self.0.max_netascii_bytes = n;
        self
    }
    /// The configuration.
    pub fn build(self) -> TransferConfig {
        self.0
    }
}

/// What was agreed for a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// Block size.
    pub blksize: u16,
    /// Window size (1 = lock-step).
    pub windowsize: u16,
    /// Retransmission timeout.
    pub timeout: Duration,
    /// The options to acknowledge, in the order asked (empty: no OACK, data starts at once).
    pub oack: Vec<(&'static str, String)>,
}

/// A request refused before any data: the ERROR to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Error code.
    pub code: ErrorCode,
    /// Message for the client.
    pub message: String,
}

fn refuse(code: ErrorCode, message: &str) -> Refusal {
    Refusal {
        code,
        message: message.to_string(),
    }
}

fn number(v: &str) -> Option<u64> {
    if v.is_empty() || v.len() > 12 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Negotiate the options of `req` for content of `size` bytes (when known): echo only the
/// options asked for and accepted; refuse illegal values with ERROR 8.
///
/// ```
/// use pxe::tftp::packet::{Request, TftpOption, ErrorCode};
/// use pxe::tftp::transfer::{negotiate, TransferConfig};
/// let cfg = TransferConfig::builder().max_blksize(1468).build();
/// let req = Request { filename: "f", mode: "octet", options: vec![
///     TftpOption { name: "blksize", value: "65464" }, TftpOption { name: "foo", value: "1" }] };
/// let n = negotiate(&req, Some(10), &cfg).unwrap();
/// assert_eq!(n.blksize, 1468);
/// assert_eq!(n.oack, vec![("blksize", "1468".to_string())]);
/// let bad = Request { options: vec![TftpOption { name: "blksize", value: "7" }], ..req };
/// assert_eq!(negotiate(&bad, None, &cfg).unwrap_err().code, ErrorCode::OptionRefused);
/// ```
pub fn negotiate(
    req: &Request<'_>,
    size: Option<u64>,
    cfg: &TransferConfig,
) -> Result<Negotiated, Refusal> {
    let mut n = Negotiated {
        blksize: DEFAULT_BLKSIZE,
        windowsize: 1,
        timeout: cfg.timeout,
        oack: Vec::new(),
    };
    let mut seen: Vec<&'static str> = Vec::new();
    let mut window_asked: Option<u16> = None;
    for TftpOption { name, value } in &req.options {
        let key: &'static str = if name.eq_ignore_ascii_case("blksize") {
            "blksize"
        } else if name.eq_ignore_ascii_case("tsize") {
            "tsize"
        } else if name.eq_ignore_ascii_case("timeout") {
            "timeout"
        } else if name.eq_ignore_ascii_case("windowsize") {
            "windowsize"
        } else {
            continue; // unknown options are ignored, never echoed
        };
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let v = number(value);
        match key {
            "blksize" => match v {
                Some(v) if (u64::from(MIN_BLKSIZE)..=u64::from(MAX_BLKSIZE)).contains(&v) => {
                    let granted = (v as u16).min(cfg.max_blksize).max(MIN_BLKSIZE);
                    n.blksize = granted;
                    n.oack.push(("blksize", granted.to_string()));
                }
                _ => return Err(refuse(ErrorCode::OptionRefused, "illegal blksize")),
            },
            "timeout" => match v {
                Some(v @ 1..=255) => {
                    n.timeout = Duration::from_secs(v);
                    n.oack.push(("timeout", v.to_string()));
                }
                _ => return Err(refuse(ErrorCode::OptionRefused, "illegal timeout")),
            },
            // In a read request the value carries nothing (RFC 2349 says 0; atftp sends
            // other text): accept any.
            // An empty file gets no tsize: curl refuses `tsize=0` in an OACK as illegal
            // (a server may always decline an option).
            "tsize" => {
                if let Some(size) = size.filter(|s| *s > 0) {
                    n.oack.push(("tsize", size.to_string()));
                }
            }
            _ => match v {
                Some(v @ 1..=65535) => {
                    window_asked = Some(v as u16);
                    n.oack.push(("windowsize", String::new()));
                }
                _ => return Err(refuse(ErrorCode::OptionRefused, "illegal windowsize")),
            },
        }
    }
    if let Some(asked) = window_asked {
        // The window depends on the block size, which may come later in the request.
        let by_bytes = cfg.max_window_bytes / (usize::from(n.blksize) + 4);
        let cap = u16::try_from(by_bytes).unwrap_or(u16::MAX).max(1);
        n.windowsize = asked.min(cfg.max_window.max(1)).min(cap);
        for o in &mut n.oack {
            if o.0 == "windowsize" {
                o.1 = n.windowsize.to_string();
            }
        }
    }
    Ok(n)
}

/// Refuse a request whose mode is not `octet` or `netascii` (ERROR 4), before its file is
/// opened.
pub fn check_mode(req: &Request<'_>) -> Result<(), Refusal> {
    if req.mode.eq_ignore_ascii_case("octet") || req.mode.eq_ignore_ascii_case("netascii") {
        Ok(())
    } else {
        Err(refuse(ErrorCode::IllegalOperation, "unsupported mode"))
    }
}

/// How a transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Every block was acknowledged.
    Complete {
        /// Bytes delivered.
        bytes: u64,
        /// Blocks delivered (the last one may be empty).
        blocks: u64,
    },
    /// The client read the OACK and ended with ERROR 8, as EDK2 does to learn `tsize` before
    /// it asks again: not a failure.
    SizeProbe,
    /// The client sent an ERROR.
    ClientError {
        /// Its code.
        code: ErrorCode,
        /// Its message.
        message: String,
    },
    /// We refused the request (bad option, mode); the ERROR was sent.
    Refused(Refusal),
    /// Reading the content failed; ERROR 0 was sent.
    ReadFailed,
    /// The client stopped answering.
    TimedOut,
}

impl Outcome {
    /// Whether the outcome is a failure worth a warning (a size probe is not).
    pub fn is_failure(&self) -> bool {
        !matches!(self, Outcome::Complete { .. } | Outcome::SizeProbe)
    }
}

/// Counters of one transfer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransferStats {
    /// Datagrams sent.
    pub sent: u64,
    /// DATA (or OACK) datagrams sent again.
    pub retransmits: u64,
    /// Timer expiries.
    pub timeouts: u64,
    /// Datagrams from the client that were ignored (malformed, duplicate, stale).
    pub ignored: u64,
}

#[derive(Debug)]
enum Phase {
    /// Send this ERROR, then finish with the outcome.
    Error(Vec<u8>, Outcome),
    /// OACK to send (`pending`) or sent and waiting for ACK 0.
    Oack {
        pending: bool,
    },
    /// Sending data.
    Data,
    Done(Outcome),
}

/// One datagram to send: `head` followed by `body` (send both as one datagram, for example
/// with one vectored `sendmsg`). A DATA packet's `body` is its payload, borrowed from the
/// transfer's read-ahead buffer, so no copy is made per block; any other packet is all
/// `head`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram<'a> {
    /// The first bytes (the 4-byte DATA header, or a whole OACK or ERROR).
    pub head: &'a [u8],
    /// The rest (a DATA payload; empty for other packets).
    pub body: &'a [u8],
}

impl Datagram<'_> {
    /// Length on the wire (without UDP/IP headers).
    pub fn len(&self) -> usize {
        self.head.len() + self.body.len()
    }

    /// Whether the datagram is empty (never, for a datagram from a transfer).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append the datagram to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.head);
        out.extend_from_slice(self.body);
    }
}

/// Smallest read-ahead chunk in bytes: small blocks are read from the content this many
/// bytes at a time (one `pread` per 128 blocks of 512 bytes), large ones a window at a time.
const MIN_CHUNK_BYTES: usize = 64 << 10;
/// Largest read-ahead chunk in bytes (at least one block): the memory a transfer may hold,
/// whatever window it was granted (a window of 64 blocks of 65464 bytes is read in 4 parts).
const MAX_CHUNK_BYTES: usize = 1 << 20;

/// The read-ahead buffer: whole blocks of the content from block `first` on.
#[derive(Debug, Default)]
struct ReadAhead {
    buf: Vec<u8>,
    /// Absolute number of the first block held (0: nothing held).
    first: u64,
    /// Blocks the buffer holds when full.
    blocks: u64,
    /// Valid bytes; fewer than `buf.len()` when the read reached the end of the content.
    valid: usize,
}

/// One read transfer (the server side of an RRQ).
pub struct ReadTransfer {
    content: Box<dyn Content>,
    neg: Negotiated,
    phase: Phase,
    ahead: ReadAhead,
    /// The header of the DATA packet last polled.
    head: [u8; 4],
    /// Blocks acknowledged (absolute count; block numbers on the wire are this mod 65536).
    acked: u64,
    /// Next block to send (absolute, from 1).
    next: u64,
    /// The highest block sent so far (absolute).
    high: u64,
    /// The last block (absolute), once a short read found it.
    last: Option<u64>,
    bytes_at_last: u64,
    deadline: Option<Instant>,
    now: Instant,
    retries_left: u32,
    max_retries: u32,
    /// The OACK, or the ERROR being sent.
    control: Vec<u8>,
    stats: TransferStats,
}

impl std::fmt::Debug for ReadTransfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadTransfer")
            .field("negotiated", &self.neg)
            .field("phase", &self.phase)
            .field("acked", &self.acked)
            .field("next", &self.next)
            .field("last", &self.last)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl ReadTransfer {
    /// Start serving `req` from `content`. A refused request gives a transfer whose only
    /// datagram is the ERROR and whose outcome is [`Outcome::Refused`].
    pub fn new(
        req: &Request<'_>,
        content: Box<dyn Content>,
        cfg: &TransferConfig,
        now: Instant,
    ) -> Self {
        let mut t = ReadTransfer {
            content,
            neg: Negotiated {
                blksize: DEFAULT_BLKSIZE,
                windowsize: 1,
                timeout: cfg.timeout,
                oack: Vec::new(),
            },
            phase: Phase::Data,
            ahead: ReadAhead::default(),
            head: [0; 4],
            acked: 0,
            next: 1,
            high: 0,
            last: None,
            bytes_at_last: 0,
            deadline: None,
            now,
            retries_left: cfg.retries,
            max_retries: cfg.retries,
            control: Vec::new(),
            stats: TransferStats::default(),
        };
        if let Err(r) = t.prepare(req, cfg) {
            let packet = super::packet::error_packet(r.code, &r.message);
            t.phase = Phase::Error(packet, Outcome::Refused(r));
        }
        t
    }

    fn prepare(&mut self, req: &Request<'_>, cfg: &TransferConfig) -> Result<(), Refusal> {
        check_mode(req)?;
        if req.mode.eq_ignore_ascii_case("netascii") {
            let size = self.content.size().unwrap_or(u64::MAX);
            if size > cfg.max_netascii_bytes {
                return Err(refuse(ErrorCode::NotDefined, "file too large for netascii"));
            }
            let mut raw = vec![0u8; usize::try_from(size).unwrap_or(0)];
            let n = self
                .content
                .read_at(0, &mut raw)
                .map_err(|_| refuse(ErrorCode::NotDefined, "read error"))?;
            raw.truncate(n);
            self.content = Box::new(MemoryContent::new(netascii_encode(&raw)));
        } else if !req.mode.eq_ignore_ascii_case("octet") {
            return Err(refuse(ErrorCode::IllegalOperation, "unsupported mode"));
        }
        self.neg = negotiate(req, self.content.size(), cfg)?;
        if !self.neg.oack.is_empty() {
            let options = self
                .neg
                .oack
                .iter()
                .map(|(n, v)| TftpOption { name: n, value: v })
                .collect();
            self.control = Packet::Oack { options }.to_vec();
            self.phase = Phase::Oack { pending: true };
        }
        Ok(())
    }

    /// What was negotiated.
    pub fn negotiated(&self) -> &Negotiated {
        &self.neg
    }

    /// Counters.
    pub fn stats(&self) -> TransferStats {
        self.stats
    }

    /// How the transfer ended, once it has.
    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.phase {
            Phase::Done(o) => Some(o),
            _ => None,
        }
    }

    /// Whether nothing more will be sent or received.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done(_))
    }

    /// When [`ReadTransfer::handle_timeout`] should be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Oack { .. } | Phase::Data => self.deadline,
            _ => None,
        }
    }

    fn arm(&mut self) {
        if self.deadline.is_none() {
            self.deadline = Some(self.now + self.neg.timeout);
        }
    }

    fn finish(&mut self, o: Outcome) {
        self.phase = Phase::Done(o);
        self.deadline = None;
    }

    /// Write the next datagram to send into `out` (cleared first); `false` when there is none
    /// until something is received or the timer fires. A copying form of
    /// [`ReadTransfer::poll_datagram`].
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool {
        out.clear();
        match self.poll_datagram() {
            Some(d) => {
                d.write_to(out);
                true
            }
            None => false,
        }
    }

    /// The next datagram to send, borrowed from the transfer (no copy of the payload);
    /// `None` when there is none until something is received or the timer fires.
    ///
    /// ```
    /// use std::time::Instant;
    /// use pxe::tftp::packet::Packet;
    /// use pxe::tftp::source::MemoryContent;
    /// use pxe::tftp::transfer::{ReadTransfer, TransferConfig};
    /// let Ok(Packet::Rrq(req)) = Packet::parse(b"\x00\x01f\x00octet\x00") else { unreachable!() };
    /// let now = Instant::now();
    /// let mut t = ReadTransfer::new(&req, Box::new(MemoryContent::new(vec![9u8; 700])),
    ///                               &TransferConfig::default(), now);
    /// let d = t.poll_datagram().unwrap();            // DATA 1: header, then 512 bytes
    /// assert_eq!((d.head, d.body.len()), (&[0u8, 3, 0, 1][..], 512));
    /// assert!(t.poll_datagram().is_none());          // lock-step: wait for ACK 1
    /// t.prefetch();                                  // (block 2 is already read ahead)
    /// t.handle_datagram(now, &[0, 4, 0, 1]);
    /// assert_eq!(t.poll_datagram().unwrap().body.len(), 188);
    /// ```
    pub fn poll_datagram(&mut self) -> Option<Datagram<'_>> {
        match &mut self.phase {
            Phase::Done(_) => None,
            Phase::Error(packet, outcome) => {
                self.control = std::mem::take(packet);
                let o = outcome.clone();
                self.stats.sent += 1;
                self.finish(o);
                Some(Datagram {
                    head: &self.control,
                    body: &[],
                })
            }
            Phase::Oack { pending } => {
                if !*pending {
                    return None;
                }
                *pending = false;
                self.stats.sent += 1;
                self.arm();
                Some(Datagram {
                    head: &self.control,
                    body: &[],
                })
            }
            Phase::Data => {
                let window_end = self.acked + u64::from(self.neg.windowsize);
                if self.next > window_end || self.last.is_some_and(|l| self.next > l) {
                    return None;
                }
                let block = self.next;
                if self.fill(block).is_err() {
                    self.control = super::packet::error_packet(ErrorCode::NotDefined, "read error");
                    self.stats.sent += 1;
                    self.finish(Outcome::ReadFailed);
                    return Some(Datagram {
                        head: &self.control,
                        body: &[],
                    });
                }
                if block <= self.high {
                    self.stats.retransmits += 1;
                }
                self.high = self.high.max(block);
                self.next += 1;
                self.stats.sent += 1;
                self.arm();
                self.head[..2].copy_from_slice(&OP_DATA.to_be_bytes());
                self.head[2..].copy_from_slice(&((block & 0xffff) as u16).to_be_bytes());
                let bs = usize::from(self.neg.blksize);
                let at = usize::try_from(block - self.ahead.first).unwrap_or(0) * bs;
                let end = (at + bs).min(self.ahead.valid);
                Some(Datagram {
                    head: &self.head,
                    body: self.ahead.buf.get(at..end).unwrap_or(&[]),
                })
            }
        }
    }

    /// Read ahead: load the blocks that will be sent after the next acknowledgement (the
    /// next window, or as much of it as 1 MiB holds) if they are not loaded yet, so that no
    /// read sits between an ACK and the DATA it releases. Call it after sending, before
    /// waiting for the client; it does nothing when the blocks are already loaded.
    pub fn prefetch(&mut self) {
        let from = match self.phase {
            Phase::Oack { .. } => 1,
            Phase::Data => self.next,
            _ => return,
        };
        let mut to = from + u64::from(self.neg.windowsize).min(self.chunk_blocks()) - 1;
        if let Some(l) = self.last {
            if from > l {
                return;
            }
            to = to.min(l);
        }
        if !self.held(from) || !self.held(to) {
            // A read error shows again (and is reported) when the block is polled.
            let _ = self.load(from);
        }
    }

    /// Blocks per read-ahead chunk: a window, within 64 KiB and 1 MiB.
    fn chunk_blocks(&self) -> u64 {
        let bs = usize::from(self.neg.blksize);
        let blocks = usize::from(self.neg.windowsize)
            .max(MIN_CHUNK_BYTES / bs)
            .min(MAX_CHUNK_BYTES / bs)
            .max(1);
        blocks as u64
    }

    /// Whether `block` is in the read-ahead buffer.
    fn held(&self, block: u64) -> bool {
        let a = &self.ahead;
        if a.first == 0 || block < a.first || block >= a.first + a.blocks {
            return false;
        }
        // Held when the buffer is full, or it is at most the (short) block where the
        // content ended.
        let at = block - a.first;
        a.valid == a.buf.len() || at <= (a.valid / usize::from(self.neg.blksize)) as u64
    }

    /// Make sure `block` is in the read-ahead buffer.
    fn fill(&mut self, block: u64) -> std::io::Result<()> {
        if self.held(block) {
            Ok(())
        } else {
            self.load(block)
        }
    }

    /// Read a chunk of whole blocks from `block` on into the read-ahead buffer (one
    /// positioned read); learn where the content ends when the read comes up short.
    fn load(&mut self, block: u64) -> std::io::Result<()> {
        let blocks = self.chunk_blocks();
        let a = &mut self.ahead;
        let bs = usize::from(self.neg.blksize);
        if a.buf.is_empty() {
            a.blocks = blocks;
            a.buf = vec![0; usize::try_from(blocks).unwrap_or(1) * bs];
        }
        let offset = (block - 1) * bs as u64;
        a.first = 0;
        let n = self.content.read_at(offset, &mut a.buf)?;
        a.first = block;
        a.valid = n;
        if n < a.buf.len() {
            self.last = Some(block + (n / bs) as u64);
            self.bytes_at_last = offset + n as u64;
        }
        Ok(())
    }

    /// Take a datagram from the client (already known to come from its address and port).
    pub fn handle_datagram(&mut self, now: Instant, data: &[u8]) {
        self.now = now;
        let Ok(p) = Packet::parse(data) else {
            self.stats.ignored += 1;
            return;
        };
        match p {
            Packet::Error { code, message } => {
                if matches!(self.phase, Phase::Done(_) | Phase::Error(..)) {
                    return;
                }
                let probe = code == ErrorCode::OptionRefused
                    && (matches!(self.phase, Phase::Oack { .. })
                        || (self.acked == 0 && self.high == 0));
                self.finish(if probe {
                    Outcome::SizeProbe
                } else {
                    Outcome::ClientError {
                        code,
                        message: message.into_owned(),
                    }
                });
            }
            Packet::Ack { block } => self.on_ack(block),
            _ => self.stats.ignored += 1,
        }
    }

    fn on_ack(&mut self, block: u16) {
        match self.phase {
            Phase::Oack { pending: false } if block == 0 => {
                self.phase = Phase::Data;
                self.retries_left = self.max_retries;
                self.deadline = None;
            }
            Phase::Data => {
                // The ACK names a block in (acked, high] modulo 65536; anything else is a
                // duplicate or stale (ignored: no Sorcerer's Apprentice retransmission).
                let delta = u64::from(block.wrapping_sub((self.acked & 0xffff) as u16));
                if delta == 0 || delta > self.high - self.acked {
                    self.stats.ignored += 1;
                    return;
                }
                self.acked += delta;
                self.retries_left = self.max_retries;
                self.deadline = None;
                if self.last == Some(self.acked) {
                    self.finish(Outcome::Complete {
                        bytes: self.bytes_at_last,
                        blocks: self.acked,
                    });
                    return;
                }
                // A partial ACK reports a gap: go back to the first block not received.
                self.next = self.acked + 1;
            }
            _ => self.stats.ignored += 1,
        }
    }

    /// The timer fired: resend the unacknowledged window (or OACK), or give up.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        match self.deadline {
            Some(d) if d <= now => {}
            _ => return,
        }
        self.deadline = None;
        self.stats.timeouts += 1;
        if self.retries_left == 0 {
            self.finish(Outcome::TimedOut);
            return;
        }
        self.retries_left -= 1;
        match &mut self.phase {
            Phase::Oack { pending } => {
                *pending = true;
                self.stats.retransmits += 1;
            }
            Phase::Data => self.next = self.acked + 1,
            _ => {}
        }
    }

    /// Whether a datagram is an OACK (for tests and logs).
    pub fn is_oack(datagram: &[u8]) -> bool {
        datagram.get(..2) == Some(&OP_OACK.to_be_bytes()[..])
    }
}
