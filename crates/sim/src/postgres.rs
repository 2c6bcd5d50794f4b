//! A private PostgreSQL cluster for tests and benchmarks: `initdb` and
//! `pg_ctl` into a temporary directory, Unix socket only (no port to clash
//! with), stopped and removed on drop. As root the server runs as the
//! `postgres` system user (initdb refuses root); the Debian `postgresql`
//! package provides both.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The cluster's superuser (`initdb -U`).
pub const SUPERUSER: &str = "rettpad_owner";
/// In a cluster's directory: the data directory it runs on, when that is
/// elsewhere ([`TempCluster::start_existing`]).
const DATA_POINTER: &str = "data-dir";

#[derive(Debug)]
pub struct TempCluster {
    /// Socket, log and (unless `existing`) the data directory.
    dir: PathBuf,
    data: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
}

/// Where the server binaries are (`pg_config --bindir` points at the client
/// on some systems, so the versioned Debian directories are tried first).
pub fn bindir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    if let Some(d) = dirs.pop() {
        return Some(d);
    }
    let out = Command::new("pg_config").arg("--bindir").output().ok()?;
    let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    d.join("pg_ctl").exists().then_some(d)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Lets the server's user (`postgres` when the tests run as root) into
/// `path` and everything under it: an `archive_command` or
/// `restore_command` runs as that user. Nothing to do when not root.
pub fn share_with_server(path: &Path) -> Result<(), String> {
    if is_root() {
        chown_to_postgres(path)
    } else {
        Ok(())
    }
}

/// Quotes one word for `/bin/sh` (pg_ctl hands `-o` to a shell).
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn chown_to_postgres(path: &Path) -> Result<(), String> {
    let st = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(path)
        .status()
        .map_err(|e| format!("chown: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("chown postgres {} failed", path.display()))
    }
}

impl TempCluster {
    /// Starts a cluster for tests: `fsync=off` (a test never survives a
    /// power cut, and it is 10× faster on this disk).
    pub fn start() -> Result<TempCluster, String> {
        TempCluster::start_with(false)
    }

    /// `durable`: fsync on, as production runs (for benchmarks).
    pub fn start_with(durable: bool) -> Result<TempCluster, String> {
        TempCluster::start_inner(durable, &[], &[], None)
    }

    /// A private cluster (never the shared one) with extra server settings,
    /// each passed as `-c name=value`, e.g. `archive_mode=on` and an
    /// `archive_command`.
    pub fn start_settings(settings: &[(&str, &str)]) -> Result<TempCluster, String> {
        TempCluster::start_inner(false, &[], settings, None)
    }

    /// Like [`TempCluster::start_settings`], with extra `initdb` arguments
    /// too (e.g. `--wal-segsize=1`: small segments archive fast).
    pub fn start_initdb(
        initdb_args: &[&str],
        settings: &[(&str, &str)],
    ) -> Result<TempCluster, String> {
        TempCluster::start_inner(false, initdb_args, settings, None)
    }

    /// A cluster on an existing data directory (a restored one), with its
    /// own socket directory. On drop it is stopped; the data directory is
    /// left where it is (its owner removes it).
    pub fn start_existing(data: &Path, settings: &[(&str, &str)]) -> Result<TempCluster, String> {
        TempCluster::start_inner(false, &[], settings, Some(data))
    }

    fn start_inner(
        durable: bool,
        initdb_args: &[&str],
        settings: &[(&str, &str)],
        existing: Option<&Path>,
    ) -> Result<TempCluster, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let bin = bindir().ok_or(
            "PostgreSQL server binaries not found (Debian package `postgresql`; `cargo xtask deps --test` installs it)",
        )?;
        let dir = std::env::temp_dir().join(format!(
            "rettpad-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let as_postgres = is_root();
        if as_postgres {
            chown_to_postgres(&dir)?;
        }
        let data = existing.map_or_else(|| dir.join("data"), Path::to_path_buf);
        if existing.is_some() {
            // For `reap_stale`: which data directory a dead process's server runs on.
            std::fs::write(dir.join(DATA_POINTER), data.to_string_lossy().as_bytes())
                .map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let c = TempCluster {
            dir,
            data: data.clone(),
            bin,
            as_postgres,
        };
        if existing.is_none() {
            c.initdb(&data, initdb_args)?;
        }
        let fsync = if durable { "on" } else { "off" };
        let extra = std::env::var("RETTPAD_PG_OPTS").unwrap_or_default();
        let mut opts = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c fsync={fsync} -c max_connections=200 -c shared_buffers=128MB {extra}",
            c.dir.display()
        );
        for (k, v) in settings {
            opts.push_str(&format!(" -c {}", sh_quote(&format!("{k}={v}"))));
        }
        c.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-l",
                &c.dir.join("server.log").to_string_lossy(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        Ok(c)
    }

    fn initdb(&self, data: &Path, extra: &[&str]) -> Result<(), String> {
        let data = data.to_string_lossy();
        let mut args = vec![
            "-D",
            &data,
            "-U",
            SUPERUSER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ];
        args.extend_from_slice(extra);
        self.run("initdb", &args)
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        let out = cmd
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{tool}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            Err(format!(
                "{tool} failed ({}): {}{}\n{log}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// The socket directory (libpq's `host=`).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The server binaries' directory.
    pub fn bin_dir(&self) -> &Path {
        &self.bin
    }

    /// Runs `sql` in database `db` as the superuser with `psql` and
    /// returns its unaligned, tuples-only output (`|` between columns).
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir)
            .args(["-U", SUPERUSER, "-d", db, "-c", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(format!(
                "psql {sql:?} failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// A fresh database owned by the superuser.
    pub fn create_database(&self, name: &str) -> Result<String, String> {
        self.run(
            "createdb",
            &["-h", &self.dir.to_string_lossy(), "-U", SUPERUSER, name],
        )?;
        Ok(self.conn_string(name))
    }

    /// A connection string for database `db` as the superuser.
    pub fn conn_string(&self, db: &str) -> String {
        format!("host={} user={SUPERUSER} dbname={db}", self.dir.display())
    }
}

impl TempCluster {
    /// One cluster per test process, stopped at exit (statics are never
    /// dropped, so an `atexit` hook stops it).
    pub fn shared() -> Result<&'static TempCluster, String> {
        static SHARED: OnceLock<Result<TempCluster, String>> = OnceLock::new();
        extern "C" fn stop_shared() {
            if let Some(Ok(c)) = SHARED.get() {
                c.stop();
            }
        }
        SHARED
            .get_or_init(|| {
                reap_stale();
                let c = TempCluster::start()?;
                // SAFETY: registers a plain function without arguments.
                unsafe { libc::atexit(stop_shared) };
                Ok(c)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// A fresh database with a unique name in the shared cluster.
    pub fn fresh_database() -> Result<String, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let c = TempCluster::shared()?;
        c.create_database(&format!("t{}", N.fetch_add(1, Ordering::Relaxed)))
    }

    fn stop(&self) {
        let data = &self.data;
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                &data.to_string_lossy(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Stops and removes the clusters of test processes that died (SIGKILL,
/// a crash) before their exit hook ran.
fn reap_stale() {
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("rettpad-pg-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if let Some(bin) = bindir() {
            let data = std::fs::read_to_string(e.path().join(DATA_POINTER))
                .map_or_else(|_| e.path().join("data"), PathBuf::from);
            let c = TempCluster {
                dir: e.path(),
                data,
                bin,
                as_postgres: is_root(),
            };
            c.stop();
        }
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
