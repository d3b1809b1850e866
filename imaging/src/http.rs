//! An HTTP(S) [`Source`] that resumes: a dropped connection or a stalled read is retried with a
//! `Range: bytes=N-` request (bounded retries, exponential backoff), and the resumed bytes are
//! checked to belong to the same object (ETag, Last-Modified, total length) before any of them
//! is used. A changed object is an error, never a silently mixed image.
//!
//! ```no_run
//! use imaging::{FileTarget, HttpSource, WriteOptions, write_image};
//! use std::time::Duration;
//! let mut source = HttpSource::builder("https://images.example/disk.qcow2")
//!     .retries(8)
//!     .read_timeout(Duration::from_secs(20))
//!     .open()?;
//! let mut target = FileTarget::create("/tmp/disk.raw")?;
//! let checksum = imaging::checksum_from_url(
//!     "https://images.example/SHA256SUMS",
//!     "disk.qcow2",
//!     false,
//! )?;
//! let options = WriteOptions::builder().checksum(checksum).build()?;
//! write_image(&mut source, &mut target, &options)?;
//! # Ok::<(), imaging::Error>(())
//! ```
//!
//! The source is blocking (the pipeline runs it on its own input thread): it drives reqwest on
//! a private single-threaded tokio runtime, so it must not be opened or read from inside an
//! async task (use `spawn_blocking`). qcow2 images are read with ranged requests for the
//! header, L1 and L2 tables ([`Source::read_at`]), then streamed in file order with one GET.

use std::io;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, ETAG, HeaderMap, IF_RANGE, LAST_MODIFIED, RANGE,
};
use tracing::{debug, warn};

use crate::checksum::Checksum;
use crate::error::{Error, Result, Stage};
use crate::source::Source;

/// What went wrong with an HTTP source. Carried by [`Error::Http`] (when opening) and inside
/// the `io::Error` of an [`Error::Io`] at [`Stage::ReadSource`] (while reading); get it back
/// with `io_error.get_ref().and_then(|e| e.downcast_ref::<HttpError>())`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The server answered with a status that is not retried (4xx other than 408/429).
    #[error("{url}: HTTP status {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The object changed between the first request and a resumed one.
    #[error(
        "{url}: the object changed while it was downloaded ({what}: was {was}, now {now}); refusing to mix two objects"
    )]
    Changed {
        /// The URL.
        url: String,
        /// Which validator differs: `ETag`, `Last-Modified`, `length` or `Content-Range`.
        what: &'static str,
        /// Its first value.
        was: String,
        /// Its value on the resumed request.
        now: String,
    },
    /// The transfer broke and cannot be resumed safely: the server sent neither an ETag nor a
    /// Last-Modified date (see [`HttpSourceBuilder::allow_unvalidated_resume`]).
    #[error(
        "{url}: transfer broke at byte {offset} and the server gives no ETag or Last-Modified to resume safely"
    )]
    NoValidator {
        /// The URL.
        url: String,
        /// Where the transfer broke.
        offset: u64,
    },
    /// Every retry failed.
    #[error("{url}: gave up at byte {offset} after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// The URL.
        url: String,
        /// Source offset reached.
        offset: u64,
        /// Attempts made without progress.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The request could not be made at all (bad URL, TLS set-up).
    #[error("{url}: {reason}")]
    Request {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// A response was larger than allowed (a checksum file).
    #[error("{url}: response larger than {max} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        max: u64,
    },
}

