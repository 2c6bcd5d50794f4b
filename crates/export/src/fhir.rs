//! HL7 FHIR R4 document Bundle of one patient's protocol.
//!
//! Layout: `Bundle(type=document)` with the Composition (LOINC 67796-3) first,
//! then Patient, Encounter, one Practitioner per crew member, the pad as
//! Device, the destination as Location, then per DIVI/MIND section the
//! Observations (vitals with catalog LOINC + UCUM, blood pressure as panel
//! 85354-9, GCS with components, pain, NACA, findings, ECG, injuries),
//! Conditions (diagnoses), Procedures (measures) and MedicationAdministrations,
//! and last the measuring devices. Every `fullUrl` is `urn:uuid:` of an id
//! derived from the record's ids, so a re-export gives the same bytes.

use super::json::{J, O};
use super::terms::{self, *};
use super::{
    ExportContext, ExportError, Hospital, derived_id, iso_date, iso_time, section_letter,
    value_text_de, xml_safe,
};
use rettpad_record::catalog::{self, Collection, FieldDef, Kind, Scope, Section};
use rettpad_record::codes::{self, CodeList};
use rettpad_record::keys;
use rettpad_record::state::{EntryState, FieldState, Fields, MissionState, PatientState, Status};
use rettpad_record::wave::{StripKind, StripRef};
use rettpad_record::{Num, PatientId, Value, ValueSource};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The FHIR document of the patient chosen in `ctx` (or of the only active
/// patient), as pretty-printed UTF-8 JSON.
pub fn bundle(state: &MissionState, ctx: &ExportContext) -> Result<Vec<u8>, ExportError> {
    let patient = select_patient(state, ctx)?;
    let doc = Doc::build(state, ctx, patient)?;
    serde_json::to_vec_pretty(&J::Obj(doc)).map_err(|e| ExportError::Serialize(e.to_string()))
}

/// A FHIR document and the patient it is about (`None`: mission without patient).
pub type PatientDocument = (Option<PatientId>, Vec<u8>);

/// One document per active patient (one without patient for a mission
/// without any). With several patients each document id is derived from
/// `ctx.document_id` and the patient id; with one it is `ctx.document_id`.
pub fn bundles(
    state: &MissionState,
    ctx: &ExportContext,
) -> Result<Vec<PatientDocument>, ExportError> {
    let ids: Vec<PatientId> = state.active_patients().map(|p| p.id).collect();
    if ids.is_empty() {
        let c = ExportContext {
            patient: None,
            ..ctx.clone()
        };
        return Ok(vec![(None, bundle(state, &c)?)]);
    }
    let single = ids.len() == 1;
    ids.into_iter()
        .map(|p| {
            let document_id = if single {
                ctx.document_id
            } else {
                derived_id(&[b"document", ctx.document_id.as_bytes(), p.0.as_bytes()])
            };
            let c = ExportContext {
                patient: Some(p),
                document_id,
                ..ctx.clone()
            };
            Ok((Some(p), bundle(state, &c)?))
        })
        .collect()
}

fn select_patient<'a>(
    state: &'a MissionState,
    ctx: &ExportContext,
) -> Result<Option<&'a PatientState>, ExportError> {
    match ctx.patient {
        Some(id) => state
            .active_patients()
            .find(|p| p.id == id)
            .map(Some)
            .ok_or(ExportError::UnknownPatient(id)),
        None => {
            let all: Vec<&PatientState> = state.active_patients().collect();
            match all.as_slice() {
                [] => Ok(None),
                [one] => Ok(Some(*one)),
                many => Err(ExportError::AmbiguousPatient(many.len())),
            }
        }
    }
}

fn urn(id: Uuid) -> String {
    format!("urn:uuid:{id}")
}

fn reference(url: &str) -> O {
    O::new().set("reference", url)
}

fn coding(system: &str, code: &str, display: Option<&str>) -> O {
    O::new()
        .set("system", system)
        .set("code", code)
        .opt("display", display)
}

fn concept(codings: Vec<O>, text: Option<&str>) -> O {
    O::new().opt("coding", Some(codings)).opt("text", text)
}

fn loinc(c: (&str, &str)) -> O {
    coding(LOINC, c.0, Some(c.1))
}

fn list_coding(list: &CodeList, code: &str) -> O {
    coding(
        &terms::code_system(list.id),
        code,
        list.get(code).map(|c| c.de),
    )
}

fn quantity(n: Num, unit: &str) -> Result<O, ExportError> {
    if unit.is_empty() {
        return Ok(O::new().set("value", n));
    }
    let code = ucum(unit).ok_or_else(|| ExportError::NoUcum(unit.to_string()))?;
    Ok(O::new()
        .set("value", n)
        .set("unit", unit)
        .set("system", UCUM)
        .set("code", code))
}

fn score(n: i64) -> O {
    O::new()
        .set("value", n)
        .set("unit", "{score}")
        .set("system", UCUM)
        .set("code", "{score}")
}

/// `dataAbsentReason` for "nicht messbar" and incomplete scores.
fn absent(text: &str) -> O {
    concept(
        vec![coding(DATA_ABSENT, "unknown", Some("Unknown"))],
        Some(text),
    )
}

fn field_concept(def: &FieldDef) -> O {
    concept(vec![coding(CS_FIELD, def.key, Some(def.de))], Some(def.de))
}

fn status_of(fs: &[&FieldState]) -> &'static str {
    if fs.iter().any(|f| f.corrected()) {
        "amended"
    } else {
        "final"
    }
}

fn time_of(fields: &Fields, key: &str) -> Option<i64> {
    fields
        .get(key)
        .and_then(FieldState::current)
        .and_then(Value::as_time)
        .map(|t| t.at_ms)
}

