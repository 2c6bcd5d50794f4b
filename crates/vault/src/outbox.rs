//! The upload outbox in the vault (`outbox` table, schema v2).
//!
//! A row holds the packet (sealed again under the device key: its manifest
//! is plaintext inside) and the retry bookkeeping in plain columns: state,
//! attempts, next attempt, the last error (an English reason without
//! patient data) and the gateway's receipt. AAD of the packet:
//! `"rettpad/v1/outbox" || packet_id (16)`.
//!
//! Invariant: [`Store`]'s `outbox_finish` deletes the mission first and the
//! row second, each committed, so a crash in between leaves a `done` row
//! that the next run finishes; nothing is deleted for a row not `done`.

use super::VaultError;
use super::journal::Journal;
use super::store::{Store, StoreError};
use rettpad_crypto as crypto;
use rettpad_transfer::outbox::OutboxPersist;
use rettpad_transfer::outbox::{Entry, EntryState, FailReason};
use rettpad_transfer::receipt::Receipt;
use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

const AAD_OUTBOX: &[u8] = b"rettpad/v1/outbox";
/// Largest packet the outbox takes (the packet format's own cap).
pub const MAX_OUTBOX_PACKET: usize = rettpad_transfer::packet::MAX_PACKET;

fn aad(id: &Uuid) -> Vec<u8> {
    [AAD_OUTBOX, id.as_bytes()].concat()
}

type Row = (
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    i64,
    String,
    i64,
    i64,
    Option<String>,
    Option<Vec<u8>>,
);

fn entry_of(r: Row) -> Result<Entry, VaultError> {
    let (id, mission, sha, created_ms, state, attempts, next_ms, last_error, receipt) = r;
    let bad = |w: &str| VaultError::Corrupt(format!("outbox row: {w}"));
    Ok(Entry {
        packet_id: Uuid::from_slice(&id).map_err(|_| bad("packet id"))?,
        mission_id: Uuid::from_slice(&mission).map_err(|_| bad("mission id"))?,
        sha256: sha.try_into().map_err(|_| bad("sha256"))?,
        created_ms,
        state: EntryState::parse(&state).ok_or_else(|| bad("state"))?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_ms: next_ms,
        last_error: last_error.and_then(|j| serde_json::from_str::<FailReason>(&j).ok()),
        receipt: receipt.and_then(|j| Receipt::from_json(&j).ok()),
    })
}

impl Journal {
    /// Inserts an entry with its packet, or (packet `None`) updates its
    /// bookkeeping. Replacing the packet of an existing entry is allowed
    /// (tests use it to simulate damage).
    pub fn outbox_put(&mut self, e: &Entry, packet: Option<&[u8]>) -> Result<(), VaultError> {
        let id = e.packet_id.as_bytes().as_slice();
        let last_error = e
            .last_error
            .as_ref()
            .and_then(|r| serde_json::to_string(r).ok());
        let receipt = e.receipt.as_ref().map(Receipt::to_json);
        match packet {
            Some(p) => {
                if p.len() > MAX_OUTBOX_PACKET {
                    return Err(VaultError::TooLarge {
                        what: "outbox packet",
                        len: p.len(),
                        max: MAX_OUTBOX_PACKET,
                    });
                }
                let sealed = crypto::seal(&self.device_key, &aad(&e.packet_id), p)?;
                self.conn
                    .execute(
                        "INSERT INTO outbox (packet_id, mission_id, sha256, created_ms, sealed, state, attempts, next_attempt_ms, last_error, receipt)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                         ON CONFLICT(packet_id) DO UPDATE SET sealed = excluded.sealed, state = excluded.state,
                           attempts = excluded.attempts, next_attempt_ms = excluded.next_attempt_ms,
                           last_error = excluded.last_error, receipt = excluded.receipt",
                        params![
                            id,
                            e.mission_id.as_bytes().as_slice(),
                            e.sha256.as_slice(),
                            e.created_ms,
                            sealed,
                            e.state.as_str(),
                            i64::from(e.attempts),
                            e.next_attempt_ms,
                            last_error,
                            receipt
                        ],
                    )
                    .map_err(VaultError::db("write outbox entry"))?;
            }
            None => {
                let n = self
                    .conn
                    .execute(
                        "UPDATE outbox SET state = ?2, attempts = ?3, next_attempt_ms = ?4, last_error = ?5, receipt = ?6
                         WHERE packet_id = ?1",
                        params![
                            id,
                            e.state.as_str(),
                            i64::from(e.attempts),
                            e.next_attempt_ms,
                            last_error,
                            receipt
                        ],
                    )
                    .map_err(VaultError::db("update outbox entry"))?;
                if n == 0 {
                    return Err(VaultError::InvalidInput("unknown outbox entry"));
                }
            }
        }
        Ok(())
    }

