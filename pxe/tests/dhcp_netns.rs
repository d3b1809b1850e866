//! Our DHCP server against busybox `udhcpc` in two private network namespaces joined by a
//! veth pair (created here as root and removed afterwards; no traffic leaves them), and the
//! PXE boot server (port 4011) on loopback.
//!
//! This test binary has its own `main` (`harness = false`): run with `PXE_NETNS_HELPER` set
//! it is the server side, started inside the server namespace by the test itself.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use pxe::dhcp::BootPolicy;
use pxe::dhcp::server::{DhcpServer, Pool};

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 1);

fn require(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "peer missing: `{program}` (Debian package `{package}`); run scripts/test.sh, which installs the test peers"
    );
}

fn sh(args: &[&str]) {
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Two namespaces and a veth pair, removed on drop.
struct Netns {
    srv: String,
    cli: String,
    srv_if: String,
    cli_if: String,
}

impl Netns {
    fn up() -> Self {
        let id = std::process::id() % 100_000;
        let n = Netns {
            srv: format!("pxet-{id}-s"),
            cli: format!("pxet-{id}-c"),
            srv_if: format!("pxs{id}"),
            cli_if: format!("pxc{id}"),
        };
        n.down();
        sh(&["ip", "netns", "add", &n.srv]);
        sh(&["ip", "netns", "add", &n.cli]);
        sh(&["ip", "-n", &n.srv, "link", "set", "lo", "up"]);
        sh(&["ip", "-n", &n.cli, "link", "set", "lo", "up"]);
        sh(&[
            "ip", "link", "add", &n.srv_if, "netns", &n.srv, "type", "veth", "peer", "name",
            &n.cli_if, "netns", &n.cli,
        ]);
        sh(&[
            "ip",
            "-n",
            &n.srv,
            "addr",
            "add",
            "10.231.0.1/24",
            "dev",
            &n.srv_if,
        ]);
        sh(&["ip", "-n", &n.srv, "link", "set", &n.srv_if, "up"]);
        sh(&["ip", "-n", &n.cli, "link", "set", &n.cli_if, "up"]);
        n
    }

    fn down(&self) {
        for ns in [&self.srv, &self.cli] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.down();
    }
}

/// The server side: run inside the server namespace.
fn helper(iface: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let policy = BootPolicy::new(SERVER_IP, "http://10.231.0.1:8080");
        let pool = Pool::new(
            Ipv4Addr::new(10, 231, 0, 100),
            Ipv4Addr::new(10, 231, 0, 150),
            Ipv4Addr::new(255, 255, 255, 0),
        )
        .unwrap()
        .with_router(SERVER_IP);
        let server = DhcpServer::builder(policy)
            .listen("0.0.0.0:67".parse().unwrap())
            .interface(iface)
            .pool(pool)
            .bind()
            .await
            .unwrap();
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
    require("ip", "iproute2");
    require("busybox", "busybox");
    assert_eq!(
        Command::new("id").arg("-u").output().unwrap().stdout,
        b"0\n",
        "the namespace test needs root (it creates network namespaces)"
    );
    let ns = Netns::up();
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.srv])
        .arg(&exe)
        .env("PXE_NETNS_HELPER", &ns.srv_if)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _server = Server(child);
    assert_eq!(line.trim(), "ready");

    let dir = tempfile::tempdir().unwrap();
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
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let tests: &[(&str, fn())] = &[
        (
            "udhcpc_gets_addresses_and_boot_files",
            udhcpc_gets_addresses_and_boot_files,
        ),
        ("boot_server_4011_on_loopback", boot_server_4011_on_loopback),
    ];
    let mut failed = 0;
    for (name, f) in tests {
        if !filter.is_empty() && !filter.iter().any(|x| name.contains(x.as_str())) {
            continue;
        }
        match std::panic::catch_unwind(f) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!(
        "test result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        tests.len() - failed
    );
    if failed > 0 {
        std::process::exit(101);
    }
}
