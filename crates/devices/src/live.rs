//! The live monitor view: current values with their age, short trends and
//! the ECG as it arrives, in a fixed memory budget. Pure: fed observations
//! and host time, read by the UI. It writes nothing itself; the strips it
//! cuts (on request, or around a shock) go into the record through the
//! caller, so every strip becomes a hash-chained `StripRecorded` event.

use super::driver::ClockOffset;
use super::obs::{
    AlarmPriority, DeviceEvent, EventKind, Metric, Numeric, Observation, Reading, Unit, WaveChunk,
};
use rettpad_record::wave::{Lead, Strip, StripKind};
use std::collections::VecDeque;

mod sweep;
pub use sweep::{Sweep, WaveKind};

static CHANNEL_EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// How much of every wave is kept (the ring). Also the longest strip.
    pub wave_keep_ms: i64,
    /// At most this many wave channels; more are counted and dropped.
    pub max_channels: usize,
    /// One trend point per metric every this long, `trend_len` points kept.
    pub trend_every_ms: i64,
    pub trend_len: usize,
    /// A continuous value older than this is shown as stale.
    pub stale_ms: i64,
    /// An episodic value (NIBP, temperature) is stale only after this.
    pub stale_episodic_ms: i64,
    /// The strip around a shock: this long before and after it.
    pub shock_pre_ms: i64,
    pub shock_post_ms: i64,
    /// The device's local civil time minus UTC (devices send no zone).
    pub utc_offset_ms: i64,
    /// Names the source of every strip ("Monitor SN …").
    pub device_label: String,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            wave_keep_ms: 30_000,
            max_channels: 8,
            trend_every_ms: 10_000,
            trend_len: 60,
            stale_ms: 60_000,
            stale_episodic_ms: 15 * 60_000,
            shock_pre_ms: 8_000,
            shock_post_ms: 4_000,
            utc_offset_ms: 0,
            device_label: String::new(),
        }
    }
}

/// One value as the live page shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveValue {
    pub metric: Metric,
    pub label_de: &'static str,
    pub label_en: &'static str,
    /// "112", "120/80"; a special value is shown as what it is, never 0.
    pub text: String,
    pub unit: &'static str,
    pub age_ms: i64,
    pub stale: bool,
    /// Oldest first; empty until the first trend point.
    pub trend: Vec<f64>,
}

/// The shown order, with labels. NIBP is one tile (sys/dia).
const TILES: &[(Metric, &str, &str)] = &[
    (Metric::HeartRate, "HF", "HR"),
    (Metric::SpO2, "SpO₂", "SpO2"),
    (Metric::NibpSys, "NIBP", "NIBP"),
    (Metric::RespRate, "AF", "RR"),
    (Metric::EtCo2, "etCO₂", "etCO2"),
    (Metric::Temperature, "Temp", "Temp"),
    (Metric::PulseRate, "Puls", "Pulse"),
];

#[derive(Debug, Clone)]
struct Current {
    reading: Reading,
    unit: Unit,
    host_ms: i64,
    episodic: bool,
}

#[derive(Debug, Clone, Default)]
struct Trend {
    points: VecDeque<f64>,
    last_ms: Option<i64>,
}

#[derive(Debug, Clone)]
struct Channel {
    metric: Metric,
    period_us: u32,
    /// µV per raw unit and the raw value of 0 µV (ECG in mV or µV only).
    uv_per_raw: Option<(f64, f64)>,
    /// Physical value = .0 + raw × .1, in `unit` (any wave with a scale).
    phys: Option<(f64, f64)>,
    unit: Unit,
    ring: VecDeque<i32>,
    cap: usize,
    /// Samples ever pushed: the number of the next sample (sweep position).
    pushed: u64,
    /// Unique per channel ever made: a new channel (another device, a
    /// reconnect) never looks like the old one to the sweep.
    epoch: u64,
    /// Host wall time just after the newest sample.
    end_ms: i64,
}

impl Channel {
    fn span_ms(&self) -> i64 {
        self.ring.len() as i64 * i64::from(self.period_us) / 1000
    }
    fn start_ms(&self) -> i64 {
        self.end_ms - self.span_ms()
    }
}

/// A strip around an event, cut once enough has arrived after it.
#[derive(Debug, Clone)]
struct PendingStrip {
    from_ms: i64,
    to_ms: i64,
    label: String,
}

/// What was dropped, so that nothing disappears silently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveStats {
    pub channels_dropped: u64,
    pub chunks_without_period: u64,
    pub strips_cut: u64,
    pub strips_incomplete: u64,
}

