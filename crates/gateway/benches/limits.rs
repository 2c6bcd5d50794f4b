//! Memory and latency under hostile uploads (issue 19, item 6), against a
//! real `rettpad-gateway` process on loopback with mTLS:
//!
//! - `oversized`: 8 parallel uploads declaring and streaming 200 MB each
//!   (over the 64 MiB limit) from one pad, while another pad uploads valid
//!   packets one after the other.
//! - `within_limit`: the same with 8 parallel 60 MB bodies (under the
//!   limit, so they are read; garbage, so they are refused after reading).
//! - `slow`: one pad opens 200 mTLS connections with half a request head
//!   each while another pad uploads valid packets.
//!
//! Prints the gateway's peak RSS (`VmHWM`, a fresh process per scenario),
//! its RSS after start, and the valid uploads' time to a verified receipt.
//! Targets: peak RSS < 150 MB with oversized uploads; receipt < 1 s.
//!
//! Run: `CARGO_TARGET_DIR=/work/target-gw cargo bench -p rettpad-gateway --bench limits`

use rettpad_clock::{Clock, SystemClock};
use rettpad_crypto::sha256;
use rettpad_transfer::packet::{self, SealInput};
use rettpad_transfer::{SealKeys, UploadConfig, uploader_from_config};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use uuid::Uuid;

const GW: &str = env!("CARGO_BIN_EXE_rettpad-gateway");
const ATTACKER: &str = "DEMO-PAD-0001";
const PAD: (&str, &str) = ("DEMO-PAD-0002", "NEF 1/82-1");
const PARALLEL: usize = 8;

