//! UI behaviour through Slint's testing backend: elements are found by their
//! accessible labels and tapped with their default action, the way a person
//! (or a screen reader) reaches them.

use i_slint_backend_testing::{AccessibleRole, ElementHandle};
use rettpad_clock::{Clock, SharedClock, TestClock};
use rettpad_pad::config::Config;
use rettpad_pad::session::Session;
use rettpad_record::keys;
use rettpad_record::{Author, HandoverMode, Payload, Status, Value};
use rettpad_ui::{self as app, AppWindow, Controller, EditorAdapter, Page};
use rettpad_vault::MemoryKeyProvider;
use rettpad_vault::store::{SharedStore, Store, StoreOptions};
use slint::{ComponentHandle, Model};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const T0: i64 = 1_795_305_600_000 + 13 * 3_600_000;

struct Ui {
    ui: AppWindow,
    ctrl: Rc<RefCell<Controller>>,
    clock: Arc<TestClock>,
    store: SharedStore,
    taps: usize,
    typed: usize,
    swipes: usize,
    // Taps on the on-screen keyboard's character keys (within `taps`).
    osk_keys: usize,
    _dir: tempfile::TempDir,
}

impl Ui {
    fn new() -> Ui {
        Ui::with_config(Config::demo())
    }

    fn with_config(cfg: Config) -> Ui {
        i_slint_backend_testing::init_no_event_loop();
        let dir = tempfile::tempdir().unwrap();
        let clock = TestClock::new(T0);
        let shared: SharedClock = clock.clone();
        let store = Store::open(
            dir.path(),
            Arc::new(MemoryKeyProvider::new()),
            shared.clone(),
            StoreOptions::default(),
        )
        .unwrap();
        let store = SharedStore::new(store);
        let session = Session::new(
            cfg.session_config().unwrap(),
            shared.clone(),
            store.clone(),
            store.clone(),
        )
        .unwrap();
        let (ui, ctrl) = app::build(cfg, shared, store.clone(), session).unwrap();
        ui.window().set_size(slint::PhysicalSize::new(1280, 800));
        ui.show().unwrap();
        Ui {
            ui,
            ctrl,
            clock,
            store,
            taps: 0,
            typed: 0,
            swipes: 0,
            osk_keys: 0,
            _dir: dir,
        }
    }

    fn find(&self, label: &str) -> Option<ElementHandle> {
        ElementHandle::find_by_accessible_label(&self.ui, label)
            .find(|e| e.accessible_role() != Some(AccessibleRole::Text))
    }

    /// A finger drag over the protocol's field list (positive `dy` scrolls down).
    fn swipe(&mut self, dy: f32) {
        use slint::platform::{PointerEventButton, WindowEvent};
        let w = self.ui.window();
        let (x, y0) = (900.0, 500.0);
        let at = |y: f32| slint::LogicalPosition::new(x, y);
        w.dispatch_event(WindowEvent::PointerPressed {
            position: at(y0),
            button: PointerEventButton::Left,
        });
        for i in 1..=10 {
            w.dispatch_event(WindowEvent::PointerMoved {
                position: at(y0 - dy * i as f32 / 10.0),
            });
        }
        w.dispatch_event(WindowEvent::PointerReleased {
            position: at(y0 - dy),
            button: PointerEventButton::Left,
        });
        self.swipes += 1;
    }

    /// Finds an element, scrolling the way a person would when it is out of view.
    fn reach(&mut self, label: &str) -> Option<ElementHandle> {
        if let Some(e) = self.find(label) {
            return Some(e);
        }
        let before = self.swipes;
        for dy in [250.0, -250.0] {
            for _ in 0..8 {
                self.swipe(dy);
                if let Some(e) = self.find(label) {
                    eprintln!("swipes for {label:?}: {}", self.swipes - before);
                    return Some(e);
                }
            }
        }
        None
    }

    fn tap(&mut self, label: &str) {
        let e = self
            .reach(label)
            .unwrap_or_else(|| panic!("no element labelled {label:?} on page {:?}", self.page()));
        e.invoke_accessible_default_action();
        // Let Slint run what a frame would (change handlers, timers).
        slint::platform::update_timers_and_animations();
        self.taps += 1;
    }

    /// Taps a text field, types into it and presses Enter: one tap, the
    /// characters and Enter counted as typed.
    fn type_into(&mut self, label: &str, text: &str) {
        let find = |ui: &AppWindow| {
            ElementHandle::find_by_accessible_label(ui, label)
                .find(|e| e.accessible_role() == Some(AccessibleRole::TextInput))
        };
        if find(&self.ui).is_none() {
            self.reach(&format!("{label} übernehmen"));
        }
        let e = find(&self.ui).unwrap_or_else(|| panic!("no text input {label:?}"));
        e.mock_single_click(slint::platform::PointerEventButton::Left); // focus
        e.set_accessible_value(text);
        let ret = slint::SharedString::from("\n");
        let w = self.ui.window();
        w.dispatch_event(slint::platform::WindowEvent::KeyPressed { text: ret.clone() });
        w.dispatch_event(slint::platform::WindowEvent::KeyReleased { text: ret });
        slint::platform::update_timers_and_animations();
        self.typed += text.chars().count() + 1;
        self.taps += 1;
    }

    /// Types `text` on the on-screen keyboard into the focused field, every
    /// key (shift and layout switches too) a tap; the dots of a date come
    /// by themselves and are not tapped.
    fn osk_type(&mut self, text: &str) {
        for c in text.chars() {
            let osk = self.ui.global::<app::OskAdapter>();
            let now = osk.get_text();
            let digits_layout = (osk.get_layout() == "date" || osk.get_layout() == "number")
                != osk.get_letters_override();
            if c == '.' && osk.get_layout() == "date" && now.ends_with('.') {
                continue;
            }
            let base: String = if c == ' ' {
                "Leerzeichen".into()
            } else {
                c.to_lowercase().collect()
            };
            let label = format!("Tastatur {base}");
            if self.find(&label).is_none() {
                self.tap(if digits_layout {
                    "Tastatur Buchstaben"
                } else {
                    "Tastatur Ziffern"
                });
            }
            let osk = self.ui.global::<app::OskAdapter>();
            let upper_now =
                osk.get_shift() || (osk.get_layout() == "text" && osk.get_text().is_empty());
            if c.is_alphabetic() && c != 'ß' && c.is_uppercase() != upper_now {
                self.tap("Tastatur Umschalt");
            }
            self.tap(&label);
            self.osk_keys += 1;
        }
        self.typed += text.chars().count();
    }

    /// The on-screen keyboard is up.
    fn osk_visible(&self) -> bool {
        ElementHandle::find_by_accessible_label(&self.ui, "Bildschirmtastatur")
            .next()
            .is_some()
    }

    fn keypad(&mut self, digits: &str) {
        for d in digits.chars() {
            self.tap(&format!("Taste {d}"));
            self.taps -= 1;
            self.typed += 1;
        }
    }

    /// Taps a text field to focus it, without typing.
    fn focus(&mut self, label: &str) {
        let find = |ui: &AppWindow| {
            ElementHandle::find_by_accessible_label(ui, label)
                .find(|e| e.accessible_role() == Some(AccessibleRole::TextInput))
        };
        if find(&self.ui).is_none() {
            self.reach(&format!("{label} übernehmen"));
        }
        let e = ElementHandle::find_by_accessible_label(&self.ui, label)
            .find(|e| e.accessible_role() == Some(AccessibleRole::TextInput))
            .unwrap_or_else(|| panic!("no text input {label:?}"));
        e.mock_single_click(slint::platform::PointerEventButton::Left);
        slint::platform::update_timers_and_animations();
        self.taps += 1;
    }

    /// Presses and releases one key as a hardware keyboard does, then lets
    /// the page refresh the way the one-second timer and the device feeds
    /// make it refresh while someone types.
    fn key(&mut self, k: impl Into<slint::SharedString>) {
        let k = k.into();
        let w = self.ui.window();
        w.dispatch_event(slint::platform::WindowEvent::KeyPressed { text: k.clone() });
        w.dispatch_event(slint::platform::WindowEvent::KeyReleased { text: k });
        slint::platform::update_timers_and_animations();
        self.clock.advance(Duration::from_millis(400));
        self.ctrl.borrow_mut().tick();
        self.ctrl.borrow_mut().refresh(&self.ui);
        self.typed += 1;
    }

    fn keys(&mut self, text: &str) {
        for c in text.chars() {
            self.key(slint::SharedString::from(c.to_string().as_str()));
        }
    }

    fn page(&self) -> Page {
        self.ctrl.borrow().page()
    }

    fn pin(&mut self, pin: &str) {
        for d in pin.chars() {
            self.tap(&format!("PIN {d}"));
        }
        self.tap("PIN bestätigen");
        // The check runs on a worker; the lock screen answers when it ends.
        self.ctrl.borrow_mut().settle_unlock();
        self.ctrl.borrow_mut().refresh(&self.ui);
    }

    fn login(&mut self) {
        self.pin("1234");
        self.type_into("Name 1", "Anna Berger");
        self.type_into("Personalnummer 1", "4711");
        self.tap("Schicht beginnen");
        assert_eq!(self.page(), Page::Missions);
    }

    fn state(&self) -> rettpad_record::MissionState {
        let m = self.ctrl.borrow().mission().expect("a mission is open");
        self.store.lock().state(m).cloned().unwrap()
    }

    fn field(&self, key: &str) -> app::FieldVM {
        let fields = self.ui.global::<EditorAdapter>().get_fields();
        (0..fields.row_count())
            .filter_map(|i| fields.row_data(i))
            .find(|f| f.key == key)
            .unwrap_or_else(|| panic!("field {key} not on this page"))
    }
}

/// Path command bytes the live page draws in a wave box (all segments).
fn drawn(segs: &slint::ModelRc<slint::SharedString>) -> usize {
    (0..segs.row_count())
        .filter_map(|i| segs.row_data(i))
        .map(|p| p.len())
        .sum()
}

#[test]
fn starts_locked_wrong_pin_counts_and_five_wrong_pins_wipe() {
    let mut t = Ui::new();
    assert_eq!(t.page(), Page::Lock);
    assert_eq!(
        t.ui.global::<app::LockAdapter>().get_hint(),
        "Demo-Modus: PIN 1234"
    );
    // Something to lose: a mission documented before.
    {
        let mut s = t.store.lock();
        s.set_author(Some(Author {
            device: "PAD".into(),
            crew_member: Uuid::from_u128(1),
        }));
        s.open_mission("RTW", vec![]).unwrap();
    }
    t.pin("0000");
    assert_eq!(t.page(), Page::Lock);
    assert_eq!(
        t.ui.global::<app::LockAdapter>().get_message(),
        "Falsche PIN, noch 4 Versuche bis zur Löschung."
    );
    for _ in 0..3 {
        t.pin("9999");
    }
    assert!(
        t.ui.global::<app::LockAdapter>()
            .get_message()
            .contains("noch 1 Versuch")
    );
    assert_eq!(t.store.lock().mission_ids().count(), 1);
    t.pin("9999");
    assert!(t.ui.global::<app::LockAdapter>().get_wiped());
    assert!(
        t.ui.global::<app::LockAdapter>()
            .get_message()
            .contains("gelöscht")
    );
    assert_eq!(
        t.store.lock().mission_ids().count(),
        0,
        "every protocol wiped"
    );
    t.pin("1234");
    assert_eq!(t.page(), Page::Login);
}

