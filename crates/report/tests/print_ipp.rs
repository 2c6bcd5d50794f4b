//! IPP printing end to end against a real CUPS: the test starts its own
//! `cupsd -f` (own config, spool and sockets, a private loopback port) with
//! a cups-pdf queue, prints the protocol over IPP and checks the PDF that
//! arrives. Needs root and `cargo xtask deps --test` (cups,
//! printer-driver-cups-pdf, poppler-utils); without them the tests fail
//! with the reason, they never skip.

use rettpad_record::MissionState;
use rettpad_report::print::{HospitalPrinter, PrintError, PrintJob, PrintStatus, Printer};
use rettpad_report::{self as report, Document, ReportInput};
use rettpad_text::{Lang, UserMessage};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const QUEUE: &str = "KioskPDF";
const PPD: &str = "/usr/share/ppd/cups-pdf/CUPS-PDF_noopt.ppd";
/// Where cups-pdf puts jobs of users unknown to the system.
const ANON_OUT: &str = "/var/spool/cups-pdf/ANONYMOUS";

struct Cups {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Drop for Cups {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn fail(msg: String) -> ! {
    panic!("CANNOT RUN THE CUPS END-TO-END TESTS: {msg}")
}

impl Cups {
    fn start() -> Cups {
        for f in [
            "/usr/sbin/cupsd",
            "/usr/sbin/lpadmin",
            PPD,
            "/usr/lib/cups/backend/cups-pdf",
        ] {
            if !Path::new(f).exists() {
                fail(format!("{f} missing (cargo xtask deps --test)"));
            }
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let dpath = dir.path().to_path_buf();
        let d = dpath.as_path();
        for sub in ["etc", "spool", "tmp", "cache", "state", "log"] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        // cupsd refuses a world-readable spool; filters run as lp.
        let _ = Command::new("chown")
            .arg("root:lp")
            .arg(d.join("spool"))
            .status();
        let _ = Command::new("chmod")
            .args(["710"])
            .arg(d.join("spool"))
            .status();
        let _ = Command::new("chmod").args(["755"]).arg(d).status();
        // Filters (as lp) write their temporary files here.
        let _ = Command::new("chown")
            .arg("root:lp")
            .arg(d.join("tmp"))
            .status();
        let _ = Command::new("chmod")
            .args(["1770"])
            .arg(d.join("tmp"))
            .status();
        let port = free_port();
        let p = |s: &str| d.join(s).display().to_string();
        std::fs::write(
            d.join("etc/cups-files.conf"),
            format!(
                "ServerRoot {}\nRequestRoot {}\nTempDir {}\nCacheDir {}\nStateDir {}\nErrorLog {}\nAccessLog {}\nPageLog {}\nSystemGroup root\n",
                p("etc"), p("spool"), p("tmp"), p("cache"), p("state"),
                p("log/error_log"), p("log/access_log"), p("log/page_log")
            ),
        )
        .expect("write");
        std::fs::write(
            d.join("etc/cupsd.conf"),
            format!(
                "Listen 127.0.0.1:{port}\nListen {}\nLogLevel info\nWebInterface No\nBrowsing Off\n<Location />\n  Order allow,deny\n  Allow all\n</Location>\n",
                p("cups.sock")
            ),
        )
        .expect("write");
        let child = Command::new("/usr/sbin/cupsd")
            .args(["-f", "-c"])
            .arg(d.join("etc/cupsd.conf"))
            .arg("-s")
            .arg(d.join("etc/cups-files.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| fail(format!("cannot start cupsd: {e}")));
        let cups = Cups { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() || !d.join("cups.sock").exists() {
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(d.join("log/error_log")).unwrap_or_default();
                fail(format!("cupsd did not listen on {port}: {log}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = Command::new("/usr/sbin/lpadmin")
            .arg("-h")
            .arg(d.join("cups.sock"))
            .args(["-p", QUEUE, "-E", "-v", "cups-pdf:/", "-P", PPD])
            .output()
            .unwrap_or_else(|e| fail(format!("lpadmin: {e}")));
        if !out.status.success() {
            fail(format!(
                "lpadmin failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        cups
    }

    fn uri(&self) -> String {
        format!("ipp://127.0.0.1:{}/printers/{QUEUE}", self.port)
    }

    fn admin(&self, cmd: &str) {
        let st = Command::new(cmd)
            .arg("-h")
            .arg(self.dir.path().join("cups.sock"))
            .arg(QUEUE)
            .status()
            .expect(cmd);
        assert!(st.success(), "{cmd}");
    }
}

fn doc() -> Document {
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

fn job(uri: String, title: &str) -> PrintJob {
    PrintJob {
        printer: Printer::Hospital(HospitalPrinter {
            hospital: "Klinikum Mitte, ZNA".into(),
            name: "ZNA".into(),
            uri,
        }),
        title: title.into(),
    }
}

/// Page `page` as 210×297 px, 8-bit grey (PGM body).
fn gray(pdf: &Path, page: usize) -> Vec<u8> {
    let out = Command::new("pdftoppm")
        .args(["-scale-to-x", "210", "-scale-to-y", "297", "-gray"])
        .args(["-f", &page.to_string(), "-l", &page.to_string()])
        .arg(pdf)
        .stderr(Stdio::null())
        .output()
        .unwrap_or_else(|e| fail(format!("pdftoppm: {e}")));
    // "P5\n<w> <h>\n255\n" then the pixels.
    let d = out.stdout;
    let mut nl = 0;
    let start = d
        .iter()
        .position(|b| {
            nl += usize::from(*b == b'\n');
            nl == 3
        })
        .map_or(d.len(), |i| i + 1);
    d[start..].to_vec()
}

fn pages_of(pdf: &Path) -> usize {
    let out = Command::new("pdfinfo").arg(pdf).output().expect("pdfinfo");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.strip_prefix("Pages:")
                .map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

/// The file cups-pdf wrote for the job titled `title`.
fn arrived(title: &str) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(rd) = std::fs::read_dir(ANON_OUT) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(title) && name.ends_with(".pdf") {
                    // Wait until cups-pdf has finished writing.
                    let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                    std::thread::sleep(Duration::from_millis(300));
                    if len > 0 && e.metadata().map(|m| m.len()).unwrap_or(0) == len {
                        return e.path();
                    }
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no PDF from cups-pdf for {title}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn prints_the_protocol_over_ipp() {
    let cups = Cups::start();
    let doc = doc();
    let title = format!("rettpad-e2e-{}", cups.port);
    let mut seen = Vec::new();
    let r = job(cups.uri(), &title).run(&doc, &mut |s| seen.push(s.clone()));
    assert_eq!(r, Ok(PrintStatus::Done), "statuses: {seen:?}");
    assert!(seen.iter().any(|s| matches!(s, PrintStatus::Queued { .. })));
    assert_eq!(seen.last(), Some(&PrintStatus::Done));
    let out = arrived(&title);
    // cups-pdf re-renders through Ghostscript: same pages, same text.
    assert_eq!(pages_of(&out), doc.pages);
    let sent = tempfile::NamedTempFile::new().expect("tmp");
    std::fs::write(sent.path(), &doc.pdf).expect("write");
    // Ghostscript drops the text layer, so compare the pages as images.
    for page in 1..=doc.pages {
        let (a, b) = (gray(sent.path(), page), gray(&out, page));
        assert_eq!(a.len(), b.len(), "page {page} size");
        let diff: u64 = a
            .iter()
            .zip(&b)
            .map(|(x, y)| u64::from(x.abs_diff(*y)))
            .sum();
        let mean = diff as f64 / a.len() as f64;
        assert!(mean < 8.0, "page {page} differs: mean {mean}");
    }
    // The measure tells pages apart: page 1 sent vs page 2 printed differ.
    let (a, b) = (gray(sent.path(), 1), gray(&out, 2));
    let diff: u64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    assert!(
        diff as f64 / a.len() as f64 > 8.0,
        "different pages look alike"
    );
    let _ = std::fs::remove_file(out);
}

#[test]
fn a_stopped_queue_is_reported_and_nothing_is_sent() {
    let cups = Cups::start();
    cups.admin("/usr/sbin/cupsdisable");
    let doc = doc();
    let r = job(cups.uri(), &format!("rettpad-stopped-{}", cups.port)).run(&doc, &mut |_| {});
    let e = r.expect_err("stopped queue must fail");
    assert!(matches!(e, PrintError::Stopped { .. }), "{e:?}");
    assert!(e.message(Lang::De).contains("angehalten"));
    // A queue that rejects jobs is refused the same way.
    cups.admin("/usr/sbin/cupsenable");
    cups.admin("/usr/sbin/cupsreject");
    let e = job(cups.uri(), "x")
        .run(&doc, &mut |_| {})
        .expect_err("rejecting");
    assert!(matches!(e, PrintError::Stopped { .. }), "{e:?}");
}

#[test]
fn an_unreachable_printer_is_reported() {
    let port = free_port();
    let doc = doc();
    let mut seen = Vec::new();
    let e = job(format!("ipp://127.0.0.1:{port}/printers/none"), "x")
        .run(&doc, &mut |s| seen.push(s.clone()))
        .expect_err("nobody listens");
    assert!(matches!(e, PrintError::Unreachable(_)), "{e:?}");
    assert!(e.message(Lang::De).contains("nicht erreichbar"));
    assert_eq!(seen.last(), Some(&PrintStatus::Failed(e)));
    let bad = job("lpr://x".into(), "x").run(&doc, &mut |_| {});
    assert!(bad.is_err());
}
