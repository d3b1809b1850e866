//! The HTTP source against a test server written here (plain `std::net`, one request per
//! connection) that misbehaves on purpose: it drops connections mid-body, stalls, ignores
//! ranges, fails with 503, and replaces the object mid-stream. Every streamable format
//! (raw, qcow2 by ranged reads, gzip, zstd, xz, bzip2) must come out byte-identical after
//! resumes, and a changed object must fail the write, never pass as an image.
#![cfg(feature = "http")]

mod common;

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Fixture, run_to_file, sha256_spec};
use imaging::{
    Checksum, Error, FileTarget, Format, HttpError, HttpSource, HttpSourceBuilder, WriteOptions,
    write_image,
};

#[derive(Clone)]
struct Object {
    body: Arc<Vec<u8>>,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// What the server does to one response, by absolute object offset.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Close the connection once the body reaches this offset.
    Cut(u64),
    /// Stop sending at this offset and hold the connection for a while.
    Stall(u64),
    /// Cut at this offset, then replace the object with the next version.
    CutAndChange(u64),
    /// Answer 503.
    Unavailable,
}

#[derive(Default)]
struct State {
    versions: VecDeque<Object>,
    faults: VecDeque<Fault>,
    /// Faults only apply to responses whose body reaches this far (the image stream, not
    /// small ranged metadata reads).
    fault_min_len: u64,
    ignore_ranges: bool,
    /// Answer a resumed request with 206 even when If-Range does not match.
    ignore_if_range: bool,
    requests: u32,
    ranged: u32,
    extra: Vec<(String, Vec<u8>)>,
}

struct Server {
    url: String,
    state: Arc<Mutex<State>>,
}

impl Server {
    fn start(obj: Object) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            versions: VecDeque::from([obj]),
            fault_min_len: 0,
            ..State::default()
        }));
        let st = state.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &st);
                });
            }
        });
        Server {
            url: format!("http://127.0.0.1:{port}/images/disk.img"),
            state,
        }
    }

    fn faults(&self, f: &[Fault], min_len: u64) {
        let mut s = self.state.lock().unwrap();
        s.faults = f.iter().copied().collect();
        s.fault_min_len = min_len;
    }

    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

