//! The monitor simulators send what real monitors send (issue 19, monitors
//! item 3): the IntelliVue simulator cycles the respiration rate through
//! breaths-, beats- and plain per-minute units and the impedance and airway
//! codes, and adds a body temperature under the generic and site codes in
//! °C and °F (or sends pressures in kPa); the S/5 simulator moves the
//! respiration rate between capnography, ECG impedance and spirometry and
//! the temperature between T1..T4. Every variant must reach the record.
//! In process, monitor ↔ host driver ↔ importer, no link in between.

use rettpad_devices::datex;
use rettpad_devices::driver::{Action, Driver};
use rettpad_devices::import::{ImportConfig, Importer};
use rettpad_devices::intellivue::host::{Host, HostConfig};
use rettpad_devices::intellivue::monitor::{Monitor, MonitorConfig, Nomenclature};
use rettpad_devices::obs::{HostTime, Metric, Observation, Unit};
use rettpad_devices::sim::{Scenario, ScenarioPhysiology};
use rettpad_record::keys;
use rettpad_record::{Collection, Num, PatientId, Payload, Value};
use std::collections::BTreeMap;

fn t(ms: u64) -> HostTime {
    HostTime {
        wall_ms: 1_800_000_000_000 + ms as i64,
        mono_ms: ms,
    }
}

/// The monitor side: bytes from the host in, frames out.
type OnBytes<'a> = &'a mut dyn FnMut(&[u8], HostTime, &mut Vec<Vec<u8>>);

fn drive(
    h: &mut dyn Driver,
    on_bytes: OnBytes<'_>,
    tick: &mut dyn FnMut(HostTime, &mut Vec<Vec<u8>>),
    ms: u64,
) -> Vec<Observation> {
    let mut out = Vec::new();
    let mut obs = Vec::new();
    h.start(t(0), &mut out);
    for now in (0..ms).step_by(10) {
        h.on_tick(t(now), &mut out);
        let mut frames = Vec::new();
        for a in std::mem::take(&mut out) {
            match a {
                Action::Send(b) => on_bytes(&b, t(now), &mut frames),
                Action::Emit(o) => obs.push(o),
                _ => {}
            }
        }
        tick(t(now), &mut frames);
        for f in frames {
            h.on_bytes(&f, t(now), &mut out);
        }
    }
    obs
}

