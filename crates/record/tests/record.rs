//! Record behaviour: merge properties (proptest), corrections, audit, rules.

use proptest::prelude::*;
use rettpad_record::event::HandoverMode;
use rettpad_record::keys;
use rettpad_record::log::{self, merge};
use rettpad_record::rules::{self, Severity};
use rettpad_record::{
    Author, Collection, EntryId, Event, MissionId, MissionLog, MissionState, Num, PartialDate,
    PatientId, Payload, Status, Target, Value, codes,
};
use rettpad_record::{Measured, state::EditError};
use std::collections::{BTreeMap, HashSet};
use uuid::Uuid;

const T0: i64 = 1_795_305_600_000; // 2026-11-22 00:00 UTC

fn author(device: &str) -> Author {
    Author {
        device: device.into(),
        crew_member: Uuid::now_v7(),
    }
}

/// A small pad that documents into its own log.
struct Pad {
    log: MissionLog,
    state: MissionState,
    who: Author,
}

impl Pad {
    fn new(m: MissionId, device: &str) -> Pad {
        Pad {
            log: MissionLog::new(m),
            state: MissionState::new(m),
            who: author(device),
        }
    }

    fn edit(&mut self, wall: i64, p: Payload) -> Result<Event, EditError> {
        self.state.precheck(&p)?;
        let ev = self.log.prepare(&self.who, wall, 0, p);
        self.log.insert(ev.clone()).expect("local event links");
        self.state = MissionState::fold(self.log.mission(), self.log.events());
        Ok(ev)
    }

    fn set(
        &mut self,
        wall: i64,
        target: Target,
        field: &str,
        v: Value,
    ) -> Result<Event, EditError> {
        self.edit(
            wall,
            Payload::Set {
                target,
                field: field.into(),
                value: v,
            },
        )
    }
}

#[test]
fn correction_keeps_original_and_audit_starts_at_handover() {
    let m = MissionId::new();
    let mut pad = Pad::new(m, "PAD-1");
    pad.edit(
        T0,
        Payload::MissionOpened {
            call_sign: "RTW 1/83-1".into(),
        },
    )
    .unwrap();
    let p = PatientId::new();
    pad.edit(T0 + 1, Payload::PatientAdded { patient: p })
        .unwrap();
    pad.set(
        T0 + 2,
        Target::Patient(p),
        keys::naca::SCORE,
        Value::code("3"),
    )
    .unwrap();
    pad.set(
        T0 + 3,
        Target::Patient(p),
        keys::naca::SCORE,
        Value::code("4"),
    )
    .unwrap();
    let f = &pad.state.patient(p).unwrap().fields[keys::naca::SCORE];
    assert_eq!(f.current(), Some(&Value::code("4")));
    assert_eq!(f.history.len(), 2);
    assert_eq!(f.history[0].value, Some(Value::code("3")));
    assert!(pad.state.audit.is_empty(), "no audit before handover");

    pad.edit(
        T0 + 10,
        Payload::HandedOver {
            mode: HandoverMode::Printed,
            to: "ZNA".into(),
            document_sha256: None,
        },
    )
    .unwrap();
    assert_eq!(pad.state.status, Status::HandedOver);
    pad.set(
        T0 + 20,
        Target::Patient(p),
        keys::naca::SCORE,
        Value::code("5"),
    )
    .unwrap();
    pad.edit(
        T0 + 21,
        Payload::Clear {
            target: Target::Patient(p),
            field: keys::naca::SCORE.into(),
        },
    )
    .unwrap();
    let a = &pad.state.audit;
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].original, Some(Value::code("4")));
    assert_eq!(a[0].new, Some(Value::code("5")));
    assert_eq!(a[0].wall_ms, T0 + 20);
    assert_eq!(a[0].author, pad.who.crew_member);
    assert_eq!(a[1].original, Some(Value::code("5")));
    assert_eq!(a[1].new, None);
    assert_eq!(
        pad.state.patient(p).unwrap().fields[keys::naca::SCORE]
            .history
            .len(),
        4
    );
}

