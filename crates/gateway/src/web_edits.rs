//! The crew's edits after closing (seed §2.7.1): a personal remark only
//! its author sees, and corrections of the few rescue-technical fields,
//! shown beside the filed value to everyone who may see the protocol. The
//! medical record stays as filed; rules and audit entries live in
//! `rettpad_backoffice::edits`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use rettpad_backoffice::access::{AccessError, Caller, Role};
use rettpad_backoffice::edits::{
    CORRECTABLE, Correction, EditError, Edits, MAX_REMARK_CHARS, Remark,
};
use rettpad_record::catalog;
use rettpad_text::Lang;
use serde::Deserialize;
use uuid::Uuid;

use crate::board::esc;
use crate::web::{
    Ctx, St, Web, access_error, html, lang, now_ms, parse_id, same_origin, signed_in, token_eq,
};
use rettpad_record::text::date_time_text;

pub fn routes() -> Router<Arc<Web>> {
    Router::new()
        .route("/p/{id}/remark", post(remark))
        .route("/p/{id}/correct", post(correct))
}

/// What the protocol page shows of the edits: the corrections, and for
/// the crew their own remark (`Some(None)`: none yet, but may write one).
pub struct Shown {
    pub corrections: Vec<Correction>,
    pub remark: Option<Option<Remark>>,
}

/// Loads the edits for the protocol page (on a blocking worker).
pub fn load(web: &Web, caller: &Caller, id: Uuid) -> Result<Shown, AccessError> {
    let e = Edits::new(&web.archive);
    let corrections = match e.corrections(caller, id) {
        Ok(c) => c,
        Err(EditError::Access(a)) => return Err(a),
        Err(_) => Vec::new(),
    };
    let remark = if caller.role == Role::Crew {
        match e.remark(caller, id) {
            Ok(r) => Some(r),
            Err(EditError::Access(AccessError::NotFound | AccessError::Forbidden)) => None,
            Err(EditError::Access(a)) => return Err(a),
            Err(_) => None,
        }
    } else {
        None
    };
    Ok(Shown {
        corrections,
        remark,
    })
}

fn label(key: &str, l: Lang) -> String {
    catalog::field(key)
        .map(|d| rettpad_record::text::field_label(d, l).to_string())
        .unwrap_or_else(|| key.to_string())
}

/// The section of the protocol page.
pub fn section(l: Lang, csrf: &str, id: Uuid, s: &Shown) -> String {
    let mut out = format!(
        "<section id=\"edits\"><h2>{}</h2>",
        l.pick(
            "Nachträge der Besatzung (einsatztechnisch)",
            "Crew corrections (operational)"
        )
    );
    let current: Vec<&Correction> = s.corrections.iter().filter(|c| !c.superseded).collect();
    if current.is_empty() {
        out.push_str(&format!(
            "<p class=\"muted\">{}</p>",
            l.pick("Keine.", "None.")
        ));
    } else {
        let rows: String = current
            .iter()
            .map(|c| {
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&label(&c.field, l)),
                    esc(c.original.as_deref().unwrap_or("–")),
                    esc(&c.value),
                    esc(&c.login),
                    esc(&date_time_text(c.at_ms))
                )
            })
            .collect();
        out.push_str(&format!(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{rows}</tbody></table>",
            l.pick("Feld", "Field"),
            l.pick("dokumentiert", "as filed"),
            l.pick("korrigiert", "corrected"),
            l.pick("von", "by"),
            l.pick("Zeit", "Time"),
        ));
    }
    if let Some(remark) = &s.remark {
        let options: String = CORRECTABLE
            .iter()
            .map(|k| {
                format!(
                    "<option value=\"{}\">{}</option>",
                    esc(k),
                    esc(&label(k, l))
                )
            })
            .collect();
        out.push_str(&format!(
            "<form method=\"post\" action=\"/p/{id}/correct\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <label>{}<select name=\"field\">{options}</select></label>\
             <label>{}<input name=\"value\" maxlength=\"80\"></label>\
             <button class=\"primary\" type=\"submit\">{}</button></form>",
            esc(csrf),
            l.pick("Feld", "Field"),
            l.pick("Wert (ja/nein: true/false)", "Value (yes/no: true/false)"),
            l.pick("Korrigieren", "Correct"),
        ));
        out.push_str(&format!(
            "<h2>{}</h2><p class=\"muted\">{}</p>\
             <form method=\"post\" action=\"/p/{id}/remark\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <textarea name=\"text\" rows=\"4\" maxlength=\"{MAX_REMARK_CHARS}\" aria-label=\"{}\">{}</textarea>\
             <button class=\"primary\" type=\"submit\">{}</button></form>",
            l.pick("Persönliche Bemerkung", "Personal remark"),
            l.pick(
                "Nur für Sie sichtbar; jede Änderung wird protokolliert.",
                "Visible only to you; every change is logged."
            ),
            esc(csrf),
            l.pick("Persönliche Bemerkung", "Personal remark"),
            esc(remark.as_ref().map_or("", |r| r.text.as_str())),
            l.pick("Speichern", "Save"),
        ));
    }
    out.push_str("</section>");
    out
}

#[derive(Deserialize)]
struct RemarkForm {
    csrf: String,
    text: String,
}

#[derive(Deserialize)]
struct CorrectForm {
    csrf: String,
    field: String,
    value: String,
}

async fn remark(
    State(web): St,
    cx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<RemarkForm>,
) -> Response {
    apply(web, cx, id, f.csrf.clone(), move |e, c, id| {
        e.set_remark(c, id, &f.text, now_ms())
    })
    .await
}

async fn correct(
    State(web): St,
    cx: Ctx,
    Path(id): Path<String>,
    Form(f): Form<CorrectForm>,
) -> Response {
    apply(web, cx, id, f.csrf.clone(), move |e, c, id| {
        e.correct(c, id, &f.field, &f.value, now_ms())
    })
    .await
}

async fn apply(
    web: Arc<Web>,
    cx: Ctx,
    id: String,
    csrf: String,
    op: impl FnOnce(&Edits<'_>, &Caller, Uuid) -> Result<(), EditError> + Send + 'static,
) -> Response {
    let l = lang(&cx.h);
    let s = match signed_in(&web, &cx.h, cx.cert.as_ref()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !same_origin(&cx.h) || !token_eq(&csrf, &s.csrf) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(id) = parse_id(&id) else {
        return access_error(l, &s, &AccessError::NotFound);
    };
    let (w, caller) = (web.clone(), s.caller.clone());
    let res = tokio::task::spawn_blocking(move || op(&Edits::new(&w.archive), &caller, id)).await;
    match res {
        Ok(Ok(())) => Redirect::to(&format!("/p/{id}")).into_response(),
        Ok(Err(EditError::Access(a))) => access_error(l, &s, &a),
        Ok(Err(e)) => {
            let text = match l {
                Lang::De => e.de(),
                Lang::En => e.to_string(),
            };
            html(
                StatusCode::BAD_REQUEST,
                crate::web_pages::message(
                    l,
                    Some((&s.caller, &s.csrf)),
                    l.pick("Nicht gespeichert", "Not saved"),
                    &text,
                ),
            )
        }
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
