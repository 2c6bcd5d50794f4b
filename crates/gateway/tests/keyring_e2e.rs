//! The passphrase mode against real gateway processes: after `keys wrap`
//! no key lies on disk in the clear; a start without the passphrase or
//! with a wrong one serves nothing and says why; with it the gateway
//! receipts and archives; a backup restores only with the passphrase.

mod common;

use common::backoffice::upload;
use common::{GW, Gw, Pki};
use rettpad_backoffice::Scope;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn run(config: &Path, args: &[&str], passphrase: Option<&Path>) -> Output {
    let mut c = Command::new(GW);
    c.args(args)
        .arg("--config")
        .arg(config)
        .env_remove("RETTPAD_PASSPHRASE_FILE")
        .env_remove("CREDENTIALS_DIRECTORY");
    if let Some(p) = passphrase {
        c.env("RETTPAD_PASSPHRASE_FILE", p);
    }
    c.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file under `dir`, recursively.
fn all_bytes(dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_bytes(&p, out);
        } else {
            out.push((
                p.display().to_string(),
                std::fs::read(&p).unwrap_or_default(),
            ));
        }
    }
}

#[test]
fn wrapped_keys_open_only_with_the_passphrase() {
    let pki = Pki::new();
    let conf = pki.dir.join("gateway.toml");
    let cfg = pki.gateway_config();
    let plain: Vec<String> = rettpad_gateway::keyring::wrapped_files(&cfg)
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap().trim().to_string())
        .collect();
    assert_eq!(plain.len(), 3, "storage, archive and backup key");
    let pass = pki.dir.join("passphrase");
    std::fs::write(&pass, "Leitstelle Nord, Schicht B\n").unwrap();
    let wrong = pki.dir.join("wrong");
    std::fs::write(&wrong, "Leitstelle Süd, Schicht B\n").unwrap();

    let short = pki.dir.join("short");
    std::fs::write(&short, "kurz").unwrap();
    let o = run(
        &conf,
        &["keys", "wrap", "--passphrase-file", short.to_str().unwrap()],
        None,
    );
    assert!(stderr(&o).contains("at least 12"), "{}", stderr(&o));
    let o = run(
        &conf,
        &[
            "keys",
            "wrap",
            "--passphrase-file",
            pass.to_str().unwrap(),
            "--kdf-memory-kib",
            "19456",
        ],
        None,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for f in rettpad_gateway::keyring::wrapped_files(&cfg) {
        assert!(!f.exists(), "{} still in the clear", f.display());
    }

    // No start without it, none with a wrong one; each says why.
    let o = run(&conf, &["serve"], None);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("nothing is served without it"),
        "{}",
        stderr(&o)
    );
    let o = run(&conf, &["serve"], Some(&wrong));
    assert!(!o.status.success());
    assert!(stderr(&o).contains("wrong passphrase"), "{}", stderr(&o));

    // With it: receipts, the archive, a backup.
    // SAFETY: set before any thread of this test process starts.
    unsafe { std::env::set_var("RETTPAD_PASSPHRASE_FILE", &pass) };
    let cfg = pki.gateway_config();
    let gw = Gw::start(&pki);
    let id = upload(&pki, 0, "DEMO-PAD-0001", "RTW 1/83-1", "Kanarienvogel");
    let archive = rettpad_gateway::archiver::open_archive(&cfg).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while archive.summary(&Scope::org("demo"), id).unwrap().is_none() {
        assert!(Instant::now() < deadline, "not archived");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(gw);
    let o = run(&conf, &["backup"], Some(&pass));
    assert!(o.status.success(), "{}", stderr(&o));

    // The disk and the backup alone: no key in the clear anywhere, and
    // neither a restore nor the archive opens without the passphrase.
    let mut files = Vec::new();
    all_bytes(&pki.dir, &mut files);
    for (name, bytes) in &files {
        for k in &plain {
            assert!(
                !bytes.windows(k.len()).any(|w| w == k.as_bytes()),
                "a key in the clear in {name}"
            );
        }
    }
    let later = (rettpad_gateway::fleet_cli::now_ms() + 1).to_string();
    let o = run(&conf, &["restore", "--to", &later], None);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("passphrase"), "{}", stderr(&o));
    let o = run(&conf, &["restore", "--to", &later], Some(&pass));
    assert!(o.status.success(), "{}", stderr(&o));
}
