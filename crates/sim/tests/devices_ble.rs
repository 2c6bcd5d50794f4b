//! End-to-end: the BLE health driver against `rettpad-sim device --proto
//! ble` over the GATT test seam, on a raw PTY (opened by path, as a tty
//! would be) and on loopback TCP for reconnects.

use rettpad_clock::SystemClock;
use rettpad_devices::ble_driver::{BleConfig, BleDriver};
use rettpad_devices::driver::{Driver, DriverStatus, Expected};
use rettpad_devices::link::{self as link, Event, Exit, Link, SerialLink, SerialSettings, TcpLink};
use rettpad_devices::obs::{Decimal, EventKind, Metric, Observation, Reading};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

const SERIAL: &str = "BLE123";

/// A running `rettpad-sim device --proto ble …`; killed on drop.
struct Sim {
    child: Child,
    /// "PTY /dev/pts/N" or "TCP 127.0.0.1:PORT", without the prefix.
    at: String,
}

impl Sim {
    fn start(args: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rettpad-sim"))
            .args(["device", "--proto", "ble", "--seed", "5"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start rettpad-sim device --proto ble");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut l = String::new();
        out.read_line(&mut l).expect("simulator output");
        let at = l
            .trim()
            .split_once(' ')
            .map(|(_, a)| a.to_string())
            .expect("PTY/TCP line");
        Sim { child, at }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn driver() -> BleDriver {
    BleDriver::new(
        Expected {
            serial: Some(SERIAL.into()),
            model: None,
        },
        BleConfig::default(),
    )
}

/// Runs the driver on `link` for `ms` (or until it returns).
fn run_for(l: &mut dyn Link, d: &mut BleDriver, ms: u64) -> (Vec<Event>, Exit) {
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let timer = thread::spawn(move || {
        // Small steps, so a run that ends early does not wait here.
        for _ in 0..ms / 20 {
            if s2.load(Ordering::Relaxed) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        s2.store(true, Ordering::Relaxed);
    });
    let mut events = Vec::new();
    let exit = link::run(l, d, &SystemClock::new(), &stop, &mut |e| events.push(e));
    stop.store(true, Ordering::Relaxed);
    let _ = timer.join();
    (events, exit)
}

fn pty(sim: &Sim) -> SerialLink {
    SerialLink::open(&sim.at, SerialSettings::INTELLIVUE).expect("open pty by path")
}

fn values(events: &[Event], m: Metric) -> Vec<Reading> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Observation(Observation::Numeric(n)) if n.metric == m => Some(n.reading),
            _ => None,
        })
        .collect()
}

fn int(v: i64) -> Reading {
    Reading::Value(Decimal::int(v))
}

#[test]
fn ble_over_pty_identifies_and_merges_duplicated_frames() {
    let sim = Sim::start(&["--link", "pty", "--serial", SERIAL, "--faults", "dup=0.5"]);
    let mut l = pty(&sim);
    let mut d = driver();
    let (ev, exit) = run_for(&mut l, &mut d, 2600);
    assert!(matches!(exit, Exit::Stopped), "{exit:?}");
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Status(DriverStatus::Identified(i)) if i.serial.as_deref() == Some(SERIAL)
            && i.model.as_deref() == Some("BLE-SIM 1")
    )));
    // The stored measurements arrive once each, however often the frames
    // were duplicated.
    assert_eq!(values(&ev, Metric::NibpSys), vec![int(128)]);
    assert_eq!(values(&ev, Metric::NibpDia), vec![int(82)]);
    assert_eq!(
        values(&ev, Metric::Temperature),
        vec![Reading::Value(Decimal::new(368, -1))]
    );
    assert_eq!(values(&ev, Metric::Glucose).len(), 1);
    // The streams flow: at least two heart rates around 78/min.
    let hr = values(&ev, Metric::HeartRate);
    assert!(hr.len() >= 2, "{hr:?}");
    assert!(
        hr.iter().all(|r| [int(77), int(78), int(79)].contains(r)),
        "{hr:?}"
    );
    assert!(d.duplicates() > 0, "dup=0.5 must have duplicated a frame");
    assert_eq!(d.counters().fcs_errors, 0);
}

#[test]
fn ble_vf_spot_check_keeps_nan() {
    let sim = Sim::start(&[
        "--link",
        "pty",
        "--serial",
        SERIAL,
        "--scenario",
        "vf-arrest",
    ]);
    let mut l = pty(&sim);
    let mut d = driver();
    let (ev, _) = run_for(&mut l, &mut d, 800);
    let spo2 = values(&ev, Metric::SpO2);
    assert!(spo2.contains(&Reading::NaN), "{spo2:?}");
    assert!(!spo2.contains(&int(0)));
    assert!(values(&ev, Metric::PulseRate).contains(&Reading::NaN));
}

#[test]
fn ble_wrong_device_delivers_nothing() {
    let sim = Sim::start(&["--link", "pty", "--serial", "OTHER-9"]);
    let mut l = pty(&sim);
    let mut d = driver();
    let (ev, exit) = run_for(&mut l, &mut d, 3000);
    assert!(matches!(exit, Exit::WrongDevice), "{exit:?}");
    assert!(ev.iter().any(|e| matches!(
        e,
        Event::Status(DriverStatus::WrongDevice { reported }) if reported.serial.as_deref() == Some("OTHER-9")
    )));
    assert!(
        !ev.iter()
            .any(|e| matches!(e, Event::Observation(Observation::Numeric(_))))
    );
}

#[test]
fn ble_bit_flips_are_counted_never_used() {
    let sim = Sim::start(&[
        "--link",
        "pty",
        "--serial",
        SERIAL,
        "--faults",
        "bitflip=0.02",
    ]);
    let mut l = pty(&sim);
    let mut d = driver();
    let (ev, _) = run_for(&mut l, &mut d, 3500);
    let c = d.counters();
    assert!(c.fcs_errors + c.frames_rejected > 0, "{c:?}");
    // Whatever got through is a value the device sent.
    for r in values(&ev, Metric::SpO2) {
        assert!([int(96), int(97)].contains(&r), "{r:?}");
    }
    for r in values(&ev, Metric::NibpSys) {
        assert_eq!(r, int(128));
    }
}

#[test]
fn ble_reconnect_over_tcp_records_a_gap_and_dedups_stored_values() {
    let sim = Sim::start(&[
        "--link",
        "tcp:127.0.0.1:0",
        "--serial",
        SERIAL,
        "--faults",
        "disconnect-after=1s",
    ]);
    let addr = sim.at.parse().expect("tcp address");
    let mut d = driver();
    let mut all = Vec::new();
    for _ in 0..2 {
        let mut l = TcpLink::connect(addr).expect("connect");
        let (ev, exit) = run_for(&mut l, &mut d, 2500);
        assert!(matches!(exit, Exit::LinkLost(_)), "{exit:?}");
        all.extend(ev);
    }
    assert_eq!(
        values(&all, Metric::NibpSys),
        vec![int(128)],
        "the replayed BP is merged"
    );
    assert_eq!(values(&all, Metric::Glucose).len(), 1);
    let gaps = all
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Observation(Observation::Event(ev)) if matches!(ev.kind, EventKind::DataGap { .. })
            )
        })
        .count();
    assert_eq!(gaps, 1);
    assert!(d.duplicates() >= 4, "stored values replayed and merged");
}
