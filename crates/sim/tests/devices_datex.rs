//! End-to-end: the Datex-Ohmeda S/5 host driver against the simulated S/5
//! over a raw PTY pair (and TCP on loopback for reconnects), with the
//! observations carried on into record payloads.

use rettpad_clock::SystemClock;
use rettpad_devices::datex::host::{
    DATEX_WAVE_BASE, Host, HostConfig, MODEL_FAMILY, model_for_level,
};
use rettpad_devices::datex::monitor::{Monitor, MonitorConfig, ScenarioSource};
use rettpad_devices::datex::record;
use rettpad_devices::driver::{ClockOffset, Driver, DriverStatus, Expected};
use rettpad_devices::import::{ImportConfig, Importer};
use rettpad_devices::link::{self as link, Event, Exit, SerialLink, SerialSettings, TcpLink};
use rettpad_devices::obs::{AlarmPriority, EventKind, HostTime, Metric, Observation, Reading};
use rettpad_devices::sim::{Faults, Rng, Scenario, serve};
use rettpad_record::keys;
use rettpad_record::{Collection, Num, PatientId, Payload, Value};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

fn monitor(level: u8, skew_ms: i64) -> Monitor {
    Monitor::new(
        MonitorConfig {
            dri_level: level,
            civil_offset_ms: skew_ms,
            wave_every_ms: 250,
        },
        Box::new(ScenarioSource::new(Scenario::Stable, 42)),
    )
}

fn host(model: Option<&str>, serial: Option<&str>) -> Host {
    Host::new(HostConfig {
        expected: Expected {
            serial: serial.map(Into::into),
            model: model.map(Into::into),
        },
        tx_interval_s: 1,
        silence_ms: 3000,
        ..HostConfig::default()
    })
}

/// The simulator on the master side of a PTY pair, the host on the slave
/// (opened by path at 19200 8E1 RTS/CTS, as `/dev/rfcommN` would be).
fn run_pty(
    faults: Faults,
    level: u8,
    h: Host,
    skew_ms: i64,
    secs: u64,
) -> (Vec<Event>, Exit, Host) {
    run_pty_with(monitor(level, skew_ms), faults, h, secs)
}

fn run_pty_with(
    mut m: Monitor,
    faults: Faults,
    mut h: Host,
    secs: u64,
) -> (Vec<Event>, Exit, Host) {
    let (master, slave) = serialport::TTYPort::pair().expect("pty pair");
    let path = serialport::SerialPort::name(&slave).expect("pty name");
    let sim = thread::spawn(move || {
        let mut l = SerialLink::from_port(master);
        let mut rng = Rng::new(7);
        let _ = serve(&mut l, &mut m, &faults, &mut rng, &SystemClock::new());
    });
    let mut l = SerialLink::open(&path, SerialSettings::DATEX).expect("open pty by path");
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let timer = thread::spawn(move || {
        thread::sleep(Duration::from_secs(secs));
        s2.store(true, Ordering::Relaxed);
    });
    let mut events = Vec::new();
    let exit = link::run(&mut l, &mut h, &SystemClock::new(), &stop, &mut |e| {
        events.push(e)
    });
    drop(l);
    drop(slave);
    let _ = timer.join();
    let _ = sim.join();
    (events, exit, h)
}

fn numerics(events: &[Event], m: Metric) -> Vec<Reading> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Observation(Observation::Numeric(n)) if n.metric == m => Some(n.reading),
            _ => None,
        })
        .collect()
}

fn import(events: &[Event]) -> (Vec<Payload>, Importer) {
    let mut imp = Importer::new(
        ImportConfig {
            device_label: "S/5".into(),
            ..Default::default()
        },
        PatientId::new(),
    );
    let mut out = Vec::new();
    for e in events {
        if let Event::Observation(o) = e {
            imp.push(o);
            let host = match o {
                Observation::Numeric(n) => n.time.host,
                Observation::Wave(w) => w.t0.host,
                Observation::Event(ev) => ev.time.host,
                Observation::Info(_) => continue,
            };
            out.extend(imp.drain(host));
        }
    }
    out.extend(imp.drain(HostTime {
        wall_ms: 0,
        mono_ms: u64::MAX,
    }));
    (out, imp)
}

fn in_range(r: &Reading, lo: i64, hi: i64) -> bool {
    r.value()
        .and_then(|d| d.to_thousandths())
        .is_some_and(|v| (lo..=hi).contains(&v))
}

