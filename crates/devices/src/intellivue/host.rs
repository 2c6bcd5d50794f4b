//! The pad's side of the IntelliVue dialog, sans-IO.
//!
//! ```text
//! Associating ──AARQ every 2 s──▶ AC ──▶ AwaitMdsCreate ──MDS create──▶ result + MDS poll
//!   ▲                                                      │
//!   │ refuse/abort/release, 5 s silence, link lost          ▼ serial/model
//!   └──────────────────────────────────── Streaming ◀── Identified (or WrongDevice: stop)
//! ```
//! Streaming: extended polls for numerics (1 s), waves and alarms, re-issued
//! before they expire; a single MDS poll as keep-alive after 4 s inbound or
//! 8 s outbound silence. After a re-association the first data is preceded
//! by a `DataGap` event.
//!
//! Waves: with a non-empty `wave_priority` the host sets the monitor's
//! RTSA priority list (confirmed SET on the MDS) right after identifying,
//! before the wave poll. The result says which waves the monitor took; a
//! refused or partly taken list is logged and the host streams whatever
//! the monitor sends.
//!
//! Alarms: the AL_MON extended poll returns the monitor's whole list of
//! active patient and technical alarms on every update. An `Alarm` event is
//! emitted when an alarm (source, code, type) appears in a list, not on
//! every repeat; one that leaves the list and comes back is a new event.

use super::frame::{Deframer, encode_frame};
use super::pdu::{self, Ava, Pdu, PollProfile, PollReply, PollRequest};
use crate::driver::{Action, Counters, Driver, DriverStatus, Expected};
use crate::obs::{
    AlarmPriority, DeviceEvent, DeviceInfo, DeviceTime, EventKind, HostTime, MeasStatus, Metric,
    Numeric, Observation, Scale, Timestamps, Unit, WaveChunk,
};
use std::collections::{HashMap, HashSet};

/// NOM_ATTR_TIME_STAMP_ABS: the time an episodic value was measured.
pub const NOM_ATTR_TIME_STAMP_ABS: u16 = 0x0990;

#[derive(Debug, Clone)]
pub struct HostConfig {
    pub profile: PollProfile,
    pub expected: Expected,
    /// How long one extended poll runs (RelativeTime ticks).
    pub poll_period_ticks: u32,
    pub waves: bool,
    /// RTSA TextIds to set as the monitor's priority list, in order
    /// ([`super::waves::selection`]); empty = the monitor's own choice.
    pub wave_priority: Vec<u32>,
    /// Extended poll of the alert monitor (a few hundred bytes per second
    /// at most, next to ≤11.5 kB/s of waves).
    pub alarms: bool,
    pub aarq_retry_ms: u64,
    /// No data for this long while streaming ⇒ re-associate.
    pub silence_ms: u64,
    pub keepalive_rx_ms: u64,
    pub keepalive_tx_ms: u64,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            profile: PollProfile::default(),
            expected: Expected::default(),
            poll_period_ticks: 30 * pdu::TICKS_PER_SECOND,
            waves: true,
            wave_priority: super::waves::selection(&super::waves::DEFAULT_WAVES)
                .unwrap_or_default(),
            alarms: true,
            aarq_retry_ms: 2000,
            silence_ms: 5000,
            keepalive_rx_ms: 4000,
            keepalive_tx_ms: 8000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostState {
    Associating,
    AwaitMdsCreate,
    Identifying,
    Streaming,
    WrongDevice,
}

#[derive(Debug, Default, Clone, Copy)]
struct WaveCtx {
    spec: Option<pdu::SaSpec>,
    scale: Option<pdu::ScaleSpec>,
    period_us: Option<u32>,
}

/// The outcome of setting the priority list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaveSelection {
    /// Sent, no answer yet.
    Pending,
    /// The list the monitor now holds (may lack requested waves).
    Accepted(Vec<u32>),
    /// The monitor answered with an error: it sends its own choice.
    Refused(u16),
}

/// Identity of one active alarm for edge detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct AlarmKey {
    source: u16,
    code: u16,
    al_type: u16,
}

/// Priority and kind from AlertType bits; `None` for NO_ALERT.
pub fn alarm_priority(al_type: u16) -> Option<(AlarmPriority, bool)> {
    let p = al_type & (pdu::LOW_PRI_P_AL | pdu::MED_PRI_P_AL | pdu::HI_PRI_P_AL) != 0;
    let prio = if al_type & (pdu::HI_PRI_T_AL | pdu::HI_PRI_P_AL) != 0 {
        AlarmPriority::High
    } else if al_type & (pdu::MED_PRI_T_AL | pdu::MED_PRI_P_AL) != 0 {
        AlarmPriority::Medium
    } else if al_type & (pdu::LOW_PRI_T_AL | pdu::LOW_PRI_P_AL) != 0 {
        AlarmPriority::Low
    } else {
        return None;
    };
    Some((prio, p))
}

