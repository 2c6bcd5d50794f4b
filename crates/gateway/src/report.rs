//! The documented times back to the dispatch centre (the seed's "update").
//!
//! - Outbox: a receipted protocol of an ELS mission whose centre has a
//!   report target (`[centres.report]`) puts one row into `els_reports`, in
//!   the same SQLite transaction as its `els_documented` row and only when
//!   that row is new, so a repeated upload never reports twice.
//! - Body: `rettpad.dispatch-report/1`, built once and stored, so every
//!   retry sends the same bytes; `msg_id` is UUIDv5 of the packet id, so the
//!   centre can drop a repeat. Times only, no patient data.
//! - Sender: per centre one task, one report in flight, in creation order.
//!   2xx delivers; 408, 429, 5xx and network errors retry with full-jitter
//!   backoff until `give_up_hours`; any other answer fails at once. Rows
//!   stay in `dispatch.sqlite`, so a restart or a centre down for hours
//!   loses nothing (the centre may see a repeat after a crash mid-send).
//!
//! Logs carry centre ids, message ids, attempts and error codes; never the
//! URL, the token or the body.

use crate::config::GatewayConfig;
use crate::dispatch::{Dispatcher, Documented, lock, rfc3339};
use crate::server::now_ms;
use rettpad_dispatch::report::DocumentedTime;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

/// The body's schema name.
pub const REPORT_SCHEMA: &str = "rettpad.dispatch-report/1";

/// Executed with the dispatcher's schema (`dispatch.sqlite`).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS els_reports (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    centre       TEXT NOT NULL,
    number       TEXT NOT NULL,
    mission_id   BLOB NOT NULL,
    packet_id    BLOB NOT NULL UNIQUE,
    body         TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_ms      INTEGER NOT NULL,
    delivered_ms INTEGER,
    failed       INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS els_reports_open ON els_reports (centre, id)
    WHERE delivered_ms IS NULL AND failed = 0;
";

const HOUR_MS: i64 = 3_600_000;
/// A wake-up is not needed to find a due row; it only makes it quicker.
const POLL: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where a centre takes the documented times (`[centres.report]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportTarget {
    /// `https://…`; `http://` only to a loopback host.
    pub url: String,
    /// The bearer token the gateway presents, one line in a 0600 file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Full-jitter backoff: the first retry waits up to this...
    #[serde(default = "default_retry_min")]
    pub retry_min_ms: u64,
    /// ...doubling up to this.
    #[serde(default = "default_retry_max")]
    pub retry_max_ms: u64,
    /// A report not delivered after this long is marked failed.
    #[serde(default = "default_give_up")]
    pub give_up_hours: u32,
}

fn default_retry_min() -> u64 {
    5_000
}
fn default_retry_max() -> u64 {
    3_600_000
}
fn default_give_up() -> u32 {
    72
}

impl ReportTarget {
    /// A target with the default backoff.
    pub fn new(url: &str, token_file: Option<PathBuf>) -> ReportTarget {
        ReportTarget {
            url: url.into(),
            token_file,
            retry_min_ms: default_retry_min(),
            retry_max_ms: default_retry_max(),
            give_up_hours: default_give_up(),
        }
    }

    /// Checks the URL and the backoff (no I/O; the token file is read at
    /// start, [`Senders::load`]).
    pub fn check(&self) -> Result<reqwest::Url, String> {
        let u = reqwest::Url::parse(&self.url)
            .map_err(|e| format!("report url is not a valid URL ({e})"))?;
        if !u.username().is_empty() || u.password().is_some() {
            return Err("report url must not contain credentials; use token_file".into());
        }
        let Some(host) = u.host_str() else {
            return Err("report url has no host".into());
        };
        let loopback = is_loopback(host);
        match u.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(
                    "report url must be https:// (http:// only to 127.0.0.1, ::1 or localhost)"
                        .into(),
                );
            }
            s => return Err(format!("report url scheme {s:?} is not https")),
        }
        if self.retry_min_ms == 0 || self.retry_max_ms < self.retry_min_ms {
            return Err("report retry_min_ms must be > 0 and at most retry_max_ms".into());
        }
        if self.give_up_hours == 0 {
            return Err("report give_up_hours must be > 0".into());
        }
        Ok(u)
    }
}

