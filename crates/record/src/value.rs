//! Field values. Numbers are fixed-point (thousandths) so that hashing,
//! equality and merge are exact; floats never enter the event log.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A decimal number stored as thousandths (36.8 °C = `Num(36_800)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Num(pub i64);

impl Num {
    pub const fn int(v: i64) -> Num {
        Num(v * 1000)
    }

    /// `whole` plus `thousandths` (e.g. `Num::new(36, 800)`).
    pub const fn new(whole: i64, thousandths: i64) -> Num {
        Num(whole * 1000 + thousandths)
    }

    /// Parses "36,8", "36.8" or "120". At most three decimals.
    pub fn parse(s: &str) -> Option<Num> {
        let s = s.trim().replace(',', ".");
        let (neg, s) = match s.strip_prefix('-') {
            Some(rest) => (true, rest.to_string()),
            None => (false, s),
        };
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s.as_str(), ""),
        };
        if whole.is_empty() && frac.is_empty() || frac.len() > 3 {
            return None;
        }
        if !whole.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let w: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut f: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().ok()?
        };
        for _ in frac.len()..3 {
            f *= 10;
        }
        let v = w.checked_mul(1000)?.checked_add(f)?;
        Some(Num(if neg { -v } else { v }))
    }
}

impl fmt::Display for Num {
    /// German decimal comma, trailing zeros dropped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let a = self.0.unsigned_abs();
        let (w, frac) = (a / 1000, a % 1000);
        if frac == 0 {
            write!(f, "{sign}{w}")
        } else {
            let s = format!("{frac:03}");
            write!(f, "{sign}{w},{}", s.trim_end_matches('0'))
        }
    }
}

/// A date whose month or day may be unknown (`0`), as on the eGK ("1950-00-00").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PartialDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl PartialDate {
    pub fn is_valid(&self) -> bool {
        if !(1850..=2200).contains(&self.year) || self.month > 12 {
            return false;
        }
        if self.month == 0 {
            return self.day == 0;
        }
        self.day <= days_in_month(self.year, self.month)
    }
}

impl fmt::Display for PartialDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}.{:02}.{:04}", self.day, self.month, self.year)
    }
}

pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 0,
    }
}

/// Offset of German civil time (CET/CEST) from UTC at `ms`, in ms. Summer
/// time runs from the last Sunday of March 01:00 UTC to the last Sunday of
/// October 01:00 UTC (EU rule since 1996).
pub fn berlin_offset_ms(ms: i64) -> i64 {
    let (y, _, _) = civil_from_ms(ms);
    let start = last_sunday_utc_ms(y, 3) + 3_600_000;
    let end = last_sunday_utc_ms(y, 10) + 3_600_000;
    if ms >= start && ms < end {
        7_200_000
    } else {
        3_600_000
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn last_sunday_utc_ms(y: u16, month: u8) -> i64 {
    let last = i64::from(days_in_month(y, month));
    let days = days_from_civil(i64::from(y), i64::from(month), last);
    // 1970-01-01 was a Thursday (weekday 4 with Sunday = 0).
    let weekday = (days + 4).rem_euclid(7);
    (days - weekday) * 86_400_000
}

/// UTC calendar date `(year, month, day)` of a Unix time in milliseconds
/// (Howard Hinnant's days-from-civil inverse).
pub fn civil_from_ms(ms: i64) -> (u16, u8, u8) {
    let z = ms.div_euclid(86_400_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        u16::try_from(y.clamp(0, 9999)).unwrap_or(0),
        m as u8,
        d as u8,
    )
}

/// Where a time came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "src", rename_all = "snake_case")]
pub enum TimeSource {
    /// From dispatch (FMS/TETRA status number where one applies).
    Dispatch { status: Option<u8> },
    /// From a medical device, by device id.
    Device { device: String },
    /// Typed or tapped by the crew.
    Manual,
}

/// A point in time (UTC milliseconds) with its source.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimeValue {
    pub at_ms: i64,
    pub source: TimeSource,
}

/// Where a measured value came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "src", rename_all = "snake_case")]
pub enum ValueSource {
    Manual,
    Device { device: String },
}

/// A measured value. `value` is `None` when `not_measurable` is set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Measured {
    pub value: Option<Num>,
    pub not_measurable: bool,
    pub source: ValueSource,
}

