//! Opening an input: whether it is gzip (by its magic bytes, never its name), and the
//! decompressor capped at a size so that a small bomb cannot fill memory or disk. Replay, the
//! tailer, import and explain all open files this way.

use std::io::{self, BufRead, Read};

use flate2::bufread::MultiGzDecoder;

/// Whether a file starting with `head` is gzip (RFC 1952's magic bytes).
pub fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// The decompressed stream of `raw` (every gzip member, as `zcat` reads them), ending after
/// `limit` bytes; [`Capped::hit`] says whether there was more.
pub fn gunzip_capped<R: BufRead>(raw: R, limit: u64) -> Capped<MultiGzDecoder<R>> {
    Capped::new(MultiGzDecoder::new(raw), limit)
}

/// A reader that ends after `left` bytes and remembers whether there was more.
pub struct Capped<R: Read> {
    inner: R,
    left: u64,
    hit: bool,
}

impl<R: Read> Capped<R> {
    /// Ends after `limit` bytes of `inner`.
    pub fn new(inner: R, limit: u64) -> Capped<R> {
        Capped {
            inner,
            left: limit,
            hit: false,
        }
    }

    /// Whether `inner` had more than the limit.
    pub fn hit(&self) -> bool {
        self.hit
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // Probe for one more byte so an input of exactly the limit is not reported.
            let mut one = [0u8; 1];
            if !self.hit && self.inner.read(&mut one)? > 0 {
                self.hit = true;
            }
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(buf.get_mut(..want).unwrap_or_default())?;
        self.left -= n as u64;
        Ok(n)
    }
}
