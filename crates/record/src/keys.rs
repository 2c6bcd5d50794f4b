//! Every field key of the catalog as a named constant, so code outside
//! `record` never spells a key as a string: a typo is a compile error,
//! and `cargo xtask deps --test` refuses a key literal anywhere else.

/// A field key (`"section.name"`) as it appears in events and exports.
pub type FieldKey = &'static str;

pub mod mission {
    use super::FieldKey;
    pub const NUMBER: FieldKey = "mission.number";
    pub const DISPATCH_CENTER: FieldKey = "mission.dispatch_center";
    pub const CALL_SIGN: FieldKey = "mission.call_sign";
    pub const STATION: FieldKey = "mission.station";
    pub const UNIT_TYPE: FieldKey = "mission.unit_type";
    pub const FIRST_ON_SCENE: FieldKey = "mission.first_on_scene";
    pub const TYPE: FieldKey = "mission.type";
    pub const KEYWORD: FieldKey = "mission.keyword";
    pub const SCENE_TYPE: FieldKey = "mission.scene_type";
    pub const ADDRESS_STREET: FieldKey = "mission.address.street";
    pub const ADDRESS_POSTCODE: FieldKey = "mission.address.postcode";
    pub const ADDRESS_CITY: FieldKey = "mission.address.city";
    pub const GPS_LAT: FieldKey = "mission.gps.lat";
    pub const GPS_LON: FieldKey = "mission.gps.lon";
    pub const DOCTOR_REQUESTED: FieldKey = "mission.doctor_requested";
    pub const FOLLOW_UP: FieldKey = "mission.follow_up";
    pub const FALSE_MISSION: FieldKey = "mission.false_mission";
    pub const DOCTOR_SPECIALTY: FieldKey = "mission.doctor_specialty";
    pub const ALARM_TEXT: FieldKey = "mission.alarm_text";
    pub const ADDRESS_OBJECT: FieldKey = "mission.address.object";
    pub const CANCELLED_AT: FieldKey = "mission.cancelled_at";
}

pub mod time {
    use super::FieldKey;
    pub const ALARM: FieldKey = "time.alarm";
    pub const DEPARTURE: FieldKey = "time.departure";
    pub const AT_SCENE: FieldKey = "time.at_scene";
    pub const PATIENT_CONTACT: FieldKey = "time.patient_contact";
    pub const LEFT_SCENE: FieldKey = "time.left_scene";
    pub const AT_DESTINATION: FieldKey = "time.at_destination";
    pub const HANDOVER: FieldKey = "time.handover";
    pub const AVAILABLE: FieldKey = "time.available";
    pub const END: FieldKey = "time.end";
    pub const DOCTOR_REQUESTED: FieldKey = "time.doctor_requested";
}

pub mod patient {
    use super::FieldKey;
    pub const UNKNOWN: FieldKey = "patient.unknown";
    pub const FAMILY_NAME: FieldKey = "patient.family_name";
    pub const GIVEN_NAME: FieldKey = "patient.given_name";
    pub const TITLE: FieldKey = "patient.title";
    pub const BIRTH_DATE: FieldKey = "patient.birth_date";
    pub const AGE_YEARS: FieldKey = "patient.age_years";
    pub const SEX: FieldKey = "patient.sex";
    pub const ADDRESS_STREET: FieldKey = "patient.address.street";
    pub const ADDRESS_EXTRA: FieldKey = "patient.address.extra";
    pub const ADDRESS_POSTCODE: FieldKey = "patient.address.postcode";
    pub const ADDRESS_CITY: FieldKey = "patient.address.city";
    pub const ADDRESS_COUNTRY: FieldKey = "patient.address.country";
    pub const ID_SOURCE: FieldKey = "patient.id_source";
    pub const WEIGHT_KG: FieldKey = "patient.weight_kg";
    pub const HEIGHT_CM: FieldKey = "patient.height_cm";
}

pub mod insurance {
    use super::FieldKey;
    pub const INSURER_NAME: FieldKey = "insurance.insurer_name";
    pub const INSURER_IK: FieldKey = "insurance.insurer_ik";
    pub const NUMBER: FieldKey = "insurance.number";
    pub const TYPE: FieldKey = "insurance.type";
    pub const VALID_UNTIL: FieldKey = "insurance.valid_until";
    pub const CARD_READ_AT: FieldKey = "insurance.card_read_at";
}

