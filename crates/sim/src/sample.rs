//! Deterministic sample missions for the demo, tests and benchmarks.
//!
//! Same seed, same bytes: ids are UUIDv7 built from the event time and a
//! counter, times are fixed, waveforms are computed. The PDF, the export and
//! the handover tests rely on that to compare bytes and hashes.
//!
//! - [`standard`]: chest pain → STEMI, one patient, a full DIVI/MIND protocol,
//!   vitals every 5 minutes for an hour, a 12-lead ECG, transport to the
//!   cath lab.
//! - [`resuscitation`]: witnessed cardiac arrest, VF, three shocks, CPR,
//!   airway, drugs, ROSC, two 12-lead ECGs and rhythm strips; the emergency
//!   doctor documents on a second pad (NEF), merged into the RTW's log.

use rettpad_record::keys;
use rettpad_record::log::Author;
use rettpad_record::wave::{Lead, Strip, StripKind};
use rettpad_record::{
    Collection, CrewRef, EntryId, Event, EventId, Measured, MissionId, MissionLog, MissionState,
    Num, PartialDate, PatientId, Payload, Target, TimeSource, TimeValue, Value,
};
use std::collections::BTreeMap;
use uuid::Uuid;

/// 2026-03-14 08:00 Europe/Berlin.
const STANDARD_T0: i64 = 1_773_471_600_000;
/// 2026-05-02 18:30 Europe/Berlin.
const RESUS_T0: i64 = 1_777_739_400_000;
const MIN: i64 = 60_000;

pub const RTW_PAD: &str = "PAD-RTW-0001";
pub const NEF_PAD: &str = "PAD-NEF-0002";
pub const RTW_CALL_SIGN: &str = "RTW 3/83-1";
pub const NEF_CALL_SIGN: &str = "NEF 3/82-1";
pub const MONITOR: &str = "corpuls3 SN 4711";

/// A sample mission: its events in log order and the ECG strips they name.
#[derive(Debug, Clone)]
pub struct Sample {
    pub events: Vec<Event>,
    pub strips: Vec<Strip>,
}

impl Sample {
    pub fn mission(&self) -> MissionId {
        self.events
            .first()
            .map_or(MissionId(Uuid::nil()), |e| e.mission)
    }

    pub fn log(&self) -> MissionLog {
        let mut log = MissionLog::new(self.mission());
        // The events were built by a MissionLog, so they always fit.
        let _ = log.merge_from(&self.events);
        log
    }

    pub fn state(&self) -> MissionState {
        MissionState::fold(self.mission(), self.log().events())
    }

    /// The patients in the order they were added.
    pub fn patients(&self) -> Vec<PatientId> {
        self.state().patients.iter().map(|p| p.id).collect()
    }
}

pub fn standard() -> Sample {
    standard_at(0)
}

pub fn resuscitation() -> Sample {
    resuscitation_at(0)
}

/// Deterministic ids: UUIDv7 with the event's time and a seeded counter.
struct Ids {
    seed: u64,
    n: u64,
}

impl Ids {
    fn next(&mut self, at_ms: i64) -> Uuid {
        self.n += 1;
        let mut r = [0u8; 10];
        r[..8].copy_from_slice(&self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
        r[8..].copy_from_slice(&(self.n as u16).to_be_bytes());
        uuid::Builder::from_unix_timestamp_millis(at_ms.max(0) as u64, &r).into_uuid()
    }
}

struct Gen {
    ids: Ids,
    log: MissionLog,
    state: MissionState,
    events: Vec<Event>,
    strips: Vec<Strip>,
}

impl Gen {
    fn new(seed: u64, t0: i64) -> Gen {
        let mut ids = Ids { seed, n: 0 };
        let mission = MissionId(ids.next(t0));
        Gen {
            ids,
            log: MissionLog::new(mission),
            state: MissionState::new(mission),
            events: Vec::new(),
            strips: Vec::new(),
        }
    }

    fn id(&mut self, at: i64) -> Uuid {
        self.ids.next(at)
    }

