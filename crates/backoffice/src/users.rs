//! Back-office users, sign-in and sessions, in the archive's database (one
//! code path, scoped by organisation like every tenant table). The rules
//! (password policy, lock, throttle, hashing) are `auth`; this module stores
//! their state, issues sessions and writes every sign-in and every change of
//! a user to the audit trail, never a password.

use rettpad_crypto::{SecretKey, sha256};
use uuid::Uuid;

use crate::access::{Audit, Caller, Role, append};
use crate::archive::Archive;
use crate::auth::{
    Account, HashParams, Outcome, PasswordContext, PasswordPolicy, Violation, hash_password,
    verify_password,
};
use crate::db::{DbError, Dialect, Row, Scope, check_org_id};
use crate::params;

/// A session ends after 15 idle minutes or 12 hours (docs/backoffice.md §2).
pub const SESSION_IDLE_MS: i64 = 15 * 60_000;
pub const SESSION_MAX_MS: i64 = 12 * 3_600_000;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// Unknown login or wrong password: one answer for both.
    #[error("login or password wrong")]
    BadCredentials,
    #[error("sign-in refused: {0:?}")]
    Refused(Outcome),
    #[error("the new password breaks the rules")]
    Policy(Vec<Violation>),
    #[error("not permitted for this role")]
    Forbidden,
    #[error("login exists")]
    Exists,
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl crate::db::TxError for UserError {
    fn db(&self) -> Option<&DbError> {
        match self {
            UserError::Db(d) => Some(d),
            _ => None,
        }
    }
}

/// A user as an administrator creates it.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub login: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub role: Role,
    pub stations: &'a [String],
    pub district: &'a [String],
    pub staff_id: Option<&'a str>,
}

/// A successful sign-in: the cookie value and what the session may do.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// `org:token`; only its hash is stored.
    pub cookie: String,
    pub csrf: String,
    pub caller: Caller,
    /// Transport or expired password: only the password change is open.
    pub must_change: bool,
}

fn random_hex() -> Result<String, UserError> {
    SecretKey::generate()
        .map(|k| hex::encode(k.expose()))
        .map_err(|e| UserError::Invalid(e.to_string()))
}

fn csv(v: &[String]) -> String {
    v.join(",")
}

fn split_csv(s: &str) -> Vec<String> {
    s.split(',')
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

const USER_COLS: &str =
    "id, login, given_name, family_name, role, stations, district, staff_id, phc, account";

struct UserRow {
    id: Uuid,
    login: String,
    given_name: String,
    family_name: String,
    role: Role,
    stations: Vec<String>,
    district: Vec<String>,
    staff_id: Option<String>,
    phc: String,
    account: Account,
}

fn user_row(r: &Row) -> Result<UserRow, DbError> {
    let bad = |w: &str| DbError::Invalid(format!("stored user: {w}"));
    Ok(UserRow {
        id: Uuid::parse_str(&r.text(0)?).map_err(|_| bad("id"))?,
        login: r.text(1)?,
        given_name: r.text(2)?,
        family_name: r.text(3)?,
        role: Role::parse(&r.text(4)?).ok_or_else(|| bad("role"))?,
        stations: split_csv(&r.text(5)?),
        district: split_csv(&r.text(6)?),
        staff_id: r.opt_text(7)?,
        phc: r.text(8)?,
        account: serde_json::from_str(&r.text(9)?).map_err(|_| bad("account"))?,
    })
}

fn caller_of(org: &str, u: &UserRow, session: &str) -> Caller {
    Caller {
        user: u.id,
        login: u.login.clone(),
        role: u.role,
        org: org.to_string(),
        district: u.district.clone(),
        stations: u.stations.clone(),
        staff_id: u.staff_id.clone(),
        session: session.to_string(),
    }
}

/// The system itself as an audit actor (set-up, first administrator).
pub fn system_caller(org: &str) -> Caller {
    Caller {
        user: Uuid::nil(),
        login: "system".into(),
        role: Role::Admin,
        org: org.into(),
        district: Vec::new(),
        stations: Vec::new(),
        staff_id: None,
        session: "-".into(),
    }
}

pub struct Users<'a> {
    archive: &'a Archive,
    policy: PasswordPolicy,
    params: HashParams,
    /// A hash of a random string with the current parameters, verified
    /// against for unknown logins so they cost what known ones cost.
    dummy: String,
}

