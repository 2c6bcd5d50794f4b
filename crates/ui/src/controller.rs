use super::msg;
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

#[path = "editor_vm.rs"]
mod editor_vm;
#[path = "events_ui.rs"]
mod events_ui;
#[path = "handover_ui.rs"]
mod handover_ui;
#[path = "keypad.rs"]
mod keypad;
#[path = "login_ui.rs"]
mod login_ui;
#[path = "outbox_ui.rs"]
mod outbox_ui;
#[path = "pages_vm.rs"]
mod pages_vm;
#[path = "peripherals.rs"]
mod peripherals;
#[path = "print_ui.rs"]
mod print_ui;
#[path = "wiring.rs"]
mod wiring;
use editor_vm::{finding_section, patient_label};
use keypad::KeypadState;
pub use peripherals::Keep;
pub use wiring::build;

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

impl Page {
    /// The same page in the UI (`PageId` in globals.slint).
    pub fn id(self) -> crate::PageId {
        use crate::PageId;
        match self {
            Page::Lock => PageId::Lock,
            Page::Login => PageId::Login,
            Page::Missions => PageId::Missions,
            Page::Editor => PageId::Editor,
            Page::Close => PageId::Close,
            Page::Settings => PageId::Settings,
            Page::Handover => PageId::Handover,
            Page::Live => PageId::Live,
        }
    }
}

