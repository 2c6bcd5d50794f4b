//! Datex-Ohmeda S/5 bytes → deframer (7E/7D, checksum, length cap) →
//! record parser (header, subrecords, PHDB, waves) → host driver
//! (negotiation, identity, observations) and the simulated monitor's
//! request parser, through `rettpad_devices::datex::fuzz_one` (the same
//! entry the bounded proptest in `devices::datex::host` drives).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rettpad_devices::datex::fuzz_one(data);
});
