//! # redfish-client
//!
//! Typed async Redfish client that handles BMC vendors' quirks.
//!
//! **Status: not yet implemented.** This crate holds its place in the workspace layout; its
//! scope and acceptance criteria are tracked in issue 4. It exports nothing yet, so that
//! nobody builds on an API that does not exist.
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr)]
