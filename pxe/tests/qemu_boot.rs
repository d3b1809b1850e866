//! Real firmware network-boots from our servers only: QEMU under TCG (KVM stalls iPXE on
//! these hosts) with a tap device in a client network namespace, bridged to a veth whose other
//! end is in a server namespace where this binary re-runs itself as our DHCP + TFTP + HTTP
//! server. Both namespaces are created here (as root) and removed afterwards; no traffic
//! leaves them.
//!
//! Cases: SeaBIOS + iPXE ROM; OVMF + iPXE EFI ROM; OVMF's own EDK2 PXE client (no option
//! ROM) chainloading `ipxe.efi` over our TFTP; OVMF's own UEFI HTTP boot client (HttpBootDxe,
//! its PXE turned off through fw_cfg so that it goes straight to HTTP) taking `ipxe.efi` from
//! our HTTP server (the DHCP policy answers `HTTPClient` with a URL and option 60 echoed; the
//! firmware sends `HEAD` first, then `GET`). Success: the firmware's iPXE ran our
//! `boot.ipxe` (served by our HTTP server) which fetched `stage2.ipxe?mac=<its MAC>` from
//! our HTTP server; the handler reports each hit on stdout. Each boot is bounded (QEMU is
//! killed on success or after a timeout).
//!
//! `PXE_QEMU_CASES=bios,uefi-ipxe,uefi-native,uefi-http` picks cases (default: all four);
//! `PXE_QEMU_KEEP=1` keeps the serial and server logs.
//! This test binary has its own `main` (`harness = false`).

mod common;

use common::{require, sh};
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pxe::dhcp::server::{DhcpServer, Pool};
use pxe::dhcp::{BootBackend, BootPolicy, BootSpec, ClientInfo};
use pxe::http::server::HttpServer;
use pxe::http::{Files, FnHandler, Handler, Request, Response, Router};
use pxe::tftp::server::TftpServer;
use pxe::tftp::source::{DirSource, MemorySource};

const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 232, 0, 1);
const BOOT_TIMEOUT: Duration = Duration::from_secs(150);
/// The MAC of the UEFI HTTP boot case: its boot file is a URL under `/httpboot/`, which no
/// other case is given, so a hit there is its HTTP boot and nothing else.
const HTTP_BOOT_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x99, 0x00, 0x04];

/// Every node netboots with the policy's defaults, except the HTTP boot case, whose boot file
/// is `http://SERVER/httpboot/ipxe.efi`.
struct Backend;
impl BootBackend for Backend {
    fn lookup(&self, mac: [u8; 6], _info: &ClientInfo) -> Option<BootSpec> {
        let spec = BootSpec::allowed();
        Some(if mac == HTTP_BOOT_MAC {
            spec.with_boot_file(format!("http://{SERVER_IP}:8080/httpboot/ipxe.efi"))
        } else {
            spec
        })
    }
}

fn require_file(path: &str, package: &str) {
    assert!(
        Path::new(path).exists(),
        "peer missing: `{path}` (Debian package `{package}`); run scripts/test.sh, which installs the test peers"
    );
}

/// Server namespace (veth end with the server address) and client namespace (bridge of the
/// other veth end and a tap for QEMU), removed on drop.
struct Netns {
    srv: String,
    cli: String,
    srv_if: String,
    tap: String,
}

