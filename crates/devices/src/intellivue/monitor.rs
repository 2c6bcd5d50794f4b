//! The monitor's side of the dialog, sans-IO, for the simulator and the
//! end-to-end tests. It answers the association, sends the MDS create
//! event, answers the MDS poll with its identity and serves extended polls
//! for numerics, waves and alarms, all with the encoders the host decodes
//! with.

use super::frame::{Deframer, encode_frame};
use super::pdu::{
    self, Ava, DevAlarmEntry, NuObsValue, ObservationPoll, Pdu, PollProfile, PollReply, SaObsValue,
    SaSpec, ScaleSpec, SingleContextPoll,
};
use crate::obs::{Decimal, DeviceTime, HostTime, Reading};

/// One numeric the physiology model produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimNumeric {
    pub handle: u16,
    pub value: NuObsValue,
    /// For episodic values (NIBP): when it was measured (device clock).
    pub measured_at: Option<DeviceTime>,
}

/// One wave the physiology model produces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimWave {
    pub handle: u16,
    pub physio_id: u16,
    pub period_us: u32,
    pub spec: SaSpec,
    pub scale: ScaleSpec,
}

/// The monitor's active alarms at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimAlarms {
    pub patient: Vec<DevAlarmEntry>,
    pub technical: Vec<DevAlarmEntry>,
}

/// Handle of the simulated alert monitor object.
pub const AL_MON_HANDLE: u16 = 0x0200;

/// What the simulated patient looks like to the monitor.
pub trait Physiology: Send {
    /// Active alarms at monitor time `t_ms`; none by default.
    fn alarms(&mut self, _t_ms: u64) -> SimAlarms {
        SimAlarms::default()
    }
    /// Current numerics at monitor time `t_ms` (ms since start) and device
    /// clock `now`.
    fn numerics(&mut self, t_ms: u64, now: DeviceTime) -> Vec<SimNumeric>;
    fn waves(&self) -> Vec<SimWave>;
    /// Raw samples `[from, from + n)` of wave `handle`.
    fn samples(&mut self, handle: u16, from: u64, n: usize) -> Vec<u16>;
}

#[derive(Debug, Clone)]
pub struct MonitorConfig {
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    /// Device civil clock = host UTC + this (time zone + skew).
    pub civil_offset_ms: i64,
    pub numerics_every_ms: u64,
    pub wave_every_ms: u64,
    pub alarms_every_ms: u64,
    /// Codes and units of the numerics sent.
    pub nomenclature: Nomenclature,
}

/// Which codes and units the simulated monitor puts on its numerics. Real
/// IntelliVue monitors differ by configuration and module; the simulator
/// cycles through what they send so the host meets every variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Nomenclature {
    /// Each metric's primary code and unit only, and no temperature.
    Primary,
    /// In turn, one variant per numeric poll: respiration rate in breaths,
    /// beats or plain counts per minute under the impedance or the airway
    /// code; a body temperature under the generic, body, rectal, tympanic,
    /// oesophageal and bladder codes, in °C or °F.
    #[default]
    Mixed,
    /// As `Mixed`, with NIBP and etCO2 in kPa (a monitor set to SI units).
    Kpa,
}

// The simulator's own copy of the public codes (IEEE 11073-10101, Philips
// Data Export nomenclature), on purpose not the host's table.
const RESP_RATE_IMPEDANCE: u16 = 0x500A; // NOM_RESP_RATE
const RESP_RATE_AIRWAY: u16 = 0x5012; // NOM_AWAY_RESP_RATE
const DIM_RESP_PER_MIN: u16 = 0x0AE0;
const DIM_BEAT_PER_MIN: u16 = 0x0AA0;
const DIM_PER_MIN: u16 = 0x09E0;
const DIM_MMHG: u16 = 0x0F20;
const DIM_KPA: u16 = 0x0F03;
const DIM_DEGC: u16 = 0x17A0;
const DIM_FAHR: u16 = 0x1140;
const NIBP_SYS: u16 = 0x4A05;
const NIBP_DIA: u16 = 0x4A06;
const NIBP_MEAN: u16 = 0x4A07;
const AWAY_CO2_ET: u16 = 0x50B0;
/// NOM_TEMP, MDC_TEMP_BODY, NOM_TEMP_RECT, NOM_TEMP_TYMP, NOM_TEMP_ESOPH,
/// NOM_TEMP_VESICAL.
const TEMP_CODES: [u16; 6] = [0x4B48, 0x4B5C, 0xE004, 0x4B78, 0x4B64, 0xF0C4];
/// Handle of the temperature the monitor adds in `Mixed` and `Kpa`.
pub const TEMP_HANDLE: u16 = 0x0030;

