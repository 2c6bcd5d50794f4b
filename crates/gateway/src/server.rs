//! The gateway's listeners (axum 0.8 + axum-server 0.9 with rustls):
//! - pads: mTLS on any port, client certificate from the organisation CA
//!   required, TLS 1.2/1.3 only with the BSI provider (`pki`); connection
//!   limits and clocks in `conn`;
//! - hospitals: arrival board and mailboxes, plain HTTP on loopback only.
//!
//! An upload is checked in this order, each step before any later byte is
//! read: the pad's identity and login header, a declared length within
//! `max_body_bytes` (413 at once), the pad's share (its uploads in flight
//! declare at most `max_body_bytes` together, 429), room in the in-flight
//! memory budget (503 after `inflight_wait_ms`), the body at a minimum rate (408), then
//! the intake (manifest identity, checksums) on a blocking worker.
//!
//! Logs carry packet ids, device serials, sizes and error kinds; never a
//! manifest field beyond those, never payload.

use super::board;
use super::channel_http::{self, ChannelApp};
use super::config::{GatewayConfig, Limits};
use super::conn::{ConnState, Conns, PadAcceptor};
use super::dispatch::Dispatcher;
use super::intake::{Gateway, IntakeError};
use super::private::{self, Existing};
use super::store::SqliteStore;
use axum::Router;
use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Path as UrlPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use rettpad_pki as pki;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use uuid::Uuid;

/// The pad's identity headers, defined once beside the uploader that sends them.
pub use rettpad_transfer::{CALL_SIGN_HEADER, SERIAL_HEADER};

/// The wall clock, for the handlers and workers of the gateway.
pub(crate) fn now_ms() -> i64 {
    use rettpad_clock::Clock;
    rettpad_clock::SystemClock::new().wall_ms()
}

#[derive(Clone)]
struct App {
    gw: Arc<Gateway>,
    dispatch: Arc<Dispatcher>,
    reply_delay: Duration,
    limits: Arc<Limits>,
    /// Body bytes being received or processed, by declared length.
    budget: Arc<Budget>,
    conns: Arc<Conns>,
}

/// The in-flight body memory. Not first-come-first-served: a small upload
/// does not queue behind a big one that is waiting for room.
struct Budget {
    bytes: Arc<Semaphore>,
    freed: Notify,
}

/// A reservation; returning it wakes the uploads waiting for room. Owned,
/// so it moves into the intake worker with the body: a client that hangs
/// up does not free memory the worker still holds.
struct Reserved {
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    budget: Arc<Budget>,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        drop(self.permit.take());
        self.budget.freed.notify_waiters();
    }
}

impl Budget {
    async fn reserve(self: &Arc<Self>, n: u32, wait: Duration) -> Option<Reserved> {
        let until = tokio::time::Instant::now() + wait;
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            // Registered before the attempt, so no release is missed.
            freed.as_mut().enable();
            if let Ok(p) = self.bytes.clone().try_acquire_many_owned(n) {
                return Some(Reserved {
                    permit: Some(p),
                    budget: self.clone(),
                });
            }
            tokio::time::timeout_at(until, freed).await.ok()?;
        }
    }
}

