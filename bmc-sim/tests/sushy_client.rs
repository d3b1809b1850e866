//! OpenStack's `sushy` client (pip, in the virtualenv the test command makes) against the
//! Redfish face, once per vendor profile: power, boot override, virtual media wherever the
//! profile keeps it, BIOS through the Settings resource, secure boot. What sushy reads back is
//! checked, and so is the node model behind the face.

mod common;

use std::path::PathBuf;
use std::process::Command;

use bmc_sim::{Fleet, FleetConfig, PowerState, Vendor};
use common::image_server;
use ipmi_proto::cmd::chassis::BootDevice;

fn sushy_python() -> PathBuf {
    let py = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv-peers/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import sushy"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "peer missing: OpenStack sushy (pip) in .venv-peers/: run scripts/peers/sushy.sh (scripts/test.sh does)"
    );
    py
}

#[test]
fn sushy_drives_every_vendor_profile() {
    let py = sushy_python();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers/sushy_client.py");
    let rt = common::runtime();
    let image = format!("{}/install.iso", image_server());
    for vendor in [
        Vendor::Generic,
        Vendor::OpenBmc,
        Vendor::Dell,
        Vendor::Hpe,
        Vendor::Supermicro,
        Vendor::Lenovo,
    ] {
        let fleet = rt
            .block_on(Fleet::start(
                FleetConfig::builder()
                    .count(1)
                    .vendor(vendor)
                    .redfish("127.0.0.1:0".parse().unwrap()),
            ))
            .unwrap();
        let o = Command::new(&py)
            .arg(&script)
            .arg(fleet.redfish_url(0).unwrap())
            .arg(&image)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{vendor:?}: sushy failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["power_after_on"], "On", "{vendor:?}: {r}");
        assert_eq!(r["boot_target"], "Pxe", "{vendor:?}: {r}");
        assert_eq!(r["boot_enabled"], "Once", "{vendor:?}: {r}");
        assert_eq!(r["media_inserted"], true, "{vendor:?}: {r}");
        assert_eq!(r["media_image"], image.as_str(), "{vendor:?}: {r}");
        assert_eq!(r["media_after_eject"], false, "{vendor:?}: {r}");
        assert_eq!(r["bios_proc_turbo"], "Disabled", "{vendor:?}: {r}");
        assert_eq!(r["secure_boot"], true, "{vendor:?}: {r}");
        let node = fleet.node(0).unwrap();
        let n = node.lock().unwrap();
        assert_eq!(n.power(), PowerState::On);
        // Powered on from disk, then restarted from the one-time PXE override sushy set.
        assert_eq!(
            n.boots().iter().map(|b| b.0).collect::<Vec<_>>(),
            [BootDevice::Disk, BootDevice::Pxe],
            "{vendor:?}"
        );
        assert!(n.secure_boot);
        assert_eq!(
            n.bios.get("ProcTurbo").map(String::as_str),
            Some("Disabled")
        );
    }
}
