//! Card data → record, as a proposal the crew confirms. Nothing is written
//! until [`Proposal::confirm`]; a field already documented with a different
//! value is a [`Conflict`](ItemState::Conflict) and is only overwritten when
//! the crew picked that field explicitly. If the record changed after the
//! proposal was shown, confirming fails and the proposal must be rebuilt.

use super::data::{CardData, CardKind};
use super::error::CardWarning;
use rettpad_record::catalog::{self, Scope};
use rettpad_record::keys;
use rettpad_record::value::civil_from_ms;
use rettpad_record::{MissionState, PartialDate, PatientId, Payload, Target, Value};
use rettpad_text::{Lang, UserMessage};

/// How a proposed value relates to what is documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemState {
    /// Nothing documented: taken over on confirmation.
    New,
    /// Documented with the same value: nothing to do.
    Same,
    /// Documented with a different value: kept unless the crew picks it.
    Conflict,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Item {
    pub field: &'static str,
    /// The catalog's labels.
    pub label_de: &'static str,
    pub label_en: &'static str,
    pub proposed: Value,
    /// What the record held when the proposal was built.
    pub documented: Option<Value>,
    pub state: ItemState,
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Item({}, {:?})", self.field, self.state)
    }
}

/// A card value the record could not take (too long, no field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub field: &'static str,
    pub reason: &'static str,
}

/// What a card read would change in one patient's record.
#[derive(Debug, Clone)]
pub struct Proposal {
    pub patient: PatientId,
    pub source: CardKind,
    /// When the card was read (UTC ms); the `Set` events carry their own
    /// wall time when confirmed.
    pub read_at_ms: i64,
    pub items: Vec<Item>,
    pub warnings: Vec<CardWarning>,
    pub skipped: Vec<Skipped>,
}

/// Why confirming did not produce events.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmError {
    #[error("unknown or retracted patient")]
    UnknownPatient,
    #[error("the record changed since the proposal was shown (field {0})")]
    Stale(&'static str),
    #[error("field {0} is not a conflict of this proposal")]
    NotAConflict(String),
}

impl rettpad_text::UserMessage for ConfirmError {
    fn message(&self, lang: rettpad_text::Lang) -> String {
        let (de, en) = match self {
            ConfirmError::UnknownPatient => ("Patient nicht gefunden.", "Patient not found."),
            ConfirmError::Stale(_) => (
                "Die Patientendaten wurden inzwischen geändert – bitte Kartendaten erneut prüfen.",
                "The patient's data has changed meanwhile – please check the card data again.",
            ),
            ConfirmError::NotAConflict(_) => (
                "Interner Fehler bei der Übernahme.",
                "Internal error while taking the data.",
            ),
        };
        lang.pick(de, en).into()
    }
}

/// Field values from a card, in the order shown to the crew.
pub fn card_values(card: &CardData) -> Vec<(&'static str, Value)> {
    let p = &card.person;
    let c = &card.coverage;
    let mut v: Vec<(&'static str, Value)> = vec![
        (
            keys::patient::FAMILY_NAME,
            Value::Text(p.full_family_name()),
        ),
        (keys::patient::GIVEN_NAME, Value::Text(p.given_name.clone())),
    ];
    if let Some(t) = &p.title {
        v.push((keys::patient::TITLE, Value::Text(t.clone())));
    }
    if let Some(d) = p.birth_date {
        v.push((keys::patient::BIRTH_DATE, Value::Date(d)));
    }
    if let Some(s) = p.sex {
        v.push((keys::patient::SEX, Value::code(s.code())));
    }
    if let Some(a) = p.address() {
        if let Some(s) = &a.street {
            v.push((keys::patient::ADDRESS_STREET, Value::Text(s.clone())));
        }
        if let Some(x) = &a.extra {
            v.push((keys::patient::ADDRESS_EXTRA, Value::Text(x.clone())));
        }
        if let Some(pc) = &a.postcode {
            v.push((keys::patient::ADDRESS_POSTCODE, Value::Text(pc.clone())));
        }
        v.push((keys::patient::ADDRESS_CITY, Value::Text(a.city.clone())));
        v.push((
            keys::patient::ADDRESS_COUNTRY,
            Value::Text(a.country.clone()),
        ));
    }
    if let Some(n) = &p.insurance_number {
        v.push((keys::insurance::NUMBER, Value::Text(n.clone())));
    }
    if let Some(ik) = &c.insurer_ik {
        v.push((keys::insurance::INSURER_IK, Value::Text(ik.clone())));
    }
    v.push((
        keys::insurance::INSURER_NAME,
        Value::Text(c.insurer_name.clone()),
    ));
    if let Some(k) = c.kind {
        v.push((keys::insurance::TYPE, Value::code(k.code())));
    }
    if let Some(e) = c.end {
        v.push((keys::insurance::VALID_UNTIL, Value::Date(e)));
    }
    v.push((
        keys::patient::ID_SOURCE,
        Value::code(card.kind.id_source_code()),
    ));
    v
}

