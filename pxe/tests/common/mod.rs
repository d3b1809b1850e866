//! Helpers shared by the interop tests: finding peers (a missing peer fails the test, naming
//! the Debian package that provides it), running them, and serving our TFTP server.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use pxe::tftp::server::{Driver, TftpServer};
use pxe::tftp::source::DirSource;
use pxe::tftp::transfer::TransferConfig;

/// Fail (never skip) when a peer program is missing.
pub fn require(program: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "peer missing: `{program}` (Debian package `{package}`); run scripts/test.sh, which installs the test peers"
    );
}

/// Run a setup command (ip, iptables...), failing the test with its stderr if it fails.
pub fn sh(args: &[&str]) {
    let o = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Run a program with a time limit, returning its output (never panics on a non-zero exit).
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("120")
        .arg(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Deterministic test content.
pub fn content(n: usize, seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(seed);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The files every client fetches: (name, size).
pub const FILES: &[(&str, usize)] = &[
    ("empty.bin", 0),
    ("one512.bin", 511),
    ("exact512.bin", 512 * 8),
    ("exact1468.bin", 1468 * 5),
    ("exact8192.bin", 8192 * 3),
    ("exact65464.bin", 65_464 * 2),
    ("odd.bin", 100_003),
    // Over 65,535 blocks at blksize 512: block numbers roll over.
    ("rollover.bin", 512 * 65_536 + 1_000),
];

/// A directory with [`FILES`] in it.
pub fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (i, (name, size)) in FILES.iter().enumerate() {
        std::fs::write(dir.path().join(name), content(*size, i as u8)).unwrap();
    }
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/nested.txt"), b"nested\n").unwrap();
    dir
}

/// Our TFTP server on 127.0.0.1 (ephemeral port), on its own runtime thread.
pub struct OurTftp {
    pub addr: SocketAddr,
    _rt: tokio::runtime::Runtime,
}

impl OurTftp {
    pub fn start(root: &Path) -> Self {
        Self::start_with(root, TransferConfig::default(), 16)
    }

    pub fn start_with(root: &Path, cfg: TransferConfig, per_client: usize) -> Self {
        Self::start_driver(root, cfg, per_client, Driver::Thread)
    }

    pub fn start_driver(
        root: &Path,
        cfg: TransferConfig,
        per_client: usize,
        driver: Driver,
    ) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let src = Arc::new(DirSource::new(root).unwrap());
        let server = rt.block_on(async {
            TftpServer::builder(src)
                .listen("127.0.0.1:0".parse().unwrap())
                .transfer_config(cfg)
                .max_per_client(per_client)
                .driver(driver)
                .bind()
                .await
                .unwrap()
        });
        let addr = server.local_addr().unwrap();
        rt.spawn(server.run());
        OurTftp { addr, _rt: rt }
    }
}

/// Assert `out` holds exactly `name` from `root`.
pub fn same(root: &Path, name: &str, out: &PathBuf, what: &str) {
    let want = std::fs::read(root.join(name)).unwrap();
    let got = std::fs::read(out).unwrap_or_else(|e| panic!("{what}: no output file: {e}"));
    assert!(
        got == want,
        "{what}: {name}: got {} bytes, want {} (first difference at {:?})",
        got.len(),
        want.len(),
        got.iter().zip(&want).position(|(a, b)| a != b)
    );
}

/// The runner of the `harness = false` test binaries (they need their own `main` to re-run
/// themselves inside a network namespace): runs the tests whose names contain one of the
/// command-line filters (all when none is given), prints libtest-style lines, and exits 101 when
/// any failed.
pub fn run_tests(tests: &[(&str, fn())]) {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let (mut ran, mut failed) = (0, 0);
    for (name, f) in tests {
        if !filter.is_empty() && !filter.iter().any(|x| name.contains(x.as_str())) {
            continue;
        }
        ran += 1;
        match std::panic::catch_unwind(f) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!(
        "test result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        ran - failed
    );
    if failed > 0 {
        std::process::exit(101);
    }
}
