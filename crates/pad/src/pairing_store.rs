//! The device the crew paired by holding its tag to the reader: kept in
//! the vault (the tag's record, PIN included, so only encrypted at rest)
//! and taken as the device on the next start. A later tag replaces it.

use rettpad_devices::DeviceConfig;
use rettpad_devices::pairing::{self, DeviceProtocol, PairingRecord};
use rettpad_record::text::Notice;
use rettpad_vault::store::SharedStore;

/// Vault meta key of the paired device.
const PAIRED_META: &str = "paired_device";

/// The name a paired device shows: its model (or protocol) and serial.
pub fn paired_label(rec: &PairingRecord) -> String {
    let name = rec
        .model
        .clone()
        .unwrap_or_else(|| protocol_label(rec.protocol).to_string());
    match &rec.serial {
        Some(sn) => format!("{name} SN {sn}"),
        None => name,
    }
}

pub fn protocol_label(p: DeviceProtocol) -> &'static str {
    match p {
        DeviceProtocol::IntelliVue => "Philips IntelliVue",
        DeviceProtocol::Datex => "GE Datex-Ohmeda S/5",
        DeviceProtocol::Ble => "Bluetooth LE",
    }
}

/// Keeps `rec` as the paired device; the device's configuration either way.
pub fn save(store: &SharedStore, rec: &PairingRecord) -> (DeviceConfig, Result<(), Notice>) {
    let dc = rec.to_device_config(&paired_label(rec));
    let saved = pairing::encode(rec)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            store
                .lock()
                .meta_put(PAIRED_META, &bytes[..])
                .map_err(|e| e.to_string())
        })
        .map_err(|e| {
            tracing::warn!(error = %e, "pairing not stored");
            Notice::new(
                "Gerät gekoppelt, aber nicht gespeichert: nach einem Neustart Karte erneut auflegen.",
                "Device paired but not stored: hold the tag again after a restart.",
            )
        });
    if saved.is_ok() {
        tracing::info!(
            protocol = rec.protocol.config_name(),
            "device paired by tag"
        );
    }
    (dc, saved)
}

/// The device paired before, if one was kept and still reads back whole.
pub fn load(store: &SharedStore) -> Option<DeviceConfig> {
    let bytes = match store.lock().meta_get(PAIRED_META) {
        Ok(b) => zeroize::Zeroizing::new(b?),
        Err(e) => {
            tracing::warn!(error = %e, "stored pairing not readable");
            return None;
        }
    };
    match pairing::decode(&bytes) {
        Ok(rec) => Some(rec.to_device_config(&paired_label(&rec))),
        Err(e) => {
            tracing::warn!(error = %e, "stored pairing invalid");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rettpad_clock::TestClock;
    use rettpad_vault::MemoryKeyProvider;
    use rettpad_vault::store::{Store, StoreOptions};
    use std::sync::Arc;

    fn open(dir: &std::path::Path, keys: Arc<MemoryKeyProvider>) -> SharedStore {
        let clock = TestClock::new(1_800_000_000_000);
        SharedStore::new(Store::open(dir, keys, clock, StoreOptions::default()).unwrap())
    }

    #[test]
    fn a_paired_device_survives_a_restart_and_a_bad_record_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(MemoryKeyProvider::new());
        let store = open(dir.path(), keys.clone());
        assert_eq!(load(&store), None, "nothing paired yet");
        let rec = pairing::sample_record();
        let (dc, saved) = save(&store, &rec);
        assert_eq!(saved, Ok(()));
        assert_eq!(dc.label, "MP30 SN DE00000001");
        drop(store);
        let store = open(dir.path(), keys);
        let back = load(&store).expect("kept across the restart");
        assert_eq!(back, dc);
        assert_eq!(back.pin, dc.pin, "the PIN for the pairing agent is kept");
        assert!(!format!("{back:?}").contains("8642"), "never in Debug");
        // A damaged record reads as "nothing paired", without a panic.
        store
            .lock()
            .meta_put(PAIRED_META, b"\x00\x01broken")
            .unwrap();
        assert_eq!(load(&store), None);
    }

    #[test]
    fn labels_name_the_model_or_the_protocol() {
        let mut rec = pairing::sample_record();
        rec.model = None;
        rec.serial = None;
        assert_eq!(paired_label(&rec), "Philips IntelliVue");
    }
}