/// 127.0.0.0/8, ::1 or localhost (`host_str` brackets IPv6).
fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The message id of the report of `packet`: the same on every retry.
pub fn msg_id(packet: Uuid) -> Uuid {
    let mut name = b"rettpad.dispatch-report/1\0".to_vec();
    name.extend_from_slice(packet.as_bytes());
    Uuid::new_v5(&rettpad_dispatch::NAMESPACE, &name)
}

#[derive(Serialize)]
struct CentreRef<'a> {
    id: &'a str,
}

/// `rettpad.dispatch-report/1` (docs/dispatch.md).
#[derive(Serialize)]
struct Body<'a> {
    schema: &'static str,
    msg_id: Uuid,
    centre: CentreRef<'a>,
    mission_number: &'a str,
    mission_id: Uuid,
    call_sign: &'a str,
    serial: &'a str,
    packet_id: Uuid,
    received_at: String,
    times: &'a [DocumentedTime],
}

/// A documented protocol's report, as the lookup shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum ReportState {
    /// The centre has no report target (or had none when it arrived).
    None,
    Pending {
        attempts: u32,
        next_ms: i64,
        last_error: Option<String>,
    },
    Delivered {
        attempts: u32,
        delivered_ms: i64,
    },
    Failed {
        attempts: u32,
        code: String,
    },
}

/// Per centre with a report target: woken when a report is enqueued.
pub(crate) fn wakers(cfg: &GatewayConfig) -> HashMap<String, Arc<Notify>> {
    cfg.centres
        .iter()
        .filter(|c| c.report.is_some())
        .map(|c| (c.id.clone(), Arc::default()))
        .collect()
}

/// The documented protocols of mission `m` with their report state
/// (`reporting`: the centre has a report target).
pub(crate) fn documented_rows(
    db: &Connection,
    m: Uuid,
    reporting: bool,
) -> rusqlite::Result<Vec<Documented>> {
    let mut st = db.prepare(
        "SELECT d.packet_id, d.serial, d.call_sign, d.received_ms, d.times,
                r.attempts, r.next_ms, r.delivered_ms, r.failed, r.last_error
         FROM els_documented d LEFT JOIN els_reports r ON r.packet_id = d.packet_id
         WHERE d.mission_id = ?1 ORDER BY d.received_ms",
    )?;
    st.query_map([m.as_bytes().as_slice()], |r| {
        let id: Vec<u8> = r.get(0)?;
        let attempts: Option<u32> = r.get(5)?;
        let delivered: Option<i64> = r.get(7)?;
        let failed: Option<bool> = r.get(8)?;
        let error: Option<String> = r.get(9)?;
        let report = match (reporting, attempts, delivered, failed) {
            (false, ..) | (true, None, ..) => ReportState::None,
            (true, Some(attempts), Some(delivered_ms), _) => ReportState::Delivered {
                attempts,
                delivered_ms,
            },
            (true, Some(attempts), None, Some(true)) => ReportState::Failed {
                attempts,
                code: error.unwrap_or_default(),
            },
            (true, Some(attempts), None, _) => ReportState::Pending {
                attempts,
                next_ms: r.get(6)?,
                last_error: error,
            },
        };
        Ok(Documented {
            packet_id: Uuid::from_slice(&id).unwrap_or_default(),
            serial: r.get(1)?,
            call_sign: r.get(2)?,
            received_ms: r.get(3)?,
            times: serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default(),
            report,
        })
    })?
    .collect()
}

