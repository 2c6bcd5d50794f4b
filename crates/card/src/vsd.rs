//! The insurance data (Versichertenstammdaten, VSD) inside EF.PD and EF.VD:
//! gzip with a hard inflate cap, the text encoding (ISO-8859-15 as declared
//! by the cards), and a namespace-agnostic XML reader for VSD 5.1, 5.2 and
//! the PKV variant. Pure functions over bytes.

use super::data::{Address, CardData, CardKind, Coverage, InsuranceType, Person, Sex};
use super::error::{CardError, CardWarning, XML_DTD, XML_ENTITY, XML_TOO_DEEP};
use flate2::read::GzDecoder;
use quick_xml::events::Event;
use rettpad_record::PartialDate;
use std::collections::BTreeMap;
use std::io::Read;

/// Inflate cap. Real payloads are 0.4–0.6 KB; the largest file (1250 B)
/// cannot legitimately inflate beyond this.
pub const INFLATE_LIMIT: usize = 64 * 1024;
/// Deepest element nesting accepted (VSD needs 6).
pub const MAX_DEPTH: usize = 16;
/// Most elements accepted in one document (VSD has about 40).
pub const MAX_ELEMENTS: usize = 512;

/// Inflates one gzip member, refusing more than `limit` bytes of output.
/// The decoder is streamed through `take(limit + 1)`, so a bomb costs at
/// most `limit + 1` bytes of memory.
pub fn gunzip_limited(data: &[u8], limit: usize) -> Result<Vec<u8>, CardError> {
    if data.len() < 18 {
        return Err(CardError::Gzip("shorter than a gzip header and trailer"));
    }
    if data[..3] != [0x1F, 0x8B, 0x08] {
        return Err(CardError::Gzip("no gzip/deflate signature"));
    }
    let mut out = Vec::with_capacity(1024);
    GzDecoder::new(data)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => CardError::Gzip("truncated stream"),
            _ => CardError::Gzip("invalid deflate data or checksum"),
        })?;
    if out.len() > limit {
        return Err(CardError::ZipBomb { limit });
    }
    Ok(out)
}

/// Decodes the XML bytes to text following the declaration: ISO-8859-15
/// (what the cards use), ISO-8859-1 or UTF-8. Without a declaration UTF-8,
/// falling back to ISO-8859-15. Any other declared encoding is refused.
pub fn decode_text(xml: &[u8]) -> Result<String, CardError> {
    let xml = xml.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(xml);
    let label = declared_encoding(xml)?;
    let enc = match label.as_deref() {
        None => {
            return Ok(match std::str::from_utf8(xml) {
                Ok(s) => s.to_string(),
                Err(_) => encoding_rs::ISO_8859_15
                    .decode_without_bom_handling(xml)
                    .0
                    .into_owned(),
            });
        }
        Some(l) if l.eq_ignore_ascii_case("utf-8") || l.eq_ignore_ascii_case("utf8") => {
            encoding_rs::UTF_8
        }
        Some(l) if l.eq_ignore_ascii_case("iso-8859-15") || l.eq_ignore_ascii_case("latin-9") => {
            encoding_rs::ISO_8859_15
        }
        // encoding_rs maps the Latin-1 label to windows-1252 (a superset).
        Some(l) if l.eq_ignore_ascii_case("iso-8859-1") => encoding_rs::WINDOWS_1252,
        Some(_) => return Err(CardError::Xml("unsupported encoding declared")),
    };
    let (text, had_errors) = enc.decode_without_bom_handling(xml);
    if had_errors {
        return Err(CardError::Xml("invalid bytes for the declared encoding"));
    }
    Ok(text.into_owned())
}

/// The `encoding` pseudo-attribute of a leading `<?xml …?>`, if any.
fn declared_encoding(xml: &[u8]) -> Result<Option<String>, CardError> {
    if !xml.starts_with(b"<?xml") {
        return Ok(None);
    }
    let end = xml
        .windows(2)
        .take(256)
        .position(|w| w == b"?>")
        .ok_or(CardError::Xml("unterminated XML declaration"))?;
    let decl = std::str::from_utf8(&xml[..end])
        .map_err(|_| CardError::Xml("non-ASCII XML declaration"))?;
    let Some(i) = decl.find("encoding") else {
        return Ok(None);
    };
    let rest = decl[i + "encoding".len()..].trim_start();
    let rest = rest
        .strip_prefix('=')
        .ok_or(CardError::Xml("malformed XML declaration"))?
        .trim_start();
    let quote = rest
        .chars()
        .next()
        .filter(|c| *c == '"' || *c == '\'')
        .ok_or(CardError::Xml("malformed XML declaration"))?;
    let body = &rest[1..];
    let close = body
        .find(quote)
        .ok_or(CardError::Xml("malformed XML declaration"))?;
    Ok(Some(body[..close].to_string()))
}

