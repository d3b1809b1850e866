//! The Serial-over-LAN character channel (IPMI v2.0 section 15): sequence numbers 1..=15,
//! one packet outstanding per direction, acknowledgements with accepted-character counts,
//! retransmission, duplicate suppression. Sans-IO and symmetric: the client session and the
//! BMC responder each run one per active SOL payload.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ipmi_proto::sol::SolChannel;
//! let now = Instant::now();
//! let (mut console, mut bmc) = (SolChannel::new(200, Duration::from_millis(500), 7), SolChannel::new(200, Duration::from_millis(500), 7));
//! console.write(b"ls\r");
//! let p = console.poll_packet(now).unwrap();
//! let got = bmc.receive(now, &p);
//! assert_eq!(got.data.as_deref(), Some(&b"ls\r"[..]));
//! let ack = bmc.poll_packet(now).unwrap();
//! console.receive(now, &ack);
//! assert!(console.poll_packet(now).is_none()); // acknowledged: nothing more to send
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::cmd::sol::{SolPacket, next_sequence};

#[derive(Debug, Clone)]
struct Outstanding {
    seq: u8,
    data: Vec<u8>,
    retry_at: Instant,
    attempts: u32,
}

/// What a received SOL packet brought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Received {
    /// New characters (duplicates of the last packet are not delivered again).
    pub data: Option<Vec<u8>>,
    /// The peer says SOL is being deactivated.
    pub deactivating: bool,
}

/// One direction pair of SOL characters. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct SolChannel {
    max_chunk: usize,
    retry: Duration,
    max_retries: u32,
    next_seq: u8,
    outstanding: Option<Outstanding>,
    pending: VecDeque<u8>,
    last_in: u8,
    ack_due: Option<(u8, u8)>,
    failed: bool,
    pending_limit: usize,
}

impl SolChannel {
    /// A channel sending at most `max_chunk` characters a packet, retransmitting after
    /// `retry`, at most `max_retries` times.
    pub fn new(max_chunk: usize, retry: Duration, max_retries: u32) -> Self {
        SolChannel {
            max_chunk: max_chunk.clamp(1, 255),
            retry,
            max_retries,
            next_seq: 1,
            outstanding: None,
            pending: VecDeque::new(),
            last_in: 0,
            ack_due: None,
            failed: false,
            pending_limit: 1 << 20,
        }
    }

    /// Queue characters to send. At most 1 MiB waits; beyond that, the oldest are dropped
    /// (as a real UART overruns) and the number dropped is returned.
    pub fn write(&mut self, data: &[u8]) -> usize {
        self.pending.extend(data);
        let over = self.pending.len().saturating_sub(self.pending_limit);
        self.pending.drain(..over);
        over
    }

    /// Characters queued or in flight.
    pub fn unsent(&self) -> usize {
        self.pending.len() + self.outstanding.as_ref().map_or(0, |o| o.data.len())
    }

    /// Whether the peer stopped acknowledging (retries exhausted).
    pub fn is_failed(&self) -> bool {
        self.failed
    }

    /// Take a received packet: acknowledgements of our outstanding packet, and new data (an
    /// acknowledgement for it is then due from [`SolChannel::poll_packet`]).
    pub fn receive(&mut self, now: Instant, p: &SolPacket) -> Received {
        let mut r = Received {
            deactivating: p.status().deactivating,
            data: None,
        };
        if p.ack_sequence != 0 {
            if let Some(o) = &self.outstanding {
                if o.seq == p.ack_sequence {
                    if p.is_nack() {
                        // Not accepted now: retry soon.
                        let mut o = o.clone();
                        o.retry_at = now + self.retry / 4;
                        self.outstanding = Some(o);
                    } else if let Some(o) = self.outstanding.take() {
                        let accepted = usize::from(p.accepted_chars).min(o.data.len());
                        // Characters not accepted go out again first.
                        for b in o.data[accepted..].iter().rev() {
                            self.pending.push_front(*b);
                        }
                        self.next_seq = next_sequence(o.seq);
                    }
                }
            }
        }
        if p.sequence != 0 {
            self.ack_due = Some((p.sequence, u8::try_from(p.data.len()).unwrap_or(u8::MAX)));
            if p.sequence != self.last_in {
                self.last_in = p.sequence;
                if !p.data.is_empty() {
                    r.data = Some(p.data.clone());
                }
            }
        }
        r
    }

