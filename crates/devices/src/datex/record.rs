//! Datex-Ohmeda S/5 records: the 40-byte little-endian header with its
//! subrecord table, the requests the host sends (numerics, waves), the
//! physiological database (PHDB) basic class and wave subrecords.
//!
//! Layouts follow the open reference (VSCapture / VSCaptureWave structs,
//! devices.md §1.2). Every offset and count is checked against the bytes
//! present; nothing here panics on outside data.
//!
//! Special values (`< -32001`) are kept as what they are ([`DxValue`]) and
//! reach the observation model as the matching [`Reading`] special; none is
//! ever turned into a number.

use crate::obs::{Decimal, Reading, Unit, alarm_text};

pub const HEADER_LEN: usize = 40;
pub const SR_SLOTS: usize = 8;
/// End of the subrecord table.
pub const SR_END: u8 = 0xFF;

/// `r_maintype`.
pub const MAINTYPE_PHDB: i16 = 0;
pub const MAINTYPE_WAVE: i16 = 1;
pub const MAINTYPE_ALARM: i16 = 4;

/// Subrecord type of a request (`DRI_PH_XMIT_REQ` / `DRI_WF_REQ`).
pub const SR_REQUEST: u8 = 0;
/// PHDB subrecord types = the record type requested.
pub const PHDB_DISPLAYED: u8 = 1;
pub const PHDB_TREND_10S: u8 = 2;
pub const PHDB_TREND_60S: u8 = 3;

/// `phdb_class_bf`: basic class only.
pub const CLASS_BASIC: u32 = 0x0000;
pub const CLASS_EXT1: u32 = 0x0002;
pub const CLASS_EXT2: u32 = 0x0004;
pub const CLASS_EXT3: u32 = 0x0008;

/// DRI levels, newest first (the monitor answers only its own).
pub const DRI_LEVEL_2015: u8 = 0x0B;
pub const DRI_LEVEL_2009: u8 = 0x0A;
pub const DRI_LEVEL_2005: u8 = 0x09;
pub const DRI_LEVEL_2003: u8 = 0x08;
pub const DRI_LEVEL_2001: u8 = 0x07;
pub const DRI_LEVELS: [u8; 5] = [
    DRI_LEVEL_2015,
    DRI_LEVEL_2009,
    DRI_LEVEL_2005,
    DRI_LEVEL_2003,
    DRI_LEVEL_2001,
];

/// Wave ids (`wf_req.type[]`, wave subrecord types).
pub const WAVE_ECG1: u8 = 1;
pub const WAVE_ECG2: u8 = 2;
pub const WAVE_ECG3: u8 = 3;
pub const WAVE_PLETH: u8 = 8;
pub const WAVE_CO2: u8 = 9;
/// The S/5 streams at most 8 waves.
pub const MAX_WAVES: usize = 8;

/// Values below this are status codes, not measurements.
pub const DATA_INVALID_LIMIT: i16 = -32001;
pub const DATA_INVALID: i16 = -32767;
pub const DATA_NOT_UPDATED: i16 = -32766;
pub const DATA_DISCONT: i16 = -32765;
pub const DATA_UNDER_RANGE: i16 = -32764;
pub const DATA_OVER_RANGE: i16 = -32763;
pub const DATA_NOT_CALIBRATED: i16 = -32762;

/// Size of one PHDB class block and of a PHDB subrecord (time + block).
pub const PHDB_BLOCK_LEN: usize = 270;
pub const PHDB_SUBRECORD_LEN: usize = 4 + PHDB_BLOCK_LEN;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record shorter than its 40-byte header ({0} bytes)")]
    ShortHeader(usize),
    #[error("r_len {r_len} disagrees with the {actual} bytes received")]
    LengthMismatch { r_len: i16, actual: usize },
    #[error("subrecord {index} at offset {offset} lies outside the record")]
    SubrecordOutOfBounds { index: usize, offset: i16 },
    #[error("subrecord offsets are not increasing")]
    SubrecordOrder,
    #[error("PHDB subrecord of {0} bytes is shorter than 274")]
    ShortPhdb(usize),
    #[error("wave subrecord: {0}")]
    BadWave(&'static str),
    #[error("unknown main type {0}")]
    UnknownMaintype(i16),
    #[error("alarm subrecord: {0}")]
    BadAlarm(&'static str),
}

/// The 40-byte header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub r_len: i16,
    pub r_nbr: u8,
    pub dri_level: u8,
    pub plug_id: u16,
    /// Monitor clock, seconds since 1970 in the monitor's local time.
    pub r_time: u32,
    pub r_maintype: i16,
    /// `(sr_offset, sr_type)` up to the first [`SR_END`].
    pub subrecords: [(i16, u8); SR_SLOTS],
    pub n_subrecords: usize,
}

/// A parsed record: its header and the data area after the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub header: Header,
    pub data: &'a [u8],
}

