//! Dispatch end to end on loopback: a real `rettpad-gateway` process, the
//! dispatch API as an ELS adapter calls it, and pads on the permanent
//! channel over real mTLS, each with a real vault.

mod common;
use common::els::*;
use common::*;

use rettpad_record::keys::{mission as mk, time as tk};
use rettpad_record::{MissionId, TimeSource, Value};
use rettpad_transfer::channel_link::{ChannelLink, LinkError};
use rettpad_vault::store::SharedStore;
use std::time::{Duration, Instant};

const NEF_SERIAL: &str = "DEMO-PAD-0002";
const NEF: &str = "NEF 1/82-1";

fn link(pki: &Pki, serial: &str, call_sign: &str) -> ChannelLink {
    channel_link(pki, serial, call_sign, Duration::from_secs(10))
}

fn time_of(store: &SharedStore, m: MissionId, key: &str) -> Option<(i64, TimeSource)> {
    match store.lock().state(m)?.get(key)? {
        Value::Time(t) => Some((t.at_ms, t.source.clone())),
        _ => None,
    }
}

#[test]
fn an_alarm_reaches_both_pads_and_statuses_fill_the_rtws_times() {
    let pki = Pki::new();
    let gw = Gw::start(&pki);
    let api = gw.dispatch.expect("dispatch listener");
    let tok = token(&pki);
    let (tmp_a, tmp_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (rtw, nef) = (shared_store(tmp_a.path()), shared_store(tmp_b.path()));
    let h_rtw = start(&pki, &rtw, SERIAL, CALL_SIGN);
    let h_nef = start(&pki, &nef, NEF_SERIAL, NEF);

    let (st, v) = post(
        api,
        &tok,
        &alarm(
            "0193a1c4-0000-7000-8000-000000000001",
            &[CALL_SIGN, NEF, "RTW 9/99-1"],
        ),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["routed"].as_array().unwrap().len(), 2);
    assert_eq!(
        v["unrouted"],
        serde_json::json!(["RTW 9/99-1"]),
        "a unit without a pad is named"
    );
    let a = applied(&h_rtw, 1);
    let b = applied(&h_nef, 1);
    assert!(a[0].opened && b[0].opened);
    assert_eq!(
        a[0].mission, b[0].mission,
        "RTW and NEF share the mission id"
    );
    let m = a[0].mission;
    assert_eq!(m.0, rettpad_dispatch::mission_id(CENTRE, NUMBER));
    let s = rtw.lock().state(m).cloned().unwrap();
    assert_eq!(s.get(mk::NUMBER), Some(&Value::text(NUMBER)));
    assert_eq!(s.get(mk::CALL_SIGN), Some(&Value::text(CALL_SIGN)));
    assert_eq!(
        nef.lock().state(m).unwrap().get(mk::CALL_SIGN),
        Some(&Value::text(NEF))
    );
    assert_eq!(
        time_of(&rtw, m, tk::ALARM),
        Some((
            ms("2026-12-07T14:02:05+01:00"),
            TimeSource::Dispatch { status: None }
        ))
    );
    assert!(h_rtw.view().connected);

    // Status 3 and 4 of the RTW: its times, not the NEF's.
    for (id, s, at) in [
        (
            "0193a1c4-0000-7000-8000-000000000003",
            3,
            "2026-12-07T14:03:00+01:00",
        ),
        (
            "0193a1c4-0000-7000-8000-000000000004",
            4,
            "2026-12-07T14:09:40+01:00",
        ),
    ] {
        let (code, v) = post(api, &tok, &status(id, CALL_SIGN, s, at));
        assert_eq!(code, 200, "{v}");
    }
    applied(&h_rtw, 2);
    assert_eq!(
        time_of(&rtw, m, tk::AT_SCENE),
        Some((
            ms("2026-12-07T14:09:40+01:00"),
            TimeSource::Dispatch { status: Some(4) }
        ))
    );
    assert_eq!(time_of(&nef, m, tk::AT_SCENE), None);

    // The same status again (a new id, as FMS repeats it): a duplicate.
    let (code, v) = post(
        api,
        &tok,
        &status(
            "0193a1c4-0000-7000-8000-000000000005",
            CALL_SIGN,
            4,
            "2026-12-07T14:09:40+01:00",
        ),
    );
    assert_eq!((code, v["duplicate"].as_bool()), (200, Some(true)));

    // The lookup (SELECT) names the pads and that both acknowledged.
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, v) = lookup(api, &tok);
        assert_eq!(code, 200);
        assert_eq!(v["mission_id"], m.0.to_string());
        assert_eq!(v["statuses"].as_array().unwrap().len(), 2);
        let acked = v["pads"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["acknowledged"] == true);
        if acked && v["pads"].as_array().unwrap().len() == 2 {
            break;
        }
        assert!(Instant::now() < until, "pads never acknowledged: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The RTW closes and uploads; the lookup names the pad that documented.
    upload(&pki, &close_and_seal(&pki, &rtw, m));
    let (_, v) = lookup(api, &tok);
    let doc = v["documented"].as_array().unwrap();
    assert_eq!(doc.len(), 1, "{v}");
    assert_eq!(
        (doc[0]["serial"].as_str(), doc[0]["call_sign"].as_str()),
        (Some(SERIAL), Some(CALL_SIGN))
    );
    assert_eq!(
        doc[0]["report"]["state"], "none",
        "the demo centre has no report target"
    );
}

#[test]
fn bad_dispatch_input_gets_a_clear_error_and_changes_nothing() {
    let pki = Pki::new();
    let gw = Gw::start(&pki);
    let api = gw.dispatch.unwrap();
    let tok = token(&pki);
    let id = "0193a1c4-0000-7000-8000-0000000000a1";
    let cases: Vec<(String, &str, u16, &str)> = vec![
        ("{ nope".into(), tok.as_str(), 400, "invalid"),
        (alarm(id, &[CALL_SIGN]), "wrong-token", 401, "unauthorized"),
        (
            alarm(id, &[CALL_SIGN]).replace(CENTRE, "by-ils-71"),
            tok.as_str(),
            403,
            "foreign_centre",
        ),
        (
            status(
                "0193a1c4-0000-7000-8000-0000000000a2",
                CALL_SIGN,
                4,
                "2026-12-07T14:09:40+01:00",
            ),
            tok.as_str(),
            404,
            "unknown_mission",
        ),
        (
            format!("{}{}", alarm(id, &[CALL_SIGN]), " ".repeat(70_000)),
            tok.as_str(),
            413,
            "too_large",
        ),
    ];
    for (body, t, want, code) in cases {
        let (st, v) = post(api, t, &body);
        assert_eq!((st, v["error"].as_str().unwrap_or("")), (want, code), "{v}");
        assert!(
            !v.to_string().contains("Mustermann"),
            "no content in answers"
        );
    }
    assert_eq!(post(api, &tok, &alarm(id, &[CALL_SIGN])).0, 200);
    // The same id with other content: a collision, never merged.
    let (st, v) = post(
        api,
        &tok,
        &alarm(id, &[CALL_SIGN]).replace("Brustschmerz", "Sturz"),
    );
    assert_eq!((st, v["error"].as_str()), (409, Some("msg_id_collision")));
    // A status of a unit not alarmed for this mission.
    let (st, v) = post(
        api,
        &tok,
        &status(
            "0193a1c4-0000-7000-8000-0000000000a3",
            NEF,
            3,
            "2026-12-07T14:03:00+01:00",
        ),
    );
    assert_eq!((st, v["error"].as_str()), (422, Some("unknown_unit")));
    // A stale revision is kept out of the pads.
    let upd = alarm("0193a1c4-0000-7000-8000-0000000000a4", &[CALL_SIGN])
        .replace("\"revision\": 1", "\"revision\": 3");
    assert_eq!(post(api, &tok, &upd).0, 200);
    let old = alarm("0193a1c4-0000-7000-8000-0000000000a5", &[CALL_SIGN])
        .replace("\"revision\": 1", "\"revision\": 2");
    let (st, v) = post(api, &tok, &old);
    assert_eq!(
        (
            st,
            v["stale"].as_bool(),
            v["routed"].as_array().map(Vec::len)
        ),
        (200, Some(true), Some(0))
    );

    // A pad whose call sign is not registered for it is refused.
    match link(&pki, SERIAL, "RTW 9/99-9").open(0) {
        Err(LinkError::Refused { status, code }) => {
            assert_eq!((status, code.as_str()), (403, "call_sign_mismatch"))
        }
        Err(e) => panic!("expected a refusal, got {e}"),
        Ok(_) => panic!("expected a refusal"),
    }
}

#[test]
fn an_offline_pad_gets_every_queued_message_once_in_order_across_a_gateway_restart() {
    let pki = Pki::new();
    let mut gw = Gw::start(&pki);
    let api = gw.dispatch.unwrap();
    let tok = token(&pki);
    assert_eq!(
        post(
            api,
            &tok,
            &alarm("0193a1c4-0000-7000-8000-0000000000b1", &[CALL_SIGN])
        )
        .0,
        200
    );
    for (i, (s, at)) in [
        (3, "2026-12-07T14:03:00+01:00"),
        (4, "2026-12-07T14:09:00+01:00"),
        (7, "2026-12-07T14:30:00+01:00"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("0193a1c4-0000-7000-8000-0000000000c{i}");
        assert_eq!(post(api, &tok, &status(&id, CALL_SIGN, s, at)).0, 200);
    }
    // SIGKILL with four messages queued; the queue is on disk.
    let _ = gw.child.kill();
    let _ = gw.child.wait();
    let gw = Gw::start(&pki);
    let _keep = &gw;

    let tmp = tempfile::tempdir().unwrap();
    let store = shared_store(tmp.path());
    let h = start(&pki, &store, SERIAL, CALL_SIGN);
    let got = applied(&h, 4);
    assert!(got[0].opened, "the alarm first");
    let m = got[0].mission;
    assert_eq!(
        time_of(&store, m, tk::LEFT_SCENE).map(|t| t.0),
        Some(ms("2026-12-07T14:30:00+01:00"))
    );
    let events = store.lock().log(m).unwrap().len();
    drop(h);

    // A restarted pad (same vault) resumes after what it applied.
    std::thread::sleep(Duration::from_millis(300));
    let h = start(&pki, &store, SERIAL, CALL_SIGN);
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        assert!(h.poll().is_empty(), "nothing is delivered twice");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(h.view().connected);
    assert_eq!(store.lock().log(m).unwrap().len(), events);
}

#[test]
fn the_dispatch_simulator_plays_a_mission_with_faults_and_the_pad_documents_it() {
    let pki = Pki::new();
    let gw = Gw::start(&pki);
    let tmp = tempfile::tempdir().unwrap();
    let store = shared_store(tmp.path());
    let h = start(&pki, &store, SERIAL, CALL_SIGN);
    let o = rettpad_sim::dispatch::Options {
        api: gw.dispatch.unwrap(),
        token: token(&pki),
        centre: CENTRE.into(),
        units: vec![CALL_SIGN.into()],
        number: NUMBER.into(),
        step: Duration::from_millis(1100),
        faults: true,
        cancel: true,
    };
    let mut answers = Vec::new();
    rettpad_sim::dispatch::run(&o, |what, code, body| {
        answers.push((what.to_string(), code, body.to_string()))
    })
    .unwrap();
    let find = |w: &str| answers.iter().find(|a| a.0 == w).cloned().unwrap();
    assert_eq!(find("alarm").1, 200);
    let rep = find(&format!("status 4 {CALL_SIGN} (repeat)"));
    assert!(
        rep.1 == 200 && rep.2.contains("\"duplicate\":true"),
        "{rep:?}"
    );
    assert_eq!(find("status of an unknown unit").1, 422);
    assert_eq!(find("cancel").1, 200);
    // Alarm, 3, 4, late 3, 7, 8, 1, cancel.
    let got = applied(&h, 8);
    let m = got[0].mission;
    assert!(got.last().unwrap().cancelled);
    let dep = time_of(&store, m, tk::DEPARTURE).unwrap();
    let scene = time_of(&store, m, tk::AT_SCENE).unwrap();
    assert!(dep.0 < scene.0, "the late, earlier status 3 won");
    assert!(time_of(&store, m, tk::AVAILABLE).is_some());
    assert!(matches!(
        store.lock().state(m).unwrap().get(mk::CANCELLED_AT),
        Some(Value::Time(_))
    ));
}

/// A pad offline longer than its queue holds: the oldest messages are
/// dropped and counted, the pad logs the gap and still gets the rest.
#[test]
fn at_the_queue_bound_the_oldest_go_and_the_pad_sees_the_gap() {
    let pki = Pki::new();
    let mut cfg = pki.gateway_config();
    cfg.channel.max_queue = 3;
    std::fs::write(pki.dir.join("gateway.toml"), cfg.to_toml()).unwrap();
    let gw = Gw::start(&pki);
    let api = gw.dispatch.unwrap();
    let tok = token(&pki);
    assert_eq!(
        post(
            api,
            &tok,
            &alarm("0193a1c4-0000-7000-8000-0000000000e1", &[CALL_SIGN])
        )
        .0,
        200
    );
    for (i, s) in [3u8, 4, 7, 8].into_iter().enumerate() {
        let id = format!("0193a1c4-0000-7000-8000-0000000000e{}", i + 2);
        let at = format!("2026-12-07T14:{:02}:00+01:00", 10 + i);
        assert_eq!(post(api, &tok, &status(&id, CALL_SIGN, s, &at)).0, 200);
    }
    // Five queued, three kept: the alarm and status 3 are gone.
    let tmp = tempfile::tempdir().unwrap();
    let store = shared_store(tmp.path());
    let h = start(&pki, &store, SERIAL, CALL_SIGN);
    let got = applied(&h, 3);
    assert!(
        got.iter().all(|a| !a.opened),
        "without its alarm no mission opens"
    );
    assert!(
        store.lock().mission_ids().next().is_none(),
        "nothing applied out of context"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(h.poll().is_empty(), "exactly the three kept messages");
}

/// A centre may alarm only its own units: a unit registered to another
/// centre is refused (the DIVERA lesson: no alarm to a foreign crew).
#[test]
fn a_unit_of_another_centre_is_refused() {
    let pki = Pki::new();
    let mut cfg = pki.gateway_config();
    cfg.centres.push(rettpad_gateway::config::CentreEntry {
        id: "by-ils-71".into(),
        name: "ILS Ingolstadt".into(),
        token_sha256: hex::encode(rettpad_crypto::sha256(b"other-token")),
        status_map: Default::default(),
        mqtt: None,
        report: None,
    });
    cfg.pads
        .iter_mut()
        .filter(|p| p.call_sign == NEF)
        .for_each(|p| p.centre = Some("by-ils-71".into()));
    std::fs::write(pki.dir.join("gateway.toml"), cfg.to_toml()).unwrap();
    let gw = Gw::start(&pki);
    let api = gw.dispatch.unwrap();
    let (st, v) = post(
        api,
        &token(&pki),
        &alarm("0193a1c4-0000-7000-8000-0000000000f9", &[CALL_SIGN, NEF]),
    );
    assert_eq!(
        (st, v["error"].as_str()),
        (422, Some("foreign_unit")),
        "{v}"
    );
    // Nothing of the refused message was kept: the lookup knows no mission.
    assert_eq!(lookup(api, &token(&pki)).0, 404);
    // The other centre alarms its own unit.
    let own = alarm("0193a1c4-0000-7000-8000-0000000000fa", &[NEF]).replace(CENTRE, "by-ils-71");
    assert_eq!(post(api, "other-token", &own).0, 200);
}
