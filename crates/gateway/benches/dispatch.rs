//! Dispatch figures (issue 14): alarm accepted by the gateway → mission
//! visible on the pad, over loopback with a real `rettpad-gateway` process,
//! the pad's channel over mTLS and a real vault (the mission is opened and
//! every ELS value committed before it counts as visible). Target p99 < 1 s.
//!
//! Run: `cargo bench -p rettpad-gateway --bench dispatch` (N alarms,
//! `RETTPAD_BENCH_N`, default 300).

#[path = "../tests/common/mod.rs"]
mod common;
use common::*;

use rettpad_clock::SystemClock;
use rettpad_pad::channel::{self, ChannelEvent};
use rettpad_vault::FileKeyProvider;
use rettpad_vault::store::{SharedStore, Store, StoreOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("RETTPAD_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let pki = Pki::new();
    let gw = Gw::start(&pki);
    let api = gw.dispatch.expect("dispatch listener");
    let token = std::fs::read_to_string(pki.dir.join("centre-demo-ils.token")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let store = SharedStore::new(
        Store::open(
            &tmp.path().join("data"),
            Arc::new(FileKeyProvider::new(tmp.path().join("device.key"))),
            SystemClock::shared(),
            StoreOptions::default(),
        )
        .unwrap(),
    );
    let link = channel_link(&pki, SERIAL, CALL_SIGN, Duration::from_secs(75));
    let h = channel::start(
        link,
        Default::default(),
        store,
        SystemClock::shared(),
        SERIAL.into(),
        None,
    );
    let http = reqwest::blocking::Client::new();
    let until = Instant::now() + Duration::from_secs(10);
    while !h.view().connected {
        assert!(Instant::now() < until, "channel did not connect");
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut lat = Vec::with_capacity(n);
    for i in 0..n {
        let id = uuid::Uuid::now_v7();
        let body = format!(
            r#"{{"schema":"rettpad.dispatch/1","msg_id":"{id}","kind":"mission","centre":{{"id":"demo-ils"}},
"mission":{{"number":"BENCH {i}","keyword":{{"code":"RD 2","text":"Notfall"}},"meldebild":"Brustschmerz",
"location":{{"street":"Hauptstraße","house_number":"1","postcode":"85049","city":"Ingolstadt","lat":48.7,"lon":11.4}},
"patient":{{"name":"Max Mustermann","sex":"m"}},
"units":[{{"call_sign":"{CALL_SIGN}","type":"RTW","alarmed_at":"2026-12-07T14:02:05+01:00"}}]}}}}"#
        );
        let t0 = Instant::now();
        let r = http
            .post(format!("http://{api}/v1/dispatch"))
            .bearer_auth(token.trim())
            .body(body)
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let want = rettpad_dispatch::mission_id("demo-ils", &format!("BENCH {i}"));
        'wait: loop {
            for e in h.poll() {
                if let ChannelEvent::Dispatched(a) = e
                    && a.mission.0 == want
                {
                    break 'wait;
                }
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        lat.push(t0.elapsed());
    }
    lat.sort();
    let p = |q: f64| lat[((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len()) - 1];
    println!(
        "dispatch alarm -> mission on the pad, {n} alarms: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        p(0.50).as_secs_f64() * 1e3,
        p(0.90).as_secs_f64() * 1e3,
        p(0.99).as_secs_f64() * 1e3,
        lat[lat.len() - 1].as_secs_f64() * 1e3
    );
}
