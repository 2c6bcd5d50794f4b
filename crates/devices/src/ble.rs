//! Sans-IO decoders for the Bluetooth SIG health profiles: Heart Rate,
//! Blood Pressure, Pulse Oximeter (spot check and continuous), Health
//! Thermometer and Glucose.
//!
//! Parsing is strictly flag-driven: a field is read only when its flag says
//! it is there; reserved flag bits, missing bytes, trailing bytes and
//! impossible dates are errors (the whole notification is refused, never
//! half-used). All multi-byte fields are little-endian.

use super::ieee11073::{self, Decimal, Reading};
use super::obs::{
    DeviceTime, HostTime, MeasStatus, Metric, Numeric, Observation, Timestamps, Unit, civil_time,
};

pub const UUID_HEART_RATE_MEASUREMENT: u16 = 0x2A37;
pub const UUID_BLOOD_PRESSURE_MEASUREMENT: u16 = 0x2A35;
pub const UUID_PLX_SPOT_CHECK: u16 = 0x2A5E;
pub const UUID_PLX_CONTINUOUS: u16 = 0x2A5F;
pub const UUID_TEMPERATURE_MEASUREMENT: u16 = 0x2A1C;
pub const UUID_GLUCOSE_MEASUREMENT: u16 = 0x2A18;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BleError {
    #[error("characteristic {uuid:#06x}: value ends early ({len} bytes)")]
    Truncated { uuid: u16, len: usize },
    #[error("characteristic {uuid:#06x}: {extra} unexpected trailing bytes")]
    TrailingBytes { uuid: u16, extra: usize },
    #[error("characteristic {uuid:#06x}: reserved flag bits {flags:#04x} set")]
    ReservedFlags { uuid: u16, flags: u8 },
    #[error("characteristic {uuid:#06x}: impossible date/time")]
    BadDateTime { uuid: u16 },
    #[error("characteristic {uuid:#06x} is not a supported health measurement")]
    Unsupported { uuid: u16 },
}

impl rettpad_text::UserMessage for BleError {
    fn message(&self, lang: rettpad_text::Lang) -> String {
        let (de, en) = match self {
            BleError::Unsupported { .. } => (
                "Messwert dieses Geräts wird nicht unterstützt.",
                "This device's measurement is not supported.",
            ),
            _ => (
                "Fehlerhafte Messung vom Gerät verworfen; bitte Wert am Gerät prüfen.",
                "A faulty measurement from the device was discarded; please check the value on the device.",
            ),
        };
        lang.pick(de, en).into()
    }
}

/// A Date Time field; `None` when the device says "unknown" (zeros).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BleDateTime(pub Option<DeviceTime>);

struct Rd<'a> {
    b: &'a [u8],
    uuid: u16,
    len: usize,
}

impl<'a> Rd<'a> {
    fn new(uuid: u16, b: &'a [u8]) -> Self {
        Rd {
            b,
            uuid,
            len: b.len(),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], BleError> {
        if self.b.len() < n {
            return Err(BleError::Truncated {
                uuid: self.uuid,
                len: self.len,
            });
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8, BleError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, BleError> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u24(&mut self) -> Result<u32, BleError> {
        let s = self.take(3)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], 0]))
    }
    fn sfloat(&mut self) -> Result<Reading, BleError> {
        Ok(ieee11073::sfloat(self.u16()?))
    }
    fn float(&mut self) -> Result<Reading, BleError> {
        let s = self.take(4)?;
        Ok(ieee11073::float(u32::from_le_bytes([
            s[0], s[1], s[2], s[3],
        ])))
    }
    fn date_time(&mut self) -> Result<BleDateTime, BleError> {
        let year = self.u16()?;
        let s = self.take(5)?;
        let (mo, d, h, mi, sec) = (s[0], s[1], s[2], s[3], s[4]);
        if year == 0 || mo == 0 || d == 0 {
            // "Unknown" per the spec; the time fields must still be sane.
            if h > 23 || mi > 59 || sec > 59 || mo > 12 || d > 31 {
                return Err(BleError::BadDateTime { uuid: self.uuid });
            }
            return Ok(BleDateTime(None));
        }
        civil_time(year, mo, d, h, mi, sec, 0)
            .map(|t| BleDateTime(Some(t)))
            .ok_or(BleError::BadDateTime { uuid: self.uuid })
    }
    fn end(&self) -> Result<(), BleError> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(BleError::TrailingBytes {
                uuid: self.uuid,
                extra: self.b.len(),
            })
        }
    }
}

