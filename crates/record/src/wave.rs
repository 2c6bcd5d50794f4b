//! ECG strips (12-lead acquisitions and rhythm strips).
//!
//! A strip is bulky (10 s × 12 leads × 500 Hz ≈ 120 KB), so it is not part of
//! the hash-chained event log. The log holds a small [`StripRef`] whose
//! SHA-256 names the strip's canonical bytes ([`Strip::encode`]); the bytes
//! live as an encrypted blob beside the journal. Whoever holds the log can
//! prove that a strip is the one that was recorded.
//!
//! Encoding (all integers little-endian): magic `RPWV`, version 1, kind,
//! `start_ms` i64, `sample_rate_hz` u32, `uv_per_lsb` f32 bits, device and
//! label (u16 length + UTF-8), lead count u8, samples per lead u32, then per
//! lead its name (u8 length + UTF-8) and its samples as i16.

use super::event::Hash;
use crate::sha256;
use serde::{Deserialize, Serialize};

const MAGIC: &[u8; 4] = b"RPWV";
const VERSION: u8 = 1;
/// 16 leads is more than any monitor exports (12 + rhythm leads).
pub const MAX_LEADS: usize = 16;
/// 5 minutes at 1 kHz per lead.
pub const MAX_SAMPLES: usize = 300_000;
const MAX_TEXT: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StripKind {
    TwelveLead,
    Rhythm,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Lead {
    /// "I", "II", "III", "aVR", "aVL", "aVF", "V1" … "V6", "Pads".
    pub name: String,
    pub samples: Vec<i16>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Strip {
    pub kind: StripKind,
    /// Wall clock of the first sample (ms since the Unix epoch).
    pub start_ms: i64,
    pub sample_rate_hz: u32,
    /// Microvolts per sample unit.
    pub uv_per_lsb: f32,
    /// All leads have the same number of samples.
    pub leads: Vec<Lead>,
    /// The recording device, e.g. "corpuls3 SN 4711".
    pub device: String,
    /// What the strip shows, e.g. "12-Kanal-EKG" or "Schock 2 (200 J)".
    pub label: String,
}

/// What the event log keeps of a strip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StripRef {
    pub hash: Hash,
    pub kind: StripKind,
    pub start_ms: i64,
    pub duration_ms: i64,
    pub leads: Vec<String>,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaveError {
    #[error("strip truncated at byte {0}")]
    Truncated(usize),
    #[error("not a strip (bad magic or version)")]
    BadHeader,
    #[error("strip field out of range: {0}")]
    OutOfRange(&'static str),
    #[error("strip text is not UTF-8")]
    BadText,
    #[error("{0} trailing bytes after the strip")]
    Trailing(usize),
    #[error("strip does not match its hash")]
    HashMismatch,
}

impl Strip {
    /// Checks the limits that [`Strip::decode`] enforces.
    pub fn validate(&self) -> Result<(), WaveError> {
        if self.leads.is_empty() || self.leads.len() > MAX_LEADS {
            return Err(WaveError::OutOfRange("lead count"));
        }
        let n = self.leads[0].samples.len();
        if n > MAX_SAMPLES || self.leads.iter().any(|l| l.samples.len() != n) {
            return Err(WaveError::OutOfRange("samples per lead"));
        }
        if self.sample_rate_hz == 0 || self.sample_rate_hz > 10_000 {
            return Err(WaveError::OutOfRange("sample rate"));
        }
        if !(self.uv_per_lsb.is_finite() && self.uv_per_lsb > 0.0) {
            return Err(WaveError::OutOfRange("scale"));
        }
        if self.device.len() > MAX_TEXT
            || self.label.len() > MAX_TEXT
            || self.leads.iter().any(|l| l.name.len() > 32)
        {
            return Err(WaveError::OutOfRange("text length"));
        }
        Ok(())
    }

    /// Canonical bytes (see the module docs). Panics never: fields beyond
    /// the limits are clamped by [`Strip::validate`] callers; `encode` writes
    /// whatever lengths fit the length prefixes.
    pub fn encode(&self) -> Vec<u8> {
        let n = self.leads.first().map_or(0, |l| l.samples.len());
        let mut out = Vec::with_capacity(64 + self.leads.len() * (8 + 2 * n));
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(match self.kind {
            StripKind::TwelveLead => 1,
            StripKind::Rhythm => 2,
        });
        out.extend_from_slice(&self.start_ms.to_le_bytes());
        out.extend_from_slice(&self.sample_rate_hz.to_le_bytes());
        out.extend_from_slice(&self.uv_per_lsb.to_bits().to_le_bytes());
        for s in [&self.device, &self.label] {
            let b = truncate_utf8(s, MAX_TEXT);
            out.extend_from_slice(&(b.len() as u16).to_le_bytes());
            out.extend_from_slice(b);
        }
        let leads = &self.leads[..self.leads.len().min(MAX_LEADS)];
        out.push(leads.len() as u8);
        out.extend_from_slice(&(n.min(MAX_SAMPLES) as u32).to_le_bytes());
        for l in leads {
            let b = truncate_utf8(&l.name, 32);
            out.push(b.len() as u8);
            out.extend_from_slice(b);
            for i in 0..n.min(MAX_SAMPLES) {
                let v = l.samples.get(i).copied().unwrap_or(0);
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Parses canonical bytes, with every length checked before use.
    pub fn decode(b: &[u8]) -> Result<Strip, WaveError> {
        let mut r = Reader { b, pos: 0 };
        if r.take(4)? != MAGIC || r.u8()? != VERSION {
            return Err(WaveError::BadHeader);
        }
        let kind = match r.u8()? {
            1 => StripKind::TwelveLead,
            2 => StripKind::Rhythm,
            _ => return Err(WaveError::OutOfRange("kind")),
        };
        let start_ms = i64::from_le_bytes(r.array()?);
        let sample_rate_hz = u32::from_le_bytes(r.array()?);
        let uv_per_lsb = f32::from_bits(u32::from_le_bytes(r.array()?));
        let device = r.text16()?;
        let label = r.text16()?;
        let count = usize::from(r.u8()?);
        let n = u32::from_le_bytes(r.array()?) as usize;
        if count == 0 || count > MAX_LEADS {
            return Err(WaveError::OutOfRange("lead count"));
        }
        if n > MAX_SAMPLES {
            return Err(WaveError::OutOfRange("samples per lead"));
        }
        let mut leads = Vec::with_capacity(count);
        for _ in 0..count {
            let len = usize::from(r.u8()?);
            let name = std::str::from_utf8(r.take(len)?)
                .map_err(|_| WaveError::BadText)?
                .to_string();
            let raw = r.take(n * 2)?;
            let samples = raw
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
            leads.push(Lead { name, samples });
        }
        if r.pos != b.len() {
            return Err(WaveError::Trailing(b.len() - r.pos));
        }
        let s = Strip {
            kind,
            start_ms,
            sample_rate_hz,
            uv_per_lsb,
            leads,
            device,
            label,
        };
        s.validate()?;
        Ok(s)
    }

    /// Decodes and checks the bytes against the hash the log recorded.
    pub fn decode_verified(b: &[u8], expected: &Hash) -> Result<Strip, WaveError> {
        if Hash(sha256(b)) != *expected {
            return Err(WaveError::HashMismatch);
        }
        Strip::decode(b)
    }

    pub fn hash(&self) -> Hash {
        Hash(sha256(&self.encode()))
    }

    pub fn samples_per_lead(&self) -> usize {
        self.leads.first().map_or(0, |l| l.samples.len())
    }

    pub fn duration_ms(&self) -> i64 {
        if self.sample_rate_hz == 0 {
            return 0;
        }
        (self.samples_per_lead() as i64 * 1000) / i64::from(self.sample_rate_hz)
    }

    /// Sample `i` of lead `lead` in millivolts.
    pub fn millivolts(&self, lead: usize, i: usize) -> Option<f32> {
        let v = *self.leads.get(lead)?.samples.get(i)?;
        Some(f32::from(v) * self.uv_per_lsb / 1000.0)
    }

    pub fn to_ref(&self) -> StripRef {
        StripRef {
            hash: self.hash(),
            kind: self.kind,
            start_ms: self.start_ms,
            duration_ms: self.duration_ms(),
            leads: self.leads.iter().map(|l| l.name.clone()).collect(),
            label: self.label.clone(),
        }
    }
}

fn truncate_utf8(s: &str, max: usize) -> &[u8] {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s.as_bytes()[..end]
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WaveError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or(WaveError::Truncated(self.pos))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], WaveError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, WaveError> {
        Ok(self.take(1)?[0])
    }
    fn text16(&mut self) -> Result<String, WaveError> {
        let len = usize::from(u16::from_le_bytes(self.array()?));
        if len > MAX_TEXT {
            return Err(WaveError::OutOfRange("text length"));
        }
        std::str::from_utf8(self.take(len)?)
            .map(str::to_string)
            .map_err(|_| WaveError::BadText)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip() -> Strip {
        Strip {
            kind: StripKind::TwelveLead,
            start_ms: 1_700_000_000_000,
            sample_rate_hz: 500,
            uv_per_lsb: 2.5,
            leads: ["I", "II"]
                .iter()
                .enumerate()
                .map(|(k, n)| Lead {
                    name: n.to_string(),
                    samples: (0..1000)
                        .map(|i| ((i * 7 + k) % 400) as i16 - 200)
                        .collect(),
                })
                .collect(),
            device: "corpuls3 SN 4711".into(),
            label: "12-Kanal-EKG".into(),
        }
    }

    #[test]
    fn roundtrip_and_hash() {
        let s = strip();
        let b = s.encode();
        let d = Strip::decode_verified(&b, &s.hash()).unwrap();
        assert_eq!(d, s);
        assert_eq!(s.duration_ms(), 2000);
        assert_eq!(s.millivolts(0, 0), Some(-0.5));
        let r = s.to_ref();
        assert_eq!(r.leads, vec!["I", "II"]);
    }

    #[test]
    fn every_truncation_and_flip_is_an_error() {
        let s = strip();
        let b = s.encode();
        for cut in 0..b.len() {
            assert!(Strip::decode(&b[..cut]).is_err(), "cut at {cut}");
        }
        let mut t = b.clone();
        t[200] ^= 1;
        assert_eq!(
            Strip::decode_verified(&t, &s.hash()),
            Err(WaveError::HashMismatch)
        );
        let mut long = b.clone();
        long.push(0);
        assert_eq!(Strip::decode(&long), Err(WaveError::Trailing(1)));
    }

    #[test]
    fn oversized_counts_are_refused_before_allocation() {
        let mut b = strip().encode();
        // samples-per-lead field sits right after the lead count
        let pos = 4 + 1 + 1 + 8 + 4 + 4 + 2 + "corpuls3 SN 4711".len() + 2 + "12-Kanal-EKG".len();
        assert_eq!(b[pos], 2);
        b[pos + 1..pos + 5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            Strip::decode(&b),
            Err(WaveError::OutOfRange("samples per lead"))
        );
    }
}