#[derive(Debug, Clone)]
pub struct Live {
    cfg: LiveConfig,
    current: Vec<(Metric, Current)>,
    trends: Vec<(Metric, Trend)>,
    channels: Vec<Channel>,
    clock: ClockOffset,
    pending: Vec<PendingStrip>,
    ready: Vec<Strip>,
    shocks: u32,
    /// The latest alarm onsets, newest last, at most [`ALARMS_KEPT`].
    alarms: VecDeque<LiveAlarm>,
    stats: LiveStats,
}

/// Alarm onsets the live page keeps.
pub const ALARMS_KEPT: usize = 8;

/// One alarm onset as the live page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAlarm {
    /// Host wall clock of the onset.
    pub at_ms: i64,
    pub priority: AlarmPriority,
    /// `Some(false)`: a technical alarm (INOP), no rhythm strip.
    pub physiological: Option<bool>,
    pub text: String,
}

/// The ECG lead of a wave channel: MDC codes (partition 2,
/// `MDC_ECG_ELEC_POTL_*`), or the Datex S/5 channels ECG1..3, whose lead is
/// set on the monitor and not sent.
pub fn ecg_lead(channel: Metric) -> Option<&'static str> {
    let Metric::Other(code) = channel else {
        return None;
    };
    match code.checked_sub(super::datex::host::DATEX_WAVE_BASE) {
        Some(1) => return Some("ECG1"),
        Some(2) => return Some("ECG2"),
        Some(3) => return Some("ECG3"),
        _ => {}
    }
    if code >> 16 != 2 {
        return None;
    }
    Some(match code & 0xFFFF {
        0x0101 => "I",
        0x0102 => "II",
        0x013D => "III",
        0x013E => "aVR",
        0x013F => "aVL",
        0x0140 => "aVF",
        0x0103 => "V1",
        0x0104 => "V2",
        0x0105 => "V3",
        0x0106 => "V4",
        0x0107 => "V5",
        0x0108 => "V6",
        _ => return None,
    })
}

/// The capnogram channel: IntelliVue NOM_AWAY_CO2, Datex CO2 wave.
fn is_capno(m: Metric) -> bool {
    matches!(m, Metric::Other(c) if c == 0x0002_50AC || c == super::datex::host::DATEX_WAVE_BASE | 9)
}

/// The pleth channel: IntelliVue NOM_PLETH, Datex PLETH wave.
fn is_pleth(m: Metric) -> bool {
    matches!(m, Metric::Other(c) if c == 0x0002_4BB4 || c == super::datex::host::DATEX_WAVE_BASE | 8)
}

/// Standard order of the leads in a strip.
const LEAD_ORDER: [&str; 15] = [
    "I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6", "ECG1", "ECG2",
    "ECG3",
];

fn unit_text(u: Unit) -> &'static str {
    match u {
        Unit::PerMin => "/min",
        Unit::Percent => "%",
        Unit::MmHg => "mmHg",
        Unit::KPa => "kPa",
        Unit::Celsius => "°C",
        Unit::Fahrenheit => "°F",
        Unit::MgPerDl => "mg/dl",
        Unit::MmolPerL => "mmol/l",
        Unit::MilliVolt => "mV",
        Unit::Second => "s",
        _ => "",
    }
}

/// A reading as text: numbers with their own precision, special values by
/// name (a NaN is "?" and never "0").
pub fn reading_text(r: Reading) -> String {
    match r {
        Reading::Value(d) => {
            let v = d.to_f64();
            if (v - v.round()).abs() < 1e-9 {
                format!("{v:.0}")
            } else {
                format!("{v:.1}").replace('.', ",")
            }
        }
        Reading::NaN | Reading::Invalid | Reading::Reserved => "?".into(),
        Reading::NRes => "n. aufl.".into(),
        Reading::PositiveInfinity | Reading::OverRange => "↑↑".into(),
        Reading::NegativeInfinity | Reading::UnderRange => "↓↓".into(),
        Reading::NotUpdated => "alt".into(),
        Reading::Discontinuity => "unterbr.".into(),
        Reading::NotCalibrated => "n. kal.".into(),
    }
}

impl Live {
    pub fn new(cfg: LiveConfig) -> Live {
        Live {
            cfg,
            current: Vec::new(),
            trends: Vec::new(),
            channels: Vec::new(),
            clock: ClockOffset::default(),
            pending: Vec::new(),
            ready: Vec::new(),
            shocks: 0,
            alarms: VecDeque::new(),
            stats: LiveStats::default(),
        }
    }

