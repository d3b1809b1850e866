//! An address pool with static reservations and in-memory leases (sans-IO: it takes `now`).
//!
//! ```
//! use std::net::Ipv4Addr;
//! use std::time::Instant;
//! use pxe::dhcp::pool::Pool;
//! let mut p = Pool::new(Ipv4Addr::new(10, 0, 0, 10), Ipv4Addr::new(10, 0, 0, 11),
//!                       Ipv4Addr::new(255, 255, 255, 0)).unwrap();
//! let now = Instant::now();
//! let a = p.offer([1; 6], None, now).unwrap();
//! assert_eq!(p.request([1; 6], Some(a), now), Some(a));
//! let b = p.offer([2; 6], None, now).unwrap();
//! assert_ne!(a, b);
//! assert_eq!(p.offer([3; 6], None, now), None);          // exhausted
//! ```

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use dhcproto::v4::DhcpOption;

use super::policy::Mac;
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy)]
struct Lease {
    ip: Ipv4Addr,
    expires: Instant,
}

/// Addresses FIRST..=LAST, reservations by MAC, and the leases given.
#[derive(Debug, Clone)]
pub struct Pool {
    first: u32,
    last: u32,
    netmask: Ipv4Addr,
    router: Option<Ipv4Addr>,
    lease_time: Duration,
    offer_time: Duration,
    reservations: HashMap<Mac, Ipv4Addr>,
    /// The same reservations by address, so checking a candidate is one lookup.
    reserved_by: HashMap<Ipv4Addr, Mac>,
    leases: HashMap<Mac, Lease>,
    owners: HashMap<Ipv4Addr, Mac>,
    cursor: u32,
}

impl Pool {
    /// A pool of FIRST..=LAST with this netmask (one hour leases).
    pub fn new(first: Ipv4Addr, last: Ipv4Addr, netmask: Ipv4Addr) -> Result<Self> {
        let (f, l) = (u32::from(first), u32::from(last));
        if f > l {
            return Err(Error::InvalidArgument {
                what: "address pool",
                reason: "first address after last",
            });
        }
        Ok(Pool {
            first: f,
            last: l,
            netmask,
            router: None,
            lease_time: Duration::from_secs(3600),
            offer_time: Duration::from_secs(30),
            reservations: HashMap::new(),
            reserved_by: HashMap::new(),
            leases: HashMap::new(),
            owners: HashMap::new(),
            cursor: f,
        })
    }

    /// With a router (option 3).
    pub fn with_router(mut self, router: Ipv4Addr) -> Self {
        self.router = Some(router);
        self
    }

    /// With a lease time.
    pub fn with_lease_time(mut self, t: Duration) -> Self {
        self.lease_time = t;
        self
    }

    /// With a static reservation (it may lie outside FIRST..=LAST).
    pub fn with_reservation(mut self, mac: Mac, ip: Ipv4Addr) -> Self {
        if let Some(old) = self.reservations.insert(mac, ip) {
            self.reserved_by.remove(&old);
        }
        self.reserved_by.insert(ip, mac);
        self
    }

    fn free(&self, ip: Ipv4Addr, mac: Mac, now: Instant) -> bool {
        if self.reserved_by.get(&ip).is_some_and(|m| *m != mac) {
            return false;
        }
        match self.owners.get(&ip) {
            None => true,
            Some(owner) if *owner == mac => true,
            Some(owner) => self
                .leases
                .get(owner)
                .is_none_or(|l| l.expires <= now || l.ip != ip),
        }
    }

    fn in_range(&self, ip: Ipv4Addr) -> bool {
        (self.first..=self.last).contains(&u32::from(ip))
    }

    fn hold(&mut self, mac: Mac, ip: Ipv4Addr, until: Instant) {
        if let Some(old) = self.leases.insert(mac, Lease { ip, expires: until })
            && old.ip != ip
        {
            self.owners.remove(&old.ip);
        }
        // Taking over an expired lease: its old holder loses it.
        if let Some(prev) = self.owners.insert(ip, mac)
            && prev != mac
        {
            self.leases.remove(&prev);
        }
    }

    /// Whether `mac` has a reservation here, or holds (or held) a lease or an offer that is
    /// still on record: a client this pool knows.
    pub fn knows(&self, mac: Mac) -> bool {
        self.reservations.contains_key(&mac) || self.leases.contains_key(&mac)
    }

    /// The address to offer `mac` (its reservation, its lease, the one it asks for if free,
    /// else the next free one), held briefly. `None`: the pool is exhausted.
    pub fn offer(
        &mut self,
        mac: Mac,
        requested: Option<Ipv4Addr>,
        now: Instant,
    ) -> Option<Ipv4Addr> {
        let ip = self.choose(mac, requested, now)?;
        // Move the search past this address now, not only on REQUEST: otherwise every
        // DISCOVER re-scans all the offers still waiting for a REQUEST.
        if self.in_range(ip) && !self.reservations.contains_key(&mac) {
            self.advance_past(ip);
        }
        let until = self
            .leases
            .get(&mac)
            .filter(|l| l.ip == ip && l.expires > now + self.offer_time)
            .map_or(now + self.offer_time, |l| l.expires);
        self.hold(mac, ip, until);
        Some(ip)
    }

