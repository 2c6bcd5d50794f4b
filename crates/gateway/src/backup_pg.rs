//! Backups of an archive on PostgreSQL: a base backup (`pg_basebackup`)
//! plus continuous WAL archiving, both sealed under the backup key, and
//! the point-in-time restore of the two.
//!
//! PostgreSQL hands every finished WAL segment to `archive_command`
//! (`rettpad-gateway wal-archive`), which seals it into
//! `<backup dir>/wal/NAME.enc` with a sealed sidecar `NAME.entry` (size,
//! checksum, chunks). A restore opens a base backup into a new data
//! directory and lets PostgreSQL replay the archived WAL through
//! `restore_command` (`rettpad-gateway wal-restore`) up to the target time.
//! A segment missing from the chain ends the replay early: the restore
//! then recovers to the last consistent point, promotes, and reports the
//! gap instead of the target.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rettpad_crypto::{SecretKey, open, seal};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::backup::{BackupError, FileEntry, open_file, seal_file};
use crate::config::GatewayConfig;

/// The WAL archive's directory under `[backup] dir`.
pub const WAL_DIR: &str = "wal";
/// The base backup's files in a backup (`pg_basebackup -F tar` names them
/// `base.tar` and `backup_manifest`).
pub const BASE_TAR: &str = "pg-base.tar";
pub const BASE_MANIFEST: &str = "pg-backup_manifest";
/// `wal-restore` exits with this when it cannot work at all (no key, no
/// configuration): above 125, so PostgreSQL aborts the recovery instead of
/// taking the failure for the end of the archive and promoting early.
pub const EXIT_ABORT_RECOVERY: u8 = 255;

#[derive(Debug, thiserror::Error)]
pub enum PgBackupError {
    #[error("no [backup] section in the configuration")]
    NotConfigured,
    #[error("backup key {0}: {1}")]
    Key(PathBuf, String),
    #[error("{0:?} is not a WAL file name PostgreSQL archives")]
    BadName(String),
    #[error("WAL file {0} is not in the archive")]
    Missing(String),
    #[error("WAL file {name} in the archive is damaged: {why}")]
    Damaged { name: String, why: String },
    #[error(
        "WAL file {0} is already archived with different content; refusing to overwrite it (PostgreSQL requires this; two clusters archiving into one directory?)"
    )]
    Conflict(String),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, String),
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, String),
    #[error("{tool} failed: {detail}")]
    Tool { tool: String, detail: String },
    #[error("the base backup is unusable: {0}")]
    Base(String),
    #[error("{0}")]
    Target(String),
    #[error("recovery failed: {why} (server log {log}):\n{tail}")]
    Recovery {
        why: String,
        log: PathBuf,
        tail: String,
    },
    #[error(transparent)]
    Backup(#[from] BackupError),
}

impl PgBackupError {
    /// For `wal-restore`'s exit status: a missing or damaged segment ends
    /// the replay (PostgreSQL's end of the archive); anything else means
    /// the command cannot work and the recovery must stop.
    pub fn ends_archive(&self) -> bool {
        matches!(
            self,
            PgBackupError::Missing(_) | PgBackupError::Damaged { .. } | PgBackupError::BadName(_)
        )
    }
}

/// The backup key, plain or wrapped (passphrase mode).
pub fn backup_key(cfg: &GatewayConfig) -> Result<SecretKey, PgBackupError> {
    let b = cfg.backup.as_ref().ok_or(PgBackupError::NotConfigured)?;
    crate::keyring::secret_key(cfg, &b.key).map_err(|why| PgBackupError::Key(b.key.clone(), why))
}

/// `<backup dir>/wal`.
pub fn wal_dir(cfg: &GatewayConfig) -> Result<PathBuf, PgBackupError> {
    let b = cfg.backup.as_ref().ok_or(PgBackupError::NotConfigured)?;
    Ok(b.dir.join(WAL_DIR))
}

/// The archive's connection string when it is on PostgreSQL.
pub fn pg_archive_url(cfg: &GatewayConfig) -> Option<String> {
    let url = cfg.archive_url();
    (!url.starts_with("sqlite:")).then_some(url)
}

/// Quotes one word for `/bin/sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A word of `archive_command`/`restore_command`: shell-quoted, `%`
/// doubled (PostgreSQL replaces `%p`, `%f` and `%%`).
fn command_word(p: &Path) -> String {
    sh_quote(&p.to_string_lossy()).replace('%', "%%")
}

/// The `archive_command` for postgresql.conf.
pub fn archive_command(exe: &Path, config: &Path) -> String {
    format!(
        "{} wal-archive --config {} %p %f",
        command_word(exe),
        command_word(config)
    )
}

