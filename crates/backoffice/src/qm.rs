//! The statistics extracts for quality management (issue 17, item 1): a job
//! builds them from the archive's coded `stat` rows (and, for the age and
//! the region, the sealed identity, opened here and never copied), into
//! their own tables `qm_pseudo` and `qm_anon` (migration 6). The reason
//! gate of the back office does not open them; each role sees only its
//! level (docs/backoffice.md §4):
//!
//! - the head of service (Leiter RD): the **pseudonymised** extract of the
//!   own organisation, per recipient;
//! - the medical director (ÄLRD): the **anonymised** extract of the
//!   district, as counts with small cells suppressed;
//! - every other role: no extract ([`AccessError::Forbidden`]).
//!
//! Every build and every read writes an audit entry.
//!
//! # Which fields each level keeps ([`FIELDS`])
//!
//! | Field                                   | Pseudonymised            | Anonymised                      |
//! |-----------------------------------------|--------------------------|---------------------------------|
//! | pseudonym (HMAC of the patient)         | kept                     | dropped                         |
//! | protocol id                             | kept                     | dropped (random row id)         |
//! | organisation                            | kept                     | kept                            |
//! | station                                 | kept                     | kept                            |
//! | call sign                               | kept                     | kept                            |
//! | mission times (`time.*`, coded times)   | kept                     | coarsened to the hour           |
//! | hour of day, weekday, month (opening)   | kept (exact time)        | kept                            |
//! | mission coding (type, keyword, scene …) | kept                     | kept                            |
//! | sex                                     | kept                     | kept                            |
//! | diagnosis codes                         | kept                     | kept                            |
//! | NACA                                    | kept                     | kept                            |
//! | measures                                | kept                     | kept                            |
//! | medications                             | kept                     | kept                            |
//! | other coded findings (vitals, ECG …)    | kept                     | kept                            |
//! | age                                     | kept (years)             | 5-year band, 90+ pooled         |
//! | postcode                                | dropped                  | coarsened to the region (2 digits) |
//! | name, title                             | dropped                  | dropped                         |
//! | birth date, other dates                 | dropped                  | dropped                         |
//! | address, scene address, GPS             | dropped                  | dropped                         |
//! | insurance                               | dropped                  | dropped                         |
//! | free text                               | dropped                  | dropped                         |
//!
//! Rows are per statistic (one kept row of `stat`), not per protocol: a
//! count over any dimension is one `GROUP BY`, and no row holds more than
//! the archive's `stat` row it came from plus its level's derived columns.
//!
//! The pseudonym is HMAC-SHA256 under the recipient's key of
//! `org ‖ 0 ‖ basis`, the basis being the normalised insurance number
//! (KVNR), else the normalised family name, given name and birth date
//! (docs/backoffice.md §4); a patient with none of these gets a basis
//! unique to the protocol (counted, never linked). Two recipients'
//! pseudonyms of one patient differ; one recipient's stay stable.

use std::collections::BTreeMap;

use rettpad_crypto::{SecretKey, sha256};
use rettpad_record::catalog::{self, Kind};
use rettpad_record::keys::{insurance, mission, patient};
use rettpad_record::{PartialDate, Value};
use serde_json::Value as Json;
use uuid::Uuid;

use crate::access::{AccessError, Audit, Caller, Role, append};
use crate::archive::{Archive, ArchiveError};
use crate::db::{DbError, Scope, TxError, Val, check_org_id};
use crate::params;
use crate::split::{self, Class};

/// The smallest cell an anonymised count may show.
pub const MIN_K: i64 = 5;

/// What a level does with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Kept,
    /// Kept in a coarser form (how).
    Coarsened(&'static str),
    Dropped,
}

