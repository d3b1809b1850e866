//! Our async client against OpenIPMI's `ipmi_sim`, a BMC we did not write. Every change is
//! checked independently: through ipmi_sim's chassis-control program and with ipmitool.

mod common;

use std::time::Duration;

use common::{IpmiSim, require, run, stderr, stdout};
use ipmi_proto::Error;
use ipmi_proto::client::{Client, PowerAction};
use ipmi_proto::cmd::chassis::{BootDevice, BootMode, BootPersistence};
use ipmi_proto::session::{SessionConfig, SuiteChoice};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn cfg(user: &str, pass: &str, suite: SuiteChoice) -> SessionConfig {
    SessionConfig::builder(user, pass)
        .cipher_suite(suite)
        .retransmit_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

/// ipmitool as admin, suite 3, against the ipmi_sim peer; its output (success asserted).
fn ipmitool_sim(sim: &IpmiSim, args: &[&str]) -> String {
    let port = sim.port.to_string();
    let mut a = vec![
        "-I",
        "lanplus",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        "admin",
        "-P",
        "password",
        "-C",
        "3",
    ];
    a.extend_from_slice(args);
    let o = run("ipmitool", &a);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
}

fn bootparam5(sim: &IpmiSim) -> String {
    ipmitool_sim(sim, &["chassis", "bootparam", "get", "5"])
}

#[test]
fn power_boot_and_device_id_against_ipmi_sim() {
    require("ipmitool", "ipmitool");
    let sim = IpmiSim::start();
    rt().block_on(async {
        let client = Client::builder()
            .bind("127.0.0.1:0".parse().unwrap())
            .build()
            .await
            .unwrap();
        for suite in [
            SuiteChoice::Fixed(3),
            SuiteChoice::Fixed(2),
            SuiteChoice::Auto,
        ] {
            let bmc = client.bmc(sim.addr(), cfg("admin", "password", suite));
            bmc.power(PowerAction::Off).await.unwrap();
            assert_eq!(sim.chassis("power"), "0");
            assert!(!bmc.power_status().await.unwrap());
            bmc.power(PowerAction::On).await.unwrap();
            assert_eq!(sim.chassis("power"), "1");
            assert!(bmc.power_status().await.unwrap());
            bmc.power(PowerAction::Cycle).await.unwrap();

            let id = bmc.device_id().await.unwrap();
            // `mc_add 0x20 0 no-device-sdrs 0x23 9 8 ...`: device id 0, revision 3, firmware 9.08.
            assert_eq!(id.device_id, 0);
            assert_eq!(id.device_revision, 3);
            assert_eq!(id.firmware_revision(), "9.08");
            assert_eq!(id.manufacturer_id, 0x1291);
            assert_eq!(id.product_id, 0x0f02);
            assert_eq!(id.ipmi_version(), (2, 0));

            bmc.set_boot_device(BootDevice::Pxe, BootPersistence::NextBoot, BootMode::Legacy)
                .await
                .unwrap();
            assert_eq!(sim.chassis("boot"), "pxe");
            assert!(bootparam5(&sim).contains("Force PXE"));
            bmc.set_boot_device(
                BootDevice::Cdrom,
                BootPersistence::NextBoot,
                BootMode::Legacy,
            )
            .await
            .unwrap();
            assert_eq!(sim.chassis("boot"), "cdrom");
            // ipmi_sim keeps only the device selector (see research notes): read it back.
            let flags = bmc.boot_flags().await.unwrap();
            assert_eq!(flags.device, BootDevice::Cdrom);
            bmc.close().await;
        }
    });
}

#[test]
fn wrong_password_and_missing_suite_against_ipmi_sim() {
    let sim = IpmiSim::start();
    rt().block_on(async {
        let client = Client::builder()
            .bind("127.0.0.1:0".parse().unwrap())
            .build()
            .await
            .unwrap();
        let bmc = client.bmc(sim.addr(), cfg("admin", "wrong", SuiteChoice::Fixed(3)));
        match bmc.power_status().await {
            Err(Error::Authentication { .. }) => {}
            other => panic!("expected an authentication error, got {other:?}"),
        }
        // ipmi_sim has no SHA-256: suite 17 is refused with a clear error, not a timeout.
        let bmc = client.bmc(sim.addr(), cfg("admin", "password", SuiteChoice::Fixed(17)));
        match bmc.power_status().await {
            Err(Error::UnsupportedCipherSuite { requested, .. }) => assert_eq!(requested, Some(17)),
            other => panic!("expected an unsupported-suite error, got {other:?}"),
        }
    });
}

#[test]
fn many_sessions_one_socket_against_ipmi_sim() {
    let sim = IpmiSim::start();
    rt().block_on(async {
        let client = Client::builder()
            .bind("127.0.0.1:0".parse().unwrap())
            .build()
            .await
            .unwrap();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let bmc = client.bmc(sim.addr(), cfg("admin", "password", SuiteChoice::Fixed(3)));
            set.spawn(async move {
                for _ in 0..3 {
                    bmc.chassis_status().await?;
                }
                bmc.close().await;
                Ok::<_, Error>(())
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap().unwrap();
        }
    });
}

#[test]
fn sdr_sensors_sel_and_fru_against_ipmi_sim() {
    require("ipmitool", "ipmitool");
    let sim = IpmiSim::start();
    rt().block_on(async {
        let client = Client::builder()
            .bind("127.0.0.1:0".parse().unwrap())
            .build()
            .await
            .unwrap();
        let bmc = client.bmc(sim.addr(), cfg("admin", "password", SuiteChoice::Fixed(3)));

        // SDR names: ours and ipmitool's agree.
        let records = bmc.sdr_records().await.unwrap();
        let ours: Vec<String> = records.iter().filter_map(|r| r.record.name()).collect();
        assert_eq!(ours, ["SIM BMC", "Inlet_Temp", "FAN1", "P12V"]);
        let theirs = ipmitool_sim(&sim, &["sdr", "list", "all"]);
        for name in &ours {
            assert!(
                theirs.contains(name.as_str()),
                "{name} missing from ipmitool:\n{theirs}"
            );
        }

        // Converted readings, units and a threshold.
        let sensors = bmc.sensors().await.unwrap();
        let get = |n: &str| sensors.iter().find(|s| s.name == n).unwrap();
        assert_eq!(get("Inlet_Temp").value, Some(30.0));
        assert_eq!(get("Inlet_Temp").unit, "degrees C");
        assert_eq!(get("FAN1").value, Some(4800.0));
        assert_eq!(get("FAN1").unit, "RPM");
        assert!((get("P12V").value.unwrap() - 12.0).abs() < 1e-9);
        assert_eq!(get("P12V").unit, "Volts");
        let sensor_list = ipmitool_sim(&sim, &["sensor", "list"]);
        assert!(
            sensor_list
                .lines()
                .any(|l| l.starts_with("FAN1") && l.contains("4800.000")),
            "{sensor_list}"
        );
        if let ipmi_proto::cmd::sdr::SdrRecord::FullSensor(f) = &get("Inlet_Temp").record.record {
            use ipmi_proto::cmd::sdr::Threshold;
            assert_eq!(f.thresholds.get(Threshold::UpperNonCritical), 70);
            assert_eq!(f.thresholds.get(Threshold::UpperCritical), 85);
            assert_eq!(f.thresholds.get(Threshold::UpperNonRecoverable), 95);
        } else {
            panic!("Inlet_Temp is not a full sensor record");
        }

        // SEL: three records, as ipmitool sees them; then cleared.
        let sel = bmc.sel_entries().await.unwrap();
        assert_eq!(sel.len(), 3);
        assert_eq!(ipmitool_sim(&sim, &["sel", "list"]).lines().count(), 3);
        match &sel[1].entry {
            ipmi_proto::cmd::sel::SelEntry::System(e) => {
                assert_eq!(e.sensor_type, 0x04);
                assert_eq!(e.sensor_number, 0x03);
            }
            other => panic!("{other:?}"),
        }
        bmc.clear_sel().await.unwrap();
        assert!(bmc.sel_entries().await.unwrap().is_empty());
        let info = ipmitool_sim(&sim, &["sel", "info"]);
        assert!(
            info.lines()
                .any(|l| l.starts_with("Entries") && l.trim_end().ends_with(": 0")),
            "{info}"
        );

        // FRU 0: ours and ipmitool's decoding agree.
        let fru = bmc.fru(0).await.unwrap();
        let board = fru.board.unwrap();
        let product = fru.product.unwrap();
        assert_eq!(board.manufacturer.decode(), "Acme");
        assert_eq!(board.product_name.decode(), "Sim Board");
        assert_eq!(board.serial_number.decode(), "SB-42");
        assert_eq!(product.product_name.decode(), "Sim Node");
        assert_eq!(product.serial_number.decode(), "SN-0042");
        let theirs = ipmitool_sim(&sim, &["fru", "print", "0"]);
        for (label, value) in [
            ("Board Mfg ", "Acme"),
            ("Board Product ", "Sim Board"),
            ("Board Serial ", "SB-42"),
            ("Product Name ", "Sim Node"),
            ("Product Serial ", "SN-0042"),
        ] {
            assert!(
                theirs
                    .lines()
                    .any(|l| l.trim_start().starts_with(label) && l.trim_end().ends_with(value)),
                "{label}{value} missing from ipmitool:\n{theirs}"
            );
        }
        bmc.close().await;
    });
}

/// A serial console for ipmi_sim: echoes every line back as `echo: LINE`.
fn echo_console() -> (u16, std::thread::JoinHandle<()>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let mut w = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        let mut line = Vec::new();
        while let Ok(n) = r.read_until(b'\r', &mut line) {
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&line).trim().to_string();
            if w.write_all(format!("echo: {text}\r\n").as_bytes()).is_err() {
                break;
            }
            line.clear();
        }
    });
    (port, h)
}

