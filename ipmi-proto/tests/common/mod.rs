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

/// A free UDP port on 127.0.0.1 (bound, read, released).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// OpenIPMI's `ipmi_sim` on 127.0.0.1, configured from scratch in a temporary directory:
/// users admin/password (ADMIN), operator/operpass, user/userpass; a chassis-control program
/// that keeps power and boot device in files; killed on drop.
pub struct IpmiSim {
    pub port: u16,
    pub dir: std::path::PathBuf,
    child: std::process::Child,
}

impl IpmiSim {
    pub fn start() -> Self {
        require("ipmi_sim", "openipmi");
        let port = free_udp_port();
        let dir =
            std::env::temp_dir().join(format!("ipmi-proto-sim-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("chassis")).unwrap();
        std::fs::create_dir_all(dir.join("state")).unwrap();
        let control = dir.join("chassis_control.sh");
        // ipmi_sim runs `PROG get power|boot` and `PROG set power 0|1 | boot DEV | ...`.
        std::fs::write(
            &control,
            r#"#!/bin/sh
d=$1; shift; op=$1; shift
case $op in
get) for p in "$@"; do
       case $p in
         power) v=0; [ -f "$d/power" ] && read v < "$d/power"; echo "power:$v" ;;
         boot) v=default; [ -f "$d/boot" ] && read v < "$d/boot"; echo "boot:$v" ;;
         *) echo "Invalid parameter: $p"; exit 1 ;;
       esac
     done ;;
set) while [ $# -gt 0 ]; do
       p=$1; v=$2; shift 2
       case $p in
         power) echo "$v" > "$d/power" ;;
         boot) echo "$v" > "$d/boot" ;;
         shutdown) echo 0 > "$d/power" ;;
       esac
       echo "set $p $v" >> "$d/log"
     done ;;
*) exit 1 ;;
esac
exit 0
"#,
        )
        .unwrap();
        run("chmod", &["+x", control.to_str().unwrap()]);
        std::fs::write(dir.join("chassis/power"), "0\n").unwrap();
        let lan = format!(
            r#"name "sim{port}"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 {port}
    priv_limit admin
    allowed_auths_callback md2 md5 straight
    allowed_auths_user md2 md5 straight
    allowed_auths_operator md2 md5 straight
    allowed_auths_admin md2 md5 straight
    guid a1b2c3d4e5f60708a1b2c3d4e5f60708
  endlan
  chassis_control "{control} {chassis}"
  user 2 true "admin"    "password" admin    10 md2 md5 straight
  user 3 true "operator" "operpass" operator 10 md2 md5 straight
  user 4 true "user"     "userpass" user     10 md2 md5 straight
"#,
            control = control.display(),
            chassis = dir.join("chassis").display(),
        );
        std::fs::write(dir.join("lan.conf"), lan).unwrap();
        std::fs::write(
            dir.join("sim.emu"),
            "mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\nsel_enable 0x20 1000 0x0a\nmc_enable 0x20\n",
        )
        .unwrap();
        // Waited for in `Drop`.
        #[allow(clippy::zombie_processes)]
        let child = std::process::Command::new("ipmi_sim")
            .args(["-c", dir.join("lan.conf").to_str().unwrap()])
            .args(["-f", dir.join("sim.emu").to_str().unwrap()])
            .args(["-s", dir.join("state").to_str().unwrap()])
            .arg("-n")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("cannot start ipmi_sim");
        // Wait until it answers an ASF presence ping.
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(std::time::Duration::from_millis(100)))
            .unwrap();
        let ping = ipmi_proto::rmcp::AsfMessage::Ping { tag: 1 }.to_datagram();
        let mut buf = [0u8; 128];
        for _ in 0..100 {
            let _ = sock.send_to(&ping, ("127.0.0.1", port));
            if sock.recv_from(&mut buf).is_ok() {
                return IpmiSim { port, dir, child };
            }
        }
        panic!("ipmi_sim did not answer on 127.0.0.1:{port}");
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// What the chassis-control program was last told (`power`, `boot`).
    pub fn chassis(&self, what: &str) -> String {
        std::fs::read_to_string(self.dir.join("chassis").join(what))
            .unwrap_or_default()
            .trim()
            .to_string()
    }
}

impl Drop for IpmiSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
