//! The field catalog: every documentable field of the protocol in one table.
//!
//! The catalog drives validation (an event whose value does not fit its
//! field is refused), the section overview, the plausibility ranges and the
//! exports. Adding a field is adding a row; no event type changes.

use super::codes::{self, CodeList};
use super::value::{Num, Value};
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
    "time.alarm",
    "time.departure",
    "time.at_scene",
    "time.patient_contact",
    "time.left_scene",
    "time.at_destination",
    "time.handover",
    "time.available",
    "time.end",
];

pub static FIELDS: &[FieldDef] = &[
    // A. Einsatztechnische Daten
    f(
        "mission.number",
        M,
        S::Mission,
        txt(32),
        "Einsatznummer (Leitstelle)",
        "dispatch mission number",
    ),
    f(
        "mission.dispatch_center",
        M,
        S::Mission,
        txt(64),
        "Leitstelle",
        "dispatch centre",
    ),
    f(
        "mission.call_sign",
        M,
        S::Mission,
        txt(32),
        "Rufname",
        "call sign",
    ),
    f(
        "mission.station",
        M,
        S::Mission,
        txt(64),
        "Standort",
        "station",
    ),
    f(
        "mission.unit_type",
        M,
        S::Mission,
        Kind::Code(&codes::RESCUE_UNIT_TYPE),
        "Rettungsmittel-Typ",
        "unit type",
    ),
    f(
        "mission.first_on_scene",
        M,
        S::Mission,
        Kind::Code(&codes::FIRST_ON_SCENE),
        "Ersteintreffendes Rettungsmittel",
        "first on scene",
    ),
    f(
        "mission.type",
        M,
        S::Mission,
        Kind::Code(&codes::MISSION_TYPE),
        "Einsatzart",
        "mission type",
    ),
    f(
        "mission.keyword",
        M,
        S::Mission,
        txt(64),
        "Einsatzstichwort",
        "dispatch keyword",
    ),
    f(
        "mission.scene_type",
        M,
        S::Mission,
        Kind::Code(&codes::SCENE_TYPE),
        "Notfallort",
        "scene type",
    ),
    f(
        "mission.address.street",
        M,
        S::Mission,
        txt(96),
        "Straße, Hausnr.",
        "street",
    ),
    f(
        "mission.address.postcode",
        M,
        S::Mission,
        txt(10),
        "PLZ",
        "postcode",
    ),
    f(
        "mission.address.city",
        M,
        S::Mission,
        txt(64),
        "Ort",
        "city",
    ),
    f(
        "mission.gps.lat",
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
        "mission.gps.lon",
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
        "mission.doctor_requested",
        M,
        S::Mission,
        Kind::Bool,
        "Notarzt nachgefordert",
        "doctor requested",
    ),
    f(
        "mission.follow_up",
        M,
        S::Mission,
        Kind::Bool,
        "Folgeeinsatz",
        "follow-up mission",
    ),
    f(
        "mission.false_mission",
        M,
        S::Mission,
        Kind::Code(&codes::FALSE_MISSION),
        "Fehleinsatz",
        "false mission",
    ),
    f(
        "mission.doctor_specialty",
        M,
        S::Mission,
        Kind::Code(&codes::DOCTOR_SPECIALTY),
        "NA-Fachrichtung",
        "doctor specialty",
    ),
    // B. Zeiten (FMS status where one sets the time)
    t("time.alarm", None, "Alarmierung", "unit notified"),
    t(
        "time.departure",
        Some(3),
        "Ausrücken (Status 3)",
        "en route",
    ),
    t(
        "time.at_scene",
        Some(4),
        "Ankunft Einsatzort (Status 4)",
        "arrived on scene",
    ),
    t(
        "time.patient_contact",
        None,
        "Patientenkontakt",
        "patient contact",
    ),
    t(
        "time.left_scene",
        Some(7),
        "Abfahrt Einsatzort (Status 7)",
        "left scene",
    ),
    t(
        "time.at_destination",
        Some(8),
        "Ankunft Zielort (Status 8)",
        "arrived at destination",
    ),
    t(
        "time.handover",
        None,
        "Übergabe Patient",
        "transfer of care",
    ),
    t(
        "time.available",
        Some(1),
        "Einsatzbereit (Status 1/2)",
        "back in service",
    ),
    t("time.end", Some(2), "Einsatzende", "mission end"),
    t(
        "time.doctor_requested",
        None,
        "NA-Nachforderung",
        "doctor requested at",
    ),
    // C. Patient
    f(
        "patient.unknown",
        P,
        S::Patient,
        Kind::Bool,
        "unbekannter Patient",
        "unknown patient",
    ),
    f(
        "patient.family_name",
        P,
        S::Patient,
        txt(64),
        "Name",
        "family name",
    ),
    f(
        "patient.given_name",
        P,
        S::Patient,
        txt(64),
        "Vorname",
        "given name",
    ),
    f(
        "patient.title",
        P,
        S::Patient,
        txt(32),
        "Titel",
        "academic title",
    ),
    f(
        "patient.birth_date",
        P,
        S::Patient,
        Kind::Date,
        "Geburtsdatum",
        "date of birth",
    ),
    f(
        "patient.age_years",
        P,
        S::Patient,
        Kind::Int { min: 0, max: 130 },
        "Alter (Jahre)",
        "age (years)",
    ),
    f(
        "patient.sex",
        P,
        S::Patient,
        Kind::Code(&codes::SEX),
        "Geschlecht",
        "sex",
    ),
    f(
        "patient.address.street",
        P,
        S::Patient,
        txt(96),
        "Straße, Hausnr.",
        "street",
    ),
    f(
        "patient.address.extra",
        P,
        S::Patient,
        txt(96),
        "Anschriftenzusatz",
        "address supplement",
    ),
    f(
        "patient.address.postcode",
        P,
        S::Patient,
        txt(10),
        "PLZ",
        "postcode",
    ),
    f(
        "patient.address.city",
        P,
        S::Patient,
        txt(64),
        "Wohnort",
        "city",
    ),
    f(
        "patient.address.country",
        P,
        S::Patient,
        txt(3),
        "Länderkennzeichen",
        "country code",
    ),
    f(
        "patient.id_source",
        P,
        S::Patient,
        Kind::Code(&codes::ID_SOURCE),
        "Identifikation durch",
        "identified by",
    ),
    f(
        "patient.weight_kg",
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
        "patient.height_cm",
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
        "insurance.insurer_name",
        P,
        S::Patient,
        txt(64),
        "Krankenkasse",
        "insurer",
    ),
    f(
        "insurance.insurer_ik",
        P,
        S::Patient,
        txt(9),
        "Kassen-IK",
        "insurer IK",
    ),
    f(
        "insurance.number",
        P,
        S::Patient,
        txt(12),
        "Versichertennummer",
        "insurance number",
    ),
    f(
        "insurance.type",
        P,
        S::Patient,
        Kind::Code(&codes::INSURANCE_TYPE),
        "Versichertenart",
        "insurance type",
    ),
    f(
        "insurance.valid_until",
        P,
        S::Patient,
        Kind::Date,
        "Karte gültig bis",
        "card valid until",
    ),
    f(
        "insurance.card_read_at",
        P,
        S::Patient,
        Kind::Time,
        "Karte gelesen",
        "card read at",
    ),
    // D. Notfallgeschehen / Anamnese
    f(
        "history.event",
        P,
        S::History,
        txt(2000),
        "Notfallgeschehen",
        "what happened",
    ),
    f(
        "history.symptom_onset",
        P,
        S::History,
        Kind::Time,
        "Symptombeginn",
        "symptom onset",
    ),
    f(
        "history.previous_illnesses",
        P,
        S::History,
        txt(1000),
        "Vorerkrankungen",
        "previous illnesses",
    ),
    f(
        "history.home_medication",
        P,
        S::History,
        txt(1000),
        "Dauermedikation",
        "home medication",
    ),
    f(
        "history.allergies",
        P,
        S::History,
        txt(500),
        "Allergien/Unverträglichkeiten",
        "allergies",
    ),
    f(
        "history.pretreatment",
        P,
        S::History,
        txt(500),
        "Vorbehandlung",
        "pre-treatment",
    ),
    f(
        "history.arrest",
        P,
        S::History,
        Kind::Bool,
        "Herz-Kreislauf-Stillstand",
        "cardiac arrest",
    ),
    f(
        "history.arrest_witnessed",
        P,
        S::History,
        Kind::Code(&codes::ARREST_WITNESS),
        "Kollaps beobachtet",
        "collapse witnessed",
    ),
    f(
        "history.collapse_time",
        P,
        S::History,
        Kind::Time,
        "Kollaps",
        "collapse",
    ),
    f(
        "history.bystander_cpr",
        P,
        S::History,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "Laienreanimation",
        "bystander CPR",
    ),
    f(
        "history.aed_used",
        P,
        S::History,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "AED durch Laien",
        "bystander AED",
    ),
    f(
        "history.cpr_start",
        P,
        S::History,
        Kind::Time,
        "CPR-Beginn",
        "CPR start",
    ),
    f("history.rosc", P, S::History, Kind::Time, "ROSC", "ROSC"),
    f(
        "history.pregnancy",
        P,
        S::History,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "Schwangerschaft",
        "pregnancy",
    ),
    f(
        "history.infection",
        P,
        S::History,
        txt(200),
        "Infektionsstatus",
        "infection status",
    ),
    f(
        "history.advance_directive",
        P,
        S::History,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "Patientenverfügung",
        "advance directive",
    ),
    f(
        "history.injury_mechanism",
        P,
        S::History,
        Kind::Codes(&codes::INJURY_MECHANISM),
        "Unfallmechanismus",
        "injury mechanism",
    ),
    // E. Befund (repeatable)
    f(
        "finding.at",
        e(C::Finding),
        S::Findings,
        Kind::Time,
        "Zeitpunkt",
        "time",
    ),
    f(
        "finding.gcs_eyes",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::GCS_EYES),
        "GCS Augen öffnen",
        "GCS eyes",
    ),
    f(
        "finding.gcs_verbal",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::GCS_VERBAL),
        "GCS verbale Reaktion",
        "GCS verbal",
    ),
    f(
        "finding.gcs_motor",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::GCS_MOTOR),
        "GCS motorische Reaktion",
        "GCS motor",
    ),
    f(
        "finding.pain_nrs",
        e(C::Finding),
        S::Findings,
        Kind::Int { min: 0, max: 10 },
        "Schmerz (NRS 0–10)",
        "pain (NRS 0-10)",
    ),
    f(
        "finding.gcs_qualifier",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::GCS_QUALIFIER),
        "GCS nicht beurteilbar",
        "GCS qualifier",
    ),
    f(
        "finding.gcs_paediatric",
        e(C::Finding),
        S::Findings,
        Kind::Bool,
        "Pädiatrische GCS",
        "paediatric GCS",
    ),
    f(
        "finding.avpu",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::AVPU),
        "AVPU",
        "AVPU",
    ),
    f(
        "finding.pupil_left_size",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::PUPIL_SIZE),
        "Pupille links",
        "left pupil",
    ),
    f(
        "finding.pupil_left_shape",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::PUPIL_SHAPE),
        "Form links",
        "left shape",
    ),
    f(
        "finding.pupil_left_reaction",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::PUPIL_REACTION),
        "Lichtreaktion links",
        "left reaction",
    ),
    f(
        "finding.pupil_right_size",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::PUPIL_SIZE),
        "Pupille rechts",
        "right pupil",
    ),
    f(
        "finding.pupil_right_shape",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::PUPIL_SHAPE),
        "Form rechts",
        "right shape",
    ),
    f(
        "finding.pupil_right_reaction",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::PUPIL_REACTION),
        "Lichtreaktion rechts",
        "right reaction",
    ),
    f(
        "finding.psych",
        e(C::Finding),
        S::Findings,
        Kind::Codes(&codes::PSYCH),
        "Psychischer Zustand",
        "mental state",
    ),
    f(
        "finding.airway",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::AIRWAY),
        "Atemweg",
        "airway",
    ),
    f(
        "finding.breathing",
        e(C::Finding),
        S::Findings,
        Kind::Codes(&codes::BREATHING),
        "Atmung",
        "breathing",
    ),
    f(
        "finding.pulse_quality",
        e(C::Finding),
        S::Findings,
        Kind::Codes(&codes::PULSE_QUALITY),
        "Puls",
        "pulse",
    ),
    f(
        "finding.skin",
        e(C::Finding),
        S::Findings,
        Kind::Codes(&codes::SKIN),
        "Haut",
        "skin",
    ),
    f(
        "finding.fast_face",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "FAST: Gesicht",
        "FAST face",
    ),
    f(
        "finding.fast_arm",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "FAST: Arm",
        "FAST arm",
    ),
    f(
        "finding.fast_speech",
        e(C::Finding),
        S::Findings,
        Kind::Code(&codes::YES_NO_UNKNOWN),
        "FAST: Sprache",
        "FAST speech",
    ),
    f(
        "finding.meningism",
        e(C::Finding),
        S::Findings,
        Kind::Bool,
        "Meningismus",
        "meningism",
    ),
    f(
        "finding.note",
        e(C::Finding),
        S::Findings,
        txt(500),
        "Befund (Text)",
        "finding (text)",
    ),
    // F. Messwerte (repeatable vital sets)
    f(
        "vitals.at",
        e(C::Vitals),
        S::Vitals,
        Kind::Time,
        "Zeitpunkt",
        "time",
    ),
    f(
        "vitals.bp_sys",
        e(C::Vitals),
        S::Vitals,
        meas("mmHg", "8480-6", r(0, 400), r(40, 250)),
        "RR systolisch",
        "systolic BP",
    ),
    f(
        "vitals.bp_dia",
        e(C::Vitals),
        S::Vitals,
        meas("mmHg", "8462-4", r(0, 300), r(20, 150)),
        "RR diastolisch",
        "diastolic BP",
    ),
    f(
        "vitals.hr",
        e(C::Vitals),
        S::Vitals,
        meas("/min", "8867-4", r(0, 400), r(20, 250)),
        "Herzfrequenz",
        "heart rate",
    ),
    f(
        "vitals.spo2",
        e(C::Vitals),
        S::Vitals,
        meas("%", "59408-5", r(0, 100), r(50, 100)),
        "SpO₂",
        "SpO2",
    ),
    f(
        "vitals.rr",
        e(C::Vitals),
        S::Vitals,
        meas("/min", "9279-1", r(0, 100), r(4, 60)),
        "Atemfrequenz",
        "respiratory rate",
    ),
    f(
        "vitals.etco2",
        e(C::Vitals),
        S::Vitals,
        meas("mmHg", "19889-5", r(0, 200), r(10, 80)),
        "etCO₂",
        "etCO2",
    ),
    f(
        "vitals.glucose",
        e(C::Vitals),
        S::Vitals,
        meas("mg/dl", "2339-0", r(0, 2000), r(40, 500)),
        "Blutzucker",
        "blood glucose",
    ),
    f(
        "vitals.temp",
        e(C::Vitals),
        S::Vitals,
        meas("°C", "8310-5", r(15, 46), r(32, 41)),
        "Temperatur",
        "temperature",
    ),
    // G. EKG
    f("ecg.at", e(C::Ecg), S::Ecg, Kind::Time, "Zeitpunkt", "time"),
    f(
        "ecg.rhythm",
        e(C::Ecg),
        S::Ecg,
        Kind::Code(&codes::ECG_RHYTHM),
        "Rhythmus",
        "rhythm",
    ),
    f(
        "ecg.twelve_lead",
        e(C::Ecg),
        S::Ecg,
        Kind::Bool,
        "12-Kanal-EKG",
        "12-lead ECG",
    ),
    f(
        "ecg.stemi",
        e(C::Ecg),
        S::Ecg,
        Kind::Bool,
        "ST-Hebung / STEMI",
        "ST elevation / STEMI",
    ),
    f(
        "ecg.stemi_site",
        e(C::Ecg),
        S::Ecg,
        Kind::Codes(&codes::STEMI_SITE),
        "STEMI-Lokalisation",
        "STEMI site",
    ),
    f(
        "ecg.bundle_branch_block",
        e(C::Ecg),
        S::Ecg,
        Kind::Code(&codes::BUNDLE_BRANCH_BLOCK),
        "Schenkelblock",
        "bundle branch block",
    ),
    f(
        "ecg.device_record",
        e(C::Ecg),
        S::Ecg,
        txt(64),
        "Geräteaufzeichnung (Id)",
        "device recording id",
    ),
    f(
        "ecg.note",
        e(C::Ecg),
        S::Ecg,
        txt(500),
        "EKG-Befund (Text)",
        "ECG finding (text)",
    ),
    // H. Verletzungen
    f(
        "injury.region",
        e(C::Injury),
        S::Injuries,
        Kind::Code(&codes::INJURY_REGION),
        "Region",
        "region",
    ),
    f(
        "injury.severity",
        e(C::Injury),
        S::Injuries,
        Kind::Code(&codes::INJURY_SEVERITY),
        "Schwere",
        "severity",
    ),
    f(
        "injury.open",
        e(C::Injury),
        S::Injuries,
        Kind::Bool,
        "offen",
        "open",
    ),
    f(
        "injury.burn_degree",
        e(C::Injury),
        S::Injuries,
        Kind::Code(&codes::BURN_DEGREE),
        "Verbrennungsgrad",
        "burn degree",
    ),
    f(
        "injury.burn_tbsa",
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
        "injury.note",
        e(C::Injury),
        S::Injuries,
        txt(500),
        "Beschreibung",
        "description",
    ),
    // I. Erkrankungen / Diagnose
    f(
        "diagnosis.group",
        e(C::Diagnosis),
        S::Diseases,
        Kind::Code(&codes::DISEASE_GROUP),
        "Erkrankungsgruppe",
        "disease group",
    ),
    f(
        "diagnosis.text",
        e(C::Diagnosis),
        S::Diseases,
        txt(200),
        "Diagnose",
        "diagnosis",
    ),
    f(
        "diagnosis.icd10",
        e(C::Diagnosis),
        S::Diseases,
        txt(8),
        "ICD-10-GM",
        "ICD-10-GM",
    ),
    f(
        "diagnosis.kind",
        e(C::Diagnosis),
        S::Diseases,
        Kind::Code(&codes::DIAGNOSIS_KIND),
        "Art",
        "kind",
    ),
    f(
        "diagnosis.tracer",
        e(C::Diagnosis),
        S::Diseases,
        Kind::Code(&codes::TRACER),
        "Tracerdiagnose",
        "tracer diagnosis",
    ),
    // J. NACA
    f(
        "naca.score",
        P,
        S::Naca,
        Kind::Code(&codes::NACA),
        "NACA-Score",
        "NACA score",
    ),
    // K. Maßnahmen
    f(
        "measure.kind",
        e(C::Measure),
        S::Measures,
        Kind::Code(&codes::MEASURE),
        "Maßnahme",
        "measure",
    ),
    f(
        "measure.at",
        e(C::Measure),
        S::Measures,
        Kind::Time,
        "Zeitpunkt",
        "time",
    ),
    f(
        "measure.performer",
        e(C::Measure),
        S::Measures,
        txt(64),
        "Durchgeführt von",
        "performed by",
    ),
    f(
        "measure.detail",
        e(C::Measure),
        S::Measures,
        txt(200),
        "Details (Größe, Ort, Joule …)",
        "details",
    ),
    f(
        "measure.attempts",
        e(C::Measure),
        S::Measures,
        Kind::Int { min: 1, max: 20 },
        "Versuche",
        "attempts",
    ),
    f(
        "measure.result",
        e(C::Measure),
        S::Measures,
        Kind::Code(&codes::MEASURE_RESULT),
        "Ergebnis",
        "result",
    ),
    f(
        "measure.energy_j",
        e(C::Measure),
        S::Measures,
        Kind::Int { min: 0, max: 400 },
        "Energie (J)",
        "energy (J)",
    ),
    // L. Medikamente
    f(
        "med.substance",
        e(C::Medication),
        S::Medication,
        txt(96),
        "Wirkstoff",
        "substance",
    ),
    f(
        "med.product",
        e(C::Medication),
        S::Medication,
        txt(96),
        "Präparat / PZN",
        "product / PZN",
    ),
    f(
        "med.dose",
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
        "med.unit",
        e(C::Medication),
        S::Medication,
        Kind::Code(&codes::DOSE_UNIT),
        "Einheit",
        "unit",
    ),
    f(
        "med.route",
        e(C::Medication),
        S::Medication,
        Kind::Code(&codes::ROUTE),
        "Applikationsweg",
        "route",
    ),
    f(
        "med.at",
        e(C::Medication),
        S::Medication,
        Kind::Time,
        "Zeitpunkt",
        "time",
    ),
    f(
        "med.until",
        e(C::Medication),
        S::Medication,
        Kind::Time,
        "bis (Perfusor)",
        "until (infusion)",
    ),
    f(
        "med.reason",
        e(C::Medication),
        S::Medication,
        txt(200),
        "Grund",
        "reason",
    ),
    f(
        "med.given_by",
        e(C::Medication),
        S::Medication,
        txt(64),
        "Verabreicht von",
        "given by",
    ),
    f(
        "med.ordered_by",
        e(C::Medication),
        S::Medication,
        Kind::Code(&codes::ORDERED_BY),
        "Angeordnet durch",
        "ordered by",
    ),
    f(
        "med.controlled",
        e(C::Medication),
        S::Medication,
        Kind::Bool,
        "BtM",
        "controlled substance",
    ),
    f(
        "med.batch",
        e(C::Medication),
        S::Medication,
        txt(32),
        "Charge",
        "batch",
    ),
    // M. Übergabe / Transport
    f(
        "transport.done",
        P,
        S::Handover,
        Kind::Bool,
        "Transport",
        "transported",
    ),
    f(
        "transport.with_doctor",
        P,
        S::Handover,
        Kind::Bool,
        "mit Notarzt",
        "with doctor",
    ),
    f(
        "transport.emergency_lights",
        P,
        S::Handover,
        Kind::Bool,
        "Sonderrechte",
        "lights and siren",
    ),
    f(
        "transport.positioning",
        P,
        S::Handover,
        txt(100),
        "Lagerung",
        "positioning",
    ),
    f(
        "transport.hospital",
        P,
        S::Handover,
        txt(96),
        "Zielklinik",
        "destination hospital",
    ),
    f(
        "transport.hospital_id",
        P,
        S::Handover,
        txt(32),
        "Zielklinik-Kennung (IK/GLN)",
        "hospital id",
    ),
    f(
        "transport.department",
        P,
        S::Handover,
        Kind::Code(&codes::DEPARTMENT),
        "Fachbereich",
        "department",
    ),
    f(
        "transport.pzc",
        P,
        S::Handover,
        txt(12),
        "PZC (IVENA)",
        "PZC (IVENA)",
    ),
    f(
        "transport.prenotified_at",
        P,
        S::Handover,
        Kind::Time,
        "Voranmeldung",
        "pre-notified at",
    ),
    f(
        "handover.to",
        P,
        S::Handover,
        txt(96),
        "Übergabe an (Name/Rolle)",
        "handed over to",
    ),
    f(
        "handover.condition",
        P,
        S::Handover,
        Kind::Code(&codes::CONDITION_CHANGE),
        "Zustand bei Übergabe",
        "condition at handover",
    ),
    f(
        "handover.valuables",
        P,
        S::Handover,
        txt(200),
        "Wertsachen",
        "valuables",
    ),
    f(
        "handover.refusal_informed",
        P,
        S::Handover,
        Kind::Bool,
        "Transportverweigerung aufgeklärt",
        "refusal: informed",
    ),
    // N. Ergebnis
    f(
        "outcome.result",
        P,
        S::Outcome,
        Kind::Code(&codes::OUTCOME),
        "Ergebnis",
        "outcome",
    ),
    f(
        "outcome.death_time",
        P,
        S::Outcome,
        Kind::Time,
        "Todeszeitpunkt",
        "time of death",
    ),
    // O. Bemerkungen
    f(
        "remarks.text",
        M,
        S::Remarks,
        txt(4000),
        "Bemerkungen",
        "remarks",
    ),
    f(
        "remarks.infection_protection",
        M,
        S::Remarks,
        Kind::Bool,
        "Infektionsschutzmaßnahmen",
        "infection precautions",
    ),
    f(
        "remarks.disinfection",
        M,
        S::Remarks,
        Kind::Bool,
        "Fahrzeugdesinfektion",
        "vehicle disinfection",
    ),
    f(
        "remarks.violence",
        M,
        S::Remarks,
        Kind::Bool,
        "Gewalt gegen Einsatzkräfte",
        "violence against crew",
    ),
    f(
        "remarks.violence_note",
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

impl ValueError {
    pub fn user_message_de(&self) -> String {
        match self {
            ValueError::UnknownField(_)
            | ValueError::WrongScope { .. }
            | ValueError::WrongKind { .. } => "Interner Fehler: Feld passt nicht zum Wert.".into(),
            ValueError::UnknownCode { .. } => "Ungültige Auswahl.".into(),
            ValueError::TooLong { max, .. } => format!("Text zu lang (höchstens {max} Zeichen)."),
            ValueError::OutOfRange { .. } => "Wert außerhalb des möglichen Bereichs.".into(),
            ValueError::InvalidDate { .. } => "Ungültiges Datum.".into(),
            ValueError::MeasuredShape { .. } => "Wert oder „nicht messbar“ angeben.".into(),
        }
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
        ("diagnosis.tracer", Value::Code(c)) => match c.as_str() {
            "01" => vec![("diagnosis.group", Value::code("02"))], // ACS → Herz-Kreislauf
            "02" => vec![("diagnosis.group", Value::code("01"))], // Schlaganfall → ZNS
            _ => Vec::new(),
        },
        ("transport.hospital", Value::Text(t)) if !t.trim().is_empty() => {
            vec![("transport.done", Value::Bool(true))]
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
        Collection::Vitals => Some("vitals.at"),
        Collection::Finding => Some("finding.at"),
        Collection::Ecg => Some("ecg.at"),
        Collection::Measure => Some("measure.at"),
        Collection::Medication => Some("med.at"),
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
            implied("diagnosis.tracer", &Value::code("01")),
            vec![("diagnosis.group", Value::code("02"))]
        );
        assert_eq!(
            implied("diagnosis.tracer", &Value::code("02")),
            vec![("diagnosis.group", Value::code("01"))]
        );
        // Cardiac arrest has many causes: no group is implied.
        assert!(implied("diagnosis.tracer", &Value::code("05")).is_empty());
        assert_eq!(
            implied("transport.hospital", &Value::text("Klinikum Mitte")),
            vec![("transport.done", Value::Bool(true))]
        );
        assert!(implied("transport.hospital", &Value::text("  ")).is_empty());
        for (k, v) in implied("diagnosis.tracer", &Value::code("01"))
            .into_iter()
            .chain(implied("transport.hospital", &Value::text("X")))
        {
            let def = field(k).expect(k);
            validate(def.scope, k, &v).expect("an implied value is valid");
        }
    }

    #[test]
    fn keypad_input_is_complete_only_when_no_digit_can_follow() {
        let f = |k: &str| field(k).expect(k);
        let hr = f("vitals.hr"); // hard 0..400
        assert!(input_complete(hr, "112"));
        assert!(input_complete(hr, "98"));
        assert!(!input_complete(hr, "35"), "350 is still possible");
        assert!(!input_complete(hr, "4"));
        assert!(input_complete(hr, "400"));
        assert!(
            !input_complete(hr, "401"),
            "out of range stays for the error"
        );
        let spo2 = f("vitals.spo2"); // 0..100
        assert!(input_complete(spo2, "91"));
        assert!(!input_complete(spo2, "10"));
        assert!(input_complete(spo2, "100"));
        // Glucose: decided on the hard range 0..2000, so 600 stays typeable.
        let bz = f("vitals.glucose");
        assert!(!input_complete(bz, "60"));
        assert!(!input_complete(bz, "130"));
        assert!(input_complete(bz, "201"));
        // Decimal fields never move on by themselves: 36 may become 36,5.
        assert!(!input_complete(f("vitals.temp"), "36"));
        assert!(!input_complete(hr, "9,"));
        assert!(!input_complete(hr, ""));
        assert!(!input_complete(f("patient.family_name"), "12"));
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
        assert_eq!(v("naca.score", Scope::Patient, Value::code("4")), Ok(()));
        assert!(matches!(
            v("naca.score", Scope::Patient, Value::code("9")),
            Err(ValueError::UnknownCode { .. })
        ));
        assert!(matches!(
            v("naca.score", Scope::Mission, Value::code("4")),
            Err(ValueError::WrongScope { .. })
        ));
        assert!(matches!(
            v("naca.score", Scope::Patient, Value::Int(4)),
            Err(ValueError::WrongKind { .. })
        ));
        assert!(matches!(
            v("nope", Scope::Patient, Value::Int(4)),
            Err(ValueError::UnknownField(_))
        ));
        let hr = Scope::Entry(Collection::Vitals);
        assert_eq!(
            v(
                "vitals.hr",
                hr,
                Value::Measured(Measured::manual(Num::int(300)))
            ),
            Ok(())
        );
        assert!(matches!(
            v(
                "vitals.hr",
                hr,
                Value::Measured(Measured::manual(Num::int(401)))
            ),
            Err(ValueError::OutOfRange { .. })
        ));
        assert_eq!(
            v(
                "vitals.hr",
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
            v("vitals.hr", hr, Value::Measured(bad)),
            Err(ValueError::MeasuredShape { .. })
        ));
        let long = "x".repeat(33);
        assert!(matches!(
            v("mission.number", Scope::Mission, Value::Text(long)),
            Err(ValueError::TooLong { .. })
        ));
        let d = PartialDate {
            year: 1950,
            month: 2,
            day: 30,
        };
        assert!(matches!(
            v("patient.birth_date", Scope::Patient, Value::Date(d)),
            Err(ValueError::InvalidDate { .. })
        ));
    }
}
