//! `rettpad-sim device --proto ble`: a BLE health device (pulse oximeter,
//! heart rate, BP cuff, thermometer, glucose meter in one) played over the
//! GATT test seam ([`super::ble_driver::seam`]) on a PTY or loopback TCP.
//!
//! On "subscribe" it answers with its Device Information (manufacturer,
//! model, serial), then indicates its stored, timestamped measurements
//! (BP, spot check, temperature, glucose record 1): on every reconnect
//! again, as real devices do, so the host's deduplication is exercised.
//! Then every second a heart-rate and a PLX continuous notification.
//! Faults as for the other protocols (bit flips, drops, duplicates,
//! disconnects, clock skew).

use super::ble::{
    UUID_BLOOD_PRESSURE_MEASUREMENT, UUID_GLUCOSE_MEASUREMENT, UUID_HEART_RATE_MEASUREMENT,
    UUID_PLX_CONTINUOUS, UUID_PLX_SPOT_CHECK, UUID_TEMPERATURE_MEASUREMENT,
};
use super::ble_driver::{
    GattKind, GattValue, SERVICE_DEVICE_INFORMATION, UUID_MANUFACTURER, UUID_MODEL_NUMBER,
    UUID_SERIAL_NUMBER, seam,
};
use super::ieee11073::{Decimal, Reading, encode_float, encode_sfloat};
use super::obs::HostTime;
use super::sim::{Faults, Rng, Scenario};
use crate::link::{Link, LinkError, SerialLink, TcpLink, host_time};
use rettpad_clock::{Clock, SystemClock};
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const USAGE: &str = "usage: rettpad-sim device --proto ble --link pty|tcp:127.0.0.1:PORT \
--scenario stable|stemi|vf-arrest [--seed N] [--serial S] [--model M] \
[--faults bitflip=P,drop=P,dup=P,disconnect-after=Ns,clock-skew=+Ns]";

fn sfloat(m: i64, e: i8) -> [u8; 2] {
    encode_sfloat(Reading::Value(Decimal::new(m, e)))
        .unwrap_or(0x07FF)
        .to_le_bytes()
}

const NAN: [u8; 2] = [0xFF, 0x07];

/// Civil date-time fields of a civil-ms instant (Hinnant's inverse).
fn date_time(civil_ms: i64) -> [u8; 7] {
    let secs = civil_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let y = u16::try_from(y).unwrap_or(0).to_le_bytes();
    [
        y[0],
        y[1],
        m as u8,
        d as u8,
        (sod / 3600) as u8,
        (sod / 60 % 60) as u8,
        (sod % 60) as u8,
    ]
}

/// The simulated BLE device.
pub struct BleDevice {
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    scenario: Scenario,
    rng: Rng,
    /// Device clock = host wall clock + this (the pad's zone + skew).
    civil_offset_ms: i64,
    /// When the stored measurements were taken (device civil ms).
    stored_at: Option<i64>,
    seq: u32,
    subscribed_at: Option<u64>,
    last_stream_ms: u64,
}

impl BleDevice {
    pub fn new(scenario: Scenario, seed: u64, serial: &str, civil_offset_ms: i64) -> BleDevice {
        BleDevice {
            manufacturer: "rettpad".into(),
            model: "BLE-SIM 1".into(),
            serial: serial.into(),
            scenario,
            rng: Rng::new(seed),
            civil_offset_ms,
            stored_at: None,
            seq: 0,
            subscribed_at: None,
            last_stream_ms: 0,
        }
    }

    fn frame(&mut self, kind: GattKind, service: u16, ch: u16, value: Vec<u8>) -> Vec<u8> {
        self.seq = self.seq.wrapping_add(1);
        seam::encode(
            self.seq,
            &GattValue {
                kind,
                service,
                characteristic: ch,
                value,
            },
        )
    }

    /// Host bytes in (only "subscribe" means something); frames out.
    pub fn on_bytes(
        &mut self,
        d: &mut seam::Deframer,
        bytes: &[u8],
        now: HostTime,
        out: &mut Vec<Vec<u8>>,
    ) {
        let mut frames = Vec::new();
        d.push(bytes, &mut frames);
        if frames
            .iter()
            .any(|f| matches!(f, seam::Frame::Subscribe { .. }))
        {
            self.subscribe(now, out);
        }
    }

