//! Datex-Ohmeda S/5 computer-interface framing:
//! `7E | escaped(record | checksum) | 7E`.
//!
//! - Checksum: the sum of the unescaped record bytes mod 256, one byte.
//! - Escaping: 7E → `7D 5E`, 7D → `7D 5D`, checksum byte included.
//! - The record's first field, `r_len` (i16 LE), is its length without the
//!   checksum; a frame whose length disagrees is refused. Together with the
//!   sum this catches every single bit flip (a flip that forges a flag or an
//!   escape changes the length).
//!
//! The deframer resynchronises on the next 7E, never emits a frame whose
//! checksum, escape or length is wrong, and counts every discarded frame.

pub const FLAG: u8 = 0x7E;
pub const ESC: u8 = 0x7D;
/// The largest record accepted (VSCapture's receive buffer; the longest
/// S/5 record is well below it).
pub const MAX_RECORD: usize = 1490;
/// Record + checksum.
pub const MAX_CONTENT: usize = MAX_RECORD + 1;

/// Sum of the bytes mod 256.
pub fn checksum(data: &[u8]) -> u8 {
    data.iter().fold(0u8, |a, &b| a.wrapping_add(b))
}

fn push_escaped(out: &mut Vec<u8>, b: u8) {
    if matches!(b, FLAG | ESC) {
        out.push(ESC);
        out.push(b ^ 0x20);
    } else {
        out.push(b);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("record of {len} bytes exceeds the frame limit of {MAX_RECORD}")]
pub struct RecordTooLarge {
    pub len: usize,
}

/// A complete frame around `record` (which carries its own `r_len`).
pub fn encode_frame(record: &[u8], out: &mut Vec<u8>) -> Result<(), RecordTooLarge> {
    if record.len() > MAX_RECORD {
        return Err(RecordTooLarge { len: record.len() });
    }
    out.reserve(record.len() + record.len() / 16 + 4);
    out.push(FLAG);
    for &b in record {
        push_escaped(out, b);
    }
    push_escaped(out, checksum(record));
    out.push(FLAG);
    Ok(())
}

/// Counters of the deframer. Every frame is either `frames` or one of the
/// error counters; nothing is dropped silently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameStats {
    /// Frames delivered.
    pub frames: u64,
    pub checksum_errors: u64,
    /// `7D` followed by anything but `5E`/`5D`: discarded to the next flag.
    pub bad_escapes: u64,
    /// Longer than [`MAX_CONTENT`]; discarded up to the next flag.
    pub oversize: u64,
    /// Shorter than the record length field + checksum.
    pub runts: u64,
    /// `r_len` disagrees with the bytes between the flags.
    pub bad_length: u64,
    /// Bytes before the first flag (line noise, a lost flag).
    pub stray_bytes: u64,
}

impl FrameStats {
    /// Frames refused for any reason.
    pub fn rejected(&self) -> u64 {
        self.checksum_errors + self.bad_escapes + self.oversize + self.runts + self.bad_length
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    /// Before the first flag.
    Hunt,
    In {
        esc: bool,
    },
    /// Oversize or bad escape: skip to the next flag.
    Skip,
}

/// Streaming deframer. A flag both ends a frame and may open the next
/// (`7E … 7E 7E … 7E` and `7E … 7E … 7E` both work); empty frames are
/// ignored.
#[derive(Debug)]
pub struct Deframer {
    buf: Vec<u8>,
    st: St,
    pub stats: FrameStats,
}

impl Default for Deframer {
    fn default() -> Self {
        Self::new()
    }
}

impl Deframer {
    pub fn new() -> Self {
        Deframer {
            buf: Vec::with_capacity(512),
            st: St::Hunt,
            stats: FrameStats::default(),
        }
    }

    /// Forgets a partial frame (link lost); counters are kept.
    pub fn reset(&mut self) {
        self.buf.clear();
        self.st = St::Hunt;
    }

    pub fn stats(&self) -> FrameStats {
        self.stats
    }