impl Netns {
    fn up() -> Self {
        let id = std::process::id() % 100_000;
        let n = Netns {
            srv: format!("pxq-{id}-s"),
            cli: format!("pxq-{id}-c"),
            srv_if: format!("pqs{id}"),
            tap: format!("pqt{id}"),
        };
        let cli_if = format!("pqc{id}");
        let br = format!("pqb{id}");
        n.down();
        sh(&["ip", "netns", "add", &n.srv]);
        sh(&["ip", "netns", "add", &n.cli]);
        sh(&["ip", "-n", &n.srv, "link", "set", "lo", "up"]);
        sh(&["ip", "-n", &n.cli, "link", "set", "lo", "up"]);
        sh(&[
            "ip", "link", "add", &n.srv_if, "netns", &n.srv, "type", "veth", "peer", "name",
            &cli_if, "netns", &n.cli,
        ]);
        sh(&[
            "ip",
            "-n",
            &n.srv,
            "addr",
            "add",
            "10.232.0.1/16",
            "dev",
            &n.srv_if,
        ]);
        sh(&["ip", "-n", &n.srv, "link", "set", &n.srv_if, "up"]);
        sh(&["ip", "-n", &n.cli, "link", "add", &br, "type", "bridge"]);
        let _ = Command::new("ip")
            .args([
                "-n",
                &n.cli,
                "link",
                "set",
                &br,
                "type",
                "bridge",
                "forward_delay",
                "0",
                "stp_state",
                "0",
            ])
            .output();
        sh(&["ip", "-n", &n.cli, "link", "set", &cli_if, "master", &br]);
        sh(&[
            "ip", "-n", &n.cli, "tuntap", "add", "dev", &n.tap, "mode", "tap",
        ]);
        sh(&["ip", "-n", &n.cli, "link", "set", &n.tap, "master", &br]);
        for dev in [&cli_if, &n.tap, &br] {
            sh(&["ip", "-n", &n.cli, "link", "set", dev, "up"]);
        }
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

/// The server side, inside the server namespace: full DHCP, TFTP (the iPXE binaries), HTTP
/// (`boot.ipxe` chaining to a per-node `stage2.ipxe`, whose hits are printed on stdout).
fn helper(iface: &str, root: &str) {
    tracing_subscriber::fmt()
        .with_env_filter("info")
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let http_base = format!("http://{SERVER_IP}:8080");
        let policy = BootPolicy::new(SERVER_IP, http_base.clone());
        let pool = Pool::new(
            Ipv4Addr::new(10, 232, 1, 1),
            Ipv4Addr::new(10, 232, 1, 254),
            Ipv4Addr::new(255, 255, 0, 0),
        )
        .unwrap();
        // EDK2 takes an offer with option 60 `PXEClient` and no boot menu as a "BINL" offer
        // and asks the boot server on port 4011 for the file: serve it (same policy).
        let dhcp = DhcpServer::builder(policy)
            .listen("0.0.0.0:67".parse().unwrap())
            .boot_server("0.0.0.0:4011".parse().unwrap())
            .interface(iface)
            .backend(Arc::new(Backend))
            .pool(pool)
            .bind()
            .await
            .unwrap();
        let tftp = TftpServer::builder(Arc::new(DirSource::new(root).unwrap()))
            .listen("0.0.0.0:69".parse().unwrap())
            .bind()
            .await
            .unwrap();
        let out = Arc::new(Mutex::new(std::io::stdout()));
        let out2 = out.clone();
        let files = Files(DirSource::new(root).unwrap());
        let router = Router::new()
            // UEFI HTTP boot: each request (HEAD, GET) is reported, then served from the root.
            .route(
                "/httpboot/",
                FnHandler::new(move |r: &Request| {
                    use std::io::Write;
                    let mut o = out2.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = writeln!(o, "HTTPBOOT {:?} {}", r.method, r.path);
                    let _ = o.flush();
                    files.handle(r)
                }),
            )
            .route(
                "/boot.ipxe",
                FnHandler::new(move |_r: &Request| {
                    Ok(Response::script(format!(
                        "#!ipxe\necho PXE-STAGE1 platform=${{platform}} arch=${{buildarch}}\n\
                         chain {http_base}/stage2.ipxe?mac=${{net0/mac}}&platform=${{platform}} || shell\n"
                    )))
                }),
            )
            .route(
                "/stage2.ipxe",
                FnHandler::new(move |r: &Request| {
                    use std::io::Write;
                    let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
                    let _ = writeln!(
                        o,
                        "STAGE2 mac={} platform={}",
                        r.query_param("mac").unwrap_or_default(),
                        r.query_param("platform").unwrap_or_default()
                    );
                    let _ = o.flush();
                    Ok(Response::script("#!ipxe\necho PXE-STAGE2-OK\nsleep 30\n"))
                }),
            )
            // No binaries over HTTP elsewhere: the EDK2 PXE case must boot by PXE + TFTP,
            // not fall back to UEFI HTTP boot (its default URL, `/ipxe.efi`, is not served).
            .route("/", Files(MemorySource::new()));
        let http = HttpServer::builder(router)
            .listen(format!("{SERVER_IP}:8080").parse().unwrap())
            .bind()
            .await
            .unwrap();
        println!("ready");
        let (a, b, c) = (dhcp.spawn(), tftp.spawn(), http.spawn());
        let _ = tokio::time::timeout(Duration::from_secs(900), async {
            let _ = tokio::join!(a, b, c);
        })
        .await;
    });
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Case {
    name: &'static str,
    mac: &'static str,
    args: Vec<String>,
    /// Lines the server must have reported before the second stage (besides it).
    needs: &'static [&'static str],
}

