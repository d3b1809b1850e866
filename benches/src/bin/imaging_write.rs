//! `imaging_write`: the image writer against its anchors, in one run, on the same fixtures.
//!
//! Makes deterministic fixtures in `IMAGING_BENCH_DIR` (default `/var/tmp/imaging-bench`;
//! removed after the run unless `IMAGING_BENCH_KEEP` is set, as the 4 GiB set takes about
//! 6 GB): a raw image of `IMAGING_BENCH_SIZE` bytes (default 4 GiB, the figure) with a quarter of its
//! 4 KiB blocks data (30% noise, 70% text), the same as qcow2 (`qemu-img convert`), zstd
//! (`zstd -3`) and a bmap (`bmaptool create`). Then, sources in the page cache, targets fresh
//! files on the same file system, fsync included in every time, it times ours against the
//! anchors doing the same work, checks every output's sha256, and prints MB/s of virtual size,
//! ratios (anchor time / our time: above 1 means we are faster) and our peak RSS:
//!
//! * qcow2 -> raw: ours with the sha256 of the qcow2 file as read, against
//!   `qemu-img convert -O raw` + sync (no hash), and `openssl dgst -sha256` then the same
//!   conversion (the same work, as Ironic does it: verify, then convert).
//! * raw: ours with the sha256 of the whole image (holes found with SEEK_DATA are not read
//!   but hashed as zeros), against `dd bs=4M conv=fsync` and `cat > T; sync` (no hash) and
//!   `cat | tee >(sha256sum)`.
//! * raw + bmap: ours with the bmap (only mapped ranges read and written, each checked against
//!   its sha256 from the bmap), against `bmaptool copy` (the same work).
//! * zstd: ours with the sha256 of the .zst file as read, against `zstd -dc | dd` (no hash)
//!   and `zstd -dc | tee >(sha256sum) | dd`.
//!
//! `IMAGING_BENCH_RUNS=N` (default 1) times every command N times and keeps the fastest;
//! `IMAGING_BENCH_ROWS=qcow2,raw,bmap,zstd` (the default: all) picks rows, to repeat a noisy one.

use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use imaging::{
    Algorithm, Bmap, Checksum, FileSource, FileTarget, Hasher, WriteOptions, write_image,
};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(2685821657736338717)
    }
}

