//! The dispatch message, the mission id, the status map and the plan.

use rettpad_dispatch::msg::{self, DispatchError, MAX_MESSAGE_BYTES};
use rettpad_dispatch::status::StatusMap;
use rettpad_dispatch::{Body, ToPad, els_author, mission_id, plan};
use rettpad_record::keys::{mission as mk, patient as pk, time as tk};
use rettpad_record::{
    Author, MissionId, MissionLog, MissionState, Payload, Target, TimeSource, TimeValue, Value,
};
use std::collections::BTreeMap;
use uuid::Uuid;

/// docs/dispatch.md §4, the example as the research note gives it.
const ALARM: &str = r#"{ "schema": "rettpad.dispatch/1", "msg_id": "0193a1c4-7d1e-7c2a-9b1e-3f0c5d2e8a11",
  "kind": "mission", "centre": { "id": "by-ils-71", "name": "ILS Ingolstadt" },
  "source": { "system": "ELDIS3", "via": "fe2-mqtt", "seq": 48211 },
  "sent_at": "2026-11-23T14:02:11+01:00",
  "mission": { "number": "R 7.1 261123 0815", "revision": 2,
    "keyword": { "code": "RD 2", "text": "Notfall mit NA" },
    "meldebild": "Brustschmerz, kaltschweißig", "signal": true,
    "location": { "street": "Hauptstraße", "house_number": "12a", "postcode": "85049",
      "city": "Ingolstadt", "object": "Bäckerei", "floor": "1. OG",
      "remarks": "Hintereingang", "lat": 48.7665, "lon": 11.4257 },
    "patient": { "name": "Max Mustermann", "birth_date": "1950-03-00", "sex": "m" },
    "caller": { "name": "Erika Mustermann", "phone": "+49 841 000000" },
    "units": [
      { "call_sign": "Rotkreuz Ingolstadt 71/1", "type": "RTW", "alarmed_at": "2026-11-23T14:02:05+01:00" },
      { "call_sign": "Rotkreuz Ingolstadt 76/1", "type": "NEF", "alarmed_at": "2026-11-23T14:02:06+01:00" } ],
    "destination": null } }"#;

const RTW: &str = "Rotkreuz Ingolstadt 71/1";
const NEF: &str = "Rotkreuz Ingolstadt 76/1";

fn status_json(id: &str, status: i64, at: &str) -> String {
    format!(
        r#"{{ "schema": "rettpad.dispatch/1", "msg_id": "{id}", "kind": "status",
  "centre": {{ "id": "by-ils-71" }}, "mission_number": "R 7.1 261123 0815",
  "call_sign": "{RTW}", "status": {status}, "at": "{at}", "source": {{ "channel": "tetra", "seq": 1234 }} }}"#
    )
}

fn to_pad(json: &str, call_sign: &str) -> ToPad {
    let d = msg::parse(json.as_bytes()).unwrap();
    let fields = match &d.body {
        Body::Status(s) => StatusMap::default().fields(s.status).to_vec(),
        _ => Vec::new(),
    };
    ToPad {
        mission_id: mission_id(&d.centre, d.number()),
        dispatch: d,
        call_sign: call_sign.into(),
        received_ms: msg::parse_time("2026-11-23T14:02:12+01:00").unwrap(),
        fields,
    }
}

/// Applies a plan the way the pad does: ELS edits as the ELS author.
fn apply(log: &mut MissionLog, st: &mut MissionState, p: &rettpad_dispatch::Plan, t: i64) {
    let author = Author {
        device: "PAD-1".into(),
        crew_member: p.author,
    };
    if p.open {
        let ev = log.prepare(
            &author,
            t,
            1,
            Payload::MissionOpened {
                call_sign: RTW.into(),
            },
        );
        log.insert(ev.clone()).unwrap();
        st.apply(&ev);
    }
    for e in &p.edits {
        st.precheck(e).unwrap();
        let ev = log.prepare(&author, t, 1, e.clone());
        log.insert(ev.clone()).unwrap();
        st.apply(&ev);
    }
}

