//! The store end to end: full disk, torn journal through recovery, and the
//! wrong-PIN wipe through the real vault (with a restart mid-count).

use rettpad_clock::{SharedClock, TestClock};
use rettpad_pad::session::{Pin, Session, SessionConfig, UnlockOutcome, hash_pin};
use rettpad_record::keys;
use rettpad_record::{Author, MissionId, Payload, Target, Value};
use rettpad_text::{Lang, UserMessage};
use rettpad_vault::store::{SharedStore, Store, StoreError, StoreOptions};
use rettpad_vault::{DropReason, FileKeyProvider, JournalOptions, KeyProvider, VaultError};
use std::path::Path;
use std::sync::Arc;
use uuid::Uuid;

const T0: i64 = 1_795_305_600_000;

fn keys(dir: &Path) -> Arc<dyn KeyProvider> {
    Arc::new(FileKeyProvider::new(dir.join("keys").join("device.key")))
}

fn open(dir: &Path, clock: SharedClock, max_pages: Option<u32>) -> Store {
    let opts = StoreOptions {
        journal: JournalOptions {
            max_page_count: max_pages,
        },
        ..Default::default()
    };
    let mut s = Store::open(&dir.join("data"), keys(dir), clock, opts).expect("open store");
    s.set_author(Some(Author {
        device: "PAD-T".into(),
        crew_member: Uuid::from_u128(7),
    }));
    s
}

fn remark(i: usize) -> Payload {
    Payload::Set {
        target: Target::Mission,
        field: keys::remarks::TEXT.into(),
        value: Value::Text(format!("{i}: {}", "x".repeat(900))),
    }
}

#[test]
fn full_disk_keeps_edits_in_ram_in_order_and_retries() {
    let tmp = tempfile::tempdir().unwrap();
    let clock: SharedClock = TestClock::new(T0);
    let mut s = open(tmp.path(), clock.clone(), Some(40));
    let spare = s.open_mission("RTW", vec![]).unwrap();
    for i in 0..8 {
        s.apply(spare, remark(i)).unwrap();
    }
    let m = s.open_mission("RTW", vec![]).unwrap();
    let mut acked = Vec::new();
    let first_failure = loop {
        match s.apply(m, remark(acked.len())) {
            Ok(saved) => acked.push(saved.event),
            Err(e) => break e,
        }
        assert!(acked.len() < 1000, "disk never filled");
    };
    assert!(matches!(
        first_failure,
        StoreError::NotDurable {
            pending: 1,
            source: VaultError::DiskFull
        }
    ));
    assert!(first_failure.message(Lang::De).contains("Speicher voll"));
    // The edit is in RAM: the state shows it, the queue holds it.
    let ram_len = s.log(m).unwrap().len();
    assert_eq!(s.pending(), 1);
    let second = s.apply(m, remark(9_999)).unwrap_err();
    assert!(matches!(second, StoreError::NotDurable { pending: 2, .. }));
    assert_eq!(s.log(m).unwrap().len(), ram_len + 1);
    assert_eq!(
        s.state(m)
            .unwrap()
            .get(keys::remarks::TEXT)
            .and_then(Value::as_text)
            .map(|t| t.starts_with("9999")),
        Some(true)
    );
    // Space comes back (the spare mission was uploaded and deleted): retry.
    s.delete_mission(spare).unwrap();
    assert_eq!(s.retry_pending().unwrap(), 2);
    assert_eq!(s.pending(), 0);
    let all: Vec<_> = s.log(m).unwrap().events().iter().map(|e| e.id).collect();
    drop(s);

    let s = open(tmp.path(), clock, None);
    for r in s.recovery_report() {
        assert!(r.clean(), "{r:?}");
    }
    let back: Vec<_> = s.log(m).unwrap().events().iter().map(|e| e.id).collect();
    assert_eq!(back, all, "every event, acknowledged or retried, in order");
    assert!(s.log(m).unwrap().verify().is_empty());
    assert!(s.state(spare).is_none());
}

