//! The read-back verification catches a target that does not hold what was written: a
//! corrupted write, and stale bytes where zero runs were skipped.

use std::io::{self, Cursor};

use imaging::{Error, MemoryTarget, SeekableSource, Target, WriteOptions, write_image};

/// A memory target that misbehaves: flips a byte of the write at `flip`, or claims to read back
/// zeros while holding 0xff everywhere (`stale`).
struct Faulty {
    inner: MemoryTarget,
    flip: Option<u64>,
    stale: bool,
}

impl Target for Faulty {
    fn capacity(&self) -> Option<u64> {
        self.inner.capacity()
    }
    fn prepare(&mut self, size: Option<u64>, sparse: bool) -> io::Result<bool> {
        self.inner.prepare(size, sparse)?;
        if self.stale {
            let n = size.unwrap_or(0) as usize;
            self.inner.write_at(0, &vec![0xff; n])?;
        }
        Ok(true)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut d = data.to_vec();
        if let Some(f) = self.flip {
            if (offset..offset + d.len() as u64).contains(&f) {
                d[(f - offset) as usize] ^= 1;
            }
        }
        self.inner.write_at(offset, &d)
    }
    fn finish(&mut self, size: u64) -> io::Result<()> {
        self.inner.finish(size)
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_at(offset, buf)
    }
    fn describe(&self) -> String {
        "faulty".into()
    }
}

fn image() -> Vec<u8> {
    let mut img = vec![0u8; 2 << 20];
    img[100_000..200_000].fill(0x5a);
    img[1_500_000..1_500_100].fill(1);
    img
}

fn run(flip: Option<u64>, stale: bool, verify: bool) -> imaging::Result<()> {
    let mut src = SeekableSource::new(Cursor::new(image()))?;
    let mut dst = Faulty {
        inner: MemoryTarget::new(1 << 30),
        flip,
        stale,
    };
    let opts = WriteOptions::builder().verify(verify).build()?;
    write_image(&mut src, &mut dst, &opts).map(|_| ())
}

#[test]
fn good_target_verifies() {
    run(None, false, true).unwrap();
}

#[test]
fn corrupted_write_is_caught() {
    assert!(run(Some(150_000), false, false).is_ok()); // unnoticed without --verify
    let err = run(Some(150_000), false, true).unwrap_err();
    assert!(matches!(err, Error::VerifyMismatch { .. }), "{err}");
}

#[test]
fn stale_data_in_skipped_zero_runs_is_caught() {
    let err = run(None, true, true).unwrap_err();
    assert!(
        matches!(err, Error::VerifyMismatch { offset: 0, .. }),
        "{err}"
    );
}
