//! Block-device targets on loop devices (losetup, as root; each test makes and detaches its
//! own): zeros written over stale data by default, skipped after write-zeroes/discard or when
//! the caller says the device is pre-zeroed, O_DIRECT on 512 B and 4Kn devices, images larger
//! than the device refused before writing, the backup GPT moved to the disk's end
//! (checked with `sgdisk -v` and `sfdisk --verify`), a GPT for 512-byte sectors refused on a
//! 4Kn device, the partition table re-read after the write, the first MiB written last (a
//! write with the wrong checksum leaves no partition table, as `blkid -p` sees it), and
//! devices in use refused: mounted (`mkfs.ext4` + `mount`) or used as swap (`mkswap` +
//! `swapon`).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{Fixture, LoopDev, output, run};
use imaging::{
    BlockTarget, Checksum, Error, FileSource, Summary, Target, WriteOptions, Zeroing, write_image,
};

const DEV: u64 = 64 << 20;
const SIZE: usize = (6 << 20) + 7 * 512;

fn write(fx: &Fixture, image: &std::path::Path, t: &mut BlockTarget) -> imaging::Result<Summary> {
    let mut src = FileSource::open(image)?;
    let opts = WriteOptions::builder().verify(true).build()?;
    let _ = fx;
    write_image(&mut src, t, &opts)
}

#[test]
fn zeros_are_written_over_stale_data() {
    let fx = Fixture::new(SIZE, 41);
    let lo = LoopDev::new(fx.dir.path(), "dev", DEV, 0xaa, 512);
    let mut t = BlockTarget::open(&lo.dev).unwrap();
    assert_eq!(t.capacity(), Some(DEV));
    let s = write(&fx, &fx.raw, &mut t).unwrap();
    assert_eq!(s.bytes_skipped, 0);
    assert_eq!(s.bytes_written, SIZE as u64);
    assert!(
        lo.read(0, SIZE) == fx.image,
        "device differs from the image"
    );
    // the stale end of the disk (old backup GPT) is wiped
    assert!(lo.read(DEV - (1 << 20), 1 << 20).iter().all(|&b| b == 0));
    // past the image and before the last MiB: untouched
    assert_eq!(lo.read(SIZE as u64 + 4096, 4096), vec![0xaa; 4096]);
}

#[test]
fn discard_zeroes_then_skips() {
    let fx = Fixture::new(SIZE, 42);
    let lo = LoopDev::new(fx.dir.path(), "dev", DEV, 0xaa, 512);
    let mut t = BlockTarget::builder(&lo.dev)
        .zeroing(Zeroing::Discard)
        .open()
        .unwrap();
    let s = write(&fx, &fx.raw, &mut t).unwrap();
    assert!(t.zeroed_by_discard(), "loop devices support write-zeroes");
    let data = common::data_bytes(&fx.image);
    assert_eq!(s.bytes_written, data);
    assert_eq!(s.bytes_skipped, SIZE as u64 - data);
    assert!(
        lo.read(0, SIZE) == fx.image,
        "device differs from the image"
    );
    // the loop device punched holes into its backing file where the zeros are
    let alloc = common::allocated(&lo.backing);
    assert!(
        alloc < DEV - (SIZE as u64 - data) + (1 << 20),
        "backing file not punched: {alloc}"
    );
}

#[test]
fn pre_zeroed_skips() {
    let fx = Fixture::new(SIZE, 43);
    let lo = LoopDev::new(fx.dir.path(), "dev", DEV, 0, 512);
    let mut t = BlockTarget::builder(&lo.dev)
        .zeroing(Zeroing::PreZeroed)
        .open()
        .unwrap();
    let s = write(&fx, &fx.raw, &mut t).unwrap();
    assert_eq!(s.bytes_written, common::data_bytes(&fx.image));
    assert!(lo.read(0, SIZE) == fx.image);
}

#[test]
fn direct_io_on_512_and_4k_sectors() {
    let fx = Fixture::new(SIZE, 44);
    // 512-byte clusters give writes that are not 4 KiB aligned; the image's size is not a
    // multiple of 4 KiB either.
    let q = fx.qcow2("small.qcow2", &["-o", "cluster_size=512"]);
    for sector in [512u32, 4096] {
        for (image, zeroing) in [(&fx.raw, Zeroing::Write), (&q, Zeroing::Discard)] {
            let lo = LoopDev::new(fx.dir.path(), &format!("dev{sector}"), DEV, 0x55, sector);
            let mut t = BlockTarget::builder(&lo.dev)
                .direct(true)
                .zeroing(zeroing)
                .open()
                .unwrap();
            assert_eq!(t.sector_size(), u64::from(sector));
            write(&fx, image, &mut t)
                .unwrap_or_else(|e| panic!("{sector} {}: {e}", image.display()));
            assert!(
                lo.read(0, SIZE) == fx.image,
                "{sector} {}: device differs",
                image.display()
            );
            // the sector after the image's end is not touched by the padded tail write
            let end = SIZE as u64;
            let after = lo.read(end, (end.next_multiple_of(4096) - end) as usize + 512);
            assert!(
                after.iter().all(|&b| b == 0x55),
                "{sector}: bytes past the image written"
            );
        }
    }
}

