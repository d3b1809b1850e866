//! Interop with a real peer we did not write: OpenStack's `sushy-emulator` (pip `sushy-tools`)
//! with its fake driver on 127.0.0.1, once over plain HTTP without auth and once over TLS (a
//! CA and server certificate made here with `openssl`, the CA given to the client, or the
//! server's certificate pinned by its SHA-256 fingerprint) with HTTP basic auth. Every change made through `redfish-client` is read back independently with
//! `curl`.
//!
//! The peer lives in `.venv-peers/` at the repository root (`scripts/peers/sushy.sh` makes it;
//! `scripts/install-peers.sh` calls that). A missing peer fails the test with that hint.
//!
//! Harness shims, written into the launcher below and nothing else: the fake driver's random
//! 1–11 s power delay is pinned to 1 s, and the fake driver (which has no BIOS) gets an
//! in-memory BIOS (attributes kept in its state) so that sushy's own BIOS and BIOS/Settings
//! HTTP handlers can be exercised.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redfish_client::model::{BootMode, BootSource, ComputerSystem, PowerState, ResetType};
use redfish_client::ops::{BootOverride, InsertMedia};
use redfish_client::{Client, Error};
use serde_json::{Value, json};

const NODE0: &str = "/redfish/v1/Systems/27946b59-9e44-4fa7-8e91-f3527a1e0000";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn need(prog: &str, hint: &str) {
    let ok = Command::new(prog)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
        || Command::new(prog)
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
    assert!(ok, "`{prog}` is missing: {hint}");
}

