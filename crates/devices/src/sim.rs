//! `rettpad-sim device`: plays the monitor side of a protocol over a PTY or
//! TCP on loopback, with scenario-driven numerics, a synthetic ECG (the
//! ECGSYN model, McSharry et al. 2003) and injected faults.
//!
//! ```text
//! rettpad-sim device --proto intellivue|datex --link pty|tcp:127.0.0.1:PORT
//!     --scenario stable|stemi|vf-arrest --seed N [--serial S] [--model M]
//!     [--dri-level 9] (datex: the DRI level the S/5 answers at)
//!     [--nomenclature primary|mixed|kpa] (intellivue: which codes and units it sends)
//!     [--faults bitflip=1e-4,drop=0.01,dup=0.01,disconnect-after=90s,clock-skew=+300s]
//! ```
//! `intellivue`, `datex` and `ble` ([`super::ble_sim`], over the GATT test
//! seam) are implemented.

use super::ieee11073::{Decimal, Reading};
use super::intellivue::monitor::{
    Monitor, MonitorConfig, Physiology, SimAlarms, SimNumeric, SimWave,
};
use super::intellivue::pdu::{self, AlMonInfo, DevAlarmEntry, NuObsValue, SaSpec, ScaleSpec};
use super::obs::{AlarmPriority, DeviceTime, HostTime, Metric, Unit};
use crate::link::{Link, LinkError, SerialLink, TcpLink, host_time};
use rettpad_clock::{Clock, SystemClock};
use std::f64::consts::PI;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: rettpad-sim device --proto intellivue|datex --link pty|tcp:127.0.0.1:PORT \
--scenario stable|stemi|vf-arrest [--seed N] [--serial S] [--model M] [--dri-level N] \
[--nomenclature primary|mixed|kpa] [--faults bitflip=P,drop=P,dup=P,disconnect-after=Ns,clock-skew=+Ns]";

/// xorshift64*: deterministic per seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Stable,
    Stemi,
    VfArrest,
}

impl Scenario {
    pub fn parse(s: &str) -> Option<Scenario> {
        match s {
            "stable" => Some(Scenario::Stable),
            "stemi" => Some(Scenario::Stemi),
            "vf-arrest" => Some(Scenario::VfArrest),
            _ => None,
        }
    }

    /// Heart rate at `t` seconds; `None` during VF (no countable rhythm).
    pub fn hr(self, t: f64) -> Option<f64> {
        match self {
            Scenario::Stable => Some(78.0),
            Scenario::Stemi => Some(96.0),
            Scenario::VfArrest if t < 60.0 => Some(88.0),
            Scenario::VfArrest if t < 102.0 => None,
            Scenario::VfArrest => Some(120.0),
        }
    }

    /// SpO2 in 0.1 % (−1: no reading), respiratory rate and etCO2 (mmHg)
    /// at `t` seconds.
    pub fn gas(self, t: f64) -> (i64, i64, i64) {
        match self {
            Scenario::Stable => (970, 14, 38),
            Scenario::Stemi => (940, 18, 35),
            Scenario::VfArrest if t < 60.0 => (960, 16, 38),
            Scenario::VfArrest if t < 102.0 => (-1, 10, 15),
            Scenario::VfArrest => (930, 14, 45),
        }
    }

    /// Patient alarms active at `t` seconds: VF from 60 s until the shock
    /// and ROSC at 102 s; STEMI keeps its ST alarm up.
    pub fn alarms(self, t: f64) -> Vec<ScenarioAlarm> {
        match self {
            Scenario::VfArrest if (60.0..102.0).contains(&t) => vec![ScenarioAlarm::VF],
            Scenario::Stemi => vec![ScenarioAlarm::ST],
            _ => Vec::new(),
        }
    }
}

/// One scenario alarm as both simulated monitors show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScenarioAlarm {
    pub text: &'static str,
    pub priority: AlarmPriority,
    /// IntelliVue `al_source` (SCADA code) and `al_code` (events code).
    pub intellivue_source: u16,
    pub intellivue_code: u16,
}

