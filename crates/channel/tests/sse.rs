//! The SSE decoder against the WHATWG HTML Living Standard, "Server-sent
//! events" (https://html.spec.whatwg.org/multipage/server-sent-events.html),
//! §9.2.5 "Parsing an event stream" and the worked examples of §9.2.6
//! "Interpreting an event stream"; then splits, line ends and recovery.

use proptest::prelude::*;
use rettpad_channel::MAX_EVENT_BYTES;
use rettpad_channel::sse::{Decoder, SseError, SseEvent};

type Out = Vec<Result<SseEvent, SseError>>;

fn decode(bytes: &[u8]) -> Out {
    Decoder::new().push(bytes)
}

fn byte_at_a_time(bytes: &[u8]) -> Out {
    let mut d = Decoder::new();
    bytes.iter().flat_map(|b| d.push(&[*b])).collect()
}

fn ev(id: Option<&str>, event: Option<&str>, data: &str) -> Result<SseEvent, SseError> {
    Ok(SseEvent {
        id: id.map(str::to_string),
        event: event.map(str::to_string),
        data: data.to_string(),
    })
}

fn data(d: &str) -> Result<SseEvent, SseError> {
    ev(None, None, d)
}

// §9.2.6: "data: YHOO / data: +2 / data: 10", once followed by a blank line,
// is one event with data "YHOO\n+2\n10".
#[test]
fn spec_multi_line_data() {
    assert_eq!(
        decode(b"data: YHOO\ndata: +2\ndata: 10\n\n"),
        vec![data("YHOO\n+2\n10")]
    );
    // Not yet followed by the blank line: nothing.
    assert!(decode(b"data: YHOO\ndata: +2\ndata: 10\n").is_empty());
}

// §9.2.6: the ": test stream" example. A comment fires nothing; "id" with
// no value is the empty id; one leading space is stripped, only one.
#[test]
fn spec_test_stream_with_comment_and_ids() {
    let s = b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n";
    assert_eq!(
        decode(s),
        vec![
            ev(Some("1"), None, "first event"),
            ev(Some(""), None, "second event"),
            ev(None, None, " third event"),
        ]
    );
    // "the end of the stream is not enough to trigger the dispatch of the
    // last event"
    let cut = &s[..s.len() - 1];
    assert_eq!(decode(cut).len(), 2);
}

// §9.2.6: "data" alone is an empty value; the middle block is one "\n";
// the last block, with no blank line after it, is discarded.
#[test]
fn spec_empty_data_and_unterminated_last_block() {
    assert_eq!(
        decode(b"data\n\ndata\ndata\n\ndata:"),
        vec![data(""), data("\n")]
    );
}

// §9.2.6: "data:test" and "data: test" are identical events.
#[test]
fn spec_space_after_colon_is_optional() {
    assert_eq!(
        decode(b"data:test\n\ndata: test\n\n"),
        vec![data("test"), data("test")]
    );
}

// §9.2.5/§9.2.6: event types; a block without data fires nothing and
// does not leak its type into the next event; unknown fields and retry are
// ignored; a field line without a colon is the field with an empty value.
#[test]
fn spec_event_types_and_ignored_fields() {
    let s =
        b"event: add\ndata: 73857293\n\nevent: ignored\n\nretry: 10\nfoo: bar\nevent\ndata: x\n\n";
    assert_eq!(
        decode(s),
        vec![ev(None, Some("add"), "73857293"), data("x")]
    );
}

#[test]
fn line_ends_cr_lf_crlf_mixed() {
    let want = vec![data("a\nb"), data("c"), data("d")];
    assert_eq!(
        decode(b"data: a\rdata: b\r\n\ndata: c\r\rdata: d\n\r\n"),
        want
    );
    assert_eq!(
        byte_at_a_time(b"data: a\rdata: b\r\n\ndata: c\r\rdata: d\n\r\n"),
        want
    );
    // "\r\r" is two line ends (a blank line), "\r\n" one.
    assert_eq!(decode(b"data: a\r\n\r\n"), vec![data("a")]);
    assert!(decode(b"data: a\r\n").is_empty());
}

#[test]
fn cr_lf_split_across_pushes_is_one_line_end() {
    let mut d = Decoder::new();
    assert!(d.push(b"data: a\r").is_empty());
    // If "\n" counted as a second line end this would dispatch "a".
    assert!(d.push(b"\n").is_empty());
    assert!(d.push(b"data: b\r").is_empty());
    assert_eq!(d.push(b"\n\r"), vec![data("a\nb")]);
    // A "\r" then a "\r" in the next push: two line ends.
    assert!(d.push(b"data: c\r").is_empty());
    assert_eq!(d.push(b"\rdata: d\n\n"), vec![data("c"), data("d")]);
}

