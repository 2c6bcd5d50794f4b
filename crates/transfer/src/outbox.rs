//! The pad's outbox as a sans-IO state machine: fed the time, randomness
//! and upload outcomes, it says what to do next. Persistence is the vault's
//! `outbox` table; IO is the uploader.
//!
//! ```text
//! waiting ──due──▶ sending ──verified receipt──▶ done ──▶ (mission + packet deleted)
//!    ▲                │
//!    └──backoff── error(reason) ◀──failure──┘
//! ```
//! Invariants: an entry reaches `done` only with a receipt that verified
//! against the configured gateway key; nothing is deleted before `done`;
//! an entry found in `sending` after a restart (the pad died mid-upload) is
//! sent again: the gateway deduplicates by packet id.

use super::receipt::Receipt;
use rettpad_text::{Lang, UserMessage};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use uuid::Uuid;

/// First retry delay, doubled per failed attempt up to [`BACKOFF_MAX`].
pub const BACKOFF_BASE: Duration = Duration::from_secs(2);
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    Waiting,
    Sending,
    Error,
    Done,
}

impl EntryState {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryState::Waiting => "waiting",
            EntryState::Sending => "sending",
            EntryState::Error => "error",
            EntryState::Done => "done",
        }
    }

    pub fn parse(s: &str) -> Option<EntryState> {
        Some(match s {
            "waiting" => EntryState::Waiting,
            "sending" => EntryState::Sending,
            "error" => EntryState::Error,
            "done" => EntryState::Done,
            _ => return None,
        })
    }
}

/// Why an upload attempt failed. No patient data, ever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum FailReason {
    /// No route, connection refused, timeout.
    Unreachable(String),
    /// TLS handshake failed (certificate, version, suites).
    Tls(String),
    /// The gateway refused this pad (unknown device, serial mismatch).
    DeviceRefused(String),
    /// The gateway refused the packet (checksum, format).
    PacketRefused(String),
    /// 5xx or an unexpected answer.
    Server(String),
    /// A receipt came but did not verify: never trusted, never deletes.
    BadReceipt(String),
}

/// Where the outbox lives (the vault implements it; tests may use RAM).
pub trait OutboxPersist {
    fn outbox_entries(&self) -> Result<Vec<Entry>, String>;
    fn outbox_packet(&self, packet_id: Uuid) -> Result<Option<Vec<u8>>, String>;
    /// Inserts (with the packet bytes) or updates (`packet` = `None`).
    fn outbox_put(&mut self, e: &Entry, packet: Option<&[u8]>) -> Result<(), String>;
    /// After a verified receipt: deletes the mission, then the entry.
    fn outbox_finish(&mut self, e: &Entry) -> Result<(), String>;
}

impl UserMessage for FailReason {
    fn message(&self, lang: Lang) -> String {
        let (de, en) = match self {
            FailReason::Unreachable(_) => ("Server nicht erreichbar", "server unreachable"),
            FailReason::Tls(_) => (
                "sichere Verbindung abgelehnt (Zertifikat)",
                "secure connection refused (certificate)",
            ),
            FailReason::DeviceRefused(_) => (
                "Gerät vom Server nicht zugelassen",
                "device not admitted by the server",
            ),
            FailReason::PacketRefused(_) => (
                "Paket vom Server abgelehnt (Prüfsumme)",
                "packet refused by the server (checksum)",
            ),
            FailReason::Server(_) => ("Serverfehler", "server error"),
            FailReason::BadReceipt(_) => ("Empfangsbestätigung ungültig", "receipt invalid"),
        };
        lang.pick(de, en).into()
    }
}

impl FailReason {
    /// English, for logs.
    pub fn detail(&self) -> &str {
        match self {
            FailReason::Unreachable(d)
            | FailReason::Tls(d)
            | FailReason::DeviceRefused(d)
            | FailReason::PacketRefused(d)
            | FailReason::Server(d)
            | FailReason::BadReceipt(d) => d,
        }
    }
}

