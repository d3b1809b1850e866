//! Helpers shared by the interop tests: finding peers (a missing peer fails the test, naming
//! the Debian package that provides it), running them, and serving our own BMC side.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use ipmi_proto::bmc::{BmcConfig, SimpleSystem, User};
use ipmi_proto::cmd::Privilege;
use ipmi_proto::server::BmcServer;

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

/// Run a program, returning its output (never panics on a non-zero exit).
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The BMC users every interop test uses.
pub fn bmc_config() -> BmcConfig {
    BmcConfig::builder()
        .user(User::new(2, "admin", "password", Privilege::Administrator).unwrap())
        .user(User::new(3, "operator", "operpass", Privilege::Operator).unwrap())
        .user(User::new(4, "user", "userpass", Privilege::User).unwrap())
        .user(
            User::new(
                5,
                "admin20",
                "abcdefghijklmnopqrst",
                Privilege::Administrator,
            )
            .unwrap(),
        )
        .guid(*b"ipmi-proto-test!")
        .build()
}

/// Our BMC side on 127.0.0.1 (ephemeral port), on its own runtime thread.
pub struct OurBmc {
    pub addr: SocketAddr,
    pub system: Arc<Mutex<SimpleSystem>>,
    _rt: tokio::runtime::Runtime,
}

impl OurBmc {
    pub fn start() -> Self {
        Self::start_with(bmc_config())
    }

    pub fn start_with(cfg: BmcConfig) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let system = Arc::new(Mutex::new(SimpleSystem::default()));
        let server = rt
            .block_on(BmcServer::bind(
                "127.0.0.1:0".parse().unwrap(),
                cfg,
                system.clone(),
            ))
            .unwrap();
        let addr = server.local_addr().unwrap();
        rt.spawn(server.run());
        OurBmc {
            addr,
            system,
            _rt: rt,
        }
    }

    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }
}
