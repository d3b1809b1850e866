//! The HTTP transport: [`ClientBuilder`] options, [`Client`] with authentication (sessions,
//! basic, none), TLS, timeouts, retries, a per-BMC concurrency limit, a body-size cap and
//! ETag-aware writes. The typed operations are in [`crate::ops`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), redfish_client::Error> {
//! use redfish_client::Client;
//! use redfish_client::model::ComputerSystem;
//!
//! let client = Client::builder("https://10.0.0.42")
//!     .session_auth("admin", "password")
//!     .ca_cert_pem(std::fs::read("bmc-ca.pem").unwrap())
//!     .build()?;
//! for system in client.systems().await? {
//!     println!("{:?} {:?}", system.id, system.power_state);
//! }
//! let raw = client.get_json("/redfish/v1/Managers").await?; // the raw escape hatch
//! client.close().await?; // DELETEs the session
//! # let _ = raw; Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::{Mutex, OnceCell, Semaphore};
use tracing::Instrument;

use crate::error::{Error, ErrorBody, Result, StatusDetail};
use crate::etag::{self, EtagPolicy};
use crate::model::{Manager, ServiceRoot, Task};
use crate::odata::{Collection, Link};
use crate::quirks::{Quirk, Quirks};

/// A password or token: never shown by `Debug`, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How the client authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMethod {
    /// A Redfish session: one `POST Sessions` per client, `X-Auth-Token` on every request,
    /// re-login once on 401, `DELETE` of the session on [`Client::close`] (or on drop).
    #[default]
    Session,
    /// HTTP Basic on every request.
    Basic,
    /// No credentials.
    None,
}

/// Retry behaviour of a [`Client`].
///
/// Idempotent requests (GET, HEAD, PUT, DELETE) are retried on connection failures,
/// timeouts, 408, 429, 500, 502, 503 and 504; any request is retried when it certainly was not
/// sent (connect failure) or the service said 429/503 (not processed). `Retry-After` is
/// honoured up to [`RetryPolicy::max_retry_after`]; otherwise the pause doubles from
/// [`RetryPolicy::initial_backoff`]. Actions answered with a "not ready yet" message
/// (iDRAC SYS518, iLO InvalidOperationForSystemState) are retried `not_ready_retries` times.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    max_retries: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_retry_after: Duration,
    not_ready_retries: u32,
    not_ready_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 2,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(30),
            not_ready_retries: 3,
            not_ready_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            not_ready_retries: 0,
            ..Self::default()
        }
    }
    /// Retries after the first attempt (default 2).
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }
    /// First pause between attempts (default 500 ms), doubled each time.
    pub fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }
    /// Longest pause from backoff (default 10 s).
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }
    /// Longest `Retry-After` honoured (default 30 s); a longer one is cut to this.
    pub fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }
    /// Retries of an action answered "not ready yet" (default 3, 5 s apart).
    pub fn not_ready(mut self, retries: u32, delay: Duration) -> Self {
        self.not_ready_retries = retries;
        self.not_ready_delay = delay;
        self
    }
}

/// A retry budget shared by many clients (one per BMC of a fleet), so that a failing rack
/// causes no retry storm: retries are allowed as a ratio of the requests made plus a small
/// floor per second, like Finagle's `RetryBudget` and gRPC's retry throttling.
///
/// Every first attempt deposits `ratio` of a token and every retry withdraws one; the
/// balance also refills by `min_retries_per_sec` each second and never exceeds
/// `max_balance`. When it is empty the retry is not made and the caller gets the last answer
/// (or error) at once. Clones share the same balance; give the same budget to every
/// [`ClientBuilder::retry_budget`] of a fleet. Time is tokio's, so tests can pause it.
///
/// ```
/// use redfish_client::{Client, RetryBudget};
/// // Retries up to 10% of requests, plus 5 per second, across the whole fleet.
/// let budget = RetryBudget::new(0.1, 5.0);
/// let clients: Vec<Client> = (0..100)
///     .map(|i| Client::builder(format!("http://127.0.0.1:{}", 9000 + i))
///         .retry_budget(budget.clone())
///         .build()
///         .unwrap())
///     .collect();
/// assert_eq!(budget.stats().retries, 0);
/// # drop(clients);
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    inner: Arc<BudgetInner>,
}

/// Balances are kept in millionths of a retry, so that ratios add up exactly.
const MICRO: f64 = 1e6;

struct BudgetInner {
    ratio: u64,
    min_per_sec: f64,
    max_balance: u64,
    state: std::sync::Mutex<BudgetState>,
}

#[derive(Debug, Clone, Copy)]
struct BudgetState {
    balance: u64,
    last_refill: tokio::time::Instant,
    stats: RetryBudgetStats,
}

/// Counters of a [`RetryBudget`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryBudgetStats {
    /// First attempts made (deposits).
    pub requests: u64,
    /// Retries allowed.
    pub retries: u64,
    /// Retries refused because the budget was empty.
    pub refused: u64,
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("ratio", &(self.inner.ratio as f64 / MICRO))
            .field("min_retries_per_sec", &self.inner.min_per_sec)
            .field("max_balance", &(self.inner.max_balance as f64 / MICRO))
            .field("stats", &self.stats())
            .finish()
    }
}

impl RetryBudget {
    /// Retries allowed: `ratio` of the requests (e.g. 0.2 for 20%) plus `min_retries_per_sec`;
    /// at most 10 seconds' worth of the floor (and at least 10 retries) can be saved up.
    pub fn new(ratio: f64, min_retries_per_sec: f64) -> Self {
        let min = min_retries_per_sec.max(0.0);
        Self::with_max_balance(ratio, min, (min * 10.0).max(10.0))
    }

