//! Structured exports: FHIR R4 document Bundle and MIND XML.
//!
//! Checks structure (Composition first, references resolve, coded and
//! unit-bearing Observations, blood pressure as a panel, partial birth
//! dates, umlauts and markup characters, "nicht messbar"), determinism,
//! well-formed and complete MIND XML, and golden files for a small mission
//! (`RETTPAD_BLESS=1 cargo nextest run --test export` rewrites them).

use quick_xml::Reader;
use quick_xml::events::Event as XmlEvent;
use rettpad_export::{self as export, ExportContext, ExportError, Hospital, fhir, mind};
use rettpad_record::catalog::{self, Scope};
use rettpad_record::keys;
use rettpad_record::{
    Collection, CrewRef, EntryId, Event, EventId, Hash, Measured, MissionId, MissionState, Num,
    PartialDate, PatientId, Payload, Target, TimeSource, TimeValue, Value, ValueSource,
};
use rettpad_sim::sample;
use rettpad_text::{Lang, UserMessage};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use uuid::Uuid;

/// 2026-11-22 14:00 UTC (15:00 CET).
const T0: i64 = 1_795_356_000_000;
const MIN: i64 = 60_000;
const CREW1: Uuid = Uuid::from_u128(0xc1);
const CREW2: Uuid = Uuid::from_u128(0xc2);
const KEYWORD: &str = "Atemnot & Brustschmerz <akut> \"RD 2\"";
const FAMILY: &str = "Müller-Lüdenscheidt";

/// Builds a mission from events with fixed ids, as a pad would log them.
struct Mission {
    id: MissionId,
    events: Vec<Event>,
    next: u128,
}

impl Mission {
    fn new(n: u128) -> Mission {
        let mut m = Mission {
            id: MissionId(Uuid::from_u128(n)),
            events: Vec::new(),
            next: n << 32,
        };
        m.ev(
            T0,
            Payload::MissionOpened {
                call_sign: "RTW 1/83-1".into(),
            },
        );
        m
    }

    fn id(&mut self) -> Uuid {
        self.next += 1;
        Uuid::from_u128(self.next)
    }

    fn ev(&mut self, wall_ms: i64, payload: Payload) {
        let id = EventId(self.id());
        let seq = self.events.len() as u64 + 1;
        self.events.push(Event {
            id,
            mission: self.id,
            patient: payload.patient(),
            author: CREW1,
            device: "PAD-0815".into(),
            seq,
            prev: Hash::ZERO,
            wall_ms,
            mono_ns: 0,
            hlc: seq,
            payload,
        });
    }

    fn set(&mut self, wall: i64, target: Target, field: &str, value: Value) {
        self.ev(
            wall,
            Payload::Set {
                target,
                field: field.into(),
                value,
            },
        );
    }

    fn patient(&mut self, wall: i64) -> PatientId {
        let p = PatientId(self.id());
        self.ev(wall, Payload::PatientAdded { patient: p });
        p
    }

    fn entry(&mut self, wall: i64, p: PatientId, c: Collection, f: Vec<(&str, Value)>) -> EntryId {
        let entry = EntryId(self.id());
        let fields: BTreeMap<String, Value> =
            f.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        self.ev(
            wall,
            Payload::EntryAdded {
                patient: p,
                collection: c,
                entry,
                fields,
            },
        );
        entry
    }

    fn state(&self) -> MissionState {
        let s = MissionState::fold(self.id, &self.events);
        assert!(
            s.rejected.is_empty(),
            "fixture events rejected: {:?}",
            s.rejected
        );
        s
    }
}

fn dispatch(at: i64, status: Option<u8>) -> Value {
    Value::Time(TimeValue {
        at_ms: at,
        source: TimeSource::Dispatch { status },
    })
}

fn dev(n: i64) -> Value {
    Value::Measured(Measured::device(Num::int(n), "SIM-DEFI-01"))
}

fn man(n: Num) -> Value {
    Value::Measured(Measured::manual(n))
}

fn nm() -> Value {
    Value::Measured(Measured::not_measurable(ValueSource::Manual))
}

fn code(c: &str) -> Value {
    Value::code(c)
}

fn codes(cs: &[&str]) -> Value {
    Value::Codes(cs.iter().map(|c| c.to_string()).collect())
}