fn le16(b: &[u8], at: usize) -> Option<i16> {
    Some(i16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

impl<'a> Record<'a> {
    pub fn parse(b: &'a [u8]) -> Result<Record<'a>, RecordError> {
        if b.len() < HEADER_LEN {
            return Err(RecordError::ShortHeader(b.len()));
        }
        let r_len = le16(b, 0).unwrap_or(0);
        if usize::try_from(r_len).ok() != Some(b.len()) {
            return Err(RecordError::LengthMismatch {
                r_len,
                actual: b.len(),
            });
        }
        let mut subrecords = [(0i16, SR_END); SR_SLOTS];
        let mut n = 0;
        for (i, slot) in subrecords.iter_mut().enumerate() {
            let at = 16 + 3 * i;
            let off = le16(b, at).unwrap_or(0);
            let ty = b.get(at + 2).copied().unwrap_or(SR_END);
            if ty == SR_END {
                break;
            }
            *slot = (off, ty);
            n += 1;
        }
        let header = Header {
            r_len,
            r_nbr: b[2],
            dri_level: b[3],
            plug_id: u16::from_le_bytes([b[4], b[5]]),
            r_time: le32(b, 6).unwrap_or(0),
            r_maintype: le16(b, 14).unwrap_or(0),
            subrecords,
            n_subrecords: n,
        };
        let data = &b[HEADER_LEN..];
        let mut last = -1i32;
        for (i, &(off, _)) in subrecords[..n].iter().enumerate() {
            if off < 0 || off as usize > data.len() {
                return Err(RecordError::SubrecordOutOfBounds {
                    index: i,
                    offset: off,
                });
            }
            if i32::from(off) <= last {
                return Err(RecordError::SubrecordOrder);
            }
            last = i32::from(off);
        }
        Ok(Record { header, data })
    }

    /// The subrecords as `(type, bytes)`: each runs to the next offset or
    /// to the end of the record.
    pub fn subrecords(&self) -> impl Iterator<Item = (u8, &'a [u8])> + '_ {
        let n = self.header.n_subrecords;
        let table = &self.header.subrecords[..n];
        let data = self.data;
        table.iter().enumerate().map(move |(i, &(off, ty))| {
            let start = usize::try_from(off).unwrap_or(0).min(data.len());
            let end = table
                .get(i + 1)
                .map_or(data.len(), |&(o, _)| usize::try_from(o).unwrap_or(0))
                .clamp(start, data.len());
            (ty, &data[start..end])
        })
    }
}

/// Builds a record: header with `subrecords` laid out one after another.
pub fn encode_record(
    dri_level: u8,
    r_nbr: u8,
    r_time: u32,
    maintype: i16,
    subrecords: &[(u8, &[u8])],
) -> Vec<u8> {
    let body: usize = subrecords.iter().map(|(_, b)| b.len()).sum();
    let len = HEADER_LEN + body;
    let mut r = Vec::with_capacity(len);
    r.extend_from_slice(&(len as i16).to_le_bytes());
    r.push(r_nbr);
    r.push(dri_level);
    r.extend_from_slice(&0u16.to_le_bytes()); // plug_id
    r.extend_from_slice(&r_time.to_le_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]); // reserved u8, u8, u16
    r.extend_from_slice(&maintype.to_le_bytes());
    let mut off = 0usize;
    for i in 0..SR_SLOTS {
        match subrecords.get(i) {
            Some((ty, b)) => {
                r.extend_from_slice(&(off as i16).to_le_bytes());
                r.push(*ty);
                off += b.len();
            }
            None if i == subrecords.len() => r.extend_from_slice(&[0, 0, SR_END]),
            None => r.extend_from_slice(&[0, 0, 0]),
        }
    }
    for (_, b) in subrecords.iter().take(SR_SLOTS) {
        r.extend_from_slice(b);
    }
    r
}

/// The numeric (PHDB) request: record type, transmit interval (0 = stop),
/// class bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhdbRequest {
    pub record_type: u8,
    pub tx_interval_s: i16,
    pub class_bf: u32,
}

impl PhdbRequest {
    pub fn encode(&self, dri_level: u8) -> Vec<u8> {
        let mut sr = Vec::with_capacity(9);
        sr.push(self.record_type);
        sr.extend_from_slice(&self.tx_interval_s.to_le_bytes());
        sr.extend_from_slice(&self.class_bf.to_le_bytes());
        sr.extend_from_slice(&[0, 0]);
        encode_record(dri_level, 0, 0, MAINTYPE_PHDB, &[(SR_REQUEST, &sr)])
    }

    pub fn parse(sr: &[u8]) -> Option<PhdbRequest> {
        Some(PhdbRequest {
            record_type: *sr.first()?,
            tx_interval_s: le16(sr, 1)?,
            class_bf: le32(sr, 3)?,
        })
    }
}

/// The wave request: start (`req_type` 0) or stop (1) up to 8 waves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveRequest {
    pub start: bool,
    pub waves: Vec<u8>,
}

impl WaveRequest {
    pub fn encode(&self, dri_level: u8) -> Vec<u8> {
        let mut sr = Vec::with_capacity(32);
        sr.extend_from_slice(&i16::from(!self.start).to_le_bytes());
        sr.extend_from_slice(&[0, 0]);
        let mut types = [0u8; 8];
        let n = self.waves.len().min(MAX_WAVES - 1);
        types[..n].copy_from_slice(&self.waves[..n]);
        types[n] = SR_END;
        sr.extend_from_slice(&types);
        sr.extend_from_slice(&[0; 20]);
        encode_record(dri_level, 0, 0, MAINTYPE_WAVE, &[(SR_REQUEST, &sr)])
    }

    pub fn parse(sr: &[u8]) -> Option<WaveRequest> {
        let req = le16(sr, 0)?;
        let types = sr.get(4..12)?;
        Some(WaveRequest {
            start: req == 0,
            waves: types.iter().copied().take_while(|&t| t != SR_END).collect(),
        })
    }
}

/// One raw value as the monitor sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DxValue {
    Value(i16),
    Invalid,
    NotUpdated,
    Discontinuity,
    UnderRange,
    OverRange,
    NotCalibrated,
    /// Another code below −32001 (reserved by the spec): kept, not used.
    OtherSpecial(i16),
}

