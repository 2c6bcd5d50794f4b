//! The S/5 monitor's side, sans-IO, for the simulator and the end-to-end
//! tests: it answers numeric and wave requests at its own DRI level only
//! (as the real monitor does) and sends PHDB basic records every
//! `tx_interval` and wave records every `wave_every_ms`, all built with the
//! encoders the host decodes with.

use super::frame::{Deframer, encode_frame};
use super::record::{
    self, AlarmDisp, AlarmRequest, AlarmStatus, BasicField, DxValue, MAINTYPE_ALARM, MAINTYPE_PHDB,
    MAINTYPE_WAVE, PhdbRequest, Record, WaveRequest, WaveSub,
};
use crate::intellivue::monitor::Physiology;
use crate::obs::{AlarmPriority, DeviceTime, HostTime, Metric, Reading};
use crate::sim::{ECG_HANDLE, ECG_PERIOD_US, Rng, Scenario, ScenarioPhysiology};
use std::collections::VecDeque;

/// What the simulated patient looks like to an S/5.
pub trait Source: Send {
    /// Basic-class values at `t_ms` since start.
    fn numerics(&mut self, t_ms: u64, now: DeviceTime) -> Vec<(BasicField, DxValue)>;
    /// Raw samples `[from, from + n)` of wave `id` (at its spec rate).
    fn samples(&mut self, id: u8, from: u64, n: usize) -> Vec<i16>;
    /// Alarms on the display at `t_ms`, highest colour first; none by
    /// default.
    fn alarms(&mut self, _t_ms: u64) -> Vec<AlarmDisp> {
        Vec::new()
    }
}

#[derive(Debug, Clone)]
pub struct MonitorConfig {
    pub dri_level: u8,
    /// Device civil clock = host UTC + this (time zone + skew).
    pub civil_offset_ms: i64,
    pub wave_every_ms: u64,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            dri_level: record::DRI_LEVEL_2005,
            civil_offset_ms: 0,
            wave_every_ms: 250,
        }
    }
}

#[derive(Debug, Clone)]
struct WaveStream {
    id: u8,
    period_us: u64,
    sent: u64,
}

pub struct Monitor {
    cfg: MonitorConfig,
    src: Box<dyn Source>,
    deframer: Deframer,
    start_ms: Option<u64>,
    /// (interval, next due), ms since start.
    phdb: Option<(u64, u64)>,
    waves: Vec<WaveStream>,
    waves_from_ms: u64,
    next_wave_ms: u64,
    r_nbr: u8,
    /// Differential alarm mode: send on every change of the display.
    al_diff: bool,
    /// One status message is owed (XMIT_STATUS or entering diff mode).
    al_owed: bool,
    al_last: Option<Vec<AlarmDisp>>,
    /// Requests at another DRI level (ignored, as by a real S/5).
    pub foreign_requests: u64,
}

impl Monitor {
    pub fn new(cfg: MonitorConfig, src: Box<dyn Source>) -> Monitor {
        Monitor {
            cfg,
            src,
            deframer: Deframer::new(),
            start_ms: None,
            phdb: None,
            waves: Vec::new(),
            waves_from_ms: 0,
            next_wave_ms: 0,
            r_nbr: 0,
            al_diff: false,
            al_owed: false,
            al_last: None,
            foreign_requests: 0,
        }
    }

    /// The link dropped: forget the requests (the host asks again).
    pub fn reset(&mut self) {
        self.deframer.reset();
        self.phdb = None;
        self.waves.clear();
        self.al_diff = false;
        self.al_owed = false;
        self.al_last = None;
    }

    pub fn streaming(&self) -> bool {
        self.phdb.is_some()
    }

    fn t_ms(&mut self, now: HostTime) -> u64 {
        let s = *self.start_ms.get_or_insert(now.mono_ms);
        now.mono_ms.saturating_sub(s)
    }

    fn clock_secs(&self, now: HostTime) -> u32 {
        let ms = now.wall_ms.saturating_add(self.cfg.civil_offset_ms);
        u32::try_from(ms.div_euclid(1000)).unwrap_or(0)
    }

    fn frame(rec: &[u8], out: &mut Vec<Vec<u8>>) {
        let mut w = Vec::new();
        if encode_frame(rec, &mut w).is_ok() {
            out.push(w);
        }
    }