    fn choose(&self, mac: Mac, requested: Option<Ipv4Addr>, now: Instant) -> Option<Ipv4Addr> {
        if let Some(ip) = self.reservations.get(&mac) {
            return Some(*ip);
        }
        if let Some(l) = self.leases.get(&mac) {
            return Some(l.ip);
        }
        if let Some(ip) = requested.filter(|ip| self.in_range(*ip) && self.free(*ip, mac, now)) {
            return Some(ip);
        }
        let size = u64::from(self.last - self.first) + 1;
        let mut ip = self.cursor;
        for _ in 0..size {
            let cand = Ipv4Addr::from(ip);
            if self.free(cand, mac, now) {
                return Some(cand);
            }
            ip = if ip >= self.last { self.first } else { ip + 1 };
        }
        None
    }

    /// Confirm a REQUEST for `requested`: the leased address, or `None` (answer NAK).
    pub fn request(
        &mut self,
        mac: Mac,
        requested: Option<Ipv4Addr>,
        now: Instant,
    ) -> Option<Ipv4Addr> {
        let ip = match (self.reservations.get(&mac), requested) {
            (Some(r), Some(q)) if *r != q => return None,
            (Some(r), _) => *r,
            (None, Some(q)) => q,
            (None, None) => self.leases.get(&mac)?.ip,
        };
        if !self.reservations.contains_key(&mac) && (!self.in_range(ip) || !self.free(ip, mac, now))
        {
            return None;
        }
        self.hold(mac, ip, now + self.lease_time);
        if self.in_range(ip) {
            self.advance_past(ip);
        }
        Some(ip)
    }

    fn advance_past(&mut self, ip: Ipv4Addr) {
        let next = u32::from(ip).saturating_add(1);
        self.cursor = if next > self.last { self.first } else { next };
    }

    /// The lease time given on each ACK.
    pub fn lease_time(&self) -> Duration {
        self.lease_time
    }

    /// Put back a lease kept by a [`LeaseStore`](super::lease::LeaseStore) (at start-up):
    /// `mac` holds `ip` for `remaining` more. Leases outside the pool that are not `mac`'s
    /// reservation, and expired ones, are ignored (returns whether it was taken).
    pub fn restore(&mut self, mac: Mac, ip: Ipv4Addr, remaining: Duration, now: Instant) -> bool {
        let reserved = self.reservations.get(&mac) == Some(&ip);
        if remaining.is_zero() || !(self.in_range(ip) || reserved) || !self.free(ip, mac, now) {
            return false;
        }
        self.hold(mac, ip, now + remaining);
        true
    }

    /// Forget `mac`'s lease (RELEASE).
    pub fn release(&mut self, mac: Mac) {
        if let Some(l) = self.leases.remove(&mac) {
            self.owners.remove(&l.ip);
        }
    }

    /// Forget `mac`'s lease only if it is still on `ip` (a lease that could not be
    /// recorded is taken back without undoing a newer one).
    pub fn release_if(&mut self, mac: Mac, ip: Ipv4Addr) {
        if self.leases.get(&mac).is_some_and(|l| l.ip == ip) {
            self.release(mac);
        }
    }

    /// The lease options: mask (1), router (3), lease time (51).
    pub fn options(&self) -> Vec<DhcpOption> {
        let mut v = vec![
            DhcpOption::SubnetMask(self.netmask),
            DhcpOption::AddressLeaseTime(
                u32::try_from(self.lease_time.as_secs()).unwrap_or(u32::MAX),
            ),
        ];
        if let Some(r) = self.router {
            v.push(DhcpOption::Router(vec![r]));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_leases_expiry() {
        let now = Instant::now();
        let mask = Ipv4Addr::new(255, 255, 255, 0);
        let mut p = Pool::new(
            Ipv4Addr::new(10, 0, 0, 10),
            Ipv4Addr::new(10, 0, 0, 10),
            mask,
        )
        .unwrap()
        .with_reservation([9; 6], Ipv4Addr::new(10, 0, 0, 99))
        .with_lease_time(Duration::from_secs(10));
        assert_eq!(
            p.offer([9; 6], None, now),
            Some(Ipv4Addr::new(10, 0, 0, 99))
        );
        assert_eq!(
            p.request([9; 6], Some(Ipv4Addr::new(10, 0, 0, 5)), now),
            None
        );
        let a = p.offer([1; 6], None, now).unwrap();
        assert_eq!(p.request([1; 6], Some(a), now), Some(a));
        assert_eq!(p.offer([2; 6], None, now), None);
        assert_eq!(p.request([2; 6], Some(a), now), None);
        // After expiry another client may have it.
        let later = now + Duration::from_secs(11);
        assert_eq!(p.offer([2; 6], None, later), Some(a));
        p.release([2; 6]);
        assert_eq!(p.offer([3; 6], None, later), Some(a));
    }
}
