//! Sign-in rules for back-office users: the password policy, Argon2id hashing
//! and the sign-in state machine. Sans-IO: the caller passes the time in ms,
//! stores [`Account`] in the user's row and runs the hash functions on a
//! blocking worker.
//!
//! Two profiles (shared/docs/backoffice.md §2): [`PasswordPolicy::seed`], the
//! default, follows the seed system (S002 §2.6); [`PasswordPolicy::nist`]
//! follows NIST SP 800-63B-4: long passwords, no composition rules, no expiry,
//! throttling instead of a hard lock (which anyone could trigger against the
//! ÄLRD).
//!
//! Lengths count Unicode scalar values (`chars()`); there is no NFKC step,
//! which would need a new dependency. So a composed and a decomposed "ü" are
//! different passwords: the web client sends what the browser produced.
//!
//! Caller flow for one sign-in:
//! `let ok = acct.admit(&p, now).is_ok() && verify_password(pw, &phc);`
//! `let outcome = acct.attempt(&p, now, ok);` then store `acct`. `admit`
//! first, so no hashing time is spent on a locked or throttled account.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

const DAY_MS: i64 = 86_400_000;
/// Upper bound of `max_len` in every profile (NIST: accept at least 64).
pub const MAX_LEN: usize = 128;
/// Context words shorter than this only count when they are the whole password.
const MIN_WORD: usize = 4;

/// Most common passwords (German and English top lists) plus words anyone
/// guesses for a rescue service, folded (lower case, umlauts spelt out).
const COMMON: &str = "
    123456 1234567 12345678 123456789 1234567890 12345 111111 000000 123123 654321 666666
    121212 112233 987654321 password passwort passw0rd p@ssw0rd p@ssword kennwort geheim qwerty
    qwertz qwertzu qwertzuiop qwertyuiop asdfgh asdfghjkl yxcvbnm abc123 abcdef abcdefg letmein
    welcome willkommen hallo hallo123 hallihallo iloveyou ichliebedich schatz schatzi admin
    administrator root login changeme default test test123 sommer winter fruehling herbst dragon
    monkey football fussball master sunshine princess shadow superman batman trustno1 starwars
    pokemon schalke04 bvb09 fcbayern hansa snoopy rettung rettungsdienst rettungswache notarzt
    notfall notfallsanitaeter sanitaeter feuerwehr leitstelle einsatz blaulicht martinshorn";

/// A named preset; the TOML table names one and may override its fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// S002 §2.6; `"s002"` as in the research doc is accepted too.
    #[default]
    #[serde(alias = "s002")]
    Seed,
    Nist,
}

/// The rules for new passwords and for sign-in. Deserialises from a
/// `[backoffice.password]` table: `profile` picks the preset (default seed),
/// any other key overrides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "PolicyTable")]
pub struct PasswordPolicy {
    /// Minimum length in chars.
    pub min_len: usize,
    /// Maximum length in chars, at most [`MAX_LEN`].
    pub max_len: usize,
    pub require_upper: bool,
    pub require_lower: bool,
    /// Anything that is neither letter nor digit counts, the space included.
    pub require_special: bool,
    /// Longest allowed run of one character; 1 forbids "aa", 0 = no limit.
    pub max_run: usize,
    /// Local words to refuse besides the built-in list (substrings ≥ 4 chars).
    pub extra_blocked: Vec<String>,
    /// Days after which the password must be changed; 0 = never.
    pub max_age_days: u32,
    /// Failures in a row that lock the account; 0 = never lock.
    pub lock_after_failures: u32,
    /// Failures in a row that cost no delay.
    pub throttle_free_failures: u32,
    /// Delay after the first further failure, doubled for each next one; 0 = off.
    pub throttle_base_ms: u64,
    pub throttle_max_ms: u64,
    /// Days without sign-in that lock the account; 0 = never.
    pub inactive_lock_days: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self::seed()
    }
}

impl PasswordPolicy {
    /// S002 §2.6: more than 8 chars, upper, lower, special, no "aa", expiry
    /// after 90 days, lock at the 5th failure, lock after 180 days inactive.
    pub fn seed() -> Self {
        Self {
            min_len: 9,
            max_len: MAX_LEN,
            require_upper: true,
            require_lower: true,
            require_special: true,
            max_run: 1,
            extra_blocked: Vec::new(),
            max_age_days: 90,
            lock_after_failures: 5,
            throttle_free_failures: 0,
            throttle_base_ms: 0,
            throttle_max_ms: 0,
            inactive_lock_days: 180,
        }
    }

    /// NIST SP 800-63B-4 for a password used alone: ≥ 15 chars, blocklist
    /// only, no expiry; failures cost a growing delay (none for the first 3,
    /// then 1 s doubling to 15 min, ≤ 100 guesses a day) instead of a lock.
    pub fn nist() -> Self {
        Self {
            min_len: 15,
            require_upper: false,
            require_lower: false,
            require_special: false,
            max_run: 0,
            max_age_days: 0,
            lock_after_failures: 0,
            throttle_free_failures: 3,
            throttle_base_ms: 1_000,
            throttle_max_ms: 15 * 60 * 1_000,
            ..Self::seed()
        }
    }

