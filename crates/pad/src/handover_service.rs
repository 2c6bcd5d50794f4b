//! The UI facade: one thread per pad that listens for requests on the
//! configured link and runs requests the user starts. Commands go in through
//! [`Service`]'s methods, [`ServiceEvent`]s come out of [`Service::events`]
//! (poll it from a UI timer with `try_recv`).
//!
//! One handover at a time: a request arriving while one runs is not read
//! until the running one ends (the peer sees a timeout).

use crate::config::Config;
use crate::handover_io::{StoreSink, StoreSource};
use rettpad_devices::link::{Link, SerialLink, SerialSettings, TcpLink};
use rettpad_handover::frame::MissionSel;
use rettpad_handover::link::Prefixed;
use rettpad_handover::proto::{UiEvent, UserDecision};
use rettpad_handover::session::{Control, Credentials, Io, Peer, run_requester, run_responder};
use rettpad_handover::{Failure, MissionSummary, Report};
use rettpad_pki::{Identity, Trust};
use rettpad_vault::store::SharedStore;
use serde::{Deserialize, Serialize};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// `[handover]` in the pad configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverConfig {
    /// This pad's device certificate chain (PEM) and key (PKCS#8 PEM).
    #[serde(default)]
    pub cert: Option<PathBuf>,
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// The organisation's CA (PEM).
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Revocation lists (PEM).
    #[serde(default)]
    pub crls: Vec<PathBuf>,
    /// Where requests arrive: `/dev/rfcomm0` (SPP tty) or `tcp:127.0.0.1:7400`
    /// (tests and the demo only).
    #[serde(default)]
    pub listen: Option<String>,
    #[serde(default = "default_confirm")]
    pub confirm_seconds: u32,
    #[serde(default)]
    pub paired: Vec<PairedPad>,
    /// Provisioned, not from the file: more CA certificates (PEM) trusted
    /// beside `ca`, and CRLs (PEM) checked beside `crls`.
    #[serde(skip)]
    pub provisioned_ca_pem: Vec<u8>,
    #[serde(skip)]
    pub provisioned_crl_pem: Vec<Vec<u8>>,
}

fn default_confirm() -> u32 {
    10
}

impl Default for HandoverConfig {
    fn default() -> Self {
        HandoverConfig {
            cert: None,
            key: None,
            ca: None,
            crls: Vec::new(),
            listen: None,
            confirm_seconds: default_confirm(),
            paired: Vec::new(),
            provisioned_ca_pem: Vec::new(),
            provisioned_crl_pem: Vec::new(),
        }
    }
}

/// A paired pad as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairedPad {
    pub call_sign: String,
    pub serial: String,
    /// `/dev/rfcommN` or `tcp:127.0.0.1:PORT`.
    pub link: String,
}

/// Where a link goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkSpec {
    /// A tty: `/dev/rfcommN` bound to the peer's SPP channel, or a PTY.
    Tty(PathBuf),
    /// Loopback TCP (tests, demo).
    Tcp(SocketAddr),
}

impl LinkSpec {
    pub fn parse(s: &str) -> Result<LinkSpec, String> {
        match s.strip_prefix("tcp:") {
            Some(a) => a
                .parse()
                .map(LinkSpec::Tcp)
                .map_err(|_| format!("invalid address {a:?}")),
            None if s.starts_with('/') => Ok(LinkSpec::Tty(PathBuf::from(s))),
            None => Err(format!(
                "invalid link {s:?}: want /dev/rfcommN or tcp:HOST:PORT"
            )),
        }
    }

    fn open(&self) -> Result<Box<dyn Link>, Failure> {
        match self {
            LinkSpec::Tty(p) => SerialLink::open(&p.to_string_lossy(), SerialSettings::INTELLIVUE)
                .map(|l| Box::new(l) as Box<dyn Link>)
                .map_err(|e| Failure::Link(e.to_string())),
            LinkSpec::Tcp(a) => TcpLink::connect(*a)
                .map(|l| Box::new(l) as Box<dyn Link>)
                .map_err(|e| Failure::Link(e.to_string())),
        }
    }
}

/// A paired pad with its link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairedLink {
    pub peer: Peer,
    pub link: LinkSpec,
}

