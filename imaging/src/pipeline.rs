//! The streaming pipeline: source → (hash ‖ decode) → write, on separate threads joined by
//! bounded channels, with every buffer from a fixed pool.
//!
//! ```text
//!                 ┌─► hasher thread (checksum of the bytes as downloaded)
//!  input thread ──┤
//!  (Source::read) └─► decoder (calling thread: raw / gzip / zstd / xz / bzip2 / qcow2)
//!                          └─► writer thread (zero-run skipping, pwrite, progress)
//! ```

use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

use tracing::{debug, info, info_span, warn};

use crate::bmap::{Bmap, BmapError, RangeChecker};
use crate::buffer::{Block, Pool, PoolBuf};
use crate::checksum::{Checksum, Hasher};
use crate::error::{Error, Result, Stage};
use crate::format::Format;
use crate::qcow2::{ClusterMap, Header, Limits, Piece};
use crate::source::Source;
use crate::target::Target;

/// Zero detection granularity: a run of this many zero bytes (aligned within each buffer) is
/// skipped on a target that reads back zeros.
pub const ZERO_BLOCK: usize = 4096;

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Cancels a running [`write_image`] from another thread. The target then holds a partial
/// image (and [`Error::Cancelled`] says so).
///
/// ```
/// let token = imaging::CancelToken::new();
/// let opts = imaging::WriteOptions::builder().cancel(token.clone()).build()?;
/// token.cancel();
/// assert!(token.is_cancelled());
/// # Ok::<(), imaging::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A fresh token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests cancellation.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// What the pipeline is doing when a [`Progress`] event is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Phase {
    /// Reading, decoding and writing.
    Writing,
    /// Flushing the target (fsync).
    Syncing,
    /// Reading the target back.
    Verifying,
    /// Finished successfully (the last event).
    Done,
}

/// A progress event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Phase.
    pub phase: Phase,
    /// Source bytes read (as downloaded).
    pub bytes_in: u64,
    /// The source's size, if known.
    pub source_size: Option<u64>,
    /// Image bytes written to the target.
    pub bytes_written: u64,
    /// Image bytes not written because they are zero and the target reads back zeros.
    pub bytes_skipped: u64,
    /// The image's (virtual) size, if known.
    pub image_size: Option<u64>,
    /// Time since the start.
    pub elapsed: Duration,
}

impl Progress {
    /// Image bytes done (written or skipped).
    pub fn bytes_done(&self) -> u64 {
        self.bytes_written + self.bytes_skipped
    }

    /// Image bytes per second so far.
    pub fn rate(&self) -> f64 {
        self.bytes_done() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Estimated time left, from the source bytes read (or image bytes done) and their total.
    pub fn eta(&self) -> Option<Duration> {
        let (done, total) = match (self.source_size, self.image_size) {
            (Some(t), _) if self.bytes_in > 0 => (self.bytes_in, t),
            (_, Some(t)) => (self.bytes_done(), t),
            _ => return None,
        };
        if done == 0 || done > total {
            return None;
        }
        let secs = self.elapsed.as_secs_f64() * (total - done) as f64 / done as f64;
        Some(Duration::from_secs_f64(secs))
    }
}

/// What happened, once the image is on the target, flushed and checked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Summary {
    /// The source's format (e.g. `Zstd` for a zstd-compressed raw image).
    pub format: Format,
    /// The disk image's format inside it (`Raw` or `Qcow2`).
    pub image_format: Format,
    /// The image's size: bytes now on the target.
    pub image_size: u64,
    /// Source bytes read.
    pub bytes_in: u64,
    /// Image bytes written.
    pub bytes_written: u64,
    /// Zero bytes skipped (left as holes).
    pub bytes_skipped: u64,
    /// The checksum of the source bytes, when one was asked for (it matched).
    pub checksum: Option<Checksum>,
    /// Whether the target was read back and matched.
    pub verified: bool,
    /// Mapped ranges whose SHA-256 from the [`bmap`](WriteOptionsBuilder::bmap) matched.
    pub bmap_ranges_checked: u64,
    /// Wall time, including fsync and verification.
    pub elapsed: Duration,
}

impl Summary {
    /// Image bytes per second (10^6 bytes = 1 MB), the usual way to compare image writers.
    pub fn mb_per_s(&self) -> f64 {
        self.image_size as f64 / 1e6 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Options for [`write_image`]; build them with [`WriteOptions::builder`].
#[derive(Clone)]
pub struct WriteOptions {
    format: Option<Format>,
    checksum: Option<Checksum>,
    sparse: bool,
    verify: bool,
    buffer_size: usize,
    buffers: usize,
    limits: Limits,
    progress: Option<ProgressFn>,
    progress_interval: Duration,
    cancel: Option<CancelToken>,
    xz_threads: u32,
    bmap: Option<Arc<Bmap>>,
}

impl std::fmt::Debug for WriteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteOptions")
            .field("format", &self.format)
            .field("checksum", &self.checksum)
            .field("sparse", &self.sparse)
            .field("verify", &self.verify)
            .field("buffer_size", &self.buffer_size)
            .field("buffers", &self.buffers)
            .field("limits", &self.limits)
            .field("progress", &self.progress.is_some())
            .field("bmap_ranges", &self.bmap.as_ref().map(|b| b.ranges().len()))
            .finish_non_exhaustive()
    }
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptionsBuilder::default().opts
    }
}

impl WriteOptions {
    /// A builder with the defaults: format detected, no checksum, sparse, no read-back
    /// verification, 8 buffers of 4 MiB per pool (two pools: at most 64 MiB of buffers).
    ///
    /// ```
    /// use imaging::{Checksum, Format, WriteOptions};
    /// let opts = WriteOptions::builder()
    ///     .format(Format::Qcow2)
    ///     .checksum(format!("sha256:{}", "0".repeat(64)).parse::<Checksum>()?)
    ///     .verify(true)
    ///     .progress(|p| eprintln!("{} bytes done", p.bytes_done()))
    ///     .build()?;
    /// # Ok::<(), imaging::Error>(())
    /// ```
    pub fn builder() -> WriteOptionsBuilder {
        WriteOptionsBuilder::default()
    }
}