fn reserved(uuid: u16, flags: u8, allowed: u8) -> Result<(), BleError> {
    if flags & !allowed != 0 {
        return Err(BleError::ReservedFlags {
            uuid,
            flags: flags & !allowed,
        });
    }
    Ok(())
}

/// Heart Rate Measurement (0x2A37).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartRate {
    pub bpm: u16,
    pub contact_supported: bool,
    pub contact_detected: bool,
    pub energy_kj: Option<u16>,
    /// R-R intervals in 1/1024 s.
    pub rr_1024: Vec<u16>,
}

pub fn decode_heart_rate(b: &[u8]) -> Result<HeartRate, BleError> {
    let uuid = UUID_HEART_RATE_MEASUREMENT;
    let mut r = Rd::new(uuid, b);
    let flags = r.u8()?;
    reserved(uuid, flags, 0x1F)?;
    let bpm = if flags & 1 != 0 {
        r.u16()?
    } else {
        u16::from(r.u8()?)
    };
    let energy_kj = if flags & 0x08 != 0 {
        Some(r.u16()?)
    } else {
        None
    };
    let mut rr_1024 = Vec::new();
    if flags & 0x10 != 0 {
        while !r.b.is_empty() {
            rr_1024.push(r.u16()?);
        }
    }
    r.end()?;
    Ok(HeartRate {
        bpm,
        contact_supported: flags & 0x04 != 0,
        contact_detected: flags & 0x02 != 0,
        energy_kj,
        rr_1024,
    })
}

/// Blood Pressure Measurement (0x2A35).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BloodPressure {
    pub kpa: bool,
    pub systolic: Reading,
    pub diastolic: Reading,
    pub mean: Reading,
    pub time: Option<BleDateTime>,
    pub pulse: Option<Reading>,
    pub user: Option<u8>,
    pub status: Option<u16>,
}

pub fn decode_blood_pressure(b: &[u8]) -> Result<BloodPressure, BleError> {
    let uuid = UUID_BLOOD_PRESSURE_MEASUREMENT;
    let mut r = Rd::new(uuid, b);
    let flags = r.u8()?;
    reserved(uuid, flags, 0x1F)?;
    let (systolic, diastolic, mean) = (r.sfloat()?, r.sfloat()?, r.sfloat()?);
    let time = if flags & 0x02 != 0 {
        Some(r.date_time()?)
    } else {
        None
    };
    let pulse = if flags & 0x04 != 0 {
        Some(r.sfloat()?)
    } else {
        None
    };
    let user = if flags & 0x08 != 0 {
        Some(r.u8()?)
    } else {
        None
    };
    let status = if flags & 0x10 != 0 {
        Some(r.u16()?)
    } else {
        None
    };
    r.end()?;
    Ok(BloodPressure {
        kpa: flags & 1 != 0,
        systolic,
        diastolic,
        mean,
        time,
        pulse,
        user,
        status,
    })
}

/// PLX Spot-Check Measurement (0x2A5E).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlxSpotCheck {
    pub spo2: Reading,
    pub pulse: Reading,
    pub time: Option<BleDateTime>,
    pub measurement_status: Option<u16>,
    pub device_status: Option<u32>,
    pub pai: Option<Reading>,
    pub clock_not_set: bool,
}

