//! The PXE parts of DHCP, each with a nom parser and an encoder: client architecture (93,
//! the IANA table), vendor class (60: `PXEClient:Arch:xxxxx:UNDI:yyyzzz`, `HTTPClient…`),
//! client network interface (94), client machine identifier (97), user class (77, with
//! iPXE's raw `iPXE`), iPXE's encapsulated options (175) and the PXE vendor options (43:
//! sub-options 6, 8, 9, 10, 71).
//!
//! ```
//! use pxe::dhcp::pxe::{Arch, VendorClass};
//! let v = VendorClass::parse(b"PXEClient:Arch:00007:UNDI:003016").unwrap();
//! assert_eq!(v.prefix, "PXEClient");
//! assert_eq!(v.arch, Some(Arch::EFI_X64));
//! assert_eq!(v.undi, Some((3, 16)));
//! assert_eq!(v.to_bytes(), b"PXEClient:Arch:00007:UNDI:003016");
//! assert_eq!(Arch(7).name(), "x64 UEFI");
//! ```

use std::net::Ipv4Addr;

use nom::IResult;
use nom::Parser;
use nom::bytes::complete::take;
use nom::multi::{count, many0};
use nom::number::complete::{be_u8, be_u16, be_u32};

use crate::error::{Error, Result};

/// A client system architecture type (option 93; IANA "Processor Architecture Types").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Arch(pub u16);

/// The firmware family an architecture boots with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Firmware {
    /// Legacy PC BIOS (PXE ROM).
    Bios,
    /// UEFI.
    Uefi,
    /// U-Boot.
    UBoot,
    /// Open Firmware, OPAL, s390 and others.
    Other,
}

/// The processor family of an architecture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cpu {
    /// 32-bit x86.
    X86,
    /// x86-64.
    X64,
    /// Itanium.
    Ia64,
    /// EFI byte code.
    Ebc,
    /// 32-bit ARM.
    Arm32,
    /// 64-bit ARM.
    Arm64,
    /// 32-bit RISC-V.
    RiscV32,
    /// 64-bit RISC-V.
    RiscV64,
    /// 128-bit RISC-V.
    RiscV128,
    /// 32-bit LoongArch.
    LoongArch32,
    /// 64-bit LoongArch.
    LoongArch64,
    /// 32-bit MIPS.
    Mips32,
    /// 64-bit MIPS.
    Mips64,
    /// Sunway.
    Sunway,
    /// PowerPC / POWER.
    Power,
    /// IBM Z.
    S390,
    /// Anything else.
    Other,
}

