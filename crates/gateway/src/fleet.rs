//! The fleet on the gateway, without sockets: provisioning packages (part
//! versions, targets, publishing onto the pads' channel queues), remote
//! commands, and what each pad last reported (docs/fleet.md). The keys on
//! disk are `fleet_keys`; the operator's commands `fleet_cli`.
//!
//! The tables live in `dispatch.sqlite` beside the channel queue, so a
//! package or command is queued and recorded in one transaction. A command
//! line tool writes them while the gateway runs: a connected pad gets the
//! row at the stream's next keep-alive.
//!
//! Logs carry serials, ids, versions and actions; never a part's content
//! (the staff list) nor a command's reason.

use crate::config::{FleetEntry, GatewayConfig, PadEntry};
use crate::dispatch::{Dispatcher, lock};
use base64::Engine;
use rettpad_channel::{Envelope, Kind, MAX_EVENT_BYTES, SCHEMA_VERSION};
use rettpad_provision::command::{Action, Command};
use rettpad_provision::package::{self, Header, PartName, Target};
use rettpad_provision::{ProvisionError, SigningKey, Trust, parts};
use rettpad_transfer::pad_status::PadStatus;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

pub const DAY_MS: i64 = 86_400_000;
/// A remote lock or unlock is void after this; a wipe never expires (a
/// stolen pad may stay offline for weeks).
pub const COMMAND_VALID_MS: i64 = 7 * DAY_MS;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS fleet_versions (
    org     TEXT NOT NULL,
    part    TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (org, part)
) STRICT;
CREATE TABLE IF NOT EXISTS fleet_published (
    package_id   BLOB NOT NULL,
    serial       TEXT NOT NULL,
    parts        TEXT NOT NULL,
    published_ms INTEGER NOT NULL,
    chan_seq     INTEGER NOT NULL,
    PRIMARY KEY (package_id, serial)
) STRICT;
CREATE TABLE IF NOT EXISTS fleet_commands (
    cmd_id    BLOB PRIMARY KEY NOT NULL,
    serial    TEXT NOT NULL,
    action    TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    issued_ms INTEGER NOT NULL,
    issuer    TEXT NOT NULL,
    reason    TEXT NOT NULL,
    chan_seq  INTEGER NOT NULL,
    signed    BLOB NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS fleet_commands_serial ON fleet_commands (serial, chan_seq);
CREATE TABLE IF NOT EXISTS fleet_status (
    serial       TEXT PRIMARY KEY NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    status       TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS fleet_links (
    serial     TEXT PRIMARY KEY NOT NULL,
    pid        INTEGER NOT NULL,
    generation INTEGER NOT NULL,
    opened_ms  INTEGER NOT NULL,
    closed_ms  INTEGER
) STRICT;
";

fn sql(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn unsql(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn db_err(e: rusqlite::Error) -> String {
    format!("gateway database: {e}")
}

/// An organisation name as it appears in keys, packages and pads' `[fleet]`.
pub fn check_org(org: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&org.len())
        && org
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "organisation {org:?} must be 1-64 characters of a-z, 0-9, -, _ and ."
        ))
    }
}

/// What the pads of this organisation trust.
pub fn trust(f: &FleetEntry) -> Trust {
    Trust {
        org: f.org.clone(),
        root_key: f.root_key.clone(),
    }
}

// ---- targets --------------------------------------------------------------

/// `--to`: `all`, `SERIAL[,SERIAL…]`, `station:NAME` or `type:NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Group {
    All,
    Serials(Vec<String>),
    Station(String),
    VehicleType(String),
}

impl Group {
    pub fn parse(s: &str) -> Result<Group, String> {
        let s = s.trim();
        let named = |n: &str, what: &str| {
            let n = n.trim();
            if n.is_empty() {
                Err(format!("--to {what}: needs a name"))
            } else {
                Ok(n.to_string())
            }
        };
        if s == "all" {
            Ok(Group::All)
        } else if let Some(n) = s.strip_prefix("station:") {
            named(n, "station").map(Group::Station)
        } else if let Some(n) = s.strip_prefix("type:") {
            named(n, "type").map(Group::VehicleType)
        } else {
            let mut serials: Vec<String> = Vec::new();
            for x in s.split(',').map(str::trim).filter(|x| !x.is_empty()) {
                if !serials.iter().any(|y| y == x) {
                    serials.push(x.to_string());
                }
            }
            if serials.is_empty() {
                return Err("--to names no pad".into());
            }
            Ok(Group::Serials(serials))
        }
    }

