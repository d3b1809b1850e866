//! A panic-free, lenient reader of DHCPv4 requests: the BOOTP header and the option area,
//! with option overload (option 52: options continued in `file` and `sname`) and RFC 3396
//! long options (an option split over several instances is concatenated).
//!
//! Requests are read with this instead of `dhcproto`'s decoder, because dhcproto refuses a
//! whole message when any one option is malformed (and asserts on some lengths in debug
//! builds), while a netboot server must still read the PXE options of such a client.
//!
//! ```
//! use pxe::dhcp::frame::Frame;
//! let mut d = vec![0u8; 240];
//! d[0] = 1; d[1] = 1; d[2] = 6;                       // BOOTREQUEST, Ethernet
//! d[28..34].copy_from_slice(&[0x52, 0x54, 0, 0x12, 0x34, 0x56]);
//! d[236..240].copy_from_slice(&[99, 130, 83, 99]);    // magic cookie
//! d.extend_from_slice(&[53, 1, 1, 60, 9]);
//! d.extend_from_slice(b"PXEClient");
//! d.push(255);
//! let f = Frame::parse(&d).unwrap();
//! assert_eq!(f.message_type(), Some(1));
//! assert_eq!(f.option(60), Some(&b"PXEClient"[..]));
//! assert_eq!(f.mac(), Some([0x52, 0x54, 0, 0x12, 0x34, 0x56]));
//! ```

use std::net::Ipv4Addr;

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take;
use nom::number::complete::{be_u8, be_u16, be_u32};

use crate::error::{Error, Result};

/// The DHCP magic cookie.
pub const MAGIC: [u8; 4] = [99, 130, 83, 99];

/// Option 52 (overload).
const OPT_OVERLOAD: u8 = 52;

/// A DHCPv4 message as read from the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// 1 = BOOTREQUEST, 2 = BOOTREPLY.
    pub op: u8,
    /// Hardware type (1 = Ethernet).
    pub htype: u8,
    /// Hardware address length.
    pub hlen: u8,
    /// Relay hops.
    pub hops: u8,
    /// Transaction id.
    pub xid: u32,
    /// Seconds since the client began.
    pub secs: u16,
    /// Flags (bit 15: broadcast).
    pub flags: u16,
    /// Client address.
    pub ciaddr: Ipv4Addr,
    /// "Your" address.
    pub yiaddr: Ipv4Addr,
    /// Next server.
    pub siaddr: Ipv4Addr,
    /// Relay agent address (non-zero when relayed).
    pub giaddr: Ipv4Addr,
    /// Client hardware address.
    pub chaddr: [u8; 16],
    /// Server host name field (unless overloaded).
    pub sname: Vec<u8>,
    /// Boot file field (unless overloaded).
    pub file: Vec<u8>,
    /// Options in first-seen order, each concatenated over its instances (RFC 3396).
    options: Vec<(u8, Vec<u8>)>,
}

/// Whether the broadcast flag is set.
pub const FLAG_BROADCAST: u16 = 0x8000;

fn ipv4(i: &[u8]) -> IResult<&[u8], Ipv4Addr> {
    be_u32.map(Ipv4Addr::from).parse(i)
}

type Header<'a> = (
    (u8, u8, u8, u8, u32, u16, u16),
    (Ipv4Addr, Ipv4Addr, Ipv4Addr, Ipv4Addr),
    (&'a [u8], &'a [u8], &'a [u8], &'a [u8]),
);

fn header(i: &[u8]) -> IResult<&[u8], Header<'_>> {
    (
        (be_u8, be_u8, be_u8, be_u8, be_u32, be_u16, be_u16),
        (ipv4, ipv4, ipv4, ipv4),
        (take(16usize), take(64usize), take(128usize), take(4usize)),
    )
        .parse(i)
}

/// Walk one option area, appending each option (concatenating repeats).
fn walk(mut area: &[u8], out: &mut Vec<(u8, Vec<u8>)>) {
    while let Some((&code, rest)) = area.split_first() {
        match code {
            0 => area = rest,
            255 => return,
            _ => {
                let Some((&len, rest)) = rest.split_first() else {
                    return;
                };
                let len = usize::from(len);
                // A truncated last option keeps what is there.
                let value = rest.get(..len).unwrap_or(rest);
                match out.iter_mut().find(|(c, _)| *c == code) {
                    Some((_, v)) => v.extend_from_slice(value),
                    None => out.push((code, value.to_vec())),
                }
                area = rest.get(len..).unwrap_or(&[]);
            }
        }
    }
}

