//! The live monitor page: values with their age, trends, ECG, pleth and
//! capnogram, "übernehmen" and strips.

use super::*;
use rettpad_devices::live::{Sweep, WaveKind};
use slint::VecModel;

/// View units across every wave box; 20 segments of 50 each.
const WAVE_WIDTH: usize = 1000;
const SEGMENTS: usize = 20;

/// One wave box drawn in sweep mode: only segments whose picture changed
/// are set, so the renderer repaints a narrow strip per frame.
pub(super) struct WaveBox {
    sweep: Sweep,
    model: Rc<VecModel<SharedString>>,
    filled: Vec<bool>,
}

impl WaveBox {
    fn new(kind: WaveKind, height: f64, window_ms: i64) -> WaveBox {
        let sweep = Sweep::new(kind, WAVE_WIDTH, height, window_ms, SEGMENTS);
        let n = sweep.segments();
        WaveBox {
            sweep,
            model: Rc::new(VecModel::from(vec![SharedString::new(); n])),
            filled: vec![false; n],
        }
    }

    fn update(&mut self, live: &Live, changed: &mut Vec<(usize, String)>) {
        self.sweep.update(live, changed);
        for (i, path) in changed.drain(..) {
            if let Some(f) = self.filled.get_mut(i) {
                *f = !path.is_empty();
            }
            self.model.set_row_data(i, SharedString::from(path));
        }
    }

    fn shows_something(&self) -> bool {
        self.filled.iter().any(|f| *f)
    }

    fn rc(&self) -> ModelRc<SharedString> {
        ModelRc::from(self.model.clone())
    }
}

/// The live page's ECG, pleth and capnogram boxes.
pub(super) struct LiveWaves {
    ecg: WaveBox,
    pleth: WaveBox,
    co2: WaveBox,
    changed: Vec<(usize, String)>,
}

impl LiveWaves {
    fn new(lv: &LiveAdapter<'_>) -> LiveWaves {
        let w = LiveWaves {
            ecg: WaveBox::new(WaveKind::Ecg { range_uv: 2_000.0 }, 200.0, 6_000),
            pleth: WaveBox::new(WaveKind::Pleth, 100.0, 6_000),
            // The capnogram shows whole breaths: 12 s.
            co2: WaveBox::new(WaveKind::Capno, 100.0, 12_000),
            changed: Vec::new(),
        };
        lv.set_ecg_segs(w.ecg.rc());
        lv.set_pleth_segs(w.pleth.rc());
        lv.set_co2_segs(w.co2.rc());
        w
    }

    /// One frame: the changed segments of each box.
    fn update(&mut self, live: &Live, lv: &LiveAdapter<'_>) {
        self.pleth.update(live, &mut self.changed);
        self.co2.update(live, &mut self.changed);
        let (pleth, co2) = (self.pleth.shows_something(), self.co2.shows_something());
        // Flatter when pleth or capnogram take room below, so the trace
        // still spans the full width.
        let h = if pleth || co2 { 150.0 } else { 200.0 };
        self.ecg.sweep.set_height(h);
        self.ecg.update(live, &mut self.changed);
        lv.set_ecg_height(h as f32);
        lv.set_has_ecg(self.ecg.shows_something());
        lv.set_has_pleth(pleth);
        lv.set_has_co2(co2);
    }
}

impl Controller {
    pub(crate) fn open_live(&mut self) {
        if matches!(self.page, Page::Lock | Page::Login) || !self.device_configured() {
            return;
        }
        if self.page != Page::Live {
            self.dev.back = Some(self.page);
        }
        self.page = Page::Live;
    }

    /// Screenshots: the live page fed with given observations.
    #[cfg(feature = "demo")]
    pub(crate) fn show_demo_live(
        &mut self,
        label: &str,
        obs: &[rettpad_devices::obs::Observation],
    ) {
        let mut l = Live::new(LiveConfig {
            device_label: label.to_string(),
            ..LiveConfig::default()
        });
        for o in obs {
            l.push(o);
        }
        self.dev.live = Some(l);
        self.dev.label = label.to_string();
        self.dev.intake.set_device(label);
        self.dev.state = Some(DeviceState::Streaming {
            info: Default::default(),
        });
        self.open_live();
    }

    /// Benchmarks: observations straight into the live view.
    #[cfg(feature = "demo")]
    pub(crate) fn feed_live(&mut self, obs: &[rettpad_devices::obs::Observation]) {
        if let Some(l) = &mut self.dev.live {
            for o in obs {
                l.push(o);
            }
        }
    }

    pub(crate) fn live_back(&mut self) -> Page {
        self.dev.back.take().unwrap_or(Page::Missions)
    }

    /// "Vitalwerte übernehmen" on the live page.
    pub(crate) fn live_take(&mut self) {
        if self.pad.cursor.patient.is_none() {
            let msg = msg::OPEN_A_MISSION_WITH_A_PATIENT_FIRST.message(self.lang);
            self.set_toast(msg, true);
            return;
        }
        self.take_from_device();
    }

