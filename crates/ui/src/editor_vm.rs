//! The protocol editor's view models: sections, patients, entries and the
//! fields generated from the catalog.

use super::*;
use rettpad_record::keys;

impl Controller {
    pub(super) fn refresh_editor(
        &mut self,
        ui: &AppWindow,
        st: Option<&MissionState>,
        findings: &[Finding],
    ) {
        let ed = ui.global::<EditorAdapter>();
        let Some(st) = st else {
            sync_model(&ed.get_fields(), Vec::new(), |new| ed.set_fields(new));
            return;
        };
        let lang = self.lang;
        // Section overview.
        let sections: Vec<SectionVM> = view::PAGES
            .iter()
            .enumerate()
            .map(|(i, page)| {
                let quick = i == view::QUICK_PAGE;
                let in_section = |f: &Finding| {
                    if quick {
                        f.field.is_some_and(view::is_quick_field)
                    } else {
                        page.contains(&finding_section(st, f))
                    }
                };
                let state = if findings
                    .iter()
                    .any(|f| f.severity == Severity::Hard && in_section(f))
                {
                    "missing"
                } else if findings
                    .iter()
                    .any(|f| f.severity == Severity::Soft && in_section(f))
                {
                    "warn"
                } else if page.iter().any(|s| section_has_data(st, *s)) {
                    "ok"
                } else {
                    "empty"
                };
                SectionVM {
                    label: ss(view::page_label(i, lang)),
                    state: ss(state),
                }
            })
            .collect();
        sync_model(&ed.get_sections(), sections, |new| ed.set_sections(new));
        ed.set_section(self.section as i32);
        let section = self.section();
        let number = st
            .get(keys::mission::NUMBER)
            .and_then(Value::as_text)
            .unwrap_or("")
            .to_string();
        ed.set_title(ss(if number.is_empty() {
            view::page_label(self.section, lang).to_string()
        } else {
            format!("{} · {number}", view::page_label(self.section, lang))
        }));
        let patients: Vec<SharedString> = st
            .active_patients()
            .enumerate()
            .map(|(i, p)| ss(patient_label(p, i, lang)))
            .collect();
        if self
            .pad
            .cursor
            .patient
            .is_none_or(|p| st.patient(p).is_none_or(|x| x.retracted.is_some()))
        {
            self.pad.cursor.patient = st.active_patients().next().map(|p| p.id);
        }
        let pidx = st
            .active_patients()
            .position(|p| Some(p.id) == self.pad.cursor.patient)
            .map_or(-1, |i| i as i32);
        sync_model(&ed.get_patients(), patients, |new| ed.set_patients(new));
        ed.set_patient(pidx);
        let collection = self.collection();
        ed.set_collection(collection.is_some());
        ed.set_needs_patient(self.pad.cursor.patient.is_none());
        // Entries of the collection.
        if let (Some(c), Some(p)) = (collection, self.pad.cursor.patient) {
            if self.pad.cursor.entry.is_some_and(|e| {
                st.entries
                    .get(&e)
                    .is_none_or(|x| x.collection != c || x.patient != p)
            }) {
                self.pad.cursor.entry = None;
            }
            let entries: Vec<EntryVM> = st
                .patient(p)
                .map(|x| x.entries.clone())
                .unwrap_or_default()
                .iter()
                .filter_map(|id| st.entries.get(id))
                .filter(|e| e.collection == c)
                .enumerate()
                .map(|(i, e)| EntryVM {
                    id: ss(e.id.0.to_string()),
                    title: ss(entry_title(e, i, lang)),
                    detail: ss(entry_detail(e, lang)),
                    retracted: e.retracted.is_some(),
                    selected: Some(e.id) == self.pad.cursor.entry,
                })
                .collect();
            ed.set_can_repeat(
                st.entries_of(p, c).next().is_some()
                    && matches!(
                        c,
                        Collection::Measure | Collection::Medication | Collection::Vitals
                    ),
            );
            sync_model(&ed.get_entries(), entries, |new| ed.set_entries(new));
            ed.set_new_entry_label(ss(match c {
                Collection::Vitals => msg::NEW_VITAL_SIGNS.message(lang),
                Collection::Finding => msg::NEW_FINDING.message(lang),
                _ => msg::NEW_ENTRY.message(lang),
            }));
            sync_model(
                &ed.get_presets(),
                self.presets(c)
                    .iter()
                    .map(|p| PresetVM {
                        label: ss(lang.pick(&p.de, &p.en)),
                    })
                    .collect(),
                |m| ed.set_presets(m),
            );
        } else {
            self.pad.cursor.entry = None;
            sync_model(&ed.get_entries(), Vec::new(), |new| ed.set_entries(new));
            sync_model(&ed.get_presets(), Vec::new(), |new| ed.set_presets(new));
            ed.set_can_repeat(false);
        }
        ed.set_entry_selected(self.pad.cursor.entry.is_some());
        let quick = self.section == view::QUICK_PAGE;
        ed.set_quick(quick);
        ed.set_device_take_visible(
            (quick || collection == Some(Collection::Vitals)) && self.device_configured(),
        );
        ed.set_device_take_enabled(self.device_values_ready());
        ed.set_print_visible(section == Some(Section::Handover));
        ed.set_dispatch_proposal(ss(self
            .pad
            .cursor
            .mission
            .and_then(|m| rettpad_pad::dispatch::proposal_text(self.pad.store(), m, lang))
            .unwrap_or_default()));
        ed.set_hint(ss(match (collection, self.pad.cursor.entry) {
            (Some(Collection::Vitals), None) if self.device_configured() => format!(
                "{} · {}",
                self.device_state_long().unwrap_or_default(),
                msg::NEW_VITALS_THE_FIRST_INPUT_CREATES_THEM.message(lang)
            ),
            (Some(_), None) => msg::NEW_ENTRY_THE_FIRST_INPUT_CREATES_IT.message(lang),
            (None, _) if section == Some(Section::Handover) => history_text(st, lang),
            (None, _) if quick => self.last_vitals_text(st),
            _ => String::new(),
        }));
        // Fields of the section.
        // In the page's section order: on Einsatz/Zeiten the times come first.
        let fields: Vec<FieldVM> = if quick {
            self.quick_fields(st, findings)
        } else {
            view::page_sections(self.section)
                .iter()
                .flat_map(|s| catalog::FIELDS.iter().filter(move |d| d.section == *s))
                .filter(|d| match (collection, d.scope) {
                    (Some(c), Scope::Entry(dc)) => c == dc,
                    (Some(_), _) => false,
                    (None, _) => true,
                })
                .map(|d| self.field_vm(st, d, findings))
                .collect()
        };
        // Keep each row's options model while its content is the same, so
        // an unchanged row compares equal and is left alone.
        let old = ed.get_fields();
        let fields = fields
            .into_iter()
            .enumerate()
            .map(|(i, mut f)| {
                if let Some(o) = old.row_data(i)
                    && o.key == f.key
                    && same_rows(&o.options, &f.options)
                {
                    f.options = o.options;
                }
                f
            })
            .collect();
        sync_model(&old, fields, |new| ed.set_fields(new));
    }