struct LoginRow {
    name: String,
    number: String,
    qualification: usize,
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
    /// What the crew typed to search the staff list, and what it found.
    staff_query: String,
    staff_matches: Vec<rettpad_pad::fleet::StaffMember>,
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
                let msg = msg::SAVED.message(self.lang);
                self.set_toast(msg, false);
                true
            }
            Err(n) => {
                self.set_toast(n.message(self.lang), true);
                false
            }
        }
    }

    /// The page's first section: the one whose collection it edits (none
    /// on quick entry).
    fn section(&self) -> Option<Section> {
        view::page_sections(self.section).first().copied()
    }

    fn collection(&self) -> Option<Collection> {
        Collection::ALL
            .into_iter()
            .find(|c| Some(c.section()) == self.section())
    }

    /// On quick entry, an edit of `key` goes to the patient's first entry
    /// of its collection.
    fn focus(&mut self, key: &str) {
        if self.section == view::QUICK_PAGE {
            self.pad.focus_quick(key);
        }
    }

    fn current_value(&self, st: &MissionState, def: &FieldDef) -> Option<Value> {
        self.pad.current_value(st, def)
    }

    fn set_field(&mut self, key: &str, value: Option<Value>) -> bool {
        self.focus(key);
        let r = self.pad.set_field(key, value);
        self.saved(r)
    }

    // ---- callbacks -------------------------------------------------------

    /// "OK" on the PIN pad: the check runs on a worker; the lock screen
    /// says so until [`Controller::poll_unlock`] has the result.
    fn unlock(&mut self, pin: &str) {
        match self.pad.start_unlock(pin) {
            Some(u) => self.show_unlock(u),
            None => self.lock_message = (msg::CHECKING_THE_PIN.message(self.lang), false),
        }
    }

    /// A PIN check is running (the UI polls it every few milliseconds).
    pub fn unlock_pending(&self) -> bool {
        self.pad.unlock_pending()
    }

    /// Takes the PIN check's result when it is there; true once it was.
    pub fn poll_unlock(&mut self) -> bool {
        match self.pad.poll_unlock() {
            Some(u) => {
                self.show_unlock(u);
                true
            }
            None => false,
        }
    }

    /// Scripts (screenshots, benchmarks, tests): waits for the running
    /// PIN check, as a person waits for the lock screen's answer.
    pub fn settle_unlock(&mut self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.pad.unlock_pending() && std::time::Instant::now() < deadline {
            if self.poll_unlock() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    pub(super) fn show_unlock(&mut self, u: Unlock) {
        match u {
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
        self.poll_unlock();
        self.poll_print();
        self.poll_peripherals();
        self.poll_handover();
        for e in self.pad.tick() {
            self.on_pad_event(e);
        }
    }

    /// A dispatch message is in the vault. A new mission opens by itself
    /// where the crew is not busy elsewhere; on the lock screen it is only
    /// announced (number and keyword, no patient data).
    pub fn dispatched(&mut self, a: &rettpad_pad::dispatch::Applied) {
        if a.cancelled {
            self.set_toast(msg::DISPATCH_CANCELLED.message(self.lang), true);
            return;
        }
        if !a.opened {
            if self.pad.cursor.mission == Some(a.mission) {
                self.set_toast(msg::DISPATCH_UPDATED.message(self.lang), false);
            }
            return;
        }
        let st = self.pad.store().lock().state(a.mission).cloned();
        let get = |k| match st.as_ref().and_then(|s| s.get(k)) {
            Some(rettpad_record::Value::Text(t)) => t.clone(),
            _ => String::new(),
        };
        let summary = [
            get(rettpad_record::keys::mission::NUMBER),
            get(rettpad_record::keys::mission::KEYWORD),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" · ");
        let note = msg::dispatch_arrived(&summary).message(self.lang);
        match self.page {
            Page::Lock => self.lock_message = (note, false),
            Page::Missions if self.pad.open_mission(a.mission).is_ok() => {
                self.page = Page::Editor;
                self.set_toast(note, false);
            }
            _ => self.set_toast(note, false),
        }
    }

    /// Takes or drops the first value the centre sent against the crew's.
    pub fn dispatch_resolve(&mut self, accept: bool) {
        let Some(m) = self.pad.cursor.mission else {
            return;
        };
        if let Err(n) = rettpad_pad::dispatch::resolve(self.pad.store(), m, accept) {
            self.set_toast(n.message(self.lang), true);
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
        if let Some(c) = view::preset_row(key) {
            return self.toggle_preset(c, code);
        }
        self.focus(key);
        let r = self.pad.choose(key, code);
        self.saved(r);
    }

    fn time_now(&mut self, key: &str) {
        self.focus(key);
        let r = self.pad.time_now(key);
        self.saved(r);
    }

    fn time_shift(&mut self, key: &str, minutes: i32) {
        self.focus(key);
        let r = self.pad.time_shift(key, minutes);
        self.saved(r);
    }

    fn set_text(&mut self, key: &str, text: &str) {
        self.focus(key);
        let r = self.pad.set_text(key, text);
        self.saved(r);
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
        let Some(p) = self.presets(c).into_iter().nth(i) else {
            return;
        };
        let r = self.pad.apply_preset(c, p.fields);
        self.saved(r);
    }

    /// The presets of `c`: the provisioned catalog's, or the built-in ones.
    fn presets(&self, c: Collection) -> Vec<presets::Item> {
        presets::items(c, self.pad.catalog_presets().as_deref())
    }

    /// A preset tile of quick entry: documents it, or takes it back.
    fn toggle_preset(&mut self, c: Collection, code: &str) {
        let Some(p) = code
            .parse::<usize>()
            .ok()
            .and_then(|i| self.presets(c).into_iter().nth(i))
        else {
            return;
        };
        let reason = msg::RETRACTED_BY_USER.message(self.lang);
        let r = self.pad.toggle_preset(c, &p.fields, &reason);
        self.saved(r);
    }

    fn retract_entry(&mut self) {
        let reason = msg::RETRACTED_BY_USER.message(self.lang);
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
            Ok(()) => {
                // The next crew starts from an empty form: no names left.
                self.login = vec![LoginRow {
                    name: String::new(),
                    number: String::new(),
                    qualification: 1,
                }];
                self.page = Page::Login;
            }
            Err(n) => self.set_toast(n.message(self.lang), true),
        }
    }

    fn close_mission(&mut self) {
        match self.pad.close_mission() {
            Ok(()) => {
                let msg = msg::MISSION_CLOSED_WAITING_ENCRYPTED_FOR_UPL.message(self.lang);
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
        self.select_page(view::page_of(s));
    }

    pub fn select_page(&mut self, i: usize) {
        self.section = i.min(view::PAGES.len() - 1);
        self.pad.cursor.entry = None;
        self.keypad = None;
    }

    pub fn goto(&mut self, page: Page) {
        self.page = page;
    }
}