fn serve(conn: TcpStream, st: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    let mut if_range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((&h, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "range" => range = Some(v.trim().to_string()),
            "if-range" => if_range = Some(v.trim().to_string()),
            _ => {}
        }
    }
    let mut conn = conn;
    let (obj, ignore_ranges, ignore_if_range) = {
        let mut s = st.lock().unwrap();
        s.requests += 1;
        if let Some((_, body)) = s.extra.iter().find(|(p, _)| *p == path) {
            let body = body.clone();
            drop(s);
            write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            return conn.write_all(&body);
        }
        if range.is_some() {
            s.ranged += 1;
        }
        let obj = s.versions.front().unwrap().clone();
        (obj, s.ignore_ranges, s.ignore_if_range)
    };
    let len = obj.body.len() as u64;
    let validator_ok = match &if_range {
        None => true,
        Some(v) => {
            Some(v) == obj.etag.as_ref() || Some(v) == obj.last_modified.as_ref() || ignore_if_range
        }
    };
    let (start, end) = match (&range, ignore_ranges, validator_ok) {
        (Some(r), false, true) => {
            let r = r.strip_prefix("bytes=").unwrap();
            let (a, b) = r.split_once('-').unwrap();
            let a: u64 = a.parse().unwrap();
            let b: u64 = if b.is_empty() {
                len - 1
            } else {
                b.parse::<u64>().unwrap().min(len - 1)
            };
            if a >= len {
                write!(
                    conn,
                    "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{len}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )?;
                return Ok(());
            }
            (a, b + 1)
        }
        _ => (0, len),
    };
    // The fault for this response, if its body is long enough to be the image stream.
    let fault = {
        let mut s = st.lock().unwrap();
        if end - start >= s.fault_min_len {
            s.faults.pop_front()
        } else {
            None
        }
    };
    if let Some(Fault::Unavailable) = fault {
        write!(
            conn,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        return Ok(());
    }
    let mut head = if range.is_some() && !ignore_ranges && validator_ok {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{len}\r\n",
            end - 1
        )
    } else {
        "HTTP/1.1 200 OK\r\n".to_string()
    };
    head.push_str(&format!(
        "Content-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n",
        end - start
    ));
    if let Some(e) = &obj.etag {
        head.push_str(&format!("ETag: {e}\r\n"));
    }
    if let Some(l) = &obj.last_modified {
        head.push_str(&format!("Last-Modified: {l}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    let stop = match fault {
        Some(Fault::Cut(at)) | Some(Fault::Stall(at)) | Some(Fault::CutAndChange(at)) => {
            at.clamp(start, end)
        }
        _ => end,
    };
    let mut at = start;
    while at < stop {
        let n = (stop - at).min(64 << 10);
        conn.write_all(&obj.body[at as usize..(at + n) as usize])?;
        at += n;
    }
    conn.flush()?;
    match fault {
        Some(Fault::Stall(_)) => std::thread::sleep(Duration::from_secs(3)),
        Some(Fault::CutAndChange(_)) => {
            let mut s = st.lock().unwrap();
            if s.versions.len() > 1 {
                s.versions.pop_front();
            }
        }
        _ => {}
    }
    let _ = conn.shutdown(std::net::Shutdown::Both);
    Ok(())
}

fn fast(url: &str) -> HttpSourceBuilder {
    HttpSource::builder(url)
        .retries(4)
        .backoff(Duration::from_millis(10), Duration::from_millis(80))
        .read_timeout(Duration::from_millis(400))
        .connect_timeout(Duration::from_secs(5))
}

fn object(body: Vec<u8>, etag: &str) -> Object {
    Object {
        body: Arc::new(body),
        etag: Some(format!("\"{etag}\"")),
        last_modified: Some("Wed, 25 Nov 2026 10:00:00 GMT".into()),
    }
}

const SIZE: usize = (6 << 20) + 7 * 512;

fn http_write(
    fx: &Fixture,
    src: &mut HttpSource,
    checksum: Option<String>,
) -> imaging::Result<Vec<u8>> {
    let out = fx.path("out-http.img");
    let mut target = FileTarget::create(&out)?;
    let mut b = WriteOptions::builder().verify(true).buffer_size(256 << 10);
    if let Some(c) = checksum {
        b = b.checksum(c.parse::<Checksum>()?);
    }
    write_image(src, &mut target, &b.build()?)?;
    Ok(std::fs::read(out).unwrap())
}

/// Every streamable format survives cuts and a stall, resumed with Range requests.
#[test]
fn every_format_resumes_after_cuts_and_stalls() {
    let fx = Fixture::new(SIZE, 31);
    let mut files: Vec<(std::path::PathBuf, Format)> = vec![(fx.raw.clone(), Format::Raw)];
    files.push((fx.qcow2("v3.qcow2", &["-o", "compat=1.1"]), Format::Qcow2));
    files.push((
        fx.qcow2(
            "zstd.qcow2",
            &["-c", "-o", "compat=1.1,compression_type=zstd"],
        ),
        Format::Qcow2,
    ));
    for (prog, args, name, format) in [
        ("gzip", &["-6", "-n", "-c"][..], "disk.raw.gz", Format::Gzip),
        (
            "zstd",
            &["-q", "-3", "-c"][..],
            "disk.raw.zst",
            Format::Zstd,
        ),
        (
            "xz",
            &["-1", "-T2", "--block-size=1MiB", "-c"][..],
            "disk.raw.xz",
            Format::Xz,
        ),
        ("bzip2", &["-9", "-c"][..], "disk.raw.bz2", Format::Bzip2),
    ] {
        let out = fx.path(name);
        run_to_file(prog, args, &fx.raw, &out);
        files.push((out, format));
    }
    for (file, format) in files {
        let body = std::fs::read(&file).unwrap();
        let len = body.len() as u64;
        let server = Server::start(object(body, "v1"));
        // qcow2's header and table reads are small ranged requests: faults hit the stream.
        server.faults(
            &[
                Fault::Cut(len / 5),
                Fault::Stall(len / 2),
                Fault::Unavailable,
                Fault::Cut(len * 4 / 5),
            ],
            len / 3,
        );
        let mut src = fast(&server.url).open().unwrap();
        let out = http_write(&fx, &mut src, Some(sha256_spec(&file)))
            .unwrap_or_else(|e| panic!("{} ({format}): {e}", file.display()));
        assert!(out == fx.image, "{}: output differs", file.display());
        assert!(
            src.resumes() >= 3,
            "{}: only {} resumes",
            file.display(),
            src.resumes()
        );
        if format == Format::Qcow2 {
            assert!(server.st().ranged >= 3, "qcow2 tables not read by ranges");
        }
    }
}

fn source_error(e: &Error) -> Option<HttpError> {
    match e {
        Error::Http(h) => Some(h.clone()),
        Error::Io { error, .. } => error
            .get_ref()
            .and_then(|e| e.downcast_ref::<HttpError>())
            .cloned(),
        _ => None,
    }
}

/// The object is replaced after a cut: the resumed request must not mix the two.
#[test]
fn changed_object_fails_cleanly() {
    let fx = Fixture::new(SIZE, 32);
    let mut v2 = fx.image.clone();
    v2[3 << 20] ^= 0xff;
    // (ETag + date, server honours If-Range: 200 whole new object), (server ignores
    // If-Range: 206 with the new ETag), (date only), (length only, when allowed)
    for case in 0..4 {
        let mut a = object(fx.image.clone(), "v1");
        let mut b = object(v2.clone(), "v2");
        match case {
            2 => {
                a.etag = None;
                b.etag = None;
                b.last_modified = Some("Thu, 26 Nov 2026 10:00:00 GMT".into());
            }
            3 => {
                a.etag = None;
                b.etag = None;
                a.last_modified = None;
                b.last_modified = None;
                b.body = Arc::new(v2[..SIZE - 512].to_vec());
            }
            _ => {}
        }
        let server = Server::start(a);
        server.st().versions.push_back(b);
        server.st().ignore_if_range = case == 1;
        server.faults(&[Fault::CutAndChange(2 << 20)], 0);
        let mut src = fast(&server.url)
            .allow_unvalidated_resume(case == 3)
            .open()
            .unwrap();
        let err = http_write(&fx, &mut src, None).expect_err("a changed object must fail");
        let h = source_error(&err).unwrap_or_else(|| panic!("case {case}: {err}"));
        assert!(matches!(h, HttpError::Changed { .. }), "case {case}: {h}");
        assert!(err.to_string().contains("changed"), "{err}");
    }
}

/// Without ETag or Last-Modified, a break is not resumed unless allowed.
#[test]
fn no_validator_no_resume() {
    let fx = Fixture::new(SIZE, 33);
    let mut a = object(fx.image.clone(), "x");
    a.etag = None;
    a.last_modified = None;
    let server = Server::start(a);
    server.faults(&[Fault::Cut(1 << 20)], 0);
    let mut src = fast(&server.url).open().unwrap();
    let err = http_write(&fx, &mut src, None).unwrap_err();
    assert!(
        matches!(source_error(&err), Some(HttpError::NoValidator { offset, .. }) if offset > 0),
        "{err}"
    );
    // allowed (length checked), the same object resumes fine
    server.faults(&[Fault::Cut(1 << 20)], 0);
    let mut src = fast(&server.url)
        .allow_unvalidated_resume(true)
        .open()
        .unwrap();
    assert!(http_write(&fx, &mut src, Some(sha256_spec(&fx.raw))).unwrap() == fx.image);
}

/// A server that ignores Range: the source re-reads and discards what it has.
#[test]
fn server_without_ranges() {
    let fx = Fixture::new(SIZE, 34);
    let server = Server::start(object(fx.image.clone(), "v1"));
    server.st().ignore_ranges = true;
    server.faults(&[Fault::Cut(3 << 20), Fault::Cut(5 << 20)], 0);
    let mut src = fast(&server.url).open().unwrap();
    assert!(http_write(&fx, &mut src, Some(sha256_spec(&fx.raw))).unwrap() == fx.image);
    assert_eq!(src.resumes(), 2);
}

/// Bounded retries: a server that keeps failing ends the write with an error.
#[test]
fn retries_are_bounded() {
    let fx = Fixture::new(1 << 20, 35);
    let server = Server::start(object(fx.image.clone(), "v1"));
    server.faults(&[Fault::Cut(4096); 1], 0);
    server
        .st()
        .faults
        .extend(std::iter::repeat_n(Fault::Unavailable, 20));
    let mut src = fast(&server.url).open().unwrap();
    let err = http_write(&fx, &mut src, None).unwrap_err();
    assert!(
        matches!(
            source_error(&err),
            Some(HttpError::RetriesExhausted { attempts: 5, .. })
        ),
        "{err}"
    );
    // a stall on every attempt
    let server = Server::start(object(fx.image.clone(), "v1"));
    server.faults(&[Fault::Stall(8192); 8], 0);
    let mut src = fast(&server.url).retries(2).open().unwrap();
    let err = http_write(&fx, &mut src, None).unwrap_err();
    assert!(err.to_string().contains("stalled"), "{err}");
}

/// The checksum given as the URL of a `SHA256SUMS` file.
#[test]
fn checksum_file_url() {
    let fx = Fixture::new(SIZE, 36);
    let server = Server::start(object(fx.image.clone(), "v1"));
    let good = sha256_spec(&fx.raw);
    let hex = good.strip_prefix("sha256:").unwrap();
    let list = format!(
        "# SHA256SUMS\n{}  other.img\n{hex}  disk.img\n",
        "0".repeat(64)
    );
    let base = server.url.rsplit_once('/').unwrap().0.to_string();
    server
        .st()
        .extra
        .push(("/images/SHA256SUMS".into(), list.into_bytes()));
    let list_url = format!("{base}/SHA256SUMS");
    let c = imaging::checksum_from_url(&list_url, &server.url, false).unwrap();
    assert_eq!(c.to_string(), good);
    let mut src = fast(&server.url).open().unwrap();
    let out = http_write(&fx, &mut src, Some(c.to_string())).unwrap();
    assert!(out == fx.image);
    // not listed
    let err = imaging::checksum_from_url(&list_url, "nothere.img", false).unwrap_err();
    assert!(matches!(err, Error::ChecksumNotListed { .. }), "{err}");
    // a wrong digest from the list fails the write and says both values
    server.st().extra[0].1 = format!("{}  disk.img\n", "1".repeat(64)).into_bytes();
    let c = imaging::checksum_from_url(&list_url, "disk.img", false).unwrap();
    let mut src = fast(&server.url).open().unwrap();
    let err = http_write(&fx, &mut src, Some(c.to_string())).unwrap_err();
    assert!(
        matches!(err, Error::ChecksumMismatch { .. }) && err.to_string().contains(hex),
        "{err}"
    );
}

/// A raw image over HTTP with a bmap (made by `bmaptool create`): gaps between mapped ranges
/// are read through rather than costing a request each, a cut is resumed, every range is
/// checked.
#[test]
fn raw_with_bmap_over_http() {
    let fx = Fixture::new(SIZE, 37);
    let bmap_path = fx.path("disk.bmap");
    common::run(
        "bmaptool",
        &[
            "create",
            "-o",
            bmap_path.to_str().unwrap(),
            fx.raw.to_str().unwrap(),
        ],
    );
    let bmap = imaging::Bmap::parse(&std::fs::read(&bmap_path).unwrap()).unwrap();
    assert!(bmap.ranges().len() > 10);
    let body = std::fs::read(&fx.raw).unwrap();
    let len = body.len() as u64;
    let server = Server::start(object(body, "v1"));
    server.faults(&[Fault::Cut(len / 2)], 0);
    let mut src = fast(&server.url).open().unwrap();
    let out = fx.path("out-bmap.img");
    let mut target = FileTarget::create(&out).unwrap();
    let opts = WriteOptions::builder()
        .bmap(bmap.clone())
        .checksum(sha256_spec(&fx.raw).parse().unwrap())
        .buffer_size(256 << 10)
        .verify(true)
        .build()
        .unwrap();
    let s = write_image(&mut src, &mut target, &opts).unwrap();
    assert!(std::fs::read(&out).unwrap() == fx.image);
    assert_eq!(s.bmap_ranges_checked, bmap.ranges().len() as u64);
    assert!(src.resumes() >= 1);
    let requests = server.st().requests;
    assert!(
        requests <= 4,
        "{requests} requests for {} ranges",
        bmap.ranges().len()
    );
}