/// Writes the raw fixture: data runs of 1–128 blocks between zero runs averaging three times
/// as long (so about 25% data), holes left unwritten.
fn make_raw(path: &Path, size: u64) -> anyhow::Result<()> {
    let f = std::fs::File::create(path)?;
    f.set_len(size)?;
    let mut rng = XorShift(0x5eed_1234_abcd_ef01);
    let words: Vec<Vec<u8>> = (0..256)
        .map(|_| {
            let l = 2 + rng.next() % 9;
            (0..l).map(|_| b'a' + (rng.next() % 26) as u8).collect()
        })
        .collect();
    let blocks = size / 4096;
    let mut blk = 256.min(blocks); // first MiB empty
    let mut buf = Vec::new();
    while blk < blocks {
        blk += 1 + rng.next() % 384;
        if blk >= blocks {
            break;
        }
        let run = (1 + rng.next() % 128).min(blocks - blk);
        buf.clear();
        buf.resize((run * 4096) as usize, 0);
        for block in buf.chunks_mut(4096) {
            if rng.next() % 10 < 3 {
                for c in block.chunks_mut(8) {
                    c.copy_from_slice(&rng.next().to_le_bytes()[..c.len()]);
                }
            } else {
                let mut i = 0;
                while i < block.len() {
                    for &ch in &words[(rng.next() % 256) as usize] {
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
        f.write_all_at(&buf, blk * 4096)?;
        blk += run;
    }
    f.sync_all()?;
    Ok(())
}

fn sh(cmd: &str) -> anyhow::Result<()> {
    let st = Command::new("bash").arg("-c").arg(cmd).status()?;
    if !st.success() {
        bail!("`{cmd}` failed ({st})");
    }
    Ok(())
}

fn need(prog: &str, package: &str) -> anyhow::Result<()> {
    if Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {prog} >/dev/null"))
        .status()?
        .success()
    {
        Ok(())
    } else {
        bail!("{prog} missing: install the Debian package `{package}` (scripts/install-peers.sh)")
    }
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finish().hex())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Run {
    name: String,
    secs: f64,
}

fn main() -> anyhow::Result<()> {
    let size: u64 = std::env::var("IMAGING_BENCH_SIZE")
        .ok()
        .map(|s| s.parse())
        .transpose()
        .context("IMAGING_BENCH_SIZE must be a number of bytes")?
        .unwrap_or(4 << 30);
    let size = size / (1 << 20) * (1 << 20);
    let dir = PathBuf::from(
        std::env::var("IMAGING_BENCH_DIR").unwrap_or_else(|_| "/var/tmp/imaging-bench".into()),
    );
    for (p, pkg) in [
        ("qemu-img", "qemu-utils"),
        ("zstd", "zstd"),
        ("bmaptool", "bmap-tools"),
        ("sha256sum", "coreutils"),
        ("openssl", "openssl"),
    ] {
        need(p, pkg)?;
    }
    std::fs::create_dir_all(&dir)?;
    let raw = dir.join(format!("disk-{size}.raw"));
    let qcow2 = dir.join(format!("disk-{size}.qcow2"));
    let zst = dir.join(format!("disk-{size}.raw.zst"));
    let bmap = dir.join(format!("disk-{size}.bmap"));
    let target = dir.join("target.img");
    if !raw.exists() {
        eprintln!("making fixtures of {size} bytes in {}", dir.display());
        let tmp = dir.join("tmp.raw");
        make_raw(&tmp, size)?;
        std::fs::rename(&tmp, &raw)?;
    }
    let r = raw.display();
    if !qcow2.exists() {
        sh(&format!(
            "qemu-img convert -f raw -O qcow2 {r} {}.tmp && mv {0}.tmp {0}",
            qcow2.display()
        ))?;
    }
    if !zst.exists() {
        sh(&format!(
            "zstd -q -3 -T2 -f {r} -o {}.tmp && mv {0}.tmp {0}",
            zst.display()
        ))?;
    }
    if !bmap.exists() {
        sh(&format!("bmaptool -q create {r} -o {}", bmap.display()))?;
    }
    let want = sha256_file(&raw)?;
    let sums: Vec<(PathBuf, String)> = [&raw, &qcow2, &zst]
        .iter()
        .map(|p| Ok(((*p).clone(), sha256_file(p)?)))
        .collect::<anyhow::Result<_>>()?;
    let sum_of = |p: &Path| -> anyhow::Result<Checksum> {
        let s = sums
            .iter()
            .find(|(q, _)| q == p)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        Ok(format!("sha256:{s}").parse()?)
    };
    let data = std::fs::metadata(&raw).map(|m| std::os::unix::fs::MetadataExt::blocks(&m) * 512)?;
    println!(
        "fixture: {size} bytes, {:.1}% data; qcow2 {} B, zst {} B",
        data as f64 * 100.0 / size as f64,
        std::fs::metadata(&qcow2)?.len(),
        std::fs::metadata(&zst)?.len()
    );
    let runs: usize = std::env::var("IMAGING_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1);
    let bmap_parsed = Bmap::parse(&std::fs::read(&bmap)?)?;
    let t = target.display();
    let warm = |p: &Path| sh(&format!("cat {} > /dev/null", p.display()));
    let check = |name: &str| -> anyhow::Result<()> {
        let got = sha256_file(&target)?;
        if got != want {
            bail!("{name}: output sha256 {got} differs from the image's {want}");
        }
        Ok(())
    };
    let time_cmd = |name: &str, src: &Path, cmd: String| -> anyhow::Result<Run> {
        let mut best = f64::MAX;
        for _ in 0..runs {
            let _ = std::fs::remove_file(&target);
            sh("sync")?;
            warm(src)?;
            let start = Instant::now();
            sh(&cmd)?;
            best = best.min(start.elapsed().as_secs_f64());
            check(name)?;
        }
        Ok(Run {
            name: name.into(),
            secs: best,
        })
    };
    let time_ours = |name: &str, src: &Path, with_bmap: bool| -> anyhow::Result<Run> {
        let mut best = f64::MAX;
        for _ in 0..runs {
            let _ = std::fs::remove_file(&target);
            sh("sync")?;
            warm(src)?;
            let start = Instant::now();
            let mut s = FileSource::open(src)?;
            let mut d = FileTarget::create(&target)?;
            let opts = if with_bmap {
                WriteOptions::builder().bmap(bmap_parsed.clone()).build()?
            } else {
                WriteOptions::builder().checksum(sum_of(src)?).build()?
            };
            let summary = write_image(&mut s, &mut d, &opts)?;
            best = best.min(start.elapsed().as_secs_f64());
            if with_bmap && summary.bmap_ranges_checked != bmap_parsed.ranges().len() as u64 {
                bail!("{name}: not every bmap range was checked");
            }
            check(name)?;
        }
        Ok(Run {
            name: name.into(),
            secs: best,
        })
    };
    let selected =
        std::env::var("IMAGING_BENCH_ROWS").unwrap_or_else(|_| "qcow2,raw,bmap,zstd".into());
    let want_row = |k: &str| selected.split(',').any(|x| x.trim() == k);
    let mut rows: Vec<(Run, Vec<Run>)> = Vec::new();
    if want_row("qcow2") {
        rows.push((
            time_ours("ours qcow2->raw, sha256 of the qcow2", &qcow2, false)?,
            vec![
                time_cmd(
                    "qemu-img convert -O raw + sync (no hash)",
                    &qcow2,
                    format!(
                        "qemu-img convert -f qcow2 -O raw {} {t} && sync {t}",
                        qcow2.display()
                    ),
                )?,
                // The same work as ours: check the sha256, then convert (Ironic's way).
                time_cmd(
                    "openssl dgst -sha256, then qemu-img convert",
                    &qcow2,
                    format!(
                        "openssl dgst -sha256 {0} >/dev/null && qemu-img convert -f qcow2 -O raw {0} {t} && sync {t}",
                        qcow2.display()
                    ),
                )?,
            ],
        ));
    }
    if want_row("raw") {
        rows.push((
            time_ours("ours raw, sha256 of the whole image", &raw, false)?,
            vec![
                time_cmd(
                    "dd bs=4M conv=fsync (no hash)",
                    &raw,
                    format!("dd if={r} of={t} bs=4M conv=fsync status=none"),
                )?,
                time_cmd(
                    "cat > T; sync (no hash)",
                    &raw,
                    format!("cat {r} > {t} && sync {t}"),
                )?,
                time_cmd(
                    "cat | tee >(sha256sum) > T; sync",
                    &raw,
                    format!("cat {r} | tee >(sha256sum >/dev/null) > {t} && sync {t}"),
                )?,
            ],
        ));
    }
    if want_row("bmap") {
        rows.push((
            time_ours("ours raw + bmap, per-range sha256", &raw, true)?,
            vec![time_cmd(
                "bmaptool copy (per-range sha256)",
                &raw,
                format!("bmaptool -q copy --bmap {} {r} {t}", bmap.display()),
            )?],
        ));
    }
    if want_row("zstd") {
        rows.push((
            time_ours("ours zstd, sha256 of the .zst", &zst, false)?,
            vec![
                time_cmd(
                    "zstd -dc | dd bs=4M conv=fsync (no hash)",
                    &zst,
                    format!(
                        "zstd -qdc {} | dd of={t} bs=4M conv=fsync status=none iflag=fullblock",
                        zst.display()
                    ),
                )?,
                time_cmd(
                    "zstd -dc | tee >(sha256sum) | dd conv=fsync",
                    &zst,
                    format!(
                        "zstd -qdc {} | tee >(sha256sum >/dev/null) | dd of={t} bs=4M conv=fsync status=none iflag=fullblock",
                        zst.display()
                    ),
                )?,
            ],
        ));
    }
    let _ = std::fs::remove_file(&target);
    let mbs = |secs: f64| size as f64 / 1e6 / secs;
    println!("{:<48} {:>8} {:>9} {:>8}", "run", "s", "MB/s", "ours/x");
    for (ours, anchors) in &rows {
        println!(
            "{:<48} {:>8.3} {:>9.0}",
            ours.name,
            ours.secs,
            mbs(ours.secs)
        );
        for a in anchors {
            println!(
                "  {:<46} {:>8.3} {:>9.0} {:>7.2}x",
                a.name,
                a.secs,
                mbs(a.secs),
                a.secs / ours.secs
            );
        }
    }
    println!(
        "peak RSS of this process (ours ran in it; anchors are child processes): {} MiB",
        peak_rss_kib() / 1024
    );
    if std::env::var_os("IMAGING_BENCH_KEEP").is_none() {
        // The fixtures are large: removed unless asked to keep them for the next run.
        for p in [&raw, &qcow2, &zst, &bmap] {
            let _ = std::fs::remove_file(p);
        }
    }
    Ok(())
}