pub mod history {
    use super::FieldKey;
    pub const EVENT: FieldKey = "history.event";
    pub const SYMPTOM_ONSET: FieldKey = "history.symptom_onset";
    pub const PREVIOUS_ILLNESSES: FieldKey = "history.previous_illnesses";
    pub const HOME_MEDICATION: FieldKey = "history.home_medication";
    pub const ALLERGIES: FieldKey = "history.allergies";
    pub const PRETREATMENT: FieldKey = "history.pretreatment";
    pub const ARREST: FieldKey = "history.arrest";
    pub const ARREST_WITNESSED: FieldKey = "history.arrest_witnessed";
    pub const COLLAPSE_TIME: FieldKey = "history.collapse_time";
    pub const BYSTANDER_CPR: FieldKey = "history.bystander_cpr";
    pub const AED_USED: FieldKey = "history.aed_used";
    pub const CPR_START: FieldKey = "history.cpr_start";
    pub const ROSC: FieldKey = "history.rosc";
    pub const PREGNANCY: FieldKey = "history.pregnancy";
    pub const INFECTION: FieldKey = "history.infection";
    pub const ADVANCE_DIRECTIVE: FieldKey = "history.advance_directive";
    pub const INJURY_MECHANISM: FieldKey = "history.injury_mechanism";
}

pub mod finding {
    use super::FieldKey;
    pub const AT: FieldKey = "finding.at";
    pub const GCS_EYES: FieldKey = "finding.gcs_eyes";
    pub const GCS_VERBAL: FieldKey = "finding.gcs_verbal";
    pub const GCS_MOTOR: FieldKey = "finding.gcs_motor";
    pub const PAIN_NRS: FieldKey = "finding.pain_nrs";
    pub const GCS_QUALIFIER: FieldKey = "finding.gcs_qualifier";
    pub const GCS_PAEDIATRIC: FieldKey = "finding.gcs_paediatric";
    pub const AVPU: FieldKey = "finding.avpu";
    pub const PUPIL_LEFT_SIZE: FieldKey = "finding.pupil_left_size";
    pub const PUPIL_LEFT_SHAPE: FieldKey = "finding.pupil_left_shape";
    pub const PUPIL_LEFT_REACTION: FieldKey = "finding.pupil_left_reaction";
    pub const PUPIL_RIGHT_SIZE: FieldKey = "finding.pupil_right_size";
    pub const PUPIL_RIGHT_SHAPE: FieldKey = "finding.pupil_right_shape";
    pub const PUPIL_RIGHT_REACTION: FieldKey = "finding.pupil_right_reaction";
    pub const PSYCH: FieldKey = "finding.psych";
    pub const AIRWAY: FieldKey = "finding.airway";
    pub const BREATHING: FieldKey = "finding.breathing";
    pub const PULSE_QUALITY: FieldKey = "finding.pulse_quality";
    pub const SKIN: FieldKey = "finding.skin";
    pub const FAST_FACE: FieldKey = "finding.fast_face";
    pub const FAST_ARM: FieldKey = "finding.fast_arm";
    pub const FAST_SPEECH: FieldKey = "finding.fast_speech";
    pub const MENINGISM: FieldKey = "finding.meningism";
    pub const NOTE: FieldKey = "finding.note";
}

pub mod vitals {
    use super::FieldKey;
    pub const AT: FieldKey = "vitals.at";
    pub const BP_SYS: FieldKey = "vitals.bp_sys";
    pub const BP_DIA: FieldKey = "vitals.bp_dia";
    pub const HR: FieldKey = "vitals.hr";
    pub const SPO2: FieldKey = "vitals.spo2";
    pub const RR: FieldKey = "vitals.rr";
    pub const ETCO2: FieldKey = "vitals.etco2";
    pub const GLUCOSE: FieldKey = "vitals.glucose";
    pub const TEMP: FieldKey = "vitals.temp";
}

pub mod ecg {
    use super::FieldKey;
    pub const AT: FieldKey = "ecg.at";
    pub const RHYTHM: FieldKey = "ecg.rhythm";
    pub const TWELVE_LEAD: FieldKey = "ecg.twelve_lead";
    pub const STEMI: FieldKey = "ecg.stemi";
    pub const STEMI_SITE: FieldKey = "ecg.stemi_site";
    pub const BUNDLE_BRANCH_BLOCK: FieldKey = "ecg.bundle_branch_block";
    pub const DEVICE_RECORD: FieldKey = "ecg.device_record";
    pub const NOTE: FieldKey = "ecg.note";
}

pub mod injury {
    use super::FieldKey;
    pub const REGION: FieldKey = "injury.region";
    pub const SEVERITY: FieldKey = "injury.severity";
    pub const OPEN: FieldKey = "injury.open";
    pub const BURN_DEGREE: FieldKey = "injury.burn_degree";
    pub const BURN_TBSA: FieldKey = "injury.burn_tbsa";
    pub const NOTE: FieldKey = "injury.note";
}

