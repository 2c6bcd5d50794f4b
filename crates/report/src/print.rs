//! Print jobs for the UI: which printers there are (configuration), what a
//! job is doing ([`PrintStatus`]) and why it failed ([`PrintError`]), each
//! with a German text. Mobile printers get PCL5 or ESC/P raster over any
//! byte link (`/dev/rfcommN`, a PTY in tests); hospital printers get the PDF
//! over IPP.

use super::raster::{self, Bitmap};
use super::{Document, ReportError, escp, ipp, pcl};
use rettpad_text::{Lang, UserMessage};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::time::Duration;

/// Raster language of a mobile printer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// HP PCL5 raster graphics.
    Pcl5,
    /// Epson ESC/P2 raster graphics.
    Escp,
}

/// The vehicle's mobile printer, reached over a byte link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MobilePrinter {
    pub name: String,
    /// The SPP tty, e.g. `/dev/rfcomm0`.
    pub path: String,
    pub profile: Profile,
    pub dpi: u32,
    #[serde(default = "default_baud")]
    pub baud: u32,
}

fn default_baud() -> u32 {
    115_200
}

/// A printer at a hospital, by the hospital's name or id as the protocol
/// records it (`transport.hospital` or `transport.hospital_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HospitalPrinter {
    pub hospital: String,
    pub name: String,
    /// `ipp://host:631/printers/queue`
    pub uri: String,
}

/// The `[printers]` section of the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Printers {
    #[serde(default)]
    pub mobile: Option<MobilePrinter>,
    #[serde(default)]
    pub hospital: Vec<HospitalPrinter>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Printer {
    Hospital(HospitalPrinter),
    Mobile(MobilePrinter),
}

impl Printer {
    pub fn name(&self) -> &str {
        match self {
            Printer::Hospital(h) => &h.name,
            Printer::Mobile(m) => &m.name,
        }
    }
}

impl Printers {
    /// The choice for the handover page: the target hospital's printers
    /// first, then the mobile printer.
    pub fn for_hospital(&self, hospital: &str, hospital_id: &str) -> Vec<Printer> {
        let mut v: Vec<Printer> = self
            .hospital
            .iter()
            .filter(|h| {
                (!hospital.is_empty() && h.hospital == hospital)
                    || (!hospital_id.is_empty() && h.hospital == hospital_id)
            })
            .cloned()
            .map(Printer::Hospital)
            .collect();
        v.extend(self.mobile.clone().map(Printer::Mobile));
        v
    }

    /// Problems a configuration check should report.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(m) = &self.mobile {
            let ok = match m.profile {
                Profile::Pcl5 => pcl::DPIS.contains(&m.dpi),
                Profile::Escp => escp::DPIS.contains(&m.dpi),
            };
            if !ok {
                return Err(format!(
                    "mobile printer: {} dpi not supported by {:?}",
                    m.dpi, m.profile
                ));
            }
        }
        for h in &self.hospital {
            if !(h.uri.starts_with("ipp://") || h.uri.starts_with("http://")) {
                return Err(format!(
                    "printer {}: URI must start with ipp:// or http://",
                    h.name
                ));
            }
        }
        Ok(())
    }
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrintStatus {
    Rendering,
    Connecting,
    /// Bytes written to the link (mobile) or being uploaded (IPP).
    Sending {
        sent: usize,
        total: usize,
    },
    /// Raster pages: `page` of `pages` done.
    Page {
        page: usize,
        pages: usize,
    },
    Queued {
        job_id: i32,
    },
    Printing {
        job_id: i32,
    },
    Done,
    Failed(PrintError),
}

/// Why a print failed. English in `Display` (logs), German through `UserMessage`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrintError {
    #[error("printer unreachable: {0}")]
    Unreachable(String),
    #[error("printer offline")]
    Offline,
    #[error("printer stopped ({reasons:?})")]
    Stopped { reasons: Vec<String> },
    #[error("printer out of paper")]
    OutOfPaper,
    #[error("job aborted ({reasons:?})")]
    Aborted { reasons: Vec<String> },
    #[error("job canceled")]
    Canceled,
    #[error("printer refused the job: {0}")]
    Rejected(String),
    #[error("printer misconfigured: {0}")]
    BadPrinter(String),
    #[error("link to the mobile printer failed: {0}")]
    Link(String),
    #[error(transparent)]
    Render(#[from] ReportError),
}

impl UserMessage for PrintStatus {
    fn message(&self, lang: Lang) -> String {
        let (de, en) = match self {
            PrintStatus::Sending { sent, total } if *total > 0 => {
                let pct = sent * 100 / total;
                return match lang {
                    Lang::De => format!("Wird gesendet … {pct} %"),
                    Lang::En => format!("Sending … {pct} %"),
                };
            }
            PrintStatus::Page { page, pages } => {
                return match lang {
                    Lang::De => format!("Seite {page} von {pages} gesendet"),
                    Lang::En => format!("Page {page} of {pages} sent"),
                };
            }
            PrintStatus::Failed(e) => return e.message(lang),
            PrintStatus::Rendering => ("Protokoll wird erstellt …", "Making the protocol …"),
            PrintStatus::Connecting => ("Verbindung zum Drucker …", "Connecting to the printer …"),
            PrintStatus::Sending { .. } => ("Wird gesendet …", "Sending …"),
            PrintStatus::Queued { .. } => (
                "Auftrag angenommen, wartet auf den Drucker.",
                "Job accepted, waiting for the printer.",
            ),
            PrintStatus::Printing { .. } => ("Wird gedruckt …", "Printing …"),
            PrintStatus::Done => ("Gedruckt.", "Printed."),
        };
        lang.pick(de, en).into()
    }
}