#[test]
fn idle_time_locks_exactly_after_fifteen_minutes() {
    let mut t = Ui::new();
    t.login();
    t.clock.advance(Duration::from_secs(15 * 60 - 1));
    t.ctrl.borrow_mut().tick();
    assert_eq!(t.page(), Page::Missions);
    t.tap("Neuer Einsatz"); // activity postpones the lock
    t.clock.advance(Duration::from_secs(15 * 60 - 1));
    t.ctrl.borrow_mut().tick();
    assert_eq!(t.page(), Page::Editor);
    t.clock.advance(Duration::from_secs(1));
    t.ctrl.borrow_mut().tick();
    t.ctrl.borrow_mut().refresh(&t.ui);
    assert_eq!(t.page(), Page::Lock);
    assert_eq!(
        t.ui.global::<app::AppState>().get_crew_text(),
        "",
        "no names on the lock screen"
    );
    t.pin("1234");
    assert_eq!(t.page(), Page::Missions, "the shift survives the lock");
}

#[test]
fn shift_login_validates_and_lock_button_locks() {
    let mut t = Ui::new();
    t.pin("1234");
    t.tap("Schicht beginnen");
    assert_eq!(t.page(), Page::Login);
    assert!(!t.ui.global::<app::LoginAdapter>().get_error().is_empty());
    t.type_into("Name 1", "Anna Berger");
    t.type_into("Personalnummer 1", "4711");
    t.tap("+ Person");
    t.type_into("Name 2", "Jonas Keller");
    t.type_into("Personalnummer 2", "4712");
    t.tap("Qualifikation 2: Rettungssanitäter/-in");
    t.tap("Schicht beginnen");
    assert_eq!(t.page(), Page::Missions);
    assert_eq!(
        t.ui.global::<app::AppState>().get_crew_text(),
        "Anna Berger, Jonas Keller"
    );
    t.tap("Sperren");
    assert_eq!(t.page(), Page::Lock);
}

#[test]
fn hardware_keys_reach_the_text_fields_while_the_page_refreshes() {
    use slint::platform::Key;
    let mut t = Ui::new();
    t.pin("1234");
    // Shift page: umlauts and ß, a typo taken back, Tab to the next field.
    t.focus("Name 1");
    t.keys("Jörg Weißx");
    t.key(Key::Backspace);
    t.key(Key::Tab);
    t.keys("4711");
    let crew = t.ui.global::<app::LoginAdapter>().get_crew();
    let first = crew.row_data(0).expect("one crew row");
    assert_eq!(
        first.name, "Jörg Weiß",
        "every key arrived, the typo is gone"
    );
    assert_eq!(first.number, "4711", "Tab moved to the personnel number");
    t.tap("Schicht beginnen");
    assert_eq!(t.page(), Page::Missions);
    assert_eq!(t.ui.global::<app::AppState>().get_crew_text(), "Jörg Weiß");
    // Patient page: the name typed key by key, committed with Enter, is in
    // the vault as one durable edit.
    t.tap("Neuer Einsatz");
    t.tap("Patient");
    t.focus("Name");
    t.keys("Müller-Lüdenscheidt");
    assert_eq!(
        t.field(keys::patient::FAMILY_NAME).value,
        "",
        "nothing saved before Enter"
    );
    t.key(Key::Return);
    assert_eq!(
        t.field(keys::patient::FAMILY_NAME).value,
        "Müller-Lüdenscheidt"
    );
    let st = t.state();
    let saved = st.patients.iter().any(|p| {
        p.get(keys::patient::FAMILY_NAME) == Some(&Value::Text("Müller-Lüdenscheidt".into()))
    });
    assert!(saved, "the typed name is in the record");
}

#[test]
fn vitals_set_by_keypad_appears_in_the_trend_list_after_it_is_durable() {
    let mut t = Ui::new();
    t.login();
    t.tap("Neuer Einsatz");
    t.tap("Messwerte");
    t.tap("Neue Messung");
    assert!(t.ui.global::<app::KeypadAdapter>().get_visible());
    // "120" cannot grow (1200 > 400): the "/" comes by itself.
    t.keypad("120");
    assert_eq!(
        t.ui.global::<app::KeypadAdapter>().get_input(),
        "120/",
        "systolic complete"
    );
    t.keypad("80");
    // 80 moved on to the heart rate by itself; a "Weiter" from habit is
    // swallowed instead of skipping the heart rate.
    t.tap("Weiter");
    t.keypad("88");
    t.tap("Fertig");
    assert!(!t.ui.global::<app::KeypadAdapter>().get_visible());
    let entries = t.ui.global::<EditorAdapter>().get_entries();
    assert_eq!(entries.row_count(), 1);
    let e = entries.row_data(0).unwrap();
    assert!(
        e.detail.contains("120") && e.detail.contains("88"),
        "{}",
        e.detail
    );
    assert_eq!(t.ui.global::<app::AppState>().get_toast(), "gespeichert");
    assert_eq!(t.store.lock().pending(), 0, "acknowledged means durable");
    // An impossible value is refused at the keypad, nothing is stored.
    let before = t
        .store
        .lock()
        .log(t.ctrl.borrow().mission().unwrap())
        .unwrap()
        .len();
    t.tap("Herzfrequenz");
    t.keypad("401");
    t.tap("Fertig");
    assert!(!t.ui.global::<app::KeypadAdapter>().get_error().is_empty());
    assert_eq!(
        t.store
            .lock()
            .log(t.ctrl.borrow().mission().unwrap())
            .unwrap()
            .len(),
        before
    );
}

#[test]
fn keypad_moves_on_only_when_no_digit_can_follow() {
    let mut t = Ui::new();
    t.login();
    t.tap("Neuer Einsatz");
    t.tap("Messwerte");
    t.tap("Neue Messung");
    let kp = |t: &Ui| {
        let k = t.ui.global::<app::KeypadAdapter>();
        (k.get_label().to_string(), k.get_input().to_string())
    };
    // Systolic 25 could still be 250: nothing moves.
    t.keypad("25");
    assert_eq!(kp(&t).1, "25");
    // "back" takes an automatic "/" away again.
    t.tap("Taste löschen");
    t.tap("Taste löschen");
    t.keypad("150");
    assert_eq!(kp(&t).1, "150/");
    t.tap("Taste löschen");
    assert_eq!(kp(&t).1, "150");
    t.keypad("/95");
    // 95/… committed both and moved on to the heart rate.
    let (label, input) = kp(&t);
    assert!(label.contains("Herzfrequenz"), "{label}");
    assert!(input.is_empty());
    // Heart rate 35 might be 350: it waits for "Weiter".
    t.keypad("35");
    assert!(kp(&t).0.contains("Herzfrequenz"));
    t.tap("Weiter");
    assert!(kp(&t).0.contains("SpO"), "{:?}", kp(&t));
    // A "Weiter" after a manual one is not swallowed: it skips SpO2.
    t.tap("Weiter");
    assert!(kp(&t).0.contains("Atemfrequenz"), "{:?}", kp(&t));
    let m = t.ctrl.borrow().mission().unwrap();
    let st = t.store.lock().state(m).cloned().unwrap();
    let e = st.entries.values().next().unwrap();
    let manual = |n: i64| {
        Value::Measured(rettpad_record::Measured::manual(rettpad_record::Num::int(
            n,
        )))
    };
    assert_eq!(e.get(keys::vitals::BP_SYS), Some(&manual(150)));
    assert_eq!(e.get(keys::vitals::BP_DIA), Some(&manual(95)));
    assert_eq!(e.get(keys::vitals::HR), Some(&manual(35)));
    assert_eq!(e.get(keys::vitals::SPO2), None);
}

#[test]
fn correction_after_handover_is_audited_and_marked() {
    let mut t = Ui::new();
    t.login();
    t.tap("Neuer Einsatz");
    t.tap("NACA");
    t.tap("NACA-Score: III – mittelschwer, stationär");
    let m = t.ctrl.borrow().mission().unwrap();
    t.store
        .lock()
        .apply(
            m,
            Payload::HandedOver {
                mode: HandoverMode::Printed,
                to: "ZNA".into(),
                document_sha256: None,
            },
        )
        .unwrap();
    t.tap("NACA-Score: IV – schwer, Lebensgefahr nicht auszuschließen");
    let st = t.state();
    assert_eq!(st.audit.len(), 1);
    assert_eq!(st.audit[0].original, Some(Value::code("3")));
    assert_eq!(st.audit[0].new, Some(Value::code("4")));
    assert!(t.field(keys::naca::SCORE).corrected);
}

/// The hard rules' minimum after the mission number: two times, an
/// unknown patient, NACA and the outcome.
fn fill_what_closing_requires(t: &mut Ui) {
    t.tap("Einsatz/Zeiten");
    t.tap("Alarmierung: Jetzt");
    t.tap("Ankunft Einsatzort (Status 4): Jetzt");
    t.tap("Patient");
    t.tap("unbekannter Patient: ja");
    t.tap("NACA");
    t.tap("NACA-Score: II – leicht, ambulant");
    t.tap("Ergebnis");
    t.tap("Ergebnis: ambulante Versorgung vor Ort");
}

#[test]
fn close_is_blocked_by_hard_rules_then_succeeds() {
    let mut t = Ui::new();
    t.login();
    t.tap("Neuer Einsatz");
    t.tap("Abschließen");
    assert_eq!(t.page(), Page::Close);
    let hard = t.ui.global::<app::CloseAdapter>().get_hard();
    assert!(
        hard.row_count() >= 5,
        "mission number, times, patient, outcome, NACA"
    );
    t.tap("Einsatz jetzt abschließen"); // disabled: nothing happens
    assert_eq!(t.page(), Page::Close);
    // The first finding links to its field.
    let first = hard.row_data(0).unwrap();
    t.tap(&format!("{} – {}", first.section, first.message));
    assert_eq!(t.page(), Page::Editor);
    assert!(t.field(keys::mission::NUMBER).missing);
    t.type_into("Einsatznummer (Leitstelle)", "2026-4711");
    fill_what_closing_requires(&mut t);
    t.tap("Abschließen");
    assert_eq!(t.ui.global::<app::CloseAdapter>().get_hard().row_count(), 0);
    let m = t.ctrl.borrow().mission().unwrap();
    t.tap("Einsatz jetzt abschließen");
    assert_eq!(t.page(), Page::Missions);
    assert_eq!(t.store.lock().state(m).unwrap().status, Status::Closed);
}

/// Waits (real time) until the simulated monitor streams numerics.
fn wait_for_monitor(t: &mut Ui) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !t
        .ui
        .global::<app::AppState>()
        .get_device_state()
        .contains("verbunden")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "monitor never connected"
        );
        std::thread::sleep(Duration::from_millis(100));
        let mut c = t.ctrl.borrow_mut();
        c.tick();
        c.refresh(&t.ui);
    }
    std::thread::sleep(Duration::from_millis(2500));
    let mut c = t.ctrl.borrow_mut();
    c.tick();
    c.refresh(&t.ui);
}

/// The standard mission of the issue, scripted; taps and typed characters
/// are counted separately (the figures go to the README). `devices`: the patient comes from
/// the eGK (one confirmation tap) and the vitals from the monitor.
/// Monitor values only on "übernehmen" (the setting "nur auf Tippen"), so
/// that each vitals set is one counted tap.
fn ui_taking_device_values_on_tap() -> Ui {
    Ui::with_config(Config {
        device_record_every_min: 0,
        ..Config::demo()
    })
}

/// The standard mission; with `osk` its texts are typed on the on-screen
/// keyboard (every key a tap) instead of a hardware keyboard.
fn standard_mission(devices: bool) -> (usize, usize, usize) {
    let (t, _) = standard_mission_typed(devices, false);
    (t.taps, t.swipes, t.typed)
}

fn standard_mission_typed(devices: bool, osk: bool) -> (Ui, usize) {
    standard_mission_full(devices, osk, false)
}

