//! The Redfish face: a DMTF-shaped Redfish service (axum routes on hyper connections we accept
//! ourselves, so faults can close them) over the same [`Node`] the IPMI face serves. One
//! service per node, like a real BMC: ServiceRoot, one ComputerSystem (power, boot override
//! with allowable values and ETags, Reset action, `BootProgress` and an `Oem.BmcSim` record of
//! the last boot, EthernetInterfaces with the node's MACs, Bios with a Settings resource
//! applied by a task at the next reset, SecureBoot, Storage with the node's disk as a Drive of
//! the Chassis), one Manager, VirtualMedia where the vendor keeps it (InsertMedia sends a HEAD
//! to the image, over HTTPS too, without checking the certificate as BMCs do by default), a
//! SessionService with `X-Auth-Token` sessions and a session limit (Basic authentication is
//! accepted too), TaskService, UpdateService and the EventService of [`events`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ipmi_proto::bmc::ManagedSystem;
use ipmi_proto::cmd::chassis::{
    BootDevice, BootFlags, BootMode, BootParameter, BootPersistence, ChassisControl,
};
use ipmi_proto::crypto::RandomSource;
use serde_json::{Value, json};
use tracing::Instrument;

use crate::Error;
use crate::fault::{Dice, Faults};
use crate::node::{Node, PowerState};
use crate::vendor::{Profile, Vendor};

mod events;
use events::{EventRecord, emit};

/// Options of a Redfish face.
#[derive(Clone)]
pub struct RedfishConfig {
    /// The account.
    pub user: String,
    /// Its password.
    pub password: String,
    /// Most sessions at once; `None` takes the vendor's (iDRAC has 8).
    pub max_sessions: Option<usize>,
    /// Which BMC to behave like.
    pub vendor: Vendor,
    /// Serve HTTPS with this identity instead of plain HTTP.
    pub tls: Option<TlsIdentity>,
    /// Let event subscriptions name destinations off loopback (by default the face pushes
    /// events only to 127.0.0.0/8, ::1 and localhost).
    pub remote_event_destinations: bool,
}

/// A TLS certificate and private key (PEM) for the Redfish face.
#[derive(Clone)]
pub struct TlsIdentity {
    /// The certificate chain, PEM.
    pub cert_pem: String,
    /// The private key, PEM.
    key_pem: String,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("cert_pem", &self.cert_pem.len())
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl TlsIdentity {
    /// A certificate and key given as PEM.
    pub fn from_pem(cert_pem: impl Into<String>, key_pem: impl Into<String>) -> Self {
        TlsIdentity {
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
        }
    }

    /// A fresh self-signed certificate for `names` (DNS names or IP addresses), as BMCs ship;
    /// clients pass [`TlsIdentity::cert_pem`] as their CA.
    pub fn self_signed(names: &[&str]) -> Result<Self, Error> {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let ck = rcgen::generate_simple_self_signed(names)
            .map_err(|e| Error::Config(format!("self-signed certificate: {e}")))?;
        Ok(TlsIdentity {
            cert_pem: ck.cert.pem(),
            key_pem: ck.signing_key.serialize_pem(),
        })
    }

    fn server_config(&self) -> Result<rustls::ServerConfig, Error> {
        use rustls::pki_types::pem::PemObject;
        let bad = |what: &str, e: &dyn std::fmt::Display| Error::Config(format!("TLS {what}: {e}"));
        let certs: Vec<rustls::pki_types::CertificateDer<'static>> =
            rustls::pki_types::CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|e| bad("certificate", &e))?;
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| bad("key", &e))?;
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("protocol versions", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("certificate and key", &e))
    }
}

impl std::fmt::Debug for RedfishConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedfishConfig")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("max_sessions", &self.max_sessions)
            .field("vendor", &self.vendor)
            .field("tls", &self.tls.is_some())
            .field("remote_event_destinations", &self.remote_event_destinations)
            .finish()
    }
}

impl Default for RedfishConfig {
    fn default() -> Self {
        RedfishConfig {
            user: "admin".into(),
            password: "password".into(),
            max_sessions: None,
            vendor: Vendor::Generic,
            tls: None,
            remote_event_destinations: false,
        }
    }
}

/// The face's own state beside the node.
#[derive(Debug, Default)]
struct FaceState {
    sessions: BTreeMap<String, String>,
    next_session: u64,
    /// Bumped on every change of the system resource; its ETag.
    system_version: u64,
    /// BIOS attributes staged in the Settings resource, applied at the next reset.
    bios_pending: BTreeMap<String, Value>,
    /// Until when the BMC answers "not ready" after a reset (vendor profiles with that quirk).
    not_ready_until: Option<Instant>,
    tasks: BTreeMap<u32, Task>,
    firmware_version: String,
    /// Until when the BMC is rebooting (connections are closed unanswered).
    down_until: Option<Instant>,
}

/// A long operation (a firmware update, a BIOS settings apply) that the TaskService reports on.
#[derive(Debug, Clone)]
struct Task {
    name: String,
    started: Instant,
    duration: std::time::Duration,
    /// What happens when the task completes.
    work: TaskWork,
    done: bool,
}

#[derive(Debug, Clone)]
enum TaskWork {
    /// This firmware version is installed.
    Firmware(String),
    /// These BIOS attributes take effect (during the POST after a reset).
    Bios(BTreeMap<String, Value>),
}

/// How long a task runs (an update's flash, a BIOS apply during POST).
const TASK_TIME: std::time::Duration = std::time::Duration::from_millis(1500);

#[derive(Clone)]
struct App {
    node: Arc<Mutex<Node>>,
    faults: Arc<Mutex<Faults>>,
    dice: Arc<Mutex<Dice>>,
    face: Arc<Mutex<FaceState>>,
    /// Events for the SSE stream.
    events: tokio::sync::broadcast::Sender<Value>,
    /// The EventService's settings and subscriptions.
    event_state: Arc<Mutex<events::EventState>>,
    cfg: Arc<RedfishConfig>,
    p: Arc<Profile>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl App {
    fn new(cfg: RedfishConfig, node: Arc<Mutex<Node>>, faults: Faults, seed: u64) -> Self {
        App {
            node,
            face: Arc::new(Mutex::new(FaceState {
                firmware_version: "1.0.0".into(),
                ..FaceState::default()
            })),
            // Small: every BMC of a fleet has one, and a slow SSE reader skips what it missed.
            events: tokio::sync::broadcast::channel(16).0,
            event_state: Arc::default(),
            faults: Arc::new(Mutex::new(faults)),
            dice: Arc::new(Mutex::new(Dice::new(seed | 0x5eed << 32))),
            p: Arc::new(Profile::of(cfg.vendor)),
            cfg: Arc::new(cfg),
        }
    }
}

/// The Redfish face's routes over `node`, to serve from your own server (or to drive without
/// sockets, as the fuzz target does). [`RedfishFace::start`] serves the same router.
pub fn redfish_router(cfg: RedfishConfig, node: Arc<Mutex<Node>>) -> Router {
    router(App::new(cfg, node, Faults::default(), 1))
}

/// A running Redfish face (the task stops when this is dropped).
#[derive(Debug)]
pub struct RedfishFace {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    faults: Arc<Mutex<Faults>>,
    face: Arc<Mutex<FaceState>>,
}

impl Drop for RedfishFace {
    fn drop(&mut self) {
        self.task.abort();
        // Connections still open are closed at their next request, as if the BMC went away.
        lock(&self.face).down_until =
            Instant::now().checked_add(std::time::Duration::from_secs(1 << 32));
    }
}

impl RedfishFace {
    /// Serve `node` at `addr`: plain HTTP, or HTTPS when `cfg.tls` is set.
    pub async fn start(
        addr: SocketAddr,
        cfg: RedfishConfig,
        node: Arc<Mutex<Node>>,
        faults: Faults,
    ) -> Result<Self, Error> {
        let io = |source| Error::Io {
            during: "binding a Redfish face",
            source,
        };
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        }
        .map_err(io)?;
        // SO_REUSEADDR for a fixed port (restarts despite TIME_WAIT), not for an ephemeral one:
        // with it, Linux looks for a free ephemeral port far longer once thousands are taken
        // (binding the 10,000th face took 175 us instead of a few).
        if addr.port() != 0 {
            socket.set_reuseaddr(true).map_err(io)?;
        }
        socket.bind(addr).map_err(io)?;
        let listener = socket.listen(1024).map_err(io)?;
        let addr = listener.local_addr().map_err(|source| Error::Io {
            during: "reading the Redfish face address",
            source,
        })?;
        let tls = match &cfg.tls {
            Some(id) => Some(tokio_rustls::TlsAcceptor::from(Arc::new(
                id.server_config()?,
            ))),
            None => None,
        };
        let app = App::new(cfg, node, faults, u64::from(addr.port()));
        let faults = app.faults.clone();
        let face = app.face.clone();
        let span = tracing::debug_span!("bmc_sim_redfish", %addr);
        let task = tokio::spawn(serve(listener, tls, app).instrument(span));
        Ok(RedfishFace {
            addr,
            task,
            faults,
            face,
        })
    }