impl DxValue {
    pub fn from_raw(v: i16) -> DxValue {
        match v {
            DATA_INVALID => DxValue::Invalid,
            DATA_NOT_UPDATED => DxValue::NotUpdated,
            DATA_DISCONT => DxValue::Discontinuity,
            DATA_UNDER_RANGE => DxValue::UnderRange,
            DATA_OVER_RANGE => DxValue::OverRange,
            DATA_NOT_CALIBRATED => DxValue::NotCalibrated,
            v if v < DATA_INVALID_LIMIT => DxValue::OtherSpecial(v),
            v => DxValue::Value(v),
        }
    }

    pub fn to_raw(self) -> i16 {
        match self {
            DxValue::Value(v) | DxValue::OtherSpecial(v) => v,
            DxValue::Invalid => DATA_INVALID,
            DxValue::NotUpdated => DATA_NOT_UPDATED,
            DxValue::Discontinuity => DATA_DISCONT,
            DxValue::UnderRange => DATA_UNDER_RANGE,
            DxValue::OverRange => DATA_OVER_RANGE,
            DxValue::NotCalibrated => DATA_NOT_CALIBRATED,
        }
    }

    /// `raw × 10^exponent`, or the matching special reading.
    pub fn reading(self, exponent: i8) -> Reading {
        match self {
            DxValue::Value(v) => Reading::Value(Decimal::new(i64::from(v), exponent)),
            DxValue::Invalid => Reading::Invalid,
            DxValue::NotUpdated => Reading::NotUpdated,
            DxValue::Discontinuity => Reading::Discontinuity,
            DxValue::UnderRange => Reading::UnderRange,
            DxValue::OverRange => Reading::OverRange,
            DxValue::NotCalibrated => Reading::NotCalibrated,
            DxValue::OtherSpecial(_) => Reading::Reserved,
        }
    }
}

/// Where a value sits in the basic class block, and its scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicField {
    pub name: &'static str,
    /// Byte offset in the 270-byte block.
    pub offset: usize,
    /// Physical value = raw × 10^exponent.
    pub exponent: i8,
}

pub const ECG_HR: BasicField = BasicField {
    name: "ecg.hr",
    offset: 6,
    exponent: 0,
};
pub const P1_SYS: BasicField = BasicField {
    name: "p1.sys",
    offset: 22,
    exponent: -2,
};
pub const P1_DIA: BasicField = BasicField {
    name: "p1.dia",
    offset: 24,
    exponent: -2,
};
pub const P1_MEAN: BasicField = BasicField {
    name: "p1.mean",
    offset: 26,
    exponent: -2,
};
pub const NIBP_SYS: BasicField = BasicField {
    name: "nibp.sys",
    offset: 78,
    exponent: -2,
};
pub const NIBP_DIA: BasicField = BasicField {
    name: "nibp.dia",
    offset: 80,
    exponent: -2,
};
pub const NIBP_MEAN: BasicField = BasicField {
    name: "nibp.mean",
    offset: 82,
    exponent: -2,
};
/// Respiration rate from the ECG impedance, 1/min.
pub const ECG_IMP_RR: BasicField = BasicField {
    name: "ecg.imp_rr",
    offset: 14,
    exponent: 0,
};
pub const T1_TEMP: BasicField = BasicField {
    name: "t1.temp",
    offset: 92,
    exponent: -2,
};
pub const T2_TEMP: BasicField = BasicField {
    name: "t2.temp",
    offset: 100,
    exponent: -2,
};
pub const T3_TEMP: BasicField = BasicField {
    name: "t3.temp",
    offset: 108,
    exponent: -2,
};
pub const T4_TEMP: BasicField = BasicField {
    name: "t4.temp",
    offset: 116,
    exponent: -2,
};
/// Respiration rate measured by spirometry (flow/volume group), 1/min.
pub const FLOW_VOL_RR: BasicField = BasicField {
    name: "flow_vol.rr",
    offset: 184,
    exponent: 0,
};
pub const SPO2: BasicField = BasicField {
    name: "spo2.spo2",
    offset: 124,
    exponent: -2,
};
pub const SPO2_PR: BasicField = BasicField {
    name: "spo2.pr",
    offset: 126,
    exponent: 0,
};
/// CO2 fraction in 0.01 %; mmHg needs the ambient pressure.
pub const CO2_ET: BasicField = BasicField {
    name: "co2.et",
    offset: 138,
    exponent: -2,
};
pub const CO2_RR: BasicField = BasicField {
    name: "co2.rr",
    offset: 142,
    exponent: 0,
};
/// Ambient pressure in 0.1 mmHg.
pub const CO2_AMB_PRESS: BasicField = BasicField {
    name: "co2.amb_press",
    offset: 144,
    exponent: -1,
};

