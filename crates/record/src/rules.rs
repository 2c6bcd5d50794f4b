//! Plausibility rules, all in one table ([`RULES`]).
//!
//! Soft rules warn while documenting; hard rules block closing the mission.
//! A rule names what it checks as data; [`check`] interprets it. Ranges come
//! from the field catalog, so a range is changed in one place.

use super::catalog::{self, Collection, MISSION_TIMES_IN_ORDER, Scope};
use super::codes;
use super::event::Target;
use super::state::{Fields, MissionState, PatientState};
use super::value::{Value, civil_from_ms};
use crate::keys;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Warns; never blocks.
    Soft,
    /// Blocks closing the mission.
    Hard,
}

/// When a per-patient rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// The crew had patient contact (outcome is not "Fehleinsatz – kein Patient").
    PatientContact,
    /// The patient was transported (outcome 02/03/04).
    Transported,
}

#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// A mission field must be documented, unless it is a false mission.
    MissionRequired(&'static str),
    /// At least one patient, unless it is a false mission.
    AtLeastOnePatient,
    /// Name and birth date, or the explicit "unbekannter Patient".
    PatientIdentified,
    PatientRequired {
        field: &'static str,
        when: When,
    },
    /// Each entry of a collection needs these fields.
    EntryRequired {
        collection: Collection,
        fields: &'static [&'static str],
    },
    /// Numeric values within the catalog's plausible range.
    PlausibleRange,
    /// The listed mission times in this order (where present).
    TimesOrdered(&'static [&'static str]),
    /// No time or birth date later than now plus a tolerance.
    NotInFuture {
        tolerance_ms: i64,
    },
    /// Diastolic below systolic in each vital set.
    DiastolicBelowSystolic,
}

pub struct Rule {
    pub id: &'static str,
    pub severity: Severity,
    pub check: Check,
    pub de: &'static str,
    pub en: &'static str,
}

use Check::*;
use Severity::*;

pub static RULES: &[Rule] = &[
    Rule {
        id: "mission-number",
        severity: Hard,
        check: MissionRequired(keys::mission::NUMBER),
        de: "Pflichtangabe fehlt",
        en: "required field missing",
    },
    Rule {
        id: "time-alarm",
        severity: Hard,
        check: MissionRequired(keys::time::ALARM),
        de: "Pflichtangabe fehlt",
        en: "required field missing",
    },
    Rule {
        id: "time-at-scene",
        severity: Hard,
        check: MissionRequired(keys::time::AT_SCENE),
        de: "Pflichtangabe fehlt",
        en: "required field missing",
    },
    Rule {
        id: "patient-present",
        severity: Hard,
        check: AtLeastOnePatient,
        de: "Kein Patient dokumentiert (oder Fehleinsatz angeben)",
        en: "no patient documented (or mark as false mission)",
    },
    Rule {
        id: "patient-identified",
        severity: Hard,
        check: PatientIdentified,
        de: "Patient nicht identifiziert: Name und Geburtsdatum oder „unbekannter Patient“",
        en: "patient not identified: name and birth date or 'unknown patient'",
    },
    Rule {
        id: "outcome",
        severity: Hard,
        check: PatientRequired {
            field: keys::outcome::RESULT,
            when: When::Always,
        },
        de: "Pflichtangabe fehlt",
        en: "required field missing",
    },
    Rule {
        id: "naca",
        severity: Hard,
        check: PatientRequired {
            field: keys::naca::SCORE,
            when: When::PatientContact,
        },
        de: "Pflichtangabe fehlt",
        en: "required field missing",
    },
    Rule {
        id: "destination",
        severity: Hard,
        check: PatientRequired {
            field: keys::transport::HOSPITAL,
            when: When::Transported,
        },
        de: "Pflichtangabe fehlt",
        en: "required field missing",
    },
    Rule {
        id: "medication-complete",
        severity: Hard,
        check: EntryRequired {
            collection: Collection::Medication,
            fields: &[
                keys::med::SUBSTANCE,
                keys::med::DOSE,
                keys::med::UNIT,
                keys::med::ROUTE,
                keys::med::AT,
            ],
        },
        de: "Medikamentengabe unvollständig",
        en: "medication entry incomplete",
    },
    Rule {
        id: "measure-complete",
        severity: Hard,
        check: EntryRequired {
            collection: Collection::Measure,
            fields: &[keys::measure::KIND, keys::measure::AT],
        },
        de: "Maßnahme unvollständig",
        en: "measure incomplete",
    },
    Rule {
        id: "vitals-time",
        severity: Hard,
        check: EntryRequired {
            collection: Collection::Vitals,
            fields: &[keys::vitals::AT],
        },
        de: "Messwerte ohne Zeitpunkt",
        en: "vital signs without time",
    },
    Rule {
        id: "range",
        severity: Soft,
        check: PlausibleRange,
        de: "Wert außerhalb des üblichen Bereichs",
        en: "value outside the plausible range",
    },
    Rule {
        id: "times-ordered",
        severity: Soft,
        check: TimesOrdered(MISSION_TIMES_IN_ORDER),
        de: "Zeiten nicht in zeitlicher Reihenfolge",
        en: "times out of order",
    },
    Rule {
        id: "future-time",
        severity: Soft,
        check: NotInFuture {
            tolerance_ms: 60_000,
        },
        de: "Zeitpunkt liegt in der Zukunft",
        en: "time in the future",
    },
    Rule {
        id: "bp-dia-sys",
        severity: Soft,
        check: DiastolicBelowSystolic,
        de: "RR diastolisch ≥ systolisch",
        en: "diastolic BP not below systolic",
    },
];

