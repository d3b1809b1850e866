//! Real TFTP clients (curl, atftp, tftp-hpa, busybox) fetch files of 0 bytes, one block, exact
//! block multiples and over 65,535 blocks from our server on 127.0.0.1, byte for byte.
//! A missing client fails the test, naming its Debian package.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use common::{FILES, OurTftp, require, run, same, text, tree};

fn out_path(dir: &tempfile::TempDir, tag: &str) -> std::path::PathBuf {
    dir.path().join(tag)
}

#[test]
fn curl_fetches_every_file() {
    require("curl", "curl");
    let root = tree();
    let srv = OurTftp::start(root.path());
    let outdir = tempfile::tempdir().unwrap();
    for blksize in ["512", "1468", "8192", "65464"] {
        for (name, size) in FILES {
            if *size > 1_000_000 && blksize != "512" && blksize != "65464" {
                continue;
            }
            let out = out_path(&outdir, &format!("curl-{blksize}-{name}"));
            let url = format!("tftp://{}/{name}", srv.addr);
            let o = run(
                "curl",
                &[
                    "-sS",
                    "--tftp-blksize",
                    blksize,
                    "-o",
                    out.to_str().unwrap(),
                    &url,
                ],
            );
            assert!(o.status.success(), "curl {blksize} {name}: {}", text(&o));
            same(root.path(), name, &out, &format!("curl blksize {blksize}"));
        }
    }
    // A nested path, and errors that name no server path.
    let out = out_path(&outdir, "nested");
    let url = format!("tftp://{}/sub/nested.txt", srv.addr);
    let o = run("curl", &["-sS", "-o", out.to_str().unwrap(), &url]);
    assert!(o.status.success(), "{}", text(&o));
    same(root.path(), "sub/nested.txt", &out, "curl nested");
    let url = format!("tftp://{}/missing.bin", srv.addr);
    let o = run("curl", &["-sS", "-o", "/dev/null", &url]);
    assert!(!o.status.success());
    assert!(!text(&o).contains(root.path().to_str().unwrap()));
}

#[test]
fn atftp_fetches_with_options() {
    require("atftp", "atftp");
    let root = tree();
    let srv = OurTftp::start(root.path());
    let outdir = tempfile::tempdir().unwrap();
    let port = srv.addr.port().to_string();
    // (blksize, windowsize); atftp 0.8.0's own receiver breaks with windowsize x >= 8 KiB blocks
    // against every windowsize server (research notes 1.4), so large blocks go lock-step.
    let cases: &[(&str, Option<&str>)] = &[
        ("512", None),
        ("512", Some("8")),
        ("1468", None),
        ("1468", Some("4")),
        ("1468", Some("16")),
        ("8192", None),
        ("65464", None),
    ];
    for (blksize, ws) in cases {
        for (name, size) in FILES {
            if *size > 1_000_000 && *blksize != "512" {
                continue;
            }
            let tag = format!("atftp-{blksize}-{}-{name}", ws.unwrap_or("1"));
            let out = out_path(&outdir, &tag);
            let mut args = vec![
                "--option".to_string(),
                format!("blksize {blksize}"),
                "--option".to_string(),
                "tsize enable".to_string(),
                "--option".to_string(),
                "timeout 2".to_string(),
            ];
            if let Some(w) = ws {
                args.push("--option".into());
                args.push(format!("windowsize {w}"));
            }
            // The trace shows the OACK (one line per packet: small files only).
            let traced = *size < 1_000_000;
            if traced {
                args.push("--trace".into());
            }
            args.extend(
                [
                    "-g",
                    "-r",
                    name,
                    "-l",
                    out.to_str().unwrap(),
                    "127.0.0.1",
                    &port,
                ]
                .map(String::from),
            );
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let o = run("atftp", &argv);
            assert!(o.status.success(), "{tag}: {}", text(&o));
            same(root.path(), name, &out, &tag);
            if traced {
                // Every option asked is granted as asked; tsize only for a non-empty file.
                let t = text(&o);
                let oack = t
                    .lines()
                    .find(|l| l.starts_with("received OACK"))
                    .unwrap_or_else(|| panic!("{tag}: no OACK: {t}"));
                let mut want = vec![format!("blksize: {blksize},"), "timeout: 2,".into()];
                if *size > 0 {
                    want.push(format!("tsize: {size},"));
                }
                if let Some(w) = ws {
                    want.push(format!("windowsize: {w},"));
                }
                for w in want {
                    assert!(oack.contains(&w), "{tag}: {w} not in {oack}");
                }
            }
        }
    }
}

