//! Our BMC side's SDR repository, sensors, SEL and FRU inventory (`SimpleSystem::default()`)
//! read by real clients we did not write: ipmitool (`sdr`, `sensor`, `sel`, `fru`) and FreeIPMI
//! (`ipmi-sensors`, `ipmi-sel`, `ipmi-fru`). The converted values, names, thresholds and
//! events they print are checked, and so is what a SEL clear did to the managed system.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::{OurBmc, require, run, stderr, stdout};

fn ipmitool_as(bmc: &OurBmc, user: &str, password: &str, args: &[&str]) -> Output {
    let port = bmc.port();
    let mut a = vec![
        "-I",
        "lanplus",
        "-H",
        "127.0.0.1",
        "-p",
        &port,
        "-U",
        user,
        "-P",
        password,
        "-C",
        "17",
        "-N",
        "1",
        "-R",
        "3",
    ];
    a.extend_from_slice(args);
    run("ipmitool", &a)
}

fn ipmitool(bmc: &OurBmc, args: &[&str]) -> Output {
    ipmitool_as(bmc, "admin", "password", args)
}

/// A fresh SDR cache directory for FreeIPMI, removed on drop, so that no cache leaks between
/// runs (or between tests, whose BMCs may reuse a port).
struct CacheDir(PathBuf);

