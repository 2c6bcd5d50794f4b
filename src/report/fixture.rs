//! Deterministic missions for the report's tests, figures and benches
//! (fixed ids and times). Stands in until `crate::sample` is on main.

use super::{Lead, Strip, StripKind};
use crate::record::Collection;
use crate::record::event::next_hlc;
use crate::record::{
    CrewRef, EntryId, Event, EventId, HandoverMode, Hash, Measured, MissionId, MissionLog,
    MissionState, Num, PartialDate, PatientId, Payload, Target, TimeSource, TimeValue, Value,
};
use std::collections::BTreeMap;
use uuid::Uuid;

/// 2026-11-22 13:00:00 UTC (14:00 in Germany).
pub const T0: i64 = 1_795_352_400_000;
const MIN: i64 = 60_000;

pub struct Fixture {
    pub log: MissionLog,
    pub state: MissionState,
    pub strips: Vec<Strip>,
}

struct B {
    log: MissionLog,
    n: u128,
    seed: u128,
    author: Uuid,
    device: String,
    seq: u64,
    prev: Hash,
    hlc: u64,
    mission: MissionId,
    patient: PatientId,
}

impl B {
    fn id(&mut self) -> Uuid {
        self.n += 1;
        Uuid::from_u128((self.seed << 64) | self.n)
    }

    fn push(&mut self, wall_ms: i64, payload: Payload) {
        let id = EventId(self.id());
        self.seq += 1;
        self.hlc = next_hlc(self.hlc, wall_ms);
        let ev = Event {
            id,
            mission: self.mission,
            patient: payload.patient(),
            author: self.author,
            device: self.device.clone(),
            seq: self.seq,
            prev: self.prev,
            wall_ms,
            mono_ns: self.seq * 1_000,
            hlc: self.hlc,
            payload,
        };
        self.prev = ev.hash();
        // Built to extend the chain; an error here is a bug in this file.
        let _ = self.log.insert(ev);
    }

    fn set(&mut self, at: i64, t: Target, f: &str, v: Value) {
        self.push(
            at,
            Payload::Set {
                target: t,
                field: f.into(),
                value: v,
            },
        );
    }

    fn pset(&mut self, at: i64, f: &str, v: Value) {
        let p = Target::Patient(self.patient);
        self.set(at, p, f, v);
    }

    fn entry(&mut self, at: i64, c: Collection, fields: &[(&str, Value)]) {
        let entry = EntryId(self.id());
        let fields: BTreeMap<String, Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        self.push(
            at,
            Payload::EntryAdded {
                patient: self.patient,
                collection: c,
                entry,
                fields,
            },
        );
    }
}

fn tm(at: i64) -> Value {
    Value::manual_time(at)
}
fn disp(at: i64, status: Option<u8>) -> Value {
    Value::Time(TimeValue {
        at_ms: at,
        source: TimeSource::Dispatch { status },
    })
}
fn dev_t(at: i64) -> Value {
    Value::Time(TimeValue {
        at_ms: at,
        source: TimeSource::Device {
            device: "corpuls3 SN 4711".into(),
        },
    })
}
fn m(v: i64) -> Value {
    Value::Measured(Measured::device(Num::int(v), "corpuls3 SN 4711"))
}
fn mn(v: Num) -> Value {
    Value::Measured(Measured::manual(v))
}
fn txt(s: &str) -> Value {
    Value::text(s)
}
fn code(s: &str) -> Value {
    Value::code(s)
}

