//! # redfish-client
//!
//! A typed async Redfish client for provisioning tools that survives real BMCs' quirks
//! (Dell iDRAC, HPE iLO, Supermicro, Lenovo XCC, OpenBMC, sushy-emulator).
//!
//! * [`model`]: serde structs for ServiceRoot, ComputerSystem (power, boot override with its
//!   allowable values, BIOS and SecureBoot links, NICs, storage, summaries), Manager, Chassis,
//!   VirtualMedia, Bios with `@Redfish.Settings`, SecureBoot, Task, sessions and messages.
//!   Unknown properties and `Oem` are kept; [`Client::get_json`] and [`Client::request`] read
//!   or write raw JSON at any path.
//! * [`odata`]: [`ODataId`], typed links ([`Link`]: a reference or an expanded object,
//!   `link.get(&client)`) and collections that follow `Members@odata.nextLink`.
//! * [`client`]: the transport: sessions (`X-Auth-Token`, re-login once on 401, DELETE on
//!   close), basic auth or none; TLS verified by default, a custom CA bundle, or an explicit
//!   opt-in to accept invalid certificates; timeouts; retries of idempotent requests honouring
//!   `Retry-After`; a per-BMC concurrency limit; a response-size cap; ETag/If-Match ([`etag`]).
//! * [`ops`]: reset (checked against `ResetType@Redfish.AllowableValues`), boot override,
//!   virtual media wherever the service keeps it, BIOS through the Settings resource,
//!   SecureBoot, task monitoring.
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
//!   HTTP/1.1 with TLS, connection pooling, timeouts and a same-origin redirect policy.
//! * `serde`, `serde_json`: the model, and raw JSON where the model stops.
//! * `tokio` (`sync`, `time`): the concurrency limit, the session lock, retry and poll pauses.
//! * `httpdate`: `Retry-After` given as an HTTP date.
//! * `thiserror`: the crate's one [`Error`] type; `tracing`: a span per exchange
//!   (method, path, host; never credentials or bodies).
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(clippy::print_stdout, clippy::print_stderr)]

pub mod client;
mod error;
pub mod etag;
pub mod model;
pub mod odata;
pub mod ops;
pub mod quirks;

pub use client::{
    ActionOutcome, AuthMethod, Client, ClientBuilder, Response, RetryPolicy, Secret, TaskMonitor,
};
pub use error::{Error, Result, StatusDetail};
pub use etag::EtagPolicy;
pub use odata::{Collection, Link, ODataId, Resource};
pub use reqwest::Method;
