//! Dispatch on the gateway, without sockets: a centre's message in, the
//! pads' channel queues out.
//!
//! - A message is validated (`rettpad_dispatch::msg`), bound to the centre
//!   whose token sent it, and deduplicated by `msg_id` (the same id with
//!   other content is a collision and refused, never merged).
//! - A mission is keyed by (centre id, ELS number); its pads' mission id is
//!   derived from that key (`rettpad_dispatch::mission_id`), so no node of
//!   the gateway hands out ids.
//! - Each alarmed unit's pads get the message in their queue (`chan_queue`,
//!   per pad a gapless `seq`), sealed at rest with the storage key, kept
//!   until the pad acknowledges it, bounded by `[channel]` (the oldest is
//!   dropped at the bound, counted and logged; the pad sees the gap).
//!
//! Logs carry centre ids, message ids, kinds, serials and counts; never a
//! mission's content (it holds patient data).

use crate::config::{CentreEntry, ChannelLimits, GatewayConfig};
use crate::intake::BoardEntry;
use rettpad_channel::{Envelope, Kind, SCHEMA_VERSION};
use rettpad_crypto::{self as crypto, SecretKey};
use rettpad_dispatch::msg::{self, Body, DispatchError};
use rettpad_dispatch::report::DocumentedTime;
use rettpad_dispatch::{ToPad, mission_id};
use rettpad_transfer::PreNotice;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;
use uuid::Uuid;