struct Gw(Child);
impl Drop for Gw {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn upload_config(dir: &Path, serial: &str) -> UploadConfig {
    #[derive(serde::Deserialize)]
    struct PadFile {
        upload: UploadConfig,
    }
    let t = std::fs::read_to_string(dir.join(format!("pad-{serial}.toml"))).expect("pad config");
    toml::from_str::<PadFile>(&t).expect("pad config").upload
}

fn start(dir: &Path) -> (Gw, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let ok = Command::new(GW)
        .args(["init", "--dir"])
        .arg(dir)
        .args(["--port", &port.to_string(), "--hospital-port", "0"])
        .stdout(Stdio::null())
        .status()
        .expect("init");
    assert!(ok.success());
    let mut child = Command::new(GW)
        .args(["serve", "--config"])
        .arg(dir.join("gateway.toml"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .expect("gateway");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    assert!(line.starts_with("ready"), "{line}");
    (Gw(child), port)
}

fn valid_packet(u: &UploadConfig) -> packet::Sealed {
    let keys = SealKeys::from_config(u).expect("keys");
    let pdf = vec![b'%'; 200_000];
    let i = SealInput {
        mission_id: Uuid::now_v7(),
        device_serial: PAD.0.into(),
        call_sign: PAD.1.into(),
        created_ms: SystemClock::new().wall_ms(),
        target_hospital: Some("klinikum-mitte".into()),
        events_json: vec![b'x'; 40_000],
        mind_xml: vec![b'x'; 30_000],
        fhir_json: vec![b'x'; 60_000],
        pdf_sha256: sha256(&pdf),
        pdf,
        handover_summary: "m, 76 J.".into(),
        prenotice: None,
    };
    packet::seal(&i, &keys.gateway, &[]).expect("seal")
}

struct Figures {
    rss_start_mb: f64,
    peak_mb: f64,
    receipts: Vec<Duration>,
    answers: Vec<String>,
}

fn scenario(body_len: u64) -> Figures {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("pki");
    let (gw, port) = start(&dir);
    let pid = gw.0.id();
    let pad = upload_config(&dir, PAD.0);
    let up = uploader_from_config(&pad, PAD.0, PAD.1).expect("uploader");
    // Warm-up: one upload, then the resting RSS.
    let p = valid_packet(&pad);
    up.send(p.packet_id, &p.sha256, &p.bytes).expect("warm-up");
    let rss_start_mb = status_kb(pid, "VmRSS:") as f64 / 1024.0;

    let attacker = upload_config(&dir, ATTACKER);
    let stop = AtomicBool::new(false);
    let mut receipts = Vec::new();
    let answers = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..PARALLEL)
            .map(|_| {
                let tls = rettpad_transfer::client_tls(&attacker).expect("tls");
                sc.spawn(move || {
                    let http = reqwest::blocking::Client::builder()
                        .tls_backend_preconfigured(tls)
                        .timeout(Duration::from_secs(120))
                        .build()
                        .expect("client");
                    let zeros = std::io::repeat(0).take(body_len);
                    match http
                        .post(format!("https://127.0.0.1:{port}/v1/packets"))
                        .header("x-rettpad-serial", ATTACKER)
                        .body(reqwest::blocking::Body::sized(zeros, body_len))
                        .send()
                    {
                        Ok(r) => format!("HTTP {}", r.status().as_u16()),
                        Err(e) => format!("error {e}"),
                    }
                })
            })
            .collect();
        // Valid uploads from another pad while the bodies come in.
        let t_end = Instant::now() + Duration::from_secs(8);
        while Instant::now() < t_end && !stop.load(Ordering::Relaxed) {
            let p = valid_packet(&pad);
            let t = Instant::now();
            match up.send(p.packet_id, &p.sha256, &p.bytes) {
                Ok(_) => receipts.push(t.elapsed()),
                Err(e) => eprintln!("valid upload failed: {e:?}"),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        stop.store(true, Ordering::Relaxed);
        hs.into_iter()
            .map(|h| h.join().unwrap_or_else(|_| "panicked".into()))
            .collect::<Vec<_>>()
    });
    let peak_mb = status_kb(pid, "VmHWM:") as f64 / 1024.0;
    Figures {
        rss_start_mb,
        peak_mb,
        receipts,
        answers,
    }
}

/// 200 connections of one pad with half a head each (item 7).
fn slow_scenario() -> Figures {
    use std::io::Write;
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("pki");
    let (gw, port) = start(&dir);
    let pid = gw.0.id();
    let pad = upload_config(&dir, PAD.0);
    let up = uploader_from_config(&pad, PAD.0, PAD.1).expect("uploader");
    let p = valid_packet(&pad);
    up.send(p.packet_id, &p.sha256, &p.bytes).expect("warm-up");
    let rss_start_mb = status_kb(pid, "VmRSS:") as f64 / 1024.0;
    let tls = std::sync::Arc::new(
        rettpad_transfer::client_tls(&upload_config(&dir, ATTACKER)).expect("tls"),
    );
    let mut held = Vec::new();
    for _ in 0..200 {
        let mut c = rustls::ClientConnection::new(
            tls.clone(),
            rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name"),
        )
        .expect("client");
        let mut sock = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        if c.complete_io(&mut sock).is_err() {
            continue;
        }
        let mut s = rustls::StreamOwned::new(c, sock);
        let _ = s.write_all(b"POST /v1/packets HTTP/1.1\r\nhost: gw\r\n");
        let _ = s.flush();
        held.push(s);
    }
    let mut receipts = Vec::new();
    let t_end = Instant::now() + Duration::from_secs(8);
    while Instant::now() < t_end {
        let p = valid_packet(&pad);
        let t = Instant::now();
        match up.send(p.packet_id, &p.sha256, &p.bytes) {
            Ok(_) => receipts.push(t.elapsed()),
            Err(e) => eprintln!("valid upload failed: {e:?}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let peak_mb = status_kb(pid, "VmHWM:") as f64 / 1024.0;
    drop(held);
    Figures {
        rss_start_mb,
        peak_mb,
        receipts,
        answers: vec!["200 connections opened, half a head each".into()],
    }
}

fn report(name: &str, f: &Figures) {
    let mut r = f.receipts.clone();
    r.sort();
    let ms = |d: Option<&Duration>| d.map(|d| d.as_secs_f64() * 1e3).unwrap_or(f64::NAN);
    let mut answers = f.answers.clone();
    answers.sort();
    answers.dedup();
    println!(
        "{name}: RSS after start {:.1} MB, peak RSS {:.1} MB; {} valid uploads, receipt median {:.0} ms, max {:.0} ms; attackers got {:?}",
        f.rss_start_mb,
        f.peak_mb,
        r.len(),
        ms(r.get(r.len() / 2)),
        ms(r.last()),
        answers
    );
}

fn main() {
    // `cargo test --benches` passes --bench-less args; run only on `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let a = scenario(200_000_000);
    report("oversized (8 × 200 MB)", &a);
    let b = scenario(60_000_000);
    report("within_limit (8 × 60 MB)", &b);
    let c = slow_scenario();
    report("slow (200 half heads from one pad)", &c);
}
