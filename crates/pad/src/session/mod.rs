//! Shift login, PIN lock, idle auto-lock and the wrong-PIN wipe.
//!
//! Invariants:
//! - A [`Session`] starts **Locked**; only a correct PIN unlocks it.
//! - Each PIN attempt is counted and the count made durable through
//!   [`LockStore`] **before** the (slow) Argon2id check, so cutting the power
//!   during the check cannot give an attacker a free guess. If the count
//!   cannot be stored the PIN is not checked at all (fail closed); if it
//!   cannot be read it is taken as `max - 1`, so the next wrong PIN wipes.
//! - When consecutive wrong PINs reach the maximum, [`Wiper::wipe_all`] runs
//!   once, then the count goes back to 0. A count already at the maximum (a
//!   wipe cut short by a crash or an error) makes the next attempt finish the
//!   wipe without checking the PIN.
//! - Malformed input (non-digits, too short or long) is rejected by
//!   [`Pin::new`] and is not a guess: it is never hashed or counted.
//! - Idle time is measured on the monotonic clock, so wall-clock jumps (GPS,
//!   NTP) neither lock early nor keep the pad open.
//! - PINs live in `Zeroizing` buffers and are never logged; log lines carry
//!   counts and states only. Names and personnel numbers are hidden from
//!   `Debug` output.
//!
//! `unlock` takes tens of milliseconds (Argon2id): call it off the UI thread.

mod error;
mod pin;
mod shift;
mod store;
mod vault;

use std::time::Duration;

pub use error::{PinFormatError, SessionError, ShiftError};
pub use pin::{PIN_M_COST_KIB, PIN_P_COST, PIN_T_COST, Pin, hash_pin, validate_pin_hash};
pub use shift::{
    CrewMember, MAX_CALL_SIGN_LEN, MAX_CREW, MAX_NAME_LEN, MAX_PERSONNEL_NO_LEN, Qualification,
    Shift,
};
pub use store::{FileLockStore, LockStore, MemoryLockStore, Wiper};

use rettpad_clock::SharedClock;

pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(15 * 60);
pub const DEFAULT_MAX_FAILURES: u32 = 5;
/// Keeps a mistyped configuration from disabling the wipe in practice.
pub const MAX_MAX_FAILURES: u32 = 20;

/// Lock settings, normally from the signed configuration package.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Argon2id PHC string of the unit's PIN (see [`hash_pin`]).
    pub pin_hash: String,
    /// Inactivity after which the pad locks itself.
    pub idle_timeout: Duration,
    /// Consecutive wrong PINs that trigger the wipe.
    pub max_failures: u32,
}

impl SessionConfig {
    pub fn new(pin_hash: impl Into<String>) -> Self {
        SessionConfig {
            pin_hash: pin_hash.into(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_failures: DEFAULT_MAX_FAILURES,
        }
    }

    fn validate(&self) -> Result<(), SessionError> {
        if self.idle_timeout.is_zero() {
            return Err(SessionError::Config("idle timeout must be positive"));
        }
        if self.max_failures == 0 || self.max_failures > MAX_MAX_FAILURES {
            return Err(SessionError::Config("max failures must be 1..=20"));
        }
        pin::validate_pin_hash(&self.pin_hash)
    }
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("pin_hash", &"[REDACTED]")
            .field("idle_timeout", &self.idle_timeout)
            .field("max_failures", &self.max_failures)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    Locked,
    Unlocked,
}

/// The first half of an unlock.
#[derive(Debug)]
pub enum UnlockStep {
    /// Decided without a check (already unlocked, or the wipe).
    Done(UnlockOutcome),
    /// The counted attempt's check, to run and hand to `finish_unlock`.
    Check(PinCheck),
}

/// One counted PIN attempt's Argon2id check: pure and `Send`, so it can
/// run on a worker while the UI keeps drawing.
pub struct PinCheck {
    pin: Pin,
    phc: String,
    pub attempt: u32,
}

impl PinCheck {
    pub fn run(&self) -> Result<bool, SessionError> {
        pin::verify_pin(&self.pin, &self.phc)
    }
}

impl std::fmt::Debug for PinCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PinCheck(attempt {})", self.attempt)
    }
}

