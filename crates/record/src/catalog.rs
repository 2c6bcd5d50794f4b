//! The field catalog: every documentable field of the protocol in one table.
//!
//! The catalog drives validation (an event whose value does not fit its
//! field is refused), the section overview, the plausibility ranges and the
//! exports. Adding a field is adding a row; no event type changes.

use super::codes::{self, CodeList};
use super::value::{Num, Value};
use crate::keys;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The sections of the DIVI protocol (§1.2 A–O of the data-set notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Section {
    Mission,
    Times,
    Patient,
    History,
    Findings,
    Vitals,
    Ecg,
    Injuries,
    Diseases,
    Naca,
    Measures,
    Medication,
    Handover,
    Outcome,
    Remarks,
}

impl Section {
    pub const ALL: [Section; 15] = [
        Section::Mission,
        Section::Times,
        Section::Patient,
        Section::History,
        Section::Findings,
        Section::Vitals,
        Section::Ecg,
        Section::Injuries,
        Section::Diseases,
        Section::Naca,
        Section::Measures,
        Section::Medication,
        Section::Handover,
        Section::Outcome,
        Section::Remarks,
    ];

    pub fn label_de(self) -> &'static str {
        match self {
            Section::Mission => "Einsatz",
            Section::Times => "Zeiten",
            Section::Patient => "Patient",
            Section::History => "Anamnese",
            Section::Findings => "Befund",
            Section::Vitals => "Messwerte",
            Section::Ecg => "EKG",
            Section::Injuries => "Verletzungen",
            Section::Diseases => "Erkrankungen",
            Section::Naca => "NACA",
            Section::Measures => "Maßnahmen",
            Section::Medication => "Medikamente",
            Section::Handover => "Übergabe/Transport",
            Section::Outcome => "Ergebnis",
            Section::Remarks => "Bemerkungen",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Section::Mission => "Mission",
            Section::Times => "Times",
            Section::Patient => "Patient",
            Section::History => "History",
            Section::Findings => "Findings",
            Section::Vitals => "Vital signs",
            Section::Ecg => "ECG",
            Section::Injuries => "Injuries",
            Section::Diseases => "Diseases",
            Section::Naca => "NACA",
            Section::Measures => "Measures",
            Section::Medication => "Medication",
            Section::Handover => "Handover/transport",
            Section::Outcome => "Outcome",
            Section::Remarks => "Remarks",
        }
    }
}

/// Repeatable entries of a patient: each is a small record of its own fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Collection {
    /// A set of vital signs at one time (F).
    Vitals,
    /// A finding at one time, ABCDE (E); the first is the Erstbefund.
    Finding,
    /// An ECG finding (G).
    Ecg,
    /// An injury (H).
    Injury,
    /// A diagnosis (I).
    Diagnosis,
    /// A measure (K).
    Measure,
    /// One administration of a drug (L).
    Medication,
}

impl Collection {
    pub const ALL: [Collection; 7] = [
        Collection::Vitals,
        Collection::Finding,
        Collection::Ecg,
        Collection::Injury,
        Collection::Diagnosis,
        Collection::Measure,
        Collection::Medication,
    ];

    pub fn section(self) -> Section {
        match self {
            Collection::Vitals => Section::Vitals,
            Collection::Finding => Section::Findings,
            Collection::Ecg => Section::Ecg,
            Collection::Injury => Section::Injuries,
            Collection::Diagnosis => Section::Diseases,
            Collection::Measure => Section::Measures,
            Collection::Medication => Section::Medication,
        }
    }
}

/// Which object a field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Mission,
    Patient,
    Entry(Collection),
}

/// Plausibility range in thousandths (soft warning outside, see `rules`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub min: Num,
    pub max: Num,
}

