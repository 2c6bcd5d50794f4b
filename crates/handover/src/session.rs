//! The secure channel: TLS 1.3 with mutual authentication over any
//! [`Link`] (PTY, `/dev/rfcommN` tty, loopback TCP), driving the sans-IO
//! state machines.
//!
//! The requester (receiving pad) is the TLS client and the responder
//! (sending pad) the TLS server: the user starts the handover on the
//! receiver, which dials the paired pad by its serial and verifies the
//! server name `pad-<serial>.rettpad.internal`. The server requires a client
//! certificate; both sides check CA and CRLs in rustls, then the peer's
//! device name against the paired pads.

use super::Failure;
use super::frame::{self, Decoder, ErrorCode, MissionSel, Msg};
use super::proto::{Requester, Responder, Sink, Source, UiEvent, UserDecision};
use super::{Report, Role};
use rettpad_pki::{self as pki, Identity, Trust, Versions};
use rettpad_wire::{Link, LinkError};
use rustls::{AlertDescription, CertificateError, Connection};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

/// Time allowed for the TLS handshake.
pub const HANDSHAKE_MS: u64 = 15_000;
/// How long a finished side waits for the peer to close.
const LINGER_MS: u64 = 2_000;
/// How long one read waits before time is checked again.
const POLL: Duration = Duration::from_millis(20);

/// A pad this pad may hand over to or receive from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub call_sign: String,
    /// Hardware serial (subject serialNumber of its certificate).
    pub serial: String,
}

/// This pad's certificate and the organisation's trust anchors.
#[derive(Clone)]
pub struct Credentials {
    pub identity: Arc<Identity>,
    pub trust: Arc<Trust>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(..)")
    }
}

/// A command from the UI during a running session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Decide(UserDecision),
    Cancel,
}

/// Bytes on the wire (TLS records, both directions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireStats {
    pub sent: u64,
    pub received: u64,
}

/// Environment of one session: clock, UI commands and events.
pub struct Io<'a> {
    /// Monotonic milliseconds.
    pub now_ms: &'a dyn Fn() -> u64,
    /// Polled between reads; `None` when the UI has nothing.
    pub control: &'a mut dyn FnMut() -> Option<Control>,
    pub on_event: &'a mut dyn FnMut(UiEvent),
    pub stats: WireStats,
}

fn map_tls_error(e: &rustls::Error) -> Failure {
    use rustls::Error as E;
    match e {
        E::InvalidCertificate(CertificateError::Revoked) => Failure::RevokedPeer,
        E::InvalidCertificate(
            CertificateError::UnknownIssuer
            | CertificateError::BadSignature
            | CertificateError::NotValidForName
            | CertificateError::NotValidForNameContext { .. }
            | CertificateError::InvalidPurpose
            | CertificateError::InvalidPurposeContext { .. },
        ) => Failure::UntrustedPeer,
        E::InvalidCertificate(other) => Failure::Tls(format!("peer certificate: {other:?}")),
        E::NoCertificatesPresented => Failure::UntrustedPeer,
        E::AlertReceived(a) => match a {
            AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateRequired
            | AlertDescription::CertificateUnknown
            | AlertDescription::AccessDenied => Failure::RefusedByPeer(format!("{a:?}")),
            other => Failure::Tls(format!("alert {other:?}")),
        },
        other => Failure::Tls(other.to_string()),
    }
}

fn link_failure(e: LinkError) -> Failure {
    match e {
        LinkError::Closed => Failure::LinkLost,
        other => Failure::Link(other.to_string()),
    }
}

fn flush(conn: &mut Connection, link: &mut dyn Link, stats: &mut WireStats) -> Result<(), Failure> {
    while conn.wants_write() {
        let mut buf = Vec::new();
        conn.write_tls(&mut buf)
            .map_err(|e| Failure::Tls(e.to_string()))?;
        stats.sent += buf.len() as u64;
        link.send(&buf).map_err(link_failure)?;
    }
    Ok(())
}

