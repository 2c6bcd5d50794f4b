use super::presets::{self, VITALS_KEYPAD_ORDER};
use super::view::{self, Lang};
use super::*;
use rettpad_clock::SharedClock;
use rettpad_pad::config::Config;
use rettpad_pad::session::{Qualification, Session};
use rettpad_pad::{Pad, PadEvent, Unlock};
use rettpad_record::catalog::{self, Collection, FieldDef, Kind, Scope};
use rettpad_record::rules::{self, Finding, Severity};
use rettpad_record::text::{Notice, UserMessage};
use rettpad_record::{
    Measured, MissionId, MissionState, Num, PatientId, Payload, Section, Status, Target, Value,
    ValueSource,
};
use rettpad_vault::store::SharedStore;
use slint::{ComponentHandle, Model, ModelRc, SharedString, VecModel};
use std::cell::RefCell;
use std::rc::Rc;

#[path = "handover_ui.rs"]
mod handover_ui;
#[path = "outbox_ui.rs"]
mod outbox_ui;
#[path = "peripherals.rs"]
mod peripherals;
#[path = "print_ui.rs"]
mod print_ui;
pub use peripherals::Keep;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Lock = 0,
    Login = 1,
    Missions = 2,
    Editor = 3,
    Close = 4,
    Settings = 5,
    Handover = 6,
    Live = 7,
}

struct LoginRow {
    name: String,
    number: String,
    qualification: usize,
}

struct KeypadState {
    key: &'static str,
    input: String,
    error: String,
    /// Reached by moving on by itself: the next "Weiter" on an empty input
    /// is the habit of a user who did not see it and must not skip a field.
    auto: bool,
}

impl KeypadState {
    fn new(key: &'static str) -> KeypadState {
        KeypadState {
            key,
            input: String::new(),
            error: String::new(),
            auto: false,
        }
    }
}

/// The app's state between the UI and the core.
pub struct Controller {
    /// The headless core: session, shift, missions, edits, sealing.
    pad: Pad,
    lang: Lang,
    page: Page,
    back: Page,
    section: usize,
    keypad: Option<KeypadState>,
    login: Vec<LoginRow>,
    login_call_sign: String,
    login_error: String,
    lock_message: (String, bool),
    wiped: bool,
    toast: (String, bool),
    toast_serial: i32,
    close_hard: Vec<Finding>,
    card: peripherals::CardFeed,
    dev: peripherals::DevFeed,
    ho: handover_ui::HandoverFeed,
    /// Kept alive with the uploader (the demo's local gateway).
    up_keep: Option<Keep>,
    print: print_ui::PrintFeed,
}

fn ss(s: impl AsRef<str>) -> SharedString {
    SharedString::from(s.as_ref())
}

fn model<T: Clone + 'static>(v: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(v))
}

/// Makes `current` hold `rows`, touching only the rows that changed.
/// Replacing a model under a repeater re-creates every row, and with it a
/// focused `LineEdit` and what was typed into it: the typing defect. So a
/// refresh updates in place, and `set` gives a new model only the first time.
fn sync_model<T: Clone + PartialEq + 'static>(
    current: &ModelRc<T>,
    rows: Vec<T>,
    set: impl FnOnce(ModelRc<T>),
) {
    let Some(vm) = current.as_any().downcast_ref::<VecModel<T>>() else {
        set(model(rows));
        return;
    };
    let old = vm.row_count();
    for (i, row) in rows.iter().enumerate() {
        if i >= old {
            vm.push(row.clone());
        } else if vm.row_data(i).as_ref() != Some(row) {
            vm.set_row_data(i, row.clone());
        }
    }
    while vm.row_count() > rows.len() {
        vm.remove(vm.row_count() - 1);
    }
}

/// Equal rows of two models (a nested model compares by pointer otherwise).
fn same_rows<T: Clone + PartialEq + 'static>(a: &ModelRc<T>, b: &ModelRc<T>) -> bool {
    a.row_count() == b.row_count() && a.iter().zip(b.iter()).all(|(x, y)| x == y)
}

fn tr(lang: Lang, de: &str, en: &str) -> String {
    lang.pick(de, en).to_string()
}

/// Takes what arrived on a worker's channel; a closed channel is dropped.
fn drain<T>(rx: &mut Option<std::sync::mpsc::Receiver<T>>) -> Vec<T> {
    let mut out = Vec::new();
    while let Some(r) = rx.as_ref() {
        match r.try_recv() {
            Ok(m) => out.push(m),
            Err(std::sync::mpsc::TryRecvError::Empty) => break,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => *rx = None,
        }
    }
    out
}

impl Controller {
    fn state(&self) -> Option<MissionState> {
        self.pad.state()
    }

    fn set_toast(&mut self, msg: String, error: bool) {
        self.toast = (msg, error);
        self.toast_serial = self.toast_serial.wrapping_add(1);
    }

    /// Records one change of the open mission and shows the outcome.
    fn apply(&mut self, p: Payload) -> bool {
        let r = self.pad.apply(p);
        self.saved(r)
    }

