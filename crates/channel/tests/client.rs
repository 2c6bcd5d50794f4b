//! The reconnecting client: exactly-once across reconnects, gaps,
//! keep-alive, backoff and the states the status bar shows.

use std::time::{Duration, Instant};

use rettpad_channel::client::{Channel, Config, Delivery, LinkState, PollOutcome, Reject};
use rettpad_channel::sse::{self, SseError};
use rettpad_channel::{Envelope, EnvelopeError, Kind, MAX_EVENT_BYTES, SCHEMA_VERSION};
use serde_json::json;
use uuid::Uuid;

const S: Duration = Duration::from_secs(1);

fn env(seq: u64) -> Envelope {
    Envelope {
        v: SCHEMA_VERSION,
        id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + u128::from(seq)),
        seq,
        kind: Kind::Dispatch,
        created_ms: 1_700_000_000_000,
        body: json!({"n": seq}),
    }
}

/// The server's bytes for these seqs, keep-alives in between.
fn stream(seqs: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    for &s in seqs {
        out.extend(sse::encode(&env(s)));
        out.extend_from_slice(sse::keepalive());
    }
    out
}

fn seqs(d: &[Delivery]) -> Vec<u64> {
    d.iter()
        .filter_map(|d| match d {
            Delivery::Message(e) => Some(e.seq),
            _ => None,
        })
        .collect()
}

/// A client that is connected at `t0`.
fn up(applied: u64, t0: Instant) -> Channel {
    let mut c = Channel::new(Config::default(), applied, t0);
    c.connecting(t0);
    c.connected(t0);
    c
}

/// What a synchronous adapter does: apply each message, then ack it.
fn apply_all(c: &mut Channel, d: &[Delivery]) -> Vec<u64> {
    seqs(d).into_iter().filter_map(|s| c.applied(s)).collect()
}

#[test]
fn exactly_once_across_a_reconnect_with_replay() {
    let t0 = Instant::now();
    let mut c = up(0, t0);
    let bytes = stream(&[1, 2, 3, 4]);
    // The link dies in the middle of event 4.
    let cut = bytes.len() - 30;
    let d = c.received(t0, &bytes[..cut]);
    assert_eq!(seqs(&d), [1, 2, 3]);
    assert_eq!(apply_all(&mut c, &d), [1, 2, 3]);
    c.disconnected(t0 + S, 0);

    c.connecting(t0 + 2 * S);
    assert_eq!(c.resume_from(), 3);
    c.connected(t0 + 2 * S);
    // The server resends from Last-Event-ID, and a careless one from 1.
    let d = c.received(t0 + 2 * S, &stream(&[1, 2, 3, 4, 5]));
    assert_eq!(seqs(&d), [4, 5], "{d:?}");
    assert!(d.iter().all(|d| matches!(d, Delivery::Message(_))));
    assert_eq!(apply_all(&mut c, &d), [4, 5]);
    let st = c.stats();
    assert_eq!(
        (st.delivered, st.duplicates, st.gaps, st.rejected),
        (5, 3, 0, 0)
    );
    assert_eq!(st.connects, 2);
}

#[test]
fn delivered_but_unapplied_comes_again_after_a_reconnect() {
    let t0 = Instant::now();
    let mut c = up(0, t0);
    let d = c.received(t0, &stream(&[1, 2]));
    assert_eq!(seqs(&d), [1, 2]);
    assert_eq!(c.applied(1), Some(1));
    // Within the connection, 2 is not delivered twice ...
    assert!(c.received(t0, &stream(&[2])).is_empty());
    c.disconnected(t0, 0);
    c.connecting(t0);
    c.connected(t0);
    // ... but after the reconnect it is, since it was never applied.
    assert_eq!(c.resume_from(), 1);
    assert_eq!(seqs(&c.received(t0, &stream(&[2, 3]))), [2, 3]);
}

