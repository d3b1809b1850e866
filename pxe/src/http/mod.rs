//! HTTP boot: what to serve ([`Handler`]: files from any [`FileSource`], per-node iPXE
//! scripts from a closure) and how (sans-IO [`plan`]: `GET`/`HEAD`, single byte ranges,
//! `416`), with a tokio/hyper server in `server` (feature `http`).
//!
//! UEFI HTTP boot sends `HEAD` first to learn the size; iPXE and curl resume with `Range`.
//!
//! ```
//! use pxe::http::{plan, Method, Plan};
//! // A 1000-byte file asked for with `Range: bytes=100-199`.
//! let p = plan(Method::Get, Some("bytes=100-199"), Some(1000));
//! assert_eq!(p, Plan::Partial { start: 100, end: 199, size: 1000 });
//! assert_eq!(p.status(), 206);
//! assert_eq!(p.content_length(), Some(100));
//! assert_eq!(p.content_range().as_deref(), Some("bytes 100-199/1000"));
//! ```

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod server;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::tftp::source::{Content, FileSource, MemoryContent, OpenError, OpenRequest};

/// The request methods served (others get `405`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`: the headers of a `GET`, no body.
    Head,
}

/// How to answer a `GET`/`HEAD` for content of a (possibly unknown) size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// `200`, the whole content (`size` when known; else chunked).
    Full {
        /// The size, when known.
        size: Option<u64>,
    },
    /// `206`, bytes `start..=end` of `size`.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
        /// The whole size.
        size: u64,
    },
    /// `416`: no byte of the range exists (`Content-Range: bytes */size`).
    Unsatisfiable {
        /// The whole size.
        size: u64,
    },
}

impl Plan {
    /// The status code.
    pub fn status(&self) -> u16 {
        match self {
            Plan::Full { .. } => 200,
            Plan::Partial { .. } => 206,
            Plan::Unsatisfiable { .. } => 416,
        }
    }

    /// `Content-Length`, when known.
    pub fn content_length(&self) -> Option<u64> {
        match *self {
            Plan::Full { size } => size,
            Plan::Partial { start, end, .. } => Some(end - start + 1),
            Plan::Unsatisfiable { .. } => Some(0),
        }
    }

    /// `Content-Range`, for `206` and `416`.
    pub fn content_range(&self) -> Option<String> {
        match *self {
            Plan::Full { .. } => None,
            Plan::Partial { start, end, size } => Some(format!("bytes {start}-{end}/{size}")),
            Plan::Unsatisfiable { size } => Some(format!("bytes */{size}")),
        }
    }

    /// The body's byte range `(offset, length)`: `None` length means "to the end".
    pub fn body(&self, method: Method) -> Option<(u64, Option<u64>)> {
        if method == Method::Head {
            return None;
        }
        match *self {
            Plan::Full { size } => Some((0, size)),
            Plan::Partial { start, end, .. } => Some((start, Some(end - start + 1))),
            Plan::Unsatisfiable { .. } => None,
        }
    }
}

/// Decide the answer from the `Range` header (RFC 9110 14): a single `bytes=a-b`, `a-` or
/// `-n` range is served as `206`; several ranges, other units, malformed headers and content
/// of unknown size get the whole content (`200`), as the RFC allows; a range that starts past
/// the end gets `416`.
pub fn plan(method: Method, range: Option<&str>, size: Option<u64>) -> Plan {
    let _ = method;
    let (Some(range), Some(size)) = (range, size) else {
        return Plan::Full { size };
    };
    let Some(spec) = range.trim().strip_prefix("bytes=") else {
        return Plan::Full { size: Some(size) };
    };
    if spec.contains(',') {
        return Plan::Full { size: Some(size) };
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Plan::Full { size: Some(size) };
    };
    let (a, b) = (a.trim(), b.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if a.is_empty() {
        // Suffix: the last n bytes.
        let Some(n) = digits(b).then(|| b.parse::<u64>().ok()).flatten() else {
            return Plan::Full { size: Some(size) };
        };
        if n == 0 || size == 0 {
            return Plan::Unsatisfiable { size };
        }
        let n = n.min(size);
        return Plan::Partial {
            start: size - n,
            end: size - 1,
            size,
        };
    }
    let Some(start) = digits(a).then(|| a.parse::<u64>().ok()).flatten() else {
        return Plan::Full { size: Some(size) };
    };
    let end = if b.is_empty() {
        u64::MAX
    } else {
        match digits(b).then(|| b.parse::<u64>().ok()).flatten() {
            Some(e) if e >= start => e,
            _ => return Plan::Full { size: Some(size) },
        }
    };
    if start >= size {
        return Plan::Unsatisfiable { size };
    }
    Plan::Partial {
        start,
        end: end.min(size - 1),
        size,
    }
}

/// Decode `%XX` escapes (invalid escapes are kept as they are).
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One HTTP request, as a [`Handler`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// `GET` or `HEAD`.
    pub method: Method,
    /// The path, percent-decoded (`/boot.ipxe`).
    pub path: String,
    /// The raw query string, if any (`mac=52:54:00:..&arch=x86_64`).
    pub query: Option<String>,
    /// The client's address.
    pub client: SocketAddr,
}

impl Request {
    /// A request (for tests and custom shells).
    pub fn new(method: Method, target: &str, client: SocketAddr) -> Self {
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q.to_string())),
            None => (target, None),
        };
        Request {
            method,
            path: percent_decode(path),
            query,
            client,
        }
    }

    /// The first value of query parameter `name`, percent-decoded (`+` is a space).
    ///
    /// ```
    /// use pxe::http::{Method, Request};
    /// let r = Request::new(Method::Get, "/s?mac=52%3A54&x=a+b", "10.0.0.2:1000".parse().unwrap());
    /// assert_eq!(r.query_param("mac").as_deref(), Some("52:54"));
    /// assert_eq!(r.query_param("x").as_deref(), Some("a b"));
    /// assert_eq!(r.query_param("y"), None);
    /// ```
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.query.as_deref()?.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k) == name).then(|| percent_decode(&v.replace('+', " ")))
        })
    }
}

