//! The observation model every driver emits: numerics (continuous and
//! episodic), waveform chunks, events and device identity. Protocol-neutral.
//!
//! Special values stay what they are ([`Reading`]); device time and host time
//! are both kept and never rewritten into each other.

pub use super::ieee11073::{Decimal, Reading};
use serde::{Deserialize, Serialize};

/// What a numeric measures. `Other` keeps an unknown vendor code instead of
/// dropping it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    HeartRate,
    /// Pulse rate from oximetry or a BP cuff.
    PulseRate,
    SpO2,
    NibpSys,
    NibpDia,
    NibpMean,
    RespRate,
    EtCo2,
    Temperature,
    Glucose,
    /// Perfusion / pulse amplitude index.
    PulseAmplitudeIndex,
    /// One R-R interval (BLE heart rate).
    RrInterval,
    EnergyExpended,
    /// A metric we have no row for: the vendor's code (IntelliVue physio id,
    /// Datex parameter) is kept.
    Other(u32),
}

/// Codes of a metric: the 11073-10101 REFID (partition 2 SCADA), LOINC, labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDef {
    pub metric: Metric,
    /// MDC code: `(partition << 16) | code`.
    pub mdc: u32,
    /// IntelliVue physio id (the low 16 bits of the MDC code).
    pub intellivue: Option<u16>,
    pub loinc: Option<&'static str>,
    pub label_de: &'static str,
}

/// One row per metric with its primary code (what the simulators send by
/// default). Further codes for the same quantity are in
/// [`INTELLIVUE_ALIASES`]; docs/devices-nomenclature.md lists both with
/// their sources.
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        metric: Metric::HeartRate,
        mdc: 147_842,
        intellivue: Some(16_770),
        loinc: Some("8867-4"),
        label_de: "Herzfrequenz",
    },
    MetricDef {
        metric: Metric::PulseRate,
        mdc: 149_538,
        intellivue: Some(18_466),
        loinc: Some("8889-8"),
        label_de: "Pulsfrequenz",
    },
    MetricDef {
        metric: Metric::SpO2,
        mdc: 150_456,
        intellivue: Some(19_384),
        loinc: Some("59408-5"),
        label_de: "SpO₂",
    },
    MetricDef {
        metric: Metric::NibpSys,
        mdc: 150_021,
        intellivue: Some(18_949),
        loinc: Some("8480-6"),
        label_de: "NIBP systolisch",
    },
    MetricDef {
        metric: Metric::NibpDia,
        mdc: 150_022,
        intellivue: Some(18_950),
        loinc: Some("8462-4"),
        label_de: "NIBP diastolisch",
    },
    MetricDef {
        metric: Metric::NibpMean,
        mdc: 150_023,
        intellivue: Some(18_951),
        loinc: Some("8478-0"),
        label_de: "NIBP Mitteldruck",
    },
    MetricDef {
        metric: Metric::RespRate,
        mdc: 151_562,
        intellivue: Some(20_490),
        loinc: Some("9279-1"),
        label_de: "Atemfrequenz",
    },
    MetricDef {
        metric: Metric::EtCo2,
        mdc: 151_728,
        intellivue: Some(20_656),
        loinc: Some("19889-5"),
        label_de: "etCO₂",
    },
    MetricDef {
        metric: Metric::Temperature,
        mdc: 150_364,
        intellivue: Some(19_292),
        loinc: Some("8310-5"),
        label_de: "Temperatur",
    },
    MetricDef {
        metric: Metric::Glucose,
        mdc: 160_184,
        intellivue: Some(29_112),
        loinc: Some("2339-0"),
        label_de: "Blutzucker",
    },
    MetricDef {
        metric: Metric::PulseAmplitudeIndex,
        mdc: 150_488,
        intellivue: None,
        loinc: None,
        label_de: "Perfusionsindex",
    },
    MetricDef {
        metric: Metric::RrInterval,
        mdc: 147_240,
        intellivue: None,
        loinc: None,
        label_de: "RR-Intervall",
    },
    MetricDef {
        metric: Metric::EnergyExpended,
        mdc: 0,
        intellivue: None,
        loinc: None,
        label_de: "Energieumsatz",
    },
];

/// A further SCADA code that measures the same quantity as a [`METRICS`]
/// row: another site, source or transport of the same vital sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricAlias {
    pub code: u16,
    pub metric: Metric,
    /// The name in the nomenclature (IEEE `MDC_…`, Philips `NOM_…`).
    pub name: &'static str,
}

