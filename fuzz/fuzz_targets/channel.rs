//! The pad's channel reader: arbitrary bytes from the gateway (or whatever
//! sits in between) must never panic, the SSE decoder must hold at most
//! `MAX_EVENT_BYTES`, decoding must not depend on where reads split, and
//! the client must deliver strictly rising seqs. Input: one byte choosing
//! the split point, then the stream. Seeds: `fuzz/seeds/channel`.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rettpad_channel::MAX_EVENT_BYTES;
use rettpad_channel::client::{Channel, Config, Delivery};
use rettpad_channel::sse::{Decoder, SseEvent};
use rettpad_channel::{Envelope, parse_last_event_id};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, stream)) = data.split_first() else {
        return;
    };
    let at = stream.len() * usize::from(pick) / 255;
    let (a, b) = stream.split_at(at);

    let whole = Decoder::new().push(stream);
    let mut d = Decoder::new();
    let mut split = d.push(a);
    assert!(d.buffered() <= MAX_EVENT_BYTES);
    split.extend(d.push(b));
    assert!(d.buffered() <= MAX_EVENT_BYTES);
    assert_eq!(whole, split, "decoding depends on the split");

    let t0 = Instant::now();
    let mut c = Channel::new(Config::default(), u64::from(pick) % 3, t0);
    c.connecting(t0);
    c.connected(t0);
    let mut last = c.resume_from();
    for (i, part) in [a, b].into_iter().enumerate() {
        let now = t0 + Duration::from_secs(i as u64);
        for dl in c.received(now, part) {
            if let Delivery::Message(e) = dl {
                assert!(e.seq > last, "seq {} after {last}", e.seq);
                last = e.seq;
                c.applied(e.seq);
            }
        }
        let _ = c.poll(now);
    }
    let _ = c.disconnected(t0, u64::from_le_bytes([pick; 8]));

    // The envelope parser alone, on the stream as one event's data.
    if let Ok(text) = std::str::from_utf8(stream) {
        let ev = SseEvent {
            id: Some(text.chars().take(4).collect()),
            event: None,
            data: text.to_string(),
        };
        let _ = Envelope::from_sse(&ev);
        let _ = parse_last_event_id(text);
    }
});
