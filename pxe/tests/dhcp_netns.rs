//! Our DHCP server against real clients in private network namespaces joined by veth pairs
//! (and a bridge for ProxyDHCP), all created here as root and removed afterwards; no traffic
//! leaves them:
//! * busybox `udhcpc` and ISC `dhclient` lease an address and get the boot file;
//! * scapy (pip, in `.venv-peers/`, `scripts/peers/scapy.sh`) sends the exact DISCOVERs of
//!   BIOS PXE, EDK2 UEFI x64 and ARM64, EDK2 HTTP boot and iPXE firmware and dissects our
//!   replies;
//! * ProxyDHCP beside an address-only dnsmasq, with and without option 43: the client leases
//!   its address from dnsmasq, takes its boot file from our proxy's OFFER, then asks our PXE
//!   boot server on port 4011;
//! * the PXE boot server on port 4011 on loopback.
//!
//! This test binary has its own `main` (`harness = false`): run with `PXE_NETNS_HELPER` set
//! it is the server side, started inside the server namespace by the test itself.

mod common;

use common::{require, sh};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pxe::dhcp::BootPolicy;
use pxe::dhcp::server::{DhcpServer, Pool};

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 1);
const DNSMASQ_IP: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 2);

/// Namespaces and veth pairs, removed on drop. `srv` (our server, `srv_if` 10.231.0.1/24)
/// and `cli` (the clients, on `cli_if`); with [`Netns::with_proxy`] also `addr` (an
/// address-only dnsmasq, 10.231.0.2/24) and, in `cli`, a bridge `cli_if` joining both.
struct Netns {
    srv: String,
    cli: String,
    addr: Option<String>,
    srv_if: String,
    cli_if: String,
    addr_if: String,
}

impl Netns {
    fn names(tag: &str) -> Self {
        let id = std::process::id() % 100_000;
        Netns {
            srv: format!("pxt{tag}-{id}-s"),
            cli: format!("pxt{tag}-{id}-c"),
            addr: None,
            srv_if: format!("px{tag}s{id}"),
            cli_if: format!("px{tag}c{id}"),
            addr_if: format!("px{tag}a{id}"),
        }
    }

    fn ns(&self, name: &str) {
        sh(&["ip", "netns", "add", name]);
        sh(&["ip", "-n", name, "link", "set", "lo", "up"]);
    }

    /// Server and client joined by one veth pair.
    fn up() -> Self {
        let n = Netns::names("");
        n.down();
        n.ns(&n.srv);
        n.ns(&n.cli);
        sh(&[
            "ip", "link", "add", &n.srv_if, "netns", &n.srv, "type", "veth", "peer", "name",
            &n.cli_if, "netns", &n.cli,
        ]);
        n.addr_up(&n.srv, &n.srv_if, "10.231.0.1/24");
        sh(&["ip", "-n", &n.cli, "link", "set", &n.cli_if, "up"]);
        n
    }

    /// Our server and an address-only server on one segment: a bridge in the client
    /// namespace with a veth to each (two servers on one interface of one namespace would
    /// each see only some broadcasts).
    fn with_proxy() -> Self {
        let mut n = Netns::names("p");
        n.addr = Some(format!("pxtp-{}-a", std::process::id() % 100_000));
        n.down();
        let addr = n.addr.clone().unwrap();
        n.ns(&n.srv);
        n.ns(&n.cli);
        n.ns(&addr);
        let (p_srv, p_addr) = (format!("{}x", n.srv_if), format!("{}x", n.addr_if));
        sh(&[
            "ip", "link", "add", &n.srv_if, "netns", &n.srv, "type", "veth", "peer", "name",
            &p_srv, "netns", &n.cli,
        ]);
        sh(&[
            "ip", "link", "add", &n.addr_if, "netns", &addr, "type", "veth", "peer", "name",
            &p_addr, "netns", &n.cli,
        ]);
        sh(&[
            "ip", "-n", &n.cli, "link", "add", &n.cli_if, "type", "bridge",
        ]);
        for p in [&p_srv, &p_addr] {
            sh(&["ip", "-n", &n.cli, "link", "set", p, "master", &n.cli_if]);
            sh(&["ip", "-n", &n.cli, "link", "set", p, "up"]);
        }
        sh(&["ip", "-n", &n.cli, "link", "set", &n.cli_if, "up"]);
        n.addr_up(&n.srv, &n.srv_if, "10.231.0.1/24");
        n.addr_up(&addr, &n.addr_if, "10.231.0.2/24");
        n
    }

