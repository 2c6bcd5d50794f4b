//! Where the device key lives.
//!
//! The device key is 32 random bytes that wrap every mission key. It must
//! live **outside** the data directory, so a copy of the data directory alone
//! is useless, and destroying the key alone makes every copy useless.
//!
//! # Adding a TPM 2.0 provider
//! Implement [`KeyProvider`] with the same 32-byte key:
//! - `create`: generate the key in software (or with `TPM2_GetRandom`), seal
//!   it to the TPM as a keyed-hash object under the storage root key (bound to
//!   a PCR policy if wanted), make it persistent with `TPM2_EvictControl` at a
//!   fixed handle, and return the key.
//! - `load`: `TPM2_Unseal` the persistent object; `Ok(None)` if the handle is
//!   empty.
//! - `destroy`: `TPM2_EvictControl` the object out of NV (and flush any
//!   transient copy). Unlike overwriting a file on flash, this really erases.
//!
//! The journal never sees the difference: it only calls these four methods.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zeroize::Zeroizing;

use super::VaultError;
use rettpad_crypto::{KEY_LEN, SecretKey};

/// Source of the device key. Implementations must be safe to call from any
/// thread.
pub trait KeyProvider: Send + Sync {
    /// The existing key, or `Ok(None)` if there is none.
    fn load(&self) -> Result<Option<SecretKey>, VaultError>;
    /// Creates and stores a new key. Fails if a key already exists: a key is
    /// never replaced, since that would make existing data unreadable.
    fn create(&self) -> Result<SecretKey, VaultError>;
    /// Destroys the stored key. Succeeds if there is no key (idempotent, so an
    /// interrupted wipe can be finished).
    fn destroy(&self) -> Result<(), VaultError>;
    /// For logs: where the key lives. Never the key itself.
    fn describe(&self) -> String;
}

/// The device key in a file with mode 0600, e.g.
/// `$XDG_CONFIG_HOME/rettpad/device.key` (see [`FileKeyProvider::default_path`]).
#[derive(Debug, Clone)]
pub struct FileKeyProvider {
    path: PathBuf,
}

impl FileKeyProvider {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileKeyProvider { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `$XDG_CONFIG_HOME/rettpad/device.key` if `XDG_CONFIG_HOME` is an
    /// absolute path, else `$HOME/.config/rettpad/device.key`, else (no
    /// `HOME`, e.g. a bare system service) `/etc/rettpad/device.key`.
    pub fn default_path() -> PathBuf {
        let abs = |var: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        let base = abs("XDG_CONFIG_HOME")
            .or_else(|| abs("HOME").map(|h| h.join(".config")))
            .unwrap_or_else(|| PathBuf::from("/etc"));
        base.join("rettpad").join("device.key")
    }

    /// The directory that holds the key file (`.` for a bare file name).
    fn parent(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }
}

/// Fsyncs a directory so a rename or unlink inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), VaultError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(VaultError::io("fsync directory"))
}

/// Creates `dir` and missing parents with mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), VaultError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(VaultError::io("create directory"))
}

