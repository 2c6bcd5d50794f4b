//! The gateway's listeners (axum 0.8 + axum-server 0.9 with rustls):
//! - pads: mTLS on any port, client certificate from the organisation CA
//!   required, TLS 1.2/1.3 only with the BSI provider (`pki`);
//! - hospitals: arrival board and mailboxes, plain HTTP on loopback only.
//!
//! Logs carry packet ids, device serials, sizes and error kinds; never a
//! manifest field beyond those, never payload.

use super::board;
use super::config::GatewayConfig;
use super::intake::{Device, Gateway, IntakeError};
use super::store::SqliteStore;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_server::tls::TlsInfo;
use axum_server::tls_rustls::RustlsConfig;
use rettpad_pki as pki;
use rustls::pki_types::CertificateDer;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Header with the pad's hardware serial (cross-checked with the cert).
pub const SERIAL_HEADER: &str = "x-rettpad-serial";
pub const CALL_SIGN_HEADER: &str = "x-rettpad-call-sign";

fn now_ms() -> i64 {
    use rettpad_clock::Clock;
    rettpad_clock::SystemClock::new().wall_ms()
}

#[derive(Clone)]
struct App {
    gw: Arc<Gateway>,
    reply_delay: Duration,
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

fn error_code(e: &IntakeError) -> &'static str {
    match e {
        IntakeError::UnknownDevice { .. } => "unknown_device",
        IntakeError::DeviceMismatch(_) => "device_mismatch",
        IntakeError::Packet(rettpad_transfer::PacketError::Checksum { .. }) => "checksum_mismatch",
        IntakeError::Packet(_) => "bad_packet",
        IntakeError::Conflict => "conflict",
        IntakeError::Store(_) | IntakeError::Internal(_) => "internal",
    }
}

/// Who the gateway thinks the pad is; 403 for unknown pads.
async fn hello(State(app): State<App>, tls: Option<axum::Extension<Arc<TlsInfo>>>) -> Response {
    let Some(cert) = tls
        .as_ref()
        .and_then(|t| t.peer_certificates.first().cloned())
    else {
        return json_error(401, "no_client_certificate", "client certificate required");
    };
    match pki::device_name(&CertificateDer::from(cert)) {
        Ok(d) if app.gw.is_registered(&d.serial, &d.call_sign) => {
            format!("{} {}", d.serial, d.call_sign).into_response()
        }
        Ok(_) => json_error(403, "unknown_device", "device not registered"),
        Err(_) => json_error(403, "bad_certificate", "certificate names no device"),
    }
}

async fn post_packet(
    State(app): State<App>,
    tls: Option<axum::Extension<Arc<TlsInfo>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(cert) = tls
        .as_ref()
        .and_then(|t| t.peer_certificates.first().cloned())
    else {
        return json_error(401, "no_client_certificate", "client certificate required");
    };
    let device = match pki::device_name(&CertificateDer::from(cert)) {
        Ok(d) => Device {
            serial: d.serial,
            call_sign: d.call_sign,
        },
        Err(e) => {
            tracing::warn!(error = %e, "client certificate without device name");
            return json_error(403, "bad_certificate", "certificate names no device");
        }
    };
    let claimed = headers
        .get(SERIAL_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let gw = app.gw.clone();
    let dev = device.clone();
    let res =
        tokio::task::spawn_blocking(move || gw.intake(&dev, claimed.as_deref(), &body, now_ms()))
            .await;
    let res = match res {
        Ok(r) => r,
        Err(e) => Err(IntakeError::Internal(e.to_string())),
    };
    match res {
        Ok(a) => {
            tracing::info!(packet = %a.packet_id, device = %device.serial, duplicate = a.duplicate, "packet accepted");
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
            json_error(e.status(), error_code(&e), &e.to_string())
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

async fn board_page(State(app): State<App>, hospital: Option<UrlPath<String>>) -> Response {
    let h = hospital.map(|UrlPath(h)| h);
    let title = match h.as_deref().and_then(|h| app.gw.hospital(h)) {
        Some(e) => format!("Ankunftstafel – {}", e.name),
        None if h.is_some() => return json_error(404, "not_found", "unknown hospital"),
        None => "Ankunftstafel – alle Kliniken".to_string(),
    };
    let now = now_ms();
    match app.gw.board(h.as_deref(), now) {
        Ok(entries) => {
            let mut r = board::render(&title, &entries, now).into_response();
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
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(|e| format!("{}: {e}", cfg.data_dir.display()))?;
    let store = Arc::new(SqliteStore::open(&cfg.data_dir).map_err(|e| e.to_string())?);
    let gw = Arc::new(Gateway::from_config(&cfg, store)?);
    let app = App {
        gw: gw.clone(),
        reply_delay: Duration::from_millis(cfg.debug_reply_delay_ms),
    };
    let tls = RustlsConfig::from_config(Arc::new(tls_config(&cfg)?));

    let pads = Router::new()
        .route("/v1/packets", post(post_packet))
        .route("/v1/hello", get(hello))
        .layer(DefaultBodyLimit::max(rettpad_transfer::packet::MAX_PACKET))
        .with_state(app.clone());
    let hospitals = Router::new()
        .route("/", get(board_page))
        .route("/board/{hospital}", get(board_page))
        .route("/v1/mailbox/{hospital}", get(mailbox_list))
        .route("/v1/mailbox/{hospital}/{packet}", get(mailbox_get))
        .with_state(app);

    let handle = axum_server::Handle::new();
    let pad_server = axum_server::bind_rustls(cfg.listen, tls)
        .handle(handle.clone())
        .serve(pads.into_make_service());
    let hosp_listener = tokio::net::TcpListener::bind(cfg.hospital_listen)
        .await
        .map_err(|e| format!("bind {}: {e}", cfg.hospital_listen))?;
    let hosp_addr = hosp_listener
        .local_addr()
        .map_err(|e| format!("hospital listener: {e}"))?;

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
    let sweep_gw = gw.clone();
    let every = Duration::from_secs(cfg.sweep_interval_secs.max(1));
    let mut sweep_stop = stop_rx;
    let sweep_task = tokio::spawn(async move {
        loop {
            let g = sweep_gw.clone();
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
    tracing::info!(pads = %pad_addr, hospitals = %hosp_addr, "gateway listening");
    ready(Bound {
        pads: pad_addr,
        hospitals: hosp_addr,
    });
    shutdown.await;
    tracing::info!("gateway shutting down");
    handle.graceful_shutdown(Some(Duration::from_secs(5)));
    let _ = stop_tx.send(true);
    let _ = pad_task.await;
    let _ = hosp_task.await;
    let _ = sweep_task.await;
    Ok(())
}