/// The oldest open report of a centre.
#[derive(Debug, Clone)]
struct Due {
    id: i64,
    msg_id: Uuid,
    body: String,
    attempts: u32,
    created_ms: i64,
    next_ms: i64,
}

impl Dispatcher {
    /// A receipted protocol of mission `m`: recorded when `m` is an ELS
    /// mission, so the lookup answers which pad documented it, and queued
    /// for the centre's report target in the same transaction. True when
    /// the protocol was new here.
    pub fn documented(
        &self,
        m: Uuid,
        packet: Uuid,
        serial: &str,
        call_sign: &str,
        times: &[DocumentedTime],
        now_ms: i64,
    ) -> Result<bool, String> {
        let e = |e: rusqlite::Error| e.to_string();
        let times_json = serde_json::to_string(times).map_err(|e| e.to_string())?;
        let mut db = lock(&self.db);
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(e)?;
        let Some((centre, number)) = tx
            .query_row(
                "SELECT centre, number FROM els_missions WHERE mission_id = ?1 LIMIT 1",
                [m.as_bytes().as_slice()],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()
            .map_err(e)?
        else {
            return Ok(false);
        };
        let new = tx
            .execute(
                "INSERT OR IGNORE INTO els_documented (mission_id, packet_id, serial, call_sign, received_ms, times)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![m.as_bytes().as_slice(), packet.as_bytes().as_slice(), serial, call_sign, now_ms, times_json],
            )
            .map_err(e)?
            > 0;
        let wake = self.report_wake.get(&centre).filter(|_| new);
        if wake.is_some() {
            let body = serde_json::to_string(&Body {
                schema: REPORT_SCHEMA,
                msg_id: msg_id(packet),
                centre: CentreRef { id: &centre },
                mission_number: &number,
                mission_id: m,
                call_sign,
                serial,
                packet_id: packet,
                received_at: rfc3339(now_ms),
                times,
            })
            .map_err(|e| e.to_string())?;
            tx.execute(
                "INSERT OR IGNORE INTO els_reports (centre, number, mission_id, packet_id, body, created_ms, next_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
                params![centre, number, m.as_bytes().as_slice(), packet.as_bytes().as_slice(), body, now_ms],
            )
            .map_err(e)?;
        }
        tx.commit().map_err(e)?;
        drop(db);
        if let Some(w) = wake {
            tracing::info!(centre = %centre, msg = %msg_id(packet), "report to the dispatch centre queued");
            // A stored permit: a sender busy elsewhere still sees it.
            w.notify_one();
        }
        Ok(new)
    }

    /// Whether `centre` has a report target.
    pub(crate) fn reports_to(&self, centre: &str) -> bool {
        self.report_wake.contains_key(centre)
    }

    fn report_head(&self, centre: &str) -> Result<Option<Due>, String> {
        lock(&self.db)
            .query_row(
                "SELECT id, packet_id, body, attempts, created_ms, next_ms FROM els_reports
                 WHERE centre = ?1 AND delivered_ms IS NULL AND failed = 0 ORDER BY id LIMIT 1",
                [centre],
                |r| {
                    let packet: Vec<u8> = r.get(1)?;
                    Ok(Due {
                        id: r.get(0)?,
                        msg_id: msg_id(Uuid::from_slice(&packet).unwrap_or_default()),
                        body: r.get(2)?,
                        attempts: r.get(3)?,
                        created_ms: r.get(4)?,
                        next_ms: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(|e| e.to_string())
    }

    fn report_settle(
        &self,
        id: i64,
        attempts: u32,
        v: &Verdict,
        code: Option<&str>,
        now_ms: i64,
    ) -> Result<(), String> {
        let db = lock(&self.db);
        match v {
            Verdict::Delivered => db.execute(
                "UPDATE els_reports SET attempts = ?2, delivered_ms = ?3, last_error = NULL WHERE id = ?1",
                params![id, attempts, now_ms],
            ),
            Verdict::RetryAt(at) => db.execute(
                "UPDATE els_reports SET attempts = ?2, next_ms = ?3, last_error = ?4 WHERE id = ?1",
                params![id, attempts, at, code],
            ),
            Verdict::Failed => db.execute(
                "UPDATE els_reports SET attempts = ?2, failed = 1, last_error = ?3 WHERE id = ?1",
                params![id, attempts, code],
            ),
        }
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}

/// What one attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// 408, 429, 5xx or no answer: worth another try.
    Transient(String),
    /// Any other answer: the centre will not take it.
    Permanent(String),
}

impl Outcome {
    pub fn of_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Delivered,
            408 | 429 | 500..=599 => Outcome::Transient(format!("http_{status}")),
            _ => Outcome::Permanent(format!("http_{status}")),
        }
    }

    fn of_error(e: &reqwest::Error) -> Outcome {
        // A code only: reqwest's message names the URL.
        let code = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else {
            "request"
        };
        Outcome::Transient(code.into())
    }

    fn code(&self) -> Option<&str> {
        match self {
            Outcome::Delivered => None,
            Outcome::Transient(c) | Outcome::Permanent(c) => Some(c),
        }
    }
}

/// What becomes of the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Wall time (ms) of the next attempt.
    RetryAt(i64),
    Failed,
}

/// The row's fate after attempt number `attempts` (1 = the first) of a
/// report created at `created_ms`; `rand` draws the jitter.
pub fn verdict(
    o: &Outcome,
    attempts: u32,
    created_ms: i64,
    now_ms: i64,
    t: &ReportTarget,
    rand: u64,
) -> Verdict {
    match o {
        Outcome::Delivered => Verdict::Delivered,
        Outcome::Permanent(_) => Verdict::Failed,
        Outcome::Transient(_)
            if now_ms.saturating_sub(created_ms) >= i64::from(t.give_up_hours) * HOUR_MS =>
        {
            Verdict::Failed
        }
        Outcome::Transient(_) => {
            let cfg = rettpad_channel::client::Config {
                backoff_min: Duration::from_millis(t.retry_min_ms),
                backoff_max: Duration::from_millis(t.retry_max_ms),
                ..Default::default()
            };
            let wait = rettpad_channel::client::backoff(&cfg, attempts.saturating_sub(1), rand);
            let wait = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
            Verdict::RetryAt(now_ms.saturating_add(wait))
        }
    }
}

/// A bearer token; never printed.
struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// Reads a token file: a regular file of mode 0600 or stricter, one line
/// of visible ASCII.
fn read_token(path: &Path) -> Result<Token, String> {
    let show = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("report token file {show}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("report token file {show} is not a regular file"));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o177 != 0 {
        return Err(format!(
            "report token file {show} has mode {mode:o}; it must be 0600 or stricter (chmod 600 it)"
        ));
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("report token file {show}: {e}"))?;
    let t = text.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "report token file {show} must hold one token of visible ASCII characters"
        ));
    }
    Ok(Token(t.to_string()))
}