impl CacheDir {
    fn new(bmc: &OurBmc, name: &str) -> Self {
        let d = std::env::temp_dir().join(format!(
            "ipmi-proto-storage-{}-{}-{name}",
            std::process::id(),
            bmc.port()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        CacheDir(d)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for CacheDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A FreeIPMI tool against our BMC (suite 17, ADMIN), with its own SDR cache, recreated.
fn freeipmi(program: &str, bmc: &OurBmc, cache: &CacheDir, args: &[&str]) -> Output {
    let host = format!("127.0.0.1:{}", bmc.port());
    let mut a = vec![
        "-D",
        "LAN_2_0",
        "-h",
        host.as_str(),
        "-u",
        "admin",
        "-p",
        "password",
        "-I",
        "17",
        "-l",
        "ADMIN",
        "--sdr-cache-directory",
        cache.path(),
        "--sdr-cache-recreate",
    ];
    a.extend_from_slice(args);
    run(program, &a)
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}\n{}", stdout(o), stderr(o));
    stdout(o)
}

/// The `|`-separated cells of each non-empty line, trimmed.
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split('|').map(|c| c.trim().to_string()).collect())
        .collect()
}

fn cells(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// The `key: value` lines of `fru print` / `ipmi-fru` output, in order.
fn fields(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[test]
fn ipmitool_sdr_and_sensor_lists() {
    require("ipmitool", "ipmitool");
    let bmc = OurBmc::start();

    let out = ok(&ipmitool(&bmc, &["sdr", "info"]));
    assert!(
        out.contains("Record Count                        : 6"),
        "{out}"
    );
    assert!(
        out.contains("Reserve SDR repository supported    : yes"),
        "{out}"
    );

    let out = ok(&ipmitool(&bmc, &["sdr", "list"]));
    assert_eq!(
        rows(&out),
        vec![
            cells(&["Inlet Temp", "24 degrees C", "ok"]),
            cells(&["CPU Temp", "45 degrees C", "ok"]),
            cells(&["FAN1", "4800 RPM", "ok"]),
            cells(&["12V", "12 Volts", "ok"]),
        ],
        "{out}"
    );
    // ipmitool reads each record in two parts (header, then the rest at offset 5), which
    // needs a reservation.
    assert_ne!(bmc.system.lock().unwrap().storage.sdr.reservation(), 0);

    let out = ok(&ipmitool(&bmc, &["sdr", "elist"]));
    assert_eq!(
        rows(&out),
        vec![
            cells(&["Inlet Temp", "01h", "ok", "55.1", "24 degrees C"]),
            cells(&["CPU Temp", "02h", "ok", "3.1", "45 degrees C"]),
            cells(&["FAN1", "03h", "ok", "29.1", "4800 RPM"]),
            cells(&["12V", "04h", "ok", "7.1", "12 Volts"]),
        ],
        "{out}"
    );

    // With the locator records.
    let out = ok(&ipmitool(&bmc, &["sdr", "list", "all"]));
    let r = rows(&out);
    assert_eq!(r.len(), 6, "{out}");
    assert_eq!(r[0], cells(&["BMC", "Dynamic MC @ 20h", "ok"]), "{out}");
    assert_eq!(
        r[5],
        cells(&["Baseboard FRU", "Log FRU @00h 07.1", "ok"]),
        "{out}"
    );

    let na = ["na", "na", "na"];
    let sensors = |out: &str| -> Vec<Vec<String>> { rows(out) };
    let out = ok(&ipmitool(&bmc, &["sensor", "list"]));
    assert_eq!(
        sensors(&out),
        vec![
            cells(&[&["Inlet Temp", "24.000", "degrees C", "ok"][..], &na, &na].concat()),
            cells(
                &[
                    &["CPU Temp", "45.000", "degrees C", "ok"][..],
                    &na,
                    &["85.000", "90.000", "95.000"]
                ]
                .concat()
            ),
            cells(&[&["FAN1", "4800.000", "RPM", "ok"][..], &na, &na].concat()),
            cells(&[&["12V", "12.000", "Volts", "ok"][..], &na, &na].concat()),
        ],
        "{out}"
    );

    let out = ok(&ipmitool(&bmc, &["sensor", "get", "CPU Temp"]));
    assert!(
        out.contains("Sensor Reading        : 45 (+/- 0) degrees C"),
        "{out}"
    );
    assert!(out.contains("Upper Critical        : 90.000"), "{out}");

    // The reading crosses the thresholds: ipmitool's status follows.
    for (raw, status) in [(86, "nc"), (91, "cr"), (99, "nr"), (45, "ok")] {
        assert!(bmc.system.lock().unwrap().storage.set_reading(2, raw));
        let out = ok(&ipmitool(&bmc, &["sdr", "list"]));
        assert_eq!(
            rows(&out)[1],
            cells(&["CPU Temp", &format!("{raw} degrees C"), status]),
            "{out}"
        );
    }
}

#[test]
fn ipmitool_sel_info_list_and_clear() {
    require("ipmitool", "ipmitool");
    let bmc = OurBmc::start();

    let out = ok(&ipmitool(&bmc, &["sel", "info"]));
    assert!(
        out.contains("Version          : 1.5 (v1.5, v2 compliant)"),
        "{out}"
    );
    assert!(out.contains("Entries          : 3"), "{out}");
    assert!(out.contains("Free Space       : 8144 bytes"), "{out}");
    assert!(out.contains("Overflow         : false"), "{out}");
    assert!(out.contains("Supported Cmds   : 'Reserve'"), "{out}");

    // Date and time (columns 1 and 2) depend on the time zone; the rest does not.
    let without_time = |out: &str| -> Vec<Vec<String>> {
        rows(out)
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .enumerate()
                    .filter(|(i, _)| *i != 1 && *i != 2)
                    .map(|(_, c)| c)
                    .collect()
            })
            .collect()
    };
    let out = ok(&ipmitool(&bmc, &["sel", "list"]));
    assert_eq!(
        without_time(&out),
        vec![
            cells(&[
                "1",
                "Temperature #0x02",
                "Upper Critical going high",
                "Asserted"
            ]),
            cells(&[
                "2",
                "Temperature #0x02",
                "Upper Critical going high",
                "Deasserted"
            ]),
            cells(&["3", "Voltage #0x04", "Lower Critical going low", "Asserted"]),
        ],
        "{out}"
    );
    // The extended list names the sensors from the SDRs and converts the readings.
    let out = ok(&ipmitool(&bmc, &["sel", "elist"]));
    assert_eq!(
        without_time(&out),
        vec![
            cells(&[
                "1",
                "Temperature CPU Temp",
                "Upper Critical going high",
                "Asserted",
                "Reading 91 > Threshold 90 degrees C"
            ]),
            cells(&[
                "2",
                "Temperature CPU Temp",
                "Upper Critical going high",
                "Deasserted",
                "Reading 88 < Threshold 90 degrees C"
            ]),
            cells(&[
                "3",
                "Voltage 12V",
                "Lower Critical going low",
                "Asserted",
                "Reading 10.80 < Threshold 11.40 Volts"
            ]),
        ],
        "{out}"
    );
    // The last two (ipmitool asks for entry 0xFFFF, the last, and walks from there).
    let out = ok(&ipmitool(&bmc, &["sel", "list", "last", "2"]));
    let ids: Vec<String> = rows(&out).into_iter().map(|r| r[0].clone()).collect();
    assert_eq!(ids, vec!["2", "3"], "{out}");

    // A USER session may not clear the SEL.
    let o = ipmitool_as(&bmc, "user", "userpass", &["-L", "USER", "sel", "clear"]);
    assert!(
        stderr(&o).contains("Insufficient privilege level"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert_eq!(bmc.system.lock().unwrap().storage.sel.len(), 3);

    let out = ok(&ipmitool(&bmc, &["sel", "clear"]));
    assert!(out.contains("Clearing SEL"), "{out}");
    assert!(bmc.system.lock().unwrap().storage.sel.is_empty());
    let o = ipmitool(&bmc, &["sel", "list"]);
    assert_eq!(ok(&o).trim(), "");
    assert!(stderr(&o).contains("SEL has no entries"), "{}", stderr(&o));
    let out = ok(&ipmitool(&bmc, &["sel", "info"]));
    assert!(out.contains("Entries          : 0"), "{out}");
    assert!(!out.contains("Last Del Time    : Not Available"), "{out}");
}

#[test]
fn ipmitool_fru_print() {
    require("ipmitool", "ipmitool");
    let bmc = OurBmc::start();
    let out = ok(&ipmitool(&bmc, &["fru", "print", "0"]));
    let f = fields(&out);
    for (key, want) in [
        ("Board Mfg", "Acme"),
        ("Board Product", "Virtual Board"),
        ("Board Serial", "VB-0001"),
        ("Board Part Number", "VB-1"),
        ("Product Manufacturer", "Acme"),
        ("Product Name", "Virtual Node"),
        ("Product Serial", "VN-0001"),
    ] {
        assert_eq!(field(&f, key), Some(want), "{key}: {out}");
    }
    assert!(
        field(&f, "Board Mfg Date").is_some_and(|d| d.contains("2023")),
        "{out}"
    );

    // All FRUs: the built-in one, once (the FRU locator record points at the same device).
    let out = ok(&ipmitool(&bmc, &["fru", "print"]));
    assert_eq!(
        out.matches("FRU Device Description : Builtin FRU Device (ID 0)")
            .count(),
        1,
        "{out}"
    );
    assert_eq!(out.matches("Virtual Node").count(), 1, "{out}");

    let o = ipmitool(&bmc, &["fru", "print", "1"]);
    assert!(
        format!("{}{}", stdout(&o), stderr(&o)).contains("Device not present"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
}

#[test]
fn freeipmi_sensors() {
    require("ipmi-sensors", "freeipmi-tools");
    let bmc = OurBmc::start();
    let cache = CacheDir::new(&bmc, "sensors");

    let out = ok(&freeipmi("ipmi-sensors", &bmc, &cache, &[]));
    assert_eq!(
        rows(&out),
        vec![
            cells(&["ID", "Name", "Type", "Reading", "Units", "Event"]),
            cells(&["2", "Inlet Temp", "Temperature", "24.00", "C", "'OK'"]),
            cells(&["3", "CPU Temp", "Temperature", "45.00", "C", "'OK'"]),
            cells(&["4", "FAN1", "Fan", "4800.00", "RPM", "'OK'"]),
            cells(&["5", "12V", "Voltage", "12.00", "V", "'OK'"]),
        ],
        "{out}"
    );

    let out = ok(&freeipmi(
        "ipmi-sensors",
        &bmc,
        &cache,
        &["--output-sensor-thresholds"],
    ));
    let r = rows(&out);
    assert_eq!(
        r[0],
        cells(&[
            "ID", "Name", "Type", "Reading", "Units", "Lower NR", "Lower C", "Lower NC",
            "Upper NC", "Upper C", "Upper NR", "Event"
        ]),
        "{out}"
    );
    assert_eq!(
        r[2],
        cells(&[
            "3",
            "CPU Temp",
            "Temperature",
            "45.00",
            "C",
            "N/A",
            "N/A",
            "N/A",
            "85.00",
            "90.00",
            "95.00",
            "'OK'"
        ]),
        "{out}"
    );
    assert_eq!(
        r[3][5..11],
        cells(&["N/A"; 6])[..],
        "no thresholds on FAN1: {out}"
    );

    for (raw, event) in [
        (86, "'At or Above (>=) Upper Non-Critical Threshold'"),
        (91, "'At or Above (>=) Upper Critical Threshold'"),
        (99, "'At or Above (>=) Upper Non-Recoverable Threshold'"),
    ] {
        assert!(bmc.system.lock().unwrap().storage.set_reading(2, raw));
        let out = ok(&freeipmi("ipmi-sensors", &bmc, &cache, &[]));
        assert_eq!(
            rows(&out)[2],
            cells(&[
                "3",
                "CPU Temp",
                "Temperature",
                &format!("{raw}.00"),
                "C",
                event
            ]),
            "{out}"
        );
    }
}

#[test]
fn freeipmi_sel_and_fru() {
    require("ipmi-sel", "freeipmi-tools");
    require("ipmi-fru", "freeipmi-tools");
    let bmc = OurBmc::start();
    let cache = CacheDir::new(&bmc, "sel");

    let out = ok(&freeipmi("ipmi-sel", &bmc, &cache, &["--info"]));
    assert!(
        out.contains("Number of log entries                  : 3"),
        "{out}"
    );
    assert!(
        out.contains("Free space remaining                   : 8144 bytes"),
        "{out}"
    );
    assert!(
        out.contains("Reserve SEL Command                    : supported"),
        "{out}"
    );

    // Columns: ID, date, time, name, type, event (date and time depend on the time zone).
    let out = ok(&freeipmi("ipmi-sel", &bmc, &cache, &[]));
    let r: Vec<Vec<String>> = rows(&out)
        .into_iter()
        .map(|r| [&r[..1], &r[3..]].concat())
        .collect();
    assert_eq!(
        r,
        vec![
            cells(&["ID", "Name", "Type", "Event"]),
            cells(&[
                "1",
                "CPU Temp",
                "Temperature",
                "Upper Critical - going high ; Sensor Reading = 91.00 C ; Threshold = 90.00 C"
            ]),
            cells(&[
                "2",
                "CPU Temp",
                "Temperature",
                "Upper Critical - going high ; Sensor Reading = 88.00 C ; Threshold = 90.00 C"
            ]),
            cells(&[
                "3",
                "12V",
                "Voltage",
                "Lower Critical - going low ; Sensor Reading = 10.80 V ; Threshold = 11.40 V"
            ]),
        ],
        "{out}"
    );

    let out = ok(&freeipmi("ipmi-fru", &bmc, &cache, &[]));
    assert!(
        out.contains("FRU Inventory Device: Baseboard FRU (ID 00h)"),
        "{out}"
    );
    assert_eq!(out.matches("FRU Inventory Device:").count(), 1, "{out}");
    let f = fields(&out);
    for (key, want) in [
        ("FRU Board Manufacturer", "Acme"),
        ("FRU Board Product Name", "Virtual Board"),
        ("FRU Board Serial Number", "VB-0001"),
        ("FRU Board Part Number", "VB-1"),
        ("FRU Product Manufacturer Name", "Acme"),
        ("FRU Product Name", "Virtual Node"),
        ("FRU Product Serial Number", "VN-0001"),
    ] {
        assert_eq!(field(&f, key), Some(want), "{key}: {out}");
    }

    // Clear (FreeIPMI initiates, then polls the erasure status with the same reservation).
    let out = ok(&freeipmi("ipmi-sel", &bmc, &cache, &["--clear"]));
    assert_eq!(out.trim(), "");
    assert!(bmc.system.lock().unwrap().storage.sel.is_empty());
    let out = ok(&freeipmi("ipmi-sel", &bmc, &cache, &[]));
    assert_eq!(out.trim(), "", "{out}");
    let out = ok(&freeipmi("ipmi-sel", &bmc, &cache, &["--info"]));
    assert!(
        out.contains("Number of log entries                  : 0"),
        "{out}"
    );
}