/// What the dispatch centre sends before the crew touches the pad: the
/// alarm (number, keyword, address, the patient's name) and statuses
/// 3/4/7/8, through the same code the pad's channel runs.
fn els_delivers(t: &mut Ui) {
    use rettpad_dispatch::{ToPad, mission_id, msg};
    let cfg = Config::demo();
    let now = t.clock.wall_ms();
    let alarm = format!(
        r#"{{"schema":"rettpad.dispatch/1","msg_id":"0193a1c4-0000-7000-8000-0000000000e1","kind":"mission",
"centre":{{"id":"demo-ils"}},"mission":{{"number":"2026-112233","keyword":{{"code":"RD 2","text":"Brustschmerz"}},
"location":{{"street":"Hauptstraße","house_number":"1","postcode":"85049","city":"Ingolstadt"}},
"patient":{{"family_name":"Mustermann","given_name":"Erika","sex":"w"}},
"units":[{{"call_sign":"{}","type":"RTW","alarmed_at":"{}"}}]}}}}"#,
        cfg.call_sign,
        msg::format_time(now)
    );
    let mut msgs = vec![alarm];
    for (i, s) in [3u8, 4, 7, 8].into_iter().enumerate() {
        msgs.push(format!(
            r#"{{"schema":"rettpad.dispatch/1","msg_id":"0193a1c4-0000-7000-8000-0000000000f{i}","kind":"status",
"centre":{{"id":"demo-ils"}},"mission_number":"2026-112233","call_sign":"{}","status":{s},"at":"{}"}}"#,
            cfg.call_sign,
            msg::format_time(now + (i as i64 + 1) * 60_000)
        ));
    }
    for m in msgs {
        let d = msg::parse(m.as_bytes()).unwrap();
        let fields = match &d.body {
            rettpad_dispatch::Body::Status(s) => rettpad_dispatch::StatusMap::default()
                .fields(s.status)
                .to_vec(),
            _ => Vec::new(),
        };
        let to = ToPad {
            mission_id: mission_id(&d.centre, d.number()),
            dispatch: d,
            call_sign: cfg.call_sign.clone(),
            received_ms: now,
            fields,
        };
        let a = rettpad_pad::dispatch::apply(&t.store, &cfg.device_serial, &to).unwrap();
        // What `Controller::tick` does with the channel's event.
        t.ctrl.borrow_mut().dispatched(&a);
        t.ctrl.borrow_mut().refresh(&t.ui);
    }
    assert_eq!(t.page(), Page::Editor, "the alarm opened the mission");
}

/// Two vital sets by hand on their page: RR, HF, SpO2, AF, BZ.
fn by_hand_vitals(t: &mut Ui) {
    t.tap("Messwerte");
    for set in [
        ["150/95", "112", "91", "22", "130"],
        ["135/85", "98", "95", "18", "128"],
    ] {
        t.tap("Neue Messung");
        // The keypad moves on by itself where no digit can follow ("112");
        // a glucose of 130 could still become 1300, so "Fertig" ends it.
        for v in set {
            t.keypad(v);
        }
        t.tap("Fertig");
    }
}

/// Two takes from the monitor, five minutes apart.
fn take_monitor_twice(t: &mut Ui) {
    wait_for_monitor(t);
    t.tap("Vom Monitor übernehmen");
    t.clock.advance(Duration::from_secs(300));
    wait_for_monitor(t);
    t.tap("Vom Monitor übernehmen");
}

fn standard_mission_full(devices: bool, osk: bool, els: bool) -> (Ui, usize) {
    let mut t = ui_taking_device_values_on_tap();
    let write = |t: &mut Ui, label: &str, text: &str| {
        if osk {
            t.focus(label);
            t.osk_type(text);
            t.tap("Tastatur Eingabe");
        } else {
            t.type_into(label, text);
        }
    };
    if devices {
        t.ctrl.borrow_mut().attach_from_config();
    }
    t.login();
    t.taps = 0;
    t.typed = 0;
    if els {
        // The mission opens by itself; only patient contact is the crew's.
        els_delivers(&mut t);
        t.tap("Patientenkontakt: Jetzt");
    } else {
        t.tap("Neuer Einsatz");
        // A new mission opens on Einsatz/Zeiten: the times one tap each.
        for k in [
            "Alarmierung",
            "Ausrücken (Status 3)",
            "Ankunft Einsatzort (Status 4)",
            "Patientenkontakt",
            "Abfahrt Einsatzort (Status 7)",
            "Ankunft Zielort (Status 8)",
        ] {
            t.tap(&format!("{k}: Jetzt"));
        }
        write(&mut t, "Einsatznummer (Leitstelle)", "2026-112233");
    }
    t.tap("Patient");
    if els && !devices {
        // The ELS gave the name; the birth date is the crew's.
        write(&mut t, "Geburtsdatum", "12.08.1950");
    } else if devices {
        // Inserting the card is no tap; confirming it is one.
        t.ui.global::<app::AppState>().invoke_card_tapped();
        t.ctrl.borrow_mut().refresh(&t.ui);
        t.tap("Übernehmen");
    } else {
        write(&mut t, "Name", "Mustermann");
        write(&mut t, "Vorname", "Erika");
        write(&mut t, "Geburtsdatum", "12.08.1950");
    }
    if els {
        // Quick entry gathers the standard mission's choices on one page.
        if !devices {
            by_hand_vitals(&mut t);
        }
        t.tap("Kurzerfassung");
        if devices {
            take_monitor_twice(&mut t);
        }
        for label in [
            "Befund: GCS 15",
            "Schmerz (NRS 0–10): 6",
            "Rhythmus: Sinusrhythmus",
            "Tracerdiagnose: ACS/STEMI",
            "NACA-Score: IV – schwer, Lebensgefahr nicht auszuschließen",
            "Maßnahmen: i.v.-Zugang",
            "Maßnahmen: 12-Kanal-EKG",
            "Medikamente: ASS 250 mg i.v.",
            "Medikamente: Heparin 5000 IE i.v.",
            "mit Notarzt: ja",
            "Zielklinik: Klinikum Mitte, ZNA",
            "Ergebnis: Transport mit NA (boden)",
        ] {
            t.tap(label);
        }
    } else {
        // Two vital sets: RR, HF, SpO2, AF, BZ.
        if devices {
            t.tap("Messwerte");
            take_monitor_twice(&mut t);
        } else {
            by_hand_vitals(&mut t);
        }
        // GCS 15, NRS 6.
        t.tap("Befund");
        t.tap("GCS 15");
        t.tap("Schmerz (NRS 0–10): 6");
        t.tap("EKG");
        t.tap("Rhythmus: Sinusrhythmus");
        t.tap("Erkrankungen");
        // ACS implies the group Herz-Kreislauf (catalog::implied).
        t.tap("Tracerdiagnose: ACS/STEMI");
        t.tap("NACA");
        t.tap("NACA-Score: IV – schwer, Lebensgefahr nicht auszuschließen");
        t.tap("Maßnahmen");
        t.tap("i.v.-Zugang");
        t.tap("12-Kanal-EKG");
        t.tap("Medikamente");
        t.tap("ASS 250 mg i.v.");
        t.tap("Heparin 5000 IE i.v.");
        t.tap("Übergabe/Transport");
        // The target hospital implies "Transport: ja".
        t.tap("mit Notarzt: ja");
        t.tap("Zielklinik: Klinikum Mitte, ZNA");
        t.tap("Ergebnis");
        t.tap("Ergebnis: Transport mit NA (boden)");
    }
    t.tap("Abschließen");
    let m = t.ctrl.borrow().mission().unwrap();
    let hard = t.ui.global::<app::CloseAdapter>().get_hard();
    let msgs: Vec<String> = (0..hard.row_count())
        .filter_map(|i| hard.row_data(i))
        .map(|f| f.message.to_string())
        .collect();
    assert!(msgs.is_empty(), "still missing: {msgs:?}");
    t.tap("Einsatz jetzt abschließen");
    let st = t.store.lock().state(m).cloned().unwrap();
    assert_eq!(st.status, Status::Closed);
    let p = st.active_patients().next().unwrap();
    // Two sets; with the monitor also each cuff (NIBP) reading by itself.
    let vitals = st
        .entries_of(p.id, rettpad_record::Collection::Vitals)
        .count();
    if devices {
        assert!(vitals >= 2, "{vitals}");
    } else {
        assert_eq!(vitals, 2);
    }
    assert_eq!(
        st.entries_of(p.id, rettpad_record::Collection::Medication)
            .count(),
        2
    );
    if !devices {
        // Every keypad value landed in its own field despite no "Weiter".
        let manual = |n: i64| {
            Value::Measured(rettpad_record::Measured::manual(rettpad_record::Num::int(
                n,
            )))
        };
        let sets: Vec<_> = st
            .entries_of(p.id, rettpad_record::Collection::Vitals)
            .collect();
        for (e, want) in sets
            .iter()
            .zip([[150, 95, 112, 91, 22, 130], [135, 85, 98, 95, 18, 128]])
        {
            for (k, v) in [
                keys::vitals::BP_SYS,
                keys::vitals::BP_DIA,
                keys::vitals::HR,
                keys::vitals::SPO2,
                keys::vitals::RR,
                keys::vitals::GLUCOSE,
            ]
            .into_iter()
            .zip(want)
            {
                assert_eq!(e.get(k), Some(&manual(v)), "{k}");
            }
        }
    }
    let dx = st
        .entries_of(p.id, rettpad_record::Collection::Diagnosis)
        .next()
        .unwrap();
    assert_eq!(dx.get(keys::diagnosis::GROUP), Some(&Value::code("02")));
    assert_eq!(p.get(keys::transport::DONE), Some(&Value::Bool(true)));
    if !devices {
        assert_eq!(
            p.get(keys::patient::FAMILY_NAME),
            Some(&Value::Text("Mustermann".into()))
        );
    }
    assert_eq!(
        st.get(keys::mission::NUMBER),
        Some(&Value::Text("2026-112233".into()))
    );
    let osk_keys = t.osk_keys;
    (t, osk_keys)
}

fn report_on_screen_keyboard_mission(devices: bool) {
    let (t, osk_keys) = standard_mission_typed(devices, true);
    println!(
        "STANDARD MISSION (on-screen keyboard{}): {} taps ({} of them character keys; the others shift, layout, Enter and the mission's own taps), {} swipes, {} characters typed (incl. keypad digits)",
        if devices { ", card and monitor" } else { "" },
        t.taps,
        osk_keys,
        t.swipes,
        t.typed
    );
    assert!(osk_keys > 0);
}

#[test]
fn standard_mission_on_the_on_screen_keyboard_tap_count() {
    report_on_screen_keyboard_mission(false);
}

#[test]
fn standard_mission_with_card_and_monitor_on_the_on_screen_keyboard_tap_count() {
    report_on_screen_keyboard_mission(true);
}

/// An alarm on a locked pad is announced behind the PIN with number and
/// keyword only; after the PIN the mission is there.
#[test]
fn an_alarm_on_the_locked_pad_is_announced_without_patient_data() {
    let mut t = ui_taking_device_values_on_tap();
    t.login();
    t.tap("Sperren");
    assert_eq!(t.page(), Page::Lock);
    let cfg = Config::demo();
    let json = format!(
        r#"{{"schema":"rettpad.dispatch/1","msg_id":"0193a1c4-0000-7000-8000-0000000000c9","kind":"mission",
"centre":{{"id":"demo-ils"}},"mission":{{"number":"2026-4711","keyword":{{"code":"RD 1","text":"Sturz"}},
"patient":{{"family_name":"Mustermann","given_name":"Erika"}},"units":[{{"call_sign":"{}"}}]}}}}"#,
        cfg.call_sign
    );
    let d = rettpad_dispatch::msg::parse(json.as_bytes()).unwrap();
    let to = rettpad_dispatch::ToPad {
        mission_id: rettpad_dispatch::mission_id(&d.centre, d.number()),
        dispatch: d,
        call_sign: cfg.call_sign.clone(),
        received_ms: t.clock.wall_ms(),
        fields: Vec::new(),
    };
    let a = rettpad_pad::dispatch::apply(&t.store, &cfg.device_serial, &to).unwrap();
    t.ctrl.borrow_mut().dispatched(&a);
    t.ctrl.borrow_mut().refresh(&t.ui);
    assert_eq!(t.page(), Page::Lock, "an alarm does not unlock");
    let msg = t.ui.global::<app::LockAdapter>().get_message();
    assert!(
        msg.contains("2026-4711") && msg.contains("RD 1 – Sturz"),
        "{msg}"
    );
    assert!(
        !msg.contains("Mustermann") && !msg.contains("Erika"),
        "{msg}"
    );
    t.pin("1234");
    // After the PIN the mission is in the list, one tap away.
    let list = t.ui.global::<app::MissionsAdapter>().get_missions();
    let row = (0..list.row_count())
        .filter_map(|i| list.row_data(i))
        .find(|m| m.title.starts_with("2026-4711 · "))
        .expect("the dispatched mission in the list");
    let label = format!("Einsatz {}", row.title);
    t.tap(&label);
    assert_eq!(t.page(), Page::Editor);
    assert_eq!(t.ctrl.borrow().mission().map(|m| m.0), Some(a.mission.0));
}

