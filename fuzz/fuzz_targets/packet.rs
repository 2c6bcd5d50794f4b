//! Gateway packet parsing: structure, caps, trailer and manifest checks
//! (`transfer::packet::verify`), the envelope parser and the parts codec.
//! No key is needed to reach every length check. Seeds: `fuzz/seeds/packet`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rettpad::transfer::packet::fuzz_one(data);
});