    pub fn stats(&self) -> LiveStats {
        self.stats
    }

    /// Bytes held by the wave rings (the memory budget's bulk).
    pub fn wave_bytes(&self) -> usize {
        self.channels
            .iter()
            .map(|c| c.ring.capacity().max(c.cap) * std::mem::size_of::<i32>())
            .sum()
    }

    /// The budget `wave_bytes` never exceeds.
    pub fn wave_budget_bytes(&self) -> usize {
        // The densest wave we keep is 1 kHz: one sample per millisecond.
        let per_channel = self.cfg.wave_keep_ms.max(1) as usize;
        // VecDeque may round its capacity up to the next power of two.
        self.cfg.max_channels * per_channel.next_power_of_two() * std::mem::size_of::<i32>()
    }

    /// Device clock minus host clock (median), once the device sent times.
    pub fn clock_offset_ms(&self) -> Option<i64> {
        self.clock.offset_ms()
    }

    pub fn clock_warning(&self) -> bool {
        self.clock.warn()
    }

    pub fn push(&mut self, o: &Observation) {
        match o {
            Observation::Numeric(n) => self.numeric(n),
            Observation::Wave(w) => self.wave(w),
            Observation::Event(e) => self.event(e),
            Observation::Info(_) => {}
        }
    }

    fn numeric(&mut self, n: &Numeric) {
        let host = n.time.host.wall_ms;
        if let Some(d) = n.time.device {
            self.clock
                .push(d.civil_ms.saturating_sub(self.cfg.utc_offset_ms), host);
        }
        // Test and demo data from a device never look like patient values.
        if n.status.is_not_live_patient_data() {
            return;
        }
        let cur = Current {
            reading: n.reading,
            unit: n.unit,
            host_ms: host,
            episodic: n.episodic,
        };
        match self.current.iter_mut().find(|(m, _)| *m == n.metric) {
            Some((_, c)) if c.host_ms <= host => *c = cur,
            Some(_) => {}
            None => self.current.push((n.metric, cur)),
        }
        let Some(v) = n.reading.value().map(|d| d.to_f64()) else {
            return;
        };
        let every = self.cfg.trend_every_ms;
        let len = self.cfg.trend_len;
        let t = match self.trends.iter_mut().find(|(m, _)| *m == n.metric) {
            Some((_, t)) => t,
            None => {
                self.trends.push((n.metric, Trend::default()));
                match self.trends.last_mut() {
                    Some((_, t)) => t,
                    None => return,
                }
            }
        };
        if t.last_ms.is_none_or(|l| host - l >= every) {
            if t.points.len() == len {
                t.points.pop_front();
            }
            t.points.push_back(v);
            t.last_ms = Some(host);
        }
    }

    fn wave(&mut self, w: &WaveChunk) {
        if w.sample_period_us == 0 {
            self.stats.chunks_without_period += 1;
            return;
        }
        if w.status.is_not_live_patient_data() {
            return;
        }
        let keep = self.cfg.wave_keep_ms;
        let idx = match self.channels.iter().position(|c| c.metric == w.channel) {
            Some(i) => i,
            None if self.channels.len() >= self.cfg.max_channels => {
                self.stats.channels_dropped += 1;
                return;
            }
            None => {
                // At most 1 kHz is kept: a faster wave would break the budget.
                let period = w.sample_period_us.max(1000);
                let cap = (keep * 1000 / i64::from(period)).max(1) as usize;
                self.channels.push(Channel {
                    metric: w.channel,
                    period_us: period,
                    uv_per_raw: None,
                    phys: None,
                    unit: w.unit,
                    ring: VecDeque::with_capacity(cap),
                    cap,
                    pushed: 0,
                    epoch: CHANNEL_EPOCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                    end_ms: w.t0.host.wall_ms,
                });
                self.channels.len() - 1
            }
        };
        let Some(ch) = self.channels.get_mut(idx) else {
            return;
        };
        if let Some(s) = w.scale {
            let uv = match w.unit {
                Unit::MilliVolt => 1000.0,
                _ => 1.0,
            };
            if let (Some(a), Some(b)) = (s.apply(0), s.apply(1)) {
                let k = (b - a) * uv;
                if k.is_finite() && k != 0.0 {
                    ch.uv_per_raw = Some((k, -a * uv / k));
                    ch.phys = Some((a, b - a));
                    ch.unit = w.unit;
                }
            }
        }
        let chunk_ms = w.samples.len() as i64 * i64::from(ch.period_us) / 1000;
        // Samples are timed by counting (exact spacing, no arrival jitter).
        // After a gap of over 2 s the old samples no longer line up with
        // time: the ring starts again, so no strip spans a gap.
        if w.t0.host.wall_ms - ch.end_ms > 2_000 {
            ch.ring.clear();
            ch.end_ms = w.t0.host.wall_ms;
        }
        for &s in &w.samples {
            if ch.ring.len() == ch.cap {
                ch.ring.pop_front();
            }
            ch.ring.push_back(s);
            ch.pushed += 1;
        }
        ch.end_ms += chunk_ms;
        self.cut_due_strips();
    }

