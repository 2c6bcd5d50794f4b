//! What one dispatch message means for one pad's record.
//!
//! Rules (docs/dispatch.md §6):
//! - an empty field takes the ELS value; a value the ELS set earlier takes
//!   its update (address corrected);
//! - a value the crew set always wins: the ELS value becomes a
//!   [`Proposal`] the crew may accept, and nothing is overwritten;
//! - of each status the *first* after the alarm counts (by ELS time, not
//!   arrival): a repeat is ignored, an earlier one that arrives late
//!   replaces a later one; a status from before this unit's alarm is ignored;
//! - a cancel records the time; nothing is deleted;
//! - a closed mission, or one this pad no longer holds, takes nothing.

use crate::msg::{Body, Dispatch, DispatchError, Mission};
use crate::status::is_dispatch_time;
use crate::{els_author, mission_id};
use rettpad_record::catalog::{self, Kind};
use rettpad_record::keys::{mission as mk, patient as pk, time as tk};
use rettpad_record::state::FieldState;
use rettpad_record::{
    MissionId, MissionState, Num, PartialDate, PatientId, Payload, Status, Target, TimeSource,
    TimeValue, Value,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A clock difference between ELS and gateway worth a warning.
pub const SKEW_WARN_MS: i64 = 60_000;
/// A status this long before the unit's alarm belongs to another mission.
const BEFORE_ALARM_MS: i64 = 60_000;

/// What the gateway sends one pad about one ELS mission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToPad {
    pub dispatch: Dispatch,
    /// [`mission_id`] of the centre and number (checked on the pad).
    pub mission_id: Uuid,
    /// The unit this pad documents for.
    pub call_sign: String,
    /// When the gateway received the message (its clock).
    pub received_ms: i64,
    /// For a status: the time fields the centre's status map assigns.
    #[serde(default)]
    pub fields: Vec<String>,
}

impl ToPad {
    /// The checks a pad makes before it acts on a message.
    pub fn validate(&self) -> Result<(), DispatchError> {
        let d = &self.dispatch;
        if self.mission_id != mission_id(&d.centre, d.number()) {
            return Err(DispatchError::Invalid("/mission_id"));
        }
        let unit_ok = match &d.body {
            Body::Mission(m) => m.units.iter().any(|u| u.call_sign == self.call_sign),
            Body::Status(s) => s.call_sign == self.call_sign,
            Body::Cancel(_) => !self.call_sign.is_empty(),
        };
        if !unit_ok {
            return Err(DispatchError::Invalid("/call_sign"));
        }
        if self.fields.iter().any(|f| !is_dispatch_time(f)) {
            return Err(DispatchError::Invalid("/fields"));
        }
        Ok(())
    }
}

/// A value the ELS sent for a field the crew already documented.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub target: Target,
    pub field: String,
    pub value: Value,
    pub current: Option<Value>,
}

/// The edits one message implies, in order; `author` is the ELS.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub mission: MissionId,
    pub author: Uuid,
    /// New on this pad: open it for `call_sign` first.
    pub open: bool,
    pub edits: Vec<Payload>,
    pub proposals: Vec<Proposal>,
    /// Why (parts of) the message were not applied, for the log.
    pub ignored: Vec<&'static str>,
    /// ELS clock minus gateway clock, when over [`SKEW_WARN_MS`].
    pub skew_ms: Option<i64>,
}

