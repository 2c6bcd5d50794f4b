//! Link adapters for the handover: the real SPP links come from
//! [`rettpad_wire`] (`SerialLink` for `/dev/rfcommN` and PTYs,
//! `TcpLink` for loopback); here are the wrappers tests and benches use to
//! cut and throttle a link.

use rettpad_wire::{Link, LinkError};
use std::time::{Duration, Instant};

/// Fails for good after `budget` bytes (sent plus received): a link lost at
/// a chosen point.
pub struct CutAfter<L> {
    inner: L,
    budget: usize,
}

impl<L: Link> CutAfter<L> {
    pub fn new(inner: L, budget: usize) -> Self {
        CutAfter { inner, budget }
    }
}

impl<L: Link> Link for CutAfter<L> {
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        if self.budget == 0 {
            return Err(LinkError::Closed);
        }
        let max = buf.len().min(self.budget);
        let n = self
            .inner
            .recv(buf.get_mut(..max).unwrap_or_default(), timeout)?;
        self.budget -= n;
        Ok(n)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        if bytes.len() > self.budget {
            let part = bytes.get(..self.budget).unwrap_or_default();
            let _ = self.inner.send(part);
            self.budget = 0;
            return Err(LinkError::Closed);
        }
        self.budget -= bytes.len();
        self.inner.send(bytes)
    }
}

/// Sends at most `bits_per_s` (serialisation delay of a slow radio link).
pub struct Throttled<L> {
    inner: L,
    bits_per_s: u64,
    free_at: Option<Instant>,
}

impl<L: Link> Throttled<L> {
    pub fn new(inner: L, bits_per_s: u64) -> Self {
        Throttled {
            inner,
            bits_per_s: bits_per_s.max(1),
            free_at: None,
        }
    }
}

impl<L: Link> Link for Throttled<L> {
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        self.inner.recv(buf, timeout)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        let now = Instant::now();
        let start = self.free_at.map_or(now, |t| t.max(now));
        let nanos = (bytes.len() as u64)
            .saturating_mul(8)
            .saturating_mul(1_000_000_000)
            / self.bits_per_s;
        let done = start + Duration::from_nanos(nanos);
        self.free_at = Some(done);
        std::thread::sleep(done.saturating_duration_since(now));
        self.inner.send(bytes)
    }
}

/// A link with bytes already read from it (the listener's first read).
pub struct Prefixed<L> {
    first: Vec<u8>,
    inner: L,
}

impl<L: Link> Prefixed<L> {
    pub fn new(first: Vec<u8>, inner: L) -> Self {
        Prefixed { first, inner }
    }
}

impl<L: Link> Link for Prefixed<L> {
    fn recv(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, LinkError> {
        if self.first.is_empty() {
            return self.inner.recv(buf, timeout);
        }
        let n = buf.len().min(self.first.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), self.first.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.first.drain(..n);
        Ok(n)
    }

    fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        self.inner.send(bytes)
    }
}
