//! The typed parts. The operator writes TOML ([`from_toml`]); the package
//! carries canonical JSON; the pad decodes with [`decode`]. Both ends run
//! the same validation, so a part the gateway built is one the pad takes.

use crate::error::ProvisionError;
use crate::package::{PartName, Verified};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Organisation-wide pad settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Argon2id PHC string of the PIN; never the PIN.
    pub pin_hash: String,
    pub idle_lock_minutes: u32,
    pub max_wrong_pins: u32,
    /// A pad without gateway contact for this long locks itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_offline_days: Option<u32>,
    /// Staff cards of the staff list unlock the pad instead of the PIN.
    #[serde(default)]
    pub rfid_unlock: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hospital {
    /// The gateway's hospital id (mailbox, board).
    pub id: String,
    pub name: String,
    /// Institutionskennzeichen (9 digits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ik: Option<String>,
    /// The hospital's code in IVENA, for the PZC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ivena: Option<String>,
    /// Hex HPKE public key (P-256, uncompressed) of the hospital's mailbox.
    pub hpke_public_key: String,
    /// IPP printer of the emergency department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hospitals {
    #[serde(default)]
    pub hospitals: Vec<Hospital>,
}

/// Qualifications as the pad's shift login names them.
pub const QUALIFICATIONS: [&str; 7] = [
    "notarzt",
    "notsan",
    "rettass",
    "rettsan",
    "retthelfer",
    "praktikant",
    "sonstige",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffMember {
    /// Personnel number.
    pub number: String,
    pub name: String,
    pub qualification: String,
    /// Hex SHA-256 of the staff card's id (UID), so the list does not
    /// carry the id itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfid_sha256: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staff {
    #[serde(default)]
    pub staff: Vec<StaffMember>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetField {
    pub key: String,
    /// `text`, `code` or `number`.
    pub kind: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    /// `medication`, `measure` or `finding`.
    pub collection: String,
    pub de: String,
    pub en: String,
    pub fields: Vec<PresetField>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    #[serde(default)]
    pub presets: Vec<Preset>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pki {
    /// PEM CA certificates the pad trusts for the gateway, besides the
    /// one in its configuration (a new CA before the switch to it).
    #[serde(default)]
    pub ca_pem: Vec<String>,
    /// PEM X.509 CRLs signed by the CA: revoked gateway and pad
    /// certificates, checked in every TLS handshake of the upload.
    #[serde(default)]
    pub crl_pem: Vec<String>,
}

/// A one-tap preset of the provisioned catalog, checked against the
/// record's field catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogPreset {
    pub collection: rettpad_record::Collection,
    pub de: String,
    pub en: String,
    pub fields: Vec<(String, rettpad_record::Value)>,
}

/// The catalog part's presets as record values; the first that names an
/// unknown field or a value that does not fit is the error.
pub fn catalog_presets(c: &Catalog) -> Result<Vec<CatalogPreset>, String> {
    use rettpad_record::catalog::{self as rc, Scope};
    use rettpad_record::{Collection, Num, Value};
    c.presets
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let collection: Collection =
                serde_json::from_value(serde_json::Value::String(p.collection.clone()))
                    .map_err(|_| format!("preset {}: unknown collection", i + 1))?;
            let fields =
                p.fields
                    .iter()
                    .map(|f| {
                        let v = match f.kind.as_str() {
                            "code" => Value::code(&f.value),
                            "number" => Value::Num(Num::int(f.value.parse().map_err(|_| {
                                format!("preset {}: {} is no number", i + 1, f.key)
                            })?)),
                            _ => Value::text(&f.value),
                        };
                        rc::validate(Scope::Entry(collection), &f.key, &v)
                            .map_err(|e| format!("preset {}: {}: {e}", i + 1, f.key))?;
                        Ok((f.key.clone(), v))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
            Ok(CatalogPreset {
                collection,
                de: p.de.clone(),
                en: p.en.clone(),
                fields,
            })
        })
        .collect()
}

/// Every part of a verified package, decoded and validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parts {
    pub settings: Option<Settings>,
    /// TOML in the pad's configuration format; the pad checks it.
    pub device: Option<String>,
    pub hospitals: Option<Hospitals>,
    pub staff: Option<Staff>,
    pub catalog: Option<Catalog>,
    pub pki: Option<Pki>,
}

fn bad(part: PartName, reason: impl Into<String>) -> ProvisionError {
    ProvisionError::BadPart {
        part: part.name().into(),
        reason: reason.into(),
    }
}

fn text_ok(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Settings {
    pub fn validate(&self) -> Result<(), ProvisionError> {
        let p = PartName::Settings;
        if !self.pin_hash.starts_with("$argon2id$") || self.pin_hash.len() > 256 {
            return Err(bad(p, "pin_hash must be an Argon2id PHC string"));
        }
        if !(1..=60).contains(&self.idle_lock_minutes) {
            return Err(bad(p, "idle_lock_minutes must be 1..=60"));
        }
        if !(3..=20).contains(&self.max_wrong_pins) {
            return Err(bad(p, "max_wrong_pins must be 3..=20"));
        }
        if self
            .max_offline_days
            .is_some_and(|d| !(1..=90).contains(&d))
        {
            return Err(bad(p, "max_offline_days must be 1..=90"));
        }
        Ok(())
    }
}

impl Hospitals {
    pub fn validate(&self) -> Result<(), ProvisionError> {
        let p = PartName::Hospitals;
        if self.hospitals.len() > 2000 {
            return Err(bad(p, "more than 2000 hospitals"));
        }
        for (i, h) in self.hospitals.iter().enumerate() {
            let at = |what: &str| bad(p, format!("hospital {}: {what}", i + 1));
            if !(1..=64).contains(&h.id.len())
                || !h
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(at("id must be 1-64 of a-z, 0-9, - and _"));
            }
            if self.hospitals[..i].iter().any(|x| x.id == h.id) {
                return Err(at("id twice"));
            }
            if !text_ok(&h.name, 120) {
                return Err(at("name empty, too long or with control characters"));
            }
            if h.ik
                .as_ref()
                .is_some_and(|ik| ik.len() != 9 || !ik.bytes().all(|b| b.is_ascii_digit()))
            {
                return Err(at("ik must be 9 digits"));
            }
            if h.ivena.as_ref().is_some_and(|v| !text_ok(v, 32)) {
                return Err(at("ivena code invalid"));
            }
            // P-256 uncompressed point: 0x04 | x | y.
            if !is_hex(&h.hpke_public_key, 130) || !h.hpke_public_key.starts_with("04") {
                return Err(at(
                    "hpke_public_key must be a P-256 uncompressed point in hex",
                ));
            }
            if h.printer.as_ref().is_some_and(|u| {
                !(u.starts_with("ipp://") || u.starts_with("ipps://")) || !text_ok(u, 256)
            }) {
                return Err(at("printer must be an ipp:// or ipps:// URL"));
            }
        }
        Ok(())
    }
}

impl Staff {
    pub fn validate(&self) -> Result<(), ProvisionError> {
        let p = PartName::Staff;
        if self.staff.len() > 20_000 {
            return Err(bad(p, "more than 20000 staff"));
        }
        let mut numbers = std::collections::HashSet::new();
        let mut cards = std::collections::HashSet::new();
        for (i, m) in self.staff.iter().enumerate() {
            let at = |what: &str| bad(p, format!("staff member {}: {what}", i + 1));
            if !text_ok(&m.number, 32) || !m.number.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(at("number must be 1-32 letters or digits"));
            }
            if !numbers.insert(m.number.as_str()) {
                return Err(at("number twice"));
            }
            if !text_ok(&m.name, 120) {
                return Err(at("name empty, too long or with control characters"));
            }
            if !QUALIFICATIONS.contains(&m.qualification.as_str()) {
                return Err(at("unknown qualification"));
            }
            if let Some(h) = &m.rfid_sha256 {
                if !is_hex(h, 64) {
                    return Err(at("rfid_sha256 must be 64 hex digits"));
                }
                if !cards.insert(h.to_ascii_lowercase()) {
                    return Err(at("card twice"));
                }
            }
        }
        Ok(())
    }
}

