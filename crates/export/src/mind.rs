//! The structured protocol as MIND XML.
//!
//! MIND (DIVI) publishes no XML schema, so this is rettpad's own format in
//! the versioned namespace [`MIND_NS`](super::terms::MIND_NS):
//!
//! ```text
//! protocol (document, mission, created, device, callSign, status)
//!   targetHospital?, crew/member*
//!   section A, B            mission fields, one element per catalog field
//!   patient*                C … N: patient fields; entry* per repeatable record
//!   section O
//! ```
//!
//! Every catalog field of the mission, of each active patient and of each
//! active entry gets one element named by its catalog key, in catalog
//! order; an undocumented one is empty with `documented="false"`. Codes are
//! the MIND codes (`list`, `mind` and `label` attributes), times ISO 8601 in
//! German civil time with offset, and every time and measured value says
//! where it came from (`source`, `fms`, `device`).

use super::terms::{MIND_NS, MIND_VERSION};
use super::{ExportContext, ExportError, decimal, iso_date, iso_time, section_letter, xml_safe};
use quick_xml::Writer;
use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;
use rettpad_record::catalog::{self, FieldDef, Kind, Scope, Section};
use rettpad_record::state::{EntryState, FieldState, Fields, MissionState, PatientState, Status};
use rettpad_record::wave::{StripKind, StripRef};
use rettpad_record::{TimeSource, Value, ValueSource, codes};

const COMMENT: &str = " rettpad MIND export. MIND (DIVI) publishes no XML schema (XSD); this document \
uses rettpad's own versioned namespace. One element per catalog field, grouped by DIVI/MIND \
section A-O; codes are MIND codes; times are ISO 8601 in German civil time with UTC offset. ";

/// The MIND XML of the whole mission (all active patients), UTF-8.
pub fn xml(state: &MissionState, ctx: &ExportContext) -> Result<Vec<u8>, ExportError> {
    let mut x = X {
        w: Writer::new_with_indent(Vec::new(), b' ', 2),
    };
    x.event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    x.event(Event::Comment(BytesText::from_escaped(COMMENT)))?;
    let status = match state.status {
        Status::Open => "open",
        Status::HandedOver => "handed_over",
        Status::Closed => "closed",
    };
    x.start(
        "protocol",
        &[
            ("xmlns", MIND_NS.to_string()),
            ("formatVersion", MIND_VERSION.to_string()),
            ("document", ctx.document_id.to_string()),
            ("mission", state.id.to_string()),
            ("created", iso_time(ctx.timestamp_ms)?),
            ("device", ctx.device_serial.clone()),
            ("callSign", ctx.call_sign.clone()),
            ("status", status.to_string()),
        ],
    )?;
    if let Some(h) = &ctx.target_hospital {
        x.text_el("targetHospital", &[("id", h.id.clone())], &h.name)?;
    }
    x.start("crew", &[])?;
    for c in &state.crew {
        x.text_el(
            "member",
            &[
                ("id", c.id.to_string()),
                ("personnelNo", c.personnel_no.clone()),
                ("qualification", c.qualification.clone()),
                ("callSign", c.call_sign.clone()),
            ],
            &c.name,
        )?;
    }
    x.end("crew")?;
    let mission_section = |s: Section| {
        catalog::FIELDS
            .iter()
            .any(|d| d.section == s && d.scope == Scope::Mission)
    };
    let patient_section = |s: Section| {
        catalog::FIELDS
            .iter()
            .any(|d| d.section == s && d.scope != Scope::Mission)
    };
    let mut patients_written = false;
    for s in Section::ALL {
        // Patients go where the first patient section would be, so that
        // sections stay in A–O order.
        if patient_section(s) && !patients_written {
            patients_written = true;
            for (i, p) in state.active_patients().enumerate() {
                x.patient(state, p, i + 1, &patient_section)?;
            }
        }
        if mission_section(s) {
            x.section_start(s)?;
            for def in catalog::FIELDS
                .iter()
                .filter(|d| d.section == s && d.scope == Scope::Mission)
            {
                x.field(def, state.fields.get(def.key))?;
            }
            x.end("section")?;
        }
    }
    x.end("protocol")?;
    let mut out = x.w.into_inner();
    out.push(b'\n');
    Ok(out)
}