/// A small but complete mission: ACS with two vital sets, findings, ECG,
/// diagnosis, measures, medication, handover; special characters and a
/// partial birth date; one retracted vital set; closed.
fn small() -> Mission {
    let mut m = Mission::new(0x5a11);
    let crew = vec![
        CrewRef {
            id: CREW1,
            name: "Anna Bérger-Öztürk".into(),
            personnel_no: "4711".into(),
            qualification: "07".into(),
            call_sign: "RTW 1/83-1".into(),
        },
        CrewRef {
            id: CREW2,
            name: "Jonas Keller".into(),
            personnel_no: "4712".into(),
            qualification: "05".into(),
            call_sign: "RTW 1/83-1".into(),
        },
    ];
    m.ev(T0, Payload::CrewJoined { crew });
    let mt = Target::Mission;
    m.set(
        T0 + 1,
        mt.clone(),
        keys::mission::NUMBER,
        Value::text("2026-112233"),
    );
    m.set(T0 + 2, mt.clone(), keys::mission::TYPE, code("01"));
    m.set(T0 + 3, mt.clone(), keys::mission::UNIT_TYPE, code("02"));
    m.set(
        T0 + 4,
        mt.clone(),
        keys::mission::KEYWORD,
        Value::text(KEYWORD),
    );
    m.set(
        T0 + 5,
        mt.clone(),
        keys::mission::ADDRESS_STREET,
        Value::text("Hauptstraße 5"),
    );
    m.set(
        T0 + 6,
        mt.clone(),
        keys::mission::ADDRESS_CITY,
        Value::text("München"),
    );
    m.set(
        T0 + 7,
        mt.clone(),
        keys::mission::GPS_LAT,
        Value::Num(Num::new(48, 137)),
    );
    m.set(T0 + 8, mt.clone(), keys::time::ALARM, dispatch(T0, None));
    m.set(
        T0 + 9,
        mt.clone(),
        keys::time::DEPARTURE,
        dispatch(T0 + MIN, Some(3)),
    );
    m.set(
        T0 + 10,
        mt.clone(),
        keys::time::AT_SCENE,
        dispatch(T0 + 8 * MIN, Some(4)),
    );
    m.set(
        T0 + 11,
        mt.clone(),
        keys::time::PATIENT_CONTACT,
        Value::manual_time(T0 + 9 * MIN),
    );
    let p = m.patient(T0 + 9 * MIN);
    let pt = Target::Patient(p);
    m.set(
        T0 + 9 * MIN,
        pt.clone(),
        keys::patient::FAMILY_NAME,
        Value::text(FAMILY),
    );
    m.set(
        T0 + 9 * MIN,
        pt.clone(),
        keys::patient::GIVEN_NAME,
        Value::text("Jürgen \"Jo\""),
    );
    let birth = PartialDate {
        year: 1950,
        month: 0,
        day: 0,
    };
    m.set(
        T0 + 9 * MIN,
        pt.clone(),
        keys::patient::BIRTH_DATE,
        Value::Date(birth),
    );
    m.set(T0 + 9 * MIN, pt.clone(), keys::patient::SEX, code("D"));
    m.set(
        T0 + 9 * MIN,
        pt.clone(),
        keys::patient::ADDRESS_STREET,
        Value::text("Lindenweg 3a"),
    );
    m.set(
        T0 + 9 * MIN,
        pt.clone(),
        keys::patient::ADDRESS_POSTCODE,
        Value::text("80331"),
    );
    m.set(
        T0 + 9 * MIN,
        pt.clone(),
        keys::patient::ADDRESS_CITY,
        Value::text("München"),
    );
    m.set(
        T0 + 9 * MIN,
        pt.clone(),
        keys::insurance::NUMBER,
        Value::text("A123456789"),
    );
    m.set(
        T0 + 9 * MIN,
        pt.clone(),
        keys::insurance::INSURER_IK,
        Value::text("108310400"),
    );
    m.set(
        T0 + 9 * MIN,
        pt.clone(),
        keys::insurance::INSURER_NAME,
        Value::text("AOK Bayern"),
    );
    m.set(
        T0 + 9 * MIN,
        pt.clone(),
        keys::patient::WEIGHT_KG,
        Value::Num(Num::new(82, 500)),
    );
    m.set(
        T0 + 10 * MIN,
        pt.clone(),
        keys::history::EVENT,
        Value::text(
            "Druck auf der Brust seit 30 min,\nÜbelkeit; Nitro-Spray <2 Hub> ohne Besserung",
        ),
    );
    m.entry(
        T0 + 10 * MIN,
        p,
        Collection::Finding,
        vec![
            (keys::finding::AT, Value::manual_time(T0 + 10 * MIN)),
            (keys::finding::GCS_EYES, code("4")),
            (keys::finding::GCS_VERBAL, code("5")),
            (keys::finding::GCS_MOTOR, code("6")),
            (keys::finding::PAIN_NRS, Value::Int(7)),
            (keys::finding::AVPU, code("A")),
            (keys::finding::BREATHING, codes(&["02", "05"])),
            (keys::finding::SKIN, codes(&["02", "03"])),
        ],
    );
    let device_time = Value::Time(TimeValue {
        at_ms: T0 + 11 * MIN,
        source: TimeSource::Device {
            device: "SIM-DEFI-01".into(),
        },
    });
    m.entry(
        T0 + 11 * MIN,
        p,
        Collection::Vitals,
        vec![
            (keys::vitals::AT, device_time),
            (keys::vitals::HR, dev(112)),
            (keys::vitals::BP_SYS, dev(95)),
            (keys::vitals::BP_DIA, dev(60)),
            (keys::vitals::SPO2, dev(91)),
            (keys::vitals::TEMP, nm()),
            (keys::vitals::GLUCOSE, man(Num::int(134))),
        ],
    );
    let wrong = m.entry(
        T0 + 12 * MIN,
        p,
        Collection::Vitals,
        vec![(keys::vitals::HR, man(Num::int(11)))],
    );
    m.ev(
        T0 + 12 * MIN + 1,
        Payload::EntryRetracted {
            entry: wrong,
            reason: "Tippfehler".into(),
        },
    );
    m.entry(
        T0 + 16 * MIN,
        p,
        Collection::Vitals,
        vec![
            (keys::vitals::AT, Value::manual_time(T0 + 16 * MIN)),
            (keys::vitals::HR, man(Num::int(96))),
            (keys::vitals::BP_SYS, man(Num::int(118))),
            (keys::vitals::BP_DIA, nm()),
            (keys::vitals::RR, man(Num::int(18))),
            (keys::vitals::TEMP, man(Num::new(36, 800))),
        ],
    );
    m.entry(
        T0 + 12 * MIN,
        p,
        Collection::Ecg,
        vec![
            (keys::ecg::AT, Value::manual_time(T0 + 12 * MIN)),
            (keys::ecg::RHYTHM, code("13")),
            (keys::ecg::TWELVE_LEAD, Value::Bool(true)),
            (keys::ecg::STEMI, Value::Bool(true)),
            (keys::ecg::STEMI_SITE, codes(&["02"])),
        ],
    );
    m.entry(
        T0 + 13 * MIN,
        p,
        Collection::Diagnosis,
        vec![
            (
                keys::diagnosis::TEXT,
                Value::text("V. a. STEMI (Hinterwand)"),
            ),
            (keys::diagnosis::ICD10, Value::text("I21.1")),
            (keys::diagnosis::KIND, code("01")),
            (keys::diagnosis::GROUP, code("02")),
            (keys::diagnosis::TRACER, code("01")),
        ],
    );
    m.entry(
        T0 + 13 * MIN,
        p,
        Collection::Measure,
        vec![
            (keys::measure::KIND, code("01")),
            (keys::measure::AT, Value::manual_time(T0 + 13 * MIN)),
            (keys::measure::DETAIL, Value::text("20 G, Handrücken links")),
            (keys::measure::RESULT, code("01")),
        ],
    );
    m.entry(
        T0 + 14 * MIN,
        p,
        Collection::Medication,
        vec![
            (keys::med::SUBSTANCE, Value::text("Acetylsalicylsäure")),
            (keys::med::PRODUCT, Value::text("Aspirin i.v. 500 mg")),
            (keys::med::DOSE, Value::Num(Num::int(250))),
            (keys::med::UNIT, code("mg")),
            (keys::med::ROUTE, code("iv")),
            (keys::med::AT, Value::manual_time(T0 + 14 * MIN)),
            (keys::med::ORDERED_BY, code("02")),
        ],
    );
    m.entry(
        T0 + 14 * MIN,
        p,
        Collection::Medication,
        vec![
            (keys::med::SUBSTANCE, Value::text("Heparin")),
            (keys::med::PRODUCT, Value::text("03029843")),
            (keys::med::DOSE, Value::Num(Num::int(5000))),
            (keys::med::UNIT, code("IE")),
            (keys::med::ROUTE, code("iv")),
            (keys::med::AT, Value::manual_time(T0 + 14 * MIN)),
        ],
    );
    m.set(T0 + 15 * MIN, pt.clone(), keys::naca::SCORE, code("4"));
    m.set(T0 + 20 * MIN, pt.clone(), keys::naca::SCORE, code("5"));
    m.set(
        T0 + 20 * MIN,
        pt.clone(),
        keys::transport::DONE,
        Value::Bool(true),
    );
    m.set(
        T0 + 20 * MIN,
        pt.clone(),
        keys::transport::HOSPITAL,
        Value::text("Klinikum Großhadern"),
    );
    m.set(
        T0 + 20 * MIN,
        pt.clone(),
        keys::transport::DEPARTMENT,
        code("04"),
    );
    m.set(
        T0 + 21 * MIN,
        mt.clone(),
        keys::time::LEFT_SCENE,
        dispatch(T0 + 21 * MIN, Some(7)),
    );
    m.set(
        T0 + 35 * MIN,
        mt.clone(),
        keys::time::AT_DESTINATION,
        dispatch(T0 + 35 * MIN, Some(8)),
    );
    m.set(
        T0 + 40 * MIN,
        mt.clone(),
        keys::time::HANDOVER,
        Value::manual_time(T0 + 40 * MIN),
    );
    m.set(
        T0 + 40 * MIN,
        pt.clone(),
        keys::handover::CONDITION,
        code("01"),
    );
    m.set(T0 + 40 * MIN, pt.clone(), keys::outcome::RESULT, code("02"));
    m.set(
        T0 + 41 * MIN,
        mt,
        keys::remarks::TEXT,
        Value::text("Angehörige informiert – Schlüssel bei Nachbarin (Fr. Weiß)."),
    );
    m.ev(T0 + 45 * MIN, Payload::Closed);
    m
}

