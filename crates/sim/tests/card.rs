//! Card reading without pcscd: the public API over the simulated card,
//! bounded fuzzing of every parser that sees card bytes (the same entry
//! point as `fuzz/`), and the `rettpad-sim card` CLI. The logging policy is
//! checked in `card_logging.rs` (its own process: tracing's callsite cache
//! is global).

use proptest::prelude::*;
use rettpad_card::kvk;
use rettpad_card::sim::{ATR_EGK, Faults, SimCard, fuzz_one};
use rettpad_card::{CardError, CardKind, Transport, read_card};
use rettpad_text::{Lang, UserMessage};

/// The sample card's three files as raw images, read back through APDUs.
fn sample_images() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let mut card = SimCard::sample_egk(Faults::default());
    card.transmit(&[
        0x00, 0xA4, 0x04, 0x0C, 0x07, 0xD2, 0x76, 0x00, 0x01, 0x44, 0x80, 0x00,
    ])
    .expect("sim");
    card.transmit(&[
        0x00, 0xA4, 0x04, 0x0C, 0x06, 0xD2, 0x76, 0x00, 0x00, 0x01, 0x02,
    ])
    .expect("sim");
    let mut read = |sfi: u8, size: usize| {
        let mut out = Vec::new();
        while out.len() < size {
            let n = (size - out.len()).min(0xFC) as u8;
            let c = if out.is_empty() {
                vec![0x00, 0xB0, 0x80 | sfi, 0x00, n]
            } else {
                let [h, l] = (out.len() as u16).to_be_bytes();
                vec![0x00, 0xB0, h, l, n]
            };
            let r = card.transmit(&c).expect("sim");
            out.extend_from_slice(&r[..r.len() - 2]);
        }
        out
    };
    (read(0x0C, 25), read(0x01, 850), read(0x02, 1250))
}

#[test]
fn raw_images_read_back_identically() {
    let (s, p, v) = sample_images();
    let mut card = SimCard::egk_files(s, p, v);
    let d = read_card(&mut card, ATR_EGK).expect("read");
    assert_eq!(d.kind, CardKind::Egk);
    assert_eq!(d.person.given_name, "Jürgen Karl");
}

#[test]
fn truncated_files_are_container_errors_not_panics() {
    let (s, p, v) = sample_images();
    for cut in [0usize, 1, 2, 10, 200, 300] {
        let mut card = SimCard::egk_files(s.clone(), p[..cut.min(p.len())].to_vec(), v.clone());
        let e = read_card(&mut card, ATR_EGK).expect_err("truncated PD");
        assert!(
            matches!(e, CardError::Container(_) | CardError::Status { .. }),
            "cut {cut}: {e:?}"
        );
        let mut card = SimCard::egk_files(s.clone(), p.clone(), v[..cut.min(v.len())].to_vec());
        assert!(read_card(&mut card, ATR_EGK).is_err(), "cut VD {cut}");
    }
    let mut card = SimCard::egk_files(s[..10].to_vec(), p, v);
    assert!(matches!(
        read_card(&mut card, ATR_EGK),
        Err(CardError::Container(_))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    /// Mutated real images: never a panic; every failure has a German
    /// message with the fallback.
    #[test]
    fn mutated_egk_images_never_panic(
        which in 0usize..3,
        flips in proptest::collection::vec((0usize..1250, any::<u8>()), 1..8),
    ) {
        let (mut s, mut p, mut v) = sample_images();
        let img = match which { 0 => &mut s, 1 => &mut p, _ => &mut v };
        for (pos, val) in flips {
            let n = img.len();
            img[pos % n] = val;
        }
        let mut card = SimCard::egk_files(s, p, v);
        if let Err(e) = read_card(&mut card, ATR_EGK) {
            prop_assert!(e.message(Lang::De).contains("Ersatzverfahren"));
        }
    }

    #[test]
    fn mutated_kvk_images_never_panic(
        flips in proptest::collection::vec((0usize..256, any::<u8>()), 1..6),
    ) {
        let mut m = kvk::build_memory(&kvk::build_template(&kvk::sample_fields()));
        for (pos, val) in flips {
            m[pos] = val;
        }
        let _ = kvk::parse(&m);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..3000)) {
        fuzz_one(&data);
    }
}

#[test]
fn sim_cli_refuses_bad_arguments_and_reports_an_unreachable_vpcd() {
    let bin = env!("CARGO_BIN_EXE_rettpad-sim");
    let out = std::process::Command::new(bin)
        .args(["card", "--corrupt", "nonsense"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--corrupt needs"));
    // Port 1: nothing listens there.
    let out = std::process::Command::new(bin)
        .args(["card", "--port", "1", "--wait", "0"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach vpcd"));
    let out = std::process::Command::new(bin)
        .args(["card", "--help"])
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--drop-after"));
}