#[test]
fn datex_over_a_pty_reaches_the_record() {
    let faults = Faults {
        dup: 0.3,
        ..Faults::default()
    };
    // the monitor answers at level 2001 only: the host must find it
    let (events, exit, h) = run_pty(
        faults,
        record::DRI_LEVEL_2001,
        host(Some(MODEL_FAMILY), None),
        0,
        4,
    );
    assert!(matches!(exit, Exit::Stopped), "{exit:?}");
    assert_eq!(h.level(), Some(record::DRI_LEVEL_2001));
    assert!(events.iter().any(|e| matches!(e,
        Event::Status(DriverStatus::Identified(i)) if i.model.as_deref() == Some("S/5 DRI-L07"))));
    let hr = numerics(&events, Metric::HeartRate);
    assert!(hr.len() >= 3, "{} HR values", hr.len());
    assert!(hr.iter().all(|r| in_range(r, 76_000, 80_000)), "{hr:?}");
    assert!(
        numerics(&events, Metric::SpO2)
            .iter()
            .all(|r| in_range(r, 96_000, 98_000))
    );
    assert!(
        numerics(&events, Metric::EtCo2)
            .iter()
            .all(|r| in_range(r, 36_000, 40_000))
    );
    // ECG1 at 300 Hz, pleth, CO2
    let mut ecg = 0;
    let mut channels = std::collections::BTreeSet::new();
    for e in &events {
        if let Event::Observation(Observation::Wave(w)) = e {
            channels.insert(w.channel);
            if w.channel == Metric::Other(DATEX_WAVE_BASE | u32::from(record::WAVE_ECG1)) {
                assert_eq!(w.sample_period_us, 3333);
                ecg += w.samples.len();
                // −0.8…1.6 mV in 0.01 mV steps
                assert!(
                    w.samples.iter().all(|&s| (-80..=160).contains(&s)),
                    "{:?}",
                    w.samples
                );
            }
        }
    }
    assert_eq!(channels.len(), 3, "{channels:?}");
    assert!(ecg >= 600, "{ecg} ECG samples in ~3 s");
    // into the record: one periodic set + one NIBP entry; replays dropped
    let (payloads, imp) = import(&events);
    let vitals: Vec<_> = payloads
        .iter()
        .filter_map(|p| match p {
            Payload::EntryAdded {
                collection: Collection::Vitals,
                fields,
                ..
            } => Some(fields),
            _ => None,
        })
        .collect();
    assert_eq!(vitals.len(), 2, "{vitals:#?}");
    let nibp = vitals
        .iter()
        .find(|f| f.contains_key(keys::vitals::BP_SYS))
        .unwrap();
    assert_eq!(nibp[keys::vitals::BP_SYS].as_num(), Some(Num::int(128)));
    assert_eq!(nibp[keys::vitals::BP_DIA].as_num(), Some(Num::int(82)));
    let set = vitals
        .iter()
        .find(|f| f.contains_key(keys::vitals::HR))
        .unwrap();
    assert_eq!(set[keys::vitals::RR].as_num(), Some(Num::int(14)));
    assert!(matches!(&set[keys::vitals::SPO2], Value::Measured(m) if m.value.is_some()));
    assert!(
        imp.stats.duplicates > 0,
        "duplicated frames must be recognised by device time"
    );
}

#[test]
fn corrupt_frames_are_dropped_and_counted() {
    let faults = Faults {
        bitflip: 1e-3,
        ..Faults::default()
    };
    let (events, _exit, h) = run_pty(faults, record::DRI_LEVEL_2005, host(None, None), 0, 4);
    let c = h.counters();
    assert!(c.frames_rejected > 0, "{c:?}");
    assert!(c.frames_ok > 0, "{c:?}");
    // whatever got through is exactly what the monitor sent
    for r in numerics(&events, Metric::HeartRate) {
        assert!(in_range(&r, 76_000, 80_000), "{r:?}");
    }
    for r in numerics(&events, Metric::RespRate) {
        assert_eq!(r.value().and_then(|d| d.to_thousandths()), Some(14_000));
    }
}

