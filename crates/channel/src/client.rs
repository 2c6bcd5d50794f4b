//! The pad's reconnecting channel client, sans-IO.
//!
//! ```text
//!   new ──▶ Disconnected{retry_at = now} ──next_connect()──▶ connecting()
//!              ▲                                               │
//!              │ disconnected(now, rand)              connected()
//!              │   (EOF, error, or poll() == Dead)             ▼
//!              └──────────────────────────────────────── Connected
//! ```
//!
//! Exactly-once: the pad resumes after the highest seq it applied durably
//! (`Last-Event-ID`), the server replays from there, and anything at or
//! below what was applied or already delivered on this connection is
//! dropped. A message delivered but not reported [`Channel::applied`]
//! before the link drops is delivered again after the reconnect: the
//! server resends it, and losing a dispatch is worse than repeating one
//! (`Envelope::id` lets the caller notice).

use std::time::{Duration, Instant};

use rettpad_text::{Lang, UserMessage};

use crate::sse::{self, SseError};
use crate::{Envelope, EnvelopeError};

/// Timing of the link. The server sends a comment at least every
/// `keepalive`; silence for `dead_after` means the link is dead even if
/// TCP has not noticed (a mobile link often fails silently).
#[derive(Debug, Clone)]
pub struct Config {
    /// How often the server sends a keep-alive comment (25 s).
    pub keepalive: Duration,
    /// No byte for this long = dead link (3 × keepalive).
    pub dead_after: Duration,
    /// The first retry waits up to this (1 s).
    pub backoff_min: Duration,
    /// No retry waits longer than this (60 s).
    pub backoff_max: Duration,
    /// A stream up this long resets the backoff (60 s), so a server that
    /// accepts and drops at once is still retried ever more slowly.
    pub healthy_after: Duration,
}

impl Default for Config {
    fn default() -> Config {
        let keepalive = Duration::from_secs(25);
        Config {
            keepalive,
            dead_after: keepalive * 3,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            healthy_after: Duration::from_secs(60),
        }
    }
}

/// What the status bar shows. `attempt` = consecutive failures + 1: the
/// same number in `Disconnected` (the attempt due at `retry_at`) and in the
/// `Connecting` that follows; back to 1 after a healthy stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Connecting {
        attempt: u32,
    },
    Connected {
        since: Instant,
    },
    Disconnected {
        since: Instant,
        retry_at: Instant,
        attempt: u32,
    },
}

impl UserMessage for LinkState {
    fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (LinkState::Connecting { attempt: 1 }, Lang::De) => "Verbinde mit dem Server …".into(),
            (LinkState::Connecting { attempt: 1 }, Lang::En) => "Connecting to the server …".into(),
            (LinkState::Connecting { attempt }, Lang::De) => {
                format!("Verbinde mit dem Server (Versuch {attempt}) …")
            }
            (LinkState::Connecting { attempt }, Lang::En) => {
                format!("Connecting to the server (attempt {attempt}) …")
            }
            (LinkState::Connected { .. }, Lang::De) => "Mit dem Server verbunden".into(),
            (LinkState::Connected { .. }, Lang::En) => "Connected to the server".into(),
            (LinkState::Disconnected { .. }, Lang::De) => {
                "Keine Verbindung zum Server – neuer Versuch folgt automatisch".into()
            }
            (LinkState::Disconnected { .. }, Lang::En) => {
                "No connection to the server – retrying automatically".into()
            }
        }
    }
}

/// Why an event was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error(transparent)]
    Sse(#[from] SseError),
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
}

/// One outcome of [`Channel::received`], in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// Apply this, then report [`Channel::applied`] with its seq.
    Message(Envelope),
    /// An event that could not be decoded or validated; counted in
    /// `stats().rejected`, never applied. Its seq is unknown, so the next
    /// good message usually follows as a [`Delivery::Gap`].
    Rejected(Reject),
    /// Seqs `expected..got` never arrived. Comes right before the
    /// `Message` with seq `got`, which is still delivered: a later
    /// dispatch must not wait for a lost one.
    Gap { expected: u64, got: u64 },
}

/// Whether the link still lives, from [`Channel::poll`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollOutcome {
    Alive,
    /// No byte for `dead_after`: drop the stream, call `disconnected`.
    Dead,
}

/// Counters since [`Channel::new`], for logs and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Streams opened (`connected` calls).
    pub connects: u64,
    /// Messages dropped as already applied or delivered.
    pub duplicates: u64,
    /// Gaps seen (not the number of missing seqs).
    pub gaps: u64,
    /// Events that were not valid envelopes.
    pub rejected: u64,
    /// Messages delivered.
    pub delivered: u64,
}

