//! The back office's web client: sign-in, missions, the protocol view with
//! the reason gate, the auditor's access log. Every request is checked on
//! the server against the session's user (organisation and role, in
//! `rettpad_backoffice::access`); pages are rendered in `web_pages`.
//! Plain HTTP on loopback: TLS (and the client certificate of the second
//! factor) ends at the reverse proxy in front.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, FromRequestParts, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use rettpad_backoffice::Archive;
use rettpad_backoffice::access::{
    Access, AccessError, Caller, ReasonCategory, Role, verify_audit_chain,
};
use rettpad_backoffice::auth::{HashParams, Outcome, PasswordPolicy};
use rettpad_backoffice::users::{UserError, Users};
use rettpad_text::Lang;
use serde::Deserialize;
use uuid::Uuid;

use crate::web_pages as pages;
use crate::web_tls::ClientCert;

pub const COOKIE: &str = "__Host-rettpad";
const LANG_COOKIE: &str = "rettpad_lang";

pub struct Web {
    pub archive: Archive,
    pub policy: PasswordPolicy,
    pub params: HashParams,
    /// Mark the session cookie `Secure` (off only for tests over plain
    /// HTTP to a non-loopback name).
    pub secure_cookie: bool,
    /// HTTPS with user certificates: sign-in and sessions are bound to
    /// the certificate's organisation and login (`web_tls`).
    pub require_cert: bool,
    /// The data directory when backups are configured: the administration
    /// page shows a failed or overdue backup.
    pub backup_status: Option<std::path::PathBuf>,
}

impl Web {
    fn users(&self) -> Users<'_> {
        Users::new(&self.archive, self.policy.clone(), self.params)
    }
}

pub(crate) type St = State<Arc<Web>>;

pub(crate) fn now_ms() -> i64 {
    crate::fleet_cli::now_ms()
}

pub fn router(web: Arc<Web>) -> Router {
    Router::new()
        .route("/static/app.css", get(css))
        .route("/lang/{lang}", get(set_lang))
        .route("/login", get(login_page).post(login_post))
        .route("/logout", post(logout))
        .route("/password", get(password_page).post(password_post))
        .route("/", get(missions))
        .route("/p/{id}", get(protocol))
        .route("/p/{id}/reveal", post(reveal))
        .route("/p/{id}/pdf", get(pdf))
        .route("/audit", get(audit))
        .merge(crate::web_admin::routes())
        .merge(crate::web_edits::routes())
        .layer(middleware::from_fn(headers))
        .with_state(web)
}

/// No caching of anything (identity pages above all), no framing, no
/// scripts, no referrer to other sites.
async fn headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    for (k, v) in [
        (
            "content-security-policy",
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        // Not "no-referrer": that makes browsers send `Origin: null` on
        // form posts, which the same-origin check refuses.
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    r
}

fn cookie<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub(crate) fn lang(h: &HeaderMap) -> Lang {
    match cookie(h, LANG_COOKIE) {
        Some("en") => Lang::En,
        _ => Lang::De,
    }
}

pub(crate) fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Same-origin checks for state-changing requests (besides the token):
/// a cross-site `Sec-Fetch-Site` or a foreign `Origin` is refused.
pub(crate) fn same_origin(h: &HeaderMap) -> bool {
    let site_ok = h
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|s| s == "same-origin" || s == "none");
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_ok = match h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(o) => {
            host.is_some_and(|host| o == format!("http://{host}") || o == format!("https://{host}"))
        }
    };
    site_ok && origin_ok
}