impl Catalog {
    pub fn validate(&self) -> Result<(), ProvisionError> {
        let p = PartName::Catalog;
        for (i, pr) in self.presets.iter().enumerate() {
            let at = |what: &str| bad(p, format!("preset {}: {what}", i + 1));
            if !["medication", "measure", "finding"].contains(&pr.collection.as_str()) {
                return Err(at("collection must be medication, measure or finding"));
            }
            if !text_ok(&pr.de, 60) || !text_ok(&pr.en, 60) {
                return Err(at("label empty or too long"));
            }
            if pr.fields.is_empty() || pr.fields.len() > 16 {
                return Err(at("1-16 fields"));
            }
            for f in &pr.fields {
                if !text_ok(&f.key, 64)
                    || !["text", "code", "number"].contains(&f.kind.as_str())
                    || !text_ok(&f.value, 120)
                    || (f.kind == "number" && f.value.parse::<i64>().is_err())
                {
                    return Err(at("field invalid"));
                }
            }
        }
        // Every field must be one of the record's, with a value it takes.
        catalog_presets(self).map_err(|reason| bad(p, reason))?;
        Ok(())
    }
}

impl Pki {
    pub fn validate(&self) -> Result<(), ProvisionError> {
        let p = PartName::Pki;
        for pem in &self.ca_pem {
            if !pem.contains("-----BEGIN CERTIFICATE-----") || pem.len() > 16 * 1024 {
                return Err(bad(p, "ca_pem must hold PEM certificates"));
            }
        }
        if self
            .crl_pem
            .iter()
            .any(|c| !c.contains("-----BEGIN X509 CRL-----") || c.len() > 4 * 1024 * 1024)
        {
            return Err(bad(p, "crl_pem must hold PEM CRLs"));
        }
        Ok(())
    }
}

