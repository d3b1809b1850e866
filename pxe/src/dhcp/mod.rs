//! DHCPv4 for network boot: a lenient request reader ([`frame`]), the PXE option codecs
//! ([`pxe`]), and the decisions as pure functions ([`policy`]): classify a request, look the
//! node up in a [`policy::BootBackend`], pick the boot file per architecture, build the
//! reply with `dhcproto`.
//!
//! [`pool`] leases addresses in full-DHCP mode, [`lease`] keeps them across restarts
//! (in memory, or in an append-only file written by a group-commit thread); [`guard`] holds
//! each client to a rate so one flooding client cannot starve the others; `server` (feature
//! `tokio`) runs it all on UDP (ProxyDHCP, full DHCP, and the PXE boot server on port 4011).

pub mod frame;
pub mod guard;
pub mod lease;
pub mod policy;
pub mod pool;
pub mod pxe;
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod server;

#[cfg(test)]
mod tests;

pub use frame::Frame;
pub use policy::{
    AllowAll, BootBackend, BootKind, BootPolicy, BootSpec, ClassifyConfig, ClientInfo, ClientKind,
    Decision, Mode, Reply, StaticBackend, classify, decide,
};
pub use pxe::{Arch, VendorClass};

/// Classify and decide in one step, straight from a datagram: the encoded reply, or why none.
///
/// Panic-free on any input (fuzzed).
///
/// ```
/// use std::net::Ipv4Addr;
/// use pxe::dhcp::{answer, AllowAll, BootPolicy, ClassifyConfig, Mode};
/// let policy = BootPolicy::new(Ipv4Addr::new(10, 99, 0, 1), "http://10.99.0.1:8080");
/// let reply = answer(&pxe::dhcp::policy::example_discover(), &ClassifyConfig::default(),
///                    &AllowAll, &policy, Mode::Proxy);
/// assert!(reply.is_ok());
/// assert_eq!(answer(b"junk", &ClassifyConfig::default(), &AllowAll, &policy, Mode::Proxy),
///            Err("malformed"));
/// ```
pub fn answer(
    datagram: &[u8],
    cfg: &ClassifyConfig,
    backend: &dyn BootBackend,
    policy: &BootPolicy,
    mode: Mode,
) -> Result<Vec<u8>, &'static str> {
    let frame = Frame::parse(datagram).map_err(|_| "malformed")?;
    if frame.op != 1 {
        return Err("not a BOOTREQUEST");
    }
    let info = classify(&frame, cfg);
    match decide(&info, backend, policy, mode) {
        Decision::Respond(r) => r.encode(&frame).map_err(|_| "cannot encode"),
        Decision::Ignore(why) => Err(why),
    }
}
