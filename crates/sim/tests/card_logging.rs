//! The logging policy for card reads: at TRACE level, across eGK, KVK and
//! failing reads, no personal datum reaches the log. Alone in its binary so
//! the subscriber sees every callsite (tracing caches interest globally).

use rettpad_card::kvk;
use rettpad_card::read_card;
use rettpad_card::sim::{ATR_EGK, ATR_KVK, Corruption, Faults, KvkAccess, SimCard};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(b);
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn logs_at_trace_level_hold_no_personal_data() {
    let cap = Captured::default();
    let w = cap.clone();
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || w.clone())
        .with_ansi(false)
        // Timestamps hold digit runs like "1971" by chance.
        .without_time()
        .finish();
    tracing::subscriber::set_global_default(sub).expect("only subscriber in this binary");
    {
        let mut card = SimCard::sample_egk(Faults::default());
        let d = read_card(&mut card, ATR_EGK).expect("read");
        tracing::info!(data = ?d, "debug of card data");
        let mut card = SimCard::kvk(&kvk::sample_fields(), KvkAccess::Mkt, Faults::default());
        let d = read_card(&mut card, ATR_KVK).expect("kvk");
        tracing::info!(data = ?d, "debug of card data");
        for f in [
            Faults {
                blocked: true,
                ..Faults::default()
            },
            Faults {
                corrupt: Some(Corruption::Xml),
                ..Faults::default()
            },
            Faults {
                corrupt: Some(Corruption::ZipBomb),
                ..Faults::default()
            },
        ] {
            let mut card = SimCard::sample_egk(f);
            let _ = read_card(&mut card, ATR_EGK);
        }
    }
    let log = String::from_utf8_lossy(&cap.0.lock().expect("log")).into_owned();
    assert!(log.contains("apdu"), "trace logging did run: {log}");
    assert!(
        log.contains("security"),
        "zip bomb logged as a security event"
    );
    for secret in [
        "Großmann",
        "Jürgen",
        "M223344550",
        "Berlin",
        "10115",
        "Hauptstraße",
        "19710315",
        "1971",
        "Testkasse",
        "999567890",
        "Käthe",
        "Müller",
        "123456789012",
        "München",
        "80331",
    ] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
}
