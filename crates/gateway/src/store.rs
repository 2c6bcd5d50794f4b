//! Gateway storage behind [`GatewayStore`]; [`SqliteStore`] is the embedded
//! default. The store sees only opaque, already encrypted blobs (the intake
//! seals them with the storage key), so another backend (PostgreSQL) needs
//! no crypto of its own.

use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum GwStoreError {
    #[error("database error while trying to {op}: {source}")]
    Db {
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("group commit failed: {0}")]
    Batch(String),
    #[error("database files: {0}")]
    Files(String),
}

fn db(op: &'static str) -> impl FnOnce(rusqlite::Error) -> GwStoreError {
    move |source| GwStoreError::Db { op, source }
}

/// A packet to store, with everything already sealed at rest.
#[derive(Debug, Clone)]
pub struct NewPacket {
    pub packet_id: Uuid,
    pub sha256: [u8; 32],
    pub device_serial: String,
    pub call_sign: String,
    pub received_ms: i64,
    pub pdf_sha256: String,
    pub target_hospital: Option<String>,
    pub size: u64,
    /// The original packet, sealed with the storage key.
    pub sealed_original: Vec<u8>,
    /// The signed receipt (JSON) to return now and on every repeat.
    pub receipt_json: Vec<u8>,
    /// Hospitals with an envelope in this packet and a mailbox here.
    pub mailboxes: Vec<String>,
    pub mailbox_expires_ms: i64,
    /// `(hospital, sealed pre-notification, expires_ms)`.
    pub board: Option<(String, Vec<u8>, i64)>,
}

