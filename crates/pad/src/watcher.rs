//! The card watcher: one thread that follows pcscd, the readers and the
//! cards, reads every inserted card and reports [`CardEvent`]s over a
//! channel. It never touches the record and never blocks the UI thread.
//!
//! Loop (pcsc-lite semantics, see `shared/docs/egk.md` §5.3): establish a
//! context (retrying while pcscd is down) → drop reader states that turned
//! UNKNOWN/IGNORE → add readers from our own enumeration (the PnP entry
//! with UNAWARE does not return at once) → `get_status_change` with a finite
//! timeout → PRESENT newly set = inserted (read it), cleared = removed.
//! `NoService`, `CommError`, `InvalidHandle`… mean pcscd restarted: the
//! context is dropped and established anew. `shutdown` cancels a blocked
//! `get_status_change` through a clone of the context.

use rettpad_card::data::CardData;
use rettpad_card::error::CardError;
use rettpad_card::mifare;
use rettpad_card::pcsc_io::{self, context_dead};
use rettpad_clock::SharedClock;
use rettpad_devices::pairing::{self, PairingConfig, PairingError, PairingRecord};
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// What the watcher reports. Reader names are not personal; card data is
/// only in `Read`, whose `Debug` is redacted.
#[derive(Debug, Clone)]
pub enum CardEvent {
    /// pcscd answers (first contact or after a restart).
    ServiceUp,
    /// pcscd is gone; the watcher keeps retrying.
    ServiceDown(CardError),
    /// The set of readers changed (sorted).
    Readers(Vec<String>),
    CardInserted {
        reader: String,
    },
    CardRemoved {
        reader: String,
    },
    /// The result of reading an inserted card.
    Read {
        reader: String,
        at_ms: i64,
        /// Boxed: card data is large and most events are small.
        result: Result<Box<CardData>, CardError>,
    },
    /// A MIFARE Classic tag (by its ATR) was read as a device pairing tag.
    /// The record's PIN is redacted in `Debug`.
    Pairing {
        reader: String,
        result: Result<Box<PairingRecord>, PairingError>,
    },
    /// A MIFARE card that is no pairing tag, with badges on: a staff card.
    /// Only the SHA-256 of its UID leaves the watcher.
    Badge {
        reader: String,
        uid_sha256: String,
    },
}

/// What the staff list keeps of a badge: the hex SHA-256 of its UID.
pub fn badge_hash(uid: &[u8]) -> String {
    rettpad_provision::sha256_hex(uid)
}

#[derive(Clone)]
pub struct WatcherConfig {
    /// Upper bound for one `get_status_change` wait.
    pub poll: Duration,
    /// Pause between attempts to reach pcscd.
    pub retry: Duration,
    pub clock: SharedClock,
    /// The key of the device pairing tags; `None`: a tag is reported as
    /// [`PairingError::NoKey`].
    pub pairing: Option<PairingConfig>,
    /// Staff cards unlock the pad (`rfid_unlock` provisioned): a MIFARE
    /// card that is not a pairing tag is reported as a [`CardEvent::Badge`].
    pub badges: bool,
}

impl WatcherConfig {
    pub fn new(clock: SharedClock) -> Self {
        WatcherConfig {
            poll: Duration::from_secs(1),
            retry: Duration::from_millis(250),
            clock,
            pairing: None,
            badges: false,
        }
    }
}

/// Status-bar state folded from events: "Kartenleser bereit", "Karte
/// steckt", …
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReaderStatus {
    pub service: Option<bool>,
    pub readers: Vec<String>,
    pub cards: Vec<String>,
}

impl ReaderStatus {
    pub fn apply(&mut self, ev: &CardEvent) {
        match ev {
            CardEvent::ServiceUp => self.service = Some(true),
            CardEvent::ServiceDown(_) => {
                self.service = Some(false);
                self.readers.clear();
                self.cards.clear();
            }
            CardEvent::Readers(r) => {
                self.readers = r.clone();
                self.cards.retain(|c| r.contains(c));
            }
            CardEvent::CardInserted { reader } => {
                if !self.cards.contains(reader) {
                    self.cards.push(reader.clone());
                }
            }
            CardEvent::CardRemoved { reader } => self.cards.retain(|c| c != reader),
            CardEvent::Read { .. } | CardEvent::Pairing { .. } | CardEvent::Badge { .. } => {}
        }
    }
}

