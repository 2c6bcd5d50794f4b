//! The organisation's fleet keys on disk (docs/fleet.md):
//!
//! - the **root** key, `offline/root.pkcs8` (PKCS#8 DER), written once and
//!   meant to leave the gateway: pads trust its public key; it is needed
//!   again only to certify a new signing key;
//! - two online **signing** keys beside `gateway.toml`, each certified by
//!   the root for one purpose: `fleet-packages.key/.cert` and
//!   `fleet-commands.key/.cert` (hex PKCS#8 and hex key certificate).
//!
//! Keys are created 0600 and never overwritten by `provision keys`;
//! `provision certify` replaces one signing key on purpose (rotation).

use crate::config::FleetEntry;
use crate::fleet::{DAY_MS, check_org, trust};
use crate::private::{self, Existing};
use rettpad_provision::Trust;
use rettpad_provision::keys::{KeyCert, Purpose, RootKey, SigningKey};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Where `provision keys` puts the root, relative to the gateway directory.
pub const ROOT_FILE: &str = "offline/root.pkcs8";

/// A signing key's certificate is valid from a day before it was made: a
/// pad whose clock runs late still takes it.
const BACKDATE_MS: i64 = DAY_MS;

fn names(p: Purpose) -> (&'static str, &'static str) {
    match p {
        Purpose::Packages => ("fleet-packages.key", "fleet-packages.cert"),
        Purpose::Commands => ("fleet-commands.key", "fleet-commands.cert"),
    }
}

/// The key and certificate files of `purpose` as `[fleet]` names them.
pub fn paths(f: &FleetEntry, p: Purpose) -> (&Path, &Path) {
    match p {
        Purpose::Packages => (&f.packages_key, &f.packages_cert),
        Purpose::Commands => (&f.commands_key, &f.commands_cert),
    }
}

pub fn check_days(days: u32) -> Result<(), String> {
    if (1..=3650).contains(&days) {
        Ok(())
    } else {
        Err("--days must be 1-3650".into())
    }
}

/// What `provision keys` made.
#[derive(Debug)]
pub struct Created {
    pub trust: Trust,
    pub root: PathBuf,
    /// Per purpose: key file, certificate file, certificate.
    pub keys: Vec<(PathBuf, PathBuf, KeyCert)>,
}

/// A public file, created new (the certificate: no secret in it).
fn write_public_new(path: &Path, data: &[u8]) -> Result<(), String> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(data)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn certify_new(
    root: &RootKey,
    org: &str,
    purpose: Purpose,
    days: u32,
    now_ms: i64,
) -> Result<(Vec<u8>, KeyCert, Vec<u8>), String> {
    let k = root
        .new_signing_key(
            org,
            vec![purpose],
            now_ms - BACKDATE_MS,
            now_ms + i64::from(days) * DAY_MS,
        )
        .map_err(|e| e.to_string())?;
    Ok((k.pkcs8, k.cert, k.encoded_cert))
}

/// `provision keys`: a new root in `dir/offline/` and both signing keys in
/// `dir`. Refuses when any of these files exists, before writing anything.
pub fn create(dir: &Path, org: &str, days: u32, now_ms: i64) -> Result<Created, String> {
    check_org(org)?;
    check_days(days)?;
    let root_path = dir.join(ROOT_FILE);
    let mut files = vec![root_path.clone()];
    for p in [Purpose::Packages, Purpose::Commands] {
        let (k, c) = names(p);
        files.push(dir.join(k));
        files.push(dir.join(c));
    }
    let existing: Vec<String> = files
        .iter()
        .filter(|f| f.exists())
        .map(|f| f.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(format!(
            "refusing to overwrite existing keys: {} (to renew a signing key use `provision certify`)",
            existing.join(", ")
        ));
    }
    let offline = dir.join("offline");
    private::dir(&offline, Existing::Refuse)?;
    let (root, der) = RootKey::generate().map_err(|e| e.to_string())?;
    private::write_new(&root_path, &der)?;
    let mut keys = Vec::new();
    for p in [Purpose::Packages, Purpose::Commands] {
        let (k, c) = names(p);
        let (der, cert, encoded) = certify_new(&root, org, p, days, now_ms)?;
        private::write_new(&dir.join(k), hex::encode(der).as_bytes())?;
        write_public_new(&dir.join(c), hex::encode(encoded).as_bytes())?;
        keys.push((dir.join(k), dir.join(c), cert));
    }
    tracing::warn!(org, "fleet root and signing keys created");
    Ok(Created {
        trust: root.trust(org),
        root: root_path,
        keys,
    })
}

/// The `[fleet]` section `provision keys` adds to `gateway.toml`.
pub fn gateway_section(t: &Trust) -> String {
    let (pk, pc) = names(Purpose::Packages);
    let (ck, cc) = names(Purpose::Commands);
    format!(
        "\n[fleet]\norg = \"{}\"\nroot_key = \"{}\"\npackages_key = \"{pk}\"\npackages_cert = \"{pc}\"\ncommands_key = \"{ck}\"\ncommands_cert = \"{cc}\"\n",
        t.org, t.root_key
    )
}

/// The section each pad's configuration gets (enrollment).
pub fn enrollment_section(t: &Trust) -> String {
    format!(
        "[fleet]\norg = \"{}\"\nroot_key = \"{}\"\n",
        t.org, t.root_key
    )
}

/// `provision certify`: a new signing key for `purpose`, certified by the
/// root at `root_path`, replacing the old key and certificate.
pub fn certify(
    f: &FleetEntry,
    root_path: &Path,
    purpose: Purpose,
    days: u32,
    now_ms: i64,
) -> Result<KeyCert, String> {
    check_days(days)?;
    let der = match std::fs::read(root_path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "{} not found: bring the root key from its offline storage (or name it with --root FILE)",
                root_path.display()
            ));
        }
        Err(e) => return Err(format!("{}: {e}", root_path.display())),
    };
    let root = RootKey::from_pkcs8(&der).map_err(|e| format!("{}: {e}", root_path.display()))?;
    if root.public_hex() != f.root_key {
        return Err(format!(
            "{} is not the root of organisation {} (its public key differs from root_key in [fleet])",
            root_path.display(),
            f.org
        ));
    }
    let (key, cert_path) = paths(f, purpose);
    let (der, cert, encoded) = certify_new(&root, &f.org, purpose, days, now_ms)?;
    // The key first: a crash between the two leaves a pair that refuses to
    // load ("certificate is for another signing key"), never a wrong one.
    private::write(key, hex::encode(der).as_bytes())?;
    std::fs::write(cert_path, hex::encode(encoded))
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    tracing::warn!(org = %f.org, purpose = purpose.name(), key = %cert.key_id(), "fleet signing key renewed");
    Ok(cert)
}

/// The signing key for `purpose`, checked against the organisation's root
/// now, so an expired certificate is named here and not by every pad.
pub fn load_signing(f: &FleetEntry, purpose: Purpose, now_ms: i64) -> Result<SigningKey, String> {
    let (key, cert) = paths(f, purpose);
    let der = crate::config::read_hex_file(key)?;
    let encoded = crate::config::read_hex_file(cert)?;
    trust(f)
        .check_cert(&encoded, purpose, now_ms)
        .map_err(|e| {
            format!(
                "{}: {e}; renew it with `rettpad-gateway provision certify --purpose {}`",
                cert.display(),
                purpose.name()
            )
        })?;
    SigningKey::new(&der, encoded).map_err(|e| format!("{}: {e}", key.display()))
}
