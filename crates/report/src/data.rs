//! The mission as the JSON dictionary the typst template reads.
//!
//! Everything the page shows is decided here from the folded state and the
//! field catalog (labels, code texts, units): the template only lays it out.
//! The output is canonical (`serde_json::Map` is a `BTreeMap`, floats are
//! rounded before they enter), so the same events give the same bytes.

use super::ecg;
use super::{ReportInput, Strip};
use rettpad_record::catalog::{self, Collection, FieldDef, Kind, Scope, Section};
use rettpad_record::keys;
use rettpad_record::state::{AuditEntry, EntryState, FieldState, Fields, PatientState};
use rettpad_record::text::{self as view, Lang};
use rettpad_record::value::civil_from_ms;
use rettpad_record::{HandoverMode, Hash, MissionState, Status, Target, TimeSource, Value};
use serde_json::{Map, Value as J, json};
use std::collections::HashMap;
use uuid::Uuid;

/// Version tag of the JSON layout; part of the document hash.
pub const DATA_VERSION: &str = "rettpad-report-data/1";

/// "22.11.2026 14:05:33" in German civil time.
pub fn date_time_secs(ms: i64) -> String {
    let local = ms + view::berlin_offset_ms(ms);
    let (y, m, d) = civil_from_ms(local);
    let s = local.rem_euclid(86_400_000) / 1000;
    format!(
        "{d:02}.{m:02}.{y} {:02}:{:02}:{:02}",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// "22.11.2026" in German civil time.
pub fn date_text(ms: i64) -> String {
    let local = ms + view::berlin_offset_ms(ms);
    let (y, m, d) = civil_from_ms(local);
    format!("{d:02}.{m:02}.{y}")
}

/// "14:05:33" in German civil time.
pub fn clock_secs(ms: i64) -> String {
    let local = ms + view::berlin_offset_ms(ms);
    let s = local.rem_euclid(86_400_000) / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

struct Ctx<'a> {
    names: HashMap<Uuid, String>,
    state: &'a MissionState,
}

impl Ctx<'_> {
    fn who(&self, id: &Uuid) -> String {
        self.names
            .get(id)
            .cloned()
            .unwrap_or_else(|| "unbekannt".to_string())
    }
}

/// The display text of a value with its unit.
pub fn value_text(def: &FieldDef, v: &Value) -> String {
    let mut t = view::value_text(def, v, Lang::De);
    if let Value::Time(tv) = v {
        t = clock_secs(tv.at_ms);
    }
    let has_number = matches!(v, Value::Num(_) | Value::Int(_))
        || matches!(v, Value::Measured(m) if m.value.is_some());
    if has_number
        && let Some(u) = catalog::unit(def)
        && !u.is_empty()
    {
        t.push(' ');
        t.push_str(u);
    }
    t
}

fn source_text(v: &Value) -> Option<String> {
    match v {
        Value::Time(t) => match &t.source {
            TimeSource::Dispatch { status: Some(s) } => Some(format!("Status {s}")),
            TimeSource::Dispatch { status: None } => Some("Leitstelle".into()),
            TimeSource::Device { device } => Some(format!("Gerät {device}")),
            TimeSource::Manual => None,
        },
        Value::Measured(m) => match &m.source {
            rettpad_record::ValueSource::Device { device } => Some(format!("Gerät {device}")),
            rettpad_record::ValueSource::Manual => None,
        },
        _ => None,
    }
}

/// One field: label, text, and earlier values that were corrected.
fn item(ctx: &Ctx, def: &FieldDef, fs: &FieldState) -> Option<J> {
    let cur = fs.current()?;
    let last = fs.history.last()?;
    let prev: Vec<J> = fs.history[..fs.history.len() - 1]
        .iter()
        .map(|r| {
            json!({
                "text": r.value.as_ref().map_or_else(|| "–".to_string(), |v| value_text(def, v)),
                "by": ctx.who(&r.author),
                "at": date_time_secs(r.wall_ms),
            })
        })
        .collect();
    Some(json!({
        "key": def.key,
        "label": def.de,
        "text": value_text(def, cur),
        "source": source_text(cur),
        "by": ctx.who(&last.author),
        "prev": prev,
    }))
}

/// Documented fields of `fields` in catalog order, filtered by section.
fn items(ctx: &Ctx, scope: Scope, fields: &Fields, sections: &[Section]) -> Vec<J> {
    catalog::fields_of(scope)
        .filter(|d| sections.contains(&d.section))
        .filter_map(|d| fields.get(d.key).and_then(|fs| item(ctx, d, fs)))
        .collect()
}

fn entry_time(e: &EntryState) -> i64 {
    let key = match e.collection {
        Collection::Vitals => keys::vitals::AT,
        Collection::Finding => keys::finding::AT,
        Collection::Ecg => keys::ecg::AT,
        Collection::Measure => keys::measure::AT,
        Collection::Medication => keys::med::AT,
        Collection::Injury | Collection::Diagnosis => "",
    };
    e.get(key)
        .and_then(Value::as_time)
        .map_or(e.created_ms, |t| t.at_ms)
}

fn text_of(e: &EntryState, key: &str) -> String {
    match (catalog::field(key), e.get(key)) {
        (Some(d), Some(v)) => value_text(d, v),
        _ => String::new(),
    }
}

fn entries<'a>(ctx: &'a Ctx, p: &PatientState, c: Collection) -> Vec<&'a EntryState> {
    let mut v: Vec<&EntryState> = ctx.state.entries_of(p.id, c).collect();
    v.sort_by_key(|e| (entry_time(e), e.id));
    v
}