#[test]
fn sol_console_round_trip_against_ipmi_sim() {
    let (console_port, _console) = echo_console();
    let sim = IpmiSim::start_with_sol(console_port);
    rt().block_on(async {
        let client = Client::builder()
            .bind("127.0.0.1:0".parse().unwrap())
            .build()
            .await
            .unwrap();
        let bmc = client.bmc(sim.addr(), cfg("admin", "password", SuiteChoice::Fixed(3)));
        let mut sol = bmc.sol().await.unwrap();
        // ipmi_sim connects to the console at start; give it a moment before the first line.
        let mut seen = String::new();
        for attempt in 0..20 {
            sol.write(format!("hello {attempt}\r").as_bytes()).unwrap();
            let deadline = tokio::time::Instant::now() + Duration::from_millis(500);
            while let Ok(Some(d)) = tokio::time::timeout_at(deadline, sol.read()).await {
                seen.push_str(&String::from_utf8_lossy(&d));
            }
            if seen.contains("echo: hello") {
                break;
            }
        }
        assert!(seen.contains("echo: hello"), "console said: {seen:?}");
        // Long input is split into packets and arrives whole and in order.
        let long: String = (0..40).map(|i| format!("line{i:02}-")).collect();
        sol.write(format!("{long}\r").as_bytes()).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !seen.contains(&format!("echo: {long}")) {
            match tokio::time::timeout_at(deadline, sol.read()).await {
                Ok(Some(d)) => seen.push_str(&String::from_utf8_lossy(&d)),
                _ => break,
            }
        }
        assert!(
            seen.contains(&format!("echo: {long}")),
            "console said: {seen:?}"
        );
        sol.close().await.unwrap();
        // The session still works after SOL.
        bmc.chassis_status().await.unwrap();
        bmc.close().await;
    });
}