#[derive(Debug)]
pub struct Host {
    cfg: HostConfig,
    state: HostState,
    deframer: Deframer,
    invoke: u16,
    poll_number: u16,
    entered_ms: u64,
    last_rx_ms: u64,
    last_tx_ms: u64,
    last_aarq_ms: Option<u64>,
    last_ext_poll_ms: u64,
    /// MDS AbsoluteTime and RelativeTime at the same instant.
    anchor: Option<(DeviceTime, u32)>,
    info: DeviceInfo,
    waves: HashMap<u16, WaveCtx>,
    last_data_wall: Option<i64>,
    gap_open: bool,
    pdus_rejected: u64,
    reassociations: u64,
    observations: u64,
    waves_without_period: u64,
    /// Active alarms per list: [patient, technical].
    active_alarms: [HashSet<AlarmKey>; 2],
    /// Invoke id of the priority-list SET and its outcome.
    wave_set: Option<(u16, WaveSelection)>,
}

impl Host {
    pub fn new(cfg: HostConfig) -> Host {
        Host {
            cfg,
            state: HostState::Associating,
            deframer: Deframer::new(),
            invoke: 0,
            poll_number: 0,
            entered_ms: 0,
            last_rx_ms: 0,
            last_tx_ms: 0,
            last_aarq_ms: None,
            last_ext_poll_ms: 0,
            anchor: None,
            info: DeviceInfo::default(),
            waves: HashMap::new(),
            last_data_wall: None,
            gap_open: false,
            pdus_rejected: 0,
            reassociations: 0,
            observations: 0,
            waves_without_period: 0,
            active_alarms: [HashSet::new(), HashSet::new()],
            wave_set: None,
        }
    }

    /// What became of the wave priority list in this association.
    pub fn wave_selection(&self) -> Option<&WaveSelection> {
        self.wave_set.as_ref().map(|(_, s)| s)
    }

    pub fn state(&self) -> HostState {
        self.state
    }

    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Wave arrays dropped because the monitor never sent their sample period.
    pub fn waves_without_period(&self) -> u64 {
        self.waves_without_period
    }

    fn send(&mut self, p: &[u8], now: HostTime, out: &mut Vec<Action>) {
        let mut w = Vec::with_capacity(p.len() + 16);
        // Our own PDUs are far below the frame cap.
        if encode_frame(p, &mut w).is_ok() {
            self.last_tx_ms = now.mono_ms;
            out.push(Action::Send(w));
        }
    }

    fn next_invoke(&mut self) -> u16 {
        self.invoke = self.invoke.wrapping_add(1);
        self.invoke
    }

    fn enter(&mut self, s: HostState, now: HostTime) {
        self.state = s;
        self.entered_ms = now.mono_ms;
    }

    fn associate(&mut self, now: HostTime, out: &mut Vec<Action>) {
        let aarq = pdu::association_request(&self.cfg.profile);
        self.send(&aarq, now, out);
        self.last_aarq_ms = Some(now.mono_ms);
        if self.state != HostState::Associating {
            self.enter(HostState::Associating, now);
            out.push(Action::Status(DriverStatus::Handshaking));
        }
    }

    fn lose_association(&mut self, now: HostTime) {
        if self.state == HostState::WrongDevice {
            return;
        }
        if self.state == HostState::Streaming {
            self.gap_open = true;
            self.reassociations += 1;
        }
        self.enter(HostState::Associating, now);
        self.last_aarq_ms = None;
    }

    fn poll(&mut self, ext: bool, code: u16, group: u16, now: HostTime, out: &mut Vec<Action>) {
        self.poll_number = self.poll_number.wrapping_add(1);
        let invoke_id = self.next_invoke();
        let p = Pdu::PollRequest {
            invoke_id,
            req: PollRequest {
                ext,
                poll_number: self.poll_number,
                obj_partition: pdu::NOM_PART_OBJ,
                obj_code: code,
                attr_group: group,
                period_ticks: ext.then_some(self.cfg.poll_period_ticks),
            },
        };
        self.send(&pdu::encode(&p), now, out);
    }

    /// Sent before the wave poll: the monitor handles requests in order.
    fn set_wave_priority(&mut self, now: HostTime, out: &mut Vec<Action>) {
        if !self.cfg.waves || self.cfg.wave_priority.is_empty() {
            self.wave_set = None;
            return;
        }
        let invoke_id = self.next_invoke();
        let ava = pdu::text_id_list_ava(pdu::NOM_ATTR_POLL_RTSA_PRIO_LIST, &self.cfg.wave_priority);
        let p = Pdu::SetRequest {
            invoke_id,
            mods: vec![(pdu::MOD_REPLACE, ava)],
        };
        self.send(&pdu::encode(&p), now, out);
        self.wave_set = Some((invoke_id, WaveSelection::Pending));
    }

    fn on_set_result(&mut self, invoke_id: u16, attrs: &[Ava]) {
        let Some((id, _)) = self.wave_set else { return };
        if id != invoke_id {
            return;
        }
        let Some(list) = attrs
            .iter()
            .find(|a| a.id == pdu::NOM_ATTR_POLL_RTSA_PRIO_LIST)
            .and_then(|a| pdu::text_id_list(&a.value).ok())
        else {
            self.pdus_rejected += 1;
            tracing::warn!(target: "devices", "intellivue: wave priority result without a readable list");
            return;
        };
        let missing: Vec<String> = self
            .cfg
            .wave_priority
            .iter()
            .filter(|t| !list.contains(t))
            .map(|t| super::waves::label_name(*t))
            .collect();
        if missing.is_empty() {
            tracing::info!(target: "devices", "intellivue: wave priority list set ({} waves)", list.len());
        } else {
            tracing::warn!(target: "devices", "intellivue: monitor did not take waves {}", missing.join(", "));
        }
        self.wave_set = Some((invoke_id, WaveSelection::Accepted(list)));
    }

