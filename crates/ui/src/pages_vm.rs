//! Pushing the state to the UI: the status bar, lock, login, mission list
//! and close pages. Models are updated in place (`sync_model`).

use super::*;
use rettpad_record::keys;

impl Controller {
    /// Pushes the whole state to the UI. Cheap: a mission is small.
    pub fn refresh(&mut self, ui: &AppWindow) {
        self.poll_peripherals();
        self.poll_handover();
        self.poll_print();
        let app = ui.global::<AppState>();
        app.set_page(self.page.id());
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
                msg::NO_SHIFT_LOGGED_IN.message(self.lang),
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
            msg::STORAGE_FULL.message(self.lang)
        } else {
            self.upload_text()
                .unwrap_or_else(|| msg::OFF.message(self.lang))
        }));
        app.set_dispatch_state(ss(match self.pad.channel_view() {
            Some(v) => {
                msg::dispatch_pill(v.connected, &view::clock_text(v.since_ms)).message(self.lang)
            }
            None => msg::OFF.message(self.lang),
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
            msg::DEMO_MODE_PIN_1234.message(self.lang)
        } else {
            String::new()
        }));

        self.refresh_login(ui);

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
        if self.page == Page::Settings {
            let f = self.pad.fleet_view();
            let set = ui.global::<SettingsAdapter>();
            set.set_fleet_text(ss(msg::fleet_text(&f).message(self.lang)));
            set.set_fleet_refusal(ss(f
                .refusal
                .map(|r| {
                    let why = self.lang.pick(&r.de, &r.en).to_string();
                    msg::fleet_refused(&view::date_time_text(r.at_ms), &why).message(self.lang)
                })
                .unwrap_or_default()));
        }
    }

    pub(super) fn refresh_missions(&self, ui: &AppWindow) {
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
                    .get(keys::mission::NUMBER)
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
                    Status::Open => msg::OPEN.message(lang),
                    Status::HandedOver => msg::HANDED_OVER.message(lang),
                    Status::Closed => msg::CLOSED_WAITING_FOR_UPLOAD.message(lang),
                };
                MissionVM {
                    id: ss(m.to_string()),
                    title: ss(title),
                    patients: ss(names.join(", ")),
                    state: ss(state),
                }
            })
            .collect();
        drop(store);
        let m = ui.global::<MissionsAdapter>();
        // Damage found at start outranks the reminder to close missions.
        let recovery = self.pad.recovery_warning();
        m.set_warning(ss(if let Some(n) = recovery {
            n.message(lang)
        } else if open > 5 {
            msg::MORE_THAN_5_OPEN_MISSIONS_PLEASE_CLOSE_S.message(lang)
        } else {
            String::new()
        }));
        sync_model(&m.get_missions(), missions, |new| m.set_missions(new));
    }

    pub(super) fn findings(&self, st: &MissionState) -> Vec<Finding> {
        rules::check(st, self.pad.clock().wall_ms())
    }

    pub(super) fn refresh_close(
        &mut self,
        ui: &AppWindow,
        st: Option<&MissionState>,
        findings: &[Finding],
    ) {
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
}
