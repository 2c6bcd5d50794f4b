//! Pairing tags end to end through the real PC/SC stack: our own
//! `pcscd -f` with vsmartcard's vpcd driver, and `rettpad-sim card --mifare`
//! playing a MIFARE Classic 1K as a contactless reader exposes it. Shares
//! the machine's one pcscd with the card tests through the same lock; needs
//! root and `cargo xtask deps --test`, and fails (never skips) otherwise.

use rettpad_card::mifare::{ATR_MIFARE_1K, KeyType, MifareKey};
use rettpad_card::pcsc_io;
use rettpad_clock::TestClock;
use rettpad_devices::pairing::{
    PairingConfig, PairingError, read_any_reader, read_pcsc, sample_record,
};
use rettpad_pad::watcher::{CardEvent, Watcher, WatcherConfig};
use rettpad_sim::vpcd::{Pcscd, PcscdLock, VPCD_READER};
use rettpad_text::{Lang, UserMessage};
use std::ffi::CString;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn pcscd() -> (PcscdLock, Pcscd) {
    let lock = PcscdLock::acquire().expect("pcscd lock file");
    match Pcscd::start() {
        Ok(d) => (lock, d),
        Err(e) => panic!("CANNOT RUN THE PAIRING END-TO-END TESTS: {e}"),
    }
}

/// A running `rettpad-sim card --mifare …`; killed on drop.
struct Tag {
    child: Child,
}

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
        Tag { child }
    }
}

impl Drop for Tag {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn reader() -> CString {
    CString::new(VPCD_READER).expect("reader name")
}

fn wait_card(ctx: &pcsc::Context, present: bool) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut st = [pcsc::ReaderState::new(reader(), pcsc::State::UNAWARE)];
    loop {
        let _ = ctx.get_status_change(Duration::from_millis(200), &mut st);
        if st[0].event_state().contains(pcsc::State::PRESENT) == present {
            return st[0].atr().to_vec();
        }
        assert!(
            Instant::now() < deadline,
            "card presence never became {present}"
        );
        st[0].sync_current_state();
    }
}

fn cfg(key: &str) -> PairingConfig {
    PairingConfig {
        mifare_key: MifareKey::from_hex(key).expect("key"),
        key_type: KeyType::A,
        sector: 1,
    }
}

const KEY: &str = "A0A1A2A3A4A5";

/// Inserts a tag with `args`, reads it once with `key`, removes it.
fn read_with(
    args: &[&str],
    key: &str,
) -> Result<rettpad_devices::pairing::PairingRecord, PairingError> {
    let ctx = pcsc_io::establish().expect("context");
    let tag = Tag::insert(args);
    let atr = wait_card(&ctx, true);
    assert_eq!(atr, ATR_MIFARE_1K, "the reader shows the PC/SC part 3 ATR");
    let r = read_pcsc(&ctx, &reader(), &cfg(key));
    drop(tag);
    wait_card(&ctx, false);
    r
}

#[test]
fn pairing_tag_good_wrong_key_corrupt_removed() {
    let (_lock, _pcscd) = pcscd();

    // A good tag becomes a device configuration.
    let rec = read_with(&[], KEY).expect("pairing record");
    assert_eq!(rec, sample_record());
    let dc = rec.to_device_config("Monitor");
    assert_eq!(dc.link.to_string(), "rfcomm:00:1B:DC:0F:12:34:1");
    assert_eq!(dc.serial.as_deref(), Some("DE00000001"));
    assert!(!format!("{dc:?}").contains("8642"));

    // The pad's key does not open the tag.
    let e = read_with(&[], "FFFFFFFFFFFF").expect_err("wrong key");
    assert_eq!(e, PairingError::WrongKey);
    // … nor does the tag's key when the tag was keyed differently.
    let e = read_with(&["--mifare-key", "112233445566"], KEY).expect_err("wrong key");
    assert_eq!(e, PairingError::WrongKey);

    // A flipped byte fails the CRC; a foreign tag has no magic.
    let e = read_with(&["--mifare-corrupt", "crc"], KEY).expect_err("corrupt");
    assert_eq!(e, PairingError::Corrupt);
    assert!(e.message(Lang::De).contains("beschädigt"));
    let e = read_with(&["--mifare-corrupt", "magic"], KEY).expect_err("foreign");
    assert!(matches!(e, PairingError::NotPairingCard(_)), "{e:?}");

    // Pulled away mid-read (after LOAD KEY, AUTH and one READ).
    let e = read_with(&["--drop-after", "3"], KEY).expect_err("removed");
    assert_eq!(e, PairingError::Removed, "{e:?}");
    assert!(e.message(Lang::De).contains("entfernt"));

    // The UI's entry point: any reader, the key from configuration.
    let ctx = pcsc_io::establish().expect("context");
    let tag = Tag::insert(&[]);
    wait_card(&ctx, true);
    assert_eq!(
        read_any_reader(None).expect_err("no key configured"),
        PairingError::NoKey
    );
    assert_eq!(read_any_reader(Some(&cfg(KEY))), Ok(sample_record()));
    drop(tag);
    wait_card(&ctx, false);

    // And a BLE device's tag.
    let rec = read_with(&["--mifare-proto", "ble"], KEY).expect("ble record");
    assert_eq!(rec.link(), "ble:00:1B:DC:0F:12:34");

    // The card watcher knows a tag by its ATR and reads it as a pairing
    // tag, never as an insurance card (no `Read` event for it).
    for (key, want) in [
        (Some(cfg(KEY)), Ok(sample_record())),
        (None, Err(PairingError::NoKey)),
    ] {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut wc = WatcherConfig::new(TestClock::new(0));
        wc.pairing = key;
        let mut w = Watcher::spawn(tx, wc).expect("watcher");
        let tag = Tag::insert(&[]);
        let deadline = Instant::now() + Duration::from_secs(10);
        let got = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left).expect("a pairing event within 10 s") {
                CardEvent::Pairing { reader, result } => {
                    assert_eq!(reader, VPCD_READER);
                    break result.map(|b| *b);
                }
                CardEvent::Read { .. } => panic!("a tag was read as an insurance card"),
                _ => {}
            }
        };
        assert_eq!(got, want);
        drop(tag);
        w.shutdown();
    }
}