fn cases(work: &Path) -> Vec<Case> {
    let ovmf = |tag: &str| -> Vec<String> {
        let vars = work.join(format!("vars-{tag}.fd"));
        std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars).unwrap();
        vec![
            "-machine".into(),
            "q35".into(),
            "-drive".into(),
            "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd".into(),
            "-drive".into(),
            format!("if=pflash,format=raw,file={}", vars.display()),
        ]
    };
    let mut bios = vec!["-machine".into(), "pc".into(), "-boot".into(), "n".into()];
    bios.extend([
        "-device".into(),
        "e1000,netdev=n0,mac=52:54:00:99:00:01,bootindex=1".into(),
    ]);
    let mut uefi_ipxe = ovmf("ipxe");
    uefi_ipxe.extend([
        "-device".into(),
        "e1000,netdev=n0,mac=52:54:00:99:00:02,bootindex=1".into(),
    ]);
    let mut uefi_native = ovmf("native");
    uefi_native.extend([
        "-device".into(),
        "virtio-net-pci,netdev=n0,mac=52:54:00:99:00:03,bootindex=1,romfile=".into(),
    ]);
    // OVMF's HTTP boot client: no option ROM, PXE (v4 and v6) and IPv6 turned off through
    // fw_cfg, so its only network boot option is UEFI HTTPv4 (otherwise it first spends about
    // two minutes on PXEv4 and PXEv6).
    let mut uefi_http = ovmf("http");
    uefi_http.extend([
        "-device".into(),
        "virtio-net-pci,netdev=n0,mac=52:54:00:99:00:04,bootindex=1,romfile=".into(),
    ]);
    for knob in ["IPv4PXESupport", "IPv6PXESupport", "IPv6Support"] {
        uefi_http.extend([
            "-fw_cfg".into(),
            format!("name=opt/org.tianocore/{knob},string=no"),
        ]);
    }
    vec![
        Case {
            name: "bios",
            mac: "52:54:00:99:00:01",
            args: bios,
            needs: &[],
        },
        Case {
            name: "uefi-ipxe",
            mac: "52:54:00:99:00:02",
            args: uefi_ipxe,
            needs: &[],
        },
        Case {
            name: "uefi-native",
            mac: "52:54:00:99:00:03",
            args: uefi_native,
            needs: &[],
        },
        Case {
            name: "uefi-http",
            mac: "52:54:00:99:00:04",
            args: uefi_http,
            needs: &[
                "HTTPBOOT Head /httpboot/ipxe.efi",
                "HTTPBOOT Get /httpboot/ipxe.efi",
            ],
        },
    ]
}

