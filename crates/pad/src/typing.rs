//! Pure rules of text entry on the pad, shared by the on-screen keyboard
//! and its tests: where a date gets its dots, which known words continue
//! what was typed.

/// At most this many suggestions share the keyboard's bottom row with the
/// space bar.
pub const MAX_SUGGESTIONS: usize = 3;

/// `TT.MM.JJJJ` gets its dots by itself: after the day and after the month
/// (also when a dot was deleted and the next digit comes).
pub fn date_wants_dot(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (b.len() == 2 && digits(0..2)) || (b.len() == 5 && digits(0..2) && b[2] == b'.' && digits(3..5))
}

/// The known words that continue what was typed (case-insensitive), at
/// most [`MAX_SUGGESTIONS`], without duplicates and without the word typed
/// in full.
pub fn matching(known: &[String], typed: &str) -> Vec<String> {
    let typed = typed.to_lowercase();
    let mut out: Vec<String> = Vec::new();
    for w in known {
        let lw = w.to_lowercase();
        if lw.starts_with(&typed) && lw != typed && !out.contains(w) {
            out.push(w.clone());
        }
        if out.len() == MAX_SUGGESTIONS {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_come_after_day_and_month() {
        assert!(date_wants_dot("12"));
        assert!(date_wants_dot("12.08"));
        assert!(!date_wants_dot("1"));
        assert!(!date_wants_dot("12."));
        assert!(!date_wants_dot("12.08."));
        assert!(!date_wants_dot("ab"));
        assert!(!date_wants_dot("1a"));
        assert!(!date_wants_dot("12.08.1950"));
        // Multi-byte input never panics on a byte slice.
        assert!(!date_wants_dot("ä"));
        assert!(!date_wants_dot("1ä.0"));
    }

    #[test]
    fn suggestions_continue_the_typed_prefix() {
        let known = vec![
            "Klinikum Mitte, ZNA".to_string(),
            "Klinikum Nord".to_string(),
            "St. Marien".to_string(),
            "Klinikum Nord".to_string(),
            "Klinikum Süd".to_string(),
            "Klinikum West".to_string(),
        ];
        assert_eq!(matching(&known, "kli").len(), MAX_SUGGESTIONS);
        assert_eq!(matching(&known, "St"), vec!["St. Marien".to_string()]);
        assert_eq!(
            matching(&known, "klinikum s"),
            vec!["Klinikum Süd".to_string()]
        );
        assert!(
            matching(&known, "Klinikum Nord").is_empty(),
            "typed in full"
        );
        assert_eq!(
            matching(&known, "klinikum n"),
            vec!["Klinikum Nord".to_string()],
            "a duplicate is offered once"
        );
        assert_eq!(matching(&known, "").len(), MAX_SUGGESTIONS);
    }
}