impl ScenarioAlarm {
    pub const VF: ScenarioAlarm = ScenarioAlarm {
        text: "***VFIB/VTACH",
        priority: AlarmPriority::High,
        intellivue_source: 16_770, // NOM_ECG_CARD_BEAT_RATE
        intellivue_code: pdu::NOM_EVT_ECG_V_FIB_TACHY,
    };
    pub const ST: ScenarioAlarm = ScenarioAlarm {
        text: "**ST-Multi",
        priority: AlarmPriority::Medium,
        intellivue_source: 0x0300, // NOM_ECG_AMPL_ST
        intellivue_code: pdu::NOM_EVT_ST_MULTI,
    };

    /// As an IntelliVue DevAlarmEntry (patient list).
    pub fn intellivue_entry(&self, inst_no: u16) -> DevAlarmEntry {
        DevAlarmEntry {
            source: self.intellivue_source,
            code: self.intellivue_code,
            al_type: match self.priority {
                AlarmPriority::High => pdu::HI_PRI_P_AL,
                AlarmPriority::Medium => pdu::MED_PRI_P_AL,
                AlarmPriority::Low => pdu::LOW_PRI_P_AL,
            },
            state: 0,
            object: (pdu::NOM_MOC_VMO_METRIC_NU, 0, 1),
            info: Some(AlMonInfo {
                inst_no,
                text_id: 0,
                priority: 0,
                flags: 0,
                text: Some(self.text.to_string()),
            }),
        }
    }
}

/// The ECGSYN limit-cycle model: (x, y) on the unit circle at angular speed
/// 2π/RR, z the ECG, PQRST as Gaussian bumps at fixed angles; RK4 at
/// 1000 Hz, decimated to the output rate.
#[derive(Debug, Clone)]
pub struct Ecgsyn {
    x: f64,
    y: f64,
    z: f64,
    t: f64,
    rr: f64,
    hr: f64,
    rng: Rng,
}

const THETA_DEG: [f64; 5] = [-70.0, -15.0, 0.0, 15.0, 100.0];
const A: [f64; 5] = [1.2, -5.0, 30.0, -7.5, 0.75];
const B: [f64; 5] = [0.25, 0.1, 0.1, 0.1, 0.4];
const FS_INTERNAL: f64 = 1000.0;

impl Ecgsyn {
    pub fn new(hr: f64, seed: u64) -> Ecgsyn {
        Ecgsyn {
            x: -1.0,
            y: 0.0,
            z: 0.0,
            t: 0.0,
            rr: 60.0 / hr,
            hr,
            rng: Rng::new(seed),
        }
    }

    pub fn set_hr(&mut self, hr: f64) {
        self.hr = hr;
    }

    fn deriv(&self, x: f64, y: f64, z: f64, t: f64) -> (f64, f64, f64) {
        let alpha = 1.0 - (x * x + y * y).sqrt();
        let w = 2.0 * PI / self.rr;
        let th = y.atan2(x);
        let f = (self.hr / 60.0).sqrt();
        let scale_th = [f.sqrt(), f, 1.0, f, f.sqrt()];
        let mut dz = 0.0;
        for ((&td, &a), (&b, &s)) in THETA_DEG.iter().zip(&A).zip(B.iter().zip(&scale_th)) {
            let ti = td.to_radians() * s;
            let bi = b * f;
            let d = (th - ti + PI).rem_euclid(2.0 * PI) - PI;
            dz -= a * d * (-d * d / (2.0 * bi * bi)).exp();
        }
        let z0 = 0.005 * (2.0 * PI * 0.25 * t).sin();
        (alpha * x - w * y, alpha * y + w * x, dz - (z - z0))
    }

