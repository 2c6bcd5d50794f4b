//! Terminology the catalog does not hold: UCUM spellings of catalog units,
//! LOINC codes of scored findings, FHIR and German base-profile systems, and
//! rettpad's own namespaces.
//!
//! rettpad's identifiers and code systems are URNs under `urn:rettpad:`. They
//! are ours, versioned where the structure may change, and stand in until
//! the organisation registers canonical URLs or OIDs.

pub const LOINC: &str = "http://loinc.org";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const DATA_ABSENT: &str = "http://terminology.hl7.org/CodeSystem/data-absent-reason";
pub const OBS_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
pub const CONDITION_VER: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
pub const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
pub const CONDITION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
pub const RFC3986: &str = "urn:ietf:rfc:3986";

/// German base profiles (HL7 Deutschland, de.basisprofil.r4).
pub const KVID10: &str = "http://fhir.de/sid/gkv/kvid-10";
pub const IDENTIFIER_TYPE_DE: &str = "http://fhir.de/CodeSystem/identifier-type-de-basis";
pub const IKNR: &str = "http://fhir.de/sid/arge-ik/iknr";
pub const GENDER_AMTLICH_EXT: &str = "http://fhir.de/StructureDefinition/gender-amtlich-de";
pub const GENDER_AMTLICH: &str = "http://fhir.de/CodeSystem/gender-amtlich-de";
pub const ICD10GM: &str = "http://fhir.de/CodeSystem/bfarm/icd-10-gm";
pub const PZN: &str = "http://fhir.de/CodeSystem/ifa/pzn";

/// rettpad's own systems.
pub const CS_FIELD: &str = "urn:rettpad:cs:field";
pub const CS_SECTION: &str = "urn:rettpad:cs:section";
pub const CS_COLLECTION: &str = "urn:rettpad:cs:collection";
pub const SID_MISSION_NUMBER: &str = "urn:rettpad:sid:einsatznummer";
pub const SID_PERSONNEL: &str = "urn:rettpad:sid:personalnummer";
pub const SID_DEVICE: &str = "urn:rettpad:sid:geraet";
pub const SID_HOSPITAL: &str = "urn:rettpad:sid:zielklinik";
/// SHA-256 (hex) of an ECG strip blob.
pub const SID_STRIP: &str = "urn:rettpad:sid:ekg-sha256";
/// Namespace of the MIND XML; the number is the format version.
pub const MIND_NS: &str = "urn:rettpad:mind:1";
pub const MIND_VERSION: &str = "1";

/// The code system of a catalog code list.
pub fn code_system(list_id: &str) -> String {
    format!("urn:rettpad:cs:{list_id}")
}

/// EMS patient care report (the Composition type).
pub const DOC_TYPE: (&str, &str) = (
    "67796-3",
    "EMS patient care report - version 3 Document NEMSIS",
);
pub const BP_PANEL: (&str, &str) = ("85354-9", "Blood pressure panel with all children optional");
pub const GCS_TOTAL: (&str, &str) = ("9269-2", "Glasgow coma score total");
pub const GCS_EYES: (&str, &str) = ("9267-6", "Glasgow coma score eye opening");
pub const GCS_VERBAL: (&str, &str) = ("9270-0", "Glasgow coma score verbal");
pub const GCS_MOTOR: (&str, &str) = ("9268-4", "Glasgow coma score motor");
pub const PAIN_NRS: (&str, &str) = (
    "72514-3",
    "Pain severity - 0-10 verbal numeric rating [Score] - Reported",
);
pub const ECG_STUDY: (&str, &str) = ("11524-6", "EKG study");
pub const BODY_WEIGHT: (&str, &str) = ("29463-7", "Body weight");
pub const BODY_HEIGHT: (&str, &str) = ("8302-2", "Body height");
pub const AGE: (&str, &str) = ("30525-0", "Age");
/// The FHIR oxygen-saturation profile's code, sent beside the catalog's
/// pulse-oximetry code 59408-5.
pub const SPO2_GENERIC: (&str, &str) = ("2708-6", "Oxygen saturation in Arterial blood");

