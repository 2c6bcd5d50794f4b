//! The 12-lead ECG that travels with the pre-notice en route: the strip's
//! bytes sealed to the target hospital's key (HPKE, like the mailbox
//! envelope) and bound to mission and hospital, so the gateway stores and
//! forwards it but cannot open it, and an envelope for one hospital or
//! mission does not open as another's.
//!
//! Format: `u16 BE enc length || enc || ciphertext`.

use super::packet::{PacketError, hpke_open, hpke_seal};
use super::{HpkePublicKey, HpkeSecretKey};
use uuid::Uuid;

/// Largest strip the pre-notice carries (a 10 s 12-lead at 500 Hz is ≈ 120 KB).
pub const MAX_ECG: usize = 512 * 1024;
const INFO: &[u8] = b"rettpad/v1/prenotice-ecg";

fn aad(mission: Uuid, hospital: &str) -> Vec<u8> {
    let mut a = INFO.to_vec();
    a.extend_from_slice(mission.as_bytes());
    a.extend_from_slice(hospital.as_bytes());
    a
}

/// Seals `strip` (an encoded `rettpad_record::wave::Strip`) for `hospital`.
pub fn seal_ecg(
    pk: &HpkePublicKey,
    mission: Uuid,
    hospital: &str,
    strip: &[u8],
) -> Result<Vec<u8>, PacketError> {
    if strip.len() > MAX_ECG {
        return Err(PacketError::TooLong {
            what: "ECG strip",
            len: strip.len(),
            max: MAX_ECG,
        });
    }
    let (enc, ct) = hpke_seal(pk, INFO, &aad(mission, hospital), strip)?;
    let n = u16::try_from(enc.len()).map_err(|_| PacketError::Encrypt)?;
    let mut out = Vec::with_capacity(2 + enc.len() + ct.len());
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(&enc);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Opens an envelope of [`seal_ecg`] with the hospital's key.
pub fn open_ecg(
    sk: &HpkeSecretKey,
    mission: Uuid,
    hospital: &str,
    env: &[u8],
) -> Result<Vec<u8>, PacketError> {
    let what = "ECG envelope";
    if env.len() > MAX_ECG + 1024 {
        return Err(PacketError::TooLong {
            what,
            len: env.len(),
            max: MAX_ECG + 1024,
        });
    }
    let (n, rest) = env
        .split_first_chunk::<2>()
        .ok_or(PacketError::Decrypt { what })?;
    let n = usize::from(u16::from_be_bytes(*n));
    if rest.len() < n {
        return Err(PacketError::Decrypt { what });
    }
    let (enc, ct) = rest.split_at(n);
    hpke_open(sk, INFO, &aad(mission, hospital), enc, ct, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hospital_opens_it_for_that_mission() {
        let (sk, pk) = HpkeSecretKey::generate().unwrap();
        let (other, _) = HpkeSecretKey::generate().unwrap();
        let m = Uuid::now_v7();
        let env = seal_ecg(&pk, m, "uni-herz", b"strip bytes").unwrap();
        assert_eq!(open_ecg(&sk, m, "uni-herz", &env).unwrap(), b"strip bytes");
        assert!(
            open_ecg(&other, m, "uni-herz", &env).is_err(),
            "another key"
        );
        assert!(
            open_ecg(&sk, m, "st-marien", &env).is_err(),
            "another hospital"
        );
        assert!(
            open_ecg(&sk, Uuid::now_v7(), "uni-herz", &env).is_err(),
            "another mission"
        );
        let mut bad = env.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(open_ecg(&sk, m, "uni-herz", &bad).is_err(), "tampered");
        for cut in [0, 1, 2, 40, env.len() - 1] {
            assert!(
                open_ecg(&sk, m, "uni-herz", &env[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        assert!(seal_ecg(&pk, m, "uni-herz", &vec![0; MAX_ECG + 1]).is_err());
    }
}
