//! Pad-to-pad handover over a Bluetooth SPP byte stream.
//!
//! The receiving pad asks ([`proto::Requester`], TLS client), the sending pad's
//! user confirms within 10 s ([`proto::Responder`], TLS server). The session
//! is TLS 1.3 with mutual authentication against the organisation's CA and
//! its CRLs ([`session`]); application messages are length-prefixed frames
//! with hard caps ([`frame`]). Received events go through the core merge
//! (`Store::merge`), strips through `Store::merge_strip`.
//!
//! - [`frame`]: wire format, caps, incremental decoder (fuzzed).
//! - [`proto`]: sans-IO state machines, fed messages and `now_ms`.
//! - [`session`]: TLS over any [`rettpad_wire::Link`] (PTY, tty such as
//!   `/dev/rfcommN`, loopback TCP), peer check against the paired pads.
//! - the `Source`/`Sink` of a real vault store live in the pad crate.
//! - [`service`]: the UI facade on its own thread.

pub mod frame;
pub mod link;
pub mod proto;
pub mod session;

use rettpad_record::{Hash, MissionId};
use rettpad_text::{Lang, UserMessage};

/// Which side a report is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Sender,
    Receiver,
}

/// A patient as the confirmation prompt names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientSummary {
    /// "Nachname, Vorname" if documented, else empty.
    pub name: String,
    pub birth_date: Option<String>,
    pub retracted: bool,
}

/// A mission as the confirmation prompt names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissionSummary {
    pub mission: MissionId,
    pub call_sign: String,
    pub opened_ms: Option<i64>,
    pub events: usize,
    pub patients: Vec<PatientSummary>,
}

/// Result per mission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissionReport {
    pub mission: MissionId,
    /// Digest of the sender's log at the handover (recorded on both pads).
    pub sender_digest: Hash,
    /// Digest of the receiver's merged log (receiver only).
    pub receiver_digest: Option<Hash>,
    /// Events new to the receiver.
    pub added: usize,
    /// Events the receiver already had.
    pub duplicates: usize,
    /// Events that did not link to the receiver's chains (kept by the sender).
    pub rejected: usize,
    /// Strips new to the receiver.
    pub strips: usize,
}

/// A completed handover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub role: Role,
    pub peer_call_sign: String,
    /// Units (event batches and strips) transferred in this session.
    pub units: u32,
    pub missions: Vec<MissionReport>,
}

/// Why a handover did not complete. Nothing already stored is lost in any
/// of these cases; a retry resumes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("the sender refused")]
    Refused,
    #[error("no confirmation within the deadline")]
    NoConfirmation,
    #[error("cancelled")]
    Cancelled,
    #[error("cancelled by the other pad")]
    CancelledByPeer,
    #[error("the mission does not exist on the sender")]
    NoSuchMission,
    #[error("the other pad is busy with another handover")]
    Busy,
    #[error("this pad is not paired with the other pad")]
    NotPaired,
    #[error("the peer's certificate is not from the organisation's CA")]
    UntrustedPeer,
    #[error("the peer's certificate is revoked")]
    RevokedPeer,
    #[error("the other pad refused our certificate: {0}")]
    RefusedByPeer(String),
    #[error("the peer's certificate names {found}, expected {expected}")]
    WrongPeer { expected: String, found: String },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("link: {0}")]
    Link(String),
    #[error("the link was lost")]
    LinkLost,
    #[error("the other pad stopped answering")]
    Timeout,
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("storage error: {0}")]
    Storage(String),
    #[error("storage error on the other pad")]
    PeerStorage,
}

impl Failure {
    /// A stable short name for logs.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Refused => "refused",
            Failure::NoConfirmation => "no_confirmation",
            Failure::Cancelled => "cancelled",
            Failure::CancelledByPeer => "cancelled_by_peer",
            Failure::NoSuchMission => "no_such_mission",
            Failure::Busy => "busy",
            Failure::NotPaired => "not_paired",
            Failure::UntrustedPeer => "untrusted_peer",
            Failure::RevokedPeer => "revoked_peer",
            Failure::RefusedByPeer(_) => "refused_by_peer",
            Failure::WrongPeer { .. } => "wrong_peer",
            Failure::Tls(_) => "tls",
            Failure::Link(_) => "link",
            Failure::LinkLost => "link_lost",
            Failure::Timeout => "timeout",
            Failure::Protocol(_) => "protocol",
            Failure::Storage(_) => "storage",
            Failure::PeerStorage => "peer_storage",
        }
    }
}

