//! The IntelliVue host driver (association, identification, polls,
//! keep-alive, re-association) driven by a script of monitor frames, raw
//! bytes, clock ticks and link drops. Framed PDUs carry a valid FCS, so the
//! fuzzer reaches the dialog rather than stopping at the checksum.
//!
//! Script, one op per step (op byte mod 4):
//!   0 t        advance the clock by t × 20 ms, then tick
//!   1 n b…     n raw bytes from the monitor (deframer included)
//!   2 lo hi p… one frame around the PDU payload p (u16 LE length)
//!   3          link lost, then reconnect
//! Seeds (`fuzz/seeds/intellivue_host`) are recorded simulator sessions.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rettpad_devices::driver::{Action, Driver};
use rettpad_devices::intellivue::frame::encode_frame;
use rettpad_devices::intellivue::host::{Host, HostConfig};
use rettpad_devices::obs::HostTime;

fn take<'a>(data: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (a, b) = data.split_at(n.min(data.len()));
    *data = b;
    a
}

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let mut host = Host::new(HostConfig::default());
    let mut mono: u64 = 0;
    let now = |mono: u64| HostTime {
        wall_ms: 1_800_000_000_000 + mono as i64,
        mono_ms: mono,
    };
    let mut out: Vec<Action> = Vec::new();
    host.start(now(mono), &mut out);
    let mut frame = Vec::new();
    while let Some((&op, rest)) = data.split_first() {
        data = rest;
        match op % 4 {
            0 => {
                let t = take(&mut data, 1).first().copied().unwrap_or(0);
                mono += u64::from(t) * 20;
                host.on_tick(now(mono), &mut out);
            }
            1 => {
                let n = take(&mut data, 1).first().copied().unwrap_or(0);
                let bytes = take(&mut data, usize::from(n));
                host.on_bytes(bytes, now(mono), &mut out);
            }
            2 => {
                let len = take(&mut data, 2);
                let n = match len {
                    [lo, hi] => usize::from(u16::from_le_bytes([*lo, *hi])),
                    _ => 0,
                };
                let payload = take(&mut data, n);
                frame.clear();
                if encode_frame(payload, &mut frame).is_ok() {
                    host.on_bytes(&frame, now(mono), &mut out);
                }
            }
            _ => {
                host.on_link_lost(now(mono));
                host.start(now(mono), &mut out);
            }
        }
        // What the driver says must stay bounded by what it was fed.
        assert!(out.len() < 100_000, "driver output grows without bound");
        out.clear();
    }
    let c = host.counters();
    assert!(c.frames_ok + c.frames_rejected < 1_000_000);
});