/// Moves decrypted bytes out of rustls (its buffer is bounded); `true`
/// once the peer closed the TLS session.
fn drain_plain(conn: &mut Connection, plain: &mut Vec<u8>) -> bool {
    let mut pt = [0u8; 16 * 1024];
    loop {
        match conn.reader().read(&mut pt) {
            Ok(0) => return true,
            Ok(n) => plain.extend_from_slice(pt.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// Reads once (up to `POLL`), feeds TLS and collects plaintext.
fn read_some(
    conn: &mut Connection,
    link: &mut dyn Link,
    stats: &mut WireStats,
    plain: &mut Vec<u8>,
    closed: &mut bool,
) -> Result<(), Failure> {
    let mut buf = [0u8; 16 * 1024];
    let n = link.recv(&mut buf, POLL).map_err(link_failure)?;
    stats.received += n as u64;
    let mut rest = buf.get(..n).unwrap_or_default();
    while !rest.is_empty() {
        conn.read_tls(&mut rest)
            .map_err(|e| Failure::Tls(e.to_string()))?;
        if let Err(e) = conn.process_new_packets() {
            // Send our alert, if any, so the peer learns why.
            let _ = flush(conn, link, stats);
            return Err(map_tls_error(&e));
        }
        if drain_plain(conn, plain) {
            *closed = true;
        }
    }
    Ok(())
}

/// Completes the handshake; application bytes that arrive with the peer's
/// last flight are kept in `plain`.
fn handshake(
    conn: &mut Connection,
    link: &mut dyn Link,
    io: &mut Io<'_>,
    plain: &mut Vec<u8>,
) -> Result<(), Failure> {
    let mut closed = false;
    let start = (io.now_ms)();
    while conn.is_handshaking() {
        flush(conn, link, &mut io.stats)?;
        if (io.now_ms)().saturating_sub(start) > HANDSHAKE_MS {
            return Err(Failure::Timeout);
        }
        if let Some(Control::Cancel) = (io.control)() {
            return Err(Failure::Cancelled);
        }
        read_some(conn, link, &mut io.stats, plain, &mut closed)?;
        if closed {
            return Err(Failure::LinkLost);
        }
    }
    flush(conn, link, &mut io.stats)
}

/// The verified device name of the peer.
fn peer_name(conn: &Connection) -> Result<pki::DeviceName, Failure> {
    let cert = conn
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or(Failure::UntrustedPeer)?;
    pki::device_name(cert).map_err(|_| Failure::UntrustedPeer)
}

/// Either state machine with its store access.
trait Side {
    fn feed(&mut self, now: u64, msg: Msg);
    fn tick(&mut self, now: u64);
    fn control(&mut self, now: u64, c: Control);
    fn poll_send(&mut self) -> Option<Msg>;
    fn poll_event(&mut self) -> Option<UiEvent>;
    fn is_over(&self) -> bool;
    fn outcome(&self) -> Option<Result<Report, Failure>>;
}

struct Recv<'a> {
    m: Requester,
    sink: &'a mut dyn Sink,
}

impl Side for Recv<'_> {
    fn feed(&mut self, now: u64, msg: Msg) {
        self.m.on_msg(now, msg, self.sink);
    }
    fn tick(&mut self, now: u64) {
        self.m.tick(now);
    }
    fn control(&mut self, _now: u64, c: Control) {
        if c == Control::Cancel {
            self.m.cancel();
        }
    }
    fn poll_send(&mut self) -> Option<Msg> {
        self.m.poll_send()
    }
    fn poll_event(&mut self) -> Option<UiEvent> {
        self.m.poll_event()
    }
    fn is_over(&self) -> bool {
        self.m.is_over()
    }
    fn outcome(&self) -> Option<Result<Report, Failure>> {
        self.m.outcome().cloned()
    }
}

struct Send<'a> {
    m: Responder,
    src: &'a mut dyn Source,
}

impl Side for Send<'_> {
    fn feed(&mut self, now: u64, msg: Msg) {
        self.m.on_msg(now, msg, self.src);
    }
    fn tick(&mut self, now: u64) {
        self.m.tick(now);
    }
    fn control(&mut self, now: u64, c: Control) {
        match c {
            Control::Cancel => self.m.cancel(),
            Control::Decide(d) => self.m.decide(now, d, self.src),
        }
    }
    fn poll_send(&mut self) -> Option<Msg> {
        self.m.poll_send()
    }
    fn poll_event(&mut self) -> Option<UiEvent> {
        self.m.poll_event()
    }
    fn is_over(&self) -> bool {
        self.m.is_over()
    }
    fn outcome(&self) -> Option<Result<Report, Failure>> {
        self.m.outcome().cloned()
    }
}

