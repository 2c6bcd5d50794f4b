//! Unit tests of the lock state machine. Hashes use minimal Argon2 params.

use rettpad_text::{Lang, UserMessage};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::*;
use rettpad_clock::{Clock, TestClock};

const GOOD: &str = "4711";
const BAD: &str = "1234";

fn pin(s: &str) -> Pin {
    Pin::new(s.to_owned()).unwrap()
}

/// One cheap hash shared by all tests.
fn pin_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| pin::hash_pin_for_tests(&pin(GOOD)).unwrap())
}

/// Counts calls to `wipe_all`; clones share the count.
#[derive(Clone, Default)]
struct CountingWiper {
    calls: Arc<AtomicU32>,
    fail: bool,
}

impl CountingWiper {
    fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Wiper for CountingWiper {
    fn wipe_all(&mut self) -> Result<(), SessionError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            Err(SessionError::WipeFailed("test".into()))
        } else {
            Ok(())
        }
    }
}

/// A store whose reads and/or writes fail.
struct BrokenStore {
    load_ok: Option<u32>,
    store_ok: bool,
    stored: Arc<AtomicU32>,
}

impl LockStore for BrokenStore {
    fn load_failures(&self) -> Result<u32, SessionError> {
        self.load_ok
            .ok_or_else(|| SessionError::StoreCorrupt("test".into()))
    }
    fn store_failures(&mut self, n: u32) -> Result<(), SessionError> {
        if self.store_ok {
            self.stored.store(n, Ordering::SeqCst);
            Ok(())
        } else {
            Err(SessionError::Store("test".into()))
        }
    }
}

struct Rig {
    clock: Arc<TestClock>,
    store: MemoryLockStore,
    wiper: CountingWiper,
    session: Session,
}

fn rig_with(config: SessionConfig) -> Rig {
    let clock = TestClock::new(1_700_000_000_000);
    let store = MemoryLockStore::new();
    let wiper = CountingWiper::default();
    let session = Session::new(config, clock.clone(), store.clone(), wiper.clone()).unwrap();
    Rig {
        clock,
        store,
        wiper,
        session,
    }
}

fn rig() -> Rig {
    rig_with(SessionConfig::new(pin_hash()))
}

#[test]
fn starts_locked() {
    let r = rig();
    assert_eq!(r.session.state(), LockState::Locked);
    assert!(r.session.is_locked());
    assert_eq!(r.session.idle_remaining(), None);
    assert_eq!(r.session.remaining_attempts(), 5);
}

#[test]
fn correct_pin_unlocks() {
    let mut r = rig();
    assert_eq!(r.session.unlock(&pin(GOOD)), Ok(UnlockOutcome::Unlocked));
    assert_eq!(r.session.state(), LockState::Unlocked);
    assert_eq!(r.store.failures(), Some(0));
    assert_eq!(
        r.session.unlock(&pin(BAD)),
        Ok(UnlockOutcome::AlreadyUnlocked)
    );
    assert_eq!(r.store.failures(), Some(0));
}

#[test]
fn wrong_pins_wipe_exactly_at_max() {
    let mut r = rig();
    for remaining in (1..=4).rev() {
        assert_eq!(
            r.session.unlock(&pin(BAD)),
            Ok(UnlockOutcome::WrongPin { remaining })
        );
        assert_eq!(r.wiper.calls(), 0, "wiped too early");
        assert!(r.session.is_locked());
    }
    assert_eq!(r.store.failures(), Some(4));
    assert_eq!(r.session.remaining_attempts(), 1);
    assert_eq!(r.session.unlock(&pin(BAD)), Ok(UnlockOutcome::Wiped));
    assert_eq!(r.wiper.calls(), 1);
    assert_eq!(r.store.failures(), Some(0));
    assert!(r.session.is_locked());
    // After the wipe the count starts afresh and the PIN works again.
    assert_eq!(
        r.session.unlock(&pin(BAD)),
        Ok(UnlockOutcome::WrongPin { remaining: 4 })
    );
    assert_eq!(r.wiper.calls(), 1);
    assert_eq!(r.session.unlock(&pin(GOOD)), Ok(UnlockOutcome::Unlocked));
}

