//! State is `fold(events)`.
//!
//! Invariants:
//! - Nothing is overwritten: every field keeps its full revision history, and
//!   retracted patients or entries stay visible with the reason.
//! - From the first `HandedOver` event on, every change also produces an
//!   [`AuditEntry`] (original, new value, time, author) as §630f BGB asks.
//! - An event that cannot apply (unknown patient, value not fitting its
//!   field) is listed in `rejected`; it stays in the log.

use super::catalog::{self, Collection, Scope};
use super::event::{
    CrewRef, EntryId, Event, EventId, HandoverMode, Hash, MissionId, PatientId, Payload, Target,
};
use super::value::Value;
use super::wave::StripRef;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Why an edit is refused before it reaches the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error(transparent)]
    Value(#[from] catalog::ValueError),
    #[error("unknown patient")]
    UnknownPatient,
    #[error("unknown entry")]
    UnknownEntry,
    #[error("patient or entry was retracted")]
    Retracted,
    #[error("already exists")]
    Duplicate,
    #[error("mission is closed")]
    Closed,
    #[error("mission is not closed")]
    NotClosed,
}

impl crate::text::UserMessage for EditError {
    fn message(&self, lang: crate::text::Lang) -> String {
        use crate::text::Lang;
        match (self, lang) {
            (EditError::Value(v), _) => v.message(lang),
            (EditError::UnknownPatient, Lang::De) => "Patient nicht gefunden.".into(),
            (EditError::UnknownEntry, Lang::De) => "Eintrag nicht gefunden.".into(),
            (EditError::Retracted, Lang::De) => {
                "Eintrag wurde zurückgezogen und kann nicht mehr geändert werden.".into()
            }
            (EditError::Duplicate, Lang::De) => "Eintrag existiert bereits.".into(),
            (EditError::Closed, Lang::De) => "Einsatz ist abgeschlossen.".into(),
            (EditError::NotClosed, Lang::De) => "Einsatz ist nicht abgeschlossen.".into(),
            (EditError::UnknownPatient, Lang::En) => "Patient not found.".into(),
            (EditError::UnknownEntry, Lang::En) => "Entry not found.".into(),
            (EditError::Retracted, Lang::En) => {
                "The entry was retracted and can no longer be changed.".into()
            }
            (EditError::Duplicate, Lang::En) => "The entry already exists.".into(),
            (EditError::Closed, Lang::En) => "The mission is closed.".into(),
            (EditError::NotClosed, Lang::En) => "The mission is not closed.".into(),
        }
    }
}

/// One value a field had, and who set it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// `None` after a `Clear`.
    pub value: Option<Value>,
    pub event: EventId,
    pub author: Uuid,
    pub device: String,
    pub wall_ms: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldState {
    pub history: Vec<Revision>,
}

impl FieldState {
    pub fn current(&self) -> Option<&Value> {
        self.history.last().and_then(|r| r.value.as_ref())
    }

    /// True when the value was changed after it was first set.
    pub fn corrected(&self) -> bool {
        self.history.len() > 1
    }
}

pub type Fields = BTreeMap<String, FieldState>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retraction {
    pub reason: String,
    pub event: EventId,
    pub author: Uuid,
    pub wall_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryState {
    pub id: EntryId,
    pub patient: PatientId,
    pub collection: Collection,
    pub fields: Fields,
    pub created_by: Uuid,
    pub created_ms: i64,
    pub retracted: Option<Retraction>,
}

impl EntryState {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key).and_then(FieldState::current)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientState {
    pub id: PatientId,
    pub fields: Fields,
    /// Entry ids in the order they were added.
    pub entries: Vec<EntryId>,
    /// ECG strips in the order they were recorded.
    pub strips: Vec<StripRef>,
    pub retracted: Option<Retraction>,
}

impl PatientState {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key).and_then(FieldState::current)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    HandedOver,
    Closed,
}