    /// The next packet to send now: a due retransmission, new characters (carrying any due
    /// acknowledgement), or a bare acknowledgement.
    pub fn poll_packet(&mut self, now: Instant) -> Option<SolPacket> {
        if let Some(o) = &mut self.outstanding {
            if now >= o.retry_at {
                if o.attempts >= self.max_retries {
                    self.failed = true;
                    self.outstanding = None;
                    self.pending.clear();
                } else {
                    o.attempts += 1;
                    o.retry_at = now + self.retry;
                    let mut p = SolPacket::data(o.seq, o.data.clone());
                    self.attach_ack(&mut p);
                    return Some(p);
                }
            }
        }
        if self.outstanding.is_none() && !self.pending.is_empty() && !self.failed {
            let n = self.pending.len().min(self.max_chunk);
            let data: Vec<u8> = self.pending.drain(..n).collect();
            let seq = self.next_seq;
            self.outstanding = Some(Outstanding {
                seq,
                data: data.clone(),
                retry_at: now + self.retry,
                attempts: 0,
            });
            let mut p = SolPacket::data(seq, data);
            self.attach_ack(&mut p);
            return Some(p);
        }
        let (seq, n) = self.ack_due.take()?;
        Some(SolPacket::ack(seq, n))
    }

    fn attach_ack(&mut self, p: &mut SolPacket) {
        if let Some((seq, n)) = self.ack_due.take() {
            p.ack_sequence = seq;
            p.accepted_chars = n;
        }
    }

    /// When [`SolChannel::poll_packet`] has a retransmission due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.outstanding.as_ref().map(|o| o.retry_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (SolChannel, SolChannel) {
        (
            SolChannel::new(16, Duration::from_millis(100), 3),
            SolChannel::new(16, Duration::from_millis(100), 3),
        )
    }

    #[test]
    fn long_text_is_chunked_acknowledged_and_delivered_in_order() {
        let (mut a, mut b) = pair();
        let now = Instant::now();
        let text: Vec<u8> = (0..200u8).collect();
        a.write(&text);
        let mut got = Vec::new();
        for _ in 0..100 {
            let Some(p) = a.poll_packet(now) else { break };
            assert!(p.data.len() <= 16);
            if let Some(d) = b.receive(now, &p).data {
                got.extend(d);
            }
            while let Some(ack) = b.poll_packet(now) {
                a.receive(now, &ack);
            }
        }
        assert_eq!(got, text);
        assert_eq!(a.unsent(), 0);
    }

    #[test]
    fn lost_packets_are_retransmitted_and_duplicates_not_delivered_twice() {
        let (mut a, mut b) = pair();
        let mut now = Instant::now();
        a.write(b"hello");
        let p = a.poll_packet(now).unwrap();
        // Lost. Nothing new until the retry time.
        assert!(a.poll_packet(now).is_none());
        now += Duration::from_millis(100);
        let p2 = a.poll_packet(now).unwrap();
        assert_eq!(p2, p);
        assert_eq!(b.receive(now, &p2).data.as_deref(), Some(&b"hello"[..]));
        // The ack is lost too: the retransmission is acknowledged but not delivered again.
        let _lost_ack = b.poll_packet(now).unwrap();
        now += Duration::from_millis(100);
        let p3 = a.poll_packet(now).unwrap();
        assert_eq!(b.receive(now, &p3).data, None);
        let ack = b.poll_packet(now).unwrap();
        a.receive(now, &ack);
        assert_eq!(a.unsent(), 0);
    }

    #[test]
    fn partial_accept_resends_the_rest_and_retries_are_bounded() {
        let (mut a, _) = pair();
        let mut now = Instant::now();
        a.write(b"abcdef");
        let p = a.poll_packet(now).unwrap();
        a.receive(now, &SolPacket::ack(p.sequence, 2));
        let p = a.poll_packet(now).unwrap();
        assert_eq!(p.data, b"cdef");
        for _ in 0..3 {
            now += Duration::from_millis(100);
            assert!(a.poll_packet(now).is_some());
        }
        now += Duration::from_millis(100);
        assert!(a.poll_packet(now).is_none());
        assert!(a.is_failed());
    }

    proptest::proptest! {
        #[test]
        fn lossy_link_delivers_everything_once(
            text in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            loss in proptest::collection::vec(proptest::bool::ANY, 64),
        ) {
            let mut a = SolChannel::new(16, Duration::from_millis(100), 1000);
            let mut b = SolChannel::new(16, Duration::from_millis(100), 1000);
            let mut now = Instant::now();
            a.write(&text);
            let mut got = Vec::new();
            let mut k = 0usize;
            for _ in 0..5000 {
                if a.unsent() == 0 { break; }
                now += Duration::from_millis(50);
                while let Some(p) = a.poll_packet(now) {
                    k += 1;
                    if loss[k % loss.len()] { continue; }
                    if let Some(d) = b.receive(now, &p).data { got.extend(d); }
                    while let Some(ack) = b.poll_packet(now) {
                        k += 1;
                        if loss[k % loss.len()] { continue; }
                        a.receive(now, &ack);
                    }
                }
            }
            proptest::prop_assert_eq!(got, text);
        }
    }
}
