//! Integration tests of the encrypted journal: recovery, tampering, wrong
//! keys, full disk, wipe. Raw SQL through a second connection plays the
//! attacker or the crash.

use rettpad_text::{Lang, UserMessage};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rettpad_crypto::SecretKey;
use rettpad_vault::{
    DB_FILE, DropReason, Dropped, FileKeyProvider, Journal, JournalOptions, KeyProvider,
    MemoryKeyProvider, VaultError, WIPE_MARKER, wipe_dir,
};
use rusqlite::Connection;
use tempfile::TempDir;
use uuid::Uuid;

/// A plaintext marker that must never appear in any file.
const MARKER: &[u8] = b"PATIENT-MUSTERMANN-ERIKA";

struct Env {
    _tmp: TempDir,
    data: PathBuf,
    key_path: PathBuf,
}

impl Env {
    fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let key_path = tmp.path().join("config/rettpad/device.key");
        Env {
            _tmp: tmp,
            data,
            key_path,
        }
    }

    fn file_keys(&self) -> Arc<FileKeyProvider> {
        Arc::new(FileKeyProvider::new(&self.key_path))
    }

    fn open_with(&self, keys: Arc<dyn KeyProvider>) -> Result<Journal, VaultError> {
        Journal::open(&self.data, keys, JournalOptions::default())
    }

    fn open(&self) -> Journal {
        self.open_with(self.file_keys()).unwrap()
    }

    fn raw(&self) -> Connection {
        Connection::open(self.data.join(DB_FILE)).unwrap()
    }
}

fn rec(seq: u64) -> Vec<u8> {
    let mut v = MARKER.to_vec();
    v.extend_from_slice(format!(" event {seq}").as_bytes());
    v
}

fn seqs(records: &[(u64, Vec<u8>)]) -> Vec<u64> {
    records.iter().map(|r| r.0).collect()
}

/// A mission with records 1..=n, each `rec(seq)`.
fn mission_with(j: &mut Journal, n: u64) -> Uuid {
    let m = Uuid::now_v7();
    j.create_mission(m, 1_700_000_000_000).unwrap();
    for seq in 1..=n {
        j.append(m, seq, &rec(seq)).unwrap();
    }
    m
}

