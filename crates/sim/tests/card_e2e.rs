//! eGK/KVK end to end through the real PC/SC stack: our own `pcscd -f`
//! (with vsmartcard's vpcd driver) and `rettpad-sim card` playing the card.
//! The tests share the machine's one pcscd, so each takes a cross-process
//! lock. They need root and the packages from `cargo xtask deps --test`;
//! when pcscd cannot start they fail with the reason, they never skip.

use rettpad_card::pcsc_io::{self, read_reader};
use rettpad_card::{CardError, CardKind, Proposal};
use rettpad_clock::{SharedClock, TestClock};
use rettpad_pad::watcher::{CardEvent, ReaderStatus, Watcher, WatcherConfig};
use rettpad_record::keys;
use rettpad_record::{Author, PatientId, Payload, Target, Value};
use rettpad_sim::vpcd::{Pcscd, PcscdLock, VPCD_READER};
use rettpad_text::{Lang, UserMessage};
use rettpad_vault::FileKeyProvider;
use rettpad_vault::store::{Store, StoreOptions};
use std::ffi::CString;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};
use uuid::Uuid;

const T0: i64 = 1_795_305_600_000;

/// pcscd for one test, under the lock.
fn pcscd() -> (PcscdLock, Pcscd) {
    let lock = PcscdLock::acquire().expect("pcscd lock file");
    match Pcscd::start() {
        Ok(d) => (lock, d),
        Err(e) => panic!("CANNOT RUN THE CARD END-TO-END TESTS: {e}"),
    }
}