    fn step(&mut self) {
        let h = 1.0 / FS_INTERNAL;
        let before = self.y.atan2(self.x);
        let (x, y, z, t) = (self.x, self.y, self.z, self.t);
        let k1 = self.deriv(x, y, z, t);
        let k2 = self.deriv(
            x + h / 2.0 * k1.0,
            y + h / 2.0 * k1.1,
            z + h / 2.0 * k1.2,
            t + h / 2.0,
        );
        let k3 = self.deriv(
            x + h / 2.0 * k2.0,
            y + h / 2.0 * k2.1,
            z + h / 2.0 * k2.2,
            t + h / 2.0,
        );
        let k4 = self.deriv(x + h * k3.0, y + h * k3.1, z + h * k3.2, t + h);
        self.x += h / 6.0 * (k1.0 + 2.0 * k2.0 + 2.0 * k3.0 + k4.0);
        self.y += h / 6.0 * (k1.1 + 2.0 * k2.1 + 2.0 * k3.1 + k4.1);
        self.z += h / 6.0 * (k1.2 + 2.0 * k2.2 + 2.0 * k3.2 + k4.2);
        self.t += h;
        // New beat when the phase wraps from +π to −π: draw the next RR
        // (mean from HR, ±3 % beat-to-beat variation).
        let after = self.y.atan2(self.x);
        if before > 2.0 && after < -2.0 {
            let jitter = 1.0 + 0.03 * (2.0 * self.rng.unit() - 1.0);
            self.rr = 60.0 / self.hr * jitter;
        }
    }

    /// Next sample in mV at output rate `fs` (a divisor of 1000 Hz).
    pub fn next_mv(&mut self, fs: u32) -> f64 {
        let k = (FS_INTERNAL as u32 / fs.max(1)).max(1);
        for _ in 0..k {
            self.step();
        }
        // z spans about −0.019…0.046 for these parameters: map to −0.4…1.2 mV.
        -0.4 + (self.z + 0.019) / 0.065 * 1.6
    }
}

/// Ventricular fibrillation: 2–3 sinusoids (4–7 Hz) with wandering
/// amplitude, plus noise.
fn vf_mv(t: f64, rng: &mut Rng) -> f64 {
    let amp = 0.5 + 0.3 * (2.0 * PI * 0.2 * t).sin();
    amp * ((2.0 * PI * 5.1 * t).sin() * 0.6
        + (2.0 * PI * 6.3 * t + 1.0).sin() * 0.3
        + (2.0 * PI * 4.2 * t + 2.0).sin() * 0.2)
        + 0.02 * (2.0 * rng.unit() - 1.0)
}

pub const ECG_HANDLE: u16 = 0x0100;
pub const ECG_PHYSIO: u16 = 0x0102;
pub const ECG_PERIOD_US: u32 = 2000; // 500 Hz
pub const ECG_I_HANDLE: u16 = 0x0103;
pub const ECG_III_HANDLE: u16 = 0x0104;
pub const PLETH_HANDLE: u16 = 0x0101;
pub const PLETH_PERIOD_US: u32 = 8000; // 125 Hz
pub const CO2_HANDLE: u16 = 0x0102;
pub const CO2_PERIOD_US: u32 = 16_000; // 62.5 Hz

/// Pleth pulse shape over one beat (`phase` 0…1): systolic peak and
/// dicrotic wave, 0…1.3.
pub fn pleth_level(phase: f64) -> f64 {
    let g = |c: f64, w: f64| (-((phase - c) / w).powi(2)).exp();
    g(0.25, 0.08) + 0.3 * g(0.55, 0.1)
}

/// Capnogram over one breath (`phase` 0…1): inspiration at zero, upstroke,
/// plateau, downstroke; 0…1 of etCO2.
pub fn capno_level(phase: f64) -> f64 {
    if phase < 0.4 {
        0.0
    } else if phase < 0.45 {
        (phase - 0.4) / 0.05
    } else if phase < 0.9 {
        1.0
    } else {
        1.0 - (phase - 0.9) / 0.1
    }
}

/// Share of lead II seen in lead I; III = II − I (Einthoven).
const LEAD_I_OF_II: f64 = 0.55;

/// Scenario physiology for the IntelliVue monitor.
pub struct ScenarioPhysiology {
    scenario: Scenario,
    /// Scenario time at monitor start (tests jump into the VF phase).
    t0_ms: u64,
    rng: Rng,
    ecg: Ecgsyn,
    /// Lead II in mV for the last sample range asked, so that leads I and
    /// III of the same poll derive from the same beats.
    ecg_block: (u64, Vec<f64>),
    last_nibp_s: Option<u64>,
    nibp_at: Option<DeviceTime>,
}

