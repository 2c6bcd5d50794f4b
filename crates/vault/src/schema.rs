//! SQL schema of `vault.sqlite` and its version.
//!
//! The version lives in `PRAGMA user_version`; `PRAGMA application_id` marks
//! the file as ours so a foreign SQLite file is never touched. Version 0 means
//! "nothing committed yet": the schema, the key check and the version are
//! written in one transaction.

use rusqlite::Transaction;

use super::VaultError;

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = 2;

/// `PRAGMA application_id`: "RPAD".
pub(crate) const APPLICATION_ID: i64 = 0x5250_4144;

/// Version 1. STRICT tables reject values of the wrong type even from raw
/// SQL; the CHECKs keep ids at 16 bytes and seq numbers non-negative.
const V1: &str = "
CREATE TABLE meta (
    name  TEXT PRIMARY KEY NOT NULL,
    value BLOB NOT NULL
) STRICT;
CREATE TABLE missions (
    mission_id  BLOB PRIMARY KEY NOT NULL CHECK (length(mission_id) = 16),
    wrapped_key BLOB NOT NULL,
    state       TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
) STRICT;
CREATE TABLE journal (
    mission_id BLOB NOT NULL REFERENCES missions(mission_id),
    seq        INTEGER NOT NULL CHECK (seq >= 0),
    sealed     BLOB NOT NULL,
    PRIMARY KEY (mission_id, seq)
) STRICT;
CREATE TABLE snapshots (
    mission_id BLOB PRIMARY KEY NOT NULL REFERENCES missions(mission_id),
    upto_seq   INTEGER NOT NULL CHECK (upto_seq >= 0),
    sealed     BLOB NOT NULL
) STRICT;
";

/// Version 2: ECG strips as encrypted blobs beside the journal (sealed with
/// the mission key, named by the SHA-256 of their plaintext), and the upload
/// outbox (packets are already encrypted to the gateway and the hospitals;
/// the row adds the retry bookkeeping and the gateway's receipt).
const V2: &str = "
CREATE TABLE blobs (
    mission_id BLOB NOT NULL REFERENCES missions(mission_id),
    hash       BLOB NOT NULL CHECK (length(hash) = 32),
    sealed     BLOB NOT NULL,
    PRIMARY KEY (mission_id, hash)
) STRICT;
CREATE TABLE outbox (
    packet_id       BLOB PRIMARY KEY NOT NULL CHECK (length(packet_id) = 16),
    mission_id      BLOB NOT NULL CHECK (length(mission_id) = 16),
    sha256          BLOB NOT NULL CHECK (length(sha256) = 32),
    created_ms      INTEGER NOT NULL,
    sealed          BLOB NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    receipt         BLOB
) STRICT;
";

/// Creates the schema in an empty database (inside the caller's transaction)
/// and stamps version and application id.
pub(crate) fn create(tx: &Transaction<'_>) -> Result<(), VaultError> {
    tx.execute_batch(V1)
        .map_err(VaultError::db("create schema"))?;
    tx.execute_batch(V2)
        .map_err(VaultError::db("create schema v2"))?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(VaultError::db("set application_id"))?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)
        .map_err(VaultError::db("set user_version"))?;
    Ok(())
}

/// Brings an older schema up to [`SCHEMA_VERSION`], in the caller's
/// transaction together with the `user_version` bump.
pub(crate) fn migrate(tx: &Transaction<'_>, from: i64) -> Result<(), VaultError> {
    match from {
        SCHEMA_VERSION => Ok(()),
        1 => {
            tx.execute_batch(V2)
                .map_err(VaultError::db("migrate schema to v2"))?;
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(VaultError::db("set user_version"))?;
            tracing::info!(from, to = SCHEMA_VERSION, "vault schema migrated");
            Ok(())
        }
        found if found > SCHEMA_VERSION => Err(VaultError::SchemaTooNew {
            found,
            supported: SCHEMA_VERSION,
        }),
        _ => Err(VaultError::Corrupt(format!(
            "unexpected schema version {from}"
        ))),
    }
}
