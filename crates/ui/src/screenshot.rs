//! `rettpad --screenshot DIR`: renders every page headless with the software
//! renderer into PNGs, with demo data entered through the same callbacks a
//! tap triggers. A fixed clock makes the pictures reproducible.

use super::{
    AppState, AppWindow, CardAdapter, CloseAdapter, EditorAdapter, KeypadAdapter, LockAdapter,
    LoginAdapter, MissionsAdapter, SettingsAdapter, Theme,
};
use rettpad_clock::{SharedClock, TestClock};
use rettpad_pad::config::Config;
use rettpad_pad::session::Session;
use rettpad_record::Section;
use rettpad_record::keys;
use rettpad_vault::MemoryKeyProvider;
use rettpad_vault::store::{SharedStore, Store, StoreOptions};
use slint::ComponentHandle;
use slint::platform::software_renderer::{MinimalSoftwareWindow, RepaintBufferType};
use slint::platform::{Platform, WindowAdapter};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

#[path = "probe.rs"]
mod probe;
pub use probe::{LiveProbe, live_probe, peak_rss_kib, startup_probe};

struct Headless(Rc<MinimalSoftwareWindow>);

impl Platform for Headless {
    fn create_window_adapter(&self) -> Result<Rc<dyn WindowAdapter>, slint::PlatformError> {
        Ok(self.0.clone())
    }
}

type Error = Box<dyn std::error::Error>;

/// The app with the demo configuration on `store`, locked, as at start.
fn demo_app(
    clock: SharedClock,
    store: SharedStore,
) -> Result<(AppWindow, Rc<RefCell<super::Controller>>), Error> {
    let cfg = Config::demo();
    let session = Session::new(
        cfg.session_config()?,
        clock.clone(),
        store.clone(),
        store.clone(),
    )?;
    Ok(super::build(cfg, clock, store, session)?)
}

/// A screen to render for: physical pixels and the scale factor the
/// compositor would apply (the target tablet: 1920×1200 at 1.5).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Screen {
    pub width: u32,
    pub height: u32,
    pub scale: f32,
}

impl Default for Screen {
    /// The target tablet's 1280×800 logical px.
    fn default() -> Self {
        Screen {
            width: 1280,
            height: 800,
            scale: 1.0,
        }
    }
}

impl std::str::FromStr for Screen {
    type Err = String;
    /// `WxH` or `WxH@S` (scale factor), e.g. `1920x1200@1.5`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("size {s:?}: expected WxH or WxH@SCALE, e.g. 1024x600");
        let (dims, scale) = match s.split_once('@') {
            Some((d, f)) => (d, f.parse::<f32>().map_err(|_| bad())?),
            None => (s, 1.0),
        };
        let (w, h) = dims.split_once(['x', 'X']).ok_or_else(bad)?;
        let (width, height) = (
            w.parse::<u32>().map_err(|_| bad())?,
            h.parse::<u32>().map_err(|_| bad())?,
        );
        if !(320..=8192).contains(&width) || !(240..=8192).contains(&height) {
            return Err(bad());
        }
        if !(0.5..=4.0).contains(&scale) {
            return Err(bad());
        }
        Ok(Screen {
            width,
            height,
            scale,
        })
    }
}

/// Installs the software renderer at the target tablet's 1280×800 logical px.
fn use_headless_platform() -> Result<(), Error> {
    use_headless_platform_at(Screen::default()).map(|_| ())
}

fn use_headless_platform_at(screen: Screen) -> Result<Rc<MinimalSoftwareWindow>, Error> {
    use_headless_platform_with(screen, RepaintBufferType::NewBuffer)
}

/// The headless platform; `ReusedBuffer` renders only what changed since
/// the last frame into the same buffer, as the kiosk's software renderer
/// does on a real screen.
pub(crate) fn use_headless_platform_with(
    screen: Screen,
    buffer: RepaintBufferType,
) -> Result<Rc<MinimalSoftwareWindow>, Error> {
    let window = MinimalSoftwareWindow::new(buffer);
    window.dispatch_event(slint::platform::WindowEvent::ScaleFactorChanged {
        scale_factor: screen.scale,
    });
    window.set_size(slint::PhysicalSize::new(screen.width, screen.height));
    slint::platform::set_platform(Box::new(Headless(window.clone())))
        .map_err(|e| format!("cannot set the headless platform: {e:?}"))?;
    Ok(window)
}