fn crew_set(log: &mut MissionLog, st: &mut MissionState, field: &str, v: Value) {
    let author = Author {
        device: "PAD-1".into(),
        crew_member: Uuid::now_v7(),
    };
    let ev = log.prepare(
        &author,
        1,
        1,
        Payload::Set {
            target: Target::Mission,
            field: field.into(),
            value: v,
        },
    );
    log.insert(ev.clone()).unwrap();
    st.apply(&ev);
}

#[test]
fn the_research_example_parses_into_every_field() {
    let d = msg::parse(ALARM.as_bytes()).unwrap();
    assert_eq!(d.centre, "by-ils-71");
    assert_eq!(d.kind_name(), "mission");
    let Body::Mission(m) = &d.body else { panic!() };
    assert_eq!(m.number, "R 7.1 261123 0815");
    assert_eq!(m.revision, 2);
    assert_eq!(m.keyword_code.as_deref(), Some("RD 2"));
    assert_eq!(m.units.len(), 2);
    // 14:02:05 at +01:00 is 13:02:05 UTC.
    assert_eq!(
        m.units[0].alarmed_ms,
        Some(1_795_438_925_000),
        "RFC 3339 offset applied"
    );
    let p = m.patient.as_ref().unwrap();
    assert_eq!(p.family_name.as_deref(), Some("Mustermann"));
    assert_eq!(p.given_name.as_deref(), Some("Max"));
}

#[test]
fn bad_messages_get_a_clear_error_without_their_values() {
    let cases: Vec<(String, DispatchError)> = vec![
        ("{".into(), DispatchError::Json("line 1 column 1".into())),
        (
            ALARM.replace("rettpad.dispatch/1", "other/9"),
            DispatchError::Schema,
        ),
        (
            ALARM.replace("0193a1c4-7d1e-7c2a-9b1e-3f0c5d2e8a11", "42"),
            DispatchError::Invalid("/msg_id"),
        ),
        (
            ALARM.replace("\"by-ils-71\"", "\"\""),
            DispatchError::Missing("/centre/id"),
        ),
        (
            ALARM.replace("\"kind\": \"mission\"", "\"kind\": \"party\""),
            DispatchError::Kind,
        ),
        (
            ALARM.replace("48.7665", "148.7"),
            DispatchError::Invalid("/mission/location/lat"),
        ),
        (
            ALARM.replace("2026-11-23T14:02:05+01:00", "gestern"),
            DispatchError::Invalid("/mission/units/alarmed_at"),
        ),
        (
            ALARM.replace(RTW, NEF),
            DispatchError::Invalid("/mission/units/call_sign"),
        ),
        (
            status_json(
                "0193a1c9-0000-7000-8000-000000000001",
                12,
                "2026-11-23T14:09:40+01:00",
            ),
            DispatchError::Invalid("/status"),
        ),
        (
            status_json(
                "0193a1c9-0000-7000-8000-000000000001",
                4,
                "2026-11-23 14:09",
            ),
            DispatchError::Invalid("/at"),
        ),
    ];
    for (json, want) in cases {
        let got = msg::parse(json.as_bytes()).unwrap_err();
        assert_eq!(got, want);
        assert!(!got.to_string().contains("Mustermann"));
    }
    let big = format!("{}{}", ALARM, " ".repeat(MAX_MESSAGE_BYTES));
    assert!(matches!(
        msg::parse(big.as_bytes()),
        Err(DispatchError::TooLarge(_))
    ));
    let long = ALARM.replace("Bäckerei", &"x".repeat(600));
    assert_eq!(
        msg::parse(long.as_bytes()).unwrap_err(),
        DispatchError::TooLong("/mission/location/object")
    );
    let ctl = ALARM.replace("Bäckerei", "B\\u0007");
    assert_eq!(
        msg::parse(ctl.as_bytes()).unwrap_err(),
        DispatchError::Invalid("/mission/location/object")
    );
}

