//! Pad connections after TLS: who is on the line, how many connections
//! each pad holds, and how long a connection may sit without progress.
//!
//! - [`PadAcceptor`] wraps the rustls acceptor (handshake timeout): it
//!   names the pad by its certificate, refuses a pad's connection beyond
//!   `max_connections_per_pad` with 429 at once, and registers the
//!   connection by peer address so handlers find it ([`Conns::get`]).
//! - [`Watched`] wraps the TLS stream: with no request in progress, the
//!   next request's head must start within `idle_timeout` and be complete
//!   within `header_timeout` of its first byte (408 otherwise). While a
//!   request is handled, the handler bounds the body itself (stall and
//!   minimum rate, `server::read_body`).

use super::config::Limits;
use super::intake::Device;
use axum_server::accept::Accept;
use axum_server::tls_rustls::RustlsAcceptor;
use rettpad_pki as pki;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Where a connection is between requests.
#[derive(Debug)]
struct Phase {
    /// Requests being handled.
    busy: usize,
    /// First byte of the next request head, if it came.
    head_started: Option<Instant>,
    /// Last request finished (or the connection opened).
    idle_since: Instant,
}

/// One live pad connection.
#[derive(Debug)]
pub struct ConnState {
    pub device: Device,
    phase: Mutex<Phase>,
}

/// Marks a request in progress; the idle and header clocks stop meanwhile.
pub struct Busy(Arc<ConnState>);

impl ConnState {
    pub fn busy(self: &Arc<Self>) -> Busy {
        let mut p = lock(&self.phase);
        p.busy += 1;
        p.head_started = None;
        Busy(self.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut p = lock(&self.0.phase);
        p.busy = p.busy.saturating_sub(1);
        if p.busy == 0 {
            p.idle_since = Instant::now();
            p.head_started = None;
        }
    }
}

/// The live pad connections.
#[derive(Debug)]
pub struct Conns {
    limits: Limits,
    by_addr: Mutex<HashMap<SocketAddr, Arc<ConnState>>>,
    per_pad: Mutex<HashMap<String, usize>>,
    /// Declared body bytes in flight per pad.
    shares: Mutex<HashMap<String, u64>>,
}

/// A pad's part of the in-flight budget; returned on drop.
pub struct PadShare {
    conns: Arc<Conns>,
    serial: String,
    bytes: u64,
}

impl Drop for PadShare {
    fn drop(&mut self) {
        let mut m = lock(&self.conns.shares);
        if let Some(n) = m.get_mut(&self.serial) {
            *n = n.saturating_sub(self.bytes);
            if *n == 0 {
                m.remove(&self.serial);
            }
        }
    }
}

impl Conns {
    pub fn new(limits: Limits) -> Conns {
        Conns {
            limits,
            by_addr: Mutex::new(HashMap::new()),
            per_pad: Mutex::new(HashMap::new()),
            shares: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves `bytes` of the pad's share: all its uploads in flight
    /// together declare at most `max_body_bytes`, so one pad (a stolen
    /// certificate sending slowly) never holds more than one packet's
    /// room of the gateway's budget.
    pub fn share(self: &Arc<Self>, serial: &str, bytes: u64) -> Option<PadShare> {
        let mut m = lock(&self.shares);
        let n = m.entry(serial.to_string()).or_insert(0);
        if n.saturating_add(bytes) > self.limits.max_body_bytes {
            return None;
        }
        *n += bytes;
        Some(PadShare {
            conns: self.clone(),
            serial: serial.to_string(),
            bytes,
        })
    }

    /// The connection a request came in on.
    pub fn get(&self, peer: &SocketAddr) -> Option<Arc<ConnState>> {
        lock(&self.by_addr).get(peer).cloned()
    }

    /// Open connections of one pad (for tests and logs).
    pub fn count(&self, serial: &str) -> usize {
        lock(&self.per_pad).get(serial).copied().unwrap_or(0)
    }

    fn admit(&self, device: &Device) -> bool {
        let mut m = lock(&self.per_pad);
        let n = m.entry(device.serial.clone()).or_insert(0);
        if *n >= self.limits.max_connections_per_pad {
            return false;
        }
        *n += 1;
        true
    }

    fn release(&self, peer: &SocketAddr, state: &Arc<ConnState>) {
        let serial = &state.device.serial;
        let mut by_addr = lock(&self.by_addr);
        if by_addr.get(peer).is_some_and(|s| Arc::ptr_eq(s, state)) {
            by_addr.remove(peer);
        }
        drop(by_addr);
        let mut m = lock(&self.per_pad);
        if let Some(n) = m.get_mut(serial) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(serial);
            }
        }
    }
}

/// A canned HTTP/1.1 answer for refusals outside a request handler.
fn canned(status: u16, reason: &str, code: &str, message: &str) -> Vec<u8> {
    let body = serde_json::json!({ "error": code, "message": message }).to_string();
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Answers, closes our side and reads what the client still sends for a
/// moment, so its TCP stack does not reset the connection before the
/// client has read the answer.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, answer: Vec<u8>) {
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        s.write_all(&answer).await?;
        s.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut left = 256 * 1024usize;
        while left > 0 {
            let n = s.read(&mut sink).await?;
            if n == 0 {
                break;
            }
            left = left.saturating_sub(n);
        }
        io::Result::Ok(())
    })
    .await;
}

