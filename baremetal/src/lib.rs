//! # baremetal
//!
//! Node, drivers, an Ironic-like state machine and a Provisioner composing the SDK's crates.
//!
//! **Status: not yet implemented.** This crate holds its place in the workspace layout; its
//! scope and acceptance criteria are tracked in issue to be filed (after issues 3 to 7). It exports nothing yet, so that
//! nobody builds on an API that does not exist.
#![forbid(unsafe_code)]
#![warn(clippy::print_stdout, clippy::print_stderr)]
