//! Where leases outlive the process: the [`LeaseStore`] trait, an in-memory default
//! ([`MemoryStore`]) and a durable append-only file ([`FileStore`]).
//!
//! The file store appends one short checksummed line per ACK or RELEASE (never rewriting
//! the file per ACK, as dnsmasq does), compacts the log into the live set once it has grown
//! to several times that set (write a new file, sync, rename), and on open replays the log,
//! dropping a torn or corrupt tail left by a crash (the file is cut back to its last good
//! record before new ones are appended).
//!
//! ```
//! use std::net::Ipv4Addr;
//! use std::time::{Duration, SystemTime};
//! use pxe::dhcp::lease::{FileStore, LeaseRecord, LeaseStore};
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("leases");
//! let expires = SystemTime::now() + Duration::from_secs(3600);
//! {
//!     let mut store = FileStore::open(&path)?;
//!     store.bind(&LeaseRecord { mac: [2, 0, 0, 0, 0, 1], ip: Ipv4Addr::new(10, 0, 0, 5), expires })?;
//! }
//! let mut again = FileStore::open(&path)?;                  // after a restart
//! let leases = again.load()?;
//! assert_eq!(leases.len(), 1);
//! assert_eq!(leases[0].ip, Ipv4Addr::new(10, 0, 0, 5));
//! # Ok::<(), pxe::Error>(())
//! ```

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::policy::Mac;
use crate::error::{Error, Result};

/// One lease: who holds which address until when (wall-clock, so it survives restarts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseRecord {
    /// The client.
    pub mac: Mac,
    /// Its address.
    pub ip: Ipv4Addr,
    /// When the lease ends.
    pub expires: SystemTime,
}

/// Keeps leases across restarts. The DHCP server calls [`bind`](LeaseStore::bind) before it
/// sends each ACK and [`release`](LeaseStore::release) on RELEASE, and
/// [`load`](LeaseStore::load) once at start.
pub trait LeaseStore: Send {
    /// The leases known now (expired ones may be left out).
    fn load(&mut self) -> Result<Vec<LeaseRecord>>;
    /// Record a lease given or renewed.
    fn bind(&mut self, lease: &LeaseRecord) -> Result<()>;
    /// Forget `mac`'s lease.
    fn release(&mut self, mac: Mac) -> Result<()>;
}

/// Leases in memory only (the default): lost on restart.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    leases: HashMap<Mac, LeaseRecord>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

impl LeaseStore for MemoryStore {
    fn load(&mut self) -> Result<Vec<LeaseRecord>> {
        Ok(self.leases.values().copied().collect())
    }

    fn bind(&mut self, lease: &LeaseRecord) -> Result<()> {
        self.leases.insert(lease.mac, *lease);
        Ok(())
    }

    fn release(&mut self, mac: Mac) -> Result<()> {
        self.leases.remove(&mac);
        Ok(())
    }
}

/// When [`FileStore`] forces its appends to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// `fdatasync` after every record, before the ACK goes out (survives power loss).
    Always,
    /// `fdatasync` when the last one is older than this (records are written at once, so
    /// they survive a crash of the process; a power loss may lose the last interval).
    Interval(Duration),
    /// Never sync (the OS writes back; survives a crash of the process only).
    Never,
}

/// An append-only lease log with occasional compaction (see the [module docs](self)).
#[derive(Debug)]
pub struct FileStore {
    path: PathBuf,
    file: File,
    live: HashMap<Mac, LeaseRecord>,
    records: usize,
    min_compact: usize,
    sync: SyncPolicy,
    last_sync: Instant,
    dropped_tail: u64,
}

const LOG_MAGIC: &str = "pxe-leases v1";

fn io_err(during: &'static str, e: &io::Error) -> Error {
    Error::Io {
        during,
        message: e.kind().to_string(),
    }
}

