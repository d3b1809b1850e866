//! The model and the quirks on small hand-written fixtures shaped like real BMCs' answers
//! (`tests/fixtures/`).

use redfish_client::model::*;
use redfish_client::ops::{BootOverride, boot_override_patches};
use redfish_client::quirks::{Quirk, Quirks, Vendor};

fn load<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn supermicro_root_and_system() {
    let root: ServiceRoot = load("supermicro_root.json");
    let q = Quirks::detect(&root, None);
    assert_eq!(q.vendor(), &Vendor::Supermicro);
    // Trailing slashes normalised.
    assert_eq!(
        root.systems.as_ref().unwrap().id().as_str(),
        "/redfish/v1/Systems"
    );
    assert_eq!(
        root.links.unwrap().sessions.unwrap().id().as_str(),
        "/redfish/v1/SessionService/Sessions"
    );

    let s: ComputerSystem = load("supermicro_system.json");
    assert_eq!(s.power_state, Some(PowerState::On));
    assert_eq!(s.allowed_reset_types().unwrap().len(), 7);
    assert_eq!(
        s.memory_summary.as_ref().unwrap().total_system_memory_gib,
        Some(64.0)
    );
    assert!(s.oem.as_ref().unwrap().get("Supermicro").is_some());
    assert_eq!(s.extra["AutomaticRetryConfig"], "Disabled");
    let boot = s.boot.as_ref().unwrap();
    assert!(boot.extra.contains_key("BootNext"));
    // Boot from the virtual CD: UsbCd, with the mode the BMC would otherwise forget.
    let p = boot_override_patches(Some(boot), &BootOverride::once(BootSource::Cd), &q).unwrap();
    assert_eq!(
        p,
        [
            serde_json::json!({"Boot": {"BootSourceOverrideTarget": "UsbCd",
            "BootSourceOverrideEnabled": "Once", "BootSourceOverrideMode": "UEFI"}})
        ]
    );
}

#[test]
fn dell_and_hpe_roots() {
    let dell: ServiceRoot = load("dell_root.json");
    assert!(dell.supports_expand());
    let q = Quirks::detect(&dell, None);
    assert_eq!(q.vendor(), &Vendor::Dell);
    assert!(q.has(Quirk::BootModeReadOnly));
    let hpe: ServiceRoot = load("hpe_root_pre15.json");
    assert!(!hpe.supports_expand());
    assert_eq!(Quirks::detect(&hpe, None).vendor(), &Vendor::Hpe);
}

#[test]
fn lenovo_bios_settings() {
    let bios: Bios = load("lenovo_bios.json");
    assert_eq!(bios.odata.etag.as_deref(), Some("\"1f3a\""));
    assert_eq!(bios.attributes["Memory_MemorySpeed"], 3200);
    let settings = bios.settings.unwrap();
    assert_eq!(
        settings.settings_object.unwrap().id().as_str(),
        "/redfish/v1/Systems/1/Bios/Pending"
    );
    assert_eq!(settings.supported_apply_times, ["OnReset"]);
    assert!(bios.actions.unwrap().reset_bios.is_some());
}

#[test]
fn failed_task_and_error_inside_2xx() {
    let t: Task = load("task_failed.json");
    assert_eq!(t.task_state, Some(TaskState::Exception));
    assert!(t.task_state.as_ref().unwrap().is_terminal());
    assert!(!t.succeeded());
    assert_eq!(t.messages[0].message_key(), "RED007");
    let v: serde_json::Value = load("idrac_patch_200_error.json");
    let msgs: Vec<Message> = serde_json::from_value(v["@Message.ExtendedInfo"].clone()).unwrap();
    assert!(msgs.iter().any(Message::is_error));
    assert_eq!(
        msgs[1].related_properties,
        ["#/Boot/BootSourceOverrideMode"]
    );
}
