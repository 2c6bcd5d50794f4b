//! KVK and PKV cards (synchronous memory cards). Access is reader-specific:
//! MKT/eHealth-BCS readers emulate `SELECT D2 76 00 00 01 01` + `READ
//! BINARY`; ACS readers take the pseudo-APDUs `FF A4` / `FF B0`; plain CCID
//! readers cannot read them at all (the card is then "unknown").
//!
//! The data is a BER-TLV template `60 L …` with 1-byte tags, text in DIN
//! 66003 (German ISO 646), and a check byte (tag 8E) that makes the XOR of
//! all bytes from the 60 tag through the check byte zero.

use super::apdu::{self, Transport, exchange, sw};
use super::data::{Address, CardData, CardKind, Coverage, InsuranceType, Person};
use super::error::{CardError, CardWarning};
use rettpad_record::PartialDate;
use rettpad_record::value::days_in_month;
use std::collections::BTreeMap;

/// The KVK application as MKT readers present it.
pub const AID_KVK: [u8; 6] = [0xD2, 0x76, 0x00, 0x00, 0x01, 0x01];

pub mod tag {
    pub const TEMPLATE: u8 = 0x60;
    pub const INSURER_NAME: u8 = 0x80;
    pub const INSURER_NO: u8 = 0x81;
    pub const NUMBER: u8 = 0x82;
    pub const STATUS: u8 = 0x83;
    pub const TITLE: u8 = 0x84;
    pub const GIVEN: u8 = 0x85;
    pub const PREFIX: u8 = 0x86;
    pub const FAMILY: u8 = 0x87;
    pub const BIRTH: u8 = 0x88;
    pub const STREET: u8 = 0x89;
    pub const COUNTRY: u8 = 0x8A;
    pub const POSTCODE: u8 = 0x8B;
    pub const CITY: u8 = 0x8C;
    pub const VALID: u8 = 0x8D;
    pub const CHECK: u8 = 0x8E;
    pub const VKNR: u8 = 0x8F;
    pub const STATUS_EXTRA: u8 = 0x90;
}

/// Reads a KVK through the reader's memory-card emulation: MKT first, then
/// the ACS pseudo-APDUs. `UnknownCard` when neither answers with a template.
pub fn read<T: Transport + ?Sized>(t: &mut T) -> Result<CardData, CardError> {
    let r = exchange(t, &apdu::select_aid(&AID_KVK, 0x00))?;
    if r.sw == sw::OK {
        let r = exchange(t, &[0x00, 0xB0, 0x00, 0x00, 0x00])?;
        if matches!(r.sw, sw::OK | sw::EOF_WARNING) {
            tracing::debug!(len = r.data.len(), "KVK read (MKT)");
            return parse(&r.data);
        }
        return Err(CardError::Status {
            cmd: "READ BINARY (KVK)",
            sw: r.sw,
        });
    }
    // ACS: select SLE 4432/4442, read the whole 256-byte memory.
    let r = exchange(t, &[0xFF, 0xA4, 0x00, 0x00, 0x01, 0x06])?;
    if r.sw != sw::OK {
        return Err(CardError::UnknownCard);
    }
    let mut mem = Vec::with_capacity(256);
    for addr in [0x00u8, 0x80] {
        let r = exchange(t, &[0xFF, 0xB0, 0x00, addr, 0x80])?;
        if r.sw != sw::OK {
            return Err(CardError::Status {
                cmd: "READ MEMORY (KVK)",
                sw: r.sw,
            });
        }
        mem.extend_from_slice(&r.data);
    }
    tracing::debug!(len = mem.len(), "KVK read (ACS)");
    parse(&mem)
}

/// Where the template starts: after the ATR header and DIR object of a raw
/// memory image, or at 0 when the reader already stripped them.
pub fn template_offset(mem: &[u8]) -> Result<usize, CardError> {
    match mem.first() {
        Some(0x82 | 0x92 | 0xA2) if mem.len() >= 4 => {
            let dir = usize::from(mem[3] & 0x7F);
            let len = *mem
                .get(dir + 1)
                .ok_or(CardError::KvkFormat("DIR object outside the memory"))?;
            Ok(dir + 2 + usize::from(len))
        }
        _ => Ok(0),
    }
}