/// A status the centre sends after the crew set that time by hand is not
/// taken: the editor shows it, and the crew takes it or drops it.
#[test]
fn a_dispatch_value_against_the_crews_waits_for_the_crew() {
    let mut t = ui_taking_device_values_on_tap();
    t.login();
    els_delivers(&mut t);
    let m = t.ctrl.borrow().mission().unwrap();
    let at = |t: &Ui| match t.state().get(keys::time::AT_SCENE) {
        Some(Value::Time(tv)) => (tv.at_ms, tv.source.clone()),
        other => panic!("{other:?}"),
    };
    t.clock.advance(Duration::from_secs(600));
    t.tap("Ankunft Einsatzort (Status 4): Jetzt");
    let crews = at(&t);
    assert_eq!(crews.1, rettpad_record::TimeSource::Manual);
    let cfg = Config::demo();
    let send = |t: &mut Ui, id: &str, minutes: i64| {
        let now = t.clock.wall_ms();
        let json = format!(
            r#"{{"schema":"rettpad.dispatch/1","msg_id":"{id}","kind":"status","centre":{{"id":"demo-ils"}},
"mission_number":"2026-112233","call_sign":"{}","status":4,"at":"{}"}}"#,
            cfg.call_sign,
            rettpad_dispatch::msg::format_time(now - minutes * 60_000)
        );
        let d = rettpad_dispatch::msg::parse(json.as_bytes()).unwrap();
        let to = rettpad_dispatch::ToPad {
            mission_id: rettpad_dispatch::mission_id(&d.centre, d.number()),
            dispatch: d,
            call_sign: cfg.call_sign.clone(),
            received_ms: now,
            fields: vec![keys::time::AT_SCENE.to_string()],
        };
        let a = rettpad_pad::dispatch::apply(&t.store, &cfg.device_serial, &to).unwrap();
        assert_eq!((a.edits, a.proposals), (0, 1), "the crew's time stays");
        t.ctrl.borrow_mut().dispatched(&a);
        t.ctrl.borrow_mut().refresh(&t.ui);
    };
    send(&mut t, "0193a1c4-0000-7000-8000-0000000000d1", 3);
    let banner = t.ui.global::<app::EditorAdapter>().get_dispatch_proposal();
    assert!(
        banner.starts_with("Leitstelle meldet abweichend – Ankunft Einsatzort (Status 4)"),
        "{banner}"
    );
    assert_eq!(at(&t), crews, "nothing changed before the crew decides");
    t.tap("Verwerfen");
    assert_eq!(at(&t), crews);
    assert_eq!(
        t.ui.global::<app::EditorAdapter>().get_dispatch_proposal(),
        ""
    );
    send(&mut t, "0193a1c4-0000-7000-8000-0000000000d2", 4);
    t.tap("Übernehmen");
    let (ms, src) = at(&t);
    assert_eq!(ms, t.clock.wall_ms() - 4 * 60_000);
    assert_eq!(
        src,
        rettpad_record::TimeSource::Dispatch { status: Some(4) }
    );
    assert!(rettpad_pad::dispatch::proposals(&t.store, m).is_empty());
}

/// Issue 14's figure: the standard mission when the ELS delivered the
/// mission (number, keyword, address, the patient's name) and statuses
/// 3/4/7/8, documented on quick entry.
fn dispatch_tap_count(devices: bool) {
    let (t, _) = standard_mission_full(devices, false, true);
    println!(
        "STANDARD MISSION (dispatch from the ELS{}): {} taps, {} swipes, {} typed characters",
        if devices { ", card and monitor" } else { "" },
        t.taps,
        t.swipes,
        t.typed
    );
    // Issue 14's targets: 25 taps, 20 with card and monitor.
    let target = if devices { 20 } else { 25 };
    assert!(t.taps <= target, "{} taps", t.taps);
}

#[test]
fn standard_mission_with_dispatch_tap_count() {
    dispatch_tap_count(false);
}

#[test]
fn standard_mission_with_dispatch_card_and_monitor_tap_count() {
    dispatch_tap_count(true);
}

#[test]
fn standard_mission_tap_count() {
    let (taps, swipes, typed) = standard_mission(false);
    println!(
        "STANDARD MISSION (by hand): {taps} taps, {swipes} swipes, {typed} typed characters (names, birth date, mission number, keypad digits)"
    );
    assert!(taps <= 40, "{taps} taps");
}

#[test]
fn standard_mission_with_card_and_monitor_tap_count() {
    let (taps, swipes, typed) = standard_mission(true);
    println!(
        "STANDARD MISSION (eGK + monitor): {taps} taps, {swipes} swipes, {typed} typed characters"
    );
    assert!(taps <= 40, "{taps} taps");
}

#[test]
fn a_card_read_is_taken_over_after_one_tap_and_never_overwrites_silently() {
    let mut t = Ui::new();
    t.ctrl.borrow_mut().attach_sim_card();
    t.login();
    t.tap("Neuer Einsatz");
    let card = rettpad_card::sim::sample_egk_data();
    let family = card.person.full_family_name();
    // The crew already wrote a different name.
    let (m, p) = {
        let c = t.ctrl.borrow();
        (c.mission().unwrap(), c.patient().unwrap())
    };
    t.store
        .lock()
        .apply(
            m,
            Payload::Set {
                target: rettpad_record::Target::Patient(p),
                field: keys::patient::FAMILY_NAME.into(),
                value: Value::text("Meier"),
            },
        )
        .unwrap();
    t.tap("Karte");
    let (visible, lines, conflicts) = {
        let dlg = t.ui.global::<app::CardAdapter>();
        let lines: Vec<String> = (0..dlg.get_lines().row_count())
            .filter_map(|i| dlg.get_lines().row_data(i))
            .map(|s| s.to_string())
            .collect();
        (dlg.get_visible(), lines, dlg.get_has_conflicts())
    };
    assert!(visible, "the read opens the confirmation");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("Meier") && l.contains("bleibt")),
        "{lines:?}"
    );
    assert!(conflicts);
    // Nothing is written before the tap.
    assert_eq!(
        t.state().patient(p).unwrap().get(keys::patient::GIVEN_NAME),
        None
    );
    t.tap("Übernehmen");
    assert!(!t.ui.global::<app::CardAdapter>().get_visible());
    let st = t.state();
    let ps = st.patient(p).unwrap();
    assert_eq!(
        ps.get(keys::patient::FAMILY_NAME),
        Some(&Value::text("Meier"))
    );
    assert_eq!(
        ps.get(keys::patient::GIVEN_NAME),
        Some(&Value::text(&card.person.given_name))
    );
    assert_eq!(ps.get(keys::patient::ID_SOURCE), Some(&Value::code("01")));
    // Only an explicit choice replaces the differing name.
    t.tap("Karte");
    t.tap("Auch abweichende übernehmen");
    assert_eq!(
        t.state()
            .patient(p)
            .unwrap()
            .get(keys::patient::FAMILY_NAME),
        Some(&Value::text(&family))
    );
}