    /// As [`RetryBudget::new`], choosing how many retries can be saved up.
    pub fn with_max_balance(ratio: f64, min_retries_per_sec: f64, max_balance: f64) -> Self {
        let ratio = if ratio.is_finite() {
            ratio.max(0.0)
        } else {
            0.0
        };
        let min = if min_retries_per_sec.is_finite() {
            min_retries_per_sec.max(0.0)
        } else {
            0.0
        };
        let max = if max_balance.is_finite() {
            max_balance.max(0.0)
        } else {
            0.0
        };
        let micro = |x: f64| (x.min(1e12) * MICRO).round() as u64;
        Self {
            inner: Arc::new(BudgetInner {
                ratio: micro(ratio),
                min_per_sec: min,
                max_balance: micro(max),
                state: std::sync::Mutex::new(BudgetState {
                    balance: micro(min.min(max)),
                    last_refill: tokio::time::Instant::now(),
                    stats: RetryBudgetStats::default(),
                }),
            }),
        }
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut BudgetState, &BudgetInner) -> R) -> R {
        let mut g = match self.inner.state.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let now = tokio::time::Instant::now();
        let secs = now.saturating_duration_since(g.last_refill).as_secs_f64();
        g.last_refill = now;
        let refill = (secs * self.inner.min_per_sec * MICRO).min(1e18) as u64;
        g.balance = g.balance.saturating_add(refill).min(self.inner.max_balance);
        f(&mut g, &self.inner)
    }

    /// Count a first attempt.
    pub fn deposit(&self) {
        self.with_state(|s, i| {
            s.stats.requests += 1;
            s.balance = s.balance.saturating_add(i.ratio).min(i.max_balance);
        });
    }

    /// Take one retry from the budget; false (and counted as refused) when it is empty.
    pub fn try_withdraw(&self) -> bool {
        self.with_state(|s, _| {
            if s.balance >= MICRO as u64 {
                s.balance -= MICRO as u64;
                s.stats.retries += 1;
                true
            } else {
                s.stats.refused += 1;
                false
            }
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> RetryBudgetStats {
        self.with_state(|s, _| s.stats)
    }

    /// Retries available now.
    pub fn balance(&self) -> f64 {
        self.with_state(|s, _| s.balance as f64 / MICRO)
    }
}

/// Options of a [`Client`]; from [`Client::builder`].
///
/// ```
/// use std::time::Duration;
/// use redfish_client::{Client, EtagPolicy, RetryPolicy};
/// let client = Client::builder("https://127.0.0.1:8443")
///     .basic_auth("admin", "password")
///     .connect_timeout(Duration::from_secs(3))
///     .request_timeout(Duration::from_secs(30))
///     .max_concurrent_requests(2)
///     .max_body_bytes(4 << 20)
///     .retry(RetryPolicy::default().max_retries(1))
///     .etag_policy(EtagPolicy::WeakAsStrong)
///     .build()
///     .unwrap();
/// assert!(!format!("{client:?}").contains("password"));
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    url: String,
    auth: AuthMethod,
    username: String,
    password: Secret,
    ca_pems: Vec<Vec<u8>>,
    accept_invalid_certs: bool,
    pins: Vec<String>,
    connect_timeout: Duration,
    request_timeout: Duration,
    max_concurrent: usize,
    max_body: usize,
    retry: RetryPolicy,
    etag: EtagPolicy,
    quirks: Option<Quirks>,
    user_agent: String,
    budget: Option<RetryBudget>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("url", &self.url)
            .field("auth", &self.auth)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("ca_certs", &self.ca_pems.len())
            .field("accept_invalid_certs", &self.accept_invalid_certs)
            .field("pinned_certs", &self.pins)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("max_concurrent", &self.max_concurrent)
            .field("max_body", &self.max_body)
            .field("retry", &self.retry)
            .field("etag", &self.etag)
            .field("quirks", &self.quirks)
            .field("retry_budget", &self.budget)
            .finish()
    }
}