/// The `restore_command` for a recovery.
pub fn restore_command(exe: &Path, config: &Path) -> String {
    format!(
        "{} wal-restore --config {} %f %p",
        command_word(exe),
        command_word(config)
    )
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Segment (`000000010000000000000002`), history (`00000002.history`),
/// backup history (`…02.00000028.backup`) or partial (`….partial`) file
/// names, nothing else: never a path.
fn check_name(name: &str) -> Result<(), PgBackupError> {
    let ok = match name.split_once('.') {
        None => is_hex(name, 24),
        Some((tli, "history")) => is_hex(tli, 8),
        Some((seg, "partial")) => is_hex(seg, 24),
        Some((seg, rest)) => {
            is_hex(seg, 24) && rest.strip_suffix(".backup").is_some_and(|o| is_hex(o, 8))
        }
    };
    if ok {
        Ok(())
    } else {
        Err(PgBackupError::BadName(name.to_string()))
    }
}

fn entry_aad(name: &str) -> Vec<u8> {
    format!("rettpad-backup/v1/wal/{name}/entry").into_bytes()
}

/// WAL files are sealed under this id; the name in every chunk's AAD binds
/// a segment to its name.
const WAL_ID: Uuid = Uuid::nil();

fn read_entry(key: &SecretKey, path: &Path, name: &str) -> Result<FileEntry, PgBackupError> {
    let damaged = |why: &str| PgBackupError::Damaged {
        name: name.to_string(),
        why: why.to_string(),
    };
    let sealed = std::fs::read(path).map_err(|e| damaged(&format!("{}: {e}", path.display())))?;
    let json = open(key, &entry_aad(name), &sealed)
        .map_err(|_| damaged("its entry does not open (another backup key, or tampered with)"))?;
    let e: FileEntry =
        serde_json::from_slice(&json).map_err(|_| damaged("its entry is unreadable"))?;
    if e.name != name {
        return Err(damaged("its entry names another file"));
    }
    Ok(e)
}

fn hash_file(path: &Path) -> Result<(u64, String), PgBackupError> {
    let rd = |e: std::io::Error| PgBackupError::Read(path.to_path_buf(), e.to_string());
    let mut f = BufReader::new(File::open(path).map_err(rd)?);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(rd)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(h.finalize())))
}

fn sync_dir(dir: &Path) -> Result<(), PgBackupError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| PgBackupError::Write(dir.to_path_buf(), e.to_string()))
}

/// What `wal-archive` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archived {
    Stored,
    /// The same content was archived before (PostgreSQL retries after a
    /// crash); sealed again, which also mends a damaged copy.
    AlreadyArchived,
}

/// `archive_command`: seals the WAL file `src` as `name` into the WAL
/// archive. Temporary names first, synced, then renamed: the entry last,
/// so a segment without its entry counts as not archived.
pub fn wal_archive(cfg: &GatewayConfig, src: &Path, name: &str) -> Result<Archived, PgBackupError> {
    check_name(name)?;
    let key = backup_key(cfg)?;
    let dir = wal_dir(cfg)?;
    crate::private::dir(&dir, crate::private::Existing::Narrow)
        .map_err(|e| PgBackupError::Write(dir.clone(), e))?;
    let enc = dir.join(format!("{name}.enc"));
    let ent = dir.join(format!("{name}.entry"));
    let before = if ent.exists() {
        let e = read_entry(&key, &ent, name)?;
        let (size, sha) = hash_file(src)?;
        if size != e.size || sha != e.sha256 {
            return Err(PgBackupError::Conflict(name.to_string()));
        }
        Some(e)
    } else {
        None
    };
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let fe = match seal_file(&key, WAL_ID, name, src, &tmp) {
        Ok(fe) => fe,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e.into());
        }
    };
    if before.as_ref().is_some_and(|b| *b != fe) {
        // Changed between the comparison and the sealing.
        let _ = std::fs::remove_file(&tmp);
        return Err(PgBackupError::Conflict(name.to_string()));
    }
    std::fs::rename(&tmp, &enc).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        PgBackupError::Write(enc.clone(), e.to_string())
    })?;
    if before.is_some() {
        sync_dir(&dir)?;
        return Ok(Archived::AlreadyArchived);
    }
    let json =
        serde_json::to_vec(&fe).map_err(|e| PgBackupError::Write(ent.clone(), e.to_string()))?;
    let sealed = seal(&key, &entry_aad(name), &json)
        .map_err(|e| PgBackupError::Write(ent.clone(), e.to_string()))?;
    // Synced, renamed, and the directory synced (both renames).
    crate::private::write(&ent, &sealed).map_err(|e| PgBackupError::Write(ent.clone(), e))?;
    Ok(Archived::Stored)
}

