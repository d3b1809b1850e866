//! Flood fairness: a per-client token bucket (sans-IO: it takes `now`).
//!
//! Every datagram is checked against its sender's bucket (by the `chaddr` MAC, read straight
//! from the header before any parsing) and dropped when the bucket is empty, so a client that
//! floods the server costs one hash lookup per datagram and gets no replies beyond its
//! rate, while every other client keeps its own full bucket. Well-behaved firmware sends a
//! handful of datagrams per boot (DISCOVER, REQUEST, the same again as iPXE, a few
//! retransmissions), far below the default burst.
//!
//! A host that changes its `chaddr` on every datagram (a DHCP starvation attack) is a new
//! client each time, and a UDP server cannot see the Ethernet source that would unmask it.
//! Against that, [`FloodGuard::with_new_clients`] adds one shared bucket for clients seen for
//! the first time, while clients the server already knows (a reservation or a lease: the
//! caller says so through [`FloodGuard::admit`], asked only for untracked clients) and clients already tracked are never held
//! back by it. It is off by default, because a legitimate boot storm (or `perfdhcp`) is
//! also a stream of new MACs; a provisioning network that reserves its nodes' addresses
//! can turn it on and keep booting them through such a flood.
//!
//! ```
//! use std::time::Instant;
//! use pxe::dhcp::guard::FloodGuard;
//! let mut g = FloodGuard::new(16, 4).with_new_clients(100, 10);
//! let now = Instant::now();
//! let spoofed = (0..10_000u32).filter(|i| {
//!     let b = i.to_be_bytes();
//!     g.admit([2, 0, b[0], b[1], b[2], b[3]], now, || false)
//! });
//! assert_eq!(spoofed.count(), 100);                   // the new-client burst, no more
//! assert!(g.admit([2, 9, 9, 9, 9, 9], now, || true));      // a reserved node still gets in
//! ```
//!
//! ```
//! use std::time::{Duration, Instant};
//! use pxe::dhcp::guard::FloodGuard;
//! let mut g = FloodGuard::new(3, 1);
//! let now = Instant::now();
//! let (flooder, other) = ([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]);
//! assert_eq!((0..10).filter(|_| g.allow(flooder, now)).count(), 3);   // the burst, then no more
//! assert!(g.allow(other, now));                                         // others are not affected
//! assert!(g.allow(flooder, now + Duration::from_secs(1)));             // one more per second
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::policy::Mac;

