//! The encrypted journal: one SQLite file, `vault.sqlite`, in the data
//! directory. See the module docs of [`crate`] for keys, AAD and
//! invariants.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use uuid::Uuid;

use super::VaultError;
use super::hwm::{self, Found, HWM_FILE, HighWater, Mark};
use super::keys::{KeyProvider, create_private_dir, sync_dir};
use super::schema::{self, APPLICATION_ID, SCHEMA_VERSION};
use rettpad_crypto::{self as crypto, CryptoError, SecretKey};

type Result<T, E = VaultError> = std::result::Result<T, E>;

/// The database file inside the data directory.
pub const DB_FILE: &str = "vault.sqlite";
/// Present while a wipe runs; a later [`Journal::open`] finishes the wipe.
pub const WIPE_MARKER: &str = "wipe.pending";
/// Largest plaintext of one journal record.
pub const MAX_RECORD_LEN: usize = 16 << 20;
/// Largest plaintext of one snapshot.
pub const MAX_SNAPSHOT_LEN: usize = 256 << 20;
/// Largest plaintext of one meta value.
pub const MAX_META_LEN: usize = 64 << 10;
/// A batch of meta values (a provisioning package's parts) in all.
pub const MAX_META_BATCH_LEN: usize = 16 << 20;
/// State of a freshly created mission.
pub const DEFAULT_STATE: &str = "open";

const MAX_META_NAME_LEN: usize = 128;
const MAX_STATE_LEN: usize = 64;
/// Cap on the WAL file left behind after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 8 << 20;

const KEY_CHECK_NAME: &str = "key_check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"rettpad key check";
const AAD_KEY_CHECK: &[u8] = b"rettpad/v1/key-check";
const AAD_MISSION_KEY: &[u8] = b"rettpad/v1/mission-key";
const AAD_JOURNAL: &[u8] = b"rettpad/v1/journal";
const AAD_SNAPSHOT: &[u8] = b"rettpad/v1/snapshot";
const AAD_META: &[u8] = b"rettpad/v1/meta";
const AAD_BLOB: &[u8] = b"rettpad/v1/blob";
/// A 12-lead strip of 5 min at 1 kHz is 7.2 MB; nothing bigger is stored.
pub const MAX_BLOB_LEN: usize = 8 << 20;

fn mission_key_aad(mission: &Uuid) -> Vec<u8> {
    [AAD_MISSION_KEY, mission.as_bytes()].concat()
}

fn journal_aad(mission: &Uuid, seq: u64) -> Vec<u8> {
    [AAD_JOURNAL, mission.as_bytes(), &seq.to_be_bytes()].concat()
}

fn snapshot_aad(mission: &Uuid, upto_seq: u64) -> Vec<u8> {
    [AAD_SNAPSHOT, mission.as_bytes(), &upto_seq.to_be_bytes()].concat()
}

fn blob_aad(mission: &Uuid, hash: &[u8; 32]) -> Vec<u8> {
    [AAD_BLOB, mission.as_bytes(), hash].concat()
}

fn meta_aad(name: &str) -> Vec<u8> {
    [AAD_META, name.as_bytes()].concat()
}

/// SQLite stores INTEGER as i64; larger seq numbers are refused up front.
fn seq_to_sql(seq: u64) -> Result<i64> {
    i64::try_from(seq).map_err(|_| VaultError::SeqOutOfRange { seq })
}

/// A negative seq cannot be written (CHECK constraint, and we never seal
/// one); if one shows up anyway it is reported bit-for-bit as u64 and fails
/// authentication like any other foreign row.
fn seq_from_sql(seq: i64) -> u64 {
    seq as u64
}

/// Reads a column as bytes whatever its storage class, so a tampered type
/// becomes an authentication failure instead of an error that stops recovery.
fn bytes_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<Vec<u8>> {
    Ok(match row.get_ref(idx)? {
        ValueRef::Blob(b) | ValueRef::Text(b) => b.to_vec(),
        _ => Vec::new(),
    })
}

fn check_len(what: &'static str, len: usize, max: usize) -> Result<()> {
    if len > max {
        return Err(VaultError::TooLarge { what, len, max });
    }
    Ok(())
}

fn check_meta_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_META_NAME_LEN {
        return Err(VaultError::InvalidInput("meta name must be 1 to 128 bytes"));
    }
    if name == KEY_CHECK_NAME {
        return Err(VaultError::InvalidInput(
            "meta name 'key_check' is reserved",
        ));
    }
    Ok(())
}

fn is_primary_key_violation(e: &rusqlite::Error) -> bool {
    e.sqlite_extended_error_code() == Some(rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Options for [`Journal::open`].
#[derive(Debug, Clone, Default)]
pub struct JournalOptions {
    /// `PRAGMA max_page_count` for this connection: writes beyond it fail
    /// with [`VaultError::DiskFull`]. Tests use it to simulate a full disk;
    /// production may use it as a hard size cap. `None` = SQLite's default.
    pub max_page_count: Option<u32>,
}

/// One mission as listed by [`Journal::missions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissionMeta {
    pub id: Uuid,
    pub state: String,
    pub created_ms: i64,
}

/// Why [`Journal::load`] dropped a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The last row failed authentication or was too short: a write torn by
    /// a crash or a damaged end of the file.
    TornTail,
    /// A row before the last failed authentication: tampering, a swapped or
    /// moved row, or media damage.
    Corrupt,
}

/// A row that [`Journal::load`] could not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    pub seq: u64,
    pub reason: DropReason,
}

/// What [`Journal::load`] recovered for one mission.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Recovered {
    /// `(upto_seq, plaintext)` of the snapshot, if one was written.
    pub snapshot: Option<(u64, Vec<u8>)>,
    /// Authentic rows with `seq > upto_seq`, ascending.
    pub records: Vec<(u64, Vec<u8>)>,
    /// Rows that failed authentication, ascending by seq.
    pub dropped: Vec<Dropped>,
}

// Debug shows shapes only: plaintext must never reach a log.
impl std::fmt::Debug for Recovered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let snap = self.snapshot.as_ref().map(|(s, p)| (s, p.len()));
        let recs: Vec<(u64, usize)> = self.records.iter().map(|(s, p)| (*s, p.len())).collect();
        f.debug_struct("Recovered")
            .field("snapshot_seq_len", &snap)
            .field("records_seq_len", &recs)
            .field("dropped", &self.dropped)
            .finish()
    }
}

/// Result of a wipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WipeReport {
    /// Missions whose keys were destroyed (0 if the database was unreadable).
    pub missions_destroyed: usize,
    /// Time of the key-destroy step: after it nothing on disk can be
    /// decrypted.
    pub key_destroy: Duration,
    /// Time of the whole wipe.
    pub total: Duration,
}

/// Acknowledged rows of a mission that the database no longer holds
/// (found against the high-water mark, see [`crate::hwm`]). Kept as a sealed
/// meta value and reported at every open until the mission is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loss {
    pub mission: Uuid,
    /// Acknowledged rows missing, over all opens that found a gap.
    pub missing: u64,
    /// The mission itself is gone from the database.
    pub mission_gone: bool,
}

/// Meta name of a mission's recorded loss.
fn loss_name(mission: &Uuid) -> String {
    format!("{LOSS_PREFIX}{mission}")
}
const LOSS_PREFIX: &str = "hwm.loss.";