const fn alias(code: u16, metric: Metric, name: &'static str) -> MetricAlias {
    MetricAlias { code, metric, name }
}

/// Codes real monitors send for a vital sign the record has a field for,
/// besides the primary code in [`METRICS`]. Sources: IEEE 11073-10101 and
/// the device specialisations (10404 oximeter, 10407 BP, 10408 thermometer,
/// 10417 glucose), Philips' Data Export nomenclature as in VSCaptureMP
/// `Class2.cs`. Codes deliberately left out (skin, airway, injectate,
/// ambient temperatures, beat-to-beat rates, ventilator set rates, control
/// solutions) are listed in docs/devices-nomenclature.md.
pub const INTELLIVUE_ALIASES: &[MetricAlias] = &[
    // Pulse rate from oximetry, the cuff or the generic pulse.
    alias(18_442, Metric::PulseRate, "NOM_PULS_RATE / MDC_PULS_RATE"),
    alias(18_458, Metric::PulseRate, "MDC_PULS_OXIM_PULS_RATE"),
    alias(18_474, Metric::PulseRate, "MDC_PULS_RATE_NON_INV"),
    alias(61_597, Metric::PulseRate, "NOM_PULS_OXIM_PULS_RATE_TELE"),
    alias(61_669, Metric::PulseRate, "NOM_PRESS_BLD_NONINV_PULS_RATE"),
    // SpO2 from a telemetry transmitter.
    alias(61_596, Metric::SpO2, "NOM_PULS_OXIM_SAT_O2_TELE"),
    // NIBP: the cuff codes of 11073-10407 and Philips' telemetry NIBP.
    alias(19_229, Metric::NibpSys, "MDC_PRESS_CUFF_SYS"),
    alias(19_230, Metric::NibpDia, "MDC_PRESS_CUFF_DIA"),
    alias(19_231, Metric::NibpMean, "MDC_PRESS_CUFF_MEAN"),
    alias(61_601, Metric::NibpSys, "NOM_PRESS_BLD_NONINV_TELE_SYS"),
    alias(61_602, Metric::NibpDia, "NOM_PRESS_BLD_NONINV_TELE_DIA"),
    alias(61_603, Metric::NibpMean, "NOM_PRESS_BLD_NONINV_TELE_MEAN"),
    // Respiration rate from the airway (CO2, spirometry) and spontaneous.
    alias(
        20_498,
        Metric::RespRate,
        "NOM_AWAY_RESP_RATE / MDC_AWAY_RESP_RATE",
    ),
    alias(61_666, Metric::RespRate, "NOM_AWAY_RESP_RATE_SPIRO"),
    alias(63_509, Metric::RespRate, "NOM_AWAY_RESP_RATE_SPONT"),
    alias(63_528, Metric::RespRate, "NOM_RESP_RATE_SPONT"),
    // End-tidal CO2 given as a concentration (accepted in mmHg or kPa).
    alias(20_636, Metric::EtCo2, "NOM_CONC_AWAY_CO2_ET"),
    // Body temperature: the generic code and every body or core site.
    alias(19_272, Metric::Temperature, "NOM_TEMP / MDC_TEMP"),
    alias(19_296, Metric::Temperature, "NOM_TEMP_CORE / MDC_TEMP_CORE"),
    alias(19_300, Metric::Temperature, "NOM_TEMP_ESOPH"),
    alias(19_308, Metric::Temperature, "NOM_TEMP_NASOPH"),
    alias(19_320, Metric::Temperature, "NOM_TEMP_TYMP / MDC_TEMP_TYMP"),
    alias(57_348, Metric::Temperature, "NOM_TEMP_RECT / MDC_TEMP_RECT"),
    alias(57_352, Metric::Temperature, "MDC_TEMP_ORAL"),
    alias(57_356, Metric::Temperature, "MDC_TEMP_EAR"),
    alias(57_364, Metric::Temperature, "NOM_TEMP_BLD"),
    alias(57_380, Metric::Temperature, "MDC_TEMP_AXILLA"),
    alias(57_384, Metric::Temperature, "MDC_TEMP_GIT"),
    alias(61_636, Metric::Temperature, "NOM_TEMP_VESICAL"),
    alias(61_704, Metric::Temperature, "NOM_TEMP_ORAL"),
    alias(61_708, Metric::Temperature, "NOM_TEMP_AXIL"),
    alias(61_712, Metric::Temperature, "NOM_TEMP_ORAL_PRED"),
    alias(61_716, Metric::Temperature, "NOM_TEMP_RECT_PRED"),
    alias(61_720, Metric::Temperature, "NOM_TEMP_AXIL_PRED"),
    alias(61_760, Metric::Temperature, "NOM_TEMP_PRED"),
    alias(63_846, Metric::Temperature, "NOM_TEMP_CORE_GEN_1"),
    alias(63_847, Metric::Temperature, "NOM_TEMP_CORE_GEN_2"),
    // Blood glucose: generic, the 11073-10417 sample types, serum.
    alias(
        28_948,
        Metric::Glucose,
        "NOM_CONC_GLU_GEN / MDC_CONC_GLU_GEN",
    ),
    alias(29_116, Metric::Glucose, "MDC_CONC_GLU_CAPILLARY_PLASMA"),
    alias(29_120, Metric::Glucose, "MDC_CONC_GLU_VENOUS_WHOLEBLOOD"),
    alias(29_124, Metric::Glucose, "MDC_CONC_GLU_VENOUS_PLASMA"),
    alias(29_128, Metric::Glucose, "MDC_CONC_GLU_ARTERIAL_WHOLEBLOOD"),
    alias(29_132, Metric::Glucose, "MDC_CONC_GLU_ARTERIAL_PLASMA"),
    alias(
        29_292,
        Metric::Glucose,
        "MDC_CONC_GLU_UNDETERMINED_WHOLEBLOOD",
    ),
    alias(29_296, Metric::Glucose, "MDC_CONC_GLU_UNDETERMINED_PLASMA"),
    alias(63_530, Metric::Glucose, "NOM_CONC_GLU_SER"),
];