impl UserMessage for Failure {
    fn message(&self, lang: Lang) -> String {
        if let (Failure::WrongPeer { expected, found }, Lang::De) = (self, lang) {
            return format!(
                "Falsches Gerät: erwartet {expected}, gemeldet hat sich {found}. Übergabe verweigert."
            );
        }
        if let (Failure::WrongPeer { expected, found }, Lang::En) = (self, lang) {
            return format!(
                "Wrong device: expected {expected}, {found} answered. Handover refused."
            );
        }
        let (de, en) = match self {
            Failure::Refused => (
                "Abgelehnt: Das andere Gerät hat die Übergabe abgelehnt.",
                "Refused: the other device declined the handover.",
            ),
            Failure::NoConfirmation => (
                "Abgelehnt / keine Bestätigung innerhalb von 10 Sekunden. Es wurde nichts übertragen.",
                "Refused / no confirmation within 10 seconds. Nothing was transferred.",
            ),
            Failure::Cancelled => ("Übergabe abgebrochen.", "Handover cancelled."),
            Failure::CancelledByPeer => (
                "Übergabe vom anderen Gerät abgebrochen.",
                "Handover cancelled by the other device.",
            ),
            Failure::NoSuchMission => (
                "Der Einsatz ist auf dem anderen Gerät nicht vorhanden.",
                "The mission does not exist on the other device.",
            ),
            Failure::Busy => (
                "Das andere Gerät ist mit einer anderen Übergabe beschäftigt.",
                "The other device is busy with another handover.",
            ),
            Failure::NotPaired => (
                "Das andere Gerät ist nicht gekoppelt.",
                "The other device is not paired.",
            ),
            Failure::UntrustedPeer => (
                "Fremdes Gerät: Zertifikat stammt nicht von der eigenen Organisation. Übergabe verweigert.",
                "Foreign device: its certificate is not from our organisation. Handover refused.",
            ),
            Failure::RevokedPeer => (
                "Gerät gesperrt: Das Zertifikat des anderen Geräts wurde widerrufen. Übergabe verweigert.",
                "Device blocked: the other device's certificate was revoked. Handover refused.",
            ),
            Failure::RefusedByPeer(_) => (
                "Das andere Gerät hat dieses Gerät nicht anerkannt (Zertifikat). Bitte Administrator verständigen.",
                "The other device did not accept this device (certificate). Please call the administrator.",
            ),
            Failure::WrongPeer { .. } => ("", ""),
            Failure::Tls(_) => (
                "Sichere Verbindung fehlgeschlagen.",
                "The secure connection failed.",
            ),
            Failure::Link(_) => (
                "Verbindung zum anderen Gerät nicht möglich.",
                "Cannot connect to the other device.",
            ),
            Failure::LinkLost => (
                "Verbindung unterbrochen. Bereits Übertragenes ist gespeichert; bitte erneut versuchen.",
                "Connection lost. What was transferred is saved; please try again.",
            ),
            Failure::Timeout => (
                "Das andere Gerät antwortet nicht. Bereits Übertragenes ist gespeichert.",
                "The other device does not answer. What was transferred is saved.",
            ),
            Failure::Protocol(_) => (
                "Übertragungsfehler. Bitte erneut versuchen.",
                "Transfer error. Please try again.",
            ),
            Failure::Storage(_) => (
                "Speicherfehler bei der Übergabe.",
                "Storage error during the handover.",
            ),
            Failure::PeerStorage => (
                "Speicherfehler auf dem anderen Gerät.",
                "Storage error on the other device.",
            ),
        };
        lang.pick(de, en).into()
    }
}

/// One device's last value of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictValue {
    pub device: String,
    pub author: uuid::Uuid,
    pub value: Option<rettpad_record::Value>,
    pub wall_ms: i64,
}

/// A field the crews of two pads documented differently. Nothing is lost:
/// the current value is the later one by log order, the others stay in the
/// field's history; the UI marks the field for review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub target: rettpad_record::Target,
    pub field: String,
    /// Each device's last value, in log order (the last one is current).
    pub values: Vec<ConflictValue>,
}

impl UserMessage for Conflict {
    fn message(&self, lang: Lang) -> String {
        let label = rettpad_record::catalog::field(&self.field)
            .map_or(self.field.as_str(), |d| lang.pick(d.de, d.en));
        let n = self.values.len();
        match lang {
            Lang::De => {
                format!(
                    "„{label}“ wurde auf {n} Geräten unterschiedlich dokumentiert; bitte prüfen."
                )
            }
            Lang::En => {
                format!("“{label}” was documented differently on {n} devices; please check.")
            }
        }
    }
}

/// Fields whose last values differ between devices (after a merge).
pub fn conflicts(st: &rettpad_record::MissionState) -> Vec<Conflict> {
    use rettpad_record::Target;
    use rettpad_record::state::Fields;
    fn scan(target: Target, fields: &Fields, out: &mut Vec<Conflict>) {
        for (key, f) in fields {
            let mut last: Vec<ConflictValue> = Vec::new();
            for r in &f.history {
                last.retain(|v| v.device != r.device);
                last.push(ConflictValue {
                    device: r.device.clone(),
                    author: r.author,
                    value: r.value.clone(),
                    wall_ms: r.wall_ms,
                });
            }
            let differ = last.windows(2).any(|w| w[0].value != w[1].value);
            if last.len() > 1 && differ {
                out.push(Conflict {
                    target: target.clone(),
                    field: key.clone(),
                    values: last,
                });
            }
        }
    }
    let mut out = Vec::new();
    scan(Target::Mission, &st.fields, &mut out);
    for p in &st.patients {
        scan(Target::Patient(p.id), &p.fields, &mut out);
    }
    for (id, e) in &st.entries {
        scan(Target::Entry(*id), &e.fields, &mut out);
    }
    out
}
