//! Card reader and medical devices in the UI: status bar texts, the card
//! confirmation dialog and "Vom Monitor übernehmen".
//!
//! The card watcher and the device supervisors run on their own threads and
//! report over channels; the UI thread drains them once a second (and on
//! every refresh). Nothing from a card or a device reaches the record
//! without a tap: a card read becomes a [`Proposal`] the crew confirms, a
//! vitals set is taken over with one tap.

use super::*;
use rettpad_card::{CardData, Proposal};
use rettpad_devices::live::{Live, LiveConfig};
use rettpad_devices::pairing::{self, DeviceProtocol, PairingRecord};
use rettpad_devices::supervisor::{DeviceState, SupEvent};
use rettpad_pad::intake::{DeviceIntake, IntakeEvent};
use rettpad_pad::watcher::{CardEvent, ReaderStatus};
use std::any::Any;
use std::sync::mpsc::Receiver;

/// Keeps a watcher/supervisor thread alive as long as the UI holds it.
pub type Keep = Box<dyn Any>;

#[derive(Default)]
pub(super) struct CardFeed {
    rx: Option<Receiver<CardEvent>>,
    status: ReaderStatus,
    /// Read but not yet shown (no patient page was open).
    waiting: Option<(Box<CardData>, i64)>,
    pub(super) proposal: Option<Proposal>,
    /// A pairing tag was read: the device it names, waiting for "Koppeln".
    pub(super) pair_offer: Option<Box<PairingRecord>>,
    /// Demo: a simulated card is read when the crew taps the card pill.
    sim: Option<std::sync::mpsc::Sender<CardEvent>>,
    _keep: Option<Keep>,
}

#[derive(Default)]
pub(super) struct DevFeed {
    rx: Option<Receiver<SupEvent>>,
    label: String,
    state: Option<DeviceState>,
    /// Values and strips on their way into the record (the pad core).
    pub(super) intake: DeviceIntake,
    /// What the live page shows; also cuts the strips around shocks.
    live: Option<Live>,
    /// The page the live page returns to.
    back: Option<Page>,
    _keep: Option<Keep>,
}

/// Vault meta key of the device paired by tag (the 96-byte tag record,
/// PIN included, so only encrypted at rest).
const PAIRED_META: &str = "paired_device";

impl DevFeed {
    pub(super) fn new(every_min: u32) -> DevFeed {
        DevFeed {
            intake: DeviceIntake::new(every_min),
            ..DevFeed::default()
        }
    }
}

impl Controller {
    /// Connects the card watcher's channel (`keep` holds the watcher).
    pub fn attach_card(&mut self, rx: Receiver<CardEvent>, keep: Option<Keep>) {
        self.card.rx = Some(rx);
        self.card._keep = keep;
    }

    /// Demo mode: tapping the card pill reads the simulated eGK through the
    /// real card code and delivers it like the watcher would.
    pub fn attach_sim_card(&mut self) {
        let (tx, rx) = std::sync::mpsc::channel();
        tx.send(CardEvent::ServiceUp).ok();
        tx.send(CardEvent::Readers(vec!["Demo-Kartenleser".into()]))
            .ok();
        self.card.sim = Some(tx);
        self.card.rx = Some(rx);
    }

    /// Connects one device supervisor's channel.
    pub fn attach_device(&mut self, label: &str, rx: Receiver<SupEvent>, keep: Option<Keep>) {
        self.dev.rx = Some(rx);
        self.dev.label = label.to_string();
        self.dev.intake.set_device(label);
        self.dev.live = Some(Live::new(LiveConfig {
            device_label: label.to_string(),
            utc_offset_ms: view::berlin_offset_ms(self.pad.clock().wall_ms()),
            ..LiveConfig::default()
        }));
        self.dev._keep = keep;
    }

    /// Tests: a card is inserted (the demo card, through the real reader code).
    pub fn card_tapped_for_test(&mut self) {
        self.card_tapped();
    }

