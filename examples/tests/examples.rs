//! The example programs as a user runs them: the binaries `cargo test` builds (in
//! `target/*/examples/`), run with the command lines the README shows, against bmc-sim and
//! the real tools (`openssl`, `qemu-img`, `curl`). The README's main job is the first test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// An example binary built next to this test (`cargo test` builds the examples).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let path = dir.join("examples").join(name);
    assert!(
        path.is_file(),
        "{} missing: run the tests through cargo test, which builds the examples",
        path.display()
    );
    path
}

fn require(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()));
    assert!(
        found,
        "peer missing: `{program}` (Debian package `{package}`); run scripts/test.sh"
    );
}

fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()))
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A background process, killed on drop.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start `program args`, and read its standard output until `until` returns something for a
/// line (within 30 s): what it returned, and the running process.
fn start<T>(
    program: &Path,
    args: &[&str],
    mut until: impl FnMut(&str) -> Option<T>,
) -> (T, Background, Vec<String>) {
    let mut child = Command::new(program)
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let bg = Background(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{} did not start: {seen:?}", program.display()));
        if let Some(t) = until(&line) {
            seen.push(line);
            // Keep draining its output, so that it never blocks on a full pipe.
            std::thread::spawn(move || while rx.recv().is_ok() {});
            return (t, bg, seen);
        }
        seen.push(line);
    }
}