    /// Quick entry's rows: each entry field shows the patient's first
    /// entry of its collection; presets are toggles.
    fn quick_fields(&mut self, st: &MissionState, findings: &[Finding]) -> Vec<FieldVM> {
        let lang = self.lang;
        let mut out = Vec::new();
        for row in view::QUICK {
            match *row {
                view::QuickRow::Field(key) => {
                    let Some(d) = catalog::field(key) else {
                        continue;
                    };
                    if let Scope::Entry(c) = d.scope {
                        self.pad.cursor.entry = self.pad.quick_entry(st, c);
                    }
                    out.push(self.field_vm(st, d, findings));
                }
                view::QuickRow::Presets(c) => {
                    let options = self
                        .presets(c)
                        .iter()
                        .enumerate()
                        .map(|(i, p)| OptionVM {
                            code: ss(i.to_string()),
                            label: ss(lang.pick(&p.de, &p.en)),
                            selected: self.pad.preset_done(st, c, &p.fields),
                        })
                        .collect();
                    out.push(FieldVM {
                        key: ss(view::preset_row_key(c)),
                        label: ss(view::section_label(c.section(), lang)),
                        kind: ss("codes"),
                        options: model(options),
                        ..FieldVM::default()
                    });
                }
            }
        }
        self.pad.cursor.entry = None;
        out
    }

    /// The latest vital signs, for quick entry.
    fn last_vitals_text(&self, st: &MissionState) -> String {
        let Some(p) = self.pad.cursor.patient else {
            return String::new();
        };
        let n = st.entries_of(p, Collection::Vitals).count();
        st.entries_of(p, Collection::Vitals)
            .last()
            .map(|e| {
                format!(
                    "{} {}",
                    view::section_label(Section::Vitals, self.lang),
                    entry_title(e, n - 1, self.lang)
                ) + " · "
                    + &entry_detail(e, self.lang)
            })
            .unwrap_or_default()
    }