/// One PHDB subrecord of the basic class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phdb<'a> {
    /// The subrecord's own time (monitor clock, seconds).
    pub time: u32,
    pub block: &'a [u8],
}

impl<'a> Phdb<'a> {
    pub fn parse(sr: &'a [u8]) -> Result<Phdb<'a>, RecordError> {
        if sr.len() < PHDB_SUBRECORD_LEN {
            return Err(RecordError::ShortPhdb(sr.len()));
        }
        Ok(Phdb {
            time: le32(sr, 0).unwrap_or(0),
            block: &sr[4..PHDB_SUBRECORD_LEN],
        })
    }

    pub fn get(&self, f: BasicField) -> DxValue {
        // The block is exactly 270 bytes and every field lies inside it;
        // a miss would be a table bug, reported as invalid.
        le16(self.block, f.offset).map_or(DxValue::Invalid, DxValue::from_raw)
    }

    /// End-tidal CO2 in mmHg = fraction × ambient pressure: with et in
    /// 0.01 % and amb in 0.1 mmHg that is exactly `et × amb × 10⁻⁵`. A
    /// special in either input is the result.
    pub fn etco2_mmhg(&self) -> Reading {
        match (self.get(CO2_ET), self.get(CO2_AMB_PRESS)) {
            (DxValue::Value(et), DxValue::Value(amb)) => {
                Reading::Value(Decimal::new(i64::from(et) * i64::from(amb), -5))
            }
            (DxValue::Value(_), amb) => amb.reading(0),
            (et, _) => et.reading(0),
        }
    }
}

/// Builds the 274-byte PHDB basic subrecord from `(field, value)` pairs;
/// every other value slot of the known groups is "invalid".
pub fn encode_phdb_basic(time: u32, values: &[(BasicField, DxValue)]) -> Vec<u8> {
    let mut sr = vec![0u8; PHDB_SUBRECORD_LEN];
    sr[..4].copy_from_slice(&time.to_le_bytes());
    let block = &mut sr[4..];
    // value slots of the groups we know (after each 6-byte group header)
    let groups: [(usize, usize); 11] = [
        (0, 5),   // ECG: hr, st1-3, imp_rr
        (16, 4),  // P1
        (30, 4),  // P2
        (44, 4),  // P3
        (58, 4),  // P4
        (72, 4),  // NIBP
        (86, 1),  // T1
        (94, 1),  // T2
        (102, 1), // T3
        (110, 1), // T4
        (118, 4), // SpO2
    ];
    // CO2 and the flow/volume group (spirometry).
    for (g, n) in groups.into_iter().chain([(132, 4), (178, 8)]) {
        for k in 0..n {
            let at = g + 6 + 2 * k;
            block[at..at + 2].copy_from_slice(&DATA_INVALID.to_le_bytes());
        }
    }
    for (f, v) in values {
        if let Some(slot) = block.get_mut(f.offset..f.offset + 2) {
            slot.copy_from_slice(&v.to_raw().to_le_bytes());
        }
    }
    sr
}

/// Static facts of a wave id: name, sample period, scaling, unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaveDef {
    pub id: u8,
    pub name: &'static str,
    /// From the S/5 spec's fixed rates (ECG 300 Hz, INVP/PLETH 100 Hz,
    /// gases 25 Hz); the record itself carries no rate.
    pub sample_period_us: u32,
    /// Physical value = raw × 10^exponent.
    pub exponent: i8,
    pub unit: Unit,
}

/// IntelliVue / 11073 unit code of cmH2O (no named [`Unit`] row).
pub const UNIT_CM_H2O: u16 = 3904;

pub const WAVES: &[WaveDef] = &[
    WaveDef {
        id: WAVE_ECG1,
        name: "ECG1",
        sample_period_us: 3333,
        exponent: -2,
        unit: Unit::MilliVolt,
    },
    WaveDef {
        id: WAVE_ECG2,
        name: "ECG2",
        sample_period_us: 3333,
        exponent: -2,
        unit: Unit::MilliVolt,
    },
    WaveDef {
        id: WAVE_ECG3,
        name: "ECG3",
        sample_period_us: 3333,
        exponent: -2,
        unit: Unit::MilliVolt,
    },
    WaveDef {
        id: 4,
        name: "INVP1",
        sample_period_us: 10_000,
        exponent: -2,
        unit: Unit::MmHg,
    },
    WaveDef {
        id: WAVE_PLETH,
        name: "PLETH",
        sample_period_us: 10_000,
        exponent: -2,
        unit: Unit::Dimensionless,
    },
    WaveDef {
        id: WAVE_CO2,
        name: "CO2",
        sample_period_us: 40_000,
        exponent: -2,
        unit: Unit::Percent,
    },
    WaveDef {
        id: 10,
        name: "O2",
        sample_period_us: 40_000,
        exponent: -2,
        unit: Unit::Percent,
    },
    WaveDef {
        id: 13,
        name: "AWP",
        sample_period_us: 40_000,
        exponent: -1,
        unit: Unit::Other(UNIT_CM_H2O),
    },
    WaveDef {
        id: 15,
        name: "RESP",
        sample_period_us: 40_000,
        exponent: -2,
        unit: Unit::Dimensionless,
    },
];

