//! Why a package or command was refused: English for the log (`Display`,
//! no secrets, no content), German and English for the settings page.

use rettpad_text::{Lang, UserMessage};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvisionError {
    #[error("corrupt or truncated: {0}")]
    Corrupt(String),
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    #[error("unsupported format version {0}")]
    Format(u32),
    #[error("the signing key is not certified by the enrolled root")]
    UntrustedKey,
    #[error("the signing key is not valid for {0}")]
    WrongPurpose(&'static str),
    #[error("the signing key expired at {0} ms")]
    KeyExpired(i64),
    #[error("the signing key is valid only from {0} ms")]
    KeyNotYetValid(i64),
    #[error("the signature is invalid")]
    BadSignature,
    #[error("issued for organisation {0:?}, this pad belongs to another")]
    ForeignOrganisation(String),
    #[error("not addressed to this pad")]
    NotForThisPad,
    #[error("part {part} version {got} is not newer than the applied {have}")]
    Rollback { part: String, got: u64, have: u64 },
    #[error("this package is already applied")]
    AlreadyApplied,
    #[error("the package expired at {0} ms")]
    Expired(i64),
    #[error("part {part} is invalid: {reason}")]
    BadPart { part: String, reason: String },
    #[error("command {0} was already executed or is older than the last one")]
    Replayed(u64),
    #[error("the command expired at {0} ms")]
    CommandExpired(i64),
    #[error("key material is invalid: {0}")]
    Key(String),
}

impl UserMessage for ProvisionError {
    fn message(&self, lang: Lang) -> String {
        use ProvisionError as E;
        let (de, en): (String, String) = match self {
            E::Corrupt(_) | E::TooLarge(_) => (
                "Das Paket ist beschädigt oder unvollständig.".into(),
                "The package is corrupt or incomplete.".into(),
            ),
            E::Format(v) => (
                format!("Paketformat {v} wird von dieser Version nicht unterstützt."),
                format!("Package format {v} is not supported by this version."),
            ),
            E::UntrustedKey | E::WrongPurpose(_) | E::BadSignature | E::Key(_) => (
                "Die Signatur ist ungültig oder stammt nicht vom Betreiber.".into(),
                "The signature is invalid or not the operator's.".into(),
            ),
            E::KeyExpired(_) | E::KeyNotYetValid(_) => (
                "Der Signaturschlüssel des Betreibers ist nicht mehr (oder noch nicht) gültig."
                    .into(),
                "The operator's signing key is no longer (or not yet) valid.".into(),
            ),
            E::ForeignOrganisation(_) => (
                "Das Paket gehört zu einer anderen Organisation.".into(),
                "The package belongs to another organisation.".into(),
            ),
            E::NotForThisPad => (
                "Das Paket ist für ein anderes Gerät bestimmt.".into(),
                "The package is meant for another pad.".into(),
            ),
            E::Rollback { part, got, have } => (
                format!(
                    "Das Paket ist nicht neuer als die installierte Konfiguration ({part}: {got}, installiert {have})."
                ),
                format!(
                    "The package is not newer than the installed configuration ({part}: {got}, installed {have})."
                ),
            ),
            E::AlreadyApplied => (
                "Dieses Paket ist bereits installiert.".into(),
                "This package is already installed.".into(),
            ),
            E::Expired(_) => (
                "Das Paket ist abgelaufen.".into(),
                "The package has expired.".into(),
            ),
            E::BadPart { part, .. } => (
                format!("Der Teil „{part}“ des Pakets ist fehlerhaft."),
                format!("Part \"{part}\" of the package is invalid."),
            ),
            E::Replayed(_) | E::CommandExpired(_) => (
                "Der Fernbefehl ist veraltet und wurde nicht ausgeführt.".into(),
                "The remote command is stale and was not executed.".into(),
            ),
        };
        let text = lang.pick(&de, &en);
        if matches!(self, E::Replayed(_) | E::CommandExpired(_)) {
            return text.to_string();
        }
        match lang {
            Lang::De => format!("{text} Die bisherige Konfiguration bleibt unverändert."),
            Lang::En => format!("{text} The current configuration stays unchanged."),
        }
    }
}