    /// Replace the faults at run time.
    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = faults;
    }

    /// Reboot the BMC: every session is lost and for `down` the service closes every
    /// connection without an answer, as a rebooting BMC's network stack does (the node keeps
    /// running).
    pub fn reboot(&self, down: std::time::Duration) {
        let mut face = lock(&self.face);
        face.sessions.clear();
        face.down_until = Some(Instant::now() + down);
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Whether the BMC is rebooting.
fn is_down(app: &App) -> bool {
    lock(&app.face)
        .down_until
        .is_some_and(|t| Instant::now() < t)
}

/// Accept connections (with a TLS handshake each when serving HTTPS) and serve the routes on
/// them with hyper, applying the connection-level faults.
async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: App,
) {
    let router = router(app.clone());
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors, most likely: let some connections end first.
                tracing::debug!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        if is_down(&app) {
            continue;
        }
        let _ = tcp.set_nodelay(true);
        let (router, app, tls) = (router.clone(), app.clone(), tls.clone());
        tokio::spawn(async move {
            let r = match tls {
                None => serve_connection(hyper_util::rt::TokioIo::new(tcp), router, app).await,
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(s) => serve_connection(hyper_util::rt::TokioIo::new(s), router, app).await,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                },
            };
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
}

/// One HTTP/1.1 connection. A request that draws the reset fault (or reaches a rebooting
/// BMC) ends the connection without an answer.
async fn serve_connection<I>(io: I, router: Router, app: App) -> Result<(), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let (router, app) = (router.clone(), app.clone());
        async move {
            let f = lock(&app.faults).clone();
            if lock(&app.dice).roll(f.http_resets) || is_down(&app) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "fault: connection closed without an answer",
                ));
            }
            use tower::ServiceExt;
            match router.oneshot(req.map(axum::body::Body::new)).await {
                Ok(r) => Ok(r),
                Err(never) => match never {},
            }
        }
    });
    hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .await
}

fn router(app: App) -> Router {
    let media_routes = |r: Router<App>, parent: &str| {
        r.route(&format!("{parent}/VirtualMedia"), get(media_collection))
            .route(&format!("{parent}/VirtualMedia/CD"), get(media))
            .route(
                &format!("{parent}/VirtualMedia/CD/Actions/VirtualMedia.InsertMedia"),
                post(insert_media),
            )
            .route(
                &format!("{parent}/VirtualMedia/CD/Actions/VirtualMedia.EjectMedia"),
                post(eject_media),
            )
    };
    let r = Router::new()
        .route(
            "/redfish",
            get(|| async { axum::Json(json!({"v1": "/redfish/v1/"})) }),
        )
        .route("/redfish/v1", get(service_root))
        .route("/redfish/v1/", get(service_root))
        .route("/redfish/v1/Systems", get(systems))
        .route("/redfish/v1/Systems/{id}", get(system).patch(patch_system))
        .route(
            "/redfish/v1/Systems/{id}/Actions/ComputerSystem.Reset",
            post(reset),
        )
        .route("/redfish/v1/Systems/{id}/EthernetInterfaces", get(nics))
        .route(
            "/redfish/v1/Systems/{id}/EthernetInterfaces/{nic}",
            get(nic),
        )
        .route("/redfish/v1/Systems/{id}/Bios", get(bios))
        .route(
            "/redfish/v1/Systems/{id}/Bios/Settings",
            get(bios_settings).patch(patch_bios_settings),
        )
        .route(
            "/redfish/v1/Systems/{id}/SecureBoot",
            get(secure_boot).patch(patch_secure_boot),
        )
        .route("/redfish/v1/Systems/{id}/Processors", get(processors))
        .route("/redfish/v1/Systems/{id}/Processors/{cpu}", get(processor))
        .route("/redfish/v1/Systems/{id}/Memory", get(memory_collection))
        .route("/redfish/v1/Systems/{id}/Memory/{dimm}", get(memory))
        .route("/redfish/v1/Systems/{id}/Storage", get(storage_collection))
        .route("/redfish/v1/Systems/{id}/Storage/1", get(storage))
        .route("/redfish/v1/Chassis/1/Drives", get(drives))
        .route("/redfish/v1/Chassis/1/Drives/0", get(drive))
        .route("/redfish/v1/Managers", get(managers))
        .route("/redfish/v1/Managers/{id}", get(manager))
        .route("/redfish/v1/Chassis", get(chassis_collection))
        .route("/redfish/v1/Chassis/1", get(chassis))
        .route("/redfish/v1/Chassis/1/Sensors", get(sensors))
        .route("/redfish/v1/Chassis/1/Sensors/{id}", get(sensor))
        .route("/redfish/v1/SessionService", get(session_service))
        .route(
            "/redfish/v1/SessionService/Sessions",
            get(sessions).post(create_session),
        )
        .route(
            "/redfish/v1/SessionService/Sessions/{id}",
            get(session).delete(delete_session),
        )
        .route("/redfish/v1/TaskService", get(task_service))
        .route("/redfish/v1/TaskService/Tasks", get(tasks))
        .route("/redfish/v1/TaskService/Tasks/{id}", get(task))
        .route("/redfish/v1/UpdateService", get(update_service))
        .route(
            "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate",
            post(simple_update),
        )
        .route(
            "/redfish/v1/UpdateService/upload",
            post(push_update).layer(axum::extract::DefaultBodyLimit::max(64 << 20)),
        )
        .route(
            "/redfish/v1/EventService",
            get(events::event_service).patch(events::patch_event_service),
        )
        .route(
            "/redfish/v1/EventService/Subscriptions",
            get(events::subscriptions).post(events::create_subscription),
        )
        .route(
            "/redfish/v1/EventService/Subscriptions/{id}",
            get(events::subscription)
                .patch(events::patch_subscription)
                .delete(events::delete_subscription),
        )
        .route(
            "/redfish/v1/EventService/Actions/EventService.SubmitTestEvent",
            post(events::submit_test_event),
        )
        .route("/redfish/v1/EventService/SSE", get(sse));
    let r = media_routes(r, "/redfish/v1/Systems/{id}");
    let r = media_routes(r, "/redfish/v1/Managers/{id}");
    r.layer(axum::middleware::from_fn_with_state(
        app.clone(),
        inject_faults,
    ))
    .with_state(app)
}

/// Latency, a hung service, and 503s, as the face's faults say.
async fn inject_faults(
    State(app): State<App>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let f = lock(&app.faults).clone();
    if f.hang {
        std::future::pending::<()>().await;
    }
    if !f.latency.is_zero() {
        tokio::time::sleep(f.latency).await;
    }
    if lock(&app.dice).roll(f.http_errors) {
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Base.1.8.ServiceTemporarilyUnavailable",
            "The service is temporarily unavailable. Retry in 1 second.",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    next.run(req).await
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "Base.1.8.ResourceMissingAtURI",
        "The resource at the URI was not found.",
    )
}

/// 404 unless `id` is this service's system (trailing slashes tolerated, as BMCs do).
fn wrong_system(app: &App, id: &str) -> Option<Response> {
    (id.trim_end_matches('/') != app.p.system_id).then(not_found)
}

/// 404 unless the URI is where this vendor keeps virtual media.
fn wrong_media_parent(app: &App, uri: &axum::http::Uri, id: &str) -> Option<Response> {
    let ok = if app.p.media_under_system {
        uri.path().starts_with("/redfish/v1/Systems/") && id == app.p.system_id
    } else {
        uri.path().starts_with("/redfish/v1/Managers/") && id == app.p.manager_id
    };
    (!ok).then(not_found)
}

/// The vendor's "not ready yet" refusal, during the window after a reset.
fn not_ready(app: &App) -> Option<Response> {
    let (_, message_id) = app.p.not_ready?;
    let until = lock(&app.face).not_ready_until?;
    (Instant::now() < until).then(|| {
        error(
            StatusCode::BAD_REQUEST,
            message_id,
            "Unable to complete the operation because the system is not ready. Retry the operation later.",
        )
    })
}

/// A Redfish error body with one `@Message.ExtendedInfo` entry.
fn error(status: StatusCode, message_id: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({
            "error": {
                "code": message_id,
                "message": message,
                "@Message.ExtendedInfo": [{
                    "@odata.type": "#Message.v1_1_1.Message",
                    "MessageId": message_id,
                    "Message": message,
                    "Severity": "Warning",
                    "Resolution": "See the message."
                }]
            }
        })),
    )
        .into_response()
}

