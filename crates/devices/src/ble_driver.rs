//! The sans-IO driver for Bluetooth LE health devices: fed GATT
//! notifications, indications and Device Information reads (service,
//! characteristic, value, host time), it emits [`Observation`]s through the
//! [`super::ble`] decoders.
//!
//! Two feeds, one driver:
//! - the real radio: [`super::ble_btleplug`] (cargo feature `ble`) calls
//!   [`BleDriver::on_gatt`] for every value it reads or is notified of;
//! - the **test seam**: [`BleDriver`] also implements [`Driver`] over a
//!   byte stream of framed GATT values ([`seam`]), so the simulator can
//!   play a BLE device over a PTY or loopback TCP. The seam is not a
//!   Bluetooth protocol; it exists for tests and the demo only.
//!
//! Identity: the Device Information Service (0x180A) values model 0x2A24,
//! serial 0x2A25 and manufacturer 0x2A29 must match the pairing record
//! before any measurement is used. Measurements that arrive earlier wait
//! (bounded); a wrong device discards them.
//!
//! Deduplication keys on the device's time or sequence number, never on
//! arrival: glucose by record sequence number, timestamped measurements
//! (BP, spot check, temperature) by characteristic + device time + value.
//! Untimed streams (heart rate, PLX continuous) have no key and are never
//! merged; on the seam a frame sequence number (which models BLE's
//! link-layer retransmission check) drops duplicated frames.

use super::ble::{self, BleError};
use super::driver::{Action, Counters, Driver, DriverStatus, Expected};
use super::obs::{DeviceEvent, DeviceInfo, EventKind, HostTime, Observation, Timestamps};
use std::collections::{HashSet, VecDeque};

pub const SERVICE_DEVICE_INFORMATION: u16 = 0x180A;
pub const UUID_MANUFACTURER: u16 = 0x2A29;
pub const UUID_MODEL_NUMBER: u16 = 0x2A24;
pub const UUID_SERIAL_NUMBER: u16 = 0x2A25;

/// The 16-bit form of a Bluetooth SIG UUID
/// (`0000xxxx-0000-1000-8000-00805F9B34FB`); `None` for any other UUID.
pub fn uuid16(u: &uuid::Uuid) -> Option<u16> {
    let b = u.as_bytes();
    const BASE_TAIL: [u8; 12] = [
        0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0x80, 0x5F, 0x9B, 0x34, 0xFB,
    ];
    (b[..2] == [0, 0] && b[4..] == BASE_TAIL).then(|| u16::from_be_bytes([b[2], b[3]]))
}

/// How a GATT value reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GattKind {
    Notification,
    Indication,
    /// A characteristic read (Device Information).
    Read,
}

/// One GATT value as the radio (or the seam) delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GattValue {
    pub kind: GattKind,
    pub service: u16,
    pub characteristic: u16,
    pub value: Vec<u8>,
}

/// The test seam: framed GATT values over a byte stream.
///
/// ```text
/// B7 | kind u8 | seq u32 | service u16 | characteristic u16 | len u16 | value | CRC-16/X-25 u16
/// ```
/// Little-endian; kind 1 notification, 2 indication, 3 read value, 0x10
/// "connect and subscribe" (host → device, no value); len ≤ 512 (the ATT
/// maximum); the CRC covers kind … value. A frame failing its CRC or
/// length is dropped and counted, and the reader resynchronises on the
/// next `B7`.
pub mod seam {
    use super::{GattKind, GattValue};
    use crc::{CRC_16_IBM_SDLC, Crc};