struct X {
    w: Writer<Vec<u8>>,
}

fn io(e: std::io::Error) -> ExportError {
    ExportError::Serialize(e.to_string())
}

impl X {
    fn event(&mut self, e: Event<'_>) -> Result<(), ExportError> {
        self.w.write_event(e).map_err(io)
    }

    fn open(name: &str, attrs: &[(&str, String)]) -> BytesStart<'static> {
        let mut s = BytesStart::new(name.to_string());
        for (k, v) in attrs {
            // Pre-escaped: tab and line breaks as character references, or
            // attribute-value normalisation would turn them into spaces.
            s.push_attribute(Attribute {
                key: QName(k),
                value: escape(v, true).into(),
            });
        }
        s
    }

    fn start(&mut self, name: &str, attrs: &[(&str, String)]) -> Result<(), ExportError> {
        self.event(Event::Start(Self::open(name, attrs)))
    }

    fn end(&mut self, name: &str) -> Result<(), ExportError> {
        self.event(Event::End(BytesEnd::new(name)))
    }

    fn empty(&mut self, name: &str, attrs: &[(&str, String)]) -> Result<(), ExportError> {
        self.event(Event::Empty(Self::open(name, attrs)))
    }

    fn text_el(
        &mut self,
        name: &str,
        attrs: &[(&str, String)],
        text: &str,
    ) -> Result<(), ExportError> {
        if text.is_empty() {
            return self.empty(name, attrs);
        }
        self.event(Event::Start(Self::open(name, attrs)))?;
        self.event(Event::Text(BytesText::from_escaped(escape(text, false))))?;
        self.end(name)
    }

    fn section_start(&mut self, s: Section) -> Result<(), ExportError> {
        self.start(
            "section",
            &[
                ("id", section_letter(s).to_string()),
                ("name", s.label_de().to_string()),
            ],
        )
    }

    fn patient(
        &mut self,
        state: &MissionState,
        p: &PatientState,
        number: usize,
        patient_section: &dyn Fn(Section) -> bool,
    ) -> Result<(), ExportError> {
        self.start(
            "patient",
            &[("id", p.id.to_string()), ("number", number.to_string())],
        )?;
        for s in Section::ALL.into_iter().filter(|s| patient_section(*s)) {
            self.section_start(s)?;
            for def in catalog::FIELDS
                .iter()
                .filter(|d| d.section == s && d.scope == Scope::Patient)
            {
                self.field(def, p.fields.get(def.key))?;
            }
            for id in &p.entries {
                let Some(e) = state.entries.get(id) else {
                    continue;
                };
                if e.retracted.is_none() && e.collection.section() == s {
                    self.entry(e)?;
                }
            }
            if s == Section::Ecg {
                for st in &p.strips {
                    self.strip(st)?;
                }
            }
            self.end("section")?;
        }
        self.end("patient")
    }

    /// An ECG strip by reference: the samples travel as their own blob,
    /// identified by the SHA-256 of their encoding.
    fn strip(&mut self, st: &StripRef) -> Result<(), ExportError> {
        let kind = match st.kind {
            StripKind::TwelveLead => "twelve_lead",
            StripKind::Rhythm => "rhythm",
        };
        self.text_el(
            "strip",
            &[
                ("kind", kind.to_string()),
                ("start", iso_time(st.start_ms)?),
                ("durationMs", st.duration_ms.to_string()),
                ("leads", st.leads.join(" ")),
                ("sha256", st.hash.to_hex()),
            ],
            &st.label,
        )
    }

    fn entry(&mut self, e: &EntryState) -> Result<(), ExportError> {
        let collection = serde_json::to_value(e.collection)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        self.start(
            "entry",
            &[
                ("id", e.id.to_string()),
                ("collection", collection),
                ("created", iso_time(e.created_ms)?),
                ("author", e.created_by.to_string()),
            ],
        )?;
        write_fields(self, &e.fields, Scope::Entry(e.collection))?;
        self.end("entry")
    }

    fn field(&mut self, def: &FieldDef, fs: Option<&FieldState>) -> Result<(), ExportError> {
        let name = def.key;
        let Some((fs, v)) = fs.and_then(|f| f.current().map(|v| (f, v))) else {
            return self.empty(name, &[("documented", "false".into())]);
        };
        let mut a: Vec<(&str, String)> = Vec::new();
        if fs.corrected() {
            a.push(("corrected", "true".into()));
        }
        let list_attrs = |a: &mut Vec<(&str, String)>, list: &codes::CodeList| {
            a.push(("list", list.id.to_string()));
            if let Some(m) = list.mind {
                a.push(("mind", m.to_string()));
            }
        };
        match (&def.kind, v) {
            (Kind::Code(list), Value::Code(c)) => {
                list_attrs(&mut a, list);
                if let Some(x) = list.get(c) {
                    a.push(("label", x.de.to_string()));
                }
                self.text_el(name, &a, c)
            }
            (Kind::Codes(list), Value::Codes(cs)) => {
                list_attrs(&mut a, list);
                self.start(name, &a)?;
                for c in cs {
                    let label = list.get(c).map(|x| x.de.to_string()).unwrap_or_default();
                    self.text_el("code", &[("label", label)], c)?;
                }
                self.end(name)
            }
            (_, Value::Measured(m)) => {
                if let Some(u) = catalog::unit(def).filter(|u| !u.is_empty()) {
                    a.push(("unit", u.to_string()));
                }
                if let Kind::Measured { loinc, .. } = def.kind {
                    a.push(("loinc", loinc.to_string()));
                }
                match &m.source {
                    ValueSource::Manual => a.push(("source", "manual".into())),
                    ValueSource::Device { device } => {
                        a.push(("source", "device".into()));
                        a.push(("device", device.clone()));
                    }
                }
                match (m.value, m.not_measurable) {
                    (Some(n), false) => self.text_el(name, &a, &decimal(n)),
                    _ => {
                        a.push(("notMeasurable", "true".into()));
                        self.empty(name, &a)
                    }
                }
            }
            (_, Value::Num(n)) => {
                if let Some(u) = catalog::unit(def).filter(|u| !u.is_empty()) {
                    a.push(("unit", u.to_string()));
                }
                self.text_el(name, &a, &decimal(*n))
            }
            (_, Value::Int(i)) => self.text_el(name, &a, &i.to_string()),
            (_, Value::Time(t)) => {
                match &t.source {
                    TimeSource::Dispatch { status } => {
                        a.push(("source", "dispatch".into()));
                        if let Some(s) = status {
                            a.push(("fms", s.to_string()));
                        }
                    }
                    TimeSource::Device { device } => {
                        a.push(("source", "device".into()));
                        a.push(("device", device.clone()));
                    }
                    TimeSource::Manual => a.push(("source", "manual".into())),
                }
                self.text_el(name, &a, &iso_time(t.at_ms)?)
            }
            (_, Value::Date(d)) => {
                let precision = match (d.month, d.day) {
                    (0, _) => "year",
                    (_, 0) => "month",
                    _ => "day",
                };
                a.push(("precision", precision.into()));
                self.text_el(name, &a, &iso_date(d))
            }
            (_, Value::Bool(b)) => self.text_el(name, &a, if *b { "true" } else { "false" }),
            (_, Value::Text(s)) | (_, Value::Code(s)) => self.text_el(name, &a, s),
            (_, Value::Codes(cs)) => self.text_el(name, &a, &cs.join(" ")),
        }
    }
}

/// XML escaping of text (`attr = false`) or an attribute value; a carriage
/// return is always a character reference so that parsers keep it.
fn escape(s: &str, attr: bool) -> String {
    let s = xml_safe(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\n' if attr => out.push_str("&#10;"),
            '\t' if attr => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

fn write_fields(x: &mut X, fields: &Fields, scope: Scope) -> Result<(), ExportError> {
    for def in catalog::fields_of(scope) {
        x.field(def, fields.get(def.key))?;
    }
    Ok(())
}
