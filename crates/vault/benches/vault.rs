//! Core figures (issue 2): event append→durable p50/p99, recovery of a
//! mission with 2 h of vitals (one set per minute) plus 500 other events,
//! and wipe time. Run: `cargo bench --bench vault`.

use criterion::{BatchSize, Criterion};
use rettpad_clock::{SharedClock, SystemClock};
use rettpad_record::keys;
use rettpad_record::{
    Author, Collection, EntryId, Measured, MissionId, Num, PatientId, Payload, Target, Value,
};
use rettpad_vault::store::{Store, StoreOptions};
use rettpad_vault::{FileKeyProvider, KeyProvider};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const T0: i64 = 1_795_305_600_000;

fn open(dir: &Path, key: &Path) -> Store {
    let keys: Arc<dyn KeyProvider> = Arc::new(FileKeyProvider::new(key));
    let clock: SharedClock = SystemClock::shared();
    let mut s = Store::open(dir, keys, clock, StoreOptions::default()).expect("open vault");
    s.set_author(Some(Author {
        device: "BENCH-PAD".into(),
        crew_member: Uuid::from_u128(1),
    }));
    s
}

fn vitals(minute: i64) -> BTreeMap<String, Value> {
    let m = |v: i64| Value::Measured(Measured::device(Num::int(v), "DEFI-1"));
    let mut f = BTreeMap::new();
    f.insert(
        keys::vitals::AT.to_string(),
        Value::manual_time(T0 + minute * 60_000),
    );
    f.insert(keys::vitals::HR.to_string(), m(70 + minute % 30));
    f.insert(keys::vitals::BP_SYS.to_string(), m(120 + minute % 20));
    f.insert(keys::vitals::BP_DIA.to_string(), m(80));
    f.insert(keys::vitals::SPO2.to_string(), m(96));
    f.insert(keys::vitals::RR.to_string(), m(16));
    f.insert(keys::vitals::ETCO2.to_string(), m(38));
    f
}

/// A mission with 120 vital sets and 500 other events.
fn fill_mission(s: &mut Store) -> MissionId {
    let m = s.open_mission("RTW 1", vec![]).expect("mission");
    let p = PatientId::new();
    s.apply(m, Payload::PatientAdded { patient: p })
        .expect("patient");
    for minute in 0..120 {
        let e = Payload::EntryAdded {
            patient: p,
            collection: Collection::Vitals,
            entry: EntryId::new(),
            fields: vitals(minute),
        };
        s.apply(m, e).expect("vitals");
    }
    for i in 0..500 {
        let v = Value::Text(format!(
            "Bemerkung {i}: Patient stabil, Transport vorbereitet"
        ));
        s.apply(
            m,
            Payload::Set {
                target: Target::Mission,
                field: keys::remarks::TEXT.into(),
                value: v,
            },
        )
        .expect("edit");
    }
    m
}

fn percentiles() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut s = open(&tmp.path().join("d"), &tmp.path().join("k"));
    let m = s.open_mission("RTW 1", vec![]).expect("mission");
    let p = PatientId::new();
    s.apply(m, Payload::PatientAdded { patient: p })
        .expect("patient");
    let mut lat = Vec::new();
    for i in 0..2_000i64 {
        let payload = if i % 4 == 0 {
            Payload::EntryAdded {
                patient: p,
                collection: Collection::Vitals,
                entry: EntryId::new(),
                fields: vitals(i),
            }
        } else {
            Payload::Set {
                target: Target::Mission,
                field: keys::remarks::TEXT.into(),
                value: Value::Text(format!("{i}")),
            }
        };
        let t = Instant::now();
        s.apply(m, payload).expect("append");
        lat.push(t.elapsed());
    }
    lat.sort();
    let q = |f: f64| lat[((lat.len() as f64 * f) as usize).min(lat.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "append->durable over {} events (incl. snapshots every 256): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        lat.len(),
        ms(q(0.50)),
        ms(q(0.99)),
        ms(lat[lat.len() - 1])
    );
}

fn main() {
    percentiles();
    let mut c = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();

    let tmp = tempfile::tempdir().expect("tmp");
    let (dir, key) = (tmp.path().join("d"), tmp.path().join("k"));
    {
        let mut s = open(&dir, &key);
        fill_mission(&mut s);
    }
    c.bench_function("recovery: open vault + 2 h vitals + 500 events", |b| {
        b.iter(|| {
            let s = open(&dir, &key);
            assert_eq!(s.mission_ids().count(), 1);
            s
        })
    });

    // Wipe a pad holding three such missions.
    let template = tempfile::tempdir().expect("tmp");
    {
        let mut s = open(&template.path().join("d"), &template.path().join("k"));
        for _ in 0..3 {
            fill_mission(&mut s);
        }
    }
    c.bench_function(
        "wipe: 3 missions (crypto-shred + delete + fresh vault)",
        |b| {
            b.iter_batched(
                || {
                    let t = tempfile::tempdir().expect("tmp");
                    copy_dir(&template.path().join("d"), &t.path().join("d"));
                    std::fs::copy(template.path().join("k"), t.path().join("k")).expect("key");
                    let s = open(&t.path().join("d"), &t.path().join("k"));
                    (t, s)
                },
                |(t, mut s)| {
                    let r = s.wipe().expect("wipe");
                    assert_eq!(r.missions_destroyed, 3);
                    (t, s)
                },
                BatchSize::PerIteration,
            )
        },
    );
    c.final_summary();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("readdir").flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}
