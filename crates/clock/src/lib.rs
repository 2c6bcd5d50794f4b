//! Injectable time. Production uses [`SystemClock`]; tests drive [`TestClock`]
//! so idle timeouts and event times need no sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync {
    /// Wall-clock time in milliseconds since the Unix epoch (UTC). May jump.
    fn wall_ms(&self) -> i64;
    /// Monotonic time since an arbitrary start. Never goes backwards.
    fn mono(&self) -> Duration;
}

pub type SharedClock = Arc<dyn Clock>;

#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        SystemClock {
            start: Instant::now(),
        }
    }

    pub fn shared() -> SharedClock {
        Arc::new(Self::new())
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn wall_ms(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn mono(&self) -> Duration {
        self.start.elapsed()
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct TestClock {
    wall_ms: AtomicI64,
    mono_ns: AtomicU64,
}

impl TestClock {
    /// Starts at `wall_ms` with monotonic time zero.
    pub fn new(wall_ms: i64) -> Arc<Self> {
        Arc::new(TestClock {
            wall_ms: AtomicI64::new(wall_ms),
            mono_ns: AtomicU64::new(0),
        })
    }

    /// Moves both clocks forward.
    pub fn advance(&self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.mono_ns.fetch_add(ns, Ordering::SeqCst);
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.wall_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Sets the wall clock only (a clock jump, e.g. after NTP/GPS sync).
    pub fn set_wall_ms(&self, wall_ms: i64) {
        self.wall_ms.store(wall_ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn wall_ms(&self) -> i64 {
        self.wall_ms.load(Ordering::SeqCst)
    }

    fn mono(&self) -> Duration {
        Duration::from_nanos(self.mono_ns.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_moves_only_when_told() {
        let c = TestClock::new(1_000);
        assert_eq!(c.wall_ms(), 1_000);
        assert_eq!(c.mono(), Duration::ZERO);
        c.advance(Duration::from_secs(2));
        assert_eq!(c.wall_ms(), 3_000);
        assert_eq!(c.mono(), Duration::from_secs(2));
        c.set_wall_ms(0);
        assert_eq!(c.mono(), Duration::from_secs(2));
    }
}
