//! Shared helpers of the integration tests: a deterministic raw-image generator and the real
//! tools (qemu-img, gzip, zstd, xz, bzip2, bmaptool) that make the fixtures. A missing tool fails the
//! test with the Debian package to install; nothing is skipped.
#![allow(dead_code, unreachable_pub)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use imaging::{FileSource, FileTarget, Summary, WriteOptions, write_image};

/// Program -> Debian package (as in scripts/install-peers.sh).
pub const TOOLS: &[(&str, &str)] = &[
    ("qemu-img", "qemu-utils"),
    ("gzip", "gzip"),
    ("zstd", "zstd"),
    ("xz", "xz-utils"),
    ("bzip2", "bzip2"),
    ("losetup", "mount"),
    ("sgdisk", "gdisk"),
    ("sfdisk", "fdisk"),
    ("blkid", "util-linux"),
    ("mcopy", "mtools"),
    ("mdir", "mtools"),
    ("mtype", "mtools"),
    ("bmaptool", "bmap-tools"),
    ("mkfs.ext4", "e2fsprogs"),
    ("mkswap", "util-linux"),
    ("swapon", "mount"),
    ("swapoff", "mount"),
    ("mount", "mount"),
    ("umount", "mount"),
    ("blockdev", "util-linux"),
];

fn package_of(prog: &str) -> &'static str {
    TOOLS
        .iter()
        .find(|(p, _)| *p == prog)
        .map_or("?", |(_, pkg)| pkg)
}

/// Runs `prog args...` and returns its standard output, failing the test clearly if the tool
/// is missing or fails.
pub fn output(prog: &str, args: &[&str]) -> String {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {prog} ({e}): install the Debian package `{}` (scripts/install-peers.sh)",
                package_of(prog)
            )
        });
    assert!(
        out.status.success(),
        "{prog} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A loop device over a backing file, detached on drop. Needs root (fails the test
/// otherwise, saying so).
pub struct LoopDev {
    pub dev: String,
    pub backing: PathBuf,
}

impl LoopDev {
    /// A `size`-byte backing file filled with `fill` (0: left as a hole) and a loop device
    /// with `sector`-byte logical sectors over it.
    pub fn new(dir: &Path, name: &str, size: u64, fill: u8, sector: u32) -> LoopDev {
        Self::create(dir, name, size, fill, sector, false)
    }

    /// As [`LoopDev::new`], with partition scanning (`losetup -P`): the kernel makes
    /// `DEVpN` devices for the partition table it finds.
    pub fn with_partitions(dir: &Path, name: &str, size: u64, sector: u32) -> LoopDev {
        Self::create(dir, name, size, 0, sector, true)
    }

    fn create(dir: &Path, name: &str, size: u64, fill: u8, sector: u32, partscan: bool) -> LoopDev {
        assert!(
            rustix::process::geteuid().is_root(),
            "block-device tests need root (losetup)"
        );
        let backing = dir.join(name);
        let f = std::fs::File::create(&backing).unwrap();
        f.set_len(size).unwrap();
        if fill != 0 {
            use std::os::unix::fs::FileExt;
            let chunk = vec![fill; 1 << 20];
            let mut at = 0;
            while at < size {
                let n = (size - at).min(chunk.len() as u64) as usize;
                f.write_all_at(&chunk[..n], at).unwrap();
                at += n as u64;
            }
            f.sync_all().unwrap();
        }
        drop(f);
        let sector = sector.to_string();
        let mut args = vec!["--find", "--show", "-b", &sector];
        if partscan {
            args.push("-P");
        }
        args.push(backing.to_str().unwrap());
        let dev = output("losetup", &args).trim().to_string();
        assert!(dev.starts_with("/dev/loop"), "losetup said {dev:?}");
        LoopDev { dev, backing }
    }

    /// The device's bytes (read through the device).
    pub fn read(&self, offset: u64, len: usize) -> Vec<u8> {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::open(&self.dev).unwrap();
        let mut b = vec![0u8; len];
        f.read_exact_at(&mut b, offset).unwrap();
        b
    }
}

impl Drop for LoopDev {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

/// Runs `prog args...`, failing the test clearly if the tool is missing or fails.
pub fn run(prog: &str, args: &[&str]) {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {prog} ({e}): install the Debian package `{}` (scripts/install-peers.sh)",
                package_of(prog)
            )
        });
    assert!(
        out.status.success(),
        "{prog} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `prog args... < input > output` (compressors).
pub fn run_to_file(prog: &str, args: &[&str], input: &Path, output: &Path) {
    let out = Command::new(prog)
        .args(args)
        .stdin(std::fs::File::open(input).unwrap())
        .stdout(std::fs::File::create(output).unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {prog} ({e}): install the Debian package `{}` (scripts/install-peers.sh)",
                package_of(prog)
            )
        });
    assert!(
        out.status.success(),
        "{prog} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(2685821657736338717)
    }
}