#[test]
fn mission_ids_are_name_based_per_centre_and_number() {
    let a = mission_id("by-ils-71", "R 7.1 261123 0815");
    assert_eq!(
        a,
        mission_id("by-ils-71", "R 7.1 261123 0815"),
        "RTW and NEF agree"
    );
    assert_eq!(a.get_version_num(), 5);
    assert_ne!(
        a,
        mission_id("by-ils-72", "R 7.1 261123 0815"),
        "numbers repeat across centres"
    );
    assert_ne!(
        mission_id("a", "bc"),
        mission_id("ab", "c"),
        "the separator counts"
    );
    // The documented construction, recomputed by hand: UUIDv5 in the namespace.
    let name = b"rettpad.mission/1\0by-ils-71\0R 7.1 261123 0815";
    assert_eq!(a, Uuid::new_v5(&rettpad_dispatch::NAMESPACE, name));
    assert_ne!(els_author("by-ils-71"), a);
}

#[test]
fn the_default_status_map_follows_the_tetra_table_and_refuses_other_fields() {
    let m = StatusMap::default();
    assert_eq!(m.fields(3), [tk::DEPARTURE]);
    assert_eq!(m.fields(4), [tk::AT_SCENE]);
    assert_eq!(m.fields(7), [tk::LEFT_SCENE]);
    assert_eq!(m.fields(8), [tk::AT_DESTINATION]);
    assert_eq!(m.fields(2), [tk::AVAILABLE, tk::END]);
    assert!(m.fields(5).is_empty() && m.fields(6).is_empty() && m.fields(0).is_empty());
    // A region where 8 is "bedingt verfügbar": configured, not hard-coded.
    let mut r = BTreeMap::new();
    r.insert("8".to_string(), vec![tk::AVAILABLE.to_string()]);
    let m: StatusMap = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
    assert_eq!(m.fields(8), [tk::AVAILABLE]);
    for bad in [
        tk::PATIENT_CONTACT,
        tk::HANDOVER,
        pk::FAMILY_NAME,
        "time.nope",
    ] {
        let mut r = BTreeMap::new();
        r.insert("4".to_string(), vec![bad.to_string()]);
        assert!(
            serde_json::from_value::<StatusMap>(serde_json::to_value(&r).unwrap()).is_err(),
            "{bad}"
        );
    }
    let mut r = BTreeMap::new();
    r.insert("12".to_string(), vec![tk::AT_SCENE.to_string()]);
    assert!(serde_json::from_value::<StatusMap>(serde_json::to_value(&r).unwrap()).is_err());
}