    pub(super) fn card_tapped(&mut self) {
        let Some(tx) = self.card.sim.clone() else {
            return;
        };
        let reader = "Demo-Kartenleser".to_string();
        #[cfg(feature = "demo")]
        let result = {
            let mut card = rettpad_card::sim::SimCard::sample_egk(Default::default());
            let atr = card.atr().to_vec();
            rettpad_card::read_card(&mut card, &atr).map(Box::new)
        };
        #[cfg(not(feature = "demo"))]
        let result = Err(rettpad_card::CardError::NoService(
            "this build has no simulated card".into(),
        ));
        let at_ms = self.pad.clock().wall_ms();
        tx.send(CardEvent::CardInserted {
            reader: reader.clone(),
        })
        .ok();
        tx.send(CardEvent::Read {
            reader: reader.clone(),
            at_ms,
            result,
        })
        .ok();
        tx.send(CardEvent::CardRemoved { reader }).ok();
        self.poll_peripherals();
    }

    /// Drains the channels. Called once a second and before each refresh.
    pub(super) fn poll_peripherals(&mut self) {
        for e in drain(&mut self.card.rx) {
            self.on_card(e);
        }
        for e in drain(&mut self.dev.rx) {
            self.on_device(e);
        }
        self.offer_waiting_card();
        self.record_device_intake();
    }

    /// Due monitor values and waiting strips into the record (the pad
    /// core's intake, with its retry policy).
    fn record_device_intake(&mut self) {
        let now = rettpad_devices::link::host_time(self.pad.clock().as_ref());
        let mut sink = self.pad.store().clone();
        let cursor = self.pad.cursor;
        for e in self.dev.intake.poll(now, cursor, &mut sink) {
            match e {
                IntakeEvent::ValuesSaved(_) => {}
                IntakeEvent::StripSaved(label) => {
                    let msg = format!(
                        "{}: {label}",
                        tr(self.lang, "EKG-Streifen gespeichert", "ECG strip saved")
                    );
                    self.set_toast(msg, false);
                }
                IntakeEvent::Refused(n) => self.set_toast(n.message(self.lang), true),
                IntakeEvent::ValuesDropped(k) => {
                    let msg = match self.lang {
                        Lang::De => format!("{k} Gerätewerte verworfen: Speicher voll."),
                        Lang::En => format!("{k} device values dropped: storage full."),
                    };
                    self.set_toast(msg, true);
                }
            }
        }
    }

    /// Settings: minutes between automatic vitals sets (0: only on tap).
    pub(super) fn set_device_every_min(&mut self, min: u32) {
        self.dev.intake.set_every_min(min);
    }