impl From<HttpError> for io::Error {
    fn from(e: HttpError) -> Self {
        let kind = match e {
            HttpError::Changed { .. } | HttpError::NoValidator { .. } => io::ErrorKind::InvalidData,
            HttpError::RetriesExhausted { .. } => io::ErrorKind::TimedOut,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// Builder of an [`HttpSource`]: retries, backoff and timeouts.
#[derive(Debug, Clone)]
pub struct HttpSourceBuilder {
    url: String,
    retries: u32,
    backoff: Duration,
    max_backoff: Duration,
    read_timeout: Duration,
    connect_timeout: Duration,
    allow_unvalidated: bool,
    client: Option<reqwest::Client>,
}

impl HttpSourceBuilder {
    /// Consecutive failed attempts (without a byte of progress) before giving up (default 10).
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// First backoff delay, doubled after every failure up to `max` (default 250 ms to 8 s).
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.backoff = first;
        self.max_backoff = max.max(first);
        self
    }

    /// A read that brings no byte for this long is a stall: the connection is dropped and
    /// the transfer resumed (default 30 s).
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.read_timeout = d;
        self
    }

    /// Timeout to connect and receive the response headers (default 30 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }

    /// Resume even when the server sends neither an ETag nor a Last-Modified date, checking
    /// only the total length (default false: such a transfer fails at its first break, since
    /// a changed object of the same length could not be told apart; a checksum would).
    pub fn allow_unvalidated_resume(mut self, allow: bool) -> Self {
        self.allow_unvalidated = allow;
        self
    }

    /// Uses this client (custom CA, proxy, headers) instead of a default one. Its own timeouts
    /// apply too.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Sends the first GET and reads the response headers (size, validators).
    pub fn open(self) -> Result<HttpSource> {
        HttpSource::open_with(self)
    }
}

/// What identifies the object across requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
}

/// An HTTP(S) image that resumes after dropped connections and stalls (see the module docs).
pub struct HttpSource {
    url: String,
    cfg: HttpSourceBuilder,
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    size: Option<u64>,
    validators: Validators,
    pos: u64,
    resp: Option<reqwest::Response>,
    pending: bytes::Bytes,
    /// Bytes of the current response to discard (a server that ignored the Range header).
    discard: u64,
    resumes: u32,
}

impl std::fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSource")
            .field("url", &self.url)
            .field("size", &self.size)
            .field("pos", &self.pos)
            .field("resumes", &self.resumes)
            .finish_non_exhaustive()
    }
}

/// One attempt's outcome: retry later, or give up now.
enum Failure {
    Retry(String),
    Fatal(HttpError),
}

impl HttpSource {
    /// A builder for `url` with the default retries and timeouts.
    pub fn builder(url: impl Into<String>) -> HttpSourceBuilder {
        HttpSourceBuilder {
            url: url.into(),
            retries: 10,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            read_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(30),
            allow_unvalidated: false,
            client: None,
        }
    }

    /// Opens `url` with the defaults.
    pub fn open(url: impl Into<String>) -> Result<Self> {
        Self::builder(url).open()
    }

    fn open_with(cfg: HttpSourceBuilder) -> Result<Self> {
        let url = cfg.url.clone();
        let request_err = |reason: String| {
            Error::Http(HttpError::Request {
                url: url.clone(),
                reason,
            })
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::io(Stage::OpenSource, None, e))?;
        let client = match &cfg.client {
            Some(c) => c.clone(),
            None => reqwest::Client::builder()
                .connect_timeout(cfg.connect_timeout)
                .build()
                .map_err(|e| request_err(e.to_string()))?,
        };
        reqwest::Url::parse(&url).map_err(|e| request_err(format!("invalid URL: {e}")))?;
        let mut src = HttpSource {
            url,
            cfg,
            rt,
            client,
            size: None,
            validators: Validators::default(),
            pos: 0,
            resp: None,
            pending: bytes::Bytes::new(),
            discard: 0,
            resumes: 0,
        };
        src.with_retries(0, |s| s.first_request()).map_err(|e| {
            match e.into_inner().map(|e| e.downcast::<HttpError>()) {
                Some(Ok(h)) => Error::Http(*h),
                Some(Err(other)) => Error::io(Stage::OpenSource, None, io::Error::other(other)),
                None => Error::Internal("http"),
            }
        })?;
        debug!(url = %src.url, size = src.size, etag = ?src.validators.etag,
            last_modified = ?src.validators.last_modified, "HTTP source opened");
        Ok(src)
    }

    /// The URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many times a request was retried (resumed) after a failure: a cut or stalled
    /// transfer, a connection error or a 5xx/429 answer.
    pub fn resumes(&self) -> u32 {
        self.resumes
    }