    /// Refuses settings that no password or no schedule could satisfy.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_len == 0 || self.min_len > self.max_len || self.max_len > MAX_LEN {
            return Err(format!(
                "password length: need 1 <= min_len ({}) <= max_len ({}) <= {MAX_LEN}",
                self.min_len, self.max_len
            ));
        }
        if self.throttle_base_ms > self.throttle_max_ms {
            return Err("password throttle: throttle_base_ms > throttle_max_ms".to_owned());
        }
        Ok(())
    }

    /// Checks a new password and lists every rule it breaks. With
    /// `ctx.current_hash` set this runs one Argon2 verification, so call it
    /// on a blocking worker. A password over `max_len` is refused with that
    /// reason alone, which bounds the work.
    pub fn check_new(
        &self,
        password: &str,
        ctx: &PasswordContext<'_>,
    ) -> Result<(), Vec<Violation>> {
        let len = password.chars().count();
        if len > self.max_len {
            return Err(vec![Violation::TooLong { max: self.max_len }]);
        }
        let mut out = Vec::new();
        if len < self.min_len {
            out.push(Violation::TooShort { min: self.min_len });
        }
        if self.require_upper && !password.chars().any(char::is_uppercase) {
            out.push(Violation::NoUppercase);
        }
        if self.require_lower && !password.chars().any(char::is_lowercase) {
            out.push(Violation::NoLowercase);
        }
        if self.require_special && password.chars().all(char::is_alphanumeric) {
            out.push(Violation::NoSpecial);
        }
        if self.max_run > 0 && longest_run(password) > self.max_run {
            out.push(Violation::RepeatedCharacter {
                max_run: self.max_run,
            });
        }
        let folded = fold(password);
        if is_common(&folded) || self.extra_blocked.iter().any(|w| contains_word(&folded, w)) {
            out.push(Violation::Blocklisted);
        }
        for (field, text) in ctx.fields() {
            if contains_word(&folded, text) {
                out.push(Violation::ContainsUserData(field));
            }
        }
        if ctx
            .current_hash
            .is_some_and(|phc| verify_password(password, phc))
        {
            out.push(Violation::SameAsCurrent);
        }
        if out.is_empty() { Ok(()) } else { Err(out) }
    }

    /// The delay imposed after the `failures`-th failure in a row.
    pub fn throttle_delay_ms(&self, failures: u32) -> u64 {
        if self.throttle_base_ms == 0 || failures <= self.throttle_free_failures {
            return 0;
        }
        let doublings = (failures - self.throttle_free_failures - 1).min(63);
        1u64.checked_shl(doublings)
            .and_then(|f| self.throttle_base_ms.checked_mul(f))
            .unwrap_or(u64::MAX)
            .min(self.throttle_max_ms)
    }
}

/// The TOML form: a preset plus optional overrides. Unknown keys are errors,
/// so a typo does not silently keep the default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyTable {
    #[serde(default)]
    profile: Profile,
    min_len: Option<usize>,
    max_len: Option<usize>,
    require_upper: Option<bool>,
    require_lower: Option<bool>,
    require_special: Option<bool>,
    max_run: Option<usize>,
    extra_blocked: Option<Vec<String>>,
    max_age_days: Option<u32>,
    lock_after_failures: Option<u32>,
    throttle_free_failures: Option<u32>,
    throttle_base_ms: Option<u64>,
    throttle_max_ms: Option<u64>,
    inactive_lock_days: Option<u32>,
}

impl TryFrom<PolicyTable> for PasswordPolicy {
    type Error = String;

    fn try_from(t: PolicyTable) -> Result<Self, String> {
        fn set<T>(dst: &mut T, v: Option<T>) {
            if let Some(v) = v {
                *dst = v;
            }
        }
        let mut p = match t.profile {
            Profile::Seed => Self::seed(),
            Profile::Nist => Self::nist(),
        };
        set(&mut p.min_len, t.min_len);
        set(&mut p.max_len, t.max_len);
        set(&mut p.require_upper, t.require_upper);
        set(&mut p.require_lower, t.require_lower);
        set(&mut p.require_special, t.require_special);
        set(&mut p.max_run, t.max_run);
        set(&mut p.extra_blocked, t.extra_blocked);
        set(&mut p.max_age_days, t.max_age_days);
        set(&mut p.lock_after_failures, t.lock_after_failures);
        set(&mut p.throttle_free_failures, t.throttle_free_failures);
        set(&mut p.throttle_base_ms, t.throttle_base_ms);
        set(&mut p.throttle_max_ms, t.throttle_max_ms);
        set(&mut p.inactive_lock_days, t.inactive_lock_days);
        p.validate()?;
        Ok(p)
    }
}

/// Who sets the password: their words must not be in it.
#[derive(Clone, Copy, Default)]
pub struct PasswordContext<'a> {
    pub login: &'a str,
    pub given_name: &'a str,
    pub family_name: &'a str,
    pub organisation: &'a str,
    /// PHC string of the current password, so it cannot be set again.
    pub current_hash: Option<&'a str>,
}

impl PasswordContext<'_> {
    fn fields(&self) -> [(UserField, &str); 4] {
        [
            (UserField::Login, self.login),
            (UserField::GivenName, self.given_name),
            (UserField::FamilyName, self.family_name),
            (UserField::Organisation, self.organisation),
        ]
    }
}