/// One line for the status bar.
impl rettpad_text::UserMessage for ReaderStatus {
    fn message(&self, lang: rettpad_text::Lang) -> String {
        let (de, en) = match (self.service, self.readers.is_empty(), self.cards.is_empty()) {
            (None, _, _) => ("Kartenleser: wird gesucht …", "Card reader: searching …"),
            (Some(false), _, _) => (
                "Kartenleser-Dienst nicht verfügbar",
                "Card reader service not available",
            ),
            (Some(true), true, _) => ("Kein Kartenleser angeschlossen", "No card reader attached"),
            (Some(true), false, true) => (
                "Kartenleser bereit – keine Karte",
                "Card reader ready – no card",
            ),
            (Some(true), false, false) => ("Karte steckt", "Card inserted"),
        };
        lang.pick(de, en).into()
    }
}

/// The running watcher. Dropping it shuts it down.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    ctx: Arc<Mutex<Option<pcsc::Context>>>,
    handle: Option<JoinHandle<()>>,
}

impl Watcher {
    pub fn spawn(sink: Sender<CardEvent>, cfg: WatcherConfig) -> std::io::Result<Watcher> {
        let stop = Arc::new(AtomicBool::new(false));
        let ctx = Arc::new(Mutex::new(None));
        let (s, c) = (stop.clone(), ctx.clone());
        let handle = std::thread::Builder::new()
            .name("card-watcher".into())
            .spawn(move || run(&sink, &cfg, &s, &c))?;
        Ok(Watcher {
            stop,
            ctx,
            handle: Some(handle),
        })
    }

