//! Observations → record payloads (`Collection::Vitals`, `Collection::Measure`).
//!
//! Policy (what reaches the record and what does not):
//! - continuous numerics: a vitals entry with the first values, then one
//!   every `interval_ms` of observation time (default 5 min);
//! - every episodic value (NIBP, temperature, glucose, spot check) is an
//!   entry of its own, values measured together share one entry;
//! - NaN, NRes, reserved, "invalid" and "unavailable" become
//!   `not_measurable` (the device says it cannot measure);
//! - ±INF, under/over range, not updated, discontinuity, not calibrated,
//!   questionable values and values outside the catalog's hard range are
//!   **kept out** (a number exists but is not one we may write down) and
//!   counted; test, demo and calibration data are kept out and counted;
//! - deduplication keys on device time or device sequence number, never
//!   on arrival; a replayed frame adds nothing;
//! - shocks and 12-lead acquisitions become measures (code 14 / 17).

use super::obs::{EventKind, HostTime, MeasStatus, Metric, Numeric, Observation, Reading, Unit};
use rettpad_record::catalog::{self, Scope};
use rettpad_record::keys;
use rettpad_record::{
    Collection, EntryId, Measured, Num, PatientId, Payload, TimeSource, TimeValue, Value,
    ValueSource,
};
use std::collections::{BTreeMap, HashSet, VecDeque};

#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// Shown as the source of every value (`ValueSource::Device`).
    pub device_label: String,
    pub interval_ms: i64,
    /// Device civil time minus UTC (the pad's zone offset; devices send
    /// local time without a zone).
    pub utc_offset_ms: i64,
    /// Continuous values older than this (relative to the entry time) are
    /// not put into a periodic entry.
    pub max_age_ms: i64,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            device_label: String::new(),
            interval_ms: 5 * 60_000,
            utc_offset_ms: 0,
            max_age_ms: 30_000,
        }
    }
}

/// Counts of what was kept out and why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportStats {
    pub duplicates: u64,
    pub not_live: u64,
    pub out_of_range: u64,
    pub questionable: u64,
    pub unit_mismatch: u64,
    pub unmapped: u64,
    pub entries: u64,
}

#[derive(Debug, Clone)]
struct Item {
    at_ms: i64,
    key: Option<i64>,
    field: &'static str,
    value: Measured,
}

pub struct Importer {
    cfg: ImportConfig,
    patient: PatientId,
    latest: BTreeMap<&'static str, Item>,
    /// Episodic values with their host arrival (mono ms), settling.
    pending_episodic: Vec<(u64, Item)>,
    pending_measures: Vec<Payload>,
    seen: HashSet<(Metric, i64)>,
    seen_order: VecDeque<(Metric, i64)>,
    last_episodic: BTreeMap<Metric, Reading>,
    last_periodic_ms: Option<i64>,
    newest_continuous_ms: Option<i64>,
    /// Host mono ms at which the next periodic entry became due.
    due_since: Option<u64>,
    pub stats: ImportStats,
}

const SEEN_CAP: usize = 4096;
/// Episodic values measured together (one PDU or indication) arrive
/// together; a group is written once it has been quiet this long.
pub const SETTLE_MS: u64 = 300;

fn field_of(m: Metric) -> Option<&'static str> {
    Some(match m {
        Metric::HeartRate | Metric::PulseRate => keys::vitals::HR,
        Metric::SpO2 => keys::vitals::SPO2,
        Metric::NibpSys => keys::vitals::BP_SYS,
        Metric::NibpDia => keys::vitals::BP_DIA,
        Metric::RespRate => keys::vitals::RR,
        Metric::EtCo2 => keys::vitals::ETCO2,
        Metric::Temperature => keys::vitals::TEMP,
        Metric::Glucose => keys::vitals::GLUCOSE,
        _ => return None,
    })
}

