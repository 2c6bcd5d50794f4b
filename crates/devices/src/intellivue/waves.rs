//! Which waves the IntelliVue exports: names for the configuration, their
//! TextIds for the RTSA priority list, their units, and the monitor's
//! limit of 3 ECG and 8 other waves (Data Export guide; VSCaptureMP:
//! "selecting all waves can lead to data loss due to bandwidth issues").
//!
//! TextId = (partition 2 SCADA << 16) | physio id, as in the NLS_NOM_*
//! labels of the open ports (VSCaptureMP, OpenICE, PlusLib).

use crate::obs::Unit;

pub const MAX_ECG_WAVES: usize = 3;
pub const MAX_OTHER_WAVES: usize = 8;

/// ECG II for the live page and strips, I and III for the other limb
/// leads, pleth and capnogram: ≈3.5 kB/s of the link's 11.5 kB/s.
pub const DEFAULT_WAVES: [&str; 5] = ["II", "I", "III", "Pleth", "CO2"];

/// One exportable wave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaveName {
    pub name: &'static str,
    pub physio_id: u16,
    pub unit: Unit,
}

const fn w(name: &'static str, physio_id: u16, unit: Unit) -> WaveName {
    WaveName {
        name,
        physio_id,
        unit,
    }
}

pub const WAVES: &[WaveName] = &[
    w("I", 0x0101, Unit::MilliVolt),
    w("II", 0x0102, Unit::MilliVolt),
    w("III", 0x013D, Unit::MilliVolt),
    w("aVR", 0x013E, Unit::MilliVolt),
    w("aVL", 0x013F, Unit::MilliVolt),
    w("aVF", 0x0140, Unit::MilliVolt),
    w("V1", 0x0103, Unit::MilliVolt),
    w("V2", 0x0104, Unit::MilliVolt),
    w("V3", 0x0105, Unit::MilliVolt),
    w("V4", 0x0106, Unit::MilliVolt),
    w("V5", 0x0107, Unit::MilliVolt),
    w("V6", 0x0108, Unit::MilliVolt),
    w("MCL", 0x014B, Unit::MilliVolt),
    w("Pleth", 0x4BB4, Unit::Dimensionless),
    w("ABP", 0x4A14, Unit::MmHg),
    w("ART", 0x4A10, Unit::MmHg),
    w("CVP", 0x4A44, Unit::MmHg),
    w("Resp", 0x5000, Unit::Dimensionless),
    w("CO2", 0x50AC, Unit::MmHg),
];

/// The RTSA TextId of a physio id.
pub fn text_id(physio_id: u16) -> u32 {
    (2 << 16) | u32::from(physio_id)
}

/// ECG leads are the physio ids NOM_ECG_ELEC_POTL 0x0100…0x01FF.
pub fn is_ecg(physio_id: u16) -> bool {
    physio_id >> 8 == 0x01
}

pub fn by_name(name: &str) -> Option<&'static WaveName> {
    WAVES
        .iter()
        .find(|w| w.name.eq_ignore_ascii_case(name.trim()))
}

pub fn by_physio(physio_id: u16) -> Option<&'static WaveName> {
    WAVES.iter().find(|w| w.physio_id == physio_id)
}

/// The unit of a wave's samples; ECG leads not in the table are mV too.
pub fn unit_of(physio_id: u16) -> Unit {
    match by_physio(physio_id) {
        Some(w) => w.unit,
        None if is_ecg(physio_id) => Unit::MilliVolt,
        None => Unit::Dimensionless,
    }
}

