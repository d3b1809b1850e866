//! Serial over LAN on our BMC side, driven by ipmitool (`sol activate`) and FreeIPMI
//! (`ipmiconsole`). Both want a terminal, so they run under `script` (util-linux) with a pty;
//! we type a line, the managed system's serial port receives it and echoes it back.

mod common;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{OurBmc, require};

/// Run `cmdline` on a pty, type `line` after it connects, then `escape`; return its output.
fn console(cmdline: &str, line: &str, escape: &str) -> String {
    let mut child = Command::new("script")
        .args(["-qfec", cmdline, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run script (util-linux)");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    });
    std::thread::sleep(Duration::from_millis(1500));
    // A client that exited early closed the pipe: its output says why.
    let _ = stdin.write_all(line.as_bytes());
    let _ = stdin.flush();
    std::thread::sleep(Duration::from_millis(1500));
    let _ = stdin.write_all(escape.as_bytes());
    let _ = stdin.flush();
    std::thread::sleep(Duration::from_millis(500));
    drop(stdin);
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap()
}

#[test]
fn ipmitool_sol_activate() {
    require("ipmitool", "ipmitool");
    require("script", "bsdutils");
    let bmc = OurBmc::start();
    for suite in ["3", "17"] {
        bmc.system.lock().unwrap().serial_in.clear();
        let cmd = format!(
            "ipmitool -I lanplus -H 127.0.0.1 -p {} -U admin -P password -C {suite} sol activate",
            bmc.port()
        );
        let out = console(&cmd, "hello from ipmitool\r", "\r~.");
        assert!(out.contains("[SOL Session operational"), "{out}");
        assert!(out.contains("hello from ipmitool"), "no echo in: {out:?}");
        let got = bmc.system.lock().unwrap().serial_in.clone();
        assert!(
            String::from_utf8_lossy(&got).starts_with("hello from ipmitool\r"),
            "serial port got {got:?}"
        );
        // ipmitool deactivated the payload on exit, so the next run can activate it again.
    }
}

#[test]
fn freeipmi_ipmiconsole() {
    require("ipmiconsole", "freeipmi-tools");
    require("script", "bsdutils");
    let bmc = OurBmc::start_low_port();
    let cmd = format!(
        "ipmiconsole -h 127.0.0.1:{} -u admin -p password -I 17 -l ADMIN",
        bmc.port()
    );
    let out = console(&cmd, "hello from freeipmi\r", "&.");
    assert!(out.contains("[SOL established]"), "{out}");
    assert!(out.contains("hello from freeipmi"), "no echo in: {out:?}");
    let got = bmc.system.lock().unwrap().serial_in.clone();
    assert!(
        String::from_utf8_lossy(&got).starts_with("hello from freeipmi\r"),
        "serial port got {got:?}"
    );
}