    /// All entries, oldest first.
    pub fn outbox_list(&self) -> Result<Vec<Entry>, VaultError> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT packet_id, mission_id, sha256, created_ms, state, attempts, next_attempt_ms, last_error, receipt
                 FROM outbox ORDER BY created_ms, packet_id",
            )
            .map_err(VaultError::db("read outbox"))?;
        let rows: Vec<Row> = st
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .and_then(|x| x.collect())
            .map_err(VaultError::db("read outbox"))?;
        rows.into_iter().map(entry_of).collect()
    }

    /// The packet bytes of an entry; a tampered row is `Corrupt`.
    pub fn outbox_packet(&self, packet_id: Uuid) -> Result<Option<Vec<u8>>, VaultError> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row(
                "SELECT sealed FROM outbox WHERE packet_id = ?1",
                [packet_id.as_bytes().as_slice()],
                |r| r.get(0),
            )
            .optional()
            .map_err(VaultError::db("read outbox packet"))?;
        sealed
            .map(|s| {
                crypto::open(&self.device_key, &aad(&packet_id), &s).map_err(|_| {
                    VaultError::Corrupt(format!("outbox packet {packet_id} failed authentication"))
                })
            })
            .transpose()
    }

    pub fn outbox_delete(&mut self, packet_id: Uuid) -> Result<bool, VaultError> {
        let n = self
            .conn
            .execute(
                "DELETE FROM outbox WHERE packet_id = ?1",
                [packet_id.as_bytes().as_slice()],
            )
            .map_err(VaultError::db("delete outbox entry"))?;
        Ok(n > 0)
    }
}

impl OutboxPersist for Store {
    fn outbox_entries(&self) -> Result<Vec<Entry>, String> {
        self.journal()
            .and_then(Journal::outbox_list)
            .map_err(|e| e.to_string())
    }

    fn outbox_packet(&self, packet_id: Uuid) -> Result<Option<Vec<u8>>, String> {
        self.journal()
            .and_then(|j| j.outbox_packet(packet_id))
            .map_err(|e| e.to_string())
    }

    fn outbox_put(&mut self, e: &Entry, packet: Option<&[u8]>) -> Result<(), String> {
        self.journal_mut()
            .and_then(|j| j.outbox_put(e, packet))
            .map_err(|e| e.to_string())
    }

    fn outbox_finish(&mut self, e: &Entry) -> Result<(), String> {
        if e.state != EntryState::Done || e.receipt.is_none() {
            return Err("outbox entry is not acknowledged; nothing deleted".into());
        }
        match self.delete_mission(rettpad_record::MissionId(e.mission_id)) {
            Ok(()) => {}
            // Already gone (a crash after the mission's deletion).
            Err(StoreError::Vault(VaultError::UnknownMission { .. })) => {}
            Err(err) => return Err(err.to_string()),
        }
        self.journal_mut()
            .and_then(|j| j.outbox_delete(e.packet_id))
            .map_err(|e| e.to_string())?;
        tracing::info!(mission = %e.mission_id, packet = %e.packet_id, "mission deleted after verified receipt");
        Ok(())
    }
}
