//! Monitor values and strips into the record, with their retry policy.
//!
//! DIVI wants the course, so values go in by themselves: the importer says
//! what is due (the periodic set, settled episodic values, shocks) for the
//! patient it was made for. Each due payload is queued with its mission and
//! written in order; while the vault refuses (a full disk) nothing is lost
//! and nothing is reordered, and a later mission switch cannot send them
//! into the wrong mission. Device values are no user activity: they never
//! postpone the idle lock.

use crate::workflow::Cursor;
use rettpad_devices::import::{ImportConfig, Importer};
use rettpad_devices::obs::{HostTime, Observation};
use rettpad_record::text::Notice;
use rettpad_record::wave::Strip;
use rettpad_record::{MissionId, PatientId, Payload};
use rettpad_vault::store::SharedStore;
use std::collections::VecDeque;

/// Payloads kept while the vault refuses them: two weeks of 5-minute sets
/// with their episodic values, a few MB. Beyond it the oldest goes, counted
/// and reported, rather than memory growing without bound.
pub const MAX_UNSAVED: usize = 4096;
/// Strips waiting for a patient to be opened.
pub const MAX_WAITING_STRIPS: usize = 16;

/// Where intake writes: the vault, or a test's stand-in.
pub trait IntakeSink {
    fn apply(&mut self, m: MissionId, p: Payload) -> Result<(), Notice>;
    fn put_strip(&mut self, m: MissionId, p: PatientId, s: &Strip) -> Result<(), Notice>;
}

impl IntakeSink for SharedStore {
    fn apply(&mut self, m: MissionId, p: Payload) -> Result<(), Notice> {
        let res = self.lock().apply(m, p);
        res.map(|_| ()).map_err(|e| {
            tracing::warn!(error = %e, "device value not saved");
            Notice::of(&e)
        })
    }

    fn put_strip(&mut self, m: MissionId, p: PatientId, s: &Strip) -> Result<(), Notice> {
        let res = self.lock().put_strip(m, p, s);
        res.map(|_| ()).map_err(|e| {
            tracing::warn!(error = %e, "device strip not saved");
            Notice::of(&e)
        })
    }
}

/// What a poll did, for the crew's status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeEvent {
    ValuesSaved(usize),
    StripSaved(String),
    /// The vault refused; everything is kept and retried on the next poll.
    Refused(Notice),
    /// The oldest values had to go after the vault refused them too long.
    ValuesDropped(u64),
}

/// The device side of the open patient's record.
#[derive(Default)]
pub struct DeviceIntake {
    label: String,
    every_min: u32,
    importer: Option<(PatientId, Importer)>,
    unsaved: VecDeque<(MissionId, Payload)>,
    values_dropped: u64,
    strips: VecDeque<Strip>,
    strips_saved: Vec<String>,
    strips_dropped: u64,
}

impl DeviceIntake {
    /// `every_min`: minutes between automatic sets (0: only on "übernehmen").
    pub fn new(every_min: u32) -> DeviceIntake {
        DeviceIntake {
            every_min,
            ..DeviceIntake::default()
        }
    }