/// The documented table: (field, pseudonymised level, anonymised level).
pub const FIELDS: &[(&str, Keep, Keep)] = &[
    ("pseudonym", Keep::Kept, Keep::Dropped),
    ("protocol id", Keep::Kept, Keep::Dropped),
    ("organisation", Keep::Kept, Keep::Kept),
    ("station", Keep::Kept, Keep::Kept),
    ("call sign", Keep::Kept, Keep::Kept),
    ("mission times", Keep::Kept, Keep::Coarsened("to the hour")),
    ("hour of day", Keep::Kept, Keep::Kept),
    ("month", Keep::Kept, Keep::Kept),
    ("weekday", Keep::Kept, Keep::Kept),
    ("mission coding", Keep::Kept, Keep::Kept),
    ("sex", Keep::Kept, Keep::Kept),
    ("diagnosis codes", Keep::Kept, Keep::Kept),
    ("naca", Keep::Kept, Keep::Kept),
    ("measures", Keep::Kept, Keep::Kept),
    ("medications", Keep::Kept, Keep::Kept),
    ("other coded findings", Keep::Kept, Keep::Kept),
    (
        "age",
        Keep::Kept,
        Keep::Coarsened("5-year band, 90+ pooled"),
    ),
    (
        "postcode",
        Keep::Dropped,
        Keep::Coarsened("region: first 2 digits"),
    ),
    ("name", Keep::Dropped, Keep::Dropped),
    ("birth date", Keep::Dropped, Keep::Dropped),
    ("address", Keep::Dropped, Keep::Dropped),
    ("insurance", Keep::Dropped, Keep::Dropped),
    ("free text", Keep::Dropped, Keep::Dropped),
];

/// Groups of statistic fields both levels keep (by key prefix).
const KEPT_GROUPS: &[&str] = &[
    "time.",
    "diagnosis.",
    "naca.",
    "measure.",
    "med.",
    "finding.",
    "vitals.",
    "ecg.",
    "injury.",
    "history.",
    "transport.",
    "handover.",
    "outcome.",
];

/// Single fields kept besides the groups (mission coding, sex).
const KEPT_FIELDS: &[&str] = &[
    mission::TYPE,
    mission::KEYWORD,
    mission::SCENE_TYPE,
    mission::UNIT_TYPE,
    mission::FIRST_ON_SCENE,
    mission::DOCTOR_REQUESTED,
    mission::DOCTOR_SPECIALTY,
    mission::FALSE_MISSION,
    patient::SEX,
];

fn kind_of(field: &str) -> Option<&'static Kind> {
    catalog::field(field).map(|d| &d.kind)
}

/// Whether a `stat` row's field goes into the extracts: coded, in the
/// table, never identity, never a date.
pub fn keeps_stat(field: &str) -> bool {
    split::class(field) == Class::Coded
        && !split::IDENTITY.contains(&field)
        && !matches!(kind_of(field), Some(Kind::Date) | None)
        && (KEPT_FIELDS.contains(&field) || KEPT_GROUPS.iter().any(|g| field.starts_with(g)))
}

#[derive(Debug, thiserror::Error)]
pub enum QmError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("k = {0} is below the smallest cell size {MIN_K}")]
    KTooSmall(i64),
    #[error("the pseudonymised extract is built for a recipient")]
    NoRecipient,
    #[error("recipient ids are 1-64 characters of a-z, 0-9, -, _ and .")]
    BadRecipient,
}

impl From<DbError> for QmError {
    fn from(e: DbError) -> QmError {
        QmError::Access(e.into())
    }
}

impl From<ArchiveError> for QmError {
    fn from(e: ArchiveError) -> QmError {
        QmError::Access(e.into())
    }
}

impl TxError for QmError {
    fn db(&self) -> Option<&DbError> {
        match self {
            QmError::Access(a) => a.db(),
            _ => None,
        }
    }
}

/// Protocols whose opening (else receipt) lies in `[from_ms, to_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from_ms: i64,
    pub to_ms: i64,
}

impl Period {
    pub fn all() -> Period {
        Period {
            from_ms: i64::MIN,
            to_ms: i64::MAX,
        }
    }
}

/// Who receives a pseudonymised extract, with their key (kept by the
/// caller in this slice; a stored, wrapped key per recipient is not).
pub struct Recipient<'a> {
    pub id: &'a str,
    pub key: &'a SecretKey,
}