/// What values a field accepts.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Text {
        max_len: usize,
    },
    Code(&'static CodeList),
    Codes(&'static CodeList),
    /// An integer within hard bounds (input outside is refused).
    Int {
        min: i64,
        max: i64,
    },
    /// A decimal with a unit; outside `hard` is refused, outside `plausible` warns.
    Num {
        unit: &'static str,
        hard: Range,
        plausible: Range,
    },
    /// A measured value (value or "nicht messbar", with its source).
    Measured {
        unit: &'static str,
        loinc: &'static str,
        hard: Range,
        plausible: Range,
    },
    Time,
    Date,
    Bool,
}

#[derive(Debug)]
pub struct FieldDef {
    pub key: &'static str,
    pub scope: Scope,
    pub section: Section,
    pub kind: Kind,
    pub de: &'static str,
    pub en: &'static str,
    /// FMS status that sets this time automatically, if any.
    pub fms_status: Option<u8>,
}

const fn r(min: i64, max: i64) -> Range {
    Range {
        min: Num::int(min),
        max: Num::int(max),
    }
}

const M: Scope = Scope::Mission;
const P: Scope = Scope::Patient;
const fn e(c: Collection) -> Scope {
    Scope::Entry(c)
}

const fn f(
    key: &'static str,
    scope: Scope,
    section: Section,
    kind: Kind,
    de: &'static str,
    en: &'static str,
) -> FieldDef {
    FieldDef {
        key,
        scope,
        section,
        kind,
        de,
        en,
        fms_status: None,
    }
}

const fn t(key: &'static str, fms: Option<u8>, de: &'static str, en: &'static str) -> FieldDef {
    FieldDef {
        key,
        scope: M,
        section: Section::Times,
        kind: Kind::Time,
        de,
        en,
        fms_status: fms,
    }
}

const fn txt(n: usize) -> Kind {
    Kind::Text { max_len: n }
}

const fn meas(unit: &'static str, loinc: &'static str, hard: Range, plausible: Range) -> Kind {
    Kind::Measured {
        unit,
        loinc,
        hard,
        plausible,
    }
}

use Collection as C;
use Section as S;

/// Mission times in the order they must occur (soft rule `times-ordered`).
pub const MISSION_TIMES_IN_ORDER: &[&str] = &[
    keys::time::ALARM,
    keys::time::DEPARTURE,
    keys::time::AT_SCENE,
    keys::time::PATIENT_CONTACT,
    keys::time::LEFT_SCENE,
    keys::time::AT_DESTINATION,
    keys::time::HANDOVER,
    keys::time::AVAILABLE,
    keys::time::END,
];

pub static FIELDS: &[FieldDef] = &[
    // A. Einsatztechnische Daten
    f(
        keys::mission::NUMBER,
        M,
        S::Mission,
        txt(32),
        "Einsatznummer (Leitstelle)",
        "dispatch mission number",
    ),
    f(
        keys::mission::DISPATCH_CENTER,
        M,
        S::Mission,
        txt(64),
        "Leitstelle",
        "dispatch centre",
    ),
    f(
        keys::mission::CALL_SIGN,
        M,
        S::Mission,
        txt(32),
        "Rufname",
        "call sign",
    ),
    f(
        keys::mission::STATION,
        M,
        S::Mission,
        txt(64),
        "Standort",
        "station",
    ),
    f(
        keys::mission::UNIT_TYPE,
        M,
        S::Mission,
        Kind::Code(&codes::RESCUE_UNIT_TYPE),
        "Rettungsmittel-Typ",
        "unit type",
    ),
    f(
        keys::mission::FIRST_ON_SCENE,
        M,
        S::Mission,
        Kind::Code(&codes::FIRST_ON_SCENE),
        "Ersteintreffendes Rettungsmittel",
        "first on scene",
    ),
    f(
        keys::mission::TYPE,
        M,
        S::Mission,
        Kind::Code(&codes::MISSION_TYPE),
        "Einsatzart",
        "mission type",
    ),
    f(
        keys::mission::KEYWORD,
        M,
        S::Mission,
        txt(64),
        "Einsatzstichwort",
        "dispatch keyword",
    ),
    f(
        keys::mission::SCENE_TYPE,
        M,
        S::Mission,
        Kind::Code(&codes::SCENE_TYPE),
        "Notfallort",
        "scene type",
    ),
    f(
        keys::mission::ADDRESS_STREET,
        M,
        S::Mission,
        txt(96),
        "Straße, Hausnr.",
        "street",
    ),
    f(
        keys::mission::ADDRESS_POSTCODE,
        M,
        S::Mission,
        txt(10),
        "PLZ",
        "postcode",
    ),
    f(
        keys::mission::ADDRESS_CITY,
        M,
        S::Mission,
        txt(64),
        "Ort",
        "city",
    ),
    f(
        keys::mission::GPS_LAT,
        M,
        S::Mission,
        Kind::Num {
            unit: "°",
            hard: r(-90, 90),
            plausible: r(47, 56),
        },
        "GPS Breite",
        "latitude",
    ),
    f(
        keys::mission::GPS_LON,
        M,
        S::Mission,
        Kind::Num {
            unit: "°",
            hard: r(-180, 180),
            plausible: r(5, 16),
        },
        "GPS Länge",
        "longitude",
    ),
    f(
        keys::mission::DOCTOR_REQUESTED,
        M,
        S::Mission,
        Kind::Bool,
        "Notarzt nachgefordert",
        "doctor requested",
    ),
    f(
        keys::mission::FOLLOW_UP,
        M,
        S::Mission,
        Kind::Bool,
        "Folgeeinsatz",
        "follow-up mission",
    ),
    f(
        keys::mission::FALSE_MISSION,
        M,
        S::Mission,
        Kind::Code(&codes::FALSE_MISSION),
        "Fehleinsatz",
        "false mission",
    ),
    f(
        keys::mission::DOCTOR_SPECIALTY,
        M,
        S::Mission,
        Kind::Code(&codes::DOCTOR_SPECIALTY),
        "NA-Fachrichtung",
        "doctor specialty",
    ),
    // Filled from dispatch (ELS); the crew may correct them.
    f(
        keys::mission::ALARM_TEXT,
        M,
        S::Mission,
        txt(512),
        "Meldebild (Leitstelle)",
        "alarm text (dispatch)",
    ),
    f(
        keys::mission::ADDRESS_OBJECT,
        M,
        S::Mission,
        txt(256),
        "Objekt, Etage, Hinweise",
        "object, floor, remarks",
    ),
    f(
        keys::mission::CANCELLED_AT,
        M,
        S::Mission,
        Kind::Time,
        "Einsatzabbruch (Leitstelle)",
        "cancelled by dispatch",
    ),
    // B. Zeiten (FMS status where one sets the time)
    t(keys::time::ALARM, None, "Alarmierung", "unit notified"),
    t(
        keys::time::DEPARTURE,
        Some(3),
        "Ausrücken (Status 3)",
        "en route",
    ),
    t(
        keys::time::AT_SCENE,
        Some(4),
        "Ankunft Einsatzort (Status 4)",
        "arrived on scene",
    ),
    t(
        keys::time::PATIENT_CONTACT,
        None,
        "Patientenkontakt",
        "patient contact",
    ),
    t(
        keys::time::LEFT_SCENE,
        Some(7),
        "Abfahrt Einsatzort (Status 7)",
        "left scene",
    ),
    t(
        keys::time::AT_DESTINATION,
        Some(8),
        "Ankunft Zielort (Status 8)",
        "arrived at destination",
    ),
    t(
        keys::time::HANDOVER,
        None,
        "Übergabe Patient",
        "transfer of care",
    ),
    t(
        keys::time::AVAILABLE,
        Some(1),
        "Einsatzbereit (Status 1/2)",
        "back in service",
    ),
    t(keys::time::END, Some(2), "Einsatzende", "mission end"),
    t(
        keys::time::DOCTOR_REQUESTED,
        None,
        "NA-Nachforderung",
        "doctor requested at",
    ),
    // C. Patient
    f(
        keys::patient::UNKNOWN,
        P,
        S::Patient,
        Kind::Bool,
        "unbekannter Patient",
        "unknown patient",
    ),
    f(
        keys::patient::FAMILY_NAME,
        P,
        S::Patient,
        txt(64),
        "Name",
        "family name",
    ),
    f(
        keys::patient::GIVEN_NAME,
        P,
        S::Patient,
        txt(64),
        "Vorname",
        "given name",
    ),
    f(
        keys::patient::TITLE,
        P,
        S::Patient,
        txt(32),
        "Titel",
        "academic title",
    ),
    f(
        keys::patient::BIRTH_DATE,
        P,
        S::Patient,
        Kind::Date,
        "Geburtsdatum",
        "date of birth",
    ),
    f(
        keys::patient::AGE_YEARS,
        P,
        S::Patient,
        Kind::Int { min: 0, max: 130 },
        "Alter (Jahre)",
        "age (years)",
    ),
    f(
        keys::patient::SEX,
        P,
        S::Patient,
        Kind::Code(&codes::SEX),
        "Geschlecht",
        "sex",
    ),
    f(
        keys::patient::ADDRESS_STREET,
        P,
        S::Patient,
        txt(96),
        "Straße, Hausnr.",
        "street",
    ),
    f(
        keys::patient::ADDRESS_EXTRA,
        P,
        S::Patient,
        txt(96),
        "Anschriftenzusatz",
        "address supplement",
    ),
    f(
        keys::patient::ADDRESS_POSTCODE,
        P,
        S::Patient,
        txt(10),
        "PLZ",
        "postcode",
    ),
    f(
        keys::patient::ADDRESS_CITY,
        P,
        S::Patient,
        txt(64),
        "Wohnort",
        "city",
    ),
    f(
        keys::patient::ADDRESS_COUNTRY,
        P,
        S::Patient,
        txt(3),
        "Länderkennzeichen",
        "country code",
    ),
    f(
        keys::patient::ID_SOURCE,
        P,
        S::Patient,
        Kind::Code(&codes::ID_SOURCE),
        "Identifikation durch",
        "identified by",
    ),
    f(
        keys::patient::WEIGHT_KG,
        P,
        S::Patient,
        Kind::Num {
            unit: "kg",
            hard: r(0, 400),
            plausible: r(1, 250),
        },
        "Gewicht",
        "weight",
    ),
    f(
        keys::patient::HEIGHT_CM,
        P,
        S::Patient,
        Kind::Num {
            unit: "cm",
            hard: r(0, 260),
            plausible: r(40, 220),
        },
        "Größe",
        "height",
    ),
    f(
        keys::insurance::INSURER_NAME,
        P,
        S::Patient,
        txt(64),
        "Krankenkasse",
        "insurer",
    ),
    f(
        keys::insurance::INSURER_IK,
        P,
        S::Patient,
        txt(9),
        "Kassen-IK",
        "insurer IK",
    ),
    f(
        keys::insurance::NUMBER,
        P,
        S::Patient,
        txt(12),
        "Versichertennummer",
        "insurance number",
    ),
    f(
        keys::insurance::TYPE,
        P,
        S::Patient,
        Kind::Code(&codes::INSURANCE_TYPE),
        "Versichertenart",
        "insurance type",
    ),
    f(
        keys::insurance::VALID_UNTIL,
        P,
        S::Patient,
        Kind::Date,
        "Karte gültig bis",
        "card valid until",
    ),
    f(
        keys::insurance::CARD_READ_AT,
        P,
        S::Patient,
        Kind::Time,
        "Karte gelesen",
        "card read at",
    ),
    // D. Notfallgeschehen / Anamnese
    f(
        keys::history::EVENT,
        P,
        S::History,
        txt(2000),
        "Notfallgeschehen",
        "what happened",
    ),
    f(
        keys::history::SYMPTOM_ONSET,
        P,
        S::History,
        Kind::Time,
        "Symptombeginn",
        "symptom onset",
    ),
    f(
        keys::history::PREVIOUS_ILLNESSES,
        P,
        S::History,
        txt(1000),
        "Vorerkrankungen",
        "previous illnesses",
    ),
    f(
        keys::history::HOME_MEDICATION,
        P,
        S::History,
        txt(1000),
        "Dauermedikation",
        "home medication",
    ),
    f(
        keys::history::ALLERGIES,
        P,
        S::History,
        txt(500),
        "Allergien/Unverträglichkeiten",
        "allergies",
    ),
    f(
        keys::history::PRETREATMENT,
        P,
        S::History,
        txt(500),
        "Vorbehandlung",
        "pre-treatment",
    ),
    f(
        keys::history::ARREST,
        P,
        S::History,
        Kind::Bool,
        "Herz-Kreislauf-Stillstand",
        "cardiac arrest",
    ),
    f(
        keys::history::ARREST_WITNESSED,
        P,
        S::History,
        Kind::Code(&codes::ARREST_WITNESS),
        "Kollaps beobachtet",
        "collapse witnessed",
    ),
    f(
        keys::history::COLLAPSE_TIME,
        P,
        S::History,
        Kind::Time,
        "Kollaps",
        "collapse",
    ),
    f(
        keys::history::BYSTANDER_CPR,
        P,
        S::History,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "Laienreanimation",
        "bystander CPR",
    ),
    f(
        keys::history::AED_USED,
        P,
        S::History,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "AED durch Laien",
        "bystander AED",
    ),
    f(
        keys::history::CPR_START,
        P,
        S::History,
        Kind::Time,
        "CPR-Beginn",
        "CPR start",
    ),
    f(
        keys::history::ROSC,
        P,
        S::History,
        Kind::Time,
        "ROSC",
        "ROSC",
    ),
    f(
        keys::history::PREGNANCY,
        P,
        S::History,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "Schwangerschaft",
        "pregnancy",
    ),
    f(
        keys::history::INFECTION,
        P,
        S::History,
        txt(200),
        "Infektionsstatus",
        "infection status",
    ),
    f(
        keys::history::ADVANCE_DIRECTIVE,
        P,
        S::History,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "Patientenverfügung",
        "advance directive",
    ),
    f(
        keys::history::INJURY_MECHANISM,
        P,
        S::History,
        Kind::Codes(&codes::INJURY_MECHANISM),
        "Unfallmechanismus",
        "injury mechanism",
    ),
    // E. Befund (repeatable)
    f(
        keys::finding::AT,
        e(C::Finding),
        S::Findings,
        Kind::Time,
        "Zeitpunkt",
        "time",
    ),
    f(
        keys::finding::GCS_EYES,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::GCS_EYES),
        "GCS Augen öffnen",
        "GCS eyes",
    ),
    f(
        keys::finding::GCS_VERBAL,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::GCS_VERBAL),
        "GCS verbale Reaktion",
        "GCS verbal",
    ),
    f(
        keys::finding::GCS_MOTOR,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::GCS_MOTOR),
        "GCS motorische Reaktion",
        "GCS motor",
    ),
    f(
        keys::finding::PAIN_NRS,
        e(C::Finding),
        S::Findings,
        Kind::Int { min: 0, max: 10 },
        "Schmerz (NRS 0–10)",
        "pain (NRS 0-10)",
    ),
    f(
        keys::finding::GCS_QUALIFIER,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::GCS_QUALIFIER),
        "GCS nicht beurteilbar",
        "GCS qualifier",
    ),
    f(
        keys::finding::GCS_PAEDIATRIC,
        e(C::Finding),
        S::Findings,
        Kind::Bool,
        "Pädiatrische GCS",
        "paediatric GCS",
    ),
    f(
        keys::finding::AVPU,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::AVPU),
        "AVPU",
        "AVPU",
    ),
    f(
        keys::finding::PUPIL_LEFT_SIZE,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::PUPIL_SIZE),
        "Pupille links",
        "left pupil",
    ),
    f(
        keys::finding::PUPIL_LEFT_SHAPE,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::PUPIL_SHAPE),
        "Form links",
        "left shape",
    ),
    f(
        keys::finding::PUPIL_LEFT_REACTION,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::PUPIL_REACTION),
        "Lichtreaktion links",
        "left reaction",
    ),
    f(
        keys::finding::PUPIL_RIGHT_SIZE,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::PUPIL_SIZE),
        "Pupille rechts",
        "right pupil",
    ),
    f(
        keys::finding::PUPIL_RIGHT_SHAPE,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::PUPIL_SHAPE),
        "Form rechts",
        "right shape",
    ),
    f(
        keys::finding::PUPIL_RIGHT_REACTION,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::PUPIL_REACTION),
        "Lichtreaktion rechts",
        "right reaction",
    ),
    f(
        keys::finding::PSYCH,
        e(C::Finding),
        S::Findings,
        Kind::Codes(&codes::PSYCH),
        "Psychischer Zustand",
        "mental state",
    ),
    f(
        keys::finding::AIRWAY,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::AIRWAY),
        "Atemweg",
        "airway",
    ),
    f(
        keys::finding::BREATHING,
        e(C::Finding),
        S::Findings,
        Kind::Codes(&codes::BREATHING),
        "Atmung",
        "breathing",
    ),
    f(
        keys::finding::PULSE_QUALITY,
        e(C::Finding),
        S::Findings,
        Kind::Codes(&codes::PULSE_QUALITY),
        "Puls",
        "pulse",
    ),
    f(
        keys::finding::SKIN,
        e(C::Finding),
        S::Findings,
        Kind::Codes(&codes::SKIN),
        "Haut",
        "skin",
    ),
    f(
        keys::finding::FAST_FACE,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "FAST: Gesicht",
        "FAST face",
    ),
    f(
        keys::finding::FAST_ARM,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "FAST: Arm",
        "FAST arm",
    ),
    f(
        keys::finding::FAST_SPEECH,
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "FAST: Sprache",
        "FAST speech",
    ),
    f(
        keys::finding::MENINGISM,
        e(C::Finding),
        S::Findings,
        Kind::Bool,
        "Meningismus",
        "meningism",
    ),
    f(
        keys::finding::NOTE,
        e(C::Finding),
        S::Findings,
        txt(500),
        "Befund (Text)",
        "finding (text)",
    ),
    // F. Messwerte (repeatable vital sets)
    f(
        keys::vitals::AT,
        e(C::Vitals),
        S::Vitals,
        Kind::Time,
        "Zeitpunkt",
        "time",
    ),
    f(
        keys::vitals::BP_SYS,
        e(C::Vitals),
        S::Vitals,
        meas("mmHg", "8480-6", r(0, 400), r(40, 250)),
        "RR systolisch",
        "systolic BP",
    ),
    f(
        keys::vitals::BP_DIA,
        e(C::Vitals),
        S::Vitals,
        meas("mmHg", "8462-4", r(0, 300), r(20, 150)),
        "RR diastolisch",
        "diastolic BP",
    ),
    f(
        keys::vitals::HR,
        e(C::Vitals),
        S::Vitals,
        meas("/min", "8867-4", r(0, 400), r(20, 250)),
        "Herzfrequenz",
        "heart rate",
    ),
    f(
        keys::vitals::SPO2,
        e(C::Vitals),
        S::Vitals,
        meas("%", "59408-5", r(0, 100), r(50, 100)),
        "SpO₂",
        "SpO2",
    ),
    f(
        keys::vitals::RR,
        e(C::Vitals),
        S::Vitals,
        meas("/min", "9279-1", r(0, 100), r(4, 60)),
        "Atemfrequenz",
        "respiratory rate",
    ),
    f(
        keys::vitals::ETCO2,
        e(C::Vitals),
        S::Vitals,
        meas("mmHg", "19889-5", r(0, 200), r(10, 80)),
        "etCO₂",
        "etCO2",
    ),
    f(
        keys::vitals::GLUCOSE,
        e(C::Vitals),
        S::Vitals,
        meas("mg/dl", "2339-0", r(0, 2000), r(40, 500)),
        "Blutzucker",
        "blood glucose",
    ),
    f(
        keys::vitals::TEMP,
        e(C::Vitals),
        S::Vitals,
        meas("°C", "8310-5", r(15, 46), r(32, 41)),
        "Temperatur",
        "temperature",
    ),
    // G. EKG
    f(
        keys::ecg::AT,
        e(C::Ecg),
        S::Ecg,
        Kind::Time,
        "Zeitpunkt",
        "time",
    ),
    f(
        keys::ecg::RHYTHM,
        e(C::Ecg),
        S::Ecg,
        Kind::Code(&codes::ECG_RHYTHM),
        "Rhythmus",
        "rhythm",
    ),
    f(
        keys::ecg::TWELVE_LEAD,
        e(C::Ecg),
        S::Ecg,
        Kind::Bool,
        "12-Kanal-EKG",
        "12-lead ECG",
    ),
    f(
        keys::ecg::STEMI,
        e(C::Ecg),
        S::Ecg,
        Kind::Bool,
        "ST-Hebung / STEMI",
        "ST elevation / STEMI",
    ),
    f(
        keys::ecg::STEMI_SITE,
        e(C::Ecg),
        S::Ecg,
        Kind::Codes(&codes::STEMI_SITE),
        "STEMI-Lokalisation",
        "STEMI site",
    ),
    f(
        keys::ecg::BUNDLE_BRANCH_BLOCK,
        e(C::Ecg),
        S::Ecg,
        Kind::Code(&codes::BUNDLE_BRANCH_BLOCK),
        "Schenkelblock",
        "bundle branch block",
    ),
    f(
        keys::ecg::DEVICE_RECORD,
        e(C::Ecg),
        S::Ecg,
        txt(64),
        "Geräteaufzeichnung (Id)",
        "device recording id",
    ),
    f(
        keys::ecg::NOTE,
        e(C::Ecg),
        S::Ecg,
        txt(500),
        "EKG-Befund (Text)",
        "ECG finding (text)",
    ),
    // H. Verletzungen
    f(
        keys::injury::REGION,
        e(C::Injury),
        S::Injuries,
        Kind::Code(&codes::INJURY_REGION),
        "Region",
        "region",
    ),
    f(
        keys::injury::SEVERITY,
        e(C::Injury),
        S::Injuries,
        Kind::Code(&codes::INJURY_SEVERITY),
        "Schwere",
        "severity",
    ),
    f(
        keys::injury::OPEN,
        e(C::Injury),
        S::Injuries,
        Kind::Bool,
        "offen",
        "open",
    ),
    f(
        keys::injury::BURN_DEGREE,
        e(C::Injury),
        S::Injuries,
        Kind::Code(&codes::BURN_DEGREE),
        "Verbrennungsgrad",
        "burn degree",
    ),
    f(
        keys::injury::BURN_TBSA,
        e(C::Injury),
        S::Injuries,
        Kind::Num {
            unit: "% KOF",
            hard: r(0, 100),
            plausible: r(0, 100),
        },
        "verbrannte KOF",
        "burned TBSA",
    ),
    f(
        keys::injury::NOTE,
        e(C::Injury),
        S::Injuries,
        txt(500),
        "Beschreibung",
        "description",
    ),
    // I. Erkrankungen / Diagnose
    f(
        keys::diagnosis::GROUP,
        e(C::Diagnosis),
        S::Diseases,
        Kind::Code(&codes::DISEASE_GROUP),
        "Erkrankungsgruppe",
        "disease group",
    ),
    f(
        keys::diagnosis::TEXT,
        e(C::Diagnosis),
        S::Diseases,
        txt(200),
        "Diagnose",
        "diagnosis",
    ),
    f(
        keys::diagnosis::ICD10,
        e(C::Diagnosis),
        S::Diseases,
        txt(8),
        "ICD-10-GM",
        "ICD-10-GM",
    ),
    f(
        keys::diagnosis::KIND,
        e(C::Diagnosis),
        S::Diseases,
        Kind::Code(&codes::DIAGNOSIS_KIND),
        "Art",
        "kind",
    ),
    f(
        keys::diagnosis::TRACER,
        e(C::Diagnosis),
        S::Diseases,
        Kind::Code(&codes::TRACER),
        "Tracerdiagnose",
        "tracer diagnosis",
    ),
    // J. NACA
    f(
        keys::naca::SCORE,
        P,
        S::Naca,
        Kind::Code(&codes::NACA),
        "NACA-Score",
        "NACA score",
    ),
    // K. Maßnahmen
    f(
        keys::measure::KIND,
        e(C::Measure),
        S::Measures,
        Kind::Code(&codes::MEASURE),
        "Maßnahme",
        "measure",
    ),
    f(
        keys::measure::AT,
        e(C::Measure),
        S::Measures,
        Kind::Time,
        "Zeitpunkt",
        "time",
    ),
    f(
        keys::measure::PERFORMER,
        e(C::Measure),
        S::Measures,
        txt(64),
        "Durchgeführt von",
        "performed by",
    ),
    f(
        keys::measure::DETAIL,
        e(C::Measure),
        S::Measures,
        txt(200),
        "Details (Größe, Ort, Joule …)",
        "details",
    ),
    f(
        keys::measure::ATTEMPTS,
        e(C::Measure),
        S::Measures,
        Kind::Int { min: 1, max: 20 },
        "Versuche",
        "attempts",
    ),
    f(
        keys::measure::RESULT,
        e(C::Measure),
        S::Measures,
        Kind::Code(&codes::MEASURE_RESULT),
        "Ergebnis",
        "result",
    ),
    f(
        keys::measure::ENERGY_J,
        e(C::Measure),
        S::Measures,
        Kind::Int { min: 0, max: 400 },
        "Energie (J)",
        "energy (J)",
    ),
    // L. Medikamente
    f(
        keys::med::SUBSTANCE,
        e(C::Medication),
        S::Medication,
        txt(96),
        "Wirkstoff",
        "substance",
    ),
    f(
        keys::med::PRODUCT,
        e(C::Medication),
        S::Medication,
        txt(96),
        "Präparat / PZN",
        "product / PZN",
    ),
    f(
        keys::med::DOSE,
        e(C::Medication),
        S::Medication,
        Kind::Num {
            unit: "",
            hard: r(0, 100_000),
            plausible: r(0, 100_000),
        },
        "Dosis",
        "dose",
    ),
    f(
        keys::med::UNIT,
        e(C::Medication),
        S::Medication,
        Kind::Code(&codes::DOSE_UNIT),
        "Einheit",
        "unit",
    ),
    f(
        keys::med::ROUTE,
        e(C::Medication),
        S::Medication,
        Kind::Code(&codes::ROUTE),
        "Applikationsweg",
        "route",
    ),
    f(
        keys::med::AT,
        e(C::Medication),
        S::Medication,
        Kind::Time,
        "Zeitpunkt",
        "time",
    ),
    f(
        keys::med::UNTIL,
        e(C::Medication),
        S::Medication,
        Kind::Time,
        "bis (Perfusor)",
        "until (infusion)",
    ),
    f(
        keys::med::REASON,
        e(C::Medication),
        S::Medication,
        txt(200),
        "Grund",
        "reason",
    ),
    f(
        keys::med::GIVEN_BY,
        e(C::Medication),
        S::Medication,
        txt(64),
        "Verabreicht von",
        "given by",
    ),
    f(
        keys::med::ORDERED_BY,
        e(C::Medication),
        S::Medication,
        Kind::Code(&codes::ORDERED_BY),
        "Angeordnet durch",
        "ordered by",
    ),
    f(
        keys::med::CONTROLLED,
        e(C::Medication),
        S::Medication,
        Kind::Bool,
        "BtM",
        "controlled substance",
    ),
    f(
        keys::med::BATCH,
        e(C::Medication),
        S::Medication,
        txt(32),
        "Charge",
        "batch",
    ),
    // M. Übergabe / Transport
    f(
        keys::transport::DONE,
        P,
        S::Handover,
        Kind::Bool,
        "Transport",
        "transported",
    ),
    f(
        keys::transport::WITH_DOCTOR,
        P,
        S::Handover,
        Kind::Bool,
        "mit Notarzt",
        "with doctor",
    ),
    f(
        keys::transport::EMERGENCY_LIGHTS,
        P,
        S::Handover,
        Kind::Bool,
        "Sonderrechte",
        "lights and siren",
    ),
    f(
        keys::transport::POSITIONING,
        P,
        S::Handover,
        txt(100),
        "Lagerung",
        "positioning",
    ),
    f(
        keys::transport::HOSPITAL,
        P,
        S::Handover,
        txt(96),
        "Zielklinik",
        "destination hospital",
    ),
    f(
        keys::transport::HOSPITAL_ID,
        P,
        S::Handover,
        txt(32),
        "Zielklinik-Kennung (IK/GLN)",
        "hospital id",
    ),
    f(
        keys::transport::DEPARTMENT,
        P,
        S::Handover,
        Kind::Code(&codes::DEPARTMENT),
        "Fachbereich",
        "department",
    ),
    f(
        keys::transport::PZC,
        P,
        S::Handover,
        txt(12),
        "PZC (IVENA)",
        "PZC (IVENA)",
    ),
    f(
        keys::transport::PRENOTIFIED_AT,
        P,
        S::Handover,
        Kind::Time,
        "Voranmeldung",
        "pre-notified at",
    ),
    // Sets the pre-notice's ETA: minutes from the moment it is entered.
    f(
        keys::transport::ETA_MIN,
        P,
        S::Handover,
        Kind::Int { min: 0, max: 240 },
        "Ankunft in (min)",
        "arrival in (min)",
    ),
    f(
        keys::handover::TO,
        P,
        S::Handover,
        txt(96),
        "Übergabe an (Name/Rolle)",
        "handed over to",
    ),
    f(
        keys::handover::CONDITION,
        P,
        S::Handover,
        Kind::Code(&codes::CONDITION_CHANGE),
        "Zustand bei Übergabe",
        "condition at handover",
    ),
    f(
        keys::handover::VALUABLES,
        P,
        S::Handover,
        txt(200),
        "Wertsachen",
        "valuables",
    ),
    f(
        keys::handover::REFUSAL_INFORMED,
        P,
        S::Handover,
        Kind::Bool,
        "Transportverweigerung aufgeklärt",
        "refusal: informed",
    ),
    // N. Ergebnis
    f(
        keys::outcome::RESULT,
        P,
        S::Outcome,
        Kind::Code(&codes::OUTCOME),
        "Ergebnis",
        "outcome",
    ),
    f(
        keys::outcome::DEATH_TIME,
        P,
        S::Outcome,
        Kind::Time,
        "Todeszeitpunkt",
        "time of death",
    ),
    // O. Bemerkungen
    f(
        keys::remarks::TEXT,
        M,
        S::Remarks,
        txt(4000),
        "Bemerkungen",
        "remarks",
    ),
    f(
        keys::remarks::INFECTION_PROTECTION,
        M,
        S::Remarks,
        Kind::Bool,
        "Infektionsschutzmaßnahmen",
        "infection precautions",
    ),
    f(
        keys::remarks::DISINFECTION,
        M,
        S::Remarks,
        Kind::Bool,
        "Fahrzeugdesinfektion",
        "vehicle disinfection",
    ),
    f(
        keys::remarks::VIOLENCE,
        M,
        S::Remarks,
        Kind::Bool,
        "Gewalt gegen Einsatzkräfte",
        "violence against crew",
    ),
    f(
        keys::remarks::VIOLENCE_NOTE,
        M,
        S::Remarks,
        txt(1000),
        "Gewalt: Beschreibung",
        "violence: description",
    ),
];