/// One queued packet (its bytes live beside it in the vault).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub packet_id: Uuid,
    pub mission_id: Uuid,
    pub sha256: [u8; 32],
    pub created_ms: i64,
    pub state: EntryState,
    pub attempts: u32,
    /// Wall time (ms) of the next attempt.
    pub next_attempt_ms: i64,
    pub last_error: Option<FailReason>,
    pub receipt: Option<Receipt>,
}

impl Entry {
    pub fn new(packet_id: Uuid, mission_id: Uuid, sha256: [u8; 32], now_ms: i64) -> Entry {
        Entry {
            packet_id,
            mission_id,
            sha256,
            created_ms: now_ms,
            state: EntryState::Waiting,
            attempts: 0,
            next_attempt_ms: now_ms,
            last_error: None,
            receipt: None,
        }
    }

    /// After a restart: an interrupted send is sent again.
    pub fn recover(&mut self) {
        if self.state == EntryState::Sending {
            self.state = EntryState::Waiting;
        }
    }

    pub fn due(&self, now_ms: i64) -> bool {
        matches!(self.state, EntryState::Waiting | EntryState::Error)
            && now_ms >= self.next_attempt_ms
    }

    /// Marks the start of an attempt (persist before sending).
    pub fn start(&mut self) {
        self.state = EntryState::Sending;
        self.attempts = self.attempts.saturating_add(1);
    }

    /// A receipt that already verified: done, ready for deletion.
    pub fn succeeded(&mut self, receipt: Receipt) {
        self.state = EntryState::Done;
        self.receipt = Some(receipt);
        self.last_error = None;
    }

    /// A failed attempt: error with a backoff delay. `random` is any u64
    /// from the caller (jitter).
    pub fn failed(&mut self, reason: FailReason, now_ms: i64, random: u64) {
        self.state = EntryState::Error;
        self.last_error = Some(reason);
        self.next_attempt_ms = now_ms.saturating_add(backoff_ms(self.attempts, random));
    }

    /// The network came back: try again now instead of waiting.
    pub fn retry_now(&mut self, now_ms: i64) {
        if self.state == EntryState::Error {
            self.next_attempt_ms = self.next_attempt_ms.min(now_ms);
        }
    }
}

/// Exponential backoff with "equal jitter": half fixed, half random, so
/// pads that lost the network together do not retry in lockstep.
pub fn backoff_ms(attempts: u32, random: u64) -> i64 {
    let base = BACKOFF_BASE.as_millis() as u64;
    let max = BACKOFF_MAX.as_millis() as u64;
    let exp = attempts.saturating_sub(1).min(20);
    let d = base.saturating_mul(1u64 << exp).min(max);
    let half = d / 2;
    (half + random % (half + 1)) as i64
}

/// What the status bar shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxStatus {
    /// Nothing queued, nothing sent in this session.
    Empty,
    Waiting {
        count: usize,
    },
    Sending {
        count: usize,
    },
    /// Everything sent; `sent` packets acknowledged in this session.
    Done {
        sent: usize,
    },
    Error {
        count: usize,
        reason: FailReason,
    },
}

impl OutboxStatus {
    /// Summarises the queue (done entries are about to be deleted).
    pub fn of(entries: &[Entry], sent_this_session: usize) -> OutboxStatus {
        let open: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.state != EntryState::Done)
            .collect();
        if open.is_empty() {
            return if sent_this_session > 0 {
                OutboxStatus::Done {
                    sent: sent_this_session,
                }
            } else {
                OutboxStatus::Empty
            };
        }
        let count = open.len();
        if open.iter().any(|e| e.state == EntryState::Sending) {
            return OutboxStatus::Sending { count };
        }
        if let Some(r) = open
            .iter()
            .filter(|e| e.state == EntryState::Error)
            .find_map(|e| e.last_error.clone())
        {
            return OutboxStatus::Error { count, reason: r };
        }
        OutboxStatus::Waiting { count }
    }
}

