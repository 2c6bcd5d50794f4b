//! The real transport: `pcsc::Card` used through a `pcsc::Transaction`, so
//! other PC/SC clients (OpenSC, p11-kit probes) cannot interleave APDUs with
//! the read. Connecting, the ATR and the PC/SC error mapping live here too.

use super::apdu::Transport;
use super::data::CardData;
use super::error::CardError;
use std::ffi::CStr;

/// Short APDUs only: 256 data bytes + SW fit in pcsc's `MAX_BUFFER_SIZE`.
const RESPONSE_BUFFER: usize = pcsc::MAX_BUFFER_SIZE;

/// Sends APDUs through a connected card (a `&Transaction` derefs to it).
pub struct PcscTransport<'a> {
    card: &'a pcsc::Card,
    buf: Vec<u8>,
}

impl<'a> PcscTransport<'a> {
    pub fn new(card: &'a pcsc::Card) -> Self {
        PcscTransport {
            card,
            buf: vec![0; RESPONSE_BUFFER],
        }
    }
}

impl Transport for PcscTransport<'_> {
    fn transmit(&mut self, capdu: &[u8]) -> Result<Vec<u8>, CardError> {
        match self.card.transmit(capdu, &mut self.buf) {
            Ok(r) if r.len() >= 2 => Ok(r.to_vec()),
            Ok(r) => {
                // A card pulled mid-APDU gives an empty answer before pcscd
                // has noticed (it polls the slot every 400 ms): ask again
                // for up to a second before calling it a contact problem.
                let len = r.len();
                for _ in 0..10 {
                    match self.card.status2_owned() {
                        Ok(s) if s.status().contains(pcsc::Status::PRESENT) => {
                            std::thread::sleep(std::time::Duration::from_millis(100));
                        }
                        Ok(_) => return Err(CardError::Removed),
                        Err(e) => return Err(map_err(e)),
                    }
                }
                Err(CardError::ShortResponse { len })
            }
            Err(e) => Err(map_err(e)),
        }
    }
}

/// PC/SC errors → card errors. The pcsc description text holds no card data.
pub fn map_err(e: pcsc::Error) -> CardError {
    use pcsc::Error as E;
    match e {
        E::NoReadersAvailable => CardError::NoReader,
        E::NoService | E::ServiceStopped | E::CommError | E::Shutdown => {
            CardError::NoService(e.to_string())
        }
        E::UnknownReader | E::ReaderUnavailable => CardError::NoReader,
        E::RemovedCard | E::ResetCard | E::NoSmartcard | E::UnpoweredCard => CardError::Removed,
        E::UnsupportedCard | E::UnknownCard | E::InvalidAtr => CardError::UnknownCard,
        other => CardError::Reader(other.to_string()),
    }
}

/// True for errors after which the context must be established anew
/// (pcscd restarted or gone).
pub fn context_dead(e: pcsc::Error) -> bool {
    use pcsc::Error as E;
    matches!(
        e,
        E::NoService | E::ServiceStopped | E::CommError | E::InvalidHandle | E::InternalError
    )
}

/// `SCardEstablishContext`; fails with [`CardError::NoService`] when pcscd
/// is not running.
pub fn establish() -> Result<pcsc::Context, CardError> {
    pcsc::Context::establish(pcsc::Scope::User).map_err(map_err)
}

/// Reader names; an empty list is [`CardError::NoReader`].
pub fn readers(ctx: &pcsc::Context) -> Result<Vec<std::ffi::CString>, CardError> {
    match ctx.list_readers_owned() {
        Ok(v) if v.is_empty() => Err(CardError::NoReader),
        Ok(v) => Ok(v),
        Err(e) => Err(map_err(e)),
    }
}

/// Connects to the card in `reader` (shared), reads it inside a
/// transaction, and disconnects leaving the card as it is.
pub fn read_reader(ctx: &pcsc::Context, reader: &CStr) -> Result<CardData, CardError> {
    let mut card = ctx
        .connect(reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .map_err(map_err)?;
    let atr = card.status2_owned().map_err(map_err)?.atr().to_vec();
    tracing::debug!(atr_len = atr.len(), "card connected");
    let result = match card.transaction() {
        Ok(tx) => {
            let mut t = PcscTransport::new(&tx);
            let r = super::read_card(&mut t, &atr);
            if let Err((_, e)) = tx.end(pcsc::Disposition::LeaveCard) {
                tracing::debug!(error = %e, "end transaction");
            }
            r
        }
        Err(e) => Err(map_err(e)),
    };
    if let Err((_, e)) = card.disconnect(pcsc::Disposition::LeaveCard) {
        tracing::debug!(error = %e, "disconnect");
    }
    result
}

/// A contactless storage card's UID (GET DATA) in `reader`, e.g. a staff
/// badge. The UID is the caller's to hash; it is never logged.
pub fn read_uid(ctx: &pcsc::Context, reader: &CStr) -> Result<Vec<u8>, CardError> {
    let card = ctx
        .connect(reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .map_err(map_err)?;
    let r = {
        let mut t = PcscTransport::new(&card);
        super::mifare::uid(&mut t).map_err(|e| match e {
            super::mifare::MifareError::Card(c) => c,
            _ => CardError::UnknownCard,
        })
    };
    if let Err((_, e)) = card.disconnect(pcsc::Disposition::LeaveCard) {
        tracing::debug!(error = %e, "disconnect");
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use rettpad_text::{Lang, UserMessage};

    #[test]
    fn error_mapping() {
        use pcsc::Error as E;
        assert!(matches!(map_err(E::NoService), CardError::NoService(_)));
        assert!(matches!(map_err(E::CommError), CardError::NoService(_)));
        assert_eq!(map_err(E::NoReadersAvailable), CardError::NoReader);
        assert_eq!(map_err(E::UnknownReader), CardError::NoReader);
        assert_eq!(map_err(E::RemovedCard), CardError::Removed);
        assert_eq!(map_err(E::NoSmartcard), CardError::Removed);
        assert_eq!(map_err(E::ResetCard), CardError::Removed);
        assert_eq!(map_err(E::UnsupportedCard), CardError::UnknownCard);
        assert!(matches!(map_err(E::SharingViolation), CardError::Reader(_)));
        assert!(context_dead(E::NoService));
        assert!(context_dead(E::InvalidHandle));
        assert!(!context_dead(E::Timeout));
        assert!(
            map_err(E::NoService)
                .message(Lang::De)
                .starts_with("Kartenleser-Dienst nicht verfügbar.")
        );
        assert!(
            CardError::NoReader
                .message(Lang::De)
                .starts_with("Kein Kartenleser angeschlossen.")
        );
    }
}