fn peer_python() -> PathBuf {
    let py = repo_root().join(".venv-peers/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import sushy_tools.emulator.main, bcrypt"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "sushy-emulator is missing: run scripts/peers/sushy.sh (or scripts/install-peers.sh) to pip-install \
         sushy-tools into {}/.venv-peers",
        repo_root().display()
    );
    need("curl", "install curl (Debian: apt-get install curl)");
    py
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const LAUNCHER: &str = r#"
import sys, types
from sushy_tools.emulator.resources.systems import fakedriver
# Pin the fake driver's power delay (upstream: random 1-11 s).
fakedriver.random = types.SimpleNamespace(randint=lambda a, b: 1)
# The fake driver has no BIOS: keep one in its state so sushy's BIOS handlers work.
DEFAULT_BIOS = {"BootMode": "Uefi", "ProcTurboMode": "Enabled", "EmbeddedSata": "Raid", "NicBoot1": "NetworkBoot"}
def get_bios(self, identity):
    return dict(self._get(identity).get("bios") or DEFAULT_BIOS)
def set_bios(self, identity, attributes):
    bios = get_bios(self, identity)
    bios.update(attributes or {})
    self._update(identity, bios=bios)
def reset_bios(self, identity):
    self._update(identity, bios=dict(DEFAULT_BIOS))
fakedriver.FakeDriver.get_bios = get_bios
fakedriver.FakeDriver.set_bios = set_bios
fakedriver.FakeDriver.reset_bios = reset_bios
from sushy_tools.emulator.main import main
sys.exit(main())
"#;

struct Peer {
    children: Vec<Child>,
    _dir: tempfile::TempDir,
    url: String,
    image_url: String,
    ca: Option<PathBuf>,
    auth: bool,
}

impl Drop for Peer {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Peer {
    fn start(tls: bool, auth: bool) -> Self {
        let py = peer_python();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = free_port();
        let mut conf = format!(
            "SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\nSUSHY_EMULATOR_LISTEN_PORT = {port}\n\
             SUSHY_EMULATOR_STATE_DIR = '{state}'\nSUSHY_EMULATOR_FEATURE_SET = 'full'\n\
             SUSHY_EMULATOR_VMEDIA_VERIFY_SSL = False\nSUSHY_EMULATOR_FAKE_DRIVER = True\n\
             SUSHY_EMULATOR_FAKE_SYSTEMS = [\n",
            state = d.join("state").display()
        );
        for i in 0..2 {
            conf += &format!(
                "  {{'uuid': '27946b59-9e44-4fa7-8e91-f3527a1e{i:04x}', 'name': 'node-{i}', 'power_state': 'Off', \
                 'external_notifier': False, 'nics': [{{'mac': '52:54:00:aa:00:{i:02x}', 'ip': '127.0.0.{}'}}]}},\n",
                i + 10
            );
        }
        conf += "]\n";
        conf += "SUSHY_EMULATOR_STORAGE = {'27946b59-9e44-4fa7-8e91-f3527a1e0000': [{'Id': '1', 'Name': 'Local Storage', \
                 'StorageControllers': [{'MemberId': '0', 'Name': 'RAID', 'SpeedGbps': 12}], 'Drives': ['D1', 'D2']}]}\n";
        conf += "SUSHY_EMULATOR_DRIVES = {('27946b59-9e44-4fa7-8e91-f3527a1e0000', '1'): [\
                 {'Id': 'D1', 'Name': 'Drive 1', 'CapacityBytes': 899527000000, 'Protocol': 'SAS'}, \
                 {'Id': 'D2', 'Name': 'Drive 2', 'CapacityBytes': 12345670000, 'Protocol': 'SATA'}]}\n";
        let mut ca = None;
        if tls {
            need(
                "openssl",
                "install openssl (Debian: apt-get install openssl)",
            );
            let ec = [
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
            ];
            run(Command::new("openssl")
                .args(["req", "-x509"])
                .args(ec)
                .args(["-days", "2", "-subj", "/CN=redfish-client test CA"])
                .arg("-keyout")
                .arg(d.join("ca.key"))
                .arg("-out")
                .arg(d.join("ca.pem")));
            run(Command::new("openssl")
                .arg("req")
                .args(ec)
                .args(["-subj", "/CN=localhost"])
                .arg("-keyout")
                .arg(d.join("key.pem"))
                .arg("-out")
                .arg(d.join("leaf.csr")));
            std::fs::write(
                d.join("ext.cnf"),
                "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
            )
            .unwrap();
            run(Command::new("openssl")
                .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
                .arg("-in")
                .arg(d.join("leaf.csr"))
                .arg("-CA")
                .arg(d.join("ca.pem"))
                .arg("-CAkey")
                .arg(d.join("ca.key"))
                .arg("-extfile")
                .arg(d.join("ext.cnf"))
                .arg("-out")
                .arg(d.join("cert.pem")));
            conf += &format!(
                "SUSHY_EMULATOR_SSL_CERT = '{}'\nSUSHY_EMULATOR_SSL_KEY = '{}'\n",
                d.join("cert.pem").display(),
                d.join("key.pem").display()
            );
            ca = Some(d.join("ca.pem"));
        }
        if auth {
            // bcrypt cost 4: sushy checks the password on every request (cost 12 takes ~300 ms).
            let out = Command::new(&py)
                .args(["-c", "import bcrypt; print('admin:' + bcrypt.hashpw(b'password', bcrypt.gensalt(rounds=4)).decode())"])
                .output()
                .unwrap();
            assert!(out.status.success());
            std::fs::write(d.join("htpasswd"), out.stdout).unwrap();
            conf += &format!(
                "SUSHY_EMULATOR_AUTH_FILE = '{}'\n",
                d.join("htpasswd").display()
            );
        }
        std::fs::write(d.join("emulator.conf"), conf).unwrap();
        std::fs::write(d.join("launch.py"), LAUNCHER).unwrap();
        // The image sushy downloads on InsertMedia, served over plain HTTP.
        std::fs::create_dir(d.join("www")).unwrap();
        std::fs::write(d.join("www/boot.iso"), vec![0u8; 64 * 1024]).unwrap();
        let img_port = free_port();
        let log = std::fs::File::create(d.join("sushy.log")).unwrap();
        let mut children = vec![
            Command::new(&py)
                .args([
                    "-m",
                    "http.server",
                    "--bind",
                    "127.0.0.1",
                    &img_port.to_string(),
                    "--directory",
                ])
                .arg(d.join("www"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        ];
        children.push(
            Command::new(&py)
                .arg(d.join("launch.py"))
                .arg("--config")
                .arg(d.join("emulator.conf"))
                .arg("--fake")
                .env("TMPDIR", d)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap(),
        );
        let scheme = if tls { "https" } else { "http" };
        let peer = Peer {
            children,
            url: format!("{scheme}://127.0.0.1:{port}"),
            image_url: format!("http://127.0.0.1:{img_port}/boot.iso"),
            ca,
            auth,
            _dir: dir,
        };
        let start = Instant::now();
        loop {
            let up = peer.curl_status("/redfish/v1/") == 200
                && Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
                    .arg(&peer.image_url)
                    .output()
                    .is_ok_and(|o| o.stdout == b"200");
            if up {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "sushy-emulator did not come up: {}",
                std::fs::read_to_string(peer._dir.path().join("sushy.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        peer
    }

    fn curl(&self, extra: &[&str], path: &str) -> std::process::Output {
        let mut c = Command::new("curl");
        c.args(["-s", "--max-time", "30"]);
        if let Some(ca) = &self.ca {
            c.arg("--cacert").arg(ca);
        }
        if self.auth {
            c.args(["-u", "admin:password"]);
        }
        c.args(extra).arg(format!("{}{path}", self.url));
        c.output().unwrap()
    }

    fn curl_status(&self, path: &str) -> u16 {
        let out = self.curl(&["-o", "/dev/null", "-w", "%{http_code}"], path);
        String::from_utf8_lossy(&out.stdout).parse().unwrap_or(0)
    }

    /// GET `path` with curl (not with our client) as JSON.
    fn read(&self, path: &str) -> Value {
        let out = self.curl(&["-L"], path);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("curl {path}: {e}: {}", String::from_utf8_lossy(&out.stdout))
        })
    }

    fn client(&self) -> Client {
        let mut b = Client::builder(&self.url);
        if let Some(ca) = &self.ca {
            b = b.ca_cert_pem(std::fs::read(ca).unwrap());
        }
        if self.auth {
            b = b.basic_auth("admin", "password");
        }
        b.build().unwrap()
    }
}

async fn power(
    peer: &Peer,
    client: &Client,
    s: &ComputerSystem,
    reset: ResetType,
    want: PowerState,
) {
    client
        .reset(s, reset.clone())
        .await
        .unwrap_or_else(|e| panic!("{reset}: {e}"));
    client
        .wait_power_state(s, want.clone(), Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(
        peer.read(NODE0)["PowerState"],
        want.as_str(),
        "after {reset}"
    );
}

async fn exercise(peer: &Peer) {
    let client = peer.client();

    // Inventory.
    let systems = client.systems().await.unwrap();
    assert_eq!(systems.len(), 2);
    let s = client.system(NODE0).await.unwrap();
    assert_eq!(s.name.as_deref(), Some("node-0"));
    assert_eq!(s.odata.id.as_ref().unwrap().as_str(), NODE0);
    let nics = client
        .members(s.ethernet_interfaces.as_ref().unwrap().id().as_str())
        .await
        .unwrap();
    let macs: Vec<_> = nics
        .iter()
        .filter_map(|n: &redfish_client::model::EthernetInterface| n.mac_address.clone())
        .collect();
    assert_eq!(macs, ["52:54:00:aa:00:00"]);
    let storage: Vec<redfish_client::model::Storage> = client
        .members(s.storage.as_ref().unwrap().id().as_str())
        .await
        .unwrap();
    assert_eq!(storage[0].drives.len(), 2);
    let drive = storage[0].drives[0].get(&client).await.unwrap();
    assert_eq!(drive.capacity_bytes, Some(899527000000));
    assert!(!client.managers().await.unwrap().is_empty());
    assert!(!client.chassis().await.unwrap().is_empty());
    // By name: sushy answers 307 to the UUID URL, which the client follows.
    let by_name = client.system("node-0").await.unwrap();
    assert_eq!(by_name.uuid, s.uuid);
    let q = client.quirks().await.unwrap();
    // sushy names no vendor: only the universal quirks apply.
    assert_eq!(
        q.all(),
        &[redfish_client::quirks::Quirk::TrailingSlashInIds],
        "{q:?}"
    );

    // Power, each read back with curl.
    power(peer, &client, &s, ResetType::On, PowerState::On).await;
    power(peer, &client, &s, ResetType::ForceRestart, PowerState::On).await;
    power(
        peer,
        &client,
        &s,
        ResetType::GracefulShutdown,
        PowerState::Off,
    )
    .await;
    power(peer, &client, &s, ResetType::ForceOn, PowerState::On).await;
    power(peer, &client, &s, ResetType::ForceOff, PowerState::Off).await;
    // Outside ResetType@Redfish.AllowableValues: refused before sending.
    let e = client.reset(&s, ResetType::PowerCycle).await.unwrap_err();
    assert!(
        matches!(e, Error::Unsupported { .. }) && e.not_sent(),
        "{e}"
    );

    // Boot override.
    let boot = |v: &Value| {
        let b = &v["Boot"];
        (
            b["BootSourceOverrideTarget"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
            b["BootSourceOverrideMode"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        )
    };
    client
        .set_boot_override(
            &s,
            &BootOverride::once(BootSource::Pxe).mode(BootMode::Uefi),
        )
        .await
        .unwrap();
    assert_eq!(boot(&peer.read(NODE0)), ("Pxe".into(), "UEFI".into()));
    client
        .set_boot_override(
            &s,
            &BootOverride::continuous(BootSource::Hdd).mode(BootMode::Legacy),
        )
        .await
        .unwrap();
    assert_eq!(boot(&peer.read(NODE0)), ("Hdd".into(), "Legacy".into()));
    client
        .set_boot_override(&s, &BootOverride::once(BootSource::Cd).mode(BootMode::Uefi))
        .await
        .unwrap();
    assert_eq!(boot(&peer.read(NODE0)), ("Cd".into(), "UEFI".into()));
    // Outside BootSourceOverrideTarget@Redfish.AllowableValues.
    let e = client
        .set_boot_override(&s, &BootOverride::once(BootSource::Floppy))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");

    // Virtual media (sushy keeps it under the system, and downloads the image).
    let slots = client.virtual_media(&s).await.unwrap();
    assert!(slots.iter().any(|v| v.is_cd()), "{slots:?}");
    let vm = client
        .insert_media(&s, &InsertMedia::new(&peer.image_url))
        .await
        .unwrap();
    let cd = peer.read(&format!("{NODE0}/VirtualMedia/Cd"));
    assert_eq!(cd["Inserted"], true);
    assert_eq!(cd["Image"], peer.image_url.as_str());
    assert_eq!(vm.image.as_deref(), Some(peer.image_url.as_str()));
    // Insert again over an inserted image: ejected first, no error.
    client
        .insert_media(&s, &InsertMedia::new(&peer.image_url))
        .await
        .unwrap();
    client.eject_media(&s).await.unwrap();
    assert_eq!(
        peer.read(&format!("{NODE0}/VirtualMedia/Cd"))["Inserted"],
        false
    );
    // A missing image: the service's error, with its message.
    let e = client
        .insert_media(
            &s,
            &InsertMedia::new(peer.image_url.replace("boot.iso", "missing.iso")),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400), "{e}");

    // BIOS through the Settings resource.
    let s = client.system(NODE0).await.unwrap(); // now with its Bios link
    let bios = client.bios(&s).await.unwrap();
    assert_eq!(bios.attributes["ProcTurboMode"], "Enabled");
    assert!(
        bios.settings
            .as_ref()
            .and_then(|x| x.settings_object.as_ref())
            .is_some()
    );
    let mut attrs = serde_json::Map::new();
    attrs.insert("ProcTurboMode".into(), json!("Disabled"));
    attrs.insert("NicBoot1".into(), json!("Disabled"));
    client.set_bios_attributes(&s, attrs, None).await.unwrap();
    let pending = peer.read(&format!("{NODE0}/BIOS/Settings"));
    assert_eq!(pending["Attributes"]["ProcTurboMode"], "Disabled");
    assert_eq!(
        peer.read(&format!("{NODE0}/BIOS"))["Attributes"]["NicBoot1"],
        "Disabled"
    );
    assert_eq!(
        client.bios_pending(&s).await.unwrap().attributes["ProcTurboMode"],
        "Disabled"
    );
    client.reset_bios(&s).await.unwrap();
    assert_eq!(
        peer.read(&format!("{NODE0}/BIOS"))["Attributes"]["ProcTurboMode"],
        "Enabled"
    );

    // SecureBoot.
    client.set_secure_boot(&s, true).await.unwrap();
    assert_eq!(
        peer.read(&format!("{NODE0}/SecureBoot"))["SecureBootEnable"],
        true
    );
    client.set_secure_boot(&s, false).await.unwrap();
    assert_eq!(
        peer.read(&format!("{NODE0}/SecureBoot"))["SecureBootEnable"],
        false
    );

    // A bad ResetType the service itself refuses: its @Message.ExtendedInfo in the error.
    let raw = client
        .request(
            redfish_client::Method::POST,
            &format!("{NODE0}/Actions/ComputerSystem.Reset"),
            Some(&json!({"ResetType": "Bogus"})),
        )
        .await
        .unwrap_err();
    assert!(raw.status().is_some_and(|s| s >= 400), "{raw}");
    assert!(!raw.messages().is_empty(), "{raw:?}");
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sushy_plain_http() {
    let peer = Peer::start(false, false);
    exercise(&peer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sushy_tls_and_basic_auth() {
    let peer = Peer::start(true, true);
    exercise(&peer).await;

    // TLS is verified by default: without the CA the connection fails, naming the cause.
    let e = Client::builder(&peer.url)
        .basic_auth("admin", "password")
        .build()
        .unwrap()
        .get_json("/redfish/v1/")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport { .. }), "{e:?}");
    // Unless invalid certificates are accepted explicitly.
    let insecure = Client::builder(&peer.url)
        .basic_auth("admin", "password")
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    assert_eq!(insecure.systems().await.unwrap().len(), 2);
    // A wrong password: HTTP 401, and the password appears nowhere.
    let bad = Client::builder(&peer.url)
        .basic_auth("admin", "not-the-password")
        .ca_cert_pem(std::fs::read(peer.ca.as_ref().unwrap()).unwrap())
        .build()
        .unwrap();
    let e = bad.systems().await.unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
    assert!(!format!("{e} {e:?}").contains("not-the-password"));
}

/// Certificate pinning against sushy-emulator over TLS: the server's certificate, pinned by
/// the fingerprint `openssl x509 -fingerprint -sha256` prints, is trusted without its CA;
/// any other pin (the CA's own, a made-up one) fails the TLS handshake, so no request is
/// sent; two pins (a rollover) work with either; pins with a CA, or over plain HTTP, are
/// refused when the client is built.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sushy_tls_certificate_pinned() {
    let peer = Peer::start(true, true);
    let cert = peer.ca.as_ref().unwrap().with_file_name("cert.pem");
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(&cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let fingerprint = String::from_utf8(out.stdout).unwrap();
    assert!(fingerprint.contains("Fingerprint="), "{fingerprint}");

    let pinned = Client::builder(&peer.url)
        .basic_auth("admin", "password")
        .pin_certificate_sha256(fingerprint.trim())
        .build()
        .unwrap();
    assert_eq!(pinned.systems().await.unwrap().len(), 2);

    // The CA's own fingerprint (a certificate the server does not present) is refused, as
    // is any other: a TLS failure, no request sent.
    let ca_fp = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
        .arg(peer.ca.as_ref().unwrap())
        .output()
        .unwrap();
    let ca_fp = String::from_utf8(ca_fp.stdout).unwrap();
    for wrong in [ca_fp.trim().to_string(), "ab".repeat(32)] {
        let e = Client::builder(&peer.url)
            .basic_auth("admin", "password")
            .pin_certificate_sha256(wrong.clone())
            .build()
            .unwrap()
            .get_json("/redfish/v1/")
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Transport { .. }), "pin {wrong}: {e:?}");
    }
    // Two pins (a rollover): either certificate is enough.
    let rollover = Client::builder(&peer.url)
        .basic_auth("admin", "password")
        .pin_certificate_sha256("cd".repeat(32))
        .pin_certificate_sha256(fingerprint.trim())
        .build()
        .unwrap();
    assert_eq!(rollover.systems().await.unwrap().len(), 2);
    // Pins and a CA, or pins over plain HTTP: refused at build.
    assert!(
        Client::builder(&peer.url)
            .pin_certificate_sha256(fingerprint.trim())
            .ca_cert_pem(std::fs::read(peer.ca.as_ref().unwrap()).unwrap())
            .build()
            .is_err()
    );
    assert!(
        Client::builder("http://127.0.0.1:1")
            .pin_certificate_sha256(fingerprint.trim())
            .build()
            .is_err()
    );
}
