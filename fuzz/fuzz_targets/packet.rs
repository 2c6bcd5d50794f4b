//! Gateway packet parsing: structure, caps, trailer and manifest checks
//! (`transfer::packet::verify`), the envelope parser and the parts codec.
//! No key is needed to reach every length check. Seeds: `fuzz/seeds/packet`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rettpad_transfer::packet::fuzz_one(data);
    // The trailer is the SHA-256 of everything before it, which a mutation
    // almost never keeps right; feed the input again with the trailer
    // recomputed so the fuzzer also reaches the manifest and part checks.
    if let Some(body_len) = data.len().checked_sub(32) {
        let body = &data[..body_len];
        let mut fixed = body.to_vec();
        fixed.extend_from_slice(&rettpad_crypto::sha256(body));
        rettpad_transfer::packet::fuzz_one(&fixed);
    }
});