    /// The object's ETag, if the server sent one.
    pub fn etag(&self) -> Option<&str> {
        self.validators.etag.as_deref()
    }

    fn backoff(&self, failures: u32) -> Duration {
        let factor = 1u32 << failures.saturating_sub(1).min(16);
        self.cfg
            .backoff
            .saturating_mul(factor)
            .min(self.cfg.max_backoff)
    }

    /// Runs `attempt` until it succeeds, fails fatally or has failed `retries + 1` times.
    fn with_retries<T>(
        &mut self,
        offset: u64,
        mut attempt: impl FnMut(&mut Self) -> std::result::Result<T, Failure>,
    ) -> io::Result<T> {
        let mut failures = 0u32;
        loop {
            match attempt(self) {
                Ok(v) => return Ok(v),
                Err(Failure::Fatal(e)) => return Err(e.into()),
                Err(Failure::Retry(why)) => {
                    failures += 1;
                    if failures > self.cfg.retries {
                        return Err(HttpError::RetriesExhausted {
                            url: self.url.clone(),
                            offset,
                            attempts: failures,
                            last: why,
                        }
                        .into());
                    }
                    self.resumes += 1;
                    let wait = self.backoff(failures);
                    warn!(url = %self.url, offset, failures, ?wait, reason = %why, "HTTP retry");
                    std::thread::sleep(wait);
                }
            }
        }
    }

    fn send(
        &self,
        range: Option<(u64, Option<u64>)>,
    ) -> std::result::Result<reqwest::Response, Failure> {
        let mut req = self
            .client
            .get(&self.url)
            .header(ACCEPT_ENCODING, "identity");
        if let Some((start, end)) = range {
            let r = match end {
                Some(end) => format!("bytes={start}-{end}"),
                None => format!("bytes={start}-"),
            };
            req = req.header(RANGE, r);
            // A strong ETag, else the date: a changed object then comes back whole (200).
            let if_range = self
                .validators
                .etag
                .as_ref()
                .filter(|e| !e.starts_with("W/"))
                .or(self.validators.last_modified.as_ref());
            if let Some(v) = if_range {
                req = req.header(IF_RANGE, v.as_str());
            }
        }
        let fut = req.send();
        let resp = self
            .rt
            .block_on(async { tokio::time::timeout(self.cfg.connect_timeout, fut).await })
            .map_err(|_| Failure::Retry("no response headers in time".into()))?
            .map_err(|e| Failure::Retry(error_chain(&e)))?;
        let status = resp.status();
        if status.is_server_error()
            || status == StatusCode::TOO_MANY_REQUESTS
            || status == StatusCode::REQUEST_TIMEOUT
        {
            return Err(Failure::Retry(format!("HTTP status {status}")));
        }
        Ok(resp)
    }

    fn first_request(&mut self) -> std::result::Result<(), Failure> {
        let resp = self.send(None)?;
        if resp.status() != StatusCode::OK {
            return Err(Failure::Fatal(HttpError::Status {
                url: self.url.clone(),
                status: resp.status().as_u16(),
            }));
        }
        self.validators = validators(resp.headers());
        self.size = content_length(resp.headers());
        self.resp = Some(resp);
        self.pos = 0;
        Ok(())
    }

    fn changed(&self, what: &'static str, was: impl ToString, now: impl ToString) -> Failure {
        Failure::Fatal(HttpError::Changed {
            url: self.url.clone(),
            what,
            was: was.to_string(),
            now: now.to_string(),
        })
    }

    /// Checks that a response's validators match the first response's.
    fn check_same(&self, headers: &HeaderMap) -> std::result::Result<(), Failure> {
        let now = validators(headers);
        if let (Some(a), Some(b)) = (&self.validators.etag, &now.etag) {
            if a != b {
                return Err(self.changed("ETag", a, b));
            }
        }
        if self.validators.etag.is_some() && now.etag.is_none() {
            return Err(self.changed(
                "ETag",
                self.validators.etag.as_deref().unwrap_or(""),
                "none",
            ));
        }
        if let (Some(a), Some(b)) = (&self.validators.last_modified, &now.last_modified) {
            if a != b {
                return Err(self.changed("Last-Modified", a, b));
            }
        }
        Ok(())
    }

