//! # bmc-sim
//!
//! Virtual bare-metal nodes and the BMCs that manage them, thousands per process, for tests,
//! examples and benchmarks. A [`Node`] is the one model both BMC faces share (power with
//! transition delays, boot override, NICs, a file-backed disk, BIOS attributes, secure boot,
//! serial console, sensors, SEL, FRU); the IPMI face serves it with `ipmi-proto`'s sans-IO BMC
//! responder on its own UDP socket. [`Fleet`] starts many on consecutive loopback ports.
//!
//! The Redfish face serves the same node over HTTP or HTTPS (self-signed, as BMCs ship):
//! ServiceRoot, ComputerSystem (power, boot override with ETags, Reset, `BootProgress`),
//! EthernetInterfaces, Bios with a Settings resource applied by a task at the next reset,
//! SecureBoot, Processors, Memory, Storage and the disk as a Drive, a Manager with a virtual CD (InsertMedia checks
//! the image with a HEAD request, HTTP or HTTPS), Chassis, token sessions with a limit,
//! TaskService, UpdateService (SimpleUpdate and multipart push as tasks), an EventService with subscriptions that events are pushed to (filters,
//! Context, retries per `DeliveryRetryAttempts`/`DeliveryRetryIntervalSeconds`,
//! SubmitTestEvent) and an SSE stream, server-driven paging and `$expand`, and six vendor
//! profiles ([`Vendor`]). DMTF's redfish-service-validator finds no schema failure in what it
//! serves for any profile (`scripts/dev/validate-redfish.sh`).
//!
//! The IPMI face has the fleet's administrator and any further users with their privilege
//! limits ([`FleetConfigBuilder::ipmi_user`]).
//!
//! Booting: a node powered on with a PXE override network-boots for real
//! ([`NetbootConfig`]); one booted from the CD starts the image in its virtual media slot;
//! one that boots from its disk inspects the image as firmware would
//! ([`disk`]: partition table, file systems, the UEFI loader or MBR boot code, the OS from
//! os-release) and reports [`BootedFrom`] on both faces (SEL events for IPMI, `BootProgress`
//! and an `Oem` record for Redfish) and on the serial console.
//!
//! Faults ([`Faults`], per BMC or fleet-wide, or per BMC index with a [`FaultPlan`]): latency,
//! UDP loss, a hung BMC, session exhaustion, HTTP 503s, connections closed without an answer,
//! a BMC that reboots ([`Fleet::reboot_bmc`]) and slow power transitions.
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
//!   Redfish face, and the HEAD request InsertMedia makes to check an image exists and the
//!   POSTs of pushed events (`http-body-util`); `rcgen`: the self-signed certificate BMCs ship with. `tower`'s
//!   `oneshot`: one request into the router per HTTP request, on connections we accept
//!   ourselves so faults can close them.
//! * `fatfs`, `ext4-view` (read-only, pure Rust, no `unsafe`) and `crc` (the GPT header CRC):
//!   what the virtual firmware reads on a node's disk, the EFI System Partition's loader and
//!   the root file system's os-release; the same well-kept crates others in the field use,
//!   instead of hand-written file-system readers.
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod disk;
mod fault;
mod fleet;
mod ipmi;
mod netboot;
mod node;
mod redfish;
mod vendor;

pub use fault::{FaultPlan, Faults};
pub use fleet::{Fleet, FleetConfig, FleetConfigBuilder};
pub use ipmi::IpmiFace;
pub use netboot::{Firmware, NetbootConfig, NetbootOutcome, netboot};
pub use node::{BootedFrom, Node, NodeConfig, PowerState};
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