/// 2026-11-22 13:05 UTC (14:05 in Germany).
pub const DEMO_TIME_MS: i64 = 1_795_305_600_000 + 13 * 3_600_000 + 5 * 60_000;

fn save(ui: &AppWindow, path: &Path) -> Result<(), Error> {
    slint::platform::update_timers_and_animations();
    let snap = ui.window().take_snapshot()?;
    let file = std::fs::File::create(path)?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), snap.width(), snap.height());
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()?.write_image_data(snap.as_bytes())?;
    Ok(())
}

fn tempfile_dir(name: &str) -> Result<PathBuf, Error> {
    let d = std::env::temp_dir().join(format!("rettpad-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// Renders all pages into `dir` at 1280×800; returns the files written.
pub fn render_all(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    render_all_at(dir, Screen::default())
}

/// Renders all pages into `dir` at `screen`; returns the files written.
pub fn render_all_at(dir: &Path, screen: Screen) -> Result<Vec<PathBuf>, Error> {
    std::fs::create_dir_all(dir)?;
    let window = use_headless_platform_at(screen)?;

    let vault_dir = std::env::temp_dir().join(format!("rettpad-shots-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&vault_dir);
    let clock_impl = TestClock::new(DEMO_TIME_MS);
    let clock: SharedClock = clock_impl.clone();
    let store = Store::open(
        &vault_dir,
        Arc::new(MemoryKeyProvider::new()),
        clock.clone(),
        StoreOptions::default(),
    )?;
    let store = SharedStore::new(store);
    let (ui, ctrl) = demo_app(clock, store)?;
    ui.show()?;
    // show() may reset the size; the screen is what is asked for.
    window.set_size(slint::PhysicalSize::new(screen.width, screen.height));
    let mut written = Vec::new();
    let mut shot = |name: &str, ui: &AppWindow| -> Result<(), Error> {
        let p = dir.join(format!("{name}.png"));
        save(ui, &p)?;
        written.push(p);
        Ok(())
    };
    let step = |by: u64| clock_impl.advance(Duration::from_secs(by));

    shot("01-lock", &ui)?;
    let lock = ui.global::<LockAdapter>();
    lock.invoke_unlock("0000".into());
    ctrl.borrow_mut().settle_unlock();
    ctrl.borrow_mut().refresh(&ui);
    shot("02-lock-wrong-pin", &ui)?;
    lock.invoke_unlock("1234".into());
    ctrl.borrow_mut().settle_unlock();

    let login = ui.global::<LoginAdapter>();
    login.invoke_set_name(0, "Anna Berger".into());
    login.invoke_set_number(0, "4711".into());
    login.invoke_set_qualification(0, 1);
    login.invoke_add_member();
    login.invoke_set_name(1, "Jonas Keller".into());
    login.invoke_set_number(1, "4712".into());
    login.invoke_set_qualification(1, 3);
    shot("03-shift-login", &ui)?;
    login.invoke_start();

    let missions = ui.global::<MissionsAdapter>();
    shot("04-missions-empty", &ui)?;
    missions.invoke_create();
    let ed = ui.global::<EditorAdapter>();
    let pick = |s: Section| super::view::page_of(s) as i32;
    ed.invoke_set_text(keys::mission::NUMBER.into(), "2026-112233".into());
    ed.invoke_choose(keys::mission::TYPE.into(), "01".into());
    ed.invoke_choose(keys::mission::SCENE_TYPE.into(), "01".into());
    shot("05-section-mission", &ui)?;
    ed.invoke_select_section(pick(Section::Times));
    for (k, dt) in [
        (keys::time::ALARM, 0),
        (keys::time::DEPARTURE, 60),
        (keys::time::AT_SCENE, 480),
        (keys::time::PATIENT_CONTACT, 60),
    ] {
        step(dt);
        ed.invoke_time_now(k.into());
    }
    shot("06-section-times", &ui)?;
    ed.invoke_select_section(pick(Section::Patient));
    ed.invoke_set_text(keys::patient::FAMILY_NAME.into(), "Mustermann".into());
    ed.invoke_set_text(keys::patient::GIVEN_NAME.into(), "Erika".into());
    ed.invoke_set_text(keys::patient::BIRTH_DATE.into(), "12.08.1950".into());
    ed.invoke_choose(keys::patient::SEX.into(), "W".into());
    shot("07-section-patient", &ui)?;
    // Tab focuses the first text field, as a tap would: the on-screen keyboard.
    let tab = |ui: &AppWindow| {
        let k: slint::SharedString = slint::platform::Key::Tab.into();
        ui.window()
            .dispatch_event(slint::platform::WindowEvent::KeyPressed { text: k.clone() });
        ui.window()
            .dispatch_event(slint::platform::WindowEvent::KeyReleased { text: k });
        ui.global::<super::OskAdapter>().set_hardware(false);
    };
    tab(&ui);
    shot("07b-on-screen-keyboard", &ui)?;
    ui.window()
        .dispatch_event(slint::platform::WindowEvent::KeyPressed {
            text: slint::platform::Key::Escape.into(),
        });
    ui.invoke_release_focus();
    // A demo eGK read while the patient page is open: the confirmation.
    ctrl.borrow_mut().attach_sim_card();
    ui.global::<AppState>().invoke_card_tapped();
    shot("07a-card-confirm", &ui)?;
    ui.global::<CardAdapter>().invoke_dismiss();
    // A monitor that streams: vitals in one tap.
    let (tx, rx) = std::sync::mpsc::channel();
    let info = rettpad_devices::obs::DeviceInfo {
        model: Some("M8004A".into()),
        serial: Some("DE00000001".into()),
        ..Default::default()
    };
    tx.send(rettpad_devices::supervisor::SupEvent::State(
        rettpad_devices::supervisor::DeviceState::Streaming { info },
    ))
    .ok();
    ctrl.borrow_mut()
        .attach_device("Monitor", rx, Some(Box::new(tx)));
    ed.invoke_select_section(pick(Section::Vitals));
    let kp = ui.global::<KeypadAdapter>();
    for (i, set) in [
        ["150", "95", "112", "91", "22", "130"],
        ["135", "85", "98", "95", "18", "128"],
    ]
    .iter()
    .enumerate()
    {
        step(300);
        ed.invoke_new_entry();
        for v in set.iter() {
            for ch in v.chars() {
                kp.invoke_press(ch.to_string().into());
            }
            if i == 1 && *v == "128" {
                shot("08-keypad", &ui)?;
            }
            kp.invoke_ok(true);
        }
        kp.invoke_cancel();
    }
    shot("09-section-vitals", &ui)?;
    ed.invoke_select_section(pick(Section::Findings));
    ed.invoke_preset(0);
    ed.invoke_choose(keys::finding::PAIN_NRS.into(), "6".into());
    ed.invoke_choose(keys::finding::SKIN.into(), "02".into());
    ed.invoke_choose(keys::finding::SKIN.into(), "03".into());
    shot("10-section-findings", &ui)?;
    ed.invoke_select_section(pick(Section::Ecg));
    ed.invoke_choose(keys::ecg::RHYTHM.into(), "01".into());
    shot("11-section-ecg", &ui)?;
    ed.invoke_select_section(pick(Section::Diseases));
    ed.invoke_choose(keys::diagnosis::GROUP.into(), "02".into());
    ed.invoke_choose(keys::diagnosis::TRACER.into(), "01".into());
    shot("12-section-diseases", &ui)?;
    ed.invoke_select_section(pick(Section::Naca));
    ed.invoke_choose(keys::naca::SCORE.into(), "4".into());
    shot("13-section-naca", &ui)?;
    ed.invoke_select_section(pick(Section::Measures));
    ed.invoke_preset(0);
    ed.invoke_preset(1);
    shot("14-section-measures", &ui)?;
    ed.invoke_select_section(pick(Section::Medication));
    ed.invoke_preset(0);
    ed.invoke_preset(1);
    shot("15-section-medication", &ui)?;
    ed.invoke_select_section(pick(Section::Handover));
    ed.invoke_choose(keys::transport::DONE.into(), "1".into());
    ed.invoke_choose(keys::transport::WITH_DOCTOR.into(), "1".into());
    shot("16-section-handover", &ui)?;
    ed.invoke_to_close();
    shot("17-close-blocked", &ui)?;
    let close = ui.global::<CloseAdapter>();
    close.invoke_goto(0);
    shot("18-jump-to-missing-field", &ui)?;
    ed.invoke_set_text(
        keys::transport::HOSPITAL.into(),
        "Klinikum Mitte, ZNA".into(),
    );
    ed.invoke_select_section(pick(Section::Outcome));
    ed.invoke_choose(keys::outcome::RESULT.into(), "03".into());
    shot("19-section-outcome", &ui)?;
    ed.invoke_select_section(super::view::QUICK_PAGE as i32);
    shot("19a-quick-entry", &ui)?;
    for s in [Section::History, Section::Injuries, Section::Remarks] {
        ed.invoke_select_section(pick(s));
        shot(
            &format!(
                "20-section-{}",
                s.label_en().to_lowercase().replace('/', "-")
            ),
            &ui,
        )?;
    }
    ed.invoke_to_close();
    shot("21-close-ready", &ui)?;
    ui.global::<AppState>().invoke_back();
    ed.invoke_select_section(pick(Section::Vitals));
    ui.global::<SettingsAdapter>()
        .invoke_set_language("en".into());
    ctrl.borrow_mut().refresh(&ui);
    shot("22-english-vitals", &ui)?;
    ui.global::<SettingsAdapter>()
        .invoke_set_language("de".into());
    ui.global::<Theme>().set_night(true);
    ctrl.borrow_mut().refresh(&ui);
    shot("23-night-vitals", &ui)?;
    ui.global::<Theme>().set_night(false);
    let now = ctrl.borrow().clock_ms();
    ctrl.borrow_mut()
        .show_demo_live("Monitor (Demo)", &demo_monitor(now));
    ctrl.borrow_mut().refresh(&ui);
    shot("26-live-monitor", &ui)?;
    ui.global::<AppState>().invoke_back();
    close.invoke_close();
    shot("24-missions-closed", &ui)?;
    ctrl.borrow_mut().goto(super::Page::Settings);
    ctrl.borrow_mut().refresh(&ui);
    shot("25-settings", &ui)?;
    // A device's pairing tag held to the reader: the pad asks first.
    ctrl.borrow_mut()
        .card_event(rettpad_pad::watcher::CardEvent::Pairing {
            reader: "Kartenleser".into(),
            result: Ok(Box::new(rettpad_devices::pairing::sample_record())),
        });
    ctrl.borrow_mut().refresh(&ui);
    shot("27-pairing-tag", &ui)?;
    ui.global::<CardAdapter>().invoke_dismiss();
    drop(ui);

    // A pad whose configuration names an unknown card reader.
    let bad = match rettpad_pad::config::Config::parse("card_reader = \"usb\"\n") {
        Err(message) => rettpad_pad::config::ConfigError::Parse {
            path: "/etc/rettpad/pad.toml".into(),
            message,
        },
        Ok(_) => return Err("a bad card reader was taken".into()),
    };
    let fault = crate::fault_window(&bad, rettpad_text::Lang::De)?;
    fault.show()?;
    fault
        .window()
        .set_size(slint::PhysicalSize::new(screen.width, screen.height));
    shot("28-fault-config", &fault)?;
    drop(fault);
    let _ = std::fs::remove_dir_all(&vault_dir);
    if std::env::var_os("RETTPAD_REPORT_RSS").is_some() {
        eprintln!("peak_rss_kib={}", peak_rss_kib().unwrap_or(0));
    }
    Ok(written)
}

/// Ten minutes of an ACS patient's numerics and the last 8 s of lead II
/// (ECGSYN), as a monitor would send them, ending at `now`.
fn demo_monitor(now: i64) -> Vec<rettpad_devices::obs::Observation> {
    use rettpad_devices::ieee11073::Decimal;
    use rettpad_devices::obs::{
        HostTime, MeasStatus, Metric, Numeric, Observation, Reading, Scale, Timestamps, Unit,
        WaveChunk,
    };
    let ts = |ms: i64| Timestamps {
        device: None,
        host: HostTime {
            wall_ms: ms,
            mono_ms: ms.max(0) as u64,
        },
        seq: None,
    };
    let mut out = Vec::new();
    for i in 0..=60i64 {
        let at = now - 600_000 + i * 10_000;
        let drift = (i as f64 / 8.0).sin();
        for (m, v, u) in [
            (
                Metric::HeartRate,
                112.0 - i as f64 * 0.2 + 3.0 * drift,
                Unit::PerMin,
            ),
            (Metric::SpO2, 91.0 + i as f64 * 0.07, Unit::Percent),
            (Metric::RespRate, 22.0 - i as f64 * 0.05, Unit::PerMin),
            (Metric::EtCo2, 36.0 + 2.0 * drift, Unit::MmHg),
        ] {
            out.push(Observation::Numeric(Numeric {
                metric: m,
                reading: Reading::Value(Decimal::int(v.round() as i64)),
                unit: u,
                status: MeasStatus::default(),
                time: ts(at),
                episodic: false,
            }));
        }
    }
    for (m, v) in [(Metric::NibpSys, 135), (Metric::NibpDia, 85)] {
        out.push(Observation::Numeric(Numeric {
            metric: m,
            reading: Reading::Value(Decimal::int(v)),
            unit: Unit::MmHg,
            status: MeasStatus::default(),
            time: ts(now - 95_000),
            episodic: true,
        }));
    }
    let mut ecg = rettpad_devices::sim::Ecgsyn::new(98.0, 7);
    let (fs, chunk) = (500u32, 128usize);
    let start = now - 8_192;
    for c in 0..32i64 {
        out.push(Observation::Wave(WaveChunk {
            channel: Metric::Other((2 << 16) | 0x0102),
            t0: ts(start + c * 256),
            sample_period_us: 2_000,
            scale: Some(Scale {
                lower_abs: Reading::Value(Decimal::int(0)),
                upper_abs: Reading::Value(Decimal::int(1)),
                lower_raw: 0,
                upper_raw: 1000,
            }),
            unit: Unit::MilliVolt,
            samples: (0..chunk)
                .map(|_| (ecg.next_mv(fs) * 1000.0).round() as i32)
                .collect(),
            status: MeasStatus::default(),
        }));
    }
    // Pleth (125 Hz) and capnogram (62.5 Hz, mmHg) as the simulator sends them.
    let mut phys =
        rettpad_devices::sim::ScenarioPhysiology::new(rettpad_devices::sim::Scenario::Stemi, 7);
    for w in rettpad_devices::intellivue::monitor::Physiology::waves(&phys) {
        if rettpad_devices::intellivue::waves::is_ecg(w.physio_id) {
            continue;
        }
        let per_chunk = (256_000 / w.period_us) as usize;
        for c in 0..48i64 {
            let from = c as u64 * per_chunk as u64;
            let samples = rettpad_devices::intellivue::monitor::Physiology::samples(
                &mut phys, w.handle, from, per_chunk,
            );
            out.push(Observation::Wave(WaveChunk {
                channel: Metric::Other((2 << 16) | u32::from(w.physio_id)),
                t0: ts(now - 12_288 + c * 256),
                sample_period_us: w.period_us,
                scale: Some(Scale {
                    lower_abs: w.scale.lower_abs,
                    upper_abs: w.scale.upper_abs,
                    lower_raw: i32::from(w.scale.lower_scaled),
                    upper_raw: i32::from(w.scale.upper_scaled),
                }),
                unit: rettpad_devices::intellivue::waves::unit_of(w.physio_id),
                samples: samples.into_iter().map(i32::from).collect(),
                status: MeasStatus::default(),
            }));
        }
    }
    // The monitor's ST alarm for this ACS patient (medium priority).
    out.push(Observation::Event(rettpad_devices::obs::DeviceEvent {
        kind: rettpad_devices::obs::EventKind::Alarm {
            code: 0,
            source: 0,
            priority: rettpad_devices::obs::AlarmPriority::Medium,
            physiological: Some(true),
            text: "**ST-Multi".into(),
        },
        time: ts(now - 40_000),
    }));
    out
}
