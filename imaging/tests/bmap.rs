//! Block maps made by the real `bmaptool create` (Debian `bmap-tools`): only the mapped ranges
//! are read (local raw) and written, each checked against its sha256; the output is
//! byte-identical to the image; a changed byte, a bmap of another size or a target too small
//! is refused.

mod common;

use std::path::{Path, PathBuf};

use common::{Fixture, allocated, data_bytes, run, run_to_file, sha256_spec};
use imaging::{
    Bmap, BmapError, Error, FileSource, FileTarget, MemoryTarget, WriteOptions, write_image,
};

const SIZE: usize = (6 << 20) + 3 * 4096;

fn bmaptool_create(image: &Path, out: &Path) -> Bmap {
    run(
        "bmaptool",
        &[
            "create",
            "-o",
            out.to_str().unwrap(),
            image.to_str().unwrap(),
        ],
    );
    Bmap::parse(&std::fs::read(out).unwrap()).expect("bmaptool's bmap parses")
}

fn with_bmap(bmap: &Bmap) -> WriteOptions {
    WriteOptions::builder()
        .bmap(bmap.clone())
        .buffer_size(256 << 10)
        .verify(true)
        .build()
        .unwrap()
}

#[test]
fn raw_with_bmaptool_bmap() {
    let fx = Fixture::new(SIZE, 31);
    let bmap = bmaptool_create(&fx.raw, &fx.path("disk.bmap"));
    assert_eq!(bmap.image_size(), SIZE as u64);
    assert!(bmap.ranges().iter().all(|r| r.sha256.is_some()));
    // with a whole-image checksum too: unmapped ranges are hashed as zeros
    let opts = WriteOptions::builder()
        .bmap(bmap.clone())
        .checksum(sha256_spec(&fx.raw).parse().unwrap())
        .buffer_size(256 << 10)
        .verify(true)
        .build()
        .unwrap();
    for opts in [with_bmap(&bmap), opts] {
        let (out, s) = fx.write(&fx.raw, &opts).unwrap();
        assert!(std::fs::read(&out).unwrap() == fx.image, "output differs");
        assert_eq!(s.bmap_ranges_checked, bmap.ranges().len() as u64);
        assert!(s.verified);
        assert_eq!(s.bytes_written + s.bytes_skipped, SIZE as u64);
        assert!(s.bytes_written <= bmap.mapped_bytes());
        assert!(s.bytes_written >= data_bytes(&fx.image));
        // only the mapped ranges (and the first buffer, for format detection) were read
        assert!(
            s.bytes_in <= bmap.mapped_bytes() + (256 << 10),
            "read {} bytes for {} mapped",
            s.bytes_in,
            bmap.mapped_bytes()
        );
        assert!(allocated(&out) <= bmap.mapped_bytes() + (64 << 10));
    }
}

#[test]
fn compressed_stream_with_bmap() {
    let fx = Fixture::new(SIZE, 32);
    let bmap = bmaptool_create(&fx.raw, &fx.path("disk.bmap"));
    let zst = fx.path("disk.raw.zst");
    run_to_file("zstd", &["-q", "-c"], &fx.raw, &zst);
    let (out, s) = fx.write(&zst, &with_bmap(&bmap)).unwrap();
    assert!(std::fs::read(&out).unwrap() == fx.image, "output differs");
    assert_eq!(s.bmap_ranges_checked, bmap.ranges().len() as u64);
    assert_eq!(s.image_size, SIZE as u64);
}

#[test]
fn changed_mapped_byte_is_caught() {
    let fx = Fixture::new(SIZE, 33);
    let bmap = bmaptool_create(&fx.raw, &fx.path("disk.bmap"));
    // the same image with one byte changed inside the third mapped range
    let r = &bmap.ranges()[2];
    let at = (r.first * bmap.block_size() + 7) as usize;
    let mut bad = fx.image.clone();
    bad[at] ^= 0x55;
    let bad_path: PathBuf = fx.path("bad.raw");
    std::fs::write(&bad_path, &bad).unwrap();
    let err = fx.write(&bad_path, &with_bmap(&bmap)).unwrap_err();
    match &err {
        Error::Bmap(BmapError::RangeChecksum { first, last, .. }) => {
            assert_eq!((*first, *last), (r.first, r.last));
        }
        e => panic!("unexpected error {e}"),
    }
    assert!(err.to_string().contains("sha256 expected"), "{err}");
}

#[test]
fn size_mismatch_and_small_target_are_refused() {
    let fx = Fixture::new(SIZE, 34);
    let bmap = bmaptool_create(&fx.raw, &fx.path("disk.bmap"));
    // an image of another size than the bmap's
    let short = fx.path("short.raw");
    std::fs::write(&short, &fx.image[..SIZE - 4096]).unwrap();
    let err = fx.write(&short, &with_bmap(&bmap)).unwrap_err();
    assert!(
        matches!(err, Error::Bmap(BmapError::ImageSize { .. })),
        "{err}"
    );
    // a target smaller than the bmap's image: refused before anything is written
    let mut src = FileSource::open(&fx.raw).unwrap();
    let mut dst = MemoryTarget::new(SIZE as u64 - 1);
    let err = write_image(&mut src, &mut dst, &with_bmap(&bmap)).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { written: false, .. }),
        "{err}"
    );
    assert!(dst.data().is_empty());
    // a qcow2 with a bmap makes no sense
    let q = fx.qcow2("d.qcow2", &[]);
    let mut src = FileSource::open(&q).unwrap();
    let mut dst = FileTarget::create(fx.path("q.img")).unwrap();
    assert!(matches!(
        write_image(&mut src, &mut dst, &with_bmap(&bmap)),
        Err(Error::Unsupported(_))
    ));
}

#[test]
fn altered_bmap_file_is_refused() {
    let fx = Fixture::new(SIZE, 35);
    let path = fx.path("disk.bmap");
    bmaptool_create(&fx.raw, &path);
    let text = std::fs::read_to_string(&path).unwrap();
    // bmaptool's own file checksum catches an edited range
    let i = text.find("<Range").unwrap();
    let j = i + text[i..].find("> ").unwrap() + 2;
    let mut edited = text.clone().into_bytes();
    edited[j] = if edited[j] == b'1' { b'2' } else { b'1' };
    assert!(Bmap::parse(&edited).is_err());
}
