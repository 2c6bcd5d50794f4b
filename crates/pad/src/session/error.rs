//! Errors of the session module. `Display` is English for logs and never
//! contains a PIN, a hash or personal data; `UserMessage` is the UI text.

/// Why a PIN input was rejected before any check. Such inputs are not guesses:
/// they are never compared with the hash and never counted.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum PinFormatError {
    #[error("PIN must have at least {min} digits")]
    TooShort { min: usize },
    #[error("PIN must have at most {max} digits")]
    TooLong { max: usize },
    #[error("PIN must contain digits only")]
    NotDigits,
}

impl PinFormatError {
    fn german(&self) -> String {
        match self {
            PinFormatError::TooShort { min } => {
                format!("Die PIN muss mindestens {min} Ziffern haben.")
            }
            PinFormatError::TooLong { max } => {
                format!("Die PIN darf höchstens {max} Ziffern haben.")
            }
            PinFormatError::NotDigits => "Die PIN darf nur Ziffern enthalten.".to_owned(),
        }
    }
}

/// A shift that fails validation. Crew members are numbered from 1 in the
/// order given; names and personnel numbers never appear in the text.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ShiftError {
    #[error("call sign is empty")]
    EmptyCallSign,
    #[error("call sign is longer than {max} characters")]
    CallSignTooLong { max: usize },
    #[error("shift has no crew member")]
    NoCrew,
    #[error("shift has more than {max} crew members")]
    TooManyCrew { max: usize },
    #[error("crew member {member}: name is empty")]
    EmptyName { member: usize },
    #[error("crew member {member}: personnel number is empty")]
    EmptyPersonnelNo { member: usize },
    #[error("crew member {member}: {field} is longer than {max} characters")]
    FieldTooLong {
        member: usize,
        field: &'static str,
        max: usize,
    },
    #[error("crew member {member}: personnel number already used by crew member {first}")]
    DuplicatePersonnelNo { member: usize, first: usize },
    #[error("crew member {member}: id already used by crew member {first}")]
    DuplicateId { member: usize, first: usize },
}

impl ShiftError {
    fn german(&self) -> String {
        match self {
            ShiftError::EmptyCallSign => "Bitte den Funkrufnamen eingeben.".to_owned(),
            ShiftError::CallSignTooLong { max } => {
                format!("Der Funkrufname darf höchstens {max} Zeichen haben.")
            }
            ShiftError::NoCrew => "Bitte mindestens ein Besatzungsmitglied eintragen.".to_owned(),
            ShiftError::TooManyCrew { max } => {
                format!("Höchstens {max} Besatzungsmitglieder sind möglich.")
            }
            ShiftError::EmptyName { member } => {
                format!("Besatzungsmitglied {member}: Bitte den Namen eingeben.")
            }
            ShiftError::EmptyPersonnelNo { member } => {
                format!("Besatzungsmitglied {member}: Bitte die Personalnummer eingeben.")
            }
            ShiftError::FieldTooLong { member, field, max } => {
                let feld = match *field {
                    "name" => "Der Name",
                    "personnel number" => "Die Personalnummer",
                    _ => "Die Eingabe",
                };
                format!("Besatzungsmitglied {member}: {feld} darf höchstens {max} Zeichen haben.")
            }
            ShiftError::DuplicatePersonnelNo { member, first } => format!(
                "Besatzungsmitglied {member}: Die Personalnummer ist schon bei \
                 Besatzungsmitglied {first} eingetragen."
            ),
            ShiftError::DuplicateId { member, first } => format!(
                "Besatzungsmitglied {member} ist doppelt eingetragen \
                 (wie Besatzungsmitglied {first})."
            ),
        }
    }
}