    fn ext_polls(&mut self, now: HostTime, out: &mut Vec<Action>) {
        self.poll(true, pdu::NOM_MOC_VMO_METRIC_NU, 0, now, out);
        if self.cfg.waves {
            self.poll(true, pdu::NOM_MOC_VMO_METRIC_SA_RT, 0, now, out);
        }
        if self.cfg.alarms {
            self.poll(true, pdu::NOM_MOC_VMO_AL_MON, 0x0801, now, out);
        }
        self.last_ext_poll_ms = now.mono_ms;
    }

    fn device_time(&self, reply: &PollReply) -> Option<DeviceTime> {
        if let Some(t) = pdu::abs_time(&reply.abs_time) {
            return Some(t);
        }
        let (t0, rel0) = self.anchor?;
        let dticks = reply.rel_time.wrapping_sub(rel0);
        let dms = i64::from(dticks) / i64::from(pdu::TICKS_PER_SECOND / 1000);
        Some(DeviceTime {
            civil_ms: t0.civil_ms + dms,
        })
    }

    fn read_identity(&mut self, attrs: &[Ava]) {
        for a in attrs {
            match a.id {
                pdu::NOM_ATTR_ID_MODEL => {
                    if let Ok((m, n)) = pdu::system_model(&a.value) {
                        self.info.manufacturer = Some(m);
                        self.info.model = Some(n);
                    }
                }
                pdu::NOM_ATTR_ID_PROD_SPECN => {
                    if let Ok(Some(s)) = pdu::serial_number(&a.value) {
                        self.info.serial = Some(s);
                    }
                }
                pdu::NOM_ATTR_SYS_ID => {
                    let mut r = pdu::Rd::new(&a.value);
                    if let Ok(mut l) = r.sized() {
                        self.info.system_id = Some(hex::encode(l.rest()));
                    }
                }
                _ => {}
            }
        }
    }

    fn identified(&mut self, now: HostTime, out: &mut Vec<Action>) {
        let info = self.info.clone();
        out.push(Action::Emit(Observation::Info(info.clone())));
        self.observations += 1;
        if self.cfg.expected.matches(&info) {
            out.push(Action::Status(DriverStatus::Identified(info)));
            self.enter(HostState::Streaming, now);
            self.set_wave_priority(now, out);
            self.ext_polls(now, out);
            out.push(Action::Status(DriverStatus::Streaming));
        } else {
            tracing::warn!(target: "devices", "intellivue: device identity does not match the pairing record");
            self.enter(HostState::WrongDevice, now);
            out.push(Action::Status(DriverStatus::WrongDevice { reported: info }));
            self.send(&pdu::RLRQ, now, out);
        }
    }

    fn on_pdu(&mut self, payload: &[u8], now: HostTime, out: &mut Vec<Action>) {
        let p = match pdu::decode(payload) {
            Ok(p) => p,
            Err(e) => {
                self.pdus_rejected += 1;
                tracing::debug!(target: "devices", "intellivue: PDU refused: {e}");
                return;
            }
        };
        if self.state == HostState::WrongDevice {
            return;
        }
        match p {
            Pdu::AssociationAccept if self.state == HostState::Associating => {
                self.enter(HostState::AwaitMdsCreate, now);
            }
            Pdu::AssociationRefuse | Pdu::Abort | Pdu::ReleaseResponse => {
                self.lose_association(now);
            }
            Pdu::ReleaseRequest => {
                self.send(&pdu::RLRE, now, out);
                self.lose_association(now);
            }
            Pdu::MdsCreateEvent {
                invoke_id,
                event_time: _,
                attrs,
            } => {
                let abs = attrs
                    .iter()
                    .find(|a| a.id == pdu::NOM_ATTR_TIME_ABS)
                    .and_then(|a| <[u8; 8]>::try_from(a.value.as_slice()).ok())
                    .and_then(|b| pdu::abs_time(&b));
                let rel = attrs
                    .iter()
                    .find(|a| a.id == pdu::NOM_ATTR_TIME_REL)
                    .and_then(pdu::attr_u32);
                self.anchor = abs.zip(rel);
                self.info = DeviceInfo {
                    clock: abs,
                    ..DeviceInfo::default()
                };
                self.read_identity(&attrs);
                self.send(&pdu::encode(&Pdu::MdsCreateResult { invoke_id }), now, out);
                // Serial and model come from the MDS object's attributes.
                self.enter(HostState::Identifying, now);
                self.poll(false, pdu::NOM_MOC_VMS_MDS, 0, now, out);
            }
            Pdu::PollReply { reply, .. } => self.on_reply(reply, now, out),
            Pdu::SetResult { invoke_id, attrs } => self.on_set_result(invoke_id, &attrs),
            Pdu::Error { invoke_id, error } => match self.wave_set {
                Some((id, _)) if id == invoke_id => {
                    tracing::warn!(target: "devices", "intellivue: monitor refused the wave priority list (error {error})");
                    self.wave_set = Some((id, WaveSelection::Refused(error)));
                }
                _ => self.pdus_rejected += 1,
            },
            _ => {}
        }
    }

