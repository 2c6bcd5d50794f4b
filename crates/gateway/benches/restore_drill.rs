//! The restore drill (issue 21, docs/backup.md): a real gateway process
//! with an archive of N missions, an online backup, M more packets
//! receipted and archived, the archive destroyed, `restore` to now. It
//! reports the recovery point (receipted packets missing afterwards;
//! target 0) and the recovery time (target < 5 min for 100,000 missions).
//!
//! `cargo xtask restore-drill [N] [M]` (defaults 100000 and 500): first
//! with the archive on SQLite, then on a private PostgreSQL whose WAL our
//! binary archives (`--sqlite` / `--pg` for one of them).
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
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut nums = args.iter().filter_map(|a| a.parse::<usize>().ok());
    let n = nums.next().unwrap_or(100_000);
    let m = nums.next().unwrap_or(500);
    let only = |f: &str| args.iter().any(|a| a == f);
    if !only("--pg") {
        drill_sqlite(n, m);
    }
    if !only("--sqlite") {
        drill_pg(n, m);
    }
}

/// A fresh gateway installation in `dir`; its configuration file.
fn install(dir: &Path) -> std::path::PathBuf {
    let pki = dir.join("pki");
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
    pki.join("gateway.toml")
}

fn drill_pg(n: usize, m: usize) {
    use rettpad_sim::postgres::{TempCluster, share_with_server};
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = install(dir.path());
    let pki = conf.parent().expect("pki").to_path_buf();
    share_with_server(dir.path()).expect("share");
    let archive_cmd = rettpad_gateway::backup_pg::archive_command(Path::new(GW), &conf);
    let pg = TempCluster::start_settings(&[
        ("wal_level", "replica"),
        ("archive_mode", "on"),
        ("archive_command", &archive_cmd),
    ])
    .expect("cluster");
    let url = pg.create_database("drill").expect("database");
    let mut cfg = GatewayConfig::load(&conf).expect("config");
    cfg.archive.url = Some(url);
    std::fs::write(&conf, cfg.to_toml()).expect("config");
    share_with_server(dir.path()).expect("share");
    let cfg = GatewayConfig::load(&conf).expect("config");

    let gw = serve(&conf);
    upload(&pki, 200, 0);
    wait_archived(&cfg, 200);
    let t = Instant::now();
    pg.psql(
        "drill",
        &format!(
            "INSERT INTO protocol (org_id, id, mission_id, node, device_serial, call_sign, station_id,
                 els_number, opened_ms, closed_ms, received_ms, archived_ms, year, retain_until_ms,
                 key_year, packet_sha256, receipt, patients, changes)
             SELECT 'demo', gen_random_uuid()::text, gen_random_uuid()::text, 'drill', 'PAD-' || (i % 400),
                    'RTW ' || (i % 40) || '/83-' || (i % 7), 'wache-' || (1 + i % 8), 'ELS-' || i,
                    t, t + 3600000, t + 3700000, t + 3700000, 2026, 2038000000000, 2026, 'gen', '{{}}', 1, 0
             FROM (SELECT i, 1700000000000 + (i::bigint * 94608) AS t
                   FROM generate_series(1, {}) AS i) g;
             INSERT INTO protocol_crew (org_id, protocol_id, staff_id)
             SELECT org_id, id, 'staff-' || (abs(hashtext(id)) % 300) FROM protocol WHERE node = 'drill';",
            n.saturating_sub(200)
        ),
    )
    .expect("generate");
    let total = archived(&cfg);
    println!(
        "restore drill: archive of {total} missions (PostgreSQL, WAL archived by wal-archive), generated in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let out = cli(&conf, &["backup"]);
    println!(
        "  online backup (base backup + SQLite files): {:.1} s ({})",
        t.elapsed().as_secs_f64(),
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
    // Every commit so far into the archived WAL, then the damage: the
    // archive database is dropped.
    let seg = pg
        .psql("drill", "SELECT pg_walfile_name(pg_switch_wal())")
        .expect("switch");
    let seg = seg.lines().last().unwrap_or("").trim().to_string();
    let wal = rettpad_gateway::backup_pg::wal_dir(&cfg).expect("wal dir");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !wal.join(format!("{seg}.entry")).exists() {
        assert!(Instant::now() < deadline, "{seg} not archived");
        std::thread::sleep(Duration::from_millis(100));
    }
    pg.psql("postgres", "DROP DATABASE drill WITH (FORCE)")
        .expect("damage");

    let t = Instant::now();
    let data = dir.path().join("restored");
    let out = cli(
        &conf,
        &[
            "restore",
            "--to",
            &rettpad_gateway::fleet_cli::now_ms().to_string(),
            "--pg-data",
            &data.to_string_lossy(),
        ],
    );
    let since = out
        .split("--since ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .expect("replay point")
        .to_string();
    let restored = TempCluster::start_existing(&data, &[]).expect("restored cluster");
    let mut c2 = cfg.clone();
    c2.archive.url = Some(restored.conn_string("drill"));
    let conf2 = pki.join("restored.toml");
    std::fs::write(&conf2, c2.to_toml()).expect("config");
    let replayed = cli(&conf2, &["replay", "--since", &since]);
    let rto = t.elapsed().as_secs_f64();
    let after_restore = archived(&c2);
    let a = rettpad_gateway::archiver::open_archive(&c2).expect("archive");
    let missing = after
        .iter()
        .filter(|id| {
            a.summary(&Scope::org("demo"), **id)
                .ok()
                .flatten()
                .is_none()
        })
        .count();
    println!("  restore: {}", out.lines().next().unwrap_or("").trim());
    println!("  replay: {}", replayed.trim());
    println!(
        "  recovery time {rto:.1} s (restore + start + replay; target < 300 s); recovery point: {missing} of {m} receipted packets missing (target 0); archive {after_restore} of {} missions",
        total + m
    );
    assert_eq!(missing, 0, "receipted packets lost");
    assert_eq!(after_restore, total + m);
}

fn drill_sqlite(n: usize, m: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = install(dir.path());
    let pki = conf.parent().expect("pki").to_path_buf();
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