/// Everything that can go wrong in the session module.
///
/// Implementors of [`super::LockStore`] and [`super::Wiper`] build
/// `Store`/`StoreCorrupt`/`WipeFailed` with a short technical detail (an
/// `io::ErrorKind`, a step name); the detail must not hold secrets or patient data.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SessionError {
    #[error("PIN input rejected: {0}")]
    PinFormat(#[from] PinFormatError),
    #[error("configured PIN hash is unusable: {0}")]
    PinHashConfig(String),
    #[error("invalid session configuration: {0}")]
    Config(&'static str),
    #[error("PIN hashing failed: {0}")]
    Hashing(String),
    #[error("random number generator failed")]
    Rng,
    #[error("wrong-PIN counter store failed: {0}")]
    Store(String),
    #[error("wrong-PIN counter is corrupt: {0}")]
    StoreCorrupt(String),
    #[error("wipe failed: {0}")]
    WipeFailed(String),
    #[error("session is locked")]
    Locked,
    #[error("pad locked remotely by the operator")]
    RemoteLocked,
    #[error("pad locked: no gateway contact for longer than allowed")]
    OfflineLocked,
    #[error("invalid shift: {0}")]
    Shift(#[from] ShiftError),
}

impl SessionError {
    fn german(&self) -> String {
        const ADMIN: &str = "Bitte den Administrator verständigen.";
        match self {
            SessionError::PinFormat(e) => e.german(),
            SessionError::PinHashConfig(_) | SessionError::Config(_) => {
                format!("Die Geräte-Konfiguration für die Sperre ist ungültig. {ADMIN}")
            }
            SessionError::Hashing(_) | SessionError::Rng => {
                format!("Die PIN konnte nicht geprüft werden. Bitte erneut versuchen. {ADMIN}")
            }
            SessionError::Store(_) | SessionError::StoreCorrupt(_) => format!(
                "Der Zähler für Fehlversuche konnte nicht gespeichert werden. Entsperren ist \
                 aus Sicherheitsgründen nicht möglich. {ADMIN}"
            ),
            SessionError::WipeFailed(_) => format!(
                "Die Löschung der Daten ist fehlgeschlagen. Gerät nicht weiter verwenden. {ADMIN}"
            ),
            SessionError::Locked => {
                "Das Gerät ist gesperrt. Bitte mit der PIN entsperren.".to_owned()
            }
            SessionError::RemoteLocked => "Gerät vom Betreiber gesperrt. Die PIN entsperrt es \
                                           nicht; bitte die Leitstelle oder den Administrator \
                                           verständigen."
                .to_owned(),
            SessionError::OfflineLocked => "Zu lange keine Verbindung zum Server: das Gerät \
                                            bleibt gesperrt, bis es den Server wieder erreicht. \
                                            Bitte in Funkreichweite bringen oder an die Wache \
                                            anschließen."
                .to_owned(),
            SessionError::Shift(e) => e.german(),
        }
    }
}

use rettpad_record::text::{Lang, UserMessage};

impl UserMessage for PinFormatError {
    fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (_, Lang::De) => self.german(),
            (PinFormatError::TooShort { min }, Lang::En) => {
                format!("The PIN must have at least {min} digits.")
            }
            (PinFormatError::TooLong { max }, Lang::En) => {
                format!("The PIN may have at most {max} digits.")
            }
            (PinFormatError::NotDigits, Lang::En) => "The PIN may contain digits only.".to_owned(),
        }
    }
}

impl UserMessage for ShiftError {
    fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (_, Lang::De) => self.german(),
            (ShiftError::EmptyCallSign, Lang::En) => "Please enter the call sign.".to_owned(),
            (ShiftError::CallSignTooLong { max }, Lang::En) => {
                format!("The call sign may have at most {max} characters.")
            }
            (ShiftError::NoCrew, Lang::En) => "Please enter at least one crew member.".to_owned(),
            (ShiftError::TooManyCrew { max }, Lang::En) => {
                format!("At most {max} crew members are possible.")
            }
            (ShiftError::EmptyName { member }, Lang::En) => {
                format!("Crew member {member}: please enter the name.")
            }
            (ShiftError::EmptyPersonnelNo { member }, Lang::En) => {
                format!("Crew member {member}: please enter the personnel number.")
            }
            (ShiftError::FieldTooLong { member, field, max }, Lang::En) => {
                format!("Crew member {member}: the {field} may have at most {max} characters.")
            }
            (ShiftError::DuplicatePersonnelNo { member, first }, Lang::En) => format!(
                "Crew member {member}: the personnel number is already entered for crew member {first}."
            ),
            (ShiftError::DuplicateId { member, first }, Lang::En) => {
                format!("Crew member {member} is entered twice (as crew member {first}).")
            }
        }
    }
}

impl UserMessage for SessionError {
    fn message(&self, lang: Lang) -> String {
        const ADMIN: &str = "Please inform the administrator.";
        match (self, lang) {
            (_, Lang::De) => self.german(),
            (SessionError::PinFormat(e), Lang::En) => e.message(lang),
            (SessionError::PinHashConfig(_) | SessionError::Config(_), Lang::En) => {
                format!("The device's lock configuration is invalid. {ADMIN}")
            }
            (SessionError::Hashing(_) | SessionError::Rng, Lang::En) => {
                format!("The PIN could not be checked. Please try again. {ADMIN}")
            }
            (SessionError::Store(_) | SessionError::StoreCorrupt(_), Lang::En) => format!(
                "The wrong-PIN counter could not be saved; unlocking is not possible for safety. {ADMIN}"
            ),
            (SessionError::WipeFailed(_), Lang::En) => {
                format!("Deleting the data failed. Do not use the device any further. {ADMIN}")
            }
            (SessionError::Locked, Lang::En) => {
                "The device is locked. Please unlock it with the PIN.".to_owned()
            }
            (SessionError::RemoteLocked, Lang::En) => "Locked remotely by the operator. The PIN \
                                                       does not unlock it; please call dispatch \
                                                       or the administrator."
                .to_owned(),
            (SessionError::OfflineLocked, Lang::En) => "No contact with the server for too long: \
                                                        the pad stays locked until it reaches the \
                                                        server again."
                .to_owned(),
            (SessionError::Shift(e), Lang::En) => e.message(lang),
        }
    }
}
