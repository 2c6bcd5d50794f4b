//! The gateway's systemd units pass `systemd-analyze verify` without a
//! single warning (it exits 0 on unknown keys, so its output is checked),
//! in a root that holds the system's units and the built binary at its
//! packaged path.

use std::path::{Path, PathBuf};
use std::process::Command;

const GW: &str = env!("CARGO_BIN_EXE_rettpad-gateway");

fn units() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/gateway");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "service" || e == "timer")
        })
        .collect();
    v.sort();
    v
}

/// `systemd-analyze verify` of `files` in a fresh root; its stderr.
fn verify(files: &[(String, String)]) -> (bool, String) {
    let root = tempfile::tempdir().unwrap();
    let sys = root.path().join("usr/lib/systemd");
    std::fs::create_dir_all(&sys).unwrap();
    let cp = Command::new("cp")
        .args(["-a", "/usr/lib/systemd/system"])
        .arg(&sys)
        .status()
        .unwrap();
    assert!(cp.success());
    let bin = root.path().join("usr/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(GW, bin.join("rettpad-gateway")).unwrap();
    let etc = root.path().join("etc/systemd/system");
    std::fs::create_dir_all(&etc).unwrap();
    for (name, text) in files {
        std::fs::write(etc.join(name), text).unwrap();
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(format!("--root={}", root.path().display()))
        .args(files.iter().map(|(n, _)| n))
        .output()
        .expect("systemd-analyze (package systemd)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_unit_verifies_without_a_warning() {
    let files: Vec<(String, String)> = units()
        .iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(p).unwrap(),
            )
        })
        .collect();
    assert!(
        files
            .iter()
            .any(|(n, _)| n == "rettpad-gateway-backup.timer"),
        "{files:?}"
    );
    let (ok, err) = verify(&files);
    assert!(ok && err.trim().is_empty(), "{err}");
    // The check can fail: a misspelt key is only a warning to systemd.
    let (name, text) = files.iter().find(|(n, _)| n.ends_with(".service")).unwrap();
    let typo = text.replace("ProtectSystem=", "ProtectSystm=");
    let (_, err) = verify(&[(name.clone(), typo)]);
    assert!(err.contains("Unknown key 'ProtectSystm'"), "{err}");
}