/// The IANA table: code, name, firmware, CPU, boots over HTTP.
const TABLE: &[(u16, &str, Firmware, Cpu, bool)] = {
    use Cpu::*;
    use Firmware::{Bios, Other as O, UBoot, Uefi};
    &[
        (0, "x86 BIOS", Bios, X86, false),
        (1, "NEC/PC98", O, X86, false),
        (2, "Itanium", Uefi, Ia64, false),
        (3, "DEC Alpha", O, Cpu::Other, false),
        (4, "Arc x86", O, X86, false),
        (5, "Intel Lean Client", O, X86, false),
        (6, "x86 UEFI", Uefi, X86, false),
        (7, "x64 UEFI", Uefi, X64, false),
        (8, "EFI Xscale", Uefi, Arm32, false),
        (9, "EBC", Uefi, Ebc, false),
        (10, "ARM 32-bit UEFI", Uefi, Arm32, false),
        (11, "ARM 64-bit UEFI", Uefi, Arm64, false),
        (12, "PowerPC Open Firmware", O, Power, false),
        (13, "PowerPC ePAPR", O, Power, false),
        (14, "POWER OPAL v3", O, Power, false),
        (15, "x86 UEFI HTTP", Uefi, X86, true),
        (16, "x64 UEFI HTTP", Uefi, X64, true),
        (17, "EBC HTTP", Uefi, Ebc, true),
        (18, "ARM 32-bit UEFI HTTP", Uefi, Arm32, true),
        (19, "ARM 64-bit UEFI HTTP", Uefi, Arm64, true),
        (20, "x86 BIOS HTTP", Bios, X86, true),
        (21, "ARM 32-bit U-Boot", UBoot, Arm32, false),
        (22, "ARM 64-bit U-Boot", UBoot, Arm64, false),
        (23, "ARM 32-bit U-Boot HTTP", UBoot, Arm32, true),
        (24, "ARM 64-bit U-Boot HTTP", UBoot, Arm64, true),
        (25, "RISC-V 32-bit UEFI", Uefi, RiscV32, false),
        (26, "RISC-V 32-bit UEFI HTTP", Uefi, RiscV32, true),
        (27, "RISC-V 64-bit UEFI", Uefi, RiscV64, false),
        (28, "RISC-V 64-bit UEFI HTTP", Uefi, RiscV64, true),
        (29, "RISC-V 128-bit UEFI", Uefi, RiscV128, false),
        (30, "RISC-V 128-bit UEFI HTTP", Uefi, RiscV128, true),
        (31, "s390 Basic", O, S390, false),
        (32, "s390 Extended", O, S390, false),
        (33, "MIPS 32-bit UEFI", Uefi, Mips32, false),
        (34, "MIPS 64-bit UEFI", Uefi, Mips64, false),
        (35, "Sunway 32-bit UEFI", Uefi, Sunway, false),
        (36, "Sunway 64-bit UEFI", Uefi, Sunway, false),
        (37, "LoongArch 32-bit UEFI", Uefi, LoongArch32, false),
        (38, "LoongArch 32-bit UEFI HTTP", Uefi, LoongArch32, true),
        (39, "LoongArch 64-bit UEFI", Uefi, LoongArch64, false),
        (40, "LoongArch 64-bit UEFI HTTP", Uefi, LoongArch64, true),
        (41, "ARM rpiboot", O, Arm64, false),
    ]
};

impl Arch {
    /// x86 BIOS (0).
    pub const BIOS: Arch = Arch(0);
    /// x86 UEFI, 32-bit (6).
    pub const EFI_IA32: Arch = Arch(6);
    /// x64 UEFI (7).
    pub const EFI_X64: Arch = Arch(7);
    /// EFI byte code (9); many x64 firmwares send it instead of 7.
    pub const EFI_BC: Arch = Arch(9);
    /// ARM 64-bit UEFI (11).
    pub const EFI_ARM64: Arch = Arch(11);
    /// x64 UEFI HTTP boot (16).
    pub const EFI_X64_HTTP: Arch = Arch(16);
    /// ARM 64-bit UEFI HTTP boot (19).
    pub const EFI_ARM64_HTTP: Arch = Arch(19);