pub(crate) fn token_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The signed-in caller, or the response to send instead (sign-in page,
/// or the password change that must come first).
pub(crate) struct Session {
    pub caller: Caller,
    pub csrf: String,
    pub must_change: bool,
}

/// A request's headers and, behind TLS, whose certificate it came with.
pub(crate) struct Ctx {
    pub h: HeaderMap,
    pub cert: Option<ClientCert>,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Ctx, Self::Rejection> {
        Ok(Ctx {
            h: parts.headers.clone(),
            cert: parts.extensions.get::<ClientCert>().cloned(),
        })
    }
}

/// Behind TLS the certificate must name the session's user: a cookie
/// carried to another person's machine opens nothing.
fn cert_matches(web: &Web, cert: Option<&ClientCert>, org: &str, login: &str) -> bool {
    !web.require_cert || cert.is_some_and(|c| c.org == org && c.login == login)
}

async fn session(web: &Arc<Web>, h: &HeaderMap, cert: Option<&ClientCert>) -> Option<Session> {
    let c = cookie(h, COOKIE)?.to_string();
    let w = web.clone();
    let s = tokio::task::spawn_blocking(move || w.users().session(&c, now_ms()))
        .await
        .ok()?
        .ok()
        .flatten()
        .map(|(caller, csrf, must_change)| Session {
            caller,
            csrf,
            must_change,
        })?;
    if !cert_matches(web, cert, &s.caller.org, &s.caller.login) {
        tracing::warn!(
            org = %s.caller.org,
            "session presented with another user's client certificate; refused"
        );
        return None;
    }
    Some(s)
}

/// A page behind sign-in: redirects to the sign-in or to the password
/// change when that is due.
pub(crate) async fn signed_in(
    web: &Arc<Web>,
    h: &HeaderMap,
    cert: Option<&ClientCert>,
) -> Result<Session, Response> {
    match session(web, h, cert).await {
        None => Err(Redirect::to("/login").into_response()),
        Some(s) if s.must_change => Err(Redirect::to("/password").into_response()),
        Some(s) => Ok(s),
    }
}

pub(crate) fn access_error(lang: Lang, s: &Session, e: &AccessError) -> Response {
    let who = Some((&s.caller, s.csrf.as_str()));
    match e {
        AccessError::Forbidden => html(
            StatusCode::FORBIDDEN,
            pages::message(
                lang,
                who,
                lang.pick("Kein Zugriff", "No access"),
                lang.pick(
                    "Ihre Rolle erlaubt diese Seite nicht.",
                    "Your role does not allow this page.",
                ),
            ),
        ),
        AccessError::NotFound => html(
            StatusCode::NOT_FOUND,
            pages::message(
                lang,
                who,
                lang.pick("Nicht gefunden", "Not found"),
                lang.pick(
                    "Diesen Einsatz gibt es nicht oder Sie dürfen ihn nicht sehen.",
                    "This mission does not exist or you may not see it.",
                ),
            ),
        ),
        AccessError::ReasonRequired => html(
            StatusCode::FORBIDDEN,
            pages::message(
                lang,
                who,
                lang.pick("Begründung erforderlich", "Reason required"),
                lang.pick(
                    "Patientendaten werden nur nach einer Begründung angezeigt.",
                    "Patient data are shown only after a reason.",
                ),
            ),
        ),
        AccessError::Archive(err) => {
            tracing::error!(error = %err, "back-office archive error");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                pages::message(
                    lang,
                    who,
                    lang.pick("Fehler", "Error"),
                    lang.pick(
                        "Das Archiv ist gerade nicht lesbar. Bitte später erneut versuchen.",
                        "The archive cannot be read right now. Please try again later.",
                    ),
                ),
            )
        }
    }
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        pages::CSS,
    )
        .into_response()
}

