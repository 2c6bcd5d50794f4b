//! IEEE 11073-20601 numbers: SFLOAT (16 bit) and FLOAT (32 bit), plus the
//! exact decimal they decode to.
//!
//! The exponent is a **two's-complement** nibble/byte (AOSP
//! `BluetoothGattCharacteristic.bytesToFloat`; a popular Python library adds
//! a +8 bias, which is wrong). Special values are recognised on the raw bits
//! *before* any arithmetic and are never turned into a number.

use serde::{Deserialize, Serialize};

/// An exact decimal `mantissa × 10^exponent`. Medical values stay exact
/// from the wire to the record (no binary floating point in between).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Decimal {
    pub mantissa: i64,
    pub exponent: i8,
}

impl Decimal {
    pub const fn new(mantissa: i64, exponent: i8) -> Decimal {
        Decimal { mantissa, exponent }
    }

    pub const fn int(v: i64) -> Decimal {
        Decimal::new(v, 0)
    }

    /// For display and scaling only; never used to decide equality.
    pub fn to_f64(self) -> f64 {
        self.mantissa as f64 * 10f64.powi(i32::from(self.exponent))
    }

    /// The value in thousandths, rounded half away from zero; `None` when it
    /// does not fit an `i64`.
    pub fn to_thousandths(self) -> Option<i64> {
        let shift = i32::from(self.exponent) + 3;
        if shift >= 0 {
            let f = 10i64.checked_pow(u32::try_from(shift).ok()?)?;
            self.mantissa.checked_mul(f)
        } else {
            let k = u32::try_from(-shift).ok()?;
            if k > 18 {
                return Some(0);
            }
            let d = 10i64.pow(k);
            let q = self.mantissa / d;
            let r = self.mantissa % d;
            if r.unsigned_abs() * 2 >= d.unsigned_abs() {
                Some(q + self.mantissa.signum())
            } else {
                Some(q)
            }
        }
    }

    /// Numerical equality across different exponents (`120e0 == 1200e-1`).
    pub fn same_value(self, other: Decimal) -> bool {
        let (a, b) = (self.normalized(), other.normalized());
        a == b
    }

    /// Trailing zeros of the mantissa moved into the exponent.
    pub fn normalized(self) -> Decimal {
        let mut d = self;
        if d.mantissa == 0 {
            return Decimal::new(0, 0);
        }
        while d.mantissa % 10 == 0 && d.exponent < i8::MAX {
            d.mantissa /= 10;
            d.exponent += 1;
        }
        d
    }
}

/// A number as the device sent it: a value or one of the reserved specials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "k", content = "v", rename_all = "snake_case")]
pub enum Reading {
    Value(Decimal),
    /// Not a number: the device has no valid value.
    NaN,
    /// Not at this resolution: the value cannot be represented.
    NRes,
    PositiveInfinity,
    NegativeInfinity,
    /// A reserved code (for future use by the standard).
    Reserved,
    /// Datex and others: the value is marked invalid.
    Invalid,
    /// Datex: the value was not updated since the last record.
    NotUpdated,
    /// Datex: discontinuity (e.g. a parameter module swapped).
    Discontinuity,
    UnderRange,
    OverRange,
    NotCalibrated,
}

impl Reading {
    pub fn value(self) -> Option<Decimal> {
        match self {
            Reading::Value(d) => Some(d),
            _ => None,
        }
    }

    pub fn is_value(self) -> bool {
        matches!(self, Reading::Value(_))
    }
}

pub const SFLOAT_NAN: u16 = 0x07FF;
pub const SFLOAT_NRES: u16 = 0x0800;
pub const SFLOAT_POS_INF: u16 = 0x07FE;
pub const SFLOAT_NEG_INF: u16 = 0x0802;
pub const SFLOAT_RESERVED: u16 = 0x0801;

pub const FLOAT_NAN: u32 = 0x007F_FFFF;
pub const FLOAT_NRES: u32 = 0x0080_0000;
pub const FLOAT_POS_INF: u32 = 0x007F_FFFE;
pub const FLOAT_NEG_INF: u32 = 0x0080_0002;
pub const FLOAT_RESERVED: u32 = 0x0080_0001;