    pub(super) fn open_live(&mut self) {
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

    pub(super) fn live_back(&mut self) -> Page {
        self.dev.back.take().unwrap_or(Page::Missions)
    }

    /// "Vitalwerte übernehmen" on the live page.
    pub(super) fn live_take(&mut self) {
        if self.pad.cursor.patient.is_none() {
            let msg = tr(
                self.lang,
                "Bitte zuerst einen Einsatz mit Patient öffnen.",
                "Open a mission with a patient first.",
            );
            self.set_toast(msg, true);
            return;
        }
        self.take_from_device();
    }

    /// "EKG-Streifen speichern": the last 10 s of every ECG lead.
    pub(super) fn save_strip_now(&mut self) {
        let label = tr(self.lang, "EKG-Streifen", "ECG strip");
        match self
            .dev
            .live
            .as_mut()
            .and_then(|l| l.strip_now(10_000, &label))
        {
            Some(s) => {
                self.dev.intake.queue_strip(s);
                if self.pad.cursor.patient.is_none() {
                    let msg = tr(
                        self.lang,
                        "EKG-Streifen wartet: er kommt zum nächsten geöffneten Patienten.",
                        "ECG strip waits: it goes to the next patient opened.",
                    );
                    self.set_toast(msg, false);
                }
                self.record_device_intake();
            }
            None => {
                let msg = tr(
                    self.lang,
                    "Noch keine 10 s EKG vom Gerät.",
                    "No 10 s of ECG from the device yet.",
                );
                self.set_toast(msg, true);
            }
        }
    }

    /// The live page (only filled while it is shown: the ECG path is the
    /// most expensive thing the UI draws).
    pub(super) fn refresh_live(&self, ui: &AppWindow) {
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
                    tr(lang, "Geräteuhr weicht ab:", "device clock off by"),
                    o / 1000
                ),
                true,
            ),
            Some(o) => (
                format!("{} {:+} s", tr(lang, "Geräteuhr", "device clock"), o / 1000),
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
                        tr(lang, "Alarm", "Alarm"),
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
        lv.set_lead(ss(l.display_lead().unwrap_or_default()));
        let pleth = l.pleth_path(1000, 100.0, 6_000);
        // The capnogram shows whole breaths: 12 s.
        let co2 = l.capno_path(1000, 100.0, 12_000);
        let ecg_h = if pleth.is_empty() && co2.is_empty() {
            200.0
        } else {
            150.0
        };
        lv.set_ecg_height(ecg_h as f32);
        lv.set_ecg_path(ss(l.ecg_path(1000, ecg_h, 6_000, 2_000.0)));
        lv.set_pleth_path(ss(pleth));
        lv.set_co2_path(ss(co2));
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
                tr(lang, "Im Protokoll", "In the record"),
                intake.strips_saved().join(", ")
            );
        }
        if intake.strips_waiting() > 0 {
            strips.push_str(&format!(
                " · {} {}",
                intake.strips_waiting(),
                tr(
                    lang,
                    "wartend (kein Patient offen)",
                    "waiting (no patient open)"
                )
            ));
        }
        if intake.strips_dropped() > 0 {
            strips.push_str(&format!(
                " · {} {}",
                intake.strips_dropped(),
                tr(lang, "verworfen", "dropped")
            ));
        }
        lv.set_strips(ss(strips));
    }

    /// The live page's own frame (10 per second in the app): only while it
    /// is shown, and only the peripherals and that page.
    pub fn live_frame(&mut self, ui: &AppWindow) {
        if self.page != Page::Live {
            return;
        }
        self.poll_peripherals();
        self.refresh_live(ui);
    }

    /// Tests: an observation, as if the device supervisor had sent it.
    pub fn device_observation_for_test(&mut self, o: rettpad_devices::obs::Observation) {
        self.on_device(SupEvent::Observation(o));
    }

    /// Tests: a watcher event, as if the card watcher had sent it.
    pub fn card_event_for_test(&mut self, ev: CardEvent) {
        self.on_card(ev);
    }

    fn on_card(&mut self, ev: CardEvent) {
        self.card.status.apply(&ev);
        if let CardEvent::Pairing { result, .. } = ev {
            match result {
                Ok(rec) => self.card.pair_offer = Some(rec),
                Err(e) => {
                    let msg = match self.lang {
                        Lang::De => e.user_message_de().to_string(),
                        Lang::En => format!("Pairing tag not read ({e})."),
                    };
                    self.set_toast(msg, true);
                }
            }
            return;
        }
        if let CardEvent::Read { at_ms, result, .. } = ev {
            match result {
                Ok(data) => {
                    self.card.waiting = Some((data, at_ms));
                    if self.card_target().is_none() {
                        self.set_toast(
                            tr(
                                self.lang,
                                "Karte gelesen. Zum Übernehmen Einsatz und Patient öffnen.",
                                "Card read. Open a mission and patient to take it over.",
                            ),
                            false,
                        );
                    }
                }
                Err(e) => {
                    let msg = match self.lang {
                        Lang::De => format!(
                            "{} Ersatzverfahren: Daten bitte von Hand eingeben.",
                            e.user_message_de()
                        ),
                        Lang::En => format!("Card not read ({e}). Please enter the data by hand."),
                    };
                    self.set_toast(msg, true);
                }
            }
        }
    }

    /// The mission and patient a card read goes to: the open patient.
    fn card_target(&self) -> Option<(MissionId, PatientId)> {
        if self.page != Page::Editor {
            return None;
        }
        Some((self.pad.cursor.mission?, self.pad.cursor.patient?))
    }

    fn offer_waiting_card(&mut self) {
        if self.card.proposal.is_some() || self.card.waiting.is_none() {
            return;
        }
        let Some((m, p)) = self.card_target() else {
            return;
        };
        let Some((data, at_ms)) = self.card.waiting.take() else {
            return;
        };
        let store = self.pad.store().lock();
        let Some(st) = store.state(m) else {
            return;
        };
        match Proposal::build(st, p, &data, at_ms) {
            Some(pr) if pr.is_noop() => {
                drop(store);
                self.set_toast(
                    tr(
                        self.lang,
                        "Kartendaten sind bereits dokumentiert.",
                        "Card data is already documented.",
                    ),
                    false,
                );
            }
            Some(pr) => {
                drop(store);
                self.section = view::page_of(Section::Patient);
                self.card.proposal = Some(pr);
            }
            None => {}
        }
    }

    /// The confirmation tap. `all` also takes the differing values, which
    /// the dialog lists one by one (an explicit choice, never silent).
    pub(super) fn card_accept(&mut self, all: bool) {
        if self.card.pair_offer.is_some() {
            self.pair_accept();
            return;
        }
        let Some(pr) = self.card.proposal.take() else {
            return;
        };
        let Some(m) = self.pad.cursor.mission else {
            return;
        };
        let payloads = {
            let store = self.pad.store().lock();
            let Some(st) = store.state(m) else { return };
            let overwrite: Vec<&str> = if all {
                pr.conflicts().map(|i| i.field).collect()
            } else {
                Vec::new()
            };
            pr.confirm(st, &overwrite)
        };
        match payloads {
            Ok(ps) => {
                let n = ps.len();
                for p in ps {
                    if !self.apply(p) {
                        return;
                    }
                }
                let msg = match self.lang {
                    Lang::De => format!("{n} Angaben von der {} übernommen", pr.source.label_de()),
                    Lang::En => format!("{n} values taken from the card"),
                };
                self.set_toast(msg, false);
            }
            Err(e) => self.set_toast(e.user_message_de(), true),
        }
    }

    pub(super) fn card_dismiss(&mut self) {
        // The dialog shows the pairing offer first; dismiss that one only.
        if self.card.pair_offer.take().is_none() {
            self.card.proposal = None;
        }
    }

    /// "Koppeln": the tag's device replaces the current one, now and after
    /// a restart (kept encrypted in the vault). Values already due from the
    /// old device are recorded first.
    fn pair_accept(&mut self) {
        let Some(rec) = self.card.pair_offer.take() else {
            return;
        };
        let label = paired_label(&rec);
        let saved = pairing::encode(&rec)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                self.pad
                    .store()
                    .lock()
                    .meta_put(PAIRED_META, &bytes[..])
                    .map_err(|e| e.to_string())
            });
        self.poll_peripherals();
        let dc = rec.to_device_config(&label);
        // The agent learns the PIN before the new link's first connect.
        teach_bt_agent(vec![dc.clone()]);
        self.replace_device(&dc);
        match saved {
            Ok(()) => {
                tracing::info!(
                    protocol = rec.protocol.config_name(),
                    "device paired by tag"
                );
                let msg = match self.lang {
                    Lang::De => format!("Gerät gekoppelt: {label}"),
                    Lang::En => format!("Device paired: {label}"),
                };
                self.set_toast(msg, false);
            }
            Err(e) => {
                tracing::warn!(error = %e, "pairing not stored");
                self.set_toast(
                    tr(
                        self.lang,
                        "Gerät gekoppelt, aber nicht gespeichert: nach einem Neustart Karte erneut auflegen.",
                        "Device paired but not stored: hold the tag again after a restart.",
                    ),
                    true,
                );
            }
        }
    }

    /// Stops the current device's supervisor and starts `d`'s. Strips and
    /// values still waiting for the vault stay queued.
    fn replace_device(&mut self, d: &rettpad_devices::DeviceConfig) {
        self.dev.rx = None;
        if let Some(old) = self.dev._keep.take() {
            // Stopping joins the supervisor thread, which may sit in a link
            // timeout (an RFCOMM connect takes up to 10 s): not on the UI
            // thread.
            match old.downcast::<rettpad_devices::supervisor::Supervisor>() {
                Ok(sup) => {
                    let _ = std::thread::Builder::new()
                        .name("device-stop".into())
                        .spawn(move || drop(sup));
                }
                Err(other) => drop(other),
            }
        }
        self.dev.live = None;
        self.dev.state = None;
        self.start_configured_device(d);
    }

    fn start_configured_device(&mut self, d: &rettpad_devices::DeviceConfig) {
        match start_device(d, self.pad.clock().clone()) {
            Ok((rx, keep)) => self.attach_device(&d.label, rx, Some(keep)),
            Err(e) => {
                tracing::error!(error = %e, "device supervisor not started");
                self.dev.label = d.label.clone();
                self.dev.intake.set_device(&d.label);
                self.dev.state = Some(DeviceState::LinkLost {
                    reason_de: "Gerät nicht eingerichtet",
                    retry_in_ms: 0,
                });
            }
        }
    }

    /// The device paired by tag earlier, from the vault; `None` when there
    /// is none or it cannot be read (logged; configuration applies then).
    fn paired_from_vault(&self) -> Option<rettpad_devices::DeviceConfig> {
        let bytes = match self.pad.store().lock().meta_get(PAIRED_META) {
            Ok(b) => zeroize::Zeroizing::new(b?),
            Err(e) => {
                tracing::warn!(error = %e, "stored pairing not readable");
                return None;
            }
        };
        match pairing::decode(&bytes) {
            Ok(rec) => Some(rec.to_device_config(&paired_label(&rec))),
            Err(e) => {
                tracing::warn!(error = %e, "stored pairing invalid");
                None
            }
        }
    }

    /// The lines of the pairing dialog. The PIN is never shown.
    fn pair_lines(&self, rec: &PairingRecord) -> Vec<String> {
        let de = self.lang == Lang::De;
        let mut lines = vec![format!(
            "{}: {}",
            if de { "Gerät" } else { "Device" },
            protocol_label(rec.protocol)
        )];
        if let Some(m) = &rec.model {
            lines.push(format!("{}: {m}", if de { "Modell" } else { "Model" }));
        }
        if let Some(sn) = &rec.serial {
            lines.push(format!(
                "{}: {sn}",
                if de { "Seriennummer" } else { "Serial number" }
            ));
        }
        lines.push(format!(
            "{}: {}",
            if de {
                "Bluetooth-Adresse"
            } else {
                "Bluetooth address"
            },
            rec.address
        ));
        if !rec.pin.is_empty() {
            lines.push(tr(
                self.lang,
                "Kopplungs-PIN: von der Karte (wird nicht angezeigt)",
                "Pairing PIN: from the tag (not shown)",
            ));
        }
        if !self.dev.label.is_empty() {
            lines.push(match self.lang {
                Lang::De => format!("Ersetzt das bisherige Gerät: {}", self.dev.label),
                Lang::En => format!("Replaces the current device: {}", self.dev.label),
            });
        }
        lines
    }

    fn on_device(&mut self, ev: SupEvent) {
        match ev {
            SupEvent::State(s) => self.dev.state = Some(s),
            SupEvent::Observation(o) => {
                let offset = view::berlin_offset_ms(self.pad.clock().wall_ms());
                self.dev.intake.observe(&o, self.pad.cursor.patient, offset);
                if let Some(l) = &mut self.dev.live {
                    l.push(&o);
                    for s in l.take_strips() {
                        self.dev.intake.queue_strip(s);
                    }
                }
            }
        }
    }

    /// The name of the current device ("" when none).
    pub fn device_label(&self) -> &str {
        &self.dev.label
    }

    /// True when a device is configured (the vitals page offers the button).
    pub(super) fn device_configured(&self) -> bool {
        self.dev.rx.is_some() || self.dev.state.is_some()
    }

    pub(super) fn device_streaming(&self) -> bool {
        self.dev.state.as_ref().is_some_and(DeviceState::is_ok)
    }

    /// "übernehmen" has something to take for the open patient.
    pub(super) fn device_values_ready(&self) -> bool {
        self.device_streaming() && self.dev.intake.values_ready(self.pad.cursor.patient)
    }

    /// "Vom Monitor übernehmen": the monitor's current values as one vitals
    /// entry of the open patient.
    pub(super) fn take_from_device(&mut self) {
        let Some(p) = self.pad.cursor.patient else {
            return;
        };
        let payload = self.dev.intake.take_now(p);
        match payload {
            Some(pl) => {
                if self.apply(pl) {
                    let msg = tr(
                        self.lang,
                        "Vitalwerte vom Monitor übernommen",
                        "Vitals taken from the monitor",
                    );
                    self.set_toast(msg, false);
                }
            }
            None => self.set_toast(
                tr(
                    self.lang,
                    "Noch keine aktuellen Werte vom Monitor – bitte von Hand eingeben.",
                    "No current values from the monitor yet – please enter by hand.",
                ),
                true,
            ),
        }
    }

    /// Short, for the status bar pill (the bar must keep its lock button).
    pub(super) fn card_state_text(&self) -> String {
        if self.card.rx.is_none() && self.card.status.service.is_none() {
            return tr(self.lang, "aus", "off");
        }
        let st = &self.card.status;
        let (de, en) = match (st.service, st.readers.is_empty(), st.cards.is_empty()) {
            (None, _, _) => ("…", "…"),
            (Some(false), _, _) => ("Dienst aus", "service down"),
            (Some(true), true, _) => ("kein Leser", "no reader"),
            (Some(true), false, true) => ("bereit", "ready"),
            (Some(true), false, false) => ("Karte steckt", "card in"),
        };
        tr(self.lang, de, en)
    }

    /// Short, for the status bar pill.
    pub(super) fn device_state_text(&self) -> String {
        let (de, en) = match &self.dev.state {
            Some(DeviceState::Streaming { .. }) => ("verbunden", "connected"),
            Some(DeviceState::Connecting { .. }) | Some(DeviceState::Handshaking) => {
                ("verbindet …", "connecting …")
            }
            Some(DeviceState::LinkLost { .. }) => ("getrennt", "link lost"),
            Some(DeviceState::WrongDevice { .. }) => ("falsches Gerät!", "wrong device!"),
            Some(DeviceState::Stopped) => ("aus", "off"),
            None if self.dev.rx.is_some() => ("…", "…"),
            None => ("keine", "none"),
        };
        tr(self.lang, de, en)
    }

    /// The long form with the device's name, for the vitals page hint.
    pub(super) fn device_state_long(&self) -> Option<String> {
        let s = self.dev.state.as_ref()?;
        Some(match self.lang {
            Lang::De => s.text_de(&self.dev.label),
            Lang::En => s.text_en(&self.dev.label),
        })
    }

    pub(super) fn refresh_peripherals(&self, ui: &AppWindow) {
        let app = ui.global::<AppState>();
        app.set_card_state(ss(self.card_state_text()));
        app.set_device_state(ss(self.device_state_text()));
        let c = ui.global::<CardAdapter>();
        c.set_pairing(self.card.pair_offer.is_some());
        if let Some(rec) = &self.card.pair_offer {
            c.set_visible(true);
            sync_model(
                &c.get_lines(),
                self.pair_lines(rec).into_iter().map(ss).collect(),
                |m| c.set_lines(m),
            );
            c.set_has_conflicts(false);
            return;
        }
        match &self.card.proposal {
            Some(pr) => {
                c.set_visible(true);
                sync_model(
                    &c.get_lines(),
                    pr.lines_de().into_iter().map(ss).collect(),
                    |m| c.set_lines(m),
                );
                c.set_has_conflicts(pr.conflicts().next().is_some());
            }
            None => c.set_visible(false),
        }
    }
}