impl Proposal {
    /// Compares the card with patient `patient` of `state`. `None` when the
    /// patient is unknown or retracted.
    pub fn build(
        state: &MissionState,
        patient: PatientId,
        card: &CardData,
        read_at_ms: i64,
    ) -> Option<Proposal> {
        let ps = state.patient(patient).filter(|p| p.retracted.is_none())?;
        let mut items = Vec::new();
        let mut skipped = Vec::new();
        for (field, value) in card_values(card) {
            let def = match catalog::validate(Scope::Patient, field, &value) {
                Ok(def) => def,
                Err(_) => {
                    skipped.push(Skipped {
                        field,
                        reason: "value does not fit the field",
                    });
                    continue;
                }
            };
            let documented = ps.get(field).cloned();
            let state = match &documented {
                None => ItemState::New,
                Some(d) if *d == value => ItemState::Same,
                Some(_) => ItemState::Conflict,
            };
            items.push(Item {
                field,
                label_de: def.de,
                label_en: def.en,
                proposed: value,
                documented,
                state,
            });
        }
        let mut warnings = card.warnings.clone();
        if let Some(end) = card.coverage.end {
            let (y, m, d) = civil_from_ms(read_at_ms);
            let today = PartialDate {
                year: y,
                month: m,
                day: d,
            };
            if end < today {
                warnings.push(CardWarning::Expired);
            }
        }
        Some(Proposal {
            patient,
            source: card.kind,
            read_at_ms,
            items,
            warnings,
            skipped,
        })
    }

