//! The sans-IO driver interface: a driver is fed bytes and time and answers
//! with bytes to send and observations. The same driver runs over a tty, an
//! RFCOMM socket, TCP or a PTY pair.

use super::obs::{DeviceInfo, HostTime, Observation};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(Vec<u8>),
    Emit(Observation),
    Status(DriverStatus),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverStatus {
    /// Handshake in progress (association, negotiation).
    Handshaking,
    /// The device identified itself and matches the pairing record.
    Identified(DeviceInfo),
    /// Data flows.
    Streaming,
    /// The device is not the one in the pairing record: no data is used.
    WrongDevice { reported: DeviceInfo },
}

/// What a driver counted. Every refused frame or PDU is in here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub frames_ok: u64,
    pub frames_rejected: u64,
    pub fcs_errors: u64,
    pub pdus_rejected: u64,
    pub reassociations: u64,
    pub observations: u64,
}

pub trait Driver: Send {
    /// The link is up: begin the handshake.
    fn start(&mut self, now: HostTime, out: &mut Vec<Action>);
    fn on_bytes(&mut self, bytes: &[u8], now: HostTime, out: &mut Vec<Action>);
    /// Timers (retries, keep-alive, watchdog). Call at least every 100 ms.
    fn on_tick(&mut self, now: HostTime, out: &mut Vec<Action>);
    /// The link dropped; the next `start` is a reconnect (a data gap).
    fn on_link_lost(&mut self, now: HostTime);
    fn counters(&self) -> Counters;
    /// The device failed identification; the supervisor must not reconnect.
    fn wrong_device(&self) -> bool;
}

/// The identity a pairing record expects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expected {
    pub serial: Option<String>,
    pub model: Option<String>,
}

impl Expected {
    /// `true` when the reported identity satisfies every expected field.
    /// An expected field the device does not report is a mismatch: an
    /// unverifiable device is not trusted.
    pub fn matches(&self, info: &DeviceInfo) -> bool {
        let ok = |want: &Option<String>, got: &Option<String>| match want {
            None => true,
            Some(w) => got.as_deref().map(str::trim) == Some(w.trim()),
        };
        ok(&self.serial, &info.serial) && ok(&self.model, &info.model)
    }
}

/// Device-clock offset: median of (device time − host time) over the last
/// observations. Never used to rewrite a time; the UI warns above 60 s.
#[derive(Debug, Clone, Default)]
pub struct ClockOffset {
    window: std::collections::VecDeque<i64>,
}

impl ClockOffset {
    pub const WINDOW: usize = 31;
    pub const WARN_MS: i64 = 60_000;

    /// `device_utc_ms`: the device's time converted with the pad's zone.
    pub fn push(&mut self, device_utc_ms: i64, host_wall_ms: i64) {
        if self.window.len() == Self::WINDOW {
            self.window.pop_front();
        }
        self.window
            .push_back(device_utc_ms.saturating_sub(host_wall_ms));
    }

    pub fn offset_ms(&self) -> Option<i64> {
        let mut v: Vec<i64> = self.window.iter().copied().collect();
        v.sort_unstable();
        v.get(v.len() / 2).copied()
    }

    /// "Geräteuhr weicht ab" when |offset| > 60 s.
    pub fn warn(&self) -> bool {
        self.offset_ms().is_some_and(|o| o.abs() > Self::WARN_MS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_identity() {
        let info = DeviceInfo {
            serial: Some("DE123".into()),
            model: Some("MP50".into()),
            ..Default::default()
        };
        assert!(Expected::default().matches(&info));
        let want = Expected {
            serial: Some("DE123".into()),
            model: None,
        };
        assert!(want.matches(&info));
        let other = Expected {
            serial: Some("DE999".into()),
            model: None,
        };
        assert!(!other.matches(&info));
        assert!(!want.matches(&DeviceInfo::default()));
    }

    #[test]
    fn clock_offset_is_a_median() {
        let mut c = ClockOffset::default();
        assert_eq!(c.offset_ms(), None);
        for i in 0..10 {
            c.push(1_000 + 300_000 + i, 1_000);
        }
        c.push(0, 10_000_000); // one outlier
        assert!((300_000..300_010).contains(&c.offset_ms().unwrap()));
        assert!(c.warn());
        let mut ok = ClockOffset::default();
        ok.push(59_000, 0);
        assert!(!ok.warn());
    }
}
