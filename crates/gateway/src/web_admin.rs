//! User and station administration (seed §2.7.3, §2.7.5): the
//! administration and the head of service manage their own organisation's
//! users and stations. Every rule (who may grant which role, no change to
//! oneself, another organisation's ids not found) and every audit entry is
//! in `rettpad_backoffice::admin`; this file renders and parses.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use rettpad_backoffice::access::{Caller, Role};
use rettpad_backoffice::admin::{Admin, AdminError, StationRow, UserRow, may_grant};
use rettpad_backoffice::auth::LockReason;
use rettpad_backoffice::users::NewUser;
use rettpad_text::Lang;
use serde::Deserialize;
use uuid::Uuid;

use crate::board::esc;
use crate::web::{
    Ctx, Session, St, Web, html, lang, now_ms, parse_id, same_origin, signed_in, token_eq,
};
use crate::web_pages::{layout, role_label};

pub fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/admin/users", get(users_page).post(create_user))
        .route("/admin/users/{id}/{action}", post(user_action))
        .route("/admin/stations", get(stations_page).post(create_station))
        .route("/admin/stations/{id}", post(rename_station))
}

/// The roles offered in the forms: those the caller may grant.
const ROLES: [Role; 5] = [
    Role::Crew,
    Role::StationLead,
    Role::HeadOfService,
    Role::Admin,
    Role::Auditor,
];

fn admin(web: &Web) -> Admin<'_> {
    Admin::new(&web.archive, web.policy.clone(), web.params)
}

fn manages(c: &Caller) -> bool {
    matches!(c.role, Role::Admin | Role::HeadOfService)
}

fn error_text(l: Lang, e: &AdminError) -> String {
    match l {
        Lang::De => e.de(),
        Lang::En => e.to_string(),
    }
}

/// A signed-in administrator and a checked form token, or the answer.
async fn gate(web: &Arc<Web>, cx: &Ctx, csrf: Option<&str>) -> Result<Session, Response> {
    let s = signed_in(web, &cx.h, cx.cert.as_ref()).await?;
    if let Some(t) = csrf
        && (!same_origin(&cx.h) || !token_eq(t, &s.csrf))
    {
        return Err(StatusCode::FORBIDDEN.into_response());
    }
    if !manages(&s.caller) {
        let l = lang(&cx.h);
        return Err(html(
            StatusCode::FORBIDDEN,
            crate::web_pages::message(
                l,
                Some((&s.caller, &s.csrf)),
                l.pick("Kein Zugriff", "No access"),
                l.pick(
                    "Ihre Rolle erlaubt diese Seite nicht.",
                    "Your role does not allow this page.",
                ),
            ),
        ));
    }
    Ok(s)
}

