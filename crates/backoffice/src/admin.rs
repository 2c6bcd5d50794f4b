//! User and station administration (docs/backoffice.md §roles, shared
//! §1: Administration §2.7.5 and Leiter RD manage their own organisation's
//! users and master data; everyone else is refused). Every change, and every
//! refused or misdirected attempt, is an audit entry written in the
//! transaction that makes (or refuses) it; never a password or a hash.
//!
//! Everything runs in the caller's organisation only: an id of another one
//! is "not found" and nothing of it is read or written.

use rettpad_crypto::SecretKey;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::access::{AccessError, Audit, Caller, Role, append};
use crate::archive::Archive;
use crate::auth::{
    Account, AuthError, HashParams, LockReason, PasswordContext, PasswordPolicy, Violation,
    hash_password,
};
use crate::db::{DbError, Dialect, Row, Scope, Tx, TxError};
use crate::params;
use crate::users::{NewUser, UserError, Users};

pub const STATION_ID_MAX: usize = 32;
pub const NAME_MAX: usize = 80;
pub const LOGIN_MAX: usize = 64;
pub const STAFF_ID_MAX: usize = 64;

/// A free-text field of a user or station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    GivenName,
    FamilyName,
    StationName,
}

impl Field {
    fn en(self) -> &'static str {
        match self {
            Field::GivenName => "given name",
            Field::FamilyName => "family name",
            Field::StationName => "station name",
        }
    }

    fn de(self) -> &'static str {
        match self {
            Field::GivenName => "Vorname",
            Field::FamilyName => "Nachname",
            Field::StationName => "Name der Wache",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// `Forbidden` for a role that may not administer, a role above the
    /// caller's reach, or a change of the caller's own role or account.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// No such user in the caller's organisation (another one's included).
    #[error("no such user")]
    UserNotFound,
    /// No such station in the caller's organisation.
    #[error("no such station")]
    StationNotFound,
    #[error("login exists")]
    LoginExists,
    #[error("station id exists")]
    StationExists,
    #[error("login: 1-{LOGIN_MAX} letters, digits, '.', '_' or '-'")]
    BadLogin,
    #[error("station id: 1-{STATION_ID_MAX} characters of A-Z, a-z, 0-9, '_' and '-'")]
    BadStationId,
    #[error("staff id: 1-{STAFF_ID_MAX} visible characters without spaces")]
    BadStaffId,
    #[error("{}: 1-{NAME_MAX} characters, no control characters", .0.en())]
    BadText(Field),
    /// A user's station list names a station the organisation does not have.
    #[error("unknown station {0:?}")]
    UnknownStation(String),
    #[error("could not generate a transport password that meets the policy")]
    NoPassword,
    #[error(transparent)]
    User(UserError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl AdminError {
    pub fn forbidden() -> AdminError {
        AdminError::Access(AccessError::Forbidden)
    }

    pub fn is_forbidden(&self) -> bool {
        matches!(self, AdminError::Access(AccessError::Forbidden))
    }

    /// German UI text.
    pub fn de(&self) -> String {
        match self {
            AdminError::Access(AccessError::Forbidden) => {
                "Für diese Rolle nicht erlaubt".to_owned()
            }
            AdminError::Access(AccessError::NotFound) => "Nicht gefunden".to_owned(),
            AdminError::Access(_) => "Interner Fehler".to_owned(),
            AdminError::UserNotFound => "Benutzer nicht gefunden".to_owned(),
            AdminError::StationNotFound => "Wache nicht gefunden".to_owned(),
            AdminError::LoginExists => "Der Anmeldename ist bereits vergeben".to_owned(),
            AdminError::StationExists => "Die Kennung der Wache ist bereits vergeben".to_owned(),
            AdminError::BadLogin => {
                format!("Anmeldename: 1 bis {LOGIN_MAX} Buchstaben, Ziffern, '.', '_' oder '-'")
            }
            AdminError::BadStationId => format!(
                "Kennung der Wache: 1 bis {STATION_ID_MAX} Zeichen aus A-Z, a-z, 0-9, '_' und '-'"
            ),
            AdminError::BadStaffId => {
                format!("Personalnummer: 1 bis {STAFF_ID_MAX} sichtbare Zeichen ohne Leerzeichen")
            }
            AdminError::BadText(f) => {
                format!("{}: 1 bis {NAME_MAX} Zeichen, keine Steuerzeichen", f.de())
            }
            AdminError::UnknownStation(s) => format!("Unbekannte Wache: {s}"),
            AdminError::NoPassword => {
                "Es ließ sich kein Transportpasswort nach den Regeln erzeugen".to_owned()
            }
            AdminError::User(UserError::Policy(v)) => {
                v.iter().map(Violation::de).collect::<Vec<_>>().join("; ")
            }
            AdminError::User(_) | AdminError::Db(_) => "Interner Fehler".to_owned(),
        }
    }
}

impl From<UserError> for AdminError {
    fn from(e: UserError) -> AdminError {
        match e {
            UserError::Forbidden => AdminError::forbidden(),
            UserError::Exists => AdminError::LoginExists,
            UserError::Db(d) => AdminError::Db(d),
            other => AdminError::User(other),
        }
    }
}

impl From<crate::archive::ArchiveError> for AdminError {
    fn from(e: crate::archive::ArchiveError) -> AdminError {
        AdminError::Access(AccessError::Archive(e))
    }
}

impl TxError for AdminError {
    fn db(&self) -> Option<&DbError> {
        match self {
            AdminError::Db(d) => Some(d),
            AdminError::Access(a) => a.db(),
            _ => None,
        }
    }
}

/// A user as the administration page lists it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: Uuid,
    pub login: String,
    pub given_name: String,
    pub family_name: String,
    pub role: Role,
    pub stations: Vec<String>,
    pub district: Vec<String>,
    pub staff_id: Option<String>,
    /// The lock in force now, an inactivity lock included before the next
    /// attempt stores it.
    pub locked: Option<LockReason>,
    /// Failed attempts since the last success.
    pub failures: u32,
    /// Transport or expired password: only the change is open.
    pub must_change: bool,
    pub last_login_ms: Option<i64>,
    pub disabled: bool,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationRow {
    pub id: String,
    pub name: String,
}

/// A created user: the transport password is shown once and never stored.
#[derive(Debug)]
pub struct Created {
    pub id: Uuid,
    pub transport_password: Zeroizing<String>,
}

/// Whom `by` may create, or give as a new role. The medical director is a
/// district role: the CLI only.
pub fn may_grant(by: Role, role: Role) -> bool {
    match role {
        Role::Crew | Role::StationLead | Role::Admin | Role::Auditor => {
            matches!(by, Role::Admin | Role::HeadOfService)
        }
        Role::HeadOfService => by == Role::HeadOfService,
        Role::MedicalDirector => false,
    }
}

fn manages(caller: &Caller) -> bool {
    matches!(caller.role, Role::Admin | Role::HeadOfService)
}

pub fn check_station_id(id: &str) -> Result<(), AdminError> {
    let ok = (1..=STATION_ID_MAX).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(AdminError::BadStationId)
    }
}

/// Trimmed, 1..=NAME_MAX chars, no control characters.
pub fn check_text(field: Field, s: &str) -> Result<&str, AdminError> {
    let t = s.trim();
    let n = t.chars().count();
    if n == 0 || n > NAME_MAX || t.chars().any(char::is_control) {
        return Err(AdminError::BadText(field));
    }
    Ok(t)
}

/// The rule `Users::create` applies, checked first for a clear message.
fn check_login(login: &str) -> Result<&str, AdminError> {
    let l = login.trim();
    let ok = !l.is_empty()
        && l.len() <= LOGIN_MAX
        && l.chars().all(|c| c.is_alphanumeric() || "._-".contains(c));
    if ok { Ok(l) } else { Err(AdminError::BadLogin) }
}

fn check_staff_id(s: Option<&str>) -> Result<Option<&str>, AdminError> {
    let Some(s) = s.map(str::trim) else {
        return Ok(None);
    };
    if s.is_empty() || s.len() > STAFF_ID_MAX || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AdminError::BadStaffId);
    }
    Ok(Some(s))
}

