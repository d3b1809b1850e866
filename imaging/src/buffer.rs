//! Recycled, page-aligned buffers: the pipeline's whole working memory.
//!
//! A [`Pool`] hands out at most `count` buffers of `size` bytes. A buffer returns to its pool
//! when its last user drops it, so a stage that runs ahead blocks in [`Pool::get`]: memory is
//! bounded by `count * size` per pool whatever the image size.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Alignment of every buffer's usable area (a page; what O_DIRECT needs on 4Kn disks).
pub(crate) const ALIGN: usize = 4096;

pub(crate) struct Pool {
    size: usize,
    count: usize,
    allocated: usize,
    tx: SyncSender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
}

impl Pool {
    pub(crate) fn new(size: usize, count: usize) -> Self {
        let count = count.max(1);
        let (tx, rx) = sync_channel(count);
        Pool {
            size,
            count,
            allocated: 0,
            tx,
            rx,
        }
    }

    /// A free buffer; blocks until one is returned when all are in use. `None` only if the
    /// pool's channel broke, which cannot happen while the pool lives.
    pub(crate) fn get(&mut self) -> Option<PoolBuf> {
        let vec = match self.rx.try_recv() {
            Ok(v) => v,
            Err(_) if self.allocated < self.count => {
                self.allocated += 1;
                vec![0u8; self.size + ALIGN]
            }
            Err(_) => self.rx.recv().ok()?,
        };
        let start = (ALIGN - (vec.as_ptr() as usize) % ALIGN) % ALIGN;
        Some(PoolBuf {
            vec,
            start,
            len: 0,
            size: self.size,
            ret: Some(self.tx.clone()),
        })
    }
}

/// A buffer from a [`Pool`], owned by one stage, writable.
pub(crate) struct PoolBuf {
    vec: Vec<u8>,
    start: usize,
    len: usize,
    size: usize,
    ret: Option<SyncSender<Vec<u8>>>,
}

impl PoolBuf {
    /// A buffer that belongs to no pool (tests, one-off uses).
    #[cfg(test)]
    pub(crate) fn from_vec(vec: Vec<u8>) -> Self {
        let len = vec.len();
        PoolBuf {
            vec,
            start: 0,
            len,
            size: len,
            ret: None,
        }
    }

    /// The whole usable area (`size` bytes), aligned.
    pub(crate) fn space(&mut self) -> &mut [u8] {
        &mut self.vec[self.start..self.start + self.size]
    }

    pub(crate) fn capacity(&self) -> usize {
        self.size
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn set_len(&mut self, len: usize) {
        self.len = len.min(self.size);
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.vec[self.start..self.start + self.len]
    }

    /// Shares the buffer read-only between stages.
    pub(crate) fn freeze(self) -> Block {
        let len = self.len;
        Block {
            buf: Arc::new(self),
            start: 0,
            len,
        }
    }
}

impl Drop for PoolBuf {
    fn drop(&mut self) {
        if let Some(ret) = self.ret.take() {
            // The pool may be gone (pipeline finished); then the memory is simply freed.
            let _ = ret.try_send(std::mem::take(&mut self.vec));
        }
    }
}

/// A filled buffer (or a part of one) shared by several stages (hasher, decoder, writer)
/// without copying: the buffer returns to its pool when the last part is dropped.
#[derive(Clone)]
pub(crate) struct Block {
    buf: Arc<PoolBuf>,
    start: usize,
    len: usize,
}

impl Block {
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf.data()[self.start..self.start + self.len]
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The part `[start, start + len)` of this block (clamped to it), sharing the buffer.
    pub(crate) fn slice(&self, start: usize, len: usize) -> Block {
        let start = start.min(self.len);
        Block {
            buf: Arc::clone(&self.buf),
            start: self.start + start,
            len: len.min(self.len - start),
        }
    }
}

impl AsRef<[u8]> for Block {
    fn as_ref(&self) -> &[u8] {
        self.data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_recycles_and_aligns() {
        let mut p = Pool::new(8192, 2);
        let mut a = p.get().unwrap();
        assert_eq!(a.space().as_ptr() as usize % ALIGN, 0);
        assert_eq!(a.space().len(), 8192);
        a.set_len(10);
        let b = a.freeze();
        let c = b.clone();
        drop(b);
        let _d = p.get().unwrap(); // second allocation
        drop(c); // first returns
        let e = p.get().unwrap(); // recycled, no third allocation
        assert_eq!(e.capacity(), 8192);
        assert_eq!(p.allocated, 2);
    }

    #[test]
    fn slices_share_and_clamp() {
        let mut p = Pool::new(4096, 1);
        let mut a = p.get().unwrap();
        a.space()[..5].copy_from_slice(b"hello");
        a.set_len(5);
        let b = a.freeze();
        let s = b.slice(1, 3);
        assert_eq!(s.data(), b"ell");
        assert_eq!(s.slice(1, 100).data(), b"ll");
        assert_eq!(b.slice(9, 1).len(), 0);
        drop(b);
        drop(s);
        assert!(p.get().is_some()); // returned to the pool once every part is gone
    }
}
