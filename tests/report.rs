//! The protocol PDF: content, determinism, hash, pages.

use rettpad::report::{self, ReportInput, fixture};

fn input(f: &fixture::Fixture) -> ReportInput<'_> {
    ReportInput {
        state: &f.state,
        log: &f.log,
        strips: &f.strips,
    }
}

#[test]
fn fixtures_fold_cleanly() {
    for f in [fixture::standard(), fixture::resuscitation()] {
        assert!(f.state.rejected.is_empty(), "{:?}", f.state.rejected);
        assert!(f.log.verify().is_empty());
    }
}

#[test]
fn renders_standard_and_resuscitation() {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (name, f) in [
        ("standard", fixture::standard()),
        ("resuscitation", fixture::resuscitation()),
    ] {
        let doc = report::render(&input(&f)).expect("render");
        assert!(doc.pdf.starts_with(b"%PDF-"));
        assert!(doc.pages >= 2, "{name}: {} pages", doc.pages);
        std::fs::write(out.join(format!("report-{name}.pdf")), &doc.pdf).expect("write");
    }
}

#[test]
fn same_events_give_the_same_bytes_and_hash() {
    let a = fixture::standard();
    let d1 = report::render(&input(&a)).expect("render");
    // Through the wire form: encode, decode, restore, fold, render again.
    let events: Vec<_> = a
        .log
        .events()
        .iter()
        .map(|e| rettpad::record::Event::decode(&e.encode()).expect("decode"))
        .collect();
    let (log, issues) = rettpad::record::MissionLog::restore(a.log.mission(), events);
    assert!(issues.is_empty());
    let state = rettpad::record::MissionState::fold(log.mission(), log.events());
    let d2 = report::render(&ReportInput {
        state: &state,
        log: &log,
        strips: &a.strips,
    })
    .expect("render");
    assert_eq!(d1.sha256, d2.sha256);
    assert_eq!(d1.pdf_sha256, d2.pdf_sha256);
    assert!(d1.pdf == d2.pdf, "PDF bytes differ");
    // The hash is computable without layout (what the server does).
    assert_eq!(report::content(&input(&a)).1, d1.sha256);
}

#[test]
fn any_change_changes_the_document_hash() {
    let a = fixture::standard();
    let d1 = report::render(&input(&a)).expect("render");
    // One more (audited) event after the print: new content, new hash.
    let mut log = a.log.clone();
    let author = rettpad::record::Author {
        device: "PAD-0815".into(),
        crew_member: a.state.crew[0].id,
    };
    let last = log.events().last().map_or(0, |e| e.wall_ms);
    let ev = log.prepare(
        &author,
        last + 60_000,
        1,
        rettpad::record::Payload::Set {
            target: rettpad::record::Target::Mission,
            field: "remarks.text".into(),
            value: rettpad::record::Value::text("Nachtrag"),
        },
    );
    log.insert(ev).expect("insert");
    let state = rettpad::record::MissionState::fold(log.mission(), log.events());
    let d2 = report::render(&ReportInput {
        state: &state,
        log: &log,
        strips: &a.strips,
    })
    .expect("render");
    assert_ne!(d1.sha256, d2.sha256);
    assert_ne!(d1.pdf, d2.pdf);
    // The strips are content too.
    let d3 = report::render(&ReportInput {
        state: &a.state,
        log: &a.log,
        strips: &[],
    })
    .expect("render");
    assert_ne!(d1.sha256, d3.sha256);
}

/// Text of the PDF via poppler (a test dependency).
fn pdftotext(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("r.pdf");
    std::fs::write(&p, pdf).expect("write");
    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&p)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils, `cargo xtask deps --test`)");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_pdf_says_what_the_record_says() {
    let f = fixture::standard();
    let doc = report::render(&input(&f)).expect("render");
    let t = pdftotext(&doc.pdf);
    for needle in [
        "Notfallprotokoll",
        "2026-112233",
        "RTW 1/83-1",
        "Schäfer",
        "Günther",
        "AOK Bayern",
        "Acetylsalicylsäure",
        "Sinusrhythmus",
        "Akuter Hinterwandinfarkt",
        "I21.1",
        "Notfallsanitäter",
        "12-Kanal-EKG",
        "25 mm/s",
        "Änderungsnachweis",
        "NACA-Score",
        "Übernehmende",
        &f.log.digest().to_hex(),
        &doc.sha256.to_hex()[..16],
        &format!("Seite 1 / {}", doc.pages),
    ] {
        assert!(t.contains(needle), "missing {needle:?}");
    }
    // The correction after the handover is listed with both values.
    assert!(t.contains("IV – schwer"), "original NACA");
    assert!(t.contains("V – akute"), "new NACA");
    // Every page has the footer with the hash prefix.
    assert_eq!(t.matches(&doc.sha256.to_hex()[..16]).count(), doc.pages + 1);
}

#[test]
fn pdf_is_pdf_a_2b_with_the_fixed_creation_date() {
    let f = fixture::standard();
    let doc = report::render(&input(&f)).expect("render");
    let text = String::from_utf8_lossy(&doc.pdf);
    assert!(text.contains("<pdfaid:part>2</pdfaid:part>"), "no PDF/A id");
    assert!(text.contains("<pdfaid:conformance>B</pdfaid:conformance>"));
    let last = f.log.events().last().map(|e| e.wall_ms).unwrap_or(0);
    assert_eq!(doc.created_ms, last);
    // 2026-11-22 13:58:00 UTC as the PDF's creation date.
    assert!(text.contains("2026-11-22T13:58:00"), "creation date");
}

#[test]
fn preview_png_of_page_one() {
    let f = fixture::standard();
    let doc = report::render(&input(&f)).expect("render");
    let png = report::preview_png(&doc, 1, 400).expect("png");
    assert!(png.starts_with(b"\x89PNG"));
    let dec = png::Decoder::new(std::io::Cursor::new(&png));
    let r = dec.read_info().expect("png header");
    assert_eq!(r.info().width, 400);
    assert!(matches!(
        report::preview_png(&doc, doc.pages + 1, 400),
        Err(report::ReportError::NoPage(_))
    ));
    assert!(report::preview_png(&doc, 0, 400).is_err());
}

#[test]
fn print_event_records_the_document_hash() {
    let f = fixture::standard();
    let doc = report::render(&input(&f)).expect("render");
    match report::print_event("HKL-Drucker", &doc) {
        rettpad::record::Payload::HandedOver {
            mode,
            to,
            document_sha256,
        } => {
            assert_eq!(mode, rettpad::record::HandoverMode::Printed);
            assert_eq!(to, "HKL-Drucker");
            assert_eq!(document_sha256, Some(doc.sha256));
        }
        other => panic!("unexpected payload {other:?}"),
    }
}