/// A transport password that passes `policy`: characters without
/// look-alikes, a special one every sixth, no character twice in a row.
fn transport_password(
    policy: &PasswordPolicy,
    ctx: &PasswordContext<'_>,
) -> Result<Zeroizing<String>, AdminError> {
    const ALPHA: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    const SPECIAL: &[u8] = b"!#%+-=?";
    // Room for skipped repeats, within the policy's maximum.
    let want = policy.min_len.max(16).saturating_add(4).min(policy.max_len);
    for _ in 0..100 {
        let mut pw = Zeroizing::new(String::with_capacity(want));
        let mut last = 0u8;
        while pw.len() < want {
            let key = SecretKey::generate().map_err(|_| AdminError::NoPassword)?;
            for b in key.expose() {
                if pw.len() >= want {
                    break;
                }
                let set = if pw.len() % 6 == 5 { SPECIAL } else { ALPHA };
                let c = set[usize::from(*b) % set.len()];
                if c != last {
                    pw.push(char::from(c));
                    last = c;
                }
            }
        }
        if policy.check_new(&pw, ctx).is_ok() {
            return Ok(pw);
        }
    }
    Err(AdminError::NoPassword)
}

const USER_COLS: &str =
    "id, login, given_name, family_name, role, stations, district, staff_id, account, created_ms";

