//! What the crew may still write after the archive (seed §2.7.1: "Mit
//! Ausnahme weniger rettungstechnischer Daten und einem persönlichen
//! Bemerkungsfeld hat der Benutzer nur Leserecht"). The archived record
//! stays exactly as filed; a personal remark (seen by its author only) and
//! corrections of a few operational fields are an append-only overlay in
//! `crew_edit`, each write audited in its own transaction.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

use rettpad_crypto::{SecretKey, open, seal};
use rettpad_record::Value;
use rettpad_record::catalog::{self, Kind, ValueError};
use rettpad_record::keys;
use serde_json::Value as Json;
use uuid::Uuid;

use crate::access::{Access, AccessError, Audit, Caller, Role, append};
use crate::archive::{Archive, ArchiveError, Summary, aad};
use crate::db::{DbError, Scope, Tx, TxError};
use crate::params;
use crate::split::{self, Class};

/// The personal remark's limit.
pub const MAX_REMARK_CHARS: usize = 2000;
/// A corrected value's limit (the catalog's own may be lower).
pub const MAX_VALUE_CHARS: usize = 80;

/// The rescue-technical fields the crew may correct: operational, never
/// medical, never the patient's identity.
pub const CORRECTABLE: &[&str] = &[
    keys::mission::NUMBER,
    keys::mission::CALL_SIGN,
    keys::mission::KEYWORD,
    keys::mission::FALSE_MISSION,
    keys::mission::FIRST_ON_SCENE,
    keys::transport::EMERGENCY_LIGHTS,
    keys::transport::WITH_DOCTOR,
];

const TABLE: &str = "crew_edit";
const REMARK: &str = "remark";
const CORRECTION: &str = "correction";

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// Forbidden (not the crew), not found (not the caller's mission), or
    /// the archive failed.
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error("field {0} cannot be corrected")]
    NotEditable(String),
    #[error("longer than {0} characters")]
    TooLong(usize),
    #[error("control characters are not allowed")]
    ControlChars,
    #[error("only true or false")]
    NotBool,
    #[error("not a value of the field's list")]
    UnknownCode,
}

impl EditError {
    /// The message for the German UI.
    pub fn de(&self) -> String {
        match self {
            EditError::Access(AccessError::Forbidden) => "Für diese Rolle nicht erlaubt.".into(),
            EditError::Access(AccessError::NotFound) => "Protokoll nicht gefunden.".into(),
            EditError::Access(AccessError::ReasonRequired) => {
                "Eine Begründung ist erforderlich.".into()
            }
            EditError::Access(AccessError::Archive(_)) => {
                "Das Archiv ist gerade nicht verfügbar. Bitte später erneut versuchen.".into()
            }
            EditError::NotEditable(_) => {
                "Dieses Feld gehört zur abgeschlossenen Dokumentation und kann nicht geändert werden."
                    .into()
            }
            EditError::TooLong(n) => format!("Text zu lang (höchstens {n} Zeichen)."),
            EditError::ControlChars => "Steuerzeichen sind nicht erlaubt.".into(),
            EditError::NotBool => "Nur „ja“ oder „nein“ möglich.".into(),
            EditError::UnknownCode => "Ungültige Auswahl.".into(),
        }
    }
}

impl From<ArchiveError> for EditError {
    fn from(e: ArchiveError) -> EditError {
        EditError::Access(AccessError::Archive(e))
    }
}

impl From<DbError> for EditError {
    fn from(e: DbError) -> EditError {
        EditError::Access(AccessError::from(e))
    }
}

impl TxError for EditError {
    fn db(&self) -> Option<&DbError> {
        match self {
            EditError::Access(a) => a.db(),
            _ => None,
        }
    }
}

/// A crew member's personal remark on a protocol (their newest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remark {
    pub text: String,
    pub at_ms: i64,
}

/// One correction of a rescue-technical field, beside the filed value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    pub id: Uuid,
    pub field: String,
    /// The value as filed; `None` when the record has none (or, for a
    /// per-patient field, its active patients disagree).
    pub original: Option<String>,
    /// The corrected value; empty removes it (not for true/false fields).
    pub value: String,
    pub user: Uuid,
    pub login: String,
    pub at_ms: i64,
    /// The same user corrected the same field later.
    pub superseded: bool,
}

/// One row to append, with what its audit entry says.
struct NewEdit<'v> {
    kind: &'static str,
    field: &'v str,
    value: &'v str,
    action: &'static str,
    outcome: &'v str,
}

/// One opened row of `crew_edit`.
struct EditRow {
    id: Uuid,
    user: Uuid,
    login: String,
    field: String,
    at_ms: i64,
    /// `None` when the row's year key was destroyed (see [`Edits::rows`]).
    value: Option<String>,
}