/// What a [`Handler`] serves.
pub struct Response {
    /// The content (its size, when known, allows `HEAD`, `Content-Length` and ranges).
    pub content: Box<dyn Content>,
    /// `Content-Type`.
    pub content_type: String,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("size", &self.content.size())
            .field("content_type", &self.content_type)
            .finish()
    }
}

impl Response {
    /// Content with a type.
    pub fn new(content: Box<dyn Content>, content_type: impl Into<String>) -> Self {
        Response {
            content,
            content_type: content_type.into(),
        }
    }

    /// An iPXE script (`text/plain`).
    pub fn script(text: impl Into<String>) -> Self {
        let text: String = text.into();
        Response::new(
            Box::new(MemoryContent::new(text.into_bytes())),
            "text/plain; charset=utf-8",
        )
    }
}

/// The `Content-Type` for a file name.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "ipxe" | "txt" | "cfg" | "conf" => "text/plain; charset=utf-8",
        "efi" => "application/efi",
        "json" => "application/json",
        "iso" => "application/x-iso9660-image",
        _ => "application/octet-stream",
    }
}

/// Makes the answer to a request: a per-node iPXE script, a file, or an error. `NotFound`
/// lets the server try its next route.
pub trait Handler: Send + Sync {
    /// Answer `req`.
    fn handle(&self, req: &Request) -> Result<Response, OpenError>;
}

impl<T: Handler + ?Sized> Handler for Arc<T> {
    fn handle(&self, req: &Request) -> Result<Response, OpenError> {
        (**self).handle(req)
    }
}

/// Serves files from a [`FileSource`] (a [`DirSource`](crate::tftp::source::DirSource) root:
/// no traversal, no symlink escape), the type from the extension.
#[derive(Debug, Clone)]
pub struct Files<S>(pub S);

impl<S: FileSource> Handler for Files<S> {
    fn handle(&self, req: &Request) -> Result<Response, OpenError> {
        let content = self
            .0
            .open(&OpenRequest::new(req.path.clone(), req.client))?;
        Ok(Response::new(content, content_type(&req.path)))
    }
}

/// A closure as a [`Handler`], e.g. per-node iPXE scripts:
///
/// ```
/// use pxe::http::{FnHandler, Handler, Method, Request, Response};
/// use pxe::ipxe::IpxeScript;
/// use pxe::tftp::source::OpenError;
/// let h = FnHandler::new(|req: &Request| {
///     let mac = req.query_param("mac").ok_or(OpenError::NotFound)?;
///     let s = IpxeScript::new().kernel("http://10.0.0.1/vmlinuz").echo(&format!("node {mac}"));
///     Ok(Response::script(s.render().map_err(|e| OpenError::Other(e.to_string()))?))
/// });
/// let r = h.handle(&Request::new(Method::Get, "/boot.ipxe?mac=52:54:00:00:00:01",
///                                "10.0.0.9:1".parse().unwrap())).unwrap();
/// assert_eq!(r.content_type, "text/plain; charset=utf-8");
/// ```
pub struct FnHandler<F>(F);

