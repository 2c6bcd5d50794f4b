//! Envelope validation and the encode -> decode round trip.

use proptest::prelude::*;
use rettpad_channel::sse::{self, Decoder, SseEvent};
use rettpad_channel::{
    Envelope, EnvelopeError, JsonErrorKind, Kind, MAX_EVENT_BYTES, SCHEMA_VERSION,
};
use serde_json::json;
use uuid::Uuid;

fn env(seq: u64, kind: Kind, body: serde_json::Value) -> Envelope {
    Envelope {
        v: SCHEMA_VERSION,
        id: Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0000 + u128::from(seq)),
        seq,
        kind,
        created_ms: 1_700_000_000_000,
        body,
    }
}

fn event(id: Option<&str>, data: &str) -> SseEvent {
    SseEvent {
        id: id.map(str::to_string),
        event: None,
        data: data.to_string(),
    }
}

fn with(field: &str, value: serde_json::Value) -> String {
    let mut v = serde_json::to_value(env(5, Kind::Dispatch, json!({}))).unwrap();
    v[field] = value;
    v.to_string()
}

#[test]
fn wire_format_is_as_documented() {
    let e = env(7, Kind::Dispatch, json!({"stichwort": "RD 1"}));
    let bytes = sse::encode(&e);
    let text = String::from_utf8(bytes).unwrap();
    assert_eq!(
        text,
        format!("id: 7\nevent: dispatch\ndata: {}\n\n", e.to_json())
    );
    assert!(!e.to_json().contains('\n'));
}

#[test]
fn round_trip_through_encode_and_decode() {
    let e = env(
        42,
        Kind::Command,
        json!({"text": "Zeile 1\nZeile 2\r\nÄ", "n": [1, 2.5, null]}),
    );
    let out = Decoder::new().push(&sse::encode(&e));
    assert_eq!(out.len(), 1);
    let ev = out[0].clone().unwrap();
    assert_eq!(ev.id.as_deref(), Some("42"));
    assert_eq!(ev.event.as_deref(), Some("command"));
    assert_eq!(Envelope::from_sse(&ev), Ok(e));
}

#[test]
fn newer_and_older_versions_are_refused() {
    // A newer schema may change every field: the version is reported, not
    // the shape error in `seq`.
    let data = json!({"v": 2, "seq": "not a number"}).to_string();
    assert_eq!(
        Envelope::from_sse(&event(None, &data)),
        Err(EnvelopeError::Version {
            got: 2,
            supported: SCHEMA_VERSION
        })
    );
    let data = with("v", json!(0));
    assert!(matches!(
        Envelope::from_sse(&event(None, &data)),
        Err(EnvelopeError::Version { got: 0, .. })
    ));
}

#[test]
fn seq_zero_is_refused() {
    let data = with("seq", json!(0));
    assert_eq!(
        Envelope::from_sse(&event(None, &data)),
        Err(EnvelopeError::ZeroSeq)
    );
}

#[test]
fn sse_id_must_equal_seq() {
    let data = env(5, Kind::Dispatch, json!(null)).to_json();
    assert!(Envelope::from_sse(&event(Some("5"), &data)).is_ok());
    assert!(Envelope::from_sse(&event(None, &data)).is_ok());
    assert_eq!(
        Envelope::from_sse(&event(Some("6"), &data)),
        Err(EnvelopeError::IdMismatch {
            sse_id: Some(6),
            seq: 5
        })
    );
    for bad in ["05", "", "5 ", "abc"] {
        assert!(
            matches!(
                Envelope::from_sse(&event(Some(bad), &data)),
                Err(EnvelopeError::IdMismatch { seq: 5, .. })
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn unknown_kind_parses_as_unknown() {
    let data = with("kind", json!("weather_warning"));
    let e = Envelope::from_sse(&event(Some("5"), &data)).unwrap();
    assert_eq!(e.kind, Kind::Unknown);
    assert_eq!(e.kind.as_str(), "unknown");
    // Unknown fields from a newer gateway of the same version are ignored.
    let data = with("priority", json!(1));
    assert!(Envelope::from_sse(&event(None, &data)).is_ok());
}

#[test]
fn garbage_is_a_json_error() {
    let cases = [
        ("not json", JsonErrorKind::Syntax),
        ("{\"v\":1,", JsonErrorKind::Eof),
        ("", JsonErrorKind::Eof),
        ("\"text\"", JsonErrorKind::Data),
        ("null", JsonErrorKind::Data),
        ("{\"v\":\"1\"}", JsonErrorKind::Data),
        ("{\"v\":1}", JsonErrorKind::Data),
        (
            "{\"v\":1,\"id\":\"x\",\"seq\":1,\"kind\":\"dispatch\",\"created_ms\":0,\"body\":{}}",
            JsonErrorKind::Data,
        ),
        (
            "{\"v\":1,\"id\":\"01900000-0000-7000-8000-000000000001\",\"seq\":-1,\"kind\":\"dispatch\",\"created_ms\":0,\"body\":{}}",
            JsonErrorKind::Data,
        ),
    ];
    for (data, want) in cases {
        match Envelope::from_sse(&event(None, data)) {
            Err(EnvelopeError::Json { category, .. }) => assert_eq!(category, want, "{data}"),
            other => panic!("{data}: {other:?}"),
        }
    }
}

#[test]
fn size_cap() {
    let mut data = with("body", json!("x"));
    data.push_str(&" ".repeat(MAX_EVENT_BYTES - data.len()));
    assert!(Envelope::from_sse(&event(None, &data)).is_ok());
    data.push(' ');
    assert_eq!(
        Envelope::from_sse(&event(None, &data)),
        Err(EnvelopeError::TooLarge {
            len: MAX_EVENT_BYTES + 1,
            max: MAX_EVENT_BYTES
        })
    );
}

fn arb_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(any::<String>(), inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_envelope_round_trips(
        seq in 1..=u64::MAX,
        id in any::<u128>(),
        kind in prop_oneof![Just(Kind::Dispatch), Just(Kind::Command), Just(Kind::Provisioning)],
        created_ms in any::<i64>(),
        body in arb_json(),
    ) {
        let e = Envelope { v: SCHEMA_VERSION, id: Uuid::from_u128(id), seq, kind, created_ms, body };
        let out = Decoder::new().push(&sse::encode(&e));
        prop_assert_eq!(out.len(), 1);
        let ev = out[0].clone().unwrap();
        prop_assert_eq!(Envelope::from_sse(&ev), Ok(e));
    }
}
