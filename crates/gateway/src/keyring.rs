//! The optional passphrase mode: the storage, archive and backup keys lie
//! on disk only wrapped by a master key that is derived from a passphrase
//! (Argon2id) at start and held only in memory. A stolen disk or backup
//! alone opens nothing; a cold start without the passphrase serves
//! nothing and says why.
//!
//! `keyring.json` (path in `[keys] keyring`) holds the KDF's salt and
//! parameters and a check value; each wrapped key is `<key file>.wrapped`,
//! sealed under the master key with the file's name as AAD.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use argon2::{Algorithm, Argon2, Params, Version};
use rettpad_crypto::{SecretKey, open, seal};
use serde::{Deserialize, Serialize};

use crate::config::GatewayConfig;

/// Where the passphrase comes from, in this order: a file named by this
/// variable, or the systemd credential `passphrase`
/// (`$CREDENTIALS_DIRECTORY/passphrase`, e.g. `LoadCredential=` from a
/// tmpfs filled by `systemd-ask-password`).
pub const PASSPHRASE_ENV: &str = "RETTPAD_PASSPHRASE_FILE";
const CHECK: &[u8] = b"rettpad-keyring-check-v1";
/// OWASP's floor: never weaker, whatever the file says.
const MIN_M_KIB: u32 = 19_456;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Keyring {
    kdf: String,
    m_kib: u32,
    t: u32,
    p: u32,
    salt: String,
    /// `CHECK` sealed under the master key: tells a wrong passphrase
    /// from a damaged key file.
    check: String,
}

static MASTER: OnceLock<Result<SecretKey, String>> = OnceLock::new();

fn derive(passphrase: &[u8], salt: &[u8], m_kib: u32, t: u32, p: u32) -> Result<SecretKey, String> {
    if m_kib < MIN_M_KIB || t == 0 || p == 0 {
        return Err("keyring: KDF parameters below the floor".into());
    }
    let params = Params::new(m_kib, t, p, Some(32)).map_err(|e| format!("keyring: {e}"))?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(passphrase, salt, &mut out)
        .map_err(|e| format!("keyring: {e}"))?;
    Ok(SecretKey::from_bytes(out))
}

fn read_passphrase() -> Result<Vec<u8>, String> {
    let from = std::env::var_os(PASSPHRASE_ENV)
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CREDENTIALS_DIRECTORY").map(|d| PathBuf::from(d).join("passphrase"))
        })
        .ok_or_else(|| {
            format!(
                "the keys are wrapped by a passphrase and none was given \
                 (systemd credential `passphrase` or {PASSPHRASE_ENV}); nothing is served without it"
            )
        })?;
    let mut p = std::fs::read(&from).map_err(|e| format!("passphrase {}: {e}", from.display()))?;
    while p.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
        p.pop();
    }
    if p.is_empty() {
        return Err(format!("passphrase {}: empty", from.display()));
    }
    Ok(p)
}

fn load_ring(path: &Path) -> Result<Keyring, String> {
    let t = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&t).map_err(|e| format!("{}: {e}", path.display()))
}

/// The master key, derived once per process.
fn master(cfg: &GatewayConfig) -> Result<SecretKey, String> {
    let ring = cfg
        .keys
        .as_ref()
        .map(|k| k.keyring.clone())
        .ok_or("no [keys] keyring configured")?;
    MASTER
        .get_or_init(|| {
            let r = load_ring(&ring)?;
            let salt = hex::decode(&r.salt).map_err(|_| "keyring: salt is not hex".to_string())?;
            let pass = zeroize::Zeroizing::new(read_passphrase()?);
            let key = derive(&pass, &salt, r.m_kib, r.t, r.p)?;
            let check =
                hex::decode(&r.check).map_err(|_| "keyring: check is not hex".to_string())?;
            match open(&key, b"check", &check) {
                Ok(c) if c == CHECK => Ok(key),
                _ => Err("wrong passphrase: the keyring does not open".into()),
            }
        })
        .clone()
}

fn wrapped_path(key_file: &Path) -> PathBuf {
    let mut p = key_file.as_os_str().to_owned();
    p.push(".wrapped");
    PathBuf::from(p)
}

fn aad(key_file: &Path) -> Vec<u8> {
    let name = key_file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("rettpad-keyring/v1/{name}").into_bytes()
}

