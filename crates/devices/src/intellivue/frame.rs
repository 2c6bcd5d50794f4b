//! IntelliVue MIB/RS232 framing: `C0 | escaped(11 01 LL LL | payload | FCS) | C1`.
//!
//! - FCS: PPP FCS-16 (= CRC-16/IBM-SDLC, X-25) over header and payload,
//!   sent least significant byte first.
//! - Transparency: every byte between BOF and EOF that is C0, C1 or 7D is
//!   sent as `7D (b ^ 0x20)`, header and FCS included.
//! - `7D C1` aborts the frame in progress.
//!
//! The deframer resynchronises on the next BOF, never emits a frame whose
//! FCS, header or length is wrong, and counts every discarded frame.

use crc::{CRC_16_IBM_SDLC, Crc};

pub const BOF: u8 = 0xC0;
pub const EOF: u8 = 0xC1;
pub const ESC: u8 = 0x7D;
pub const PROTOCOL_ID: u8 = 0x11;
pub const MSG_TYPE: u8 = 0x01;
/// The largest payload accepted. The host announces max_mtu_rx 2500 in
/// its association request; anything bigger is a framing error.
pub const MAX_PAYLOAD: usize = 4096;
/// Header (4) + payload + FCS (2).
pub const MAX_CONTENT: usize = 4 + MAX_PAYLOAD + 2;

const FCS: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_SDLC);

pub fn fcs16(data: &[u8]) -> u16 {
    FCS.checksum(data)
}

fn push_escaped(out: &mut Vec<u8>, b: u8) {
    if matches!(b, BOF | EOF | ESC) {
        out.push(ESC);
        out.push(b ^ 0x20);
    } else {
        out.push(b);
    }
}

/// Wraps `content` (no header added) with FCS, transparency and BOF/EOF.
pub fn encode_raw(content: &[u8], out: &mut Vec<u8>) {
    let fcs = fcs16(content).to_le_bytes();
    out.reserve(content.len() + content.len() / 8 + 6);
    out.push(BOF);
    for &b in content.iter().chain(fcs.iter()) {
        push_escaped(out, b);
    }
    out.push(EOF);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("payload of {len} bytes exceeds the frame limit of {MAX_PAYLOAD}")]
pub struct PayloadTooLarge {
    pub len: usize,
}

/// A complete Data Export frame around `payload`.
pub fn encode_frame(payload: &[u8], out: &mut Vec<u8>) -> Result<(), PayloadTooLarge> {
    if payload.len() > MAX_PAYLOAD {
        return Err(PayloadTooLarge { len: payload.len() });
    }
    let len = (payload.len() as u16).to_be_bytes();
    let mut content = Vec::with_capacity(payload.len() + 4);
    content.extend_from_slice(&[PROTOCOL_ID, MSG_TYPE, len[0], len[1]]);
    content.extend_from_slice(payload);
    encode_raw(&content, out);
    Ok(())
}

/// Counters of the deframer. Every frame is either `frames` or one of the
/// error counters; nothing is dropped silently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Frames delivered.
    pub frames: u64,
    /// FCS mismatch.
    pub fcs_errors: u64,
    /// `7D C1`, or a BOF inside a frame (the partial frame is discarded).
    pub aborted: u64,
    /// Longer than [`MAX_CONTENT`]; discarded up to the next BOF.
    pub oversize: u64,
    /// Shorter than header + FCS.
    pub runts: u64,
    /// Wrong protocol id / message type, or the length field disagrees.
    pub bad_header: u64,
    /// Bytes outside any frame (line noise, a frame whose BOF was lost).
    pub stray_bytes: u64,
}

impl FrameStats {
    /// Frames refused for any reason.
    pub fn rejected(&self) -> u64 {
        self.fcs_errors + self.aborted + self.oversize + self.runts + self.bad_header
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Hunt,
    In {
        esc: bool,
    },
    /// Oversize: skip to the next BOF.
    Skip,
}

/// Streaming deframer at the raw level (FCS and transparency only).
#[derive(Debug)]
pub struct RawDeframer {
    buf: Vec<u8>,
    st: St,
    max: usize,
    pub stats: FrameStats,
}

impl RawDeframer {
    pub fn new(max_content: usize) -> Self {
        RawDeframer {
            buf: Vec::with_capacity(512),
            st: St::Hunt,
            max: max_content,
            stats: FrameStats::default(),
        }
    }

