//! HTTP for the permanent pad channel and the dispatch API.
//!
//! Pads (mTLS listener):
//! - `GET /v1/channel`: the server-sent event stream. Certificate, serial
//!   header and call-sign header must agree with the registry; resumes after
//!   `Last-Event-ID`; a comment every `keepalive_secs`; one stream per pad
//!   (a new one ends the old, which a dead mobile link may leave behind).
//! - `POST /v1/channel/ack` `{"seq": n}`: everything up to n is applied.
//! - `POST /v1/pad/status`: the pad's versions and counts (`fleet`).
//!
//! Dispatch centres (loopback listener, bearer token per centre):
//! - `POST /v1/dispatch`: one `rettpad.dispatch/1` message;
//! - `GET /v1/dispatch/mission?number=…`: the lookup (SELECT) of one of the
//!   token's centre's missions.

use crate::conn::ConnState;
use crate::dispatch::Dispatcher;
use crate::intake::Gateway;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rettpad_channel::{parse_last_event_id, sse};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use rettpad_transfer::{CALL_SIGN_HEADER, SERIAL_HEADER};

#[derive(Clone)]
pub struct ChannelApp {
    pub gw: Arc<Gateway>,
    pub dispatch: Arc<Dispatcher>,
    /// The live stream's generation per pad: a newer stream ends older ones.
    streams: Arc<Mutex<HashMap<String, u64>>>,
}

impl ChannelApp {
    pub fn new(gw: Arc<Gateway>, dispatch: Arc<Dispatcher>) -> ChannelApp {
        ChannelApp {
            gw,
            dispatch,
            streams: Arc::default(),
        }
    }
}

fn json_error(status: u16, code: &str, message: &str) -> Response {
    let body =
        serde_json::json!({ "status": "NOT_OK", "error": code, "message": message }).to_string();
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

use crate::server::now_ms;

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The pad's routes (behind the connection tracking of `server`).
pub fn pad_routes(app: ChannelApp) -> Router {
    Router::new()
        .route("/v1/channel", get(stream))
        .route("/v1/channel/ack", post(ack))
        .route("/v1/prenotice", post(prenotice))
        .route("/v1/pad/status", post(pad_status))
        .with_state(app)
}

/// The dispatch centres' routes.
pub fn dispatch_routes(app: ChannelApp) -> Router {
    Router::new()
        .route("/v1/dispatch", post(submit))
        .route("/v1/dispatch/mission", get(lookup))
        .with_state(app)
}

/// Who is on the line: the certificate's pad, if the registry, the serial
/// header and the call-sign header all agree with it.
fn identify(app: &ChannelApp, req: &Request) -> Result<Arc<ConnState>, Box<Response>> {
    let Some(conn) = req.extensions().get::<Arc<ConnState>>().cloned() else {
        return Err(Box::new(json_error(
            401,
            "no_client_certificate",
            "client certificate required",
        )));
    };
    let d = &conn.device;
    let h = req.headers();
    if let Err(e) = app.gw.authorize(d, header_str(h, SERIAL_HEADER)) {
        tracing::warn!(device = %d.serial, error = %e, "channel refused");
        return Err(Box::new(json_error(e.status(), e.code(), &e.to_string())));
    }
    // The shift's call sign must be the one registered for this pad.
    let claimed = header_str(h, CALL_SIGN_HEADER);
    if claimed != Some(rettpad_transfer::call_sign_header(&d.call_sign).as_str()) {
        tracing::warn!(device = %d.serial, "channel refused: call sign not registered for this pad");
        return Err(Box::new(json_error(
            403,
            "call_sign_mismatch",
            "the call sign is not registered for this pad",
        )));
    }
    Ok(conn)
}

async fn stream(State(app): State<ChannelApp>, req: Request) -> Response {
    let conn = match identify(&app, &req) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let serial = conn.device.serial.clone();
    let after = header_str(req.headers(), "last-event-id")
        .and_then(parse_last_event_id)
        .unwrap_or(0);
    let generation = {
        let mut m = app.streams.lock().unwrap_or_else(|p| p.into_inner());
        let g = m.entry(serial.clone()).or_insert(0);
        *g += 1;
        *g
    };
    tracing::info!(device = %serial, after, "channel connected");
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let keepalive = Duration::from_secs(app.dispatch.limits().keepalive_secs);
    let waker = app.dispatch.waker(&serial);
    // The stream keeps the connection busy: the idle clock stays stopped.
    let busy = conn.busy();
    tokio::spawn(async move {
        let _busy = busy;
        // Kept for `provision status` (another process): two writes per
        // stream, none per keep-alive.
        let (d, s) = (app.dispatch.clone(), serial.clone());
        let _ = tokio::task::spawn_blocking(move || {
            crate::fleet::link_opened(&d, &s, generation, now_ms())
        })
        .await;
        run_stream(&app, &serial, generation, after, &tx, &waker, keepalive).await;
        let (d, s) = (app.dispatch.clone(), serial.clone());
        let _ = tokio::task::spawn_blocking(move || {
            crate::fleet::link_closed(&d, &s, generation, now_ms())
        })
        .await;
    });
    let body = Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    }));
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// Sends the pad's queue after `after` until the pad goes or a newer
/// stream of the same pad supersedes this one.
async fn run_stream(
    app: &ChannelApp,
    serial: &str,
    generation: u64,
    after: u64,
    tx: &tokio::sync::mpsc::Sender<Bytes>,
    waker: &tokio::sync::Notify,
    keepalive: Duration,
) {
    let serial = serial.to_string();
    let mut cursor = after;
    // An opening comment: the pad sees the stream is up at once.
    if tx.send(Bytes::from_static(sse::keepalive())).await.is_err() {
        return;
    }
    loop {
        let current = app
            .streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&serial)
            .copied();
        if current != Some(generation) {
            tracing::info!(device = %serial, "channel stream superseded by a newer one");
            return;
        }
        let d = app.dispatch.clone();
        let s = serial.clone();
        let batch = tokio::task::spawn_blocking(move || d.pending(&s, cursor, 64)).await;
        let batch = match batch {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => {
                tracing::error!(device = %serial, error = %e, "channel queue unreadable");
                return;
            }
            Err(e) => {
                tracing::error!(device = %serial, error = %e, "channel queue read panicked");
                return;
            }
        };
        if batch.is_empty() {
            tokio::select! {
                _ = waker.notified() => {}
                _ = tokio::time::sleep(keepalive) => {
                    if tx.send(Bytes::from_static(sse::keepalive())).await.is_err() {
                        break;
                    }
                }
                _ = tx.closed() => break,
            }
            continue;
        }
        for env in batch {
            cursor = env.seq;
            if tx.send(Bytes::from(sse::encode(&env))).await.is_err() {
                tracing::info!(device = %serial, "channel closed by the pad");
                return;
            }
        }
    }
    tracing::info!(device = %serial, "channel closed");
}

