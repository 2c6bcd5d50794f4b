//! The back office's second factor against a real gateway process: HTTPS
//! whose handshake demands a user certificate of an organisation's CA, and
//! a sign-in and session bound to the certificate's organisation and login.
//! Refused: no certificate, a certificate of an unknown or another
//! organisation's CA, a revoked one, another user's certificate with a
//! valid password, and a session cookie carried to another user's
//! certificate.

mod common;

use common::Pki;
use common::backoffice::{Client, add_user};
use rettpad_gateway::GatewayConfig;
use rettpad_gateway::config::{BackofficeTls, OrgCa};
use rettpad_pki::issue::{Ca, Issued};
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn identity(i: &Issued) -> Vec<u8> {
    format!("{}{}", i.cert_pem, i.key_pem).into_bytes()
}

#[test]
fn the_client_certificate_must_name_the_user_who_signs_in() {
    let pki = Pki::new();
    let dir = pki.dir.clone();
    let server_ca = Ca::generate("Back office server CA").unwrap();
    let server = server_ca.issue_server(&["localhost"]).unwrap();
    let ca_a = Ca::generate("Rettungsdienst Demo, Benutzer-CA").unwrap();
    let ca_b = Ca::generate("Organisation B, Benutzer-CA").unwrap();
    let stranger = Ca::generate("Fremde CA").unwrap();
    let lrd = ca_a.issue_client("lrd", "Maria Schäfer").unwrap();
    let wl = ca_a.issue_client("wl", "Jonas Wachleiter").unwrap();
    let revoked = ca_a.issue_client("lrd", "Maria Schäfer (alt)").unwrap();
    let b_lrd = ca_b.issue_client("lrd", "Leitung B").unwrap();
    let foreign = stranger.issue_client("lrd", "Maria Schäfer").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let crl = ca_a.crl_pem(&[&revoked], now - 60).unwrap();
    let tls = BackofficeTls {
        cert: write(&dir, "bo-server.pem", &server.cert_pem),
        key: write(&dir, "bo-server.key", &server.key_pem),
        client_ca: vec![
            OrgCa {
                org: "demo".into(),
                ca: write(&dir, "users-demo.pem", &ca_a.cert_pem()),
                crls: vec![write(&dir, "users-demo.crl", &crl)],
            },
            OrgCa {
                org: "org-b".into(),
                ca: write(&dir, "users-b.pem", &ca_b.cert_pem()),
                crls: vec![],
            },
        ],
    };

    // Without TLS the listener must stay on loopback; with it, not.
    let mut c = GatewayConfig::load(&dir.join("gateway.toml")).unwrap();
    let b = c.backoffice.as_mut().unwrap();
    b.listen = "0.0.0.0:0".parse().unwrap();
    assert!(c.validate().unwrap_err().contains("loopback"));
    c.backoffice.as_mut().unwrap().tls = Some(tls.clone());
    c.validate().unwrap();
    c.backoffice.as_mut().unwrap().tls = Some(BackofficeTls {
        client_ca: vec![],
        ..tls.clone()
    });
    assert!(c.validate().unwrap_err().contains("client_ca"));

    let (gw, a, _) = common::backoffice::setup(&pki, "Zertifikatstest", |c| {
        c.backoffice.as_mut().unwrap().tls = Some(tls.clone());
    });
    let addr = gw.backoffice.unwrap();
    let pw_lrd = add_user(&pki, "demo", "lrd", "head_of_service", &[]);
    let pw_wl = add_user(
        &pki,
        "demo",
        "wl",
        "station_lead",
        &["--stations", "wache-1"],
    );
    let ca_pem = server_ca.cert_pem();
    let ca = ca_pem.as_bytes();
    let form = |pw: &str| {
        [
            ("org", "demo".to_string()),
            ("login", "lrd".to_string()),
            ("password", pw.to_string()),
        ]
    };
    let post_login = |c: &Client, pw: &str| {
        let f = form(pw);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        c.post("/login", &f, &[])
    };

    // The handshake itself refuses: no certificate, a stranger's CA, a
    // revoked certificate.
    for (what, id) in [
        ("no certificate", None),
        ("unknown CA", Some(identity(&foreign))),
        ("revoked", Some(identity(&revoked))),
    ] {
        let c = Client::tls(addr, ca, id.as_deref());
        let r = c.http.get(format!("{}/login", c.base)).send();
        assert!(r.is_err(), "{what}: {r:?}");
    }
    // Plain HTTP to the TLS port gets no page either.
    let plain = Client::new(addr);
    assert!(
        plain
            .http
            .get(format!("{}/login", plain.base))
            .send()
            .map_or(true, |r| r.status().as_u16() >= 400)
    );

    // The right password with another user's certificate, or with a
    // certificate of another organisation's CA naming the same login:
    // refused before the password is checked.
    for other in [&wl, &b_lrd] {
        let c = Client::tls(addr, ca, Some(&identity(other)));
        let (st, page) = post_login(&c, &pw_lrd);
        assert_eq!(st, 401);
        assert!(
            page.contains("Zertifikat gehört nicht zu diesem Benutzer"),
            "{page}"
        );
    }
    // Those refusals were no failed password attempts: five of them do
    // not lock the account.
    let c = Client::tls(addr, ca, Some(&identity(&wl)));
    for _ in 0..5 {
        assert_eq!(post_login(&c, "Falsch!123x").0, 401);
    }

    // The user's own certificate and password: signed in.
    let lrd_c = Client::tls(addr, ca, Some(&identity(&lrd))).signed_in(
        "demo",
        "lrd",
        &pw_lrd,
        "Dienst#Plan2027x",
    );
    let (st, page) = lrd_c.get("/");
    assert_eq!(st, 200);
    assert!(page.contains("RTW 1/83-1"), "{page}");
    assert_eq!(lrd_c.get(&format!("/p/{a}")).0, 200);

    // The session cookie on another person's machine (their certificate):
    // not signed in.
    let mut stolen = Client::tls(addr, ca, Some(&identity(&wl)));
    stolen.cookie = lrd_c.cookie.clone();
    assert_eq!(stolen.get("/"), (303, "/login".to_string()));
    assert_eq!(stolen.get(&format!("/p/{a}")).0, 303);
    // The station lead signs in with their own certificate.
    let wl_c = Client::tls(addr, ca, Some(&identity(&wl))).signed_in(
        "demo",
        "wl",
        &pw_wl,
        "Wache#Eins2027x",
    );
    assert_eq!(wl_c.get("/").0, 200);
    // The head of service's session still works on their own machine.
    assert_eq!(lrd_c.get("/").0, 200);
}