    /// Feeds bytes; `emit` gets the verified content of each frame (FCS
    /// stripped).
    pub fn push(&mut self, bytes: &[u8], mut emit: impl FnMut(&[u8])) {
        for &b in bytes {
            match self.st {
                St::Hunt | St::Skip => {
                    if b == BOF {
                        self.buf.clear();
                        self.st = St::In { esc: false };
                    } else if self.st == St::Hunt {
                        self.stats.stray_bytes += 1;
                    }
                }
                St::In { esc } => match (esc, b) {
                    (_, BOF) => {
                        // A new frame starts before this one ended.
                        self.stats.aborted += 1;
                        self.buf.clear();
                        self.st = St::In { esc: false };
                    }
                    (true, EOF) => {
                        self.stats.aborted += 1;
                        self.st = St::Hunt;
                    }
                    (false, EOF) => {
                        self.finish(&mut emit);
                        self.st = St::Hunt;
                    }
                    (false, ESC) => self.st = St::In { esc: true },
                    (true, _) => {
                        self.store(b ^ 0x20);
                    }
                    (false, _) => {
                        self.store(b);
                    }
                },
            }
        }
    }

    fn store(&mut self, b: u8) {
        if self.buf.len() >= self.max {
            self.stats.oversize += 1;
            self.buf.clear();
            self.st = St::Skip;
        } else {
            self.buf.push(b);
            self.st = St::In { esc: false };
        }
    }

    fn finish(&mut self, emit: &mut impl FnMut(&[u8])) {
        if self.buf.len() < 3 {
            self.stats.runts += 1;
            return;
        }
        let n = self.buf.len() - 2;
        let got = u16::from_le_bytes([self.buf[n], self.buf[n + 1]]);
        if fcs16(&self.buf[..n]) != got {
            self.stats.fcs_errors += 1;
            return;
        }
        self.stats.frames += 1;
        emit(&self.buf[..n]);
    }
}

/// Deframer for Data Export frames: raw deframing plus the header check.
/// Emits the payload (after `11 01 LL LL`).
#[derive(Debug)]
pub struct Deframer {
    raw: RawDeframer,
    bad_header: u64,
}

impl Default for Deframer {
    fn default() -> Self {
        Self::new()
    }
}

impl Deframer {
    pub fn new() -> Self {
        Deframer {
            raw: RawDeframer::new(MAX_CONTENT),
            bad_header: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8], mut emit: impl FnMut(&[u8])) {
        let bad = &mut self.bad_header;
        self.raw.push(bytes, |c| match check_header(c) {
            Some(p) => emit(p),
            None => *bad += 1,
        });
    }