    /// (Re)opens the body at `self.pos` with a ranged request (`end` inclusive, if bounded).
    fn request_at(&mut self, end: Option<u64>) -> std::result::Result<reqwest::Response, Failure> {
        let pos = self.pos;
        if pos > 0 && self.validators == Validators::default() && !self.cfg.allow_unvalidated {
            return Err(Failure::Fatal(HttpError::NoValidator {
                url: self.url.clone(),
                offset: pos,
            }));
        }
        let resp = self.send(Some((pos, end)))?;
        let status = resp.status();
        match status {
            StatusCode::PARTIAL_CONTENT => {
                self.check_same(resp.headers())?;
                let cr = resp
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                let Some(ContentRange { start, total, .. }) = ContentRange::parse(cr) else {
                    return Err(Failure::Fatal(HttpError::Request {
                        url: self.url.clone(),
                        reason: format!("206 with an unreadable Content-Range {cr:?}"),
                    }));
                };
                if start != pos {
                    return Err(self.changed("Content-Range", format!("start {pos}"), cr));
                }
                if let (Some(size), Some(total)) = (self.size, total) {
                    if size != total {
                        return Err(self.changed("length", size, total));
                    }
                }
                if self.size.is_none() {
                    self.size = total;
                }
                self.discard = 0;
                Ok(resp)
            }
            StatusCode::OK => {
                // The whole object: either the server ignores ranges (same object: skip what
                // we have), or If-Range failed because the object changed.
                self.check_same(resp.headers())?;
                let len = content_length(resp.headers());
                if let (Some(size), Some(len)) = (self.size, len) {
                    if size != len {
                        return Err(self.changed("length", size, len));
                    }
                }
                if pos > 0 && self.validators == Validators::default() && len.is_none() {
                    return Err(Failure::Fatal(HttpError::NoValidator {
                        url: self.url.clone(),
                        offset: pos,
                    }));
                }
                self.discard = pos;
                Ok(resp)
            }
            StatusCode::RANGE_NOT_SATISFIABLE => Err(self.changed(
                "length",
                self.size.map_or("unknown".into(), |s| s.to_string()),
                format!("too short for byte {pos}"),
            )),
            s => Err(Failure::Fatal(HttpError::Status {
                url: self.url.clone(),
                status: s.as_u16(),
            })),
        }
    }

    /// Reads the next chunk of the current response into `pending`; `Ok(false)` at its end.
    fn next_chunk(&mut self) -> std::result::Result<bool, Failure> {
        let Some(resp) = self.resp.as_mut() else {
            return Ok(false);
        };
        let timeout = self.cfg.read_timeout;
        let r = self
            .rt
            .block_on(async { tokio::time::timeout(timeout, resp.chunk()).await });
        match r {
            Err(_) => Err(Failure::Retry(format!(
                "read stalled (no data for {timeout:?})"
            ))),
            Ok(Err(e)) => Err(Failure::Retry(error_chain(&e))),
            Ok(Ok(None)) => Ok(false),
            Ok(Ok(Some(mut chunk))) => {
                if self.discard > 0 {
                    let n = (self.discard as usize).min(chunk.len());
                    self.discard -= n as u64;
                    let _ = chunk.split_to(n);
                }
                self.pending = chunk;
                Ok(true)
            }
        }
    }

    /// One attempt to get bytes into `pending` at `self.pos`: `Ok(false)` is the true end.
    fn fill_pending(&mut self) -> std::result::Result<bool, Failure> {
        if self.size.is_some_and(|s| self.pos >= s) {
            return Ok(false);
        }
        if self.resp.is_none() {
            let resp = self.request_at(None)?;
            self.resp = Some(resp);
        }
        loop {
            match self.next_chunk() {
                Ok(true) if self.pending.is_empty() => continue,
                Ok(true) => return Ok(true),
                Ok(false) => {
                    self.resp = None;
                    return match self.size {
                        Some(size) if self.pos < size => Err(Failure::Retry(format!(
                            "connection closed at byte {} of {size}",
                            self.pos
                        ))),
                        _ => Ok(false),
                    };
                }
                Err(e) => {
                    self.resp = None;
                    return Err(e);
                }
            }
        }
    }
}