/// `restore_command`: opens the archived WAL file `name` into `dst`
/// (through a temporary name: PostgreSQL never sees half a segment).
pub fn wal_restore(cfg: &GatewayConfig, name: &str, dst: &Path) -> Result<(), PgBackupError> {
    check_name(name)?;
    let key = backup_key(cfg)?;
    let dir = wal_dir(cfg)?;
    let ent = dir.join(format!("{name}.entry"));
    let enc = dir.join(format!("{name}.enc"));
    if !ent.exists() {
        return Err(PgBackupError::Missing(name.to_string()));
    }
    let e = read_entry(&key, &ent, name)?;
    if !enc.exists() {
        return Err(PgBackupError::Damaged {
            name: name.to_string(),
            why: "only its entry is left, the sealed file is gone".into(),
        });
    }
    let parent = dst
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".{name}.rettpad-{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let res = open_file(&key, WAL_ID, &e, &enc, &tmp)
        .map_err(|err| match err {
            BackupError::Damaged { why, .. } => PgBackupError::Damaged {
                name: name.to_string(),
                why,
            },
            other => PgBackupError::Backup(other),
        })
        .and_then(|()| {
            std::fs::rename(&tmp, dst)
                .map_err(|e| PgBackupError::Write(dst.to_path_buf(), e.to_string()))
        });
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// One archived WAL segment's number; `None` for history and other files.
fn parse_segment(name: &str) -> Option<(u32, u64, u64)> {
    if name.len() != 24 || !name.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let tli = u32::from_str_radix(&name[0..8], 16).ok()?;
    let log = u64::from_str_radix(&name[8..16], 16).ok()?;
    let seg = u64::from_str_radix(&name[16..24], 16).ok()?;
    Some((tli, log, seg))
}

fn segments_per_log(seg_size: u64) -> u64 {
    0x1_0000_0000 / seg_size.max(1)
}

fn segment_no(name: &str, seg_size: u64) -> Option<(u32, u64)> {
    let (tli, log, seg) = parse_segment(name)?;
    Some((tli, log * segments_per_log(seg_size) + seg))
}

fn segment_name(tli: u32, no: u64, seg_size: u64) -> String {
    let per = segments_per_log(seg_size);
    format!("{tli:08X}{:08X}{:08X}", no / per, no % per)
}

/// The names in the WAL archive that are complete (sealed file and entry).
pub fn archived_wal(cfg: &GatewayConfig) -> Result<Vec<String>, PgBackupError> {
    let dir = wal_dir(cfg)?;
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(PgBackupError::Read(dir, e.to_string())),
    };
    let mut out: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let base = n.strip_suffix(".entry")?.to_string();
            (check_name(&base).is_ok() && dir.join(format!("{base}.enc")).exists()).then_some(base)
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Removes archived WAL older than `keep_from` (the `start_wal` of the
/// oldest base backup kept): no restore can use it. Timeline history
/// files stay. Compares like `pg_archivecleanup`: the segment part only.
/// Returns the removed names.
pub fn prune_wal(cfg: &GatewayConfig, keep_from: &str) -> Result<Vec<String>, PgBackupError> {
    if parse_segment(keep_from).is_none() {
        return Err(PgBackupError::BadName(keep_from.to_string()));
    }
    let dir = wal_dir(cfg)?;
    let mut removed = Vec::new();
    for name in archived_wal(cfg)? {
        let seg = name.get(..24).and_then(|s| parse_segment(s).map(|_| s));
        let Some(seg) = seg else { continue };
        if seg[8..] < keep_from[8..] {
            // The entry first: a half-removed segment reads as missing.
            for ext in ["entry", "enc"] {
                let p = dir.join(format!("{name}.{ext}"));
                std::fs::remove_file(&p)
                    .map_err(|e| PgBackupError::Write(p.clone(), e.to_string()))?;
            }
            removed.push(name);
        }
    }
    if !removed.is_empty() {
        sync_dir(&dir)?;
    }
    Ok(removed)
}

/// The PostgreSQL programs and the user the server ones run as.
#[derive(Debug, Clone)]
pub struct PgTools {
    pub bindir: PathBuf,
    /// `pg_ctl` refuses root: as root it runs as this user (and the data
    /// directory is given to it).
    pub run_as: Option<String>,
}

/// The effective user id, from `/proc/self/status`.
fn effective_uid() -> Option<u32> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

impl PgTools {
    /// As root the server runs as `postgres` (Debian's cluster owner).
    pub fn new(bindir: &Path) -> PgTools {
        PgTools {
            bindir: bindir.to_path_buf(),
            run_as: (effective_uid() == Some(0)).then(|| "postgres".to_string()),
        }
    }

    fn command(&self, tool: &str, as_owner: bool) -> Command {
        let exe = self.bindir.join(tool);
        match (&self.run_as, as_owner) {
            (Some(u), true) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(exe);
                c
            }
            _ => Command::new(exe),
        }
    }

    /// Runs a tool and returns its standard output.
    fn run(
        &self,
        tool: &str,
        as_owner: bool,
        cwd: Option<&Path>,
        args: &[&str],
    ) -> Result<String, PgBackupError> {
        let mut cmd = self.command(tool, as_owner);
        cmd.args(args).stdin(Stdio::null());
        if let Some(d) = cwd {
            cmd.current_dir(d);
        }
        let out = cmd.output().map_err(|e| PgBackupError::Tool {
            tool: tool.to_string(),
            detail: format!("{}: {e}", self.bindir.join(tool).display()),
        })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(PgBackupError::Tool {
                tool: tool.to_string(),
                detail: format!(
                    "{}: {}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stdout).trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            })
        }
    }

    fn give(&self, path: &Path) -> Result<(), PgBackupError> {
        let Some(u) = &self.run_as else {
            return Ok(());
        };
        let st = Command::new("chown")
            .args(["-R", &format!("{u}:")])
            .arg(path)
            .status()
            .map_err(|e| PgBackupError::Write(path.to_path_buf(), format!("chown: {e}")))?;
        if st.success() {
            Ok(())
        } else {
            Err(PgBackupError::Write(
                path.to_path_buf(),
                format!("chown {u} failed"),
            ))
        }
    }
}

/// What a restore of a base backup needs besides its files; for the
/// backup's manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PgBaseInfo {
    /// Wall clock when `pg_basebackup` started.
    pub start_ms: i64,
    /// When it returned: every target at or after this is reachable from
    /// this base (it is consistent from its end LSN on).
    pub end_ms: i64,
    pub timeline: u32,
    pub start_lsn: String,
    pub end_lsn: String,
    /// The first WAL segment a restore of this base reads; WAL before the
    /// oldest kept base's `start_wal` can go (`prune_wal`).
    pub start_wal: String,
    /// PostgreSQL's major version (`PG_VERSION`).
    pub pg_version: String,
}

/// A base backup in the scratch directory, for the caller to seal.
#[derive(Debug, Clone)]
pub struct PgBaseBackup {
    pub info: PgBaseInfo,
    /// `(name in the backup, plaintext file)`: [`BASE_TAR`], and
    /// [`BASE_MANIFEST`] (PostgreSQL's own checksums of every file).
    pub files: Vec<(String, PathBuf)>,
}

/// Runs `pg_basebackup` (tar, no WAL: the WAL is archived, fast
/// checkpoint) into `scratch/pg`. `scratch` must be private and not in the
/// backup directory (the tar is plaintext). `conn` is a libpq connection
/// string of a role with the REPLICATION attribute. `pg_basebackup` waits
/// until the WAL the base needs is archived, so when this returns the
/// base can be restored.
pub fn base_backup(
    tools: &PgTools,
    conn: &str,
    scratch: &Path,
    now_ms: impl Fn() -> i64,
) -> Result<PgBaseBackup, PgBackupError> {
    let out = scratch.join("pg");
    let start_ms = now_ms();
    tools.run(
        "pg_basebackup",
        false,
        None,
        &[
            "-d",
            conn,
            "-D",
            &out.to_string_lossy(),
            "-F",
            "tar",
            "-X",
            "none",
            "--checkpoint=fast",
            "--no-sync",
            "--no-password",
            "-l",
            "rettpad",
        ],
    )?;
    let end_ms = now_ms();
    let mut files = Vec::new();
    let rd =
        std::fs::read_dir(&out).map_err(|e| PgBackupError::Read(out.clone(), e.to_string()))?;
    for e in rd.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().into_owned();
        match name.as_str() {
            "base.tar" => files.push((BASE_TAR.to_string(), e.path())),
            "backup_manifest" => files.push((BASE_MANIFEST.to_string(), e.path())),
            // A tablespace's tar (`<oid>.tar`): its files live outside the
            // data directory and a restore could not put them back.
            other => {
                return Err(PgBackupError::Base(format!(
                    "pg_basebackup wrote {other}: the cluster has a tablespace, which this backup does not support"
                )));
            }
        }
    }
    files.sort();
    let tar = out.join("base.tar");
    let label = tar_file(&tar, "backup_label")?
        .ok_or_else(|| PgBackupError::Base("base.tar holds no backup_label".into()))?;
    let pg_version = tar_file(&tar, "PG_VERSION")?
        .ok_or_else(|| PgBackupError::Base("base.tar holds no PG_VERSION".into()))?;
    let label = String::from_utf8_lossy(&label).into_owned();
    let start_wal = label
        .lines()
        .find_map(|l| l.strip_prefix("START WAL LOCATION: "))
        .and_then(|l| l.split("(file ").nth(1))
        .map(|f| f.trim_end_matches(')').to_string())
        .filter(|f| parse_segment(f).is_some())
        .ok_or_else(|| PgBackupError::Base("backup_label has no START WAL LOCATION".into()))?;
    let manifest = std::fs::read(out.join("backup_manifest"))
        .map_err(|e| PgBackupError::Read(out.join("backup_manifest"), e.to_string()))?;
    let m: serde_json::Value = serde_json::from_slice(&manifest)
        .map_err(|e| PgBackupError::Base(format!("backup_manifest: {e}")))?;
    let range = m
        .get("WAL-Ranges")
        .and_then(|r| r.as_array())
        .and_then(|r| r.first())
        .ok_or_else(|| PgBackupError::Base("backup_manifest has no WAL range".into()))?;
    let field = |k: &str| {
        range
            .get(k)
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| PgBackupError::Base(format!("backup_manifest: no {k}")))
    };
    let timeline = range
        .get("Timeline")
        .and_then(|v| v.as_u64())
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| PgBackupError::Base("backup_manifest: no Timeline".into()))?;
    Ok(PgBaseBackup {
        info: PgBaseInfo {
            start_ms,
            end_ms,
            timeline,
            start_lsn: field("Start-LSN")?,
            end_lsn: field("End-LSN")?,
            start_wal,
            pg_version: String::from_utf8_lossy(&pg_version).trim().to_string(),
        },
        files,
    })
}

