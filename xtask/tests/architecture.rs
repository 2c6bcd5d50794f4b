//! The architecture's rules, checked on the workspace itself: what each
//! crate must not link, where field keys may be spelled, how large a file
//! of the UI and of the pad core may grow.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

/// The package names in `cargo tree`'s output for `args`.
fn tree(args: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root())
        .args(["tree", "--offline", "--prefix", "none", "--format", "{p}"])
        .args(args)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn assert_none(pkgs: &BTreeSet<String>, what: &str, banned: &[&str]) {
    let found: Vec<_> = pkgs
        .iter()
        .filter(|p| {
            banned
                .iter()
                .any(|b| p.as_str() == *b || p.starts_with(&format!("{b}-")))
        })
        .collect();
    assert!(found.is_empty(), "{what} links {found:?}");
}

#[test]
fn the_gateway_links_neither_slint_nor_typst_nor_the_pad() {
    let pkgs = tree(&["-p", "rettpad-gateway", "-e", "normal,build"]);
    assert!(
        pkgs.contains("rettpad-transfer"),
        "the tree was read: {pkgs:?}"
    );
    assert_none(
        &pkgs,
        "rettpad-gateway",
        &[
            "slint",
            "i-slint-core",
            "winit",
            "typst",
            "rettpad-pad",
            "rettpad-ui",
            "rettpad-sim",
        ],
    );
}

#[test]
fn the_back_office_links_no_ui_no_pad_and_no_sockets() {
    let pkgs = tree(&["-p", "rettpad-backoffice", "-e", "normal,build"]);
    assert!(pkgs.contains("postgres"), "the tree was read: {pkgs:?}");
    assert_none(
        &pkgs,
        "rettpad-backoffice",
        &[
            "slint",
            "winit",
            "typst",
            "axum",
            "rettpad-pad",
            "rettpad-ui",
            "rettpad-sim",
            "rettpad-gateway",
        ],
    );
}

/// Tenancy is enforced in one place: the back office reads tenant tables
/// only through the `v_*` views, which filter by the transaction's scope
/// (and PostgreSQL's row-level security backs them). A query on a bare
/// tenant table would bypass the SQLite side of that.
#[test]
fn the_back_office_reads_tenant_tables_only_through_their_views() {
    let src = root().join("crates/backoffice/src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    assert!(files.len() >= 4, "read {files:?}");
    let tables = [
        "station",
        "vehicle",
        "pad",
        "archive_key",
        "protocol",
        "identity",
        "medical",
        "free_text",
        "stat",
        "event_log",
        "document",
        "change_log",
        "intake_issue",
        "crew_edit",
        "qm_build",
        "qm_pseudo",
        "qm_anon",
    ];
    let mut hits = Vec::new();
    for f in files.iter().filter(|f| !f.ends_with("schema.rs")) {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        let words: Vec<&str> = text.split_whitespace().collect();
        for w in words.windows(3) {
            let (before, kw, table) = (w[0], w[1], w[2].trim_end_matches([',', ')', '"']));
            let reads = kw.eq_ignore_ascii_case("FROM") || kw.eq_ignore_ascii_case("JOIN");
            if reads && !before.eq_ignore_ascii_case("DELETE") && tables.contains(&table) {
                hits.push(format!("{}: {before} {kw} {table}", f.display()));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "read through v_<table>:\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_pad_core_is_headless() {
    let pkgs = tree(&["-p", "rettpad-pad", "-e", "normal,build"]);
    assert!(
        pkgs.contains("rettpad-vault"),
        "the tree was read: {pkgs:?}"
    );
    assert_none(
        &pkgs,
        "rettpad-pad",
        &[
            "slint",
            "i-slint-core",
            "winit",
            "rettpad-ui",
            "rettpad-sim",
            "axum",
        ],
    );
}

#[test]
fn the_product_build_ships_no_simulator_and_no_gateway() {
    let pkgs = tree(&[
        "-p",
        "rettpad-ui",
        "--no-default-features",
        "-e",
        "normal,build",
    ]);
    assert!(pkgs.contains("slint"), "the tree was read: {pkgs:?}");
    assert_none(
        &pkgs,
        "rettpad-ui (product)",
        &["rettpad-sim", "rettpad-gateway", "axum"],
    );
}

#[test]
fn protocol_crates_stay_pure() {
    for krate in [
        "rettpad-record",
        "rettpad-export",
        "rettpad-clock",
        "rettpad-provision",
        "rettpad-channel",
        "rettpad-dispatch",
    ] {
        let pkgs = tree(&["-p", krate, "-e", "normal"]);
        assert_none(
            &pkgs,
            krate,
            &[
                "tokio",
                "reqwest",
                "rusqlite",
                "pcsc",
                "serialport",
                "slint",
                "typst",
            ],
        );
    }
}

#[test]
fn the_vault_keeps_data_and_sends_nothing() {
    let pkgs = tree(&["-p", "rettpad-vault", "-e", "normal"]);
    assert!(pkgs.contains("rusqlite"), "the tree was read: {pkgs:?}");
    assert_none(
        &pkgs,
        "rettpad-vault",
        &["reqwest", "hyper", "axum", "slint", "typst", "rettpad-pad"],
    );
}

#[test]
fn no_crate_depends_on_the_ui() {
    let pkgs = tree(&["-i", "rettpad-ui", "--workspace", "-e", "all"]);
    assert_eq!(pkgs, BTreeSet::from(["rettpad-ui".to_string()]));
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name();
        if p.is_dir() {
            if name != "target" && name != ".git" {
                sources(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs" || x == "slint") {
            out.push(p);
        }
    }
}

#[test]
fn field_keys_are_spelled_only_in_the_record_crate() {
    let root = root();
    let record = root.join("crates/record/src");
    let mut files = Vec::new();
    for d in ["crates", "xtask", "fuzz"] {
        sources(&root.join(d), &mut files);
    }
    assert!(files.len() > 100, "the workspace was read: {}", files.len());
    let mut hits = Vec::new();
    for f in files.iter().filter(|f| !f.starts_with(&record)) {
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for key in rettpad_record::keys::ALL {
            if text.contains(&format!("\"{key}\"")) {
                hits.push(format!("{}: {key}", f.display()));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "use rettpad_record::keys instead of:\n{}",
        hits.join("\n")
    );
}

#[test]
fn every_key_constant_names_a_catalog_field_and_back() {
    let fields: BTreeSet<_> = rettpad_record::catalog::FIELDS
        .iter()
        .map(|d| d.key)
        .collect();
    let consts: BTreeSet<_> = rettpad_record::keys::ALL.iter().copied().collect();
    assert_eq!(
        consts.len(),
        rettpad_record::keys::ALL.len(),
        "a key is listed twice"
    );
    assert_eq!(fields, consts);
}

fn longest(dir: &Path) -> (usize, PathBuf) {
    let mut files = Vec::new();
    sources(dir, &mut files);
    files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|x| x == "rs"))
        .map(|f| {
            (
                std::fs::read_to_string(&f)
                    .unwrap_or_default()
                    .lines()
                    .count(),
                f,
            )
        })
        .max()
        .unwrap_or_default()
}

#[test]
fn ui_and_pad_files_stay_small() {
    let (n, f) = longest(&root().join("crates/ui/src"));
    assert!(
        n > 0 && n < 600,
        "{} has {n} lines (the UI's limit is 600)",
        f.display()
    );
    let (n, f) = longest(&root().join("crates/pad/src"));
    assert!(
        n > 0 && n <= 800,
        "{} has {n} lines (the pad core's limit is 800)",
        f.display()
    );
}