#[test]
fn torn_last_row_is_reported_and_everything_before_it_recovered() {
    let tmp = tempfile::tempdir().unwrap();
    let clock: SharedClock = TestClock::new(T0);
    let mut s = open(tmp.path(), clock.clone(), None);
    let m = s.open_mission("RTW", vec![]).unwrap();
    for i in 0..5 {
        s.apply(m, remark(i)).unwrap();
    }
    let before = s.log(m).unwrap().events()[..5].to_vec();
    drop(s);
    let db = rusqlite::Connection::open(tmp.path().join("data").join("vault.sqlite")).unwrap();
    db.execute("UPDATE journal SET sealed = substr(sealed, 1, length(sealed) - 7) WHERE seq = (SELECT max(seq) FROM journal)", [])
        .unwrap();
    drop(db);

    let mut s = open(tmp.path(), clock, None);
    let rep = &s.recovery_report()[0];
    assert_eq!(rep.dropped.len(), 1);
    assert_eq!(rep.dropped[0].reason, DropReason::TornTail);
    assert_eq!(rep.events, 5);
    assert_eq!(s.log(m).unwrap().events(), before.as_slice());
    // The pad keeps documenting after the damaged row.
    s.apply(m, remark(77)).unwrap();
    assert_eq!(s.log(m).unwrap().len(), 6);
}

#[test]
fn mission_meta_is_readable_without_plaintext_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let clock: SharedClock = TestClock::new(T0);
    let mut s = open(tmp.path(), clock, None);
    let m: MissionId = s.open_mission("RTW", vec![]).unwrap();
    s.apply(
        m,
        Payload::Set {
            target: Target::Mission,
            field: keys::mission::NUMBER.into(),
            value: Value::text("GEHEIM-4711"),
        },
    )
    .unwrap();
    drop(s);
    for e in std::fs::read_dir(tmp.path().join("data"))
        .unwrap()
        .flatten()
    {
        if e.path().is_file() {
            let bytes = std::fs::read(e.path()).unwrap();
            assert!(
                !bytes.windows(11).any(|w| w == b"GEHEIM-4711"),
                "plaintext in {}",
                e.path().display()
            );
        }
    }
}

fn session(store: &SharedStore, clock: SharedClock, hash: &str) -> Session {
    let cfg = SessionConfig::new(hash.to_string());
    Session::new(cfg, clock, store.clone(), store.clone()).unwrap()
}

#[test]
fn wrong_pins_across_a_restart_wipe_the_vault() {
    let tmp = tempfile::tempdir().unwrap();
    let clock: SharedClock = TestClock::new(T0);
    let hash = hash_pin(&Pin::new("2468".to_string()).unwrap()).unwrap();
    let wrong = Pin::new("1111".to_string()).unwrap();
    let key_path = tmp.path().join("keys").join("device.key");

    let store = SharedStore::new(open(tmp.path(), clock.clone(), None));
    let m = store.lock().open_mission("RTW", vec![]).unwrap();
    store.lock().apply(m, remark(1)).unwrap();
    let old_key = std::fs::read(&key_path).unwrap();
    let mut s = session(&store, clock.clone(), &hash);
    for expect in [4, 3, 2] {
        assert_eq!(
            s.unlock(&wrong).unwrap(),
            UnlockOutcome::WrongPin { remaining: expect }
        );
    }
    drop(s);
    drop(store); // restart in the middle of the count

    let store = SharedStore::new(open(tmp.path(), clock.clone(), None));
    assert_eq!(store.lock().mission_ids().count(), 1, "no wipe yet");
    let mut s = session(&store, clock.clone(), &hash);
    assert!(s.is_locked(), "always starts locked");
    assert_eq!(
        s.unlock(&wrong).unwrap(),
        UnlockOutcome::WrongPin { remaining: 1 }
    );
    assert_eq!(s.unlock(&wrong).unwrap(), UnlockOutcome::Wiped);
    assert_eq!(store.lock().mission_ids().count(), 0);
    assert_ne!(
        std::fs::read(&key_path).unwrap(),
        old_key,
        "a new device key after the wipe"
    );
    drop(s);
    drop(store);

    // After the wipe the pad starts empty, with the count back at zero.
    let store = SharedStore::new(open(tmp.path(), clock.clone(), None));
    assert_eq!(store.lock().mission_ids().count(), 0);
    let mut s = session(&store, clock, &hash);
    assert_eq!(
        s.unlock(&wrong).unwrap(),
        UnlockOutcome::WrongPin { remaining: 4 }
    );
    assert_eq!(
        s.unlock(&Pin::new("2468".to_string()).unwrap()).unwrap(),
        UnlockOutcome::Unlocked
    );
}

