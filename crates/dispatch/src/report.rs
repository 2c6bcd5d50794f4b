//! What goes back to the dispatch centre after the crew closed a protocol
//! (the seed's "Update"): the documented mission times, with the FMS status
//! each corresponds to and where each came from. Only times: the ELS gets
//! no medical data through this path.

use rettpad_record::catalog::{self, Kind, Section};
use rettpad_record::{Event, MissionId, MissionState, TimeSource, Value};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One documented time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentedTime {
    /// The record's field key, e.g. `time.at_scene`.
    pub field: String,
    pub at_ms: i64,
    /// The FMS status this field stands for, where one does.
    pub status: Option<u8>,
    /// `dispatch`, `device` or `manual`: who set the value.
    pub source: String,
}

/// The mission times in a protocol's event log (the packet's
/// `events.json`), in catalog order. Unreadable events give no times.
pub fn documented_times(events_json: &[u8], mission: Uuid) -> Vec<DocumentedTime> {
    let Ok(events) = serde_json::from_slice::<Vec<Event>>(events_json) else {
        return Vec::new();
    };
    let st = MissionState::fold(
        MissionId(mission),
        events.iter().filter(|e| e.mission.0 == mission),
    );
    catalog::FIELDS
        .iter()
        .filter(|d| d.section == Section::Times && matches!(d.kind, Kind::Time))
        .filter_map(|d| match st.get(d.key) {
            Some(Value::Time(t)) => Some(DocumentedTime {
                field: d.key.to_string(),
                at_ms: t.at_ms,
                status: d.fms_status,
                source: match t.source {
                    TimeSource::Dispatch { .. } => "dispatch",
                    TimeSource::Device { .. } => "device",
                    TimeSource::Manual => "manual",
                }
                .to_string(),
            }),
            _ => None,
        })
        .collect()
}