fn dialog_lines(t: &Ui) -> Vec<String> {
    let dlg = t.ui.global::<app::CardAdapter>();
    (0..dlg.get_lines().row_count())
        .filter_map(|i| dlg.get_lines().row_data(i))
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn a_pairing_tag_pairs_its_device_after_one_tap_and_the_pairing_survives_a_restart() {
    use rettpad_devices::pairing::{self, PairingError};
    use rettpad_pad::watcher::CardEvent;
    let mut t = Ui::new();
    // The demo's simulated monitor runs; the tag's device replaces it.
    t.ctrl.borrow_mut().attach_from_config();
    let demo = t.ctrl.borrow().device_label().to_string();
    assert!(!demo.is_empty());
    let rec = pairing::sample_record();
    let tag = |result| CardEvent::Pairing {
        reader: "R0".into(),
        result,
    };
    // Locked: a tag read waits; the dialog never shows over the PIN pad.
    t.ctrl
        .borrow_mut()
        .card_event(tag(Ok(Box::new(rec.clone()))));
    t.ctrl.borrow_mut().refresh(&t.ui);
    assert_eq!(t.page(), Page::Lock);
    assert!(t.find("Koppeln").is_none());
    t.login();
    t.ctrl.borrow_mut().refresh(&t.ui);
    let dlg = t.ui.global::<app::CardAdapter>();
    assert!(dlg.get_visible() && dlg.get_pairing());
    let lines = dialog_lines(&t);
    let all = lines.join("\n");
    for want in [
        "MP30",
        "DE00000001",
        "00:1B:DC:0F:12:34",
        "Philips IntelliVue",
    ] {
        assert!(all.contains(want), "{want} missing in {lines:?}");
    }
    assert!(!all.contains(rec.pin.expose()), "the PIN is never shown");
    assert!(all.contains(&format!("Ersetzt das bisherige Gerät: {demo}")));
    // Nothing changes before the tap.
    assert_ne!(t.ctrl.borrow().device_label(), "MP30 SN DE00000001");
    t.tap("Koppeln");
    assert!(!t.ui.global::<app::CardAdapter>().get_visible());
    assert_eq!(t.ctrl.borrow().device_label(), "MP30 SN DE00000001");
    assert_eq!(
        t.ui.global::<app::AppState>().get_toast(),
        "Gerät gekoppelt: MP30 SN DE00000001"
    );
    // Kept encrypted in the vault: a restarted app starts the same device.
    let session = Session::new(
        Config::demo().session_config().unwrap(),
        t.clock.clone(),
        t.store.clone(),
        t.store.clone(),
    )
    .unwrap();
    let (_ui2, ctrl2) =
        app::build(Config::demo(), t.clock.clone(), t.store.clone(), session).unwrap();
    ctrl2.borrow_mut().attach_from_config();
    assert_eq!(ctrl2.borrow().device_label(), "MP30 SN DE00000001");

    // A bad tag: a clear German message, no dialog, the device stays.
    t.ctrl
        .borrow_mut()
        .card_event(tag(Err(PairingError::WrongKey)));
    t.ctrl.borrow_mut().refresh(&t.ui);
    assert!(!t.ui.global::<app::CardAdapter>().get_visible());
    let toast = t.ui.global::<app::AppState>().get_toast().to_string();
    assert!(toast.contains("falscher Schlüssel"), "{toast}");
    assert_eq!(t.ctrl.borrow().device_label(), "MP30 SN DE00000001");
    // "Verwerfen" keeps the current device.
    let mut other = rec.clone();
    other.serial = Some("DE00000002".into());
    t.ctrl.borrow_mut().card_event(tag(Ok(Box::new(other))));
    t.ctrl.borrow_mut().refresh(&t.ui);
    assert!(dialog_lines(&t).iter().any(|l| l.contains("Ersetzt")));
    t.tap("Verwerfen");
    assert_eq!(t.ctrl.borrow().device_label(), "MP30 SN DE00000001");
}

#[test]
fn vitals_from_the_simulated_monitor_in_two_taps() {
    let mut t = ui_taking_device_values_on_tap();
    // Config::demo pairs the in-process simulator over loopback TCP.
    t.ctrl.borrow_mut().attach_from_config();
    t.login();
    t.tap("Neuer Einsatz");
    t.taps = 0;
    t.tap("Messwerte");
    assert!(t.ui.global::<EditorAdapter>().get_device_take_visible());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let m = t.ctrl.borrow().mission().unwrap();
    let store = t.store.clone();
    let entries = move || {
        store
            .lock()
            .state(m)
            .unwrap()
            .entries
            .values()
            .filter(|e| e.collection == rettpad_record::Collection::Vitals)
            .count()
    };
    // Wait until the monitor streams and its numerics arrived.
    while !(t.ui.global::<EditorAdapter>().get_device_take_enabled()
        && t.ui
            .global::<app::AppState>()
            .get_device_state()
            .contains("verbunden"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "monitor never connected"
        );
        std::thread::sleep(Duration::from_millis(100));
        let ui = &t.ui;
        let mut c = t.ctrl.borrow_mut();
        c.tick();
        c.refresh(ui);
    }
    std::thread::sleep(Duration::from_millis(2500));
    {
        let mut c = t.ctrl.borrow_mut();
        c.tick();
        c.refresh(&t.ui);
    }
    t.tap("Vom Monitor übernehmen");
    assert_eq!(
        entries(),
        1,
        "{}",
        t.ui.global::<app::AppState>().get_toast()
    );
    assert_eq!(t.taps, 2);
    let st = t.store.lock().state(m).cloned().unwrap();
    let e = st
        .entries
        .values()
        .find(|e| e.collection == rettpad_record::Collection::Vitals)
        .unwrap();
    match e.get(keys::vitals::HR) {
        Some(Value::Measured(ms)) => assert_eq!(
            ms.source,
            rettpad_record::ValueSource::Device {
                device: "Monitor".into()
            }
        ),
        other => panic!("heart rate from the monitor expected, got {other:?}"),
    }
}

#[test]
fn handover_prompt_waits_behind_the_pin_and_allow_sends_the_mission() {
    use rettpad_handover::frame::MissionSel;
    use rettpad_handover::session::{Credentials, Peer};
    use rettpad_pad::handover_service::{LinkSpec, PairedLink};
    use rettpad_pad::{Service, ServiceConfig, ServiceEvent};
    use rettpad_pki::{Identity, Trust, issue::Ca};
    let mut t = Ui::new();
    t.login();
    t.tap("Neuer Einsatz");
    let m = t.ctrl.borrow().mission().unwrap();
    let cfg = Config::demo();
    let ca = Ca::generate("Test-CA").unwrap();
    let creds = |serial: &str, call: &str| {
        let i = ca.issue_pad(serial, call).unwrap();
        Credentials {
            identity: Arc::new(
                Identity::from_pem(i.cert_pem.as_bytes(), i.key_pem.as_bytes()).unwrap(),
            ),
            trust: Arc::new(Trust::from_pem(ca.cert_pem().as_bytes(), &[]).unwrap()),
        }
    };
    let nef = Peer {
        serial: "PAD-NEF-0002".into(),
        call_sign: "NEF 3/82-1".into(),
    };
    let me = Peer {
        serial: cfg.device_serial.clone(),
        call_sign: cfg.call_sign.clone(),
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let sender = Service::start(
        ServiceConfig {
            own_call_sign: me.call_sign.clone(),
            creds: creds(&me.serial, &me.call_sign),
            paired: vec![PairedLink {
                peer: nef.clone(),
                link: LinkSpec::Tcp("127.0.0.1:9".parse().unwrap()),
            }],
            listen: Some(LinkSpec::Tcp(addr)),
            confirm_ms: 10_000,
        },
        t.store.clone(),
    )
    .unwrap();
    t.ctrl.borrow_mut().attach_handover(sender);
    let dir = tempfile::tempdir().unwrap();
    let mut rs = Store::open(
        dir.path(),
        Arc::new(MemoryKeyProvider::new()),
        TestClock::new(T0),
        StoreOptions::default(),
    )
    .unwrap();
    rs.set_author(Some(Author {
        device: nef.serial.clone(),
        crew_member: Uuid::from_u128(9),
    }));
    let receiver_store = SharedStore::new(rs);
    let receiver = Service::start(
        ServiceConfig {
            own_call_sign: nef.call_sign.clone(),
            creds: creds(&nef.serial, &nef.call_sign),
            paired: vec![PairedLink {
                peer: me.clone(),
                link: LinkSpec::Tcp(addr),
            }],
            listen: None,
            confirm_ms: 10_000,
        },
        receiver_store.clone(),
    )
    .unwrap();
    // The sending pad is locked when the request arrives.
    t.tap("Sperren");
    assert_eq!(t.page(), Page::Lock);
    receiver.request(&me.serial, MissionSel::AllOpen);
    let poll = |t: &mut Ui| {
        std::thread::sleep(Duration::from_millis(50));
        let mut c = t.ctrl.borrow_mut();
        c.tick();
        c.refresh(&t.ui);
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(8);
    while t.ui.global::<app::LockAdapter>().get_banner().is_empty() {
        assert!(std::time::Instant::now() < deadline, "no request arrived");
        poll(&mut t);
    }
    let banner = t.ui.global::<app::LockAdapter>().get_banner().to_string();
    assert!(
        banner.contains("NEF 3/82-1") && banner.contains(" s)"),
        "{banner}"
    );
    // Behind the PIN: nothing to allow yet.
    assert!(t.find("Erlauben").is_none());
    t.pin("1234");
    assert_ne!(t.page(), Page::Lock);
    let secs = t.ui.global::<app::HandoverAdapter>().get_prompt_seconds();
    assert!((1..=10).contains(&secs), "countdown {secs}");
    t.tap("Erlauben");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut done = None;
    while done.is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "handover did not finish"
        );
        poll(&mut t);
        while let Ok(e) = receiver.events().try_recv() {
            match e {
                ServiceEvent::Finished(r) => done = Some(Ok(r)),
                ServiceEvent::Failed(f) => done = Some(Err(f)),
                _ => {}
            }
        }
    }
    let report = done.unwrap().expect("handover finished");
    assert_eq!(report.missions.len(), 1);
    assert!(
        receiver_store.lock().state(m).is_some(),
        "the mission arrived"
    );
    // The sender's pill and status tell the crew.
    for _ in 0..40 {
        poll(&mut t);
        if t.ui
            .global::<app::HandoverAdapter>()
            .get_status()
            .contains("übergeben")
        {
            break;
        }
    }
    // The mission's history on its handover page names the receiving pad.
    {
        let mut c = t.ctrl.borrow_mut();
        c.goto(Page::Missions);
    }
    t.tap(&format!(
        "Einsatz {}",
        t.ui.global::<app::MissionsAdapter>()
            .get_missions()
            .row_data(0)
            .unwrap()
            .title
    ));
    t.tap("Übergabe/Transport");
    let hint = t.ui.global::<EditorAdapter>().get_hint().to_string();
    assert!(
        hint.contains("An anderes Gerät übergeben: NEF 3/82-1"),
        "{hint}"
    );
    assert!(
        t.ui.global::<app::HandoverAdapter>()
            .get_status()
            .contains("An NEF 3/82-1 übergeben"),
        "{}",
        t.ui.global::<app::HandoverAdapter>().get_status()
    );
}

#[test]
fn closing_seals_uploads_to_the_gateway_and_deletes_only_after_the_receipt() {
    let mut t = Ui::new();
    let gw_dir = tempfile::tempdir().unwrap();
    let gw = rettpad_gateway::local::start(gw_dir.path()).expect("local gateway");
    let upload = gw.upload.clone();
    t.ctrl
        .borrow_mut()
        .attach_upload(&upload, Some(Box::new(gw)));
    t.login();
    t.tap("Neuer Einsatz");
    let m = t.ctrl.borrow().mission().unwrap();
    t.type_into("Einsatznummer (Leitstelle)", "2026-4711");
    fill_what_closing_requires(&mut t);
    t.tap("Abschließen");
    t.tap("Einsatz jetzt abschließen");
    assert_eq!(t.page(), Page::Missions);
    // Sealed into the outbox at once (durable), then sent by the uploader.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while t.store.lock().state(m).is_some() {
        assert!(
            std::time::Instant::now() < deadline,
            "not uploaded: {} / {}",
            t.ui.global::<app::AppState>().get_upload_state(),
            t.ui.global::<app::AppState>().get_toast()
        );
        std::thread::sleep(Duration::from_millis(100));
        let mut c = t.ctrl.borrow_mut();
        c.tick();
        c.refresh(&t.ui);
    }
    use rettpad_transfer::outbox::OutboxPersist;
    assert!(t.store.lock().outbox_entries().unwrap().is_empty());
    for _ in 0..30 {
        let mut c = t.ctrl.borrow_mut();
        c.tick();
        c.refresh(&t.ui);
        drop(c);
        if t.ui
            .global::<app::AppState>()
            .get_upload_state()
            .contains("bestätigt")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        t.ui.global::<app::AppState>().get_upload_state(),
        "✓ 1 bestätigt"
    );
}

#[test]
fn printing_on_the_mobile_printer_sends_pcl_and_starts_the_audit() {
    use std::io::Read;
    let (mut master, slave) = serialport::TTYPort::pair().expect("pty pair");
    let path = serialport::SerialPort::name(&slave).expect("pty name");
    let mut cfg = Config::demo();
    if let Some(m) = cfg.printers.mobile.as_mut() {
        m.path = path;
    }
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        let _ = serialport::SerialPort::set_timeout(&mut master, Duration::from_millis(200));
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if let Ok(n) = master.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        }
    });
    let mut t = Ui::with_config(cfg);
    t.login();
    t.tap("Neuer Einsatz");
    let m = t.ctrl.borrow().mission().unwrap();
    t.tap("Übergabe/Transport");
    t.tap("Drucken");
    assert!(t.ui.global::<app::PrintAdapter>().get_visible());
    // The protocol renders on a worker; the printers wait for it, as a
    // person waits for the preview.
    assert!(t.ui.global::<app::PrintAdapter>().get_busy());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while t.ui.global::<app::PrintAdapter>().get_busy() {
        assert!(std::time::Instant::now() < deadline, "never rendered");
        std::thread::sleep(Duration::from_millis(20));
        let mut c = t.ctrl.borrow_mut();
        c.tick();
        c.refresh(&t.ui);
    }
    assert!(
        t.ui.global::<app::PrintAdapter>()
            .get_preview()
            .size()
            .width
            > 0,
        "page 1 previewed"
    );
    t.tap("Mobildrucker RTW (mobil)");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while t.ui.global::<app::PrintAdapter>().get_status() != "Gedruckt." {
        let status = t.ui.global::<app::PrintAdapter>().get_status();
        assert!(
            !t.ui.global::<app::PrintAdapter>().get_status_error(),
            "{status}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "not printed: {status}"
        );
        std::thread::sleep(Duration::from_millis(100));
        let mut c = t.ctrl.borrow_mut();
        c.tick();
        c.refresh(&t.ui);
    }
    let bytes = got.lock().unwrap().clone();
    assert!(bytes.starts_with(b"\x1bE"), "a PCL job starts with ESC E");
    let st = t.store.lock().state(m).cloned().unwrap();
    let h = st.handovers.last().expect("the print is recorded");
    assert_eq!(h.mode, HandoverMode::Printed);
    assert!(h.document_sha256.is_some());
    assert!(
        st.audited_since_ms.is_some(),
        "changes are audited from now on"
    );
    t.tap("Schließen");
    assert!(!t.ui.global::<app::PrintAdapter>().get_visible());
}

