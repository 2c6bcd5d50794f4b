//! End-to-end: the IntelliVue host driver against the simulated monitor
//! over a raw PTY pair (and TCP on loopback for reconnects), with the
//! observations carried on into record payloads.

use rettpad_clock::SystemClock;
use rettpad_devices::driver::{ClockOffset, DriverStatus, Expected};
use rettpad_devices::import::{ImportConfig, Importer};
use rettpad_devices::intellivue::host::WaveSelection;
use rettpad_devices::intellivue::host::{Host, HostConfig};
use rettpad_devices::intellivue::monitor::{Monitor, MonitorConfig};
use rettpad_devices::intellivue::waves;
use rettpad_devices::link::{self as link, Event, Exit, SerialLink, SerialSettings, TcpLink};
use rettpad_devices::obs::{
    AlarmPriority, EventKind, HostTime, Metric, Observation, Reading, Unit, WaveChunk,
};
use rettpad_devices::sim::{Faults, Rng, Scenario, ScenarioPhysiology, serve};
use rettpad_record::keys;
use rettpad_record::{Collection, Num, PatientId, Payload, Value};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

const SERIAL: &str = "DE00000001";

fn monitor(scenario: Scenario, skew_ms: i64) -> Monitor {
    Monitor::new(
        MonitorConfig {
            civil_offset_ms: skew_ms,
            numerics_every_ms: 250,
            ..MonitorConfig::default()
        },
        Box::new(ScenarioPhysiology::new(scenario, 42)),
    )
}

fn host(serial: &str) -> Host {
    Host::new(HostConfig {
        expected: Expected {
            serial: Some(serial.into()),
            model: None,
        },
        ..HostConfig::default()
    })
}

/// Runs the simulator on the master side of a PTY pair, the host on the
/// slave (opened by path, as `/dev/rfcommN` would be) for `secs`.
fn run_pty(
    faults: Faults,
    expect_serial: &str,
    skew_ms: i64,
    secs: u64,
) -> (Vec<Event>, Exit, Host) {
    run_pty_with(
        monitor(Scenario::Stable, skew_ms),
        faults,
        expect_serial,
        secs,
    )
}

fn run_pty_with(
    m: Monitor,
    faults: Faults,
    expect_serial: &str,
    secs: u64,
) -> (Vec<Event>, Exit, Host) {
    run_pty_host(m, host(expect_serial), faults, secs)
}

fn run_pty_host(
    mut m: Monitor,
    mut h: Host,
    faults: Faults,
    secs: u64,
) -> (Vec<Event>, Exit, Host) {
    let (master, slave) = serialport::TTYPort::pair().expect("pty pair");
    let path = serialport::SerialPort::name(&slave).expect("pty name");
    let sim = thread::spawn(move || {
        let mut l = SerialLink::from_port(master);
        let mut rng = Rng::new(7);
        let _ = serve(&mut l, &mut m, &faults, &mut rng, &SystemClock::new());
    });
    let mut l = SerialLink::open(&path, SerialSettings::INTELLIVUE).expect("open pty by path");
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

fn wave_chunks(events: &[Event]) -> Vec<&WaveChunk> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Observation(Observation::Wave(w)) => Some(w),
            _ => None,
        })
        .collect()
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
            device_label: format!("IntelliVue {SERIAL}"),
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
    let end = HostTime {
        wall_ms: 0,
        mono_ms: u64::MAX,
    };
    out.extend(imp.drain(end));
    (out, imp)
}

#[test]
fn intellivue_over_a_pty_reaches_the_record() {
    let faults = Faults {
        dup: 0.3,
        ..Faults::default()
    };
    let (events, exit, h) = run_pty(faults, SERIAL, 0, 4);
    assert!(matches!(exit, Exit::Stopped), "{exit:?}");
    assert!(events.iter().any(|e| matches!(e,
        Event::Status(DriverStatus::Identified(i)) if i.serial.as_deref() == Some(SERIAL) && i.model.as_deref() == Some("M8004A"))));
    let hr = numerics(&events, Metric::HeartRate);
    assert!(hr.len() >= 8, "{} HR values", hr.len());
    for r in &hr {
        let v = r.value().and_then(|d| d.to_thousandths()).unwrap();
        assert!((76_000..=80_000).contains(&v), "HR {v}");
    }
    // ECG II: 500 Hz from TIME_PD_SAMP, 12 significant bits, scaled
    let waves: Vec<_> = wave_chunks(&events)
        .into_iter()
        .filter(|w| w.channel.mdc() == 0x0002_0102)
        .collect();
    assert!(!waves.is_empty());
    let total: usize = waves.iter().map(|w| w.samples.len()).sum();
    assert!(total >= 500, "{total} ECG samples in ~3 s");
    for w in &waves {
        assert_eq!(w.sample_period_us, 2000);
        assert!(w.samples.iter().all(|&s| (0..4096).contains(&s)));
        let mv = w.scale.unwrap().apply(2048).unwrap();
        assert!(mv.abs() < 1e-9);
    }
    assert_eq!(h.waves_without_period(), 0);
    // Into the record: one periodic set + one NIBP entry; replays dropped.
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
        "duplicated frames must be recognised"
    );
}

