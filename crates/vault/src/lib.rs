//! Persistence on the pad: an encrypted, crash-safe, byte-level journal.
//!
//! The vault knows nothing about records or events: payloads are opaque bytes.
//! The store on top of it (`store`) decides what a payload is and when to
//! snapshot.
//!
//! # Layout
//! - [`keys`]: where the device key lives ([`KeyProvider`]; a 0600 file by
//!   default, TPM 2.0 later).
//! - [`journal`]: the SQLite file `vault.sqlite` in the data directory, its
//!   AES-256-GCM sealing, recovery, compaction and crypto-shred wipe.
//! - `schema`: the SQL schema and its version (`PRAGMA user_version`).
//!
//! # Key hierarchy
//! The device key (32 random bytes, from a [`KeyProvider`], stored **outside**
//! the data directory) seals:
//! - `meta.key_check`: proves at open that the key matches the database,
//! - one random data key per mission (`missions.wrapped_key`),
//! - small settings ([`Journal::meta_put`]).
//!
//! Each mission key seals that mission's journal rows, its snapshot and its
//! blobs (ECG strips, named by the SHA-256 of their plaintext).
//!
//! # Associated data (AAD)
//! Every sealed blob is bound to where it sits, so a swapped, moved or
//! replayed blob fails authentication:
//! - key check: `"rettpad/v1/key-check"`
//! - mission key: `"rettpad/v1/mission-key" || mission_id (16 bytes)`
//! - journal row: `"rettpad/v1/journal" || mission_id (16) || seq (u64 BE)`
//! - snapshot: `"rettpad/v1/snapshot" || mission_id (16) || upto_seq (u64 BE)`
//! - meta value: `"rettpad/v1/meta" || name (UTF-8)`
//! - blob (ECG strip): `"rettpad/v1/blob" || mission_id (16) || sha256 (32)`
//!
//! No prefix is a prefix of another, so the contexts cannot be confused.
//!
//! # Invariants
//! - `append` returns `Ok` only after the row is durable (one transaction,
//!   WAL with `synchronous=FULL`). A duplicate `seq` is an error, never an
//!   overwrite. `seq` is chosen by the caller and must be ≤ `i64::MAX`.
//! - A failed write (including [`VaultError::DiskFull`]) changes nothing on
//!   disk: the transaction rolls back, the journal stays usable and the same
//!   `seq` can be retried.
//! - `load` never stops at a bad row: every authentic row comes back, bad
//!   rows are listed in [`Recovered::dropped`].
//! - Compaction (`write_snapshot`) replaces the snapshot and deletes the rows
//!   it covers in one transaction; a snapshot never moves backwards.
//! - `open` never creates a key over existing data and never deletes data,
//!   except to finish a wipe whose `wipe.pending` marker is present or to
//!   finish an interrupted `delete_mission` (a zeroed wrapped key).
//! - Wipe destroys the device key before it touches the data: from that
//!   moment nothing on disk (or in a copy of it) can be decrypted.
//! - No error message, log line or `Debug` output contains plaintext or key
//!   material; logs carry mission ids, seq numbers, counts and sizes only.

pub mod hwm;
pub mod journal;
pub mod keys;
pub mod outbox;
mod schema;
pub mod store;

pub use journal::{
    DB_FILE, DEFAULT_STATE, DropReason, Dropped, Journal, JournalOptions, Loss, MAX_META_LEN,
    MAX_RECORD_LEN, MAX_SNAPSHOT_LEN, MissionMeta, Recovered, WIPE_MARKER, WipeReport, wipe_dir,
};
pub use keys::{FileKeyProvider, KeyProvider, MemoryKeyProvider};
pub use schema::SCHEMA_VERSION;

use uuid::Uuid;

