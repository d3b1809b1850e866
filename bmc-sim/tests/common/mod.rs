//! Helpers shared by bmc-sim's tests: peers, curl, a tiny image server.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A tokio runtime with two workers, for a fleet driven from a synchronous test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A fleet of `count` nodes with both faces (IPMI and Redfish on 127.0.0.1), started on `rt`.
pub fn both_faces(rt: &tokio::runtime::Runtime, count: u32) -> bmc_sim::Fleet {
    rt.block_on(bmc_sim::Fleet::start(
        bmc_sim::FleetConfig::builder()
            .count(count)
            .redfish("127.0.0.1:0".parse().unwrap()),
    ))
    .unwrap()
}

/// Fail (never skip) when a peer program is missing.
pub fn require(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "peer missing: `{program}` (Debian package `{package}`); run scripts/test.sh"
    );
}

/// curl: returns (status, headers, body).
/// `curl -u USER -X METHOD` with a JSON body: (status, headers, body).
pub fn curl_json(method: &str, user: &str, body: &str, url: &str) -> (u16, String, String) {
    curl(&[
        "-u",
        user,
        "-X",
        method,
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
        url,
    ])
}

pub fn curl(args: &[&str]) -> (u16, String, String) {
    let mut a = vec!["-s", "-D", "-", "-o", "/dev/stdout", "-w", "\n%{http_code}"];
    a.extend_from_slice(args);
    let o = Command::new("curl").args(&a).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let (rest, code) = out.rsplit_once('\n').unwrap();
    let (headers, body) = rest.split_once("\r\n\r\n").unwrap_or((rest, ""));
    (
        code.trim().parse().unwrap(),
        headers.to_string(),
        body.to_string(),
    )
}

/// A tiny image server: 200 for paths ending in `.iso`, 404 otherwise; returns its base URL.
pub fn image_server() -> String {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut first = String::new();
            let mut r = BufReader::new(s.try_clone().unwrap());
            if r.read_line(&mut first).is_err() {
                continue;
            }
            let mut line = String::new();
            while r.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                line.clear();
            }
            let path = first.split_whitespace().nth(1).unwrap_or("");
            let status = if path.ends_with(".iso") {
                "200 OK"
            } else {
                "404 Not Found"
            };
            let _ = s.write_all(
                format!(
                    "HTTP/1.1 {status}\r\nContent-Length: 1048576\r\nConnection: close\r\n\r\n"
                )
                .as_bytes(),
            );
        }
    });
    base
}

pub fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

pub fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// `ipmitool -I lanplus -C 17` against 127.0.0.1:`port` as `user`; the output whatever the exit
/// status (for tests that expect a refusal).
pub fn ipmitool_as(port: u16, user: &str, password: &str, args: &[&str]) -> Output {
    let port = port.to_string();
    Command::new("ipmitool")
        .args(["-I", "lanplus", "-H", "127.0.0.1", "-p", &port])
        .args(["-U", user, "-P", password, "-C", "17"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ipmitool: {e}"))
}

/// `ipmitool` as admin/password (see [`ipmitool_as`]); fails the test unless it succeeds and
/// returns its standard output.
pub fn ipmitool(port: u16, args: &[&str]) -> String {
    let o = ipmitool_as(port, "admin", "password", args);
    assert!(
        o.status.success(),
        "ipmitool {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A self-signed certificate for 127.0.0.1 made by `openssl req` in `dir`: (cert, key).
pub fn self_signed_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let o = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (cert, key)
}