impl Nomenclature {
    /// `v` as the monitor sends it in numeric poll number `round`.
    pub fn apply(self, mut v: NuObsValue, round: u64) -> NuObsValue {
        if self == Nomenclature::Primary {
            return v;
        }
        if v.physio_id == RESP_RATE_IMPEDANCE {
            v.unit_code = [DIM_RESP_PER_MIN, DIM_BEAT_PER_MIN, DIM_PER_MIN][(round % 3) as usize];
            if (round / 3) % 2 == 1 {
                v.physio_id = RESP_RATE_AIRWAY;
            }
        }
        let pressure = matches!(v.physio_id, NIBP_SYS | NIBP_DIA | NIBP_MEAN | AWAY_CO2_ET);
        if self == Nomenclature::Kpa && pressure && v.unit_code == DIM_MMHG {
            v.unit_code = DIM_KPA;
            v.value = mmhg_to_kpa_tenths(v.value);
        }
        v
    }

    /// The body temperature the monitor adds to poll `round` (36.8 °C).
    pub fn temperature(self, round: u64) -> Option<NuObsValue> {
        if self == Nomenclature::Primary {
            return None;
        }
        let code = TEMP_CODES[(round % TEMP_CODES.len() as u64) as usize];
        // 36.8 °C = 98.24 °F exactly.
        let (unit, value) = if round % 2 == 1 {
            (DIM_FAHR, Decimal::new(9824, -2))
        } else {
            (DIM_DEGC, Decimal::new(368, -1))
        };
        Some(NuObsValue {
            physio_id: code,
            state: 0,
            unit_code: unit,
            value: Reading::Value(value),
        })
    }
}