    /// Feeds bytes; `emit` gets each verified record (checksum stripped).
    pub fn push(&mut self, bytes: &[u8], mut emit: impl FnMut(&[u8])) {
        for &b in bytes {
            match self.st {
                St::Hunt => {
                    if b == FLAG {
                        self.open();
                    } else {
                        self.stats.stray_bytes += 1;
                    }
                }
                St::Skip => {
                    if b == FLAG {
                        self.open();
                    }
                }
                St::In { esc: false } => match b {
                    FLAG => {
                        if !self.buf.is_empty() {
                            self.finish(&mut emit);
                        }
                        self.open();
                    }
                    ESC => self.st = St::In { esc: true },
                    _ => self.store(b),
                },
                St::In { esc: true } => match b {
                    0x5E | 0x5D => self.store(b ^ 0x20),
                    FLAG => {
                        // `7D 7E`: the frame is broken; this flag opens the next.
                        self.stats.bad_escapes += 1;
                        self.open();
                    }
                    _ => {
                        self.stats.bad_escapes += 1;
                        self.buf.clear();
                        self.st = St::Skip;
                    }
                },
            }
        }
    }

    fn open(&mut self) {
        self.buf.clear();
        self.st = St::In { esc: false };
    }

    fn store(&mut self, b: u8) {
        if self.buf.len() >= MAX_CONTENT {
            self.stats.oversize += 1;
            self.buf.clear();
            self.st = St::Skip;
        } else {
            self.buf.push(b);
            self.st = St::In { esc: false };
        }
    }

