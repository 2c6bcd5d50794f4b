//! The eGK (G2/G2.1) PIN-less read: SELECT root, SELECT DF.HCA, then READ
//! BINARY by SFI on EF.StatusVD (0C), EF.PD (01) and EF.VD (02). The
//! container checks are pure functions so they can be tested and fuzzed
//! without a card.

use super::apdu::{self, Transport, exchange, read_ef, sw};
use super::data::CardData;
use super::error::{CardError, CardWarning};
use super::vsd;

/// The MF (root) of an eGK.
pub const AID_ROOT: [u8; 7] = [0xD2, 0x76, 0x00, 0x01, 0x44, 0x80, 0x00];
/// DF.HCA, the health care application.
pub const AID_HCA: [u8; 6] = [0xD2, 0x76, 0x00, 0x00, 0x01, 0x02];
pub const SFI_PD: u8 = 0x01;
pub const SFI_VD: u8 = 0x02;
pub const SFI_STATUS_VD: u8 = 0x0C;
/// EF.PD size on G2/G2.1; the length field can therefore be at most 848.
pub const PD_SIZE: usize = 850;
/// EF.VD size on G2/G2.1.
pub const VD_SIZE: usize = 1250;
pub const STATUS_VD_SIZE: usize = 25;

/// What selecting the eGK applications said about the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selected {
    Egk,
    /// Not an eGK: the root or HCA is missing or the command unsupported.
    NotEgk,
}

/// SELECT root, then SELECT HCA.
pub fn select_hca<T: Transport + ?Sized>(t: &mut T) -> Result<Selected, CardError> {
    let r = exchange(t, &apdu::select_aid(&AID_ROOT, 0x0C))?;
    match r.sw {
        sw::OK => {}
        sw::DEACTIVATED | sw::TERMINATED => return Err(CardError::Blocked { sw: r.sw }),
        _ if not_egk(r.sw) => return Ok(Selected::NotEgk),
        other => {
            return Err(CardError::Status {
                cmd: "SELECT root",
                sw: other,
            });
        }
    }
    let r = exchange(t, &apdu::select_aid(&AID_HCA, 0x0C))?;
    match r.sw {
        sw::OK => Ok(Selected::Egk),
        sw::DEACTIVATED | sw::TERMINATED => Err(CardError::Blocked { sw: r.sw }),
        _ if not_egk(r.sw) => Ok(Selected::NotEgk),
        other => Err(CardError::Status {
            cmd: "SELECT HCA",
            sw: other,
        }),
    }
}

fn not_egk(sw: u16) -> bool {
    matches!(
        sw,
        sw::NOT_FOUND
            | sw::WRONG_P1P2
            | sw::FUNC_NOT_SUPPORTED
            | sw::INS_NOT_SUPPORTED
            | sw::CLA_NOT_SUPPORTED
    )
}

/// EF.StatusVD, byte 0: `'0'` consistent, anything else an interrupted
/// update (as EgkCheck reads it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusVd {
    pub consistent: bool,
    /// Schema version from the BCD bytes 15–19 (major, minor, fix).
    pub version: Option<(u16, u16, u16)>,
}

pub fn parse_status_vd(b: &[u8]) -> Result<StatusVd, CardError> {
    if b.len() < STATUS_VD_SIZE {
        return Err(CardError::Container("EF.StatusVD shorter than 25 bytes"));
    }
    let nibbles: Vec<u8> = b[15..20].iter().flat_map(|x| [x >> 4, x & 0x0F]).collect();
    let bcd = |r: std::ops::Range<usize>| -> Option<u16> {
        nibbles[r]
            .iter()
            .try_fold(0u16, |acc, n| (*n < 10).then(|| acc * 10 + u16::from(*n)))
    };
    let version = match (bcd(0..3), bcd(3..6), bcd(6..10)) {
        (Some(a), Some(b), Some(c)) => Some((a, b, c)),
        _ => None,
    };
    Ok(StatusVd {
        consistent: b[0] == b'0',
        version,
    })
}

/// EF.PD: `L` (2 bytes, big-endian, excluding itself) then `L` bytes of gzip.
pub fn pd_length(header: &[u8]) -> Result<usize, CardError> {
    let [a, b] = header
        .get(..2)
        .and_then(|h| <[u8; 2]>::try_from(h).ok())
        .ok_or(CardError::Container("EF.PD header shorter than 2 bytes"))?;
    let l = usize::from(u16::from_be_bytes([a, b]));
    if l == 0 || l > PD_SIZE - 2 {
        return Err(CardError::Container("EF.PD length out of range"));
    }
    Ok(l)
}

