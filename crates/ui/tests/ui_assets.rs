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

/// The fonts the UI draws with: DejaVu Sans (the kiosk's system font, from
/// `cargo xtask deps`) where installed, and the DejaVu files the report
/// embeds (`assets/fonts`), which have the same character coverage.
fn ui_fonts() -> Vec<(String, Vec<u8>)> {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../assets/fonts");
    let mut out = Vec::new();
    for p in [
        assets.join("DejaVuSansCondensed.ttf"),
        assets.join("DejaVuSansCondensed-Bold.ttf"),
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf".into(),
        "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf".into(),
    ] {
        if let Ok(bytes) = std::fs::read(&p) {
            out.push((p.display().to_string(), bytes));
        }
    }
    assert!(out.len() >= 2, "no UI fonts found");
    out
}

/// The characters inside string literals of `src` (comments skipped).
fn literal_chars(src: &str, out: &mut HashSet<char>) {
    for line in src.lines() {
        let t = line.trim_start();
        if t.starts_with("//") || t.starts_with("#") {
            continue;
        }
        let mut inside = false;
        let mut prev = ' ';
        for c in line.chars() {
            if c == '"' && prev != '\\' {
                inside = !inside;
            } else if inside {
                out.insert(c);
            }
            prev = c;
        }
    }
}

#[test]
fn every_character_the_ui_shows_is_in_its_fonts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut chars = HashSet::new();
    let mut files = Vec::new();
    let mut stack = vec![root.join("ui"), root.join("src"), root.join("../pad/src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .is_some_and(|x| x == "slint" || x == "rs" || x == "po")
            {
                files.push(p);
            }
        }
    }
    // Display texts of the catalog, code lists and messages.
    for f in ["catalog.rs", "codes.rs", "text.rs", "rules.rs"] {
        files.push(root.join("../record/src").join(f));
    }
    for f in &files {
        literal_chars(&std::fs::read_to_string(f).unwrap(), &mut chars);
    }
    let mut wanted: Vec<char> = chars
        .into_iter()
        .filter(|c| !c.is_ascii() && !c.is_control())
        .collect();
    wanted.sort();
    assert!(wanted.contains(&'ä') && wanted.contains(&'✓'), "{wanted:?}");
    for (name, bytes) in ui_fonts() {
        let face = ttf_parser::Face::parse(&bytes, 0).unwrap();
        let missing: Vec<String> = wanted
            .iter()
            .filter(|c| face.glyph_index(**c).is_none())
            .map(|c| format!("{c} U+{:04X}", *c as u32))
            .collect();
        assert!(
            missing.is_empty(),
            "{name} lacks {missing:?}: draw it as a Path or use another character"
        );
    }
}

/// Width of `text` at `px` in the face, in logical px.
fn text_width(face: &ttf_parser::Face, text: &str, px: f32) -> f32 {
    let scale = px / f32::from(face.units_per_em());
    text.chars()
        .filter_map(|c| face.glyph_index(c))
        .map(|g| f32::from(face.glyph_hor_advance(g).unwrap_or(0)) * scale)
        .sum()
}

/// Greedy word wrap: the lines `text` takes in `width`, or None when one
/// word alone is wider (it would be broken mid-word).
fn lines_needed(face: &ttf_parser::Face, text: &str, px: f32, width: f32) -> Option<usize> {
    let mut lines = 1;
    let mut line = String::new();
    for word in text.split(' ') {
        if text_width(face, word, px) > width {
            return None;
        }
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width(face, &candidate, px) > width {
            lines += 1;
            line = word.to_string();
        } else {
            line = candidate;
        }
    }
    Some(lines)
}

/// Every state a status bar pill can show fits its fixed width (124 px,
/// 6 px padding each side) in at most two lines of 16 px bold, so the bar
/// never elides ("Geräte verbun…"); the theme's sizes are checked too.
#[test]
fn status_bar_pill_texts_fit_their_pills() {
    let theme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/theme.slint"))
            .unwrap();
    assert!(theme.contains("pill-width: 124px;") && theme.contains("font-pill: 16px;"));
    let states = [
        "aus",
        "…",
        "Dienst aus",
        "kein Leser",
        "bereit",
        "Karte steckt",
        "verbunden",
        "verbindet …",
        "getrennt",
        "falsches Gerät!",
        "keine",
        "Anfrage!",
        "läuft …",
        "nicht eingerichtet",
        "wartet (99)",
        "sendet (99)",
        "✓ 99 bestätigt",
        "Speicher voll!",
        "off",
        "service down",
        "no reader",
        "ready",
        "card in",
        "connected",
        "connecting …",
        "link lost",
        "wrong device!",
        "none",
        "request!",
        "running …",
        "not set up",
        "waiting (99)",
        "sending (99)",
        "✓ 99 confirmed",
        "storage full!",
        "error – retrying",
    ];
    for (name, bytes) in ui_fonts().iter().filter(|(n, _)| n.contains("Bold")) {
        let face = ttf_parser::Face::parse(bytes, 0).unwrap();
        for s in states {
            let n = lines_needed(&face, s, 16.0, 124.0 - 12.0);
            assert!(
                matches!(n, Some(1 | 2)),
                "{s:?} needs {n:?} lines in the pill ({name})"
            );
        }
        // The labels above, 14 px regular-width: one line.
        for l in [
            "Karte",
            "Geräte",
            "Upload",
            "Übergabe",
            "Card",
            "Devices",
            "Handover",
        ] {
            assert!(text_width(&face, l, 14.0) <= 106.0, "{l}");
        }
    }
}

/// The shift page's qualification tiles (four a row from 1024 px: 228 px of
/// text, 18 px, bold when chosen) never break a word and take at most two
/// lines, in German and English ("Sonstig/e" was issue 20).
#[test]
fn qualification_tiles_keep_whole_words() {
    use rettpad_pad::session::Qualification;
    let width = (1024.0 - 40.0 - 3.0 * 8.0) / 4.0 - 12.0;
    for (name, bytes) in ui_fonts() {
        let face = ttf_parser::Face::parse(&bytes, 0).unwrap();
        for q in Qualification::ALL {
            for label in [q.label_de(), q.label_en()] {
                let n = lines_needed(&face, label, 18.0, width);
                assert!(
                    matches!(n, Some(1 | 2)),
                    "{label:?} needs {n:?} lines ({name})"
                );
            }
            assert_eq!(lines_needed(&face, q.label_de(), 18.0, width), Some(1));
        }
    }
}

/// Without a screen the pad that cannot start says why on stderr, German
/// for the crew and the English log line naming the file, key and values.
#[test]
fn a_bad_configuration_stops_the_start_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pad.toml");
    std::fs::write(
        &path,
        "device_serial = \"P1\"\ncall_sign = \"x\"\nprotocol = 3\ncard_reader = \"usb\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rettpad"))
        .arg("--config")
        .arg(&path)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("SLINT_BACKEND")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Geräte-Konfiguration ist fehlerhaft"), "{err}");
    assert!(
        err.contains("pad.toml") && err.contains("card_reader"),
        "{err}"
    );
    assert!(!dir.path().join("data").exists(), "nothing is created");
}