/// `round(m · 10^(e+3) · p / q)` in i128, `None` on overflow.
fn scaled(m: i64, e: i8, p: i128, q: i128) -> Option<i64> {
    let shift = i32::from(e) + 3;
    let (mut num, mut den) = (i128::from(m).checked_mul(p)?, q);
    if shift >= 0 {
        num = num.checked_mul(10i128.checked_pow(u32::try_from(shift).ok()?)?)?;
    } else {
        let k = u32::try_from(-shift).ok()?;
        if k > 30 {
            return Some(0);
        }
        den = den.checked_mul(10i128.pow(k))?;
    }
    let q0 = num / den;
    let r = num % den;
    let v = if r.abs() * 2 >= den.abs() {
        q0 + num.signum() * den.signum()
    } else {
        q0
    };
    i64::try_from(v).ok()
}

/// The value in the catalog field's unit, as thousandths.
fn convert(field: &str, d: super::obs::Decimal, unit: Unit) -> Result<Num, ()> {
    let (m, e) = (d.mantissa, d.exponent);
    let v = match (field, unit) {
        (keys::vitals::HR | keys::vitals::RR, Unit::PerMin) => scaled(m, e, 1, 1),
        (keys::vitals::SPO2, Unit::Percent) => scaled(m, e, 1, 1),
        (keys::vitals::BP_SYS | keys::vitals::BP_DIA | keys::vitals::ETCO2, Unit::MmHg) => {
            scaled(m, e, 1, 1)
        }
        // 101.325 kPa = 760 mmHg
        (keys::vitals::BP_SYS | keys::vitals::BP_DIA | keys::vitals::ETCO2, Unit::KPa) => {
            scaled(m, e, 760_000, 101_325)
        }
        (keys::vitals::TEMP, Unit::Celsius) => scaled(m, e, 1, 1),
        (keys::vitals::TEMP, Unit::Fahrenheit) => scaled(m, e, 1, 1)
            .and_then(|f| (f - 32_000).checked_mul(5))
            .map(|x| {
                let r = x % 9;
                x / 9 + if r.abs() * 2 >= 9 { x.signum() } else { 0 }
            }),
        // 1 kg/L = 10^5 mg/dl; 1 mol/L glucose = 180.16 g/L = 18016 mg/dl
        (keys::vitals::GLUCOSE, Unit::KgPerL) => scaled(m, e, 100_000, 1),
        (keys::vitals::GLUCOSE, Unit::MolPerL) => scaled(m, e, 18_016, 1),
        (keys::vitals::GLUCOSE, Unit::MgPerDl) => scaled(m, e, 1, 1),
        (keys::vitals::GLUCOSE, Unit::MmolPerL) => scaled(m, e, 18_016, 1_000),
        // etCO2 as a volume fraction (%) would need the barometric pressure:
        // refused and counted rather than guessed.
        _ => return Err(()),
    };
    v.map(Num).ok_or(())
}

impl Importer {
    pub fn new(cfg: ImportConfig, patient: PatientId) -> Importer {
        Importer {
            cfg,
            patient,
            latest: BTreeMap::new(),
            pending_episodic: Vec::new(),
            pending_measures: Vec::new(),
            seen: HashSet::new(),
            seen_order: VecDeque::new(),
            last_episodic: BTreeMap::new(),
            last_periodic_ms: None,
            newest_continuous_ms: None,
            due_since: None,
            stats: ImportStats::default(),
        }
    }

    fn source(&self) -> ValueSource {
        ValueSource::Device {
            device: self.cfg.device_label.clone(),
        }
    }

    fn remember(&mut self, k: (Metric, i64)) -> bool {
        if !self.seen.insert(k) {
            return false;
        }
        self.seen_order.push_back(k);
        if self.seen_order.len() > SEEN_CAP
            && let Some(old) = self.seen_order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }

    /// Takes one observation. Call [`Importer::drain`] after each batch.
    pub fn push(&mut self, o: &Observation) {
        match o {
            Observation::Numeric(n) => self.numeric(n),
            Observation::Event(e) => {
                let at_ms = match e.time.device {
                    Some(d) => d.civil_ms - self.cfg.utc_offset_ms,
                    None => e.time.host.wall_ms,
                };
                let (code, energy) = match e.kind {
                    EventKind::ShockDelivered { joules } => ("14", Some(joules)),
                    EventKind::TwelveLeadAcquired => ("17", None),
                    _ => return,
                };
                if let Some(d) = e.time.device
                    && !self.remember((Metric::Other(u32::from(code == "14")), d.civil_ms))
                {
                    self.stats.duplicates += 1;
                    return;
                }
                let mut fields = BTreeMap::new();
                fields.insert(keys::measure::KIND.to_string(), Value::code(code));
                fields.insert(keys::measure::AT.to_string(), self.time(at_ms));
                if let Some(j) = energy {
                    let v = Value::Int(i64::from(j));
                    if catalog::validate(
                        Scope::Entry(Collection::Measure),
                        keys::measure::ENERGY_J,
                        &v,
                    )
                    .is_ok()
                    {
                        fields.insert(keys::measure::ENERGY_J.to_string(), v);
                    } else {
                        self.stats.out_of_range += 1;
                    }
                }
                self.pending_measures.push(Payload::EntryAdded {
                    patient: self.patient,
                    collection: Collection::Measure,
                    entry: EntryId::new(),
                    fields,
                });
            }
            _ => {}
        }
    }

    fn time(&self, at_ms: i64) -> Value {
        Value::Time(TimeValue {
            at_ms,
            source: TimeSource::Device {
                device: self.cfg.device_label.clone(),
            },
        })
    }

    fn numeric(&mut self, n: &Numeric) {
        let Some(field) = field_of(n.metric) else {
            self.stats.unmapped += 1;
            return;
        };
        if n.status.is_not_live_patient_data()
            || (n.status.has(MeasStatus::FROM_STORAGE) && !n.episodic)
        {
            self.stats.not_live += 1;
            return;
        }
        let key = n
            .time
            .device
            .map(|d| d.civil_ms)
            .or(n.time.seq.map(|s| s as i64));
        let duplicate = match key {
            Some(k) => !self.remember((n.metric, k)),
            // No clock and no sequence: a repeat of the same reading is
            // taken to be the same measurement.
            None => n.episodic && self.last_episodic.get(&n.metric) == Some(&n.reading),
        };
        if duplicate {
            self.stats.duplicates += 1;
            return;
        }
        if n.episodic {
            self.last_episodic.insert(n.metric, n.reading);
        }
        let value = if n.status.is_unusable() {
            Measured::not_measurable(self.source())
        } else {
            match n.reading {
                Reading::NaN | Reading::NRes | Reading::Reserved | Reading::Invalid => {
                    Measured::not_measurable(self.source())
                }
                Reading::Value(d) => {
                    if n.status.has(MeasStatus::QUESTIONABLE) {
                        self.stats.questionable += 1;
                        return;
                    }
                    let Ok(num) = convert(field, d, n.unit) else {
                        self.stats.unit_mismatch += 1;
                        return;
                    };
                    Measured {
                        value: Some(num),
                        not_measurable: false,
                        source: self.source(),
                    }
                }
                _ => {
                    self.stats.out_of_range += 1;
                    return;
                }
            }
        };
        if catalog::validate(
            Scope::Entry(Collection::Vitals),
            field,
            &Value::Measured(value.clone()),
        )
        .is_err()
        {
            self.stats.out_of_range += 1;
            return;
        }
        let at_ms = match n.time.device {
            Some(d) => d.civil_ms - self.cfg.utc_offset_ms,
            None => n.time.host.wall_ms,
        };
        let item = Item {
            at_ms,
            key,
            field,
            value,
        };
        if n.episodic {
            self.pending_episodic.push((n.time.host.mono_ms, item));
        } else {
            // A pulse rate never overrides a heart rate of the same moment.
            if n.metric == Metric::PulseRate
                && self
                    .latest
                    .get(field)
                    .is_some_and(|o| o.at_ms >= at_ms - 2000)
            {
                return;
            }
            self.newest_continuous_ms =
                Some(self.newest_continuous_ms.map_or(at_ms, |t| t.max(at_ms)));
            self.latest.insert(field, item);
        }
    }

    fn entry(&mut self, at_ms: i64, items: &[Item]) -> Payload {
        let mut fields = BTreeMap::new();
        fields.insert(keys::vitals::AT.to_string(), self.time(at_ms));
        for i in items {
            fields.insert(i.field.to_string(), Value::Measured(i.value.clone()));
        }
        self.stats.entries += 1;
        Payload::EntryAdded {
            patient: self.patient,
            collection: Collection::Vitals,
            entry: EntryId::new(),
            fields,
        }
    }