    pub(super) fn field_vm(
        &self,
        st: &MissionState,
        d: &FieldDef,
        findings: &[Finding],
    ) -> FieldVM {
        let lang = self.lang;
        let target = self.pad.target_for(d);
        let current = self.current_value(st, d);
        let history_len = match &target {
            Some(Target::Mission) => st.fields.get(d.key).map_or(0, |f| f.history.len()),
            Some(Target::Patient(p)) => st
                .patient(*p)
                .and_then(|x| x.fields.get(d.key))
                .map_or(0, |f| f.history.len()),
            Some(Target::Entry(e)) => st
                .entries
                .get(e)
                .and_then(|x| x.fields.get(d.key))
                .map_or(0, |f| f.history.len()),
            None => 0,
        };
        let hits = |sev: Severity| {
            findings.iter().find(|f| {
                f.severity == sev && f.field == Some(d.key) && Some(&f.target) == target.as_ref()
            })
        };
        let (kind, options): (&str, Vec<OptionVM>) = match d.kind {
            Kind::Code(list) => (
                "code",
                view::tile_codes(list)
                    .map(|c| OptionVM {
                        code: ss(c.code),
                        label: ss(lang.pick(c.de, c.en)),
                        selected: current.as_ref().and_then(Value::as_code) == Some(c.code),
                    })
                    .collect(),
            ),
            Kind::Codes(list) => {
                let sel: Vec<String> = match &current {
                    Some(Value::Codes(l)) => l.clone(),
                    _ => Vec::new(),
                };
                (
                    "codes",
                    view::tile_codes(list)
                        .map(|c| OptionVM {
                            code: ss(c.code),
                            label: ss(lang.pick(c.de, c.en)),
                            selected: sel.iter().any(|s| s == c.code),
                        })
                        .collect(),
                )
            }
            Kind::Bool => {
                let b = current.as_ref().and_then(Value::as_bool);
                (
                    "bool",
                    vec![
                        OptionVM {
                            code: ss("1"),
                            label: ss(view::yes_no(true, lang)),
                            selected: b == Some(true),
                        },
                        OptionVM {
                            code: ss("0"),
                            label: ss(view::yes_no(false, lang)),
                            selected: b == Some(false),
                        },
                    ],
                )
            }
            Kind::Int { min, max } if max - min <= 10 => (
                "int-tiles",
                (min..=max)
                    .map(|i| OptionVM {
                        code: ss(i.to_string()),
                        label: ss(i.to_string()),
                        selected: current == Some(Value::Int(i)),
                    })
                    .collect(),
            ),
            Kind::Int { .. } => ("int", Vec::new()),
            Kind::Num { .. } => ("num", Vec::new()),
            Kind::Measured { .. } => ("measured", Vec::new()),
            Kind::Time => ("time", Vec::new()),
            Kind::Date => ("date", Vec::new()),
            Kind::Text { .. } => (
                "text",
                presets::suggestions(d.key, &self.pad.config().hospitals)
                    .into_iter()
                    .map(|s| OptionVM {
                        selected: current.as_ref().and_then(Value::as_text) == Some(s.as_str()),
                        code: ss(&s),
                        label: ss(&s),
                    })
                    .collect(),
            ),
        };
        FieldVM {
            key: ss(d.key),
            label: ss(view::field_label(d, lang)),
            kind: ss(kind),
            value: ss(current
                .as_ref()
                .map(|v| view::value_text(d, v, lang))
                .unwrap_or_default()),
            unit: ss(catalog::unit(d).unwrap_or("")),
            options: model(options),
            missing: hits(Severity::Hard).is_some(),
            warning: ss(hits(Severity::Soft)
                .map(|f| lang.pick(&f.message_de, &f.message_en).to_string())
                .unwrap_or_default()),
            corrected: history_len > 1,
            osk: ss(crate::keyboard::layout_for(d)),
        }
    }
}

/// The mission's history on the handover page: prints, electronic and
/// pad-to-pad handovers, and logs merged from other pads.
pub(super) fn history_text(st: &MissionState, lang: Lang) -> String {
    let mut lines: Vec<(i64, String)> = Vec::new();
    for h in &st.handovers {
        let what = match (h.mode, lang) {
            (rettpad_record::HandoverMode::Printed, Lang::De) => "Gedruckt auf",
            (rettpad_record::HandoverMode::Printed, Lang::En) => "Printed on",
            (rettpad_record::HandoverMode::Electronic, Lang::De) => "Elektronisch übergeben an",
            (rettpad_record::HandoverMode::Electronic, Lang::En) => "Handed over electronically to",
            (rettpad_record::HandoverMode::PadToPad, Lang::De) => "An anderes Gerät übergeben:",
            (rettpad_record::HandoverMode::PadToPad, Lang::En) => "Handed over to pad",
        };
        lines.push((
            h.wall_ms,
            format!("{} {what} {}", view::clock_text(h.wall_ms), h.to),
        ));
    }
    for mg in &st.merges {
        let text = msg::received_from(&view::clock_text(mg.wall_ms), &mg.from_call_sign, mg.events)
            .message(lang);
        lines.push((mg.wall_ms, text));
    }
    lines.sort();
    lines
        .into_iter()
        .map(|(_, l)| l)
        .collect::<Vec<_>>()
        .join(" · ")
}

