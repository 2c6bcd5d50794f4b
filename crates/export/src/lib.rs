//! Structured exports of a mission for the server payload of an upload
//! packet: an HL7 FHIR R4 document Bundle ([`fhir::bundle`]) and the DIVI/MIND
//! protocol as XML ([`mind::xml`]).
//!
//! Invariants:
//! - Pure: no I/O, no clock, no randomness. The same state and context give
//!   the same bytes (resource ids are derived from the record's ids, the
//!   timestamp comes from the event log via [`ExportContext`]).
//! - Driven by the field catalog (`record::catalog`): labels, units, LOINC
//!   codes, code lists and section letters come from there. Only mappings the
//!   catalog does not hold (UCUM spellings, LOINC of scored findings, FHIR
//!   value sets) live in [`terms`].
//! - Nothing documented is dropped silently: every current value of an
//!   active patient or entry ends up in a structured element or, where FHIR
//!   has no place for it, in the section narrative or a note. Retracted
//!   patients and entries are left out (the event log in the same packet
//!   keeps them).
//! - Text that XML cannot carry (C0 control characters other than tab, line
//!   feed and carriage return) is replaced by U+FFFD; the event log keeps
//!   the original.

pub mod fhir;
mod json;
pub mod mind;
pub mod terms;

use rettpad_record::catalog::{FieldDef, Kind, Section};
use rettpad_record::event::{Event, Payload};
use rettpad_record::value::{PartialDate, berlin_offset_ms, civil_from_ms};
use rettpad_record::{Num, PatientId, Value};
use uuid::Uuid;

/// The destination hospital as the routing of the packet names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hospital {
    /// Routing id of the hospital (IK if it is one, else the gateway's id).
    pub id: String,
    pub name: String,
}

/// What an export needs that the mission state does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportContext {
    /// Id of the document (Bundle.id / identifier, MIND `document`); the
    /// packet id by default.
    pub document_id: Uuid,
    /// Creation time of the document (Bundle.timestamp, Composition.date),
    /// UTC ms. Take it from the event log ([`log_timestamp`]), never the clock.
    pub timestamp_ms: i64,
    /// Serial of the pad that exports.
    pub device_serial: String,
    /// Call sign of the unit that exports.
    pub call_sign: String,
    pub target_hospital: Option<Hospital>,
    /// The patient a FHIR document is about. `None`: the only active patient
    /// (or none for a mission without patient). MIND XML always holds all.
    pub patient: Option<PatientId>,
}

/// Why an export failed. Nothing is written partially.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error("patient {0} is not an active patient of this mission")]
    UnknownPatient(PatientId),
    #[error("the mission has {0} active patients; choose one for a FHIR document")]
    AmbiguousPatient(usize),
    #[error("no UCUM unit known for catalog unit {0:?}")]
    NoUcum(String),
    #[error("time {0} ms is outside the years 0..9999")]
    TimeOutOfRange(i64),
    #[error("serialisation failed: {0}")]
    Serialize(String),
}

impl rettpad_text::UserMessage for ExportError {
    fn message(&self, lang: rettpad_text::Lang) -> String {
        use rettpad_text::Lang;
        match (self, lang) {
            (ExportError::UnknownPatient(_), Lang::De) => {
                "Patient für den Export nicht gefunden.".into()
            }
            (ExportError::UnknownPatient(_), Lang::En) => {
                "Patient for the export not found.".into()
            }
            (ExportError::AmbiguousPatient(n), Lang::De) => {
                format!("Einsatz hat {n} Patienten: bitte einen für das FHIR-Dokument wählen.")
            }
            (ExportError::AmbiguousPatient(n), Lang::En) => {
                format!("The mission has {n} patients: please choose one for the FHIR document.")
            }
            (ExportError::NoUcum(_) | ExportError::Serialize(_), Lang::De) => {
                "Interner Fehler beim Erzeugen des strukturierten Exports.".into()
            }
            (ExportError::NoUcum(_) | ExportError::Serialize(_), Lang::En) => {
                "Internal error while making the structured export.".into()
            }
            (ExportError::TimeOutOfRange(_), Lang::De) => {
                "Ungültige Zeitangabe im Protokoll.".into()
            }
            (ExportError::TimeOutOfRange(_), Lang::En) => "Invalid time in the protocol.".into(),
        }
    }
}

