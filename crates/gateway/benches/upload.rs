//! Upload figures (issue 8), on loopback with a real `rettpad-gateway`
//! process and mTLS:
//! - `close_seal_upload`: closed mission → sealed (HPKE to gateway and one
//!   hospital, 200 KB PDF given as bytes) → queued in the vault → uploaded →
//!   receipt verified → mission deleted. Target < 500 ms.
//! - `gateway_intake`: packets/s from a bounded load generator (4 client
//!   threads, keep-alive mTLS connections, 50 distinct packets per thread
//!   and iteration). Target ≥ 500/s.
//!
//! Run: `cargo bench --bench upload`.

use criterion::{Criterion, Throughput};
use rettpad_clock::{Clock, SharedClock, SystemClock};
use rettpad_crypto::sha256;
use rettpad_pad::close::close_and_queue;
use rettpad_pad::config::Config;
use rettpad_record::{Author, Payload};
use rettpad_transfer::packet::{self, SealInput};
use rettpad_transfer::uploader::{self, StepResult};
use rettpad_transfer::{SealKeys, uploader_from_config};
use rettpad_vault::store::{Store, StoreOptions};
use rettpad_vault::{FileKeyProvider, KeyProvider};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const GW: &str = env!("CARGO_BIN_EXE_rettpad-gateway");
const SERIAL: &str = "DEMO-PAD-0001";
const CALL_SIGN: &str = "RTW 1/83-1";

struct Gw(Child);
impl Drop for Gw {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn setup(dir: &std::path::Path) -> (Gw, Config) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let pki = dir.join("pki");
    let ok = Command::new(GW)
        .args(["init", "--dir"])
        .arg(&pki)
        .args(["--port", &port.to_string(), "--hospital-port", "0"])
        .stdout(Stdio::null())
        .status()
        .expect("init");
    assert!(ok.success());
    let mut child = Command::new(GW)
        .args(["serve", "--config"])
        .arg(pki.join("gateway.toml"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("gateway");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    assert!(line.starts_with("ready"), "{line}");
    let cfg = Config::load(&pki.join(format!("pad-{SERIAL}.toml"))).expect("pad config");
    (Gw(child), cfg)
}

fn input(m: Uuid, pdf: &[u8]) -> SealInput {
    SealInput {
        mission_id: m,
        device_serial: SERIAL.into(),
        call_sign: CALL_SIGN.into(),
        created_ms: SystemClock::new().wall_ms(),
        target_hospital: Some("klinikum-mitte".into()),
        events_json: vec![b'x'; 40_000],
        mind_xml: vec![b'x'; 30_000],
        fhir_json: vec![b'x'; 60_000],
        pdf: pdf.to_vec(),
        pdf_sha256: sha256(pdf),
        handover_summary: "m, 76 J., V. a. STEMI".into(),
        prenotice: None,
    }
}

fn close_seal_upload(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_gw, cfg) = setup(tmp.path());
    let u = cfg.upload.as_ref().expect("upload");
    let keys = SealKeys::from_config(u).expect("keys");
    let up = uploader_from_config(u, SERIAL, CALL_SIGN).expect("uploader");
    let kp: Arc<dyn KeyProvider> = Arc::new(FileKeyProvider::new(tmp.path().join("device.key")));
    let clock: SharedClock = SystemClock::shared();
    let mut s = Store::open(
        &tmp.path().join("vault"),
        kp,
        clock,
        StoreOptions::default(),
    )
    .expect("vault");
    s.set_author(Some(Author {
        device: SERIAL.into(),
        crew_member: Uuid::from_u128(1),
    }));
    let store = Mutex::new(s);
    let pdf = vec![b'%'; 200_000];
    let mut g = c.benchmark_group("upload");
    g.sample_size(20).measurement_time(Duration::from_secs(10));
    g.bench_function("close_seal_upload", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let m = {
                    let mut s = store.lock().expect("lock");
                    let m = s.open_mission(CALL_SIGN, vec![]).expect("mission");
                    s.apply(m, Payload::Closed).expect("close");
                    m
                };
                let t = Instant::now();
                {
                    let mut s = store.lock().expect("lock");
                    close_and_queue(
                        &mut s,
                        m,
                        input(m.0, &pdf),
                        &keys,
                        SystemClock::new().wall_ms(),
                    )
                    .expect("queue");
                }
                let r = uploader::step(&store, &up, SystemClock::new().wall_ms()).expect("step");
                assert!(matches!(r, StepResult::Sent { .. }), "{r:?}");
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

fn gateway_intake(c: &mut Criterion) {
    const THREADS: usize = 4;
    const PER_THREAD: usize = 50;
    let tmp = tempfile::tempdir().expect("tmp");
    let (_gw, cfg) = setup(tmp.path());
    let u = cfg.upload.clone().expect("upload");
    let keys = SealKeys::from_config(&u).expect("keys");
    let ups: Vec<_> = (0..THREADS)
        .map(|_| uploader_from_config(&u, SERIAL, CALL_SIGN).expect("uploader"))
        .collect();
    let pdf = vec![b'%'; 20_000];
    let mut g = c.benchmark_group("gateway");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    g.throughput(Throughput::Elements((THREADS * PER_THREAD) as u64));
    g.bench_function("intake_packets", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Distinct packets (sealed outside the timing): no dedup.
                let batches: Vec<Vec<packet::Sealed>> = (0..THREADS)
                    .map(|_| {
                        (0..PER_THREAD)
                            .map(|_| {
                                let mut i = input(Uuid::now_v7(), &pdf);
                                i.events_json.truncate(2_000);
                                i.mind_xml.truncate(2_000);
                                i.fhir_json.truncate(4_000);
                                packet::seal(&i, &keys.gateway, &[]).expect("seal")
                            })
                            .collect()
                    })
                    .collect();
                let t = Instant::now();
                std::thread::scope(|sc| {
                    for (up, batch) in ups.iter().zip(&batches) {
                        sc.spawn(move || {
                            for p in batch {
                                up.send(p.packet_id, &p.sha256, &p.bytes).expect("receipt");
                            }
                        });
                    }
                });
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    close_seal_upload(&mut c);
    gateway_intake(&mut c);
    c.final_summary();
}
