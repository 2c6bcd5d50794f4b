//! GE Datex-Ohmeda S/5 (AS/3) computer interface (19200 8E1, RTS/CTS):
//! [`frame`] (7E framing, 7D escaping, mod-256 checksum, length cap),
//! [`record`] (40-byte header, subrecords, PHDB basic class, waves),
//! [`host`] (the pad's sans-IO driver: DRI-level negotiation, requests,
//! watchdog, identity) and [`monitor`] (the simulated S/5 built from the
//! same encoders).
//!
//! Line rate: 19200 baud × 8E1 = 11 bits per byte ≈ 1745 B/s.

pub mod frame;
pub mod host;
#[cfg(any(test, feature = "sim"))]
pub mod monitor;
pub mod record;

/// Line rate of the S/5 serial port in bytes per second.
pub const LINE_RATE_BPS: f64 = 19_200.0 / 11.0;

/// Fuzz entry (`fuzz/fuzz_targets/datex.rs` and a bounded proptest):
/// arbitrary bytes through the deframer and record parser, into a fresh
/// host driver (negotiation, identity, PHDB and wave decoding) and into
/// the simulated monitor's request parser. Must never panic.
#[cfg(any(test, feature = "sim"))]
pub fn fuzz_one(data: &[u8]) {
    use crate::driver::Driver;
    use crate::obs::HostTime;
    let mut d = frame::Deframer::new();
    d.push(data, |r| {
        if let Ok(rec) = record::Record::parse(r) {
            for (ty, sr) in rec.subrecords() {
                let _ = record::Phdb::parse(sr).map(|p| p.etco2_mmhg());
                let _ = record::WaveSub::parse(sr);
                let _ = record::PhdbRequest::parse(sr);
                let _ = record::WaveRequest::parse(sr);
                let _ = record::wave_def(ty);
            }
        }
    });
    // The raw bytes as one record too (no framing).
    let _ = record::Record::parse(data).map(|r| r.subrecords().count());
    let now = HostTime {
        wall_ms: 1_800_000_000_000,
        mono_ms: 0,
    };
    let mut h = host::Host::new(host::HostConfig::default());
    let mut out = Vec::new();
    h.start(now, &mut out);
    h.on_bytes(data, now, &mut out);
    h.on_tick(now, &mut out);
    let mut m = monitor::Monitor::new(
        monitor::MonitorConfig::default(),
        Box::new(monitor::ScenarioSource::new(
            crate::sim::Scenario::Stable,
            1,
        )),
    );
    let mut frames = Vec::new();
    m.on_bytes(data, now, &mut frames);
}