impl ClientBuilder {
    /// Credentials and the method to use them with.
    pub fn auth(
        mut self,
        method: AuthMethod,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        self.auth = method;
        self.username = username.into();
        self.password = Secret::new(password);
        self
    }
    /// Log in with a Redfish session (the default method).
    pub fn session_auth(self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth(AuthMethod::Session, username, password)
    }
    /// HTTP Basic on every request.
    pub fn basic_auth(self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth(AuthMethod::Basic, username, password)
    }
    /// No credentials (service root, or a service without auth).
    pub fn no_auth(mut self) -> Self {
        self.auth = AuthMethod::None;
        self
    }
    /// Trust this PEM CA bundle (one or more certificates) in addition to the system's roots.
    pub fn ca_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pems.push(pem.into());
        self
    }
    /// Accept any certificate, including self-signed and expired ones, for any name.
    /// Traffic is still encrypted but anyone on the path can read it: use only on a lab
    /// network. TLS is verified by default.
    pub fn danger_accept_invalid_certs(mut self, yes: bool) -> Self {
        self.accept_invalid_certs = yes;
        self
    }
    /// Trust the service by its own certificate: the certificate it presents must have this
    /// SHA-256 fingerprint (64 hex digits, with or without colons, or openssl's
    /// `sha256 Fingerprint=AB:CD:..` line as printed by
    /// `openssl x509 -noout -fingerprint -sha256`). May be given several times (during a
    /// certificate rollover, say). With pins, the chain, name and dates are not checked
    /// (BMCs' self-signed certificates rarely pass those) but the TLS handshake still is:
    /// only the holder of a pinned certificate's key gets through. Exclusive with
    /// [`ca_cert_pem`](Self::ca_cert_pem) and
    /// [`danger_accept_invalid_certs`](Self::danger_accept_invalid_certs), and needs an
    /// `https` URL; [`build`](Self::build) says so otherwise, or when a fingerprint is
    /// malformed.
    ///
    /// ```
    /// use redfish_client::Client;
    /// let fp = "sha256 Fingerprint=5E:9A:1C:44:0D:2B:8F:71:A3:06:CB:19:E2:57:90:4D:\
    ///           6F:12:88:B0:3C:D5:7A:E1:94:20:6B:FE:08:C3:5D:A7";
    /// let client = Client::builder("https://127.0.0.1:8443")
    ///     .basic_auth("admin", "password")
    ///     .pin_certificate_sha256(fp)
    ///     .build()
    ///     .unwrap();
    /// assert!(Client::builder("https://127.0.0.1:8443")
    ///     .pin_certificate_sha256("not a fingerprint")
    ///     .build()
    ///     .is_err());
    /// ```
    pub fn pin_certificate_sha256(mut self, fingerprint: impl Into<String>) -> Self {
        self.pins.push(fingerprint.into());
        self
    }
    /// TCP (and TLS) connect timeout (default 5 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// Whole-request timeout, response body included (default 60 s).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }
    /// Most requests in flight to this BMC at once (default 4; BMCs are small computers).
    pub fn max_concurrent_requests(mut self, n: usize) -> Self {
        self.max_concurrent = n.max(1);
        self
    }
    /// Largest response body accepted (default 16 MiB); a larger or endless one fails with
    /// [`Error::BodyTooLarge`] after reading at most this much.
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body = n;
        self
    }
    /// Retry behaviour.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }
    /// Share a fleet-wide [`RetryBudget`]: retries of this client are also limited by it.
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }
    /// How to send `If-Match`.
    pub fn etag_policy(mut self, policy: EtagPolicy) -> Self {
        self.etag = policy;
        self
    }
    /// Use these quirks instead of detecting them from the service.
    pub fn quirks(mut self, quirks: Quirks) -> Self {
        self.quirks = Some(quirks);
        self
    }
    /// The `User-Agent` header.
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Build the client. No request is sent until the first call.
    pub fn build(self) -> Result<Client> {
        let mut base = Url::parse(&self.url).map_err(|e| Error::build("service URL", e))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(Error::build(
                "service URL",
                format!("{}: need http(s)://host[:port]", self.url),
            ));
        }
        base.set_path("/");
        base.set_query(None);
        let pins = self
            .pins
            .iter()
            .map(|p| {
                crate::pin::parse_fingerprint(p).ok_or_else(|| {
                    Error::build(
                        "certificate pin",
                        format!("{p:?} is not a SHA-256 fingerprint (64 hex digits)"),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        if !pins.is_empty() {
            if base.scheme() != "https" {
                return Err(Error::build("certificate pin", "pins need an https URL"));
            }
            if !self.ca_pems.is_empty() || self.accept_invalid_certs {
                return Err(Error::build(
                    "certificate pin",
                    "pins replace CA certificates and accepting invalid certificates: give one",
                ));
            }
        }
        let mut http = reqwest::Client::builder()
            .use_rustls_tls()
            // Loading the system's root store costs milliseconds per client: skip it for
            // plain-HTTP services (redirects stay on the same origin, so never reach TLS),
            // which keeps a client per BMC cheap across a fleet.
            .tls_built_in_root_certs(base.scheme() == "https")
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .user_agent(self.user_agent.clone())
            .pool_max_idle_per_host(self.max_concurrent)
            .danger_accept_invalid_certs(self.accept_invalid_certs)
            .redirect(same_origin_redirects());
        for pem in &self.ca_pems {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::build("CA certificate", e))?;
            if certs.is_empty() {
                return Err(Error::build(
                    "CA certificate",
                    "no certificate in the PEM data",
                ));
            }
            for c in certs {
                http = http.add_root_certificate(c);
            }
        }
        if !pins.is_empty() {
            let tls = crate::pin::client_config(pins)
                .map_err(|e| Error::build("TLS configuration", e))?;
            http = http.use_preconfigured_tls(tls);
        }
        let http = http.build().map_err(|e| Error::build("HTTP client", e))?;
        // The Basic header, computed once (reqwest's own encoding), marked sensitive.
        let basic = http
            .get(base.clone())
            .basic_auth(&self.username, Some(self.password.expose()))
            .build()
            .ok()
            .and_then(|r| r.headers().get(reqwest::header::AUTHORIZATION).cloned())
            .map(|mut v| {
                v.set_sensitive(true);
                v
            })
            .unwrap_or_else(|| HeaderValue::from_static(""));
        let quirks = OnceCell::new_with(self.quirks.clone());
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                base,
                auth: self.auth,
                username: self.username,
                password: self.password,
                session: Mutex::new(None),
                session_gen: AtomicU64::new(0),
                limit: Semaphore::new(self.max_concurrent),
                max_body: self.max_body,
                retry: self.retry,
                budget: self.budget,
                basic,
                etag: self.etag,
                root: OnceCell::new(),
                quirks,
                urls: std::sync::Mutex::new(std::collections::HashMap::new()),
            }),
        })
    }
}

/// Follow at most 5 redirects, and only to the same scheme, host and port: a redirect must
/// never carry the session token or password elsewhere. 307/308 keep method and body
/// (sushy-emulator redirects `Systems/<name>` to `Systems/<uuid>`).
fn same_origin_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if attempt.previous().len() > 5 {
            attempt.error("too many redirects")
        } else if !same {
            attempt.error("redirect to another origin refused")
        } else {
            attempt.follow()
        }
    })
}

#[derive(Clone)]
struct SessionState {
    token: Secret,
    location: Option<String>,
    generation: u64,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    auth: AuthMethod,
    username: String,
    password: Secret,
    session: Mutex<Option<SessionState>>,
    session_gen: AtomicU64,
    limit: Semaphore,
    max_body: usize,
    retry: RetryPolicy,
    budget: Option<RetryBudget>,
    /// `Authorization: Basic ...`, sensitive.
    basic: HeaderValue,
    etag: EtagPolicy,
    root: OnceCell<ServiceRoot>,
    quirks: OnceCell<Quirks>,
    urls: std::sync::Mutex<std::collections::HashMap<Box<str>, Url>>,
}