#[test]
fn precheck_refuses_invalid_edits() {
    let m = MissionId::new();
    let mut pad = Pad::new(m, "PAD-1");
    let p = PatientId::new();
    assert_eq!(
        pad.set(T0, Target::Patient(p), keys::naca::SCORE, Value::code("4"))
            .unwrap_err(),
        EditError::UnknownPatient
    );
    pad.edit(T0, Payload::PatientAdded { patient: p }).unwrap();
    assert!(matches!(
        pad.set(T0, Target::Patient(p), keys::naca::SCORE, Value::code("8")),
        Err(EditError::Value(_))
    ));
    assert!(matches!(
        pad.set(T0, Target::Mission, keys::naca::SCORE, Value::code("4")),
        Err(EditError::Value(_))
    ));
    assert_eq!(
        pad.edit(T0, Payload::PatientAdded { patient: p })
            .unwrap_err(),
        EditError::Duplicate
    );
    assert_eq!(pad.log.len(), 1, "refused edits never reach the log");
    pad.edit(T0, Payload::Closed).unwrap();
    assert_eq!(
        pad.set(T0, Target::Mission, keys::remarks::TEXT, Value::text("x"))
            .unwrap_err(),
        EditError::Closed
    );
}

#[test]
fn fold_rejects_foreign_invalid_events_but_keeps_them_in_the_log() {
    let m = MissionId::new();
    let mut log = MissionLog::new(m);
    let a = author("EVIL");
    // bypasses precheck, as a tampered peer log would
    let ev = log.prepare(
        &a,
        T0,
        0,
        Payload::Set {
            target: Target::Mission,
            field: keys::naca::SCORE.into(),
            value: Value::code("4"),
        },
    );
    log.insert(ev.clone()).unwrap();
    let s = MissionState::fold(m, log.events());
    assert_eq!(s.rejected.len(), 1);
    assert_eq!(s.rejected[0].event, ev.id);
    assert_eq!(log.len(), 1);
}

#[test]
fn retracted_entries_stay_visible() {
    let m = MissionId::new();
    let mut pad = Pad::new(m, "PAD-1");
    let p = PatientId::new();
    pad.edit(T0, Payload::PatientAdded { patient: p }).unwrap();
    let e = EntryId::new();
    let mut fields = BTreeMap::new();
    fields.insert(keys::vitals::AT.to_string(), Value::manual_time(T0));
    fields.insert(
        keys::vitals::HR.to_string(),
        Value::Measured(Measured::manual(Num::int(88))),
    );
    pad.edit(
        T0,
        Payload::EntryAdded {
            patient: p,
            collection: Collection::Vitals,
            entry: e,
            fields,
        },
    )
    .unwrap();
    assert_eq!(pad.state.entries_of(p, Collection::Vitals).count(), 1);
    pad.edit(
        T0 + 1,
        Payload::EntryRetracted {
            entry: e,
            reason: "falscher Patient".into(),
        },
    )
    .unwrap();
    assert_eq!(pad.state.entries_of(p, Collection::Vitals).count(), 0);
    let kept = &pad.state.entries[&e];
    assert_eq!(
        kept.retracted.as_ref().map(|r| r.reason.as_str()),
        Some("falscher Patient")
    );
    assert_eq!(
        kept.get(keys::vitals::HR).and_then(Value::as_num),
        Some(Num::int(88))
    );
    assert_eq!(
        pad.set(
            T0 + 2,
            Target::Entry(e),
            keys::vitals::HR,
            Value::Measured(Measured::manual(Num::int(90)))
        )
        .unwrap_err(),
        EditError::Retracted
    );
}

fn rule_ids(s: &MissionState, now: i64, sev: Severity) -> Vec<&'static str> {
    rules::check(s, now)
        .into_iter()
        .filter(|f| f.severity == sev)
        .map(|f| f.rule)
        .collect()
}