    /// The registered pads this names. A serial that is not registered is
    /// refused (a typo must not build a package no pad takes).
    pub fn resolve(&self, pads: &[PadEntry]) -> Result<Vec<String>, String> {
        let pick = |f: &dyn Fn(&PadEntry) -> bool, what: String| {
            let v: Vec<String> = pads
                .iter()
                .filter(|p| f(p))
                .map(|p| p.serial.clone())
                .collect();
            if v.is_empty() {
                Err(format!("no registered pad {what}"))
            } else {
                Ok(v)
            }
        };
        match self {
            Group::All => pick(&|_| true, "in gateway.toml".into()),
            Group::Station(n) => pick(
                &|p| p.station.as_deref() == Some(n.as_str()),
                format!("has station {n:?}"),
            ),
            Group::VehicleType(n) => pick(
                &|p| p.vehicle_type.as_deref() == Some(n.as_str()),
                format!("has vehicle_type {n:?}"),
            ),
            Group::Serials(v) => {
                if let Some(s) = v.iter().find(|s| !pads.iter().any(|p| &p.serial == *s)) {
                    return Err(format!("pad {s} is not registered in gateway.toml"));
                }
                Ok(v.clone())
            }
        }
    }

    /// What a package built for this group names: `all` stays open to pads
    /// registered later; a group is its pads as registered today.
    pub fn target(&self, pads: &[PadEntry]) -> Result<Target, String> {
        match self {
            Group::All => Ok(Target::All),
            g => g.resolve(pads).map(Target::Serials),
        }
    }
}

// ---- packages -------------------------------------------------------------