    fn row(self) -> Option<&'static (u16, &'static str, Firmware, Cpu, bool)> {
        TABLE.iter().find(|r| r.0 == self.0)
    }

    /// The IANA name, or "unassigned".
    pub fn name(self) -> &'static str {
        self.row().map_or("unassigned", |r| r.1)
    }

    /// The firmware family (unassigned codes: `Other`).
    pub fn firmware(self) -> Firmware {
        self.row().map_or(Firmware::Other, |r| r.2)
    }

    /// The processor family; EBC (9) is reported as x64, as the firmware that sends it is.
    pub fn cpu(self) -> Cpu {
        match self.0 {
            9 | 17 => Cpu::X64,
            _ => self.row().map_or(Cpu::Other, |r| r.3),
        }
    }

    /// Whether this code means booting over HTTP.
    pub fn is_http(self) -> bool {
        self.row().is_some_and(|r| r.4)
    }

    /// Parse option 93: a list of 16-bit codes (the first is the one in use).
    pub fn parse_list(data: &[u8]) -> Result<Vec<Arch>> {
        if data.is_empty() || !data.len().is_multiple_of(2) {
            return Err(Error::invalid(
                "option 93",
                "length not a positive multiple of 2",
            ));
        }
        let r: IResult<&[u8], Vec<u16>> = many0(be_u16).parse(data);
        match r {
            Ok((_, v)) => Ok(v.into_iter().map(Arch).collect()),
            Err(_) => Err(Error::truncated("option 93")),
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

/// Option 60, structured as PXE and UEFI HTTP boot clients send it:
/// `PREFIX[:Arch:xxxxx[:UNDI:yyyzzz]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorClass {
    /// `PXEClient`, `HTTPClient` or another vendor's prefix.
    pub prefix: String,
    /// The architecture after `Arch:` (five decimal digits).
    pub arch: Option<Arch>,
    /// The UNDI version after `UNDI:` (major, minor from `yyyzzz`).
    pub undi: Option<(u8, u8)>,
    /// Any text after the structured part, kept so the value re-encodes exactly.
    pub rest: String,
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

impl VendorClass {
    /// Parse option 60. Anything printable parses; the `Arch`/`UNDI` parts are read when
    /// well formed and otherwise left in `rest`.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let s = std::str::from_utf8(data).map_err(|_| Error::invalid("option 60", "not UTF-8"))?;
        let (prefix, mut tail) = match s.find(':') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        };
        let mut v = VendorClass {
            prefix: prefix.to_string(),
            arch: None,
            undi: None,
            rest: String::new(),
        };
        if let Some(t) = tail.strip_prefix(":Arch:")
            && let Some(a) = t
                .get(..5)
                .and_then(|d| digits(d, 5))
                .and_then(|a| u16::try_from(a).ok())
        {
            v.arch = Some(Arch(a));
            tail = &t[5..];
            if let Some(u) = tail.strip_prefix(":UNDI:")
                && let (Some(maj), Some(min)) = (
                    u.get(..3)
                        .and_then(|d| digits(d, 3))
                        .and_then(|x| u8::try_from(x).ok()),
                    u.get(3..6)
                        .and_then(|d| digits(d, 3))
                        .and_then(|x| u8::try_from(x).ok()),
                )
            {
                v.undi = Some((maj, min));
                tail = &u[6..];
            }
        }
        v.rest = tail.to_string();
        Ok(v)
    }

    /// Encode.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = self.prefix.clone();
        if let Some(a) = self.arch {
            s.push_str(&format!(":Arch:{:05}", a.0));
            if let Some((maj, min)) = self.undi {
                s.push_str(&format!(":UNDI:{maj:03}{min:03}"));
            }
        }
        s.push_str(&self.rest);
        s.into_bytes()
    }
}

/// Option 94: client network interface identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkInterface {
    /// Interface type (1 = UNDI).
    pub kind: u8,
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

impl NetworkInterface {
    /// Parse option 94 (exactly 3 bytes).
    pub fn parse(data: &[u8]) -> Result<Self> {
        match data {
            [kind, major, minor] => Ok(NetworkInterface {
                kind: *kind,
                major: *major,
                minor: *minor,
            }),
            _ => Err(Error::invalid("option 94", "length is not 3")),
        }
    }

    /// Encode.
    pub fn to_bytes(self) -> [u8; 3] {
        [self.kind, self.major, self.minor]
    }
}

/// Option 97: the client machine identifier (type 0 and a 16-byte GUID).
///
/// A missing option, an all-zero GUID (QEMU without `-uuid`) or a short one (some Intel
/// cards) are all accepted: [`MachineId::guid`] is then `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineId {
    /// The option's bytes as sent (echoed in replies).
    pub raw: Vec<u8>,
}

impl MachineId {
    /// Wrap option 97 as sent.
    pub fn new(raw: &[u8]) -> Self {
        MachineId { raw: raw.to_vec() }
    }