/// The plan for `msg` given the mission's state on this pad (`None`: not
/// here). `known` says the pad held this mission before (uploaded and
/// deleted since): then nothing is opened again.
pub fn plan(state: Option<&MissionState>, known: bool, msg: &ToPad) -> Plan {
    let d = &msg.dispatch;
    let mut p = Plan {
        mission: MissionId(msg.mission_id),
        author: els_author(&d.centre),
        open: false,
        edits: Vec::new(),
        proposals: Vec::new(),
        ignored: Vec::new(),
        skew_ms: d
            .sent_ms
            .map(|s| s - msg.received_ms)
            .filter(|s| s.abs() > SKEW_WARN_MS),
    };
    match state {
        Some(st) if st.status == Status::Closed => {
            p.ignored.push("mission closed on this pad");
            return p;
        }
        None if known => {
            p.ignored.push("mission already finished on this pad");
            return p;
        }
        None if !matches!(d.body, Body::Mission(_)) => {
            p.ignored.push("no such mission on this pad");
            return p;
        }
        _ => {}
    }
    let empty = MissionState::new(p.mission);
    p.open = state.is_none();
    let st = state.unwrap_or(&empty);
    match &d.body {
        Body::Mission(m) => mission(&mut p, st, d, m, &msg.call_sign),
        Body::Status(s) => {
            let alarm = time_at(st.fields.get(tk::ALARM));
            if alarm.is_some_and(|a| s.at_ms < a - BEFORE_ALARM_MS) {
                p.ignored.push("status from before the alarm");
                return p;
            }
            if msg.fields.is_empty() {
                p.ignored.push("status sets no time field");
            }
            for f in &msg.fields {
                let v = Value::Time(TimeValue {
                    at_ms: s.at_ms,
                    source: TimeSource::Dispatch {
                        status: Some(s.status),
                    },
                });
                status_time(&mut p, st, f, v);
            }
        }
        Body::Cancel(c) => {
            let v = Value::Time(TimeValue {
                at_ms: c.at_ms,
                source: TimeSource::Dispatch { status: None },
            });
            consider(
                &mut p,
                Target::Mission,
                st.fields.get(mk::CANCELLED_AT),
                mk::CANCELLED_AT,
                v,
            );
        }
    }
    p
}

fn time_at(f: Option<&FieldState>) -> Option<i64> {
    match f?.current()? {
        Value::Time(t) => Some(t.at_ms),
        _ => None,
    }
}

fn set(target: Target, field: &str, value: Value) -> Payload {
    Payload::Set {
        target,
        field: field.to_string(),
        value,
    }
}

/// One field: empty or ELS-set → edit; same → nothing; crew-set → proposal.
fn consider(p: &mut Plan, target: Target, cur: Option<&FieldState>, field: &str, v: Value) {
    let last = cur.and_then(|f| f.history.last());
    match last {
        None => p.edits.push(set(target, field, v)),
        Some(r) if r.value.as_ref() == Some(&v) => {}
        Some(r) if r.author == p.author => p.edits.push(set(target, field, v)),
        Some(r) => p.proposals.push(Proposal {
            target,
            field: field.to_string(),
            value: v,
            current: r.value.clone(),
        }),
    }
}

/// A status time: the first of each status by ELS time wins.
fn status_time(p: &mut Plan, st: &MissionState, field: &str, v: Value) {
    let cur = st.fields.get(field);
    let els_set = cur
        .and_then(|f| f.history.last())
        .is_some_and(|r| r.author == p.author);
    if els_set
        && let (Some(old), Value::Time(new)) = (time_at(cur), &v)
        && new.at_ms >= old
    {
        p.ignored.push("later repeat of a status");
        return;
    }
    consider(p, Target::Mission, cur, field, v);
}

/// Clips text to the field's length (the ELS may send more than the
/// record keeps; the gateway keeps the whole message).
fn text(key: &str, s: &str) -> Value {
    let max = match catalog::field(key).map(|d| d.kind) {
        Some(Kind::Text { max_len }) => max_len,
        _ => 64,
    };
    Value::Text(s.chars().take(max).collect())
}

fn unit_code(t: &str) -> Option<&'static str> {
    Some(match t.trim().to_ascii_uppercase().as_str() {
        "NEF" => "01",
        "RTW" => "02",
        "KTW" => "03",
        "NAW" => "04",
        "RTH" => "05",
        "ITH" => "06",
        "ITW" => "07",
        _ => return None,
    })
}

fn sex_code(s: &str) -> Option<&'static str> {
    Some(match s.to_ascii_lowercase().as_str() {
        "m" => "M",
        "w" | "f" => "W",
        "d" => "D",
        "x" => "X",
        "u" => "U",
        _ => return None,
    })
}

