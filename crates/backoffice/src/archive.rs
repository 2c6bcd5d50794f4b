//! The protocol archive: each accepted packet's protocol, split into
//! identity, medical record, free text, statistics, event log, documents
//! and the §630f change list; everything clinical sealed under the
//! organisation's key for the year of treatment. Ten years after that year
//! the key is destroyed (crypto-shred) and the year's rows are deleted.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use rettpad_crypto::{SecretKey, open, seal, sha256};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::db::{Db, DbError, Scope, Tx, Val, check_org_id, lock};
use crate::params;
use crate::split::{self, Split};

/// Years a protocol is kept after the end of its year of treatment
/// (§630f(3) BGB).
pub const RETAIN_YEARS: i64 = 10;

/// Names of the documents kept from the server payload.
pub const DOCUMENT_PARTS: &[&str] = &["protocol.pdf", "mind.xml", "fhir.json"];
pub const EVENTS_PART: &str = "events.json";

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// The packet's content cannot be filed (kept and reported).
    #[error("cannot file the protocol: {0}")]
    Content(String),
    #[error("the packet was filed before with other content")]
    Conflict,
    #[error("the archive key of {org} for {year} was destroyed (retention over)")]
    Shredded { org: String, year: i64 },
    #[error("archived data does not open or does not match its hash: {0}")]
    Corrupt(String),
    #[error("crypto: {0}")]
    Crypto(String),
}

impl ArchiveError {
    /// True when trying again cannot help (the packet is reported instead).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            ArchiveError::Content(_) | ArchiveError::Conflict | ArchiveError::Shredded { .. }
        )
    }
}

/// An accepted packet, opened by the gateway's intake.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    pub org: &'a str,
    pub packet_id: Uuid,
    pub mission_id: Uuid,
    pub device_serial: &'a str,
    pub call_sign: &'a str,
    pub station: Option<&'a str>,
    pub vehicle_type: Option<&'a str>,
    pub received_ms: i64,
    pub packet_sha256: &'a str,
    pub pdf_sha256: Option<&'a str>,
    pub receipt_json: &'a str,
    /// The server payload's parts by name.
    pub parts: &'a BTreeMap<String, Vec<u8>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filed {
    New,
    /// Filed before (another node, a replay): nothing changed.
    Already,
}

/// A protocol in a list: no patient data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub org: String,
    pub id: Uuid,
    pub mission_id: Uuid,
    pub call_sign: String,
    pub station: Option<String>,
    pub els_number: Option<String>,
    pub opened_ms: Option<i64>,
    pub received_ms: i64,
    pub patients: i64,
    pub changes: i64,
    pub legal_hold: bool,
}

/// A change made after the handover (§630f BGB).
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub at_ms: i64,
    /// The crew member's id.
    pub author: String,
    pub what: String,
    pub field: Option<String>,
    /// Target, original and new value (may hold identity: behind the gate).
    pub detail: Json,
}

/// A packet the archive could not file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub org: String,
    pub packet_id: Uuid,
    pub node: String,
    pub received_ms: i64,
    pub reported_ms: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShredReport {
    pub keys: usize,
    pub protocols: usize,
    /// Protocols under legal hold moved to the hold key before the shred.
    pub held: usize,
}

/// Year of a UTC instant (proleptic Gregorian).
pub fn year_of(ms: i64) -> i64 {
    let days = ms.div_euclid(86_400_000);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

/// 1 January of `year`, 00:00 UTC, in ms.
pub fn year_start_ms(year: i64) -> i64 {
    let y = year - 1;
    let days = 365 * y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400) - 719_162;
    days * 86_400_000
}

/// The legal-hold key's "year": a protocol on hold is moved to it before
/// its year is shredded and stays until the hold is lifted.
const HOLD_YEAR: i64 = 0;

/// The AAD of a sealed row; `pub(crate)` so the crew's edits seal like the
/// archive's own rows.
pub(crate) fn aad(table: &str, org: &str, protocol: &str, sub: &str) -> Vec<u8> {
    format!("rettpad-archive/v1/{table}/{org}/{protocol}/{sub}").into_bytes()
}

fn key_aad(org: &str, year: i64, key_id: &str) -> Vec<u8> {
    format!("rettpad-archive/v1/key/{org}/{year}/{key_id}").into_bytes()
}

