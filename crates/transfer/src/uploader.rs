//! The pad's uploader: one attempt = one HTTPS POST over mTLS (rustls with
//! the BSI provider from `pki`, the device certificate as identity, the
//! gateway pinned to the organisation CA), then the receipt check. The run
//! loop drives the outbox state machine from a thread with a stop flag.

use super::outbox::{Entry, EntryState, FailReason, OutboxStatus};
use super::receipt::{Receipt, ReceiptKey};
use rettpad_clock::SharedClock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use uuid::Uuid;

pub use super::{CALL_SIGN_HEADER, SERIAL_HEADER};

pub use super::outbox::OutboxPersist;

/// One HTTPS client for the gateway.
pub struct Uploader {
    http: reqwest::blocking::Client,
    url: String,
    hello: String,
    receipt_key: ReceiptKey,
    serial: String,
    call_sign: String,
}

impl std::fmt::Debug for Uploader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Uploader")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Uploader {
    /// `gateway_url` is the base (`https://host:port`); `tls` a client
    /// configuration from `pki::client_config`.
    pub fn new(
        gateway_url: &str,
        tls: rustls::ClientConfig,
        receipt_key: ReceiptKey,
        serial: &str,
        call_sign: &str,
        timeout: Duration,
    ) -> Result<Uploader, String> {
        let http = reqwest::blocking::Client::builder()
            .tls_backend_preconfigured(tls)
            .https_only(true)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .build()
            .map_err(|e| format!("HTTPS client: {e}"))?;
        Ok(Uploader {
            http,
            url: format!("{}/v1/packets", gateway_url.trim_end_matches('/')),
            hello: format!("{}/v1/hello", gateway_url.trim_end_matches('/')),
            receipt_key,
            serial: serial.into(),
            call_sign: call_sign.into(),
        })
    }

    /// One attempt. `Ok` only with a receipt that verified for exactly this
    /// packet id and hash.
    pub fn send(
        &self,
        packet_id: Uuid,
        sha: &[u8; 32],
        bytes: &[u8],
    ) -> Result<Receipt, FailReason> {
        let resp = self
            .http
            .post(&self.url)
            .header(SERIAL_HEADER, &self.serial)
            .header(CALL_SIGN_HEADER, super::call_sign_header(&self.call_sign))
            .header("content-type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .map_err(|e| self.explain(classify(e)))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .map_err(|e| FailReason::Unreachable(format!("reading answer: {e}")))?;
        let msg = || {
            serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
                .unwrap_or_else(|| format!("HTTP {status}"))
        };
        match status {
            200 => {
                let r =
                    Receipt::from_json(&body).map_err(|e| FailReason::BadReceipt(e.to_string()))?;
                r.verify(&self.receipt_key, packet_id, sha)
                    .map_err(|e| FailReason::BadReceipt(e.to_string()))?;
                Ok(r)
            }
            401 | 403 => Err(FailReason::DeviceRefused(msg())),
            400 | 409 | 413 | 422 => Err(FailReason::PacketRefused(msg())),
            _ => Err(FailReason::Server(msg())),
        }
    }
}

impl Uploader {
    /// With TLS 1.3 the gateway checks the client certificate after the
    /// client's handshake is done, so a refused certificate can surface as
    /// a broken pipe while the body is written. A small GET reads the
    /// gateway's alert and names the real cause.
    fn explain(&self, r: FailReason) -> FailReason {
        let FailReason::Unreachable(d) = &r else {
            return r;
        };
        let l = d.to_ascii_lowercase();
        if !(l.contains("broken pipe") || l.contains("connection reset") || l.contains("closed")) {
            return r;
        }
        match self.http.get(&self.hello).send() {
            Err(e) => match classify(e) {
                t @ FailReason::Tls(_) => t,
                _ => r,
            },
            Ok(resp) if matches!(resp.status().as_u16(), 401 | 403) => {
                FailReason::DeviceRefused(format!("HTTP {}", resp.status().as_u16()))
            }
            Ok(_) => r,
        }
    }

    /// Asks the gateway who it thinks this pad is (`serial call-sign`).
    pub fn hello(&self) -> Result<String, FailReason> {
        let resp = self.http.get(&self.hello).send().map_err(classify)?;
        let st = resp.status().as_u16();
        let body = resp
            .text()
            .map_err(|e| FailReason::Unreachable(e.to_string()))?;
        match st {
            200 => Ok(body),
            401 | 403 => Err(FailReason::DeviceRefused(format!("HTTP {st}"))),
            _ => Err(FailReason::Server(format!("HTTP {st}"))),
        }
    }
}

fn classify(e: reqwest::Error) -> FailReason {
    // Walk the source chain: rustls errors mean TLS, the rest is transport.
    let mut chain = format!("{e}");
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        src = s.source();
    }
    let l = chain.to_ascii_lowercase();
    if l.contains("certificate")
        || l.contains("tls")
        || l.contains("handshake")
        || l.contains("alert")
    {
        FailReason::Tls(chain)
    } else {
        FailReason::Unreachable(chain)
    }
}

/// What one [`step`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepResult {
    /// Nothing due; the next attempt is at this wall time (if any entry).
    Idle {
        next_ms: Option<i64>,
    },
    Sent {
        packet_id: Uuid,
    },
    Failed {
        packet_id: Uuid,
        reason: FailReason,
    },
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

