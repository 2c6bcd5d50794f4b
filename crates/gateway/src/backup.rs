//! Encrypted backups and the restore that loses no receipted packet
//! (docs/backup.md).
//!
//! A backup is a directory named by its UUIDv7 (its time) holding each
//! SQLite database of the gateway (the store of sealed originals, the
//! archive when it is on SQLite, the dispatch queue) as a consistent
//! snapshot, sealed in 1 MiB chunks under the backup key, and a sealed
//! manifest with every file's size, chunk count and SHA-256. The snapshot
//! is `VACUUM INTO`: one read transaction, so a busy intake never restarts
//! it (the page-copying backup API starts over on every write).
//!
//! A restore verifies the whole backup before it touches anything, puts
//! the archive back, then files again every original the live store
//! received since the backup's archive was complete: the store is the
//! source of truth, so every receipt ever issued has its protocol again.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rettpad_crypto::{SecretKey, open, seal, sha256};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::{BackupEntry, GatewayConfig};

/// Plaintext bytes per sealed chunk.
pub const CHUNK: usize = 1 << 20;
const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.sealed";
/// Written by every backup run: the admin page and monitoring read it.
pub const STATUS_FILE: &str = "backup-status.json";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no [backup] section in the configuration")]
    NotConfigured,
    #[error("backup key {0}: {1}")]
    Key(PathBuf, String),
    #[error("cannot write the backup to {0}: {1}")]
    Write(PathBuf, String),
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, String),
    #[error("snapshot of {0} failed: {1}")]
    Snapshot(PathBuf, String),
    #[error("{0}: the manifest does not open: not made with this backup key, or tampered with")]
    Manifest(PathBuf),
    #[error("{file}: {why}; nothing was restored")]
    Damaged { file: String, why: String },
    #[error("backup {0} belongs to another gateway ({1})")]
    OtherGateway(Uuid, String),
    #[error("backup {0} is of organisation {1:?}, this gateway archives for {2:?}")]
    OtherOrganisation(Uuid, String, String),
    #[error("{0}")]
    Window(String),
    #[error("replay: {0}")]
    Replay(String),
}

/// One sealed file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// The file name in the backup and the role it restores to.
    pub name: String,
    pub size: u64,
    /// Of the plaintext.
    pub sha256: String,
    pub chunks: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    pub id: Uuid,
    /// SHA-256 of the receipt-signing public key: which gateway.
    pub gateway: String,
    /// The archive's default organisation.
    pub org: String,
    pub created_ms: i64,
    pub files: Vec<FileEntry>,
    /// Packets in the store at the snapshot.
    pub packets: u64,
    /// Every packet received before this was filed in the archive copy:
    /// the replay after a restore starts here.
    pub archive_complete_ms: i64,
    /// The archive on PostgreSQL: its base backup (the files
    /// `backup_pg::BASE_*`), restored with the archived WAL.
    #[serde(default)]
    pub pg: Option<crate::backup_pg::PgBaseInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct Status {
    pub last_ok_ms: Option<i64>,
    pub last_ok_id: Option<Uuid>,
    pub last_error_ms: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Debug)]
pub struct BackupReport {
    pub id: Uuid,
    pub dir: PathBuf,
    pub bytes: u64,
    pub packets: u64,
    /// Old backups removed by the retention.
    pub removed: Vec<Uuid>,
}

fn entry(cfg: &GatewayConfig) -> Result<&BackupEntry, BackupError> {
    cfg.backup.as_ref().ok_or(BackupError::NotConfigured)
}

fn load_key(cfg: &GatewayConfig, path: &Path) -> Result<SecretKey, BackupError> {
    crate::keyring::secret_key(cfg, path).map_err(|why| BackupError::Key(path.to_path_buf(), why))
}

/// Which gateway: a hash of its receipt-signing public key (the identity
/// pads verify), not of anything a copy could share by accident.
fn gateway_id(cfg: &GatewayConfig) -> Result<String, BackupError> {
    let raw = std::fs::read_to_string(&cfg.signing_key)
        .map_err(|e| BackupError::Read(cfg.signing_key.clone(), e.to_string()))?;
    let der = hex::decode(raw.trim())
        .map_err(|_| BackupError::Read(cfg.signing_key.clone(), "not hex".into()))?;
    let signer = rettpad_transfer::receipt::ReceiptSigner::from_pkcs8(&der)
        .map_err(|e| BackupError::Read(cfg.signing_key.clone(), e.to_string()))?;
    Ok(hex::encode(&sha256(signer.public_hex().as_bytes())[..16]))
}

