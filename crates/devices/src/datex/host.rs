//! The pad's side of the S/5 computer interface, sans-IO.
//!
//! ```text
//! Negotiating ──numeric request at every DRI level, again every 2 s──┐
//!   ▲                                                                │ first valid record:
//!   │ silent twice, link lost                                        ▼ lock to its level
//!   └──────────── Streaming ◀── identity ok ── identify ── mismatch ──▶ WrongDevice (stop requests)
//!                  │  silent once: re-request at the locked level, gap
//! ```
//!
//! Identification: the S/5 reports **no serial number, model name or
//! firmware** in these records. What can be checked is that the device
//! speaks the S/5 computer interface and at which DRI level it answers.
//! The reported identity is therefore `model = "S/5 DRI-Lnn"` (nn = the
//! level, e.g. `S/5 DRI-L09` = 2005). A pairing record may name
//! [`MODEL_FAMILY`] (`"S/5"`, any level) or the full string (pins the
//! level); a pairing record that expects a serial can never be satisfied
//! and gives `WrongDevice`, because an unverifiable device is not trusted.
//!
//! NIBP: the basic class carries the last NIBP result but not the time it
//! was measured, and repeats it in every record. The driver emits it once
//! per change of the (sys, dia, mean) triple, stamped with the record time
//! it was first seen, and keeps that memory across reconnects.
//!
//! Alarms: once streaming, the driver asks for the alarm status and for
//! differential mode (the monitor then sends a `dri_al_msg` whenever its
//! alarm display changes). Each message lists up to five displayed alarms;
//! an `Alarm` event is emitted when a (text, colour) pair appears, not on
//! repeats; one that leaves the display and comes back is a new event.

use super::frame::{Deframer, encode_frame};
use super::record::{
    self, AlarmRequest, AlarmStatus, BasicField, DxValue, MAINTYPE_ALARM, MAINTYPE_PHDB,
    MAINTYPE_WAVE, PhdbRequest, Record, WaveRequest, WaveSub,
};
use crate::driver::{Action, Counters, Driver, DriverStatus, Expected};
use crate::obs::{
    AlarmPriority, Decimal, DeviceEvent, DeviceInfo, DeviceTime, EventKind, HostTime, MeasStatus,
    Metric, Numeric, Observation, Reading, Scale, Timestamps, Unit, WaveChunk,
};

/// The model a pairing record names to accept any S/5 DRI level.
pub const MODEL_FAMILY: &str = "S/5";
pub const MANUFACTURER: &str = "GE Datex-Ohmeda";
/// Vendor codes kept in [`Metric::Other`]: numerics by their byte offset
/// in the basic block, waves by their wave id.
pub const DATEX_NUMERIC_BASE: u32 = 0x0DA7_0000;
pub const DATEX_WAVE_BASE: u32 = 0x0DA8_0000;

/// The reported model for a DRI level.
pub fn model_for_level(level: u8) -> String {
    format!("{MODEL_FAMILY} DRI-L{level:02}")
}

pub fn wave_metric(id: u8) -> Metric {
    Metric::Other(DATEX_WAVE_BASE | u32::from(id))
}