#[derive(serde::Deserialize)]
struct AckBody {
    seq: u64,
}

async fn ack(State(app): State<ChannelApp>, req: Request) -> Response {
    let conn = match identify(&app, &req) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let serial = conn.device.serial.clone();
    let Ok(bytes) = axum::body::to_bytes(req.into_body(), 1024).await else {
        return json_error(400, "bad_body", "ack body missing or over 1 KiB");
    };
    let Ok(a) = serde_json::from_slice::<AckBody>(&bytes) else {
        return json_error(400, "bad_body", "expected {\"seq\": n}");
    };
    let d = app.dispatch.clone();
    let s = serial.clone();
    match tokio::task::spawn_blocking(move || d.ack(&s, a.seq)).await {
        Ok(Ok(())) => {
            tracing::debug!(device = %serial, seq = a.seq, "channel ack");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Err(e)) => {
            tracing::warn!(device = %serial, seq = a.seq, error = %e, "channel ack refused");
            json_error(400, "bad_ack", &e)
        }
        Err(e) => json_error(500, "internal", &e.to_string()),
    }
}

/// A status is a few hundred bytes.
const STATUS_MAX_BODY: usize = 16 * 1024;

/// The pad's versions and counts, kept per serial with the gateway's time.
async fn pad_status(State(app): State<ChannelApp>, req: Request) -> Response {
    let conn = match identify(&app, &req) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let serial = conn.device.serial.clone();
    let Ok(bytes) = axum::body::to_bytes(req.into_body(), STATUS_MAX_BODY).await else {
        tracing::warn!(device = %serial, "pad status refused: body over 16 KiB or cut");
        return json_error(413, "too_large", "status body over 16 KiB");
    };
    let status = match serde_json::from_slice::<rettpad_transfer::pad_status::PadStatus>(&bytes) {
        Ok(s) => s,
        Err(_) => {
            tracing::warn!(device = %serial, "pad status refused: not a status");
            return json_error(400, "invalid", "expected a pad status");
        }
    };
    if let Err(field) = status.check() {
        tracing::warn!(device = %serial, field, "pad status refused");
        return json_error(400, "invalid", &format!("field {field} is invalid"));
    }
    let d = app.dispatch.clone();
    let s = serial.clone();
    match tokio::task::spawn_blocking(move || {
        crate::fleet::record_status(&d, &s, &status, now_ms())
    })
    .await
    {
        Ok(Ok(())) => {
            tracing::debug!(device = %serial, "pad status stored");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Err(e)) => {
            tracing::error!(device = %serial, error = %e, "pad status not stored");
            json_error(500, "internal", "status not stored")
        }
        Err(e) => json_error(500, "internal", &e.to_string()),
    }
}

