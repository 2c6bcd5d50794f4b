//! The back office's test helpers: a pad's protocol uploaded to a real
//! gateway, users made with the CLI, and a plain HTTP client that signs in.

use super::{GW, Gw, Pki};
use rettpad_gateway::GatewayConfig;
use rettpad_pad::config::Config;
use rettpad_record::keys;
use rettpad_record::{Author, Payload, Target, Value};
use rettpad_transfer::HpkePublicKey;
use rettpad_transfer::packet::{SealInput, seal_with_id};
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A gateway whose second demo pad belongs to `org-b`, with one archived
/// protocol of each organisation (A's patient named `family`). `tweak`
/// changes the configuration before the start. Returns (gateway, A's id,
/// B's id).
pub fn setup(pki: &Pki, family: &str, tweak: impl FnOnce(&mut GatewayConfig)) -> (Gw, Uuid, Uuid) {
    let path = pki.dir.join("gateway.toml");
    let mut c = GatewayConfig::load(&path).unwrap();
    c.pads[1].org = Some("org-b".into());
    // OWASP's floor instead of 64 MiB: the tests sign in a dozen times
    // on a debug build; production keeps the default.
    if let Some(b) = c.backoffice.as_mut() {
        b.hash_memory_kib = 19_456;
    }
    tweak(&mut c);
    std::fs::write(&path, c.to_toml()).unwrap();
    let gw = Gw::start(pki);
    let a = upload(pki, 0, "DEMO-PAD-0001", "RTW 1/83-1", family);
    let b = upload(pki, 1, "DEMO-PAD-0002", "NEF 1/82-1", "Fremdorganisation");
    let archive = rettpad_gateway::archiver::open_archive(&c).unwrap();
    let all = rettpad_backoffice::Scope::orgs(["demo", "org-b"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while archive.list(&all, None, 10).unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "not archived");
        std::thread::sleep(Duration::from_millis(100));
    }
    (gw, a, b)
}

/// Seals the sample protocol `seed` (its patient's family name set to
/// `family`) and uploads it as pad `serial`.
pub fn upload(pki: &Pki, seed: u64, serial: &str, call_sign: &str, family: &str) -> Uuid {
    let s = rettpad_sim::sample::standard_at(seed);
    let mut log = s.log();
    let st = s.state();
    let a = Author {
        device: serial.into(),
        crew_member: st.crew[0].id,
    };
    let ev = log.prepare(
        &a,
        st.opened_ms.unwrap() + 60_000,
        0,
        Payload::Set {
            target: Target::Patient(st.patients[0].id),
            field: keys::patient::FAMILY_NAME.into(),
            value: Value::text(family),
        },
    );
    log.insert(ev).unwrap();
    let p = sealed(
        pki,
        seed,
        serial,
        call_sign,
        serde_json::to_vec(log.events()).unwrap(),
    );
    let cfg = Config::load(&pki.dir.join(format!("pad-{serial}.toml"))).unwrap();
    let up =
        rettpad_transfer::uploader_from_config(cfg.upload.as_ref().unwrap(), serial, call_sign)
            .unwrap();
    up.send(p.packet_id, &p.sha256, &p.bytes).unwrap();
    p.packet_id
}

/// A sealed sample protocol of pad `serial`.
pub fn sealed(
    pki: &Pki,
    seed: u64,
    serial: &str,
    call_sign: &str,
    events_json: Vec<u8>,
) -> rettpad_transfer::packet::Sealed {
    let s = rettpad_sim::sample::standard_at(seed);
    let gpk = HpkePublicKey::from_hex(
        std::fs::read_to_string(pki.dir.join("gateway-hpke.pub"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let pdf = b"%PDF-1.7 Einsatzprotokoll".to_vec();
    let input = SealInput {
        mission_id: s.mission().0,
        device_serial: serial.into(),
        call_sign: call_sign.into(),
        created_ms: rettpad_gateway::fleet_cli::now_ms(),
        target_hospital: None,
        events_json,
        mind_xml: b"<mind/>".to_vec(),
        fhir_json: b"{}".to_vec(),
        pdf_sha256: rettpad_crypto::sha256(&pdf),
        pdf,
        handover_summary: String::new(),
        prenotice: None,
    };
    seal_with_id(&input, &gpk, &[], Uuid::now_v7()).unwrap()
}

/// `backoffice add-user`: returns the printed transport password.
pub fn add_user(pki: &Pki, org: &str, login: &str, role: &str, extra: &[&str]) -> String {
    let out = Command::new(GW)
        .args(["backoffice", "add-user", "--config"])
        .arg(pki.dir.join("gateway.toml"))
        .args(["--org", org, "--login", login, "--role", role])
        .args(["--given", "Maria", "--family", "Schäfer"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "add-user: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A signed-in HTTP client without a browser: the session cookie and the
/// CSRF token of its pages.
pub struct Client {
    pub http: reqwest::blocking::Client,
    pub base: String,
    pub cookie: String,
}

pub fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string()
}

impl Client {
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            http: reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: format!("http://{addr}"),
            cookie: String::new(),
        }
    }

    pub fn post(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> (u16, String) {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &self.cookie)
            .body(body);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let resp = r.send().unwrap();
        let st = resp.status().as_u16();
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = resp.text().unwrap();
        (st, if st == 303 { loc } else { text })
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .unwrap();
        let st = resp.status().as_u16();
        let loc = resp
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        (st, if st == 303 { loc } else { resp.text().unwrap() })
    }

    /// A client over HTTPS that presents `identity` (PEM cert + key) and
    /// trusts `ca_pem`.
    pub fn tls(addr: SocketAddr, ca_pem: &[u8], identity: Option<&[u8]>) -> Client {
        let mut b = reqwest::blocking::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_only([reqwest::Certificate::from_pem(ca_pem).unwrap()]);
        if let Some(id) = identity {
            b = b.identity(reqwest::Identity::from_pem(id).unwrap());
        }
        Client {
            http: b.build().unwrap(),
            base: format!("https://localhost:{}", addr.port()),
            cookie: String::new(),
        }
    }

    /// Signs in and replaces the transport password.
    pub fn sign_in(addr: SocketAddr, org: &str, login: &str, transport: &str, new: &str) -> Client {
        Client::new(addr).signed_in(org, login, transport, new)
    }

    /// This client signed in, with the transport password replaced.
    pub fn signed_in(mut self, org: &str, login: &str, transport: &str, new: &str) -> Client {
        let resp = self
            .http
            .post(format!("{}/login", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "org={org}&login={login}&password={}",
                urlencode(transport)
            ))
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 303);
        let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Secure"),
            "{set}"
        );
        self.cookie = set.split(';').next().unwrap().to_string();
        let (_, page) = self.get("/password");
        let csrf = csrf_of(&page);
        let (st, loc) = self.post(
            "/password",
            &[("csrf", &csrf), ("old", transport), ("new", new)],
            &[],
        );
        assert_eq!((st, loc.as_str()), (303, "/"));
        self
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