pub fn wave_def(id: u8) -> Option<&'static WaveDef> {
    WAVES.iter().find(|w| w.id == id)
}

/// Wave ids for configured names (case-insensitive), at most [`MAX_WAVES`].
pub fn wave_selection<S: AsRef<str>>(names: &[S]) -> Result<Vec<u8>, String> {
    if names.len() > MAX_WAVES {
        return Err(format!(
            "{} Datex waves listed; the S/5 streams at most {MAX_WAVES}",
            names.len()
        ));
    }
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        let n = n.as_ref().trim();
        let w = WAVES
            .iter()
            .find(|w| w.name.eq_ignore_ascii_case(n))
            .ok_or_else(|| format!("unknown Datex wave {n:?}"))?;
        if out.contains(&w.id) {
            return Err(format!("Datex wave {} is listed twice", w.name));
        }
        out.push(w.id);
    }
    Ok(out)
}

/// One wave subrecord: `{act_len i16, status u16, reserved u16}` + samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaveSub {
    pub status: u16,
    pub samples: Vec<i16>,
}

impl WaveSub {
    pub fn parse(sr: &[u8]) -> Result<WaveSub, RecordError> {
        let n = le16(sr, 0).ok_or(RecordError::BadWave("no header"))?;
        let status = le16(sr, 2).ok_or(RecordError::BadWave("no header"))? as u16;
        let n = usize::try_from(n).map_err(|_| RecordError::BadWave("negative length"))?;
        let body = sr
            .get(6..6 + 2 * n)
            .ok_or(RecordError::BadWave("fewer samples than announced"))?;
        Ok(WaveSub {
            status,
            samples: body
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect(),
        })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(6 + 2 * self.samples.len());
        b.extend_from_slice(&(self.samples.len() as i16).to_le_bytes());
        b.extend_from_slice(&self.status.to_le_bytes());
        b.extend_from_slice(&[0, 0]);
        for s in &self.samples {
            b.extend_from_slice(&s.to_le_bytes());
        }
        b
    }
}

// ---- alarms (r_maintype 4) ----
//
// Layout: `struct dri_al_msg` / `struct al_disp_al` / `struct al_tx_cmds`
// of the S/5 DRI interface as published in open code: the GE-style header
// with `#define boolean short` and 16-bit `enum_dri_alarm_color` /
// `enum_dri_alarm_type` (text[80], text_changed, color, color_changed,
// format_info, audio_mode, is_asy, is_apnea, alsrc_id, alarm_type,
// dev_language, reserved[1] = 98 bytes), the equivalent older form with
// `short reserved[6]` after color_changed (also 98 bytes), and the request
// `datex_alarm_req = hdr + {cmd, reserved[5]}` with DRI_AL_XMIT_STATUS 0,
// DRI_AL_ENTER_DIFFMODE 2, DRI_AL_EXIT_DIFFMODE 3 and subrecord
// DRI_AL_STATUS 1 (GE spec 8005313 / M1017617 "Access to alarm
// information", cited by those projects). Open ports disagree on the
// width of `boolean`/enum fields (1, 2 or 4 bytes); the two field-by-field
// layouts only agree at 2 bytes, so that is what is used here, and every
// field is range-checked: a record that does not fit is refused, never
// half-read.

/// Subrecord type of an alarm status message (DRI_AL_STATUS).
pub const SR_AL_STATUS: u8 = 1;
pub const AL_CMD_XMIT_STATUS: i16 = 0;
pub const AL_CMD_ENTER_DIFFMODE: i16 = 2;
pub const AL_CMD_EXIT_DIFFMODE: i16 = 3;
/// Alarm slots in one status message (sorted by colour, highest first).
pub const AL_SLOTS: usize = 5;
pub const AL_TEXT_LEN: usize = 80;
pub const AL_DISP_LEN: usize = 98;
/// sizeof(dri_al_msg): 5 × 2-byte header fields, 5 slots, 5 reserved shorts.
pub const AL_MSG_LEN: usize = 10 + AL_SLOTS * AL_DISP_LEN + 10;

/// The alarm transmission request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlarmRequest {
    pub cmd: i16,
}

impl AlarmRequest {
    pub fn encode(&self, dri_level: u8) -> Vec<u8> {
        let mut sr = Vec::with_capacity(12);
        sr.extend_from_slice(&self.cmd.to_le_bytes());
        sr.extend_from_slice(&[0; 10]);
        encode_record(dri_level, 0, 0, MAINTYPE_ALARM, &[(SR_REQUEST, &sr)])
    }

    pub fn parse(sr: &[u8]) -> Option<AlarmRequest> {
        Some(AlarmRequest { cmd: le16(sr, 0)? })
    }
}

/// One displayed alarm (`al_disp_al`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlarmDisp {
    /// Cleaned text (Latin-1 up to the first NUL, see [`alarm_text`]).
    pub text: String,
    pub text_changed: bool,
    /// 0 none, 1 white, 2 yellow, 3 red (DRI_PR0..3).
    pub color: u8,
    pub color_changed: bool,
    pub is_asy: bool,
    pub is_apnea: bool,
    /// 0 where the DRI level leaves it reserved.
    pub alsrc_id: u16,
    /// 0 unknown, 1 low limit, 2 high limit, 3 status.
    pub alarm_type: i16,
}