fn db_files(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for suffix in ["", "-wal"] {
        if let Ok(b) = fs::read(dir.join(format!("{DB_FILE}{suffix}"))) {
            all.extend_from_slice(&b);
        }
    }
    all
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn roundtrip_across_reopen() {
    let env = Env::new();
    let (a, b);
    {
        let mut j = env.open();
        a = mission_with(&mut j, 3);
        b = Uuid::now_v7();
        j.create_mission(b, 5).unwrap();
        j.append_batch(b, &[(1, b"one"), (2, b""), (3, &[0u8; 5000])])
            .unwrap();
        j.set_state(a, "closed").unwrap();
    }
    // The key lives outside the data dir, and plaintext never reaches disk.
    assert!(env.key_path.exists() && !env.key_path.starts_with(&env.data));
    assert!(!contains(&db_files(&env.data), MARKER));

    let j = env.open();
    let ms = j.missions().unwrap();
    assert_eq!(ms.len(), 2);
    assert_eq!(
        ms.iter().find(|m| m.id == a).map(|m| m.state.as_str()),
        Some("closed")
    );
    let ra = j.load(a).unwrap();
    assert_eq!(ra.snapshot, None);
    assert_eq!(ra.records, vec![(1, rec(1)), (2, rec(2)), (3, rec(3))]);
    assert!(ra.dropped.is_empty());
    let rb = j.load(b).unwrap();
    assert_eq!(
        rb.records,
        vec![(1, b"one".to_vec()), (2, vec![]), (3, vec![0u8; 5000])]
    );
}

#[test]
fn snapshot_compacts_and_survives_reopen() {
    let env = Env::new();
    let m;
    {
        let mut j = env.open();
        m = mission_with(&mut j, 10);
        let bytes_before = j.journal_bytes(m).unwrap();
        assert_eq!(j.journal_len(m).unwrap(), 10);
        assert_eq!(j.write_snapshot(m, 6, b"state after 6").unwrap(), 6);
        assert_eq!(j.journal_len(m).unwrap(), 4);
        assert!(j.journal_bytes(m).unwrap() < bytes_before);
    }
    let raw = env.raw();
    let left: Vec<i64> = raw
        .prepare("SELECT seq FROM journal ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(left, vec![7, 8, 9, 10]);
    drop(raw);

    let mut j = env.open();
    let r = j.load(m).unwrap();
    assert_eq!(r.snapshot, Some((6, b"state after 6".to_vec())));
    assert_eq!(seqs(&r.records), vec![7, 8, 9, 10]);
    assert_eq!(r.records[0].1, rec(7));
    // A second snapshot replaces the first.
    j.write_snapshot(m, 10, b"state after 10").unwrap();
    let r = j.load(m).unwrap();
    assert_eq!(r.snapshot, Some((10, b"state after 10".to_vec())));
    assert!(r.records.is_empty());
}

#[test]
fn truncated_last_row_is_torn_tail_and_the_rest_survives() {
    let env = Env::new();
    let m;
    {
        let mut j = env.open();
        m = mission_with(&mut j, 5);
    }
    env.raw()
        .execute(
            "UPDATE journal SET sealed = substr(sealed, 1, length(sealed) - 7) WHERE seq = 5",
            [],
        )
        .unwrap();
    let r = env.open().load(m).unwrap();
    assert_eq!(seqs(&r.records), vec![1, 2, 3, 4]);
    assert_eq!(r.records[3].1, rec(4));
    assert_eq!(
        r.dropped,
        vec![Dropped {
            seq: 5,
            reason: DropReason::TornTail
        }]
    );

    // Shorter than nonce + tag: last one torn, one in the middle corrupt.
    let raw = env.raw();
    raw.execute("UPDATE journal SET sealed = x'0102' WHERE seq = 5", [])
        .unwrap();
    raw.execute("UPDATE journal SET sealed = x'' WHERE seq = 2", [])
        .unwrap();
    drop(raw);
    let r = env.open().load(m).unwrap();
    assert_eq!(seqs(&r.records), vec![1, 3, 4]);
    assert_eq!(
        r.dropped,
        vec![
            Dropped {
                seq: 2,
                reason: DropReason::Corrupt
            },
            Dropped {
                seq: 5,
                reason: DropReason::TornTail
            },
        ]
    );
}

#[test]
fn swapped_moved_and_replayed_rows_fail_authentication() {
    let env = Env::new();
    let (a, b);
    {
        let mut j = env.open();
        a = mission_with(&mut j, 5);
        b = mission_with(&mut j, 3);
    }
    let raw = env.raw();
    let get = |m: Uuid, seq: i64| -> Vec<u8> {
        raw.query_row(
            "SELECT sealed FROM journal WHERE mission_id = ?1 AND seq = ?2",
            rusqlite::params![m.as_bytes().as_slice(), seq],
            |r| r.get(0),
        )
        .unwrap()
    };
    let set = |m: Uuid, seq: i64, v: &[u8]| {
        raw.execute(
            "UPDATE journal SET sealed = ?3 WHERE mission_id = ?1 AND seq = ?2",
            rusqlite::params![m.as_bytes().as_slice(), seq, v],
        )
        .unwrap();
    };
    // Swap rows 2 and 3 of mission a.
    let (s2, s3) = (get(a, 2), get(a, 3));
    set(a, 2, &s3);
    set(a, 3, &s2);
    // Copy a's original row 2 into mission b at the same seq.
    set(b, 2, &s2);
    // Replay a's row 1 as a new row 6.
    raw.execute(
        "INSERT INTO journal(mission_id, seq, sealed) VALUES (?1, 6, ?2)",
        rusqlite::params![a.as_bytes().as_slice(), get(a, 1)],
    )
    .unwrap();
    drop(raw);

    let j = env.open();
    let ra = j.load(a).unwrap();
    assert_eq!(seqs(&ra.records), vec![1, 4, 5]);
    assert_eq!(ra.records[2].1, rec(5));
    let corrupt = |seq| Dropped {
        seq,
        reason: DropReason::Corrupt,
    };
    assert_eq!(
        ra.dropped,
        vec![
            corrupt(2),
            corrupt(3),
            Dropped {
                seq: 6,
                reason: DropReason::TornTail
            }
        ]
    );
    let rb = j.load(b).unwrap();
    assert_eq!(seqs(&rb.records), vec![1, 3]);
    assert_eq!(rb.dropped, vec![corrupt(2)]);
}

#[test]
fn tampered_snapshot_and_wrapped_key_are_distinct_errors() {
    let env = Env::new();
    let (a, b);
    {
        let mut j = env.open();
        a = mission_with(&mut j, 3);
        j.write_snapshot(a, 2, b"snap").unwrap();
        b = mission_with(&mut j, 1);
    }
    let raw = env.raw();
    // Claim the snapshot covers more than it does: the AAD binds upto_seq.
    raw.execute("UPDATE snapshots SET upto_seq = 3", [])
        .unwrap();
    // Give b the wrapped key of a.
    raw.execute(
        "UPDATE missions SET wrapped_key = (SELECT wrapped_key FROM missions WHERE mission_id = ?1) WHERE mission_id = ?2",
        [a.as_bytes().as_slice(), b.as_bytes().as_slice()],
    )
    .unwrap();
    drop(raw);
    let j = env.open();
    assert!(matches!(j.load(a), Err(VaultError::SnapshotCorrupt { mission }) if mission == a));
    assert!(matches!(j.load(b), Err(VaultError::MissionKey { mission }) if mission == b));
}

#[test]
fn wrong_or_missing_key_leaves_the_database_untouched() {
    let env = Env::new();
    {
        let mut j = env.open();
        mission_with(&mut j, 3);
    }
    let before = fs::read(env.data.join(DB_FILE)).unwrap();
    let listing = |d: &Path| {
        let mut v: Vec<String> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let files_before = listing(&env.data);

    let other = Arc::new(MemoryKeyProvider::random().unwrap());
    let err = env.open_with(other).unwrap_err();
    assert!(matches!(err, VaultError::WrongDeviceKey), "{err}");
    assert!(
        err.message(Lang::De)
            .contains("Geräteschlüssel passt nicht")
    );

    let none = Arc::new(MemoryKeyProvider::new());
    let err = env.open_with(none.clone()).unwrap_err();
    assert!(matches!(err, VaultError::DeviceKeyMissing), "{err}");
    assert!(!none.has_key(), "no key may be created over existing data");

    let elsewhere = env.data.parent().unwrap().join("other/device.key");
    let err = env
        .open_with(Arc::new(FileKeyProvider::new(&elsewhere)))
        .unwrap_err();
    assert!(matches!(err, VaultError::DeviceKeyMissing));
    assert!(!elsewhere.exists());

    assert_eq!(fs::read(env.data.join(DB_FILE)).unwrap(), before);
    assert_eq!(listing(&env.data), files_before);
    // The right key still works.
    assert_eq!(env.open().missions().unwrap().len(), 1);
}

#[test]
fn insecure_key_file_is_refused_and_never_overwritten() {
    let env = Env::new();
    let m;
    {
        let mut j = env.open();
        m = mission_with(&mut j, 1);
    }
    let key_bytes = fs::read(&env.key_path).unwrap();
    assert_eq!(
        fs::metadata(&env.key_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(matches!(
        env.file_keys().create(),
        Err(VaultError::KeyFile(_))
    ));
    assert_eq!(fs::read(&env.key_path).unwrap(), key_bytes);

    fs::set_permissions(&env.key_path, fs::Permissions::from_mode(0o644)).unwrap();
    let err = env.open_with(env.file_keys()).unwrap_err();
    assert!(matches!(err, VaultError::KeyFile(_)), "{err}");
    fs::set_permissions(&env.key_path, fs::Permissions::from_mode(0o600)).unwrap();

    fs::write(&env.key_path, &key_bytes[..16]).unwrap();
    assert!(matches!(
        env.open_with(env.file_keys()),
        Err(VaultError::KeyFile(_))
    ));
    fs::write(&env.key_path, &key_bytes).unwrap();
    assert_eq!(env.open().load(m).unwrap().records.len(), 1);
}

#[test]
fn full_disk_keeps_old_data_and_recovers() {
    let env = Env::new();
    let opts = JournalOptions {
        max_page_count: Some(40),
    };
    let mut j = Journal::open(&env.data, env.file_keys(), opts).unwrap();
    let spare = mission_with(&mut j, 0);
    j.append_batch(spare, &[(1, &[1u8; 8000]), (2, &[2u8; 8000])])
        .unwrap();
    let m = mission_with(&mut j, 0);
    let payload = |seq: u64| {
        let mut v = rec(seq);
        v.resize(2000, seq as u8);
        v
    };
    let mut failed = None;
    for seq in 1..=200u64 {
        match j.append(m, seq, &payload(seq)) {
            Ok(()) => {}
            Err(VaultError::DiskFull) => {
                failed = Some(seq);
                break;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let failed = failed.expect("the page limit must be hit");
    assert!(failed > 3, "some appends must fit first ({failed})");
    assert!(
        VaultError::DiskFull
            .message(Lang::De)
            .starts_with("Speicher voll")
    );
    // A big snapshot fails too, and compacts nothing.
    assert!(matches!(
        j.write_snapshot(m, failed - 1, &[0u8; 200_000]),
        Err(VaultError::DiskFull)
    ));
    let r = j.load(m).unwrap();
    assert_eq!(r.records.len() as u64, failed - 1);
    assert!(r.records.iter().all(|(s, p)| *p == payload(*s)));
    assert_eq!(r.snapshot, None);

    // Still full: the same seq fails again without side effects.
    assert!(matches!(
        j.append(m, failed, &payload(failed)),
        Err(VaultError::DiskFull)
    ));
    // Freeing space (deleting an uploaded mission) makes room in place.
    j.delete_mission(spare).unwrap();
    j.append(m, failed, &payload(failed)).unwrap();
    drop(j);

    // Without the limit everything is there and more fits.
    let mut j = env.open();
    j.append(m, failed + 1, &payload(failed + 1)).unwrap();
    let r = j.load(m).unwrap();
    assert_eq!(seqs(&r.records), (1..=failed + 1).collect::<Vec<_>>());
    assert!(r.dropped.is_empty());
}

#[test]
fn delete_mission_shreds_its_key_from_the_files() {
    let env = Env::new();
    let mut j = env.open();
    let a = mission_with(&mut j, 3);
    let b = mission_with(&mut j, 2);
    let wrapped: Vec<u8> = env
        .raw()
        .query_row(
            "SELECT wrapped_key FROM missions WHERE mission_id = ?1",
            [a.as_bytes().as_slice()],
            |r| r.get(0),
        )
        .unwrap();
    assert!(contains(&db_files(&env.data), &wrapped));
    j.delete_mission(a).unwrap();
    assert!(matches!(j.load(a), Err(VaultError::UnknownMission { .. })));
    assert_eq!(j.load(b).unwrap().records.len(), 2);
    assert_eq!(j.missions().unwrap().len(), 1);
    // Neither the main file nor the WAL still holds the wrapped key.
    assert!(!contains(&db_files(&env.data), &wrapped));
}

#[test]
fn meta_roundtrip_and_tamper_detection() {
    let env = Env::new();
    {
        let mut j = env.open();
        assert_eq!(j.meta_get("pin_failures").unwrap(), None);
        j.meta_put("pin_failures", b"2").unwrap();
        j.meta_put("pin_failures", b"3").unwrap();
        j.meta_put("shift_login", b"crew-1").unwrap();
        j.meta_put("scratch", b"x").unwrap();
        assert!(j.meta_delete("scratch").unwrap());
        assert!(!j.meta_delete("scratch").unwrap());
    }
    let j = env.open();
    assert_eq!(j.meta_get("pin_failures").unwrap(), Some(b"3".to_vec()));
    assert_eq!(j.meta_get("shift_login").unwrap(), Some(b"crew-1".to_vec()));
    assert_eq!(j.meta_get("scratch").unwrap(), None);
    drop(j);

    // Roll back the counter by copying another name's value over it.
    env.raw()
        .execute(
            "UPDATE meta SET value = (SELECT value FROM meta WHERE name = 'shift_login') WHERE name = 'pin_failures'",
            [],
        )
        .unwrap();
    // Flip one bit of the other value.
    let raw = env.raw();
    let mut v: Vec<u8> = raw
        .query_row(
            "SELECT value FROM meta WHERE name = 'shift_login'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    v[20] ^= 0x01;
    raw.execute("UPDATE meta SET value = ?1 WHERE name = 'shift_login'", [v])
        .unwrap();
    drop(raw);
    let j = env.open();
    assert!(matches!(
        j.meta_get("pin_failures"),
        Err(VaultError::Corrupt(_))
    ));
    let err = j.meta_get("shift_login").unwrap_err();
    assert!(matches!(err, VaultError::Corrupt(_)));
    assert!(!format!("{err} {err:?}").contains("crew-1"));
}

#[test]
fn wipe_destroys_key_first_and_a_copy_stays_unreadable() {
    let env = Env::new();
    let copy = env.data.parent().unwrap().join("copy");
    let mut j = env.open();
    mission_with(&mut j, 4);
    mission_with(&mut j, 2);
    j.meta_put("shift_login", MARKER).unwrap();

    let key_path = env.key_path.clone();
    let report = j
        .wipe_with_hook(|dir| {
            assert!(!key_path.exists(), "key must be gone before the data");
            assert!(dir.join(WIPE_MARKER).exists());
            fs::create_dir_all(&copy).unwrap();
            for suffix in ["", "-wal"] {
                let name = format!("{DB_FILE}{suffix}");
                if dir.join(&name).exists() {
                    fs::copy(dir.join(&name), copy.join(&name)).unwrap();
                }
            }
        })
        .unwrap();
    assert_eq!(report.missions_destroyed, 2);
    assert!(report.key_destroy <= report.total);
    assert!(!env.key_path.exists());
    for name in [DB_FILE, "vault.sqlite-wal", "vault.sqlite-shm", WIPE_MARKER] {
        assert!(!env.data.join(name).exists(), "{name} left behind");
    }

    // The copy taken right after the key was destroyed: ciphertext only, and
    // no key anywhere opens it.
    let raw = db_files(&copy);
    assert!(raw.len() > 4096, "the copy holds the data");
    assert!(!contains(&raw, MARKER));
    let open_copy = |keys: Arc<dyn KeyProvider>| {
        Journal::open(&copy, keys, JournalOptions::default()).map(|_| ())
    };
    assert!(matches!(
        open_copy(env.file_keys()),
        Err(VaultError::DeviceKeyMissing)
    ));
    assert!(matches!(
        open_copy(Arc::new(MemoryKeyProvider::random().unwrap())),
        Err(VaultError::WrongDeviceKey)
    ));

    // The pad itself starts fresh with a new key.
    let j = env.open();
    assert!(j.missions().unwrap().is_empty());
    assert_eq!(j.meta_get("shift_login").unwrap(), None);
}

#[test]
fn interrupted_wipe_is_finished_at_next_open() {
    for key_already_destroyed in [false, true] {
        let env = Env::new();
        let keys = Arc::new(MemoryKeyProvider::new());
        let old_key: SecretKey;
        {
            let mut j = env.open_with(keys.clone()).unwrap();
            mission_with(&mut j, 3);
            old_key = keys.load().unwrap().unwrap();
        }
        // Crash right after step 1 (marker written) or step 2 (key gone).
        fs::write(env.data.join(WIPE_MARKER), b"").unwrap();
        if key_already_destroyed {
            keys.destroy().unwrap();
        }
        let j = env.open_with(keys.clone()).unwrap();
        let finished = j.finished_interrupted_wipe().expect("wipe finished");
        assert_eq!(finished.missions_destroyed, 1);
        assert!(j.missions().unwrap().is_empty());
        assert!(!env.data.join(WIPE_MARKER).exists());
        assert_ne!(keys.load().unwrap().unwrap(), old_key, "a new key");
    }
}

#[test]
fn wipe_dir_works_when_the_journal_cannot_open() {
    let env = Env::new();
    {
        let mut j = env.open();
        mission_with(&mut j, 2);
    }
    let wrong = Arc::new(MemoryKeyProvider::random().unwrap());
    assert!(matches!(
        env.open_with(wrong),
        Err(VaultError::WrongDeviceKey)
    ));
    let report = wipe_dir(&env.data, env.file_keys()).unwrap();
    assert_eq!(report.missions_destroyed, 1);
    assert!(!env.key_path.exists());
    assert!(!env.data.join(DB_FILE).exists());
    assert!(!env.data.join(WIPE_MARKER).exists());
    // Idempotent.
    assert_eq!(
        wipe_dir(&env.data, env.file_keys())
            .unwrap()
            .missions_destroyed,
        0
    );
}

#[test]
fn a_version_1_vault_is_migrated_with_its_missions_intact() {
    let env = Env::new();
    let mut j = env.open();
    let m = Uuid::from_u128(42);
    j.create_mission(m, 1).unwrap();
    j.append(m, 1, b"first event").unwrap();
    drop(j);
    // Back to what a v1 build wrote.
    env.raw()
        .execute_batch("DROP TABLE blobs; DROP TABLE outbox; PRAGMA user_version = 1;")
        .unwrap();
    let mut j = env.open();
    let rec = j.load(m).unwrap();
    assert_eq!(rec.records, vec![(1, b"first event".to_vec())]);
    let h = j.put_blob(m, b"strip bytes").unwrap();
    assert_eq!(
        j.get_blob(m, &h).unwrap().as_deref(),
        Some(&b"strip bytes"[..])
    );
    let v: i64 = env
        .raw()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, 2);
}

#[test]
fn newer_schema_and_foreign_files_are_refused_untouched() {
    let env = Env::new();
    drop(env.open());
    env.raw()
        .pragma_update(None, "user_version", 99i64)
        .unwrap();
    let before = fs::read(env.data.join(DB_FILE)).unwrap();
    let err = env.open_with(env.file_keys()).unwrap_err();
    assert!(
        matches!(
            err,
            VaultError::SchemaTooNew {
                found: 99,
                supported: 2
            }
        ),
        "{err}"
    );
    assert_eq!(fs::read(env.data.join(DB_FILE)).unwrap(), before);

    let other = Env::new();
    fs::create_dir_all(&other.data).unwrap();
    other
        .raw()
        .execute_batch("CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES ('keep me');")
        .unwrap();
    let err = other.open_with(other.file_keys()).unwrap_err();
    assert!(matches!(err, VaultError::NotAVault), "{err}");
    assert!(
        !other.key_path.exists(),
        "no key created for a foreign file"
    );
}

#[test]
fn vault_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let keys: std::sync::Arc<dyn rettpad_vault::KeyProvider> =
        std::sync::Arc::new(rettpad_vault::MemoryKeyProvider::new());
    let mut j = rettpad_vault::Journal::open(&dir, keys, Default::default()).unwrap();
    let m = uuid::Uuid::now_v7();
    j.create_mission(m, 0).unwrap();
    j.append(m, 1, b"x").unwrap();
    for name in [
        "",
        "vault.sqlite",
        "vault.sqlite-wal",
        "vault.sqlite-shm",
        "vault.hwm",
    ] {
        let p = dir.join(name);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        let want = if name.is_empty() { 0o700 } else { 0o600 };
        assert_eq!(mode, want, "{} has mode {mode:o}", p.display());
    }
}

/// Copies the vault's files as a crash or a cut copy would leave them, with
/// the write-ahead log cut to `wal_len` bytes.
fn copy_with_cut_wal(from: &Path, to: &Path, wal_len: u64) {
    fs::create_dir_all(to).unwrap();
    fs::set_permissions(to, fs::Permissions::from_mode(0o700)).unwrap();
    for name in [DB_FILE, "vault.hwm"] {
        fs::copy(from.join(name), to.join(name)).unwrap();
    }
    let wal = fs::read(from.join(format!("{DB_FILE}-wal"))).unwrap();
    assert!(wal.len() as u64 > wal_len, "the rows are in the WAL");
    fs::write(to.join(format!("{DB_FILE}-wal")), &wal[..wal_len as usize]).unwrap();
}

#[test]
fn a_cut_write_ahead_log_is_reported_as_missing_acknowledged_rows() {
    let env = Env::new();
    let keys = env.file_keys();
    let (m1, m2);
    {
        let mut j = env.open();
        m1 = mission_with(&mut j, 5);
    }
    // Closing checkpointed rows 1..=5 into the main file; what follows is
    // only in the WAL while the journal stays open.
    let mut j = env.open();
    for seq in 6..=8 {
        j.append(m1, seq, &rec(seq)).unwrap();
    }
    m2 = mission_with(&mut j, 2);
    let copy = env.data.parent().unwrap().join("copy");
    // Only the WAL header survives: every frame after the checkpoint is lost.
    copy_with_cut_wal(&env.data, &copy, 32);
    drop(j);

    let j = Journal::open(&copy, keys.clone(), JournalOptions::default()).unwrap();
    let mut losses = j.losses().to_vec();
    losses.sort_by_key(|l| l.missing);
    assert_eq!(losses.len(), 2, "{losses:?}");
    assert_eq!((losses[0].mission, losses[0].missing), (m2, 2));
    assert!(losses[0].mission_gone);
    assert_eq!((losses[1].mission, losses[1].missing), (m1, 3));
    assert!(!losses[1].mission_gone);
    // The rest opens: rows 1..=5 of the first mission.
    assert_eq!(seqs(&j.load(m1).unwrap().records), vec![1, 2, 3, 4, 5]);
    let mut j = j;
    // The mission goes on; the loss stays reported, counted once.
    j.append(m1, 6, b"after the loss").unwrap();
    drop(j);
    let mut j = Journal::open(&copy, keys.clone(), JournalOptions::default()).unwrap();
    let l1 = j
        .losses()
        .iter()
        .find(|l| l.mission == m1)
        .copied()
        .unwrap();
    assert_eq!(l1.missing, 3, "reported again, not counted twice");
    // A deleted mission takes its loss record along.
    j.delete_mission(m1).unwrap();
    drop(j);
    let j = Journal::open(&copy, keys, JournalOptions::default()).unwrap();
    assert!(j.losses().iter().all(|l| l.mission != m1));
    assert!(j.losses().iter().any(|l| l.mission == m2));
}

#[test]
fn no_loss_is_reported_after_clean_closes_compaction_and_an_upgrade() {
    let env = Env::new();
    let m = {
        let mut j = env.open();
        let m = mission_with(&mut j, 4);
        j.write_snapshot(m, 4, b"state up to 4").unwrap();
        j.append(m, 5, &rec(5)).unwrap();
        m
    };
    let j = env.open();
    assert!(j.losses().is_empty(), "{:?}", j.losses());
    assert_eq!(seqs(&j.load(m).unwrap().records), vec![5]);
    drop(j);
    // A vault from before the mark existed: rebuilt, nothing reported.
    fs::remove_file(env.data.join("vault.hwm")).unwrap();
    let mut j = env.open();
    assert_eq!(j.high_water_found(), rettpad_vault::hwm::Found::Missing);
    assert!(j.losses().is_empty());
    j.write_snapshot(m, 5, b"state up to 5").unwrap();
    drop(j);
    let j = env.open();
    assert!(j.losses().is_empty(), "compacted rows are not missing");
    assert_eq!(
        j.high_water_found(),
        rettpad_vault::hwm::Found::Read { skipped: 0 }
    );
}

/// Flips one bit of a stored blob (`flip`) or cuts it to 3 bytes (`cut`).
fn damage(env: &Env, table: &str, col: &str, key_col: &str, key: &dyn rusqlite::ToSql, how: &str) {
    let db = env.raw();
    let sel = format!("SELECT {col} FROM {table} WHERE {key_col} = ?1");
    let mut v: Vec<u8> = db.query_row(&sel, [key], |r| r.get(0)).unwrap();
    if how == "flip" {
        v[20] ^= 0x01;
    } else {
        v.truncate(3);
    }
    let upd = format!("UPDATE {table} SET {col} = ?2 WHERE {key_col} = ?1");
    assert_eq!(db.execute(&upd, rusqlite::params![key, v]).unwrap(), 1);
}

/// Damages the key check record's ciphertext.
fn damage_key_check(env: &Env, how: &str) {
    damage(env, "meta", "value", "name", &"key_check", how);
}

#[test]
fn a_damaged_key_check_is_told_from_a_wrong_key_and_every_mission_opens() {
    for how in ["flip", "cut"] {
        let env = Env::new();
        let (a, b) = {
            let mut j = env.open();
            (mission_with(&mut j, 3), mission_with(&mut j, 2))
        };
        let before =
            env.raw()
                .query_row("SELECT value FROM meta WHERE name = 'key_check'", [], |r| {
                    r.get::<_, Vec<u8>>(0)
                });
        damage_key_check(&env, how);
        let after =
            env.raw()
                .query_row("SELECT value FROM meta WHERE name = 'key_check'", [], |r| {
                    r.get::<_, Vec<u8>>(0)
                });
        assert_ne!(before.unwrap(), after.unwrap(), "{how}: damaged");

        // A wrong key is still a wrong key.
        let other = Arc::new(MemoryKeyProvider::random().unwrap());
        let err = env.open_with(other).unwrap_err();
        assert!(matches!(err, VaultError::WrongDeviceKey), "{how}: {err}");

        // The right key opens everything and writes the record anew.
        let j = env.open();
        assert!(j.key_check_repaired(), "{how}");
        assert_eq!(seqs(&j.load(a).unwrap().records), vec![1, 2, 3]);
        assert_eq!(seqs(&j.load(b).unwrap().records), vec![1, 2]);
        drop(j);
        let j = env.open();
        assert!(!j.key_check_repaired(), "{how}: repaired for good");
    }
}

#[test]
fn a_damaged_key_check_and_a_damaged_mission_key_open_the_rest() {
    let env = Env::new();
    let (a, b) = {
        let mut j = env.open();
        (mission_with(&mut j, 3), mission_with(&mut j, 2))
    };
    damage_key_check(&env, "flip");
    damage(
        &env,
        "missions",
        "wrapped_key",
        "mission_id",
        &a.as_bytes().to_vec(),
        "flip",
    );
    let j = env.open();
    assert!(j.key_check_repaired());
    assert!(matches!(
        j.load(a).unwrap_err(),
        VaultError::MissionKey { .. }
    ));
    assert_eq!(seqs(&j.load(b).unwrap().records), vec![1, 2]);
}

#[test]
fn with_nothing_sealed_a_damaged_key_check_reads_as_a_wrong_key() {
    let env = Env::new();
    drop(env.open());
    damage_key_check(&env, "flip");
    // Nothing else under the key: no way to tell, so the vault stays shut.
    let err = env.open_with(env.file_keys()).unwrap_err();
    assert!(matches!(err, VaultError::WrongDeviceKey), "{err}");
}
