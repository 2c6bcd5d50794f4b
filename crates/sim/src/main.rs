//! Simulators for tests and the demo: `card` (eGK/KVK to vpcd), `device`
//! (monitor/defibrillator protocols) and `crash-worker`, the child process of
//! the crash test, and `dispatch` (a dispatch centre against the gateway's
//! dispatch API). The peer pad simulator comes with its issue.

use rettpad_clock::SystemClock;
use rettpad_record::keys;
use rettpad_record::{
    Author, Collection, EntryId, Measured, MissionId, Num, PatientId, Payload, Status, Target,
    Value,
};
use rettpad_vault::FileKeyProvider;
use rettpad_vault::store::{Store, StoreOptions};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use uuid::Uuid;

const USAGE: &str = "usage: rettpad-sim card [OPTIONS]      plays an eGK/KVK to vpcd (see --help)
       rettpad-sim device [OPTIONS]    plays a monitor/defibrillator (see --help)
       rettpad-sim dispatch --api HOST:PORT --token-file F [--unit CALL_SIGN]… [--faults] [--cancel]
       rettpad-sim crash-worker --data-dir DIR --key-file FILE [--seed N] [--snapshot-every N]";

/// xorshift64*: deterministic per seed, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("crash-worker") => crash_worker(&args[1..]),
        Some("card") => rettpad_sim::vpcd::main(&args[1..]),
        Some("device") => rettpad_devices::sim::main(&args[1..]),
        Some("dispatch") => rettpad_sim::dispatch::main(&args[1..]),
        Some("peer") => {
            eprintln!(
                "rettpad-sim {}: not implemented yet (its issue adds it)",
                args[0]
            );
            ExitCode::from(2)
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Applies random edits forever and prints `ACK <mission id> <event id>` after each
/// durable one and `DEL <mission id>` after each completed deletion. The
/// crash test kills it with SIGKILL at random moments.
fn crash_worker(args: &[String]) -> ExitCode {
    let (mut dir, mut key, mut seed, mut snap) = (None, None, 1u64, 16u64);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().cloned().unwrap_or_default();
        match a.as_str() {
            "--data-dir" => dir = Some(PathBuf::from(v)),
            "--key-file" => key = Some(PathBuf::from(v)),
            "--seed" => seed = v.parse().unwrap_or(1),
            "--snapshot-every" => snap = v.parse().unwrap_or(16),
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(dir), Some(key)) = (dir, key) else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let opts = StoreOptions {
        snapshot_every: snap,
        ..Default::default()
    };
    let mut store = match Store::open(
        &dir,
        Arc::new(FileKeyProvider::new(key)),
        SystemClock::shared(),
        opts,
    ) {
        Ok(s) => s,
        Err(e) => {
            println!("ERR {e}");
            return ExitCode::from(3);
        }
    };
    let mut out = std::io::stdout().lock();
    let mut rng = Rng(seed | 1);
    store.set_author(Some(Author {
        device: "CRASH-PAD".into(),
        crew_member: Uuid::from_u128(42),
    }));
    let _ = writeln!(out, "READY {}", store.mission_ids().count());
    let _ = out.flush();
    loop {
        let open: Vec<MissionId> = store
            .mission_ids()
            .filter(|m| store.state(*m).is_some_and(|s| s.status != Status::Closed))
            .collect();
        let result = if open.is_empty() || rng.below(100) < 2 {
            store.open_mission("CRASH 1", vec![]).map(|m| {
                let ids: Vec<_> = store
                    .log(m)
                    .map(|l| l.events().iter().map(|e| e.id).collect())
                    .unwrap_or_default();
                for id in ids {
                    let _ = writeln!(out, "ACK {m} {id}");
                }
            })
        } else {
            let m = open[rng.below(open.len() as u64) as usize];
            let patients: Vec<PatientId> = store
                .state(m)
                .map(|s| s.active_patients().map(|p| p.id).collect())
                .unwrap_or_default();
            let roll = rng.below(100);
            if roll < 2 {
                // Close and delete: what a verified upload receipt does. A
                // deletion may complete even if we die before saying DEL.
                let _ = writeln!(out, "DELETING {m}");
                let _ = out.flush();
                let r = store
                    .apply(m, Payload::Closed)
                    .and_then(|_| store.delete_mission(m));
                r.map(|()| {
                    let _ = writeln!(out, "DEL {m}");
                })
            } else {
                let payload = if patients.is_empty() || roll < 6 {
                    Payload::PatientAdded {
                        patient: PatientId::new(),
                    }
                } else if roll < 40 {
                    let p = patients[rng.below(patients.len() as u64) as usize];
                    let mut fields = BTreeMap::new();
                    fields.insert(
                        keys::vitals::AT.to_string(),
                        Value::manual_time(1_795_305_600_000),
                    );
                    let hr = 40 + rng.below(120) as i64;
                    fields.insert(
                        keys::vitals::HR.to_string(),
                        Value::Measured(Measured::device(Num::int(hr), "SIM")),
                    );
                    Payload::EntryAdded {
                        patient: p,
                        collection: Collection::Vitals,
                        entry: EntryId::new(),
                        fields,
                    }
                } else {
                    let text = format!("edit {}", rng.next());
                    Payload::Set {
                        target: Target::Mission,
                        field: keys::remarks::TEXT.into(),
                        value: Value::Text(text),
                    }
                };
                store.apply(m, payload).map(|s| {
                    let _ = writeln!(out, "ACK {m} {}", s.event);
                })
            }
        };
        let _ = out.flush();
        if let Err(e) = result {
            let _ = writeln!(out, "ERR {e}");
            let _ = out.flush();
            return ExitCode::from(4);
        }
    }
}
