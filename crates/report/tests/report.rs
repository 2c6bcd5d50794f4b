//! The protocol PDF: content, determinism, hash, pages.

use rettpad_record::keys;
use rettpad_record::{Author, HandoverMode, MissionLog, MissionState, Payload, Target, Value};
use rettpad_report::{self as report, ReportInput, Strip};
use rettpad_sim::sample;

/// A sample mission as the report sees it.
struct Mission {
    log: MissionLog,
    state: MissionState,
    strips: Vec<Strip>,
}

impl Mission {
    fn of(s: sample::Sample) -> Mission {
        let log = s.log();
        let state = MissionState::fold(log.mission(), log.events());
        Mission {
            log,
            state,
            strips: s.strips,
        }
    }

    /// Appends an event one minute after the newest.
    fn push(&mut self, p: Payload) {
        let author = Author {
            device: "PAD-TEST".into(),
            crew_member: self.state.crew[0].id,
        };
        let last = self.log.events().last().map_or(0, |e| e.wall_ms);
        let ev = self.log.prepare(&author, last + 60_000, 1, p);
        self.log.insert(ev).expect("insert");
        self.state = MissionState::fold(self.log.mission(), self.log.events());
    }

    /// Printed at the hospital, then NACA corrected: an audited change.
    fn handed_over_and_corrected(mut self) -> Mission {
        self.push(Payload::HandedOver {
            mode: HandoverMode::Printed,
            to: "ZNA-Drucker".into(),
            document_sha256: None,
        });
        let p = self.state.patients[0].id;
        self.push(Payload::Set {
            target: Target::Patient(p),
            field: keys::naca::SCORE.into(),
            value: Value::code("5"),
        });
        self
    }
}

fn input(f: &Mission) -> ReportInput<'_> {
    ReportInput {
        state: &f.state,
        log: &f.log,
        strips: &f.strips,
    }
}

mod fixture {
    use super::*;
    pub fn standard() -> Mission {
        Mission::of(sample::standard())
    }
    pub fn resuscitation() -> Mission {
        Mission::of(sample::resuscitation())
    }
}

#[test]
fn renders_standard_and_resuscitation() {
    for f in [fixture::standard(), fixture::resuscitation()] {
        let doc = report::render(&input(&f)).expect("render");
        assert!(doc.pdf.starts_with(b"%PDF-"));
        assert!(doc.pages >= 2, "{} pages", doc.pages);
        let t = pdftotext(&doc.pdf);
        // Every strip the log names is drawn with its label.
        for p in &f.state.patients {
            for s in &p.strips {
                assert!(t.contains(&s.label), "strip {}", s.label);
            }
        }
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
        .map(|e| rettpad_record::Event::decode(&e.encode()).expect("decode"))
        .collect();
    let (log, issues) = rettpad_record::MissionLog::restore(a.log.mission(), events);
    assert!(issues.is_empty());
    let state = rettpad_record::MissionState::fold(log.mission(), log.events());
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
    let mut a = fixture::standard();
    let d1 = report::render(&input(&a)).expect("render");
    // One more event: new content, new hash.
    a.push(Payload::Set {
        target: Target::Mission,
        field: keys::remarks::TEXT.into(),
        value: Value::text("Nachtrag"),
    });
    let d2 = report::render(&input(&a)).expect("render");
    assert_ne!(d1.sha256, d2.sha256);
    assert_ne!(d1.pdf, d2.pdf);
    // A strip the log names but the vault lacks is printed as missing.
    let d3 = report::render(&ReportInput {
        state: &a.state,
        log: &a.log,
        strips: &[],
    })
    .expect("render");
    assert_ne!(d2.sha256, d3.sha256);
    assert!(pdftotext(&d3.pdf).contains("nicht verfügbar"));
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
    let f = fixture::standard().handed_over_and_corrected();
    let doc = report::render(&input(&f)).expect("render");
    let t = pdftotext(&doc.pdf);
    let st = &f.state;
    let p = &st.patients[0];
    let text = |v: Option<&Value>| v.and_then(Value::as_text).unwrap_or_default().to_string();
    let mut needles = vec![
        "Notfallprotokoll".to_string(),
        text(st.get(keys::mission::NUMBER)),
        st.call_sign.clone(),
        text(p.get(keys::patient::FAMILY_NAME)),
        st.crew[0].name.clone(),
        "12-Kanal-EKG".into(),
        "25 mm/s · 10 mm/mV".into(),
        "Änderungsnachweis".into(),
        "NACA-Score".into(),
        "Übernehmende".into(),
        f.log.digest().to_hex(),
        doc.sha256.to_hex()[..16].to_string(),
        format!("Seite 1 / {}", doc.pages),
    ];
    // Every medication substance and every diagnosis text is there.
    for e in st.entries.values() {
        for k in [keys::med::SUBSTANCE, keys::diagnosis::TEXT] {
            if let Some(v) = e.get(k) {
                needles.push(text(Some(v)));
            }
        }
    }
    let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in &needles {
        assert!(!needle.is_empty());
        let n = needle.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(&n), "missing {needle:?}");
    }
    // The correction after the handover is listed with the new value.
    assert!(flat.contains("V – akute Lebensgefahr"), "new NACA");
    // Every page has the footer with the hash prefix; the last page the chain head.
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
    let (y, mo, d) = rettpad_record::value::civil_from_ms(last);
    let secs = last.rem_euclid(86_400_000) / 1000;
    let iso = format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    assert!(text.contains(&iso), "creation date {iso}");
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
        rettpad_record::Payload::HandedOver {
            mode,
            to,
            document_sha256,
        } => {
            assert_eq!(mode, rettpad_record::HandoverMode::Printed);
            assert_eq!(to, "HKL-Drucker");
            assert_eq!(document_sha256, Some(doc.sha256));
        }
        other => panic!("unexpected payload {other:?}"),
    }
}

#[test]
fn samples_fold_cleanly_and_render() {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    for (name, f) in [
        ("standard", fixture::standard().handed_over_and_corrected()),
        ("resuscitation", fixture::resuscitation()),
    ] {
        assert!(f.state.rejected.is_empty(), "{:?}", f.state.rejected);
        let doc = report::render(&input(&f)).expect("render");
        std::fs::write(out.join(format!("report-{name}.pdf")), &doc.pdf).expect("write");
    }
}