/// Per-client rate limit: `burst` datagrams at once, then `per_second`.
#[derive(Debug, Clone)]
pub struct FloodGuard {
    burst: f64,
    per_second: f64,
    max_clients: usize,
    buckets: HashMap<Mac, Bucket>,
    last_sweep: Option<Instant>,
    /// The shared bucket of first-seen clients: (burst, per second, bucket).
    new_clients: Option<(f64, f64, Option<Bucket>)>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Refill at `rate` per second up to `burst`, then take a token if there is one.
    fn take(&mut self, now: Instant, burst: f64, rate: f64) -> bool {
        let dt = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + dt * rate).min(burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Default for FloodGuard {
    /// 16 datagrams at once, then 4 per second, per client.
    fn default() -> Self {
        FloodGuard::new(16, 4)
    }
}

impl FloodGuard {
    /// `burst` datagrams at once per client, refilled at `per_second` (both at least 1).
    pub fn new(burst: u32, per_second: u32) -> Self {
        FloodGuard {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_second.max(1)),
            max_clients: 1 << 16,
            buckets: HashMap::new(),
            last_sweep: None,
            new_clients: None,
        }
    }

    /// Also hold clients seen for the first time, all together, to `burst` at once and
    /// `per_second` after that (both at least 1; off by default): see the module docs.
    /// Clients the caller says are known, and clients already tracked, are not counted.
    pub fn with_new_clients(mut self, burst: u32, per_second: u32) -> Self {
        self.new_clients = Some((f64::from(burst.max(1)), f64::from(per_second.max(1)), None));
        self
    }

    /// Track at most this many clients (default 65,536). Beyond it, buckets that have
    /// refilled are forgotten (at most once a second); clients that cannot be tracked are
    /// let through, since a flood of ever-new MACs is no single client.
    pub fn with_max_clients(mut self, n: usize) -> Self {
        self.max_clients = n.max(1);
        self
    }

    /// Whether a datagram from `mac` at `now` is within its rate (and take a token if so);
    /// a client not tracked yet counts as new (see [`admit`](Self::admit)).
    pub fn allow(&mut self, mac: Mac, now: Instant) -> bool {
        self.admit(mac, now, || false)
    }

    /// As [`allow`](Self::allow), where `known` says whether the server already knows `mac`
    /// (a reservation or a lease): a known client is not held back by the new-client limit.
    /// `known` is asked only when it matters: for a client not tracked yet, with that limit
    /// on.
    pub fn admit(&mut self, mac: Mac, now: Instant, known: impl FnOnce() -> bool) -> bool {
        if let Some(b) = self.buckets.get_mut(&mac) {
            return b.take(now, self.burst, self.per_second);
        }
        if let Some((burst, rate, bucket)) = self.new_clients.as_mut()
            && !known()
        {
            let b = bucket.get_or_insert(Bucket {
                tokens: *burst,
                at: now,
            });
            if !b.take(now, *burst, *rate) {
                return false;
            }
        }
        if self.buckets.len() >= self.max_clients {
            self.sweep(now);
            if self.buckets.len() >= self.max_clients {
                return true;
            }
        }
        self.buckets.insert(
            mac,
            Bucket {
                tokens: self.burst - 1.0,
                at: now,
            },
        );
        true
    }

    /// Clients tracked now.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }

    fn sweep(&mut self, now: Instant) {
        if self
            .last_sweep
            .is_some_and(|t| now.saturating_duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        self.last_sweep = Some(now);
        let (burst, rate) = (self.burst, self.per_second);
        self.buckets.retain(|_, b| {
            b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < burst
        });
    }
}

/// The client MAC (`chaddr`) of a BOOTREQUEST with an Ethernet address, straight from the
/// header bytes; `None` for anything else (left to the full parser to refuse).
pub fn chaddr(datagram: &[u8]) -> Option<Mac> {
    if datagram.first() != Some(&1) || datagram.get(1) != Some(&1) || datagram.get(2) != Some(&6) {
        return None;
    }
    datagram.get(28..34)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refills_at_the_rate_and_caps_at_the_burst() {
        let mut g = FloodGuard::new(4, 2);
        let t0 = Instant::now();
        let m = [1; 6];
        assert_eq!((0..10).filter(|_| g.allow(m, t0)).count(), 4);
        // Half a second: one token.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!((0..10).filter(|_| g.allow(m, t1)).count(), 1);
        // An hour idle: back to the burst, not more.
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!((0..10).filter(|_| g.allow(m, t2)).count(), 4);
    }

    #[test]
    fn untracked_clients_pass_and_refilled_buckets_are_forgotten() {
        let mut g = FloodGuard::new(2, 1).with_max_clients(2);
        let t0 = Instant::now();
        assert!(g.allow([1; 6], t0));
        assert!(g.allow([2; 6], t0));
        assert!(g.allow([3; 6], t0)); // beyond the table: let through, not tracked
        assert_eq!(g.tracked(), 2);
        let later = t0 + Duration::from_secs(10);
        assert!(g.allow([3; 6], later)); // the refilled buckets were swept
        assert!(g.tracked() <= 2);
    }

    fn mac(i: u32) -> Mac {
        let b = i.to_be_bytes();
        [2, 0, b[0], b[1], b[2], b[3]]
    }

    #[test]
    fn spoofed_macs_are_held_to_the_new_client_rate_known_ones_are_not() {
        let mut g = FloodGuard::new(16, 4).with_new_clients(10, 5);
        let t0 = Instant::now();
        // A client seen before the flood: tracked, it took one of the 10 new-client tokens.
        assert!(g.allow([7; 6], t0));
        // 100,000 spoofed MACs in one instant: the rest of the burst only.
        assert_eq!((0..100_000).filter(|i| g.allow(mac(*i), t0)).count(), 9);
        // The tracked client and a known (reserved) one are not held back.
        assert!(g.allow([7; 6], t0));
        assert!(g.admit([8; 6], t0, || true));
        // Another known one, and it is tracked from then on under its own bucket.
        assert!(g.admit([9; 6], t0, || true));
        assert!(g.allow([9; 6], t0));
        // One second later: 5 more new clients.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            (100_000..200_000).filter(|i| g.allow(mac(*i), t1)).count(),
            5
        );
        // Without the limit, every new MAC passes (the default).
        let mut open = FloodGuard::new(16, 4);
        assert_eq!((0..1000).filter(|i| open.allow(mac(*i), t0)).count(), 1000);
    }

    #[test]
    fn chaddr_reads_ethernet_requests_only() {
        let mut d = vec![0u8; 240];
        d[..3].copy_from_slice(&[1, 1, 6]);
        d[28..34].copy_from_slice(&[9, 8, 7, 6, 5, 4]);
        assert_eq!(chaddr(&d), Some([9, 8, 7, 6, 5, 4]));
        assert_eq!(chaddr(&d[..33]), None);
        d[0] = 2;
        assert_eq!(chaddr(&d), None);
    }

    proptest! {
        /// Over any sequence of arrivals, one client gets at most burst + rate x elapsed
        /// datagrams through, and a client sending within its rate is never refused.
        #[test]
        fn never_more_than_the_rate(gaps in proptest::collection::vec(0u64..400, 1..300)) {
            let mut g = FloodGuard::new(5, 10);
            let t0 = Instant::now();
            let mut t = t0;
            let mut passed = 0u32;
            let mut next = t0;
            for gap in &gaps {
                t += Duration::from_millis(*gap);
                // A second client sending every 100 ms (its exact rate) always passes.
                while next <= t {
                    prop_assert!(g.allow([8; 6], next));
                    next += Duration::from_millis(100);
                }
                if g.allow([7; 6], t) {
                    passed += 1;
                }
            }
            let elapsed = t.duration_since(t0).as_secs_f64();
            prop_assert!(f64::from(passed) <= 5.0 + 10.0 * elapsed + 1e-6);
        }

        /// With the new-client limit, ever-new MACs get at most its burst + rate x elapsed
        /// through, whatever their timing, and a known client always passes its first time.
        #[test]
        fn new_clients_never_more_than_their_rate(gaps in proptest::collection::vec(0u64..50, 1..2000)) {
            let mut g = FloodGuard::new(5, 10).with_new_clients(20, 50);
            let t0 = Instant::now();
            let mut t = t0;
            let mut passed = 0u32;
            for (i, gap) in gaps.iter().enumerate() {
                t += Duration::from_millis(*gap);
                if g.allow(mac(i as u32), t) {
                    passed += 1;
                }
                if i % 100 == 0 {
                    prop_assert!(g.admit([1, 1, 1, 1, (i >> 8) as u8, i as u8], t, || true));
                }
            }
            let elapsed = t.duration_since(t0).as_secs_f64();
            prop_assert!(f64::from(passed) <= 20.0 + 50.0 * elapsed + 1e-6);
        }
    }
}