/// Reads a BER length at `b[i..]`: 1–3 bytes (`xx`, `81 xx`, `82 xx xx`).
/// Returns (length, bytes used).
fn ber_len(b: &[u8], i: usize) -> Result<(usize, usize), CardError> {
    let bad = CardError::KvkFormat("truncated length");
    match *b.get(i).ok_or(bad.clone())? {
        n if n < 0x80 => Ok((usize::from(n), 1)),
        0x81 => Ok((usize::from(*b.get(i + 1).ok_or(bad)?), 2)),
        0x82 => {
            let hi = *b.get(i + 1).ok_or(bad.clone())?;
            let lo = *b.get(i + 2).ok_or(bad)?;
            Ok((usize::from(u16::from_be_bytes([hi, lo])), 3))
        }
        _ => Err(CardError::KvkFormat("unsupported length form")),
    }
}

/// DIN 66003: ASCII with `[ \ ] { | } ~ @` as `Ä Ö Ü ä ö ü ß §`.
pub fn din66003_decode(b: &[u8]) -> Result<String, CardError> {
    b.iter()
        .map(|&c| match c {
            b'[' => Ok('Ä'),
            b'\\' => Ok('Ö'),
            b']' => Ok('Ü'),
            b'{' => Ok('ä'),
            b'|' => Ok('ö'),
            b'}' => Ok('ü'),
            b'~' => Ok('ß'),
            b'@' => Ok('§'),
            0x20..=0x7E => Ok(char::from(c)),
            _ => Err(CardError::KvkFormat("character outside DIN 66003")),
        })
        .collect()
}

/// The inverse, for the simulator. Characters without a DIN 66003 form
/// become `?`.
pub fn din66003_encode(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            'Ä' => b'[',
            'Ö' => b'\\',
            'Ü' => b']',
            'ä' => b'{',
            'ö' => b'|',
            'ü' => b'}',
            'ß' => b'~',
            '§' => b'@',
            c if c.is_ascii() && !c.is_ascii_control() && !"[\\]{|}~@".contains(c) => c as u8,
            _ => b'?',
        })
        .collect()
}

/// Splits the template into its elements and verifies the check byte.
pub fn parse_template(mem: &[u8]) -> Result<BTreeMap<u8, Vec<u8>>, CardError> {
    let start = template_offset(mem)?;
    let t = mem.get(start..).unwrap_or(&[]);
    if t.first() != Some(&tag::TEMPLATE) {
        return Err(CardError::UnknownCard);
    }
    let (len, used) = ber_len(t, 1)?;
    let body_start = 1 + used;
    let body_end = body_start + len;
    if body_end > t.len() {
        return Err(CardError::KvkFormat("template longer than the memory"));
    }
    let mut fields = BTreeMap::new();
    let mut i = body_start;
    let mut check_end = None;
    while i < body_end {
        let tg = t[i];
        let (l, used) = ber_len(t, i + 1)?;
        let v0 = i + 1 + used;
        let v1 = v0 + l;
        if v1 > body_end {
            return Err(CardError::KvkFormat("element longer than the template"));
        }
        if fields.insert(tg, t[v0..v1].to_vec()).is_some() {
            return Err(CardError::KvkFormat("element repeated"));
        }
        if tg == tag::CHECK {
            if l != 1 {
                return Err(CardError::KvkFormat("check byte element not 1 byte"));
            }
            check_end = Some(v1);
            break;
        }
        i = v1;
    }
    let end = check_end.ok_or(CardError::KvkChecksum)?;
    if t[..end].iter().fold(0u8, |a, b| a ^ b) != 0 {
        return Err(CardError::KvkChecksum);
    }
    Ok(fields)
}