    pub const SYNC: u8 = 0xB7;
    pub const MAX_VALUE: usize = 512;
    pub const KIND_SUBSCRIBE: u8 = 0x10;
    const HEADER: usize = 12;
    const CRC: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_SDLC);
    /// Bytes buffered while hunting for a frame.
    const MAX_BUFFER: usize = 4 * (HEADER + MAX_VALUE + 2);

    /// A decoded seam frame.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Frame {
        Value { seq: u32, value: GattValue },
        Subscribe { seq: u32 },
    }

    fn kind_code(k: GattKind) -> u8 {
        match k {
            GattKind::Notification => 1,
            GattKind::Indication => 2,
            GattKind::Read => 3,
        }
    }

    fn raw(kind: u8, seq: u32, service: u16, ch: u16, value: &[u8]) -> Vec<u8> {
        let len = value.len().min(MAX_VALUE);
        let mut f = Vec::with_capacity(HEADER + len + 2);
        f.push(SYNC);
        f.push(kind);
        f.extend_from_slice(&seq.to_le_bytes());
        f.extend_from_slice(&service.to_le_bytes());
        f.extend_from_slice(&ch.to_le_bytes());
        f.extend_from_slice(&(len as u16).to_le_bytes());
        f.extend_from_slice(&value[..len]);
        let crc = CRC.checksum(&f[1..]);
        f.extend_from_slice(&crc.to_le_bytes());
        f
    }

    /// Encodes a value frame (values over 512 bytes are cut: callers never
    /// produce them).
    pub fn encode(seq: u32, v: &GattValue) -> Vec<u8> {
        raw(
            kind_code(v.kind),
            seq,
            v.service,
            v.characteristic,
            &v.value,
        )
    }

    pub fn encode_subscribe(seq: u32) -> Vec<u8> {
        raw(KIND_SUBSCRIBE, seq, 0, 0, &[])
    }

    /// What the deframer counted.
    #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
    pub struct Stats {
        pub frames: u64,
        pub crc_errors: u64,
        pub rejected: u64,
    }

    /// Incremental deframer with resynchronisation.
    #[derive(Debug, Default)]
    pub struct Deframer {
        buf: Vec<u8>,
        stats: Stats,
    }

    impl Deframer {
        pub fn new() -> Deframer {
            Deframer::default()
        }

        pub fn stats(&self) -> Stats {
            self.stats
        }

        /// Feeds bytes; complete frames are appended to `out`.
        pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Frame>) {
            self.buf.extend_from_slice(bytes);
            loop {
                let Some(start) = self.buf.iter().position(|&b| b == SYNC) else {
                    self.buf.clear();
                    return;
                };
                self.buf.drain(..start);
                if self.buf.len() < HEADER {
                    return;
                }
                let len = usize::from(u16::from_le_bytes([self.buf[10], self.buf[11]]));
                let kind = self.buf[1];
                if len > MAX_VALUE || !matches!(kind, 1..=3 | KIND_SUBSCRIBE) {
                    self.stats.rejected += 1;
                    self.buf.drain(..1);
                    continue;
                }
                let total = HEADER + len + 2;
                if self.buf.len() < total {
                    if self.buf.len() > MAX_BUFFER {
                        self.buf.drain(..1);
                        continue;
                    }
                    return;
                }
                let crc = u16::from_le_bytes([self.buf[total - 2], self.buf[total - 1]]);
                if CRC.checksum(&self.buf[1..total - 2]) != crc {
                    self.stats.crc_errors += 1;
                    self.buf.drain(..1);
                    continue;
                }
                let f = &self.buf[..total];
                let seq = u32::from_le_bytes([f[2], f[3], f[4], f[5]]);
                let service = u16::from_le_bytes([f[6], f[7]]);
                let characteristic = u16::from_le_bytes([f[8], f[9]]);
                let kind = match kind {
                    1 => Some(GattKind::Notification),
                    2 => Some(GattKind::Indication),
                    3 => Some(GattKind::Read),
                    _ => None,
                };
                let frame = match kind {
                    Some(kind) => Frame::Value {
                        seq,
                        value: GattValue {
                            kind,
                            service,
                            characteristic,
                            value: f[HEADER..total - 2].to_vec(),
                        },
                    },
                    None => Frame::Subscribe { seq },
                };
                self.stats.frames += 1;
                out.push(frame);
                self.buf.drain(..total);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Idle,
    Identifying,
    Streaming,
    WrongDevice,
}

/// Deduplication key of a measurement: never arrival time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Seq {
        ch: u16,
        seq: u64,
    },
    Timed {
        ch: u16,
        civil_ms: i64,
        value: Vec<u8>,
    },
}

/// Tunables (defaults suit a real device and the simulator).
#[derive(Debug, Clone, Copy)]
pub struct BleConfig {
    /// Resend "subscribe" on the seam while no identity came.
    pub subscribe_retry_ms: u64,
    /// Give up waiting for the Device Information values.
    pub identify_timeout_ms: u64,
    /// Measurements held while identifying.
    pub max_pending: usize,
    /// Remembered deduplication keys.
    pub max_keys: usize,
}

impl Default for BleConfig {
    fn default() -> Self {
        BleConfig {
            subscribe_retry_ms: 1000,
            identify_timeout_ms: 10_000,
            max_pending: 64,
            max_keys: 4096,
        }
    }
}