/// Basic authentication with the account, or a live session token; the 401 otherwise.
fn unauthorized(app: &App, headers: &HeaderMap) -> Option<Response> {
    if let Some(tok) = headers.get("x-auth-token").and_then(|v| v.to_str().ok()) {
        if lock(&app.face).sessions.values().any(|t| t == tok) {
            return None;
        }
    }
    if let Some(b) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        if let Some(decoded) = base64_decode(b.trim()) {
            let expected = format!("{}:{}", app.cfg.user, app.cfg.password);
            if decoded == expected.as_bytes() {
                return None;
            }
        }
    }
    Some(error(
        StatusCode::UNAUTHORIZED,
        "Base.1.8.NoValidSession",
        "There is no valid session established with the implementation.",
    ))
}

/// Standard base64 (RFC 4648) decoding, enough for `Authorization: Basic`.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let s = s.trim_end_matches('=').as_bytes();
    if s.len() > 4096 {
        return None;
    }
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= val(*c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len().max(1)]);
    }
    Some(out)
}

async fn service_root(State(app): State<App>) -> Response {
    let uuid = {
        let node = lock(&app.node);
        let mac = node.config().macs.first().copied().unwrap_or_default();
        format!(
            "62736d69-0000-4000-8000-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
            mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
        )
    };
    axum::Json(json!({
        "@odata.id": "/redfish/v1/",
        "@odata.type": "#ServiceRoot.v1_17_0.ServiceRoot",
        "Id": "RootService",
        "Name": "Root Service",
        "RedfishVersion": "1.17.0",
        "UUID": uuid,
        "Vendor": app.p.vendor_name,
        "Product": "bmc-sim virtual BMC",
        "Systems": {"@odata.id": "/redfish/v1/Systems"},
        "Managers": {"@odata.id": "/redfish/v1/Managers"},
        "Chassis": {"@odata.id": "/redfish/v1/Chassis"},
        "SessionService": {"@odata.id": "/redfish/v1/SessionService"},
        "Tasks": {"@odata.id": "/redfish/v1/TaskService"},
        "UpdateService": {"@odata.id": "/redfish/v1/UpdateService"},
        "EventService": {"@odata.id": "/redfish/v1/EventService"},
        "ProtocolFeaturesSupported": {
            "ExpandQuery": {"ExpandAll": false, "Levels": true, "Links": false, "NoLinks": true, "MaxLevels": 1},
            "TopSkipQuery": true
        },
        "Links": {"Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}}
    }))
    .into_response()
}

fn collection(id: &str, odata_type: &str, name: &str, members: &[String]) -> Value {
    json!({
        "@odata.id": id,
        "@odata.type": odata_type,
        "Name": name,
        "Members@odata.count": members.len(),
        "Members": members.iter().map(|m| json!({"@odata.id": m})).collect::<Vec<_>>()
    })
}

/// Members per page when the client does not ask for a page size (server-driven paging).
const PAGE: usize = 10;

/// `$top`, `$skip` and `$expand` of a collection request.
#[derive(Debug, Default)]
struct Query {
    top: Option<usize>,
    skip: usize,
    expand: bool,
}

fn query(raw: Option<&str>) -> Query {
    let mut q = Query::default();
    for pair in raw.unwrap_or_default().split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "$top" | "%24top" => q.top = v.parse().ok(),
            "$skip" | "%24skip" => q.skip = v.parse().unwrap_or(0),
            "$expand" | "%24expand" => q.expand = true,
            _ => {}
        }
    }
    q
}

/// A collection page: `members` are (id, expanded body); links unless `$expand` was asked,
/// `Members@odata.nextLink` when more remain.
fn paged(
    id: &str,
    odata_type: &str,
    name: &str,
    members: Vec<(String, Value)>,
    q: &Query,
) -> Value {
    let total = members.len();
    let top = q.top.unwrap_or(PAGE).max(1);
    let end = (q.skip + top).min(total);
    let start = q.skip.min(total);
    let page: Vec<Value> = members[start..end]
        .iter()
        .map(|(m, body)| {
            if q.expand {
                body.clone()
            } else {
                json!({"@odata.id": m})
            }
        })
        .collect();
    let mut v = json!({
        "@odata.id": id,
        "@odata.type": odata_type,
        "Name": name,
        "Members@odata.count": total,
        "Members": page
    });
    if end < total {
        let expand = if q.expand { "&$expand=." } else { "" };
        v["Members@odata.nextLink"] = json!(format!("{id}?$skip={end}&$top={top}{expand}"));
    }
    v
}

/// An authenticated request (basic authentication or a session token), or the Redfish 401.
struct Authed;

impl axum::extract::FromRequestParts<App> for Authed {
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &App,
    ) -> Result<Self, Response> {
        match unauthorized(app, &parts.headers) {
            Some(r) => Err(r),
            None => Ok(Authed),
        }
    }
}

/// An authenticated request on this service's system: the `{id}` of the path is checked.
struct OnSystem;

impl axum::extract::FromRequestParts<App> for OnSystem {
    type Rejection = Response;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &App,
    ) -> Result<Self, Response> {
        Authed::from_request_parts(parts, app).await?;
        let params: Path<BTreeMap<String, String>> = Path::from_request_parts(parts, app)
            .await
            .map_err(|_| not_found())?;
        match params.get("id").and_then(|id| wrong_system(app, id)) {
            Some(r) => Err(r),
            None => Ok(OnSystem),
        }
    }
}

/// A JSON request body, or the Redfish MalformedJSON error.
struct JsonBody(Value);

impl axum::extract::FromRequest<App> for JsonBody {
    type Rejection = Response;
    async fn from_request(req: axum::extract::Request, app: &App) -> Result<Self, Response> {
        let bytes = axum::body::Bytes::from_request(req, app)
            .await
            .map_err(|e| e.into_response())?;
        parse_json(&bytes).map(JsonBody).map_err(|r| *r)
    }
}

async fn systems(State(app): State<App>, _: Authed) -> Response {
    let sys = app.p.system_path();
    axum::Json(collection(
        "/redfish/v1/Systems",
        "#ComputerSystemCollection.ComputerSystemCollection",
        "Computer System Collection",
        &[sys],
    ))
    .into_response()
}

fn target_name(p: &Profile, d: BootDevice) -> &'static str {
    match d {
        BootDevice::Pxe => "Pxe",
        BootDevice::Disk | BootDevice::DiskSafeMode => "Hdd",
        BootDevice::Cdrom | BootDevice::RemoteCdrom => p.cd_target,
        BootDevice::BiosSetup => "BiosSetup",
        BootDevice::Diagnostic => "Diags",
        BootDevice::Floppy | BootDevice::RemoteFloppy => "Floppy",
        _ => "None",
    }
}

