//! Project tasks. No dependencies on purpose: it must build wherever Rust and
//! a C linker work, before any system package is installed.
//!
//!   cargo xtask run  [-- ARGS]   ensure packages, then run the app `rettpad`
//!   cargo xtask test [-- ARGS]   ensure packages, then run all tests (+ bounded fuzz run without ARGS)
//!   cargo xtask deps [--test]    only ensure packages (add --test for test-only ones)
//!   cargo xtask fuzz [--secs N] [TARGET...]   build and run the cargo-fuzz targets

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
        why: "btleplug (cargo feature ble) and bluer's D-Bus (feature bluez-agent), compiled in every test build and clippy run: the devices crate dev-depends on itself with its Bluetooth features",
        group: Test,
    },
    Dep {
        deb: "dbus-daemon",
        check: Bin("dbus-daemon"),
        why: "private bus for the BlueZ pairing agent test (crates/devices/tests/bluez_agent.rs)",
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
        deb: "postgresql",
        check: Bin("pg_ctlcluster"),
        why: "the archive's tests start a private PostgreSQL cluster (initdb + pg_ctl in a temp dir)",
        group: Test,
    },
    Dep {
        deb: "chromium",
        check: Bin("chromium"),
        why: "the back-office web client's browser tests drive headless Chromium",
        group: Test,
    },
    Dep {
        deb: "systemd",
        check: Bin("systemd-analyze"),
        why: "`systemd-analyze verify` checks the packaged units",
        group: Test,
    },
    Dep {
        deb: "chromium-driver",
        check: Bin("chromedriver"),
        why: "WebDriver for headless Chromium (the tests speak its HTTP protocol directly)",
        group: Test,
    },
    Dep {
        deb: "xvfb",
        check: Bin("Xvfb"),
        why: "X server without a screen for the UI's end-to-end session test (crates/ui/tests/x11_session.rs)",
        group: Test,
    },
    Dep {
        deb: "matchbox-window-manager",
        check: Bin("matchbox-window-manager"),
        why: "small window manager in that X session, like the kiosk's",
        group: Test,
    },
    Dep {
        deb: "xdotool",
        check: Bin("xdotool"),
        why: "clicks and types into the app in that X session",
        group: Test,
    },
    Dep {
        deb: "mosquitto",
        check: File("/usr/sbin/mosquitto"),
        why: "MQTT broker the dispatch feed tests start on loopback (crates/gateway/tests/mqtt_e2e.rs)",
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
        Some("fuzz") => fuzz(&args),
        Some("restore-drill") => restore_drill(&args),
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
         \x20                  ARGS go to `cargo nextest run` (or `cargo test`), not to the doctests;\n\
         \x20                  without ARGS it ends with a 5 s `cargo xtask fuzz` smoke run\n\
         \x20                  (RETTPAD_SKIP_FUZZ=1 skips it)\n\
         \x20 deps [--test]    only install missing system packages (--test: also test-only ones)\n\
         \x20 restore-drill [N [M]]  backup, M more packets, archive destroyed, restore + replay over\n\
         \x20                  N archived missions (release build; docs/backup.md)\n\
         \x20 fuzz [--secs N | --runs N] [TARGET...]\n\
         \x20                  build the fuzz crate and run each target N seconds (default {FUZZ_SECS})\n\
         \x20                  or N executions;\n\
         \x20                  installs cargo-fuzz if missing; fails with the crash artifact's path"
    );
}

/// The restore drill: heavy (a release build, 100,000 missions), so not
/// part of `test`; its figures go to docs/backup.md.
fn restore_drill(args: &[OsString]) -> Result<ExitCode, String> {
    ensure(&[Build, Runtime, Test])?;
    let status = cargo()
        .current_dir(workspace_root())
        .args([
            "bench",
            "-p",
            "rettpad-gateway",
            "--bench",
            "restore_drill",
            "--",
        ])
        .args(args)
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    Ok(exit_code(status))
}

fn run(args: &[OsString]) -> Result<ExitCode, String> {
    ensure(&[Build, Runtime])?;
    let status = cargo()
        .args(["run", "-p", "rettpad-ui", "--bin", "rettpad", "--"])
        .args(args)
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    Ok(exit_code(status))
}