/// Vitals entries (field → thousandths) with an interval of one poll, and
/// the importer.
fn import(obs: &[Observation]) -> (Vec<BTreeMap<String, i64>>, Importer) {
    let mut imp = Importer::new(
        ImportConfig {
            interval_ms: 1,
            ..ImportConfig::default()
        },
        PatientId::new(),
    );
    let mut payloads = Vec::new();
    for o in obs {
        imp.push(o);
        if let Observation::Numeric(n) = o {
            payloads.extend(imp.drain(n.time.host));
        }
    }
    payloads.extend(imp.drain(HostTime {
        wall_ms: 0,
        mono_ms: u64::MAX,
    }));
    let entries = payloads
        .into_iter()
        .filter_map(|p| match p {
            Payload::EntryAdded {
                collection: Collection::Vitals,
                fields,
                ..
            } => Some(
                fields
                    .into_iter()
                    .filter_map(|(k, v)| match v {
                        Value::Measured(m) => m.value.map(|Num(n)| (k, n)),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    (entries, imp)
}

fn numerics(obs: &[Observation], m: Metric) -> Vec<(i64, Unit)> {
    obs.iter()
        .filter_map(|o| match o {
            Observation::Numeric(n) if n.metric == m => n
                .reading
                .value()
                .and_then(|d| d.to_thousandths())
                .map(|v| (v, n.unit)),
            _ => None,
        })
        .collect()
}

fn intellivue(nomenclature: Nomenclature, ms: u64) -> Vec<Observation> {
    let m = std::cell::RefCell::new(Monitor::new(
        MonitorConfig {
            nomenclature,
            ..MonitorConfig::default()
        },
        Box::new(ScenarioPhysiology::new(Scenario::Stable, 7)),
    ));
    let mut h = Host::new(HostConfig::default());
    drive(
        &mut h,
        &mut |b, now, f| m.borrow_mut().on_bytes(b, now, f),
        &mut |now, f| m.borrow_mut().on_tick(now, f),
        ms,
    )
}

#[test]
fn intellivue_simulator_variants_all_reach_the_record() {
    let obs = intellivue(Nomenclature::default(), 14_000);
    // Respiration rate: 14 /min in every poll, whatever unit or code.
    let rr = numerics(&obs, Metric::RespRate);
    assert!(rr.len() >= 12, "{rr:?}");
    assert!(
        rr.iter().all(|&(v, u)| v == 14_000 && u == Unit::PerMin),
        "{rr:?}"
    );
    // Temperature under six codes, in °C and °F.
    let temp = numerics(&obs, Metric::Temperature);
    assert!(temp.len() >= 12, "{temp:?}");
    assert!(temp.contains(&(36_800, Unit::Celsius)), "{temp:?}");
    assert!(temp.contains(&(98_240, Unit::Fahrenheit)), "{temp:?}");
    let (entries, imp) = import(&obs);
    assert_eq!(imp.stats.unit_mismatch, 0, "{:?}", imp.stats);
    let with_hr: Vec<_> = entries
        .iter()
        .filter(|e| e.contains_key(keys::vitals::HR))
        .collect();
    assert!(with_hr.len() >= 5, "{entries:?}");
    for e in with_hr {
        assert_eq!(e.get(keys::vitals::RR), Some(&14_000), "{e:?}");
        assert_eq!(e.get(keys::vitals::TEMP), Some(&36_800), "{e:?}");
    }
}

#[test]
fn intellivue_simulator_in_kpa_reaches_the_record_in_mmhg() {
    let obs = intellivue(Nomenclature::Kpa, 6_000);
    let sys = numerics(&obs, Metric::NibpSys);
    assert!(sys.iter().all(|&(_, u)| u == Unit::KPa), "{sys:?}");
    let (entries, imp) = import(&obs);
    assert_eq!(imp.stats.unit_mismatch, 0, "{:?}", imp.stats);
    let nibp = entries
        .iter()
        .find(|e| e.contains_key(keys::vitals::BP_SYS))
        .expect("an NIBP entry");
    // 128/82 mmHg sent as 17.1/10.9 kPa (one decimal, as the monitor shows).
    let mmhg = |kpa: f64| (kpa * 760.0 / 101.325 * 1000.0).round() as i64;
    assert!(
        (nibp[keys::vitals::BP_SYS] - mmhg(17.1)).abs() <= 1,
        "{nibp:?}"
    );
    assert!(
        (nibp[keys::vitals::BP_DIA] - mmhg(10.9)).abs() <= 1,
        "{nibp:?}"
    );
    let co2 = entries
        .iter()
        .find_map(|e| e.get(keys::vitals::ETCO2))
        .expect("etCO2 in the record");
    assert!((30_000..=46_000).contains(co2), "{co2}");
}

#[test]
fn datex_simulator_slots_all_reach_the_record() {
    let m = std::cell::RefCell::new(datex::monitor::Monitor::new(
        datex::monitor::MonitorConfig::default(),
        Box::new(datex::monitor::ScenarioSource::new(Scenario::Stable, 7)),
    ));
    let mut h = datex::host::Host::new(datex::host::HostConfig::default());
    let obs = drive(
        &mut h,
        &mut |b, now, f| m.borrow_mut().on_bytes(b, now, f),
        &mut |now, f| m.borrow_mut().on_tick(now, f),
        40_000,
    );
    let rr = numerics(&obs, Metric::RespRate);
    assert!(rr.len() >= 6, "{rr:?}");
    assert!(rr.iter().all(|&(v, _)| v == 14_000), "{rr:?}");
    let temp = numerics(&obs, Metric::Temperature);
    assert_eq!(temp.len(), rr.len(), "{temp:?}");
    assert!(temp.iter().all(|&(v, _)| v == 36_800), "{temp:?}");
    let (entries, _) = import(&obs);
    let with_hr: Vec<_> = entries
        .iter()
        .filter(|e| e.contains_key(keys::vitals::HR))
        .collect();
    assert!(with_hr.len() >= 3, "{entries:?}");
    for e in with_hr {
        assert_eq!(e.get(keys::vitals::RR), Some(&14_000), "{e:?}");
        assert_eq!(e.get(keys::vitals::TEMP), Some(&36_800), "{e:?}");
    }
}
