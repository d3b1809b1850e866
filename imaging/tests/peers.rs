//! Interop with the real tools: qemu-img makes qcow2 fixtures (v2, v3, compressed with zlib and
//! zstd, preallocated, several cluster sizes) and is the reference (`qemu-img convert -O raw`);
//! gzip, zstd, xz and bzip2 make the compressed streams. Our output must be byte-identical to
//! the reference and sparse.

mod common;

use std::path::Path;

use common::{Fixture, allocated, data_bytes, run_to_file, sha256_spec};
use imaging::{Checksum, Error, Format, Qcow2Error, WriteOptions};

const SIZE: usize = (6 << 20) + 7 * 512; // not a multiple of any cluster size

fn opts_with_checksum(image: &Path) -> WriteOptions {
    WriteOptions::builder()
        .checksum(sha256_spec(image).parse::<Checksum>().unwrap())
        .verify(true)
        .build()
        .unwrap()
}

/// Writes `image` with a checksum and verification, compares with qemu-img's raw output and
/// checks the output is sparse.
fn check(fx: &Fixture, image: &Path, format: Format) {
    // qemu-img reads the disk images; the compressed streams hold disk.raw
    let reference = fx.reference(if format.is_compressed() {
        &fx.raw
    } else {
        image
    });
    assert!(
        reference == fx.image,
        "qemu-img's own conversion differs from the source"
    );
    let (out, summary) = fx
        .write(image, &opts_with_checksum(image))
        .unwrap_or_else(|e| panic!("{}: {e}", image.display()));
    let ours = std::fs::read(&out).unwrap();
    assert_eq!(ours.len(), reference.len(), "{}: size", image.display());
    assert!(
        ours == reference,
        "{}: output differs from qemu-img convert -O raw",
        image.display()
    );
    assert_eq!(summary.format, format);
    assert!(summary.verified);
    assert!(summary.checksum.is_some());
    assert_eq!(summary.image_size, SIZE as u64);
    assert_eq!(summary.bytes_written + summary.bytes_skipped, SIZE as u64);
    let data = data_bytes(&fx.image);
    // zero detection works on 4 KiB blocks of what arrives; with 512-byte clusters a few
    // partial blocks at the edges of data runs may be found zero and skipped
    assert!(
        summary.bytes_written <= data && summary.bytes_written >= data - data / 100,
        "{}: bytes written {} for {data} bytes of data",
        image.display(),
        summary.bytes_written
    );
    let alloc = allocated(&out);
    assert!(
        alloc <= data + (64 << 10),
        "{}: output not sparse: {alloc} bytes allocated for {data} bytes of data",
        image.display()
    );
}

#[test]
fn raw() {
    let fx = Fixture::new(SIZE, 1);
    check(&fx, &fx.raw, Format::Raw);
}

#[test]
fn raw_holes_are_not_read_without_a_checksum() {
    let fx = Fixture::new(SIZE, 18);
    let opts = WriteOptions::builder()
        .verify(true)
        .buffer_size(256 << 10)
        .build()
        .unwrap();
    let (out, summary) = fx.write(&fx.raw, &opts).unwrap();
    assert!(std::fs::read(&out).unwrap() == fx.image);
    assert_eq!(summary.image_size, SIZE as u64);
    let data = data_bytes(&fx.image);
    assert_eq!(summary.bytes_written, data);
    // SEEK_DATA: only the data extents (plus the first buffer) are read
    assert!(
        summary.bytes_in < SIZE as u64 / 2,
        "read {} of {SIZE}",
        summary.bytes_in
    );
    assert!(allocated(&out) <= data + (64 << 10));
}

#[test]
fn raw_holes_are_hashed_as_zeros_not_read() {
    let fx = Fixture::new(SIZE, 19);
    let spec = sha256_spec(&fx.raw);
    let opts = WriteOptions::builder()
        .checksum(spec.parse().unwrap())
        .buffer_size(256 << 10)
        .build()
        .unwrap();
    let (out, summary) = fx.write(&fx.raw, &opts).unwrap();
    assert!(std::fs::read(&out).unwrap() == fx.image);
    assert_eq!(summary.checksum.unwrap().to_string(), spec);
    // SEEK_DATA: the holes are hashed as zeros, never read
    assert!(
        summary.bytes_in < SIZE as u64 / 2,
        "read {} of {SIZE}",
        summary.bytes_in
    );
    // and a wrong checksum still fails, naming both values
    let wrong = format!("sha256:{}", "ab".repeat(32));
    let opts = WriteOptions::builder()
        .checksum(wrong.parse().unwrap())
        .build()
        .unwrap();
    let err = fx.write(&fx.raw, &opts).unwrap_err().to_string();
    assert!(
        err.contains(&"ab".repeat(32)) && err.contains(&spec[7..]),
        "{err}"
    );
}