/// The databases a backup holds: `(name in the backup, live path)`.
fn databases(cfg: &GatewayConfig) -> Vec<(String, PathBuf)> {
    let mut out = vec![(
        "gateway.sqlite".to_string(),
        cfg.data_dir.join("gateway.sqlite"),
    )];
    let dispatch = cfg.data_dir.join("dispatch.sqlite");
    if dispatch.exists() {
        out.push(("dispatch.sqlite".into(), dispatch));
    }
    if let Some(p) = archive_path(cfg) {
        out.push(("archive.sqlite".into(), p));
    }
    out
}

/// The archive's SQLite file, when the archive is on SQLite.
pub fn archive_path(cfg: &GatewayConfig) -> Option<PathBuf> {
    cfg.archive_url().strip_prefix("sqlite:").map(PathBuf::from)
}

fn chunk_aad(id: Uuid, name: &str, index: u64, last: bool) -> Vec<u8> {
    format!("rettpad-backup/v1/{id}/{name}/{index}/{}", u8::from(last)).into_bytes()
}

fn create_private(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Seals `src` into `dst` in chunks: `u32` length, then the sealed chunk.
/// The index and a last-chunk flag are in each chunk's AAD, so a dropped,
/// reordered or cut chunk does not open.
pub fn seal_file(
    key: &SecretKey,
    id: Uuid,
    name: &str,
    src: &Path,
    dst: &Path,
) -> Result<FileEntry, BackupError> {
    let rd = |e: std::io::Error| BackupError::Read(src.to_path_buf(), e.to_string());
    let wr = |e: std::io::Error| BackupError::Write(dst.to_path_buf(), e.to_string());
    let size = std::fs::metadata(src).map_err(rd)?.len();
    let mut input = BufReader::new(File::open(src).map_err(rd)?);
    let mut out = BufWriter::new(create_private(dst).map_err(wr)?);
    let mut hash = Sha256::new();
    let chunks = size.div_ceil(CHUNK as u64).max(1);
    let mut buf = vec![0u8; CHUNK];
    for index in 0..chunks {
        let want = if index + 1 == chunks {
            (size - index * CHUNK as u64) as usize
        } else {
            CHUNK
        };
        input.read_exact(&mut buf[..want]).map_err(rd)?;
        hash.update(&buf[..want]);
        let sealed = seal(
            key,
            &chunk_aad(id, name, index, index + 1 == chunks),
            &buf[..want],
        )
        .map_err(|e| BackupError::Write(dst.to_path_buf(), e.to_string()))?;
        let len = u32::try_from(sealed.len())
            .map_err(|_| BackupError::Write(dst.to_path_buf(), "chunk too large".into()))?;
        out.write_all(&len.to_be_bytes()).map_err(wr)?;
        out.write_all(&sealed).map_err(wr)?;
    }
    let f = out.into_inner().map_err(|e| wr(e.into_error()))?;
    f.sync_all().map_err(wr)?;
    Ok(FileEntry {
        name: name.to_string(),
        size,
        sha256: hex::encode(hash.finalize()),
        chunks,
    })
}

/// Opens a sealed file into `dst` and checks it against its entry.
pub fn open_file(
    key: &SecretKey,
    id: Uuid,
    e: &FileEntry,
    src: &Path,
    dst: &Path,
) -> Result<(), BackupError> {
    let damaged = |why: String| BackupError::Damaged {
        file: src.display().to_string(),
        why,
    };
    let mut input = BufReader::new(File::open(src).map_err(|e| damaged(e.to_string()))?);
    let mut out = BufWriter::new(
        create_private(dst)
            .map_err(|err| BackupError::Write(dst.to_path_buf(), err.to_string()))?,
    );
    let mut hash = Sha256::new();
    let mut size = 0u64;
    for index in 0..e.chunks {
        let mut len = [0u8; 4];
        input
            .read_exact(&mut len)
            .map_err(|_| damaged(format!("cut off before chunk {index} of {}", e.chunks)))?;
        let len = u32::from_be_bytes(len) as usize;
        if len > CHUNK + 64 {
            return Err(damaged(format!("chunk {index} has an impossible length")));
        }
        let mut sealed = vec![0u8; len];
        input
            .read_exact(&mut sealed)
            .map_err(|_| damaged(format!("cut off inside chunk {index}")))?;
        let plain = open(
            key,
            &chunk_aad(id, &e.name, index, index + 1 == e.chunks),
            &sealed,
        )
        .map_err(|_| {
            damaged(format!(
                "chunk {index} does not open (tampered or reordered)"
            ))
        })?;
        hash.update(&plain);
        size += plain.len() as u64;
        out.write_all(&plain)
            .map_err(|err| BackupError::Write(dst.to_path_buf(), err.to_string()))?;
    }
    let mut rest = [0u8; 1];
    if input.read(&mut rest).map_err(|e| damaged(e.to_string()))? != 0 {
        return Err(damaged("bytes after the last chunk".into()));
    }
    if size != e.size || hex::encode(hash.finalize()) != e.sha256 {
        return Err(damaged("size or checksum differs from the manifest".into()));
    }
    let f = out
        .into_inner()
        .map_err(|err| BackupError::Write(dst.to_path_buf(), err.into_error().to_string()))?;
    f.sync_all()
        .map_err(|err| BackupError::Write(dst.to_path_buf(), err.to_string()))
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| BackupError::Write(dir.to_path_buf(), e.to_string()))
}