#[test]
fn larger_image_refused_before_writing() {
    let fx = Fixture::new(SIZE, 45);
    let big = fx.path("big.raw");
    std::fs::copy(&fx.raw, &big).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(DEV + 4096)
        .unwrap();
    let lo = LoopDev::new(fx.dir.path(), "dev", DEV, 0xaa, 512);
    let mut t = BlockTarget::open(&lo.dev).unwrap();
    let err = write(&fx, &big, &mut t).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { written: false, .. }),
        "{err}"
    );
    assert_eq!(lo.read(0, 1 << 20), vec![0xaa; 1 << 20]);
    assert_eq!(lo.read(DEV - 4096, 4096), vec![0xaa; 4096]);
}

#[test]
fn not_a_block_device() {
    let fx = Fixture::new(1 << 20, 46);
    let err = BlockTarget::open(&fx.raw).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");
}

#[test]
fn backup_gpt_moves_to_the_disk_end() {
    let fx = Fixture::new(16 << 20, 47);
    let img = gpt_image(&fx);
    let image = std::fs::read(&img).unwrap();
    for (sector, direct) in [(512u32, false), (512, true)] {
        let lo = LoopDev::new(fx.dir.path(), "dev", DEV, 0xaa, sector);
        let mut t = BlockTarget::builder(&lo.dev)
            .direct(direct)
            .zeroing(Zeroing::Discard)
            .open()
            .unwrap();
        write(&fx, &img, &mut t).unwrap();
        assert!(t.gpt_relocated());
        drop(t);
        let v = output("sgdisk", &["-v", &lo.dev]);
        assert!(v.contains("No problems found"), "sgdisk -v: {v}");
        let v = output("sfdisk", &["--verify", &lo.dev]);
        assert!(v.contains("No errors detected"), "sfdisk --verify: {v}");
        // the partitions' bytes are the image's
        let start = 2048 * 512;
        let end = image.len() - 33 * 512;
        assert!(lo.read(start as u64, end - start) == image[start..end]);
        // the backup header sits in the last sector and points back at LBA 1
        let last = lo.read(DEV - 512, 512);
        assert_eq!(&last[..8], b"EFI PART");
        assert_eq!(
            u64::from_le_bytes(last[24..32].try_into().unwrap()),
            DEV / 512 - 1
        );
        assert_eq!(u64::from_le_bytes(last[32..40].try_into().unwrap()), 1);
        // sgdisk sees the partitions unchanged
        let p = output("sgdisk", &["-p", &lo.dev]);
        assert!(p.contains("EF00") && p.contains("8300"), "{p}");
    }
}

/// A copy of the fixture with a GPT for 512-byte sectors (an ESP of 4 MiB and a Linux
/// partition over the rest), made by sgdisk.
fn gpt_image(fx: &Fixture) -> PathBuf {
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
            "-t",
            "2:8300",
            img.to_str().unwrap(),
        ],
    );
    img
}