/// The sealed columns: (table, the key column besides org and protocol).
const SEALED: &[(&str, &str)] = &[
    ("identity", "patient_id"),
    ("medical", "''"),
    ("free_text", "''"),
    ("event_log", "''"),
    ("document", "kind"),
    ("change_log", "ord"),
];

pub struct Archive {
    db: Db,
    master: SecretKey,
    node: String,
    /// Organisations known to be registered (saves a commit per filing).
    known_orgs: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("db", &self.db)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

fn sql_uuid(s: &str) -> Result<Uuid, ArchiveError> {
    Uuid::parse_str(s).map_err(|_| ArchiveError::Corrupt("stored id is no UUID".into()))
}

/// A table's name, columns and rows.
type Table<'a> = (&'a str, &'a [&'a str], &'a [Vec<Val>]);

/// The rows of a batch of protocols, written per table at its end.
#[derive(Default)]
struct Rows {
    /// Year keys already opened in this transaction.
    keys: BTreeMap<i64, SecretKey>,
    identity: Vec<Vec<Val>>,
    medical: Vec<Vec<Val>>,
    free_text: Vec<Vec<Val>>,
    stat: Vec<Vec<Val>>,
    event_log: Vec<Vec<Val>>,
    document: Vec<Vec<Val>>,
    change_log: Vec<Vec<Val>>,
    crew: Vec<Vec<Val>>,
    pads: BTreeMap<(String, String), Vec<Val>>,
    vehicles: BTreeMap<(String, String), Vec<Val>>,
    stations: BTreeMap<(String, String), Vec<Val>>,
}

impl Rows {
    fn insert(self, tx: &mut Tx<'_>) -> Result<(), DbError> {
        let tables: [Table<'_>; 8] = [
            (
                "identity",
                &["org_id", "protocol_id", "patient_id", "sealed"],
                &self.identity,
            ),
            (
                "medical",
                &["org_id", "protocol_id", "sealed"],
                &self.medical,
            ),
            (
                "free_text",
                &["org_id", "protocol_id", "sealed"],
                &self.free_text,
            ),
            (
                "stat",
                &[
                    "org_id",
                    "protocol_id",
                    "patient_id",
                    "field",
                    "ord",
                    "code",
                    "num",
                ],
                &self.stat,
            ),
            (
                "event_log",
                &[
                    "org_id",
                    "protocol_id",
                    "events",
                    "digest",
                    "chain_issues",
                    "sealed",
                ],
                &self.event_log,
            ),
            (
                "document",
                &["org_id", "protocol_id", "kind", "sha256", "size", "sealed"],
                &self.document,
            ),
            (
                "change_log",
                &[
                    "org_id",
                    "protocol_id",
                    "ord",
                    "at_ms",
                    "author",
                    "what",
                    "field",
                    "sealed",
                ],
                &self.change_log,
            ),
            (
                "protocol_crew",
                &["org_id", "protocol_id", "staff_id"],
                &self.crew,
            ),
        ];
        for (table, cols, rows) in tables {
            if !rows.is_empty() {
                tx.insert_rows(table, cols, rows)?;
            }
        }
        // DO NOTHING takes no row lock: concurrent filings of one vehicle
        // do not queue behind each other (master data is edited apart).
        for row in self.pads.into_values() {
            tx.exec(
                "INSERT INTO pad (org_id, serial, call_sign, seen_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (org_id, serial) DO NOTHING",
                &row,
            )?;
        }
        // A pad's station becomes assignable to users at once; its name
        // is the id until the administration renames it.
        for row in self.stations.into_values() {
            tx.exec(
                "INSERT INTO station (org_id, id, name) VALUES ($1, $2, $2)
                 ON CONFLICT (org_id, id) DO NOTHING",
                &row,
            )?;
        }
        for row in self.vehicles.into_values() {
            tx.exec(
                "INSERT INTO vehicle (org_id, call_sign, station_id, vehicle_type) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (org_id, call_sign) DO NOTHING",
                &row,
            )?;
        }
        Ok(())
    }
}

