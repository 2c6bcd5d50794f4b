//! The vault as the session's lock store (wrong-PIN counter across restarts)
//! and wiper.

use super::{LockStore, Wiper};
use rettpad_vault::VaultError;
use rettpad_vault::store::SharedStore;

const LOCK_FAILURES: &str = "session.wrong_pin_count";

impl LockStore for SharedStore {
    fn load_failures(&self) -> Result<u32, crate::session::SessionError> {
        use crate::session::SessionError;
        match self.lock().meta_get(LOCK_FAILURES) {
            Ok(None) => Ok(0),
            Ok(Some(b)) => {
                let arr: [u8; 4] = b
                    .as_slice()
                    .try_into()
                    .map_err(|_| SessionError::StoreCorrupt("length".into()))?;
                Ok(u32::from_be_bytes(arr))
            }
            Err(VaultError::Corrupt(_)) | Err(VaultError::Crypto(_)) => {
                Err(SessionError::StoreCorrupt("authentication".into()))
            }
            Err(e) => Err(SessionError::Store(e.to_string())),
        }
    }

    fn store_failures(&mut self, n: u32) -> Result<(), crate::session::SessionError> {
        self.lock()
            .meta_put(LOCK_FAILURES, &n.to_be_bytes())
            .map_err(|e| crate::session::SessionError::Store(e.to_string()))
    }
}

impl Wiper for SharedStore {
    fn wipe_all(&mut self) -> Result<(), crate::session::SessionError> {
        let r = self
            .lock()
            .wipe()
            .map_err(|e| crate::session::SessionError::WipeFailed(e.to_string()))?;
        tracing::warn!(
            missions = r.missions_destroyed,
            total_ms = r.total.as_millis() as u64,
            "vault wiped"
        );
        Ok(())
    }
}
