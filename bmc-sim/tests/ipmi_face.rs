//! The IPMI face of virtual nodes, driven by ipmitool, FreeIPMI and ipmi-proto's client, with
//! faults injected.

mod common;

use std::process::Command;

use common::require;
use std::time::Duration;

use bmc_sim::{Faults, Fleet, FleetConfig, PowerState};
use ipmi_proto::Error;
use ipmi_proto::client::{Client, PowerAction};
use ipmi_proto::cmd::chassis::{BootDevice, BootMode};
use ipmi_proto::session::{SessionConfig, SuiteChoice};

fn rt() -> tokio::runtime::Runtime {
    common::runtime()
}

fn cfg() -> SessionConfig {
    SessionConfig::builder("admin", "password")
        .cipher_suite(SuiteChoice::Fixed(17))
        .retransmit_timeout(Duration::from_millis(200))
        .request_deadline(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[test]
fn ipmitool_powers_a_virtual_node_that_boots_from_the_override() {
    require("ipmitool", "ipmitool");
    let rt = rt();
    let fleet = rt
        .block_on(Fleet::start(FleetConfig::builder().count(2)))
        .unwrap();
    let port = fleet.ipmi_addr(1).unwrap().port();
    let ipmitool = |args: &[&str]| common::ipmitool(port, args);
    ipmitool(&["chassis", "bootdev", "pxe", "options=efiboot"]);
    ipmitool(&["chassis", "power", "on"]);
    assert_eq!(
        ipmitool(&["chassis", "power", "status"]).trim(),
        "Chassis Power is on"
    );
    let node = fleet.node(1).unwrap();
    {
        let n = node.lock().unwrap();
        assert_eq!(n.power(), PowerState::On);
        assert_eq!(n.boots(), &[(BootDevice::Pxe, BootMode::Efi)]);
    }
    // The other node was not touched.
    assert_eq!(
        fleet.node(0).unwrap().lock().unwrap().power(),
        PowerState::Off
    );
    // The override was for one boot: a power cycle boots from disk.
    ipmitool(&["chassis", "power", "cycle"]);
    assert_eq!(node.lock().unwrap().boots()[1].0, BootDevice::Disk);
    // Sensors come from the node's storage.
    assert!(ipmitool(&["sdr", "list"]).contains("4800 RPM"));
}

#[test]
fn ipmipower_across_a_fleet() {
    require("ipmipower", "freeipmi-tools");
    let rt = rt();
    let fleet = rt
        .block_on(Fleet::start(FleetConfig::builder().count(50)))
        .unwrap();
    let hosts: Vec<String> = (0..fleet.len())
        .map(|i| format!("127.0.0.1:{}", fleet.ipmi_addr(i).unwrap().port()))
        .collect();
    let o = Command::new("ipmipower")
        .args([
            "-D", "LAN_2_0", "-u", "admin", "-p", "password", "-I", "17", "-l", "ADMIN", "--on",
            "-h",
        ])
        .arg(hosts.join(","))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        out.lines().filter(|l| l.ends_with(": ok")).count(),
        50,
        "{out}"
    );
    for i in 0..fleet.len() {
        assert_eq!(
            fleet.node(i).unwrap().lock().unwrap().power(),
            PowerState::On
        );
    }
}

#[test]
fn faults_loss_hang_sessions_reboot_and_slow_power() {
    let rt = rt();
    rt.block_on(async {
        let fleet = Fleet::start(
            FleetConfig::builder()
                .count(4)
                .power_delay(Duration::from_millis(600)),
        )
        .await
        .unwrap();
        let client = Client::builder()
            .bind("127.0.0.1:0".parse().unwrap())
            .build()
            .await
            .unwrap();

        // 25% loss each way: retransmission (10 retries here) gets every answer through.
        fleet
            .ipmi(0)
            .unwrap()
            .set_faults("loss=0.25".parse().unwrap());
        let lossy = SessionConfig::builder("admin", "password")
            .cipher_suite(SuiteChoice::Fixed(17))
            .retransmit_timeout(Duration::from_millis(100))
            .retries(10)
            .request_deadline(Duration::from_secs(20))
            .build()
            .unwrap();
        let bmc = client.bmc(fleet.ipmi_addr(0).unwrap(), lossy);
        for _ in 0..5 {
            bmc.chassis_status().await.unwrap();
        }

        // Slow power: the node reports off until the transition is done.
        let bmc1 = client.bmc(fleet.ipmi_addr(1).unwrap(), cfg());
        bmc1.power(PowerAction::On).await.unwrap();
        assert!(!bmc1.power_status().await.unwrap());
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(bmc1.power_status().await.unwrap());

        // A hung BMC: a timeout, not a hang of the client.
        fleet
            .ipmi(2)
            .unwrap()
            .set_faults("hang".parse::<Faults>().unwrap());
        let hung = client.bmc(
            fleet.ipmi_addr(2).unwrap(),
            SessionConfig::builder("admin", "password")
                .retransmit_timeout(Duration::from_millis(100))
                .retries(2)
                .build()
                .unwrap(),
        );
        match hung.power_status().await {
            Err(Error::Timeout { .. }) => {}
            other => panic!("expected a timeout, got {other:?}"),
        }

        // Session exhaustion: a BMC with one slot refuses a second session.
        fleet
            .ipmi(3)
            .unwrap()
            .set_faults("sessions=1".parse().unwrap());
        let a = client.bmc(fleet.ipmi_addr(3).unwrap(), cfg());
        let b = client.bmc(fleet.ipmi_addr(3).unwrap(), cfg());
        a.chassis_status().await.unwrap();
        match b.chassis_status().await {
            Err(e @ Error::SessionRefused { .. }) => assert!(e.is_transient()),
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Closing the first frees the slot.
        a.close().await;
        b.chassis_status().await.unwrap();

        // A BMC reboot drops the session; the client re-establishes on its own.
        fleet.ipmi(1).unwrap().reboot();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(bmc1.power_status().await.unwrap());
    });
}

#[test]
fn a_thousand_virtual_bmcs_answer_one_client() {
    let rt = rt();
    rt.block_on(async {
        let fleet = Fleet::start(FleetConfig::builder().count(1000))
            .await
            .unwrap();
        let client = Client::builder()
            .bind("127.0.0.1:0".parse().unwrap())
            .build()
            .await
            .unwrap();
        let mut set = tokio::task::JoinSet::new();
        for i in 0..fleet.len() {
            let bmc = client.bmc(fleet.ipmi_addr(i).unwrap(), cfg());
            set.spawn(async move {
                bmc.power(PowerAction::On).await?;
                let on = bmc.power_status().await?;
                bmc.close().await;
                Ok::<_, Error>(on)
            });
        }
        let mut ok = 0;
        while let Some(r) = set.join_next().await {
            assert!(r.unwrap().unwrap());
            ok += 1;
        }
        assert_eq!(ok, 1000);
    });
}

#[test]
fn ipmitool_users_are_held_to_their_privilege_levels() {
    use ipmi_proto::cmd::Privilege;
    require("ipmitool", "ipmitool");
    let rt = rt();
    let fleet = rt
        .block_on(Fleet::start(
            FleetConfig::builder()
                .ipmi_user("operator", "op-secret", Privilege::Operator)
                .ipmi_user("viewer", "view-secret", Privilege::User),
        ))
        .unwrap();
    let port = fleet.ipmi_addr(0).unwrap().port();
    let ipmitool = |user: &str, pass: &str, level: &str, args: &[&str]| {
        let a: Vec<&str> = ["-L", level].iter().chain(args).copied().collect();
        common::ipmitool_as(port, user, pass, &a)
    };
    // A USER reads but may not control power, nor ask for more than its limit.
    let o = ipmitool(
        "viewer",
        "view-secret",
        "USER",
        &["chassis", "power", "status"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = ipmitool("viewer", "view-secret", "USER", &["chassis", "power", "on"]);
    assert!(!o.status.success());
    let o = ipmitool(
        "viewer",
        "view-secret",
        "OPERATOR",
        &["chassis", "power", "status"],
    );
    assert!(!o.status.success(), "a USER got an OPERATOR session");
    assert_eq!(
        fleet.node(0).unwrap().lock().unwrap().power(),
        PowerState::Off
    );
    // An OPERATOR may; a wrong password is refused.
    let o = ipmitool(
        "operator",
        "op-secret",
        "OPERATOR",
        &["chassis", "power", "on"],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        fleet.node(0).unwrap().lock().unwrap().power(),
        PowerState::On
    );
    let o = ipmitool(
        "operator",
        "wrong",
        "OPERATOR",
        &["chassis", "power", "status"],
    );
    assert!(!o.status.success());
}
