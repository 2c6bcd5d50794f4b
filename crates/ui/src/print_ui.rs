//! "Drucken" on the handover section: the protocol is rendered, page 1 is
//! previewed, the crew picks a printer (the target hospital's IPP printers,
//! then the vehicle's mobile printer), and the job runs on a worker thread.
//! A finished print is an event (`HandedOver { Printed }` with the document
//! hash): from then on every change is audited.

use super::*;
use rettpad_report::print::{PrintJob, PrintStatus, Printer};
use rettpad_report::{self as report, Document, ReportInput};
use std::sync::mpsc::Receiver;

#[derive(Default)]
pub(super) struct PrintFeed {
    open: bool,
    printers: Vec<Printer>,
    doc: Option<Document>,
    preview: Option<slint::Image>,
    status: (String, bool),
    progress: f32,
    busy: bool,
    rx: Option<Receiver<(String, PrintStatus)>>,
}

impl Controller {
    pub(super) fn open_print(&mut self) {
        let Some(m) = self.pad.cursor.mission else {
            return;
        };
        let Some((state, log, strips)) = rettpad_pad::outbox::document_parts(self.pad.store(), m)
        else {
            return;
        };
        self.print = PrintFeed {
            open: true,
            progress: -1.0,
            ..Default::default()
        };
        match report::render(&ReportInput {
            state: &state,
            log: &log,
            strips: &strips,
        }) {
            Ok(doc) => {
                self.print.preview = report::preview_png(&doc, 1, 840)
                    .ok()
                    .and_then(|png| decode_png(&png));
                self.print.doc = Some(doc);
            }
            Err(e) => self.print.status = (e.text_de(), true),
        }
        let p = state.active_patients().next();
        let text = |k: &str| {
            p.and_then(|p| p.get(k))
                .and_then(Value::as_text)
                .unwrap_or("")
                .to_string()
        };
        self.print.printers = self
            .pad
            .config()
            .printers
            .for_hospital(&text("transport.hospital"), &text("transport.hospital_id"));
    }

    pub(super) fn print_on(&mut self, i: usize) {
        let (Some(doc), Some(printer)) =
            (self.print.doc.clone(), self.print.printers.get(i).cloned())
        else {
            return;
        };
        let (tx, rx) = std::sync::mpsc::channel();
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
        if spawned.is_ok() {
            self.print.rx = Some(rx);
            self.print.busy = true;
            self.print.progress = 0.0;
        }
    }

    pub(super) fn poll_print(&mut self) {
        let msgs = drain(&mut self.print.rx);
        if self.print.rx.is_none() {
            self.print.busy = false;
        }
        for (printer, s) in msgs {
            self.print.status = (s.text_de(), matches!(s, PrintStatus::Failed(_)));
            match &s {
                PrintStatus::Sending { sent, total } if *total > 0 => {
                    self.print.progress = *sent as f32 / *total as f32;
                }
                PrintStatus::Page { page, pages } if *pages > 0 => {
                    self.print.progress = *page as f32 / *pages as f32;
                }
                PrintStatus::Done => {
                    self.print.progress = 1.0;
                    self.print.busy = false;
                    if let Some(doc) = &self.print.doc {
                        let ev = report::print_event(&printer, doc);
                        self.apply(ev);
                    }
                }
                PrintStatus::Failed(_) => {
                    self.print.busy = false;
                    self.print.progress = -1.0;
                }
                _ => {}
            }
        }
    }

    pub(super) fn close_print(&mut self) {
        if !self.print.busy {
            self.print = PrintFeed::default();
        }
    }

    pub(super) fn refresh_print(&self, ui: &AppWindow) {
        let p = ui.global::<PrintAdapter>();
        p.set_visible(self.print.open);
        if !self.print.open {
            return;
        }
        sync_model(
            &p.get_printers(),
            self.print
                .printers
                .iter()
                .map(|pr| {
                    ss(match pr {
                        Printer::Hospital(h) => format!("{} (Klinik)", h.name),
                        Printer::Mobile(m) => format!("{} (mobil)", m.name),
                    })
                })
                .collect(),
            |m| p.set_printers(m),
        );
        if let Some(img) = &self.print.preview {
            p.set_preview(img.clone());
        }
        p.set_status(ss(&self.print.status.0));
        p.set_status_error(self.print.status.1);
        p.set_progress(self.print.progress);
        p.set_busy(self.print.busy);
    }
}

fn decode_png(png_bytes: &[u8]) -> Option<slint::Image> {
    let mut dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    let (w, h) = (info.width, info.height);
    let mut px = slint::SharedPixelBuffer::<slint::Rgba8Pixel>::new(w, h);
    let dst = px.make_mut_bytes();
    let src = &buf[..info.buffer_size()];
    match info.color_type {
        png::ColorType::Rgba => dst.copy_from_slice(src.get(..dst.len())?),
        png::ColorType::Rgb => {
            for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(3)) {
                d[..3].copy_from_slice(s);
                d[3] = 255;
            }
        }
        png::ColorType::Grayscale => {
            for (d, s) in dst.chunks_exact_mut(4).zip(src.iter()) {
                d[..3].fill(*s);
                d[3] = 255;
            }
        }
        png::ColorType::GrayscaleAlpha => {
            for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(2)) {
                d[..3].fill(s[0]);
                d[3] = s[1];
            }
        }
        _ => return None,
    }
    Some(slint::Image::from_rgba8(px))
}