/// The reconnecting client, sans-IO. The adapter loop: wait until
/// `next_connect()`; `connecting(now)`; open the stream with header
/// `Last-Event-ID: resume_from()`; `connected(now)`; feed every read to
/// `received(now, bytes)` and act on the deliveries; call `poll(now)`
/// periodically (at the latest at `dead_at()`); on EOF, error or `Dead`
/// call `disconnected(now, rand)`.
#[derive(Debug)]
pub struct Channel {
    cfg: Config,
    decoder: sse::Decoder,
    state: LinkState,
    /// Consecutive failed attempts or short-lived streams since the last
    /// healthy stream; the backoff exponent.
    failures: u32,
    /// Highest seq applied durably (the resume point).
    applied: u64,
    /// Highest seq delivered on this connection; never below `applied`.
    delivered: u64,
    /// When the last byte arrived (or the stream opened).
    last_byte: Instant,
    stats: Stats,
}

impl Channel {
    /// `applied` = the highest seq the pad's logic has already applied
    /// durably (persisted by the caller). The first attempt is due at once.
    pub fn new(cfg: Config, applied: u64, now: Instant) -> Channel {
        Channel {
            cfg,
            decoder: sse::Decoder::new(),
            state: LinkState::Disconnected {
                since: now,
                retry_at: now,
                attempt: 1,
            },
            failures: 0,
            applied,
            delivered: applied,
            last_byte: now,
            stats: Stats::default(),
        }
    }

    pub fn state(&self) -> LinkState {
        self.state
    }

    /// When the next connection attempt is due (None while connecting or
    /// connected).
    pub fn next_connect(&self) -> Option<Instant> {
        match self.state {
            LinkState::Disconnected { retry_at, .. } => Some(retry_at),
            _ => None,
        }
    }

    /// An attempt starts. A new stream starts a fresh decoder: half an
    /// event from the old one must not join the new one.
    pub fn connecting(&mut self, _now: Instant) {
        self.fresh_stream();
        self.state = LinkState::Connecting {
            attempt: self.failures.saturating_add(1),
        };
    }

    /// The stream is open (response headers received).
    pub fn connected(&mut self, now: Instant) {
        if !matches!(self.state, LinkState::Connecting { .. }) {
            self.fresh_stream();
        }
        self.state = LinkState::Connected { since: now };
        self.last_byte = now;
        self.stats.connects = self.stats.connects.saturating_add(1);
    }

    fn fresh_stream(&mut self) {
        self.decoder = sse::Decoder::new();
        self.delivered = self.applied;
    }

    /// Decodes a read; returns what to apply, in order, each message once
    /// (see the module docs). Duplicates are only counted. Any byte,
    /// keep-alive comments included, proves the link alive.
    pub fn received(&mut self, now: Instant, bytes: &[u8]) -> Vec<Delivery> {
        if !bytes.is_empty() && now > self.last_byte {
            self.last_byte = now;
        }
        let mut out = Vec::new();
        for ev in self.decoder.push(bytes) {
            let env = match ev {
                Ok(ev) => Envelope::from_sse(&ev).map_err(Reject::from),
                Err(e) => Err(Reject::from(e)),
            };
            match env {
                Err(r) => {
                    self.stats.rejected = self.stats.rejected.saturating_add(1);
                    out.push(Delivery::Rejected(r));
                }
                Ok(env) if env.seq <= self.delivered => {
                    self.stats.duplicates = self.stats.duplicates.saturating_add(1);
                }
                Ok(env) => {
                    // `delivered` < seq <= u64::MAX, so this cannot overflow.
                    let expected = self.delivered + 1;
                    if env.seq > expected {
                        self.stats.gaps = self.stats.gaps.saturating_add(1);
                        out.push(Delivery::Gap {
                            expected,
                            got: env.seq,
                        });
                    }
                    self.delivered = env.seq;
                    self.stats.delivered = self.stats.delivered.saturating_add(1);
                    out.push(Delivery::Message(env));
                }
            }
        }
        out
    }

    /// The caller applied `seq` durably. Returns the cumulative seq to ack
    /// when it advanced (POST it now), `None` when there is nothing new.
    pub fn applied(&mut self, seq: u64) -> Option<u64> {
        if seq <= self.applied {
            return None;
        }
        self.applied = seq;
        self.delivered = self.delivered.max(seq);
        Some(seq)
    }

    /// The seq to resume after (`Last-Event-ID` header value): the highest
    /// applied, so anything delivered but unapplied comes again.
    pub fn resume_from(&self) -> u64 {
        self.applied
    }

