//! # bmc-sim
//!
//! Virtual bare-metal nodes and the BMCs that manage them, thousands per process, for tests,
//! examples and benchmarks. A [`Node`] is the one model both BMC faces share (power with
//! transition delays, boot override, NICs, serial console, sensors, SEL, FRU); the IPMI face
//! serves it with `ipmi-proto`'s sans-IO BMC responder on its own UDP socket, with
//! [`Faults`] (latency, loss, a hung BMC, session exhaustion, slow power transitions) injected
//! per BMC at run time. [`Fleet`] starts many on consecutive loopback ports.
//!
//! The Redfish face serves the same node over HTTP or HTTPS (self-signed, as BMCs ship):
//! ServiceRoot, ComputerSystem (power, boot override with ETags, Reset), EthernetInterfaces,
//! Bios with a Settings resource applied at reset, SecureBoot, a Manager with a virtual CD,
//! Chassis, token sessions with a limit, TaskService, UpdateService (SimpleUpdate, multipart
//! push), an SSE event stream, six vendor profiles ([`Vendor`]) and faults.
//!
//! Status against issue 7: the node model, both faces, IPMI fault injection and fleets are
//! here, with server-driven paging and `$expand` on the session and task collections, and a node
//! powered on with a PXE override network-boots for real ([`NetbootConfig`]); event
//! subscriptions with push delivery and disk boots that inspect a disk image are not yet.
//!
//! ```no_run
//! # async fn demo() -> Result<(), bmc_sim::Error> {
//! use bmc_sim::{Fleet, FleetConfig};
//! let fleet = Fleet::start(FleetConfig::builder().count(100).base("127.0.0.1:20000".parse().unwrap())).await?;
//! println!("first BMC at {}", fleet.ipmi_addr(0).unwrap());
//! # Ok(()) }
//! ```
//!
//! ## Dependencies and why
//! * `ipmi-proto`: the IPMI BMC side (sessions, cipher suites, commands) this crate puts nodes
//!   behind; `tokio`: one UDP socket task per BMC; `thiserror`, `tracing`: errors and spans.
//! * `pxe` (its TFTP packet codec, no servers) and `dhcproto` (DHCP messages): the virtual
//!   firmware's network boot.
//! * `axum` (HTTP/1 only) and `serde_json`: the Redfish face's routes and JSON bodies;
//!   `futures-core`/`futures-util`: its SSE stream.
//! * `rustls` and `tokio-rustls` (ring provider), `hyper`/`hyper-util`: HTTPS for the
//!   Redfish face, and the HEAD request InsertMedia makes to check an image exists
//!   (`http-body-util`); `rcgen`: the self-signed certificate BMCs ship with.
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod fault;
mod fleet;
mod ipmi;
mod netboot;
mod node;
mod redfish;
mod vendor;

pub use fault::Faults;
pub use fleet::{Fleet, FleetConfig, FleetConfigBuilder};
pub use ipmi::IpmiFace;
pub use netboot::{Firmware, NetbootConfig, NetbootOutcome, netboot};
pub use node::{Node, NodeConfig, PowerState};
pub use redfish::{RedfishConfig, RedfishFace, TlsIdentity, redfish_router};
pub use vendor::Vendor;

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A socket could not be bound or used.
    #[error("I/O error during {during}: {source}")]
    Io {
        /// What was being done.
        during: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A fault specification could not be parsed.
    #[error("bad fault specification `{spec}`: {reason}")]
    FaultSpec {
        /// The offending part.
        spec: String,
        /// Why.
        reason: &'static str,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A virtual node's network boot failed.
    #[error("network boot: {0}")]
    Netboot(String),
}