/// One rule hit, pointing at the field to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub severity: Severity,
    pub target: Target,
    pub field: Option<&'static str>,
    pub message_de: String,
    pub message_en: String,
}

fn false_mission(s: &MissionState) -> bool {
    s.get(keys::mission::FALSE_MISSION).is_some()
}

fn applies(p: &PatientState, when: When) -> bool {
    let outcome = p.get(keys::outcome::RESULT).and_then(Value::as_code);
    match when {
        When::Always => true,
        When::PatientContact => outcome != Some(codes::OUTCOME_NO_PATIENT),
        When::Transported => outcome.is_some_and(|o| codes::OUTCOME_TRANSPORTED.contains(&o)),
    }
}

fn label(key: &str) -> (&'static str, &'static str) {
    catalog::field(key).map_or(("?", "?"), |d| (d.de, d.en))
}

fn hit(rule: &Rule, target: Target, field: Option<&'static str>) -> Finding {
    let (message_de, message_en) = match field {
        Some(k) => {
            let (de, en) = label(k);
            (format!("{}: {de}", rule.de), format!("{}: {en}", rule.en))
        }
        None => (rule.de.to_string(), rule.en.to_string()),
    };
    Finding {
        rule: rule.id,
        severity: rule.severity,
        target,
        field,
        message_de,
        message_en,
    }
}

/// Iterates `(target, fields)` of the mission, its active patients and entries.
fn all_fields(s: &MissionState) -> Vec<(Target, &Fields)> {
    let mut v: Vec<(Target, &Fields)> = vec![(Target::Mission, &s.fields)];
    for p in s.active_patients() {
        v.push((Target::Patient(p.id), &p.fields));
        for c in Collection::ALL {
            for e in s.entries_of(p.id, c) {
                v.push((Target::Entry(e.id), &e.fields));
            }
        }
    }
    v
}

fn static_key(key: &str) -> Option<&'static str> {
    catalog::field(key).map(|d| d.key)
}

