//! TFTP, read-only, as network-boot firmware uses it: RFC 1350 with option negotiation (RFC
//! 2347), `blksize` (2348), `tsize` and `timeout` (2349) and `windowsize` (7440).
//!
//! * [`packet`]: the wire codec (parse/emit pairs, panic-free on any input);
//! * [`transfer`]: the sans-IO read transfer (datagrams and `now` in; datagrams, a timer and
//!   an [`transfer::Outcome`] out), reading ahead a window at a time;
//! * [`source`]: where files come from (a directory root, a map in memory, a per-request
//!   handler);
//! * `server` (feature `tokio`): the UDP server, one socket per transfer, block size capped by
//!   the path MTU, window by the socket buffer.

pub mod packet;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod server;
pub mod source;
pub mod transfer;

#[cfg(test)]
mod tests;
