//! RFID unlock end to end through the real PC/SC stack: our own `pcscd -f`
//! with vsmartcard's vpcd, `rettpad-sim card --mifare-staff UID` playing a
//! staff card, the pad's card watcher and the pad core over a real vault.
//! Shares the machine's one pcscd with the card tests through the same
//! lock; needs `cargo xtask deps --test`, and fails (never skips) otherwise.

use rettpad_card::mifare::{KeyType, MifareKey};
use rettpad_clock::{SharedClock, TestClock};
use rettpad_devices::pairing::{PairingConfig, PairingError};
use rettpad_pad::config::Config;
use rettpad_pad::session::Session;
use rettpad_pad::watcher::{CardEvent, Watcher, WatcherConfig, badge_hash};
use rettpad_pad::{Pad, Unlock};
use rettpad_provision::keys::{Purpose, RootKey};
use rettpad_provision::package::{Builder, PartName, Target};
use rettpad_provision::parts::from_toml;
use rettpad_sim::vpcd::{Pcscd, PcscdLock};
use rettpad_vault::MemoryKeyProvider;
use rettpad_vault::store::{SharedStore, Store, StoreOptions};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const T0: i64 = 1_796_000_000_000;
const ANNA: [u8; 4] = [0x0A, 0x0B, 0x0C, 0x0D];

struct Tag(Child);

impl Tag {
    fn insert(args: &[&str]) -> Tag {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rettpad-sim"))
            .args(["card", "--mifare"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start rettpad-sim card --mifare");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut l = String::new();
        out.read_line(&mut l).expect("emulator output");
        assert_eq!(l.trim(), "INSERTED", "emulator did not connect to vpcd");
        Tag(child)
    }
}

impl Drop for Tag {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The next card event of interest (a badge or a pairing tag).
fn next_card(rx: &Receiver<CardEvent>) -> CardEvent {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left).expect("a card event within 10 s") {
            e @ (CardEvent::Badge { .. } | CardEvent::Pairing { .. }) => return e,
            CardEvent::Read { .. } => panic!("a MIFARE card was read as an insurance card"),
            _ => {}
        }
    }
}

/// Waits until the watcher saw the card go, so the next one is new.
fn removed(rx: &Receiver<CardEvent>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if let CardEvent::CardRemoved { .. } =
            rx.recv_timeout(left).expect("the removal within 10 s")
        {
            return;
        }
    }
}

fn watcher(badges: bool) -> (Watcher, Receiver<CardEvent>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let mut wc = WatcherConfig::new(TestClock::new(0));
    wc.pairing = Some(PairingConfig {
        mifare_key: MifareKey::from_hex("A0A1A2A3A4A5").expect("key"),
        key_type: KeyType::A,
        sector: 1,
    });
    wc.badges = badges;
    (Watcher::spawn(tx, wc).expect("watcher"), rx)
}

/// A pad whose staff list knows Anna's card, with RFID unlock on.
fn pad() -> Pad {
    let (root, _) = RootKey::generate().unwrap();
    let key = root
        .new_signing_key("rd-test", vec![Purpose::Packages], T0 - 1, T0 + 86_400_000)
        .unwrap()
        .key;
    let pin = rettpad_pad::session::Pin::new("1234".to_string()).unwrap();
    let settings = format!(
        "pin_hash = \"{}\"\nidle_lock_minutes = 15\nmax_wrong_pins = 5\nrfid_unlock = true\n",
        rettpad_pad::session::hash_pin(&pin).unwrap()
    );
    let staff = format!(
        "[[staff]]\nnumber = \"4711\"\nname = \"Anna Berger\"\nqualification = \"notsan\"\nrfid_sha256 = \"{}\"\n",
        badge_hash(&ANNA)
    );
    let package = Builder::new("rd-test", Target::All, T0)
        .part(
            PartName::Settings,
            1,
            from_toml(PartName::Settings, &settings).unwrap(),
        )
        .part(
            PartName::Staff,
            1,
            from_toml(PartName::Staff, &staff).unwrap(),
        )
        .sign(&key)
        .unwrap();
    let mut cfg = Config::demo();
    cfg.fleet = Some(root.trust("rd-test"));
    let clock: SharedClock = TestClock::new(T0);
    let dir = tempfile::tempdir().unwrap().keep();
    let store = SharedStore::new(
        Store::open(
            &dir,
            Arc::new(MemoryKeyProvider::new()),
            clock.clone(),
            StoreOptions::default(),
        )
        .unwrap(),
    );
    rettpad_pad::fleet::apply_package(&store, cfg.fleet.as_ref(), &cfg.device_serial, &package, T0)
        .unwrap();
    let (eff, _) = rettpad_pad::fleet::load(&cfg, &store);
    let session = Session::new(
        eff.session_config().unwrap(),
        clock.clone(),
        store.clone(),
        store.clone(),
    )
    .unwrap();
    Pad::new(cfg, clock, store, session)
}

