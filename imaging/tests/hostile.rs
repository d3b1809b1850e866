//! Hand-made hostile qcow2 images: every one is refused with a typed error (or decoded within
//! its bounds), in memory, quickly, without a panic.

use std::io::Cursor;

use imaging::qcow2::Limits;
use imaging::{Error, MemoryTarget, Qcow2Error, SeekableSource, WriteOptions, write_image};

const COPIED: u64 = 1 << 63;
const COMPRESSED: u64 = 1 << 62;

/// A v3 image: header in cluster 0, L1 in cluster 1, L2 tables from cluster 2, then data.
struct Craft {
    cb: u32,
    size: u64,
    file: Vec<u8>,
}

impl Craft {
    fn new(cb: u32, size: u64, clusters: usize) -> Self {
        let cs = 1usize << cb;
        let mut file = vec![0u8; cs * clusters];
        file[..4].copy_from_slice(b"QFI\xfb");
        file[4..8].copy_from_slice(&3u32.to_be_bytes());
        file[20..24].copy_from_slice(&cb.to_be_bytes());
        file[24..32].copy_from_slice(&size.to_be_bytes());
        let shift = 2 * cb - 3;
        let l1 = (size >> shift) + u64::from(size & ((1 << shift) - 1) != 0);
        file[36..40].copy_from_slice(&(l1 as u32).to_be_bytes());
        file[40..48].copy_from_slice(&(cs as u64).to_be_bytes());
        file[96..100].copy_from_slice(&4u32.to_be_bytes());
        file[100..104].copy_from_slice(&104u32.to_be_bytes());
        Craft { cb, size, file }
    }

    fn cs(&self) -> u64 {
        1 << self.cb
    }

    fn set_l1(&mut self, i: usize, v: u64) {
        let at = self.cs() as usize + i * 8;
        self.file[at..at + 8].copy_from_slice(&v.to_be_bytes());
    }

    fn set_l2(&mut self, table_cluster: u64, j: usize, v: u64) {
        let at = (table_cluster * self.cs()) as usize + j * 8;
        self.file[at..at + 8].copy_from_slice(&v.to_be_bytes());
    }

    fn run(&self, opts: &WriteOptions) -> imaging::Result<Vec<u8>> {
        let mut src = SeekableSource::new(Cursor::new(self.file.clone()))?;
        let mut dst = MemoryTarget::new(64 << 20);
        write_image(&mut src, &mut dst, opts)?;
        assert_eq!(dst.data().len() as u64, self.size);
        Ok(dst.into_data())
    }
}

fn qerr(r: imaging::Result<Vec<u8>>) -> Qcow2Error {
    match r {
        Err(Error::Qcow2(e)) => e,
        Err(e) => panic!("expected a qcow2 error, got {e}"),
        Ok(_) => panic!("expected a qcow2 error, got success"),
    }
}

fn deflate_raw(data: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::default(), false);
    let mut out = vec![0u8; data.len() + 1024];
    c.compress(data, &mut out, flate2::FlushCompress::Finish)
        .unwrap();
    out.truncate(c.total_out() as usize);
    out
}

#[test]
fn valid_crafted_image_decodes() {
    // 64 KiB clusters, 1 MiB virtual: normal, zero, unallocated and compressed clusters
    let mut c = Craft::new(16, 1 << 20, 6);
    let cs = c.cs();
    c.set_l1(0, (2 * cs) | COPIED);
    c.set_l2(2, 0, (3 * cs) | COPIED); // normal
    c.file[(3 * cs) as usize..(4 * cs) as usize].fill(0xaa);
    c.set_l2(2, 1, 1); // zero flag
    let plain: Vec<u8> = (0..cs).map(|i| (i % 251) as u8).collect();
    let comp = deflate_raw(&plain);
    let host = 4 * cs + 100;
    c.file[host as usize..host as usize + comp.len()].copy_from_slice(&comp);
    let sectors = (host + comp.len() as u64 - 1) / 512 - host / 512;
    let x = 62 - (16 - 8);
    c.set_l2(2, 5, COMPRESSED | (sectors << x) | host);
    let out = c.run(&WriteOptions::default()).unwrap();
    assert!(out[..cs as usize].iter().all(|&b| b == 0xaa));
    assert!(out[cs as usize..5 * cs as usize].iter().all(|&b| b == 0));
    assert_eq!(&out[5 * cs as usize..6 * cs as usize], &plain[..]);
    assert!(out[6 * cs as usize..].iter().all(|&b| b == 0));
}

#[test]
fn offsets_past_the_end() {
    let mut c = Craft::new(16, 1 << 20, 3);
    let cs = c.cs();
    c.set_l1(0, 2 * cs);
    c.set_l2(2, 0, 50 * cs); // data cluster far past EOF
    assert!(matches!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::OutOfFile { .. }
    ));

    let mut c = Craft::new(16, 1 << 20, 3);
    c.set_l1(0, 1 << 40); // L2 table past EOF
    assert!(matches!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::OutOfFile { .. }
    ));

    let mut c = Craft::new(16, 1 << 20, 3);
    c.file[40..48].copy_from_slice(&(1u64 << 50).to_be_bytes()); // L1 past EOF
    assert!(matches!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::OutOfFile { .. }
    ));

    let mut c = Craft::new(16, 1 << 20, 3);
    let x = 62 - 8;
    c.set_l1(0, 2 * cs);
    c.set_l2(2, 0, COMPRESSED | (3 << x) | (1 << 30)); // compressed data past EOF
    assert!(matches!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::OutOfFile { .. }
    ));
}

