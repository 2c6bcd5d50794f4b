//! The event log of one mission: append, verify, merge.
//!
//! Invariants:
//! - `events` is sorted by `(hlc, id)` and holds each event id once.
//! - Strict inserts only extend a device's chain (`seq = head + 1`,
//!   `prev = head hash`); recovery uses tolerant inserts that record gaps
//!   instead of dropping data.
//! - Merging is set union by event id, ordered by `(hlc, id)`: deterministic,
//!   idempotent and commutative. Two different events with one id (tampering
//!   or a bug) are reported; the pure [`merge`] keeps the one with the smaller
//!   hash so that both sides agree.

use super::event::{Event, EventId, Hash, MissionId, Payload, next_hlc};
use crate::sha256;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Who creates local events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// The pad's serial.
    pub device: String,
    /// Crew member id from the shift login.
    pub crew_member: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("event {event} belongs to mission {found}, not {expected}")]
    WrongMission {
        event: EventId,
        expected: MissionId,
        found: MissionId,
    },
    #[error("event {event} does not extend the chain of device {device} (seq {seq}, head {head})")]
    ChainBroken {
        event: EventId,
        device: String,
        seq: u64,
        head: u64,
    },
    #[error("event id {0} exists with different content")]
    Conflict(EventId),
}

/// Something found while verifying or restoring a log; data is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogIssue {
    /// A device chain skips `missing_from..missing_to` or has a wrong link.
    ChainGap {
        device: String,
        at_seq: u64,
    },
    /// Two different events with the same id.
    Conflict(EventId),
    WrongMission(EventId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// New event at `index`; `at_end` means no refold is needed.
    New {
        index: usize,
        at_end: bool,
    },
    Duplicate,
}

/// Result of merging another log in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    pub added: usize,
    pub duplicates: usize,
    pub rejected: Vec<LogError>,
}

#[derive(Debug, Clone)]
pub struct MissionLog {
    mission: MissionId,
    events: Vec<Event>,
    hashes: HashMap<EventId, Hash>,
    heads: BTreeMap<String, (u64, Hash)>,
    max_hlc: u64,
}

impl MissionLog {
    pub fn new(mission: MissionId) -> Self {
        MissionLog {
            mission,
            events: Vec::new(),
            hashes: HashMap::new(),
            heads: BTreeMap::new(),
            max_hlc: 0,
        }
    }

