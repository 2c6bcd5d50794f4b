//! [`Source`] and [`Sink`] over the pad's real store.
//!
//! Errors are reduced to English text without content (no patient data).

use rettpad_handover::frame::{DoneEntry, HaveEntry, ManifestEntry, MissionSel};
use rettpad_handover::proto::{AfterHandover, Sink, Source};
use rettpad_handover::{MissionSummary, PatientSummary};
use rettpad_record::keys;
use rettpad_record::{Event, HandoverMode, Hash, MissionId, MissionState, Payload, Status, Value};
use rettpad_vault::store::{SharedStore, Store};
use std::collections::BTreeMap;

/// The store as the sending pad sees it.
pub struct StoreSource {
    pub store: SharedStore,
}

/// The store as the receiving pad sees it.
pub struct StoreSink {
    pub store: SharedStore,
}

fn text(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::Text(s)) => Some(s.clone()),
        Some(other) => Some(format!("{other:?}")),
        None => None,
    }
}

/// What the prompt shows of a mission.
pub fn summarize(st: &MissionState, events: usize) -> MissionSummary {
    MissionSummary {
        mission: st.id,
        call_sign: st.call_sign.clone(),
        opened_ms: st.opened_ms,
        events,
        patients: st
            .patients
            .iter()
            .map(|p| {
                let family = text(p.get(keys::patient::FAMILY_NAME)).unwrap_or_default();
                let given = text(p.get(keys::patient::GIVEN_NAME)).unwrap_or_default();
                let name = match (family.is_empty(), given.is_empty()) {
                    (true, true) => String::new(),
                    (false, true) => family,
                    (true, false) => given,
                    (false, false) => format!("{family}, {given}"),
                };
                PatientSummary {
                    name,
                    birth_date: text(p.get(keys::patient::BIRTH_DATE)),
                    retracted: p.retracted.is_some(),
                }
            })
            .collect(),
    }
}

fn heads(events: &[Event]) -> BTreeMap<String, u64> {
    let mut h = BTreeMap::new();
    for e in events {
        let x = h.entry(e.device.clone()).or_insert(0);
        *x = (*x).max(e.seq);
    }
    h
}

/// Hashes of the strips of `m` whose bytes this pad holds.
fn strips_held(s: &Store, m: MissionId) -> Result<Vec<Hash>, String> {
    Ok(s.strip_refs(m)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|(_, here)| *here)
        .map(|(h, _)| h)
        .collect())
}

impl Source for StoreSource {
    fn describe(&mut self, sel: MissionSel) -> Result<Vec<MissionSummary>, String> {
        let s = self.store.lock();
        let pick = |m: MissionId| -> Option<MissionSummary> {
            let st = s.state(m)?;
            let n = s.log(m).map_or(0, |l| l.len());
            Some(summarize(st, n))
        };
        Ok(match sel {
            MissionSel::One(m) => pick(m).into_iter().collect(),
            MissionSel::AllOpen => s
                .mission_ids()
                .filter(|m| s.state(*m).is_some_and(|st| st.status != Status::Closed))
                .filter_map(pick)
                .collect(),
        })
    }

    fn manifest(&mut self, missions: &[MissionId]) -> Result<Vec<ManifestEntry>, String> {
        let s = self.store.lock();
        missions
            .iter()
            .map(|m| {
                let log = s.log(*m).ok_or("mission vanished")?;
                Ok(ManifestEntry {
                    mission: *m,
                    events: log.len() as u32,
                    digest: log.digest(),
                    heads: heads(log.events()),
                    strips: strips_held(&s, *m)?,
                })
            })
            .collect()
    }

    fn events_after(
        &mut self,
        m: MissionId,
        have: &BTreeMap<String, u64>,
    ) -> Result<Vec<Event>, String> {
        let s = self.store.lock();
        let log = s.log(m).ok_or("mission vanished")?;
        let mut out: Vec<Event> = log
            .events()
            .iter()
            .filter(|e| e.seq > have.get(&e.device).copied().unwrap_or(0))
            .cloned()
            .collect();
        out.sort_by(|a, b| (&a.device, a.seq).cmp(&(&b.device, b.seq)));
        Ok(out)
    }