/// Builder of [`WriteOptions`].
#[derive(Debug, Clone)]
pub struct WriteOptionsBuilder {
    opts: WriteOptions,
}

impl Default for WriteOptionsBuilder {
    fn default() -> Self {
        WriteOptionsBuilder {
            opts: WriteOptions {
                format: None,
                checksum: None,
                sparse: true,
                verify: false,
                buffer_size: 4 << 20,
                buffers: 8,
                limits: Limits::default(),
                progress: None,
                progress_interval: Duration::from_millis(200),
                cancel: None,
                xz_threads: thread::available_parallelism()
                    .map(|n| n.get() as u32)
                    .unwrap_or(1)
                    .min(8),
                bmap: None,
            },
        }
    }
}

impl WriteOptionsBuilder {
    /// Forces the source format instead of detecting it. `Raw` writes the bytes as they are
    /// (even if they look like qcow2); a compressed format's content is still detected.
    pub fn format(mut self, format: Format) -> Self {
        self.opts.format = Some(format);
        self
    }

    /// Detects the format from the magic bytes (the default).
    pub fn detect_format(mut self) -> Self {
        self.opts.format = None;
        self
    }

    /// Checks the source bytes (as downloaded, before decoding) against `checksum`; the write
    /// fails unless they match.
    pub fn checksum(mut self, checksum: Checksum) -> Self {
        self.opts.checksum = Some(checksum);
        self
    }

    /// Whether zero runs may be left unwritten on targets that read back zeros (default
    /// true). `false` writes every byte (a fully allocated file).
    pub fn sparse(mut self, sparse: bool) -> Self {
        self.opts.sparse = sparse;
        self
    }

    /// Reads the target back after the fsync and compares it with what was written: a CRC-32
    /// of every write is kept (a few bytes per write), the target's cached pages are dropped
    /// where the system allows it, every written range is read back and compared, and every
    /// other range must read as zeros (holes of a sparse file are skipped, as they are zeros by
    /// definition).
    pub fn verify(mut self, verify: bool) -> Self {
        self.opts.verify = verify;
        self
    }

    /// Size of each buffer (default 4 MiB; 256 KiB to 64 MiB, a multiple of 4 KiB).
    pub fn buffer_size(mut self, bytes: usize) -> Self {
        self.opts.buffer_size = bytes;
        self
    }

    /// Buffers per pool (default 8; at least 2). Memory is about
    /// `2 * buffers * buffer_size` plus the qcow2 map and decoder state.
    pub fn buffers(mut self, n: usize) -> Self {
        self.opts.buffers = n;
        self
    }

    /// Bounds for qcow2 metadata.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.opts.limits = limits;
        self
    }

    /// Calls `f` with progress events (from the writer thread, at most every
    /// [`progress_interval`](Self::progress_interval), and once at the end). To receive them
    /// on a channel, send from the closure.
    pub fn progress(mut self, f: impl Fn(&Progress) + Send + Sync + 'static) -> Self {
        self.opts.progress = Some(Arc::new(f));
        self
    }

    /// Minimum time between progress events (default 200 ms).
    pub fn progress_interval(mut self, every: Duration) -> Self {
        self.opts.progress_interval = every;
        self
    }

    /// A token to cancel the write.
    pub fn cancel(mut self, token: CancelToken) -> Self {
        self.opts.cancel = Some(token);
        self
    }

    /// Threads of the xz decoder (default: the CPUs, at most 8). Multi-block `.xz` files
    /// (made with `xz -T`) decode in parallel.
    pub fn xz_threads(mut self, n: u32) -> Self {
        self.opts.xz_threads = n.max(1);
        self
    }

    /// Writes only the ranges this block map lists as mapped, checking each against its
    /// SHA-256 as it streams past (what `bmaptool copy` does; see [`crate::bmap`]). A local raw
    /// image has only those ranges read. The image must be raw (or a compressed stream of
    /// one) of exactly the bmap's size. Unmapped ranges are skipped on targets that read back
    /// zeros and written as zeros on others. A whole-image [`checksum`](Self::checksum) can be
    /// given as well: unmapped ranges that were not read are hashed as zeros, so an image
    /// whose unmapped ranges are not zeros fails it.
    pub fn bmap(mut self, bmap: Bmap) -> Self {
        self.opts.bmap = Some(Arc::new(bmap));
        self
    }

    /// Checks and returns the options.
    pub fn build(self) -> Result<WriteOptions> {
        let o = &self.opts;
        if !(256 << 10..=64 << 20).contains(&o.buffer_size) || o.buffer_size % 4096 != 0 {
            return Err(Error::InvalidOptions(
                "buffer_size must be a multiple of 4 KiB between 256 KiB and 64 MiB",
            ));
        }
        if o.buffers < 2 {
            return Err(Error::InvalidOptions("at least 2 buffers are needed"));
        }
        Ok(self.opts)
    }
}

enum Op {
    Data { offset: u64, block: Block },
    Zeros { offset: u64, len: u64 },
}

/// What the hasher hashes, in source order.
enum HashItem {
    Data(Block),
    /// A hole of the source that was not read: this many zero bytes.
    Zeros(u64),
}

/// Zeros to hash for holes and to write for zero runs.
static ZEROS: [u8; 1 << 20] = [0u8; 1 << 20];

/// Bytes written between two early write-back requests.
const WRITEBACK_STEP: u64 = 32 << 20;

#[derive(Default)]
struct Counters {
    bytes_in: AtomicU64,
    written: AtomicU64,
    skipped: AtomicU64,
    bmap_checked: AtomicU64,
}

/// Shared state of one run.
struct Ctx<'a> {
    opts: &'a WriteOptions,
    counters: Counters,
    abort: AtomicBool,
    start: Instant,
    source_size: Option<u64>,
    image_size: Option<u64>,
    /// Zero runs may be left unwritten (the target reads back zeros there).
    skip_zeros: bool,
}

