//! Config drives written after an image onto a loop device (GPT and MBR images): `blkid` sees
//! the `config-2` VFAT label at the new partition, `mtools` reads the files back intact, and
//! `sgdisk -v` / `sfdisk --verify` find the partition tables valid.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{Fixture, LoopDev, output, run};
use imaging::{BlockTarget, ConfigDrive, FileSource, WriteOptions, Zeroing, write_image};

const DEV: u64 = 64 << 20;

fn drive() -> ConfigDrive {
    ConfigDrive::new(r#"{"uuid": "83679162-1378-4288-a2d4-70e13ec132aa", "hostname": "node-1"}"#)
        .user_data("#cloud-config\nhostname: node-1\nruncmd:\n  - echo hi\n")
        .network_data(r#"{"links": [{"id": "eth0", "type": "phy", "ethernet_mac_address": "52:54:00:12:34:56"}], "networks": [], "services": []}"#)
        .file("openstack/latest/vendor_data.json", "{}")
}

/// Writes `image` with the config drive and checks the drive with blkid and mtools.
fn check(fx: &Fixture, image: &std::path::Path, lo: &LoopDev) -> u32 {
    let cd = drive();
    let mut t = BlockTarget::builder(&lo.dev)
        .zeroing(Zeroing::Discard)
        .config_drive(cd.build().unwrap())
        .open()
        .unwrap();
    let mut src = FileSource::open(image).unwrap();
    write_image(
        &mut src,
        &mut t,
        &WriteOptions::builder().verify(true).build().unwrap(),
    )
    .unwrap();
    let p = t.config_partition().expect("config drive placed");
    drop(t);
    assert_eq!(p.offset % (1 << 20), 0);
    assert!(p.offset + p.len <= DEV);
    let _ = fx;
    let off = p.offset.to_string();
    let probe = |tag: &str| {
        output(
            "blkid",
            &["-p", "-O", &off, "-s", tag, "-o", "value", &lo.dev],
        )
        .trim()
        .to_string()
    };
    assert_eq!(probe("LABEL"), "config-2");
    assert_eq!(probe("TYPE"), "vfat");
    let img = format!("{}@@{}", lo.dev, p.offset);
    let listing = output("mdir", &["-i", &img, "-b", "::openstack/latest"]);
    for (path, data) in cd.files() {
        assert!(
            listing.contains(path.rsplit('/').next().unwrap()),
            "{listing}"
        );
        let got = output("mtype", &["-i", &img, &format!("::{path}")]);
        assert_eq!(got.as_bytes(), &data[..], "{path}");
    }
    p.number
}

#[test]
fn config_drive_on_a_gpt_disk() {
    let fx = Fixture::new(16 << 20, 51);
    let img = fx.path("gpt.raw");
    std::fs::copy(&fx.raw, &img).unwrap();
    run(
        "sgdisk",
        &[
            "-o",
            "-n",
            "1:2048:+4M",
            "-t",
            "1:ef00",
            "-n",
            "2:0:0",
            img.to_str().unwrap(),
        ],
    );
    let lo = LoopDev::new(fx.dir.path(), "dev", DEV, 0xaa, 512);
    assert_eq!(check(&fx, &img, &lo), 3);
    let v = output("sgdisk", &["-v", &lo.dev]);
    assert!(v.contains("No problems found"), "sgdisk -v: {v}");
    let p = output("sgdisk", &["-i", "3", &lo.dev]);
    assert!(p.contains("'config-2'"), "{p}");
    let v = output("sfdisk", &["--verify", &lo.dev]);
    assert!(v.contains("No errors detected"), "{v}");
}

#[test]
fn config_drive_on_an_mbr_disk() {
    let fx = Fixture::new(16 << 20, 52);
    let img = fx.path("mbr.raw");
    std::fs::copy(&fx.raw, &img).unwrap();
    let mut c = Command::new("sfdisk")
        .args(["-q", img.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("sfdisk: install the Debian package `fdisk`");
    c.stdin
        .take()
        .unwrap()
        .write_all(b"label: dos\nstart=2048, size=16384, type=83\n")
        .unwrap();
    assert!(c.wait().unwrap().success());
    let lo = LoopDev::new(fx.dir.path(), "dev", DEV, 0xaa, 512);
    assert_eq!(check(&fx, &img, &lo), 2);
    let v = output("sfdisk", &["--verify", &lo.dev]);
    assert!(v.contains("No errors detected"), "{v}");
    let d = output("sfdisk", &["-d", &lo.dev]);
    assert!(
        d.lines().filter(|l| l.contains("type=83")).count() == 2,
        "{d}"
    );
}