fn start(seed: u128, call_sign: &str) -> B {
    let mut b = B {
        log: MissionLog::new(MissionId(Uuid::from_u128((seed << 64) | 0xAAAA))),
        n: 0,
        seed,
        author: Uuid::from_u128(0x1111),
        device: "PAD-0815".into(),
        seq: 0,
        prev: Hash::ZERO,
        hlc: 0,
        mission: MissionId(Uuid::from_u128((seed << 64) | 0xAAAA)),
        patient: PatientId(Uuid::from_u128((seed << 64) | 0xBBBB)),
    };
    b.push(
        T0,
        Payload::MissionOpened {
            call_sign: call_sign.into(),
        },
    );
    b.push(
        T0,
        Payload::CrewJoined {
            crew: vec![
                CrewRef {
                    id: Uuid::from_u128(0x1111),
                    name: "Jörg Weiß".into(),
                    personnel_no: "4711".into(),
                    qualification: "07".into(),
                    call_sign: call_sign.into(),
                },
                CrewRef {
                    id: Uuid::from_u128(0x2222),
                    name: "Anna Müller".into(),
                    personnel_no: "0815".into(),
                    qualification: "05".into(),
                    call_sign: call_sign.into(),
                },
            ],
        },
    );
    let mt = Target::Mission;
    b.set(T0, mt.clone(), "mission.number", txt("2026-112233"));
    b.set(
        T0,
        mt.clone(),
        "mission.dispatch_center",
        txt("ILS Musterstadt"),
    );
    b.set(T0, mt.clone(), "mission.unit_type", code("02"));
    b.set(T0, mt.clone(), "mission.type", code("01"));
    b.set(T0, mt.clone(), "mission.scene_type", code("01"));
    b.set(
        T0,
        mt.clone(),
        "mission.address.street",
        txt("Lindenstraße 12"),
    );
    b.set(T0, mt.clone(), "mission.address.postcode", txt("80331"));
    b.set(T0, mt.clone(), "mission.address.city", txt("München"));
    b.set(T0, mt.clone(), "time.alarm", disp(T0, None));
    b.set(
        T0 + MIN,
        mt.clone(),
        "time.departure",
        disp(T0 + MIN, Some(3)),
    );
    b.set(
        T0 + 8 * MIN,
        mt.clone(),
        "time.at_scene",
        disp(T0 + 8 * MIN, Some(4)),
    );
    b.set(T0 + 10 * MIN, mt, "time.patient_contact", tm(T0 + 10 * MIN));
    b.push(T0 + 10 * MIN, Payload::PatientAdded { patient: b.patient });
    b
}

fn patient(b: &mut B, family: &str, given: &str, year: u16, sex: &str) {
    let at = T0 + 11 * MIN;
    b.pset(at, "patient.family_name", txt(family));
    b.pset(at, "patient.given_name", txt(given));
    b.pset(
        at,
        "patient.birth_date",
        Value::Date(PartialDate {
            year,
            month: 3,
            day: 14,
        }),
    );
    b.pset(at, "patient.sex", code(sex));
    b.pset(at, "patient.address.street", txt("Lindenstraße 12"));
    b.pset(at, "patient.address.postcode", txt("80331"));
    b.pset(at, "patient.address.city", txt("München"));
    b.pset(at, "insurance.insurer_name", txt("AOK Bayern"));
    b.pset(at, "insurance.insurer_ik", txt("108310400"));
    b.pset(at, "insurance.number", txt("A123456789"));
    b.pset(at, "patient.weight_kg", Value::Num(Num::int(82)));
}

fn finish(b: B, strips: Vec<Strip>) -> Fixture {
    let state = MissionState::fold(b.log.mission(), b.log.events());
    Fixture {
        log: b.log,
        state,
        strips,
    }
}