#[test]
fn hard_rules_block_close_until_complete() {
    rules::rule_fields_exist().unwrap();
    let m = MissionId::new();
    let mut pad = Pad::new(m, "PAD-1");
    let hard = rule_ids(&pad.state, T0, Severity::Hard);
    assert!(
        hard.contains(&"mission-number") && hard.contains(&"patient-present"),
        "{hard:?}"
    );

    pad.set(
        T0,
        Target::Mission,
        keys::mission::NUMBER,
        Value::text("2026-11-22-0042"),
    )
    .unwrap();
    pad.set(
        T0,
        Target::Mission,
        keys::time::ALARM,
        Value::manual_time(T0),
    )
    .unwrap();
    pad.set(
        T0,
        Target::Mission,
        keys::time::AT_SCENE,
        Value::manual_time(T0 + 600_000),
    )
    .unwrap();
    let p = PatientId::new();
    pad.edit(T0, Payload::PatientAdded { patient: p }).unwrap();
    let hard = rule_ids(&pad.state, T0 + 700_000, Severity::Hard);
    assert_eq!(hard, vec!["patient-identified", "outcome", "naca"]);

    pad.set(
        T0,
        Target::Patient(p),
        keys::patient::UNKNOWN,
        Value::Bool(true),
    )
    .unwrap();
    pad.set(
        T0,
        Target::Patient(p),
        keys::outcome::RESULT,
        Value::code("03"),
    )
    .unwrap();
    assert_eq!(
        rule_ids(&pad.state, T0 + 700_000, Severity::Hard),
        vec!["naca", "destination"]
    );
    pad.set(T0, Target::Patient(p), keys::naca::SCORE, Value::code("4"))
        .unwrap();
    pad.set(
        T0,
        Target::Patient(p),
        keys::transport::HOSPITAL,
        Value::text("Klinikum Mitte"),
    )
    .unwrap();
    assert!(rules::close_blockers(&pad.state, T0 + 700_000).is_empty());

    // an incomplete medication blocks again, pointing at the missing field
    let e = EntryId::new();
    let mut fields = BTreeMap::new();
    fields.insert(keys::med::SUBSTANCE.to_string(), Value::text("Adrenalin"));
    pad.edit(
        T0,
        Payload::EntryAdded {
            patient: p,
            collection: Collection::Medication,
            entry: e,
            fields,
        },
    )
    .unwrap();
    let b = rules::close_blockers(&pad.state, T0 + 700_000);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].target, Target::Entry(e));
    assert_eq!(b[0].field, Some(keys::med::DOSE));
    assert!(b[0].message_de.contains("Dosis"), "{}", b[0].message_de);
}

#[test]
fn false_mission_needs_no_patient() {
    let m = MissionId::new();
    let mut pad = Pad::new(m, "PAD-1");
    pad.set(
        T0,
        Target::Mission,
        keys::mission::FALSE_MISSION,
        Value::code("03"),
    )
    .unwrap();
    assert!(rules::close_blockers(&pad.state, T0).is_empty());
}

#[test]
fn soft_rules_warn_on_ranges_order_and_future() {
    let m = MissionId::new();
    let mut pad = Pad::new(m, "PAD-1");
    pad.set(
        T0,
        Target::Mission,
        keys::time::ALARM,
        Value::manual_time(T0 + 60_000),
    )
    .unwrap();
    pad.set(
        T0,
        Target::Mission,
        keys::time::AT_SCENE,
        Value::manual_time(T0),
    )
    .unwrap();
    pad.set(
        T0,
        Target::Mission,
        keys::time::END,
        Value::manual_time(T0 + 10 * 3_600_000),
    )
    .unwrap();
    let p = PatientId::new();
    pad.edit(T0, Payload::PatientAdded { patient: p }).unwrap();
    pad.set(
        T0,
        Target::Patient(p),
        keys::patient::BIRTH_DATE,
        Value::Date(PartialDate {
            year: 2030,
            month: 0,
            day: 0,
        }),
    )
    .unwrap();
    let e = EntryId::new();
    let mut fields = BTreeMap::new();
    fields.insert(keys::vitals::AT.to_string(), Value::manual_time(T0));
    fields.insert(
        keys::vitals::HR.to_string(),
        Value::Measured(Measured::manual(Num::int(290))),
    );
    fields.insert(
        keys::vitals::BP_SYS.to_string(),
        Value::Measured(Measured::manual(Num::int(80))),
    );
    fields.insert(
        keys::vitals::BP_DIA.to_string(),
        Value::Measured(Measured::manual(Num::int(90))),
    );
    pad.edit(
        T0,
        Payload::EntryAdded {
            patient: p,
            collection: Collection::Vitals,
            entry: e,
            fields,
        },
    )
    .unwrap();
    let soft = rules::check(&pad.state, T0 + 120_000);
    let has = |rule: &str, field: &str| {
        soft.iter()
            .any(|f| f.rule == rule && f.field == Some(field))
    };
    assert!(has("times-ordered", keys::time::AT_SCENE), "{soft:#?}");
    assert!(has("future-time", keys::time::END));
    assert!(has("future-time", keys::patient::BIRTH_DATE));
    assert!(has("range", keys::vitals::HR));
    assert!(has("bp-dia-sys", keys::vitals::BP_DIA));
    assert!(!has("range", keys::vitals::BP_SYS), "80 mmHg is plausible");
}

