//! MIND/DIVI code lists as data. Codes follow MIND3.1 where it has a list
//! (`00` = nicht dokumentiert, `98` = Sonstige, `99` = unbekannt); lists marked
//! `[K]` in `shared/docs/record-dataset.md` are domain knowledge to verify
//! against the official MIND4 specification before QM export.

/// One coded value with its German and English label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Code {
    pub code: &'static str,
    pub de: &'static str,
    pub en: &'static str,
}

/// A named list of codes. `mind` names the MIND element where one exists.
#[derive(Debug)]
pub struct CodeList {
    pub id: &'static str,
    pub mind: Option<&'static str>,
    pub codes: &'static [Code],
}

impl CodeList {
    pub fn get(&self, code: &str) -> Option<&'static Code> {
        self.codes.iter().find(|c| c.code == code)
    }

    pub fn contains(&self, code: &str) -> bool {
        self.get(code).is_some()
    }
}

/// Code for "nicht dokumentiert".
pub const NOT_DOCUMENTED: &str = "00";
/// Code for "Sonstige".
pub const OTHER: &str = "98";
/// Code for "unbekannt".
pub const UNKNOWN: &str = "99";

const fn c(code: &'static str, de: &'static str, en: &'static str) -> Code {
    Code { code, de, en }
}

macro_rules! list {
    ($name:ident, $id:literal, $mind:expr, [$(($k:literal, $de:literal, $en:literal)),* $(,)?]) => {
        pub static $name: CodeList = CodeList { id: $id, mind: $mind, codes: &[$(c($k, $de, $en)),*] };
    };
}

list!(
    RESCUE_UNIT_TYPE,
    "rescue_unit_type",
    Some("Rettungsmittel-Typ"),
    [
        ("00", "nicht dokumentiert", "not documented"),
        ("01", "NEF", "emergency doctor vehicle"),
        ("02", "RTW", "ambulance"),
        ("03", "KTW", "patient transport"),
        ("04", "NAW", "doctor-staffed ambulance"),
        ("05", "RTH", "rescue helicopter"),
        ("06", "ITH", "intensive care helicopter"),
        ("07", "ITW", "intensive care ambulance"),
        ("08", "Langstreckenflugzeug", "long-range aircraft"),
        ("09", "Ambulanzflugzeug", "air ambulance"),
        ("10", "First Responder", "first responder"),
        ("11", "Bergrettung", "mountain rescue"),
        ("12", "Wasserrettung", "water rescue"),
        ("13", "Selbstfahrender NA", "self-driving emergency doctor"),
        ("14", "Telenotarzt", "tele-emergency doctor"),
        ("98", "Sonstige", "other"),
    ]
);

list!(
    FIRST_ON_SCENE,
    "first_on_scene",
    Some("MIND3.1-EintreffenRD"),
    [
        ("00", "nicht dokumentiert", "not documented"),
        ("01", "RD vor NA", "EMS before doctor"),
        ("02", "RD nach NA", "EMS after doctor"),
        ("03", "Einsatz ohne Notarzt", "mission without doctor"),
    ]
);

list!(
    SCENE_TYPE,
    "scene_type",
    Some("Beschreibung Notfallort"),
    [
        ("00", "nicht dokumentiert", "not documented"),
        ("01", "Wohnung", "home"),
        ("02", "Altenheim", "nursing home"),
        ("03", "Arbeitsplatz", "workplace"),
        ("04", "Arztpraxis", "doctor's office"),
        ("05", "Straße", "street"),
        ("06", "öffentlicher Raum", "public place"),
        ("07", "Krankenhaus", "hospital"),
        ("08", "Massenveranstaltung", "mass event"),
        ("09", "Schule/Bildungseinrichtung", "school"),
        ("10", "Sportstätte", "sports venue"),
        ("11", "Geburtshaus", "birth centre"),
        ("98", "Sonstige", "other"),
    ]
);

list!(
    MISSION_TYPE,
    "mission_type",
    Some("MIND3.1-EinsatzArt"),
    [
        ("00", "nicht dokumentiert", "not documented"),
        ("01", "Primäreinsatz", "primary mission"),
        ("02", "disponible Verlegung", "scheduled transfer"),
        ("03", "dringliche Verlegung", "urgent transfer"),
        ("04", "Intensivtransport", "intensive care transport"),
        ("05", "vorsorgliche Bereitstellung", "standby"),
    ]
);