/// A label for logs and the UI: the name, or the TextId in hex.
pub fn label_name(text_id: u32) -> String {
    match by_physio(text_id as u16).filter(|_| text_id >> 16 == 2) {
        Some(w) => w.name.to_string(),
        None => format!("{text_id:#010x}"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WaveSelectError {
    #[error(
        "unknown IntelliVue wave {0:?} (known: I, II, III, aVR, aVL, aVF, V1-V6, MCL, Pleth, ABP, ART, CVP, Resp, CO2)"
    )]
    Unknown(String),
    #[error("wave {0} is listed twice")]
    Twice(String),
    #[error("{0} ECG waves listed; the IntelliVue exports at most 3")]
    TooManyEcg(usize),
    #[error("{0} non-ECG waves listed; the IntelliVue exports at most 8")]
    TooManyOther(usize),
}

/// The priority list for configured names, in their order. Checked here
/// because the monitor silently drops what exceeds its limits.
pub fn selection<S: AsRef<str>>(names: &[S]) -> Result<Vec<u32>, WaveSelectError> {
    let mut out: Vec<u32> = Vec::with_capacity(names.len());
    let (mut ecg, mut other) = (0, 0);
    for n in names {
        let w = by_name(n.as_ref()).ok_or_else(|| WaveSelectError::Unknown(n.as_ref().into()))?;
        let id = text_id(w.physio_id);
        if out.contains(&id) {
            return Err(WaveSelectError::Twice(w.name.into()));
        }
        if is_ecg(w.physio_id) {
            ecg += 1;
        } else {
            other += 1;
        }
        out.push(id);
    }
    if ecg > MAX_ECG_WAVES {
        return Err(WaveSelectError::TooManyEcg(ecg));
    }
    if other > MAX_OTHER_WAVES {
        return Err(WaveSelectError::TooManyOther(other));
    }
    Ok(out)
}

/// What the monitor does with a requested list: keeps the labels it can
/// export, in order, within its limits, and drops the rest.
pub fn accept(requested: &[u32], available: &[u16]) -> Vec<u32> {
    let (mut ecg, mut other) = (0, 0);
    let mut out = Vec::new();
    for &id in requested {
        let physio = id as u16;
        if id >> 16 != 2 || !available.contains(&physio) || out.contains(&id) {
            continue;
        }
        let n = if is_ecg(physio) { &mut ecg } else { &mut other };
        let cap = if is_ecg(physio) {
            MAX_ECG_WAVES
        } else {
            MAX_OTHER_WAVES
        };
        if *n < cap {
            *n += 1;
            out.push(id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_the_nls_labels_of_the_open_ports() {
        // NLS_NOM_ECG_ELEC_POTL_II, _III, _V1, NLS_NOM_PULS_OXIM_PLETH,
        // NLS_NOM_AWAY_CO2, NLS_NOM_PRESS_BLD_ART_ABP, NLS_NOM_RESP.
        let ids = selection(&["II", "iii", "V1", "pleth", "CO2", "ABP", "Resp"]).unwrap();
        assert_eq!(
            ids,
            [
                0x0002_0102,
                0x0002_013D,
                0x0002_0103,
                0x0002_4BB4,
                0x0002_50AC,
                0x0002_4A14,
                0x0002_5000
            ]
        );
        assert_eq!(label_name(0x0002_013D), "III");
        assert_eq!(label_name(0x0009_0102), "0x00090102");
        assert_eq!(unit_of(0x50AC), Unit::MmHg);
        assert_eq!(unit_of(0x0150), Unit::MilliVolt);
        assert_eq!(unit_of(0x7777), Unit::Dimensionless);
    }

    #[test]
    fn the_monitors_limits_are_checked_before_anything_is_sent() {
        assert_eq!(
            selection(&["I", "II", "III", "V1"]),
            Err(WaveSelectError::TooManyEcg(4))
        );
        let others = ["Pleth", "ABP", "ART", "CVP", "Resp", "CO2"];
        assert!(selection(&others).is_ok());
        assert_eq!(
            selection(&["II", "II"]),
            Err(WaveSelectError::Twice("II".into()))
        );
        assert_eq!(
            selection(&["II", "EEG"]),
            Err(WaveSelectError::Unknown("EEG".into()))
        );
        assert!(selection(&DEFAULT_WAVES).is_ok());
        assert_eq!(selection::<&str>(&[]), Ok(vec![]));
    }

    #[test]
    fn the_monitor_keeps_what_it_has_within_its_limits() {
        let req = [
            text_id(0x0101),
            text_id(0x0102),
            text_id(0x0103),
            text_id(0x013D),
            text_id(0x4BB4),
            0x0009_4BB4,
        ];
        let avail = [0x0101, 0x0102, 0x0103, 0x013D, 0x4BB4];
        assert_eq!(
            accept(&req, &avail),
            [
                text_id(0x0101),
                text_id(0x0102),
                text_id(0x0103),
                text_id(0x4BB4)
            ]
        );
        assert!(accept(&req, &[]).is_empty());
    }
}
