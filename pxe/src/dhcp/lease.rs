//! Where leases outlive the process: the [`LeaseStore`] trait, an in-memory default
//! ([`MemoryStore`]), a durable append-only file ([`FileStore`]), and [`GroupCommit`], the
//! writer thread through which the DHCP server makes leases durable without ever blocking its
//! receive loop.
//!
//! The file store appends one short checksummed line per change (never rewriting the file per
//! ACK, as dnsmasq does). [`LeaseStore::commit`] takes a batch: all the leases waiting while
//! the previous batch was syncing are appended in one write and made durable by one
//! `fdatasync` (group commit), and each ACK goes out once its batch is durable. The log is
//! compacted into the live set once it has grown to several times that set (write a new
//! file, sync, rename); the live set is the newest lease per MAC and per address. Compaction
//! is [`LeaseStore::maintain`], which the writer runs after a batch's ACKs have been handed
//! back, so no ACK waits for it. On open the
//! log is replayed, dropping a torn or corrupt tail left by a crash (the file is cut back to
//! its last good record before new ones are appended).
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
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
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

/// One change to the set of leases, as a [`LeaseStore`] records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseChange {
    /// A lease given or renewed (it replaces `mac`'s lease and any other lease of its address).
    Bind(LeaseRecord),
    /// `mac` gave its lease back.
    Release(Mac),
}

/// Keeps leases across restarts. The DHCP server loads them once at start and, while it
/// runs, hands every change to a [`GroupCommit`] writer thread, which calls
/// [`commit`](LeaseStore::commit) with all the changes waiting at that moment; an ACK goes out
/// only once its lease is committed.
pub trait LeaseStore: Send {
    /// The leases known now (expired ones may be left out).
    fn load(&mut self) -> Result<Vec<LeaseRecord>>;
    /// Record a lease given or renewed.
    fn bind(&mut self, lease: &LeaseRecord) -> Result<()>;
    /// Forget `mac`'s lease.
    fn release(&mut self, mac: Mac) -> Result<()>;
    /// Record several changes, in order, durable together when this returns (a group
    /// commit). The default applies them one by one; [`FileStore`] appends them in one
    /// write and syncs once.
    fn commit(&mut self, changes: &[LeaseChange]) -> Result<()> {
        for c in changes {
            match c {
                LeaseChange::Bind(l) => self.bind(l)?,
                LeaseChange::Release(m) => self.release(*m)?,
            }
        }
        Ok(())
    }
    /// Housekeeping that no commit should wait for ([`FileStore`] compacts its log here
    /// when it is due). [`GroupCommit`] calls it after handing each batch's tokens back;
    /// the default does nothing.
    fn maintain(&mut self) -> Result<()> {
        Ok(())
    }
}

impl<S: LeaseStore + ?Sized> LeaseStore for Box<S> {
    fn load(&mut self) -> Result<Vec<LeaseRecord>> {
        (**self).load()
    }
    fn bind(&mut self, lease: &LeaseRecord) -> Result<()> {
        (**self).bind(lease)
    }
    fn release(&mut self, mac: Mac) -> Result<()> {
        (**self).release(mac)
    }
    fn commit(&mut self, changes: &[LeaseChange]) -> Result<()> {
        (**self).commit(changes)
    }
    fn maintain(&mut self) -> Result<()> {
        (**self).maintain()
    }
}

/// The live leases: the newest per MAC and per address.
#[derive(Debug, Clone, Default)]
struct Live {
    by_mac: HashMap<Mac, LeaseRecord>,
    by_ip: HashMap<Ipv4Addr, Mac>,
}

impl Live {
    fn apply(&mut self, c: &LeaseChange) {
        match c {
            LeaseChange::Bind(l) => {
                if let Some(old) = self.by_mac.insert(l.mac, *l)
                    && old.ip != l.ip
                    && self.by_ip.get(&old.ip) == Some(&l.mac)
                {
                    self.by_ip.remove(&old.ip);
                }
                // The address moved to another client: the older holder no longer has it.
                if let Some(prev) = self.by_ip.insert(l.ip, l.mac)
                    && prev != l.mac
                {
                    self.by_mac.remove(&prev);
                }
            }
            LeaseChange::Release(m) => {
                if let Some(old) = self.by_mac.remove(m)
                    && self.by_ip.get(&old.ip) == Some(m)
                {
                    self.by_ip.remove(&old.ip);
                }
            }
        }
    }

