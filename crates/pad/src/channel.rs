//! The permanent channel on a worker thread: the sans-IO client of
//! `rettpad_channel` driven over `transfer::channel_link` (mTLS). Each
//! dispatch message is applied to the vault, then the applied seq is kept
//! in the vault, then acknowledged; so every message reaches the record
//! exactly once across restarts and reconnects.

use crate::dispatch::{self, Applied};
use rettpad_channel::client::{self, Channel, Delivery, LinkState, PollOutcome};
use rettpad_channel::{Envelope, Kind};
use rettpad_clock::SharedClock;
use rettpad_dispatch::ToPad;
use rettpad_text::Notice;
use rettpad_transfer::channel_link::{ChannelLink, LinkError};
use rettpad_vault::store::SharedStore;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Vault meta: the highest channel seq applied on this pad.
const APPLIED_META: &str = "channel.applied";

/// What the status bar shows: the link and since when (wall clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkView {
    pub connected: bool,
    pub since_ms: i64,
}

/// Something the channel did, for the UI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelEvent {
    Dispatched(Applied),
    /// A provisioning package from the gateway: applied (in the vault) or
    /// refused (nothing changed).
    Provisioned(Result<crate::fleet::ApplyReport, Notice>),
    /// A remote command taken (its effect is durable) or refused.
    Command(Result<rettpad_provision::command::Command, Notice>),
    /// The gateway refused the pad (unknown pad or call sign): it keeps
    /// retrying, slowly, and says so.
    Refused(Notice),
}

pub struct ChannelHandle {
    view: Arc<Mutex<LinkView>>,
    events: Receiver<ChannelEvent>,
    stop: Arc<AtomicBool>,
}

impl ChannelHandle {
    pub fn view(&self) -> LinkView {
        *self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn poll(&self) -> Vec<ChannelEvent> {
        self.events.try_iter().collect()
    }

    /// Stops after the current read (at most the dead time).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for ChannelHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

fn applied_seq(store: &SharedStore) -> u64 {
    store
        .lock()
        .meta_get(APPLIED_META)
        .ok()
        .flatten()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn rand() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

/// Starts the channel for pad `serial` with call sign `call_sign`.
pub fn start(
    link: ChannelLink,
    cfg: client::Config,
    store: SharedStore,
    clock: SharedClock,
    serial: String,
    trust: Option<rettpad_provision::Trust>,
) -> ChannelHandle {
    let view = Arc::new(Mutex::new(LinkView {
        connected: false,
        since_ms: clock.wall_ms(),
    }));
    let (tx, rx) = channel();
    let stop = Arc::new(AtomicBool::new(false));
    let w = Worker {
        link,
        store,
        clock,
        serial,
        trust,
        view: view.clone(),
        tx,
        stop: stop.clone(),
        status_due: AtomicBool::new(true),
    };
    let spawned = std::thread::Builder::new()
        .name("channel".into())
        .spawn(move || w.run(cfg));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "channel thread not started");
    }
    ChannelHandle {
        view,
        events: rx,
        stop,
    }
}

struct Worker {
    link: ChannelLink,
    store: SharedStore,
    clock: SharedClock,
    serial: String,
    trust: Option<rettpad_provision::Trust>,
    view: Arc<Mutex<LinkView>>,
    tx: Sender<ChannelEvent>,
    stop: Arc<AtomicBool>,
    /// A package or command changed what the gateway should see.
    status_due: AtomicBool,
}

/// How often a connected pad reports its state.
const STATUS_EVERY: Duration = Duration::from_secs(300);

impl Worker {
    /// Reports versions and counts; a failure waits for the next round.
    fn send_status(&self) {
        crate::fleet::contact(&self.store, self.clock.wall_ms());
        let s = crate::fleet::status(&self.store, self.clock.wall_ms());
        if let Err(e) = self.link.status(&s) {
            tracing::info!(error = %e, "pad status not sent");
        }
    }

    fn set_view(&self, connected: bool) {
        let mut v = self.view.lock().unwrap_or_else(|p| p.into_inner());
        if v.connected != connected {
            *v = LinkView {
                connected,
                since_ms: self.clock.wall_ms(),
            };
        }
    }

    fn run(self, cfg: client::Config) {
        let mut ch = Channel::new(cfg, applied_seq(&self.store), Instant::now());
        let mut buf = vec![0u8; 16 * 1024];
        while !self.stop.load(Ordering::Relaxed) {
            if let Some(at) = ch.next_connect() {
                let now = Instant::now();
                if at > now {
                    std::thread::sleep((at - now).min(Duration::from_millis(250)));
                    continue;
                }
            }
            ch.connecting(Instant::now());
            match self.link.open(ch.resume_from()) {
                Ok(mut resp) => {
                    ch.connected(Instant::now());
                    self.set_view(true);
                    tracing::info!(after = ch.resume_from(), "channel connected");
                    let mut status_at = Instant::now();
                    self.status_due.store(true, Ordering::Relaxed);
                    loop {
                        if self.stop.load(Ordering::Relaxed) {
                            return;
                        }
                        if self.status_due.swap(false, Ordering::Relaxed)
                            || status_at.elapsed() >= STATUS_EVERY
                        {
                            self.send_status();
                            status_at = Instant::now();
                        }
                        let n = match resp.read(&mut buf) {
                            Ok(0) => break,
                            Ok(n) => n,
                            Err(e) => {
                                tracing::info!(error = %e, "channel read ended");
                                break;
                            }
                        };
                        let now = Instant::now();
                        // A message that could not be made durable ends the
                        // stream: the next one resumes from the kept seq, so
                        // nothing after it is applied out of order.
                        if !ch
                            .received(now, &buf[..n])
                            .into_iter()
                            .all(|d| self.deliver(&mut ch, d))
                        {
                            break;
                        }
                        if ch.poll(Instant::now()) == PollOutcome::Dead {
                            tracing::warn!("channel silent too long; reconnecting");
                            break;
                        }
                    }
                }
                Err(LinkError::Refused { status, code }) => {
                    tracing::warn!(status, code = %code, "channel refused by the gateway");
                    let _ = self.tx.send(ChannelEvent::Refused(Notice::new(
                        "Leitstelle lehnt dieses Gerät ab (Rufname nicht registriert).",
                        "The server refuses this device (call sign not registered).",
                    )));
                }
                Err(LinkError::Transport(e)) => {
                    tracing::info!(error = %e, "channel not connected");
                }
            }
            self.set_view(false);
            let wait = ch.disconnected(Instant::now(), rand());
            if let LinkState::Disconnected { attempt, .. } = ch.state() {
                tracing::debug!(
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "channel retry scheduled"
                );
            }
        }
    }

