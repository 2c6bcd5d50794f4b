//! Raster printing: PCL5 and ESC/P byte streams (golden files, round trip
//! through our own decoders) and sending over a PTY like `/dev/rfcommN`.

use rettpad_record::MissionState;
use rettpad_report::print::{self, PrintStatus, Profile};
use rettpad_report::raster::{self, Bitmap};
use rettpad_report::{self as report, ReportInput, escp, pcl};
use rettpad_text::{Lang, UserMessage};
use serialport::SerialPort;
use std::io::Read;
use std::path::PathBuf;

/// A small page with text-like content: a frame, a diagonal, a block, a
/// dotted line and blank rows.
fn small_page(dpi: u32) -> Bitmap {
    let mut b = Bitmap::new(70, 24, dpi);
    for x in 0..70 {
        b.set(x, 0, true);
        b.set(x, 23, true);
        if x % 3 == 0 {
            b.set(x, 12, true);
        }
    }
    for y in 0..24 {
        b.set(0, y, true);
        b.set(69, y, true);
        b.set(y * 2, y, true);
    }
    for y in 3..8 {
        for x in 40..60 {
            b.set(x, y, true);
        }
    }
    b
}

fn blank_rows_page(dpi: u32) -> Bitmap {
    let mut b = Bitmap::new(70, 24, dpi);
    b.set(5, 20, true);
    b
}

fn golden(name: &str, bytes: &[u8]) {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/report")
        .join(name);
    if std::env::var_os("RETTPAD_UPDATE_GOLDEN").is_some() {
        std::fs::write(&p, bytes).expect("write golden");
    }
    let want = std::fs::read(&p).unwrap_or_else(|e| panic!("golden file {}: {e}", p.display()));
    assert!(
        want == bytes,
        "{name} differs from the golden file (RETTPAD_UPDATE_GOLDEN=1 to accept)"
    );
}

#[test]
fn pcl_golden_and_roundtrip() {
    let pages = [small_page(300), blank_rows_page(300)];
    let bytes = pcl::encode(&pages);
    golden("small.pcl", &bytes);
    assert!(bytes.starts_with(b"\x1bE\x1b&l26A\x1b&l0O\x1b*t300R"));
    assert!(bytes.ends_with(b"\x1b*rB\x0c\x1bE"));
    let back = pcl::decode(&bytes).expect("decode");
    assert_eq!(back, pages);
}

#[test]
fn escp_golden_and_roundtrip() {
    let pages = [small_page(360), blank_rows_page(360)];
    let bytes = escp::encode(&pages);
    golden("small.escp", &bytes);
    assert!(bytes.starts_with(b"\x1b@\x1b(G\x01\x00\x01\x1b(U\x01\x00\x0a"));
    let back = escp::decode(&bytes).expect("decode");
    assert_eq!(back, pages);
}

fn standard_doc() -> report::Document {
    let s = rettpad_sim::sample::standard();
    let log = s.log();
    let state = MissionState::fold(log.mission(), log.events());
    report::render(&ReportInput {
        state: &state,
        log: &log,
        strips: &s.strips,
    })
    .expect("render")
}

#[test]
fn real_pages_roundtrip_through_both_languages() {
    let doc = standard_doc();
    let bm = raster::page_bitmap(doc.layout(), 2, 150).expect("raster");
    // A4 at 150 dpi, with ink (text, ECG) but far from solid.
    assert_eq!((bm.width, bm.height), (1240, 1754));
    let ink = bm.ink() as f64 / f64::from(bm.width * bm.height);
    assert!(ink > 0.01 && ink < 0.5, "ink {ink}");
    let p = pcl::encode(std::slice::from_ref(&bm));
    assert_eq!(pcl::decode(&p).expect("pcl"), vec![bm.clone()]);
    // Compression pays off on a protocol page.
    assert!(
        p.len() < bm.bits.len() / 2,
        "{} vs {}",
        p.len(),
        bm.bits.len()
    );
    let bm = raster::page_bitmap(doc.layout(), 1, 180).expect("raster");
    let e = escp::encode(std::slice::from_ref(&bm));
    assert_eq!(escp::decode(&e).expect("escp"), vec![bm]);
}

#[test]
fn corrupt_streams_are_refused() {
    let bytes = pcl::encode(&[small_page(300)]);
    assert!(pcl::decode(&bytes[..bytes.len() - 5]).is_err());
    let e = escp::encode(&[small_page(360)]);
    let mut cut = e.clone();
    cut.truncate(e.len() / 2);
    assert!(escp::decode(&cut).is_err());
}