fn stations_of(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

async fn users_page(axum::extract::State(web): St, cx: Ctx) -> Response {
    let s = match gate(&web, &cx, None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    render_users(&web, lang(&cx.h), &s, StatusCode::OK, None).await
}

/// The user list with `notice` (an error, or a transport password shown
/// once) above it.
async fn render_users(
    web: &Arc<Web>,
    l: Lang,
    s: &Session,
    status: StatusCode,
    notice: Option<Notice>,
) -> Response {
    let (w, caller) = (web.clone(), s.caller.clone());
    let res = tokio::task::spawn_blocking(move || {
        let a = admin(&w);
        let now = now_ms();
        Ok::<_, AdminError>((a.users(&caller, now)?, a.stations(&caller, now)?))
    })
    .await;
    let alarm = web
        .backup_status
        .as_deref()
        .and_then(|d| backup_alarm(l, &crate::backup::status(d), now_ms()));
    match res {
        Ok(Ok((users, stations))) => html(
            status,
            users_html(
                l,
                &s.caller,
                &s.csrf,
                &users,
                &stations,
                notice.as_ref(),
                alarm.as_deref(),
            ),
        ),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "user list failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

enum Notice {
    Error(String),
    /// (login, transport password): shown once, never stored.
    Password(String, String),
}

#[derive(Deserialize)]
struct NewUserForm {
    csrf: String,
    login: String,
    given: String,
    family: String,
    role: String,
    #[serde(default)]
    stations: String,
    #[serde(default)]
    staff_id: String,
}

async fn create_user(
    axum::extract::State(web): St,
    cx: Ctx,
    Form(f): Form<NewUserForm>,
) -> Response {
    let l = lang(&cx.h);
    let s = match gate(&web, &cx, Some(&f.csrf)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(role) = Role::parse(&f.role) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let (w, caller) = (web.clone(), s.caller.clone());
    let res = tokio::task::spawn_blocking(move || {
        let stations = stations_of(&f.stations);
        let staff = f.staff_id.trim();
        admin(&w)
            .create_user(
                &caller,
                &NewUser {
                    login: f.login.trim(),
                    given_name: f.given.trim(),
                    family_name: f.family.trim(),
                    role,
                    stations: &stations,
                    district: &[],
                    staff_id: (!staff.is_empty()).then_some(staff),
                },
                now_ms(),
            )
            .map(|c| (f.login.trim().to_string(), c.transport_password.to_string()))
    })
    .await;
    match res {
        Ok(Ok((login, pw))) => {
            render_users(
                &web,
                l,
                &s,
                StatusCode::OK,
                Some(Notice::Password(login, pw)),
            )
            .await
        }
        Ok(Err(e)) => {
            let st = if e.is_forbidden() {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            render_users(&web, l, &s, st, Some(Notice::Error(error_text(l, &e)))).await
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[derive(Deserialize)]
struct ActionForm {
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    stations: String,
}

async fn user_action(
    axum::extract::State(web): St,
    cx: Ctx,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<ActionForm>,
) -> Response {
    let l = lang(&cx.h);
    let s = match gate(&web, &cx, Some(&f.csrf)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(id) = parse_id(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let role = Role::parse(&f.role);
    let (w, caller) = (web.clone(), s.caller.clone());
    let res = tokio::task::spawn_blocking(move || {
        let a = admin(&w);
        let now = now_ms();
        match action.as_str() {
            "unlock" => a.unlock(&caller, id, now).map(|_| None),
            "disable" => a.disable(&caller, id, now).map(|_| None),
            "enable" => a.enable(&caller, id, now).map(|_| None),
            "reset" => a
                .reset_password(&caller, id, now)
                .map(|pw| Some((login_of(&a, &caller, id), pw.to_string()))),
            "role" => match role {
                Some(r) => a
                    .set_role(&caller, id, r, &stations_of(&f.stations), now)
                    .map(|_| None),
                None => Err(AdminError::forbidden()),
            },
            _ => Err(AdminError::UserNotFound),
        }
    })
    .await;
    match res {
        Ok(Ok(None)) => Redirect::to("/admin/users").into_response(),
        Ok(Ok(Some((login, pw)))) => {
            render_users(
                &web,
                l,
                &s,
                StatusCode::OK,
                Some(Notice::Password(login, pw)),
            )
            .await
        }
        Ok(Err(AdminError::UserNotFound)) => StatusCode::NOT_FOUND.into_response(),
        Ok(Err(e)) => {
            let st = if e.is_forbidden() {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::BAD_REQUEST
            };
            render_users(&web, l, &s, st, Some(Notice::Error(error_text(l, &e)))).await
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn login_of(a: &Admin<'_>, caller: &Caller, id: Uuid) -> String {
    a.users(caller, now_ms())
        .ok()
        .and_then(|u| u.into_iter().find(|u| u.id == id))
        .map(|u| u.login)
        .unwrap_or_default()
}

async fn stations_page(axum::extract::State(web): St, cx: Ctx) -> Response {
    let s = match gate(&web, &cx, None).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    render_stations(&web, lang(&cx.h), &s, StatusCode::OK, None).await
}

async fn render_stations(
    web: &Arc<Web>,
    l: Lang,
    s: &Session,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let (w, caller) = (web.clone(), s.caller.clone());
    match tokio::task::spawn_blocking(move || admin(&w).stations(&caller, now_ms())).await {
        Ok(Ok(rows)) => html(
            status,
            stations_html(l, &s.caller, &s.csrf, &rows, error.as_deref()),
        ),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

#[derive(Deserialize)]
struct StationForm {
    csrf: String,
    #[serde(default)]
    id: String,
    name: String,
}

async fn create_station(
    axum::extract::State(web): St,
    cx: Ctx,
    Form(f): Form<StationForm>,
) -> Response {
    station_change(web, cx, None, f).await
}

async fn rename_station(
    axum::extract::State(web): St,
    cx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<StationForm>,
) -> Response {
    station_change(web, cx, Some(id), f).await
}

async fn station_change(web: Arc<Web>, cx: Ctx, id: Option<String>, f: StationForm) -> Response {
    let l = lang(&cx.h);
    let s = match gate(&web, &cx, Some(&f.csrf)).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let (w, caller) = (web.clone(), s.caller.clone());
    let res = tokio::task::spawn_blocking(move || {
        let a = admin(&w);
        match id {
            Some(id) => a.rename_station(&caller, &id, &f.name, now_ms()),
            None => a.create_station(&caller, f.id.trim(), &f.name, now_ms()),
        }
    })
    .await;
    match res {
        Ok(Ok(())) => Redirect::to("/admin/stations").into_response(),
        Ok(Err(AdminError::StationNotFound)) => StatusCode::NOT_FOUND.into_response(),
        Ok(Err(e)) => {
            render_stations(
                &web,
                l,
                &s,
                StatusCode::BAD_REQUEST,
                Some(error_text(l, &e)),
            )
            .await
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn tabs(l: Lang) -> String {
    format!(
        "<nav class=\"tabs\"><a href=\"/admin/users\">{}</a> <a href=\"/admin/stations\">{}</a></nav>",
        l.pick("Benutzer", "Users"),
        l.pick("Wachen", "Stations")
    )
}

fn state_label(u: &UserRow, l: Lang) -> String {
    let mut parts = Vec::new();
    match u.locked {
        Some(LockReason::Disabled) => parts.push(l.pick("deaktiviert", "disabled")),
        Some(LockReason::TooManyFailures) => {
            parts.push(l.pick("gesperrt (Fehlversuche)", "locked (failed attempts)"))
        }
        Some(LockReason::Inactive) => parts.push(l.pick("gesperrt (inaktiv)", "locked (inactive)")),
        Some(LockReason::Admin) => parts.push(l.pick("gesperrt", "locked")),
        None => parts.push(l.pick("aktiv", "active")),
    }
    if u.must_change {
        parts.push(l.pick("Passwortwechsel fällig", "password change due"));
    }
    parts.join(", ")
}

fn role_select(l: Lang, by: Role, selected: Role) -> String {
    let opts: String = ROLES
        .iter()
        .filter(|r| may_grant(by, **r) || **r == selected)
        .map(|r| {
            format!(
                "<option value=\"{}\"{}>{}</option>",
                r.name(),
                if *r == selected { " selected" } else { "" },
                role_label(*r, l)
            )
        })
        .collect();
    format!("<select name=\"role\">{opts}</select>")
}

fn button(path: &str, csrf: &str, label: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\" class=\"inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <button type=\"submit\">{}</button></form>",
        esc(path),
        esc(csrf),
        esc(label)
    )
}

/// A failed, overdue or missing backup, as the administration sees it.
fn backup_alarm(l: Lang, s: &crate::backup::Status, now: i64) -> Option<String> {
    const OVERDUE_MS: i64 = 36 * 3_600_000;
    let text = match (s.last_ok_ms, s.last_error_ms) {
        (ok, Some(err)) if ok.is_none_or(|ok| err > ok) => match l {
            Lang::De => format!(
                "Die letzte Datensicherung ist fehlgeschlagen ({}): {}",
                rettpad_record::text::date_time_text(err),
                s.last_error.as_deref().unwrap_or("")
            ),
            Lang::En => format!(
                "The last backup failed ({}): {}",
                rettpad_record::text::date_time_text(err),
                s.last_error.as_deref().unwrap_or("")
            ),
        },
        (None, _) => l
            .pick(
                "Es gibt noch keine Datensicherung.",
                "There is no backup yet.",
            )
            .to_string(),
        (Some(ok), _) if now - ok > OVERDUE_MS => match l {
            Lang::De => format!(
                "Die letzte Datensicherung ist älter als 36 Stunden ({}).",
                rettpad_record::text::date_time_text(ok)
            ),
            Lang::En => format!(
                "The last backup is older than 36 hours ({}).",
                rettpad_record::text::date_time_text(ok)
            ),
        },
        _ => return None,
    };
    Some(format!(
        "<p class=\"error\" role=\"alert\">{}</p>",
        esc(&text)
    ))
}

fn users_html(
    l: Lang,
    c: &Caller,
    csrf: &str,
    users: &[UserRow],
    stations: &[StationRow],
    notice: Option<&Notice>,
    alarm: Option<&str>,
) -> String {
    let notice = match notice {
        None => String::new(),
        Some(Notice::Error(e)) => format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)),
        Some(Notice::Password(login, pw)) => format!(
            "<p class=\"notice\" role=\"status\">{} <strong>{}</strong>: <code>{}</code><br>{}</p>",
            l.pick("Transportpasswort für", "Transport password for"),
            esc(login),
            esc(pw),
            l.pick(
                "Nur jetzt sichtbar. Bitte persönlich übergeben; es muss bei der ersten Anmeldung geändert werden.",
                "Shown only now. Hand it over in person; it must be changed at the first sign-in.",
            )
        ),
    };
    let rows: String = users
        .iter()
        .map(|u| {
            let base = format!("/admin/users/{}", u.id);
            let mut actions = String::new();
            if u.id != c.user {
                if matches!(
                    u.locked,
                    Some(LockReason::TooManyFailures | LockReason::Inactive | LockReason::Admin)
                ) {
                    actions.push_str(&button(
                        &format!("{base}/unlock"),
                        csrf,
                        l.pick("Entsperren", "Unlock"),
                    ));
                }
                if u.disabled {
                    actions.push_str(&button(
                        &format!("{base}/enable"),
                        csrf,
                        l.pick("Aktivieren", "Enable"),
                    ));
                } else {
                    actions.push_str(&button(
                        &format!("{base}/disable"),
                        csrf,
                        l.pick("Deaktivieren", "Disable"),
                    ));
                }
                actions.push_str(&button(
                    &format!("{base}/reset"),
                    csrf,
                    l.pick("Neues Transportpasswort", "New transport password"),
                ));
                if u.role != Role::MedicalDirector {
                    actions.push_str(&format!(
                        "<form method=\"post\" action=\"{}/role\" class=\"inline\">\
                         <input type=\"hidden\" name=\"csrf\" value=\"{}\">{}\
                         <input name=\"stations\" value=\"{}\" placeholder=\"{}\" size=\"12\">\
                         <button type=\"submit\">{}</button></form>",
                        esc(&base),
                        esc(csrf),
                        role_select(l, c.role, u.role),
                        esc(&u.stations.join(",")),
                        l.pick("Wachen", "Stations"),
                        l.pick("Rolle ändern", "Change role")
                    ));
                }
            }
            format!(
                "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{actions}</td></tr>",
                esc(&u.login),
                esc(&u.given_name),
                esc(&u.family_name),
                role_label(u.role, l),
                esc(&u.stations.join(", ")),
                esc(&state_label(u, l)),
                u.last_login_ms
                    .map(|ms| crate::web_pages::when(Some(ms)))
                    .unwrap_or_else(|| "–".into()),
            )
        })
        .collect();
    let station_hint: String = stations
        .iter()
        .map(|s| format!("{} ({})", s.id, s.name))
        .collect::<Vec<_>>()
        .join(", ");
    let body = format!(
        "<section><h1>{}</h1>{}{}{notice}\
         <table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th></th></tr></thead>\
         <tbody>{rows}</tbody></table></section>\
         <section><h2>{}</h2><form method=\"post\" action=\"/admin/users\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>{}<input name=\"login\" required maxlength=\"64\"></label>\
         <label>{}<input name=\"given\" required maxlength=\"80\"></label>\
         <label>{}<input name=\"family\" required maxlength=\"80\"></label>\
         <label>{}{}</label>\
         <label>{}<input name=\"stations\" placeholder=\"{}\"></label>\
         <label>{}<input name=\"staff_id\" maxlength=\"64\"></label>\
         <button class=\"primary\" type=\"submit\">{}</button></form></section>",
        l.pick("Benutzer", "Users"),
        tabs(l),
        alarm.unwrap_or_default(),
        l.pick("Anmeldename", "Login"),
        l.pick("Name", "Name"),
        l.pick("Rolle", "Role"),
        l.pick("Wachen", "Stations"),
        l.pick("Zustand", "State"),
        l.pick("Letzte Anmeldung", "Last sign-in"),
        l.pick("Benutzer anlegen", "Create user"),
        esc(csrf),
        l.pick("Anmeldename", "Login"),
        l.pick("Vorname", "Given name"),
        l.pick("Nachname", "Family name"),
        l.pick("Rolle", "Role"),
        role_select(l, c.role, Role::Crew),
        l.pick(
            "Wachen (Kennungen, mit Komma)",
            "Stations (ids, comma-separated)"
        ),
        esc(&station_hint),
        l.pick("Personalnummer (Besatzung)", "Staff id (crew)"),
        l.pick("Anlegen", "Create"),
    );
    layout(l, l.pick("Benutzer", "Users"), Some((c, csrf)), &body)
}

fn stations_html(
    l: Lang,
    c: &Caller,
    csrf: &str,
    rows: &[StationRow],
    error: Option<&str>,
) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    let rows: String = rows
        .iter()
        .map(|s| {
            format!(
                "<tr><td>{}</td><td><form method=\"post\" action=\"/admin/stations/{}\" class=\"inline\">\
                 <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <input name=\"name\" value=\"{}\" maxlength=\"80\" aria-label=\"{}\">\
                 <button type=\"submit\">{}</button></form></td></tr>",
                esc(&s.id),
                esc(&s.id),
                esc(csrf),
                esc(&s.name),
                l.pick("Name", "Name"),
                l.pick("Umbenennen", "Rename")
            )
        })
        .collect();
    let body = format!(
        "<section><h1>{}</h1>{}{error}<table><thead><tr><th>{}</th><th>{}</th></tr></thead><tbody>{rows}</tbody></table></section>\
         <section><h2>{}</h2><form method=\"post\" action=\"/admin/stations\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label>{}<input name=\"id\" required maxlength=\"32\" pattern=\"[A-Za-z0-9_-]+\"></label>\
         <label>{}<input name=\"name\" required maxlength=\"80\"></label>\
         <button class=\"primary\" type=\"submit\">{}</button></form></section>",
        l.pick("Wachen", "Stations"),
        tabs(l),
        l.pick("Kennung", "Id"),
        l.pick("Name", "Name"),
        l.pick("Wache anlegen", "Create station"),
        esc(csrf),
        l.pick("Kennung", "Id"),
        l.pick("Name", "Name"),
        l.pick("Anlegen", "Create"),
    );
    layout(l, l.pick("Wachen", "Stations"), Some((c, csrf)), &body)
}

#[cfg(test)]
mod tests {
    use super::backup_alarm;
    use crate::backup::Status;
    use rettpad_text::Lang;

    #[test]
    fn the_administration_sees_a_failed_overdue_or_missing_backup() {
        let now = 1_900_000_000_000;
        let hour = 3_600_000;
        let alarm = |s: Status| backup_alarm(Lang::De, &s, now);
        assert!(alarm(Status::default()).unwrap().contains("noch keine"));
        let ok = Status {
            last_ok_ms: Some(now - hour),
            ..Status::default()
        };
        assert_eq!(alarm(ok.clone()), None);
        let failed = Status {
            last_error_ms: Some(now - 10),
            last_error: Some("cannot write the backup to /mnt/sicherung: No space left".into()),
            ..ok.clone()
        };
        let text = alarm(failed).unwrap();
        assert!(text.contains("fehlgeschlagen") && text.contains("No space left"));
        // A failure before the last success is history.
        let healed = Status {
            last_error_ms: Some(now - 2 * hour),
            last_error: Some("x".into()),
            ..ok
        };
        assert_eq!(alarm(healed), None);
        let old = Status {
            last_ok_ms: Some(now - 40 * hour),
            ..Status::default()
        };
        assert!(alarm(old).unwrap().contains("älter als 36 Stunden"));
    }
}
