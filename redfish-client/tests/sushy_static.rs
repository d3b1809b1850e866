//! Interop with `sushy-static` (pip `sushy-tools`, the same package as sushy-emulator) serving
//! recorded service trees: the project's own small trees under `tests/fixtures/trees/`, laid
//! out like a Dell iDRAC 9 (FQDD ids, `Oem.Dell`, virtual media under the manager, legacy
//! Power/Thermal), a Supermicro X12 (trailing slashes in ids, vendor only in `Oem`, `FanName`,
//! numeric strings and `N/A` readings) and a Lenovo XCC (`@odata.etag`, virtual media under
//! the system, PowerSubsystem/ThermalSubsystem/EnvironmentMetrics only).
//!
//! For each tree: the `inventory` logic of the example (systems, NICs, storage, BIOS,
//! SecureBoot, virtual media, managers, chassis power and thermal, firmware, events,
//! sessions, tasks) runs through the typed API, and a crawl GETs every resource the tree
//! links to and decodes it as its typed model by `@odata.type`: no deserialization error,
//! and every file of the tree is reached.
//!
//! The peer lives in `.venv-peers/` (`scripts/peers/sushy.sh`); a missing peer fails the
//! test with that hint.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redfish_client::model::*;
use redfish_client::quirks::Vendor;
use redfish_client::{Client, Collection};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn sushy_static() -> PathBuf {
    let bin = repo_root().join(".venv-peers/bin/sushy-static");
    let ok = Command::new(&bin)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "sushy-static is missing: run scripts/peers/sushy.sh (or scripts/install-peers.sh) to pip-install \
         sushy-tools into {}/.venv-peers",
        repo_root().display()
    );
    bin
}

struct Peer {
    child: Child,
    url: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tree(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/trees")
        .join(name)
}

async fn serve(name: &str) -> Peer {
    let bin = sushy_static();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-m"])
        .arg(tree(name))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let peer = Peer { child, url };
    let start = Instant::now();
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "sushy-static did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    peer
}

fn client(url: &str) -> Client {
    // sushy-static ignores credentials; basic auth keeps the client from logging in.
    Client::builder(url)
        .basic_auth("root", "calvin")
        .build()
        .unwrap()
}

/// What the example's `inventory` reads, through the typed API; returns a summary to check.
async fn inventory(c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    let root = c.service_root().await.unwrap();
    out.push(format!("vendor {}", c.quirks().await.unwrap().vendor()));
    for s in c.systems().await.unwrap() {
        let mut macs = Vec::new();
        for nic in c
            .members::<EthernetInterface>(s.ethernet_interfaces.as_ref().unwrap().id().as_str())
            .await
            .unwrap()
        {
            macs.extend(nic.mac_address);
        }
        out.push(format!(
            "system {} {} {} {:?} macs {}",
            s.id.clone().unwrap(),
            s.manufacturer.clone().unwrap(),
            s.power_state.clone().unwrap(),
            s.boot.as_ref().unwrap().boot_source_override_target,
            macs.join(",")
        ));
        assert!(
            s.allowed_reset_types()
                .unwrap()
                .contains(&ResetType::ForceRestart)
        );
        assert!(s.oem.is_some(), "Oem kept");
        for st in c
            .members::<Storage>(s.storage.as_ref().unwrap().id().as_str())
            .await
            .unwrap()
        {
            for d in &st.drives {
                let d = d.get(c).await.unwrap();
                assert!(d.capacity_bytes.unwrap() > 0);
            }
            let vols = c
                .members::<Volume>(st.volumes.as_ref().unwrap().id().as_str())
                .await
                .unwrap();
            out.push(format!(
                "storage {} drives {} volumes {}",
                st.id.unwrap(),
                st.drives.len(),
                vols.len()
            ));
        }
        let bios = c.bios(&s).await.unwrap();
        assert_eq!(bios.attributes["BootMode"], "Uefi");
        c.bios_pending(&s).await.unwrap();
        assert_eq!(
            c.secure_boot(&s).await.unwrap().secure_boot_enable,
            Some(false)
        );
        let media = c.virtual_media(&s).await.unwrap();
        out.push(format!("media {}", media.len()));
    }
    for m in c.managers().await.unwrap() {
        out.push(format!(
            "manager {} {}",
            m.id.unwrap(),
            m.firmware_version.unwrap()
        ));
    }
    for ch in c.chassis().await.unwrap() {
        let pt = c.power_thermal(&ch).await.unwrap();
        out.push(format!(
            "chassis {} {:?} {:?}W psus {} fans {} temps {}",
            ch.id.clone().unwrap(),
            pt.source,
            pt.consumed_watts,
            pt.power_supplies.len(),
            pt.fans.len(),
            pt.temperatures.len()
        ));
    }
    let fw = c.firmware_inventory().await.unwrap();
    out.push(format!("firmware {}", fw.len()));
    let es = c.event_service().await.unwrap();
    assert!(es.server_sent_event_uri.is_some());
    let subs = c.subscriptions().await.unwrap();
    out.push(format!("subscriptions {}", subs.len()));
    let ss: SessionService = c
        .get(root.session_service.as_ref().unwrap().id().as_str())
        .await
        .unwrap();
    let sessions = c
        .members::<Session>(ss.sessions.unwrap().id().as_str())
        .await
        .unwrap();
    out.push(format!("sessions {}", sessions.len()));
    let ts: TaskService = c
        .get(root.tasks.as_ref().unwrap().id().as_str())
        .await
        .unwrap();
    let tasks = c
        .members::<Task>(ts.tasks.unwrap().id().as_str())
        .await
        .unwrap();
    assert!(tasks.iter().all(Task::succeeded));
    out.push(format!("tasks {}", tasks.len()));
    out
}

/// Decode `v` as the model type its `@odata.type` names; panics naming the path on failure.
fn decode_typed(path: &str, v: &Value) {
    fn de<T: serde::de::DeserializeOwned>(path: &str, v: &Value) {
        if let Err(e) = serde_json::from_value::<T>(v.clone()) {
            panic!(
                "{path}: {} does not decode: {e}",
                std::any::type_name::<T>()
            );
        }
    }
    let t = v["@odata.type"]
        .as_str()
        .unwrap_or_else(|| panic!("{path}: no @odata.type"));
    let name = t.rsplit('.').next().unwrap();
    match name {
        n if n.ends_with("Collection") => de::<Collection<Value>>(path, v),
        "ServiceRoot" => de::<ServiceRoot>(path, v),
        "ComputerSystem" => de::<ComputerSystem>(path, v),
        "EthernetInterface" => de::<EthernetInterface>(path, v),
        "Storage" => de::<Storage>(path, v),
        "Drive" => de::<Drive>(path, v),
        "Volume" => de::<Volume>(path, v),
        "Bios" => de::<Bios>(path, v),
        "SecureBoot" => de::<SecureBoot>(path, v),
        "VirtualMedia" => de::<VirtualMedia>(path, v),
        "Manager" => de::<Manager>(path, v),
        "Chassis" => de::<Chassis>(path, v),
        "Power" => de::<Power>(path, v),
        "Thermal" => de::<Thermal>(path, v),
        "PowerSubsystem" => de::<PowerSubsystem>(path, v),
        "PowerSupply" => de::<PowerSupply>(path, v),
        "PowerSupplyMetrics" => de::<PowerSupplyMetrics>(path, v),
        "ThermalSubsystem" => de::<ThermalSubsystem>(path, v),
        "Fan" => de::<Fan>(path, v),
        "ThermalMetrics" => de::<ThermalMetrics>(path, v),
        "EnvironmentMetrics" => de::<EnvironmentMetrics>(path, v),
        "Sensor" => de::<Sensor>(path, v),
        "SessionService" => de::<SessionService>(path, v),
        "Session" => de::<Session>(path, v),
        "TaskService" => de::<TaskService>(path, v),
        "Task" => de::<Task>(path, v),
        "UpdateService" => de::<UpdateService>(path, v),
        "SoftwareInventory" => de::<SoftwareInventory>(path, v),
        "EventService" => de::<EventService>(path, v),
        "EventDestination" => de::<EventDestination>(path, v),
        other => panic!("{path}: no model for {other}"),
    }
}

/// Every `@odata.id` in `v`, outside `Oem` objects and without `#` fragments.
fn links(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "Oem" {
                    continue;
                }
                if k == "@odata.id" {
                    if let Some(s) = x.as_str().filter(|s| !s.contains('#')) {
                        out.push(redfish_client::ODataId::new(s).to_string());
                    }
                } else {
                    links(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| links(x, out)),
        _ => {}
    }
}

async fn crawl(c: &Client) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from(["/redfish/v1".to_owned()]);
    while let Some(p) = queue.pop_front() {
        if !seen.insert(p.clone()) {
            continue;
        }
        let v = c.get_json(&p).await.unwrap_or_else(|e| panic!("{p}: {e}"));
        decode_typed(&p, &v);
        let mut found = Vec::new();
        links(&v, &mut found);
        queue.extend(found.into_iter().filter(|l| !seen.contains(l)));
    }
    seen
}