/// A consistent copy of a live SQLite database (`VACUUM INTO`).
fn snapshot(src: &Path, dst: &Path) -> Result<(), BackupError> {
    let err = |e: String| BackupError::Snapshot(src.to_path_buf(), e);
    let conn = rusqlite::Connection::open_with_flags(
        src,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| err(e.to_string()))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(|e| err(e.to_string()))?;
    let target = dst
        .to_str()
        .ok_or_else(|| err("path is not UTF-8".into()))?;
    conn.execute("VACUUM INTO ?1", [target])
        .map_err(|e| err(e.to_string()))?;
    crate::private::narrow_file(dst).map_err(err)
}

/// A backup's time, from its UUIDv7 name.
pub fn id_ms(id: Uuid) -> Option<i64> {
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    Some(secs as i64 * 1000 + i64::from(nanos / 1_000_000))
}

/// The backups in the directory, oldest first.
pub fn list(cfg: &GatewayConfig) -> Result<Vec<(Uuid, i64)>, BackupError> {
    let dir = &entry(cfg)?.dir;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut out: Vec<(Uuid, i64)> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| Uuid::parse_str(&e.file_name().to_string_lossy()).ok())
        .filter(|id| dir.join(id.to_string()).join(MANIFEST).exists())
        .filter_map(|id| Some((id, id_ms(id)?)))
        .collect();
    out.sort_by_key(|(_, ms)| *ms);
    Ok(out)
}

fn write_status(cfg: &GatewayConfig, f: impl FnOnce(&mut Status)) {
    let path = cfg.data_dir.join(STATUS_FILE);
    let mut s: Status = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    f(&mut s);
    if let Ok(b) = serde_json::to_vec_pretty(&s)
        && let Err(e) = crate::private::write(&path, &b)
    {
        tracing::error!(error = %e, "cannot record the backup status");
    }
}