list!(
    FALSE_MISSION,
    "false_mission",
    Some("Fehleinsatz"),
    [
        ("01", "kein Patient", "no patient"),
        ("02", "bereits abtransportiert", "already transported"),
        ("03", "von Leitstelle abbestellt", "cancelled by dispatch"),
        ("04", "böswillige Alarmierung", "malicious call"),
        ("05", "Abbruch Wetter", "aborted: weather"),
        ("06", "Abbruch technisch", "aborted: technical"),
        ("98", "Sonstige", "other"),
    ]
);

list!(
    QUALIFICATION,
    "qualification",
    Some("Personal/Qualifikation"),
    [
        ("00", "nicht dokumentiert", "not documented"),
        ("01", "Arzt in Weiterbildung", "physician in training"),
        ("02", "Gebietsfacharzt", "specialist"),
        (
            "03",
            "FA + ZB Intensivmedizin",
            "specialist + intensive care"
        ),
        ("04", "Rettungsassistent", "Rettungsassistent"),
        ("05", "Rettungssanitäter", "Rettungssanitäter"),
        ("06", "Intensivpflege", "intensive care nurse"),
        ("07", "Notfallsanitäter", "Notfallsanitäter"),
        ("98", "Sonstige", "other"),
    ]
);

list!(
    DOCTOR_SPECIALTY,
    "doctor_specialty",
    Some("NA-Fachrichtung"),
    [
        ("00", "nicht dokumentiert", "not documented"),
        ("01", "Innere Medizin", "internal medicine"),
        ("02", "Chirurgie", "surgery"),
        ("03", "Anästhesie", "anaesthesiology"),
        ("04", "Pädiatrie", "paediatrics"),
        ("05", "Allgemeinmedizin", "general practice"),
        ("06", "Neurologie", "neurology"),
        ("98", "Sonstige", "other"),
    ]
);

list!(
    SEX,
    "sex",
    None,
    [
        ("M", "männlich", "male"),
        ("W", "weiblich", "female"),
        ("D", "divers", "diverse"),
        ("X", "unbestimmt", "indeterminate"),
        ("U", "unbekannt", "unknown"),
    ]
);

list!(
    INSURANCE_TYPE,
    "insurance_type",
    Some("Versichertenart"),
    [
        ("1", "Mitglied", "member"),
        ("3", "Familienversicherter", "family member"),
        ("5", "Rentner", "pensioner"),
        ("P", "privat versichert", "private"),
        ("S", "Selbstzahler", "self-payer"),
        ("99", "unbekannt", "unknown"),
    ]
);

list!(
    ID_SOURCE,
    "id_source",
    None,
    [
        ("01", "eGK", "eGK card"),
        ("02", "KVK", "KVK card"),
        ("03", "Ausweis", "ID document"),
        ("04", "Angabe Patient", "patient statement"),
        ("05", "Angabe Dritter", "third party"),
        ("06", "Ersatzverfahren", "substitute procedure"),
        ("99", "unbekannt", "unknown"),
    ]
);

list!(
    ARREST_WITNESS,
    "arrest_witness",
    None,
    [
        ("00", "nicht dokumentiert", "not documented"),
        ("01", "nicht beobachtet", "unwitnessed"),
        ("02", "Laie beobachtet", "witnessed by bystander"),
        ("03", "RD beobachtet", "witnessed by EMS"),
    ]
);

list!(
    YES_NO_UNKNOWN,
    "yes_no_unknown",
    None,
    [
        ("00", "nicht dokumentiert", "not documented"),
        ("01", "ja", "yes"),
        ("02", "nein", "no"),
        ("99", "unbekannt", "unknown"),
    ]
);