/// The AAD binds the value to its table, organisation, protocol and row,
/// and to its author, kind and field: a value copied to another row or
/// another user does not open.
fn row_aad(org: &str, protocol: Uuid, id: Uuid, user: Uuid, kind: &str, field: &str) -> Vec<u8> {
    aad(
        TABLE,
        org,
        &protocol.to_string(),
        &format!("{id}/{user}/{kind}/{field}"),
    )
}

fn corrupt(what: &str) -> EditError {
    ArchiveError::Corrupt(format!("crew edit: {what}")).into()
}

/// Copies a held protocol's edits of `from_year` under the hold key
/// before that year's key is destroyed (the rows are append-only: the old
/// ones stay, unreadable, and reads take only the protocol's current key).
pub(crate) fn copy_for_hold(
    tx: &mut Tx<'_>,
    org: &str,
    protocol: &str,
    (from_year, from): (i64, &SecretKey),
    (to_year, to): (i64, &SecretKey),
) -> Result<usize, ArchiveError> {
    let pid = Uuid::parse_str(protocol)
        .map_err(|_| ArchiveError::Corrupt("crew edit: protocol id".into()))?;
    let rows = tx.query(
        "SELECT id, user_id, login, kind, field, value, created_ms FROM v_crew_edit
         WHERE org_id = $1 AND protocol_id = $2 AND key_year = $3",
        params![org, protocol, from_year],
    )?;
    let bad = |w: &str| ArchiveError::Corrupt(format!("crew edit: {w}"));
    for r in &rows {
        let id = Uuid::parse_str(&r.text(0)?).map_err(|_| bad("id"))?;
        let user = Uuid::parse_str(&r.text(1)?).map_err(|_| bad("user id"))?;
        let (kind, field) = (r.text(3)?, r.text(4)?);
        let plain = open(
            from,
            &row_aad(org, pid, id, user, &kind, &field),
            &r.bytes(5)?,
        )
        .map_err(|_| bad("a value does not open"))?;
        let new_id = Uuid::now_v7();
        let sealed = seal(to, &row_aad(org, pid, new_id, user, &kind, &field), &plain)
            .map_err(|e| ArchiveError::Crypto(e.to_string()))?;
        tx.exec(
            "INSERT INTO crew_edit (org_id, id, protocol_id, user_id, login, kind, field,
                 key_year, value, created_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            params![
                org,
                new_id,
                protocol,
                user,
                r.text(2)?,
                kind,
                field,
                to_year,
                sealed,
                r.int(6)?
            ],
        )?;
    }
    Ok(rows.len())
}

/// The crew's writes and the reads of what they wrote, each checked
/// against the caller.
pub struct Edits<'a> {
    archive: &'a Archive,
}