async fn system(State(app): State<App>, _: OnSystem) -> Response {
    let sys = app.p.system_path();
    let version = lock(&app.face).system_version;
    let mut node = lock(&app.node);
    node.tick(Instant::now());
    let b = node.boot_override();
    let enabled = if !b.valid || b.device == BootDevice::NoOverride {
        "Disabled"
    } else if b.persistence == BootPersistence::Persistent {
        "Continuous"
    } else {
        "Once"
    };
    let body = json!({
        "@odata.id": sys,
        "@odata.type": "#ComputerSystem.v1_20_0.ComputerSystem",
        "@odata.etag": app.p.etag(version),
        "Id": app.p.system_id,
        "Name": node.config().name,
        "SystemType": "Physical",
        "Manufacturer": app.p.vendor_name,
        "Model": "Virtual Node",
        "SerialNumber": node.config().name,
        "PowerState": if node.power() == PowerState::On { "On" } else { "Off" },
        "Status": {"State": "Enabled", "Health": "OK"},
        "Boot": {
            "BootSourceOverrideEnabled": enabled,
            "BootSourceOverrideTarget": if enabled == "Disabled" { "None" } else { target_name(&app.p, b.device) },
            "BootSourceOverrideMode": if b.mode == BootMode::Efi { "UEFI" } else { "Legacy" },
            "BootSourceOverrideTarget@Redfish.AllowableValues": ["None", "Pxe", "Hdd", app.p.cd_target, "BiosSetup"],
            "BootSourceOverrideEnabled@Redfish.AllowableValues": ["Disabled", "Once", "Continuous"],
            "BootSourceOverrideMode@Redfish.AllowableValues": ["Legacy", "UEFI"]
        },
        "BootProgress": boot_progress(node.booted_from()),
        "ProcessorSummary": {"Count": node.config().cpus},
        "MemorySummary": {"TotalSystemMemoryGiB": node.config().memory_mib as f64 / 1024.0},
        "Bios": {"@odata.id": format!("{sys}/Bios")},
        "SecureBoot": {"@odata.id": format!("{sys}/SecureBoot")},
        "EthernetInterfaces": {"@odata.id": format!("{sys}/EthernetInterfaces")},
        "Storage": {"@odata.id": format!("{sys}/Storage")},
        "Processors": {"@odata.id": format!("{sys}/Processors")},
        "Memory": {"@odata.id": format!("{sys}/Memory")},
        "Oem": {"BmcSim": oem_boot(&node)},
        "Links": {
            "ManagedBy": [{"@odata.id": app.p.manager_path()}],
            "Chassis": [{"@odata.id": "/redfish/v1/Chassis/1"}]
        },
        "Actions": {
            "#ComputerSystem.Reset": {
                "target": format!("{sys}/Actions/ComputerSystem.Reset"),
                "ResetType@Redfish.AllowableValues": [
                    "On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart",
                    "Nmi", "PowerCycle"
                ]
            }
        }
    });
    let mut body = body;
    if app.p.media_under_system {
        body["VirtualMedia"] = json!({"@odata.id": app.p.media_path()});
    }
    let mut r = axum::Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&app.p.etag(version)) {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// `BootProgress` of a ComputerSystem: the OS is running after a disk boot that found a
/// loader; the firmware stopped (OEM state `NoBootableDevice`) when there was none.
fn boot_progress(b: Option<&crate::BootedFrom>) -> Value {
    match b {
        None => json!({"LastState": "None"}),
        Some(crate::BootedFrom::Disk { .. }) => json!({"LastState": "OSRunning"}),
        Some(crate::BootedFrom::NoBootableDevice { .. }) => {
            json!({"LastState": "OEM", "OemLastState": "NoBootableDevice"})
        }
        Some(_) => json!({"LastState": "OSBootStarted"}),
    }
}

/// The simulator's own view of the last boot: what it booted from, the OS found, and what
/// the firmware saw on the disk.
fn oem_boot(node: &Node) -> Value {
    let booted = match node.booted_from() {
        None => json!({"Device": "None"}),
        Some(crate::BootedFrom::Disk { loader, os }) => {
            json!({"Device": "Disk", "Loader": loader, "OperatingSystem": os})
        }
        Some(crate::BootedFrom::NoBootableDevice { reason }) => {
            json!({"Device": "None", "NoBootableDevice": reason})
        }
        Some(crate::BootedFrom::Network) => json!({"Device": "Pxe"}),
        Some(crate::BootedFrom::VirtualMedia { image }) => {
            json!({"Device": "VirtualMedia", "Image": image})
        }
        Some(other) => json!({"Device": format!("{other:?}")}),
    };
    let disk = node.disk_report().map(|r| {
        json!({
            "PartitionTable": format!("{:?}", r.table),
            "SectorSize": r.sector_size,
            "Partitions": r.partitions.iter().map(|p| json!({
                "Number": p.number,
                "StartBytes": p.start,
                "SizeBytes": p.size,
                "Type": p.kind,
                "Name": p.name,
                "FileSystem": p.filesystem.as_ref().map(crate::disk::Filesystem::name),
            })).collect::<Vec<_>>()
        })
    });
    json!({"@odata.type": "#BmcSim.v1_0_0.BmcSim", "BootedFrom": booted, "Disk": disk})
}

fn parse_json(body: &[u8]) -> Result<Value, Box<Response>> {
    serde_json::from_slice(body).map_err(|_| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.MalformedJSON",
            "The request body submitted was malformed JSON.",
        ))
    })
}

async fn patch_system(
    State(app): State<App>,
    headers: HeaderMap,
    _: OnSystem,
    JsonBody(v): JsonBody,
) -> Response {
    if let Some(r) = not_ready(&app) {
        return r;
    }
    let mut face = lock(&app.face);
    match headers.get(header::IF_MATCH).and_then(|v| v.to_str().ok()) {
        Some(m) => {
            // Weak and strong forms of the current tag both match, as does `*`.
            let bare = |t: &str| t.trim().trim_start_matches("W/").to_string();
            if bare(m) != "*" && bare(m) != bare(&app.p.etag(face.system_version)) {
                return error(
                    StatusCode::PRECONDITION_FAILED,
                    "Base.1.8.PreconditionFailed",
                    "The ETag supplied did not match the ETag required to change this resource.",
                );
            }
        }
        None if app.p.require_if_match => {
            return error(
                StatusCode::PRECONDITION_REQUIRED,
                "Base.1.8.PreconditionRequired",
                "A precondition header or annotation is required to change this resource.",
            );
        }
        None => {}
    }
    let Some(boot) = v.get("Boot") else {
        return error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.PropertyUnknown",
            "Only Boot properties can be changed on this system.",
        );
    };
    let mut node = lock(&app.node);
    let mut flags = node.boot_override();
    if app.p.mode_read_only && boot.get("BootSourceOverrideMode").is_some() {
        return error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.PropertyNotWritable",
            "The property BootSourceOverrideMode is a read only property and cannot be assigned a value.",
        );
    }
    if let Some(t) = boot.get("BootSourceOverrideTarget").and_then(Value::as_str) {
        flags.device = match t {
            "None" => BootDevice::NoOverride,
            "Pxe" => BootDevice::Pxe,
            "Hdd" => BootDevice::Disk,
            t if t == app.p.cd_target => BootDevice::Cdrom,
            "BiosSetup" => BootDevice::BiosSetup,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Base.1.8.PropertyValueNotInList",
                    "The value for BootSourceOverrideTarget is not in the list of acceptable values.",
                );
            }
        };
        flags.valid = flags.device != BootDevice::NoOverride;
    }
    if let Some(e) = boot
        .get("BootSourceOverrideEnabled")
        .and_then(Value::as_str)
    {
        match e {
            "Once" => flags.persistence = BootPersistence::NextBoot,
            "Continuous" => flags.persistence = BootPersistence::Persistent,
            "Disabled" => flags.valid = false,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Base.1.8.PropertyValueNotInList",
                    "The value for BootSourceOverrideEnabled is not in the list of acceptable values.",
                );
            }
        }
        if e != "Disabled" && flags.device != BootDevice::NoOverride {
            flags.valid = true;
        }
    }
    if app.p.mode_forgotten && boot.get("BootSourceOverrideMode").is_none() {
        // Supermicro: a boot PATCH without the mode falls back to Legacy.
        flags.mode = BootMode::Legacy;
    }
    if let Some(m) = boot.get("BootSourceOverrideMode").and_then(Value::as_str) {
        flags.mode = match m {
            "UEFI" => BootMode::Efi,
            "Legacy" => BootMode::Legacy,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Base.1.8.PropertyValueNotInList",
                    "The value for BootSourceOverrideMode is not in the list of acceptable values.",
                );
            }
        };
    }
    if node
        .set_boot_option(BootParameter::BootFlags(BootFlags { ..flags }), false)
        .is_err()
    {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Base.1.8.GeneralError",
            "Boot change failed.",
        );
    }
    face.system_version += 1;
    StatusCode::NO_CONTENT.into_response()
}

async fn reset(State(app): State<App>, _: OnSystem, JsonBody(v): JsonBody) -> Response {
    let control = match v.get("ResetType").and_then(Value::as_str) {
        Some("On") => ChassisControl::PowerUp,
        Some("ForceOff") => ChassisControl::PowerDown,
        Some("GracefulShutdown") => ChassisControl::SoftShutdown,
        Some("ForceRestart" | "GracefulRestart") => ChassisControl::HardReset,
        Some("PowerCycle") => ChassisControl::PowerCycle,
        Some("Nmi") => ChassisControl::DiagnosticInterrupt,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "Base.1.8.ActionParameterValueNotInList",
                "The value for ResetType is not in the list of acceptable values.",
            );
        }
    };
    if let Some(r) = not_ready(&app) {
        return r;
    }
    let mut face = lock(&app.face);
    let mut node = lock(&app.node);
    node.tick(Instant::now());
    if let Some((window, _)) = app.p.not_ready {
        face.not_ready_until = Some(Instant::now() + window);
    }
    let restarts = matches!(
        control,
        ChassisControl::HardReset | ChassisControl::PowerCycle
    ) || (control == ChassisControl::PowerUp && node.power() == PowerState::Off);
    if restarts && !face.bios_pending.is_empty() {
        // Staged BIOS settings are applied by the firmware during the POST after the reset:
        // a task that completes when they have taken effect.
        let attrs = std::mem::take(&mut face.bios_pending);
        new_task(
            &app,
            &mut face,
            "BIOS settings apply",
            TaskWork::Bios(attrs),
        );
    }
    if node.chassis_control(control).is_err() {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Base.1.8.GeneralError",
            "Reset failed.",
        );
    }
    face.system_version += 1;
    drop(node);
    drop(face);
    emit(
        &app,
        EventRecord {
            event_type: "ResourceUpdated",
            message_id: "ResourceEvent.1.0.ResourceChanged".into(),
            message: format!("The system was reset ({control:?})."),
            message_args: vec![],
            origin: app.p.system_path(),
            resource_type: "ComputerSystem",
            severity: "OK",
        },
    );
    StatusCode::NO_CONTENT.into_response()
}

