//! Provisioning figures (issue 15): a package with 500 staff, 200 hospitals
//! and a full catalog (180 presets) plus the settings. Per run: build and
//! sign on the gateway as `provision build` does (read and validate the
//! part files, count the versions in SQLite, sign); the size on the wire
//! (the package, and the SSE event that carries it base64 on the
//! channel); verify and apply on a pad (`rettpad_pad::fleet::apply_package`
//! into a fresh vault on disk, one SQLite transaction). Medians of N runs.
//!
//! Run: `cargo bench -p rettpad-gateway --bench provision` (N runs,
//! `RETTPAD_BENCH_N`, default 30).

use rettpad_channel::{Kind, MAX_EVENT_BYTES};
use rettpad_gateway::init::{InitOptions, init};
use rettpad_gateway::{GatewayConfig, fleet, fleet_cli, fleet_keys};
use rettpad_provision::keys::Purpose;
use rettpad_provision::package::{self, Applied, Target};
use rettpad_record::keys::{measure, med};
use rettpad_vault::FileKeyProvider;
use rettpad_vault::store::{SharedStore, Store, StoreOptions};
use std::fmt::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SERIAL: &str = "DEMO-PAD-0001";

fn settings() -> String {
    let pin = rettpad_pad::session::Pin::new("5678".to_string()).unwrap();
    format!(
        "pin_hash = \"{}\"\nidle_lock_minutes = 10\nmax_wrong_pins = 5\nmax_offline_days = 14\nrfid_unlock = true\n",
        rettpad_pad::session::hash_pin(&pin).unwrap()
    )
}

fn staff(n: usize) -> String {
    const FIRST: [&str; 8] = [
        "Anna", "Jonas", "Lena", "Mehmet", "Sophie", "Lukas", "Jörg", "Marie",
    ];
    const LAST: [&str; 8] = [
        "Berger",
        "Keller",
        "Weiß-Müller",
        "Yılmaz",
        "Schneider",
        "Hoffmann",
        "Zimmermann",
        "Krüger",
    ];
    const Q: [&str; 4] = ["notsan", "rettsan", "notarzt", "rettass"];
    let mut s = String::new();
    for i in 0..n {
        let card = rettpad_provision::sha256_hex(format!("card-{i}").as_bytes());
        let _ = write!(
            s,
            "[[staff]]\nnumber = \"{}\"\nname = \"{} {}\"\nqualification = \"{}\"\nrfid_sha256 = \"{card}\"\n\n",
            100_000 + i,
            FIRST[i % 8],
            LAST[(i / 8) % 8],
            Q[i % 4]
        );
    }
    s
}

fn hospitals(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let (_, pk) = rettpad_transfer::HpkeSecretKey::generate().unwrap();
        let _ = write!(
            s,
            "[[hospitals]]\nid = \"klinik-{i:03}\"\nname = \"Klinikum Beispielstadt {i}, Zentrale Notaufnahme\"\nik = \"26{:07}\"\nivena = \"{}\"\nhpke_public_key = \"{}\"\nprinter = \"ipps://zna-{i:03}.klinik.example:631/printers/zna\"\n\n",
            i,
            4000 + i,
            pk.to_hex()
        );
    }
    s
}

