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

#[derive(Debug)]
pub struct TempCluster {
    dir: PathBuf,
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
        let c = TempCluster {
            dir,
            bin,
            as_postgres,
        };
        let data = c.dir.join("data");
        c.run(
            "initdb",
            &[
                "-D",
                &data.to_string_lossy(),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        let fsync = if durable { "on" } else { "off" };
        let extra = std::env::var("RETTPAD_PG_OPTS").unwrap_or_default();
        let opts = format!(
            "-c listen_addresses='' -c unix_socket_directories='{}' -c fsync={fsync} -c max_connections=200 -c shared_buffers=128MB {extra}",
            c.dir.display()
        );
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
        let data = self.dir.join("data");
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
            let c = TempCluster {
                dir: e.path(),
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