const HOUR_MS: i64 = 3_600_000;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS els_msgs (
    msg_id      BLOB PRIMARY KEY NOT NULL,
    centre      TEXT NOT NULL,
    sha256      BLOB NOT NULL,
    received_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS els_missions (
    centre       TEXT NOT NULL,
    number       TEXT NOT NULL,
    mission_id   BLOB NOT NULL,
    revision     INTEGER NOT NULL,
    sealed       BLOB NOT NULL,
    cancelled_ms INTEGER,
    updated_ms   INTEGER NOT NULL,
    PRIMARY KEY (centre, number)
) STRICT;
CREATE TABLE IF NOT EXISTS els_units (
    centre    TEXT NOT NULL,
    number    TEXT NOT NULL,
    call_sign TEXT NOT NULL,
    PRIMARY KEY (centre, number, call_sign)
) STRICT;
CREATE TABLE IF NOT EXISTS els_status (
    centre      TEXT NOT NULL,
    number      TEXT NOT NULL,
    call_sign   TEXT NOT NULL,
    status      INTEGER NOT NULL,
    at_ms       INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    PRIMARY KEY (centre, number, call_sign, status, at_ms)
) STRICT;
CREATE TABLE IF NOT EXISTS chan_pads (
    serial   TEXT PRIMARY KEY NOT NULL,
    next_seq INTEGER NOT NULL,
    acked    INTEGER NOT NULL,
    dropped  INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS chan_queue (
    serial     TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    sealed     BLOB NOT NULL,
    PRIMARY KEY (serial, seq)
) STRICT;
CREATE TABLE IF NOT EXISTS prenotices (
    mission_id BLOB PRIMARY KEY NOT NULL,
    hospital   TEXT NOT NULL,
    call_sign  TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    sealed     BLOB NOT NULL,
    ecg        BLOB
) STRICT;
CREATE TABLE IF NOT EXISTS els_documented (
    mission_id  BLOB NOT NULL,
    packet_id   BLOB NOT NULL,
    serial      TEXT NOT NULL,
    call_sign   TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    times       TEXT NOT NULL,
    PRIMARY KEY (mission_id, packet_id)
) STRICT;
CREATE TABLE IF NOT EXISTS chan_delivered (
    centre    TEXT NOT NULL,
    number    TEXT NOT NULL,
    serial    TEXT NOT NULL,
    call_sign TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (centre, number, serial)
) STRICT;
";

/// Why a centre's message was refused. `Display` is the English answer.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("a valid centre token is required")]
    Unauthorized,
    #[error("the message names another centre than the token's")]
    ForeignCentre,
    #[error(transparent)]
    Invalid(#[from] DispatchError),
    #[error("msg_id was already used for a different message")]
    Collision,
    #[error("no such mission of this centre")]
    UnknownMission,
    #[error("unit {0:?} is not alarmed for this mission")]
    UnknownUnit(String),
    #[error("unit {0:?} is registered to another centre")]
    ForeignUnit(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl Refusal {
    pub fn status(&self) -> u16 {
        match self {
            Refusal::Unauthorized => 401,
            Refusal::ForeignCentre => 403,
            Refusal::Invalid(DispatchError::TooLarge(_)) => 413,
            Refusal::Invalid(_) => 400,
            Refusal::Collision => 409,
            Refusal::UnknownMission => 404,
            Refusal::UnknownUnit(_) | Refusal::ForeignUnit(_) => 422,
            Refusal::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Unauthorized => "unauthorized",
            Refusal::ForeignCentre => "foreign_centre",
            Refusal::Invalid(DispatchError::TooLarge(_)) => "too_large",
            Refusal::Invalid(_) => "invalid",
            Refusal::Collision => "msg_id_collision",
            Refusal::UnknownMission => "unknown_mission",
            Refusal::UnknownUnit(_) => "unknown_unit",
            Refusal::ForeignUnit(_) => "foreign_unit",
            Refusal::Internal(_) => "internal",
        }
    }
}

impl From<rusqlite::Error> for Refusal {
    fn from(e: rusqlite::Error) -> Self {
        Refusal::Internal(e.to_string())
    }
}

/// What happened to an accepted message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Accepted {
    pub mission_id: Uuid,
    /// The same message again (same id, or the same status and time).
    pub duplicate: bool,
    /// A mission revision below the one held: kept out of the pads.
    pub stale: bool,
    /// Pads (serials) that got it in their queue.
    pub routed: Vec<String>,
    /// Alarmed call signs with no registered pad.
    pub unrouted: Vec<String>,
}

/// The answer to a lookup (SELECT) of an ELS mission.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lookup {
    pub mission_id: Uuid,
    pub revision: u32,
    pub cancelled_ms: Option<i64>,
    pub units: Vec<String>,
    /// Pads that got the mission: serial, call sign, and whether the pad
    /// has acknowledged it.
    pub pads: Vec<PadDelivery>,
    pub statuses: Vec<(String, u8, i64)>,
    /// Protocols of this mission the gateway received (receipted).
    pub documented: Vec<Documented>,
}

/// A protocol of an ELS mission the gateway holds: which pad, which unit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Documented {
    pub packet_id: Uuid,
    pub serial: String,
    pub call_sign: String,
    pub received_ms: i64,
    /// The mission times as the crew closed the protocol (the seed's
    /// "Update" back to the ELS).
    pub times: Vec<DocumentedTime>,
    /// Its report to the centre's report target (`report`).
    pub report: crate::report::ReportState,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PadDelivery {
    pub serial: String,
    pub call_sign: String,
    pub acknowledged: bool,
}

/// A pad's queue as the admin sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueInfo {
    pub queued: u64,
    pub acked: u64,
    pub dropped: u64,
}

pub struct Dispatcher {
    pub(crate) db: Mutex<Connection>,
    key: SecretKey,
    centres: HashMap<String, CentreEntry>,
    /// Token SHA-256 → centre id.
    tokens: Vec<([u8; 32], String)>,
    /// Call sign → pads `(serial, centre)`.
    units: HashMap<String, Vec<(String, Option<String>)>>,
    limits: ChannelLimits,
    wake: Mutex<HashMap<String, Arc<Notify>>>,
    /// Centres with a report target → their sender's wake-up.
    pub(crate) report_wake: HashMap<String, Arc<Notify>>,
}

/// SQLite integers are signed; seqs and counts never come near 2^63.
fn sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn unsql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn aad(serial: &str, seq: u64) -> Vec<u8> {
    let mut a = b"rettpad-gateway/v1/chan\0".to_vec();
    a.extend_from_slice(serial.as_bytes());
    a.push(0);
    a.extend_from_slice(&seq.to_be_bytes());
    a
}

fn mission_aad(centre: &str, number: &str) -> Vec<u8> {
    let mut a = b"rettpad-gateway/v1/els\0".to_vec();
    a.extend_from_slice(centre.as_bytes());
    a.push(0);
    a.extend_from_slice(number.as_bytes());
    a
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Dispatcher {
    /// Opens (or creates) `dispatch.sqlite` in the gateway's data directory.
    pub fn open(cfg: &GatewayConfig, key: SecretKey) -> Result<Dispatcher, String> {
        Self::open_at(&cfg.data_dir, cfg, key)
    }

    pub fn open_at(dir: &Path, cfg: &GatewayConfig, key: SecretKey) -> Result<Dispatcher, String> {
        let path = dir.join("dispatch.sqlite");
        // Created 0600 before SQLite opens it, like the packet store.
        crate::private::touch(&path)?;
        for ext in ["sqlite-wal", "sqlite-shm"] {
            crate::private::narrow_file(&path.with_extension(ext))?;
        }
        let db = Connection::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        db.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| e.to_string())?;
        db.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;",
        )
        .and_then(|_| db.execute_batch(SCHEMA))
        .and_then(|_| db.execute_batch(crate::report::SCHEMA))
        .and_then(|_| db.execute_batch(crate::fleet::SCHEMA))
        .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut units: HashMap<String, Vec<(String, Option<String>)>> = HashMap::new();
        for p in &cfg.pads {
            units
                .entry(p.call_sign.clone())
                .or_default()
                .push((p.serial.clone(), p.centre.clone()));
        }
        let tokens = cfg
            .centres
            .iter()
            .filter_map(|c| {
                let h: [u8; 32] = hex::decode(&c.token_sha256).ok()?.try_into().ok()?;
                Some((h, c.id.clone()))
            })
            .collect();
        Ok(Dispatcher {
            db: Mutex::new(db),
            key,
            centres: cfg
                .centres
                .iter()
                .map(|c| (c.id.clone(), c.clone()))
                .collect(),
            tokens,
            units,
            limits: cfg.channel.clone(),
            wake: Mutex::new(HashMap::new()),
            report_wake: crate::report::wakers(cfg),
        })
    }

    pub fn limits(&self) -> &ChannelLimits {
        &self.limits
    }

    /// The centre a bearer token belongs to.
    pub fn centre_of(&self, token: &str) -> Option<&str> {
        let h = crypto::sha256(token.as_bytes());
        self.tokens
            .iter()
            .find(|(t, _)| constant_eq(t, &h))
            .map(|(_, c)| c.as_str())
    }

    /// Woken whenever the pad's queue grows.
    pub fn waker(&self, serial: &str) -> Arc<Notify> {
        lock(&self.wake)
            .entry(serial.to_string())
            .or_default()
            .clone()
    }

    /// Takes one message from centre `centre` (the token's).
    pub fn submit(&self, centre: &str, bytes: &[u8], now_ms: i64) -> Result<Accepted, Refusal> {
        let d = msg::parse(bytes)?;
        if d.centre != centre {
            return Err(Refusal::ForeignCentre);
        }
        let Some(c) = self.centres.get(centre) else {
            return Err(Refusal::Unauthorized);
        };
        let canon = serde_json::to_vec(&d).map_err(|e| Refusal::Internal(e.to_string()))?;
        let sha = crypto::sha256(&canon);
        let mid = mission_id(&d.centre, d.number());
        let mut acc = Accepted {
            mission_id: mid,
            duplicate: false,
            stale: false,
            routed: Vec::new(),
            unrouted: Vec::new(),
        };
        let mut db = lock(&self.db);
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let seen: Option<Vec<u8>> = tx
            .query_row(
                "SELECT sha256 FROM els_msgs WHERE msg_id = ?1",
                [d.msg_id.as_bytes().as_slice()],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(s) = seen {
            if s == sha {
                acc.duplicate = true;
                return Ok(acc);
            }
            tracing::warn!(centre, msg = %d.msg_id, "dispatch message id reused for other content");
            return Err(Refusal::Collision);
        }
        let number = d.number().to_string();
        let held: Option<(u32, Option<i64>)> = tx
            .query_row(
                "SELECT revision, cancelled_ms FROM els_missions WHERE centre = ?1 AND number = ?2",
                params![centre, number],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        // (call sign, time fields) of each unit that gets this message.
        let mut targets: Vec<(String, Vec<String>)> = Vec::new();
        match &d.body {
            Body::Mission(m) => {
                for u in &m.units {
                    self.check_unit(centre, &u.call_sign)?;
                }
                if held.is_some_and(|(r, _)| m.revision < r) {
                    acc.stale = true;
                } else {
                    let sealed = crypto::seal(&self.key, &mission_aad(centre, &number), &canon)
                        .map_err(|e| Refusal::Internal(e.to_string()))?;
                    tx.execute(
                        "INSERT INTO els_missions (centre, number, mission_id, revision, sealed, cancelled_ms, updated_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)
                         ON CONFLICT (centre, number) DO UPDATE SET revision = ?4, sealed = ?5, updated_ms = ?6",
                        params![centre, number, mid.as_bytes().as_slice(), m.revision, sealed, now_ms],
                    )?;
                    for u in &m.units {
                        tx.execute(
                            "INSERT OR IGNORE INTO els_units (centre, number, call_sign) VALUES (?1, ?2, ?3)",
                            params![centre, number, u.call_sign],
                        )?;
                        targets.push((u.call_sign.clone(), Vec::new()));
                    }
                }
            }
            Body::Status(s) => {
                if held.is_none() {
                    return Err(Refusal::UnknownMission);
                }
                let alarmed: bool = tx
                    .query_row(
                        "SELECT 1 FROM els_units WHERE centre = ?1 AND number = ?2 AND call_sign = ?3",
                        params![centre, number, s.call_sign],
                        |_| Ok(true),
                    )
                    .optional()?
                    .is_some();
                if !alarmed {
                    return Err(Refusal::UnknownUnit(s.call_sign.clone()));
                }
                let n = tx.execute(
                    "INSERT OR IGNORE INTO els_status (centre, number, call_sign, status, at_ms, received_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![centre, number, s.call_sign, s.status, s.at_ms, now_ms],
                )?;
                if n == 0 {
                    acc.duplicate = true;
                } else {
                    targets.push((s.call_sign.clone(), c.status_map.fields(s.status).to_vec()));
                }
            }
            Body::Cancel(k) => {
                if held.is_none() {
                    return Err(Refusal::UnknownMission);
                }
                tx.execute(
                    "UPDATE els_missions SET cancelled_ms = COALESCE(cancelled_ms, ?3), updated_ms = ?4
                     WHERE centre = ?1 AND number = ?2",
                    params![centre, number, k.at_ms, now_ms],
                )?;
                let mut st = tx
                    .prepare("SELECT call_sign FROM els_units WHERE centre = ?1 AND number = ?2")?;
                let units: Vec<String> = st
                    .query_map(params![centre, number], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                drop(st);
                targets.extend(units.into_iter().map(|u| (u, Vec::new())));
            }
        }
        tx.execute(
            "INSERT INTO els_msgs (msg_id, centre, sha256, received_ms) VALUES (?1, ?2, ?3, ?4)",
            params![
                d.msg_id.as_bytes().as_slice(),
                centre,
                sha.as_slice(),
                now_ms
            ],
        )?;
        let mut woken = Vec::new();
        for (call_sign, fields) in targets {
            let pads: Vec<&(String, Option<String>)> = self
                .units
                .get(&call_sign)
                .map(|v| v.iter().collect())
                .unwrap_or_default();
            if pads.is_empty() {
                acc.unrouted.push(call_sign);
                continue;
            }
            for (serial, _) in pads {
                let body = ToPad {
                    dispatch: d.clone(),
                    mission_id: mid,
                    call_sign: call_sign.clone(),
                    received_ms: now_ms,
                    fields: fields.clone(),
                };
                let body =
                    serde_json::to_value(&body).map_err(|e| Refusal::Internal(e.to_string()))?;
                let seq = self.enqueue(&tx, serial, Kind::Dispatch, body, now_ms)?;
                tx.execute(
                    "INSERT INTO chan_delivered (centre, number, serial, call_sign, seq) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (centre, number, serial) DO UPDATE SET seq = ?5",
                    params![centre, number, serial, call_sign, sql(seq)],
                )?;
                acc.routed.push(serial.clone());
                woken.push(serial.clone());
            }
        }
        tx.commit()?;
        drop(db);
        for s in woken {
            self.waker(&s).notify_one();
        }
        tracing::info!(
            centre,
            msg = %d.msg_id,
            kind = d.kind_name(),
            mission = %mid,
            routed = acc.routed.len(),
            unrouted = acc.unrouted.len(),
            duplicate = acc.duplicate,
            stale = acc.stale,
            "dispatch message accepted"
        );
        if !acc.unrouted.is_empty() {
            tracing::warn!(centre, msg = %d.msg_id, units = acc.unrouted.len(), "alarmed units without a registered pad");
        }
        Ok(acc)
    }

    /// A unit registered to another centre may not be alarmed by this one.
    fn check_unit(&self, centre: &str, call_sign: &str) -> Result<(), Refusal> {
        let foreign = self.units.get(call_sign).is_some_and(|pads| {
            pads.iter()
                .any(|(_, c)| c.as_deref().is_some_and(|c| c != centre))
        });
        if foreign {
            tracing::warn!(centre, "dispatch refused: a unit belongs to another centre");
            return Err(Refusal::ForeignUnit(call_sign.to_string()));
        }
        Ok(())
    }

    /// Appends one message to a pad's queue inside `tx`; returns its seq.
    pub(crate) fn enqueue(
        &self,
        tx: &rusqlite::Transaction<'_>,
        serial: &str,
        kind: Kind,
        body: serde_json::Value,
        now_ms: i64,
    ) -> Result<u64, Refusal> {
        tx.execute(
            "INSERT OR IGNORE INTO chan_pads (serial, next_seq, acked, dropped) VALUES (?1, 1, 0, 0)",
            [serial],
        )?;
        let seq = unsql(tx.query_row(
            "UPDATE chan_pads SET next_seq = next_seq + 1 WHERE serial = ?1 RETURNING next_seq - 1",
            [serial],
            |r| r.get(0),
        )?);
        let env = Envelope {
            v: SCHEMA_VERSION,
            id: Uuid::now_v7(),
            seq,
            kind,
            created_ms: now_ms,
            body,
        };
        let sealed = crypto::seal(&self.key, &aad(serial, seq), env.to_json().as_bytes())
            .map_err(|e| Refusal::Internal(e.to_string()))?;
        tx.execute(
            "INSERT INTO chan_queue (serial, seq, created_ms, sealed) VALUES (?1, ?2, ?3, ?4)",
            params![serial, sql(seq), now_ms, sealed],
        )?;
        let queued = unsql(tx.query_row(
            "SELECT count(*) FROM chan_queue WHERE serial = ?1",
            [serial],
            |r| r.get(0),
        )?);
        let over = queued.saturating_sub(u64::from(self.limits.max_queue));
        if over > 0 {
            tx.execute(
                "DELETE FROM chan_queue WHERE serial = ?1 AND seq IN
                 (SELECT seq FROM chan_queue WHERE serial = ?1 ORDER BY seq LIMIT ?2)",
                params![serial, sql(over)],
            )?;
            tx.execute(
                "UPDATE chan_pads SET dropped = dropped + ?2 WHERE serial = ?1",
                params![serial, sql(over)],
            )?;
            tracing::error!(
                device = serial,
                dropped = over,
                "channel queue full: oldest messages dropped"
            );
        }
        Ok(seq)
    }

    /// Up to `limit` queued envelopes after `after`, in order.
    pub fn pending(&self, serial: &str, after: u64, limit: u32) -> Result<Vec<Envelope>, String> {
        let db = lock(&self.db);
        let mut st = db
            .prepare(
                "SELECT seq, sealed FROM chan_queue WHERE serial = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )
            .map_err(|e| e.to_string())?;
        let rows: Vec<(i64, Vec<u8>)> = st
            .query_map(params![serial, sql(after), limit], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .and_then(|it| it.collect())
            .map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(rows.len());
        for (seq, sealed) in rows {
            let seq = unsql(seq);
            match crypto::open(&self.key, &aad(serial, seq), &sealed)
                .ok()
                .and_then(|pt| serde_json::from_slice::<Envelope>(&pt).ok())
            {
                Some(e) => out.push(e),
                None => tracing::error!(
                    device = serial,
                    seq,
                    "queued channel message unreadable; skipped"
                ),
            }
        }
        Ok(out)
    }

    /// The pad applied everything up to `seq`.
    pub fn ack(&self, serial: &str, seq: u64) -> Result<(), String> {
        let mut db = lock(&self.db);
        let tx = db.transaction().map_err(|e| e.to_string())?;
        let next: Option<u64> = tx
            .query_row(
                "SELECT next_seq FROM chan_pads WHERE serial = ?1",
                [serial],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| e.to_string())?
            .map(unsql);
        if next.is_none_or(|n| seq >= n) {
            return Err("acknowledged seq was never sent".into());
        }
        tx.execute(
            "UPDATE chan_pads SET acked = max(acked, ?2) WHERE serial = ?1",
            params![serial, sql(seq)],
        )
        .and_then(|_| {
            tx.execute(
                "DELETE FROM chan_queue WHERE serial = ?1 AND seq <= ?2",
                params![serial, sql(seq)],
            )
        })
        .and_then(|_| tx.commit())
        .map_err(|e| e.to_string())
    }

    pub fn queue_info(&self, serial: &str) -> Result<QueueInfo, String> {
        let db = lock(&self.db);
        let (acked, dropped): (i64, i64) = db
            .query_row(
                "SELECT acked, dropped FROM chan_pads WHERE serial = ?1",
                [serial],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| e.to_string())?
            .unwrap_or((0, 0));
        let queued: i64 = db
            .query_row(
                "SELECT count(*) FROM chan_queue WHERE serial = ?1",
                [serial],
                |r| r.get(0),
            )
            .map_err(|e| e.to_string())?;
        Ok(QueueInfo {
            queued: unsql(queued),
            acked: unsql(acked),
            dropped: unsql(dropped),
        })
    }

    /// Drops queued messages older than `max_queue_age_hours`, except
    /// remote commands: a wipe for a stolen pad must wait for it however
    /// long it stays offline (a lock or unlock expires on the pad itself).
    pub fn sweep(&self, now_ms: i64) -> Result<usize, String> {
        let cutoff = now_ms - i64::from(self.limits.max_queue_age_hours) * HOUR_MS;
        let db = lock(&self.db);
        let n = db
            .execute(
                "DELETE FROM chan_queue WHERE created_ms < ?1 AND NOT EXISTS
                 (SELECT 1 FROM fleet_commands c WHERE c.serial = chan_queue.serial AND c.chan_seq = chan_queue.seq)",
                [cutoff],
            )
            .map_err(|e| e.to_string())?;
        if n > 0 {
            tracing::warn!(dropped = n, "channel messages expired unacknowledged");
        }
        Ok(n)
    }

    /// SELECT: what the gateway knows of an ELS mission of `centre`.
    pub fn lookup(&self, centre: &str, number: &str) -> Result<Option<Lookup>, String> {
        let db = lock(&self.db);
        let e = |e: rusqlite::Error| e.to_string();
        let Some((mid, revision, cancelled_ms)) = db
            .query_row(
                "SELECT mission_id, revision, cancelled_ms FROM els_missions WHERE centre = ?1 AND number = ?2",
                params![centre, number],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(e)?
        else {
            return Ok(None);
        };
        let mission_id = Uuid::from_slice(&mid).map_err(|x| x.to_string())?;
        let mut st = db
            .prepare("SELECT call_sign FROM els_units WHERE centre = ?1 AND number = ?2 ORDER BY call_sign")
            .map_err(e)?;
        let units = st
            .query_map(params![centre, number], |r| r.get(0))
            .and_then(|it| it.collect())
            .map_err(e)?;
        let mut st = db
            .prepare(
                "SELECT d.serial, d.call_sign, d.seq <= coalesce(p.acked, 0) FROM chan_delivered d
                 LEFT JOIN chan_pads p ON p.serial = d.serial
                 WHERE d.centre = ?1 AND d.number = ?2 ORDER BY d.serial",
            )
            .map_err(e)?;
        let pads = st
            .query_map(params![centre, number], |r| {
                Ok(PadDelivery {
                    serial: r.get(0)?,
                    call_sign: r.get(1)?,
                    acknowledged: r.get(2)?,
                })
            })
            .and_then(|it| it.collect())
            .map_err(e)?;
        let mut st = db
            .prepare(
                "SELECT call_sign, status, at_ms FROM els_status WHERE centre = ?1 AND number = ?2 ORDER BY at_ms",
            )
            .map_err(e)?;
        let statuses = st
            .query_map(params![centre, number], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .and_then(|it| it.collect())
            .map_err(e)?;
        let documented =
            crate::report::documented_rows(&db, mission_id, self.reports_to(centre)).map_err(e)?;
        Ok(Some(Lookup {
            mission_id,
            revision,
            cancelled_ms,
            units,
            pads,
            statuses,
            documented,
        }))
    }
}

/// How long an en-route pre-notice stays on the board after its ETA (or
/// after it was sent, without one).
pub const PRENOTICE_KEEP_MS: i64 = 3 * HOUR_MS;

fn prenotice_aad(m: &Uuid) -> Vec<u8> {
    let mut a = b"rettpad-gateway/v1/prenotice\0".to_vec();
    a.extend_from_slice(m.as_bytes());
    a
}

/// Why a pre-notice was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreNoticeError {
    #[error("unknown hospital")]
    UnknownHospital,
    #[error("field {0} is invalid or too long")]
    Field(&'static str),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Checks what the board will show: short, plain, plausible.
pub fn check_prenotice(n: &PreNotice, now_ms: i64) -> Result<(), PreNoticeError> {
    let text_ok =
        |s: &str, max: usize| s.chars().count() <= max && !s.chars().any(char::is_control);
    if !text_ok(&n.suspected_diagnosis, 200) {
        return Err(PreNoticeError::Field("suspected_diagnosis"));
    }
    if !text_ok(&n.priority, 32) {
        return Err(PreNoticeError::Field("priority"));
    }
    if !matches!(n.sex.as_str(), "" | "m" | "w" | "d") {
        return Err(PreNoticeError::Field("sex"));
    }
    if !text_ok(&n.vitals, 120) {
        return Err(PreNoticeError::Field("vitals"));
    }
    if n.age_years.is_some_and(|a| a > 130) {
        return Err(PreNoticeError::Field("age_years"));
    }
    if let Some(p) = &n.pzc
        && (p.len() > 12 || !p.chars().all(|c| c.is_ascii_digit() || c == '-'))
    {
        return Err(PreNoticeError::Field("pzc"));
    }
    if n.eta_ms
        .is_some_and(|t| t < now_ms - HOUR_MS || t > now_ms + 6 * HOUR_MS)
    {
        return Err(PreNoticeError::Field("eta_ms"));
    }
    Ok(())
}

impl Dispatcher {
    /// Puts (or replaces) the en-route pre-notice of mission `m`, with
    /// its ECG envelope for the hospital (opaque here).
    pub fn put_prenotice(
        &self,
        m: Uuid,
        hospital: &str,
        call_sign: &str,
        n: &PreNotice,
        ecg: Option<&[u8]>,
        now_ms: i64,
    ) -> Result<(), PreNoticeError> {
        check_prenotice(n, now_ms)?;
        if ecg.is_some_and(|e| e.len() > rettpad_transfer::ecg::MAX_ECG + 1024) {
            return Err(PreNoticeError::Field("ecg"));
        }
        let json = serde_json::to_vec(n).map_err(|e| PreNoticeError::Internal(e.to_string()))?;
        let sealed = crypto::seal(&self.key, &prenotice_aad(&m), &json)
            .map_err(|e| PreNoticeError::Internal(e.to_string()))?;
        let expires = n.eta_ms.unwrap_or(now_ms).max(now_ms) + PRENOTICE_KEEP_MS;
        lock(&self.db)
            .execute(
                "INSERT INTO prenotices (mission_id, hospital, call_sign, created_ms, updated_ms, expires_ms, sealed, ecg)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)
                 ON CONFLICT (mission_id) DO UPDATE SET hospital = ?2, call_sign = ?3, updated_ms = ?4,
                   expires_ms = ?5, sealed = ?6, ecg = ?7",
                params![m.as_bytes().as_slice(), hospital, call_sign, now_ms, expires, sealed, ecg],
            )
            .map_err(|e| PreNoticeError::Internal(e.to_string()))?;
        Ok(())
    }

    /// En-route ECGs waiting for `hospital`: (mission, call sign, sent).
    pub fn prenotice_ecgs(
        &self,
        hospital: &str,
        now_ms: i64,
    ) -> Result<Vec<(Uuid, String, i64)>, String> {
        let db = lock(&self.db);
        let mut st = db
            .prepare(
                "SELECT mission_id, call_sign, updated_ms FROM prenotices
                 WHERE hospital = ?1 AND ecg IS NOT NULL AND expires_ms > ?2 ORDER BY updated_ms",
            )
            .map_err(|e| e.to_string())?;
        let rows: Vec<(Vec<u8>, String, i64)> = st
            .query_map(params![hospital, now_ms], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .and_then(|it| it.collect())
            .map_err(|e| e.to_string())?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, cs, t)| Some((Uuid::from_slice(&id).ok()?, cs, t)))
            .collect())
    }

    /// The ECG envelope sent en route for mission `m` to `hospital`.
    pub fn prenotice_ecg(
        &self,
        hospital: &str,
        m: Uuid,
        now_ms: i64,
    ) -> Result<Option<Vec<u8>>, String> {
        lock(&self.db)
            .query_row(
                "SELECT ecg FROM prenotices WHERE mission_id = ?1 AND hospital = ?2 AND expires_ms > ?3",
                params![m.as_bytes().as_slice(), hospital, now_ms],
                |r| r.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(|e| e.to_string())
    }

    /// The protocol of `m` arrived: its board entry replaces the notice.
    pub fn drop_prenotice(&self, m: Uuid) -> Result<bool, String> {
        lock(&self.db)
            .execute(
                "DELETE FROM prenotices WHERE mission_id = ?1",
                [m.as_bytes().as_slice()],
            )
            .map(|n| n > 0)
            .map_err(|e| e.to_string())
    }

    /// Unexpired en-route notices (of one hospital or all), newest first.
    pub fn prenotices(
        &self,
        hospital: Option<&str>,
        now_ms: i64,
    ) -> Result<Vec<BoardEntry>, String> {
        let db = lock(&self.db);
        let e = |e: rusqlite::Error| e.to_string();
        db.execute("DELETE FROM prenotices WHERE expires_ms <= ?1", [now_ms])
            .map_err(e)?;
        let mut st = db
            .prepare(
                "SELECT mission_id, hospital, call_sign, created_ms, updated_ms, expires_ms, sealed, ecg IS NOT NULL
                 FROM prenotices WHERE ?1 IS NULL OR hospital = ?1 ORDER BY updated_ms DESC",
            )
            .map_err(e)?;
        type Row = (Vec<u8>, String, String, i64, i64, i64, Vec<u8>, bool);
        let rows: Vec<Row> = st
            .query_map([hospital], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                ))
            })
            .and_then(|it| it.collect())
            .map_err(e)?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, hospital, call_sign, created_ms, _updated, expires_ms, sealed, ecg) in rows {
            let Ok(m) = Uuid::from_slice(&id) else {
                continue;
            };
            let notice = crypto::open(&self.key, &prenotice_aad(&m), &sealed)
                .ok()
                .and_then(|pt| serde_json::from_slice::<PreNotice>(&pt).ok());
            let Some(notice) = notice else {
                tracing::error!(mission = %m, "pre-notice unreadable; skipped");
                continue;
            };
            out.push(BoardEntry {
                packet_id: m,
                en_route: true,
                ecg,
                hospital,
                call_sign,
                created_ms,
                expires_ms,
                notice,
            });
        }
        Ok(out)
    }
}

/// A dispatch message's time for humans (docs and logs of the simulator).
pub fn rfc3339(ms: i64) -> String {
    msg::format_time(ms)
}