/// An alarm status message (`dri_al_msg`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlarmStatus {
    pub sound_on: bool,
    pub silence_info: i16,
    pub slots: Vec<AlarmDisp>,
}

fn flag16(b: &[u8], at: usize, what: &'static str) -> Result<bool, RecordError> {
    match le16(b, at) {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        _ => Err(RecordError::BadAlarm(what)),
    }
}

fn flag8(b: &[u8], at: usize, what: &'static str) -> Result<bool, RecordError> {
    match b.get(at) {
        Some(0) => Ok(false),
        Some(1) => Ok(true),
        _ => Err(RecordError::BadAlarm(what)),
    }
}

impl AlarmStatus {
    /// Parses a DRI_AL_STATUS subrecord; bytes after the 510 are ignored
    /// (the subrecord runs to the record's end).
    pub fn parse(sr: &[u8]) -> Result<AlarmStatus, RecordError> {
        if sr.len() < AL_MSG_LEN {
            return Err(RecordError::BadAlarm("shorter than dri_al_msg"));
        }
        let silence_info = le16(sr, 8).unwrap_or(-1);
        if !(0..=7).contains(&silence_info) {
            return Err(RecordError::BadAlarm("silence_info out of range"));
        }
        let mut slots = Vec::with_capacity(AL_SLOTS);
        for i in 0..AL_SLOTS {
            let at = 10 + i * AL_DISP_LEN;
            let d = &sr[at..at + AL_DISP_LEN];
            let color = le16(d, 82).unwrap_or(-1);
            if !(0..=3).contains(&color) {
                return Err(RecordError::BadAlarm("colour out of range"));
            }
            let alarm_type = le16(d, 92).unwrap_or(-1);
            if !(0..=3).contains(&alarm_type) {
                return Err(RecordError::BadAlarm("alarm type out of range"));
            }
            let raw = &d[..AL_TEXT_LEN];
            let end = raw.iter().position(|&c| c == 0).unwrap_or(AL_TEXT_LEN);
            slots.push(AlarmDisp {
                text: alarm_text(raw[..end].iter().map(|&c| char::from(c))),
                text_changed: flag16(d, 80, "text_changed not a boolean")?,
                color: color as u8,
                color_changed: flag16(d, 84, "color_changed not a boolean")?,
                is_asy: flag8(d, 88, "is_asy not a boolean")?,
                is_apnea: flag8(d, 89, "is_apnea not a boolean")?,
                alsrc_id: u16::from_le_bytes([d[90], d[91]]),
                alarm_type,
            });
        }
        Ok(AlarmStatus {
            sound_on: flag16(sr, 2, "sound_on_off not a boolean")?,
            silence_info,
            slots,
        })
    }