fn trim_nul(b: &[u8]) -> Vec<u8> {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    b[..end].to_vec()
}

impl Frame {
    /// Read a datagram. Fails only when the fixed header or the magic cookie is missing.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let Ok((rest, (a, b, c))) = header(data) else {
            return Err(Error::truncated("DHCP header"));
        };
        let (op, htype, hlen, hops, xid, secs, flags) = a;
        let (ciaddr, yiaddr, siaddr, giaddr) = b;
        let (chaddr, sname, file, magic) = c;
        if magic != MAGIC {
            return Err(Error::invalid("DHCP header", "no magic cookie"));
        }
        let mut options = Vec::new();
        walk(rest, &mut options);
        let overload = options
            .iter()
            .find(|(c, _)| *c == OPT_OVERLOAD)
            .and_then(|(_, v)| v.first().copied())
            .unwrap_or(0);
        // RFC 3396 order: options, then file, then sname.
        let mut f = Frame {
            op,
            htype,
            hlen,
            hops,
            xid,
            secs,
            flags,
            ciaddr,
            yiaddr,
            siaddr,
            giaddr,
            chaddr: chaddr.try_into().unwrap_or([0; 16]),
            sname: trim_nul(sname),
            file: trim_nul(file),
            options: Vec::new(),
        };
        if overload & 1 != 0 {
            walk(file, &mut options);
            f.file.clear();
        }
        if overload & 2 != 0 {
            walk(sname, &mut options);
            f.sname.clear();
        }
        f.options = options;
        Ok(f)
    }

    /// The value of option `code`, concatenated over its instances.
    pub fn option(&self, code: u8) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }

    /// Every option, in first-seen order.
    pub fn options(&self) -> impl Iterator<Item = (u8, &[u8])> {
        self.options.iter().map(|(c, v)| (*c, v.as_slice()))
    }

    /// The DHCP message type (option 53): 1 DISCOVER, 3 REQUEST, 8 INFORM, …
    pub fn message_type(&self) -> Option<u8> {
        self.option(53).and_then(|v| v.first().copied())
    }

    /// The Ethernet MAC address, when the hardware is Ethernet.
    pub fn mac(&self) -> Option<[u8; 6]> {
        if self.htype != 1 || self.hlen != 6 {
            return None;
        }
        self.chaddr[..6].try_into().ok()
    }

    /// The relay agent, when relayed.
    pub fn relay(&self) -> Option<Ipv4Addr> {
        (!self.giaddr.is_unspecified()).then_some(self.giaddr)
    }

    /// The parameter request list (option 55).
    pub fn requested(&self) -> &[u8] {
        self.option(55).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn base() -> Vec<u8> {
        let mut d = vec![0u8; 240];
        d[0] = 1;
        d[1] = 1;
        d[2] = 6;
        d[236..240].copy_from_slice(&MAGIC);
        d
    }

    #[test]
    fn overload_and_long_options() {
        let mut d = base();
        // Option 60 split in two (RFC 3396), overload = file, more of 60 in the file field.
        d.extend_from_slice(&[53, 1, 1, 52, 1, 1, 60, 3]);
        d.extend_from_slice(b"PXE");
        d.extend_from_slice(&[60, 3]);
        d.extend_from_slice(b"Cli");
        d.push(255);
        let file_at = 108;
        d[file_at..file_at + 6].copy_from_slice(&[60, 3, b'e', b'n', b't', 255]);
        let f = Frame::parse(&d).unwrap();
        assert_eq!(f.option(60), Some(&b"PXEClient"[..]));
        assert!(f.file.is_empty());
    }

    #[test]
    fn truncated_and_garbage() {
        assert!(Frame::parse(&[1, 2, 3]).is_err());
        let mut d = base();
        d[236] = 0;
        assert!(Frame::parse(&d).is_err());
        let mut d = base();
        d.extend_from_slice(&[60, 200, b'x']);
        let f = Frame::parse(&d).unwrap();
        assert_eq!(f.option(60), Some(&b"x"[..]));
    }

    proptest! {
        #[test]
        fn never_panics(tail in proptest::collection::vec(any::<u8>(), 0..600), head in proptest::collection::vec(any::<u8>(), 0..240)) {
            let mut d = base();
            d[..head.len()].copy_from_slice(&head);
            d[236..240].copy_from_slice(&MAGIC);
            d.extend_from_slice(&tail);
            let _ = Frame::parse(&d);
            let _ = Frame::parse(&tail);
        }
    }
}