/// What an insert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    New,
    /// Same packet id seen before: its hash and first receipt.
    Existing {
        sha256: [u8; 32],
        receipt_json: Vec<u8>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailItem {
    pub packet_id: Uuid,
    pub received_ms: i64,
    pub expires_ms: i64,
    pub call_sign: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoardRow {
    pub packet_id: Uuid,
    pub hospital: String,
    pub call_sign: String,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub sealed: Vec<u8>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub packets: usize,
    pub mailbox: usize,
    pub board: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketInfo {
    pub packet_id: Uuid,
    pub sha256: [u8; 32],
    pub device_serial: String,
    pub received_ms: i64,
    pub pdf_sha256: String,
    pub size: u64,
}

/// `(packet sha256, receipt JSON)` of a stored packet.
pub type StoredReceipt = ([u8; 32], Vec<u8>);

type BoardSqlRow = (Vec<u8>, String, String, i64, i64, Vec<u8>);

pub trait GatewayStore: Send + Sync {
    /// Stores a packet once. A second insert with the same id changes
    /// nothing and returns the first hash and receipt (atomically, so two
    /// racing uploads of one packet get one row and one receipt).
    /// Shared, not copied: the group commit hands it to whichever thread
    /// commits (a packet may be tens of MB).
    fn insert(&self, p: Arc<NewPacket>) -> Result<Inserted, GwStoreError>;
    fn receipt(&self, packet_id: Uuid) -> Result<Option<StoredReceipt>, GwStoreError>;
    fn original(&self, packet_id: Uuid) -> Result<Option<Vec<u8>>, GwStoreError>;
    fn info(&self, packet_id: Uuid) -> Result<Option<PacketInfo>, GwStoreError>;
    fn count(&self) -> Result<u64, GwStoreError>;
    /// Unexpired mailbox items of a hospital.
    fn mailbox(&self, hospital: &str, now_ms: i64) -> Result<Vec<MailItem>, GwStoreError>;
    fn in_mailbox(
        &self,
        hospital: &str,
        packet_id: Uuid,
        now_ms: i64,
    ) -> Result<bool, GwStoreError>;
    /// Unexpired board entries (of one hospital or all).
    fn board(&self, hospital: Option<&str>, now_ms: i64) -> Result<Vec<BoardRow>, GwStoreError>;
    /// Deletes packets received before `packets_before_ms` and expired
    /// mailbox and board entries.
    fn sweep(&self, now_ms: i64, packets_before_ms: i64) -> Result<SweepReport, GwStoreError>;
    /// Packets waiting for the archive whose next attempt is due.
    fn archive_due(&self, now_ms: i64, limit: u32) -> Result<Vec<Uuid>, GwStoreError>;
    /// Filed: off the queue (the original may now expire).
    fn archive_done(&self, packet_id: Uuid) -> Result<(), GwStoreError>;
    /// Try again at `next_ms` (the archive database was unreachable).
    fn archive_retry(&self, packet_id: Uuid, next_ms: i64) -> Result<(), GwStoreError>;
    /// Cannot be filed: stays queued (and its original kept) with why.
    fn archive_failed(&self, packet_id: Uuid, reason: &str) -> Result<(), GwStoreError>;
    /// `(waiting, failed)` packets.
    fn archive_backlog(&self) -> Result<(u64, u64), GwStoreError>;
    /// The oldest receipt time still waiting for the archive.
    fn archive_oldest_queued(&self) -> Result<Option<i64>, GwStoreError>;
    /// Queues every stored packet received at or after `since_ms` for the
    /// archive again (after a restore); returns how many were queued.
    fn archive_requeue_since(&self, since_ms: i64) -> Result<u64, GwStoreError>;
    /// The ids of the stored packets received at or after `since_ms`.
    fn receipted_since(&self, since_ms: i64) -> Result<Vec<Uuid>, GwStoreError>;
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS packets (
    packet_id       BLOB PRIMARY KEY NOT NULL CHECK (length(packet_id) = 16),
    sha256          BLOB NOT NULL CHECK (length(sha256) = 32),
    device_serial   TEXT NOT NULL,
    call_sign       TEXT NOT NULL,
    received_ms     INTEGER NOT NULL,
    pdf_sha256      TEXT NOT NULL,
    target_hospital TEXT,
    size            INTEGER NOT NULL,
    sealed          BLOB NOT NULL,
    receipt         BLOB NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS packets_received ON packets(received_ms);
-- Packets not yet in the archive: written with the packet, deleted when
-- filed. A packet here is never swept; `failed` holds why it cannot be
-- filed (reported, kept for an operator).
CREATE TABLE IF NOT EXISTS archive_queue (
    packet_id   BLOB PRIMARY KEY NOT NULL,
    received_ms INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_ms     INTEGER NOT NULL DEFAULT 0,
    failed      TEXT
);
CREATE TABLE IF NOT EXISTS mailbox (
    hospital    TEXT NOT NULL,
    packet_id   BLOB NOT NULL REFERENCES packets(packet_id) ON DELETE CASCADE,
    received_ms INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    PRIMARY KEY (hospital, packet_id)
) STRICT;
CREATE TABLE IF NOT EXISTS board (
    hospital   TEXT NOT NULL,
    packet_id  BLOB NOT NULL REFERENCES packets(packet_id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    sealed     BLOB NOT NULL,
    PRIMARY KEY (hospital, packet_id)
) STRICT;
";

type Slot = Arc<Mutex<Option<Result<Inserted, String>>>>;

pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Inserts waiting for the next group commit.
    pending: Mutex<Vec<(Arc<NewPacket>, Slot)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteStore")
    }
}

fn hash32(v: Vec<u8>) -> Result<[u8; 32], GwStoreError> {
    v.try_into()
        .map_err(|_| GwStoreError::Corrupt("hash length".into()))
}

fn uuid_of(v: Vec<u8>) -> Result<Uuid, GwStoreError> {
    Uuid::from_slice(&v).map_err(|_| GwStoreError::Corrupt("packet id length".into()))
}

impl SqliteStore {
    /// Opens (and creates) `gateway.sqlite` in `dir`.
    /// The database is created 0600 before SQLite opens it; its -wal and
    /// -shm files take that mode. Files of older versions are narrowed.
    pub fn open(dir: &Path) -> Result<SqliteStore, GwStoreError> {
        let path = dir.join("gateway.sqlite");
        crate::private::touch(&path).map_err(GwStoreError::Files)?;
        for ext in ["sqlite-wal", "sqlite-shm"] {
            crate::private::narrow_file(&path.with_extension(ext)).map_err(GwStoreError::Files)?;
        }
        let conn = Connection::open(&path).map_err(db("open"))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(db("busy timeout"))?;
        // A receipt promises durability: WAL with a full sync per commit.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db("journal mode"))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db("synchronous"))?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(db("foreign keys"))?;
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(db("secure delete"))?;
        conn.execute_batch(SCHEMA).map_err(db("create schema"))?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            pending: Mutex::new(Vec::new()),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Inserts one packet inside the caller's transaction.
fn insert_one(tx: &rusqlite::Transaction<'_>, p: &NewPacket) -> Result<Inserted, GwStoreError> {
    let id = p.packet_id.as_bytes().as_slice();
    let existing: Option<(Vec<u8>, Vec<u8>)> = tx
        .query_row(
            "SELECT sha256, receipt FROM packets WHERE packet_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db("look up packet"))?;
    if let Some((sha, receipt_json)) = existing {
        return Ok(Inserted::Existing {
            sha256: hash32(sha)?,
            receipt_json,
        });
    }
    tx.execute(
        "INSERT INTO packets (packet_id, sha256, device_serial, call_sign, received_ms, pdf_sha256, target_hospital, size, sealed, receipt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            id,
            p.sha256.as_slice(),
            p.device_serial,
            p.call_sign,
            p.received_ms,
            p.pdf_sha256,
            p.target_hospital,
            p.size as i64,
            p.sealed_original,
            p.receipt_json
        ],
    )
    .map_err(db("insert packet"))?;
    tx.execute(
        "INSERT INTO archive_queue (packet_id, received_ms) VALUES (?1, ?2)",
        params![id, p.received_ms],
    )
    .map_err(db("queue for the archive"))?;
    for h in &p.mailboxes {
        tx.execute(
            "INSERT INTO mailbox (hospital, packet_id, received_ms, expires_ms) VALUES (?1, ?2, ?3, ?4)",
            params![h, id, p.received_ms, p.mailbox_expires_ms],
        )
        .map_err(db("insert mailbox"))?;
    }
    if let Some((h, sealed, exp)) = &p.board {
        tx.execute(
            "INSERT INTO board (hospital, packet_id, created_ms, expires_ms, sealed) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![h, id, p.received_ms, exp, sealed],
        )
        .map_err(db("insert board"))?;
    }
    Ok(Inserted::New)
}

impl GatewayStore for SqliteStore {
    /// Group commit: inserts queue up while a commit (fsync) runs; the next
    /// caller to get the connection commits all of them in one transaction
    /// and hands each its result. Every caller returns only after its own
    /// packet is durable.
    fn insert(&self, p: Arc<NewPacket>) -> Result<Inserted, GwStoreError> {
        let slot: Slot = Arc::new(Mutex::new(None));
        lock(&self.pending).push((p, slot.clone()));
        let mut c = self.conn();
        if let Some(r) = lock(&slot).take() {
            return r.map_err(GwStoreError::Batch);
        }
        let batch = std::mem::take(&mut *lock(&self.pending));
        let res = (|| -> Result<Vec<Inserted>, GwStoreError> {
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db("begin insert"))?;
            let out = batch
                .iter()
                .map(|(p, _)| insert_one(&tx, p))
                .collect::<Result<Vec<_>, _>>()?;
            tx.commit().map_err(db("commit insert"))?;
            Ok(out)
        })();
        match res {
            Ok(v) => {
                for ((_, s), r) in batch.iter().zip(v) {
                    *lock(s) = Some(Ok(r));
                }
            }
            Err(e) => {
                let m = e.to_string();
                for (_, s) in &batch {
                    *lock(s) = Some(Err(m.clone()));
                }
            }
        }
        drop(c);
        lock(&slot)
            .take()
            .unwrap_or_else(|| Err("insert lost its batch".into()))
            .map_err(GwStoreError::Batch)
    }

    fn receipt(&self, packet_id: Uuid) -> Result<Option<StoredReceipt>, GwStoreError> {
        let c = self.conn();
        let r: Option<(Vec<u8>, Vec<u8>)> = c
            .query_row(
                "SELECT sha256, receipt FROM packets WHERE packet_id = ?1",
                [packet_id.as_bytes().as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db("read receipt"))?;
        r.map(|(s, j)| Ok((hash32(s)?, j))).transpose()
    }

    fn original(&self, packet_id: Uuid) -> Result<Option<Vec<u8>>, GwStoreError> {
        self.conn()
            .query_row(
                "SELECT sealed FROM packets WHERE packet_id = ?1",
                [packet_id.as_bytes().as_slice()],
                |r| r.get(0),
            )
            .optional()
            .map_err(db("read packet"))
    }

    fn info(&self, packet_id: Uuid) -> Result<Option<PacketInfo>, GwStoreError> {
        let c = self.conn();
        let r: Option<(Vec<u8>, String, i64, String, i64)> = c
            .query_row(
                "SELECT sha256, device_serial, received_ms, pdf_sha256, size FROM packets WHERE packet_id = ?1",
                [packet_id.as_bytes().as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .optional()
            .map_err(db("read packet info"))?;
        r.map(|(sha, device_serial, received_ms, pdf_sha256, size)| {
            Ok(PacketInfo {
                packet_id,
                sha256: hash32(sha)?,
                device_serial,
                received_ms,
                pdf_sha256,
                size: size.max(0) as u64,
            })
        })
        .transpose()
    }

    fn count(&self) -> Result<u64, GwStoreError> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM packets", [], |r| r.get(0))
            .map_err(db("count packets"))?;
        Ok(n.max(0) as u64)
    }

    fn mailbox(&self, hospital: &str, now_ms: i64) -> Result<Vec<MailItem>, GwStoreError> {
        let c = self.conn();
        let mut st = c
            .prepare_cached(
                "SELECT m.packet_id, m.received_ms, m.expires_ms, p.call_sign FROM mailbox m JOIN packets p USING (packet_id)
                 WHERE m.hospital = ?1 AND m.expires_ms > ?2 ORDER BY m.received_ms",
            )
            .map_err(db("read mailbox"))?;
        let rows: Vec<(Vec<u8>, i64, i64, String)> = st
            .query_map(params![hospital, now_ms], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .and_then(|x| x.collect())
            .map_err(db("read mailbox"))?;
        rows.into_iter()
            .map(|(id, received_ms, expires_ms, call_sign)| {
                Ok(MailItem {
                    packet_id: uuid_of(id)?,
                    received_ms,
                    expires_ms,
                    call_sign,
                })
            })
            .collect()
    }

    fn in_mailbox(
        &self,
        hospital: &str,
        packet_id: Uuid,
        now_ms: i64,
    ) -> Result<bool, GwStoreError> {
        let n: i64 = self
            .conn()
            .query_row(
                "SELECT count(*) FROM mailbox WHERE hospital = ?1 AND packet_id = ?2 AND expires_ms > ?3",
                params![hospital, packet_id.as_bytes().as_slice(), now_ms],
                |r| r.get(0),
            )
            .map_err(db("read mailbox"))?;
        Ok(n > 0)
    }

    fn board(&self, hospital: Option<&str>, now_ms: i64) -> Result<Vec<BoardRow>, GwStoreError> {
        let c = self.conn();
        let mut st = c
            .prepare_cached(
                "SELECT b.packet_id, b.hospital, p.call_sign, b.created_ms, b.expires_ms, b.sealed
                 FROM board b JOIN packets p USING (packet_id)
                 WHERE (?1 IS NULL OR b.hospital = ?1) AND b.expires_ms > ?2 ORDER BY b.created_ms DESC",
            )
            .map_err(db("read board"))?;
        let rows: Vec<BoardSqlRow> = st
            .query_map(params![hospital, now_ms], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .and_then(|x| x.collect())
            .map_err(db("read board"))?;
        rows.into_iter()
            .map(
                |(id, hospital, call_sign, created_ms, expires_ms, sealed)| {
                    Ok(BoardRow {
                        packet_id: uuid_of(id)?,
                        hospital,
                        call_sign,
                        created_ms,
                        expires_ms,
                        sealed,
                    })
                },
            )
            .collect()
    }

    fn archive_due(&self, now_ms: i64, limit: u32) -> Result<Vec<Uuid>, GwStoreError> {
        let c = self.conn();
        let mut st = c
            .prepare_cached(
                "SELECT packet_id FROM archive_queue WHERE failed IS NULL AND next_ms <= ?1
                 ORDER BY received_ms LIMIT ?2",
            )
            .map_err(db("archive queue"))?;
        let ids = st
            .query_map(params![now_ms, limit], |r| r.get::<_, Vec<u8>>(0))
            .map_err(db("archive queue"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db("archive queue"))?;
        ids.into_iter().map(uuid_of).collect()
    }

    fn archive_done(&self, packet_id: Uuid) -> Result<(), GwStoreError> {
        self.conn()
            .execute(
                "DELETE FROM archive_queue WHERE packet_id = ?1",
                [packet_id.as_bytes().as_slice()],
            )
            .map_err(db("archive done"))?;
        Ok(())
    }

    fn archive_retry(&self, packet_id: Uuid, next_ms: i64) -> Result<(), GwStoreError> {
        self.conn()
            .execute(
                "UPDATE archive_queue SET attempts = attempts + 1, next_ms = ?2 WHERE packet_id = ?1",
                params![packet_id.as_bytes().as_slice(), next_ms],
            )
            .map_err(db("archive retry"))?;
        Ok(())
    }

    fn archive_failed(&self, packet_id: Uuid, reason: &str) -> Result<(), GwStoreError> {
        self.conn()
            .execute(
                "UPDATE archive_queue SET attempts = attempts + 1, failed = ?2 WHERE packet_id = ?1",
                params![packet_id.as_bytes().as_slice(), reason],
            )
            .map_err(db("archive failed"))?;
        Ok(())
    }

    fn archive_backlog(&self) -> Result<(u64, u64), GwStoreError> {
        self.conn()
            .query_row(
                "SELECT count(*) - count(failed), count(failed) FROM archive_queue",
                [],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .map_err(db("archive backlog"))
    }

    fn archive_oldest_queued(&self) -> Result<Option<i64>, GwStoreError> {
        self.conn()
            .query_row("SELECT min(received_ms) FROM archive_queue", [], |r| {
                r.get::<_, Option<i64>>(0)
            })
            .map_err(db("archive queue age"))
    }

    fn archive_requeue_since(&self, since_ms: i64) -> Result<u64, GwStoreError> {
        let n = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO archive_queue (packet_id, received_ms)
                 SELECT packet_id, received_ms FROM packets WHERE received_ms >= ?1",
                [since_ms],
            )
            .map_err(db("requeue for the archive"))?;
        Ok(n as u64)
    }

    fn receipted_since(&self, since_ms: i64) -> Result<Vec<Uuid>, GwStoreError> {
        let c = self.conn();
        let mut st = c
            .prepare("SELECT packet_id FROM packets WHERE received_ms >= ?1 ORDER BY received_ms")
            .map_err(db("receipted packets"))?;
        let ids = st
            .query_map([since_ms], |r| r.get::<_, Vec<u8>>(0))
            .map_err(db("receipted packets"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(db("receipted packets"))?;
        ids.into_iter().map(uuid_of).collect()
    }

    fn sweep(&self, now_ms: i64, packets_before_ms: i64) -> Result<SweepReport, GwStoreError> {
        let mut c = self.conn();
        let tx = c.transaction().map_err(db("begin sweep"))?;
        let mailbox = tx
            .execute("DELETE FROM mailbox WHERE expires_ms <= ?1", [now_ms])
            .map_err(db("sweep mailbox"))?;
        let board = tx
            .execute("DELETE FROM board WHERE expires_ms <= ?1", [now_ms])
            .map_err(db("sweep board"))?;
        let packets = tx
            .execute(
                "DELETE FROM packets WHERE received_ms < ?1
                 AND packet_id NOT IN (SELECT packet_id FROM archive_queue)",
                [packets_before_ms],
            )
            .map_err(db("sweep packets"))?;
        tx.commit().map_err(db("commit sweep"))?;
        Ok(SweepReport {
            packets,
            mailbox,
            board,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(id: Uuid, t: i64) -> NewPacket {
        NewPacket {
            packet_id: id,
            sha256: [3; 32],
            device_serial: "SN".into(),
            call_sign: "RTW".into(),
            received_ms: t,
            pdf_sha256: "ab".into(),
            target_hospital: Some("h1".into()),
            size: 10,
            sealed_original: vec![1, 2, 3],
            receipt_json: b"{}".to_vec(),
            mailboxes: vec!["h1".into()],
            mailbox_expires_ms: t + 100,
            board: Some(("h1".into(), vec![9], t + 50)),
        }
    }

    #[test]
    fn insert_once_expire_and_sweep() {
        let d = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(d.path()).unwrap();
        let id = Uuid::now_v7();
        assert_eq!(s.insert(Arc::new(pkt(id, 1_000))).unwrap(), Inserted::New);
        let mut again = pkt(id, 2_000);
        again.receipt_json = b"other".to_vec();
        assert_eq!(
            s.insert(Arc::new(again)).unwrap(),
            Inserted::Existing {
                sha256: [3; 32],
                receipt_json: b"{}".to_vec()
            }
        );
        assert_eq!(s.count().unwrap(), 1);
        assert_eq!(s.mailbox("h1", 1_050).unwrap().len(), 1);
        assert!(s.in_mailbox("h1", id, 1_050).unwrap());
        assert!(!s.in_mailbox("h2", id, 1_050).unwrap());
        assert_eq!(s.board(Some("h1"), 1_010).unwrap().len(), 1);
        assert!(s.board(None, 1_050).unwrap().is_empty(), "board expired");
        assert!(
            s.mailbox("h1", 1_100).unwrap().is_empty(),
            "mailbox expired"
        );
        let r = s.sweep(1_200, 0).unwrap();
        assert_eq!(
            r,
            SweepReport {
                packets: 0,
                mailbox: 1,
                board: 1
            }
        );
        assert_eq!(s.original(id).unwrap(), Some(vec![1, 2, 3]));
        // Not yet in the archive: kept past its retention.
        assert_eq!(s.archive_due(0, 10).unwrap(), vec![id]);
        assert_eq!(s.sweep(1_200, 1_001).unwrap().packets, 0);
        s.archive_failed(id, "cannot be filed").unwrap();
        assert!(s.archive_due(i64::MAX, 10).unwrap().is_empty());
        assert_eq!(s.archive_backlog().unwrap(), (0, 1));
        assert_eq!(s.sweep(1_200, 1_001).unwrap().packets, 0, "failed: kept");
        s.archive_done(id).unwrap();
        assert_eq!(s.archive_backlog().unwrap(), (0, 0));
        assert_eq!(s.sweep(1_200, 1_001).unwrap().packets, 1);
        assert_eq!(s.original(id).unwrap(), None);
        assert_eq!(s.count().unwrap(), 0);
    }

    #[test]
    fn concurrent_inserts_group_commit_once_each() {
        let d = tempfile::tempdir().unwrap();
        let s = std::sync::Arc::new(SqliteStore::open(d.path()).unwrap());
        let ids: Vec<Uuid> = (0..16).map(|_| Uuid::now_v7()).collect();
        let news = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|sc| {
            for t in 0..8 {
                let (s, ids, news) = (s.clone(), &ids, &news);
                sc.spawn(move || {
                    // Each id is inserted by two threads.
                    for id in ids.iter().skip(t % 2).step_by(1) {
                        if s.insert(Arc::new(pkt(*id, 1_000))).unwrap() == Inserted::New {
                            news.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(news.into_inner(), 16, "each packet new exactly once");
        assert_eq!(s.count().unwrap(), 16);
    }
}