    /// The 510-byte subrecord; texts are cut to 79 Latin-1 bytes (others
    /// become '?'), slots beyond five are dropped, missing ones are empty.
    pub fn encode(&self) -> Vec<u8> {
        let mut sr = vec![0u8; AL_MSG_LEN];
        sr[2..4].copy_from_slice(&i16::from(self.sound_on).to_le_bytes());
        sr[8..10].copy_from_slice(&self.silence_info.to_le_bytes());
        for (i, s) in self.slots.iter().take(AL_SLOTS).enumerate() {
            let d = &mut sr[10 + i * AL_DISP_LEN..10 + (i + 1) * AL_DISP_LEN];
            for (k, c) in s.text.chars().take(AL_TEXT_LEN - 1).enumerate() {
                d[k] = u8::try_from(u32::from(c)).unwrap_or(b'?');
            }
            d[80..82].copy_from_slice(&i16::from(s.text_changed).to_le_bytes());
            d[82..84].copy_from_slice(&i16::from(s.color).to_le_bytes());
            d[84..86].copy_from_slice(&i16::from(s.color_changed).to_le_bytes());
            d[88] = u8::from(s.is_asy);
            d[89] = u8::from(s.is_apnea);
            d[90..92].copy_from_slice(&s.alsrc_id.to_le_bytes());
            d[92..94].copy_from_slice(&s.alarm_type.to_le_bytes());
        }
        sr
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datex::frame::{Deframer, encode_frame};

    fn hex(s: &str) -> Vec<u8> {
        s.split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect()
    }

    fn vf_status() -> AlarmStatus {
        AlarmStatus {
            sound_on: true,
            silence_info: 0,
            slots: vec![
                AlarmDisp {
                    text: "Asystole".into(),
                    text_changed: true,
                    color: 3,
                    color_changed: true,
                    is_asy: true,
                    is_apnea: false,
                    alsrc_id: 7,
                    alarm_type: 3,
                },
                AlarmDisp {
                    text: "SpO2 LOW".into(),
                    color: 2,
                    alarm_type: 1,
                    ..AlarmDisp::default()
                },
                AlarmDisp::default(),
                AlarmDisp::default(),
                AlarmDisp::default(),
            ],
        }
    }

    #[test]
    fn alarm_request_vector() {
        // header (maintype 4, one request subrecord) + {cmd 2, reserved[5]}
        let rec = AlarmRequest {
            cmd: AL_CMD_ENTER_DIFFMODE,
        }
        .encode(DRI_LEVEL_2005);
        assert_eq!(rec.len(), HEADER_LEN + 12);
        assert_eq!(&rec[..2], &[52, 0]);
        assert_eq!(rec[3], DRI_LEVEL_2005);
        assert_eq!(&rec[14..16], &[4, 0]);
        assert_eq!(&rec[16..22], &[0, 0, SR_REQUEST, 0, 0, SR_END]);
        assert_eq!(&rec[40..], &hex("02 00 00 00 00 00 00 00 00 00 00 00"));
        let r = Record::parse(&rec).unwrap();
        let (ty, sr) = r.subrecords().next().unwrap();
        assert_eq!(ty, SR_REQUEST);
        assert_eq!(AlarmRequest::parse(sr).map(|r| r.cmd), Some(2));
    }

    #[test]
    fn alarm_status_layout_and_round_trip() {
        let sr = vf_status().encode();
        assert_eq!(sr.len(), 510);
        // first slot at 10: text, then text_changed, color, color_changed
        assert_eq!(&sr[10..18], b"Asystole");
        assert_eq!(sr[18], 0);
        assert_eq!(&sr[90..96], &hex("01 00 03 00 01 00"));
        assert_eq!(&sr[98..100], &[1, 0]); // is_asy, is_apnea
        assert_eq!(&sr[100..104], &hex("07 00 03 00"));
        // second slot at 108
        assert_eq!(&sr[108..116], b"SpO2 LOW");
        assert_eq!(&sr[190..192], &[2, 0]);
        assert_eq!(AlarmStatus::parse(&sr), Ok(vf_status()));
        // trailing bytes in the subrecord are not part of dri_al_msg
        let mut longer = sr.clone();
        longer.extend_from_slice(&[0; 8]);
        assert_eq!(AlarmStatus::parse(&longer), Ok(vf_status()));
    }

    #[test]
    fn alarm_status_that_does_not_fit_is_refused() {
        let sr = vf_status().encode();
        for cut in [0, 9, 10, 107, 509] {
            assert!(AlarmStatus::parse(&sr[..cut]).is_err(), "cut {cut}");
        }
        // a colour or boolean out of range means the layout does not match
        for (at, v) in [
            (92usize, 4u8),
            (90, 2),
            (94, 9),
            (98, 2),
            (102, 7),
            (8, 8),
            (2, 5),
        ] {
            let mut b = sr.clone();
            b[at] = v;
            assert!(AlarmStatus::parse(&b).is_err(), "byte {at} = {v}");
        }
        // text: Latin-1 up to the NUL, control characters dropped, 80 max
        let mut b = sr.clone();
        b[10..90].copy_from_slice(&[b'A'; 80]);
        b[12] = b'\n';
        b[13] = 0xE4;
        let st = AlarmStatus::parse(&b).unwrap();
        assert_eq!(st.slots[0].text.chars().count(), 64);
        assert!(st.slots[0].text.starts_with("AA ä"));
    }

    #[test]
    fn doc_numeric_request_vector() {
        // devices.md §1.2: displayed values, 10 s, EXT1|EXT2|EXT3, level 2005
        let rec = PhdbRequest {
            record_type: PHDB_DISPLAYED,
            tx_interval_s: 10,
            class_bf: CLASS_EXT1 | CLASS_EXT2 | CLASS_EXT3,
        }
        .encode(DRI_LEVEL_2005);
        let mut w = Vec::new();
        encode_frame(&rec, &mut w).unwrap();
        let want = format!(
            "7E 31 00 00 09 {} FF {} 01 0A 00 0E 00 00 00 00 00 52 7E",
            ["00"; 17].join(" "),
            ["00"; 18].join(" ")
        );
        assert_eq!(w, hex(&want));
        assert_eq!(rec.len(), 49);
        let r = Record::parse(&rec).unwrap();
        assert_eq!(r.header.dri_level, 9);
        assert_eq!(r.header.n_subrecords, 1);
        let (ty, sr) = r.subrecords().next().unwrap();
        assert_eq!(ty, SR_REQUEST);
        assert_eq!(
            PhdbRequest::parse(sr),
            Some(PhdbRequest {
                record_type: 1,
                tx_interval_s: 10,
                class_bf: 0x0E
            })
        );
    }

    #[test]
    fn doc_wave_request_vector() {
        // ECG1 start @2005: 72 bytes, checksum 0x51
        let rec = WaveRequest {
            start: true,
            waves: vec![WAVE_ECG1],
        }
        .encode(DRI_LEVEL_2005);
        assert_eq!(rec.len(), 72);
        let mut w = Vec::new();
        encode_frame(&rec, &mut w).unwrap();
        assert_eq!(w[w.len() - 2], 0x51);
        assert_eq!(&rec[40..46], &[0, 0, 0, 0, 1, 0xFF]);
        let r = Record::parse(&rec).unwrap();
        assert_eq!(r.header.r_maintype, MAINTYPE_WAVE);
        let (_, sr) = r.subrecords().next().unwrap();
        assert_eq!(
            WaveRequest::parse(sr),
            Some(WaveRequest {
                start: true,
                waves: vec![1]
            })
        );
    }

    #[test]
    fn phdb_values_scaling_and_specials() {
        let sr = encode_phdb_basic(
            1_700_000_000,
            &[
                (ECG_HR, DxValue::Value(72)),
                (NIBP_SYS, DxValue::Value(12_000)),
                (NIBP_DIA, DxValue::NotUpdated),
                (SPO2, DxValue::Value(9_700)),
                (T1_TEMP, DxValue::NotCalibrated),
                (CO2_ET, DxValue::Value(500)),
                (CO2_AMB_PRESS, DxValue::Value(7_600)),
                (CO2_RR, DxValue::OverRange),
            ],
        );
        assert_eq!(sr.len(), 274);
        let p = Phdb::parse(&sr).unwrap();
        assert_eq!(p.time, 1_700_000_000);
        assert_eq!(p.get(ECG_HR).reading(0), Reading::Value(Decimal::int(72)));
        let sys = p.get(NIBP_SYS).reading(NIBP_SYS.exponent);
        assert_eq!(sys.value().unwrap().to_thousandths(), Some(120_000));
        assert_eq!(p.get(NIBP_DIA).reading(-2), Reading::NotUpdated);
        assert_eq!(
            p.get(SPO2).reading(-2).value().unwrap().to_thousandths(),
            Some(97_000)
        );
        assert_eq!(p.get(T1_TEMP).reading(-2), Reading::NotCalibrated);
        assert_eq!(p.get(CO2_RR).reading(0), Reading::OverRange);
        // 5.00 % at 760.0 mmHg = 38 mmHg
        assert_eq!(
            p.etco2_mmhg().value().unwrap().to_thousandths(),
            Some(38_000)
        );
        // untouched slots of known groups are invalid, never 0
        assert_eq!(p.get(P1_SYS), DxValue::Invalid);
        assert!(Phdb::parse(&sr[..273]).is_err());
    }

    #[test]
    fn every_special_value_stays_special() {
        let cases = [
            (DATA_INVALID, Reading::Invalid),
            (DATA_NOT_UPDATED, Reading::NotUpdated),
            (DATA_DISCONT, Reading::Discontinuity),
            (DATA_UNDER_RANGE, Reading::UnderRange),
            (DATA_OVER_RANGE, Reading::OverRange),
            (DATA_NOT_CALIBRATED, Reading::NotCalibrated),
            (-32_768, Reading::Reserved),
            (-32_002, Reading::Reserved),
        ];
        for (raw, want) in cases {
            let v = DxValue::from_raw(raw);
            assert_eq!(v.reading(-2), want, "{raw}");
            assert_eq!(v.to_raw(), raw);
        }
        assert_eq!(DxValue::from_raw(-32_001), DxValue::Value(-32_001));
        assert_eq!(
            DxValue::from_raw(0).reading(0),
            Reading::Value(Decimal::int(0))
        );
        // etCO2 with a special ambient pressure is that special
        let sr = encode_phdb_basic(0, &[(CO2_ET, DxValue::Value(500))]);
        assert_eq!(Phdb::parse(&sr).unwrap().etco2_mmhg(), Reading::Invalid);
    }

    #[test]
    fn wave_record_round_trip_and_bounds() {
        let ecg = WaveSub {
            status: 0,
            samples: vec![0, 100, -50, DATA_INVALID],
        };
        let pleth = WaveSub {
            status: 2,
            samples: vec![5; 3],
        };
        let rec = encode_record(
            DRI_LEVEL_2005,
            3,
            42,
            MAINTYPE_WAVE,
            &[(WAVE_ECG1, &ecg.encode()), (WAVE_PLETH, &pleth.encode())],
        );
        let r = Record::parse(&rec).unwrap();
        assert_eq!((r.header.r_nbr, r.header.r_time), (3, 42));
        let subs: Vec<_> = r.subrecords().collect();
        assert_eq!(subs.len(), 2);
        assert_eq!(subs[0].0, WAVE_ECG1);
        assert_eq!(WaveSub::parse(subs[0].1).unwrap(), ecg);
        assert_eq!(WaveSub::parse(subs[1].1).unwrap(), pleth);
        // act_len larger than the bytes present
        let mut bad = ecg.encode();
        bad[0] = 50;
        assert!(WaveSub::parse(&bad).is_err());
        assert!(WaveSub::parse(&[0xFF, 0xFF, 0, 0, 0, 0]).is_err());
        // header checks
        assert!(matches!(
            Record::parse(&rec[..39]),
            Err(RecordError::ShortHeader(39))
        ));
        let mut wrong_len = rec.clone();
        wrong_len.push(0);
        assert!(matches!(
            Record::parse(&wrong_len),
            Err(RecordError::LengthMismatch { .. })
        ));
        let mut oob = rec.clone();
        oob[16 + 3..16 + 5].copy_from_slice(&5000i16.to_le_bytes());
        assert!(matches!(
            Record::parse(&oob),
            Err(RecordError::SubrecordOutOfBounds { index: 1, .. })
        ));
        let mut order = rec.clone();
        order[16 + 3..16 + 5].copy_from_slice(&0i16.to_le_bytes());
        assert_eq!(Record::parse(&order), Err(RecordError::SubrecordOrder));
        // the framer carries it unchanged
        let mut w = Vec::new();
        encode_frame(&rec, &mut w).unwrap();
        let mut d = Deframer::new();
        let mut got = Vec::new();
        d.push(&w, |p| got.push(p.to_vec()));
        assert_eq!(got, vec![rec]);
    }
}