#[derive(Debug, Clone)]
pub struct HostConfig {
    pub expected: Expected,
    /// DRI levels tried while negotiating, in this order.
    pub levels: Vec<u8>,
    /// Numeric transmit interval in seconds (the S/5 sends on its own).
    pub tx_interval_s: i16,
    /// Waves to stream (at most 8; ECG1, pleth and CO2 by default).
    pub waves: Vec<u8>,
    /// Negotiation retry.
    pub retry_ms: u64,
    /// No valid record for this long ⇒ re-request; twice ⇒ renegotiate.
    pub silence_ms: u64,
    /// Ask for alarm status messages (a 510-byte record per change).
    pub alarms: bool,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            expected: Expected::default(),
            levels: record::DRI_LEVELS.to_vec(),
            tx_interval_s: 5,
            waves: vec![record::WAVE_ECG1, record::WAVE_PLETH, record::WAVE_CO2],
            retry_ms: 2000,
            silence_ms: 12_000,
            alarms: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostState {
    Negotiating,
    Streaming,
    WrongDevice,
}

/// What the numeric table maps: field, metric, unit, episodic.
const NUMERICS: &[(BasicField, Metric, Unit)] = &[
    (record::ECG_HR, Metric::HeartRate, Unit::PerMin),
    (record::SPO2, Metric::SpO2, Unit::Percent),
    (record::SPO2_PR, Metric::PulseRate, Unit::PerMin),
    (
        record::P1_SYS,
        Metric::Other(DATEX_NUMERIC_BASE | 22),
        Unit::MmHg,
    ),
    (
        record::P1_DIA,
        Metric::Other(DATEX_NUMERIC_BASE | 24),
        Unit::MmHg,
    ),
    (
        record::P1_MEAN,
        Metric::Other(DATEX_NUMERIC_BASE | 26),
        Unit::MmHg,
    ),
];

/// Sources of one vital sign in order of preference: the first slot with a
/// value is taken; without any, the first slot's special is reported. One
/// numeric per record, so a second source is never dropped as a repeat.
const RESP_RATE_SOURCES: [BasicField; 3] =
    [record::CO2_RR, record::ECG_IMP_RR, record::FLOW_VOL_RR];
const TEMP_SOURCES: [BasicField; 4] = [
    record::T1_TEMP,
    record::T2_TEMP,
    record::T3_TEMP,
    record::T4_TEMP,
];

fn first_value(p: &record::Phdb<'_>, sources: &[BasicField]) -> Reading {
    sources
        .iter()
        .map(|f| p.get(*f).reading(f.exponent))
        .find(|r| r.is_value())
        .or_else(|| sources.first().map(|f| p.get(*f).reading(f.exponent)))
        .unwrap_or(Reading::Invalid)
}

const NIBP: [(BasicField, Metric); 3] = [
    (record::NIBP_SYS, Metric::NibpSys),
    (record::NIBP_DIA, Metric::NibpDia),
    (record::NIBP_MEAN, Metric::NibpMean),
];

#[derive(Debug)]
pub struct Host {
    cfg: HostConfig,
    state: HostState,
    deframer: Deframer,
    level: Option<u8>,
    last_rx_ms: u64,
    last_request_ms: Option<u64>,
    silent_rounds: u32,
    info: DeviceInfo,
    last_nibp: Option<[DxValue; 3]>,
    last_data_wall: Option<i64>,
    gap_open: bool,
    records_rejected: u64,
    records_ignored: u64,
    renegotiations: u64,
    observations: u64,
    /// Alarms on the monitor's display: (text, colour).
    active_alarms: std::collections::HashSet<(String, u8)>,
}

impl Host {
    pub fn new(cfg: HostConfig) -> Host {
        Host {
            cfg,
            state: HostState::Negotiating,
            deframer: Deframer::new(),
            level: None,
            last_rx_ms: 0,
            last_request_ms: None,
            silent_rounds: 0,
            info: DeviceInfo::default(),
            last_nibp: None,
            last_data_wall: None,
            gap_open: false,
            records_rejected: 0,
            records_ignored: 0,
            renegotiations: 0,
            observations: 0,
            active_alarms: std::collections::HashSet::new(),
        }
    }

    pub fn state(&self) -> HostState {
        self.state
    }

