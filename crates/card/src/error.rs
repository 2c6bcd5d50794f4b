//! Card errors and warnings. `Display` is English for logs and carries status
//! words, lengths and offsets only; `UserMessage` is what the crew sees,
//! and it always offers the manual fallback (Ersatzverfahren).

use rettpad_text::{Lang, Text, UserMessage, t};
use std::fmt;

/// Appended to every failure message.
pub const FALLBACK: Text = t(
    "Bitte die Patientendaten im Ersatzverfahren manuell erfassen.",
    "Please enter the patient's data by hand (fallback procedure).",
);

/// Why a card read failed. No variant holds card content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// `SCardEstablishContext` failed: pcscd is not running.
    #[error("PC/SC service not available ({0})")]
    NoService(String),
    /// No reader is attached.
    #[error("no card reader attached")]
    NoReader,
    /// The card was pulled (or reset) before the read finished, or no card is
    /// in the reader.
    #[error("card removed or reset during the read")]
    Removed,
    /// The reader returned an R-APDU shorter than the two status bytes, and
    /// the card still looks present (contact problem, broken link).
    #[error("short response from the reader ({len} bytes)")]
    ShortResponse { len: usize },
    /// Neither an eGK (SELECT HCA) nor a KVK (template) answered.
    #[error("unknown card (not an eGK or KVK)")]
    UnknownCard,
    /// SELECT of the health care application reports it deactivated or
    /// terminated: the insurer blocked the card.
    #[error("card blocked (status word {sw:04X})")]
    Blocked { sw: u16 },
    /// A card file's container (length header, offsets) is inconsistent.
    #[error("corrupt container: {0}")]
    Container(&'static str),
    /// The gzip stream is not gzip, truncated, or fails its CRC / size check.
    #[error("corrupt gzip: {0}")]
    Gzip(&'static str),
    /// Inflating exceeded the limit: a decompression bomb.
    #[error("inflated data exceeds the limit of {limit} bytes (zip bomb)")]
    ZipBomb { limit: usize },
    /// The XML is not well formed, uses forbidden constructs (DTD, entities),
    /// or lacks a mandatory element.
    #[error("unreadable insurance data XML: {0}")]
    Xml(&'static str),
    /// The KVK template's XOR check byte does not match.
    #[error("KVK checksum mismatch")]
    KvkChecksum,
    /// The KVK template is malformed (TLV, character set, mandatory tags).
    #[error("corrupt KVK template: {0}")]
    KvkFormat(&'static str),
    /// A command answered with a status word the read cannot continue from.
    #[error("{cmd} answered status word {sw:04X}")]
    Status { cmd: &'static str, sw: u16 },
    /// Another PC/SC failure (reader unavailable, sharing violation, …).
    #[error("PC/SC error: {0}")]
    Reader(String),
}

/// The crew's text. Always ends with the fallback.
impl UserMessage for CardError {
    fn message(&self, lang: Lang) -> String {
        let what = match self {
            CardError::NoService(_) => t(
                "Kartenleser-Dienst nicht verfügbar.",
                "Card reader service not available.",
            ),
            CardError::NoReader => t(
                "Kein Kartenleser angeschlossen.",
                "No card reader attached.",
            ),
            CardError::Removed | CardError::ShortResponse { .. } => t(
                "Karte entfernt – bitte erneut stecken.",
                "Card removed – please insert it again.",
            ),
            CardError::UnknownCard => t(
                "Karte nicht erkannt (keine eGK/KVK).",
                "Card not recognised (not an eGK/KVK).",
            ),
            CardError::Blocked { .. } => t("Gesundheitskarte gesperrt.", "Health card blocked."),
            CardError::Container(_) | CardError::KvkFormat(_) => {
                t("Kartendaten beschädigt.", "Card data damaged.")
            }
            CardError::Gzip(_) | CardError::ZipBomb { .. } => t(
                "Kartendaten beschädigt (Entpacken).",
                "Card data damaged (decompression).",
            ),
            CardError::Xml(_) => t("Versichertendaten unlesbar.", "Insurance data unreadable."),
            CardError::KvkChecksum => {
                t("Karte beschädigt (Prüfsumme).", "Card damaged (checksum).")
            }
            CardError::Status { .. } => t(
                "Karte konnte nicht gelesen werden.",
                "The card could not be read.",
            ),
            CardError::Reader(_) => t(
                "Kartenleser-Fehler – bitte Karte erneut stecken.",
                "Card reader error – please insert the card again.",
            ),
        };
        format!("{} {}", what.message(lang), FALLBACK.message(lang))
    }
}

impl CardError {
    /// True for inputs that look crafted rather than worn (zip bomb, DTD or
    /// entity tricks). These are logged as security events.
    pub fn is_security_event(&self) -> bool {
        matches!(
            self,
            CardError::ZipBomb { .. }
                | CardError::Xml(XML_DTD)
                | CardError::Xml(XML_ENTITY)
                | CardError::Xml(XML_TOO_DEEP)
        )
    }

    /// True when the card may still be read by inserting it again.
    pub fn retry_may_help(&self) -> bool {
        matches!(
            self,
            CardError::Removed | CardError::ShortResponse { .. } | CardError::Reader(_)
        )
    }
}

pub(crate) const XML_DTD: &str = "document type declaration not allowed";
pub(crate) const XML_ENTITY: &str = "entity reference not allowed";
pub(crate) const XML_TOO_DEEP: &str = "element nesting too deep";

/// Something the crew should know although the read succeeded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CardWarning {
    /// EF.StatusVD says an update transaction was interrupted ('1').
    UpdateInterrupted,
    /// EF.StatusVD could not be read; consistency is unknown.
    StatusUnknown,
    /// The insurance number on the card fails its check digit; it is not
    /// proposed.
    InsuranceNumberInvalid,
    /// The birth date on the card is not a valid date; it is not proposed.
    BirthDateInvalid,
    /// The card's validity has ended before the read.
    Expired,
}

impl CardWarning {
    pub fn text(&self) -> Text {
        match self {
            CardWarning::UpdateInterrupted => t(
                "Kartendaten evtl. unvollständig aktualisiert.",
                "Card data may be only partly updated.",
            ),
            CardWarning::StatusUnknown => t(
                "Aktualisierungsstatus der Karte unbekannt.",
                "The card's update status is unknown.",
            ),
            CardWarning::InsuranceNumberInvalid => t(
                "Versichertennummer ungültig (Prüfziffer) – nicht übernommen.",
                "Insurance number invalid (check digit) – not taken.",
            ),
            CardWarning::BirthDateInvalid => t(
                "Geburtsdatum auf der Karte ungültig – nicht übernommen.",
                "The birth date on the card is invalid – not taken.",
            ),
            CardWarning::Expired => t("Gültigkeit der Karte abgelaufen.", "The card has expired."),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            CardWarning::UpdateInterrupted => "update_interrupted",
            CardWarning::StatusUnknown => "status_unknown",
            CardWarning::InsuranceNumberInvalid => "insurance_number_invalid",
            CardWarning::BirthDateInvalid => "birth_date_invalid",
            CardWarning::Expired => "expired",
        }
    }
}

impl fmt::Debug for CardWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl UserMessage for CardWarning {
    fn message(&self, lang: Lang) -> String {
        self.text().message(lang)
    }
}

impl fmt::Display for CardWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