// By hand: the hash is offline-guessable material and stays out of logs.
impl std::fmt::Debug for PasswordContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordContext")
            .field("login", &self.login)
            .field("given_name", &self.given_name)
            .field("family_name", &self.family_name)
            .field("organisation", &self.organisation)
            .field("current_hash", &self.current_hash.map(|_| "[REDACTED]"))
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UserField {
    Login,
    GivenName,
    FamilyName,
    Organisation,
}

/// A broken rule. Carries limits only, never a part of the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Violation {
    TooShort { min: usize },
    TooLong { max: usize },
    NoUppercase,
    NoLowercase,
    NoSpecial,
    RepeatedCharacter { max_run: usize },
    Blocklisted,
    ContainsUserData(UserField),
    SameAsCurrent,
}

impl Violation {
    /// German UI text.
    pub fn de(&self) -> String {
        match *self {
            Self::TooShort { min } => format!("Mindestens {min} Zeichen"),
            Self::TooLong { max } => format!("Höchstens {max} Zeichen"),
            Self::NoUppercase => "Mindestens ein Großbuchstabe".to_owned(),
            Self::NoLowercase => "Mindestens ein Kleinbuchstabe".to_owned(),
            Self::NoSpecial => "Mindestens ein Sonderzeichen".to_owned(),
            Self::RepeatedCharacter { max_run: 1 } => {
                "Keine gleichen Zeichen direkt hintereinander".to_owned()
            }
            Self::RepeatedCharacter { max_run } => {
                format!("Höchstens {max_run} gleiche Zeichen direkt hintereinander")
            }
            Self::Blocklisted => "Zu häufig verwendet oder zu leicht zu erraten".to_owned(),
            Self::ContainsUserData(f) => format!(
                "Darf {} nicht enthalten",
                match f {
                    UserField::Login => "den Anmeldenamen",
                    UserField::GivenName => "den Vornamen",
                    UserField::FamilyName => "den Nachnamen",
                    UserField::Organisation => "den Namen der Organisation",
                }
            ),
            Self::SameAsCurrent => "Muss sich vom bisherigen Passwort unterscheiden".to_owned(),
        }
    }

    /// English UI text.
    pub fn en(&self) -> String {
        match *self {
            Self::TooShort { min } => format!("At least {min} characters"),
            Self::TooLong { max } => format!("At most {max} characters"),
            Self::NoUppercase => "At least one upper-case letter".to_owned(),
            Self::NoLowercase => "At least one lower-case letter".to_owned(),
            Self::NoSpecial => "At least one special character".to_owned(),
            Self::RepeatedCharacter { max_run: 1 } => "No character twice in a row".to_owned(),
            Self::RepeatedCharacter { max_run } => {
                format!("At most {max_run} identical characters in a row")
            }
            Self::Blocklisted => "Too common or too easy to guess".to_owned(),
            Self::ContainsUserData(f) => format!(
                "Must not contain {}",
                match f {
                    UserField::Login => "the login name",
                    UserField::GivenName => "the given name",
                    UserField::FamilyName => "the family name",
                    UserField::Organisation => "the organisation's name",
                }
            ),
            Self::SameAsCurrent => "Must differ from the current password".to_owned(),
        }
    }
}

fn longest_run(s: &str) -> usize {
    let (mut best, mut run, mut prev) = (0, 0, None);
    for c in s.chars() {
        run = if Some(c) == prev { run + 1 } else { 1 };
        best = best.max(run);
        prev = Some(c);
    }
    best
}

/// Lower case with umlauts spelt out, so "Müller" and "MUELLER" match.
/// Sized so it does not reallocate (and leave an unwiped copy) in practice.
fn fold(s: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(s.len() * 2 + 8));
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            c => out.push(c),
        }
    }
    out
}

/// Also catches a listed word with digits or symbols around it ("Qwertz!1").
fn is_common(folded: &str) -> bool {
    let alnum = folded.trim_matches(|c: char| !c.is_alphanumeric());
    let alpha = folded.trim_matches(|c: char| !c.is_alphabetic());
    COMMON
        .split_whitespace()
        .any(|w| [folded, alnum, alpha].contains(&w))
}

/// `text` as a whole or any of its words: equal to the password, or inside
/// it when at least [`MIN_WORD`] chars long.
fn contains_word(folded_pw: &str, text: &str) -> bool {
    let text = fold(text);
    let whole = text.trim();
    std::iter::once(whole)
        .chain(whole.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .any(|w| w == folded_pw || (w.chars().count() >= MIN_WORD && folded_pw.contains(w)))
}

// ---------------------------------------------------------------- hashing

const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;
/// Bounds for a stored hash, so a tampered row cannot make one sign-in
/// allocate gigabytes or run for minutes.
const MAX_M_KIB: u32 = 1024 * 1024;
const MAX_T: u32 = 16;
const MAX_P: u32 = 16;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no randomness for the password salt")]
    Rng,
    #[error("argon2: {0}")]
    Argon2(String),
}