fn firmware_boots_from_our_servers() {
    require("ip", "iproute2");
    require("qemu-system-x86_64", "qemu-system-x86");
    require_file("/usr/lib/ipxe/qemu/pxe-e1000.rom", "ipxe-qemu");
    require_file("/usr/lib/ipxe/qemu/efi-e1000.rom", "ipxe-qemu");
    require_file("/usr/lib/ipxe/ipxe.efi", "ipxe");
    require_file("/usr/lib/ipxe/undionly.kpxe", "ipxe");
    require_file("/usr/share/OVMF/OVMF_CODE_4M.fd", "ovmf");
    assert_eq!(
        Command::new("id").arg("-u").output().unwrap().stdout,
        b"0\n",
        "the QEMU boot test needs root (it creates network namespaces and a tap device)"
    );
    let want: Vec<String> = std::env::var("PXE_QEMU_CASES")
        .unwrap_or_else(|_| "bios,uefi-ipxe,uefi-native,uefi-http".into())
        .split(',')
        .map(str::to_string)
        .collect();

    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().to_path_buf();
    // PXE_QEMU_KEEP=1 keeps the work directory (serial logs, server log) for inspection.
    let _guard = if std::env::var_os("PXE_QEMU_KEEP").is_some() {
        eprintln!("work directory kept: {}", tmp.keep().display());
        None
    } else {
        Some(tmp)
    };
    let root = work.join("root");
    std::fs::create_dir_all(root.join("httpboot")).unwrap();
    for f in ["undionly.kpxe", "ipxe.efi", "snponly.efi"] {
        std::fs::copy(Path::new("/usr/lib/ipxe").join(f), root.join(f)).unwrap();
    }
    std::fs::copy("/usr/lib/ipxe/ipxe.efi", root.join("httpboot/ipxe.efi")).unwrap();
    let ns = Netns::up();
    let exe = std::env::current_exe().unwrap();
    let log = std::fs::File::create(work.as_path().join("server.log")).unwrap();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.srv])
        .arg(&exe)
        .env("PXE_QEMU_HELPER", &ns.srv_if)
        .env("PXE_QEMU_ROOT", &root)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Killed(child);
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(20)).as_deref(),
        Ok("ready")
    );

    let mut failures = Vec::new();
    for case in cases(work.as_path()) {
        if !want.iter().any(|w| w == case.name) {
            continue;
        }
        let serial: PathBuf = work.as_path().join(format!("serial-{}.log", case.name));
        let mut args: Vec<String> = vec![
            "netns".into(),
            "exec".into(),
            ns.cli.clone(),
            "qemu-system-x86_64".into(),
            "-m".into(),
            "256".into(),
            "-accel".into(),
            "tcg".into(),
            "-display".into(),
            "none".into(),
            "-monitor".into(),
            "none".into(),
            "-serial".into(),
            format!("file:{}", serial.display()),
            "-no-reboot".into(),
            "-netdev".into(),
            format!("tap,id=n0,ifname={},script=no,downscript=no", ns.tap),
        ];
        args.extend(case.args.iter().cloned());
        let t0 = Instant::now();
        let qemu = Command::new("ip")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut qemu = Killed(qemu);
        let mut hit = None;
        let mut seen: Vec<String> = Vec::new();
        while t0.elapsed() < BOOT_TIMEOUT {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(line) if line.starts_with("STAGE2 ") => {
                    if line.contains(&format!("mac={}", case.mac)) {
                        hit = Some(line);
                        break;
                    }
                }
                Ok(line) if line.starts_with("HTTPBOOT ") => {
                    if !seen.contains(&line) {
                        println!(
                            "qemu {}: {line} after {:.1} s",
                            case.name,
                            t0.elapsed().as_secs_f64()
                        );
                        seen.push(line);
                    }
                }
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if let Ok(Some(status)) = qemu.0.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = qemu.0.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                eprintln!("{}: QEMU exited early ({status}): {err}", case.name);
                break;
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        drop(qemu);
        let missing: Vec<&str> = case
            .needs
            .iter()
            .copied()
            .filter(|n| !seen.iter().any(|s| s == n))
            .collect();
        if hit.is_some() && !missing.is_empty() {
            eprintln!(
                "{}: second stage reached without {missing:?} (seen: {seen:?})",
                case.name
            );
            failures.push(case.name);
            continue;
        }
        match hit {
            Some(line) => println!(
                "qemu {}: stage2 fetched from our HTTP server after {secs:.1} s ({line})",
                case.name
            ),
            None => {
                let serial = std::fs::read(&serial).unwrap_or_default();
                let serial = String::from_utf8_lossy(&serial);
                let tail: Vec<&str> = serial.lines().rev().take(25).collect();
                let server =
                    std::fs::read_to_string(work.as_path().join("server.log")).unwrap_or_default();
                let stail: Vec<&str> = server.lines().rev().take(25).collect();
                eprintln!(
                    "{}: no stage2 within {secs:.0} s\n--- serial (last lines, newest first):\n{}\n--- server log (newest first):\n{}",
                    case.name,
                    tail.join("\n"),
                    stail.join("\n")
                );
                failures.push(case.name);
            }
        }
    }
    assert!(failures.is_empty(), "firmware boots failed: {failures:?}");
}

fn main() {
    if let Some(iface) = std::env::var_os("PXE_QEMU_HELPER") {
        let root = std::env::var("PXE_QEMU_ROOT").unwrap();
        helper(&iface.to_string_lossy(), &root);
        return;
    }
    let tests: &[(&str, fn())] = &[(
        "firmware_boots_from_our_servers",
        firmware_boots_from_our_servers,
    )];
    common::run_tests(tests);
}