    fn event(&mut self, e: &DeviceEvent) {
        let at = e.time.host.wall_ms;
        match e.kind {
            EventKind::ShockDelivered { joules } => {
                self.shocks += 1;
                self.pending.push(PendingStrip {
                    from_ms: at - self.cfg.shock_pre_ms,
                    to_ms: at + self.cfg.shock_post_ms,
                    label: format!("Schock {} ({joules} J)", self.shocks),
                });
            }
            // A high-priority patient alarm (VF, asystole, …): the rhythm
            // around it is what the hospital wants to see.
            EventKind::Alarm {
                priority,
                physiological,
                ref text,
                ..
            } => {
                if self.alarms.len() == ALARMS_KEPT {
                    self.alarms.pop_front();
                }
                self.alarms.push_back(LiveAlarm {
                    at_ms: at,
                    priority,
                    physiological,
                    text: text.clone(),
                });
                if priority == AlarmPriority::High && physiological != Some(false) {
                    let label = if text.is_empty() {
                        "Alarm (hohe Priorität)".to_string()
                    } else {
                        format!("Alarm {text}")
                    };
                    self.pending.push(PendingStrip {
                        from_ms: at - self.cfg.shock_pre_ms,
                        to_ms: at + self.cfg.shock_post_ms,
                        label,
                    });
                }
            }
            EventKind::TwelveLeadAcquired => self.pending.push(PendingStrip {
                from_ms: at - 10_000,
                to_ms: at,
                label: "12-Kanal-EKG".into(),
            }),
            _ => {}
        }
        self.cut_due_strips();
    }

    fn ecg_end_ms(&self) -> Option<i64> {
        self.channels
            .iter()
            .filter(|c| ecg_lead(c.metric).is_some())
            .map(|c| c.end_ms)
            .min()
    }

    fn cut_due_strips(&mut self) {
        let Some(end) = self.ecg_end_ms() else {
            return;
        };
        let due: Vec<PendingStrip> = {
            let (due, wait): (Vec<_>, Vec<_>) =
                self.pending.drain(..).partition(|p| p.to_ms <= end);
            self.pending = wait;
            due
        };
        for p in due {
            match self.cut(p.from_ms, p.to_ms, &p.label) {
                Some(s) => {
                    self.stats.strips_cut += 1;
                    self.ready.push(s);
                }
                None => self.stats.strips_incomplete += 1,
            }
        }
    }

    /// The latest alarm onsets, newest first.
    pub fn alarms(&self) -> impl Iterator<Item = &LiveAlarm> {
        self.alarms.iter().rev()
    }

    /// Strips cut around events, for the caller to put into the record.
    pub fn take_strips(&mut self) -> Vec<Strip> {
        std::mem::take(&mut self.ready)
    }

    /// The last `ms` of every ECG lead as a rhythm strip ("EKG-Streifen
    /// speichern"); `None` without ECG.
    pub fn strip_now(&mut self, ms: i64, label: &str) -> Option<Strip> {
        let end = self.ecg_end_ms()?;
        let s = self.cut(end - ms, end, label);
        if s.is_some() {
            self.stats.strips_cut += 1;
        }
        s
    }