/// The BLE health device driver.
#[derive(Debug)]
pub struct BleDriver {
    cfg: BleConfig,
    expected: Expected,
    state: State,
    info: DeviceInfo,
    have_model: bool,
    have_serial: bool,
    pending: VecDeque<(GattValue, HostTime)>,
    keys: HashSet<Key>,
    key_order: VecDeque<Key>,
    deframer: seam::Deframer,
    frames: Vec<seam::Frame>,
    last_seq: Option<u32>,
    identify_since_ms: u64,
    last_subscribe_ms: Option<u64>,
    seam_seq: u32,
    lost_at_wall: Option<i64>,
    duplicates: u64,
    refused: u64,
    observations: u64,
}

impl BleDriver {
    pub fn new(expected: Expected, cfg: BleConfig) -> BleDriver {
        BleDriver {
            cfg,
            expected,
            state: State::Idle,
            info: DeviceInfo::default(),
            have_model: false,
            have_serial: false,
            pending: VecDeque::new(),
            keys: HashSet::new(),
            key_order: VecDeque::new(),
            deframer: seam::Deframer::new(),
            frames: Vec::new(),
            last_seq: None,
            identify_since_ms: 0,
            last_subscribe_ms: None,
            seam_seq: 0,
            lost_at_wall: None,
            duplicates: 0,
            refused: 0,
            observations: 0,
        }
    }

    /// Measurements merged as duplicates (same device time / sequence).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// The radio connected (btleplug adapter): identification begins.
    pub fn connected(&mut self, now: HostTime, out: &mut Vec<Action>) {
        if self.state == State::WrongDevice {
            return;
        }
        self.state = State::Identifying;
        self.identify_since_ms = now.mono_ms;
        self.info = DeviceInfo::default();
        self.have_model = false;
        self.have_serial = false;
        out.push(Action::Status(DriverStatus::Handshaking));
    }

    /// All Device Information values were read (btleplug adapter): decide
    /// with what is there.
    pub fn identity_complete(&mut self, now: HostTime, out: &mut Vec<Action>) {
        if self.state == State::Identifying {
            self.decide(now, out);
        }
    }

    /// Model and serial both read (a device without them is decided by
    /// [`Self::identity_complete`] or the timeout).
    fn identity_known(&self) -> bool {
        self.have_model && self.have_serial
    }

    fn decide(&mut self, now: HostTime, out: &mut Vec<Action>) {
        if self.expected.matches(&self.info) {
            self.state = State::Streaming;
            out.push(Action::Emit(Observation::Info(self.info.clone())));
            out.push(Action::Status(DriverStatus::Identified(self.info.clone())));
            out.push(Action::Status(DriverStatus::Streaming));
            self.observations += 1;
            if let Some(from) = self.lost_at_wall.take() {
                out.push(Action::Emit(Observation::Event(DeviceEvent {
                    kind: EventKind::DataGap {
                        from_host_ms: from,
                        to_host_ms: now.wall_ms,
                    },
                    time: Timestamps {
                        device: None,
                        host: now,
                        seq: None,
                    },
                })));
                self.observations += 1;
            }
            let pending: Vec<_> = self.pending.drain(..).collect();
            for (v, t) in pending {
                self.measurement(&v, t, out);
            }
        } else {
            tracing::warn!(target: "security", "BLE device does not match its pairing record");
            self.state = State::WrongDevice;
            self.pending.clear();
            out.push(Action::Status(DriverStatus::WrongDevice {
                reported: self.info.clone(),
            }));
        }
    }

    /// One GATT value from the radio or the seam.
    pub fn on_gatt(&mut self, v: &GattValue, now: HostTime, out: &mut Vec<Action>) {
        match self.state {
            State::WrongDevice | State::Idle => {}
            State::Identifying => {
                if v.service == SERVICE_DEVICE_INFORMATION || v.kind == GattKind::Read {
                    self.identity_value(v);
                    if self.identity_known() {
                        self.decide(now, out);
                    }
                } else if self.pending.len() < self.cfg.max_pending {
                    self.pending.push_back((v.clone(), now));
                } else {
                    // Bounded: the oldest waits longest; count what is refused.
                    self.refused += 1;
                }
            }
            State::Streaming => {
                if v.service == SERVICE_DEVICE_INFORMATION || v.kind == GattKind::Read {
                    return;
                }
                self.measurement(v, now, out);
            }
        }
    }