fn send_over_pty(profile: Profile, dpi: u32) {
    let doc = standard_doc();
    let (mut pad, printer) = serialport::TTYPort::pair().expect("pty pair");
    let path = printer.name().expect("pty name");
    drop(printer);
    // The printer side opens the tty by path, as /dev/rfcommN would be.
    let mut dev = serialport::new(&path, 115_200)
        .timeout(std::time::Duration::from_secs(10))
        .open_native()
        .expect("open pty by path");
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        loop {
            match dev.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
                Err(_) => break,
            }
            if got.ends_with(b"\x1bE") && profile == Profile::Pcl5 && got.len() > 100 {
                break;
            }
            if got.ends_with(b"\x0c\x1b@") && profile == Profile::Escp {
                break;
            }
        }
        got
    });
    let mut seen = Vec::new();
    let sent = print::send_raster(&doc, profile, dpi, &mut pad, &mut |s| seen.push(s.clone()))
        .expect("send");
    let got = reader.join().expect("reader");
    assert_eq!(got.len(), sent);
    let pages = match profile {
        Profile::Pcl5 => pcl::decode(&got).expect("decode pcl"),
        Profile::Escp => escp::decode(&got).expect("decode escp"),
    };
    assert_eq!(pages.len(), doc.pages);
    let p1 = raster::page_bitmap(doc.layout(), 1, dpi).expect("raster");
    assert_eq!(pages[0], p1);
    // Progress: bytes grow, every page is reported once, in order.
    let page_reports: Vec<usize> = seen
        .iter()
        .filter_map(|s| match s {
            PrintStatus::Page { page, .. } => Some(*page),
            _ => None,
        })
        .collect();
    assert_eq!(page_reports, (1..=doc.pages).collect::<Vec<_>>());
    let sents: Vec<usize> = seen
        .iter()
        .filter_map(|s| match s {
            PrintStatus::Sending { sent, .. } => Some(*sent),
            _ => None,
        })
        .collect();
    assert!(sents.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(sents.last().copied(), Some(sent));
}

#[test]
fn pcl_over_a_pty() {
    send_over_pty(Profile::Pcl5, 150);
}

#[test]
fn escp_over_a_pty() {
    send_over_pty(Profile::Escp, 180);
}

#[test]
fn a_dead_link_is_a_clear_error() {
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "rfcomm hung up",
            ))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let doc = standard_doc();
    let err = print::send_raster(&doc, Profile::Pcl5, 75, &mut Broken, &mut |_| {})
        .expect_err("must fail");
    assert!(matches!(err, print::PrintError::Link(_)));
    assert!(err.message(Lang::De).contains("mobilen Drucker"));
}

#[test]
fn printer_choice_from_configuration() {
    let cfg: print::Printers = toml::from_str(
        r#"
        mobile = { name = "Mobildrucker RTW", path = "/dev/rfcomm0", profile = "pcl5", dpi = 300 }
        [[hospital]]
        hospital = "Klinikum Mitte, ZNA"
        name = "ZNA Anmeldung"
        uri = "ipp://10.0.0.5:631/printers/zna"
        [[hospital]]
        hospital = "260912345"
        name = "Herzzentrum HKL"
        uri = "ipp://10.0.0.6:631/printers/hkl"
        "#,
    )
    .expect("parse");
    assert_eq!(cfg.validate(), Ok(()));
    let names: Vec<String> = cfg
        .for_hospital("Klinikum Mitte, ZNA", "")
        .iter()
        .map(|p| p.name().to_string())
        .collect();
    assert_eq!(names, ["ZNA Anmeldung", "Mobildrucker RTW"]);
    assert_eq!(cfg.for_hospital("", "260912345").len(), 2);
    assert_eq!(cfg.for_hospital("anderswo", "").len(), 1);
    let bad: print::Printers = toml::from_str(
        "mobile = { name = \"m\", path = \"/dev/x\", profile = \"escp\", dpi = 203 }",
    )
    .expect("parse");
    assert!(bad.validate().is_err());
    assert!(
        toml::from_str::<print::Printers>(
            "mobile = { name = \"m\", path = \"/x\", profile = \"zpl\", dpi = 300 }"
        )
        .is_err()
    );
}