impl Drop for Inner {
    /// A session left open uses one of the BMC's few slots (iDRAC RAC0218) until it times out:
    /// delete it in the background if [`Client::close`] was not called.
    fn drop(&mut self) {
        let Some(state) = self.session.get_mut().take() else {
            return;
        };
        let Some(location) = state.location else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let Ok(url) = self.base.join(&location) else {
            return;
        };
        let http = self.http.clone();
        handle.spawn(async move {
            let _ = http
                .delete(url)
                .header("X-Auth-Token", state.token.expose())
                .send()
                .await;
        });
    }
}

/// A Redfish client for one service (one BMC). Cheap to clone; clones share the session,
/// the connection pool and the concurrency limit.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.inner.base.as_str())
            .field("auth", &self.inner.auth)
            .field("username", &self.inner.username)
            .finish_non_exhaustive()
    }
}

/// A response, body read (up to the cap) and status not yet judged.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status.
    pub status: StatusCode,
    /// Response headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// `ETag` header, else the body's `@odata.etag`.
    pub fn etag(&self) -> Option<String> {
        self.header("etag").map(str::to_owned).or_else(|| {
            let v: Value = serde_json::from_slice(&self.body).ok()?;
            v.get("@odata.etag")?.as_str().map(str::to_owned)
        })
    }
    /// `Location` header.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
    /// `Retry-After` as a duration (seconds or an HTTP date).
    pub fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(self.header("retry-after")?)
    }
    /// The body as JSON (`Value::Null` when empty).
    pub fn json(&self) -> std::result::Result<Value, serde_json::Error> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body)
    }
}

/// Paths whose URLs a client remembers.
const URL_CACHE: usize = 512;

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Whether a body may hold an `error` object or `@Message.ExtendedInfo` (a byte search, far
/// cheaper than parsing).
fn may_report_error(body: &[u8]) -> bool {
    memchr::memmem::find(body, b"\"error\"").is_some()
        || memchr::memmem::find(body, b"@Message.ExtendedInfo").is_some()
}

/// `Retry-After`: delay-seconds or an HTTP-date.
pub(crate) fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The outcome of a POST (an action): done, or accepted as a task to watch.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ActionOutcome {
    /// Completed (200/201/204), with the body if any.
    Done {
        /// HTTP status.
        status: u16,
        /// The JSON body (`Null` when empty).
        body: Value,
    },
    /// 202 Accepted: a task to poll with [`Client::wait_task`].
    Accepted(TaskMonitor),
}

impl ActionOutcome {
    /// The outcome of a successful (2xx) answer: a 202 with a `Location` (or a body with an
    /// `@odata.id`) is a task to watch; anything else is done.
    pub(crate) fn of(resp: &Response) -> Self {
        if resp.status == StatusCode::ACCEPTED {
            let location = resp.location().map(str::to_owned).or_else(|| {
                let v = resp.json().ok()?;
                v.get("@odata.id")?.as_str().map(str::to_owned)
            });
            if let Some(location) = location {
                return ActionOutcome::Accepted(TaskMonitor {
                    location,
                    retry_after: resp.retry_after(),
                });
            }
        }
        ActionOutcome::Done {
            status: resp.status.as_u16(),
            body: resp.json().unwrap_or(Value::Null),
        }
    }
}

/// Where to watch a long-running operation: the `Location` of a 202.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskMonitor {
    /// Task monitor (or Task) path.
    pub location: String,
    /// The service's `Retry-After`, if any.
    pub retry_after: Option<Duration>,
}

fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
    )
}

impl Client {
    /// Options for a client of the service at `url` (`https://host[:port]`; any path is ignored).
    pub fn builder(url: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            url: url.into(),
            auth: AuthMethod::None,
            username: String::new(),
            password: Secret::new(""),
            ca_pems: Vec::new(),
            accept_invalid_certs: false,
            pins: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            max_concurrent: 4,
            max_body: 16 << 20,
            retry: RetryPolicy::default(),
            etag: EtagPolicy::default(),
            quirks: None,
            budget: None,
            user_agent: concat!("redfish-client/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// The service's base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    fn url(&self, path: &str) -> Result<Url> {
        // Parsing a URL per request is measurable on the hot path: remember the last paths.
        if let Some(u) = lock(&self.inner.urls).get(path) {
            return Ok(u.clone());
        }
        let url = self.parse_url(path)?;
        let mut cache = lock(&self.inner.urls);
        if cache.len() >= URL_CACHE {
            cache.clear();
        }
        cache.insert(path.into(), url.clone());
        Ok(url)
    }

    fn parse_url(&self, path: &str) -> Result<Url> {
        let url = self
            .inner
            .base
            .join(path)
            .map_err(|e| Error::build("request URL", format!("{path}: {e}")))?;
        if url.origin() != self.inner.base.origin() {
            return Err(Error::build(
                "request URL",
                format!("{path} is not on {}", self.inner.base),
            ));
        }
        Ok(url)
    }

    /// A request with the Redfish headers and, if `with_auth`, the credentials; also the
    /// session generation the token belongs to.
    pub(crate) async fn build_request(
        &self,
        method: &Method,
        path: &str,
        accept: &'static str,
        with_auth: bool,
    ) -> Result<(reqwest::RequestBuilder, Option<u64>)> {
        let url = self.url(path)?;
        let mut req = self
            .inner
            .http
            .request(method.clone(), url)
            .header(reqwest::header::ACCEPT, HeaderValue::from_static(accept))
            .header("OData-Version", HeaderValue::from_static("4.0"));
        let mut generation = None;
        if with_auth {
            match self.inner.auth {
                AuthMethod::None => {}
                AuthMethod::Basic => {
                    req = req.header(reqwest::header::AUTHORIZATION, self.inner.basic.clone());
                }
                AuthMethod::Session => {
                    let state = self.session_state().await?;
                    let mut v = HeaderValue::from_str(state.token.expose())
                        .map_err(|e| Error::build("X-Auth-Token", e))?;
                    v.set_sensitive(true);
                    req = req.header("X-Auth-Token", v);
                    generation = Some(state.generation);
                }
            }
        }
        Ok((req, generation))
    }

    /// Map a reqwest error to ours.
    pub(crate) fn transport_error(method: &Method, path: &str, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            Error::Timeout {
                method: method.clone(),
                path: path.to_owned(),
            }
        } else {
            Error::Transport {
                method: method.clone(),
                path: path.to_owned(),
                not_sent: e.is_connect(),
                source: e,
            }
        }
    }