    /// "EKG-Streifen speichern": the last 10 s of every ECG lead.
    pub(crate) fn save_strip_now(&mut self) {
        let label = msg::ECG_STRIP.message(self.lang);
        match self
            .dev
            .live
            .as_mut()
            .and_then(|l| l.strip_now(10_000, &label))
        {
            Some(s) => {
                self.dev.intake.queue_strip(s);
                if self.pad.cursor.patient.is_none() {
                    let msg = msg::ECG_STRIP_WAITS_IT_GOES_TO_THE_NEXT_PATI.message(self.lang);
                    self.set_toast(msg, false);
                }
                self.record_device_intake();
            }
            None => {
                let msg = msg::NO_10_S_OF_ECG_FROM_THE_DEVICE_YET.message(self.lang);
                self.set_toast(msg, true);
            }
        }
    }

    /// The live page (only filled while it is shown: the ECG path is the
    /// most expensive thing the UI draws).
    pub(crate) fn refresh_live(&self, ui: &AppWindow) {
        if self.page != Page::Live {
            return;
        }
        let lv = ui.global::<LiveAdapter>();
        let now = self.pad.clock().wall_ms();
        let lang = self.lang;
        lv.set_state(ss(self.device_state_long().unwrap_or_default()));
        let Some(l) = &self.dev.live else { return };
        let (clock, warn) = match l.clock_offset_ms() {
            Some(o) if l.clock_warning() => (
                format!(
                    "{} {:+} s",
                    msg::DEVICE_CLOCK_OFF_BY.message(lang),
                    o / 1000
                ),
                true,
            ),
            Some(o) => (
                format!("{} {:+} s", msg::DEVICE_CLOCK.message(lang), o / 1000),
                false,
            ),
            None => (String::new(), false),
        };
        lv.set_clock(ss(clock));
        lv.set_clock_warn(warn);
        // The newest alarm of the last 2 minutes, as the device named it.
        let (alarm, high) = match l.alarms().next() {
            Some(a) if now - a.at_ms < 120_000 => {
                let prio = lang.pick(a.priority.label_de(), a.priority.label_en());
                let text = if a.text.is_empty() {
                    "—"
                } else {
                    a.text.as_str()
                };
                (
                    format!(
                        "{} {} · {text} ({prio})",
                        msg::ALARM.message(lang),
                        view::clock_text(a.at_ms)
                    ),
                    a.priority == rettpad_devices::obs::AlarmPriority::High,
                )
            }
            _ => (String::new(), false),
        };
        lv.set_alarm(ss(alarm));
        lv.set_alarm_high(high);
        let tiles: Vec<LiveTileVM> = l
            .values(now)
            .into_iter()
            .map(|v| LiveTileVM {
                label: ss(lang.pick(v.label_de, v.label_en)),
                value: ss(&v.text),
                unit: ss(v.unit),
                age: ss(age_text(v.age_ms, lang)),
                stale: v.stale,
                trend: ss(Live::sparkline(&v.trend, 120.0, 30.0)),
            })
            .collect();
        sync_model(&lv.get_tiles(), tiles, |new| lv.set_tiles(new));
        self.refresh_waves(ui);
        lv.set_co2_scale(ss(l.capno_scale().map_or(String::new(), |(top, unit)| {
            let top = format!("{top}");
            let top = match lang {
                Lang::De => top.replace('.', ","),
                Lang::En => top,
            };
            format!("CO₂ 0–{top} {unit} · 12 s")
        })));
        lv.set_can_take(self.device_values_ready());
        lv.set_can_strip(l.display_lead().is_some());
        let mut strips = String::new();
        let intake = &self.dev.intake;
        if !intake.strips_saved().is_empty() {
            strips = format!(
                "{}: {}",
                msg::IN_THE_RECORD.message(lang),
                intake.strips_saved().join(", ")
            );
        }
        if intake.strips_waiting() > 0 {
            strips.push_str(&format!(
                " · {} {}",
                intake.strips_waiting(),
                msg::WAITING_NO_PATIENT_OPEN.message(lang)
            ));
        }
        if intake.strips_dropped() > 0 {
            strips.push_str(&format!(
                " · {} {}",
                intake.strips_dropped(),
                msg::DROPPED.message(lang)
            ));
        }
        lv.set_strips(ss(strips));
    }

    /// The waves: only the segments that changed since the last frame.
    fn refresh_waves(&self, ui: &AppWindow) {
        let Some(l) = &self.dev.live else { return };
        let lv = ui.global::<LiveAdapter>();
        lv.set_lead(ss(l.display_lead().unwrap_or_default()));
        self.dev
            .waves
            .borrow_mut()
            .get_or_insert_with(|| LiveWaves::new(&lv))
            .update(l, &lv);
    }

    /// The live page's own frame (10 per second in the app): only while it
    /// is shown, and only the peripherals and that page. The waves move
    /// every frame; values, ages, alarm and clock change at most once a
    /// second, so the rest of the page is rebuilt every 5th frame.
    pub fn live_frame(&mut self, ui: &AppWindow) {
        if self.page != Page::Live {
            return;
        }
        self.poll_peripherals();
        self.dev.frames = self.dev.frames.wrapping_add(1);
        if self.dev.frames.is_multiple_of(5) {
            self.refresh_live(ui);
        } else {
            self.refresh_waves(ui);
        }
    }
}

/// "vor 3 s", "vor 2 min".
pub(crate) fn age_text(ms: i64, lang: Lang) -> String {
    msg::age(ms / 1000).message(lang)
}