/// `value[x]` pairs of a value: several for a multi-code field.
fn values(def: &FieldDef, v: &Value) -> Result<Vec<(&'static str, J)>, ExportError> {
    Ok(match (&def.kind, v) {
        (Kind::Code(list), Value::Code(c)) => vec![(
            "valueCodeableConcept",
            concept(vec![list_coding(list, c)], list.get(c).map(|x| x.de)).into(),
        )],
        (Kind::Codes(list), Value::Codes(cs)) => cs
            .iter()
            .map(|c| {
                (
                    "valueCodeableConcept",
                    concept(vec![list_coding(list, c)], list.get(c).map(|x| x.de)).into(),
                )
            })
            .collect(),
        (_, Value::Measured(m)) => match (m.value, m.not_measurable) {
            (Some(n), false) => vec![(
                "valueQuantity",
                quantity(n, catalog::unit(def).unwrap_or(""))?.into(),
            )],
            _ => vec![("dataAbsentReason", absent("nicht messbar").into())],
        },
        (Kind::Num { unit, .. }, Value::Num(n)) => {
            vec![("valueQuantity", quantity(*n, unit)?.into())]
        }
        (_, Value::Num(n)) => vec![("valueQuantity", quantity(*n, "")?.into())],
        (_, Value::Int(i)) => vec![("valueInteger", J::Int(*i))],
        (_, Value::Bool(b)) => vec![("valueBoolean", J::Bool(*b))],
        (_, Value::Time(t)) => vec![("valueDateTime", iso_time(t.at_ms)?.into())],
        (_, Value::Date(d)) => vec![("valueDateTime", iso_date(d).into())],
        (_, Value::Text(s)) | (_, Value::Code(s)) => vec![("valueString", s.clone().into())],
        (_, Value::Codes(cs)) => vec![("valueString", cs.join(", ").into())],
    })
}