async fn set_lang(Path(l): Path<String>) -> Response {
    let v = if l == "en" { "en" } else { "de" };
    let mut r = Redirect::to("/").into_response();
    if let Ok(c) = HeaderValue::from_str(&format!(
        "{LANG_COOKIE}={v}; Path=/; SameSite=Strict; Max-Age=31536000"
    )) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

async fn login_page(h: HeaderMap) -> Response {
    html(StatusCode::OK, pages::login(lang(&h), None, "", ""))
}

#[derive(Deserialize)]
struct LoginForm {
    org: String,
    login: String,
    password: String,
}

async fn login_post(State(web): St, Ctx { h, cert }: Ctx, Form(f): Form<LoginForm>) -> Response {
    let l = lang(&h);
    if !same_origin(&h) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let (org, login) = (f.org.trim().to_string(), f.login.trim().to_string());
    if !cert_matches(&web, cert.as_ref(), &org, &login) {
        // Before the password is checked: no password oracle for the
        // holder of someone else's certificate.
        tracing::warn!(org = %org, "sign-in refused: the client certificate names another user");
        let msg = l.pick(
            "Ihr Zertifikat gehört nicht zu diesem Benutzer.",
            "Your certificate does not belong to this user.",
        );
        return html(
            StatusCode::UNAUTHORIZED,
            pages::login(l, Some(msg), &org, &login),
        );
    }
    let w = web.clone();
    let (o, lg) = (org.clone(), login.clone());
    let res =
        tokio::task::spawn_blocking(move || w.users().sign_in(&o, &lg, &f.password, now_ms()))
            .await;
    let msg = match res {
        Ok(Ok(s)) => {
            let secure = if web.secure_cookie { "; Secure" } else { "" };
            let mut r = Redirect::to(if s.must_change { "/password" } else { "/" }).into_response();
            if let Ok(c) = HeaderValue::from_str(&format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict{secure}",
                s.cookie
            )) {
                r.headers_mut().insert(header::SET_COOKIE, c);
            }
            return r;
        }
        Ok(Err(UserError::BadCredentials)) => l.pick(
            "Benutzername oder Passwort falsch.",
            "User name or password wrong.",
        )
        .to_string(),
        Ok(Err(UserError::Refused(Outcome::Wrong { locked_now: true }))) => l.pick(
            "Passwort falsch. Der Zugang ist jetzt gesperrt; die Verwaltung kann ihn entsperren.",
            "Password wrong. The account is now locked; the administration can unlock it.",
        )
        .to_string(),
        Ok(Err(UserError::Refused(Outcome::Throttled { retry_after_ms }))) => match l {
            Lang::De => format!(
                "Zu viele Fehlversuche. Bitte in {} Sekunden erneut versuchen.",
                retry_after_ms.div_ceil(1000)
            ),
            Lang::En => format!(
                "Too many failed attempts. Please try again in {} seconds.",
                retry_after_ms.div_ceil(1000)
            ),
        },
        Ok(Err(UserError::Refused(Outcome::Inactive | Outcome::Locked(_)))) => l.pick(
            "Der Zugang ist gesperrt. Bitte wenden Sie sich an die Verwaltung.",
            "The account is locked. Please contact the administration.",
        )
        .to_string(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "sign-in failed");
            l.pick("Anmeldung gerade nicht möglich.", "Sign-in is not possible right now.")
                .to_string()
        }
        Err(e) => {
            tracing::error!(error = %e, "sign-in worker failed");
            l.pick("Anmeldung gerade nicht möglich.", "Sign-in is not possible right now.")
                .to_string()
        }
    };
    html(
        StatusCode::UNAUTHORIZED,
        pages::login(l, Some(&msg), &org, &login),
    )
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(State(web): St, Ctx { h, cert }: Ctx, Form(f): Form<CsrfForm>) -> Response {
    let Some(s) = session(&web, &h, cert.as_ref()).await else {
        return Redirect::to("/login").into_response();
    };
    if !same_origin(&h) || !token_eq(&f.csrf, &s.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let w = web.clone();
    let _ = tokio::task::spawn_blocking(move || w.users().sign_out(&s.caller, now_ms())).await;
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "__Host-rettpad=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict; Secure",
        ),
    );
    r
}