#[derive(serde::Deserialize)]
struct PreNoticeBody {
    mission_id: uuid::Uuid,
    hospital: String,
    notice: rettpad_transfer::PreNotice,
    /// Hex of the 12-lead ECG sealed for the hospital (`transfer::ecg`).
    #[serde(default)]
    ecg: Option<String>,
}

/// A pre-notice body: the notice plus at most one hex ECG envelope.
const PRENOTICE_MAX_BODY: usize = 8 * 1024 + 2 * (rettpad_transfer::ecg::MAX_ECG + 1024);

/// A pre-notice en route: shown on the hospital's board at once; an update
/// of the same mission replaces it (also when the hospital changes).
async fn prenotice(State(app): State<ChannelApp>, req: Request) -> Response {
    let conn = match identify(&app, &req) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let device = conn.device.clone();
    let Ok(bytes) = axum::body::to_bytes(req.into_body(), PRENOTICE_MAX_BODY).await else {
        return json_error(413, "too_large", "pre-notice too large");
    };
    let Ok(b) = serde_json::from_slice::<PreNoticeBody>(&bytes) else {
        tracing::warn!(device = %device.serial, "pre-notice refused: not a pre-notice");
        return json_error(400, "invalid", "expected {mission_id, hospital, notice}");
    };
    if app.gw.hospital(&b.hospital).is_none() {
        tracing::warn!(device = %device.serial, "pre-notice refused: unknown hospital");
        return json_error(422, "unknown_hospital", "unknown hospital");
    }
    let ecg = match b.ecg.as_deref().map(hex::decode) {
        None => None,
        Some(Ok(e)) => Some(e),
        Some(Err(_)) => return json_error(400, "invalid", "ecg must be hex"),
    };
    let d = app.dispatch.clone();
    // The call sign is the certificate's, never the body's.
    let call_sign = device.call_sign.clone();
    let res = tokio::task::spawn_blocking(move || {
        d.put_prenotice(
            b.mission_id,
            &b.hospital,
            &call_sign,
            &b.notice,
            ecg.as_deref(),
            now_ms(),
        )
    })
    .await;
    match res {
        Ok(Ok(())) => {
            tracing::info!(device = %device.serial, "pre-notice en route stored");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Err(e)) => {
            tracing::warn!(device = %device.serial, error = %e, "pre-notice refused");
            json_error(400, "invalid", &e.to_string())
        }
        Err(e) => json_error(500, "internal", &e.to_string()),
    }
}

fn centre_of(app: &ChannelApp, h: &HeaderMap) -> Option<String> {
    let t = header_str(h, header::AUTHORIZATION.as_str())?.strip_prefix("Bearer ")?;
    app.dispatch.centre_of(t).map(str::to_string)
}

async fn submit(State(app): State<ChannelApp>, req: Request) -> Response {
    let Some(centre) = centre_of(&app, req.headers()) else {
        tracing::warn!("dispatch refused: no valid centre token");
        return json_error(401, "unauthorized", "a valid centre token is required");
    };
    let limit = rettpad_dispatch::msg::MAX_MESSAGE_BYTES;
    let Ok(bytes) = axum::body::to_bytes(req.into_body(), limit).await else {
        tracing::warn!(centre, "dispatch refused: body over the limit or cut");
        return json_error(413, "too_large", &format!("message over {limit} bytes"));
    };
    let d = app.dispatch.clone();
    let c = centre.clone();
    match tokio::task::spawn_blocking(move || d.submit(&c, &bytes, now_ms())).await {
        Ok(Ok(a)) => {
            let mut v = serde_json::to_value(&a).unwrap_or_default();
            v["status"] = "OK".into();
            ([(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
        }
        Ok(Err(e)) => {
            tracing::warn!(
                centre,
                status = e.status(),
                error = e.code(),
                "dispatch message refused"
            );
            json_error(e.status(), e.code(), &e.to_string())
        }
        Err(e) => json_error(500, "internal", &e.to_string()),
    }
}

#[derive(serde::Deserialize)]
struct LookupQuery {
    number: String,
}

async fn lookup(
    State(app): State<ChannelApp>,
    Query(q): Query<LookupQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(centre) = centre_of(&app, &headers) else {
        return json_error(401, "unauthorized", "a valid centre token is required");
    };
    let d = app.dispatch.clone();
    match tokio::task::spawn_blocking(move || d.lookup(&centre, &q.number)).await {
        Ok(Ok(Some(l))) => (
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&l).unwrap_or_default(),
        )
            .into_response(),
        Ok(Ok(None)) => json_error(404, "unknown_mission", "no such mission of this centre"),
        Ok(Err(e)) => json_error(500, "internal", &e),
        Err(e) => json_error(500, "internal", &e.to_string()),
    }
}