/// Argon2id cost; new hashes use these, older ones are rehashed at sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HashParams {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl HashParams {
    /// backoffice.md §2: m = 64 MiB, t = 3, p = 1, run in `spawn_blocking`.
    pub const fn server() -> Self {
        Self {
            m_kib: 65_536,
            t: 3,
            p: 1,
        }
    }

    /// Cheap parameters for tests only: never for stored passwords.
    pub const fn test() -> Self {
        Self {
            m_kib: 64,
            t: 1,
            p: 1,
        }
    }

    fn argon2(&self) -> Result<Argon2<'static>, AuthError> {
        let params = Params::new(self.m_kib, self.t, self.p, Some(OUTPUT_LEN))
            .map_err(|e| AuthError::Argon2(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// An Argon2id PHC string with a fresh 16-byte random salt.
pub fn hash_password(password: &str, params: &HashParams) -> Result<String, AuthError> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|_| AuthError::Rng)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Argon2(e.to_string()))?;
    let hash = params
        .argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AuthError::Argon2(e.to_string()))?;
    Ok(hash.to_string())
}

/// True only for the right password against a sane Argon2id hash; anything
/// malformed, foreign or oversized is false. The comparison of the outputs
/// is constant-time (in `password-hash`).
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Some(hash) = parse_argon2id(phc) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.m_cost() > MAX_M_KIB || params.t_cost() > MAX_T || params.p_cost() > MAX_P {
        return false;
    }
    // Algorithm, version and parameters come from the PHC string.
    Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok()
}

/// True when `phc` was not made with `params` (or cannot be read), so the
/// caller hashes the password again after a successful sign-in.
pub fn needs_rehash(phc: &str, params: &HashParams) -> bool {
    let Some(hash) = parse_argon2id(phc) else {
        return true;
    };
    if hash.version != Some(u32::from(Version::V0x13)) {
        return true;
    }
    Params::try_from(&hash).map_or(true, |have| {
        have.m_cost() != params.m_kib
            || have.t_cost() != params.t
            || have.p_cost() != params.p
            || have.output_len() != Some(OUTPUT_LEN)
    })
}

fn parse_argon2id(phc: &str) -> Option<PasswordHash<'_>> {
    PasswordHash::new(phc).ok().filter(|h| {
        h.algorithm == Algorithm::Argon2id.ident() && h.salt.is_some() && h.hash.is_some()
    })
}

// ----------------------------------------------------------- sign-in state

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockReason {
    TooManyFailures,
    Inactive,
    Admin,
    /// Switched off by an administrator ([`Account::disabled`]); only
    /// enabling lifts it, never an unlock.
    Disabled,
}

/// Why the user may only change the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeReason {
    /// The initial password handed over by the administration.
    Transport,
    Expired,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// Signed in, but the only thing allowed is changing the password.
    OkMustChange(ChangeReason),
    Wrong {
        locked_now: bool,
    },
    /// Refused whatever the password; only an administrator unlocks.
    Locked(LockReason),
    /// Refused without checking the password; try again after the delay.
    Throttled {
        retry_after_ms: u64,
    },
    /// Just found inactive too long and locked; later attempts get
    /// `Locked(LockReason::Inactive)`.
    Inactive,
}

/// Sign-in state of one user, stored with the user's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub created_ms: i64,
    /// Failed attempts since the last success.
    pub failures: u32,
    pub locked: Option<LockReason>,
    pub last_login_ms: Option<i64>,
    pub password_set_ms: i64,
    /// The current password is a transport password.
    pub must_change: bool,
    pub throttle_until_ms: Option<i64>,
    /// An administrator's unlock (or enable) restarts the inactivity clock.
    pub unlocked_ms: Option<i64>,
    /// Switched off by an administrator (e.g. the person left): refused
    /// whatever the password, independent of any lock. Absent in rows
    /// stored before it existed.
    #[serde(default)]
    pub disabled: bool,
}