#[test]
fn live_page_shows_monitor_values_and_ecg_and_saves_a_strip_into_the_record() {
    let mut t = ui_taking_device_values_on_tap();
    // Config::demo pairs the in-process simulator over loopback TCP.
    t.ctrl.borrow_mut().attach_from_config();
    t.login();
    t.tap("Neuer Einsatz");
    let m = t.ctrl.borrow().mission().unwrap();
    t.tap("Geräte");
    assert_eq!(t.page(), Page::Live);
    fn lv(t: &Ui) -> app::LiveAdapter<'_> {
        t.ui.global::<app::LiveAdapter>()
    }
    // Real time: the simulator streams numerics each second and the ECG.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        {
            let mut c = t.ctrl.borrow_mut();
            c.tick();
            c.refresh(&t.ui);
        }
        let tiles = lv(&t).get_tiles();
        let hr = (0..tiles.row_count())
            .filter_map(|i| tiles.row_data(i))
            .find(|x| x.label == "HF");
        if let Some(hr) = hr
            && drawn(&lv(&t).get_ecg_segs()) > 1000
            && lv(&t).get_can_strip()
        {
            assert!(
                hr.value
                    .parse::<u32>()
                    .is_ok_and(|v| (30..250).contains(&v)),
                "{}",
                hr.value
            );
            assert!(hr.age.starts_with("vor "), "{}", hr.age);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no live values");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(lv(&t).get_state().contains("verbunden"));
    assert_eq!(lv(&t).get_lead(), "II");
    // The default wave list brings pleth and the capnogram (to scale).
    assert!(drawn(&lv(&t).get_pleth_segs()) > 100);
    assert!(drawn(&lv(&t).get_co2_segs()) > 100);
    assert_eq!(lv(&t).get_co2_scale(), "CO₂ 0–50 mmHg · 12 s");
    assert_eq!(lv(&t).get_ecg_height(), 150.0);
    // Before 10 s of ECG arrived a strip is refused, never padded.
    let strips = |t: &Ui| {
        t.store
            .lock()
            .state(m)
            .unwrap()
            .active_patients()
            .next()
            .map_or(0, |p| p.strips.len())
    };
    loop {
        t.tap("EKG-Streifen speichern");
        if strips(&t) == 1 {
            break;
        }
        assert!(t.ui.global::<app::AppState>().get_toast_error());
        assert!(std::time::Instant::now() < deadline, "no 10 s strip");
        std::thread::sleep(Duration::from_millis(500));
        let mut c = t.ctrl.borrow_mut();
        c.tick();
        c.refresh(&t.ui);
    }
    let st = t.store.lock().state(m).cloned().unwrap();
    let p = st.active_patients().next().unwrap();
    let r = &p.strips[0];
    assert_eq!(r.duration_ms, 10_000);
    // The monitor exports the limb leads I, II, III by default.
    assert_eq!(r.leads, ["I", "II", "III"].map(String::from));
    // The strip itself is in the vault, encrypted, and decodes.
    let strip = t.store.lock().strip(m, &r.hash).unwrap().expect("stored");
    assert_eq!(strip.sample_rate_hz, 500);
    assert_eq!(strip.leads.len(), 3);
    assert!(strip.leads.iter().all(|l| l.samples.len() == 5_000));
    assert!(lv(&t).get_strips().contains("EKG-Streifen"));
    // "Vitalwerte übernehmen" writes one vitals entry; "Zurück" returns.
    t.tap("Vitalwerte übernehmen");
    let st = t.store.lock().state(m).cloned().unwrap();
    assert_eq!(
        st.entries
            .values()
            .filter(|e| e.collection == rettpad_record::Collection::Vitals)
            .count(),
        1
    );
    t.tap("Zurück");
    assert_eq!(t.page(), Page::Editor);

    // A device alarm shows as a banner with the device's text.
    use rettpad_devices::obs::{
        AlarmPriority, DeviceEvent, EventKind, HostTime, Observation, Timestamps,
    };
    use rettpad_devices::supervisor::SupEvent;
    t.tap("Geräte");
    assert_eq!(lv(&t).get_alarm(), "");
    let wall_ms = t.clock.wall_ms();
    t.ctrl
        .borrow_mut()
        .device_event(SupEvent::Observation(Observation::Event(DeviceEvent {
            kind: EventKind::Alarm {
                code: 1,
                source: 2,
                priority: AlarmPriority::High,
                physiological: Some(true),
                text: "***VFIB/VTACH".into(),
            },
            time: Timestamps {
                device: None,
                host: HostTime {
                    wall_ms,
                    mono_ms: 0,
                },
                seq: None,
            },
        })));
    t.ctrl.borrow_mut().refresh(&t.ui);
    let a = lv(&t).get_alarm().to_string();
    assert!(
        a.contains("***VFIB/VTACH") && a.contains("hohe Priorität"),
        "{a}"
    );
    assert!(lv(&t).get_alarm_high());
    // Two minutes later the banner is gone.
    t.clock.advance(Duration::from_secs(121));
    t.ctrl.borrow_mut().refresh(&t.ui);
    assert_eq!(lv(&t).get_alarm(), "");
}

#[test]
fn monitor_values_go_into_the_record_by_themselves_unless_set_to_tap_only() {
    let mut t = Ui::new(); // the demo default: the first set, then every 5 min
    t.ctrl.borrow_mut().attach_from_config();
    t.login();
    t.tap("Neuer Einsatz");
    t.taps = 0;
    let device_sets = |t: &Ui, m| {
        t.store
            .lock()
            .state(m)
            .unwrap()
            .entries
            .values()
            .filter(|e| e.collection == rettpad_record::Collection::Vitals)
            .filter(|e| {
                matches!(
                    e.get(keys::vitals::HR),
                    Some(Value::Measured(rettpad_record::Measured {
                        source: rettpad_record::ValueSource::Device { .. },
                        ..
                    }))
                )
            })
            .count()
    };
    // The test clock stands in for the time that passes (the importer lets
    // a batch settle before it writes).
    let run = |t: &mut Ui, secs: u64| {
        for _ in 0..secs * 5 {
            std::thread::sleep(Duration::from_millis(200));
            t.clock.advance(Duration::from_millis(200));
            let mut c = t.ctrl.borrow_mut();
            c.tick();
            c.refresh(&t.ui);
        }
    };
    let m1 = t.ctrl.borrow().mission().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while device_sets(&t, m1) == 0 {
        assert!(std::time::Instant::now() < deadline, "no set by itself");
        run(&mut t, 1);
    }
    assert_eq!(t.taps, 0, "the first set needs no tap");
    // Within the 5 minutes of monitor time: no second set.
    run(&mut t, 3);
    assert_eq!(device_sets(&t, m1), 1);
    // "nur auf Tippen": a new mission gets no set by itself.
    t.ui.global::<app::AppState>().invoke_open_settings();
    t.tap("nur auf Tippen");
    t.tap("Zurück");
    assert_eq!(t.page(), Page::Editor);
    t.ui.global::<app::AppState>().invoke_back();
    assert_eq!(t.page(), Page::Missions);
    t.tap("Neuer Einsatz");
    let m2 = t.ctrl.borrow().mission().unwrap();
    assert_ne!(m1, m2);
    run(&mut t, 5);
    assert_eq!(device_sets(&t, m2), 0);
    t.tap("Messwerte");
    t.tap("Vom Monitor übernehmen");
    assert_eq!(device_sets(&t, m2), 1);
}

