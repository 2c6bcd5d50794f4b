//! The editor's pages; value display lives in `rettpad_record::text`.

use rettpad_record::Section;
pub use rettpad_record::text::*;

/// The editor's pages. Einsatz and Zeiten share the first page, where a new
/// mission opens: the dispatch times are what a crew taps first.
pub const PAGES: [&[Section]; 14] = [
    &[Section::Times, Section::Mission],
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
    &[Section::Outcome],
    &[Section::Remarks],
];

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
        [] => "",
    }
}