// ---- tar (pg_basebackup writes plain ustar) ----

struct TarEntry {
    path: String,
    kind: u8,
    size: u64,
    link: String,
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn tar_number(b: &[u8]) -> Option<u64> {
    if b.first().is_some_and(|c| c & 0x80 != 0) {
        // Base-256 (GNU) for sizes beyond the octal field.
        return b[1..].iter().try_fold(u64::from(b[0] & 0x7f), |acc, c| {
            acc.checked_mul(256).map(|a| a + u64::from(*c))
        });
    }
    let s = cstr(b);
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// The next header, or `None` at the end-of-archive block.
fn tar_next(r: &mut impl Read) -> Result<Option<TarEntry>, String> {
    let mut h = [0u8; 512];
    match r.read_exact(&mut h) {
        Ok(()) => {}
        // Some writers omit the end-of-archive blocks.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.to_string()),
    }
    if h.iter().all(|c| *c == 0) {
        return Ok(None);
    }
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(*c)
            }
        })
        .sum();
    if tar_number(&h[148..156]) != Some(sum) {
        return Err("a tar header's checksum is wrong".into());
    }
    let mut path = cstr(&h[0..100]);
    if &h[257..262] == b"ustar" {
        let prefix = cstr(&h[345..500]);
        if !prefix.is_empty() {
            path = format!("{prefix}/{path}");
        }
    }
    let size = tar_number(&h[124..136]).ok_or("a tar header's size is unreadable")?;
    Ok(Some(TarEntry {
        path,
        kind: h[156],
        size,
        link: cstr(&h[157..257]),
    }))
}

/// Skips an entry's content and its padding to the next 512-byte block.
fn tar_skip(r: &mut impl Read, size: u64) -> Result<(), String> {
    skip_exact(r, size.div_ceil(512) * 512)
}

fn skip_exact(r: &mut impl Read, n: u64) -> Result<(), String> {
    let got = std::io::copy(&mut r.take(n), &mut std::io::sink()).map_err(|e| e.to_string())?;
    if got == n {
        Ok(())
    } else {
        Err("the tar file is cut off".into())
    }
}