/// The pads' acceptor: TLS, then identity, per-pad limit and registration.
#[derive(Clone)]
pub struct PadAcceptor {
    inner: RustlsAcceptor,
    conns: Arc<Conns>,
}

impl PadAcceptor {
    pub fn new(inner: RustlsAcceptor, conns: Arc<Conns>) -> PadAcceptor {
        PadAcceptor { inner, conns }
    }
}

type TlsStreamOf<S> = <RustlsAcceptor as Accept<TcpStream, S>>::Stream;
type TlsServiceOf<S> = <RustlsAcceptor as Accept<TcpStream, S>>::Service;

impl<S: Send + 'static> Accept<TcpStream, S> for PadAcceptor {
    type Stream = Watched<TlsStreamOf<S>>;
    type Service = TlsServiceOf<S>;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: TcpStream, service: S) -> Self::Future {
        let inner = self.inner.clone();
        let conns = self.conns.clone();
        Box::pin(async move {
            let peer = stream.peer_addr()?;
            // The handshake timeout is the inner acceptor's.
            let (tls, svc) = inner.accept(stream, service).await.inspect_err(|e| {
                tracing::info!(peer = %peer, error = %e, "TLS handshake failed or timed out");
            })?;
            let cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .cloned();
            let device = match cert.as_ref().map(pki::device_name) {
                Some(Ok(d)) => Device {
                    serial: d.serial,
                    call_sign: d.call_sign,
                },
                _ => {
                    tracing::warn!(peer = %peer, "connection refused: the client certificate names no device");
                    refuse(
                        tls,
                        canned(
                            403,
                            "Forbidden",
                            "bad_certificate",
                            "certificate names no device",
                        ),
                    )
                    .await;
                    return Err(io::Error::other("certificate names no device"));
                }
            };
            if !conns.admit(&device) {
                let max = conns.limits.max_connections_per_pad;
                tracing::warn!(device = %device.serial, max, "connection refused: the pad already holds the maximum of open connections");
                let msg =
                    format!("this pad already holds {max} open connections; close one and retry");
                refuse(
                    tls,
                    canned(429, "Too Many Requests", "too_many_connections", &msg),
                )
                .await;
                return Err(io::Error::other("per-pad connection limit"));
            }
            let state = Arc::new(ConnState {
                device,
                phase: Mutex::new(Phase {
                    busy: 0,
                    head_started: None,
                    idle_since: Instant::now(),
                }),
            });
            lock(&conns.by_addr).insert(peer, state.clone());
            Ok((Watched::new(tls, state, peer, conns), svc))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    Idle,
    Header,
}

/// The TLS stream with the idle and header clocks (see the module text).
pub struct Watched<T> {
    inner: T,
    state: Arc<ConnState>,
    peer: SocketAddr,
    conns: Arc<Conns>,
    timer: Pin<Box<tokio::time::Sleep>>,
    /// The 408 still to be written before the error is returned.
    closing: Option<Vec<u8>>,
    /// Bytes still to discard while closing (see `poll_shutdown`).
    linger: Option<usize>,
}

/// After an answer that leaves a body unread, the client may still be
/// sending it; closing at once would reset the connection and its TCP
/// stack could drop our answer unread. So we read and discard for a
/// while, bounded in time and bytes.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 16 << 20;

impl<T> Watched<T> {
    fn new(inner: T, state: Arc<ConnState>, peer: SocketAddr, conns: Arc<Conns>) -> Self {
        Watched {
            inner,
            state,
            peer,
            conns,
            timer: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            closing: None,
            linger: None,
        }
    }

    fn deadline(&self) -> Option<(Instant, Expiry)> {
        let p = lock(&self.state.phase);
        let l = &self.conns.limits;
        if p.busy > 0 {
            None
        } else if let Some(h) = p.head_started {
            Some((
                h + Duration::from_secs(l.header_timeout_secs),
                Expiry::Header,
            ))
        } else {
            Some((
                p.idle_since + Duration::from_secs(l.idle_timeout_secs),
                Expiry::Idle,
            ))
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> Watched<T> {
    /// Called when the inner stream is pending: has the clock run out?
    /// Polls the timer so this task wakes at the deadline.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        let (at, why) = self.deadline()?;
        let at = tokio::time::Instant::from_std(at);
        if self.timer.deadline() != at {
            self.timer.as_mut().reset(at);
        }
        if self.timer.as_mut().poll(cx).is_pending() {
            return None;
        }
        let dev = &self.state.device.serial;
        Some(match why {
            Expiry::Idle => {
                tracing::debug!(device = %dev, "idle connection closed");
                io::Error::new(io::ErrorKind::TimedOut, "idle timeout")
            }
            Expiry::Header => {
                let secs = self.conns.limits.header_timeout_secs;
                tracing::warn!(device = %dev, secs, "connection closed: request head not complete in time");
                let msg = format!("request head not complete within {secs} s");
                self.closing = Some(canned(408, "Request Timeout", "header_timeout", &msg));
                io::Error::new(io::ErrorKind::TimedOut, "header timeout")
            }
        })
    }

    /// Best effort: the 408 goes out if the socket takes it now.
    fn flush_closing(&mut self, cx: &mut Context<'_>) {
        if let Some(b) = self.closing.take() {
            let _ = Pin::new(&mut self.inner).poll_write(cx, &b);
            let _ = Pin::new(&mut self.inner).poll_flush(cx);
        }
    }
}

impl<T> Drop for Watched<T> {
    fn drop(&mut self) {
        self.conns.release(&self.peer, &self.state);
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let mut p = lock(&this.state.phase);
                    if p.busy == 0 && p.head_started.is_none() {
                        p.head_started = Some(Instant::now());
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => match this.expired(cx) {
                Some(e) => {
                    this.flush_closing(cx);
                    Poll::Ready(Err(e))
                }
                None => Poll::Pending,
            },
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            // A client that does not read is cut by the same clocks.
            Poll::Pending => match this.expired(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
            r => r,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => match this.expired(cx) {
                Some(e) => Poll::Ready(Err(e)),
                None => Poll::Pending,
            },
            r => r,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.linger.is_none() {
            match Pin::new(&mut this.inner).poll_shutdown(cx) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            this.linger = Some(LINGER_BYTES);
            let at = tokio::time::Instant::now() + LINGER;
            this.timer.as_mut().reset(at);
        }
        let mut sink = [0u8; 8192];
        loop {
            let left = this.linger.unwrap_or(0);
            if left == 0 {
                return Poll::Ready(Ok(()));
            }
            let mut rb = ReadBuf::new(&mut sink);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) if !rb.filled().is_empty() => {
                    this.linger = Some(left.saturating_sub(rb.filled().len()));
                }
                // The client closed too, or failed: done.
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => {
                    return if this.timer.as_mut().poll(cx).is_ready() {
                        Poll::Ready(Ok(()))
                    } else {
                        Poll::Pending
                    };
                }
            }
        }
    }
}