impl ScenarioPhysiology {
    pub fn new(scenario: Scenario, seed: u64) -> ScenarioPhysiology {
        Self::starting_at(scenario, seed, 0)
    }

    /// The scenario as if `t0_ms` had already passed when the monitor starts.
    pub fn starting_at(scenario: Scenario, seed: u64, t0_ms: u64) -> ScenarioPhysiology {
        ScenarioPhysiology {
            scenario,
            t0_ms,
            rng: Rng::new(seed),
            ecg: Ecgsyn::new(
                scenario.hr(t0_ms as f64 / 1000.0).unwrap_or(80.0),
                seed ^ 0xECC,
            ),
            ecg_block: (0, Vec::new()),
            last_nibp_s: None,
            nibp_at: None,
        }
    }
}

fn nu(physio: u16, state: u16, unit: Unit, value: Reading) -> NuObsValue {
    NuObsValue {
        physio_id: physio,
        state,
        unit_code: unit.intellivue(),
        value,
    }
}

fn code(m: Metric) -> u16 {
    m.intellivue().unwrap_or(0)
}

impl Physiology for ScenarioPhysiology {
    fn alarms(&mut self, t_ms: u64) -> SimAlarms {
        let t = t_ms.saturating_add(self.t0_ms) as f64 / 1000.0;
        SimAlarms {
            patient: (1..)
                .zip(self.scenario.alarms(t))
                .map(|(i, a)| a.intellivue_entry(i))
                .collect(),
            technical: Vec::new(),
        }
    }

    fn numerics(&mut self, t_ms: u64, now: DeviceTime) -> Vec<SimNumeric> {
        let t_ms = t_ms.saturating_add(self.t0_ms);
        let t = t_ms as f64 / 1000.0;
        let j = |rng: &mut Rng, w: i64| (rng.next_u64() % (2 * w as u64 + 1)) as i64 - w;
        let (spo2, rr, etco2) = self.scenario.gas(t);
        let mut out = Vec::new();
        let hr = match self.scenario.hr(t) {
            Some(h) => Reading::Value(Decimal::int(h as i64 + j(&mut self.rng, 2))),
            None => Reading::NaN,
        };
        out.push(SimNumeric {
            handle: 1,
            value: nu(code(Metric::HeartRate), 0, Unit::PerMin, hr),
            measured_at: None,
        });
        let (sp, sp_state) = if spo2 < 0 {
            (Reading::NaN, 0x2000)
        } else {
            (
                Reading::Value(Decimal::new(spo2 + 5 * j(&mut self.rng, 1), -1)),
                0,
            )
        };
        out.push(SimNumeric {
            handle: 2,
            value: nu(code(Metric::SpO2), sp_state, Unit::Percent, sp),
            measured_at: None,
        });
        out.push(SimNumeric {
            handle: 3,
            value: nu(
                code(Metric::RespRate),
                0,
                Unit::PerMin,
                Reading::Value(Decimal::int(rr)),
            ),
            measured_at: None,
        });
        out.push(SimNumeric {
            handle: 4,
            value: nu(
                code(Metric::EtCo2),
                0,
                Unit::MmHg,
                Reading::Value(Decimal::int(etco2 + j(&mut self.rng, 1))),
            ),
            measured_at: None,
        });
        // NIBP every 3 minutes, first at start; repeated until the next.
        let s = t_ms / 1000;
        if self.last_nibp_s.is_none_or(|l| s >= l + 180) {
            self.last_nibp_s = Some(s);
            self.nibp_at = Some(now);
        }
        if let Some(at) = self.nibp_at {
            let (sys, dia) = match self.scenario {
                Scenario::Stable => (128, 82),
                Scenario::Stemi => (150, 95),
                Scenario::VfArrest => (110, 70),
            };
            for (h, m, v) in [
                (5, Metric::NibpSys, sys),
                (6, Metric::NibpDia, dia),
                (7, Metric::NibpMean, (sys + 2 * dia) / 3),
            ] {
                out.push(SimNumeric {
                    handle: h,
                    value: nu(code(m), 0, Unit::MmHg, Reading::Value(Decimal::int(v))),
                    measured_at: Some(at),
                });
            }
        }
        out
    }

