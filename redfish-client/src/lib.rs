//! # redfish-client
//!
//! A typed async Redfish client for provisioning tools that survives real BMCs' quirks
//! (Dell iDRAC, HPE iLO, Supermicro, Lenovo XCC, OpenBMC, sushy-emulator).
//!
//! * [`model`]: serde structs for ServiceRoot, ComputerSystem (power, boot override with its
//!   allowable values, BIOS and SecureBoot links, NICs, storage, summaries), Manager, Chassis
//!   with its power and thermal (the new PowerSubsystem/ThermalSubsystem/EnvironmentMetrics
//!   and the legacy Power/Thermal), VirtualMedia, Bios with `@Redfish.Settings`, SecureBoot,
//!   Task, sessions, UpdateService and SoftwareInventory, EventService, EventDestination and
//!   Event, and messages. Unknown properties and `Oem` are kept; [`Client::get_json`] and
//!   [`Client::request`] read or write raw JSON at any path.
//! * [`odata`]: [`ODataId`], typed links ([`Link`]: a reference or an expanded object,
//!   `link.get(&client)`) and collections that follow `Members@odata.nextLink`.
//! * [`client`]: the transport: sessions (`X-Auth-Token`, re-login once on 401, DELETE on
//!   close), basic auth or none; TLS verified by default, a custom CA bundle, or an explicit
//!   opt-in to accept invalid certificates; timeouts; retries of idempotent requests honouring
//!   `Retry-After`, limited by a fleet-wide [`RetryBudget`] shared across clients; a per-BMC
//!   concurrency limit; a response-size cap; ETag/If-Match ([`etag`]).
//! * [`ops`]: reset (checked against `ResetType@Redfish.AllowableValues`), boot override,
//!   virtual media wherever the service keeps it, BIOS through the Settings resource,
//!   SecureBoot, chassis power and thermal from whichever resources the service has
//!   ([`Client::power_thermal`]), task monitoring ([`Client::wait_task`]: 202 + `Location`,
//!   `Retry-After`).
//! * [`update`]: firmware update by `SimpleUpdate` (ImageURI, TransferProtocol, Targets) and
//!   by HTTP push (`MultipartHttpPushUri` with `UpdateParameters` and `UpdateFile` parts, a
//!   file streamed from disk, or the older `HttpPushUri`), each giving a task to follow.
//! * [`events`]: event subscriptions (create, list, delete, test event) and the server-sent
//!   event stream ([`events::EventStream`]: typed [`model::Event`]s with their raw JSON, a
//!   byte cap per event and per stream, an idle timeout, resumed with `Last-Event-ID` by
//!   [`Client::resume_event_stream`]) over the sans-IO parser in [`sse`].
//! * [`quirks`]: named vendor quirks detected from the ServiceRoot and Manager.
//! * [`Error`]: one error type saying where a request failed, with the service's
//!   `@Message.ExtendedInfo` messages and whether a retry can help.
//!
//! ```no_run
//! # async fn demo() -> Result<(), redfish_client::Error> {
//! use redfish_client::Client;
//! use redfish_client::model::{BootSource, ResetType};
//! use redfish_client::ops::BootOverride;
//!
//! let client = Client::builder("https://10.0.0.42").session_auth("admin", "password").build()?;
//! let system = client.system("1").await?;
//! client.set_boot_override(&system, &BootOverride::once(BootSource::Pxe)).await?;
//! client.reset(&system, ResetType::ForceRestart).await?;
//! client.close().await?;
//! # Ok(()) }
//! ```
//!
//! ## Dependencies and why
//!
//! * `reqwest` (rustls with the `ring` provider and the system's root store, no OpenSSL):
//!   HTTP/1.1 with TLS, connection pooling, timeouts and a same-origin redirect policy; its
//!   `multipart` feature builds the firmware push and `stream` sends an image file without
//!   reading it into memory.
//! * `rustls` (the same 0.23 with `ring` that reqwest uses) and `sha2`: certificate pinning
//!   ([`ClientBuilder::pin_certificate_sha256`](client::ClientBuilder::pin_certificate_sha256)),
//!   a verifier that trusts a BMC's own certificate by its SHA-256 fingerprint,
//!   handed to reqwest as a preconfigured TLS configuration.
//! * `bytes`: an in-memory update image shared across a re-sent push without copying.
//! * `memchr`: finding `error`/`@Message.ExtendedInfo` in a 2xx body with a SIMD search, so
//!   that only bodies that may report an error are parsed for it.
//! * `serde`, `serde_json`: the model, and raw JSON where the model stops.
//! * `tokio` (`sync`, `time`, `fs`): the concurrency limit, the session lock, retry and poll
//!   pauses, idle timeouts, update images read from disk.
//! * `httpdate`: `Retry-After` given as an HTTP date.
//! * `thiserror`: the crate's one [`Error`] type; `tracing`: a span per exchange
//!   (method, path, host; never credentials or bodies).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod client;
mod error;
pub mod etag;
pub mod events;
pub mod model;
pub mod odata;
pub mod ops;
mod pin;
pub mod quirks;

pub use client::{
    ActionOutcome, AuthMethod, Client, ClientBuilder, Response, RetryBudget, RetryBudgetStats,
    RetryPolicy, Secret, TaskMonitor,
};
pub use error::{Error, Result, StatusDetail};
pub use etag::EtagPolicy;
pub use odata::{Collection, Link, ODataId, Resource};
pub use reqwest::Method;
pub mod sse;
pub mod update;
