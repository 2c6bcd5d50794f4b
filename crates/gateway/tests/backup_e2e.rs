//! Backup and restore against a real gateway process: a backup taken while
//! packets arrive, more packets, the archive destroyed, a restore to before
//! the damage, the replay of the originals, and the receipted ids compared
//! with the archive. Then what must be refused: a tampered or cut backup
//! (the file named, nothing restored), another gateway's backup, a wrong
//! key, a target outside the retention window, a backup that cannot be
//! written (an alarm, not silence); and the retention.

mod common;

use common::backoffice::upload;
use common::{GW, Gw, Pki};
use rettpad_backoffice::Scope;
use rettpad_gateway::GatewayConfig;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use uuid::Uuid;

fn cli(config: &Path, args: &[&str]) -> Output {
    let (cmd, rest) = args.split_first().unwrap();
    Command::new(GW)
        .arg(cmd)
        .args(rest)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn refused(o: &Output, needle: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "not refused: {err}");
    assert!(err.contains(needle), "{needle:?} not in: {err}");
    err
}

fn archived(cfg: &GatewayConfig) -> BTreeSet<Uuid> {
    let a = rettpad_gateway::archiver::open_archive(cfg).unwrap();
    a.list(&Scope::org("demo"), None, 1_000)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect()
}