#[test]
fn a_datex_monitor_in_the_demo_shows_live_values_and_its_ecg() {
    let mut cfg = Config::demo();
    cfg.device_record_every_min = 0;
    cfg.devices = vec![rettpad_devices::DeviceConfig {
        label: "S/5".into(),
        protocol: rettpad_devices::pairing::DeviceProtocol::Datex,
        link: rettpad_devices::DeviceLink::Sim,
        serial: None,
        model: Some("S/5".into()),
        ..cfg.devices[0].clone()
    }];
    let mut t = Ui::with_config(cfg);
    t.ctrl.borrow_mut().attach_from_config();
    t.login();
    t.tap("Neuer Einsatz");
    let m = t.ctrl.borrow().mission().unwrap();
    t.tap("Geräte");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        {
            let mut c = t.ctrl.borrow_mut();
            c.tick();
            c.refresh(&t.ui);
        }
        let lv = t.ui.global::<app::LiveAdapter>();
        let tiles = lv.get_tiles();
        let has_hr = (0..tiles.row_count())
            .filter_map(|i| tiles.row_data(i))
            .any(|x| x.label == "HF" && x.value.parse::<u32>().is_ok());
        if has_hr
            && lv.get_lead() == "ECG1"
            && drawn(&lv.get_ecg_segs()) > 500
            && drawn(&lv.get_co2_segs()) > 100
            && lv.get_can_take()
        {
            // The S/5 sends CO2 as a fraction: the box is scaled in %.
            assert_eq!(lv.get_co2_scale(), "CO₂ 0–6,6 % · 12 s");
            assert!(drawn(&lv.get_pleth_segs()) > 100);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no live Datex values: {}",
            lv.get_state()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    t.tap("Vitalwerte übernehmen");
    let st = t.store.lock().state(m).cloned().unwrap();
    let e = st
        .entries
        .values()
        .find(|e| e.collection == rettpad_record::Collection::Vitals)
        .unwrap_or_else(|| {
            panic!(
                "no vitals entry: {}",
                t.ui.global::<app::AppState>().get_toast()
            )
        });
    assert!(matches!(
        e.get(keys::vitals::HR),
        Some(Value::Measured(rettpad_record::Measured {
            source: rettpad_record::ValueSource::Device { .. },
            ..
        }))
    ));
}

/// The window at a size, as a smaller tablet or a window would give it.
fn resize(t: &Ui, w: u32, h: u32) {
    t.ui.window().set_size(slint::PhysicalSize::new(w, h));
    slint::platform::update_timers_and_animations();
}

#[test]
fn the_save_notice_goes_away_after_three_seconds_and_comes_back_on_the_next_save() {
    use i_slint_backend_testing::mock_elapsed_time;
    let mut t = Ui::new();
    t.login();
    t.tap("Neuer Einsatz");
    let notice = |t: &Ui| {
        ElementHandle::find_by_accessible_label(&t.ui, "Hinweis")
            .next()
            .and_then(|e| e.accessible_value())
    };
    // Opening the mission was saved: that notice too leaves.
    mock_elapsed_time(Duration::from_millis(3_100));
    assert_eq!(notice(&t), None);
    t.tap("Alarmierung: Jetzt");
    assert_eq!(notice(&t).as_deref(), Some("gespeichert"));
    mock_elapsed_time(Duration::from_millis(2_500));
    assert!(notice(&t).is_some(), "still there after 2.5 s");
    // The once-a-second refresh does not bring it back.
    t.ctrl.borrow_mut().refresh(&t.ui);
    mock_elapsed_time(Duration::from_millis(600));
    assert_eq!(notice(&t), None, "gone after 3 s");
    t.ctrl.borrow_mut().refresh(&t.ui);
    mock_elapsed_time(Duration::from_millis(100));
    assert_eq!(notice(&t), None, "a refresh without a save keeps it gone");
    // The next save shows it again, for 3 s from then.
    t.tap("Ausrücken (Status 3): Jetzt");
    assert_eq!(notice(&t).as_deref(), Some("gespeichert"));
    mock_elapsed_time(Duration::from_millis(2_000));
    t.tap("Ankunft Einsatzort (Status 4): Jetzt");
    mock_elapsed_time(Duration::from_millis(2_000));
    assert!(notice(&t).is_some(), "restarted by the later save");
    mock_elapsed_time(Duration::from_millis(1_100));
    assert_eq!(notice(&t), None);
}

#[test]
fn the_status_bar_keeps_crew_call_sign_and_pills_whole_at_1024x600() {
    let mut t = Ui::new();
    resize(&t, 1024, 600);
    t.pin("1234");
    t.type_into("Name 1", "Anna Berger");
    t.type_into("Personalnummer 1", "4711");
    t.tap("+ Person");
    t.type_into("Name 2", "Jonas Keller");
    t.type_into("Personalnummer 2", "4712");
    t.tap("Schicht beginnen");
    t.tap("Neuer Einsatz");
    t.tap("Alarmierung: Jetzt");
    let bar_items = [
        "Karte",
        "Geräte",
        "Upload",
        "Übergabe",
        "Einstellungen",
        "Sperren",
    ];
    let mut right_edges = Vec::new();
    for label in bar_items {
        let e = t
            .find(label)
            .unwrap_or_else(|| panic!("{label} in the bar"));
        let (p, s) = (e.absolute_position(), e.size());
        assert!(s.width >= 88.0, "{label}: {s:?}");
        assert!(
            p.x >= 0.0 && p.x + s.width <= 1024.0,
            "{label} inside the window: {p:?} {s:?}"
        );
        assert!(p.y + s.height <= 88.0 + 1.0, "{label} in the bar");
        right_edges.push((p.x, p.x + s.width));
    }
    for w in right_edges.windows(2) {
        assert!(w[0].1 <= w[1].0, "bar items overlap: {right_edges:?}");
    }
    // The crew and call sign keep the rest of the bar: at least 150 px.
    let first_pill = right_edges[0].0;
    assert!(
        first_pill >= 12.0 + 80.0 + 150.0,
        "crew column too narrow: {first_pill}"
    );
    // The dispatch channel's state fits under the clock, left of the pills
    // (the text `msg::dispatch_state` makes when the link is down).
    let app = t.ui.global::<app::AppState>();
    app.set_dispatch_state("Leitstelle\ngetrennt 14:02".into());
    app.set_dispatch_connected(false);
    slint::platform::update_timers_and_animations();
    let e = ElementHandle::find_by_accessible_label(&t.ui, "Leitstelle\ngetrennt 14:02")
        .next()
        .expect("the dispatch line in the bar");
    let (p, s) = (e.absolute_position(), e.size());
    assert!(p.y >= 0.0 && p.y + s.height <= 88.0 + 1.0, "{p:?} {s:?}");
    assert!(p.x + s.width <= first_pill, "{p:?} {s:?}");
}

/// The element is wholly inside a `w`×`h` window.
fn on_screen(t: &Ui, label: &str, w: f32, h: f32) {
    let e = t
        .find(label)
        .unwrap_or_else(|| panic!("{label} on page {:?}", t.page()));
    let (p, s) = (e.absolute_position(), e.size());
    assert!(
        p.x >= 0.0 && p.y >= 0.0 && p.x + s.width <= w + 0.5 && p.y + s.height <= h + 0.5,
        "{label} cut off at {w}x{h}: {p:?} {s:?}"
    );
    assert!(
        s.width >= 80.0 && s.height >= 80.0,
        "{label} smaller than a gloved finger: {s:?}"
    );
}

/// Lock keypad, the protocol's section list and time steps, and the value
/// keypad are whole and touch-sized at `w`×`h`.
fn essentials_fit(w: u32, h: u32) {
    {
        let mut t = Ui::new();
        resize(&t, w, h);
        let (wf, hf) = (w as f32, h as f32);
        for k in ["PIN 0", "PIN löschen", "PIN bestätigen"] {
            on_screen(&t, k, wf, hf);
        }
        t.login();
        t.tap("Neuer Einsatz");
        on_screen(&t, "Abschließen", wf, hf);
        on_screen(&t, "Alarmierung: +5", wf, hf);
        t.tap("Messwerte");
        t.tap("Neue Messung");
        for k in ["Taste 0", "Taste löschen", "Abbrechen", "Weiter", "Fertig"] {
            on_screen(&t, k, wf, hf);
        }
        t.tap("Abbrechen");
        t.tap("Sperren");
        assert_eq!(t.page(), Page::Lock, "the lock button works at {w}x{h}");
    }
}

#[test]
fn the_pin_keypad_and_the_protocol_buttons_stay_on_a_1024x600_screen() {
    essentials_fit(1024, 600);
}

#[test]
fn the_pin_keypad_and_the_protocol_buttons_stay_on_a_1366x768_screen() {
    essentials_fit(1366, 768);
}

/// The focused text field is wholly above the on-screen keyboard.
fn field_above_keyboard(t: &Ui, label: &str) {
    let field = ElementHandle::find_by_accessible_label(&t.ui, label)
        .find(|e| e.accessible_role() == Some(AccessibleRole::TextInput))
        .unwrap_or_else(|| panic!("no text input {label:?}"));
    let kb = ElementHandle::find_by_accessible_label(&t.ui, "Bildschirmtastatur")
        .next()
        .expect("keyboard shown");
    let bottom = field.absolute_position().y + field.size().height;
    assert!(
        field.absolute_position().y >= 88.0 && bottom <= kb.absolute_position().y + 0.5,
        "{label} at {:?}+{:?} hidden by the keyboard at {:?}",
        field.absolute_position(),
        field.size(),
        kb.absolute_position()
    );
    // Nothing of the page's head lies over it (the list scrolls below it).
    if let Some(head) = t.find("+ Patient") {
        let head_bottom = head.absolute_position().y + head.size().height;
        assert!(
            head_bottom <= field.absolute_position().y + 0.5,
            "{label} scrolled under the page head ({head_bottom} > {:?})",
            field.absolute_position()
        );
    }
    for k in ["Tastatur a", "Tastatur Eingabe", "Tastatur 1"] {
        if let Some(e) = t.find(k) {
            let s = e.size();
            assert!(
                s.width >= 88.0 - 0.5 && s.height >= 88.0 - 0.5,
                "{k}: {s:?}"
            );
        }
    }
}

fn on_screen_keyboard_reaches_the_vault(w: u32, h: u32) {
    let mut t = Ui::new();
    resize(&t, w, h);
    t.pin("1234");
    assert!(!t.osk_visible(), "no keyboard without a focused field");
    // The crew's name on the on-screen keyboard, the number on the hardware one.
    t.focus("Name 1");
    assert!(t.osk_visible(), "a focused field brings the keyboard");
    field_above_keyboard(&t, "Name 1");
    t.osk_type("Jörg Weiß");
    t.key(slint::platform::Key::Tab);
    t.keys("4711");
    t.tap("Schicht beginnen");
    assert_eq!(t.page(), Page::Missions);
    assert_eq!(t.ui.global::<app::AppState>().get_crew_text(), "Jörg Weiß");
    t.tap("Neuer Einsatz");
    t.focus("Einsatznummer (Leitstelle)");
    assert!(
        t.find("Tastatur 1").is_some(),
        "digits for the mission number"
    );
    assert!(t.find("Tastatur q").is_none());
    field_above_keyboard(&t, "Einsatznummer (Leitstelle)");
    t.osk_type("2026-112233");
    t.tap("Tastatur Eingabe");
    assert!(!t.osk_visible(), "Enter commits and the keyboard goes");
    t.tap("Patient");
    t.focus("Name");
    field_above_keyboard(&t, "Name");
    t.osk_type("Müller-Lüdenscheidt");
    t.tap("Tastatur Eingabe");
    assert!(!t.osk_visible());
    t.focus("Geburtsdatum");
    assert!(t.find("Tastatur 1").is_some(), "digits for a date");
    field_above_keyboard(&t, "Geburtsdatum");
    t.osk_type("12.08.1950");
    assert_eq!(
        t.ui.global::<app::OskAdapter>().get_text(),
        "12.08.1950",
        "the dots came by themselves"
    );
    t.tap("Tastatur Eingabe");
    let st = t.state();
    let p = st.active_patients().next().expect("a patient");
    assert_eq!(
        p.get(keys::patient::FAMILY_NAME),
        Some(&Value::Text("Müller-Lüdenscheidt".into()))
    );
    assert_eq!(t.field(keys::patient::BIRTH_DATE).value, "12.08.1950");
    assert!(
        p.get(keys::patient::BIRTH_DATE).is_some(),
        "the date is in the record"
    );
    assert_eq!(
        st.get(keys::mission::NUMBER),
        Some(&Value::Text("2026-112233".into()))
    );
    // A known hospital from two letters and a suggestion.
    t.tap("Übergabe/Transport");
    t.focus("Zielklinik");
    t.osk_type("Kl");
    t.tap("Tastatur Vorschlag Klinikum Mitte, ZNA");
    assert!(!t.osk_visible());
    let st = t.state();
    let p = st.active_patients().next().expect("a patient");
    assert_eq!(
        p.get(keys::transport::HOSPITAL),
        Some(&Value::Text("Klinikum Mitte, ZNA".into()))
    );
}

#[test]
fn the_on_screen_keyboard_types_names_a_date_and_a_mission_number_into_the_vault() {
    on_screen_keyboard_reaches_the_vault(1280, 800);
}

#[test]
fn the_on_screen_keyboard_leaves_the_field_visible_at_1024x600() {
    on_screen_keyboard_reaches_the_vault(1024, 600);
}

#[test]
fn the_on_screen_keyboard_suggests_the_card_names_and_starts_a_reused_field_empty() {
    let mut t = Ui::new();
    t.ctrl.borrow_mut().attach_sim_card();
    t.login();
    t.tap("Neuer Einsatz");
    t.tap("Patient");
    let card = rettpad_card::sim::sample_egk_data();
    let family = card.person.full_family_name();
    // Read, then not taken over: the crew types, the pad suggests.
    t.tap("Karte");
    t.tap("Verwerfen");
    t.focus("Name");
    let osk = t.ui.global::<app::OskAdapter>();
    let suggestions: Vec<String> = osk
        .get_suggestions()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(
        suggestions.contains(&family),
        "{family:?} in {suggestions:?}"
    );
    t.tap(&format!("Tastatur Vorschlag {family}"));
    assert_eq!(t.field(keys::patient::FAMILY_NAME).value, family.as_str());
    // A birth date typed here; on the next page the row that showed it is
    // another field and starts empty.
    t.focus("Geburtsdatum");
    t.osk_type("01.02.1960");
    t.tap("Tastatur Eingabe");
    t.tap("Übergabe/Transport");
    t.focus("Zielklinik");
    assert_eq!(
        t.ui.global::<app::OskAdapter>().get_text(),
        "",
        "no text left over from the patient page"
    );
}

/// A configuration the pad cannot run with shows on the lock screen, in the
/// crew's language, with no PIN pad behind it.
#[test]
fn a_bad_configuration_shows_on_the_lock_screen_without_a_pin_pad() {
    i_slint_backend_testing::init_no_event_loop();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pad.toml");
    std::fs::write(
        &path,
        "device_serial = \"P1\"\ncall_sign = \"x\"\ncard_reader = \"usb\"\n",
    )
    .unwrap();
    let e = Config::load(&path).expect_err("an unknown card reader is refused");
    let log = e.to_string();
    assert!(
        log.contains("pad.toml") && log.contains("card_reader"),
        "{log}"
    );
    assert!(
        log.contains("`pcsc`"),
        "the log names the allowed values: {log}"
    );

    let ui = rettpad_ui::fault_window(&e, rettpad_text::Lang::De).unwrap();
    let lock = ui.global::<app::LockAdapter>();
    assert!(lock.get_fault());
    assert!(lock.get_message_error());
    assert!(
        lock.get_message()
            .contains("Geräte-Konfiguration ist fehlerhaft"),
        "{}",
        lock.get_message()
    );
    assert_eq!(
        ui.global::<app::AppState>().get_page(),
        rettpad_ui::Page::Lock.id()
    );
    let found = |label: &str| ElementHandle::find_by_accessible_label(&ui, label).count();
    assert_eq!(
        found("PIN bestätigen"),
        0,
        "no PIN pad on a pad that cannot start"
    );
    assert_eq!(found("PIN 1"), 0);

    let en = rettpad_ui::fault_window(&e, rettpad_text::Lang::En).unwrap();
    let msg = en.global::<app::LockAdapter>().get_message();
    assert!(msg.contains("configuration is faulty"), "{msg}");
    // Back to German for the other tests of this process.
    drop(rettpad_ui::fault_window(&e, rettpad_text::Lang::De).unwrap());
}

/// Quick entry writes into the patient's first entries (the Erstbefund
/// stays the Erstbefund when a later finding exists), and its presets are
/// toggles: a second tap takes the drug back (retracted, in the audit
/// trail) and clears the GCS it set.
#[test]
fn quick_entry_edits_the_first_entries_and_its_presets_toggle() {
    let mut t = Ui::new();
    t.login();
    t.tap("Neuer Einsatz");
    let p = t.ctrl.borrow().patient().unwrap();
    // A first and a second finding on their page.
    t.tap("Befund");
    t.tap("GCS 15");
    t.tap("Neuer Befund");
    t.tap("Schmerz (NRS 0–10): 3");
    let findings = |t: &Ui| -> Vec<rettpad_record::state::EntryState> {
        t.state()
            .entries_of(p, rettpad_record::Collection::Finding)
            .cloned()
            .collect()
    };
    assert_eq!(findings(&t).len(), 2);
    t.tap("Kurzerfassung");
    assert!(
        t.field(keys::finding::PAIN_NRS).value.is_empty(),
        "the Erstbefund has no NRS"
    );
    t.tap("Schmerz (NRS 0–10): 6");
    let f = findings(&t);
    assert_eq!(f[0].get(keys::finding::PAIN_NRS), Some(&Value::Int(6)));
    assert_eq!(f[1].get(keys::finding::PAIN_NRS), Some(&Value::Int(3)));
    // GCS 15 is documented in the Erstbefund: a tap takes it back.
    let gcs = |t: &Ui| {
        let o = t.field("preset:1").options;
        (0..o.row_count())
            .filter_map(|i| o.row_data(i))
            .find(|o| o.label == "GCS 15")
            .unwrap()
            .selected
    };
    assert!(gcs(&t));
    t.tap("Befund: GCS 15");
    assert!(!gcs(&t));
    assert_eq!(findings(&t)[0].get(keys::finding::GCS_EYES), None);
    assert_eq!(findings(&t).len(), 2, "no finding added or retracted");
    t.tap("Befund: GCS 15");
    assert_eq!(
        findings(&t)[0].get(keys::finding::GCS_EYES),
        Some(&Value::code("4"))
    );
    // A drug: a tap gives it, the next takes it back.
    t.tap("Medikamente: ASS 250 mg i.v.");
    let meds = |t: &Ui| {
        t.state()
            .entries_of(p, rettpad_record::Collection::Medication)
            .count()
    };
    assert_eq!(meds(&t), 1);
    t.tap("Medikamente: ASS 250 mg i.v.");
    assert_eq!(meds(&t), 0);
    let st = t.state();
    let retracted = st
        .entries
        .values()
        .filter(|e| e.collection == rettpad_record::Collection::Medication)
        .filter(|e| e.retracted.is_some())
        .count();
    assert_eq!(retracted, 1, "taken back, not deleted");
    // The tracer also sets its group, as on its own page.
    t.tap("Tracerdiagnose: ACS/STEMI");
    let dx = t
        .state()
        .entries_of(p, rettpad_record::Collection::Diagnosis)
        .next()
        .cloned()
        .unwrap();
    assert_eq!(dx.get(keys::diagnosis::GROUP), Some(&Value::code("02")));
}

/// Issue 15: the crew from the provisioned staff list, by personnel number
/// or name, qualification prefilled; fewer taps and characters than by
/// hand. A member typed by hand is marked as such, in the UI and the shift.
#[test]
fn shift_login_from_the_staff_list_takes_fewer_taps_and_marks_manual_entries() {
    use rettpad_provision::keys::RootKey;
    use rettpad_provision::package::PartName;
    let (root, _) = RootKey::generate().unwrap();
    let staff = "[[staff]]\nnumber = \"4711\"\nname = \"Anna Berger\"\nqualification = \"notsan\"\n\
                 [[staff]]\nnumber = \"4712\"\nname = \"Jonas Keller\"\nqualification = \"rettsan\"\n\
                 [[staff]]\nnumber = \"5001\"\nname = \"Jörg Weiß\"\nqualification = \"notarzt\"\n";
    let package = package_of(&root, PartName::Staff, 1, staff);
    let mut cfg = Config::demo();
    cfg.fleet = Some(root.trust("rd-test"));
    let mut t = Ui::with_config(cfg);

    // By hand, as today.
    t.pin("1234");
    t.taps = 0;
    t.typed = 0;
    t.type_into("Name 1", "Anna Berger");
    t.type_into("Personalnummer 1", "4711");
    t.tap("+ Person");
    t.type_into("Name 2", "Jonas Keller");
    t.type_into("Personalnummer 2", "4712");
    t.tap("Qualifikation 2: Rettungssanitäter/-in");
    t.tap("Schicht beginnen");
    assert_eq!(t.page(), Page::Missions);
    let by_hand = (t.taps, t.typed);
    t.tap("Schicht beenden");
    assert_eq!(t.page(), Page::Login);
    let crew = t.ui.global::<app::LoginAdapter>().get_crew();
    assert_eq!(crew.row_count(), 1);
    assert_eq!(
        crew.row_data(0).unwrap().name,
        "",
        "no names of the last crew"
    );

    // From the list.
    rettpad_pad::fleet::apply_package(
        &t.store,
        Some(&root.trust("rd-test")),
        "DEMO-PAD-0001",
        &package,
        T0,
    )
    .unwrap();
    t.ctrl.borrow_mut().refresh(&t.ui);
    t.taps = 0;
    t.typed = 0;
    t.type_into("Personalliste durchsuchen", "4711");
    t.tap("Übernehmen Anna Berger · 4711 · Notfallsanitäter/-in");
    t.type_into("Personalliste durchsuchen", "kel");
    t.tap("Übernehmen Jonas Keller · 4712 · Rettungssanitäter/-in");
    let crew = t.ui.global::<app::LoginAdapter>().get_crew();
    let rows: Vec<_> = (0..crew.row_count())
        .filter_map(|i| crew.row_data(i))
        .collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.listed));
    assert_eq!(rows[1].qualification, 3, "RettSan prefilled");
    // With "Schicht beginnen", as by hand.
    let listed = (t.taps + 1, t.typed);
    // A third member by hand: marked.
    t.tap("+ Person");
    t.type_into("Name 3", "Lea Sommer");
    t.type_into("Personalnummer 3", "9999");
    let crew = t.ui.global::<app::LoginAdapter>().get_crew();
    assert!(!crew.row_data(2).unwrap().listed);
    // The page says so beside the row.
    assert!(
        ElementHandle::find_by_accessible_label(&t.ui, "manuell eingetragen")
            .next()
            .is_some()
    );
    t.tap("Schicht beginnen");
    assert_eq!(t.page(), Page::Missions);
    // The shift as the vault keeps it.
    let json = t.store.lock().meta_get("session.shift").unwrap().unwrap();
    let shift: rettpad_pad::session::Shift = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        shift.crew.iter().map(|m| m.listed).collect::<Vec<_>>(),
        [true, true, false]
    );
    println!(
        "SHIFT LOGIN (two crew members): by hand {} taps, {} typed characters; from the staff list {} taps, {} typed characters",
        by_hand.0, by_hand.1, listed.0, listed.1
    );
    assert!(
        listed.0 < by_hand.0 && listed.1 < by_hand.1,
        "{listed:?} vs {by_hand:?}"
    );
}