list!(
    GCS_EYES,
    "gcs_eyes",
    Some("GCS Augen"),
    [
        ("4", "spontan", "spontaneous"),
        ("3", "auf Ansprache", "to voice"),
        ("2", "auf Schmerzreiz", "to pain"),
        ("1", "keine", "none"),
    ]
);
list!(
    GCS_VERBAL,
    "gcs_verbal",
    Some("GCS verbal"),
    [
        ("5", "orientiert", "oriented"),
        ("4", "verwirrt", "confused"),
        ("3", "inadäquate Worte", "inappropriate words"),
        ("2", "unverständliche Laute", "incomprehensible sounds"),
        ("1", "keine", "none"),
    ]
);
list!(
    GCS_MOTOR,
    "gcs_motor",
    Some("GCS Motorik"),
    [
        ("6", "befolgt Aufforderung", "obeys commands"),
        ("5", "gezielte Abwehr", "localises pain"),
        ("4", "ungezielte Abwehr", "withdraws"),
        ("3", "Beugesynergismen", "flexion"),
        ("2", "Strecksynergismen", "extension"),
        ("1", "keine", "none"),
    ]
);
list!(
    GCS_QUALIFIER,
    "gcs_qualifier",
    None,
    [
        ("01", "intubiert", "intubated"),
        ("02", "sediert", "sedated"),
        ("03", "nicht beurteilbar", "not assessable"),
    ]
);
list!(
    AVPU,
    "avpu",
    None,
    [
        ("A", "wach", "alert"),
        ("V", "reagiert auf Ansprache", "voice"),
        ("P", "reagiert auf Schmerz", "pain"),
        ("U", "reaktionslos", "unresponsive"),
    ]
);
list!(
    PUPIL_SIZE,
    "pupil_size",
    None,
    [
        ("01", "eng", "narrow"),
        ("02", "mittel", "medium"),
        ("03", "weit", "wide"),
        ("99", "nicht beurteilbar", "not assessable"),
    ]
);
list!(
    PUPIL_SHAPE,
    "pupil_shape",
    None,
    [("01", "rund", "round"), ("02", "entrundet", "irregular")]
);
list!(
    PUPIL_REACTION,
    "pupil_reaction",
    None,
    [
        ("01", "prompt", "brisk"),
        ("02", "träge", "sluggish"),
        ("03", "keine", "none"),
    ]
);
list!(
    PSYCH,
    "psych",
    Some("Psychischer Zustand"),
    [
        ("01", "unauffällig", "normal"),
        ("02", "aggressiv", "aggressive"),
        ("03", "depressiv", "depressed"),
        ("04", "wahnhaft", "delusional"),
        ("05", "verwirrt", "confused"),
        ("06", "verlangsamt", "slowed"),
        ("07", "euphorisch", "euphoric"),
        ("08", "nicht beurteilbar", "not assessable"),
        ("98", "Sonstige", "other"),
    ]
);
list!(
    AIRWAY,
    "airway",
    None,
    [
        ("01", "frei", "clear"),
        ("02", "verlegt", "obstructed"),
        ("03", "gefährdet", "at risk")
    ]
);
list!(
    BREATHING,
    "breathing",
    None,
    [
        ("01", "unauffällig", "normal"),
        ("02", "Dyspnoe", "dyspnoea"),
        ("03", "Zyanose", "cyanosis"),
        ("04", "Stridor", "stridor"),
        ("05", "Spastik", "wheeze"),
        ("06", "Rasselgeräusche", "rales"),
        ("07", "Schnappatmung", "gasping"),
        ("08", "Apnoe", "apnoea"),
        ("09", "beatmet", "ventilated"),
        ("98", "Sonstige", "other"),
    ]
);
list!(
    PULSE_QUALITY,
    "pulse_quality",
    None,
    [
        ("01", "regelmäßig", "regular"),
        ("02", "arrhythmisch", "irregular"),
        ("03", "kräftig", "strong"),
        ("04", "schwach", "weak"),
        ("05", "nicht tastbar", "not palpable"),
    ]
);
list!(
    SKIN,
    "skin",
    None,
    [
        ("01", "unauffällig", "normal"),
        ("02", "blass", "pale"),
        ("03", "kaltschweißig", "cold sweat"),
        ("04", "zyanotisch", "cyanotic"),
        ("05", "marmoriert", "mottled"),
        ("06", "gerötet", "flushed"),
        ("07", "exsikkiert", "dehydrated"),
        ("98", "Sonstige", "other"),
    ]
);
list!(
    ECG_RHYTHM,
    "ecg_rhythm",
    None,
    [
        ("01", "Sinusrhythmus", "sinus rhythm"),
        ("02", "absolute Arrhythmie / VHF", "atrial fibrillation"),
        ("03", "SVT", "SVT"),
        ("04", "Sinusbradykardie", "sinus bradycardia"),
        ("05", "AV-Block I°", "AV block 1st degree"),
        ("06", "AV-Block II°", "AV block 2nd degree"),
        ("07", "AV-Block III°", "AV block 3rd degree"),
        ("08", "Schrittmacherrhythmus", "paced rhythm"),
        ("09", "ventrikuläre Tachykardie", "ventricular tachycardia"),
        ("10", "Kammerflimmern", "ventricular fibrillation"),
        ("11", "PEA", "PEA"),
        ("12", "Asystolie", "asystole"),
        ("13", "Sinustachykardie", "sinus tachycardia"),
        ("98", "Sonstige", "other"),
    ]
);
list!(
    STEMI_SITE,
    "stemi_site",
    None,
    [
        ("01", "Vorderwand", "anterior"),
        ("02", "Hinterwand", "inferior"),
        ("03", "Seitenwand", "lateral"),
        ("04", "Posterior", "posterior"),
        ("05", "Rechtsventrikulär", "right ventricular"),
    ]
);
list!(
    BUNDLE_BRANCH_BLOCK,
    "bundle_branch_block",
    None,
    [
        ("01", "keiner", "none"),
        ("02", "Linksschenkelblock", "LBBB"),
        ("03", "Rechtsschenkelblock", "RBBB"),
    ]
);
list!(
    INJURY_REGION,
    "injury_region",
    None,
    [
        ("01", "Schädel-Hirn", "head/brain"),
        ("02", "Gesicht", "face"),
        ("03", "HWS", "cervical spine"),
        ("04", "Thorax", "chest"),
        ("05", "Abdomen", "abdomen"),
        ("06", "BWS/LWS", "thoracic/lumbar spine"),
        ("07", "Becken", "pelvis"),
        ("08", "obere Extremitäten", "upper limbs"),
        ("09", "untere Extremitäten", "lower limbs"),
        ("10", "Weichteile", "soft tissue"),
    ]
);
list!(
    INJURY_SEVERITY,
    "injury_severity",
    None,
    [
        ("0", "keine", "none"),
        ("1", "leicht", "minor"),
        ("2", "mittel", "moderate"),
        ("3", "schwer", "severe"),
    ]
);
list!(
    BURN_DEGREE,
    "burn_degree",
    None,
    [
        ("1", "Grad I", "1st"),
        ("2", "Grad IIa", "2a"),
        ("3", "Grad IIb", "2b"),
        ("4", "Grad III", "3rd"),
        ("5", "Grad IV", "4th")
    ]
);
list!(
    INJURY_MECHANISM,
    "injury_mechanism",
    None,
    [
        ("01", "Verkehr PKW/LKW", "road: car/truck"),
        ("02", "Verkehr Krad", "road: motorcycle"),
        ("03", "Verkehr Fahrrad", "road: bicycle"),
        ("04", "Verkehr Fußgänger", "road: pedestrian"),
        ("05", "Sturz < 3 m", "fall < 3 m"),
        ("06", "Sturz > 3 m", "fall > 3 m"),
        ("07", "Stich", "stab"),
        ("08", "Schuss", "gunshot"),
        ("09", "Einklemmung", "entrapment"),
        ("10", "Ertrinken", "drowning"),
        ("11", "Verbrennung/Verbrühung", "burn/scald"),
        ("12", "Stromunfall", "electrical"),
        ("98", "Sonstige", "other"),
    ]
);
list!(
    DISEASE_GROUP,
    "disease_group",
    None,
    [
        ("01", "ZNS", "CNS"),
        ("02", "Herz-Kreislauf", "cardiovascular"),
        ("03", "Atmung", "respiratory"),
        ("04", "Abdomen", "abdomen"),
        ("05", "Psychiatrie", "psychiatric"),
        ("06", "Intoxikation", "intoxication"),
        ("07", "Stoffwechsel", "metabolic"),
        ("08", "Pädiatrie", "paediatric"),
        ("09", "Gynäkologie/Geburtshilfe", "gynaecology/obstetrics"),
        ("98", "Sonstiges", "other"),
    ]
);
list!(
    DIAGNOSIS_KIND,
    "diagnosis_kind",
    None,
    [
        ("01", "Verdachtsdiagnose", "suspected"),
        ("02", "Arbeitsdiagnose", "working")
    ]
);
list!(
    TRACER,
    "tracer",
    Some("Tracerdiagnose"),
    [
        ("01", "ACS/STEMI", "ACS/STEMI"),
        ("02", "Schlaganfall", "stroke"),
        ("03", "Polytrauma", "major trauma"),
        ("04", "SHT", "traumatic brain injury"),
        ("05", "Reanimation", "cardiac arrest"),
        ("06", "Sepsis", "sepsis"),
    ]
);
list!(
    NACA,
    "naca",
    Some("NACA"),
    [
        (
            "0",
            "0 – keine Verletzung/Erkrankung",
            "0 - no injury/disease"
        ),
        ("1", "I – geringfügig", "I - minor"),
        ("2", "II – leicht, ambulant", "II - slight, outpatient"),
        (
            "3",
            "III – mittelschwer, stationär",
            "III - moderate, inpatient"
        ),
        (
            "4",
            "IV – schwer, Lebensgefahr nicht auszuschließen",
            "IV - severe, danger to life possible"
        ),
        ("5", "V – akute Lebensgefahr", "V - acute danger to life"),
        ("6", "VI – Reanimation", "VI - resuscitation"),
        ("7", "VII – Tod", "VII - death"),
    ]
);
list!(
    MEASURE,
    "measure",
    None,
    [
        ("01", "periphervenöser Zugang", "peripheral IV"),
        ("02", "intraossärer Zugang", "intraosseous access"),
        ("03", "Atemwege freimachen", "airway clearing"),
        ("04", "Absaugen", "suction"),
        ("05", "Guedel/Wendl", "OPA/NPA"),
        ("06", "supraglottische Atemwegshilfe", "supraglottic airway"),
        ("07", "endotracheale Intubation", "endotracheal intubation"),
        ("08", "Koniotomie", "cricothyrotomy"),
        ("09", "Beutel-Masken-Beatmung", "bag-mask ventilation"),
        ("10", "NIV/CPAP", "NIV/CPAP"),
        ("11", "maschinelle Beatmung", "mechanical ventilation"),
        ("12", "Sauerstoffgabe", "oxygen"),
        ("13", "Herzdruckmassage", "chest compressions"),
        ("14", "Defibrillation", "defibrillation"),
        ("15", "Kardioversion", "cardioversion"),
        ("16", "externer Schrittmacher", "external pacing"),
        ("17", "12-Kanal-EKG", "12-lead ECG"),
        ("18", "Thoraxentlastung", "chest decompression"),
        ("19", "Tourniquet", "tourniquet"),
        ("20", "Beckenschlinge", "pelvic binder"),
        ("21", "HWS-Immobilisation", "c-spine immobilisation"),
        ("22", "Vakuummatratze", "vacuum mattress"),
        ("23", "Schienung", "splinting"),
        ("24", "Wundversorgung", "wound care"),
        ("25", "Lagerung", "positioning"),
        ("26", "Geburt", "delivery"),
        ("27", "Blutzuckermessung", "glucose measurement"),
        ("98", "Sonstige", "other"),
    ]
);
list!(
    MEASURE_RESULT,
    "measure_result",
    None,
    [
        ("01", "erfolgreich", "successful"),
        ("02", "nicht erfolgreich", "unsuccessful")
    ]
);
list!(
    DOSE_UNIT,
    "dose_unit",
    None,
    [
        ("mg", "mg", "mg"),
        ("ug", "µg", "µg"),
        ("g", "g", "g"),
        ("ml", "ml", "ml"),
        ("IE", "IE", "IU"),
        ("mmol", "mmol", "mmol"),
        ("l/min", "l/min", "l/min"),
        ("Hub", "Hub", "puff"),
    ]
);
list!(
    ROUTE,
    "route",
    None,
    [
        ("iv", "i.v.", "intravenous"),
        ("io", "i.o.", "intraosseous"),
        ("im", "i.m.", "intramuscular"),
        ("sc", "s.c.", "subcutaneous"),
        ("po", "p.o.", "oral"),
        ("sl", "s.l.", "sublingual"),
        ("buc", "bukkal", "buccal"),
        ("in", "nasal (i.n.)", "intranasal"),
        ("rect", "rektal", "rectal"),
        ("inh", "inhalativ", "inhaled"),
        ("et", "endotracheal", "endotracheal"),
        ("td", "transdermal", "transdermal"),
    ]
);
list!(
    ORDERED_BY,
    "ordered_by",
    None,
    [
        ("01", "Notarzt", "emergency physician"),
        ("02", "Notfallsanitäter §2a NotSanG", "paramedic §2a"),
        ("03", "Telenotarzt", "tele-emergency physician"),
        (
            "04",
            "Notfallsanitäter SOP (§4 Abs. 2 Nr. 2c)",
            "paramedic SOP"
        ),
    ]
);
list!(
    DEPARTMENT,
    "department",
    None,
    [
        ("01", "ZNA", "emergency department"),
        ("02", "Schockraum", "resuscitation room"),
        ("03", "Stroke Unit", "stroke unit"),
        ("04", "Herzkatheterlabor", "cath lab"),
        ("05", "Intensivstation", "ICU"),
        ("06", "Kreißsaal", "delivery room"),
        ("98", "Sonstige", "other"),
    ]
);
list!(
    CONDITION_CHANGE,
    "condition_change",
    None,
    [
        ("01", "verbessert", "improved"),
        ("02", "unverändert", "unchanged"),
        ("03", "verschlechtert", "worsened"),
    ]
);
list!(
    OUTCOME,
    "outcome",
    Some("Rettungsdienstliche Versorgung"),
    [
        ("00", "nicht dokumentiert", "not documented"),
        ("01", "ambulante Versorgung vor Ort", "treated on scene"),
        ("02", "Transport ohne NA", "transport without doctor"),
        (
            "03",
            "Transport mit NA (boden)",
            "transport with doctor (ground)"
        ),
        (
            "04",
            "Transport mit NA (RTH)",
            "transport with doctor (air)"
        ),
        (
            "05",
            "Übergabe an anderes Rettungsmittel",
            "handed to other unit"
        ),
        (
            "06",
            "Fehleinsatz – kein Patient",
            "false mission - no patient"
        ),
        (
            "07",
            "Patient nicht transportfähig",
            "patient not transportable"
        ),
        ("08", "Tod an der Einsatzstelle", "death on scene"),
        ("09", "Transportverweigerung", "refused transport"),
        ("98", "Sonstige", "other"),
    ]
);

