//! The English translation is complete, and `rettpad --screenshot` renders
//! every page to a real picture.

use std::collections::HashSet;
use std::path::Path;

/// `(context, German text)` of every `@tr("…")` in ui/, the context being
/// the enclosing component as Slint's bundled translations expect.
fn tr_strings() -> HashSet<(String, String)> {
    let mut out = HashSet::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("ui")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "slint") {
                let src = std::fs::read_to_string(&p).unwrap();
                let mut component = String::new();
                for line in src.lines() {
                    let t = line.trim_start().trim_start_matches("export ");
                    if let Some(rest) = t.strip_prefix("component ") {
                        component = rest.split_whitespace().next().unwrap_or("").to_string();
                    }
                    let mut rest = line;
                    while let Some(i) = rest.find("@tr(\"") {
                        let after = &rest[i + 5..];
                        // The literal ends at its closing quote (arguments may follow).
                        let end = after.find('"').expect("unterminated @tr string");
                        out.insert((component.clone(), after[..end].to_string()));
                        rest = &after[end..];
                    }
                }
            }
        }
    }
    out
}

fn po_entries(path: &Path) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let unq = |l: &str, key: &str| {
        l.strip_prefix(key)
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    let mut out = Vec::new();
    let (mut ctx, mut id) = (String::new(), String::new());
    for line in text.lines() {
        if let Some(v) = unq(line, "msgctxt ") {
            ctx = v;
        } else if let Some(v) = unq(line, "msgid ") {
            id = v;
        } else if let Some(v) = unq(line, "msgstr ") {
            out.push((ctx.clone(), id.clone(), v));
        }
    }
    out
}

#[test]
fn every_ui_string_has_an_english_translation() {
    let po = po_entries(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/lang/en/LC_MESSAGES/rettpad-ui.po"),
    );
    let strings = tr_strings();
    assert!(strings.len() > 40, "found only {} strings", strings.len());
    for (ctx, de) in &strings {
        let hit = po.iter().find(|(c, id, _)| c == ctx && id == de);
        match hit {
            Some((_, _, en)) => assert!(!en.is_empty(), "empty English for {ctx}: {de}"),
            None => panic!("no English translation for {ctx}: {de:?}"),
        }
    }
}

/// Every page at the tablets' screens (logical px at scale 1) and in a
/// 1024×600 window. The pictures are kept in `target/screenshots/WxH` to be
/// looked at.
#[test]
fn screenshot_command_renders_every_page_at_every_screen_size() {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    for size in ["1280x800", "1366x768", "1920x1080", "1920x1200", "1024x600"] {
        let dir = target.join(size);
        let _ = std::fs::remove_dir_all(&dir);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rettpad"))
            .arg("--screenshot")
            .arg(&dir)
            .args(["--size", size])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{size}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(files.len() >= 25, "{size}: {} screenshots", files.len());
        let (w, h) = size.split_once('x').unwrap();
        let want = (w.parse::<u32>().unwrap(), h.parse::<u32>().unwrap());
        let mut sizes = HashSet::new();
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            assert_eq!(&bytes[1..4], b"PNG", "{}", f.display());
            assert!(bytes.len() > 10_000, "{} looks empty", f.display());
            // IHDR: width and height, big-endian, at bytes 16..24.
            let dim = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
            assert_eq!((dim(16), dim(20)), want, "{}", f.display());
            sizes.insert(bytes.len());
        }
        assert!(sizes.len() > files.len() / 2, "{size}: pages look alike");
    }
}

#[test]
fn screenshot_size_is_checked() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rettpad"))
        .args(["--screenshot", "/nonexistent", "--size", "12x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("WxH"));
}

#[test]
fn live_probe_streams_three_leads_pleth_and_capnogram_every_tenth_of_a_second() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rettpad"))
        .args(["--live-probe", "1"])
        .output()
        .expect("run rettpad");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let get = |k: &str| -> u64 {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(&format!("{k}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{k} in {text}"))
    };
    let frames = get("frames");
    assert!((5..=11).contains(&frames), "{frames} frames in 1 s");
    // Per frame (100 ms): 3 leads × 50 samples at 500 Hz, pleth at 125 Hz
    // (13, 12, …) and the capnogram at 62.5 Hz (7, 6, 6, 6, …).
    let want: u64 = (0..frames)
        .map(|t| 150 + if t % 2 == 0 { 13 } else { 12 } + if t % 4 == 0 { 7 } else { 6 })
        .sum();
    assert_eq!(get("samples"), want);
}