/// What a build did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Built {
    /// Protocols newly extracted.
    pub protocols: usize,
    pub rows: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PseudoRow {
    pub org: String,
    pub protocol: String,
    /// `None` for mission-level statistics.
    pub pseudonym: Option<String>,
    pub station: Option<String>,
    pub call_sign: String,
    pub opened_ms: Option<i64>,
    pub hour: Option<i64>,
    pub weekday: Option<i64>,
    pub age_years: Option<i64>,
    pub field: String,
    pub code: Option<String>,
    pub num: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PseudoFilter {
    pub recipient: String,
    pub field: Option<String>,
}

/// A dimension of an anonymised count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dim {
    Org,
    Station,
    CallSign,
    Hour,
    Weekday,
    Month,
    AgeBand,
    Region,
    Field,
    Code,
}

impl Dim {
    fn column(self) -> &'static str {
        match self {
            Dim::Org => "org_id",
            Dim::Station => "station_id",
            Dim::CallSign => "call_sign",
            Dim::Hour => "CAST(hour AS TEXT)",
            Dim::Weekday => "CAST(weekday AS TEXT)",
            Dim::Month => "CAST(month AS TEXT)",
            Dim::AgeBand => "age_band",
            Dim::Region => "region",
            Dim::Field => "field",
            Dim::Code => "code",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnonFilter {
    pub field: Option<String>,
    pub code: Option<String>,
}

/// One shown cell: the dimensions' values (in the order asked) and the
/// number of statistic rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub key: Vec<Option<String>>,
    pub count: i64,
}

/// HMAC-SHA256 (RFC 2104) over the crate's SHA-256.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&sha256(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Vec::with_capacity(BLOCK + msg.len());
    inner.extend(k.iter().map(|b| b ^ 0x36));
    inner.extend_from_slice(msg);
    let ih = sha256(&inner);
    let mut outer = Vec::with_capacity(BLOCK + 32);
    outer.extend(k.iter().map(|b| b ^ 0x5c));
    outer.extend_from_slice(&ih);
    sha256(&outer)
}

/// The age band of the anonymised level: five years, 90 and over pooled
/// (docs/backoffice.md §4).
pub fn age_band(years: i64) -> String {
    if years >= 90 {
        return "90+".into();
    }
    let lo = years.max(0) / 5 * 5;
    format!("{lo}-{}", lo + 4)
}

/// (year, month, day) of a UTC instant.
fn civil(ms: i64) -> (i64, i64, i64) {
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

const HOUR_MS: i64 = 3_600_000;

fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS).rem_euclid(24)
}

/// ISO weekday, Monday = 1 (UTC).
fn weekday_of(ms: i64) -> i64 {
    (ms.div_euclid(86_400_000) + 3).rem_euclid(7) + 1
}

/// A random (version 4) row id: no time, no link to the mission.
fn random_id() -> Result<Uuid, ArchiveError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| ArchiveError::Crypto(e.to_string()))?;
    Ok(uuid::Builder::from_random_bytes(b).into_uuid())
}

/// What the extracts take from one patient's sealed identity.
#[derive(Default)]
struct Derived {
    basis: Option<String>,
    age: Option<i64>,
    region: Option<String>,
}

fn value(fields: &Json, key: &str) -> Option<Value> {
    serde_json::from_value(fields.get(key)?.clone()).ok()
}

fn text(fields: &Json, key: &str) -> String {
    match value(fields, key) {
        Some(Value::Text(s)) => s.trim().to_lowercase(),
        _ => String::new(),
    }
}

