//! The back office's pages: server-rendered HTML, no scripts, every value
//! escaped, German with English. Pure functions; `web` decides who sees
//! which page.

use std::collections::BTreeMap;

use rettpad_backoffice::access::{AuditEvent, Caller, Role};
use rettpad_backoffice::archive::{Change, Summary};
use rettpad_record::catalog;
use rettpad_record::text::{date_time_text, value_by_key};
use rettpad_record::value::Value;
use rettpad_text::Lang;
use serde_json::Value as Json;

use crate::board::esc;

pub const CSS: &str = "
*{box-sizing:border-box}body{margin:0;font:16px/1.45 system-ui,'DejaVu Sans',sans-serif;color:#1b1f24;background:#f3f4f6}
header{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;padding:.7rem 1.2rem;background:#b3121b;color:#fff}
header a,header button{color:#fff;background:none;border:0;font:inherit;cursor:pointer;text-decoration:underline}
header .brand{font-weight:700;font-size:1.15rem;text-decoration:none}header form{margin:0}
main{max-width:1100px;margin:1.2rem auto;padding:0 1rem}
section{background:#fff;border:1px solid #d5d9df;border-radius:6px;padding:1rem 1.2rem;margin-bottom:1rem}
h1{font-size:1.4rem;margin:.2rem 0 1rem}h2{font-size:1.1rem;margin:0 0 .6rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{font-weight:600;color:#4a5361}tr:hover td{background:#fafbfc}
label{display:block;margin:.6rem 0 .2rem;font-weight:600}
input,select,textarea{font:inherit;padding:.5rem;border:1px solid #9aa3af;border-radius:4px;width:100%;max-width:28rem;min-height:2.6rem}
textarea{max-width:100%;min-height:5rem}
button.primary{margin-top:1rem;padding:.6rem 1.2rem;font:inherit;font-weight:600;color:#fff;background:#b3121b;border:0;border-radius:4px;min-height:2.8rem;cursor:pointer}
.error{background:#fde8e8;border:1px solid #e0a0a0;padding:.6rem .8rem;border-radius:4px;margin:.6rem 0}
.ok{color:#1d6b2f;font-weight:600}.bad{color:#b3121b;font-weight:600}.muted{color:#5b6472}
.hidden-id{background:#fff7e0;border:1px dashed #c99a00;padding:.8rem;border-radius:4px}
.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:flex-end}.filters label{margin:0}
.filters button{margin-top:0}
.notice{background:#e8f4ea;border:1px solid #9cc9a5;padding:.6rem .8rem;border-radius:4px;margin:.6rem 0}
.notice code{font-size:1.1rem;font-weight:700;letter-spacing:.05em}
nav.tabs{display:flex;gap:1.2rem;margin:0 0 1rem}
form.inline{display:inline-flex;flex-wrap:wrap;gap:.3rem;align-items:center;margin:0 .3rem .3rem 0}
form.inline input,form.inline select{width:auto;min-height:2.3rem;padding:.3rem}
form.inline button{padding:.35rem .7rem;font:inherit;border:1px solid #9aa3af;border-radius:4px;background:#fff;cursor:pointer;min-height:2.3rem}
@media (max-width:700px){td,th{padding:.35rem .25rem;font-size:.95rem}}
";

pub fn role_label(r: Role, lang: Lang) -> &'static str {
    match r {
        Role::Crew => lang.pick("Einsatzpersonal", "Crew"),
        Role::StationLead => lang.pick("Wachleitung", "Station lead"),
        Role::HeadOfService => lang.pick("Leitung Rettungsdienst", "Head of service"),
        Role::MedicalDirector => lang.pick("Ärztliche Leitung RD", "Medical director"),
        Role::Admin => lang.pick("Verwaltung", "Administration"),
        Role::Auditor => lang.pick("Datenschutz", "Data protection"),
    }
}

/// The page frame. `caller` None: the sign-in pages.
pub fn layout(lang: Lang, title: &str, caller: Option<(&Caller, &str)>, body: &str) -> String {
    let nav = match caller {
        Some((c, csrf)) => {
            let missions = if c.role.sees_protocols() {
                format!("<a href=\"/\">{}</a>", lang.pick("Einsätze", "Missions"))
            } else {
                String::new()
            };
            let admin = if matches!(c.role, Role::Admin | Role::HeadOfService) {
                format!(
                    "<a href=\"/admin/users\">{}</a>",
                    lang.pick("Verwaltung", "Administration")
                )
            } else {
                String::new()
            };
            let audit = if c.role == Role::Auditor {
                format!(
                    "<a href=\"/audit\">{}</a>",
                    lang.pick("Protokoll der Zugriffe", "Access log")
                )
            } else {
                String::new()
            };
            format!(
                "{missions}{admin}{audit}<span>{} · {}</span>\
                 <form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <button type=\"submit\">{}</button></form>",
                esc(&c.login),
                role_label(c.role, lang),
                esc(csrf),
                lang.pick("Abmelden", "Sign out")
            )
        }
        None => String::new(),
    };
    let other = match lang {
        Lang::De => "<a href=\"/lang/en\" lang=\"en\">English</a>",
        Lang::En => "<a href=\"/lang/de\" lang=\"de\">Deutsch</a>",
    };
    format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} – rettpad</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head><body>\
         <header><a class=\"brand\" href=\"/\">rettpad Backoffice</a>{nav}{other}</header>\
         <main>{body}</main></body></html>",
        lang.code(),
        esc(title)
    )
}

pub fn login(lang: Lang, error: Option<&str>, org: &str, login: &str) -> String {
    let err = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    let body = format!(
        "<section><h1>{}</h1>{err}<form method=\"post\" action=\"/login\">\
         <label for=\"org\">{}</label><input id=\"org\" name=\"org\" value=\"{}\" autocomplete=\"organization\" required>\
         <label for=\"login\">{}</label><input id=\"login\" name=\"login\" value=\"{}\" autocomplete=\"username\" required>\
         <label for=\"password\">{}</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button class=\"primary\" type=\"submit\">{}</button></form></section>",
        lang.pick("Anmelden", "Sign in"),
        lang.pick("Organisation", "Organisation"),
        esc(org),
        lang.pick("Benutzername", "User name"),
        esc(login),
        lang.pick("Passwort", "Password"),
        lang.pick("Anmelden", "Sign in"),
    );
    layout(lang, lang.pick("Anmelden", "Sign in"), None, &body)
}

pub fn password(lang: Lang, c: &Caller, csrf: &str, must: bool, errors: &[String]) -> String {
    let intro = if must {
        format!(
            "<p>{}</p>",
            lang.pick(
                "Bitte vergeben Sie ein eigenes Passwort, bevor Sie weiterarbeiten.",
                "Please choose your own password before you continue."
            )
        )
    } else {
        String::new()
    };
    let errs: String = errors
        .iter()
        .map(|e| format!("<li>{}</li>", esc(e)))
        .collect();
    let errs = if errs.is_empty() {
        String::new()
    } else {
        format!("<div class=\"error\" role=\"alert\"><ul>{errs}</ul></div>")
    };
    let body = format!(
        "<section><h1>{}</h1>{intro}{errs}<form method=\"post\" action=\"/password\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"old\">{}</label><input id=\"old\" name=\"old\" type=\"password\" autocomplete=\"current-password\" required>\
         <label for=\"new\">{}</label><input id=\"new\" name=\"new\" type=\"password\" autocomplete=\"new-password\" required>\
         <button class=\"primary\" type=\"submit\">{}</button></form></section>",
        lang.pick("Passwort ändern", "Change password"),
        esc(csrf),
        lang.pick("Bisheriges Passwort", "Current password"),
        lang.pick("Neues Passwort", "New password"),
        lang.pick("Passwort speichern", "Save password"),
    );
    layout(
        lang,
        lang.pick("Passwort ändern", "Change password"),
        Some((c, csrf)),
        &body,
    )
}

pub(crate) fn when(ms: Option<i64>) -> String {
    ms.map(date_time_text).unwrap_or_else(|| "–".into())
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn missions(
    lang: Lang,
    c: &Caller,
    csrf: &str,
    rows: &[Summary],
    q: &crate::web::ListQuery,
    more: bool,
) -> String {
    let trs: String = rows
        .iter()
        .map(|s| {
            format!(
                "<tr><td><a href=\"/p/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                s.id,
                esc(&when(s.opened_ms)),
                esc(&s.call_sign),
                esc(s.els_number.as_deref().unwrap_or("–")),
                esc(s.station.as_deref().unwrap_or("–")),
                s.patients,
                if s.changes > 0 {
                    format!("<span class=\"bad\">{}</span>", s.changes)
                } else {
                    "0".into()
                }
            )
        })
        .collect();
    let empty = if rows.is_empty() {
        format!(
            "<p class=\"muted\">{}</p>",
            lang.pick("Keine Einsätze gefunden.", "No missions found.")
        )
    } else {
        String::new()
    };
    // The next page keeps the filters and starts after the last row.
    let next = match rows.last() {
        Some(last) if more => format!(
            "<p><a href=\"/?q={}&amp;von={}&amp;bis={}&amp;wache={}&amp;nach={}~{}\">{}</a></p>",
            url_encode(&q.q),
            url_encode(&q.von),
            url_encode(&q.bis),
            url_encode(&q.wache),
            last.received_ms,
            last.id,
            lang.pick("Weitere Einsätze", "More missions")
        ),
        _ => String::new(),
    };
    let body = format!(
        "<section><h1>{}</h1><form class=\"filters\" method=\"get\" action=\"/\">\
         <div><label for=\"q\">{}</label><input id=\"q\" name=\"q\" value=\"{}\"></div>\
         <div><label for=\"von\">{}</label><input id=\"von\" name=\"von\" type=\"date\" value=\"{}\"></div>\
         <div><label for=\"bis\">{}</label><input id=\"bis\" name=\"bis\" type=\"date\" value=\"{}\"></div>\
         <div><label for=\"wache\">{}</label><input id=\"wache\" name=\"wache\" value=\"{}\"></div>\
         <button class=\"primary\" type=\"submit\">{}</button></form></section>\
         <section><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>\
         <tbody>{trs}</tbody></table>{empty}{next}</section>",
        lang.pick("Einsätze", "Missions"),
        lang.pick("Rufname oder Einsatznummer", "Call sign or mission number"),
        esc(&q.q),
        lang.pick("von", "from"),
        esc(&q.von),
        lang.pick("bis", "to"),
        esc(&q.bis),
        lang.pick("Wache", "Station"),
        esc(&q.wache),
        lang.pick("Filtern", "Filter"),
        lang.pick("Beginn", "Opened"),
        lang.pick("Rufname", "Call sign"),
        lang.pick("Einsatznummer", "Mission no."),
        lang.pick("Wache", "Station"),
        lang.pick("Patienten", "Patients"),
        lang.pick("Änderungen nach Übergabe", "Changes after handover"),
    );
    layout(
        lang,
        lang.pick("Einsätze", "Missions"),
        Some((c, csrf)),
        &body,
    )
}

/// `fields` as label/value rows (values decoded back into the record's
/// types, so they read as on the pad).
fn field_rows(fields: &serde_json::Map<String, Json>, lang: Lang) -> String {
    // In the catalog's order (the protocol's), not the keys' alphabet.
    let pos = |k: &str| {
        catalog::FIELDS
            .iter()
            .position(|d| d.key == k)
            .unwrap_or(usize::MAX)
    };
    let mut fields: Vec<_> = fields.iter().collect();
    fields.sort_by_key(|(k, _)| pos(k));
    fields
        .into_iter()
        .map(|(k, v)| {
            let label = catalog::field(k)
                .map(|d| rettpad_record::text::field_label(d, lang).to_string())
                .unwrap_or_else(|| k.clone());
            let shown = serde_json::from_value::<Value>(v.clone())
                .map(|val| value_by_key(k, &val, lang))
                .unwrap_or_else(|_| v.to_string());
            format!("<tr><th>{}</th><td>{}</td></tr>", esc(&label), esc(&shown))
        })
        .collect()
}

pub struct ProtocolPage<'a> {
    pub summary: &'a Summary,
    pub medical: &'a Json,
    /// None: hidden behind the reason gate.
    pub identity: Option<&'a BTreeMap<String, Json>>,
    pub free_text: Option<&'a Json>,
    pub changes: &'a [Change],
    pub pdf_intact: bool,
    pub reveal_error: Option<&'a str>,
    /// The crew's corrections and remark, rendered by `web_edits`.
    pub edits: &'a str,
}

pub fn protocol(lang: Lang, c: &Caller, csrf: &str, p: &ProtocolPage<'_>) -> String {
    let s = p.summary;
    let mut body = format!(
        "<section><h1>{} · {}</h1><table>\
         <tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr>\
         <tr><th>{}</th><td>{}</td></tr><tr><th>{}</th><td>{}</td></tr>\
         <tr><th>{}</th><td>{}</td></tr></table></section>",
        esc(&s.call_sign),
        esc(&when(s.opened_ms)),
        lang.pick("Einsatznummer", "Mission no."),
        esc(s.els_number.as_deref().unwrap_or("–")),
        lang.pick("Wache", "Station"),
        esc(s.station.as_deref().unwrap_or("–")),
        lang.pick("Eingang", "Received"),
        esc(&date_time_text(s.received_ms)),
        lang.pick("Protokoll-PDF", "Protocol PDF"),
        if p.pdf_intact {
            format!(
                "<span class=\"ok\">{}</span>",
                lang.pick(
                    "Prüfsumme stimmt mit der Quittung überein",
                    "hash matches the receipt"
                )
            )
        } else {
            format!(
                "<span class=\"bad\">{}</span>",
                lang.pick(
                    "Prüfsumme stimmt nicht – bitte melden",
                    "hash does not match – report it"
                )
            )
        },
        lang.pick("Vorgang", "Record"),
        s.id,
    );
    // Identity: shown, or hidden with the reason form.
    body.push_str(&format!(
        "<section><h2>{}</h2>",
        lang.pick("Patient", "Patient")
    ));
    match p.identity {
        Some(ids) => {
            for fields in ids.values() {
                if let Some(m) = fields.as_object() {
                    body.push_str(&format!("<table>{}</table>", field_rows(m, lang)));
                }
            }
            body.push_str(&format!(
                "<p><a href=\"/p/{}/pdf\">{}</a></p>",
                s.id,
                lang.pick("Protokoll als PDF öffnen", "Open the protocol PDF")
            ));
        }
        None => {
            let err = p
                .reveal_error
                .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
                .unwrap_or_default();
            let opts = [
                ("qm", lang.pick("Qualitätssicherung", "Quality management")),
                (
                    "hospital_linkage",
                    lang.pick("Abgleich mit der Klinik", "Hospital linkage"),
                ),
                ("legal", lang.pick("Rechtliche Anfrage", "Legal request")),
                ("billing", lang.pick("Abrechnung", "Billing")),
                ("other", lang.pick("Sonstiges", "Other")),
            ]
            .iter()
            .map(|(v, l)| format!("<option value=\"{v}\">{l}</option>"))
            .collect::<String>();
            body.push_str(&format!(
                "<div class=\"hidden-id\"><p><strong>{}</strong> {}</p>{err}\
                 <form method=\"post\" action=\"/p/{}/reveal\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <label for=\"category\">{}</label><select id=\"category\" name=\"category\">{opts}</select>\
                 <label for=\"reason\">{}</label><textarea id=\"reason\" name=\"reason\" required minlength=\"10\"></textarea>\
                 <button class=\"primary\" type=\"submit\">{}</button></form></div>",
                lang.pick("Patientendaten ausgeblendet.", "Patient data hidden."),
                lang.pick(
                    "Name, Geburtsdatum, Anschrift und Versichertennummer werden nur mit Begründung angezeigt; der Zugriff wird protokolliert.",
                    "Name, birth date, address and insurance number are shown only with a reason; the access is logged."
                ),
                s.id,
                esc(csrf),
                lang.pick("Anlass", "Purpose"),
                lang.pick("Begründung", "Reason"),
                lang.pick("Patientendaten anzeigen", "Show patient data"),
            ));
        }
    }
    body.push_str("</section>");
    // The medical record.
    body.push_str(&format!(
        "<section><h2>{}</h2>",
        lang.pick("Einsatz und Befunde", "Mission and findings")
    ));
    if let Some(m) = p.medical.get("fields").and_then(Json::as_object) {
        body.push_str(&format!("<table>{}</table>", field_rows(m, lang)));
    }
    for pat in p
        .medical
        .get("patients")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(m) = pat.get("fields").and_then(Json::as_object) {
            body.push_str(&format!("<table>{}</table>", field_rows(m, lang)));
        }
    }
    let entries = p
        .medical
        .get("entries")
        .and_then(Json::as_array)
        .map_or(0, Vec::len);
    body.push_str(&format!(
        "<p class=\"muted\">{} {entries}</p></section>",
        lang.pick(
            "Einträge (Vitalwerte, Maßnahmen, Medikamente, Diagnosen):",
            "Entries (vitals, measures, drugs, diagnoses):"
        )
    ));
    if let Some(t) = p.free_text {
        let mut rows = String::new();
        if let Some(m) = t.get("mission").and_then(Json::as_object) {
            rows.push_str(&field_rows(m, lang));
        }
        if !rows.is_empty() {
            body.push_str(&format!(
                "<section><h2>{}</h2><table>{rows}</table></section>",
                lang.pick("Freitext", "Free text")
            ));
        }
    }
    // The §630f change list.
    body.push_str(&format!(
        "<section><h2>{}</h2>",
        lang.pick(
            "Änderungen nach der Übergabe (§ 630f BGB)",
            "Changes after the handover (§ 630f BGB)"
        )
    ));
    if p.changes.is_empty() {
        body.push_str(&format!(
            "<p class=\"muted\">{}</p>",
            lang.pick("Keine.", "None.")
        ));
    } else {
        let show_values = p.identity.is_some();
        let rows: String = p
            .changes
            .iter()
            .map(|ch| {
                let field = ch.field.as_deref().unwrap_or("–");
                let label = catalog::field(field)
                    .map(|d| rettpad_record::text::field_label(d, lang).to_string())
                    .unwrap_or_else(|| field.to_string());
                let value = |k: &str| -> String {
                    if !show_values {
                        return lang.pick("ausgeblendet", "hidden").into();
                    }
                    ch.detail
                        .get(k)
                        .filter(|v| !v.is_null())
                        .and_then(|v| serde_json::from_value::<Value>(v.clone()).ok())
                        .map(|v| value_by_key(field, &v, lang))
                        .unwrap_or_else(|| "–".into())
                };
                format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&date_time_text(ch.at_ms)),
                    esc(&label),
                    esc(&value("original")),
                    esc(&value("new"))
                )
            })
            .collect();
        body.push_str(&format!(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{rows}</tbody></table>",
            lang.pick("Zeit", "Time"),
            lang.pick("Feld", "Field"),
            lang.pick("vorher", "before"),
            lang.pick("nachher", "after"),
        ));
    }
    body.push_str("</section>");
    body.push_str(p.edits);
    layout(lang, &s.call_sign, Some((c, csrf)), &body)
}

/// An audit action in words (the stored code stays machine-readable).
fn action_label(action: &str, lang: Lang) -> String {
    let (kind, rest) = action.split_once(':').unwrap_or((action, ""));
    let word = match kind {
        "sign_in" => lang.pick("Anmeldung", "Sign-in"),
        "sign_out" => lang.pick("Abmeldung", "Sign-out"),
        "password_changed" => lang.pick("Passwort geändert", "Password changed"),
        "identity_reveal" => lang.pick(
            "Patientendaten mit Begründung geöffnet",
            "Patient data opened with a reason",
        ),
        "identity_read" => lang.pick("Patientendaten angezeigt", "Patient data shown"),
        "user_created" => lang.pick("Benutzer angelegt", "User created"),
        other => other,
    };
    if rest.is_empty() {
        word.to_string()
    } else {
        format!("{word} ({})", rest.replace(':', ", "))
    }
}

pub fn audit(lang: Lang, c: &Caller, csrf: &str, events: &[AuditEvent], chain_ok: bool) -> String {
    let rows: String = events
        .iter()
        .rev()
        .map(|e| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&date_time_text(e.at_ms)),
                esc(&e.login),
                esc(Role::parse(&e.role).map_or(e.role.as_str(), |r| role_label(r, lang))),
                esc(&action_label(&e.action, lang)),
                esc(e.protocol.as_deref().unwrap_or("–")),
                esc(&format!(
                    "{} {}",
                    e.category.as_deref().unwrap_or(""),
                    e.reason.as_deref().unwrap_or("")
                )),
                esc(&e.outcome),
            )
        })
        .collect();
    let chain = if chain_ok {
        format!(
            "<p class=\"ok\">{}</p>",
            lang.pick(
                "Hash-Kette geprüft: unverändert.",
                "Hash chain verified: unchanged."
            )
        )
    } else {
        format!(
            "<p class=\"bad\">{}</p>",
            lang.pick(
                "Hash-Kette gebrochen: Einträge wurden verändert.",
                "Hash chain broken: entries were changed."
            )
        )
    };
    let body = format!(
        "<section><h1>{}</h1>{chain}<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead>\
         <tbody>{rows}</tbody></table></section>",
        lang.pick("Protokoll der Zugriffe", "Access log"),
        lang.pick("Zeit", "Time"),
        lang.pick("Benutzer", "User"),
        lang.pick("Rolle", "Role"),
        lang.pick("Aktion", "Action"),
        lang.pick("Vorgang", "Record"),
        lang.pick("Begründung", "Reason"),
        lang.pick("Ergebnis", "Outcome"),
    );
    layout(
        lang,
        lang.pick("Protokoll der Zugriffe", "Access log"),
        Some((c, csrf)),
        &body,
    )
}

pub fn message(lang: Lang, caller: Option<(&Caller, &str)>, title: &str, text: &str) -> String {
    layout(
        lang,
        title,
        caller,
        &format!(
            "<section><h1>{}</h1><p>{}</p></section>",
            esc(title),
            esc(text)
        ),
    )
}
