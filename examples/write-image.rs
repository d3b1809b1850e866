//! `write-image`: stream a disk image (raw, qcow2, or a gzip/zstd/xz/bzip2 stream of a raw
//! image) onto a target file, with an inline checksum and an optional read-back verification.
//!
//! ```text
//! cargo run --release --example write-image -- SOURCE TARGET [--checksum SPEC] \
//!     [--format auto|raw|qcow2] [--no-sparse] [--verify]
//! ```
//!
//! SOURCE is a local file (`-` reads a raw or compressed raw image from stdin); TARGET a
//! regular file, created or truncated. `--checksum` takes `sha256:HEX`, `sha512:HEX`,
//! `md5:HEX` or bare hex (64 digits: sha256, 128: sha512) over SOURCE's bytes as read. A
//! progress bar is shown on a terminal. Exit status 0 only when the whole image is on the
//! target, flushed, and the checksum (and read-back, with `--verify`) matched.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use imaging::{
    Checksum, FileSource, FileTarget, Format, Phase, Source, StreamSource, WriteOptions,
    write_image,
};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Parser, Debug)]
#[command(
    name = "write-image",
    about = "Stream a raw, qcow2 or compressed image onto a file, verified"
)]
struct Args {
    /// Image to write: a path, or `-` for stdin (raw or compressed raw only).
    source: String,
    /// Target file (created or truncated; kept sparse unless --no-sparse).
    target: String,
    /// Expected checksum of SOURCE as read: ALGO:HEX (sha256, sha512, md5) or bare hex.
    #[arg(long)]
    checksum: Option<String>,
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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
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
        .sparse(!args.no_sparse)
        .verify(args.verify);
    if args.format != "auto" {
        builder = builder.format(args.format.parse::<Format>()?);
    }
    if let Some(spec) = &args.checksum {
        builder = builder.checksum(Checksum::parse(spec, args.allow_md5)?);
    }

    let mut source: Box<dyn Source> = if args.source == "-" {
        Box::new(StreamSource::new(std::io::stdin(), None, "stdin"))
    } else {
        Box::new(FileSource::open(&args.source).with_context(|| args.source.clone())?)
    };
    let mut target = FileTarget::create(&args.target).with_context(|| args.target.clone())?;

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
    let result = write_image(&mut source, &mut target, &options);
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
