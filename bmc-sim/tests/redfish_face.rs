//! The Redfish face, driven with curl (an HTTP client we did not write), and the same node
//! seen through the IPMI face with ipmitool.

mod common;

use std::process::Command;

use common::{curl, header, image_server, json, require};

use bmc_sim::{Fleet, FleetConfig, PowerState, Vendor};
use ipmi_proto::cmd::chassis::{BootDevice, BootMode};

#[test]
fn curl_drives_the_redfish_face_and_ipmi_sees_the_same_node() {
    require("curl", "curl");
    require("ipmitool", "ipmitool");
    let rt = common::runtime();
    let fleet = common::both_faces(&rt, 2);
    let base = fleet.redfish_url(1).unwrap();
    let url = |p: &str| format!("{base}{p}");
    let basic = "admin:password";

    // The service root is public; the rest needs credentials.
    let (code, _, body) = curl(&[&url("/redfish/v1/")]);
    assert_eq!(code, 200);
    let root = json(&body);
    assert_eq!(root["Systems"]["@odata.id"], "/redfish/v1/Systems");
    let (code, _, body) = curl(&[&url("/redfish/v1/Systems")]);
    assert_eq!(code, 401);
    assert_eq!(
        json(&body)["error"]["@Message.ExtendedInfo"][0]["MessageId"],
        "Base.1.8.NoValidSession"
    );
    let (code, _, _) = curl(&["-u", "admin:wrong", &url("/redfish/v1/Systems")]);
    assert_eq!(code, 401);

    // Sessions: token login, use, limit, logout.
    let login = r#"{"UserName":"admin","Password":"password"}"#;
    let (code, headers, _) = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        login,
        &url("/redfish/v1/SessionService/Sessions"),
    ]);
    assert_eq!(code, 201);
    let token = header(&headers, "x-auth-token").unwrap().to_string();
    let location = header(&headers, "location").unwrap().to_string();
    let tok = format!("X-Auth-Token: {token}");
    let (code, _, body) = curl(&["-H", &tok, &url("/redfish/v1/Systems/1")]);
    assert_eq!(code, 200);
    assert_eq!(json(&body)["PowerState"], "Off");
    // The generic profile has 16 session slots.
    for _ in 1..16 {
        let (code, _, _) = curl(&[
            "-X",
            "POST",
            "-d",
            login,
            &url("/redfish/v1/SessionService/Sessions"),
        ]);
        assert_eq!(code, 201);
    }
    let (code, _, body) = curl(&[
        "-X",
        "POST",
        "-d",
        login,
        &url("/redfish/v1/SessionService/Sessions"),
    ]);
    assert_eq!(code, 503, "{body}");
    assert_eq!(
        json(&body)["error"]["@Message.ExtendedInfo"][0]["MessageId"],
        "Base.1.8.SessionLimitExceeded"
    );
    let (code, _, _) = curl(&["-X", "DELETE", "-H", &tok, &url(&location)]);
    assert_eq!(code, 204);
    let (code, _, _) = curl(&["-H", &tok, &url("/redfish/v1/Systems/1")]);
    assert_eq!(code, 401, "a deleted session's token no longer works");

    // Boot override with ETags: a stale If-Match is refused.
    let (_, headers, body) = curl(&["-u", basic, &url("/redfish/v1/Systems/1")]);
    let etag = header(&headers, "etag").unwrap().to_string();
    assert_eq!(json(&body)["@odata.etag"], etag.as_str());
    let patch = r#"{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once","BootSourceOverrideMode":"UEFI"}}"#;
    let (code, _, _) = curl(&[
        "-u",
        basic,
        "-X",
        "PATCH",
        "-H",
        "If-Match: \"999\"",
        "-d",
        patch,
        &url("/redfish/v1/Systems/1"),
    ]);
    assert_eq!(code, 412);
    let (code, _, _) = curl(&[
        "-u",
        basic,
        "-X",
        "PATCH",
        "-H",
        &format!("If-Match: {etag}"),
        "-d",
        patch,
        &url("/redfish/v1/Systems/1"),
    ]);
    assert_eq!(code, 204);
    let (_, _, body) = curl(&["-u", basic, &url("/redfish/v1/Systems/1")]);
    let sys = json(&body);
    assert_eq!(sys["Boot"]["BootSourceOverrideTarget"], "Pxe");
    assert_eq!(sys["Boot"]["BootSourceOverrideEnabled"], "Once");
    assert_eq!(sys["Boot"]["BootSourceOverrideMode"], "UEFI");
    assert_ne!(
        sys["@odata.etag"],
        etag.as_str(),
        "the ETag changed with the resource"
    );
    let (code, _, _) = curl(&[
        "-u",
        basic,
        "-X",
        "PATCH",
        "-d",
        r#"{"Boot":{"BootSourceOverrideTarget":"Floppy9"}}"#,
        &url("/redfish/v1/Systems/1"),
    ]);
    assert_eq!(code, 400);

    // BIOS staged in Settings, applied at the next reset.
    let (code, _, _) = curl(&[
        "-u",
        basic,
        "-X",
        "PATCH",
        "-d",
        r#"{"Attributes":{"BootMode":"Legacy","ProcTurbo":"Disabled"}}"#,
        &url("/redfish/v1/Systems/1/Bios/Settings"),
    ]);
    assert_eq!(code, 204);
    let (_, _, body) = curl(&["-u", basic, &url("/redfish/v1/Systems/1/Bios")]);
    assert_eq!(
        json(&body)["Attributes"]["BootMode"],
        "Uefi",
        "not applied before a reset"
    );

    // Reset On: the node powers on and boots from the PXE override, in UEFI mode.
    let (code, _, _) = curl(&[
        "-u",
        basic,
        "-X",
        "POST",
        "-d",
        r#"{"ResetType":"On"}"#,
        &url("/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"),
    ]);
    assert_eq!(code, 204);
    let (code, _, _) = curl(&[
        "-u",
        basic,
        "-X",
        "POST",
        "-d",
        r#"{"ResetType":"Explode"}"#,
        &url("/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"),
    ]);
    assert_eq!(code, 400);
    {
        let node = fleet.node(1).unwrap();
        let n = node.lock().unwrap();
        assert_eq!(n.power(), PowerState::On);
        assert_eq!(n.boots(), &[(BootDevice::Pxe, BootMode::Efi)]);
    }
    // The firmware applies the staged settings during POST, as a task.
    let (_, _, body) = curl(&["-u", basic, &url("/redfish/v1/TaskService/Tasks?$expand=.")]);
    let tasks = json(&body);
    let apply = tasks["Members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["Name"] == "BIOS settings apply")
        .unwrap_or_else(|| panic!("no BIOS apply task in {tasks}"))
        .clone();
    let task_url = url(apply["@odata.id"].as_str().unwrap());
    let mut state = String::new();
    for _ in 0..40 {
        let (_, _, body) = curl(&["-u", basic, &task_url]);
        state = json(&body)["TaskState"].as_str().unwrap().to_string();
        if state == "Completed" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(state, "Completed");
    assert_eq!(
        fleet
            .node(1)
            .unwrap()
            .lock()
            .unwrap()
            .bios
            .get("ProcTurbo")
            .map(String::as_str),
        Some("Disabled")
    );
    let (_, _, body) = curl(&["-u", basic, &url("/redfish/v1/Systems/1/Bios")]);
    assert_eq!(json(&body)["Attributes"]["BootMode"], "Legacy");

    // The IPMI face of the same node agrees.
    let out = common::ipmitool(
        fleet.ipmi_addr(1).unwrap().port(),
        &["chassis", "power", "status"],
    );
    assert_eq!(out.trim(), "Chassis Power is on");

    // NIC MAC, virtual media, secure boot.
    let (_, _, body) = curl(&[
        "-u",
        basic,
        &url("/redfish/v1/Systems/1/EthernetInterfaces/1"),
    ]);
    assert_eq!(json(&body)["MACAddress"], "02:00:00:00:00:01");
    // The generic (DMTF-like) profile keeps virtual media under the system.
    let cd = "/redfish/v1/Systems/1/VirtualMedia/CD";
    let images = image_server();
    let iso = format!("{images}/boot.iso");
    let missing = format!(r#"{{"Image":"{images}/nothing.img"}}"#);
    let (code, _, body) = curl(&[
        "-u",
        basic,
        "-X",
        "POST",
        "-d",
        &missing,
        &url(&format!("{cd}/Actions/VirtualMedia.InsertMedia")),
    ]);
    assert_eq!(code, 400, "a missing image is refused: {body}");
    assert_eq!(
        json(&body)["error"]["code"],
        "Base.1.8.CouldNotEstablishConnection"
    );
    let (code, _, _) = curl(&[
        "-u",
        basic,
        "-X",
        "POST",
        "-d",
        &format!(r#"{{"Image":"{iso}"}}"#),
        &url(&format!("{cd}/Actions/VirtualMedia.InsertMedia")),
    ]);
    assert_eq!(code, 204);
    let (_, _, body) = curl(&["-u", basic, &url(cd)]);
    assert_eq!(json(&body)["Inserted"], true);
    assert_eq!(json(&body)["Image"], iso.as_str());
    let (code, _, _) = curl(&[
        "-u",
        basic,
        "-X",
        "POST",
        "-d",
        "{}",
        &url(&format!("{cd}/Actions/VirtualMedia.EjectMedia")),
    ]);
    assert_eq!(code, 204);
    let (_, _, body) = curl(&["-u", basic, &url(cd)]);
    assert_eq!(json(&body)["Inserted"], false);
    let (code, _, _) = curl(&[
        "-u",
        basic,
        "-X",
        "PATCH",
        "-d",
        r#"{"SecureBootEnable":true}"#,
        &url("/redfish/v1/Systems/1/SecureBoot"),
    ]);
    assert_eq!(code, 204);
    assert!(fleet.node(1).unwrap().lock().unwrap().secure_boot);

    // Malformed JSON is a 400 with a message, not a crash.
    let (code, _, body) = curl(&[
        "-u",
        basic,
        "-X",
        "PATCH",
        "-d",
        "{not json",
        &url("/redfish/v1/Systems/1"),
    ]);
    assert_eq!(code, 400);
    assert_eq!(json(&body)["error"]["code"], "Base.1.8.MalformedJSON");
    // The other node was untouched.
    assert_eq!(
        fleet.node(0).unwrap().lock().unwrap().power(),
        PowerState::Off
    );
}

fn vendor_fleet(rt: &tokio::runtime::Runtime, v: Vendor) -> Fleet {
    rt.block_on(Fleet::start(
        FleetConfig::builder()
            .count(1)
            .vendor(v)
            .redfish("127.0.0.1:0".parse().unwrap()),
    ))
    .unwrap()
}

#[test]
fn vendor_profiles_reproduce_the_field_quirks() {
    require("curl", "curl");
    let rt = common::runtime();
    let basic = "admin:password";
    let mode_patch = r#"{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once","BootSourceOverrideMode":"UEFI"}}"#;
    let no_mode =
        r#"{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once"}}"#;

    // Dell iDRAC: its own ids, media under the manager, read-only mode, SYS518 after a reset.
    let f = vendor_fleet(&rt, Vendor::Dell);
    let u = f.redfish_url(0).unwrap();
    let sys = format!("{u}/redfish/v1/Systems/System.Embedded.1");
    let (code, _, body) = curl(&["-u", basic, &sys]);
    assert_eq!(code, 200);
    assert_eq!(
        json(&body)["Links"]["ManagedBy"][0]["@odata.id"],
        "/redfish/v1/Managers/iDRAC.Embedded.1"
    );
    assert_eq!(
        curl(&["-u", basic, &format!("{u}/redfish/v1/Systems/1")]).0,
        404
    );
    let (code, _, body) = curl(&["-u", basic, "-X", "PATCH", "-d", mode_patch, &sys]);
    assert_eq!(code, 400);
    assert_eq!(
        json(&body)["error"]["@Message.ExtendedInfo"][0]["MessageId"],
        "Base.1.8.PropertyNotWritable"
    );
    assert_eq!(
        curl(&["-u", basic, "-X", "PATCH", "-d", no_mode, &sys]).0,
        204
    );
    let reset = format!("{sys}/Actions/ComputerSystem.Reset");
    assert_eq!(
        curl(&[
            "-u",
            basic,
            "-X",
            "POST",
            "-d",
            r#"{"ResetType":"On"}"#,
            &reset
        ])
        .0,
        204
    );
    let (code, _, body) = curl(&[
        "-u",
        basic,
        "-X",
        "POST",
        "-d",
        r#"{"ResetType":"ForceOff"}"#,
        &reset,
    ]);
    assert_eq!(code, 400);
    assert_eq!(
        json(&body)["error"]["@Message.ExtendedInfo"][0]["MessageId"],
        "IDRAC.2.8.SYS518"
    );
    std::thread::sleep(std::time::Duration::from_millis(900));
    assert_eq!(
        curl(&[
            "-u",
            basic,
            "-X",
            "POST",
            "-d",
            r#"{"ResetType":"ForceOff"}"#,
            &reset
        ])
        .0,
        204
    );
    let cd = format!("{u}/redfish/v1/Managers/iDRAC.Embedded.1/VirtualMedia/CD");
    assert_eq!(curl(&["-u", basic, &cd]).0, 200);
    assert_eq!(
        curl(&["-u", basic, &format!("{sys}/VirtualMedia/CD")]).0,
        404
    );
    let login = r#"{"UserName":"admin","Password":"password"}"#;
    let sessions = format!("{u}/redfish/v1/SessionService/Sessions");
    for _ in 0..8 {
        assert_eq!(curl(&["-X", "POST", "-d", login, &sessions]).0, 201);
    }
    assert_eq!(
        curl(&["-X", "POST", "-d", login, &sessions]).0,
        503,
        "iDRAC has 8 session slots"
    );

    // HPE iLO: weak ETags, matched in either form.
    let f = vendor_fleet(&rt, Vendor::Hpe);
    let sys = format!("{}/redfish/v1/Systems/1", f.redfish_url(0).unwrap());
    let (_, headers, _) = curl(&["-u", basic, &sys]);
    let etag = header(&headers, "etag").unwrap().to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    let strong = etag.trim_start_matches("W/").to_string();
    assert_eq!(
        curl(&[
            "-u",
            basic,
            "-X",
            "PATCH",
            "-H",
            &format!("If-Match: {strong}"),
            "-d",
            no_mode,
            &sys
        ])
        .0,
        204
    );

    // Supermicro: forgets the mode unless sent, wants UsbCd, refuses Inserted/WriteProtected.
    let f = vendor_fleet(&rt, Vendor::Supermicro);
    let u = f.redfish_url(0).unwrap();
    let sys = format!("{u}/redfish/v1/Systems/1");
    assert_eq!(
        curl(&["-u", basic, "-X", "PATCH", "-d", mode_patch, &sys]).0,
        204
    );
    assert_eq!(
        json(&curl(&["-u", basic, &sys]).2)["Boot"]["BootSourceOverrideMode"],
        "UEFI"
    );
    assert_eq!(
        curl(&["-u", basic, "-X", "PATCH", "-d", no_mode, &sys]).0,
        204
    );
    assert_eq!(
        json(&curl(&["-u", basic, &sys]).2)["Boot"]["BootSourceOverrideMode"],
        "Legacy"
    );
    assert_eq!(
        curl(&[
            "-u",
            basic,
            "-X",
            "PATCH",
            "-d",
            r#"{"Boot":{"BootSourceOverrideTarget":"Cd"}}"#,
            &sys
        ])
        .0,
        400
    );
    assert_eq!(
        curl(&[
            "-u",
            basic,
            "-X",
            "PATCH",
            "-d",
            r#"{"Boot":{"BootSourceOverrideTarget":"UsbCd","BootSourceOverrideMode":"UEFI"}}"#,
            &sys
        ])
        .0,
        204
    );
    let insert =
        format!("{u}/redfish/v1/Managers/1/VirtualMedia/CD/Actions/VirtualMedia.InsertMedia");
    assert_eq!(
        curl(&[
            "-u",
            basic,
            "-X",
            "POST",
            "-d",
            &format!(
                r#"{{"Image":"{}/a.iso","Inserted":true,"WriteProtected":true}}"#,
                image_server()
            ),
            &insert
        ])
        .0,
        400
    );
    assert_eq!(
        curl(&[
            "-u",
            basic,
            "-X",
            "POST",
            "-d",
            &format!(r#"{{"Image":"{}/a.iso"}}"#, image_server()),
            &insert
        ])
        .0,
        204
    );

    // Lenovo XCC: a PATCH without If-Match is 428.
    let f = vendor_fleet(&rt, Vendor::Lenovo);
    let sys = format!("{}/redfish/v1/Systems/1", f.redfish_url(0).unwrap());
    assert_eq!(
        curl(&["-u", basic, "-X", "PATCH", "-d", no_mode, &sys]).0,
        428
    );
    let (_, headers, _) = curl(&["-u", basic, &sys]);
    let etag = header(&headers, "etag").unwrap().to_string();
    assert_eq!(
        curl(&[
            "-u",
            basic,
            "-X",
            "PATCH",
            "-H",
            &format!("If-Match: {etag}"),
            "-d",
            no_mode,
            &sys
        ])
        .0,
        204
    );

    // OpenBMC: bmcweb's ids, media under the manager.
    let f = vendor_fleet(&rt, Vendor::OpenBmc);
    let u = f.redfish_url(0).unwrap();
    assert_eq!(
        curl(&["-u", basic, &format!("{u}/redfish/v1/Systems/system")]).0,
        200
    );
    assert_eq!(
        curl(&[
            "-u",
            basic,
            &format!("{u}/redfish/v1/Managers/bmc/VirtualMedia/CD")
        ])
        .0,
        200
    );
}

#[test]
fn tasks_updates_and_server_sent_events() {
    require("curl", "curl");
    let rt = common::runtime();
    let f = vendor_fleet(&rt, Vendor::Generic);
    let u = f.redfish_url(0).unwrap();
    let basic = "admin:password";

    // Listen to the SSE stream while things happen.
    let sse_url = format!("{u}/redfish/v1/EventService/SSE");
    let listener = std::thread::spawn(move || {
        let o = Command::new("curl")
            .args([
                "-s",
                "-N",
                "--max-time",
                "6",
                "-u",
                "admin:password",
                &sse_url,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    // A reset shows up on the event stream.
    assert_eq!(
        curl(&[
            "-u",
            basic,
            "-X",
            "POST",
            "-d",
            r#"{"ResetType":"On"}"#,
            &format!("{u}/redfish/v1/Systems/1/Actions/ComputerSystem.Reset")
        ])
        .0,
        204
    );

    // SimpleUpdate runs as a task: 202, Location, Retry-After, then Completed.
    let (code, headers, body) = curl(&[
        "-u",
        basic,
        "-X",
        "POST",
        "-d",
        r#"{"ImageURI":"http://127.0.0.1/fw/bmc-2.5.1.bin"}"#,
        &format!("{u}/redfish/v1/UpdateService/Actions/UpdateService.SimpleUpdate"),
    ]);
    assert_eq!(code, 202, "{body}");
    assert_eq!(json(&body)["TaskState"], "Running");
    let task = header(&headers, "location").unwrap().to_string();
    assert_eq!(header(&headers, "retry-after"), Some("1"));
    let mut state = String::new();
    for _ in 0..40 {
        let (_, _, body) = curl(&["-u", basic, &format!("{u}{task}")]);
        state = json(&body)["TaskState"].as_str().unwrap().to_string();
        if state == "Completed" {
            assert_eq!(json(&body)["PercentComplete"], 100);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(state, "Completed");
    let (_, _, body) = curl(&["-u", basic, &format!("{u}/redfish/v1/Managers/BMC")]);
    assert_eq!(json(&body)["FirmwareVersion"], "bmc-2.5.1");

    // Multipart push: needs UpdateParameters and UpdateFile.
    let dir = std::env::temp_dir().join(format!("bmcsim-fw-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fw = dir.join("bmc-3.0.0.bin");
    std::fs::write(&fw, vec![0x5a; 4096]).unwrap();
    let push = format!("{u}/redfish/v1/UpdateService/upload");
    let (code, headers, body) = curl(&[
        "-u",
        basic,
        "-F",
        r#"UpdateParameters={"Targets":[]};type=application/json"#,
        "-F",
        &format!("UpdateFile=@{}", fw.display()),
        &push,
    ]);
    assert_eq!(code, 202, "{body}");
    assert!(
        header(&headers, "location")
            .unwrap()
            .starts_with("/redfish/v1/TaskService/Tasks/")
    );
    let (code, _, _) = curl(&[
        "-u",
        basic,
        "-F",
        &format!("UpdateFile=@{}", fw.display()),
        &push,
    ]);
    assert_eq!(code, 400, "no UpdateParameters part");
    let _ = std::fs::remove_dir_all(&dir);

    let events = listener.join().unwrap();
    let records: Vec<serde_json::Value> = events
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(json)
        .collect();
    let ids: Vec<&str> = records
        .iter()
        .filter_map(|r| r["Events"][0]["MessageId"].as_str())
        .collect();
    assert!(ids.contains(&"TaskEvent.1.0.TaskCompletedOK"), "{events}");
    assert!(
        ids.contains(&"ResourceEvent.1.0.ResourceChanged"),
        "{events}"
    );
    // Unauthenticated clients get no stream.
    assert_eq!(
        curl(&[
            "--max-time",
            "2",
            &format!("{u}/redfish/v1/EventService/SSE")
        ])
        .0,
        401
    );
}

#[test]
fn redfish_faults_503_latency_and_hang() {
    require("curl", "curl");
    let rt = common::runtime();
    let f = vendor_fleet(&rt, Vendor::Generic);
    let sys = format!("{}/redfish/v1/Systems/1", f.redfish_url(0).unwrap());
    let face = f.redfish(0).unwrap();
    face.set_faults("http5xx=1".parse().unwrap());
    let (code, headers, body) = curl(&["-u", "admin:password", &sys]);
    assert_eq!(code, 503);
    assert_eq!(header(&headers, "retry-after"), Some("1"));
    assert_eq!(
        json(&body)["error"]["code"],
        "Base.1.8.ServiceTemporarilyUnavailable"
    );
    face.set_faults("latency=300ms".parse().unwrap());
    let t = std::time::Instant::now();
    assert_eq!(curl(&["-u", "admin:password", &sys]).0, 200);
    assert!(t.elapsed() >= std::time::Duration::from_millis(300));
    face.set_faults("hang".parse().unwrap());
    assert_eq!(
        curl(&["--max-time", "1", "-u", "admin:password", &sys]).0,
        0,
        "no answer at all"
    );
    face.set_faults(bmc_sim::Faults::default());
    assert_eq!(curl(&["-u", "admin:password", &sys]).0, 200);
}

#[test]
fn https_with_a_self_signed_certificate() {
    require("curl", "curl");
    let rt = common::runtime();
    let f = rt
        .block_on(Fleet::start(
            FleetConfig::builder()
                .count(1)
                .tls(true)
                .redfish("127.0.0.1:0".parse().unwrap()),
        ))
        .unwrap();
    let url = format!("{}/redfish/v1/Systems/1", f.redfish_url(0).unwrap());
    assert!(url.starts_with("https://127.0.0.1:"));
    let ca = std::env::temp_dir().join(format!("bmcsim-ca-{}.pem", std::process::id()));
    std::fs::write(&ca, f.ca_pem().unwrap()).unwrap();
    // Verified against the certificate as CA.
    let (code, _, body) = curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        "-u",
        "admin:password",
        &url,
    ]);
    assert_eq!(code, 200);
    assert_eq!(json(&body)["PowerState"], "Off");
    // Without it, curl refuses the self-signed certificate.
    assert_eq!(curl(&["-u", "admin:password", &url]).0, 0);
    let _ = std::fs::remove_file(&ca);
}

#[test]
fn paged_and_expanded_collections() {
    require("curl", "curl");
    let rt = common::runtime();
    let f = vendor_fleet(&rt, Vendor::Generic);
    let u = f.redfish_url(0).unwrap();
    let login = r#"{"UserName":"admin","Password":"password"}"#;
    let coll = format!("{u}/redfish/v1/SessionService/Sessions");
    for _ in 0..14 {
        assert_eq!(curl(&["-X", "POST", "-d", login, &coll]).0, 201);
    }
    let (_, _, root) = curl(&[&format!("{u}/redfish/v1/")]);
    assert_eq!(
        json(&root)["ProtocolFeaturesSupported"]["ExpandQuery"]["Levels"],
        true
    );
    // Server-driven paging: 10 members, then a nextLink to the rest.
    let (_, _, body) = curl(&["-u", "admin:password", &coll]);
    let page1 = json(&body);
    assert_eq!(page1["Members@odata.count"], 14);
    assert_eq!(page1["Members"].as_array().unwrap().len(), 10);
    let next = page1["Members@odata.nextLink"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, _, body) = curl(&["-g", "-u", "admin:password", &format!("{u}{next}")]);
    let page2 = json(&body);
    assert_eq!(page2["Members"].as_array().unwrap().len(), 4);
    assert!(page2.get("Members@odata.nextLink").is_none());
    // $expand embeds the members themselves.
    let (_, _, body) = curl(&[
        "-g",
        "-u",
        "admin:password",
        &format!("{coll}?$expand=.&$top=3"),
    ]);
    let exp = json(&body);
    assert_eq!(exp["Members"][0]["UserName"], "admin");
    assert_eq!(exp["Members"].as_array().unwrap().len(), 3);
}

#[test]
fn connection_resets_fault_plans_and_a_rebooting_bmc() {
    require("curl", "curl");
    let rt = common::runtime();
    // Per BMC, as the example's --faults takes it: BMC 1 resets, BMC 2 answers 503.
    let plan: bmc_sim::FaultPlan = "1:reset=1;2:http5xx=1".parse().unwrap();
    let f = rt
        .block_on(Fleet::start(
            FleetConfig::builder()
                .count(3)
                .redfish("127.0.0.1:0".parse().unwrap())
                .fault_plan(plan),
        ))
        .unwrap();
    let sys = |i: usize| format!("{}/redfish/v1/Systems/1", f.redfish_url(i).unwrap());
    let get = |i: usize| curl(&["-u", "admin:password", &sys(i)]);
    assert_eq!(get(0).0, 200);
    // curl: "Empty reply from server" (no status line at all).
    let o = Command::new("curl")
        .args(["-s", "-u", "admin:password", &sys(1)])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(52),
        "curl exit status for an empty reply"
    );
    assert!(o.stdout.is_empty());
    assert_eq!(get(2).0, 503);

    // Fleet-wide: half the requests of every BMC reset, the others are answered.
    f.set_fault_plan(&"reset=0.5".parse().unwrap());
    let codes: Vec<u16> = (0..40).map(|i| get(i % 3).0).collect();
    let resets = codes.iter().filter(|c| **c == 0).count();
    assert!(codes.iter().all(|c| *c == 0 || *c == 200), "{codes:?}");
    assert!((5..=35).contains(&resets), "{resets} resets in 40");
    f.set_faults(&bmc_sim::Faults::default());
    assert_eq!(get(1).0, 200);

    // A BMC reboot: sessions are gone, connections are closed unanswered for a while.
    let (code, headers, _) = curl(&[
        "-X",
        "POST",
        "-d",
        r#"{"UserName":"admin","Password":"password"}"#,
        &format!(
            "{}/redfish/v1/SessionService/Sessions",
            f.redfish_url(0).unwrap()
        ),
    ]);
    assert_eq!(code, 201);
    let token = format!(
        "X-Auth-Token: {}",
        header(&headers, "x-auth-token").unwrap()
    );
    assert_eq!(curl(&["-H", &token, &sys(0)]).0, 200);
    f.reboot_bmc(0, std::time::Duration::from_millis(800));
    assert_eq!(get(0).0, 0);
    std::thread::sleep(std::time::Duration::from_millis(900));
    assert_eq!(get(0).0, 200);
    assert_eq!(
        curl(&["-H", &token, &sys(0)]).0,
        401,
        "the session died with the reboot"
    );
    // The other BMCs did not reboot.
    assert_eq!(get(1).0, 200);
}

/// Python's `http.server` over TLS (a self-signed certificate from `openssl req`), serving
/// `dir`: (child, port).
fn python_https_server(dir: &std::path::Path) -> (std::process::Child, u16) {
    use std::io::BufRead;
    let (cert, key) = common::self_signed_cert(dir);
    let script = "import http.server, ssl, sys\n\
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n\
        ctx.load_cert_chain(sys.argv[1], sys.argv[2])\n\
        srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)\n\
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)\n\
        print(srv.server_address[1], flush=True)\n\
        srv.serve_forever()\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .arg(&cert)
        .arg(&key)
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().parse().unwrap())
}

#[test]
fn insert_media_checks_https_images_too() {
    require("curl", "curl");
    require("openssl", "openssl");
    require("python3", "python3");
    let dir = std::env::temp_dir().join(format!("bmcsim-https-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("installer.iso"), vec![0u8; 65536]).unwrap();
    let (mut server, port) = python_https_server(&dir);
    let rt = common::runtime();
    let f = vendor_fleet(&rt, Vendor::Generic);
    let insert = format!(
        "{}/redfish/v1/Systems/1/VirtualMedia/CD/Actions/VirtualMedia.InsertMedia",
        f.redfish_url(0).unwrap()
    );
    let try_insert = |image: &str| {
        curl(&[
            "-u",
            "admin:password",
            "-X",
            "POST",
            "-d",
            &format!(r#"{{"Image":"{image}"}}"#),
            &insert,
        ])
    };
    // A missing image over HTTPS is refused after the HEAD, as a present one is accepted.
    let (code, _, body) = try_insert(&format!("https://127.0.0.1:{port}/missing.iso"));
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("404"), "{body}");
    let image = format!("https://127.0.0.1:{port}/installer.iso");
    let (code, _, body) = try_insert(&image);
    assert_eq!(code, 204, "{body}");
    assert_eq!(
        f.node(0).unwrap().lock().unwrap().virtual_media.as_deref(),
        Some(image.as_str())
    );
    let _ = server.kill();
    let _ = server.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The chassis' Sensors collection shows the same sensors as the IPMI face: each Redfish
/// `Reading` and threshold equals what `ipmitool sensor get` prints for the IPMI sensor of
/// that name (same record, same conversion), and a reading set on the node shows on both.
#[test]
fn sensors_agree_with_ipmitool() {
    require("curl", "curl");
    require("ipmitool", "ipmitool");
    let rt = common::runtime();
    let fleet = common::both_faces(&rt, 1);
    let base = fleet.redfish_url(0).unwrap();
    let port = fleet.ipmi_addr(0).unwrap().port();
    let get = |path: &str| {
        let (code, _, body) = curl(&["-u", "admin:password", &format!("{base}{path}")]);
        assert_eq!(code, 200, "{path}: {body}");
        json(&body)
    };
    assert_eq!(
        get("/redfish/v1/Chassis/1")["Sensors"]["@odata.id"],
        "/redfish/v1/Chassis/1/Sensors"
    );
    // "Sensor Reading : 45 (+/- 0) degrees C" and "Upper Critical : 90.000" lines.
    let field = |text: &str, name: &str| -> Option<f64> {
        text.lines()
            .find(|l| l.trim_start().starts_with(name))
            .and_then(|l| l.split_once(':'))
            .and_then(|(_, v)| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    };
    let members = get("/redfish/v1/Chassis/1/Sensors")["Members"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(members.len(), 4, "{members:?}");
    for m in &members {
        let s = get(m["@odata.id"].as_str().unwrap());
        let name = s["Name"].as_str().unwrap();
        let ipmi = common::ipmitool(port, &["sensor", "get", name]);
        let reading = field(&ipmi, "Sensor Reading").unwrap_or_else(|| panic!("{ipmi}"));
        let ours = s["Reading"].as_f64().unwrap();
        assert!(
            (ours - reading).abs() < 1e-6,
            "{name}: Redfish {ours}, ipmitool {reading}"
        );
        for (key, line) in [
            ("UpperCaution", "Upper Non-Critical"),
            ("UpperCritical", "Upper Critical"),
            ("UpperFatal", "Upper Non-Recoverable"),
        ] {
            let theirs = field(&ipmi, line);
            let ours = s["Thresholds"][key]["Reading"].as_f64();
            assert_eq!(ours, theirs, "{name} {key}: {ipmi}");
        }
    }
    let cpu = get("/redfish/v1/Chassis/1/Sensors/CPUTemp");
    assert_eq!(cpu["ReadingType"], "Temperature");
    assert_eq!(cpu["ReadingUnits"], "Cel");
    assert_eq!(cpu["Status"]["Health"], "OK");
    let fan = get("/redfish/v1/Chassis/1/Sensors/FAN1");
    assert_eq!(fan["ReadingUnits"], "RPM");

    // The CPU heats past its critical threshold: both faces see it.
    {
        let node = fleet.node(0).unwrap();
        let mut n = node.lock().unwrap();
        assert!(n.storage.set_reading(0x02, 92));
    }
    let cpu = get("/redfish/v1/Chassis/1/Sensors/CPUTemp");
    assert_eq!(cpu["Reading"].as_f64(), Some(92.0));
    assert_eq!(cpu["Status"]["Health"], "Critical");
    let ipmi = common::ipmitool(port, &["sensor", "get", "CPU Temp"]);
    assert_eq!(field(&ipmi, "Sensor Reading"), Some(92.0), "{ipmi}");
    let (code, _, _) = curl(&[
        "-u",
        "admin:password",
        &format!("{base}/redfish/v1/Chassis/1/Sensors/NoSuchSensor"),
    ]);
    assert_eq!(code, 404);
}