async fn nics(State(app): State<App>, _: OnSystem) -> Response {
    let sys = app.p.system_path();
    let n = lock(&app.node).config().macs.len();
    let members: Vec<String> = (1..=n)
        .map(|i| format!("{sys}/EthernetInterfaces/{i}"))
        .collect();
    axum::Json(collection(
        &format!("{sys}/EthernetInterfaces"),
        "#EthernetInterfaceCollection.EthernetInterfaceCollection",
        "Ethernet Interface Collection",
        &members,
    ))
    .into_response()
}

async fn nic(
    State(app): State<App>,
    _: Authed,
    Path((id, nic)): Path<(String, usize)>,
) -> Response {
    if let Some(r) = wrong_system(&app, &id) {
        return r;
    }
    let sys = app.p.system_path();
    let node = lock(&app.node);
    let Some(mac) = nic.checked_sub(1).and_then(|i| node.config().macs.get(i)) else {
        return error(
            StatusCode::NOT_FOUND,
            "Base.1.8.ResourceMissingAtURI",
            "No such interface.",
        );
    };
    let mac = mac
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    axum::Json(json!({
        "@odata.id": format!("{sys}/EthernetInterfaces/{nic}"),
        "@odata.type": "#EthernetInterface.v1_10_0.EthernetInterface",
        "Id": nic.to_string(),
        "Name": format!("NIC {nic}"),
        "MACAddress": mac,
        "PermanentMACAddress": mac,
        "LinkStatus": "LinkUp",
        "Status": {"State": "Enabled", "Health": "OK"}
    }))
    .into_response()
}

async fn bios(State(app): State<App>, _: OnSystem) -> Response {
    let sys = app.p.system_path();
    let attrs = lock(&app.node).bios.clone();
    axum::Json(json!({
        "@odata.id": format!("{sys}/Bios"),
        "@odata.type": "#Bios.v1_2_0.Bios",
        "Id": "Bios",
        "Name": "BIOS Configuration Current Settings",
        "Attributes": attrs,
        "@Redfish.Settings": {
            "@odata.type": "#Settings.v1_3_5.Settings",
            "SettingsObject": {"@odata.id": format!("{sys}/Bios/Settings")},
            "SupportedApplyTimes": ["OnReset"]
        }
    }))
    .into_response()
}

async fn bios_settings(State(app): State<App>, _: OnSystem) -> Response {
    let sys = app.p.system_path();
    let pending = lock(&app.face).bios_pending.clone();
    axum::Json(json!({
        "@odata.id": format!("{sys}/Bios/Settings"),
        "@odata.type": "#Bios.v1_2_0.Bios",
        "Id": "Settings",
        "Name": "BIOS Configuration Pending Settings",
        "Attributes": pending
    }))
    .into_response()
}

async fn patch_bios_settings(
    State(app): State<App>,
    _: OnSystem,
    JsonBody(v): JsonBody,
) -> Response {
    let Some(attrs) = v.get("Attributes").and_then(Value::as_object) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.PropertyMissing",
            "The property Attributes is a required property and must be included in the request.",
        );
    };
    let mut face = lock(&app.face);
    for (k, v) in attrs {
        face.bios_pending.insert(k.clone(), v.clone());
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn secure_boot(State(app): State<App>, _: OnSystem) -> Response {
    let sys = app.p.system_path();
    let on = lock(&app.node).secure_boot;
    axum::Json(json!({
        "@odata.id": format!("{sys}/SecureBoot"),
        "@odata.type": "#SecureBoot.v1_1_0.SecureBoot",
        "Id": "SecureBoot",
        "Name": "UEFI Secure Boot",
        "SecureBootEnable": on,
        "SecureBootCurrentBoot": if on { "Enabled" } else { "Disabled" },
        "SecureBootMode": "UserMode"
    }))
    .into_response()
}

async fn patch_secure_boot(State(app): State<App>, _: OnSystem, JsonBody(v): JsonBody) -> Response {
    let Some(on) = v.get("SecureBootEnable").and_then(Value::as_bool) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.PropertyValueTypeError",
            "SecureBootEnable must be a boolean.",
        );
    };
    lock(&app.node).secure_boot = on;
    StatusCode::NO_CONTENT.into_response()
}

/// Memory modules of a node: 8 GiB DIMMs (one smaller one for the rest).
fn dimms(memory_mib: u64) -> Vec<u64> {
    let mut left = memory_mib;
    let mut out = Vec::new();
    while left > 0 && out.len() < 64 {
        let d = left.min(8192);
        out.push(d);
        left -= d;
    }
    out
}

async fn processors(State(app): State<App>, _: OnSystem) -> Response {
    let sys = app.p.system_path();
    let n = lock(&app.node).config().cpus.min(1024);
    let members: Vec<String> = (0..n).map(|i| format!("{sys}/Processors/CPU{i}")).collect();
    axum::Json(collection(
        &format!("{sys}/Processors"),
        "#ProcessorCollection.ProcessorCollection",
        "Processors Collection",
        &members,
    ))
    .into_response()
}

async fn processor(
    State(app): State<App>,
    _: Authed,
    Path((id, cpu)): Path<(String, String)>,
) -> Response {
    if let Some(r) = wrong_system(&app, &id) {
        return r;
    }
    let n = lock(&app.node).config().cpus;
    let Some(i) = cpu
        .strip_prefix("CPU")
        .and_then(|i| i.parse::<u32>().ok())
        .filter(|i| *i < n.min(1024))
    else {
        return not_found();
    };
    let sys = app.p.system_path();
    axum::Json(json!({
        "@odata.id": format!("{sys}/Processors/CPU{i}"),
        "@odata.type": "#Processor.v1_18_0.Processor",
        "Id": format!("CPU{i}"),
        "Name": format!("Processor {i}"),
        "Socket": format!("CPU {i}"),
        "ProcessorType": "CPU",
        "ProcessorArchitecture": "x86",
        "InstructionSet": "x86-64",
        "Manufacturer": "bmc-sim",
        "Model": "Virtual CPU",
        "TotalCores": 1,
        "TotalThreads": 1,
        "Status": {"State": "Enabled", "Health": "OK"}
    }))
    .into_response()
}

async fn memory_collection(State(app): State<App>, _: OnSystem) -> Response {
    let sys = app.p.system_path();
    let n = dimms(lock(&app.node).config().memory_mib).len();
    let members: Vec<String> = (0..n).map(|i| format!("{sys}/Memory/DIMM{i}")).collect();
    axum::Json(collection(
        &format!("{sys}/Memory"),
        "#MemoryCollection.MemoryCollection",
        "Memory Collection",
        &members,
    ))
    .into_response()
}

async fn memory(
    State(app): State<App>,
    _: Authed,
    Path((id, dimm)): Path<(String, String)>,
) -> Response {
    if let Some(r) = wrong_system(&app, &id) {
        return r;
    }
    let sizes = dimms(lock(&app.node).config().memory_mib);
    let Some((i, mib)) = dimm
        .strip_prefix("DIMM")
        .and_then(|i| i.parse::<usize>().ok())
        .and_then(|i| sizes.get(i).map(|m| (i, *m)))
    else {
        return not_found();
    };
    let sys = app.p.system_path();
    axum::Json(json!({
        "@odata.id": format!("{sys}/Memory/DIMM{i}"),
        "@odata.type": "#Memory.v1_20_0.Memory",
        "Id": format!("DIMM{i}"),
        "Name": format!("DIMM {i}"),
        "MemoryType": "DRAM",
        "MemoryDeviceType": "DDR5",
        "CapacityMiB": mib,
        "Status": {"State": "Enabled", "Health": "OK"}
    }))
    .into_response()
}

async fn storage_collection(State(app): State<App>, _: OnSystem) -> Response {
    let sys = app.p.system_path();
    axum::Json(collection(
        &format!("{sys}/Storage"),
        "#StorageCollection.StorageCollection",
        "Storage Collection",
        &[format!("{sys}/Storage/1")],
    ))
    .into_response()
}

