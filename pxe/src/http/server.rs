//! The HTTP boot server (feature `http`): HTTP/1.1 on hyper, keep-alive, one task per
//! connection, a bound on concurrent connections; each request is answered by a
//! [`Handler`] and the sans-IO [`plan`] (`GET`, `HEAD`, single ranges).
//!
//! ```no_run
//! # async fn demo() -> Result<(), pxe::Error> {
//! use pxe::http::{Files, FnHandler, Request, Response, Router};
//! use pxe::http::server::HttpServer;
//! use pxe::tftp::source::DirSource;
//! let router = Router::new()
//!     .route("/boot.ipxe", FnHandler::new(|r: &Request| {
//!         Ok(Response::script(format!("#!ipxe\necho hello {}\n", r.client.ip())))
//!     }))
//!     .route("/", Files(DirSource::new("/srv/boot").map_err(|e| pxe::Error::Io {
//!         during: "opening the root", message: e.to_string() })?));
//! let server = HttpServer::builder(router).listen("0.0.0.0:8080".parse().unwrap()).bind().await?;
//! server.run().await
//! # }
//! ```

use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full, combinators::UnsyncBoxBody};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::{Response as HResponse, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::{Handler, Method, Request, plan};
use crate::error::{Error, Result};
use crate::tftp::source::{Content, OpenError};

/// Bytes read from the content per body frame.
const CHUNK: usize = 256 * 1024;

/// Builds an [`HttpServer`].
pub struct HttpServerBuilder {
    handler: Arc<dyn Handler>,
    listen: SocketAddr,
    max_connections: usize,
}

impl std::fmt::Debug for HttpServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServerBuilder")
            .field("listen", &self.listen)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl HttpServerBuilder {
    /// Listen address (default `0.0.0.0:80`).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Most connections served at once (default 1024); more wait to be accepted.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Bind the listening socket.
    pub async fn bind(self) -> Result<HttpServer> {
        let listener = TcpListener::bind(self.listen)
            .await
            .map_err(|e| Error::io("binding the HTTP socket", &e))?;
        Ok(HttpServer {
            listener,
            handler: self.handler,
            permits: Arc::new(Semaphore::new(self.max_connections)),
        })
    }
}

/// An HTTP boot server.
pub struct HttpServer {
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for HttpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServer")
            .field("local_addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl HttpServer {
    /// A builder answering with `handler`.
    pub fn builder(handler: impl Handler + 'static) -> HttpServerBuilder {
        HttpServerBuilder {
            handler: Arc::new(handler),
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 80),
            max_connections: 1024,
        }
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.listener
            .local_addr()
            .map_err(|e| Error::io("reading the local address", &e))
    }

    /// Run on a new task.
    pub fn spawn(self) -> tokio::task::JoinHandle<Result<()>> {
        tokio::spawn(self.run())
    }

    /// Serve until the task is dropped or aborted.
    pub async fn run(self) -> Result<()> {
        let span = tracing::info_span!("http", addr = ?self.listener.local_addr().ok());
        self.serve().instrument(span).await
    }

    async fn serve(self) -> Result<()> {
        loop {
            let permit = Arc::clone(&self.permits)
                .acquire_owned()
                .await
                .map_err(|_| Error::Io {
                    during: "accepting HTTP connections",
                    message: "closed".into(),
                })?;
            let (stream, peer) = match self.listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(error = %e, "accept");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let handler = Arc::clone(&self.handler);
            tokio::spawn(
                async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let handler = Arc::clone(&handler);
                        async move { Ok::<_, Infallible>(answer(&*handler, &req, peer)) }
                    });
                    if let Err(e) = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await
                    {
                        tracing::debug!(error = %e, "connection");
                    }
                    drop(permit);
                }
                .in_current_span(),
            );
        }
    }
}

type HBody = UnsyncBoxBody<Bytes, std::io::Error>;