/// Result of an unlock attempt with a well-formed PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnlockOutcome {
    /// The PIN was right; the counter is back to 0.
    Unlocked,
    /// The session was not locked; nothing was checked or counted.
    AlreadyUnlocked,
    /// Wrong PIN; `remaining` more wrong PINs are allowed before the wipe
    /// (so with `remaining == 0` never returned: that case is `Wiped`).
    WrongPin { remaining: u32 },
    /// The limit was reached and all data was wiped. Show the wipe message.
    Wiped,
}

impl rettpad_text::UserMessage for UnlockOutcome {
    fn message(&self, lang: rettpad_text::Lang) -> String {
        use rettpad_text::Lang;
        match (self, lang) {
            (UnlockOutcome::Unlocked | UnlockOutcome::AlreadyUnlocked, Lang::De) => {
                "Entsperrt.".to_owned()
            }
            (UnlockOutcome::Unlocked | UnlockOutcome::AlreadyUnlocked, Lang::En) => {
                "Unlocked.".to_owned()
            }
            (UnlockOutcome::WrongPin { remaining: 1 }, Lang::De) => {
                "Falsche PIN, noch 1 Versuch bis zur Löschung.".to_owned()
            }
            (UnlockOutcome::WrongPin { remaining: 1 }, Lang::En) => {
                "Wrong PIN; 1 attempt left before the pad is wiped.".to_owned()
            }
            (UnlockOutcome::WrongPin { remaining }, Lang::De) => {
                format!("Falsche PIN, noch {remaining} Versuche bis zur Löschung.")
            }
            (UnlockOutcome::WrongPin { remaining }, Lang::En) => {
                format!("Wrong PIN; {remaining} attempts left before the pad is wiped.")
            }
            (UnlockOutcome::Wiped, Lang::De) => "Zu viele falsche PIN-Eingaben. Alle Daten auf \
                                                 diesem Gerät wurden gelöscht."
                .to_owned(),
            (UnlockOutcome::Wiped, Lang::En) => {
                "Too many wrong PINs: all data on this pad was deleted.".to_owned()
            }
        }
    }
}

/// The lock state machine of one running app.
pub struct Session {
    config: SessionConfig,
    clock: SharedClock,
    store: Box<dyn LockStore + Send>,
    wiper: Box<dyn Wiper + Send>,
    state: LockState,
    /// Monotonic time of the last user activity while unlocked.
    last_activity: Duration,
    shift: Option<Shift>,
    /// A provisioned PIN and limits, in force from the next lock.
    staged: Option<SessionConfig>,
    /// Locked by the operator: no PIN is checked or counted.
    remote_locked: bool,
    /// No gateway contact for longer than allowed: as above, until contact.
    offline_locked: bool,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("config", &self.config)
            .field("state", &self.state)
            .field("has_shift", &self.shift.is_some())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A locked session. Fails if the configuration (PIN hash, limits) is
    /// unusable; the store is not read until the first unlock.
    pub fn new(
        config: SessionConfig,
        clock: SharedClock,
        store: impl LockStore + Send + 'static,
        wiper: impl Wiper + Send + 'static,
    ) -> Result<Session, SessionError> {
        config.validate()?;
        let last_activity = clock.mono();
        Ok(Session {
            config,
            clock,
            store: Box::new(store),
            wiper: Box::new(wiper),
            state: LockState::Locked,
            last_activity,
            shift: None,
            staged: None,
            remote_locked: false,
            offline_locked: false,
        })
    }

    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    pub fn state(&self) -> LockState {
        self.state
    }

    pub fn is_locked(&self) -> bool {
        self.state == LockState::Locked
    }

    /// Wrong PINs still allowed before the wipe, for the lock screen. An
    /// unreadable counter gives 1, matching what `unlock` will assume.
    pub fn remaining_attempts(&self) -> u32 {
        let failures = self
            .store
            .load_failures()
            .unwrap_or(self.config.max_failures.saturating_sub(1));
        self.config.max_failures.saturating_sub(failures)
    }

    /// Checks `pin` (see the module invariants for the counting rules).
    /// `Err` means the attempt could not be carried out safely; the session
    /// stays locked. Runs the slow Argon2id check on the caller's thread:
    /// the UI uses [`Session::begin_unlock`] and a worker instead.
    pub fn unlock(&mut self, pin: &Pin) -> Result<UnlockOutcome, SessionError> {
        match self.begin_unlock(pin.clone())? {
            UnlockStep::Done(o) => Ok(o),
            UnlockStep::Check(c) => {
                let verified = c.run();
                self.finish_unlock(c.attempt, verified)
            }
        }
    }