async fn storage(State(app): State<App>, _: OnSystem) -> Response {
    let sys = app.p.system_path();
    let has_disk = lock(&app.node).config().disk.is_some();
    let drives: Vec<Value> = if has_disk {
        vec![json!({"@odata.id": "/redfish/v1/Chassis/1/Drives/0"})]
    } else {
        Vec::new()
    };
    axum::Json(json!({
        "@odata.id": format!("{sys}/Storage/1"),
        "@odata.type": "#Storage.v1_15_0.Storage",
        "Id": "1",
        "Name": "Storage Controller",
        "Status": {"State": "Enabled", "Health": "OK"},
        "Drives@odata.count": drives.len(),
        "Drives": drives
    }))
    .into_response()
}

async fn drives(State(app): State<App>, _: Authed) -> Response {
    let members: Vec<String> = if lock(&app.node).config().disk.is_some() {
        vec!["/redfish/v1/Chassis/1/Drives/0".to_string()]
    } else {
        Vec::new()
    };
    axum::Json(collection(
        "/redfish/v1/Chassis/1/Drives",
        "#DriveCollection.DriveCollection",
        "Drive Collection",
        &members,
    ))
    .into_response()
}

/// The node's disk (in the chassis, as current schemas place drives): its image file's size
/// is the drive's capacity.
async fn drive(State(app): State<App>, _: Authed) -> Response {
    let Some(path) = lock(&app.node).config().disk.clone() else {
        return not_found();
    };
    let capacity = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    axum::Json(json!({
        "@odata.id": "/redfish/v1/Chassis/1/Drives/0",
        "@odata.type": "#Drive.v1_17_0.Drive",
        "Id": "0",
        "Name": "Disk 0",
        "MediaType": "HDD",
        "Protocol": "SATA",
        "CapacityBytes": capacity,
        "BlockSizeBytes": 512,
        "Status": {"State": if capacity > 0 { "Enabled" } else { "Absent" }, "Health": "OK"}
    }))
    .into_response()
}

async fn managers(State(app): State<App>, _: Authed) -> Response {
    axum::Json(collection(
        "/redfish/v1/Managers",
        "#ManagerCollection.ManagerCollection",
        "Manager Collection",
        &[app.p.manager_path()],
    ))
    .into_response()
}

async fn manager(State(app): State<App>, _: Authed, Path(id): Path<String>) -> Response {
    if id != app.p.manager_id {
        return not_found();
    }
    let mgr = app.p.manager_path();
    let sys = app.p.system_path();
    let vm = app.p.media_path();
    let mut body = json!({
        "@odata.id": mgr,
        "@odata.type": "#Manager.v1_19_0.Manager",
        "Id": app.p.manager_id,
        "Name": "Manager",
        "ManagerType": "BMC",
        "FirmwareVersion": lock(&app.face).firmware_version,
        "Status": {"State": "Enabled", "Health": "OK"},
        "Links": {"ManagerForServers": [{"@odata.id": sys}]}
    });
    if !app.p.media_under_system {
        body["VirtualMedia"] = json!({"@odata.id": vm});
    }
    axum::Json(body).into_response()
}

async fn media_collection(
    State(app): State<App>,
    _: Authed,
    uri: axum::http::Uri,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = wrong_media_parent(&app, &uri, &id) {
        return r;
    }
    axum::Json(collection(
        &app.p.media_path(),
        "#VirtualMediaCollection.VirtualMediaCollection",
        "Virtual Media Services",
        &[format!("{}/CD", app.p.media_path())],
    ))
    .into_response()
}

async fn media(
    State(app): State<App>,
    _: Authed,
    uri: axum::http::Uri,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = wrong_media_parent(&app, &uri, &id) {
        return r;
    }
    let image = lock(&app.node).virtual_media.clone();
    let base = format!("{}/CD", app.p.media_path());
    axum::Json(json!({
        "@odata.id": base,
        "@odata.type": "#VirtualMedia.v1_6_0.VirtualMedia",
        "Id": "CD",
        "Name": "Virtual CD",
        "MediaTypes": ["CD", "DVD"],
        "Image": image,
        "Inserted": image.is_some(),
        "WriteProtected": true,
        "ConnectedVia": if image.is_some() { "URI" } else { "NotConnected" },
        "Actions": {
            "#VirtualMedia.InsertMedia": {"target": format!("{base}/Actions/VirtualMedia.InsertMedia")},
            "#VirtualMedia.EjectMedia": {"target": format!("{base}/Actions/VirtualMedia.EjectMedia")}
        }
    }))
    .into_response()
}

async fn insert_media(
    State(app): State<App>,
    _: Authed,
    uri: axum::http::Uri,
    Path(id): Path<String>,
    JsonBody(v): JsonBody,
) -> Response {
    if let Some(r) = wrong_media_parent(&app, &uri, &id) {
        return r;
    }
    let Some(image) = v.get("Image").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.ActionParameterMissing",
            "The action InsertMedia requires the parameter Image to be present in the request body.",
        );
    };
    if !(image.starts_with("http://") || image.starts_with("https://")) {
        return error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.ActionParameterValueFormatError",
            "The value for the parameter Image in the action InsertMedia is of a different format than the parameter can accept.",
        );
    }
    if app.p.insert_rejects_flags
        && (v.get("Inserted").is_some() || v.get("WriteProtected").is_some())
    {
        return error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.ActionParameterNotSupported",
            "The parameters Inserted and WriteProtected are not supported on the action InsertMedia.",
        );
    }
    // A BMC fetches the image: check that it is there before saying it is inserted.
    if let Err(why) = head(image).await {
        return error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.CouldNotEstablishConnection",
            &format!("The service failed to establish a connection with the URI '{image}': {why}."),
        );
    }
    let mut node = lock(&app.node);
    if node.virtual_media.is_some() {
        return error(
            StatusCode::CONFLICT,
            "Base.1.8.ResourceInUse",
            "The change to the requested resource failed because the resource is in use or in transition.",
        );
    }
    node.virtual_media = Some(image.to_string());
    StatusCode::NO_CONTENT.into_response()
}

async fn eject_media(
    State(app): State<App>,
    _: Authed,
    uri: axum::http::Uri,
    Path(id): Path<String>,
) -> Response {
    if let Some(r) = wrong_media_parent(&app, &uri, &id) {
        return r;
    }
    lock(&app.node).virtual_media = None;
    StatusCode::NO_CONTENT.into_response()
}

async fn chassis_collection(_: Authed) -> Response {
    axum::Json(collection(
        "/redfish/v1/Chassis",
        "#ChassisCollection.ChassisCollection",
        "Chassis Collection",
        &["/redfish/v1/Chassis/1".to_string()],
    ))
    .into_response()
}

async fn chassis(State(app): State<App>, _: Authed) -> Response {
    let sys = app.p.system_path();
    let mgr = app.p.manager_path();
    let on = lock(&app.node).power() == PowerState::On;
    axum::Json(json!({
        "@odata.id": "/redfish/v1/Chassis/1",
        "@odata.type": "#Chassis.v1_23_0.Chassis",
        "Id": "1",
        "Name": "Chassis",
        "ChassisType": "RackMount",
        "PowerState": if on { "On" } else { "Off" },
        "Status": {"State": "Enabled", "Health": "OK"},
        "Drives": {"@odata.id": "/redfish/v1/Chassis/1/Drives"},
        "Sensors": {"@odata.id": "/redfish/v1/Chassis/1/Sensors"},
        "Links": {"ComputerSystems": [{"@odata.id": sys}], "ManagedBy": [{"@odata.id": mgr}]}
    }))
    .into_response()
}

/// The node's analog sensors (the full sensor records its IPMI face serves from the SDR
/// repository) as Redfish `Sensor` resources: the same readings and thresholds, converted
/// with the records' own factors, so both faces agree. Ids are the IPMI names without
/// spaces or punctuation (`CPU Temp` is `CPUTemp`).
fn sensor_list(app: &App) -> Vec<(String, Value)> {
    use ipmi_proto::cmd::sdr::{Sdr, SdrRecord};
    let node = lock(&app.node);
    let storage = &node.storage;
    storage
        .sdr
        .records()
        .filter_map(|(_, bytes)| match Sdr::parse(bytes).ok()?.record {
            SdrRecord::FullSensor(f) => Some(f),
            _ => None,
        })
        .filter_map(|f| {
            let state = storage.sensors.get(&f.key.number)?;
            Some(sensor_json(&f, state))
        })
        .collect()
}

