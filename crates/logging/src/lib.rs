//! Size-bounded logging: `tracing` events go to a rotating file set whose
//! total size is capped, optionally also to stderr.
//!
//! **Policy:** secrets (PINs, PIN hashes, keys, tokens, certificates' private
//! parts) and patient data (names, insurance numbers, birth dates, findings,
//! vitals, free text, crew names) never go into logs. Log only ids (UUIDs),
//! counts, sizes, durations, states and status codes. When in doubt, log the
//! length, not the value. Types that hold such data redact their `Debug`.
//!
//! Rotation: `rettpad.log` is the current file; when a record would push it
//! past `max_bytes` it becomes `rettpad.log.1`, `.1` becomes `.2`, … and
//! `.{keep}` is deleted. So the set never exceeds `(keep + 1) · max_bytes`.
//! A single record larger than `max_bytes` is cut to fit.

use std::borrow::Cow;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, fmt};

pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024;
pub const DEFAULT_KEEP: usize = 4;
pub const LOG_BASE_NAME: &str = "rettpad.log";

/// Appended to a record that was cut to fit into one file.
const TRUNCATED_MARK: &[u8] = b" [truncated]\n";

/// A size-capped, rotating log file. Clones share the same file and lock, so
/// the subscriber and a [`Guard`] can hold it together.
#[derive(Clone)]
pub struct RotatingFile {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    dir: PathBuf,
    base_name: String,
    max_bytes: u64,
    keep: usize,
    /// `None` after an I/O error; reopened on the next write.
    file: Option<File>,
    /// Bytes in the current file.
    size: u64,
}

impl RotatingFile {
    /// Opens (appending to) `dir/base_name`, creating `dir` if needed.
    /// `max_bytes` is raised to at least 1.
    pub fn new(dir: &Path, base_name: &str, max_bytes: u64, keep: usize) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let mut inner = Inner {
            dir: dir.to_path_buf(),
            base_name: base_name.to_owned(),
            max_bytes: max_bytes.max(1),
            keep,
            file: None,
            size: 0,
        };
        inner.open_current()?;
        Ok(RotatingFile {
            inner: Arc::new(Mutex::new(inner)),
        })
    }

    /// With the defaults: `dir/rettpad.log`, 1 MiB × (4 + 1).
    pub fn with_defaults(dir: &Path) -> io::Result<Self> {
        Self::new(dir, LOG_BASE_NAME, DEFAULT_MAX_BYTES, DEFAULT_KEEP)
    }

    /// Path of the file being written now.
    pub fn current_path(&self) -> PathBuf {
        self.lock().path(0)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves at worst a short file; keep logging.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn path(&self, index: usize) -> PathBuf {
        if index == 0 {
            self.dir.join(&self.base_name)
        } else {
            self.dir.join(format!("{}.{index}", self.base_name))
        }
    }

    fn open_current(&mut self) -> io::Result<&mut File> {
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Logs hold no secrets by policy, but keep them private anyway.
            opts.mode(0o600);
        }
        let file = opts.open(self.path(0))?;
        self.size = file.metadata()?.len();
        Ok(self.file.insert(file))
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        if let Err(e) = self.shift_files() {
            // Renaming failed (odd permissions, read-only entry): start the
            // current file over rather than grow past the cap or stop logging.
            File::create(self.path(0))?;
            self.open_current()?;
            return Err(e);
        }
        self.open_current()?;
        Ok(())
    }

    /// `.{keep-1}` → `.{keep}` … current → `.1`; the old `.{keep}` goes.
    fn shift_files(&mut self) -> io::Result<()> {
        if self.keep == 0 {
            return File::create(self.path(0)).map(drop);
        }
        ignore_not_found(fs::remove_file(self.path(self.keep)))?;
        for i in (1..self.keep).rev() {
            ignore_not_found(fs::rename(self.path(i), self.path(i + 1)))?;
        }
        ignore_not_found(fs::rename(self.path(0), self.path(1)))
    }

    fn write_record(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let record = fit_record(buf, self.max_bytes);
        let len = record.len() as u64;
        if self.size > 0
            && self.size.saturating_add(len) > self.max_bytes
            && let Err(e) = self.rotate()
        {
            // Still bounded (the current file was emptied); report to stderr,
            // since the log itself is what is failing.
            eprintln!("rettpad: log rotation failed ({}), log restarted", e.kind());
        }
        let file = match self.file {
            Some(ref mut f) => f,
            None => self.open_current()?,
        };
        match file.write_all(&record) {
            Ok(()) => {
                self.size += len;
                // The caller's whole buffer is consumed, even if it was cut.
                Ok(buf.len())
            }
            Err(e) => {
                // Size unknown after a partial write: reopen and re-measure.
                self.file = None;
                Err(e)
            }
        }
    }
}

