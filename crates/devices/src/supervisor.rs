//! The supervisor: one thread per paired device that connects, runs the
//! sans-IO driver over the link, and reconnects with exponential backoff.
//!
//! connect → handshake → identify (the driver refuses a device that does not
//! match the pairing record: "falsches Gerät", no reconnect) → stream → on a
//! lost link wait (backoff with jitter, reset once data flows) → reconnect.
//! The same driver instance survives reconnects, so it records the data gap
//! and keeps its deduplication keys (device time / sequence, never arrival).

use super::driver::{Driver, DriverStatus};
use super::obs::{DeviceInfo, Observation};
use crate::link::{
    self as link, Event, Exit, Link, LinkError, SerialLink, SerialSettings, TcpLink,
};
use rettpad_clock::SharedClock;
use rettpad_text::{Lang, Text};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::thread::JoinHandle;
use std::time::Duration;

/// Where the device is.
#[derive(Debug, Clone)]
pub enum LinkSpec {
    /// `/dev/rfcommN` (bound by the OS to the paired device) or a PTY.
    Serial {
        path: String,
        settings: SerialSettings,
    },
    /// The simulator on loopback.
    Tcp(SocketAddr),
    /// An RFCOMM socket to a paired device (`rfcomm:ADDR:CHANNEL`; needs
    /// cargo feature `rfcomm`, see [`super::rfcomm`]).
    Rfcomm {
        addr: super::pairing::BtAddr,
        channel: u8,
    },
    /// A BLE health device (`ble:ADDR`; needs cargo feature `ble`), driven
    /// by [`super::ble_driver::BleDriver`].
    Ble(super::pairing::BtAddr),
}

impl LinkSpec {
    fn open(&self) -> Result<Box<dyn Link>, LinkError> {
        Ok(match self {
            LinkSpec::Serial { path, settings } => Box::new(SerialLink::open(path, *settings)?),
            LinkSpec::Tcp(a) => Box::new(TcpLink::connect(*a)?),
            LinkSpec::Rfcomm { addr, channel } => super::rfcomm::open(*addr, *channel)?,
            LinkSpec::Ble(addr) => super::rfcomm::open_ble(*addr)?,
        })
    }
}

/// Exponential backoff with ±25 % jitter, so a fleet of pads does not
/// retry in lockstep. Pure: the caller supplies the random bits.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub min_ms: u64,
    pub max_ms: u64,
    next_ms: u64,
}

impl Backoff {
    pub fn new(min_ms: u64, max_ms: u64) -> Backoff {
        let min_ms = min_ms.max(1);
        Backoff {
            min_ms,
            max_ms: max_ms.max(min_ms),
            next_ms: min_ms,
        }
    }

    /// The next delay; `rand` is any 64 random bits.
    pub fn next_delay(&mut self, rand: u64) -> Duration {
        let base = self.next_ms;
        self.next_ms = (self.next_ms.saturating_mul(2)).min(self.max_ms);
        let span = base / 2; // ±25 % = a window of 50 %
        let jitter = if span == 0 { 0 } else { rand % (span + 1) };
        Duration::from_millis(base - base / 4 + jitter)
    }

    pub fn reset(&mut self) {
        self.next_ms = self.min_ms;
    }
}

/// What the status bar shows about one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceState {
    Connecting {
        attempt: u32,
    },
    Handshaking,
    Streaming {
        info: DeviceInfo,
    },
    /// Identification failed: not the paired device. No reconnect.
    WrongDevice {
        reported: DeviceInfo,
    },
    LinkLost {
        reason: Text,
        retry_in_ms: u64,
    },
    Stopped,
}

impl DeviceState {
    /// One line for the status bar, naming the device.
    pub fn text(&self, label: &str, lang: Lang) -> String {
        match (self, lang) {
            (DeviceState::Connecting { attempt: 0 | 1 }, Lang::De) => {
                format!("{label}: verbindet …")
            }
            (DeviceState::Connecting { attempt }, Lang::De) => {
                format!("{label}: verbindet (Versuch {attempt}) …")
            }
            (DeviceState::Connecting { attempt: 0 | 1 }, Lang::En) => {
                format!("{label}: connecting …")
            }
            (DeviceState::Connecting { attempt }, Lang::En) => {
                format!("{label}: connecting (attempt {attempt}) …")
            }
            (DeviceState::Handshaking, Lang::De) => format!("{label}: Anmeldung am Gerät …"),
            (DeviceState::Handshaking, Lang::En) => format!("{label}: handshake …"),
            (DeviceState::Streaming { .. }, Lang::De) => format!("{label}: verbunden"),
            (DeviceState::Streaming { .. }, Lang::En) => format!("{label}: connected"),
            (DeviceState::WrongDevice { .. }, Lang::De) => format!("{label}: falsches Gerät!"),
            (DeviceState::WrongDevice { .. }, Lang::En) => format!("{label}: wrong device!"),
            (
                DeviceState::LinkLost {
                    reason,
                    retry_in_ms,
                },
                Lang::De,
            ) => format!(
                "{label}: {} – neuer Versuch in {} s",
                reason.de,
                retry_in_ms.div_ceil(1000)
            ),
            (
                DeviceState::LinkLost {
                    reason,
                    retry_in_ms,
                },
                Lang::En,
            ) => format!(
                "{label}: {} – retry in {} s",
                reason.en,
                retry_in_ms.div_ceil(1000)
            ),
            (DeviceState::Stopped, Lang::De) => format!("{label}: getrennt"),
            (DeviceState::Stopped, Lang::En) => format!("{label}: disconnected"),
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, DeviceState::Streaming { .. })
    }
}

