//! # ipmi-proto
//!
//! IPMI v2.0 over LAN ("lanplus", RMCP+) for provisioning tools: a wire codec, a sans-IO client
//! session, a sans-IO BMC responder, and (feature `tokio`, on by default) an async UDP client
//! for one to thousands of BMCs and an async BMC server.
//!
//! ## Layers
//!
//! ```text
//!  client (tokio)  ─┐                         ┌─ server (tokio)
//!                   │ datagrams, now          │
//!  session::Session ┤  ───────────────────►   ├ bmc::Responder + ManagedSystem
//!  (sans-IO)        │ datagrams, timers, events
//!                   └── cmd (typed commands) ─┘
//!  rmcp / packet / message / rakp / crypto: the wire codec and the RMCP+ cryptography
//! ```
//!
//! The protocol modules mirror the specification: [`rmcp`] (RMCP header, ASF ping/pong),
//! [`packet`] (IPMI v1.5 and RMCP+ session wrappers), [`message`] (the IPMI LAN message with its
//! checksums), [`rakp`] (Open Session and RAKP 1–4), [`crypto`] (cipher suites 0–3 and 15–17,
//! key derivation, HMAC integrity, AES-CBC-128), [`cmd`] (one type per request and response).
//!
//! ## Dependencies and why
//!
//! * `nom`: the parsers (bounded, panic-free on any input); `bytes`: the encoders.
//! * `hmac`, `sha1`, `sha2`, `aes`, `cbc` (RustCrypto): RAKP and session cryptography;
//!   `subtle`: constant-time comparison of received codes; `zeroize`: keys and passwords are
//!   wiped on drop; `getrandom`: session ids, random numbers and IVs.
//! * `thiserror`: the crate's one [`Error`] type; `tracing`: spans per BMC and exchange.
//! * `tokio` (optional, default): the UDP client and server.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod bmc;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod client;
pub mod cmd;
pub mod crypto;
mod error;
pub mod message;
#[cfg(feature = "tokio")]
mod net;
pub mod packet;
pub mod rakp;
pub mod rmcp;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod server;
pub mod session;
pub mod sol;
mod wire;

pub use error::{Error, Result};
pub use wire::checksum;