    pub fn mission(&self) -> MissionId {
        self.mission
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn contains(&self, id: EventId) -> bool {
        self.hashes.contains_key(&id)
    }

    pub fn hash_of(&self, id: EventId) -> Option<Hash> {
        self.hashes.get(&id).copied()
    }

    /// Highest seq of `device` in this log (0 if none).
    pub fn head(&self, device: &str) -> u64 {
        self.heads.get(device).map_or(0, |h| h.0)
    }

    /// Builds the next local event; [`MissionLog::insert`] it once it is durable.
    pub fn prepare(&self, author: &Author, wall_ms: i64, mono_ns: u64, payload: Payload) -> Event {
        let (seq, prev) = self
            .heads
            .get(&author.device)
            .map_or((1, Hash::ZERO), |(s, h)| (s + 1, *h));
        Event {
            id: EventId::new(),
            mission: self.mission,
            patient: payload.patient(),
            author: author.crew_member,
            device: author.device.clone(),
            seq,
            prev,
            wall_ms,
            mono_ns,
            hlc: next_hlc(self.max_hlc, wall_ms),
            payload,
        }
    }

    /// Inserts an event that must extend its device's chain.
    pub fn insert(&mut self, ev: Event) -> Result<Inserted, LogError> {
        self.insert_inner(ev, true)
    }

    /// Inserts during recovery: a broken link is accepted (the caller records
    /// the gap) because dropping later events would lose data.
    pub fn insert_tolerant(&mut self, ev: Event) -> Result<Inserted, LogError> {
        self.insert_inner(ev, false)
    }

    fn insert_inner(&mut self, ev: Event, strict: bool) -> Result<Inserted, LogError> {
        if ev.mission != self.mission {
            return Err(LogError::WrongMission {
                event: ev.id,
                expected: self.mission,
                found: ev.mission,
            });
        }
        let h = ev.hash();
        if let Some(existing) = self.hashes.get(&ev.id) {
            return if *existing == h {
                Ok(Inserted::Duplicate)
            } else {
                Err(LogError::Conflict(ev.id))
            };
        }
        let head = self.heads.get(&ev.device).copied();
        let links = match head {
            None => ev.seq == 1 && ev.prev == Hash::ZERO,
            Some((s, hh)) => ev.seq == s + 1 && ev.prev == hh,
        };
        if strict && !links {
            return Err(LogError::ChainBroken {
                event: ev.id,
                device: ev.device.clone(),
                seq: ev.seq,
                head: head.map_or(0, |x| x.0),
            });
        }
        if head.is_none_or(|(s, _)| ev.seq > s) {
            self.heads.insert(ev.device.clone(), (ev.seq, h));
        }
        self.max_hlc = self.max_hlc.max(ev.hlc);
        self.hashes.insert(ev.id, h);
        let key = ev.order_key();
        let index = self.events.partition_point(|e| e.order_key() < key);
        let at_end = index == self.events.len();
        self.events.insert(index, ev);
        Ok(Inserted::New { index, at_end })
    }

    /// Restores a log from stored events in any order, keeping every event of
    /// this mission and reporting what does not verify.
    pub fn restore(mission: MissionId, mut events: Vec<Event>) -> (MissionLog, Vec<LogIssue>) {
        events.sort_by(|a, b| (&a.device, a.seq, a.id).cmp(&(&b.device, b.seq, b.id)));
        let mut log = MissionLog::new(mission);
        let mut issues = Vec::new();
        for ev in events {
            let (id, device, seq) = (ev.id, ev.device.clone(), ev.seq);
            let linked = match log.heads.get(&device) {
                None => seq == 1 && ev.prev == Hash::ZERO,
                Some((s, h)) => seq == s + 1 && ev.prev == *h,
            };
            match log.insert_tolerant(ev) {
                Ok(Inserted::New { .. }) if !linked => issues.push(LogIssue::ChainGap {
                    device,
                    at_seq: seq,
                }),
                Ok(_) => {}
                Err(LogError::Conflict(id)) => issues.push(LogIssue::Conflict(id)),
                Err(LogError::WrongMission { .. }) => issues.push(LogIssue::WrongMission(id)),
                Err(LogError::ChainBroken { .. }) => issues.push(LogIssue::ChainGap {
                    device,
                    at_seq: seq,
                }),
            }
        }
        (log, issues)
    }

    /// Merges events from another pad. Each device chain must link to what
    /// this log already has; events that do not are rejected, not guessed.
    pub fn merge_from(&mut self, other: &[Event]) -> MergeReport {
        let mut incoming: Vec<&Event> = other.iter().collect();
        incoming.sort_by(|a, b| (&a.device, a.seq, a.id).cmp(&(&b.device, b.seq, b.id)));
        let mut report = MergeReport::default();
        for ev in incoming {
            match self.insert(ev.clone()) {
                Ok(Inserted::New { .. }) => report.added += 1,
                Ok(Inserted::Duplicate) => report.duplicates += 1,
                Err(e) => report.rejected.push(e),
            }
        }
        report
    }

    /// Checks every device chain; empty means the log verifies.
    pub fn verify(&self) -> Vec<LogIssue> {
        verify(&self.events)
    }

    /// SHA-256 over the hashes of all events in log order: the head that
    /// the PDF and the upload receipt quote.
    pub fn digest(&self) -> Hash {
        digest(&self.events)
    }
}

/// Checks the per-device hash chains of `events`.
pub fn verify(events: &[Event]) -> Vec<LogIssue> {
    let mut by_device: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in events {
        by_device.entry(&e.device).or_default().push(e);
    }
    let mut issues = Vec::new();
    for (device, mut chain) in by_device {
        chain.sort_by_key(|e| e.seq);
        let mut prev = (0u64, Hash::ZERO);
        for e in chain {
            if e.seq != prev.0 + 1 || e.prev != prev.1 {
                issues.push(LogIssue::ChainGap {
                    device: device.to_string(),
                    at_seq: e.seq,
                });
            }
            prev = (e.seq, e.hash());
        }
    }
    issues
}

/// SHA-256 over the event hashes in order.
pub fn digest(events: &[Event]) -> Hash {
    let mut buf = Vec::with_capacity(events.len() * 32);
    for e in events {
        buf.extend_from_slice(&e.hash().0);
    }
    Hash(sha256(&buf))
}

/// Pure merge of two event sets: union by id, ordered by `(hlc, id)`.
pub fn merge(a: &[Event], b: &[Event]) -> Vec<Event> {
    let mut by_id: HashMap<EventId, (Hash, &Event)> = HashMap::new();
    for e in a.iter().chain(b.iter()) {
        let h = e.hash();
        match by_id.get(&e.id) {
            Some((existing, _)) if *existing <= h => {}
            _ => {
                by_id.insert(e.id, (h, e));
            }
        }
    }
    let mut out: Vec<Event> = by_id.into_values().map(|(_, e)| e.clone()).collect();
    out.sort_by_key(|e| e.order_key());
    out
}

#[cfg(test)]
mod tests {
    use super::super::event::{Payload, Target};
    use super::super::value::Value;
    use super::*;
    use crate::keys;

    fn author(d: &str) -> Author {
        Author {
            device: d.into(),
            crew_member: Uuid::now_v7(),
        }
    }