fn json_error(status: u16, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": code, "message": message }).to_string();
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// A refusal before the body was read: the connection cannot be reused.
fn closing(status: u16, code: &str, message: &str) -> Response {
    let mut r = json_error(status, code, message);
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Finds the connection a request came in on and marks it busy while the
/// request is handled (the idle and header clocks stop).
async fn track(
    State(conns): State<Arc<Conns>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(conn) = conns.get(&peer) else {
        tracing::error!(peer = %peer, "request on an unregistered connection");
        return closing(500, "internal", "connection not registered");
    };
    let _busy = conn.busy();
    req.extensions_mut().insert(conn);
    next.run(req).await
}

/// Who the gateway thinks the pad is; 403 for unknown pads.
async fn hello(State(app): State<App>, req: Request) -> Response {
    let Some(conn) = req.extensions().get::<Arc<ConnState>>() else {
        return json_error(401, "no_client_certificate", "client certificate required");
    };
    let d = &conn.device;
    if app.gw.is_registered(&d.serial, &d.call_sign) {
        format!("{} {}", d.serial, d.call_sign).into_response()
    } else {
        json_error(403, "unknown_device", "device not registered")
    }
}

/// Why a body was not read to its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyError {
    Stalled,
    TooSlow,
    TooLong,
    Incomplete,
}

impl BodyError {
    fn answer(self, l: &Limits) -> (u16, &'static str, String) {
        match self {
            BodyError::Stalled => (
                408,
                "body_timeout",
                format!("no body data for {} s", l.body_stall_secs),
            ),
            BodyError::TooSlow => (
                408,
                "body_too_slow",
                format!(
                    "body slower than {} bytes/s after {} s",
                    l.min_body_rate, l.rate_grace_secs
                ),
            ),
            BodyError::TooLong => (
                400,
                "body_length_mismatch",
                "more body bytes than declared".into(),
            ),
            BodyError::Incomplete => (
                400,
                "body_incomplete",
                "the body ended before its declared length".into(),
            ),
        }
    }
}

/// Reads exactly `len` declared bytes into one buffer of that size (its
/// memory is already reserved in the budget). The next data must come
/// within `body_stall_secs`, and by second t of the body at least
/// (t - grace) × `min_body_rate` bytes must have arrived.
async fn read_body(mut body: Body, len: usize, l: &Limits) -> Result<Vec<u8>, BodyError> {
    let mut buf = Vec::with_capacity(len);
    let start = Instant::now();
    let grace = Duration::from_secs(l.rate_grace_secs);
    let stall = Duration::from_secs(l.body_stall_secs);
    loop {
        let by_rate =
            start + grace + Duration::from_secs_f64(buf.len() as f64 / l.min_body_rate as f64);
        let by_stall = Instant::now() + stall;
        let (at, why) = if by_rate < by_stall {
            (by_rate, BodyError::TooSlow)
        } else {
            (by_stall, BodyError::Stalled)
        };
        let frame = std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx));
        match tokio::time::timeout_at(tokio::time::Instant::from_std(at), frame).await {
            Err(_) => return Err(why),
            Ok(None) => break,
            Ok(Some(Err(_))) => return Err(BodyError::Incomplete),
            Ok(Some(Ok(f))) => {
                if let Ok(d) = f.into_data() {
                    if buf.len() + d.len() > len {
                        return Err(BodyError::TooLong);
                    }
                    buf.extend_from_slice(&d);
                }
            }
        }
    }
    if buf.len() == len {
        Ok(buf)
    } else {
        Err(BodyError::Incomplete)
    }
}

