//! `write-image`: stream a disk image (raw, qcow2, or a gzip/zstd/xz/bzip2 stream of a raw
//! image) onto a target file, with an inline checksum and an optional read-back verification.
//!
//! ```text
//! cargo run --release --example write-image -- SOURCE TARGET [--checksum SPEC] \
//!     [--format auto|raw|qcow2] [--no-sparse] [--direct] [--discard | --pre-zeroed] \
//!     [--config-drive DIR] [--bmap FILE] [--force] [--verify]
//! ```
//!
//! SOURCE is a local file, an `http(s)://` URL (resumed with Range requests after a dropped
//! connection or a stall), or `-` for a raw or compressed raw image on stdin. TARGET is a
//! regular file (created or truncated) or a block device (opened exclusively; zero runs
//! written unless `--discard` or `--pre-zeroed`; the backup GPT moved to the disk's end).
//! `--checksum` takes `sha256:HEX`, `sha512:HEX`, `md5:HEX`, bare hex (64 digits: sha256,
//! 128: sha512) over SOURCE's bytes as read, or the URL of a checksum file (`HEX  NAME` lines)
//! in which SOURCE's file name is looked up. `--config-drive DIR` (block devices) adds a
//! `config-2` partition at the disk's end with DIR's `meta_data.json`, `user_data` and
//! `network_data.json` under `openstack/latest/`. `--bmap FILE` (a `bmaptool create` block
//! map of a raw image, or of the raw image inside a compressed SOURCE) writes only the mapped
//! ranges, each checked against its sha256 from the bmap, and reads only those of a local raw
//! image. A block device that is mounted, used as swap or held by device-mapper/RAID is
//! refused unless `--force`; a GPT image for another sector size than the device's is refused;
//! the partition table is re-read after the write. A
//! progress bar is shown on a terminal. Exit status 0 only when the whole image is on the
//! target, flushed, and the checksum (and read-back, with `--verify`) matched.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use imaging::{
    BlockTarget, Checksum, ConfigDrive, FileSource, FileTarget, Format, HttpSource, Phase, Source,
    StreamSource, Target, WriteOptions, Zeroing, write_image,
};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser, Debug)]
#[command(
    name = "write-image",
    about = "Stream a raw, qcow2 or compressed image onto a file, verified"
)]
struct Args {
    /// Image to write: a path, an http(s) URL, or `-` for stdin (raw or compressed raw only).
    source: String,
    /// Target: a file (created or truncated; kept sparse unless --no-sparse) or a block device.
    target: String,
    /// Expected checksum of SOURCE as read: ALGO:HEX (sha256, sha512, md5), bare hex, or the
    /// http(s) URL of a checksum file listing SOURCE's file name.
    #[arg(long)]
    checksum: Option<String>,
    /// Block devices: write with O_DIRECT.
    #[arg(long)]
    direct: bool,
    /// Block devices: zero the image's range by write-zeroes/discard first, then skip zero runs.
    #[arg(long, conflicts_with = "pre_zeroed")]
    discard: bool,
    /// Block devices: the device already reads back zeros; skip zero runs.
    #[arg(long)]
    pre_zeroed: bool,
    /// Block devices: add a config-2 partition at the disk's end from DIR (meta_data.json,
    /// user_data, network_data.json).
    #[arg(long, value_name = "DIR")]
    config_drive: Option<std::path::PathBuf>,
    /// Source format: auto (by magic bytes), raw, qcow2, gzip, zstd, xz, bzip2.
    #[arg(long, default_value = "auto")]
    format: String,
    /// Write zero runs too (a fully allocated target).
    #[arg(long)]
    no_sparse: bool,
    /// Read the target back after the fsync and compare.
    #[arg(long)]
    verify: bool,
    /// Allow a bare 32-digit hex checksum to mean md5.
    #[arg(long)]
    allow_md5: bool,
    /// A bmap file (`bmaptool create`): write only its mapped ranges, each checked against
    /// its sha256.
    #[arg(long, value_name = "FILE")]
    bmap: Option<std::path::PathBuf>,
    /// Buffers per pool (memory: about (2 × N + 3) × the buffer size).
    #[arg(long, default_value_t = 8)]
    buffers: usize,
    /// Buffer size in bytes (a multiple of 4096, 256 KiB to 64 MiB).
    #[arg(long, default_value_t = 4 << 20)]
    buffer_size: usize,
    /// Block devices: write even if the device is mounted, swap, or held by device-mapper or
    /// RAID (and open it without O_EXCL).
    #[arg(long)]
    force: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        // Colours on a terminal only, never escape codes in a log file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("write-image: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let mut builder = WriteOptions::builder()
        .buffers(args.buffers)
        .buffer_size(args.buffer_size)
        .sparse(!args.no_sparse)
        .verify(args.verify);
    if args.format != "auto" {
        builder = builder.format(args.format.parse::<Format>()?);
    }
    if let Some(path) = &args.bmap {
        let xml = std::fs::read(path).with_context(|| path.display().to_string())?;
        let bmap = imaging::Bmap::parse(&xml).with_context(|| path.display().to_string())?;
        builder = builder.bmap(bmap);
    }
    let is_url = |s: &str| s.starts_with("http://") || s.starts_with("https://");
    if let Some(spec) = &args.checksum {
        let checksum = if is_url(spec) {
            imaging::checksum_from_url(spec, &args.source, args.allow_md5)
                .with_context(|| format!("checksum list {spec}"))?
        } else {
            Checksum::parse(spec, args.allow_md5)?
        };
        builder = builder.checksum(checksum);
    }