impl Controller {
    /// Starts what the configuration names: the card watcher (or the demo
    /// card) and the first paired device's supervisor (or the in-process
    /// simulator). Failures are logged and shown in the status bar; the
    /// app keeps running without the peripheral.
    pub fn attach_from_config(&mut self) {
        self.attach_handover_from_config();
        match self.pad.config().card_reader.as_str() {
            "sim" => self.attach_sim_card(),
            "pcsc" => {
                let (tx, rx) = std::sync::mpsc::channel();
                let mut wc = rettpad_pad::watcher::WatcherConfig::new(self.pad.clock().clone());
                wc.pairing = self.pad.config().pairing.clone();
                match rettpad_pad::watcher::Watcher::spawn(tx, wc) {
                    Ok(w) => self.attach_card(rx, Some(Box::new(w))),
                    Err(e) => tracing::error!(error = %e, "card watcher not started"),
                }
            }
            _ => {}
        }
        // A device paired by tag is the crew's later, explicit choice: it
        // wins over the configured one.
        let paired = self.paired_from_vault();
        teach_bt_agent(
            self.pad
                .config()
                .devices
                .iter()
                .cloned()
                .chain(paired.clone())
                .collect(),
        );
        let Some(d) = paired.or_else(|| self.pad.config().devices.first().cloned()) else {
            return;
        };
        self.start_configured_device(&d);
    }
}

