//! The back office's web client against a real gateway process: a pad's
//! protocol is uploaded and archived, users are created with the CLI, then
//! (1) headless Chromium walks sign-in, the forced password change, the
//! mission list, the hidden identity, the reason gate and the auditor's
//! log, with screenshots in `target/screenshots/backoffice/`; (2) plain
//! HTTP requests try what a browser would not: no CSRF token, a foreign
//! site, another organisation's cookie and mission, a role's forbidden
//! page, SQL in the filter, an empty reason, five wrong passwords.

mod common;

use common::backoffice::{Client, add_user, csrf_of, urlencode};
use common::webdriver::Browser;
use common::{Gw, Pki};
use std::path::{Path, PathBuf};
use uuid::Uuid;

const FAMILY: &str = "Kanarienvogel";

fn setup(pki: &Pki) -> (Gw, Uuid, Uuid) {
    common::backoffice::setup(pki, FAMILY, |_| {})
}

fn shots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots/backoffice")
}

#[test]
fn a_head_of_service_reveals_with_a_reason_and_the_auditor_sees_it_in_chromium() {
    let pki = Pki::new();
    let (gw, a, _) = setup(&pki);
    let base = format!("http://localhost:{}", gw.backoffice.unwrap().port());
    let lrd_pw = add_user(&pki, "demo", "lrd", "head_of_service", &[]);
    let dpo_pw = add_user(&pki, "demo", "dsb", "auditor", &[]);
    let dir = shots();
    let b = Browser::start(1280, 900);

    b.goto(&format!("{base}/"));
    b.wait_url("/login");
    b.screenshot(&dir.join("01-anmelden.png"));
    b.fill("#org", "demo");
    b.fill("#login", "lrd");
    b.fill("#password", &lrd_pw);
    b.click("button[type=submit].primary");
    // The transport password must be changed first.
    b.wait_url("/password");
    b.fill("#old", &lrd_pw);
    b.fill("#new", "Rettungswache");
    b.click("button.primary");
    b.wait_text("Mindestens");
    b.screenshot(&dir.join("02-passwort-regeln.png"));
    b.fill("#old", &lrd_pw);
    b.fill("#new", "Dienst#Plan2027x");
    b.click("button.primary");
    b.wait_url("/");
    let page = b.source();
    assert!(page.contains("RTW 1/83-1"), "{page}");
    assert!(
        !page.contains("NEF 1/82-1"),
        "another organisation's mission listed"
    );
    b.screenshot(&dir.join("03-einsaetze.png"));

    b.click(&format!("a[href=\"/p/{a}\"]"));
    b.wait_url(&format!("/p/{a}"));
    let page = b.source();
    assert!(page.contains("Patientendaten ausgeblendet"));
    assert!(!page.contains(FAMILY), "identity shown without a reason");
    assert!(page.contains("Prüfsumme stimmt mit der Quittung überein"));
    b.screenshot(&dir.join("04-protokoll-ausgeblendet.png"));
    b.select("#category", "hospital_linkage");
    b.fill("#reason", "Abgleich mit dem Entlassbrief des Klinikums");
    b.click("button.primary");
    b.wait_text(FAMILY);
    b.screenshot(&dir.join("05-protokoll-mit-begruendung.png"));

    b.click("header form button");
    b.wait_url("/login");
    b.fill("#org", "demo");
    b.fill("#login", "dsb");
    b.fill("#password", &dpo_pw);
    b.click("button.primary");
    b.wait_url("/password");
    b.fill("#old", &dpo_pw);
    b.fill("#new", "Datenschutz#Audit27");
    b.click("button.primary");
    b.wait_url("/audit");
    let page = b.source();
    assert!(
        page.contains("Patientendaten mit Begründung geöffnet"),
        "{page}"
    );
    assert!(page.contains("Abgleich mit dem Entlassbrief des Klinikums"));
    assert!(page.contains("Hash-Kette geprüft"));
    assert!(!page.contains(FAMILY), "patient data in the access log");
    b.screenshot(&dir.join("06-zugriffsprotokoll.png"));
    // English as well.
    b.goto(&format!("{base}/lang/en"));
    b.goto(&format!("{base}/audit"));
    b.wait_text("Access log");
    b.screenshot(&dir.join("07-access-log-en.png"));
}

/// Signs in with a transport password and replaces it (in the browser).
fn browser_sign_in(b: &Browser, login: &str, transport: &str, new: &str, lands: &str) {
    b.wait_url("/login");
    b.fill("#org", "demo");
    b.fill("#login", login);
    b.fill("#password", transport);
    b.click("button.primary");
    b.wait_url("/password");
    b.fill("#old", transport);
    b.fill("#new", new);
    b.click("button.primary");
    b.wait_url(lands);
}