fn derive(fields: &Json, at_ms: Option<i64>) -> Derived {
    let kvnr: String = text(fields, insurance::NUMBER)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let birth = match value(fields, patient::BIRTH_DATE) {
        Some(Value::Date(d)) => Some(d),
        _ => None,
    };
    let family = text(fields, patient::FAMILY_NAME);
    let by_name = (!family.is_empty() || birth.is_some()).then(|| {
        let b = birth.map_or(String::new(), |d: PartialDate| {
            format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
        });
        format!(
            "{family}\u{1f}{}\u{1f}{b}",
            text(fields, patient::GIVEN_NAME)
        )
    });
    let basis = if kvnr.is_empty() {
        by_name.map(|b| format!("name\u{1f}{b}"))
    } else {
        Some(format!("kvnr\u{1f}{kvnr}"))
    };
    let age = match (birth, at_ms) {
        (Some(b), Some(at)) if b.year > 0 => {
            let (y, m, d) = civil(at);
            let before = b.month > 0 && (m, d) < (i64::from(b.month), i64::from(b.day.max(1)));
            Some(y - i64::from(b.year) - i64::from(before)).filter(|a| *a >= 0)
        }
        _ => None,
    };
    let pc = text(fields, patient::ADDRESS_POSTCODE);
    let region = (pc.len() >= 2 && pc.bytes().take(2).all(|b| b.is_ascii_digit()))
        .then(|| pc[..2].to_string());
    Derived { basis, age, region }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    Pseudo,
    Anon,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Pseudo => "pseudo",
            Level::Anon => "anon",
        }
    }
}

const PSEUDO_COLS: &[&str] = &[
    "org_id",
    "recipient",
    "protocol_id",
    "ord",
    "pseudonym",
    "station_id",
    "call_sign",
    "opened_ms",
    "hour",
    "weekday",
    "age_years",
    "field",
    "code",
    "num",
];

const ANON_COLS: &[&str] = &[
    "org_id",
    "id",
    "station_id",
    "call_sign",
    "hour",
    "weekday",
    "month",
    "age_band",
    "region",
    "field",
    "code",
    "num",
];

/// The extracts, each call checked against the caller.
pub struct Qm<'a> {
    archive: &'a Archive,
}

