//! The editor's pages; value display lives in `rettpad_record::text`.

pub use rettpad_record::text::*;
use rettpad_record::{Collection, Section, keys};

/// The editor's pages. Einsatz and Zeiten share the first page, where a new
/// mission opens: the dispatch times are what a crew taps first. The second
/// page, quick entry, has no section of its own ([`QUICK`]).
pub const PAGES: [&[Section]; 14] = [
    &[Section::Times, Section::Mission],
    &[],
    &[Section::Patient],
    &[Section::History],
    &[Section::Findings],
    &[Section::Vitals],
    &[Section::Ecg],
    &[Section::Injuries],
    &[Section::Diseases],
    &[Section::Naca],
    &[Section::Measures],
    &[Section::Medication],
    &[Section::Handover],
    &[Section::Outcome, Section::Remarks],
];

/// The quick-entry page.
pub const QUICK_PAGE: usize = 1;

/// A row of the quick-entry page.
#[derive(Debug, Clone, Copy)]
pub enum QuickRow {
    Field(&'static str),
    /// The one-tap presets of a collection, as toggles.
    Presets(Collection),
}

/// Quick entry: the standard mission's choices in one page, so that a
/// mission the dispatch centre delivered needs no walk through ten pages.
/// Vital signs come from the monitor here; by hand they stay on their page.
pub const QUICK: &[QuickRow] = &[
    QuickRow::Field(keys::time::PATIENT_CONTACT),
    QuickRow::Presets(Collection::Finding),
    QuickRow::Field(keys::finding::PAIN_NRS),
    QuickRow::Field(keys::ecg::RHYTHM),
    QuickRow::Field(keys::diagnosis::TRACER),
    QuickRow::Field(keys::naca::SCORE),
    QuickRow::Presets(Collection::Measure),
    QuickRow::Presets(Collection::Medication),
    QuickRow::Field(keys::transport::WITH_DOCTOR),
    QuickRow::Field(keys::transport::HOSPITAL),
    QuickRow::Field(keys::outcome::RESULT),
];

/// Whether quick entry shows field `key`.
pub fn is_quick_field(key: &str) -> bool {
    QUICK
        .iter()
        .any(|r| matches!(r, QuickRow::Field(k) if *k == key))
}

/// The key of a quick-entry preset row: it is no field of the catalog.
pub fn preset_row_key(c: Collection) -> String {
    let i = Collection::ALL.iter().position(|x| *x == c).unwrap_or(0);
    format!("preset:{i}")
}

/// The collection of a preset row's key.
pub fn preset_row(key: &str) -> Option<Collection> {
    let i: usize = key.strip_prefix("preset:")?.parse().ok()?;
    Collection::ALL.get(i).copied()
}

/// The page that shows section `s`.
pub fn page_of(s: Section) -> usize {
    PAGES.iter().position(|p| p.contains(&s)).unwrap_or(0)
}

/// The sections of page `i` (clamped).
pub fn page_sections(i: usize) -> &'static [Section] {
    PAGES[i.min(PAGES.len() - 1)]
}

pub fn page_label(i: usize, lang: Lang) -> &'static str {
    match page_sections(i) {
        [Section::Times, Section::Mission] => lang.pick("Einsatz/Zeiten", "Mission/times"),
        [s, ..] => section_label(*s, lang),
        [] => lang.pick("Kurzerfassung", "Quick entry"),
    }
}