    /// Feeds bytes from the host; appends whole wire frames to `out`.
    pub fn on_bytes(&mut self, bytes: &[u8], now: HostTime, out: &mut Vec<Vec<u8>>) {
        let mut recs = Vec::new();
        self.deframer.push(bytes, |r| recs.push(r.to_vec()));
        let t = self.t_ms(now);
        for r in recs {
            let Ok(rec) = Record::parse(&r) else { continue };
            if rec.header.dri_level != self.cfg.dri_level {
                self.foreign_requests += 1;
                continue;
            }
            let Some((record::SR_REQUEST, sr)) = rec.subrecords().next() else {
                continue;
            };
            match rec.header.r_maintype {
                MAINTYPE_PHDB => {
                    if let Some(req) = PhdbRequest::parse(sr) {
                        self.phdb = u64::try_from(req.tx_interval_s)
                            .ok()
                            .filter(|&s| s > 0)
                            .map(|s| (s * 1000, t));
                    }
                }
                MAINTYPE_WAVE => {
                    if let Some(req) = WaveRequest::parse(sr) {
                        self.waves.clear();
                        if req.start {
                            self.waves_from_ms = t;
                            self.next_wave_ms = t;
                            for id in req.waves.into_iter().take(record::MAX_WAVES) {
                                if let Some(d) = record::wave_def(id) {
                                    self.waves.push(WaveStream {
                                        id,
                                        period_us: u64::from(d.sample_period_us),
                                        sent: 0,
                                    });
                                }
                            }
                        }
                    }
                }
                MAINTYPE_ALARM => match AlarmRequest::parse(sr).map(|r| r.cmd) {
                    Some(record::AL_CMD_XMIT_STATUS) => self.al_owed = true,
                    Some(record::AL_CMD_ENTER_DIFFMODE) => {
                        self.al_diff = true;
                        self.al_owed = true;
                    }
                    Some(record::AL_CMD_EXIT_DIFFMODE) => self.al_diff = false,
                    _ => {}
                },
                _ => {}
            }
        }
        self.on_tick(now, out);
    }

    pub fn on_tick(&mut self, now: HostTime, out: &mut Vec<Vec<u8>>) {
        let t = self.t_ms(now);
        let secs = self.clock_secs(now);
        if let Some((every, due)) = self.phdb
            && t >= due
        {
            self.phdb = Some((every, due + every.max(1)));
            let dt = DeviceTime {
                civil_ms: i64::from(secs) * 1000,
            };
            let values = self.src.numerics(t, dt);
            let sr = record::encode_phdb_basic(secs, &values);
            self.r_nbr = self.r_nbr.wrapping_add(1);
            let rec = record::encode_record(
                self.cfg.dri_level,
                self.r_nbr,
                secs,
                MAINTYPE_PHDB,
                &[(record::PHDB_DISPLAYED, &sr)],
            );
            Self::frame(&rec, out);
        }
        if self.al_owed || self.al_diff {
            let slots = self.src.alarms(t);
            if self.al_owed || self.al_last.as_ref() != Some(&slots) {
                self.al_owed = false;
                let sr = AlarmStatus {
                    sound_on: true,
                    silence_info: 0,
                    slots: slots.clone(),
                }
                .encode();
                self.al_last = Some(slots);
                self.r_nbr = self.r_nbr.wrapping_add(1);
                let rec = record::encode_record(
                    self.cfg.dri_level,
                    self.r_nbr,
                    secs,
                    MAINTYPE_ALARM,
                    &[(record::SR_AL_STATUS, &sr)],
                );
                Self::frame(&rec, out);
            }
        }
        if !self.waves.is_empty() && t >= self.next_wave_ms {
            self.next_wave_ms = t + self.cfg.wave_every_ms.max(1);
            let elapsed_us = t.saturating_sub(self.waves_from_ms) * 1000;
            let mut subs = Vec::new();
            for w in &mut self.waves {
                let due = elapsed_us / w.period_us.max(1);
                // keep a record well under the frame cap
                let n = due.saturating_sub(w.sent).min(150) as usize;
                let samples = self.src.samples(w.id, w.sent, n);
                w.sent += n as u64;
                subs.push((w.id, WaveSub { status: 0, samples }.encode()));
            }
            let parts: Vec<(u8, &[u8])> = subs.iter().map(|(i, b)| (*i, b.as_slice())).collect();
            self.r_nbr = self.r_nbr.wrapping_add(1);
            let rec =
                record::encode_record(self.cfg.dri_level, self.r_nbr, secs, MAINTYPE_WAVE, &parts);
            Self::frame(&rec, out);
        }
    }
}