fn files_of(name: &str) -> usize {
    fn count(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    count(&e.path())
                } else {
                    usize::from(e.file_name() == "index.json")
                }
            })
            .sum()
    }
    count(&tree(name))
}

async fn check_tree(name: &str, vendor: Vendor) -> Vec<String> {
    let peer = serve(name).await;
    let c = client(&peer.url);
    let seen = crawl(&c).await;
    assert_eq!(
        seen.len(),
        files_of(name),
        "{name}: every resource reached: {seen:#?}"
    );
    assert_eq!(*c.quirks().await.unwrap().vendor(), vendor);
    let inv = inventory(&c).await;
    c.close().await.unwrap();
    inv
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dell_like_tree() {
    let inv = check_tree("dell", Vendor::Dell).await;
    assert!(inv.contains(&"system System.Embedded.1 Dell Inc. On Some(None) macs B4:96:91:0A:00:7C,B4:96:91:0A:01:7C".to_owned()), "{inv:#?}");
    assert!(
        inv.contains(
            &"chassis System.Embedded.1 Legacy Some(308.0)W psus 2 fans 2 temps 2".to_owned()
        ),
        "{inv:#?}"
    );
    assert!(
        inv.contains(&"media 1".to_owned()),
        "virtual media under the manager: {inv:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supermicro_like_tree() {
    let inv = check_tree("supermicro", Vendor::Supermicro).await;
    // "226" (a string) is still a reading.
    assert!(
        inv.contains(&"chassis 1 Legacy Some(226.0)W psus 1 fans 2 temps 2".to_owned()),
        "{inv:#?}"
    );
    assert!(inv.contains(&"media 1".to_owned()), "{inv:#?}");
    assert!(
        inv.contains(&"storage RAID.1 drives 2 volumes 1".to_owned()),
        "{inv:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lenovo_like_tree_with_the_new_power_and_thermal_model() {
    let inv = check_tree("lenovo", Vendor::Lenovo).await;
    assert!(
        inv.contains(&"chassis 1 Subsystems Some(412.0)W psus 2 fans 3 temps 3".to_owned()),
        "{inv:#?}"
    );
    assert!(inv.contains(&"firmware 2".to_owned()), "{inv:#?}");
    assert!(inv.contains(&"subscriptions 1".to_owned()), "{inv:#?}");
}