/// A 32-byte key from `path`: the plain hex file, or with `[keys]` its
/// `.wrapped` twin opened by the master key.
pub fn secret_key(cfg: &GatewayConfig, path: &Path) -> Result<SecretKey, String> {
    if cfg.keys.is_none() {
        let raw = crate::config::read_hex_file(path)?;
        return SecretKey::from_slice(&raw)
            .ok_or_else(|| format!("{}: not 32 bytes", path.display()));
    }
    let w = wrapped_path(path);
    let sealed = crate::config::read_hex_file(&w)?;
    let m = master(cfg)?;
    let raw = zeroize::Zeroizing::new(
        open(&m, &aad(path), &sealed).map_err(|_| format!("{}: does not open", w.display()))?,
    );
    SecretKey::from_slice(&raw).ok_or_else(|| format!("{}: not 32 bytes", w.display()))
}

/// The key files the passphrase mode wraps.
pub fn wrapped_files(cfg: &GatewayConfig) -> Vec<PathBuf> {
    let mut v = vec![cfg.storage_key.clone()];
    if let Some(k) = &cfg.archive.master_key
        && *k != cfg.storage_key
    {
        v.push(k.clone());
    }
    if let Some(b) = &cfg.backup {
        v.push(b.key.clone());
    }
    v
}

/// Overwrites a plain key file before unlinking it (best effort on
/// copy-on-write file systems; docs/backup.md says so).
fn shred(path: &Path) -> Result<(), String> {
    use std::io::Write;
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(&vec![0u8; len as usize])
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::remove_file(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// `keys wrap`: derives a master key from `passphrase`, writes the
/// keyring, wraps every key file and removes the plain ones. Returns the
/// wrapped files.
pub fn wrap(
    cfg: &GatewayConfig,
    keyring: &Path,
    passphrase: &[u8],
    m_kib: u32,
) -> Result<Vec<PathBuf>, String> {
    if passphrase.len() < 12 {
        return Err("the passphrase must have at least 12 characters".into());
    }
    if keyring.exists() {
        return Err(format!(
            "{} exists: the keys are wrapped already",
            keyring.display()
        ));
    }
    let salt = SecretKey::generate().map_err(|e| e.to_string())?;
    let (t, p) = (3, 1);
    let m = derive(passphrase, &salt.expose()[..16], m_kib, t, p)?;
    let ring = Keyring {
        kdf: "argon2id".into(),
        m_kib,
        t,
        p,
        salt: hex::encode(&salt.expose()[..16]),
        check: hex::encode(seal(&m, b"check", CHECK).map_err(|e| e.to_string())?),
    };
    let files = wrapped_files(cfg);
    // Every wrapped file first, then the keyring, then the plain files go:
    // an interruption leaves the plain keys in place.
    let mut out = Vec::new();
    for f in &files {
        let raw = crate::config::read_hex_file(f)?;
        let sealed = seal(&m, &aad(f), &raw).map_err(|e| e.to_string())?;
        let w = wrapped_path(f);
        crate::private::write(&w, hex::encode(sealed).as_bytes())?;
        out.push(w);
    }
    let json = serde_json::to_vec_pretty(&ring).map_err(|e| e.to_string())?;
    crate::private::write_new(keyring, &json)?;
    for f in &files {
        shred(f)?;
    }
    Ok(out)
}

pub const USAGE: &str =
    "  rettpad-gateway keys wrap --config FILE --passphrase-file FILE [--kdf-memory-kib 65536]
      wraps the storage, archive and backup keys by the passphrase; then every start needs it";

/// `rettpad-gateway keys wrap`.
pub fn cli(args: &[String]) -> Result<(), String> {
    let opt = |n: &str| crate::fleet_cli::opt(args, n);
    if args.first().map(String::as_str) != Some("wrap") {
        return Err(USAGE.into());
    }
    let config = PathBuf::from(opt("--config").ok_or(USAGE)?);
    let mut cfg = GatewayConfig::load(&config).map_err(|e| e.to_string())?;
    if cfg.keys.is_some() {
        return Err("the keys are wrapped already ([keys] in the configuration)".into());
    }
    let pass = zeroize::Zeroizing::new(
        std::fs::read(opt("--passphrase-file").ok_or(USAGE)?).map_err(|e| e.to_string())?,
    );
    let m_kib = match opt("--kdf-memory-kib") {
        Some(v) => v.parse().map_err(|_| "--kdf-memory-kib: a number")?,
        None => 65_536,
    };
    let ring = config
        .parent()
        .unwrap_or(Path::new("."))
        .join("keyring.json");
    let files = wrap(&cfg, &ring, pass.trim_ascii_end(), m_kib)?;
    cfg.keys = Some(crate::config::KeysEntry { keyring: ring });
    crate::private::write(&config, cfg.to_toml().as_bytes())?;
    for f in files {
        println!("wrapped {}", f.display());
    }
    Ok(())
}