/// The simulator's scenario (numerics and the ECGSYN ECG of
/// [`ScenarioPhysiology`]) as an S/5 sees it: ECG resampled from 500 Hz to
/// the S/5's 300 Hz, a pleth pulse per beat and a capnogram per breath.
pub struct ScenarioSource {
    phys: ScenarioPhysiology,
    t0_ms: u64,
    scenario: Scenario,
    rng: Rng,
    ecg500: VecDeque<u16>,
    ecg500_base: u64,
    hr: f64,
    rr: f64,
    etco2_pct: f64,
    /// Per wave id: the next index expected and the shift that keeps the
    /// signal continuous when the monitor restarts a stream at 0.
    cursor: [(u64, u64); 32],
    /// Numeric records sent: picks where the respiration rate and the
    /// temperature are reported (a real S/5 fills whichever module or
    /// channel is in use).
    round: u64,
}

/// Ambient pressure the simulated CO2 module reports (760.0 mmHg).
pub const SIM_AMB_PRESS: i16 = 7600;

impl ScenarioSource {
    pub fn new(scenario: Scenario, seed: u64) -> ScenarioSource {
        Self::starting_at(scenario, seed, 0)
    }

    /// The scenario as if `t0_ms` had already passed at monitor start.
    pub fn starting_at(scenario: Scenario, seed: u64, t0_ms: u64) -> ScenarioSource {
        ScenarioSource {
            phys: ScenarioPhysiology::starting_at(scenario, seed, t0_ms),
            t0_ms,
            scenario,
            rng: Rng::new(seed ^ 0xDA7E),
            ecg500: VecDeque::new(),
            ecg500_base: 0,
            hr: scenario.hr(t0_ms as f64 / 1000.0).unwrap_or(80.0),
            rr: 14.0,
            etco2_pct: 5.0,
            cursor: [(0, 0); 32],
            round: 0,
        }
    }

    fn ecg500(&mut self, i: u64) -> f64 {
        while self.ecg500_base + (self.ecg500.len() as u64) <= i {
            let from = self.ecg500_base + self.ecg500.len() as u64;
            let more = self.phys.samples(ECG_HANDLE, from, 64);
            self.ecg500.extend(more);
        }
        while self.ecg500_base + 1 < i && self.ecg500.len() > 2 {
            self.ecg500.pop_front();
            self.ecg500_base += 1;
        }
        let k = i.saturating_sub(self.ecg500_base) as usize;
        // raw 0..4095 ↔ −2.048…+2.047 mV (µV steps)
        self.ecg500
            .get(k)
            .map_or(0.0, |&r| (f64::from(r) - 2048.0) / 1000.0)
    }
}

fn scaled(r: Reading, exponent: i8) -> DxValue {
    let Some(d) = r.value() else {
        return DxValue::Invalid;
    };
    let Some(th) = d.to_thousandths() else {
        return DxValue::Invalid;
    };
    let div = 10f64.powi(3 + i32::from(exponent));
    let v = (th as f64 / div).round();
    if (f64::from(record::DATA_INVALID_LIMIT)..=f64::from(i16::MAX)).contains(&v) {
        DxValue::Value(v as i16)
    } else {
        DxValue::OverRange
    }
}

impl Source for ScenarioSource {
    fn alarms(&mut self, t_ms: u64) -> Vec<AlarmDisp> {
        let t = t_ms.saturating_add(self.t0_ms) as f64 / 1000.0;
        self.scenario
            .alarms(t)
            .into_iter()
            .map(|a| AlarmDisp {
                text: a.text.to_string(),
                color: match a.priority {
                    AlarmPriority::Low => 1,
                    AlarmPriority::Medium => 2,
                    AlarmPriority::High => 3,
                },
                alarm_type: 3,
                ..AlarmDisp::default()
            })
            .collect()
    }