/// A generic entry: time, author and all documented fields.
fn entry_json(ctx: &Ctx, e: &EntryState) -> J {
    let mut m = Map::new();
    m.insert("time".into(), json!(view::clock_text(entry_time(e))));
    m.insert("by".into(), json!(ctx.who(&e.created_by)));
    m.insert(
        "items".into(),
        J::Array(items(
            ctx,
            Scope::Entry(e.collection),
            &e.fields,
            &Section::ALL,
        )),
    );
    let mut by_key = Map::new();
    for d in catalog::fields_of(Scope::Entry(e.collection)) {
        if let Some(v) = e.get(d.key) {
            by_key.insert(d.key.to_string(), json!(value_text(d, v)));
        }
    }
    m.insert("f".into(), J::Object(by_key));
    J::Object(m)
}

fn code_num(e: &EntryState, key: &str) -> Option<i64> {
    e.get(key)
        .and_then(Value::as_code)
        .and_then(|c| c.parse().ok())
}

fn finding_json(ctx: &Ctx, e: &EntryState) -> J {
    let mut j = entry_json(ctx, e);
    let parts = [
        code_num(e, keys::finding::GCS_EYES),
        code_num(e, keys::finding::GCS_VERBAL),
        code_num(e, keys::finding::GCS_MOTOR),
    ];
    // Code 0 means "nicht dokumentiert": no total then.
    let total = match parts {
        [Some(a), Some(v), Some(m)] if a > 0 && v > 0 && m > 0 => Some(a + v + m),
        _ => None,
    };
    if let J::Object(m) = &mut j {
        m.insert(
            "gcs".into(),
            json!({
                "eyes": parts[0], "verbal": parts[1], "motor": parts[2], "total": total,
            }),
        );
    }
    j
}

/// Vital signs: table rows and a normalised chart (fractions of the plot).
fn vitals_json(ctx: &Ctx, p: &PatientState) -> J {
    let list = entries(ctx, p, Collection::Vitals);
    let cols: Vec<&FieldDef> = catalog::fields_of(Scope::Entry(Collection::Vitals))
        .filter(|d| d.key != keys::vitals::AT)
        .filter(|d| list.iter().any(|e| e.get(d.key).is_some()))
        .collect();
    let columns: Vec<J> = cols
        .iter()
        .map(|d| json!({"key": d.key, "label": d.de, "unit": catalog::unit(d).unwrap_or("")}))
        .collect();
    let rows: Vec<J> = list
        .iter()
        .map(|e| {
            let cells: Vec<J> = cols
                .iter()
                .map(|d| {
                    json!(e.get(d.key).map_or_else(String::new, |v| {
                        view::value_text(d, v, Lang::De)
                    }))
                })
                .collect();
            json!({"time": view::clock_text(entry_time(e)), "cells": cells, "by": ctx.who(&e.created_by)})
        })
        .collect();
    let chart = chart_json(&list);
    json!({"columns": columns, "rows": rows, "chart": chart})
}

const CHART_MAX: i64 = 250;

fn frac(v: f64) -> f64 {
    (v.clamp(0.0, 1.0) * 10_000.0).round() / 10_000.0
}