impl KeyProvider for FileKeyProvider {
    fn load(&self) -> Result<Option<SecretKey>, VaultError> {
        // lstat first: a symlink could point the key at a file others control.
        let meta = match fs::symlink_metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(VaultError::io("stat device key file")(e)),
        };
        if !meta.file_type().is_file() {
            return Err(VaultError::KeyFile(format!(
                "{} is not a regular file",
                self.path.display()
            )));
        }
        let mut file = File::open(&self.path).map_err(VaultError::io("open device key file"))?;
        // Check the opened file itself, not the path, against races.
        let meta = file
            .metadata()
            .map_err(VaultError::io("stat device key file"))?;
        if meta.mode() & 0o077 != 0 {
            return Err(VaultError::KeyFile(format!(
                "{} is accessible by group or others (mode {:o}); expected 0600",
                self.path.display(),
                meta.mode() & 0o777
            )));
        }
        if meta.len() != KEY_LEN as u64 {
            return Err(VaultError::KeyFile(format!(
                "{} has {} bytes; expected {KEY_LEN}",
                self.path.display(),
                meta.len()
            )));
        }
        let mut buf = Zeroizing::new(Vec::with_capacity(KEY_LEN + 1));
        // Read one byte more than needed so a file that grew is caught.
        (&mut file)
            .take(KEY_LEN as u64 + 1)
            .read_to_end(&mut buf)
            .map_err(VaultError::io("read device key file"))?;
        SecretKey::from_slice(&buf).map(Some).ok_or_else(|| {
            VaultError::KeyFile(format!(
                "{} changed length while reading",
                self.path.display()
            ))
        })
    }

    fn create(&self) -> Result<SecretKey, VaultError> {
        let dir = self.parent().to_path_buf();
        create_private_dir(&dir)?;
        if fs::symlink_metadata(&self.path).is_ok() {
            return Err(VaultError::KeyFile(format!(
                "{} already exists; refusing to overwrite a device key",
                self.path.display()
            )));
        }
        let key = SecretKey::generate()?;
        let mut suffix = [0u8; 8];
        getrandom::fill(&mut suffix).map_err(|_| rettpad_crypto::CryptoError::Rng)?;
        let tmp = dir.join(format!(".device.key.tmp-{}", hex::encode(suffix)));
        let written = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(key.expose())?;
            f.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(VaultError::io("write temporary device key file")(e));
        }
        // link(2) fails with EEXIST instead of replacing: a no-clobber rename
        // that never exposes a half-written key under the final name.
        let linked = fs::hard_link(&tmp, &self.path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(VaultError::KeyFile(format!(
                    "{} already exists; refusing to overwrite a device key",
                    self.path.display()
                )));
            }
            Err(e) => return Err(VaultError::io("move device key file into place")(e)),
        }
        sync_dir(&dir)?;
        tracing::info!(provider = %self.describe(), "device key created");
        Ok(key)
    }

    /// Overwrites the file in place with random bytes, then zeros, then
    /// unlinks it. On flash storage the overwrite is best effort (the FTL may
    /// keep old blocks); that is why a TPM provider is planned.
    fn destroy(&self) -> Result<(), VaultError> {
        let meta = match fs::symlink_metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(VaultError::io("stat device key file")(e)),
        };
        if meta.file_type().is_file() {
            let overwrite = (|| {
                let mut f = OpenOptions::new().write(true).open(&self.path)?;
                // Cover at least the key, and a file that grew, up to a bound.
                let len = usize::try_from(f.metadata()?.len())
                    .unwrap_or(usize::MAX)
                    .clamp(KEY_LEN, 1 << 20);
                let mut noise = Zeroizing::new(vec![0u8; len]);
                getrandom::fill(&mut noise).map_err(|_| std::io::Error::other("rng failed"))?;
                f.write_all(&noise)?;
                f.sync_all()?;
                f.seek(SeekFrom::Start(0))?;
                f.write_all(&vec![0u8; len])?;
                f.sync_all()
            })();
            // A failed overwrite must not keep the key alive: unlink anyway.
            if let Err(e) = &overwrite {
                tracing::warn!(provider = %self.describe(), error = %e, "device key overwrite failed; unlinking anyway");
            }
        }
        // A symlink is only unlinked; its target is not ours to overwrite.
        match fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(VaultError::io("unlink device key file")(e)),
        }
        sync_dir(self.parent())?;
        tracing::info!(provider = %self.describe(), "device key destroyed");
        Ok(())
    }

    fn describe(&self) -> String {
        format!("key file {}", self.path.display())
    }
}

/// A key held only in memory. **For tests**; a real pad loses its data with
/// it at every restart.
#[derive(Default)]
pub struct MemoryKeyProvider {
    key: Mutex<Option<SecretKey>>,
}

