//! Who may see what (the role matrix of docs/backoffice.md §1, derived from
//! the seed's §2.7), the reason gate for a patient's identity and the
//! append-only, hash-chained audit trail. Checked here, on the server, for
//! every call; the web client only shows what these functions return.

use std::collections::BTreeMap;

use rettpad_crypto::sha256;
use serde_json::Value as Json;
use uuid::Uuid;

use crate::archive::{Archive, ArchiveError, Summary};
use crate::db::{DbError, Scope, Tx, TxError};
use crate::params;

/// How long a typed reason opens a protocol's identity.
pub const GRANT_MS: i64 = 15 * 60_000;
/// A reason shorter than this is no reason.
pub const MIN_REASON_CHARS: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Rettungsdienstpersonal: own missions, identity without reason.
    Crew,
    /// Wachleiter: the missions of their stations, identity with a reason.
    StationLead,
    /// Leiter Rettungsdienst: the organisation, identity with a reason.
    HeadOfService,
    /// Ärztlicher Leiter Rettungsdienst: the district, identity with a reason.
    MedicalDirector,
    /// Verwaltung: users and staff lists, no clinical data.
    Admin,
    /// Datenschutz: the audit trail, no clinical data.
    Auditor,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Crew => "crew",
            Role::StationLead => "station_lead",
            Role::HeadOfService => "head_of_service",
            Role::MedicalDirector => "medical_director",
            Role::Admin => "admin",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [
            Role::Crew,
            Role::StationLead,
            Role::HeadOfService,
            Role::MedicalDirector,
            Role::Admin,
            Role::Auditor,
        ]
        .into_iter()
        .find(|r| r.name() == s)
    }

    /// Sees protocols (the medical record) at all.
    pub fn sees_protocols(self) -> bool {
        matches!(
            self,
            Role::Crew | Role::StationLead | Role::HeadOfService | Role::MedicalDirector
        )
    }

    /// Needs a typed reason before a patient's identity shows.
    pub fn identity_needs_reason(self) -> bool {
        matches!(
            self,
            Role::StationLead | Role::HeadOfService | Role::MedicalDirector
        )
    }
}

/// A signed-in user, as the session knows them. Built by the sign-in from
/// the user's row, never from request input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: Uuid,
    pub login: String,
    pub role: Role,
    pub org: String,
    /// The medical director's district: the organisations they oversee.
    pub district: Vec<String>,
    /// The station lead's stations.
    pub stations: Vec<String>,
    /// The crew member's staff id (the pad's shift login id).
    pub staff_id: Option<String>,
    /// The session's id: the SHA-256 of its token. The token itself is
    /// only in the cookie; this id lands in the audit trail and grants.
    pub session: String,
}