/// A running `rettpad-sim card …`; killed on drop.
struct Emu {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Emu {
    fn start(args: &[&str]) -> Emu {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rettpad-sim"))
            .arg("card")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start rettpad-sim card");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut e = Emu { child, out };
        assert_eq!(e.line(), "INSERTED", "emulator did not connect to vpcd");
        e
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.out.read_line(&mut l).expect("emulator output");
        l.trim().to_string()
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn reader() -> CString {
    CString::new(VPCD_READER).expect("reader name")
}

/// Waits until pcscd sees a card (or none) in the vpcd reader.
fn wait_card(ctx: &pcsc::Context, present: bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut st = [pcsc::ReaderState::new(reader(), pcsc::State::UNAWARE)];
    loop {
        let _ = ctx.get_status_change(Duration::from_millis(200), &mut st);
        if st[0].event_state().contains(pcsc::State::PRESENT) == present {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "card presence never became {present}"
        );
        st[0].sync_current_state();
    }
}

/// Inserts a card with `args`, reads it once through pcscd, removes it.
fn read_with(args: &[&str]) -> Result<rettpad_card::CardData, CardError> {
    let ctx = pcsc_io::establish().expect("context");
    let emu = Emu::start(args);
    wait_card(&ctx, true);
    let r = read_reader(&ctx, &reader());
    drop(emu);
    wait_card(&ctx, false);
    r
}

fn store(dir: &std::path::Path) -> (Store, rettpad_record::MissionId, PatientId) {
    let clock: SharedClock = TestClock::new(T0);
    let mut s = Store::open(
        &dir.join("data"),
        Arc::new(FileKeyProvider::new(dir.join("keys").join("device.key"))),
        clock,
        StoreOptions::default(),
    )
    .expect("store");
    s.set_author(Some(Author {
        device: "PAD-CARD".into(),
        crew_member: Uuid::from_u128(3),
    }));
    let m = s.open_mission("RTW 1", vec![]).expect("mission");
    let p = PatientId::new();
    s.apply(m, Payload::PatientAdded { patient: p })
        .expect("patient");
    s.apply(
        m,
        Payload::Set {
            target: Target::Patient(p),
            field: keys::patient::GIVEN_NAME.into(),
            value: Value::text("Jürgen"),
        },
    )
    .expect("name");
    (s, m, p)
}

fn next(rx: &Receiver<CardEvent>, what: &str, pred: impl Fn(&CardEvent) -> bool) -> CardEvent {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(ev) if pred(&ev) => return ev,
            Ok(_) => {}
            Err(_) => panic!("no {what} event within 15 s"),
        }
    }
}

#[test]
fn no_service_without_pcscd() {
    let _lock = PcscdLock::acquire().expect("lock");
    // With the lock held no test's pcscd runs; a foreign one would make
    // this meaningless, so say so.
    if let Ok(pid) = std::fs::read_to_string("/run/pcscd/pcscd.pid") {
        let pid: i32 = pid.trim().parse().unwrap_or(0);
        assert!(
            pid <= 0 || unsafe { libc::kill(pid, 0) } != 0,
            "a foreign pcscd (pid {pid}) is running; stop it"
        );
    }
    let e = pcsc_io::establish().err().expect("no pcscd, no context");
    assert!(matches!(e, CardError::NoService(_)), "{e:?}");
    assert!(
        e.message(Lang::De)
            .starts_with("Kartenleser-Dienst nicht verfügbar.")
    );
    assert!(e.message(Lang::De).contains("Ersatzverfahren"));
}

#[test]
fn normal_egk_read_into_the_record_after_confirmation() {
    let (_l, _d) = pcscd();
    let tmp = tempfile::tempdir().expect("tmp");
    let (mut s, m, p) = store(tmp.path());
    let card = read_with(&[]).expect("eGK read");
    assert_eq!(card.kind, CardKind::Egk);
    assert_eq!(card.person.family_name, "Großmann");
    assert_eq!(card.person.insurance_number.as_deref(), Some("M223344550"));
    assert!(card.warnings.is_empty());

    let before = s.log(m).expect("log").len();
    let prop = Proposal::build(s.state(m).expect("state"), p, &card, T0).expect("proposal");
    // Nothing is written before the confirmation.
    assert_eq!(s.log(m).expect("log").len(), before);
    let conflicts: Vec<_> = prop.conflicts().map(|i| i.field).collect();
    assert_eq!(conflicts, [keys::patient::GIVEN_NAME]);
    let payloads = prop
        .confirm(s.state(m).expect("state"), &[])
        .expect("confirm");
    for pl in payloads {
        s.apply(m, pl).expect("durable");
    }
    let ps = s.state(m).expect("state").patient(p).expect("patient");
    assert_eq!(
        ps.get(keys::patient::GIVEN_NAME),
        Some(&Value::text("Jürgen"))
    );
    assert_eq!(
        ps.get(keys::patient::FAMILY_NAME),
        Some(&Value::text("von Großmann"))
    );
    assert_eq!(
        ps.get(keys::insurance::NUMBER),
        Some(&Value::text("M223344550"))
    );
    assert_eq!(ps.get(keys::patient::ID_SOURCE), Some(&Value::code("01")));
}

#[test]
fn watcher_reads_a_card_inserted_while_waiting_and_sees_removal() {
    let (_l, _d) = pcscd();
    let (tx, rx) = channel();
    let mut w = Watcher::spawn(tx, WatcherConfig::new(TestClock::new(T0))).expect("watcher");
    let mut status = ReaderStatus::default();
    let ev = next(
        &rx,
        "reader list",
        |e| matches!(e, CardEvent::Readers(r) if r.iter().any(|n| n == VPCD_READER)),
    );
    status.apply(&CardEvent::ServiceUp);
    status.apply(&ev);
    assert_eq!(status.message(Lang::De), "Kartenleser bereit – keine Karte");

    let mut emu = Emu::start(&["--hold-ms", "1500"]);
    let ins = next(&rx, "insert", |e| {
        matches!(e, CardEvent::CardInserted { .. })
    });
    status.apply(&ins);
    assert_eq!(status.message(Lang::De), "Karte steckt");
    match next(&rx, "read", |e| matches!(e, CardEvent::Read { .. })) {
        CardEvent::Read {
            reader,
            at_ms,
            result,
        } => {
            assert_eq!(reader, VPCD_READER);
            assert_eq!(at_ms, T0);
            let d = result.expect("read ok");
            assert_eq!(d.person.given_name, "Jürgen Karl");
        }
        _ => unreachable!(),
    }
    assert_eq!(emu.line(), "REMOVED");
    let rem = next(&rx, "removal", |e| {
        matches!(e, CardEvent::CardRemoved { .. })
    });
    status.apply(&rem);
    assert_eq!(status.message(Lang::De), "Kartenleser bereit – keine Karte");
    let t = Instant::now();
    w.shutdown();
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        t.elapsed()
    );
}

