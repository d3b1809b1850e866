//! Our BMC side driven by real clients we did not write: ipmitool (`-I lanplus`, cipher suites 3
//! and 17) and FreeIPMI (ipmipower, bmc-info, ipmi-chassis). Each answer is checked against
//! what the managed system recorded.

mod common;

use common::{OurBmc, require, run, stderr, stdout};
use ipmi_proto::cmd::chassis::{BootDevice, BootMode, BootPersistence, ChassisControl};

/// ipmitool over lanplus to our BMC, with login options `login` (`-U`, `-P`, `-C`, `-L`...)
/// and then `args`.
fn ipmitool_with(bmc: &OurBmc, login: &[&str], args: &[&str]) -> std::process::Output {
    let port = bmc.port();
    let mut a = vec![
        "-I",
        "lanplus",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
        "-N",
        "1",
        "-R",
        "3",
    ];
    a.extend_from_slice(login);
    a.extend_from_slice(args);
    run("ipmitool", &a)
}

/// ipmitool as admin with cipher suite `suite`.
fn ipmitool(bmc: &OurBmc, suite: &str, args: &[&str]) -> std::process::Output {
    ipmitool_with(bmc, &["-U", "admin", "-P", "password", "-C", suite], args)
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "failed: {}\n{}", stdout(o), stderr(o));
    stdout(o)
}

#[test]
fn ipmitool_power_boot_and_mc_info_suites_3_and_17() {
    require("ipmitool", "ipmitool");
    let bmc = OurBmc::start();
    for suite in ["3", "17"] {
        bmc.system.lock().unwrap().power_on = false;
        let out = ok(&ipmitool(&bmc, suite, &["chassis", "power", "status"]));
        assert_eq!(out.trim(), "Chassis Power is off", "suite {suite}");

        ok(&ipmitool(&bmc, suite, &["chassis", "power", "on"]));
        assert!(bmc.system.lock().unwrap().power_on);
        let out = ok(&ipmitool(&bmc, suite, &["chassis", "power", "status"]));
        assert_eq!(out.trim(), "Chassis Power is on");

        for (word, control) in [
            ("cycle", ChassisControl::PowerCycle),
            ("reset", ChassisControl::HardReset),
            ("soft", ChassisControl::SoftShutdown),
            ("off", ChassisControl::PowerDown),
        ] {
            ok(&ipmitool(&bmc, suite, &["chassis", "power", word]));
            assert_eq!(bmc.system.lock().unwrap().controls.last(), Some(&control));
        }
        assert!(!bmc.system.lock().unwrap().power_on);

        ok(&ipmitool(
            &bmc,
            suite,
            &["chassis", "bootdev", "pxe", "options=efiboot,persistent"],
        ));
        let flags = bmc.system.lock().unwrap().boot_flags().unwrap();
        assert_eq!(flags.device, BootDevice::Pxe);
        assert_eq!(flags.mode, BootMode::Efi);
        assert_eq!(flags.persistence, BootPersistence::Persistent);
        assert!(flags.valid);
        let out = ok(&ipmitool(
            &bmc,
            suite,
            &["chassis", "bootparam", "get", "5"],
        ));
        assert!(out.contains("Force PXE"), "{out}");
        assert!(out.contains("BIOS EFI boot"), "{out}");
        assert!(out.contains("Options apply to all future boots"), "{out}");

        ok(&ipmitool(&bmc, suite, &["chassis", "bootdev", "disk"]));
        let out = ok(&ipmitool(
            &bmc,
            suite,
            &["chassis", "bootparam", "get", "5"],
        ));
        assert!(out.contains("Force Boot from default Hard-Drive"), "{out}");

        let out = ok(&ipmitool(&bmc, suite, &["mc", "info"]));
        assert!(out.contains("IPMI Version              : 2.0"), "{out}");
        let out = ok(&ipmitool(&bmc, suite, &["raw", "0x06", "0x01"]));
        assert!(out.trim_start().starts_with("20 01"), "{out}");
    }
}

