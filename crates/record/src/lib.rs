//! The emergency protocol (Einsatzprotokoll): DIVI/MIND sections A–O as an
//! event-sourced record. Pure: no I/O, no clocks, no randomness except id
//! generation.
//!
//! - [`codes`]: MIND code lists (00 nicht dokumentiert, 98 Sonstige, 99 unbekannt).
//! - [`catalog`]: every field with its section, scope, kind, unit, LOINC and
//!   plausible range. Values are validated against it.
//! - [`event`]: the event envelope (UUIDv7, mission, patient, author, device,
//!   wall/monotonic/HLC time, per-device hash chain) and payloads.
//! - [`log`]: one mission's log: strict append, tolerant restore, merge.
//! - [`state`]: `fold(events)`, revision history and the §630f audit trail.
//! - [`rules`]: plausibility, soft while documenting, hard at close.
//! - [`wave`]: ECG strips; the log keeps their hash, the vault their bytes.
//!
//! Invariants: the log is append-only; a correction is a new event and the
//! original stays visible; merging is deterministic, idempotent and
//! commutative; ids are UUIDv7 made on the pad, never autoincrement.

pub mod catalog;
pub mod codes;
pub mod event;
pub mod keys;
pub mod log;
pub mod rules;
pub mod state;
pub mod text;
pub mod value;
pub mod wave;

pub use catalog::{Collection, Section};
pub use event::{
    CrewRef, EntryId, Event, EventId, HandoverMode, Hash, MissionId, PatientId, Payload, Target,
};
pub use log::{Author, MissionLog};
pub use state::{EditError, MissionState, Status};
pub use value::{Measured, Num, PartialDate, TimeSource, TimeValue, Value, ValueSource};
pub use wave::{Lead, Strip, StripKind, StripRef};

/// SHA-256 of `data` (hash links, strip hashes).
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}
