//! Parse throughput per protocol (bytes of wire data per second).
//! IntelliVue line rate: 115200 8N1 = 11 520 B/s.
//! Datex S/5 line rate: 19200 8E1 = 11 bits per byte ≈ 1745 B/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rettpad_devices::ble;
use rettpad_devices::driver::Driver;
use rettpad_devices::intellivue::frame::Deframer;
use rettpad_devices::intellivue::host::{Host, HostConfig};
use rettpad_devices::intellivue::monitor::{Monitor, MonitorConfig};
use rettpad_devices::intellivue::pdu;
use rettpad_devices::obs::HostTime;
use rettpad_devices::sim::{Scenario, ScenarioPhysiology};
use std::hint::black_box;

/// A recorded monitor byte stream: handshake, then 60 s of numerics (1/s)
/// and 500 Hz ECG in 256 ms arrays; plus the host's requests to get there.
fn monitor_stream() -> (Vec<Vec<u8>>, Vec<u8>) {
    let mut m = Monitor::new(
        MonitorConfig::default(),
        Box::new(ScenarioPhysiology::new(Scenario::Stable, 1)),
    );
    let mut h = Host::new(HostConfig::default());
    let mut to_host = Vec::new();
    let mut host_out = Vec::new();
    let mut frames = Vec::new();
    let mut requests = Vec::new();
    let t = |ms: u64| HostTime {
        wall_ms: 1_800_000_000_000 + ms as i64,
        mono_ms: ms,
    };
    h.start(t(0), &mut host_out);
    for ms in (0..60_000).step_by(16) {
        for a in host_out.drain(..) {
            if let rettpad_devices::driver::Action::Send(b) = a {
                requests.push(b.clone());
                m.on_bytes(&b, t(ms), &mut frames);
            }
        }
        m.on_tick(t(ms), &mut frames);
        for f in frames.drain(..) {
            h.on_bytes(&f, t(ms), &mut host_out);
            to_host.extend_from_slice(&f);
        }
        h.on_tick(t(ms), &mut host_out);
    }
    (requests, to_host)
}

fn bench(c: &mut Criterion) {
    let (requests, stream) = monitor_stream();
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("intellivue_deframe", |b| {
        b.iter(|| {
            let mut d = Deframer::new();
            let mut n = 0usize;
            d.push(black_box(&stream), |p| n += p.len());
            n
        })
    });
    g.bench_function("intellivue_deframe_decode", |b| {
        b.iter(|| {
            let mut d = Deframer::new();
            let mut n = 0usize;
            d.push(black_box(&stream), |p| {
                if pdu::decode(p).is_ok() {
                    n += 1
                }
            });
            n
        })
    });
    g.bench_function("intellivue_host_driver", |b| {
        b.iter(|| {
            let mut h = Host::new(HostConfig::default());
            let mut out = Vec::new();
            let now = HostTime {
                wall_ms: 1_800_000_000_000,
                mono_ms: 0,
            };
            h.start(now, &mut out);
            // replay the dialog: the driver sees exactly the recorded bytes
            let _ = &requests;
            h.on_bytes(black_box(&stream), now, &mut out);
            out.len()
        })
    });
    g.finish();

    let notif: Vec<(u16, Vec<u8>)> = vec![
        (
            ble::UUID_HEART_RATE_MEASUREMENT,
            vec![0x16, 0x48, 0x34, 0x03, 0x48, 0x03],
        ),
        (
            ble::UUID_BLOOD_PRESSURE_MEASUREMENT,
            vec![
                0x1F, 0xA0, 0xF0, 0x6B, 0xF0, 0x7C, 0xF0, 0xE8, 0x07, 0x03, 0x0F, 0x0A, 0x1E, 0x00,
                0x48, 0x00, 0x01, 0x04, 0x00,
            ],
        ),
        (
            ble::UUID_PLX_CONTINUOUS,
            vec![0x10, 0x5F, 0x00, 0x6E, 0x00, 0x19, 0xF0],
        ),
        (
            ble::UUID_TEMPERATURE_MEASUREMENT,
            vec![
                0x06, 0x6C, 0x01, 0x00, 0xFF, 0xE8, 0x07, 0x03, 0x0F, 0x0A, 0x1E, 0x00, 0x09,
            ],
        ),
        (
            ble::UUID_GLUCOSE_MEASUREMENT,
            vec![
                0x07, 0x02, 0x00, 0xE8, 0x07, 0x03, 0x0F, 0x0A, 0x1E, 0x00, 0xFB, 0xFF, 0x43, 0xC0,
                0x11,
            ],
        ),
    ];
    let bytes: usize = notif.iter().map(|(_, b)| b.len()).sum();
    let mut g = c.benchmark_group("parse_ble");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("ble_decode_5_profiles", |b| {
        let host = HostTime {
            wall_ms: 0,
            mono_ms: 0,
        };
        b.iter(|| {
            let mut n = 0;
            for (u, v) in &notif {
                n += ble::decode(*u, black_box(v), host).map_or(0, |o| o.len());
            }
            n
        })
    });
    g.finish();
}

