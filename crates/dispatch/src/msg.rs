//! `rettpad.dispatch/1`: the neutral dispatch message every ELS adapter
//! produces (docs/dispatch.md). Parsing is strict about ids, sizes and
//! times and lenient about everything else: every field except the ids is
//! optional, because sources range from a full ELDIS record to an SMS.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const SCHEMA: &str = "rettpad.dispatch/1";
/// Largest message the gateway takes from a dispatch centre.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
const MAX_ID: usize = 64;
const MAX_TEXT: usize = 512;
const MAX_UNITS: usize = 32;

/// Why a dispatch message was refused. `Display` is the English answer
/// the adapter gets; it never repeats a value of the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    #[error("message of {0} bytes exceeds the limit of {MAX_MESSAGE_BYTES} bytes")]
    TooLarge(usize),
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("schema must be \"{SCHEMA}\"")]
    Schema,
    #[error("field {0} is required")]
    Missing(&'static str),
    #[error("field {0} is invalid")]
    Invalid(&'static str),
    #[error("field {0} is too long")]
    TooLong(&'static str),
    #[error("unknown kind (expected mission, status or cancel)")]
    Kind,
}

/// A validated message, in the canonical form the gateway stores and
/// forwards to pads (which validate it again: it is outside data there too).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dispatch {
    pub msg_id: Uuid,
    pub centre: String,
    /// The ELS's own clock, when it said.
    pub sent_ms: Option<i64>,
    #[serde(flatten)]
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Body {
    Mission(Box<Mission>),
    Status(StatusReport),
    Cancel(Cancel),
}

impl Dispatch {
    pub fn number(&self) -> &str {
        match &self.body {
            Body::Mission(m) => &m.number,
            Body::Status(s) => &s.number,
            Body::Cancel(c) => &c.number,
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self.body {
            Body::Mission(_) => "mission",
            Body::Status(_) => "status",
            Body::Cancel(_) => "cancel",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mission {
    pub number: String,
    /// Rises with every update of the ELS record; a lower one is stale.
    pub revision: u32,
    pub keyword_code: Option<String>,
    pub keyword_text: Option<String>,
    /// The alarm text (Meldebild).
    pub alarm_text: Option<String>,
    pub signal: Option<bool>,
    pub location: Location,
    pub patient: Option<Patient>,
    pub units: Vec<Unit>,
    pub destination: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub street: Option<String>,
    pub house_number: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    pub object: Option<String>,
    pub floor: Option<String>,
    pub remarks: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Patient {
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    /// `YYYY-MM-DD` with `00` for unknown parts.
    pub birth_date: Option<String>,
    /// `m`, `w`/`f`, `d`, `x` or `u`.
    pub sex: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    pub call_sign: String,
    /// RTW, NEF, KTW, … as the ELS names it.
    pub unit_type: Option<String>,
    /// When the ELS alarmed this unit: the record's `time.alarm`.
    pub alarmed_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReport {
    pub number: String,
    pub call_sign: String,
    /// FMS/TETRA status 0–9.
    pub status: u8,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancel {
    pub number: String,
    pub at_ms: i64,
    pub reason: Option<String>,
}

// ---- the wire form (docs/dispatch.md §4) --------------------------------

#[derive(Deserialize)]
struct Wire {
    schema: Option<String>,
    msg_id: Option<String>,
    kind: Option<String>,
    centre: Option<WireCentre>,
    sent_at: Option<String>,
    mission: Option<WireMission>,
    mission_number: Option<String>,
    call_sign: Option<String>,
    status: Option<i64>,
    at: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
struct WireCentre {
    id: Option<String>,
}

#[derive(Deserialize)]
struct WireMission {
    number: Option<String>,
    revision: Option<u32>,
    keyword: Option<WireKeyword>,
    meldebild: Option<String>,
    signal: Option<bool>,
    location: Option<WireLocation>,
    patient: Option<WirePatient>,
    units: Option<Vec<WireUnit>>,
    destination: Option<String>,
}

#[derive(Deserialize)]
struct WireKeyword {
    code: Option<String>,
    text: Option<String>,
}

#[derive(Deserialize)]
struct WireLocation {
    street: Option<String>,
    house_number: Option<String>,
    postcode: Option<String>,
    city: Option<String>,
    object: Option<String>,
    floor: Option<String>,
    remarks: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
}

#[derive(Deserialize)]
struct WirePatient {
    name: Option<String>,
    family_name: Option<String>,
    given_name: Option<String>,
    birth_date: Option<String>,
    sex: Option<String>,
}

#[derive(Deserialize)]
struct WireUnit {
    call_sign: Option<String>,
    #[serde(rename = "type")]
    unit_type: Option<String>,
    alarmed_at: Option<String>,
}

/// Parses an RFC 3339 time with offset into UTC milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// Formats UTC milliseconds as RFC 3339 (UTC).
pub fn format_time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn text(
    v: Option<String>,
    max: usize,
    name: &'static str,
) -> Result<Option<String>, DispatchError> {
    let Some(s) = v else { return Ok(None) };
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.chars().count() > max {
        return Err(DispatchError::TooLong(name));
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(DispatchError::Invalid(name));
    }
    Ok(Some(s.to_string()))
}

fn ident(v: Option<String>, name: &'static str) -> Result<String, DispatchError> {
    let s = text(v, MAX_ID, name)?.ok_or(DispatchError::Missing(name))?;
    if s.contains('\n') {
        return Err(DispatchError::Invalid(name));
    }
    Ok(s)
}

fn time_of(v: Option<String>, name: &'static str) -> Result<Option<i64>, DispatchError> {
    match v {
        None => Ok(None),
        Some(s) => parse_time(&s).map(Some).ok_or(DispatchError::Invalid(name)),
    }
}

fn coord(v: Option<f64>, limit: f64, name: &'static str) -> Result<Option<f64>, DispatchError> {
    match v {
        Some(x) if !x.is_finite() || x.abs() > limit => Err(DispatchError::Invalid(name)),
        other => Ok(other),
    }
}

/// Parses and validates one message from a dispatch centre.
pub fn parse(bytes: &[u8]) -> Result<Dispatch, DispatchError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DispatchError::TooLarge(bytes.len()));
    }
    let w: Wire = serde_json::from_slice(bytes).map_err(|e| {
        // Position only: serde's message may quote a value.
        DispatchError::Json(format!("line {} column {}", e.line(), e.column()))
    })?;
    if w.schema.as_deref() != Some(SCHEMA) {
        return Err(DispatchError::Schema);
    }
    let msg_id = w
        .msg_id
        .as_deref()
        .ok_or(DispatchError::Missing("/msg_id"))
        .and_then(|s| Uuid::parse_str(s).map_err(|_| DispatchError::Invalid("/msg_id")))?;
    if msg_id.is_nil() {
        return Err(DispatchError::Invalid("/msg_id"));
    }
    let centre = ident(w.centre.and_then(|c| c.id), "/centre/id")?;
    let sent_ms = time_of(w.sent_at, "/sent_at")?;
    let body = match w.kind.as_deref() {
        Some("mission") => Body::Mission(Box::new(mission(
            w.mission.ok_or(DispatchError::Missing("/mission"))?,
        )?)),
        Some("status") => {
            let status = w.status.ok_or(DispatchError::Missing("/status"))?;
            let status = u8::try_from(status)
                .ok()
                .filter(|s| *s <= 9)
                .ok_or(DispatchError::Invalid("/status"))?;
            Body::Status(StatusReport {
                number: ident(w.mission_number, "/mission_number")?,
                call_sign: ident(w.call_sign, "/call_sign")?,
                status,
                at_ms: time_of(w.at, "/at")?.ok_or(DispatchError::Missing("/at"))?,
            })
        }
        Some("cancel") => Body::Cancel(Cancel {
            number: ident(w.mission_number, "/mission_number")?,
            at_ms: time_of(w.at, "/at")?.ok_or(DispatchError::Missing("/at"))?,
            reason: text(w.reason, MAX_TEXT, "/reason")?,
        }),
        _ => return Err(DispatchError::Kind),
    };
    Ok(Dispatch {
        msg_id,
        centre,
        sent_ms,
        body,
    })
}

fn mission(m: WireMission) -> Result<Mission, DispatchError> {
    let loc = m.location.map(location).transpose()?.unwrap_or_default();
    let patient = m.patient.map(patient).transpose()?.flatten();
    let units = m.units.unwrap_or_default();
    if units.len() > MAX_UNITS {
        return Err(DispatchError::TooLong("/mission/units"));
    }
    let mut out = Vec::with_capacity(units.len());
    for u in units {
        let call_sign = ident(u.call_sign, "/mission/units/call_sign")?;
        if out.iter().any(|o: &Unit| o.call_sign == call_sign) {
            return Err(DispatchError::Invalid("/mission/units/call_sign"));
        }
        out.push(Unit {
            call_sign,
            unit_type: text(u.unit_type, 16, "/mission/units/type")?,
            alarmed_ms: time_of(u.alarmed_at, "/mission/units/alarmed_at")?,
        });
    }
    let (keyword_code, keyword_text) = match m.keyword {
        Some(k) => (
            text(k.code, 32, "/mission/keyword/code")?,
            text(k.text, MAX_TEXT, "/mission/keyword/text")?,
        ),
        None => (None, None),
    };
    Ok(Mission {
        number: ident(m.number, "/mission/number")?,
        revision: m.revision.unwrap_or(1),
        keyword_code,
        keyword_text,
        alarm_text: text(m.meldebild, MAX_TEXT, "/mission/meldebild")?,
        signal: m.signal,
        location: loc,
        patient,
        units: out,
        destination: text(m.destination, MAX_ID, "/mission/destination")?,
    })
}

fn location(l: WireLocation) -> Result<Location, DispatchError> {
    Ok(Location {
        street: text(l.street, 96, "/mission/location/street")?,
        house_number: text(l.house_number, 16, "/mission/location/house_number")?,
        postcode: text(l.postcode, 10, "/mission/location/postcode")?,
        city: text(l.city, 64, "/mission/location/city")?,
        object: text(l.object, MAX_TEXT, "/mission/location/object")?,
        floor: text(l.floor, 64, "/mission/location/floor")?,
        remarks: text(l.remarks, MAX_TEXT, "/mission/location/remarks")?,
        lat: coord(l.lat, 90.0, "/mission/location/lat")?,
        lon: coord(l.lon, 180.0, "/mission/location/lon")?,
    })
}

fn patient(p: WirePatient) -> Result<Option<Patient>, DispatchError> {
    let (mut family, mut given) = (
        text(p.family_name, 64, "/mission/patient/family_name")?,
        text(p.given_name, 64, "/mission/patient/given_name")?,
    );
    // One `name` field: the last word is the family name.
    if family.is_none()
        && let Some(n) = text(p.name, 128, "/mission/patient/name")?
    {
        match n.rsplit_once(' ') {
            Some((g, f)) => {
                given = given.or(Some(g.trim().to_string()));
                family = Some(f.to_string());
            }
            None => family = Some(n),
        }
    }
    let out = Patient {
        family_name: family,
        given_name: given,
        birth_date: text(p.birth_date, 10, "/mission/patient/birth_date")?,
        sex: text(p.sex, 1, "/mission/patient/sex")?,
    };
    Ok((out != Patient::default()).then_some(out))
}