/// Everything that can go wrong in the vault.
///
/// Messages are English, for logs, and never contain plaintext or keys.
/// Show [`VaultError::user_message_de`] to the crew.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("storage full (SQLITE_FULL / ENOSPC); nothing was written")]
    DiskFull,
    #[error("i/o error while trying to {op}: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("database error while trying to {op}: {source}")]
    Db {
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("device key file problem: {0}")]
    KeyFile(String),
    #[error("the database holds data but the key provider has no device key")]
    DeviceKeyMissing,
    #[error("the device key does not match the database")]
    WrongDeviceKey,
    #[error("the data key of mission {mission} cannot be unwrapped")]
    MissionKey { mission: Uuid },
    #[error("the snapshot of mission {mission} failed authentication")]
    SnapshotCorrupt { mission: Uuid },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("mission {mission} already has seq {seq}; not overwritten")]
    Duplicate { mission: Uuid, seq: u64 },
    #[error("unknown mission {mission}")]
    UnknownMission { mission: Uuid },
    #[error("mission {mission} already exists")]
    MissionExists { mission: Uuid },
    #[error("snapshot of mission {mission} would move back from seq {existing} to {requested}")]
    SnapshotRegress {
        mission: Uuid,
        existing: u64,
        requested: u64,
    },
    #[error("seq {seq} is out of range (max i64::MAX)")]
    SeqOutOfRange { seq: u64 },
    #[error("{what} is {len} bytes, more than the limit of {max}")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("invalid argument: {0}")]
    InvalidInput(&'static str),
    #[error("database schema version {found} is newer than supported {supported}")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("the database file is not a rettpad vault")]
    NotAVault,
    #[error("cryptography failed: {0}")]
    Crypto(#[from] rettpad_crypto::CryptoError),
}

impl rettpad_record::text::UserMessage for VaultError {
    fn message(&self, lang: rettpad_record::text::Lang) -> String {
        use rettpad_record::text::Lang;
        if lang == Lang::De {
            return self.german().to_string();
        }
        match self {
            VaultError::DiskFull => "Storage full: the data stays in memory and saving is retried.",
            VaultError::Io { .. } | VaultError::Db { .. } => {
                "The data store cannot be accessed. Data in memory is kept; please inform the administrator."
            }
            VaultError::KeyFile(_) => {
                "The device key file is invalid or not protected. Data is unchanged; please inform the administrator."
            }
            VaultError::DeviceKeyMissing => {
                "The device key is missing: the data store cannot be opened. Data is unchanged; please inform the administrator."
            }
            VaultError::WrongDeviceKey => {
                "The device key does not fit the data store. Data is unchanged; please inform the administrator."
            }
            VaultError::MissionKey { .. } => {
                "This mission's key is damaged: the mission cannot be opened. Please inform the administrator."
            }
            VaultError::SnapshotCorrupt { .. } => {
                "This mission's saved state is damaged. Stop editing it; please inform the administrator."
            }
            VaultError::Corrupt(_) => "Stored data is damaged. Please inform the administrator.",
            VaultError::Duplicate { .. } => "This entry is already saved.",
            VaultError::UnknownMission { .. } => "Mission not found in the data store.",
            VaultError::MissionExists { .. } => "The mission already exists.",
            VaultError::SnapshotRegress { .. }
            | VaultError::SeqOutOfRange { .. }
            | VaultError::InvalidInput(_) => {
                "Internal error while saving: the data stays in memory. Please inform the administrator."
            }
            VaultError::TooLarge { .. } => {
                "Entry too large to save: the data stays in memory. Please inform the administrator."
            }
            VaultError::SchemaTooNew { .. } => {
                "The data store comes from a newer program version. Data is unchanged; please update the program."
            }
            VaultError::NotAVault => {
                "A file in the data directory does not belong to rettpad. Data is unchanged; please inform the administrator."
            }
            VaultError::Crypto(_) => {
                "Encryption failed: the data stays in memory. Please inform the administrator."
            }
        }
        .to_string()
    }
}

impl VaultError {
    /// A short German message for the crew. It says whether data is safe and
    /// what to do.
    fn german(&self) -> &'static str {
        match self {
            VaultError::DiskFull => {
                "Speicher voll: Daten bleiben im Arbeitsspeicher, Speichern wird wiederholt."
            }
            VaultError::Io { .. } | VaultError::Db { .. } => {
                "Fehler beim Zugriff auf den Datenspeicher. Daten im Arbeitsspeicher bleiben erhalten; bitte Administrator informieren."
            }
            VaultError::KeyFile(_) => {
                "Geräteschlüssel-Datei ist ungültig oder nicht geschützt. Daten bleiben unverändert; bitte Administrator informieren."
            }
            VaultError::DeviceKeyMissing => {
                "Geräteschlüssel fehlt: Datenspeicher kann nicht geöffnet werden. Daten bleiben unverändert; bitte Administrator informieren."
            }
            VaultError::WrongDeviceKey => {
                "Geräteschlüssel passt nicht zum Datenspeicher. Daten bleiben unverändert; bitte Administrator informieren."
            }
            VaultError::MissionKey { .. } => {
                "Schlüssel dieses Einsatzes ist beschädigt: Einsatz kann nicht geöffnet werden. Bitte Administrator informieren."
            }
            VaultError::SnapshotCorrupt { .. } => {
                "Gespeicherter Stand dieses Einsatzes ist beschädigt. Einsatz nicht weiter bearbeiten; bitte Administrator informieren."
            }
            VaultError::Corrupt(_) => {
                "Gespeicherte Daten sind beschädigt. Bitte Administrator informieren."
            }
            VaultError::Duplicate { .. } => "Dieser Eintrag ist bereits gespeichert.",
            VaultError::UnknownMission { .. } => "Einsatz nicht im Datenspeicher gefunden.",
            VaultError::MissionExists { .. } => "Einsatz ist bereits angelegt.",
            VaultError::SnapshotRegress { .. }
            | VaultError::SeqOutOfRange { .. }
            | VaultError::InvalidInput(_) => {
                "Interner Fehler beim Speichern: Daten bleiben im Arbeitsspeicher. Bitte Administrator informieren."
            }
            VaultError::TooLarge { .. } => {
                "Eintrag zu groß zum Speichern: Daten bleiben im Arbeitsspeicher. Bitte Administrator informieren."
            }
            VaultError::SchemaTooNew { .. } => {
                "Datenspeicher stammt von einer neueren Programmversion. Daten bleiben unverändert; bitte Programm aktualisieren."
            }
            VaultError::NotAVault => {
                "Datei im Datenverzeichnis gehört nicht zu rettpad. Daten bleiben unverändert; bitte Administrator informieren."
            }
            VaultError::Crypto(_) => {
                "Verschlüsselung fehlgeschlagen: Daten bleiben im Arbeitsspeicher. Bitte Administrator informieren."
            }
        }
    }

    /// Wraps an I/O error; ENOSPC becomes [`VaultError::DiskFull`].
    pub(crate) fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> VaultError {
        move |source| {
            if source.kind() == std::io::ErrorKind::StorageFull {
                VaultError::DiskFull
            } else {
                VaultError::Io { op, source }
            }
        }
    }

    /// Wraps a SQLite error; SQLITE_FULL becomes [`VaultError::DiskFull`].
    pub(crate) fn db(op: &'static str) -> impl FnOnce(rusqlite::Error) -> VaultError {
        move |source| {
            if source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull) {
                VaultError::DiskFull
            } else {
                VaultError::Db { op, source }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rettpad_text::{Lang, UserMessage};

    #[test]
    fn german_messages_are_distinct_where_it_matters() {
        assert_ne!(
            VaultError::DiskFull.message(Lang::De),
            VaultError::WrongDeviceKey.message(Lang::De)
        );
        assert!(
            VaultError::DiskFull
                .message(Lang::De)
                .starts_with("Speicher voll")
        );
        assert!(
            VaultError::WrongDeviceKey
                .message(Lang::De)
                .contains("Geräteschlüssel passt nicht")
        );
    }

    #[test]
    fn disk_full_is_mapped_from_sqlite_and_io() {
        let e = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        assert!(matches!(VaultError::db("x")(e), VaultError::DiskFull));
        let e = std::io::Error::from(std::io::ErrorKind::StorageFull);
        assert!(matches!(VaultError::io("x")(e), VaultError::DiskFull));
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert!(matches!(VaultError::io("x")(e), VaultError::Io { .. }));
    }
}