fn sensor_json(
    f: &ipmi_proto::cmd::sdr::FullSensor,
    state: &ipmi_proto::bmc::storage::SensorState,
) -> (String, Value) {
    use ipmi_proto::cmd::sdr::Threshold;
    let name = f.id.decode();
    let id: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
    let path = format!("/redfish/v1/Chassis/1/Sensors/{id}");
    // IPMI base unit codes to the schema's ReadingType and UCUM units.
    let (reading_type, units) = match f.units.base {
        1 => ("Temperature", "Cel"),
        4 => ("Voltage", "V"),
        5 => ("Current", "A"),
        6 => ("Power", "W"),
        18 => ("Rotational", "RPM"),
        _ => ("Percent", "%"),
    };
    let reading = if state.unavailable {
        None
    } else {
        f.convert(state.raw)
    };
    let mut thresholds = serde_json::Map::new();
    let mut health = "OK";
    for (t, key) in [
        (Threshold::UpperNonCritical, "UpperCaution"),
        (Threshold::UpperCritical, "UpperCritical"),
        (Threshold::UpperNonRecoverable, "UpperFatal"),
        (Threshold::LowerNonCritical, "LowerCaution"),
        (Threshold::LowerCritical, "LowerCritical"),
        (Threshold::LowerNonRecoverable, "LowerFatal"),
    ] {
        if state.readable_thresholds & t.mask_bit() == 0 {
            continue;
        }
        let Some(limit) = f.convert(state.thresholds.get(t)) else {
            continue;
        };
        thresholds.insert(key.into(), json!({"Reading": limit}));
        let crossed = reading.is_some_and(|r| {
            if key.starts_with("Upper") {
                r >= limit
            } else {
                r <= limit
            }
        });
        if crossed {
            health = if key.ends_with("Caution") && health == "OK" {
                "Warning"
            } else {
                "Critical"
            };
        }
    }
    let body = json!({
        "@odata.id": path,
        "@odata.type": "#Sensor.v1_9_0.Sensor",
        "Id": id,
        "Name": name,
        "ReadingType": reading_type,
        "ReadingUnits": units,
        "Reading": reading,
        "Thresholds": thresholds,
        "Status": {
            "State": if state.scanning && !state.unavailable { "Enabled" } else { "Disabled" },
            "Health": health
        },
        "Oem": {"BmcSim": {"@odata.type": "#BmcSim.v1_0_0.BmcSim", "IpmiSensorNumber": f.key.number}}
    });
    (path, body)
}

async fn sensors(
    State(app): State<App>,
    _: Authed,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    axum::Json(paged(
        "/redfish/v1/Chassis/1/Sensors",
        "#SensorCollection.SensorCollection",
        "Sensors",
        sensor_list(&app),
        &query(raw.as_deref()),
    ))
    .into_response()
}

async fn sensor(State(app): State<App>, _: Authed, Path(id): Path<String>) -> Response {
    let want = format!("/redfish/v1/Chassis/1/Sensors/{id}");
    match sensor_list(&app).into_iter().find(|(p, _)| *p == want) {
        Some((_, body)) => axum::Json(body).into_response(),
        None => not_found(),
    }
}

async fn session_service(_: Authed) -> Response {
    axum::Json(json!({
        "@odata.id": "/redfish/v1/SessionService",
        "@odata.type": "#SessionService.v1_1_8.SessionService",
        "Id": "SessionService",
        "Name": "Session Service",
        "ServiceEnabled": true,
        "SessionTimeout": 1800,
        "Sessions": {"@odata.id": "/redfish/v1/SessionService/Sessions"}
    }))
    .into_response()
}

async fn sessions(
    State(app): State<App>,
    _: Authed,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let members: Vec<(String, Value)> = lock(&app.face)
        .sessions
        .keys()
        .map(|id| {
            (
                format!("/redfish/v1/SessionService/Sessions/{id}"),
                session_json(&app, id),
            )
        })
        .collect();
    axum::Json(paged(
        "/redfish/v1/SessionService/Sessions",
        "#SessionCollection.SessionCollection",
        "Session Collection",
        members,
        &query(raw.as_deref()),
    ))
    .into_response()
}

fn session_json(app: &App, id: &str) -> Value {
    json!({
        "@odata.id": format!("/redfish/v1/SessionService/Sessions/{id}"),
        "@odata.type": "#Session.v1_7_0.Session",
        "Id": id,
        "Name": "User Session",
        "UserName": app.cfg.user
    })
}

async fn create_session(State(app): State<App>, JsonBody(v): JsonBody) -> Response {
    let user = v.get("UserName").and_then(Value::as_str);
    let pass = v.get("Password").and_then(Value::as_str);
    if user != Some(app.cfg.user.as_str()) || pass != Some(app.cfg.password.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Base.1.8.NoValidSession",
            "Invalid user name or password.",
        );
    }
    let mut face = lock(&app.face);
    if face.sessions.len() >= app.cfg.max_sessions.unwrap_or(app.p.max_sessions) {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Base.1.8.SessionLimitExceeded",
            "The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.",
        );
    }
    face.next_session += 1;
    let id = face.next_session.to_string();
    // A fresh, unguessable token per session.
    let mut tok = [0u8; 16];
    ipmi_proto::crypto::OsRandom.fill(&mut tok);
    let token: String = tok.iter().map(|b| format!("{b:02x}")).collect();
    face.sessions.insert(id.clone(), token.clone());
    let location = format!("/redfish/v1/SessionService/Sessions/{id}");
    let mut r = (
        StatusCode::CREATED,
        axum::Json(json!({
            "@odata.id": location,
            "@odata.type": "#Session.v1_7_0.Session",
            "Id": id,
            "Name": "User Session",
            "UserName": app.cfg.user
        })),
    )
        .into_response();
    if let (Ok(t), Ok(l)) = (
        HeaderValue::from_str(&token),
        HeaderValue::from_str(&location),
    ) {
        r.headers_mut().insert("x-auth-token", t);
        r.headers_mut().insert(header::LOCATION, l);
    }
    r
}

async fn session(State(app): State<App>, _: Authed, Path(id): Path<String>) -> Response {
    if !lock(&app.face).sessions.contains_key(&id) {
        return error(
            StatusCode::NOT_FOUND,
            "Base.1.8.ResourceMissingAtURI",
            "No such session.",
        );
    }
    axum::Json(session_json(&app, &id)).into_response()
}

async fn delete_session(State(app): State<App>, _: Authed, Path(id): Path<String>) -> Response {
    if lock(&app.face).sessions.remove(&id).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            "Base.1.8.ResourceMissingAtURI",
            "No such session.",
        );
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `http://` or `https://authority/path` as (TLS, authority for the Host header, `host:port`
/// to connect to, path); `None` for anything else.
fn split_url(url: &str) -> Option<(bool, &str, String, &str)> {
    let (tls, rest) = match url.strip_prefix("https://") {
        Some(rest) => (true, rest),
        None => (false, url.strip_prefix("http://")?),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    // `host`, `host:port`, `[v6]` or `[v6]:port`.
    let has_port = match authority.rfind(']') {
        Some(i) => authority[i..].contains(':'),
        None => authority.contains(':'),
    };
    let addr = if has_port {
        authority.to_string()
    } else {
        format!("{authority}:{}", if tls { 443 } else { 80 })
    };
    Some((tls, authority, addr, path))
}

/// Accepts any server certificate, as BMCs fetching virtual media do by default (their
/// certificate check is an option few enable); signatures are still verified.
#[derive(Debug)]
struct AnyServerCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServerCert(provider)))
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(cfg)))
}

/// One HTTP/1.1 request (over TLS for `https://`) with an empty or JSON body; Ok on a 2xx,
/// within 5 s.
async fn http_request(method: hyper::Method, url: &str, json: Option<&str>) -> Result<(), String> {
    let (tls, authority, addr, path) =
        split_url(url).ok_or_else(|| format!("not an http(s):// URL: {url}"))?;
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, authority);
    if json.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let body = json
        .map(|j| bytes::Bytes::from(j.to_string()))
        .unwrap_or_default();
    let req = req
        .body(http_body_util::Full::new(body))
        .map_err(|e| e.to_string())?;
    let fetch = async {
        let tcp = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| e.to_string())?;
        let status = if tls {
            let host = addr
                .rsplit_once(':')
                .map_or(addr.as_str(), |(h, _)| h)
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string();
            let name = rustls::pki_types::ServerName::try_from(host).map_err(|e| e.to_string())?;
            let stream = tls_connector()?
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            send_request(hyper_util::rt::TokioIo::new(stream), req).await?
        } else {
            send_request(hyper_util::rt::TokioIo::new(tcp), req).await?
        };
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("it answered {status}"))
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(5), fetch)
        .await
        .map_err(|_| "no answer within 5 s".to_string())?
}

async fn send_request<I>(
    io: I,
    req: hyper::Request<http_body_util::Full<bytes::Bytes>>,
) -> Result<StatusCode, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut send, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let resp = send.send_request(req).await.map_err(|e| e.to_string())?;
    Ok(resp.status())
}

/// HEAD an `http://` or `https://` image URL: Ok on a 2xx.
async fn head(url: &str) -> Result<(), String> {
    http_request(hyper::Method::HEAD, url, None).await
}

