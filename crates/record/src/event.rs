//! Events: the only way the protocol changes.
//!
//! Invariants:
//! - An event is immutable once created; its hash is SHA-256 over its
//!   canonical JSON encoding (struct field order, no maps with random order).
//! - Events of one device within one mission form a hash chain: `seq` counts
//!   from 1 and `prev` is the hash of the device's previous event (zero for
//!   the first). Chains per device stay linear when logs from several pads
//!   are merged.
//! - `hlc` is a hybrid logical clock: greater than every event the author had
//!   seen when creating it, and close to wall time. Logs are ordered by
//!   `(hlc, id)`, which respects causality even when a pad's clock jumps.

use super::catalog::Collection;
use super::value::Value;
use super::wave::StripRef;
use crate::sha256;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use uuid::Uuid;

/// A SHA-256 digest, hex in JSON.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    pub const ZERO: Hash = Hash([0; 32]);

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Hash> {
        let v = hex::decode(s).ok()?;
        Some(Hash(v.try_into().ok()?))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", &self.to_hex()[..16])
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Hash::from_hex(&s).ok_or_else(|| serde::de::Error::custom("invalid hash"))
    }
}

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new UUIDv7, generated on this pad.
            pub fn new() -> Self {
                $name(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// One mission (Einsatz).
    MissionId
);
id_type!(
    /// One patient of a mission.
    PatientId
);
id_type!(
    /// One repeatable entry (vital set, measure, …).
    EntryId
);
id_type!(
    /// One event.
    EventId
);

/// What an edit applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "on", content = "id", rename_all = "snake_case")]
pub enum Target {
    Mission,
    Patient(PatientId),
    Entry(EntryId),
}

/// A crew member as the record keeps it (from the shift login).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CrewRef {
    pub id: Uuid,
    pub name: String,
    pub personnel_no: String,
    /// Code from `codes::QUALIFICATION`, or a free label.
    pub qualification: String,
    pub call_sign: String,
}

/// How the protocol left the crew's hands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HandoverMode {
    Printed,
    Electronic,
    PadToPad,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Payload {
    /// First event of a mission on the pad that opened it.
    MissionOpened {
        call_sign: String,
    },
    /// A crew (or another pad's crew after a merge) documents this mission.
    CrewJoined {
        crew: Vec<CrewRef>,
    },
    PatientAdded {
        patient: PatientId,
    },
    /// A patient added by mistake; stays visible as retracted.
    PatientRetracted {
        patient: PatientId,
        reason: String,
    },
    Set {
        target: Target,
        field: String,
        value: Value,
    },
    /// Back to "nicht dokumentiert"; the earlier value stays in the history.
    Clear {
        target: Target,
        field: String,
    },
    /// A new repeatable entry with its initial fields (a vital set is one event).
    EntryAdded {
        patient: PatientId,
        collection: Collection,
        entry: EntryId,
        fields: BTreeMap<String, Value>,
    },
    /// An entry documented by mistake; stays visible as retracted.
    EntryRetracted {
        entry: EntryId,
        reason: String,
    },
    /// Printed or handed over: from here on every change is audited.
    HandedOver {
        mode: HandoverMode,
        to: String,
        document_sha256: Option<Hash>,
    },
    /// Another pad's log was merged in (pad-to-pad handover).
    LogMerged {
        from_call_sign: String,
        log_digest: Hash,
        events: u32,
    },
    /// An ECG strip was recorded; its bytes live in the vault's blob table
    /// and are named by `strip.hash`.
    StripRecorded {
        patient: PatientId,
        strip: StripRef,
    },
    /// The crew closed the mission; it waits for upload.
    Closed,
    Reopened {
        reason: String,
    },
}