fn declared_length(h: &HeaderMap) -> Option<u64> {
    h.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

async fn post_packet(State(app): State<App>, req: Request) -> Response {
    let Some(conn) = req.extensions().get::<Arc<ConnState>>().cloned() else {
        return closing(401, "no_client_certificate", "client certificate required");
    };
    let device = conn.device.clone();
    let (parts, body) = req.into_parts();
    let claimed = parts
        .headers
        .get(SERIAL_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Identity first: nothing is read from a pad that may not upload.
    if let Err(e) = app.gw.authorize(&device, claimed.as_deref()) {
        tracing::warn!(device = %device.serial, status = e.status(), error = %e, "upload refused before its body");
        return closing(e.status(), e.code(), &e.to_string());
    }
    let l = &app.limits;
    let Some(len) = declared_length(&parts.headers) else {
        tracing::warn!(device = %device.serial, "upload refused: no content-length");
        return closing(
            411,
            "length_required",
            "a content-length header is required",
        );
    };
    if len > l.max_body_bytes {
        tracing::warn!(device = %device.serial, declared = len, max = l.max_body_bytes, "upload refused: declared length over the limit");
        let msg = format!(
            "packet of {len} bytes exceeds the limit of {} bytes",
            l.max_body_bytes
        );
        return closing(413, "too_large", &msg);
    }
    // `validate` keeps max_body_bytes within u32 and the budget.
    let (Ok(permits), Ok(size)) = (u32::try_from(len), usize::try_from(len)) else {
        return closing(413, "too_large", "packet too large");
    };
    let Some(share) = app.conns.share(&device.serial, len) else {
        tracing::warn!(device = %device.serial, declared = len, "upload refused: the pad's uploads in flight would exceed one packet's room");
        return closing(
            429,
            "pad_busy",
            "this pad already has an upload in flight; retry when it is done",
        );
    };
    let wait = Duration::from_millis(l.inflight_wait_ms);
    let permit = match app.budget.reserve(permits, wait).await {
        Some(p) => p,
        None => {
            tracing::warn!(device = %device.serial, declared = len, "upload deferred: in-flight body memory is full");
            let mut r = closing(503, "busy", "the gateway is busy; retry later");
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            return r;
        }
    };
    tracing::info!(device = %device.serial, declared = len, "receiving upload");
    let body = match read_body(body, size, l).await {
        Ok(b) => b,
        Err(e) => {
            let (status, code, msg) = e.answer(l);
            tracing::warn!(device = %device.serial, declared = len, error = code, "upload refused while reading its body");
            return closing(status, code, &msg);
        }
    };
    let gw = app.gw.clone();
    let dev = device.clone();
    let res = tokio::task::spawn_blocking(move || {
        let r = gw.intake(&dev, claimed.as_deref(), &body, now_ms());
        // The body and its copies are freed before the room is returned.
        drop(body);
        drop(permit);
        drop(share);
        r
    })
    .await;
    let res = match res {
        Ok(r) => r,
        Err(e) => Err(IntakeError::Internal(e.to_string())),
    };
    match res {
        Ok(a) => {
            tracing::info!(packet = %a.packet_id, device = %device.serial, duplicate = a.duplicate, "packet accepted");
            // The protocol's board entry replaces the notice sent en route.
            // The ELS lookup learns which pad documented the mission, and
            // its report to the centre is queued (before the receipt).
            let d = app.dispatch.clone();
            let (m, p, dev, times) = (a.mission_id, a.packet_id, device.clone(), a.times.clone());
            let r = tokio::task::spawn_blocking(move || {
                d.drop_prenotice(m)
                    .and_then(|_| d.documented(m, p, &dev.serial, &dev.call_sign, &times, now_ms()))
            })
            .await;
            if let Ok(Err(e)) = r {
                tracing::error!(packet = %a.packet_id, error = %e, "en-route pre-notice or ELS link not updated");
            }
            if !app.reply_delay.is_zero() {
                tokio::time::sleep(app.reply_delay).await;
            }
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                a.receipt_json,
            )
                .into_response()
        }
        Err(e) => {
            tracing::warn!(device = %device.serial, status = e.status(), error = %e, "packet refused");
            json_error(e.status(), e.code(), &e.to_string())
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

async fn mailbox_list(
    State(app): State<App>,
    UrlPath(hospital): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if !bearer(&headers).is_some_and(|t| app.gw.check_token(&hospital, t)) {
        return json_error(401, "unauthorized", "mailbox token required");
    }
    match app.gw.store().mailbox(&hospital, now_ms()) {
        Ok(items) => {
            let v: Vec<serde_json::Value> = items
                .iter()
                .map(|i| {
                    serde_json::json!({
                        "packet_id": i.packet_id,
                        "received_ms": i.received_ms,
                        "expires_ms": i.expires_ms,
                        "call_sign": i.call_sign,
                    })
                })
                .collect();
            (
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::Value::Array(v).to_string(),
            )
                .into_response()
        }
        Err(e) => json_error(500, "internal", &e.to_string()),
    }
}

async fn mailbox_get(
    State(app): State<App>,
    UrlPath((hospital, id)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !bearer(&headers).is_some_and(|t| app.gw.check_token(&hospital, t)) {
        return json_error(401, "unauthorized", "mailbox token required");
    }
    let Ok(id) = Uuid::parse_str(&id) else {
        return json_error(400, "bad_id", "not a packet id");
    };
    match app.gw.envelope(&hospital, id, now_ms()) {
        Ok(Some(env)) => {
            tracing::info!(packet = %id, hospital = %hospital, "envelope fetched");
            ([(header::CONTENT_TYPE, "application/octet-stream")], env).into_response()
        }
        Ok(None) => json_error(404, "not_found", "no such envelope (expired after 24 h?)"),
        Err(e) => json_error(500, "internal", &e.to_string()),
    }
}

/// En-route ECGs for a hospital: the list, then each envelope (opaque
/// here; only the hospital's key opens it).
async fn ecg_list(
    State(app): State<App>,
    UrlPath(hospital): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if !bearer(&headers).is_some_and(|t| app.gw.check_token(&hospital, t)) {
        return json_error(401, "unauthorized", "mailbox token required");
    }
    match app.dispatch.prenotice_ecgs(&hospital, now_ms()) {
        Ok(items) => {
            let v: Vec<serde_json::Value> = items
                .iter()
                .map(|(m, cs, t)| serde_json::json!({ "mission_id": m, "call_sign": cs, "sent_ms": t }))
                .collect();
            (
                [(header::CONTENT_TYPE, "application/json")],
                serde_json::Value::Array(v).to_string(),
            )
                .into_response()
        }
        Err(e) => json_error(500, "internal", &e),
    }
}

async fn ecg_get(
    State(app): State<App>,
    UrlPath((hospital, mission)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !bearer(&headers).is_some_and(|t| app.gw.check_token(&hospital, t)) {
        return json_error(401, "unauthorized", "mailbox token required");
    }
    let Ok(m) = Uuid::parse_str(&mission) else {
        return json_error(400, "bad_id", "not a mission id");
    };
    match app.dispatch.prenotice_ecg(&hospital, m, now_ms()) {
        Ok(Some(env)) => {
            tracing::info!(mission = %m, hospital = %hospital, "en-route ECG fetched");
            ([(header::CONTENT_TYPE, "application/octet-stream")], env).into_response()
        }
        Ok(None) => json_error(404, "not_found", "no ECG for this mission"),
        Err(e) => json_error(500, "internal", &e),
    }
}

/// `?ton=1&seen=MS`: the board's optional gong (see `board`).
#[derive(Debug, Default, serde::Deserialize)]
struct BoardQuery {
    #[serde(default)]
    ton: Option<u8>,
    #[serde(default)]
    seen: Option<i64>,
}

async fn board_gong() -> Response {
    ([(header::CONTENT_TYPE, "audio/wav")], board::gong_wav()).into_response()
}

async fn board_page(
    State(app): State<App>,
    hospital: Option<UrlPath<String>>,
    axum::extract::Query(q): axum::extract::Query<BoardQuery>,
) -> Response {
    let chime = board::Chime {
        on: q.ton == Some(1),
        seen_ms: q.seen,
    };
    let h = hospital.map(|UrlPath(h)| h);
    let title = match h.as_deref().and_then(|h| app.gw.hospital(h)) {
        Some(e) => format!("Ankunftstafel – {}", e.name),
        None if h.is_some() => return json_error(404, "not_found", "unknown hospital"),
        None => "Ankunftstafel – alle Kliniken".to_string(),
    };
    let now = now_ms();
    let en_route = match app.dispatch.prenotices(h.as_deref(), now) {
        Ok(e) => e,
        Err(e) => return json_error(500, "internal", &e),
    };
    match app.gw.board(h.as_deref(), now) {
        Ok(mut entries) => {
            entries.extend(en_route);
            let mut r = board::render_with(&title, &entries, now, chime).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r
        }
        Err(e) => json_error(500, "internal", &e.to_string()),
    }
}

/// Addresses actually bound (ports may be 0 in the configuration).
#[derive(Debug, Clone, Copy)]
pub struct Bound {
    pub pads: SocketAddr,
    pub hospitals: SocketAddr,
    /// The dispatch API, when configured.
    pub dispatch: Option<SocketAddr>,
    /// The back office's web client, when configured.
    pub backoffice: Option<SocketAddr>,
}

/// Builds the pads' TLS server configuration (mTLS, BSI provider).
pub fn tls_config(cfg: &GatewayConfig) -> Result<rustls::ServerConfig, String> {
    let id = pki::Identity::load(&cfg.cert, &cfg.key).map_err(|e| e.to_string())?;
    let trust = pki::Trust::load(&cfg.ca, &cfg.crls).map_err(|e| e.to_string())?;
    let v = if cfg.tls12 {
        pki::Versions::Tls12And13
    } else {
        pki::Versions::Tls13Only
    };
    let mut sc = pki::server_config(&id, &trust, v).map_err(|e| e.to_string())?;
    sc.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(sc)
}

/// Runs both listeners and the retention sweep until `shutdown` resolves.
/// `ready` gets the bound addresses once both listen.
pub async fn serve(
    cfg: GatewayConfig,
    ready: impl FnOnce(Bound) + Send,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    private::dir(&cfg.data_dir, Existing::Narrow)?;
    for k in [&cfg.key, &cfg.hpke_key, &cfg.signing_key, &cfg.storage_key] {
        if private::open_to_others(k) {
            tracing::warn!(file = %k.display(), "key file is readable by other users; chmod 600 it");
        }
    }
    let store = Arc::new(SqliteStore::open(&cfg.data_dir).map_err(|e| e.to_string())?);
    let gw = Arc::new(Gateway::from_config(&cfg, store)?);
    let storage_key = super::keyring::secret_key(&cfg, &cfg.storage_key)?;
    let dispatcher = Arc::new(Dispatcher::open(&cfg, storage_key)?);
    // Before listening: a bad report target or token file stops the start.
    let reports = super::report::Senders::load(&cfg)?;
    let chan = ChannelApp::new(gw.clone(), dispatcher.clone());
    let limits = cfg.limits.clone();
    let budget = usize::try_from(limits.max_inflight_body_bytes)
        .map_err(|_| "limits.max_inflight_body_bytes too large")?
        .min(Semaphore::MAX_PERMITS);
    let conns = Arc::new(Conns::new(limits.clone()));
    let app = App {
        gw: gw.clone(),
        dispatch: dispatcher.clone(),
        reply_delay: Duration::from_millis(cfg.debug_reply_delay_ms),
        limits: Arc::new(limits.clone()),
        budget: Arc::new(Budget {
            bytes: Arc::new(Semaphore::new(budget)),
            freed: Notify::new(),
        }),
        conns: conns.clone(),
    };
    let tls = RustlsConfig::from_config(Arc::new(tls_config(&cfg)?));
    let acceptor = PadAcceptor::new(
        RustlsAcceptor::new(tls)
            .handshake_timeout(Duration::from_secs(limits.handshake_timeout_secs)),
        conns.clone(),
    );

    let pads = Router::new()
        .route("/v1/packets", post(post_packet))
        .route("/v1/hello", get(hello))
        .with_state(app.clone())
        .merge(channel_http::pad_routes(chan.clone()))
        .layer(middleware::from_fn_with_state(conns, track));
    let hospitals = Router::new()
        .route("/", get(board_page))
        .route("/board/gong.wav", get(board_gong))
        .route("/board/{hospital}", get(board_page))
        .route("/v1/mailbox/{hospital}", get(mailbox_list))
        .route("/v1/ecg/{hospital}", get(ecg_list))
        .route("/v1/ecg/{hospital}/{mission}", get(ecg_get))
        .route("/v1/mailbox/{hospital}/{packet}", get(mailbox_get))
        .with_state(app);

    let handle = axum_server::Handle::new();
    let mut pad_server = axum_server::bind(cfg.listen)
        .acceptor(acceptor)
        .handle(handle.clone())
        .http1_only();
    // Heads and body frames are read through buffers of this size; the
    // header and idle clocks are ours (`conn`), not hyper's.
    pad_server
        .http_builder()
        .http1()
        .max_buf_size(64 * 1024)
        .header_read_timeout(None);
    let pad_server = pad_server.serve(pads.into_make_service_with_connect_info::<SocketAddr>());
    let hosp_listener = tokio::net::TcpListener::bind(cfg.hospital_listen)
        .await
        .map_err(|e| format!("bind {}: {e}", cfg.hospital_listen))?;
    let hosp_addr = hosp_listener
        .local_addr()
        .map_err(|e| format!("hospital listener: {e}"))?;

    let dispatch_listener = match cfg.dispatch_listen {
        Some(a) => Some(
            tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| format!("bind {a}: {e}"))?,
        ),
        None => None,
    };
    let dispatch_addr = match &dispatch_listener {
        Some(l) => Some(
            l.local_addr()
                .map_err(|e| format!("dispatch listener: {e}"))?,
        ),
        None => None,
    };

    let web_listener = match &cfg.backoffice {
        Some(b) => {
            // The database clients block: opened off the async threads.
            let c = cfg.clone();
            let archive = tokio::task::spawn_blocking(move || super::archiver::open_archive(&c))
                .await
                .map_err(|e| format!("archive: {e}"))??;
            let policy = if b.password_profile == "nist" {
                rettpad_backoffice::auth::PasswordPolicy::nist()
            } else {
                rettpad_backoffice::auth::PasswordPolicy::seed()
            };
            let tls = b.tls.as_ref().map(super::web_tls::load).transpose()?;
            let web = Arc::new(super::web::Web {
                archive,
                policy,
                params: b.hash_params(),
                secure_cookie: b.secure_cookie,
                require_cert: tls.is_some(),
                backup_status: cfg.backup.as_ref().map(|_| cfg.data_dir.clone()),
            });
            let l = tokio::net::TcpListener::bind(b.listen)
                .await
                .map_err(|e| format!("bind {}: {e}", b.listen))?;
            let mut routes = super::web::router(web);
            let tls = tls.map(|(sc, trust)| {
                routes = routes.clone().layer(middleware::from_fn_with_state(
                    Arc::new(trust),
                    super::web_tls::gate,
                ));
                RustlsAcceptor::new(RustlsConfig::from_config(Arc::new(sc)))
                    .handshake_timeout(Duration::from_secs(limits.handshake_timeout_secs))
            });
            Some((l, routes, tls))
        }
        None => None,
    };
    let web_addr = match &web_listener {
        Some((l, _, _)) => Some(
            l.local_addr()
                .map_err(|e| format!("back-office listener: {e}"))?,
        ),
        None => None,
    };

    let pad_task = tokio::spawn(pad_server);
    let pad_addr = handle
        .listening()
        .await
        .ok_or_else(|| format!("cannot listen on {}", cfg.listen))?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut hosp_stop = stop_rx.clone();
    let hosp_task = tokio::spawn(async move {
        axum::serve(hosp_listener, hospitals)
            .with_graceful_shutdown(async move {
                let _ = hosp_stop.changed().await;
            })
            .await
    });
    let web_task = match web_listener {
        None => None,
        Some((l, routes, None)) => {
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(async move {
                axum::serve(l, routes)
                    .with_graceful_shutdown(async move {
                        let _ = stop.changed().await;
                    })
                    .await
            }))
        }
        Some((l, routes, Some(acceptor))) => {
            let std = l
                .into_std()
                .map_err(|e| format!("back-office listener: {e}"))?;
            let server = axum_server::from_tcp(std)
                .map_err(|e| format!("back-office listener: {e}"))?
                .acceptor(acceptor);
            let handle = axum_server::Handle::new();
            let (h, mut stop) = (handle.clone(), stop_rx.clone());
            tokio::spawn(async move {
                let _ = stop.changed().await;
                h.graceful_shutdown(Some(Duration::from_secs(5)));
            });
            Some(tokio::spawn(async move {
                server
                    .handle(handle)
                    .serve(routes.into_make_service())
                    .await
            }))
        }
    };
    let dispatch_task = dispatch_listener.map(|l| {
        let mut stop = stop_rx.clone();
        let routes = channel_http::dispatch_routes(chan);
        tokio::spawn(async move {
            axum::serve(l, routes)
                .with_graceful_shutdown(async move {
                    let _ = stop.changed().await;
                })
                .await
        })
    });
    let mut feeds = Vec::new();
    for c in &cfg.centres {
        let Some(feed) = c.mqtt.clone() else { continue };
        let tls = if feed.tls {
            let id = pki::Identity::load(&cfg.cert, &cfg.key).map_err(|e| e.to_string())?;
            let trust = pki::Trust::load(&cfg.ca, &cfg.crls).map_err(|e| e.to_string())?;
            Some(Arc::new(
                pki::client_config(&id, &trust, pki::Versions::Tls12And13)
                    .map_err(|e| e.to_string())?,
            ))
        } else {
            None
        };
        let session = super::mqtt::Rumqtt::new(&feed, tls);
        feeds.push(tokio::spawn(super::mqtt::run(
            session,
            dispatcher.clone(),
            c.id.clone(),
            feed,
            stop_rx.clone(),
        )));
    }
    let report_tasks = reports.spawn(&dispatcher, &stop_rx);
    let archive_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let archiver = {
        let (cfg, gw, stop) = (cfg.clone(), gw.clone(), archive_stop.clone());
        std::thread::Builder::new()
            .name("archiver".into())
            .spawn(move || {
                super::archiver::run(cfg, gw, stop, Duration::from_secs(1), now_ms);
            })
            .map_err(|e| format!("archiver thread: {e}"))?
    };
    let sweep_gw = gw.clone();
    let sweep_dispatch = dispatcher.clone();
    let every = Duration::from_secs(cfg.sweep_interval_secs.max(1));
    let mut sweep_stop = stop_rx;
    let sweep_task = tokio::spawn(async move {
        loop {
            let g = sweep_gw.clone();
            let d = sweep_dispatch.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || d.sweep(now_ms())).await {
                tracing::error!(error = %e, "channel queue sweep failed");
            }
            match tokio::task::spawn_blocking(move || g.sweep(now_ms())).await {
                Ok(Ok(r)) if r.packets + r.mailbox + r.board > 0 => {
                    tracing::info!(
                        packets = r.packets,
                        mailbox = r.mailbox,
                        board = r.board,
                        "retention sweep"
                    );
                }
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "retention sweep failed"),
                Err(e) => tracing::error!(error = %e, "retention sweep panicked"),
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = sweep_stop.changed() => break,
            }
        }
    });
    tracing::info!(pads = %pad_addr, hospitals = %hosp_addr, dispatch = ?dispatch_addr, "gateway listening");
    ready(Bound {
        pads: pad_addr,
        hospitals: hosp_addr,
        dispatch: dispatch_addr,
        backoffice: web_addr,
    });
    shutdown.await;
    tracing::info!("gateway shutting down");
    handle.graceful_shutdown(Some(Duration::from_secs(5)));
    let _ = stop_tx.send(true);
    let _ = pad_task.await;
    let _ = hosp_task.await;
    if let Some(t) = dispatch_task {
        let _ = t.await;
    }
    if let Some(t) = web_task {
        let _ = t.await;
    }
    for f in feeds {
        let _ = f.await;
    }
    for t in report_tasks {
        let _ = t.await;
    }
    let _ = sweep_task.await;
    archive_stop.store(true, std::sync::atomic::Ordering::SeqCst);
    archiver.thread().unpark();
    let _ = tokio::task::spawn_blocking(move || archiver.join()).await;
    Ok(())
}