async fn password_page(State(web): St, Ctx { h, cert }: Ctx) -> Response {
    let Some(s) = session(&web, &h, cert.as_ref()).await else {
        return Redirect::to("/login").into_response();
    };
    html(
        StatusCode::OK,
        pages::password(lang(&h), &s.caller, &s.csrf, s.must_change, &[]),
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    csrf: String,
    old: String,
    new: String,
}

async fn password_post(
    State(web): St,
    Ctx { h, cert }: Ctx,
    Form(f): Form<PasswordForm>,
) -> Response {
    let l = lang(&h);
    let Some(s) = session(&web, &h, cert.as_ref()).await else {
        return Redirect::to("/login").into_response();
    };
    if !same_origin(&h) || !token_eq(&f.csrf, &s.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let w = web.clone();
    let caller = s.caller.clone();
    let res = tokio::task::spawn_blocking(move || {
        w.users().change_password(&caller, &f.old, &f.new, now_ms())
    })
    .await;
    let errors: Vec<String> = match res {
        Ok(Ok(())) => return Redirect::to("/").into_response(),
        Ok(Err(UserError::Policy(v))) => v
            .iter()
            .map(|x| match l {
                Lang::De => x.de(),
                Lang::En => x.en(),
            })
            .collect(),
        Ok(Err(UserError::BadCredentials)) => vec![
            l.pick(
                "Das bisherige Passwort stimmt nicht.",
                "The current password is wrong.",
            )
            .into(),
        ],
        _ => vec![l.pick("Speichern nicht möglich.", "Could not save.").into()],
    };
    html(
        StatusCode::BAD_REQUEST,
        pages::password(l, &s.caller, &s.csrf, s.must_change, &errors),
    )
}

/// The list's query string (every field optional; bad values are ignored).
#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    /// `YYYY-MM-DD`, opened on or after (UTC day).
    #[serde(default)]
    pub von: String,
    /// `YYYY-MM-DD`, opened on or before.
    #[serde(default)]
    pub bis: String,
    #[serde(default)]
    pub wache: String,
    /// The next page: `received_ms~id` of the last row shown.
    #[serde(default)]
    pub nach: String,
}

/// Rows per page.
const PAGE: i64 = 50;

/// Midnight UTC of a `YYYY-MM-DD` date, in ms.
fn day_ms(s: &str) -> Option<i64> {
    let mut it = s.trim().splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let d: i64 = it.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1900..=9999).contains(&y) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400_000)
}

impl ListQuery {
    fn filter(&self) -> rettpad_backoffice::search::Filter {
        let nonempty = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        rettpad_backoffice::search::Filter {
            text: nonempty(&self.q),
            from_ms: day_ms(&self.von),
            to_ms: day_ms(&self.bis).map(|d| d + 86_400_000),
            station: nonempty(&self.wache),
            after: self
                .nach
                .split_once('~')
                .and_then(|(ms, id)| Some((ms.parse().ok()?, parse_id(id)?.to_string()))),
            limit: PAGE,
            ..Default::default()
        }
    }
}