/// One small file's content from a tar.
fn tar_file(tar: &Path, want: &str) -> Result<Option<Vec<u8>>, PgBackupError> {
    let bad = |e: String| PgBackupError::Base(format!("{}: {e}", tar.display()));
    let mut r = BufReader::new(File::open(tar).map_err(|e| bad(e.to_string()))?);
    while let Some(e) = tar_next(&mut r).map_err(bad)? {
        if e.path.trim_start_matches("./") == want && e.size <= 1 << 20 {
            let mut buf = vec![0u8; e.size as usize];
            r.read_exact(&mut buf).map_err(|e| bad(e.to_string()))?;
            return Ok(Some(buf));
        }
        tar_skip(&mut r, e.size).map_err(bad)?;
    }
    Ok(None)
}

/// A relative path without `..`: nothing lands outside `dst`.
fn safe_rel(p: &str) -> Option<PathBuf> {
    let p = p.trim_start_matches("./").trim_end_matches('/');
    let mut out = PathBuf::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => return None,
            c => out.push(c),
        }
    }
    (!p.starts_with('/')).then_some(out)
}

/// Extracts a base backup's tar into `dst`: files 0600, directories 0700.
fn extract_tar(tar: &Path, dst: &Path) -> Result<(), PgBackupError> {
    let bad = |e: String| PgBackupError::Base(format!("{}: {e}", tar.display()));
    let wr = |p: &Path, e: std::io::Error| PgBackupError::Write(p.to_path_buf(), e.to_string());
    let mut r = BufReader::new(File::open(tar).map_err(|e| bad(e.to_string()))?);
    let mut dirs = std::fs::DirBuilder::new();
    dirs.recursive(true).mode(0o700);
    while let Some(e) = tar_next(&mut r).map_err(bad)? {
        let rel = safe_rel(&e.path).ok_or_else(|| bad(format!("unsafe path {:?}", e.path)))?;
        let target = dst.join(&rel);
        match e.kind {
            b'0' | 0 | b'7' => {
                if let Some(parent) = target.parent() {
                    dirs.create(parent).map_err(|err| wr(parent, err))?;
                }
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&target)
                    .map_err(|err| wr(&target, err))?;
                let n = std::io::copy(&mut (&mut r).take(e.size), &mut f)
                    .map_err(|err| wr(&target, err))?;
                if n != e.size {
                    return Err(bad("the tar file is cut off".into()));
                }
                f.flush().map_err(|err| wr(&target, err))?;
                skip_exact(&mut r, e.size.div_ceil(512) * 512 - e.size).map_err(bad)?;
            }
            b'5' => {
                if rel.as_os_str().is_empty() {
                    continue;
                }
                dirs.create(&target).map_err(|err| wr(&target, err))?;
                tar_skip(&mut r, e.size).map_err(bad)?;
            }
            b'2' => {
                return Err(PgBackupError::Base(format!(
                    "{} is a symbolic link to {} (a tablespace?); tablespaces are not restored",
                    e.path, e.link
                )));
            }
            other => {
                return Err(bad(format!(
                    "entry {:?} of unsupported type {:?}",
                    e.path,
                    char::from(other)
                )));
            }
        }
    }
    Ok(())
}

// ---- point-in-time restore ----

/// A sealed base backup: the backup's id (in every chunk's AAD), what
/// [`base_backup`] recorded, and each file's entry with its `.enc` path.
#[derive(Debug, Clone)]
pub struct SealedBase {
    pub id: Uuid,
    pub info: PgBaseInfo,
    pub files: Vec<(FileEntry, PathBuf)>,
}

#[derive(Debug, Clone)]
pub struct RestoreOptions {
    /// This program (`restore_command` runs its `wal-restore`).
    pub exe: PathBuf,
    /// The gateway.toml `restore_command` passes to it.
    pub config: PathBuf,
    /// A role of the cluster, for the status queries (the restore's own
    /// pg_hba.conf trusts the private socket).
    pub db_user: String,
    /// For the whole replay.
    pub timeout: Duration,
}

/// A gap in the WAL chain: where the replay had to stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalGap {
    /// The segment the replay needed next.
    pub missing: String,
    /// It is in the archive but did not open.
    pub damaged: bool,
    /// Archived segments after it on the same timeline, lost to this
    /// restore.
    pub later_segments: usize,
    pub last_archived: Option<String>,
}

impl std::fmt::Display for WalGap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.damaged {
            write!(f, "WAL segment {} is damaged", self.missing)?;
        } else {
            write!(
                f,
                "WAL segment {} is missing from the archive",
                self.missing
            )?;
        }
        if let Some(last) = &self.last_archived {
            write!(
                f,
                "; {} later segment(s) up to {last} could not be replayed",
                self.later_segments
            )?;
        }
        Ok(())
    }
}

/// Where a restore stopped. The cluster is promoted and shut down
/// cleanly; it starts on `data_dir` without recovery.
#[derive(Debug, Clone)]
pub struct PgRecovered {
    pub data_dir: PathBuf,
    pub target_ms: Option<i64>,
    /// The replay stopped at the target. False: the WAL ended first (a
    /// gap, or no WAL archived up to the target yet); then the cluster is
    /// at the end of the WAL that could be replayed.
    pub target_reached: bool,
    /// Commit time of the last replayed transaction (`None`: none since the
    /// base backup).
    pub reached_ms: Option<i64>,
    /// The last segment replayed.
    pub last_segment: String,
    /// The timeline the restored cluster goes on with.
    pub timeline: u32,
    pub gap: Option<WalGap>,
    /// Starts of the server: 2 when the target was not reached.
    pub attempts: u32,
}

/// `YYYY-MM-DD HH:MM:SS.mmm+00` for `recovery_target_time`.
fn pg_time(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{:03}+00",
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000
    )
}

fn parse_lsn(s: &str) -> Option<u64> {
    let (hi, lo) = s.trim().split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(25)..].join("\n")
}

enum Attempt {
    Promoted,
    /// PostgreSQL: "recovery ended before configured recovery target was
    /// reached".
    TargetNotReached,
}

