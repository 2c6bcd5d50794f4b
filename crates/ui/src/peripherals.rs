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
use rettpad_devices::pairing::{DeviceProtocol, PairingRecord};
use rettpad_devices::supervisor::{DeviceState, SupEvent};
use rettpad_pad::intake::{DeviceIntake, IntakeEvent};
use rettpad_pad::watcher::{CardEvent, ReaderStatus};
use std::any::Any;
use std::sync::mpsc::Receiver;

/// Keeps a watcher/supervisor thread alive as long as the UI holds it.
pub type Keep = Box<dyn Any>;

#[path = "live_ui.rs"]
mod live_ui;
#[path = "pairing_ui.rs"]
mod pairing_ui;

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
    /// The live page's wave boxes (made when the page first draws).
    waves: std::cell::RefCell<Option<live_ui::LiveWaves>>,
    /// Live frames drawn (every 5th rebuilds the whole page).
    frames: u64,
    /// The page the live page returns to.
    back: Option<Page>,
    _keep: Option<Keep>,
}

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
            self.card_event(e);
        }
        for e in drain(&mut self.dev.rx) {
            self.device_event(e);
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
                    let msg = format!("{}: {label}", msg::ECG_STRIP_SAVED.message(self.lang));
                    self.set_toast(msg, false);
                }
                IntakeEvent::Refused(n) => self.set_toast(n.message(self.lang), true),
                IntakeEvent::ValuesDropped(k) => {
                    self.set_toast(msg::values_dropped(k).message(self.lang), true);
                }
            }
        }
    }

    /// Settings: minutes between automatic vitals sets (0: only on tap).
    pub(super) fn set_device_every_min(&mut self, min: u32) {
        self.dev.intake.set_every_min(min);
    }

    /// One event of the card watcher (its channel is drained into this).
    pub fn card_event(&mut self, ev: CardEvent) {
        self.card.status.apply(&ev);
        // A staff card instead of the PIN, at the lock screen only.
        if let CardEvent::Badge { uid_sha256, .. } = &ev {
            if self.page == Page::Lock
                && let Some(u) = self.pad.badge(uid_sha256)
            {
                self.show_unlock(u);
            }
            return;
        }
        if let CardEvent::Pairing { result, .. } = ev {
            match result {
                Ok(rec) => self.card.pair_offer = Some(rec),
                Err(e) => {
                    tracing::warn!(error = %e, "pairing tag not read");
                    self.set_toast(e.message(self.lang), true);
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
                            msg::CARD_READ_OPEN_A_MISSION_AND_PATIENT_TO.message(self.lang),
                            false,
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "card not read");
                    self.set_toast(e.message(self.lang), true);
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
                    msg::CARD_DATA_IS_ALREADY_DOCUMENTED.message(self.lang),
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
                let msg = msg::taken_from_card(n, pr.source.label_de());
                self.set_toast(msg.message(self.lang), false);
            }
            Err(e) => self.set_toast(e.message(Lang::De), true),
        }
    }

    pub(super) fn card_dismiss(&mut self) {
        // The dialog shows the pairing offer first; dismiss that one only.
        if self.card.pair_offer.take().is_none() {
            self.card.proposal = None;
        }
    }

    /// One event of the device supervisor (its channel is drained into this).
    pub fn device_event(&mut self, ev: SupEvent) {
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
                    let msg = msg::VITALS_TAKEN_FROM_THE_MONITOR.message(self.lang);
                    self.set_toast(msg, false);
                }
            }
            None => self.set_toast(
                msg::NO_CURRENT_VALUES_FROM_THE_MONITOR_YET_P.message(self.lang),
                true,
            ),
        }
    }

    /// Short, for the status bar pill (the bar must keep its lock button).
    pub(super) fn card_state_text(&self) -> String {
        if self.card.rx.is_none() && self.card.status.service.is_none() {
            return msg::OFF.message(self.lang);
        }
        let st = &self.card.status;
        let text = match (st.service, st.readers.is_empty(), st.cards.is_empty()) {
            (None, _, _) => msg::pill::PENDING,
            (Some(false), _, _) => msg::pill::SERVICE_DOWN,
            (Some(true), true, _) => msg::pill::NO_READER,
            (Some(true), false, true) => msg::pill::READY,
            (Some(true), false, false) => msg::pill::CARD_IN,
        };
        text.message(self.lang)
    }

    /// Short, for the status bar pill.
    pub(super) fn device_state_text(&self) -> String {
        let text = match &self.dev.state {
            Some(DeviceState::Streaming { .. }) => msg::pill::CONNECTED,
            Some(DeviceState::Connecting { .. }) | Some(DeviceState::Handshaking) => {
                msg::pill::CONNECTING
            }
            Some(DeviceState::LinkLost { .. }) => msg::pill::LINK_LOST,
            Some(DeviceState::WrongDevice { .. }) => msg::pill::WRONG_DEVICE,
            Some(DeviceState::Stopped) => msg::OFF,
            None if self.dev.rx.is_some() => msg::pill::PENDING,
            None => msg::pill::NONE,
        };
        text.message(self.lang)
    }

    /// The long form with the device's name, for the vitals page hint.
    pub(super) fn device_state_long(&self) -> Option<String> {
        let s = self.dev.state.as_ref()?;
        Some(s.text(&self.dev.label, self.lang))
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
                    pr.lines(self.lang).into_iter().map(ss).collect(),
                    |m| c.set_lines(m),
                );
                c.set_has_conflicts(pr.conflicts().next().is_some());
            }
            None => c.set_visible(false),
        }
    }
}