#[test]
fn restart_resumes_from_the_persisted_seq() {
    let t0 = Instant::now();
    let mut c = up(10, t0);
    assert_eq!(c.resume_from(), 10);
    let d = c.received(t0, &stream(&[9, 10, 11]));
    assert_eq!(seqs(&d), [11]);
    assert_eq!(c.stats().duplicates, 2);
}

#[test]
fn duplicates_within_a_stream_are_dropped() {
    let t0 = Instant::now();
    let mut c = up(0, t0);
    let d = c.received(t0, &stream(&[1, 2, 2, 1, 3, 3]));
    assert_eq!(seqs(&d), [1, 2, 3]);
    assert_eq!(c.stats().duplicates, 3);
}

#[test]
fn a_gap_is_reported_and_the_message_still_delivered() {
    let t0 = Instant::now();
    let mut c = up(0, t0);
    let d = c.received(t0, &stream(&[1, 4, 5]));
    assert_eq!(
        d,
        vec![
            Delivery::Message(env(1)),
            Delivery::Gap {
                expected: 2,
                got: 4
            },
            Delivery::Message(env(4)),
            Delivery::Message(env(5)),
        ]
    );
    assert_eq!(c.stats().gaps, 1);
    // A late 2 is below what was delivered: a duplicate, not a message.
    assert!(c.received(t0, &stream(&[2])).is_empty());
}

#[test]
fn bad_events_are_rejected_and_the_stream_goes_on() {
    let t0 = Instant::now();
    let mut c = up(0, t0);
    let mut bytes = stream(&[1]);
    bytes.extend_from_slice(b"id: 2\ndata: {not json\n\n");
    bytes.extend_from_slice(b"data: \xFF\n\n");
    let mut newer = env(3);
    newer.v = SCHEMA_VERSION + 1;
    bytes.extend(sse::encode(&newer));
    bytes.extend_from_slice(b"data: ");
    bytes.extend(vec![b'x'; MAX_EVENT_BYTES]);
    bytes.extend_from_slice(b"\n\n");
    bytes.extend(stream(&[4]));
    let d = c.received(t0, &bytes);
    assert_eq!(d.len(), 7, "{d:?}");
    assert!(matches!(
        d[1],
        Delivery::Rejected(Reject::Envelope(EnvelopeError::Json { .. }))
    ));
    assert_eq!(d[2], Delivery::Rejected(Reject::Sse(SseError::Utf8)));
    assert!(matches!(
        d[3],
        Delivery::Rejected(Reject::Envelope(EnvelopeError::Version { got: 2, .. }))
    ));
    assert!(matches!(
        d[4],
        Delivery::Rejected(Reject::Sse(SseError::TooLarge { .. }))
    ));
    assert_eq!(
        d[5],
        Delivery::Gap {
            expected: 2,
            got: 4
        }
    );
    assert_eq!(seqs(&d), [1, 4]);
    assert_eq!(c.stats().rejected, 4);
    // Rejections read as log lines.
    let Delivery::Rejected(r) = &d[3] else {
        unreachable!()
    };
    assert_eq!(
        r.to_string(),
        "envelope schema version 2 is not supported (this pad speaks 1)"
    );
}

#[test]
fn half_an_event_from_the_old_stream_does_not_join_the_new_one() {
    let t0 = Instant::now();
    let mut c = up(0, t0);
    let one = sse::encode(&env(1));
    assert!(c.received(t0, &one[..one.len() / 2]).is_empty());
    c.disconnected(t0, 0);
    c.connecting(t0);
    c.connected(t0);
    let d = c.received(t0, &one);
    assert_eq!(d, vec![Delivery::Message(env(1))]);
}

#[test]
fn acks_are_cumulative() {
    let mut c = Channel::new(Config::default(), 0, Instant::now());
    assert_eq!(c.applied(1), Some(1));
    assert_eq!(c.applied(1), None);
    assert_eq!(c.applied(3), Some(3));
    assert_eq!(c.applied(2), None);
    assert_eq!(c.resume_from(), 3);
}