/// The next version of each of `parts` for `org`. The counter is kept in the
/// database, so versions only grow across restarts; it also moves past any
/// version a pad reports (a gateway restored from an old backup must not
/// build packages the pads refuse as rollbacks).
pub fn next_versions(d: &Dispatcher, org: &str, parts: &[PartName]) -> Result<Vec<u64>, String> {
    let mut db = lock(&d.db);
    let tx = db
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let reported = reported_versions(&tx)?;
    let mut out = Vec::with_capacity(parts.len());
    for p in parts {
        let floor = reported.get(p.name()).copied().unwrap_or(0);
        let v: i64 = tx
            .query_row(
                "INSERT INTO fleet_versions (org, part, version) VALUES (?1, ?2, ?3 + 1)
                 ON CONFLICT (org, part) DO UPDATE SET version = max(version, ?3) + 1
                 RETURNING version",
                params![org, p.name(), sql(floor)],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        out.push(unsql(v));
    }
    tx.commit().map_err(db_err)?;
    Ok(out)
}

/// The highest version of each part any pad reported.
fn reported_versions(db: &rusqlite::Connection) -> Result<BTreeMap<String, u64>, String> {
    let mut st = db
        .prepare("SELECT status FROM fleet_status")
        .map_err(db_err)?;
    let rows: Vec<String> = st
        .query_map([], |r| r.get(0))
        .and_then(|it| it.collect())
        .map_err(db_err)?;
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for s in rows
        .iter()
        .filter_map(|j| serde_json::from_str::<PadStatus>(j).ok())
    {
        for (p, v) in s.config_versions {
            let e = out.entry(p).or_default();
            *e = (*e).max(v);
        }
    }
    Ok(out)
}

/// Builds and signs a package of `parts` (validated bytes, see
/// `parts::from_toml`) for `target`. Every check runs before a version is
/// counted, so a refused build changes nothing.
pub fn build(
    d: &Dispatcher,
    f: &FleetEntry,
    key: &SigningKey,
    parts: Vec<(PartName, Vec<u8>)>,
    target: Target,
    expires_ms: Option<i64>,
    now_ms: i64,
) -> Result<(Vec<u8>, Header), String> {
    if parts.is_empty() {
        return Err("the package has no parts".into());
    }
    if parts.iter().any(|(p, _)| *p == PartName::Device)
        && !matches!(&target, Target::Serials(s) if s.len() == 1)
    {
        return Err(
            "device.toml is only allowed in a package for exactly one pad (--to SERIAL)".into(),
        );
    }
    if expires_ms.is_some_and(|e| e <= now_ms) {
        return Err("the expiry must lie in the future".into());
    }
    // Framing, header and certificate fit well within 64 KiB.
    let size: usize = parts.iter().map(|(_, b)| b.len()).sum();
    if size + 64 * 1024 > rettpad_provision::MAX_PACKAGE_BYTES {
        return Err(format!(
            "the parts hold {size} bytes; a package holds at most {} (split it)",
            rettpad_provision::MAX_PACKAGE_BYTES - 64 * 1024
        ));
    }
    let names: Vec<PartName> = parts.iter().map(|(p, _)| *p).collect();
    let versions = next_versions(d, &f.org, &names)?;
    let mut b = package::Builder::new(&f.org, target, now_ms);
    if let Some(e) = expires_ms {
        b = b.expires(e);
    }
    for ((p, bytes), v) in parts.into_iter().zip(versions) {
        b = b.part(p, v, bytes);
    }
    let bytes = b.sign(key).map_err(|e| format!("signing: {e}"))?;
    let header = b.header().clone();
    tracing::info!(
        package = %header.package_id,
        parts = ?header.parts.iter().map(|p| format!("{}={}", p.name.name(), p.version)).collect::<Vec<_>>(),
        bytes = bytes.len(),
        "provisioning package built"
    );
    Ok((bytes, header))
}

/// Checks a package file as a pad of this organisation would, without a
/// pad's history: signature chain up to our root, organisation, expiry,
/// the parts' hashes and contents. A file that fails never reaches a pad.
pub fn check_package(f: &FleetEntry, bytes: &[u8], now_ms: i64) -> Result<Header, ProvisionError> {
    let v = package::inspect(bytes, &trust(f), now_ms)?;
    parts::decode(&v)?;
    Ok(v.header)
}

/// The channel body of a package or command.
fn fleet_body(kind: Kind, bytes: &[u8]) -> serde_json::Value {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    match kind {
        Kind::Command => serde_json::json!({ "command": b64 }),
        _ => serde_json::json!({ "package": b64 }),
    }
}

/// Bytes of the SSE event that carries `bytes` as `kind` (the largest seq
/// and id, so the figure is an upper bound).
pub fn event_bytes(kind: Kind, bytes: &[u8]) -> usize {
    let env = Envelope {
        v: SCHEMA_VERSION,
        id: Uuid::from_u128(u128::MAX),
        seq: u64::MAX,
        kind,
        created_ms: i64::MAX,
        body: fleet_body(kind, bytes),
    };
    rettpad_channel::sse::encode(&env).len()
}

/// Refuses what the pad's SSE decoder would skip as too large.
pub fn check_fits_channel(kind: Kind, bytes: &[u8]) -> Result<(), String> {
    let n = event_bytes(kind, bytes);
    if n > MAX_EVENT_BYTES {
        return Err(format!(
            "the package is {} bytes, {n} bytes as a channel event; the channel carries at most {MAX_EVENT_BYTES}. \
             Build the parts in smaller packages (each part alone is fine), or install it from a USB stick (rettpad --provision FILE)",
            bytes.len()
        ));
    }
    Ok(())
}

/// Puts a checked package on the channel queue of each of `serials` and
/// records it, in one transaction. Returns each pad's channel seq.
pub fn publish(
    d: &Dispatcher,
    bytes: &[u8],
    header: &Header,
    serials: &[String],
    now_ms: i64,
) -> Result<Vec<(String, u64)>, String> {
    check_fits_channel(Kind::Provisioning, bytes)?;
    let body = fleet_body(Kind::Provisioning, bytes);
    let versions: BTreeMap<&str, u64> = header
        .parts
        .iter()
        .map(|p| (p.name.name(), p.version))
        .collect();
    let versions = serde_json::to_string(&versions).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(serials.len());
    {
        let mut db = lock(&d.db);
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        for s in serials {
            let seq = d
                .enqueue(&tx, s, Kind::Provisioning, body.clone(), now_ms)
                .map_err(|e| e.to_string())?;
            tx.execute(
                "INSERT INTO fleet_published (package_id, serial, parts, published_ms, chan_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (package_id, serial) DO UPDATE SET published_ms = ?4, chan_seq = ?5",
                params![
                    header.package_id.as_bytes().as_slice(),
                    s,
                    versions,
                    now_ms,
                    sql(seq)
                ],
            )
            .map_err(db_err)?;
            out.push((s.clone(), seq));
        }
        tx.commit().map_err(db_err)?;
    }
    for s in serials {
        d.waker(s).notify_one();
    }
    tracing::info!(package = %header.package_id, pads = serials.len(), "provisioning package published");
    Ok(out)
}

// ---- commands -------------------------------------------------------------

/// A command as signed and queued.
#[derive(Debug, Clone)]
pub struct Issued {
    pub command: Command,
    pub signed: Vec<u8>,
    pub chan_seq: u64,
}

fn text_ok(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// Signs a remote command for the registered pad `serial` with the next
/// sequence number, queues and records it in one transaction. The seq
/// also moves past the last one the pad reported, so a pad that executed
/// commands from a restored gateway still takes the next.
#[allow(clippy::too_many_arguments)]
pub fn issue_command(
    d: &Dispatcher,
    cfg: &GatewayConfig,
    key: &SigningKey,
    action: Action,
    serial: &str,
    reason: &str,
    issuer: &str,
    now_ms: i64,
) -> Result<Issued, String> {
    let f = cfg
        .fleet
        .as_ref()
        .ok_or("gateway.toml has no [fleet]; run `rettpad-gateway provision keys` first")?;
    if !cfg.pads.iter().any(|p| p.serial == serial) {
        return Err(format!("pad {serial} is not registered in gateway.toml"));
    }
    if !text_ok(reason, 200) {
        return Err("--reason must be 1-200 characters without control characters".into());
    }
    if !text_ok(issuer, 64) {
        return Err("--issuer must be 1-64 characters without control characters".into());
    }
    let issued = {
        let mut db = lock(&d.db);
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err)?;
        let recorded: Option<i64> = tx
            .query_row(
                "SELECT max(seq) FROM fleet_commands WHERE serial = ?1",
                [serial],
                |r| r.get(0),
            )
            .map_err(db_err)?;
        let reported = status_of(&tx, serial)?.map_or(0, |(_, s)| s.command_seq);
        let seq = recorded.map_or(0, unsql).max(reported) + 1;
        let command = Command {
            action,
            org: f.org.clone(),
            serial: serial.to_string(),
            cmd_id: Uuid::now_v7(),
            seq,
            issued_ms: now_ms,
            not_after_ms: (action != Action::Wipe).then_some(now_ms + COMMAND_VALID_MS),
            reason: reason.to_string(),
            issuer: issuer.to_string(),
        };
        let signed = command.sign(key).map_err(|e| format!("signing: {e}"))?;
        let chan_seq = d
            .enqueue(
                &tx,
                serial,
                Kind::Command,
                fleet_body(Kind::Command, &signed),
                now_ms,
            )
            .map_err(|e| e.to_string())?;
        tx.execute(
            "INSERT INTO fleet_commands (cmd_id, serial, action, seq, issued_ms, issuer, reason, chan_seq, signed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                command.cmd_id.as_bytes().as_slice(),
                serial,
                action.name(),
                sql(seq),
                now_ms,
                issuer,
                reason,
                sql(chan_seq),
                signed
            ],
        )
        .map_err(db_err)?;
        tx.commit().map_err(db_err)?;
        Issued {
            command,
            signed,
            chan_seq,
        }
    };
    d.waker(serial).notify_one();
    tracing::warn!(
        device = serial,
        action = action.name(),
        seq = issued.command.seq,
        issuer,
        cmd = %issued.command.cmd_id,
        "remote command queued"
    );
    Ok(issued)
}