/// The open encrypted journal. Single writer: one `Journal` per data
/// directory and process. `Send`, not `Sync`.
pub struct Journal {
    pub(super) conn: Connection,
    dir: PathBuf,
    keys: Arc<dyn KeyProvider>,
    pub(super) device_key: SecretKey,
    /// Unwrapped mission keys; `SecretKey` zeroizes on drop and on removal.
    mission_keys: HashMap<Uuid, SecretKey>,
    finished_wipe: Option<WipeReport>,
    hwm: HighWater,
    hwm_found: Found,
    losses: Vec<Loss>,
    key_check_repaired: bool,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("dir", &self.dir)
            .field("keys", &self.keys.describe())
            .field("cached_mission_keys", &self.mission_keys.len())
            .finish_non_exhaustive()
    }
}

/// Connection settings that hold for every connection we open.
fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(5))
        .map_err(VaultError::db("set busy timeout"))?;
    for (name, value) in [
        ("foreign_keys", "ON"),
        ("secure_delete", "ON"),
        ("synchronous", "FULL"),
    ] {
        conn.pragma_update(None, name, value)
            .map_err(VaultError::db("set connection pragma"))?;
    }
    Ok(())
}

/// Settings that may write to the file; only applied after the key matched.
fn configure_after_key_check(conn: &Connection, opts: &JournalOptions) -> Result<()> {
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(VaultError::db("set journal_mode"))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode = %mode, "WAL not available; using rollback journal");
    }
    let _: i64 = conn
        .pragma_update_and_check(None, "journal_size_limit", WAL_SIZE_LIMIT, |r| r.get(0))
        .map_err(VaultError::db("set journal_size_limit"))?;
    if let Some(max) = opts.max_page_count {
        let effective: i64 = conn
            .pragma_update_and_check(None, "max_page_count", max, |r| r.get(0))
            .map_err(VaultError::db("set max_page_count"))?;
        tracing::info!(requested = max, effective, "vault max_page_count set");
    }
    Ok(())
}

/// Moves the WAL into the main file and truncates it, so superseded page
/// versions (e.g. a wrapped key before it was zeroed) leave the WAL. Best
/// effort: a later auto-checkpoint does the same.
fn checkpoint_truncate(conn: &Connection) {
    let res = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    match res {
        Ok(0) => {}
        Ok(_) => tracing::warn!("wal checkpoint was blocked; will complete later"),
        Err(e) => tracing::warn!(error = %e, "wal checkpoint failed; will complete later"),
    }
}

/// The seq the mission's snapshot covers, if it has one.
fn snapshot_upto(conn: &Connection, id: &[u8]) -> Result<Option<i64>> {
    conn.query_row(
        "SELECT upto_seq FROM snapshots WHERE mission_id = ?1",
        [id],
        |r| r.get(0),
    )
    .optional()
    .map_err(VaultError::db("read snapshot seq"))
}

/// Writes a new key check sealed under `key` (after it opened the data).
fn rewrite_key_check(conn: &Connection, key: &SecretKey) -> Result<()> {
    let check = crypto::seal(key, AAD_KEY_CHECK, KEY_CHECK_PLAINTEXT)?;
    conn.execute(
        "UPDATE meta SET value = ?2 WHERE name = ?1",
        params![KEY_CHECK_NAME, check],
    )
    .map_err(VaultError::db("rewrite key check"))?;
    tracing::warn!("vault key check record written anew");
    Ok(())
}

/// True when `key` opens at least one mission key or sealed meta value: the
/// key is the vault's, whatever happened to the key check record.
fn key_opens_sealed_data(conn: &Connection, key: &SecretKey) -> Result<bool> {
    let mut stmt = conn
        .prepare("SELECT mission_id, wrapped_key FROM missions")
        .map_err(VaultError::db("read mission keys"))?;
    let wrapped: Vec<(Vec<u8>, Vec<u8>)> = stmt
        .query_map([], |r| Ok((bytes_at(r, 0)?, bytes_at(r, 1)?)))
        .and_then(|rows| rows.collect())
        .map_err(VaultError::db("read mission keys"))?;
    for (id, w) in &wrapped {
        let Ok(id) = Uuid::from_slice(id) else {
            continue;
        };
        if crypto::open(key, &mission_key_aad(&id), w).is_ok() {
            return Ok(true);
        }
    }
    let mut stmt = conn
        .prepare("SELECT name, value FROM meta WHERE name <> ?1")
        .map_err(VaultError::db("read meta"))?;
    let metas: Vec<(String, Vec<u8>)> = stmt
        .query_map([KEY_CHECK_NAME], |r| Ok((r.get(0)?, bytes_at(r, 1)?)))
        .and_then(|rows| rows.collect())
        .map_err(VaultError::db("read meta"))?;
    Ok(metas
        .iter()
        .any(|(name, v)| crypto::open(key, &meta_aad(name), v).is_ok()))
}