    fn on_reply(&mut self, reply: PollReply, now: HostTime, out: &mut Vec<Action>) {
        if reply.obj_code == pdu::NOM_MOC_VMS_MDS {
            for c in &reply.contexts {
                for op in &c.polls {
                    self.read_identity(&op.attrs);
                }
            }
            if self.state == HostState::Identifying {
                self.identified(now, out);
            }
            return;
        }
        if self.state != HostState::Streaming {
            return;
        }
        let time = Timestamps {
            device: self.device_time(&reply),
            host: now,
            seq: reply.sequence.map(u64::from),
        };
        if self.gap_open {
            self.gap_open = false;
            if let Some(from) = self.last_data_wall {
                out.push(Action::Emit(Observation::Event(DeviceEvent {
                    kind: EventKind::DataGap {
                        from_host_ms: from,
                        to_host_ms: now.wall_ms,
                    },
                    time,
                })));
                self.observations += 1;
            }
        }
        self.last_data_wall = Some(now.wall_ms);
        if reply.obj_code == pdu::NOM_MOC_VMO_AL_MON {
            self.on_alarms(&reply, time, out);
            return;
        }
        for c in &reply.contexts {
            for op in &c.polls {
                self.observation_poll(op.handle, &op.attrs, time, out);
            }
        }
    }

    /// Diffs the alarm lists of one AL_MON reply against the active sets.
    /// A list that is absent or malformed leaves its set untouched.
    fn on_alarms(&mut self, reply: &PollReply, time: Timestamps, out: &mut Vec<Action>) {
        let mut lists: [Option<Vec<pdu::DevAlarmEntry>>; 2] = [None, None];
        for op in reply.contexts.iter().flat_map(|c| &c.polls) {
            for a in &op.attrs {
                let slot = match a.id {
                    pdu::NOM_ATTR_AL_MON_P_AL_LIST => 0,
                    pdu::NOM_ATTR_AL_MON_T_AL_LIST => 1,
                    _ => continue,
                };
                match pdu::alarm_list(&a.value) {
                    Ok(v) => lists[slot].get_or_insert_with(Vec::new).extend(v),
                    Err(e) => {
                        self.pdus_rejected += 1;
                        tracing::debug!(target: "devices", "intellivue: alarm list refused: {e}");
                    }
                }
            }
        }
        for (slot, list) in lists.into_iter().enumerate() {
            let Some(list) = list else { continue };
            let mut now_active = HashSet::with_capacity(list.len());
            for e in list {
                let Some((priority, _)) = alarm_priority(e.al_type) else {
                    continue;
                };
                let key = AlarmKey {
                    source: e.source,
                    code: e.code,
                    al_type: e.al_type,
                };
                if !now_active.insert(key) || self.active_alarms[slot].contains(&key) {
                    continue;
                }
                let text = e.info.and_then(|i| i.text).unwrap_or_default();
                out.push(Action::Emit(Observation::Event(DeviceEvent {
                    kind: EventKind::Alarm {
                        code: u32::from(e.code),
                        source: u32::from(e.source),
                        priority,
                        // The list it came in says which kind.
                        physiological: Some(slot == 0),
                        text,
                    },
                    time,
                })));
                self.observations += 1;
            }
            self.active_alarms[slot] = now_active;
        }
    }

    fn observation_poll(
        &mut self,
        handle: u16,
        attrs: &[Ava],
        time: Timestamps,
        out: &mut Vec<Action>,
    ) {
        let measured_at = attrs
            .iter()
            .find(|a| a.id == NOM_ATTR_TIME_STAMP_ABS)
            .and_then(|a| <[u8; 8]>::try_from(a.value.as_slice()).ok())
            .and_then(|b| pdu::abs_time(&b));
        let ctx = self.waves.entry(handle).or_default();
        let mut saw_bad = false;
        for a in attrs {
            match a.id {
                pdu::NOM_ATTR_SA_SPECN => match pdu::SaSpec::parse(&a.value) {
                    Ok(s) => ctx.spec = Some(s),
                    Err(_) => saw_bad = true,
                },
                pdu::NOM_ATTR_SCALE_SPECN_I16 => match pdu::ScaleSpec::parse(&a.value) {
                    Ok(s) => ctx.scale = Some(s),
                    Err(_) => saw_bad = true,
                },
                pdu::NOM_ATTR_TIME_PD_SAMP => match pdu::attr_u32(a) {
                    Some(t) if t > 0 => ctx.period_us = Some(t.saturating_mul(125)),
                    _ => saw_bad = true,
                },
                _ => {}
            }
        }
        let ctx = *ctx;
        for a in attrs {
            match a.id {
                pdu::NOM_ATTR_NU_VAL_OBS | pdu::NOM_ATTR_NU_CMPD_VAL_OBS => match pdu::nu_values(a)
                {
                    Ok(vals) => {
                        for v in vals {
                            let metric = Metric::from_intellivue(v.physio_id);
                            let episodic = matches!(
                                metric,
                                Metric::NibpSys | Metric::NibpDia | Metric::NibpMean
                            );
                            let mut t = time;
                            if episodic && measured_at.is_some() {
                                t.device = measured_at;
                            }
                            out.push(Action::Emit(Observation::Numeric(Numeric {
                                metric,
                                reading: v.value,
                                unit: Unit::from_intellivue(v.unit_code),
                                status: MeasStatus::from_intellivue(v.state),
                                time: t,
                                episodic,
                            })));
                            self.observations += 1;
                        }
                    }
                    Err(_) => saw_bad = true,
                },
                pdu::NOM_ATTR_SA_VAL_OBS | pdu::NOM_ATTR_SA_CMPD_VAL_OBS => match pdu::sa_values(a)
                {
                    Ok(vals) => {
                        for v in vals {
                            match wave_chunk(&v, ctx, time) {
                                Some(w) => {
                                    out.push(Action::Emit(Observation::Wave(w)));
                                    self.observations += 1;
                                }
                                None => self.waves_without_period += 1,
                            }
                        }
                    }
                    Err(_) => saw_bad = true,
                },
                _ => {}
            }
        }
        if saw_bad {
            self.pdus_rejected += 1;
        }
    }
}