static INDEX: LazyLock<HashMap<&'static str, &'static FieldDef>> =
    LazyLock::new(|| FIELDS.iter().map(|f| (f.key, f)).collect());

/// Looks a field up by key.
pub fn field(key: &str) -> Option<&'static FieldDef> {
    INDEX.get(key).copied()
}

/// The fields of one scope, in catalog order.
pub fn fields_of(scope: Scope) -> impl Iterator<Item = &'static FieldDef> {
    FIELDS.iter().filter(move |f| f.scope == scope)
}

/// Why a value does not fit its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("unknown field {0}")]
    UnknownField(String),
    #[error("field {field} belongs to another scope")]
    WrongScope { field: String },
    #[error("field {field} expects another kind of value")]
    WrongKind { field: String },
    #[error("field {field}: code not in list {list}")]
    UnknownCode { field: String, list: &'static str },
    #[error("field {field}: text longer than {max} characters")]
    TooLong { field: String, max: usize },
    #[error("field {field}: value outside the allowed range")]
    OutOfRange { field: String },
    #[error("field {field}: invalid date")]
    InvalidDate { field: String },
    #[error("field {field}: a measured value needs a value or 'not measurable', not both")]
    MeasuredShape { field: String },
}

impl crate::text::UserMessage for ValueError {
    fn message(&self, lang: crate::text::Lang) -> String {
        use crate::text::Lang;
        if let ValueError::TooLong { max, .. } = self {
            return match lang {
                Lang::De => format!("Text zu lang (höchstens {max} Zeichen)."),
                Lang::En => format!("Text too long (at most {max} characters)."),
            };
        }
        let (de, en) = match self {
            ValueError::UnknownField(_)
            | ValueError::WrongScope { .. }
            | ValueError::WrongKind { .. } => (
                "Interner Fehler: Feld passt nicht zum Wert.",
                "Internal error: the field does not fit the value.",
            ),
            ValueError::UnknownCode { .. } => ("Ungültige Auswahl.", "Invalid choice."),
            ValueError::TooLong { .. } => ("", ""),
            ValueError::OutOfRange { .. } => (
                "Wert außerhalb des möglichen Bereichs.",
                "Value outside the possible range.",
            ),
            ValueError::InvalidDate { .. } => ("Ungültiges Datum.", "Invalid date."),
            ValueError::MeasuredShape { .. } => (
                "Wert oder „nicht messbar“ angeben.",
                "Enter a value or “not measurable”.",
            ),
        };
        lang.pick(de, en).into()
    }
}