#[test]
fn tftp_hpa_fetches_every_file() {
    require("tftp", "tftp-hpa");
    let root = tree();
    let srv = OurTftp::start(root.path());
    let outdir = tempfile::tempdir().unwrap();
    let port = srv.addr.port().to_string();
    for (name, _) in FILES {
        let out = out_path(&outdir, &format!("hpa-{name}"));
        let get = format!("get {name} {}", out.display());
        let o = run(
            "tftp",
            &[
                "-m",
                "binary",
                "127.0.0.1",
                &port,
                "-c",
                "get",
                name,
                out.to_str().unwrap(),
            ],
        );
        let _ = get;
        assert!(o.status.success(), "tftp-hpa {name}: {}", text(&o));
        same(root.path(), name, &out, "tftp-hpa");
    }
}

#[test]
fn busybox_tftp_fetches_every_file() {
    require("busybox", "busybox");
    let root = tree();
    let srv = OurTftp::start(root.path());
    let outdir = tempfile::tempdir().unwrap();
    let port = srv.addr.port().to_string();
    for blksize in ["512", "1468", "8192", "65464"] {
        for (name, size) in FILES {
            if *size > 1_000_000 && (blksize == "1468" || blksize == "8192") {
                continue;
            }
            let out = out_path(&outdir, &format!("bb-{blksize}-{name}"));
            let o = run(
                "busybox",
                &[
                    "tftp",
                    "-g",
                    "-r",
                    name,
                    "-l",
                    out.to_str().unwrap(),
                    "-b",
                    blksize,
                    "127.0.0.1",
                    &port,
                ],
            );
            assert!(o.status.success(), "busybox {blksize} {name}: {}", text(&o));
            same(
                root.path(),
                name,
                &out,
                &format!("busybox blksize {blksize}"),
            );
        }
    }
}

/// Send a crafted datagram, return the reply and where it came from.
fn ask(server: SocketAddr, datagram: &[u8]) -> (Vec<u8>, SocketAddr) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.send_to(datagram, server).unwrap();
    let mut buf = vec![0u8; 70_000];
    let (n, from) = s.recv_from(&mut buf).expect("no reply");
    buf.truncate(n);
    (buf, from)
}