#[test]
fn shared_l2_table_is_a_loop() {
    // 512-byte clusters: one L1 entry covers 32 KiB; two entries point at one table
    let mut c = Craft::new(9, 64 << 10, 4);
    c.set_l1(0, 2 * 512);
    c.set_l1(1, 2 * 512);
    assert!(matches!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::SharedL2Table { .. }
    ));
}

#[test]
fn huge_tables_and_sizes() {
    // an L1 table bigger than qemu allows
    let mut c = Craft::new(16, 1 << 20, 3);
    c.file[36..40].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::L1TooLarge { .. }
    ));

    // a virtual size of 2^55 bytes: refused before anything is allocated, by the target
    let mut c = Craft::new(21, 1 << 55, 2);
    let l1 = (1u64 << 55) >> (2 * 21 - 3);
    c.file[36..40].copy_from_slice(&(l1 as u32).to_be_bytes());
    c.file[40..48].copy_from_slice(&(1u64 << 21).to_be_bytes());
    let err = c.run(&WriteOptions::default()).unwrap_err();
    assert!(
        matches!(err, Error::TooLarge { written: false, .. }),
        "{err}"
    );

    // limits chosen by the caller
    let mut c = Craft::new(9, 64 << 10, 8);
    c.set_l1(0, 2 * 512);
    c.set_l1(1, 3 * 512);
    for j in 0..4 {
        c.set_l2(2, j * 2, (4 + j as u64) * 512);
    }
    let tight = WriteOptions::builder()
        .limits(Limits::default().max_map_entries(2))
        .build()
        .unwrap();
    assert!(matches!(
        qerr(c.run(&tight)),
        Qcow2Error::MapTooLarge { max: 2 }
    ));
    let tight = WriteOptions::builder()
        .limits(Limits::default().max_l1_entries(1))
        .build()
        .unwrap();
    assert!(matches!(qerr(c.run(&tight)), Qcow2Error::L1TooLarge { .. }));
    c.run(&WriteOptions::default()).unwrap();
}

#[test]
fn bad_entries() {
    let mut c = Craft::new(16, 1 << 20, 4);
    let cs = c.cs();
    c.set_l1(0, 2 * cs + 512); // misaligned L2 table
    assert!(matches!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::Misaligned { .. }
    ));
    c.set_l1(0, (2 * cs) | 2); // reserved bit
    assert!(matches!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::ReservedBits { .. }
    ));
    c.set_l1(0, 2 * cs);
    c.set_l2(2, 3, (3 * cs) | 0x100); // reserved bit in L2
    assert!(matches!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::ReservedBits { .. }
    ));
    c.set_l2(2, 3, 3 * cs + 4096); // misaligned data cluster
    assert!(matches!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::Misaligned { .. }
    ));
}

#[test]
fn decompression_bombs_are_bounded() {
    let mut c = Craft::new(16, 1 << 20, 8);
    let cs = c.cs();
    c.set_l1(0, 2 * cs);
    let x = 62 - 8;
    // zlib: 64 MiB of zeros compress to ~64 KiB; only one cluster is ever produced
    let big = vec![0u8; 64 << 20];
    let bomb = deflate_raw(&big);
    assert!(bomb.len() < 2 * cs as usize, "{}", bomb.len());
    let host = 3 * cs;
    let end = (host as usize + bomb.len()).min(c.file.len());
    c.file[host as usize..end].copy_from_slice(&bomb[..end - host as usize]);
    let sectors = (2 * cs) / 512 - 1; // the most a 64 KiB-cluster entry can name
    c.set_l2(2, 0, COMPRESSED | (sectors << x) | host);
    let out = c.run(&WriteOptions::default()).unwrap();
    assert!(out.iter().all(|&b| b == 0));

    // zstd: a frame that decodes to more than one cluster is refused
    let mut c = Craft::new(16, 1 << 20, 8);
    c.file[72..80].copy_from_slice(&8u64.to_be_bytes()); // compression type bit
    c.file[100..104].copy_from_slice(&112u32.to_be_bytes());
    c.file[104] = 1; // zstd
    c.set_l1(0, 2 * cs);
    let bomb = zstd::bulk::compress(&vec![1u8; 8 << 20], 3).unwrap();
    c.file[host as usize..host as usize + bomb.len()].copy_from_slice(&bomb);
    let sectors = (bomb.len() as u64 - 1) / 512;
    c.set_l2(2, 0, COMPRESSED | (sectors << x) | host);
    assert!(matches!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::BadCompressedCluster { .. }
    ));
}

#[test]
fn refused_features() {
    let mut c = Craft::new(16, 1 << 20, 3);
    c.file[72..80].copy_from_slice(&(1u64 << 4).to_be_bytes());
    assert_eq!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::ExtendedL2
    );
    c.file[72..80].copy_from_slice(&(1u64 << 20).to_be_bytes());
    assert!(matches!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::UnknownIncompatibleFeatures(_)
    ));
    c.file[72..80].copy_from_slice(&0u64.to_be_bytes());
    // an external data file named by a header extension
    c.file[104..108].copy_from_slice(&0x4441_5441u32.to_be_bytes());
    c.file[108..112].copy_from_slice(&11u32.to_be_bytes());
    c.file[112..123].copy_from_slice(b"/etc/passwd");
    assert_eq!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::ExternalDataFile
    );
    let mut c = Craft::new(16, 1 << 20, 3);
    c.file[4..8].copy_from_slice(&1u32.to_be_bytes());
    assert_eq!(
        qerr(c.run(&WriteOptions::default())),
        Qcow2Error::UnsupportedVersion(1)
    );
}
