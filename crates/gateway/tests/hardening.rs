//! Issue 19, gateway items 4–7, against a real `rettpad-gateway` process on
//! loopback with a PKI from `rettpad-gateway init` and real mTLS:
//! identity binding of the manifest, file modes under a permissive umask,
//! body size and in-flight memory limits, slow authenticated clients.
//! Timing figures are in `benches/limits.rs`, not here.

use rettpad_crypto::sha256;
use rettpad_gateway::config::Limits;
use rettpad_gateway::{GatewayConfig, GatewayStore, SqliteStore};
use rettpad_transfer::packet::{self, SealInput};
use rettpad_transfer::{FailReason, HpkePublicKey, PreNotice, SealKeys, UploadConfig};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};
use uuid::Uuid;

const GW: &str = env!("CARGO_BIN_EXE_rettpad-gateway");
const PAD1: (&str, &str) = ("DEMO-PAD-0001", "RTW 1/83-1");
const PAD2: (&str, &str) = ("DEMO-PAD-0002", "NEF 1/82-1");
const HOSPITAL: &str = "klinikum-mitte";
const DIAGNOSIS: &str = "V. a. STEMI";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn now() -> i64 {
    use rettpad_clock::Clock;
    rettpad_clock::SystemClock::new().wall_ms()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Runs the gateway binary under umask 000, so only the modes the code
/// chooses protect its files.
fn gw_cmd(umask_000: bool) -> Command {
    if umask_000 {
        let mut c = Command::new("sh");
        c.args(["-c", "umask 000 && exec \"$0\" \"$@\"", GW]);
        c
    } else {
        Command::new(GW)
    }
}

struct Pki {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Pki {
    fn new(umask_000: bool) -> Pki {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let dir = root.join("pki");
        let port = free_port();
        let out = gw_cmd(umask_000)
            .args(["init", "--dir"])
            .arg(&dir)
            .args(["--port", &port.to_string(), "--hospital-port", "0"])
            .output()
            .expect("run init");
        assert!(
            out.status.success(),
            "init: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Pki {
            _tmp: tmp,
            root,
            dir,
            port,
        }
    }

    fn config(&self) -> GatewayConfig {
        GatewayConfig::load(&self.dir.join("gateway.toml")).unwrap()
    }

    fn set_limits(&self, f: impl FnOnce(&mut Limits)) {
        let mut c = self.config();
        f(&mut c.limits);
        std::fs::write(self.dir.join("gateway.toml"), c.to_toml()).unwrap();
    }

    fn upload(&self, serial: &str) -> UploadConfig {
        #[derive(serde::Deserialize)]
        struct PadFile {
            upload: UploadConfig,
        }
        let t = std::fs::read_to_string(self.dir.join(format!("pad-{serial}.toml"))).unwrap();
        toml::from_str::<PadFile>(&t).unwrap().upload
    }

    fn stored(&self) -> u64 {
        let d = self.config().data_dir;
        if !d.join("gateway.sqlite").exists() {
            return 0;
        }
        SqliteStore::open(&d).unwrap().count().unwrap()
    }

    fn hospital_key(&self) -> HpkePublicKey {
        HpkePublicKey::from_hex(
            &std::fs::read_to_string(self.dir.join(format!("hospital-{HOSPITAL}.pub"))).unwrap(),
        )
        .unwrap()
    }
}

/// A gateway process; its log goes to a file the tests read.
struct Gw {
    child: Child,
    hospitals: SocketAddr,
    log: PathBuf,
}

impl Gw {
    fn start(pki: &Pki, umask_000: bool) -> Gw {
        let log = pki.root.join(format!("gateway-{}.log", Uuid::now_v7()));
        let mut child = gw_cmd(umask_000)
            .args(["serve", "--config"])
            .arg(pki.dir.join("gateway.toml"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("spawn gateway");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(l);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("gateway did not get ready");
        let hospitals = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("hospitals="))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected ready line {line:?}"));
        Gw {
            child,
            hospitals,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log has a line with `what` (logs are written as
    /// things happen; the test does not guess a duration).
    fn wait_log(&self, what: &str) -> String {
        let t0 = Instant::now();
        loop {
            let l = self.log();
            if l.contains(what) {
                return l;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(30),
                "no log line with {what:?}:\n{l}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Gw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn input(serial: &str, call_sign: &str) -> SealInput {
    let pdf = b"%PDF-1.7\nTestprotokoll".to_vec();
    SealInput {
        mission_id: Uuid::now_v7(),
        device_serial: serial.into(),
        call_sign: call_sign.into(),
        created_ms: now(),
        target_hospital: Some(HOSPITAL.into()),
        events_json: b"[]".to_vec(),
        mind_xml: b"<mind/>".to_vec(),
        fhir_json: b"{}".to_vec(),
        pdf_sha256: sha256(&pdf),
        pdf,
        handover_summary: "m, 76 J.".into(),
        prenotice: Some(PreNotice {
            age_years: Some(76),
            sex: "m".into(),
            suspected_diagnosis: DIAGNOSIS.into(),
            priority: "Herzkatheter".into(),
            eta_ms: None,
            pzc: None,
            vitals: String::new(),
        }),
    }
}

fn seal(pki: &Pki, i: &SealInput) -> packet::Sealed {
    let keys = SealKeys::from_config(&pki.upload(PAD1.0)).unwrap();
    packet::seal(i, &keys.gateway, &[(HOSPITAL.into(), pki.hospital_key())]).unwrap()
}

fn send(pki: &Pki, pad: (&str, &str), p: &packet::Sealed) -> Result<(), FailReason> {
    let up = rettpad_transfer::uploader_from_config(&pki.upload(pad.0), pad.0, pad.1).unwrap();
    up.send(p.packet_id, &p.sha256, &p.bytes).map(|_| ())
}

/// A raw mTLS connection as the pad `serial`, for what the uploader never
/// does (no serial header, a huge declared length, slow bytes).
fn raw(pki: &Pki, serial: &str) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let tls = rettpad_transfer::client_tls(&pki.upload(serial)).unwrap();
    let mut conn = rustls::ClientConnection::new(
        Arc::new(tls),
        rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap(),
    )
    .unwrap();
    let mut sock = TcpStream::connect(("127.0.0.1", pki.port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    conn.complete_io(&mut sock).unwrap();
    rustls::StreamOwned::new(conn, sock)
}

fn head(len: Option<u64>, serial: Option<&str>) -> String {
    let mut h =
        "POST /v1/packets HTTP/1.1\r\nhost: gateway\r\ncontent-type: application/octet-stream\r\n"
            .to_string();
    if let Some(s) = serial {
        h.push_str(&format!("x-rettpad-serial: {s}\r\n"));
    }
    match len {
        Some(l) => h.push_str(&format!("content-length: {l}\r\n")),
        None => h.push_str("transfer-encoding: chunked\r\n"),
    }
    h.push_str("\r\n");
    h
}

/// Reads one answer up to the end of the connection: status and body.
/// `None` when the gateway closed without an answer.
fn answer<S: Read>(s: &mut S) -> Option<(u16, String)> {
    let mut b = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => b.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                panic!("no answer and no close within the read timeout")
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                panic!("no answer and no close within the read timeout")
            }
            // A reset or a TLS close without notify after the answer.
            Err(_) => break,
        }
    }
    let t = String::from_utf8_lossy(&b).to_string();
    let status = t.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, t))
}

/// True when the gateway has answered or closed. TLS records that carry
/// no data (TLS 1.3 session tickets) do not count; the answer stays
/// buffered in rustls for `answer`.
fn has_answer(s: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>) -> bool {
    s.sock.set_nonblocking(true).unwrap();
    let mut closed = false;
    loop {
        match s.conn.read_tls(&mut s.sock) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    s.sock.set_nonblocking(false).unwrap();
    match s.conn.process_new_packets() {
        Ok(st) => closed || st.peer_has_closed() || st.plaintext_bytes_to_read() > 0,
        Err(_) => true,
    }
}

/// Sends `data` in `chunk`-byte pieces every 200 ms until the gateway
/// answers; looks before each write, so no byte follows its close.
fn trickle(
    s: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    data: &[u8],
    chunk: usize,
) -> Option<(u16, String)> {
    for c in data.chunks(chunk) {
        if has_answer(s) {
            return answer(s);
        }
        if s.write_all(c).and_then(|_| s.flush()).is_err() {
            return answer(s);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    answer(s)
}

fn code(r: &Result<(), FailReason>) -> String {
    match r {
        Err(FailReason::DeviceRefused(c) | FailReason::PacketRefused(c)) => c.clone(),
        other => format!("{other:?}"),
    }
}

#[test]
fn identity_fields_are_bound_to_the_client_certificate() {
    let pki = Pki::new(false);
    let gw = Gw::start(&pki, false);
    let cases: Vec<(&str, SealInput, &str)> = vec![
        (
            "another unit's call sign",
            input(PAD1.0, PAD2.1),
            "call_sign_mismatch",
        ),
        (
            "another pad's serial",
            input(PAD2.0, PAD1.1),
            "device_mismatch",
        ),
        (
            "unknown target hospital",
            SealInput {
                target_hospital: Some("nirgendwo".into()),
                ..input(PAD1.0, PAD1.1)
            },
            "unknown_hospital",
        ),
        (
            "creation time a day ahead",
            SealInput {
                created_ms: now() + 86_400_000,
                ..input(PAD1.0, PAD1.1)
            },
            "bad_creation_time",
        ),
        (
            "creation time a year ago",
            SealInput {
                created_ms: now() - 365 * 86_400_000,
                ..input(PAD1.0, PAD1.1)
            },
            "bad_creation_time",
        ),
    ];
    for (what, i, want) in &cases {
        let r = send(&pki, PAD1, &seal(&pki, i));
        assert_eq!(code(&r), *want, "{what}");
    }
    // Without the serial header: refused before the body is read.
    let p = seal(&pki, &input(PAD1.0, PAD1.1));
    let mut s = raw(&pki, PAD1.0);
    s.write_all(head(Some(p.bytes.len() as u64), None).as_bytes())
        .unwrap();
    let (st, body) = answer(&mut s).expect("an answer");
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("serial_missing"), "{body}");

    assert_eq!(pki.stored(), 0, "nothing stored on refusal");
    let board = reqwest::blocking::get(format!("http://{}/", gw.hospitals))
        .unwrap()
        .text()
        .unwrap();
    assert!(!board.contains(DIAGNOSIS), "board shows a refused packet");
    let log = gw.wait_log("serial header is required");
    for c in ["call sign is not the one registered", "does not know"] {
        assert!(log.contains(c), "no log line for {c:?}:\n{log}");
    }
    assert!(!log.contains(DIAGNOSIS) && !log.contains(PAD2.1));

    // The same packet with the right identity goes through; the board
    // shows the registered call sign.
    send(&pki, PAD1, &p).unwrap();
    assert_eq!(pki.stored(), 1);
    let board = reqwest::blocking::get(format!("http://{}/board/{HOSPITAL}", gw.hospitals))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        board.contains(DIAGNOSIS) && board.contains(PAD1.1),
        "{board}"
    );
}

#[test]
fn secrets_data_and_letters_get_private_modes_under_umask_000() {
    let pki = Pki::new(true);
    assert_eq!(mode(&pki.dir), 0o700);
    let mut secrets = 0;
    for e in std::fs::read_dir(&pki.dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".key") || name.ends_with(".token") {
            assert_eq!(mode(&p), 0o600, "{name}");
            secrets += 1;
        }
    }
    // CA-less keys: gateway TLS, HPKE, signing, storage, archive, backup,
    // 2 pads, foreign pad, 3 hospitals × (key, token), the demo centre's
    // API token.
    assert_eq!(secrets, 16);

    // A data directory left 0755 by an older version is narrowed.
    let data = pki.config().data_dir;
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let gw = Gw::start(&pki, true);
    send(&pki, PAD1, &seal(&pki, &input(PAD1.0, PAD1.1))).unwrap();
    assert_eq!(mode(&data), 0o700);
    for f in [
        "gateway.sqlite",
        "gateway.sqlite-wal",
        "gateway.sqlite-shm",
        "dispatch.sqlite",
        "dispatch.sqlite-wal",
        "dispatch.sqlite-shm",
    ] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }

    // The hospital client under umask 000: a fresh inbox is 0700, the
    // decrypted letters 0600.
    let fetch = |out: &Path| {
        gw_cmd(true)
            .args(["hospital", "fetch", "--url"])
            .arg(format!("http://{}", gw.hospitals))
            .args(["--hospital", HOSPITAL, "--token-file"])
            .arg(pki.dir.join(format!("hospital-{HOSPITAL}.token")))
            .arg("--key-file")
            .arg(pki.dir.join(format!("hospital-{HOSPITAL}.key")))
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let inbox = pki.root.join("inbox/neu");
    let o = fetch(&inbox);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(mode(&inbox), 0o700);
    let files: Vec<PathBuf> = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
    // An inbox others can read is refused, and nothing is written there.
    let shared = pki.root.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = fetch(&shared);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("open to other users"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read_dir(&shared).unwrap().count(), 0);
    assert_eq!(mode(&shared), 0o755);

    // A key file someone widened is named at the next start.
    assert!(!gw.log().contains("readable by other users"));
    drop(gw);
    let key = pki.dir.join("storage.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let gw = Gw::start(&pki, true);
    let log = gw.wait_log("readable by other users");
    assert!(log.contains("storage.key"), "{log}");
}

#[test]
fn sizes_are_refused_from_the_declared_length_and_memory_is_capped() {
    let pki = Pki::new(false);
    pki.set_limits(|l| {
        l.max_body_bytes = 1 << 20;
        l.max_inflight_body_bytes = 1 << 20;
        l.inflight_wait_ms = 300;
    });
    let gw = Gw::start(&pki, false);

    // 200 MB declared, not one body byte sent: the answer comes at once.
    let mut s = raw(&pki, PAD1.0);
    s.write_all(head(Some(200_000_000), Some(PAD1.0)).as_bytes())
        .unwrap();
    let (st, body) = answer(&mut s).expect("an answer");
    assert_eq!(st, 413, "{body}");
    assert!(
        body.contains("too_large") && body.contains("1048576"),
        "{body}"
    );

    // No length declared (chunked): 411.
    let mut s = raw(&pki, PAD1.0);
    s.write_all(head(None, Some(PAD1.0)).as_bytes()).unwrap();
    let (st, body) = answer(&mut s).expect("an answer");
    assert_eq!(st, 411, "{body}");

    // The pad's own uploader sending 20 MB while the gateway refuses after
    // the head: the gateway keeps reading (and discarding) for a moment
    // after its answer, so the client reads the 413 instead of a reset.
    let up = rettpad_transfer::uploader_from_config(&pki.upload(PAD1.0), PAD1.0, PAD1.1).unwrap();
    let r = up.send(Uuid::now_v7(), &[0; 32], &vec![0u8; 20 << 20]);
    assert!(
        matches!(&r, Err(FailReason::PacketRefused(c)) if c == "too_large"),
        "{r:?}"
    );

    // The budget: one upload holds all in-flight memory (1 MiB declared,
    // a few bytes sent); another pad's upload waits, then gets 503.
    let mut holder = raw(&pki, PAD1.0);
    holder
        .write_all(head(Some(1 << 20), Some(PAD1.0)).as_bytes())
        .unwrap();
    holder.write_all(b"RPK1").unwrap();
    holder.flush().unwrap();
    gw.wait_log("receiving upload");
    let p = seal(&pki, &input(PAD2.0, PAD2.1));
    let r = send(&pki, PAD2, &p);
    assert!(
        matches!(&r, Err(FailReason::Server(c)) if c == "busy"),
        "{r:?}"
    );
    // The holder goes away: its reservation is returned.
    drop(holder);
    let t0 = Instant::now();
    loop {
        match send(&pki, PAD2, &p) {
            Ok(()) => break,
            Err(e) => assert!(t0.elapsed() < Duration::from_secs(30), "{e:?}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(pki.stored(), 1);
    let log = gw.log();
    for l in [
        "declared length over the limit",
        "no content-length",
        "in-flight body memory is full",
    ] {
        assert!(log.contains(l), "no log line {l:?}:\n{log}");
    }
}

#[test]
fn one_pad_cannot_take_the_whole_in_flight_budget() {
    let pki = Pki::new(false);
    pki.set_limits(|l| {
        l.max_body_bytes = 1 << 20;
        l.max_inflight_body_bytes = 2 << 20;
        l.inflight_wait_ms = 300;
    });
    let gw = Gw::start(&pki, false);
    // Pad 1 declares a full packet and sends it slowly.
    let mut holder = raw(&pki, PAD1.0);
    holder
        .write_all(head(Some(1 << 20), Some(PAD1.0)).as_bytes())
        .unwrap();
    holder.write_all(b"RPK1").unwrap();
    holder.flush().unwrap();
    gw.wait_log("receiving upload");
    // Its next upload exceeds its share: 429 at once.
    let r = send(&pki, PAD1, &seal(&pki, &input(PAD1.0, PAD1.1)));
    assert!(
        matches!(&r, Err(FailReason::Server(c)) if c == "pad_busy"),
        "{r:?}"
    );
    // Another pad still finds room.
    send(&pki, PAD2, &seal(&pki, &input(PAD2.0, PAD2.1))).unwrap();
    assert_eq!(pki.stored(), 1);
    assert!(gw.log().contains("would exceed one packet's room"));
    drop(holder);
}

#[test]
fn a_pad_holding_200_slow_connections_does_not_block_another_pad() {
    let pki = Pki::new(false);
    pki.set_limits(|l| {
        l.max_connections_per_pad = 8;
        l.header_timeout_secs = 20;
    });
    let gw = Gw::start(&pki, false);
    // Pad 1 opens 200 connections, each with half a request head.
    let mut slow: Vec<_> = (0..200)
        .map(|_| {
            let mut s = raw(&pki, PAD1.0);
            s.write_all(b"POST /v1/packets HTTP/1.1\r\nhost: gw\r\n")
                .unwrap();
            s.flush().unwrap();
            s
        })
        .collect();
    // Pad 2 uploads meanwhile and gets its receipt.
    send(&pki, PAD2, &seal(&pki, &input(PAD2.0, PAD2.1))).unwrap();
    assert_eq!(pki.stored(), 1);
    // At that moment at least 8 of pad 1's connections were still open
    // and unanswered (the 429s went out right after each handshake).
    let open = slow
        .iter_mut()
        .map(|s| !has_answer(s))
        .filter(|h| *h)
        .count();
    assert!(open >= 8, "only {open} slow connections were held");
    // Pad 1 got 8 connections; the other 192 were refused with 429. The
    // 8 are cut with 408 once their head is overdue, after pad 2 was served.
    let (mut refused, mut cut) = (0, 0);
    for s in &mut slow {
        let (st, body) = answer(s).expect("an answer");
        match st {
            429 => {
                assert!(body.contains("too_many_connections"), "{body}");
                refused += 1;
            }
            408 => {
                assert!(body.contains("header_timeout"), "{body}");
                cut += 1;
            }
            _ => panic!("unexpected answer {body}"),
        }
    }
    assert_eq!((refused, cut), (192, 8));
    let log = gw.log();
    assert!(log.contains("maximum of open connections"), "{log}");
    assert!(log.contains("request head not complete in time"), "{log}");
    // Once they are gone, pad 1 can upload again.
    drop(slow);
    let p = seal(&pki, &input(PAD1.0, PAD1.1));
    let t0 = Instant::now();
    while let Err(e) = send(&pki, PAD1, &p) {
        assert!(t0.elapsed() < Duration::from_secs(30), "{e:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn slow_heads_slow_bodies_stalled_bodies_and_idle_connections_are_cut() {
    let pki = Pki::new(false);
    pki.set_limits(|l| {
        l.header_timeout_secs = 2;
        l.idle_timeout_secs = 2;
        l.body_stall_secs = 2;
        l.min_body_rate = 2_000;
        l.rate_grace_secs = 3;
    });
    let gw = Gw::start(&pki, false);

    // A head trickled one byte every 200 ms never completes in time.
    let mut s = raw(&pki, PAD1.0);
    let h = head(Some(100), Some(PAD1.0));
    let (st, body) = trickle(&mut s, h.as_bytes(), 1).expect("an answer");
    assert_eq!(st, 408, "{body}");
    assert!(body.contains("header_timeout"), "{body}");

    // A body that stops.
    let mut s = raw(&pki, PAD1.0);
    s.write_all(head(Some(100_000), Some(PAD1.0)).as_bytes())
        .unwrap();
    s.write_all(&[0u8; 10]).unwrap();
    let (st, body) = answer(&mut s).expect("an answer");
    assert_eq!(st, 408, "{body}");
    assert!(body.contains("body_timeout"), "{body}");

    // A body that keeps coming, below the minimum rate (500 B/s).
    let mut s = raw(&pki, PAD1.0);
    s.write_all(head(Some(100_000), Some(PAD1.0)).as_bytes())
        .unwrap();
    let (st, body) = trickle(&mut s, &[0u8; 100_000], 100).expect("an answer");
    assert_eq!(st, 408, "{body}");
    assert!(body.contains("body_too_slow"), "{body}");

    // A kept-alive connection without a next request is closed, silently.
    let mut s = raw(&pki, PAD1.0);
    s.write_all(b"GET /v1/hello HTTP/1.1\r\nhost: gw\r\n\r\n")
        .unwrap();
    let mut first = vec![0u8; 4096];
    let n = s.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    let mut rest = Vec::new();
    // EOF, or a close without TLS close_notify; not the read timeout.
    if let Err(e) = s.read_to_end(&mut rest) {
        assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "idle connection not closed: {e}"
        );
    }
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));

    assert_eq!(pki.stored(), 0);
    let log = gw.log();
    for l in [
        "request head not complete in time",
        "upload refused while reading its body",
        "error=\"body_timeout\"",
        "error=\"body_too_slow\"",
    ] {
        assert!(log.contains(l), "no log line {l:?}:\n{log}");
    }
}