#[test]
fn conformance_of_crafted_requests() {
    let root = tree();
    let srv = OurTftp::start(root.path());
    let rrq = |name: &str, opts: &[(&str, &str)]| {
        let mut v = vec![0, 1];
        v.extend_from_slice(name.as_bytes());
        v.extend_from_slice(b"\0octet\0");
        for (n, val) in opts {
            v.extend_from_slice(n.as_bytes());
            v.push(0);
            v.extend_from_slice(val.as_bytes());
            v.push(0);
        }
        v
    };
    // Replies come from a new TID (port).
    let (r, from) = ask(
        srv.addr,
        &rrq("odd.bin", &[("blksize", "1468"), ("tsize", "0")]),
    );
    assert_ne!(from.port(), srv.addr.port());
    assert_eq!(r, b"\x00\x06blksize\x001468\x00tsize\x00100003\x00");
    // Illegal values: ERROR 8.
    for bad in [("blksize", "7"), ("blksize", "65465"), ("timeout", "0")] {
        let (r, _) = ask(srv.addr, &rrq("odd.bin", &[bad]));
        assert_eq!(&r[..4], &[0, 5, 0, 8], "{bad:?}");
    }
    // Only what was asked is echoed.
    let (r, _) = ask(srv.addr, &rrq("odd.bin", &[("windowsize", "16")]));
    assert_eq!(r, b"\x00\x06windowsize\x0016\x00");
    let (r, _) = ask(srv.addr, &rrq("odd.bin", &[]));
    assert_eq!(&r[..4], &[0, 3, 0, 1]);
    // windowsize x blksize is capped by the send buffer the kernel grants the transfer
    // socket (the server asks for 4 MiB; the kernel caps it at net.core.wmem_max, doubled).
    let probe = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    probe.set_send_buffer_size(4 << 20).unwrap();
    let granted = probe.send_buffer_size().unwrap();
    let want = (granted / (65_464 + 4)).clamp(1, 64);
    let (r, _) = ask(
        srv.addr,
        &rrq("odd.bin", &[("blksize", "65464"), ("windowsize", "64")]),
    );
    assert_eq!(
        r,
        format!("\0\x06blksize\065464\0windowsize\0{want}\0").as_bytes(),
        "send buffer granted: {granted}"
    );
    // Traversal and absolute paths: errors with no server path in them.
    let root_str = root.path().to_str().unwrap().as_bytes().to_vec();
    for name in [
        "../../../../etc/passwd",
        "/etc/passwd",
        "..\\..\\etc\\passwd",
        "sub",
    ] {
        let (r, _) = ask(srv.addr, &rrq(name, &[]));
        assert_eq!(r[..2], [0, 5], "{name}");
        assert!(r[4] != b'/' && !r.windows(root_str.len()).any(|w| w == root_str.as_slice()));
    }
    // Write requests, malformed and stray packets.
    let (r, _) = ask(srv.addr, b"\x00\x02x\x00octet\x00");
    assert_eq!(&r[..4], &[0, 5, 0, 2]);
    let (r, _) = ask(srv.addr, b"\x00\x01");
    assert_eq!(&r[..4], &[0, 5, 0, 4]);
    let (r, _) = ask(srv.addr, b"\x00\x01f\x00mail\x00");
    assert_eq!(&r[..4], &[0, 5, 0, 4]);
    let (r, _) = ask(srv.addr, b"\x00\x04\x00\x01");
    assert_eq!(&r[..4], &[0, 5, 0, 5]);
}

#[test]
fn edk2_probe_then_reread() {
    let root = tree();
    let srv = OurTftp::start(root.path());
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let probe = b"\x00\x01odd.bin\x00octet\x00tsize\x000\x00blksize\x001468\x00windowsize\x004\x00";
    s.send_to(probe, srv.addr).unwrap();
    let mut buf = vec![0u8; 70_000];
    let (n, tid) = s.recv_from(&mut buf).unwrap();
    assert_eq!(
        &buf[..n],
        b"\x00\x06tsize\x00100003\x00blksize\x001468\x00windowsize\x004\x00"
    );
    s.send_to(b"\x00\x05\x00\x08User aborted the transfer\x00", tid)
        .unwrap();
    // EDK2 asks again at once, from the same port: a new transfer, not a duplicate.
    s.send_to(b"\x00\x01odd.bin\x00octet\x00blksize\x001468\x00", srv.addr)
        .unwrap();
    let (n, tid2) = s.recv_from(&mut buf).unwrap();
    assert_ne!(tid2, tid);
    assert_eq!(&buf[..n], b"\x00\x06blksize\x001468\x00");
    s.send_to(b"\x00\x05\x00\x08done\x00", tid2).unwrap();
    // The immediate re-request is served in full, windowed.
    let got = rfc7440_get(srv.addr, "odd.bin", 1468, 4);
    assert_eq!(got, std::fs::read(root.path().join("odd.bin")).unwrap());
}