/// Checks that `value` fits field `key` in `scope`.
pub fn validate(scope: Scope, key: &str, value: &Value) -> Result<&'static FieldDef, ValueError> {
    let def = field(key).ok_or_else(|| ValueError::UnknownField(key.to_string()))?;
    if def.scope != scope {
        return Err(ValueError::WrongScope { field: key.into() });
    }
    let wrong = || ValueError::WrongKind { field: key.into() };
    let in_hard = |n: Num, hard: &Range| n >= hard.min && n <= hard.max;
    match (&def.kind, value) {
        (Kind::Text { max_len }, Value::Text(s)) => {
            if s.chars().count() > *max_len {
                return Err(ValueError::TooLong {
                    field: key.into(),
                    max: *max_len,
                });
            }
        }
        (Kind::Code(list), Value::Code(c)) => {
            if !list.contains(c) {
                return Err(ValueError::UnknownCode {
                    field: key.into(),
                    list: list.id,
                });
            }
        }
        (Kind::Codes(list), Value::Codes(cs)) => {
            if let Some(_bad) = cs.iter().find(|c| !list.contains(c)) {
                return Err(ValueError::UnknownCode {
                    field: key.into(),
                    list: list.id,
                });
            }
        }
        (Kind::Int { min, max }, Value::Int(i)) => {
            if i < min || i > max {
                return Err(ValueError::OutOfRange { field: key.into() });
            }
        }
        (Kind::Num { hard, .. }, Value::Num(n)) => {
            if !in_hard(*n, hard) {
                return Err(ValueError::OutOfRange { field: key.into() });
            }
        }
        (Kind::Measured { hard, .. }, Value::Measured(m)) => match (m.value, m.not_measurable) {
            (Some(n), false) if in_hard(n, hard) => {}
            (Some(_), false) => return Err(ValueError::OutOfRange { field: key.into() }),
            (None, true) => {}
            _ => return Err(ValueError::MeasuredShape { field: key.into() }),
        },
        (Kind::Time, Value::Time(_)) | (Kind::Bool, Value::Bool(_)) => {}
        (Kind::Date, Value::Date(d)) => {
            if !d.is_valid() {
                return Err(ValueError::InvalidDate { field: key.into() });
            }
        }
        _ => return Err(wrong()),
    }
    Ok(def)
}