fn test(args: &[OsString]) -> Result<ExitCode, String> {
    ensure(&[Build, Runtime, Test])?;
    let root = workspace_root();
    report_disk(&root, "before the test build");
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
    // The full run (no ARGS, as in CI) ends with the bounded fuzz run; a
    // filtered run is a developer's quick check and skips it.
    let fuzz_code = if !args.is_empty() {
        eprintln!("xtask: test ARGS given; skipping `cargo xtask fuzz`");
        ExitCode::SUCCESS
    } else if env::var_os("RETTPAD_SKIP_FUZZ").is_some_and(|v| v == "1") {
        eprintln!("xtask: RETTPAD_SKIP_FUZZ=1; skipping `cargo xtask fuzz`");
        ExitCode::SUCCESS
    } else {
        report_disk(&root, "before the fuzz build");
        fuzz(&["--secs".into(), SMOKE_FUZZ_SECS.to_string().into()]).unwrap_or_else(|msg| {
            eprintln!("xtask: {msg}");
            ExitCode::FAILURE
        })
    };
    report_flaky(&root);
    if !main_status.success() {
        recap_failures(&root);
        return Ok(exit_code(main_status));
    }
    if !doc_status.success() {
        return Ok(exit_code(doc_status));
    }
    Ok(fuzz_code)
}

/// Reprints the failed tests from nextest's JUnit file, with the end of
/// their output, so the last lines of a long run (CI shows only a tail)
/// say what failed.
fn recap_failures(root: &Path) {
    let path = root.join("target/nextest/default/junit.xml");
    let Ok(xml) = std::fs::read_to_string(&path) else {
        eprintln!("xtask: tests failed (no {} to list them)", path.display());
        return;
    };
    let failed = junit_failures(&xml);
    eprintln!("xtask: {} test(s) failed:", failed.len());
    for (name, output) in &failed {
        eprintln!("--- FAILED {name}");
        let lines: Vec<&str> = output.lines().collect();
        for line in &lines[lines.len().saturating_sub(40)..] {
            eprintln!("    {line}");
        }
    }
    for (name, _) in &failed {
        eprintln!("xtask: FAILED {name}");
    }
}

/// Names the tests that passed only on their retry: they landed, but
/// someone should look.
fn report_flaky(root: &Path) {
    let Ok(xml) = std::fs::read_to_string(root.join("target/nextest/default/junit.xml")) else {
        return;
    };
    for case in xml.split("<testcase ").skip(1) {
        let body = case.split("</testcase>").next().unwrap_or(case);
        if body.contains("<flakyFailure") {
            let head = body.split('>').next().unwrap_or("");
            eprintln!("xtask: FLAKY (passed on retry) {head}");
        }
    }
}

/// (class::name, captured output) of each test case with a failure or
/// error element. A small scan, not an XML parser: nextest's file is
/// regular, and this only feeds a human-readable recap.
fn junit_failures(xml: &str) -> Vec<(String, String)> {
    let attr = |tag: &str, key: &str| -> String {
        let pat = format!("{key}=\"");
        tag.find(&pat)
            .and_then(|i| {
                let rest = &tag[i + pat.len()..];
                rest.find('"').map(|j| unescape(&rest[..j]))
            })
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for case in xml.split("<testcase ").skip(1) {
        let body = case.split("</testcase>").next().unwrap_or(case);
        // A case that passed on retry holds <flakyFailure>, not <failure.
        if !(body.contains("<failure") || body.contains("<error")) {
            continue;
        }
        let head = body.split('>').next().unwrap_or("");
        let name = format!("{} {}", attr(head, "classname"), attr(head, "name"));
        let mut text = String::new();
        for tag in ["system-out", "system-err"] {
            if let Some(i) = body.find(&format!("<{tag}>")) {
                let rest = &body[i + tag.len() + 2..];
                let end = rest.find(&format!("</{tag}>")).unwrap_or(rest.len());
                text.push_str(&unescape(&rest[..end]));
                text.push('\n');
            }
        }
        out.push((name, text));
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#10;", "\n")
        .replace("&amp;", "&")
}

/// A full test run needs several GiB for build output; a full disk shows
/// up as a linker "Bus error" deep in the build, so say it up front.
const DISK_WANTED_GIB: u64 = 8;

/// Prints the free space where the build output goes (`df`), and warns
/// when it is low. Best effort: no `df`, no report.
fn report_disk(root: &Path, stage: &str) {
    let dir = env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.to_path_buf(), PathBuf::from);
    let dir = if dir.exists() {
        dir
    } else {
        root.to_path_buf()
    };
    let Ok(out) = Command::new("df").arg("-Pk").arg(&dir).output() else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    // POSIX `df -P`: the 4th column of the 2nd line is the free KiB.
    let Some(free_kib) = text
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|n| n.parse::<u64>().ok())
    else {
        return;
    };
    let gib = free_kib / (1024 * 1024);
    eprintln!("xtask: {gib} GiB free at {} ({stage})", dir.display());
    if gib < DISK_WANTED_GIB {
        eprintln!(
            "xtask: WARNING: less than {DISK_WANTED_GIB} GiB free; the build may fail \
             with \"No space left on device\" or a linker bus error"
        );
    }
}

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