impl Account {
    /// A new user whose transport password was set at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        Self {
            created_ms: now_ms,
            failures: 0,
            locked: None,
            last_login_ms: None,
            password_set_ms: now_ms,
            must_change: true,
            throttle_until_ms: None,
            unlocked_ms: None,
            disabled: false,
        }
    }

    /// Whether an attempt may be checked at all. Call before hashing; an
    /// `Err` is the outcome to show.
    pub fn admit(&self, policy: &PasswordPolicy, now_ms: i64) -> Result<(), Outcome> {
        if self.disabled {
            return Err(Outcome::Locked(LockReason::Disabled));
        }
        if let Some(reason) = self.locked {
            return Err(Outcome::Locked(reason));
        }
        if self.inactive(policy, now_ms) {
            return Err(Outcome::Inactive);
        }
        if let Some(until) = self.throttle_until_ms.filter(|&u| u > now_ms) {
            let retry_after_ms = u64::try_from(until.saturating_sub(now_ms)).unwrap_or(0);
            return Err(Outcome::Throttled { retry_after_ms });
        }
        Ok(())
    }

    fn inactive(&self, policy: &PasswordPolicy, now_ms: i64) -> bool {
        if policy.inactive_lock_days == 0 {
            return false;
        }
        let since = self
            .last_login_ms
            .unwrap_or(self.created_ms)
            .max(self.unlocked_ms.unwrap_or(i64::MIN));
        now_ms.saturating_sub(since) >= i64::from(policy.inactive_lock_days) * DAY_MS
    }

    /// The lock in force at `now_ms`: the stored one, or an inactivity lock
    /// the next attempt would store. Ignores [`Self::disabled`].
    pub fn lock_at(&self, policy: &PasswordPolicy, now_ms: i64) -> Option<LockReason> {
        self.locked.or_else(|| {
            self.inactive(policy, now_ms)
                .then_some(LockReason::Inactive)
        })
    }

    /// Records one attempt. `password_ok` is ignored when [`Self::admit`]
    /// refuses, so a throttled or locked attempt changes nothing (apart from
    /// storing an inactivity lock).
    pub fn attempt(&mut self, policy: &PasswordPolicy, now_ms: i64, password_ok: bool) -> Outcome {
        match self.admit(policy, now_ms) {
            Err(Outcome::Inactive) => {
                self.locked = Some(LockReason::Inactive);
                return Outcome::Inactive;
            }
            Err(refused) => return refused,
            Ok(()) => {}
        }
        if password_ok {
            self.failures = 0;
            self.throttle_until_ms = None;
            self.last_login_ms = Some(now_ms);
            let max_age = i64::from(policy.max_age_days) * DAY_MS;
            return if self.must_change {
                Outcome::OkMustChange(ChangeReason::Transport)
            } else if max_age > 0 && now_ms.saturating_sub(self.password_set_ms) >= max_age {
                Outcome::OkMustChange(ChangeReason::Expired)
            } else {
                Outcome::Ok
            };
        }
        self.failures = self.failures.saturating_add(1);
        if policy.lock_after_failures > 0 && self.failures >= policy.lock_after_failures {
            self.locked = Some(LockReason::TooManyFailures);
            return Outcome::Wrong { locked_now: true };
        }
        let delay = policy.throttle_delay_ms(self.failures);
        if delay > 0 {
            let delay = i64::try_from(delay).unwrap_or(i64::MAX);
            self.throttle_until_ms = Some(now_ms.saturating_add(delay));
        }
        Outcome::Wrong { locked_now: false }
    }

    /// The user set a new password (after `check_new`).
    pub fn password_changed(&mut self, now_ms: i64) {
        self.password_set_ms = now_ms;
        self.must_change = false;
    }

    /// An administrator handed out a new transport password.
    pub fn transport_password_set(&mut self, now_ms: i64) {
        self.password_set_ms = now_ms;
        self.must_change = true;
    }

    pub fn lock_by_admin(&mut self) {
        self.locked = Some(LockReason::Admin);
    }

    /// Lifts any lock and the throttle. Takes the time because an account
    /// locked for inactivity would otherwise lock again at once.
    pub fn unlock_by_admin(&mut self, now_ms: i64) {
        self.locked = None;
        self.failures = 0;
        self.throttle_until_ms = None;
        self.unlocked_ms = Some(now_ms);
    }

    pub fn disable(&mut self) {
        self.disabled = true;
    }

    /// Leaves any lock in place; restarts the inactivity clock, or the time
    /// spent disabled would lock the account at the next attempt.
    pub fn enable(&mut self, now_ms: i64) {
        self.disabled = false;
        self.unlocked_ms = Some(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_780_000_000_000;

    fn ctx() -> PasswordContext<'static> {
        PasswordContext {
            login: "mwu4712",
            given_name: "Maria",
            family_name: "Schäfer",
            organisation: "DRK Kreisverband Musterstadt",
            current_hash: None,
        }
    }

    fn check(p: &PasswordPolicy, pw: &str) -> Vec<Violation> {
        p.check_new(pw, &ctx()).err().unwrap_or_default()
    }

    #[test]
    fn seed_rules_each_fail_alone_and_a_compliant_password_passes() {
        let seed = PasswordPolicy::seed();
        assert_eq!(PasswordPolicy::default(), seed);
        assert_eq!(seed.check_new("Notarzt!2026x", &ctx()), Ok(()));
        assert_eq!(
            seed.check_new("Not!2026x", &ctx()),
            Ok(()),
            "9 chars are enough"
        );
        let cases = [
            ("No!2026x", Violation::TooShort { min: 9 }),
            ("notarzt!2026x", Violation::NoUppercase),
            ("NOTARZT!2026X", Violation::NoLowercase),
            ("Notarzt2026x", Violation::NoSpecial),
            // Looks strong, but "tt" breaks the no-repeat rule.
            ("Rettung!2026x", Violation::RepeatedCharacter { max_run: 1 }),
        ];
        for (pw, want) in cases {
            assert_eq!(check(&seed, pw), vec![want], "{pw}");
        }
        assert_eq!(Violation::TooShort { min: 9 }.de(), "Mindestens 9 Zeichen");
        assert_eq!(Violation::TooShort { min: 9 }.en(), "At least 9 characters");
    }

    #[test]
    fn passwort_fails_for_every_reason_at_once() {
        assert_eq!(
            check(&PasswordPolicy::seed(), "Passwort"),
            vec![
                Violation::TooShort { min: 9 },
                Violation::NoSpecial,
                Violation::RepeatedCharacter { max_run: 1 },
                Violation::Blocklisted,
            ]
        );
    }

    #[test]
    fn repeated_characters() {
        let seed = PasswordPolicy::seed();
        assert_eq!(
            check(&seed, "Notaarzt!26x"),
            vec![Violation::RepeatedCharacter { max_run: 1 }]
        );
        assert_eq!(
            check(&seed, "Notarzt!26xaa"),
            vec![Violation::RepeatedCharacter { max_run: 1 }]
        );
        let two = PasswordPolicy {
            max_run: 2,
            ..PasswordPolicy::seed()
        };
        assert_eq!(two.check_new("Notaarzt!26x", &ctx()), Ok(()));
        assert_eq!(
            check(&two, "Notaaarzt!26x"),
            vec![Violation::RepeatedCharacter { max_run: 2 }]
        );
        assert_eq!(
            PasswordPolicy::nist().check_new("tannenzapfenbus", &ctx()),
            Ok(())
        );
    }

    #[test]
    fn common_passwords_are_blocked_in_both_profiles() {
        let (seed, nist) = (PasswordPolicy::seed(), PasswordPolicy::nist());
        assert_eq!(check(&seed, "Qwertz!2026"), vec![Violation::Blocklisted]);
        assert_eq!(check(&seed, "Letmein!2026"), vec![Violation::Blocklisted]);
        assert_eq!(
            check(&nist, "Rettungsdienst2026!"),
            vec![Violation::Blocklisted]
        );
        assert_eq!(
            check(&nist, "PASSWORT"),
            vec![Violation::TooShort { min: 15 }, Violation::Blocklisted]
        );
        assert_eq!(check(&nist, "123456789012345"), vec![]);
        assert!(check(&nist, "123456789").contains(&Violation::Blocklisted));
        let local = PasswordPolicy {
            extra_blocked: vec!["Schwarzwald".into()],
            ..nist
        };
        assert_eq!(
            check(&local, "imschwarzwaldwandern"),
            vec![Violation::Blocklisted]
        );
    }

    #[test]
    fn own_words_are_blocked_in_both_profiles() {
        use UserField::*;
        for p in [PasswordPolicy::seed(), PasswordPolicy::nist()] {
            let cases = [
                ("Xmwu4712!abcdefgh", Login),
                ("xMARIA!Abendstern", GivenName),
                ("Schaefer!Abendstern", FamilyName),
                ("SCHÄFER!Abendstern", FamilyName),
                ("Musterstadt#1Abend", Organisation),
                ("kreisverbandabend!X", Organisation),
            ];
            for (pw, field) in cases {
                assert_eq!(
                    check(&p, pw),
                    vec![Violation::ContainsUserData(field)],
                    "{pw}"
                );
            }
            // "DRK" is shorter than 4 chars: only the whole password would match.
            assert_eq!(p.check_new("Drk!Abendstern2026", &ctx()), Ok(()));
        }
    }

    #[test]
    fn nist_takes_a_15_char_passphrase_and_refuses_14() {
        let nist = PasswordPolicy::nist();
        assert_eq!(nist.check_new("tannenzapfenbus", &ctx()), Ok(()));
        assert_eq!(
            check(&nist, "tannenzapfenbu"),
            vec![Violation::TooShort { min: 15 }]
        );
    }

    #[test]
    fn over_128_chars_is_refused_with_that_reason_alone() {
        let long = "abcdefghij".repeat(13);
        for p in [PasswordPolicy::seed(), PasswordPolicy::nist()] {
            assert_eq!(
                check(&p, &long[..129]),
                vec![Violation::TooLong { max: 128 }]
            );
        }
        assert_eq!(
            PasswordPolicy::nist().check_new(&long[..128], &ctx()),
            Ok(())
        );
    }

    #[test]
    fn the_current_password_cannot_be_set_again() {
        let phc = hash_password("Notarzt!2026x", &HashParams::test()).expect("hash");
        let with = PasswordContext {
            current_hash: Some(&phc),
            ..ctx()
        };
        let seed = PasswordPolicy::seed();
        assert_eq!(
            seed.check_new("Notarzt!2026x", &with),
            Err(vec![Violation::SameAsCurrent])
        );
        assert_eq!(seed.check_new("Notarzt!2027x", &with), Ok(()));
        let broken = PasswordContext {
            current_hash: Some("$argon2id$nonsense"),
            ..ctx()
        };
        assert_eq!(seed.check_new("Notarzt!2026x", &broken), Ok(()));
    }

    #[test]
    fn seed_locks_at_the_fifth_failure_until_an_admin_unlocks() {
        let p = PasswordPolicy::seed();
        let mut a = Account::new(T0);
        a.password_changed(T0);
        for i in 1..=4 {
            assert_eq!(
                a.attempt(&p, T0 + i, false),
                Outcome::Wrong { locked_now: false }
            );
            assert_eq!(a.admit(&p, T0 + i), Ok(()), "no throttle under seed");
        }
        assert_eq!(
            a.attempt(&p, T0 + 5, false),
            Outcome::Wrong { locked_now: true }
        );
        let locked = Outcome::Locked(LockReason::TooManyFailures);
        assert_eq!(a.admit(&p, T0 + 6), Err(locked));
        assert_eq!(a.attempt(&p, T0 + 6, true), locked);
        assert_eq!(a.attempt(&p, T0 + 100 * DAY_MS, true), locked);
        a.unlock_by_admin(T0 + 7);
        assert_eq!(a.attempt(&p, T0 + 8, true), Outcome::Ok);
        assert_eq!(a.failures, 0);
        a.lock_by_admin();
        let admin = Outcome::Locked(LockReason::Admin);
        assert_eq!(a.attempt(&p, T0 + 9, true), admin);
        a.unlock_by_admin(T0 + 10);
        assert_eq!(a.attempt(&p, T0 + 11, true), Outcome::Ok);
    }

    #[test]
    fn disabled_is_refused_until_enabled_and_independent_of_locks() {
        let p = PasswordPolicy::seed();
        let mut a = Account::new(T0);
        a.password_changed(T0);
        a.disable();
        let off = Outcome::Locked(LockReason::Disabled);
        assert_eq!(a.admit(&p, T0 + 1), Err(off));
        assert_eq!(a.attempt(&p, T0 + 1, true), off);
        assert_eq!((a.failures, a.last_login_ms), (0, None), "not counted");
        // An unlock does not enable.
        a.unlock_by_admin(T0 + 2);
        assert_eq!(a.attempt(&p, T0 + 3, true), off);
        // Enabling does not unlock.
        a.enable(T0 + 4);
        a.lock_by_admin();
        assert_eq!(
            a.attempt(&p, T0 + 5, true),
            Outcome::Locked(LockReason::Admin)
        );
        a.unlock_by_admin(T0 + 6);
        assert_eq!(a.attempt(&p, T0 + 7, true), Outcome::Ok);
        // Disabled for a year: enabling restarts the inactivity clock.
        a.disable();
        let later = T0 + 365 * DAY_MS;
        a.enable(later);
        assert_eq!(
            a.attempt(&p, later + 1, true),
            Outcome::OkMustChange(ChangeReason::Expired)
        );
        // Rows stored before the field existed read as enabled.
        let mut old = serde_json::to_value(Account::new(T0)).expect("ser");
        old.as_object_mut().expect("object").remove("disabled");
        let old: Account = serde_json::from_value(old).expect("de");
        assert!(!old.disabled);
    }

    #[test]
    fn lock_at_shows_an_inactivity_lock_before_it_is_stored() {
        let p = PasswordPolicy::seed();
        let mut a = Account::new(T0);
        assert_eq!(a.lock_at(&p, T0 + 179 * DAY_MS), None);
        assert_eq!(a.lock_at(&p, T0 + 180 * DAY_MS), Some(LockReason::Inactive));
        assert_eq!(a.locked, None, "only shown");
        a.unlock_by_admin(T0 + 180 * DAY_MS);
        assert_eq!(a.lock_at(&p, T0 + 181 * DAY_MS), None);
        for _ in 0..5 {
            a.attempt(&p, T0 + 181 * DAY_MS, false);
        }
        assert_eq!(
            a.lock_at(&p, T0 + 181 * DAY_MS),
            Some(LockReason::TooManyFailures)
        );
        a.disable();
        assert_eq!(
            a.lock_at(&p, T0 + 181 * DAY_MS),
            Some(LockReason::TooManyFailures)
        );
    }

    #[test]
    fn nist_throttles_with_a_growing_delay_and_never_locks() {
        let p = PasswordPolicy::nist();
        let mut a = Account::new(T0);
        a.password_changed(T0);
        let mut now = T0;
        let mut delays = Vec::new();
        for _ in 0..40 {
            assert_eq!(
                a.attempt(&p, now, false),
                Outcome::Wrong { locked_now: false }
            );
            match a.admit(&p, now) {
                Ok(()) => delays.push(0),
                Err(Outcome::Throttled { retry_after_ms }) => {
                    // Refused even with the right password, and not counted.
                    let before = a.failures;
                    assert_eq!(
                        a.attempt(&p, now, true),
                        Outcome::Throttled { retry_after_ms }
                    );
                    assert_eq!(a.failures, before);
                    delays.push(retry_after_ms);
                    now += i64::try_from(retry_after_ms).expect("small");
                }
                Err(other) => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(delays[..6], [0, 0, 0, 1_000, 2_000, 4_000]);
        assert!(delays.windows(2).all(|w| w[0] <= w[1]), "{delays:?}");
        assert_eq!(delays.last(), Some(&900_000));
        assert_eq!(a.locked, None);
        assert_eq!(a.attempt(&p, now, true), Outcome::Ok);
        assert_eq!((a.failures, a.throttle_until_ms), (0, None));
    }

    #[test]
    fn expiry_after_90_days_under_seed_only() {
        for (p, want) in [
            (
                PasswordPolicy::seed(),
                Outcome::OkMustChange(ChangeReason::Expired),
            ),
            (PasswordPolicy::nist(), Outcome::Ok),
        ] {
            let mut a = Account::new(T0);
            a.password_changed(T0);
            assert_eq!(a.attempt(&p, T0 + 89 * DAY_MS, true), Outcome::Ok);
            assert_eq!(a.attempt(&p, T0 + 90 * DAY_MS, true), want);
            a.password_changed(T0 + 90 * DAY_MS);
            assert_eq!(a.attempt(&p, T0 + 91 * DAY_MS, true), Outcome::Ok);
        }
    }

    #[test]
    fn inactive_for_180_days_locks_in_both_profiles() {
        for p in [PasswordPolicy::seed(), PasswordPolicy::nist()] {
            // Never signed in: counted from creation.
            let mut fresh = Account::new(T0);
            assert_eq!(fresh.admit(&p, T0 + 180 * DAY_MS - 1), Ok(()));
            assert_eq!(
                fresh.attempt(&p, T0 + 180 * DAY_MS, true),
                Outcome::Inactive
            );
            // From the last sign-in; the lock then stays, even when stored.
            let mut a = Account::new(T0);
            a.password_changed(T0);
            assert_eq!(a.attempt(&p, T0 + 10 * DAY_MS, true), Outcome::Ok);
            let late = T0 + 190 * DAY_MS;
            assert_eq!(a.admit(&p, late), Err(Outcome::Inactive));
            assert_eq!(a.attempt(&p, late, true), Outcome::Inactive);
            let stored: Account =
                serde_json::from_str(&serde_json::to_string(&a).expect("ser")).expect("de");
            assert_eq!(stored, a);
            let locked = Outcome::Locked(LockReason::Inactive);
            assert_eq!(a.attempt(&p, late + 1, true), locked);
            a.unlock_by_admin(late + 2);
            assert_eq!(a.admit(&p, late + 3), Ok(()));
        }
    }

    #[test]
    fn transport_password_must_be_changed_first() {
        let p = PasswordPolicy::nist();
        let mut a = Account::new(T0);
        let must = Outcome::OkMustChange(ChangeReason::Transport);
        assert_eq!(a.attempt(&p, T0 + 1, true), must);
        assert_eq!(a.attempt(&p, T0 + 2, true), must, "until it is changed");
        a.password_changed(T0 + 3);
        assert_eq!(a.attempt(&p, T0 + 4, true), Outcome::Ok);
        a.transport_password_set(T0 + 5);
        assert_eq!(a.attempt(&p, T0 + 6, true), must);
    }

    #[test]
    fn hash_verify_round_trip() {
        let phc = hash_password("gelbe Wolke ruft", &HashParams::test()).expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(verify_password("gelbe Wolke ruft", &phc));
        assert!(!verify_password("gelbe Wolke ruft ", &phc));
        assert!(!verify_password("", &phc));
        let again = hash_password("gelbe Wolke ruft", &HashParams::test()).expect("hash");
        assert_ne!(phc, again, "a fresh salt each time");
    }

    #[test]
    fn malformed_phc_is_false() {
        let phc = hash_password("x", &HashParams::test()).expect("hash");
        let bad = [
            String::new(),
            "garbage".to_owned(),
            "$argon2id$".to_owned(),
            phc.replacen("argon2id", "argon2i", 1),
            phc[..phc.len() - 10].to_owned(),
            phc.rsplit_once('$')
                .map(|(head, _)| head.to_owned())
                .unwrap_or_default(),
            phc.replacen("m=64", "m=4194304", 1),
        ];
        for b in &bad {
            assert!(!verify_password("x", b), "{b}");
            assert!(needs_rehash(b, &HashParams::test()), "{b}");
        }
    }

    #[test]
    fn needs_rehash_when_params_differ() {
        let phc = hash_password("x", &HashParams::test()).expect("hash");
        assert!(!needs_rehash(&phc, &HashParams::test()));
        assert!(needs_rehash(&phc, &HashParams::server()));
        let slower = HashParams {
            t: 2,
            ..HashParams::test()
        };
        assert!(needs_rehash(&phc, &slower));
        // The one hash with the documented (slow) server parameters.
        let phc = hash_password("x", &HashParams::server()).expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=65536,t=3,p=1$"), "{phc}");
        assert!(!needs_rehash(&phc, &HashParams::server()));
    }

    #[test]
    fn nothing_prints_the_password() {
        let canary = "Kanarienvogel!42";
        let phc = hash_password(canary, &HashParams::test()).expect("hash");
        let c = PasswordContext {
            current_hash: Some(&phc),
            ..ctx()
        };
        let v = PasswordPolicy::nist()
            .check_new(canary, &c)
            .expect_err("same as current");
        let mut text = format!("{c:?} {v:?} {}", serde_json::to_string(&v).expect("json"));
        for x in &v {
            text.push_str(&x.de());
            text.push_str(&x.en());
        }
        let salt_and_hash = phc.split('$').skip(4).collect::<Vec<_>>().join("$");
        assert!(
            !text.contains("Kanarien") && !text.contains("kanarien"),
            "{text}"
        );
        assert!(!text.contains(&salt_and_hash), "{text}");
        assert!(text.contains("SameAsCurrent"), "the check ran: {text}");
    }

    #[test]
    fn policy_from_config() {
        let p: PasswordPolicy = serde_json::from_str("{}").expect("empty");
        assert_eq!(p, PasswordPolicy::seed());
        let p: PasswordPolicy =
            serde_json::from_str(r#"{"profile":"nist","min_len":12}"#).expect("nist");
        assert_eq!(
            p,
            PasswordPolicy {
                min_len: 12,
                ..PasswordPolicy::nist()
            }
        );
        let p: PasswordPolicy = serde_json::from_str(r#"{"profile":"s002"}"#).expect("alias");
        assert_eq!(p, PasswordPolicy::seed());
        let back: PasswordPolicy =
            serde_json::from_str(&serde_json::to_string(&PasswordPolicy::nist()).expect("ser"))
                .expect("round trip");
        assert_eq!(back, PasswordPolicy::nist());
        for bad in [
            r#"{"min_lenght":12}"#,
            r#"{"min_len":0}"#,
            r#"{"max_len":129}"#,
        ] {
            assert!(
                serde_json::from_str::<PasswordPolicy>(bad).is_err(),
                "{bad}"
            );
        }
    }
}