/// mmHg to kPa with one decimal, as the monitor shows it (760 mmHg =
/// 101.325 kPa); specials stay what they are.
fn mmhg_to_kpa_tenths(r: Reading) -> Reading {
    let Some(th) = r.value().and_then(|d| d.to_thousandths()) else {
        return r;
    };
    let num = i128::from(th) * 101_325;
    let den: i128 = 76_000_000;
    let q = num / den;
    let tenths = if (num % den).abs() * 2 >= den {
        q + num.signum()
    } else {
        q
    };
    match i64::try_from(tenths) {
        Ok(t) => Reading::Value(Decimal::new(t, -1)),
        Err(_) => Reading::OverRange,
    }
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            manufacturer: "Philips".into(),
            model: "M8004A".into(),
            serial: "DE00000001".into(),
            civil_offset_ms: 0,
            numerics_every_ms: 1000,
            wave_every_ms: 256,
            alarms_every_ms: 1000,
            nomenclature: Nomenclature::default(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct ExtPoll {
    invoke_id: u16,
    poll_number: u16,
    until_ms: u64,
    next_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorState {
    Idle,
    AwaitMdsResult,
    Ready,
}

pub struct Monitor {
    cfg: MonitorConfig,
    phys: Box<dyn Physiology>,
    deframer: Deframer,
    state: MonitorState,
    start_ms: Option<u64>,
    nu: Option<ExtPoll>,
    wave: Option<ExtPoll>,
    alarm: Option<ExtPoll>,
    /// Next sample to send, per wave handle.
    wave_sent: Vec<(u16, u64)>,
    /// RTSA priority list set by the host in this association; `None`
    /// sends every wave the physiology has (the monitor's own choice).
    selection: Option<Vec<u32>>,
    seq: u16,
    invoke: u16,
    /// Numeric polls answered (drives [`Nomenclature`]).
    nu_round: u64,
}

impl Monitor {
    pub fn new(cfg: MonitorConfig, phys: Box<dyn Physiology>) -> Monitor {
        Monitor {
            cfg,
            phys,
            deframer: Deframer::new(),
            state: MonitorState::Idle,
            start_ms: None,
            nu: None,
            wave: None,
            alarm: None,
            wave_sent: Vec::new(),
            selection: None,
            seq: 0,
            invoke: 0,
            nu_round: 0,
        }
    }

    pub fn state(&self) -> MonitorState {
        self.state
    }

    fn t_ms(&mut self, now: HostTime) -> u64 {
        let s = *self.start_ms.get_or_insert(now.mono_ms);
        now.mono_ms.saturating_sub(s)
    }

    fn rel_ticks(&mut self, now: HostTime) -> u32 {
        (self.t_ms(now).wrapping_mul(8)) as u32
    }

    fn clock(&self, now: HostTime) -> DeviceTime {
        DeviceTime {
            civil_ms: now.wall_ms.saturating_add(self.cfg.civil_offset_ms),
        }
    }

    fn frame(p: &[u8], out: &mut Vec<Vec<u8>>) {
        let mut w = Vec::new();
        if encode_frame(p, &mut w).is_ok() {
            out.push(w);
        }
    }

    /// Feeds bytes from the host; appends whole wire frames to `out`.
    pub fn on_bytes(&mut self, bytes: &[u8], now: HostTime, out: &mut Vec<Vec<u8>>) {
        let mut payloads = Vec::new();
        self.deframer.push(bytes, |p| payloads.push(p.to_vec()));
        for p in payloads {
            if let Ok(pdu) = pdu::decode(&p) {
                self.on_pdu(pdu, now, out);
            }
        }
    }

    fn on_pdu(&mut self, p: Pdu, now: HostTime, out: &mut Vec<Vec<u8>>) {
        match p {
            Pdu::AssociationRequest => {
                self.nu = None;
                self.wave = None;
                self.alarm = None;
                self.selection = None;
                Self::frame(&pdu::association_accept(&PollProfile::default()), out);
                self.invoke = self.invoke.wrapping_add(1);
                let rel = self.rel_ticks(now);
                let attrs = vec![
                    Ava::new(
                        pdu::NOM_ATTR_TIME_ABS,
                        pdu::encode_abs_time(self.clock(now)).to_vec(),
                    ),
                    pdu::u32_ava(pdu::NOM_ATTR_TIME_REL, rel),
                ];
                let ev = Pdu::MdsCreateEvent {
                    invoke_id: self.invoke,
                    event_time: rel,
                    attrs,
                };
                Self::frame(&pdu::encode(&ev), out);
                self.state = MonitorState::AwaitMdsResult;
            }
            Pdu::MdsCreateResult { .. } => self.state = MonitorState::Ready,
            Pdu::ReleaseRequest => {
                Self::frame(&pdu::RLRE, out);
                self.state = MonitorState::Idle;
                self.nu = None;
                self.wave = None;
                self.alarm = None;
            }
            Pdu::SetRequest { invoke_id, mods } if self.state == MonitorState::Ready => {
                let mut attrs = Vec::new();
                for (op, a) in mods {
                    if op != pdu::MOD_REPLACE || a.id != pdu::NOM_ATTR_POLL_RTSA_PRIO_LIST {
                        continue;
                    }
                    let Ok(req) = pdu::text_id_list(&a.value) else {
                        continue;
                    };
                    let have: Vec<u16> = self.phys.waves().iter().map(|w| w.physio_id).collect();
                    let took = super::waves::accept(&req, &have);
                    attrs.push(pdu::text_id_list_ava(
                        pdu::NOM_ATTR_POLL_RTSA_PRIO_LIST,
                        &took,
                    ));
                    self.selection = Some(took);
                }
                let r = if attrs.is_empty() {
                    Pdu::Error {
                        invoke_id,
                        error: 3,
                    }
                } else {
                    Pdu::SetResult { invoke_id, attrs }
                };
                Self::frame(&pdu::encode(&r), out);
            }
            Pdu::PollRequest { invoke_id, req } if self.state == MonitorState::Ready => {
                let t = self.t_ms(now);
                let until = t + u64::from(req.period_ticks.unwrap_or(0)) / 8;
                match (req.ext, req.obj_code) {
                    (false, pdu::NOM_MOC_VMS_MDS) => {
                        let attrs = vec![
                            pdu::system_model_ava(&self.cfg.manufacturer, &self.cfg.model),
                            pdu::serial_number_ava(&self.cfg.serial),
                        ];
                        let reply = self.reply(
                            false,
                            req.poll_number,
                            pdu::NOM_MOC_VMS_MDS,
                            vec![(0, attrs)],
                            now,
                        );
                        Self::frame(
                            &pdu::encode(&Pdu::PollReply {
                                invoke_id,
                                linked: None,
                                reply,
                            }),
                            out,
                        );
                    }
                    (true, pdu::NOM_MOC_VMO_METRIC_NU) => {
                        self.nu = Some(ExtPoll {
                            invoke_id,
                            poll_number: req.poll_number,
                            until_ms: until,
                            next_ms: t,
                        });
                    }
                    (true, pdu::NOM_MOC_VMO_AL_MON) => {
                        self.alarm = Some(ExtPoll {
                            invoke_id,
                            poll_number: req.poll_number,
                            until_ms: until,
                            next_ms: t,
                        });
                    }
                    (true, pdu::NOM_MOC_VMO_METRIC_SA_RT) => {
                        if self.wave.is_none() {
                            self.wave_sent = self
                                .phys
                                .waves()
                                .iter()
                                .map(|w| (w.handle, first_sample(t, w.period_us)))
                                .collect();
                        }
                        self.wave = Some(ExtPoll {
                            invoke_id,
                            poll_number: req.poll_number,
                            until_ms: until,
                            next_ms: t,
                        });
                    }
                    _ => {
                        let e = Pdu::Error {
                            invoke_id,
                            error: 3,
                        };
                        Self::frame(&pdu::encode(&e), out);
                    }
                }
            }
            _ => {}
        }
    }

    fn reply(
        &mut self,
        ext: bool,
        poll_number: u16,
        code: u16,
        polls: Vec<(u16, Vec<Ava>)>,
        now: HostTime,
    ) -> PollReply {
        self.seq = self.seq.wrapping_add(1);
        PollReply {
            ext,
            poll_number,
            sequence: ext.then_some(self.seq),
            rel_time: self.rel_ticks(now),
            abs_time: pdu::encode_abs_time(self.clock(now)),
            obj_partition: pdu::NOM_PART_OBJ,
            obj_code: code,
            attr_group: 0,
            contexts: vec![SingleContextPoll {
                context: 0,
                polls: polls
                    .into_iter()
                    .map(|(handle, attrs)| ObservationPoll { handle, attrs })
                    .collect(),
            }],
        }
    }

    /// One periodic result of the extended poll `p`.
    fn send_ext_reply(
        &mut self,
        p: ExtPoll,
        code: u16,
        polls: Vec<(u16, Vec<Ava>)>,
        now: HostTime,
        out: &mut Vec<Vec<u8>>,
    ) {
        let reply = self.reply(true, p.poll_number, code, polls, now);
        let pdu = Pdu::PollReply {
            invoke_id: p.invoke_id,
            linked: None,
            reply,
        };
        Self::frame(&pdu::encode(&pdu), out);
    }

    /// Timers: sends poll results that are due.
    pub fn on_tick(&mut self, now: HostTime, out: &mut Vec<Vec<u8>>) {
        if self.state != MonitorState::Ready {
            return;
        }
        let t = self.t_ms(now);
        if let Some(mut p) = self.nu.filter(|p| t >= p.next_ms) {
            if t > p.until_ms {
                self.nu = None;
            } else {
                p.next_ms = t + self.cfg.numerics_every_ms;
                self.nu = Some(p);
                let clock = self.clock(now);
                let mut polls = Vec::new();
                let (names, round) = (self.cfg.nomenclature, self.nu_round);
                self.nu_round += 1;
                let mut numerics = self.phys.numerics(t, clock);
                for n in &mut numerics {
                    n.value = names.apply(n.value, round);
                }
                if let Some(value) = names.temperature(round) {
                    numerics.push(SimNumeric {
                        handle: TEMP_HANDLE,
                        value,
                        measured_at: None,
                    });
                }
                for n in numerics {
                    let mut v = Vec::new();
                    if n.value.write(&mut v).is_none() {
                        continue;
                    }
                    let mut attrs = vec![Ava::new(pdu::NOM_ATTR_NU_VAL_OBS, v)];
                    if let Some(at) = n.measured_at {
                        attrs.push(Ava::new(
                            super::host::NOM_ATTR_TIME_STAMP_ABS,
                            pdu::encode_abs_time(at).to_vec(),
                        ));
                    }
                    polls.push((n.handle, attrs));
                }
                self.send_ext_reply(p, pdu::NOM_MOC_VMO_METRIC_NU, polls, now, out);
            }
        }
        if let Some(mut p) = self.alarm.filter(|p| t >= p.next_ms) {
            if t > p.until_ms {
                self.alarm = None;
            } else {
                p.next_ms = t + self.cfg.alarms_every_ms;
                self.alarm = Some(p);
                let al = self.phys.alarms(t);
                let attrs = vec![
                    pdu::alarm_list_ava(pdu::NOM_ATTR_AL_MON_P_AL_LIST, &al.patient),
                    pdu::alarm_list_ava(pdu::NOM_ATTR_AL_MON_T_AL_LIST, &al.technical),
                ];
                self.send_ext_reply(
                    p,
                    pdu::NOM_MOC_VMO_AL_MON,
                    vec![(AL_MON_HANDLE, attrs)],
                    now,
                    out,
                );
            }
        }
        if let Some(mut p) = self.wave.filter(|p| t >= p.next_ms) {
            if t > p.until_ms {
                self.wave = None;
                return;
            }
            p.next_ms = t + self.cfg.wave_every_ms;
            self.wave = Some(p);
            let waves: Vec<SimWave> = self
                .phys
                .waves()
                .into_iter()
                .filter(|w| {
                    self.selection
                        .as_ref()
                        .is_none_or(|sel| sel.contains(&super::waves::text_id(w.physio_id)))
                })
                .collect();
            let mut polls = Vec::new();
            for w in &waves {
                let upto = first_sample(t, w.period_us);
                let Some(sent) = self
                    .wave_sent
                    .iter_mut()
                    .find(|(h, _)| *h == w.handle)
                    .map(|(_, n)| n)
                else {
                    continue;
                };
                let from = *sent;
                let n = usize::try_from(upto.saturating_sub(from))
                    .unwrap_or(0)
                    .min(512);
                if n == 0 {
                    continue;
                }
                *sent += n as u64;
                let samples = self.phys.samples(w.handle, from, n);
                let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_be_bytes()).collect();
                let mut attrs = vec![
                    w.spec.ava(),
                    pdu::u32_ava(pdu::NOM_ATTR_TIME_PD_SAMP, w.period_us / 125),
                ];
                if let Some(a) = w.scale.ava() {
                    attrs.push(a);
                }
                attrs.push(pdu::sa_value_ava(&SaObsValue {
                    physio_id: w.physio_id,
                    state: 0,
                    samples: bytes,
                }));
                polls.push((w.handle, attrs));
            }
            if polls.is_empty() {
                return;
            }
            self.send_ext_reply(p, pdu::NOM_MOC_VMO_METRIC_SA_RT, polls, now, out);
        }
    }

    /// The priority list the host set in this association, if any.
    pub fn wave_selection(&self) -> Option<&[u32]> {
        self.selection.as_deref()
    }

    /// The link dropped: the association is gone.
    pub fn reset(&mut self) {
        self.state = MonitorState::Idle;
        self.nu = None;
        self.wave = None;
        self.alarm = None;
        self.selection = None;
        self.deframer = Deframer::new();
    }
}

/// Index of the sample due at monitor time `t_ms` for a sample period.
fn first_sample(t_ms: u64, period_us: u32) -> u64 {
    t_ms * 1000 / u64::from(period_us.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rr(unit_code: u16) -> NuObsValue {
        NuObsValue {
            physio_id: 0x500A,
            state: 0,
            unit_code,
            value: Reading::Value(Decimal::int(14)),
        }
    }

    #[test]
    fn mixed_cycles_through_the_real_variants() {
        let n = Nomenclature::Mixed;
        let mut units = std::collections::BTreeSet::new();
        let mut codes = std::collections::BTreeSet::new();
        let mut temps = std::collections::BTreeSet::new();
        for round in 0..12 {
            let v = n.apply(rr(0x0AA0), round);
            units.insert(v.unit_code);
            codes.insert(v.physio_id);
            assert_eq!(v.value, Reading::Value(Decimal::int(14)));
            let t = n.temperature(round).unwrap_or_else(|| panic!("{round}"));
            temps.insert((t.physio_id, t.unit_code));
        }
        // breaths, beats and plain per minute; impedance and airway codes
        assert_eq!(
            units.into_iter().collect::<Vec<_>>(),
            [0x09E0, 0x0AA0, 0x0AE0]
        );
        assert_eq!(codes.into_iter().collect::<Vec<_>>(), [0x500A, 0x5012]);
        assert!(temps.iter().any(|&(_, u)| u == 0x1140));
        assert!(temps.iter().any(|&(_, u)| u == 0x17A0));
        assert_eq!(
            temps
                .iter()
                .map(|t| t.0)
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            6
        );
        assert_eq!(Nomenclature::Primary.apply(rr(0x0AA0), 1), rr(0x0AA0));
        assert_eq!(Nomenclature::Primary.temperature(0), None);
    }

    #[test]
    fn kpa_converts_pressures_with_one_decimal() {
        let sys = NuObsValue {
            physio_id: 0x4A05,
            state: 0,
            unit_code: 0x0F20,
            value: Reading::Value(Decimal::int(128)),
        };
        let v = Nomenclature::Kpa.apply(sys, 0);
        // 128 mmHg = 17.065 kPa
        assert_eq!(
            (v.unit_code, v.value),
            (0x0F03, Reading::Value(Decimal::new(171, -1)))
        );
        let nan = NuObsValue {
            value: Reading::NaN,
            ..sys
        };
        assert_eq!(Nomenclature::Kpa.apply(nan, 0).value, Reading::NaN);
        assert_eq!(Nomenclature::Mixed.apply(sys, 0), sys);
    }
}