/// POST a JSON body (an event) to an `http://` URL: Ok on a 2xx.
async fn post_json(url: &str, body: &str) -> Result<(), String> {
    http_request(hyper::Method::POST, url, Some(body)).await
}

/// Advance tasks whose time has come: a completed update installs its firmware, a completed
/// BIOS apply sets the node's attributes.
fn update_tasks(app: &App, face: &mut FaceState) {
    let now = Instant::now();
    let mut completed = Vec::new();
    for (id, t) in face.tasks.iter_mut() {
        if !t.done && now.duration_since(t.started) >= t.duration {
            t.done = true;
            completed.push((*id, t.work.clone()));
        }
    }
    for (id, work) in completed {
        match work {
            TaskWork::Firmware(version) => face.firmware_version = version,
            TaskWork::Bios(attrs) => {
                let mut node = lock(&app.node);
                for (k, v) in attrs {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    node.bios.insert(k, v);
                }
            }
        }
        emit(
            app,
            EventRecord {
                event_type: "StatusChange",
                message_id: "TaskEvent.1.0.TaskCompletedOK".into(),
                message: format!("The task with Id '{id}' has completed."),
                message_args: vec![id.to_string()],
                origin: format!("/redfish/v1/TaskService/Tasks/{id}"),
                resource_type: "Task",
                severity: "OK",
            },
        );
    }
}

fn task_json(id: u32, t: &Task) -> Value {
    let pct = if t.done {
        100
    } else {
        (t.started.elapsed().as_millis() * 100 / t.duration.as_millis().max(1)).min(99) as u64
    };
    json!({
        "@odata.id": format!("/redfish/v1/TaskService/Tasks/{id}"),
        "@odata.type": "#Task.v1_7_0.Task",
        "Id": id.to_string(),
        "Name": t.name,
        "TaskState": if t.done { "Completed" } else { "Running" },
        "TaskStatus": "OK",
        "PercentComplete": pct,
        "Messages": if t.done {
            json!([{"MessageId": "TaskEvent.1.0.TaskCompletedOK", "Message": format!("The task with Id '{id}' has completed.")}])
        } else {
            json!([])
        }
    })
}

/// Start a task; it completes on its own after [`TASK_TIME`] (its completion event is sent
/// then, polled or not). Returns its id and body.
fn new_task(app: &App, face: &mut FaceState, name: &str, work: TaskWork) -> (u32, Value) {
    let id = face.tasks.keys().next_back().map_or(1, |k| k + 1);
    let t = Task {
        name: name.to_string(),
        started: Instant::now(),
        duration: TASK_TIME,
        work,
        done: false,
    };
    let body = task_json(id, &t);
    face.tasks.insert(id, t);
    let later = app.clone();
    tokio::spawn(async move {
        tokio::time::sleep(TASK_TIME).await;
        let mut face = lock(&later.face);
        update_tasks(&later, &mut face);
    });
    (id, body)
}

/// Answer 202 with the task's Location.
fn start_task(app: &App, name: &str, work: TaskWork) -> Response {
    let (id, body) = new_task(app, &mut lock(&app.face), name, work);
    let location = format!("/redfish/v1/TaskService/Tasks/{id}");
    let mut r = (StatusCode::ACCEPTED, axum::Json(body)).into_response();
    if let Ok(l) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, l);
    }
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

async fn task_service(_: Authed) -> Response {
    axum::Json(json!({
        "@odata.id": "/redfish/v1/TaskService",
        "@odata.type": "#TaskService.v1_2_0.TaskService",
        "Id": "TaskService",
        "Name": "Task Service",
        "ServiceEnabled": true,
        "Tasks": {"@odata.id": "/redfish/v1/TaskService/Tasks"}
    }))
    .into_response()
}

async fn tasks(
    State(app): State<App>,
    _: Authed,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Response {
    let mut face = lock(&app.face);
    update_tasks(&app, &mut face);
    let members: Vec<(String, Value)> = face
        .tasks
        .iter()
        .map(|(id, t)| {
            (
                format!("/redfish/v1/TaskService/Tasks/{id}"),
                task_json(*id, t),
            )
        })
        .collect();
    axum::Json(paged(
        "/redfish/v1/TaskService/Tasks",
        "#TaskCollection.TaskCollection",
        "Task Collection",
        members,
        &query(raw.as_deref()),
    ))
    .into_response()
}

async fn task(State(app): State<App>, _: Authed, Path(id): Path<u32>) -> Response {
    let mut face = lock(&app.face);
    update_tasks(&app, &mut face);
    match face.tasks.get(&id) {
        Some(t) => axum::Json(task_json(id, t)).into_response(),
        None => not_found(),
    }
}

async fn update_service(_: Authed) -> Response {
    axum::Json(json!({
        "@odata.id": "/redfish/v1/UpdateService",
        "@odata.type": "#UpdateService.v1_11_0.UpdateService",
        "Id": "UpdateService",
        "Name": "Update Service",
        "ServiceEnabled": true,
        "MultipartHttpPushUri": "/redfish/v1/UpdateService/upload",
        "Actions": {
            "#UpdateService.SimpleUpdate": {
                "target": "/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate",
                "TransferProtocol@Redfish.AllowableValues": ["HTTP", "HTTPS"]
            }
        }
    }))
    .into_response()
}

/// The version an image installs: its file name without the extension.
fn version_of(image: &str) -> String {
    let name = image.rsplit('/').next().unwrap_or(image);
    name.rsplit_once('.')
        .map_or(name, |(stem, _)| stem)
        .to_string()
}

async fn simple_update(State(app): State<App>, _: Authed, JsonBody(v): JsonBody) -> Response {
    let Some(uri) = v.get("ImageURI").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.ActionParameterMissing",
            "The action SimpleUpdate requires the parameter ImageURI to be present in the request body.",
        );
    };
    if !(uri.starts_with("http://") || uri.starts_with("https://")) {
        return error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.ActionParameterValueFormatError",
            "The value for the parameter ImageURI in the action SimpleUpdate is of a different format than the parameter can accept.",
        );
    }
    start_task(
        &app,
        "Firmware update (SimpleUpdate)",
        TaskWork::Firmware(version_of(uri)),
    )
}

async fn push_update(
    State(app): State<App>,
    _: Authed,
    mut multipart: axum::extract::Multipart,
) -> Response {
    let mut image: Option<(String, usize)> = None;
    let mut has_parameters = false;
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or_default().to_string();
                let file = field.file_name().unwrap_or("image.bin").to_string();
                let Ok(bytes) = field.bytes().await else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "Base.1.8.MalformedJSON",
                        "Unreadable multipart part.",
                    );
                };
                match name.as_str() {
                    "UpdateParameters" => {
                        has_parameters = serde_json::from_slice::<Value>(&bytes).is_ok()
                    }
                    "UpdateFile" => image = Some((file, bytes.len())),
                    _ => {}
                }
            }
            Ok(None) => break,
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Base.1.8.MalformedJSON",
                    "The multipart body is malformed.",
                );
            }
        }
    }
    match image {
        Some((file, len)) if has_parameters && len > 0 => start_task(
            &app,
            "Firmware update (multipart push)",
            TaskWork::Firmware(version_of(&file)),
        ),
        _ => error(
            StatusCode::BAD_REQUEST,
            "Base.1.8.PropertyMissing",
            "A multipart update needs an UpdateParameters JSON part and a non-empty UpdateFile part.",
        ),
    }
}

/// Server-sent events: resets and completed tasks, as `data:` JSON records.
async fn sse(State(app): State<App>, _: Authed) -> Response {
    let mut rx = app.events.subscribe();
    events::ensure_watcher(&app);
    let app2 = app.clone();
    let stream = async_stream(move |tx| async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(200));
        loop {
            tokio::select! {
                ev = rx.recv() => match ev {
                    Ok(v) => {
                        if tx.send(format!("data: {v}\n\n")).await.is_err() {
                            break;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break,
                },
                // Tasks complete on their own: look now and then.
                _ = tick.tick() => {
                    let mut face = lock(&app2.face);
                    update_tasks(&app2, &mut face);
                }
            }
        }
    });
    let mut r = Response::new(axum::body::Body::from_stream(stream));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// A stream of SSE chunks fed by a task through a bounded channel.
fn async_stream<F, Fut>(
    f: F,
) -> impl futures_core::Stream<Item = Result<String, std::convert::Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<String>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(64);
    tokio::spawn(f(tx));
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|o| o.map(Ok)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_basic_credentials() {
        assert_eq!(
            base64_decode("YWRtaW46cGFzc3dvcmQ=").unwrap(),
            b"admin:password"
        );
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert!(base64_decode("a!b").is_none());
    }
}