// ---- merge properties -------------------------------------------------

/// Builds two pads' logs of one mission from a script of edits.
fn two_logs(script: &[(bool, u8, i64)]) -> (Vec<Event>, Vec<Event>) {
    let m = MissionId::from_seed(7);
    let mut a = MissionLog::new(m);
    let mut b = MissionLog::new(m);
    let (wa, wb) = (author("NEF"), author("RTW"));
    let mut wall = T0;
    for (on_a, field, dt) in script {
        wall += dt;
        let keys = [
            keys::remarks::TEXT,
            keys::mission::KEYWORD,
            keys::mission::STATION,
            keys::mission::NUMBER,
        ];
        let p = Payload::Set {
            target: Target::Mission,
            field: keys[usize::from(*field) % keys.len()].into(),
            value: Value::Text(format!("{field}-{wall}")),
        };
        let (log, w) = if *on_a { (&mut a, &wa) } else { (&mut b, &wb) };
        let ev = log.prepare(w, wall, 0, p);
        log.insert(ev).unwrap();
    }
    (a.events().to_vec(), b.events().to_vec())
}

trait Seeded {
    fn from_seed(n: u128) -> Self;
}
impl Seeded for MissionId {
    fn from_seed(n: u128) -> Self {
        MissionId(Uuid::from_u128(n))
    }
}

fn script() -> impl Strategy<Value = Vec<(bool, u8, i64)>> {
    prop::collection::vec((any::<bool>(), 0u8..4, -5_000i64..5_000), 0..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn merge_is_commutative(s in script()) {
        let (a, b) = two_logs(&s);
        prop_assert_eq!(merge(&a, &b), merge(&b, &a));
    }

    #[test]
    fn merge_is_idempotent(s in script()) {
        let (a, b) = two_logs(&s);
        let mut a_sorted = a.clone();
        a_sorted.sort_by_key(|e| e.order_key());
        prop_assert_eq!(merge(&a, &a), a_sorted);
        let ab = merge(&a, &b);
        prop_assert_eq!(merge(&ab, &b), ab.clone());
        prop_assert_eq!(merge(&ab, &a), ab);
    }

    #[test]
    fn fold_of_merge_contains_every_event(s in script()) {
        let (a, b) = two_logs(&s);
        let merged = merge(&a, &b);
        let ids: HashSet<_> = merged.iter().map(|e| e.id).collect();
        for e in a.iter().chain(b.iter()) {
            prop_assert!(ids.contains(&e.id));
        }
        prop_assert!(log::verify(&merged).is_empty());
        let m = merged.first().map_or(MissionId::from_seed(7), |e| e.mission);
        let state = MissionState::fold(m, &merged);
        prop_assert!(state.rejected.is_empty());
        // every Set of either pad is in its field's history
        let in_history: HashSet<_> = state.fields.values().flat_map(|f| f.history.iter().map(|r| r.event)).collect();
        for e in a.iter().chain(b.iter()) {
            prop_assert!(in_history.contains(&e.id));
        }
    }

    #[test]
    fn mission_log_merge_agrees_both_ways(s in script()) {
        let (a, b) = two_logs(&s);
        let m = MissionId::from_seed(7);
        let (mut la, _) = MissionLog::restore(m, a.clone());
        let (mut lb, _) = MissionLog::restore(m, b.clone());
        let ra = la.merge_from(&b);
        let rb = lb.merge_from(&a);
        prop_assert!(ra.rejected.is_empty() && rb.rejected.is_empty());
        prop_assert_eq!(la.events(), lb.events());
        prop_assert_eq!(la.digest(), lb.digest());
        let pure = merge(&a, &b);
        prop_assert_eq!(la.events(), pure.as_slice());
        let folded_a = MissionState::fold(m, la.events());
        let folded_b = MissionState::fold(m, lb.events());
        prop_assert_eq!(folded_a, folded_b);
    }
}

#[test]
fn code_lists_used_by_rules_exist() {
    assert!(codes::OUTCOME.contains(codes::OUTCOME_NO_PATIENT));
    for c in codes::OUTCOME_TRANSPORTED {
        assert!(codes::OUTCOME.contains(c));
    }
}