pub fn decode_plx_spot_check(b: &[u8]) -> Result<PlxSpotCheck, BleError> {
    let uuid = UUID_PLX_SPOT_CHECK;
    let mut r = Rd::new(uuid, b);
    let flags = r.u8()?;
    reserved(uuid, flags, 0x1F)?;
    let (spo2, pulse) = (r.sfloat()?, r.sfloat()?);
    let time = if flags & 0x01 != 0 {
        Some(r.date_time()?)
    } else {
        None
    };
    let measurement_status = if flags & 0x02 != 0 {
        Some(r.u16()?)
    } else {
        None
    };
    let device_status = if flags & 0x04 != 0 {
        Some(r.u24()?)
    } else {
        None
    };
    let pai = if flags & 0x08 != 0 {
        Some(r.sfloat()?)
    } else {
        None
    };
    r.end()?;
    Ok(PlxSpotCheck {
        spo2,
        pulse,
        time,
        measurement_status,
        device_status,
        pai,
        clock_not_set: flags & 0x10 != 0,
    })
}

/// PLX Continuous Measurement (0x2A5F).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlxContinuous {
    pub spo2: Reading,
    pub pulse: Reading,
    pub fast: Option<(Reading, Reading)>,
    pub slow: Option<(Reading, Reading)>,
    pub measurement_status: Option<u16>,
    pub device_status: Option<u32>,
    pub pai: Option<Reading>,
}

pub fn decode_plx_continuous(b: &[u8]) -> Result<PlxContinuous, BleError> {
    let uuid = UUID_PLX_CONTINUOUS;
    let mut r = Rd::new(uuid, b);
    let flags = r.u8()?;
    reserved(uuid, flags, 0x1F)?;
    let (spo2, pulse) = (r.sfloat()?, r.sfloat()?);
    let fast = if flags & 0x01 != 0 {
        Some((r.sfloat()?, r.sfloat()?))
    } else {
        None
    };
    let slow = if flags & 0x02 != 0 {
        Some((r.sfloat()?, r.sfloat()?))
    } else {
        None
    };
    let measurement_status = if flags & 0x04 != 0 {
        Some(r.u16()?)
    } else {
        None
    };
    let device_status = if flags & 0x08 != 0 {
        Some(r.u24()?)
    } else {
        None
    };
    let pai = if flags & 0x10 != 0 {
        Some(r.sfloat()?)
    } else {
        None
    };
    r.end()?;
    Ok(PlxContinuous {
        spo2,
        pulse,
        fast,
        slow,
        measurement_status,
        device_status,
        pai,
    })
}

/// Temperature Measurement (0x2A1C).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Temperature {
    pub fahrenheit: bool,
    pub value: Reading,
    pub time: Option<BleDateTime>,
    /// 1 armpit, 2 body, 3 ear lobe, 4 finger, 5 GI tract, 6 mouth,
    /// 7 rectum, 8 toe, 9 tympanum.
    pub site: Option<u8>,
}

pub fn decode_temperature(b: &[u8]) -> Result<Temperature, BleError> {
    let uuid = UUID_TEMPERATURE_MEASUREMENT;
    let mut r = Rd::new(uuid, b);
    let flags = r.u8()?;
    reserved(uuid, flags, 0x07)?;
    let value = r.float()?;
    let time = if flags & 0x02 != 0 {
        Some(r.date_time()?)
    } else {
        None
    };
    let site = if flags & 0x04 != 0 {
        Some(r.u8()?)
    } else {
        None
    };
    r.end()?;
    Ok(Temperature {
        fahrenheit: flags & 1 != 0,
        value,
        time,
        site,
    })
}

/// Glucose Measurement (0x2A18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glucose {
    pub sequence: u16,
    pub base_time: BleDateTime,
    pub offset_min: Option<i16>,
    /// Concentration, in kg/L (`mol_per_l == false`) or mol/L.
    pub concentration: Option<Reading>,
    pub mol_per_l: bool,
    /// Sample type (low nibble) and location (high nibble).
    pub type_location: Option<u8>,
    pub sensor_status: Option<u16>,
    pub context_follows: bool,
}