/// Finishes done entries (a crash after the receipt), then sends the first
/// due entry once. Holds no lock across the network: `with` gives short
/// access to the persistence.
pub fn step<P: OutboxPersist>(
    persist: &Mutex<P>,
    up: &Uploader,
    now_ms: i64,
) -> Result<StepResult, String> {
    let lock = || persist.lock().unwrap_or_else(|e| e.into_inner());
    let mut picked: Option<(Entry, Vec<u8>)> = None;
    let mut next_ms = None;
    (|| -> Result<(), String> {
        let mut g = lock();
        let p = &mut *g;
        for e in p.outbox_entries()? {
            if e.state == EntryState::Done {
                p.outbox_finish(&e)?;
            }
        }
        let entries = p.outbox_entries()?;
        next_ms = entries
            .iter()
            .filter(|e| e.state != EntryState::Done)
            .map(|e| e.next_attempt_ms)
            .min();
        if let Some(mut e) = entries.into_iter().find(|e| e.due(now_ms)) {
            let bytes = p
                .outbox_packet(e.packet_id)?
                .ok_or_else(|| format!("packet {} missing from the outbox", e.packet_id))?;
            e.start();
            p.outbox_put(&e, None)?;
            picked = Some((e, bytes));
        }
        Ok(())
    })()?;
    let Some((mut e, bytes)) = picked else {
        return Ok(StepResult::Idle { next_ms });
    };
    let res = up.send(e.packet_id, &e.sha256, &bytes);
    drop(bytes);
    let out = match res {
        Ok(r) => {
            tracing::info!(packet = %e.packet_id, mission = %e.mission_id, "receipt verified");
            e.succeeded(r);
            StepResult::Sent {
                packet_id: e.packet_id,
            }
        }
        Err(reason) => {
            tracing::warn!(packet = %e.packet_id, attempts = e.attempts, error = reason.detail(), "upload failed");
            e.failed(reason.clone(), now_ms, random_u64());
            StepResult::Failed {
                packet_id: e.packet_id,
                reason,
            }
        }
    };
    let mut p = lock();
    // The receipt is durable before anything is deleted.
    p.outbox_put(&e, None)?;
    if e.state == EntryState::Done {
        p.outbox_finish(&e)?;
    }
    Ok(out)
}

/// At start: entries left in `sending` (the pad died mid-upload) go back
/// to `waiting` and are sent again; the gateway deduplicates.
pub fn recover<P: OutboxPersist>(persist: &Mutex<P>) -> Result<usize, String> {
    let mut p = persist.lock().unwrap_or_else(|e| e.into_inner());
    let mut n = 0;
    for mut e in p.outbox_entries()? {
        if e.state == EntryState::Sending {
            e.recover();
            p.outbox_put(&e, None)?;
            n += 1;
        }
    }
    Ok(n)
}

/// The running uploader thread.
pub struct UploaderHandle {
    stop: Arc<AtomicBool>,
    wake: Arc<(Mutex<bool>, Condvar)>,
    status: Arc<Mutex<OutboxStatus>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for UploaderHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploaderHandle").finish_non_exhaustive()
    }
}

impl UploaderHandle {
    /// The status bar value.
    pub fn status(&self) -> OutboxStatus {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or(OutboxStatus::Empty)
    }

    /// Try now (a mission was queued, or the network came up).
    pub fn wake(&self) {
        let (m, c) = &*self.wake;
        if let Ok(mut w) = m.lock() {
            *w = true;
            c.notify_all();
        }
    }

    /// Stops after the current attempt and joins the thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for UploaderHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let (m, c) = &*self.wake;
        if let Ok(mut w) = m.lock() {
            *w = true;
            c.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the uploader loop on a thread. `persist` is locked only briefly.
/// After a restart, entries left in `sending` are sent again (the gateway
/// deduplicates by packet id).
pub fn spawn<P: OutboxPersist + Send + 'static>(
    persist: Arc<Mutex<P>>,
    up: Uploader,
    clock: SharedClock,
    poll: Duration,
) -> UploaderHandle {
    let stop = Arc::new(AtomicBool::new(false));
    let wake = Arc::new((Mutex::new(false), Condvar::new()));
    let status = Arc::new(Mutex::new(OutboxStatus::Empty));
    let (s2, w2, st2) = (stop.clone(), wake.clone(), status.clone());
    let thread = std::thread::Builder::new()
        .name("uploader".into())
        .spawn(move || run(persist, up, clock, poll, s2, w2, st2))
        .ok();
    UploaderHandle {
        stop,
        wake,
        status,
        thread,
    }
}

fn run<P: OutboxPersist>(
    persist: Arc<Mutex<P>>,
    up: Uploader,
    clock: SharedClock,
    poll: Duration,
    stop: Arc<AtomicBool>,
    wake: Arc<(Mutex<bool>, Condvar)>,
    status: Arc<Mutex<OutboxStatus>>,
) {
    let mut sent = 0usize;
    if let Err(e) = recover(&persist) {
        tracing::error!(error = %e, "outbox recovery failed");
    }
    while !stop.load(Ordering::SeqCst) {
        let res = step(&persist, &up, clock.wall_ms());
        if let Ok(StepResult::Sent { .. }) = res {
            sent += 1;
        }
        if let Err(e) = &res {
            tracing::error!(error = %e, "outbox step failed");
        }
        let entries = persist
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .outbox_entries()
            .unwrap_or_default();
        if let Ok(mut s) = status.lock() {
            *s = OutboxStatus::of(&entries, sent);
        }
        let wait = match res {
            Ok(StepResult::Sent { .. }) => Duration::ZERO,
            Ok(StepResult::Idle { next_ms: Some(t) }) => {
                Duration::from_millis((t - clock.wall_ms()).clamp(0, i64::MAX) as u64).min(poll)
            }
            _ => poll,
        };
        if wait.is_zero() {
            continue;
        }
        let (m, c) = &*wake;
        if let Ok(mut w) = m.lock() {
            if !*w {
                w = match c.wait_timeout(w, wait) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                };
            }
            *w = false;
        }
    }
}