impl MemoryKeyProvider {
    /// Starts without a key.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts with `key`.
    pub fn with_key(key: SecretKey) -> Self {
        MemoryKeyProvider {
            key: Mutex::new(Some(key)),
        }
    }

    /// Starts with a fresh random key.
    pub fn random() -> Result<Self, VaultError> {
        Ok(Self::with_key(SecretKey::generate()?))
    }

    /// Whether a key is present.
    pub fn has_key(&self) -> bool {
        self.slot().is_some()
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<SecretKey>> {
        // A panic elsewhere while holding the lock leaves a valid Option.
        self.key.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl std::fmt::Debug for MemoryKeyProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryKeyProvider")
            .field("has_key", &self.has_key())
            .finish()
    }
}

impl KeyProvider for MemoryKeyProvider {
    fn load(&self) -> Result<Option<SecretKey>, VaultError> {
        Ok(self.slot().clone())
    }

    fn create(&self) -> Result<SecretKey, VaultError> {
        let mut slot = self.slot();
        if slot.is_some() {
            return Err(VaultError::KeyFile(
                "memory key already exists; refusing to overwrite".into(),
            ));
        }
        let key = SecretKey::generate()?;
        *slot = Some(key.clone());
        Ok(key)
    }

    fn destroy(&self) -> Result<(), VaultError> {
        // Dropping the SecretKey zeroizes it.
        *self.slot() = None;
        Ok(())
    }

    fn describe(&self) -> String {
        "in-memory key (tests only)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn file_provider_create_load_destroy() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("cfg/rettpad/device.key");
        let p = FileKeyProvider::new(&path);
        assert!(p.load().unwrap().is_none());
        let k = p.create().unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(p.load().unwrap(), Some(k.clone()));
        // No temp file left behind.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        // Never overwrite.
        assert!(matches!(p.create(), Err(VaultError::KeyFile(_))));
        assert_eq!(p.load().unwrap(), Some(k));
        p.destroy().unwrap();
        assert!(!path.exists());
        assert!(p.load().unwrap().is_none());
        // Idempotent.
        p.destroy().unwrap();
    }

    #[test]
    fn file_provider_refuses_open_permissions_and_wrong_length() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("device.key");
        let p = FileKeyProvider::new(&path);
        p.create().unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = p.load().unwrap_err();
        assert!(
            matches!(err, VaultError::KeyFile(ref m) if m.contains("0600")),
            "{err}"
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(p.load().unwrap().is_some());
        fs::write(&path, [1u8; 31]).unwrap();
        assert!(matches!(p.load(), Err(VaultError::KeyFile(ref m)) if m.contains("31 bytes")));
        fs::write(&path, [1u8; 33]).unwrap();
        assert!(matches!(p.load(), Err(VaultError::KeyFile(_))));
    }

    #[test]
    fn file_provider_refuses_symlink() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real.key");
        FileKeyProvider::new(&real).create().unwrap();
        let link = tmp.path().join("link.key");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(
            FileKeyProvider::new(&link).load(),
            Err(VaultError::KeyFile(_))
        ));
        // Destroying via the link removes the link only.
        FileKeyProvider::new(&link).destroy().unwrap();
        assert!(!link.exists() && real.exists());
    }

    #[test]
    fn default_path_ends_in_rettpad_device_key() {
        let p = FileKeyProvider::default_path();
        assert!(p.is_absolute());
        assert!(p.ends_with("rettpad/device.key"));
    }

    #[test]
    fn memory_provider_never_overwrites() {
        let p = MemoryKeyProvider::new();
        assert!(p.load().unwrap().is_none());
        let k = p.create().unwrap();
        assert!(p.create().is_err());
        assert_eq!(p.load().unwrap(), Some(k));
        p.destroy().unwrap();
        assert!(!p.has_key());
        assert_eq!(format!("{p:?}"), "MemoryKeyProvider { has_key: false }");
    }
}