/// `YYYY-MM-DD` with `00` for unknown parts.
fn birth_date(s: &str) -> Option<PartialDate> {
    let mut it = s.splitn(3, '-');
    let d = PartialDate {
        year: it.next()?.parse().ok()?,
        month: it.next()?.parse().ok()?,
        day: it.next()?.parse().ok()?,
    };
    d.is_valid().then_some(d)
}

fn degrees(x: f64) -> Num {
    // Thousandths of a degree (≈ 100 m): what the record keeps.
    Num((x * 1000.0).round() as i64)
}

fn mission(p: &mut Plan, st: &MissionState, d: &Dispatch, m: &Mission, call_sign: &str) {
    let unit = m.units.iter().find(|u| u.call_sign == call_sign);
    let mut fields: Vec<(&str, Value)> = vec![
        (mk::NUMBER, text(mk::NUMBER, &m.number)),
        (mk::DISPATCH_CENTER, text(mk::DISPATCH_CENTER, &d.centre)),
        (mk::CALL_SIGN, text(mk::CALL_SIGN, call_sign)),
    ];
    if let Some(c) = unit
        .and_then(|u| u.unit_type.as_deref())
        .and_then(unit_code)
    {
        fields.push((mk::UNIT_TYPE, Value::code(c)));
    }
    let keyword = [m.keyword_code.as_deref(), m.keyword_text.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" – ");
    if !keyword.is_empty() {
        fields.push((mk::KEYWORD, text(mk::KEYWORD, &keyword)));
    }
    if let Some(a) = &m.alarm_text {
        fields.push((mk::ALARM_TEXT, text(mk::ALARM_TEXT, a)));
    }
    let l = &m.location;
    let street = [l.street.as_deref(), l.house_number.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !street.is_empty() {
        fields.push((mk::ADDRESS_STREET, text(mk::ADDRESS_STREET, &street)));
    }
    if let Some(v) = &l.postcode {
        fields.push((mk::ADDRESS_POSTCODE, text(mk::ADDRESS_POSTCODE, v)));
    }
    if let Some(v) = &l.city {
        fields.push((mk::ADDRESS_CITY, text(mk::ADDRESS_CITY, v)));
    }
    let object = [
        l.object.as_deref(),
        l.floor.as_deref(),
        l.remarks.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    if !object.is_empty() {
        fields.push((mk::ADDRESS_OBJECT, text(mk::ADDRESS_OBJECT, &object)));
    }
    if let (Some(lat), Some(lon)) = (l.lat, l.lon) {
        fields.push((mk::GPS_LAT, Value::Num(degrees(lat))));
        fields.push((mk::GPS_LON, Value::Num(degrees(lon))));
    }
    if let Some(at) = unit.and_then(|u| u.alarmed_ms) {
        fields.push((
            tk::ALARM,
            Value::Time(TimeValue {
                at_ms: at,
                source: TimeSource::Dispatch { status: None },
            }),
        ));
    }
    for (k, v) in fields {
        consider(p, Target::Mission, st.fields.get(k), k, v);
    }
    let Some(pt) = &m.patient else { return };
    let mut pf: Vec<(&str, Value)> = Vec::new();
    if let Some(v) = &pt.family_name {
        pf.push((pk::FAMILY_NAME, text(pk::FAMILY_NAME, v)));
    }
    if let Some(v) = &pt.given_name {
        pf.push((pk::GIVEN_NAME, text(pk::GIVEN_NAME, v)));
    }
    if let Some(v) = pt.birth_date.as_deref().and_then(birth_date) {
        pf.push((pk::BIRTH_DATE, Value::Date(v)));
    }
    if let Some(c) = pt.sex.as_deref().and_then(sex_code) {
        pf.push((pk::SEX, Value::code(c)));
    }
    if pf.is_empty() {
        return;
    }
    // The first patient; a new one only where there is none.
    let (pid, ps) = match st.active_patients().next() {
        Some(ps) => (ps.id, Some(ps)),
        None => {
            let id = PatientId::new();
            p.edits.push(Payload::PatientAdded { patient: id });
            (id, None)
        }
    };
    for (k, v) in pf {
        consider(
            p,
            Target::Patient(pid),
            ps.and_then(|s| s.fields.get(k)),
            k,
            v,
        );
    }
}