/// Parses a KVK memory image (raw, or from the template on).
pub fn parse(mem: &[u8]) -> Result<CardData, CardError> {
    let f = parse_template(mem)?;
    let text = |t: u8| -> Result<Option<String>, CardError> {
        f.get(&t)
            .map(|v| din66003_decode(v).map(|s| s.split_whitespace().collect::<Vec<_>>().join(" ")))
            .transpose()
            .map(|o| o.filter(|s| !s.is_empty()))
    };
    let req = |t: u8| -> Result<String, CardError> {
        text(t)?.ok_or(CardError::KvkFormat("mandatory element missing"))
    };
    let mut warnings = Vec::new();
    let number = req(tag::NUMBER)?;
    let insurance_number =
        if (1..=12).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Some(number)
        } else {
            warnings.push(CardWarning::InsuranceNumberInvalid);
            None
        };
    let birth_date = parse_birth(&req(tag::BIRTH)?);
    if birth_date.is_none() {
        warnings.push(CardWarning::BirthDateInvalid);
    }
    let city = text(tag::CITY)?;
    let street_address = city.map(|city| -> Result<Address, CardError> {
        Ok(Address {
            street: text(tag::STREET)?,
            extra: None,
            postcode: text(tag::POSTCODE)?,
            city,
            // Absent means Germany.
            country: text(tag::COUNTRY)?.unwrap_or_else(|| "D".into()),
        })
    });
    let ik = req(tag::INSURER_NO)?;
    let kind = match text(tag::STATUS)?.as_deref().and_then(|s| s.chars().next()) {
        Some('1') => Some(InsuranceType::Member),
        Some('3') => Some(InsuranceType::Family),
        Some('5') => Some(InsuranceType::Pensioner),
        _ => None,
    };
    Ok(CardData {
        kind: CardKind::Kvk,
        person: Person {
            insurance_number,
            given_name: req(tag::GIVEN)?,
            family_name: req(tag::FAMILY)?,
            name_prefix: text(tag::PREFIX)?,
            name_suffix: None,
            title: text(tag::TITLE)?,
            birth_date,
            sex: None,
            street_address: street_address.transpose()?,
            po_box: None,
        },
        coverage: Coverage {
            insurer_ik: (ik.len() == 9 && ik.bytes().all(|b| b.is_ascii_digit())).then_some(ik),
            insurer_name: req(tag::INSURER_NAME)?,
            start: None,
            end: parse_valid(&req(tag::VALID)?),
            kind,
        },
        warnings,
    })
}

/// Geburtsdatum: TTMMJJJJ, but PKV cards were seen with JJJJMMTT; the year
/// range decides (a TTMMJJJJ reading of a JJJJMMTT date gives a year < 1850).
pub fn parse_birth(s: &str) -> Option<PartialDate> {
    let b = s.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<u16>().unwrap_or(0);
    let ddmmyyyy = PartialDate {
        year: n(4..8),
        month: n(2..4) as u8,
        day: n(0..2) as u8,
    };
    let yyyymmdd = PartialDate {
        year: n(0..4),
        month: n(4..6) as u8,
        day: n(6..8) as u8,
    };
    [ddmmyyyy, yyyymmdd].into_iter().find(PartialDate::is_valid)
}

/// Gültigkeit MMJJ: valid through the end of that month.
pub fn parse_valid(s: &str) -> Option<PartialDate> {
    let b = s.as_bytes();
    if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let month = s[0..2].parse::<u8>().ok()?;
    let yy = s[2..4].parse::<u16>().ok()?;
    let year = if yy >= 90 { 1900 + yy } else { 2000 + yy };
    let d = PartialDate {
        year,
        month,
        day: days_in_month(year, month),
    };
    (month >= 1 && d.is_valid()).then_some(d)
}