    fn waves(&self) -> Vec<SimWave> {
        let spec = SaSpec {
            array_size: 0,
            sample_bits: 16,
            significant_bits: 12,
            flags: 0,
        };
        // raw 0..4095 ↔ −2.048…+2.047 mV
        let ecg_scale = ScaleSpec {
            lower_abs: Reading::Value(Decimal::new(-2048, -3)),
            upper_abs: Reading::Value(Decimal::new(2047, -3)),
            lower_scaled: 0,
            upper_scaled: 4095,
        };
        let ecg = |handle, physio_id| SimWave {
            handle,
            physio_id,
            period_us: ECG_PERIOD_US,
            spec,
            scale: ecg_scale,
        };
        vec![
            ecg(ECG_HANDLE, ECG_PHYSIO),
            ecg(ECG_I_HANDLE, 0x0101),
            ecg(ECG_III_HANDLE, 0x013D),
            SimWave {
                handle: PLETH_HANDLE,
                physio_id: 0x4BB4,
                period_us: PLETH_PERIOD_US,
                spec,
                // relative units: raw 0..4095 ↔ 0…4.095
                scale: ScaleSpec {
                    lower_abs: Reading::Value(Decimal::int(0)),
                    upper_abs: Reading::Value(Decimal::new(4095, -3)),
                    lower_scaled: 0,
                    upper_scaled: 4095,
                },
            },
            SimWave {
                handle: CO2_HANDLE,
                physio_id: 0x50AC,
                period_us: CO2_PERIOD_US,
                spec,
                // raw 0..4095 ↔ 0…102.375 mmHg
                scale: ScaleSpec {
                    lower_abs: Reading::Value(Decimal::int(0)),
                    upper_abs: Reading::Value(Decimal::new(102_375, -3)),
                    lower_scaled: 0,
                    upper_scaled: 4095,
                },
            },
        ]
    }

    fn samples(&mut self, handle: u16, from: u64, n: usize) -> Vec<u16> {
        let secs = |i: u64, period_us: u32| i as f64 * f64::from(period_us) / 1e6;
        let t0 = self.t0_ms as f64 / 1000.0;
        match handle {
            PLETH_HANDLE => (0..n as u64)
                .map(|i| {
                    let t = secs(from + i, PLETH_PERIOD_US) + t0;
                    let v = match self.scenario.hr(t) {
                        Some(hr) => pleth_level((t * hr / 60.0).fract()) * 2500.0,
                        // no perfusion in VF: a flat, noisy line
                        None => self.rng.unit() * 60.0,
                    };
                    v.round().clamp(0.0, 4095.0) as u16
                })
                .collect(),
            CO2_HANDLE => (0..n as u64)
                .map(|i| {
                    let t = secs(from + i, CO2_PERIOD_US) + t0;
                    let (_, rr, et) = self.scenario.gas(t);
                    let mmhg = capno_level((t * rr as f64 / 60.0).fract()) * et as f64;
                    (mmhg * 40.0).round().clamp(0.0, 4095.0) as u16
                })
                .collect(),
            _ => {
                let ii = self.lead_ii(from, n);
                let mv = |x: f64| ((x + 2.048) * 1000.0).round().clamp(0.0, 4095.0) as u16;
                match handle {
                    ECG_I_HANDLE => ii.iter().map(|x| mv(x * LEAD_I_OF_II)).collect(),
                    ECG_III_HANDLE => ii.iter().map(|x| mv(x * (1.0 - LEAD_I_OF_II))).collect(),
                    _ => ii.iter().map(|x| mv(*x)).collect(),
                }
            }
        }
    }
}