/// EF.VD: `startVD endVD startGVD endGVD` (big-endian, end inclusive).
/// Returns the VD range `(start, len)`.
pub fn vd_range(header: &[u8]) -> Result<(usize, usize), CardError> {
    if header.len() < 8 {
        return Err(CardError::Container("EF.VD header shorter than 8 bytes"));
    }
    let start = usize::from(u16::from_be_bytes([header[0], header[1]]));
    let end = usize::from(u16::from_be_bytes([header[2], header[3]]));
    if start < 8 || end >= VD_SIZE || end < start {
        return Err(CardError::Container("EF.VD offsets out of range"));
    }
    Ok((start, end - start + 1))
}

/// The full PIN-less read after [`select_hca`] answered `Egk`.
pub fn read_selected<T: Transport + ?Sized>(t: &mut T) -> Result<CardData, CardError> {
    let mut warnings = Vec::new();
    match read_ef(t, SFI_STATUS_VD, 0, STATUS_VD_SIZE) {
        Ok(b) => {
            let s = parse_status_vd(&b)?;
            tracing::debug!(consistent = s.consistent, version = ?s.version, "EF.StatusVD");
            if !s.consistent {
                warnings.push(CardWarning::UpdateInterrupted);
            }
        }
        Err(CardError::Status {
            sw: sw::NOT_FOUND, ..
        }) => {
            warnings.push(CardWarning::StatusUnknown);
        }
        Err(e) => return Err(e),
    }

    let h = read_ef(t, SFI_PD, 0, 2)?;
    let l = pd_length(&h)?;
    let pd = read_ef(t, SFI_PD, 2, l)?;
    if pd.len() != l {
        return Err(CardError::Container("EF.PD shorter than its length field"));
    }

    let h = read_ef(t, SFI_VD, 0, 8)?;
    let (start, len) = vd_range(&h)?;
    let vd = read_ef(t, SFI_VD, start, len)?;
    if vd.len() != len {
        return Err(CardError::Container("EF.VD shorter than its offsets"));
    }
    tracing::debug!(pd_len = pd.len(), vd_len = vd.len(), "eGK files read");
    vsd::parse_egk(&pd, &vd, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_vd() {
        let mut b = b"0".to_vec();
        b.extend_from_slice(b"20261122103000");
        b.extend_from_slice(&[0x00, 0x50, 0x02, 0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x04]);
        let s = parse_status_vd(&b).unwrap();
        assert!(s.consistent);
        assert_eq!(s.version, Some((5, 2, 0)));
        b[0] = b'1';
        assert!(!parse_status_vd(&b).unwrap().consistent);
        b[15] = 0xAB;
        assert_eq!(parse_status_vd(&b).unwrap().version, None);
        assert!(parse_status_vd(&b[..24]).is_err());
    }

    #[test]
    fn pd_length_bounds() {
        assert_eq!(pd_length(&[0x01, 0xC6]).unwrap(), 0x1C6);
        assert_eq!(pd_length(&[0x03, 0x50]).unwrap(), 848);
        for bad in [&[0u8, 0][..], &[0x03, 0x51], &[0xFF, 0xFF], &[0x01]] {
            assert!(matches!(pd_length(bad), Err(CardError::Container(_))));
        }
    }

    #[test]
    fn vd_range_bounds() {
        assert_eq!(
            vd_range(&[0x00, 0x08, 0x01, 0x5B, 0x01, 0x5C, 0x02, 0x3D]).unwrap(),
            (8, 0x15B - 8 + 1)
        );
        for bad in [
            [0x00, 0x07, 0x01, 0x00, 0, 0, 0, 0], // start inside the header
            [0x00, 0x08, 0x04, 0xE2, 0, 0, 0, 0], // end beyond the file
            [0x01, 0x00, 0x00, 0xFF, 0, 0, 0, 0], // end before start
        ] {
            assert!(matches!(vd_range(&bad), Err(CardError::Container(_))));
        }
        assert!(vd_range(&[0, 8, 1]).is_err());
    }
}