    fn expire(&mut self, now: SystemTime) {
        self.by_mac.retain(|_, l| l.expires > now);
        let by_mac = &self.by_mac;
        self.by_ip
            .retain(|ip, m| by_mac.get(m).is_some_and(|l| l.ip == *ip));
    }

    fn len(&self) -> usize {
        self.by_mac.len()
    }

    fn all(&self) -> Vec<LeaseRecord> {
        self.by_mac.values().copied().collect()
    }
}

/// Leases in memory only (the default): lost on restart.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    live: Live,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }
}

impl LeaseStore for MemoryStore {
    fn load(&mut self) -> Result<Vec<LeaseRecord>> {
        Ok(self.live.all())
    }

    fn bind(&mut self, lease: &LeaseRecord) -> Result<()> {
        self.live.apply(&LeaseChange::Bind(*lease));
        Ok(())
    }

    fn release(&mut self, mac: Mac) -> Result<()> {
        self.live.apply(&LeaseChange::Release(mac));
        Ok(())
    }
}

/// When [`FileStore`] forces its appends to stable storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// `fdatasync` after every commit (one per batch under [`GroupCommit`]), before the ACKs
    /// of that batch go out: survives power loss.
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
    /// Bytes of good records in the file: a failed append is cut back to this.
    len: u64,
    live: Live,
    records: usize,
    min_compact: usize,
    sync: SyncPolicy,
    last_sync: Instant,
    dropped_tail: u64,
    buf: String,
    commits: u64,
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

fn parse_mac(s: &str) -> Option<Mac> {
    let mut m = [0u8; 6];
    let mut it = s.split(':');
    for b in &mut m {
        let part = it.next()?;
        if part.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(part, 16).ok()?;
    }
    it.next().is_none().then_some(m)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Append one record line (`B mac ip expiry sum` or `R mac sum`) to `out`.
fn encode_into(out: &mut String, c: &LeaseChange) {
    use std::fmt::Write as _;
    let start = out.len();
    let m = match c {
        LeaseChange::Bind(l) => l.mac,
        LeaseChange::Release(m) => *m,
    };
    let _ = write!(
        out,
        "{} {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        if matches!(c, LeaseChange::Bind(_)) {
            'B'
        } else {
            'R'
        },
        m[0],
        m[1],
        m[2],
        m[3],
        m[4],
        m[5]
    );
    if let LeaseChange::Bind(l) = c {
        let _ = write!(out, " {} {}", l.ip, unix(l.expires));
    }
    let sum = checksum(&out[start..]);
    let _ = writeln!(out, " {sum:08x}");
}