    /// A new device: its label on every value; the old importer goes.
    pub fn set_device(&mut self, label: &str) {
        self.label = label.to_string();
        self.importer = None;
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn every_min(&self) -> u32 {
        self.every_min
    }

    pub fn set_every_min(&mut self, min: u32) {
        self.every_min = min;
        if let Some((_, imp)) = &mut self.importer {
            imp.set_interval_ms(i64::from(min) * 60_000);
        }
    }

    /// One observation from the device. Values are kept for `patient` (the
    /// one in view); a new patient gets a fresh importer.
    pub fn observe(&mut self, o: &Observation, patient: Option<PatientId>, utc_offset_ms: i64) {
        if let Some(p) = patient
            && self.importer.as_ref().is_none_or(|(ip, _)| *ip != p)
        {
            let cfg = ImportConfig {
                device_label: self.label.clone(),
                utc_offset_ms,
                interval_ms: i64::from(self.every_min) * 60_000,
                ..Default::default()
            };
            self.importer = Some((p, Importer::new(cfg, p)));
        }
        if let Some((_, imp)) = &mut self.importer {
            imp.push(o);
        }
    }

    /// A strip cut by the live view (around a shock or an alarm).
    pub fn queue_strip(&mut self, s: Strip) {
        if self.strips.len() == MAX_WAITING_STRIPS {
            self.strips.pop_front();
            self.strips_dropped += 1;
            tracing::warn!("device strip dropped: no patient open for too long");
        }
        self.strips.push_back(s);
    }

    /// "übernehmen" has something to take for `patient`.
    pub fn values_ready(&self, patient: Option<PatientId>) -> bool {
        matches!((&self.importer, patient), (Some((ip, imp)), Some(p)) if *ip == p && imp.has_current())
    }

    /// "Vom Monitor übernehmen": the current values as one vitals entry.
    pub fn take_now(&mut self, patient: PatientId) -> Option<Payload> {
        match &mut self.importer {
            Some((ip, imp)) if *ip == patient => imp.take_now(),
            _ => None,
        }
    }

    pub fn strips_waiting(&self) -> usize {
        self.strips.len()
    }

    pub fn strips_saved(&self) -> &[String] {
        &self.strips_saved
    }

    pub fn strips_dropped(&self) -> u64 {
        self.strips_dropped
    }

    /// Values waiting for the vault.
    pub fn unsaved(&self) -> usize {
        self.unsaved.len()
    }

    pub fn values_dropped(&self) -> u64 {
        self.values_dropped
    }

    /// Moves what is due into the record: queued values first, in order,
    /// then waiting strips into the open patient. Stops at the first refusal.
    pub fn poll(
        &mut self,
        now: HostTime,
        cursor: Cursor,
        sink: &mut dyn IntakeSink,
    ) -> Vec<IntakeEvent> {
        let mut out = Vec::new();
        if let (Some(m), Some(p)) = (cursor.mission, cursor.patient)
            && let Some((ip, imp)) = &mut self.importer
            && *ip == p
        {
            self.unsaved
                .extend(imp.drain(now).into_iter().map(|pl| (m, pl)));
        }
        let over = self.unsaved.len().saturating_sub(MAX_UNSAVED);
        if over > 0 {
            self.unsaved.drain(..over);
            self.values_dropped += over as u64;
            tracing::warn!(
                count = over,
                "device values dropped: the vault refused them too long"
            );
            out.push(IntakeEvent::ValuesDropped(over as u64));
        }
        let mut saved = 0;
        while let Some((m, payload)) = self.unsaved.front().cloned() {
            if let Err(n) = sink.apply(m, payload) {
                out.push(IntakeEvent::Refused(n));
                return out;
            }
            self.unsaved.pop_front();
            saved += 1;
        }
        if saved > 0 {
            out.push(IntakeEvent::ValuesSaved(saved));
        }
        let (Some(m), Some(p)) = (cursor.mission, cursor.patient) else {
            return out;
        };
        while let Some(s) = self.strips.front() {
            if let Err(n) = sink.put_strip(m, p, s) {
                out.push(IntakeEvent::Refused(n));
                break;
            }
            let label = s.label.clone();
            self.strips.pop_front();
            self.strips_saved.push(label.clone());
            out.push(IntakeEvent::StripSaved(label));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rettpad_devices::ieee11073::Decimal;
    use rettpad_devices::obs::{
        DeviceTime, MeasStatus, Metric, Numeric, Reading, Timestamps, Unit,
    };
    use rettpad_record::keys;
    use rettpad_record::wave::{Lead, StripKind};

    /// A vault that refuses while `full` is set (a full disk) and keeps
    /// what it took, in order.
    #[derive(Default)]
    struct Vault {
        full: bool,
        values: Vec<(MissionId, Payload)>,
        strips: Vec<(MissionId, PatientId, String)>,
    }

    impl IntakeSink for Vault {
        fn apply(&mut self, m: MissionId, p: Payload) -> Result<(), Notice> {
            if self.full {
                return Err(Notice::new("Speicher voll.", "disk full"));
            }
            self.values.push((m, p));
            Ok(())
        }

        fn put_strip(&mut self, m: MissionId, p: PatientId, s: &Strip) -> Result<(), Notice> {
            if self.full {
                return Err(Notice::new("Speicher voll.", "disk full"));
            }
            self.strips.push((m, p, s.label.clone()));
            Ok(())
        }
    }

    fn hr(bpm: i64, civil_ms: i64, mono_ms: u64) -> Observation {
        Observation::Numeric(Numeric {
            metric: Metric::HeartRate,
            reading: Reading::Value(Decimal::new(bpm, 0)),
            unit: Unit::PerMin,
            status: MeasStatus::default(),
            time: Timestamps {
                device: Some(DeviceTime { civil_ms }),
                host: HostTime {
                    wall_ms: 0,
                    mono_ms,
                },
                seq: None,
            },
            episodic: false,
        })
    }

    fn at(mono_ms: u64) -> HostTime {
        HostTime {
            wall_ms: 0,
            mono_ms,
        }
    }

    fn strip(label: &str) -> Strip {
        Strip {
            kind: StripKind::Rhythm,
            start_ms: T0,
            sample_rate_hz: 500,
            uv_per_lsb: 5.0,
            leads: vec![Lead {
                name: "II".into(),
                samples: vec![0; 5000],
            }],
            device: "MP50".into(),
            label: label.into(),
        }
    }

    const T0: i64 = 1_800_000_000_000;

    /// A monitor streaming one heart rate a second for `minutes`.
    fn stream(i: &mut DeviceIntake, p: PatientId, from_s: i64, minutes: i64) {
        for s in from_s..from_s + minutes * 60 {
            i.observe(&hr(80, T0 + s * 1000, s as u64 * 1000), Some(p), 3_600_000);
        }
    }

    #[test]
    fn a_refusing_vault_loses_no_value_and_keeps_the_order() {
        let (m, p) = (MissionId::new(), PatientId::new());
        let cursor = Cursor {
            mission: Some(m),
            patient: Some(p),
            entry: None,
        };
        let mut i = DeviceIntake::new(5);
        i.set_device("MP50");
        let mut v = Vault {
            full: true,
            ..Vault::default()
        };
        // 30 minutes of values while the disk is full: the first set and
        // one every 5 minutes are due, none is written, all are kept.
        for k in 0..30 {
            stream(&mut i, p, k * 60, 1);
            let ev = i.poll(at((k as u64 + 1) * 60_000 + 20_000), cursor, &mut v);
            assert!(
                matches!(ev.as_slice(), [IntakeEvent::Refused(_)] | []),
                "{ev:?}"
            );
        }
        assert!(v.values.is_empty());
        let waiting = i.unsaved();
        assert!(waiting >= 5, "{waiting} sets waiting");
        // Space again: everything goes in, in order, into its mission.
        v.full = false;
        let ev = i.poll(at(31 * 60_000), cursor, &mut v);
        assert_eq!(ev, vec![IntakeEvent::ValuesSaved(waiting)]);
        assert_eq!(v.values.len(), waiting);
        assert!(v.values.iter().all(|(vm, _)| *vm == m));
        let times: Vec<i64> = v
            .values
            .iter()
            .filter_map(|(_, pl)| match pl {
                Payload::EntryAdded { fields, .. } => match fields.get(keys::vitals::AT) {
                    Some(rettpad_record::Value::Time(t)) => Some(t.at_ms),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "in order: {times:?}");
        assert_eq!(i.values_dropped(), 0);
    }

    #[test]
    fn queued_values_stay_with_their_mission_after_a_switch() {
        let (m1, p1) = (MissionId::new(), PatientId::new());
        let (m2, p2) = (MissionId::new(), PatientId::new());
        let mut i = DeviceIntake::new(5);
        let mut v = Vault {
            full: true,
            ..Vault::default()
        };
        stream(&mut i, p1, 0, 1);
        let c1 = Cursor {
            mission: Some(m1),
            patient: Some(p1),
            entry: None,
        };
        // Two polls 10 s apart: the first set has settled and is due.
        i.poll(at(80_000), c1, &mut v);
        i.poll(at(95_000), c1, &mut v);
        assert_eq!(i.unsaved(), 1);
        v.full = false;
        let c2 = Cursor {
            mission: Some(m2),
            patient: Some(p2),
            entry: None,
        };
        i.poll(at(100_000), c2, &mut v);
        assert_eq!(v.values.len(), 1);
        assert_eq!(v.values[0].0, m1, "not into the mission opened later");
    }

    #[test]
    fn the_queue_is_bounded_and_says_what_it_dropped() {
        let (m, p) = (MissionId::new(), PatientId::new());
        let mut i = DeviceIntake::new(5);
        for _ in 0..MAX_UNSAVED + 3 {
            i.unsaved
                .push_back((m, Payload::PatientAdded { patient: p }));
        }
        let mut v = Vault {
            full: true,
            ..Vault::default()
        };
        let cursor = Cursor::default();
        let ev = i.poll(at(0), cursor, &mut v);
        assert_eq!(ev[0], IntakeEvent::ValuesDropped(3));
        assert_eq!(i.unsaved(), MAX_UNSAVED);
        assert_eq!(i.values_dropped(), 3);
    }

    #[test]
    fn strips_wait_for_a_patient_and_then_go_into_its_record() {
        let (m, p) = (MissionId::new(), PatientId::new());
        let mut i = DeviceIntake::new(5);
        let mut v = Vault::default();
        for k in 0..MAX_WAITING_STRIPS + 2 {
            i.queue_strip(strip(&format!("Schock {k}")));
        }
        assert!(i.poll(at(0), Cursor::default(), &mut v).is_empty());
        assert_eq!(i.strips_waiting(), MAX_WAITING_STRIPS);
        assert_eq!(i.strips_dropped(), 2);
        let cursor = Cursor {
            mission: Some(m),
            patient: Some(p),
            entry: None,
        };
        let ev = i.poll(at(0), cursor, &mut v);
        assert_eq!(ev.len(), MAX_WAITING_STRIPS);
        assert_eq!(v.strips[0], (m, p, "Schock 2".to_string()));
        assert_eq!(i.strips_saved().len(), MAX_WAITING_STRIPS);
    }
}