#[test]
fn strips_are_stored_encrypted_survive_a_restart_and_merge_idempotently() {
    let tmp = tempfile::tempdir().unwrap();
    let clock: SharedClock = TestClock::new(T0);
    let sample = rettpad_sim::sample::resuscitation();
    let strip = sample.strips[0].clone();
    let (m, p) = {
        let mut s = open(tmp.path(), clock.clone(), None);
        let m = s.open_mission("RTW", vec![]).unwrap();
        let p = rettpad_record::PatientId::new();
        s.apply(m, Payload::PatientAdded { patient: p }).unwrap();
        s.put_strip(m, p, &strip).unwrap();
        // The same strip twice is refused, not stored twice.
        assert!(s.put_strip(m, p, &strip).is_err());
        (m, p)
    };
    // Nothing of the waveform is readable on disk.
    let raw = std::fs::read(tmp.path().join("data").join("vault.sqlite")).unwrap();
    let needle = &strip.encode()[..64];
    assert!(!raw.windows(needle.len()).any(|w| w == needle));

    let mut s = open(tmp.path(), clock.clone(), None);
    let st = s.state(m).unwrap();
    assert_eq!(st.patient(p).unwrap().strips, vec![strip.to_ref()]);
    assert_eq!(s.strip(m, &strip.hash()).unwrap(), Some(strip.clone()));
    assert_eq!(s.strip_refs(m).unwrap(), vec![(strip.hash(), true)]);
    // A handover delivers the bytes again: idempotent; garbage is refused.
    assert_eq!(s.merge_strip(m, &strip.encode()).unwrap(), strip.hash());
    let mut bad = strip.encode();
    bad.truncate(bad.len() - 1);
    assert!(matches!(s.merge_strip(m, &bad), Err(StoreError::Strip(_))));
    s.delete_mission(m).unwrap();
    assert!(s.strip(m, &strip.hash()).is_err() || s.strip(m, &strip.hash()).unwrap().is_none());
}

#[test]
fn a_cut_write_ahead_log_says_how_many_acknowledged_entries_are_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let clock: SharedClock = TestClock::new(T0);
    let m = {
        let mut s = open(tmp.path(), clock.clone(), None);
        let m = s.open_mission("RTW", vec![]).unwrap();
        for i in 0..3 {
            s.apply(m, remark(i)).unwrap();
        }
        m
    };
    // Checkpointed at close; the next two edits live only in the WAL.
    let mut s = open(tmp.path(), clock.clone(), None);
    let kept = s.log(m).unwrap().events().to_vec();
    s.apply(m, remark(3)).unwrap();
    s.apply(m, remark(4)).unwrap();
    let copy = tmp.path().join("copy");
    std::fs::create_dir_all(copy.join("data")).unwrap();
    std::fs::create_dir_all(copy.join("keys")).unwrap();
    std::fs::copy(
        tmp.path().join("keys/device.key"),
        copy.join("keys/device.key"),
    )
    .unwrap();
    for f in ["vault.sqlite", "vault.hwm"] {
        std::fs::copy(tmp.path().join("data").join(f), copy.join("data").join(f)).unwrap();
    }
    // A copy that stopped after the WAL's header.
    let wal = std::fs::read(tmp.path().join("data/vault.sqlite-wal")).unwrap();
    std::fs::write(copy.join("data/vault.sqlite-wal"), &wal[..32]).unwrap();
    drop(s);

    let mut s = open(&copy, clock, None);
    let rep = s.recovery_report()[0].clone();
    assert_eq!(rep.mission, m);
    assert_eq!(rep.missing, 2, "{rep:?}");
    assert!(!rep.clean());
    let de = rep.message(Lang::De);
    assert!(de.contains("2 bestätigte Einträge fehlen"), "{de}");
    assert!(de.contains("auf Papier"), "{de}");
    assert!(
        rep.message(Lang::En)
            .contains("2 acknowledged entries are missing")
    );
    // What the database still holds opens, and the pad documents on.
    assert_eq!(s.log(m).unwrap().events(), kept.as_slice());
    s.apply(m, remark(9)).unwrap();
}
