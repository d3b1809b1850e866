//! Network boot of a virtual node, as its firmware and iPXE would do it: DHCP DISCOVER and
//! REQUEST with the PXE options of its firmware type, TFTP of the boot file, a second DHCP
//! exchange as iPXE (user class `iPXE`), then HTTP of the iPXE script, handed to a hook (the
//! provisioning agent). Everything runs over loopback against configured servers; the DHCP
//! server must answer at the request's source address (see `pxe`'s `reply_to_source`), since
//! a process on loopback cannot receive broadcasts.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use dhcproto::v4::{
    self, DhcpOption, Flags, Message, MessageType, Opcode, OptionCode, UnknownOption,
};
use dhcproto::{Decodable, Decoder, Encodable};
use pxe::tftp::packet::{Packet, Request, TftpOption};
use tokio::net::UdpSocket;

use crate::Error;

/// The firmware a virtual node network-boots with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Firmware {
    /// PC BIOS with a PXE ROM (architecture 0).
    Bios,
    /// UEFI x64 PXE (architecture 7, as EDK2 sends).
    #[default]
    UefiX64,
}

impl Firmware {
    fn arch(self) -> u16 {
        match self {
            Firmware::Bios => 0,
            Firmware::UefiX64 => 7,
        }
    }

    fn vendor_class(self) -> String {
        match self {
            Firmware::Bios => "PXEClient:Arch:00000:UNDI:002001".into(),
            Firmware::UefiX64 => "PXEClient:Arch:00007:UNDI:003016".into(),
        }
    }
}

/// Where a virtual node network-boots from.
#[derive(Debug, Clone)]
pub struct NetbootConfig {
    /// The DHCP server (full mode; answering at the request's source).
    pub dhcp: SocketAddr,
    /// The TFTP server (its port: the DHCP answer only names the host).
    pub tftp: SocketAddr,
    /// Firmware of every node.
    pub firmware: Firmware,
    /// Per-message timeout (three tries each).
    pub timeout: Duration,
    /// Largest boot file or script accepted.
    pub max_size: usize,
}

impl NetbootConfig {
    /// UEFI x64 firmware, 1 s timeouts, files up to 64 MiB.
    pub fn new(dhcp: SocketAddr, tftp: SocketAddr) -> Self {
        NetbootConfig {
            dhcp,
            tftp,
            firmware: Firmware::UefiX64,
            timeout: Duration::from_secs(1),
            max_size: 64 << 20,
        }
    }
}

/// What a network boot got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetbootOutcome {
    /// The address leased to the firmware.
    pub address: Ipv4Addr,
    /// The boot file the firmware was given, and fetched over TFTP.
    pub boot_file: String,
    /// Its size.
    pub boot_file_size: usize,
    /// The iPXE script URL iPXE was given.
    pub script_url: String,
    /// The script.
    pub script: String,
}

fn err(what: &str) -> Error {
    Error::Netboot(what.to_string())
}

/// Boot the node with `mac` over the network (see the module docs).
pub async fn netboot(mac: [u8; 6], cfg: &NetbootConfig) -> Result<NetbootOutcome, Error> {
    let sock = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|source| Error::Io {
            during: "binding the virtual firmware's DHCP socket",
            source,
        })?;
    let firmware = dora(&sock, mac, cfg, false).await?;
    let boot_file = firmware
        .1
        .ok_or_else(|| err("the DHCP answer names no boot file"))?;
    let size = tftp_get(&boot_file, cfg).await?;
    // The boot file is iPXE: it asks DHCP again, as iPXE, and gets its script.
    let ipxe = dora(&sock, mac, cfg, true).await?;
    let script_url = ipxe
        .1
        .ok_or_else(|| err("the DHCP answer to iPXE names no script"))?;
    let script = http_get(&script_url, cfg).await?;
    Ok(NetbootOutcome {
        address: firmware.0,
        boot_file,
        boot_file_size: size,
        script_url,
        script,
    })
}