/// The transport password shown once on the user page.
fn shown_password(page: &str) -> String {
    page.split("<code>")
        .nth(1)
        .and_then(|r| r.split("</code>").next())
        .unwrap_or_default()
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

#[test]
fn an_administrator_adds_a_crew_member_who_corrects_and_remarks_in_chromium() {
    let pki = Pki::new();
    let (gw, a, _) = setup(&pki);
    let base = format!("http://localhost:{}", gw.backoffice.unwrap().port());
    let admin_pw = add_user(&pki, "demo", "verwaltung", "admin", &[]);
    // The crew member's staff id as the pad's shift login recorded it.
    let staff = rettpad_sim::sample::standard_at(0).state().crew[0]
        .id
        .to_string();
    let dir = shots();
    let b = Browser::start(1280, 900);

    b.goto(&format!("{base}/"));
    browser_sign_in(
        &b,
        "verwaltung",
        &admin_pw,
        "Personal#Akte2027",
        "/admin/users",
    );
    b.goto(&format!("{base}/admin/stations"));
    b.fill(
        "form[action=\"/admin/stations\"] input[name=id]",
        "wache-nord",
    );
    b.fill(
        "form[action=\"/admin/stations\"] input[name=name]",
        "Rettungswache Nord",
    );
    b.click("form[action=\"/admin/stations\"] button");
    b.wait_text("Rettungswache Nord");
    b.screenshot(&dir.join("08-wachen.png"));

    b.goto(&format!("{base}/admin/users"));
    let form = "form[action=\"/admin/users\"]";
    b.fill(&format!("{form} input[name=login]"), "aberger");
    b.fill(&format!("{form} input[name=given]"), "Anna");
    b.fill(&format!("{form} input[name=family]"), "Berger");
    b.select(&format!("{form} select[name=role]"), "crew");
    b.fill(&format!("{form} input[name=staff_id]"), &staff);
    b.click(&format!("{form} button"));
    let page = b.wait_text("Transportpasswort für");
    let crew_pw = shown_password(&page);
    assert!(crew_pw.len() >= 12, "{page}");
    // The administrator offers no role above their own reach.
    assert!(!page.contains("value=\"medical_director\""));
    assert!(!page.contains("value=\"head_of_service\""));
    b.screenshot(&dir.join("09-benutzer-angelegt.png"));
    // The administrator sees no protocol.
    b.goto(&format!("{base}/p/{a}"));
    b.wait_text("Ihre Rolle erlaubt diese Seite nicht");
    b.click("header form button");

    browser_sign_in(&b, "aberger", &crew_pw, "Einsatz#Nord2027", "/");
    b.goto(&format!("{base}/p/{a}"));
    b.wait_text("Nachträge der Besatzung");
    b.select(
        "select[name=field]",
        rettpad_record::keys::mission::CALL_SIGN,
    );
    b.fill("form[action$=\"/correct\"] input[name=value]", "RTW 1/83-2");
    b.click("form[action$=\"/correct\"] button");
    b.wait_text("RTW 1/83-2");
    b.fill(
        "textarea[name=text]",
        "Nachalarmierung NEF verzögert, Rücksprache Wachleitung",
    );
    b.click("form[action$=\"/remark\"] button");
    let page = b.wait_text("Rücksprache Wachleitung");
    assert!(page.contains("aberger"));
    b.goto(&format!("{base}/p/{a}#edits"));
    b.wait_text("Rücksprache Wachleitung");
    b.screenshot(&dir.join("10-nachtrag-besatzung.png"));
    b.click("header form button");

    // The head of service sees the correction, not the crew's remark; the
    // access log names both edits without their text.
    let lrd_pw = add_user(&pki, "demo", "lrd", "head_of_service", &[]);
    browser_sign_in(&b, "lrd", &lrd_pw, "Dienst#Plan2027x", "/");
    b.goto(&format!("{base}/p/{a}"));
    let page = b.wait_text("Nachträge der Besatzung");
    assert!(page.contains("RTW 1/83-2"));
    assert!(!page.contains("Rücksprache Wachleitung"));
    assert!(
        !page.contains("/remark\"") && !page.contains("/correct\""),
        "only the crew edits"
    );
}

#[test]
fn requests_a_browser_would_not_send_are_refused() {
    let pki = Pki::new();
    let (gw, a, b) = setup(&pki);
    let addr = gw.backoffice.unwrap();
    let lrd = Client::sign_in(
        addr,
        "demo",
        "lrd",
        &add_user(&pki, "demo", "lrd", "head_of_service", &[]),
        "Dienst#Plan2027x",
    );
    let (st, page) = lrd.get(&format!("/p/{a}"));
    assert_eq!(st, 200);
    let csrf = csrf_of(&page);
    assert!(!csrf.is_empty());
    let headers: Vec<_> = {
        let r = lrd
            .http
            .get(format!("{}/p/{a}", lrd.base))
            .header("cookie", &lrd.cookie)
            .send()
            .unwrap();
        r.headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect()
    };
    for (k, v) in [
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        ("content-security-policy", "default-src 'self'"),
    ] {
        assert!(
            headers.iter().any(|(hk, hv)| hk == k && hv.starts_with(v)),
            "{k}: {headers:?}"
        );
    }
    let reason = [
        ("csrf", csrf.as_str()),
        ("category", "qm"),
        ("reason", "Qualitätszirkel Brustschmerz"),
    ];

    // No CSRF token, a wrong one, a foreign site: refused, nothing revealed.
    let (st, _) = lrd.post(&format!("/p/{a}/reveal"), &reason[1..], &[]);
    assert_eq!(st, 422, "a form without the token does not even parse");
    let mut wrong = reason;
    wrong[0].1 = "00";
    assert_eq!(lrd.post(&format!("/p/{a}/reveal"), &wrong, &[]).0, 403);
    assert_eq!(
        lrd.post(
            &format!("/p/{a}/reveal"),
            &reason,
            &[("sec-fetch-site", "cross-site")]
        )
        .0,
        403
    );
    assert_eq!(
        lrd.post(
            &format!("/p/{a}/reveal"),
            &reason,
            &[("origin", "https://evil.example")]
        )
        .0,
        403
    );
    // An empty or short reason: the form again with the message.
    for short in ["", "   ", "weil"] {
        let (st, page) = lrd.post(
            &format!("/p/{a}/reveal"),
            &[("csrf", &csrf), ("category", "qm"), ("reason", short)],
            &[],
        );
        assert_eq!(st, 400);
        assert!(page.contains("mindestens 10 Zeichen"), "{page}");
        assert!(!page.contains(FAMILY));
    }
    // Another organisation's mission by id: as if it did not exist.
    assert_eq!(lrd.get(&format!("/p/{b}")).0, 404);
    assert_eq!(lrd.post(&format!("/p/{b}/reveal"), &reason, &[]).0, 404);
    assert_eq!(lrd.get(&format!("/p/{b}/pdf")).0, 404);
    assert_eq!(lrd.get("/p/kein-uuid").0, 404);
    // The PDF names the patient: only after the reason.
    assert_eq!(lrd.get(&format!("/p/{a}/pdf")).0, 403);
    let (st, loc) = lrd.post(&format!("/p/{a}/reveal"), &reason, &[]);
    assert_eq!((st, loc), (303, format!("/p/{a}")));
    let (st, page) = lrd.get(&format!("/p/{a}"));
    assert_eq!(st, 200);
    assert!(page.contains(FAMILY));
    let (st, pdf) = lrd.get(&format!("/p/{a}/pdf"));
    assert_eq!(st, 200);
    assert!(pdf.starts_with("%PDF"));

    // SQL metacharacters in the filter are text.
    for q in [
        "' OR 1=1 --",
        "%27%3B DROP TABLE protocol;--",
        "\\\" UNION SELECT",
    ] {
        let (st, page) = lrd.get(&format!("/?q={}", urlencode(q)));
        assert_eq!(st, 200);
        assert!(page.contains("Keine Einsätze gefunden"), "{q}");
    }
    assert!(lrd.get("/?q=RTW").1.contains("RTW 1/83-1"));

    // Role escalation by URL: the head of service is no auditor; the
    // auditor and the administrator see no protocol.
    assert_eq!(lrd.get("/audit").0, 403);
    let dsb = Client::sign_in(
        addr,
        "demo",
        "dsb",
        &add_user(&pki, "demo", "dsb", "auditor", &[]),
        "Datenschutz#Audit27",
    );
    assert_eq!(dsb.get(&format!("/p/{a}")).0, 403);
    assert_eq!(dsb.get(&format!("/p/{a}/pdf")).0, 403);
    let (st, log) = dsb.get("/audit");
    assert_eq!(st, 200);
    assert!(log.contains("Qualitätszirkel Brustschmerz"));
    assert!(!log.contains(FAMILY));

    // A session cookie of one organisation presented for another.
    let mut foreign = Client::new(addr);
    let token = lrd.cookie.split_once(':').unwrap().1;
    foreign.cookie = format!("__Host-rettpad=org-b:{token}");
    assert_eq!(foreign.get("/").0, 303);
    assert_eq!(foreign.get(&format!("/p/{b}")).0, 303, "to the sign-in");

    // Five wrong passwords lock the account (profile seed); the right one
    // is refused afterwards.
    let pw = add_user(
        &pki,
        "demo",
        "wl",
        "station_lead",
        &["--stations", "wache-1"],
    );
    let c = Client::new(addr);
    for i in 0..5 {
        let (st, page) = c.post(
            "/login",
            &[
                ("org", "demo"),
                ("login", "wl"),
                ("password", "Falsch!123x"),
            ],
            &[],
        );
        assert_eq!(st, 401);
        if i == 4 {
            assert!(page.contains("jetzt gesperrt"), "{page}");
        } else {
            assert!(page.contains("Benutzername oder Passwort falsch"));
        }
    }
    let (st, page) = c.post(
        "/login",
        &[("org", "demo"), ("login", "wl"), ("password", &pw)],
        &[],
    );
    assert_eq!(st, 401);
    assert!(page.contains("gesperrt"));
    // Signing out ends the session on the server.
    let (_, page) = lrd.get("/");
    let csrf = csrf_of(&page);
    assert_eq!(lrd.post("/logout", &[("csrf", &csrf)], &[]).0, 303);
    assert_eq!(lrd.get("/").0, 303);
}