struct Recovery<'a> {
    tools: &'a PgTools,
    data: &'a Path,
    run: &'a Path,
    opts: &'a RestoreOptions,
}

impl Recovery<'_> {
    fn psql(&self, sql: &str) -> Result<String, PgBackupError> {
        let out = Command::new(self.tools.bindir.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-F",
                "|",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
            ])
            .arg(self.run)
            .args([
                "-p",
                "5432",
                "-U",
                &self.opts.db_user,
                "-d",
                "template1",
                "-c",
                sql,
            ])
            .env("PGCONNECT_TIMEOUT", "5")
            .stdin(Stdio::null())
            .output()
            .map_err(|e| PgBackupError::Tool {
                tool: "psql".into(),
                detail: e.to_string(),
            })?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(PgBackupError::Tool {
                tool: "psql".into(),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }

    fn failed(&self, log: &Path, why: String) -> PgBackupError {
        PgBackupError::Recovery {
            why,
            log: log.to_path_buf(),
            tail: log_tail(log),
        }
    }

    /// The postmaster's status line (`starting`, `standby`, `ready`,
    /// `stopping`); `None` when no postmaster runs.
    fn pm_status(&self) -> Option<String> {
        let pid = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        Some(pid.lines().nth(7).unwrap_or("").trim().to_string())
    }

    fn running(&self) -> bool {
        self.data.join("postmaster.pid").exists()
    }

    fn stop(&self, mode: &str) -> Result<(), PgBackupError> {
        self.tools
            .run(
                "pg_ctl",
                true,
                Some(self.run),
                &[
                    "-D",
                    &self.data.to_string_lossy(),
                    "-m",
                    mode,
                    "-w",
                    "-t",
                    "300",
                    "stop",
                ],
            )
            .map(|_| ())
    }

    /// Starts the server in archive recovery and waits until it is promoted
    /// or has stopped.
    fn attempt(&self, target_ms: Option<i64>, n: u32) -> Result<Attempt, PgBackupError> {
        let log = self.run.join(format!("recovery-{n}.log"));
        let settings = [
            ("listen_addresses", String::new()),
            (
                "unix_socket_directories",
                self.run.to_string_lossy().into_owned(),
            ),
            ("port", "5432".into()),
            // Nothing of the restored cluster into the live archive: its
            // new timeline would mislead later restores.
            ("archive_mode", "off".into()),
            // No read-only phase: it would also demand max_connections and
            // the like at least as high as the primary had.
            ("hot_standby", "off".into()),
            // The extracted files are not synced yet: PostgreSQL syncs the
            // data directory before the replay; syncfs does it in one call.
            ("recovery_init_sync_method", "syncfs".into()),
            ("logging_collector", "off".into()),
            ("log_destination", "stderr".into()),
            (
                "hba_file",
                self.run.join("pg_hba.conf").to_string_lossy().into_owned(),
            ),
            (
                "ident_file",
                self.run
                    .join("pg_ident.conf")
                    .to_string_lossy()
                    .into_owned(),
            ),
            (
                "restore_command",
                restore_command(&self.opts.exe, &self.opts.config),
            ),
            ("recovery_target_timeline", "latest".into()),
        ];
        // On the command line, not in postgresql.auto.conf: the target must
        // not outlive this restore.
        let mut o: String = settings
            .iter()
            .map(|(k, v)| format!(" -c {}", sh_quote(&format!("{k}={v}"))))
            .collect();
        if let Some(t) = target_ms {
            for (k, v) in [
                ("recovery_target_time", pg_time(t)),
                ("recovery_target_inclusive", "on".into()),
                ("recovery_target_action", "promote".into()),
            ] {
                o.push_str(&format!(" -c {}", sh_quote(&format!("{k}={v}"))));
            }
        }
        let started = Instant::now();
        let secs = self.opts.timeout.as_secs().max(10).to_string();
        let start = self.tools.run(
            "pg_ctl",
            true,
            Some(self.run),
            &[
                "-D",
                &self.data.to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-o",
                &o,
                "-w",
                "-t",
                &secs,
                "start",
            ],
        );
        let not_reached = || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .contains("recovery ended before configured recovery target was reached")
        };
        if let Err(e) = start {
            if !self.running() && not_reached() {
                return Ok(Attempt::TargetNotReached);
            }
            if self.running() {
                let _ = self.stop("immediate");
            }
            return Err(self.failed(&log, format!("the server did not start: {e}")));
        }
        // pg_ctl returns once the replay is consistent; the postmaster's
        // status turns `ready` when it is promoted (polled in its pid
        // file: a connection attempt during the replay is refused and
        // logged).
        loop {
            match self.pm_status().as_deref() {
                None => {
                    return if not_reached() {
                        Ok(Attempt::TargetNotReached)
                    } else {
                        Err(self.failed(&log, "the server stopped during the replay".into()))
                    };
                }
                Some("ready") => match self.psql("SELECT pg_is_in_recovery()") {
                    Ok(r) if r == "f" => return Ok(Attempt::Promoted),
                    Ok(_) => {}
                    Err(e) => {
                        let _ = self.stop("immediate");
                        return Err(self.failed(&log, e.to_string()));
                    }
                },
                Some(_) => {}
            }
            if started.elapsed() > self.opts.timeout {
                let _ = self.stop("immediate");
                return Err(self.failed(&log, format!("not done after {:?}", self.opts.timeout)));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The newest timeline history file in `pg_wal`: the new timeline, its
/// parent and the switch point (where the replay ended).
fn newest_history(data: &Path) -> Result<(u32, u32, u64), PgBackupError> {
    let wal = data.join("pg_wal");
    let rd =
        std::fs::read_dir(&wal).map_err(|e| PgBackupError::Read(wal.clone(), e.to_string()))?;
    let newest = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            u32::from_str_radix(n.strip_suffix(".history")?, 16).ok()
        })
        .max()
        .ok_or_else(|| {
            PgBackupError::Read(
                wal.clone(),
                "no timeline history after the promotion".into(),
            )
        })?;
    let p = wal.join(format!("{newest:08X}.history"));
    let text =
        std::fs::read_to_string(&p).map_err(|e| PgBackupError::Read(p.clone(), e.to_string()))?;
    let (parent, lsn) = text
        .lines()
        .rev()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.parse::<u32>().ok()?, parse_lsn(f.next()?)?))
        })
        .next()
        .ok_or_else(|| PgBackupError::Read(p.clone(), "unreadable timeline history".into()))?;
    Ok((newest, parent, lsn))
}

