//! A provisioning package: a header and independent parts, signed as one.
//!
//! Payload (inside [`crate::signed`]): `u32 BE header_len | header (JSON)
//! | the parts' bytes in header order`. Each part carries its own version,
//! so a package may hold one part (the staff list) or all of them; a pad
//! takes a package only when *every* part in it is newer than what it has
//! applied, and only as a whole.

use crate::error::ProvisionError;
use crate::keys::{SigningKey, Trust};
use crate::signed::{self, PACKAGE_MAGIC};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

pub const FORMAT: u32 = 1;

/// The parts a package can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartName {
    /// Organisation-wide pad settings: PIN hash, idle lock, wrong-PIN
    /// limit, offline lock ([`crate::parts::Settings`]).
    Settings,
    /// One pad's own configuration (call sign, devices, printers): TOML in
    /// the pad's configuration format, only in a package for one serial.
    Device,
    /// Target hospitals with their keys and printers.
    Hospitals,
    /// The staff list for shift login and RFID unlock.
    Staff,
    /// Medication and measure presets.
    Catalog,
    /// CA certificates and revocation lists.
    Pki,
}

impl PartName {
    pub const ALL: [PartName; 6] = [
        PartName::Settings,
        PartName::Device,
        PartName::Hospitals,
        PartName::Staff,
        PartName::Catalog,
        PartName::Pki,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PartName::Settings => "settings",
            PartName::Device => "device",
            PartName::Hospitals => "hospitals",
            PartName::Staff => "staff",
            PartName::Catalog => "catalog",
            PartName::Pki => "pki",
        }
    }

    pub fn parse(s: &str) -> Option<PartName> {
        PartName::ALL.into_iter().find(|p| p.name() == s)
    }
}

/// Which pads a package is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    All,
    Serials(Vec<String>),
}