    /// False when the message is not durable and the stream must restart.
    fn deliver(&self, ch: &mut Channel, d: Delivery) -> bool {
        let env: Envelope = match d {
            Delivery::Message(e) => e,
            Delivery::Rejected(r) => {
                tracing::warn!(error = %r, "channel event refused");
                return true;
            }
            Delivery::Gap { expected, got } => {
                tracing::error!(
                    expected,
                    got,
                    "channel messages lost on the gateway (queue bound)"
                );
                return true;
            }
        };
        let done = match env.kind {
            Kind::Dispatch => match serde_json::from_value::<ToPad>(env.body.clone()) {
                Ok(msg) => match dispatch::apply(&self.store, &self.serial, &msg) {
                    Ok(a) => {
                        let _ = self.tx.send(ChannelEvent::Dispatched(a));
                        true
                    }
                    // Not durable: not acknowledged; it comes again.
                    Err(_) => false,
                },
                Err(e) => {
                    tracing::warn!(seq = env.seq, error = %e, "dispatch message unreadable; skipped");
                    true
                }
            },
            Kind::Provisioning | Kind::Command => {
                match self.fleet(&env) {
                    // Not durable: not acknowledged; it comes again.
                    Err(()) => false,
                    Ok(ev) => {
                        // Acknowledged first: a wipe reports before the
                        // data is gone.
                        if !self.keep_and_ack(ch, env.seq) {
                            return false;
                        }
                        if let Some(ev) = ev {
                            self.status_due.store(true, Ordering::Relaxed);
                            let _ = self.tx.send(ev);
                        }
                        return true;
                    }
                }
            }
            other => {
                tracing::warn!(
                    seq = env.seq,
                    kind = other.as_str(),
                    "channel message of a kind this pad does not handle; skipped"
                );
                true
            }
        };
        done && self.keep_and_ack(ch, env.seq)
    }

    /// Keeps the applied seq in the vault, then acknowledges it.
    fn keep_and_ack(&self, ch: &mut Channel, seq: u64) -> bool {
        let kept = self
            .store
            .lock()
            .meta_put(APPLIED_META, seq.to_string().as_bytes());
        if let Err(e) = kept {
            tracing::warn!(error = %e, "channel position not kept; the message will come again");
            return false;
        }
        if let Some(seq) = ch.applied(seq)
            && let Err(e) = self.link.ack(seq)
        {
            // The next stream resumes after the kept seq anyway.
            tracing::info!(seq, error = %e, "channel ack not sent");
        }
        true
    }
}

impl Worker {
    /// A package or command: made durable (or refused) here, on the
    /// worker; `Err` when the vault could not keep it.
    fn fleet(&self, env: &Envelope) -> Result<Option<ChannelEvent>, ()> {
        use base64::Engine;
        let field = if env.kind == Kind::Command {
            "command"
        } else {
            "package"
        };
        let bytes = env
            .body
            .get(field)
            .and_then(|v| v.as_str())
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
        let now = self.clock.wall_ms();
        let trust = self.trust.as_ref();
        let refused = |e: &crate::fleet::FleetError| Notice::of(e);
        let Some(bytes) = bytes else {
            tracing::warn!(
                seq = env.seq,
                "fleet message without a readable {field}; skipped"
            );
            let e = crate::fleet::FleetError::Refused(rettpad_provision::ProvisionError::Corrupt(
                "body".into(),
            ));
            return Ok(Some(if env.kind == Kind::Command {
                ChannelEvent::Command(Err(refused(&e)))
            } else {
                ChannelEvent::Provisioned(Err(refused(&e)))
            }));
        };
        if env.kind == Kind::Command {
            match crate::fleet::take_command(&self.store, trust, &self.serial, &bytes, now) {
                Ok(c) => Ok(Some(ChannelEvent::Command(Ok(c)))),
                Err(e) if e.is_refusal() => Ok(Some(ChannelEvent::Command(Err(refused(&e))))),
                Err(_) => Err(()),
            }
        } else {
            match crate::fleet::apply_package(&self.store, trust, &self.serial, &bytes, now) {
                Ok(r) => Ok(Some(ChannelEvent::Provisioned(Ok(r)))),
                Err(crate::fleet::FleetError::Refused(
                    rettpad_provision::ProvisionError::AlreadyApplied,
                )) => {
                    tracing::info!(
                        seq = env.seq,
                        "provisioning package delivered again; already applied"
                    );
                    Ok(None)
                }
                Err(e) if e.is_refusal() => Ok(Some(ChannelEvent::Provisioned(Err(refused(&e))))),
                Err(_) => Err(()),
            }
        }
    }
}