    /// The first half of an unlock: the attempt is counted durably before
    /// anything is checked (a crash during the check cannot give a free
    /// guess). Returns the check to run, off the UI thread if need be.
    pub fn begin_unlock(&mut self, pin: Pin) -> Result<UnlockStep, SessionError> {
        self.check_holds()?;
        if self.state == LockState::Unlocked {
            return Ok(UnlockStep::Done(UnlockOutcome::AlreadyUnlocked));
        }
        let after = match self.count_attempt()? {
            Ok(n) => n,
            Err(done) => return Ok(UnlockStep::Done(done)),
        };
        Ok(UnlockStep::Check(PinCheck {
            pin,
            phc: self.config.pin_hash.clone(),
            attempt: after,
        }))
    }

    /// Counts one attempt durably before anything is checked. `Err(done)`:
    /// the limit was already reached and the wipe finished instead.
    fn count_attempt(&mut self) -> Result<Result<u32, UnlockOutcome>, SessionError> {
        let max = self.config.max_failures;
        let before = match self.store.load_failures() {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "wrong-PIN counter unreadable; assuming one attempt left");
                max - 1
            }
        };
        if before >= max {
            tracing::warn!(
                failures = before,
                max,
                "wrong-PIN limit already reached; finishing wipe"
            );
            return self.wipe().map(Err);
        }
        let after = before + 1;
        if let Err(e) = self.store.store_failures(after) {
            tracing::error!(error = %e, "cannot persist wrong-PIN counter; PIN not checked");
            return Err(e);
        }
        Ok(Ok(after))
    }

    /// A staff card held to the reader instead of the PIN: counted like a
    /// PIN attempt first; a card not in the staff list is a wrong attempt
    /// and brings the wipe closer.
    pub fn badge(&mut self, known: bool) -> Result<UnlockOutcome, SessionError> {
        self.check_holds()?;
        if self.state == LockState::Unlocked {
            return Ok(UnlockOutcome::AlreadyUnlocked);
        }
        match self.count_attempt()? {
            Ok(attempt) => self.finish_unlock(attempt, Ok(known)),
            Err(done) => Ok(done),
        }
    }

    /// The second half: applies the check's result for attempt `attempt`.
    pub fn finish_unlock(
        &mut self,
        attempt: u32,
        verified: Result<bool, SessionError>,
    ) -> Result<UnlockOutcome, SessionError> {
        if self.state == LockState::Unlocked {
            return Ok(UnlockOutcome::AlreadyUnlocked);
        }
        let max = self.config.max_failures;
        if verified? {
            if let Err(e) = self.store.store_failures(0) {
                // The PIN was right, so let the crew work; the stale count only
                // brings the wipe closer, never further away.
                tracing::error!(error = %e, "cannot reset wrong-PIN counter after unlock");
            }
            self.state = LockState::Unlocked;
            self.last_activity = self.clock.mono();
            tracing::info!("session unlocked");
            return Ok(UnlockOutcome::Unlocked);
        }

        if attempt >= max {
            tracing::warn!(
                failures = attempt,
                max,
                "wrong-PIN limit reached; wiping all data"
            );
            return self.wipe();
        }
        let remaining = max - attempt;
        tracing::warn!(failures = attempt, remaining, "wrong PIN");
        Ok(UnlockOutcome::WrongPin { remaining })
    }

    fn wipe(&mut self) -> Result<UnlockOutcome, SessionError> {
        self.state = LockState::Locked;
        self.shift = None;
        if let Err(e) = self.wiper.wipe_all() {
            // The counter stays at the limit, so the next attempt retries.
            tracing::error!(error = %e, "wipe failed");
            return Err(e);
        }
        if let Err(e) = self.store.store_failures(0) {
            tracing::error!(error = %e, "cannot reset wrong-PIN counter after wipe");
        }
        tracing::warn!("all data wiped");
        Ok(UnlockOutcome::Wiped)
    }

    /// Manual lock (the lock button).
    pub fn lock(&mut self) {
        if self.state == LockState::Unlocked {
            tracing::info!("session locked by user");
        }
        self.state = LockState::Locked;
        self.take_staged();
    }

    /// The operator's remote lock (kept in the vault by the caller): locks
    /// at once; while it holds, no PIN opens the pad.
    pub fn set_remote_lock(&mut self, on: bool) {
        self.remote_locked = on;
        if on {
            tracing::warn!("session locked remotely");
            self.lock();
        }
    }

    pub fn is_remote_locked(&self) -> bool {
        self.remote_locked
    }

    /// The offline safeguard: locks at once while set; lifted by the next
    /// contact with the gateway.
    pub fn set_offline_lock(&mut self, on: bool) {
        if on && !self.offline_locked {
            tracing::warn!("session locked: no gateway contact for too long");
            self.lock();
        }
        self.offline_locked = on;
    }

    pub fn is_offline_locked(&self) -> bool {
        self.offline_locked
    }

    fn check_holds(&self) -> Result<(), SessionError> {
        if self.remote_locked {
            return Err(SessionError::RemoteLocked);
        }
        if self.offline_locked {
            return Err(SessionError::OfflineLocked);
        }
        Ok(())
    }

    /// The operator's remote wipe: the same crypto-shred as the wrong-PIN
    /// wipe.
    pub fn wipe_now(&mut self) -> Result<(), SessionError> {
        self.wipe().map(|_| ())
    }

    /// A new PIN and limits (a provisioning package): in force from the
    /// next lock, so the crew at work is not locked out by a PIN they have
    /// not been told yet. Refused when unusable; the old one stays.
    pub fn stage_config(&mut self, config: SessionConfig) -> Result<(), SessionError> {
        config.validate()?;
        self.staged = Some(config);
        Ok(())
    }

    /// Whether a staged configuration waits for the next lock.
    pub fn has_staged_config(&self) -> bool {
        self.staged.is_some()
    }

    fn take_staged(&mut self) {
        if let Some(c) = self.staged.take() {
            self.config = c;
            tracing::info!("provisioned PIN and lock settings in force");
        }
    }

    /// User activity. Postpones the idle lock while unlocked; does nothing
    /// while locked. If the idle time has already run out (the periodic tick
    /// was late) the session locks instead of being extended.
    pub fn touch(&mut self) -> LockState {
        if self.tick() == LockState::Unlocked {
            self.last_activity = self.clock.mono();
        }
        self.state
    }

    /// Call periodically (e.g. every second): locks once the pad has been idle
    /// for the configured time.
    pub fn tick(&mut self) -> LockState {
        if self.state == LockState::Unlocked {
            let idle = self.clock.mono().saturating_sub(self.last_activity);
            if idle >= self.config.idle_timeout {
                self.state = LockState::Locked;
                tracing::info!(idle_s = idle.as_secs(), "session locked after inactivity");
                self.take_staged();
            }
        }
        self.state
    }

    /// Time left before the idle lock, or `None` while locked.
    pub fn idle_remaining(&self) -> Option<Duration> {
        match self.state {
            LockState::Locked => None,
            LockState::Unlocked => {
                let idle = self.clock.mono().saturating_sub(self.last_activity);
                Some(self.config.idle_timeout.saturating_sub(idle))
            }
        }
    }

    /// Logs a crew in. Needs an unlocked session; replaces any previous shift.
    pub fn start_shift(&mut self, shift: Shift) -> Result<(), SessionError> {
        if self.state == LockState::Locked {
            return Err(SessionError::Locked);
        }
        shift.validate()?;
        tracing::info!(crew = shift.crew.len(), "shift started");
        self.shift = Some(shift);
        Ok(())
    }

    /// The current shift, if any. Readable while locked, so the lock screen
    /// can show the call sign.
    pub fn shift(&self) -> Option<&Shift> {
        self.shift.as_ref()
    }

    /// Logs the crew out. Needs an unlocked session.
    pub fn end_shift(&mut self) -> Result<Option<Shift>, SessionError> {
        if self.state == LockState::Locked {
            return Err(SessionError::Locked);
        }
        if self.shift.is_some() {
            tracing::info!("shift ended");
        }
        Ok(self.shift.take())
    }
}

#[cfg(test)]
mod tests;