    /// Shows the outcome of an edit: "gespeichert" only once the vault has it.
    fn saved(&mut self, r: Result<(), Notice>) -> bool {
        match r {
            Ok(()) => {
                let msg = tr(self.lang, "gespeichert", "saved");
                self.set_toast(msg, false);
                true
            }
            Err(n) => {
                self.set_toast(n.message(self.lang), true);
                false
            }
        }
    }

    /// The page's first section: the one whose collection it edits.
    fn section(&self) -> Section {
        view::page_sections(self.section)[0]
    }

    fn collection(&self) -> Option<Collection> {
        Collection::ALL
            .into_iter()
            .find(|c| c.section() == self.section())
    }

    fn current_value(&self, st: &MissionState, def: &FieldDef) -> Option<Value> {
        self.pad.current_value(st, def)
    }

    fn set_field(&mut self, key: &str, value: Option<Value>) -> bool {
        let r = self.pad.set_field(key, value);
        self.saved(r)
    }

    // ---- callbacks -------------------------------------------------------

    fn unlock(&mut self, pin: &str) {
        match self.pad.unlock(pin) {
            Unlock::Open { shift } => {
                self.lock_message = (String::new(), false);
                self.wiped = false;
                self.page = if shift { Page::Missions } else { Page::Login };
            }
            Unlock::Refused(n) => self.lock_message = (n.message(self.lang), true),
            Unlock::Wiped(n) => {
                self.lock_message = (n.message(self.lang), true);
                self.wiped = true;
            }
        }
    }

    pub fn lock(&mut self) {
        self.pad.lock();
        self.keypad = None;
        self.page = Page::Lock;
    }

    /// Called every second by a timer (and by tests after moving the clock).
    pub fn tick(&mut self) {
        self.poll_print();
        self.poll_peripherals();
        self.poll_handover();
        for e in self.pad.tick() {
            match e {
                PadEvent::Locked if self.page != Page::Lock => {
                    self.keypad = None;
                    self.page = Page::Lock;
                    self.lock_message = (
                        tr(
                            self.lang,
                            "Automatisch gesperrt (Inaktivität).",
                            "Locked after inactivity.",
                        ),
                        false,
                    );
                }
                PadEvent::SealFailed(_, n) => self.set_toast(n.message(self.lang), true),
                PadEvent::Locked | PadEvent::Queued(_) => {}
            }
        }
    }