    /// One HTTP exchange, no retries: concurrency permit, auth header, body cap.
    async fn send_once(
        &self,
        method: &Method,
        path: &str,
        body: Option<&[u8]>,
        if_match: Option<&str>,
        with_auth: bool,
    ) -> Result<(Response, Option<u64>)> {
        let _permit = self
            .inner
            .limit
            .acquire()
            .await
            .map_err(|e| Error::build("concurrency limit", e))?;
        let (mut req, generation) = self
            .build_request(method, path, "application/json", with_auth)
            .await?;
        if let Some(b) = body {
            req = req
                .header(
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )
                .body(b.to_vec());
        }
        if let Some(m) = if_match {
            let v = HeaderValue::from_str(m).map_err(|e| Error::build("If-Match", e))?;
            req = req.header(reqwest::header::IF_MATCH, v);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| Self::transport_error(method, path, e))?;
        Ok((self.read_response(method, path, resp).await?, generation))
    }

    /// Read a response's body, up to the cap.
    pub(crate) async fn read_response(
        &self,
        method: &Method,
        path: &str,
        mut resp: reqwest::Response,
    ) -> Result<Response> {
        let status = resp.status();
        let headers = std::mem::take(resp.headers_mut());
        let too_large = || Error::BodyTooLarge {
            method: method.clone(),
            path: path.to_owned(),
            limit: self.inner.max_body,
        };
        let declared = resp.content_length();
        if declared.is_some_and(|n| n > self.inner.max_body as u64) {
            return Err(too_large());
        }
        let mut buf = Vec::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| Self::transport_error(method, path, e))?
        {
            if buf.len() + chunk.len() > self.inner.max_body {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        tracing::debug!(status = status.as_u16(), bytes = buf.len(), "response");
        Ok(Response {
            status,
            headers,
            body: buf,
        })
    }

    /// Send with retries and session re-login; the status is not judged.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
        if_match: Option<&str>,
    ) -> Result<Response> {
        self.send_with(method, path, body, if_match, true).await
    }

