//! The pad's workflows without a screen, over a real vault (SQLite files in
//! a temp dir) and, for the upload, a real gateway on loopback.

use rettpad_clock::{Clock, SharedClock, TestClock};
use rettpad_pad::config::Config;
use rettpad_pad::session::{Qualification, Session};
use rettpad_pad::{Pad, PadEvent, Unlock};
use rettpad_record::catalog::Collection;
use rettpad_record::keys;
use rettpad_record::text::{Lang, UserMessage};
use rettpad_record::{Measured, Num, Payload, Status, Target, Value};
use rettpad_vault::MemoryKeyProvider;
use rettpad_vault::store::{SharedStore, Store, StoreOptions};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const T0: i64 = 1_795_305_600_000 + 13 * 3_600_000;

struct Fixture {
    dir: tempfile::TempDir,
    keys: Arc<MemoryKeyProvider>,
    clock: Arc<TestClock>,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            keys: Arc::new(MemoryKeyProvider::new()),
            clock: TestClock::new(T0),
        }
    }

    /// A pad over the fixture's vault: a second call is a restart.
    fn pad(&self) -> Pad {
        pad_at(self.dir.path(), self.keys.clone(), self.clock.clone())
    }
}

fn pad_at(dir: &Path, keys: Arc<MemoryKeyProvider>, clock: SharedClock) -> Pad {
    let cfg = Config::demo();
    let store = Store::open(dir, keys, clock.clone(), StoreOptions::default()).unwrap();
    let store = SharedStore::new(store);
    let session = Session::new(
        cfg.session_config().unwrap(),
        clock.clone(),
        store.clone(),
        store.clone(),
    )
    .unwrap();
    Pad::new(cfg, clock, store, session)
}

fn hr(n: i64) -> Value {
    Value::Measured(Measured::manual(Num::parse(&n.to_string()).unwrap()))
}

fn crew() -> Vec<(String, String, Qualification)> {
    vec![("Anna Berger".into(), "4711".into(), Qualification::ALL[1])]
}

fn logged_in(f: &Fixture) -> Pad {
    let mut pad = f.pad();
    assert_eq!(pad.unlock("1234"), Unlock::Open { shift: false });
    pad.start_shift("RTW 1/83-1", &crew()).unwrap();
    pad
}

#[test]
fn a_shift_is_kept_across_a_restart_and_ended_for_good() {
    let f = Fixture::new();
    let pad = logged_in(&f);
    assert_eq!(pad.session().shift().unwrap().crew[0].name, "Anna Berger");
    drop(pad);
    // Restart: the PIN brings the shift back, and edits carry its author.
    let mut pad = f.pad();
    assert_eq!(pad.unlock("1234"), Unlock::Open { shift: true });
    let m = pad.create_mission().unwrap();
    let st = pad.store().lock().state(m).cloned().unwrap();
    assert_eq!(st.call_sign, "RTW 1/83-1");
    assert_eq!(st.crew[0].name, "Anna Berger");
    pad.end_shift().unwrap();
    drop(pad);
    let mut pad = f.pad();
    assert_eq!(pad.unlock("1234"), Unlock::Open { shift: false });
}

#[test]
fn a_bad_shift_or_pin_gives_a_message_in_both_languages() {
    let f = Fixture::new();
    let mut pad = f.pad();
    let Unlock::Refused(n) = pad.unlock("0000") else {
        panic!("a wrong PIN must not unlock");
    };
    assert!(n.message(Lang::De).contains("Falsche PIN"), "{n:?}");
    assert!(n.message(Lang::En).starts_with("Wrong PIN"), "{n:?}");
    assert!(matches!(pad.unlock("12a4"), Unlock::Refused(_)));
    assert_eq!(pad.unlock("1234"), Unlock::Open { shift: false });
    let e = pad
        .start_shift("", &crew())
        .expect_err("no call sign, no shift");
    assert!(!e.de.is_empty() && !e.en.is_empty() && e.de != e.en);
    assert!(pad.session().shift().is_none());
    let e = pad
        .start_shift("RTW 1", &[])
        .expect_err("no crew, no shift");
    assert!(!e.de.is_empty());
}