/// DISCOVER, OFFER, REQUEST, ACK: the leased address and the boot file.
async fn dora(
    sock: &UdpSocket,
    mac: [u8; 6],
    cfg: &NetbootConfig,
    ipxe: bool,
) -> Result<(Ipv4Addr, Option<String>), Error> {
    let xid =
        u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]) ^ if ipxe { 0x1905 } else { 0x5eed };
    let base = |t: MessageType| {
        let z = Ipv4Addr::UNSPECIFIED;
        let mut m = Message::new_with_id(xid, z, z, z, z, &mac);
        m.set_opcode(Opcode::BootRequest)
            .set_flags(Flags::default().set_broadcast());
        let o = m.opts_mut();
        o.insert(DhcpOption::MessageType(t));
        o.insert(DhcpOption::ClientSystemArchitecture(
            cfg.firmware.arch().into(),
        ));
        o.insert(DhcpOption::ClientNetworkInterface(1, 3, 16));
        let mut uuid = vec![0u8];
        uuid.extend_from_slice(b"bmcsim-uuid-");
        uuid.extend_from_slice(&mac[2..]);
        o.insert(DhcpOption::ClientMachineIdentifier(uuid));
        o.insert(DhcpOption::ClassIdentifier(
            cfg.firmware.vendor_class().into_bytes(),
        ));
        o.insert(DhcpOption::ParameterRequestList(vec![
            OptionCode::SubnetMask,
            OptionCode::Router,
            OptionCode::ServerIdentifier,
            OptionCode::TFTPServerName,
            OptionCode::BootfileName,
            OptionCode::VendorExtensions,
            OptionCode::ClassIdentifier,
        ]));
        if ipxe {
            // iPXE sends its user class raw, not in RFC 3004 form.
            o.insert(DhcpOption::Unknown(UnknownOption::new(
                OptionCode::UserClass,
                b"iPXE".to_vec(),
            )));
        }
        m
    };
    let offer = exchange(
        sock,
        cfg,
        &base(MessageType::Discover),
        xid,
        MessageType::Offer,
    )
    .await?;
    let server_id = match offer.opts().get(OptionCode::ServerIdentifier) {
        Some(DhcpOption::ServerIdentifier(ip)) => *ip,
        _ => offer.siaddr(),
    };
    let mut req = base(MessageType::Request);
    req.opts_mut()
        .insert(DhcpOption::RequestedIpAddress(offer.yiaddr()));
    req.opts_mut()
        .insert(DhcpOption::ServerIdentifier(server_id));
    let ack = exchange(sock, cfg, &req, xid, MessageType::Ack).await?;
    let file = match ack.opts().get(OptionCode::BootfileName) {
        Some(DhcpOption::BootfileName(f)) => Some(
            String::from_utf8_lossy(f)
                .trim_end_matches('\0')
                .to_string(),
        ),
        _ => ack
            .fname_str()
            .and_then(Result::ok)
            .map(|s| s.trim_end_matches('\0').to_string())
            .filter(|s| !s.is_empty()),
    };
    Ok((ack.yiaddr(), file))
}

async fn exchange(
    sock: &UdpSocket,
    cfg: &NetbootConfig,
    msg: &Message,
    xid: u32,
    want: MessageType,
) -> Result<Message, Error> {
    let bytes = msg.to_vec().map_err(|_| err("encoding a DHCP message"))?;
    let mut buf = vec![0u8; 1500];
    for _ in 0..3 {
        sock.send_to(&bytes, cfg.dhcp)
            .await
            .map_err(|source| Error::Io {
                during: "sending DHCP",
                source,
            })?;
        let deadline = tokio::time::Instant::now() + cfg.timeout;
        while let Ok(Ok((n, _))) = tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await
        {
            let Ok(m) = Message::decode(&mut Decoder::new(&buf[..n])) else {
                continue;
            };
            if m.xid() == xid && m.opts().msg_type() == Some(want) {
                return Ok(m);
            }
            if m.xid() == xid && m.opts().msg_type() == Some(v4::MessageType::Nak) {
                return Err(err("the DHCP server answered NAK"));
            }
        }
    }
    Err(err(match want {
        MessageType::Offer => "no DHCP OFFER",
        _ => "no DHCP ACK",
    }))
}