/// A change made after the protocol left the crew's hands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub target: Target,
    /// `None` for adding or retracting a whole entry or patient.
    pub field: Option<String>,
    pub original: Option<Value>,
    pub new: Option<Value>,
    pub what: &'static str,
    pub event: EventId,
    pub author: Uuid,
    pub wall_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverRecord {
    pub mode: HandoverMode,
    pub to: String,
    pub document_sha256: Option<Hash>,
    pub event: EventId,
    pub author: Uuid,
    pub wall_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRecord {
    pub from_call_sign: String,
    pub log_digest: Hash,
    pub events: u32,
    pub wall_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub event: EventId,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissionState {
    pub id: MissionId,
    pub call_sign: String,
    pub opened_ms: Option<i64>,
    pub crew: Vec<CrewRef>,
    pub fields: Fields,
    pub patients: Vec<PatientState>,
    pub entries: BTreeMap<EntryId, EntryState>,
    pub status: Status,
    /// Set by the first handover or print: from then on changes are audited.
    pub audited_since_ms: Option<i64>,
    pub audit: Vec<AuditEntry>,
    pub handovers: Vec<HandoverRecord>,
    pub merges: Vec<MergeRecord>,
    pub rejected: Vec<Rejected>,
    pub applied: usize,
}

impl MissionState {
    pub fn new(id: MissionId) -> Self {
        MissionState {
            id,
            call_sign: String::new(),
            opened_ms: None,
            crew: Vec::new(),
            fields: Fields::new(),
            patients: Vec::new(),
            entries: BTreeMap::new(),
            status: Status::Open,
            audited_since_ms: None,
            audit: Vec::new(),
            handovers: Vec::new(),
            merges: Vec::new(),
            rejected: Vec::new(),
            applied: 0,
        }
    }

    /// Folds events that are already in log order.
    pub fn fold<'a>(id: MissionId, events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut s = MissionState::new(id);
        for e in events {
            s.apply(e);
        }
        s
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key).and_then(FieldState::current)
    }

    pub fn patient(&self, id: PatientId) -> Option<&PatientState> {
        self.patients.iter().find(|p| p.id == id)
    }

    /// Patients not retracted.
    pub fn active_patients(&self) -> impl Iterator<Item = &PatientState> {
        self.patients.iter().filter(|p| p.retracted.is_none())
    }

    /// Entries of a patient in one collection, not retracted, in order.
    pub fn entries_of(
        &self,
        patient: PatientId,
        c: Collection,
    ) -> impl Iterator<Item = &EntryState> {
        self.patient(patient)
            .map(|p| p.entries.as_slice())
            .unwrap_or(&[])
            .iter()
            .filter_map(|id| self.entries.get(id))
            .filter(move |e| e.collection == c && e.retracted.is_none())
    }

    /// The field map and scope an edit on `target` goes to.
    fn resolve(&mut self, target: &Target) -> Result<(Scope, &mut Fields), String> {
        match target {
            Target::Mission => Ok((Scope::Mission, &mut self.fields)),
            Target::Patient(p) => self
                .patients
                .iter_mut()
                .find(|x| x.id == *p)
                .map(|x| (Scope::Patient, &mut x.fields))
                .ok_or_else(|| "unknown patient".to_string()),
            Target::Entry(e) => self
                .entries
                .get_mut(e)
                .map(|x| (Scope::Entry(x.collection), &mut x.fields))
                .ok_or_else(|| "unknown entry".to_string()),
        }
    }

    fn reject(&mut self, ev: &Event, reason: impl Into<String>) {
        self.rejected.push(Rejected {
            event: ev.id,
            reason: reason.into(),
        });
    }

    fn audit(
        &mut self,
        ev: &Event,
        target: Target,
        field: Option<String>,
        original: Option<Value>,
        new: Option<Value>,
    ) {
        if self.audited_since_ms.is_some() {
            self.audit.push(AuditEntry {
                target,
                field,
                original,
                new,
                what: ev.payload.kind_name(),
                event: ev.id,
                author: ev.author,
                wall_ms: ev.wall_ms,
            });
        }
    }

    /// Checks that `p` would apply cleanly, without changing anything. The
    /// core refuses an edit that fails here before it is persisted.
    pub fn precheck(&self, p: &Payload) -> Result<(), EditError> {
        let scope_of = |t: &Target| -> Result<Scope, EditError> {
            match t {
                Target::Mission => Ok(Scope::Mission),
                Target::Patient(id) => match self.patient(*id) {
                    Some(p) if p.retracted.is_none() => Ok(Scope::Patient),
                    Some(_) => Err(EditError::Retracted),
                    None => Err(EditError::UnknownPatient),
                },
                Target::Entry(id) => match self.entries.get(id) {
                    Some(e) if e.retracted.is_none() => Ok(Scope::Entry(e.collection)),
                    Some(_) => Err(EditError::Retracted),
                    None => Err(EditError::UnknownEntry),
                },
            }
        };
        if self.status == Status::Closed && !matches!(p, Payload::Reopened { .. }) {
            return Err(EditError::Closed);
        }
        match p {
            Payload::Set {
                target,
                field,
                value,
            } => {
                catalog::validate(scope_of(target)?, field, value)?;
            }
            Payload::Clear { target, field } => {
                let scope = scope_of(target)?;
                match catalog::field(field) {
                    Some(d) if d.scope == scope => {}
                    _ => return Err(catalog::ValueError::UnknownField(field.clone()).into()),
                }
            }
            Payload::PatientAdded { patient } if self.patient(*patient).is_some() => {
                return Err(EditError::Duplicate);
            }
            Payload::PatientRetracted { patient, .. } => {
                scope_of(&Target::Patient(*patient))?;
            }
            Payload::EntryAdded {
                patient,
                collection,
                entry,
                fields,
            } => {
                if self.entries.contains_key(entry) {
                    return Err(EditError::Duplicate);
                }
                scope_of(&Target::Patient(*patient))?;
                for (k, v) in fields {
                    catalog::validate(Scope::Entry(*collection), k, v)?;
                }
            }
            Payload::EntryRetracted { entry, .. } => {
                scope_of(&Target::Entry(*entry))?;
            }
            Payload::StripRecorded { patient, strip } => {
                scope_of(&Target::Patient(*patient))?;
                if self
                    .patient(*patient)
                    .is_some_and(|p| p.strips.iter().any(|s| s.hash == strip.hash))
                {
                    return Err(EditError::Duplicate);
                }
            }
            Payload::Reopened { .. } if self.status != Status::Closed => {
                return Err(EditError::NotClosed);
            }
            _ => {}
        }
        Ok(())
    }

    /// A `Set` (`new` is `Some`) or a `Clear` (`None`).
    fn apply_field(&mut self, ev: &Event, target: &Target, field: &str, new: Option<Value>) {
        let (scope, fields) = match self.resolve(target) {
            Ok(x) => x,
            Err(r) => return self.reject(ev, r),
        };
        let valid = match &new {
            Some(v) => catalog::validate(scope, field, v).map(|_| ()),
            None => catalog::field(field)
                .filter(|d| d.scope == scope)
                .map(|_| ())
                .ok_or_else(|| catalog::ValueError::UnknownField(field.to_string())),
        };
        if let Err(e) = valid {
            return self.reject(ev, e.to_string());
        }
        let fs = fields.entry(field.to_string()).or_default();
        let original = fs.current().cloned();
        fs.history.push(Revision {
            value: new.clone(),
            event: ev.id,
            author: ev.author,
            device: ev.device.clone(),
            wall_ms: ev.wall_ms,
        });
        self.audit(ev, target.clone(), Some(field.to_string()), original, new);
    }

    /// Applies one event. Events must come in log order.
    pub fn apply(&mut self, ev: &Event) {
        self.applied += 1;
        if ev.mission != self.id {
            return self.reject(ev, "event of another mission");
        }
        let rev = |value: Option<Value>| Revision {
            value,
            event: ev.id,
            author: ev.author,
            device: ev.device.clone(),
            wall_ms: ev.wall_ms,
        };
        let retraction = |reason: &str| Retraction {
            reason: reason.to_string(),
            event: ev.id,
            author: ev.author,
            wall_ms: ev.wall_ms,
        };
        match &ev.payload {
            Payload::MissionOpened { call_sign } => {
                if self.call_sign.is_empty() {
                    self.call_sign = call_sign.clone();
                }
                self.opened_ms.get_or_insert(ev.wall_ms);
            }
            Payload::CrewJoined { crew } => {
                for c in crew {
                    if !self.crew.iter().any(|x| x.id == c.id) {
                        self.crew.push(c.clone());
                    }
                }
            }
            Payload::PatientAdded { patient } => {
                if self.patient(*patient).is_some() {
                    return self.reject(ev, "patient already exists");
                }
                self.patients.push(PatientState {
                    id: *patient,
                    fields: Fields::new(),
                    entries: Vec::new(),
                    strips: Vec::new(),
                    retracted: None,
                });
                self.audit(ev, Target::Patient(*patient), None, None, None);
            }
            Payload::PatientRetracted { patient, reason } => {
                match self.patients.iter_mut().find(|p| p.id == *patient) {
                    Some(p) if p.retracted.is_none() => p.retracted = Some(retraction(reason)),
                    Some(_) => return self.reject(ev, "patient already retracted"),
                    None => return self.reject(ev, "unknown patient"),
                }
                self.audit(ev, Target::Patient(*patient), None, None, None);
            }
            Payload::Set {
                target,
                field,
                value,
            } => self.apply_field(ev, target, field, Some(value.clone())),
            Payload::Clear { target, field } => self.apply_field(ev, target, field, None),
            Payload::EntryAdded {
                patient,
                collection,
                entry,
                fields,
            } => {
                if self.entries.contains_key(entry) {
                    return self.reject(ev, "entry already exists");
                }
                let scope = Scope::Entry(*collection);
                if let Some(e) = fields
                    .iter()
                    .find_map(|(k, v)| catalog::validate(scope, k, v).err())
                {
                    return self.reject(ev, e.to_string());
                }
                let Some(p) = self.patients.iter_mut().find(|p| p.id == *patient) else {
                    return self.reject(ev, "unknown patient");
                };
                p.entries.push(*entry);
                let fields = fields
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            FieldState {
                                history: vec![rev(Some(v.clone()))],
                            },
                        )
                    })
                    .collect();
                self.entries.insert(
                    *entry,
                    EntryState {
                        id: *entry,
                        patient: *patient,
                        collection: *collection,
                        fields,
                        created_by: ev.author,
                        created_ms: ev.wall_ms,
                        retracted: None,
                    },
                );
                self.audit(ev, Target::Entry(*entry), None, None, None);
            }
            Payload::EntryRetracted { entry, reason } => {
                match self.entries.get_mut(entry) {
                    Some(e) if e.retracted.is_none() => e.retracted = Some(retraction(reason)),
                    Some(_) => return self.reject(ev, "entry already retracted"),
                    None => return self.reject(ev, "unknown entry"),
                }
                self.audit(ev, Target::Entry(*entry), None, None, None);
            }
            Payload::HandedOver {
                mode,
                to,
                document_sha256,
            } => {
                self.audited_since_ms.get_or_insert(ev.wall_ms);
                if self.status == Status::Open {
                    self.status = Status::HandedOver;
                }
                self.handovers.push(HandoverRecord {
                    mode: *mode,
                    to: to.clone(),
                    document_sha256: *document_sha256,
                    event: ev.id,
                    author: ev.author,
                    wall_ms: ev.wall_ms,
                });
            }
            Payload::LogMerged {
                from_call_sign,
                log_digest,
                events,
            } => {
                self.merges.push(MergeRecord {
                    from_call_sign: from_call_sign.clone(),
                    log_digest: *log_digest,
                    events: *events,
                    wall_ms: ev.wall_ms,
                });
            }
            Payload::StripRecorded { patient, strip } => {
                match self.patients.iter_mut().find(|p| p.id == *patient) {
                    Some(p) if p.retracted.is_none() => {
                        if p.strips.iter().any(|s| s.hash == strip.hash) {
                            return self.reject(ev, "strip already recorded");
                        }
                        let at = p.strips.partition_point(|s| {
                            (s.start_ms, s.hash) <= (strip.start_ms, strip.hash)
                        });
                        p.strips.insert(at, strip.clone());
                    }
                    Some(_) => return self.reject(ev, "patient retracted"),
                    None => return self.reject(ev, "unknown patient"),
                }
                self.audit(ev, Target::Patient(*patient), None, None, None);
            }
            Payload::Closed => {
                self.audit(ev, Target::Mission, None, None, None);
                self.status = Status::Closed;
            }
            Payload::Reopened { .. } => {
                self.audit(ev, Target::Mission, None, None, None);
                self.status = if self.audited_since_ms.is_some() {
                    Status::HandedOver
                } else {
                    Status::Open
                };
            }
        }
    }
}