fn wait_archived(cfg: &GatewayConfig, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while archived(cfg).len() < n {
        assert!(Instant::now() < deadline, "not archived");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn now_ms() -> i64 {
    rettpad_gateway::fleet_cli::now_ms()
}

fn backups(cfg: &GatewayConfig) -> Vec<PathBuf> {
    rettpad_gateway::backup::list(cfg)
        .unwrap()
        .into_iter()
        .map(|(id, _)| cfg.backup.as_ref().unwrap().dir.join(id.to_string()))
        .collect()
}

fn file_sha(p: &Path) -> Vec<u8> {
    rettpad_crypto::sha256(&std::fs::read(p).unwrap()).to_vec()
}

#[test]
fn a_restore_replays_every_receipted_packet_and_refuses_bad_backups() {
    let pki = Pki::new();
    let conf = pki.dir.join("gateway.toml");
    let cfg = pki.gateway_config();
    let archive_file = cfg.data_dir.join("archive.sqlite");
    let gw = Gw::start(&pki);
    let mut sent = BTreeSet::new();
    for seed in 0..4 {
        sent.insert(upload(&pki, seed, "DEMO-PAD-0001", "RTW 1/83-1", "Vogel"));
    }
    wait_archived(&cfg, 4);

    // Online, while the gateway runs.
    let out = ok(&cli(&conf, &["backup"]));
    assert!(out.contains("written"), "{out}");
    let first = backups(&cfg);
    assert_eq!(first.len(), 1);
    // Nothing in the backup is readable without the key: the canary
    // name, the pads' serials and the SQLite header are not in any file.
    for f in std::fs::read_dir(&first[0]).unwrap() {
        let bytes = std::fs::read(f.unwrap().path()).unwrap();
        for needle in [&b"SQLite format 3"[..], b"DEMO-PAD-0001", b"Vogel"] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle));
        }
    }
    let status = rettpad_gateway::backup::status(&cfg.data_dir);
    assert!(status.last_ok_ms.is_some() && status.last_error.is_none());

    for seed in 4..8 {
        sent.insert(upload(&pki, seed, "DEMO-PAD-0001", "RTW 1/83-1", "Vogel"));
    }
    wait_archived(&cfg, 8);
    assert_eq!(archived(&cfg), sent);

    // The damage: the gateway stops, the archive file is cut in half.
    let damage_ms = now_ms();
    drop(gw);
    let len = std::fs::metadata(&archive_file).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&archive_file)
        .unwrap();
    f.set_len(len / 2).unwrap();
    drop(f);
    let _ = std::fs::remove_file(cfg.data_dir.join("archive.sqlite-wal"));

    // Refused first, the live files untouched: a tampered chunk, a cut
    // file, a target outside the window.
    let enc = first[0].join("archive.sqlite.enc");
    let good = std::fs::read(&enc).unwrap();
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 1;
    std::fs::write(&enc, &bad).unwrap();
    let before = file_sha(&archive_file);
    let to = damage_ms.to_string();
    let err = refused(&cli(&conf, &["restore", "--to", &to]), "archive.sqlite.enc");
    assert!(err.contains("nothing was restored"), "{err}");
    assert_eq!(file_sha(&archive_file), before, "touched before verified");
    std::fs::write(&enc, &good[..good.len() - 10]).unwrap();
    refused(&cli(&conf, &["restore", "--to", &to]), "cut off");
    std::fs::write(&enc, &good).unwrap();
    let store_enc = first[0].join("gateway.sqlite.enc");
    let store_good = std::fs::read(&store_enc).unwrap();
    std::fs::write(&store_enc, &store_good[..store_good.len() / 3]).unwrap();
    refused(&cli(&conf, &["restore", "--to", &to]), "gateway.sqlite.enc");
    std::fs::write(&store_enc, &store_good).unwrap();
    assert_eq!(file_sha(&archive_file), before);
    refused(
        &cli(&conf, &["restore", "--to", "2020-01-01T00:00:00Z"]),
        "before the oldest backup",
    );
    refused(
        &cli(
            &conf,
            &["restore", "--to", &(now_ms() + 3_600_000).to_string()],
        ),
        "in the future",
    );
    refused(&cli(&conf, &["restore", "--to", "gestern"]), "not a time");

    // The restore: the archive from the backup, then every original
    // received since filed again. Every receipt has its protocol.
    let out = ok(&cli(&conf, &["restore", "--to", &to]));
    assert!(out.contains(" 0 missing"), "{out}");
    assert_eq!(archived(&cfg), sent, "receipted ids = archived ids");
    let a = rettpad_gateway::archiver::open_archive(&cfg).unwrap();
    assert_eq!(a.list(&Scope::org("demo"), None, 1_000).unwrap().len(), 8);
    drop(a);
    // The gateway runs on the restored archive and files new packets.
    let gw = Gw::start(&pki);
    sent.insert(upload(&pki, 8, "DEMO-PAD-0001", "RTW 1/83-1", "Vogel"));
    wait_archived(&cfg, 9);
    assert_eq!(archived(&cfg), sent);
    drop(gw);

    // Another gateway's backup, made with the same key: refused by its
    // identity; with its own key: the manifest does not open.
    let other = Pki::new();
    let ocfg = other.gateway_config();
    std::fs::copy(
        &cfg.backup.as_ref().unwrap().key,
        &ocfg.backup.as_ref().unwrap().key,
    )
    .unwrap();
    let ogw = Gw::start(&other);
    upload(&other, 20, "DEMO-PAD-0001", "RTW 1/83-1", "Fremd");
    drop(ogw);
    ok(&cli(&other.dir.join("gateway.toml"), &["backup"]));
    let foreign = backups(&ocfg).pop().unwrap();
    let ours = cfg
        .backup
        .as_ref()
        .unwrap()
        .dir
        .join(foreign.file_name().unwrap());
    copy_dir(&foreign, &ours);
    let later = (now_ms() + 1).to_string();
    refused(&cli(&conf, &["restore", "--to", &later]), "another gateway");
    std::fs::remove_dir_all(&ours).unwrap();
    // This gateway's backup restored into a configuration of another
    // organisation: refused.
    let mut c = cfg.clone();
    c.archive.org = Some("andere-organisation".into());
    let other_org = pki.dir.join("other-org.toml");
    std::fs::write(&other_org, c.to_toml()).unwrap();
    refused(
        &cli(&other_org, &["restore", "--to", &later]),
        "is of organisation",
    );
    let key = cfg.backup.as_ref().unwrap().key.clone();
    let our_key = std::fs::read(&key).unwrap();
    std::fs::write(&key, hex::encode([7u8; 32])).unwrap();
    refused(&cli(&conf, &["restore", "--to", &later]), "does not open");
    std::fs::write(&key, &our_key).unwrap();

    // A backup that cannot be written: an error, and the status says so.
    let mut c = cfg.clone();
    let blocker = pki.dir.join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    c.backup.as_mut().unwrap().dir = blocker.join("backups");
    let broken = pki.dir.join("broken.toml");
    std::fs::write(&broken, c.to_toml()).unwrap();
    refused(&cli(&broken, &["backup"]), "cannot write the backup");
    let status = rettpad_gateway::backup::status(&cfg.data_dir);
    assert!(
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("cannot write")),
        "{status:?}"
    );

    // A full disk: the backup process may write no more than 64 KiB per
    // file (RLIMIT_FSIZE, SIGXFSZ ignored, so writes fail with EFBIG as
    // on a full file system). An error and the alarm, no partial backup.
    let before: Vec<PathBuf> = backups(&cfg);
    let mut full = Command::new(GW);
    full.args(["backup", "--config"]).arg(&conf);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut full, || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let lim = libc::rlimit {
                rlim_cur: 64 * 1024,
                rlim_max: 64 * 1024,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let o = full.output().unwrap();
    let err = refused(&o, "BACKUP FAILED");
    assert!(
        ["full", "too large", "disk I/O error"]
            .iter()
            .any(|w| err.contains(w)),
        "{err}"
    );
    assert_eq!(backups(&cfg), before, "no partial backup listed");
    let dir = cfg.backup.as_ref().unwrap().dir.clone();
    assert!(
        std::fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".partial")),
        "partial directory left behind"
    );
    assert!(
        std::fs::read_dir(&cfg.data_dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".backup-")),
        "plaintext snapshot left behind"
    );
    let status = rettpad_gateway::backup::status(&cfg.data_dir);
    assert!(status.last_error_ms.unwrap() >= status.last_ok_ms.unwrap());

    // Retention: a backup older than 28 days goes with the next run.
    let old_ms = now_ms() - 40 * 86_400_000;
    let ts = uuid::Timestamp::from_unix(
        uuid::NoContext,
        (old_ms / 1000) as u64,
        ((old_ms % 1000) * 1_000_000) as u32,
    );
    let old = cfg
        .backup
        .as_ref()
        .unwrap()
        .dir
        .join(Uuid::new_v7(ts).to_string());
    copy_dir(&first[0], &old);
    assert_eq!(backups(&cfg).len(), 2);
    let out = ok(&cli(&conf, &["backup"]));
    assert!(out.contains("1 old backup(s) removed"), "{out}");
    assert!(!old.exists());
    assert_eq!(backups(&cfg).len(), 2, "the first and the new one");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}
