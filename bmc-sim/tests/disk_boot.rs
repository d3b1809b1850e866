//! Booting a virtual node from its disk: the firmware's view of disk images made by the real
//! tools (`sfdisk`, `mformat`/`mcopy`, `mke2fs -d`), checked against `sfdisk` and `blkid`
//! (GPT, DOS with logical partitions, and a GPT for 4Kn sectors made on a loop device), and
//! the result seen through `ipmitool` (SEL, serial console) and the Redfish face (`curl`).

mod common;

use std::path::Path;
use std::process::Command;

use bmc_sim::disk::{Disk, Filesystem, PartitionTable, inspect};
use bmc_sim::{BootedFrom, Fleet, FleetConfig};
use common::{curl, json, require};

const ESP_START: u64 = 2048;
const ROOT_START: u64 = 67584;

fn run(program: &str, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut c = Command::new(program);
    c.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap_or_else(|e| panic!("{program}: {e}"));
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn require_tools() {
    require("sfdisk", "fdisk");
    require("mke2fs", "e2fsprogs");
    require("mformat", "mtools");
    require("mcopy", "mtools");
    require("blkid", "util-linux");
}

/// A 64 MiB disk as an installer leaves it: GPT, an EFI System Partition (FAT32) holding the
/// removable-media loader, and an ext4 root whose /etc/os-release is a symlink into /usr/lib.
/// Without `esp`, the ESP partition is there but has no file system.
fn uefi_disk(path: &Path, esp: bool) {
    let f = std::fs::File::create(path).unwrap();
    f.set_len(64 << 20).unwrap();
    drop(f);
    let p = path.to_str().unwrap();
    run(
        "sfdisk",
        &["-q", p],
        Some(&format!(
            "label: gpt\nstart={ESP_START}, size=65536, type=U, name=\"EFI\"\nstart={ROOT_START}, type=L, name=\"root\"\n"
        )),
    );
    if esp {
        esp_with_loader(path, ESP_START * 512);
    }
    let root = path.with_extension("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::create_dir_all(root.join("usr/lib")).unwrap();
    std::fs::write(
        root.join("usr/lib/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\nID=debian\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("../usr/lib/os-release", root.join("etc/os-release")).unwrap();
    ext4_at(path, ROOT_START * 512, "rootfs", &root);
}

/// An ext4 file system of 30 MiB labelled `label` at byte `offset` of the disk image `path`,
/// filled from the directory `tree` (`mke2fs -d`).
fn ext4_at(path: &Path, offset: u64, label: &str, tree: &Path) {
    run(
        "mke2fs",
        &[
            "-q",
            "-F",
            "-t",
            "ext4",
            "-L",
            label,
            "-E",
            &format!("offset={offset}"),
            "-d",
            tree.to_str().unwrap(),
            path.to_str().unwrap(),
            "30M",
        ],
        None,
    );
}

/// A FAT32 file system at byte `offset` of the disk image `path` (mtools), holding the
/// removable-media loader `\EFI\BOOT\BOOTX64.EFI`.
fn esp_with_loader(path: &Path, offset: u64) {
    let img = format!("{}@@{offset}", path.to_str().unwrap());
    run("mformat", &["-i", &img, "-F", "-v", "ESP", "::"], None);
    run("mmd", &["-i", &img, "::/EFI", "::/EFI/BOOT"], None);
    let loader = path.with_extension("efi");
    std::fs::write(&loader, b"MZ not really a PE image").unwrap();
    run(
        "mcopy",
        &[
            "-i",
            &img,
            loader.to_str().unwrap(),
            "::/EFI/BOOT/BOOTX64.EFI",
        ],
        None,
    );
}

/// `blkid -p` at a byte offset: (TYPE, LABEL).
fn blkid(path: &Path, offset: u64) -> (String, String) {
    let out = run(
        "blkid",
        &[
            "-p",
            "-o",
            "export",
            "-O",
            &offset.to_string(),
            path.to_str().unwrap(),
        ],
        None,
    );
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_default()
            .to_string()
    };
    (get("TYPE"), get("LABEL"))
}

#[test]
fn the_firmware_sees_what_sfdisk_and_blkid_see() {
    require_tools();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("disk.img");
    uefi_disk(&path, true);
    let report = inspect(&Disk::open(&path).unwrap(), true);
    assert_eq!(report.table, PartitionTable::Gpt);
    // Partitions as sfdisk lists them.
    let dump: serde_json::Value = json(&run("sfdisk", &["-J", path.to_str().unwrap()], None));
    let parts = dump["partitiontable"]["partitions"].as_array().unwrap();
    assert_eq!(report.partitions.len(), parts.len());
    for (ours, theirs) in report.partitions.iter().zip(parts) {
        assert_eq!(ours.start, theirs["start"].as_u64().unwrap() * 512);
        assert_eq!(ours.size, theirs["size"].as_u64().unwrap() * 512);
        assert_eq!(ours.kind, theirs["type"].as_str().unwrap());
        assert_eq!(ours.name.as_deref(), theirs["name"].as_str());
        // File systems as blkid probes them.
        let (fs_type, label) = blkid(&path, ours.start);
        let fs = ours.filesystem.as_ref().unwrap();
        assert_eq!(fs.name(), fs_type);
        let our_label = match fs {
            Filesystem::Ext { label, .. } | Filesystem::Vfat { label } => label.clone(),
            _ => None,
        };
        assert_eq!(our_label.unwrap_or_default(), label);
    }
    assert!(report.partitions[0].is_esp());
    assert_eq!(
        report.loader.as_deref(),
        Ok("\\EFI\\BOOT\\BOOTX64.EFI on partition 1")
    );
    assert_eq!(report.os.as_deref(), Some("Debian GNU/Linux 13 (trixie)"));
    // Legacy BIOS: the protective MBR sfdisk writes has no boot code to jump into.
    let legacy = inspect(&Disk::open(&path).unwrap(), false);
    assert!(
        legacy
            .loader
            .unwrap_err()
            .contains("boot code area is blank")
    );

    // An ESP without a file system: UEFI finds nothing to start.
    let bare = dir.path().join("bare.img");
    uefi_disk(&bare, false);
    let r = inspect(&Disk::open(&bare).unwrap(), true);
    assert!(!r.bootable());
    assert_eq!(r.os.as_deref(), Some("Debian GNU/Linux 13 (trixie)"));

    // A corrupted GPT header CRC is refused as UEFI firmware refuses it.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[512 + 24] ^= 0xff;
    let r = inspect(&Disk::from_bytes(bytes), true);
    assert_ne!(r.table, PartitionTable::Gpt);
    assert!(!r.bootable());
}

/// A DOS disk with an extended partition (sfdisk makes the chain of extended boot records):
/// the primary and logical partitions as `sfdisk -J` lists them (the extended container
/// aside), the file system of a logical one as blkid probes it, and the OS found in it.
#[test]
fn logical_partitions_as_sfdisk_sees_them() {
    require_tools();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dos.img");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(96 << 20)
        .unwrap();
    let p = path.to_str().unwrap();
    run(
        "sfdisk",
        &["-q", p],
        Some(
            "label: dos\nstart=2048, size=16M, type=83\nstart=34816, type=5\nsize=16M, type=82\nsize=40M, type=83\n",
        ),
    );
    let dump: serde_json::Value = json(&run("sfdisk", &["-J", p], None));
    let theirs: Vec<_> = dump["partitiontable"]["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["type"] != "5")
        .collect();
    assert_eq!(theirs.len(), 3, "{dump}");
    // An ext4 root with an os-release in the last logical partition.
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "PRETTY_NAME=\"Rocky Linux 9.5 (Blue Onyx)\"\n",
    )
    .unwrap();
    let last = theirs[2]["start"].as_u64().unwrap() * 512;
    ext4_at(&path, last, "logical", &root);
    let report = inspect(&Disk::open(&path).unwrap(), false);
    assert_eq!(report.table, PartitionTable::Mbr);
    assert_eq!(report.sector_size, 512);
    assert_eq!(report.partitions.len(), 3, "{report:?}");
    for (ours, theirs) in report.partitions.iter().zip(&theirs) {
        let node = theirs["node"].as_str().unwrap();
        assert!(
            node.ends_with(&ours.number.to_string()),
            "{node} vs {}",
            ours.number
        );
        assert_eq!(ours.start, theirs["start"].as_u64().unwrap() * 512);
        assert_eq!(ours.size, theirs["size"].as_u64().unwrap() * 512);
        assert_eq!(
            ours.kind,
            format!("0x{:0>2}", theirs["type"].as_str().unwrap().to_uppercase())
        );
    }
    assert_eq!(
        report
            .partitions
            .iter()
            .map(|p| p.number)
            .collect::<Vec<_>>(),
        vec![1, 5, 6]
    );
    let (fs_type, label) = blkid(&path, last);
    assert_eq!((fs_type.as_str(), label.as_str()), ("ext4", "logical"));
    assert_eq!(
        report.partitions[2].filesystem.as_ref().unwrap().name(),
        "ext4"
    );
    assert_eq!(report.os.as_deref(), Some("Rocky Linux 9.5 (Blue Onyx)"));
}

/// A GPT made for a 4Kn disk (sfdisk on a loop device with 4 KiB logical sectors, made here
/// as root: the header at byte 4096, LBAs of 4 KiB): found, its partitions where
/// `sfdisk -J` puts them on that device, and the loader on its ESP.
#[test]
fn a_gpt_for_4kn_sectors_as_sfdisk_sees_it() {
    require_tools();
    require("losetup", "mount");
    assert_eq!(
        run("id", &["-u"], None).trim(),
        "0",
        "the 4Kn test needs root (it attaches a loop device)"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("4kn.img");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    let p = path.to_str().unwrap();
    /// Detaches the loop device, even when the test fails.
    struct Loop(String);
    impl Drop for Loop {
        fn drop(&mut self) {
            let _ = Command::new("losetup").args(["-d", &self.0]).status();
        }
    }
    let dev = Loop(
        run(
            "losetup",
            &["--find", "--show", "--sector-size", "4096", p],
            None,
        )
        .trim()
        .to_string(),
    );
    run(
        "sfdisk",
        &["-q", &dev.0],
        Some("label: gpt\nstart=256, size=8192, type=U, name=\"EFI\"\ntype=L, name=\"root\"\n"),
    );
    let dump: serde_json::Value = json(&run("sfdisk", &["-J", &dev.0], None));
    drop(dev);
    assert_eq!(
        dump["partitiontable"]["sectorsize"].as_u64(),
        Some(4096),
        "{dump}"
    );
    let theirs = dump["partitiontable"]["partitions"].as_array().unwrap();
    let esp = theirs[0]["start"].as_u64().unwrap() * 4096;
    esp_with_loader(&path, esp);
    let report = inspect(&Disk::open(&path).unwrap(), true);
    assert_eq!(report.table, PartitionTable::Gpt);
    assert_eq!(report.sector_size, 4096);
    assert_eq!(report.partitions.len(), theirs.len());
    for (ours, theirs) in report.partitions.iter().zip(theirs) {
        assert_eq!(ours.start, theirs["start"].as_u64().unwrap() * 4096);
        assert_eq!(ours.size, theirs["size"].as_u64().unwrap() * 4096);
        assert_eq!(ours.kind, theirs["type"].as_str().unwrap());
        assert_eq!(ours.name.as_deref(), theirs["name"].as_str());
    }
    assert_eq!(blkid(&path, esp).0, "vfat");
    assert_eq!(
        report.loader.as_deref(),
        Ok("\\EFI\\BOOT\\BOOTX64.EFI on partition 1")
    );
}

#[test]
fn nodes_boot_from_their_disks_seen_through_ipmitool_and_redfish() {
    require_tools();
    require("ipmitool", "ipmitool");
    require("curl", "curl");
    let dir = tempfile::tempdir().unwrap();
    // Node 0: a UEFI-bootable disk; node 1: no loader on its ESP; node 2: a DOS disk with
    // boot code, booted in legacy mode; node 3: no disk image at all.
    uefi_disk(&dir.path().join("node-00000.img"), true);
    uefi_disk(&dir.path().join("node-00001.img"), false);
    let mbr = dir.path().join("node-00002.img");
    std::fs::File::create(&mbr)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    run(
        "sfdisk",
        &["-q", mbr.to_str().unwrap()],
        Some("label: dos\nstart=2048, type=83, bootable\n"),
    );
    {
        // Boot code: `cli; hlt; jmp $-1`, as a real MBR would hold (sfdisk leaves it blank).
        use std::os::unix::fs::FileExt;
        let f = std::fs::OpenOptions::new().write(true).open(&mbr).unwrap();
        f.write_all_at(&[0xfa, 0xf4, 0xeb, 0xfd], 0).unwrap();
    }
    let rt = common::runtime();
    let fleet = rt
        .block_on(Fleet::start(
            FleetConfig::builder()
                .count(5)
                .disks(dir.path())
                .redfish("127.0.0.1:0".parse().unwrap()),
        ))
        .unwrap();
    let ipmitool =
        |i: usize, args: &[&str]| common::ipmitool(fleet.ipmi_addr(i).unwrap().port(), args);
    let system = |i: usize| {
        let url = format!("{}/redfish/v1/Systems/1", fleet.redfish_url(i).unwrap());
        let (code, _, body) = curl(&["-u", "admin:password", &url]);
        assert_eq!(code, 200);
        json(&body)
    };
    for i in [0, 1, 3] {
        ipmitool(i, &["chassis", "power", "on"]);
    }
    ipmitool(2, &["chassis", "bootdev", "disk"]);
    ipmitool(2, &["chassis", "power", "on"]);

    // Node 0 runs Debian: the node model, the SEL, the serial console and Redfish agree.
    let n0 = fleet.node(0).unwrap();
    assert_eq!(
        n0.lock().unwrap().booted_from(),
        Some(&BootedFrom::Disk {
            loader: "\\EFI\\BOOT\\BOOTX64.EFI on partition 1".into(),
            os: Some("Debian GNU/Linux 13 (trixie)".into())
        })
    );
    let sel = ipmitool(0, &["sel", "elist"]);
    assert!(sel.contains("C: boot completed"), "{sel}");
    assert!(sel.contains("System boot initiated"), "{sel}");
    let s = system(0);
    assert_eq!(s["BootProgress"]["LastState"], "OSRunning");
    assert_eq!(
        s["Oem"]["BmcSim"]["BootedFrom"]["OperatingSystem"],
        "Debian GNU/Linux 13 (trixie)"
    );
    assert_eq!(s["Oem"]["BmcSim"]["Disk"]["PartitionTable"], "Gpt");
    assert_eq!(
        s["Oem"]["BmcSim"]["Disk"]["Partitions"][1]["FileSystem"],
        "ext4"
    );
    let drive = format!(
        "{}/redfish/v1/Chassis/1/Drives/0",
        fleet.redfish_url(0).unwrap()
    );
    let (_, _, body) = curl(&["-u", "admin:password", &drive]);
    assert_eq!(json(&body)["CapacityBytes"], 64 << 20);
    // The rest of the inventory: 4 CPUs and 8 GiB in one DIMM.
    let get = |p: &str| {
        let (code, _, body) = curl(&[
            "-u",
            "admin:password",
            &format!("{}{p}", fleet.redfish_url(0).unwrap()),
        ]);
        assert_eq!(code, 200, "{p}: {body}");
        json(&body)
    };
    assert_eq!(
        get("/redfish/v1/Systems/1/Processors")["Members@odata.count"],
        4
    );
    assert_eq!(
        get("/redfish/v1/Systems/1/Processors/CPU3")["ProcessorType"],
        "CPU"
    );
    assert_eq!(
        get("/redfish/v1/Systems/1/Memory/DIMM0")["CapacityMiB"],
        8192
    );

    // Node 1: the firmware falls through to "no bootable device".
    let s = system(1);
    assert_eq!(s["BootProgress"]["LastState"], "OEM");
    assert_eq!(s["BootProgress"]["OemLastState"], "NoBootableDevice");
    let sel = ipmitool(1, &["sel", "elist"]);
    assert!(sel.contains("No bootable media"), "{sel}");
    assert!(!sel.contains("C: boot completed"), "{sel}");
    assert!(matches!(
        fleet.node(1).unwrap().lock().unwrap().booted_from(),
        Some(BootedFrom::NoBootableDevice { reason }) if reason.contains("BOOTX64.EFI")
    ));

    // Node 2: legacy BIOS jumps into the MBR's boot code; no OS is recognisable on it.
    assert_eq!(
        fleet.node(2).unwrap().lock().unwrap().booted_from(),
        Some(&BootedFrom::Disk {
            loader: "MBR boot code".into(),
            os: None
        })
    );
    assert_eq!(system(2)["Oem"]["BmcSim"]["Disk"]["PartitionTable"], "Mbr");

    // Node 3 has no disk image.
    assert!(matches!(
        fleet.node(3).unwrap().lock().unwrap().booted_from(),
        Some(BootedFrom::NoBootableDevice { .. })
    ));
    assert!(ipmitool(3, &["sel", "elist"]).contains("No bootable media"));

    // Node 4 boots from the virtual CD inserted through Redfish, the override set by ipmitool.
    let image = format!("{}/images/installer.iso", common::image_server());
    let (code, _, body) = curl(&[
        "-u",
        "admin:password",
        "-X",
        "POST",
        "-d",
        &format!(r#"{{"Image":"{image}"}}"#),
        &format!(
            "{}/redfish/v1/Systems/1/VirtualMedia/CD/Actions/VirtualMedia.InsertMedia",
            fleet.redfish_url(4).unwrap()
        ),
    ]);
    assert_eq!(code, 204, "{body}");
    ipmitool(4, &["chassis", "bootdev", "cdrom", "options=efiboot"]);
    ipmitool(4, &["chassis", "power", "on"]);
    assert_eq!(
        fleet.node(4).unwrap().lock().unwrap().booted_from(),
        Some(&BootedFrom::VirtualMedia { image })
    );
    assert_eq!(
        system(4)["Oem"]["BmcSim"]["BootedFrom"]["Device"],
        "VirtualMedia"
    );
}

/// Run `cmdline` on a pty (`script`, util-linux), type `line` once it is connected, then
/// `escape`; its output.
fn console(cmdline: &str, line: &str, escape: &str) -> String {
    use std::io::{Read, Write};
    let mut child = Command::new("script")
        .args(["-qfec", cmdline, "/dev/null"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("cannot run script (util-linux)");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _ = stdin.write_all(line.as_bytes());
    let _ = stdin.flush();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let _ = stdin.write_all(escape.as_bytes());
    let _ = stdin.flush();
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(stdin);
    for _ in 0..100 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    reader.join().unwrap()
}

#[test]
fn the_serial_console_shows_the_boot_through_ipmitool_sol() {
    require_tools();
    require("ipmitool", "ipmitool");
    require("script", "bsdutils");
    let dir = tempfile::tempdir().unwrap();
    uefi_disk(&dir.path().join("node-00000.img"), true);
    let rt = common::runtime();
    let fleet = rt
        .block_on(Fleet::start(
            FleetConfig::builder().count(1).disks(dir.path()),
        ))
        .unwrap();
    let port = fleet.ipmi_addr(0).unwrap().port();
    let base = format!("ipmitool -I lanplus -H 127.0.0.1 -p {port} -U admin -P password -C 17");
    run("sh", &["-c", &format!("{base} chassis power on")], None);
    // What the firmware and the OS printed while nobody watched is on the console, then the
    // login prompt echoes what is typed.
    let out = console(&format!("{base} sol activate"), "root\r", "\r~.");
    assert!(out.contains("[SOL Session operational"), "{out}");
    assert!(out.contains("booting from Hard Disk"), "{out}");
    assert!(
        out.contains("Welcome to Debian GNU/Linux 13 (trixie)!"),
        "{out}"
    );
    assert!(out.contains("node-00000 login: root"), "{out}");
    let typed = fleet
        .node(0)
        .unwrap()
        .lock()
        .unwrap()
        .serial_input()
        .to_vec();
    assert!(typed.starts_with(b"root\r"), "{typed:?}");
}