    fn start_shift(&mut self) {
        let quals = rettpad_pad::workflow::qualifications();
        let crew: Vec<(String, String, Qualification)> = self
            .login
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    r.number.clone(),
                    quals[r.qualification.min(quals.len() - 1)],
                )
            })
            .collect();
        let call_sign = self.login_call_sign.clone();
        match self.pad.start_shift(&call_sign, &crew) {
            Ok(()) => {
                self.login_error.clear();
                self.page = Page::Missions;
            }
            Err(n) => self.login_error = n.message(self.lang),
        }
    }

    fn create_mission(&mut self) {
        match self.pad.create_mission() {
            Ok(_) => {
                self.section = 0;
                self.page = Page::Editor;
            }
            Err(n) => self.set_toast(n.message(self.lang), true),
        }
    }

    fn open_mission(&mut self, id: &str) {
        let found = self
            .pad
            .store()
            .lock()
            .mission_ids()
            .find(|m| m.to_string() == id);
        let Some(m) = found else { return };
        match self.pad.open_mission(m) {
            Ok(()) => {
                self.section = 0;
                self.page = Page::Editor;
            }
            Err(n) => self.set_toast(n.message(self.lang), false),
        }
    }

    /// Tapping the selected tile again takes the value back.
    fn choose(&mut self, key: &str, code: &str) {
        let r = self.pad.choose(key, code);
        self.saved(r);
    }

    fn time_now(&mut self, key: &str) {
        let r = self.pad.time_now(key);
        self.saved(r);
    }

    fn time_shift(&mut self, key: &str, minutes: i32) {
        let r = self.pad.time_shift(key, minutes);
        self.saved(r);
    }

    fn set_text(&mut self, key: &str, text: &str) {
        let r = self.pad.set_text(key, text);
        self.saved(r);
    }

    fn open_keypad(&mut self, key: &str) {
        if let Some(def) = catalog::field(key) {
            self.keypad = Some(KeypadState::new(def.key));
        }
    }

    fn keypad_press(&mut self, k: &str) {
        let Some(kp) = self.keypad.as_mut() else {
            return;
        };
        match k {
            "back" => {
                kp.input.pop();
            }
            "," if kp.input.contains(',') => {}
            "/" if kp.key != "vitals.bp_sys" || kp.input.contains('/') || kp.input.is_empty() => {}
            _ if kp.input.chars().count() >= 9 => {}
            d if d == ","
                || d == "/"
                || (d.len() == 1 && d.chars().all(|c| c.is_ascii_digit())) =>
            {
                kp.input.push_str(d)
            }
            _ => {}
        }
        kp.error.clear();
        kp.auto = false;
        // Only a typed digit moves on: "back" must be able to undo the "/".
        if k.len() == 1 && k.bytes().all(|b| b.is_ascii_digit()) {
            self.keypad_move_on_when_complete();
        }
    }

    /// When no further digit can give a valid value ("112" for a heart
    /// rate), the keypad takes the value and moves on: no "Weiter" tap.
    /// Systolic blood pressure moves on to the diastolic part after "/".
    fn keypad_move_on_when_complete(&mut self) {
        let Some(kp) = self.keypad.as_mut() else {
            return;
        };
        let key = kp.key;
        let complete = match (key, kp.input.split_once('/')) {
            ("vitals.bp_sys", None) => {
                if catalog::field(key).is_some_and(|d| catalog::input_complete(d, &kp.input)) {
                    kp.input.push('/');
                }
                false
            }
            ("vitals.bp_sys", Some((_, dia))) => {
                catalog::field("vitals.bp_dia").is_some_and(|d| catalog::input_complete(d, dia))
            }
            _ => catalog::field(key).is_some_and(|d| catalog::input_complete(d, &kp.input)),
        };
        if !complete {
            return;
        }
        self.keypad_ok(true);
        if let Some(kp) = self.keypad.as_mut()
            && kp.key != key
        {
            kp.auto = true;
        }
    }

    fn keypad_commit(&mut self, value: Value, next: bool) {
        let Some(kp) = self.keypad.as_ref() else {
            return;
        };
        let key = kp.key;
        if let Some(def) = catalog::field(key)
            && let Err(e) = catalog::validate(def.scope, key, &value)
        {
            if let Some(kp) = self.keypad.as_mut() {
                kp.error = match self.lang {
                    Lang::De => e.user_message_de(),
                    Lang::En => e.to_string(),
                };
            }
            return;
        }
        if !self.set_field(key, Some(value)) {
            if let Some(kp) = self.keypad.as_mut() {
                kp.error = self.toast.0.clone();
            }
            return;
        }
        let following = next.then(|| next_keypad_field(key)).flatten();
        self.keypad = following.map(KeypadState::new);
    }

    fn keypad_ok(&mut self, next: bool) {
        let Some(kp) = self.keypad.as_ref() else {
            return;
        };
        let Some(def) = catalog::field(kp.key) else {
            return;
        };
        if kp.input.is_empty() && next && kp.auto {
            // The keypad moved on by itself a moment ago.
            if let Some(kp) = self.keypad.as_mut() {
                kp.auto = false;
            }
            return;
        }
        if kp.input.is_empty() {
            // Nothing typed: "Weiter" skips the field, "Fertig" closes.
            let following = next.then(|| next_keypad_field(kp.key)).flatten();
            self.keypad = following.map(KeypadState::new);
            return;
        }
        // "150/95": systolic and diastolic in one go.
        if let Some((sys, dia)) = kp.input.split_once('/') {
            let (sys, dia) = (Num::parse(sys), Num::parse(dia));
            let Some(sys) = sys else {
                if let Some(kp) = self.keypad.as_mut() {
                    kp.error = tr(self.lang, "Ungültige Zahl.", "Invalid number.");
                }
                return;
            };
            let both = dia.map(|d| Value::Measured(Measured::manual(d)));
            self.keypad_commit(Value::Measured(Measured::manual(sys)), false);
            if self.keypad.is_some() {
                return; // the systolic value was refused; the error is shown
            }
            let mut next_key = "vitals.bp_dia";
            if let Some(d) = both {
                self.keypad = Some(KeypadState::new("vitals.bp_dia"));
                self.keypad_commit(d, false);
                if self.keypad.is_some() {
                    return;
                }
                next_key = "vitals.hr";
            }
            if next {
                self.keypad = Some(KeypadState::new(next_key));
            }
            return;
        }
        let parsed = Num::parse(&kp.input);
        let value = match (def.kind, parsed) {
            (Kind::Int { .. }, Some(n)) if n.0 % 1000 == 0 => Some(Value::Int(n.0 / 1000)),
            (Kind::Num { .. }, Some(n)) => Some(Value::Num(n)),
            (Kind::Measured { .. }, Some(n)) => Some(Value::Measured(Measured::manual(n))),
            _ => None,
        };
        match value {
            Some(v) => self.keypad_commit(v, next),
            None => {
                if let Some(kp) = self.keypad.as_mut() {
                    kp.error = tr(self.lang, "Ungültige Zahl.", "Invalid number.");
                }
            }
        }
    }

    fn keypad_not_measurable(&mut self) {
        let v = Value::Measured(Measured::not_measurable(ValueSource::Manual));
        self.keypad_commit(v, true);
    }

    fn new_entry(&mut self) {
        self.pad.cursor.entry = None;
        if self.collection() == Some(Collection::Vitals) {
            self.open_keypad(VITALS_KEYPAD_ORDER[0]);
        }
    }

    fn repeat_last(&mut self) {
        let Some(c) = self.collection() else { return };
        let r = self.pad.repeat_last(c);
        self.saved(r);
    }

    fn preset(&mut self, i: usize) {
        let Some(c) = self.collection() else { return };
        let Some(p) = presets::presets_for(c).nth(i) else {
            return;
        };
        let fields: Vec<(String, Value)> = p
            .fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.value()))
            .collect();
        let r = self.pad.apply_preset(c, fields);
        self.saved(r);
    }

    fn retract_entry(&mut self) {
        let reason = tr(self.lang, "vom Anwender zurückgezogen", "retracted by user");
        let r = self.pad.retract_entry(&reason);
        self.saved(r);
    }

    fn add_patient(&mut self) {
        let r = self.pad.add_patient().map(|_| ());
        self.saved(r);
    }

    fn show_close_page(&mut self) {
        self.keypad = None;
        self.page = Page::Close;
    }

    fn goto_finding(&mut self, i: usize) {
        let Some(f) = self.close_hard.get(i).cloned() else {
            return;
        };
        let st = self.state();
        let section = match (&f.target, f.field.and_then(catalog::field)) {
            (_, Some(def)) => def.section,
            (Target::Entry(e), None) => st
                .as_ref()
                .and_then(|s| s.entries.get(e))
                .map_or(Section::Patient, |x| x.collection.section()),
            _ => Section::Patient,
        };
        match f.target {
            Target::Patient(p) => {
                self.pad.cursor.patient = Some(p);
                self.pad.cursor.entry = None;
            }
            Target::Entry(e) => {
                self.pad.cursor.patient = st
                    .as_ref()
                    .and_then(|s| s.entries.get(&e))
                    .map(|x| x.patient)
                    .or(self.pad.cursor.patient);
                self.pad.cursor.entry = Some(e);
            }
            Target::Mission => {}
        }
        self.section = view::page_of(section);
        self.page = Page::Editor;
    }

    fn end_shift(&mut self) {
        match self.pad.end_shift() {
            Ok(()) => self.page = Page::Login,
            Err(n) => self.set_toast(n.message(self.lang), true),
        }
    }

    fn close_mission(&mut self) {
        match self.pad.close_mission() {
            Ok(()) => {
                let msg = tr(
                    self.lang,
                    "Einsatz abgeschlossen – wartet verschlüsselt auf das Hochladen.",
                    "Mission closed – waiting encrypted for upload.",
                );
                self.set_toast(msg, false);
                self.page = Page::Missions;
            }
            Err(n) => self.set_toast(n.message(self.lang), true),
        }
    }

    fn set_language(&mut self, lang: &str) {
        self.lang = if lang == "en" { Lang::En } else { Lang::De };
        let code = if self.lang == Lang::En { "en" } else { "" };
        if let Err(e) = slint::select_bundled_translation(code) {
            tracing::warn!(error = %e, "language switch failed");
        }
    }

    // ---- view models -----------------------------------------------------

    /// Pushes the whole state to the UI. Cheap: a mission is small.
    pub fn refresh(&mut self, ui: &AppWindow) {
        self.poll_peripherals();
        self.poll_handover();
        self.poll_print();
        let app = ui.global::<AppState>();
        app.set_page(self.page as i32);
        app.set_clock_text(ss(view::clock_text(self.pad.clock().wall_ms())));
        let (call, crew) = match self.pad.session().shift() {
            Some(s) => (
                s.call_sign.clone(),
                s.crew
                    .iter()
                    .map(|m| m.name.clone())
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            None => (
                self.pad.config().call_sign.clone(),
                tr(self.lang, "keine Schicht angemeldet", "no shift logged in"),
            ),
        };
        // Names of the crew only while unlocked.
        app.set_call_sign(ss(call));
        app.set_crew_text(ss(if self.page == Page::Lock {
            String::new()
        } else {
            crew
        }));
        let pending = self.pad.store().lock().pending();
        app.set_upload_state(ss(if pending > 0 {
            tr(self.lang, "Speicher voll!", "storage full!")
        } else {
            self.upload_text()
                .unwrap_or_else(|| tr(self.lang, "aus", "off"))
        }));
        self.refresh_peripherals(ui);
        self.refresh_live(ui);
        self.refresh_handover(ui);
        self.refresh_print(ui);
        app.set_toast(ss(&self.toast.0));
        app.set_toast_error(self.toast.1);
        app.set_toast_serial(self.toast_serial);

        let lock = ui.global::<LockAdapter>();
        lock.set_message(ss(&self.lock_message.0));
        lock.set_message_error(self.lock_message.1);
        lock.set_wiped(self.wiped);
        lock.set_hint(ss(if self.pad.config().is_demo_pin() {
            tr(self.lang, "Demo-Modus: PIN 1234", "Demo mode: PIN 1234")
        } else {
            String::new()
        }));

        let login = ui.global::<LoginAdapter>();
        login.set_call_sign(ss(&self.login_call_sign));
        sync_model(
            &login.get_crew(),
            self.login
                .iter()
                .map(|r| CrewVM {
                    name: ss(&r.name),
                    number: ss(&r.number),
                    qualification: r.qualification as i32,
                })
                .collect(),
            |m| login.set_crew(m),
        );
        sync_model(
            &login.get_qualifications(),
            Qualification::ALL
                .iter()
                .map(|q| ss(self.lang.pick(q.label_de(), q.label_en())))
                .collect(),
            |m| login.set_qualifications(m),
        );
        login.set_error(ss(&self.login_error));

        self.refresh_missions(ui);
        // One state copy and one rules pass serve the editor and the close page.
        let st = self.state();
        let findings = st.as_ref().map(|s| self.findings(s)).unwrap_or_default();
        self.refresh_editor(ui, st.as_ref(), &findings);
        self.refresh_keypad(ui);
        self.refresh_close(ui, st.as_ref(), &findings);
        ui.global::<SettingsAdapter>()
            .set_language(ss(self.lang.code()));
        ui.global::<SettingsAdapter>()
            .set_record_every_min(self.dev.intake.every_min() as i32);
    }

    fn refresh_missions(&self, ui: &AppWindow) {
        let store = self.pad.store().lock();
        let lang = self.lang;
        let mut open = 0;
        let missions: Vec<MissionVM> = store
            .mission_ids()
            .filter_map(|m| store.state(m).map(|s| (m, s)))
            .map(|(m, s)| {
                if s.status != Status::Closed {
                    open += 1;
                }
                let number = s
                    .get("mission.number")
                    .and_then(Value::as_text)
                    .map(str::to_string);
                let when = s.opened_ms.map(view::date_time_text).unwrap_or_default();
                let title = number.map_or_else(|| when.clone(), |n| format!("{n} · {when}"));
                let names: Vec<String> = s
                    .active_patients()
                    .enumerate()
                    .map(|(i, p)| patient_label(p, i, lang))
                    .collect();
                let state = match s.status {
                    Status::Open => tr(lang, "offen", "open"),
                    Status::HandedOver => tr(lang, "übergeben", "handed over"),
                    Status::Closed => tr(
                        lang,
                        "abgeschlossen – wartet auf Upload",
                        "closed – waiting for upload",
                    ),
                };
                MissionVM {
                    id: ss(m.to_string()),
                    title: ss(title),
                    patients: ss(names.join(", ")),
                    state: ss(state),
                }
            })
            .collect();
        let m = ui.global::<MissionsAdapter>();
        m.set_warning(ss(if open > 5 {
            tr(
                lang,
                "Mehr als 5 offene Einsätze: bitte abschließen.",
                "More than 5 open missions: please close some.",
            )
        } else {
            String::new()
        }));
        sync_model(&m.get_missions(), missions, |new| m.set_missions(new));
    }

    fn findings(&self, st: &MissionState) -> Vec<Finding> {
        rules::check(st, self.pad.clock().wall_ms())
    }

    fn refresh_editor(&mut self, ui: &AppWindow, st: Option<&MissionState>, findings: &[Finding]) {
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
                let in_section = |f: &Finding| page.contains(&finding_section(st, f));
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
            .get("mission.number")
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
                Collection::Vitals => tr(lang, "Neue Messung", "New vital signs"),
                Collection::Finding => tr(lang, "Neuer Befund", "New finding"),
                _ => tr(lang, "Neuer Eintrag", "New entry"),
            }));
            sync_model(
                &ed.get_presets(),
                presets::presets_for(c)
                    .map(|p| PresetVM {
                        label: ss(lang.pick(p.de, p.en)),
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
        ed.set_device_take_visible(
            collection == Some(Collection::Vitals) && self.device_configured(),
        );
        ed.set_device_take_enabled(self.device_values_ready());
        ed.set_print_visible(section == Section::Handover);
        ed.set_hint(ss(match (collection, self.pad.cursor.entry) {
            (Some(Collection::Vitals), None) if self.device_configured() => format!(
                "{} · {}",
                self.device_state_long().unwrap_or_default(),
                tr(
                    lang,
                    "Neue Messung: die erste Eingabe legt sie an.",
                    "New vitals: the first input creates them."
                )
            ),
            (Some(_), None) => tr(
                lang,
                "Neuer Eintrag: die erste Eingabe legt ihn an.",
                "New entry: the first input creates it.",
            ),
            (None, _) if section == Section::Handover => history_text(st, lang),
            _ => String::new(),
        }));
        // Fields of the section.
        // In the page's section order: on Einsatz/Zeiten the times come first.
        let fields: Vec<FieldVM> = view::page_sections(self.section)
            .iter()
            .flat_map(|s| catalog::FIELDS.iter().filter(move |d| d.section == *s))
            .filter(|d| match (collection, d.scope) {
                (Some(c), Scope::Entry(dc)) => c == dc,
                (Some(_), _) => false,
                (None, _) => true,
            })
            .map(|d| self.field_vm(st, d, findings))
            .collect();
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

    fn field_vm(&self, st: &MissionState, d: &FieldDef, findings: &[Finding]) -> FieldVM {
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
        }
    }

    fn refresh_keypad(&self, ui: &AppWindow) {
        let kp = ui.global::<KeypadAdapter>();
        match &self.keypad {
            Some(k) => {
                let def = catalog::field(k.key);
                kp.set_visible(true);
                kp.set_label(ss(def
                    .map(|d| view::field_label(d, self.lang))
                    .unwrap_or("")));
                kp.set_unit(ss(def.and_then(catalog::unit).unwrap_or("")));
                kp.set_measured(matches!(def.map(|d| d.kind), Some(Kind::Measured { .. })));
                kp.set_has_next(next_keypad_field(k.key).is_some());
                kp.set_slash(k.key == "vitals.bp_sys");
                kp.set_input(ss(&k.input));
                kp.set_error(ss(&k.error));
            }
            None => kp.set_visible(false),
        }
    }

    fn refresh_close(&mut self, ui: &AppWindow, st: Option<&MissionState>, findings: &[Finding]) {
        let ca = ui.global::<CloseAdapter>();
        let Some(st) = st else {
            self.close_hard.clear();
            sync_model(&ca.get_hard(), Vec::new(), |new| ca.set_hard(new));
            sync_model(&ca.get_soft(), Vec::new(), |new| ca.set_soft(new));
            return;
        };
        let lang = self.lang;
        let vm = |f: &Finding| FindingVM {
            message: ss(lang.pick(&f.message_de, &f.message_en)),
            section: ss(view::page_label(
                view::page_of(finding_section(st, f)),
                lang,
            )),
        };
        self.close_hard = findings
            .iter()
            .filter(|f| f.severity == Severity::Hard)
            .cloned()
            .collect();
        sync_model(
            &ca.get_hard(),
            self.close_hard.iter().map(vm).collect(),
            |m| ca.set_hard(m),
        );
        sync_model(
            &ca.get_soft(),
            findings
                .iter()
                .filter(|f| f.severity == Severity::Soft)
                .map(vm)
                .collect(),
            |m| ca.set_soft(m),
        );
    }

    // ---- accessors for tests and the screenshot tool ---------------------

    pub fn page(&self) -> Page {
        self.page
    }

    pub fn mission(&self) -> Option<MissionId> {
        self.pad.cursor.mission
    }

    /// The controller's clock (wall, ms since the epoch).
    pub fn clock_ms(&self) -> i64 {
        self.pad.clock().wall_ms()
    }

    pub fn patient(&self) -> Option<PatientId> {
        self.pad.cursor.patient
    }

    pub fn store(&self) -> &SharedStore {
        self.pad.store()
    }

    pub fn select_section(&mut self, s: Section) {
        self.section = view::page_of(s);
        self.pad.cursor.entry = None;
        self.keypad = None;
    }

    pub fn goto(&mut self, page: Page) {
        self.page = page;
    }
}

/// The mission's history on the handover page: prints, electronic and
/// pad-to-pad handovers, and logs merged from other pads.
fn history_text(st: &MissionState, lang: Lang) -> String {
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
        let text = match lang {
            Lang::De => format!(
                "{} Übernommen von {} ({} Einträge)",
                view::clock_text(mg.wall_ms),
                mg.from_call_sign,
                mg.events
            ),
            Lang::En => format!(
                "{} Received from {} ({} entries)",
                view::clock_text(mg.wall_ms),
                mg.from_call_sign,
                mg.events
            ),
        };
        lines.push((mg.wall_ms, text));
    }
    lines.sort();
    lines
        .into_iter()
        .map(|(_, l)| l)
        .collect::<Vec<_>>()
        .join(" · ")
}