#[test]
fn an_alarm_opens_the_mission_with_every_value_from_the_els() {
    let msg = to_pad(ALARM, RTW);
    msg.validate().unwrap();
    let p = plan(None, false, &msg);
    assert!(p.open);
    assert_eq!(p.author, els_author("by-ils-71"));
    let mut log = MissionLog::new(p.mission);
    let mut st = MissionState::new(p.mission);
    apply(&mut log, &mut st, &p, 10);
    assert_eq!(st.get(mk::NUMBER), Some(&Value::text("R 7.1 261123 0815")));
    assert_eq!(st.get(mk::DISPATCH_CENTER), Some(&Value::text("by-ils-71")));
    assert_eq!(st.get(mk::CALL_SIGN), Some(&Value::text(RTW)));
    assert_eq!(st.get(mk::UNIT_TYPE), Some(&Value::code("02")));
    assert_eq!(
        st.get(mk::KEYWORD),
        Some(&Value::text("RD 2 – Notfall mit NA"))
    );
    assert_eq!(
        st.get(mk::ADDRESS_STREET),
        Some(&Value::text("Hauptstraße 12a"))
    );
    assert_eq!(
        st.get(mk::ADDRESS_OBJECT),
        Some(&Value::text("Bäckerei · 1. OG · Hintereingang"))
    );
    assert_eq!(
        st.get(mk::GPS_LAT),
        Some(&Value::Num(rettpad_record::Num(48_767)))
    );
    assert_eq!(
        st.get(tk::ALARM),
        Some(&Value::Time(TimeValue {
            at_ms: 1_795_438_925_000,
            source: TimeSource::Dispatch { status: None }
        }))
    );
    let pt = st.active_patients().next().unwrap();
    assert_eq!(pt.get(pk::FAMILY_NAME), Some(&Value::text("Mustermann")));
    assert_eq!(pt.get(pk::SEX), Some(&Value::code("M")));
    // The NEF's pad opens the same mission id with its own call sign and type.
    let nef = plan(None, false, &to_pad(ALARM, NEF));
    assert_eq!(nef.mission, p.mission);
    assert!(nef.edits.contains(&Payload::Set {
        target: Target::Mission,
        field: mk::UNIT_TYPE.into(),
        value: Value::code("01")
    }));
    // The same alarm again changes nothing.
    let again = plan(Some(&st), false, &msg);
    assert!(!again.open && again.edits.is_empty() && again.proposals.is_empty());
}

#[test]
fn statuses_fill_times_first_wins_and_the_crew_always_wins() {
    let alarm = to_pad(ALARM, RTW);
    let p = plan(None, false, &alarm);
    let mut log = MissionLog::new(p.mission);
    let mut st = MissionState::new(p.mission);
    apply(&mut log, &mut st, &p, 10);

    let s3 = to_pad(
        &status_json(
            "0193a1c9-0000-7000-8000-000000000003",
            3,
            "2026-11-23T14:03:00+01:00",
        ),
        RTW,
    );
    let p3 = plan(Some(&st), false, &s3);
    apply(&mut log, &mut st, &p3, 11);
    let at = |st: &MissionState, k| match st.get(k) {
        Some(Value::Time(t)) => Some((t.at_ms, t.source.clone())),
        _ => None,
    };
    let (t3, src) = at(&st, tk::DEPARTURE).unwrap();
    assert_eq!(t3, msg::parse_time("2026-11-23T14:03:00+01:00").unwrap());
    assert_eq!(src, TimeSource::Dispatch { status: Some(3) });

    // A repeat (later) is ignored; an earlier one that arrives late wins.
    let later = plan(
        Some(&st),
        false,
        &to_pad(
            &status_json(
                "0193a1c9-0000-7000-8000-000000000004",
                3,
                "2026-11-23T14:04:00+01:00",
            ),
            RTW,
        ),
    );
    assert!(later.edits.is_empty());
    assert_eq!(later.ignored, ["later repeat of a status"]);
    let earlier = plan(
        Some(&st),
        false,
        &to_pad(
            &status_json(
                "0193a1c9-0000-7000-8000-000000000005",
                3,
                "2026-11-23T14:02:50+01:00",
            ),
            RTW,
        ),
    );
    assert_eq!(earlier.edits.len(), 1);

    // The crew typed "at scene" by hand: a later status 4 is only proposed.
    crew_set(&mut log, &mut st, tk::AT_SCENE, Value::manual_time(5));
    let s4 = plan(
        Some(&st),
        false,
        &to_pad(
            &status_json(
                "0193a1c9-0000-7000-8000-000000000006",
                4,
                "2026-11-23T14:09:40+01:00",
            ),
            RTW,
        ),
    );
    assert!(s4.edits.is_empty());
    assert_eq!(s4.proposals.len(), 1);
    assert_eq!(s4.proposals[0].field, tk::AT_SCENE);
    assert_eq!(s4.proposals[0].current, Some(Value::manual_time(5)));

    // A status from the previous mission (before this alarm) is ignored.
    let old = plan(
        Some(&st),
        false,
        &to_pad(
            &status_json(
                "0193a1c9-0000-7000-8000-000000000007",
                8,
                "2026-11-23T13:40:00+01:00",
            ),
            RTW,
        ),
    );
    assert_eq!(old.ignored, ["status from before the alarm"]);
}