    fn strip_bytes(&mut self, m: MissionId, strip: &Hash) -> Result<Option<Vec<u8>>, String> {
        self.store
            .lock()
            .strip_bytes(m, strip)
            .map_err(|e| e.to_string())
    }

    fn handed_over(
        &mut self,
        to_call_sign: &str,
        sent: &[DoneEntry],
        after: AfterHandover,
    ) -> Result<(), String> {
        let mut s = self.store.lock();
        for d in sent {
            let known = s.state(d.mission).is_some_and(|st| {
                st.handovers.iter().any(|h| {
                    h.mode == HandoverMode::PadToPad
                        && h.to == to_call_sign
                        && h.document_sha256 == Some(d.digest)
                })
            });
            if !known {
                s.apply(
                    d.mission,
                    Payload::HandedOver {
                        mode: HandoverMode::PadToPad,
                        to: to_call_sign.to_string(),
                        document_sha256: Some(d.digest),
                    },
                )
                .map_err(|e| e.to_string())?;
            }
            if after == AfterHandover::Close
                && s.state(d.mission)
                    .is_some_and(|st| st.status != Status::Closed)
                && let Err(e) = s.apply(d.mission, Payload::Closed)
            {
                // A mission with hard findings stays "übergeben".
                tracing::info!(mission = %d.mission, error = %e, "close after handover refused");
            }
        }
        Ok(())
    }
}

impl Sink for StoreSink {
    fn have(&mut self, offered: &[ManifestEntry]) -> Result<Vec<HaveEntry>, String> {
        let s = self.store.lock();
        offered
            .iter()
            .map(|m| match s.log(m.mission) {
                Some(log) => {
                    let ours = strips_held(&s, m.mission)?;
                    Ok(HaveEntry {
                        mission: m.mission,
                        heads: m
                            .heads
                            .keys()
                            .map(|d| (d.clone(), log.head(d)))
                            .filter(|(_, h)| *h > 0)
                            .collect(),
                        strips: m
                            .strips
                            .iter()
                            .filter(|h| ours.contains(h))
                            .copied()
                            .collect(),
                    })
                }
                None => Ok(HaveEntry {
                    mission: m.mission,
                    ..Default::default()
                }),
            })
            .collect()
    }

    fn apply_events(
        &mut self,
        m: MissionId,
        events: &[Event],
    ) -> Result<(usize, usize, usize), String> {
        let mut s = self.store.lock();
        let r = s.merge(m, events).map_err(|e| e.to_string())?;
        if !r.rejected.is_empty() {
            tracing::warn!(mission = %m, rejected = r.rejected.len(), "merged events rejected");
        }
        Ok((r.added, r.duplicates, r.rejected.len()))
    }

    fn apply_strip(&mut self, m: MissionId, raw: &[u8]) -> Result<(), String> {
        self.store
            .lock()
            .merge_strip(m, raw)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn merged(
        &mut self,
        from_call_sign: &str,
        done: &[DoneEntry],
    ) -> Result<Vec<DoneEntry>, String> {
        let mut s = self.store.lock();
        let mut out = Vec::new();
        for d in done {
            let known = s.state(d.mission).is_some_and(|st| {
                st.merges
                    .iter()
                    .any(|r| r.from_call_sign == from_call_sign && r.log_digest == d.digest)
            });
            if !known {
                s.apply(
                    d.mission,
                    Payload::LogMerged {
                        from_call_sign: from_call_sign.to_string(),
                        log_digest: d.digest,
                        events: d.events,
                    },
                )
                .map_err(|e| e.to_string())?;
            }
            let log = s.log(d.mission).ok_or("mission vanished")?;
            out.push(DoneEntry {
                mission: d.mission,
                digest: log.digest(),
                events: log.len() as u32,
            });
        }
        Ok(out)
    }
}
