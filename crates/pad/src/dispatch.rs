//! Dispatch messages into the vault: the plan of `rettpad_dispatch` applied
//! with the dispatch centre as author, so the record shows which values the
//! ELS delivered. The crew confirms nothing to receive a mission; a value
//! the crew set is never overwritten (the ELS value is kept as a proposal).
//!
//! Applying the same message twice changes nothing (the plan skips equal
//! values), so a crash between apply and acknowledgement is harmless.

use rettpad_dispatch::{Body, Proposal, ToPad};
use rettpad_record::{Author, MissionId, Target, Value};
use rettpad_text::Notice;
use rettpad_vault::store::SharedStore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Vault meta: the missions dispatch opened here (newest last), so an
/// update after upload and deletion opens no ghost mission.
const KNOWN_META: &str = "dispatch.missions";
const KNOWN_MAX: usize = 512;
/// Vault meta prefix: ELS values that differ from what the crew set.
const PROPOSALS_META: &str = "dispatch.proposals.";

/// What one message did on this pad.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub mission: MissionId,
    /// The mission is new on this pad (an alarm).
    pub opened: bool,
    pub edits: usize,
    pub proposals: usize,
    /// The centre cancelled the mission (Einsatzabbruch).
    pub cancelled: bool,
}

/// An ELS value that waits for the crew (their value stays current).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredProposal {
    pub target: Target,
    pub field: String,
    pub value: Value,
}

fn known(store: &SharedStore) -> Vec<Uuid> {
    store
        .lock()
        .meta_get(KNOWN_META)
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn failed(e: impl std::fmt::Display + rettpad_text::UserMessage) -> Notice {
    crate::logged(&e, "dispatch not applied")
}

/// Applies one message for `serial` (the pad's device). `Ok` only when
/// every edit is durable.
pub fn apply(store: &SharedStore, serial: &str, msg: &ToPad) -> Result<Applied, Notice> {
    if let Err(e) = msg.validate() {
        tracing::warn!(error = %e, "dispatch message refused");
        return Err(Notice::new(
            "Einsatzdaten der Leitstelle ungültig – nicht übernommen.",
            "Dispatch data invalid – not taken.",
        ));
    }
    let mid = MissionId(msg.mission_id);
    let mut seen = known(store);
    let state = store.lock().state(mid).cloned();
    let plan = rettpad_dispatch::plan(state.as_ref(), seen.contains(&mid.0), msg);
    for why in &plan.ignored {
        tracing::info!(mission = %mid, kind = msg.dispatch.kind_name(), reason = why, "dispatch part ignored");
    }
    if let Some(skew) = plan.skew_ms {
        tracing::warn!(mission = %mid, skew_ms = skew, "dispatch centre clock differs from the gateway's");
    }
    let author = Author {
        device: serial.to_string(),
        crew_member: plan.author,
    };
    let mut st = store.lock();
    if plan.open {
        st.open_mission_as(mid, &author, &msg.call_sign, Vec::new())
            .map_err(failed)?;
        seen.push(mid.0);
        let from = seen.len().saturating_sub(KNOWN_MAX);
        let json = serde_json::to_vec(&seen[from..]).unwrap_or_default();
        st.meta_put(KNOWN_META, &json).map_err(failed)?;
    }
    for e in &plan.edits {
        st.apply_as(mid, &author, e.clone()).map_err(failed)?;
    }
    if !plan.proposals.is_empty() {
        let key = format!("{PROPOSALS_META}{}", mid.0);
        let mut list: Vec<StoredProposal> = st
            .meta_get(&key)
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        for Proposal {
            target,
            field,
            value,
            ..
        } in &plan.proposals
        {
            list.retain(|p| !(p.target == *target && p.field == *field));
            list.push(StoredProposal {
                target: target.clone(),
                field: field.clone(),
                value: value.clone(),
            });
        }
        let json = serde_json::to_vec(&list).unwrap_or_default();
        st.meta_put(&key, &json).map_err(failed)?;
    }
    drop(st);
    let applied = Applied {
        mission: mid,
        opened: plan.open,
        edits: plan.edits.len(),
        proposals: plan.proposals.len(),
        cancelled: matches!(msg.dispatch.body, Body::Cancel(_)) && !plan.edits.is_empty(),
    };
    tracing::info!(
        mission = %mid,
        kind = msg.dispatch.kind_name(),
        opened = applied.opened,
        edits = applied.edits,
        proposals = applied.proposals,
        "dispatch applied"
    );
    Ok(applied)
}

/// The ELS values waiting for the crew's decision on mission `m`.
pub fn proposals(store: &SharedStore, m: MissionId) -> Vec<StoredProposal> {
    store
        .lock()
        .meta_get(&format!("{PROPOSALS_META}{}", m.0))
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// The crew's answer to the first waiting ELS value of mission `m`:
/// `accept` records it as the crew's edit (its time keeps the dispatch
/// source); either way it leaves the list. `Ok` once durable.
pub fn resolve(store: &SharedStore, m: MissionId, accept: bool) -> Result<(), Notice> {
    let mut list = proposals(store, m);
    if list.is_empty() {
        return Ok(());
    }
    let p = list.remove(0);
    let mut st = store.lock();
    if accept {
        st.apply(
            m,
            rettpad_record::Payload::Set {
                target: p.target,
                field: p.field.clone(),
                value: p.value,
            },
        )
        .map_err(failed)?;
    }
    let json = serde_json::to_vec(&list).unwrap_or_default();
    st.meta_put(&format!("{PROPOSALS_META}{}", m.0), &json)
        .map_err(failed)?;
    tracing::info!(mission = %m, field = %p.field, accept, "dispatch value resolved");
    Ok(())
}

/// The first waiting ELS value of `m` for the crew, with how many wait:
/// "Leitstelle meldet: Ankunft Einsatzort (Status 4) 14:09 (1 von 2)".
pub fn proposal_text(
    store: &SharedStore,
    m: MissionId,
    lang: rettpad_text::Lang,
) -> Option<String> {
    let list = proposals(store, m);
    let p = list.first()?;
    let def = rettpad_record::catalog::field(&p.field)?;
    let label = lang.pick(def.de, def.en);
    let value = rettpad_record::text::value_text(def, &p.value, lang);
    let more = if list.len() > 1 {
        lang.pick(
            &format!(" (1 von {})", list.len()),
            &format!(" (1 of {})", list.len()),
        )
        .to_string()
    } else {
        String::new()
    };
    Some(format!(
        "{} {label}: {value}{more}",
        lang.pick(
            "Leitstelle meldet abweichend –",
            "Dispatch reports differently –"
        )
    ))
}