fn mission_exists(conn: &Connection, mission: &Uuid) -> Result<bool> {
    conn.query_row(
        "SELECT 1 FROM missions WHERE mission_id = ?1",
        [mission.as_bytes().as_slice()],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
    .map_err(VaultError::db("look up mission"))
}

/// What the database holds of a mission: its last row (seq and tag), or
/// its snapshot's seq when compaction removed the rows.
fn mission_mark(conn: &Connection, mission: &Uuid) -> Result<Option<Mark>> {
    let id = mission.as_bytes().as_slice();
    let last: Option<(i64, Vec<u8>)> = conn
        .query_row(
            "SELECT seq, sealed FROM journal WHERE mission_id = ?1 ORDER BY seq DESC LIMIT 1",
            [id],
            |r| Ok((r.get(0)?, bytes_at(r, 1)?)),
        )
        .optional()
        .map_err(VaultError::db("read last row"))?;
    let upto = snapshot_upto(conn, id)?;
    let row = last.filter(|(seq, _)| upto.is_none_or(|u| *seq > u));
    Ok(match (row, upto) {
        (Some((seq, sealed)), _) => Some(Mark {
            seq: seq_from_sql(seq),
            tag: hwm::tag_of(&sealed),
        }),
        (None, Some(u)) => Some(Mark {
            seq: seq_from_sql(u),
            tag: [0; 16],
        }),
        (None, None) => None,
    })
}

/// Marks of what the database holds now (to rebuild a missing mark file).
fn current_marks(conn: &Connection) -> HashMap<Uuid, Mark> {
    let ids: Vec<Vec<u8>> = conn
        .prepare("SELECT mission_id FROM missions")
        .and_then(|mut s| {
            s.query_map([], |r| bytes_at(r, 0))
                .and_then(|rows| rows.collect())
        })
        .unwrap_or_else(|e| {
            // The rebuilt mark starts empty: later rows are checked again.
            tracing::warn!(error = %e, "high-water mark rebuilt without the missions");
            Vec::new()
        });
    ids.iter()
        .filter_map(|id| Uuid::from_slice(id).ok())
        .filter_map(|m| Some((m, mission_mark(conn, &m).ok()??)))
        .collect()
}

/// Compares a mission with its mark: `(gone, missing, now)` where `gone`
/// says the mission itself is missing, `missing` counts acknowledged rows
/// the database lacks (seq numbers run without gaps) and `now` is what it
/// holds.
fn compare_mark(
    conn: &Connection,
    mission: &Uuid,
    mark: &Mark,
) -> Result<(bool, u64, Option<Mark>)> {
    if !mission_exists(conn, mission)? {
        // Seq numbers start at 1.
        return Ok((true, mark.seq, None));
    }
    let now = mission_mark(conn, mission)?;
    let have = now.map_or(0, |m| m.seq);
    if have < mark.seq {
        return Ok((false, mark.seq - have, now));
    }
    // The acknowledged row itself: still there with its tag, or compacted.
    let row: Option<Vec<u8>> = conn
        .query_row(
            "SELECT sealed FROM journal WHERE mission_id = ?1 AND seq = ?2",
            params![mission.as_bytes().as_slice(), seq_to_sql(mark.seq)?],
            |r| bytes_at(r, 0),
        )
        .optional()
        .map_err(VaultError::db("read acknowledged row"))?;
    let upto = snapshot_upto(conn, mission.as_bytes().as_slice())?;
    let compacted = upto.is_some_and(|u| seq_from_sql(u) >= mark.seq);
    let intact = match row {
        Some(sealed) => hwm::tag_of(&sealed) == mark.tag,
        None => compacted,
    };
    Ok((false, u64::from(!intact), now))
}

impl Journal {
    /// Opens (or creates) the vault in `data_dir`.
    ///
    /// - Finishes an interrupted wipe first if `wipe.pending` exists.
    /// - Existing data + no key → [`VaultError::DeviceKeyMissing`]; a key that
    ///   does not open the key check → [`VaultError::WrongDeviceKey`]. In
    ///   both cases nothing is written.
    /// - No data yet → loads the provider's key or creates one.
    pub fn open(
        data_dir: &Path,
        keys: Arc<dyn KeyProvider>,
        opts: JournalOptions,
    ) -> Result<Journal> {
        create_private_dir(data_dir)?;
        let finished_wipe = match fs::symlink_metadata(data_dir.join(WIPE_MARKER)) {
            Ok(_) => {
                tracing::warn!(dir = %data_dir.display(), "finishing an interrupted wipe");
                Some(wipe_dir(data_dir, Arc::clone(&keys))?)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(VaultError::io("check wipe marker")(e)),
        };

        let db_path = data_dir.join(DB_FILE);
        // Owner-only before SQLite opens it: -wal and -shm inherit this mode.
        if !db_path.exists() {
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&db_path)
                .map_err(VaultError::io("create database file"))?;
        }
        let mut conn = Connection::open(&db_path).map_err(VaultError::db("open database"))?;
        configure(&conn)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(VaultError::db("read user_version"))?;

        let mut key_check_repaired = false;
        let device_key = if version == 0 {
            Self::init_fresh(&mut conn, data_dir, keys.as_ref(), &opts)?
        } else {
            let (key, damaged) = Self::check_existing(&conn, version, keys.as_ref())?;
            configure_after_key_check(&conn, &opts)?;
            if damaged {
                rewrite_key_check(&conn, &key)?;
                key_check_repaired = true;
            }
            if version < SCHEMA_VERSION {
                let tx = conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)
                    .map_err(VaultError::db("begin migration"))?;
                schema::migrate(&tx, version)?;
                tx.commit().map_err(VaultError::db("commit migration"))?;
            }
            key
        };

        let (hwm, hwm_found) = HighWater::open(data_dir, || current_marks(&conn))
            .map_err(VaultError::io("open high-water mark"))?;
        match hwm_found {
            Found::Read { skipped: 0 } => {}
            Found::Read { skipped } => {
                tracing::warn!(skipped, "high-water mark: damaged records skipped")
            }
            Found::Missing if version != 0 => {
                tracing::warn!("no high-water mark; rebuilt from the database")
            }
            Found::Missing => {}
            Found::Damaged => {
                tracing::error!("high-water mark file damaged; set aside and rebuilt")
            }
        }
        let mut journal = Journal {
            conn,
            dir: data_dir.to_path_buf(),
            keys,
            device_key,
            mission_keys: HashMap::new(),
            finished_wipe,
            hwm,
            hwm_found,
            losses: Vec::new(),
            key_check_repaired,
        };
        journal.finish_interrupted_deletes()?;
        journal.check_high_water()?;
        tracing::info!(
            dir = %journal.dir.display(),
            provider = %journal.keys.describe(),
            "vault opened"
        );
        Ok(journal)
    }

    /// A database with nothing committed: load or create the key, then write
    /// schema, key check and version in one transaction.
    fn init_fresh(
        conn: &mut Connection,
        data_dir: &Path,
        keys: &dyn KeyProvider,
        opts: &JournalOptions,
    ) -> Result<SecretKey> {
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(VaultError::db("inspect database"))?;
        if objects != 0 {
            // Tables without our version stamp: someone else's file. Never touch it.
            return Err(VaultError::NotAVault);
        }
        let key = match keys.load()? {
            Some(k) => k,
            None => keys.create()?,
        };
        configure_after_key_check(conn, opts)?;
        let check = crypto::seal(&key, AAD_KEY_CHECK, KEY_CHECK_PLAINTEXT)?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(VaultError::db("begin schema creation"))?;
        schema::create(&tx)?;
        tx.execute(
            "INSERT INTO meta(name, value) VALUES (?1, ?2)",
            params![KEY_CHECK_NAME, check],
        )
        .map_err(VaultError::db("write key check"))?;
        tx.commit()
            .map_err(VaultError::db("commit schema creation"))?;
        // The database file is new: make its directory entry durable.
        sync_dir(data_dir)?;
        tracing::info!(dir = %data_dir.display(), version = SCHEMA_VERSION, "new vault created");
        Ok(key)
    }

    /// Verifies an existing database against the provider's key, read-only.
    fn check_existing(
        conn: &Connection,
        version: i64,
        keys: &dyn KeyProvider,
    ) -> Result<(SecretKey, bool)> {
        let app_id: i64 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(VaultError::db("read application_id"))?;
        if app_id != APPLICATION_ID {
            return Err(VaultError::NotAVault);
        }
        if version > SCHEMA_VERSION {
            return Err(VaultError::SchemaTooNew {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let check: Option<Vec<u8>> = conn
            .query_row(
                "SELECT value FROM meta WHERE name = ?1",
                [KEY_CHECK_NAME],
                |r| bytes_at(r, 0),
            )
            .optional()
            .map_err(VaultError::db("read key check"))?;
        let Some(check) = check else {
            return Err(VaultError::Corrupt("key check is missing".into()));
        };
        let Some(key) = keys.load()? else {
            tracing::error!(provider = %keys.describe(), "vault has data but no device key");
            return Err(VaultError::DeviceKeyMissing);
        };
        match crypto::open(&key, AAD_KEY_CHECK, &check) {
            Ok(pt) if pt == KEY_CHECK_PLAINTEXT => Ok((key, false)),
            Ok(_) | Err(CryptoError::Auth) | Err(CryptoError::Truncated) => {
                // A damaged check record and a wrong key look alike here;
                // the data sealed under the key tells them apart.
                if key_opens_sealed_data(conn, &key)? {
                    tracing::warn!(
                        provider = %keys.describe(),
                        "vault key check record damaged; the device key opens the data"
                    );
                    Ok((key, true))
                } else {
                    tracing::error!(provider = %keys.describe(), "device key does not match vault");
                    Err(VaultError::WrongDeviceKey)
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `delete_mission` zeroes the wrapped key before deleting rows; if it was
    /// interrupted in between, the rows are unreadable: finish the delete.
    fn finish_interrupted_deletes(&mut self) -> Result<()> {
        let shredded: Vec<Vec<u8>> = {
            let mut stmt = self
                .conn
                .prepare("SELECT mission_id FROM missions WHERE wrapped_key = zeroblob(length(wrapped_key))")
                .map_err(VaultError::db("find shredded missions"))?;
            stmt.query_map([], |r| bytes_at(r, 0))
                .and_then(|rows| rows.collect())
                .map_err(VaultError::db("find shredded missions"))?
        };
        if shredded.is_empty() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(VaultError::db("begin finishing delete"))?;
        for id in &shredded {
            delete_rows(&tx, id)?;
        }
        tx.commit()
            .map_err(VaultError::db("commit finishing delete"))?;
        checkpoint_truncate(&self.conn);
        tracing::warn!(
            missions = shredded.len(),
            "finished interrupted mission deletes"
        );
        Ok(())
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// `Some` if `open` found a `wipe.pending` marker and finished that wipe
    /// (the UI may tell the crew that the device was wiped).
    pub fn finished_interrupted_wipe(&self) -> Option<&WipeReport> {
        self.finished_wipe.as_ref()
    }

    /// The unwrapped key of `mission`, from the cache or the database.
    /// The key check record was damaged and has been written anew (the
    /// device key opened the data it seals).
    pub fn key_check_repaired(&self) -> bool {
        self.key_check_repaired
    }

    /// Missions with acknowledged rows the database lost, from this open and
    /// earlier ones (see [`crate::hwm`]).
    pub fn losses(&self) -> &[Loss] {
        &self.losses
    }

    /// How the high-water mark file was found at open.
    pub fn high_water_found(&self) -> Found {
        self.hwm_found
    }

    /// Compares every mission with its high-water mark; records a gap as a
    /// sealed loss and sets the mark to what the database holds, so the
    /// same loss is not counted twice and the mission goes on.
    fn check_high_water(&mut self) -> Result<()> {
        let marks: Vec<(Uuid, Mark)> = self.hwm.marks().iter().map(|(k, v)| (*k, *v)).collect();
        for (mission, mark) in marks {
            let (gone, missing, now) = compare_mark(&self.conn, &mission, &mark)?;
            if missing == 0 {
                continue;
            }
            let before = self.recorded_loss(&mission)?;
            let total = before.saturating_add(missing);
            self.meta_put(&loss_name(&mission), &total.to_be_bytes())?;
            tracing::error!(
                mission = %mission,
                missing,
                acknowledged_seq = mark.seq,
                mission_gone = gone,
                "acknowledged journal rows are missing from the database"
            );
            let res = match now {
                Some(m) => self.hwm.record(mission, m.seq, m.tag),
                None => self.hwm.forget(mission),
            };
            res.map_err(VaultError::io("reset high-water mark"))?;
        }
        let names: Vec<String> = {
            let mut stmt = self
                .conn
                .prepare("SELECT name FROM meta WHERE name LIKE 'hwm.loss.%'")
                .map_err(VaultError::db("list losses"))?;
            stmt.query_map([], |r| r.get(0))
                .and_then(|rows| rows.collect())
                .map_err(VaultError::db("list losses"))?
        };
        for name in names {
            let Some(mission) = name
                .strip_prefix(LOSS_PREFIX)
                .and_then(|s| Uuid::parse_str(s).ok())
            else {
                continue;
            };
            let missing = self.recorded_loss(&mission)?;
            let gone = !mission_exists(&self.conn, &mission)?;
            self.losses.push(Loss {
                mission,
                missing,
                mission_gone: gone,
            });
        }
        Ok(())
    }

    fn recorded_loss(&self, mission: &Uuid) -> Result<u64> {
        let Some(v) = self.meta_get(&loss_name(mission))? else {
            return Ok(0);
        };
        let b: [u8; 8] = v
            .as_slice()
            .try_into()
            .map_err(|_| VaultError::Corrupt("loss record has the wrong length".into()))?;
        Ok(u64::from_be_bytes(b))
    }

    fn mission_key(&self, mission: Uuid) -> Result<SecretKey> {
        if let Some(k) = self.mission_keys.get(&mission) {
            return Ok(k.clone());
        }
        let wrapped: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT wrapped_key FROM missions WHERE mission_id = ?1")
            .and_then(|mut s| {
                s.query_row([mission.as_bytes().as_slice()], |r| bytes_at(r, 0))
                    .optional()
            })
            .map_err(VaultError::db("read mission key"))?;
        let wrapped = wrapped.ok_or(VaultError::UnknownMission { mission })?;
        let raw = zeroize::Zeroizing::new(
            crypto::open(&self.device_key, &mission_key_aad(&mission), &wrapped).map_err(|_| {
                tracing::error!(mission = %mission, "mission key failed to unwrap");
                VaultError::MissionKey { mission }
            })?,
        );
        SecretKey::from_slice(&raw).ok_or(VaultError::MissionKey { mission })
    }

    /// Like [`Self::mission_key`], and keeps it in the cache.
    fn mission_key_cached(&mut self, mission: Uuid) -> Result<SecretKey> {
        let key = self.mission_key(mission)?;
        self.mission_keys
            .entry(mission)
            .or_insert_with(|| key.clone());
        Ok(key)
    }

    /// Creates a mission with a fresh random data key, in state `"open"`.
    pub fn create_mission(&mut self, mission: Uuid, created_ms: i64) -> Result<()> {
        let key = SecretKey::generate()?;
        let wrapped = crypto::seal(&self.device_key, &mission_key_aad(&mission), key.expose())?;
        self.conn
            .execute(
                "INSERT INTO missions(mission_id, wrapped_key, state, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![mission.as_bytes().as_slice(), wrapped, DEFAULT_STATE, created_ms],
            )
            .map_err(|e| {
                if is_primary_key_violation(&e) {
                    VaultError::MissionExists { mission }
                } else {
                    VaultError::db("create mission")(e)
                }
            })?;
        // Cache only after the commit, so a failed insert leaves no ghost key.
        self.mission_keys.insert(mission, key);
        tracing::info!(mission = %mission, "mission created");
        Ok(())
    }

    /// All missions, oldest first.
    pub fn missions(&self) -> Result<Vec<MissionMeta>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT mission_id, state, created_ms FROM missions ORDER BY created_ms, mission_id")
            .map_err(VaultError::db("list missions"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((bytes_at(r, 0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(VaultError::db("list missions"))?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, state, created_ms) in rows {
            match Uuid::from_slice(&id) {
                Ok(id) => out.push(MissionMeta {
                    id,
                    state,
                    created_ms,
                }),
                // The CHECK constraint prevents this; skip rather than hide all others.
                Err(_) => tracing::error!(len = id.len(), "mission with malformed id skipped"),
            }
        }
        Ok(out)
    }

    /// Sets the free-form state of a mission (e.g. "open", "closed",
    /// "uploading"); at most 64 bytes.
    pub fn set_state(&mut self, mission: Uuid, state: &str) -> Result<()> {
        if state.is_empty() || state.len() > MAX_STATE_LEN {
            return Err(VaultError::InvalidInput("state must be 1 to 64 bytes"));
        }
        let n = self
            .conn
            .execute(
                "UPDATE missions SET state = ?2 WHERE mission_id = ?1",
                params![mission.as_bytes().as_slice(), state],
            )
            .map_err(VaultError::db("set mission state"))?;
        if n == 0 {
            return Err(VaultError::UnknownMission { mission });
        }
        tracing::info!(mission = %mission, state, "mission state set");
        Ok(())
    }

    /// Appends one record. Durable when it returns `Ok`.
    pub fn append(&mut self, mission: Uuid, seq: u64, plaintext: &[u8]) -> Result<()> {
        self.append_batch(mission, &[(seq, plaintext)])
    }

    /// Appends records in one transaction: all or none are stored. Durable
    /// when it returns `Ok`. A seq that exists (or is covered by the
    /// snapshot) fails the whole batch with [`VaultError::Duplicate`].
    pub fn append_batch(&mut self, mission: Uuid, records: &[(u64, &[u8])]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let key = self.mission_key_cached(mission)?;
        let mut sealed = Vec::with_capacity(records.len());
        let mut bytes = 0usize;
        for &(seq, pt) in records {
            let sql_seq = seq_to_sql(seq)?;
            check_len("record", pt.len(), MAX_RECORD_LEN)?;
            let s = crypto::seal(&key, &journal_aad(&mission, seq), pt)?;
            bytes += s.len();
            sealed.push((seq, sql_seq, s));
        }
        let id = mission.as_bytes().as_slice();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(VaultError::db("begin append"))?;
        let upto = snapshot_upto(&tx, id)?;
        {
            let mut stmt = tx
                .prepare_cached("INSERT INTO journal(mission_id, seq, sealed) VALUES (?1, ?2, ?3)")
                .map_err(VaultError::db("append"))?;
            for (seq, sql_seq, s) in &sealed {
                if upto.is_some_and(|u| *sql_seq <= u) {
                    return Err(VaultError::Duplicate { mission, seq: *seq });
                }
                stmt.execute(params![id, sql_seq, s]).map_err(|e| {
                    if is_primary_key_violation(&e) {
                        VaultError::Duplicate { mission, seq: *seq }
                    } else {
                        VaultError::db("append")(e)
                    }
                })?;
            }
        }
        tx.commit().map_err(VaultError::db("commit append"))?;
        if let Some((seq, _, s)) = sealed.last() {
            // The rows are durable already; a mark that lags is harmless
            // (only a later loss of these rows would go unnoticed).
            if let Err(e) = self.hwm.record(mission, *seq, hwm::tag_of(s)) {
                tracing::error!(mission = %mission, seq, error = %e, "high-water mark not written");
            }
        }
        tracing::debug!(
            mission = %mission,
            first_seq = records.first().map(|r| r.0),
            count = records.len(),
            bytes,
            "journal append"
        );
        Ok(())
    }

    /// Replaces the mission's snapshot with `plaintext` (the state after all
    /// records up to `upto_seq`) and deletes the journal rows it covers, in
    /// one transaction. Returns how many rows were compacted. A snapshot
    /// never moves backwards ([`VaultError::SnapshotRegress`]).
    pub fn write_snapshot(
        &mut self,
        mission: Uuid,
        upto_seq: u64,
        plaintext: &[u8],
    ) -> Result<u64> {
        let sql_upto = seq_to_sql(upto_seq)?;
        check_len("snapshot", plaintext.len(), MAX_SNAPSHOT_LEN)?;
        let key = self.mission_key_cached(mission)?;
        let sealed = crypto::seal(&key, &snapshot_aad(&mission, upto_seq), plaintext)?;
        let id = mission.as_bytes().as_slice();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(VaultError::db("begin snapshot"))?;
        let existing = snapshot_upto(&tx, id)?;
        if let Some(existing) = existing.filter(|e| *e > sql_upto) {
            return Err(VaultError::SnapshotRegress {
                mission,
                existing: seq_from_sql(existing),
                requested: upto_seq,
            });
        }
        tx.execute(
            "INSERT INTO snapshots(mission_id, upto_seq, sealed) VALUES (?1, ?2, ?3)
             ON CONFLICT(mission_id) DO UPDATE SET upto_seq = excluded.upto_seq, sealed = excluded.sealed",
            params![id, sql_upto, sealed],
        )
        .map_err(VaultError::db("write snapshot"))?;
        let compacted = tx
            .execute(
                "DELETE FROM journal WHERE mission_id = ?1 AND seq <= ?2",
                params![id, sql_upto],
            )
            .map_err(VaultError::db("compact journal"))?;
        tx.commit().map_err(VaultError::db("commit snapshot"))?;
        tracing::info!(
            mission = %mission,
            upto_seq,
            bytes = sealed.len(),
            compacted,
            "snapshot written"
        );
        Ok(compacted as u64)
    }

    fn journal_stats(&self, mission: Uuid) -> Result<(u64, u64)> {
        let stats: Option<(i64, i64)> = self
            .conn
            .prepare_cached(
                "SELECT (SELECT count(*) FROM journal WHERE mission_id = ?1),
                        (SELECT coalesce(sum(length(sealed)), 0) FROM journal WHERE mission_id = ?1)
                 FROM missions WHERE mission_id = ?1",
            )
            .and_then(|mut s| {
                s.query_row([mission.as_bytes().as_slice()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
            })
            .map_err(VaultError::db("read journal size"))?;
        let (rows, bytes) = stats.ok_or(VaultError::UnknownMission { mission })?;
        Ok((rows.unsigned_abs(), bytes.unsigned_abs()))
    }

    /// Journal rows of `mission` not yet compacted into the snapshot.
    pub fn journal_len(&self, mission: Uuid) -> Result<u64> {
        Ok(self.journal_stats(mission)?.0)
    }

    /// Sealed bytes of those rows (ciphertext, without the snapshot).
    pub fn journal_bytes(&self, mission: Uuid) -> Result<u64> {
        Ok(self.journal_stats(mission)?.1)
    }

    /// Recovers a mission: its snapshot and every authentic row after it.
    ///
    /// Rows that fail authentication are listed in `dropped` (the last one as
    /// [`DropReason::TornTail`], others as [`DropReason::Corrupt`]); the scan
    /// never stops at a bad row. A snapshot that fails authentication is
    /// [`VaultError::SnapshotCorrupt`], since the rows it replaced are gone.
    pub fn load(&self, mission: Uuid) -> Result<Recovered> {
        let key = self.mission_key(mission)?;
        let id = mission.as_bytes().as_slice();
        let snap: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT upto_seq, sealed FROM snapshots WHERE mission_id = ?1",
                [id],
                |r| Ok((r.get(0)?, bytes_at(r, 1)?)),
            )
            .optional()
            .map_err(VaultError::db("read snapshot"))?;
        let snapshot = match snap {
            None => None,
            Some((upto, sealed)) => {
                let upto = seq_from_sql(upto);
                match crypto::open(&key, &snapshot_aad(&mission, upto), &sealed) {
                    Ok(pt) => Some((upto, pt)),
                    Err(_) => {
                        tracing::error!(mission = %mission, upto_seq = upto, bytes = sealed.len(), "snapshot failed authentication");
                        return Err(VaultError::SnapshotCorrupt { mission });
                    }
                }
            }
        };
        let rows: Vec<(i64, Vec<u8>)> = {
            let mut stmt = self
                .conn
                .prepare_cached(
                    "SELECT seq, sealed FROM journal WHERE mission_id = ?1 ORDER BY seq",
                )
                .map_err(VaultError::db("read journal"))?;
            stmt.query_map([id], |r| Ok((r.get(0)?, bytes_at(r, 1)?)))
                .and_then(|rows| rows.collect())
                .map_err(VaultError::db("read journal"))?
        };
        let upto = snapshot.as_ref().map(|(s, _)| *s);
        let last = rows.len().saturating_sub(1);
        let mut out = Recovered {
            snapshot,
            records: Vec::with_capacity(rows.len()),
            dropped: Vec::new(),
        };
        for (i, (seq, sealed)) in rows.into_iter().enumerate() {
            let seq = seq_from_sql(seq);
            if upto.is_some_and(|u| seq <= u) {
                // Compaction deletes these in the snapshot's transaction.
                tracing::warn!(mission = %mission, seq, "row covered by snapshot ignored");
                continue;
            }
            match crypto::open(&key, &journal_aad(&mission, seq), &sealed) {
                Ok(pt) => out.records.push((seq, pt)),
                Err(e) => {
                    let reason = if i == last {
                        DropReason::TornTail
                    } else {
                        DropReason::Corrupt
                    };
                    tracing::warn!(mission = %mission, seq, bytes = sealed.len(), ?reason, error = %e, "journal row dropped");
                    out.dropped.push(Dropped { seq, reason });
                }
            }
        }
        tracing::info!(
            mission = %mission,
            snapshot_seq = upto,
            records = out.records.len(),
            dropped = out.dropped.len(),
            "mission loaded"
        );
        Ok(out)
    }

    /// Stores a blob of `mission` (an ECG strip) under the SHA-256 of its
    /// plaintext, sealed with the mission key. Storing the same blob again
    /// is a no-op. Durable when it returns `Ok`.
    pub fn put_blob(&mut self, mission: Uuid, plaintext: &[u8]) -> Result<[u8; 32]> {
        check_len("blob", plaintext.len(), MAX_BLOB_LEN)?;
        let hash = crypto::sha256(plaintext);
        let key = self.mission_key_cached(mission)?;
        let sealed = crypto::seal(&key, &blob_aad(&mission, &hash), plaintext)?;
        self.conn
            .execute(
                "INSERT OR IGNORE INTO blobs(mission_id, hash, sealed) VALUES (?1, ?2, ?3)",
                params![mission.as_bytes().as_slice(), hash.as_slice(), sealed],
            )
            .map_err(VaultError::db("store blob"))?;
        tracing::debug!(mission = %mission, bytes = plaintext.len(), "blob stored");
        Ok(hash)
    }

    /// The plaintext of a blob, checked against its name. `None` if absent.
    pub fn get_blob(&self, mission: Uuid, hash: &[u8; 32]) -> Result<Option<Vec<u8>>> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT sealed FROM blobs WHERE mission_id = ?1 AND hash = ?2")
            .and_then(|mut s| {
                s.query_row(
                    params![mission.as_bytes().as_slice(), hash.as_slice()],
                    |r| bytes_at(r, 0),
                )
                .optional()
            })
            .map_err(VaultError::db("read blob"))?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let key = self.mission_key(mission)?;
        let pt = crypto::open(&key, &blob_aad(&mission, hash), &sealed).map_err(|_| {
            tracing::error!(mission = %mission, bytes = sealed.len(), "blob failed authentication");
            VaultError::Corrupt("blob failed authentication".into())
        })?;
        if crypto::sha256(&pt) != *hash {
            return Err(VaultError::Corrupt("blob does not match its hash".into()));
        }
        Ok(Some(pt))
    }

    /// Names of all blobs of `mission`.
    pub fn blob_hashes(&self, mission: Uuid) -> Result<Vec<[u8; 32]>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT hash FROM blobs WHERE mission_id = ?1 ORDER BY hash")
            .map_err(VaultError::db("list blobs"))?;
        let rows = stmt
            .query_map([mission.as_bytes().as_slice()], |r| bytes_at(r, 0))
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(VaultError::db("list blobs"))?;
        Ok(rows.into_iter().filter_map(|h| h.try_into().ok()).collect())
    }

    /// Crypto-shreds a mission (after a verified upload): zeroes its wrapped
    /// key and commits (from then on its rows are unreadable), then deletes
    /// its rows, then checkpoints the WAL so no old page keeps the key.
    pub fn delete_mission(&mut self, mission: Uuid) -> Result<()> {
        let id = mission.as_bytes().as_slice();
        if !mission_exists(&self.conn, &mission)? {
            return Err(VaultError::UnknownMission { mission });
        }
        // The mark goes first: a crash after it leaves a mission without a
        // mark (unchecked until its next row), never a mark without its
        // mission (a false loss).
        self.hwm
            .forget(mission)
            .map_err(VaultError::io("forget high-water mark"))?;
        let n = self
            .conn
            .execute(
                "UPDATE missions SET wrapped_key = zeroblob(length(wrapped_key)) WHERE mission_id = ?1",
                [id],
            )
            .map_err(VaultError::db("shred mission key"))?;
        if n == 0 {
            return Err(VaultError::UnknownMission { mission });
        }
        self.mission_keys.remove(&mission);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(VaultError::db("begin mission delete"))?;
        let rows = delete_rows(&tx, id)?;
        tx.execute("DELETE FROM meta WHERE name = ?1", [loss_name(&mission)])
            .map_err(VaultError::db("delete loss record"))?;
        tx.commit()
            .map_err(VaultError::db("commit mission delete"))?;
        checkpoint_truncate(&self.conn);
        self.losses.retain(|l| l.mission != mission);
        tracing::info!(mission = %mission, rows, "mission deleted");
        Ok(())
    }

    /// Stores a small value sealed under the device key (e.g. the wrong-PIN
    /// counter). Replaces an existing value of the same name.
    pub fn meta_put(&mut self, name: &str, value: &[u8]) -> Result<()> {
        check_meta_name(name)?;
        check_len("meta value", value.len(), MAX_META_LEN)?;
        let sealed = crypto::seal(&self.device_key, &meta_aad(name), value)?;
        self.conn
            .execute(
                "INSERT INTO meta(name, value) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                params![name, sealed],
            )
            .map_err(VaultError::db("write meta"))?;
        tracing::debug!(name, bytes = value.len(), "meta written");
        Ok(())
    }

    /// Stores several values in one transaction: after a crash either all
    /// of them or none are there (a provisioning package). Values may be
    /// larger than [`MAX_META_LEN`], up to [`MAX_META_BATCH_LEN`] in all.
    pub fn meta_put_all(&mut self, items: &[(&str, &[u8])]) -> Result<()> {
        let total: usize = items.iter().map(|(_, v)| v.len()).sum();
        check_len("meta batch", total, MAX_META_BATCH_LEN)?;
        let mut sealed = Vec::with_capacity(items.len());
        for (name, value) in items {
            check_meta_name(name)?;
            sealed.push((
                *name,
                crypto::seal(&self.device_key, &meta_aad(name), value)?,
            ));
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(VaultError::db("begin meta batch"))?;
        for (name, value) in &sealed {
            tx.execute(
                "INSERT INTO meta(name, value) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )
            .map_err(VaultError::db("write meta"))?;
        }
        tx.commit().map_err(VaultError::db("commit meta batch"))?;
        tracing::debug!(values = items.len(), bytes = total, "meta batch written");
        Ok(())
    }

    /// Reads a value stored with [`Self::meta_put`]; a tampered value is
    /// [`VaultError::Corrupt`].
    pub fn meta_get(&self, name: &str) -> Result<Option<Vec<u8>>> {
        check_meta_name(name)?;
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                bytes_at(r, 0)
            })
            .optional()
            .map_err(VaultError::db("read meta"))?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        crypto::open(&self.device_key, &meta_aad(name), &sealed)
            .map(Some)
            .map_err(|_| {
                tracing::error!(name, "meta value failed authentication");
                VaultError::Corrupt(format!("meta value '{name}' failed authentication"))
            })
    }

    /// Removes a meta value; `true` if it existed.
    pub fn meta_delete(&mut self, name: &str) -> Result<bool> {
        check_meta_name(name)?;
        let n = self
            .conn
            .execute("DELETE FROM meta WHERE name = ?1", [name])
            .map_err(VaultError::db("delete meta"))?;
        Ok(n > 0)
    }

    /// Wipes the vault, keys first. See [`Self::wipe_with_hook`].
    pub fn wipe(self) -> Result<WipeReport> {
        self.wipe_with_hook(|_| {})
    }

    /// Wipes the vault:
    /// 1. writes the `wipe.pending` marker (so a crash is finished at the next
    ///    open),
    /// 2. destroys the device key: from here nothing on disk, nor a copy of it
    ///    taken earlier, can be decrypted; then calls `after_key_destroyed`
    ///    with the data directory (a test hook; pass `|_| {}`),
    /// 3. zeroes every wrapped mission key and clears meta,
    /// 4. closes and deletes `vault.sqlite`, `-wal`, `-shm`,
    /// 5. removes the marker.
    ///
    /// If the key cannot be destroyed or a file cannot be deleted, the
    /// remaining steps still run, the marker stays and the error is returned.
    pub fn wipe_with_hook(self, after_key_destroyed: impl FnOnce(&Path)) -> Result<WipeReport> {
        let Journal {
            conn,
            dir,
            keys,
            device_key,
            mission_keys,
            ..
        } = self;
        // Zeroize our copies first; the wipe needs no key.
        drop(device_key);
        drop(mission_keys);
        run_wipe(&dir, keys.as_ref(), Some(conn), after_key_destroyed)
    }
}

/// Deletes a mission's rows (children first, for the foreign keys).
fn delete_rows(tx: &rusqlite::Transaction<'_>, id: &[u8]) -> Result<usize> {
    let mut rows = 0;
    for sql in [
        "DELETE FROM journal WHERE mission_id = ?1",
        "DELETE FROM snapshots WHERE mission_id = ?1",
        "DELETE FROM blobs WHERE mission_id = ?1",
        "DELETE FROM missions WHERE mission_id = ?1",
    ] {
        rows += tx
            .execute(sql, [id])
            .map_err(VaultError::db("delete mission rows"))?;
    }
    Ok(rows)
}

/// Wipes a data directory without an open journal (e.g. when it cannot be
/// opened because the key is wrong). Same steps as [`Journal::wipe_with_hook`].
pub fn wipe_dir(data_dir: &Path, keys: Arc<dyn KeyProvider>) -> Result<WipeReport> {
    let db = data_dir.join(DB_FILE);
    let conn = match fs::symlink_metadata(&db) {
        Ok(_) => Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(
                |e| tracing::warn!(error = %e, "wipe: database not openable; deleting it unread"),
            )
            .ok(),
        Err(_) => None,
    };
    run_wipe(data_dir, keys.as_ref(), conn, |_| {})
}

/// Step 3: zero every wrapped key and clear meta. Errors are the caller's to
/// ignore: the key is already gone and the files are deleted next.
fn shred_db(conn: &mut Connection) -> Result<usize> {
    configure(conn)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(VaultError::db("begin wipe"))?;
    let n: i64 = tx
        .query_row("SELECT count(*) FROM missions", [], |r| r.get(0))
        .map_err(VaultError::db("count missions"))?;
    tx.execute(
        "UPDATE missions SET wrapped_key = zeroblob(length(wrapped_key))",
        [],
    )
    .map_err(VaultError::db("zero mission keys"))?;
    tx.execute("DELETE FROM meta", [])
        .map_err(VaultError::db("clear meta"))?;
    tx.commit().map_err(VaultError::db("commit wipe"))?;
    Ok(usize::try_from(n).unwrap_or(0))
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

fn run_wipe(
    dir: &Path,
    keys: &dyn KeyProvider,
    conn: Option<Connection>,
    after_key_destroyed: impl FnOnce(&Path),
) -> Result<WipeReport> {
    let start = Instant::now();
    tracing::warn!(dir = %dir.display(), provider = %keys.describe(), "vault wipe started");

    // 1. Marker. Failing to write it (e.g. disk full) must not stop the wipe.
    let marker = dir.join(WIPE_MARKER);
    let marked = create_private_dir(dir).and_then(|()| {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&marker)
            .and_then(|mut f| {
                f.write_all(b"rettpad wipe pending\n")?;
                f.sync_all()
            })
            .map_err(VaultError::io("write wipe marker"))?;
        sync_dir(dir)
    });
    if let Err(e) = &marked {
        tracing::error!(error = %e, "wipe marker not written; wiping anyway");
    }

    // 2. Key. After this, every copy of the data is ciphertext without a key.
    let key_start = Instant::now();
    let destroyed = keys.destroy();
    let key_destroy = key_start.elapsed();
    if let Err(e) = &destroyed {
        tracing::error!(error = %e, "device key destroy failed; continuing wipe");
    }
    after_key_destroyed(dir);

    // 3. Zero wrapped keys and meta, in case deleted blocks survive.
    let mut missions_destroyed = 0;
    if let Some(mut conn) = conn {
        match shred_db(&mut conn) {
            Ok(n) => missions_destroyed = n,
            Err(e) => {
                tracing::warn!(error = %e, "wipe: zeroing keys in database failed; deleting files anyway")
            }
        }
        // 4a. Close before deleting so no handle rewrites the files.
        if let Err((conn, e)) = conn.close() {
            tracing::warn!(error = %e, "wipe: database close failed");
            drop(conn);
        }
    }

    // 4b. Delete the files.
    let mut deleted: Result<()> = Ok(());
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let path = dir.join(format!("{DB_FILE}{suffix}"));
        if let Err(e) = remove_if_present(&path) {
            tracing::error!(error = %e, file = %path.display(), "wipe: delete failed");
            if deleted.is_ok() {
                deleted = Err(VaultError::io("delete database file")(e));
            }
        }
    }
    for name in [
        HWM_FILE.to_string(),
        format!("{HWM_FILE}.tmp"),
        format!("{HWM_FILE}.damaged"),
    ] {
        if let Err(e) = remove_if_present(&dir.join(&name)) {
            tracing::error!(error = %e, file = %name, "wipe: delete failed");
            if deleted.is_ok() {
                deleted = Err(VaultError::io("delete high-water mark")(e));
            }
        }
    }
    if dir.exists() {
        sync_dir(dir)?;
    }
    // Keep the marker on failure so the next open tries again.
    destroyed?;
    deleted?;

    // 5. Done.
    remove_if_present(&marker).map_err(VaultError::io("remove wipe marker"))?;
    sync_dir(dir)?;
    let report = WipeReport {
        missions_destroyed,
        key_destroy,
        total: start.elapsed(),
    };
    tracing::warn!(
        missions = report.missions_destroyed,
        key_destroy_us = report.key_destroy.as_micros() as u64,
        total_ms = report.total.as_millis() as u64,
        "vault wiped"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryKeyProvider;

    fn setup() -> (tempfile::TempDir, Arc<MemoryKeyProvider>, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(MemoryKeyProvider::new());
        let j = Journal::open(dir.path(), keys.clone(), JournalOptions::default()).unwrap();
        (dir, keys, j)
    }

    #[test]
    fn aad_layout_is_prefix_id_seq_be() {
        let id = Uuid::from_bytes([7; 16]);
        let aad = journal_aad(&id, 0x0102);
        assert_eq!(&aad[..18], b"rettpad/v1/journal");
        assert_eq!(&aad[18..34], &[7; 16]);
        assert_eq!(&aad[34..], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_ne!(journal_aad(&id, 1), journal_aad(&id, 2));
        assert_ne!(snapshot_aad(&id, 1)[..], journal_aad(&id, 1)[..]);
    }

    #[test]
    fn fresh_open_creates_key_and_schema() {
        let (dir, keys, j) = setup();
        assert!(keys.has_key());
        assert!(j.missions().unwrap().is_empty());
        assert!(dir.path().join(DB_FILE).exists());
        let v: i64 = j
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let mode: String = j
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = j
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(sync, 2, "synchronous=FULL");
        let sd: i64 = j
            .conn
            .pragma_query_value(None, "secure_delete", |r| r.get(0))
            .unwrap();
        assert_eq!(sd, 1);
        let fk: i64 = j
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn duplicate_seq_is_refused_and_not_overwritten() {
        let (_d, _k, mut j) = setup();
        let m = Uuid::now_v7();
        j.create_mission(m, 1).unwrap();
        j.append(m, 1, b"first").unwrap();
        let err = j.append(m, 1, b"second").unwrap_err();
        assert!(matches!(err, VaultError::Duplicate { seq: 1, .. }), "{err}");
        // A batch with one duplicate stores nothing.
        let err = j.append_batch(m, &[(2, b"b"), (1, b"x")]).unwrap_err();
        assert!(matches!(err, VaultError::Duplicate { seq: 1, .. }));
        let r = j.load(m).unwrap();
        assert_eq!(r.records, vec![(1, b"first".to_vec())]);
        assert!(matches!(
            j.create_mission(m, 2),
            Err(VaultError::MissionExists { .. })
        ));
    }

    #[test]
    fn append_below_snapshot_is_refused() {
        let (_d, _k, mut j) = setup();
        let m = Uuid::now_v7();
        j.create_mission(m, 1).unwrap();
        j.append_batch(m, &[(1, b"a"), (2, b"b")]).unwrap();
        assert_eq!(j.write_snapshot(m, 2, b"ab").unwrap(), 2);
        assert!(matches!(
            j.append(m, 2, b"again"),
            Err(VaultError::Duplicate { seq: 2, .. })
        ));
        assert!(matches!(
            j.write_snapshot(m, 1, b"a"),
            Err(VaultError::SnapshotRegress {
                existing: 2,
                requested: 1,
                ..
            })
        ));
        j.append(m, 3, b"c").unwrap();
        let r = j.load(m).unwrap();
        assert_eq!(r.snapshot, Some((2, b"ab".to_vec())));
        assert_eq!(r.records, vec![(3, b"c".to_vec())]);
    }

    #[test]
    fn unknown_mission_and_limits() {
        let (_d, _k, mut j) = setup();
        let m = Uuid::now_v7();
        assert!(matches!(
            j.append(m, 1, b"x"),
            Err(VaultError::UnknownMission { .. })
        ));
        assert!(matches!(j.load(m), Err(VaultError::UnknownMission { .. })));
        assert!(matches!(
            j.journal_len(m),
            Err(VaultError::UnknownMission { .. })
        ));
        assert!(matches!(
            j.delete_mission(m),
            Err(VaultError::UnknownMission { .. })
        ));
        j.create_mission(m, 1).unwrap();
        assert!(matches!(
            j.append(m, u64::MAX, b"x"),
            Err(VaultError::SeqOutOfRange { .. })
        ));
        j.append(m, i64::MAX as u64, b"max").unwrap();
        assert!(matches!(
            j.meta_put("key_check", b"x"),
            Err(VaultError::InvalidInput(_))
        ));
        assert!(matches!(
            j.set_state(m, ""),
            Err(VaultError::InvalidInput(_))
        ));
        let big = vec![0u8; MAX_META_LEN + 1];
        assert!(matches!(
            j.meta_put("x", &big),
            Err(VaultError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_meta_batch_is_stored_whole_or_not_at_all() {
        let (_d, _k, mut j) = setup();
        j.meta_put("fleet.a", b"old").unwrap();
        let big = vec![7u8; MAX_META_LEN * 4];
        // The second name is reserved: nothing of the batch is written.
        assert!(
            j.meta_put_all(&[("fleet.a", b"new"), ("key_check", b"x")])
                .is_err()
        );
        assert_eq!(j.meta_get("fleet.a").unwrap().as_deref(), Some(&b"old"[..]));
        j.meta_put_all(&[("fleet.a", b"new"), ("fleet.b", &big)])
            .unwrap();
        assert_eq!(j.meta_get("fleet.a").unwrap().as_deref(), Some(&b"new"[..]));
        assert_eq!(
            j.meta_get("fleet.b").unwrap().map(|v| v.len()),
            Some(big.len())
        );
        let huge = vec![0u8; MAX_META_BATCH_LEN + 1];
        assert!(matches!(
            j.meta_put_all(&[("fleet.c", &huge)]),
            Err(VaultError::TooLarge { .. })
        ));
    }

    #[test]
    fn state_and_stats() {
        let (_d, _k, mut j) = setup();
        let m = Uuid::now_v7();
        j.create_mission(m, 42).unwrap();
        assert_eq!(
            j.missions().unwrap(),
            vec![MissionMeta {
                id: m,
                state: "open".into(),
                created_ms: 42
            }]
        );
        j.set_state(m, "closed").unwrap();
        assert_eq!(j.missions().unwrap()[0].state, "closed");
        j.append_batch(m, &[(1, b"abc"), (2, b"de")]).unwrap();
        assert_eq!(j.journal_len(m).unwrap(), 2);
        assert_eq!(
            j.journal_bytes(m).unwrap(),
            (3 + 2 + 2 * crypto::OVERHEAD) as u64
        );
    }

    #[test]
    fn interrupted_delete_is_finished_at_open() {
        let (dir, keys, mut j) = setup();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        j.create_mission(a, 1).unwrap();
        j.create_mission(b, 2).unwrap();
        j.append(a, 1, b"a").unwrap();
        j.append(b, 1, b"b").unwrap();
        // Simulate a crash between the two steps of delete_mission.
        j.conn
            .execute(
                "UPDATE missions SET wrapped_key = zeroblob(length(wrapped_key)) WHERE mission_id = ?1",
                [a.as_bytes().as_slice()],
            )
            .unwrap();
        drop(j);
        let j = Journal::open(dir.path(), keys, JournalOptions::default()).unwrap();
        let ids: Vec<Uuid> = j.missions().unwrap().into_iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![b]);
        let rows: i64 = j
            .conn
            .query_row("SELECT count(*) FROM journal", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
    }

    #[test]
    fn journal_can_move_to_a_worker_thread() {
        fn is_send<T: Send>() {}
        is_send::<Journal>();
        is_send::<VaultError>();
    }

    #[test]
    fn recovered_debug_has_no_plaintext() {
        let r = Recovered {
            snapshot: Some((1, b"SECRET-SNAP".to_vec())),
            records: vec![(2, b"SECRET-REC".to_vec())],
            dropped: vec![],
        };
        let s = format!("{r:?}");
        assert!(!s.contains("SECRET") && !s.contains("83, 69"), "{s}");
        assert!(s.contains("(2, 10)"), "{s}");
    }
}