/// ACS with ST elevation: full protocol, 60 min of vitals, handover and a
/// correction after it.
pub fn standard() -> Fixture {
    let mut b = start(1, "RTW 1/83-1");
    patient(&mut b, "Schäfer", "Günther", 1958, "M");
    let at = T0 + 12 * MIN;
    b.pset(at, "history.event", txt("Seit 40 min drückender Thoraxschmerz mit Ausstrahlung in den linken Arm, kaltschweißig. Beschwerden in Ruhe begonnen."));
    b.pset(at, "history.symptom_onset", tm(T0 - 30 * MIN));
    b.pset(
        at,
        "history.previous_illnesses",
        txt("arterielle Hypertonie, Diabetes mellitus Typ 2, Nikotinabusus"),
    );
    b.pset(
        at,
        "history.home_medication",
        txt("Metformin 1000 mg 1-0-1, Ramipril 5 mg 1-0-0"),
    );
    b.pset(at, "history.allergies", txt("keine bekannt"));
    b.entry(
        at,
        Collection::Finding,
        &[
            ("finding.at", tm(at)),
            ("finding.gcs_eyes", code("4")),
            ("finding.gcs_verbal", code("5")),
            ("finding.gcs_motor", code("6")),
            ("finding.pain_nrs", Value::Int(7)),
            ("finding.pupil_left_size", code("02")),
            ("finding.pupil_right_size", code("02")),
            ("finding.pupil_left_reaction", code("01")),
            ("finding.pupil_right_reaction", code("01")),
            ("finding.airway", code("01")),
            ("finding.skin", Value::Codes(vec!["02".into(), "03".into()])),
        ],
    );
    for i in 0..13i64 {
        let t = T0 + 12 * MIN + i * 5 * MIN;
        let hr = 104 - i * 2 + (i % 3);
        let sys = 162 - i * 3;
        b.entry(
            t,
            Collection::Vitals,
            &[
                ("vitals.at", dev_t(t)),
                ("vitals.hr", m(hr)),
                ("vitals.bp_sys", m(sys)),
                ("vitals.bp_dia", m(95 - i)),
                ("vitals.spo2", m(93 + (i / 3).min(5))),
                ("vitals.rr", mn(Num::int(20 - i / 4))),
            ],
        );
        if i == 0 {
            b.entry(
                t,
                Collection::Vitals,
                &[
                    ("vitals.at", tm(t + 30_000)),
                    ("vitals.glucose", mn(Num::int(182))),
                    ("vitals.temp", mn(Num::new(36, 800))),
                ],
            );
        }
    }
    let e = T0 + 15 * MIN;
    b.entry(
        e,
        Collection::Ecg,
        &[
            ("ecg.at", tm(e)),
            ("ecg.rhythm", code("01")),
            ("ecg.twelve_lead", Value::Bool(true)),
            ("ecg.stemi", Value::Bool(true)),
            (
                "ecg.note",
                txt("ST-Hebungen II, III, aVF; Senkungen I, aVL"),
            ),
        ],
    );
    let meas = |b: &mut B, at: i64, k: &str, detail: &str, who: &str| {
        b.entry(
            at,
            Collection::Measure,
            &[
                ("measure.at", tm(at)),
                ("measure.kind", code(k)),
                ("measure.detail", txt(detail)),
                ("measure.performer", txt(who)),
                ("measure.result", code("01")),
            ],
        );
    };
    meas(
        &mut b,
        T0 + 14 * MIN,
        "01",
        "20 G, Handrücken links",
        "J. Weiß",
    );
    meas(
        &mut b,
        T0 + 15 * MIN,
        "17",
        "STEMI inferior, übertragen",
        "A. Müller",
    );
    let med = |b: &mut B, at: i64, s: &str, dose: Num, unit: &str, route: &str, reason: &str| {
        b.entry(
            at,
            Collection::Medication,
            &[
                ("med.at", tm(at)),
                ("med.substance", txt(s)),
                ("med.dose", Value::Num(dose)),
                ("med.unit", code(unit)),
                ("med.route", code(route)),
                ("med.reason", txt(reason)),
                ("med.given_by", txt("J. Weiß")),
                ("med.ordered_by", code("02")),
            ],
        );
    };
    med(
        &mut b,
        T0 + 16 * MIN,
        "Acetylsalicylsäure",
        Num::int(250),
        "mg",
        "iv",
        "ACS",
    );
    med(
        &mut b,
        T0 + 17 * MIN,
        "Heparin",
        Num::int(5000),
        "IE",
        "iv",
        "ACS",
    );
    med(
        &mut b,
        T0 + 18 * MIN,
        "Morphin",
        Num::int(3),
        "mg",
        "iv",
        "Schmerz NRS 7",
    );
    b.entry(
        T0 + 20 * MIN,
        Collection::Diagnosis,
        &[
            ("diagnosis.text", txt("Akuter Hinterwandinfarkt (STEMI)")),
            ("diagnosis.icd10", txt("I21.1")),
            ("diagnosis.group", code("02")),
            ("diagnosis.kind", code("02")),
        ],
    );
    let h = T0 + 25 * MIN;
    b.pset(h, "naca.score", code("4"));
    b.pset(h, "transport.done", Value::Bool(true));
    b.pset(h, "transport.emergency_lights", Value::Bool(true));
    b.pset(h, "transport.positioning", txt("Oberkörper hoch"));
    b.pset(
        h,
        "transport.hospital",
        txt("Klinikum Großhadern, Herzkatheterlabor"),
    );
    b.pset(h, "transport.pzc", txt("321-76-1"));
    b.pset(h, "transport.prenotified_at", tm(h));
    b.set(
        h + 2 * MIN,
        Target::Mission,
        "time.left_scene",
        disp(h + 2 * MIN, Some(7)),
    );
    let a = T0 + 52 * MIN;
    b.set(a, Target::Mission, "time.at_destination", disp(a, Some(8)));
    b.pset(a + 3 * MIN, "handover.to", txt("Dr. Özdemir, HKL"));
    b.pset(a + 3 * MIN, "handover.condition", code("01"));
    b.pset(a + 3 * MIN, "outcome.result", code("02"));
    b.set(
        a + 3 * MIN,
        Target::Mission,
        "time.handover",
        tm(a + 3 * MIN),
    );
    b.set(
        a + 3 * MIN,
        Target::Mission,
        "remarks.text",
        txt("Angehörige (Ehefrau) informiert, fährt selbst in die Klinik."),
    );
    b.push(
        a + 4 * MIN,
        Payload::HandedOver {
            mode: HandoverMode::Printed,
            to: "HKL-Drucker Großhadern".into(),
            document_sha256: None,
        },
    );
    // A correction after the handover: audited.
    b.pset(a + 6 * MIN, "naca.score", code("5"));
    let strips = vec![twelve_lead(T0 + 15 * MIN, 96, true, "12-Kanal-EKG (STEMI)")];
    finish(b, strips)
}