    fn current(&self, at_ms: i64) -> Vec<Item> {
        self.latest
            .values()
            .filter(|i| at_ms - i.at_ms <= self.cfg.max_age_ms)
            .cloned()
            .collect()
    }

    /// Payloads that are due at host time `now`: settled episodic groups,
    /// measures, and a periodic vitals entry when the interval has passed.
    /// Call after each batch of observations and on a timer.
    pub fn drain(&mut self, now: HostTime) -> Vec<Payload> {
        let mut out = std::mem::take(&mut self.pending_measures);
        let mut groups: BTreeMap<(i64, Option<i64>), (u64, Vec<Item>)> = BTreeMap::new();
        for (arrived, i) in self.pending_episodic.drain(..) {
            let g = groups
                .entry((i.at_ms, i.key))
                .or_insert((arrived, Vec::new()));
            g.0 = g.0.max(arrived);
            g.1.push(i);
        }
        for ((at, _), (arrived, items)) in groups {
            if now.mono_ms.saturating_sub(arrived) >= SETTLE_MS {
                out.push(self.entry(at, &items));
            } else {
                self.pending_episodic
                    .extend(items.into_iter().map(|i| (arrived, i)));
            }
        }
        // Interval 0: continuous values only on "übernehmen" (take_now).
        if self.cfg.interval_ms > 0
            && let Some(newest) = self.newest_continuous_ms
            && self
                .last_periodic_ms
                .is_none_or(|t| newest - t >= self.cfg.interval_ms)
        {
            // Let the rest of the batch that made it due arrive first.
            let since = *self.due_since.get_or_insert(now.mono_ms);
            if now.mono_ms.saturating_sub(since) >= SETTLE_MS {
                let items = self.current(newest);
                if !items.is_empty() {
                    self.last_periodic_ms = Some(newest);
                    self.due_since = None;
                    out.push(self.entry(newest, &items));
                }
            }
        }
        out
    }

    /// The user changed the interval (0: only on "übernehmen").
    pub fn set_interval_ms(&mut self, ms: i64) {
        self.cfg.interval_ms = ms.max(0);
    }

    /// Whether [`Importer::take_now`] has current values to take.
    pub fn has_current(&self) -> bool {
        self.newest_continuous_ms
            .is_some_and(|now| !self.current(now).is_empty())
    }