#[test]
fn qcow2_v2() {
    let fx = Fixture::new(SIZE, 2);
    let img = fx.qcow2("v2.qcow2", &["-o", "compat=0.10"]);
    check(&fx, &img, Format::Qcow2);
}

#[test]
fn qcow2_v3() {
    let fx = Fixture::new(SIZE, 3);
    let img = fx.qcow2("v3.qcow2", &["-o", "compat=1.1"]);
    check(&fx, &img, Format::Qcow2);
}

#[test]
fn qcow2_v2_compressed_zlib() {
    let fx = Fixture::new(SIZE, 4);
    let img = fx.qcow2("v2z.qcow2", &["-c", "-o", "compat=0.10"]);
    check(&fx, &img, Format::Qcow2);
}

#[test]
fn qcow2_v3_compressed_zlib() {
    let fx = Fixture::new(SIZE, 5);
    let img = fx.qcow2("v3z.qcow2", &["-c", "-o", "compat=1.1"]);
    check(&fx, &img, Format::Qcow2);
}

#[test]
fn qcow2_v3_compressed_zstd() {
    let fx = Fixture::new(SIZE, 6);
    let img = fx.qcow2("zstd.qcow2", &["-c", "-o", "compression_type=zstd"]);
    check(&fx, &img, Format::Qcow2);
}

#[test]
fn qcow2_cluster_sizes() {
    let fx = Fixture::new(SIZE, 7);
    for cs in ["512", "4k", "2M"] {
        let img = fx.qcow2(
            &format!("cs{cs}.qcow2"),
            &["-o", &format!("cluster_size={cs}")],
        );
        check(&fx, &img, Format::Qcow2);
        let img = fx.qcow2(
            &format!("cs{cs}-zstd.qcow2"),
            &[
                "-c",
                "-o",
                &format!("cluster_size={cs},compression_type=zstd"),
            ],
        );
        check(&fx, &img, Format::Qcow2);
    }
}

#[test]
fn qcow2_preallocation() {
    let fx = Fixture::new(SIZE, 8);
    for p in ["metadata", "falloc", "full"] {
        for compat in ["0.10", "1.1"] {
            let img = fx.qcow2(
                &format!("prealloc-{p}-{compat}.qcow2"),
                &["-o", &format!("preallocation={p},compat={compat}")],
            );
            check(&fx, &img, Format::Qcow2);
        }
    }
}

#[test]
fn compressed_streams() {
    let fx = Fixture::new(SIZE, 9);
    let cases: &[(&str, &[&str], &str, Format)] = &[
        ("gzip", &["-6", "-n", "-c"], "disk.raw.gz", Format::Gzip),
        ("zstd", &["-q", "-3", "-c"], "disk.raw.zst", Format::Zstd),
        (
            "xz",
            &["-6", "-T2", "--block-size=1MiB", "-c"],
            "disk.raw.xz",
            Format::Xz,
        ),
        ("xz", &["-1", "-c"], "disk.raw.1.xz", Format::Xz),
        ("bzip2", &["-9", "-c"], "disk.raw.bz2", Format::Bzip2),
    ];
    for (prog, args, name, format) in cases {
        let out = fx.path(name);
        run_to_file(prog, args, &fx.raw, &out);
        check(&fx, &out, *format);
    }
}