impl Ctx<'_> {
    fn cancelled(&self) -> bool {
        self.abort.load(Ordering::Relaxed)
            || self.opts.cancel.as_ref().is_some_and(|c| c.is_cancelled())
    }

    fn progress(&self, phase: Phase) -> Progress {
        Progress {
            phase,
            bytes_in: self.counters.bytes_in.load(Ordering::Relaxed),
            source_size: self.source_size,
            bytes_written: self.counters.written.load(Ordering::Relaxed),
            bytes_skipped: self.counters.skipped.load(Ordering::Relaxed),
            image_size: self.image_size,
            elapsed: self.start.elapsed(),
        }
    }

    fn report(&self, phase: Phase) {
        if let Some(f) = &self.opts.progress {
            f(&self.progress(phase));
        }
    }
}

/// "A peer stage stopped": never the root cause, replaced by the real error.
const STOPPED: &str = "peer stage";

fn stopped() -> Error {
    Error::Internal(STOPPED)
}

fn is_stopped(e: &Error) -> bool {
    matches!(e, Error::Internal(s) if *s == STOPPED)
}

/// Streams the image in `source` onto `target`.
///
/// The format is detected from the magic bytes unless forced; the checksum (if any) is over the
/// source's bytes as read; the target is flushed (fsync) and, if asked, read back before this
/// returns `Ok`. On error the target may hold a partial or unverified image.
///
/// ```
/// use imaging::{MemoryTarget, SeekableSource, WriteOptions, write_image};
/// let mut image = vec![0u8; 3 << 20];
/// image[1 << 20..(1 << 20) + 5].copy_from_slice(b"hello");
/// let sha = imaging::Hasher::new(imaging::Algorithm::Sha256);
/// let mut h = sha.clone();
/// h.update(&image);
/// let opts = WriteOptions::builder().checksum(h.finish()).verify(true).build()?;
/// let mut source = SeekableSource::new(std::io::Cursor::new(image.clone()))?;
/// let mut target = MemoryTarget::new(1 << 30);
/// let summary = write_image(&mut source, &mut target, &opts)?;
/// assert_eq!(target.data(), &image[..]);
/// assert_eq!(summary.bytes_written, 4096); // one 4 KiB block holds data
/// assert_eq!(summary.bytes_skipped, (3 << 20) - 4096);
/// assert!(summary.verified);
/// # Ok::<(), imaging::Error>(())
/// ```
pub fn write_image<S, T>(source: &mut S, target: &mut T, options: &WriteOptions) -> Result<Summary>
where
    S: Source + ?Sized,
    T: Target + ?Sized,
{
    let span = info_span!("write_image", source = %source.describe(), target = %target.describe());
    let _enter = span.enter();
    let start = Instant::now();
    let source_size = source.size();

    // The first buffer decides the format.
    // Room for the qcow2 decoder's window: a compressed cluster (at most 2 × 2 MiB) may
    // span several input buffers, which it holds while the next ones are read.
    let window = (4usize << 20).div_ceil(options.buffer_size) + 2;
    let mut in_pool = Pool::new(options.buffer_size, options.buffers + window);
    let mut first = in_pool.get().ok_or(Error::Internal("buffer pool"))?;
    let n = fill(source, first.space()).map_err(|e| Error::io(Stage::ReadSource, Some(0), e))?;
    first.set_len(n);
    let detected = Format::detect(first.data());
    let format = options.format.unwrap_or(detected);
    info!(%format, %detected, source_size, "source format");

    let mut first = Some(first);
    let mut map = None;
    let image_size = match format {
        Format::Qcow2 => {
            if !source.is_seekable() {
                return Err(Error::Unsupported(
                    "a qcow2 image needs a seekable source (its tables may follow its data)".into(),
                ));
            }
            let file_len = source_size
                .ok_or_else(|| Error::Unsupported("a qcow2 source must know its length".into()))?;
            let m = read_qcow2_map(source, file_len, &options.limits)?;
            source
                .seek_to(0)
                .map_err(|e| Error::io(Stage::SeekSource, Some(0), e))?;
            first = None; // the input thread re-reads from offset 0
            let size = m.header().size;
            map = Some(m);
            Some(size)
        }
        Format::Raw => source_size,
        _ => None,
    };
    let bmap = options.bmap.as_deref();
    let image_size = match bmap {
        Some(_) if format == Format::Qcow2 => {
            return Err(Error::Unsupported(
                "a bmap describes a raw image, not a qcow2 one".into(),
            ));
        }
        Some(b) => match image_size {
            Some(size) if size != b.image_size() => {
                return Err(BmapError::ImageSize {
                    expected: b.image_size(),
                    actual: size,
                }
                .into());
            }
            _ => Some(b.image_size()),
        },
        None => image_size,
    };

    if let (Some(size), Some(cap)) = (image_size, target.capacity()) {
        if size > cap {
            return Err(Error::TooLarge {
                image_size: size,
                target_size: cap,
                written: false,
            });
        }
    }
    let reads_zero = target
        .prepare(image_size, options.sparse)
        .map_err(|e| Error::io(Stage::OpenTarget, None, e))?;
    let skip_zeros = options.sparse && reads_zero;
    let capacity = target.capacity();
    // A local raw image: its holes (or with a bmap, its unmapped ranges) need not be read (a
    // checksum hashes zeros for them).
    let skip_holes = format == Format::Raw
        && (skip_zeros || bmap.is_some())
        && source.is_seekable()
        && source_size.is_some();

    let ctx = Ctx {
        opts: options,
        counters: Counters::default(),
        abort: AtomicBool::new(false),
        start,
        source_size,
        image_size,
        skip_zeros,
    };

    let target_for_writer = &mut *target;
    let (decoded_size, digest, records) = thread::scope(|s| {
        let ctx = &ctx;
        let target = target_for_writer;
        let (dec_tx, dec_rx) = sync_channel::<(u64, Block)>(options.buffers);
        let (hash_tx, hash_rx) = match &options.checksum {
            Some(_) => {
                let (t, r) = sync_channel::<HashItem>(options.buffers);
                (Some(t), Some(r))
            }
            None => (None, None),
        };
        let (op_tx, op_rx) = sync_channel::<Op>(options.buffers);

        let input_span = info_span!(parent: &span, "input");
        let input = s.spawn(move || {
            let _e = input_span.enter();
            input_loop(source, in_pool, first, dec_tx, hash_tx, skip_holes, ctx)
        });
        let hasher = options.checksum.as_ref().zip(hash_rx).map(|(c, rx)| {
            let algorithm = c.algorithm();
            let hash_span = info_span!(parent: &span, "hash", %algorithm);
            s.spawn(move || {
                let _e = hash_span.enter();
                let mut h = Hasher::new(algorithm);
                let mut busy = Duration::ZERO;
                for item in rx {
                    let t = Instant::now();
                    match item {
                        HashItem::Data(block) => h.update(block.data()),
                        HashItem::Zeros(mut n) => {
                            // Holes not read: their zeros, from one static buffer.
                            while n > 0 {
                                let k = n.min(ZEROS.len() as u64) as usize;
                                h.update(&ZEROS[..k]);
                                n -= k as u64;
                            }
                        }
                    }
                    busy += t.elapsed();
                }
                // Where the time goes: a hasher busy for less than the pipeline's time waited
                // for input.
                debug!(
                    busy_ms = busy.as_millis() as u64,
                    done_ms = start.elapsed().as_millis() as u64,
                    "hash done"
                );
                h.finish()
            })
        });
        // Early write-back of what was written, so that the final fsync has little left.
        let (wb_tx, flusher) = match target.writeback_handle() {
            Some(file) => {
                let (tx, rx) = sync_channel::<(u64, u64)>(4);
                let f = s.spawn(move || {
                    for (lo, hi) in rx {
                        let len = std::num::NonZeroU64::new(hi.saturating_sub(lo));
                        if len.is_some() {
                            // Starts write-back of the range (and drops its clean pages).
                            let _ =
                                rustix::fs::fadvise(&file, lo, len, rustix::fs::Advice::DontNeed);
                        }
                    }
                });
                (Some(tx), Some(f))
            }
            None => (None, None),
        };
        let writer_span = info_span!(parent: &span, "write");
        let writer = s.spawn(move || {
            let _e = writer_span.enter();
            let r = writer_loop(target, op_rx, skip_zeros, wb_tx, ctx);
            if r.is_err() {
                ctx.abort.store(true, Ordering::Relaxed);
            }
            r
        });

        let decoded = {
            let _e = info_span!(parent: &span, "decode", %format).entered();
            let out_pool = Pool::new(options.buffer_size, options.buffers);
            let r = decode(format, map.as_ref(), dec_rx, op_tx, out_pool, capacity, ctx);
            if r.is_err() {
                ctx.abort.store(true, Ordering::Relaxed);
            }
            r
        };
        let input = input.join().unwrap_or(Err(Error::Internal("input")));
        let digest = hasher.map(|h| h.join().map_err(|_| Error::Internal("hash")));
        let writer = writer.join().unwrap_or(Err(Error::Internal("writer")));
        if let Some(f) = flusher {
            let _ = f.join();
        }

        // The root cause first: the source, then the target, then the decoder.
        let mut errors = [input.err(), None, None];
        let records = match writer {
            Ok(r) => Some(r),
            Err(e) => {
                errors[1] = Some(e);
                None
            }
        };
        let size = match decoded {
            Ok(size) => Some(size),
            Err(e) => {
                errors[2] = Some(e);
                None
            }
        };
        let mut fallback = None;
        for e in errors.into_iter().flatten() {
            if is_stopped(&e) {
                fallback.get_or_insert(e);
            } else {
                return Err(e);
            }
        }
        if let Some(e) = fallback {
            return Err(e);
        }
        let digest = digest.transpose()?;
        match (size, records) {
            (Some(size), Some(records)) => Ok((size, digest, records)),
            _ => Err(Error::Internal("pipeline")),
        }
    })?;

    let written_size = image_size.unwrap_or(decoded_size);

    // The checksum of what was read, before anything is declared done.
    if let (Some(expected), Some(actual)) = (&options.checksum, &digest) {
        if expected != actual {
            warn!(expected = %expected, actual = %actual, "checksum mismatch");
            return Err(Error::ChecksumMismatch {
                algorithm: expected.algorithm(),
                expected: expected.hex(),
                actual: actual.hex(),
            });
        }
        debug!(checksum = %actual, "checksum matches");
    }

    ctx.report(Phase::Syncing);
    target
        .finish(written_size)
        .map_err(|e| Error::io(Stage::SyncTarget, None, e))?;

    let verified = if options.verify {
        ctx.report(Phase::Verifying);
        verify_target(target, written_size, records, options.buffer_size)?;
        true
    } else {
        false
    };

    target
        .complete(written_size)
        .map_err(|e| Error::io(Stage::Finalize, None, e))?;

    let p = ctx.progress(Phase::Done);
    ctx.report(Phase::Done);
    let summary = Summary {
        format,
        image_format: if format == Format::Qcow2 {
            Format::Qcow2
        } else {
            Format::Raw
        },
        image_size: written_size,
        bytes_in: p.bytes_in,
        bytes_written: p.bytes_written,
        bytes_skipped: p.bytes_skipped,
        checksum: digest,
        verified,
        bmap_ranges_checked: ctx.counters.bmap_checked.load(Ordering::Relaxed),
        elapsed: start.elapsed(),
    };
    info!(
        image_size = summary.image_size,
        written = summary.bytes_written,
        skipped = summary.bytes_skipped,
        mb_per_s = summary.mb_per_s(),
        "image written"
    );
    Ok(summary)
}