    /// The ECG between two host times. Leads must share one rate and cover
    /// the span; a lead that does not is left out, never padded.
    fn cut(&self, from_ms: i64, to_ms: i64, label: &str) -> Option<Strip> {
        let mut leads: Vec<(usize, &Channel)> = self
            .channels
            .iter()
            .filter_map(|c| {
                let name = ecg_lead(c.metric)?;
                Some((LEAD_ORDER.iter().position(|l| *l == name)?, c))
            })
            .collect();
        leads.sort_by_key(|(i, _)| *i);
        let period = leads.first()?.1.period_us;
        let leads: Vec<&Channel> = leads
            .into_iter()
            .map(|(_, c)| c)
            .filter(|c| c.period_us == period && c.uv_per_raw.is_some())
            .filter(|c| c.start_ms() <= from_ms && c.end_ms >= to_ms)
            .collect();
        if leads.is_empty() || to_ms <= from_ms {
            return None;
        }
        let n = ((to_ms - from_ms) * 1000 / i64::from(period)) as usize;
        // One common resolution: the finest lead's, at least 1 µV.
        let uv_lsb = leads
            .iter()
            .filter_map(|c| c.uv_per_raw.map(|(k, _)| k.abs()))
            .fold(f64::INFINITY, f64::min)
            .max(1.0);
        let out: Vec<Lead> = leads
            .iter()
            .filter_map(|c| {
                let (k, zero) = c.uv_per_raw?;
                let skip = ((from_ms - c.start_ms()) * 1000 / i64::from(period)) as usize;
                let samples: Vec<i16> = c
                    .ring
                    .iter()
                    .skip(skip)
                    .take(n)
                    .map(|&raw| {
                        let uv = (f64::from(raw) - zero) * k;
                        (uv / uv_lsb)
                            .round()
                            .clamp(f64::from(i16::MIN), f64::from(i16::MAX))
                            as i16
                    })
                    .collect();
                (samples.len() == n).then(|| Lead {
                    name: ecg_lead(c.metric).unwrap_or("?").to_string(),
                    samples,
                })
            })
            .collect();
        if out.is_empty() {
            return None;
        }
        let kind = if out.len() >= 12 && out.iter().all(|l| !l.name.starts_with("ECG")) {
            StripKind::TwelveLead
        } else {
            StripKind::Rhythm
        };
        Some(Strip {
            kind,
            start_ms: from_ms,
            sample_rate_hz: 1_000_000 / period,
            uv_per_lsb: uv_lsb as f32,
            leads: out,
            device: self.cfg.device_label.clone(),
            label: label.to_string(),
        })
    }

    /// The tiles of the live page, in a fixed clinical order.
    pub fn values(&self, now_ms: i64) -> Vec<LiveValue> {
        let get = |m: Metric| self.current.iter().find(|(x, _)| *x == m).map(|(_, c)| c);
        let trend = |m: Metric| {
            self.trends
                .iter()
                .find(|(x, _)| *x == m)
                .map(|(_, t)| t.points.iter().copied().collect())
                .unwrap_or_default()
        };
        TILES
            .iter()
            .filter_map(|&(m, de, en)| {
                let c = get(m)?;
                let (text, host_ms) = if m == Metric::NibpSys {
                    match get(Metric::NibpDia) {
                        Some(d) => (
                            format!("{}/{}", reading_text(c.reading), reading_text(d.reading)),
                            c.host_ms.min(d.host_ms),
                        ),
                        None => (reading_text(c.reading), c.host_ms),
                    }
                } else {
                    (reading_text(c.reading), c.host_ms)
                };
                let age_ms = (now_ms - host_ms).max(0);
                let stale_after = if c.episodic {
                    self.cfg.stale_episodic_ms
                } else {
                    self.cfg.stale_ms
                };
                Some(LiveValue {
                    metric: m,
                    label_de: de,
                    label_en: en,
                    text,
                    unit: unit_text(c.unit),
                    age_ms,
                    stale: age_ms > stale_after,
                    trend: trend(m),
                })
            })
            .collect()
    }

