//! Crash test: a child process applies random edits through the core's API
//! and reports each acknowledged event; we SIGKILL it at random moments,
//! reopen the vault and check that every acknowledged event is back.
//!
//! 200 rounds by default; `RETTPAD_CRASH_ROUNDS=N` for more,
//! `RETTPAD_CRASH_SEED=S` to replay a run.

use rettpad_clock::SystemClock;
use rettpad_vault::FileKeyProvider;
use rettpad_vault::store::{Store, StoreOptions};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn sigkill_loses_no_acknowledged_event() {
    let rounds = env_u64("RETTPAD_CRASH_ROUNDS").unwrap_or(200);
    let seed = env_u64("RETTPAD_CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    eprintln!("crash test: {rounds} rounds, RETTPAD_CRASH_SEED={seed}");
    let mut rng = Rng(seed | 1);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let key = tmp.path().join("keys").join("device.key");
    let mut acked: Vec<(String, String, u64)> = Vec::new(); // (mission, event, round)
    let mut deleted: HashSet<String> = HashSet::new();
    let mut deleting: HashSet<String> = HashSet::new();
    let mut killed_mid_run = 0;
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rettpad-sim"))
            .args(["crash-worker", "--data-dir"])
            .arg(&dir)
            .arg("--key-file")
            .arg(&key)
            .args(["--seed", &rng.next().to_string(), "--snapshot-every", "16"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn crash worker");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("worker did not start");
        assert!(
            first.starts_with("READY"),
            "round {round}: worker said {first:?} (seed {seed})"
        );
        // Kill somewhere between 0 and 40 ms into the edits.
        let deadline = Instant::now() + Duration::from_micros(rng.next() % 40_000);
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(500));
        }
        let still_running = child.try_wait().unwrap().is_none();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        if still_running {
            killed_mid_run += 1;
        }
        for line in rx.try_iter() {
            if let Some(rest) = line.strip_prefix("ACK ") {
                let (m, id) = rest.split_once(' ').expect("ACK <mission> <event>");
                acked.push((m.to_string(), id.to_string(), round));
            } else if let Some(m) = line.strip_prefix("DELETING ") {
                deleting.insert(m.to_string());
            } else if let Some(m) = line.strip_prefix("DEL ") {
                deleted.insert(m.to_string());
            } else {
                panic!("round {round}: worker reported {line:?} (seed {seed})");
            }
        }

        // Reopen and check: the vault opens clean and holds every ACK.
        let store = Store::open(
            &dir,
            Arc::new(FileKeyProvider::new(&key)),
            SystemClock::shared(),
            StoreOptions::default(),
        )
        .unwrap_or_else(|e| panic!("round {round}: vault does not open: {e} (seed {seed})"));
        for r in store.recovery_report() {
            assert!(
                r.clean(),
                "round {round}: recovery not clean: {r:?} (seed {seed})"
            );
        }
        let mut present: HashSet<String> = HashSet::new();
        let mut missions: HashSet<String> = HashSet::new();
        for m in store.mission_ids() {
            assert!(
                !deleted.contains(&m.to_string()),
                "round {round}: deleted mission {m} came back"
            );
            let log = store.log(m).unwrap();
            assert!(
                log.verify().is_empty(),
                "round {round}: chain broken in {m} (seed {seed})"
            );
            present.extend(log.events().iter().map(|e| e.id.to_string()));
            missions.insert(m.to_string());
        }
        // A mission is either whole or (once its deletion started) gone as a
        // whole; every acknowledged event of a mission still here must be here.
        let lost: Vec<_> = acked
            .iter()
            .filter(|(m, id, _)| {
                !present.contains(id) && (missions.contains(m) || !deleting.contains(m))
            })
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: {} acknowledged events lost, e.g. {:?} (seed {seed})",
            lost.len(),
            lost.first()
        );
        drop(store);
    }
    assert!(
        killed_mid_run > rounds / 2,
        "the worker should usually be killed mid-run ({killed_mid_run}/{rounds})"
    );
    assert!(
        acked.len() as u64 > rounds,
        "too few edits acknowledged: {}",
        acked.len()
    );
}
