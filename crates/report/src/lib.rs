//! The protocol as a document: the PDF (A4, DIVI layout, German), its hash,
//! and printing it (IPP to a hospital printer, PCL5 or ESC/P raster over a
//! byte link to the crew's mobile printer).
//!
//! - [`data`]: state + log + strips → the JSON the template reads (labels
//!   and code texts from the catalog).
//! - [`ecg`]: strips as millimetre geometry (25 mm/s, 10 mm/mV).
//! - [`pdf`]: typst with `assets/report/protocol.typ` and the fonts in
//!   `assets/fonts/`, PDF/A-2b.
//! - [`raster`]: pages → 1-bit bitmaps at the printer's dpi.
//! - [`pcl`], [`escp`]: sans-IO encoders (and decoders for the tests).
//! - [`print`]: print jobs and their status for the UI; [`ipp`] the hospital
//!   printer, [`print::send_raster`] any byte link.
//!
//! Invariants: the same events and strips give byte-identical PDFs (the
//! creation time is the newest event's wall time, the document id derives
//! from the hash); the document hash in every footer is
//! [`pdf::document_hash`] of the canonical JSON, so the server can recompute
//! it from the events; nothing here logs patient data.

pub mod data;
pub mod ecg;
pub mod escp;
pub mod ipp;
pub mod pcl;
pub mod pdf;
pub mod print;
pub mod raster;
pub use rettpad_record::wave::{Lead, Strip, StripKind};

use rettpad_record::{HandoverMode, Hash, MissionLog, MissionState, Payload};
use std::fmt;
use std::sync::Arc;

/// What a protocol document is made of.
#[derive(Clone, Copy)]
pub struct ReportInput<'a> {
    pub state: &'a MissionState,
    /// For the hash chain head and the creation time.
    pub log: &'a MissionLog,
    /// The ECG strips of the mission (from the vault's blobs). Only strips
    /// the log names (`StripRecorded`) are printed; a named strip missing
    /// here is printed as missing, never silently left out.
    pub strips: &'a [Strip],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("template layout failed: {0}")]
    Layout(String),
    #[error("PDF export failed: {0}")]
    Pdf(String),
    #[error("page {0} does not exist")]
    NoPage(usize),
    #[error("image encoding failed: {0}")]
    Image(String),
}

impl rettpad_text::UserMessage for ReportError {
    fn message(&self, lang: rettpad_text::Lang) -> String {
        use rettpad_text::Lang;
        match (self, lang) {
            (ReportError::NoPage(n), Lang::De) => format!("Seite {n} gibt es nicht."),
            (ReportError::NoPage(n), Lang::En) => format!("There is no page {n}."),
            (_, Lang::De) => "Das Protokoll konnte nicht erstellt werden (interner Fehler). Bitte den Administrator verständigen.".into(),
            (_, Lang::En) => "The protocol could not be made (internal error). Please call the administrator.".into(),
        }
    }
}

/// A rendered protocol.
#[derive(Clone)]
pub struct Document {
    /// PDF/A-2b bytes.
    pub pdf: Vec<u8>,
    /// The document hash (printed in the footer, stored in the print event).
    pub sha256: Hash,
    /// SHA-256 of `pdf` itself (equally reproducible).
    pub pdf_sha256: Hash,
    pub pages: usize,
    /// Wall time of the newest event: the document's creation time.
    pub created_ms: i64,
    layout: Arc<typst_layout::PagedDocument>,
}

impl fmt::Debug for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("sha256", &self.sha256)
            .field("pages", &self.pages)
            .field("bytes", &self.pdf.len())
            .finish()
    }
}

impl Document {
    /// The laid-out pages, for raster output.
    pub fn layout(&self) -> &typst_layout::PagedDocument {
        &self.layout
    }

    /// A file name without patient data: `protokoll-<mission>-<hash16>.pdf`.
    pub fn file_name(&self, state: &MissionState) -> String {
        format!("protokoll-{}-{}.pdf", state.id, &self.sha256.to_hex()[..16])
    }
}

/// The canonical JSON and its document hash (no layout; cheap).
pub fn content(input: &ReportInput<'_>) -> (String, Hash) {
    let json = data::build(input).to_string();
    let hash = pdf::document_hash(json.as_bytes());
    (json, hash)
}

/// Renders the protocol. Pure and thread-safe: call it off the UI thread.
pub fn render(input: &ReportInput<'_>) -> Result<Document, ReportError> {
    let (json, hash) = content(input);
    let created_ms = input
        .log
        .events()
        .last()
        .map_or(input.state.opened_ms.unwrap_or(0), |e| e.wall_ms);
    let layout = pdf::layout(&json, &hash)?;
    let bytes = pdf::export(&layout, &hash, created_ms)?;
    tracing::debug!(
        pages = layout.pages().len(),
        bytes = bytes.len(),
        "protocol rendered"
    );
    Ok(Document {
        pdf_sha256: Hash(rettpad_crypto::sha256(&bytes)),
        pdf: bytes,
        sha256: hash,
        pages: layout.pages().len(),
        created_ms,
        layout: Arc::new(layout),
    })
}

/// PNG of page `page` (from 1), `width_px` wide: the preview for the UI.
pub fn preview_png(doc: &Document, page: usize, width_px: u32) -> Result<Vec<u8>, ReportError> {
    raster::preview_png(doc.layout(), page, width_px)
}

/// The event that records a print: from it on, every change is audited.
pub fn print_event(printer: &str, doc: &Document) -> Payload {
    Payload::HandedOver {
        mode: HandoverMode::Printed,
        to: printer.to_string(),
        document_sha256: Some(doc.sha256),
    }
}