impl Payload {
    /// A short name for logs (never the content).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Payload::MissionOpened { .. } => "mission_opened",
            Payload::CrewJoined { .. } => "crew_joined",
            Payload::PatientAdded { .. } => "patient_added",
            Payload::PatientRetracted { .. } => "patient_retracted",
            Payload::Set { .. } => "set",
            Payload::Clear { .. } => "clear",
            Payload::EntryAdded { .. } => "entry_added",
            Payload::EntryRetracted { .. } => "entry_retracted",
            Payload::HandedOver { .. } => "handed_over",
            Payload::LogMerged { .. } => "log_merged",
            Payload::StripRecorded { .. } => "strip_recorded",
            Payload::Closed => "closed",
            Payload::Reopened { .. } => "reopened",
        }
    }

    /// The patient this payload names directly, if any.
    pub fn patient(&self) -> Option<PatientId> {
        match self {
            Payload::PatientAdded { patient }
            | Payload::PatientRetracted { patient, .. }
            | Payload::EntryAdded { patient, .. }
            | Payload::StripRecorded { patient, .. } => Some(*patient),
            Payload::Set {
                target: Target::Patient(p),
                ..
            }
            | Payload::Clear {
                target: Target::Patient(p),
                ..
            } => Some(*p),
            _ => None,
        }
    }
}

/// One change, with everything needed to prove who did what when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub mission: MissionId,
    /// The patient the change concerns, where there is one.
    pub patient: Option<PatientId>,
    /// Crew member id from the shift login.
    pub author: Uuid,
    /// The pad (device serial) that created the event.
    pub device: String,
    /// Position in this device's chain for this mission, from 1.
    pub seq: u64,
    /// Hash of this device's previous event in this mission.
    pub prev: Hash,
    pub wall_ms: i64,
    /// Monotonic time of the creating pad, for ordering within a boot.
    pub mono_ns: u64,
    pub hlc: u64,
    pub payload: Payload,
}

impl Event {
    /// Canonical bytes: the hash input and the stored form.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain structs, enums, strings and BTreeMaps cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Event, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    pub fn hash(&self) -> Hash {
        Hash(sha256(&self.encode()))
    }

    /// The total order of a log.
    pub fn order_key(&self) -> (u64, EventId) {
        (self.hlc, self.id)
    }
}

/// Next hybrid-logical-clock value: at least wall time (in µs), always
/// greater than anything seen.
pub fn next_hlc(max_seen: u64, wall_ms: i64) -> u64 {
    let wall_us = u64::try_from(wall_ms).unwrap_or(0).saturating_mul(1000);
    wall_us.max(max_seen.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys;

    #[test]
    fn hlc_is_monotonic_under_clock_jumps() {
        let a = next_hlc(0, 1_000);
        assert_eq!(a, 1_000_000);
        let b = next_hlc(a, 500); // wall clock jumped back
        assert!(b > a);
        let c = next_hlc(b, 2_000);
        assert_eq!(c, 2_000_000);
        assert!(next_hlc(u64::MAX - 1, -5) == u64::MAX);
    }

    #[test]
    fn hash_hex_roundtrip() {
        let h = Hash([0xab; 32]);
        assert_eq!(Hash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(Hash::from_hex("zz"), None);
        assert_eq!(Hash::from_hex("abcd"), None);
    }

    #[test]
    fn event_roundtrip_and_hash_changes_with_content() {
        let mut ev = Event {
            id: EventId::new(),
            mission: MissionId::new(),
            patient: None,
            author: Uuid::now_v7(),
            device: "PAD-1".into(),
            seq: 1,
            prev: Hash::ZERO,
            wall_ms: 1,
            mono_ns: 2,
            hlc: 3,
            payload: Payload::Set {
                target: Target::Mission,
                field: keys::mission::NUMBER.into(),
                value: Value::text("1"),
            },
        };
        let back = Event::decode(&ev.encode()).unwrap();
        assert_eq!(back, ev);
        let h = ev.hash();
        ev.wall_ms = 2;
        assert_ne!(ev.hash(), h);
        assert!(Event::decode(b"{not json").is_err());
    }
}
