//! Close → seal → queue: a closed mission becomes a sealed packet in the
//! vault's outbox, durable before this returns.

use rettpad_record::MissionId;
use rettpad_text::{Lang, UserMessage};
use rettpad_transfer::outbox::OutboxPersist;
use rettpad_transfer::packet::{self, SealInput};
use rettpad_transfer::{Entry, HpkePublicKey, PacketError, SealKeys};
use rettpad_vault::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    #[error("mission is not closed")]
    NotClosed,
    #[error("unknown mission")]
    UnknownMission,
    #[error(transparent)]
    Packet(#[from] PacketError),
    #[error("outbox: {0}")]
    Store(String),
}

impl UserMessage for CloseError {
    fn message(&self, lang: Lang) -> String {
        let (de, en) = match self {
            CloseError::Packet(e) => return e.message(lang),
            CloseError::NotClosed => (
                "Einsatz ist noch nicht abgeschlossen.",
                "The mission is not closed yet.",
            ),
            CloseError::UnknownMission => ("Einsatz nicht gefunden.", "Mission not found."),
            CloseError::Store(_) => (
                "Übertragung konnte nicht vorgemerkt werden. Daten bleiben auf dem Gerät; bitte erneut versuchen.",
                "The transfer could not be queued. The data stays on the pad; please try again.",
            ),
        };
        lang.pick(de, en).into()
    }
}

/// Seals a closed mission and puts it into the vault's outbox (durable when
/// this returns). Idempotent per mission: a second call returns the entry
/// already queued. The mission itself is deleted only by the uploader,
/// after the gateway's verified receipt. Envelopes go to the target
/// hospital if its key is configured.
pub fn close_and_queue(
    store: &mut Store,
    mission: MissionId,
    input: SealInput,
    keys: &SealKeys,
    now_ms: i64,
) -> Result<Entry, CloseError> {
    let state = store.state(mission).ok_or(CloseError::UnknownMission)?;
    if state.status != rettpad_record::Status::Closed {
        return Err(CloseError::NotClosed);
    }
    if let Some(e) = store
        .outbox_entries()
        .map_err(CloseError::Store)?
        .into_iter()
        .find(|e| e.mission_id == mission.0)
    {
        return Ok(e);
    }
    let recipients: Vec<(String, HpkePublicKey)> = input
        .target_hospital
        .iter()
        .filter_map(|h| keys.hospitals.get(h).map(|k| (h.clone(), k.clone())))
        .collect();
    if input.target_hospital.is_some() && recipients.is_empty() {
        tracing::warn!(mission = %mission, "no HPKE key for the target hospital; no envelope");
    }
    let sealed = packet::seal(&input, &keys.gateway, &recipients)?;
    let entry = Entry::new(sealed.packet_id, mission.0, sealed.sha256, now_ms);
    store
        .outbox_put(&entry, Some(&sealed.bytes))
        .map_err(CloseError::Store)?;
    tracing::info!(mission = %mission, packet = %sealed.packet_id, bytes = sealed.bytes.len(), "mission queued for upload");
    Ok(entry)
}