/// The README's main job: `ipmi -H sim:N -U admin -P password power on` starts N virtual
/// nodes in the process (their BMCs take the given credentials) and powers each on through a
/// full RMCP+ session; an unknown power action fails every BMC and exits 1.
#[test]
fn ipmi_powers_on_simulated_nodes() {
    let ipmi = example("ipmi");
    let o = run(
        &ipmi,
        &[
            "-H", "sim:200", "-U", "admin", "-P", "password", "power", "on",
        ],
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 200, "{out}");
    assert!(
        lines
            .iter()
            .all(|l| l.ends_with(": Chassis Power Control: Up/On")),
        "{out}"
    );
    assert!(err.contains("200 BMCs, 200 ok, 0 failed"), "{err}");

    let o = run(
        &ipmi,
        &[
            "-H",
            "sim:3",
            "-U",
            "admin",
            "-P",
            "secret-pw",
            "power",
            "sideways",
        ],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(err.contains("3 BMCs, 0 ok, 3 failed"), "{err}");
    assert!(err.contains("power action"), "{err}");
    assert!(
        !format!("{out}{err}").contains("secret-pw"),
        "the password was printed"
    );
}

/// `redfish` against `bmc-sim --redfish --tls`: power and status with the CA bmc-sim wrote,
/// then with the certificate pinned by the fingerprint openssl prints; an unknown system
/// exits 1 naming the service's MessageId.
#[test]
fn redfish_against_bmc_sim_over_tls() {
    require("openssl", "openssl");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let (ca, _sim, _) = start(
        &example("bmc-sim"),
        &[
            "--redfish",
            &listen,
            "--tls",
            "--user",
            "admin",
            "--password",
            "password",
            "--count",
            "1",
        ],
        |l| l.strip_prefix("ca-cert ").map(str::to_string),
    );
    let url = format!("https://{listen}");
    let redfish = example("redfish");
    let cli = |tls: &[&str], cmd: &[&str]| {
        let mut args = vec!["--url", &url, "-u", "admin", "-p", "password"];
        args.extend_from_slice(tls);
        args.extend_from_slice(cmd);
        // bmc-sim may still be binding: retry a refused connection for a while.
        for _ in 0..50 {
            let o = run(&redfish, &args);
            if !text(&o).1.contains("onnection refused") {
                return o;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("bmc-sim never answered on {url}");
    };
    let with_ca = ["--ca-cert", ca.as_str()];
    let o = cli(&with_ca, &["power", "1", "on"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let o = cli(&with_ca, &["power", "1", "status"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.trim_end().ends_with(": On"), "{out}");

    // The leaf certificate the service presents, as openssl sees it, then its fingerprint.
    let pem = Command::new("openssl")
        .args(["s_client", "-connect", &listen])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let leaf = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(leaf.path(), &pem.stdout).unwrap();
    let fp = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(leaf.path())
        .output()
        .unwrap();
    let fp = String::from_utf8(fp.stdout).unwrap();
    assert!(fp.contains("Fingerprint="), "{fp}");
    let o = cli(&["--pin-sha256", fp.trim()], &["power", "1", "status"]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.trim_end().ends_with(": On"), "{out}");
    let other = "ab".repeat(32);
    let o = cli(&["--pin-sha256", &other], &["power", "1", "status"]);
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));

    let o = cli(&with_ca, &["power", "no-such-system", "status"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(err.contains("error:"), "{err}");
}

/// `write-image` from a qcow2 made by `qemu-img`, with the sha256 of the qcow2 and a
/// read-back: the target equals the raw image `qemu-img convert` makes; a wrong checksum
/// exits 1 saying so.
#[test]
fn write_image_from_qcow2() {
    require("qemu-img", "qemu-utils");
    require("sha256sum", "coreutils");
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("disk.raw");
    let mut bytes = vec![0u8; 8 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for (i, chunk) in bytes.chunks_mut(4096).enumerate() {
        if i % 3 == 0 {
            for b in chunk {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
        }
    }
    std::fs::write(&raw, &bytes).unwrap();
    let qcow2 = dir.path().join("disk.qcow2");
    let o = run(
        Path::new("qemu-img"),
        &[
            "convert",
            "-f",
            "raw",
            "-O",
            "qcow2",
            raw.to_str().unwrap(),
            qcow2.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let sum = text(&run(Path::new("sha256sum"), &[qcow2.to_str().unwrap()])).0;
    let sum = sum.split_whitespace().next().unwrap().to_string();

    let out = dir.path().join("out.img");
    let write_image = example("write-image");
    let o = run(
        &write_image,
        &[
            qcow2.to_str().unwrap(),
            out.to_str().unwrap(),
            "--checksum",
            &format!("sha256:{sum}"),
            "--verify",
        ],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(
        std::fs::read(&out).unwrap() == bytes,
        "the target differs from the raw image"
    );

    let wrong = format!("sha256:{}", "0".repeat(64));
    let o = run(
        &write_image,
        &[
            qcow2.to_str().unwrap(),
            out.to_str().unwrap(),
            "--checksum",
            &wrong,
        ],
    );
    let (o_out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{o_out}{err}");
    assert!(err.to_lowercase().contains("checksum"), "{err}");
}

/// `pxe-server --root DIR --tftp 127.0.0.1:0 --http 127.0.0.1:0` serves DIR to curl over
/// TFTP and HTTP (with a range), byte for byte.
#[test]
fn pxe_server_serves_tftp_and_http() {
    require("curl", "curl");
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(dir.path().join("ipxe.efi"), &data).unwrap();
    let addr_of = |line: &str, what: &str| {
        line.contains(what)
            .then(|| line.split("addr=").nth(1))
            .flatten()
            .and_then(|s| s.split_whitespace().next())
            .map(str::to_string)
    };
    let mut tftp = None;
    let (http, _server, _) = start(
        &example("pxe-server"),
        &[
            "--root",
            dir.path().to_str().unwrap(),
            "--tftp",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
        ],
        |l| {
            if let Some(a) = addr_of(l, "TFTP serving") {
                tftp = Some(a);
            }
            addr_of(l, "HTTP serving")
        },
    );
    let tftp = tftp.expect("the TFTP address is logged before the HTTP one");
    let curl = Path::new("curl");
    let got = dir.path().join("tftp.out");
    let o = run(
        curl,
        &[
            "-sS",
            "--tftp-blksize",
            "1468",
            "-o",
            got.to_str().unwrap(),
            &format!("tftp://{tftp}/ipxe.efi"),
        ],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(
        std::fs::read(&got).unwrap() == data,
        "TFTP download differs"
    );
    let o = run(curl, &["-sS", "-f", &format!("http://{http}/ipxe.efi")]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(o.stdout == data, "HTTP download differs");
    let o = run(
        curl,
        &[
            "-sS",
            "-f",
            "-r",
            "1000-1999",
            &format!("http://{http}/ipxe.efi"),
        ],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(o.stdout == data[1000..2000], "HTTP range differs");
}
