//! PIN input and Argon2id hashing.
//!
//! Parameters for [`hash_pin`]: Argon2id v1.3, m = 19 MiB (19 456 KiB), t = 2,
//! p = 1, 16-byte random salt, 32-byte output (the OWASP baseline and the
//! `argon2` crate's default). It takes about 25 ms on a server core with
//! optimisation and 50–75 ms on a tablet-class CPU or in our debug build, so the
//! lock screen stays responsive. A 4–6 digit PIN has little entropy whatever the
//! cost: the real defence is the persisted wrong-PIN counter with its wipe; the
//! hash cost only slows offline guessing against a leaked configuration.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use super::error::{PinFormatError, SessionError};

/// Argon2id memory cost in KiB for new PIN hashes.
pub const PIN_M_COST_KIB: u32 = 19_456;
/// Argon2id passes for new PIN hashes.
pub const PIN_T_COST: u32 = 2;
/// Argon2id lanes for new PIN hashes.
pub const PIN_P_COST: u32 = 1;

/// Upper bounds for a configured hash, so a bad configuration package cannot
/// make every unlock exhaust the tablet's memory or freeze the lock screen.
const MAX_M_COST_KIB: u32 = 256 * 1024;
const MAX_T_COST: u32 = 16;
const MAX_P_COST: u32 = 8;

const SALT_LEN: usize = 16;

/// A syntactically valid PIN: ASCII digits only, [`Pin::MIN_LEN`] to
/// [`Pin::MAX_LEN`] long. The text is wiped from memory on drop and never
/// printed. A clone (for the check on a worker) is wiped the same way.
#[derive(Clone)]
pub struct Pin(Zeroizing<String>);

impl Pin {
    pub const MIN_LEN: usize = 4;
    /// Bounds the work per attempt; no real PIN is this long.
    pub const MAX_LEN: usize = 32;

    /// Checks the format. A rejected input is not a guess: the caller shows the
    /// message and the wrong-PIN counter is not touched.
    pub fn new(input: impl Into<Zeroizing<String>>) -> Result<Pin, PinFormatError> {
        let input: Zeroizing<String> = input.into();
        if !input.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PinFormatError::NotDigits);
        }
        // All ASCII now, so the byte length is the digit count.
        if input.len() < Self::MIN_LEN {
            return Err(PinFormatError::TooShort { min: Self::MIN_LEN });
        }
        if input.len() > Self::MAX_LEN {
            return Err(PinFormatError::TooLong { max: Self::MAX_LEN });
        }
        Ok(Pin(input))
    }

    fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin([REDACTED])")
    }
}

/// Hashes a PIN for the configuration: an Argon2id PHC string with a fresh
/// random salt and the parameters documented at the top of this file.
pub fn hash_pin(pin: &Pin) -> Result<String, SessionError> {
    let params = Params::new(PIN_M_COST_KIB, PIN_T_COST, PIN_P_COST, None)
        .map_err(|e| SessionError::Hashing(e.to_string()))?;
    hash_pin_with(pin, params)
}

/// Minimal parameters so unit tests do not spend 50 ms per hash. Never use
/// outside tests.
#[cfg(test)]
pub(crate) fn hash_pin_for_tests(pin: &Pin) -> Result<String, SessionError> {
    let params = Params::new(Params::MIN_M_COST, 1, 1, None)
        .map_err(|e| SessionError::Hashing(e.to_string()))?;
    hash_pin_with(pin, params)
}

fn hash_pin_with(pin: &Pin, params: Params) -> Result<String, SessionError> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|_| SessionError::Rng)?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| SessionError::Hashing(e.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let hash = argon
        .hash_password(pin.expose(), &salt)
        .map_err(|e| SessionError::Hashing(e.to_string()))?;
    Ok(hash.to_string())
}

