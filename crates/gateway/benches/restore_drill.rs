//! The restore drill (issue 21, docs/backup.md): a real gateway process
//! with an archive of N missions, an online backup, M more packets
//! receipted and archived, the archive destroyed, `restore` to now. It
//! reports the recovery point (receipted packets missing afterwards;
//! target 0) and the recovery time (target < 5 min for 100,000 missions).
//!
//! `cargo xtask restore-drill [N] [M]` (defaults 100000 and 500).
//! The N missions are 200 filed for real plus generated rows (protocol and
//! crew rows, as the 1 M list benchmark does); the M packets go the whole
//! way: sealed, uploaded over mTLS, receipted, archived, replayed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rettpad_backoffice::Scope;
use rettpad_gateway::GatewayConfig;
use rettpad_pad::config::Config;
use rettpad_transfer::HpkePublicKey;
use rettpad_transfer::packet::{SealInput, seal_with_id};
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

fn serve(conf: &Path) -> Gw {
    let mut child = Command::new(GW)
        .args(["serve", "--config"])
        .arg(conf)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    assert!(line.contains("hospitals="), "{line}");
    Gw(child)
}

fn cli(conf: &Path, args: &[&str]) -> String {
    let (cmd, rest) = args.split_first().expect("command");
    let o = Command::new(GW)
        .arg(cmd)
        .args(rest)
        .arg("--config")
        .arg(conf)
        .env("RUST_LOG", "warn")
        .output()
        .expect("cli");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Uploads `n` sealed sample protocols from 4 threads; their ids.
fn upload(pki: &Path, n: usize, base: u64) -> Vec<Uuid> {
    let gpk = HpkePublicKey::from_hex(
        std::fs::read_to_string(pki.join("gateway-hpke.pub"))
            .expect("hpke pub")
            .trim(),
    )
    .expect("hpke");
    let cfg = Config::load(&pki.join(format!("pad-{SERIAL}.toml"))).expect("pad config");
    let u = cfg.upload.expect("upload");
    std::thread::scope(|sc| {
        let hs: Vec<_> = (0..4)
            .map(|t| {
                let (gpk, u) = (&gpk, &u);
                sc.spawn(move || {
                    let up = rettpad_transfer::uploader_from_config(u, SERIAL, CALL_SIGN)
                        .expect("uploader");
                    let mut ids = Vec::new();
                    for i in (t..n).step_by(4) {
                        let s = rettpad_sim::sample::standard_at(base + i as u64);
                        let pdf = b"%PDF-1.7 drill".to_vec();
                        let input = SealInput {
                            mission_id: s.mission().0,
                            device_serial: SERIAL.into(),
                            call_sign: CALL_SIGN.into(),
                            created_ms: rettpad_gateway::fleet_cli::now_ms(),
                            target_hospital: None,
                            events_json: serde_json::to_vec(&s.events).expect("events"),
                            mind_xml: b"<mind/>".to_vec(),
                            fhir_json: b"{}".to_vec(),
                            pdf_sha256: rettpad_crypto::sha256(&pdf),
                            pdf,
                            handover_summary: String::new(),
                            prenotice: None,
                        };
                        let p = seal_with_id(&input, gpk, &[], Uuid::now_v7()).expect("seal");
                        up.send(p.packet_id, &p.sha256, &p.bytes).expect("upload");
                        ids.push(p.packet_id);
                    }
                    ids
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().expect("sender"))
            .collect()
    })
}

fn archived(cfg: &GatewayConfig) -> usize {
    let a = rettpad_gateway::archiver::open_archive(cfg).expect("archive");
    let n = a
        .db()
        .read(&Scope::org("demo"), |tx| {
            tx.query_opt("SELECT count(*) FROM v_protocol WHERE org_id = 'demo'", &[])
        })
        .expect("count")
        .map(|r| r.int(0).unwrap_or(0))
        .unwrap_or(0);
    n as usize
}

fn wait_archived(cfg: &GatewayConfig, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while archived(cfg) < n {
        assert!(Instant::now() < deadline, "not archived");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// N generated protocol rows (and crew rows), written as the owner.
fn generate(archive: &Path, n: usize) {
    let c = rusqlite::Connection::open(archive).expect("archive file");
    // The tenancy triggers call this; the owner writes for every tenant.
    c.create_scalar_function(
        "app_org_visible",
        1,
        rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
        |_| Ok(true),
    )
    .expect("function");
    c.execute_batch(&format!(
        "BEGIN;
         WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {n})
         INSERT INTO protocol (org_id, id, mission_id, node, device_serial, call_sign, station_id,
             els_number, opened_ms, closed_ms, received_ms, archived_ms, year, retain_until_ms,
             key_year, packet_sha256, receipt, patients, changes, legal_hold)
         SELECT 'demo', lower(hex(randomblob(16))), lower(hex(randomblob(16))), 'drill',
                'PAD-' || (i % 400), 'RTW ' || (i % 40) || '/83-' || (i % 7), 'wache-' || (1 + i % 8),
                'ELS-' || i, 1700000000000 + i * 94608, 1700003600000 + i * 94608,
                1700003700000 + i * 94608, 1700003700000 + i * 94608, 2026, 2038000000000, 2026,
                'gen', '{{}}', 1, 0, 0
         FROM g;
         INSERT INTO protocol_crew (org_id, protocol_id, staff_id)
         SELECT org_id, id, 'staff-' || (abs(random()) % 300) FROM protocol WHERE node = 'drill';
         COMMIT;"
    ))
    .expect("generate");
}

fn main() {
    let mut nums = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<usize>().ok());
    let n = nums.next().unwrap_or(100_000);
    let m = nums.next().unwrap_or(500);
    let dir = tempfile::tempdir().expect("tempdir");
    let pki = dir.path().join("pki");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let ok = Command::new(GW)
        .args(["init", "--dir"])
        .arg(&pki)
        .args(["--port", &port.to_string(), "--hospital-port", "0"])
        .stdout(Stdio::null())
        .status()
        .expect("init");
    assert!(ok.success());
    let conf = pki.join("gateway.toml");
    let cfg = GatewayConfig::load(&conf).expect("config");
    let archive_file = cfg.data_dir.join("archive.sqlite");

    let gw = serve(&conf);
    upload(&pki, 200, 0);
    wait_archived(&cfg, 200);
    drop(gw);
    let t = Instant::now();
    generate(&archive_file, n.saturating_sub(200));
    let total = archived(&cfg);
    println!(
        "restore drill: archive of {total} missions (SQLite), generated in {:.0} s",
        t.elapsed().as_secs_f64()
    );

    let gw = serve(&conf);
    let t = Instant::now();
    let out = cli(&conf, &["backup"]);
    let backup_s = t.elapsed().as_secs_f64();
    let bdir = &cfg.backup.as_ref().expect("[backup]").dir;
    let bytes: u64 = std::fs::read_dir(bdir)
        .expect("backups")
        .filter_map(|e| e.ok())
        .flat_map(|e| std::fs::read_dir(e.path()).into_iter().flatten())
        .filter_map(|f| f.ok()?.metadata().ok())
        .map(|md| md.len())
        .sum();
    println!(
        "  online backup: {backup_s:.1} s, {:.1} MB sealed ({})",
        bytes as f64 / 1e6,
        out.trim()
    );
    let t = Instant::now();
    let after = upload(&pki, m, 1_000);
    wait_archived(&cfg, total + m);
    println!(
        "  {m} packets receipted and archived after the backup in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    drop(gw);

    // The damage: the archive is gone.
    std::fs::remove_file(&archive_file).expect("remove archive");
    let t = Instant::now();
    let out = cli(
        &conf,
        &[
            "restore",
            "--to",
            &rettpad_gateway::fleet_cli::now_ms().to_string(),
        ],
    );
    let rto = t.elapsed().as_secs_f64();
    let after_restore = archived(&cfg);
    let a = rettpad_gateway::archiver::open_archive(&cfg).expect("archive");
    let missing = after
        .iter()
        .filter(|id| {
            a.summary(&Scope::org("demo"), **id)
                .ok()
                .flatten()
                .is_none()
        })
        .count();
    println!("  restore: {}", out.trim());
    println!(
        "  recovery time {rto:.1} s (target < 300 s); recovery point: {missing} of {m} receipted packets missing (target 0); archive {after_restore} of {} missions",
        total + m
    );
    assert_eq!(missing, 0, "receipted packets lost");
    assert_eq!(after_restore, total + m);
}