/// Cardiac arrest: shocks, CPR, adrenaline and amiodarone, two 12-leads
/// and rhythm strips.
pub fn resuscitation() -> Fixture {
    let mut b = start(2, "RTW 2/83-1");
    patient(&mut b, "Köhler", "Brigitte", 1949, "W");
    let at = T0 + 10 * MIN;
    b.pset(
        at,
        "history.event",
        txt("Beobachteter Kollaps beim Frühstück, Ehemann beginnt Laienreanimation."),
    );
    b.pset(at, "history.arrest", Value::Bool(true));
    b.pset(at, "history.collapse_time", tm(T0 - 2 * MIN));
    b.pset(at, "history.bystander_cpr", code("01"));
    b.pset(at, "history.cpr_start", tm(at));
    b.entry(
        at,
        Collection::Finding,
        &[
            ("finding.at", tm(at)),
            ("finding.gcs_eyes", code("1")),
            ("finding.gcs_verbal", code("1")),
            ("finding.gcs_motor", code("1")),
            ("finding.pupil_left_size", code("03")),
            ("finding.pupil_right_size", code("03")),
            ("finding.pupil_left_reaction", code("03")),
            ("finding.pupil_right_reaction", code("03")),
        ],
    );
    b.entry(
        at,
        Collection::Ecg,
        &[("ecg.at", tm(at)), ("ecg.rhythm", code("10"))],
    );
    for (k, j) in [(1i64, 150i64), (3, 200), (5, 200)] {
        let t = at + k * 2 * MIN;
        b.entry(
            t,
            Collection::Measure,
            &[
                ("measure.at", dev_t(t)),
                ("measure.kind", code("14")),
                ("measure.energy_j", Value::Int(j)),
                ("measure.performer", txt("J. Weiß")),
            ],
        );
    }
    b.entry(
        at + MIN,
        Collection::Measure,
        &[
            ("measure.at", tm(at + MIN)),
            ("measure.kind", code("13")),
            (
                "measure.detail",
                txt("Thoraxkompressionen, Beutel-Masken-Beatmung 30:2"),
            ),
            ("measure.performer", txt("A. Müller")),
        ],
    );
    for (k, s, d, u) in [
        (4i64, "Adrenalin", Num::int(1), "mg"),
        (6, "Amiodaron", Num::int(300), "mg"),
        (8, "Adrenalin", Num::int(1), "mg"),
    ] {
        let t = at + k * 2 * MIN;
        b.entry(
            t,
            Collection::Medication,
            &[
                ("med.at", tm(t)),
                ("med.substance", txt(s)),
                ("med.dose", Value::Num(d)),
                ("med.unit", code(u)),
                ("med.route", code("io")),
                ("med.given_by", txt("A. Müller")),
            ],
        );
    }
    let rosc = at + 19 * MIN;
    b.pset(rosc, "history.rosc", tm(rosc));
    for i in 0..6i64 {
        let t = rosc + i * 5 * MIN;
        b.entry(
            t,
            Collection::Vitals,
            &[
                ("vitals.at", dev_t(t)),
                ("vitals.hr", m(118 - i * 3)),
                ("vitals.bp_sys", m(88 + i * 4)),
                ("vitals.bp_dia", m(52 + i * 2)),
                ("vitals.spo2", m(90 + i)),
                ("vitals.etco2", m(32 + i)),
            ],
        );
    }
    b.entry(
        rosc + 2 * MIN,
        Collection::Ecg,
        &[
            ("ecg.at", tm(rosc + 2 * MIN)),
            ("ecg.rhythm", code("01")),
            ("ecg.twelve_lead", Value::Bool(true)),
            ("ecg.stemi", Value::Bool(true)),
        ],
    );
    b.entry(
        rosc,
        Collection::Diagnosis,
        &[
            (
                "diagnosis.text",
                txt("Herz-Kreislauf-Stillstand, Kammerflimmern, ROSC"),
            ),
            ("diagnosis.icd10", txt("I46.0")),
        ],
    );
    b.pset(rosc, "naca.score", code("6"));
    b.pset(rosc + 10 * MIN, "outcome.result", code("03"));
    b.pset(
        rosc + 10 * MIN,
        "transport.hospital",
        txt("Klinikum rechts der Isar, Schockraum"),
    );
    let strips = vec![
        vf_rhythm(at + 30_000, "Rhythmus vor Schock 1 (Kammerflimmern)"),
        vf_rhythm(at + 2 * MIN - 10_000, "Schock 1 (150 J)"),
        twelve_lead(rosc + 2 * MIN, 118, true, "12-Kanal-EKG nach ROSC"),
        twelve_lead(rosc + 12 * MIN, 106, false, "12-Kanal-EKG Verlauf"),
    ];
    finish(b, strips)
}