fn ctx(m: &Mission) -> ExportContext {
    ExportContext {
        document_id: Uuid::from_u128(0xd0c),
        timestamp_ms: export::log_timestamp(&m.events).expect("events"),
        device_serial: "PAD-0815".into(),
        call_sign: "RTW 1/83-1".into(),
        target_hospital: Some(Hospital {
            id: "260914050".into(),
            name: "Klinikum Großhadern".into(),
        }),
        patient: None,
    }
}

fn json(bytes: &[u8]) -> Json {
    serde_json::from_slice(bytes).expect("valid JSON")
}

fn resources(b: &Json) -> Vec<&Json> {
    b["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| &e["resource"])
        .collect()
}

fn of_type<'a>(b: &'a Json, t: &str) -> Vec<&'a Json> {
    resources(b)
        .into_iter()
        .filter(|r| r["resourceType"] == t)
        .collect()
}

fn codes_of(r: &Json) -> Vec<(String, String)> {
    r["code"]["coding"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c["system"].as_str().unwrap_or_default().to_string(),
                        c["code"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn has_loinc(r: &Json, code: &str) -> bool {
    codes_of(r)
        .iter()
        .any(|(s, c)| s == "http://loinc.org" && c == code)
}

/// Every `reference` string anywhere below `v`.
fn references<'a>(v: &'a Json, out: &mut Vec<&'a str>) {
    match v {
        Json::Object(m) => {
            for (k, x) in m {
                if k == "reference" {
                    if let Some(s) = x.as_str() {
                        out.push(s);
                    }
                } else {
                    references(x, out);
                }
            }
        }
        Json::Array(a) => a.iter().for_each(|x| references(x, out)),
        _ => {}
    }
}

fn quantities<'a>(v: &'a Json, out: &mut Vec<&'a Json>) {
    match v {
        Json::Object(m) => {
            for (k, x) in m {
                if k == "valueQuantity" || k == "dose" {
                    out.push(x);
                }
                quantities(x, out);
            }
        }
        Json::Array(a) => a.iter().for_each(|x| quantities(x, out)),
        _ => {}
    }
}

/// Parses XML completely; returns element local names with their text.
fn parse_xml(bytes: &[u8]) -> Vec<(String, String)> {
    let text = std::str::from_utf8(bytes).expect("UTF-8");
    let mut r = Reader::from_str(text);
    let mut out: Vec<(String, String)> = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    loop {
        match r.read_event().expect("well-formed XML") {
            XmlEvent::Start(s) => {
                out.push((s.local_name().as_ref().to_string(), String::new()));
                stack.push(out.len() - 1);
            }
            XmlEvent::Empty(s) => {
                out.push((s.local_name().as_ref().to_string(), String::new()));
            }
            XmlEvent::End(_) => {
                stack.pop();
            }
            XmlEvent::Text(t) => {
                if let Some(&i) = stack.last() {
                    let s = t.xml10_content();
                    out[i].1.push_str(&s);
                }
            }
            XmlEvent::GeneralRef(g) => {
                if let Some(&i) = stack.last() {
                    let c = match g.resolve_char_ref().expect("valid reference") {
                        Some(c) => c,
                        None => match &*g {
                            "amp" => '&',
                            "lt" => '<',
                            "gt" => '>',
                            "quot" => '"',
                            "apos" => '\'',
                            other => panic!("unexpected entity {other}"),
                        },
                    };
                    out[i].1.push(c);
                }
            }
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "unclosed elements");
    out
}

/// Structural checks every FHIR document must pass.
fn check_bundle(b: &Json) {
    assert_eq!(b["resourceType"], "Bundle");
    assert_eq!(b["type"], "document");
    assert!(
        b["timestamp"]
            .as_str()
            .is_some_and(|t| t.contains('T') && t.ends_with(":00"))
    );
    assert_eq!(b["identifier"]["system"], "urn:ietf:rfc:3986");
    let entries = b["entry"].as_array().expect("entries");
    let comp = &entries[0]["resource"];
    assert_eq!(
        comp["resourceType"], "Composition",
        "Composition comes first"
    );
    let doc_type = &comp["type"]["coding"][0];
    assert_eq!(doc_type["system"], "http://loinc.org");
    assert_eq!(doc_type["code"], "67796-3");
    assert!(!comp["author"].as_array().expect("author").is_empty());
    assert!(comp["date"].is_string() && comp["title"].is_string());

    let mut urls = HashSet::new();
    for e in entries {
        let url = e["fullUrl"].as_str().expect("fullUrl");
        let id = url.strip_prefix("urn:uuid:").expect("urn:uuid fullUrl");
        assert!(Uuid::parse_str(id).is_ok(), "{url}");
        assert_eq!(e["resource"]["id"], id, "resource id matches fullUrl");
        assert!(urls.insert(url), "duplicate fullUrl {url}");
    }
    let mut refs = Vec::new();
    references(b, &mut refs);
    assert!(!refs.is_empty());
    for r in &refs {
        assert!(
            urls.contains(r),
            "reference {r} does not resolve in the bundle"
        );
    }
    // Everything but the Composition is referenced from somewhere.
    let referenced: HashSet<&str> = refs.iter().copied().collect();
    for e in &entries[1..] {
        let url = e["fullUrl"].as_str().unwrap_or_default();
        assert!(
            referenced.contains(url),
            "{url} ({}) is orphaned",
            e["resource"]["resourceType"]
        );
    }
    // Section narratives are well-formed XHTML.
    for s in comp["section"].as_array().expect("sections") {
        assert!(s["title"].is_string());
        if let Some(div) = s["text"]["div"].as_str() {
            parse_xml(div.as_bytes());
        }
        assert!(s["text"].is_object() || s["entry"].is_array());
    }
    // Every quantity carries a UCUM unit (unit-less dose aside).
    let mut qs = Vec::new();
    quantities(b, &mut qs);
    for q in qs {
        assert!(q["value"].is_number(), "{q}");
        if q.get("code").is_some() || q.get("unit").is_some() {
            assert_eq!(q["system"], "http://unitsofmeasure.org", "{q}");
            assert!(q["code"].is_string(), "{q}");
        }
    }
    for o in of_type(b, "Observation") {
        assert!(!codes_of(o).is_empty(), "Observation without code: {o}");
        let value = o
            .as_object()
            .expect("object")
            .keys()
            .any(|k| k.starts_with("value"));
        let absent = o.get("dataAbsentReason").is_some();
        let comps = o.get("component").is_some();
        assert!(value || absent || comps, "Observation without value: {o}");
        assert!(!(value && absent), "value and dataAbsentReason: {o}");
        assert!(
            o["effectiveDateTime"].is_string() || o["effectivePeriod"]["start"].is_string(),
            "{o}"
        );
        if o.get("valueQuantity").is_some() || has_loinc(o, "85354-9") {
            assert!(
                codes_of(o).iter().any(|(s, _)| s == "http://loinc.org"),
                "{o}"
            );
        }
        // Catalog LOINCs of measured values never appear without UCUM or an absent reason.
        for c in o["component"].as_array().into_iter().flatten() {
            let v = c
                .as_object()
                .expect("object")
                .keys()
                .any(|k| k.starts_with("value"));
            assert!(v || c.get("dataAbsentReason").is_some(), "{c}");
        }
    }
}

#[test]
fn fhir_document_structure_small_mission() {
    let m = small();
    let b = json(&fhir::bundle(&m.state(), &ctx(&m)).unwrap());
    check_bundle(&b);
    let comp = &resources(&b)[0];
    assert_eq!(comp["status"], "final");
    assert_eq!(comp["author"].as_array().unwrap().len(), 2);
    let letters: Vec<&str> = comp["section"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        letters,
        [
            "A", "B", "C", "D", "E", "F", "G", "I", "J", "K", "L", "M", "N", "O"
        ],
        "every documented section, in order (no injuries documented)"
    );
    assert_eq!(
        b["timestamp"], "2026-11-22T15:45:00+01:00",
        "time of the Closed event"
    );
    let enc = &of_type(&b, "Encounter")[0];
    assert_eq!(enc["class"]["code"], "EMER");
    assert_eq!(enc["period"]["start"], "2026-11-22T15:00:00+01:00");
    assert_eq!(enc["period"]["end"], "2026-11-22T15:40:00+01:00");
    assert_eq!(enc["identifier"][0]["value"], "2026-112233");
    assert_eq!(of_type(&b, "Practitioner").len(), 2);
    assert_eq!(
        of_type(&b, "Practitioner")[0]["qualification"][0]["code"]["coding"][0]["code"],
        "07"
    );
    let procs = of_type(&b, "Procedure");
    assert_eq!(procs.len(), 1);
    assert!(
        procs[0]["note"][0]["text"]
            .as_str()
            .unwrap()
            .contains("20 G, Handrücken links")
    );
    let conds = of_type(&b, "Condition");
    assert_eq!(conds.len(), 1);
    assert_eq!(
        conds[0]["code"]["coding"][0]["system"],
        "http://fhir.de/CodeSystem/bfarm/icd-10-gm"
    );
    assert_eq!(conds[0]["code"]["coding"][0]["code"], "I21.1");
    assert!(
        conds[0]["note"][0]["text"]
            .as_str()
            .unwrap()
            .contains("ACS/STEMI")
    );
}

#[test]
fn fhir_vitals_are_loinc_ucum_with_bp_panel_and_not_measurable() {
    let m = small();
    let b = json(&fhir::bundle(&m.state(), &ctx(&m)).unwrap());
    let obs = of_type(&b, "Observation");
    // Two vital sets (the retracted one is left out): two BP panels.
    let panels: Vec<_> = obs.iter().filter(|o| has_loinc(o, "85354-9")).collect();
    assert_eq!(panels.len(), 2);
    assert!(
        !obs.iter()
            .any(|o| has_loinc(o, "8480-6") || has_loinc(o, "8462-4")),
        "BP only as panel"
    );
    let c = panels[0]["component"].as_array().unwrap();
    assert_eq!(c[0]["code"]["coding"][0]["code"], "8480-6");
    assert_eq!(c[0]["valueQuantity"]["value"], 95);
    assert_eq!(c[0]["valueQuantity"]["code"], "mm[Hg]");
    assert_eq!(c[1]["code"]["coding"][0]["code"], "8462-4");
    assert!(
        panels[0]["device"]["reference"].is_string(),
        "device source kept"
    );
    let c2 = panels[1]["component"].as_array().unwrap();
    assert_eq!(c2[1]["dataAbsentReason"]["text"], "nicht messbar");
    assert!(c2[1].get("valueQuantity").is_none());

    let hr: Vec<_> = obs.iter().filter(|o| has_loinc(o, "8867-4")).collect();
    assert_eq!(hr.len(), 2, "retracted HR 11 is not exported");
    assert_eq!(hr[0]["valueQuantity"]["value"], 112);
    assert_eq!(hr[0]["valueQuantity"]["code"], "/min");
    assert_eq!(hr[0]["effectiveDateTime"], "2026-11-22T15:11:00+01:00");
    assert_eq!(hr[0]["category"][0]["coding"][0]["code"], "vital-signs");
    let temp: Vec<_> = obs.iter().filter(|o| has_loinc(o, "8310-5")).collect();
    assert_eq!(temp[0]["dataAbsentReason"]["text"], "nicht messbar");
    assert_eq!(temp[1]["valueQuantity"]["value"], 36.8);
    assert_eq!(temp[1]["valueQuantity"]["code"], "Cel");
    let spo2 = obs.iter().find(|o| has_loinc(o, "59408-5")).unwrap();
    assert!(has_loinc(spo2, "2708-6"));
    let glucose = obs.iter().find(|o| has_loinc(o, "2339-0")).unwrap();
    assert_eq!(glucose["valueQuantity"]["code"], "mg/dL");
    assert!(
        glucose.get("device").is_none(),
        "manual value has no device"
    );
    assert!(
        glucose["performer"][0]["reference"].is_string(),
        "manual value names the crew member"
    );

    // Scores.
    let gcs = obs.iter().find(|o| has_loinc(o, "9269-2")).unwrap();
    assert_eq!(gcs["valueQuantity"]["value"], 15);
    assert_eq!(gcs["valueQuantity"]["code"], "{score}");
    let comps: Vec<&str> = gcs["component"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(comps, ["9267-6", "9270-0", "9268-4"]);
    let pain = obs.iter().find(|o| has_loinc(o, "72514-3")).unwrap();
    assert_eq!(pain["valueQuantity"]["value"], 7);
    let weight = obs.iter().find(|o| has_loinc(o, "29463-7")).unwrap();
    assert_eq!(weight["valueQuantity"]["value"], 82.5);
    let naca = obs
        .iter()
        .find(|o| codes_of(o).contains(&("urn:rettpad:cs:field".into(), keys::naca::SCORE.into())))
        .unwrap();
    assert_eq!(naca["valueCodeableConcept"]["coding"][0]["code"], "5");
    assert_eq!(naca["status"], "amended", "NACA was corrected from 4 to 5");
    assert!(
        obs.iter().any(|o| has_loinc(o, "11524-6")),
        "ECG observation"
    );
    // Multi-select findings: one component per code.
    let finding = obs
        .iter()
        .find(|o| codes_of(o).contains(&("urn:rettpad:cs:collection".into(), "finding".into())))
        .unwrap();
    let breathing = finding["component"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["code"]["coding"][0]["code"] == keys::finding::BREATHING)
        .count();
    assert_eq!(breathing, 2);
}

#[test]
fn fhir_patient_and_medication() {
    let m = small();
    let b = json(&fhir::bundle(&m.state(), &ctx(&m)).unwrap());
    let p = &of_type(&b, "Patient")[0];
    assert_eq!(p["name"][0]["family"], FAMILY);
    assert_eq!(p["name"][0]["given"][0], "Jürgen \"Jo\"");
    assert_eq!(p["birthDate"], "1950", "year only: the eGK's 1950-00-00");
    assert_eq!(p["gender"], "other");
    let ext = &p["_gender"]["extension"][0];
    assert_eq!(
        ext["url"],
        "http://fhir.de/StructureDefinition/gender-amtlich-de"
    );
    assert_eq!(ext["valueCoding"]["code"], "D");
    let id = &p["identifier"][0];
    assert_eq!(id["system"], "http://fhir.de/sid/gkv/kvid-10");
    assert_eq!(id["value"], "A123456789");
    assert_eq!(
        id["assigner"]["identifier"]["system"],
        "http://fhir.de/sid/arge-ik/iknr"
    );
    assert_eq!(id["assigner"]["identifier"]["value"], "108310400");
    assert_eq!(p["address"][0]["city"], "München");

    let meds = of_type(&b, "MedicationAdministration");
    assert_eq!(meds.len(), 2);
    assert_eq!(
        meds[0]["medicationCodeableConcept"]["text"],
        "Acetylsalicylsäure"
    );
    assert_eq!(meds[0]["dosage"]["dose"]["value"], 250);
    assert_eq!(meds[0]["dosage"]["dose"]["code"], "mg");
    assert_eq!(meds[0]["dosage"]["route"]["coding"][0]["code"], "iv");
    assert_eq!(meds[0]["effectiveDateTime"], "2026-11-22T15:14:00+01:00");
    let note = meds[0]["note"][0]["text"].as_str().unwrap();
    assert!(
        note.contains("Aspirin i.v. 500 mg") && note.contains("§2a"),
        "{note}"
    );
    assert_eq!(
        meds[1]["medicationCodeableConcept"]["coding"][0]["system"],
        "http://fhir.de/CodeSystem/ifa/pzn"
    );
    assert_eq!(meds[1]["dosage"]["dose"]["code"], "[iU]");

    let loc = &of_type(&b, "Location")[0];
    assert_eq!(
        loc["identifier"][0]["system"],
        "http://fhir.de/sid/arge-ik/iknr"
    );
    // Special characters survive JSON and the narrative.
    let text = String::from_utf8(fhir::bundle(&m.state(), &ctx(&m)).unwrap()).unwrap();
    assert!(text.contains("Müller-Lüdenscheidt") && text.contains("Klinikum Großhadern"));
    let a = &resources(&b)[0]["section"][0]["text"]["div"];
    assert!(
        a.as_str()
            .unwrap()
            .contains("Atemnot &amp; Brustschmerz &lt;akut&gt; &quot;RD 2&quot;")
    );
}

#[test]
fn partial_birth_dates() {
    for (month, day, want) in [(0, 0, "1950"), (3, 0, "1950-03"), (3, 7, "1950-03-07")] {
        let mut m = Mission::new(0xb1);
        let p = m.patient(T0);
        let d = PartialDate {
            year: 1950,
            month,
            day,
        };
        m.set(
            T0,
            Target::Patient(p),
            keys::patient::BIRTH_DATE,
            Value::Date(d),
        );
        let st = m.state();
        let b = json(&fhir::bundle(&st, &ctx(&m)).unwrap());
        check_bundle(&b);
        assert_eq!(of_type(&b, "Patient")[0]["birthDate"], want);
        let x = parse_xml(&mind::xml(&st, &ctx(&m)).unwrap());
        let bd = x
            .iter()
            .find(|(n, _)| n == keys::patient::BIRTH_DATE)
            .unwrap();
        assert_eq!(bd.1, want);
    }
}

#[test]
fn exports_are_deterministic() {
    let m = small();
    let c = ctx(&m);
    let (a, b) = (m.state(), small().state());
    assert_eq!(fhir::bundle(&a, &c).unwrap(), fhir::bundle(&b, &c).unwrap());
    assert_eq!(mind::xml(&a, &c).unwrap(), mind::xml(&b, &c).unwrap());
    // Another document id changes the Bundle id, nothing derived from the record.
    let other = ExportContext {
        document_id: Uuid::from_u128(0xd0d),
        ..c.clone()
    };
    let x = json(&fhir::bundle(&a, &c).unwrap());
    let y = json(&fhir::bundle(&a, &other).unwrap());
    assert_ne!(x["id"], y["id"]);
    assert_eq!(x["entry"][1], y["entry"][1], "Patient keeps its derived id");
}

/// MIND XML checks for any mission: well-formed, one element per catalog
/// field per scope object, every documented value written as documented,
/// sections A–O in order.
fn check_mind(st: &MissionState, bytes: &[u8]) {
    let els = parse_xml(bytes);
    let text = std::str::from_utf8(bytes).unwrap();
    let patients: Vec<_> = st.active_patients().collect();
    for def in catalog::FIELDS {
        let objects: Vec<&rettpad_record::state::Fields> = match def.scope {
            Scope::Mission => vec![&st.fields],
            Scope::Patient => patients.iter().map(|p| &p.fields).collect(),
            Scope::Entry(c) => patients
                .iter()
                .flat_map(|p| st.entries_of(p.id, c))
                .map(|e| &e.fields)
                .collect(),
        };
        let total = els.iter().filter(|(n, _)| n == def.key).count();
        assert_eq!(total, objects.len(), "{}: one element per object", def.key);
        let documented = objects
            .iter()
            .filter(|f| f.get(def.key).and_then(|x| x.current()).is_some())
            .count();
        let empty = text
            .matches(&format!("<{} documented=\"false\"/>", def.key))
            .count();
        assert_eq!(
            empty,
            total - documented,
            "{}: documented values written",
            def.key
        );
    }
    let sections: String = text
        .match_indices("<section id=\"")
        .map(|(i, _)| &text[i + 13..i + 14])
        .collect();
    assert_eq!(
        sections,
        format!("AB{}O", "CDEFGHIJKLMN".repeat(patients.len()))
    );
    let strips: usize = patients.iter().map(|p| p.strips.len()).sum();
    assert_eq!(els.iter().filter(|(n, _)| n == "strip").count(), strips);
}

#[test]
fn mind_xml_is_well_formed_and_holds_every_documented_field() {
    let m = small();
    let st = m.state();
    let bytes = mind::xml(&st, &ctx(&m)).unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(
        text.contains("no XML schema"),
        "says why the namespace is ours"
    );
    assert!(text.contains("xmlns=\"urn:rettpad:mind:1\""));
    check_mind(&st, &bytes);
    let els = parse_xml(&bytes);
    let names: Vec<&str> = els.iter().map(|(n, _)| n.as_str()).collect();
    let count = |n: &str| names.iter().filter(|x| **x == n).count();

    // One element per catalog field of every scope present.
    let p = st.active_patients().next().unwrap();
    for def in catalog::FIELDS {
        let n = match def.scope {
            Scope::Mission | Scope::Patient => 1,
            Scope::Entry(c) => st.entries_of(p.id, c).count(),
        };
        assert_eq!(count(def.key), n, "{}", def.key);
    }
    // Sections A–O in order, patients between B and O.
    let sections: Vec<&str> = text
        .match_indices("<section id=\"")
        .map(|(i, _)| &text[i + 13..i + 14])
        .collect();
    assert_eq!(sections.join(""), "ABCDEFGHIJKLMNO");
    assert_eq!(
        count("entry"),
        8,
        "2 vitals (1 retracted left out), finding, ECG, diagnosis, measure, 2 medications"
    );
    // Values as documented, with codes and sources.
    let val = |n: &str| {
        els.iter()
            .find(|(x, _)| x == n)
            .map(|(_, v)| v.as_str())
            .unwrap()
    };
    assert_eq!(val(keys::mission::KEYWORD), KEYWORD);
    assert_eq!(val(keys::patient::FAMILY_NAME), FAMILY);
    assert_eq!(val(keys::time::DEPARTURE), "2026-11-22T15:01:00+01:00");
    assert!(text.contains("<time.departure source=\"dispatch\" fms=\"3\">"));
    assert!(text.contains(
        "<vitals.temp unit=\"°C\" loinc=\"8310-5\" source=\"manual\" notMeasurable=\"true\"/>"
    ));
    assert!(text.contains("<vitals.hr unit=\"/min\" loinc=\"8867-4\" source=\"device\" device=\"SIM-DEFI-01\">112</vitals.hr>"));
    assert!(text.contains("<mission.type list=\"mission_type\" mind=\"MIND3.1-EinsatzArt\" label=\"Primäreinsatz\">01</mission.type>"));
    assert!(text.contains("<naca.score corrected=\"true\" list=\"naca\" mind=\"NACA\""));
    assert!(text.contains("<patient.birth_date precision=\"year\">1950</patient.birth_date>"));
    assert_eq!(
        val(keys::history::EVENT),
        "Druck auf der Brust seit 30 min,\nÜbelkeit; Nitro-Spray <2 Hub> ohne Besserung"
    );
    // Every documented value appears (by content) in its element.
    let mut documented = 0;
    for (k, fs) in st.fields.iter().chain(p.fields.iter()) {
        if fs.current().is_some() {
            documented += 1;
            let el = els.iter().find(|(n, _)| n == k).unwrap();
            let def = catalog::field(k).unwrap();
            if !matches!(def.kind, catalog::Kind::Measured { .. }) {
                assert!(!el.1.is_empty(), "{k} has no content");
            }
        }
    }
    assert!(documented > 30);
}

#[test]
fn control_characters_never_break_the_xml() {
    let mut m = Mission::new(0xcc);
    m.set(
        T0,
        Target::Mission,
        keys::remarks::TEXT,
        Value::text("a\u{1}b\u{1b}[31m\u{7f}c\tö\r\nx"),
    );
    m.ev(
        T0,
        Payload::CrewJoined {
            crew: vec![CrewRef {
                id: CREW2,
                name: "Zoë <Test>".into(),
                personnel_no: "1\t2".into(),
                qualification: "Praktikant \"A\"".into(),
                call_sign: "NEF\n1".into(),
            }],
        },
    );
    let st = m.state();
    let x = mind::xml(&st, &ctx(&m)).unwrap();
    let els = parse_xml(&x);
    let v = &els
        .iter()
        .find(|(n, _)| n == keys::remarks::TEXT)
        .unwrap()
        .1;
    assert_eq!(
        v, "a\u{FFFD}b\u{FFFD}[31m\u{7f}c\tö\r\nx",
        "CR kept, controls replaced"
    );
    let text = std::str::from_utf8(&x).unwrap();
    assert!(
        text.contains(r#"personnelNo="1&#9;2" qualification="Praktikant &quot;A&quot;" callSign="NEF&#10;1">Zoë &lt;Test&gt;</member>"#),
        "attributes keep tabs and line breaks"
    );
    let b = json(&fhir::bundle(&st, &ctx(&m)).unwrap());
    check_bundle(&b);
    assert!(of_type(&b, "Patient").is_empty(), "mission without patient");
}

#[test]
fn several_patients_need_a_choice() {
    let mut m = Mission::new(0x2b);
    let p1 = m.patient(T0);
    let p2 = m.patient(T0 + 1);
    m.set(
        T0 + 2,
        Target::Patient(p1),
        keys::patient::FAMILY_NAME,
        Value::text("Eins"),
    );
    m.set(
        T0 + 3,
        Target::Patient(p2),
        keys::patient::FAMILY_NAME,
        Value::text("Zwei"),
    );
    let st = m.state();
    let c = ctx(&m);
    let err = fhir::bundle(&st, &c).unwrap_err();
    assert_eq!(err, ExportError::AmbiguousPatient(2));
    assert!(err.message(Lang::De).contains("2 Patienten"));
    let stranger = PatientId(Uuid::from_u128(7));
    assert_eq!(
        fhir::bundle(
            &st,
            &ExportContext {
                patient: Some(stranger),
                ..c.clone()
            }
        )
        .unwrap_err(),
        ExportError::UnknownPatient(stranger)
    );
    let docs = fhir::bundles(&st, &c).unwrap();
    assert_eq!(docs.len(), 2);
    let ids: BTreeSet<String> = docs
        .iter()
        .map(|(_, d)| json(d)["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 2, "distinct document ids");
    for (p, d) in &docs {
        let b = json(d);
        check_bundle(&b);
        let name = if *p == Some(p1) { "Eins" } else { "Zwei" };
        assert_eq!(of_type(&b, "Patient")[0]["name"][0]["family"], name);
    }
    let x = parse_xml(&mind::xml(&st, &c).unwrap());
    assert_eq!(x.iter().filter(|(n, _)| n == "patient").count(), 2);
}

fn golden(name: &str, got: &[u8]) {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "fixtures",
        "export",
        name,
    ]
    .iter()
    .collect();
    if std::env::var_os("RETTPAD_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, got).unwrap();
    }
    let want = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run with RETTPAD_BLESS=1", path.display()));
    assert!(
        want == got,
        "{} differs from the export; if the change is intended, rerun with RETTPAD_BLESS=1 and review the diff",
        path.display()
    );
}

#[test]
fn golden_files_small_mission() {
    let m = small();
    let st = m.state();
    golden("small.fhir.json", &fhir::bundle(&st, &ctx(&m)).unwrap());
    golden("small.mind.xml", &mind::xml(&st, &ctx(&m)).unwrap());
}

#[test]
fn sample_missions_export_cleanly() {
    for (name, make) in [
        ("standard", sample::standard as fn() -> sample::Sample),
        ("resuscitation", sample::resuscitation),
    ] {
        let s = make();
        let st = s.state();
        assert!(st.rejected.is_empty(), "{name}: {:?}", st.rejected);
        let log = s.log();
        let c = ExportContext {
            document_id: Uuid::from_u128(0x5a),
            timestamp_ms: export::log_timestamp(log.events()).unwrap(),
            device_serial: sample::RTW_PAD.into(),
            call_sign: sample::RTW_CALL_SIGN.into(),
            target_hospital: Some(Hospital {
                id: "klinikum-nord".into(),
                name: "Klinikum Nord, Herzkatheterlabor".into(),
            }),
            patient: None,
        };
        let docs = fhir::bundles(&st, &c).unwrap();
        assert_eq!(docs.len(), st.active_patients().count().max(1), "{name}");
        for (p, d) in &docs {
            let b = json(d);
            check_bundle(&b);
            let p = p.expect("sample missions have patients");
            let obs = of_type(&b, "Observation");
            // One BP panel per vital set that has a blood pressure.
            let with_bp = st
                .entries_of(p, Collection::Vitals)
                .filter(|e| {
                    e.get(keys::vitals::BP_SYS).is_some() || e.get(keys::vitals::BP_DIA).is_some()
                })
                .count();
            assert_eq!(
                obs.iter().filter(|o| has_loinc(o, "85354-9")).count(),
                with_bp,
                "{name}"
            );
            let strips = st.patient(p).map_or(0, |x| x.strips.len());
            let strip_obs = obs
                .iter()
                .filter(|o| o["identifier"][0]["system"] == "urn:rettpad:sid:ekg-sha256")
                .count();
            assert_eq!(strip_obs, strips, "{name}: strips");
            assert_eq!(
                of_type(&b, "Procedure").len(),
                st.entries_of(p, Collection::Measure).count(),
                "{name}"
            );
            assert_eq!(
                of_type(&b, "MedicationAdministration").len(),
                st.entries_of(p, Collection::Medication).count(),
                "{name}"
            );
            assert_eq!(of_type(&b, "Practitioner").len(), st.crew.len(), "{name}");
        }
        let x = mind::xml(&st, &c).unwrap();
        check_mind(&st, &x);
        // Same sample, same bytes.
        let again = make().state();
        assert_eq!(fhir::bundles(&again, &c).unwrap(), docs, "{name}");
        assert_eq!(mind::xml(&again, &c).unwrap(), x, "{name}");
    }
}
