//! One-tap presets: common medications and measures, and suggestion lists.
//! Data, so that a service provider can adapt them without code changes.

use rettpad_record::keys;
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
            (keys::med::SUBSTANCE, Text("Acetylsalicylsäure (ASS)")),
            (keys::med::DOSE, Number(250)),
            (keys::med::UNIT, Code("mg")),
            (keys::med::ROUTE, Code("iv")),
        ],
    },
    Preset {
        collection: Collection::Medication,
        de: "Heparin 5000 IE i.v.",
        en: "Heparin 5000 IU IV",
        fields: &[
            (keys::med::SUBSTANCE, Text("Heparin")),
            (keys::med::DOSE, Number(5000)),
            (keys::med::UNIT, Code("IE")),
            (keys::med::ROUTE, Code("iv")),
        ],
    },
    Preset {
        collection: Collection::Medication,
        de: "O₂ 6 l/min",
        en: "O₂ 6 l/min",
        fields: &[
            (keys::med::SUBSTANCE, Text("Sauerstoff")),
            (keys::med::DOSE, Number(6)),
            (keys::med::UNIT, Code("l/min")),
            (keys::med::ROUTE, Code("inh")),
        ],
    },
    Preset {
        collection: Collection::Measure,
        de: "i.v.-Zugang",
        en: "IV access",
        fields: &[(keys::measure::KIND, Code("01"))],
    },
    Preset {
        collection: Collection::Measure,
        de: "12-Kanal-EKG",
        en: "12-lead ECG",
        fields: &[(keys::measure::KIND, Code("17"))],
    },
    Preset {
        collection: Collection::Measure,
        de: "Monitoring/BZ",
        en: "Glucose check",
        fields: &[(keys::measure::KIND, Code("27"))],
    },
    Preset {
        collection: Collection::Finding,
        de: "GCS 15",
        en: "GCS 15",
        fields: &[
            (keys::finding::GCS_EYES, Code("4")),
            (keys::finding::GCS_VERBAL, Code("5")),
            (keys::finding::GCS_MOTOR, Code("6")),
        ],
    },
];

impl Preset {
    pub fn owned_fields(&self) -> Vec<(String, Value)> {
        self.fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.value()))
            .collect()
    }
}

/// A preset as the editor shows it: built in, or from the provisioned
/// catalog, which then replaces the built-in ones as a whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub de: String,
    pub en: String,
    pub fields: Vec<(String, Value)>,
}

pub fn items(
    c: Collection,
    provisioned: Option<&[rettpad_pad::fleet::CatalogPreset]>,
) -> Vec<Item> {
    match provisioned {
        Some(list) => list
            .iter()
            .filter(|p| p.collection == c)
            .map(|p| Item {
                de: p.de.clone(),
                en: p.en.clone(),
                fields: p.fields.clone(),
            })
            .collect(),
        None => presets_for(c)
            .map(|p| Item {
                de: p.de.into(),
                en: p.en.into(),
                fields: p.owned_fields(),
            })
            .collect(),
    }
}

pub fn presets_for(c: Collection) -> impl Iterator<Item = &'static Preset> {
    PRESETS.iter().filter(move |p| p.collection == c)
}

pub use rettpad_record::catalog::entry_time_field as time_field;

/// Order in which the keypad's "Weiter" walks a vital set.
pub const VITALS_KEYPAD_ORDER: &[&str] = &[
    keys::vitals::BP_SYS,
    keys::vitals::BP_DIA,
    keys::vitals::HR,
    keys::vitals::SPO2,
    keys::vitals::RR,
    keys::vitals::GLUCOSE,
    keys::vitals::ETCO2,
    keys::vitals::TEMP,
];

/// Text fields that offer suggestion tiles.
pub fn suggestions(key: &str, hospitals: &[String]) -> Vec<String> {
    match key {
        keys::transport::HOSPITAL => hospitals.to_vec(),
        _ => Vec::new(),
    }
}