#[test]
fn dead_after_silence_alive_with_keepalives() {
    let t0 = Instant::now();
    let cfg = Config::default();
    assert_eq!(cfg.dead_after, 3 * cfg.keepalive);
    let mut c = up(0, t0);
    assert_eq!(c.dead_at(), Some(t0 + cfg.dead_after));
    assert_eq!(c.poll(t0 + cfg.dead_after - S), PollOutcome::Alive);
    assert_eq!(c.poll(t0 + cfg.dead_after), PollOutcome::Dead);

    let mut c = up(0, t0);
    let mut t = t0;
    for _ in 0..40 {
        t += cfg.keepalive;
        assert!(c.received(t, sse::keepalive()).is_empty());
        assert_eq!(c.poll(t + cfg.dead_after - S), PollOutcome::Alive);
    }
    assert_eq!(c.dead_at(), Some(t + cfg.dead_after));
    // An empty read (EOF) is no sign of life.
    c.received(t + cfg.dead_after, b"");
    assert_eq!(c.poll(t + cfg.dead_after), PollOutcome::Dead);
    // Only a connected link can be dead.
    c.disconnected(t + cfg.dead_after, 0);
    assert_eq!(c.poll(t + 100 * cfg.dead_after), PollOutcome::Alive);
    assert_eq!(c.dead_at(), None);
}

/// The largest delay full jitter can give after `failures` failures.
fn cap(failures: u32) -> Duration {
    let grown = 2u64.checked_pow(failures).unwrap_or(u64::MAX).min(60);
    Duration::from_secs(grown) + Duration::from_millis(1) - Duration::from_nanos(1)
}

fn rand_for_top(failures: u32) -> u64 {
    u64::try_from(cap(failures).as_nanos()).unwrap()
}

#[test]
fn backoff_full_jitter_bounds_grow_and_saturate() {
    let t0 = Instant::now();
    let mut c = Channel::new(Config::default(), 0, t0);
    let rands = [0, 1, 999_999_999, 12_345_678_901, u64::MAX / 3, u64::MAX];
    let mut tops = Vec::new();
    for failures in 0..40u32 {
        for r in rands {
            let mut probe = Channel::new(Config::default(), 0, t0);
            for _ in 0..failures {
                probe.connecting(t0);
                probe.disconnected(t0, 0);
            }
            probe.connecting(t0);
            assert!(probe.disconnected(t0, r) <= cap(failures), "{failures} {r}");
        }
        c.connecting(t0);
        tops.push(c.disconnected(t0, rand_for_top(failures)));
    }
    let secs: Vec<u64> = tops.iter().take(8).map(|d| d.as_secs()).collect();
    assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60]);
    assert!(tops.iter().all(|d| *d <= cap(60)));
    assert_eq!(tops[39], cap(39));
    // rand 0 is an immediate retry: full jitter starts at zero.
    c.connecting(t0);
    assert_eq!(c.disconnected(t0, 0), Duration::ZERO);
}

#[test]
fn backoff_never_overflows() {
    let t0 = Instant::now();
    let mut c = Channel::new(Config::default(), 0, t0);
    for _ in 0..1000 {
        c.connecting(t0);
        assert!(c.disconnected(t0, u64::MAX) <= cap(1000));
    }
    let Some(at) = c.next_connect() else {
        panic!("a retry is scheduled")
    };
    assert!(at <= t0 + cap(1000));
    assert!(matches!(
        c.state(),
        LinkState::Disconnected { attempt: 1001, .. }
    ));
}