#[test]
fn counter_survives_restart() {
    let clock = TestClock::new(0);
    let store = MemoryLockStore::new();
    let wiper = CountingWiper::default();
    let mut first = Session::new(
        SessionConfig::new(pin_hash()),
        clock.clone(),
        store.clone(),
        wiper.clone(),
    )
    .unwrap();
    for _ in 0..3 {
        assert!(matches!(
            first.unlock(&pin(BAD)),
            Ok(UnlockOutcome::WrongPin { .. })
        ));
    }
    drop(first);

    let mut second = Session::new(
        SessionConfig::new(pin_hash()),
        clock,
        store.clone(),
        wiper.clone(),
    )
    .unwrap();
    assert_eq!(second.remaining_attempts(), 2);
    assert_eq!(
        second.unlock(&pin(BAD)),
        Ok(UnlockOutcome::WrongPin { remaining: 1 })
    );
    assert_eq!(wiper.calls(), 0);
    assert_eq!(second.unlock(&pin(BAD)), Ok(UnlockOutcome::Wiped));
    assert_eq!(wiper.calls(), 1);
}

#[test]
fn counter_survives_restart_with_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("failures");
    let clock = TestClock::new(0);
    let wiper = CountingWiper::default();
    let new_session = || {
        Session::new(
            SessionConfig::new(pin_hash()),
            clock.clone(),
            FileLockStore::new(&path),
            wiper.clone(),
        )
        .unwrap()
    };
    let mut s = new_session();
    for _ in 0..3 {
        s.unlock(&pin(BAD)).unwrap();
    }
    drop(s);
    let mut s = new_session();
    s.unlock(&pin(BAD)).unwrap();
    assert_eq!(wiper.calls(), 0);
    assert_eq!(s.unlock(&pin(BAD)), Ok(UnlockOutcome::Wiped));
    assert_eq!(wiper.calls(), 1);
}

#[test]
fn success_resets_counter() {
    let mut r = rig();
    for _ in 0..4 {
        r.session.unlock(&pin(BAD)).unwrap();
    }
    assert_eq!(r.session.unlock(&pin(GOOD)), Ok(UnlockOutcome::Unlocked));
    assert_eq!(r.store.failures(), Some(0));
    r.session.lock();
    // A fresh run of four wrong PINs does not wipe.
    for _ in 0..4 {
        assert!(matches!(
            r.session.unlock(&pin(BAD)),
            Ok(UnlockOutcome::WrongPin { .. })
        ));
    }
    assert_eq!(r.wiper.calls(), 0);
}

#[test]
fn idle_lock_at_exactly_the_timeout() {
    let mut config = SessionConfig::new(pin_hash());
    config.idle_timeout = Duration::from_secs(60);
    let mut r = rig_with(config);
    r.session.unlock(&pin(GOOD)).unwrap();

    r.clock.advance(Duration::from_millis(59_999));
    assert_eq!(r.session.tick(), LockState::Unlocked);
    assert_eq!(r.session.idle_remaining(), Some(Duration::from_millis(1)));
    r.clock.advance(Duration::from_millis(1));
    assert_eq!(r.session.tick(), LockState::Locked);
}

#[test]
fn default_idle_timeout_is_15_minutes() {
    let mut r = rig();
    r.session.unlock(&pin(GOOD)).unwrap();
    r.clock
        .advance(Duration::from_secs(15 * 60) - Duration::from_millis(1));
    assert_eq!(r.session.tick(), LockState::Unlocked);
    r.clock.advance(Duration::from_millis(1));
    assert_eq!(r.session.tick(), LockState::Locked);
}