struct Sender {
    centre: String,
    url: reqwest::Url,
    token: Option<Token>,
    target: ReportTarget,
}

/// The report senders of all centres with a target, loaded at start so a
/// bad target or token file stops the gateway before it listens.
pub struct Senders {
    senders: Vec<Sender>,
    http: Option<reqwest::Client>,
}

impl Senders {
    pub fn load(cfg: &GatewayConfig) -> Result<Senders, String> {
        let mut senders = Vec::new();
        for c in &cfg.centres {
            let Some(t) = &c.report else { continue };
            let url = t.check().map_err(|e| format!("centre {}: {e}", c.id))?;
            let token = match &t.token_file {
                Some(p) => Some(read_token(p).map_err(|e| format!("centre {}: {e}", c.id))?),
                None => None,
            };
            senders.push(Sender {
                centre: c.id.clone(),
                url,
                token,
                target: t.clone(),
            });
        }
        let http = if senders.is_empty() {
            None
        } else {
            // Like the hospital client: reqwest's rustls with the system's
            // roots. No redirects: the token goes to the configured URL only.
            Some(
                reqwest::Client::builder()
                    .timeout(TIMEOUT)
                    .connect_timeout(TIMEOUT)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("rettpad-gateway/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("report HTTPS client: {e}"))?,
            )
        };
        Ok(Senders { senders, http })
    }

    /// One task per centre until `stop` changes.
    pub fn spawn(self, d: &Arc<Dispatcher>, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let Some(http) = self.http else {
            return Vec::new();
        };
        self.senders
            .into_iter()
            .filter_map(|s| {
                let wake = d.report_wake.get(&s.centre)?.clone();
                tracing::info!(centre = %s.centre, "reporting documented times to the dispatch centre");
                Some(tokio::spawn(run(
                    s,
                    http.clone(),
                    d.clone(),
                    wake,
                    stop.clone(),
                )))
            })
            .collect()
    }
}

async fn run(
    s: Sender,
    http: reqwest::Client,
    d: Arc<Dispatcher>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let centre = s.centre.as_str();
    loop {
        let (dd, c) = (d.clone(), s.centre.clone());
        let head = tokio::task::spawn_blocking(move || dd.report_head(&c)).await;
        let now = now_ms();
        let wait = match head {
            Ok(Ok(Some(r))) if r.next_ms <= now => {
                let o = tokio::select! {
                    o = post(&http, &s, &r.body) => o,
                    _ = stop.changed() => return,
                };
                if settle(&d, &s, r, &o).await {
                    continue;
                }
                POLL
            }
            Ok(Ok(Some(r))) => Duration::from_millis(u64::try_from(r.next_ms - now).unwrap_or(0)),
            Ok(Ok(None)) => POLL,
            Ok(Err(e)) => {
                tracing::error!(centre, error = %e, "report outbox unreadable");
                POLL
            }
            Err(e) => {
                tracing::error!(centre, error = %e, "report outbox worker failed");
                POLL
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait.min(POLL)) => {}
            _ = wake.notified() => {}
            _ = stop.changed() => return,
        }
    }
}

async fn post(http: &reqwest::Client, s: &Sender, body: &str) -> Outcome {
    let mut req = http
        .post(s.url.clone())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    if let Some(t) = &s.token {
        req = req.bearer_auth(&t.0);
    }
    // The answer's body is not read: nothing of it is kept or logged.
    match req.send().await {
        Ok(r) => Outcome::of_status(r.status().as_u16()),
        Err(e) => Outcome::of_error(&e),
    }
}

/// Records the attempt; false when that failed (the row is sent again, the
/// centre drops the repeat by `msg_id`).
async fn settle(d: &Arc<Dispatcher>, s: &Sender, r: Due, o: &Outcome) -> bool {
    let centre = s.centre.as_str();
    let now = now_ms();
    let attempts = r.attempts.saturating_add(1);
    let rand = (Uuid::now_v7().as_u128() & u128::from(u64::MAX)) as u64;
    let v = verdict(o, attempts, r.created_ms, now, &s.target, rand);
    let code = o.code().unwrap_or("");
    match (&v, o) {
        (Verdict::Delivered, _) => {
            tracing::info!(centre, msg = %r.msg_id, attempts, "documented times delivered to the dispatch centre");
        }
        (Verdict::RetryAt(at), _) => {
            tracing::warn!(centre, msg = %r.msg_id, attempts, error = code, retry_ms = at - now, "report to the dispatch centre failed; retrying");
        }
        (Verdict::Failed, Outcome::Permanent(_)) => {
            tracing::error!(centre, msg = %r.msg_id, attempts, error = code, "dispatch centre refused the report; not retried");
        }
        (Verdict::Failed, _) => {
            tracing::error!(centre, msg = %r.msg_id, attempts, error = code, hours = s.target.give_up_hours, "report to the dispatch centre given up");
        }
    }
    let (dd, id, oc) = (d.clone(), r.id, o.code().map(str::to_string));
    match tokio::task::spawn_blocking(move || {
        dd.report_settle(id, attempts, &v, oc.as_deref(), now)
    })
    .await
    {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::error!(centre, msg = %r.msg_id, error = %e, "report state not stored");
            false
        }
        Err(e) => {
            tracing::error!(centre, msg = %r.msg_id, error = %e, "report outbox worker failed");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> ReportTarget {
        ReportTarget::new(url, None)
    }

    #[test]
    fn only_https_or_loopback_http_is_accepted() {
        for ok in [
            "https://els.example/rettpad/documented",
            "http://127.0.0.1:9000/x",
            "http://[::1]:9000/x",
            "http://localhost/x",
        ] {
            assert!(target(ok).check().is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("http://els.example/x", "must be https://"),
            ("http://10.0.0.1/x", "must be https://"),
            ("ftp://127.0.0.1/x", "not https"),
            ("https://user:pw@els.example/x", "credentials"),
            ("not a url", "not a valid URL"),
        ] {
            let e = target(bad).check().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let mut t = target("https://els.example/x");
        t.retry_min_ms = 0;
        assert!(t.check().is_err());
        t.retry_min_ms = 10;
        t.retry_max_ms = 5;
        assert!(t.check().is_err());
    }

    #[test]
    fn answers_map_to_deliver_retry_or_fail_and_retries_end_after_the_give_up() {
        let t = target("https://els.example/x");
        let o = |s| Outcome::of_status(s);
        assert_eq!(verdict(&o(204), 1, 0, 10, &t, 0), Verdict::Delivered);
        for s in [400, 401, 403, 404, 409, 422, 301] {
            assert_eq!(verdict(&o(s), 1, 0, 10, &t, 7), Verdict::Failed, "{s}");
        }
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(verdict(&o(s), 1, 0, 10, &t, 7), Verdict::RetryAt(_)),
                "{s}"
            );
        }
        // Full jitter within min · 2^(attempts-1), capped at the maximum.
        let at = |attempts, rand| match verdict(&o(503), attempts, 0, 0, &t, rand) {
            Verdict::RetryAt(ms) => ms,
            v => panic!("{v:?}"),
        };
        assert!(at(1, u64::MAX) <= 5_001);
        assert!(at(3, u64::MAX) <= 20_001);
        assert!(at(40, u64::MAX) <= 3_600_001);
        assert_eq!(at(3, 0), 0);
        let give_up = 72 * HOUR_MS;
        let late = Outcome::Transient("connect".into());
        assert!(matches!(
            verdict(&late, 90, 0, give_up - 1, &t, 1),
            Verdict::RetryAt(_)
        ));
        assert_eq!(verdict(&late, 91, 0, give_up, &t, 1), Verdict::Failed);
    }

    #[test]
    fn the_message_id_is_stable_and_per_packet() {
        let p = Uuid::from_u128(1);
        assert_eq!(msg_id(p), msg_id(p));
        assert_ne!(msg_id(p), msg_id(Uuid::from_u128(2)));
        assert_eq!(msg_id(p).get_version_num(), 5);
    }

    #[test]
    fn a_token_file_open_to_others_is_refused_and_never_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("centre.token");
        std::fs::write(&f, "s3cret-token\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_token(&f).unwrap_err();
        assert!(e.contains("mode 644") && e.contains("0600"), "{e}");
        assert!(!e.contains("s3cret"));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o400)).unwrap();
        let t = read_token(&f).unwrap();
        assert_eq!(t.0, "s3cret-token");
        assert!(!format!("{t:?}").contains("s3cret"));
    }
}