    /// When the link counts as dead unless a byte arrives first (None
    /// unless connected): the latest time for the next `poll`.
    pub fn dead_at(&self) -> Option<Instant> {
        match self.state {
            LinkState::Connected { .. } => Some(add_sat(self.last_byte, self.cfg.dead_after)),
            _ => None,
        }
    }

    /// Checks the keep-alive: `Dead` when connected and no byte for
    /// `cfg.dead_after`. Changes nothing; the caller drops the stream and
    /// calls `disconnected`.
    pub fn poll(&mut self, now: Instant) -> PollOutcome {
        match self.state {
            LinkState::Connected { .. }
                if now.saturating_duration_since(self.last_byte) >= self.cfg.dead_after =>
            {
                PollOutcome::Dead
            }
            _ => PollOutcome::Alive,
        }
    }

    /// The link went down (or an attempt failed): schedules the next
    /// attempt with full-jitter exponential backoff and returns the delay.
    /// Every call counts as one failure, except the end of a stream that
    /// was up `healthy_after`: that resets the count (next attempt is 1,
    /// delay from the first step).
    pub fn disconnected(&mut self, now: Instant, rand: u64) -> Duration {
        let healthy = matches!(self.state, LinkState::Connected { since }
            if now.saturating_duration_since(since) >= self.cfg.healthy_after);
        let delay;
        if healthy {
            self.failures = 0;
            delay = backoff(&self.cfg, 0, rand);
        } else {
            delay = backoff(&self.cfg, self.failures, rand);
            self.failures = self.failures.saturating_add(1);
        }
        self.fresh_stream();
        self.state = LinkState::Disconnected {
            since: now,
            retry_at: add_sat(now, delay),
            attempt: self.failures.saturating_add(1),
        };
        delay
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }
}

/// Full jitter: `rand % (min(backoff_max, backoff_min * 2^failures) + 1 ms)`.
/// In u128 nanoseconds with saturation, so no input overflows; the result
/// is at most `rand` ns, so it always fits a `Duration`.
pub fn backoff(cfg: &Config, failures: u32, rand: u64) -> Duration {
    let min = cfg.backoff_min.as_nanos();
    let max = cfg.backoff_max.as_nanos();
    let grown = 1u128
        .checked_shl(failures)
        .and_then(|f| min.checked_mul(f))
        .unwrap_or(u128::MAX);
    let cap = grown.min(max).saturating_add(1_000_000);
    let ns = u128::from(rand) % cap;
    Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// `t + d`, or the latest representable instant near it: a huge configured
/// duration must not panic.
fn add_sat(t: Instant, d: Duration) -> Instant {
    let mut d = d;
    loop {
        if let Some(x) = t.checked_add(d) {
            return x;
        }
        d /= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_cap_per_attempt() {
        let cfg = Config::default();
        let ms = |f, r| backoff(&cfg, f, r).as_millis();
        assert_eq!(
            ms(0, u64::MAX),
            u128::from(u64::MAX) % 1_001_000_000 / 1_000_000
        );
        // The largest delay: rand one below the modulus (cap + 1 ms).
        assert_eq!(
            backoff(&cfg, 0, 1_000_999_999),
            Duration::from_nanos(1_000_999_999)
        );
        assert_eq!(
            backoff(&cfg, 3, 8_000_999_999),
            Duration::from_nanos(8_000_999_999)
        );
        assert_eq!(backoff(&cfg, 3, 8_001_000_000), Duration::ZERO);
        assert_eq!(
            backoff(&cfg, 1000, 60_000_999_999),
            Duration::from_nanos(60_000_999_999)
        );
        assert_eq!(backoff(&cfg, u32::MAX, 60_001_000_000), Duration::ZERO);
    }

    #[test]
    fn absurd_config_does_not_panic() {
        let cfg = Config {
            keepalive: Duration::MAX,
            dead_after: Duration::MAX,
            backoff_min: Duration::MAX,
            backoff_max: Duration::MAX,
            healthy_after: Duration::MAX,
        };
        assert_eq!(
            backoff(&cfg, 1000, u64::MAX),
            Duration::from_nanos(u64::MAX)
        );
        let now = Instant::now();
        let mut c = Channel::new(cfg, 0, now);
        c.connecting(now);
        c.connected(now);
        assert!(c.dead_at().is_some_and(|t| t >= now));
        assert_eq!(c.poll(now), PollOutcome::Alive);
        c.disconnected(now, u64::MAX);
        assert!(c.next_connect().is_some_and(|t| t >= now));
    }

    #[test]
    fn status_texts() {
        let s = LinkState::Connecting { attempt: 3 };
        assert_eq!(s.message(Lang::De), "Verbinde mit dem Server (Versuch 3) …");
        assert_eq!(
            s.message(Lang::En),
            "Connecting to the server (attempt 3) …"
        );
    }
}