impl Metric {
    pub fn def(self) -> Option<&'static MetricDef> {
        METRICS.iter().find(|d| d.metric == self)
    }

    /// The MDC code; for `Other` the kept vendor code.
    pub fn mdc(self) -> u32 {
        match self {
            Metric::Other(c) => c,
            m => m.def().map_or(0, |d| d.mdc),
        }
    }

    pub fn loinc(self) -> Option<&'static str> {
        self.def().and_then(|d| d.loinc)
    }

    /// From an IntelliVue / 11073 physio id (partition SCADA): the primary
    /// codes of [`METRICS`], then [`INTELLIVUE_ALIASES`]; unknown ids are
    /// kept as `Other`.
    pub fn from_intellivue(physio: u16) -> Metric {
        METRICS
            .iter()
            .find(|d| d.intellivue == Some(physio))
            .map(|d| d.metric)
            .or_else(|| {
                INTELLIVUE_ALIASES
                    .iter()
                    .find(|a| a.code == physio)
                    .map(|a| a.metric)
            })
            .unwrap_or(Metric::Other((2 << 16) | u32::from(physio)))
    }

    pub fn intellivue(self) -> Option<u16> {
        match self {
            Metric::Other(c) if c >> 16 == 2 => Some(c as u16),
            m => m.def().and_then(|d| d.intellivue),
        }
    }
}

/// Units, with their 11073 unit code (partition 4) where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    PerMin,
    Percent,
    MmHg,
    KPa,
    Celsius,
    Fahrenheit,
    /// Glucose concentration in kg/L (BLE Glucose, units flag 0).
    KgPerL,
    /// Glucose concentration in mol/L (BLE Glucose, units flag 1).
    MolPerL,
    /// Glucose in mg/dl (MDC_DIM_MILLI_G_PER_DL).
    MgPerDl,
    /// Glucose in mmol/L (MDC_DIM_MILLI_MOLE_PER_L).
    MmolPerL,
    MilliVolt,
    Second,
    KiloJoule,
    Dimensionless,
    /// A unit code we have no row for (kept).
    Other(u16),
}

impl Unit {
    /// From an IntelliVue / 11073 unit code (the low 16 bits of the unit
    /// REFID, partition DIM). Beats, pulses, breaths and plain counts per
    /// minute are all "/min": what is counted is the metric's business.
    pub fn from_intellivue(code: u16) -> Unit {
        match code {
            // MDC_DIM_BEAT_PER_MIN, _PULS_PER_MIN, _RESP_PER_MIN, _PER_MIN
            2720 | 2752 | 2784 | 2528 => Unit::PerMin,
            544 => Unit::Percent,
            3872 => Unit::MmHg,
            3843 => Unit::KPa,
            6048 => Unit::Celsius,
            4416 => Unit::Fahrenheit,
            2130 => Unit::MgPerDl,
            4722 => Unit::MmolPerL,
            4274 => Unit::MilliVolt,
            2176 => Unit::Second,
            512 => Unit::Dimensionless,
            c => Unit::Other(c),
        }
    }

