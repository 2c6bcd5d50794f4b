//! "Drucken": the protocol is rendered and page 1 previewed on a worker,
//! the crew picks a printer (the target hospital's IPP printers, then the
//! vehicle's mobile printer), and the job runs on a worker. A finished print
//! is an event (`HandedOver { Printed }` with the document hash): from then
//! on every change is audited. Nothing here blocks the caller's thread.

use crate::outbox::document_parts;
use rettpad_record::keys;
use rettpad_record::text::Notice;
use rettpad_record::{MissionId, Payload, Value};
use rettpad_report::print::{PrintJob, PrintStatus, Printer, Printers};
use rettpad_report::{self as report, Document, ReportInput};
use rettpad_vault::store::SharedStore;
use std::sync::mpsc::{Receiver, TryRecvError, channel};

/// Page 1 of the protocol as RGBA pixels, for the preview.
#[derive(Clone, PartialEq, Eq)]
pub struct Preview {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl std::fmt::Debug for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Preview({}x{})", self.width, self.height)
    }
}

/// What changed since the last poll.
#[derive(Debug, Clone, PartialEq)]
pub enum PrintUpdate {
    /// The document is rendered; the preview if it could be made.
    Ready(Option<Preview>),
    /// The render failed: nothing can be printed.
    RenderFailed(Notice),
    /// A printer reported progress or a state (its text, error flag).
    Status {
        text: Notice,
        error: bool,
        /// 0..1, or negative when unknown.
        progress: f32,
    },
    /// Printed: this event goes into the mission (apply it).
    Printed(Payload),
}

type Rendered = Result<(Document, Option<Preview>), Notice>;

/// One print dialog: its document, printers and running job.
#[derive(Default)]
pub struct Printing {
    printers: Vec<Printer>,
    doc: Option<Document>,
    render: Option<Receiver<Rendered>>,
    job: Option<Receiver<(String, PrintStatus)>>,
}

impl Printing {
    /// Opens the dialog for mission `m`: its printers now, the document on
    /// a worker (reported by [`Printing::poll`]).
    pub fn open(store: &SharedStore, m: MissionId, printers: &Printers) -> Option<Printing> {
        let (state, log, strips) = document_parts(store, m)?;
        let p = state.active_patients().next();
        let text = |k: &str| {
            p.and_then(|p| p.get(k))
                .and_then(Value::as_text)
                .unwrap_or("")
                .to_string()
        };
        let printers = printers.for_hospital(
            &text(keys::transport::HOSPITAL),
            &text(keys::transport::HOSPITAL_ID),
        );
        let (tx, rx) = channel();
        let spawned = std::thread::Builder::new()
            .name("render".into())
            .spawn(move || {
                let r = report::render(&ReportInput {
                    state: &state,
                    log: &log,
                    strips: &strips,
                })
                .map(|doc| {
                    let preview = report::preview_png(&doc, 1, 840)
                        .ok()
                        .and_then(|png| decode_png(&png));
                    (doc, preview)
                })
                .map_err(|e| crate::logged(&e, "protocol not rendered for printing"));
                let _ = tx.send(r);
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "render worker not started");
            return None;
        }
        Some(Printing {
            printers,
            doc: None,
            render: Some(rx),
            job: None,
        })
    }

    pub fn printers(&self) -> &[Printer] {
        &self.printers
    }

    /// The document is rendered and no job runs.
    pub fn can_print(&self) -> bool {
        self.doc.is_some() && self.job.is_none()
    }

    pub fn busy(&self) -> bool {
        self.job.is_some() || self.render.is_some()
    }

    /// Sends the document to printer `i` on a worker.
    pub fn print_on(&mut self, i: usize) -> bool {
        let (Some(doc), Some(printer)) = (self.doc.clone(), self.printers.get(i).cloned()) else {
            return false;
        };
        if self.job.is_some() {
            return false;
        }
        let (tx, rx) = channel();
        let name = printer.name().to_string();
        let title = format!("Einsatzprotokoll {}", &doc.sha256.to_hex()[..16]);
        let spawned = std::thread::Builder::new()
            .name("print".into())
            .spawn(move || {
                let job = PrintJob { printer, title };
                let mut report = |s: &PrintStatus| {
                    let _ = tx.send((name.clone(), s.clone()));
                };
                if let Err(e) = job.run(&doc, &mut report) {
                    let _ = tx.send((name, PrintStatus::Failed(e)));
                }
            });
        match spawned {
            Ok(_) => {
                self.job = Some(rx);
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "print worker not started");
                false
            }
        }
    }

    /// What the workers reported since the last call.
    pub fn poll(&mut self) -> Vec<PrintUpdate> {
        let mut out = Vec::new();
        if let Some(rx) = &self.render {
            match rx.try_recv() {
                Ok(Ok((doc, preview))) => {
                    self.doc = Some(doc);
                    self.render = None;
                    out.push(PrintUpdate::Ready(preview));
                }
                Ok(Err(n)) => {
                    self.render = None;
                    out.push(PrintUpdate::RenderFailed(n));
                }
                Err(TryRecvError::Empty) => {}
                Err(TryRecvError::Disconnected) => {
                    self.render = None;
                    out.push(PrintUpdate::RenderFailed(Notice::new(
                        "Protokoll konnte nicht erstellt werden.",
                        "The protocol could not be rendered.",
                    )));
                }
            }
        }
        while let Some(rx) = &self.job {
            let (printer, s) = match rx.try_recv() {
                Ok(m) => m,
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    self.job = None;
                    break;
                }
            };
            let progress = match &s {
                PrintStatus::Sending { sent, total } if *total > 0 => *sent as f32 / *total as f32,
                PrintStatus::Page { page, pages } if *pages > 0 => *page as f32 / *pages as f32,
                PrintStatus::Done => 1.0,
                _ => -1.0,
            };
            let error = matches!(s, PrintStatus::Failed(_));
            out.push(PrintUpdate::Status {
                text: Notice::of(&s),
                error,
                progress,
            });
            match s {
                PrintStatus::Done => {
                    self.job = None;
                    if let Some(doc) = &self.doc {
                        out.push(PrintUpdate::Printed(report::print_event(&printer, doc)));
                    }
                }
                PrintStatus::Failed(_) => self.job = None,
                _ => {}
            }
        }
        out
    }
}

/// A PNG as RGBA pixels (the preview's gray or colour page).
fn decode_png(png_bytes: &[u8]) -> Option<Preview> {
    let mut dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    let (w, h) = (info.width, info.height);
    let src = buf.get(..info.buffer_size())?;
    let px = usize::try_from(u64::from(w) * u64::from(h)).ok()?;
    let rgba: Vec<u8> = match info.color_type {
        png::ColorType::Rgba => src.get(..px * 4)?.to_vec(),
        png::ColorType::Rgb => src
            .chunks_exact(3)
            .flat_map(|s| [s[0], s[1], s[2], 255])
            .collect(),
        png::ColorType::Grayscale => src.iter().flat_map(|&g| [g, g, g, 255]).collect(),
        png::ColorType::GrayscaleAlpha => src
            .chunks_exact(2)
            .flat_map(|s| [s[0], s[0], s[0], s[1]])
            .collect(),
        _ => return None,
    };
    (rgba.len() == px * 4).then_some(Preview {
        width: w,
        height: h,
        rgba,
    })
}