#[test]
fn corrupt_frames_are_dropped_and_counted() {
    let faults = Faults {
        bitflip: 2e-3,
        ..Faults::default()
    };
    let (events, _exit, h) = run_pty(faults, SERIAL, 0, 6);
    let c = rettpad_devices::driver::Driver::counters(&h);
    assert!(c.frames_rejected > 0, "{c:?}");
    assert!(c.frames_ok > 0, "{c:?}");
    // whatever got through is exactly what the monitor sent
    for r in numerics(&events, Metric::HeartRate) {
        let v = r.value().and_then(|d| d.to_thousandths()).unwrap();
        assert!((76_000..=80_000).contains(&v), "HR {v}");
    }
    for r in numerics(&events, Metric::RespRate) {
        assert_eq!(r.value().and_then(|d| d.to_thousandths()), Some(14_000));
    }
}

#[test]
fn a_wrong_device_delivers_nothing() {
    let (events, exit, _) = run_pty(Faults::default(), "DE99999999", 0, 4);
    assert!(matches!(exit, Exit::WrongDevice), "{exit:?}");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Status(DriverStatus::WrongDevice { .. })))
    );
    assert!(numerics(&events, Metric::HeartRate).is_empty());
}

#[test]
fn clock_skew_is_measured_not_corrected() {
    let (events, _, _) = run_pty(Faults::default(), SERIAL, 300_000, 3);
    let mut off = ClockOffset::default();
    for e in &events {
        if let Event::Observation(Observation::Numeric(n)) = e
            && n.metric == Metric::HeartRate
        {
            off.push(n.time.device.unwrap().civil_ms, n.time.host.wall_ms);
        }
    }
    let o = off.offset_ms().unwrap();
    assert!((298_000..=302_000).contains(&o), "offset {o}");
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
        let mut m = monitor(Scenario::Stable, 0);
        let mut rng = Rng::new(1);
        for _ in 0..2 {
            let (s, _) = listener.accept().unwrap();
            let mut l = TcpLink::from_stream(s);
            let _ = serve(&mut l, &mut m, &faults, &mut rng, &SystemClock::new());
            m.reset();
        }
    });
    let mut h = host(SERIAL);
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
    assert!(gaps[0] > 0 && gaps[0] < 5000, "{gaps:?}");
    // data on both sides of the gap
    let pos = events
        .iter()
        .position(|e| matches!(e, Event::Observation(Observation::Event(_))))
        .unwrap();
    assert!(!numerics(&events[..pos], Metric::HeartRate).is_empty());
    assert!(!numerics(&events[pos..], Metric::HeartRate).is_empty());
}

fn alarms(events: &[Event]) -> Vec<(EventKind, Option<i64>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Observation(Observation::Event(ev))
                if matches!(ev.kind, EventKind::Alarm { .. }) =>
            {
                Some((ev.kind.clone(), ev.time.device.map(|d| d.civil_ms)))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn vf_arrest_raises_one_high_priority_alarm_over_a_pty() {
    // Start 57 s into vf-arrest: VF begins 3 s into the run; alarms are
    // polled once per second, so the list repeats, the event must not.
    let m = Monitor::new(
        MonitorConfig {
            numerics_every_ms: 250,
            alarms_every_ms: 250,
            ..MonitorConfig::default()
        },
        Box::new(ScenarioPhysiology::starting_at(
            Scenario::VfArrest,
            42,
            57_000,
        )),
    );
    let faults = Faults {
        dup: 0.2,
        ..Faults::default()
    };
    let (events, exit, _) = run_pty_with(m, faults, SERIAL, 6);
    assert!(matches!(exit, Exit::Stopped), "{exit:?}");
    let got = alarms(&events);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].0,
        EventKind::Alarm {
            code: 61_444,
            source: 16_770,
            priority: AlarmPriority::High,
            physiological: Some(true),
            text: "***VFIB/VTACH".into(),
        }
    );
    assert!(got[0].1.is_some(), "device time kept");
    // before the alarm the HR was a number, during VF it is NaN
    let hr = numerics(&events, Metric::HeartRate);
    assert!(hr.iter().any(|r| r.value().is_some()));
    assert!(hr.contains(&Reading::NaN));
}

#[test]
fn the_configured_waves_and_only_those_arrive_over_a_pty() {
    let names = ["CO2", "II"].map(String::from);
    let h = Host::new(HostConfig {
        expected: Expected {
            serial: Some(SERIAL.into()),
            model: None,
        },
        wave_priority: waves::selection(&names).unwrap(),
        ..HostConfig::default()
    });
    let faults = Faults {
        dup: 0.2,
        ..Faults::default()
    };
    let (events, exit, h) = run_pty_host(monitor(Scenario::Stable, 0), h, faults, 4);
    assert!(matches!(exit, Exit::Stopped), "{exit:?}");
    let want = waves::selection(&names).unwrap();
    assert_eq!(h.wave_selection(), Some(&WaveSelection::Accepted(want)));
    let chunks = wave_chunks(&events);
    let mut seen: Vec<u32> = chunks.iter().map(|w| w.channel.mdc()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen, [0x0002_0102, 0x0002_50AC], "ECG II and CO2 only");
    // The capnogram in mmHg: plateau at the scenario's etCO2 (38 mmHg).
    let co2: Vec<f64> = chunks
        .iter()
        .filter(|w| w.channel.mdc() == 0x0002_50AC)
        .inspect(|w| assert_eq!((w.unit, w.sample_period_us), (Unit::MmHg, 16_000)))
        .flat_map(|w| {
            let s = w.scale.unwrap();
            w.samples.iter().filter_map(move |r| s.apply(*r))
        })
        .collect();
    let peak = co2.iter().cloned().fold(f64::MIN, f64::max);
    assert!((37.0..=39.0).contains(&peak), "plateau {peak} mmHg");
    assert!(co2.iter().any(|v| *v < 1.0), "inspiration returns to zero");
}
