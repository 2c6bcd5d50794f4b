//! Handover frame parser: arbitrary bytes from a peer must never panic and
//! never allocate beyond the frame cap.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rettpad_handover::frame::{Decoder, decode_body};

fuzz_target!(|data: &[u8]| {
    let _ = decode_body(data);
    let mut d = Decoder::new();
    // Feed in two pieces to exercise reassembly.
    let (a, b) = data.split_at(data.len() / 2);
    d.push(a);
    while let Ok(Some(_)) = d.next_msg() {}
    d.push(b);
    while let Ok(Some(_)) = d.next_msg() {}
});