fn split_csv(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

/// A stored user, as read inside a transaction.
struct Stored {
    id: Uuid,
    login: String,
    given_name: String,
    family_name: String,
    role: Role,
    stations: Vec<String>,
    district: Vec<String>,
    staff_id: Option<String>,
    account: Account,
    created_ms: i64,
}

fn stored(r: &Row) -> Result<Stored, DbError> {
    let bad = |w: &str| DbError::Invalid(format!("stored user: {w}"));
    Ok(Stored {
        id: Uuid::parse_str(&r.text(0)?).map_err(|_| bad("id"))?,
        login: r.text(1)?,
        given_name: r.text(2)?,
        family_name: r.text(3)?,
        role: Role::parse(&r.text(4)?).ok_or_else(|| bad("role"))?,
        stations: split_csv(&r.text(5)?),
        district: split_csv(&r.text(6)?),
        staff_id: r.opt_text(7)?,
        account: serde_json::from_str(&r.text(8)?).map_err(|_| bad("account"))?,
        created_ms: r.int(9)?,
    })
}

/// Reads one user of `org`, locked for the rest of the transaction.
fn load_for_update(tx: &mut Tx<'_>, org: &str, id: Uuid) -> Result<Option<Stored>, DbError> {
    let lock = match tx.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    tx.query_opt(
        &format!("SELECT {USER_COLS} FROM v_app_user WHERE org_id = $1 AND id = $2{lock}"),
        params![org, id],
    )?
    .as_ref()
    .map(stored)
    .transpose()
}

fn save_account(tx: &mut Tx<'_>, org: &str, u: &Stored) -> Result<(), AdminError> {
    let account = serde_json::to_string(&u.account).map_err(|e| DbError::Invalid(e.to_string()))?;
    tx.exec(
        "UPDATE app_user SET account = $1 WHERE org_id = $2 AND id = $3",
        params![account, org, u.id],
    )?;
    Ok(())
}

/// Ends every session of a user; returns how many.
fn end_sessions(tx: &mut Tx<'_>, org: &str, user: Uuid) -> Result<u64, DbError> {
    tx.exec(
        "DELETE FROM web_session WHERE org_id = $1 AND user_id = $2",
        params![org, user],
    )
}

fn lock_name(l: Option<LockReason>) -> &'static str {
    match l {
        None => "none",
        Some(LockReason::TooManyFailures) => "too_many_failures",
        Some(LockReason::Inactive) => "inactive",
        Some(LockReason::Admin) => "admin",
        Some(LockReason::Disabled) => "disabled",
    }
}

