//! Reading the patient's eGK (G2/G2.1) or KVK/PKV card over PC/SC.
//!
//! Layers, from bytes up:
//! - [`apdu`]: short APDUs, the [`Transport`] trait, the exchange rules
//!   (61xx, 6Cxx, R-APDUs under 2 bytes) and chunked READ BINARY by SFI.
//! - [`egk`]: SELECT root → SELECT HCA → EF.StatusVD, EF.PD, EF.VD and their
//!   containers; [`vsd`]: gzip with a hard inflate cap, ISO-8859-15 and a
//!   namespace-agnostic XML reader (VSD 5.1, 5.2, PKV); [`kvk`]: the
//!   memory-card template (BER-TLV, DIN 66003, XOR check byte).
//! - [`read_card`]: the sans-IO entry point over any [`Transport`].
//! - [`pcsc_io`]: the real transport (`pcsc::Card`, inside a transaction),
//!   connecting and mapping PC/SC errors; [`watcher`]: the reader/card
//!   watcher thread; [`sim`]: an in-process simulated card;
//!   [`vpcd`]: the same card played to pcscd's virtual reader
//!   (`rettpad-sim card`) and the pcscd harness for end-to-end tests.
//! - [`proposal`]: card data → `Set` events for one patient, only after the
//!   crew's confirmation.
//!
//! Invariants:
//! - Nothing personal is logged or shown by `Debug`: logs carry status
//!   words, lengths, counts and reader names; errors carry static reasons.
//!   [`CardData`] and its parts have redacted `Debug` impls.
//! - No input panics or exhausts memory: every length and offset is checked
//!   against the file sizes, inflating stops at 64 KiB, the XML reader
//!   refuses DTDs, unknown entities, nesting beyond 16 and more than 512
//!   elements.
//! - Only short APDUs (Le ≤ 0xFC), never SELECT by path; the eGK read holds
//!   a PC/SC transaction so other clients cannot interleave.
//! - A card read never writes the record. [`proposal::Proposal::confirm`]
//!   yields events only for fields not yet documented, plus differing ones
//!   the crew picked explicitly, and refuses if the record changed since the
//!   proposal was shown.
//! - Every failure has an English `Display` for logs and a German
//!   `user_message_de()` that offers the Ersatzverfahren.

pub mod apdu;
pub mod data;
pub mod egk;
pub mod error;
pub mod kvk;
pub mod mifare;
pub mod pcsc_io;
pub mod proposal;
#[cfg(any(test, feature = "sim"))]
pub mod sim;
pub mod vsd;

pub use apdu::Transport;
pub use data::{CardData, CardKind};
pub use error::{CardError, CardWarning};
pub use proposal::{ItemState, Proposal};

/// True for the PC/SC form of a synchronous memory card ATR (`3B 04 …`),
/// which goes straight to the KVK path.
pub fn is_memory_card_atr(atr: &[u8]) -> bool {
    atr.len() == 6 && atr[..2] == [0x3B, 0x04]
}

/// Reads whatever health card answers on `t`: a memory-card ATR goes to the
/// KVK path; otherwise the eGK applications are selected, and if they are
/// absent the KVK path is tried; else [`CardError::UnknownCard`]. The ATR is
/// used only for that routing, never as a whitelist.
pub fn read_card<T: Transport + ?Sized>(t: &mut T, atr: &[u8]) -> Result<CardData, CardError> {
    let r = if is_memory_card_atr(atr) {
        kvk::read(t)
    } else {
        match egk::select_hca(t)? {
            egk::Selected::Egk => egk::read_selected(t),
            egk::Selected::NotEgk => kvk::read(t),
        }
    };
    match &r {
        Ok(d) => tracing::info!(kind = ?d.kind, warnings = d.warnings.len(), "card read"),
        Err(e) if e.is_security_event() => {
            tracing::warn!(target: "security", error = %e, "card data refused")
        }
        Err(e) => tracing::info!(error = %e, "card read failed"),
    }
    r
}