/// Everything the service needs.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub own_call_sign: String,
    pub creds: Credentials,
    pub paired: Vec<PairedLink>,
    pub listen: Option<LinkSpec>,
    pub confirm_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("[handover] is incomplete: {0} missing")]
    Missing(&'static str),
    #[error("[handover]: {0}")]
    Invalid(String),
    #[error("cannot listen on {0}: {1}")]
    Listen(String, std::io::Error),
}

impl rettpad_text::UserMessage for SetupError {
    fn message(&self, lang: rettpad_text::Lang) -> String {
        lang.pick(
            "Übergabe zwischen Geräten ist nicht eingerichtet (Zertifikat oder Kopplung fehlt). Bitte Administrator verständigen.",
            "Handover between pads is not set up (certificate or pairing missing). Please call the administrator.",
        )
        .into()
    }
}

impl ServiceConfig {
    pub fn from_config(c: &Config) -> Result<ServiceConfig, SetupError> {
        let h = &c.handover;
        let cert = h.cert.as_ref().ok_or(SetupError::Missing("cert"))?;
        let key = h.key.as_ref().ok_or(SetupError::Missing("key"))?;
        let ca = h.ca.as_ref().ok_or(SetupError::Missing("ca"))?;
        let identity = Identity::load(cert, key).map_err(|e| SetupError::Invalid(e.to_string()))?;
        let invalid = |e: String| SetupError::Invalid(e);
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| invalid(format!("{}: {e}", p.display())))
        };
        // The file's CA and CRLs, and what the operator provisioned beside them.
        let mut ca_pem = read(ca)?;
        ca_pem.push(b'\n');
        ca_pem.extend_from_slice(&h.provisioned_ca_pem);
        let mut crls = h
            .crls
            .iter()
            .map(|p| read(p))
            .collect::<Result<Vec<_>, _>>()?;
        crls.extend(h.provisioned_crl_pem.iter().cloned());
        let trust = Trust::from_pem(&ca_pem, &crls).map_err(|e| invalid(e.to_string()))?;
        let paired = h
            .paired
            .iter()
            .map(|p| {
                Ok(PairedLink {
                    peer: Peer {
                        call_sign: p.call_sign.clone(),
                        serial: p.serial.clone(),
                    },
                    link: LinkSpec::parse(&p.link).map_err(SetupError::Invalid)?,
                })
            })
            .collect::<Result<Vec<_>, SetupError>>()?;
        let listen = h
            .listen
            .as_deref()
            .map(LinkSpec::parse)
            .transpose()
            .map_err(SetupError::Invalid)?;
        Ok(ServiceConfig {
            own_call_sign: c.call_sign.clone(),
            creds: Credentials {
                identity: Arc::new(identity),
                trust: Arc::new(trust),
            },
            paired,
            listen,
            confirm_ms: u64::from(h.confirm_seconds) * 1000,
        })
    }
}

/// What the UI shows; see the module docs.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceEvent {
    /// Sender: full-screen prompt with countdown to `deadline`, Erlauben /
    /// Ablehnen ([`Service::respond`]). Unlocking the pad does not extend it.
    IncomingRequest {
        from_call_sign: String,
        missions: Vec<MissionSummary>,
        deadline: Instant,
    },
    /// Receiver: the other pad shows its prompt until about `deadline`.
    AwaitingConfirmation {
        deadline: Instant,
    },
    Progress {
        done: u32,
        total: u32,
    },
    Finished(Report),
    Failed(Failure),
}

enum Command {
    Request {
        serial: String,
        missions: MissionSel,
    },
    Control(Control),
    Stop,
}