/// English LOINC display for the catalog's measured-value codes.
pub fn loinc_display(code: &str) -> Option<&'static str> {
    Some(match code {
        "8480-6" => "Systolic blood pressure",
        "8462-4" => "Diastolic blood pressure",
        "8867-4" => "Heart rate",
        "59408-5" => "Oxygen saturation in Arterial blood by Pulse oximetry",
        "9279-1" => "Respiratory rate",
        "19889-5" => "Carbon dioxide [Partial pressure] in Exhaled gas --at end expiration",
        "2339-0" => "Glucose [Mass/volume] in Blood",
        "8310-5" => "Body temperature",
        _ => return None,
    })
}

/// Observation category for a LOINC code: vital signs, except glucose.
pub fn category(loinc: &str) -> &'static str {
    match loinc {
        "2339-0" => "laboratory",
        _ => "vital-signs",
    }
}

/// UCUM code of a catalog or dose unit. `None` for a unit without mapping,
/// which the export reports as an error rather than guessing.
pub fn ucum(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "mmHg" => "mm[Hg]",
        "/min" => "/min",
        "%" | "% KOF" => "%",
        "mg/dl" => "mg/dL",
        "°C" => "Cel",
        "kg" => "kg",
        "cm" => "cm",
        "°" => "deg",
        "mg" => "mg",
        "ug" => "ug",
        "g" => "g",
        "ml" => "mL",
        "IE" => "[iU]",
        "mmol" => "mmol",
        "l/min" => "L/min",
        "Hub" => "{Hub}",
        "{score}" => "{score}",
        "a" => "a",
        _ => return None,
    })
}

/// `Patient.gender` and the German "amtliches Geschlecht" code for the
/// catalog's sex codes (M, W, D, X, U).
pub fn gender(code: &str) -> (&'static str, Option<(&'static str, &'static str)>) {
    match code {
        "M" => ("male", None),
        "W" => ("female", None),
        "D" => ("other", Some(("D", "divers"))),
        "X" => ("other", Some(("X", "unbestimmt"))),
        _ => ("unknown", None),
    }
}

/// The 10-character KVNR: one capital letter and nine digits.
pub fn is_kvnr(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10 && b[0].is_ascii_uppercase() && b[1..].iter().all(u8::is_ascii_digit)
}

/// A 9-digit Institutionskennzeichen.
pub fn is_ik(s: &str) -> bool {
    s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A PZN: 8 digits (7 in old data).
pub fn is_pzn(s: &str) -> bool {
    (7..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rettpad_record::catalog::{FIELDS, Kind, unit};
    use rettpad_record::codes::DOSE_UNIT;

    #[test]
    fn every_catalog_unit_has_ucum() {
        for f in FIELDS {
            if let Some(u) = unit(f).filter(|u| !u.is_empty()) {
                assert!(ucum(u).is_some(), "{}: unit {u}", f.key);
            }
            if let Kind::Measured { loinc, .. } = f.kind {
                assert!(loinc_display(loinc).is_some(), "{}: {loinc}", f.key);
            }
        }
        for c in DOSE_UNIT.codes {
            assert!(ucum(c.code).is_some(), "dose unit {}", c.code);
        }
    }

    #[test]
    fn identifiers() {
        assert!(is_kvnr("A123456789"));
        assert!(!is_kvnr("a123456789"));
        assert!(!is_kvnr("A12345678"));
        assert!(!is_kvnr("Ä12345678"));
        assert!(is_ik("109519005"));
        assert!(!is_ik("10951900"));
        assert_eq!(gender("D"), ("other", Some(("D", "divers"))));
        assert_eq!(gender("U"), ("unknown", None));
    }
}