impl Source for HttpSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pending.is_empty() {
            let pos = self.pos;
            if !self.with_retries(pos, |s| s.fill_pending())? {
                return Ok(0);
            }
        }
        let mut n = buf.len().min(self.pending.len());
        if let Some(size) = self.size {
            // Never more than the object's announced length.
            n = n.min((size - self.pos.min(size)) as usize);
            if n == 0 {
                return Err(HttpError::Changed {
                    url: self.url.clone(),
                    what: "length",
                    was: size.to_string(),
                    now: "longer".into(),
                }
                .into());
            }
        }
        let chunk = self.pending.split_to(n);
        buf[..n].copy_from_slice(&chunk);
        self.pos += n as u64;
        Ok(n)
    }

    fn size(&self) -> Option<u64> {
        self.size
    }

    fn is_seekable(&self) -> bool {
        self.size.is_some()
    }

    fn seek_to(&mut self, offset: u64) -> io::Result<()> {
        if offset != self.pos {
            self.resp = None;
            self.pending = bytes::Bytes::new();
            self.pos = offset;
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    /// A seek is a new ranged GET (a round trip and a fresh TCP window): gaps under 8 MiB are
    /// read through.
    fn min_skip(&self) -> u64 {
        8 << 20
    }

    /// One ranged GET for exactly these bytes (resumed like [`Source::read`]).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        self.resp = None;
        self.pending = bytes::Bytes::new();
        self.pos = offset;
        let end = offset + buf.len() as u64 - 1;
        let mut done = 0usize;
        while done < buf.len() {
            let at = self.pos;
            let got = self.with_retries(at, |s| {
                if s.resp.is_none() {
                    let r = s.request_at(Some(end))?;
                    s.resp = Some(r);
                }
                match s.next_chunk() {
                    Ok(true) => Ok(true),
                    Ok(false) => {
                        s.resp = None;
                        Err(Failure::Retry(format!(
                            "ranged response ended at byte {} of {}",
                            s.pos,
                            end + 1
                        )))
                    }
                    Err(e) => {
                        s.resp = None;
                        Err(e)
                    }
                }
            });
            got.map_err(|e| Error::io(Stage::ReadSource, Some(at), e))?;
            let n = self.pending.len().min(buf.len() - done);
            let chunk = self.pending.split_to(n);
            buf[done..done + n].copy_from_slice(&chunk);
            done += n;
            self.pos += n as u64;
        }
        // The rest of a 200 response (a server without ranges) is not wanted.
        self.resp = None;
        self.pending = bytes::Bytes::new();
        Ok(())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn validators(h: &HeaderMap) -> Validators {
    let get = |k| {
        h.get(k)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    Validators {
        etag: get(ETAG),
        last_modified: get(LAST_MODIFIED),
    }
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(CONTENT_LENGTH)?.to_str().ok()?.trim().parse().ok()
}

/// The `Content-Range` of a 206 response (RFC 9110 §14.4): `bytes START-END/TOTAL`, TOTAL
/// `*` when unknown. A resumed transfer must start where asked and have the same total.
///
/// ```
/// use imaging::ContentRange;
/// let r = ContentRange::parse("bytes 100-199/1000").unwrap();
/// assert_eq!((r.start, r.end, r.total), (100, 199, Some(1000)));
/// assert_eq!(r.to_string(), "bytes 100-199/1000");
/// assert_eq!(ContentRange::parse("bytes 5-4/10"), None); // END before START
/// assert_eq!(ContentRange::parse("bytes 0-10/10"), None); // END past the total
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    /// First byte.
    pub start: u64,
    /// Last byte (inclusive).
    pub end: u64,
    /// The object's length, if the server says it.
    pub total: Option<u64>,
}

impl ContentRange {
    /// Parses and checks a header value (`START <= END`, `END < TOTAL`); `None` if it is
    /// anything else (an unsatisfied-range form `bytes */TOTAL` included). Never panics.
    pub fn parse(v: &str) -> Option<ContentRange> {
        let rest = v.trim().strip_prefix("bytes")?;
        if !rest.starts_with([' ', '\t']) {
            return None;
        }
        let (range, total) = rest.trim_start().split_once('/')?;
        let (a, b) = range.split_once('-')?;
        let num = |t: &str| -> Option<u64> {
            let t = t.trim();
            if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            t.parse().ok()
        };
        let total = match total.trim() {
            "*" => None,
            t => Some(num(t)?),
        };
        let (start, end) = (num(a)?, num(b)?);
        if start > end || total.is_some_and(|t| end >= t) {
            return None;
        }
        Some(ContentRange { start, end, total })
    }
}

impl std::fmt::Display for ContentRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bytes {}-{}/", self.start, self.end)?;
        match self.total {
            Some(t) => write!(f, "{t}"),
            None => f.write_str("*"),
        }
    }
}

