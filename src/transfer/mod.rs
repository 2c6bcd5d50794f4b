//! Closing a mission and moving it to the gateway: the sealed packet
//! (manifest + server payload HPKE-sealed to the gateway + one HPKE envelope
//! per hospital), the gateway's signed receipt, the outbox state machine and
//! the uploader (mTLS over rustls, BSI TR-02102-2 settings).
//!
//! - [`packet`]: sans-IO format, `seal`, `verify`, `open`.
//! - [`receipt`]: Ed25519 receipts; the pad verifies before deleting.
//! - [`outbox`]: sans-IO queue state machine and the status-bar enum.
//! - [`keys`]: HPKE key pairs (P-256) as hex.

pub mod keys;
pub mod outbox;
pub mod packet;
pub mod receipt;

pub use keys::{HpkePublicKey, HpkeSecretKey, KeyError};
pub use outbox::{Entry, EntryState, FailReason, OutboxStatus};
pub use packet::{Manifest, PacketError, PreNotice, SealInput, Sealed};
pub use receipt::{Receipt, ReceiptError, ReceiptKey, ReceiptSigner};
