//! Card bytes → container checks → gzip (64 KiB cap) → text decoding → XML,
//! plus the KVK template parser, through `rettpad_card::sim::fuzz_one`
//! (the same entry the bounded proptest in `tests/card.rs` drives).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rettpad_card::sim::fuzz_one(data);
});