impl Glucose {
    /// Base time plus offset.
    pub fn time(&self) -> Option<DeviceTime> {
        let base = self.base_time.0?;
        let off = i64::from(self.offset_min.unwrap_or(0)) * 60_000;
        Some(DeviceTime {
            civil_ms: base.civil_ms + off,
        })
    }
}

pub fn decode_glucose(b: &[u8]) -> Result<Glucose, BleError> {
    let uuid = UUID_GLUCOSE_MEASUREMENT;
    let mut r = Rd::new(uuid, b);
    let flags = r.u8()?;
    reserved(uuid, flags, 0x1F)?;
    let sequence = r.u16()?;
    let base_time = r.date_time()?;
    let offset_min = if flags & 0x01 != 0 {
        Some(r.u16()? as i16)
    } else {
        None
    };
    let (concentration, type_location) = if flags & 0x02 != 0 {
        (Some(r.sfloat()?), Some(r.u8()?))
    } else {
        (None, None)
    };
    let sensor_status = if flags & 0x08 != 0 {
        Some(r.u16()?)
    } else {
        None
    };
    r.end()?;
    Ok(Glucose {
        sequence,
        base_time,
        offset_min,
        concentration,
        mol_per_l: flags & 0x04 != 0,
        type_location,
        sensor_status,
        context_follows: flags & 0x10 != 0,
    })
}

fn plx_status(ms: Option<u16>) -> MeasStatus {
    let Some(s) = ms else {
        return MeasStatus::default();
    };
    let map = [
        (5, MeasStatus::ONGOING),
        (6, MeasStatus::EARLY_ESTIMATE),
        (7, MeasStatus::VALIDATED),
        (8, MeasStatus::FULLY_QUALIFIED),
        (9, MeasStatus::FROM_STORAGE),
        (10, MeasStatus::DEMO_DATA),
        (11, MeasStatus::TEST_DATA),
        (12, MeasStatus::CALIBRATING),
        (13, MeasStatus::UNAVAILABLE),
        (14, MeasStatus::QUESTIONABLE),
        (15, MeasStatus::INVALID),
    ];
    MeasStatus(
        map.iter()
            .filter(|(bit, _)| s & (1 << bit) != 0)
            .fold(0, |a, (_, m)| a | m),
    )
}

fn ts(device: Option<DeviceTime>, host: HostTime, seq: Option<u64>) -> Timestamps {
    Timestamps { device, host, seq }
}

fn num(
    metric: Metric,
    reading: Reading,
    unit: Unit,
    status: MeasStatus,
    time: Timestamps,
    episodic: bool,
) -> Observation {
    Observation::Numeric(Numeric {
        metric,
        reading,
        unit,
        status,
        time,
        episodic,
    })
}