/// Tells the pad's BlueZ agent the Bluetooth devices among `devices`, so
/// it pairs them with their records' PINs before an RFCOMM connect; starts
/// the agent on a worker thread (D-Bus may take a while) when none runs.
fn teach_bt_agent(devices: Vec<rettpad_devices::DeviceConfig>) {
    use rettpad_devices::bt_agent::{self, BtPairError, PairingAgentPolicy};
    let devices: Vec<_> = devices
        .into_iter()
        .filter(|d| d.address.is_some())
        .collect();
    if devices.is_empty() {
        return;
    }
    let add = move |p: &mut PairingAgentPolicy| {
        for d in &devices {
            p.add_config(d);
        }
    };
    if let Some(a) = bt_agent::global() {
        a.update_policy(add);
        return;
    }
    let started = std::thread::Builder::new()
        .name("bt-agent-start".into())
        .spawn(move || match bt_agent::ensure_global(add) {
            Ok(()) => {}
            Err(BtPairError::NotBuilt) => {
                tracing::debug!("this build has no BlueZ pairing agent");
            }
            Err(e) => tracing::warn!(error = %e, "BlueZ pairing agent not started"),
        });
    if let Err(e) = started {
        tracing::warn!(error = %e, "BlueZ pairing agent thread not started");
    }
}