    fn identity_value(&mut self, v: &GattValue) {
        // Printable text only, at most 64 characters (DIS strings are short).
        let text = || {
            let s: String = String::from_utf8_lossy(&v.value)
                .chars()
                .filter(|c| !c.is_control())
                .take(64)
                .collect();
            Some(s.trim().to_string()).filter(|s| !s.is_empty())
        };
        match v.characteristic {
            UUID_MODEL_NUMBER => {
                self.info.model = text();
                self.have_model = true;
            }
            UUID_SERIAL_NUMBER => {
                self.info.serial = text();
                self.have_serial = true;
            }
            UUID_MANUFACTURER => self.info.manufacturer = text(),
            _ => {}
        }
    }

    fn remember(&mut self, k: Key) -> bool {
        if self.keys.contains(&k) {
            return false;
        }
        if self.key_order.len() >= self.cfg.max_keys
            && let Some(old) = self.key_order.pop_front()
        {
            self.keys.remove(&old);
        }
        self.keys.insert(k.clone());
        self.key_order.push_back(k);
        true
    }

    fn measurement(&mut self, v: &GattValue, now: HostTime, out: &mut Vec<Action>) {
        let obs = match ble::decode(v.characteristic, &v.value, now) {
            Ok(o) => o,
            Err(e @ BleError::Unsupported { .. }) => {
                tracing::debug!(error = %e, "BLE value ignored");
                return;
            }
            Err(e) => {
                self.refused += 1;
                tracing::info!(error = %e, "BLE measurement refused");
                return;
            }
        };
        let key = obs.iter().find_map(|o| match o {
            Observation::Numeric(n) => match (n.time.seq, n.time.device) {
                (Some(seq), _) => Some(Key::Seq {
                    ch: v.characteristic,
                    seq,
                }),
                (None, Some(d)) => Some(Key::Timed {
                    ch: v.characteristic,
                    civil_ms: d.civil_ms,
                    value: v.value.clone(),
                }),
                _ => None,
            },
            _ => None,
        });
        if let Some(k) = key
            && !self.remember(k)
        {
            self.duplicates += 1;
            return;
        }
        for o in obs {
            self.observations += 1;
            out.push(Action::Emit(o));
        }
    }

    fn subscribe(&mut self, now: HostTime, out: &mut Vec<Action>) {
        self.seam_seq = self.seam_seq.wrapping_add(1);
        self.last_subscribe_ms = Some(now.mono_ms);
        out.push(Action::Send(seam::encode_subscribe(self.seam_seq)));
    }
}

impl Driver for BleDriver {
    /// Seam link up: subscribe and identify.
    fn start(&mut self, now: HostTime, out: &mut Vec<Action>) {
        if self.state == State::WrongDevice {
            return;
        }
        self.deframer = seam::Deframer::new();
        self.last_seq = None;
        self.connected(now, out);
        self.subscribe(now, out);
    }

    fn on_bytes(&mut self, bytes: &[u8], now: HostTime, out: &mut Vec<Action>) {
        let mut frames = std::mem::take(&mut self.frames);
        self.deframer.push(bytes, &mut frames);
        for f in frames.drain(..) {
            if let seam::Frame::Value { seq, value } = f {
                // Sequence numbers rise per connection; a repeat is a
                // duplicated frame.
                if self.last_seq.is_some_and(|l| seq <= l) {
                    self.duplicates += 1;
                    continue;
                }
                self.last_seq = Some(seq);
                self.on_gatt(&value, now, out);
            }
        }
        self.frames = frames;
    }

    fn on_tick(&mut self, now: HostTime, out: &mut Vec<Action>) {
        if self.state != State::Identifying {
            return;
        }
        let since = |t: u64| now.mono_ms.saturating_sub(t);
        if since(self.identify_since_ms) >= self.cfg.identify_timeout_ms {
            // The device never told who it is: unverifiable is not trusted.
            self.decide(now, out);
        } else if self
            .last_subscribe_ms
            .is_none_or(|t| since(t) >= self.cfg.subscribe_retry_ms)
        {
            self.subscribe(now, out);
        }
    }

    fn on_link_lost(&mut self, now: HostTime) {
        if self.state == State::WrongDevice {
            return;
        }
        if self.state == State::Streaming {
            self.lost_at_wall = Some(now.wall_ms);
        }
        self.state = State::Idle;
        self.pending.clear();
        self.deframer = seam::Deframer::new();
    }