#[test]
fn a_healthy_stream_resets_the_backoff_a_short_one_does_not() {
    let t0 = Instant::now();
    let mut c = Channel::new(Config::default(), 0, t0);
    for _ in 0..6 {
        c.connecting(t0);
        c.disconnected(t0, 0);
    }
    // Up for 59 s: not healthy, the backoff keeps growing.
    c.connecting(t0);
    c.connected(t0);
    assert_eq!(c.disconnected(t0 + 59 * S, rand_for_top(6)), cap(6));
    // Up for 60 s: healthy, back to the first step.
    c.connecting(t0);
    c.connected(t0);
    let d = c.disconnected(t0 + 60 * S, rand_for_top(6));
    assert_eq!(d, Duration::from_nanos(rand_for_top(6) % 1_001_000_000));
    assert!(matches!(
        c.state(),
        LinkState::Disconnected { attempt: 1, .. }
    ));
    c.connecting(t0);
    assert_eq!(c.disconnected(t0, rand_for_top(0)), cap(0));
    c.connecting(t0);
    assert_eq!(c.disconnected(t0, rand_for_top(1)), cap(1));
}

#[test]
fn states_for_the_status_bar() {
    let t0 = Instant::now();
    let mut c = Channel::new(Config::default(), 0, t0);
    assert_eq!(
        c.state(),
        LinkState::Disconnected {
            since: t0,
            retry_at: t0,
            attempt: 1
        }
    );
    assert_eq!(c.next_connect(), Some(t0));

    c.connecting(t0);
    assert_eq!(c.state(), LinkState::Connecting { attempt: 1 });
    assert_eq!(c.next_connect(), None);
    // The attempt fails before the stream opens.
    let t1 = t0 + S;
    let d = c.disconnected(t1, 500_000_000);
    assert_eq!(d, Duration::from_millis(500));
    assert_eq!(
        c.state(),
        LinkState::Disconnected {
            since: t1,
            retry_at: t1 + d,
            attempt: 2
        }
    );
    assert_eq!(c.next_connect(), Some(t1 + d));

    let t2 = t1 + d;
    c.connecting(t2);
    assert_eq!(c.state(), LinkState::Connecting { attempt: 2 });
    c.connected(t2);
    assert_eq!(c.state(), LinkState::Connected { since: t2 });
    assert_eq!(c.next_connect(), None);

    // Up for two minutes, then dropped: attempt counting starts over.
    let t3 = t2 + 120 * S;
    let d = c.disconnected(t3, 7);
    assert_eq!(d, Duration::from_nanos(7));
    assert_eq!(
        c.state(),
        LinkState::Disconnected {
            since: t3,
            retry_at: t3 + d,
            attempt: 1
        }
    );
    c.connecting(t3 + d);
    assert_eq!(c.state(), LinkState::Connecting { attempt: 1 });
}

proptest::proptest! {
    /// Whatever the server replays and wherever the link breaks (mid-event
    /// included), a pad that applies what it gets sees 1..=n exactly once,
    /// in order.
    #[test]
    fn exactly_once_whatever_the_replay_and_the_breaks(
        n in 1u64..30,
        conns in proptest::collection::vec((0u64..5, 0usize..2000, 1usize..200), 0..8),
    ) {
        let t0 = Instant::now();
        let mut c = Channel::new(Config::default(), 0, t0);
        let mut seen = Vec::new();
        let last = (0, usize::MAX, 4096);
        for (back, cut, chunk) in conns.into_iter().chain([last]) {
            c.connecting(t0);
            c.connected(t0);
            let from = c.resume_from().saturating_sub(back) + 1;
            let all: Vec<u64> = (from..=n).collect();
            let bytes = stream(&all);
            let bytes = &bytes[..cut.min(bytes.len())];
            for piece in bytes.chunks(chunk) {
                let d = c.received(t0, piece);
                proptest::prop_assert!(d.iter().all(|d| matches!(d, Delivery::Message(_))));
                for s in seqs(&d) {
                    seen.push(s);
                    c.applied(s);
                }
            }
            c.disconnected(t0, 0);
        }
        proptest::prop_assert_eq!(seen, (1..=n).collect::<Vec<_>>());
        proptest::prop_assert_eq!(c.stats().gaps, 0);
    }
}
