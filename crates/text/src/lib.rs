//! The one message model. Everything the crew can see that originates in
//! Rust implements [`UserMessage`], so the German and the English text come
//! from the same place; logs use `Display` (English, no patient data). The
//! `.slint` side translates with `@tr` and the gettext catalogue instead.
//!
//! No dependencies: every crate, down to the wire, can name its messages.

/// The UI's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    De,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    pub fn pick<'a>(self, de: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::De => de,
            Lang::En => en,
        }
    }
}

/// What the crew can see, in the UI's language.
pub trait UserMessage {
    fn message(&self, lang: Lang) -> String;
}

/// A message made where it arises: both languages side by side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub de: String,
    pub en: String,
}

impl Notice {
    pub fn new(de: impl Into<String>, en: impl Into<String>) -> Notice {
        Notice {
            de: de.into(),
            en: en.into(),
        }
    }

    /// Both texts of a message that has them.
    pub fn of(m: &dyn UserMessage) -> Notice {
        Notice::new(m.message(Lang::De), m.message(Lang::En))
    }

    /// Two messages as one, each language joined with a space.
    pub fn then(self, more: &dyn UserMessage) -> Notice {
        Notice::new(
            format!("{} {}", self.de, more.message(Lang::De)),
            format!("{} {}", self.en, more.message(Lang::En)),
        )
    }
}

impl UserMessage for Notice {
    fn message(&self, lang: Lang) -> String {
        lang.pick(&self.de, &self.en).to_string()
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.en)
    }
}

/// A fixed text in both languages, for tables of messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text {
    pub de: &'static str,
    pub en: &'static str,
}

/// `t("Karte entfernt.", "Card removed.")`: a fixed text in both languages.
pub const fn t(de: &'static str, en: &'static str) -> Text {
    Text { de, en }
}

impl UserMessage for Text {
    fn message(&self, lang: Lang) -> String {
        lang.pick(self.de, self.en).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_keeps_both_languages_and_logs_english() {
        let n = Notice::new("Karte entfernt.", "Card removed.");
        assert_eq!(n.message(Lang::De), "Karte entfernt.");
        assert_eq!(n.message(Lang::En), "Card removed.");
        assert_eq!(n.to_string(), "Card removed.");
        let both = n.then(&t("Bitte erneut stecken.", "Please insert it again."));
        assert_eq!(both.de, "Karte entfernt. Bitte erneut stecken.");
        assert_eq!(both.en, "Card removed. Please insert it again.");
    }
}