#[test]
fn updates_replace_els_values_propose_over_crew_values_and_cancel_deletes_nothing() {
    let p = plan(None, false, &to_pad(ALARM, RTW));
    let mut log = MissionLog::new(p.mission);
    let mut st = MissionState::new(p.mission);
    apply(&mut log, &mut st, &p, 10);
    crew_set(
        &mut log,
        &mut st,
        mk::ADDRESS_CITY,
        Value::text("Ingolstadt-Süd"),
    );

    let upd = ALARM
        .replace("\"revision\": 2", "\"revision\": 3")
        .replace("Hauptstraße", "Hauptplatz")
        .replace("\"Ingolstadt\",", "\"Gaimersheim\",");
    let u = plan(Some(&st), false, &to_pad(&upd, RTW));
    assert_eq!(u.edits.len(), 1, "the ELS street is replaced");
    assert_eq!(u.proposals.len(), 1, "the crew's city is not");
    apply(&mut log, &mut st, &u, 12);
    assert_eq!(
        st.get(mk::ADDRESS_STREET),
        Some(&Value::text("Hauptplatz 12a"))
    );
    assert_eq!(
        st.get(mk::ADDRESS_CITY),
        Some(&Value::text("Ingolstadt-Süd"))
    );
    assert_eq!(
        st.fields.get(mk::ADDRESS_STREET).unwrap().history.len(),
        2,
        "the old value stays"
    );

    let cancel = r#"{ "schema": "rettpad.dispatch/1", "msg_id": "0193a1d0-0000-7000-8000-000000000001", "kind": "cancel",
        "centre": { "id": "by-ils-71" }, "mission_number": "R 7.1 261123 0815", "at": "2026-11-23T14:05:00+01:00" }"#;
    let events_before = log.len();
    let c = plan(Some(&st), false, &to_pad(cancel, RTW));
    apply(&mut log, &mut st, &c, 13);
    assert!(matches!(st.get(mk::CANCELLED_AT), Some(Value::Time(_))));
    assert_eq!(log.len(), events_before + 1);
    assert!(st.get(mk::NUMBER).is_some() && st.active_patients().count() == 1);
}

#[test]
fn finished_closed_or_foreign_missions_take_nothing() {
    let s = to_pad(
        &status_json(
            "0193a1c9-0000-7000-8000-000000000009",
            1,
            "2026-11-23T15:00:00+01:00",
        ),
        RTW,
    );
    assert_eq!(
        plan(None, false, &s).ignored,
        ["no such mission on this pad"]
    );
    let alarm = to_pad(ALARM, RTW);
    let p = plan(None, true, &alarm);
    assert!(
        !p.open && p.edits.is_empty(),
        "no ghost mission after upload"
    );
    // A message for another unit or another mission id is refused on the pad.
    let mut wrong = to_pad(ALARM, "Florian Ingolstadt 1/1");
    assert!(wrong.validate().is_err());
    wrong.call_sign = RTW.into();
    wrong.mission_id = MissionId::new().0;
    assert!(wrong.validate().is_err());
    let mut f = to_pad(
        &status_json(
            "0193a1c9-0000-7000-8000-00000000000a",
            4,
            "2026-11-23T14:09:40+01:00",
        ),
        RTW,
    );
    f.fields = vec![pk::FAMILY_NAME.into()];
    assert!(f.validate().is_err(), "a status may only set time fields");
}

#[test]
fn clock_skew_over_a_minute_is_reported() {
    let mut m = to_pad(ALARM, RTW);
    assert_eq!(plan(None, false, &m).skew_ms, None);
    m.received_ms += 120_000;
    assert_eq!(plan(None, false, &m).skew_ms, Some(-121_000));
}