fn read_qcow2_map<S: Source + ?Sized>(
    source: &mut S,
    file_len: u64,
    limits: &Limits,
) -> Result<ClusterMap> {
    // The largest cluster is 2 MiB: read that much (or the file) so the header extensions
    // in the header cluster are checked too.
    let mut head = vec![0u8; file_len.min(2 << 20) as usize];
    source.read_at(0, &mut head)?;
    let header = Header::parse(&head)?;
    drop(head);
    info!(
        version = header.version,
        cluster_size = header.cluster_size(),
        virtual_size = header.size,
        compression = ?header.compression,
        "qcow2 header"
    );
    let map = ClusterMap::read(source, &header, file_len, limits)?;
    debug!(
        extents = map.extents().len(),
        allocated = map.allocated_bytes(),
        "qcow2 cluster map"
    );
    Ok(map)
}

/// Reads until `buf` is full or the reader ends.
fn fill<R: ?Sized + ReadLike>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read_some(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

trait ReadLike {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize>;
}

impl<S: Source + ?Sized> ReadLike for S {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read(buf)
    }
}

struct AsReadLike<'a>(&'a mut dyn Read);

impl ReadLike for AsReadLike<'_> {
    fn read_some(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

fn input_loop<S: Source + ?Sized>(
    source: &mut S,
    mut pool: Pool,
    first: Option<PoolBuf>,
    dec_tx: SyncSender<(u64, Block)>,
    hash_tx: Option<SyncSender<HashItem>>,
    skip_holes: bool,
    ctx: &Ctx<'_>,
) -> Result<()> {
    let bmap = ctx.opts.bmap.as_deref();
    if skip_holes {
        return input_data_ranges(source, pool, first, dec_tx, hash_tx, bmap, ctx);
    }
    let mut dec_tx = Some(dec_tx);
    let mut offset = 0u64;
    let mut next = first;
    loop {
        if ctx.opts.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            return Err(Error::Cancelled);
        }
        if ctx.abort.load(Ordering::Relaxed) {
            return Ok(()); // another stage failed and reports why
        }
        let buf = match next.take() {
            Some(b) => b,
            None => {
                let mut b = pool.get().ok_or(Error::Internal("buffer pool"))?;
                let n = fill(source, b.space())
                    .map_err(|e| Error::io(Stage::ReadSource, Some(offset), e))?;
                b.set_len(n);
                b
            }
        };
        let n = buf.len();
        let at = offset;
        if n == 0 {
            // A source that announced its length must deliver all of it (a cut transfer
            // must not pass for a complete image).
            if let Some(size) = ctx.source_size {
                if offset != size {
                    return Err(Error::io(
                        Stage::ReadSource,
                        Some(offset),
                        io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("source ended after {offset} of {size} bytes"),
                        ),
                    ));
                }
            }
            return Ok(());
        }
        offset += n as u64;
        ctx.counters.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
        let block = buf.freeze();
        if let Some(tx) = &hash_tx {
            tx.send(HashItem::Data(block.clone()))
                .map_err(|_| Error::Internal("hash"))?;
        }
        if let Some(tx) = &dec_tx {
            if tx.send((at, block)).is_err() {
                // The decoder is done (a qcow2 image's last cluster came before the file's
                // end). Keep reading only to finish the checksum.
                dec_tx = None;
                if hash_tx.is_none() {
                    return Ok(());
                }
            }
        }
    }
}