/// What the supervisor reports.
#[derive(Debug, Clone)]
pub enum SupEvent {
    State(DeviceState),
    Observation(Observation),
}

#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    pub link: LinkSpec,
    pub backoff_min_ms: u64,
    pub backoff_max_ms: u64,
}

/// The running supervisor thread. Dropping it stops it.
pub struct Supervisor {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Supervisor {
    pub fn spawn(
        cfg: SupervisorConfig,
        mut driver: Box<dyn Driver>,
        clock: SharedClock,
        sink: Sender<SupEvent>,
    ) -> std::io::Result<Supervisor> {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = std::thread::Builder::new()
            .name("device-supervisor".into())
            .spawn(move || supervise(&cfg, driver.as_mut(), &clock, &s, &sink))?;
        Ok(Supervisor {
            stop,
            handle: Some(handle),
        })
    }

    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn supervise(
    cfg: &SupervisorConfig,
    driver: &mut dyn Driver,
    clock: &SharedClock,
    stop: &AtomicBool,
    sink: &Sender<SupEvent>,
) {
    let mut backoff = Backoff::new(cfg.backoff_min_ms, cfg.backoff_max_ms);
    let mut rand = clock.wall_ms() as u64 ^ 0x9E37_79B9_7F4A_7C15;
    let mut attempt = 0u32;
    let send = |e: SupEvent| sink.send(e).is_ok();
    while !stop.load(Ordering::Relaxed) {
        attempt += 1;
        if !send(SupEvent::State(DeviceState::Connecting { attempt })) {
            return;
        }
        let reason = match cfg.link.open() {
            Ok(mut l) => {
                let _ = send(SupEvent::State(DeviceState::Handshaking));
                let mut streaming = false;
                let exit = link::run(l.as_mut(), driver, clock.as_ref(), stop, &mut |e| {
                    let ev = match e {
                        Event::Observation(o) => SupEvent::Observation(o),
                        Event::Status(DriverStatus::Identified(info)) => {
                            SupEvent::State(DeviceState::Streaming { info })
                        }
                        Event::Status(DriverStatus::Streaming) => {
                            streaming = true;
                            return;
                        }
                        Event::Status(DriverStatus::Handshaking) => {
                            SupEvent::State(DeviceState::Handshaking)
                        }
                        Event::Status(DriverStatus::WrongDevice { reported }) => {
                            SupEvent::State(DeviceState::WrongDevice { reported })
                        }
                    };
                    let _ = sink.send(ev);
                });
                if streaming {
                    backoff.reset();
                    attempt = 0;
                }
                match exit {
                    Exit::Stopped => break,
                    Exit::WrongDevice => {
                        tracing::warn!("device failed identification; not reconnecting");
                        return;
                    }
                    Exit::LinkLost(e) => {
                        tracing::info!(error = %e, "device link lost");
                        e.text()
                    }
                }
            }
            Err(e) => {
                tracing::info!(error = %e, attempt, "device link not available");
                e.text()
            }
        };
        rand = rand
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = backoff.next_delay(rand >> 11);
        let _ = send(SupEvent::State(DeviceState::LinkLost {
            reason,
            retry_in_ms: delay.as_millis() as u64,
        }));
        // Sleep in slices so a stop is honoured quickly.
        let mut left = delay;
        while !left.is_zero() && !stop.load(Ordering::Relaxed) {
            let step = left.min(Duration::from_millis(50));
            std::thread::sleep(step);
            left -= step;
        }
    }
    let _ = send(SupEvent::State(DeviceState::Stopped));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_caps_and_resets() {
        let mut b = Backoff::new(500, 8000);
        let mut last_base = 0;
        for (i, base) in [500u64, 1000, 2000, 4000, 8000, 8000]
            .into_iter()
            .enumerate()
        {
            for r in [0u64, u64::MAX / 3, u64::MAX] {
                let mut c = b.clone();
                let d = c.next_delay(r).as_millis() as u64;
                assert!(
                    d >= base * 3 / 4 && d <= base * 5 / 4,
                    "step {i}: {d} vs {base}"
                );
            }
            b.next_delay(0);
            last_base = base;
        }
        assert_eq!(last_base, 8000);
        b.reset();
        assert!(b.next_delay(0).as_millis() <= 500);
    }

    #[test]
    fn status_texts_name_the_device() {
        let s = DeviceState::LinkLost {
            reason: rettpad_text::t("Verbindung getrennt", "link lost"),
            retry_in_ms: 1500,
        };
        assert_eq!(
            s.text("Monitor", Lang::De),
            "Monitor: Verbindung getrennt – neuer Versuch in 2 s"
        );
        assert_eq!(
            s.text("Monitor", Lang::En),
            "Monitor: link lost – retry in 2 s"
        );
        assert_eq!(
            DeviceState::WrongDevice {
                reported: DeviceInfo::default()
            }
            .text("Defi", Lang::De),
            "Defi: falsches Gerät!"
        );
    }
}