/// The plausibility range of a numeric field, if it has one.
pub fn plausible_range(def: &FieldDef) -> Option<Range> {
    match def.kind {
        Kind::Num { plausible, .. } | Kind::Measured { plausible, .. } => Some(plausible),
        _ => None,
    }
}

/// The unit of a numeric field.
pub fn unit(def: &FieldDef) -> Option<&'static str> {
    match def.kind {
        Kind::Num { unit, .. } | Kind::Measured { unit, .. } => Some(unit),
        _ => None,
    }
}

/// Values that one documented value implies. The caller sets each only
/// where the field is still empty, so nothing documented is overwritten.
/// A tracer diagnosis names its disease group; a target hospital means the
/// patient was transported.
pub fn implied(key: &str, value: &Value) -> Vec<(&'static str, Value)> {
    match (key, value) {
        (keys::diagnosis::TRACER, Value::Code(c)) => match c.as_str() {
            "01" => vec![(keys::diagnosis::GROUP, Value::code("02"))], // ACS → Herz-Kreislauf
            "02" => vec![(keys::diagnosis::GROUP, Value::code("01"))], // Schlaganfall → ZNS
            _ => Vec::new(),
        },
        (keys::transport::HOSPITAL, Value::Text(t)) if !t.trim().is_empty() => {
            vec![(keys::transport::DONE, Value::Bool(true))]
        }
        _ => Vec::new(),
    }
}