    /// The unit code the simulators send (`PerMin` as beats per minute).
    pub fn intellivue(self) -> u16 {
        match self {
            Unit::PerMin => 2720,
            Unit::Percent => 544,
            Unit::MmHg => 3872,
            Unit::KPa => 3843,
            Unit::Celsius => 6048,
            Unit::Fahrenheit => 4416,
            Unit::MgPerDl => 2130,
            Unit::MmolPerL => 4722,
            Unit::MilliVolt => 4274,
            Unit::Second => 2176,
            Unit::Other(c) => c,
            _ => 512,
        }
    }
}

/// Measurement status as a bit set (IntelliVue MeasurementState, BLE PLX
/// measurement status and cuff/sensor flags mapped onto one vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MeasStatus(pub u32);

impl MeasStatus {
    pub const INVALID: u32 = 1 << 0;
    pub const QUESTIONABLE: u32 = 1 << 1;
    pub const UNAVAILABLE: u32 = 1 << 2;
    pub const CALIBRATING: u32 = 1 << 3;
    pub const TEST_DATA: u32 = 1 << 4;
    pub const DEMO_DATA: u32 = 1 << 5;
    pub const VALIDATED: u32 = 1 << 6;
    pub const EARLY_ESTIMATE: u32 = 1 << 7;
    pub const ONGOING: u32 = 1 << 8;
    pub const FROM_STORAGE: u32 = 1 << 9;
    pub const FULLY_QUALIFIED: u32 = 1 << 10;
    /// BLE heart rate: contact supported but not detected.
    pub const NO_CONTACT: u32 = 1 << 11;
    /// BLE BP: body movement, loose cuff or improper position.
    pub const CUFF_PROBLEM: u32 = 1 << 12;
    /// BLE BP: irregular pulse detected.
    pub const IRREGULAR_PULSE: u32 = 1 << 13;
    /// BLE glucose: a sensor status annunciation was set.
    pub const SENSOR_ANNUNCIATION: u32 = 1 << 14;

    pub fn has(self, bit: u32) -> bool {
        self.0 & bit != 0
    }

    pub fn with(self, bit: u32) -> MeasStatus {
        MeasStatus(self.0 | bit)
    }

    /// Not patient data from a measurement right now: test/demo data,
    /// calibration, or replayed from storage.
    pub fn is_not_live_patient_data(self) -> bool {
        self.has(Self::TEST_DATA) || self.has(Self::DEMO_DATA) || self.has(Self::CALIBRATING)
    }

    /// The device itself says the value is not usable.
    pub fn is_unusable(self) -> bool {
        self.has(Self::INVALID) || self.has(Self::UNAVAILABLE)
    }

    /// From IntelliVue MeasurementState bits.
    pub fn from_intellivue(state: u16) -> MeasStatus {
        let map = [
            (0x8000, Self::INVALID),
            (0x4000, Self::QUESTIONABLE),
            (0x2000, Self::UNAVAILABLE),
            (0x1000, Self::CALIBRATING),
            (0x0800, Self::TEST_DATA),
            (0x0400, Self::DEMO_DATA),
            (0x0080, Self::VALIDATED),
            (0x0040, Self::EARLY_ESTIMATE),
        ];
        MeasStatus(
            map.iter()
                .filter(|(b, _)| state & b != 0)
                .fold(0, |a, (_, s)| a | s),
        )
    }

    pub fn to_intellivue(self) -> u16 {
        let map = [
            (0x8000u16, Self::INVALID),
            (0x4000, Self::QUESTIONABLE),
            (0x2000, Self::UNAVAILABLE),
            (0x1000, Self::CALIBRATING),
            (0x0800, Self::TEST_DATA),
            (0x0400, Self::DEMO_DATA),
            (0x0080, Self::VALIDATED),
            (0x0040, Self::EARLY_ESTIMATE),
        ];
        map.iter()
            .filter(|(_, s)| self.has(*s))
            .fold(0, |a, (b, _)| a | b)
    }
}

