//! Dispatch over MQTT end to end: a real mosquitto on loopback, a real
//! gateway process subscribed with an FE2-style field map, a publisher,
//! and a pad on the channel over mTLS.

mod common;
use common::*;

use rettpad_clock::SystemClock;
use rettpad_gateway::mqtt::{FieldMap, MqttFeed};
use rettpad_pad::channel::{self, ChannelEvent};
use rettpad_record::keys::time as tk;
use rettpad_record::{TimeSource, Value};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NUMBER: &str = "R 1.1 261207 0815";

struct Broker {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn start(port: u16) -> Broker {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (installed by `cargo xtask test`)");
        let until = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "mosquitto did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Broker { child, _dir: dir }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// FE2's v2 envelope as public client code uses it (docs/dispatch.md §2).
fn fe2_map() -> FieldMap {
    FieldMap {
        number: "/data/custom/einsatznummer".into(),
        sent_at: Some("/timestamp".into()),
        keyword_code: Some("/data/keyword".into()),
        alarm_text: Some("/data/message/0".into()),
        street: Some("/data/location/street".into()),
        city: Some("/data/location/city".into()),
        lon: Some("/data/location/coordinate/0".into()),
        lat: Some("/data/location/coordinate/1".into()),
        units: Some("/data/units".into()),
        unit_call_sign: "/address".into(),
        status: Some("/data/status".into()),
        status_call_sign: Some("/data/unit".into()),
        status_at: Some("/timestamp".into()),
        ..Default::default()
    }
}

fn alarm_payload(ts: i64) -> String {
    format!(
        r#"{{"type":"ALARM","timestamp":{ts},"sender":"ELDIS3","authorization":"x",
  "data":{{"keyword":"RD 2","message":["Brustschmerz"],
  "location":{{"street":"Hauptstraße 1","city":"Ingolstadt","coordinate":[11.4257,48.7665]}},
  "units":[{{"address":"{CALL_SIGN}"}}],"custom":{{"einsatznummer":"{NUMBER}"}}}}}}"#
    )
}

fn status_payload(ts: i64, s: u8) -> String {
    format!(
        r#"{{"type":"STATUS","timestamp":{ts},"data":{{"custom":{{"einsatznummer":"{NUMBER}"}},"unit":"{CALL_SIGN}","status":{s}}}}}"#
    )
}

/// Publishes with QoS 1 and waits for the broker's PUBACK.
fn publish(port: u16, topic: &str, payload: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut o =
            rumqttc::MqttOptions::new(format!("pub-{}", uuid::Uuid::now_v7()), "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(5));
        let (c, mut ev) = rumqttc::AsyncClient::new(o, 10);
        c.publish(
            topic,
            rumqttc::QoS::AtLeastOnce,
            false,
            payload.as_bytes().to_vec(),
        )
        .await
        .unwrap();
        let until = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let e = tokio::time::timeout_at(until, ev.poll())
                .await
                .expect("no PUBACK");
            if let Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) = e {
                break;
            }
        }
        let _ = c.disconnect().await;
    });
}

fn lookup(api: SocketAddr, token: &str) -> Option<serde_json::Value> {
    let r = reqwest::blocking::Client::new()
        .get(format!(
            "http://{api}/v1/dispatch/mission?number={}",
            NUMBER.replace(' ', "%20")
        ))
        .bearer_auth(token)
        .send()
        .ok()?;
    (r.status().as_u16() == 200).then(|| serde_json::from_slice(&r.bytes().ok()?).ok())?
}

#[test]
fn an_fe2_style_mqtt_feed_alarms_the_pad_and_survives_bad_payloads_and_a_broker_restart() {
    let port = free_port();
    let broker = Broker::start(port);
    let pki = Pki::new();
    let mut cfg = pki.gateway_config();
    cfg.centres[0].mqtt = Some(MqttFeed {
        host: "127.0.0.1".into(),
        port,
        tls: false,
        topic: "fe2/demo-ils/#".into(),
        client_id: "rettpad-gateway-test".into(),
        map: Some(fe2_map()),
    });
    std::fs::write(pki.dir.join("gateway.toml"), cfg.to_toml()).unwrap();
    let gw = Gw::start(&pki);
    let api = gw.dispatch.unwrap();
    let token = std::fs::read_to_string(pki.dir.join("centre-demo-ils.token")).unwrap();
    let token = token.trim();

    let tmp = tempfile::tempdir().unwrap();
    let store = shared_store(tmp.path());
    let link = channel_link(&pki, SERIAL, CALL_SIGN, Duration::from_secs(10));
    let h = channel::start(
        link,
        Default::default(),
        store.clone(),
        SystemClock::shared(),
        SERIAL.into(),
        None,
    );

    // Give the subscription a moment, then alarm, and the same alarm again
    // (QoS 1 redelivery): one mission, one message to the pad.
    let wait_for = |what: &str, f: &dyn Fn() -> bool| {
        let until = Instant::now() + Duration::from_secs(30);
        while !f() {
            assert!(Instant::now() < until, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let ts = 1_796_000_000_000;
    wait_for("the subscription", &|| {
        publish(port, "fe2/demo-ils/alarm", &alarm_payload(ts));
        std::thread::sleep(Duration::from_millis(300));
        lookup(api, token).is_some()
    });
    publish(port, "fe2/demo-ils/alarm", &alarm_payload(ts));
    // Bad payloads are refused and logged; the feed goes on.
    publish(port, "fe2/demo-ils/alarm", "{ kaputt");
    publish(port, "fe2/demo-ils/alarm", r#"{"type":"ALARM","data":{}}"#);
    publish(port, "fe2/demo-ils/status", &status_payload(ts + 60_000, 3));
    wait_for("status 3", &|| {
        lookup(api, token).is_some_and(|v| v["statuses"].as_array().is_some_and(|a| a.len() == 1))
    });
    let v = lookup(api, token).unwrap();
    assert_eq!(v["pads"][0]["serial"], SERIAL);

    // The broker restarts; the gateway reconnects by itself.
    drop(broker);
    std::thread::sleep(Duration::from_millis(500));
    let _broker = Broker::start(port);
    wait_for("status 4 after the broker restart", &|| {
        publish(
            port,
            "fe2/demo-ils/status",
            &status_payload(ts + 120_000, 4),
        );
        std::thread::sleep(Duration::from_millis(500));
        lookup(api, token).is_some_and(|v| v["statuses"].as_array().is_some_and(|a| a.len() == 2))
    });

    // The pad got the alarm once and both statuses, with the ELS times.
    let mut got = Vec::new();
    let until = Instant::now() + Duration::from_secs(20);
    while got.len() < 3 && Instant::now() < until {
        for e in h.poll() {
            if let ChannelEvent::Dispatched(a) = e {
                got.push(a);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(got.len(), 3, "alarm once, two statuses");
    assert!(got[0].opened);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        h.poll().is_empty(),
        "the redelivered alarm did not come twice"
    );
    let m = got[0].mission;
    let at_scene = store
        .lock()
        .state(m)
        .and_then(|s| s.get(tk::AT_SCENE).cloned());
    assert!(matches!(
        at_scene,
        Some(Value::Time(t)) if t.at_ms == ts + 120_000 && t.source == TimeSource::Dispatch { status: Some(4) }
    ));
}