#[test]
fn concatenated_streams() {
    // Two members / frames / streams one after another decode to the concatenation.
    let fx = Fixture::new(SIZE, 10);
    let half = fx.path("half.raw");
    std::fs::write(&half, &fx.image[..SIZE / 2]).unwrap();
    let rest = fx.path("rest.raw");
    std::fs::write(&rest, &fx.image[SIZE / 2..]).unwrap();
    for (prog, ext, format) in [
        ("gzip", "gz", Format::Gzip),
        ("zstd", "zst", Format::Zstd),
        ("xz", "xz", Format::Xz),
        ("bzip2", "bz2", Format::Bzip2),
    ] {
        let (a, b) = (fx.path(&format!("a.{ext}")), fx.path(&format!("b.{ext}")));
        run_to_file(prog, &["-c"], &half, &a);
        run_to_file(prog, &["-c"], &rest, &b);
        let mut both = std::fs::read(&a).unwrap();
        both.extend(std::fs::read(&b).unwrap());
        let cat = fx.path(&format!("cat.raw.{ext}"));
        std::fs::write(&cat, both).unwrap();
        let (out, summary) = fx.write(&cat, &opts_with_checksum(&cat)).unwrap();
        assert_eq!(summary.format, format);
        assert!(
            std::fs::read(out).unwrap() == fx.image,
            "{prog}: concatenated stream"
        );
    }
}

#[test]
fn truncated_streams_fail() {
    let fx = Fixture::new(SIZE, 11);
    for (prog, ext) in [
        ("gzip", "gz"),
        ("zstd", "zst"),
        ("xz", "xz"),
        ("bzip2", "bz2"),
    ] {
        let full = fx.path(&format!("full.{ext}"));
        run_to_file(prog, &["-c"], &fx.raw, &full);
        let bytes = std::fs::read(&full).unwrap();
        let cut = fx.path(&format!("cut.raw.{ext}"));
        std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
        let err = fx.write(&cut, &WriteOptions::default()).unwrap_err();
        assert!(
            matches!(err, Error::Decompress { .. }),
            "{prog}: truncated stream gave {err}"
        );
    }
    // a qcow2 cut short: its last clusters are past the end
    let img = fx.qcow2("cut.qcow2", &[]);
    let bytes = std::fs::read(&img).unwrap();
    std::fs::write(&img, &bytes[..bytes.len() - 70_000]).unwrap();
    let err = fx.write(&img, &WriteOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::Qcow2(Qcow2Error::OutOfFile { .. })),
        "truncated qcow2 gave {err}"
    );
}

#[test]
fn backing_file_is_refused() {
    let fx = Fixture::new(1 << 20, 12);
    let base = fx.qcow2("base.qcow2", &[]);
    let overlay = fx.path("overlay.qcow2");
    common::run(
        "qemu-img",
        &[
            "create",
            "-f",
            "qcow2",
            "-b",
            base.to_str().unwrap(),
            "-F",
            "qcow2",
            overlay.to_str().unwrap(),
        ],
    );
    let err = fx.write(&overlay, &WriteOptions::default()).unwrap_err();
    match &err {
        Error::Qcow2(Qcow2Error::BackingFile { name }) => {
            assert!(name.ends_with("base.qcow2"), "{name}")
        }
        e => panic!("expected a backing-file error, got {e}"),
    }
    assert!(err.to_string().contains("backing file"), "{err}");
}

#[test]
fn dense_write_allocates_everything() {
    let fx = Fixture::new(SIZE, 13);
    let img = fx.qcow2("dense.qcow2", &[]);
    let opts = WriteOptions::builder()
        .sparse(false)
        .verify(true)
        .build()
        .unwrap();
    let (out, summary) = fx.write(&img, &opts).unwrap();
    assert!(std::fs::read(&out).unwrap() == fx.image);
    assert_eq!(summary.bytes_written, SIZE as u64);
    assert_eq!(summary.bytes_skipped, 0);
    assert!(allocated(&out) >= SIZE as u64);
    let (out, summary) = fx.write(&fx.raw, &opts).unwrap();
    assert!(std::fs::read(&out).unwrap() == fx.image);
    assert_eq!(summary.bytes_written, SIZE as u64);
}

#[test]
fn checksum_mismatch_says_both_values() {
    let fx = Fixture::new(1 << 20, 14);
    let img = fx.qcow2("sum.qcow2", &[]);
    let wrong = format!("sha512:{}", "ab".repeat(64));
    let opts = WriteOptions::builder()
        .checksum(wrong.parse().unwrap())
        .build()
        .unwrap();
    let err = fx.write(&img, &opts).unwrap_err();
    let msg = err.to_string();
    match err {
        Error::ChecksumMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, "ab".repeat(64));
            assert_eq!(actual.len(), 128);
            assert!(msg.contains(&expected) && msg.contains(&actual), "{msg}");
        }
        e => panic!("expected a mismatch, got {e}"),
    }
    // md5, when asked for explicitly
    let mut h = imaging::Hasher::new(imaging::Algorithm::Md5);
    h.update(&std::fs::read(&img).unwrap());
    let md5 = h.finish().hex();
    let opts = WriteOptions::builder()
        .checksum(Checksum::parse(&md5, true).unwrap())
        .build()
        .unwrap();
    let (_, summary) = fx.write(&img, &opts).unwrap();
    assert_eq!(summary.checksum.unwrap().hex(), md5);
}