    /// The GUID, when the option is type 0 with 16 bytes that are not all zero.
    pub fn guid(&self) -> Option<[u8; 16]> {
        match self.raw.split_first() {
            Some((0, g)) if g.len() == 16 && g.iter().any(|b| *b != 0) => g.try_into().ok(),
            _ => None,
        }
    }
}

/// Parse option 77: an RFC 3004 list of length-prefixed classes, or (as iPXE sends it) one
/// raw class.
///
/// ```
/// use pxe::dhcp::pxe::parse_user_class;
/// assert_eq!(parse_user_class(b"iPXE"), vec![b"iPXE".to_vec()]);
/// assert_eq!(parse_user_class(b"\x04iPXE\x03abc"), vec![b"iPXE".to_vec(), b"abc".to_vec()]);
/// ```
pub fn parse_user_class(data: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len);
        match tail.get(..len) {
            Some(c) if len > 0 => {
                out.push(c.to_vec());
                rest = &tail[len..];
            }
            _ => return vec![data.to_vec()],
        }
    }
    if out.is_empty() && !data.is_empty() {
        return vec![data.to_vec()];
    }
    out
}

/// Encode option 77 in RFC 3004 form.
pub fn encode_user_class(classes: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    for c in classes {
        let c = &c[..c.len().min(255)];
        v.push(c.len() as u8);
        v.extend_from_slice(c);
    }
    v
}

/// iPXE feature codes in option 175 (`src/include/ipxe/dhcp.h`, `features.h`).
pub mod ipxe_feature {
    /// PXE API extensions (value: version).
    pub const PXE_EXT: u8 = 0x10;
    /// iSCSI.
    pub const ISCSI: u8 = 0x11;
    /// AoE.
    pub const AOE: u8 = 0x12;
    /// HTTP.
    pub const HTTP: u8 = 0x13;
    /// HTTPS.
    pub const HTTPS: u8 = 0x14;
    /// TFTP.
    pub const TFTP: u8 = 0x15;
    /// FTP.
    pub const FTP: u8 = 0x16;
    /// DNS.
    pub const DNS: u8 = 0x17;
    /// bzImage.
    pub const BZIMAGE: u8 = 0x18;
    /// Multiboot.
    pub const MULTIBOOT: u8 = 0x19;
    /// SLAM.
    pub const SLAM: u8 = 0x1a;
    /// SRP.
    pub const SRP: u8 = 0x1b;
    /// NBI.
    pub const NBI: u8 = 0x20;
    /// PXE.
    pub const PXE: u8 = 0x21;
    /// ELF.
    pub const ELF: u8 = 0x22;
    /// COMBOOT.
    pub const COMBOOT: u8 = 0x23;
    /// EFI.
    pub const EFI: u8 = 0x24;
    /// FCoE.
    pub const FCOE: u8 = 0x25;
    /// VLAN.
    pub const VLAN: u8 = 0x26;
    /// Menu.
    pub const MENU: u8 = 0x27;
    /// SDI.
    pub const SDI: u8 = 0x28;
    /// NFS.
    pub const NFS: u8 = 0x29;
    /// Bus id sub-option (not a feature).
    pub const BUS_ID: u8 = 0xb1;
    /// Version sub-option (not a feature).
    pub const VERSION: u8 = 0xeb;
    /// "Skip waiting for ProxyDHCP" setting, sent by servers (`no-pxedhcp`).
    pub const NO_PXEDHCP: u8 = 0xb0;
}

/// The bus a NIC sits on (175 sub-option 0xb1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BusId {
    /// PCI vendor and device.
    Pci {
        /// Vendor id.
        vendor: u16,
        /// Device id.
        device: u16,
    },
    /// Another bus type and its bytes.
    Other(u8, Vec<u8>),
}

/// Option 175: iPXE's encapsulated options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IpxeOptions {
    /// Every sub-option in order (code, value): what re-encodes exactly.
    pub items: Vec<(u8, Vec<u8>)>,
}