/// A device clock reading: the device's **local civil time** as if it were
/// UTC (ms since 1970-01-01T00:00 local). Devices send no time zone; the
/// pad converts with its own UTC offset when it maps into the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeviceTime {
    pub civil_ms: i64,
}

/// Host time at arrival: wall clock (UTC ms) and monotonic ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HostTime {
    pub wall_ms: i64,
    pub mono_ms: u64,
}

/// Both clocks of one observation plus the device's sequence number if the
/// protocol has one (BLE glucose record number, IntelliVue poll sequence).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timestamps {
    pub device: Option<DeviceTime>,
    pub host: HostTime,
    pub seq: Option<u64>,
}

/// A numeric value (continuous or episodic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Numeric {
    pub metric: Metric,
    pub reading: Reading,
    pub unit: Unit,
    pub status: MeasStatus,
    pub time: Timestamps,
    /// Episodic (NIBP, temperature, glucose, spot check) rather than a
    /// continuously updated value.
    pub episodic: bool,
}

/// Linear scaling of raw wave samples to physical values:
/// `phys = lower_abs + (raw − lower_raw) · (upper_abs − lower_abs) / (upper_raw − lower_raw)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scale {
    pub lower_abs: Reading,
    pub upper_abs: Reading,
    pub lower_raw: i32,
    pub upper_raw: i32,
}

impl Scale {
    /// Physical value of one raw sample, for display (the raw samples are
    /// what is stored).
    pub fn apply(&self, raw: i32) -> Option<f64> {
        let (lo, hi) = (
            self.lower_abs.value()?.to_f64(),
            self.upper_abs.value()?.to_f64(),
        );
        let span = f64::from(self.upper_raw) - f64::from(self.lower_raw);
        if span == 0.0 {
            return None;
        }
        Some(lo + (f64::from(raw) - f64::from(self.lower_raw)) * (hi - lo) / span)
    }
}

/// A run of samples of one wave channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaveChunk {
    /// The wave's metric code (MDC, or vendor code kept as `Other`).
    pub channel: Metric,
    pub t0: Timestamps,
    /// Sample period in microseconds, from the device (never assumed).
    pub sample_period_us: u32,
    pub scale: Option<Scale>,
    pub unit: Unit,
    pub samples: Vec<i32>,
    pub status: MeasStatus,
}

/// Alarm priority as the device rates it (IntelliVue AlertType LOW/MED/HI;
/// Datex alarm colour white/yellow/red).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmPriority {
    Low,
    Medium,
    High,
}

impl AlarmPriority {
    /// German label for the UI (IEC 60601-1-8 wording used on monitors).
    pub fn label_de(self) -> &'static str {
        match self {
            AlarmPriority::Low => "niedrige Priorität",
            AlarmPriority::Medium => "mittlere Priorität",
            AlarmPriority::High => "hohe Priorität",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            AlarmPriority::Low => "low priority",
            AlarmPriority::Medium => "medium priority",
            AlarmPriority::High => "high priority",
        }
    }
}

/// Something that happened on the device or on the link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A device alarm that just became active (emitted once per onset,
    /// not on every repeat of the device's alarm list).
    Alarm {
        /// Why: IntelliVue `al_code` (events partition); Datex: 0 (the
        /// protocol has no alarm code).
        code: u32,
        /// What alarms: IntelliVue `al_source` (SCADA/object code); Datex
        /// `alsrc_id` (0 on DRI levels that leave it reserved).
        source: u32,
        priority: AlarmPriority,
        /// `Some(true)` patient (physiological) alarm, `Some(false)`
        /// technical alarm (INOP), `None` the device does not say.
        physiological: Option<bool>,
        /// The device's alarm text, trimmed, control characters removed,
        /// at most 64 characters; may be empty.
        text: String,
    },
    Charging {
        joules: u16,
    },
    ShockDelivered {
        joules: u16,
    },
    TwelveLeadAcquired,
    /// No data from `from_host_ms` to `to_host_ms` (host wall clock): a
    /// disconnect, a re-association or a silent link.
    DataGap {
        from_host_ms: i64,
        to_host_ms: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEvent {
    pub kind: EventKind,
    pub time: Timestamps,
}

/// Identity the device reported over its protocol.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeviceInfo {
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    /// IntelliVue system id (MAC), hex.
    pub system_id: Option<String>,
    pub clock: Option<DeviceTime>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "o", rename_all = "snake_case")]