/// Seconds each fuzz target runs by default.
const FUZZ_SECS: u64 = 15;

/// Seconds each target runs in `cargo xtask test` (CI): a smoke run from
/// the seeds that keeps the build and every target working; the real
/// search is the long run (`cargo xtask fuzz --secs N`, docs/testing.md).
const SMOKE_FUZZ_SECS: u64 = 5;

/// Flags for every cargo-fuzz build and run. No sanitizer: the parsers are
/// safe Rust, ASan would only slow the build and the runs; debug assertions
/// on, so an arithmetic overflow on hostile input is a crash, not a wrap.
const FUZZ_FLAGS: &[&str] = &["--sanitizer", "none", "--debug-assertions"];

/// `cargo xtask fuzz [--secs N] [TARGET...]`: builds the fuzz crate once and
/// runs each target for N seconds, corpus in `fuzz/corpus/T` (kept between
/// runs, not in git), seeds from `fuzz/seeds/T`. Every target runs even
/// after a crash; the task fails listing each crash artifact.
fn fuzz(args: &[OsString]) -> Result<ExitCode, String> {
    let mut secs = FUZZ_SECS;
    // `--runs N`: stop each target after N executions instead (no time cap).
    let mut runs: Option<u64> = None;
    let mut wanted: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let Some(a) = a.to_str() else {
            return Err(format!("fuzz: argument {a:?} is not UTF-8"));
        };
        if a == "--secs" {
            let n = it.next().and_then(|v| v.to_str()).unwrap_or("");
            secs = n
                .parse()
                .map_err(|_| format!("fuzz: --secs needs a number of seconds, got {n:?}"))?;
        } else if let Some(n) = a.strip_prefix("--secs=") {
            secs = n
                .parse()
                .map_err(|_| format!("fuzz: --secs needs a number of seconds, got {n:?}"))?;
        } else if a == "--runs" {
            let n = it.next().and_then(|v| v.to_str()).unwrap_or("");
            runs = Some(
                n.parse()
                    .map_err(|_| format!("fuzz: --runs needs a number, got {n:?}"))?,
            );
        } else if a.starts_with('-') {
            return Err(format!(
                "fuzz: unknown option {a:?} (only --secs N or --runs N)"
            ));
        } else {
            wanted.push(a.to_string());
        }
    }
    ensure(&[Build])?;
    let root = workspace_root();
    let fuzz_dir = root.join("fuzz");
    let all = fuzz_targets(&fuzz_dir)?;
    for w in &wanted {
        if !all.contains(w) {
            return Err(format!("fuzz: no target {w:?}; targets: {}", all.join(" ")));
        }
    }
    let targets = if wanted.is_empty() { all } else { wanted };
    ensure_cargo_fuzz()?;
    // Own target dir: the instrumented build shares nothing with the normal
    // one, and a set CARGO_TARGET_DIR must not mix the two.
    let target_dir = fuzz_dir.join("target");
    let started = std::time::SystemTime::now();
    let status = fuzz_cargo(&root)
        .args(["fuzz", "build"])
        .args(FUZZ_FLAGS)
        .arg("--target-dir")
        .arg(&target_dir)
        .status()
        .map_err(|e| format!("cannot start cargo fuzz: {e}"))?;
    if !status.success() {
        eprintln!("xtask: fuzz build failed");
        return Ok(exit_code(status));
    }
    let mut crashed: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for t in &targets {
        let corpus = fuzz_dir.join("corpus").join(t);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
        let seeds = fuzz_dir.join("seeds").join(t);
        match runs {
            Some(n) => eprintln!("xtask: fuzzing {t} for {n} executions"),
            None => eprintln!("xtask: fuzzing {t} for {secs} s"),
        }
        let mut run = fuzz_cargo(&root);
        run.args(["fuzz", "run"])
            .args(FUZZ_FLAGS)
            .arg("--target-dir")
            .arg(&target_dir)
            .arg(t)
            .arg(&corpus);
        if seeds.is_dir() {
            run.arg(&seeds);
        }
        // -timeout: one input slower than 10 s is a hang; -rss_limit_mb: a
        // parser that allocates 2 GiB on a small input is a crash.
        let stop = match runs {
            Some(n) => format!("-runs={n}"),
            None => format!("-max_total_time={secs}"),
        };
        let status = run
            .arg("--")
            .arg(stop)
            .args(["-timeout=10", "-rss_limit_mb=2048", "-print_final_stats=1"])
            .status()
            .map_err(|e| format!("cannot start cargo fuzz: {e}"))?;
        if !status.success() {
            let arts = new_files(&fuzz_dir.join("artifacts").join(t), started);
            crashed.push((t.clone(), arts));
        }
    }
    if crashed.is_empty() {
        match runs {
            Some(n) => eprintln!(
                "xtask: fuzz OK: {} target(s), {n} executions each",
                targets.len()
            ),
            None => eprintln!("xtask: fuzz OK: {} target(s), {secs} s each", targets.len()),
        }
        return Ok(ExitCode::SUCCESS);
    }
    for (t, arts) in &crashed {
        eprintln!("xtask: fuzz target {t} FAILED");
        if arts.is_empty() {
            eprintln!("  (no artifact written; see the output above)");
        }
        for a in arts {
            eprintln!("  artifact: {}", a.display());
            eprintln!(
                "  reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run {} {t} {}",
                FUZZ_FLAGS.join(" "),
                a.display()
            );
        }
    }
    Ok(ExitCode::FAILURE)
}