/// "MP30 SN DE00000001": the model (or the protocol) and the serial.
fn paired_label(rec: &PairingRecord) -> String {
    let name = rec
        .model
        .clone()
        .unwrap_or_else(|| protocol_label(rec.protocol).to_string());
    match &rec.serial {
        Some(sn) => format!("{name} SN {sn}"),
        None => name,
    }
}

fn protocol_label(p: DeviceProtocol) -> &'static str {
    match p {
        DeviceProtocol::IntelliVue => "Philips IntelliVue",
        DeviceProtocol::Datex => "GE Datex-Ohmeda S/5",
        DeviceProtocol::Ble => "Bluetooth LE",
    }
}

fn start_device(
    d: &rettpad_devices::DeviceConfig,
    clock: rettpad_clock::SharedClock,
) -> Result<(Receiver<SupEvent>, Keep), String> {
    use rettpad_devices::ble_driver;
    use rettpad_devices::driver::Expected;
    #[cfg(feature = "demo")]
    use rettpad_devices::sim;
    use rettpad_devices::supervisor::{LinkSpec, Supervisor, SupervisorConfig};
    let expected = Expected {
        serial: d.serial.clone(),
        model: d.model.clone(),
    };
    // The sans-IO driver for the protocol, and its serial line settings.
    let (driver, settings) = match d.protocol.as_str() {
        "ble" => (
            Box::new(ble_driver::BleDriver::new(
                expected,
                ble_driver::BleConfig::default(),
            )) as Box<dyn rettpad_devices::driver::Driver>,
            rettpad_devices::link::SerialSettings::INTELLIVUE,
        ),
        p => rettpad_devices::driver_for(p, expected, d.waves.as_deref())?,
    };
    #[cfg(not(feature = "demo"))]
    if d.link == "sim" {
        return Err("this build has no device simulators (link = \"sim\")".into());
    }
    #[cfg(feature = "demo")]
    let link = if d.link == "sim" {
        // Demo: the simulator of the same protocol on a loopback port.
        let addr = match d.protocol.as_str() {
            "datex" => sim::spawn_loopback_datex(
                Default::default(),
                sim::Scenario::Stable,
                1,
                Default::default(),
            ),
            "intellivue" => {
                let mut mc = rettpad_devices::intellivue::monitor::MonitorConfig::default();
                if let Some(s) = &d.serial {
                    mc.serial = s.clone();
                }
                sim::spawn_loopback(mc, sim::Scenario::Stable, 1, Default::default())
            }
            p => return Err(format!("no simulator for protocol {p} in the demo")),
        }
        .map_err(|e| format!("simulator: {e}"))?;
        LinkSpec::Tcp(addr)
    } else {
        LinkSpec::from_config(&d.link, settings)?
    };
    #[cfg(not(feature = "demo"))]
    let link = LinkSpec::from_config(&d.link, settings)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let sup = Supervisor::spawn(
        SupervisorConfig {
            link,
            backoff_min_ms: 500,
            backoff_max_ms: 15_000,
        },
        driver,
        clock,
        tx,
    )
    .map_err(|e| format!("thread: {e}"))?;
    Ok((rx, Box::new(sup)))
}

/// "vor 3 s", "vor 2 min".
fn age_text(ms: i64, lang: Lang) -> String {
    let s = ms / 1000;
    match lang {
        Lang::De if s < 120 => format!("vor {s} s"),
        Lang::De => format!("vor {} min", s / 60),
        Lang::En if s < 120 => format!("{s} s ago"),
        Lang::En => format!("{} min ago", s / 60),
    }
}