/// The running handover service.
pub struct Service {
    tx: Sender<Command>,
    events: Receiver<ServiceEvent>,
    paired: Vec<Peer>,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    /// Starts the service thread (and the listener, if configured).
    pub fn start(cfg: ServiceConfig, store: SharedStore) -> Result<Service, SetupError> {
        let listener = match &cfg.listen {
            Some(LinkSpec::Tcp(a)) => {
                let l = TcpListener::bind(a).map_err(|e| SetupError::Listen(a.to_string(), e))?;
                l.set_nonblocking(true)
                    .map_err(|e| SetupError::Listen(a.to_string(), e))?;
                Some(Listener::Tcp(l))
            }
            Some(LinkSpec::Tty(p)) => Some(Listener::Tty(p.clone(), None)),
            None => None,
        };
        let (tx, rx) = mpsc::channel();
        let (etx, events) = mpsc::channel();
        let paired = cfg.paired.iter().map(|p| p.peer.clone()).collect();
        let thread = std::thread::Builder::new()
            .name("handover".into())
            .spawn(move || worker(cfg, store, listener, rx, etx))
            .map_err(|e| SetupError::Invalid(e.to_string()))?;
        Ok(Service {
            tx,
            events,
            paired,
            thread: Some(thread),
        })
    }

    /// The pads this pad can request from, by call sign.
    pub fn paired(&self) -> &[Peer] {
        &self.paired
    }

    /// Receiver: asks the pad with `serial` for `missions`.
    pub fn request(&self, serial: &str, missions: MissionSel) {
        let _ = self.tx.send(Command::Request {
            serial: serial.to_string(),
            missions,
        });
    }

    /// Sender: Erlauben / Ablehnen on the prompt.
    pub fn respond(&self, d: UserDecision) {
        let _ = self.tx.send(Command::Control(Control::Decide(d)));
    }

    /// Either side: stop the running handover.
    pub fn cancel(&self) {
        let _ = self.tx.send(Command::Control(Control::Cancel));
    }