fn json<T: DeserializeOwned>(part: PartName, bytes: &[u8]) -> Result<T, ProvisionError> {
    serde_json::from_slice(bytes).map_err(|e| bad(part, e.to_string()))
}

fn device_text(bytes: &[u8]) -> Result<String, ProvisionError> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad(PartName::Device, "not UTF-8"))?;
    text.parse::<toml::Table>()
        .map_err(|e| bad(PartName::Device, e.to_string()))?;
    Ok(text.to_string())
}

/// Decodes and validates every part of `v`.
pub fn decode(v: &Verified) -> Result<Parts, ProvisionError> {
    let mut out = Parts::default();
    for (e, bytes) in &v.parts {
        decode_one(e.name, bytes, &mut out)?;
    }
    Ok(out)
}

/// Decodes and validates one part into `out` (a part kept on the pad is
/// read back through the same checks).
pub fn decode_one(name: PartName, bytes: &[u8], out: &mut Parts) -> Result<(), ProvisionError> {
    match name {
        PartName::Settings => {
            let s: Settings = json(name, bytes)?;
            s.validate()?;
            out.settings = Some(s);
        }
        PartName::Device => out.device = Some(device_text(bytes)?),
        PartName::Hospitals => {
            let h: Hospitals = json(name, bytes)?;
            h.validate()?;
            out.hospitals = Some(h);
        }
        PartName::Staff => {
            let s: Staff = json(name, bytes)?;
            s.validate()?;
            out.staff = Some(s);
        }
        PartName::Catalog => {
            let c: Catalog = json(name, bytes)?;
            c.validate()?;
            out.catalog = Some(c);
        }
        PartName::Pki => {
            let p: Pki = json(name, bytes)?;
            p.validate()?;
            out.pki = Some(p);
        }
    }
    Ok(())
}

fn toml_to_json<T: DeserializeOwned + Serialize>(
    part: PartName,
    text: &str,
    check: impl Fn(&T) -> Result<(), ProvisionError>,
) -> Result<Vec<u8>, ProvisionError> {
    let v: T = toml::from_str(text).map_err(|e| bad(part, e.to_string()))?;
    check(&v)?;
    serde_json::to_vec(&v).map_err(|e| bad(part, e.to_string()))
}

/// The operator's TOML file of a part → the part's bytes, validated.
pub fn from_toml(part: PartName, text: &str) -> Result<Vec<u8>, ProvisionError> {
    match part {
        PartName::Settings => toml_to_json::<Settings>(part, text, Settings::validate),
        PartName::Device => device_text(text.as_bytes()).map(String::into_bytes),
        PartName::Hospitals => toml_to_json::<Hospitals>(part, text, Hospitals::validate),
        PartName::Staff => toml_to_json::<Staff>(part, text, Staff::validate),
        PartName::Catalog => toml_to_json::<Catalog>(part, text, Catalog::validate),
        PartName::Pki => toml_to_json::<Pki>(part, text, Pki::validate),
    }
}