/// What a change decided inside its transaction. A refusal is committed
/// with its audit entry and only then returned as an error.
enum Step<T> {
    Done(T, String),
    Refused(AdminError, String),
}

/// The administration of the caller's organisation.
pub struct Admin<'a> {
    archive: &'a Archive,
    policy: PasswordPolicy,
    params: HashParams,
}

impl<'a> Admin<'a> {
    /// `policy` and `params` as for [`Users::new`]: transport passwords
    /// follow the policy and are hashed with the parameters.
    pub fn new(archive: &'a Archive, policy: PasswordPolicy, params: HashParams) -> Admin<'a> {
        Admin {
            archive,
            policy,
            params,
        }
    }

    fn scope(caller: &Caller) -> Scope {
        Scope::org(&caller.org)
    }

    fn audit(
        tx: &mut Tx<'_>,
        caller: &Caller,
        action: &str,
        outcome: &str,
        detail: &str,
        now_ms: i64,
    ) -> Result<(), DbError> {
        let a = Audit {
            reason: Some(detail),
            ..Audit::event(action, outcome)
        };
        append(tx, &caller.org, caller, &a, now_ms).map(|_| ())
    }

    /// Records a refused attempt in its own transaction; the answer stays
    /// `Forbidden` even if the entry cannot be written.
    fn refuse(&self, caller: &Caller, action: &str, detail: &str, now_ms: i64) -> AdminError {
        let r = self.archive.db().tx(&Self::scope(caller), |tx| {
            Self::audit(tx, caller, action, "refused", detail, now_ms)
        });
        if let Err(e) = r {
            tracing::error!(org = %caller.org, action, error = %e, "refusal not audited");
        }
        AdminError::forbidden()
    }

    /// Runs `f` on user `id` of the caller's organisation in one
    /// transaction with the audit entry of its outcome.
    fn change_user<T>(
        &self,
        caller: &Caller,
        action: &str,
        id: Uuid,
        now_ms: i64,
        mut f: impl FnMut(&mut Tx<'_>, &mut Stored) -> Result<Step<T>, AdminError>,
    ) -> Result<T, AdminError> {
        if !manages(caller) {
            return Err(self.refuse(caller, action, &format!("user {id}: role"), now_ms));
        }
        let step = self.archive.db().tx(&Self::scope(caller), |tx| {
            let Some(mut u) = load_for_update(tx, &caller.org, id)? else {
                let detail = format!("user {id}");
                Self::audit(tx, caller, action, "not_found", &detail, now_ms)?;
                return Ok(Step::Refused(AdminError::UserNotFound, detail));
            };
            let step = f(tx, &mut u)?;
            let (outcome, detail) = match &step {
                Step::Done(_, d) => ("ok", d),
                Step::Refused(_, d) => ("refused", d),
            };
            let detail = format!("user {} ({}): {detail}", u.login, u.id);
            Self::audit(tx, caller, action, outcome, &detail, now_ms)?;
            Ok::<_, AdminError>(step)
        })?;
        match step {
            Step::Done(v, _) => Ok(v),
            Step::Refused(e, _) => Err(e),
        }
    }

    /// The organisation's users, by login.
    pub fn users(&self, caller: &Caller, now_ms: i64) -> Result<Vec<UserRow>, AdminError> {
        if !manages(caller) {
            return Err(AdminError::forbidden());
        }
        let rows = self.archive.db().read(&Self::scope(caller), |tx| {
            tx.query(
                &format!("SELECT {USER_COLS} FROM v_app_user WHERE org_id = $1 ORDER BY login"),
                params![caller.org],
            )
        })?;
        rows.iter()
            .map(|r| {
                let u = stored(r)?;
                let a = &u.account;
                let max_age = i64::from(self.policy.max_age_days) * 86_400_000;
                let expired = max_age > 0 && now_ms.saturating_sub(a.password_set_ms) >= max_age;
                Ok(UserRow {
                    locked: a.lock_at(&self.policy, now_ms),
                    failures: a.failures,
                    must_change: a.must_change || expired,
                    last_login_ms: a.last_login_ms,
                    disabled: a.disabled,
                    id: u.id,
                    login: u.login,
                    given_name: u.given_name,
                    family_name: u.family_name,
                    role: u.role,
                    stations: u.stations,
                    district: u.district,
                    staff_id: u.staff_id,
                    created_ms: u.created_ms,
                })
            })
            .collect()
    }

    /// Checks ids and that each is a station of the caller's organisation.
    fn known_stations(tx: &mut Tx<'_>, org: &str, stations: &[String]) -> Result<(), AdminError> {
        for s in stations {
            check_station_id(s)?;
        }
        let have = tx.query("SELECT id FROM v_station WHERE org_id = $1", params![org])?;
        let have = have
            .iter()
            .map(|r| r.text(0))
            .collect::<Result<Vec<_>, _>>()?;
        match stations.iter().find(|s| !have.contains(s)) {
            Some(s) => Err(AdminError::UnknownStation(s.clone())),
            None => Ok(()),
        }
    }

    /// Creates a user of the caller's organisation (via [`Users::create`],
    /// which writes the `user_created:<login>:<role>` audit entry with the
    /// row) and returns its transport password, to hand over once.
    pub fn create_user(
        &self,
        caller: &Caller,
        u: &NewUser<'_>,
        now_ms: i64,
    ) -> Result<Created, AdminError> {
        const ACTION: &str = "user.create";
        if !manages(caller) || !may_grant(caller.role, u.role) || !u.district.is_empty() {
            let detail = format!(
                "login {:?} role {} district [{}]",
                u.login,
                u.role.name(),
                u.district.join(",")
            );
            return Err(self.refuse(caller, ACTION, &detail, now_ms));
        }
        let login = check_login(u.login)?;
        let given_name = check_text(Field::GivenName, u.given_name)?;
        let family_name = check_text(Field::FamilyName, u.family_name)?;
        let staff_id = check_staff_id(u.staff_id)?;
        self.archive.db().read(&Self::scope(caller), |tx| {
            Self::known_stations(tx, &caller.org, u.stations)
        })?;
        let ctx = PasswordContext {
            login,
            given_name,
            family_name,
            organisation: &caller.org,
            current_hash: None,
        };
        let pw = transport_password(&self.policy, &ctx)?;
        let users = Users::new(self.archive, self.policy.clone(), self.params);
        let id = users.create(
            caller,
            &NewUser {
                login,
                given_name,
                family_name,
                role: u.role,
                stations: u.stations,
                district: &[],
                staff_id,
            },
            &pw,
            now_ms,
        )?;
        Ok(Created {
            id,
            transport_password: pw,
        })
    }

    /// Lifts a lock (failures, inactivity, admin). Open for every role of
    /// the organisation: it hands nobody a credential. Does not enable a
    /// disabled account.
    pub fn unlock(&self, caller: &Caller, user: Uuid, now_ms: i64) -> Result<(), AdminError> {
        let policy = &self.policy;
        self.change_user(caller, "user.unlock", user, now_ms, |tx, u| {
            let was = u.account.lock_at(policy, now_ms);
            u.account.unlock_by_admin(now_ms);
            save_account(tx, &caller.org, u)?;
            Ok(Step::Done((), format!("lock {} -> none", lock_name(was))))
        })
    }

    /// Gives a user another role and station list; their sessions end, so
    /// the next request signs in with the new rights.
    pub fn set_role(
        &self,
        caller: &Caller,
        user: Uuid,
        role: Role,
        stations: &[String],
        now_ms: i64,
    ) -> Result<(), AdminError> {
        self.change_user(caller, "user.role", user, now_ms, |tx, u| {
            let change = format!(
                "role {} -> {}, stations [{}] -> [{}]",
                u.role.name(),
                role.name(),
                u.stations.join(","),
                stations.join(",")
            );
            if u.id == caller.user {
                return Ok(Step::Refused(
                    AdminError::forbidden(),
                    format!("own role: {change}"),
                ));
            }
            if !may_grant(caller.role, u.role) || !may_grant(caller.role, role) {
                return Ok(Step::Refused(AdminError::forbidden(), change));
            }
            Self::known_stations(tx, &caller.org, stations)?;
            tx.exec(
                "UPDATE app_user SET role = $1, stations = $2 WHERE org_id = $3 AND id = $4",
                params![role.name(), stations.join(","), caller.org, u.id],
            )?;
            end_sessions(tx, &caller.org, u.id)?;
            Ok(Step::Done((), change))
        })
    }

    /// Switches an account off and ends its sessions; only `enable` lifts it.
    pub fn disable(&self, caller: &Caller, user: Uuid, now_ms: i64) -> Result<(), AdminError> {
        self.change_user(caller, "user.disable", user, now_ms, |tx, u| {
            if u.id == caller.user {
                return Ok(Step::Refused(AdminError::forbidden(), "own account".into()));
            }
            if !may_grant(caller.role, u.role) {
                return Ok(Step::Refused(
                    AdminError::forbidden(),
                    format!("role {}", u.role.name()),
                ));
            }
            u.account.disable();
            save_account(tx, &caller.org, u)?;
            let n = end_sessions(tx, &caller.org, u.id)?;
            Ok(Step::Done((), format!("disabled, {n} sessions ended")))
        })
    }

    /// Switches an account on again; a lock stays until `unlock`.
    pub fn enable(&self, caller: &Caller, user: Uuid, now_ms: i64) -> Result<(), AdminError> {
        self.change_user(caller, "user.enable", user, now_ms, |tx, u| {
            if !may_grant(caller.role, u.role) {
                return Ok(Step::Refused(
                    AdminError::forbidden(),
                    format!("role {}", u.role.name()),
                ));
            }
            u.account.enable(now_ms);
            save_account(tx, &caller.org, u)?;
            Ok(Step::Done((), "enabled".into()))
        })
    }

    /// Sets a new transport password (changed at the next sign-in) and ends
    /// the user's sessions; returns the password, to hand over once. Call
    /// on a blocking worker (Argon2id).
    pub fn reset_password(
        &self,
        caller: &Caller,
        user: Uuid,
        now_ms: i64,
    ) -> Result<Zeroizing<String>, AdminError> {
        const ACTION: &str = "user.password_reset";
        if !manages(caller) {
            return Err(self.refuse(caller, ACTION, &format!("user {user}: role"), now_ms));
        }
        // Hashed before the transaction, which must not wait on Argon2id.
        let target = self.archive.db().read(&Self::scope(caller), |tx| {
            tx.query_opt(
                "SELECT login, given_name, family_name FROM v_app_user
                 WHERE org_id = $1 AND id = $2",
                params![caller.org, user],
            )
        })?;
        let prepared = match &target {
            Some(r) => {
                let (login, given, family) = (r.text(0)?, r.text(1)?, r.text(2)?);
                let ctx = PasswordContext {
                    login: &login,
                    given_name: &given,
                    family_name: &family,
                    organisation: &caller.org,
                    current_hash: None,
                };
                let pw = transport_password(&self.policy, &ctx)?;
                let phc = hash_password(&pw, &self.params).map_err(|e| match e {
                    AuthError::Rng | AuthError::Argon2(_) => AdminError::NoPassword,
                })?;
                Some((pw, phc))
            }
            None => None,
        };
        self.change_user(caller, ACTION, user, now_ms, |tx, u| {
            let Some((pw, phc)) = &prepared else {
                // Created after the first look: not the user we prepared for.
                return Ok(Step::Refused(AdminError::UserNotFound, "changed".into()));
            };
            if !may_grant(caller.role, u.role) {
                return Ok(Step::Refused(
                    AdminError::forbidden(),
                    format!("role {}", u.role.name()),
                ));
            }
            u.account.transport_password_set(now_ms);
            let account =
                serde_json::to_string(&u.account).map_err(|e| DbError::Invalid(e.to_string()))?;
            tx.exec(
                "UPDATE app_user SET phc = $1, account = $2 WHERE org_id = $3 AND id = $4",
                params![phc, account, caller.org, u.id],
            )?;
            let n = end_sessions(tx, &caller.org, u.id)?;
            Ok(Step::Done(
                pw.clone(),
                format!("transport password set, {n} sessions ended"),
            ))
        })
    }

    /// The organisation's stations, by id.
    pub fn stations(&self, caller: &Caller, now_ms: i64) -> Result<Vec<StationRow>, AdminError> {
        // Taken like every other method's; a list has no clock.
        let _ = now_ms;
        if !manages(caller) {
            return Err(AdminError::forbidden());
        }
        let rows = self.archive.db().read(&Self::scope(caller), |tx| {
            tx.query(
                "SELECT id, name FROM v_station WHERE org_id = $1 ORDER BY id",
                params![caller.org],
            )
        })?;
        rows.iter()
            .map(|r| {
                Ok(StationRow {
                    id: r.text(0)?,
                    name: r.text(1)?,
                })
            })
            .collect::<Result<_, DbError>>()
            .map_err(AdminError::from)
    }

    pub fn create_station(
        &self,
        caller: &Caller,
        id: &str,
        name: &str,
        now_ms: i64,
    ) -> Result<(), AdminError> {
        const ACTION: &str = "station.create";
        if !manages(caller) {
            return Err(self.refuse(caller, ACTION, &format!("station {id:?}"), now_ms));
        }
        check_station_id(id)?;
        let name = check_text(Field::StationName, name)?;
        self.archive.ensure_org(&caller.org, &caller.org, "")?;
        self.archive.db().tx(&Self::scope(caller), |tx| {
            let n = tx.exec(
                "INSERT INTO station (org_id, id, name) VALUES ($1, $2, $3)
                 ON CONFLICT (org_id, id) DO NOTHING",
                params![caller.org, id, name],
            )?;
            if n == 0 {
                return Err(AdminError::StationExists);
            }
            let detail = format!("station {id}: {name:?}");
            Self::audit(tx, caller, ACTION, "ok", &detail, now_ms)?;
            Ok(())
        })
    }

    pub fn rename_station(
        &self,
        caller: &Caller,
        id: &str,
        name: &str,
        now_ms: i64,
    ) -> Result<(), AdminError> {
        const ACTION: &str = "station.rename";
        if !manages(caller) {
            return Err(self.refuse(caller, ACTION, &format!("station {id:?}"), now_ms));
        }
        check_station_id(id)?;
        let name = check_text(Field::StationName, name)?;
        let found = self.archive.db().tx(&Self::scope(caller), |tx| {
            let lock = match tx.dialect() {
                Dialect::Postgres => " FOR UPDATE",
                Dialect::Sqlite => "",
            };
            let old = tx.query_opt(
                &format!("SELECT name FROM v_station WHERE org_id = $1 AND id = $2{lock}"),
                params![caller.org, id],
            )?;
            let Some(old) = old else {
                let detail = format!("station {id}");
                Self::audit(tx, caller, ACTION, "not_found", &detail, now_ms)?;
                return Ok(false);
            };
            let old = old.text(0)?;
            tx.exec(
                "UPDATE station SET name = $1 WHERE org_id = $2 AND id = $3",
                params![name, caller.org, id],
            )?;
            let detail = format!("station {id}: {old:?} -> {name:?}");
            Self::audit(tx, caller, ACTION, "ok", &detail, now_ms)?;
            Ok::<_, AdminError>(true)
        })?;
        if found {
            Ok(())
        } else {
            Err(AdminError::StationNotFound)
        }
    }
}