    fn numerics(&mut self, t_ms: u64, now: DeviceTime) -> Vec<(BasicField, DxValue)> {
        let mut out = Vec::new();
        for n in self.phys.numerics(t_ms, now) {
            let unusable = n.value.state & 0x2000 != 0;
            let r = if unusable {
                Reading::Invalid
            } else {
                n.value.value
            };
            let metric = Metric::from_intellivue(n.value.physio_id);
            let field = match metric {
                Metric::HeartRate => {
                    if let Some(d) = r.value() {
                        self.hr = d.to_f64();
                    }
                    out.push((record::SPO2_PR, scaled(r, 0)));
                    record::ECG_HR
                }
                Metric::SpO2 => record::SPO2,
                Metric::RespRate => {
                    if let Some(d) = r.value() {
                        self.rr = d.to_f64();
                    }
                    // Capnography, ECG impedance or spirometry in turn.
                    match self.round % 3 {
                        0 => record::CO2_RR,
                        1 => record::ECG_IMP_RR,
                        _ => record::FLOW_VOL_RR,
                    }
                }
                Metric::EtCo2 => {
                    // mmHg → fraction in 0.01 % at the simulated pressure
                    let v = match r.value() {
                        Some(d) => {
                            let pct = d.to_f64() / (f64::from(SIM_AMB_PRESS) / 10.0) * 100.0;
                            self.etco2_pct = pct;
                            DxValue::Value((pct * 100.0).round() as i16)
                        }
                        None => DxValue::Invalid,
                    };
                    out.push((record::CO2_ET, v));
                    out.push((record::CO2_AMB_PRESS, DxValue::Value(SIM_AMB_PRESS)));
                    continue;
                }
                Metric::NibpSys => record::NIBP_SYS,
                Metric::NibpDia => record::NIBP_DIA,
                Metric::NibpMean => record::NIBP_MEAN,
                _ => continue,
            };
            out.push((field, scaled(r, field.exponent)));
        }
        // 36.80 °C on T1, T2, T3 or T4 in turn.
        let temp = [
            record::T1_TEMP,
            record::T2_TEMP,
            record::T3_TEMP,
            record::T4_TEMP,
        ];
        let slot = temp[(self.round % 4) as usize];
        out.push((slot, DxValue::Value(3680)));
        self.round += 1;
        out
    }

    fn samples(&mut self, id: u8, from: u64, n: usize) -> Vec<i16> {
        let Some(def) = record::wave_def(id) else {
            return vec![record::DATA_INVALID; n];
        };
        let fs = 1e6 / f64::from(def.sample_period_us);
        let slot = usize::from(id) % 32;
        let (expected, shift) = self.cursor[slot];
        let shift = if from == expected {
            shift
        } else {
            (expected + shift).saturating_sub(from)
        };
        self.cursor[slot] = (from + n as u64, shift);
        (0..n as u64)
            .map(|k| {
                let i = from + k + shift;
                let t = i as f64 / fs;
                match id {
                    record::WAVE_ECG1 | record::WAVE_ECG2 | record::WAVE_ECG3 => {
                        // linear interpolation of the 500 Hz ECG
                        let pos = t * 1e6 / f64::from(ECG_PERIOD_US);
                        let i0 = pos.floor() as u64;
                        let f = pos - pos.floor();
                        let a = self.ecg500(i0);
                        let b = self.ecg500(i0 + 1);
                        ((a + (b - a) * f) * 100.0).round() as i16
                    }
                    record::WAVE_PLETH => {
                        if self.scenario.hr(t + self.t0_ms as f64 / 1000.0).is_none() {
                            return (self.rng.unit() * 300.0) as i16;
                        }
                        let ph = (t * self.hr / 60.0).fract();
                        (crate::sim::pleth_level(ph) * 8000.0).round() as i16
                    }
                    record::WAVE_CO2 => {
                        let ph = (t * self.rr / 60.0).fract();
                        let level = crate::sim::capno_level(ph);
                        (level * self.etco2_pct * 100.0).round() as i16
                    }
                    _ => 0,
                }
            })
            .collect()
    }
}