/// Units whose values are documented as whole numbers: no decimal comma.
const WHOLE_NUMBER_UNITS: &[&str] = &["mmHg", "/min", "%", "mg/dl"];

/// `true` when keypad input for `def` cannot grow into another valid value:
/// every further digit leaves the hard range and no decimal comma is
/// expected. The keypad then moves on by itself ("112" for a heart rate).
/// Decided on the hard range, never the plausible one, so that every valid
/// value can still be typed (a glucose of 600 is not cut to 60).
pub fn input_complete(def: &FieldDef, input: &str) -> bool {
    let (unit, hard) = match def.kind {
        Kind::Measured { unit, hard, .. } | Kind::Num { unit, hard, .. } => (unit, hard),
        Kind::Int { min, max } => (
            "",
            Range {
                min: Num::int(min),
                max: Num::int(max),
            },
        ),
        _ => return false,
    };
    let whole = matches!(def.kind, Kind::Int { .. }) || WHOLE_NUMBER_UNITS.contains(&unit);
    if !whole || input.is_empty() || !input.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Some(now) = Num::parse(input) else {
        return false;
    };
    if now.0 < hard.min.0 || now.0 > hard.max.0 {
        return false; // invalid as it stands: let the user see and fix it
    }
    (0..=9).all(|d| Num::parse(&format!("{input}{d}")).is_none_or(|n| n.0 > hard.max.0))
}