/// Writes one frame through TLS, flushing as rustls' bounded buffer fills.
fn send_msg(
    conn: &mut Connection,
    link: &mut dyn Link,
    stats: &mut WireStats,
    m: &Msg,
) -> Result<(), Failure> {
    let f = frame::encode(m).map_err(|e| Failure::Protocol(e.to_string()))?;
    let mut rest = f.as_slice();
    while !rest.is_empty() {
        let n = conn
            .writer()
            .write(rest)
            .map_err(|e| Failure::Tls(e.to_string()))?;
        if n == 0 && !conn.wants_write() {
            return Err(Failure::Tls("TLS send buffer stuck".into()));
        }
        rest = rest.get(n..).unwrap_or_default();
        flush(conn, link, stats)?;
    }
    Ok(())
}

/// Runs the application protocol until the state machine is over.
fn pump(
    conn: &mut Connection,
    link: &mut dyn Link,
    side: &mut dyn Side,
    io: &mut Io<'_>,
    mut plain: Vec<u8>,
) -> Result<Report, Failure> {
    let mut dec = Decoder::new();
    let mut peer_closed = drain_plain(conn, &mut plain);
    loop {
        dec.push(&plain);
        plain.clear();
        loop {
            match dec.next_msg() {
                Ok(Some(m)) => {
                    if !side.is_over() {
                        side.feed((io.now_ms)(), m);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "bad handover frame");
                    let bad = Msg::Error {
                        code: ErrorCode::Protocol,
                        detail: "bad frame".into(),
                    };
                    let _ = send_msg(conn, link, &mut io.stats, &bad);
                    return Err(Failure::Protocol(e.to_string()));
                }
            }
        }
        let now = (io.now_ms)();
        side.tick(now);
        while let Some(c) = (io.control)() {
            side.control(now, c);
        }
        while let Some(ev) = side.poll_event() {
            (io.on_event)(ev);
        }
        while let Some(m) = side.poll_send() {
            send_msg(conn, link, &mut io.stats, &m)?;
        }
        flush(conn, link, &mut io.stats)?;
        if side.is_over() {
            conn.send_close_notify();
            let _ = flush(conn, link, &mut io.stats);
            // Wait for the peer's close_notify: a tty hangup would drop our
            // last bytes if we closed first.
            let until = (io.now_ms)() + LINGER_MS;
            while !peer_closed && (io.now_ms)() < until {
                plain.clear();
                if read_some(conn, link, &mut io.stats, &mut plain, &mut peer_closed).is_err() {
                    break;
                }
            }
            return side
                .outcome()
                .unwrap_or(Err(Failure::Protocol("no outcome".into())));
        }
        if peer_closed {
            return Err(Failure::LinkLost);
        }
        match read_some(conn, link, &mut io.stats, &mut plain, &mut peer_closed) {
            Ok(()) => {}
            // Take what already arrived before giving up.
            Err(Failure::LinkLost) => peer_closed = true,
            Err(e) => return Err(e),
        }
    }
}