    let mut source: Box<dyn Source> = if args.source == "-" {
        Box::new(StreamSource::new(std::io::stdin(), None, "stdin"))
    } else if is_url(&args.source) {
        Box::new(HttpSource::open(&args.source).with_context(|| args.source.clone())?)
    } else {
        Box::new(FileSource::open(&args.source).with_context(|| args.source.clone())?)
    };
    let is_block = std::fs::metadata(&args.target)
        .map(|m| std::os::unix::fs::FileTypeExt::is_block_device(&m.file_type()))
        .unwrap_or(false);
    let mut target: Box<dyn Target> = if is_block {
        let zeroing = if args.discard {
            Zeroing::Discard
        } else if args.pre_zeroed {
            Zeroing::PreZeroed
        } else {
            Zeroing::Write
        };
        let mut b = BlockTarget::builder(&args.target)
            .direct(args.direct)
            .force(args.force)
            .zeroing(zeroing);
        if let Some(dir) = &args.config_drive {
            let read = |name: &str| std::fs::read(dir.join(name));
            let meta = read("meta_data.json")
                .with_context(|| format!("{}/meta_data.json", dir.display()))?;
            let mut cd = ConfigDrive::new(String::from_utf8_lossy(&meta).into_owned());
            if let Ok(u) = read("user_data") {
                cd = cd.user_data(u);
            }
            if let Ok(n) = read("network_data.json") {
                cd = cd.network_data(String::from_utf8_lossy(&n).into_owned());
            }
            b = b.config_drive(cd.build()?);
        }
        Box::new(b.open().with_context(|| args.target.clone())?)
    } else {
        if args.direct
            || args.discard
            || args.pre_zeroed
            || args.force
            || args.config_drive.is_some()
        {
            anyhow::bail!(
                "--direct, --discard, --pre-zeroed, --force and --config-drive need a block device target"
            );
        }
        Box::new(FileTarget::create(&args.target).with_context(|| args.target.clone())?)
    };

    let bar = if std::io::stderr().is_terminal() {
        let total = source.size().unwrap_or(0);
        let bar = ProgressBar::new(total);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {bytes}/{total_bytes} read, {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        let b = bar.clone();
        builder = builder.progress(move |p| {
            b.set_position(p.bytes_in);
            let phase = match p.phase {
                Phase::Writing => "writing",
                Phase::Syncing => "fsync",
                Phase::Verifying => "verifying",
                _ => "done",
            };
            b.set_message(format!(
                "{} written, {} zero skipped, {:.0} MB/s ({phase})",
                indicatif::HumanBytes(p.bytes_written),
                indicatif::HumanBytes(p.bytes_skipped),
                p.rate() / 1e6
            ));
        });
        Some(bar)
    } else {
        None
    };

    let options = builder.build()?;
    let result = write_image(&mut source, target.as_mut(), &options);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let s = result.with_context(|| format!("writing {} to {}", args.source, args.target))?;

    println!("source:        {} ({})", args.source, s.format);
    println!("image:         {} bytes ({})", s.image_size, s.image_format);
    println!("read:          {} bytes", s.bytes_in);
    println!("written:       {} bytes", s.bytes_written);
    println!("zero skipped:  {} bytes", s.bytes_skipped);
    println!(
        "time:          {:.3} s, {:.1} MB/s",
        s.elapsed.as_secs_f64(),
        s.mb_per_s()
    );
    match &s.checksum {
        Some(c) => println!("checksum:      {c} OK"),
        None => println!("checksum:      not checked (no --checksum)"),
    }
    if args.bmap.is_some() {
        println!("bmap:          {} ranges' sha256 OK", s.bmap_ranges_checked);
    }
    println!(
        "verify:        {}",
        if s.verified {
            "read back OK"
        } else {
            "not read back (no --verify)"
        }
    );
    Ok(())
}