/// Issue 15: a refused package says why on the settings page, in German;
/// what is installed is listed there too.
#[test]
fn the_settings_page_shows_what_is_installed_and_the_last_refusal() {
    use rettpad_provision::keys::RootKey;
    use rettpad_provision::package::PartName;
    let signed_by = |root: &RootKey| {
        package_of(
            root,
            PartName::Staff,
            2,
            "[[staff]]\nnumber = \"1\"\nname = \"A B\"\nqualification = \"notsan\"\n",
        )
    };
    let (root, _) = RootKey::generate().unwrap();
    let (stranger, _) = RootKey::generate().unwrap();
    let mut cfg = Config::demo();
    cfg.fleet = Some(root.trust("rd-test"));
    let mut t = Ui::with_config(cfg);
    t.login();
    let settings = |t: &mut Ui| {
        t.ctrl.borrow_mut().goto(Page::Settings);
        t.ctrl.borrow_mut().refresh(&t.ui);
        let s = t.ui.global::<app::SettingsAdapter>();
        (
            s.get_fleet_text().to_string(),
            s.get_fleet_refusal().to_string(),
        )
    };
    let (text, refusal) = settings(&mut t);
    assert_eq!(text, "Organisation rd-test: noch kein Paket installiert.");
    assert_eq!(refusal, "");
    let trust = root.trust("rd-test");
    assert!(
        rettpad_pad::fleet::apply_package(
            &t.store,
            Some(&trust),
            "DEMO-PAD-0001",
            &signed_by(&stranger),
            T0
        )
        .is_err()
    );
    let (_, refusal) = settings(&mut t);
    assert!(refusal.starts_with("Zuletzt abgelehnt ("), "{refusal}");
    assert!(refusal.contains("Die Signatur ist ungültig"), "{refusal}");
    assert!(
        refusal.ends_with("Die bisherige Konfiguration bleibt unverändert."),
        "{refusal}"
    );
    rettpad_pad::fleet::apply_package(
        &t.store,
        Some(&trust),
        "DEMO-PAD-0001",
        &signed_by(&root),
        T0,
    )
    .unwrap();
    let (text, _) = settings(&mut t);
    assert_eq!(text, "Organisation rd-test: installiert staff 2.");
}

/// Issue 15: provisioned presets replace the built-in ones in the editor.
#[test]
fn provisioned_presets_replace_the_built_in_ones() {
    use rettpad_provision::keys::RootKey;
    use rettpad_provision::package::PartName;
    let (root, _) = RootKey::generate().unwrap();
    let catalog = format!(
        "[[presets]]\ncollection = \"medication\"\nde = \"Morphin 5 mg i.v.\"\nen = \"Morphine 5 mg IV\"\n\
         fields = [{{ key = \"{}\", kind = \"text\", value = \"Morphin\" }}, \
         {{ key = \"{}\", kind = \"number\", value = \"5\" }}]\n",
        keys::med::SUBSTANCE,
        keys::med::DOSE
    );
    let package = package_of(&root, PartName::Catalog, 1, &catalog);
    let mut cfg = Config::demo();
    cfg.fleet = Some(root.trust("rd-test"));
    let mut t = Ui::with_config(cfg);
    rettpad_pad::fleet::apply_package(
        &t.store,
        Some(&root.trust("rd-test")),
        "DEMO-PAD-0001",
        &package,
        T0,
    )
    .unwrap();
    t.login();
    t.tap("Neuer Einsatz");
    t.tap("Medikamente");
    assert!(
        t.find("ASS 250 mg i.v.").is_none(),
        "the built-in presets are replaced"
    );
    t.tap("Morphin 5 mg i.v.");
    let p = t.ctrl.borrow().patient().unwrap();
    let st = t.state();
    let med = st
        .entries_of(p, rettpad_record::Collection::Medication)
        .next()
        .unwrap();
    assert_eq!(
        med.get(keys::med::SUBSTANCE),
        Some(&Value::Text("Morphin".into()))
    );
}

/// A package of one part, signed by a new signing key of `root`'s
/// organisation "rd-test" (issue 15's tests).
fn package_of(
    root: &rettpad_provision::keys::RootKey,
    part: rettpad_provision::package::PartName,
    version: u64,
    toml: &str,
) -> Vec<u8> {
    use rettpad_provision::keys::Purpose;
    use rettpad_provision::package::{Builder, Target};
    let key = root
        .new_signing_key("rd-test", vec![Purpose::Packages], T0 - 1, T0 + 86_400_000)
        .unwrap()
        .key;
    Builder::new("rd-test", Target::All, T0)
        .part(
            part,
            version,
            rettpad_provision::parts::from_toml(part, toml).unwrap(),
        )
        .sign(&key)
        .unwrap()
}
