//! Filing throughput of the archive on SQLite and on PostgreSQL (a private
//! cluster with fsync on, as production runs), 4 threads, and the ratio.
//! `cargo bench -p rettpad-backoffice --bench archive [-- N]`

use std::collections::BTreeMap;
use std::time::Instant;

use rettpad_backoffice::{Archive, Db, Incoming};
use rettpad_crypto::SecretKey;
use rettpad_sim::postgres::TempCluster;
use rettpad_sim::sample;
use uuid::Uuid;

fn threads() -> usize {
    std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(4)
}

type Packet = (Uuid, Uuid, BTreeMap<String, Vec<u8>>);

fn run(url: &str, packets: &[Packet]) -> f64 {
    let a = Archive::new(
        Db::open(url).unwrap(),
        SecretKey::from_bytes([1; 32]),
        "bench",
    );
    let t = Instant::now();
    std::thread::scope(|sc| {
        for chunk in packets.chunks(packets.len().div_ceil(threads())) {
            let a = &a;
            sc.spawn(move || {
                // As the gateway's archiver files: 16 per transaction.
                for batch in chunk.chunks(16) {
                    let incs: Vec<Incoming<'_>> = batch
                        .iter()
                        .map(|(pid, mid, parts)| Incoming {
                            org: "bench-org",
                            packet_id: *pid,
                            mission_id: *mid,
                            device_serial: sample::RTW_PAD,
                            call_sign: sample::RTW_CALL_SIGN,
                            station: Some("wache-1"),
                            vehicle_type: Some("RTW"),
                            received_ms: 1_800_000_000_000,
                            packet_sha256: "00",
                            pdf_sha256: None,
                            receipt_json: "{}",
                            parts,
                        })
                        .collect();
                    for r in a.file_all(&incs) {
                        r.unwrap();
                    }
                }
            });
        }
    });
    packets.len() as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000);
    let pdf = vec![b'x'; 30_000];
    let packets: Vec<Packet> = (0..n)
        .map(|i| {
            let s = sample::standard_at(i as u64 % 200);
            let mut parts = BTreeMap::new();
            parts.insert(
                "events.json".to_string(),
                serde_json::to_vec(&s.events).unwrap(),
            );
            parts.insert("protocol.pdf".to_string(), pdf.clone());
            (Uuid::now_v7(), s.mission().0, parts)
        })
        .collect();
    if let Some((_, mid, parts)) = packets.first() {
        let sp = rettpad_backoffice::split::split(&parts["events.json"], *mid).unwrap();
        println!(
            "  one protocol: {} events, {} statistics rows, {} KB of events",
            sp.events,
            sp.stats.len(),
            parts["events.json"].len() / 1024
        );
    }
    let t = Instant::now();
    for (_, mid, parts) in &packets {
        rettpad_backoffice::split::split(&parts["events.json"], *mid).unwrap();
    }
    println!(
        "  split alone {:8.0} protocols/s (one thread)",
        packets.len() as f64 / t.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().unwrap();
    let lite = run(
        &format!("sqlite:{}", dir.path().join("a.sqlite").display()),
        &packets,
    );
    let cluster = TempCluster::start_with(true).unwrap();
    let url = cluster.create_database("bench").unwrap();
    let pg = run(&url, &packets);
    if std::env::var_os("BENCH_PG_LOG").is_some() {
        let log =
            std::fs::read_to_string(cluster.socket_dir().join("server.log")).unwrap_or_default();
        for l in log
            .lines()
            .filter(|l| l.contains("duration"))
            .take(1_000_000)
        {
            println!("{l}");
        }
    }
    println!("archive filing, {n} protocols, {} threads:", threads());
    println!("  sqlite     {lite:8.0} protocols/s");
    println!("  postgresql {pg:8.0} protocols/s (fsync on)");
    println!("  ratio pg/sqlite {:.2}", pg / lite);
}