    /// The DRI level the monitor answered, once locked.
    pub fn level(&self) -> Option<u8> {
        self.level
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Valid records not used: trend PHDB subrecords, unknown wave ids
    /// and alarm subrecord types, levels not configured.
    pub fn records_ignored(&self) -> u64 {
        self.records_ignored
    }

    /// Whether `info` satisfies the pairing record (see the module doc).
    pub fn identity_matches(expected: &Expected, info: &DeviceInfo) -> bool {
        if expected.serial.is_some() {
            return false;
        }
        match expected.model.as_deref().map(str::trim) {
            None => true,
            Some(m) => m == MODEL_FAMILY || Some(m) == info.model.as_deref(),
        }
    }

    fn send(&self, rec: &[u8], out: &mut Vec<Action>) {
        let mut w = Vec::with_capacity(rec.len() + 8);
        // Our requests are far below the frame cap.
        if encode_frame(rec, &mut w).is_ok() {
            out.push(Action::Send(w));
        }
    }

    fn numeric_request(&self, level: u8, tx: i16, out: &mut Vec<Action>) {
        let r = PhdbRequest {
            record_type: record::PHDB_DISPLAYED,
            tx_interval_s: tx,
            class_bf: record::CLASS_BASIC,
        };
        self.send(&r.encode(level), out);
    }

    fn wave_request(&self, level: u8, start: bool, out: &mut Vec<Action>) {
        if self.cfg.waves.is_empty() {
            return;
        }
        let r = WaveRequest {
            start,
            waves: self.cfg.waves.clone(),
        };
        self.send(&r.encode(level), out);
    }

    fn negotiate(&mut self, now: HostTime, out: &mut Vec<Action>) {
        for &l in &self.cfg.levels {
            self.numeric_request(l, self.cfg.tx_interval_s, out);
        }
        self.last_request_ms = Some(now.mono_ms);
    }

    fn alarm_request(&self, level: u8, cmd: i16, out: &mut Vec<Action>) {
        if self.cfg.alarms {
            self.send(&AlarmRequest { cmd }.encode(level), out);
        }
    }

    fn request_all(&mut self, level: u8, now: HostTime, out: &mut Vec<Action>) {
        self.numeric_request(level, self.cfg.tx_interval_s, out);
        self.wave_request(level, true, out);
        self.alarm_request(level, record::AL_CMD_XMIT_STATUS, out);
        self.alarm_request(level, record::AL_CMD_ENTER_DIFFMODE, out);
        self.last_request_ms = Some(now.mono_ms);
    }

    fn lose_stream(&mut self, now: HostTime) {
        if self.state == HostState::WrongDevice {
            return;
        }
        if self.state == HostState::Streaming {
            self.gap_open = true;
            self.renegotiations += 1;
        }
        self.state = HostState::Negotiating;
        self.level = None;
        self.silent_rounds = 0;
        self.last_request_ms = None;
        self.last_rx_ms = now.mono_ms;
    }

    fn on_record(&mut self, bytes: &[u8], now: HostTime, out: &mut Vec<Action>) {
        let rec = match Record::parse(bytes) {
            Ok(r) => r,
            Err(e) => {
                self.records_rejected += 1;
                tracing::debug!(target: "devices", "datex: record refused: {e}");
                return;
            }
        };
        let h = rec.header;
        match self.state {
            HostState::WrongDevice => return,
            HostState::Negotiating => {
                if !self.cfg.levels.contains(&h.dri_level) {
                    self.records_ignored += 1;
                    return;
                }
                self.identify(h.dri_level, h.r_time, now, out);
                if self.state != HostState::Streaming {
                    return;
                }
            }
            HostState::Streaming => {
                if Some(h.dri_level) != self.level {
                    self.records_ignored += 1;
                    return;
                }
            }
        }
        self.last_rx_ms = now.mono_ms;
        self.silent_rounds = 0;
        match h.r_maintype {
            MAINTYPE_PHDB => self.on_phdb(&rec, now, out),
            MAINTYPE_WAVE => self.on_waves(&rec, now, out),
            MAINTYPE_ALARM => self.on_alarms(&rec, now, out),
            t => {
                self.records_rejected += 1;
                tracing::debug!(target: "devices", "datex: {}", record::RecordError::UnknownMaintype(t));
            }
        }
    }

    fn identify(&mut self, level: u8, r_time: u32, now: HostTime, out: &mut Vec<Action>) {
        self.level = Some(level);
        self.info = DeviceInfo {
            manufacturer: Some(MANUFACTURER.into()),
            model: Some(model_for_level(level)),
            serial: None,
            system_id: None,
            clock: Some(device_time(r_time)),
        };
        let info = self.info.clone();
        out.push(Action::Emit(Observation::Info(info.clone())));
        self.observations += 1;
        if Self::identity_matches(&self.cfg.expected, &info) {
            tracing::info!(target: "devices", "datex: locked to DRI level {level:#04x}");
            out.push(Action::Status(DriverStatus::Identified(info)));
            self.state = HostState::Streaming;
            self.silent_rounds = 0;
            self.request_all(level, now, out);
            out.push(Action::Status(DriverStatus::Streaming));
        } else {
            tracing::warn!(target: "devices", "datex: device identity does not match the pairing record");
            self.state = HostState::WrongDevice;
            out.push(Action::Status(DriverStatus::WrongDevice { reported: info }));
            // Ask the monitor to stop sending.
            self.numeric_request(level, 0, out);
            self.wave_request(level, false, out);
            self.alarm_request(level, record::AL_CMD_EXIT_DIFFMODE, out);
        }
    }

    /// The data gap, before the first data after a loss.
    fn data_arrives(&mut self, time: Timestamps, out: &mut Vec<Action>) {
        if self.gap_open {
            self.gap_open = false;
            if let Some(from) = self.last_data_wall {
                out.push(Action::Emit(Observation::Event(DeviceEvent {
                    kind: EventKind::DataGap {
                        from_host_ms: from,
                        to_host_ms: time.host.wall_ms,
                    },
                    time,
                })));
                self.observations += 1;
            }
        }
        self.last_data_wall = Some(time.host.wall_ms);
    }

    fn emit(&mut self, o: Observation, out: &mut Vec<Action>) {
        out.push(Action::Emit(o));
        self.observations += 1;
    }

    fn on_phdb(&mut self, rec: &Record<'_>, now: HostTime, out: &mut Vec<Action>) {
        for (ty, sr) in rec.subrecords() {
            if ty != record::PHDB_DISPLAYED {
                self.records_ignored += 1;
                continue;
            }
            let p = match record::Phdb::parse(sr) {
                Ok(p) => p,
                Err(e) => {
                    self.records_rejected += 1;
                    tracing::debug!(target: "devices", "datex: {e}");
                    continue;
                }
            };
            let time = Timestamps {
                device: Some(device_time(p.time)),
                host: now,
                seq: Some(u64::from(rec.header.r_nbr)),
            };
            self.data_arrives(time, out);
            let numeric = |metric, reading: Reading, unit, episodic| {
                Observation::Numeric(Numeric {
                    metric,
                    reading,
                    unit,
                    status: status_of(reading),
                    time,
                    episodic,
                })
            };
            for &(f, m, u) in NUMERICS {
                let r = p.get(f).reading(f.exponent);
                self.emit(numeric(m, r, u, false), out);
            }
            self.emit(
                numeric(
                    Metric::RespRate,
                    first_value(&p, &RESP_RATE_SOURCES),
                    Unit::PerMin,
                    false,
                ),
                out,
            );
            self.emit(
                numeric(
                    Metric::Temperature,
                    first_value(&p, &TEMP_SOURCES),
                    Unit::Celsius,
                    false,
                ),
                out,
            );
            self.emit(
                numeric(Metric::EtCo2, p.etco2_mmhg(), Unit::MmHg, false),
                out,
            );
            let nibp = NIBP.map(|(f, _)| p.get(f));
            let has_value = nibp.iter().any(|v| matches!(v, DxValue::Value(_)));
            if has_value && self.last_nibp != Some(nibp) {
                self.last_nibp = Some(nibp);
                for ((f, m), v) in NIBP.iter().zip(nibp) {
                    self.emit(numeric(*m, v.reading(f.exponent), Unit::MmHg, true), out);
                }
            }
        }
    }

    fn on_alarms(&mut self, rec: &Record<'_>, now: HostTime, out: &mut Vec<Action>) {
        let time = Timestamps {
            device: Some(device_time(rec.header.r_time)),
            host: now,
            seq: Some(u64::from(rec.header.r_nbr)),
        };
        for (ty, sr) in rec.subrecords() {
            if ty != record::SR_AL_STATUS {
                self.records_ignored += 1;
                continue;
            }
            let st = match AlarmStatus::parse(sr) {
                Ok(st) => st,
                Err(e) => {
                    self.records_rejected += 1;
                    tracing::debug!(target: "devices", "datex: {e}");
                    continue;
                }
            };
            self.data_arrives(time, out);
            let mut now_active = std::collections::HashSet::new();
            for d in st.slots {
                let priority = match d.color {
                    1 => AlarmPriority::Low,
                    2 => AlarmPriority::Medium,
                    3 => AlarmPriority::High,
                    _ => continue,
                };
                if d.text.is_empty() {
                    continue;
                }
                let key = (d.text.clone(), d.color);
                if !now_active.insert(key.clone()) || self.active_alarms.contains(&key) {
                    continue;
                }
                // Limit alarms and asystole/apnoea are about the patient;
                // the rest the record does not say.
                let physiological =
                    (matches!(d.alarm_type, 1 | 2) || d.is_asy || d.is_apnea).then_some(true);
                self.emit(
                    Observation::Event(DeviceEvent {
                        kind: EventKind::Alarm {
                            code: 0,
                            source: u32::from(d.alsrc_id),
                            priority,
                            physiological,
                            text: d.text,
                        },
                        time,
                    }),
                    out,
                );
            }
            self.active_alarms = now_active;
        }
    }

    fn on_waves(&mut self, rec: &Record<'_>, now: HostTime, out: &mut Vec<Action>) {
        let time = Timestamps {
            device: Some(device_time(rec.header.r_time)),
            host: now,
            seq: Some(u64::from(rec.header.r_nbr)),
        };
        let mut announced = false;
        for (id, sr) in rec.subrecords() {
            let Some(def) = record::wave_def(id) else {
                self.records_ignored += 1;
                continue;
            };
            let w = match WaveSub::parse(sr) {
                Ok(w) => w,
                Err(e) => {
                    self.records_rejected += 1;
                    tracing::debug!(target: "devices", "datex: {e}");
                    continue;
                }
            };
            if !announced {
                self.data_arrives(time, out);
                announced = true;
            }
            let specials = w
                .samples
                .iter()
                .filter(|&&s| s < record::DATA_INVALID_LIMIT)
                .count();
            let status = if specials == 0 {
                MeasStatus::default()
            } else if specials == w.samples.len() {
                MeasStatus::default().with(MeasStatus::INVALID)
            } else {
                MeasStatus::default().with(MeasStatus::QUESTIONABLE)
            };
            let chunk = WaveChunk {
                channel: wave_metric(id),
                t0: time,
                sample_period_us: def.sample_period_us,
                scale: Some(Scale {
                    lower_abs: Reading::Value(Decimal::new(0, def.exponent)),
                    upper_abs: Reading::Value(Decimal::new(1, def.exponent)),
                    lower_raw: 0,
                    upper_raw: 1,
                }),
                unit: def.unit,
                samples: w.samples.iter().map(|&s| i32::from(s)).collect(),
                status,
            };
            self.emit(Observation::Wave(chunk), out);
        }
    }
}

/// Monitor seconds (local civil time) as a [`DeviceTime`].
pub fn device_time(secs: u32) -> DeviceTime {
    DeviceTime {
        civil_ms: i64::from(secs) * 1000,
    }
}

fn status_of(r: Reading) -> MeasStatus {
    match r {
        Reading::Invalid => MeasStatus::default().with(MeasStatus::INVALID),
        _ => MeasStatus::default(),
    }
}

impl Driver for Host {
    fn start(&mut self, now: HostTime, out: &mut Vec<Action>) {
        if self.state == HostState::WrongDevice {
            return;
        }
        self.deframer.reset();
        self.lose_stream(now);
        out.push(Action::Status(DriverStatus::Handshaking));
        self.negotiate(now, out);
    }

