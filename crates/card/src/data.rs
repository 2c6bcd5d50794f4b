//! What a card yields, normalised for eGK and KVK alike. `Debug` is redacted:
//! these types hold personal data and must never reach a log by accident.

use super::error::CardWarning;
use rettpad_record::PartialDate;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardKind {
    /// Elektronische Gesundheitskarte (G2/G2.1), PIN-less part.
    Egk,
    /// Krankenversichertenkarte or PKV card (memory card).
    Kvk,
}

impl CardKind {
    /// Code in `codes::ID_SOURCE`.
    pub fn id_source_code(self) -> &'static str {
        match self {
            CardKind::Egk => "01",
            CardKind::Kvk => "02",
        }
    }

    pub fn label_de(self) -> &'static str {
        match self {
            CardKind::Egk => "eGK",
            CardKind::Kvk => "KVK",
        }
    }
}

/// Geschlecht as on the eGK (M, W, X unbestimmt, D divers); codes match
/// `codes::SEX`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    M,
    W,
    X,
    D,
}

impl Sex {
    pub fn code(self) -> &'static str {
        match self {
            Sex::M => "M",
            Sex::W => "W",
            Sex::X => "X",
            Sex::D => "D",
        }
    }
}

/// Versichertenart; codes match `codes::INSURANCE_TYPE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsuranceType {
    Member,
    Family,
    Pensioner,
    Private,
}

impl InsuranceType {
    pub fn code(self) -> &'static str {
        match self {
            InsuranceType::Member => "1",
            InsuranceType::Family => "3",
            InsuranceType::Pensioner => "5",
            InsuranceType::Private => "P",
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Address {
    /// Street and house number, or "Postfach N" for a post-box address.
    pub street: Option<String>,
    /// Anschriftenzusatz (not mapped: the record has no field for it).
    pub extra: Option<String>,
    pub postcode: Option<String>,
    pub city: String,
    /// Wohnsitzlaendercode: the DEÜV code (`D`, `A`, `CH`), not ISO 3166.
    pub country: String,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Person {
    /// KVNR (eGK, check digit verified) or Versichertennummer (KVK).
    /// `None` when the card's number failed validation.
    pub insurance_number: Option<String>,
    pub given_name: String,
    pub family_name: String,
    /// Vorsatzwort ("von").
    pub name_prefix: Option<String>,
    /// Namenszusatz ("Freiherr").
    pub name_suffix: Option<String>,
    pub title: Option<String>,
    /// `None` when the card's date is not a valid (partial) date.
    pub birth_date: Option<PartialDate>,
    /// Not on the KVK.
    pub sex: Option<Sex>,
    pub street_address: Option<Address>,
    pub po_box: Option<Address>,
}

impl Person {
    /// Family name as the record keeps it: Namenszusatz, Vorsatzwort and
    /// Nachname ("Freiherr von Stein").
    pub fn full_family_name(&self) -> String {
        [
            self.name_suffix.as_deref(),
            self.name_prefix.as_deref(),
            Some(self.family_name.as_str()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
    }

    /// The residential address, else the post-box address.
    pub fn address(&self) -> Option<&Address> {
        self.street_address.as_ref().or(self.po_box.as_ref())
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct Coverage {
    /// Kostenträgerkennung (9-digit IK). `None` on a KVK whose
    /// Kassennummer is not a 9-digit IK.
    pub insurer_ik: Option<String>,
    pub insurer_name: String,
    pub start: Option<PartialDate>,
    /// eGK: end of coverage when known; KVK: card validity (month/year).
    pub end: Option<PartialDate>,
    pub kind: Option<InsuranceType>,
}

/// A successful read.
#[derive(Clone, PartialEq, Eq)]
pub struct CardData {
    pub kind: CardKind,
    pub person: Person,
    pub coverage: Coverage,
    pub warnings: Vec<CardWarning>,
}

impl fmt::Debug for CardData {
    /// Kind, which parts are present and the warnings; never the content.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.person;
        write!(
            f,
            "CardData {{ kind: {:?}, number: {}, birth_date: {}, sex: {}, address: {}, po_box: {}, ik: {}, end: {}, type: {}, warnings: {:?} }}",
            self.kind,
            p.insurance_number.is_some(),
            p.birth_date.is_some(),
            p.sex.is_some(),
            p.street_address.is_some(),
            p.po_box.is_some(),
            self.coverage.insurer_ik.is_some(),
            self.coverage.end.is_some(),
            self.coverage.kind.is_some(),
            self.warnings
        )
    }
}

impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Person { <redacted> }")
    }
}

impl fmt::Debug for Coverage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Coverage { <redacted> }")
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Address { <redacted> }")
    }
}

impl fmt::Debug for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sex(<redacted>)")
    }
}