    fn subscribe(&mut self, now: HostTime, out: &mut Vec<Vec<u8>>) {
        self.seq = 0;
        self.subscribed_at = Some(now.mono_ms);
        self.last_stream_ms = now.mono_ms;
        let civil_now = now.wall_ms + self.civil_offset_ms;
        let at = *self.stored_at.get_or_insert(civil_now - 60_000);
        let dis = SERVICE_DEVICE_INFORMATION;
        for (ch, v) in [
            (UUID_MANUFACTURER, self.manufacturer.clone()),
            (UUID_MODEL_NUMBER, self.model.clone()),
            (UUID_SERIAL_NUMBER, self.serial.clone()),
        ] {
            let f = self.frame(GattKind::Read, dis, ch, v.into_bytes());
            out.push(f);
        }
        let dt = date_time(at);
        let (sys, dia) = match self.scenario {
            Scenario::Stable => (128, 82),
            Scenario::Stemi => (150, 95),
            Scenario::VfArrest => (110, 70),
        };
        // BP: mmHg, timestamp, pulse.
        let mut bp = vec![0x06];
        bp.extend_from_slice(&sfloat(sys, 0));
        bp.extend_from_slice(&sfloat(dia, 0));
        bp.extend_from_slice(&sfloat((sys + 2 * dia) / 3, 0));
        bp.extend_from_slice(&dt);
        bp.extend_from_slice(&sfloat(76, 0));
        let f = self.frame(
            GattKind::Indication,
            0x1810,
            UUID_BLOOD_PRESSURE_MEASUREMENT,
            bp,
        );
        out.push(f);
        // Spot check: in VF neither value is measurable (NaN, not 0).
        let mut spot = vec![0x01];
        if self.scenario == Scenario::VfArrest {
            spot.extend_from_slice(&NAN);
            spot.extend_from_slice(&NAN);
        } else {
            spot.extend_from_slice(&sfloat(97, 0));
            spot.extend_from_slice(&sfloat(78, 0));
        }
        spot.extend_from_slice(&dt);
        let f = self.frame(GattKind::Indication, 0x1822, UUID_PLX_SPOT_CHECK, spot);
        out.push(f);
        // Temperature 36.8 °C with timestamp.
        let mut temp = vec![0x02];
        let raw = encode_float(Reading::Value(Decimal::new(368, -1))).unwrap_or(0x007F_FFFF);
        temp.extend_from_slice(&raw.to_le_bytes());
        temp.extend_from_slice(&dt);
        let f = self.frame(
            GattKind::Indication,
            0x1809,
            UUID_TEMPERATURE_MEASUREMENT,
            temp,
        );
        out.push(f);
        // Glucose record 1: 110 mg/dL = 0.00110 kg/L, capillary, finger.
        let mut glu = vec![0x02];
        glu.extend_from_slice(&1u16.to_le_bytes());
        glu.extend_from_slice(&dt);
        glu.extend_from_slice(&sfloat(110, -5));
        glu.push(0x11);
        let f = self.frame(
            GattKind::Notification,
            0x1808,
            UUID_GLUCOSE_MEASUREMENT,
            glu,
        );
        out.push(f);
    }

    /// Once a second while subscribed: heart rate and PLX continuous.
    pub fn on_tick(&mut self, now: HostTime, out: &mut Vec<Vec<u8>>) {
        let Some(since) = self.subscribed_at else {
            return;
        };
        if now.mono_ms.saturating_sub(self.last_stream_ms) < 1000 {
            return;
        }
        self.last_stream_ms = now.mono_ms;
        let t = now.mono_ms.saturating_sub(since) as f64 / 1000.0;
        let jitter = (self.rng.next_u64() % 3) as i64 - 1;
        let hr = self.scenario.hr(t);
        // HR as u8 with contact detected; in VF there is no rate to send.
        if let Some(h) = hr {
            let v = vec![0x06, (h as i64 + jitter).clamp(0, 255) as u8];
            let f = self.frame(
                GattKind::Notification,
                0x180D,
                UUID_HEART_RATE_MEASUREMENT,
                v,
            );
            out.push(f);
        }
        let mut plx = vec![0x00];
        match hr {
            Some(h) => {
                let spo2 = if self.scenario == Scenario::Stemi {
                    94
                } else {
                    97
                };
                plx.extend_from_slice(&sfloat(spo2 + jitter.min(0), 0));
                plx.extend_from_slice(&sfloat(h as i64, 0));
            }
            None => {
                plx.extend_from_slice(&NAN);
                plx.extend_from_slice(&NAN);
            }
        }
        let f = self.frame(GattKind::Notification, 0x1822, UUID_PLX_CONTINUOUS, plx);
        out.push(f);
    }

