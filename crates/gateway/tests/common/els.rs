//! A dispatch centre (ELS) and a pad around a real gateway: the dispatch
//! API as an ELS adapter calls it, the pad's channel, and a pad closing
//! and uploading the protocol of a mission.

use super::{CALL_SIGN, Pki, SERIAL};
use rettpad_clock::SystemClock;
use rettpad_pad::channel::{self, ChannelEvent, ChannelHandle};
use rettpad_record::MissionId;
use rettpad_transfer::uploader::OutboxPersist;
use rettpad_vault::store::SharedStore;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub const CENTRE: &str = "demo-ils";
pub const NUMBER: &str = "R 1.1 261207 0042";

/// The demo centre's API token from `rettpad-gateway init`.
pub fn token(pki: &Pki) -> String {
    std::fs::read_to_string(pki.dir.join(format!("centre-{CENTRE}.token")))
        .unwrap()
        .trim()
        .to_string()
}

/// `POST /v1/dispatch`: status and JSON answer.
pub fn post(addr: SocketAddr, token: &str, body: &str) -> (u16, serde_json::Value) {
    let r = reqwest::blocking::Client::new()
        .post(format!("http://{addr}/v1/dispatch"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let v = serde_json::from_slice(&r.bytes().unwrap()).unwrap_or_default();
    (status, v)
}

/// `GET /v1/dispatch/mission?number=NUMBER`: status and JSON answer.
pub fn lookup(addr: SocketAddr, token: &str) -> (u16, serde_json::Value) {
    let r = reqwest::blocking::Client::new()
        .get(format!(
            "http://{addr}/v1/dispatch/mission?number={}",
            NUMBER.replace(' ', "%20")
        ))
        .bearer_auth(token)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let v = serde_json::from_slice(&r.bytes().unwrap()).unwrap_or_default();
    (status, v)
}

/// An alarm of mission NUMBER for `units` (with a patient's name).
pub fn alarm(id: &str, units: &[&str]) -> String {
    let units: Vec<String> = units
        .iter()
        .map(|u| {
            let t = if u.starts_with("NEF") { "NEF" } else { "RTW" };
            format!(r#"{{ "call_sign": "{u}", "type": "{t}", "alarmed_at": "2026-12-07T14:02:05+01:00" }}"#)
        })
        .collect();
    format!(
        r#"{{ "schema": "rettpad.dispatch/1", "msg_id": "{id}", "kind": "mission",
  "centre": {{ "id": "{CENTRE}" }}, "sent_at": "2026-12-07T14:02:06+01:00",
  "mission": {{ "number": "{NUMBER}", "revision": 1,
    "keyword": {{ "code": "RD 2", "text": "Notfall" }}, "meldebild": "Brustschmerz",
    "location": {{ "street": "Hauptstraße", "house_number": "1", "postcode": "85049", "city": "Ingolstadt" }},
    "patient": {{ "name": "Max Mustermann", "sex": "m" }},
    "units": [{}] }} }}"#,
        units.join(",")
    )
}

/// A status of `call_sign` for mission NUMBER.
pub fn status(id: &str, call_sign: &str, s: u8, at: &str) -> String {
    format!(
        r#"{{ "schema": "rettpad.dispatch/1", "msg_id": "{id}", "kind": "status",
  "centre": {{ "id": "{CENTRE}" }}, "mission_number": "{NUMBER}",
  "call_sign": "{call_sign}", "status": {s}, "at": "{at}" }}"#
    )
}

/// The pad's channel with short keep-alive and backoff.
pub fn start(pki: &Pki, store: &SharedStore, serial: &str, call_sign: &str) -> ChannelHandle {
    let cfg = rettpad_channel::client::Config {
        keepalive: Duration::from_secs(2),
        dead_after: Duration::from_secs(6),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(500),
        healthy_after: Duration::from_secs(60),
    };
    channel::start(
        super::channel_link(pki, serial, call_sign, Duration::from_secs(10)),
        cfg,
        store.clone(),
        SystemClock::shared(),
        serial.into(),
        None,
    )
}

/// Waits until `n` dispatch messages were applied.
pub fn applied(h: &ChannelHandle, n: usize) -> Vec<rettpad_pad::dispatch::Applied> {
    let until = Instant::now() + Duration::from_secs(20);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            Instant::now() < until,
            "only {} of {n} messages applied",
            out.len()
        );
        for e in h.poll() {
            match e {
                ChannelEvent::Dispatched(a) => out.push(a),
                ChannelEvent::Refused(n) => panic!("refused: {n:?}"),
                _ => panic!("a dispatch test got a provisioning event"),
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    out
}

pub fn now_ms() -> i64 {
    use rettpad_clock::Clock;
    SystemClock::new().wall_ms()
}

pub fn ms(s: &str) -> i64 {
    rettpad_dispatch::msg::parse_time(s).unwrap()
}

/// A sealed protocol in the pad's outbox.
pub struct Sealed {
    pub entry: rettpad_transfer::Entry,
    pub bytes: Vec<u8>,
}

/// The RTW pad (SERIAL) closes mission `m` and seals its protocol.
pub fn close_and_seal(pki: &Pki, store: &SharedStore, m: MissionId) -> Sealed {
    let mut s = store.lock();
    s.set_author(Some(rettpad_record::Author {
        device: SERIAL.into(),
        crew_member: uuid::Uuid::from_u128(7),
    }));
    s.apply(m, rettpad_record::Payload::Closed).unwrap();
    let u = pki.pad_config().upload.unwrap();
    let keys = rettpad_transfer::SealKeys::from_config(&u).unwrap();
    let pdf = b"%PDF-1.7\n".to_vec();
    let input = rettpad_transfer::SealInput {
        mission_id: m.0,
        device_serial: SERIAL.into(),
        call_sign: CALL_SIGN.into(),
        created_ms: now_ms(),
        target_hospital: None,
        events_json: serde_json::to_vec(s.log(m).unwrap().events()).unwrap(),
        mind_xml: b"<mind/>".to_vec(),
        fhir_json: b"{}".to_vec(),
        pdf_sha256: rettpad_crypto::sha256(&pdf),
        pdf,
        handover_summary: String::new(),
        prenotice: None,
    };
    let entry = rettpad_pad::close::close_and_queue(&mut s, m, input, &keys, now_ms()).unwrap();
    let bytes = s.outbox_packet(entry.packet_id).unwrap().unwrap();
    Sealed { entry, bytes }
}

/// One upload of the sealed packet over mTLS; panics without a receipt.
pub fn upload(pki: &Pki, p: &Sealed) {
    let u = pki.pad_config().upload.unwrap();
    let up = rettpad_transfer::uploader_from_config(&u, SERIAL, CALL_SIGN).unwrap();
    up.send(p.entry.packet_id, &p.entry.sha256, &p.bytes)
        .unwrap();
}