pub mod diagnosis {
    use super::FieldKey;
    pub const GROUP: FieldKey = "diagnosis.group";
    pub const TEXT: FieldKey = "diagnosis.text";
    pub const ICD10: FieldKey = "diagnosis.icd10";
    pub const KIND: FieldKey = "diagnosis.kind";
    pub const TRACER: FieldKey = "diagnosis.tracer";
}

pub mod naca {
    use super::FieldKey;
    pub const SCORE: FieldKey = "naca.score";
}

pub mod measure {
    use super::FieldKey;
    pub const KIND: FieldKey = "measure.kind";
    pub const AT: FieldKey = "measure.at";
    pub const PERFORMER: FieldKey = "measure.performer";
    pub const DETAIL: FieldKey = "measure.detail";
    pub const ATTEMPTS: FieldKey = "measure.attempts";
    pub const RESULT: FieldKey = "measure.result";
    pub const ENERGY_J: FieldKey = "measure.energy_j";
}

pub mod med {
    use super::FieldKey;
    pub const SUBSTANCE: FieldKey = "med.substance";
    pub const PRODUCT: FieldKey = "med.product";
    pub const DOSE: FieldKey = "med.dose";
    pub const UNIT: FieldKey = "med.unit";
    pub const ROUTE: FieldKey = "med.route";
    pub const AT: FieldKey = "med.at";
    pub const UNTIL: FieldKey = "med.until";
    pub const REASON: FieldKey = "med.reason";
    pub const GIVEN_BY: FieldKey = "med.given_by";
    pub const ORDERED_BY: FieldKey = "med.ordered_by";
    pub const CONTROLLED: FieldKey = "med.controlled";
    pub const BATCH: FieldKey = "med.batch";
}

pub mod transport {
    use super::FieldKey;
    pub const DONE: FieldKey = "transport.done";
    pub const WITH_DOCTOR: FieldKey = "transport.with_doctor";
    pub const EMERGENCY_LIGHTS: FieldKey = "transport.emergency_lights";
    pub const POSITIONING: FieldKey = "transport.positioning";
    pub const HOSPITAL: FieldKey = "transport.hospital";
    pub const HOSPITAL_ID: FieldKey = "transport.hospital_id";
    pub const DEPARTMENT: FieldKey = "transport.department";
    pub const PZC: FieldKey = "transport.pzc";
    pub const PRENOTIFIED_AT: FieldKey = "transport.prenotified_at";
    pub const ETA_MIN: FieldKey = "transport.eta_min";
}

pub mod handover {
    use super::FieldKey;
    pub const TO: FieldKey = "handover.to";
    pub const CONDITION: FieldKey = "handover.condition";
    pub const VALUABLES: FieldKey = "handover.valuables";
    pub const REFUSAL_INFORMED: FieldKey = "handover.refusal_informed";
}

pub mod outcome {
    use super::FieldKey;
    pub const RESULT: FieldKey = "outcome.result";
    pub const DEATH_TIME: FieldKey = "outcome.death_time";
}

pub mod remarks {
    use super::FieldKey;
    pub const TEXT: FieldKey = "remarks.text";
    pub const INFECTION_PROTECTION: FieldKey = "remarks.infection_protection";
    pub const DISINFECTION: FieldKey = "remarks.disinfection";
    pub const VIOLENCE: FieldKey = "remarks.violence";
    pub const VIOLENCE_NOTE: FieldKey = "remarks.violence_note";
}