fn ignore_not_found(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// Cuts a record longer than `max` to `max` bytes (on a UTF-8 boundary) and
/// marks it, so one huge event cannot break the per-file cap.
fn fit_record(buf: &[u8], max: u64) -> Cow<'_, [u8]> {
    let max = usize::try_from(max).unwrap_or(usize::MAX);
    if buf.len() <= max {
        return Cow::Borrowed(buf);
    }
    let mark = if TRUNCATED_MARK.len() < max {
        TRUNCATED_MARK
    } else {
        &[]
    };
    let mut cut = max - mark.len();
    // Step back over UTF-8 continuation bytes.
    while cut > 0 && buf.get(cut).is_some_and(|b| b & 0xC0 == 0x80) {
        cut -= 1;
    }
    let mut out = Vec::with_capacity(cut + mark.len());
    out.extend_from_slice(&buf[..cut]);
    out.extend_from_slice(mark);
    Cow::Owned(out)
}

impl Write for &RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock().write_record(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.lock().file {
            Some(ref mut f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl<'a> MakeWriter<'a> for RotatingFile {
    type Writer = &'a RotatingFile;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

/// Logging setup for [`init_with`].
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub dir: PathBuf,
    /// An `EnvFilter` directive such as `info` or `rettpad=debug,warn`.
    pub level: String,
    /// Also write to stderr (development, the demo, services under journald).
    pub stderr: bool,
    pub max_bytes: u64,
    pub keep: usize,
}

impl LogConfig {
    pub fn new(dir: &Path, level: &str) -> Self {
        LogConfig {
            dir: dir.to_path_buf(),
            level: level.to_owned(),
            stderr: false,
            max_bytes: DEFAULT_MAX_BYTES,
            keep: DEFAULT_KEEP,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot open log directory or file: {0}")]
    Io(io::ErrorKind),
    #[error("invalid log level directive: {0}")]
    Filter(String),
    #[error("a global tracing subscriber is already set")]
    AlreadyInitialised,
}

impl rettpad_text::UserMessage for LogError {
    fn message(&self, lang: rettpad_text::Lang) -> String {
        let (de, en) = match self {
            LogError::Io(_) => (
                "Das Protokoll (Log) kann nicht geschrieben werden. Die Dokumentation \
                 funktioniert weiter; bitte den Administrator verständigen.",
                "The log cannot be written. Documentation keeps working; please call the \
                 administrator.",
            ),
            LogError::Filter(_) => (
                "Die Log-Einstellung ist ungültig. Bitte den Administrator verständigen.",
                "The log setting is invalid. Please call the administrator.",
            ),
            LogError::AlreadyInitialised => (
                "Interner Fehler: Das Logging wurde doppelt gestartet.",
                "Internal error: logging was started twice.",
            ),
        };
        lang.pick(de, en).into()
    }
}

/// Keeps the log file handle; hold it until the process ends. Dropping it
/// flushes.
pub struct Guard {
    file: RotatingFile,
}

impl Guard {
    pub fn log_file(&self) -> PathBuf {
        self.file.current_path()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = (&self.file).flush();
    }
}

/// Sets the global subscriber: file in `dir` with the default caps, no ANSI,
/// no stderr.
pub fn init(dir: &Path, level: &str) -> Result<Guard, LogError> {
    init_with(&LogConfig::new(dir, level))
}

/// Sets the global subscriber from `cfg`. Fails if one is already set.
pub fn init_with(cfg: &LogConfig) -> Result<Guard, LogError> {
    let filter = EnvFilter::try_new(&cfg.level).map_err(|e| LogError::Filter(e.to_string()))?;
    let file = RotatingFile::new(&cfg.dir, LOG_BASE_NAME, cfg.max_bytes, cfg.keep)
        .map_err(|e| LogError::Io(e.kind()))?;
    let file_layer = fmt::layer().with_ansi(false).with_writer(file.clone());
    let stderr_layer = cfg
        .stderr
        .then(|| fmt::layer().with_ansi(false).with_writer(io::stderr));
    tracing_subscriber::registry()
        .with(filter)
        .with(file_layer)
        .with(stderr_layer)
        .try_init()
        .map_err(|_| LogError::AlreadyInitialised)?;
    Ok(Guard { file })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_files(dir: &Path) -> Vec<(String, u64)> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn ten_times_the_cap_stays_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let max = 1000;
        let keep = 3;
        let mut w = RotatingFile::new(dir.path(), "rettpad.log", max, keep).unwrap();
        let mut written = 0;
        let mut i = 0;
        while written < 10 * max {
            let line = format!("event {i:06} status=ok\n");
            w.write_all(line.as_bytes()).unwrap();
            written += line.len() as u64;
            i += 1;
        }
        let last = format!("event {:06} status=ok\n", i - 1);

        let files = log_files(dir.path());
        assert!(files.len() <= keep + 1, "{files:?}");
        assert_eq!(files.len(), keep + 1, "{files:?}");
        for (name, len) in &files {
            assert!(*len <= max, "{name} has {len} bytes");
        }
        assert!(!dir.path().join("rettpad.log.4").exists());
        let current = fs::read_to_string(dir.path().join("rettpad.log")).unwrap();
        assert!(current.ends_with(&last), "{current}");
        // The newest rotated file holds the lines just before the current file.
        let first_current = current.lines().next().unwrap();
        let n: u32 = first_current[6..12].parse().unwrap();
        let prev = fs::read_to_string(dir.path().join("rettpad.log.1")).unwrap();
        assert!(prev.ends_with(&format!("event {:06} status=ok\n", n - 1)));
        // Lines are never split across files.
        for (name, _) in &files {
            let text = fs::read_to_string(dir.path().join(name)).unwrap();
            assert!(text.lines().all(|l| l.len() == 22), "{name}");
        }
    }

    #[test]
    fn reopening_appends_and_respects_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut w = RotatingFile::new(dir.path(), "x.log", 100, 1).unwrap();
            w.write_all(&[b'a'; 60]).unwrap();
        }
        let mut w = RotatingFile::new(dir.path(), "x.log", 100, 1).unwrap();
        w.write_all(&[b'b'; 60]).unwrap();
        assert_eq!(
            fs::read(dir.path().join("x.log.1")).unwrap(),
            vec![b'a'; 60]
        );
        assert_eq!(fs::read(dir.path().join("x.log")).unwrap(), vec![b'b'; 60]);
    }

    #[test]
    fn oversized_record_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = RotatingFile::new(dir.path(), "x.log", 50, 2).unwrap();
        let big = "ä".repeat(100); // 200 bytes, two-byte chars
        w.write_all(big.as_bytes()).unwrap();
        let data = fs::read(dir.path().join("x.log")).unwrap();
        assert!(data.len() <= 50);
        assert!(data.ends_with(TRUNCATED_MARK));
        assert!(std::str::from_utf8(&data).is_ok());
    }

    #[test]
    fn keep_zero_truncates_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = RotatingFile::new(dir.path(), "x.log", 10, 0).unwrap();
        for _ in 0..5 {
            w.write_all(b"123456\n").unwrap();
        }
        assert_eq!(log_files(dir.path()), vec![("x.log".to_owned(), 7)]);
    }

    #[test]
    fn works_as_make_writer_from_threads() {
        let dir = tempfile::tempdir().unwrap();
        let w = RotatingFile::new(dir.path(), "rettpad.log", 2000, 2).unwrap();
        let subscriber = tracing_subscriber::registry()
            .with(fmt::layer().with_ansi(false).with_writer(w.clone()));
        let dispatch = tracing::Dispatch::new(subscriber);
        std::thread::scope(|s| {
            for t in 0..2 {
                let dispatch = dispatch.clone();
                s.spawn(move || {
                    tracing::dispatcher::with_default(&dispatch, || {
                        for i in 0..200 {
                            tracing::info!(thread = t, i, "tick");
                        }
                    });
                });
            }
        });
        tracing::dispatcher::with_default(&dispatch, || tracing::warn!(code = 42, "last one"));
        let files = log_files(dir.path());
        assert!(files.len() <= 3, "{files:?}");
        for (name, len) in &files {
            assert!(*len <= 2000, "{name}");
            let text = fs::read_to_string(dir.path().join(name)).unwrap();
            // Whole lines only, no ANSI escapes.
            assert!(text.ends_with('\n') && !text.contains('\x1b'), "{name}");
        }
        let current = fs::read_to_string(w.current_path()).unwrap();
        assert!(
            current.trim_end().ends_with("last one code=42"),
            "{current}"
        );
    }

    #[test]
    fn bad_level_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = init(dir.path(), "rettpad=loud").err().unwrap();
        assert!(matches!(err, LogError::Filter(_)), "{err}");
        use rettpad_text::{Lang, UserMessage};
        assert!(err.message(Lang::De).contains("Log-Einstellung"));
        assert!(err.message(Lang::En).contains("log setting"));
    }
}