/// The signed bytes of a recorded command.
pub fn command_signed(d: &Dispatcher, cmd_id: Uuid) -> Result<Option<Vec<u8>>, String> {
    lock(&d.db)
        .query_row(
            "SELECT signed FROM fleet_commands WHERE cmd_id = ?1",
            [cmd_id.as_bytes().as_slice()],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_err)
}

/// Queues signed command bytes again as they are (a resend). The pad runs
/// a command only once: a seq it has passed is refused as a replay.
pub fn resend_command(
    d: &Dispatcher,
    serial: &str,
    signed: &[u8],
    now_ms: i64,
) -> Result<u64, String> {
    let seq = {
        let mut db = lock(&d.db);
        let tx = db.transaction().map_err(db_err)?;
        let seq = d
            .enqueue(
                &tx,
                serial,
                Kind::Command,
                fleet_body(Kind::Command, signed),
                now_ms,
            )
            .map_err(|e| e.to_string())?;
        tx.commit().map_err(db_err)?;
        seq
    };
    d.waker(serial).notify_one();
    tracing::warn!(
        device = serial,
        chan_seq = seq,
        "remote command queued again"
    );
    Ok(seq)
}

// ---- what the pads report -------------------------------------------------

/// Keeps a pad's latest status with the gateway's time of arrival.
pub fn record_status(
    d: &Dispatcher,
    serial: &str,
    s: &PadStatus,
    now_ms: i64,
) -> Result<(), String> {
    let json = serde_json::to_string(s).map_err(|e| e.to_string())?;
    lock(&d.db)
        .execute(
            "INSERT INTO fleet_status (serial, last_seen_ms, status) VALUES (?1, ?2, ?3)
             ON CONFLICT (serial) DO UPDATE SET last_seen_ms = ?2, status = ?3",
            params![serial, now_ms, json],
        )
        .map_err(db_err)?;
    Ok(())
}

