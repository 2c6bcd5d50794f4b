//! Record values as text for people, in German or English: the one place
//! the UI, the PDF and the exports take display text from.

use crate::catalog::{self, FieldDef, Kind};
use crate::codes::{self, CodeList};
use crate::value::civil_from_ms;
use crate::{Section, Value};

pub use rettpad_text::{Lang, Notice, Text, UserMessage, t};

pub fn field_label(def: &FieldDef, lang: Lang) -> &'static str {
    lang.pick(def.de, def.en)
}

pub fn section_label(s: Section, lang: Lang) -> &'static str {
    lang.pick(s.label_de(), s.label_en())
}

pub fn code_label(list: &CodeList, code: &str, lang: Lang) -> String {
    list.get(code)
        .map_or_else(|| code.to_string(), |c| lang.pick(c.de, c.en).to_string())
}

pub use crate::value::berlin_offset_ms;

/// "14:05" in German civil time.
pub fn clock_text(ms: i64) -> String {
    let local = ms + berlin_offset_ms(ms);
    let secs = local.rem_euclid(86_400_000) / 1000;
    format!("{:02}:{:02}", secs / 3600, (secs / 60) % 60)
}

/// "22.11.2026 14:05".
pub fn date_time_text(ms: i64) -> String {
    let local = ms + berlin_offset_ms(ms);
    let (y, m, d) = civil_from_ms(local);
    format!("{d:02}.{m:02}.{y} {}", clock_text(ms))
}

pub fn yes_no(b: bool, lang: Lang) -> &'static str {
    if b {
        lang.pick("ja", "yes")
    } else {
        lang.pick("nein", "no")
    }
}

/// The display text of a value of field `def`.
pub fn value_text(def: &FieldDef, v: &Value, lang: Lang) -> String {
    match (&def.kind, v) {
        (Kind::Code(list), Value::Code(c)) => code_label(list, c, lang),
        (Kind::Codes(list), Value::Codes(cs)) => cs
            .iter()
            .map(|c| code_label(list, c, lang))
            .collect::<Vec<_>>()
            .join(", "),
        (_, Value::Bool(b)) => yes_no(*b, lang).to_string(),
        (_, Value::Int(i)) => i.to_string(),
        (_, Value::Num(n)) => n.to_string(),
        (_, Value::Measured(m)) => match (m.value, m.not_measurable) {
            (_, true) => lang.pick("nicht messbar", "not measurable").to_string(),
            (Some(n), false) => n.to_string(),
            (None, false) => String::new(),
        },
        (_, Value::Time(t)) => clock_text(t.at_ms),
        (_, Value::Date(d)) => d.to_string(),
        (_, Value::Text(t)) | (_, Value::Code(t)) => t.clone(),
        (_, Value::Codes(cs)) => cs.join(", "),
    }
}

/// Short display of a value by field key (entry titles).
pub fn value_by_key(key: &str, v: &Value, lang: Lang) -> String {
    catalog::field(key).map_or_else(String::new, |d| value_text(d, v, lang))
}

/// Parses "TT.MM.JJJJ", "MM.JJJJ" or "JJJJ" (unknown parts become 0).
pub fn parse_date(s: &str) -> Option<crate::PartialDate> {
    let parts: Vec<&str> = s.trim().split('.').map(str::trim).collect();
    let num = |p: &str| p.parse::<u16>().ok();
    let (day, month, year) = match parts.as_slice() {
        [y] => (0, 0, num(y)?),
        [m, y] => (0, num(m)?, num(y)?),
        [d, m, y] => (num(d)?, num(m)?, num(y)?),
        _ => return None,
    };
    let d = crate::PartialDate {
        year,
        month: u8::try_from(month).ok()?,
        day: u8::try_from(day).ok()?,
    };
    d.is_valid().then_some(d)
}

/// Codes offered as tiles: everything but "nicht dokumentiert".
pub fn tile_codes(list: &'static CodeList) -> impl Iterator<Item = &'static codes::Code> {
    list.codes
        .iter()
        .filter(|c| c.code != codes::NOT_DOCUMENTED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::days_from_civil;

    #[test]
    fn berlin_time_switches_on_the_right_sundays() {
        // 2026: CEST from 29 March 01:00 UTC to 25 October 01:00 UTC.
        let start = days_from_civil(2026, 3, 29) * 86_400_000 + 3_600_000;
        assert_eq!(berlin_offset_ms(start - 1), 3_600_000);
        assert_eq!(berlin_offset_ms(start), 7_200_000);
        let end = days_from_civil(2026, 10, 25) * 86_400_000 + 3_600_000;
        assert_eq!(berlin_offset_ms(end - 1), 7_200_000);
        assert_eq!(berlin_offset_ms(end), 3_600_000);
        // 2026-11-22 13:05 UTC is 14:05 in Berlin.
        assert_eq!(
            clock_text(1_795_305_600_000 + 13 * 3_600_000 + 5 * 60_000),
            "14:05"
        );
    }

    #[test]
    fn dates_with_unknown_parts() {
        let d = parse_date("1950").unwrap();
        assert_eq!((d.year, d.month, d.day), (1950, 0, 0));
        let d = parse_date("03.04.1961").unwrap();
        assert_eq!((d.year, d.month, d.day), (1961, 4, 3));
        assert!(parse_date("31.02.1961").is_none());
        assert!(parse_date("x").is_none());
        assert!(parse_date("1.2.3.4").is_none());
    }
}