    fn push(&mut self, who: &Author, at: i64, payload: Payload) {
        if let Err(e) = self.state.precheck(&payload) {
            // The samples are ours; a refused edit is a bug in this file.
            panic!("sample event refused: {e:?} for {}", payload.kind_name());
        }
        let mut ev = self
            .log
            .prepare(who, at, u64::try_from(at).unwrap_or(0) * 1_000_000, payload);
        ev.id = EventId(self.id(at));
        if let Err(e) = self.log.insert(ev.clone()) {
            panic!("sample event not inserted: {e}");
        }
        self.state.apply(&ev);
        self.events.push(ev);
    }

    fn set(&mut self, who: &Author, at: i64, target: Target, field: &str, value: Value) {
        self.push(
            who,
            at,
            Payload::Set {
                target,
                field: field.into(),
                value,
            },
        );
    }

    fn entry(
        &mut self,
        who: &Author,
        at: i64,
        patient: PatientId,
        collection: Collection,
        fields: Vec<(&str, Value)>,
    ) -> EntryId {
        let entry = EntryId(self.id(at));
        let fields: BTreeMap<String, Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        self.push(
            who,
            at,
            Payload::EntryAdded {
                patient,
                collection,
                entry,
                fields,
            },
        );
        entry
    }

    fn strip(&mut self, who: &Author, patient: PatientId, strip: Strip) {
        self.push(
            who,
            strip.start_ms,
            Payload::StripRecorded {
                patient,
                strip: strip.to_ref(),
            },
        );
        self.strips.push(strip);
    }