impl UserMessage for OutboxStatus {
    fn message(&self, lang: Lang) -> String {
        match (self, lang) {
            (OutboxStatus::Empty, Lang::De) => "Keine Übertragung ausstehend".into(),
            (OutboxStatus::Empty, Lang::En) => "Nothing waiting for transfer".into(),
            (OutboxStatus::Waiting { count }, Lang::De) => {
                format!("Übertragung wartet ({count} Einsatz/Einsätze)")
            }
            (OutboxStatus::Waiting { count }, Lang::En) => {
                format!("Transfer waiting ({count} mission(s))")
            }
            (OutboxStatus::Sending { count }, Lang::De) => {
                format!("Übertragung läuft ({count} ausstehend)")
            }
            (OutboxStatus::Sending { count }, Lang::En) => {
                format!("Transfer running ({count} pending)")
            }
            (OutboxStatus::Done { sent }, Lang::De) => {
                format!("Übertragen und bestätigt ({sent}); Daten auf dem Gerät gelöscht")
            }
            (OutboxStatus::Done { sent }, Lang::En) => {
                format!("Transferred and receipted ({sent}); data deleted from the device")
            }
            (OutboxStatus::Error { count, reason }, Lang::De) => format!(
                "Übertragungsfehler: {} – neuer Versuch folgt automatisch ({count} ausstehend)",
                reason.message(lang)
            ),
            (OutboxStatus::Error { count, reason }, Lang::En) => format!(
                "Transfer error: {} – retrying automatically ({count} pending)",
                reason.message(lang)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e() -> Entry {
        Entry::new(Uuid::now_v7(), Uuid::now_v7(), [1; 32], 1_000)
    }

    #[test]
    fn lifecycle_and_recovery() {
        let mut x = e();
        assert!(x.due(1_000));
        x.start();
        assert_eq!(x.state, EntryState::Sending);
        assert!(!x.due(10_000));
        x.recover();
        assert_eq!(x.state, EntryState::Waiting);
        x.start();
        x.failed(FailReason::Unreachable("refused".into()), 5_000, 0);
        assert_eq!(x.state, EntryState::Error);
        assert_eq!(x.attempts, 2);
        assert!(!x.due(5_000));
        assert!(x.due(5_000 + 4_000));
        x.retry_now(5_001);
        assert!(x.due(5_001));
        x.start();
        x.succeeded(Receipt {
            packet_id: x.packet_id,
            packet_sha256: String::new(),
            received_ms: 0,
            signature: String::new(),
        });
        assert_eq!(x.state, EntryState::Done);
        assert!(!x.due(i64::MAX));
        for s in [
            EntryState::Waiting,
            EntryState::Sending,
            EntryState::Error,
            EntryState::Done,
        ] {
            assert_eq!(EntryState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        assert_eq!(backoff_ms(1, 0), 1_000);
        assert_eq!(backoff_ms(1, u64::MAX), 1_000 + (u64::MAX % 1_001) as i64);
        assert!(backoff_ms(2, 0) == 2_000 && backoff_ms(3, 0) == 4_000);
        for a in [10, 50, u32::MAX] {
            let lo = backoff_ms(a, 0);
            let hi = backoff_ms(a, 150_000);
            assert_eq!(lo, 150_000);
            assert!(hi <= 300_000);
        }
        assert_ne!(backoff_ms(5, 1), backoff_ms(5, 2));
    }

    #[test]
    fn status_bar() {
        assert_eq!(OutboxStatus::of(&[], 0), OutboxStatus::Empty);
        assert_eq!(OutboxStatus::of(&[], 2), OutboxStatus::Done { sent: 2 });
        let mut a = e();
        let b = e();
        assert_eq!(
            OutboxStatus::of(&[a.clone(), b.clone()], 0),
            OutboxStatus::Waiting { count: 2 }
        );
        a.start();
        a.failed(FailReason::Tls("x".into()), 0, 0);
        let s = OutboxStatus::of(&[a.clone(), b.clone()], 0);
        assert!(s.message(Lang::De).contains("Zertifikat"), "{s:?}");
        assert!(s.message(Lang::En).contains("certificate"), "{s:?}");
        a.start();
        assert_eq!(
            OutboxStatus::of(&[a, b], 0),
            OutboxStatus::Sending { count: 2 }
        );
    }
}
