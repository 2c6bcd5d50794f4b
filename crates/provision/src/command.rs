//! Remote commands: lock, unlock and wipe one pad. Signed with a key
//! certified for [`Purpose::Commands`](crate::keys::Purpose), bound to one
//! serial, with a sequence number per pad: a pad executes a command only
//! when its `seq` is above the last one it executed, so a replay (or an
//! older command delivered late) does nothing.

use crate::error::ProvisionError;
use crate::keys::{SigningKey, Trust};
use crate::signed::{self, COMMAND_MAGIC};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The lock screen at once; the normal PIN no longer opens the pad.
    Lock,
    /// Lifts a remote lock; the PIN opens the pad again.
    Unlock,
    /// Crypto-shreds the vault like the wrong-PIN wipe.
    Wipe,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Lock => "lock",
            Action::Unlock => "unlock",
            Action::Wipe => "wipe",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    pub action: Action,
    pub org: String,
    pub serial: String,
    pub cmd_id: Uuid,
    pub seq: u64,
    pub issued_ms: i64,
    /// Absent for a wipe: a stolen pad may stay offline for weeks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after_ms: Option<i64>,
    /// Shown on the pad ("verloren gemeldet"); no patient data.
    pub reason: String,
    /// Who issued it on the gateway, for the audit.
    pub issuer: String,
}

impl Command {
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>, ProvisionError> {
        let json = serde_json::to_vec(self).map_err(|e| ProvisionError::Key(e.to_string()))?;
        signed::seal(COMMAND_MAGIC, key, &json)
    }
}

/// Verifies a command for pad `serial` whose last executed sequence number
/// is `last_seq`. The caller persists `seq` before it acts.
pub fn verify(
    bytes: &[u8],
    trust: &Trust,
    serial: &str,
    last_seq: u64,
    now_ms: i64,
) -> Result<Command, ProvisionError> {
    let opened = signed::open(COMMAND_MAGIC, bytes, trust, now_ms)?;
    let c: Command = serde_json::from_slice(opened.payload)
        .map_err(|e| ProvisionError::Corrupt(format!("command: {e}")))?;
    if c.org != trust.org || opened.cert.org != c.org {
        return Err(ProvisionError::ForeignOrganisation(c.org));
    }
    if c.serial != serial {
        return Err(ProvisionError::NotForThisPad);
    }
    if c.seq <= last_seq {
        return Err(ProvisionError::Replayed(c.seq));
    }
    if let Some(t) = c.not_after_ms
        && now_ms > t
    {
        return Err(ProvisionError::CommandExpired(t));
    }
    if c.reason.chars().count() > 200 || c.reason.chars().any(char::is_control) {
        return Err(ProvisionError::Corrupt("command reason".into()));
    }
    Ok(c)
}