    fn set(n: u32) -> Payload {
        Payload::Set {
            target: Target::Mission,
            field: keys::remarks::TEXT.into(),
            value: Value::Text(n.to_string()),
        }
    }

    #[test]
    fn local_chain_links_and_verifies() {
        let mut log = MissionLog::new(MissionId::new());
        let a = author("PAD-A");
        for i in 0..5 {
            let ev = log.prepare(&a, 1_000 + i64::from(i), 0, set(i));
            assert_eq!(ev.seq, u64::from(i) + 1);
            assert!(matches!(
                log.insert(ev),
                Ok(Inserted::New { at_end: true, .. })
            ));
        }
        assert!(log.verify().is_empty());
        assert_eq!(log.head("PAD-A"), 5);
    }

    #[test]
    fn strict_insert_refuses_gaps_and_forks() {
        let mut log = MissionLog::new(MissionId::new());
        let a = author("PAD-A");
        let e1 = log.prepare(&a, 1, 0, set(1));
        let mut e2 = e1.clone();
        e2.id = EventId::new();
        e2.seq = 2;
        e2.prev = Hash([9; 32]);
        log.insert(e1.clone()).unwrap();
        assert!(matches!(log.insert(e2), Err(LogError::ChainBroken { .. })));
        assert_eq!(log.insert(e1.clone()), Ok(Inserted::Duplicate));
        let mut forged = e1;
        forged.wall_ms += 1;
        assert!(matches!(log.insert(forged), Err(LogError::Conflict(_))));
        let mut other = log.prepare(&a, 5, 0, set(2));
        other.mission = MissionId::new();
        assert!(matches!(
            log.insert(other),
            Err(LogError::WrongMission { .. })
        ));
    }

    #[test]
    fn restore_keeps_events_after_a_gap() {
        let mut log = MissionLog::new(MissionId::new());
        let a = author("PAD-A");
        let mut all = Vec::new();
        for i in 0..4 {
            let ev = log.prepare(&a, i64::from(i), 0, set(i));
            log.insert(ev.clone()).unwrap();
            all.push(ev);
        }
        all.remove(1); // a lost middle record
        let (restored, issues) = MissionLog::restore(log.mission(), all);
        assert_eq!(restored.len(), 3);
        assert_eq!(
            issues,
            vec![LogIssue::ChainGap {
                device: "PAD-A".into(),
                at_seq: 3
            }]
        );
        // the next local event continues after the highest seq
        assert_eq!(restored.prepare(&a, 10, 0, set(9)).seq, 5);
    }

    #[test]
    fn hlc_orders_events_after_clock_jump() {
        let mut log = MissionLog::new(MissionId::new());
        let a = author("PAD-A");
        let e1 = log.prepare(&a, 10_000, 0, set(1));
        log.insert(e1).unwrap();
        let e2 = log.prepare(&a, 5_000, 0, set(2)); // clock went back
        log.insert(e2.clone()).unwrap();
        assert_eq!(log.events().last().map(|e| e.id), Some(e2.id));
    }

    #[test]
    fn merge_two_pads_both_directions_agree() {
        let m = MissionId::new();
        let mut a = MissionLog::new(m);
        let mut b = MissionLog::new(m);
        let (pa, pb) = (author("NEF"), author("RTW"));
        for i in 0..3 {
            let e = a.prepare(&pa, 100 + i64::from(i), 0, set(i));
            a.insert(e).unwrap();
            let e = b.prepare(&pb, 101 + i64::from(i), 0, set(10 + i));
            b.insert(e).unwrap();
        }
        let (a0, b0) = (a.clone(), b.clone());
        let ra = a.merge_from(b0.events());
        let rb = b.merge_from(a0.events());
        assert_eq!((ra.added, rb.added), (3, 3));
        assert_eq!(a.events(), b.events());
        assert_eq!(a.digest(), b.digest());
        assert!(a.verify().is_empty());
        let again = a.merge_from(b0.events());
        assert_eq!((again.added, again.duplicates), (0, 3));
        // a later local event on A still links to A's own chain
        let e = a.prepare(&pa, 200, 0, set(99));
        assert_eq!(e.seq, 4);
        a.insert(e).unwrap();
        assert!(a.verify().is_empty());
    }

    #[test]
    fn merge_rejects_partial_chain() {
        let m = MissionId::new();
        let mut a = MissionLog::new(m);
        let mut b = MissionLog::new(m);
        let pb = author("RTW");
        for i in 0..3 {
            let e = b.prepare(&pb, i64::from(i), 0, set(i));
            b.insert(e).unwrap();
        }
        let tail: Vec<Event> = b.events()[1..].to_vec();
        let r = a.merge_from(&tail);
        assert_eq!(r.added, 0);
        assert_eq!(r.rejected.len(), 2);
        let r = a.merge_from(b.events());
        assert_eq!(r.added, 3);
    }
}