/// A correct RFC 7440 receiver with a large socket buffer.
fn rfc7440_get(server: SocketAddr, name: &str, blksize: usize, window: u16) -> Vec<u8> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    s.set_recv_buffer_size(8 << 20).unwrap();
    s.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    let s: UdpSocket = s.into();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let rrq = format!("\0\x01{name}\0octet\0blksize\0{blksize}\0windowsize\0{window}\0");
    s.send_to(rrq.as_bytes(), server).unwrap();
    let mut buf = vec![0u8; 70_000];
    let mut peer = None;
    let mut got = Vec::new();
    let mut expected: u16 = 1;
    let mut in_window = 0u16;
    let mut win = 1u16;
    let mut bs = 512usize;
    let mut timeouts = 0;
    loop {
        let (n, from) = match s.recv_from(&mut buf) {
            Ok(x) => x,
            Err(_) => {
                timeouts += 1;
                assert!(timeouts < 20, "transfer stalled");
                if let Some(p) = peer {
                    s.send_to(
                        &[
                            0,
                            4,
                            (expected.wrapping_sub(1) >> 8) as u8,
                            expected.wrapping_sub(1) as u8,
                        ],
                        p,
                    )
                    .unwrap();
                }
                continue;
            }
        };
        let p = *peer.get_or_insert(from);
        let d = &buf[..n];
        match u16::from_be_bytes([d[0], d[1]]) {
            6 => {
                let parts: Vec<&[u8]> = d[2..].split(|b| *b == 0).collect();
                for kv in parts.chunks(2) {
                    if kv.len() == 2 {
                        let v: usize = std::str::from_utf8(kv[1])
                            .unwrap_or("0")
                            .parse()
                            .unwrap_or(0);
                        match kv[0] {
                            b"blksize" => bs = v,
                            b"windowsize" => win = v as u16,
                            _ => {}
                        }
                    }
                }
                s.send_to(&[0, 4, 0, 0], p).unwrap();
            }
            3 => {
                let block = u16::from_be_bytes([d[2], d[3]]);
                if block == expected {
                    got.extend_from_slice(&d[4..]);
                    in_window += 1;
                    let last = n - 4 < bs;
                    if last || in_window >= win {
                        s.send_to(&[0, 4, d[2], d[3]], p).unwrap();
                        in_window = 0;
                    }
                    expected = expected.wrapping_add(1);
                    if last {
                        return got;
                    }
                } else if block.wrapping_sub(expected) < 0x8000 {
                    let b = expected.wrapping_sub(1);
                    s.send_to(&[0, 4, (b >> 8) as u8, b as u8], p).unwrap();
                    in_window = 0;
                }
            }
            5 => panic!("server error: {:?}", String::from_utf8_lossy(d)),
            _ => {}
        }
    }
}

#[test]
fn windowed_large_blocks_with_a_correct_receiver() {
    let root = tree();
    let srv = OurTftp::start(root.path());
    for (blksize, ws) in [(65464, 16), (8192, 16), (1468, 64), (512, 4)] {
        let got = rfc7440_get(srv.addr, "rollover.bin", blksize, ws);
        assert!(
            got == std::fs::read(root.path().join("rollover.bin")).unwrap(),
            "blksize {blksize} ws {ws}"
        );
    }
}

#[test]
fn per_client_limit_refuses_the_excess() {
    let root = tree();
    let srv = OurTftp::start_with(root.path(), Default::default(), 2);
    // Two transfers left hanging (never ACKed) hold the client's slots.
    let hold: Vec<UdpSocket> = (0..2)
        .map(|_| {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.send_to(b"\x00\x01odd.bin\x00octet\x00", srv.addr)
                .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let (r, _) = ask(srv.addr, b"\x00\x01odd.bin\x00octet\x00");
    assert_eq!(&r[..4], &[0, 5, 0, 0], "{:?}", String::from_utf8_lossy(&r));
    assert!(String::from_utf8_lossy(&r).contains("busy"));
    drop(hold);
}

#[test]
fn task_driver_serves_the_same_bytes() {
    require("curl", "curl");
    let root = tree();
    let srv = OurTftp::start_driver(
        root.path(),
        Default::default(),
        16,
        pxe::tftp::server::Driver::Task,
    );
    let outdir = tempfile::tempdir().unwrap();
    for (name, _) in FILES {
        let out = out_path(&outdir, &format!("task-{name}"));
        let url = format!("tftp://{}/{name}", srv.addr);
        let o = run(
            "curl",
            &[
                "-sS",
                "--tftp-blksize",
                "1468",
                "-o",
                out.to_str().unwrap(),
                &url,
            ],
        );
        assert!(o.status.success(), "curl {name}: {}", text(&o));
        same(root.path(), name, &out, "task driver, curl 1468");
    }
    let got = rfc7440_get(srv.addr, "rollover.bin", 8192, 16);
    assert!(got == std::fs::read(root.path().join("rollover.bin")).unwrap());
}

#[test]
fn retransmitted_request_starts_one_transfer() {
    let root = tree();
    let srv = OurTftp::start(root.path());
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(600)))
        .unwrap();
    let rrq = b"\x00\x01odd.bin\x00octet\x00blksize\x001468\x00";
    s.send_to(rrq, srv.addr).unwrap();
    s.send_to(rrq, srv.addr).unwrap();
    let mut buf = [0u8; 2048];
    let mut tids = std::collections::HashSet::new();
    while let Ok((_, from)) = s.recv_from(&mut buf) {
        tids.insert(from);
    }
    assert_eq!(tids.len(), 1, "{tids:?}");
}