    fn addr_up(&self, ns: &str, dev: &str, cidr: &str) {
        sh(&["ip", "-n", ns, "addr", "add", cidr, "dev", dev]);
        sh(&["ip", "-n", ns, "link", "set", dev, "up"]);
    }

    fn down(&self) {
        for ns in [Some(&self.srv), Some(&self.cli), self.addr.as_ref()]
            .into_iter()
            .flatten()
        {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.down();
    }
}

/// The server side: run inside the server namespace. `PXE_NETNS_MODE`: `full` (the default:
/// a pool, leases in a durable file log at `PXE_NETNS_LEASES`), `proxy` (ProxyDHCP and the
/// port-4011 boot server) or `proxy-no43` (the same without option 43 for BIOS clients).
fn helper(iface: &str) {
    let mode = std::env::var("PXE_NETNS_MODE").unwrap_or_else(|_| "full".into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut policy = BootPolicy::new(SERVER_IP, "http://10.231.0.1:8080");
        policy.bios_discovery_control = mode != "proxy-no43";
        let b = DhcpServer::builder(policy)
            .listen("0.0.0.0:67".parse().unwrap())
            .interface(iface);
        let b = if mode == "full" {
            let pool = Pool::new(
                Ipv4Addr::new(10, 231, 0, 100),
                Ipv4Addr::new(10, 231, 0, 150),
                Ipv4Addr::new(255, 255, 255, 0),
            )
            .unwrap()
            .with_router(SERVER_IP);
            let b = b.pool(pool);
            match std::env::var_os("PXE_NETNS_LEASES") {
                Some(p) => b.lease_store(pxe::dhcp::lease::FileStore::open(p).unwrap()),
                None => b,
            }
        } else {
            b.proxy().boot_server("0.0.0.0:4011".parse().unwrap())
        };
        let server = b.bind().await.unwrap();
        println!("ready");
        let _ = tokio::time::timeout(Duration::from_secs(120), server.run()).await;
    });
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn need_root() {
    require("ip", "iproute2");
    assert_eq!(
        Command::new("id").arg("-u").output().unwrap().stdout,
        b"0\n",
        "the namespace test needs root (it creates network namespaces)"
    );
}

/// Our server in `ns.srv`, in `mode` (see [`helper`]), once it is listening.
fn start_server(ns: &Netns, mode: &str, leases: Option<&Path>) -> Server {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.srv])
        .arg(&exe)
        .env("PXE_NETNS_HELPER", &ns.srv_if)
        .env("PXE_NETNS_MODE", mode)
        .stdout(Stdio::piped());
    if let Some(p) = leases {
        cmd.env("PXE_NETNS_LEASES", p);
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = Server(child);
    assert_eq!(line.trim(), "ready");
    server
}