impl UserMessage for PrintError {
    fn message(&self, lang: Lang) -> String {
        let (de, en) = match self {
            PrintError::Render(e) => return e.message(lang),
            PrintError::Unreachable(_) => (
                "Drucker nicht erreichbar. Netzwerk prüfen oder anderen Drucker wählen.",
                "Printer unreachable. Check the network or choose another printer.",
            ),
            PrintError::Offline => (
                "Drucker ist offline. Drucker einschalten oder anderen Drucker wählen.",
                "The printer is offline. Switch it on or choose another printer.",
            ),
            PrintError::Stopped { .. } => (
                "Drucker ist angehalten und nimmt keine Aufträge an. Bitte das Klinikpersonal informieren oder anderen Drucker wählen.",
                "The printer is stopped and takes no jobs. Please tell the hospital staff or choose another printer.",
            ),
            PrintError::OutOfPaper => (
                "Drucker hat kein Papier. Papier nachlegen und erneut drucken.",
                "The printer is out of paper. Add paper and print again.",
            ),
            PrintError::Aborted { .. } => (
                "Druckauftrag wurde vom Drucker abgebrochen. Erneut drucken oder anderen Drucker wählen.",
                "The printer aborted the job. Print again or choose another printer.",
            ),
            PrintError::Canceled => (
                "Druckauftrag wurde abgebrochen.",
                "The print job was cancelled.",
            ),
            PrintError::Rejected(_) => (
                "Drucker hat den Auftrag abgelehnt. Anderen Drucker wählen.",
                "The printer refused the job. Choose another printer.",
            ),
            PrintError::BadPrinter(_) => (
                "Drucker ist falsch eingerichtet. Bitte den Administrator verständigen.",
                "The printer is set up wrongly. Please call the administrator.",
            ),
            PrintError::Link(_) => (
                "Verbindung zum mobilen Drucker unterbrochen. Drucker einschalten, koppeln und erneut drucken.",
                "Connection to the mobile printer lost. Switch it on, pair it and print again.",
            ),
        };
        lang.pick(de, en).into()
    }
}

/// Encodes one page in the profile's language.
pub fn encode_page(profile: Profile, bm: &Bitmap) -> Vec<u8> {
    match profile {
        Profile::Pcl5 => pcl::page(bm),
        Profile::Escp => escp::page(bm),
    }
}

const CHUNK: usize = 4096;

fn write_all(
    w: &mut dyn Write,
    bytes: &[u8],
    sent: &mut usize,
    on_status: &mut dyn FnMut(&PrintStatus),
) -> Result<(), PrintError> {
    for c in bytes.chunks(CHUNK) {
        w.write_all(c)
            .map_err(|e| PrintError::Link(e.to_string()))?;
        *sent += c.len();
        on_status(&PrintStatus::Sending {
            sent: *sent,
            total: 0,
        });
    }
    Ok(())
}

/// Rasterises and sends the document page by page over any byte link;
/// the first bytes leave after page 1 is rasterised, not after all pages.
/// Returns the number of bytes written.
pub fn send_raster(
    doc: &Document,
    profile: Profile,
    dpi: u32,
    w: &mut dyn Write,
    on_status: &mut dyn FnMut(&PrintStatus),
) -> Result<usize, PrintError> {
    let mut sent = 0;
    let pages = doc.pages;
    for page in 1..=pages {
        let bm = raster::page_bitmap(doc.layout(), page, dpi)?;
        let mut bytes = Vec::new();
        if page == 1 {
            bytes.extend(match profile {
                Profile::Pcl5 => pcl::job_start(bm.dpi),
                Profile::Escp => escp::job_start(bm.dpi, bm.height),
            });
        }
        bytes.extend(encode_page(profile, &bm));
        if page == pages {
            bytes.extend(match profile {
                Profile::Pcl5 => pcl::job_end(),
                Profile::Escp => escp::job_end(),
            });
        }
        write_all(w, &bytes, &mut sent, on_status)?;
        on_status(&PrintStatus::Page { page, pages });
    }
    w.flush().map_err(|e| PrintError::Link(e.to_string()))?;
    Ok(sent)
}

/// A print job for the UI worker: the document and where it goes.
#[derive(Debug, Clone)]
pub struct PrintJob {
    pub printer: Printer,
    pub title: String,
}

impl PrintJob {
    /// Runs the job to its end (blocking; call it off the UI thread).
    pub fn run(
        &self,
        doc: &Document,
        on_status: &mut dyn FnMut(&PrintStatus),
    ) -> Result<PrintStatus, PrintError> {
        let r = match &self.printer {
            Printer::Hospital(h) => ipp::print_pdf(
                &h.uri,
                &doc.pdf,
                &self.title,
                ipp::IppOptions::default(),
                on_status,
            ),
            Printer::Mobile(m) => {
                on_status(&PrintStatus::Connecting);
                let mut port = serialport::new(&m.path, m.baud)
                    .timeout(Duration::from_secs(10))
                    .open()
                    .map_err(|e| PrintError::Link(e.to_string()))?;
                send_raster(doc, m.profile, m.dpi, &mut port, on_status).map(|_| PrintStatus::Done)
            }
        };
        match &r {
            Ok(s) => on_status(s),
            Err(e) => on_status(&PrintStatus::Failed(e.clone())),
        }
        r
    }
}
