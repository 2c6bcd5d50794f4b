//! Bluetooth SIG health-profile decoders (Heart Rate, Blood Pressure, Pulse
//! Oximeter spot check and continuous, Health Thermometer, Glucose) with
//! their SFLOAT/FLOAT and date-time fields. The first byte picks the
//! characteristic, the rest is its value. Seeds: `fuzz/seeds/ble` (the
//! spec vectors of the unit tests).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rettpad_devices::ble;
use rettpad_devices::obs::HostTime;
use rettpad_text::{Lang, UserMessage};

const UUIDS: [u16; 7] = [
    ble::UUID_HEART_RATE_MEASUREMENT,
    ble::UUID_BLOOD_PRESSURE_MEASUREMENT,
    ble::UUID_PLX_SPOT_CHECK,
    ble::UUID_PLX_CONTINUOUS,
    ble::UUID_TEMPERATURE_MEASUREMENT,
    ble::UUID_GLUCOSE_MEASUREMENT,
    // Battery Level: not a health measurement, must be refused.
    0x2A19,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, value)) = data.split_first() else {
        return;
    };
    let uuid = UUIDS[usize::from(sel) % UUIDS.len()];
    let host = HostTime {
        wall_ms: 1_800_000_000_000,
        mono_ms: 0,
    };
    match ble::decode(uuid, value, host) {
        // Empty is fine: a glucose record may carry no concentration.
        Ok(obs) => assert!(obs.len() <= value.len(), "more observations than bytes"),
        Err(e) => {
            // Both languages exist for every error the crew can see.
            assert!(!e.message(Lang::De).is_empty() && !e.message(Lang::En).is_empty());
            let _ = e.to_string();
        }
    }
});