/// Set in the copy of this test binary that serves TFTP inside the server namespace of
/// [`blksize_capped_by_the_path_mtu`]: the directory to serve.
const MTU_HELPER: &str = "PXE_TFTP_MTU_HELPER";

/// Two network namespaces joined by a veth pair (server 10.233.0.1 and fd00:233::1, client
/// 10.233.0.2 and fd00:233::2: private addresses inside namespaces made here), removed on
/// drop.
struct VethPair {
    srv: String,
    cli: String,
    srv_if: String,
    cli_if: String,
}

impl VethPair {
    fn up() -> Self {
        let id = std::process::id() % 100_000;
        let p = VethPair {
            srv: format!("pxm-{id}-s"),
            cli: format!("pxm-{id}-c"),
            srv_if: format!("pms{id}"),
            cli_if: format!("pmc{id}"),
        };
        p.down();
        let ip = |args: &[&str]| {
            let o = run("ip", args);
            assert!(o.status.success(), "ip {args:?}: {}", text(&o));
        };
        ip(&["netns", "add", &p.srv]);
        ip(&["netns", "add", &p.cli]);
        ip(&[
            "link", "add", &p.srv_if, "netns", &p.srv, "type", "veth", "peer", "name", &p.cli_if,
            "netns", &p.cli,
        ]);
        for (ns, dev, addr, addr6) in [
            (&p.srv, &p.srv_if, "10.233.0.1/24", "fd00:233::1/64"),
            (&p.cli, &p.cli_if, "10.233.0.2/24", "fd00:233::2/64"),
        ] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "addr", "add", addr, "dev", dev]);
            // nodad: usable at once, without duplicate address detection's wait.
            ip(&["-n", ns, "addr", "add", addr6, "dev", dev, "nodad"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        p
    }

    /// Set the MTU of both ends.
    fn mtu(&self, mtu: u32) {
        let mtu = mtu.to_string();
        for (ns, dev) in [(&self.srv, &self.srv_if), (&self.cli, &self.cli_if)] {
            let o = run("ip", &["-n", ns, "link", "set", dev, "mtu", &mtu]);
            assert!(o.status.success(), "{}", text(&o));
        }
    }

    fn down(&self) {
        for ns in [&self.srv, &self.cli] {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", ns])
                .output();
        }
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        self.down();
    }
}

/// The server copy of the test: our TFTP server in the server namespace, with no
/// configured block size cap (65464), until killed: on 0.0.0.0:69 (IPv4 only) and on
/// [::]:6969 (dual stack: IPv6, and IPv4 as mapped addresses).
fn serve_for_mtu_test(root: &std::ffi::OsStr) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let src = std::sync::Arc::new(pxe::tftp::source::DirSource::new(root).unwrap());
        let v4 = pxe::tftp::server::TftpServer::builder(src.clone())
            .listen("0.0.0.0:69".parse().unwrap())
            .bind()
            .await
            .unwrap();
        let dual = pxe::tftp::server::TftpServer::builder(src)
            .listen("[::]:6969".parse().unwrap())
            .bind()
            .await
            .unwrap();
        println!(
            "ready {} {}",
            v4.local_addr().unwrap(),
            dual.local_addr().unwrap()
        );
        let _ = tokio::join!(v4.run(), dual.run());
    });
}

