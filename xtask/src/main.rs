//! Project tasks. No dependencies on purpose: it must build wherever Rust and
//! a C linker work, before any system package is installed.
//!
//!   cargo xtask run  [-- ARGS]   ensure packages, then run the app `rettpad`
//!   cargo xtask test [-- ARGS]   ensure packages, then run all tests
//!   cargo xtask deps [--test]    only ensure packages (add --test for test-only ones)

use std::env;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};

/// How to tell whether a Debian package is installed without asking dpkg
/// (the tools may come from elsewhere, e.g. a developer's own build).
#[derive(Clone, Copy, Debug)]
#[allow(dead_code, reason = "Pc and File rows arrive with later issues")]
enum Check {
    /// `pkg-config --exists NAME` succeeds.
    Pc(&'static str),
    /// An executable NAME is on PATH.
    Bin(&'static str),
    /// The path exists.
    File(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    /// Needed to compile anything (every task).
    Build,
    /// Needed to run the app (`run` and `test`).
    Runtime,
    /// Needed only by the test suite (`test`, `deps --test`).
    Test,
}

struct Dep {
    /// Debian/Ubuntu package name.
    deb: &'static str,
    check: Check,
    /// Shown when it is missing.
    why: &'static str,
    group: Group,
}

use Check::{Bin, File, Pc};
use Group::{Build, Runtime, Test};

/// System packages. To add one, add a row; nothing else changes. Examples of
/// rows later issues will need:
///   Dep { deb: "libpcsclite-dev", check: Pc("libpcsclite"), why: "PC/SC card reader (eGK)", group: Build },
///   Dep { deb: "fonts-dejavu-core", check: File("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"), why: "UI and PDF font", group: Runtime },
///   Dep { deb: "cups", check: Bin("cupsd"), why: "printing tests", group: Test },
///   Dep { deb: "printer-driver-cups-pdf", check: File("/usr/lib/cups/backend/cups-pdf"), why: "PDF print queue", group: Test },
///   Dep { deb: "pcscd", check: Bin("pcscd"), why: "card reader daemon for eGK tests", group: Test },
const DEPS: &[Dep] = &[
    Dep {
        deb: "pkg-config",
        check: Bin("pkg-config"),
        why: "build scripts locate C libraries with it",
        group: Build,
    },
    Dep {
        deb: "build-essential",
        check: Bin("cc"),
        why: "rustc links through the C compiler driver `cc`",
        group: Build,
    },
    Dep {
        deb: "libpcsclite-dev",
        check: Pc("libpcsclite"),
        why: "PC/SC card reader (eGK/KVK), linked by the pcsc crate",
        group: Build,
    },
    Dep {
        deb: "libdbus-1-dev",
        check: Pc("dbus-1"),
        why: "btleplug (cargo feature ble), compiled by `xtask test`'s feature check",
        group: Test,
    },
    Dep {
        deb: "pcscd",
        check: File("/usr/sbin/pcscd"),
        why: "card reader daemon for the eGK/KVK end-to-end tests",
        group: Test,
    },
    Dep {
        deb: "vsmartcard-vpcd",
        check: File("/usr/lib/pcsc/drivers/serial/libifdvpcd.so"),
        why: "virtual card reader that `rettpad-sim card` plugs into (tests only; never on a pad)",
        group: Test,
    },
    Dep {
        deb: "libfontconfig-dev",
        check: Pc("fontconfig"),
        why: "Slint finds system fonts through fontconfig",
        group: Build,
    },
    Dep {
        deb: "fonts-dejavu-core",
        check: File("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        why: "UI font with German umlauts",
        group: Runtime,
    },
    Dep {
        deb: "cups",
        check: File("/usr/sbin/cupsd"),
        why: "print server the IPP end-to-end tests start privately",
        group: Test,
    },
    Dep {
        deb: "cups-client",
        check: File("/usr/sbin/lpadmin"),
        why: "lpadmin/cupsdisable/cupsreject set up the test print queue",
        group: Test,
    },
    Dep {
        deb: "printer-driver-cups-pdf",
        check: File("/usr/lib/cups/backend/cups-pdf"),
        why: "PDF print queue the IPP end-to-end tests print to",
        group: Test,
    },
    Dep {
        deb: "poppler-utils",
        check: Bin("pdftoppm"),
        why: "pdftotext/pdftoppm/pdfinfo check the protocol PDF in tests",
        group: Test,
    },
    Dep {
        deb: "openssl",
        check: Bin("openssl"),
        why: "`openssl s_client -tls1_1` proves the gateway refuses TLS 1.1 (upload tests)",
        group: Test,
    },
];

fn main() -> ExitCode {
    let mut args: Vec<OsString> = env::args_os().skip(1).collect();
    if args.is_empty() {
        usage();
        return ExitCode::from(2);
    }
    let task = args.remove(0);
    // `cargo xtask run -- --flag` arrives as `run -- --flag`.
    if args.first().is_some_and(|a| a == "--") {
        args.remove(0);
    }
    let result = match task.to_str() {
        Some("run") => run(&args),
        Some("test") => test(&args),
        Some("deps") => deps(&args),
        Some("help" | "-h" | "--help") => {
            usage();
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("xtask: unknown task {task:?}");
            usage();
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("xtask: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn usage() {
    eprintln!(
        "usage: cargo xtask <task>\n\
         \n\
         \x20 run  [-- ARGS]   install missing system packages, then run the app (debug build)\n\
         \x20 test [-- ARGS]   install missing system packages, then run all tests;\n\
         \x20                  ARGS go to `cargo nextest run` (or `cargo test`), not to the doctests\n\
         \x20 deps [--test]    only install missing system packages (--test: also test-only ones)"
    );
}

fn run(args: &[OsString]) -> Result<ExitCode, String> {
    ensure(&[Build, Runtime])?;
    let status = cargo()
        .args(["run", "--bin", "rettpad", "--"])
        .args(args)
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    Ok(exit_code(status))
}

fn test(args: &[OsString]) -> Result<ExitCode, String> {
    ensure(&[Build, Runtime, Test])?;
    let root = workspace_root();
    let mut main = cargo();
    main.current_dir(&root);
    if has_nextest() {
        main.args(["nextest", "run", "--workspace", "--no-fail-fast"]);
    } else {
        eprintln!("xtask: cargo-nextest not installed; using cargo test");
        main.args(["test", "--workspace", "--no-fail-fast"]);
    }
    let main_status = main
        .args(args)
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    // nextest does not run doctests; run them even if the main run failed,
    // so one run reports everything.
    let doc_status = cargo()
        .current_dir(&root)
        .args(["test", "--workspace", "--doc"])
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    // The Bluetooth features are off by default; make sure they still
    // compile and lint (btleplug needs libdbus-1-dev, bluer's rfcomm none).
    let features_status = cargo()
        .current_dir(&root)
        .args(FEATURE_CHECK)
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    if !main_status.success() {
        return Ok(exit_code(main_status));
    }
    if !doc_status.success() {
        return Ok(exit_code(doc_status));
    }
    Ok(exit_code(features_status))
}

/// `cargo …` that lints the optional Bluetooth features (lib and its unit
/// tests).
const FEATURE_CHECK: &[&str] = &[
    "clippy",
    "--features",
    "ble,rfcomm",
    "--lib",
    "--tests",
    "--",
    "-D",
    "warnings",
];

fn deps(args: &[OsString]) -> Result<ExitCode, String> {
    let mut groups = vec![Build, Runtime];
    for a in args {
        match a.to_str() {
            Some("--test") => groups.push(Test),
            _ => return Err(format!("deps: unknown argument {a:?} (only --test)")),
        }
    }
    ensure(&groups)?;
    Ok(ExitCode::SUCCESS)
}

/// Installs the missing packages of `groups` with apt-get when root; else
/// prints the command to run and fails.
fn ensure(groups: &[Group]) -> Result<(), String> {
    let missing = missing(groups);
    if missing.is_empty() {
        eprintln!("xtask: system packages OK");
        return Ok(());
    }
    for d in &missing {
        eprintln!("xtask: missing {} ({})", d.deb, d.why);
    }
    // Two rows may name the same package (e.g. a library and its tool).
    let mut pkgs: Vec<&str> = Vec::new();
    for d in &missing {
        if !pkgs.contains(&d.deb) {
            pkgs.push(d.deb);
        }
    }
    let list = pkgs.join(" ");
    if !is_root() {
        // Never call sudo ourselves: a password prompt in CI or a script hangs.
        return Err(format!(
            "system packages missing; run:\n  sudo apt-get install -y --no-install-recommends {list}"
        ));
    }
    if find_on_path("apt-get").is_none() {
        return Err(format!(
            "apt-get not found; install these Debian packages or their equivalents: {list}"
        ));
    }
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(&pkgs);
    apt(&install)?;
    let still = missing_names(groups);
    if !still.is_empty() {
        return Err(format!(
            "still missing after apt-get install: {}",
            still.join(" ")
        ));
    }
    eprintln!("xtask: system packages OK");
    Ok(())
}

fn missing(groups: &[Group]) -> Vec<&'static Dep> {
    DEPS.iter()
        .filter(|d| groups.contains(&d.group) && !present(d.check))
        .collect()
}

fn missing_names(groups: &[Group]) -> Vec<&'static str> {
    missing(groups).iter().map(|d| d.deb).collect()
}

fn apt(args: &[&str]) -> Result<(), String> {
    eprintln!("xtask: apt-get {}", args.join(" "));
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .map_err(|e| format!("cannot start apt-get: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("apt-get {} failed ({status})", args.join(" ")))
    }
}

fn present(check: Check) -> bool {
    match check {
        Pc(name) => Command::new("pkg-config")
            .args(["--exists", name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
        Bin(name) => find_on_path(name).is_some(),
        File(path) => Path::new(path).exists(),
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.trim_ascii() == b"0")
}

/// The cargo that started us (cargo sets `CARGO`), else the one on PATH.
fn cargo() -> Command {
    Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The workspace root: xtask lives one level below it.
fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// Passes the child's exit code on; a child killed by a signal gives 128+n
/// like a shell would.
fn exit_code(status: ExitStatus) -> ExitCode {
    if let Some(code) = status.code() {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return ExitCode::from(u8::try_from(128 + sig).unwrap_or(1));
        }
    }
    ExitCode::FAILURE
}