#[test]
fn removal_during_the_read_then_a_clean_reread() {
    let (_l, _d) = pcscd();
    let tmp = tempfile::tempdir().expect("tmp");
    let (s, m, _p) = store(tmp.path());
    let before = s.log(m).expect("log").len();
    for n in ["3", "5", "7"] {
        let e = read_with(&["--drop-after", n]).expect_err("read must fail");
        // The log says what happened, as the crew's text does.
        assert_eq!(e, CardError::Removed, "drop after {n}: {e:?}");
        assert!(e.to_string().contains("removed"), "{e}");
        assert!(
            e.message(Lang::De)
                .starts_with("Karte entfernt – bitte erneut stecken.")
        );
        assert!(e.retry_may_help());
    }
    assert_eq!(
        s.log(m).expect("log").len(),
        before,
        "the record is untouched"
    );
    let d = read_with(&[]).expect("reinserted card reads");
    assert_eq!(d.kind, CardKind::Egk);
}

#[test]
fn watcher_recovers_after_a_pcscd_restart() {
    let (_l, mut d) = pcscd();
    let (tx, rx) = channel();
    let _w = Watcher::spawn(tx, WatcherConfig::new(TestClock::new(T0))).expect("watcher");
    next(
        &rx,
        "reader list",
        |e| matches!(e, CardEvent::Readers(r) if !r.is_empty()),
    );
    d.kill_hard();
    match next(&rx, "service down", |e| {
        matches!(e, CardEvent::ServiceDown(_))
    }) {
        CardEvent::ServiceDown(e) => {
            assert!(
                e.message(Lang::De)
                    .starts_with("Kartenleser-Dienst nicht verfügbar.")
            )
        }
        _ => unreachable!(),
    }
    drop(d);
    let _d2 = Pcscd::start().unwrap_or_else(|e| panic!("restart pcscd: {e}"));
    next(&rx, "service up", |e| matches!(e, CardEvent::ServiceUp));
    next(
        &rx,
        "reader list",
        |e| matches!(e, CardEvent::Readers(r) if r.iter().any(|n| n == VPCD_READER)),
    );
    let _emu = Emu::start(&[]);
    match next(&rx, "read", |e| matches!(e, CardEvent::Read { .. })) {
        CardEvent::Read { result, .. } => assert_eq!(result.expect("read").kind, CardKind::Egk),
        _ => unreachable!(),
    }
}

#[test]
fn blocked_card() {
    let (_l, _d) = pcscd();
    let e = read_with(&["--blocked"]).expect_err("blocked");
    assert_eq!(e, CardError::Blocked { sw: 0x6283 });
    assert!(
        e.message(Lang::De)
            .starts_with("Gesundheitskarte gesperrt.")
    );
    assert!(e.message(Lang::De).contains("Ersatzverfahren"));
}

#[test]
fn kvk_card() {
    let (_l, _d) = pcscd();
    let d = read_with(&["--kvk"]).expect("KVK read");
    assert_eq!(d.kind, CardKind::Kvk);
    assert_eq!(d.person.family_name, "Müller-Lüdenscheidt");
    assert_eq!(d.person.sex, None);
    let e = read_with(&["--kvk", "--corrupt", "checksum"]).expect_err("checksum");
    assert_eq!(e, CardError::KvkChecksum);
    assert!(
        e.message(Lang::De)
            .starts_with("Karte beschädigt (Prüfsumme).")
    );
}

#[test]
fn corrupt_and_unknown_cards_give_their_messages() {
    let (_l, _d) = pcscd();
    let cases: &[(&[&str], &str)] = &[
        (&["--corrupt", "container"], "Kartendaten beschädigt."),
        (
            &["--corrupt", "gzip"],
            "Kartendaten beschädigt (Entpacken).",
        ),
        (
            &["--corrupt", "zip-bomb"],
            "Kartendaten beschädigt (Entpacken).",
        ),
        (&["--corrupt", "xml"], "Versichertendaten unlesbar."),
        (&["--other"], "Karte nicht erkannt (keine eGK/KVK)."),
    ];
    for (args, msg) in cases {
        let e = read_with(args).expect_err("must fail");
        let m = e.message(Lang::De);
        assert!(m.starts_with(msg), "{args:?}: {m}");
        assert!(m.contains("Ersatzverfahren"));
    }
    let e = read_with(&["--corrupt", "zip-bomb"]).expect_err("bomb");
    assert!(e.is_security_event());
    // An interrupted update is a warning on an otherwise good read.
    let d = read_with(&["--update-interrupted"]).expect("read");
    assert_eq!(
        d.warnings,
        vec![rettpad_card::CardWarning::UpdateInterrupted]
    );
}