    fn finish(self) -> Sample {
        Sample {
            events: self.events,
            strips: self.strips,
        }
    }
}

fn crew(ids: &mut Ids, at: i64, name: &str, no: &str, qual: &str, call_sign: &str) -> CrewRef {
    CrewRef {
        id: ids.next(at),
        name: name.into(),
        personnel_no: no.into(),
        qualification: qual.into(),
        call_sign: call_sign.into(),
    }
}

fn time(at_ms: i64, source: TimeSource) -> Value {
    Value::Time(TimeValue { at_ms, source })
}

fn manual(at_ms: i64) -> Value {
    time(at_ms, TimeSource::Manual)
}

fn dispatch(at_ms: i64, status: u8) -> Value {
    time(
        at_ms,
        TimeSource::Dispatch {
            status: Some(status),
        },
    )
}

fn dev(v: i64) -> Value {
    Value::Measured(Measured::device(Num(v * 1000), MONITOR))
}

fn dev_tenths(v: i64) -> Value {
    Value::Measured(Measured::device(Num(v * 100), MONITOR))
}

fn code(c: &str) -> Value {
    Value::code(c)
}

fn text(s: &str) -> Value {
    Value::text(s)
}

fn codes(c: &[&str]) -> Value {
    Value::Codes(c.iter().map(|s| s.to_string()).collect())
}

/// Mission-level data both samples share in shape.
#[allow(clippy::too_many_arguments)]
fn mission_header(
    g: &mut Gen,
    who: &Author,
    t0: i64,
    number: &str,
    keyword: &str,
    street: &str,
    end_min: i64,
    times: &[(&str, i64, u8)],
) {
    let m = Target::Mission;
    for (f, v) in [
        (keys::mission::NUMBER, text(number)),
        (keys::mission::DISPATCH_CENTER, text("ILS Musterstadt")),
        (keys::mission::CALL_SIGN, text(RTW_CALL_SIGN)),
        (
            keys::mission::STATION,
            text("Rettungswache 3 Musterstadt-Nord"),
        ),
        (keys::mission::UNIT_TYPE, code("02")),
        (keys::mission::TYPE, code("01")),
        (keys::mission::KEYWORD, text(keyword)),
        (keys::mission::SCENE_TYPE, code("01")),
        (keys::mission::ADDRESS_STREET, text(street)),
        (keys::mission::ADDRESS_POSTCODE, text("12345")),
        (keys::mission::ADDRESS_CITY, text("Musterstadt")),
    ] {
        g.set(who, t0 + MIN, m.clone(), f, v);
    }
    for &(field, min, status) in times {
        g.set(
            who,
            t0 + min * MIN,
            m.clone(),
            field,
            dispatch(t0 + min * MIN, status),
        );
    }
    g.set(
        who,
        t0 + end_min * MIN,
        m,
        keys::time::END,
        manual(t0 + end_min * MIN),
    );
}

/// Chest pain → anterior STEMI, transported to the cath lab.
pub fn standard_at(seed: u64) -> Sample {
    let t0 = STANDARD_T0 + seed as i64 * 86_400_000;
    let mut g = Gen::new(seed, t0);
    let anna = crew(&mut g.ids, t0, "Anna Berger", "4711", "07", RTW_CALL_SIGN);
    let jonas = crew(&mut g.ids, t0, "Jonas Keller", "4712", "05", RTW_CALL_SIGN);
    let a = Author {
        device: RTW_PAD.into(),
        crew_member: anna.id,
    };
    let j = Author {
        device: RTW_PAD.into(),
        crew_member: jonas.id,
    };
    g.push(
        &a,
        t0,
        Payload::MissionOpened {
            call_sign: RTW_CALL_SIGN.into(),
        },
    );
    g.push(
        &a,
        t0,
        Payload::CrewJoined {
            crew: vec![anna, jonas],
        },
    );
    mission_header(
        &mut g,
        &a,
        t0,
        "2026-0314-00123",
        "RD 2 – Brustschmerz",
        "Lindenallee 12",
        75,
        &[
            (keys::time::ALARM, 0, 2),
            (keys::time::DEPARTURE, 1, 3),
            (keys::time::AT_SCENE, 9, 4),
            (keys::time::PATIENT_CONTACT, 10, 4),
            (keys::time::LEFT_SCENE, 35, 7),
            (keys::time::AT_DESTINATION, 52, 8),
            (keys::time::HANDOVER, 55, 8),
            (keys::time::AVAILABLE, 70, 1),
        ],
    );
    let p = PatientId(g.id(t0 + 10 * MIN));
    g.push(&a, t0 + 10 * MIN, Payload::PatientAdded { patient: p });
    let pt = Target::Patient(p);
    let at = t0 + 12 * MIN;
    for (f, v) in [
        (keys::patient::FAMILY_NAME, text("Müller")),
        (keys::patient::GIVEN_NAME, text("Jürgen")),
        (
            keys::patient::BIRTH_DATE,
            Value::Date(PartialDate {
                year: 1958,
                month: 7,
                day: 3,
            }),
        ),
        (keys::patient::SEX, code("M")),
        (keys::patient::ADDRESS_STREET, text("Lindenallee 12")),
        (keys::patient::ADDRESS_POSTCODE, text("12345")),
        (keys::patient::ADDRESS_CITY, text("Musterstadt")),
        (keys::patient::ADDRESS_COUNTRY, text("D")),
        (keys::patient::ID_SOURCE, code("01")),
        (keys::patient::WEIGHT_KG, Value::Num(Num(92_000))),
        (keys::insurance::INSURER_NAME, text("AOK Nordost")),
        (keys::insurance::INSURER_IK, text("109519005")),
        (keys::insurance::NUMBER, text("A123456780")),
        (keys::insurance::TYPE, code("1")),
        (
            keys::insurance::VALID_UNTIL,
            Value::Date(PartialDate {
                year: 2029,
                month: 12,
                day: 31,
            }),
        ),
    ] {
        g.set(&j, at, pt.clone(), f, v);
    }
    for (f, v) in [
        (
            keys::history::EVENT,
            text(
                "Seit ca. 40 min drückender retrosternaler Schmerz mit Ausstrahlung in den \
                 linken Arm, Übelkeit, Kaltschweißigkeit. Beim Frühstück begonnen.",
            ),
        ),
        (keys::history::SYMPTOM_ONSET, manual(t0 - 40 * MIN)),
        (
            keys::history::PREVIOUS_ILLNESSES,
            text("arterielle Hypertonie, Diabetes mellitus Typ 2, Nikotinabusus"),
        ),
        (
            keys::history::HOME_MEDICATION,
            text("Ramipril 5 mg 1-0-0, Metformin 1000 mg 1-0-1"),
        ),
        (keys::history::ALLERGIES, text("keine bekannt")),
    ] {
        g.set(&a, t0 + 11 * MIN, pt.clone(), f, v);
    }
    g.entry(
        &a,
        t0 + 11 * MIN,
        p,
        Collection::Finding,
        vec![
            (keys::finding::AT, manual(t0 + 11 * MIN)),
            (keys::finding::GCS_EYES, code("4")),
            (keys::finding::GCS_VERBAL, code("5")),
            (keys::finding::GCS_MOTOR, code("6")),
            (keys::finding::PAIN_NRS, Value::Int(7)),
            (keys::finding::PUPIL_LEFT_SIZE, code("02")),
            (keys::finding::PUPIL_LEFT_REACTION, code("01")),
            (keys::finding::PUPIL_RIGHT_SIZE, code("02")),
            (keys::finding::PUPIL_RIGHT_REACTION, code("01")),
            (keys::finding::BREATHING, codes(&["01"])),
            (keys::finding::SKIN, codes(&["02", "03"])),
        ],
    );
    // Vitals from the monitor every 5 min, one hour.
    for k in 0..13i64 {
        let at = t0 + (11 + 5 * k) * MIN;
        let hr = 96 - (k * 3).min(20) + (k % 3);
        let sys = 165 - (k * 4).min(30);
        let dia = 95 - (k * 2).min(15);
        let spo2 = 94 + (k / 3).min(4);
        let mut f = vec![
            (
                keys::vitals::AT,
                time(
                    at,
                    TimeSource::Device {
                        device: MONITOR.into(),
                    },
                ),
            ),
            (keys::vitals::HR, dev(hr)),
            (keys::vitals::BP_SYS, dev(sys)),
            (keys::vitals::BP_DIA, dev(dia)),
            (keys::vitals::SPO2, dev(spo2)),
            (keys::vitals::RR, dev(18 - (k / 4))),
        ];
        if k == 0 {
            f.push((
                keys::vitals::GLUCOSE,
                Value::Measured(Measured::manual(Num(142_000))),
            ));
            f.push((keys::vitals::TEMP, dev_tenths(366)));
        }
        g.entry(&j, at, p, Collection::Vitals, f);
    }
    let ecg_at = t0 + 14 * MIN;
    g.entry(
        &a,
        ecg_at,
        p,
        Collection::Ecg,
        vec![
            (keys::ecg::AT, manual(ecg_at)),
            (keys::ecg::RHYTHM, code("01")),
            (keys::ecg::TWELVE_LEAD, Value::Bool(true)),
            (keys::ecg::STEMI, Value::Bool(true)),
            (keys::ecg::STEMI_SITE, codes(&["01"])),
            (
                keys::ecg::NOTE,
                text("ST-Hebungen V1–V4 bis 3 mm, spiegelbildliche Senkungen II, III, aVF"),
            ),
        ],
    );
    let strip = twelve_lead(ecg_at, 88, Morph::AnteriorStemi, "12-Kanal-EKG");
    g.strip(&a, p, strip);
    g.entry(
        &a,
        t0 + 15 * MIN,
        p,
        Collection::Diagnosis,
        vec![
            (keys::diagnosis::GROUP, code("02")),
            (
                keys::diagnosis::TEXT,
                text("akuter Vorderwandinfarkt (STEMI)"),
            ),
            (keys::diagnosis::ICD10, text("I21.0")),
            (keys::diagnosis::KIND, code("02")),
            (keys::diagnosis::TRACER, code("01")),
        ],
    );
    g.set(&a, t0 + 15 * MIN, pt.clone(), keys::naca::SCORE, code("4"));
    for (min, kind, detail, who) in [
        (14, "17", "Übermittlung an Herzkatheterlabor", &a),
        (16, "01", "20 G, Handrücken links", &j),
        (30, "25", "Oberkörper hoch", &j),
    ] {
        g.entry(
            who,
            t0 + min * MIN,
            p,
            Collection::Measure,
            vec![
                (keys::measure::KIND, code(kind)),
                (keys::measure::AT, manual(t0 + min * MIN)),
                (keys::measure::DETAIL, text(detail)),
                (keys::measure::RESULT, code("01")),
            ],
        );
    }
    for (min, substance, dose, unit, controlled) in [
        (18, "Acetylsalicylsäure", 250_000, "mg", false),
        (18, "Heparin", 5_000_000, "IE", false),
        (20, "Morphin", 3_000, "mg", true),
        (25, "Metoclopramid", 10_000, "mg", false),
    ] {
        let mut f = vec![
            (keys::med::SUBSTANCE, text(substance)),
            (keys::med::DOSE, Value::Num(Num(dose))),
            (keys::med::UNIT, code(unit)),
            (keys::med::ROUTE, code("iv")),
            (keys::med::AT, manual(t0 + min * MIN)),
            (keys::med::GIVEN_BY, text("Anna Berger")),
            (keys::med::ORDERED_BY, code("02")),
        ];
        if controlled {
            f.push((keys::med::CONTROLLED, Value::Bool(true)));
            f.push((keys::med::BATCH, text("MO2419")));
        }
        g.entry(&a, t0 + min * MIN, p, Collection::Medication, f);
    }
    for (f, v) in [
        (keys::transport::DONE, Value::Bool(true)),
        (keys::transport::WITH_DOCTOR, Value::Bool(false)),
        (keys::transport::EMERGENCY_LIGHTS, Value::Bool(true)),
        (keys::transport::POSITIONING, text("Oberkörperhochlagerung")),
        (keys::transport::HOSPITAL, text("Klinikum Musterstadt")),
        (keys::transport::HOSPITAL_ID, text("KLINIKUM-MS")),
        (keys::transport::DEPARTMENT, code("04")),
        (keys::transport::PRENOTIFIED_AT, manual(t0 + 33 * MIN)),
        (keys::handover::TO, text("Dr. Schmidt, Kardiologie")),
        (keys::handover::CONDITION, code("01")),
        (keys::outcome::RESULT, code("02")),
    ] {
        g.set(&a, t0 + 55 * MIN, pt.clone(), f, v);
    }
    g.set(
        &a,
        t0 + 56 * MIN,
        Target::Mission,
        keys::remarks::TEXT,
        text("Patient bei Übergabe schmerzfrei (NRS 2). Brille und Geldbörse beim Patienten."),
    );
    g.finish()
}

/// Witnessed arrest, VF, three shocks, ROSC; doctor documents on the NEF pad.
pub fn resuscitation_at(seed: u64) -> Sample {
    let t0 = RESUS_T0 + seed as i64 * 86_400_000;
    let mut g = Gen::new(seed.wrapping_add(1 << 32), t0);
    let anna = crew(&mut g.ids, t0, "Anna Berger", "4711", "07", RTW_CALL_SIGN);
    let jonas = crew(&mut g.ids, t0, "Jonas Keller", "4712", "05", RTW_CALL_SIGN);
    let lena = crew(
        &mut g.ids,
        t0,
        "Dr. med. Lena Vogt",
        "9031",
        "02",
        NEF_CALL_SIGN,
    );
    let a = Author {
        device: RTW_PAD.into(),
        crew_member: anna.id,
    };
    let j = Author {
        device: RTW_PAD.into(),
        crew_member: jonas.id,
    };
    let l = Author {
        device: NEF_PAD.into(),
        crew_member: lena.id,
    };
    g.push(
        &a,
        t0,
        Payload::MissionOpened {
            call_sign: RTW_CALL_SIGN.into(),
        },
    );
    g.push(
        &a,
        t0,
        Payload::CrewJoined {
            crew: vec![anna, jonas],
        },
    );
    mission_header(
        &mut g,
        &a,
        t0,
        "2026-0502-00877",
        "RD 3 – Person leblos",
        "Marktplatz 1",
        90,
        &[
            (keys::time::ALARM, 0, 2),
            (keys::time::DEPARTURE, 1, 3),
            (keys::time::AT_SCENE, 7, 4),
            (keys::time::PATIENT_CONTACT, 8, 4),
            (keys::time::LEFT_SCENE, 48, 7),
            (keys::time::AT_DESTINATION, 61, 8),
            (keys::time::HANDOVER, 64, 8),
            (keys::time::AVAILABLE, 85, 1),
        ],
    );
    g.set(
        &a,
        t0 + MIN,
        Target::Mission,
        keys::mission::DOCTOR_REQUESTED,
        Value::Bool(false),
    );
    let p = PatientId(g.id(t0 + 8 * MIN));
    g.push(&a, t0 + 8 * MIN, Payload::PatientAdded { patient: p });
    let pt = Target::Patient(p);
    g.push(&l, t0 + 11 * MIN, Payload::CrewJoined { crew: vec![lena] });
    for (f, v) in [
        (keys::patient::FAMILY_NAME, text("Schäfer")),
        (keys::patient::GIVEN_NAME, text("Gerda")),
        (
            keys::patient::BIRTH_DATE,
            Value::Date(PartialDate {
                year: 1959,
                month: 0,
                day: 0,
            }),
        ),
        (keys::patient::AGE_YEARS, Value::Int(67)),
        (keys::patient::SEX, code("W")),
        (keys::patient::ID_SOURCE, code("05")),
        (keys::history::ARREST, Value::Bool(true)),
        (keys::history::ARREST_WITNESSED, code("02")),
        (keys::history::COLLAPSE_TIME, manual(t0 - 4 * MIN)),
        (keys::history::BYSTANDER_CPR, code("01")),
        (keys::history::AED_USED, code("02")),
        (keys::history::CPR_START, manual(t0 + 8 * MIN)),
        (keys::history::ROSC, manual(t0 + 22 * MIN)),
        (
            keys::history::EVENT,
            text("Beim Einkaufen zusammengebrochen, Passant beginnt sofort Thoraxkompressionen."),
        ),
    ] {
        g.set(&j, t0 + 9 * MIN, pt.clone(), f, v);
    }
    g.entry(
        &a,
        t0 + 8 * MIN,
        p,
        Collection::Ecg,
        vec![
            (keys::ecg::AT, manual(t0 + 8 * MIN)),
            (keys::ecg::RHYTHM, code("10")),
        ],
    );
    // Shocks: VF before each, strip of the pads lead.
    for (k, (min, joules)) in [(9i64, 200i64), (11, 200), (13, 300)]
        .into_iter()
        .enumerate()
    {
        let at = t0 + min * MIN;
        g.strip(
            &a,
            p,
            rhythm_vf(
                at - 6_000,
                k as u64,
                &format!("Schock {} ({joules} J)", k + 1),
            ),
        );
        g.entry(
            &a,
            at,
            p,
            Collection::Measure,
            vec![
                (keys::measure::KIND, code("14")),
                (
                    keys::measure::AT,
                    time(
                        at,
                        TimeSource::Device {
                            device: MONITOR.into(),
                        },
                    ),
                ),
                (keys::measure::ENERGY_J, Value::Int(joules)),
                (
                    keys::measure::DETAIL,
                    text("biphasisch, Pads anterior-lateral"),
                ),
            ],
        );
    }
    for (min, kind, detail, who) in [
        (8, "13", "mechanisch ab Minute 12", &j),
        (10, "02", "EZ-IO Tibia rechts", &j),
        (14, "07", "Tubus 7,5, Cuff 24 mmHg, etCO₂ bestätigt", &l),
        (15, "11", "AF 10/min, AZV 450 ml, FiO₂ 1,0", &l),
    ] {
        g.entry(
            who,
            t0 + min * MIN,
            p,
            Collection::Measure,
            vec![
                (keys::measure::KIND, code(kind)),
                (keys::measure::AT, manual(t0 + min * MIN)),
                (keys::measure::DETAIL, text(detail)),
                (keys::measure::RESULT, code("01")),
            ],
        );
    }
    for (min, substance, dose, unit, route) in [
        (12, "Adrenalin", 1_000, "mg", "io"),
        (14, "Amiodaron", 300_000, "mg", "io"),
        (16, "Adrenalin", 1_000, "mg", "io"),
        (20, "Adrenalin", 1_000, "mg", "io"),
    ] {
        g.entry(
            &l,
            t0 + min * MIN,
            p,
            Collection::Medication,
            vec![
                (keys::med::SUBSTANCE, text(substance)),
                (keys::med::DOSE, Value::Num(Num(dose))),
                (keys::med::UNIT, code(unit)),
                (keys::med::ROUTE, code(route)),
                (keys::med::AT, manual(t0 + min * MIN)),
                (keys::med::GIVEN_BY, text("Dr. med. Lena Vogt")),
                (keys::med::ORDERED_BY, code("01")),
            ],
        );
    }
    // After ROSC: two 12-lead ECGs, vitals every 5 min.
    for (k, min) in [24i64, 40].into_iter().enumerate() {
        let at = t0 + min * MIN;
        g.entry(
            &l,
            at,
            p,
            Collection::Ecg,
            vec![
                (keys::ecg::AT, manual(at)),
                (keys::ecg::RHYTHM, code("13")),
                (keys::ecg::TWELVE_LEAD, Value::Bool(true)),
                (keys::ecg::STEMI, Value::Bool(true)),
                (keys::ecg::STEMI_SITE, codes(&["02"])),
            ],
        );
        let label = format!("12-Kanal-EKG {} nach ROSC", k + 1);
        g.strip(
            &l,
            p,
            twelve_lead(at, 112 - 8 * k as u32, Morph::InferiorStemi, &label),
        );
    }
    for k in 0..9i64 {
        let at = t0 + (23 + 5 * k) * MIN;
        g.entry(
            &j,
            at,
            p,
            Collection::Vitals,
            vec![
                (
                    keys::vitals::AT,
                    time(
                        at,
                        TimeSource::Device {
                            device: MONITOR.into(),
                        },
                    ),
                ),
                (keys::vitals::HR, dev(118 - 3 * k)),
                (keys::vitals::BP_SYS, dev(92 + 3 * k)),
                (keys::vitals::BP_DIA, dev(55 + k)),
                (keys::vitals::SPO2, dev(91 + (k / 2).min(6))),
                (keys::vitals::ETCO2, dev(32 + (k % 3))),
            ],
        );
    }
    g.entry(
        &l,
        t0 + 30 * MIN,
        p,
        Collection::Diagnosis,
        vec![
            (keys::diagnosis::GROUP, code("02")),
            (
                keys::diagnosis::TEXT,
                text("präklinische Reanimation bei Kammerflimmern, ROSC; V. a. Hinterwandinfarkt"),
            ),
            (keys::diagnosis::ICD10, text("I46.0")),
            (keys::diagnosis::KIND, code("02")),
            (keys::diagnosis::TRACER, code("05")),
        ],
    );
    g.set(&l, t0 + 30 * MIN, pt.clone(), keys::naca::SCORE, code("6"));
    for (f, v) in [
        (keys::transport::DONE, Value::Bool(true)),
        (keys::transport::WITH_DOCTOR, Value::Bool(true)),
        (keys::transport::EMERGENCY_LIGHTS, Value::Bool(true)),
        (keys::transport::HOSPITAL, text("Klinikum Musterstadt")),
        (keys::transport::HOSPITAL_ID, text("KLINIKUM-MS")),
        (keys::transport::DEPARTMENT, code("04")),
        (keys::transport::PRENOTIFIED_AT, manual(t0 + 42 * MIN)),
        (
            keys::handover::TO,
            text("Prof. Dr. Weiß, Herzkatheterlabor"),
        ),
        (keys::handover::CONDITION, code("01")),
        (keys::outcome::RESULT, code("03")),
    ] {
        g.set(&l, t0 + 64 * MIN, pt.clone(), f, v);
    }
    g.finish()
}

#[derive(Clone, Copy)]
enum Morph {
    AnteriorStemi,
    InferiorStemi,
}

const LEADS: [&str; 12] = [
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6",
];

/// A synthetic 10 s 12-lead at 500 Hz, 2.5 µV per unit. Integer-only
/// arithmetic on a fixed beat template, so the bytes are the same on every
/// machine.
fn twelve_lead(start_ms: i64, hr: u32, morph: Morph, label: &str) -> Strip {
    const RATE: u32 = 500;
    let n = (RATE * 10) as usize;
    let beat = (RATE * 60 / hr.max(30)) as usize;
    // Per lead: R amplitude, ST offset (µV).
    let st = |lead: usize| -> i32 {
        match (morph, lead) {
            (Morph::AnteriorStemi, 6..=9) => 250,
            (Morph::AnteriorStemi, 1 | 2 | 5) => -100,
            (Morph::InferiorStemi, 1 | 2 | 5) => 200,
            (Morph::InferiorStemi, 4 | 0) => -100,
            _ => 0,
        }
    };
    let r_amp = [
        900, 1200, 500, -700, 400, 800, -300, 300, 700, 1300, 1400, 1100,
    ];
    let leads = LEADS
        .iter()
        .enumerate()
        .map(|(li, name)| {
            let samples = (0..n)
                .map(|i| {
                    let uv = beat_uv(i % beat, r_amp[li], st(li));
                    (uv * 2 / 5) as i16 // µV → units of 2.5 µV
                })
                .collect();
            Lead {
                name: (*name).to_string(),
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
        device: MONITOR.into(),
        label: label.into(),
    }
}

/// One heart beat in µV at sample `i` (500 Hz): P, QRS, ST, T as triangles.
fn beat_uv(i: usize, r: i32, st: i32) -> i32 {
    let tri = |i: usize, at: usize, half: usize, amp: i32| -> i32 {
        let d = i.abs_diff(at);
        if d >= half {
            0
        } else {
            amp * (half - d) as i32 / half as i32
        }
    };
    let p = tri(i, 40, 20, r.signum() * 120);
    let q = tri(i, 88, 5, -r / 8);
    let rr = tri(i, 100, 12, r);
    let s = tri(i, 112, 6, -r / 4);
    let st_seg = if (115..190).contains(&i) { st } else { 0 };
    let t = tri(i, 200, 45, r.signum() * 250 + st / 2);
    p + q + rr + s + st_seg + t
}

/// 6 s of ventricular fibrillation on the pads lead before a shock.
fn rhythm_vf(start_ms: i64, seed: u64, label: &str) -> Strip {
    const RATE: u32 = 250;
    let n = (RATE * 6) as usize;
    // Three incommensurate triangle waves: irregular, 4–7 Hz, deterministic.
    let periods = [43 + seed as usize % 5, 59, 71];
    let samples = (0..n)
        .map(|i| {
            let mut uv = 0i32;
            for (k, &per) in periods.iter().enumerate() {
                let ph = (i + k * 17) % per;
                let tri = (2 * ph as i32 - per as i32).abs() * 2 - per as i32;
                uv += tri * (300 - 80 * k as i32) / per as i32;
            }
            (uv * 2 / 5) as i16
        })
        .collect();
    Strip {
        kind: StripKind::Rhythm,
        start_ms,
        sample_rate_hz: RATE,
        uv_per_lsb: 2.5,
        leads: vec![Lead {
            name: "Pads".into(),
            samples,
        }],
        device: MONITOR.into(),
        label: label.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rettpad_record::Status;

    #[test]
    fn samples_are_deterministic_and_complete() {
        for (a, b) in [(standard(), standard()), (resuscitation(), resuscitation())] {
            assert_eq!(a.events, b.events);
            assert_eq!(a.log().digest(), b.log().digest());
            assert_eq!(a.strips, b.strips);
            let st = a.state();
            assert!(st.rejected.is_empty(), "{:?}", st.rejected);
            assert_eq!(st.status, Status::Open);
            assert_eq!(st.patients.len(), 1);
            let refs = &st.patients[0].strips;
            assert_eq!(refs.len(), a.strips.len());
            for s in &a.strips {
                assert!(refs.iter().any(|r| r.hash == s.hash()));
                s.validate().unwrap();
            }
        }
        assert_ne!(standard().mission(), standard_at(1).mission());
    }

    #[test]
    fn standard_has_an_hour_of_vitals_and_resus_two_twelve_leads() {
        let st = standard().state();
        let vitals = st
            .entries
            .values()
            .filter(|e| e.collection == Collection::Vitals)
            .count();
        assert_eq!(vitals, 13);
        let r = resuscitation();
        let twelve = r
            .strips
            .iter()
            .filter(|s| s.kind == StripKind::TwelveLead)
            .count();
        assert_eq!(twelve, 2);
        assert_eq!(
            r.strips
                .iter()
                .filter(|s| s.kind == StripKind::Rhythm)
                .count(),
            3
        );
        let devices: std::collections::BTreeSet<_> =
            r.events.iter().map(|e| e.device.as_str()).collect();
        assert_eq!(devices.len(), 2, "RTW and NEF pad");
    }
}