impl Target {
    pub fn includes(&self, serial: &str) -> bool {
        match self {
            Target::All => true,
            Target::Serials(s) => s.iter().any(|x| x == serial),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartEntry {
    pub name: PartName,
    pub version: u64,
    pub len: u64,
    /// Hex SHA-256 of the part's bytes.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: u32,
    pub org: String,
    /// For the acknowledgement and the logs.
    pub package_id: Uuid,
    pub issued_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
    pub target: Target,
    pub parts: Vec<PartEntry>,
}

/// What a pad has applied: per part the version, and the newest issue
/// time seen (a clock that runs late cannot make an old key valid again).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub versions: BTreeMap<PartName, u64>,
    pub last_issued_ms: i64,
    /// The last package applied, so its second delivery is told apart
    /// from a rollback.
    #[serde(default)]
    pub last_package: Option<Uuid>,
}

impl Applied {
    pub fn version(&self, p: PartName) -> u64 {
        self.versions.get(&p).copied().unwrap_or(0)
    }
}

/// A package that passed every check, with its parts' bytes.
#[derive(Debug, Clone)]
pub struct Verified {
    pub header: Header,
    pub key_id: String,
    pub parts: Vec<(PartEntry, Vec<u8>)>,
}

impl Verified {
    pub fn part(&self, name: PartName) -> Option<&[u8]> {
        self.parts
            .iter()
            .find(|(e, _)| e.name == name)
            .map(|(_, b)| b.as_slice())
    }

    /// The applied state once this package is applied on top of `prev`.
    pub fn applied_after(&self, prev: &Applied) -> Applied {
        let mut next = prev.clone();
        for (e, _) in &self.parts {
            next.versions.insert(e.name, e.version);
        }
        next.last_issued_ms = next.last_issued_ms.max(self.header.issued_ms);
        next.last_package = Some(self.header.package_id);
        next
    }
}

/// Builds and signs a package.
#[derive(Debug, Clone)]
pub struct Builder {
    header: Header,
    bodies: Vec<Vec<u8>>,
}

impl Builder {
    pub fn new(org: &str, target: Target, issued_ms: i64) -> Builder {
        Builder {
            header: Header {
                format: FORMAT,
                org: org.to_string(),
                package_id: Uuid::now_v7(),
                issued_ms,
                expires_ms: None,
                target,
                parts: Vec::new(),
            },
            bodies: Vec::new(),
        }
    }

    pub fn expires(mut self, ms: i64) -> Builder {
        self.header.expires_ms = Some(ms);
        self
    }

    /// Adds a part; a second part of the same name replaces the first.
    pub fn part(mut self, name: PartName, version: u64, bytes: Vec<u8>) -> Builder {
        if let Some(i) = self.header.parts.iter().position(|p| p.name == name) {
            self.header.parts.remove(i);
            self.bodies.remove(i);
        }
        self.header.parts.push(PartEntry {
            name,
            version,
            len: bytes.len() as u64,
            sha256: crate::sha256_hex(&bytes),
        });
        self.bodies.push(bytes);
        self
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, ProvisionError> {
        let header =
            serde_json::to_vec(&self.header).map_err(|e| ProvisionError::Key(e.to_string()))?;
        let header_len =
            u32::try_from(header.len()).map_err(|_| ProvisionError::TooLarge(usize::MAX))?;
        let mut payload = header_len.to_be_bytes().to_vec();
        payload.extend_from_slice(&header);
        for b in &self.bodies {
            payload.extend_from_slice(b);
        }
        signed::seal(PACKAGE_MAGIC, key, &payload)
    }
}

/// Verifies a package for the pad `serial` that has applied `applied`:
/// signature chain first, then organisation, target, expiry, and that
/// every part is newer than the applied one. `now_ms` is the pad's wall
/// clock; the newest issue time it has seen counts when that is later.
pub fn verify(
    bytes: &[u8],
    trust: &Trust,
    serial: &str,
    applied: &Applied,
    now_ms: i64,
) -> Result<Verified, ProvisionError> {
    let v = inspect(bytes, trust, now_ms.max(applied.last_issued_ms))?;
    if !v.header.target.includes(serial) {
        return Err(ProvisionError::NotForThisPad);
    }
    if applied.last_package == Some(v.header.package_id) {
        return Err(ProvisionError::AlreadyApplied);
    }
    for (e, _) in &v.parts {
        let have = applied.version(e.name);
        if e.version <= have {
            return Err(ProvisionError::Rollback {
                part: e.name.name().to_string(),
                got: e.version,
                have,
            });
        }
    }
    Ok(v)
}

/// Everything a pad checks that does not depend on the pad: signature
/// chain, format, organisation, expiry, the parts' framing and hashes, and
/// a device part addressed to one pad only. The operator's tools run this
/// before a package leaves the gateway.
pub fn inspect(bytes: &[u8], trust: &Trust, now: i64) -> Result<Verified, ProvisionError> {
    let opened = signed::open(PACKAGE_MAGIC, bytes, trust, now)?;
    let p = opened.payload;
    if p.len() < 4 {
        return Err(ProvisionError::Corrupt("truncated in header length".into()));
    }
    let (len, rest) = p.split_at(4);
    let header_len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if rest.len() < header_len {
        return Err(ProvisionError::Corrupt("truncated in header".into()));
    }
    let (raw_header, mut body) = rest.split_at(header_len);
    // A newer format is refused before its header is read as ours.
    #[derive(Deserialize)]
    struct FormatOnly {
        format: u32,
    }
    let f: FormatOnly = serde_json::from_slice(raw_header)
        .map_err(|e| ProvisionError::Corrupt(format!("header: {e}")))?;
    if f.format != FORMAT {
        return Err(ProvisionError::Format(f.format));
    }
    let header: Header = serde_json::from_slice(raw_header)
        .map_err(|e| ProvisionError::Corrupt(format!("header: {e}")))?;
    if header.org != trust.org || opened.cert.org != header.org {
        return Err(ProvisionError::ForeignOrganisation(header.org));
    }
    if let Some(exp) = header.expires_ms
        && now >= exp
    {
        return Err(ProvisionError::Expired(exp));
    }
    if header.parts.is_empty() {
        return Err(ProvisionError::Corrupt("no parts".into()));
    }
    let mut parts = Vec::with_capacity(header.parts.len());
    for (i, e) in header.parts.iter().enumerate() {
        if header.parts[..i].iter().any(|x| x.name == e.name) {
            return Err(ProvisionError::Corrupt(format!(
                "part {} twice",
                e.name.name()
            )));
        }
        let n = usize::try_from(e.len)
            .ok()
            .filter(|n| *n <= body.len())
            .ok_or_else(|| {
                ProvisionError::Corrupt(format!("truncated in part {}", e.name.name()))
            })?;
        let (bytes, rest) = body.split_at(n);
        body = rest;
        if crate::sha256_hex(bytes) != e.sha256 {
            return Err(ProvisionError::Corrupt(format!(
                "part {} does not match its hash",
                e.name.name()
            )));
        }
        if e.name == PartName::Device
            && !matches!(&header.target, Target::Serials(s) if s.len() == 1)
        {
            return Err(ProvisionError::BadPart {
                part: e.name.name().into(),
                reason: "a device part must be addressed to exactly one pad".into(),
            });
        }
        parts.push((e.clone(), bytes.to_vec()));
    }
    if !body.is_empty() {
        return Err(ProvisionError::Corrupt("bytes after the last part".into()));
    }
    Ok(Verified {
        key_id: opened.cert.key_id(),
        header,
        parts,
    })
}
