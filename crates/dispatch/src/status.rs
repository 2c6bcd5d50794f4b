//! FMS/TETRA status → mission time field, configured per centre: status 7
//! and 8 mean different things by region (docs/dispatch.md §3).

use rettpad_record::catalog::{self, Kind, Section};
use rettpad_record::keys::time;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which time fields one status sets (first one of each after the alarm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    try_from = "BTreeMap<String, Vec<String>>",
    into = "BTreeMap<String, Vec<String>>"
)]
pub struct StatusMap(BTreeMap<u8, Vec<String>>);

impl Default for StatusMap {
    /// The nationwide TETRA meaning: 3 departure, 4 at scene, 7 left
    /// scene, 8 at destination, 1/2 back in service (2 also ends the
    /// mission).
    fn default() -> Self {
        let m: &[(u8, &[&str])] = &[
            (1, &[time::AVAILABLE]),
            (2, &[time::AVAILABLE, time::END]),
            (3, &[time::DEPARTURE]),
            (4, &[time::AT_SCENE]),
            (7, &[time::LEFT_SCENE]),
            (8, &[time::AT_DESTINATION]),
        ];
        StatusMap(
            m.iter()
                .map(|(s, f)| (*s, f.iter().map(|k| k.to_string()).collect()))
                .collect(),
        )
    }
}

/// A status map that names something other than a mission time field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusMapError {
    #[error("status {0} is not a digit 0-9")]
    Status(String),
    #[error("{0} is not a mission time field")]
    Field(String),
}

/// Only the crew enters patient contact and handover (docs/dispatch.md §3).
pub fn is_dispatch_time(key: &str) -> bool {
    key != time::PATIENT_CONTACT
        && key != time::HANDOVER
        && catalog::field(key)
            .is_some_and(|d| matches!(d.kind, Kind::Time) && d.section == Section::Times)
}

impl StatusMap {
    pub fn new(map: BTreeMap<u8, Vec<String>>) -> Result<StatusMap, StatusMapError> {
        for (s, fields) in &map {
            if *s > 9 {
                return Err(StatusMapError::Status(s.to_string()));
            }
            if let Some(f) = fields.iter().find(|f| !is_dispatch_time(f)) {
                return Err(StatusMapError::Field(f.clone()));
            }
        }
        Ok(StatusMap(map))
    }

    pub fn fields(&self, status: u8) -> &[String] {
        self.0.get(&status).map(Vec::as_slice).unwrap_or(&[])
    }
}

impl TryFrom<BTreeMap<String, Vec<String>>> for StatusMap {
    type Error = StatusMapError;
    fn try_from(m: BTreeMap<String, Vec<String>>) -> Result<Self, Self::Error> {
        let mut out = BTreeMap::new();
        for (k, v) in m {
            let s: u8 = k.parse().map_err(|_| StatusMapError::Status(k.clone()))?;
            out.insert(s, v);
        }
        StatusMap::new(out)
    }
}

impl From<StatusMap> for BTreeMap<String, Vec<String>> {
    fn from(m: StatusMap) -> Self {
        m.0.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
    }
}