    pub fn conflicts(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| i.state == ItemState::Conflict)
    }

    /// True when confirming would change nothing.
    pub fn is_noop(&self) -> bool {
        self.items.iter().all(|i| i.state == ItemState::Same)
    }

    /// Lines for the confirmation dialog: what will be taken over, what
    /// stays, and the warnings. Shown to the crew, never logged.
    pub fn lines(&self, lang: Lang) -> Vec<String> {
        let card = self.source.label_de();
        let mut out = vec![match lang {
            Lang::De => format!("Daten von der {card} übernehmen:"),
            Lang::En => format!("Take the data from the {card}:"),
        }];
        for i in &self.items {
            let new = show(&i.proposed);
            let label = lang.pick(i.label_de, i.label_en);
            match (i.state, &i.documented, lang) {
                (ItemState::New, _, _) => out.push(format!("{label}: {new}")),
                (ItemState::Conflict, Some(old), Lang::De) => out.push(format!(
                    "{label}: dokumentiert „{}“, Karte „{new}“ – bleibt, außer ausdrücklich gewählt",
                    show(old)
                )),
                (ItemState::Conflict, Some(old), Lang::En) => out.push(format!(
                    "{label}: documented “{}”, card “{new}” – stays unless chosen explicitly",
                    show(old)
                )),
                _ => {}
            }
        }
        for w in &self.warnings {
            out.push(format!(
                "{}: {}",
                lang.pick("Hinweis", "Note"),
                w.message(lang)
            ));
        }
        out
    }

    /// The events to apply after the crew's confirmation tap: every `New`
    /// item, plus the `Conflict` items named in `overwrite`. Fails without
    /// events if the record changed since the proposal was built, or if
    /// `overwrite` names a field that is not a conflict.
    pub fn confirm(
        &self,
        state: &MissionState,
        overwrite: &[&str],
    ) -> Result<Vec<Payload>, ConfirmError> {
        let ps = state
            .patient(self.patient)
            .filter(|p| p.retracted.is_none())
            .ok_or(ConfirmError::UnknownPatient)?;
        for f in overwrite {
            if !self.conflicts().any(|i| i.field == *f) {
                return Err(ConfirmError::NotAConflict((*f).to_string()));
            }
        }
        let mut out = Vec::new();
        for i in &self.items {
            if ps.get(i.field) != i.documented.as_ref() {
                return Err(ConfirmError::Stale(i.field));
            }
            let take = match i.state {
                ItemState::New => true,
                ItemState::Conflict => overwrite.contains(&i.field),
                ItemState::Same => false,
            };
            if take {
                out.push(Payload::Set {
                    target: Target::Patient(self.patient),
                    field: i.field.to_string(),
                    value: i.proposed.clone(),
                });
            }
        }
        // When the card was read, and by what: the source of these values.
        if !out.is_empty() {
            out.push(Payload::Set {
                target: Target::Patient(self.patient),
                field: keys::insurance::CARD_READ_AT.into(),
                value: Value::Time(rettpad_record::TimeValue {
                    at_ms: self.read_at_ms,
                    source: rettpad_record::TimeSource::Device {
                        device: self.source.label_de().to_string(),
                    },
                }),
            });
        }
        Ok(out)
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Text(s) | Value::Code(s) => s.clone(),
        Value::Date(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::sample_egk_data;
    use rettpad_record::{Author, MissionId, MissionLog};
    use uuid::Uuid;

    struct Pad {
        log: MissionLog,
        state: MissionState,
        who: Author,
    }

    impl Pad {
        fn new() -> (Pad, PatientId) {
            let m = MissionId::new();
            let mut pad = Pad {
                log: MissionLog::new(m),
                state: MissionState::new(m),
                who: Author {
                    device: "PAD-T".into(),
                    crew_member: Uuid::from_u128(1),
                },
            };
            let p = PatientId::new();
            pad.apply(Payload::PatientAdded { patient: p });
            (pad, p)
        }

        fn apply(&mut self, payload: Payload) {
            self.state.precheck(&payload).expect("precheck");
            let ev = self.log.prepare(&self.who, 1_795_305_600_000, 0, payload);
            self.log.insert(ev).expect("insert");
            self.state = MissionState::fold(self.log.mission(), self.log.events());
            assert!(self.state.rejected.is_empty(), "{:?}", self.state.rejected);
        }

        fn set(&mut self, p: PatientId, field: &str, v: Value) {
            self.apply(Payload::Set {
                target: Target::Patient(p),
                field: field.into(),
                value: v,
            });
        }
    }

    const READ_AT: i64 = 1_795_305_600_000; // 2026-11-22

    #[test]
    fn empty_patient_takes_everything_and_the_record_accepts_it() {
        let (mut pad, p) = Pad::new();
        let card = sample_egk_data();
        let prop = Proposal::build(&pad.state, p, &card, READ_AT).unwrap();
        assert!(prop.items.iter().all(|i| i.state == ItemState::New));
        assert!(prop.warnings.is_empty());
        let fields: Vec<_> = prop.items.iter().map(|i| i.field).collect();
        assert_eq!(
            fields,
            [
                keys::patient::FAMILY_NAME,
                keys::patient::GIVEN_NAME,
                keys::patient::TITLE,
                keys::patient::BIRTH_DATE,
                keys::patient::SEX,
                keys::patient::ADDRESS_STREET,
                keys::patient::ADDRESS_EXTRA,
                keys::patient::ADDRESS_POSTCODE,
                keys::patient::ADDRESS_CITY,
                keys::patient::ADDRESS_COUNTRY,
                keys::insurance::NUMBER,
                keys::insurance::INSURER_IK,
                keys::insurance::INSURER_NAME,
                keys::insurance::TYPE,
                keys::patient::ID_SOURCE,
            ]
        );
        let lines = prop.lines(Lang::De);
        assert!(lines[0].contains("eGK"));
        assert!(lines.iter().any(|l| l == "Name: von Großmann"));
        assert!(prop.skipped.is_empty(), "{:?}", prop.skipped);
        for payload in prop.confirm(&pad.state, &[]).unwrap() {
            pad.apply(payload);
        }
        let ps = pad.state.patient(p).unwrap();
        assert_eq!(
            ps.get(keys::patient::FAMILY_NAME),
            Some(&Value::text("von Großmann"))
        );
        assert_eq!(ps.get(keys::patient::SEX), Some(&Value::code("M")));
        assert!(
            matches!(ps.get(keys::insurance::CARD_READ_AT), Some(Value::Time(t)) if t.at_ms == prop.read_at_ms),
            "the read time is recorded with the values"
        );
        assert_eq!(ps.get(keys::patient::ID_SOURCE), Some(&Value::code("01")));
        assert_eq!(ps.get(keys::insurance::TYPE), Some(&Value::code("1")));
        // Reading the same card again proposes nothing.
        let again = Proposal::build(&pad.state, p, &card, READ_AT).unwrap();
        assert!(again.is_noop());
        assert!(again.confirm(&pad.state, &[]).unwrap().is_empty());
    }

    #[test]
    fn differing_documented_value_is_never_overwritten_silently() {
        let (mut pad, p) = Pad::new();
        pad.set(p, keys::patient::GIVEN_NAME, Value::text("Jürgen"));
        pad.set(p, keys::patient::SEX, Value::code("M"));
        let prop = Proposal::build(&pad.state, p, &sample_egk_data(), READ_AT).unwrap();
        let c: Vec<_> = prop.conflicts().map(|i| i.field).collect();
        assert_eq!(c, [keys::patient::GIVEN_NAME]);
        let sex = prop
            .items
            .iter()
            .find(|i| i.field == keys::patient::SEX)
            .unwrap();
        assert_eq!(sex.state, ItemState::Same);
        assert!(
            prop.lines(Lang::De)
                .iter()
                .any(|l| l.contains("dokumentiert „Jürgen“, Karte „Jürgen Karl“"))
        );
        // Without an explicit pick the conflict stays.
        let payloads = prop.confirm(&pad.state, &[]).unwrap();
        assert!(
            payloads.iter().all(|pl| !matches!(pl,
            Payload::Set { field, .. } if field == keys::patient::GIVEN_NAME || field == keys::patient::SEX))
        );
        for pl in payloads {
            pad.apply(pl);
        }
        assert_eq!(
            pad.state.patient(p).unwrap().get(keys::patient::GIVEN_NAME),
            Some(&Value::text("Jürgen"))
        );
        // Picked explicitly: overwritten, as a new revision.
        let prop = Proposal::build(&pad.state, p, &sample_egk_data(), READ_AT).unwrap();
        let payloads = prop
            .confirm(&pad.state, &[keys::patient::GIVEN_NAME])
            .unwrap();
        // The picked name and the read time.
        assert_eq!(payloads.len(), 2);
        for pl in payloads {
            pad.apply(pl);
        }
        let f = &pad.state.patient(p).unwrap().fields[keys::patient::GIVEN_NAME];
        assert_eq!(f.current(), Some(&Value::text("Jürgen Karl")));
        assert!(f.corrected());
    }

    #[test]
    fn stale_proposal_and_bad_picks_are_refused() {
        let (mut pad, p) = Pad::new();
        let prop = Proposal::build(&pad.state, p, &sample_egk_data(), READ_AT).unwrap();
        assert_eq!(
            prop.confirm(&pad.state, &[keys::patient::GIVEN_NAME]),
            Err(ConfirmError::NotAConflict(keys::patient::GIVEN_NAME.into()))
        );
        // Someone documents a name after the dialog opened.
        pad.set(p, keys::patient::FAMILY_NAME, Value::text("Meier"));
        let e = prop.confirm(&pad.state, &[]).unwrap_err();
        assert_eq!(e, ConfirmError::Stale(keys::patient::FAMILY_NAME));
        assert!(e.message(Lang::De).contains("erneut"));
        // Unknown patient.
        assert!(
            Proposal::build(&pad.state, PatientId::new(), &sample_egk_data(), READ_AT).is_none()
        );
        pad.apply(Payload::PatientRetracted {
            patient: p,
            reason: "doppelt".into(),
        });
        assert_eq!(
            prop.confirm(&pad.state, &[]),
            Err(ConfirmError::UnknownPatient)
        );
    }

    #[test]
    fn kvk_maps_without_sex_and_with_month_validity_and_expiry_warning() {
        let (pad, p) = Pad::new();
        let card =
            crate::kvk::parse(&crate::kvk::build_template(&crate::kvk::sample_fields())).unwrap();
        let prop = Proposal::build(&pad.state, p, &card, READ_AT).unwrap();
        assert!(!prop.items.iter().any(|i| i.field == keys::patient::SEX));
        let get = |f: &str| {
            prop.items
                .iter()
                .find(|i| i.field == f)
                .map(|i| &i.proposed)
        };
        assert_eq!(get(keys::patient::ID_SOURCE), Some(&Value::code("02")));
        assert_eq!(
            get(keys::insurance::VALID_UNTIL),
            Some(&Value::Date(PartialDate {
                year: 2028,
                month: 12,
                day: 31
            }))
        );
        assert!(prop.warnings.is_empty());
        // Read in 2029: the card has expired.
        let later = Proposal::build(&pad.state, p, &card, READ_AT + 3 * 365 * 86_400_000).unwrap();
        assert_eq!(later.warnings, vec![CardWarning::Expired]);
        assert!(
            later
                .lines(Lang::De)
                .iter()
                .any(|l| l.contains("abgelaufen"))
        );
    }

    #[test]
    fn values_that_do_not_fit_are_skipped_not_truncated() {
        let (pad, p) = Pad::new();
        let mut card = sample_egk_data();
        card.person.given_name = "x".repeat(65);
        let prop = Proposal::build(&pad.state, p, &card, READ_AT).unwrap();
        assert!(
            !prop
                .items
                .iter()
                .any(|i| i.field == keys::patient::GIVEN_NAME)
        );
        assert!(
            prop.skipped
                .iter()
                .any(|s| s.field == keys::patient::GIVEN_NAME)
        );
    }
}
