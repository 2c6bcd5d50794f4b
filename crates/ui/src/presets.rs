//! One-tap presets: common medications and measures, and suggestion lists.
//! Data, so that a service provider can adapt them without code changes.

use rettpad_record::{Collection, Num, Value};

pub struct Preset {
    pub collection: Collection,
    pub de: &'static str,
    pub en: &'static str,
    pub fields: &'static [(&'static str, PresetValue)],
}

#[derive(Clone, Copy)]
pub enum PresetValue {
    Text(&'static str),
    Code(&'static str),
    Number(i64),
}

impl PresetValue {
    pub fn value(self) -> Value {
        match self {
            PresetValue::Text(t) => Value::text(t),
            PresetValue::Code(c) => Value::code(c),
            PresetValue::Number(n) => Value::Num(Num::int(n)),
        }
    }
}

use PresetValue::*;

pub static PRESETS: &[Preset] = &[
    Preset {
        collection: Collection::Medication,
        de: "ASS 250 mg i.v.",
        en: "ASA 250 mg IV",
        fields: &[
            ("med.substance", Text("Acetylsalicylsäure (ASS)")),
            ("med.dose", Number(250)),
            ("med.unit", Code("mg")),
            ("med.route", Code("iv")),
        ],
    },
    Preset {
        collection: Collection::Medication,
        de: "Heparin 5000 IE i.v.",
        en: "Heparin 5000 IU IV",
        fields: &[
            ("med.substance", Text("Heparin")),
            ("med.dose", Number(5000)),
            ("med.unit", Code("IE")),
            ("med.route", Code("iv")),
        ],
    },
    Preset {
        collection: Collection::Medication,
        de: "O₂ 6 l/min",
        en: "O₂ 6 l/min",
        fields: &[
            ("med.substance", Text("Sauerstoff")),
            ("med.dose", Number(6)),
            ("med.unit", Code("l/min")),
            ("med.route", Code("inh")),
        ],
    },
    Preset {
        collection: Collection::Measure,
        de: "i.v.-Zugang",
        en: "IV access",
        fields: &[("measure.kind", Code("01"))],
    },
    Preset {
        collection: Collection::Measure,
        de: "12-Kanal-EKG",
        en: "12-lead ECG",
        fields: &[("measure.kind", Code("17"))],
    },
    Preset {
        collection: Collection::Measure,
        de: "Monitoring/BZ",
        en: "Glucose check",
        fields: &[("measure.kind", Code("27"))],
    },
    Preset {
        collection: Collection::Finding,
        de: "GCS 15",
        en: "GCS 15",
        fields: &[
            ("finding.gcs_eyes", Code("4")),
            ("finding.gcs_verbal", Code("5")),
            ("finding.gcs_motor", Code("6")),
        ],
    },
];

pub fn presets_for(c: Collection) -> impl Iterator<Item = &'static Preset> {
    PRESETS.iter().filter(move |p| p.collection == c)
}

pub use rettpad_record::catalog::entry_time_field as time_field;

/// Order in which the keypad's "Weiter" walks a vital set.
pub const VITALS_KEYPAD_ORDER: &[&str] = &[
    "vitals.bp_sys",
    "vitals.bp_dia",
    "vitals.hr",
    "vitals.spo2",
    "vitals.rr",
    "vitals.glucose",
    "vitals.etco2",
    "vitals.temp",
];

/// Text fields that offer suggestion tiles.
pub fn suggestions(key: &str, hospitals: &[String]) -> Vec<String> {
    match key {
        "transport.hospital" => hospitals.to_vec(),
        _ => Vec::new(),
    }
}