    fn counters(&self) -> Counters {
        let s = self.deframer.stats();
        Counters {
            frames_ok: s.frames,
            frames_rejected: s.rejected,
            fcs_errors: s.crc_errors,
            pdus_rejected: self.refused,
            reassociations: 0,
            observations: self.observations,
        }
    }

    fn wrong_device(&self) -> bool {
        self.state == State::WrongDevice
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ble::{UUID_BLOOD_PRESSURE_MEASUREMENT, UUID_PLX_SPOT_CHECK};
    use crate::obs::{Metric, Reading};

    fn t(ms: u64) -> HostTime {
        HostTime {
            wall_ms: 1_700_000_000_000 + ms as i64,
            mono_ms: ms,
        }
    }

    fn read(ch: u16, s: &str) -> GattValue {
        GattValue {
            kind: GattKind::Read,
            service: SERVICE_DEVICE_INFORMATION,
            characteristic: ch,
            value: s.as_bytes().to_vec(),
        }
    }

    fn meas(service: u16, ch: u16, hexs: &str) -> GattValue {
        GattValue {
            kind: GattKind::Indication,
            service,
            characteristic: ch,
            value: hex::decode(hexs.replace(' ', "")).unwrap(),
        }
    }

    const BP: &str = "06 78 00 50 00 5D 00 E8 07 03 0F 0A 1E 00 48 00";

    fn numerics(out: &[Action]) -> Vec<(Metric, Reading)> {
        out.iter()
            .filter_map(|a| match a {
                Action::Emit(Observation::Numeric(n)) => Some((n.metric, n.reading)),
                _ => None,
            })
            .collect()
    }

    fn expected() -> Expected {
        Expected {
            serial: Some("BLE123".into()),
            model: None,
        }
    }

    #[test]
    fn waits_for_identity_then_dedups_by_device_time() {
        let mut d = BleDriver::new(expected(), BleConfig::default());
        let mut out = Vec::new();
        d.connected(t(0), &mut out);
        // A measurement before the identity waits.
        d.on_gatt(
            &meas(0x1810, UUID_BLOOD_PRESSURE_MEASUREMENT, BP),
            t(1),
            &mut out,
        );
        assert!(numerics(&out).is_empty());
        d.on_gatt(&read(UUID_SERIAL_NUMBER, "BLE123\0"), t(2), &mut out);
        assert!(numerics(&out).is_empty());
        d.on_gatt(&read(UUID_MODEL_NUMBER, "Oxi 1"), t(2), &mut out);
        assert!(out.iter().any(|a| matches!(
            a,
            Action::Status(DriverStatus::Identified(i)) if i.serial.as_deref() == Some("BLE123")
        )));
        assert_eq!(numerics(&out).len(), 4);
        // The same stored measurement again (a reconnect replay): merged.
        out.clear();
        d.on_gatt(
            &meas(0x1810, UUID_BLOOD_PRESSURE_MEASUREMENT, BP),
            t(3),
            &mut out,
        );
        assert!(numerics(&out).is_empty());
        assert_eq!(d.duplicates(), 1);
    }

    #[test]
    fn special_values_are_kept() {
        let mut d = BleDriver::new(Expected::default(), BleConfig::default());
        let mut out = Vec::new();
        d.connected(t(0), &mut out);
        d.identity_complete(t(1), &mut out);
        d.on_gatt(
            &meas(0x1822, UUID_PLX_SPOT_CHECK, "00 62 00 FF 07"),
            t(2),
            &mut out,
        );
        let n = numerics(&out);
        assert!(n.contains(&(Metric::PulseRate, Reading::NaN)), "{n:?}");
    }

    #[test]
    fn wrong_device_uses_nothing() {
        let mut d = BleDriver::new(expected(), BleConfig::default());
        let mut out = Vec::new();
        d.connected(t(0), &mut out);
        d.on_gatt(
            &meas(0x1810, UUID_BLOOD_PRESSURE_MEASUREMENT, BP),
            t(1),
            &mut out,
        );
        d.on_gatt(&read(UUID_SERIAL_NUMBER, "OTHER"), t(2), &mut out);
        d.on_gatt(&read(UUID_MODEL_NUMBER, "Oxi 1"), t(2), &mut out);
        assert!(d.wrong_device());
        d.on_gatt(
            &meas(0x1810, UUID_BLOOD_PRESSURE_MEASUREMENT, BP),
            t(3),
            &mut out,
        );
        assert!(numerics(&out).is_empty());
    }

    #[test]
    fn silent_device_is_not_trusted() {
        let mut d = BleDriver::new(expected(), BleConfig::default());
        let mut out = Vec::new();
        d.start(t(0), &mut out);
        d.on_tick(t(1500), &mut out);
        let subs = out.iter().filter(|a| matches!(a, Action::Send(_))).count();
        assert_eq!(subs, 2, "subscribe is retried");
        d.on_tick(t(10_000), &mut out);
        assert!(d.wrong_device());
    }

    #[test]
    fn seam_round_trip_resync_and_crc() {
        let v = meas(0x1810, UUID_BLOOD_PRESSURE_MEASUREMENT, BP);
        let f = seam::encode(7, &v);
        let mut bad = f.clone();
        bad[14] ^= 0x10;
        let mut stream = vec![0x00, seam::SYNC, 0xFF];
        stream.extend_from_slice(&bad);
        stream.extend_from_slice(&f);
        let mut d = seam::Deframer::new();
        let mut out = Vec::new();
        // byte by byte, to exercise partial frames
        for b in &stream {
            d.push(std::slice::from_ref(b), &mut out);
        }
        assert_eq!(out, vec![seam::Frame::Value { seq: 7, value: v }]);
        assert!(d.stats().crc_errors >= 1);
    }

    #[test]
    fn seam_duplicates_and_data_gap() {
        let mut d = BleDriver::new(Expected::default(), BleConfig::default());
        let mut out = Vec::new();
        d.start(t(0), &mut out);
        let hr = GattValue {
            kind: GattKind::Notification,
            service: 0x180D,
            characteristic: ble::UUID_HEART_RATE_MEASUREMENT,
            value: vec![0x06, 0x48],
        };
        let mut bytes = seam::encode(1, &read(UUID_MODEL_NUMBER, "X"));
        d.on_bytes(&bytes, t(1), &mut out);
        d.identity_complete(t(1), &mut out);
        bytes = seam::encode(2, &hr);
        bytes.extend_from_slice(&seam::encode(2, &hr));
        d.on_bytes(&bytes, t(2), &mut out);
        assert_eq!(numerics(&out).len(), 1);
        d.on_link_lost(t(5));
        out.clear();
        d.start(t(9), &mut out);
        d.on_bytes(&seam::encode(1, &hr), t(10), &mut out);
        d.identity_complete(t(10), &mut out);
        assert!(out.iter().any(|a| matches!(
            a,
            Action::Emit(Observation::Event(DeviceEvent {
                kind: EventKind::DataGap { .. },
                ..
            }))
        )));
        assert_eq!(
            numerics(&out).len(),
            1,
            "pending HR delivered after identity"
        );
    }

    #[test]
    fn sig_uuids() {
        let hr = uuid::Uuid::parse_str("00002a37-0000-1000-8000-00805f9b34fb").unwrap();
        assert_eq!(uuid16(&hr), Some(0x2A37));
        let vendor = uuid::Uuid::parse_str("00002a37-0000-1000-8000-00805f9b34fc").unwrap();
        assert_eq!(uuid16(&vendor), None);
        let long = uuid::Uuid::parse_str("12342a37-0000-1000-8000-00805f9b34fb").unwrap();
        assert_eq!(uuid16(&long), None);
    }

    proptest::proptest! {
        #[test]
        fn one_flipped_bit_never_yields_another_value(
            value in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            bit in 0usize..(14 + 40) * 8,
        ) {
            let v = GattValue {
                kind: GattKind::Notification,
                service: 0x180D,
                characteristic: 0x2A37,
                value,
            };
            let mut f = seam::encode(9, &v);
            let bit = bit % (f.len() * 8);
            f[bit / 8] ^= 1 << (bit % 8);
            let mut d = seam::Deframer::new();
            let mut out = Vec::new();
            d.push(&f, &mut out);
            proptest::prop_assert!(out.is_empty(), "a corrupted frame was accepted: {:?}", out);
        }

        #[test]
        fn deframer_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            let mut d = seam::Deframer::new();
            let mut out = Vec::new();
            d.push(&data, &mut out);
            for f in out {
                if let seam::Frame::Value { value, .. } = f {
                    proptest::prop_assert!(value.value.len() <= seam::MAX_VALUE);
                }
            }
        }
    }
}