    pub fn events(&self) -> &Receiver<ServiceEvent> {
        &self.events
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.tx.send(Command::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

enum Listener {
    Tcp(TcpListener),
    /// The tty, opened lazily and reopened after errors.
    Tty(PathBuf, Option<SerialLink>),
}

fn to_service_event(ev: UiEvent, base: Instant) -> ServiceEvent {
    let at = |ms: u64| base + Duration::from_millis(ms);
    match ev {
        UiEvent::IncomingRequest {
            from_call_sign,
            missions,
            deadline_ms,
        } => ServiceEvent::IncomingRequest {
            from_call_sign,
            missions,
            deadline: at(deadline_ms),
        },
        UiEvent::AwaitingConfirmation { deadline_ms } => ServiceEvent::AwaitingConfirmation {
            deadline: at(deadline_ms),
        },
        UiEvent::Progress { done, total } => ServiceEvent::Progress { done, total },
        UiEvent::Finished(r) => ServiceEvent::Finished(r),
        UiEvent::Failed(f) => ServiceEvent::Failed(f),
    }
}

fn worker(
    cfg: ServiceConfig,
    store: SharedStore,
    mut listener: Option<Listener>,
    rx: Receiver<Command>,
    etx: Sender<ServiceEvent>,
) {
    let base = Instant::now();
    let now_ms = move || base.elapsed().as_millis() as u64;
    let mut stop = false;
    while !stop {
        // UI commands first; wait briefly when there is nothing to listen on.
        let cmd = if listener.is_some() {
            match rx.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            }
        } else {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return,
            }
        };
        let mut control = || match rx.try_recv() {
            Ok(Command::Control(c)) => Some(c),
            Ok(Command::Stop) => {
                stop = true;
                Some(Control::Cancel)
            }
            // A second request while one runs is dropped; the UI disables it.
            Ok(Command::Request { .. }) | Err(_) => None,
        };
        let mut on_event = |ev: UiEvent| {
            let _ = etx.send(to_service_event(ev, base));
        };
        match cmd {
            Some(Command::Stop) => return,
            Some(Command::Control(_)) => {} // nothing running
            Some(Command::Request { serial, missions }) => {
                let Some(p) = cfg.paired.iter().find(|p| p.peer.serial == serial) else {
                    on_event(UiEvent::Failed(Failure::NotPaired));
                    continue;
                };
                let mut link = match p.link.open() {
                    Ok(l) => l,
                    Err(f) => {
                        on_event(UiEvent::Failed(f));
                        continue;
                    }
                };
                let mut sink = StoreSink {
                    store: store.clone(),
                };
                let mut io = Io {
                    now_ms: &now_ms,
                    control: &mut control,
                    on_event: &mut on_event,
                    stats: Default::default(),
                };
                let _ = run_requester(
                    link.as_mut(),
                    &cfg.creds,
                    &p.peer,
                    &cfg.own_call_sign,
                    missions,
                    &mut sink,
                    &mut io,
                );
            }
            None => {
                let Some(l) = listener.as_mut() else { continue };
                let Some(mut link) = accept(l) else { continue };
                let mut src = StoreSource {
                    store: store.clone(),
                };
                let peers: Vec<Peer> = cfg.paired.iter().map(|p| p.peer.clone()).collect();
                let mut io = Io {
                    now_ms: &now_ms,
                    control: &mut control,
                    on_event: &mut on_event,
                    stats: Default::default(),
                };
                let r = run_responder(
                    link.as_mut(),
                    &cfg.creds,
                    &peers,
                    cfg.confirm_ms,
                    &mut src,
                    &mut io,
                );
                drop(link);
                if r.is_err()
                    && let Listener::Tty(_, open) = l
                {
                    *open = None; // reopen: drop stale bytes of a broken session
                }
            }
        }
    }
}

/// A link when a peer started talking, else `None` after a short wait.
fn accept(l: &mut Listener) -> Option<Box<dyn Link + '_>> {
    match l {
        Listener::Tcp(t) => match t.accept() {
            Ok((s, _)) => {
                let _ = s.set_nonblocking(false);
                let _ = s.set_nodelay(true);
                Some(Box::new(TcpLink::from_stream(s)))
            }
            Err(_) => {
                std::thread::sleep(Duration::from_millis(50));
                None
            }
        },
        Listener::Tty(path, open) => {
            if open.is_none() {
                match SerialLink::open(&path.to_string_lossy(), SerialSettings::INTELLIVUE) {
                    Ok(s) => *open = Some(s),
                    Err(e) => {
                        tracing::warn!(error = %e, "handover tty not available");
                        std::thread::sleep(Duration::from_millis(500));
                        return None;
                    }
                }
            }
            let mut first = vec![0u8; 4096];
            let got = open.as_mut()?.recv(&mut first, Duration::from_millis(100));
            match got {
                Ok(0) => None,
                Ok(n) => {
                    first.truncate(n);
                    let s = open.as_mut()?;
                    Some(Box::new(Prefixed::new(first, s)))
                }
                Err(_) => {
                    *open = None;
                    None
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
    fn handover_section_parses_with_defaults_and_links() {
        let c: Config = toml::from_str(
            r#"device_serial = "PAD-RTW-0001"
call_sign = "RTW 3/83-1"
[handover]
cert = "/c.pem"
key = "/k.pem"
ca = "/ca.pem"
listen = "/dev/rfcomm0"
[[handover.paired]]
call_sign = "NEF 3/82-1"
serial = "PAD-NEF-0002"
link = "tcp:127.0.0.1:7400"
"#,
        )
        .unwrap();
        assert_eq!(c.handover.confirm_seconds, 10);
        assert_eq!(c.handover.paired.len(), 1);
        assert_eq!(
            LinkSpec::parse(&c.handover.paired[0].link),
            Ok(LinkSpec::Tcp("127.0.0.1:7400".parse().unwrap()))
        );
        assert_eq!(
            LinkSpec::parse("/dev/rfcomm0"),
            Ok(LinkSpec::Tty("/dev/rfcomm0".into()))
        );
        assert!(LinkSpec::parse("rfcomm0").is_err());
        assert!(LinkSpec::parse("tcp:nohost").is_err());
        // Missing files are a setup error with a German text, not a panic.
        let e = ServiceConfig::from_config(&c).unwrap_err();
        assert!(!e.message(Lang::De).is_empty());
        let bare: Config = toml::from_str("device_serial = \"P\"\ncall_sign = \"X\"\n").unwrap();
        assert!(matches!(
            ServiceConfig::from_config(&bare),
            Err(SetupError::Missing("cert"))
        ));
        assert!(
            toml::from_str::<Config>(
                "device_serial = \"P\"\ncall_sign = \"X\"\n[handover]\nbogus = 1\n"
            )
            .is_err()
        );
    }
}
