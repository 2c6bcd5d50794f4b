//! What the headless core reports to its caller ([`crate::Pad::tick`]).

use rettpad_record::MissionId;
use rettpad_record::text::Notice;

/// Something that happened off the caller's thread, reported by [`Pad::tick`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PadEvent {
    /// Locked after the idle time.
    Locked,
    /// A closed mission is sealed in the outbox and waits for upload.
    Queued(MissionId),
    /// Sealing failed; the mission stays closed on the pad (not lost).
    SealFailed(MissionId, Notice),
    /// The dispatch centre sent a mission (`opened`: new on this pad),
    /// an update, a status time or a cancellation; it is in the vault.
    Dispatched(crate::dispatch::Applied),
    /// The gateway refuses this pad's channel (call sign not registered).
    ChannelRefused(Notice),
    /// The pre-notice en route is on the hospital's board.
    PreNotified(MissionId),
    /// It could not be sent (retried after 30 s); the crew calls instead.
    PreNoticeFailed(MissionId, Notice),
    /// A provisioning package is applied; what changed is in force (the
    /// PIN and lock settings from the next lock).
    Provisioned(crate::fleet::ApplyReport),
    /// A package was refused; the configuration is unchanged.
    ProvisionRefused(Notice),
    /// The operator locked the pad; `reason` is theirs.
    RemoteLocked { reason: String },
    /// The operator lifted the remote lock.
    RemoteUnlocked,
    /// The operator wiped the pad.
    RemoteWiped(Notice),
    /// No gateway contact for longer than `max_offline_days`: locked until
    /// contact.
    OfflineLocked,
}