#[test]
fn a_wrong_device_delivers_nothing() {
    // the pairing record pins level 2001, the monitor answers at 2005
    let (events, exit, _) = run_pty(
        Faults::default(),
        record::DRI_LEVEL_2005,
        host(Some(&model_for_level(record::DRI_LEVEL_2001)), None),
        0,
        3,
    );
    assert!(matches!(exit, Exit::WrongDevice), "{exit:?}");
    assert!(events.iter().any(|e| matches!(e,
        Event::Status(DriverStatus::WrongDevice { reported }) if reported.model.as_deref() == Some("S/5 DRI-L09"))));
    assert!(numerics(&events, Metric::HeartRate).is_empty());
    // a pairing record with a serial cannot be verified on an S/5
    let (events, exit, _) = run_pty(
        Faults::default(),
        record::DRI_LEVEL_2005,
        host(None, Some("DE00000001")),
        0,
        3,
    );
    assert!(matches!(exit, Exit::WrongDevice), "{exit:?}");
    assert!(numerics(&events, Metric::HeartRate).is_empty());
}

#[test]
fn clock_skew_is_measured_not_corrected() {
    let (events, _, _) = run_pty(
        Faults::default(),
        record::DRI_LEVEL_2005,
        host(None, None),
        -300_000,
        3,
    );
    let mut off = ClockOffset::default();
    for e in &events {
        if let Event::Observation(Observation::Numeric(n)) = e
            && n.metric == Metric::HeartRate
        {
            off.push(n.time.device.unwrap().civil_ms, n.time.host.wall_ms);
        }
    }
    let o = off.offset_ms().unwrap();
    // whole seconds on the wire
    assert!((-301_500..=-298_500).contains(&o), "offset {o}");
    assert!(off.warn());
}

#[test]
fn reconnect_over_tcp_records_a_data_gap() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let sim = thread::spawn(move || {
        let faults = Faults {
            disconnect_after: Some(Duration::from_millis(2500)),
            ..Faults::default()
        };
        let mut m = monitor(record::DRI_LEVEL_2005, 0);
        let mut rng = Rng::new(1);
        for _ in 0..2 {
            let (s, _) = listener.accept().unwrap();
            let mut l = TcpLink::from_stream(s);
            let _ = serve(&mut l, &mut m, &faults, &mut rng, &SystemClock::new());
            m.reset();
        }
    });
    let mut h = host(None, None);
    let clock = SystemClock::new();
    let stop = AtomicBool::new(false);
    let mut events = Vec::new();
    let mut exits = Vec::new();
    for _ in 0..2 {
        let mut l = TcpLink::connect(addr).unwrap();
        exits.push(link::run(&mut l, &mut h, &clock, &stop, &mut |e| {
            events.push(e)
        }));
    }
    sim.join().unwrap();
    assert!(
        exits.iter().all(|e| matches!(e, Exit::LinkLost(_))),
        "{exits:?}"
    );
    let gaps: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Observation(Observation::Event(ev)) => match ev.kind {
                EventKind::DataGap {
                    from_host_ms,
                    to_host_ms,
                } => Some(to_host_ms - from_host_ms),
                _ => None,
            },
            _ => None,
        })
        .collect();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert!(gaps[0] > 0 && gaps[0] < 3000, "{gaps:?}");
    let pos = events
        .iter()
        .position(|e| matches!(e, Event::Observation(Observation::Event(_))))
        .unwrap();
    assert!(!numerics(&events[..pos], Metric::HeartRate).is_empty());
    assert!(!numerics(&events[pos..], Metric::HeartRate).is_empty());
    // each connection negotiates the level again and identifies the device
    let identified = events
        .iter()
        .filter(|e| matches!(e, Event::Status(DriverStatus::Identified(_))))
        .count();
    assert_eq!(identified, 2);
}

#[test]
fn vf_arrest_raises_one_red_alarm_over_a_pty() {
    // 57 s into vf-arrest: VF (and its alarm) begins 3 s into the run.
    let m = Monitor::new(
        MonitorConfig {
            wave_every_ms: 250,
            ..MonitorConfig::default()
        },
        Box::new(ScenarioSource::starting_at(Scenario::VfArrest, 42, 57_000)),
    );
    let faults = Faults {
        dup: 0.2,
        ..Faults::default()
    };
    let (events, exit, h) = run_pty_with(m, faults, host(Some(MODEL_FAMILY), None), 6);
    assert!(matches!(exit, Exit::Stopped), "{exit:?}");
    let got: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Observation(Observation::Event(ev))
                if matches!(ev.kind, EventKind::Alarm { .. }) =>
            {
                Some(ev)
            }
            _ => None,
        })
        .collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].kind,
        EventKind::Alarm {
            code: 0,
            source: 0,
            priority: AlarmPriority::High,
            physiological: None,
            text: "***VFIB/VTACH".into(),
        }
    );
    assert!(got[0].time.device.is_some());
    assert_eq!(h.counters().pdus_rejected, 0);
}