/// The block size is capped by the path MTU towards the client, found from the interface
/// the request came in on: over a veth with MTU 1500, atftp and curl ask for 65464 and get
/// at most 1468 (1500 - 32), byte-identical; with MTU 9000 the cap follows (8968). Over
/// IPv6 the headers take 20 bytes more: 1448 and 8948. An IPv4 client of a dual-stack
/// socket (a mapped address) gets the IPv4 figure. On loopback (MTU 65536) the other tests
/// get 65464. Runs in two namespaces created here.
#[test]
fn blksize_capped_by_the_path_mtu() {
    if let Some(root) = std::env::var_os(MTU_HELPER) {
        serve_for_mtu_test(&root);
        return;
    }
    require("ip", "iproute2");
    require("atftp", "atftp");
    require("curl", "curl");
    assert_eq!(
        run("id", &["-u"]).stdout,
        b"0\n",
        "the path-MTU test needs root (it creates network namespaces and a veth pair)"
    );
    let root = tree();
    let net = VethPair::up();
    net.mtu(1500);
    let exe = std::env::current_exe().unwrap();
    let mut child = std::process::Command::new("ip")
        .args(["netns", "exec", &net.srv])
        .arg(&exe)
        .args(["--exact", "blksize_capped_by_the_path_mtu", "--nocapture"])
        .env(MTU_HELPER, root.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let _server = Kill(child);
    assert!(
        lines.any(|l| l.is_ok_and(|l| l.starts_with("ready"))),
        "the server in the namespace did not start"
    );
    let outdir = tempfile::tempdir().unwrap();
    // (MTU, server host, port, URL host, block size wanted)
    let cases = [
        (1500u32, "10.233.0.1", "69", "10.233.0.1", 1468usize),
        (1500, "fd00:233::1", "6969", "[fd00:233::1]", 1448),
        (1500, "10.233.0.1", "6969", "10.233.0.1", 1468),
        (9000, "10.233.0.1", "69", "10.233.0.1", 8968),
        (9000, "fd00:233::1", "6969", "[fd00:233::1]", 8948),
        (9000, "10.233.0.1", "6969", "10.233.0.1", 8968),
    ];
    for (mtu, host, port, url_host, want) in cases {
        net.mtu(mtu);
        let case = format!("MTU {mtu}, {host} port {port}");
        // atftp asks for 65464 and shows the OACK and each DATA size (--trace).
        let out = out_path(&outdir, &format!("atftp-{mtu}-{port}-{want}"));
        let o = run(
            "ip",
            &[
                "netns",
                "exec",
                &net.cli,
                "atftp",
                "--trace",
                "--option",
                "blksize 65464",
                "--option",
                "tsize enable",
                "-g",
                "-r",
                "odd.bin",
                "-l",
                out.to_str().unwrap(),
                host,
                port,
            ],
        );
        let t = text(&o);
        assert!(o.status.success(), "atftp, {case}: {t}");
        assert!(
            t.contains(&format!("received OACK <tsize: 100003, blksize: {want},")),
            "{case}: the OACK does not grant {want}: {t}"
        );
        assert!(
            t.contains(&format!("DATA <block: 1, size {want}>")),
            "{case}: {t}"
        );
        same(root.path(), "odd.bin", &out, &format!("atftp, {case}"));
        // curl too (it would fail on a block larger than it can take).
        let out = out_path(&outdir, &format!("curl-{mtu}-{port}-{want}"));
        let o = run(
            "ip",
            &[
                "netns",
                "exec",
                &net.cli,
                "curl",
                "-sS",
                "--tftp-blksize",
                "65464",
                "-o",
                out.to_str().unwrap(),
                &format!("tftp://{url_host}:{port}/odd.bin"),
            ],
        );
        assert!(o.status.success(), "curl, {case}: {}", text(&o));
        same(root.path(), "odd.bin", &out, &format!("curl, {case}"));
    }
}