#[test]
fn leading_bom_is_ignored_even_split() {
    assert_eq!(decode(b"\xEF\xBB\xBFdata: a\n\n"), vec![data("a")]);
    let mut d = Decoder::new();
    assert!(d.push(b"\xEF").is_empty());
    assert!(d.push(b"\xBB").is_empty());
    assert!(d.push(b"\xBFdata: a\n").is_empty());
    assert_eq!(d.push(b"\n"), vec![data("a")]);
    // Only one BOM is stripped; only at the start.
    assert!(decode(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n").is_empty());
}

#[test]
fn oversize_line_then_the_next_event_arrives() {
    let mut d = Decoder::new();
    let mut out = d.push(b"data: ");
    let big = vec![b'x'; 64 * 1024];
    for _ in 0..(MAX_EVENT_BYTES / big.len() + 2) {
        out.extend(d.push(&big));
        assert!(d.buffered() <= MAX_EVENT_BYTES);
    }
    out.extend(d.push(b"\ndata: still the bad event\n\ndata: good\n\n"));
    assert_eq!(
        out,
        vec![
            Err(SseError::TooLarge {
                max: MAX_EVENT_BYTES
            }),
            data("good")
        ]
    );
    assert_eq!(d.buffered(), 0);
}

#[test]
fn oversize_event_of_many_lines_then_the_next_event_arrives() {
    let line = format!("data: {}\n", "y".repeat(1000));
    let mut s = String::from("id: 1\n");
    // The event's data (each line's text and its newline) passes the bound.
    let mut data_len = 0;
    while data_len < MAX_EVENT_BYTES + 2000 {
        s.push_str(&line);
        data_len += 1001;
    }
    s.push_str("\nid: 2\ndata: good\n\n");
    let want = vec![
        Err(SseError::TooLarge {
            max: MAX_EVENT_BYTES,
        }),
        ev(Some("2"), None, "good"),
    ];
    assert_eq!(decode(s.as_bytes()), want);
    assert_eq!(byte_at_a_time(s.as_bytes()), want);
}

#[test]
fn largest_event_fits_exactly() {
    // data + id + event type + the line being read: at most MAX_EVENT_BYTES.
    let payload = "z".repeat(MAX_EVENT_BYTES - "data: ".len());
    let s = format!("data: {payload}\n\n");
    assert_eq!(decode(s.as_bytes()), vec![data(&payload)]);
    let s = format!("data: {payload}z\n\n");
    assert_eq!(
        decode(s.as_bytes()),
        vec![Err(SseError::TooLarge {
            max: MAX_EVENT_BYTES
        })]
    );
}

#[test]
fn invalid_utf8_skips_only_its_event() {
    let s = b"data: ok1\n\ndata: a\ndata: \xC3\x28\ndata: b\n\ndata: ok2\n\n";
    let want = vec![data("ok1"), Err(SseError::Utf8), data("ok2")];
    assert_eq!(decode(s), want);
    assert_eq!(byte_at_a_time(s), want);
    // A comment is skipped undecoded, so its bytes do not matter.
    assert_eq!(decode(b": \xFF\xFE\ndata: x\n\n"), vec![data("x")]);
    // Multi-byte UTF-8 split across pushes is fine.
    assert_eq!(
        byte_at_a_time("data: Säule ✓\n\n".as_bytes()),
        vec![data("Säule ✓")]
    );
}

#[test]
fn keepalive_comments_dispatch_nothing() {
    let ka = rettpad_channel::sse::keepalive();
    let mut s = ka.repeat(3);
    s.extend_from_slice(b"data: x\n\n");
    s.extend_from_slice(ka);
    assert_eq!(decode(&s), vec![data("x")]);
}

/// One event as the gateway or a quirky server might write it.
fn arb_event() -> impl Strategy<Value = Vec<u8>> {
    let eol = prop_oneof![Just("\n"), Just("\r"), Just("\r\n")];
    let line = prop_oneof![
        "[a-zA-Z0-9 {}\":,äö✓]{0,20}".prop_map(|v| format!("data: {v}")),
        "[a-z0-9]{0,5}".prop_map(|v| format!("data:{v}")),
        "[0-9]{1,4}".prop_map(|v| format!("id: {v}")),
        "[a-z]{1,8}".prop_map(|v| format!("event: {v}")),
        "[ -~]{0,10}".prop_map(|v| format!(":{v}")),
        Just("retry: 100".to_string()),
    ];
    (proptest::collection::vec((line, eol.clone()), 0..5), eol).prop_map(|(lines, end)| {
        let mut s = String::new();
        for (l, e) in lines {
            s.push_str(&l);
            s.push_str(e);
        }
        s.push_str(end);
        s.into_bytes()
    })
}

/// Joined events, maybe after a BOM. Where a "\r" meets a "\n" the two
/// events merge: fine, all-at-once decoding is the reference.
fn arb_stream() -> impl Strategy<Value = Vec<u8>> {
    (any::<bool>(), proptest::collection::vec(arb_event(), 0..8)).prop_map(|(bom, evs)| {
        let mut s = if bom {
            b"\xEF\xBB\xBF".to_vec()
        } else {
            Vec::new()
        };
        for e in evs {
            s.extend(e);
        }
        s
    })
}

proptest! {
    #[test]
    fn any_split_equals_all_at_once(
        s in arb_stream(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let whole = decode(&s);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(s.len() + 1)).collect();
        at.sort_unstable();
        let mut d = Decoder::new();
        let mut got = Vec::new();
        let mut prev = 0;
        for c in at.into_iter().chain([s.len()]) {
            got.extend(d.push(&s[prev..c]));
            prev = c;
        }
        prop_assert_eq!(&got, &whole);
        prop_assert_eq!(byte_at_a_time(&s), whole);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..16),
    ) {
        let mut d = Decoder::new();
        for c in &chunks {
            let _ = d.push(c);
            prop_assert!(d.buffered() <= MAX_EVENT_BYTES);
        }
    }
}

proptest! {
    /// Any text survives encode_data -> decode, line ends read as "\n".
    #[test]
    fn any_text_round_trips_as_data(s in any::<String>()) {
        let mut bytes = Vec::new();
        rettpad_channel::sse::encode_data(&mut bytes, &s);
        bytes.push(b'\n');
        let want = s.replace("\r\n", "\n").replace('\r', "\n");
        prop_assert_eq!(decode(&bytes), vec![data(&want)]);
    }
}