/// The document time from a log: the last `Closed` event, else the latest
/// event. `None` for an empty log.
pub fn log_timestamp(events: &[Event]) -> Option<i64> {
    events
        .iter()
        .rev()
        .find(|e| matches!(e.payload, Payload::Closed))
        .or_else(|| events.iter().max_by_key(|e| (e.wall_ms, e.id)))
        .map(|e| e.wall_ms)
}

/// The DIVI/MIND letter (A–O) of a section.
pub fn section_letter(s: Section) -> char {
    let i = Section::ALL.iter().position(|x| *x == s).unwrap_or(0);
    char::from(b'A' + i as u8)
}

/// A stable UUID (version 8, RFC 9562) from names: SHA-256 over the
/// length-prefixed parts. Same parts, same id, on every pad.
pub(crate) fn derived_id(parts: &[&[u8]]) -> Uuid {
    let mut buf = b"rettpad-export-v1".to_vec();
    for p in parts {
        buf.extend_from_slice(&(p.len() as u64).to_be_bytes());
        buf.extend_from_slice(p);
    }
    let h = rettpad_crypto::sha256(&buf);
    let mut b = [0u8; 16];
    b.copy_from_slice(&h[..16]);
    uuid::Builder::from_custom_bytes(b).into_uuid()
}

/// Offset of German civil time (CET/CEST) from UTC at `ms`, in minutes.
pub(crate) fn berlin_offset_min(ms: i64) -> i64 {
    berlin_offset_ms(ms) / 60_000
}

/// ISO 8601 / FHIR dateTime in German civil time with its offset:
/// `2026-11-22T14:03:05+01:00`, milliseconds only when not zero.
pub(crate) fn iso_time(ms: i64) -> Result<String, ExportError> {
    // civil_from_ms clamps; refuse what it cannot represent instead.
    const MIN: i64 = -62_135_596_800_000 + 86_400_000; // 0001-01-02
    const MAX: i64 = 253_402_214_400_000 - 86_400_000; // 9999-12-30
    if !(MIN..=MAX).contains(&ms) {
        return Err(ExportError::TimeOutOfRange(ms));
    }
    let off = berlin_offset_min(ms);
    let local = ms + off * 60_000;
    let (y, mo, d) = civil_from_ms(local);
    let in_day = local.rem_euclid(86_400_000);
    let (h, mi, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    let frac = if milli == 0 {
        String::new()
    } else {
        format!(".{milli:03}")
    };
    Ok(format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}+{:02}:{:02}",
        off / 60,
        off % 60
    ))
}

/// "22.11.2026 14:03" in German civil time, for narratives.
pub(crate) fn local_text(ms: i64) -> String {
    let local = ms + berlin_offset_min(ms) * 60_000;
    let (y, mo, d) = civil_from_ms(local);
    let in_day = local.rem_euclid(86_400_000);
    format!(
        "{d:02}.{mo:02}.{y:04} {:02}:{:02}",
        in_day / 3_600_000,
        in_day / 60_000 % 60
    )
}

/// ISO 8601 reduced precision: `1950`, `1950-03` or `1950-03-15`.
pub(crate) fn iso_date(d: &PartialDate) -> String {
    match (d.month, d.day) {
        (0, _) => format!("{:04}", d.year),
        (m, 0) => format!("{:04}-{m:02}", d.year),
        (m, day) => format!("{:04}-{m:02}-{day:02}", d.year),
    }
}

/// German display of a partial date: `15.03.1950`, `03.1950`, `1950`.
fn date_text(d: &PartialDate) -> String {
    match (d.month, d.day) {
        (0, _) => format!("{:04}", d.year),
        (m, 0) => format!("{m:02}.{:04}", d.year),
        (m, day) => format!("{day:02}.{m:02}.{:04}", d.year),
    }
}

/// Decimal with a dot and no trailing zeros: `36.8`, `120`, `-1.05`.
pub(crate) fn decimal(n: Num) -> String {
    let sign = if n.0 < 0 { "-" } else { "" };
    let a = n.0.unsigned_abs();
    let (w, f) = (a / 1000, a % 1000);
    if f == 0 {
        format!("{sign}{w}")
    } else {
        format!("{sign}{w}.{}", format!("{f:03}").trim_end_matches('0'))
    }
}