/// Samples of one SA array, masked to their significant bits. `None` when
/// the sample period or sample format is unknown (never assumed).
fn wave_chunk(v: &pdu::SaObsValue, ctx: WaveCtx, t0: Timestamps) -> Option<WaveChunk> {
    let period = ctx.period_us?;
    let spec = ctx.spec?;
    let bytes_per = match spec.sample_bits {
        8 => 1,
        16 => 2,
        _ => return None,
    };
    if !v.samples.len().is_multiple_of(bytes_per) {
        return None;
    }
    let sig = u32::from(spec.significant_bits.clamp(1, spec.sample_bits));
    let mask: u32 = if sig >= 32 {
        u32::MAX
    } else {
        (1u32 << sig) - 1
    };
    let samples = v
        .samples
        .chunks_exact(bytes_per)
        .map(|c| {
            let raw = if bytes_per == 1 {
                u32::from(c[0])
            } else {
                u32::from(u16::from_be_bytes([c[0], c[1]]))
            };
            (raw & mask) as i32
        })
        .collect();
    Some(WaveChunk {
        channel: Metric::from_intellivue(v.physio_id),
        t0,
        sample_period_us: period,
        scale: ctx.scale.map(|s| Scale {
            lower_abs: s.lower_abs,
            upper_abs: s.upper_abs,
            lower_raw: i32::from(s.lower_scaled),
            upper_raw: i32::from(s.upper_scaled),
        }),
        unit: super::waves::unit_of(v.physio_id),
        samples,
        status: MeasStatus::from_intellivue(v.state),
    })
}

impl Driver for Host {
    fn start(&mut self, now: HostTime, out: &mut Vec<Action>) {
        if self.state == HostState::WrongDevice {
            return;
        }
        self.deframer = Deframer::new();
        self.last_rx_ms = now.mono_ms;
        self.enter(HostState::Associating, now);
        out.push(Action::Status(DriverStatus::Handshaking));
        self.associate(now, out);
    }

    fn on_bytes(&mut self, bytes: &[u8], now: HostTime, out: &mut Vec<Action>) {
        let mut payloads: Vec<Vec<u8>> = Vec::new();
        self.deframer.push(bytes, |p| payloads.push(p.to_vec()));
        if !payloads.is_empty() {
            self.last_rx_ms = now.mono_ms;
        }
        for p in payloads {
            self.on_pdu(&p, now, out);
        }
    }

    fn on_tick(&mut self, now: HostTime, out: &mut Vec<Action>) {
        let since = |t: u64| now.mono_ms.saturating_sub(t);
        match self.state {
            HostState::WrongDevice => {}
            HostState::Associating => {
                if self
                    .last_aarq_ms
                    .is_none_or(|t| since(t) >= self.cfg.aarq_retry_ms)
                {
                    self.associate(now, out);
                }
            }
            HostState::AwaitMdsCreate | HostState::Identifying => {
                if since(self.entered_ms) >= self.cfg.silence_ms {
                    self.lose_association(now);
                    self.associate(now, out);
                }
            }
            HostState::Streaming => {
                if since(self.last_rx_ms) >= self.cfg.silence_ms {
                    tracing::info!(target: "devices", "intellivue: silent for {} ms, re-associating", since(self.last_rx_ms));
                    self.lose_association(now);
                    self.associate(now, out);
                    return;
                }
                let period_ms = u64::from(self.cfg.poll_period_ticks) / 8;
                let reissue = period_ms.saturating_sub(period_ms / 10).max(500);
                if since(self.last_ext_poll_ms) >= reissue {
                    self.ext_polls(now, out);
                }
                if since(self.last_rx_ms) >= self.cfg.keepalive_rx_ms
                    || since(self.last_tx_ms) >= self.cfg.keepalive_tx_ms
                {
                    self.poll(false, pdu::NOM_MOC_VMS_MDS, 0, now, out);
                }
            }
        }
    }

    fn on_link_lost(&mut self, now: HostTime) {
        self.lose_association(now);
        self.deframer = Deframer::new();
    }