#[test]
fn touch_postpones_idle_lock() {
    let mut config = SessionConfig::new(pin_hash());
    config.idle_timeout = Duration::from_secs(60);
    let mut r = rig_with(config);
    r.session.unlock(&pin(GOOD)).unwrap();

    r.clock.advance(Duration::from_secs(50));
    assert_eq!(r.session.touch(), LockState::Unlocked);
    r.clock.advance(Duration::from_secs(50));
    assert_eq!(r.session.tick(), LockState::Unlocked);
    r.clock.advance(Duration::from_secs(10));
    assert_eq!(r.session.tick(), LockState::Locked);
}

#[test]
fn late_touch_does_not_revive_an_expired_session() {
    let mut config = SessionConfig::new(pin_hash());
    config.idle_timeout = Duration::from_secs(60);
    let mut r = rig_with(config);
    r.session.unlock(&pin(GOOD)).unwrap();
    r.clock.advance(Duration::from_secs(61));
    // No tick ran in between; the touch must not extend the session.
    assert_eq!(r.session.touch(), LockState::Locked);
}

#[test]
fn touch_while_locked_does_nothing() {
    let mut config = SessionConfig::new(pin_hash());
    config.idle_timeout = Duration::from_secs(60);
    let mut r = rig_with(config);
    assert_eq!(r.session.touch(), LockState::Locked);
    r.clock.advance(Duration::from_secs(3600));
    assert_eq!(r.session.touch(), LockState::Locked);
    // Idle time counts from the unlock, not from touches while locked.
    r.session.unlock(&pin(GOOD)).unwrap();
    r.clock.advance(Duration::from_secs(59));
    assert_eq!(r.session.tick(), LockState::Unlocked);
}

#[test]
fn wall_clock_jump_does_not_lock() {
    let mut r = rig();
    r.session.unlock(&pin(GOOD)).unwrap();
    r.clock.set_wall_ms(r.clock.wall_ms() + 24 * 3600 * 1000);
    assert_eq!(r.session.tick(), LockState::Unlocked);
}

#[test]
fn manual_lock() {
    let mut r = rig();
    r.session.unlock(&pin(GOOD)).unwrap();
    r.session.lock();
    assert!(r.session.is_locked());
    assert_eq!(r.session.touch(), LockState::Locked);
    r.session.lock(); // idempotent
    assert!(r.session.is_locked());
    assert_eq!(r.session.unlock(&pin(GOOD)), Ok(UnlockOutcome::Unlocked));
}

#[test]
fn malformed_pins_are_not_guesses() {
    let mut r = rig();
    for bad in ["123", "", "12a4", "47 11", "4711\n"] {
        let err = Pin::new(bad.to_owned()).unwrap_err();
        let session_err: SessionError = err.into();
        assert!(!session_err.message(Lang::De).is_empty());
    }
    assert_eq!(
        Pin::new("123".to_owned()).unwrap_err().message(Lang::De),
        "Die PIN muss mindestens 4 Ziffern haben."
    );
    assert_eq!(
        Pin::new("12a4".to_owned()).unwrap_err().message(Lang::De),
        "Die PIN darf nur Ziffern enthalten."
    );
    assert_eq!(r.store.failures(), Some(0));
    assert_eq!(r.session.remaining_attempts(), 5);
    assert!(r.session.is_locked());
    assert_eq!(r.session.unlock(&pin(GOOD)), Ok(UnlockOutcome::Unlocked));
}

#[test]
fn failing_store_write_denies_unlock() {
    let stored = Arc::new(AtomicU32::new(0));
    let wiper = CountingWiper::default();
    let mut s = Session::new(
        SessionConfig::new(pin_hash()),
        TestClock::new(0),
        BrokenStore {
            load_ok: Some(0),
            store_ok: false,
            stored,
        },
        wiper.clone(),
    )
    .unwrap();
    let err = s.unlock(&pin(GOOD)).unwrap_err();
    assert!(matches!(err, SessionError::Store(_)));
    assert!(err.message(Lang::De).contains("nicht möglich"));
    assert!(s.is_locked());
    assert!(matches!(s.unlock(&pin(BAD)), Err(SessionError::Store(_))));
    assert_eq!(wiper.calls(), 0);
}