/// Text XML 1.0 can carry: forbidden control characters become U+FFFD.
pub(crate) fn xml_safe(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}';
    if s.chars().any(bad) {
        s.chars()
            .map(|c| if bad(c) { '\u{FFFD}' } else { c })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

/// German display text of a value of field `def`, with its unit.
pub(crate) fn value_text_de(def: &FieldDef, v: &Value) -> String {
    let code = |list: &rettpad_record::codes::CodeList, c: &str| {
        list.get(c)
            .map_or_else(|| c.to_string(), |x| x.de.to_string())
    };
    let with_unit = |s: String, unit: &str| {
        if unit.is_empty() {
            s
        } else {
            format!("{s} {unit}")
        }
    };
    match (&def.kind, v) {
        (Kind::Code(list), Value::Code(c)) => code(list, c),
        (Kind::Codes(list), Value::Codes(cs)) => cs
            .iter()
            .map(|c| code(list, c))
            .collect::<Vec<_>>()
            .join(", "),
        (_, Value::Bool(true)) => "ja".into(),
        (_, Value::Bool(false)) => "nein".into(),
        (_, Value::Int(i)) => i.to_string(),
        (Kind::Num { unit, .. }, Value::Num(n)) => with_unit(n.to_string(), unit),
        (_, Value::Num(n)) => n.to_string(),
        (_, Value::Measured(m)) => match (m.value, m.not_measurable) {
            (_, true) | (None, _) => "nicht messbar".into(),
            (Some(n), false) => {
                let unit = rettpad_record::catalog::unit(def).unwrap_or("");
                with_unit(n.to_string(), unit)
            }
        },
        (_, Value::Time(t)) => local_text(t.at_ms),
        (_, Value::Date(d)) => date_text(d),
        (_, Value::Text(t)) | (_, Value::Code(t)) => t.clone(),
        (_, Value::Codes(cs)) => cs.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_carry_the_german_offset() {
        // 2026-11-22 00:00 UTC: winter time.
        assert_eq!(
            iso_time(1_795_305_600_000).unwrap(),
            "2026-11-22T01:00:00+01:00"
        );
        // 2026-07-01 12:00:00.250 UTC: summer time, milliseconds kept.
        assert_eq!(
            iso_time(1_782_907_200_250).unwrap(),
            "2026-07-01T14:00:00.250+02:00"
        );
        // Switch on 2026-03-29 01:00 UTC.
        let start = 1_774_746_000_000;
        assert_eq!(iso_time(start - 1000).unwrap(), "2026-03-29T01:59:59+01:00");
        assert_eq!(iso_time(start).unwrap(), "2026-03-29T03:00:00+02:00");
        assert!(iso_time(i64::MAX).is_err());
        assert!(iso_time(i64::MIN).is_err());
    }

    #[test]
    fn partial_dates_and_decimals() {
        let d = |year, month, day| PartialDate { year, month, day };
        assert_eq!(iso_date(&d(1950, 0, 0)), "1950");
        assert_eq!(iso_date(&d(1950, 3, 0)), "1950-03");
        assert_eq!(iso_date(&d(1950, 3, 5)), "1950-03-05");
        assert_eq!(date_text(&d(1950, 3, 0)), "03.1950");
        assert_eq!(decimal(Num(36_800)), "36.8");
        assert_eq!(decimal(Num(120_000)), "120");
        assert_eq!(decimal(Num(-1_050)), "-1.05");
        assert_eq!(decimal(Num(5)), "0.005");
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let a = derived_id(&[b"Observation", b"x"]);
        assert_eq!(a, derived_id(&[b"Observation", b"x"]));
        assert_ne!(a, derived_id(&[b"Observationx", b""]));
        assert_eq!(a.get_version_num(), 8);
    }

    #[test]
    fn xml_safe_replaces_control_characters_only() {
        assert_eq!(xml_safe("Müller\tß\n"), "Müller\tß\n");
        assert_eq!(xml_safe("a\u{1}b"), "a\u{FFFD}b");
    }
}