/// Decodes an SFLOAT given as its raw 16-bit value (the caller handles byte
/// order: BLE sends it little-endian).
pub fn sfloat(raw: u16) -> Reading {
    match raw {
        SFLOAT_NAN => return Reading::NaN,
        SFLOAT_NRES => return Reading::NRes,
        SFLOAT_POS_INF => return Reading::PositiveInfinity,
        SFLOAT_NEG_INF => return Reading::NegativeInfinity,
        SFLOAT_RESERVED => return Reading::Reserved,
        _ => {}
    }
    // 4-bit two's-complement exponent, 12-bit two's-complement mantissa.
    let exponent = ((raw as i16) >> 12) as i8;
    let mantissa = (((raw << 4) as i16) >> 4) as i64;
    Reading::Value(Decimal::new(mantissa, exponent))
}

/// Decodes a FLOAT given as its raw 32-bit value.
pub fn float(raw: u32) -> Reading {
    match raw {
        FLOAT_NAN => return Reading::NaN,
        FLOAT_NRES => return Reading::NRes,
        FLOAT_POS_INF => return Reading::PositiveInfinity,
        FLOAT_NEG_INF => return Reading::NegativeInfinity,
        FLOAT_RESERVED => return Reading::Reserved,
        _ => {}
    }
    let exponent = (raw >> 24) as i8;
    let mantissa = (((raw << 8) as i32) >> 8) as i64;
    Reading::Value(Decimal::new(mantissa, exponent))
}

/// Encodes a reading as SFLOAT. `None` when the value does not fit exactly
/// (mantissa outside −2046..=2045 after normalisation, exponent outside −8..=7)
/// or the reading has no SFLOAT code.
pub fn encode_sfloat(r: Reading) -> Option<u16> {
    match r {
        Reading::NaN => Some(SFLOAT_NAN),
        Reading::NRes => Some(SFLOAT_NRES),
        Reading::PositiveInfinity => Some(SFLOAT_POS_INF),
        Reading::NegativeInfinity => Some(SFLOAT_NEG_INF),
        Reading::Reserved => Some(SFLOAT_RESERVED),
        Reading::Value(d) => {
            let d = fit(d, -2048, 2047, -8, 7)?;
            let raw = ((d.exponent as u16 & 0xF) << 12) | (d.mantissa as u16 & 0x0FFF);
            // A value whose bits equal a special code cannot be sent.
            match raw {
                SFLOAT_NAN | SFLOAT_NRES | SFLOAT_POS_INF | SFLOAT_NEG_INF | SFLOAT_RESERVED => {
                    None
                }
                _ => Some(raw),
            }
        }
        _ => None,
    }
}

/// Encodes a reading as FLOAT (raw 32-bit value).
pub fn encode_float(r: Reading) -> Option<u32> {
    match r {
        Reading::NaN => Some(FLOAT_NAN),
        Reading::NRes => Some(FLOAT_NRES),
        Reading::PositiveInfinity => Some(FLOAT_POS_INF),
        Reading::NegativeInfinity => Some(FLOAT_NEG_INF),
        Reading::Reserved => Some(FLOAT_RESERVED),
        Reading::Value(d) => {
            let d = fit(d, -(1 << 23), (1 << 23) - 1, -128, 127)?;
            let raw = ((d.exponent as u8 as u32) << 24) | (d.mantissa as u32 & 0x00FF_FFFF);
            match raw {
                FLOAT_NAN | FLOAT_NRES | FLOAT_POS_INF | FLOAT_NEG_INF | FLOAT_RESERVED => None,
                _ => Some(raw),
            }
        }
        _ => None,
    }
}