fn udhcpc(ns: &Netns, script: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "netns", "exec", &ns.cli, "timeout", "30", "busybox", "udhcpc", "-i", &ns.cli_if, "-f",
        "-q", "-n", "-t", "4", "-T", "1", "-s", script,
    ];
    args.extend_from_slice(extra);
    let o = Command::new("ip").args(&args).output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn udhcpc_gets_addresses_and_boot_files() {
    need_root();
    require("busybox", "busybox");
    let ns = Netns::up();
    let dir = tempfile::tempdir().unwrap();
    let leases = dir.path().join("leases");
    let _server = start_server(&ns, "full", Some(&leases));

    let script = dir.path().join("print.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\n[ \"$1\" = bound ] && echo \"BOUND ip=$ip siaddr=$siaddr file=$boot_file opt67=$bootfile opt60=$opt60 router=$router subnet=$subnet\"\nexit 0\n",
    )
    .unwrap();
    sh(&["chmod", "+x", script.to_str().unwrap()]);
    let script = script.to_str().unwrap();

    // Plain client: an address, no boot file.
    let out = udhcpc(&ns, script, &[]);
    assert!(out.contains("BOUND ip=10.231.0.1"), "{out}");
    assert!(
        out.contains("router=10.231.0.1 subnet=255.255.255.0"),
        "{out}"
    );
    assert!(out.contains("file= opt67= "), "{out}");

    // UEFI x64 PXE identity: ipxe.efi in the file field and option 67, siaddr set.
    let out = udhcpc(
        &ns,
        script,
        &[
            "-V",
            "PXEClient:Arch:00007:UNDI:003016",
            "-x",
            "0x5d:0007",
            "-x",
            "0x5e:010310",
            "-x",
            "0x61:00112233445566778899aabbccddeeff00",
            "-O",
            "43",
            "-O",
            "60",
            "-O",
            "66",
            "-O",
            "67",
        ],
    );
    assert!(
        out.contains("siaddr=10.231.0.1 file=ipxe.efi opt67=ipxe.efi"),
        "{out}"
    );

    // BIOS: undionly.kpxe.
    let out = udhcpc(
        &ns,
        script,
        &[
            "-V",
            "PXEClient:Arch:00000:UNDI:002001",
            "-x",
            "0x5d:0000",
            "-O",
            "67",
        ],
    );
    assert!(
        out.contains("file=undionly.kpxe opt67=undionly.kpxe"),
        "{out}"
    );

    // iPXE (raw user class "iPXE"): the HTTP script, never a binary.
    let out = udhcpc(
        &ns,
        script,
        &[
            "-V",
            "PXEClient:Arch:00000:UNDI:002001",
            "-x",
            "0x5d:0000",
            "-x",
            "0x4d:69505845",
            "-O",
            "67",
        ],
    );
    assert!(
        out.contains("file=http://10.231.0.1:8080/boot.ipxe"),
        "{out}"
    );

    // UEFI HTTP boot: a URL, and option 60 HTTPClient echoed.
    let out = udhcpc(
        &ns,
        script,
        &[
            "-V",
            "HTTPClient:Arch:00016:UNDI:003000",
            "-x",
            "0x5d:0010",
            "-O",
            "60",
            "-O",
            "67",
        ],
    );
    // (udhcpc does not export option 60 to its script; the echo of `HTTPClient` is checked
    // byte for byte in the unit tests.)
    assert!(
        out.contains("file=http://10.231.0.1:8080/ipxe.efi opt67=http://10.231.0.1:8080/ipxe.efi"),
        "{out}"
    );

    // Every ACK was recorded in the durable lease log before it was sent.
    let log = std::fs::read_to_string(&leases).unwrap();
    assert!(
        log.lines().filter(|l| l.starts_with("B ")).count() >= 5,
        "{log}"
    );
}