fn next_keypad_field(key: &str) -> Option<&'static str> {
    let i = VITALS_KEYPAD_ORDER.iter().position(|k| *k == key)?;
    VITALS_KEYPAD_ORDER.get(i + 1).copied()
}

fn patient_label(p: &rettpad_record::state::PatientState, i: usize, lang: Lang) -> String {
    match p.get("patient.family_name").and_then(Value::as_text) {
        Some(n) => n.to_string(),
        None if p.get("patient.unknown").and_then(Value::as_bool) == Some(true) => {
            format!("{} {}", lang.pick("Unbekannt", "Unknown"), i + 1)
        }
        None => format!("{} {}", lang.pick("Patient", "Patient"), i + 1),
    }
}

fn entry_title(e: &rettpad_record::state::EntryState, i: usize, lang: Lang) -> String {
    let time = presets::time_field(e.collection)
        .and_then(|k| e.get(k))
        .and_then(Value::as_time);
    match time {
        Some(t) => format!("{} · {}", i + 1, view::clock_text(t.at_ms)),
        None => format!("{} {}", lang.pick("Eintrag", "Entry"), i + 1),
    }
}

fn entry_detail(e: &rettpad_record::state::EntryState, lang: Lang) -> String {
    let num = |k: &str| {
        e.get(k)
            .map(|v| view::value_by_key(k, v, lang))
            .filter(|s| !s.is_empty())
    };
    let mut parts: Vec<String> = Vec::new();
    match e.collection {
        Collection::Vitals => {
            if let Some(sys) = num("vitals.bp_sys") {
                parts.push(format!(
                    "RR {sys}/{}",
                    num("vitals.bp_dia").unwrap_or_else(|| "–".into())
                ));
            }
            for (k, short) in [
                ("vitals.hr", "HF"),
                ("vitals.spo2", "SpO₂"),
                ("vitals.rr", "AF"),
                ("vitals.glucose", "BZ"),
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
                "finding.gcs_eyes",
                "finding.gcs_verbal",
                "finding.gcs_motor",
            ]
            .iter()
            .map(|k| score(k))
            .sum();
            if let Some(g) = gcs {
                parts.push(format!("GCS {g}"));
            }
            if let Some(n) = num("finding.pain_nrs") {
                parts.push(format!("NRS {n}"));
            }
        }
        c => {
            let keys: &[&str] = match c {
                Collection::Ecg => &["ecg.rhythm"],
                Collection::Injury => &["injury.region", "injury.severity"],
                Collection::Diagnosis => &["diagnosis.tracer", "diagnosis.group"],
                Collection::Measure => &["measure.kind"],
                _ => &["med.substance", "med.dose"],
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

fn finding_section(st: &MissionState, f: &Finding) -> Section {
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

fn section_has_data(st: &MissionState, s: Section) -> bool {
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

/// Builds the UI and wires every callback. The app starts locked.
pub fn build(
    cfg: Config,
    clock: SharedClock,
    store: SharedStore,
    session: Session,
) -> Result<(AppWindow, Rc<RefCell<Controller>>), slint::PlatformError> {
    let ui = AppWindow::new()?;
    let login = vec![LoginRow {
        name: String::new(),
        number: String::new(),
        qualification: 1,
    }];
    let cfg_call_sign = cfg.call_sign.clone();
    let device_every_min = cfg.device_record_every_min;
    let ctrl = Rc::new(RefCell::new(Controller {
        pad: Pad::new(cfg, clock, store, session),
        lang: Lang::De,
        page: Page::Lock,
        back: Page::Missions,
        section: 0,
        keypad: None,
        login,
        login_call_sign: cfg_call_sign,
        login_error: String::new(),
        lock_message: (String::new(), false),
        wiped: false,
        toast: (String::new(), false),
        toast_serial: 0,
        close_hard: Vec::new(),
        card: Default::default(),
        dev: peripherals::DevFeed::new(device_every_min),
        ho: Default::default(),
        up_keep: None,
        print: Default::default(),
    }));
    wire(&ui, &ctrl);
    ctrl.borrow_mut().refresh(&ui);
    Ok((ui, ctrl))
}

/// Connects a callback to the controller and refreshes the UI after it.
macro_rules! on {
    ($ui:expr, $ctrl:expr, $global:ty, $setter:ident, |$c:ident $(, $arg:ident : $t:ty)*| $body:expr) => {{
        let weak = $ui.as_weak();
        let ctrl = $ctrl.clone();
        $ui.global::<$global>().$setter(move |$($arg: $t),*| {
            let Some(ui) = weak.upgrade() else { return };
            {
                let mut guard = ctrl.borrow_mut();
                let $c: &mut Controller = &mut guard;
                $body;
            }
            ctrl.borrow_mut().refresh(&ui);
        });
    }};
}

fn wire(ui: &AppWindow, ctrl: &Rc<RefCell<Controller>>) {
    on!(ui, ctrl, AppState, on_lock, |c| c.lock());
    on!(ui, ctrl, AppState, on_card_tapped, |c| c.card_tapped());
    on!(ui, ctrl, AppState, on_devices_tapped, |c| c.open_live());
    on!(ui, ctrl, LiveAdapter, on_take, |c| c.live_take());
    on!(ui, ctrl, LiveAdapter, on_save_strip, |c| c.save_strip_now());
    on!(ui, ctrl, AppState, on_handover_tapped, |c| {
        if c.page != Page::Lock && c.page != Page::Login {
            c.page = Page::Handover
        }
    });
    on!(ui, ctrl, MissionsAdapter, on_receive, |c| c.page =
        Page::Handover);
    on!(ui, ctrl, HandoverAdapter, on_request, |c, i: i32| c
        .handover_request(i.max(0) as usize));
    on!(ui, ctrl, HandoverAdapter, on_cancel, |c| c
        .handover_cancel());
    on!(ui, ctrl, HandoverAdapter, on_allow, |c| c
        .handover_respond(true));
    on!(ui, ctrl, HandoverAdapter, on_allow_close, |c| c
        .handover_allow_and_close());
    on!(ui, ctrl, HandoverAdapter, on_deny, |c| c
        .handover_respond(false));
    on!(ui, ctrl, CardAdapter, on_accept, |c| c.card_accept(false));
    on!(ui, ctrl, CardAdapter, on_accept_all, |c| c
        .card_accept(true));
    on!(ui, ctrl, CardAdapter, on_dismiss, |c| c.card_dismiss());
    on!(ui, ctrl, EditorAdapter, on_take_from_device, |c| c
        .take_from_device());
    on!(ui, ctrl, EditorAdapter, on_print, |c| c.open_print());
    on!(ui, ctrl, PrintAdapter, on_print, |c, i: i32| c
        .print_on(i.max(0) as usize));
    on!(ui, ctrl, PrintAdapter, on_close, |c| c.close_print());
    on!(ui, ctrl, AppState, on_open_settings, |c| {
        c.back = c.page;
        c.page = Page::Settings
    });
    on!(ui, ctrl, AppState, on_back, |c| {
        c.page = if c.page == Page::Close {
            Page::Editor
        } else if c.page == Page::Settings {
            c.back
        } else if c.page == Page::Live {
            c.live_back()
        } else {
            Page::Missions
        }
    });
    on!(ui, ctrl, LockAdapter, on_unlock, |c, pin: SharedString| c
        .unlock(&pin));
    on!(
        ui,
        ctrl,
        LoginAdapter,
        on_set_name,
        |c, i: i32, t: SharedString| {
            if let Some(r) = c.login.get_mut(i as usize) {
                r.name = t.to_string()
            }
        }
    );
    on!(
        ui,
        ctrl,
        LoginAdapter,
        on_set_number,
        |c, i: i32, t: SharedString| {
            if let Some(r) = c.login.get_mut(i as usize) {
                r.number = t.to_string()
            }
        }
    );
    on!(
        ui,
        ctrl,
        LoginAdapter,
        on_set_qualification,
        |c, i: i32, q: i32| {
            if let Some(r) = c.login.get_mut(i as usize) {
                r.qualification = q.max(0) as usize
            }
        }
    );
    on!(ui, ctrl, LoginAdapter, on_add_member, |c| {
        if c.login.len() < rettpad_pad::session::MAX_CREW {
            c.login.push(LoginRow {
                name: String::new(),
                number: String::new(),
                qualification: 3,
            })
        }
    });
    on!(ui, ctrl, LoginAdapter, on_remove_member, |c, i: i32| {
        if c.login.len() > 1 && (i as usize) < c.login.len() {
            c.login.remove(i as usize);
        }
    });
    {
        let weak = ui.as_weak();
        let ctrl = ctrl.clone();
        ui.global::<LoginAdapter>().on_start(move || {
            let Some(ui) = weak.upgrade() else { return };
            let typed = ui.global::<LoginAdapter>().get_call_sign().to_string();
            ctrl.borrow_mut().login_call_sign = typed;
            ctrl.borrow_mut().start_shift();
            ctrl.borrow_mut().refresh(&ui);
        });
    }
    on!(ui, ctrl, MissionsAdapter, on_open, |c, id: SharedString| c
        .open_mission(&id));
    on!(ui, ctrl, MissionsAdapter, on_create, |c| c.create_mission());
    on!(ui, ctrl, MissionsAdapter, on_end_shift, |c| {
        c.end_shift()
    });
    on!(ui, ctrl, EditorAdapter, on_select_section, |c, i: i32| {
        if let Some(s) = view::PAGES.get(i.max(0) as usize).and_then(|p| p.first()) {
            c.select_section(*s)
        }
    });
    on!(ui, ctrl, EditorAdapter, on_select_patient, |c, i: i32| {
        let st = c.state();
        c.pad.cursor.patient =
            st.and_then(|s| s.active_patients().nth(i.max(0) as usize).map(|p| p.id));
        c.pad.cursor.entry = None
    });
    on!(ui, ctrl, EditorAdapter, on_add_patient, |c| c.add_patient());
    on!(ui, ctrl, EditorAdapter, on_new_entry, |c| c.new_entry());
    on!(ui, ctrl, EditorAdapter, on_repeat_last, |c| c.repeat_last());
    on!(ui, ctrl, EditorAdapter, on_preset, |c, i: i32| c
        .preset(i.max(0) as usize));
    on!(
        ui,
        ctrl,
        EditorAdapter,
        on_select_entry,
        |c, id: SharedString| {
            let st = c.state();
            c.pad.cursor.entry = st.and_then(|s| {
                s.entries
                    .keys()
                    .find(|e| e.0.to_string() == id.as_str())
                    .copied()
            })
        }
    );
    on!(ui, ctrl, EditorAdapter, on_retract_entry, |c| c
        .retract_entry());
    on!(
        ui,
        ctrl,
        EditorAdapter,
        on_choose,
        |c, k: SharedString, v: SharedString| c.choose(&k, &v)
    );
    on!(
        ui,
        ctrl,
        EditorAdapter,
        on_time_now,
        |c, k: SharedString| c.time_now(&k)
    );
    on!(
        ui,
        ctrl,
        EditorAdapter,
        on_time_shift,
        |c, k: SharedString, m: i32| c.time_shift(&k, m)
    );
    on!(
        ui,
        ctrl,
        EditorAdapter,
        on_set_text,
        |c, k: SharedString, t: SharedString| c.set_text(&k, &t)
    );
    on!(
        ui,
        ctrl,
        EditorAdapter,
        on_open_keypad,
        |c, k: SharedString| c.open_keypad(&k)
    );
    on!(ui, ctrl, EditorAdapter, on_to_close, |c| c
        .show_close_page());
    on!(ui, ctrl, KeypadAdapter, on_press, |c, k: SharedString| c
        .keypad_press(&k));
    on!(ui, ctrl, KeypadAdapter, on_ok, |c, next: bool| c
        .keypad_ok(next));
    on!(ui, ctrl, KeypadAdapter, on_cancel, |c| c.keypad = None);
    on!(ui, ctrl, KeypadAdapter, on_not_measurable, |c| c
        .keypad_not_measurable());
    on!(ui, ctrl, CloseAdapter, on_goto, |c, i: i32| c
        .goto_finding(i.max(0) as usize));
    on!(ui, ctrl, CloseAdapter, on_close, |c| c.close_mission());
    on!(
        ui,
        ctrl,
        SettingsAdapter,
        on_set_language,
        |c, l: SharedString| c.set_language(&l)
    );
    on!(
        ui,
        ctrl,
        SettingsAdapter,
        on_set_record_every,
        |c, m: i32| c.set_device_every_min(m.clamp(0, 60) as u32)
    );
    {
        let weak = ui.as_weak();
        ui.global::<SettingsAdapter>().on_set_night(move |night| {
            if let Some(ui) = weak.upgrade() {
                ui.global::<Theme>().set_night(night);
            }
        });
    }
}