/// Builds a template with its check byte (for the simulator and tests).
pub fn build_template(fields: &[(u8, &str)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (t, v) in fields {
        let v = din66003_encode(v);
        body.push(*t);
        push_len(&mut body, v.len());
        body.extend_from_slice(&v);
    }
    let mut out = vec![tag::TEMPLATE];
    push_len(&mut out, body.len() + 3);
    out.extend_from_slice(&body);
    out.extend_from_slice(&[tag::CHECK, 0x01]);
    let x = out.iter().fold(0u8, |a, b| a ^ b);
    out.push(x);
    out
}

fn push_len(out: &mut Vec<u8>, n: usize) {
    if n < 0x80 {
        out.push(n as u8);
    } else if n <= 0xFF {
        out.extend_from_slice(&[0x81, n as u8]);
    } else {
        out.push(0x82);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    }
}

/// A raw 256-byte memory image: ATR header, DIR object at 0x11, template at
/// 0x1E, padded with 0xFF.
pub fn build_memory(template: &[u8]) -> Vec<u8> {
    let mut m = vec![0xA2, 0x13, 0x10, 0x91];
    m.resize(0x11, 0xFF);
    m.extend_from_slice(&[0x06, 0x0B, 0xD2, 0x76, 0x00, 0x00, 0x01, 0x01]);
    m.resize(0x1E, 0x00);
    m.extend_from_slice(template);
    if m.len() < 256 {
        m.resize(256, 0xFF);
    }
    m
}

/// A fictional KVK (PKV-style) for tests and the simulator.
pub fn sample_fields() -> Vec<(u8, &'static str)> {
    vec![
        (tag::INSURER_NAME, "Testkasse Süd (fiktiv)"),
        (tag::INSURER_NO, "999567890"),
        (tag::VKNR, "72101"),
        (tag::NUMBER, "123456789012"),
        (tag::STATUS, "1000"),
        (tag::STATUS_EXTRA, "1"),
        (tag::TITLE, "Prof."),
        (tag::GIVEN, "Käthe"),
        (tag::FAMILY, "Müller-Lüdenscheidt"),
        (tag::BIRTH, "01021949"),
        (tag::STREET, "Am Bärenhügel 3"),
        (tag::POSTCODE, "80331"),
        (tag::CITY, "München"),
        (tag::VALID, "1228"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_round_trip_from_raw_memory_and_bare_template() {
        let t = build_template(&sample_fields());
        for mem in [build_memory(&t), t.clone()] {
            let d = parse(&mem).unwrap();
            assert_eq!(d.kind, CardKind::Kvk);
            assert_eq!(d.person.given_name, "Käthe");
            assert_eq!(d.person.family_name, "Müller-Lüdenscheidt");
            assert_eq!(d.person.title.as_deref(), Some("Prof."));
            assert_eq!(d.person.insurance_number.as_deref(), Some("123456789012"));
            assert_eq!(
                d.person.birth_date,
                Some(PartialDate {
                    year: 1949,
                    month: 2,
                    day: 1
                })
            );
            assert_eq!(d.person.sex, None);
            let a = d.person.street_address.as_ref().unwrap();
            assert_eq!(a.street.as_deref(), Some("Am Bärenhügel 3"));
            assert_eq!((a.city.as_str(), a.country.as_str()), ("München", "D"));
            assert_eq!(d.coverage.insurer_ik.as_deref(), Some("999567890"));
            assert_eq!(d.coverage.insurer_name, "Testkasse Süd (fiktiv)");
            assert_eq!(d.coverage.kind, Some(InsuranceType::Member));
            assert_eq!(
                d.coverage.end,
                Some(PartialDate {
                    year: 2028,
                    month: 12,
                    day: 31
                })
            );
            assert!(d.warnings.is_empty());
        }
        assert_eq!(template_offset(&build_memory(&t)).unwrap(), 0x1E);
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let t = build_template(&sample_fields());
        // Any single-bit change inside the checked range breaks the XOR or
        // the structure; none may parse silently into different data.
        let good = parse(&t).unwrap();
        for i in 0..t.len() {
            for bit in 0..8 {
                let mut m = t.clone();
                m[i] ^= 1 << bit;
                if let Ok(d) = parse(&m) {
                    panic!("flip at {i}/{bit} parsed: {d:?} vs {good:?}");
                }
            }
        }
        let mut m = t.clone();
        let n = m.len();
        m[n - 1] ^= 0x01;
        assert_eq!(parse(&m).unwrap_err(), CardError::KvkChecksum);
    }

    #[test]
    fn din66003() {
        assert_eq!(din66003_decode(b"[\\]{|}~@ az").unwrap(), "ÄÖÜäöüß§ az");
        assert_eq!(din66003_encode("Größe §1 Ø"), b"Gr|~e @1 ?");
        assert!(din66003_decode(&[0x41, 0x80]).is_err());
        assert!(din66003_decode(&[0x41, 0x0A]).is_err());
    }

    #[test]
    fn structure_errors() {
        // Not a template at all: not a KVK.
        assert_eq!(parse(&[0x00; 32]).unwrap_err(), CardError::UnknownCard);
        assert_eq!(parse(&[]).unwrap_err(), CardError::UnknownCard);
        // Template longer than the data.
        assert!(matches!(
            parse(&[0x60, 0x10, 0x80, 0x01]).unwrap_err(),
            CardError::KvkFormat(_)
        ));
        // No check byte.
        let no_check = [0x60, 0x03, 0x80, 0x01, b'A'];
        assert_eq!(parse(&no_check).unwrap_err(), CardError::KvkChecksum);
        // Mandatory element missing (checksum right).
        let t = build_template(&[(tag::GIVEN, "A")]);
        assert_eq!(
            parse(&t).unwrap_err(),
            CardError::KvkFormat("mandatory element missing")
        );
        // Repeated element.
        let t = build_template(&[(tag::GIVEN, "A"), (tag::GIVEN, "B")]);
        assert_eq!(
            parse(&t).unwrap_err(),
            CardError::KvkFormat("element repeated")
        );
        // Long-form lengths parse.
        let long = "x".repeat(200);
        let mut f = sample_fields();
        f.push((tag::PREFIX, &long));
        let t = build_template(&f);
        assert_eq!(t[1], 0x82);
        assert_eq!(
            parse(&t).unwrap().person.name_prefix.as_deref(),
            Some(long.as_str())
        );
        // Raw memory whose DIR points outside.
        assert!(matches!(
            parse(&[0xA2, 0x13, 0x10, 0xFF]).unwrap_err(),
            CardError::KvkFormat(_)
        ));
    }

    #[test]
    fn dates_and_numbers() {
        assert_eq!(
            parse_birth("19650312"),
            Some(PartialDate {
                year: 1965,
                month: 3,
                day: 12
            })
        );
        assert_eq!(
            parse_birth("20011231"),
            Some(PartialDate {
                year: 2001,
                month: 12,
                day: 31
            })
        );
        assert_eq!(parse_birth("31131999"), None);
        assert_eq!(parse_birth("1.1.1970"), None);
        assert_eq!(
            parse_valid("0295"),
            Some(PartialDate {
                year: 1995,
                month: 2,
                day: 28
            })
        );
        assert_eq!(parse_valid("1399"), None);
        assert_eq!(parse_valid("0099"), None);
        let mut f = sample_fields();
        f.retain(|(t, _)| *t != tag::NUMBER && *t != tag::BIRTH && *t != tag::INSURER_NO);
        f.push((tag::NUMBER, "12-34"));
        f.push((tag::BIRTH, "99999999"));
        f.push((tag::INSURER_NO, "1234567"));
        let d = parse(&build_template(&f)).unwrap();
        assert_eq!(d.person.insurance_number, None);
        assert_eq!(d.person.birth_date, None);
        assert_eq!(d.coverage.insurer_ik, None);
        assert_eq!(
            d.warnings,
            vec![
                CardWarning::InsuranceNumberInvalid,
                CardWarning::BirthDateInvalid
            ]
        );
    }
}