impl Measured {
    pub fn manual(v: Num) -> Measured {
        Measured {
            value: Some(v),
            not_measurable: false,
            source: ValueSource::Manual,
        }
    }

    pub fn device(v: Num, device: &str) -> Measured {
        Measured {
            value: Some(v),
            not_measurable: false,
            source: ValueSource::Device {
                device: device.to_string(),
            },
        }
    }

    pub fn not_measurable(source: ValueSource) -> Measured {
        Measured {
            value: None,
            not_measurable: true,
            source,
        }
    }
}

/// The value of one field. The catalog says which variant a field takes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "t", content = "v", rename_all = "snake_case")]
pub enum Value {
    Text(String),
    Code(String),
    Codes(Vec<String>),
    Int(i64),
    Num(Num),
    Time(TimeValue),
    Date(PartialDate),
    Bool(bool),
    Measured(Measured),
}

impl Value {
    pub fn code(c: &str) -> Value {
        Value::Code(c.to_string())
    }

    pub fn text(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    pub fn manual_time(at_ms: i64) -> Value {
        Value::Time(TimeValue {
            at_ms,
            source: TimeSource::Manual,
        })
    }

    pub fn as_code(&self) -> Option<&str> {
        match self {
            Value::Code(c) => Some(c),
            _ => None,
        }
    }

    pub fn as_time(&self) -> Option<&TimeValue> {
        match self {
            Value::Time(t) => Some(t),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The numeric value of a `Num`, `Int` or measured value, if any.
    pub fn as_num(&self) -> Option<Num> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Int(i) => i.checked_mul(1000).map(Num),
            Value::Measured(m) => m.value,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn num_parse_and_display() {
        assert_eq!(Num::parse("36,8"), Some(Num(36_800)));
        assert_eq!(Num::parse("36.85"), Some(Num(36_850)));
        assert_eq!(Num::parse("120"), Some(Num(120_000)));
        assert_eq!(Num::parse("-1,5"), Some(Num(-1_500)));
        assert_eq!(Num::parse("1.2345"), None);
        assert_eq!(Num::parse("abc"), None);
        assert_eq!(Num::parse(""), None);
        assert_eq!(Num::parse("99999999999999999999"), None);
        assert_eq!(Num(36_800).to_string(), "36,8");
        assert_eq!(Num(120_000).to_string(), "120");
        assert_eq!(Num(-1_050).to_string(), "-1,05");
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_ms(0), (1970, 1, 1));
        assert_eq!(civil_from_ms(951_782_400_000), (2000, 2, 29));
        assert_eq!(civil_from_ms(1_795_305_600_000), (2026, 11, 22));
        assert_eq!(civil_from_ms(1_795_392_000_000), (2026, 11, 23));
        assert_eq!(civil_from_ms(-86_400_000), (1969, 12, 31));
    }

    #[test]
    fn partial_dates() {
        assert!(
            PartialDate {
                year: 1950,
                month: 0,
                day: 0
            }
            .is_valid()
        );
        assert!(
            PartialDate {
                year: 2024,
                month: 2,
                day: 29
            }
            .is_valid()
        );
        assert!(
            !PartialDate {
                year: 2023,
                month: 2,
                day: 29
            }
            .is_valid()
        );
        assert!(
            !PartialDate {
                year: 1950,
                month: 0,
                day: 3
            }
            .is_valid()
        );
        assert!(
            !PartialDate {
                year: 1950,
                month: 13,
                day: 1
            }
            .is_valid()
        );
    }

    #[test]
    fn value_json_is_tagged() {
        let v = Value::Measured(Measured::not_measurable(ValueSource::Manual));
        let j = serde_json::to_string(&v).unwrap();
        assert_eq!(
            j,
            r#"{"t":"measured","v":{"value":null,"not_measurable":true,"source":{"src":"manual"}}}"#
        );
        let back: Value = serde_json::from_str(&j).unwrap();
        assert_eq!(back, v);
    }
}
