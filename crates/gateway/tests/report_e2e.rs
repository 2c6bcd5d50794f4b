//! The documented times back to the dispatch centre, end to end on
//! loopback: a real `rettpad-gateway` process, a pad on the channel with a
//! real vault uploading over mTLS, and a small HTTP server playing the
//! centre's report target.

mod common;
use common::els::*;
use common::*;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post as route_post;
use rettpad_gateway::report::ReportTarget;
use rettpad_record::MissionId;
use rettpad_record::keys::time as tk;
use rettpad_vault::store::SharedStore;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const REPORT_TOKEN: &str = "centre-report-token-4f1d9a";
const PATH: &str = "/rettpad/documented";

/// One request the centre received.
#[derive(Debug, Clone)]
struct Got {
    auth: Option<String>,
    raw: Vec<u8>,
    body: serde_json::Value,
}

#[derive(Clone, Default)]
struct Inbox {
    got: Arc<Mutex<Vec<Got>>>,
    /// Answers to give, in order; 200 once they are used up.
    script: Arc<Mutex<VecDeque<u16>>>,
}

async fn receive(State(inbox): State<Inbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
    inbox.got.lock().unwrap().push(Got {
        auth: headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        raw: body.to_vec(),
        body: serde_json::from_slice(&body).unwrap_or_default(),
    });
    let code = inbox.script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(code).unwrap()
}

/// A loopback port held for the centre before it listens: bound, not
/// listening, so a connection is refused and no other process takes it.
struct Port(tokio::net::TcpSocket);

impl Port {
    fn reserve() -> Port {
        let s = tokio::net::TcpSocket::new_v4().unwrap();
        s.bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        Port(s)
    }

    fn number(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }
}

