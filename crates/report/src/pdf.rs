//! The PDF: typst as a library, with the template and fonts from `assets/`.
//!
//! No system fonts, no packages, no network: the engine sees exactly one
//! source file (the template) and the fonts compiled into the binary, so
//! the output depends only on the input JSON.

use super::ReportError;
use rettpad_crypto::sha256;
use rettpad_record::Hash;
use std::sync::LazyLock;
use typst::foundations::{Datetime, Dict, IntoValue, Smart};
use typst_as_lib::{TypstEngine, TypstTemplateMainFile};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

/// The layout, editable by a non-programmer (see the comments in it).
pub const TEMPLATE: &str = include_str!("../../../assets/report/protocol.typ");

/// Fonts embedded in every PDF (DejaVu, with German umlauts).
pub static FONTS: [&[u8]; 3] = [
    include_bytes!("../../../assets/fonts/DejaVuSansCondensed.ttf"),
    include_bytes!("../../../assets/fonts/DejaVuSansCondensed-Bold.ttf"),
    include_bytes!("../../../assets/fonts/DejaVuSansMono.ttf"),
];

/// Names the renderer: a new typst or template layout must change the hash.
pub const RENDERER: &str = "rettpad-report/1 typst-0.15.1 pdf-a-2b";

static ENGINE: LazyLock<TypstEngine<TypstTemplateMainFile>> = LazyLock::new(|| {
    TypstEngine::builder()
        .main_file(TEMPLATE)
        .fonts(FONTS)
        .build()
});

/// SHA-256 of renderer name, template and fonts: what, besides the data,
/// decides the bytes of the PDF.
static LAYOUT_DIGEST: LazyLock<[u8; 32]> = LazyLock::new(|| {
    let mut buf = Vec::new();
    buf.extend_from_slice(RENDERER.as_bytes());
    buf.push(0);
    buf.extend_from_slice(&sha256(TEMPLATE.as_bytes()));
    for f in FONTS {
        buf.extend_from_slice(&sha256(f));
    }
    sha256(&buf)
});

/// The document hash: SHA-256 over the layout digest and the canonical
/// JSON. It is printed in every footer and reproducible from the events
/// alone (see ARCHITECTURE.md, "report").
pub fn document_hash(json: &[u8]) -> Hash {
    let mut buf = Vec::with_capacity(json.len() + 48);
    buf.extend_from_slice(b"rettpad-document\0");
    buf.extend_from_slice(&*LAYOUT_DIGEST);
    buf.extend_from_slice(json);
    Hash(sha256(&buf))
}

/// Lays out the pages.
pub fn layout(json: &str, hash: &Hash) -> Result<PagedDocument, ReportError> {
    let mut inputs = Dict::new();
    inputs.insert("data".into(), json.into_value());
    inputs.insert("hash".into(), hash.to_hex().into_value());
    let warned = ENGINE.compile_with_input(inputs);
    // A warning (unknown font, bad field) means the template is broken:
    // refuse rather than print a protocol that may lack content.
    if !warned.warnings.is_empty() {
        let msgs: Vec<String> = warned
            .warnings
            .iter()
            .map(|w| w.message.to_string())
            .collect();
        return Err(ReportError::Layout(format!(
            "warnings: {}",
            msgs.join("; ")
        )));
    }
    warned
        .output
        .map_err(|e| ReportError::Layout(format!("{e:?}").chars().take(2000).collect()))
}

/// UTC date-time of a Unix time in ms.
fn datetime(ms: i64) -> Option<Datetime> {
    let (y, m, d) = rettpad_record::value::civil_from_ms(ms);
    let s = ms.rem_euclid(86_400_000) / 1000;
    Datetime::from_ymd_hms(
        i32::from(y),
        m,
        d,
        (s / 3600) as u8,
        ((s / 60) % 60) as u8,
        (s % 60) as u8,
    )
}

/// PDF/A-2b bytes with a fixed creation date and document id.
pub fn export(doc: &PagedDocument, hash: &Hash, created_ms: i64) -> Result<Vec<u8>, ReportError> {
    let standards =
        PdfStandards::new(&[PdfStandard::A_2b]).map_err(|e| ReportError::Pdf(format!("{e:?}")))?;
    let opts = PdfOptions {
        ident: Smart::Custom(format!("rettpad-{}", hash.to_hex())),
        creator: Smart::Custom(Some("rettpad".into())),
        timestamp: datetime(created_ms).map(Timestamp::new_utc),
        standards,
        tagged: false,
        ..PdfOptions::default()
    };
    typst_pdf::pdf(doc, &opts).map_err(|e| {
        let msgs: Vec<String> = e.iter().map(|d| d.message.to_string()).collect();
        ReportError::Pdf(msgs.join("; "))
    })
}