#[test]
fn a_staff_card_unlocks_and_logs_its_holder_in_an_unknown_card_counts_as_wrong() {
    let _lock = PcscdLock::acquire().expect("pcscd lock file");
    let _pcscd =
        Pcscd::start().unwrap_or_else(|e| panic!("CANNOT RUN THE BADGE END-TO-END TEST: {e}"));

    // Without RFID unlock the watcher reports a staff card as a tag it
    // cannot open, as before.
    let (mut w, rx) = watcher(false);
    let tag = Tag::insert(&["--mifare-staff", "0A0B0C0D"]);
    match next_card(&rx) {
        CardEvent::Pairing { result, .. } => {
            assert_eq!(result.map(|_| ()), Err(PairingError::WrongKey))
        }
        other => panic!("{other:?}"),
    }
    drop(tag);
    removed(&rx);
    w.shutdown();

    let (mut w, rx) = watcher(true);
    // A pairing tag stays a pairing tag.
    let tag = Tag::insert(&[]);
    let e = next_card(&rx);
    assert!(
        matches!(e, CardEvent::Pairing { result: Ok(_), .. }),
        "{e:?}"
    );
    drop(tag);
    removed(&rx);
    // Anna's card: only the hash of its UID leaves the watcher.
    let tag = Tag::insert(&["--mifare-staff", "0A0B0C0D"]);
    let CardEvent::Badge { uid_sha256, .. } = next_card(&rx) else {
        panic!("no badge event")
    };
    drop(tag);
    removed(&rx);
    assert_eq!(uid_sha256, badge_hash(&ANNA));
    assert!(!uid_sha256.contains("0a0b0c0d"));

    let mut pad = pad();
    assert!(pad.rfid_unlock());
    assert!(pad.session().is_locked());
    assert_eq!(pad.badge(&uid_sha256), Some(Unlock::Open { shift: true }));
    let crew = &pad.session().shift().unwrap().crew;
    assert_eq!(crew[0].name, "Anna Berger");
    assert!(crew[0].listed);
    // Unlocked, a card means nothing.
    assert_eq!(pad.badge(&uid_sha256), None);
    pad.lock();

    // Another card: a wrong attempt, counted toward the wipe.
    let tag = Tag::insert(&["--mifare-staff", "DEADBEEF"]);
    let CardEvent::Badge {
        uid_sha256: other, ..
    } = next_card(&rx)
    else {
        panic!("no badge event")
    };
    drop(tag);
    w.shutdown();
    let Some(Unlock::Refused(n)) = pad.badge(&other) else {
        panic!("an unknown card opened the pad")
    };
    assert!(
        n.de.starts_with("Unbekannte Karte. Noch 4 Versuche"),
        "{}",
        n.de
    );
    assert_eq!(pad.session().remaining_attempts(), 4);
    // The right card resets the count like the right PIN.
    assert!(matches!(pad.badge(&uid_sha256), Some(Unlock::Open { .. })));
    assert_eq!(pad.session().remaining_attempts(), 5);
}
