//! Seams to persistence: the wrong-PIN counter and the wipe. The vault
//! implements both on the pad; the impls here serve tests and the demo.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::error::SessionError;

/// Persists the count of consecutive wrong PINs. `store_failures` must be
/// durable when it returns Ok: the session relies on that to survive a power
/// cut during the slow hash check.
pub trait LockStore {
    fn load_failures(&self) -> Result<u32, SessionError>;
    fn store_failures(&mut self, n: u32) -> Result<(), SessionError>;
}

/// Destroys all patient data on the pad (crypto-shred the keys first, so a
/// wipe cut short still leaves nothing readable).
pub trait Wiper {
    fn wipe_all(&mut self) -> Result<(), SessionError>;
}

/// Counter in memory. Clones share the value, so a test can keep a handle
/// and hand another to a `Session`, or reuse it across a simulated restart.
#[derive(Debug, Clone, Default)]
pub struct MemoryLockStore {
    failures: Arc<Mutex<u32>>,
}

impl MemoryLockStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored value; `None` only if a holder panicked mid-update.
    pub fn failures(&self) -> Option<u32> {
        self.failures.lock().ok().map(|n| *n)
    }
}

impl LockStore for MemoryLockStore {
    fn load_failures(&self) -> Result<u32, SessionError> {
        self.failures
            .lock()
            .map(|n| *n)
            .map_err(|_| SessionError::Store("memory store poisoned".to_owned()))
    }

    fn store_failures(&mut self, n: u32) -> Result<(), SessionError> {
        let mut guard = self
            .failures
            .lock()
            .map_err(|_| SessionError::Store("memory store poisoned".to_owned()))?;
        *guard = n;
        Ok(())
    }
}

/// Counter in a small text file, replaced atomically (write a temp file,
/// fsync, rename, fsync the directory) so a power cut leaves the old or the
/// new value, never a torn one. A missing file reads as 0 (first start):
/// fine for tests and the demo, but on a real pad the counter lives in the
/// vault, where deleting it is not that easy.
#[derive(Debug, Clone)]
pub struct FileLockStore {
    path: PathBuf,
}

/// Longest valid content: u32::MAX plus a newline is 11 bytes.
const MAX_FILE_LEN: u64 = 16;

impl FileLockStore {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileLockStore { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tmp_path(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_os_string();
        name.push(".tmp");
        self.path.with_file_name(name)
    }
}

fn io_err(step: &str, e: &io::Error) -> SessionError {
    SessionError::Store(format!("{step}: {}", e.kind()))
}

impl LockStore for FileLockStore {
    fn load_failures(&self) -> Result<u32, SessionError> {
        let file = match fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io_err("open", &e)),
        };
        let mut text = String::new();
        // Read at most one byte past the limit to spot an oversized file.
        file.take(MAX_FILE_LEN + 1)
            .read_to_string(&mut text)
            .map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData => SessionError::StoreCorrupt("not UTF-8".to_owned()),
                _ => io_err("read", &e),
            })?;
        if text.len() as u64 > MAX_FILE_LEN {
            return Err(SessionError::StoreCorrupt("file too long".to_owned()));
        }
        let digits = text.strip_suffix('\n').unwrap_or(&text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SessionError::StoreCorrupt(
                "not a decimal number".to_owned(),
            ));
        }
        digits
            .parse::<u32>()
            .map_err(|_| SessionError::StoreCorrupt("number out of range".to_owned()))
    }

    fn store_failures(&mut self, n: u32) -> Result<(), SessionError> {
        let tmp = self.tmp_path();
        {
            let mut f = fs::File::create(&tmp).map_err(|e| io_err("create temp", &e))?;
            f.write_all(format!("{n}\n").as_bytes())
                .map_err(|e| io_err("write temp", &e))?;
            f.sync_all().map_err(|e| io_err("fsync temp", &e))?;
        }
        fs::rename(&tmp, &self.path).map_err(|e| io_err("rename", &e))?;
        // The rename is only durable once the directory entry is synced.
        let dir = match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err("fsync dir", &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_clones_share() {
        let a = MemoryLockStore::new();
        let mut b = a.clone();
        b.store_failures(3).unwrap();
        assert_eq!(a.load_failures().unwrap(), 3);
        assert_eq!(a.failures(), Some(3));
    }

    #[test]
    fn file_store_roundtrip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock-failures");
        let mut s = FileLockStore::new(&path);
        assert_eq!(s.load_failures().unwrap(), 0);
        s.store_failures(4).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "4\n");
        assert_eq!(FileLockStore::new(&path).load_failures().unwrap(), 4);
        assert!(!s.tmp_path().exists());

        for bad in [
            "",
            "x\n",
            "-1\n",
            "4\n\n",
            "99999999999\n",
            "0000000000000000000",
        ] {
            fs::write(&path, bad).unwrap();
            assert!(
                matches!(s.load_failures(), Err(SessionError::StoreCorrupt(_))),
                "{bad:?}"
            );
        }
        fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(matches!(
            s.load_failures(),
            Err(SessionError::StoreCorrupt(_))
        ));
        s.store_failures(0).unwrap();
        assert_eq!(s.load_failures().unwrap(), 0);
    }
}