#[test]
fn ipmitool_wrong_password_and_privilege_limits() {
    require("ipmitool", "ipmitool");
    let bmc = OurBmc::start();
    let o = ipmitool_with(
        &bmc,
        &["-U", "admin", "-P", "wrong", "-C", "17", "-v"],
        &["chassis", "power", "status"],
    );
    assert!(!o.status.success());
    // ipmitool reports the RAKP 2 HMAC mismatch, not a timeout.
    assert!(
        stderr(&o).contains("RAKP 2 HMAC is invalid"),
        "{}",
        stderr(&o)
    );

    // A USER-privilege session may read but not control power.
    let o = ipmitool_with(
        &bmc,
        &["-U", "user", "-P", "userpass", "-L", "USER", "-C", "17"],
        &["chassis", "power", "status"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = ipmitool_with(
        &bmc,
        &["-U", "user", "-P", "userpass", "-L", "USER", "-C", "17"],
        &["chassis", "power", "on"],
    );
    assert!(!o.status.success());
    assert!(!bmc.system.lock().unwrap().power_on);

    // 20-byte passwords work in full (ipmi_sim truncates them to 19).
    let o = ipmitool_with(
        &bmc,
        &["-U", "admin20", "-P", "abcdefghijklmnopqrst", "-C", "17"],
        &["chassis", "power", "status"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn ipmitool_lists_our_cipher_suites() {
    require("ipmitool", "ipmitool");
    let bmc = OurBmc::start();
    // Without -C, ipmitool asks Get Channel Cipher Suites before the session and picks 17.
    let o = ipmitool_with(
        &bmc,
        &["-U", "admin", "-P", "password", "-v"],
        &["chassis", "power", "status"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).trim(), "Chassis Power is off");
    let o = ipmitool(&bmc, "17", &["channel", "getciphers", "ipmi", "1"]);
    let out = ok(&o);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["17", "N/A", "hmac_sha256", "sha256_128", "aes_cbc_128"],
            vec!["3", "N/A", "hmac_sha1", "hmac_sha1_96", "aes_cbc_128"],
            vec!["16", "N/A", "hmac_sha256", "sha256_128", "none"],
            vec!["2", "N/A", "hmac_sha1", "hmac_sha1_96", "none"],
            vec!["15", "N/A", "hmac_sha256", "none", "none"],
            vec!["1", "N/A", "hmac_sha1", "none", "none"],
        ],
        "{out}"
    );
}

#[test]
fn freeipmi_ipmipower_bmc_info_and_chassis() {
    require("ipmipower", "freeipmi-tools");
    let bmc = OurBmc::start();
    let host = format!("127.0.0.1:{}", bmc.port());
    for suite in ["3", "17"] {
        bmc.system.lock().unwrap().power_on = false;
        let common = [
            "-D",
            "LAN_2_0",
            "-h",
            host.as_str(),
            "-u",
            "admin",
            "-p",
            "password",
            "-I",
            suite,
            "-l",
            "ADMIN",
        ];
        let mut a = common.to_vec();
        a.push("--stat");
        let o = run("ipmipower", &a);
        assert!(o.status.success(), "{}", stderr(&o));
        // FreeIPMI prints the host without the port.
        assert_eq!(stdout(&o).trim(), "127.0.0.1: off");

        let mut a = common.to_vec();
        a.push("--on");
        let o = run("ipmipower", &a);
        assert_eq!(stdout(&o).trim(), "127.0.0.1: ok", "{}", stderr(&o));
        assert!(bmc.system.lock().unwrap().power_on);

        let mut a = common.to_vec();
        a.push("--stat");
        assert_eq!(stdout(&run("ipmipower", &a)).trim(), "127.0.0.1: on");

        let o = run("bmc-info", &common);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("IPMI Version"), "{}", stdout(&o));

        let mut a = common.to_vec();
        a.push("--get-chassis-status");
        let o = run("ipmi-chassis", &a);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stdout(&o).contains("System Power                        : on"),
            "{}",
            stdout(&o)
        );
    }
    // A wrong password is reported as such.
    let o = run(
        "ipmipower",
        &[
            "-D",
            "LAN_2_0",
            "-h",
            host.as_str(),
            "-u",
            "admin",
            "-p",
            "wrong",
            "-I",
            "17",
            "--stat",
        ],
    );
    assert!(
        stdout(&o).contains("password invalid"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
}