/// Shrinks the mantissa by moving trailing zeros into the exponent until it
/// fits; never loses digits.
fn fit(d: Decimal, mmin: i64, mmax: i64, emin: i8, emax: i8) -> Option<Decimal> {
    let mut d = d;
    while !(mmin..=mmax).contains(&d.mantissa) || d.exponent < emin {
        if d.mantissa % 10 != 0 || d.exponent >= emax {
            return None;
        }
        d.mantissa /= 10;
        d.exponent += 1;
    }
    if d.exponent > emax {
        return None;
    }
    Some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le16(b: [u8; 2]) -> Reading {
        sfloat(u16::from_le_bytes(b))
    }

    fn le32(b: [u8; 4]) -> Reading {
        float(u32::from_le_bytes(b))
    }

    fn num(r: Reading) -> f64 {
        r.value().map(Decimal::to_f64).unwrap_or(f64::NAN)
    }

    #[test]
    fn sfloat_vectors_from_the_doc() {
        assert_eq!(le16([0x78, 0x00]), Reading::Value(Decimal::new(120, 0)));
        assert_eq!(le16([0x6C, 0xF1]), Reading::Value(Decimal::new(364, -1)));
        assert_eq!(le16([0xF6, 0xFF]), Reading::Value(Decimal::new(-10, -1)));
        assert!((num(le16([0xD4, 0xF3])) - 98.0).abs() < 1e-9);
        // The trap: 0A F0 is 10 × 10^-1 = 1.0; `0A 70` is 10 × 10^7 = 1e8,
        // not 1.0 as a biased decoder claims.
        assert!((num(le16([0x0A, 0xF0])) - 1.0).abs() < 1e-12);
        assert_eq!(le16([0x0A, 0x70]), Reading::Value(Decimal::new(10, 7)));
        assert_eq!(
            le16([0x0A, 0x70]).value().and_then(Decimal::to_thousandths),
            Some(100_000_000_000)
        );
        assert_eq!(le16([0xFF, 0x07]), Reading::NaN);
        assert_eq!(le16([0x00, 0x08]), Reading::NRes);
        assert_eq!(le16([0xFE, 0x07]), Reading::PositiveInfinity);
        assert_eq!(le16([0x02, 0x08]), Reading::NegativeInfinity);
        assert_eq!(le16([0x01, 0x08]), Reading::Reserved);
    }

    #[test]
    fn float_vectors_from_the_doc() {
        assert_eq!(
            le32([0x6C, 0x01, 0x00, 0xFF]),
            Reading::Value(Decimal::new(364, -1))
        );
        assert_eq!(
            le32([0xCF, 0x03, 0x00, 0xFF]),
            Reading::Value(Decimal::new(975, -1))
        );
        assert_eq!(
            le32([0x8E, 0xFE, 0xFF, 0xFF]),
            Reading::Value(Decimal::new(-370, -1))
        );
        assert_eq!(
            le32([0x42, 0x0E, 0x00, 0xFE]),
            Reading::Value(Decimal::new(3650, -2))
        );
        assert_eq!(le32([0xFF, 0xFF, 0x7F, 0x00]), Reading::NaN);
        assert_eq!(le32([0x00, 0x00, 0x80, 0x00]), Reading::NRes);
        assert_eq!(le32([0xFE, 0xFF, 0x7F, 0x00]), Reading::PositiveInfinity);
        assert_eq!(le32([0x02, 0x00, 0x80, 0x00]), Reading::NegativeInfinity);
    }

    #[test]
    fn thousandths_round_half_away_from_zero() {
        assert_eq!(Decimal::new(364, -1).to_thousandths(), Some(36_400));
        assert_eq!(Decimal::new(12345, -4).to_thousandths(), Some(1_235));
        assert_eq!(Decimal::new(-12345, -4).to_thousandths(), Some(-1_235));
        assert_eq!(Decimal::new(12344, -4).to_thousandths(), Some(1_234));
        assert_eq!(Decimal::new(5, -30).to_thousandths(), Some(0));
        assert_eq!(Decimal::new(1, 127).to_thousandths(), None);
        assert!(Decimal::new(120, 0).same_value(Decimal::new(1200, -1)));
        assert!(!Decimal::new(120, 0).same_value(Decimal::new(121, 0)));
    }

    #[test]
    fn encoders_refuse_what_does_not_fit() {
        assert_eq!(
            encode_sfloat(Reading::Value(Decimal::new(120, 0))),
            Some(0x0078)
        );
        // kept as given (1200 × 10^-1), decodes to the same value
        let r = encode_sfloat(Reading::Value(Decimal::new(1200, -1))).map(sfloat);
        assert!(
            r.and_then(Reading::value)
                .is_some_and(|d| d.same_value(Decimal::int(120)))
        );
        assert_eq!(encode_sfloat(Reading::Value(Decimal::new(12345, 0))), None);
        assert_eq!(encode_sfloat(Reading::Value(Decimal::new(2047, 0))), None);
        assert_eq!(encode_sfloat(Reading::Invalid), None);
        assert_eq!(
            encode_float(Reading::Value(Decimal::new(975, -1))),
            Some(0xFF00_03CF)
        );
    }
}