impl Caller {
    /// The organisations this caller's transactions may see.
    pub fn scope(&self) -> Scope {
        match self.role {
            Role::MedicalDirector => {
                let mut orgs = self.district.clone();
                orgs.push(self.org.clone());
                Scope::orgs(orgs)
            }
            _ => Scope::org(&self.org),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonCategory {
    /// Qualitätssicherung
    Qm,
    /// Abgleich mit der Klinik
    HospitalLinkage,
    /// Rechtliche Anfrage
    Legal,
    /// Abrechnung
    Billing,
    Other,
}

impl ReasonCategory {
    pub fn name(self) -> &'static str {
        match self {
            ReasonCategory::Qm => "qm",
            ReasonCategory::HospitalLinkage => "hospital_linkage",
            ReasonCategory::Legal => "legal",
            ReasonCategory::Billing => "billing",
            ReasonCategory::Other => "other",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The role may not do this at all (e.g. an administrator opening a
    /// protocol). Also what a URL tampered to another role's page gets.
    #[error("not permitted for this role")]
    Forbidden,
    /// No such protocol for this caller (another organisation, another
    /// station, another crew): indistinguishable from a missing one.
    #[error("no such protocol")]
    NotFound,
    #[error("a reason of at least {MIN_REASON_CHARS} characters is required")]
    ReasonRequired,
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

impl From<DbError> for AccessError {
    fn from(e: DbError) -> AccessError {
        AccessError::Archive(ArchiveError::Db(e))
    }
}

impl TxError for AccessError {
    fn db(&self) -> Option<&DbError> {
        match self {
            AccessError::Archive(ArchiveError::Db(d)) => Some(d),
            _ => None,
        }
    }
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub org: String,
    pub seq: i64,
    pub at_ms: i64,
    pub user: String,
    pub login: String,
    pub role: String,
    pub session: String,
    pub action: String,
    pub protocol: Option<String>,
    pub category: Option<String>,
    pub reason: Option<String>,
    pub outcome: String,
    pub hash: String,
}

/// What an audit entry records (the caller comes from the session).
pub struct Audit<'a> {
    pub action: &'a str,
    pub protocol: Option<Uuid>,
    pub category: Option<ReasonCategory>,
    pub reason: Option<&'a str>,
    pub outcome: &'a str,
}

impl<'a> Audit<'a> {
    /// An entry without protocol or reason (sign-in, user changes).
    pub fn event(action: &'a str, outcome: &'a str) -> Audit<'a> {
        Audit {
            action,
            protocol: None,
            category: None,
            reason: None,
            outcome,
        }
    }
}

/// The chain hash of one entry: every field, length-prefixed, after the
/// previous hash.
fn chain_hash(prev: &str, fields: &[&str]) -> String {
    let mut buf = Vec::new();
    buf.extend_from_slice(prev.as_bytes());
    for f in fields {
        buf.extend_from_slice(&(f.len() as u64).to_be_bytes());
        buf.extend_from_slice(f.as_bytes());
    }
    hex::encode(sha256(&buf))
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Appends to `org`'s audit chain inside the caller's transaction.
pub(crate) fn append(
    tx: &mut Tx<'_>,
    org: &str,
    caller: &Caller,
    a: &Audit<'_>,
    now_ms: i64,
) -> Result<String, DbError> {
    tx.exec(
        "INSERT INTO audit_head (org_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (org_id) DO NOTHING",
        params![org, GENESIS],
    )?;
    // Row lock on the head (PostgreSQL); SQLite's write transaction is
    // exclusive anyway. Two nodes append one after the other, never fork.
    let lock = match tx.dialect() {
        crate::db::Dialect::Postgres => " FOR UPDATE",
        crate::db::Dialect::Sqlite => "",
    };
    let head = tx
        .query_opt(
            &format!("SELECT seq, hash FROM v_audit_head WHERE org_id = $1{lock}"),
            params![org],
        )?
        .ok_or_else(|| DbError::Invalid("audit head missing".into()))?;
    let (seq, prev) = (head.int(0)? + 1, head.text(1)?);
    let id = Uuid::now_v7().to_string();
    let protocol = a.protocol.map(|p| p.to_string());
    let category = a.category.map(ReasonCategory::name);
    let fields = [
        org,
        &seq.to_string(),
        &id,
        &now_ms.to_string(),
        &caller.user.to_string(),
        &caller.login,
        caller.role.name(),
        &caller.session,
        a.action,
        protocol.as_deref().unwrap_or(""),
        category.unwrap_or(""),
        a.reason.unwrap_or(""),
        a.outcome,
    ];
    let hash = chain_hash(&prev, &fields);
    tx.exec(
        "INSERT INTO audit_event (org_id, seq, id, at_ms, user_id, login, role, session, action,
             protocol_id, category, reason, outcome, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        params![
            org,
            seq,
            id,
            now_ms,
            caller.user,
            caller.login,
            caller.role.name(),
            caller.session,
            a.action,
            protocol,
            category,
            a.reason,
            a.outcome,
            prev,
            hash
        ],
    )?;
    tx.exec(
        "UPDATE audit_head SET seq = $1, hash = $2 WHERE org_id = $3",
        params![seq, hash, org],
    )?;
    Ok(id)
}

/// The back office's reads, each checked against the caller.
pub struct Access<'a> {
    archive: &'a Archive,
}

impl<'a> Access<'a> {
    pub fn new(archive: &'a Archive) -> Access<'a> {
        Access { archive }
    }

    /// The protocol's summary if this caller may see it: organisation by
    /// scope (row-level security), then station or crew by role.
    pub(crate) fn visible(&self, caller: &Caller, id: Uuid) -> Result<Summary, AccessError> {
        if !caller.role.sees_protocols() {
            return Err(AccessError::Forbidden);
        }
        let scope = caller.scope();
        let s = self
            .archive
            .summary(&scope, id)?
            .ok_or(AccessError::NotFound)?;
        let ok = match caller.role {
            Role::StationLead => s
                .station
                .as_ref()
                .is_some_and(|st| caller.stations.contains(st)),
            Role::Crew => {
                let Some(staff) = &caller.staff_id else {
                    return Err(AccessError::NotFound);
                };
                self.archive.db().read(&scope, |tx| {
                    tx.query_opt(
                        "SELECT 1 FROM v_protocol_crew WHERE org_id = $1 AND protocol_id = $2 AND staff_id = $3",
                        params![s.org, id, staff],
                    )
                })?
                .is_some()
            }
            _ => true,
        };
        if ok {
            Ok(s)
        } else {
            Err(AccessError::NotFound)
        }
    }

    /// The protocols this caller may see, newest first, matching `filter`;
    /// the caller's reach (stations, own crew) is added in SQL.
    pub fn missions(
        &self,
        caller: &Caller,
        filter: &crate::search::Filter,
    ) -> Result<Vec<Summary>, AccessError> {
        if !caller.role.sees_protocols() {
            return Err(AccessError::Forbidden);
        }
        let mut f = filter.clone();
        match caller.role {
            Role::StationLead => f.stations = Some(caller.stations.clone()),
            Role::Crew => match &caller.staff_id {
                Some(s) => f.staff = Some(s.clone()),
                None => return Ok(Vec::new()),
            },
            _ => {}
        }
        Ok(self.archive.search(&caller.scope(), &f)?)
    }

    /// The medical record (no identity, no free text for roles that need a
    /// reason; the crew sees its own free text).
    pub fn medical(&self, caller: &Caller, id: Uuid) -> Result<Json, AccessError> {
        let s = self.visible(caller, id)?;
        self.archive
            .medical(&Scope::org(&s.org), id)?
            .ok_or(AccessError::NotFound)
    }

    /// The patients' identity. The crew sees its own missions' patients
    /// directly (still audited); every other role needs a grant.
    pub fn identity(
        &self,
        caller: &Caller,
        id: Uuid,
        now_ms: i64,
    ) -> Result<BTreeMap<String, Json>, AccessError> {
        let s = self.visible(caller, id)?;
        let scope = Scope::org(&s.org);
        if caller.role.identity_needs_reason() && !self.granted(caller, &s, id, now_ms)? {
            return Err(AccessError::ReasonRequired);
        }
        // No audit row, no data: the read is recorded first.
        self.archive.db().tx(&scope, |tx| {
            append(
                tx,
                &s.org,
                caller,
                &Audit {
                    action: "identity_read",
                    protocol: Some(id),
                    category: None,
                    reason: None,
                    outcome: "shown",
                },
                now_ms,
            )
        })?;
        Ok(self.archive.identity(&scope, id)?)
    }

    /// A stored document (the PDF, MIND, FHIR: each names the patient), on
    /// the same terms as the identity, and audited.
    pub fn document(
        &self,
        caller: &Caller,
        id: Uuid,
        kind: &str,
        now_ms: i64,
    ) -> Result<Vec<u8>, AccessError> {
        // Checks the role and grant and records the read.
        self.identity(caller, id, now_ms)?;
        let s = self.visible(caller, id)?;
        self.archive
            .document(&Scope::org(&s.org), id, kind)?
            .ok_or(AccessError::NotFound)
    }

    /// Whether a stored document still matches its hashes (the PDF's is
    /// covered by the receipt), without showing it.
    pub fn document_intact(
        &self,
        caller: &Caller,
        id: Uuid,
        kind: &str,
    ) -> Result<bool, AccessError> {
        let s = self.visible(caller, id)?;
        match self.archive.document(&Scope::org(&s.org), id, kind) {
            Ok(d) => Ok(d.is_some()),
            Err(ArchiveError::Corrupt(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The summary of a protocol this caller may see.
    pub fn summary(&self, caller: &Caller, id: Uuid) -> Result<Summary, AccessError> {
        self.visible(caller, id)
    }

    /// The §630f change list (values may name the patient: crew, or a grant).
    pub fn changes(
        &self,
        caller: &Caller,
        id: Uuid,
    ) -> Result<Vec<crate::archive::Change>, AccessError> {
        let s = self.visible(caller, id)?;
        Ok(self.archive.changes(&Scope::org(&s.org), id)?)
    }

    /// Free text: the crew's own; other roles only under a grant.
    pub fn free_text(&self, caller: &Caller, id: Uuid, now_ms: i64) -> Result<Json, AccessError> {
        let s = self.visible(caller, id)?;
        if caller.role.identity_needs_reason() && !self.granted(caller, &s, id, now_ms)? {
            return Err(AccessError::ReasonRequired);
        }
        self.archive
            .free_text(&Scope::org(&s.org), id)?
            .ok_or(AccessError::NotFound)
    }

    fn granted(
        &self,
        caller: &Caller,
        s: &Summary,
        id: Uuid,
        now_ms: i64,
    ) -> Result<bool, AccessError> {
        Ok(self
            .archive
            .db()
            .read(&Scope::org(&s.org), |tx| {
                tx.query_opt(
                    "SELECT audit_id FROM v_identity_grant
                     WHERE org_id = $1 AND user_id = $2 AND session = $3 AND protocol_id = $4
                       AND expires_ms > $5",
                    params![s.org, caller.user, caller.session, id, now_ms],
                )
            })?
            .is_some())
    }

    /// The reason gate: records who, when, which protocol and why, and
    /// grants this session the protocol's identity for [`GRANT_MS`], in
    /// one transaction. Returns the identity.
    pub fn reveal(
        &self,
        caller: &Caller,
        id: Uuid,
        category: ReasonCategory,
        reason: &str,
        now_ms: i64,
    ) -> Result<BTreeMap<String, Json>, AccessError> {
        let s = self.visible(caller, id)?;
        if !caller.role.identity_needs_reason() {
            return self.identity(caller, id, now_ms);
        }
        let reason = reason.trim();
        if reason.chars().count() < MIN_REASON_CHARS {
            return Err(AccessError::ReasonRequired);
        }
        let scope = Scope::org(&s.org);
        self.archive.db().tx(&scope, |tx| {
            let audit_id = append(
                tx,
                &s.org,
                caller,
                &Audit {
                    action: "identity_reveal",
                    protocol: Some(id),
                    category: Some(category),
                    reason: Some(reason),
                    outcome: "granted",
                },
                now_ms,
            )?;
            tx.exec(
                "INSERT INTO identity_grant (org_id, id, user_id, session, protocol_id, audit_id, granted_ms, expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                params![
                    s.org,
                    Uuid::now_v7(),
                    caller.user,
                    caller.session,
                    id,
                    audit_id,
                    now_ms,
                    now_ms + GRANT_MS
                ],
            )?;
            Ok::<_, DbError>(())
        })?;
        Ok(self.archive.identity(&scope, id)?)
    }

    /// The audit trail of the caller's organisation (auditor only), oldest
    /// first, optionally of one protocol.
    pub fn audit_log(
        &self,
        caller: &Caller,
        protocol: Option<Uuid>,
    ) -> Result<Vec<AuditEvent>, AccessError> {
        if caller.role != Role::Auditor {
            return Err(AccessError::Forbidden);
        }
        audit_rows(self.archive, &caller.org, protocol)
    }
}

fn audit_rows(
    archive: &Archive,
    org: &str,
    protocol: Option<Uuid>,
) -> Result<Vec<AuditEvent>, AccessError> {
    let rows = archive.db().read(&Scope::org(org), |tx| {
        tx.query(
            "SELECT org_id, seq, at_ms, user_id, login, role, session, action, protocol_id,
                    category, reason, outcome, hash
             FROM v_audit_event
             WHERE org_id = $1 AND (CAST($2 AS TEXT) IS NULL OR protocol_id = $2)
             ORDER BY seq",
            params![org, protocol],
        )
    })?;
    rows.iter()
        .map(|r| {
            Ok(AuditEvent {
                org: r.text(0)?,
                seq: r.int(1)?,
                at_ms: r.int(2)?,
                user: r.text(3)?,
                login: r.text(4)?,
                role: r.text(5)?,
                session: r.text(6)?,
                action: r.text(7)?,
                protocol: r.opt_text(8)?,
                category: r.opt_text(9)?,
                reason: r.opt_text(10)?,
                outcome: r.text(11)?,
                hash: r.text(12)?,
            })
        })
        .collect::<Result<_, DbError>>()
        .map_err(AccessError::from)
}

/// Recomputes `org`'s audit chain: `Err(seq)` names the first entry that
/// does not match (changed, removed or inserted).
pub fn verify_audit_chain(archive: &Archive, org: &str) -> Result<usize, i64> {
    let rows = archive
        .db()
        .read(&Scope::org(org), |tx| {
            tx.query(
                "SELECT seq, id, at_ms, user_id, login, role, session, action, protocol_id,
                        category, reason, outcome, prev_hash, hash
                 FROM v_audit_event WHERE org_id = $1 ORDER BY seq",
                params![org],
            )
        })
        .map_err(|_| 0)?;
    let mut prev = GENESIS.to_string();
    for (i, r) in rows.iter().enumerate() {
        let get = |c: usize| r.opt_text(c).ok().flatten().unwrap_or_default();
        let seq = r.int(0).unwrap_or(-1);
        let at = r.int(2).unwrap_or(-1);
        if seq != i as i64 + 1 || get(12) != prev {
            return Err(seq);
        }
        let fields = [
            org,
            &seq.to_string(),
            &get(1),
            &at.to_string(),
            &get(3),
            &get(4),
            &get(5),
            &get(6),
            &get(7),
            &get(8),
            &get(9),
            &get(10),
            &get(11),
        ];
        let h = chain_hash(&prev, &fields);
        if h != get(13) {
            return Err(seq);
        }
        prev = h;
    }
    Ok(rows.len())
}
