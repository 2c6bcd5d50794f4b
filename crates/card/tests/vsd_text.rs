//! Text next to XML entity and character references in the card's VSD
//! documents (issue 19, card item 1): every predefined entity and numeric
//! references in decimal and hex, at the start, in the middle and at the end
//! of a text, with and without spaces on either side, in ISO-8859-15 and
//! UTF-8 documents. The expected text is written out here, not derived from
//! the parser.

use flate2::Compression;
use flate2::write::GzEncoder;
use rettpad_card::CardError;
use rettpad_card::vsd::{decode_text, parse_doc, parse_egk, parse_pd, parse_vd};
use std::io::Write;

/// (as written in the XML, the character it stands for)
const REFS: &[(&str, char)] = &[
    ("&amp;", '&'),
    ("&lt;", '<'),
    ("&gt;", '>'),
    ("&apos;", '\''),
    ("&quot;", '"'),
    ("&#38;", '&'),
    ("&#x26;", '&'),
    ("&#60;", '<'),
    ("&#x3c;", '<'),
    ("&#x3C;", '<'),
    ("&#62;", '>'),
    ("&#39;", '\''),
    ("&#34;", '"'),
    ("&#45;", '-'),
    ("&#x2F;", '/'),
    ("&#252;", 'ü'),
    ("&#xFC;", 'ü'),
    ("&#223;", 'ß'),
    ("&#8364;", '€'),
    ("&#x20AC;", '€'),
    ("&#x0153;", 'œ'),
];

/// Spaces before and after the reference.
const SPACING: &[(&str, &str)] = &[("", ""), (" ", ""), ("", " "), (" ", " "), ("  ", "\t")];

#[derive(Clone, Copy, Debug)]
enum Enc {
    Iso885915,
    Utf8,
}

fn document(enc: Enc, body: &str) -> Vec<u8> {
    match enc {
        Enc::Utf8 => format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}").into_bytes(),
        Enc::Iso885915 => {
            let text = format!(
                "<?xml version=\"1.0\" encoding=\"ISO-8859-15\" standalone=\"yes\"?>\n{body}"
            );
            let (bytes, _, unmappable) = encoding_rs::ISO_8859_15.encode(&text);
            assert!(!unmappable, "test text not in ISO-8859-15");
            bytes.into_owned()
        }
    }
}

fn vd_body(name: &str) -> String {
    format!(
        "<UC_AllgemeineVersicherungsdatenXML CDM_VERSION=\"5.2.0\" xmlns=\"http://ws.gematik.de/fa/vsdm/vsd/v5.2\">\n\
         <Versicherter>\n  <Versicherungsschutz>\n    <Beginn>20200101</Beginn>\n    <Kostentraeger>\n\
         <Kostentraegerkennung>999567890</Kostentraegerkennung>\n\
         <Kostentraegerlaendercode>D</Kostentraegerlaendercode>\n\
         <Name>{name}</Name>\n    </Kostentraeger>\n  </Versicherungsschutz>\n\
         <Zusatzinfos><ZusatzinfosGKV><Versichertenart>1</Versichertenart></ZusatzinfosGKV></Zusatzinfos>\n\
         </Versicherter>\n</UC_AllgemeineVersicherungsdatenXML>\n"
    )
}

fn pd_body(family: &str, street: &str, extra: &str) -> String {
    format!(
        "<UC_PersoenlicheVersichertendatenXML CDM_VERSION=\"5.2.0\" xmlns=\"http://ws.gematik.de/fa/vsdm/vsd/v5.2\">\n\
         <Versicherter>\n<Versicherten_ID>M223344550</Versicherten_ID>\n<Person>\n\
         <Geburtsdatum>19710315</Geburtsdatum>\n<Vorname>Jürgen</Vorname>\n<Nachname>{family}</Nachname>\n\
         <Geschlecht>M</Geschlecht>\n<StrassenAdresse>\n<Postleitzahl>10115</Postleitzahl>\n\
         <Ort>Berlin</Ort>\n<Land><Wohnsitzlaendercode>D</Wohnsitzlaendercode></Land>\n\
         <Strasse>{street}</Strasse>\n<Hausnummer>12a</Hausnummer>\n\
         <Anschriftenzusatz>{extra}</Anschriftenzusatz>\n</StrassenAdresse>\n</Person>\n</Versicherter>\n\
         </UC_PersoenlicheVersichertendatenXML>\n"
    )
}

/// Every (raw text, exact decoded text) case: reference at the start, in the
/// middle and at the end, with every spacing.
fn cases() -> Vec<(String, String)> {
    let mut v = Vec::new();
    for (r, c) in REFS {
        for (before, after) in SPACING {
            // Middle.
            v.push((
                format!("Müller{before}{r}{after}Söhne"),
                format!("Müller{before}{c}{after}Söhne"),
            ));
            // Start.
            v.push((
                format!("{before}{r}{after}Söhne"),
                format!("{before}{c}{after}Söhne"),
            ));
            // End.
            v.push((
                format!("Müller{before}{r}{after}"),
                format!("Müller{before}{c}{after}"),
            ));
            // Twice, and next to another reference.
            v.push((
                format!("A{before}{r}{after}B{before}{r}&amp;{after}C"),
                format!("A{before}{c}{after}B{before}{c}&{after}C"),
            ));
        }
    }
    v
}