/// Reads only the data ranges of a sparse seekable source (SEEK_DATA, or the mapped ranges of
/// a bmap), sending each block with its offset; the holes are never read (the hasher, if any,
/// hashes zeros for them).
fn input_data_ranges<S: Source + ?Sized>(
    source: &mut S,
    mut pool: Pool,
    first: Option<PoolBuf>,
    dec_tx: SyncSender<(u64, Block)>,
    hash_tx: Option<SyncSender<HashItem>>,
    bmap: Option<&Bmap>,
    ctx: &Ctx<'_>,
) -> Result<()> {
    let size = source.size().unwrap_or(0);
    let mut pos = 0u64;
    let send = |at: u64, buf: PoolBuf| -> Result<bool> {
        ctx.counters
            .bytes_in
            .fetch_add(buf.len() as u64, Ordering::Relaxed);
        let block = buf.freeze();
        if let Some(tx) = &hash_tx {
            tx.send(HashItem::Data(block.clone()))
                .map_err(|_| Error::Internal("hash"))?;
        }
        Ok(dec_tx.send((at, block)).is_ok())
    };
    let zeros = |n: u64| -> Result<()> {
        if let (Some(tx), true) = (&hash_tx, n > 0) {
            tx.send(HashItem::Zeros(n))
                .map_err(|_| Error::Internal("hash"))?;
        }
        Ok(())
    };
    if let Some(first) = first {
        pos = first.len() as u64;
        if first.len() > 0 && !send(0, first)? {
            return Ok(());
        }
    }
    while pos < size {
        if ctx.opts.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            return Err(Error::Cancelled);
        }
        if ctx.abort.load(Ordering::Relaxed) {
            return Ok(());
        }
        // Holes are never read nor written: count them as skipped (with a bmap, the decoder
        // accounts for unmapped ranges).
        let hole = |to: u64| -> Result<()> {
            let n = to.saturating_sub(pos);
            if bmap.is_none() {
                ctx.counters.skipped.fetch_add(n, Ordering::Relaxed);
            }
            zeros(n)
        };
        let next = match bmap {
            Some(b) => Some(b.next_mapped(pos).unwrap_or((size, size))),
            None => source
                .next_data(pos)
                .map_err(|e| Error::io(Stage::SeekSource, Some(pos), e))?,
        };
        let Some((start, end)) = next else {
            return hole(size);
        };
        let (start, end) = (start.max(pos), end.min(size));
        if start >= end {
            return hole(size);
        }
        // A short gap costs less to read through than to seek over (HTTP).
        let start = if start - pos < source.min_skip() {
            pos
        } else {
            start
        };
        hole(start)?;
        source
            .seek_to(start)
            .map_err(|e| Error::io(Stage::SeekSource, Some(start), e))?;
        pos = start;
        while pos < end {
            let mut buf = pool.get().ok_or(Error::Internal("buffer pool"))?;
            let want = (end - pos).min(buf.capacity() as u64) as usize;
            let n = fill(source, &mut buf.space()[..want])
                .map_err(|e| Error::io(Stage::ReadSource, Some(pos), e))?;
            if n == 0 {
                return Err(Error::io(
                    Stage::ReadSource,
                    Some(pos),
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("source ended at {pos} of {size} bytes"),
                    ),
                ));
            }
            buf.set_len(n);
            if !send(pos, buf)? {
                return Ok(());
            }
            pos += n as u64;
        }
    }
    Ok(())
}

/// A `BufRead` over the blocks the input thread sends (contiguous from offset 0).
struct ChannelReader {
    rx: Receiver<(u64, Block)>,
    cur: Option<Block>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: Receiver<(u64, Block)>) -> Self {
        ChannelReader {
            rx,
            cur: None,
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ChannelReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.cur.as_ref().is_none_or(|b| self.pos >= b.len()) {
            match self.rx.recv() {
                Ok((_, b)) => {
                    self.cur = Some(b);
                    self.pos = 0;
                }
                Err(_) => {
                    self.cur = None;
                    return Ok(&[]);
                }
            }
        }
        Ok(self.cur.as_ref().map_or(&[][..], |b| &b.data()[self.pos..]))
    }

    fn consume(&mut self, amt: usize) {
        self.pos += amt;
    }
}

