//! # pxe
//!
//! Network-boot primitives that real firmware boots from: TFTP (a sans-IO transfer state
//! machine and a tokio server) and the PXE side of DHCPv4 (option codecs, request
//! classification and boot decisions as pure functions, an address pool with lease stores
//! (in memory, or an append-only file that survives restarts, written by a group-commit
//! thread so that an ACK waits for its lease's sync but the receive loop never does), a
//! per-client flood limit (and an optional new-client limit against spoofed MACs), and a tokio ProxyDHCP / DHCP / port-4011 server), HTTP boot
//! ([`http`]: `GET`/`HEAD`/ranges planned as pure functions, files and per-node iPXE scripts
//! through a handler trait, a hyper server) and iPXE script rendering with escaping
//! ([`ipxe`]).
//!
//! ## Layers
//!
//! ```text
//!  tftp::server (tokio) ── one socket per transfer ──► tftp::transfer::ReadTransfer (sans-IO)
//!                                                        │ reads tftp::source::Content
//!  dhcp::classify(request bytes) ─► ClientInfo ─► dhcp::decide(.., &dyn BootBackend) ─► reply
//!                                    dhcp::pool::Pool ─► dhcp::lease::GroupCommit (thread)
//!                                                          └► LeaseStore::commit (file log)
//!  http::server (hyper) ─► http::Handler (files, per-node scripts) ─► http::plan (HEAD/Range)
//! ```
//!
//! ## Dependencies and why
//!
//! * `dhcproto`: the DHCPv4 message frame for the replies we build (its encoder splits long
//!   options per RFC 3396). Requests are read with our own panic-free option walker, because
//!   dhcproto refuses a whole message for one malformed option and asserts on some lengths.
//! * `nom`: the parsers of the PXE parts of DHCP (options 43, 60, 77, 93, 94, 97, 175) and of
//!   the raw option area (bounded, panic-free on any input).
//! * `thiserror`: the crate's one [`Error`] type; `tracing`: a span per transfer and per
//!   request, a log line per decision.
//! * `hyper`, `hyper-util`, `http-body-util`, `bytes` (optional, feature `http`, on by
//!   default): the HTTP/1.1 server of [`http`]; the range and `HEAD` logic is ours and
//!   sans-IO.
//! * `tokio` and `socket2` (optional, feature `tokio`, on by default): the TFTP and DHCP
//!   servers; socket2 sizes the socket buffers (the TFTP window is capped by what the kernel
//!   grants) and binds DHCP sockets to one interface for broadcasts.
//! * `rustix` (Linux, with feature `tokio`): `IP_MTU`/`IPV6_MTU` of each TFTP transfer
//!   socket, the path MTU that caps the block size (socket2 does not expose it, and the crate
//!   has no `unsafe`), and the non-blocking `recv` of the transfer threads' short busy poll
//!   for the next ACK.
#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
#![warn(clippy::print_stdout, clippy::print_stderr)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod dhcp;
mod error;
pub mod http;
pub mod ipxe;
pub mod tftp;

pub use error::{Error, Result};
