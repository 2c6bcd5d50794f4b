//! The device supervisor against the real simulator on loopback TCP: it
//! connects, streams, survives the simulator hanging up (reconnect with
//! backoff, a recorded data gap) and refuses a device that is not the
//! paired one without reconnecting.

use rettpad_clock::SystemClock;
use rettpad_devices::driver::Expected;
use rettpad_devices::intellivue::host::{Host, HostConfig};
use rettpad_devices::intellivue::monitor::MonitorConfig;
use rettpad_devices::obs::{EventKind, Observation};
use rettpad_devices::sim::{Faults, Scenario, spawn_loopback};
use rettpad_devices::supervisor::{DeviceState, LinkSpec, SupEvent, Supervisor, SupervisorConfig};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

fn sim(faults: Faults) -> std::net::SocketAddr {
    let cfg = MonitorConfig {
        numerics_every_ms: 250,
        ..MonitorConfig::default()
    };
    spawn_loopback(cfg, Scenario::Stable, 3, faults).expect("simulator")
}

fn start(addr: std::net::SocketAddr, serial: &str) -> (Supervisor, Receiver<SupEvent>) {
    let (tx, rx) = channel();
    let host = Host::new(HostConfig {
        expected: Expected {
            serial: Some(serial.into()),
            model: None,
        },
        ..HostConfig::default()
    });
    let sup = Supervisor::spawn(
        SupervisorConfig {
            link: LinkSpec::Tcp(addr),
            backoff_min_ms: 200,
            backoff_max_ms: 1000,
        },
        Box::new(host),
        SystemClock::shared(),
        tx,
    )
    .expect("spawn");
    (sup, rx)
}

/// Collects events until `done` says so or `limit` passes.
fn collect(
    rx: &Receiver<SupEvent>,
    limit: Duration,
    done: impl Fn(&[SupEvent]) -> bool,
) -> Vec<SupEvent> {
    let end = Instant::now() + limit;
    let mut v = Vec::new();
    while Instant::now() < end && !done(&v) {
        if let Ok(e) = rx.recv_timeout(Duration::from_millis(50)) {
            v.push(e);
        }
    }
    v
}

fn streams(v: &[SupEvent]) -> usize {
    v.iter()
        .filter(|e| matches!(e, SupEvent::State(DeviceState::Streaming { .. })))
        .count()
}

#[test]
fn reconnects_after_a_hang_up_and_records_the_gap() {
    let faults = Faults::parse("disconnect-after=2s").unwrap();
    let addr = sim(faults);
    let (mut sup, rx) = start(addr, "DE00000001");
    let has_gap = |v: &[SupEvent]| {
        v.iter().any(|e| {
            matches!(e, SupEvent::Observation(Observation::Event(d)) if matches!(d.kind, EventKind::DataGap { .. }))
        })
    };
    let v = collect(&rx, Duration::from_secs(20), |v| {
        streams(v) >= 2 && has_gap(v)
    });
    sup.shutdown();
    assert!(
        streams(&v) >= 2,
        "streamed, lost the link and streamed again"
    );
    assert!(
        v.iter()
            .any(|e| matches!(e, SupEvent::State(DeviceState::LinkLost { .. })))
    );
    assert!(has_gap(&v), "the reconnect is recorded as a data gap");
    assert!(
        v.iter()
            .any(|e| matches!(e, SupEvent::Observation(Observation::Numeric(_))))
    );
}

#[test]
fn a_wrong_device_is_refused_and_not_retried() {
    let addr = sim(Faults::default());
    let (mut sup, rx) = start(addr, "SOMEONE-ELSE");
    let v = collect(&rx, Duration::from_secs(15), |v| {
        v.iter()
            .any(|e| matches!(e, SupEvent::State(DeviceState::WrongDevice { .. })))
    });
    assert!(
        v.iter()
            .any(|e| matches!(e, SupEvent::State(DeviceState::WrongDevice { .. })))
    );
    // No data from a device we did not pair with.
    assert!(
        !v.iter()
            .any(|e| matches!(e, SupEvent::Observation(Observation::Numeric(_))))
    );
    // The thread ends by itself: no reconnect attempt follows.
    let later = collect(&rx, Duration::from_millis(1500), |_| false);
    assert!(
        !later
            .iter()
            .any(|e| matches!(e, SupEvent::State(DeviceState::Connecting { .. })))
    );
    sup.shutdown();
}