#[test]
fn unreadable_counter_fails_closed() {
    // Unreadable counter: one wrong PIN wipes.
    let stored = Arc::new(AtomicU32::new(0));
    let wiper = CountingWiper::default();
    let mut s = Session::new(
        SessionConfig::new(pin_hash()),
        TestClock::new(0),
        BrokenStore {
            load_ok: None,
            store_ok: true,
            stored: stored.clone(),
        },
        wiper.clone(),
    )
    .unwrap();
    assert_eq!(s.remaining_attempts(), 1);
    assert_eq!(s.unlock(&pin(BAD)), Ok(UnlockOutcome::Wiped));
    assert_eq!(wiper.calls(), 1);
    assert_eq!(stored.load(Ordering::SeqCst), 0);

    // The correct PIN still unlocks and resets the counter.
    let stored = Arc::new(AtomicU32::new(99));
    let mut s = Session::new(
        SessionConfig::new(pin_hash()),
        TestClock::new(0),
        BrokenStore {
            load_ok: None,
            store_ok: true,
            stored: stored.clone(),
        },
        CountingWiper::default(),
    )
    .unwrap();
    assert_eq!(s.unlock(&pin(GOOD)), Ok(UnlockOutcome::Unlocked));
    assert_eq!(stored.load(Ordering::SeqCst), 0);
}

#[test]
fn corrupt_file_counter_fails_closed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("failures");
    std::fs::write(&path, "garbage").unwrap();
    let wiper = CountingWiper::default();
    let mut s = Session::new(
        SessionConfig::new(pin_hash()),
        TestClock::new(0),
        FileLockStore::new(&path),
        wiper.clone(),
    )
    .unwrap();
    assert_eq!(s.unlock(&pin(BAD)), Ok(UnlockOutcome::Wiped));
    assert_eq!(wiper.calls(), 1);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n");
}

#[test]
fn counter_is_persisted_before_the_check() {
    // Simulates a power cut during the hash check: the store already holds
    // the incremented count when verification starts. We observe it through
    // a store that records every write.
    struct Recording(Arc<std::sync::Mutex<Vec<u32>>>);
    impl LockStore for Recording {
        fn load_failures(&self) -> Result<u32, SessionError> {
            Ok(self.0.lock().unwrap().last().copied().unwrap_or(0))
        }
        fn store_failures(&mut self, n: u32) -> Result<(), SessionError> {
            self.0.lock().unwrap().push(n);
            Ok(())
        }
    }
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut s = Session::new(
        SessionConfig::new(pin_hash()),
        TestClock::new(0),
        Recording(log.clone()),
        CountingWiper::default(),
    )
    .unwrap();
    s.unlock(&pin(BAD)).unwrap();
    s.lock();
    s.unlock(&pin(GOOD)).unwrap();
    // wrong: 0→1; right: 1→2 (before the check), then reset to 0.
    assert_eq!(*log.lock().unwrap(), vec![1, 2, 0]);
}

#[test]
fn pending_wipe_is_finished_without_checking_the_pin() {
    let store = MemoryLockStore::new();
    let mut handle = store.clone();
    handle.store_failures(5).unwrap(); // limit reached, wipe never ran
    let wiper = CountingWiper::default();
    let mut s = Session::new(
        SessionConfig::new(pin_hash()),
        TestClock::new(0),
        store.clone(),
        wiper.clone(),
    )
    .unwrap();
    assert_eq!(s.unlock(&pin(GOOD)), Ok(UnlockOutcome::Wiped));
    assert_eq!(wiper.calls(), 1);
    assert_eq!(store.failures(), Some(0));
}