/// Outcome codes that mean the patient was transported to a hospital.
pub const OUTCOME_TRANSPORTED: &[&str] = &["02", "03", "04"];
/// Outcome code for "Fehleinsatz – kein Patient".
pub const OUTCOME_NO_PATIENT: &str = "06";

/// Every list, for export and for tests that check the lists are well formed.
pub static ALL: &[&CodeList] = &[
    &RESCUE_UNIT_TYPE,
    &FIRST_ON_SCENE,
    &SCENE_TYPE,
    &MISSION_TYPE,
    &FALSE_MISSION,
    &QUALIFICATION,
    &DOCTOR_SPECIALTY,
    &SEX,
    &INSURANCE_TYPE,
    &ID_SOURCE,
    &ARREST_WITNESS,
    &YES_NO_UNKNOWN,
    &GCS_EYES,
    &GCS_VERBAL,
    &GCS_MOTOR,
    &GCS_QUALIFIER,
    &AVPU,
    &PUPIL_SIZE,
    &PUPIL_SHAPE,
    &PUPIL_REACTION,
    &PSYCH,
    &AIRWAY,
    &BREATHING,
    &PULSE_QUALITY,
    &SKIN,
    &ECG_RHYTHM,
    &STEMI_SITE,
    &BUNDLE_BRANCH_BLOCK,
    &INJURY_REGION,
    &INJURY_SEVERITY,
    &BURN_DEGREE,
    &INJURY_MECHANISM,
    &DISEASE_GROUP,
    &DIAGNOSIS_KIND,
    &TRACER,
    &NACA,
    &MEASURE,
    &MEASURE_RESULT,
    &DOSE_UNIT,
    &ROUTE,
    &ORDERED_BY,
    &DEPARTMENT,
    &CONDITION_CHANGE,
    &OUTCOME,
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn lists_are_well_formed() {
        let mut ids = HashSet::new();
        for l in ALL {
            assert!(ids.insert(l.id), "duplicate list id {}", l.id);
            assert!(!l.codes.is_empty(), "{} is empty", l.id);
            let mut seen = HashSet::new();
            for c in l.codes {
                assert!(seen.insert(c.code), "{}: duplicate code {}", l.id, c.code);
                assert!(
                    !c.de.is_empty() && !c.en.is_empty(),
                    "{}: missing label",
                    l.id
                );
            }
        }
    }

    #[test]
    fn mind_reserved_codes_keep_their_meaning() {
        for l in ALL {
            if let Some(c) = l.get(NOT_DOCUMENTED) {
                assert_eq!(c.de, "nicht dokumentiert", "{}", l.id);
            }
            if let Some(c) = l.get(OTHER) {
                assert!(c.de.starts_with("Sonstig"), "{}", l.id);
            }
        }
        assert_eq!(
            OUTCOME.get(OUTCOME_NO_PATIENT).map(|c| c.de),
            Some("Fehleinsatz – kein Patient")
        );
    }
}