/// ISC dhclient leases an address and records the boot file (`filename`, option 67), as a
/// plain client and with a UEFI x64 PXE identity (options 60, 93, 97).
fn dhclient_leases_and_gets_the_boot_file() {
    need_root();
    require("dhclient", "isc-dhcp-client");
    let ns = Netns::up();
    let dir = tempfile::tempdir().unwrap();
    let _server = start_server(&ns, "full", Some(&dir.path().join("leases")));
    let run = |name: &str, conf: &str| -> String {
        let cf = dir.path().join(format!("{name}.conf"));
        let lf = dir.path().join(format!("{name}.leases"));
        let pf = dir.path().join(format!("{name}.pid"));
        std::fs::write(&cf, conf).unwrap();
        // -sf /bin/true: the lease is recorded, the interface is left alone; -1: one try.
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.cli, "dhclient", "-4", "-d", "-1", "-v"])
            .args(["-sf", "/bin/true", "-cf"])
            .arg(&cf)
            .arg("-lf")
            .arg(&lf)
            .arg("-pf")
            .arg(&pf)
            .arg(&ns.cli_if)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let lease = loop {
            let text = std::fs::read_to_string(&lf).unwrap_or_default();
            if text.contains("fixed-address") {
                break text;
            }
            if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!(
                    "dhclient ({name}) got no lease: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let _ = child.kill();
        let _ = child.wait();
        lease
    };

    let plain = run(
        "plain",
        "request subnet-mask, routers, bootfile-name, tftp-server-name;\n",
    );
    assert!(plain.contains("fixed-address 10.231.0.1"), "{plain}");
    assert!(plain.contains("option routers 10.231.0.1;"), "{plain}");
    assert!(
        plain.contains("option subnet-mask 255.255.255.0;"),
        "{plain}"
    );
    assert!(
        !plain.contains("filename"),
        "no boot file for a plain client: {plain}"
    );

    let pxe = run(
        "pxe",
        concat!(
            "option pxe-arch code 93 = unsigned integer 16;\n",
            "option pxe-uuid code 97 = string;\n",
            "send vendor-class-identifier \"PXEClient:Arch:00007:UNDI:003016\";\n",
            "send pxe-arch 7;\n",
            "send pxe-uuid 00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:01;\n",
            "request subnet-mask, routers, vendor-encapsulated-options, tftp-server-name, bootfile-name;\n",
        ),
    );
    assert!(pxe.contains("fixed-address 10.231.0.1"), "{pxe}");
    assert!(pxe.contains("filename \"ipxe.efi\";"), "{pxe}");
    assert!(pxe.contains("option bootfile-name \"ipxe.efi\";"), "{pxe}");
    assert!(
        pxe.contains("option tftp-server-name \"10.231.0.1\";"),
        "{pxe}"
    );
    assert!(
        pxe.contains("option dhcp-server-identifier 10.231.0.1;"),
        "{pxe}"
    );
}

// ---- exact firmware DISCOVERs (from the captures in the research notes) -------------------

fn opt(code: u8, value: &[u8]) -> Vec<u8> {
    let mut v = vec![code, value.len() as u8];
    v.extend_from_slice(value);
    v
}

const GUID: [u8; 17] = [
    0, 0x8f, 0x3c, 0x2e, 0x61, 0x5d, 0x4a, 0x41, 0x9b, 0x1e, 0x3e, 0x51, 0x0a, 0x9d, 0x22, 0x7c,
    0x01,
];

/// EDK2's parameter request list.
const EDK2_PRL: &[u8] = &[
    1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66,
    67, 97, 128, 129, 130, 131, 132, 133, 134, 135,
];