    /// The connection ended: the next subscribe starts afresh.
    pub fn reset(&mut self) {
        self.subscribed_at = None;
    }
}

/// Serves one connection until the link closes or `disconnect_after`.
/// `Ok(true)`: it hung up on purpose.
pub fn serve(
    link: &mut dyn Link,
    dev: &mut BleDevice,
    faults: &Faults,
    rng: &mut Rng,
    clock: &dyn Clock,
) -> Result<bool, LinkError> {
    let started = Instant::now();
    let mut buf = vec![0u8; 1024];
    let mut d = seam::Deframer::new();
    let (mut frames, mut wire) = (Vec::new(), Vec::new());
    loop {
        if faults
            .disconnect_after
            .is_some_and(|t| started.elapsed() >= t)
        {
            dev.reset();
            return Ok(true);
        }
        let n = link.recv(&mut buf, Duration::from_millis(20))?;
        let now = host_time(clock);
        if n > 0 {
            dev.on_bytes(&mut d, &buf[..n], now, &mut frames);
        }
        dev.on_tick(now, &mut frames);
        for f in frames.drain(..) {
            faults.apply(f, rng, &mut wire);
        }
        for w in wire.drain(..) {
            link.send(&w)?;
        }
    }
}

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// `rettpad-sim device --proto ble …`.
pub fn main(args: &[String]) -> ExitCode {
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
    let clock = SystemClock::new();
    let mut rng = Rng::new(seed);
    let mut dev = BleDevice::new(
        scenario,
        seed,
        arg(args, "--serial").unwrap_or("BLE00000001"),
        faults.clock_skew_ms,
    );
    if let Some(m) = arg(args, "--model") {
        dev.model = m.to_string();
    }
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
            match serve(&mut l, &mut dev, &faults, &mut rng, &clock) {
                // A PTY cannot hang up: go silent, then wait for a subscribe.
                Ok(true) => std::thread::sleep(Duration::from_secs(3)),
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
        .filter(|a| a.ip().is_loopback())
    else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
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
        let _ = serve(&mut l, &mut dev, &faults, &mut rng, &clock);
        dev.reset();
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ble;
    use crate::obs::civil_time;

    #[test]
    fn date_time_inverts_civil_time() {
        let t = civil_time(2024, 3, 15, 10, 30, 5, 0).unwrap().civil_ms;
        assert_eq!(date_time(t), [0xE8, 0x07, 3, 15, 10, 30, 5]);
        let leap = civil_time(2024, 2, 29, 23, 59, 59, 0).unwrap().civil_ms;
        assert_eq!(date_time(leap), [0xE8, 0x07, 2, 29, 23, 59, 59]);
    }

    #[test]
    fn every_frame_decodes() {
        let mut dev = BleDevice::new(Scenario::VfArrest, 3, "S1", 0);
        let mut out = Vec::new();
        let now = HostTime {
            wall_ms: 1_795_305_600_000,
            mono_ms: 0,
        };
        dev.subscribe(now, &mut out);
        dev.on_tick(
            HostTime {
                mono_ms: 70_000,
                ..now
            },
            &mut out,
        );
        let mut d = seam::Deframer::new();
        let mut frames = Vec::new();
        for f in &out {
            d.push(f, &mut frames);
        }
        assert_eq!(frames.len(), 8);
        for f in frames {
            let seam::Frame::Value { value, .. } = f else {
                panic!("subscribe from the device")
            };
            if value.kind != GattKind::Read {
                ble::decode(value.characteristic, &value.value, now).unwrap();
            }
        }
    }
}
