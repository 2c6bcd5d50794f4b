//! The on-screen keyboard's Rust side: its keys become real key events on
//! the window, so they reach the focused text field exactly as a hardware
//! keyboard's do (Enter still commits through the field's `accepted`), and
//! it suggests words the pad already knows for the focused field.

use super::{AppState, AppWindow, CardAdapter, LoginAdapter, OskAdapter};
use rettpad_pad::typing::{date_wants_dot, matching};
use rettpad_record::{catalog, keys};
use slint::platform::{Key, WindowEvent};
use slint::{ComponentHandle, Model, ModelRc, SharedString, VecModel};
use std::rc::Rc;

/// Words the pad knows before anyone types: the configured hospitals and
/// the substances of the medication presets.
#[derive(Clone, Debug, Default)]
pub struct Words {
    pub hospitals: Vec<String>,
    pub substances: Vec<String>,
}

impl Words {
    pub fn new(hospitals: &[String]) -> Words {
        let mut substances: Vec<String> = crate::presets::PRESETS
            .iter()
            .flat_map(|p| p.fields.iter())
            .filter(|(k, _)| *k == keys::med::SUBSTANCE)
            .filter_map(|(_, v)| match v {
                crate::presets::PresetValue::Text(s) => Some((*s).to_string()),
                _ => None,
            })
            .collect();
        substances.dedup();
        Words {
            hospitals: hospitals.to_vec(),
            substances,
        }
    }
}

/// Wires the keyboard's callbacks; call once after the window is built.
/// The keyboard layout a field opens with: digits for dates and the
/// mission number, letters for everything else.
pub fn layout_for(d: &catalog::FieldDef) -> &'static str {
    match d.kind {
        catalog::Kind::Date => "date",
        _ if d.key == keys::mission::NUMBER => "number",
        _ => "text",
    }
}

pub fn attach(ui: &AppWindow, words: Words) {
    let osk = ui.global::<OskAdapter>();
    let words = Rc::new(words);
    let (weak, known) = (ui.as_weak(), words.clone());
    osk.on_key(move |k| {
        if let Some(ui) = weak.upgrade() {
            key(&ui, &k);
            suggest_for(&ui, &words_for(&ui, &known));
        }
    });
    let weak = ui.as_weak();
    osk.on_suggest(move |s| {
        if let Some(ui) = weak.upgrade() {
            replace_and_commit(&ui, &s);
        }
    });
    let weak = ui.as_weak();
    osk.on_focused(move || {
        if let Some(ui) = weak.upgrade() {
            suggest_for(&ui, &words_for(&ui, &words));
        }
    });
}

fn press(ui: &AppWindow, text: SharedString) {
    let osk = ui.global::<OskAdapter>();
    // Marked as ours, so the window does not take them for a hardware keyboard.
    osk.set_dispatching(true);
    let w = ui.window();
    w.dispatch_event(WindowEvent::KeyPressed { text: text.clone() });
    w.dispatch_event(WindowEvent::KeyReleased { text });
    osk.set_dispatching(false);
}

/// One key of the on-screen keyboard, as key events on the window.
pub fn key(ui: &AppWindow, k: &str) {
    let osk = ui.global::<OskAdapter>();
    let date = osk.get_layout() == "date" && !osk.get_letters_override();
    match k {
        "back" => press(ui, Key::Backspace.into()),
        "enter" => press(ui, Key::Return.into()),
        _ => {
            let digit = k.len() == 1 && k.as_bytes()[0].is_ascii_digit();
            if date && digit && date_wants_dot(&osk.get_text()) {
                press(ui, ".".into());
            }
            press(ui, k.into());
            // The field's `edited` handler has updated the text by now.
            if date && digit && date_wants_dot(&osk.get_text()) {
                press(ui, ".".into());
            }
        }
    }
}

/// A suggestion replaces what the field holds and is committed with Enter.
fn replace_and_commit(ui: &AppWindow, s: &str) {
    let osk = ui.global::<OskAdapter>();
    press(ui, Key::End.into());
    for _ in 0..osk.get_text().chars().count() {
        press(ui, Key::Backspace.into());
    }
    for c in s.chars() {
        press(ui, SharedString::from(c.to_string().as_str()));
    }
    press(ui, Key::Return.into());
}

/// The eGK's values for a patient field, from the card dialog's lines
/// ("Name: Mustermann" or "Name: dokumentiert „A“, Karte „B“ – …").
fn card_values(ui: &AppWindow, field: &str) -> Vec<String> {
    let label = match field {
        keys::patient::FAMILY_NAME => "Name",
        keys::patient::GIVEN_NAME => "Vorname",
        keys::patient::BIRTH_DATE => "Geburtsdatum",
        keys::patient::TITLE => "Titel",
        _ => return Vec::new(),
    };
    let lines = ui.global::<CardAdapter>().get_lines();
    lines
        .iter()
        .filter_map(|l| {
            let (lab, rest) = l.split_once(": ")?;
            if lab != label {
                return None;
            }
            let value = match rest.split_once("Karte „") {
                Some((_, card)) => card.split('“').next()?,
                None => rest,
            };
            Some(value.trim().to_string())
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// The crew's names: this shift's (status bar) and those on the shift page.
fn crew_names(ui: &AppWindow) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let crew = ui.global::<AppState>().get_crew_text();
    if !matches!(
        ui.global::<AppState>().get_page(),
        crate::PageId::Lock | crate::PageId::Login
    ) {
        out.extend(crew.split(", ").map(str::to_string));
    }
    let rows = ui.global::<LoginAdapter>().get_crew();
    out.extend(rows.iter().map(|r| r.name.to_string()));
    out.retain(|n| !n.trim().is_empty());
    out.dedup();
    out
}

/// What the focused field could be: its known words.
pub fn words_for(ui: &AppWindow, words: &Words) -> Vec<String> {
    let field = ui.global::<OskAdapter>().get_field();
    match field.as_str() {
        keys::transport::HOSPITAL => words.hospitals.clone(),
        keys::med::SUBSTANCE => words.substances.clone(),
        "crew.name" => crew_names(ui),
        f if f.starts_with("patient.") => card_values(ui, f),
        f if f.contains("name") || f.contains("handover") => crew_names(ui),
        _ => Vec::new(),
    }
}

fn suggest_for(ui: &AppWindow, known: &[String]) {
    let osk = ui.global::<OskAdapter>();
    let list: Vec<SharedString> = matching(known, &osk.get_text())
        .into_iter()
        .map(SharedString::from)
        .collect();
    let old = osk.get_suggestions();
    let same = old.row_count() == list.len() && old.iter().zip(&list).all(|(a, b)| a == *b);
    if !same {
        osk.set_suggestions(ModelRc::from(Rc::new(VecModel::from(list))));
    }
}