/// The options (after 53) each firmware sends in its DISCOVER.
fn firmware_options(name: &str, mac: [u8; 6]) -> Vec<Vec<u8>> {
    match name {
        // A BIOS PXE ROM (Intel UNDI 2.1).
        "bios" => vec![
            opt(57, &[0x04, 0xec]),
            opt(
                55,
                &[
                    1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 66, 67, 128, 129, 130,
                    131, 132, 133, 134, 135,
                ],
            ),
            opt(97, &GUID),
            opt(94, &[1, 2, 1]),
            opt(93, &[0, 0]),
            opt(60, b"PXEClient:Arch:00000:UNDI:002001"),
        ],
        // OVMF's own EDK2 PxeBcDxe on x64, and on ARM64 (AAVMF).
        "uefi-x64" | "uefi-arm64" => {
            let (a, vc): (u8, &[u8]) = if name == "uefi-x64" {
                (7, b"PXEClient:Arch:00007:UNDI:003000")
            } else {
                (11, b"PXEClient:Arch:00011:UNDI:003000")
            };
            vec![
                opt(57, &[0x05, 0xc0]),
                opt(55, EDK2_PRL),
                opt(97, &GUID),
                opt(94, &[1, 3, 0]),
                opt(93, &[0, a]),
                opt(60, vc),
            ]
        }
        // EDK2 HttpBootDxe on x64.
        "http-boot" => vec![
            opt(57, &[0x05, 0xc0]),
            opt(55, &[1, 3, 6, 15, 43, 60, 66, 67, 97]),
            opt(97, &GUID),
            opt(94, &[1, 3, 0]),
            opt(93, &[0, 16]),
            opt(60, b"HTTPClient:Arch:00016:UNDI:003000"),
        ],
        // iPXE 1.0.0+git-20190125 (QEMU's e1000 ROM) as captured: raw user class `iPXE`,
        // option 175, all-zero UUID.
        "ipxe" => {
            let o175 = hex::decode(
                "b105018086100eeb03010000170101220101130101110101270101190101290101100102210101150101180101120101",
            )
            .unwrap();
            let mut o61 = vec![1];
            o61.extend_from_slice(&mac);
            let mut prl = vec![1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119];
            prl.extend(128..=135);
            prl.extend([175, 203]);
            vec![
                opt(57, &[0x05, 0xc0]),
                opt(93, &[0, 0]),
                opt(94, &[1, 2, 1]),
                opt(60, b"PXEClient:Arch:00000:UNDI:002001"),
                opt(77, b"iPXE"),
                opt(55, &prl),
                opt(175, &o175),
                opt(61, &o61),
                opt(97, &[0; 17]),
            ]
        }
        other => panic!("no firmware {other}"),
    }
}

/// A BOOTREQUEST: message type `t`, then `options`, then `extra`, then end.
fn packet(
    mac: [u8; 6],
    xid: u32,
    t: u8,
    ciaddr: Ipv4Addr,
    options: &[Vec<u8>],
    extra: &[Vec<u8>],
) -> Vec<u8> {
    let mut d = vec![0u8; 240];
    d[0] = 1;
    d[1] = 1;
    d[2] = 6;
    d[4..8].copy_from_slice(&xid.to_be_bytes());
    if ciaddr.is_unspecified() {
        d[10] = 0x80; // broadcast, as firmware without an address asks
    }
    d[12..16].copy_from_slice(&ciaddr.octets());
    d[28..34].copy_from_slice(&mac);
    d[236..240].copy_from_slice(&[99, 130, 83, 99]);
    d.extend_from_slice(&opt(53, &[t]));
    for o in options.iter().chain(extra) {
        d.extend_from_slice(o);
    }
    d.push(255);
    d
}

/// One reply as scapy dissected it.
#[derive(Debug)]
struct Seen {
    src: Ipv4Addr,
    sport: u16,
    yiaddr: Ipv4Addr,
    siaddr: Ipv4Addr,
    file: String,
    opts: HashMap<String, Vec<u8>>,
}

impl Seen {
    fn text(&self, name: &str) -> Option<String> {
        self.opts
            .get(name)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
}

fn scapy_python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let py = root.join(".venv-peers/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import scapy.all"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "peer missing: scapy (pip `scapy` in .venv-peers/); run scripts/peers/scapy.sh (scripts/test.sh does)"
    );
    py
}

/// Send `payload` with scapy from the client namespace (broadcast, or unicast with
/// `unicast = Some((to, port, src))`) and return what came back.
fn scapy(ns: &Netns, payload: &[u8], unicast: Option<(Ipv4Addr, u16, Ipv4Addr)>) -> Vec<Seen> {
    let py = scapy_python();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/peers/pxe-scapy-send.py");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &ns.cli, "timeout", "60"])
        .arg(&py)
        .arg(&script)
        .arg(&ns.cli_if)
        .arg(hex::encode(payload))
        .args(["--timeout", "1.5"]);
    if let Some((to, port, src)) = unicast {
        cmd.args([
            "--to",
            &to.to_string(),
            "--port",
            &port.to_string(),
            "--src",
            &src.to_string(),
        ]);
    }
    let o = cmd.output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "scapy: {out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out.lines()
        .filter_map(|l| l.strip_prefix("REPLY "))
        .map(|l| {
            let mut kv = HashMap::new();
            let mut opts = HashMap::new();
            for f in l.split(' ') {
                let (k, v) = f.split_once('=').unwrap();
                match k.strip_prefix("opt:") {
                    Some(name) => {
                        opts.insert(name.to_string(), hex::decode(v).unwrap());
                    }
                    None => {
                        kv.insert(k.to_string(), v.to_string());
                    }
                }
            }
            Seen {
                src: kv["src"].parse().unwrap(),
                sport: kv["sport"].parse().unwrap(),
                yiaddr: kv["yiaddr"].parse().unwrap(),
                siaddr: kv["siaddr"].parse().unwrap(),
                file: String::from_utf8(hex::decode(&kv["file"]).unwrap()).unwrap(),
                opts,
            }
        })
        .collect()
}