#[test]
fn too_large_for_the_target_writes_nothing() {
    let fx = Fixture::new(2 << 20, 15);
    let img = fx.qcow2("big.qcow2", &[]);
    for source in [&img, &fx.raw] {
        let out = fx.path("small.img");
        std::fs::write(&out, b"previous contents").unwrap();
        let mut src = imaging::FileSource::open(source).unwrap();
        let mut dst = imaging::FileTarget::create(&out)
            .unwrap()
            .with_capacity(1 << 20);
        let err = imaging::write_image(&mut src, &mut dst, &WriteOptions::default()).unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { written: false, .. }),
            "{err}"
        );
        assert_eq!(std::fs::read(&out).unwrap(), b"previous contents");
    }
    // a stream of unknown size is stopped at the target's end, never written past it
    let gz = fx.path("big.raw.gz");
    run_to_file("gzip", &["-c"], &fx.raw, &gz);
    let out = fx.path("small-gz.img");
    let mut src = imaging::FileSource::open(&gz).unwrap();
    let mut dst = imaging::FileTarget::create(&out)
        .unwrap()
        .with_capacity(1 << 20);
    let opts = WriteOptions::builder()
        .buffer_size(256 << 10)
        .build()
        .unwrap();
    let err = imaging::write_image(&mut src, &mut dst, &opts).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert!(std::fs::metadata(&out).unwrap().len() <= 1 << 20);
}

#[test]
fn qcow2_needs_a_seekable_source_and_no_compression_around_it() {
    let fx = Fixture::new(1 << 20, 16);
    let img = fx.qcow2("s.qcow2", &[]);
    let mut src = imaging::StreamSource::new(std::fs::File::open(&img).unwrap(), None, "pipe");
    let mut dst = imaging::MemoryTarget::new(1 << 30);
    let err = imaging::write_image(&mut src, &mut dst, &WriteOptions::default()).unwrap_err();
    assert!(matches!(err, Error::Unsupported(_)), "{err}");

    let gz = fx.path("s.qcow2.gz");
    run_to_file("gzip", &["-c"], &img, &gz);
    let err = fx.write(&gz, &WriteOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("qcow2 image inside a gzip"),
        "{err}"
    );

    // forced raw: the qcow2 file's bytes as they are
    let opts = WriteOptions::builder().format(Format::Raw).build().unwrap();
    let (out, _) = fx.write(&img, &opts).unwrap();
    assert!(std::fs::read(out).unwrap() == std::fs::read(&img).unwrap());
}

#[test]
fn progress_events_and_stream_source() {
    use std::sync::{Arc, Mutex};
    let fx = Fixture::new(SIZE, 17);
    let zst = fx.path("p.raw.zst");
    run_to_file("zstd", &["-q", "-c"], &fx.raw, &zst);
    let events = Arc::new(Mutex::new(Vec::new()));
    let ev = events.clone();
    let opts = WriteOptions::builder()
        .progress(move |p| ev.lock().unwrap().push(*p))
        .progress_interval(std::time::Duration::ZERO)
        .buffer_size(256 << 10)
        .build()
        .unwrap();
    // a non-seekable source of unknown size works for compressed raw images
    let mut src = imaging::StreamSource::new(std::fs::File::open(&zst).unwrap(), None, "pipe");
    let mut dst = imaging::MemoryTarget::new(1 << 30);
    let summary = imaging::write_image(&mut src, &mut dst, &opts).unwrap();
    assert!(dst.data() == &fx.image[..]);
    let events = events.lock().unwrap();
    assert!(events.len() > 3, "{} events", events.len());
    let last = events.last().unwrap();
    assert_eq!(last.phase, imaging::Phase::Done);
    assert_eq!(last.bytes_done(), SIZE as u64);
    assert_eq!(last.bytes_in, summary.bytes_in);
    assert!(
        events
            .windows(2)
            .all(|w| w[0].bytes_done() <= w[1].bytes_done())
    );
}