/// xz streams, one after another (like `xz -d` on concatenated files), each decoded by the
/// multi-threaded decoder.
struct XzMulti<R: BufRead> {
    dec: Option<liblzma::bufread::XzDecoder<R>>,
    threads: u32,
}

fn xz_decoder<R: BufRead>(r: R, threads: u32) -> io::Result<liblzma::bufread::XzDecoder<R>> {
    let stream = liblzma::stream::MtStreamBuilder::new()
        .threads(threads)
        .memlimit_stop(u64::MAX)
        .memlimit_threading(1 << 30)
        .decoder()
        .map_err(io::Error::other)?;
    Ok(liblzma::bufread::XzDecoder::new_stream(r, stream))
}

impl<R: BufRead> Read for XzMulti<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(dec) = self.dec.as_mut() else {
                return Ok(0);
            };
            let n = dec.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            // End of one stream: skip stream padding, then decode the next one if any.
            let Some(dec) = self.dec.take() else {
                return Ok(0);
            };
            let mut r = dec.into_inner();
            loop {
                let avail = r.fill_buf()?;
                if avail.is_empty() {
                    return Ok(0);
                }
                let zeros = avail.iter().take_while(|&&b| b == 0).count();
                if zeros == 0 {
                    break;
                }
                r.consume(zeros);
            }
            self.dec = Some(xz_decoder(r, self.threads)?);
        }
    }
}

/// Gathers qcow2 output runs into large buffers (contiguous guest runs share one write).
struct Batcher<'a> {
    pool: Pool,
    tx: &'a SyncSender<Op>,
    cur: Option<(u64, PoolBuf)>,
}

impl Batcher<'_> {
    fn emit(&mut self, mut guest: u64, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let fits = match &self.cur {
                Some((start, buf)) => {
                    *start + buf.len() as u64 == guest && buf.len() < buf.capacity()
                }
                None => false,
            };
            if !fits {
                self.flush()?;
                let buf = self.pool.get().ok_or(Error::Internal("buffer pool"))?;
                self.cur = Some((guest, buf));
            }
            let Some((_, buf)) = self.cur.as_mut() else {
                return Err(Error::Internal("batcher"));
            };
            let len = buf.len();
            let n = (buf.capacity() - len).min(data.len());
            buf.space()[len..len + n].copy_from_slice(&data[..n]);
            buf.set_len(len + n);
            data = &data[n..];
            guest += n as u64;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if let Some((offset, buf)) = self.cur.take() {
            self.tx
                .send(Op::Data {
                    offset,
                    block: buf.freeze(),
                })
                .map_err(|_| stopped())?;
        }
        Ok(())
    }
}

/// Decodes the source into write operations; returns the image size.
fn decode(
    format: Format,
    map: Option<&ClusterMap>,
    rx: Receiver<(u64, Block)>,
    tx: SyncSender<Op>,
    mut out_pool: Pool,
    capacity: Option<u64>,
    ctx: &Ctx<'_>,
) -> Result<u64> {
    let bmap = ctx.opts.bmap.as_deref();
    let skip_zeros = ctx.skip_zeros;
    let check_fits = |offset: u64, len: usize| -> Result<()> {
        match capacity {
            Some(cap) if offset + len as u64 > cap => Err(Error::TooLarge {
                image_size: offset + len as u64,
                target_size: cap,
                written: offset > 0,
            }),
            _ => Ok(()),
        }
    };
    match format {
        Format::Qcow2 => {
            let map = map.ok_or(Error::Internal("qcow2 map"))?;
            let size = map.header().size;
            if !skip_zeros {
                // The target does not read back zeros where nothing is written (or a dense
                // write was asked for): holes are written as zeros.
                for (offset, len) in map.holes() {
                    tx.send(Op::Zeros { offset, len }).map_err(|_| stopped())?;
                }
            } else {
                // Holes are never written: count them as skipped.
                let holes: u64 = size - map.allocated_bytes();
                ctx.counters.skipped.fetch_add(holes, Ordering::Relaxed);
            }
            let mut batcher = Batcher {
                pool: out_pool,
                tx: &tx,
                cur: None,
            };
            // Uncompressed clusters go to the writer as parts of the input buffers (no copy);
            // decoded clusters are gathered into output buffers.
            let next = || Ok(rx.recv().ok().map(|(_, block)| block));
            map.stream_chunks(next, |guest, piece| {
                if ctx.cancelled() {
                    return Err(stopped());
                }
                match piece {
                    Piece::Shared { chunk, start, len } => tx
                        .send(Op::Data {
                            offset: guest,
                            block: chunk.slice(start, len),
                        })
                        .map_err(|_| stopped()),
                    Piece::Decoded(data) => batcher.emit(guest, data),
                }
            })?;
            batcher.flush()?;
            Ok(size)
        }
        Format::Raw => {
            let mut filter = bmap.map(|b| BmapFilter::new(b, skip_zeros));
            let mut end = 0u64;
            for (offset, block) in rx {
                check_fits(offset, block.len())?;
                end = end.max(offset + block.len() as u64);
                match &mut filter {
                    Some(f) => f.send(&tx, offset, &block, ctx)?,
                    None => tx.send(Op::Data { offset, block }).map_err(|_| stopped())?,
                }
            }
            if let Some(f) = filter {
                end = f.finish(&tx, ctx)?;
            }
            Ok(end)
        }
        Format::Gzip | Format::Zstd | Format::Xz | Format::Bzip2 => {
            let reader = ChannelReader::new(rx);
            let mut dec: Box<dyn Read + '_> = match format {
                Format::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
                Format::Zstd => Box::new(
                    zstd::stream::read::Decoder::with_buffer(reader).map_err(|e| {
                        Error::Decompress {
                            format,
                            decoded: 0,
                            error: e,
                        }
                    })?,
                ),
                Format::Xz => Box::new(XzMulti {
                    dec: Some(xz_decoder(reader, ctx.opts.xz_threads).map_err(|e| {
                        Error::Decompress {
                            format,
                            decoded: 0,
                            error: e,
                        }
                    })?),
                    threads: ctx.opts.xz_threads,
                }),
                _ => Box::new(bzip2::bufread::MultiBzDecoder::new(reader)),
            };
            let mut filter = bmap.map(|b| BmapFilter::new(b, skip_zeros));
            let mut offset = 0u64;
            loop {
                if ctx.cancelled() {
                    return Err(stopped());
                }
                let mut buf = out_pool.get().ok_or(Error::Internal("buffer pool"))?;
                let n = fill(&mut AsReadLike(&mut *dec), buf.space()).map_err(|e| {
                    Error::Decompress {
                        format,
                        decoded: offset,
                        error: e,
                    }
                })?;
                if n == 0 {
                    break;
                }
                buf.set_len(n);
                if offset == 0 && Format::detect(buf.data()) == Format::Qcow2 {
                    return Err(Error::Unsupported(format!(
                        "a qcow2 image inside a {format} stream: decompress it to a file first"
                    )));
                }
                check_fits(offset, n)?;
                let block = buf.freeze();
                match &mut filter {
                    Some(f) => f.send(&tx, offset, &block, ctx)?,
                    None => tx.send(Op::Data { offset, block }).map_err(|_| stopped())?,
                }
                offset += n as u64;
            }
            if let Some(f) = filter {
                if offset != f.size() {
                    return Err(BmapError::ImageSize {
                        expected: f.size(),
                        actual: offset,
                    }
                    .into());
                }
                f.finish(&tx, ctx)?;
            }
            Ok(offset)
        }
    }
}