/// The PIN check on a worker: the attempt counts before the check, the
/// caller's thread never waits for Argon2id.
fn unlock_on_a_worker(pad: &mut Pad, pin: &str) -> Unlock {
    if let Some(u) = pad.start_unlock(pin) {
        return u;
    }
    assert!(pad.unlock_pending());
    assert!(pad.start_unlock(pin).is_none(), "one check at a time");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(u) = pad.poll_unlock() {
            assert!(!pad.unlock_pending());
            return u;
        }
        assert!(Instant::now() < deadline, "PIN check never finished");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn the_pin_is_checked_on_a_worker_and_counted_before() {
    let f = Fixture::new();
    let mut pad = f.pad();
    assert!(matches!(
        unlock_on_a_worker(&mut pad, "0000"),
        Unlock::Refused(_)
    ));
    // A restart during a check cannot give a free guess: the attempt is
    // on disk as soon as the check starts.
    assert!(pad.start_unlock("0001").is_none());
    drop(pad);
    let mut pad = f.pad();
    assert_eq!(pad.session().remaining_attempts(), 3);
    assert_eq!(
        unlock_on_a_worker(&mut pad, "1234"),
        Unlock::Open { shift: false }
    );
    assert_eq!(
        pad.session().remaining_attempts(),
        5,
        "a right PIN resets the count"
    );
}

#[test]
fn five_wrong_pins_on_the_worker_wipe() {
    let f = Fixture::new();
    let mut pad = logged_in(&f);
    pad.create_mission().unwrap();
    pad.lock();
    for _ in 0..4 {
        assert!(matches!(
            unlock_on_a_worker(&mut pad, "9999"),
            Unlock::Refused(_)
        ));
    }
    assert!(matches!(
        unlock_on_a_worker(&mut pad, "9999"),
        Unlock::Wiped(_)
    ));
    assert_eq!(pad.store().lock().mission_ids().count(), 0);
}

#[test]
fn five_wrong_pins_wipe_and_leave_no_open_mission() {
    let f = Fixture::new();
    let mut pad = logged_in(&f);
    pad.create_mission().unwrap();
    pad.lock();
    for _ in 0..4 {
        assert!(matches!(pad.unlock("9999"), Unlock::Refused(_)));
    }
    assert!(matches!(pad.unlock("9999"), Unlock::Wiped(_)));
    assert_eq!(pad.cursor.mission, None);
    assert_eq!(pad.store().lock().mission_ids().count(), 0);
}

#[test]
fn editing_a_mission_lands_in_the_vault() {
    let f = Fixture::new();
    let mut pad = logged_in(&f);
    let m = pad.create_mission().unwrap();
    let p = pad
        .cursor
        .patient
        .expect("a new mission has its first patient");
    pad.set_text(keys::patient::FAMILY_NAME, "  Müller ")
        .unwrap();
    pad.set_text(keys::patient::BIRTH_DATE, "12.08.1950")
        .unwrap();
    let bad = pad
        .set_text(keys::patient::BIRTH_DATE, "12/08/50")
        .unwrap_err();
    assert!(bad.de.contains("TT.MM.JJJJ"), "{bad:?}");
    pad.choose(keys::patient::SEX, "W").unwrap();
    pad.choose(keys::patient::SEX, "W").unwrap(); // tapped again: taken back
    pad.time_now(keys::time::ALARM).unwrap();
    pad.time_shift(keys::time::ALARM, -5).unwrap();
    let st = pad.state().unwrap();
    let pat = st.patient(p).unwrap();
    assert_eq!(
        pat.get(keys::patient::FAMILY_NAME),
        Some(&Value::text("Müller"))
    );
    let Some(Value::Date(d)) = pat.get(keys::patient::BIRTH_DATE) else {
        panic!("birth date set");
    };
    assert_eq!(d.to_string(), "12.08.1950");
    assert_eq!(pat.get(keys::patient::SEX), None);
    let Some(Value::Time(t)) = st.get(keys::time::ALARM) else {
        panic!("alarm time set");
    };
    assert_eq!(t.at_ms, f.clock.wall_ms() - 5 * 60_000);
    // Entries: the time field defaults to now; repeat and retract.
    pad.add_entry(Collection::Vitals, vec![(keys::vitals::HR.into(), hr(112))])
        .unwrap();
    pad.repeat_last(Collection::Vitals).unwrap();
    let st = pad.state().unwrap();
    let vitals: Vec<_> = st.entries_of(p, Collection::Vitals).collect();
    assert_eq!(vitals.len(), 2);
    assert!(vitals.iter().all(|e| e.get(keys::vitals::AT).is_some()));
    pad.retract_entry("vom Anwender zurückgezogen").unwrap();
    assert_eq!(
        pad.state()
            .unwrap()
            .entries_of(p, Collection::Vitals)
            .count(),
        1
    );
    // A second patient, then the mission from the list again.
    let p2 = pad.add_patient().unwrap();
    assert_ne!(p, p2);
    pad.cursor = Default::default();
    pad.open_mission(m).unwrap();
    assert_eq!(pad.cursor.mission, Some(m));
    // Nothing is written without an open mission.
    pad.cursor = Default::default();
    assert!(pad.set_text(keys::remarks::TEXT, "x").is_err());
}

#[test]
fn an_implied_value_is_set_only_where_the_field_is_empty() {
    let f = Fixture::new();
    let mut pad = logged_in(&f);
    pad.create_mission().unwrap();
    pad.set_text(keys::transport::HOSPITAL, "Klinikum Mitte")
        .unwrap();
    let p = pad.cursor.patient.unwrap();
    let st = pad.state().unwrap();
    assert_eq!(
        st.patient(p).unwrap().get(keys::transport::DONE),
        Some(&Value::Bool(true)),
        "a target hospital implies a transport"
    );
}

#[test]
fn a_mission_with_hard_findings_is_not_closed() {
    let f = Fixture::new();
    let mut pad = logged_in(&f);
    let m = pad.create_mission().unwrap();
    let e = pad.close_mission().unwrap_err();
    assert!(e.de.starts_with("Abschluss nicht möglich"), "{e:?}");
    assert_ne!(pad.store().lock().state(m).unwrap().status, Status::Closed);
    assert_eq!(pad.cursor.mission, Some(m), "the crew stays on it");
}

#[test]
fn a_closed_mission_is_sealed_off_the_callers_thread_uploaded_and_then_gone() {
    let f = Fixture::new();
    let gw_dir = tempfile::tempdir().unwrap();
    let gw = rettpad_gateway::local::start(gw_dir.path()).unwrap();
    // The uploader's receipts are checked against wall time.
    let clock: SharedClock = rettpad_clock::SystemClock::shared();
    let mut pad = pad_at(f.dir.path(), f.keys.clone(), clock.clone());
    assert_eq!(pad.unlock("1234"), Unlock::Open { shift: false });
    pad.start_shift("RTW 1/83-1", &crew()).unwrap();
    let m = {
        let mut st = pad.store().lock();
        let m = st.open_mission("RTW 1/83-1", vec![]).unwrap();
        st.apply(
            m,
            Payload::Set {
                target: Target::Mission,
                field: keys::remarks::TEXT.into(),
                value: Value::text("Testeinsatz"),
            },
        )
        .unwrap();
        st.apply(m, Payload::Closed).unwrap();
        m
    };
    pad.attach_upload(&gw.upload, Vec::new()).unwrap();
    // Closed before the uploader ran (a crash between close and seal):
    // the next tick seals it, on a worker.
    let mut queued = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        for e in pad.tick() {
            match e {
                PadEvent::Queued(q) => {
                    assert_eq!(q, m);
                    queued = true;
                }
                PadEvent::SealFailed(_, n) => panic!("sealing failed: {n:?}"),
                PadEvent::Locked | PadEvent::Dispatched(_) | PadEvent::PreNotified(_) => {}
                PadEvent::PreNoticeFailed(_, n) => panic!("pre-notice failed: {n:?}"),
                PadEvent::ChannelRefused(n) => panic!("channel refused: {n:?}"),
                other => panic!("unexpected {other:?}"),
            }
        }
        if queued && pad.store().lock().state(m).is_none() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(queued, "the worker reported the packet queued");
    assert!(
        pad.store().lock().state(m).is_none(),
        "deleted after the gateway's receipt"
    );
    assert!(!pad.outbox().sealing());
}

#[test]
fn printing_renders_on_a_worker_and_yields_the_print_event() {
    use rettpad_pad::print::{PrintUpdate, Printing};
    use std::io::Read;
    let f = Fixture::new();
    let mut pad = logged_in(&f);
    let m = pad.create_mission().unwrap();
    let (mut master, slave) = serialport::TTYPort::pair().expect("pty pair");
    let mut printers = pad.config().printers.clone();
    if let Some(mp) = printers.mobile.as_mut() {
        mp.path = serialport::SerialPort::name(&slave).expect("pty name");
    }
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        let _ = serialport::SerialPort::set_timeout(&mut master, Duration::from_millis(200));
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(n) = master.read(&mut buf) {
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        }
    });
    let mut job = Printing::open(pad.store(), m, &printers).expect("a mission to print");
    // Returns at once: nothing printable until the worker rendered it.
    assert!(job.busy() && !job.can_print());
    assert!(!job.print_on(0), "no printing before the document exists");
    let mobile = job
        .printers()
        .iter()
        .position(|p| matches!(p, rettpad_report::print::Printer::Mobile(_)))
        .expect("the vehicle's mobile printer is offered");
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut printed = None;
    while printed.is_none() && Instant::now() < deadline {
        for u in job.poll() {
            match u {
                PrintUpdate::Ready(preview) => {
                    let p = preview.expect("page 1 previewed");
                    assert_eq!(p.rgba.len(), (p.width * p.height * 4) as usize);
                    assert!(job.print_on(mobile));
                }
                PrintUpdate::RenderFailed(n) => panic!("render failed: {n:?}"),
                PrintUpdate::Status { error, text, .. } => assert!(!error, "{text}"),
                PrintUpdate::Printed(ev) => printed = Some(ev),
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let ev = printed.expect("printed");
    pad.apply(ev).unwrap();
    let st = pad.state().unwrap();
    assert!(
        st.audited_since_ms.is_some(),
        "changes are audited from now on"
    );
    assert!(
        got.lock().unwrap().starts_with(b"\x1bE"),
        "PCL reached the printer"
    );
}

#[test]
fn the_missions_page_warns_when_acknowledged_entries_are_missing() {
    let f = Fixture::new();
    {
        let mut pad = logged_in(&f);
        pad.create_mission().unwrap();
        pad.set_field(keys::mission::NUMBER, Some(Value::text("E-1")))
            .unwrap();
    }
    // After a restart (the close checkpointed the WAL) two more edits live
    // only in the WAL; a copy of the files stops after the WAL's header.
    let mut pad = f.pad();
    assert_eq!(pad.unlock("1234"), Unlock::Open { shift: true });
    assert!(
        pad.recovery_warning().is_none(),
        "a clean vault says nothing"
    );
    let m = pad.store().lock().mission_ids().next().unwrap();
    pad.open_mission(m).unwrap();
    pad.set_field(keys::mission::NUMBER, Some(Value::text("E-2")))
        .unwrap();
    pad.set_field(keys::mission::NUMBER, Some(Value::text("E-3")))
        .unwrap();
    let copy = f.dir.path().join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for name in ["vault.sqlite", "vault.hwm"] {
        std::fs::copy(f.dir.path().join(name), copy.join(name)).unwrap();
    }
    let wal = std::fs::read(f.dir.path().join("vault.sqlite-wal")).unwrap();
    std::fs::write(copy.join("vault.sqlite-wal"), &wal[..32]).unwrap();
    drop(pad);

    let pad = pad_at(&copy, f.keys.clone(), f.clock.clone());
    let n = pad.recovery_warning().expect("the loss is shown");
    let de = n.message(Lang::De);
    assert!(de.contains("2 bestätigte Einträge fehlen"), "{de}");
    assert!(
        n.message(Lang::En)
            .contains("2 acknowledged entries are missing")
    );
    // The mission still opens with what the database kept.
    let st = pad.store().lock().state(m).cloned().unwrap();
    assert_eq!(st.get(keys::mission::NUMBER), Some(&Value::text("E-1")));
}