/// Decodes one notification/indication of characteristic `uuid` into
/// observations. Errors refuse the whole value.
pub fn decode(uuid: u16, b: &[u8], host: HostTime) -> Result<Vec<Observation>, BleError> {
    let mut out = Vec::new();
    match uuid {
        UUID_HEART_RATE_MEASUREMENT => {
            let m = decode_heart_rate(b)?;
            let mut st = MeasStatus::default();
            if m.contact_supported && !m.contact_detected {
                st = st.with(MeasStatus::NO_CONTACT | MeasStatus::QUESTIONABLE);
            }
            let t = ts(None, host, None);
            out.push(num(
                Metric::HeartRate,
                Reading::Value(Decimal::int(i64::from(m.bpm))),
                Unit::PerMin,
                st,
                t,
                false,
            ));
            if let Some(e) = m.energy_kj {
                out.push(num(
                    Metric::EnergyExpended,
                    Reading::Value(Decimal::int(i64::from(e))),
                    Unit::KiloJoule,
                    st,
                    t,
                    false,
                ));
            }
            for rr in m.rr_1024 {
                // rr / 1024 s exactly: 1/1024 = 9765625e-10.
                out.push(num(
                    Metric::RrInterval,
                    Reading::Value(Decimal::new(i64::from(rr) * 9_765_625, -10)),
                    Unit::Second,
                    st,
                    t,
                    false,
                ));
            }
        }
        UUID_BLOOD_PRESSURE_MEASUREMENT => {
            let m = decode_blood_pressure(b)?;
            let unit = if m.kpa { Unit::KPa } else { Unit::MmHg };
            let mut st = MeasStatus::default();
            if let Some(s) = m.status {
                if s & (0x01 | 0x02 | 0x20) != 0 {
                    st = st.with(MeasStatus::CUFF_PROBLEM | MeasStatus::QUESTIONABLE);
                }
                if s & 0x04 != 0 {
                    st = st.with(MeasStatus::IRREGULAR_PULSE);
                }
            }
            let t = ts(m.time.and_then(|d| d.0), host, None);
            out.push(num(Metric::NibpSys, m.systolic, unit, st, t, true));
            out.push(num(Metric::NibpDia, m.diastolic, unit, st, t, true));
            out.push(num(Metric::NibpMean, m.mean, unit, st, t, true));
            if let Some(p) = m.pulse {
                out.push(num(Metric::PulseRate, p, Unit::PerMin, st, t, true));
            }
        }
        UUID_PLX_SPOT_CHECK => {
            let m = decode_plx_spot_check(b)?;
            let st = plx_status(m.measurement_status);
            // "Device clock not set": the timestamp is not a clock reading.
            let dev = if m.clock_not_set {
                None
            } else {
                m.time.and_then(|d| d.0)
            };
            let t = ts(dev, host, None);
            out.push(num(Metric::SpO2, m.spo2, Unit::Percent, st, t, true));
            out.push(num(Metric::PulseRate, m.pulse, Unit::PerMin, st, t, true));
            if let Some(p) = m.pai {
                out.push(num(
                    Metric::PulseAmplitudeIndex,
                    p,
                    Unit::Percent,
                    st,
                    t,
                    true,
                ));
            }
        }
        UUID_PLX_CONTINUOUS => {
            let m = decode_plx_continuous(b)?;
            let st = plx_status(m.measurement_status);
            let t = ts(None, host, None);
            out.push(num(Metric::SpO2, m.spo2, Unit::Percent, st, t, false));
            out.push(num(Metric::PulseRate, m.pulse, Unit::PerMin, st, t, false));
            if let Some(p) = m.pai {
                out.push(num(
                    Metric::PulseAmplitudeIndex,
                    p,
                    Unit::Percent,
                    st,
                    t,
                    false,
                ));
            }
        }
        UUID_TEMPERATURE_MEASUREMENT => {
            let m = decode_temperature(b)?;
            let unit = if m.fahrenheit {
                Unit::Fahrenheit
            } else {
                Unit::Celsius
            };
            let t = ts(m.time.and_then(|d| d.0), host, None);
            out.push(num(
                Metric::Temperature,
                m.value,
                unit,
                MeasStatus::default(),
                t,
                true,
            ));
        }
        UUID_GLUCOSE_MEASUREMENT => {
            let m = decode_glucose(b)?;
            let mut st = MeasStatus::default();
            if m.sensor_status.is_some_and(|s| s != 0) {
                st = st.with(MeasStatus::SENSOR_ANNUNCIATION | MeasStatus::QUESTIONABLE);
            }
            if let Some(c) = m.concentration {
                let unit = if m.mol_per_l {
                    Unit::MolPerL
                } else {
                    Unit::KgPerL
                };
                let t = ts(m.time(), host, Some(u64::from(m.sequence)));
                out.push(num(Metric::Glucose, c, unit, st, t, true));
            }
        }
        other => return Err(BleError::Unsupported { uuid: other }),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: HostTime = HostTime {
        wall_ms: 1_700_000_000_000,
        mono_ms: 5,
    };

    fn dt(y: u16, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> Option<BleDateTime> {
        Some(BleDateTime(civil_time(y, mo, d, h, mi, s, 0)))
    }

    fn v(m: i64, e: i8) -> Reading {
        Reading::Value(Decimal::new(m, e))
    }

    #[test]
    fn heart_rate_vectors() {
        let m = decode_heart_rate(&[0x06, 0x48]).unwrap();
        assert_eq!(
            (m.bpm, m.contact_supported, m.contact_detected),
            (72, true, true)
        );
        let m = decode_heart_rate(&[0x16, 0x48, 0x34, 0x03, 0x48, 0x03]).unwrap();
        assert_eq!(m.rr_1024, vec![820, 840]);
        let m = decode_heart_rate(&[0x09, 0xB4, 0x00, 0xD2, 0x04]).unwrap();
        assert_eq!((m.bpm, m.energy_kj), (180, Some(1234)));
        // RR list with an odd byte, flags promising a u16 that is missing.
        assert!(decode_heart_rate(&[0x10, 0x48, 0x34]).is_err());
        assert!(decode_heart_rate(&[0x01, 0x48]).is_err());
        assert!(decode_heart_rate(&[0x20, 0x48]).is_err());
        assert!(decode_heart_rate(&[0x00, 0x48, 0x00]).is_err());
        assert!(decode_heart_rate(&[]).is_err());
    }

    #[test]
    fn heart_rate_observations_keep_rr_exact_and_flag_lost_contact() {
        let obs = decode(
            UUID_HEART_RATE_MEASUREMENT,
            &[0x16, 0x48, 0x34, 0x03, 0x48, 0x03],
            H,
        )
        .unwrap();
        let Observation::Numeric(rr) = &obs[1] else {
            panic!("{obs:?}")
        };
        assert_eq!(rr.metric, Metric::RrInterval);
        assert!(
            rr.reading
                .value()
                .unwrap()
                .same_value(Decimal::new(80_078_125, -8))
        );
        // contact supported (b2) but not detected (b1)
        let obs = decode(UUID_HEART_RATE_MEASUREMENT, &[0x04, 0x48], H).unwrap();
        let Observation::Numeric(hr) = &obs[0] else {
            panic!()
        };
        assert!(hr.status.has(MeasStatus::NO_CONTACT));
    }

    #[test]
    fn blood_pressure_vectors() {
        let m = decode_blood_pressure(&[
            0x06, 0x78, 0x00, 0x50, 0x00, 0x5D, 0x00, 0xE8, 0x07, 0x03, 0x0F, 0x0A, 0x1E, 0x00,
            0x48, 0x00,
        ])
        .unwrap();
        assert_eq!(
            (m.systolic, m.diastolic, m.mean),
            (v(120, 0), v(80, 0), v(93, 0))
        );
        assert!(!m.kpa);
        assert_eq!(m.time, dt(2024, 3, 15, 10, 30, 0));
        assert_eq!(m.pulse, Some(v(72, 0)));
        let m = decode_blood_pressure(&[
            0x1F, 0xA0, 0xF0, 0x6B, 0xF0, 0x7C, 0xF0, 0xE8, 0x07, 0x03, 0x0F, 0x0A, 0x1E, 0x00,
            0x48, 0x00, 0x01, 0x04, 0x00,
        ])
        .unwrap();
        assert!(m.kpa);
        assert_eq!(
            (m.systolic, m.diastolic, m.mean),
            (v(160, -1), v(107, -1), v(124, -1))
        );
        assert_eq!((m.user, m.status), (Some(1), Some(0x0004)));
        let obs = decode(
            UUID_BLOOD_PRESSURE_MEASUREMENT,
            &[
                0x1F, 0xA0, 0xF0, 0x6B, 0xF0, 0x7C, 0xF0, 0xE8, 0x07, 0x03, 0x0F, 0x0A, 0x1E, 0x00,
                0x48, 0x00, 0x01, 0x04, 0x00,
            ],
            H,
        )
        .unwrap();
        let Observation::Numeric(sys) = &obs[0] else {
            panic!()
        };
        assert!(sys.episodic && sys.unit == Unit::KPa);
        assert!(sys.status.has(MeasStatus::IRREGULAR_PULSE));
        assert_eq!(sys.time.device, civil_time(2024, 3, 15, 10, 30, 0, 0));
    }

    #[test]
    fn blood_pressure_refuses_nonsense_dates() {
        // month 13
        let b = [
            0x02, 0x78, 0x00, 0x50, 0x00, 0x5D, 0x00, 0xE8, 0x07, 0x0D, 0x0F, 0x0A, 0x1E, 0x00,
        ];
        assert_eq!(
            decode_blood_pressure(&b),
            Err(BleError::BadDateTime {
                uuid: UUID_BLOOD_PRESSURE_MEASUREMENT
            })
        );
    }

    #[test]
    fn plx_vectors() {
        let m = decode_plx_spot_check(&[0x00, 0x62, 0x00, 0x48, 0x00]).unwrap();
        assert_eq!((m.spo2, m.pulse), (v(98, 0), v(72, 0)));
        let m = decode_plx_spot_check(&[0x00, 0x62, 0x00, 0xFF, 0x07]).unwrap();
        assert_eq!((m.spo2, m.pulse), (v(98, 0), Reading::NaN));
        let m = decode_plx_spot_check(&[
            0x01, 0x61, 0x00, 0x58, 0x00, 0xE8, 0x07, 0x03, 0x0F, 0x0A, 0x1E, 0x05,
        ])
        .unwrap();
        assert_eq!((m.spo2, m.pulse), (v(97, 0), v(88, 0)));
        assert_eq!(m.time, dt(2024, 3, 15, 10, 30, 5));
        let m = decode_plx_continuous(&[0x04, 0x61, 0x00, 0x4B, 0x00, 0x80, 0x00]).unwrap();
        assert_eq!(
            (m.spo2, m.pulse, m.measurement_status),
            (v(97, 0), v(75, 0), Some(0x80))
        );
        assert!(plx_status(m.measurement_status).has(MeasStatus::VALIDATED));
        let m = decode_plx_continuous(&[0x10, 0x5F, 0x00, 0x6E, 0x00, 0x19, 0xF0]).unwrap();
        assert_eq!(
            (m.spo2, m.pulse, m.pai),
            (v(95, 0), v(110, 0), Some(v(25, -1)))
        );
    }

    #[test]
    fn plx_nan_pulse_stays_nan_in_observations() {
        let obs = decode(UUID_PLX_SPOT_CHECK, &[0x00, 0x62, 0x00, 0xFF, 0x07], H).unwrap();
        let Observation::Numeric(pr) = &obs[1] else {
            panic!()
        };
        assert_eq!((pr.metric, pr.reading), (Metric::PulseRate, Reading::NaN));
    }

    #[test]
    fn plx_clock_not_set_drops_the_device_time() {
        let b = [
            0x11, 0x61, 0x00, 0x58, 0x00, 0xE8, 0x07, 0x03, 0x0F, 0x0A, 0x1E, 0x05,
        ];
        let obs = decode(UUID_PLX_SPOT_CHECK, &b, H).unwrap();
        let Observation::Numeric(n) = &obs[0] else {
            panic!()
        };
        assert_eq!(n.time.device, None);
    }

    #[test]
    fn temperature_vectors() {
        let m = decode_temperature(&[
            0x06, 0x6C, 0x01, 0x00, 0xFF, 0xE8, 0x07, 0x03, 0x0F, 0x0A, 0x1E, 0x00, 0x09,
        ])
        .unwrap();
        assert_eq!(
            (m.value, m.site, m.fahrenheit),
            (v(364, -1), Some(9), false)
        );
        assert_eq!(m.time, dt(2024, 3, 15, 10, 30, 0));
        let m = decode_temperature(&[0x01, 0xCF, 0x03, 0x00, 0xFF]).unwrap();
        assert_eq!((m.value, m.fahrenheit), (v(975, -1), true));
        assert!(decode_temperature(&[0x08, 0xCF, 0x03, 0x00, 0xFF]).is_err());
    }

    #[test]
    fn glucose_vectors() {
        let m = decode_glucose(&[
            0x02, 0x01, 0x00, 0xE8, 0x07, 0x03, 0x0F, 0x0A, 0x1E, 0x00, 0x78, 0xB0, 0x11,
        ])
        .unwrap();
        assert_eq!(m.sequence, 1);
        assert_eq!(m.concentration, Some(v(120, -5)));
        assert_eq!((m.mol_per_l, m.type_location), (false, Some(0x11)));
        let m = decode_glucose(&[
            0x07, 0x02, 0x00, 0xE8, 0x07, 0x03, 0x0F, 0x0A, 0x1E, 0x00, 0xFB, 0xFF, 0x43, 0xC0,
            0x11,
        ])
        .unwrap();
        assert_eq!((m.sequence, m.offset_min), (2, Some(-5)));
        assert_eq!(m.concentration, Some(v(67, -4)));
        assert!(m.mol_per_l);
        assert_eq!(m.time(), civil_time(2024, 3, 15, 10, 25, 0, 0));
        let obs = decode(
            UUID_GLUCOSE_MEASUREMENT,
            &[
                0x07, 0x02, 0x00, 0xE8, 0x07, 0x03, 0x0F, 0x0A, 0x1E, 0x00, 0xFB, 0xFF, 0x43, 0xC0,
                0x11,
            ],
            H,
        )
        .unwrap();
        let Observation::Numeric(g) = &obs[0] else {
            panic!()
        };
        assert_eq!((g.time.seq, g.unit), (Some(2), Unit::MolPerL));
    }

    #[test]
    fn unknown_characteristic_is_refused() {
        assert_eq!(
            decode(0x2A19, &[0x64], H),
            Err(BleError::Unsupported { uuid: 0x2A19 })
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn decoders_never_panic(uuid in prop::sample::select(vec![
                UUID_HEART_RATE_MEASUREMENT, UUID_BLOOD_PRESSURE_MEASUREMENT, UUID_PLX_SPOT_CHECK,
                UUID_PLX_CONTINUOUS, UUID_TEMPERATURE_MEASUREMENT, UUID_GLUCOSE_MEASUREMENT, 0x1234]),
                bytes in prop::collection::vec(any::<u8>(), 0..40)) {
                let _ = decode(uuid, &bytes, H);
            }

            #[test]
            fn sfloat_encode_decode_is_identity(raw in any::<u16>()) {
                let r = ieee11073::sfloat(raw);
                let back = ieee11073::encode_sfloat(r).map(ieee11073::sfloat);
                match r {
                    Reading::Value(d) => prop_assert!(back.and_then(Reading::value).is_some_and(|b| b.same_value(d))),
                    special => prop_assert_eq!(back, Some(special)),
                }
            }

            #[test]
            fn float_encode_decode_is_identity(raw in any::<u32>()) {
                let r = ieee11073::float(raw);
                let back = ieee11073::encode_float(r).map(ieee11073::float);
                match r {
                    Reading::Value(d) => prop_assert!(back.and_then(Reading::value).is_some_and(|b| b.same_value(d))),
                    special => prop_assert_eq!(back, Some(special)),
                }
            }

            #[test]
            fn any_heart_rate_u8_decodes_exactly(bpm in any::<u8>(), contact in 0u8..4) {
                let m = decode_heart_rate(&[contact << 1, bpm]).unwrap();
                prop_assert_eq!(m.bpm, u16::from(bpm));
            }
        }
    }
}