impl ScenarioPhysiology {
    /// Lead II in mV for samples `[from, from + n)`; the model runs once
    /// per range, whichever leads are asked for.
    fn lead_ii(&mut self, from: u64, n: usize) -> Vec<f64> {
        if self.ecg_block.0 == from && self.ecg_block.1.len() == n {
            return self.ecg_block.1.clone();
        }
        let fs = 1_000_000 / ECG_PERIOD_US;
        let block: Vec<f64> = (0..n)
            .map(|i| {
                let t = (from + i as u64) as f64 / f64::from(fs) + self.t0_ms as f64 / 1000.0;
                match self.scenario.hr(t) {
                    Some(hr) => {
                        self.ecg.set_hr(hr);
                        self.ecg.next_mv(fs)
                    }
                    None => {
                        let _ = self.ecg.next_mv(fs);
                        vf_mv(t, &mut self.rng)
                    }
                }
            })
            .collect();
        self.ecg_block = (from, block.clone());
        block
    }
}

/// Faults injected on the device side, per whole frame.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Faults {
    /// Probability per byte of one flipped bit.
    pub bitflip: f64,
    pub drop: f64,
    pub dup: f64,
    pub disconnect_after: Option<Duration>,
    pub clock_skew_ms: i64,
}

impl Faults {
    pub fn parse(s: &str) -> Result<Faults, String> {
        let mut f = Faults::default();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').ok_or(format!("bad fault {part}"))?;
            let secs = |v: &str| -> Result<i64, String> {
                v.trim_end_matches('s')
                    .trim_start_matches('+')
                    .parse::<i64>()
                    .map(|x| if v.starts_with('-') { x } else { x.abs() })
                    .map_err(|_| format!("bad duration {v}"))
            };
            let p = |v: &str| v.parse::<f64>().map_err(|_| format!("bad probability {v}"));
            match k {
                "bitflip" => f.bitflip = p(v)?,
                "drop" => f.drop = p(v)?,
                "dup" => f.dup = p(v)?,
                "disconnect-after" => {
                    f.disconnect_after = Some(Duration::from_secs(secs(v)?.unsigned_abs()))
                }
                "clock-skew" => f.clock_skew_ms = secs(v)? * 1000,
                _ => return Err(format!("unknown fault {k}")),
            }
        }
        Ok(f)
    }

    /// Applies the faults to one outgoing frame.
    pub fn apply(&self, frame: Vec<u8>, rng: &mut Rng, out: &mut Vec<Vec<u8>>) {
        if rng.chance(self.drop) {
            return;
        }
        let mut f = frame;
        if self.bitflip > 0.0 {
            for b in f.iter_mut() {
                if rng.chance(self.bitflip) {
                    *b ^= 1 << (rng.next_u64() % 8);
                }
            }
        }
        if rng.chance(self.dup) {
            out.push(f.clone());
        }
        out.push(f);
    }
}

/// The device side of a protocol as the simulator drives it.
pub trait SimDevice {
    /// Bytes from the host; whole wire frames to send are appended.
    fn on_bytes(&mut self, bytes: &[u8], now: HostTime, out: &mut Vec<Vec<u8>>);
    fn on_tick(&mut self, now: HostTime, out: &mut Vec<Vec<u8>>);
    /// The link dropped.
    fn reset(&mut self);
}

impl SimDevice for Monitor {
    fn on_bytes(&mut self, bytes: &[u8], now: HostTime, out: &mut Vec<Vec<u8>>) {
        Monitor::on_bytes(self, bytes, now, out)
    }
    fn on_tick(&mut self, now: HostTime, out: &mut Vec<Vec<u8>>) {
        Monitor::on_tick(self, now, out)
    }
    fn reset(&mut self) {
        Monitor::reset(self)
    }
}

impl SimDevice for super::datex::monitor::Monitor {
    fn on_bytes(&mut self, bytes: &[u8], now: HostTime, out: &mut Vec<Vec<u8>>) {
        super::datex::monitor::Monitor::on_bytes(self, bytes, now, out)
    }
    fn on_tick(&mut self, now: HostTime, out: &mut Vec<Vec<u8>>) {
        super::datex::monitor::Monitor::on_tick(self, now, out)
    }
    fn reset(&mut self) {
        super::datex::monitor::Monitor::reset(self)
    }
}