/// The last backup run's outcome, for the admin page.
pub fn status(data_dir: &Path) -> Status {
    std::fs::read(data_dir.join(STATUS_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Makes a backup and applies the retention. A failure is logged as an
/// error and recorded for the admin page, never silent.
pub fn backup(cfg: &GatewayConfig, now_ms: i64) -> Result<BackupReport, BackupError> {
    match run(cfg, now_ms) {
        Ok(r) => {
            tracing::info!(id = %r.id, bytes = r.bytes, packets = r.packets, removed = r.removed.len(), "backup written");
            write_status(cfg, |s| {
                s.last_ok_ms = Some(now_ms);
                s.last_ok_id = Some(r.id);
            });
            Ok(r)
        }
        Err(e) => {
            tracing::error!(error = %e, "BACKUP FAILED");
            let text = e.to_string();
            write_status(cfg, |s| {
                s.last_error_ms = Some(now_ms);
                s.last_error = Some(text);
            });
            Err(e)
        }
    }
}

fn run(cfg: &GatewayConfig, now_ms: i64) -> Result<BackupReport, BackupError> {
    let b = entry(cfg)?;
    let key = load_key(cfg, &b.key)?;
    let gateway = gateway_id(cfg)?;
    crate::private::dir(&b.dir, crate::private::Existing::Narrow)
        .map_err(|e| BackupError::Write(b.dir.clone(), e))?;
    let id = Uuid::now_v7();
    // The snapshots are plaintext for a moment: beside the live databases,
    // never in the backup directory.
    let scratch = cfg.data_dir.join(format!(".backup-{id}"));
    let partial = b.dir.join(format!(".{id}.partial"));
    let res = (|| {
        crate::private::dir(&scratch, crate::private::Existing::Refuse)
            .map_err(|e| BackupError::Write(scratch.clone(), e))?;
        crate::private::dir(&partial, crate::private::Existing::Refuse)
            .map_err(|e| BackupError::Write(partial.clone(), e))?;
        // What the archive copy holds: read before the snapshots, so the
        // replay starts no later than the copy's gap.
        let store = crate::store::SqliteStore::open(&cfg.data_dir)
            .map_err(|e| BackupError::Snapshot(cfg.data_dir.clone(), e.to_string()))?;
        let store: &dyn crate::store::GatewayStore = &store;
        let archive_complete_ms = store
            .archive_oldest_queued()
            .map_err(|e| BackupError::Snapshot(cfg.data_dir.clone(), e.to_string()))?
            .map_or(now_ms, |q| q.min(now_ms));
        let packets = store
            .count()
            .map_err(|e| BackupError::Snapshot(cfg.data_dir.clone(), e.to_string()))?;
        let mut files = Vec::new();
        let mut bytes = 0;
        for (name, live) in databases(cfg) {
            let plain = scratch.join(&name);
            snapshot(&live, &plain)?;
            let fe = seal_file(
                &key,
                id,
                &name,
                &plain,
                &partial.join(format!("{name}.enc")),
            )?;
            let _ = std::fs::remove_file(&plain);
            bytes += fe.size;
            files.push(fe);
        }
        // The archive on PostgreSQL: a base backup (its WAL is archived
        // continuously by `wal-archive`).
        let mut pg = None;
        if let Some(url) = crate::backup_pg::pg_archive_url(cfg) {
            let tools = crate::backup_pg::PgTools::new(&pg_bindir(cfg)?);
            let base =
                crate::backup_pg::base_backup(&tools, &url, &scratch, crate::fleet_cli::now_ms)
                    .map_err(|e| {
                        BackupError::Snapshot(PathBuf::from("PostgreSQL archive"), e.to_string())
                    })?;
            for (name, plain) in &base.files {
                let fe = seal_file(&key, id, name, plain, &partial.join(format!("{name}.enc")))?;
                let _ = std::fs::remove_file(plain);
                bytes += fe.size;
                files.push(fe);
            }
            pg = Some(base.info);
        }
        let m = Manifest {
            format: FORMAT,
            id,
            gateway,
            org: cfg.org_of(""),
            created_ms: now_ms,
            files,
            packets,
            archive_complete_ms,
            pg,
        };
        let json = serde_json::to_vec(&m)
            .map_err(|e| BackupError::Write(partial.clone(), e.to_string()))?;
        let sealed = seal(&key, &manifest_aad(id), &json)
            .map_err(|e| BackupError::Write(partial.clone(), e.to_string()))?;
        let mp = partial.join(MANIFEST);
        let mut f =
            create_private(&mp).map_err(|e| BackupError::Write(mp.clone(), e.to_string()))?;
        f.write_all(&sealed)
            .and_then(|_| f.sync_all())
            .map_err(|e| BackupError::Write(mp.clone(), e.to_string()))?;
        sync_dir(&partial)?;
        let done = b.dir.join(id.to_string());
        std::fs::rename(&partial, &done)
            .map_err(|e| BackupError::Write(done.clone(), e.to_string()))?;
        sync_dir(&b.dir)?;
        Ok((done, bytes, packets))
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    let (dir, bytes, packets) = match res {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            return Err(e);
        }
    };
    let removed = retention(cfg, b, now_ms, id)?;
    if crate::backup_pg::pg_archive_url(cfg).is_some() {
        prune_wal(cfg)?;
    }
    Ok(BackupReport {
        id,
        dir,
        bytes,
        packets,
        removed,
    })
}

fn manifest_aad(id: Uuid) -> Vec<u8> {
    format!("rettpad-backup/v1/{id}/manifest").into_bytes()
}

/// Removes backups older than the retention, never the one just made.
fn retention(
    cfg: &GatewayConfig,
    b: &BackupEntry,
    now_ms: i64,
    keep: Uuid,
) -> Result<Vec<Uuid>, BackupError> {
    let horizon = now_ms - i64::from(b.retention_days) * 86_400_000;
    let mut removed = Vec::new();
    for (id, ms) in list(cfg)? {
        if id != keep && ms < horizon {
            std::fs::remove_dir_all(b.dir.join(id.to_string()))
                .map_err(|e| BackupError::Write(b.dir.clone(), e.to_string()))?;
            removed.push(id);
        }
    }
    Ok(removed)
}

/// The PostgreSQL programs: `[backup] pg_bindir`, else the newest
/// `/usr/lib/postgresql/*/bin` (Debian), else `pg_config --bindir`.
fn pg_bindir(cfg: &GatewayConfig) -> Result<PathBuf, BackupError> {
    if let Some(d) = cfg.backup.as_ref().and_then(|b| b.pg_bindir.clone()) {
        return Ok(d);
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("pg_basebackup").exists())
        .collect();
    dirs.sort();
    if let Some(d) = dirs.pop() {
        return Ok(d);
    }
    std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .filter(|d| d.join("pg_basebackup").exists())
        .ok_or_else(|| {
            BackupError::Snapshot(
                PathBuf::from("pg_basebackup"),
                "PostgreSQL's programs not found; set [backup] pg_bindir".into(),
            )
        })
}

/// WAL older than the oldest kept base backup serves no restore.
fn prune_wal(cfg: &GatewayConfig) -> Result<(), BackupError> {
    let oldest = list(cfg)?
        .into_iter()
        .filter_map(|(id, _)| manifest(cfg, id).ok()?.pg)
        .min_by_key(|i| i.start_ms);
    if let Some(info) = oldest {
        let dir = entry(cfg)?.dir.clone();
        crate::backup_pg::prune_wal(cfg, &info.start_wal)
            .map_err(|e| BackupError::Write(dir, e.to_string()))?;
    }
    Ok(())
}

/// Opens and checks a backup's manifest.
pub fn manifest(cfg: &GatewayConfig, id: Uuid) -> Result<Manifest, BackupError> {
    let b = entry(cfg)?;
    let key = load_key(cfg, &b.key)?;
    let path = b.dir.join(id.to_string()).join(MANIFEST);
    let sealed =
        std::fs::read(&path).map_err(|e| BackupError::Read(path.clone(), e.to_string()))?;
    let json =
        open(&key, &manifest_aad(id), &sealed).map_err(|_| BackupError::Manifest(path.clone()))?;
    let m: Manifest =
        serde_json::from_slice(&json).map_err(|_| BackupError::Manifest(path.clone()))?;
    if m.id != id || m.format != FORMAT {
        return Err(BackupError::Manifest(path));
    }
    let me = gateway_id(cfg)?;
    if m.gateway != me {
        return Err(BackupError::OtherGateway(id, m.gateway));
    }
    if m.org != cfg.org_of("") {
        return Err(BackupError::OtherOrganisation(id, m.org, cfg.org_of("")));
    }
    Ok(m)
}

#[derive(Debug)]
pub struct RestoreReport {
    pub backup: Uuid,
    pub backup_ms: i64,
    pub restored: Vec<String>,
    /// Originals queued again for the archive.
    pub replayed: u64,
    /// Packet ids the store receipted since the replay point.
    pub receipted: usize,
    /// Of those, not in the archive afterwards (must be empty).
    pub missing: Vec<Uuid>,
    /// Packets the archiver reports as unfileable (kept and reported).
    pub failed: u64,
    /// The archive on PostgreSQL: where the restored cluster stopped. The
    /// replay waits until PostgreSQL runs on it (`replay --since`).
    pub pg: Option<crate::backup_pg::PgRecovered>,
    /// Where that replay starts.
    pub replay_since_ms: i64,
}

/// For an archive on PostgreSQL: the empty directory the restored cluster
/// goes to, and the gateway.toml its `restore_command` reads.
pub struct PgTarget<'a> {
    pub data: &'a Path,
    pub config: &'a Path,
}

/// What to restore besides the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The archive only; the live store (the source of truth) stays.
    Archive,
    /// Every database, for a lost data disk: the store then holds only
    /// what the backup held.
    All,
}

/// Restores the newest backup made at or before `to_ms` and replays the
/// originals received since. The gateway must be stopped.
pub fn restore(
    cfg: &GatewayConfig,
    to_ms: i64,
    scope: Scope,
    pg_target: Option<PgTarget<'_>>,
    now_ms: i64,
) -> Result<RestoreReport, BackupError> {
    let on_pg = crate::backup_pg::pg_archive_url(cfg).is_some();
    if on_pg && pg_target.is_none() {
        return Err(BackupError::Window(
            "the archive is on PostgreSQL: give --pg-data DIR, an empty directory for the restored cluster"
                .into(),
        ));
    }
    let b = entry(cfg)?;
    let all = list(cfg)?;
    let (Some(oldest), Some(newest)) = (all.first(), all.last()) else {
        return Err(BackupError::Window(format!(
            "no backup in {}",
            b.dir.display()
        )));
    };
    if to_ms > now_ms {
        return Err(BackupError::Window(
            "the restore target is in the future".into(),
        ));
    }
    if to_ms < oldest.1 {
        return Err(BackupError::Window(format!(
            "the restore target is before the oldest backup ({}, retention {} days)",
            rettpad_record::text::date_time_text(oldest.1),
            b.retention_days
        )));
    }
    let _ = newest;
    let (id, backup_ms) = *all
        .iter()
        .rev()
        .find(|(_, ms)| *ms <= to_ms)
        .unwrap_or(oldest);
    let mut m = manifest(cfg, id)?;
    let (mut id, mut backup_ms) = (id, backup_ms);
    if on_pg {
        // The newest base backup complete at the target.
        let found = all
            .iter()
            .rev()
            .filter_map(|(i, ms)| Some((*i, *ms, manifest(cfg, *i).ok()?)))
            .find(|(_, _, mm)| mm.pg.as_ref().is_some_and(|p| p.end_ms <= to_ms));
        let Some((i, ms, mm)) = found else {
            return Err(BackupError::Window(
                "no PostgreSQL base backup was complete at the restore target".into(),
            ));
        };
        (id, backup_ms, m) = (i, ms, mm);
    }
    let key = load_key(cfg, &b.key)?;
    // Everything is opened and checked before anything is replaced.
    let scratch = cfg.data_dir.join(format!(".restore-{id}"));
    let _ = std::fs::remove_dir_all(&scratch);
    crate::private::dir(&scratch, crate::private::Existing::Refuse)
        .map_err(|e| BackupError::Write(scratch.clone(), e))?;
    let src = b.dir.join(id.to_string());
    let wanted: Vec<(String, PathBuf)> = databases(cfg)
        .into_iter()
        .filter(|(name, _)| scope == Scope::All || name == "archive.sqlite")
        .collect();
    let checked = (|| {
        // Every file is verified, also those this scope does not restore:
        // a damaged backup is reported whole, now, not on the day it is
        // needed.
        for fe in &m.files {
            // The base backup's files: `restore_to` checks every chunk
            // before it extracts anything.
            if fe.name.starts_with("pg-") {
                continue;
            }
            let dst = scratch.join(&fe.name);
            open_file(&key, id, fe, &src.join(format!("{}.enc", fe.name)), &dst)?;
            if !wanted.iter().any(|(n, _)| *n == fe.name) {
                let _ = std::fs::remove_file(&dst);
            }
        }
        for (name, _) in &wanted {
            if !m.files.iter().any(|f| f.name == *name) {
                return Err(BackupError::Damaged {
                    file: src.display().to_string(),
                    why: format!("{name} is not in this backup"),
                });
            }
        }
        Ok(())
    })();
    if let Err(e) = checked {
        let _ = std::fs::remove_dir_all(&scratch);
        return Err(e);
    }
    let mut restored = Vec::new();
    for (name, live) in &wanted {
        for ext in ["-wal", "-shm"] {
            let mut p = live.clone().into_os_string();
            p.push(ext);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
        std::fs::rename(scratch.join(name), live)
            .map_err(|e| BackupError::Write(live.clone(), e.to_string()))?;
        if let Some(parent) = live.parent() {
            sync_dir(parent)?;
        }
        restored.push(name.clone());
    }
    let _ = std::fs::remove_dir_all(&scratch);
    tracing::warn!(backup = %id, files = ?restored, "databases restored from backup");
    if let (Some(info), Some(t)) = (m.pg.clone(), pg_target) {
        let tools = crate::backup_pg::PgTools::new(&pg_bindir(cfg)?);
        let files = m
            .files
            .iter()
            .filter(|f| f.name.starts_with("pg-"))
            .map(|f| (f.clone(), src.join(format!("{}.enc", f.name))))
            .collect();
        let url = crate::backup_pg::pg_archive_url(cfg).unwrap_or_default();
        let db_user = url
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("user="))
            .unwrap_or("postgres")
            .to_string();
        let exe = std::env::current_exe()
            .map_err(|e| BackupError::Read(PathBuf::from("current_exe"), e.to_string()))?;
        let r = crate::backup_pg::restore_to(
            cfg,
            &tools,
            &crate::backup_pg::SealedBase { id, info, files },
            Some(to_ms),
            t.data,
            &crate::backup_pg::RestoreOptions {
                exe,
                config: t.config.to_path_buf(),
                db_user,
                timeout: std::time::Duration::from_secs(3600),
            },
        )
        .map_err(|e| BackupError::Damaged {
            file: src.display().to_string(),
            why: e.to_string(),
        })?;
        // The replay starts where the restored archive is complete: the
        // backup's point, or the last replayed commit if earlier.
        let since = r
            .reached_ms
            .map_or(m.archive_complete_ms, |t| t.min(m.archive_complete_ms));
        return Ok(RestoreReport {
            backup: id,
            backup_ms,
            restored,
            replayed: 0,
            receipted: 0,
            missing: Vec::new(),
            failed: 0,
            pg: Some(r),
            replay_since_ms: since,
        });
    }
    let rep = replay(cfg, m.archive_complete_ms, now_ms)?;
    Ok(RestoreReport {
        backup: id,
        backup_ms,
        restored,
        replayed: rep.0,
        receipted: rep.1,
        missing: rep.2,
        failed: rep.3,
        pg: None,
        replay_since_ms: m.archive_complete_ms,
    })
}

/// Files again every stored original received since `since_ms` and
/// compares the receipted ids with the archive: `(queued, receipted,
/// missing, unfileable)`.
pub fn replay(
    cfg: &GatewayConfig,
    since_ms: i64,
    now_ms: i64,
) -> Result<(u64, usize, Vec<Uuid>, u64), BackupError> {
    let err = |e: String| BackupError::Replay(e);
    let store: std::sync::Arc<dyn crate::store::GatewayStore> = std::sync::Arc::new(
        crate::store::SqliteStore::open(&cfg.data_dir).map_err(|e| err(e.to_string()))?,
    );
    let queued = store
        .archive_requeue_since(since_ms)
        .map_err(|e| err(e.to_string()))?;
    let gw = crate::intake::Gateway::from_config(cfg, store.clone()).map_err(err)?;
    let archive = crate::archiver::open_archive(cfg).map_err(err)?;
    loop {
        let p = crate::archiver::pass(&gw, &archive, now_ms);
        let (waiting, _) = store.archive_backlog().map_err(|e| err(e.to_string()))?;
        if waiting == 0 || p.filed + p.already + p.failed == 0 {
            break;
        }
    }
    let (waiting, failed) = store.archive_backlog().map_err(|e| err(e.to_string()))?;
    if waiting > 0 {
        return Err(err(format!(
            "{waiting} packets could not be filed yet (archive unreachable?); start the gateway to go on"
        )));
    }
    let receipted = store
        .receipted_since(since_ms)
        .map_err(|e| err(e.to_string()))?;
    let orgs: BTreeSet<String> = receipted
        .iter()
        .filter_map(|id| store.info(*id).ok().flatten())
        .map(|i| gw.pad_meta(&i.device_serial).0)
        .collect();
    let scope = rettpad_backoffice::Scope::orgs(orgs.iter().map(String::as_str));
    let mut missing = Vec::new();
    for id in &receipted {
        let found = archive
            .summary(&scope, *id)
            .map_err(|e| err(e.to_string()))?;
        if found.is_none() {
            missing.push(*id);
        }
    }
    Ok((queued, receipted.len(), missing, failed))
}