/// Runs `f` with an `Io` that notes whether a final UI event went out, and
/// sends `Failed` for failures outside the state machine.
fn with_final_event(
    io: &mut Io<'_>,
    f: impl FnOnce(&mut Io<'_>) -> Result<Report, Failure>,
) -> Result<Report, Failure> {
    let mut final_sent = false;
    let r = {
        let outer = &mut *io.on_event;
        let mut forward = |ev: UiEvent| {
            if matches!(ev, UiEvent::Finished(_) | UiEvent::Failed(_)) {
                final_sent = true;
            }
            outer(ev);
        };
        let mut inner = Io {
            now_ms: io.now_ms,
            control: &mut *io.control,
            on_event: &mut forward,
            stats: io.stats,
        };
        let r = f(&mut inner);
        io.stats = inner.stats;
        r
    };
    if let Err(e) = &r
        && !final_sent
    {
        tracing::info!(reason = e.code(), "handover session failed");
        (io.on_event)(UiEvent::Failed(e.clone()));
    }
    r
}

/// Receiving pad: asks `peer` for `sel` over `link` and merges into `sink`.
pub fn run_requester(
    link: &mut dyn Link,
    creds: &Credentials,
    peer: &Peer,
    own_call_sign: &str,
    sel: MissionSel,
    sink: &mut dyn Sink,
    io: &mut Io<'_>,
) -> Result<Report, Failure> {
    with_final_event(io, |io| {
        let cfg = pki::client_config(&creds.identity, &creds.trust, Versions::Tls13Only)
            .map_err(|e| Failure::Tls(e.to_string()))?;
        let client =
            rustls::ClientConnection::new(Arc::new(cfg), pki::pad_server_name(&peer.serial))
                .map_err(|e| Failure::Tls(e.to_string()))?;
        let mut conn = Connection::Client(client);
        let mut plain = Vec::new();
        handshake(&mut conn, link, io, &mut plain)?;
        let name = peer_name(&conn)?;
        if name.serial != peer.serial || name.call_sign != peer.call_sign {
            return Err(Failure::WrongPeer {
                expected: format!("{} ({})", peer.call_sign, peer.serial),
                found: format!("{} ({})", name.call_sign, name.serial),
            });
        }
        tracing::info!(peer_serial = %name.serial, "handover: secure channel up (receiver)");
        let mut side = Recv {
            m: Requester::new(&peer.call_sign, own_call_sign, sel, (io.now_ms)()),
            sink,
        };
        pump(&mut conn, link, &mut side, io, plain)
    })
}

/// Sending pad: answers one request arriving on `link`. The user decides
/// through `io.control` within `confirm_ms`.
pub fn run_responder(
    link: &mut dyn Link,
    creds: &Credentials,
    paired: &[Peer],
    confirm_ms: u64,
    src: &mut dyn Source,
    io: &mut Io<'_>,
) -> Result<Report, Failure> {
    with_final_event(io, |io| {
        let cfg = pki::server_config(&creds.identity, &creds.trust, Versions::Tls13Only)
            .map_err(|e| Failure::Tls(e.to_string()))?;
        let server = rustls::ServerConnection::new(Arc::new(cfg))
            .map_err(|e| Failure::Tls(e.to_string()))?;
        let mut conn = Connection::Server(server);
        let mut plain = Vec::new();
        handshake(&mut conn, link, io, &mut plain)?;
        let name = peer_name(&conn)?;
        let Some(peer) = paired.iter().find(|p| p.serial == name.serial) else {
            tracing::warn!("handover from a pad that is not paired");
            let refuse = Msg::Error {
                code: ErrorCode::NotPaired,
                detail: "not paired".into(),
            };
            let _ = send_msg(&mut conn, link, &mut io.stats, &refuse);
            conn.send_close_notify();
            let _ = flush(&mut conn, link, &mut io.stats);
            let (until, mut closed) = ((io.now_ms)() + LINGER_MS, false);
            while !closed && (io.now_ms)() < until {
                plain.clear();
                if read_some(&mut conn, link, &mut io.stats, &mut plain, &mut closed).is_err() {
                    break;
                }
            }
            return Err(Failure::NotPaired);
        };
        if peer.call_sign != name.call_sign {
            return Err(Failure::WrongPeer {
                expected: format!("{} ({})", peer.call_sign, peer.serial),
                found: format!("{} ({})", name.call_sign, name.serial),
            });
        }
        tracing::info!(peer_serial = %name.serial, "handover: secure channel up (sender)");
        let mut side = Send {
            m: Responder::new(&peer.call_sign, confirm_ms, (io.now_ms)()),
            src,
        };
        pump(&mut conn, link, &mut side, io, plain)
    })
}

impl Report {
    /// True for the receiving side's report.
    pub fn is_receiver(&self) -> bool {
        self.role == Role::Receiver
    }
}