/// Downloads a checksum file (at most 1 MiB, retried like an image) and returns the checksum
/// listed for `image_name` (its base name is matched; see [`Checksum::from_list`]).
///
/// ```no_run
/// let c = imaging::checksum_from_url("https://example.org/SHA256SUMS", "disk.raw.zst", false)?;
/// # Ok::<(), imaging::Error>(())
/// ```
pub fn checksum_from_url(url: &str, image_name: &str, allow_md5: bool) -> Result<Checksum> {
    const MAX: u64 = 1 << 20;
    let mut src = HttpSource::builder(url)
        .retries(3)
        .allow_unvalidated_resume(true)
        .open()?;
    if src.size().is_some_and(|s| s > MAX) {
        return Err(Error::Http(HttpError::TooLarge {
            url: url.to_string(),
            max: MAX,
        }));
    }
    let mut text = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = src
            .read(&mut buf)
            .map_err(|e| Error::io(Stage::OpenSource, Some(text.len() as u64), e))?;
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
        if text.len() as u64 > MAX {
            return Err(Error::Http(HttpError::TooLarge {
                url: url.to_string(),
                max: MAX,
            }));
        }
    }
    Checksum::from_list(&String::from_utf8_lossy(&text), image_name, allow_md5).map_err(|e| match e
    {
        Error::ChecksumNotListed { name, .. } => Error::ChecksumNotListed {
            list: url.to_string(),
            name,
        },
        e => e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    fn cr(v: &str) -> Option<(u64, u64, Option<u64>)> {
        ContentRange::parse(v).map(|r| (r.start, r.end, r.total))
    }

    #[test]
    fn content_range() {
        assert_eq!(cr("bytes 10-19/100"), Some((10, 19, Some(100))));
        assert_eq!(cr("bytes 0-0/*"), Some((0, 0, None)));
        assert_eq!(cr("items 0-0/1"), None);
        assert_eq!(cr("bytes 5/10"), None);
        assert_eq!(cr("bytes */10"), None);
        assert_eq!(cr("bytes10-19/100"), None);
        assert_eq!(cr("bytes +1-2/3"), None);
        assert_eq!(cr("bytes 1-2/-3"), None);
        assert_eq!(cr("bytes 1-18446744073709551616/*"), None);
    }

    proptest! {
        #[test]
        fn content_range_parse_emit(start in any::<u64>(), len in any::<u64>(), total in any::<Option<u64>>()) {
            let end = start.saturating_add(len);
            let r = ContentRange { start, end, total };
            let parsed = ContentRange::parse(&r.to_string());
            let valid = total.is_none_or(|t| end < t);
            prop_assert_eq!(parsed, valid.then_some(r));
        }

        #[test]
        fn content_range_never_panics(s in ".{0,40}") {
            if let Some(r) = ContentRange::parse(&s) {
                prop_assert!(r.start <= r.end);
                prop_assert!(r.total.is_none_or(|t| r.end < t));
            }
        }
    }
}