    pub fn stats(&self) -> FrameStats {
        let mut s = self.raw.stats;
        s.frames -= self.bad_header;
        s.bad_header = self.bad_header;
        s
    }
}

fn check_header(c: &[u8]) -> Option<&[u8]> {
    if c.len() < 4 || c[0] != PROTOCOL_ID || c[1] != MSG_TYPE {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([c[2], c[3]]));
    (len == c.len() - 4).then(|| &c[4..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    fn deframe_raw(wire: &[u8]) -> (Vec<Vec<u8>>, FrameStats) {
        let mut d = RawDeframer::new(MAX_CONTENT);
        let mut out = Vec::new();
        d.push(wire, |c| out.push(c.to_vec()));
        (out, d.stats)
    }

    #[test]
    fn fcs_check_value() {
        assert_eq!(fcs16(b"123456789"), 0x906E);
    }

    #[test]
    fn openice_vectors() {
        let mut w = Vec::new();
        encode_raw(&[0x3A, 0x71], &mut w);
        assert_eq!(w, hex("C0 3A 71 9B 26 C1"));
        let mut w = Vec::new();
        encode_raw(&[0x3A, 0x91], &mut w);
        // FCS 95 C1: the C1 is escaped as 7D E1.
        assert_eq!(w, hex("C0 3A 91 95 7D E1 C1"));
        let (f, s) = deframe_raw(&w);
        assert_eq!(f, vec![vec![0x3A, 0x91]]);
        assert_eq!(s.frames, 1);
    }

    #[test]
    fn full_ext_poll_frame_vector() {
        let payload = hex(
            "E1 00 00 02 00 01 00 28 00 01 00 07 00 22 00 21 00 00 00 00 00 00 00 00 F1 3B 00 14 00 01 00 01 00 06 00 00 00 01 00 08 F1 3E 00 04 00 03 A9 80",
        );
        let mut w = Vec::new();
        encode_frame(&payload, &mut w).unwrap();
        assert_eq!(
            w,
            hex(
                "C0 11 01 00 30 E1 00 00 02 00 01 00 28 00 01 00 07 00 22 00 21 00 00 00 00 00 00 00 00 F1 3B 00 14 00 01 00 01 00 06 00 00 00 01 00 08 F1 3E 00 04 00 03 A9 80 58 71 C1"
            )
        );
        let mut d = Deframer::new();
        let mut got = Vec::new();
        d.push(&w, |p| got.push(p.to_vec()));
        assert_eq!(got, vec![payload]);
    }

    #[test]
    fn abort_resync_and_counters() {
        let mut good = Vec::new();
        encode_raw(&[1, 2, 3], &mut good);
        let mut wire = vec![0x55, 0x66]; // noise
        wire.extend_from_slice(&[BOF, 9, 9, ESC, EOF]); // explicit abort
        wire.extend_from_slice(&[BOF, 7, 7]); // cut off by the next BOF
        wire.extend_from_slice(&good);
        wire.extend_from_slice(&[BOF, 1, EOF]); // runt
        let mut bad = good.clone();
        bad[2] ^= 0x01; // FCS error
        wire.extend_from_slice(&bad);
        let (f, s) = deframe_raw(&wire);
        assert_eq!(f, vec![vec![1, 2, 3]]);
        assert_eq!(
            (s.frames, s.aborted, s.runts, s.fcs_errors, s.stray_bytes),
            (1, 2, 1, 1, 2)
        );
    }

    #[test]
    fn oversize_frames_are_dropped_and_the_next_one_is_read() {
        let mut d = RawDeframer::new(16);
        let mut big = Vec::new();
        encode_raw(&[0x42; 40], &mut big);
        let mut ok = Vec::new();
        encode_raw(&[1, 2], &mut ok);
        let mut got = Vec::new();
        d.push(&big, |c| got.push(c.to_vec()));
        d.push(&ok, |c| got.push(c.to_vec()));
        assert_eq!(got, vec![vec![1, 2]]);
        assert_eq!((d.stats.oversize, d.stats.frames), (1, 1));
        assert!(encode_frame(&[0; MAX_PAYLOAD + 1], &mut Vec::new()).is_err());
    }

    #[test]
    fn header_length_mismatch_is_counted() {
        let mut w = Vec::new();
        encode_raw(&[0x11, 0x01, 0x00, 0x05, 1, 2], &mut w); // says 5, has 2
        encode_raw(&[0x12, 0x01, 0x00, 0x00], &mut w); // wrong protocol id
        let mut d = Deframer::new();
        let mut n = 0;
        d.push(&w, |_| n += 1);
        assert_eq!(n, 0);
        assert_eq!((d.stats().bad_header, d.stats().frames), (2, 0));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn encode_then_decode_is_identity(payloads in prop::collection::vec(
                prop::collection::vec(any::<u8>(), 0..300), 1..6)) {
                let mut wire = Vec::new();
                for p in &payloads {
                    encode_frame(p, &mut wire).unwrap();
                }
                // split the stream at an arbitrary point: state carries over
                let cut = wire.len() / 3;
                let mut d = Deframer::new();
                let mut got = Vec::new();
                d.push(&wire[..cut], |p| got.push(p.to_vec()));
                d.push(&wire[cut..], |p| got.push(p.to_vec()));
                prop_assert_eq!(&got, &payloads);
                prop_assert_eq!(d.stats().rejected(), 0);
            }

            #[test]
            fn escaping_never_leaks_delimiters(p in prop::collection::vec(any::<u8>(), 0..300)) {
                let mut w = Vec::new();
                encode_frame(&p, &mut w).unwrap();
                prop_assert_eq!(w[0], BOF);
                prop_assert_eq!(w[w.len() - 1], EOF);
                let inner = &w[1..w.len() - 1];
                prop_assert!(!inner.contains(&BOF) && !inner.contains(&EOF));
                // every ESC is followed by an escaped delimiter
                for (i, &b) in inner.iter().enumerate() {
                    if b == ESC {
                        prop_assert!(matches!(inner.get(i + 1), Some(0xE0 | 0xE1 | 0x5D)));
                    }
                }
            }

            #[test]
            fn bit_flips_are_detected_and_counted(
                p in prop::collection::vec(any::<u8>(), 1..200),
                flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4)) {
                let mut w = Vec::new();
                encode_frame(&p, &mut w).unwrap();
                let mut bad = w.clone();
                for (i, bit) in &flips {
                    let i = i.index(bad.len());
                    bad[i] ^= 1 << bit;
                }
                prop_assume!(bad != w);
                let mut d = Deframer::new();
                let mut got = Vec::new();
                d.push(&bad, |x| got.push(x.to_vec()));
                // a good frame after the damage must still come through
                d.push(&w, |x| got.push(x.to_vec()));
                let s = d.stats();
                // nothing wrong is ever delivered
                prop_assert!(got.iter().all(|g| g == &p), "corrupt frame delivered");
                prop_assert_eq!(got.last(), Some(&p));
                // the damaged frame is either counted as rejected or lost
                // entirely (BOF destroyed: its bytes counted as stray)
                prop_assert!(got.len() == 1 || got.len() == 2);
                if got.len() == 1 {
                    prop_assert!(s.rejected() + s.stray_bytes > 0);
                }
            }

            #[test]
            fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
                let mut d = Deframer::new();
                d.push(&bytes, |p| assert!(p.len() <= MAX_PAYLOAD));
            }
        }
    }
}