    /// Stops the thread: wakes a blocked `get_status_change` with
    /// `SCardCancel` and joins. Returns within about one poll interval at
    /// worst (a read in progress finishes first).
    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(g) = self.ctx.lock()
            && let Some(c) = g.as_ref()
        {
            let _ = c.cancel();
        }
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn sleep_unless_stopped(stop: &AtomicBool, total: Duration) {
    let step = Duration::from_millis(20);
    let mut left = total;
    while !left.is_zero() && !stop.load(Ordering::SeqCst) {
        let d = left.min(step);
        std::thread::sleep(d);
        left = left.saturating_sub(d);
    }
}

fn run(
    sink: &Sender<CardEvent>,
    cfg: &WatcherConfig,
    stop: &AtomicBool,
    shared: &Mutex<Option<pcsc::Context>>,
) {
    // `Some(false)` once ServiceDown was reported, so it is reported once.
    let mut service: Option<bool> = None;
    let mut reported: Option<Vec<String>> = None;
    let send = |e: CardEvent| sink.send(e).is_ok();
    while !stop.load(Ordering::SeqCst) {
        let ctx = match pcsc_io::establish() {
            Ok(c) => c,
            Err(e) => {
                if service != Some(false) {
                    tracing::info!(error = %e, "pcscd not reachable");
                    if !send(CardEvent::ServiceDown(e)) {
                        return;
                    }
                    service = Some(false);
                    reported = None;
                }
                sleep_unless_stopped(stop, cfg.retry);
                continue;
            }
        };
        if let Ok(mut g) = shared.lock() {
            *g = Some(ctx.clone());
        }
        // Reached only from "never seen" or "down": always news.
        tracing::info!("pcscd reachable");
        if !send(CardEvent::ServiceUp) {
            return;
        }
        let down = watch(&ctx, sink, cfg, stop, &mut reported);
        if let Ok(mut g) = shared.lock() {
            *g = None;
        }
        match down {
            Some(e) => {
                tracing::info!(error = %e, "PC/SC context lost; re-establishing");
                if !send(CardEvent::ServiceDown(e)) {
                    return;
                }
                service = Some(false);
                reported = None;
                sleep_unless_stopped(stop, cfg.retry);
            }
            None => return,
        }
    }
}

/// Watches with one context. `Some(error)` when the context died, `None`
/// on shutdown (or when the receiver is gone).
fn watch(
    ctx: &pcsc::Context,
    sink: &Sender<CardEvent>,
    cfg: &WatcherConfig,
    stop: &AtomicBool,
    reported: &mut Option<Vec<String>>,
) -> Option<CardError> {
    let pnp = pcsc::PNP_NOTIFICATION();
    let mut states = vec![pcsc::ReaderState::new(pnp, pcsc::State::UNAWARE)];
    loop {
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        let names: Vec<CString> = match ctx.list_readers_owned() {
            Ok(n) => n,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) if context_dead(e) => return Some(pcsc_io::map_err(e)),
            Err(e) => {
                tracing::warn!(error = %e, "list readers");
                Vec::new()
            }
        };
        states.retain(|s| {
            s.name() == pnp
                || (names.iter().any(|n| n.as_c_str() == s.name())
                    && !s
                        .event_state()
                        .intersects(pcsc::State::UNKNOWN | pcsc::State::IGNORE))
        });
        for n in &names {
            if !states.iter().any(|s| s.name() == n.as_c_str()) {
                states.push(pcsc::ReaderState::new(n.clone(), pcsc::State::UNAWARE));
            }
        }
        let mut list: Vec<String> = names
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        list.sort();
        if reported.as_ref() != Some(&list) {
            tracing::info!(readers = list.len(), "readers changed");
            if sink.send(CardEvent::Readers(list.clone())).is_err() {
                return None;
            }
            *reported = Some(list);
        }
        for s in &mut states {
            s.sync_current_state();
        }
        match ctx.get_status_change(cfg.poll, &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => continue,
            Err(pcsc::Error::Cancelled) => continue,
            Err(e) if context_dead(e) => return Some(pcsc_io::map_err(e)),
            Err(e) => {
                tracing::warn!(error = %e, "get_status_change");
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        }
        for s in &states {
            if s.name() == pnp {
                continue;
            }
            let was = s.current_state().contains(pcsc::State::PRESENT);
            let now = s.event_state().contains(pcsc::State::PRESENT);
            let reader = s.name().to_string_lossy().into_owned();
            if now && !was {
                tracing::info!(reader = %reader, "card inserted");
                if sink
                    .send(CardEvent::CardInserted {
                        reader: reader.clone(),
                    })
                    .is_err()
                {
                    return None;
                }
                // A MIFARE Classic tag is never an insurance card: read it
                // as a pairing tag instead of trying eGK/KVK on it.
                if mifare::classic_from_atr(s.atr()).is_some() {
                    let result = match &cfg.pairing {
                        Some(pc) => pairing::read_pcsc(ctx, s.name(), pc).map(Box::new),
                        None => Err(PairingError::NoKey),
                    };
                    let not_a_tag = matches!(
                        result,
                        Err(PairingError::NoKey
                            | PairingError::WrongKey
                            | PairingError::NotPairingCard(_))
                    );
                    let event = match (cfg.badges && not_a_tag, &result) {
                        (true, _) => match pcsc_io::read_uid(ctx, s.name()) {
                            Ok(uid) => CardEvent::Badge {
                                reader,
                                uid_sha256: badge_hash(&uid),
                            },
                            Err(e) => {
                                tracing::info!(error = %e, "badge UID not read");
                                CardEvent::Pairing { reader, result }
                            }
                        },
                        _ => CardEvent::Pairing { reader, result },
                    };
                    if sink.send(event).is_err() {
                        return None;
                    }
                    continue;
                }
                let result = pcsc_io::read_reader(ctx, s.name()).map(Box::new);
                let at_ms = cfg.clock.wall_ms();
                let dead = matches!(&result, Err(CardError::NoService(_)));
                let err = result.as_ref().err().cloned();
                if sink
                    .send(CardEvent::Read {
                        reader,
                        at_ms,
                        result,
                    })
                    .is_err()
                {
                    return None;
                }
                if dead {
                    return err;
                }
            } else if was && !now {
                tracing::info!(reader = %reader, "card removed");
                if sink.send(CardEvent::CardRemoved { reader }).is_err() {
                    return None;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rettpad_text::{Lang, UserMessage};

    #[test]
    fn status_bar_follows_events() {
        let mut s = ReaderStatus::default();
        assert_eq!(s.message(Lang::De), "Kartenleser: wird gesucht …");
        s.apply(&CardEvent::ServiceUp);
        assert_eq!(s.message(Lang::De), "Kein Kartenleser angeschlossen");
        s.apply(&CardEvent::Readers(vec!["R0".into(), "R1".into()]));
        assert_eq!(s.message(Lang::De), "Kartenleser bereit – keine Karte");
        s.apply(&CardEvent::CardInserted {
            reader: "R0".into(),
        });
        assert_eq!(s.message(Lang::De), "Karte steckt");
        s.apply(&CardEvent::CardRemoved {
            reader: "R0".into(),
        });
        assert_eq!(s.message(Lang::De), "Kartenleser bereit – keine Karte");
        s.apply(&CardEvent::CardInserted {
            reader: "R1".into(),
        });
        s.apply(&CardEvent::Readers(vec!["R0".into()]));
        assert!(s.cards.is_empty(), "a vanished reader takes its card along");
        s.apply(&CardEvent::ServiceDown(CardError::NoService("x".into())));
        assert_eq!(s.message(Lang::De), "Kartenleser-Dienst nicht verfügbar");
        assert!(s.readers.is_empty());
    }
}
