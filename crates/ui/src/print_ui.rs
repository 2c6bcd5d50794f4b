//! "Drucken" on the handover section: the protocol is rendered, page 1 is
//! previewed, the crew picks a printer (the target hospital's IPP printers,
//! then the vehicle's mobile printer), and the job runs on a worker thread.
//! A finished print is an event (`HandedOver { Printed }` with the document
//! hash): from then on every change is audited.

use super::*;
use rettpad_pad::print::{PrintUpdate, Printing};
use rettpad_report::print::Printer;

#[derive(Default)]
pub(super) struct PrintFeed {
    open: bool,
    /// The dialog's document, printers and job (the pad core's workers).
    job: Option<Printing>,
    preview: Option<slint::Image>,
    status: (String, bool),
    progress: f32,
}

impl Controller {
    pub(super) fn open_print(&mut self) {
        let Some(m) = self.pad.cursor.mission else {
            return;
        };
        let job = Printing::open(self.pad.store(), m, &self.pad.config().printers);
        self.print = PrintFeed {
            open: true,
            progress: -1.0,
            status: match job {
                Some(_) => (msg::RENDERING_THE_PROTOCOL.message(self.lang), false),
                None => (msg::MISSION_NOT_FOUND.message(self.lang), true),
            },
            job,
            preview: None,
        };
    }

    pub(super) fn print_on(&mut self, i: usize) {
        if let Some(job) = &mut self.print.job
            && job.print_on(i)
        {
            self.print.progress = 0.0;
        }
    }

    pub(super) fn poll_print(&mut self) {
        let updates = match &mut self.print.job {
            Some(j) => j.poll(),
            None => return,
        };
        for u in updates {
            match u {
                PrintUpdate::Ready(preview) => {
                    self.print.status = (String::new(), false);
                    self.print.preview = preview.map(|p| {
                        let px = slint::SharedPixelBuffer::<slint::Rgba8Pixel>::clone_from_slice(
                            &p.rgba, p.width, p.height,
                        );
                        slint::Image::from_rgba8(px)
                    });
                }
                PrintUpdate::RenderFailed(n) => self.print.status = (n.message(self.lang), true),
                PrintUpdate::Status {
                    text,
                    error,
                    progress,
                } => {
                    self.print.status = (text.message(self.lang), error);
                    self.print.progress = progress;
                }
                PrintUpdate::Printed(ev) => {
                    self.apply(ev);
                }
            }
        }
    }

    pub(super) fn close_print(&mut self) {
        if !self.print.job.as_ref().is_some_and(Printing::busy) {
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
                .job
                .as_ref()
                .map_or(&[][..], Printing::printers)
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
        p.set_busy(self.print.job.as_ref().is_some_and(Printing::busy));
    }
}