fn status_of(db: &rusqlite::Connection, serial: &str) -> Result<Option<(i64, PadStatus)>, String> {
    let row: Option<(i64, String)> = db
        .query_row(
            "SELECT last_seen_ms, status FROM fleet_status WHERE serial = ?1",
            [serial],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db_err)?;
    Ok(row.and_then(|(t, j)| Some((t, serde_json::from_str(&j).ok()?))))
}

/// A pad's channel stream opened in this gateway process.
pub fn link_opened(d: &Dispatcher, serial: &str, generation: u64, now_ms: i64) {
    let r = lock(&d.db).execute(
        "INSERT INTO fleet_links (serial, pid, generation, opened_ms, closed_ms) VALUES (?1, ?2, ?3, ?4, NULL)
         ON CONFLICT (serial) DO UPDATE SET pid = ?2, generation = ?3, opened_ms = ?4, closed_ms = NULL",
        params![serial, std::process::id(), sql(generation), now_ms],
    );
    if let Err(e) = r {
        tracing::warn!(device = serial, error = %e, "channel link state not kept");
    }
}

/// That stream ended (a newer one of the same pad leaves the row alone).
pub fn link_closed(d: &Dispatcher, serial: &str, generation: u64, now_ms: i64) {
    let r = lock(&d.db).execute(
        "UPDATE fleet_links SET closed_ms = ?4 WHERE serial = ?1 AND pid = ?2 AND generation = ?3",
        params![serial, std::process::id(), sql(generation), now_ms],
    );
    if let Err(e) = r {
        tracing::warn!(device = serial, error = %e, "channel link state not kept");
    }
}

/// Whether `pid` is a running gateway (a crashed gateway leaves its links
/// open in the table; its pid is then gone or another program's).
fn gateway_running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .is_ok_and(|c| c.trim_end() == "rettpad-gateway")
}

/// One part: the version the pad applied and the highest published to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartState {
    pub part: String,
    pub applied: Option<u64>,
    pub published: Option<u64>,
}

/// The last package or command queued for a pad, and whether the pad
/// acknowledged it on the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Queued {
    pub id: Uuid,
    /// `provisioning`, or the command's action.
    pub what: String,
    pub at_ms: i64,
    pub chan_seq: u64,
    pub delivered: bool,
}

/// What `provision status` shows of one registered pad. No patient data:
/// versions, counts and codes only.
#[derive(Debug, Clone, Serialize)]
pub struct PadRow {
    pub serial: String,
    pub call_sign: String,
    pub station: Option<String>,
    pub vehicle_type: Option<String>,
    /// When its last status arrived (gateway clock).
    pub last_seen_ms: Option<i64>,
    /// A channel stream open in a running gateway; `None`: never connected.
    pub connected: Option<bool>,
    pub status: Option<PadStatus>,
    pub parts: Vec<PartState>,
    pub last_package: Option<Queued>,
    pub last_command: Option<Queued>,
    /// Channel messages not yet acknowledged, the highest acknowledged seq,
    /// and messages dropped at the queue's bound.
    pub queued: u64,
    pub acked: u64,
    pub dropped: u64,
}

