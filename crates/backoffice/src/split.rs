//! Splits a protocol's event log into what the archive keeps apart: the
//! patient's identity, the medical record, free text and coded statistics
//! (pure; no database, no keys).

use rettpad_record::catalog::{self, Kind};
use rettpad_record::keys::{insurance, mission, patient};
use rettpad_record::state::Fields;
use rettpad_record::{Event, MissionId, MissionState, Status, Target, Value, log};
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

/// The fields that name a patient: shown only behind the reason gate.
pub const IDENTITY: &[&str] = &[
    patient::FAMILY_NAME,
    patient::GIVEN_NAME,
    patient::TITLE,
    patient::BIRTH_DATE,
    patient::ADDRESS_STREET,
    patient::ADDRESS_EXTRA,
    patient::ADDRESS_POSTCODE,
    patient::ADDRESS_CITY,
    patient::ADDRESS_COUNTRY,
    insurance::NUMBER,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Identity,
    /// Text typed by the crew: may name anyone, so kept apart and never in
    /// statistics.
    FreeText,
    /// Codes, numbers, times: the medical record and the statistics.
    Coded,
}

pub fn class(key: &str) -> Class {
    if IDENTITY.contains(&key) {
        return Class::Identity;
    }
    match catalog::field(key).map(|d| &d.kind) {
        Some(Kind::Text { .. }) | None => Class::FreeText,
        Some(_) => Class::Coded,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatRow {
    /// Empty for mission fields.
    pub patient: String,
    pub field: String,
    pub ord: i64,
    pub code: Option<String>,
    pub num: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRow {
    pub ord: i64,
    pub at_ms: i64,
    pub author: String,
    pub what: String,
    pub field: Option<String>,
    /// Target and values (sealed in the archive: a value may be identity).
    pub detail: Json,
}

#[derive(Debug, Clone)]
pub struct Split {
    pub identity: Vec<(String, Json)>,
    pub medical: Json,
    pub free_text: Json,
    pub stats: Vec<StatRow>,
    pub changes: Vec<ChangeRow>,
    pub events: i64,
    pub digest: String,
    pub chain_issues: i64,
    pub opened_ms: Option<i64>,
    pub handed_over_ms: Option<i64>,
    pub closed: bool,
    pub els_number: Option<String>,
    pub patients: i64,
    /// The crew members' ids (the shift login's staff ids): whose mission.
    pub crew: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("the event log does not decode")]
    Decode,
    #[error("the event log holds no event of mission {0}")]
    Empty(Uuid),
}

fn json(v: &Value) -> Json {
    serde_json::to_value(v).unwrap_or(Json::Null)
}

fn fields_of(fields: &Fields, want: Class) -> Map<String, Json> {
    fields
        .iter()
        .filter(|(k, _)| class(k) == want)
        .filter_map(|(k, f)| f.current().map(|v| (k.clone(), json(v))))
        .collect()
}

/// `codes_only`: for entries, only their codes (which measure, drug,
/// diagnosis) are statistics; a vital set's numbers stay in the record.
fn stat_rows(out: &mut Vec<StatRow>, patient: &str, fields: &Fields, codes_only: bool) {
    for (k, f) in fields {
        if class(k) != Class::Coded {
            continue;
        }
        if codes_only && !matches!(f.current(), Some(Value::Code(_) | Value::Codes(_))) {
            continue;
        }
        let Some(v) = f.current() else { continue };
        // `ord` is numbered once all rows are known.
        let row = |code: Option<String>, num: Option<i64>| StatRow {
            patient: patient.to_string(),
            field: k.clone(),
            ord: 0,
            code,
            num,
        };
        match v {
            Value::Code(c) => out.push(row(Some(c.clone()), None)),
            Value::Codes(cs) => {
                for c in cs {
                    out.push(row(Some(c.clone()), None));
                }
            }
            Value::Int(i) => out.push(row(None, Some(*i))),
            Value::Num(n) => out.push(row(None, Some(n.0))),
            Value::Time(t) => out.push(row(None, Some(t.at_ms))),
            Value::Bool(b) => out.push(row(None, Some(i64::from(*b)))),
            Value::Date(_) => {
                let j = json(v);
                let code = j.as_str().map_or_else(|| j.to_string(), str::to_string);
                out.push(row(Some(code), None));
            }
            Value::Measured(m) => {
                if let Some(n) = m.value {
                    out.push(row(None, Some(n.0)));
                }
            }
            Value::Text(_) => {}
        }
    }
}

/// Splits the events of `mission` in `events_json` (the packet's
/// `events.json`).
pub fn split(events_json: &[u8], mission_id: Uuid) -> Result<Split, SplitError> {
    let events: Vec<Event> = serde_json::from_slice(events_json).map_err(|_| SplitError::Decode)?;
    let events: Vec<Event> = events
        .into_iter()
        .filter(|e| e.mission.0 == mission_id)
        .collect();
    if events.is_empty() {
        return Err(SplitError::Empty(mission_id));
    }
    let st = MissionState::fold(MissionId(mission_id), events.iter());
    let mut identity = Vec::new();
    let mut stats = Vec::new();
    stat_rows(&mut stats, "", &st.fields, false);
    let mut med_patients = Vec::new();
    let mut text_patients = Map::new();
    for p in &st.patients {
        let pid = p.id.to_string();
        let id_fields = fields_of(&p.fields, Class::Identity);
        if !id_fields.is_empty() {
            identity.push((pid.clone(), Json::Object(id_fields)));
        }
        if p.retracted.is_none() {
            stat_rows(&mut stats, &pid, &p.fields, false);
        }
        med_patients.push(json!({
            "id": pid,
            "retracted": p.retracted.as_ref().map(|r| r.wall_ms),
            "fields": fields_of(&p.fields, Class::Coded),
        }));
        let t = fields_of(&p.fields, Class::FreeText);
        if !t.is_empty() {
            text_patients.insert(pid, Json::Object(t));
        }
    }
    let mut med_entries = Vec::new();
    let mut text_entries = Map::new();
    for e in st.entries.values() {
        let coll = serde_json::to_value(e.collection).unwrap_or(Json::Null);
        if e.retracted.is_none() {
            stat_rows(&mut stats, &e.patient.to_string(), &e.fields, true);
        }
        med_entries.push(json!({
            "id": e.id.to_string(),
            "patient": e.patient.to_string(),
            "collection": coll,
            "created_ms": e.created_ms,
            "retracted": e.retracted.as_ref().map(|r| r.wall_ms),
            "fields": fields_of(&e.fields, Class::Coded),
        }));
        let t = fields_of(&e.fields, Class::FreeText);
        if !t.is_empty() {
            text_entries.insert(e.id.to_string(), Json::Object(t));
        }
    }
    // One running number per protocol: the row's key.
    for (i, s) in stats.iter_mut().enumerate() {
        s.ord = i as i64;
    }
    let changes = st
        .audit
        .iter()
        .enumerate()
        .map(|(i, a)| ChangeRow {
            ord: i as i64,
            at_ms: a.wall_ms,
            author: a.author.to_string(),
            what: a.what.to_string(),
            field: a.field.clone(),
            detail: json!({
                "target": target_json(&a.target),
                "original": a.original.as_ref().map(json),
                "new": a.new.as_ref().map(json),
                "event": a.event.to_string(),
            }),
        })
        .collect();
    let els_number = match st.get(mission::NUMBER) {
        Some(Value::Text(s)) => Some(s.clone()),
        _ => None,
    };
    Ok(Split {
        identity,
        medical: json!({
            "call_sign": st.call_sign,
            "crew": st.crew,
            "fields": fields_of(&st.fields, Class::Coded),
            "patients": med_patients,
            "entries": med_entries,
            "handovers": st.handovers.iter().map(|h| json!({
                "mode": h.mode, "to": h.to, "at_ms": h.wall_ms,
                "document_sha256": h.document_sha256.map(|d| d.to_hex()),
            })).collect::<Vec<_>>(),
        }),
        free_text: json!({
            "mission": fields_of(&st.fields, Class::FreeText),
            "patients": text_patients,
            "entries": text_entries,
        }),
        stats,
        changes,
        events: events.len() as i64,
        digest: log::digest(&events).to_hex(),
        chain_issues: log::verify(&events).len() as i64,
        opened_ms: st.opened_ms,
        handed_over_ms: st.audited_since_ms,
        closed: st.status == Status::Closed,
        els_number,
        patients: st.active_patients().count() as i64,
        crew: st.crew.iter().map(|c| c.id.to_string()).collect(),
    })
}

fn target_json(t: &Target) -> Json {
    match t {
        Target::Mission => json!("mission"),
        Target::Patient(p) => json!({ "patient": p.to_string() }),
        Target::Entry(e) => json!({ "entry": e.to_string() }),
    }
}