impl<'a> Edits<'a> {
    pub fn new(archive: &'a Archive) -> Edits<'a> {
        Edits { archive }
    }

    /// The protocol if the caller is its crew: every other role is
    /// forbidden; another mission or organisation is not found (the check
    /// of `Access`, not a second one).
    fn own(&self, caller: &Caller, protocol: Uuid) -> Result<Summary, EditError> {
        if caller.role != Role::Crew {
            return Err(AccessError::Forbidden.into());
        }
        Ok(Access::new(self.archive).visible(caller, protocol)?)
    }

    /// Saves the caller's personal remark (replacing their earlier one; an
    /// empty text removes it). Only its author ever reads it back.
    pub fn set_remark(
        &self,
        caller: &Caller,
        protocol: Uuid,
        text: &str,
        now_ms: i64,
    ) -> Result<(), EditError> {
        let s = self.own(caller, protocol)?;
        let text = check_remark(text)?;
        let outcome = if text.is_empty() {
            "remark cleared"
        } else {
            "remark saved"
        };
        let edit = NewEdit {
            kind: REMARK,
            field: "",
            value: &text,
            action: "protocol.remark",
            outcome,
        };
        self.write(caller, &s, &edit, now_ms)
    }

    /// The caller's own remark; never anyone else's.
    pub fn remark(&self, caller: &Caller, protocol: Uuid) -> Result<Option<Remark>, EditError> {
        let s = self.own(caller, protocol)?;
        let newest = self
            .rows(&s.org, protocol, REMARK, Some(caller.user))?
            .pop();
        Ok(newest.and_then(|r| match r.value {
            Some(text) if !text.is_empty() => Some(Remark {
                text,
                at_ms: r.at_ms,
            }),
            _ => None,
        }))
    }

    /// Corrects one rescue-technical field (see [`CORRECTABLE`]); the filed
    /// record is not touched and the original stays visible beside it.
    pub fn correct(
        &self,
        caller: &Caller,
        protocol: Uuid,
        field: &str,
        value: &str,
        now_ms: i64,
    ) -> Result<(), EditError> {
        let s = self.own(caller, protocol)?;
        let value = check_value(field, value)?;
        let outcome = format!("corrected {field}");
        let edit = NewEdit {
            kind: CORRECTION,
            field,
            value: &value,
            action: "protocol.correct",
            outcome: &outcome,
        };
        self.write(caller, &s, &edit, now_ms)
    }

    /// Every correction of the protocol, oldest first, for everyone who may
    /// see the protocol; the superseded ones stay as history.
    pub fn corrections(
        &self,
        caller: &Caller,
        protocol: Uuid,
    ) -> Result<Vec<Correction>, EditError> {
        let s = Access::new(self.archive).visible(caller, protocol)?;
        let rows = self.rows(&s.org, protocol, CORRECTION, None)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // The originals come from the archived record, opened here without
        // the reason gate: only the allowlisted operational fields are
        // taken from it, never identity or other free text.
        let scope = Scope::org(&s.org);
        let medical = self.archive.medical(&scope, protocol)?;
        let free_text = self.archive.free_text(&scope, protocol)?;
        let mut newest: HashMap<(Uuid, &str), Uuid> = HashMap::new();
        for r in &rows {
            newest.insert((r.user, r.field.as_str()), r.id);
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            // Sealed under a destroyed key: nothing left to show.
            let Some(value) = r.value.clone() else {
                continue;
            };
            out.push(Correction {
                id: r.id,
                field: r.field.clone(),
                original: original(&r.field, medical.as_ref(), free_text.as_ref()),
                value,
                user: r.user,
                login: r.login.clone(),
                at_ms: r.at_ms,
                superseded: newest.get(&(r.user, r.field.as_str())) != Some(&r.id),
            });
        }
        Ok(out)
    }

    /// Appends one sealed row and its audit entry in one transaction: no
    /// audit entry, no edit.
    fn write(
        &self,
        caller: &Caller,
        s: &Summary,
        e: &NewEdit<'_>,
        now_ms: i64,
    ) -> Result<(), EditError> {
        let org = s.org.as_str();
        let protocol = s.id;
        self.archive.db().tx(&Scope::org(org), |tx| {
            // Again inside the transaction: a protocol shredded since the
            // check takes no edit.
            let key_year = tx
                .query_opt(
                    "SELECT key_year FROM v_protocol WHERE org_id = $1 AND id = $2 AND shredded_ms IS NULL",
                    params![org, protocol],
                )?
                .ok_or(AccessError::NotFound)?
                .int(0)?;
            let key = self.archive.year_key(tx, org, key_year)?;
            let id = Uuid::now_v7();
            let sealed = seal(
                &key,
                &row_aad(org, protocol, id, caller.user, e.kind, e.field),
                e.value.as_bytes(),
            )
            .map_err(|e| ArchiveError::Crypto(e.to_string()))?;
            tx.exec(
                "INSERT INTO crew_edit (org_id, id, protocol_id, user_id, login, kind, field,
                     key_year, value, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                params![
                    org,
                    id,
                    protocol,
                    caller.user,
                    caller.login,
                    e.kind,
                    e.field,
                    key_year,
                    sealed,
                    now_ms
                ],
            )?;
            // The entry names the protocol and the field, never a value.
            append(
                tx,
                org,
                caller,
                &Audit {
                    protocol: Some(protocol),
                    ..Audit::event(e.action, e.outcome)
                },
                now_ms,
            )?;
            Ok::<_, EditError>(())
        })
    }

    /// The rows of one kind (of one user), opened, oldest first; ties in
    /// time go by the v7 id. A row whose year key was destroyed (possible
    /// only for a protocol on legal hold, moved to the hold key) keeps its
    /// metadata but no value.
    fn rows(
        &self,
        org: &str,
        protocol: Uuid,
        kind: &str,
        user: Option<Uuid>,
    ) -> Result<Vec<EditRow>, EditError> {
        let mut rows = self.archive.db().read(&Scope::org(org), |tx| {
            // Only rows under the protocol's current key: a held protocol's
            // edits were copied to the hold key when its year was shredded.
            let found = tx.query(
                "SELECT e.id, e.user_id, e.login, e.field, e.key_year, e.value, e.created_ms
                 FROM v_crew_edit e JOIN v_protocol p ON p.org_id = e.org_id AND p.id = e.protocol_id
                 WHERE e.org_id = $1 AND e.protocol_id = $2 AND e.kind = $3
                   AND e.key_year = p.key_year
                   AND (CAST($4 AS TEXT) IS NULL OR e.user_id = $4)",
                params![org, protocol, kind, user],
            )?;
            let mut keys: HashMap<i64, Option<SecretKey>> = HashMap::new();
            let mut out = Vec::with_capacity(found.len());
            for r in found {
                let id = Uuid::parse_str(&r.text(0)?).map_err(|_| corrupt("id"))?;
                let user = Uuid::parse_str(&r.text(1)?).map_err(|_| corrupt("user id"))?;
                let field = r.text(3)?;
                let year = r.int(4)?;
                let key = match keys.entry(year) {
                    Entry::Occupied(k) => k.into_mut(),
                    Entry::Vacant(v) => v.insert(match self.archive.year_key(tx, org, year) {
                        Ok(k) => Some(k),
                        Err(ArchiveError::Shredded { .. }) => None,
                        Err(e) => return Err(e.into()),
                    }),
                };
                let value = match key {
                    Some(key) => {
                        let plain = open(
                            key,
                            &row_aad(org, protocol, id, user, kind, &field),
                            &r.bytes(5)?,
                        )
                        .map_err(|_| corrupt("a value does not open"))?;
                        Some(String::from_utf8(plain).map_err(|_| corrupt("no UTF-8"))?)
                    }
                    None => {
                        tracing::warn!(%protocol, %id, year, "crew edit sealed under a shredded key");
                        None
                    }
                };
                out.push(EditRow {
                    id,
                    user,
                    login: r.text(2)?,
                    field,
                    at_ms: r.int(6)?,
                    value,
                });
            }
            Ok::<_, EditError>(out)
        })?;
        rows.sort_by_key(|r| (r.at_ms, r.id));
        Ok(rows)
    }
}

/// A remark as stored: line breaks as `\n`, no other control characters.
fn check_remark(text: &str) -> Result<String, EditError> {
    let text = text.replace("\r\n", "\n");
    let text = text.trim();
    if text.chars().count() > MAX_REMARK_CHARS {
        return Err(EditError::TooLong(MAX_REMARK_CHARS));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(EditError::ControlChars);
    }
    Ok(text.to_string())
}

/// A corrected value, checked against the allowlist and the catalog (its
/// length, its code list); booleans only as `true` or `false`.
fn check_value(field: &str, value: &str) -> Result<String, EditError> {
    let not_editable = || EditError::NotEditable(field.to_string());
    if !CORRECTABLE.contains(&field) {
        return Err(not_editable());
    }
    let def = catalog::field(field).ok_or_else(not_editable)?;
    if value.chars().any(char::is_control) {
        return Err(EditError::ControlChars);
    }
    let value = value.trim();
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(EditError::TooLong(MAX_VALUE_CHARS));
    }
    let typed = match def.kind {
        Kind::Bool => match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(EditError::NotBool),
        },
        // An empty correction removes a wrong value (e.g. a false mission
        // that was none).
        _ if value.is_empty() => return Ok(String::new()),
        Kind::Text { .. } => Value::Text(value.to_string()),
        Kind::Code(_) => Value::Code(value.to_string()),
        _ => return Err(not_editable()),
    };
    catalog::validate(def.scope, field, &typed).map_err(|e| match e {
        ValueError::TooLong { max, .. } => EditError::TooLong(max),
        ValueError::UnknownCode { .. } => EditError::UnknownCode,
        _ => not_editable(),
    })?;
    Ok(value.to_string())
}

