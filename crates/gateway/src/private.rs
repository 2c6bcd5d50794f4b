//! Files and directories holding keys, tokens or patient data. Each is
//! created with its final mode (0600 files, 0700 directories), never
//! written first and narrowed afterwards, so no umask and no moment leaves
//! it readable by others.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// What to do with an existing directory that others can enter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// The directory belongs to us (the gateway's data directory): narrow it.
    Narrow,
    /// The user named it (an output directory): refuse to write there.
    Refuse,
}

/// Creates `dir` (and missing parents) with mode 0700. An existing
/// directory with group or other bits is narrowed or refused.
pub fn dir(dir: &Path, existing: Existing) -> Result<(), String> {
    let show = dir.display();
    if !dir.exists() {
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(dir)
            .map_err(|e| format!("{show}: {e}"))?;
        // The umask may have taken owner bits; set exactly 0700.
        std::fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
            .map_err(|e| format!("{show}: {e}"))?;
        return Ok(());
    }
    let mode = std::fs::metadata(dir)
        .map_err(|e| format!("{show}: {e}"))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    match existing {
        Existing::Narrow => {
            std::fs::set_permissions(dir, Permissions::from_mode(DIR_MODE))
                .map_err(|e| format!("{show}: {e}"))?;
            tracing::warn!(dir = %show, old_mode = format!("{mode:o}"), "directory was open to others; narrowed to 0700");
            Ok(())
        }
        Existing::Refuse => Err(format!(
            "{show} is open to other users (mode {mode:o}); use a private directory (chmod 700)"
        )),
    }
}

/// Narrows an existing file to 0600 (a database created by an older
/// version); absent files are fine.
pub fn narrow_file(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(m) if m.permissions().mode() & 0o077 != 0 => {
            std::fs::set_permissions(path, Permissions::from_mode(FILE_MODE))
                .map_err(|e| format!("{}: {e}", path.display()))?;
            tracing::warn!(file = %path.display(), "file was open to others; narrowed to 0600");
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Creates an empty file with mode 0600 unless it exists (SQLite then
/// opens it as a new database; its -wal and -shm files take its mode).
pub fn touch(path: &Path) -> Result<(), String> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(f) => f
            .set_permissions(Permissions::from_mode(FILE_MODE))
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => narrow_file(path),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// True when group or others have any access to `path` (operators are
/// warned about such key files at start).
pub fn open_to_others(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes `data` to `path` atomically with mode 0600: a fresh temporary
/// file in the same directory, created 0600, synced, renamed over `path`.
/// Replacing an existing file never exposes the new content.
pub fn write(path: &Path, data: &[u8]) -> Result<(), String> {
    let show = path.display();
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| format!("{show}: not a file name"))?
        .to_string_lossy();
    let tmp = parent.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let res = (|| -> std::io::Result<()> {
        let mut f: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        // Exactly 0600 whatever the umask, before any byte is written.
        f.set_permissions(Permissions::from_mode(FILE_MODE))?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is durable once the directory is.
        File::open(parent).and_then(|d| d.sync_all())
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.map_err(|e| format!("{show}: {e}"))
}

/// Like [`write`], but refuses to replace an existing `path`: the content
/// is complete in a 0600 temporary file first, then hard-linked to `path`
/// (which fails if it exists), so a key is never half written or lost.
pub fn write_new(path: &Path, data: &[u8]) -> Result<(), String> {
    let show = path.display();
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = parent.join(format!(
        ".new.{}.{}.tmp",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let res = (|| -> std::io::Result<()> {
        let mut f: File = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&tmp)?;
        f.set_permissions(Permissions::from_mode(FILE_MODE))?;
        f.write_all(data)?;
        f.sync_all()?;
        std::fs::hard_link(&tmp, path)?;
        File::open(parent).and_then(|d| d.sync_all())
    })();
    let _ = std::fs::remove_file(&tmp);
    res.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{show} exists; refusing to overwrite it")
        } else {
            format!("{show}: {e}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn replaces_a_wide_file_and_handles_directories() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("k.key");
        std::fs::write(&f, "old").unwrap();
        std::fs::set_permissions(&f, Permissions::from_mode(0o644)).unwrap();
        write(&f, b"new").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"new");
        assert_eq!(mode(&f), 0o600);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);

        let d = t.path().join("a/b");
        dir(&d, Existing::Refuse).unwrap();
        assert_eq!(mode(&d), 0o700);
        assert_eq!(mode(&t.path().join("a")), 0o700);
        let wide = t.path().join("wide");
        std::fs::create_dir(&wide).unwrap();
        std::fs::set_permissions(&wide, Permissions::from_mode(0o755)).unwrap();
        let e = dir(&wide, Existing::Refuse).unwrap_err();
        assert!(e.contains("open to other users"), "{e}");
        assert_eq!(mode(&wide), 0o755, "refused, not changed");
        dir(&wide, Existing::Narrow).unwrap();
        assert_eq!(mode(&wide), 0o700);

        let db = t.path().join("x.sqlite");
        touch(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        std::fs::set_permissions(&db, Permissions::from_mode(0o644)).unwrap();
        touch(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
    }

    #[test]
    fn write_new_never_replaces() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("root.pkcs8");
        write_new(&f, b"first").unwrap();
        assert_eq!(mode(&f), 0o600);
        let e = write_new(&f, b"second").unwrap_err();
        assert!(e.contains("refusing to overwrite"), "{e}");
        assert_eq!(std::fs::read(&f).unwrap(), b"first");
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
    }
}