    /// "Übernehmen": the current continuous values as an entry now.
    pub fn take_now(&mut self) -> Option<Payload> {
        let now = self.newest_continuous_ms?;
        let items = self.current(now);
        if items.is_empty() {
            return None;
        }
        Some(self.entry(now, &items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::obs::{Decimal, DeviceEvent, DeviceTime, Timestamps};

    const LATER: HostTime = HostTime {
        wall_ms: 0,
        mono_ms: 10_000,
    };

    /// Two drains 10 s apart: everything pending has settled.
    fn settle(i: &mut Importer) -> Vec<Payload> {
        let mut v = i.drain(LATER);
        v.extend(i.drain(HostTime {
            wall_ms: 0,
            mono_ms: LATER.mono_ms + 10_000,
        }));
        v
    }

    fn imp() -> Importer {
        Importer::new(
            ImportConfig {
                device_label: "MP50 DE1".into(),
                utc_offset_ms: 3_600_000,
                ..Default::default()
            },
            PatientId::new(),
        )
    }

    fn n(metric: Metric, r: Reading, unit: Unit, civil: i64, episodic: bool) -> Observation {
        Observation::Numeric(Numeric {
            metric,
            reading: r,
            unit,
            status: MeasStatus::default(),
            time: Timestamps {
                device: Some(DeviceTime { civil_ms: civil }),
                host: HostTime {
                    wall_ms: 0,
                    mono_ms: 0,
                },
                seq: None,
            },
            episodic,
        })
    }

    fn v(m: i64, e: i8) -> Reading {
        Reading::Value(Decimal::new(m, e))
    }

    fn fields(p: &Payload) -> &BTreeMap<String, Value> {
        match p {
            Payload::EntryAdded { fields, .. } => fields,
            _ => panic!("{p:?}"),
        }
    }

    #[test]
    fn first_values_then_every_interval() {
        let mut i = imp();
        let t0 = 1_800_000_000_000;
        i.push(&n(Metric::HeartRate, v(72, 0), Unit::PerMin, t0, false));
        i.push(&n(Metric::SpO2, v(975, -1), Unit::Percent, t0, false));
        let out = settle(&mut i);
        assert_eq!(out.len(), 1);
        let f = fields(&out[0]);
        assert_eq!(
            f[keys::vitals::HR],
            Value::Measured(Measured::device(Num(72_000), "MP50 DE1"))
        );
        assert_eq!(f[keys::vitals::SPO2].as_num(), Some(Num(97_500)));
        // device civil time minus the zone offset, device as source
        assert_eq!(
            f[keys::vitals::AT],
            Value::Time(TimeValue {
                at_ms: t0 - 3_600_000,
                source: TimeSource::Device {
                    device: "MP50 DE1".into()
                }
            })
        );
        for s in 1..300 {
            i.push(&n(
                Metric::HeartRate,
                v(80, 0),
                Unit::PerMin,
                t0 + s * 1000,
                false,
            ));
            assert!(settle(&mut i).is_empty(), "no entry before 5 min ({s} s)");
        }
        i.push(&n(
            Metric::HeartRate,
            v(90, 0),
            Unit::PerMin,
            t0 + 300_000,
            false,
        ));
        let out = settle(&mut i);
        assert_eq!(out.len(), 1);
        assert_eq!(
            fields(&out[0])[keys::vitals::HR].as_num(),
            Some(Num(90_000))
        );
        // SpO2 is 5 min old: not carried into the new entry
        assert!(!fields(&out[0]).contains_key(keys::vitals::SPO2));
    }

    #[test]
    fn interval_zero_writes_continuous_values_only_on_take() {
        let mut i = imp();
        let t0 = 1_800_000_000_000;
        i.set_interval_ms(0);
        for s in 0..20 {
            i.push(&n(
                Metric::HeartRate,
                v(80, 0),
                Unit::PerMin,
                t0 + s * 1000,
                false,
            ));
        }
        assert!(settle(&mut i).is_empty(), "no periodic set");
        assert!(i.take_now().is_some(), "but one on request");
        // Back to 5 minutes: the next batch is written by itself.
        i.set_interval_ms(300_000);
        i.push(&n(
            Metric::HeartRate,
            v(81, 0),
            Unit::PerMin,
            t0 + 21_000,
            false,
        ));
        assert_eq!(settle(&mut i).len(), 1);
    }

    #[test]
    fn episodic_values_share_an_entry_and_replays_are_dropped() {
        let mut i = imp();
        let t = 1_800_000_000_000;
        for _ in 0..3 {
            i.push(&n(Metric::NibpSys, v(160, -1), Unit::KPa, t, true));
            i.push(&n(Metric::NibpDia, v(80, 0), Unit::MmHg, t, true));
        }
        let out = settle(&mut i);
        assert_eq!(out.len(), 1);
        let f = fields(&out[0]);
        // 16.0 kPa = 120.0095 mmHg
        assert_eq!(f[keys::vitals::BP_SYS].as_num(), Some(Num(120_010)));
        assert_eq!(f[keys::vitals::BP_DIA].as_num(), Some(Num(80_000)));
        assert_eq!(i.stats.duplicates, 4);
    }

    #[test]
    fn an_episodic_group_waits_until_it_has_settled() {
        let mut i = imp();
        let t = 1_800_000_000_000;
        i.push(&n(Metric::NibpSys, v(120, 0), Unit::MmHg, t, true));
        let early = HostTime {
            wall_ms: 0,
            mono_ms: SETTLE_MS - 1,
        };
        assert!(i.drain(early).is_empty());
        i.push(&n(Metric::NibpDia, v(80, 0), Unit::MmHg, t, true));
        let out = i.drain(LATER);
        assert_eq!(out.len(), 1);
        assert!(fields(&out[0]).contains_key(keys::vitals::BP_SYS));
        assert!(fields(&out[0]).contains_key(keys::vitals::BP_DIA));
        assert!(settle(&mut i).is_empty());
    }

    #[test]
    fn the_first_set_waits_for_the_whole_batch() {
        let mut i = imp();
        let t = 1_800_000_000_000;
        let at = |ms| HostTime {
            wall_ms: 0,
            mono_ms: ms,
        };
        i.push(&n(Metric::HeartRate, v(72, 0), Unit::PerMin, t, false));
        assert!(i.drain(at(0)).is_empty());
        i.push(&n(Metric::SpO2, v(97, 0), Unit::Percent, t, false));
        assert!(i.drain(at(1)).is_empty());
        let out = i.drain(at(SETTLE_MS));
        assert_eq!(out.len(), 1);
        assert!(fields(&out[0]).contains_key(keys::vitals::HR));
        assert!(fields(&out[0]).contains_key(keys::vitals::SPO2));
    }

    #[test]
    fn specials_are_never_zero() {
        let mut i = imp();
        let t = 1_800_000_000_000;
        i.push(&n(Metric::SpO2, Reading::NaN, Unit::Percent, t, false));
        i.push(&n(
            Metric::HeartRate,
            Reading::PositiveInfinity,
            Unit::PerMin,
            t,
            false,
        ));
        let out = settle(&mut i);
        let f = fields(&out[0]);
        assert_eq!(
            f[keys::vitals::SPO2],
            Value::Measured(Measured::not_measurable(ValueSource::Device {
                device: "MP50 DE1".into()
            }))
        );
        assert!(!f.contains_key(keys::vitals::HR));
        assert_eq!(i.stats.out_of_range, 1);
    }

    #[test]
    fn conversions_and_ranges() {
        assert_eq!(
            convert(keys::vitals::TEMP, Decimal::new(975, -1), Unit::Fahrenheit),
            Ok(Num(36_389))
        );
        assert_eq!(
            convert(keys::vitals::GLUCOSE, Decimal::new(120, -5), Unit::KgPerL),
            Ok(Num(120_000))
        );
        assert_eq!(
            convert(keys::vitals::GLUCOSE, Decimal::new(67, -4), Unit::MolPerL),
            Ok(Num(120_707))
        );
        assert_eq!(
            convert(keys::vitals::HR, Decimal::new(72, 0), Unit::Percent),
            Err(())
        );
        let mut i = imp();
        i.push(&n(Metric::Temperature, v(120, 0), Unit::Celsius, 1, true));
        assert!(settle(&mut i).is_empty());
        assert_eq!(i.stats.out_of_range, 1);
    }

    #[test]
    fn demo_and_questionable_data_stay_out() {
        let mut i = imp();
        let mut o = n(Metric::HeartRate, v(72, 0), Unit::PerMin, 5, false);
        if let Observation::Numeric(x) = &mut o {
            x.status = MeasStatus(MeasStatus::DEMO_DATA);
        }
        i.push(&o);
        let mut q = n(Metric::HeartRate, v(72, 0), Unit::PerMin, 6, false);
        if let Observation::Numeric(x) = &mut q {
            x.status = MeasStatus(MeasStatus::QUESTIONABLE);
        }
        i.push(&q);
        assert!(settle(&mut i).is_empty());
        assert_eq!((i.stats.not_live, i.stats.questionable), (1, 1));
    }

    #[test]
    fn shocks_become_measures_once() {
        let mut i = imp();
        let e = Observation::Event(DeviceEvent {
            kind: EventKind::ShockDelivered { joules: 200 },
            time: Timestamps {
                device: Some(DeviceTime { civil_ms: 9_000 }),
                host: HostTime {
                    wall_ms: 0,
                    mono_ms: 0,
                },
                seq: None,
            },
        });
        i.push(&e);
        i.push(&e);
        let out = settle(&mut i);
        assert_eq!(out.len(), 1);
        let Payload::EntryAdded {
            collection, fields, ..
        } = &out[0]
        else {
            panic!()
        };
        assert_eq!(*collection, Collection::Measure);
        assert_eq!(fields[keys::measure::KIND], Value::code("14"));
        assert_eq!(fields[keys::measure::ENERGY_J], Value::Int(200));
    }
}
