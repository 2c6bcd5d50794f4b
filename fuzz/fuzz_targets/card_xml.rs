//! The card's XML text path (issue 19): `vsd::decode_text` → `parse_doc`
//! → `parse_pd` / `parse_vd`, with an oracle. The input is also taken as a
//! text that is written into a leaf in a mix of literal characters,
//! predefined entities, decimal and hex character references and CDATA,
//! in a UTF-8 or an ISO-8859-15 document; the leaf must read back as
//! exactly that text, and the insurer name as its cleaned form. Whitespace
//! next to a reference is what used to get lost.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rettpad_card::vsd::{clean, decode_text, parse_doc, parse_pd, parse_vd};

fuzz_target!(|data: &[u8]| {
    // Any bytes: never a panic, whatever the verdict.
    if let Ok(text) = decode_text(data)
        && let Ok(doc) = parse_doc(&text)
    {
        let _ = parse_pd(&doc, &mut Vec::new());
        let _ = parse_vd(&doc);
    }
    round_trip(data);
});

/// Small deterministic choice stream from the first bytes.
struct Pick(u64);

impl Pick {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn round_trip(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let iso = mode & 1 == 1;
    let mut pick = Pick(u64::from(mode));
    // The text: what the input says, minus what XML cannot carry at all
    // (NUL). A CR is only kept as a reference: a literal one is a line end.
    let text: String = String::from_utf8_lossy(rest)
        .chars()
        .filter(|c| *c != '\0')
        .collect();
    let mut raw = String::new();
    for c in text.chars() {
        // `>` only escaped, so no literal `]]>` can form.
        let literal_ok = !matches!(c, '&' | '<' | '>' | '\r') && (!iso || iso_8859_15(c).is_some());
        let named = match c {
            '&' => Some("&amp;"),
            '<' => Some("&lt;"),
            '>' => Some("&gt;"),
            '\'' => Some("&apos;"),
            '"' => Some("&quot;"),
            _ => None,
        };
        match pick.next(5) {
            0 if literal_ok => raw.push(c),
            1 if named.is_some() => raw.push_str(named.unwrap_or_default()),
            2 => raw.push_str(&format!("&#{};", u32::from(c))),
            3 => raw.push_str(&format!("&#x{:X};", u32::from(c))),
            4 if literal_ok && c != ']' => {
                raw.push_str(&format!("<![CDATA[{c}]]>"));
            }
            _ if literal_ok => raw.push(c),
            _ => raw.push_str(&format!("&#x{:x};", u32::from(c))),
        }
    }
    let decl = if iso { "ISO-8859-15" } else { "UTF-8" };
    let encode = |s: &str| -> Vec<u8> {
        if iso {
            // Every literal is representable by construction.
            s.chars().filter_map(iso_8859_15).collect()
        } else {
            s.as_bytes().to_vec()
        }
    };
    let leaf = format!("<?xml version=\"1.0\" encoding=\"{decl}\"?>\n<a>\n  <b>{raw}</b>\n</a>\n");
    let doc = decode_text(&encode(&leaf))
        .and_then(|t| parse_doc(&t))
        .unwrap_or_else(|e| panic!("well-formed leaf refused: {e}"));
    assert_eq!(doc.get("b"), Some(text.as_str()), "leaf text changed");

    // The insurer name: the same text, cleaned for the crew.
    let Ok(want) = clean(&text) else {
        return;
    };
    if want.is_empty() {
        return;
    }
    let vd = format!(
        "<?xml version=\"1.0\" encoding=\"{decl}\"?><UC_AllgemeineVersicherungsdatenXML><Versicherter><Versicherungsschutz><Beginn>20200101</Beginn><Kostentraeger><Kostentraegerkennung>999567890</Kostentraegerkennung><Kostentraegerlaendercode>D</Kostentraegerlaendercode><Name>{raw}</Name></Kostentraeger></Versicherungsschutz></Versicherter></UC_AllgemeineVersicherungsdatenXML>"
    );
    let c = decode_text(&encode(&vd))
        .and_then(|t| parse_doc(&t))
        .and_then(|d| parse_vd(&d))
        .unwrap_or_else(|e| panic!("valid VD refused: {e}"));
    assert_eq!(c.insurer_name, want, "insurer name changed");
}

/// The ISO-8859-15 byte of `c`: Latin-1 except the eight code points the
/// standard replaced (A4 €, A6 Š, A8 š, B4 Ž, B8 ž, BC Œ, BD œ, BE Ÿ).
fn iso_8859_15(c: char) -> Option<u8> {
    Some(match c {
        '€' => 0xA4,
        'Š' => 0xA6,
        'š' => 0xA8,
        'Ž' => 0xB4,
        'ž' => 0xB8,
        'Œ' => 0xBC,
        'œ' => 0xBD,
        'Ÿ' => 0xBE,
        '\u{A4}' | '\u{A6}' | '\u{A8}' | '\u{B4}' | '\u{B8}' | '\u{BC}' | '\u{BD}' | '\u{BE}' => {
            return None;
        }
        c => u8::try_from(u32::from(c)).ok()?,
    })
}