/// Serves one connection until the link closes or `disconnect_after`.
/// Returns `Ok(true)` if it hung up on purpose.
pub fn serve(
    link: &mut dyn Link,
    monitor: &mut dyn SimDevice,
    faults: &Faults,
    rng: &mut Rng,
    clock: &dyn Clock,
) -> Result<bool, LinkError> {
    let started = Instant::now();
    let mut buf = vec![0u8; 4096];
    let mut frames = Vec::new();
    let mut wire = Vec::new();
    loop {
        if faults
            .disconnect_after
            .is_some_and(|d| started.elapsed() >= d)
        {
            monitor.reset();
            return Ok(true);
        }
        let n = link.recv(&mut buf, Duration::from_millis(10))?;
        let now = host_time(clock);
        if n > 0 {
            monitor.on_bytes(&buf[..n], now, &mut frames);
        }
        monitor.on_tick(now, &mut frames);
        for f in frames.drain(..) {
            faults.apply(f, rng, &mut wire);
        }
        for w in wire.drain(..) {
            link.send(&w)?;
        }
    }
}

/// Starts the simulator in this process on a loopback port (the demo app's
/// "simulated defibrillator"). Serves one connection after another until
/// the process ends; returns the address to connect to.
pub fn spawn_loopback(
    cfg: MonitorConfig,
    scenario: Scenario,
    seed: u64,
    faults: Faults,
) -> std::io::Result<SocketAddr> {
    let monitor = Monitor::new(cfg, Box::new(ScenarioPhysiology::new(scenario, seed)));
    spawn_serving("device-sim", Box::new(monitor), seed, faults)
}

/// [`spawn_loopback`] for the simulated GE Datex-Ohmeda S/5.
pub fn spawn_loopback_datex(
    cfg: super::datex::monitor::MonitorConfig,
    scenario: Scenario,
    seed: u64,
    faults: Faults,
) -> std::io::Result<SocketAddr> {
    use super::datex::monitor::{Monitor as Dx, ScenarioSource};
    let monitor = Dx::new(cfg, Box::new(ScenarioSource::new(scenario, seed)));
    spawn_serving("device-sim-datex", Box::new(monitor), seed, faults)
}