/// The server's major version, from `postgres --version`.
fn tools_major(tools: &PgTools) -> Result<String, PgBackupError> {
    let v = tools.run("postgres", false, None, &["--version"])?;
    v.split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .and_then(|w| w.split('.').next())
        .map(str::to_string)
        .ok_or_else(|| PgBackupError::Tool {
            tool: "postgres --version".into(),
            detail: v.trim().to_string(),
        })
}

/// Restores a base backup into `new_data` (absent or empty) and replays
/// the archived WAL up to `target_ms` (`None`: to the end of the archive).
///
/// Every file of the base is opened and checked before anything is
/// extracted. The server runs as `tools.run_as` on a private socket beside
/// `new_data`, without archiving. When the WAL ends before the target (a
/// missing or damaged segment, or nothing archived that late yet) it is
/// started again without a target, recovers to the last consistent point
/// and is promoted; the result says so and names the gap. The cluster is
/// shut down cleanly at the end.
pub fn restore_to(
    cfg: &GatewayConfig,
    tools: &PgTools,
    base: &SealedBase,
    target_ms: Option<i64>,
    new_data: &Path,
    opts: &RestoreOptions,
) -> Result<PgRecovered, PgBackupError> {
    if let Some(t) = target_ms
        && t < base.info.end_ms
    {
        return Err(PgBackupError::Target(format!(
            "the target {} is before base backup {} was complete ({}); use an older base backup",
            pg_time(t),
            base.id,
            pg_time(base.info.end_ms)
        )));
    }
    for (fe, _) in &base.files {
        if fe.name != BASE_TAR && fe.name != BASE_MANIFEST {
            return Err(PgBackupError::Base(format!(
                "{} is not a file of a base backup this version restores",
                fe.name
            )));
        }
    }
    let Some((tar_entry, _)) = base.files.iter().find(|(fe, _)| fe.name == BASE_TAR) else {
        return Err(PgBackupError::Base(format!(
            "{BASE_TAR} is not in backup {}",
            base.id
        )));
    };
    if std::fs::read_dir(new_data).is_ok_and(|mut d| d.next().is_some()) {
        return Err(PgBackupError::Target(format!(
            "{} is not empty; restore into a new directory",
            new_data.display()
        )));
    }
    let name = new_data
        .file_name()
        .ok_or_else(|| {
            PgBackupError::Target(format!("{}: not a directory name", new_data.display()))
        })?
        .to_string_lossy()
        .into_owned();
    let parent = new_data
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let run = parent.join(format!(".{name}.restore"));
    // A Unix socket path has at most 107 bytes.
    if run.join(".s.PGSQL.5432").as_os_str().len() > 100 {
        return Err(PgBackupError::Target(format!(
            "{}: the path is too long for the restore's socket; restore into a shorter path",
            new_data.display()
        )));
    }
    let key = backup_key(cfg)?;
    let _ = std::fs::remove_dir_all(&run);
    crate::private::dir(&run, crate::private::Existing::Refuse)
        .map_err(|e| PgBackupError::Write(run.clone(), e))?;
    crate::private::dir(new_data, crate::private::Existing::Refuse)
        .map_err(|e| PgBackupError::Write(new_data.to_path_buf(), e))?;
    let prepared = (|| {
        // Every chunk of every file checked before anything is extracted.
        for (fe, enc) in &base.files {
            open_file(&key, base.id, fe, enc, &run.join(&fe.name))?;
        }
        let tar = run.join(&tar_entry.name);
        extract_tar(&tar, new_data)?;
        let _ = std::fs::remove_file(&tar);
        let version = std::fs::read_to_string(new_data.join("PG_VERSION"))
            .map_err(|e| PgBackupError::Base(format!("PG_VERSION: {e}")))?;
        let ours = tools_major(tools)?;
        if version.trim() != ours {
            return Err(PgBackupError::Base(format!(
                "the base backup is of PostgreSQL {}, the server binaries in {} are {ours}",
                version.trim(),
                tools.bindir.display()
            )));
        }
        let manifest = run.join(BASE_MANIFEST);
        if manifest.exists() {
            // PostgreSQL's own check of every file against its manifest
            // (the WAL is checked by the replay).
            tools
                .run(
                    "pg_verifybackup",
                    false,
                    None,
                    &[
                        "-n",
                        "-q",
                        "-m",
                        &manifest.to_string_lossy(),
                        &new_data.to_string_lossy(),
                    ],
                )
                .map_err(|e| PgBackupError::Base(e.to_string()))?;
            let _ = std::fs::remove_file(&manifest);
        }
        let status = new_data.join("pg_wal/archive_status");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&status)
            .map_err(|e| PgBackupError::Write(status.clone(), e.to_string()))?;
        // Debian keeps postgresql.conf in /etc: the server needs one here.
        let conf = new_data.join("postgresql.conf");
        if !conf.exists() {
            crate::private::write(
                &conf,
                b"# written by rettpad-gateway restore: the base backup had none\n",
            )
            .map_err(|e| PgBackupError::Write(conf.clone(), e))?;
        }
        crate::private::write(&new_data.join("recovery.signal"), b"")
            .map_err(|e| PgBackupError::Write(new_data.join("recovery.signal"), e))?;
        // Only for this private, socket-only start.
        crate::private::write(&run.join("pg_hba.conf"), b"local all all trust\n")
            .map_err(|e| PgBackupError::Write(run.join("pg_hba.conf"), e))?;
        crate::private::write(&run.join("pg_ident.conf"), b"")
            .map_err(|e| PgBackupError::Write(run.join("pg_ident.conf"), e))?;
        tools.give(new_data)?;
        tools.give(&run)
    })();
    if let Err(e) = prepared {
        let _ = std::fs::remove_dir_all(&run);
        return Err(e);
    }
    let rec = Recovery {
        tools,
        data: new_data,
        run: &run,
        opts,
    };
    let mut attempts = 1;
    let mut target_reached = match rec.attempt(target_ms, attempts)? {
        Attempt::Promoted => true,
        Attempt::TargetNotReached => {
            tracing::warn!(
                "the WAL ended before the restore target; recovering to the end of the archive"
            );
            attempts += 1;
            match rec.attempt(None, attempts)? {
                Attempt::Promoted => false,
                Attempt::TargetNotReached => {
                    return Err(rec.failed(
                        &run.join(format!("recovery-{attempts}.log")),
                        "the replay without a target did not end".into(),
                    ));
                }
            }
        }
    };
    let log = run.join(format!("recovery-{attempts}.log"));
    let done = (|| {
        let row = rec.psql(
            "SELECT floor(extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000)::bigint, \
             (SELECT setting FROM pg_settings WHERE name = 'wal_segment_size')",
        )?;
        let (ms, seg) = row.split_once('|').ok_or_else(|| PgBackupError::Tool {
            tool: "psql".into(),
            detail: format!("unexpected answer {row:?}"),
        })?;
        let reached_ms = ms.trim().parse::<i64>().ok();
        let seg_size = seg
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|s| s.is_power_of_two())
            .ok_or_else(|| PgBackupError::Tool {
                tool: "psql".into(),
                detail: format!("wal_segment_size {seg:?}"),
            })?;
        let (timeline, old_tli, switch) = newest_history(new_data)?;
        let last_no = switch.saturating_sub(1) / seg_size;
        let last_segment = segment_name(old_tli, last_no, seg_size);
        Ok::<_, PgBackupError>((
            reached_ms,
            seg_size,
            timeline,
            old_tli,
            last_no,
            last_segment,
        ))
    })();
    let (reached_ms, seg_size, timeline, old_tli, last_no, last_segment) = match done {
        Ok(v) => v,
        Err(e) => {
            let _ = rec.stop("immediate");
            return Err(rec.failed(&log, e.to_string()));
        }
    };
    if target_reached
        && let (Some(t), Some(r)) = (target_ms, reached_ms)
        && r > t
    {
        // Never report a target that was passed.
        target_reached = false;
    }
    let gap = if target_reached && target_ms.is_some() {
        None
    } else {
        let next = last_no + 1;
        let archived = archived_wal(cfg)?;
        let later: Vec<&String> = archived
            .iter()
            .filter(|n| segment_no(n, seg_size).is_some_and(|(t, no)| t == old_tli && no > next))
            .collect();
        let missing = segment_name(old_tli, next, seg_size);
        let damaged = archived.contains(&missing);
        (damaged || !later.is_empty()).then(|| WalGap {
            missing,
            damaged,
            later_segments: later.len(),
            last_archived: later.last().map(|s| s.to_string()),
        })
    };
    if target_ms.is_none() {
        target_reached = gap.is_none();
    }
    rec.stop("fast")
        .map_err(|e| rec.failed(&log, e.to_string()))?;
    let _ = std::fs::remove_dir_all(&run);
    if let Some(g) = &gap {
        tracing::error!(gap = %g, reached = ?reached_ms.map(pg_time), "restore stopped at a gap in the WAL archive");
    }
    Ok(PgRecovered {
        data_dir: new_data.to_path_buf(),
        target_ms,
        target_reached,
        reached_ms,
        last_segment,
        timeline,
        gap,
        attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_times_and_segments() {
        for ok in [
            "000000010000000000000002",
            "00000002.history",
            "000000010000000000000002.00000028.backup",
            "000000010000000000000003.partial",
        ] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["../etc/passwd", ".hidden01", "a/b000000", "", "RECOVERY"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(pg_time(0), "1970-01-01 00:00:00.000+00");
        assert_eq!(pg_time(1_796_612_400_123), "2026-12-07 03:00:00.123+00");
        let seg = 16 << 20;
        assert_eq!(
            segment_no("0000000100000001000000FF", seg),
            Some((1, 0x1FF))
        );
        assert_eq!(segment_name(1, 0x200, seg), "000000010000000200000000");
        assert_eq!(parse_lsn("0/3000148"), Some(0x300_0148));
        assert_eq!(
            safe_rel("./pg_wal/archive_status/"),
            Some(PathBuf::from("pg_wal/archive_status"))
        );
        assert_eq!(safe_rel("base/../../x"), None);
        assert_eq!(safe_rel("/etc/x"), None);
        assert!(
            archive_command(Path::new("/opt/50%/gw"), Path::new("/etc/it's.toml"))
                .starts_with("'/opt/50%%/gw' wal-archive --config '/etc/it'\\''s.toml' %p %f")
        );
    }
}