/// Target names: the files in `fuzz/fuzz_targets/`, sorted.
fn fuzz_targets(fuzz_dir: &Path) -> Result<Vec<String>, String> {
    let dir = fuzz_dir.join("fuzz_targets");
    let rd = std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut names: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_string)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Files in `dir` written at or after `since` (the crash artifacts of this run).
fn new_files(dir: &Path, since: std::time::SystemTime) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since)
        })
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// cargo for cargo-fuzz. cargo-fuzz passes `-Z` flags to rustc;
/// RUSTC_BOOTSTRAP lets the stable toolchain accept them, so CI needs no
/// nightly. The flag applies to this child only, never to normal builds.
fn fuzz_cargo(root: &Path) -> Command {
    let mut c = cargo();
    c.current_dir(root).env("RUSTC_BOOTSTRAP", "1");
    c
}

/// Installs cargo-fuzz from crates.io (locked versions) when missing.
fn ensure_cargo_fuzz() -> Result<(), String> {
    let have = cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if have {
        return Ok(());
    }
    eprintln!("xtask: installing cargo-fuzz (cargo install cargo-fuzz --locked)");
    let status = cargo()
        .args(["install", "cargo-fuzz", "--locked"])
        .status()
        .map_err(|e| format!("cannot start cargo install: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo install cargo-fuzz failed ({status})"))
    }
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

#[cfg(test)]
mod tests {
    use super::junit_failures;

    #[test]
    fn junit_recap_lists_only_failed_cases_with_their_output() {
        let xml = r#"<testsuites><testsuite name="a">
<testcase name="ok_one" classname="pkg::bin" time="0.1"></testcase>
<testcase name="bad_one" classname="pkg::bin" time="2"><failure type="test failure">x</failure><system-out>line &lt;1&gt;</system-out><system-err>thread panicked at &quot;b&quot;</system-err></testcase>
<testcase name="ok_two" classname="pkg::other"/>
</testsuite></testsuites>"#;
        let failed = junit_failures(xml);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, "pkg::bin bad_one");
        assert!(failed[0].1.contains("line <1>"));
        assert!(failed[0].1.contains("panicked at \"b\""));
    }
}