fn chart_json(list: &[&EntryState]) -> J {
    if list.is_empty() {
        return J::Null;
    }
    let times: Vec<i64> = list.iter().map(|e| entry_time(e)).collect();
    let t0 = times.iter().copied().min().unwrap_or(0);
    let t1 = times.iter().copied().max().unwrap_or(0);
    // At least 10 minutes wide, whole 5-minute steps.
    let span_min = ((t1 - t0) / 60_000).max(10);
    let span_min = (span_min + 4) / 5 * 5;
    let span_ms = span_min * 60_000;
    let fx = |t: i64| frac((t - t0) as f64 / span_ms as f64);
    let fy = |v: f64| frac(v / CHART_MAX as f64);
    let step = if span_min <= 30 {
        5
    } else if span_min <= 90 {
        10
    } else {
        30
    };
    let x_ticks: Vec<J> = (0..=span_min / step)
        .map(|i| {
            let t = t0 + i * step * 60_000;
            json!({"f": fx(t), "label": view::clock_text(t)})
        })
        .collect();
    let y_ticks: Vec<J> = (0..=CHART_MAX / 50)
        .map(|i| json!({"f": fy((i * 50) as f64), "label": (i * 50).to_string()}))
        .collect();
    let series = [
        (keys::vitals::BP_SYS, "RR sys", "sys"),
        (keys::vitals::BP_DIA, "RR dia", "dia"),
        (keys::vitals::HR, "HF", "hr"),
        (keys::vitals::SPO2, "SpO₂", "spo2"),
        (keys::vitals::ETCO2, "etCO₂", "etco2"),
    ];
    let series: Vec<J> = series
        .iter()
        .filter_map(|(key, label, style)| {
            let pts: Vec<J> = list
                .iter()
                .filter_map(|e| {
                    let n = e.get(key)?.as_num()?;
                    Some(json!([fx(entry_time(e)), fy(n.0 as f64 / 1000.0)]))
                })
                .collect();
            (!pts.is_empty()).then(|| json!({"label": label, "style": style, "pts": pts}))
        })
        .collect();
    json!({"x_ticks": x_ticks, "y_ticks": y_ticks, "series": series, "minutes": span_min})
}

fn strips_json(p: &PatientState, strips: &HashMap<Hash, &Strip>) -> Vec<J> {
    p.strips
        .iter()
        .map(|r| match strips.get(&r.hash) {
            Some(s) => ecg::strip_json(s),
            None => json!({
                "missing": true,
                "label": r.label,
                "time": clock_secs(r.start_ms),
                "hash": r.hash.to_hex()[..16].to_string(),
            }),
        })
        .collect()
}