    fn on_bytes(&mut self, bytes: &[u8], now: HostTime, out: &mut Vec<Action>) {
        let mut records: Vec<Vec<u8>> = Vec::new();
        self.deframer.push(bytes, |r| records.push(r.to_vec()));
        for r in records {
            self.on_record(&r, now, out);
        }
    }

    fn on_tick(&mut self, now: HostTime, out: &mut Vec<Action>) {
        let since = |t: u64| now.mono_ms.saturating_sub(t);
        match self.state {
            HostState::WrongDevice => {}
            HostState::Negotiating => {
                if self
                    .last_request_ms
                    .is_none_or(|t| since(t) >= self.cfg.retry_ms)
                {
                    self.negotiate(now, out);
                }
            }
            HostState::Streaming => {
                if since(self.last_rx_ms) < self.cfg.silence_ms {
                    return;
                }
                self.silent_rounds += 1;
                self.gap_open = true;
                if self.silent_rounds >= 2 {
                    tracing::info!(target: "devices", "datex: still silent, renegotiating the DRI level");
                    self.lose_stream(now);
                    out.push(Action::Status(DriverStatus::Handshaking));
                    self.negotiate(now, out);
                } else if let Some(l) = self.level {
                    tracing::info!(target: "devices", "datex: silent for {} ms, requesting again", since(self.last_rx_ms));
                    self.renegotiations += 1;
                    self.last_rx_ms = now.mono_ms;
                    self.request_all(l, now, out);
                }
            }
        }
    }