impl<'a> Users<'a> {
    pub fn new(archive: &'a Archive, policy: PasswordPolicy, params: HashParams) -> Users<'a> {
        let dummy = random_hex()
            .ok()
            .and_then(|r| hash_password(&r, &params).ok())
            .unwrap_or_default();
        Users {
            archive,
            policy,
            params,
            dummy,
        }
    }

    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    /// Creates a user with a transport password (changed at first sign-in).
    /// Administrators and heads of service manage their own organisation's
    /// users only; the system caller creates the first administrator.
    pub fn create(
        &self,
        by: &Caller,
        u: &NewUser<'_>,
        transport_password: &str,
        now_ms: i64,
    ) -> Result<Uuid, UserError> {
        if !matches!(by.role, Role::Admin | Role::HeadOfService) {
            return Err(UserError::Forbidden);
        }
        check_org_id(&by.org)?;
        let login = u.login.trim();
        if login.is_empty()
            || login.len() > 64
            || !login
                .chars()
                .all(|c| c.is_alphanumeric() || "._-".contains(c))
        {
            return Err(UserError::Invalid(
                "login: 1-64 letters, digits, '.', '_' or '-'".into(),
            ));
        }
        let ctx = PasswordContext {
            login,
            given_name: u.given_name,
            family_name: u.family_name,
            organisation: &by.org,
            current_hash: None,
        };
        self.policy
            .check_new(transport_password, &ctx)
            .map_err(UserError::Policy)?;
        let phc = hash_password(transport_password, &self.params)
            .map_err(|e| UserError::Invalid(e.to_string()))?;
        let account = serde_json::to_string(&Account::new(now_ms))
            .map_err(|e| UserError::Invalid(e.to_string()))?;
        let id = Uuid::now_v7();
        self.archive
            .ensure_org(&by.org, &by.org, "")
            .map_err(|e| UserError::Invalid(e.to_string()))?;
        self.archive.db().tx(&Scope::org(&by.org), |tx| {
            let n = tx.exec(
                "INSERT INTO app_user (org_id, id, login, given_name, family_name, role, stations,
                     district, staff_id, phc, account, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT (org_id, login) DO NOTHING",
                params![
                    by.org,
                    id,
                    login,
                    u.given_name,
                    u.family_name,
                    u.role.name(),
                    csv(u.stations),
                    csv(u.district),
                    u.staff_id,
                    phc,
                    account,
                    now_ms
                ],
            )?;
            if n == 0 {
                return Err(UserError::Exists);
            }
            let what = format!("user_created:{login}:{}", u.role.name());
            append(tx, &by.org, by, &Audit::event(&what, "ok"), now_ms)?;
            Ok(())
        })?;
        Ok(id)
    }

    fn load(&self, org: &str, login: &str) -> Result<Option<UserRow>, UserError> {
        let row = self.archive.db().read(&Scope::org(org), |tx| {
            tx.query_opt(
                &format!("SELECT {USER_COLS} FROM v_app_user WHERE org_id = $1 AND login = $2"),
                params![org, login],
            )
        })?;
        Ok(row.as_ref().map(user_row).transpose()?)
    }

    /// Checks a sign-in. Every attempt is written to the audit trail and
    /// the log with its outcome, never with the password. Call on a
    /// blocking worker (Argon2id).
    pub fn sign_in(
        &self,
        org: &str,
        login: &str,
        password: &str,
        now_ms: i64,
    ) -> Result<SignedIn, UserError> {
        if check_org_id(org).is_err() {
            return Err(UserError::BadCredentials);
        }
        let Some(mut u) = self.load(org, login)? else {
            // Same work as for a known user: no timing oracle for logins.
            let _ = verify_password(password, &self.dummy);
            tracing::warn!(org, "sign-in with an unknown login");
            return Err(UserError::BadCredentials);
        };
        let phc_read = u.phc.clone();
        // The hash costs a tenth of a second: checked outside the
        // transaction, against the row as read before it.
        let ok = u.account.admit(&self.policy, now_ms).is_ok() && verify_password(password, &u.phc);
        let session = random_hex()?;
        let csrf = random_hex()?;
        // The caller carries the session's id (the token's hash), never
        // the token: it lands in the audit trail and the grants.
        let session_id = hex::encode(sha256(session.as_bytes()));
        let (outcome, label) = self.archive.db().tx(&Scope::org(org), |tx| {
            // Decided on the row as it is now, locked: a disable, unlock or
            // password reset that came meanwhile is not written over.
            let lock = match tx.dialect() {
                Dialect::Postgres => " FOR UPDATE",
                Dialect::Sqlite => "",
            };
            let cur = tx
                .query_opt(
                    &format!(
                        "SELECT {USER_COLS} FROM v_app_user WHERE org_id = $1 AND id = $2{lock}"
                    ),
                    params![org, u.id],
                )?
                .as_ref()
                .map(user_row)
                .transpose()?;
            let Some(cur) = cur else {
                return Ok((Outcome::Wrong { locked_now: false }, "no_such_user"));
            };
            u = cur;
            let outcome = match u.account.admit(&self.policy, now_ms) {
                Err(refused) => {
                    // Stores an inactivity lock found now.
                    u.account.attempt(&self.policy, now_ms, false);
                    refused
                }
                // A password changed meanwhile: the checked hash is stale.
                Ok(()) => u
                    .account
                    .attempt(&self.policy, now_ms, ok && u.phc == phc_read),
            };
            let signed_in = matches!(outcome, Outcome::Ok | Outcome::OkMustChange(_));
            let caller = caller_of(org, &u, if signed_in { &session_id } else { "-" });
            let account =
                serde_json::to_string(&u.account).map_err(|e| DbError::Invalid(e.to_string()))?;
            let label = outcome_label(&outcome);
            tx.exec(
                "UPDATE app_user SET account = $1 WHERE org_id = $2 AND id = $3",
                params![account, org, u.id],
            )?;
            if signed_in {
                tx.exec(
                    "INSERT INTO web_session (org_id, id, user_id, csrf, created_ms, seen_ms)
                     VALUES ($1, $2, $3, $4, $5, $5)",
                    params![org, session_id, u.id, csrf, now_ms],
                )?;
            }
            append(tx, org, &caller, &Audit::event("sign_in", label), now_ms)?;
            Ok::<_, DbError>((outcome, label))
        })?;
        let caller = caller_of(org, &u, &session_id);
        tracing::info!(org, login = %u.login, outcome = label, "back-office sign-in");
        match outcome {
            Outcome::Ok | Outcome::OkMustChange(_) => Ok(SignedIn {
                cookie: format!("{org}:{session}"),
                csrf,
                caller,
                must_change: matches!(outcome, Outcome::OkMustChange(_)),
            }),
            Outcome::Wrong { locked_now: false } => Err(UserError::BadCredentials),
            other => Err(UserError::Refused(other)),
        }
    }

    /// The session behind a cookie, if it is alive: `(caller, csrf token,
    /// must change password)`. Touches its idle clock.
    pub fn session(
        &self,
        cookie: &str,
        now_ms: i64,
    ) -> Result<Option<(Caller, String, bool)>, UserError> {
        let Some((org, token)) = cookie.split_once(':') else {
            return Ok(None);
        };
        if check_org_id(org).is_err() || token.len() != 64 {
            return Ok(None);
        }
        let key = hex::encode(sha256(token.as_bytes()));
        let scope = Scope::org(org);
        let found = self.archive.db().tx(&scope, |tx| {
            let Some(r) = tx.query_opt(
                "SELECT user_id, csrf, created_ms, seen_ms FROM v_web_session WHERE org_id = $1 AND id = $2",
                params![org, key],
            )?
            else {
                return Ok(None);
            };
            let (created, seen) = (r.int(2)?, r.int(3)?);
            if now_ms - seen >= SESSION_IDLE_MS || now_ms - created >= SESSION_MAX_MS {
                tx.exec(
                    "DELETE FROM web_session WHERE org_id = $1 AND id = $2",
                    params![org, key],
                )?;
                return Ok(None);
            }
            tx.exec(
                "UPDATE web_session SET seen_ms = $1 WHERE org_id = $2 AND id = $3",
                params![now_ms, org, key],
            )?;
            let user = tx.query_opt(
                &format!("SELECT {USER_COLS} FROM v_app_user WHERE org_id = $1 AND id = $2"),
                params![org, r.text(0)?],
            )?;
            Ok::<_, DbError>(user.map(|u| (u, r.text(1).unwrap_or_default())))
        })?;
        let Some((u, csrf)) = found else {
            return Ok(None);
        };
        let u = user_row(&u)?;
        if u.account.locked.is_some() {
            return Ok(None);
        }
        let must_change = u.account.must_change
            || (self.policy.max_age_days > 0
                && now_ms - u.account.password_set_ms
                    >= i64::from(self.policy.max_age_days) * 86_400_000);
        Ok(Some((caller_of(org, &u, &key), csrf, must_change)))
    }

    pub fn sign_out(&self, caller: &Caller, now_ms: i64) -> Result<(), UserError> {
        let key = &caller.session;
        self.archive.db().tx(&Scope::org(&caller.org), |tx| {
            tx.exec(
                "DELETE FROM web_session WHERE org_id = $1 AND id = $2",
                params![caller.org, key],
            )?;
            append(
                tx,
                &caller.org,
                caller,
                &Audit::event("sign_out", "ok"),
                now_ms,
            )?;
            Ok::<_, DbError>(())
        })?;
        Ok(())
    }

    /// The signed-in user changes their password (the old one is checked
    /// again). Call on a blocking worker.
    pub fn change_password(
        &self,
        caller: &Caller,
        old: &str,
        new: &str,
        now_ms: i64,
    ) -> Result<(), UserError> {
        let mut u = self
            .load(&caller.org, &caller.login)?
            .ok_or(UserError::BadCredentials)?;
        if u.id != caller.user || !verify_password(old, &u.phc) {
            return Err(UserError::BadCredentials);
        }
        let ctx = PasswordContext {
            login: &u.login,
            given_name: &u.given_name,
            family_name: &u.family_name,
            organisation: &caller.org,
            current_hash: Some(&u.phc),
        };
        self.policy
            .check_new(new, &ctx)
            .map_err(UserError::Policy)?;
        let phc =
            hash_password(new, &self.params).map_err(|e| UserError::Invalid(e.to_string()))?;
        u.account.password_changed(now_ms);
        let account =
            serde_json::to_string(&u.account).map_err(|e| UserError::Invalid(e.to_string()))?;
        self.archive.db().tx(&Scope::org(&caller.org), |tx| {
            tx.exec(
                "UPDATE app_user SET phc = $1, account = $2 WHERE org_id = $3 AND id = $4",
                params![phc, account, caller.org, u.id],
            )?;
            append(
                tx,
                &caller.org,
                caller,
                &Audit::event("password_changed", "ok"),
                now_ms,
            )?;
            Ok::<_, DbError>(())
        })?;
        Ok(())
    }
}

fn outcome_label(o: &Outcome) -> &'static str {
    match o {
        Outcome::Ok => "ok",
        Outcome::OkMustChange(_) => "ok_must_change",
        Outcome::Wrong { locked_now: true } => "wrong_now_locked",
        Outcome::Wrong { locked_now: false } => "wrong",
        Outcome::Locked(_) => "locked",
        Outcome::Throttled { .. } => "throttled",
        Outcome::Inactive => "inactive_locked",
    }
}