pub enum Observation {
    Numeric(Numeric),
    Wave(WaveChunk),
    Event(DeviceEvent),
    Info(DeviceInfo),
}

/// Characters kept of a device's alarm text.
pub const MAX_ALARM_TEXT_CHARS: usize = 64;

/// A device alarm text made safe to show and store: line breaks and tabs
/// become spaces, other control characters are dropped, whitespace is
/// trimmed, at most [`MAX_ALARM_TEXT_CHARS`] characters are kept.
pub fn alarm_text(chars: impl IntoIterator<Item = char>) -> String {
    let s: String = chars
        .into_iter()
        .map(|c| {
            if matches!(c, '\n' | '\r' | '\t') {
                ' '
            } else {
                c
            }
        })
        .filter(|c| !c.is_control())
        .collect();
    let capped: String = s.trim().chars().take(MAX_ALARM_TEXT_CHARS).collect();
    capped.trim_end().to_string()
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A validated civil date-time as [`DeviceTime`]; `None` if any field is out
/// of range (day checked against the month's length).
pub fn civil_time(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8, ms: u16) -> Option<DeviceTime> {
    if !(1582..=9999).contains(&y) || !(1..=12).contains(&mo) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    if d == 0 || d > rettpad_record::value::days_in_month(y, mo) || ms > 999 {
        return None;
    }
    let days = days_from_civil(i64::from(y), u32::from(mo), u32::from(d));
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    Some(DeviceTime {
        civil_ms: secs * 1000 + i64::from(ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_codes_round_trip() {
        assert_eq!(Metric::from_intellivue(16_770), Metric::HeartRate);
        assert_eq!(Metric::HeartRate.mdc(), 147_842);
        assert_eq!(Metric::HeartRate.mdc() & 0xFFFF, 16_770);
        assert_eq!(Metric::SpO2.loinc(), Some("59408-5"));
        let odd = Metric::from_intellivue(0x1234);
        assert_eq!(odd, Metric::Other(0x0002_1234));
        assert_eq!(odd.intellivue(), Some(0x1234));
        for d in METRICS {
            if let Some(c) = d.intellivue {
                assert_eq!(d.mdc, (2 << 16) | u32::from(c), "{:?}", d.metric);
            }
        }
    }

    #[test]
    fn intellivue_state_bits() {
        let s = MeasStatus::from_intellivue(0x8000 | 0x0400);
        assert!(s.has(MeasStatus::INVALID) && s.has(MeasStatus::DEMO_DATA));
        assert!(!s.has(MeasStatus::QUESTIONABLE));
        assert_eq!(s.to_intellivue(), 0x8400);
    }

    #[test]
    fn alarm_text_is_cleaned_and_capped() {
        assert_eq!(
            alarm_text("  ***VFIB/VTACH\u{0}\u{7} ".chars()),
            "***VFIB/VTACH"
        );
        assert_eq!(alarm_text("HR\nHIGH".chars()), "HR HIGH");
        let long = "x".repeat(200);
        assert_eq!(
            alarm_text(long.chars()).chars().count(),
            MAX_ALARM_TEXT_CHARS
        );
        assert_eq!(alarm_text("ä".repeat(100).chars()).chars().count(), 64);
        let ev = EventKind::Alarm {
            code: 61_444,
            source: 16_770,
            priority: AlarmPriority::High,
            physiological: Some(true),
            text: "***VFIB/VTACH".into(),
        };
        let j = serde_json::to_string(&ev).unwrap();
        assert_eq!(
            j,
            r#"{"kind":"alarm","code":61444,"source":16770,"priority":"high","physiological":true,"text":"***VFIB/VTACH"}"#
        );
        assert_eq!(serde_json::from_str::<EventKind>(&j).unwrap(), ev);
        assert_eq!(AlarmPriority::High.label_de(), "hohe Priorität");
    }

    #[test]
    fn civil_time_checks_ranges() {
        let t = civil_time(2024, 3, 15, 10, 30, 0, 0).map(|t| t.civil_ms);
        assert_eq!(t, Some(1_710_498_600_000));
        assert_eq!(civil_time(2023, 2, 29, 0, 0, 0, 0), None);
        assert_eq!(civil_time(2024, 13, 1, 0, 0, 0, 0), None);
        assert_eq!(civil_time(0, 1, 1, 0, 0, 0, 0), None);
        assert_eq!(civil_time(2024, 1, 1, 24, 0, 0, 0), None);
    }
}
