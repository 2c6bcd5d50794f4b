//! The numeric keypad: digits, the systolic "/", moving on by itself when
//! no further digit can give a valid value, and committing through the core.

use super::*;
use rettpad_record::keys;

pub(super) struct KeypadState {
    pub(super) key: &'static str,
    pub(super) input: String,
    pub(super) error: String,
    /// Reached by moving on by itself: the next "Weiter" on an empty input
    /// is the habit of a user who did not see it and must not skip a field.
    pub(super) auto: bool,
}

impl KeypadState {
    pub(super) fn new(key: &'static str) -> KeypadState {
        KeypadState {
            key,
            input: String::new(),
            error: String::new(),
            auto: false,
        }
    }
}

impl Controller {
    pub(super) fn open_keypad(&mut self, key: &str) {
        if let Some(def) = catalog::field(key) {
            self.keypad = Some(KeypadState::new(def.key));
        }
    }

    pub(super) fn keypad_press(&mut self, k: &str) {
        let Some(kp) = self.keypad.as_mut() else {
            return;
        };
        match k {
            "back" => {
                kp.input.pop();
            }
            "," if kp.input.contains(',') => {}
            "/" if kp.key != keys::vitals::BP_SYS
                || kp.input.contains('/')
                || kp.input.is_empty() => {}
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
    pub(super) fn keypad_move_on_when_complete(&mut self) {
        let Some(kp) = self.keypad.as_mut() else {
            return;
        };
        let key = kp.key;
        let complete = match (key, kp.input.split_once('/')) {
            (keys::vitals::BP_SYS, None) => {
                if catalog::field(key).is_some_and(|d| catalog::input_complete(d, &kp.input)) {
                    kp.input.push('/');
                }
                false
            }
            (keys::vitals::BP_SYS, Some((_, dia))) => catalog::field(keys::vitals::BP_DIA)
                .is_some_and(|d| catalog::input_complete(d, dia)),
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

    pub(super) fn keypad_commit(&mut self, value: Value, next: bool) {
        let Some(kp) = self.keypad.as_ref() else {
            return;
        };
        let key = kp.key;
        if let Some(def) = catalog::field(key)
            && let Err(e) = catalog::validate(def.scope, key, &value)
        {
            if let Some(kp) = self.keypad.as_mut() {
                kp.error = e.message(self.lang);
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

    pub(super) fn keypad_ok(&mut self, next: bool) {
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
                    kp.error = msg::INVALID_NUMBER.message(self.lang);
                }
                return;
            };
            let both = dia.map(|d| Value::Measured(Measured::manual(d)));
            self.keypad_commit(Value::Measured(Measured::manual(sys)), false);
            if self.keypad.is_some() {
                return; // the systolic value was refused; the error is shown
            }
            let mut next_key = keys::vitals::BP_DIA;
            if let Some(d) = both {
                self.keypad = Some(KeypadState::new(keys::vitals::BP_DIA));
                self.keypad_commit(d, false);
                if self.keypad.is_some() {
                    return;
                }
                next_key = keys::vitals::HR;
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
                    kp.error = msg::INVALID_NUMBER.message(self.lang);
                }
            }
        }
    }

    pub(super) fn keypad_not_measurable(&mut self) {
        let v = Value::Measured(Measured::not_measurable(ValueSource::Manual));
        self.keypad_commit(v, true);
    }

    pub(super) fn refresh_keypad(&self, ui: &AppWindow) {
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
                kp.set_slash(k.key == keys::vitals::BP_SYS);
                kp.set_input(ss(&k.input));
                kp.set_error(ss(&k.error));
            }
            None => kp.set_visible(false),
        }
    }
}

pub(super) fn next_keypad_field(key: &str) -> Option<&'static str> {
    let i = VITALS_KEYPAD_ORDER.iter().position(|k| *k == key)?;
    VITALS_KEYPAD_ORDER.get(i + 1).copied()
}
