//! Dispatch data from the dispatch centre (Leitstelle, ELS), pure:
//!
//! - [`msg`]: the neutral `rettpad.dispatch/1` message every ELS adapter
//!   produces, parsed and validated;
//! - [`mission_id`]: the one mission id of an ELS mission on every pad;
//! - [`status`]: which FMS/TETRA status fills which time field, per centre;
//! - [`plan`]: the record edits a message implies for one pad, given what
//!   the crew has already documented (the crew always wins);
//! - [`report`]: the documented times that go back to the centre.
//!
//! The gateway validates and routes; the pad validates again and applies.
//! No I/O, no clock; the only randomness is a new patient's UUIDv7.

pub mod msg;
pub mod plan;
pub mod report;
pub mod status;

pub use msg::{Body, Cancel, Dispatch, DispatchError, Mission, StatusReport, Unit};
pub use plan::{Plan, Proposal, ToPad, plan};
pub use status::StatusMap;

use uuid::Uuid;

/// The namespace of rettpad's name-based ids (a fixed UUIDv4).
pub const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b4e_9d3a_4c5f_8e7b_1a2d_3c4b_5a69);

/// The mission id of ELS mission `number` of centre `centre`: UUIDv5 over
/// `"rettpad.mission/1\0" + centre + "\0" + number` in [`NAMESPACE`]. The
/// RTW and the NEF alarmed for one ELS mission derive the same id, so a
/// later pad-to-pad handover merges their logs without matching by hand;
/// two centres' equal numbers never collide, and no node hands out a
/// sequence.
pub fn mission_id(centre: &str, number: &str) -> Uuid {
    name_id("rettpad.mission/1", centre, number)
}

/// The author id the record shows for values the ELS delivered.
pub fn els_author(centre: &str) -> Uuid {
    name_id("rettpad.els/1", centre, "")
}

fn name_id(kind: &str, a: &str, b: &str) -> Uuid {
    let mut name = Vec::with_capacity(kind.len() + a.len() + b.len() + 2);
    name.extend_from_slice(kind.as_bytes());
    name.push(0);
    name.extend_from_slice(a.as_bytes());
    name.push(0);
    name.extend_from_slice(b.as_bytes());
    Uuid::new_v5(&NAMESPACE, &name)
}
