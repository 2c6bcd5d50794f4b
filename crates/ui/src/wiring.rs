//! Building the window and connecting every callback to the controller.

use super::*;

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
        staff_query: String::new(),
        staff_matches: Vec::new(),
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
    on!(ui, ctrl, EditorAdapter, on_dispatch_accept, |c| c
        .dispatch_resolve(true));
    on!(ui, ctrl, EditorAdapter, on_dispatch_dismiss, |c| c
        .dispatch_resolve(false));
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
    {
        // The PIN check runs on a worker; a short timer takes its result
        // so the screen answers within a frame of it, and then stops.
        let weak = ui.as_weak();
        let ctrl = ctrl.clone();
        let timer = Rc::new(slint::Timer::default());
        ui.global::<LockAdapter>()
            .on_unlock(move |pin: SharedString| {
                let Some(ui) = weak.upgrade() else { return };
                ctrl.borrow_mut().unlock(&pin);
                ctrl.borrow_mut().refresh(&ui);
                if !ctrl.borrow().unlock_pending() {
                    return;
                }
                let (weak, ctrl, me) = (ui.as_weak(), ctrl.clone(), Rc::downgrade(&timer));
                timer.start(
                    slint::TimerMode::Repeated,
                    std::time::Duration::from_millis(5),
                    move || {
                        let Some(ui) = weak.upgrade() else { return };
                        if ctrl.borrow_mut().poll_unlock() {
                            ctrl.borrow_mut().refresh(&ui);
                            if let Some(t) = me.upgrade() {
                                t.stop();
                            }
                        }
                    },
                );
            });
    }
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
    on!(
        ui,
        ctrl,
        LoginAdapter,
        on_staff_search,
        |c, q: SharedString| c.staff_search(&q)
    );
    on!(
        ui,
        ctrl,
        LoginAdapter,
        on_staff_pick,
        |c, n: SharedString| c.staff_pick(&n)
    );
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
        c.select_page(i.max(0) as usize)
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