fn tlv(i: &[u8]) -> IResult<&[u8], (u8, &[u8])> {
    let (i, code) = be_u8(i)?;
    let (i, len) = be_u8(i)?;
    let (i, v) = take(len).parse(i)?;
    Ok((i, (code, v)))
}

/// Read a TLV list that may hold PAD (0) and ends at END (255) or the data's end.
fn tlvs(mut data: &[u8], what: &'static str) -> Result<Vec<(u8, Vec<u8>)>> {
    let mut out = Vec::new();
    loop {
        match data.first() {
            None | Some(255) => return Ok(out),
            Some(0) => data = &data[1..],
            Some(_) => match tlv(data) {
                Ok((rest, (c, v))) => {
                    out.push((c, v.to_vec()));
                    data = rest;
                }
                Err(_) => return Err(Error::truncated(what)),
            },
        }
    }
}

impl IpxeOptions {
    /// Parse option 175.
    pub fn parse(data: &[u8]) -> Result<Self> {
        Ok(IpxeOptions {
            items: tlvs(data, "option 175")?,
        })
    }

    /// Encode (no END marker: iPXE sends none).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        for (c, d) in &self.items {
            let d = &d[..d.len().min(255)];
            v.push(*c);
            v.push(d.len() as u8);
            v.extend_from_slice(d);
        }
        v
    }

    fn get(&self, code: u8) -> Option<&[u8]> {
        self.items
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }

    /// Whether iPXE says it has `feature` (an [`ipxe_feature`] code).
    pub fn has(&self, feature: u8) -> bool {
        self.get(feature).is_some_and(|v| v.iter().any(|b| *b != 0))
    }

    /// The iPXE version (major, minor, patch).
    pub fn version(&self) -> Option<(u8, u8, u8)> {
        match self.get(ipxe_feature::VERSION)? {
            [a, b, c] => Some((*a, *b, *c)),
            _ => None,
        }
    }

    /// The NIC's bus id.
    pub fn bus_id(&self) -> Option<BusId> {
        let v = self.get(ipxe_feature::BUS_ID)?;
        match v {
            [1, a, b, c, d] => Some(BusId::Pci {
                vendor: u16::from_be_bytes([*a, *b]),
                device: u16::from_be_bytes([*c, *d]),
            }),
            [t, rest @ ..] => Some(BusId::Other(*t, rest.to_vec())),
            [] => None,
        }
    }
}

/// A boot server entry of PXE sub-option 8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootServer {
    /// Boot server type (0 = PXE bootstrap server, 0x8000.. vendor).
    pub kind: u16,
    /// Its addresses.
    pub addrs: Vec<Ipv4Addr>,
}

/// A menu entry of PXE sub-option 9.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItem {
    /// Boot server type it selects.
    pub kind: u16,
    /// Description shown.
    pub description: Vec<u8>,
}

/// PXE sub-option 10: the menu prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuPrompt {
    /// Seconds to wait (0: boot the first item at once, 255: wait for a key).
    pub timeout: u8,
    /// The prompt text.
    pub prompt: Vec<u8>,
}

/// PXE sub-option 71: the boot item a client selected (or a server assigns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootItem {
    /// Boot server type.
    pub kind: u16,
    /// Layer (bit 15: credentials).
    pub layer: u16,
}

/// Option 43 of PXE clients and servers.
///
/// ```
/// use pxe::dhcp::pxe::PxeVendorOptions;
/// // What dnsmasq's ProxyDHCP sends a BIOS client (captured).
/// let wire = b"\x06\x01\x03\x08\x07\x80\x00\x01\x0a\x63\x00\x02\x09\x0c\x80\x00\x09BIOS iPXE\x0a\x0e\x00PXE via proxy\xff";
/// let o = PxeVendorOptions::parse(wire).unwrap();
/// assert_eq!(o.discovery_control, Some(3));
/// assert_eq!(o.menu[0].description, b"BIOS iPXE");
/// assert_eq!(o.to_bytes(), wire);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PxeVendorOptions {
    /// Sub-option 6: discovery control bits (8 = use the boot file in the offer at once).
    pub discovery_control: Option<u8>,
    /// Sub-option 8: boot servers.
    pub boot_servers: Vec<BootServer>,
    /// Sub-option 9: boot menu.
    pub menu: Vec<MenuItem>,
    /// Sub-option 10: menu prompt.
    pub prompt: Option<MenuPrompt>,
    /// Sub-option 71: boot item.
    pub boot_item: Option<BootItem>,
    /// Other sub-options, kept as sent.
    pub other: Vec<(u8, Vec<u8>)>,
}