/// A deterministic raw disk image of `size` bytes (a multiple of 512): the first MiB and the
/// zero runs are zero, data runs of 1–64 4 KiB blocks (30% noise, 70% compressible text,
/// never an all-zero block) are separated by zero runs of 1–192 blocks, and the last 512 bytes
/// hold data (like a backup GPT).
pub fn raw_image(size: usize, seed: u64) -> Vec<u8> {
    assert_eq!(size % 512, 0);
    let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let words: Vec<Vec<u8>> = (0..256)
        .map(|_| {
            let l = 2 + rng.next() % 9;
            (0..l).map(|_| b'a' + (rng.next() % 26) as u8).collect()
        })
        .collect();
    let mut img = vec![0u8; size];
    let blocks = size / 4096;
    let mut blk = 256.min(blocks);
    while blk < blocks {
        blk += 1 + (rng.next() % 192) as usize;
        if blk >= blocks {
            break;
        }
        let run = (1 + (rng.next() % 64) as usize).min(blocks - blk);
        for b in blk..blk + run {
            let block = &mut img[b * 4096..(b + 1) * 4096];
            if rng.next() % 10 < 3 {
                for c in block.chunks_mut(8) {
                    c.copy_from_slice(&rng.next().to_le_bytes()[..c.len()]);
                }
            } else {
                let mut i = 0;
                while i < block.len() {
                    let w = &words[(rng.next() % 256) as usize];
                    for &ch in w {
                        if i < block.len() {
                            block[i] = ch;
                            i += 1;
                        }
                    }
                    if i < block.len() {
                        block[i] = b' ';
                        i += 1;
                    }
                }
            }
            block[0] |= 1;
        }
        blk += run;
    }
    let tail = size - 512;
    for (i, b) in img[tail..].iter_mut().enumerate() {
        *b = (i as u8) | 0x80;
    }
    img
}

/// Bytes in 4 KiB blocks that are not all zero.
pub fn data_bytes(img: &[u8]) -> u64 {
    img.chunks(4096)
        .filter(|c| c.iter().any(|&b| b != 0))
        .map(|c| c.len() as u64)
        .sum()
}

/// Bytes the file occupies on disk.
pub fn allocated(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().blocks() * 512
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub raw: PathBuf,
    pub image: Vec<u8>,
}

impl Fixture {
    /// A fresh temp dir with `disk.raw` of `size` bytes.
    pub fn new(size: usize, seed: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("disk.raw");
        let image = raw_image(size, seed);
        std::fs::write(&raw, &image).unwrap();
        // make the zero runs holes, as a real sparse raw image has them
        run(
            "qemu-img",
            &[
                "convert",
                "-f",
                "raw",
                "-O",
                "raw",
                raw.to_str().unwrap(),
                dir.path().join("sparse.raw").to_str().unwrap(),
            ],
        );
        std::fs::rename(dir.path().join("sparse.raw"), &raw).unwrap();
        Fixture { dir, raw, image }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `qemu-img convert -f raw -O qcow2 [args] disk.raw NAME`
    pub fn qcow2(&self, name: &str, args: &[&str]) -> PathBuf {
        let out = self.path(name);
        let mut a = vec!["convert", "-f", "raw", "-O", "qcow2"];
        a.extend_from_slice(args);
        a.push(self.raw.to_str().unwrap());
        a.push(out.to_str().unwrap());
        run("qemu-img", &a);
        out
    }

    /// `qemu-img convert -O raw IMAGE ref-NAME.raw`: the reference output.
    pub fn reference(&self, image: &Path) -> Vec<u8> {
        let out = self.path(&format!(
            "ref-{}.raw",
            image.file_name().unwrap().to_str().unwrap()
        ));
        run(
            "qemu-img",
            &[
                "convert",
                "-O",
                "raw",
                image.to_str().unwrap(),
                out.to_str().unwrap(),
            ],
        );
        std::fs::read(out).unwrap()
    }

    /// Writes `image` to `out-NAME.img` with `opts`.
    pub fn write(&self, image: &Path, opts: &WriteOptions) -> imaging::Result<(PathBuf, Summary)> {
        let out = self.path(&format!(
            "out-{}.img",
            image.file_name().unwrap().to_str().unwrap()
        ));
        let mut src = FileSource::open(image)?;
        let mut dst = FileTarget::create(&out)?;
        let summary = write_image(&mut src, &mut dst, opts)?;
        Ok((out, summary))
    }
}

/// sha256 of a file's bytes, as `sha256:HEX`.
pub fn sha256_spec(path: &Path) -> String {
    let mut h = imaging::Hasher::new(imaging::Algorithm::Sha256);
    h.update(&std::fs::read(path).unwrap());
    format!("sha256:{}", h.finish().hex())
}