/// With a bmap: passes on only the mapped parts of the decoded image, each range checked
/// against its checksum; unmapped ranges are skipped (a target that reads back zeros) or
/// written as zeros.
struct BmapFilter<'a> {
    checker: RangeChecker<'a>,
    size: u64,
    /// Image bytes accounted for (sent or skipped).
    covered: u64,
    skip_zeros: bool,
}

impl<'a> BmapFilter<'a> {
    fn new(bmap: &'a Bmap, skip_zeros: bool) -> Self {
        BmapFilter {
            checker: RangeChecker::new(bmap),
            size: bmap.image_size(),
            covered: 0,
            skip_zeros,
        }
    }

    fn size(&self) -> u64 {
        self.size
    }

    fn gap(&mut self, tx: &SyncSender<Op>, to: u64, ctx: &Ctx<'_>) -> Result<()> {
        if to > self.covered {
            let len = to - self.covered;
            if self.skip_zeros {
                ctx.counters.skipped.fetch_add(len, Ordering::Relaxed);
            } else {
                tx.send(Op::Zeros {
                    offset: self.covered,
                    len,
                })
                .map_err(|_| stopped())?;
            }
            self.covered = to;
        }
        Ok(())
    }

    fn send(
        &mut self,
        tx: &SyncSender<Op>,
        offset: u64,
        block: &Block,
        ctx: &Ctx<'_>,
    ) -> Result<()> {
        for (s, e) in self.checker.feed(offset, block.data())? {
            self.gap(tx, offset + s as u64, ctx)?;
            tx.send(Op::Data {
                offset: offset + s as u64,
                block: block.slice(s, e - s),
            })
            .map_err(|_| stopped())?;
            self.covered = offset + e as u64;
        }
        ctx.counters
            .bmap_checked
            .store(self.checker.checked, Ordering::Relaxed);
        Ok(())
    }

    /// Every range seen and checked; the rest of the image accounted for. Returns the size.
    fn finish(mut self, tx: &SyncSender<Op>, ctx: &Ctx<'_>) -> Result<u64> {
        self.checker.finish()?;
        let size = self.size;
        self.gap(tx, size, ctx)?;
        Ok(size)
    }
}

/// What the writer wrote, for the read-back verification: `(offset, len, crc32)`.
type Records = Vec<(u64, u64, u32)>;

/// Whether `b` is all zeros: a comparison with static zeros (an optimised `memcmp` that stops
/// at the first non-zero byte, which data blocks have early).
fn is_zero(mut b: &[u8]) -> bool {
    while !b.is_empty() {
        let n = b.len().min(ZEROS.len());
        if b[..n] != ZEROS[..n] {
            return false;
        }
        b = &b[n..];
    }
    true
}