/// A filed value as the corrections show it.
fn render(j: &Json) -> Option<String> {
    match serde_json::from_value::<Value>(j.clone()).ok()? {
        Value::Text(s) | Value::Code(s) => Some(s),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The filed value of `field`, from where the split put it: typed text in
/// the free text, codes and booleans in the medical record. A per-patient
/// field shows its value when the active patients agree on one.
fn original(field: &str, medical: Option<&Json>, free_text: Option<&Json>) -> Option<String> {
    let def = catalog::field(field)?;
    let class = split::class(field);
    let doc = match class {
        Class::FreeText => free_text?,
        Class::Coded => medical?,
        Class::Identity => return None,
    };
    match def.scope {
        catalog::Scope::Mission => {
            let part = if class == Class::FreeText {
                "mission"
            } else {
                "fields"
            };
            doc.get(part)?.get(field).and_then(render)
        }
        catalog::Scope::Patient => {
            let mut seen = BTreeSet::new();
            for p in medical?.get("patients")?.as_array()? {
                if p.get("retracted").is_some_and(|r| !r.is_null()) {
                    continue;
                }
                let fields = match class {
                    Class::FreeText => p
                        .get("id")
                        .and_then(Json::as_str)
                        .and_then(|id| doc.get("patients")?.get(id)),
                    _ => p.get("fields"),
                };
                if let Some(v) = fields.and_then(|f| f.get(field)).and_then(render) {
                    seen.insert(v);
                }
            }
            if seen.len() == 1 {
                seen.pop_first()
            } else {
                None
            }
        }
        catalog::Scope::Entry(_) => None,
    }
}