/// Every key above, in catalog order.
pub const ALL: &[FieldKey] = &[
    mission::NUMBER,
    mission::DISPATCH_CENTER,
    mission::CALL_SIGN,
    mission::STATION,
    mission::UNIT_TYPE,
    mission::FIRST_ON_SCENE,
    mission::TYPE,
    mission::KEYWORD,
    mission::SCENE_TYPE,
    mission::ADDRESS_STREET,
    mission::ADDRESS_POSTCODE,
    mission::ADDRESS_CITY,
    mission::GPS_LAT,
    mission::GPS_LON,
    mission::DOCTOR_REQUESTED,
    mission::FOLLOW_UP,
    mission::FALSE_MISSION,
    mission::DOCTOR_SPECIALTY,
    mission::ALARM_TEXT,
    mission::ADDRESS_OBJECT,
    mission::CANCELLED_AT,
    time::ALARM,
    time::DEPARTURE,
    time::AT_SCENE,
    time::PATIENT_CONTACT,
    time::LEFT_SCENE,
    time::AT_DESTINATION,
    time::HANDOVER,
    time::AVAILABLE,
    time::END,
    time::DOCTOR_REQUESTED,
    patient::UNKNOWN,
    patient::FAMILY_NAME,
    patient::GIVEN_NAME,
    patient::TITLE,
    patient::BIRTH_DATE,
    patient::AGE_YEARS,
    patient::SEX,
    patient::ADDRESS_STREET,
    patient::ADDRESS_EXTRA,
    patient::ADDRESS_POSTCODE,
    patient::ADDRESS_CITY,
    patient::ADDRESS_COUNTRY,
    patient::ID_SOURCE,
    patient::WEIGHT_KG,
    patient::HEIGHT_CM,
    insurance::INSURER_NAME,
    insurance::INSURER_IK,
    insurance::NUMBER,
    insurance::TYPE,
    insurance::VALID_UNTIL,
    insurance::CARD_READ_AT,
    history::EVENT,
    history::SYMPTOM_ONSET,
    history::PREVIOUS_ILLNESSES,
    history::HOME_MEDICATION,
    history::ALLERGIES,
    history::PRETREATMENT,
    history::ARREST,
    history::ARREST_WITNESSED,
    history::COLLAPSE_TIME,
    history::BYSTANDER_CPR,
    history::AED_USED,
    history::CPR_START,
    history::ROSC,
    history::PREGNANCY,
    history::INFECTION,
    history::ADVANCE_DIRECTIVE,
    history::INJURY_MECHANISM,
    finding::AT,
    finding::GCS_EYES,
    finding::GCS_VERBAL,
    finding::GCS_MOTOR,
    finding::PAIN_NRS,
    finding::GCS_QUALIFIER,
    finding::GCS_PAEDIATRIC,
    finding::AVPU,
    finding::PUPIL_LEFT_SIZE,
    finding::PUPIL_LEFT_SHAPE,
    finding::PUPIL_LEFT_REACTION,
    finding::PUPIL_RIGHT_SIZE,
    finding::PUPIL_RIGHT_SHAPE,
    finding::PUPIL_RIGHT_REACTION,
    finding::PSYCH,
    finding::AIRWAY,
    finding::BREATHING,
    finding::PULSE_QUALITY,
    finding::SKIN,
    finding::FAST_FACE,
    finding::FAST_ARM,
    finding::FAST_SPEECH,
    finding::MENINGISM,
    finding::NOTE,
    vitals::AT,
    vitals::BP_SYS,
    vitals::BP_DIA,
    vitals::HR,
    vitals::SPO2,
    vitals::RR,
    vitals::ETCO2,
    vitals::GLUCOSE,
    vitals::TEMP,
    ecg::AT,
    ecg::RHYTHM,
    ecg::TWELVE_LEAD,
    ecg::STEMI,
    ecg::STEMI_SITE,
    ecg::BUNDLE_BRANCH_BLOCK,
    ecg::DEVICE_RECORD,
    ecg::NOTE,
    injury::REGION,
    injury::SEVERITY,
    injury::OPEN,
    injury::BURN_DEGREE,
    injury::BURN_TBSA,
    injury::NOTE,
    diagnosis::GROUP,
    diagnosis::TEXT,
    diagnosis::ICD10,
    diagnosis::KIND,
    diagnosis::TRACER,
    naca::SCORE,
    measure::KIND,
    measure::AT,
    measure::PERFORMER,
    measure::DETAIL,
    measure::ATTEMPTS,
    measure::RESULT,
    measure::ENERGY_J,
    med::SUBSTANCE,
    med::PRODUCT,
    med::DOSE,
    med::UNIT,
    med::ROUTE,
    med::AT,
    med::UNTIL,
    med::REASON,
    med::GIVEN_BY,
    med::ORDERED_BY,
    med::CONTROLLED,
    med::BATCH,
    transport::DONE,
    transport::WITH_DOCTOR,
    transport::EMERGENCY_LIGHTS,
    transport::POSITIONING,
    transport::HOSPITAL,
    transport::HOSPITAL_ID,
    transport::DEPARTMENT,
    transport::PZC,
    transport::PRENOTIFIED_AT,
    transport::ETA_MIN,
    handover::TO,
    handover::CONDITION,
    handover::VALUABLES,
    handover::REFUSAL_INFORMED,
    outcome::RESULT,
    outcome::DEATH_TIME,
    remarks::TEXT,
    remarks::INFECTION_PROTECTION,
    remarks::DISINFECTION,
    remarks::VIOLENCE,
    remarks::VIOLENCE_NOTE,
];