/// One thread serving `device` on a fresh loopback port, one connection
/// after another.
fn spawn_serving(
    name: &str,
    mut device: Box<dyn SimDevice + Send>,
    seed: u64,
    faults: Faults,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let clock = SystemClock::new();
            let mut rng = Rng::new(seed);
            for conn in listener.incoming() {
                let Ok(stream) = conn else { continue };
                let mut l = TcpLink::from_stream(stream);
                let _ = serve(&mut l, device.as_mut(), &faults, &mut rng, &clock);
                device.reset();
            }
        })?;
    Ok(addr)
}

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// Entry point of `rettpad-sim device`.
pub fn main(args: &[String]) -> ExitCode {
    let proto = arg(args, "--proto").unwrap_or("intellivue");
    if proto == "ble" {
        return super::ble_sim::main(args);
    }
    if proto != "intellivue" && proto != "datex" {
        eprintln!("rettpad-sim device --proto {proto}: unknown (intellivue, datex, ble)");
        return ExitCode::from(2);
    }
    let Some(scenario) = Scenario::parse(arg(args, "--scenario").unwrap_or("stable")) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let seed = arg(args, "--seed")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1u64);
    let faults = match Faults::parse(arg(args, "--faults").unwrap_or("")) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut cfg = MonitorConfig {
        civil_offset_ms: faults.clock_skew_ms,
        ..MonitorConfig::default()
    };
    if let Some(s) = arg(args, "--serial") {
        cfg.serial = s.to_string();
    }
    if let Some(m) = arg(args, "--model") {
        cfg.model = m.to_string();
    }
    if let Some(n) = arg(args, "--nomenclature") {
        use super::intellivue::monitor::Nomenclature;
        cfg.nomenclature = match n {
            "primary" => Nomenclature::Primary,
            "mixed" => Nomenclature::Mixed,
            "kpa" => Nomenclature::Kpa,
            other => {
                eprintln!("--nomenclature {other}: unknown (primary, mixed, kpa)");
                return ExitCode::from(2);
            }
        };
    }
    let clock = SystemClock::new();
    let mut rng = Rng::new(seed);
    let mut monitor: Box<dyn SimDevice> = if proto == "datex" {
        use super::datex::monitor as dx;
        let mut dc = dx::MonitorConfig {
            civil_offset_ms: faults.clock_skew_ms,
            ..dx::MonitorConfig::default()
        };
        if let Some(l) = arg(args, "--dri-level") {
            match l.parse::<u8>() {
                Ok(l) => dc.dri_level = l,
                Err(_) => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            }
        }
        Box::new(dx::Monitor::new(
            dc,
            Box::new(dx::ScenarioSource::new(scenario, seed)),
        ))
    } else {
        Box::new(Monitor::new(
            cfg,
            Box::new(ScenarioPhysiology::new(scenario, seed)),
        ))
    };
    let monitor = monitor.as_mut();
    let link = arg(args, "--link").unwrap_or("pty");
    if link == "pty" {
        let (master, slave) = match serialport::TTYPort::pair() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("cannot create a PTY pair: {e}");
                return ExitCode::FAILURE;
            }
        };
        let name = serialport::SerialPort::name(&slave).unwrap_or_default();
        println!("PTY {name}");
        let mut l = SerialLink::from_port(master);
        loop {
            match serve(&mut l, monitor, &faults, &mut rng, &clock) {
                // A PTY cannot hang up and come back: go silent instead.
                Ok(true) => std::thread::sleep(Duration::from_secs(6)),
                Ok(false) => return ExitCode::SUCCESS,
                Err(LinkError::Closed) => std::thread::sleep(Duration::from_millis(200)),
                Err(e) => {
                    eprintln!("{e}");
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    let Some(addr) = link
        .strip_prefix("tcp:")
        .and_then(|a| a.parse::<SocketAddr>().ok())
    else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    if !addr.ip().is_loopback() {
        eprintln!("the simulator listens on loopback only");
        return ExitCode::from(2);
    }
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("TCP {}", listener.local_addr().map_or(addr, |a| a));
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        let mut l = TcpLink::from_stream(stream);
        let _ = serve(&mut l, monitor, &faults, &mut rng, &clock);
        monitor.reset();
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecgsyn_beats_at_the_set_rate() {
        let mut e = Ecgsyn::new(60.0, 7);
        let fs = 500;
        let s: Vec<f64> = (0..fs * 10).map(|_| e.next_mv(fs)).collect();
        // R peaks: local maxima above 0.8 mV, at least 300 ms apart
        let mut peaks = Vec::new();
        for i in 1..s.len() - 1 {
            if s[i] > 0.8
                && s[i] >= s[i - 1]
                && s[i] > s[i + 1]
                && peaks.last().is_none_or(|&p| i - p > 150)
            {
                peaks.push(i);
            }
        }
        assert!((9..=11).contains(&peaks.len()), "{} peaks", peaks.len());
        let max = s.iter().cloned().fold(f64::MIN, f64::max);
        let min = s.iter().cloned().fold(f64::MAX, f64::min);
        assert!(max < 1.6 && min > -0.8, "range {min}..{max}");
    }

    #[test]
    fn faults_parse() {
        let f =
            Faults::parse("bitflip=1e-4,drop=0.01,dup=0.5,disconnect-after=90s,clock-skew=+300s")
                .unwrap();
        assert_eq!(f.disconnect_after, Some(Duration::from_secs(90)));
        assert_eq!(f.clock_skew_ms, 300_000);
        assert_eq!(
            Faults::parse("clock-skew=-60s").unwrap().clock_skew_ms,
            -60_000
        );
        assert!(Faults::parse("nonsense=1").is_err());
    }

    #[test]
    fn vf_scenario_sends_nan_not_zero() {
        let mut p = ScenarioPhysiology::new(Scenario::VfArrest, 1);
        let v = p.numerics(70_000, DeviceTime { civil_ms: 0 });
        assert_eq!(v[0].value.value, Reading::NaN);
        assert_eq!((v[1].value.value, v[1].value.state), (Reading::NaN, 0x2000));
    }
}