fn boot_server(i: &[u8]) -> IResult<&[u8], BootServer> {
    let (i, kind) = be_u16(i)?;
    let (i, n) = be_u8(i)?;
    let (i, addrs) = count(be_u32.map(Ipv4Addr::from), usize::from(n)).parse(i)?;
    Ok((i, BootServer { kind, addrs }))
}

fn menu_item(i: &[u8]) -> IResult<&[u8], MenuItem> {
    let (i, kind) = be_u16(i)?;
    let (i, n) = be_u8(i)?;
    let (i, d) = take(n).parse(i)?;
    Ok((
        i,
        MenuItem {
            kind,
            description: d.to_vec(),
        },
    ))
}

fn all<'a, T>(
    data: &'a [u8],
    f: impl Fn(&'a [u8]) -> IResult<&'a [u8], T>,
    what: &'static str,
) -> Result<Vec<T>> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        match f(rest) {
            Ok((r, v)) => {
                out.push(v);
                rest = r;
            }
            Err(_) => return Err(Error::truncated(what)),
        }
    }
    Ok(out)
}

impl PxeVendorOptions {
    /// Parse option 43.
    pub fn parse(data: &[u8]) -> Result<Self> {
        let mut o = PxeVendorOptions::default();
        for (code, v) in tlvs(data, "option 43")? {
            match code {
                6 => match v.as_slice() {
                    [b] => o.discovery_control = Some(*b),
                    _ => return Err(Error::invalid("option 43.6", "length is not 1")),
                },
                8 => o.boot_servers = all(&v, boot_server, "option 43.8")?,
                9 => o.menu = all(&v, menu_item, "option 43.9")?,
                10 => match v.split_first() {
                    Some((t, p)) => {
                        o.prompt = Some(MenuPrompt {
                            timeout: *t,
                            prompt: p.to_vec(),
                        })
                    }
                    None => return Err(Error::truncated("option 43.10")),
                },
                71 => match v.as_slice() {
                    [a, b, c, d] => {
                        o.boot_item = Some(BootItem {
                            kind: u16::from_be_bytes([*a, *b]),
                            layer: u16::from_be_bytes([*c, *d]),
                        })
                    }
                    _ => return Err(Error::invalid("option 43.71", "length is not 4")),
                },
                _ => o.other.push((code, v)),
            }
        }
        Ok(o)
    }