#[test]
fn gpt_for_512_byte_sectors_refused_on_4kn() {
    let fx = Fixture::new(16 << 20, 48);
    let img = gpt_image(&fx);
    let lo = LoopDev::new(fx.dir.path(), "dev", DEV, 0xaa, 4096);
    let mut t = BlockTarget::open(&lo.dev).unwrap();
    let err = write(&fx, &img, &mut t).unwrap_err();
    assert!(
        matches!(
            err,
            Error::SectorSizeMismatch {
                image_sector: 512,
                device_sector: 4096,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("would not boot"), "{err}");
    // the image's start was never written
    assert_eq!(lo.read(0, 1 << 20), vec![0xaa; 1 << 20]);
}

/// The partition table type `blkid -p` finds on `dev` ("" for none).
fn pttype(dev: &str) -> String {
    let o = Command::new("blkid")
        .args(["-p", "-o", "value", "-s", "PTTYPE", dev])
        .output()
        .expect("blkid (Debian package util-linux)");
    // blkid exits 2 when it finds nothing.
    assert!(matches!(o.status.code(), Some(0 | 2)), "blkid: {o:?}");
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// The first MiB is written last. Over an installed disk (a GPT image written before), a
/// write whose sha256 does not match fails after the rest of the image was written, and
/// leaves a disk with no partition table at all: its first MiB zeroed (neither the old GPT
/// nor the new one) and the old backup GPT at the disk's end wiped. The same write with the
/// right sha256 then lands whole, its GPT seen by blkid.
#[test]
fn a_failed_write_leaves_no_partition_table() {
    let fx = Fixture::new(16 << 20, 49);
    let img = gpt_image(&fx);
    let lo = LoopDev::new(fx.dir.path(), "dev", DEV, 0xaa, 512);
    let mut t = BlockTarget::open(&lo.dev).unwrap();
    write(&fx, &img, &mut t).unwrap();
    drop(t);
    assert_eq!(pttype(&lo.dev), "gpt", "the installed disk");

    let with_sha = |spec: &str| {
        WriteOptions::builder()
            .checksum(Checksum::parse(spec, false).unwrap())
            .build()
            .unwrap()
    };
    let wrong = format!("sha256:{}", "0".repeat(64));
    let mut t = BlockTarget::open(&lo.dev).unwrap();
    let err = write_image(
        &mut FileSource::open(&img).unwrap(),
        &mut t,
        &with_sha(&wrong),
    )
    .unwrap_err();
    assert!(matches!(err, Error::ChecksumMismatch { .. }), "{err}");
    drop(t);
    assert!(
        lo.read(0, 1 << 20).iter().all(|&b| b == 0),
        "the first MiB was written (or the old one left) by a failed write"
    );
    assert_eq!(pttype(&lo.dev), "", "a partition table is still visible");
    let image = std::fs::read(&img).unwrap();
    assert!(
        lo.read(1 << 20, image.len() - (1 << 20)) == image[1 << 20..],
        "the rest of the image was not written"
    );

    let mut t = BlockTarget::open(&lo.dev).unwrap();
    let s = write_image(
        &mut FileSource::open(&img).unwrap(),
        &mut t,
        &with_sha(&common::sha256_spec(&img)),
    )
    .unwrap();
    assert!(s.checksum.is_some());
    drop(t);
    // (The GPT headers themselves differ from the image's: the backup moved to the disk's end.)
    let middle = (1 << 20)..image.len() - (1 << 20);
    assert!(
        lo.read(middle.start as u64, middle.len()) == image[middle],
        "device differs from the image"
    );
    assert_eq!(pttype(&lo.dev), "gpt");
    let p = output("sgdisk", &["-p", &lo.dev]);
    assert!(p.contains("EF00") && p.contains("8300"), "{p}");
}

/// Undoes what a test set up (umount, swapoff, dmsetup remove) even when it fails.
struct Undo(&'static str, Vec<String>);

impl Drop for Undo {
    fn drop(&mut self) {
        let _ = Command::new(self.0).args(&self.1).status();
    }
}

fn in_use_reason(dev: &str) -> String {
    match BlockTarget::open(dev) {
        Err(Error::DeviceInUse { reason, .. }) => reason,
        Err(e) => panic!("{dev}: unexpected error {e}"),
        Ok(_) => panic!("{dev} opened while in use"),
    }
}

#[test]
fn partition_table_reread_after_the_write() {
    let fx = Fixture::new(16 << 20, 49);
    let img = gpt_image(&fx);
    let lo = LoopDev::with_partitions(fx.dir.path(), "dev", DEV, 512);
    let mut t = BlockTarget::open(&lo.dev).unwrap();
    write(&fx, &img, &mut t).unwrap();
    // BLKRRPART succeeded (with the exclusive descriptor closed first). Whether DEVp1 then
    // appears depends on the kernel's partition parsers: this test VM's kernel has none
    // (CONFIG_EFI_PARTITION and CONFIG_MSDOS_PARTITION unset), so only the re-read is checked.
    assert!(t.partitions_reread());
    // without partition scanning the device refuses BLKRRPART: the write still succeeds
    let lo2 = LoopDev::new(fx.dir.path(), "dev2", DEV, 0, 512);
    let mut t = BlockTarget::open(&lo2.dev).unwrap();
    write(&fx, &img, &mut t).unwrap();
    assert!(!t.partitions_reread());
}

#[test]
fn devices_in_use_are_refused() {
    let fx = Fixture::new(1 << 20, 50);
    let lo = LoopDev::new(fx.dir.path(), "dev", DEV, 0, 512);
    assert!(BlockTarget::open(&lo.dev).is_ok()); // not in use yet

    // Mounted. (This VM's kernel has no partition parsers and no device-mapper, so the
    // whole device is mounted and used as swap here; partitions and holders are covered by
    // the unit tests over a made-up /sys and /proc.)
    run("mkfs.ext4", &["-q", "-F", &lo.dev]);
    let mnt = fx.path("mnt");
    std::fs::create_dir(&mnt).unwrap();
    run("mount", &[&lo.dev, mnt.to_str().unwrap()]);
    let undo = Undo("umount", vec![mnt.to_str().unwrap().into()]);
    let reason = in_use_reason(&lo.dev);
    assert!(
        reason.contains("is mounted on") && reason.contains("mnt"),
        "{reason}"
    );
    // force skips the checks (and O_EXCL)
    assert!(BlockTarget::builder(&lo.dev).force(true).open().is_ok());
    drop(undo);

    // Used as swap.
    run("mkswap", &["-q", &lo.dev]);
    run("swapon", &[&lo.dev]);
    let undo = Undo("swapoff", vec![lo.dev.clone()]);
    let reason = in_use_reason(&lo.dev);
    assert!(reason.contains("is used as swap"), "{reason}");
    drop(undo);

    assert!(BlockTarget::open(&lo.dev).is_ok());
}
