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
        Self::start_at("127.0.0.1:0".parse().unwrap(), cfg)
    }

    /// On a free port below 32768 (FreeIPMI's ipmiconsole refuses higher ones as
    /// "hostname invalid").
    pub fn start_low_port() -> Self {
        let base = 20000 + (std::process::id() % 5000) as u16;
        for p in (base..32000).chain(20000..base) {
            if std::net::UdpSocket::bind(("127.0.0.1", p)).is_ok() {
                return Self::start_at(SocketAddr::from(([127, 0, 0, 1], p)), bmc_config());
            }
        }
        panic!("no free UDP port below 32000 on 127.0.0.1");
    }

    pub fn start_at(addr: SocketAddr, cfg: BmcConfig) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let system = Arc::new(Mutex::new(SimpleSystem::default()));
        let server = rt
            .block_on(BmcServer::bind(addr, cfg, system.clone()))
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
        Self::start_with(None)
    }

    /// With a serial console for SOL: ipmi_sim connects to this TCP port on 127.0.0.1 (it
    /// must already listen: ipmi_sim connects once at start).
    pub fn start_with_sol(console_port: u16) -> Self {
        Self::start_with(Some(console_port))
    }

    fn start_with(sol_console: Option<u16>) -> Self {
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
{sol}  user 2 true "admin"    "password" admin    10 md2 md5 straight
  user 3 true "operator" "operpass" operator 10 md2 md5 straight
  user 4 true "user"     "userpass" user     10 md2 md5 straight
"#,
            control = control.display(),
            chassis = dir.join("chassis").display(),
            sol = sol_console
                .map(|p| format!("  sol \"tcp:127.0.0.1:{p}\" 115200\n"))
                .unwrap_or_default(),
        );
        std::fs::write(dir.join("lan.conf"), lan).unwrap();
        // SDR repository: compiled by OpenIPMI's own sdrcomp (-8: 8-bit id strings).
        require("sdrcomp", "openipmi");
        let sdrs = dir.join("sim.sdrs");
        std::fs::write(&sdrs, SDR_SOURCE).unwrap();
        let repo = dir.join(format!("state/ipmi_sim/sim{port}"));
        std::fs::create_dir_all(&repo).unwrap();
        let o = run(
            "sdrcomp",
            &[
                "-8",
                "-o",
                repo.join("sdr.20.main").to_str().unwrap(),
                sdrs.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "sdrcomp: {}", stderr(&o));
        std::fs::write(dir.join("fru0.bin"), fru_image()).unwrap();
        let emu = format!(
            "mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
sensor_add 0x20 0 1 0x01 0x01
sensor_set_value 0x20 0 1 30 0
sensor_set_threshold 0x20 0 1 settable 111000 95 85 70 00 00 00
sensor_add 0x20 0 3 0x04 0x01
sensor_set_value 0x20 0 3 96 0
sensor_add 0x20 0 4 0x02 0x01
sensor_set_value 0x20 0 4 200 0
mc_add_fru_data 0x20 0 256 file 0 \"{fru}\"
sel_add 0x20 2 0x00 0x00 0x00 0x66 0x20 0x00 0x04 0x01 0x01 0x01 0x59 0x57 0x55
sel_add 0x20 2 0x3c 0x00 0x00 0x66 0x20 0x00 0x04 0x04 0x03 0x01 0x02 0xff 0xff
sel_add 0x20 2 0x78 0x00 0x00 0x66 0x20 0x00 0x04 0x02 0x04 0x01 0x07 0xff 0xff
mc_enable 0x20
",
            fru = dir.join("fru0.bin").display()
        );
        std::fs::write(dir.join("sim.emu"), emu).unwrap();
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

/// The SDRs of the ipmi_sim fixture, in OpenIPMI's sdrcomp language: an MC locator, three
/// threshold sensors (Inlet_Temp 30 degrees C with thresholds 70/85/95, FAN1 96 x 50 = 4800 RPM,
/// P12V 200 x 0.06 = 12.00 Volts).
pub const SDR_SOURCE: &str = r#"
sdr type 18
	device_slave_address	0x20
	device_channel_number	0
	chassis			true
	ipmb_event_gen		false
	ipmb_event_recv		true
	fru_inventory		true
	sel			true
	sdr			true
	sensor			true
	entity_id		system_board
	entity_instance		1
	id_string		"SIM BMC"
endsdr
sdr type 1
	sensor_owner_id		0x20
	sensor_owner_lun	0
	channel_number		0
	sensor_number		1
	entity_id		system_board
	entity_instance		1
	sensor_type		Temperature
	init_scanning		true
	init_sensor_type	true
	default_sensor_scan_on	true
	event_reading_type_code	1
	analog_data_format	unsigned
	rate_unit		none
	modifier_unit		none
	percentage		false
	base_unit		degrees_C
	modifier_unit_code	unspecified
	linearization		linear
	m			1
	tolerance		0
	b			0
	accuracy		1
	accuracy_exp		0
	sensor_direction	input
	r_exp			0
	b_exp			0
	sensor_maximum		255
	sensor_minimum		0
	unc_thrsh_readable	true
	uc_thrsh_readable	true
	unr_thrsh_readable	true
	unc_thresh		70
	uc_thresh		85
	unr_thresh		95
	id_string		"Inlet_Temp"
endsdr
sdr type 1
	sensor_owner_id		0x20
	sensor_owner_lun	0
	channel_number		0
	sensor_number		3
	entity_id		fan_cooling_device
	entity_instance		1
	sensor_type		Fan
	init_scanning		true
	init_sensor_type	true
	default_sensor_scan_on	true
	event_reading_type_code	1
	analog_data_format	unsigned
	rate_unit		none
	modifier_unit		none
	percentage		false
	base_unit		RPM
	modifier_unit_code	unspecified
	linearization		linear
	m			50
	tolerance		0
	b			0
	accuracy		1
	accuracy_exp		0
	sensor_direction	input
	r_exp			0
	b_exp			0
	sensor_maximum		255
	sensor_minimum		0
	id_string		"FAN1"
endsdr
sdr type 1
	sensor_owner_id		0x20
	sensor_owner_lun	0
	channel_number		0
	sensor_number		4
	entity_id		power_supply
	entity_instance		1
	sensor_type		Voltage
	init_scanning		true
	init_sensor_type	true
	default_sensor_scan_on	true
	event_reading_type_code	1
	analog_data_format	unsigned
	rate_unit		none
	modifier_unit		none
	percentage		false
	base_unit		Volts
	modifier_unit_code	unspecified
	linearization		linear
	m			6
	tolerance		0
	b			0
	accuracy		1
	accuracy_exp		0
	sensor_direction	input
	r_exp			-2
	b_exp			0
	sensor_maximum		255
	sensor_minimum		0
	id_string		"P12V"
endsdr
"#;

/// A FRU image written byte by byte (IPMI Platform Management FRU Information Storage
/// Definition v1.0): common header, board area, product area, all 8-bit ASCII fields.
pub fn fru_image() -> Vec<u8> {
    fn field(out: &mut Vec<u8>, s: &str) {
        out.push(0xc0 | s.len() as u8);
        out.extend_from_slice(s.as_bytes());
    }
    fn close(mut area: Vec<u8>) -> Vec<u8> {
        area.push(0xc1);
        while (area.len() + 1) % 8 != 0 {
            area.push(0);
        }
        area[1] = ((area.len() + 1) / 8) as u8;
        let sum = area.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        area.push(sum.wrapping_neg());
        area
    }
    // Board: version 1, length (filled in), language 0, mfg time 3 bytes.
    let mut board = vec![1, 0, 0, 0x10, 0x20, 0x30];
    for f in ["Acme", "Sim Board", "SB-42", "PN-7", ""] {
        field(&mut board, f);
    }
    let board = close(board);
    let mut product = vec![1, 0, 0];
    for f in ["Acme", "Sim Node", "PN-8", "v1", "SN-0042", "AT-1", ""] {
        field(&mut product, f);
    }
    let product = close(product);
    let board_off = 1u8;
    let product_off = board_off + (board.len() / 8) as u8;
    let mut header = vec![1, 0, 0, board_off, product_off, 0, 0];
    let sum = header.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    header.push(sum.wrapping_neg());
    let mut img = header;
    img.extend(board);
    img.extend(product);
    img.resize(256, 0);
    img
}