/// The time field an entry of `c` gets automatically ("now") when created.
pub fn entry_time_field(c: Collection) -> Option<&'static str> {
    match c {
        Collection::Vitals => Some(keys::vitals::AT),
        Collection::Finding => Some(keys::finding::AT),
        Collection::Ecg => Some(keys::ecg::AT),
        Collection::Measure => Some(keys::measure::AT),
        Collection::Medication => Some(keys::med::AT),
        Collection::Injury | Collection::Diagnosis => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::value::{Measured, PartialDate, ValueSource};
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn implied_values_follow_the_clinical_meaning() {
        assert_eq!(
            implied(keys::diagnosis::TRACER, &Value::code("01")),
            vec![(keys::diagnosis::GROUP, Value::code("02"))]
        );
        assert_eq!(
            implied(keys::diagnosis::TRACER, &Value::code("02")),
            vec![(keys::diagnosis::GROUP, Value::code("01"))]
        );
        // Cardiac arrest has many causes: no group is implied.
        assert!(implied(keys::diagnosis::TRACER, &Value::code("05")).is_empty());
        assert_eq!(
            implied(keys::transport::HOSPITAL, &Value::text("Klinikum Mitte")),
            vec![(keys::transport::DONE, Value::Bool(true))]
        );
        assert!(implied(keys::transport::HOSPITAL, &Value::text("  ")).is_empty());
        for (k, v) in implied(keys::diagnosis::TRACER, &Value::code("01"))
            .into_iter()
            .chain(implied(keys::transport::HOSPITAL, &Value::text("X")))
        {
            let def = field(k).expect(k);
            validate(def.scope, k, &v).expect("an implied value is valid");
        }
    }

    #[test]
    fn keypad_input_is_complete_only_when_no_digit_can_follow() {
        let f = |k: &str| field(k).expect(k);
        let hr = f(keys::vitals::HR); // hard 0..400
        assert!(input_complete(hr, "112"));
        assert!(input_complete(hr, "98"));
        assert!(!input_complete(hr, "35"), "350 is still possible");
        assert!(!input_complete(hr, "4"));
        assert!(input_complete(hr, "400"));
        assert!(
            !input_complete(hr, "401"),
            "out of range stays for the error"
        );
        let spo2 = f(keys::vitals::SPO2); // 0..100
        assert!(input_complete(spo2, "91"));
        assert!(!input_complete(spo2, "10"));
        assert!(input_complete(spo2, "100"));
        // Glucose: decided on the hard range 0..2000, so 600 stays typeable.
        let bz = f(keys::vitals::GLUCOSE);
        assert!(!input_complete(bz, "60"));
        assert!(!input_complete(bz, "130"));
        assert!(input_complete(bz, "201"));
        // Decimal fields never move on by themselves: 36 may become 36,5.
        assert!(!input_complete(f(keys::vitals::TEMP), "36"));
        assert!(!input_complete(hr, "9,"));
        assert!(!input_complete(hr, ""));
        assert!(!input_complete(f(keys::patient::FAMILY_NAME), "12"));
    }

    #[test]
    fn keys_unique_and_prefixed_by_scope() {
        let mut seen = HashSet::new();
        for f in FIELDS {
            assert!(seen.insert(f.key), "duplicate {}", f.key);
            if let Scope::Entry(c) = f.scope {
                assert_eq!(f.section, c.section(), "{} in wrong section", f.key);
            }
        }
        for k in MISSION_TIMES_IN_ORDER {
            assert!(matches!(field(k).map(|f| &f.kind), Some(Kind::Time)), "{k}");
        }
    }

    #[test]
    fn every_section_has_fields() {
        for s in Section::ALL {
            assert!(FIELDS.iter().any(|f| f.section == s), "{s:?} has no field");
        }
    }

    #[test]
    fn validation() {
        let v = |k: &str, sc: Scope, val: Value| validate(sc, k, &val).map(|_| ());
        assert_eq!(
            v(keys::naca::SCORE, Scope::Patient, Value::code("4")),
            Ok(())
        );
        assert!(matches!(
            v(keys::naca::SCORE, Scope::Patient, Value::code("9")),
            Err(ValueError::UnknownCode { .. })
        ));
        assert!(matches!(
            v(keys::naca::SCORE, Scope::Mission, Value::code("4")),
            Err(ValueError::WrongScope { .. })
        ));
        assert!(matches!(
            v(keys::naca::SCORE, Scope::Patient, Value::Int(4)),
            Err(ValueError::WrongKind { .. })
        ));
        assert!(matches!(
            v("nope", Scope::Patient, Value::Int(4)),
            Err(ValueError::UnknownField(_))
        ));
        let hr = Scope::Entry(Collection::Vitals);
        assert_eq!(
            v(
                keys::vitals::HR,
                hr,
                Value::Measured(Measured::manual(Num::int(300)))
            ),
            Ok(())
        );
        assert!(matches!(
            v(
                keys::vitals::HR,
                hr,
                Value::Measured(Measured::manual(Num::int(401)))
            ),
            Err(ValueError::OutOfRange { .. })
        ));
        assert_eq!(
            v(
                keys::vitals::HR,
                hr,
                Value::Measured(Measured::not_measurable(ValueSource::Manual))
            ),
            Ok(())
        );
        let bad = Measured {
            value: Some(Num::int(80)),
            not_measurable: true,
            source: ValueSource::Manual,
        };
        assert!(matches!(
            v(keys::vitals::HR, hr, Value::Measured(bad)),
            Err(ValueError::MeasuredShape { .. })
        ));
        let long = "x".repeat(33);
        assert!(matches!(
            v(keys::mission::NUMBER, Scope::Mission, Value::Text(long)),
            Err(ValueError::TooLong { .. })
        ));
        let d = PartialDate {
            year: 1950,
            month: 2,
            day: 30,
        };
        assert!(matches!(
            v(keys::patient::BIRTH_DATE, Scope::Patient, Value::Date(d)),
            Err(ValueError::InvalidDate { .. })
        ));
    }
}