/// The centre's receiving end; stops on drop.
struct Centre {
    inbox: Inbox,
    port: u16,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Centre {
    fn start(script: &[u16]) -> Centre {
        Centre::listen(Port::reserve(), script)
    }

    /// Listens on `port` (returns once it does).
    fn listen(port: Port, script: &[u16]) -> Centre {
        let number = port.number();
        let inbox = Inbox::default();
        inbox.script.lock().unwrap().extend(script);
        let app = Router::new()
            .route(PATH, route_post(receive))
            .with_state(inbox.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (up_tx, up_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = port.0.listen(64).unwrap();
                let _ = up_tx.send(());
                let _ = axum::serve(l, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        up_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Centre {
            inbox,
            port: number,
            stop: Some(tx),
        }
    }

    fn got(&self) -> Vec<Got> {
        self.inbox.got.lock().unwrap().clone()
    }

    /// Waits until `n` requests arrived.
    fn wait_for(&self, n: usize) -> Vec<Got> {
        let until = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.got();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < until,
                "the centre got {} of {n} reports",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Centre {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// The demo centre reports to 127.0.0.1:`port` with a bearer token from a
/// 0600 file named relative to the gateway's directory; short backoff.
fn report_to(pki: &Pki, port: u16) {
    rettpad_gateway::private::write(
        &pki.dir.join("centre-report.token"),
        format!("{REPORT_TOKEN}\n").as_bytes(),
    )
    .unwrap();
    let mut t = ReportTarget::new(
        &format!("http://127.0.0.1:{port}{PATH}"),
        Some("centre-report.token".into()),
    );
    t.retry_min_ms = 100;
    t.retry_max_ms = 400;
    let mut cfg = pki.gateway_config();
    let c = cfg.centres.iter_mut().find(|c| c.id == CENTRE).unwrap();
    c.report = Some(t);
    std::fs::write(pki.dir.join("gateway.toml"), cfg.to_toml()).unwrap();
}

/// The centre alarms the RTW and sends status 3 and 4; the RTW's pad
/// applies them, closes the mission and seals its protocol.
fn documented_mission(pki: &Pki, api: SocketAddr, store: &SharedStore) -> (MissionId, Sealed) {
    let tok = token(pki);
    let msgs = [
        alarm("0193a1c4-0000-7000-8000-0000000001a1", &[CALL_SIGN]),
        status(
            "0193a1c4-0000-7000-8000-0000000001a3",
            CALL_SIGN,
            3,
            "2026-12-07T14:03:00+01:00",
        ),
        status(
            "0193a1c4-0000-7000-8000-0000000001a4",
            CALL_SIGN,
            4,
            "2026-12-07T14:09:40+01:00",
        ),
    ];
    for m in &msgs {
        let (code, v) = post(api, &tok, m);
        assert_eq!(code, 200, "{v}");
    }
    let h = start(pki, store, SERIAL, CALL_SIGN);
    let m = applied(&h, msgs.len())[0].mission;
    drop(h);
    (m, close_and_seal(pki, store, m))
}

/// The documented rule: UUIDv5 of the packet id in rettpad's namespace.
fn expected_msg_id(packet: Uuid) -> String {
    let mut name = b"rettpad.dispatch-report/1\0".to_vec();
    name.extend_from_slice(packet.as_bytes());
    Uuid::new_v5(&rettpad_dispatch::NAMESPACE, &name).to_string()
}

/// The report is the protocol's, with the token, and times only.
fn check_report(g: &Got, p: &Sealed, m: MissionId) {
    assert_eq!(
        g.auth.as_deref(),
        Some(format!("Bearer {REPORT_TOKEN}").as_str())
    );
    let b = &g.body;
    assert_eq!(b["schema"], "rettpad.dispatch-report/1");
    assert_eq!(b["msg_id"], expected_msg_id(p.entry.packet_id));
    assert_eq!(b["centre"]["id"], CENTRE);
    assert_eq!(b["mission_number"], NUMBER);
    assert_eq!(b["mission_id"], m.0.to_string());
    assert_eq!(b["call_sign"], CALL_SIGN);
    assert_eq!(b["serial"], SERIAL);
    assert_eq!(b["packet_id"], p.entry.packet_id.to_string());
    let received = b["received_at"]
        .as_str()
        .and_then(rettpad_dispatch::msg::parse_time);
    assert!(
        received.is_some_and(|t| (now_ms() - t).abs() < 120_000),
        "{b}"
    );
    let time = |field: &str| {
        b["times"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["field"] == field)
            .cloned()
            .unwrap_or_else(|| panic!("no {field} in {b}"))
    };
    let dep = time(tk::DEPARTURE);
    assert_eq!(
        (
            dep["at_ms"].as_i64(),
            dep["status"].as_u64(),
            dep["source"].as_str()
        ),
        (
            Some(ms("2026-12-07T14:03:00+01:00")),
            Some(3),
            Some("dispatch")
        )
    );
    let scene = time(tk::AT_SCENE);
    assert_eq!(
        (scene["at_ms"].as_i64(), scene["status"].as_u64()),
        (Some(ms("2026-12-07T14:09:40+01:00")), Some(4))
    );
    assert_eq!(time(tk::ALARM)["at_ms"], ms("2026-12-07T14:02:05+01:00"));
    let raw = String::from_utf8_lossy(&g.raw);
    assert!(
        !raw.contains("Mustermann") && !raw.contains("Brustschmerz"),
        "no patient data: {raw}"
    );
}

/// The lookup's report state of the mission's only documented protocol.
fn report_state(api: SocketAddr, tok: &str) -> serde_json::Value {
    let (code, v) = lookup(api, tok);
    assert_eq!(code, 200, "{v}");
    let doc = v["documented"].as_array().unwrap();
    assert_eq!(doc.len(), 1, "{v}");
    doc[0]["report"].clone()
}

fn wait_state(api: SocketAddr, tok: &str, state: &str) -> serde_json::Value {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let r = report_state(api, tok);
        if r["state"] == state {
            return r;
        }
        assert!(Instant::now() < until, "report never {state}: {r}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Rows in the gateway's report outbox.
fn queued(pki: &Pki) -> i64 {
    let db = rusqlite::Connection::open_with_flags(
        pki.gateway_config().data_dir.join("dispatch.sqlite"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.query_row("SELECT count(*) FROM els_reports", [], |r| r.get(0))
        .unwrap()
}

/// Long enough for a due report to be sent (the sender is woken at once).
const QUIET: Duration = Duration::from_millis(800);

#[test]
fn a_protocol_of_an_els_mission_is_reported_once_with_token_and_times() {
    let pki = Pki::new();
    let centre = Centre::start(&[]);
    report_to(&pki, centre.port);
    let gw = Gw::start(&pki);
    let api = gw.dispatch.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let store = shared_store(tmp.path());
    let (m, p) = documented_mission(&pki, api, &store);

    upload(&pki, &p);
    let got = centre.wait_for(1);
    check_report(&got[0], &p, m);
    let r = wait_state(api, &token(&pki), "delivered");
    assert_eq!(r["attempts"], 1, "{r}");

    // The same packet again (a pad that missed its receipt): the gateway
    // answers with the same receipt and reports nothing more.
    upload(&pki, &p);
    assert_eq!(queued(&pki), 1);
    std::thread::sleep(QUIET);
    assert_eq!(centre.got().len(), 1, "exactly one report");
}

#[test]
fn a_busy_centre_gets_the_same_report_again_until_it_takes_it() {
    let pki = Pki::new();
    let centre = Centre::start(&[503, 503]);
    report_to(&pki, centre.port);
    let gw = Gw::start(&pki);
    let api = gw.dispatch.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let store = shared_store(tmp.path());
    let (m, p) = documented_mission(&pki, api, &store);

    upload(&pki, &p);
    let got = centre.wait_for(3);
    for g in &got {
        check_report(g, &p, m);
        assert_eq!(g.raw, got[0].raw, "the same bytes on every attempt");
    }
    let r = wait_state(api, &token(&pki), "delivered");
    assert_eq!(r["attempts"], 3, "{r}");
    assert!(r["delivered_ms"].as_i64().is_some(), "{r}");
    std::thread::sleep(QUIET);
    assert_eq!(centre.got().len(), 3, "nothing after the 200");
}

#[test]
fn a_report_survives_a_centre_down_and_a_killed_gateway() {
    let pki = Pki::new();
    let port = Port::reserve();
    report_to(&pki, port.number());
    let mut gw = Gw::start(&pki);
    let api = gw.dispatch.unwrap();
    let tok = token(&pki);
    let tmp = tempfile::tempdir().unwrap();
    let store = shared_store(tmp.path());
    let (m, p) = documented_mission(&pki, api, &store);

    // Nothing listens: the report waits, retried with backoff.
    upload(&pki, &p);
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let r = report_state(api, &tok);
        assert_eq!(r["state"], "pending", "{r}");
        if r["attempts"].as_u64().is_some_and(|a| a >= 2) {
            assert_eq!(r["last_error"], "connect", "{r}");
            break;
        }
        assert!(Instant::now() < until, "no retries: {r}");
        std::thread::sleep(Duration::from_millis(20));
    }

    // SIGKILL, restart, and only then the centre comes up.
    let _ = gw.child.kill();
    let _ = gw.child.wait();
    let gw = Gw::start(&pki);
    let api = gw.dispatch.unwrap();
    let centre = Centre::listen(port, &[]);
    let got = centre.wait_for(1);
    check_report(&got[0], &p, m);
    wait_state(api, &tok, "delivered");
    std::thread::sleep(QUIET);
    assert_eq!(centre.got().len(), 1);
}

#[test]
fn a_refused_report_fails_at_once_and_is_not_retried() {
    let pki = Pki::new();
    let centre = Centre::start(&[400]);
    report_to(&pki, centre.port);
    let gw = Gw::start(&pki);
    let api = gw.dispatch.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let store = shared_store(tmp.path());
    let (_, p) = documented_mission(&pki, api, &store);

    upload(&pki, &p);
    centre.wait_for(1);
    let r = wait_state(api, &token(&pki), "failed");
    assert_eq!(
        (r["code"].as_str(), r["attempts"].as_u64()),
        (Some("http_400"), Some(1))
    );
    // Well past several maximum backoffs: still the one attempt.
    std::thread::sleep(QUIET);
    assert_eq!(centre.got().len(), 1);
    assert_eq!(report_state(api, &token(&pki))["state"], "failed");
}

/// `serve` must stop with an error (and not get ready).
fn refused_start(pki: &Pki) -> String {
    let mut child = Command::new(GW)
        .args(["serve", "--config"])
        .arg(pki.dir.join("gateway.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("the gateway started");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{err}");
    err
}

#[test]
fn a_token_file_open_to_others_or_a_plain_http_target_stops_the_start() {
    let pki = Pki::new();
    report_to(&pki, free_port());
    let f = pki.dir.join("centre-report.token");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = refused_start(&pki);
    assert!(
        err.contains("centre demo-ils")
            && err.contains("token file")
            && err.contains("mode 644")
            && err.contains("0600"),
        "{err}"
    );
    assert!(!err.contains(REPORT_TOKEN), "the token is never printed");

    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut cfg = std::fs::read_to_string(pki.dir.join("gateway.toml")).unwrap();
    let from = "http://127.0.0.1:";
    let at = cfg.find(from).unwrap();
    cfg.replace_range(at..at + from.len(), "http://192.0.2.7:");
    std::fs::write(pki.dir.join("gateway.toml"), cfg).unwrap();
    let err = refused_start(&pki);
    assert!(
        err.contains("centre demo-ils") && err.contains("must be https://"),
        "{err}"
    );
}

#[test]
fn a_protocol_of_a_mission_without_dispatch_is_not_reported() {
    let pki = Pki::new();
    let centre = Centre::start(&[]);
    report_to(&pki, centre.port);
    let _gw = Gw::start(&pki);
    let tmp = tempfile::tempdir().unwrap();
    let store = shared_store(tmp.path());
    let m = {
        let mut s = store.lock();
        s.set_author(Some(rettpad_record::Author {
            device: SERIAL.into(),
            crew_member: Uuid::from_u128(7),
        }));
        s.open_mission(CALL_SIGN, vec![]).unwrap()
    };
    let p = close_and_seal(&pki, &store, m);
    upload(&pki, &p);
    assert_eq!(
        queued(&pki),
        0,
        "nothing queued for a mission the ELS never sent"
    );
    std::thread::sleep(QUIET);
    assert!(centre.got().is_empty());
}