/// Each firmware's exact DISCOVER, sent by scapy, gets an OFFER with the boot file its
/// architecture needs, in the `file` field and option 67, with the right option 60.
fn scapy_firmware_discovers_get_their_boot_files() {
    need_root();
    let _ = scapy_python();
    let ns = Netns::up();
    let _server = start_server(&ns, "full", None);
    let cases: &[(&str, &str, &str)] = &[
        ("bios", "undionly.kpxe", "PXEClient"),
        ("uefi-x64", "ipxe.efi", "PXEClient"),
        ("uefi-arm64", "arm64/snponly.efi", "PXEClient"),
        ("http-boot", "http://10.231.0.1:8080/ipxe.efi", "HTTPClient"),
        ("ipxe", "http://10.231.0.1:8080/boot.ipxe", "PXEClient"),
    ];
    for (i, (fw, file, vc)) in cases.iter().enumerate() {
        let mac = [0x52, 0x54, 0x00, 0x99, 0x10, i as u8];
        let xid = 0x5c00_0000 + i as u32;
        let replies = scapy(
            &ns,
            &packet(
                mac,
                xid,
                1,
                Ipv4Addr::UNSPECIFIED,
                &firmware_options(fw, mac),
                &[],
            ),
            None,
        );
        assert_eq!(replies.len(), 1, "{fw}: {replies:?}");
        let r = &replies[0];
        assert_eq!((r.src, r.sport), (SERVER_IP, 67), "{fw}");
        assert_eq!(r.text("message-type").as_deref(), Some("2"), "{fw}: {r:?}");
        assert!(
            r.yiaddr.octets()[..3] == [10, 231, 0] && r.yiaddr.octets()[3] >= 100,
            "{fw}: {r:?}"
        );
        assert_eq!(r.siaddr, SERVER_IP, "{fw}");
        assert_eq!(r.file, *file, "{fw}: file field");
        assert_eq!(
            r.text("boot-file-name").as_deref(),
            Some(*file),
            "{fw}: option 67"
        );
        assert_eq!(
            r.text("vendor_class_id").as_deref(),
            Some(*vc),
            "{fw}: option 60"
        );
        assert_eq!(r.text("server_id").as_deref(), Some("10.231.0.1"), "{fw}");
        assert_eq!(
            r.text("subnet_mask").as_deref(),
            Some("255.255.255.0"),
            "{fw}"
        );
        if *fw == "ipxe" {
            // The all-zero UUID is accepted and echoed.
            assert_eq!(
                r.opts.get("pxe_client_machine_identifier"),
                Some(&vec![0; 17]),
                "{fw}"
            );
        } else {
            assert_eq!(
                r.opts.get("pxe_client_machine_identifier"),
                Some(&GUID.to_vec()),
                "{fw}"
            );
        }
        // Full DHCP mode: the boot file is in the OFFER itself, so no option 43.
        assert!(!r.opts.contains_key("vendor_specific"), "{fw}: {r:?}");
    }
}

