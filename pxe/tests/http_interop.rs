//! curl against our HTTP boot server on 127.0.0.1: `HEAD` (what UEFI HTTP boot sends
//! first), byte-exact `GET`s of every test file, single ranges (`-r`), `416`, resumption
//! (`-C -`), per-node iPXE scripts through a handler, traversal refused, `405`.
//! A missing curl fails the test, naming its Debian package.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{FILES, require, run, text, tree};
use pxe::http::server::HttpServer;
use pxe::http::{Files, FnHandler, Request, Response, Router};
use pxe::ipxe::{Arg, IpxeScript};
use pxe::tftp::source::{DirSource, OpenError};

struct Srv {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<String>>>,
    _rt: tokio::runtime::Runtime,
}

fn start(root: &std::path::Path) -> Srv {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let hits = Arc::new(Mutex::new(Vec::new()));
    let h2 = Arc::clone(&hits);
    let router = Router::new()
        .route(
            "/boot.ipxe",
            FnHandler::new(move |r: &Request| {
                let mac = r.query_param("mac").ok_or(OpenError::NotFound)?;
                h2.lock().unwrap().push(mac.clone());
                let s = IpxeScript::new()
                    .echo(&format!("node {mac}"))
                    .kernel("http://10.0.0.1:8080/vmlinuz")
                    .initrd("http://10.0.0.1:8080/initrd.img")
                    .arg(Arg::new("console=ttyS0").unwrap())
                    .callback("ipa-api-url", &format!("http://10.0.0.1:6385/cb?mac={mac}"))
                    .render()
                    .map_err(|e| OpenError::Other(e.to_string()))?;
                Ok(Response::script(s))
            }),
        )
        .route("/", Files(DirSource::new(root).unwrap()));
    let server = rt.block_on(async {
        HttpServer::builder(router)
            .listen("127.0.0.1:0".parse().unwrap())
            .bind()
            .await
            .unwrap()
    });
    let addr = server.local_addr().unwrap();
    rt.spawn(server.run());
    Srv {
        addr,
        hits,
        _rt: rt,
    }
}

fn curl(args: &[&str]) -> std::process::Output {
    run("curl", args)
}

/// Status line and headers of a `curl -sS -D -` answer, lower-cased.
fn headers(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_lowercase()
}

#[test]
fn curl_head_get_and_ranges_are_byte_exact() {
    require("curl", "curl");
    let root = tree();
    let srv = start(root.path());
    let out = tempfile::tempdir().unwrap();
    for (name, size) in FILES {
        let url = format!("http://{}/{name}", srv.addr);
        // HEAD: status 200, the exact length, ranges accepted, no body.
        let o = curl(&["-sS", "-I", &url]);
        assert!(o.status.success(), "HEAD {name}: {}", text(&o));
        let h = headers(&o);
        assert!(h.starts_with("http/1.1 200"), "HEAD {name}: {h}");
        assert!(h.contains(&format!("content-length: {size}\r\n")), "{h}");
        assert!(h.contains("accept-ranges: bytes"), "{h}");
        // GET: byte-exact.
        let file = out.path().join(name);
        let o = curl(&["-sS", "--fail", "-o", file.to_str().unwrap(), &url]);
        assert!(o.status.success(), "GET {name}: {}", text(&o));
        common::same(root.path(), name, &file, "curl GET");
        let want = std::fs::read(root.path().join(name)).unwrap();
        if *size < 2 {
            continue;
        }
        // Ranges: first byte, middle, open-ended, suffix.
        let mid = size / 2;
        for (spec, lo, hi) in [
            ("0-0".to_string(), 0, 0),
            (format!("1-{mid}"), 1, mid),
            (format!("{mid}-"), mid, size - 1),
            ("-1".to_string(), size - 1, size - 1),
            (format!("{}-{}", size - 1, size + 1000), size - 1, size - 1),
        ] {
            let part = out.path().join(format!("{name}.{spec}"));
            let o = curl(&[
                "-sS",
                "--fail",
                "-D",
                "-",
                "-r",
                &spec,
                "-o",
                part.to_str().unwrap(),
                &url,
            ]);
            assert!(o.status.success(), "range {spec} {name}: {}", text(&o));
            let h = headers(&o);
            assert!(h.starts_with("http/1.1 206"), "range {spec}: {h}");
            assert!(
                h.contains(&format!("content-range: bytes {lo}-{hi}/{size}")),
                "{h}"
            );
            let got = std::fs::read(&part).unwrap();
            assert!(got == want[lo..=hi], "range {spec} of {name}: wrong bytes");
        }
        // A range past the end: 416 with the size.
        let o = curl(&[
            "-sS",
            "-o",
            "/dev/null",
            "-D",
            "-",
            "-r",
            &format!("{size}-"),
            &url,
        ]);
        let h = headers(&o);
        assert!(h.starts_with("http/1.1 416"), "{h}");
        assert!(h.contains(&format!("content-range: bytes */{size}")), "{h}");
    }
    // Resume a partial download (curl -C -).
    let name = "odd.bin";
    let file = out.path().join("resume.bin");
    let want = std::fs::read(root.path().join(name)).unwrap();
    std::fs::write(&file, &want[..12_345]).unwrap();
    let url = format!("http://{}/{name}", srv.addr);
    let o = curl(&[
        "-sS",
        "--fail",
        "-C",
        "-",
        "-o",
        file.to_str().unwrap(),
        &url,
    ]);
    assert!(o.status.success(), "resume: {}", text(&o));
    common::same(root.path(), name, &file, "curl -C -");
}