fn decode(line: &str) -> Option<LeaseChange> {
    let (body, sum) = line.rsplit_once(' ')?;
    if sum.len() != 8 || u32::from_str_radix(sum, 16).ok()? != checksum(body) {
        return None;
    }
    let mut f = body.split(' ');
    let c = match f.next()? {
        "B" => {
            let mac = parse_mac(f.next()?)?;
            let ip = f.next()?.parse().ok()?;
            let secs: u64 = f.next()?.parse().ok()?;
            LeaseChange::Bind(LeaseRecord {
                mac,
                ip,
                expires: UNIX_EPOCH.checked_add(Duration::from_secs(secs))?,
            })
        }
        "R" => LeaseChange::Release(parse_mac(f.next()?)?),
        _ => return None,
    };
    f.next().is_none().then_some(c)
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
        let mut live = Live::default();
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
            let Some(c) = decode(line) else {
                break;
            };
            live.apply(&c);
            records += 1;
            pos += nl + 1;
            good = pos as u64;
        }
        if first && !text.is_empty() && !LOG_MAGIC.as_bytes().starts_with(&text) {
            // Not even a torn header: some other file. Refuse it rather than overwrite it.
            return Err(Error::Invalid {
                what: "lease file",
                reason: "not a pxe lease log",
            });
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
            let head = format!("{LOG_MAGIC}\n");
            file.write_all(head.as_bytes())
                .map_err(|e| io_err("writing the lease file", &e))?;
            file.sync_data()
                .map_err(|e| io_err("syncing the lease file", &e))?;
            good = head.len() as u64;
        }
        live.expire(SystemTime::now());
        Ok(FileStore {
            path,
            file,
            len: good,
            live,
            records,
            min_compact: 1024,
            sync: SyncPolicy::Always,
            last_sync: Instant::now(),
            dropped_tail,
            buf: String::new(),
            commits: 0,
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

    /// Commits (appends, each followed by one sync under [`SyncPolicy::Always`]) so far.
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Rewrite the log as the live leases only (new file, sync, rename over the old one).
    pub fn compact(&mut self) -> Result<()> {
        self.live.expire(SystemTime::now());
        let tmp = self.path.with_extension("compact");
        let mut out = String::with_capacity(64 * (self.live.len() + 1));
        out.push_str(LOG_MAGIC);
        out.push('\n');
        for l in self.live.by_mac.values() {
            encode_into(&mut out, &LeaseChange::Bind(*l));
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
        self.len = out.len() as u64;
        self.records = self.live.len();
        tracing::debug!(live = self.live.len(), "lease file compacted");
        Ok(())
    }
}

impl LeaseStore for FileStore {
    fn load(&mut self) -> Result<Vec<LeaseRecord>> {
        Ok(self.live.all())
    }

    /// One change committed, then compaction if it is due (a caller of `bind` has nobody
    /// else waiting on it).
    fn bind(&mut self, lease: &LeaseRecord) -> Result<()> {
        self.commit(&[LeaseChange::Bind(*lease)])?;
        self.maintain_logged();
        Ok(())
    }

    fn release(&mut self, mac: Mac) -> Result<()> {
        if !self.live.by_mac.contains_key(&mac) {
            return Ok(());
        }
        self.commit(&[LeaseChange::Release(mac)])?;
        self.maintain_logged();
        Ok(())
    }

    /// One append of every record and (per the [`SyncPolicy`]) one `fdatasync`.
    fn commit(&mut self, changes: &[LeaseChange]) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        for c in changes {
            encode_into(&mut buf, c);
        }
        let written = self.file.write_all(buf.as_bytes());
        let n = buf.len() as u64;
        self.buf = buf;
        if let Err(e) = written {
            // Cut a partial append back, so that later records stay readable after it.
            let _ = self.file.set_len(self.len);
            let _ = self.file.seek(SeekFrom::End(0));
            return Err(io_err("appending to the lease file", &e));
        }
        self.len += n;
        self.commits += 1;
        for c in changes {
            self.live.apply(c);
        }
        self.records += changes.len();
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
        Ok(())
    }

    /// Compact the log once it holds at least `min_compact` records and four times the
    /// live leases.
    fn maintain(&mut self) -> Result<()> {
        if self.records >= self.min_compact && self.records >= 4 * self.live.len() {
            self.compact()?;
        }
        Ok(())
    }
}

impl FileStore {
    fn maintain_logged(&mut self) {
        if let Err(e) = self.maintain() {
            // The changes themselves are durable; the log only stays longer until the next try.
            tracing::warn!(error = %e, "cannot compact the lease file");
        }
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        if self.sync != SyncPolicy::Always {
            let _ = self.file.sync_data();
        }
    }
}

/// Most changes one commit takes (the rest wait for the next one).
const MAX_BATCH: usize = 4096;

/// A writer thread that owns a [`LeaseStore`] and commits changes in groups: every change
/// queued while the previous commit was syncing goes into the next commit, so a burst of
/// ACKs costs one `fdatasync`, not one each, and whoever queues never waits on the disk.
///
/// Each change carries a token `T` (for the DHCP server: the ACK to send); once its batch is
/// committed, `done` is called on the writer thread with the batch's tokens and the
/// outcome. [`submit`](Self::submit) never blocks: a full queue is refused with
/// [`Error::Busy`].
///
/// ```
/// use std::net::Ipv4Addr;
/// use std::sync::mpsc;
/// use std::time::{Duration, SystemTime};
/// use pxe::dhcp::lease::{FileStore, GroupCommit, LeaseChange, LeaseRecord, LeaseStore};
/// let dir = tempfile::tempdir().unwrap();
/// let (tx, rx) = mpsc::channel();
/// let writer = GroupCommit::spawn(FileStore::open(dir.path().join("leases"))?, 1024,
///     move |tokens: Vec<u32>, result| { let _ = tx.send((tokens, result)); })?;
/// let expires = SystemTime::now() + Duration::from_secs(3600);
/// for i in 0..10u8 {
///     let lease = LeaseRecord { mac: [2, 0, 0, 0, 0, i], ip: Ipv4Addr::new(10, 0, 0, i), expires };
///     writer.submit(LeaseChange::Bind(lease), u32::from(i)).map_err(|(e, _)| e)?;
/// }
/// let mut acked = Vec::new();
/// while acked.len() < 10 {
///     let (tokens, result) = rx.recv().unwrap();
///     result?;                                  // durable: the ACKs may go out now
///     acked.extend(tokens);
/// }
/// assert_eq!(acked, (0..10).collect::<Vec<_>>());
/// writer.close();
/// assert_eq!(FileStore::open(dir.path().join("leases"))?.load()?.len(), 10);
/// # Ok::<(), pxe::Error>(())
/// ```
pub struct GroupCommit<T> {
    tx: Option<SyncSender<(LeaseChange, T)>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<T> std::fmt::Debug for GroupCommit<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("running", &self.thread.is_some())
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> GroupCommit<T> {
    /// Start the writer thread for `store`, with room for `queue` changes waiting.
    pub fn spawn<S, F>(store: S, queue: usize, done: F) -> Result<Self>
    where
        S: LeaseStore + 'static,
        F: FnMut(Vec<T>, Result<()>) + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(queue.max(1));
        let thread = std::thread::Builder::new()
            .name("pxe-lease-writer".into())
            .spawn(move || write_batches(store, &rx, done))
            .map_err(|e| io_err("starting the lease writer", &e))?;
        Ok(GroupCommit {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queue `change`; `token` comes back through `done` once it is committed. Never
    /// blocks: when the queue is full ([`Error::Busy`]) or the writer has stopped, the token
    /// is handed back with the error.
    pub fn submit(&self, change: LeaseChange, token: T) -> Result<(), (Error, T)> {
        let stopped = || Error::Io {
            during: "queueing a lease change",
            message: "the lease writer stopped".into(),
        };
        let Some(tx) = &self.tx else {
            return Err((stopped(), token));
        };
        tx.try_send((change, token)).map_err(|e| match e {
            TrySendError::Full((_, t)) => (
                Error::Busy {
                    what: "lease writer queue",
                },
                t,
            ),
            TrySendError::Disconnected((_, t)) => (stopped(), t),
        })
    }

    /// Commit what is queued, then stop the writer thread and wait for it.
    pub fn close(mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl<T> Drop for GroupCommit<T> {
    /// The writer commits what is queued and ends on its own (not waited for here; see
    /// [`close`](GroupCommit::close)).
    fn drop(&mut self) {
        self.tx = None;
    }
}

fn write_batches<S, T, F>(mut store: S, rx: &Receiver<(LeaseChange, T)>, mut done: F)
where
    S: LeaseStore,
    F: FnMut(Vec<T>, Result<()>),
{
    let mut changes = Vec::new();
    let mut tokens = Vec::new();
    while let Ok((c, t)) = rx.recv() {
        changes.push(c);
        tokens.push(t);
        while changes.len() < MAX_BATCH {
            let Ok((c, t)) = rx.try_recv() else { break };
            changes.push(c);
            tokens.push(t);
        }
        let result = store.commit(&changes);
        if let Err(e) = &result {
            tracing::error!(error = %e, records = changes.len(), "lease commit failed");
        }
        tracing::trace!(records = changes.len(), "lease batch committed");
        changes.clear();
        done(std::mem::take(&mut tokens), result);
        // After the batch's ACKs are on their way: compaction holds up no ACK of its own.
        if let Err(e) = store.maintain() {
            tracing::warn!(error = %e, "lease store maintenance failed");
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
                s.bind(&rec(i, 2 * i + round % 2, 100)).unwrap();
            }
            assert!(s.log_records() <= 60, "{}", s.log_records());
        }
        drop(s);
        let lines = std::fs::read_to_string(&p).unwrap().lines().count();
        assert!(lines <= 61, "{lines}");
        let mut s = FileStore::open(&p).unwrap();
        let got = sorted(s.load().unwrap());
        assert_eq!(got.len(), 10);
        assert!(
            got.iter()
                .all(|(m, ip)| *ip == Ipv4Addr::new(10, 0, 0, 2 * m[5] + 1))
        );
    }

    /// A store whose maintenance is slow (like a big compaction).
    struct SlowMaintenance(MemoryStore);

    impl LeaseStore for SlowMaintenance {
        fn load(&mut self) -> Result<Vec<LeaseRecord>> {
            self.0.load()
        }
        fn bind(&mut self, lease: &LeaseRecord) -> Result<()> {
            self.0.bind(lease)
        }
        fn release(&mut self, mac: Mac) -> Result<()> {
            self.0.release(mac)
        }
        fn maintain(&mut self) -> Result<()> {
            std::thread::sleep(Duration::from_millis(300));
            Ok(())
        }
    }

    #[test]
    fn maintenance_runs_after_the_batch_is_handed_back() {
        let (tx, rx) = std::sync::mpsc::channel();
        let w = GroupCommit::spawn(SlowMaintenance(MemoryStore::new()), 16, move |t, r| {
            let _ = tx.send((t, r, Instant::now()));
        })
        .unwrap();
        let t0 = Instant::now();
        w.submit(LeaseChange::Bind(rec(1, 1, 100)), 1u8)
            .map_err(|(e, _)| e)
            .unwrap();
        let (tokens, result, at) = rx.recv().unwrap();
        assert_eq!(tokens, vec![1]);
        result.unwrap();
        assert!(
            at - t0 < Duration::from_millis(250),
            "the batch waited for maintenance: {:?}",
            at - t0
        );
        w.close();
    }

    #[test]
    fn the_writer_compacts_the_file_store() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("leases");
        let store = FileStore::open(&p)
            .unwrap()
            .with_sync(SyncPolicy::Never)
            .with_min_compact(50);
        let (tx, rx) = std::sync::mpsc::channel();
        let w = GroupCommit::spawn(store, 16, move |t: Vec<u32>, r| {
            let _ = tx.send((t, r));
        })
        .unwrap();
        // Ten clients renewing 40 times, one change per batch.
        for round in 0..40u8 {
            for i in 0..10u8 {
                w.submit(LeaseChange::Bind(rec(i, 2 * i + round % 2, 100)), 0)
                    .map_err(|(e, _)| e)
                    .unwrap();
                let (_, r) = rx.recv().unwrap();
                r.unwrap();
            }
        }
        w.close();
        let lines = std::fs::read_to_string(&p).unwrap().lines().count();
        assert!(lines <= 61, "the log was not compacted: {lines} lines");
        let got = sorted(FileStore::open(&p).unwrap().load().unwrap());
        assert_eq!(got.len(), 10);
        assert!(
            got.iter()
                .all(|(m, ip)| *ip == Ipv4Addr::new(10, 0, 0, 2 * m[5] + 1))
        );
    }

    /// A store whose commits are slow (like a disk sync) and counted.
    struct Slow {
        inner: MemoryStore,
        commits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    }

    impl LeaseStore for Slow {
        fn load(&mut self) -> Result<Vec<LeaseRecord>> {
            self.inner.load()
        }
        fn bind(&mut self, lease: &LeaseRecord) -> Result<()> {
            self.inner.bind(lease)
        }
        fn release(&mut self, mac: Mac) -> Result<()> {
            self.inner.release(mac)
        }
        fn commit(&mut self, changes: &[LeaseChange]) -> Result<()> {
            std::thread::sleep(Duration::from_millis(20));
            self.commits
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            for c in changes {
                self.inner.live.apply(c);
            }
            Ok(())
        }
    }

    #[test]
    fn group_commit_batches_and_hands_every_token_back_in_order() {
        let commits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let store = Slow {
            inner: MemoryStore::new(),
            commits: commits.clone(),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let w = GroupCommit::spawn(store, 10_000, move |t: Vec<u32>, r: Result<()>| {
            tx.send((t, r.is_ok())).unwrap();
        })
        .unwrap();
        let started = Instant::now();
        for i in 0..500u32 {
            let b = i.to_be_bytes();
            w.submit(LeaseChange::Bind(rec(b[3], b[3], 100)), i)
                .map_err(|(e, _)| e)
                .unwrap();
        }
        // Submitting never waited for a commit (500 x 20 ms would be 10 s).
        assert!(started.elapsed() < Duration::from_secs(2));
        let mut got = Vec::new();
        while got.len() < 500 {
            let (t, ok) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
            assert!(ok);
            got.extend(t);
        }
        assert_eq!(got, (0..500).collect::<Vec<_>>());
        let n = commits.load(std::sync::atomic::Ordering::SeqCst);
        assert!(n <= 10, "500 changes in {n} commits");
        w.close();
    }

    #[test]
    fn a_full_queue_is_refused_not_waited_for() {
        let commits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let store = Slow {
            inner: MemoryStore::new(),
            commits,
        };
        let w = GroupCommit::spawn(store, 4, |_: Vec<u8>, _| {}).unwrap();
        let refused = (0..100u8)
            .filter(|i| {
                matches!(
                    w.submit(LeaseChange::Release([*i; 6]), *i),
                    Err((Error::Busy { .. }, t)) if t == *i
                )
            })
            .count();
        assert!(refused > 50, "{refused}");
        w.close();
    }

    #[test]
    fn file_store_commits_a_batch_with_one_append() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("leases");
        let mut s = FileStore::open(&p).unwrap();
        let batch: Vec<_> = (0..50).map(|i| LeaseChange::Bind(rec(i, i, 100))).collect();
        s.commit(&batch).unwrap();
        assert_eq!(s.commits(), 1);
        assert_eq!(s.log_records(), 50);
        drop(s);
        assert_eq!(FileStore::open(&p).unwrap().load().unwrap().len(), 50);
    }

    /// The reference model: apply changes in order, newest lease per MAC and per address.
    fn model(changes: &[LeaseChange]) -> Vec<(Mac, Ipv4Addr)> {
        let mut by_mac: HashMap<Mac, Ipv4Addr> = HashMap::new();
        for c in changes {
            match c {
                LeaseChange::Bind(l) => {
                    by_mac.retain(|m, ip| *m == l.mac || *ip != l.ip);
                    by_mac.insert(l.mac, l.ip);
                }
                LeaseChange::Release(m) => {
                    by_mac.remove(m);
                }
            }
        }
        let mut v: Vec<_> = by_mac.into_iter().collect();
        v.sort();
        v
    }

    fn change() -> impl Strategy<Value = LeaseChange> {
        prop_oneof![
            4 => (0u8..6, 0u8..6).prop_map(|(m, ip)| LeaseChange::Bind(rec(m, ip, 3600))),
            1 => (0u8..6).prop_map(|m| LeaseChange::Release([2, 0, 0, 0, 0, m])),
        ]
    }

    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the batches and compactions, a reopened log holds the newest lease per
        /// MAC and per address.
        #[test]
        fn replay_and_compaction_keep_the_newest_lease(
            batches in proptest::collection::vec(proptest::collection::vec(change(), 1..8), 1..20),
            compact_every in 1usize..12,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("leases");
            let mut s = FileStore::open(&p).unwrap().with_sync(SyncPolicy::Never)
                .with_min_compact(compact_every);
            let mut all = Vec::new();
            for b in &batches {
                s.commit(b).unwrap();
                all.extend_from_slice(b);
                prop_assert_eq!(sorted(s.load().unwrap()), model(&all));
            }
            s.compact().unwrap();
            prop_assert_eq!(sorted(s.load().unwrap()), model(&all));
            drop(s);
            let mut again = FileStore::open(&p).unwrap();
            prop_assert_eq!(again.dropped_tail(), 0);
            prop_assert_eq!(sorted(again.load().unwrap()), model(&all));
        }

        /// A crash anywhere in an append (the file cut at any byte): the log reopens with
        /// exactly the records written in full before the cut, the torn one ignored, and
        /// appends after recovery are readable.
        #[test]
        fn a_torn_last_record_is_ignored(
            changes in proptest::collection::vec(change(), 1..30),
            cut_frac in 0.0f64..1.0,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let p = dir.path().join("leases");
            let mut s = FileStore::open(&p).unwrap().with_sync(SyncPolicy::Never)
                .with_min_compact(usize::MAX);
            let mut ends = vec![std::fs::metadata(&p).unwrap().len()];
            for c in &changes {
                s.commit(std::slice::from_ref(c)).unwrap();
                ends.push(std::fs::metadata(&p).unwrap().len());
            }
            drop(s);
            let full = std::fs::read(&p).unwrap();
            let header = ends[0] as usize;
            let cut = header + ((full.len() - header) as f64 * cut_frac) as usize;
            std::fs::write(&p, &full[..cut]).unwrap();
            // Records whose line ends at or before the cut survive.
            let whole = ends[1..].iter().filter(|e| **e as usize <= cut).count();
            let mut s = FileStore::open(&p).unwrap();
            prop_assert_eq!(sorted(s.load().unwrap()), model(&changes[..whole]));
            prop_assert_eq!(s.dropped_tail() as usize, cut - ends[whole] as usize);
            let extra = LeaseChange::Bind(rec(9, 99, 100));
            s.commit(&[extra]).unwrap();
            drop(s);
            let mut want = changes[..whole].to_vec();
            want.push(extra);
            let mut s = FileStore::open(&p).unwrap();
            prop_assert_eq!(s.dropped_tail(), 0);
            prop_assert_eq!(sorted(s.load().unwrap()), model(&want));
        }
    }

    #[test]
    fn memory_store() {
        let mut m = MemoryStore::new();
        m.bind(&rec(1, 1, 10)).unwrap();
        m.release([2, 0, 0, 0, 0, 1]).unwrap();
        assert!(m.load().unwrap().is_empty());
    }
}