fn patient_json(ctx: &Ctx, p: &PatientState, n: usize, strips: &HashMap<Hash, &Strip>) -> J {
    let sec = |s: &[Section]| J::Array(items(ctx, Scope::Patient, &p.fields, s));
    let insurance: Vec<J> = catalog::fields_of(Scope::Patient)
        .filter(|d| d.key.starts_with("insurance."))
        .filter_map(|d| p.fields.get(d.key).and_then(|fs| item(ctx, d, fs)))
        .collect();
    let person: Vec<J> = catalog::fields_of(Scope::Patient)
        .filter(|d| d.section == Section::Patient && !d.key.starts_with("insurance."))
        .filter_map(|d| p.fields.get(d.key).and_then(|fs| item(ctx, d, fs)))
        .collect();
    let name = {
        let fam = p
            .get(keys::patient::FAMILY_NAME)
            .and_then(Value::as_text)
            .unwrap_or("");
        let giv = p
            .get(keys::patient::GIVEN_NAME)
            .and_then(Value::as_text)
            .unwrap_or("");
        match (fam.is_empty(), giv.is_empty()) {
            (true, true) => "unbekannt".to_string(),
            (false, true) => fam.to_string(),
            (true, false) => giv.to_string(),
            (false, false) => format!("{fam}, {giv}"),
        }
    };
    let list = |c: Collection| -> Vec<J> {
        entries(ctx, p, c)
            .into_iter()
            .map(|e| entry_json(ctx, e))
            .collect()
    };
    let measures: Vec<J> = entries(ctx, p, Collection::Measure)
        .into_iter()
        .map(|e| {
            let mut detail = text_of(e, keys::measure::DETAIL);
            let energy = text_of(e, keys::measure::ENERGY_J);
            if !energy.is_empty() {
                detail = if detail.is_empty() {
                    energy
                } else {
                    format!("{detail}, {energy}")
                };
            }
            let attempts = text_of(e, keys::measure::ATTEMPTS);
            if !attempts.is_empty() {
                detail = format!("{detail} ({attempts} Versuche)").trim().to_string();
            }
            json!({
                "time": view::clock_text(entry_time(e)),
                "what": text_of(e, keys::measure::KIND),
                "detail": detail,
                "result": text_of(e, keys::measure::RESULT),
                "performer": text_of(e, keys::measure::PERFORMER),
                "by": ctx.who(&e.created_by),
            })
        })
        .collect();
    let meds: Vec<J> = entries(ctx, p, Collection::Medication)
        .into_iter()
        .map(|e| {
            let dose = [text_of(e, keys::med::DOSE), text_of(e, keys::med::UNIT)]
                .join(" ")
                .trim()
                .to_string();
            let mut time = view::clock_text(entry_time(e));
            if let Some(t) = e.get(keys::med::UNTIL).and_then(Value::as_time) {
                time = format!("{time}–{}", view::clock_text(t.at_ms));
            }
            let mut substance = text_of(e, keys::med::SUBSTANCE);
            let product = text_of(e, keys::med::PRODUCT);
            if !product.is_empty() {
                substance = format!("{substance} ({product})");
            }
            let controlled = e.get(keys::med::CONTROLLED).and_then(Value::as_bool) == Some(true);
            json!({
                "time": time,
                "substance": substance,
                "dose": dose,
                "route": text_of(e, keys::med::ROUTE),
                "reason": text_of(e, keys::med::REASON),
                "given_by": text_of(e, keys::med::GIVEN_BY),
                "ordered_by": text_of(e, keys::med::ORDERED_BY),
                "btm": if controlled { format!("BtM {}", text_of(e, keys::med::BATCH)).trim().to_string() } else { text_of(e, keys::med::BATCH) },
                "by": ctx.who(&e.created_by),
            })
        })
        .collect();
    let findings: Vec<J> = entries(ctx, p, Collection::Finding)
        .into_iter()
        .map(|e| finding_json(ctx, e))
        .collect();
    json!({
        "n": n,
        "name": name,
        "retracted": p.retracted.as_ref().map(|r| format!("zurückgezogen: {}", r.reason)),
        "person": person,
        "insurance": insurance,
        "history": sec(&[Section::History]),
        "findings": findings,
        "vitals": vitals_json(ctx, p),
        "ecg": list(Collection::Ecg),
        "strips": strips_json(p, strips),
        "injuries": list(Collection::Injury),
        "diagnoses": list(Collection::Diagnosis),
        "naca": sec(&[Section::Naca]),
        "measures": measures,
        "medication": meds,
        "handover": sec(&[Section::Handover]),
        "outcome": sec(&[Section::Outcome]),
    })
}

fn target_text(ctx: &Ctx, t: &Target) -> String {
    match t {
        Target::Mission => "Einsatz".into(),
        Target::Patient(id) => {
            let n = ctx
                .state
                .patients
                .iter()
                .position(|p| p.id == *id)
                .map_or(0, |i| i + 1);
            format!("Patient {n}")
        }
        Target::Entry(id) => ctx.state.entries.get(id).map_or_else(
            || "Eintrag".to_string(),
            |e| {
                format!(
                    "{} {}",
                    e.collection.section().label_de(),
                    view::clock_text(entry_time(e))
                )
            },
        ),
    }
}

fn audit_json(ctx: &Ctx, a: &AuditEntry) -> J {
    let def = a.field.as_deref().and_then(catalog::field);
    let txt = |v: &Option<Value>| -> String {
        match (def, v) {
            (Some(d), Some(v)) => value_text(d, v),
            _ => "–".into(),
        }
    };
    let what = match a.what {
        "set" => "geändert",
        "clear" => "gelöscht",
        "entry_added" => "Eintrag hinzugefügt",
        "entry_retracted" => "Eintrag zurückgezogen",
        "patient_added" => "Patient hinzugefügt",
        "patient_retracted" => "Patient zurückgezogen",
        "closed" => "Einsatz abgeschlossen",
        "reopened" => "Einsatz wiedereröffnet",
        "strip_recorded" => "EKG-Aufzeichnung",
        other => other,
    };
    json!({
        "time": date_time_secs(a.wall_ms),
        "by": ctx.who(&a.author),
        "what": what,
        "target": target_text(ctx, &a.target),
        "field": def.map_or("", |d| d.de),
        "original": txt(&a.original),
        "new": txt(&a.new),
    })
}