/// Fetch `file` over TFTP (blksize 1468, tsize), as PXE firmware does; returns its size.
async fn tftp_get(file: &str, cfg: &NetbootConfig) -> Result<usize, Error> {
    let sock = UdpSocket::bind("127.0.0.1:0")
        .await
        .map_err(|source| Error::Io {
            during: "binding the TFTP client socket",
            source,
        })?;
    let rrq = Packet::Rrq(Request {
        filename: file,
        mode: "octet",
        options: vec![
            TftpOption {
                name: "blksize",
                value: "1468",
            },
            TftpOption {
                name: "tsize",
                value: "0",
            },
        ],
    })
    .to_vec();
    sock.send_to(&rrq, cfg.tftp)
        .await
        .map_err(|source| Error::Io {
            during: "sending the TFTP request",
            source,
        })?;
    let mut buf = vec![0u8; 65536];
    let mut blksize = 512usize;
    let mut expected: u16 = 1;
    let mut total = 0usize;
    let mut peer: Option<SocketAddr> = None;
    loop {
        let (n, from) = tokio::time::timeout(cfg.timeout * 3, sock.recv_from(&mut buf))
            .await
            .map_err(|_| err("TFTP: no answer"))?
            .map_err(|source| Error::Io {
                during: "receiving TFTP",
                source,
            })?;
        // The transfer comes from the server's new port (its TID).
        if *peer.get_or_insert(from) != from {
            continue;
        }
        match Packet::parse(&buf[..n]) {
            Ok(Packet::Oack { options }) => {
                if let Some(b) = options
                    .iter()
                    .find(|o| o.name.eq_ignore_ascii_case("blksize"))
                {
                    blksize = b
                        .value
                        .parse()
                        .map_err(|_| err("TFTP: bad blksize in OACK"))?;
                }
                let ack = Packet::Ack { block: 0 }.to_vec();
                let _ = sock.send_to(&ack, from).await;
            }
            Ok(Packet::Data { block, data }) => {
                if block == expected {
                    total += data.len();
                    if total > cfg.max_size {
                        return Err(err("TFTP: boot file larger than allowed"));
                    }
                    expected = expected.wrapping_add(1);
                }
                let ack = Packet::Ack { block }.to_vec();
                let _ = sock.send_to(&ack, from).await;
                if block == expected.wrapping_sub(1) && data.len() < blksize {
                    return Ok(total);
                }
            }
            Ok(Packet::Error { code, message }) => {
                return Err(Error::Netboot(format!("TFTP error {code:?}: {message}")));
            }
            _ => {}
        }
    }
}

/// GET an `http://` URL (the iPXE script).
async fn http_get(url: &str, cfg: &NetbootConfig) -> Result<String, Error> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| err("the script URL is not http://"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let addr = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let fetch = async {
        let tcp = tokio::net::TcpStream::connect(&addr)
            .await
            .map_err(|e| Error::Netboot(format!("HTTP connect to {addr}: {e}")))?;
        let (mut send, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .map_err(|e| Error::Netboot(format!("HTTP: {e}")))?;
        tokio::spawn(conn);
        let req = hyper::Request::get(path)
            .header(hyper::header::HOST, authority)
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(|e| Error::Netboot(format!("HTTP request: {e}")))?;
        let resp = send
            .send_request(req)
            .await
            .map_err(|e| Error::Netboot(format!("HTTP: {e}")))?;
        if !resp.status().is_success() {
            return Err(Error::Netboot(format!("HTTP {} for {url}", resp.status())));
        }
        use http_body_util::BodyExt;
        let body = http_body_util::Limited::new(resp.into_body(), cfg.max_size)
            .collect()
            .await
            .map_err(|e| Error::Netboot(format!("HTTP body: {e}")))?
            .to_bytes();
        Ok(String::from_utf8_lossy(&body).into_owned())
    };
    tokio::time::timeout(cfg.timeout * 5, fetch)
        .await
        .map_err(|_| err("HTTP: no answer"))?
}