const RATE: u32 = 500;

fn gauss(t: f64, mu: f64, sigma: f64, a: f64) -> f64 {
    a * (-((t - mu) * (t - mu)) / (2.0 * sigma * sigma)).exp()
}

/// One beat in mV at `t` seconds after its start (P, QRS, T; ST offset).
fn beat(t: f64, gain: [f64; 3], st: f64) -> f64 {
    gauss(t, 0.10, 0.020, 0.15 * gain[0])
        + gauss(t, 0.20, 0.008, -0.12 * gain[1])
        + gauss(t, 0.22, 0.010, 1.2 * gain[1])
        + gauss(t, 0.245, 0.010, -0.25 * gain[1])
        + if (0.26..0.40).contains(&t) { st } else { 0.0 }
        + gauss(t, 0.42, 0.040, 0.30 * gain[2] + st * 0.8)
}

fn twelve_lead(start_ms: i64, hr: u32, stemi: bool, label: &str) -> Strip {
    let leads: [(&str, [f64; 3], f64); 12] = [
        ("I", [1.0, 0.7, 0.8], -0.1),
        ("II", [1.0, 1.0, 1.0], 0.25),
        ("III", [0.6, 0.6, 0.7], 0.3),
        ("aVR", [-0.8, -0.8, -0.8], 0.0),
        ("aVL", [0.5, 0.3, 0.3], -0.15),
        ("aVF", [0.8, 0.8, 0.8], 0.25),
        ("V1", [0.3, -0.6, -0.2], 0.0),
        ("V2", [0.4, -0.3, 0.6], 0.0),
        ("V3", [0.4, 0.5, 0.8], 0.0),
        ("V4", [0.4, 1.1, 0.8], 0.0),
        ("V5", [0.4, 1.0, 0.6], 0.0),
        ("V6", [0.4, 0.8, 0.5], 0.0),
    ];
    let n = (RATE * 10) as usize;
    let period = 60.0 / f64::from(hr);
    let leads = leads
        .iter()
        .map(|(name, g, st)| {
            let st = if stemi { *st } else { 0.0 };
            let samples = (0..n)
                .map(|i| {
                    let t = i as f64 / f64::from(RATE);
                    let mv = beat(t % period, *g, st) + 0.02 * (t * 2.0).sin();
                    (mv * 400.0).round() as i16 // 2.5 µV per LSB
                })
                .collect();
            Lead {
                name: (*name).into(),
                samples,
            }
        })
        .collect();
    Strip {
        kind: StripKind::TwelveLead,
        start_ms,
        sample_rate_hz: RATE,
        uv_per_lsb: 2.5,
        leads,
        device: "corpuls3 SN 4711".into(),
        label: label.into(),
    }
}

fn vf_rhythm(start_ms: i64, label: &str) -> Strip {
    let n = (RATE * 12) as usize;
    let samples = (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(RATE);
            let env = 0.35 + 0.2 * (t * 0.9).sin();
            let mv = env
                * ((t * 5.3 * std::f64::consts::TAU).sin()
                    + 0.5 * (t * 7.9 * std::f64::consts::TAU + 1.0).sin());
            (mv * 400.0).round() as i16
        })
        .collect();
    Strip {
        kind: StripKind::Rhythm,
        start_ms,
        sample_rate_hz: RATE,
        uv_per_lsb: 2.5,
        leads: vec![Lead {
            name: "II".into(),
            samples,
        }],
        device: "corpuls3 SN 4711".into(),
        label: label.into(),
    }
}