/// 120 medication presets (substance, dose, unit, route) and 60 measures.
fn catalog() -> String {
    const ROUTES: [&str; 4] = ["iv", "io", "im", "inh"];
    let mut s = String::new();
    for i in 0..120 {
        let _ = write!(
            s,
            "[[presets]]\ncollection = \"medication\"\nde = \"Medikament {i} 10 mg i.v.\"\nen = \"Medication {i} 10 mg IV\"\n\
             fields = [\n  {{ key = \"{}\", kind = \"text\", value = \"Wirkstoff Nummer {i}\" }},\n  {{ key = \"{}\", kind = \"number\", value = \"{}\" }},\n  {{ key = \"{}\", kind = \"code\", value = \"mg\" }},\n  {{ key = \"{}\", kind = \"code\", value = \"{}\" }},\n]\n\n",
            med::SUBSTANCE,
            med::DOSE,
            10 + i,
            med::UNIT,
            med::ROUTE,
            ROUTES[i % 4]
        );
    }
    for i in 0..60 {
        let _ = write!(
            s,
            "[[presets]]\ncollection = \"measure\"\nde = \"Maßnahme {i}\"\nen = \"Measure {i}\"\n\
             fields = [\n  {{ key = \"{}\", kind = \"code\", value = \"{:02}\" }},\n  {{ key = \"{}\", kind = \"text\", value = \"Standard\" }},\n]\n\n",
            measure::KIND,
            i % 27 + 1,
            measure::DETAIL
        );
    }
    s
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn vault(dir: &Path) -> SharedStore {
    SharedStore::new(
        Store::open(
            &dir.join("data"),
            Arc::new(FileKeyProvider::new(dir.join("device.key"))),
            rettpad_clock::SystemClock::shared(),
            StoreOptions::default(),
        )
        .unwrap(),
    )
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("RETTPAD_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let tmp = tempfile::tempdir().unwrap();
    let gw_dir = tmp.path().join("gw");
    init(&InitOptions {
        dir: gw_dir.clone(),
        listen: "127.0.0.1:8443".parse().unwrap(),
        hospital_listen: "127.0.0.1:8080".parse().unwrap(),
        load_pads: 0,
    })
    .unwrap();
    let gw_dir = gw_dir.canonicalize().unwrap();
    let created = fleet_keys::create(&gw_dir, "rd-bench", 365, fleet_cli::now_ms()).unwrap();
    let config = gw_dir.join("gateway.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&fleet_keys::gateway_section(&created.trust));
    std::fs::write(&config, text).unwrap();
    let cfg = GatewayConfig::load(&config).unwrap();
    let f = cfg.fleet.clone().unwrap();
    let key = rettpad_gateway::config::read_hex_file(&cfg.storage_key).unwrap();
    std::fs::create_dir_all(&cfg.data_dir).unwrap();
    let d = rettpad_gateway::dispatch::Dispatcher::open(
        &cfg,
        rettpad_crypto::SecretKey::from_slice(&key).unwrap(),
    )
    .unwrap();

    let parts = tmp.path().join("parts");
    std::fs::create_dir_all(&parts).unwrap();
    for (name, body) in [
        ("settings.toml", settings()),
        ("staff.toml", staff(500)),
        ("hospitals.toml", hospitals(200)),
        ("catalog.toml", catalog()),
    ] {
        std::fs::write(parts.join(name), body).unwrap();
    }
    let toml_bytes: u64 = std::fs::read_dir(&parts)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();

    let (mut build, mut verify, mut apply) = (Vec::new(), Vec::new(), Vec::new());
    let mut sizes = (0, 0);
    for i in 0..n {
        let now = fleet_cli::now_ms();
        let t = Instant::now();
        let p = fleet_cli::read_parts(&parts).unwrap();
        let signer = fleet_keys::load_signing(&f, Purpose::Packages, now).unwrap();
        let (bytes, _) = fleet::build(&d, &f, &signer, p, Target::All, None, now).unwrap();
        build.push(t.elapsed());
        sizes = (bytes.len(), fleet::event_bytes(Kind::Provisioning, &bytes));

        let t = Instant::now();
        let v = package::verify(&bytes, &created.trust, SERIAL, &Applied::default(), now).unwrap();
        rettpad_provision::parts::decode(&v).unwrap();
        verify.push(t.elapsed());

        let pad_dir = tmp.path().join(format!("pad-{i}"));
        let store = vault(&pad_dir);
        let t = Instant::now();
        rettpad_pad::fleet::apply_package(&store, Some(&created.trust), SERIAL, &bytes, now)
            .unwrap();
        apply.push(t.elapsed());
        drop(store);
        let _ = std::fs::remove_dir_all(&pad_dir);
    }
    println!("provisioning package: 500 staff, 200 hospitals, 180 presets, settings; {n} runs");
    println!("part files (TOML)                 {toml_bytes} bytes");
    println!("package (signed, on a USB stick)  {} bytes", sizes.0);
    println!(
        "SSE event on the channel (base64) {} bytes (limit {MAX_EVENT_BYTES}: {})",
        sizes.1,
        if sizes.1 <= MAX_EVENT_BYTES {
            "fits"
        } else {
            "too large, publish refuses it"
        }
    );
    for (what, v) in [
        ("gateway: build + sign (median)", &mut build),
        ("pad: verify + decode (median)", &mut verify),
        ("pad: verify + apply, durable (median)", &mut apply),
    ] {
        let med = median(v);
        println!(
            "{what:38} {}  (min {}, max {})",
            ms(med),
            ms(v[0]),
            ms(v[v.len() - 1])
        );
    }
}