fn simple(status: StatusCode, text: &'static str) -> HResponse<HBody> {
    let mut r = HResponse::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|e| match e {})
            .boxed_unsync(),
    );
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Answer one request (pure apart from the handler's reads).
fn answer(
    handler: &dyn Handler,
    req: &hyper::Request<Incoming>,
    peer: SocketAddr,
) -> HResponse<HBody> {
    let method = match *req.method() {
        hyper::Method::GET => Method::Get,
        hyper::Method::HEAD => Method::Head,
        _ => {
            let mut r = simple(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            tracing::info!(client = %peer, method = %req.method(), path = req.uri().path(), status = 405, "http");
            return r;
        }
    };
    let target = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let request = Request::new(method, &target, peer);
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    let resp = match handler.handle(&request) {
        Ok(resp) => resp,
        Err(e) => {
            let (status, text) = match e {
                OpenError::NotFound => (StatusCode::NOT_FOUND, "not found\n"),
                OpenError::AccessDenied => (StatusCode::FORBIDDEN, "forbidden\n"),
                OpenError::Other(_) => (StatusCode::INTERNAL_SERVER_ERROR, "server error\n"),
            };
            tracing::info!(client = %peer, ?method, path = %request.path, status = status.as_u16(), "http");
            let mut r = simple(status, text);
            if method == Method::Head {
                *r.body_mut() = Empty::new().map_err(|e| match e {}).boxed_unsync();
            }
            return r;
        }
    };
    let size = resp.content.size();
    let p = plan(method, range, size);
    let body = match p.body(method) {
        Some((offset, len)) => ContentBody {
            content: resp.content,
            pos: offset,
            end: len.map(|l| offset + l),
            done: false,
        }
        .boxed_unsync(),
        None => Empty::new().map_err(|e| match e {}).boxed_unsync(),
    };
    let mut r = HResponse::new(body);
    *r.status_mut() = StatusCode::from_u16(p.status()).unwrap_or(StatusCode::OK);
    let h = r.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&resp.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Some(len) = p.content_length() {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    if let Some(cr) = p.content_range()
        && let Ok(v) = HeaderValue::from_str(&cr)
    {
        h.insert(header::CONTENT_RANGE, v);
    }
    tracing::info!(
        client = %peer,
        ?method,
        path = %request.path,
        query = request.query.as_deref().unwrap_or(""),
        range = range.unwrap_or(""),
        status = p.status(),
        length = ?p.content_length(),
        "http"
    );
    r
}

/// A body read from [`Content`] in chunks (positioned reads; files come from the page cache).
struct ContentBody {
    content: Box<dyn Content>,
    pos: u64,
    end: Option<u64>,
    done: bool,
}

impl Body for ContentBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, std::io::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let want = match self.end {
            Some(end) => usize::try_from(end.saturating_sub(self.pos))
                .unwrap_or(CHUNK)
                .min(CHUNK),
            None => CHUNK,
        };
        if want == 0 {
            self.done = true;
            return Poll::Ready(None);
        }
        let mut buf = vec![0u8; want];
        let pos = self.pos;
        match self.content.read_at(pos, &mut buf) {
            Ok(n) => {
                if n < want {
                    self.done = true;
                    if n == 0 {
                        // The content shrank under a known length: fail the body rather
                        // than send a short response that looks complete.
                        if self.end.is_some() {
                            return Poll::Ready(Some(Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "content shorter than announced",
                            ))));
                        }
                        return Poll::Ready(None);
                    }
                }
                buf.truncate(n);
                self.pos += n as u64;
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(buf)))))
            }
            Err(e) => {
                self.done = true;
                Poll::Ready(Some(Err(e)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.end.is_some_and(|e| self.pos >= e)
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self.end {
            Some(e) => hyper::body::SizeHint::with_exact(e.saturating_sub(self.pos)),
            None => hyper::body::SizeHint::default(),
        }
    }
}
