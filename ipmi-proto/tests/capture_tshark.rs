//! A capture of our client's sessions with our BMC side, dissected by Wireshark's tshark:
//! every datagram is recognised as RMCP/RMCP+, none is malformed, and (with suite 2, whose
//! payloads are not encrypted) every inner IPMI message has correct checksums.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{OurBmc, require, run, stdout};
use ipmi_proto::client::{Client, PowerAction};
use ipmi_proto::session::{SessionConfig, SuiteChoice};

#[test]
fn tshark_finds_no_malformed_packet() {
    require("tshark", "tshark");
    let bmc = OurBmc::start();
    let port = bmc.port();
    let dir = std::env::temp_dir().join(format!("ipmi-proto-capture-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("session.pcap");
    let mut tshark = Command::new("tshark")
        .args([
            "-i",
            "lo",
            "-f",
            &format!("udp port {port}"),
            "-F",
            "pcap",
            "-w",
        ])
        .arg(&pcap)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start tshark");
    let pid = tshark.id().to_string();
    // Wait until dumpcap has started ("Capture started", after "Capturing on 'Loopback: lo'").
    let stderr = tshark.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("Capture started") => break,
            Some(Ok(_)) => continue,
            other => panic!("tshark did not start capturing: {other:?}"),
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = Client::builder()
            .bind("127.0.0.1:0".parse().unwrap())
            .build()
            .await
            .unwrap();
        for suite in [2u8, 17] {
            let cfg = SessionConfig::builder("admin", "password")
                .cipher_suite(SuiteChoice::Fixed(suite))
                .build()
                .unwrap();
            let b = client.bmc(bmc.addr, cfg);
            b.power(PowerAction::On).await.unwrap();
            assert!(b.power_status().await.unwrap());
            b.device_id().await.unwrap();
            b.close().await;
        }
        // Auto negotiation: Get Channel Cipher Suites before the session.
        let b = client.bmc(
            bmc.addr,
            SessionConfig::builder("admin", "password").build().unwrap(),
        );
        b.power_status().await.unwrap();
        b.close().await;
    });
    std::thread::sleep(Duration::from_millis(500));
    run("kill", &["-INT", &pid]);
    let _ = tshark.wait();

    let decode_as = format!("udp.port=={port},rmcp");
    let decode = |extra: &[&str]| {
        let mut a = vec![
            "-r",
            pcap.to_str().unwrap(),
            "-d",
            decode_as.as_str(),
            "-o",
            "ipmi.dissect_bus_commands:TRUE",
        ];
        a.extend_from_slice(extra);
        let o = run("tshark", &a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        stdout(&o)
    };
    let all = decode(&[]);
    let total = all.lines().count();
    assert!(total >= 30, "too few packets captured ({total}):\n{all}");
    let rmcp = decode(&["-Y", "rmcp"]).lines().count();
    assert_eq!(
        rmcp, total,
        "some datagrams were not dissected as RMCP:\n{all}"
    );
    let malformed = decode(&["-Y", "_ws.malformed || _ws.expert.severity >= error"]);
    assert!(
        malformed.trim().is_empty(),
        "malformed packets:\n{malformed}"
    );
    let verbose = decode(&["-V"]);
    assert!(
        !verbose.contains("incorrect, expected"),
        "bad IPMI checksums in:\n{verbose}"
    );
    // The inner messages of the unencrypted suite-2 session were dissected.
    assert!(verbose.contains("Get Chassis Status"), "{verbose}");
    let _ = std::fs::remove_dir_all(&dir);
}