impl Archive {
    /// `master` wraps the per-organisation keys; every node of one archive
    /// uses the same. `node` names this gateway in the rows it writes.
    pub fn new(db: Db, master: SecretKey, node: &str) -> Archive {
        Archive {
            db,
            master,
            node: node.to_string(),
            known_orgs: Mutex::new(HashSet::new()),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Registers an organisation (idempotent).
    pub fn ensure_org(&self, org: &str, name: &str, district: &str) -> Result<(), ArchiveError> {
        check_org_id(org)?;
        if lock(&self.known_orgs).contains(org) {
            return Ok(());
        }
        self.db.tx(&Scope::org(org), |tx| {
            tx.exec(
                "INSERT INTO org (id, name, district, created_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO NOTHING",
                params![org, name, district, crate::now_ms()],
            )?;
            Ok::<_, DbError>(())
        })?;
        lock(&self.known_orgs).insert(org.to_string());
        Ok(())
    }

    /// The data key of `org` for `year`, made on first use. Two nodes racing
    /// to make it both end with the one that was inserted first.
    pub(crate) fn year_key(
        &self,
        tx: &mut Tx<'_>,
        org: &str,
        year: i64,
    ) -> Result<SecretKey, ArchiveError> {
        let sql = "SELECT key_id, wrapped FROM v_archive_key WHERE org_id = $1 AND year = $2";
        let row = match tx.query_opt(sql, params![org, year])? {
            Some(r) => r,
            None => {
                let key = SecretKey::generate().map_err(|e| ArchiveError::Crypto(e.to_string()))?;
                let key_id = Uuid::now_v7().to_string();
                let wrapped = seal(&self.master, &key_aad(org, year, &key_id), key.expose())
                    .map_err(|e| ArchiveError::Crypto(e.to_string()))?;
                tx.exec(
                    "INSERT INTO archive_key (org_id, year, key_id, wrapped, created_ms)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, year) DO NOTHING",
                    params![org, year, key_id, wrapped, crate::now_ms()],
                )?;
                tx.query_opt(sql, params![org, year])?
                    .ok_or_else(|| ArchiveError::Corrupt("archive key vanished".into()))?
            }
        };
        let key_id = row.text(0)?;
        let Some(wrapped) = row.opt_bytes(1)? else {
            return Err(ArchiveError::Shredded {
                org: org.to_string(),
                year,
            });
        };
        let raw = open(&self.master, &key_aad(org, year, &key_id), &wrapped).map_err(|_| {
            ArchiveError::Corrupt(format!(
                "archive key of {org}/{year} does not open with this master key"
            ))
        })?;
        SecretKey::from_slice(&raw)
            .ok_or_else(|| ArchiveError::Corrupt("archive key length".into()))
    }

    /// Files one protocol; idempotent by (organisation, packet id).
    pub fn file(&self, inc: &Incoming<'_>) -> Result<Filed, ArchiveError> {
        let sp = Self::prepare(inc)?;
        self.ensure_org(inc.org, inc.org, "")?;
        self.db
            .tx(&Scope::org(inc.org), |tx| self.file_one(tx, inc, &sp))
    }

    fn file_one(
        &self,
        tx: &mut Tx<'_>,
        inc: &Incoming<'_>,
        sp: &Split,
    ) -> Result<Filed, ArchiveError> {
        let mut rows = Rows::default();
        let f = self.file_tx(tx, inc, sp, &mut rows)?;
        rows.insert(tx)?;
        Ok(f)
    }

    /// Files several protocols, those of one organisation in one
    /// transaction (one commit, one fsync). When that transaction fails,
    /// each is filed alone, so one bad packet never holds back the others.
    /// The results are in the order of `incs`.
    pub fn file_all(&self, incs: &[Incoming<'_>]) -> Vec<Result<Filed, ArchiveError>> {
        let mut out: Vec<Option<Result<Filed, ArchiveError>>> = Vec::with_capacity(incs.len());
        let mut ready: BTreeMap<&str, Vec<(usize, Split)>> = BTreeMap::new();
        for (i, inc) in incs.iter().enumerate() {
            match Self::prepare(inc).and_then(|sp| {
                self.ensure_org(inc.org, inc.org, "")?;
                Ok(sp)
            }) {
                Ok(sp) => {
                    ready.entry(inc.org).or_default().push((i, sp));
                    out.push(None);
                }
                Err(e) => out.push(Some(Err(e))),
            }
        }
        for (org, group) in ready {
            let all = self.db.tx(&Scope::org(org), |tx| {
                let mut rows = Rows::default();
                let filed = group
                    .iter()
                    .map(|(i, sp)| self.file_tx(tx, &incs[*i], sp, &mut rows))
                    .collect::<Result<Vec<_>, _>>()?;
                rows.insert(tx)?;
                Ok::<_, ArchiveError>(filed)
            });
            match all {
                Ok(filed) => {
                    for ((i, _), f) in group.iter().zip(filed) {
                        out[*i] = Some(Ok(f));
                    }
                }
                Err(_) => {
                    // One bad packet fails the batch: each alone, so the
                    // others are filed and only it is reported.
                    for (i, sp) in &group {
                        let inc = &incs[*i];
                        out[*i] = Some(
                            self.db
                                .tx(&Scope::org(org), |tx| self.file_one(tx, inc, sp)),
                        );
                    }
                }
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or(Err(ArchiveError::Content("not filed".into()))))
            .collect()
    }

    fn prepare(inc: &Incoming<'_>) -> Result<Split, ArchiveError> {
        check_org_id(inc.org)?;
        let events = inc
            .parts
            .get(EVENTS_PART)
            .ok_or_else(|| ArchiveError::Content("no event log in the packet".into()))?;
        split::split(events, inc.mission_id).map_err(|e| ArchiveError::Content(e.to_string()))
    }

    /// Writes the protocol's row and queues its other rows in `rows`
    /// (inserted per table for the whole batch: a few statements instead
    /// of a dozen per protocol).
    fn file_tx(
        &self,
        tx: &mut Tx<'_>,
        inc: &Incoming<'_>,
        sp: &Split,
        rows: &mut Rows,
    ) -> Result<Filed, ArchiveError> {
        // The year of treatment: when the mission was opened on the pad.
        let year = year_of(sp.opened_ms.unwrap_or(inc.received_ms));
        let retain_until = year_start_ms(year + RETAIN_YEARS + 1);
        let org = inc.org;
        let id = inc.packet_id.to_string();
        let key = match rows.keys.get(&year) {
            Some(k) => k.clone(),
            None => {
                let k = self.year_key(tx, org, year)?;
                rows.keys.insert(year, k.clone());
                k
            }
        };
        let now = crate::now_ms();
        let n = tx.exec(
            "INSERT INTO protocol (org_id, id, mission_id, node, device_serial, call_sign, station_id,
                 els_number, opened_ms, handed_over_ms, closed_ms, received_ms, archived_ms, year,
                 retain_until_ms, legal_hold, key_year, packet_sha256, pdf_sha256, receipt, patients, changes)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, $16, $17, $18, $19, $20, $21)
             ON CONFLICT (org_id, id) DO NOTHING",
            params![
                org,
                id,
                inc.mission_id,
                self.node,
                inc.device_serial,
                inc.call_sign,
                inc.station,
                sp.els_number.clone(),
                sp.opened_ms,
                sp.handed_over_ms,
                sp.closed.then_some(inc.received_ms),
                inc.received_ms,
                now,
                year,
                retain_until,
                year,
                inc.packet_sha256,
                inc.pdf_sha256,
                inc.receipt_json,
                sp.patients,
                sp.changes.len() as i64,
            ],
        )?;
        if n == 0 {
            // Filed before (by this or another node): the same packet, or
            // another one under its id.
            let same = tx
                .query_opt(
                    "SELECT packet_sha256 FROM v_protocol WHERE org_id = $1 AND id = $2",
                    params![org, id],
                )?
                .map(|r| r.text(0))
                .transpose()?
                .is_some_and(|sha| sha == inc.packet_sha256);
            return if same {
                Ok(Filed::Already)
            } else {
                Err(ArchiveError::Conflict)
            };
        }
        let sealed = |table: &str, sub: &str, data: &[u8]| {
            seal(&key, &aad(table, org, &id, sub), data)
                .map_err(|e| ArchiveError::Crypto(e.to_string()))
        };
        let to_bytes = |j: &Json| serde_json::to_vec(j).unwrap_or_default();
        for (pid, fields) in &sp.identity {
            rows.identity
                .push(params![org, id, pid, sealed("identity", pid, &to_bytes(fields))?].to_vec());
        }
        rows.medical
            .push(params![org, id, sealed("medical", "", &to_bytes(&sp.medical))?].to_vec());
        rows.free_text
            .push(params![org, id, sealed("free_text", "", &to_bytes(&sp.free_text))?].to_vec());
        rows.stat.extend(
            sp.stats.iter().map(|s| {
                params![org, id, s.patient, s.field, s.ord, s.code.clone(), s.num].to_vec()
            }),
        );
        let events = inc.parts.get(EVENTS_PART).map_or(&[][..], Vec::as_slice);
        rows.event_log.push(
            params![
                org,
                id,
                sp.events,
                sp.digest,
                sp.chain_issues,
                sealed("event_log", "", events)?
            ]
            .to_vec(),
        );
        for kind in DOCUMENT_PARTS {
            let Some(doc) = inc.parts.get(*kind) else {
                continue;
            };
            rows.document.push(
                params![
                    org,
                    id,
                    *kind,
                    hex::encode(sha256(doc)),
                    doc.len() as i64,
                    sealed("document", kind, doc)?
                ]
                .to_vec(),
            );
        }
        for c in &sp.changes {
            rows.change_log.push(
                params![
                    org,
                    id,
                    c.ord,
                    c.at_ms,
                    c.author,
                    c.what,
                    c.field.clone(),
                    sealed("change_log", &c.ord.to_string(), &to_bytes(&c.detail))?
                ]
                .to_vec(),
            );
        }
        rows.crew.extend(
            sp.crew
                .iter()
                .collect::<HashSet<_>>()
                .into_iter()
                .map(|c| params![org, id, c].to_vec()),
        );
        // The registry learns new pads and vehicles from their protocols.
        rows.pads.insert(
            (inc.device_serial.to_string(), org.to_string()),
            params![org, inc.device_serial, inc.call_sign, inc.received_ms].to_vec(),
        );
        if let Some(st) = inc.station {
            rows.stations
                .insert((st.to_string(), org.to_string()), params![org, st].to_vec());
        }
        rows.vehicles.insert(
            (inc.call_sign.to_string(), org.to_string()),
            params![org, inc.call_sign, inc.station, inc.vehicle_type].to_vec(),
        );
        Ok(Filed::New)
    }

    /// Records a packet that cannot be filed (idempotent; the reason is the
    /// latest one). The reason names no patient data.
    pub fn report_issue(
        &self,
        org: &str,
        packet_id: Uuid,
        received_ms: i64,
        reason: &str,
    ) -> Result<(), ArchiveError> {
        self.ensure_org(org, org, "")?;
        self.db.tx(&Scope::org(org), |tx| {
            tx.exec(
                "INSERT INTO intake_issue (org_id, packet_id, node, received_ms, reported_ms, reason)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (org_id, packet_id) DO UPDATE SET reason = excluded.reason,
                     reported_ms = excluded.reported_ms, node = excluded.node",
                params![org, packet_id, self.node, received_ms, crate::now_ms(), reason],
            )?;
            Ok::<_, DbError>(())
        })?;
        Ok(())
    }

    pub fn issues(&self, scope: &Scope) -> Result<Vec<Issue>, ArchiveError> {
        let rows = self.db.read(scope, |tx| {
            tx.query(
                "SELECT org_id, packet_id, node, received_ms, reported_ms, reason
                 FROM v_intake_issue ORDER BY received_ms",
                &[],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(Issue {
                    org: r.text(0)?,
                    packet_id: sql_uuid(&r.text(1)?)?,
                    node: r.text(2)?,
                    received_ms: r.int(3)?,
                    reported_ms: r.int(4)?,
                    reason: r.text(5)?,
                })
            })
            .collect()
    }

    /// The newest protocols first (at most `limit`), optionally of one call
    /// sign; only organisations in `scope`.
    pub fn list(
        &self,
        scope: &Scope,
        call_sign: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Summary>, ArchiveError> {
        let rows = self.db.read(scope, |tx| {
            tx.query(
                "SELECT org_id, id, mission_id, call_sign, station_id, els_number, opened_ms,
                        received_ms, patients, changes, legal_hold
                 FROM v_protocol
                 WHERE shredded_ms IS NULL AND (CAST($1 AS TEXT) IS NULL OR call_sign = $1)
                 ORDER BY received_ms DESC, id LIMIT $2",
                params![call_sign, limit],
            )
        })?;
        rows.iter().map(summary).collect()
    }

    pub fn summary(&self, scope: &Scope, id: Uuid) -> Result<Option<Summary>, ArchiveError> {
        let row = self.db.read(scope, |tx| {
            tx.query_opt(
                "SELECT org_id, id, mission_id, call_sign, station_id, els_number, opened_ms,
                        received_ms, patients, changes, legal_hold
                 FROM v_protocol WHERE id = $1 AND shredded_ms IS NULL",
                params![id],
            )
        })?;
        row.as_ref().map(summary).transpose()
    }

    /// Opens a sealed row of a protocol in scope: `None` when the protocol
    /// is not visible (another organisation) or has no such row.
    fn open_sealed(
        &self,
        scope: &Scope,
        id: Uuid,
        table: &str,
        sub_col: &str,
        sub: &str,
    ) -> Result<Option<Vec<u8>>, ArchiveError> {
        let Some((org, key_year)) = self.locate(scope, id)? else {
            return Ok(None);
        };
        let found = self.db.read(scope, |tx| {
            let key = self.year_key(tx, &org, key_year)?;
            let sql = if sub_col == "''" {
                format!("SELECT sealed FROM v_{table} WHERE org_id = $1 AND protocol_id = $2")
            } else {
                format!(
                    "SELECT sealed FROM v_{table} WHERE org_id = $1 AND protocol_id = $2 AND {sub_col} = $3"
                )
            };
            let p: Vec<crate::db::Val> = if sub_col == "''" {
                params![org.clone(), id].to_vec()
            } else {
                // `ord` is a number column; the others are text.
                let sub = match sub.parse::<i64>() {
                    Ok(n) if sub_col == "ord" => crate::db::Val::Int(n),
                    _ => crate::db::Val::Text(sub.to_string()),
                };
                params![org.clone(), id, sub].to_vec()
            };
            Ok::<_, ArchiveError>(tx
                .query_opt(&sql, &p)?
                .map(|r| r.bytes(0))
                .transpose()?
                .map(|sealed| (key, sealed)))
        })?;
        let Some((key, sealed)) = found else {
            return Ok(None);
        };
        open(&key, &aad(table, &org, &id.to_string(), sub), &sealed)
            .map(Some)
            .map_err(|_| ArchiveError::Corrupt(format!("{table} of {id} does not open")))
    }

    fn locate(&self, scope: &Scope, id: Uuid) -> Result<Option<(String, i64)>, ArchiveError> {
        let r = self.db.read(scope, |tx| {
            tx.query_opt(
                "SELECT org_id, key_year FROM v_protocol WHERE id = $1 AND shredded_ms IS NULL",
                params![id],
            )
        })?;
        Ok(match r {
            Some(r) => Some((r.text(0)?, r.int(1)?)),
            None => None,
        })
    }

    /// The medical record (no identity, no free text) as JSON.
    pub fn medical(&self, scope: &Scope, id: Uuid) -> Result<Option<Json>, ArchiveError> {
        self.json_of(scope, id, "medical", "''", "")
    }

    pub fn free_text(&self, scope: &Scope, id: Uuid) -> Result<Option<Json>, ArchiveError> {
        self.json_of(scope, id, "free_text", "''", "")
    }

    /// The patients' identity fields by patient id. The caller has checked
    /// the role and recorded the reason (the back office's reason gate).
    pub fn identity(
        &self,
        scope: &Scope,
        id: Uuid,
    ) -> Result<BTreeMap<String, Json>, ArchiveError> {
        let Some((org, _)) = self.locate(scope, id)? else {
            return Ok(BTreeMap::new());
        };
        let pids = self.db.read(scope, |tx| {
            tx.query(
                "SELECT patient_id FROM v_identity WHERE org_id = $1 AND protocol_id = $2 ORDER BY patient_id",
                params![org.clone(), id],
            )
        })?;
        let mut out = BTreeMap::new();
        for r in pids {
            let pid = r.text(0)?;
            if let Some(j) = self.json_of(scope, id, "identity", "patient_id", &pid)? {
                out.insert(pid, j);
            }
        }
        Ok(out)
    }

    fn json_of(
        &self,
        scope: &Scope,
        id: Uuid,
        table: &str,
        sub_col: &str,
        sub: &str,
    ) -> Result<Option<Json>, ArchiveError> {
        self.open_sealed(scope, id, table, sub_col, sub)?
            .map(|b| {
                serde_json::from_slice(&b)
                    .map_err(|_| ArchiveError::Corrupt(format!("{table} of {id} is no JSON")))
            })
            .transpose()
    }

    /// A stored document (e.g. `protocol.pdf`), checked against the hash
    /// stored with it and, for the PDF, the hash the pad put in the manifest
    /// (which the receipt covers).
    pub fn document(
        &self,
        scope: &Scope,
        id: Uuid,
        kind: &str,
    ) -> Result<Option<Vec<u8>>, ArchiveError> {
        let Some(doc) = self.open_sealed(scope, id, "document", "kind", kind)? else {
            return Ok(None);
        };
        let expect = self.db.read(scope, |tx| {
            tx.query_opt(
                "SELECT d.sha256, p.pdf_sha256 FROM v_document d
                 JOIN v_protocol p ON p.org_id = d.org_id AND p.id = d.protocol_id
                 WHERE d.protocol_id = $1 AND d.kind = $2",
                params![id, kind],
            )
        })?;
        let got = hex::encode(sha256(&doc));
        if let Some(r) = expect {
            let stored = r.text(0)?;
            let manifest = r.opt_text(1)?;
            let pdf_ok = kind != "protocol.pdf" || manifest.as_deref().is_none_or(|m| m == got);
            if stored != got || !pdf_ok {
                return Err(ArchiveError::Corrupt(format!(
                    "{kind} of {id} does not match its hash"
                )));
            }
        }
        Ok(Some(doc))
    }

    /// The §630f change list, oldest first.
    pub fn changes(&self, scope: &Scope, id: Uuid) -> Result<Vec<Change>, ArchiveError> {
        let rows = self.db.read(scope, |tx| {
            tx.query(
                "SELECT ord, at_ms, author, what, field FROM v_change_log WHERE protocol_id = $1 ORDER BY ord",
                params![id],
            )
        })?;
        let mut out = Vec::new();
        for r in rows {
            let ord = r.int(0)?;
            let detail = self
                .json_of(scope, id, "change_log", "ord", &ord.to_string())?
                .unwrap_or(Json::Null);
            out.push(Change {
                at_ms: r.int(1)?,
                author: r.text(2)?,
                what: r.text(3)?,
                field: r.opt_text(4)?,
                detail,
            });
        }
        Ok(out)
    }

    /// Puts a protocol on legal hold (litigation): it survives its year's
    /// shred under the organisation's hold key until the hold is lifted.
    pub fn set_legal_hold(&self, scope: &Scope, id: Uuid, on: bool) -> Result<bool, ArchiveError> {
        let n = self.db.tx(scope, |tx| {
            tx.exec(
                "UPDATE protocol SET legal_hold = $1 WHERE id = $2 AND app_org_visible(org_id) AND shredded_ms IS NULL",
                params![on, id],
            )
        })?;
        Ok(n > 0)
    }

    /// Destroys the keys of every year whose retention ended before
    /// `now_ms` and deletes that year's rows; protocols on legal hold are
    /// re-sealed under the hold key first. Returns what it did.
    pub fn shred_expired(&self, now_ms: i64) -> Result<ShredReport, ArchiveError> {
        let orgs = self
            .db
            .read(&Scope::none(), |tx| tx.query("SELECT id FROM org", &[]))?;
        let mut rep = ShredReport::default();
        for o in orgs {
            let org = o.text(0)?;
            let scope = Scope::org(&org);
            let years = self.db.read(&scope, |tx| {
                tx.query(
                    "SELECT year FROM v_archive_key
                     WHERE org_id = $1 AND year > 0 AND wrapped IS NOT NULL",
                    params![org.clone()],
                )
            })?;
            for y in years {
                let year = y.int(0)?;
                if year_start_ms(year + RETAIN_YEARS + 1) > now_ms {
                    continue;
                }
                let r = self.shred_year(&org, year)?;
                rep.keys += 1;
                rep.protocols += r.0;
                rep.held += r.1;
            }
        }
        Ok(rep)
    }

    fn shred_year(&self, org: &str, year: i64) -> Result<(usize, usize), ArchiveError> {
        let scope = Scope::org(org);
        let res = self.db.tx(&scope, |tx| {
            let key = self.year_key(tx, org, year)?;
            let held = tx.query(
                "SELECT id FROM v_protocol WHERE org_id = $1 AND key_year = $2 AND legal_hold <> 0",
                params![org, year],
            )?;
            if !held.is_empty() {
                let hold_key = self.year_key(tx, org, HOLD_YEAR)?;
                for h in &held {
                    let pid = h.text(0)?;
                    self.reseal(tx, org, &pid, &key, &hold_key)?;
                    crate::edits::copy_for_hold(
                        tx,
                        org,
                        &pid,
                        (year, &key),
                        (HOLD_YEAR, &hold_key),
                    )?;
                    tx.exec(
                        "UPDATE protocol SET key_year = $1 WHERE org_id = $2 AND id = $3",
                        params![HOLD_YEAR, org, pid],
                    )?;
                }
            }
            let gone = tx.query(
                "SELECT id FROM v_protocol WHERE org_id = $1 AND key_year = $2 AND shredded_ms IS NULL",
                params![org, year],
            )?;
            // The pseudonymised extract (`crate::qm`) goes with its year;
            // the anonymised one holds no link to the protocol and stays.
            let extra = [
                ("stat", ""),
                ("protocol_crew", ""),
                ("qm_pseudo", ""),
                ("qm_build", ""),
            ];
            for (table, _) in SEALED.iter().chain(extra.iter()) {
                tx.exec(
                    &format!(
                        "DELETE FROM {table} WHERE org_id = $1 AND protocol_id IN
                         (SELECT id FROM v_protocol WHERE org_id = $1 AND key_year = $2)"
                    ),
                    params![org, year],
                )?;
            }
            let now = crate::now_ms();
            // The row stays as a tombstone: which protocol existed and when
            // it expired, without any content.
            tx.exec(
                "UPDATE protocol SET shredded_ms = $1, receipt = '', els_number = NULL
                 WHERE org_id = $2 AND key_year = $3",
                params![now, org, year],
            )?;
            tx.exec(
                "UPDATE archive_key SET wrapped = NULL, shredded_ms = $1 WHERE org_id = $2 AND year = $3",
                params![now, org, year],
            )?;
            Ok::<_, ArchiveError>((gone.len(), held.len()))
        })?;
        tracing::info!(
            org,
            year,
            protocols = res.0,
            held = res.1,
            "archive year shredded"
        );
        Ok(res)
    }

    fn reseal(
        &self,
        tx: &mut Tx<'_>,
        org: &str,
        pid: &str,
        from: &SecretKey,
        to: &SecretKey,
    ) -> Result<(), ArchiveError> {
        for (table, sub_col) in SEALED {
            let rows = tx.query(
                &format!(
                    "SELECT {sub_col}, sealed FROM v_{table} WHERE org_id = $1 AND protocol_id = $2"
                ),
                params![org, pid],
            )?;
            for r in rows {
                let sub = sub_text(&r)?;
                let a = aad(table, org, pid, &sub);
                let plain = open(from, &a, &r.bytes(1)?).map_err(|_| {
                    ArchiveError::Corrupt(format!("{table} of {pid} does not open"))
                })?;
                let again =
                    seal(to, &a, &plain).map_err(|e| ArchiveError::Crypto(e.to_string()))?;
                let cond = if *sub_col == "''" {
                    String::new()
                } else {
                    format!(" AND {sub_col} = $4")
                };
                let sql = format!(
                    "UPDATE {table} SET sealed = $1 WHERE org_id = $2 AND protocol_id = $3{cond}"
                );
                if *sub_col == "''" {
                    tx.exec(&sql, params![again, org, pid])?;
                } else if *sub_col == "ord" {
                    tx.exec(
                        &sql,
                        params![again, org, pid, sub.parse::<i64>().unwrap_or(-1)],
                    )?;
                } else {
                    tx.exec(&sql, params![again, org, pid, sub])?;
                }
            }
        }
        Ok(())
    }
}

fn sub_text(r: &crate::db::Row) -> Result<String, ArchiveError> {
    if let Ok(s) = r.text(0) {
        return Ok(s);
    }
    Ok(r.int(0)?.to_string())
}

impl crate::db::TxError for ArchiveError {
    fn db(&self) -> Option<&DbError> {
        match self {
            ArchiveError::Db(d) => Some(d),
            _ => None,
        }
    }
}

pub(crate) fn summary(r: &crate::db::Row) -> Result<Summary, ArchiveError> {
    Ok(Summary {
        org: r.text(0)?,
        id: sql_uuid(&r.text(1)?)?,
        mission_id: sql_uuid(&r.text(2)?)?,
        call_sign: r.text(3)?,
        station: r.opt_text(4)?,
        els_number: r.opt_text(5)?,
        opened_ms: r.opt_int(6)?,
        received_ms: r.int(7)?,
        patients: r.int(8)?,
        changes: r.int(9)?,
        legal_hold: r.int(10)? != 0,
    })
}
