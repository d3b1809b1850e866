//! Decisions as pure functions: [`classify`] a request, then [`decide`] whether and how to
//! answer it from a per-node [`BootBackend`] and a [`BootPolicy`]; [`Reply::encode`] builds
//! the answer with `dhcproto`.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use pxe::dhcp::frame::Frame;
//! use pxe::dhcp::policy::{classify, decide, AllowAll, BootPolicy, ClassifyConfig, Decision, Mode};
//! # let discover = pxe::dhcp::policy::example_discover();
//! let frame = Frame::parse(&discover).unwrap();            // a UEFI x64 PXE DISCOVER
//! let info = classify(&frame, &ClassifyConfig::default());
//! let policy = BootPolicy::new(Ipv4Addr::new(10, 99, 0, 1), "http://10.99.0.1:8080");
//! match decide(&info, &AllowAll, &policy, Mode::Proxy) {
//!     Decision::Respond(reply) => {
//!         assert_eq!(reply.boot_file, "ipxe.efi");
//!         let bytes = reply.encode(&frame).unwrap();
//!         assert_eq!(bytes[0], 2);                          // BOOTREPLY
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```

use std::net::Ipv4Addr;

use dhcproto::v4::{
    self, DhcpOption, DhcpOptions, Flags, HType, Message, MessageType, Opcode, UnknownOption,
};
use dhcproto::{Encodable, Encoder};

use super::frame::{FLAG_BROADCAST, Frame};
use super::pxe::{
    Arch, Cpu, Firmware, IpxeOptions, MachineId, NetworkInterface, PxeVendorOptions, VendorClass,
    ipxe_feature, parse_user_class,
};
use crate::error::{Error, Result};

/// A MAC address.
pub type Mac = [u8; 6];

/// What kind of netboot client sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientKind {
    /// A PXE client (option 60 starts with an accepted PXE prefix).
    Pxe,
    /// A UEFI HTTP boot client (option 60 `HTTPClient…`, or an HTTP architecture in 93).
    Http,
    /// Not a netboot client.
    Other,
}

/// Settings of [`classify`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClassifyConfig {
    /// Option 60 prefixes taken as PXE clients (default `PXEClient`; some vendors send
    /// others, as dnsmasq's `dhcp-pxe-vendor` allows).
    pub pxe_prefixes: Vec<String>,
    /// A user class (option 77) our own iPXE builds send, also taken as "already iPXE".
    pub ipxe_user_class: Option<Vec<u8>>,
}

impl Default for ClassifyConfig {
    fn default() -> Self {
        ClassifyConfig {
            pxe_prefixes: vec!["PXEClient".into()],
            ipxe_user_class: None,
        }
    }
}

/// What a request says about its sender.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientInfo {
    /// Message type (option 53), if any.
    pub message_type: Option<u8>,
    /// The MAC address (Ethernet only).
    pub mac: Option<Mac>,
    /// PXE, HTTP boot or neither.
    pub kind: ClientKind,
    /// Architecture in use (first of option 93, else from option 60).
    pub arch: Option<Arch>,
    /// Every architecture of option 93.
    pub arch_list: Vec<Arch>,
    /// Option 60 as parsed.
    pub vendor_class: Option<VendorClass>,
    /// Option 94.
    pub interface: Option<NetworkInterface>,
    /// Option 97 (missing, all-zero or odd ones accepted).
    pub machine_id: Option<MachineId>,
    /// Option 77 classes.
    pub user_classes: Vec<Vec<u8>>,
    /// Whether the client is iPXE (user class `iPXE`, our own class, or option 175).
    pub is_ipxe: bool,
    /// Option 175, when iPXE sent it.
    pub ipxe: Option<IpxeOptions>,
    /// The relay agent (giaddr), when relayed.
    pub relay: Option<Ipv4Addr>,
    /// Whether the client lists option 67 in its parameter request list.
    pub wants_option_67: bool,
    /// Largest reply the client accepts (option 57; 576 without it).
    pub max_message_size: u16,
}

impl ClientInfo {
    /// Whether this is a netboot client at all.
    pub fn is_netboot(&self) -> bool {
        self.kind != ClientKind::Other
    }
}

/// Read what a request says about its sender. Never fails: what cannot be read is `None`.
pub fn classify(frame: &Frame, cfg: &ClassifyConfig) -> ClientInfo {
    let vendor_class = frame.option(60).and_then(|v| VendorClass::parse(v).ok());
    let arch_list = frame
        .option(93)
        .and_then(|v| Arch::parse_list(v).ok())
        .unwrap_or_default();
    let arch = arch_list
        .first()
        .copied()
        .or_else(|| vendor_class.as_ref().and_then(|v| v.arch));
    let kind = match &vendor_class {
        Some(v) if v.prefix == "HTTPClient" => ClientKind::Http,
        Some(v) if cfg.pxe_prefixes.contains(&v.prefix) => {
            if arch.is_some_and(Arch::is_http) {
                ClientKind::Http
            } else {
                ClientKind::Pxe
            }
        }
        _ => ClientKind::Other,
    };
    let user_classes = frame.option(77).map(parse_user_class).unwrap_or_default();
    let ipxe = frame.option(175).and_then(|v| IpxeOptions::parse(v).ok());
    let is_ipxe = ipxe.is_some()
        || user_classes.iter().any(|c| {
            c.as_slice() == b"iPXE" || cfg.ipxe_user_class.as_deref() == Some(c.as_slice())
        });
    let max_message_size = frame
        .option(57)
        .and_then(|v| <[u8; 2]>::try_from(v).ok())
        .map(u16::from_be_bytes)
        .unwrap_or(576)
        .max(576);
    ClientInfo {
        message_type: frame.message_type(),
        mac: frame.mac(),
        kind,
        arch,
        arch_list,
        vendor_class,
        interface: frame
            .option(94)
            .and_then(|v| NetworkInterface::parse(v).ok()),
        machine_id: frame.option(97).map(MachineId::new),
        user_classes,
        is_ipxe,
        ipxe,
        relay: frame.relay(),
        wants_option_67: frame.requested().contains(&67),
        max_message_size,
    }
}

/// What a provisioner says about one node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BootSpec {
    /// Whether the node may netboot now (a provisioner clears it once the node is deployed,
    /// which also breaks any boot loop).
    pub allow_netboot: bool,
    /// A boot file for firmware (instead of the policy's per-architecture choice).
    pub boot_file: Option<String>,
    /// The iPXE script URL for this node (instead of the policy's).
    pub ipxe_script: Option<String>,
}

impl BootSpec {
    /// A node allowed to netboot with the policy's defaults.
    pub fn allowed() -> Self {
        BootSpec {
            allow_netboot: true,
            ..BootSpec::default()
        }
    }

    /// A node that must not netboot.
    pub fn denied() -> Self {
        BootSpec::default()
    }

    /// With a per-node iPXE script URL.
    pub fn with_ipxe_script(mut self, url: impl Into<String>) -> Self {
        self.ipxe_script = Some(url.into());
        self
    }

    /// With a per-node firmware boot file.
    pub fn with_boot_file(mut self, file: impl Into<String>) -> Self {
        self.boot_file = Some(file.into());
        self
    }
}

/// Who may netboot, and with what: looked up by MAC (a provisioner implements it from its
/// node store).
pub trait BootBackend {
    /// The node with this MAC, if known.
    fn lookup(&self, mac: Mac, info: &ClientInfo) -> Option<BootSpec>;
}

/// Every client may netboot with the policy's defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

impl BootBackend for AllowAll {
    fn lookup(&self, _mac: Mac, _info: &ClientInfo) -> Option<BootSpec> {
        Some(BootSpec::allowed())
    }
}

/// A fixed table of nodes by MAC; unknown MACs are ignored.
#[derive(Debug, Clone, Default)]
pub struct StaticBackend {
    nodes: std::collections::HashMap<Mac, BootSpec>,
}

impl StaticBackend {
    /// An empty table.
    pub fn new() -> Self {
        StaticBackend::default()
    }

    /// Add a node.
    pub fn with_node(mut self, mac: Mac, spec: BootSpec) -> Self {
        self.nodes.insert(mac, spec);
        self
    }
}

impl BootBackend for StaticBackend {
    fn lookup(&self, mac: Mac, _info: &ClientInfo) -> Option<BootSpec> {
        self.nodes.get(&mac).cloned()
    }
}

impl<T: BootBackend + ?Sized> BootBackend for std::sync::Arc<T> {
    fn lookup(&self, mac: Mac, info: &ClientInfo) -> Option<BootSpec> {
        (**self).lookup(mac, info)
    }
}

/// The boot file policy per architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BootPolicy {
    /// The TFTP server (`siaddr`, option 66) and the server identifier (option 54).
    pub server: Ipv4Addr,
    /// Base URL of the HTTP server (no trailing `/`).
    pub http_base: String,
    /// BIOS PXE (default `undionly.kpxe`).
    pub bios: String,
    /// x64 UEFI PXE (default `ipxe.efi`; `snponly.efi` uses the firmware's NIC driver).
    pub efi_x64: String,
    /// 32-bit x86 UEFI PXE (default `ipxe-i386.efi`).
    pub efi_ia32: String,
    /// ARM64 UEFI PXE (default `arm64/snponly.efi`).
    pub efi_arm64: String,
    /// The iPXE script for iPXE clients (default `{http_base}/boot.ipxe`).
    pub ipxe_script: String,
    /// Option 43 sub-option 6 = 8 ("boot the file in this offer") for BIOS PXE clients in
    /// ProxyDHCP mode (default on; UEFI clients get no option 43, as pixiecore does).
    pub bios_discovery_control: bool,
}

impl BootPolicy {
    /// The defaults for a server at `server` with an HTTP server at `http_base`.
    pub fn new(server: Ipv4Addr, http_base: impl Into<String>) -> Self {
        let http_base: String = http_base.into();
        let http_base = http_base.trim_end_matches('/').to_string();
        BootPolicy {
            server,
            ipxe_script: format!("{http_base}/boot.ipxe"),
            http_base,
            bios: "undionly.kpxe".into(),
            efi_x64: "ipxe.efi".into(),
            efi_ia32: "ipxe-i386.efi".into(),
            efi_arm64: "arm64/snponly.efi".into(),
            bios_discovery_control: true,
        }
    }

    /// With another x64 UEFI binary (e.g. `snponly.efi`).
    pub fn with_efi_x64(mut self, file: impl Into<String>) -> Self {
        self.efi_x64 = file.into();
        self
    }

    /// With another iPXE script URL.
    pub fn with_ipxe_script(mut self, url: impl Into<String>) -> Self {
        self.ipxe_script = url.into();
        self
    }

    /// The firmware binary for `arch`, if the policy has one.
    pub fn firmware_file(&self, arch: Arch) -> Option<&str> {
        match (arch.firmware(), arch.cpu()) {
            (Firmware::Bios, _) => Some(&self.bios),
            (Firmware::Uefi, Cpu::X64) => Some(&self.efi_x64),
            (Firmware::Uefi, Cpu::X86) => Some(&self.efi_ia32),
            (Firmware::Uefi, Cpu::Arm64) => Some(&self.efi_arm64),
            _ => None,
        }
    }
}

/// Where a server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// ProxyDHCP on port 67 beside another DHCP server: answer DISCOVERs with boot
    /// information only (no address).
    Proxy,
    /// PXE boot server on port 4011: answer REQUESTs (and INFORMs) with an ACK.
    BootServer,
    /// The address-giving DHCP server: answer DISCOVER with OFFER and REQUEST with ACK, the
    /// address and lease coming from the caller.
    Full,
}

/// What kind of boot file was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BootKind {
    /// A firmware binary over TFTP.
    Tftp,
    /// A URL for UEFI HTTP boot (option 60 `HTTPClient` echoed).
    HttpBoot,
    /// An iPXE script URL for a client already running iPXE (the chainload-loop breaker).
    IpxeScript,
}

/// An answer to send.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reply {
    /// OFFER (2) or ACK (5).
    pub message_type: u8,
    /// The boot file name or URL.
    pub boot_file: String,
    /// How it is fetched.
    pub kind: BootKind,
    /// `siaddr` and option 54.
    pub server: Ipv4Addr,
    /// Option 60 to send (`PXEClient` or `HTTPClient`).
    pub vendor_class: &'static str,
    /// Option 43 to send.
    pub vendor_options: Option<PxeVendorOptions>,
    /// Option 97 to echo.
    pub machine_id: Option<Vec<u8>>,
    /// Whether to send the boot file in option 67 too (always, unless the client cannot
    /// take it).
    pub option_67: bool,
    /// The address given (`Mode::Full`), with the lease options the caller adds.
    pub yiaddr: Ipv4Addr,
    /// Extra options for the reply (lease time, mask, router… in `Mode::Full`).
    pub extra: Vec<DhcpOption>,
}

/// The outcome of [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Answer with this.
    Respond(Box<Reply>),
    /// Do not answer, for this reason (logged).
    Ignore(&'static str),
}

/// Decide whether and how to answer a classified request.
pub fn decide(
    info: &ClientInfo,
    backend: &dyn BootBackend,
    policy: &BootPolicy,
    mode: Mode,
) -> Decision {
    let message_type = match (info.message_type, mode) {
        (Some(1), Mode::Proxy | Mode::Full) => 2,
        (Some(3 | 8), Mode::BootServer | Mode::Full) => 5,
        (Some(1 | 3 | 8), _) => return Decision::Ignore("message type not answered in this mode"),
        (Some(_), _) => return Decision::Ignore("message type not handled"),
        (None, _) => return Decision::Ignore("BOOTP request without a DHCP message type"),
    };
    if !info.is_netboot() {
        return Decision::Ignore("not a PXE or HTTP boot client");
    }
    let Some(mac) = info.mac else {
        return Decision::Ignore("no Ethernet MAC address");
    };
    let Some(spec) = backend.lookup(mac, info) else {
        return Decision::Ignore("unknown node");
    };
    if !spec.allow_netboot {
        return Decision::Ignore("netboot not allowed for this node");
    }
    let http_capable = info
        .ipxe
        .as_ref()
        .is_none_or(|o| o.has(ipxe_feature::HTTP) || o.items.is_empty());
    let (boot_file, kind, vendor_class) = if info.is_ipxe {
        // Already iPXE: hand it the script, never a binary again (the loop breaker).
        if !http_capable {
            return Decision::Ignore("iPXE without HTTP support");
        }
        let url = spec
            .ipxe_script
            .clone()
            .unwrap_or_else(|| policy.ipxe_script.clone());
        (url, BootKind::IpxeScript, "PXEClient")
    } else if info.kind == ClientKind::Http {
        let arch = info.arch.unwrap_or(Arch::EFI_X64_HTTP);
        let Some(file) = spec
            .boot_file
            .as_deref()
            .or_else(|| policy.firmware_file(arch))
        else {
            return Decision::Ignore("no boot file for this architecture");
        };
        let url = if file.contains("://") {
            file.to_string()
        } else {
            format!("{}/{}", policy.http_base, file.trim_start_matches('/'))
        };
        (url, BootKind::HttpBoot, "HTTPClient")
    } else {
        let Some(arch) = info.arch else {
            return Decision::Ignore("PXE client without an architecture");
        };
        let Some(file) = spec
            .boot_file
            .as_deref()
            .or_else(|| policy.firmware_file(arch))
        else {
            return Decision::Ignore("no boot file for this architecture");
        };
        (file.to_string(), BootKind::Tftp, "PXEClient")
    };
    let bios = info.arch.is_some_and(|a| a.firmware() == Firmware::Bios);
    let vendor_options =
        (kind == BootKind::Tftp && bios && policy.bios_discovery_control && mode != Mode::Full)
            .then(|| PxeVendorOptions {
                discovery_control: Some(8),
                ..PxeVendorOptions::default()
            });
    Decision::Respond(Box::new(Reply {
        message_type,
        boot_file,
        kind,
        server: policy.server,
        vendor_class,
        vendor_options,
        machine_id: info.machine_id.as_ref().map(|m| m.raw.clone()),
        option_67: true,
        yiaddr: Ipv4Addr::UNSPECIFIED,
        extra: Vec::new(),
    }))
}

impl Reply {
    /// A reply without boot information (an address-only OFFER/ACK, or a NAK: type 6).
    pub fn address_only(message_type: u8, server: Ipv4Addr) -> Self {
        Reply {
            message_type,
            boot_file: String::new(),
            kind: BootKind::Tftp,
            server,
            vendor_class: "",
            vendor_options: None,
            machine_id: None,
            option_67: false,
            yiaddr: Ipv4Addr::UNSPECIFIED,
            extra: Vec::new(),
        }
    }

    /// The reply as a `dhcproto` message answering `request`. The boot file goes in both the
    /// `file` field (when it fits in 127 bytes) and option 67; `siaddr` and option 66 name
    /// the TFTP server for TFTP boot files.
    pub fn to_message(&self, request: &Frame) -> Message {
        let mut m = Message::default();
        m.set_opcode(Opcode::BootReply)
            .set_htype(HType::from(request.htype))
            .set_xid(request.xid)
            .set_flags(Flags::new(request.flags & FLAG_BROADCAST))
            .set_giaddr(request.giaddr)
            .set_ciaddr(request.ciaddr)
            .set_yiaddr(self.yiaddr)
            .set_siaddr(self.server);
        let hlen = usize::from(request.hlen).min(16);
        m.set_chaddr(&request.chaddr[..hlen]);
        if !self.boot_file.is_empty() && self.boot_file.len() <= 127 {
            m.set_fname(self.boot_file.as_bytes());
        }
        let mut o = DhcpOptions::new();
        o.insert(DhcpOption::MessageType(MessageType::from(
            self.message_type,
        )));
        o.insert(DhcpOption::ServerIdentifier(self.server));
        if !self.vendor_class.is_empty() {
            o.insert(DhcpOption::ClassIdentifier(
                self.vendor_class.as_bytes().to_vec(),
            ));
        }
        if let Some(id) = &self.machine_id {
            o.insert(DhcpOption::ClientMachineIdentifier(id.clone()));
        }
        if let Some(v) = &self.vendor_options {
            o.insert(DhcpOption::VendorExtensions(v.to_bytes()));
        }
        if self.kind == BootKind::Tftp && !self.boot_file.is_empty() {
            o.insert(DhcpOption::TFTPServerName(
                self.server.to_string().into_bytes(),
            ));
        }
        if self.option_67 && !self.boot_file.is_empty() {
            o.insert(DhcpOption::BootfileName(self.boot_file.as_bytes().to_vec()));
        }
        for e in &self.extra {
            o.insert(e.clone());
        }
        m.set_opts(o);
        m
    }

    /// Encode the reply to `request`.
    pub fn encode(&self, request: &Frame) -> Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(576);
        let mut e = Encoder::new(&mut buf);
        self.to_message(request)
            .encode(&mut e)
            .map_err(|_| Error::InvalidArgument {
                what: "DHCP reply",
                reason: "cannot be encoded",
            })?;
        Ok(buf)
    }
}

/// Keep `v4` and `UnknownOption` reachable for callers building `extra` options.
pub use v4::OptionCode;

/// An option not known to `dhcproto` (for [`Reply::extra`]).
pub fn raw_option(code: u8, data: Vec<u8>) -> DhcpOption {
    DhcpOption::Unknown(UnknownOption::new(OptionCode::from(code), data))
}

/// A UEFI x64 PXE DISCOVER as EDK2 sends it (for examples and tests).
#[doc(hidden)]
pub fn example_discover() -> Vec<u8> {
    let mut d = vec![0u8; 240];
    d[0] = 1;
    d[1] = 1;
    d[2] = 6;
    d[4..8].copy_from_slice(&[0x12, 0x34, 0x56, 0x78]);
    d[10] = 0x80;
    d[28..34].copy_from_slice(&[0x52, 0x54, 0x00, 0x99, 0x00, 0x01]);
    d[236..240].copy_from_slice(&super::frame::MAGIC);
    d.extend_from_slice(&[53, 1, 1, 57, 2, 0x05, 0xc0, 93, 2, 0, 7, 94, 3, 1, 3, 0]);
    d.extend_from_slice(&[60, 32]);
    d.extend_from_slice(b"PXEClient:Arch:00007:UNDI:003000");
    d.extend_from_slice(&[97, 17, 0]);
    d.extend_from_slice(&[0u8; 16]);
    d.extend_from_slice(&[55, 4, 1, 3, 66, 67, 255]);
    d
}