impl<'a> Qm<'a> {
    pub fn new(archive: &'a Archive) -> Qm<'a> {
        Qm { archive }
    }

    /// The job: extracts the protocols of `period` not extracted before
    /// (idempotent per protocol and level/recipient). The head of service
    /// builds the pseudonymised extract of the own organisation for
    /// `recipient`; the medical director the anonymised one of the
    /// district (without a recipient).
    pub fn build(
        &self,
        caller: &Caller,
        period: Period,
        recipient: Option<&Recipient<'_>>,
        now_ms: i64,
    ) -> Result<Built, QmError> {
        let (level, orgs) = match (caller.role, recipient) {
            (Role::HeadOfService, Some(r)) => {
                check_org_id(r.id).map_err(|_| QmError::BadRecipient)?;
                (Level::Pseudo, vec![caller.org.clone()])
            }
            (Role::HeadOfService, None) => return Err(QmError::NoRecipient),
            (Role::MedicalDirector, None) => (Level::Anon, caller.scope().org_ids().to_vec()),
            _ => return Err(AccessError::Forbidden.into()),
        };
        let mut total = Built::default();
        for org in orgs {
            let b = self.build_org(caller, &org, level, period, recipient, now_ms)?;
            total.protocols += b.protocols;
            total.rows += b.rows;
        }
        Ok(total)
    }

    fn build_org(
        &self,
        caller: &Caller,
        org: &str,
        level: Level,
        period: Period,
        recipient: Option<&Recipient<'_>>,
        now_ms: i64,
    ) -> Result<Built, QmError> {
        let scope = Scope::org(org);
        let rid = recipient.map_or("", |r| r.id);
        let protocols = self.archive.db().read(&scope, |tx| {
            tx.query(
                "SELECT id, station_id, call_sign, opened_ms FROM v_protocol
                 WHERE org_id = $1 AND shredded_ms IS NULL
                   AND COALESCE(opened_ms, received_ms) >= $2
                   AND COALESCE(opened_ms, received_ms) < $3
                   AND id NOT IN (SELECT protocol_id FROM v_qm_build
                                  WHERE org_id = $1 AND level = $4 AND recipient = $5)
                 ORDER BY id",
                params![org, period.from_ms, period.to_ms, level.name(), rid],
            )
        })?;
        let mut rows: Vec<Vec<Val>> = Vec::new();
        let mut marks: Vec<Vec<Val>> = Vec::new();
        for p in &protocols {
            let pid = p.text(0)?;
            let id = Uuid::parse_str(&pid)
                .map_err(|_| ArchiveError::Corrupt("stored id is no UUID".into()))?;
            let (station, call_sign, opened) = (p.opt_text(1)?, p.text(2)?, p.opt_int(3)?);
            let stats = self.archive.db().read(&scope, |tx| {
                tx.query(
                    "SELECT patient_id, field, ord, code, num FROM v_stat
                     WHERE org_id = $1 AND protocol_id = $2 ORDER BY ord",
                    params![org, pid],
                )
            })?;
            // Opened here, reduced to pseudonym basis, age and region.
            let identity = self.archive.identity(&scope, id)?;
            let mut derived: BTreeMap<String, Derived> = identity
                .iter()
                .map(|(k, v)| (k.clone(), derive(v, opened)))
                .collect();
            // The pad's own age field where no birth date gives one.
            for s in &stats {
                if s.text(1)? == patient::AGE_YEARS
                    && let Some(n) = s.opt_int(4)?
                {
                    let d = derived.entry(s.text(0)?).or_default();
                    d.age = d.age.or(Some(n));
                }
            }
            let hour = opened.map(hour_of);
            let weekday = opened.map(weekday_of);
            let before = rows.len();
            for s in &stats {
                let (pat, field) = (s.text(0)?, s.text(1)?);
                if !keeps_stat(&field) {
                    continue;
                }
                let d = derived.get(&pat);
                let age = d.and_then(|d| d.age);
                let (code, num) = (s.opt_text(3)?, s.opt_int(4)?);
                match (level, recipient) {
                    (Level::Pseudo, Some(r)) => {
                        let pseudonym = (!pat.is_empty()).then(|| {
                            let basis = d
                                .and_then(|d| d.basis.clone())
                                .unwrap_or_else(|| format!("unlinked\u{1f}{pid}\u{1f}{pat}"));
                            let mut msg = org.as_bytes().to_vec();
                            msg.push(0);
                            msg.extend_from_slice(basis.as_bytes());
                            hex::encode(hmac_sha256(r.key.expose(), &msg))
                        });
                        rows.push(vec![
                            org.into(),
                            r.id.into(),
                            pid.clone().into(),
                            s.int(2)?.into(),
                            pseudonym.into(),
                            station.clone().into(),
                            call_sign.clone().into(),
                            opened.into(),
                            hour.into(),
                            weekday.into(),
                            age.into(),
                            field.into(),
                            code.into(),
                            num.into(),
                        ]);
                    }
                    _ => {
                        let num = match kind_of(&field) {
                            Some(Kind::Time) => num.map(|n| n - n.rem_euclid(HOUR_MS)),
                            _ => num,
                        };
                        rows.push(vec![
                            org.into(),
                            random_id()?.into(),
                            station.clone().into(),
                            call_sign.clone().into(),
                            hour.into(),
                            weekday.into(),
                            opened.map(|t| civil(t).1).into(),
                            age.map(age_band).into(),
                            d.and_then(|d| d.region.clone()).into(),
                            field.into(),
                            code.into(),
                            num.into(),
                        ]);
                    }
                }
            }
            marks.push(vec![
                org.into(),
                pid.into(),
                level.name().into(),
                rid.into(),
                ((rows.len() - before) as i64).into(),
                now_ms.into(),
            ]);
        }
        let built = Built {
            protocols: marks.len(),
            rows: rows.len(),
        };
        let outcome = format!("{}:{}:{}", level.name(), built.protocols, built.rows);
        self.archive.db().tx(&scope, |tx| {
            let (table, cols) = match level {
                Level::Pseudo => ("qm_pseudo", PSEUDO_COLS),
                Level::Anon => ("qm_anon", ANON_COLS),
            };
            if !rows.is_empty() {
                tx.insert_rows(table, cols, &rows)?;
            }
            if !marks.is_empty() {
                tx.insert_rows(
                    "qm_build",
                    &[
                        "org_id",
                        "protocol_id",
                        "level",
                        "recipient",
                        "rows_built",
                        "built_ms",
                    ],
                    &marks,
                )?;
            }
            append(tx, org, caller, &Audit::event("qm_build", &outcome), now_ms)?;
            Ok::<_, DbError>(())
        })?;
        Ok(built)
    }

    /// The pseudonymised rows of the caller's organisation for one
    /// recipient (head of service only); the read is audited first.
    pub fn pseudo_rows(
        &self,
        caller: &Caller,
        filter: &PseudoFilter,
        now_ms: i64,
    ) -> Result<Vec<PseudoRow>, QmError> {
        if caller.role != Role::HeadOfService {
            return Err(AccessError::Forbidden.into());
        }
        let org = caller.org.as_str();
        let outcome = format!("recipient:{}", filter.recipient);
        let rows = self.archive.db().tx(&Scope::org(org), |tx| {
            append(
                tx,
                org,
                caller,
                &Audit::event("qm_pseudo_read", &outcome),
                now_ms,
            )?;
            tx.query(
                "SELECT org_id, protocol_id, pseudonym, station_id, call_sign, opened_ms, hour,
                        weekday, age_years, field, code, num
                 FROM v_qm_pseudo
                 WHERE org_id = $1 AND recipient = $2 AND (CAST($3 AS TEXT) IS NULL OR field = $3)
                 ORDER BY protocol_id, ord",
                params![org, filter.recipient, filter.field],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(PseudoRow {
                    org: r.text(0)?,
                    protocol: r.text(1)?,
                    pseudonym: r.opt_text(2)?,
                    station: r.opt_text(3)?,
                    call_sign: r.text(4)?,
                    opened_ms: r.opt_int(5)?,
                    hour: r.opt_int(6)?,
                    weekday: r.opt_int(7)?,
                    age_years: r.opt_int(8)?,
                    field: r.text(9)?,
                    code: r.opt_text(10)?,
                    num: r.opt_int(11)?,
                })
            })
            .collect::<Result<_, DbError>>()
            .map_err(QmError::from)
    }

    /// Counts of the anonymised extract of the district (medical director
    /// only) by `dims`; cells of fewer than `k` rows are left out, and `k`
    /// below [`MIN_K`] is refused. The read is audited first.
    pub fn anon_counts(
        &self,
        caller: &Caller,
        dims: &[Dim],
        filter: &AnonFilter,
        k: i64,
        now_ms: i64,
    ) -> Result<Vec<Cell>, QmError> {
        if caller.role != Role::MedicalDirector {
            return Err(AccessError::Forbidden.into());
        }
        if k < MIN_K {
            return Err(QmError::KTooSmall(k));
        }
        // The columns come from `Dim`, never from input.
        let cols = dims
            .iter()
            .map(|d| d.column())
            .collect::<Vec<_>>()
            .join(", ");
        let (select, group, order) = if dims.is_empty() {
            (String::new(), String::new(), String::new())
        } else {
            (
                format!("{cols}, "),
                format!(" GROUP BY {cols}"),
                format!(" ORDER BY {cols}"),
            )
        };
        let sql = format!(
            "SELECT {select}count(*) FROM v_qm_anon
             WHERE (CAST($1 AS TEXT) IS NULL OR field = $1)
               AND (CAST($2 AS TEXT) IS NULL OR code = $2){group}
             HAVING count(*) >= $3{order}"
        );
        let outcome = format!("k:{k}");
        let rows = self.archive.db().tx(&caller.scope(), |tx| {
            append(
                tx,
                &caller.org,
                caller,
                &Audit::event("qm_anon_read", &outcome),
                now_ms,
            )?;
            tx.query(&sql, params![filter.field, filter.code, k])
        })?;
        rows.iter()
            .map(|r| {
                Ok(Cell {
                    key: (0..dims.len())
                        .map(|i| r.opt_text(i))
                        .collect::<Result<_, _>>()?,
                    count: r.int(dims.len())?,
                })
            })
            .collect::<Result<_, DbError>>()
            .map_err(QmError::from)
    }
}