    /// [`Client::send`], choosing whether credentials go with the request (the service root
    /// is read without them unless basic authentication is in use).
    async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&[u8]>,
        if_match: Option<&str>,
        with_auth: bool,
    ) -> Result<Response> {
        let span = tracing::debug_span!("redfish", %method, path, host = self.inner.base.host_str().unwrap_or(""));
        async {
            let policy = &self.inner.retry;
            let mut relogged = false;
            let mut attempt = 0u32;
            if let Some(b) = &self.inner.budget {
                b.deposit();
            }
            loop {
                let delay = match self
                    .send_once(&method, path, body, if_match, with_auth)
                    .await
                {
                    Ok((resp, generation)) => {
                        let code = resp.status.as_u16();
                        if code == 401
                            && with_auth
                            && self.inner.auth == AuthMethod::Session
                            && !relogged
                        {
                            tracing::debug!("401: logging in again");
                            relogged = true;
                            self.relogin(generation).await?;
                            continue;
                        }
                        let retryable = matches!(code, 429 | 503)
                            || (is_idempotent(&method) && matches!(code, 408 | 500 | 502 | 504));
                        if !retryable || attempt >= policy.max_retries || !self.budget_allows() {
                            return Ok(resp);
                        }
                        resp.retry_after().map(|d| d.min(policy.max_retry_after))
                    }
                    Err(e) => {
                        let retryable = match &e {
                            Error::Transport { not_sent, .. } => {
                                *not_sent || is_idempotent(&method)
                            }
                            Error::Timeout { .. } => is_idempotent(&method),
                            _ => false,
                        };
                        if !retryable || attempt >= policy.max_retries || !self.budget_allows() {
                            return Err(e);
                        }
                        tracing::debug!(error = %e, "retrying");
                        None
                    }
                };
                let backoff = policy
                    .initial_backoff
                    .saturating_mul(1 << attempt.min(16))
                    .min(policy.max_backoff);
                tokio::time::sleep(delay.unwrap_or(backoff)).await;
                attempt += 1;
            }
        }
        .instrument(span)
        .await
    }

    /// A permit of the per-BMC concurrency limit.
    pub(crate) async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>> {
        self.inner
            .limit
            .acquire()
            .await
            .map_err(|e| Error::build("concurrency limit", e))
    }

    /// Whether a 401 should lead to a new session.
    pub(crate) fn uses_sessions(&self) -> bool {
        self.inner.auth == AuthMethod::Session
    }

    /// Whether the fleet's retry budget (if any) allows one more retry; takes it if so.
    pub(crate) fn budget_allows(&self) -> bool {
        match &self.inner.budget {
            None => true,
            Some(b) => {
                let ok = b.try_withdraw();
                if !ok {
                    tracing::debug!("retry budget exhausted: not retrying");
                }
                ok
            }
        }
    }

    /// Judge a response: non-2xx becomes [`Error::Status`], a 2xx that reports an error in
    /// `@Message.ExtendedInfo` becomes [`Error::ServiceMessage`].
    pub(crate) fn check(&self, method: &Method, path: &str, resp: Response) -> Result<Response> {
        // A success is only parsed for errors when it can carry one: a second JSON parse of
        // every resource read would cost as much as decoding it.
        if resp.status.is_success() && !may_report_error(&resp.body) {
            return Ok(resp);
        }
        let parsed = ErrorBody::parse(&resp.body);
        if !resp.status.is_success() {
            let body = (!parsed.is_error_object
                && parsed.messages.is_empty()
                && !resp.body.is_empty())
            .then(|| String::from_utf8_lossy(&resp.body[..resp.body.len().min(256)]).into_owned());
            return Err(Error::Status {
                method: method.clone(),
                path: path.to_owned(),
                status: resp.status.as_u16(),
                retry_after: resp.retry_after(),
                detail: Box::new(StatusDetail {
                    code: parsed.code,
                    message: parsed.message,
                    messages: parsed.messages,
                    body,
                }),
            });
        }
        if parsed.reports_error() {
            return Err(Error::ServiceMessage {
                method: method.clone(),
                path: path.to_owned(),
                status: resp.status.as_u16(),
                messages: parsed.messages,
            });
        }
        Ok(resp)
    }

    /// Send any request and judge its status: the raw escape hatch for writes.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response> {
        let bytes = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Error::build("request body", e))?;
        let resp = self
            .send(method.clone(), path, bytes.as_deref(), None)
            .await?;
        self.check(&method, path, resp)
    }

    /// GET a resource as `T`.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let resp = self.send(Method::GET, path, None, None).await?;
        let resp = self.check(&Method::GET, path, resp)?;
        serde_json::from_slice(&resp.body).map_err(|source| Error::Decode {
            path: path.to_owned(),
            what: std::any::type_name::<T>(),
            source,
        })
    }

    /// GET a resource as `T`, with its ETag (header, else `@odata.etag`).
    pub async fn get_with_etag<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<(T, Option<String>)> {
        let resp = self.send(Method::GET, path, None, None).await?;
        let resp = self.check(&Method::GET, path, resp)?;
        let value = serde_json::from_slice(&resp.body).map_err(|source| Error::Decode {
            path: path.to_owned(),
            what: std::any::type_name::<T>(),
            source,
        })?;
        Ok((value, resp.etag()))
    }

    /// GET any path as raw JSON.
    pub async fn get_json(&self, path: &str) -> Result<Value> {
        self.get(path).await
    }

    /// PATCH `body` to `path`. `If-Match` carries `etag` (if given) formatted by the
    /// [`EtagPolicy`]; services that demand it (quirk [`Quirk::IfMatchRequired`]) get a fresh
    /// ETag read first. A 412 or 428 is retried once with a freshly read ETag (or `*` if the
    /// service has none).
    pub async fn patch<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
        etag: Option<&str>,
    ) -> Result<Response> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::build("PATCH body", e))?;
        let policy = self.inner.etag;
        let mut if_match = etag::if_match(policy, etag);
        if if_match.is_none() && policy != EtagPolicy::Disabled {
            let quirks = self.quirks().await.unwrap_or_default();
            if quirks.has(Quirk::IfMatchRequired) {
                if_match = etag::if_match(policy, self.fetch_etag(path).await?.as_deref())
                    .or_else(|| Some("*".into()));
            }
        }
        let mut resp = self
            .send(Method::PATCH, path, Some(&bytes), if_match.as_deref())
            .await?;
        let code = resp.status.as_u16();
        if matches!(code, 412 | 428) && policy != EtagPolicy::Disabled {
            let fresh = etag::if_match(policy, self.fetch_etag(path).await?.as_deref());
            let next = match fresh {
                Some(f) if Some(&f) != if_match.as_ref() => f,
                _ => "*".to_owned(),
            };
            tracing::debug!(
                status = code,
                "PATCH precondition failed: retrying once with a fresh If-Match"
            );
            resp = self
                .send(Method::PATCH, path, Some(&bytes), Some(&next))
                .await?;
        }
        self.check(&Method::PATCH, path, resp)
    }

    async fn fetch_etag(&self, path: &str) -> Result<Option<String>> {
        let resp = self.send(Method::GET, path, None, None).await?;
        Ok(self.check(&Method::GET, path, resp)?.etag())
    }

    /// POST `body` to `path` and judge the status (no "not ready" retries): the raw answer,
    /// e.g. to read the `Location` of a created resource.
    pub async fn post_raw<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> Result<Response> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::build("POST body", e))?;
        let resp = self.send(Method::POST, path, Some(&bytes), None).await?;
        self.check(&Method::POST, path, resp)
    }

    /// POST `body` to `path` (an action or a collection). A 202 gives a [`TaskMonitor`].
    /// An action refused with a "not ready yet" message is retried per the [`RetryPolicy`].
    pub async fn post<B: Serialize + ?Sized>(&self, path: &str, body: &B) -> Result<ActionOutcome> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::build("POST body", e))?;
        let mut tries = 0;
        loop {
            let resp = self.send(Method::POST, path, Some(&bytes), None).await?;
            match self.check(&Method::POST, path, resp) {
                Ok(resp) => return Ok(ActionOutcome::of(&resp)),
                Err(e)
                    if crate::quirks::is_not_ready(e.messages())
                        && tries < self.inner.retry.not_ready_retries
                        && self.budget_allows() =>
                {
                    tries += 1;
                    tracing::info!(
                        message_id = e.message_id().unwrap_or(""),
                        "service not ready: retrying the action"
                    );
                    tokio::time::sleep(self.inner.retry.not_ready_delay).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// DELETE `path`.
    pub async fn delete(&self, path: &str) -> Result<Response> {
        let resp = self.send(Method::DELETE, path, None, None).await?;
        self.check(&Method::DELETE, path, resp)
    }

    /// Every member link of a collection, following `Members@odata.nextLink`.
    pub async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<Link<T>>> {
        let mut out = Vec::new();
        let mut next = Some(path.to_owned());
        let mut seen = std::collections::HashSet::new();
        while let Some(page) = next.take() {
            if !seen.insert(page.clone()) || seen.len() > 10_000 {
                tracing::warn!(page, "collection paging loops; stopping");
                break;
            }
            let c: Collection<T> = self.get(&page).await?;
            out.extend(c.members);
            next = c.next_link;
        }
        Ok(out)
    }

    /// Every member of a collection, read. Inline members are used as they are; when the
    /// service advertises `$expand` (`ProtocolFeaturesSupported.ExpandQuery`), one
    /// `?$expand=.($levels=1)` request is tried first, falling back to a GET per member if the
    /// service does not expand it fully.
    pub async fn members<T: DeserializeOwned + Clone>(&self, path: &str) -> Result<Vec<T>> {
        if !path.contains('?') && self.service_root().await.is_ok_and(|r| r.supports_expand()) {
            let expanded = format!("{path}?$expand=.($levels=1)");
            match self.get::<Collection<T>>(&expanded).await {
                Ok(c)
                    if c.next_link.is_none()
                        && c.members.iter().all(|m| m.expanded().is_some()) =>
                {
                    return Ok(c
                        .members
                        .iter()
                        .filter_map(|m| m.expanded().cloned())
                        .collect());
                }
                Ok(_) => tracing::debug!(path, "$expand not honoured: reading members one by one"),
                Err(e) => {
                    tracing::debug!(path, error = %e, "$expand failed: reading members one by one")
                }
            }
        }
        let mut out = Vec::new();
        for link in self.list::<T>(path).await? {
            out.push(link.get(self).await?);
        }
        Ok(out)
    }

    /// The service root (read once, without credentials, then cached).
    pub async fn service_root(&self) -> Result<ServiceRoot> {
        self.inner
            .root
            .get_or_try_init(|| async {
                let path = "/redfish/v1/";
                // Retried like any idempotent read: a BMC busy at start-up answers 503 here.
                let resp = self
                    .send_with(
                        Method::GET,
                        path,
                        None,
                        None,
                        self.inner.auth == AuthMethod::Basic,
                    )
                    .await?;
                let resp = self.check(&Method::GET, path, resp)?;
                serde_json::from_slice(&resp.body).map_err(|source| Error::Decode {
                    path: path.to_owned(),
                    what: "ServiceRoot",
                    source,
                })
            })
            .await
            .cloned()
    }

    /// The quirks in effect: those given to the builder, else detected once from the service
    /// root and the first manager.
    pub async fn quirks(&self) -> Result<Quirks> {
        self.inner
            .quirks
            .get_or_try_init(|| async {
                let root = self.service_root().await?;
                let manager = match &root.managers {
                    Some(link) => match self.list::<Manager>(link.id().as_str()).await {
                        Ok(members) => match members.first() {
                            Some(m) => m.get(self).await.ok(),
                            None => None,
                        },
                        Err(_) => None,
                    },
                    None => None,
                };
                let q = Quirks::detect(&root, manager.as_ref());
                tracing::debug!(vendor = %q.vendor(), quirks = ?q.all(), "quirks detected");
                Ok(q)
            })
            .await
            .cloned()
    }

    async fn session_state(&self) -> Result<SessionState> {
        let mut guard = self.inner.session.lock().await;
        if let Some(s) = guard.as_ref() {
            return Ok(s.clone());
        }
        let s = self.login_locked().await?;
        *guard = Some(s.clone());
        Ok(s)
    }

    /// Replace the session whose token got a 401 (unless another task already did).
    pub(crate) async fn relogin(&self, failed_generation: Option<u64>) -> Result<()> {
        let mut guard = self.inner.session.lock().await;
        if guard.as_ref().map(|s| s.generation) == failed_generation {
            *guard = Some(self.login_locked().await?);
        }
        Ok(())
    }

    /// Open a session now (otherwise the first request does it). No-op for other auth methods.
    pub async fn login(&self) -> Result<()> {
        if self.inner.auth == AuthMethod::Session {
            self.session_state().await?;
        }
        Ok(())
    }

    /// Boxed: logging in reads the service root, which goes through `send_once`.
    fn login_locked(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<SessionState>> + Send + '_>>
    {
        Box::pin(self.login_inner())
    }

    async fn login_inner(&self) -> Result<SessionState> {
        let root = self.service_root().await?;
        if root.session_service.is_none()
            && root
                .links
                .as_ref()
                .and_then(|l| l.sessions.as_ref())
                .is_none()
        {
            return Err(Error::Login {
                url: self.inner.base.to_string(),
                reason: "the service offers no sessions (no SessionService in its service root): use basic auth".into(),
            });
        }
        let sessions = root
            .links
            .as_ref()
            .and_then(|l| l.sessions.as_ref())
            .map(|l| l.id().as_str().to_owned())
            .unwrap_or_else(|| "/redfish/v1/SessionService/Sessions".to_owned());
        let body = serde_json::json!({ "UserName": self.inner.username, "Password": self.inner.password.expose() });
        let bytes = serde_json::to_vec(&body).map_err(|e| Error::build("login body", e))?;
        let span =
            tracing::debug_span!("redfish.login", path = %sessions, user = %self.inner.username);
        let (resp, _) = self
            .send_once(&Method::POST, &sessions, Some(&bytes), None, false)
            .instrument(span)
            .await?;
        let url = self
            .url(&sessions)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| sessions.clone());
        let resp = self
            .check(&Method::POST, &sessions, resp)
            .map_err(|e| Error::Login {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let token = resp.header("x-auth-token").ok_or_else(|| Error::Login {
            url: url.clone(),
            reason: "no X-Auth-Token in the answer".into(),
        })?;
        let location = resp.location().map(str::to_owned).or_else(|| {
            let v = resp.json().ok()?;
            v.get("@odata.id")?.as_str().map(str::to_owned)
        });
        let generation = self.inner.session_gen.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::debug!(session = location.as_deref().unwrap_or("?"), "logged in");
        Ok(SessionState {
            token: Secret::new(token),
            location,
            generation,
        })
    }

    /// End the session (DELETE it on the service). Safe to call more than once and with any
    /// auth method; the client logs in again if used afterwards.
    pub async fn close(&self) -> Result<()> {
        let state = self.inner.session.lock().await.take();
        let Some(state) = state else { return Ok(()) };
        let Some(location) = state.location else {
            return Ok(());
        };
        let url = self.url(&location)?;
        let method = Method::DELETE;
        let resp = self
            .inner
            .http
            .delete(url)
            .header("X-Auth-Token", state.token.expose())
            .send()
            .await
            .map_err(|e| Error::Transport {
                method: method.clone(),
                path: location.clone(),
                not_sent: e.is_connect(),
                source: e,
            })?;
        let status = resp.status();
        tracing::debug!(status = status.as_u16(), "session deleted");
        if !status.is_success() && status != StatusCode::NOT_FOUND {
            return Err(Error::Status {
                method,
                path: location,
                status: status.as_u16(),
                retry_after: None,
                detail: Box::default(),
            });
        }
        Ok(())
    }

    /// Poll a task until it ends or `timeout` passes, pausing as the service asks
    /// (`Retry-After`, else 1 s, at most 30 s). Returns the final Task; a task that ended in
    /// `Exception`, `Killed` or `Cancelled` gives [`Error::TaskFailed`].
    pub async fn wait_task(&self, monitor: &TaskMonitor, timeout: Duration) -> Result<Task> {
        let start = tokio::time::Instant::now();
        let mut pause = monitor.retry_after.unwrap_or(Duration::from_secs(1));
        loop {
            let resp = self
                .send(Method::GET, &monitor.location, None, None)
                .await?;
            let still_running = resp.status == StatusCode::ACCEPTED;
            let retry_after = resp.retry_after();
            let resp = self.check(&Method::GET, &monitor.location, resp)?;
            let task: Task = match resp.json() {
                Ok(Value::Null) | Err(_) => Task::default(),
                Ok(v) => serde_json::from_value(v).unwrap_or_default(),
            };
            let state = task.task_state.clone();
            match state {
                Some(s) if s.is_terminal() && !still_running => {
                    if task.succeeded() {
                        return Ok(task);
                    }
                    return Err(Error::TaskFailed {
                        path: monitor.location.clone(),
                        state: s.to_string(),
                        messages: task.messages,
                    });
                }
                // A monitor that answers 200/204 without a task body: the operation is done.
                None if !still_running => return Ok(task),
                _ => {}
            }
            if start.elapsed() >= timeout {
                return Err(Error::WaitTimeout {
                    what: format!("task {}", monitor.location),
                    after: timeout,
                });
            }
            if let Some(r) = retry_after {
                pause = r;
            }
            tokio::time::sleep(pause.clamp(Duration::from_millis(100), Duration::from_secs(30)))
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retry_budget_ratio_floor_and_cap_in_virtual_time() {
        let b = RetryBudget::with_max_balance(0.2, 1.0, 5.0);
        // The floor is saved up at start: one retry.
        assert!(b.try_withdraw());
        assert!(!b.try_withdraw());
        // 10 requests at 20%: two retries.
        for _ in 0..10 {
            b.deposit();
        }
        assert!(b.try_withdraw());
        assert!(b.try_withdraw());
        assert!(!b.try_withdraw());
        // The floor refills one per second, up to the cap of 5.
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!((b.balance() - 3.0).abs() < 1e-6, "{b:?}");
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!((b.balance() - 5.0).abs() < 1e-6, "{b:?}");
        let s = b.stats();
        assert_eq!((s.requests, s.retries, s.refused), (10, 3, 2));
        // Clones share the balance.
        let c = b.clone();
        for _ in 0..5 {
            assert!(c.try_withdraw());
        }
        assert!(!b.try_withdraw());
        // Nonsense settings give an empty budget, never a panic.
        let z = RetryBudget::new(f64::NAN, -3.0);
        z.deposit();
        assert!(!z.try_withdraw());
    }

    #[tokio::test(start_paused = true)]
    async fn an_exhausted_budget_stops_retries_at_once() {
        // A client with 5 retries and an empty budget makes one attempt only.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        drop(l); // connection refused: retryable
        let budget = RetryBudget::with_max_balance(0.0, 0.0, 0.0);
        let c = Client::builder(url)
            .retry(RetryPolicy::default().max_retries(5))
            .retry_budget(budget.clone())
            .build()
            .unwrap();
        let e = c.get_json("/redfish/v1/").await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
        let s = budget.stats();
        assert_eq!((s.requests, s.retries, s.refused), (1, 0, 1));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn builder_rejects_bad_urls_and_hides_secrets() {
        assert!(matches!(
            Client::builder("ftp://x").build(),
            Err(Error::Build { .. })
        ));
        assert!(matches!(
            Client::builder("not a url").build(),
            Err(Error::Build { .. })
        ));
        let b = Client::builder("https://h").session_auth("root", "hunter2");
        assert!(!format!("{b:?}").contains("hunter2"));
        let c = b.build().unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(format!("{:?}", Secret::new("tok")).contains("***"));
    }

    #[test]
    fn refuses_paths_on_other_origins() {
        let c = Client::builder("http://127.0.0.1:8000/redfish/v1")
            .build()
            .unwrap();
        assert_eq!(
            c.url("/redfish/v1/Systems").unwrap().as_str(),
            "http://127.0.0.1:8000/redfish/v1/Systems"
        );
        assert!(c.url("http://evil.example/x").is_err());
        assert!(c.url("http://127.0.0.1:8000/x").is_ok());
    }

    #[test]
    fn bad_ca_pem_is_a_build_error() {
        let r = Client::builder("https://h")
            .ca_cert_pem(b"garbage".to_vec())
            .build();
        assert!(matches!(
            r,
            Err(Error::Build {
                what: "CA certificate",
                ..
            })
        ));
    }
}