    fn on_link_lost(&mut self, now: HostTime) {
        self.lose_stream(now);
        self.deframer.reset();
    }

    fn counters(&self) -> Counters {
        let s = self.deframer.stats();
        Counters {
            frames_ok: s.frames,
            frames_rejected: s.rejected(),
            fcs_errors: s.checksum_errors,
            pdus_rejected: self.records_rejected,
            reassociations: self.renegotiations,
            observations: self.observations,
        }
    }

    fn wrong_device(&self) -> bool {
        self.state == HostState::WrongDevice
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datex::monitor::{Monitor, MonitorConfig, ScenarioSource};
    use crate::sim::Scenario;

    fn t(ms: u64) -> HostTime {
        HostTime {
            wall_ms: 1_800_000_000_000 + ms as i64,
            mono_ms: ms,
        }
    }

    fn monitor(level: u8) -> Monitor {
        Monitor::new(
            MonitorConfig {
                dri_level: level,
                ..MonitorConfig::default()
            },
            Box::new(ScenarioSource::new(Scenario::Stable, 3)),
        )
    }

    fn cfg(expected: Expected) -> HostConfig {
        HostConfig {
            expected,
            tx_interval_s: 1,
            silence_ms: 3000,
            ..HostConfig::default()
        }
    }

    /// Runs host and monitor against each other from `from` to `to` ms in
    /// 10 ms steps; `link_up` decides whether bytes pass.
    fn run(
        h: &mut Host,
        m: &mut Monitor,
        from: u64,
        to: u64,
        link_up: impl Fn(u64) -> bool,
        obs: &mut Vec<Action>,
    ) {
        // actions not handled yet (requests to send) are carried in `obs`
        let (mut out, rest): (Vec<Action>, Vec<Action>) =
            obs.drain(..).partition(|a| matches!(a, Action::Send(_)));
        obs.extend(rest);
        for ms in (from..to).step_by(10) {
            h.on_tick(t(ms), &mut out);
            let mut frames = Vec::new();
            let acts = std::mem::take(&mut out);
            for a in acts {
                match a {
                    Action::Send(b) if link_up(ms) => m.on_bytes(&b, t(ms), &mut frames),
                    Action::Send(_) => {}
                    a => obs.push(a),
                }
            }
            m.on_tick(t(ms), &mut frames);
            if link_up(ms) {
                for f in frames {
                    h.on_bytes(&f, t(ms), &mut out);
                }
            }
        }
        obs.extend(out);
    }

    fn numerics(obs: &[Action], m: Metric) -> Vec<&Numeric> {
        obs.iter()
            .filter_map(|a| match a {
                Action::Emit(Observation::Numeric(n)) if n.metric == m => Some(n),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn negotiates_the_monitors_level_and_streams() {
        let mut h = Host::new(cfg(Expected {
            serial: None,
            model: Some(MODEL_FAMILY.into()),
        }));
        let mut m = monitor(record::DRI_LEVEL_2001);
        let mut obs = Vec::new();
        h.start(t(0), &mut obs);
        let mut first = Vec::new();
        for a in obs.drain(..) {
            if let Action::Send(b) = a {
                first.push(b);
            }
        }
        // one numeric request per level, newest first
        assert_eq!(first.len(), 5);
        assert_eq!(first[0][4], record::DRI_LEVEL_2015);
        for b in &first {
            let mut frames = Vec::new();
            m.on_bytes(b, t(0), &mut frames);
            for f in frames {
                h.on_bytes(&f, t(0), &mut obs);
            }
        }
        assert_eq!(m.foreign_requests, 4);
        assert_eq!(h.level(), Some(record::DRI_LEVEL_2001));
        run(&mut h, &mut m, 10, 3000, |_| true, &mut obs);
        assert_eq!(h.state(), HostState::Streaming);
        assert!(obs.iter().any(|a| matches!(a,
            Action::Status(DriverStatus::Identified(i)) if i.model.as_deref() == Some("S/5 DRI-L07") && i.serial.is_none())));
        let hr = numerics(&obs, Metric::HeartRate);
        assert!(hr.len() >= 3, "{} HR", hr.len());
        for n in &hr {
            let v = n.reading.value().and_then(|d| d.to_thousandths()).unwrap();
            assert!((76_000..=80_000).contains(&v), "HR {v}");
            assert!(n.time.device.is_some());
        }
        let et = numerics(&obs, Metric::EtCo2);
        let v = et[0].reading.value().unwrap().to_f64();
        assert!((36.0..=40.0).contains(&v), "etCO2 {v}");
        // NIBP once per change, episodic; not repeated every record
        let sys = numerics(&obs, Metric::NibpSys);
        assert_eq!(sys.len(), 1);
        assert!(sys[0].episodic);
        assert_eq!(
            sys[0].reading.value().unwrap().to_thousandths(),
            Some(128_000)
        );
        // P1 absent on the monitor: invalid, never 0
        let p1 = numerics(&obs, Metric::Other(DATEX_NUMERIC_BASE | 22));
        assert!(
            p1.iter()
                .all(|n| n.reading == Reading::Invalid && n.status.has(MeasStatus::INVALID))
        );
        // three waves at their spec rates, ~3 s of them
        let mut per: std::collections::HashMap<Metric, usize> = Default::default();
        for a in &obs {
            if let Action::Emit(Observation::Wave(w)) = a {
                *per.entry(w.channel).or_default() += w.samples.len();
                if w.channel == wave_metric(record::WAVE_ECG1) {
                    assert_eq!(w.sample_period_us, 3333);
                    assert_eq!(w.unit, Unit::MilliVolt);
                    let mv = w.scale.unwrap().apply(120).unwrap();
                    assert!((mv - 1.2).abs() < 1e-9);
                }
            }
        }
        let ecg = per[&wave_metric(record::WAVE_ECG1)];
        assert!((800..=950).contains(&ecg), "{ecg} ECG samples");
        assert!(per[&wave_metric(record::WAVE_PLETH)] >= 250);
        assert!(per[&wave_metric(record::WAVE_CO2)] >= 60);
        assert_eq!(h.counters().frames_rejected, 0);
    }

    #[test]
    fn silence_re_requests_then_renegotiates_with_a_gap() {
        let mut h = Host::new(cfg(Expected::default()));
        let mut m = monitor(record::DRI_LEVEL_2005);
        let mut obs = Vec::new();
        h.start(t(0), &mut obs);
        run(&mut h, &mut m, 0, 2000, |_| true, &mut obs);
        assert_eq!(h.state(), HostState::Streaming);
        // the monitor forgets its requests (power cycle); the host notices
        m.reset();
        run(&mut h, &mut m, 2000, 2010, |_| false, &mut obs);
        run(&mut h, &mut m, 2010, 12_000, |_| true, &mut obs);
        assert_eq!(h.state(), HostState::Streaming);
        assert!(h.counters().reassociations >= 1);
        let gaps: Vec<_> = obs
            .iter()
            .filter_map(|a| match a {
                Action::Emit(Observation::Event(DeviceEvent {
                    kind:
                        EventKind::DataGap {
                            from_host_ms,
                            to_host_ms,
                        },
                    ..
                })) => Some(to_host_ms - from_host_ms),
                _ => None,
            })
            .collect();
        assert_eq!(gaps.len(), 1, "{gaps:?}");
        assert!((3000..=4000).contains(&gaps[0]), "{gaps:?}");
        assert!(numerics(&obs, Metric::HeartRate).len() >= 10);
    }

    #[test]
    fn identity_rules() {
        let info = DeviceInfo {
            model: Some(model_for_level(9)),
            ..DeviceInfo::default()
        };
        let e = |serial: Option<&str>, model: Option<&str>| Expected {
            serial: serial.map(Into::into),
            model: model.map(Into::into),
        };
        assert!(Host::identity_matches(&e(None, None), &info));
        assert!(Host::identity_matches(&e(None, Some("S/5")), &info));
        assert!(Host::identity_matches(
            &e(None, Some(" S/5 DRI-L09 ")),
            &info
        ));
        assert!(!Host::identity_matches(
            &e(None, Some("S/5 DRI-L07")),
            &info
        ));
        assert!(!Host::identity_matches(&e(None, Some("MP50")), &info));
        // a serial cannot be verified on an S/5: never trusted
        assert!(!Host::identity_matches(&e(Some("DE1"), None), &info));
    }

    #[test]
    fn a_wrong_level_is_a_wrong_device_and_is_told_to_stop() {
        let mut h = Host::new(cfg(Expected {
            serial: None,
            model: Some("S/5 DRI-L07".into()),
        }));
        let mut m = monitor(record::DRI_LEVEL_2005);
        let mut obs = Vec::new();
        h.start(t(0), &mut obs);
        run(&mut h, &mut m, 0, 3000, |_| true, &mut obs);
        assert!(h.wrong_device());
        assert!(
            obs.iter()
                .any(|a| matches!(a, Action::Status(DriverStatus::WrongDevice { .. })))
        );
        assert!(numerics(&obs, Metric::HeartRate).is_empty());
        assert!(!m.streaming(), "the monitor was told to stop");
        // a restart does not bring it back
        let mut out = Vec::new();
        h.start(t(4000), &mut out);
        assert!(out.is_empty());
    }

    fn alarm_events(obs: &[Action]) -> Vec<EventKind> {
        obs.iter()
            .filter_map(|a| match a {
                Action::Emit(Observation::Event(e))
                    if matches!(e.kind, EventKind::Alarm { .. }) =>
                {
                    Some(e.kind.clone())
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn vf_raises_one_red_alarm_through_the_monitor() {
        let mut h = Host::new(cfg(Expected::default()));
        // 55 s into vf-arrest: VF starts 5 s after the monitor does
        let mut m = Monitor::new(
            MonitorConfig::default(),
            Box::new(ScenarioSource::starting_at(Scenario::VfArrest, 3, 55_000)),
        );
        let mut obs = Vec::new();
        h.start(t(0), &mut obs);
        run(&mut h, &mut m, 0, 4000, |_| true, &mut obs);
        assert_eq!(h.state(), HostState::Streaming);
        assert!(alarm_events(&obs).is_empty());
        run(&mut h, &mut m, 4000, 9000, |_| true, &mut obs);
        assert_eq!(
            alarm_events(&obs),
            vec![EventKind::Alarm {
                code: 0,
                source: 0,
                priority: AlarmPriority::High,
                physiological: None,
                text: "***VFIB/VTACH".into(),
            }]
        );
        assert_eq!(h.counters().pdus_rejected, 0);
    }

    #[test]
    fn alarm_repeats_are_not_new_alarms() {
        let level = record::DRI_LEVEL_2005;
        let mut h = Host::new(cfg(Expected::default()));
        h.state = HostState::Streaming;
        h.level = Some(level);
        let status = |texts: &[(&str, u8)]| {
            let st = AlarmStatus {
                sound_on: true,
                silence_info: 0,
                slots: texts
                    .iter()
                    .map(|&(text, color)| record::AlarmDisp {
                        text: text.into(),
                        color,
                        alarm_type: 2,
                        ..record::AlarmDisp::default()
                    })
                    .collect(),
            }
            .encode();
            let rec = record::encode_record(
                level,
                1,
                1_800_000_000,
                MAINTYPE_ALARM,
                &[(record::SR_AL_STATUS, &st)],
            );
            let mut w = Vec::new();
            encode_frame(&rec, &mut w).unwrap();
            w
        };
        let mut out = Vec::new();
        h.on_bytes(
            &status(&[("HR HIGH", 2), ("", 3), ("nothing", 0)]),
            t(0),
            &mut out,
        );
        assert_eq!(
            alarm_events(&out),
            vec![EventKind::Alarm {
                code: 0,
                source: 0,
                priority: AlarmPriority::Medium,
                physiological: Some(true),
                text: "HR HIGH".into(),
            }]
        );
        out.clear();
        h.on_bytes(&status(&[("HR HIGH", 2)]), t(1000), &mut out);
        assert!(alarm_events(&out).is_empty(), "a repeat");
        // escalated colour: a new alarm
        h.on_bytes(&status(&[("HR HIGH", 3)]), t(2000), &mut out);
        assert_eq!(alarm_events(&out).len(), 1);
        out.clear();
        h.on_bytes(&status(&[]), t(3000), &mut out);
        h.on_bytes(&status(&[("HR HIGH", 3)]), t(4000), &mut out);
        assert_eq!(alarm_events(&out).len(), 1, "cleared and back");
        // a status that does not fit the layout is counted, not used
        let mut bad = status(&[("SpO2 LOW", 9)]);
        let before = h.counters().pdus_rejected;
        out.clear();
        h.on_bytes(&bad, t(5000), &mut out);
        assert!(alarm_events(&out).is_empty());
        assert_eq!(h.counters().pdus_rejected, before + 1);
        bad.truncate(bad.len() / 2);
        h.on_bytes(&bad, t(6000), &mut out);
        assert!(alarm_events(&out).is_empty());
    }

    mod props {
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(128))]

            /// The fuzz target's entry, bounded: random bytes and random
            /// bytes inside valid frames never panic.
            #[test]
            fn fuzz_entry_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..1500)) {
                crate::datex::fuzz_one(&bytes);
                let mut w = Vec::new();
                let mut rec = bytes.clone();
                if rec.len() >= 2 {
                    let n = (rec.len() as u16).to_le_bytes();
                    rec[..2].copy_from_slice(&n);
                }
                let _ = crate::datex::frame::encode_frame(&rec, &mut w);
                crate::datex::fuzz_one(&w);
            }
        }
    }
}