impl<F> FnHandler<F>
where
    F: Fn(&Request) -> Result<Response, OpenError> + Send + Sync,
{
    /// Wrap a closure.
    pub fn new(f: F) -> Self {
        FnHandler(f)
    }
}

impl<F> std::fmt::Debug for FnHandler<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnHandler")
    }
}

impl<F> Handler for FnHandler<F>
where
    F: Fn(&Request) -> Result<Response, OpenError> + Send + Sync,
{
    fn handle(&self, req: &Request) -> Result<Response, OpenError> {
        (self.0)(req)
    }
}

/// Routes by path prefix, in order; the first route whose handler does not answer
/// `NotFound` wins.
///
/// ```
/// use pxe::http::{FnHandler, Files, Handler, Method, Request, Response, Router};
/// use pxe::tftp::source::MemorySource;
/// let router = Router::new()
///     .route("/boot.ipxe", FnHandler::new(|_r: &Request| Ok(Response::script("#!ipxe\n"))))
///     .route("/", Files(MemorySource::new().with_file("k", b"kernel".to_vec())));
/// let c = "10.0.0.9:1".parse().unwrap();
/// assert!(router.handle(&Request::new(Method::Get, "/boot.ipxe", c)).is_ok());
/// assert!(router.handle(&Request::new(Method::Head, "/k", c)).is_ok());
/// assert!(router.handle(&Request::new(Method::Get, "/none", c)).is_err());
/// ```
#[derive(Default)]
pub struct Router {
    routes: Vec<(String, Box<dyn Handler>)>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|(p, _)| p))
            .finish()
    }
}

impl Router {
    /// No routes (everything is `404`).
    pub fn new() -> Self {
        Router::default()
    }

    /// Add a route for paths starting with `prefix`.
    pub fn route(mut self, prefix: impl Into<String>, handler: impl Handler + 'static) -> Self {
        self.routes.push((prefix.into(), Box::new(handler)));
        self
    }
}

impl Handler for Router {
    fn handle(&self, req: &Request) -> Result<Response, OpenError> {
        for (prefix, h) in &self.routes {
            if req.path.starts_with(prefix.as_str()) {
                match h.handle(req) {
                    Err(OpenError::NotFound) => continue,
                    other => return other,
                }
            }
        }
        Err(OpenError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let g = Method::Get;
        assert_eq!(plan(g, None, Some(10)), Plan::Full { size: Some(10) });
        assert_eq!(plan(g, Some("bytes=0-"), None), Plan::Full { size: None });
        let p = |r: &str| plan(g, Some(r), Some(10));
        assert_eq!(
            p("bytes=2-4"),
            Plan::Partial {
                start: 2,
                end: 4,
                size: 10
            }
        );
        assert_eq!(
            p("bytes=2-"),
            Plan::Partial {
                start: 2,
                end: 9,
                size: 10
            }
        );
        assert_eq!(
            p("bytes=5-100"),
            Plan::Partial {
                start: 5,
                end: 9,
                size: 10
            }
        );
        assert_eq!(
            p("bytes=-3"),
            Plan::Partial {
                start: 7,
                end: 9,
                size: 10
            }
        );
        assert_eq!(
            p("bytes=-30"),
            Plan::Partial {
                start: 0,
                end: 9,
                size: 10
            }
        );
        assert_eq!(p("bytes=10-"), Plan::Unsatisfiable { size: 10 });
        assert_eq!(p("bytes=-0"), Plan::Unsatisfiable { size: 10 });
        for whole in [
            "bytes=4-2",
            "bytes=a-b",
            "items=0-1",
            "bytes=0-1,3-4",
            "bytes=",
            "x",
        ] {
            assert_eq!(p(whole), Plan::Full { size: Some(10) }, "{whole}");
        }
        assert_eq!(
            plan(g, Some("bytes=0-0"), Some(0)),
            Plan::Unsatisfiable { size: 0 }
        );
        assert_eq!(p("bytes=2-4").body(Method::Head), None);
        assert_eq!(p("bytes=2-4").body(g), Some((2, Some(3))));
        assert_eq!(
            p("bytes=10-").content_range().as_deref(),
            Some("bytes */10")
        );
    }

    #[test]
    fn request_parsing() {
        let c = "127.0.0.1:1".parse().unwrap();
        let r = Request::new(Method::Get, "/a%20b/c?x=1&y&z=%zz", c);
        assert_eq!(r.path, "/a b/c");
        assert_eq!(r.query_param("y").as_deref(), Some(""));
        assert_eq!(r.query_param("z").as_deref(), Some("%zz"));
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
    }
}