    fn finish(&mut self, emit: &mut impl FnMut(&[u8])) {
        let Some((&sum, record)) = self.buf.split_last() else {
            return;
        };
        let Some(len) = record.get(..2).map(|l| u16::from_le_bytes([l[0], l[1]])) else {
            self.stats.runts += 1;
            return;
        };
        let len = usize::from(len);
        if record.len() < len {
            self.stats.runts += 1;
            return;
        }
        if record.len() != len {
            self.stats.bad_length += 1;
            return;
        }
        if checksum(record) != sum {
            self.stats.checksum_errors += 1;
            return;
        }
        self.stats.frames += 1;
        emit(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    /// A record of `n` bytes with a correct `r_len` and some flag bytes.
    fn record(n: usize) -> Vec<u8> {
        let mut r: Vec<u8> = (0..n).map(|i| (i * 37) as u8).collect();
        r[..2].copy_from_slice(&(n as u16).to_le_bytes());
        r
    }

    fn deframe(wire: &[u8]) -> (Vec<Vec<u8>>, FrameStats) {
        let mut d = Deframer::new();
        let mut out = Vec::new();
        d.push(wire, |c| out.push(c.to_vec()));
        (out, d.stats)
    }

    #[test]
    fn escaping_of_flag_escape_and_checksum() {
        // r_len 5, then 7E 7D 01; sum = 05+7E+7D+01 = 0x101 → 01
        let rec = vec![0x05, 0x00, 0x7E, 0x7D, 0x01];
        let mut w = Vec::new();
        encode_frame(&rec, &mut w).unwrap();
        assert_eq!(w, hex("7E 05 00 7D 5E 7D 5D 01 01 7E"));
        // a checksum that is itself a flag is escaped too: sum 0x7E
        let rec2 = vec![0x03, 0x00, 0x7B];
        let mut w2 = Vec::new();
        encode_frame(&rec2, &mut w2).unwrap();
        assert_eq!(w2, hex("7E 03 00 7B 7D 5E 7E"));
        let (f, s) = deframe(&[w, w2].concat());
        assert_eq!(f, vec![rec, rec2]);
        assert_eq!((s.frames, s.rejected()), (2, 0));
    }

    #[test]
    fn shared_flags_between_frames() {
        let mut w = Vec::new();
        encode_frame(&record(8), &mut w).unwrap();
        let mut w2 = Vec::new();
        encode_frame(&record(9), &mut w2).unwrap();
        // drop w2's opening flag: w's closing flag opens it
        let mut wire = w.clone();
        wire.extend_from_slice(&w2[1..]);
        let (f, s) = deframe(&wire);
        assert_eq!(f, vec![record(8), record(9)]);
        assert_eq!(s.rejected(), 0);
    }

    #[test]
    fn bad_frames_are_counted_and_the_next_is_read() {
        let good = {
            let mut w = Vec::new();
            encode_frame(&record(10), &mut w).unwrap();
            w
        };
        let mut wire = vec![0x11, 0x22]; // noise before the first flag
        let mut bad_sum = good.clone();
        let n = bad_sum.len();
        bad_sum[n - 2] ^= 0x04;
        wire.extend_from_slice(&bad_sum);
        wire.extend_from_slice(&[FLAG, 0x05, 0x00, ESC, 0x33, 1, 2, FLAG]); // bad escape
        wire.extend_from_slice(&[FLAG, 0x01, FLAG]); // runt (no room for r_len)
        wire.extend_from_slice(&[FLAG, 0x09, 0x00, 1, 2, 3, FLAG]); // r_len 9, has 4
        let mut long = record(10);
        long.push(0); // r_len says 10, 11 bytes present
        let sum = checksum(&long);
        wire.push(FLAG);
        wire.extend_from_slice(&long);
        wire.extend_from_slice(&[sum, FLAG]);
        wire.extend_from_slice(&good);
        let (f, s) = deframe(&wire);
        assert_eq!(f, vec![record(10)]);
        assert_eq!(
            (
                s.frames,
                s.checksum_errors,
                s.bad_escapes,
                s.runts,
                s.bad_length,
                s.stray_bytes
            ),
            (1, 1, 1, 2, 1, 2)
        );
    }

    #[test]
    fn oversize_is_dropped_and_capped() {
        let mut big = vec![FLAG];
        big.extend(std::iter::repeat_n(0x41, MAX_CONTENT + 10));
        big.push(FLAG);
        let mut ok = Vec::new();
        encode_frame(&record(6), &mut ok).unwrap();
        big.extend_from_slice(&ok);
        let (f, s) = deframe(&big);
        assert_eq!(f, vec![record(6)]);
        assert_eq!(s.oversize, 1);
        assert!(encode_frame(&vec![0; MAX_RECORD + 1], &mut Vec::new()).is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn rec() -> impl Strategy<Value = Vec<u8>> {
            prop::collection::vec(any::<u8>(), 2..400).prop_map(|mut r| {
                let n = r.len() as u16;
                r[..2].copy_from_slice(&n.to_le_bytes());
                r
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn encode_then_decode_is_identity(recs in prop::collection::vec(rec(), 1..6), cut in any::<prop::sample::Index>()) {
                let mut wire = Vec::new();
                for r in &recs {
                    encode_frame(r, &mut wire).unwrap();
                }
                let cut = cut.index(wire.len());
                let mut d = Deframer::new();
                let mut got = Vec::new();
                d.push(&wire[..cut], |p| got.push(p.to_vec()));
                d.push(&wire[cut..], |p| got.push(p.to_vec()));
                prop_assert_eq!(&got, &recs);
                prop_assert_eq!(d.stats.rejected(), 0);
            }

            #[test]
            fn escaping_never_leaks_a_flag(r in rec()) {
                let mut w = Vec::new();
                encode_frame(&r, &mut w).unwrap();
                prop_assert_eq!(w[0], FLAG);
                prop_assert_eq!(w[w.len() - 1], FLAG);
                let inner = &w[1..w.len() - 1];
                prop_assert!(!inner.contains(&FLAG));
                for (i, &b) in inner.iter().enumerate() {
                    if b == ESC {
                        prop_assert!(matches!(inner.get(i + 1), Some(0x5E | 0x5D)));
                    }
                }
            }

            #[test]
            fn any_single_bit_flip_is_detected_and_counted(
                r in rec(), at in any::<prop::sample::Index>(), bit in 0u8..8) {
                let mut w = Vec::new();
                encode_frame(&r, &mut w).unwrap();
                let mut bad = w.clone();
                let i = at.index(bad.len());
                bad[i] ^= 1 << bit;
                let mut d = Deframer::new();
                let mut got = Vec::new();
                d.push(&bad, |x| got.push(x.to_vec()));
                // a good frame after the damage is read (its opening flag
                // also closes a damaged frame whose closing flag was hit)
                d.push(&w, |x| got.push(x.to_vec()));
                let s = d.stats;
                // the damaged frame never comes through ...
                prop_assert_eq!(&got, &vec![r.clone()], "corrupt frame delivered");
                // ... and is counted: refused, or (its opening flag destroyed)
                // its bytes counted as stray
                prop_assert!(s.rejected() + s.stray_bytes > 0);
            }

            #[test]
            fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
                let mut d = Deframer::new();
                d.push(&bytes, |p| assert!(p.len() <= MAX_RECORD));
            }
        }
    }
}