/// A recorded S/5 byte stream: 60 s of numerics (1 s interval) and ECG1
/// (300 Hz), pleth (100 Hz) and CO2 (25 Hz) in 250 ms wave records.
fn datex_stream() -> Vec<u8> {
    use rettpad_devices::datex::host::{Host as DxHost, HostConfig as DxConfig};
    use rettpad_devices::datex::monitor::{Monitor as DxMonitor, MonitorConfig, ScenarioSource};
    let mut m = DxMonitor::new(
        MonitorConfig::default(),
        Box::new(ScenarioSource::new(Scenario::Stable, 1)),
    );
    let mut h = DxHost::new(DxConfig {
        tx_interval_s: 1,
        ..DxConfig::default()
    });
    let t = |ms: u64| HostTime {
        wall_ms: 1_800_000_000_000 + ms as i64,
        mono_ms: ms,
    };
    let mut out = Vec::new();
    let mut frames = Vec::new();
    let mut wire = Vec::new();
    h.start(t(0), &mut out);
    for ms in (0..60_000).step_by(10) {
        for a in out.drain(..) {
            if let rettpad_devices::driver::Action::Send(b) = a {
                m.on_bytes(&b, t(ms), &mut frames);
            }
        }
        m.on_tick(t(ms), &mut frames);
        for f in frames.drain(..) {
            h.on_bytes(&f, t(ms), &mut out);
            wire.extend_from_slice(&f);
        }
        h.on_tick(t(ms), &mut out);
    }
    wire
}

fn bench_datex(c: &mut Criterion) {
    use rettpad_devices::datex::frame::Deframer as DxDeframer;
    use rettpad_devices::datex::host::{Host as DxHost, HostConfig as DxConfig};
    use rettpad_devices::datex::record::{Phdb, Record, WaveSub};
    let stream = datex_stream();
    let mut g = c.benchmark_group("parse_datex");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.bench_function("datex_deframe", |b| {
        b.iter(|| {
            let mut d = DxDeframer::new();
            let mut n = 0usize;
            d.push(black_box(&stream), |r| n += r.len());
            n
        })
    });
    g.bench_function("datex_deframe_parse", |b| {
        b.iter(|| {
            let mut d = DxDeframer::new();
            let mut n = 0usize;
            d.push(black_box(&stream), |r| {
                if let Ok(rec) = Record::parse(r) {
                    for (_, sr) in rec.subrecords() {
                        n += Phdb::parse(sr).map_or(0, |_| 1);
                        n += WaveSub::parse(sr).map_or(0, |w| w.samples.len());
                    }
                }
            });
            n
        })
    });
    g.bench_function("datex_host_driver", |b| {
        b.iter(|| {
            let mut h = DxHost::new(DxConfig::default());
            let mut out = Vec::new();
            let now = HostTime {
                wall_ms: 1_800_000_000_000,
                mono_ms: 0,
            };
            h.start(now, &mut out);
            h.on_bytes(black_box(&stream), now, &mut out);
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_datex);
criterion_main!(benches);