fn writer_loop<T: Target + ?Sized>(
    target: &mut T,
    rx: Receiver<Op>,
    skip_zeros: bool,
    writeback: Option<SyncSender<(u64, u64)>>,
    ctx: &Ctx<'_>,
) -> Result<Records> {
    let capacity = target.capacity();
    let verify = ctx.opts.verify;
    let mut records = Records::new();
    let mut last_report = Instant::now();
    let zeros = &ZEROS[..];
    let mut head_checked = false;
    // The range written since the last early write-back request.
    let mut dirty: Option<(u64, u64)> = None;
    let mut dirty_bytes = 0u64;
    // Every write is recorded (offset, length, CRC-32) for the read-back verification.
    let mut write = |target: &mut T, offset: u64, data: &[u8]| -> Result<()> {
        if verify {
            let mut crc = flate2::Crc::new();
            crc.update(data);
            records.push((offset, data.len() as u64, crc.sum()));
        }
        target
            .write_at(offset, data)
            .map_err(|e| Error::io(Stage::WriteTarget, Some(offset), e))?;
        ctx.counters
            .written
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        if let Some(tx) = &writeback {
            let end = offset + data.len() as u64;
            let (lo, hi) = dirty.get_or_insert((offset, end));
            *lo = (*lo).min(offset);
            *hi = (*hi).max(end);
            dirty_bytes += data.len() as u64;
            if dirty_bytes >= WRITEBACK_STEP {
                if let Some(range) = dirty.take() {
                    // Never blocks the writer: a busy flusher just gets a larger range later.
                    if tx.try_send(range).is_err() {
                        dirty = Some(range);
                    }
                }
                dirty_bytes = 0;
            }
        }
        Ok(())
    };
    let mut busy = Duration::ZERO;
    for op in rx {
        let t = Instant::now();
        if ctx.opts.cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
            return Err(Error::Cancelled);
        }
        // Never a byte past the image's or the target's end.
        let (offset, len) = match &op {
            Op::Data { offset, block } => (*offset, block.len() as u64),
            Op::Zeros { offset, len } => (*offset, *len),
        };
        let end = offset.saturating_add(len);
        if let Some(limit) = [ctx.image_size, capacity].into_iter().flatten().min() {
            if end > limit {
                return Err(Error::TooLarge {
                    image_size: end,
                    target_size: limit,
                    written: true,
                });
            }
        }
        match op {
            Op::Data { offset, block } => {
                let data = block.data();
                if offset == 0 && !head_checked {
                    head_checked = true;
                    target.check_image_head(data)?;
                }
                if skip_zeros {
                    // One write per run of non-zero blocks; blocks are aligned to the
                    // target's offsets so that holes match filesystem blocks.
                    let mut run_start: Option<usize> = None;
                    let mut skipped = 0u64;
                    let mut at = 0usize;
                    while at < data.len() {
                        let align = ((offset + at as u64) % ZERO_BLOCK as u64) as usize;
                        let end = (at + ZERO_BLOCK - align).min(data.len());
                        if is_zero(&data[at..end]) {
                            skipped += (end - at) as u64;
                            if let Some(s) = run_start.take() {
                                write(target, offset + s as u64, &data[s..at])?;
                            }
                        } else if run_start.is_none() {
                            run_start = Some(at);
                        }
                        at = end;
                    }
                    if let Some(s) = run_start {
                        write(target, offset + s as u64, &data[s..])?;
                    }
                    ctx.counters.skipped.fetch_add(skipped, Ordering::Relaxed);
                } else {
                    write(target, offset, data)?;
                }
            }
            Op::Zeros { offset, len } => {
                if skip_zeros {
                    ctx.counters.skipped.fetch_add(len, Ordering::Relaxed);
                } else {
                    let mut done = 0u64;
                    while done < len {
                        let n = (len - done).min(zeros.len() as u64) as usize;
                        write(target, offset + done, &zeros[..n])?;
                        done += n as u64;
                    }
                }
            }
        }
        if ctx.opts.progress.is_some() && last_report.elapsed() >= ctx.opts.progress_interval {
            last_report = Instant::now();
            ctx.report(Phase::Writing);
        }
        busy += t.elapsed();
    }
    debug!(
        busy_ms = busy.as_millis() as u64,
        done_ms = ctx.start.elapsed().as_millis() as u64,
        "writer done"
    );
    Ok(records)
}

/// Reads the target back: every recorded write must have the same CRC, and everything else
/// must be zero.
fn verify_target<T: Target + ?Sized>(
    target: &mut T,
    size: u64,
    mut records: Records,
    buffer_size: usize,
) -> Result<()> {
    target.drop_cache();
    records.sort_unstable();
    let mut buf = vec![0u8; buffer_size];
    let read = |target: &mut T, offset: u64, len: usize, buf: &mut [u8]| -> Result<()> {
        target
            .read_at(offset, &mut buf[..len])
            .map_err(|e| Error::io(Stage::Verify, Some(offset), e))
    };
    // Everything not written must read as zeros; holes do by definition and are not read.
    let check_zero = |target: &mut T, mut offset: u64, end: u64, buf: &mut [u8]| -> Result<()> {
        while offset < end {
            let Some((start, stop)) = target
                .next_data(offset)
                .map_err(|e| Error::io(Stage::Verify, Some(offset), e))?
            else {
                return Ok(());
            };
            let (start, stop) = (start.max(offset), stop.min(end));
            if start >= stop {
                return Ok(());
            }
            offset = start;
            while offset < stop {
                let n = (stop - offset).min(buf.len() as u64) as usize;
                read(target, offset, n, buf)?;
                if !is_zero(&buf[..n]) {
                    return Err(Error::VerifyMismatch {
                        offset,
                        len: n as u64,
                    });
                }
                offset += n as u64;
            }
        }
        Ok(())
    };
    let mut at = 0u64;
    for (offset, len, crc) in records {
        if offset > at {
            check_zero(target, at, offset, &mut buf)?;
        }
        let mut c = flate2::Crc::new();
        let mut done = 0u64;
        while done < len {
            let n = (len - done).min(buf.len() as u64) as usize;
            target
                .read_at(offset + done, &mut buf[..n])
                .map_err(|e| Error::io(Stage::Verify, Some(offset + done), e))?;
            c.update(&buf[..n]);
            done += n as u64;
        }
        if c.sum() != crc {
            return Err(Error::VerifyMismatch { offset, len });
        }
        at = at.max(offset + len);
    }
    if at < size {
        check_zero(target, at, size, &mut buf)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_before_start() {
        let token = CancelToken::new();
        token.cancel();
        let opts = WriteOptions::builder().cancel(token).build().unwrap();
        let mut src = crate::SeekableSource::new(std::io::Cursor::new(vec![1u8; 1 << 20])).unwrap();
        let mut dst = crate::MemoryTarget::new(1 << 30);
        let err = write_image(&mut src, &mut dst, &opts).unwrap_err();
        assert!(matches!(err, Error::Cancelled), "{err}");
    }

    #[test]
    fn short_source_is_an_error() {
        let data = vec![7u8; 300_000];
        let mut src = crate::StreamSource::new(&data[..], Some(400_000), "cut");
        let mut dst = crate::MemoryTarget::new(1 << 30);
        let err = write_image(&mut src, &mut dst, &WriteOptions::default()).unwrap_err();
        assert!(err.to_string().contains("300000 of 400000"), "{err}");
    }

    #[test]
    fn zero_detection() {
        assert!(is_zero(&[0u8; 4096]));
        let mut b = [0u8; 4096];
        b[4095] = 1;
        assert!(!is_zero(&b));
    }

    #[test]
    fn channel_reader_reads_in_order() {
        let (tx, rx) = sync_channel(4);
        for chunk in [b"abc".to_vec(), Vec::new(), b"defg".to_vec()] {
            tx.send((0, PoolBuf::from_vec(chunk).freeze())).unwrap();
        }
        drop(tx);
        let mut r = ChannelReader::new(rx);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "abcdefg");
    }
}