/// FNV-1a, to tell a torn or damaged line from a good one.
fn checksum(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn fmt_mac(m: &Mac) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn parse_mac(s: &str) -> Option<Mac> {
    let mut m = [0u8; 6];
    let mut it = s.split(':');
    for b in &mut m {
        *b = u8::from_str_radix(it.next()?, 16).ok()?;
    }
    it.next().is_none().then_some(m)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

enum Entry {
    Bind(LeaseRecord),
    Release(Mac),
}

fn encode(e: &Entry) -> String {
    let body = match e {
        Entry::Bind(l) => format!("B {} {} {}", fmt_mac(&l.mac), l.ip, unix(l.expires)),
        Entry::Release(m) => format!("R {}", fmt_mac(m)),
    };
    format!("{body} {:08x}\n", checksum(&body))
}

fn decode(line: &str) -> Option<Entry> {
    let (body, sum) = line.rsplit_once(' ')?;
    if u32::from_str_radix(sum, 16).ok()? != checksum(body) {
        return None;
    }
    let mut f = body.split(' ');
    match f.next()? {
        "B" => {
            let mac = parse_mac(f.next()?)?;
            let ip = f.next()?.parse().ok()?;
            let secs: u64 = f.next()?.parse().ok()?;
            Some(Entry::Bind(LeaseRecord {
                mac,
                ip,
                expires: UNIX_EPOCH + Duration::from_secs(secs),
            }))
        }
        "R" => Some(Entry::Release(parse_mac(f.next()?)?)),
        _ => None,
    }
}

impl FileStore {
    /// Open (or create) the log at `path`, replaying it; a torn or corrupt tail is cut off.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_err("opening the lease file", &e))?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)
            .map_err(|e| io_err("reading the lease file", &e))?;
        let mut live = HashMap::new();
        let mut records = 0;
        let mut good: u64 = 0;
        let mut pos = 0usize;
        let mut first = true;
        while let Some(nl) = text[pos..].iter().position(|&b| b == b'\n') {
            let line = &text[pos..pos + nl];
            let Ok(line) = std::str::from_utf8(line) else {
                break;
            };
            if first {
                first = false;
                if line == LOG_MAGIC {
                    pos += nl + 1;
                    good = pos as u64;
                    continue;
                }
                return Err(Error::Invalid {
                    what: "lease file",
                    reason: "not a pxe lease log",
                });
            }
            match decode(line) {
                Some(Entry::Bind(l)) => {
                    live.insert(l.mac, l);
                }
                Some(Entry::Release(m)) => {
                    live.remove(&m);
                }
                None => break,
            }
            records += 1;
            pos += nl + 1;
            good = pos as u64;
        }
        let dropped_tail = text.len() as u64 - good;
        if dropped_tail > 0 {
            tracing::warn!(
                bytes = dropped_tail,
                "lease file: dropping a torn or corrupt tail"
            );
        }
        file.set_len(good)
            .map_err(|e| io_err("cutting the lease file's tail", &e))?;
        file.seek(SeekFrom::End(0))
            .map_err(|e| io_err("seeking the lease file", &e))?;
        if good == 0 {
            file.write_all(format!("{LOG_MAGIC}\n").as_bytes())
                .map_err(|e| io_err("writing the lease file", &e))?;
            file.sync_data()
                .map_err(|e| io_err("syncing the lease file", &e))?;
        }
        let now = SystemTime::now();
        live.retain(|_, l: &mut LeaseRecord| l.expires > now);
        Ok(FileStore {
            path,
            file,
            live,
            records,
            min_compact: 1024,
            sync: SyncPolicy::Always,
            last_sync: Instant::now(),
            dropped_tail,
        })
    }

    /// When to sync (default [`SyncPolicy::Always`]).
    pub fn with_sync(mut self, sync: SyncPolicy) -> Self {
        self.sync = sync;
        self
    }

    /// Compact only once the log holds at least this many records (default 1024) and four
    /// times the live leases.
    pub fn with_min_compact(mut self, n: usize) -> Self {
        self.min_compact = n.max(1);
        self
    }

    /// How many bytes of torn or corrupt tail were dropped at open.
    pub fn dropped_tail(&self) -> u64 {
        self.dropped_tail
    }

    /// Records in the log now (compaction brings it back to the live count).
    pub fn log_records(&self) -> usize {
        self.records
    }

    fn append(&mut self, e: &Entry) -> Result<()> {
        self.file
            .write_all(encode(e).as_bytes())
            .map_err(|e| io_err("appending to the lease file", &e))?;
        self.records += 1;
        let sync = match self.sync {
            SyncPolicy::Always => true,
            SyncPolicy::Interval(d) => self.last_sync.elapsed() >= d,
            SyncPolicy::Never => false,
        };
        if sync {
            self.file
                .sync_data()
                .map_err(|e| io_err("syncing the lease file", &e))?;
            self.last_sync = Instant::now();
        }
        if self.records >= self.min_compact && self.records >= 4 * self.live.len() {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrite the log as the live leases only (new file, sync, rename over the old one).
    pub fn compact(&mut self) -> Result<()> {
        let now = SystemTime::now();
        self.live.retain(|_, l| l.expires > now);
        let tmp = self.path.with_extension("compact");
        let mut out = String::with_capacity(64 * (self.live.len() + 1));
        out.push_str(LOG_MAGIC);
        out.push('\n');
        for l in self.live.values() {
            out.push_str(&encode(&Entry::Bind(*l)));
        }
        let mut f = File::create(&tmp).map_err(|e| io_err("compacting the lease file", &e))?;
        f.write_all(out.as_bytes())
            .map_err(|e| io_err("compacting the lease file", &e))?;
        f.sync_all()
            .map_err(|e| io_err("syncing the compacted lease file", &e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| io_err("replacing the lease file", &e))?;
        if let Some(dir) = self.path.parent()
            && let Ok(d) = File::open(if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            })
        {
            let _ = d.sync_all();
        }
        let mut file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(|e| io_err("reopening the lease file", &e))?;
        file.seek(SeekFrom::End(0))
            .map_err(|e| io_err("seeking the lease file", &e))?;
        self.file = file;
        self.records = self.live.len();
        tracing::debug!(live = self.live.len(), "lease file compacted");
        Ok(())
    }
}

impl LeaseStore for FileStore {
    fn load(&mut self) -> Result<Vec<LeaseRecord>> {
        Ok(self.live.values().copied().collect())
    }

    fn bind(&mut self, lease: &LeaseRecord) -> Result<()> {
        self.live.insert(lease.mac, *lease);
        self.append(&Entry::Bind(*lease))
    }

    fn release(&mut self, mac: Mac) -> Result<()> {
        if self.live.remove(&mac).is_some() {
            self.append(&Entry::Release(mac))?;
        }
        Ok(())
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        if self.sync != SyncPolicy::Always {
            let _ = self.file.sync_data();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(i: u8, ip: u8, secs: u64) -> LeaseRecord {
        LeaseRecord {
            mac: [2, 0, 0, 0, 0, i],
            ip: Ipv4Addr::new(10, 0, 0, ip),
            expires: SystemTime::now() + Duration::from_secs(secs),
        }
    }

    fn sorted(mut v: Vec<LeaseRecord>) -> Vec<(Mac, Ipv4Addr)> {
        v.sort_by_key(|l| l.mac);
        v.into_iter().map(|l| (l.mac, l.ip)).collect()
    }

    #[test]
    fn appends_and_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("leases");
        {
            let mut s = FileStore::open(&p).unwrap();
            s.bind(&rec(1, 10, 100)).unwrap();
            s.bind(&rec(2, 11, 100)).unwrap();
            let len1 = std::fs::metadata(&p).unwrap().len();
            s.bind(&rec(1, 12, 100)).unwrap(); // renewed elsewhere
            let len2 = std::fs::metadata(&p).unwrap().len();
            // One short line appended, not a rewrite.
            assert!(len2 > len1 && len2 - len1 < 64, "{len1} {len2}");
            s.release([2, 0, 0, 0, 0, 2]).unwrap();
            s.bind(&LeaseRecord {
                expires: SystemTime::now() - Duration::from_secs(1),
                ..rec(3, 13, 0)
            })
            .unwrap();
        }
        let mut s = FileStore::open(&p).unwrap();
        assert_eq!(s.dropped_tail(), 0);
        assert_eq!(
            sorted(s.load().unwrap()),
            vec![([2, 0, 0, 0, 0, 1], Ipv4Addr::new(10, 0, 0, 12))]
        );
    }

    #[test]
    fn torn_tail_is_dropped_then_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("leases");
        {
            let mut s = FileStore::open(&p).unwrap().with_sync(SyncPolicy::Never);
            for i in 1..=5 {
                s.bind(&rec(i, i, 100)).unwrap();
            }
        }
        // A crash in the middle of the last write: cut the file inside the last line.
        let full = std::fs::read(&p).unwrap();
        for cut in [1usize, 7, 20] {
            std::fs::write(&p, &full[..full.len() - cut]).unwrap();
            let mut s = FileStore::open(&p).unwrap();
            assert!(s.dropped_tail() > 0);
            let got = sorted(s.load().unwrap());
            assert_eq!(got.len(), 4, "cut {cut}");
            // New records after recovery are readable (the tail was cut, not appended to).
            s.bind(&rec(9, 99, 100)).unwrap();
            drop(s);
            let mut s = FileStore::open(&p).unwrap();
            assert_eq!(s.dropped_tail(), 0);
            assert_eq!(s.load().unwrap().len(), 5);
            std::fs::write(&p, &full).unwrap();
        }
        // A damaged byte in the middle: everything from there on is dropped.
        let mut bad = full.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x01;
        std::fs::write(&p, &bad).unwrap();
        let mut s = FileStore::open(&p).unwrap();
        assert!(s.load().unwrap().len() < 5);
        // Garbage that is not a lease log is refused, not overwritten.
        std::fs::write(&p, b"something else\n").unwrap();
        assert!(FileStore::open(&p).is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"something else\n");
    }

    #[test]
    fn compacts_occasionally() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("leases");
        let mut s = FileStore::open(&p)
            .unwrap()
            .with_sync(SyncPolicy::Never)
            .with_min_compact(50);
        // Ten clients renewing over and over: the log is compacted, never unbounded.
        for round in 0..40u8 {
            for i in 0..10u8 {
                s.bind(&rec(i, round, 100)).unwrap();
            }
            assert!(s.log_records() <= 60, "{}", s.log_records());
        }
        drop(s);
        let lines = std::fs::read_to_string(&p).unwrap().lines().count();
        assert!(lines <= 61, "{lines}");
        let mut s = FileStore::open(&p).unwrap();
        let got = sorted(s.load().unwrap());
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|(_, ip)| *ip == Ipv4Addr::new(10, 0, 0, 39)));
    }

    #[test]
    fn memory_store() {
        let mut m = MemoryStore::new();
        m.bind(&rec(1, 1, 10)).unwrap();
        m.release([2, 0, 0, 0, 0, 1]).unwrap();
        assert!(m.load().unwrap().is_empty());
    }
}