/// Checks that `phc` is an Argon2id hash we are willing to verify against.
/// Done once when the session is built, so `unlock` never meets a bad hash
/// after it has already counted the attempt.
pub fn validate_pin_hash(phc: &str) -> Result<(), SessionError> {
    let bad = |why: String| SessionError::PinHashConfig(why);
    let hash = PasswordHash::new(phc).map_err(|e| bad(format!("not a PHC string: {e}")))?;
    if hash.algorithm != Algorithm::Argon2id.ident() {
        return Err(bad("algorithm is not argon2id".to_owned()));
    }
    if hash.hash.is_none() || hash.salt.is_none() {
        return Err(bad("hash or salt missing".to_owned()));
    }
    let params = Params::try_from(&hash).map_err(|e| bad(format!("parameters: {e}")))?;
    if params.m_cost() > MAX_M_COST_KIB
        || params.t_cost() > MAX_T_COST
        || params.p_cost() > MAX_P_COST
    {
        return Err(bad("parameters exceed the device limits".to_owned()));
    }
    Ok(())
}

/// Verifies `pin` against a hash that passed [`validate_pin_hash`]. `Ok(false)`
/// is a wrong PIN; `Err` is a failure of the check itself.
pub(crate) fn verify_pin(pin: &Pin, phc: &str) -> Result<bool, SessionError> {
    let hash = PasswordHash::new(phc)
        .map_err(|e| SessionError::PinHashConfig(format!("not a PHC string: {e}")))?;
    // The parameters, salt and algorithm come from the PHC string.
    match Argon2::default().verify_password(pin.expose(), &hash) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(SessionError::Hashing(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_rules() {
        assert!(Pin::new("1234".to_owned()).is_ok());
        assert!(Pin::new("0000".to_owned()).is_ok());
        assert_eq!(
            Pin::new("123".to_owned()).err(),
            Some(PinFormatError::TooShort { min: 4 })
        );
        assert_eq!(
            Pin::new(String::new()).err(),
            Some(PinFormatError::TooShort { min: 4 })
        );
        assert_eq!(
            Pin::new("12a4".to_owned()).err(),
            Some(PinFormatError::NotDigits)
        );
        assert_eq!(
            Pin::new(" 1234".to_owned()).err(),
            Some(PinFormatError::NotDigits)
        );
        // Non-ASCII digits (Arabic-Indic three) are not accepted.
        assert_eq!(
            Pin::new("12٣4".to_owned()).err(),
            Some(PinFormatError::NotDigits)
        );
        assert_eq!(
            Pin::new("1".repeat(33)).err(),
            Some(PinFormatError::TooLong { max: 32 })
        );
    }

    #[test]
    fn debug_redacts() {
        let pin = Pin::new("987654".to_owned()).unwrap();
        assert_eq!(format!("{pin:?}"), "Pin([REDACTED])");
    }

    #[test]
    fn cheap_hash_roundtrip() {
        let pin = Pin::new("4711".to_owned()).unwrap();
        let phc = hash_pin_for_tests(&pin).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"));
        validate_pin_hash(&phc).unwrap();
        assert!(verify_pin(&pin, &phc).unwrap());
        let other = Pin::new("4712".to_owned()).unwrap();
        assert!(!verify_pin(&other, &phc).unwrap());
        // A fresh salt each time.
        assert_ne!(phc, hash_pin_for_tests(&pin).unwrap());
    }

    #[test]
    fn production_params_are_in_the_hash() {
        let pin = Pin::new("4711".to_owned()).unwrap();
        let phc = hash_pin(&pin).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify_pin(&pin, &phc).unwrap());
    }

    #[test]
    fn rejects_unusable_hashes() {
        assert!(matches!(
            validate_pin_hash("1234"),
            Err(SessionError::PinHashConfig(_))
        ));
        let pin = Pin::new("4711".to_owned()).unwrap();
        let phc = hash_pin_for_tests(&pin).unwrap();
        let argon2i = phc.replacen("argon2id", "argon2i", 1);
        assert!(matches!(
            validate_pin_hash(&argon2i),
            Err(SessionError::PinHashConfig(_))
        ));
        let huge = phc.replacen(&format!("m={},", Params::MIN_M_COST), "m=4000000,", 1);
        assert_ne!(huge, phc);
        assert!(matches!(
            validate_pin_hash(&huge),
            Err(SessionError::PinHashConfig(_))
        ));
    }
}