pub(super) fn patient_label(
    p: &rettpad_record::state::PatientState,
    i: usize,
    lang: Lang,
) -> String {
    match p.get(keys::patient::FAMILY_NAME).and_then(Value::as_text) {
        Some(n) => n.to_string(),
        None if p.get(keys::patient::UNKNOWN).and_then(Value::as_bool) == Some(true) => {
            format!("{} {}", lang.pick("Unbekannt", "Unknown"), i + 1)
        }
        None => format!("{} {}", lang.pick("Patient", "Patient"), i + 1),
    }
}

pub(super) fn entry_title(e: &rettpad_record::state::EntryState, i: usize, lang: Lang) -> String {
    let time = presets::time_field(e.collection)
        .and_then(|k| e.get(k))
        .and_then(Value::as_time);
    match time {
        Some(t) => format!("{} · {}", i + 1, view::clock_text(t.at_ms)),
        None => format!("{} {}", lang.pick("Eintrag", "Entry"), i + 1),
    }
}

pub(super) fn entry_detail(e: &rettpad_record::state::EntryState, lang: Lang) -> String {
    let num = |k: &str| {
        e.get(k)
            .map(|v| view::value_by_key(k, v, lang))
            .filter(|s| !s.is_empty())
    };
    let mut parts: Vec<String> = Vec::new();
    match e.collection {
        Collection::Vitals => {
            if let Some(sys) = num(keys::vitals::BP_SYS) {
                parts.push(format!(
                    "RR {sys}/{}",
                    num(keys::vitals::BP_DIA).unwrap_or_else(|| "–".into())
                ));
            }
            for (k, short) in [
                (keys::vitals::HR, "HF"),
                (keys::vitals::SPO2, "SpO₂"),
                (keys::vitals::RR, "AF"),
                (keys::vitals::GLUCOSE, "BZ"),
            ] {
                if let Some(v) = num(k) {
                    parts.push(format!("{short} {v}"));
                }
            }
        }
        Collection::Finding => {
            let score = |k: &str| {
                e.get(k)
                    .and_then(Value::as_code)
                    .and_then(|c| c.parse::<u32>().ok())
            };
            let gcs: Option<u32> = [
                keys::finding::GCS_EYES,
                keys::finding::GCS_VERBAL,
                keys::finding::GCS_MOTOR,
            ]
            .iter()
            .map(|k| score(k))
            .sum();
            if let Some(g) = gcs {
                parts.push(format!("GCS {g}"));
            }
            if let Some(n) = num(keys::finding::PAIN_NRS) {
                parts.push(format!("NRS {n}"));
            }
        }
        c => {
            let keys: &[&str] = match c {
                Collection::Ecg => &[keys::ecg::RHYTHM],
                Collection::Injury => &[keys::injury::REGION, keys::injury::SEVERITY],
                Collection::Diagnosis => &[keys::diagnosis::TRACER, keys::diagnosis::GROUP],
                Collection::Measure => &[keys::measure::KIND],
                _ => &[keys::med::SUBSTANCE, keys::med::DOSE],
            };
            parts.extend(keys.iter().filter_map(|k| num(k)));
        }
    }
    let text = parts.join(" · ");
    if e.retracted.is_some() {
        format!("{text} ({})", lang.pick("zurückgezogen", "retracted"))
    } else {
        text
    }
}

pub(super) fn finding_section(st: &MissionState, f: &Finding) -> Section {
    if let Some(def) = f.field.and_then(catalog::field) {
        return def.section;
    }
    match &f.target {
        Target::Entry(e) => st
            .entries
            .get(e)
            .map_or(Section::Patient, |x| x.collection.section()),
        _ => Section::Patient,
    }
}

pub(super) fn section_has_data(st: &MissionState, s: Section) -> bool {
    let has = |fields: &rettpad_record::state::Fields| {
        fields.iter().any(|(k, f)| {
            f.current().is_some() && catalog::field(k).is_some_and(|d| d.section == s)
        })
    };
    if has(&st.fields) || st.active_patients().any(|p| has(&p.fields)) {
        return true;
    }
    st.entries
        .values()
        .any(|e| e.retracted.is_none() && e.collection.section() == s)
}