fn mode_text(m: HandoverMode) -> &'static str {
    match m {
        HandoverMode::Printed => "gedruckt",
        HandoverMode::Electronic => "elektronisch",
        HandoverMode::PadToPad => "Pad an Pad",
    }
}

/// The template's input. `created_ms` is the wall time of the newest event.
pub fn build(input: &ReportInput<'_>) -> J {
    let st = input.state;
    let mut names: HashMap<Uuid, String> = HashMap::new();
    for c in &st.crew {
        names.insert(c.id, c.name.clone());
    }
    let ctx = Ctx { names, state: st };
    let created_ms = input
        .log
        .events()
        .last()
        .map_or(st.opened_ms.unwrap_or(0), |e| e.wall_ms);
    let text = |k: &str| {
        st.get(k)
            .and_then(|v| catalog::field(k).map(|d| value_text(d, v)))
            .unwrap_or_default()
    };
    let call_sign = {
        let c = text(keys::mission::CALL_SIGN);
        if c.is_empty() {
            st.call_sign.clone()
        } else {
            c
        }
    };
    let crew: Vec<J> = st
        .crew
        .iter()
        .map(|c| {
            let qual = rettpad_record::codes::QUALIFICATION
                .get(&c.qualification)
                .map_or_else(|| c.qualification.clone(), |x| x.de.to_string());
            json!({"name": c.name, "qualification": qual, "personnel_no": c.personnel_no, "call_sign": c.call_sign})
        })
        .collect();
    let times: Vec<J> = catalog::fields_of(Scope::Mission)
        .filter(|d| matches!(d.kind, Kind::Time) && d.section == Section::Times)
        .map(|d| {
            let it = st.fields.get(d.key).and_then(|fs| item(&ctx, d, fs));
            it.unwrap_or_else(|| json!({"key": d.key, "label": d.de, "text": "", "source": null, "by": "", "prev": []}))
        })
        .collect();
    let by_hash: HashMap<Hash, &Strip> = input.strips.iter().map(|s| (s.hash(), s)).collect();
    let patients: Vec<J> = st
        .patients
        .iter()
        .enumerate()
        .map(|(i, p)| patient_json(&ctx, p, i + 1, &by_hash))
        .collect();
    let handovers: Vec<J> = st
        .handovers
        .iter()
        .map(|h| {
            json!({
                "time": date_time_secs(h.wall_ms),
                "mode": mode_text(h.mode),
                "to": h.to,
                "by": ctx.who(&h.author),
                "doc": h.document_sha256.map(|d| d.to_hex()[..16].to_string()),
            })
        })
        .collect();
    let merges: Vec<J> = st
        .merges
        .iter()
        .map(|m| {
            json!({
                "time": date_time_secs(m.wall_ms),
                "from": m.from_call_sign,
                "events": m.events,
                "digest": m.log_digest.to_hex()[..16].to_string(),
            })
        })
        .collect();
    let status = match st.status {
        Status::Open => "offen",
        Status::HandedOver => "übergeben",
        Status::Closed => "abgeschlossen",
    };
    json!({
        "version": DATA_VERSION,
        "mission": {
            "id": st.id.to_string(),
            "number": text(keys::mission::NUMBER),
            "call_sign": call_sign,
            "date": date_text(st.opened_ms.unwrap_or(created_ms)),
            "status": status,
            "items": items(&ctx, Scope::Mission, &st.fields, &[Section::Mission]),
        },
        "crew": crew,
        "times": times,
        "patients": patients,
        "remarks": items(&ctx, Scope::Mission, &st.fields, &[Section::Remarks]),
        "handovers": handovers,
        "merges": merges,
        "audited_since": st.audited_since_ms.map(date_time_secs),
        "audit": st.audit.iter().map(|a| audit_json(&ctx, a)).collect::<Vec<_>>(),
        "log": {
            "head": input.log.digest().to_hex(),
            "events": input.log.len(),
            "rejected": st.rejected.len(),
        },
        "created": date_time_secs(created_ms),
        "created_ms": created_ms,
    })
}