/// Every registered pad's row, in registry order.
pub fn pad_rows(d: &Dispatcher, cfg: &GatewayConfig) -> Result<Vec<PadRow>, String> {
    let mut out = Vec::with_capacity(cfg.pads.len());
    for p in &cfg.pads {
        let q = d.queue_info(&p.serial)?;
        let db = lock(&d.db);
        let status = status_of(&db, &p.serial)?;
        let link: Option<(u32, Option<i64>)> = db
            .query_row(
                "SELECT pid, closed_ms FROM fleet_links WHERE serial = ?1",
                [&p.serial],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(db_err)?;
        let mut published: BTreeMap<String, u64> = BTreeMap::new();
        let mut st = db
            .prepare("SELECT parts FROM fleet_published WHERE serial = ?1")
            .map_err(db_err)?;
        let rows: Vec<String> = st
            .query_map([&p.serial], |r| r.get(0))
            .and_then(|it| it.collect())
            .map_err(db_err)?;
        for m in rows
            .iter()
            .filter_map(|j| serde_json::from_str::<BTreeMap<String, u64>>(j).ok())
        {
            for (k, v) in m {
                let e = published.entry(k).or_default();
                *e = (*e).max(v);
            }
        }
        let last_package = db
            .query_row(
                "SELECT package_id, published_ms, chan_seq FROM fleet_published
                 WHERE serial = ?1 ORDER BY published_ms DESC, chan_seq DESC LIMIT 1",
                [&p.serial],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(db_err)?
            .and_then(|(id, at, seq): (Vec<u8>, i64, i64)| {
                Some(Queued {
                    id: Uuid::from_slice(&id).ok()?,
                    what: "provisioning".into(),
                    at_ms: at,
                    chan_seq: unsql(seq),
                    delivered: unsql(seq) <= q.acked,
                })
            });
        let last_command = db
            .query_row(
                "SELECT cmd_id, action, issued_ms, chan_seq FROM fleet_commands
                 WHERE serial = ?1 ORDER BY seq DESC LIMIT 1",
                [&p.serial],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?,
                        r.get::<_, String>(1)?,
                        r.get(2)?,
                        r.get(3)?,
                    ))
                },
            )
            .optional()
            .map_err(db_err)?
            .and_then(|(id, action, at, seq): (Vec<u8>, String, i64, i64)| {
                Some(Queued {
                    id: Uuid::from_slice(&id).ok()?,
                    what: action,
                    at_ms: at,
                    chan_seq: unsql(seq),
                    delivered: unsql(seq) <= q.acked,
                })
            });
        drop(st);
        drop(db);
        let applied = status
            .as_ref()
            .map(|(_, s)| s.config_versions.clone())
            .unwrap_or_default();
        let mut names: Vec<&String> = applied.keys().chain(published.keys()).collect();
        // The parts in their canonical order, unknown names last.
        let rank = |n: &str| PartName::parse(n).map_or(usize::MAX, |p| p as usize);
        names.sort_by(|a, b| (rank(a), a.as_str()).cmp(&(rank(b), b.as_str())));
        names.dedup();
        let parts = names
            .into_iter()
            .map(|n| PartState {
                part: n.clone(),
                applied: applied.get(n).copied(),
                published: published.get(n).copied(),
            })
            .collect();
        out.push(PadRow {
            serial: p.serial.clone(),
            call_sign: p.call_sign.clone(),
            station: p.station.clone(),
            vehicle_type: p.vehicle_type.clone(),
            last_seen_ms: status.as_ref().map(|(t, _)| *t),
            connected: link.map(|(pid, closed)| closed.is_none() && gateway_running(pid)),
            status: status.map(|(_, s)| s),
            parts,
            last_package,
            last_command,
            queued: q.queued,
            acked: q.acked,
            dropped: q.dropped,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pad(serial: &str, station: Option<&str>, t: Option<&str>) -> PadEntry {
        PadEntry {
            serial: serial.into(),
            call_sign: format!("RTW {serial}"),
            centre: None,
            station: station.map(Into::into),
            vehicle_type: t.map(Into::into),
            org: None,
        }
    }

    #[test]
    fn targets_resolve_against_the_registry() {
        let pads = [
            pad("P1", Some("Wache Nord"), Some("RTW")),
            pad("P2", Some("Wache Nord"), Some("NEF")),
            pad("P3", Some("Wache Süd"), Some("RTW")),
            pad("P4", None, None),
        ];
        let r = |s: &str| Group::parse(s).and_then(|g| g.resolve(&pads));
        assert_eq!(r("all").unwrap(), ["P1", "P2", "P3", "P4"]);
        assert_eq!(r("station:Wache Nord").unwrap(), ["P1", "P2"]);
        assert_eq!(r("type:RTW").unwrap(), ["P1", "P3"]);
        assert_eq!(r("P3, P1,P3").unwrap(), ["P3", "P1"]);
        assert!(r("P9").unwrap_err().contains("P9 is not registered"));
        assert!(r("station:Wache West").unwrap_err().contains("Wache West"));
        assert!(r("type:").is_err() && r(" , ").is_err());
        assert_eq!(
            Group::parse("all").unwrap().target(&pads).unwrap(),
            Target::All
        );
        assert_eq!(
            Group::parse("type:NEF").unwrap().target(&pads).unwrap(),
            Target::Serials(vec!["P2".into()])
        );
    }

    /// A gateway directory from `init` with `provision keys` run in it.
    fn gateway(dir: &std::path::Path) -> (GatewayConfig, Dispatcher) {
        crate::init::init(&crate::init::InitOptions {
            dir: dir.to_path_buf(),
            listen: "127.0.0.1:8443".parse().unwrap(),
            hospital_listen: "127.0.0.1:8080".parse().unwrap(),
            load_pads: 0,
        })
        .unwrap();
        let dir = dir.canonicalize().unwrap();
        let c = crate::fleet_keys::create(&dir, "rd-test", 30, T0).unwrap();
        let path = dir.join("gateway.toml");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&crate::fleet_keys::gateway_section(&c.trust));
        std::fs::write(&path, text).unwrap();
        let cfg = GatewayConfig::load(&path).unwrap();
        crate::private::dir(&cfg.data_dir, crate::private::Existing::Narrow).unwrap();
        let key = crate::config::read_hex_file(&cfg.storage_key).unwrap();
        let d =
            Dispatcher::open(&cfg, rettpad_crypto::SecretKey::from_slice(&key).unwrap()).unwrap();
        (cfg, d)
    }

    const T0: i64 = 1_796_000_000_000;
    const SERIAL: &str = "DEMO-PAD-0001";

    #[test]
    fn numbers_only_grow_past_what_pads_report_and_commands_outlive_the_queue_age() {
        let t = tempfile::tempdir().unwrap();
        let (cfg, d) = gateway(&t.path().join("gw"));
        let f = cfg.fleet.clone().unwrap();
        assert_eq!(
            next_versions(&d, "rd-test", &[PartName::Staff]).unwrap(),
            [1]
        );
        // A pad that applied staff 5 and ran command 7 (a restored gateway).
        let reported = PadStatus {
            config_versions: [("staff".to_string(), 5)].into(),
            command_seq: 7,
            ..PadStatus::default()
        };
        record_status(&d, SERIAL, &reported, T0).unwrap();
        assert_eq!(
            next_versions(&d, "rd-test", &[PartName::Staff, PartName::Pki]).unwrap(),
            [6, 1]
        );
        let key =
            crate::fleet_keys::load_signing(&f, rettpad_provision::Purpose::Commands, T0).unwrap();
        let old = T0 - 100 * 3_600_000;
        let lock =
            issue_command(&d, &cfg, &key, Action::Lock, SERIAL, "verloren", "ops", old).unwrap();
        assert_eq!(lock.command.seq, 8);
        assert_eq!(lock.command.not_after_ms, Some(old + COMMAND_VALID_MS));
        let again = resend_command(&d, SERIAL, &lock.signed, old).unwrap();
        let wipe = issue_command(
            &d,
            &cfg,
            &key,
            Action::Wipe,
            SERIAL,
            "gestohlen",
            "ops",
            old,
        )
        .unwrap();
        assert_eq!((wipe.command.seq, wipe.command.not_after_ms), (9, None));
        assert!(
            issue_command(&d, &cfg, &key, Action::Lock, "PAD-9", "x", "ops", T0)
                .unwrap_err()
                .contains("not registered")
        );
        // After 72 h the resend goes; the recorded commands stay queued.
        assert_eq!(d.sweep(T0).unwrap(), 1);
        let left: Vec<u64> = d
            .pending(SERIAL, 0, 10)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(left, [lock.chan_seq, wipe.chan_seq]);
        assert!(!left.contains(&again));
    }

    #[test]
    fn organisation_names_are_plain() {
        assert!(check_org("rd-musterstadt").is_ok());
        for bad in ["", "RD", "a b", "x\"y", &"a".repeat(65)] {
            assert!(check_org(bad).is_err(), "{bad:?}");
        }
    }
}