/// "label: value; …" of the fields of `fields` in catalog order that are not
/// in `used`, for a note.
fn rest_text(scope: Scope, fields: &Fields, used: &[&str]) -> Option<String> {
    let parts: Vec<String> = catalog::fields_of(scope)
        .filter(|d| !used.contains(&d.key))
        .filter_map(|d| {
            let v = fields.get(d.key)?.current()?;
            Some(format!("{}: {}", d.de, value_text_de(d, v)))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn note(text: Option<String>) -> Option<Vec<O>> {
    text.map(|t| vec![O::new().set("text", t)])
}

fn esc(s: &str) -> String {
    let s = xml_safe(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

struct Doc<'a> {
    state: &'a MissionState,
    ctx: &'a ExportContext,
    patient: Option<&'a PatientState>,
    patient_url: Option<String>,
    encounter_url: String,
    /// Resources after the Composition, in bundle order.
    resources: Vec<(String, O)>,
    /// Section → references of its entries.
    refs: BTreeMap<Section, Vec<String>>,
    /// Measuring devices by name, added to the bundle last.
    devices: BTreeMap<String, String>,
    crew: BTreeMap<Uuid, String>,
}

impl<'a> Doc<'a> {
    fn build(
        state: &'a MissionState,
        ctx: &'a ExportContext,
        patient: Option<&'a PatientState>,
    ) -> Result<O, ExportError> {
        let pid = patient.map_or(Uuid::nil(), |p| p.id.0);
        let encounter_id = derived_id(&[b"Encounter", state.id.0.as_bytes(), pid.as_bytes()]);
        let mut d = Doc {
            state,
            ctx,
            patient,
            patient_url: patient.map(|p| urn(derived_id(&[b"Patient", p.id.0.as_bytes()]))),
            encounter_url: urn(encounter_id),
            resources: Vec::new(),
            refs: BTreeMap::new(),
            devices: BTreeMap::new(),
            crew: BTreeMap::new(),
        };
        if let Some(p) = patient {
            d.patient_resource(p)?;
        }
        let location = ctx.target_hospital.as_ref().map(|h| d.location(h));
        d.encounter(encounter_id, location.as_deref())?;
        for c in &state.crew {
            let id = derived_id(&[b"Practitioner", c.id.as_bytes()]);
            let qual = codes::QUALIFICATION.get(&c.qualification);
            let qualification = O::new().set(
                "code",
                concept(
                    qual.map(|q| list_coding(&codes::QUALIFICATION, q.code))
                        .into_iter()
                        .collect(),
                    Some(qual.map_or(c.qualification.as_str(), |q| q.de)),
                ),
            );
            let res = O::resource("Practitioner")
                .set("id", id.to_string())
                .opt(
                    "identifier",
                    (!c.personnel_no.is_empty()).then(|| {
                        vec![
                            O::new()
                                .set("system", SID_PERSONNEL)
                                .set("value", &c.personnel_no),
                        ]
                    }),
                )
                .set("name", vec![O::new().set("text", &c.name)])
                .opt(
                    "qualification",
                    (!c.qualification.is_empty()).then(|| vec![qualification]),
                );
            d.crew.insert(c.id, urn(id));
            d.resources.push((urn(id), res));
        }
        let pad = d.device(&ctx.device_serial, true);
        if let Some(p) = patient {
            d.patient_observations(p)?;
            for id in &p.entries {
                let Some(e) = state.entries.get(id).filter(|e| e.retracted.is_none()) else {
                    continue;
                };
                match e.collection {
                    Collection::Vitals => d.vitals(e)?,
                    Collection::Finding => d.finding(e)?,
                    Collection::Ecg => d.component_obs(
                        e,
                        concept(vec![loinc(ECG_STUDY)], Some("EKG")),
                        "procedure",
                        keys::ecg::AT,
                        &[],
                    )?,
                    Collection::Injury => d.component_obs(
                        e,
                        concept(
                            vec![coding(CS_COLLECTION, "injury", Some("Verletzung"))],
                            Some("Verletzung"),
                        ),
                        "exam",
                        "",
                        &[],
                    )?,
                    Collection::Diagnosis => d.condition(e)?,
                    Collection::Measure => d.procedure(e)?,
                    Collection::Medication => d.medication(e)?,
                }
            }
            for st in &p.strips {
                d.strip(st)?;
            }
        }
        let devices = std::mem::take(&mut d.devices);
        for (name, url) in devices {
            if url != pad {
                d.resources
                    .push((url.clone(), device_resource(&url, &name, false)));
            }
        }
        let composition_id = derived_id(&[b"Composition", ctx.document_id.as_bytes()]);
        let composition = d.composition(composition_id, &pad)?;
        let mut entries = vec![
            O::new()
                .set("fullUrl", urn(composition_id))
                .set("resource", composition),
        ];
        entries.extend(
            d.resources
                .into_iter()
                .map(|(url, r)| O::new().set("fullUrl", url).set("resource", r)),
        );
        Ok(O::resource("Bundle")
            .set("id", ctx.document_id.to_string())
            .set(
                "identifier",
                O::new()
                    .set("system", RFC3986)
                    .set("value", urn(ctx.document_id)),
            )
            .set("type", "document")
            .set("timestamp", iso_time(ctx.timestamp_ms)?)
            .set("entry", entries))
    }

    fn push(&mut self, section: Section, url: String, res: O) {
        self.refs.entry(section).or_default().push(url.clone());
        self.resources.push((url, res));
    }

    /// The Device for a serial or device name; the pad's own is added at once,
    /// measuring devices at the end of the bundle.
    fn device(&mut self, name: &str, pad: bool) -> String {
        let url = urn(derived_id(&[b"Device", name.as_bytes()]));
        if pad && !self.resources.iter().any(|(u, _)| *u == url) {
            // Listed in section A: the pad that documented the mission.
            self.push(
                Section::Mission,
                url.clone(),
                device_resource(&url, name, true),
            );
        }
        self.devices
            .entry(name.to_string())
            .or_insert_with(|| url.clone());
        url
    }

    fn practitioner(&self, author: Uuid) -> Option<O> {
        self.crew.get(&author).map(|u| reference(u))
    }

    fn location(&mut self, h: &Hospital) -> String {
        let url = urn(derived_id(&[b"Location", h.id.as_bytes()]));
        let system = if is_ik(&h.id) { IKNR } else { SID_HOSPITAL };
        let res = O::resource("Location")
            .set("id", url.trim_start_matches("urn:uuid:"))
            .set(
                "identifier",
                vec![O::new().set("system", system).set("value", &h.id)],
            )
            .set("name", &h.name);
        self.push(Section::Handover, url.clone(), res);
        url
    }

    fn patient_resource(&mut self, p: &PatientState) -> Result<(), ExportError> {
        let get = |k: &str| p.get(k);
        let text = |k: &str| get(k).and_then(Value::as_text);
        let url = self.patient_url.clone().unwrap_or_default();
        let mut identifiers = Vec::new();
        if let Some(nr) = text(keys::insurance::NUMBER) {
            let assigner = text(keys::insurance::INSURER_IK).map(|ik| {
                O::new()
                    .set("identifier", O::new().set("system", IKNR).set("value", ik))
                    .opt("display", text(keys::insurance::INSURER_NAME))
            });
            // The KVNR system demands its format; anything else stays a
            // plain identifier rather than a false KVNR.
            let id = if is_kvnr(nr) {
                O::new()
                    .set(
                        "type",
                        concept(
                            vec![coding(IDENTIFIER_TYPE_DE, "KVZ10", None)],
                            Some("Krankenversichertennummer"),
                        ),
                    )
                    .set("system", KVID10)
            } else {
                O::new().set("type", concept(vec![], Some("Versichertennummer")))
            };
            identifiers.push(id.set("value", nr).opt("assigner", assigner));
        }
        let name = {
            let family = text(keys::patient::FAMILY_NAME);
            let given = text(keys::patient::GIVEN_NAME);
            (family.is_some() || given.is_some()).then(|| {
                vec![
                    O::new()
                        .set("use", "official")
                        .opt("family", family)
                        .opt("given", given.map(|g| vec![g])),
                ]
            })
        };
        let (gender, amtlich) = match get(keys::patient::SEX).and_then(Value::as_code) {
            Some(c) => {
                let (g, a) = gender(c);
                (Some(g), a)
            }
            None => (None, None),
        };
        let gender_ext = amtlich.map(|(code, display)| {
            O::new().set(
                "extension",
                vec![
                    O::new()
                        .set("url", GENDER_AMTLICH_EXT)
                        .set("valueCoding", coding(GENDER_AMTLICH, code, Some(display))),
                ],
            )
        });
        let birth = match get(keys::patient::BIRTH_DATE) {
            Some(Value::Date(d)) => Some(iso_date(d)),
            _ => None,
        };
        let address = {
            let a = O::new()
                .opt("line", text(keys::patient::ADDRESS_STREET).map(|s| vec![s]))
                .opt("city", text(keys::patient::ADDRESS_CITY))
                .opt("postalCode", text(keys::patient::ADDRESS_POSTCODE))
                .opt("country", text(keys::patient::ADDRESS_COUNTRY));
            (!a.is_empty()).then(|| vec![a.set("use", "home")])
        };
        let res = O::resource("Patient")
            .set("id", url.trim_start_matches("urn:uuid:"))
            .opt("identifier", Some(identifiers))
            .opt("name", name)
            .opt("gender", gender)
            .opt("_gender", gender_ext)
            .opt("birthDate", birth)
            .opt("address", address);
        self.push(Section::Patient, url, res);
        Ok(())
    }

    fn encounter(&mut self, id: Uuid, location: Option<&str>) -> Result<(), ExportError> {
        let f = &self.state.fields;
        let first = |keys: &[&str]| keys.iter().find_map(|k| time_of(f, k));
        let start = first(&[
            keys::time::ALARM,
            keys::time::DEPARTURE,
            keys::time::AT_SCENE,
            keys::time::PATIENT_CONTACT,
        ])
        .or(self.state.opened_ms);
        let end = first(&[
            keys::time::HANDOVER,
            keys::time::AT_DESTINATION,
            keys::time::AVAILABLE,
            keys::time::END,
        ])
        // A period must not end before it starts (rules warn about such times).
        .filter(|e| start.is_none_or(|s| *e >= s));
        let period = O::new()
            .opt("start", start.map(iso_time).transpose()?)
            .opt("end", end.map(iso_time).transpose()?);
        let number = f
            .get(keys::mission::NUMBER)
            .and_then(FieldState::current)
            .and_then(Value::as_text);
        let status = if self.state.status == Status::Closed {
            "finished"
        } else {
            "in-progress"
        };
        let res = O::resource("Encounter")
            .set("id", id.to_string())
            .opt(
                "identifier",
                number.map(|n| vec![O::new().set("system", SID_MISSION_NUMBER).set("value", n)]),
            )
            .set("status", status)
            .set("class", coding(ACT_CODE, "EMER", Some("emergency")))
            .opt("subject", self.patient_url.as_deref().map(reference))
            .opt("period", Some(period))
            .opt(
                "hospitalization",
                location.map(|l| O::new().set("destination", reference(l))),
            );
        self.push(Section::Times, urn(id), res);
        Ok(())
    }

    /// Observation skeleton in FHIR element order up to `performer`.
    fn observation(
        &self,
        id: Uuid,
        status: &str,
        category: &str,
        code: O,
        effective: Option<i64>,
        author: Option<Uuid>,
    ) -> Result<O, ExportError> {
        Ok(O::resource("Observation")
            .set("id", id.to_string())
            .set("status", status)
            .set(
                "category",
                vec![concept(vec![coding(OBS_CATEGORY, category, None)], None)],
            )
            .set("code", code)
            .opt("subject", self.patient_url.as_deref().map(reference))
            .set("encounter", reference(&self.encounter_url))
            .opt("effectiveDateTime", effective.map(iso_time).transpose()?)
            .opt(
                "performer",
                author.and_then(|a| self.practitioner(a)).map(|r| vec![r]),
            ))
    }

    fn last_author(fs: &FieldState) -> Option<Uuid> {
        fs.history.last().map(|r| r.author)
    }

    fn patient_observations(&mut self, p: &PatientState) -> Result<(), ExportError> {
        let simple: [(&str, (&str, &str), &str, Section); 3] = [
            (
                keys::patient::WEIGHT_KG,
                BODY_WEIGHT,
                "kg",
                Section::Patient,
            ),
            (
                keys::patient::HEIGHT_CM,
                BODY_HEIGHT,
                "cm",
                Section::Patient,
            ),
            (keys::patient::AGE_YEARS, AGE, "a", Section::Patient),
        ];
        for (key, code, unit, section) in simple {
            let Some(fs) = p.fields.get(key) else {
                continue;
            };
            let Some(n) = fs.current().and_then(Value::as_num) else {
                continue;
            };
            let id = derived_id(&[b"Observation", p.id.0.as_bytes(), key.as_bytes()]);
            let documented = fs.history.last().map(|r| r.wall_ms);
            let cat = if key == keys::patient::AGE_YEARS {
                "survey"
            } else {
                "vital-signs"
            };
            let o = self
                .observation(
                    id,
                    status_of(&[fs]),
                    cat,
                    concept(vec![loinc(code)], None),
                    documented,
                    Self::last_author(fs),
                )?
                .set("valueQuantity", quantity(n, unit)?);
            self.push(section, urn(id), o);
        }
        if let (Some(fs), Some(def)) = (
            p.fields.get(keys::naca::SCORE),
            catalog::field(keys::naca::SCORE),
        ) && let Some(v) = fs.current()
        {
            let id = derived_id(&[
                b"Observation",
                p.id.0.as_bytes(),
                keys::naca::SCORE.as_bytes(),
            ]);
            let mut o = self.observation(
                id,
                status_of(&[fs]),
                "survey",
                field_concept(def),
                fs.history.last().map(|r| r.wall_ms),
                Self::last_author(fs),
            )?;
            for (k, v) in values(def, v)? {
                o = o.set(k, v);
            }
            self.push(Section::Naca, urn(id), o);
        }
        Ok(())
    }

    fn vitals(&mut self, e: &EntryState) -> Result<(), ExportError> {
        let at = time_of(&e.fields, keys::vitals::AT).unwrap_or(e.created_ms);
        let eid = e.id.0;
        let measured = |key: &str| -> Option<(&FieldDef, &FieldState)> {
            let def = catalog::field(key)?;
            let fs = e.fields.get(key)?;
            matches!(fs.current(), Some(Value::Measured(_))).then_some((def, fs))
        };
        let (sys, dia) = (
            measured(keys::vitals::BP_SYS),
            measured(keys::vitals::BP_DIA),
        );
        if sys.is_some() || dia.is_some() {
            let id = derived_id(&[b"Observation", eid.as_bytes(), b"bp"]);
            let mut comps = Vec::new();
            let mut states = Vec::new();
            let mut device = None;
            for (def, fs) in [sys, dia].into_iter().flatten() {
                states.push(fs);
                comps.push(self.measured_component(def, fs, &mut device)?);
            }
            let author = states.first().and_then(|f| Self::last_author(f));
            let mut o = self.observation(
                id,
                status_of(&states),
                "vital-signs",
                concept(vec![loinc(BP_PANEL)], Some("Blutdruck")),
                Some(at),
                author,
            )?;
            if let Some(dev) = device {
                o = o.set("device", reference(&dev));
            }
            self.push(Section::Vitals, urn(id), o.set("component", comps));
        }
        for def in catalog::fields_of(Scope::Entry(Collection::Vitals)) {
            let Kind::Measured { loinc: code, .. } = def.kind else {
                continue;
            };
            if matches!(def.key, keys::vitals::BP_SYS | keys::vitals::BP_DIA) {
                continue;
            }
            let Some((def, fs)) = measured(def.key) else {
                continue;
            };
            let id = derived_id(&[b"Observation", eid.as_bytes(), def.key.as_bytes()]);
            let mut codings = vec![coding(LOINC, code, loinc_display(code))];
            if code == "59408-5" {
                codings.push(loinc(SPO2_GENERIC));
            }
            let mut o = self.observation(
                id,
                status_of(&[fs]),
                category(code),
                concept(codings, Some(def.de)),
                Some(at),
                Self::last_author(fs),
            )?;
            let mut device = None;
            let c = self.measured_component(def, fs, &mut device)?;
            for (k, v) in c.into_pairs().into_iter().filter(|(k, _)| *k != "code") {
                o = o.set(k, v);
            }
            if let Some(dev) = device {
                o = o.set("device", reference(&dev));
            }
            self.push(Section::Vitals, urn(id), o);
        }
        Ok(())
    }

    /// `code` + value or dataAbsentReason of a measured field; notes the
    /// measuring device.
    fn measured_component(
        &mut self,
        def: &FieldDef,
        fs: &FieldState,
        device: &mut Option<String>,
    ) -> Result<O, ExportError> {
        let Some(Value::Measured(m)) = fs.current() else {
            return Ok(O::new());
        };
        let code = match def.kind {
            Kind::Measured { loinc: c, .. } => c,
            _ => "",
        };
        let mut c = O::new().set(
            "code",
            concept(vec![coding(LOINC, code, loinc_display(code))], Some(def.de)),
        );
        for (k, v) in values(def, &Value::Measured(m.clone()))? {
            c = c.set(k, v);
        }
        if let ValueSource::Device { device: name } = &m.source {
            *device = Some(self.device(name, false));
        }
        Ok(c)
    }

    fn finding(&mut self, e: &EntryState) -> Result<(), ExportError> {
        let at = time_of(&e.fields, keys::finding::AT).unwrap_or(e.created_ms);
        let eid = e.id.0;
        let gcs_parts = [
            (keys::finding::GCS_EYES, GCS_EYES),
            (keys::finding::GCS_VERBAL, GCS_VERBAL),
            (keys::finding::GCS_MOTOR, GCS_MOTOR),
        ];
        let part = |k: &str| -> Option<i64> { e.get(k)?.as_code()?.parse().ok() };
        let qualifier = e.get(keys::finding::GCS_QUALIFIER).and_then(Value::as_code);
        let any_gcs =
            gcs_parts.iter().any(|(k, _)| e.fields.contains_key(*k)) || qualifier.is_some();
        if any_gcs {
            let id = derived_id(&[b"Observation", eid.as_bytes(), b"gcs"]);
            let states: Vec<&FieldState> = gcs_parts
                .iter()
                .filter_map(|(k, _)| e.fields.get(*k))
                .collect();
            let comps: Vec<O> = gcs_parts
                .iter()
                .filter_map(|(k, code)| {
                    let v = part(k)?;
                    Some(
                        O::new()
                            .set(
                                "code",
                                concept(vec![loinc(*code)], catalog::field(k).map(|d| d.de)),
                            )
                            .set("valueQuantity", score(v)),
                    )
                })
                .collect();
            let total: Option<i64> = gcs_parts.iter().map(|(k, _)| part(k)).sum();
            let qual_text = qualifier
                .and_then(|q| codes::GCS_QUALIFIER.get(q))
                .map(|q| q.de);
            let mut o = self.observation(
                id,
                status_of(&states),
                "survey",
                concept(vec![loinc(GCS_TOTAL)], Some("GCS")),
                Some(at),
                Some(e.created_by),
            )?;
            o = match total {
                Some(t) => o.set("valueQuantity", score(t)),
                None => o.set(
                    "dataAbsentReason",
                    absent(qual_text.unwrap_or("unvollständig")),
                ),
            };
            let mut notes = Vec::new();
            if let Some(q) = qual_text {
                notes.push(format!("GCS: {q}"));
            }
            if e.get(keys::finding::GCS_PAEDIATRIC)
                .and_then(Value::as_bool)
                == Some(true)
            {
                notes.push("pädiatrische GCS".to_string());
            }
            o = o
                .opt("note", note((!notes.is_empty()).then(|| notes.join("; "))))
                .opt("component", Some(comps));
            self.push(Section::Findings, urn(id), o);
        }
        if let Some(fs) = e.fields.get(keys::finding::PAIN_NRS)
            && let Some(Value::Int(n)) = fs.current()
        {
            let id = derived_id(&[
                b"Observation",
                eid.as_bytes(),
                keys::finding::PAIN_NRS.as_bytes(),
            ]);
            let o = self
                .observation(
                    id,
                    status_of(&[fs]),
                    "survey",
                    concept(vec![loinc(PAIN_NRS)], Some("Schmerz (NRS)")),
                    Some(at),
                    Self::last_author(fs),
                )?
                .set("valueQuantity", score(*n));
            self.push(Section::Findings, urn(id), o);
        }
        self.component_obs(
            e,
            concept(
                vec![coding(CS_COLLECTION, "finding", Some("Befund"))],
                Some("Befund"),
            ),
            "exam",
            keys::finding::AT,
            &[
                keys::finding::GCS_EYES,
                keys::finding::GCS_VERBAL,
                keys::finding::GCS_MOTOR,
                keys::finding::GCS_QUALIFIER,
                keys::finding::GCS_PAEDIATRIC,
                keys::finding::PAIN_NRS,
            ],
        )
    }

    /// One Observation per entry with a component per remaining field.
    fn component_obs(
        &mut self,
        e: &EntryState,
        code: O,
        category: &str,
        time_key: &str,
        skip: &[&str],
    ) -> Result<(), ExportError> {
        let mut comps = Vec::new();
        let mut states = Vec::new();
        for def in catalog::fields_of(Scope::Entry(e.collection)) {
            if def.key == time_key || skip.contains(&def.key) {
                continue;
            }
            let Some(fs) = e.fields.get(def.key) else {
                continue;
            };
            let Some(v) = fs.current() else { continue };
            states.push(fs);
            for (k, v) in values(def, v)? {
                comps.push(O::new().set("code", field_concept(def)).set(k, v));
            }
        }
        if comps.is_empty() {
            return Ok(());
        }
        let at = time_of(&e.fields, time_key).unwrap_or(e.created_ms);
        let id = derived_id(&[b"Observation", e.id.0.as_bytes(), b"entry"]);
        let o = self
            .observation(
                id,
                status_of(&states),
                category,
                code,
                Some(at),
                Some(e.created_by),
            )?
            .set("component", comps);
        self.push(e.collection.section(), urn(id), o);
        Ok(())
    }

    /// An ECG strip by reference (label, period, leads, SHA-256 of the blob
    /// that carries the samples).
    fn strip(&mut self, st: &StripRef) -> Result<(), ExportError> {
        let id = derived_id(&[b"Observation", b"strip", &st.hash.0]);
        let end = st.start_ms.saturating_add(st.duration_ms.max(0));
        let o = O::resource("Observation")
            .set("id", id.to_string())
            .set(
                "identifier",
                vec![
                    O::new()
                        .set("system", SID_STRIP)
                        .set("value", st.hash.to_hex()),
                ],
            )
            .set("status", "final")
            .set(
                "category",
                vec![concept(vec![coding(OBS_CATEGORY, "procedure", None)], None)],
            )
            .set("code", concept(vec![loinc(ECG_STUDY)], Some(&st.label)))
            .opt("subject", self.patient_url.as_deref().map(reference))
            .set("encounter", reference(&self.encounter_url))
            .set(
                "effectivePeriod",
                O::new()
                    .set("start", iso_time(st.start_ms)?)
                    .set("end", iso_time(end)?),
            )
            .set("valueString", &st.label)
            .set(
                "note",
                vec![O::new().set(
                    "text",
                    format!(
                        "{}; Ableitungen: {}",
                        match st.kind {
                            StripKind::TwelveLead => "12-Kanal-EKG",
                            StripKind::Rhythm => "Rhythmusstreifen",
                        },
                        st.leads.join(", ")
                    ),
                )],
            );
        self.push(Section::Ecg, urn(id), o);
        Ok(())
    }

    fn condition(&mut self, e: &EntryState) -> Result<(), ExportError> {
        let id = derived_id(&[b"Condition", e.id.0.as_bytes()]);
        let mut codings = Vec::new();
        if let Some(icd) = e.get(keys::diagnosis::ICD10).and_then(Value::as_text) {
            codings.push(coding(ICD10GM, icd.trim(), None));
        }
        let group = e.get(keys::diagnosis::GROUP).and_then(Value::as_code);
        if let Some(g) = group {
            codings.push(list_coding(&codes::DISEASE_GROUP, g));
        }
        let text = e
            .get(keys::diagnosis::TEXT)
            .and_then(Value::as_text)
            .map(str::to_string)
            .or_else(|| {
                group
                    .and_then(|g| codes::DISEASE_GROUP.get(g))
                    .map(|c| c.de.to_string())
            })
            .unwrap_or_else(|| "Diagnose".to_string());
        let used = [
            keys::diagnosis::ICD10,
            keys::diagnosis::GROUP,
            keys::diagnosis::TEXT,
        ];
        let o = O::resource("Condition")
            .set("id", id.to_string())
            .set(
                "clinicalStatus",
                concept(
                    vec![coding(CONDITION_CLINICAL, "active", Some("Active"))],
                    None,
                ),
            )
            .set(
                "verificationStatus",
                concept(
                    vec![coding(CONDITION_VER, "provisional", Some("Provisional"))],
                    None,
                ),
            )
            .set(
                "category",
                vec![concept(
                    vec![coding(
                        CONDITION_CATEGORY,
                        "encounter-diagnosis",
                        Some("Encounter Diagnosis"),
                    )],
                    None,
                )],
            )
            .set("code", concept(codings, Some(&text)))
            .opt("subject", self.patient_url.as_deref().map(reference))
            .set("encounter", reference(&self.encounter_url))
            .set("recordedDate", iso_time(e.created_ms)?)
            .opt("recorder", self.practitioner(e.created_by))
            .opt(
                "note",
                note(rest_text(Scope::Entry(e.collection), &e.fields, &used)),
            );
        self.push(Section::Diseases, urn(id), o);
        Ok(())
    }

    fn procedure(&mut self, e: &EntryState) -> Result<(), ExportError> {
        let id = derived_id(&[b"Procedure", e.id.0.as_bytes()]);
        let kind = e.get(keys::measure::KIND).and_then(Value::as_code);
        let code = match kind {
            Some(k) => concept(
                vec![list_coding(&codes::MEASURE, k)],
                Some(codes::MEASURE.get(k).map_or(k, |c| c.de)),
            ),
            None => concept(vec![], Some("Maßnahme")),
        };
        let performer = match e.get(keys::measure::PERFORMER).and_then(Value::as_text) {
            Some(p) => Some(O::new().set("display", p)),
            None => self.practitioner(e.created_by),
        };
        let outcome = e
            .get(keys::measure::RESULT)
            .and_then(Value::as_code)
            .map(|r| {
                concept(
                    vec![list_coding(&codes::MEASURE_RESULT, r)],
                    codes::MEASURE_RESULT.get(r).map(|c| c.de),
                )
            });
        let used = [
            keys::measure::KIND,
            keys::measure::AT,
            keys::measure::PERFORMER,
            keys::measure::RESULT,
        ];
        let o = O::resource("Procedure")
            .set("id", id.to_string())
            .set("status", "completed")
            .set("code", code)
            .opt("subject", self.patient_url.as_deref().map(reference))
            .set("encounter", reference(&self.encounter_url))
            .opt(
                "performedDateTime",
                time_of(&e.fields, keys::measure::AT)
                    .map(iso_time)
                    .transpose()?,
            )
            .opt(
                "performer",
                performer.map(|p| vec![O::new().set("actor", p)]),
            )
            .opt("outcome", outcome)
            .opt(
                "note",
                note(rest_text(Scope::Entry(e.collection), &e.fields, &used)),
            );
        self.push(Section::Measures, urn(id), o);
        Ok(())
    }

    fn medication(&mut self, e: &EntryState) -> Result<(), ExportError> {
        let id = derived_id(&[b"MedicationAdministration", e.id.0.as_bytes()]);
        let text = |k: &str| e.get(k).and_then(Value::as_text);
        let product = text(keys::med::PRODUCT);
        let pzn = product.filter(|p| is_pzn(p.trim()));
        let name = text(keys::med::SUBSTANCE)
            .or(product)
            .unwrap_or("Medikament");
        let medication = concept(
            pzn.map(|p| coding(PZN, p.trim(), None))
                .into_iter()
                .collect(),
            Some(name),
        );
        let at = time_of(&e.fields, keys::med::AT);
        let until = time_of(&e.fields, keys::med::UNTIL).filter(|u| at.is_some_and(|a| *u >= a));
        let mut o = O::resource("MedicationAdministration")
            .set("id", id.to_string())
            .set("status", "completed")
            .set("medicationCodeableConcept", medication)
            .opt("subject", self.patient_url.as_deref().map(reference))
            .set("context", reference(&self.encounter_url));
        o = match (at, until) {
            (Some(a), Some(u)) => o.set(
                "effectivePeriod",
                O::new().set("start", iso_time(a)?).set("end", iso_time(u)?),
            ),
            (Some(a), None) => o.set("effectiveDateTime", iso_time(a)?),
            // effective[x] is mandatory: say that the time is unknown.
            (None, _) => o.set(
                "_effectiveDateTime",
                O::new().set(
                    "extension",
                    vec![
                        O::new()
                            .set(
                                "url",
                                "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                            )
                            .set("valueCode", "unknown"),
                    ],
                ),
            ),
        };
        let performer = match text(keys::med::GIVEN_BY) {
            Some(p) => Some(O::new().set("display", p)),
            None => self.practitioner(e.created_by),
        };
        let route = e.get(keys::med::ROUTE).and_then(Value::as_code).map(|r| {
            concept(
                vec![list_coding(&codes::ROUTE, r)],
                Some(codes::ROUTE.get(r).map_or(r, |c| c.de)),
            )
        });
        let unit = e.get(keys::med::UNIT).and_then(Value::as_code);
        let dose = match (e.get(keys::med::DOSE).and_then(Value::as_num), unit) {
            (Some(n), Some(u)) => {
                Some(quantity(n, u)?.set("unit", codes::DOSE_UNIT.get(u).map_or(u, |c| c.de)))
            }
            (Some(n), None) => Some(quantity(n, "")?),
            (None, _) => None,
        };
        let mut used = vec![
            keys::med::SUBSTANCE,
            keys::med::AT,
            keys::med::GIVEN_BY,
            keys::med::REASON,
            keys::med::ROUTE,
            keys::med::DOSE,
        ];
        if pzn.is_some() || text(keys::med::SUBSTANCE).is_none() {
            used.push(keys::med::PRODUCT);
        }
        if dose.is_some() {
            used.push(keys::med::UNIT);
        }
        // An end before the start (or without one) stays visible in the note.
        if until.is_some() {
            used.push(keys::med::UNTIL);
        }
        let dosage = O::new().opt("route", route).opt("dose", dose);
        o = o
            .opt(
                "performer",
                performer.map(|p| vec![O::new().set("actor", p)]),
            )
            .opt(
                "reasonCode",
                text(keys::med::REASON).map(|r| vec![concept(vec![], Some(r))]),
            )
            .opt(
                "note",
                note(rest_text(Scope::Entry(e.collection), &e.fields, &used)),
            )
            .opt("dosage", Some(dosage));
        self.push(Section::Medication, urn(id), o);
        Ok(())
    }

    fn composition(&self, id: Uuid, pad: &str) -> Result<O, ExportError> {
        let status = if self.state.status == Status::Closed {
            "final"
        } else {
            "preliminary"
        };
        let mut authors: Vec<O> = self
            .state
            .crew
            .iter()
            .filter_map(|c| self.crew.get(&c.id).map(|u| reference(u)))
            .collect();
        if authors.is_empty() {
            authors.push(reference(pad));
        }
        let number = self
            .state
            .get(keys::mission::NUMBER)
            .and_then(Value::as_text)
            .map(|n| format!(" {n}"))
            .unwrap_or_default();
        let mut sections = Vec::new();
        for s in Section::ALL {
            let refs = self.refs.get(&s).cloned().unwrap_or_default();
            let div = self.narrative(s);
            if refs.is_empty() && div.is_none() {
                continue;
            }
            let letter = section_letter(s).to_string();
            let text = div.map(|d| {
                O::new().set("status", "generated").set(
                    "div",
                    format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{d}</div>"),
                )
            });
            sections.push(
                O::new()
                    .set("title", format!("{letter}. {}", s.label_de()))
                    .set(
                        "code",
                        concept(vec![coding(CS_SECTION, &letter, Some(s.label_de()))], None),
                    )
                    .opt("text", text)
                    .opt(
                        "entry",
                        Some(refs.iter().map(|r| reference(r)).collect::<Vec<_>>()),
                    ),
            );
        }
        Ok(O::resource("Composition")
            .set("id", id.to_string())
            .set("status", status)
            .set(
                "type",
                concept(vec![loinc(DOC_TYPE)], Some("Notfalleinsatzprotokoll")),
            )
            .opt("subject", self.patient_url.as_deref().map(reference))
            .set("encounter", reference(&self.encounter_url))
            .set("date", iso_time(self.ctx.timestamp_ms)?)
            .set("author", authors)
            .set("title", format!("Notfalleinsatzprotokoll{number}"))
            .opt("section", Some(sections)))
    }

    /// XHTML body of a section: its single fields as a table, its entries as
    /// a list. `None` when nothing is documented.
    fn narrative(&self, s: Section) -> Option<String> {
        let mut out = String::new();
        let mut rows = String::new();
        for def in catalog::FIELDS.iter().filter(|d| d.section == s) {
            let fields = match def.scope {
                Scope::Mission => &self.state.fields,
                Scope::Patient => match self.patient {
                    Some(p) => &p.fields,
                    None => continue,
                },
                Scope::Entry(_) => continue,
            };
            if let Some(v) = fields.get(def.key).and_then(FieldState::current) {
                rows.push_str(&format!(
                    "<tr><th>{}</th><td>{}</td></tr>",
                    esc(def.de),
                    esc(&value_text_de(def, v))
                ));
            }
        }
        if s == Section::Mission {
            rows.push_str(&format!(
                "<tr><th>Rufname (Gerät)</th><td>{}</td></tr><tr><th>Gerät</th><td>{}</td></tr>",
                esc(&self.ctx.call_sign),
                esc(&self.ctx.device_serial)
            ));
            if !self.state.crew.is_empty() {
                let crew: Vec<String> = self
                    .state
                    .crew
                    .iter()
                    .map(|c| {
                        let q = codes::QUALIFICATION
                            .get(&c.qualification)
                            .map_or(c.qualification.as_str(), |q| q.de);
                        format!("{} ({q}, {})", c.name, c.call_sign)
                    })
                    .collect();
                rows.push_str(&format!(
                    "<tr><th>Besatzung</th><td>{}</td></tr>",
                    esc(&crew.join("; "))
                ));
            }
        }
        if s == Section::Handover
            && let Some(h) = &self.ctx.target_hospital
        {
            rows.push_str(&format!(
                "<tr><th>Zielklinik (Übermittlung)</th><td>{} ({})</td></tr>",
                esc(&h.name),
                esc(&h.id)
            ));
        }
        if !rows.is_empty() {
            out.push_str(&format!("<table>{rows}</table>"));
        }
        if let Some(p) = self.patient {
            let mut items = String::new();
            for id in &p.entries {
                let Some(e) = self.state.entries.get(id) else {
                    continue;
                };
                if e.retracted.is_some() || e.collection.section() != s {
                    continue;
                }
                let parts: Vec<String> = catalog::fields_of(Scope::Entry(e.collection))
                    .filter_map(|d| {
                        let v = e.get(d.key)?;
                        Some(format!("{}: {}", d.de, value_text_de(d, v)))
                    })
                    .collect();
                if !parts.is_empty() {
                    items.push_str(&format!("<li>{}</li>", esc(&parts.join("; "))));
                }
            }
            if s == Section::Ecg {
                for st in &p.strips {
                    items.push_str(&format!(
                        "<li>{}: {}, {} s, SHA-256 {}</li>",
                        esc(&st.label),
                        super::local_text(st.start_ms),
                        st.duration_ms / 1000,
                        st.hash.to_hex()
                    ));
                }
            }
            if !items.is_empty() {
                out.push_str(&format!("<ul>{items}</ul>"));
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

fn device_resource(url: &str, name: &str, pad: bool) -> O {
    let label = if pad {
        format!("rettpad {name}")
    } else {
        name.to_string()
    };
    O::resource("Device")
        .set("id", url.trim_start_matches("urn:uuid:"))
        .set(
            "identifier",
            vec![O::new().set("system", SID_DEVICE).set("value", name)],
        )
        .set(
            "deviceName",
            vec![
                O::new()
                    .set("name", label)
                    .set("type", "user-friendly-name"),
            ],
        )
        .opt(
            "type",
            Some(concept(
                vec![],
                Some(if pad {
                    "Dokumentationstablet"
                } else {
                    "Medizingerät (Messwertquelle)"
                }),
            )),
        )
}