    /// Encode in the order 6, 8, 9, 10, 71, others, then END. Sub-options longer than 255
    /// bytes are cut.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        let mut put = |code: u8, d: &[u8]| {
            let d = &d[..d.len().min(255)];
            v.push(code);
            v.push(d.len() as u8);
            v.extend_from_slice(d);
        };
        if let Some(b) = self.discovery_control {
            put(6, &[b]);
        }
        if !self.boot_servers.is_empty() {
            let mut d = Vec::new();
            for s in &self.boot_servers {
                d.extend_from_slice(&s.kind.to_be_bytes());
                d.push(s.addrs.len().min(255) as u8);
                for a in s.addrs.iter().take(255) {
                    d.extend_from_slice(&a.octets());
                }
            }
            put(8, &d);
        }
        if !self.menu.is_empty() {
            let mut d = Vec::new();
            for m in &self.menu {
                d.extend_from_slice(&m.kind.to_be_bytes());
                let desc = &m.description[..m.description.len().min(255)];
                d.push(desc.len() as u8);
                d.extend_from_slice(desc);
            }
            put(9, &d);
        }
        if let Some(p) = &self.prompt {
            let mut d = vec![p.timeout];
            d.extend_from_slice(&p.prompt);
            put(10, &d);
        }
        if let Some(b) = self.boot_item {
            let mut d = b.kind.to_be_bytes().to_vec();
            d.extend_from_slice(&b.layer.to_be_bytes());
            put(71, &d);
        }
        for (c, d) in &self.other {
            put(*c, d);
        }
        v.push(255);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ipxe_175_from_the_capture() {
        let raw = hex::decode(
            "b1050180861 00eeb030100001701012201011301011101012701011901012901011001022101011501011801011201 01"
                .replace(' ', ""),
        )
        .unwrap();
        let o = IpxeOptions::parse(&raw).unwrap();
        assert_eq!(
            o.bus_id(),
            Some(BusId::Pci {
                vendor: 0x8086,
                device: 0x100e
            })
        );
        assert_eq!(o.version(), Some((1, 0, 0)));
        assert!(o.has(ipxe_feature::HTTP));
        assert!(!o.has(ipxe_feature::HTTPS));
        assert_eq!(o.to_bytes(), raw);
    }

    #[test]
    fn arch_table() {
        assert_eq!(Arch(0).firmware(), Firmware::Bios);
        assert_eq!(Arch(9).cpu(), Cpu::X64);
        assert_eq!(Arch(11).cpu(), Cpu::Arm64);
        assert!(Arch(16).is_http() && Arch(19).is_http() && !Arch(7).is_http());
        assert_eq!(Arch(41).name(), "ARM rpiboot");
        assert_eq!(Arch(500).name(), "unassigned");
        assert_eq!(
            Arch::parse_list(&[0, 7, 0, 9]).unwrap(),
            vec![Arch(7), Arch(9)]
        );
        assert!(Arch::parse_list(&[0]).is_err());
        for code in 0..=41u16 {
            assert_ne!(Arch(code).name(), "unassigned");
        }
    }

    #[test]
    fn vendor_classes() {
        let h = VendorClass::parse(b"HTTPClient:Arch:00016:UNDI:003000").unwrap();
        assert_eq!(
            (h.prefix.as_str(), h.arch, h.undi),
            ("HTTPClient", Some(Arch(16)), Some((3, 0)))
        );
        let p = VendorClass::parse(b"PXEClient").unwrap();
        assert_eq!((p.arch, p.undi), (None, None));
        let odd = VendorClass::parse(b"PXEClient:Arch:0007x").unwrap();
        assert_eq!(odd.arch, None);
        assert_eq!(odd.to_bytes(), b"PXEClient:Arch:0007x");
    }

    #[test]
    fn machine_ids() {
        assert_eq!(MachineId::new(&[0; 17]).guid(), None);
        assert_eq!(MachineId::new(&[]).guid(), None);
        let mut g = [0u8; 17];
        g[5] = 1;
        assert!(MachineId::new(&g).guid().is_some());
    }

    proptest! {
        #[test]
        fn parsers_never_panic_and_round_trip(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Arch::parse_list(&data);
            let _ = NetworkInterface::parse(&data);
            let _ = parse_user_class(&data);
            let _ = MachineId::new(&data).guid();
            if let Ok(v) = VendorClass::parse(&data) {
                prop_assert_eq!(v.to_bytes(), data.clone());
            }
            if let Ok(o) = IpxeOptions::parse(&data) {
                prop_assert_eq!(IpxeOptions::parse(&o.to_bytes()).unwrap(), o);
            }
            if let Ok(o) = PxeVendorOptions::parse(&data) {
                let b = o.to_bytes();
                prop_assert_eq!(PxeVendorOptions::parse(&b).unwrap(), o);
            }
        }
    }
}