    fn counters(&self) -> Counters {
        let s = self.deframer.stats();
        Counters {
            frames_ok: s.frames,
            frames_rejected: s.rejected(),
            fcs_errors: s.fcs_errors,
            pdus_rejected: self.pdus_rejected,
            reassociations: self.reassociations,
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
    use crate::intellivue::monitor::{
        Monitor, MonitorConfig, Physiology, SimAlarms, SimNumeric, SimWave,
    };
    use crate::intellivue::pdu::{AlMonInfo, DevAlarmEntry};
    use std::sync::{Arc, Mutex};

    /// A patient whose alarm list the test sets.
    struct Scripted(Arc<Mutex<SimAlarms>>);

    impl Physiology for Scripted {
        fn numerics(&mut self, _t_ms: u64, _now: DeviceTime) -> Vec<SimNumeric> {
            Vec::new()
        }
        fn waves(&self) -> Vec<SimWave> {
            Vec::new()
        }
        fn samples(&mut self, _handle: u16, _from: u64, n: usize) -> Vec<u16> {
            vec![0; n]
        }
        fn alarms(&mut self, _t_ms: u64) -> SimAlarms {
            self.0.lock().map(|a| a.clone()).unwrap_or_default()
        }
    }

    fn t(ms: u64) -> HostTime {
        HostTime {
            wall_ms: 1_800_000_000_000 + ms as i64,
            mono_ms: ms,
        }
    }

    fn entry(code: u16, al_type: u16, text: &str) -> DevAlarmEntry {
        DevAlarmEntry {
            source: 16_770,
            code,
            al_type,
            state: 0,
            object: (pdu::NOM_MOC_VMO_METRIC_NU, 0, 1),
            info: Some(AlMonInfo {
                inst_no: 1,
                text_id: 0,
                priority: 0,
                flags: 0,
                text: Some(text.into()),
            }),
        }
    }

    /// Host and monitor against each other in 10 ms steps; bytes the host
    /// still has to send are kept in `obs` for the next call.
    fn run(h: &mut Host, m: &mut Monitor, from: u64, to: u64, obs: &mut Vec<Action>) {
        let (mut out, rest): (Vec<Action>, Vec<Action>) =
            obs.drain(..).partition(|a| matches!(a, Action::Send(_)));
        obs.extend(rest);
        if from == 0 {
            h.start(t(0), &mut out);
        }
        for ms in (from..to).step_by(10) {
            h.on_tick(t(ms), &mut out);
            let mut frames = Vec::new();
            for a in std::mem::take(&mut out) {
                match a {
                    Action::Send(b) => m.on_bytes(&b, t(ms), &mut frames),
                    a => obs.push(a),
                }
            }
            m.on_tick(t(ms), &mut frames);
            for f in frames {
                h.on_bytes(&f, t(ms), &mut out);
            }
        }
        obs.extend(out);
    }

    fn alarms(obs: &[Action]) -> Vec<EventKind> {
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
    fn alarms_are_emitted_on_onset_only() {
        let script = Arc::new(Mutex::new(SimAlarms::default()));
        let mut m = Monitor::new(
            MonitorConfig {
                alarms_every_ms: 200,
                ..MonitorConfig::default()
            },
            Box::new(Scripted(script.clone())),
        );
        let mut h = Host::new(HostConfig::default());
        let mut obs = Vec::new();
        run(&mut h, &mut m, 0, 1000, &mut obs);
        assert_eq!(h.state(), HostState::Streaming);
        assert!(alarms(&obs).is_empty());

        let vf = entry(
            pdu::NOM_EVT_ECG_V_FIB_TACHY,
            pdu::HI_PRI_P_AL,
            " ***VFIB/VTACH\u{1} ",
        );
        let inop = entry(6256, pdu::MED_PRI_T_AL, "LEADS OFF");
        *script.lock().unwrap() = SimAlarms {
            patient: vec![vf.clone()],
            technical: vec![inop],
        };
        obs.retain(|a| matches!(a, Action::Send(_)));
        run(&mut h, &mut m, 1000, 3000, &mut obs);
        let got = alarms(&obs);
        assert_eq!(
            got,
            vec![
                EventKind::Alarm {
                    code: 61_444,
                    source: 16_770,
                    priority: AlarmPriority::High,
                    physiological: Some(true),
                    text: "***VFIB/VTACH".into(),
                },
                EventKind::Alarm {
                    code: 6256,
                    source: 16_770,
                    priority: AlarmPriority::Medium,
                    physiological: Some(false),
                    text: "LEADS OFF".into(),
                },
            ],
            "one event per alarm despite ~10 repeated polls"
        );

        // still active: repeats only
        obs.retain(|a| matches!(a, Action::Send(_)));
        run(&mut h, &mut m, 3000, 5000, &mut obs);
        assert!(alarms(&obs).is_empty());

        // cleared, then back: a new onset
        *script.lock().unwrap() = SimAlarms::default();
        run(&mut h, &mut m, 5000, 6000, &mut obs);
        assert!(alarms(&obs).is_empty());
        *script.lock().unwrap() = SimAlarms {
            patient: vec![vf],
            technical: Vec::new(),
        };
        obs.retain(|a| matches!(a, Action::Send(_)));
        run(&mut h, &mut m, 6000, 7000, &mut obs);
        assert_eq!(alarms(&obs).len(), 1);
        assert_eq!(h.counters().pdus_rejected, 0);
    }

    fn scenario_monitor() -> Monitor {
        Monitor::new(
            MonitorConfig::default(),
            Box::new(crate::sim::ScenarioPhysiology::new(
                crate::sim::Scenario::Stable,
                3,
            )),
        )
    }

    fn wave_chunks(obs: &[Action]) -> Vec<&WaveChunk> {
        obs.iter()
            .filter_map(|a| match a {
                Action::Emit(Observation::Wave(w)) => Some(w),
                _ => None,
            })
            .collect()
    }

    fn channels(obs: &[Action]) -> Vec<u32> {
        let mut c: Vec<u32> = wave_chunks(obs).iter().map(|w| w.channel.mdc()).collect();
        c.sort_unstable();
        c.dedup();
        c
    }

    fn ids(names: &[&str]) -> Vec<u32> {
        super::super::waves::selection(names).unwrap()
    }

    #[test]
    fn the_priority_list_is_set_and_only_the_chosen_waves_ever_arrive() {
        let mut m = scenario_monitor();
        let mut h = Host::new(HostConfig {
            wave_priority: ids(&["Pleth", "II"]),
            ..HostConfig::default()
        });
        let mut obs = Vec::new();
        run(&mut h, &mut m, 0, 3000, &mut obs);
        assert_eq!(h.state(), HostState::Streaming);
        let want = ids(&["Pleth", "II"]);
        assert_eq!(
            h.wave_selection(),
            Some(&WaveSelection::Accepted(want.clone()))
        );
        assert_eq!(m.wave_selection(), Some(want.as_slice()));
        // Not one chunk of I, III or CO2, not even in the first wave reply.
        assert_eq!(channels(&obs), {
            let mut v = want.clone();
            v.sort_unstable();
            v
        });
        let pleth = wave_chunks(&obs)
            .into_iter()
            .filter(|w| w.channel.mdc() == 0x0002_4BB4)
            .collect::<Vec<_>>();
        assert!(pleth.iter().all(|w| w.sample_period_us == 8000));
        assert!(pleth.iter().all(|w| w.unit == Unit::Dimensionless));
        let n: usize = pleth.iter().map(|w| w.samples.len()).sum();
        assert!((300..=400).contains(&n), "≈125 Hz for ≈2.8 s, got {n}");
        assert_eq!(h.counters().pdus_rejected, 0);
    }

    #[test]
    fn the_default_list_brings_three_leads_pleth_and_capnogram() {
        let mut m = scenario_monitor();
        let mut h = Host::new(HostConfig::default());
        let mut obs = Vec::new();
        run(&mut h, &mut m, 0, 3000, &mut obs);
        let mut want = ids(&super::super::waves::DEFAULT_WAVES);
        assert_eq!(
            h.wave_selection(),
            Some(&WaveSelection::Accepted(want.clone()))
        );
        want.sort_unstable();
        assert_eq!(channels(&obs), want);
        let chunks = wave_chunks(&obs);
        let co2: Vec<_> = chunks
            .iter()
            .filter(|w| w.channel.mdc() == 0x0002_50AC)
            .collect();
        assert!(
            co2.iter()
                .all(|w| w.unit == Unit::MmHg && w.sample_period_us == 16_000)
        );
        // Einthoven: I + III = II, sample by sample, in the same reply.
        let lead = |id: u32| {
            chunks
                .iter()
                .filter(|w| w.channel.mdc() == id)
                .flat_map(|w| w.samples.iter().map(|s| f64::from(*s) - 2048.0))
                .collect::<Vec<f64>>()
        };
        let (i, ii, iii) = (lead(0x0002_0101), lead(0x0002_0102), lead(0x0002_013D));
        assert!(ii.len() > 1000 && ii.len() == i.len() && ii.len() == iii.len());
        assert!(
            ii.iter()
                .zip(i.iter().zip(&iii))
                .all(|(ii, (i, iii))| (ii - (i + iii)).abs() <= 1.0)
        );
    }

    #[test]
    fn a_wave_the_monitor_lacks_is_reported_and_the_rest_streams() {
        let mut m = scenario_monitor();
        let mut h = Host::new(HostConfig {
            wave_priority: ids(&["V1", "II"]),
            ..HostConfig::default()
        });
        let mut obs = Vec::new();
        run(&mut h, &mut m, 0, 2000, &mut obs);
        assert_eq!(
            h.wave_selection(),
            Some(&WaveSelection::Accepted(ids(&["II"])))
        );
        assert_eq!(channels(&obs), ids(&["II"]));
    }

    #[test]
    fn an_empty_list_sets_nothing_and_takes_the_monitors_choice() {
        let mut m = scenario_monitor();
        let mut h = Host::new(HostConfig {
            wave_priority: Vec::new(),
            ..HostConfig::default()
        });
        let mut obs = Vec::new();
        run(&mut h, &mut m, 0, 2000, &mut obs);
        assert_eq!(h.wave_selection(), None);
        assert_eq!(m.wave_selection(), None);
        assert_eq!(channels(&obs).len(), 5, "all the simulated waves");
    }

    #[test]
    fn a_refused_or_garbled_answer_to_the_list_loses_no_data() {
        let mut m = scenario_monitor();
        let mut h = Host::new(HostConfig::default());
        let mut obs = Vec::new();
        run(&mut h, &mut m, 0, 1000, &mut obs);
        let id = h.wave_set.as_ref().map(|(i, _)| *i).unwrap();
        let frame = |p: &Pdu| {
            let mut w = Vec::new();
            crate::intellivue::frame::encode_frame(&pdu::encode(p), &mut w).unwrap();
            w
        };
        let mut out = Vec::new();
        // A result whose list does not add up: counted, outcome unchanged.
        let bad = Pdu::SetResult {
            invoke_id: id,
            attrs: vec![Ava::new(
                pdu::NOM_ATTR_POLL_RTSA_PRIO_LIST,
                vec![0, 9, 0, 4, 1, 2, 3, 4],
            )],
        };
        let before = h.wave_selection().cloned();
        h.on_bytes(&frame(&bad), t(1000), &mut out);
        assert_eq!(h.counters().pdus_rejected, 1);
        assert_eq!(h.wave_selection().cloned(), before);
        // A result for another invoke id is not ours.
        let other = Pdu::SetResult {
            invoke_id: id.wrapping_add(100),
            attrs: vec![pdu::text_id_list_ava(
                pdu::NOM_ATTR_POLL_RTSA_PRIO_LIST,
                &[],
            )],
        };
        h.on_bytes(&frame(&other), t(1000), &mut out);
        assert_eq!(h.wave_selection().cloned(), before);
        // An error answer: the monitor keeps its own list; streaming goes on.
        h.on_bytes(
            &frame(&Pdu::Error {
                invoke_id: id,
                error: 3,
            }),
            t(1000),
            &mut out,
        );
        assert_eq!(h.wave_selection(), Some(&WaveSelection::Refused(3)));
        assert_eq!(h.counters().pdus_rejected, 1);
        let mut later = Vec::new();
        run(&mut h, &mut m, 1000, 2000, &mut later);
        assert_eq!(h.state(), HostState::Streaming);
        assert!(!wave_chunks(&later).is_empty());
    }

    #[test]
    fn a_broken_alarm_list_is_counted_and_keeps_the_state() {
        let mut h = Host::new(HostConfig::default());
        h.state = HostState::Streaming;
        let reply = |attrs: Vec<Ava>| PollReply {
            ext: true,
            poll_number: 1,
            sequence: Some(1),
            rel_time: 0,
            abs_time: [0xFF; 8],
            obj_partition: pdu::NOM_PART_OBJ,
            obj_code: pdu::NOM_MOC_VMO_AL_MON,
            attr_group: 0,
            contexts: vec![pdu::SingleContextPoll {
                context: 0,
                polls: vec![pdu::ObservationPoll { handle: 1, attrs }],
            }],
        };
        let vf = entry(pdu::NOM_EVT_ECG_V_FIB_TACHY, pdu::HI_PRI_P_AL, "VF");
        let good = pdu::alarm_list_ava(pdu::NOM_ATTR_AL_MON_P_AL_LIST, std::slice::from_ref(&vf));
        let mut out = Vec::new();
        h.on_reply(reply(vec![good.clone()]), t(0), &mut out);
        assert_eq!(alarms(&out).len(), 1);
        let mut bad = good.clone();
        bad.value.truncate(bad.value.len() - 1);
        out.clear();
        h.on_reply(reply(vec![bad]), t(1000), &mut out);
        assert!(alarms(&out).is_empty());
        assert_eq!(h.counters().pdus_rejected, 1);
        // the broken list did not clear the alarm: no second onset
        h.on_reply(reply(vec![good]), t(2000), &mut out);
        assert!(alarms(&out).is_empty());
        // a reply without the list leaves it active too; NO_ALERT entries
        // are not alarms
        let mut none = vf;
        none.al_type = 0;
        let only_none = pdu::alarm_list_ava(pdu::NOM_ATTR_AL_MON_T_AL_LIST, &[none]);
        h.on_reply(reply(vec![only_none]), t(3000), &mut out);
        assert!(alarms(&out).is_empty());
    }

    /// Records the fuzz seed `fuzz/seeds/intellivue_host/session_vf_alarm`
    /// (script format of `fuzz/fuzz_targets/intellivue_host.rs`): a
    /// simulated monitor entering VF, so the seed reaches the alarm lists.
    /// Run with `cargo nextest run --lib --run-ignored only write_alarm_fuzz_seed`.
    #[test]
    #[ignore = "writes a fuzz seed file"]
    fn write_alarm_fuzz_seed() {
        use crate::intellivue::frame::Deframer;
        use crate::sim::{Scenario, ScenarioPhysiology};
        let mut m = Monitor::new(
            MonitorConfig {
                alarms_every_ms: 500,
                ..MonitorConfig::default()
            },
            Box::new(ScenarioPhysiology::starting_at(
                Scenario::VfArrest,
                7,
                59_000,
            )),
        );
        let mut h = Host::new(HostConfig {
            waves: false,
            ..HostConfig::default()
        });
        let (mut out, mut frames, mut script) = (Vec::new(), Vec::new(), Vec::new());
        let (mut last, mut onsets) = (0u64, 0);
        h.start(t(0), &mut out);
        for ms in (0..3000u64).step_by(20) {
            onsets += alarms(&out).len();
            for a in out.drain(..) {
                if let Action::Send(b) = a {
                    m.on_bytes(&b, t(ms), &mut frames);
                }
            }
            m.on_tick(t(ms), &mut frames);
            for f in frames.drain(..) {
                let mut dt = (ms - last) / 20;
                while dt > 0 {
                    let step = dt.min(255);
                    script.extend_from_slice(&[0, step as u8]);
                    dt -= step;
                }
                last = ms;
                Deframer::new().push(&f, |p| {
                    script.push(2);
                    script.extend_from_slice(&(p.len() as u16).to_le_bytes());
                    script.extend_from_slice(p);
                });
                h.on_bytes(&f, t(ms), &mut out);
            }
            h.on_tick(t(ms), &mut out);
        }
        assert_eq!(onsets, 1, "the seed must reach an alarm onset");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/seeds/intellivue_host");
        std::fs::write(dir.join("session_vf_alarm"), &script).unwrap();
    }
}