/// What the crew sees: trimmed, whitespace runs collapsed to one space.
fn collapsed(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_leaf_text_is_exact_around_every_reference() {
    for enc in [Enc::Iso885915, Enc::Utf8] {
        for (raw, want) in cases() {
            let xml = document(enc, &format!("<a>\n  <b>{raw}</b>\n</a>"));
            let doc = parse_doc(&decode_text(&xml).unwrap()).unwrap();
            assert_eq!(doc.get("b"), Some(want.as_str()), "{enc:?} {raw:?}");
        }
    }
}

#[test]
fn insurer_name_keeps_its_spaces_around_every_reference() {
    for enc in [Enc::Iso885915, Enc::Utf8] {
        for (raw, want) in cases() {
            let xml = document(enc, &vd_body(&raw));
            let doc = parse_doc(&decode_text(&xml).unwrap()).unwrap();
            let c = parse_vd(&doc).unwrap();
            assert_eq!(c.insurer_name, collapsed(&want), "{enc:?} {raw:?}");
        }
    }
}

#[test]
fn names_and_address_lines_keep_their_spaces_around_every_reference() {
    for enc in [Enc::Iso885915, Enc::Utf8] {
        for (raw, want) in cases() {
            let xml = document(enc, &pd_body(&raw, &raw, &raw));
            let doc = parse_doc(&decode_text(&xml).unwrap()).unwrap();
            let p = parse_pd(&doc, &mut Vec::new()).unwrap();
            let want = collapsed(&want);
            assert_eq!(p.family_name, want, "{enc:?} {raw:?}");
            let a = p.street_address.unwrap();
            assert_eq!(a.street, Some(format!("{want} 12a")), "{enc:?} {raw:?}");
            assert_eq!(a.extra.as_deref(), Some(want.as_str()), "{enc:?} {raw:?}");
        }
    }
}

#[test]
fn real_world_insurer_and_address_through_the_whole_read() {
    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
    for enc in [Enc::Iso885915, Enc::Utf8] {
        let pd = document(
            enc,
            &pd_body(
                "Meier &amp; Co",
                "Straße &#34;Am Markt&#34; &#8211; Ecke &lt;Nord&gt;",
                "c/o Schmidt &#x26; Söhne &#8364; ",
            ),
        );
        let vd = document(enc, &vd_body("AOK &amp; BKK Lüneburg &apos;Nord&apos;"));
        let d = parse_egk(&gz(&pd), &gz(&vd), vec![]).unwrap();
        assert_eq!(d.person.family_name, "Meier & Co");
        let a = d.person.street_address.unwrap();
        assert_eq!(
            a.street.as_deref(),
            Some("Straße \"Am Markt\" – Ecke <Nord> 12a")
        );
        assert_eq!(a.extra.as_deref(), Some("c/o Schmidt & Söhne €"));
        assert_eq!(d.coverage.insurer_name, "AOK & BKK Lüneburg 'Nord'");
    }
}

#[test]
fn whitespace_written_as_references_and_cdata_are_kept() {
    for (raw, want) in [
        ("A&#32;B", "A B"),
        ("A&#x20;&#x20;B", "A  B"),
        ("&#32;A&#9;", " A\t"),
        ("a\r\nb", "a\nb"),
        ("a&#13;&#10;b", "a\r\nb"),
        ("<![CDATA[A &amp; ]]>&amp; B", "A &amp; & B"),
        ("x <![CDATA[<]]> &lt; y", "x < < y"),
        ("&amp;lt;", "&lt;"),
    ] {
        for enc in [Enc::Iso885915, Enc::Utf8] {
            let xml = document(enc, &format!("<a><b>{raw}</b></a>"));
            let doc = parse_doc(&decode_text(&xml).unwrap()).unwrap();
            assert_eq!(doc.get("b"), Some(want), "{enc:?} {raw:?}");
        }
    }
}

#[test]
fn unknown_or_invalid_references_are_still_refused_wherever_they_stand() {
    for raw in [
        "A &nbsp; B",
        "&foo; B",
        "A &foo;",
        "A &#0; B",
        "A &#xD800; B",
        "A &#-5; B",
        "A &#x; B",
    ] {
        let doc = parse_doc(&format!("<a><b>{raw}</b></a>"));
        assert!(
            matches!(doc, Err(CardError::Xml(_))),
            "{raw:?} gave {:?}",
            doc.as_ref().map(|d| d.get("b"))
        );
    }
    // Text, references or non-XML whitespace outside the root or between
    // elements stay refused.
    for xml in [
        "<a/>&amp;",
        "&#32;<a/>",
        "<a>&amp;<b/></a>",
        "<a><b/>&#65;</a>",
        "<a>\u{A0}<b/></a>",
    ] {
        assert!(parse_doc(xml).is_err(), "{xml:?}");
    }
    // Whitespace between elements (also written as references) is fine.
    let d = parse_doc("<a> &#32; <b>x</b>&#10;</a>").unwrap();
    assert_eq!(d.get("b"), Some("x"));
}