/// An address-only dnsmasq and our ProxyDHCP on one segment: the client leases its address
/// from dnsmasq (DORA), takes its boot file from our proxy OFFER (option 43 for BIOS, or
/// not), then asks our PXE boot server on port 4011 from its new address.
fn proxy_beside_an_address_only_dnsmasq() {
    need_root();
    require("dnsmasq", "dnsmasq");
    let _ = scapy_python();
    let ns = Netns::with_proxy();
    let addr_ns = ns.addr.clone().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("dnsmasq.conf");
    std::fs::write(
        &conf,
        format!(
            "port=0\ninterface={}\nbind-interfaces\nexcept-interface=lo\n\
             dhcp-range=10.231.0.100,10.231.0.150,255.255.255.0,1h\n\
             dhcp-leasefile={}\nno-ping\nlog-dhcp\nlog-facility={}\n",
            ns.addr_if,
            dir.path().join("dnsmasq.leases").display(),
            dir.path().join("dnsmasq.log").display()
        ),
    )
    .unwrap();
    let dnsmasq = Command::new("ip")
        .args([
            "netns",
            "exec",
            &addr_ns,
            "dnsmasq",
            "--keep-in-foreground",
            "--pid-file=",
            "--user=root",
        ])
        .arg(format!("--conf-file={}", conf.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _dnsmasq = Server(dnsmasq);
    let deadline = Instant::now() + Duration::from_secs(10);
    while Command::new("ip")
        .args(["netns", "exec", &addr_ns, "ss", "-Hulnp", "sport = :67"])
        .output()
        .map(|o| o.stdout.is_empty())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "dnsmasq did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut n = 0u8;
    for (mode, with_43) in [("proxy", true), ("proxy-no43", false)] {
        let server = start_server(&ns, mode, None);
        for (fw, file) in [("bios", "undionly.kpxe"), ("uefi-x64", "ipxe.efi")] {
            n += 1;
            let what = format!("{mode} {fw}");
            let mac = [0x52, 0x54, 0x00, 0x99, 0x20, n];
            let xid = 0x9e00_0000 + u32::from(n);
            let opts = firmware_options(fw, mac);
            let offers = scapy(
                &ns,
                &packet(mac, xid, 1, Ipv4Addr::UNSPECIFIED, &opts, &[]),
                None,
            );
            let addr = offers
                .iter()
                .find(|r| r.src == DNSMASQ_IP)
                .unwrap_or_else(|| panic!("{what}: no OFFER from dnsmasq: {offers:?}"));
            let proxy = offers
                .iter()
                .find(|r| r.src == SERVER_IP)
                .unwrap_or_else(|| panic!("{what}: no proxy OFFER: {offers:?}"));
            assert_eq!(offers.len(), 2, "{what}: {offers:?}");
            // dnsmasq gives the address and no boot file.
            assert!(!addr.yiaddr.is_unspecified(), "{what}");
            assert!(
                addr.file.is_empty() && !addr.opts.contains_key("boot-file-name"),
                "{what}: {addr:?}"
            );
            // Our proxy gives no address, the boot file and option 60 PXEClient.
            assert_eq!(proxy.yiaddr, Ipv4Addr::UNSPECIFIED, "{what}");
            assert_eq!(proxy.text("message-type").as_deref(), Some("2"), "{what}");
            assert_eq!(proxy.file, file, "{what}");
            assert_eq!(
                proxy.text("boot-file-name").as_deref(),
                Some(file),
                "{what}"
            );
            assert_eq!(proxy.siaddr, SERVER_IP, "{what}");
            assert_eq!(
                proxy.text("vendor_class_id").as_deref(),
                Some("PXEClient"),
                "{what}"
            );
            assert!(
                !proxy.opts.contains_key("subnet_mask"),
                "{what}: a proxy gives no lease"
            );
            let o43 = proxy.opts.get("vendor_specific");
            if with_43 && fw == "bios" {
                // Discovery control 8: boot the file in this OFFER, no boot server discovery.
                assert_eq!(o43.map(hex::encode).as_deref(), Some("060108ff"), "{what}");
            } else {
                assert_eq!(o43, None, "{what}");
            }

            // The address comes from dnsmasq: REQUEST it (our proxy stays silent).
            let request = packet(
                mac,
                xid,
                3,
                Ipv4Addr::UNSPECIFIED,
                &opts,
                &[
                    opt(50, &addr.yiaddr.octets()),
                    opt(54, &DNSMASQ_IP.octets()),
                ],
            );
            let acks = scapy(&ns, &request, None);
            assert_eq!(acks.len(), 1, "{what}: {acks:?}");
            assert_eq!(acks[0].src, DNSMASQ_IP, "{what}");
            assert_eq!(acks[0].text("message-type").as_deref(), Some("5"), "{what}");
            assert_eq!(acks[0].yiaddr, addr.yiaddr, "{what}");

            // With that address, the PXE boot server step on port 4011.
            let cidr = format!("{}/24", addr.yiaddr);
            sh(&["ip", "-n", &ns.cli, "addr", "add", &cidr, "dev", &ns.cli_if]);
            let boot = packet(mac, xid + 0x100, 3, addr.yiaddr, &opts, &[]);
            let acks = scapy(&ns, &boot, Some((SERVER_IP, 4011, addr.yiaddr)));
            sh(&["ip", "-n", &ns.cli, "addr", "del", &cidr, "dev", &ns.cli_if]);
            assert_eq!(acks.len(), 1, "{what}: port 4011: {acks:?}");
            let a = &acks[0];
            assert_eq!((a.src, a.sport), (SERVER_IP, 4011), "{what}");
            assert_eq!(a.text("message-type").as_deref(), Some("5"), "{what}");
            assert_eq!(a.file, file, "{what}: 4011");
            assert_eq!(
                a.text("vendor_class_id").as_deref(),
                Some("PXEClient"),
                "{what}"
            );
            assert_eq!(
                a.opts.get("pxe_client_machine_identifier"),
                Some(&GUID.to_vec()),
                "{what}"
            );
        }
        drop(server);
    }
}

/// The PXE boot server on port 4011 answers a UEFI client's REQUEST with an ACK (unicast,
/// on loopback).
fn boot_server_4011_on_loopback() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = rt.block_on(async {
        DhcpServer::builder(BootPolicy::new(
            Ipv4Addr::LOCALHOST,
            "http://127.0.0.1:8080",
        ))
        .listen("127.0.0.1:0".parse().unwrap())
        .boot_server("127.0.0.1:0".parse().unwrap())
        .proxy()
        .bind()
        .await
        .unwrap()
    });
    let boot_addr: SocketAddr = server.boot_server_addr().unwrap().unwrap();
    rt.spawn(server.run());
    let mut req = pxe::dhcp::policy::example_discover();
    req[242] = 3; // REQUEST
    req[12..16].copy_from_slice(&[127, 0, 0, 1]); // ciaddr: the client owns an address
    probe
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    probe.send_to(&req, boot_addr).unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = probe.recv_from(&mut buf).expect("no ACK from port 4011");
    let f = pxe::dhcp::Frame::parse(&buf[..n]).unwrap();
    assert_eq!(f.message_type(), Some(5));
    assert_eq!(f.file, b"ipxe.efi");
    assert_eq!(f.option(60), Some(&b"PXEClient"[..]));
    assert_eq!(f.option(97).map(<[u8]>::len), Some(17));
}

fn main() {
    if let Some(iface) = std::env::var_os("PXE_NETNS_HELPER") {
        helper(&iface.to_string_lossy());
        return;
    }
    let tests: &[(&str, fn())] = &[
        (
            "udhcpc_gets_addresses_and_boot_files",
            udhcpc_gets_addresses_and_boot_files,
        ),
        (
            "dhclient_leases_and_gets_the_boot_file",
            dhclient_leases_and_gets_the_boot_file,
        ),
        (
            "scapy_firmware_discovers_get_their_boot_files",
            scapy_firmware_discovers_get_their_boot_files,
        ),
        (
            "proxy_beside_an_address_only_dnsmasq",
            proxy_beside_an_address_only_dnsmasq,
        ),
        ("boot_server_4011_on_loopback", boot_server_4011_on_loopback),
    ];
    common::run_tests(tests);
}