/// Runs every rule against the state at wall time `now_ms`.
pub fn check(s: &MissionState, now_ms: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    for rule in RULES {
        match rule.check {
            MissionRequired(k) => {
                if !false_mission(s) && s.get(k).is_none() {
                    out.push(hit(rule, Target::Mission, Some(k)));
                }
            }
            AtLeastOnePatient => {
                if !false_mission(s) && s.active_patients().next().is_none() {
                    out.push(hit(rule, Target::Mission, None));
                }
            }
            PatientIdentified => {
                for p in s.active_patients() {
                    let unknown =
                        p.get(keys::patient::UNKNOWN).and_then(Value::as_bool) == Some(true);
                    let named = p.get(keys::patient::FAMILY_NAME).is_some()
                        && p.get(keys::patient::BIRTH_DATE).is_some();
                    if !unknown && !named && applies(p, When::PatientContact) {
                        out.push(hit(
                            rule,
                            Target::Patient(p.id),
                            Some(keys::patient::FAMILY_NAME),
                        ));
                    }
                }
            }
            PatientRequired { field, when } => {
                for p in s.active_patients() {
                    if applies(p, when) && p.get(field).is_none() {
                        out.push(hit(rule, Target::Patient(p.id), Some(field)));
                    }
                }
            }
            EntryRequired { collection, fields } => {
                for p in s.active_patients() {
                    for e in s.entries_of(p.id, collection) {
                        if let Some(missing) = fields.iter().find(|k| e.get(k).is_none()) {
                            out.push(hit(rule, Target::Entry(e.id), Some(missing)));
                        }
                    }
                }
            }
            PlausibleRange => {
                for (target, fields) in all_fields(s) {
                    for (k, fs) in fields {
                        let (Some(def), Some(n)) =
                            (catalog::field(k), fs.current().and_then(Value::as_num))
                        else {
                            continue;
                        };
                        if let Some(r) = catalog::plausible_range(def)
                            && (n < r.min || n > r.max)
                        {
                            out.push(hit(rule, target.clone(), Some(def.key)));
                        }
                    }
                }
            }
            TimesOrdered(keys) => {
                let mut last: Option<(&str, i64)> = None;
                for k in keys {
                    if let Some(t) = s.get(k).and_then(Value::as_time) {
                        if let Some((_, prev)) = last
                            && t.at_ms < prev
                        {
                            out.push(hit(rule, Target::Mission, static_key(k)));
                        }
                        last = Some((k, t.at_ms));
                    }
                }
            }
            NotInFuture { tolerance_ms } => {
                let limit = now_ms.saturating_add(tolerance_ms);
                for (target, fields) in all_fields(s) {
                    for (k, fs) in fields {
                        let future = match fs.current() {
                            Some(Value::Time(t)) => t.at_ms > limit,
                            Some(Value::Date(d)) if k == keys::patient::BIRTH_DATE => {
                                let (y, m, day) = civil_from_ms(now_ms);
                                (d.year, d.month, d.day) > (y, m, day)
                            }
                            _ => false,
                        };
                        if future {
                            out.push(hit(rule, target.clone(), static_key(k)));
                        }
                    }
                }
            }
            DiastolicBelowSystolic => {
                for p in s.active_patients() {
                    for e in s.entries_of(p.id, Collection::Vitals) {
                        let sys = e.get(keys::vitals::BP_SYS).and_then(Value::as_num);
                        let dia = e.get(keys::vitals::BP_DIA).and_then(Value::as_num);
                        if let (Some(sys), Some(dia)) = (sys, dia)
                            && dia >= sys
                        {
                            out.push(hit(rule, Target::Entry(e.id), Some(keys::vitals::BP_DIA)));
                        }
                    }
                }
            }
        }
    }
    out
}

/// The hard findings: empty means the mission may be closed.
pub fn close_blockers(s: &MissionState, now_ms: i64) -> Vec<Finding> {
    check(s, now_ms)
        .into_iter()
        .filter(|f| f.severity == Severity::Hard)
        .collect()
}

/// True when `scope` has a field `key` (used by tests to keep rules honest).
pub fn rule_fields_exist() -> Result<(), String> {
    for r in RULES {
        let keys: Vec<(&str, Option<Scope>)> = match r.check {
            MissionRequired(k) => vec![(k, Some(Scope::Mission))],
            PatientRequired { field, .. } => vec![(field, Some(Scope::Patient))],
            EntryRequired { collection, fields } => fields
                .iter()
                .map(|k| (*k, Some(Scope::Entry(collection))))
                .collect(),
            TimesOrdered(ks) => ks.iter().map(|k| (*k, Some(Scope::Mission))).collect(),
            _ => vec![],
        };
        for (k, scope) in keys {
            match catalog::field(k) {
                Some(d) if scope.is_none_or(|s| s == d.scope) => {}
                _ => {
                    return Err(format!(
                        "rule {} names unknown or misplaced field {k}",
                        r.id
                    ));
                }
            }
        }
    }
    Ok(())
}