async fn missions(State(web): St, Ctx { h, cert }: Ctx, Query(q): Query<ListQuery>) -> Response {
    let l = lang(&h);
    let s = match signed_in(&web, &h, cert.as_ref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match s.caller.role {
        Role::Auditor => return Redirect::to("/audit").into_response(),
        Role::Admin => return Redirect::to("/admin/users").into_response(),
        _ => {}
    }
    let w = web.clone();
    let caller = s.caller.clone();
    let filter = q.filter();
    let res =
        tokio::task::spawn_blocking(move || Access::new(&w.archive).missions(&caller, &filter))
            .await;
    match res {
        Ok(Ok(rows)) => html(
            StatusCode::OK,
            pages::missions(l, &s.caller, &s.csrf, &rows, &q, rows.len() as i64 == PAGE),
        ),
        Ok(Err(e)) => access_error(l, &s, &e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

pub(crate) fn parse_id(id: &str) -> Option<Uuid> {
    Uuid::parse_str(id).ok()
}

/// Renders the protocol page (`reveal_error` after a refused reason).
async fn protocol_page(
    web: Arc<Web>,
    l: Lang,
    s: Session,
    id: Uuid,
    reveal_error: Option<String>,
) -> Response {
    let caller = s.caller.clone();
    let res = tokio::task::spawn_blocking(move || {
        let acc = Access::new(&web.archive);
        let now = now_ms();
        let summary = acc.summary(&caller, id)?;
        let medical = acc.medical(&caller, id)?;
        let identity = match acc.identity(&caller, id, now) {
            Ok(i) => Some(i),
            Err(AccessError::ReasonRequired) => None,
            Err(e) => return Err(e),
        };
        let free_text = acc.free_text(&caller, id, now).ok();
        let changes = acc.changes(&caller, id)?;
        let intact = acc.document_intact(&caller, id, "protocol.pdf")?;
        let edits = crate::web_edits::load(&web, &caller, id)?;
        Ok((
            summary, medical, identity, free_text, changes, intact, edits,
        ))
    })
    .await;
    match res {
        Ok(Ok((summary, medical, identity, free_text, changes, pdf_intact, edits))) => html(
            if reveal_error.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            },
            pages::protocol(
                l,
                &s.caller,
                &s.csrf,
                &pages::ProtocolPage {
                    summary: &summary,
                    medical: &medical,
                    identity: identity.as_ref(),
                    free_text: free_text.as_ref(),
                    changes: &changes,
                    pdf_intact,
                    reveal_error: reveal_error.as_deref(),
                    edits: &crate::web_edits::section(l, &s.csrf, id, &edits),
                },
            ),
        ),
        Ok(Err(e)) => access_error(l, &s, &e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn protocol(State(web): St, Ctx { h, cert }: Ctx, Path(id): Path<String>) -> Response {
    let l = lang(&h);
    let s = match signed_in(&web, &h, cert.as_ref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(id) = parse_id(&id) else {
        return access_error(l, &s, &AccessError::NotFound);
    };
    protocol_page(web, l, s, id, None).await
}

#[derive(Deserialize)]
struct RevealForm {
    csrf: String,
    category: String,
    #[serde(default)]
    reason: String,
}

async fn reveal(
    State(web): St,
    Ctx { h, cert }: Ctx,
    Path(id): Path<String>,
    Form(f): Form<RevealForm>,
) -> Response {
    let l = lang(&h);
    let s = match signed_in(&web, &h, cert.as_ref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same_origin(&h) || !token_eq(&f.csrf, &s.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(id) = parse_id(&id) else {
        return access_error(l, &s, &AccessError::NotFound);
    };
    let category = match f.category.as_str() {
        "qm" => ReasonCategory::Qm,
        "hospital_linkage" => ReasonCategory::HospitalLinkage,
        "legal" => ReasonCategory::Legal,
        "billing" => ReasonCategory::Billing,
        _ => ReasonCategory::Other,
    };
    let w = web.clone();
    let caller = s.caller.clone();
    let res = tokio::task::spawn_blocking(move || {
        Access::new(&w.archive).reveal(&caller, id, category, &f.reason, now_ms())
    })
    .await;
    match res {
        Ok(Ok(_)) => Redirect::to(&format!("/p/{id}")).into_response(),
        Ok(Err(AccessError::ReasonRequired)) => {
            let msg = l.pick(
                "Bitte geben Sie eine Begründung mit mindestens 10 Zeichen an.",
                "Please give a reason of at least 10 characters.",
            );
            protocol_page(web, l, s, id, Some(msg.into())).await
        }
        Ok(Err(e)) => access_error(l, &s, &e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn pdf(State(web): St, Ctx { h, cert }: Ctx, Path(id): Path<String>) -> Response {
    let l = lang(&h);
    let s = match signed_in(&web, &h, cert.as_ref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(id) = parse_id(&id) else {
        return access_error(l, &s, &AccessError::NotFound);
    };
    let w = web.clone();
    let caller = s.caller.clone();
    let res = tokio::task::spawn_blocking(move || {
        Access::new(&w.archive).document(&caller, id, "protocol.pdf", now_ms())
    })
    .await;
    match res {
        Ok(Ok(bytes)) => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"protokoll-{id}.pdf\""),
                ),
            ],
            bytes,
        )
            .into_response(),
        Ok(Err(e)) => access_error(l, &s, &e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn audit(State(web): St, Ctx { h, cert }: Ctx) -> Response {
    let l = lang(&h);
    let s = match signed_in(&web, &h, cert.as_ref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let w = web.clone();
    let caller = s.caller.clone();
    let res = tokio::task::spawn_blocking(move || {
        let events = Access::new(&w.archive).audit_log(&caller, None)?;
        let chain_ok = verify_audit_chain(&w.archive, &caller.org).is_ok();
        Ok::<_, AccessError>((events, chain_ok))
    })
    .await;
    match res {
        Ok(Ok((events, ok))) => html(
            StatusCode::OK,
            pages::audit(l, &s.caller, &s.csrf, &events, ok),
        ),
        Ok(Err(e)) => access_error(l, &s, &e),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