    /// The name of the lead the page draws: II if present, else the first.
    pub fn display_lead(&self) -> Option<&'static str> {
        let names: Vec<&'static str> = self
            .channels
            .iter()
            .filter_map(|c| ecg_lead(c.metric))
            .collect();
        names
            .iter()
            .find(|n| **n == "II")
            .or(names.iter().find(|n| **n == "ECG1"))
            .or(names.first())
            .copied()
    }

    /// The top of the capnogram box and its unit: 50 mmHg, or 6.6 % / kPa
    /// (the same partial pressure at sea level); `None` without capnogram.
    pub fn capno_scale(&self) -> Option<(f64, &'static str)> {
        let c = self.channels.iter().find(|c| is_capno(c.metric))?;
        c.phys?;
        Some(match c.unit {
            Unit::Percent => (6.6, "%"),
            Unit::KPa => (6.6, "kPa"),
            _ => (50.0, "mmHg"),
        })
    }

    /// A tiny trend line for a tile, in a `width` × `height` box.
    pub fn sparkline(points: &[f64], width: f64, height: f64) -> String {
        if points.len() < 2 {
            return String::new();
        }
        let (lo, hi) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        let span = (hi - lo).max(1e-9);
        let step = width / (points.len() - 1) as f64;
        points
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let cmd = if i == 0 { 'M' } else { 'L' };
                let y = height - (v - lo) / span * height;
                format!("{cmd}{:.1} {y:.1}", i as f64 * step)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ieee11073::Decimal;
    use crate::obs::{HostTime, MeasStatus, Scale, Timestamps};

    fn ts(ms: i64) -> Timestamps {
        Timestamps {
            device: None,
            host: HostTime {
                wall_ms: ms,
                mono_ms: ms as u64,
            },
            seq: None,
        }
    }

    fn num(m: Metric, r: Reading, ms: i64) -> Observation {
        Observation::Numeric(Numeric {
            metric: m,
            reading: r,
            unit: Unit::PerMin,
            status: MeasStatus::default(),
            time: ts(ms),
            episodic: false,
        })
    }

    fn val(v: i64) -> Reading {
        Reading::Value(Decimal::new(v, 0))
    }

    /// Lead `code` at 500 Hz, 1 µV per raw unit, a spike every second.
    fn ecg(code: u32, from_ms: i64, n: usize) -> Observation {
        Observation::Wave(WaveChunk {
            channel: Metric::Other((2 << 16) | code),
            t0: ts(from_ms),
            sample_period_us: 2000,
            scale: Some(Scale {
                lower_abs: Reading::Value(Decimal::new(0, 0)),
                upper_abs: Reading::Value(Decimal::new(1, 0)),
                lower_raw: 0,
                upper_raw: 1000,
            }),
            unit: Unit::MilliVolt,
            samples: (0..n)
                .map(|i| {
                    let t = (from_ms as usize * 500 / 1000 + i) % 500;
                    if t == 0 { 1500 } else { 0 }
                })
                .collect(),
            status: MeasStatus::default(),
        })
    }

    /// 2 s of capnogram at 62.5 Hz in mmHg (raw 40 = 1 mmHg): 0 for the
    /// first second, then a 38 mmHg plateau; and a pleth ramp.
    fn co2_and_pleth() -> [Observation; 2] {
        let co2 = WaveChunk {
            channel: Metric::Other(0x0002_50AC),
            t0: ts(0),
            sample_period_us: 16_000,
            scale: Some(Scale {
                lower_abs: Reading::Value(Decimal::int(0)),
                upper_abs: Reading::Value(Decimal::new(102_375, -3)),
                lower_raw: 0,
                upper_raw: 4095,
            }),
            unit: Unit::MmHg,
            samples: (0..125).map(|i| if i < 62 { 0 } else { 38 * 40 }).collect(),
            status: MeasStatus::default(),
        };
        let pleth = WaveChunk {
            channel: Metric::Other(0x0002_4BB4),
            sample_period_us: 8_000,
            scale: None,
            unit: Unit::Dimensionless,
            samples: (0..250).map(|i| 1000 + (i % 125) * 8).collect(),
            ..co2.clone()
        };
        [Observation::Wave(co2), Observation::Wave(pleth)]
    }

    /// The whole box of a wave as one sweep segment.
    fn drawn(l: &Live, kind: WaveKind, width: usize, height: f64, window_ms: i64) -> String {
        let mut sw = Sweep::new(kind, width, height, window_ms, 1);
        let mut out = Vec::new();
        sw.update(l, &mut out);
        out.pop().map(|(_, p)| p).unwrap_or_default()
    }

    #[test]
    fn capnogram_and_pleth_are_drawn_to_scale_beside_the_ecg() {
        let mut l = Live::new(LiveConfig::default());
        assert_eq!(drawn(&l, WaveKind::Capno, 100, 100.0, 2_000), "");
        assert_eq!(l.capno_scale(), None);
        assert_eq!(drawn(&l, WaveKind::Pleth, 100, 100.0, 2_000), "");
        for o in co2_and_pleth() {
            l.push(&o);
        }
        let path = drawn(&l, WaveKind::Capno, 100, 100.0, 2_000);
        assert_eq!(l.capno_scale(), Some((50.0, "mmHg")));
        let ys: Vec<f64> = path
            .split(['M', 'L'])
            .filter_map(|p| p.split_whitespace().nth(1)?.parse().ok())
            .collect();
        // 0 mmHg at the bottom, 38 of 50 mmHg at 24 % from the top.
        assert!(ys.iter().any(|y| (y - 100.0).abs() < 0.01), "{ys:?}");
        assert!(ys.iter().any(|y| (y - 24.0).abs() < 0.01), "{ys:?}");
        assert!(
            ys.iter()
                .all(|y| (y - 100.0).abs() < 0.01 || (y - 24.0).abs() < 0.01)
        );
        // The pleth fills most of its box whatever its raw amplitude (a
        // margin of an eighth of its range above and below, so the scale
        // holds still from beat to beat), below the label's top fifth.
        let ys: Vec<f64> = drawn(&l, WaveKind::Pleth, 100, 100.0, 2_000)
            .split(['M', 'L'])
            .filter_map(|p| p.split_whitespace().nth(1)?.parse().ok())
            .collect();
        let lo = ys.iter().cloned().fold(f64::MAX, f64::min);
        let hi = ys.iter().cloned().fold(f64::MIN, f64::max);
        assert!(lo >= 22.0 && hi <= 96.0, "{lo} {hi}");
        assert!(hi - lo >= 0.75 * 74.0 * 0.99, "{lo} {hi}");
        // Neither is an ECG lead: no strip from them.
        assert_eq!(l.display_lead(), None);
        assert!(l.strip_now(1_000, "x").is_none());
    }

    fn feed_ecg(l: &mut Live, leads: &[u32], from_ms: i64, to_ms: i64) {
        let mut t = from_ms;
        while t < to_ms {
            for &c in leads {
                l.push(&ecg(c, t, 128));
            }
            t += 256;
        }
    }

    #[test]
    fn values_keep_specials_and_age() {
        let mut l = Live::new(LiveConfig::default());
        l.push(&num(Metric::HeartRate, val(112), 1_000));
        l.push(&num(Metric::SpO2, Reading::NaN, 1_000));
        l.push(&num(Metric::NibpSys, val(150), 2_000));
        l.push(&num(Metric::NibpDia, val(95), 2_000));
        // An older value arriving late does not replace a newer one.
        l.push(&num(Metric::HeartRate, val(50), 500));
        let v = l.values(62_000);
        let t: Vec<(&str, &str, bool)> = v
            .iter()
            .map(|x| (x.label_de, x.text.as_str(), x.stale))
            .collect();
        assert_eq!(
            t,
            vec![
                ("HF", "112", true),
                ("SpO₂", "?", true),
                ("NIBP", "150/95", false)
            ]
        );
        assert_eq!(v[0].age_ms, 61_000);
        // A cuff pressure is minutes old by nature: stale only after 15 min.
        if let Observation::Numeric(mut n) = num(Metric::Temperature, val(37), 2_000) {
            n.episodic = true;
            l.push(&Observation::Numeric(n));
        }
        let temp = |l: &Live, now| l.values(now).into_iter().find(|x| x.label_de == "Temp");
        assert_eq!(temp(&l, 600_000).map(|x| x.stale), Some(false));
        assert_eq!(temp(&l, 903_000).map(|x| x.stale), Some(true));
    }

    #[test]
    fn demo_values_never_show() {
        let mut l = Live::new(LiveConfig::default());
        if let Observation::Numeric(mut n) = num(Metric::HeartRate, val(80), 0) {
            n.status = MeasStatus(0).with(MeasStatus::DEMO_DATA);
            l.push(&Observation::Numeric(n));
        }
        assert!(l.values(0).is_empty());
    }

    #[test]
    fn trends_take_one_point_per_interval_and_stay_bounded() {
        let mut l = Live::new(LiveConfig::default());
        for i in 0..1000 {
            l.push(&num(Metric::HeartRate, val(60 + i % 40), i * 1000));
        }
        let v = l.values(1_000_000);
        assert_eq!(v[0].trend.len(), 60);
        assert!(!Live::sparkline(&v[0].trend, 100.0, 20.0).is_empty());
    }

    #[test]
    fn wave_memory_stays_within_the_budget() {
        let mut l = Live::new(LiveConfig::default());
        // 12 leads offered, 8 kept; 10 minutes of 500 Hz.
        let codes = [
            0x0101, 0x0102, 0x013D, 0x013E, 0x013F, 0x0140, 0x0103, 0x0104, 0x0105, 0x0106, 0x0107,
            0x0108,
        ];
        feed_ecg(&mut l, &codes, 0, 600_000);
        assert!(
            l.wave_bytes() <= l.wave_budget_bytes(),
            "{}",
            l.wave_bytes()
        );
        assert!(l.stats().channels_dropped > 0);
        // 30 s at 500 Hz kept per lead.
        assert_eq!(l.channels[0].ring.len(), 15_000);
    }

    #[test]
    fn a_shock_cuts_a_strip_around_it_once_the_after_part_arrived() {
        let mut l = Live::new(LiveConfig {
            device_label: "Monitor SN 1".into(),
            ..LiveConfig::default()
        });
        feed_ecg(&mut l, &[0x0102, 0x0101], 0, 18_000);
        l.push(&Observation::Event(DeviceEvent {
            kind: EventKind::ShockDelivered { joules: 200 },
            time: ts(15_000),
        }));
        assert!(
            l.take_strips().is_empty(),
            "4 s after the shock are missing"
        );
        feed_ecg(&mut l, &[0x0102, 0x0101], 18_000, 24_000);
        let s = l.take_strips();
        assert_eq!(s.len(), 1);
        let s = &s[0];
        assert_eq!(s.label, "Schock 1 (200 J)");
        assert_eq!(s.kind, StripKind::Rhythm);
        assert_eq!(s.start_ms, 7_000);
        assert_eq!(s.duration_ms(), 12_000);
        assert_eq!(s.sample_rate_hz, 500);
        // Lead order is the standard one, whatever the arrival order.
        let names: Vec<&str> = s.leads.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(names, ["I", "II"]);
        // The spike of 1.5 mV survives at 1 µV per LSB.
        assert_eq!(s.leads[1].samples.iter().copied().max(), Some(1500));
        assert_eq!(s.device, "Monitor SN 1");
        Strip::decode(&s.encode()).expect("a valid strip");
    }

    #[test]
    fn a_high_priority_patient_alarm_cuts_a_strip_and_every_alarm_is_listed() {
        let mut l = Live::new(LiveConfig::default());
        feed_ecg(&mut l, &[0x0102], 0, 12_000);
        let alarm = |priority, physiological, text: &str, ms| {
            Observation::Event(DeviceEvent {
                kind: EventKind::Alarm {
                    code: 1,
                    source: 2,
                    priority,
                    physiological,
                    text: text.into(),
                },
                time: ts(ms),
            })
        };
        l.push(&alarm(AlarmPriority::Medium, Some(true), "SpO2 LOW", 9_000));
        l.push(&alarm(AlarmPriority::High, Some(false), "LEADS OFF", 9_500));
        l.push(&alarm(
            AlarmPriority::High,
            Some(true),
            "***VFIB/VTACH",
            10_000,
        ));
        feed_ecg(&mut l, &[0x0102], 12_000, 20_000);
        let s = l.take_strips();
        assert_eq!(s.len(), 1, "only the patient alarm of high priority");
        assert_eq!(s[0].label, "Alarm ***VFIB/VTACH");
        assert_eq!(s[0].start_ms, 2_000);
        let texts: Vec<&str> = l.alarms().map(|a| a.text.as_str()).collect();
        assert_eq!(texts, ["***VFIB/VTACH", "LEADS OFF", "SpO2 LOW"]);
        for i in 0..20 {
            l.push(&alarm(AlarmPriority::Low, None, "x", 30_000 + i));
        }
        assert_eq!(l.alarms().count(), ALARMS_KEPT, "bounded");
    }

    #[test]
    fn no_strip_is_padded_over_missing_ecg() {
        let mut l = Live::new(LiveConfig::default());
        feed_ecg(&mut l, &[0x0102], 0, 3_000);
        // 10 s asked, 3 s there.
        l.push(&Observation::Event(DeviceEvent {
            kind: EventKind::TwelveLeadAcquired,
            time: ts(2_900),
        }));
        assert!(l.take_strips().is_empty());
        assert_eq!(l.stats().strips_incomplete, 1);
        assert!(l.strip_now(10_000, "x").is_none());
        assert!(l.strip_now(2_000, "EKG-Streifen").is_some());
    }

    #[test]
    fn the_drawn_ecg_keeps_every_qrs_peak() {
        let mut l = Live::new(LiveConfig::default());
        feed_ecg(&mut l, &[0x0102], 0, 10_000);
        // 5 s into 300 px: 8.3 samples per column, the 1-sample spikes stay.
        let p = drawn(&l, WaveKind::Ecg { range_uv: 2000.0 }, 300, 100.0, 5_000);
        assert!(p.starts_with('M'));
        let ys: Vec<f64> = p
            .split(['M', 'L'])
            .filter(|s| !s.is_empty())
            .filter_map(|s| s.split(' ').nth(1)?.parse().ok())
            .collect();
        // 1.5 mV of ±2 mV in a 100 px box: 50 − 37.5 = 12.5.
        let peaks = ys.iter().filter(|y| (**y - 12.5).abs() < 0.01).count();
        assert_eq!(peaks, 5, "{p}");
        assert_eq!(l.display_lead(), Some("II"));
    }
}