/// A parsed document: the root's local name and the text of every leaf,
/// keyed by the path of local names below the root (`Versicherter/Person/Vorname`).
/// Namespaces and prefixes are ignored, so VSD 5.1, 5.2 and PKV read alike.
pub struct Doc {
    pub root: String,
    pub fields: BTreeMap<String, String>,
    /// Paths of every element seen (also those without text).
    pub elements: Vec<String>,
}

impl Doc {
    pub fn get(&self, path: &str) -> Option<&str> {
        self.fields.get(path).map(String::as_str)
    }

    pub fn has(&self, path: &str) -> bool {
        self.elements.iter().any(|e| e == path)
    }

    fn req(&self, path: &'static str) -> Result<&str, CardError> {
        self.get(path)
            .ok_or(CardError::Xml("mandatory element missing"))
    }
}

/// Parses XML into a [`Doc`]. Refuses DTDs and any entity other than the
/// five predefined ones and character references (no XXE, no billion
/// laughs), nesting deeper than [`MAX_DEPTH`], more than [`MAX_ELEMENTS`]
/// elements, a repeated leaf, mixed content and text outside the root.
///
/// A leaf's text is collected raw (references kept as written) and
/// unescaped as one piece when the element closes, so whitespace next to a
/// reference survives (`Müller &amp; Söhne`). The field holds the exact
/// text; callers trim or [`clean`] it.
pub fn parse_doc(text: &str) -> Result<Doc, CardError> {
    let mut r = quick_xml::Reader::from_str(text);
    // No trimming here: quick-xml trims each fragment between references,
    // which eats the spaces around `&amp;`.
    r.config_mut().trim_text(false);
    r.config_mut().check_end_names = true;
    let mut stack: Vec<String> = Vec::new();
    let mut root: Option<String> = None;
    let mut closed_root = false;
    let mut fields = BTreeMap::new();
    let mut elements = Vec::new();
    let mut raw = String::new();
    let mut has_child = Vec::<bool>::new();
    loop {
        let ev = r
            .read_event()
            .map_err(|e| CardError::Xml(xml_error_kind(&e)))?;
        match ev {
            Event::Start(_) | Event::Empty(_) if closed_root => {
                return Err(CardError::Xml("more than one root element"));
            }
            Event::Start(s) => {
                no_text_before_child(&mut raw)?;
                open(&mut stack, &mut root, &mut elements, &mut has_child, &s)?;
            }
            Event::Empty(s) => {
                no_text_before_child(&mut raw)?;
                open(&mut stack, &mut root, &mut elements, &mut has_child, &s)?;
                close(
                    &mut stack,
                    &mut fields,
                    &mut has_child,
                    &mut raw,
                    &mut closed_root,
                )?;
            }
            Event::End(_) => close(
                &mut stack,
                &mut fields,
                &mut has_child,
                &mut raw,
                &mut closed_root,
            )?,
            // Text between references carries no `&`: quick-xml reports each
            // reference as its own event.
            Event::Text(t) => push_raw(&stack, &mut raw, &t.xml10_content(), false)?,
            Event::CData(t) => {
                // Literal text: escaped so the one unescape restores it as is.
                let s = t.xml10_content();
                push_raw(&stack, &mut raw, &quick_xml::escape::escape(s), false)?
            }
            Event::GeneralRef(g) => {
                let name: &str = &g;
                push_raw(&stack, &mut raw, &format!("&{name};"), true)?
            }
            Event::DocType(_) => return Err(CardError::Xml(XML_DTD)),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    match (root, stack.is_empty()) {
        (Some(root), true) => Ok(Doc {
            root,
            fields,
            elements,
        }),
        (None, _) => Err(CardError::Xml("no root element")),
        (Some(_), false) => Err(CardError::Xml("unclosed element")),
    }
}

/// Resolves the references in one piece of raw text: the five predefined
/// entities and character references; anything else is refused.
pub fn unescape_text(raw: &str) -> Result<String, CardError> {
    quick_xml::escape::unescape_with(raw, quick_xml::escape::resolve_xml_entity)
        .map(std::borrow::Cow::into_owned)
        .map_err(|e| match e {
            quick_xml::escape::EscapeError::InvalidCharRef(_) => {
                CardError::Xml("invalid character reference")
            }
            _ => CardError::Xml(XML_ENTITY),
        })
}

fn open(
    stack: &mut Vec<String>,
    root: &mut Option<String>,
    elements: &mut Vec<String>,
    has_child: &mut Vec<bool>,
    s: &quick_xml::events::BytesStart<'_>,
) -> Result<(), CardError> {
    let local: String = s.local_name().into_inner().to_string();
    if stack.len() >= MAX_DEPTH {
        return Err(CardError::Xml(XML_TOO_DEEP));
    }
    if elements.len() >= MAX_ELEMENTS {
        return Err(CardError::Xml("too many elements"));
    }
    if let Some(parent) = has_child.last_mut() {
        *parent = true;
    }
    if root.is_none() {
        *root = Some(local.clone());
    }
    stack.push(local);
    has_child.push(false);
    elements.push(path_of(stack));
    Ok(())
}

fn close(
    stack: &mut Vec<String>,
    fields: &mut BTreeMap<String, String>,
    has_child: &mut Vec<bool>,
    raw: &mut String,
    closed_root: &mut bool,
) -> Result<(), CardError> {
    let had_child = has_child.pop().unwrap_or(false);
    // The whole text of the element, unescaped in one go.
    let text = unescape_text(raw)?;
    raw.clear();
    if !had_child && stack.len() > 1 {
        let path = path_of(stack);
        if fields.contains_key(&path) {
            return Err(CardError::Xml("element repeated"));
        }
        fields.insert(path, text);
    } else if had_child && !is_xml_space(&text) {
        return Err(CardError::Xml("mixed content"));
    }
    stack.pop();
    if stack.is_empty() {
        *closed_root = true;
    }
    Ok(())
}

/// Text followed by a child element is mixed content, which VSD never has.
fn no_text_before_child(raw: &mut String) -> Result<(), CardError> {
    if !is_xml_space(&unescape_text(raw)?) {
        return Err(CardError::Xml("mixed content"));
    }
    raw.clear();
    Ok(())
}

/// Only XML's own whitespace (space, tab, CR, LF) separates elements.
fn is_xml_space(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// Appends raw text. Outside the root only whitespace is allowed, and no
/// reference at all.
fn push_raw(stack: &[String], raw: &mut String, s: &str, reference: bool) -> Result<(), CardError> {
    if stack.is_empty() {
        if !reference && is_xml_space(s) {
            return Ok(());
        }
        return Err(CardError::Xml("text outside the root element"));
    }
    raw.push_str(s);
    Ok(())
}

/// Path below the root: the root itself is left out.
fn path_of(stack: &[String]) -> String {
    stack.get(1..).unwrap_or(&[]).join("/")
}

/// A category for logs; never the offending content.
fn xml_error_kind(e: &quick_xml::Error) -> &'static str {
    match e {
        quick_xml::Error::Syntax(_) => "syntax error",
        quick_xml::Error::IllFormed(_) => "ill-formed document",
        quick_xml::Error::InvalidAttr(_) => "invalid attribute",
        quick_xml::Error::Encoding(_) => "encoding error",
        quick_xml::Error::Escape(_) => XML_ENTITY,
        quick_xml::Error::Namespace(_) => "namespace error",
        quick_xml::Error::Io(_) => "read error",
    }
}

/// Trims, collapses internal whitespace runs (line breaks included) to one
/// space, and refuses control characters.
pub fn clean(s: &str) -> Result<String, CardError> {
    if s.chars().any(|c| c.is_control() && !c.is_whitespace()) {
        return Err(CardError::Xml("control character in a value"));
    }
    Ok(s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `YYYYMMDD` with `00` allowed for unknown month and day (and `0000`
/// year, which yields `None`). Returns `Err` for text that is not eight
/// digits; `Ok(None)` for a well-formed but invalid date.
pub fn parse_yyyymmdd(s: &str) -> Result<Option<PartialDate>, CardError> {
    let b = s.as_bytes();
    if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
        return Err(CardError::Xml("date is not YYYYMMDD"));
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u16>().unwrap_or(0);
    let d = PartialDate {
        year: num(0..4),
        month: num(4..6) as u8,
        day: num(6..8) as u8,
    };
    Ok(d.is_valid().then_some(d))
}

/// The check digit of a 10-character KVNR (`A123456780`): the letter as
/// 01–26, then the eight digits; weights 1,2,1,2…; sum of the products'
/// digit sums; mod 10 is the last character.
pub fn kvnr_valid(kvnr: &str) -> bool {
    let b = kvnr.as_bytes();
    if b.len() != 10 || !b[0].is_ascii_uppercase() || !b[1..].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let letter = b[0] - b'A' + 1;
    let mut digits = vec![letter / 10, letter % 10];
    digits.extend(b[1..9].iter().map(|c| c - b'0'));
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let p = u32::from(*d) * if i % 2 == 0 { 1 } else { 2 };
            p / 10 + p % 10
        })
        .sum();
    sum % 10 == u32::from(b[9] - b'0')
}

/// Personal data (EF.PD) into `person`. Mandatory: Versicherten_ID,
/// Geburtsdatum, Vorname, Nachname, Geschlecht.
pub fn parse_pd(doc: &Doc, warnings: &mut Vec<CardWarning>) -> Result<Person, CardError> {
    if doc.root != "UC_PersoenlicheVersichertendatenXML" {
        return Err(CardError::Xml("EF.PD holds an unexpected document"));
    }
    let p = "Versicherter/Person/";
    let g = |k: &str| doc.get(&format!("{p}{k}"));
    let opt = |k: &str| -> Result<Option<String>, CardError> {
        g(k).map(clean)
            .transpose()
            .map(|o| o.filter(|s| !s.is_empty()))
    };
    let id = clean(doc.req("Versicherter/Versicherten_ID")?)?;
    let number = if kvnr_valid(&id) {
        Some(id)
    } else {
        warnings.push(CardWarning::InsuranceNumberInvalid);
        None
    };
    let birth = doc.req("Versicherter/Person/Geburtsdatum")?;
    let birth_date = parse_yyyymmdd(birth.trim())?;
    if birth_date.is_none() {
        warnings.push(CardWarning::BirthDateInvalid);
    }
    let sex = match doc.req("Versicherter/Person/Geschlecht")?.trim() {
        "M" => Sex::M,
        "W" => Sex::W,
        "X" => Sex::X,
        "D" => Sex::D,
        _ => return Err(CardError::Xml("unknown Geschlecht code")),
    };
    let given_name = clean(doc.req("Versicherter/Person/Vorname")?)?;
    let family_name = clean(doc.req("Versicherter/Person/Nachname")?)?;
    if given_name.is_empty() || family_name.is_empty() {
        return Err(CardError::Xml("empty name"));
    }
    let street_address = address(doc, "Versicherter/Person/StrassenAdresse", false)?;
    let po_box = address(doc, "Versicherter/Person/PostfachAdresse", true)?;
    Ok(Person {
        insurance_number: number,
        given_name,
        family_name,
        name_prefix: opt("Vorsatzwort")?,
        name_suffix: opt("Namenszusatz")?,
        title: opt("Titel")?,
        birth_date,
        sex: Some(sex),
        street_address,
        po_box,
    })
}

fn address(doc: &Doc, base: &str, po_box: bool) -> Result<Option<Address>, CardError> {
    if !doc.has(base) {
        return Ok(None);
    }
    let g = |k: &str| -> Result<Option<String>, CardError> {
        doc.get(&format!("{base}/{k}"))
            .map(clean)
            .transpose()
            .map(|o| o.filter(|s| !s.is_empty()))
    };
    let city = g("Ort")?.ok_or(CardError::Xml("address without Ort"))?;
    let country = g("Land/Wohnsitzlaendercode")?
        .ok_or(CardError::Xml("address without Wohnsitzlaendercode"))?;
    let street = if po_box {
        let b = g("Postfach")?.ok_or(CardError::Xml("PostfachAdresse without Postfach"))?;
        Some(format!("Postfach {b}"))
    } else {
        match (g("Strasse")?, g("Hausnummer")?) {
            (Some(s), Some(n)) => Some(format!("{s} {n}")),
            (Some(s), None) => Some(s),
            (None, Some(n)) => Some(n),
            (None, None) => None,
        }
    };
    Ok(Some(Address {
        street,
        extra: g("Anschriftenzusatz")?,
        postcode: g("Postleitzahl")?,
        city,
        country,
    }))
}

/// Insurance data (EF.VD) into `coverage`. Mandatory: Beginn, Kostentraeger
/// (Kennung, Name).
pub fn parse_vd(doc: &Doc) -> Result<Coverage, CardError> {
    if doc.root != "UC_AllgemeineVersicherungsdatenXML" {
        return Err(CardError::Xml("EF.VD holds an unexpected document"));
    }
    let v = "Versicherter/Versicherungsschutz/";
    let start = parse_yyyymmdd(doc.req("Versicherter/Versicherungsschutz/Beginn")?.trim())?;
    let end = match doc.get(&format!("{v}Ende")) {
        Some(e) => parse_yyyymmdd(e.trim())?,
        None => None,
    };
    let ik =
        clean(doc.req("Versicherter/Versicherungsschutz/Kostentraeger/Kostentraegerkennung")?)?;
    if ik.len() != 9 || !ik.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CardError::Xml("Kostentraegerkennung is not 9 digits"));
    }
    let name = clean(doc.req("Versicherter/Versicherungsschutz/Kostentraeger/Name")?)?;
    let kind = if doc.elements.iter().any(|e| e.ends_with("ZusatzinfosPKV")) {
        Some(InsuranceType::Private)
    } else {
        match doc
            .get("Versicherter/Zusatzinfos/ZusatzinfosGKV/Versichertenart")
            .map(str::trim)
        {
            Some("1") => Some(InsuranceType::Member),
            Some("3") => Some(InsuranceType::Family),
            Some("5") => Some(InsuranceType::Pensioner),
            _ => None,
        }
    };
    Ok(Coverage {
        insurer_ik: Some(ik),
        insurer_name: name,
        start,
        end,
        kind,
    })
}

/// Inflates, decodes and parses the PD and VD payloads into card data.
pub fn parse_egk(
    pd_gzip: &[u8],
    vd_gzip: &[u8],
    mut warnings: Vec<CardWarning>,
) -> Result<CardData, CardError> {
    let pd = parse_doc(&decode_text(&gunzip_limited(pd_gzip, INFLATE_LIMIT)?)?)?;
    let vd = parse_doc(&decode_text(&gunzip_limited(vd_gzip, INFLATE_LIMIT)?)?)?;
    let person = parse_pd(&pd, &mut warnings)?;
    let coverage = parse_vd(&vd)?;
    Ok(CardData {
        kind: CardKind::Egk,
        person,
        coverage,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    pub(crate) fn fixture(name: &str) -> Vec<u8> {
        let p = format!("{}/tests/fixtures/egk/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {p}: {e}"))
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn pd_of(xml: &[u8]) -> Result<(Person, Vec<CardWarning>), CardError> {
        let mut w = Vec::new();
        let doc = parse_doc(&decode_text(xml)?)?;
        parse_pd(&doc, &mut w).map(|p| (p, w))
    }

    #[test]
    fn pd_fixture_reads_with_umlauts_from_iso_8859_15() {
        let (p, w) = pd_of(&fixture("pd.xml")).unwrap();
        assert!(w.is_empty());
        assert_eq!(p.insurance_number.as_deref(), Some("M223344550"));
        assert_eq!(p.given_name, "Jürgen Karl");
        assert_eq!(p.family_name, "Großmann");
        assert_eq!(p.name_prefix.as_deref(), Some("von"));
        assert_eq!(p.title.as_deref(), Some("Dr. med."));
        assert_eq!(
            p.birth_date,
            Some(PartialDate {
                year: 1971,
                month: 3,
                day: 15
            })
        );
        assert_eq!(p.sex, Some(Sex::M));
        let a = p.street_address.unwrap();
        assert_eq!(a.street.as_deref(), Some("Hauptstraße 12a"));
        assert_eq!(a.extra.as_deref(), Some("Hinterhaus"));
        assert_eq!(a.postcode.as_deref(), Some("10115"));
        assert_eq!((a.city.as_str(), a.country.as_str()), ("Berlin", "D"));
        assert!(p.po_box.is_none());
    }

    #[test]
    fn pd_edge_fixture_partial_birth_date_diverse_and_two_addresses() {
        let (p, _) = pd_of(&fixture("pd_edge.xml")).unwrap();
        assert_eq!(p.family_name, "Öztürk-Ñúñez");
        assert_eq!(p.name_suffix.as_deref(), Some("Freiherr"));
        assert_eq!(
            p.birth_date,
            Some(PartialDate {
                year: 1965,
                month: 0,
                day: 0
            })
        );
        assert_eq!(p.sex, Some(Sex::D));
        let s = p.street_address.unwrap();
        assert_eq!(
            (s.postcode.as_deref(), s.city.as_str(), s.country.as_str()),
            (Some("6020"), "Innsbruck", "A")
        );
        let b = p.po_box.unwrap();
        assert_eq!(b.street.as_deref(), Some("Postfach 123456"));
        assert_eq!(b.country, "D");
    }

    #[test]
    fn vd_fixtures() {
        let c = parse_vd(&parse_doc(&decode_text(&fixture("vd.xml")).unwrap()).unwrap()).unwrap();
        assert_eq!(c.insurer_ik.as_deref(), Some("999567890"));
        assert_eq!(c.insurer_name, "Testkasse Nord (fiktiv)");
        assert_eq!(c.kind, Some(InsuranceType::Member));
        assert_eq!(c.end, None);
        let e =
            parse_vd(&parse_doc(&decode_text(&fixture("vd_edge.xml")).unwrap()).unwrap()).unwrap();
        assert_eq!(e.kind, Some(InsuranceType::Family));
        assert_eq!(
            e.end,
            Some(PartialDate {
                year: 2027,
                month: 12,
                day: 31
            })
        );
        // The billing insurer's IK is not taken for the insurer's.
        assert_eq!(e.insurer_ik.as_deref(), Some("999567890"));
    }

    #[test]
    fn gvd_and_swapped_documents_are_refused() {
        let gvd = parse_doc(&decode_text(&fixture("gvd.xml")).unwrap()).unwrap();
        assert!(parse_vd(&gvd).is_err());
        let vd = parse_doc(&decode_text(&fixture("vd.xml")).unwrap()).unwrap();
        assert!(parse_pd(&vd, &mut Vec::new()).is_err());
    }

    #[test]
    fn iso_8859_15_differs_from_latin1() {
        // 0xA4 is € in ISO-8859-15 and ¤ in Latin-1.
        let xml = b"<?xml version=\"1.0\" encoding=\"ISO-8859-15\"?><a><b>\xA4\xBD</b></a>";
        let d = parse_doc(&decode_text(xml).unwrap()).unwrap();
        assert_eq!(d.get("b"), Some("€œ"));
        let utf8 = "<?xml version='1.0' encoding='UTF-8'?><a><b>Ðoria</b></a>";
        assert_eq!(
            parse_doc(&decode_text(utf8.as_bytes()).unwrap())
                .unwrap()
                .get("b"),
            Some("Ðoria")
        );
        assert_eq!(
            decode_text(b"<?xml version='1.0' encoding='UTF-8'?><a>\xFF</a>"),
            Err(CardError::Xml("invalid bytes for the declared encoding"))
        );
        assert_eq!(
            decode_text(b"<?xml version='1.0' encoding='EBCDIC'?><a/>"),
            Err(CardError::Xml("unsupported encoding declared"))
        );
        // No declaration, not UTF-8: ISO-8859-15.
        assert_eq!(decode_text(b"<a>\xFC</a>").unwrap(), "<a>ü</a>");
    }

    #[test]
    fn prefixed_namespaces_and_v51_read_like_v52() {
        let xml = fixture("pd.xml");
        let text = decode_text(&xml)
            .unwrap()
            .replace(
                "xmlns=\"http://ws.gematik.de/fa/vsdm/vsd/v5.2\"",
                "xmlns:vsd=\"http://ws.gematik.de/fa/vsdm/vsd/v5.1\"",
            )
            .replace("CDM_VERSION=\"5.2.0\"", "CDM_VERSION=\"5.1.0\"")
            .replace("<", "<vsd:")
            .replace("<vsd:/", "</vsd:")
            .replace("<vsd:?xml", "<?xml");
        let doc = parse_doc(&text).unwrap();
        let p = parse_pd(&doc, &mut Vec::new()).unwrap();
        assert_eq!(p.family_name, "Großmann");
    }

    #[test]
    fn pkv_vd_is_private() {
        let xml = "<UC_AllgemeineVersicherungsdatenXML xmlns='http://ws.gematik.de/fa/vsdm/vsd_pkv/v1.0'><Versicherter><Versicherungsschutz><Beginn>20200101</Beginn><Kostentraeger><Kostentraegerkennung>168141347</Kostentraegerkennung><Kostentraegerlaendercode>D</Kostentraegerlaendercode><Name>PKV fiktiv</Name></Kostentraeger></Versicherungsschutz><Zusatzinfos><ZusatzinfosPKV><Tarifart>1</Tarifart></ZusatzinfosPKV></Zusatzinfos></Versicherter></UC_AllgemeineVersicherungsdatenXML>";
        let c = parse_vd(&parse_doc(xml).unwrap()).unwrap();
        assert_eq!(c.kind, Some(InsuranceType::Private));
    }

    #[test]
    fn xml_attacks_and_malformed_documents_are_refused() {
        let bad: &[(&str, &str)] = &[
            ("<!DOCTYPE a [<!ENTITY x \"y\">]><a><b>&x;</b></a>", XML_DTD),
            ("<a><b>&x;</b></a>", XML_ENTITY),
            ("<a><b>x</c></a>", "ill-formed document"),
            ("<a><b>x</b>", "unclosed element"),
            ("<a/><a/>", "more than one root element"),
            ("", "no root element"),
            ("<a><b>1</b><b>2</b></a>", "element repeated"),
            ("<a><b>t<c/></b></a>", "mixed content"),
            ("<a><b><c/>t</b></a>", "mixed content"),
            ("<a/>junk", "text outside the root element"),
            ("<a><b>&#0;</b></a>", "invalid character reference"),
        ];
        for (xml, why) in bad {
            assert_eq!(parse_doc(xml).err(), Some(CardError::Xml(why)), "{xml}");
        }
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert_eq!(parse_doc(&deep).err(), Some(CardError::Xml(XML_TOO_DEEP)));
        assert!(CardError::Xml(XML_TOO_DEEP).is_security_event());
        let many: String = (0..=MAX_ELEMENTS).map(|i| format!("<b{i}/>")).collect();
        let many = format!("<a>{many}</a>");
        assert_eq!(
            parse_doc(&many).err(),
            Some(CardError::Xml("too many elements"))
        );
        // Predefined entities and character references are fine.
        let ok = parse_doc("<a><b>&lt;&amp;&#x41;&#66;</b></a>").unwrap();
        assert_eq!(ok.get("b"), Some("<&AB"));
    }

    #[test]
    fn missing_or_invalid_mandatory_pd_elements() {
        let base = String::from_utf8(
            fixture("pd.xml")
                .iter()
                .map(|b| if *b < 128 { *b } else { b'x' })
                .collect(),
        )
        .unwrap();
        for (from, to, want) in [
            (
                "<Nachname>Groxmann</Nachname>",
                "",
                "mandatory element missing",
            ),
            (
                "<Geschlecht>M</Geschlecht>",
                "<Geschlecht>Q</Geschlecht>",
                "unknown Geschlecht code",
            ),
            (
                "<Geburtsdatum>19710315</Geburtsdatum>",
                "<Geburtsdatum>1971-03-15</Geburtsdatum>",
                "date is not YYYYMMDD",
            ),
            (
                "<Vorname>Jxrgen Karl</Vorname>",
                "<Vorname> </Vorname>",
                "empty name",
            ),
            ("<Ort>Berlin</Ort>", "", "address without Ort"),
            (
                "<Vorname>Jxrgen Karl</Vorname>",
                "<Vorname>a\u{7}b</Vorname>",
                "control character in a value",
            ),
        ] {
            assert!(base.contains(from), "{from}");
            let xml = base.replace(from, to);
            assert_eq!(
                pd_of(xml.as_bytes()).err(),
                Some(CardError::Xml(want)),
                "{want}"
            );
        }
        // A well-formed but impossible birth date and a bad KVNR are warnings.
        let xml = base
            .replace("19710315", "19711341")
            .replace("M223344550", "M223344551");
        let (p, w) = pd_of(xml.as_bytes()).unwrap();
        assert_eq!(p.birth_date, None);
        assert_eq!(p.insurance_number, None);
        assert!(w.contains(&CardWarning::BirthDateInvalid));
        assert!(w.contains(&CardWarning::InsuranceNumberInvalid));
    }

    #[test]
    fn missing_or_invalid_mandatory_vd_elements() {
        let base = String::from_utf8(fixture("vd.xml")).unwrap();
        for (from, to, want) in [
            ("<Beginn>20200101</Beginn>", "", "mandatory element missing"),
            (
                "999567890",
                "99956789",
                "Kostentraegerkennung is not 9 digits",
            ),
            (
                "<Name>Testkasse Nord (fiktiv)</Name>",
                "",
                "mandatory element missing",
            ),
        ] {
            let doc = parse_doc(&base.replace(from, to)).unwrap();
            assert_eq!(parse_vd(&doc).err(), Some(CardError::Xml(want)), "{want}");
        }
    }

    #[test]
    fn kvnr_check_digits() {
        for ok in [
            "X110408667",
            "X110359890",
            "X110646712",
            "A123456780",
            "H890123459",
            "C345678908",
            "J012345677",
            "M223344550",
        ] {
            assert!(kvnr_valid(ok), "{ok}");
        }
        for bad in [
            "A123456781",
            "a123456780",
            "A12345678",
            "AB23456780",
            "A1234567800",
            "Ä12345678",
        ] {
            assert!(!kvnr_valid(bad), "{bad}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(
            parse_yyyymmdd("19500000").unwrap(),
            Some(PartialDate {
                year: 1950,
                month: 0,
                day: 0
            })
        );
        assert_eq!(parse_yyyymmdd("00000000").unwrap(), None);
        assert_eq!(parse_yyyymmdd("19500015").unwrap(), None);
        assert_eq!(parse_yyyymmdd("20230229").unwrap(), None);
        assert!(parse_yyyymmdd("2023022").is_err());
        assert!(parse_yyyymmdd("2023o229").is_err());
    }

    #[test]
    fn gzip_limits_and_corruption() {
        let xml = fixture("pd.xml");
        let good = gz(&xml);
        assert_eq!(gunzip_limited(&good, INFLATE_LIMIT).unwrap(), xml);
        // Truncated.
        assert_eq!(
            gunzip_limited(&good[..good.len() - 6], INFLATE_LIMIT),
            Err(CardError::Gzip("truncated stream"))
        );
        // CRC broken.
        let mut crc = good.clone();
        let n = crc.len();
        crc[n - 6] ^= 0xFF;
        assert_eq!(
            gunzip_limited(&crc, INFLATE_LIMIT),
            Err(CardError::Gzip("invalid deflate data or checksum"))
        );
        // Not gzip at all.
        assert_eq!(
            gunzip_limited(&xml, INFLATE_LIMIT),
            Err(CardError::Gzip("no gzip/deflate signature"))
        );
        assert_eq!(
            gunzip_limited(&[0x1F, 0x8B], INFLATE_LIMIT),
            Err(CardError::Gzip("shorter than a gzip header and trailer"))
        );
        // 10 MiB of zeros compress to about 10 KB: refused at the cap.
        let bomb = gz(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 20_000);
        let e = gunzip_limited(&bomb, INFLATE_LIMIT).unwrap_err();
        assert_eq!(
            e,
            CardError::ZipBomb {
                limit: INFLATE_LIMIT
            }
        );
        assert!(e.is_security_event());
        // Exactly at the limit is fine.
        assert_eq!(gunzip_limited(&gz(&[7u8; 100]), 100).unwrap().len(), 100);
        assert!(gunzip_limited(&gz(&[7u8; 101]), 100).is_err());
    }

    #[test]
    fn parse_egk_end_to_end_on_fixtures() {
        let d = parse_egk(&gz(&fixture("pd.xml")), &gz(&fixture("vd.xml")), vec![]).unwrap();
        assert_eq!(d.kind, CardKind::Egk);
        assert_eq!(d.person.family_name, "Großmann");
        assert_eq!(d.coverage.insurer_name, "Testkasse Nord (fiktiv)");
        // Debug output carries no personal data.
        let dbg = format!("{d:?}");
        for secret in [
            "Großmann",
            "Jürgen",
            "M223344550",
            "Berlin",
            "1971",
            "Testkasse",
        ] {
            assert!(!dbg.contains(secret), "{secret} in {dbg}");
        }
    }
}