#[test]
fn failed_wipe_is_retried() {
    let store = MemoryLockStore::new();
    let mut wiper = CountingWiper {
        fail: true,
        ..Default::default()
    };
    let mut config = SessionConfig::new(pin_hash());
    config.max_failures = 2;
    let mut s = Session::new(
        config.clone(),
        TestClock::new(0),
        store.clone(),
        wiper.clone(),
    )
    .unwrap();
    s.unlock(&pin(BAD)).unwrap();
    assert!(matches!(
        s.unlock(&pin(BAD)),
        Err(SessionError::WipeFailed(_))
    ));
    assert_eq!(store.failures(), Some(2));
    // Even the right PIN does not open a pad whose wipe is pending.
    assert!(matches!(
        s.unlock(&pin(GOOD)),
        Err(SessionError::WipeFailed(_))
    ));
    assert!(s.is_locked());
    wiper.fail = false;
    let mut s = Session::new(config, TestClock::new(0), store.clone(), wiper.clone()).unwrap();
    assert_eq!(s.unlock(&pin(GOOD)), Ok(UnlockOutcome::Wiped));
    assert_eq!(wiper.calls(), 3);
    assert_eq!(store.failures(), Some(0));
}

#[test]
fn wrong_pin_messages() {
    assert_eq!(
        UnlockOutcome::WrongPin { remaining: 3 }.message(Lang::De),
        "Falsche PIN, noch 3 Versuche bis zur Löschung."
    );
    assert_eq!(
        UnlockOutcome::WrongPin { remaining: 1 }.message(Lang::De),
        "Falsche PIN, noch 1 Versuch bis zur Löschung."
    );
    assert!(UnlockOutcome::Wiped.message(Lang::De).contains("gelöscht"));
}

#[test]
fn bad_config_is_rejected() {
    let clock = TestClock::new(0);
    let mk = |c: SessionConfig| {
        Session::new(
            c,
            clock.clone(),
            MemoryLockStore::new(),
            CountingWiper::default(),
        )
    };
    assert!(matches!(
        mk(SessionConfig::new("not a hash")),
        Err(SessionError::PinHashConfig(_))
    ));
    let mut c = SessionConfig::new(pin_hash());
    c.max_failures = 0;
    assert!(matches!(mk(c), Err(SessionError::Config(_))));
    let mut c = SessionConfig::new(pin_hash());
    c.idle_timeout = Duration::ZERO;
    assert!(matches!(mk(c), Err(SessionError::Config(_))));
    let dbg = format!("{:?}", SessionConfig::new(pin_hash()));
    assert!(!dbg.contains("argon2"), "{dbg}");
}

#[test]
fn shift_needs_unlocked_session_and_is_cleared_by_wipe() {
    let mut config = SessionConfig::new(pin_hash());
    config.max_failures = 1;
    let mut r = rig_with(config);
    let shift = Shift::new(
        "RTW 1",
        vec![CrewMember::new("Anna", "4711", Qualification::NotSan)],
        &*r.clock,
    )
    .unwrap();
    assert_eq!(
        r.session.start_shift(shift.clone()),
        Err(SessionError::Locked)
    );
    r.session.unlock(&pin(GOOD)).unwrap();
    r.session.start_shift(shift.clone()).unwrap();
    assert_eq!(r.session.shift(), Some(&shift));
    r.session.lock();
    assert_eq!(r.session.end_shift(), Err(SessionError::Locked));
    assert_eq!(r.session.unlock(&pin(BAD)), Ok(UnlockOutcome::Wiped));
    assert_eq!(r.session.shift(), None);
}

#[test]
fn errors_have_both_languages() {
    let all = [
        SessionError::PinFormat(PinFormatError::NotDigits),
        SessionError::PinHashConfig("x".into()),
        SessionError::Config("x"),
        SessionError::Hashing("x".into()),
        SessionError::Rng,
        SessionError::Store("x".into()),
        SessionError::StoreCorrupt("x".into()),
        SessionError::WipeFailed("x".into()),
        SessionError::Locked,
        SessionError::Shift(ShiftError::NoCrew),
    ];
    for e in all {
        assert!(!e.to_string().is_empty());
        assert!(!e.message(Lang::De).is_empty());
    }
}

#[test]
fn session_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Session>();
}