#[test]
fn per_node_scripts_errors_and_methods() {
    require("curl", "curl");
    let root = tree();
    let srv = start(root.path());
    let base = format!("http://{}", srv.addr);
    // A per-node iPXE script from the handler, with the MAC from the query.
    let o = curl(&[
        "-sS",
        "--fail",
        &format!("{base}/boot.ipxe?mac=52%3A54%3A00%3A12%3A34%3A56"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let body = String::from_utf8_lossy(&o.stdout);
    assert!(
        body.starts_with("#!ipxe\necho node 52:54:00:12:34:56\n"),
        "{body}"
    );
    assert!(
        body.contains("ipa-api-url=http://10.0.0.1:6385/cb?mac=52:54:00:12:34:56"),
        "{body}"
    );
    assert!(body.contains("initrd --name initrd0 http://10.0.0.1:8080/initrd.img"));
    // HEAD on the script: the same length as the GET body.
    let o = curl(&["-sS", "-I", &format!("{base}/boot.ipxe?mac=x")]);
    let h = headers(&o);
    assert!(h.starts_with("http/1.1 200"), "{h}");
    assert_eq!(
        srv.hits.lock().unwrap().as_slice(),
        ["52:54:00:12:34:56", "x"]
    );
    // Without a MAC the script route falls through to the files: none there, 404.
    let code = |args: &[&str]| {
        let mut a = vec!["-sS", "-o", "/dev/null", "-w", "%{http_code}"];
        a.extend_from_slice(args);
        let o = curl(&a);
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    assert_eq!(code(&[&format!("{base}/boot.ipxe")]), "404");
    assert_eq!(code(&[&format!("{base}/nope")]), "404");
    assert_eq!(code(&[&format!("{base}/sub")]), "403");
    assert_eq!(code(&[&format!("{base}/sub/nested.txt")]), "200");
    // Traversal: sent as is, refused; the answer names no server path.
    assert_eq!(
        code(&["--path-as-is", &format!("{base}/../../etc/passwd")]),
        "403"
    );
    assert_eq!(code(&[&format!("{base}/%2e%2e/%2e%2e/etc/passwd")]), "403");
    let o = curl(&["-sS", "--path-as-is", &format!("{base}/../x")]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains(root.path().to_str().unwrap()));
    // Other methods.
    assert_eq!(code(&["-X", "POST", &format!("{base}/odd.bin")]), "405");
    // Keep-alive: several URLs on one connection, all right.
    let n = AtomicUsize::new(0);
    let o = curl(&[
        "-sS",
        "--fail",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        "%{num_connects}\n",
        &format!("{base}/odd.bin"),
        &format!("{base}/exact512.bin"),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    for l in String::from_utf8_lossy(&o.stdout).lines() {
        n.fetch_add(l.trim().parse::<usize>().unwrap(), Ordering::Relaxed);
    }
    assert_eq!(n.load(Ordering::Relaxed), 1, "connection not reused");
}
