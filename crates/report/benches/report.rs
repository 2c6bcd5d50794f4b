//! The protocol PDF and the mobile printer.
//! - render: the standard sample mission to PDF/A (JSON, typst layout, PDF).
//! - first byte: from "Drucken" (document already rendered, as after the
//!   preview) to the first PCL byte written to a PTY standing in for
//!   `/dev/rfcommN` (raster of page 1 at 300 dpi, dither, PCL encode).

use criterion::{Criterion, criterion_group, criterion_main};
use rettpad_record::MissionState;
use rettpad_report::print::{self, Profile};
use rettpad_report::{self as report, ReportInput};
use serialport::SerialPort;
use std::cell::Cell;
use std::hint::black_box;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

struct FirstByte<'a, W: Write> {
    inner: W,
    first: &'a Cell<Option<Instant>>,
}

impl<W: Write> Write for FirstByte<'_, W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.first.get().is_none() {
            self.first.set(Some(Instant::now()));
        }
        self.inner.write(b)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn bench(c: &mut Criterion) {
    let s = rettpad_sim::sample::standard();
    let log = s.log();
    let state = MissionState::fold(log.mission(), log.events());
    let input = ReportInput {
        state: &state,
        log: &log,
        strips: &s.strips,
    };
    let mut g = c.benchmark_group("report");
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("render standard mission PDF", |b| {
        b.iter(|| black_box(report::render(black_box(&input)).map(|d| d.pdf.len())))
    });
    let doc = report::render(&input).expect("render");
    let (mut pad, printer) = serialport::TTYPort::pair().expect("pty");
    let path = printer.name().expect("pty name");
    drop(printer);
    let mut dev = serialport::new(&path, 115_200)
        .timeout(Duration::from_millis(200))
        .open_native()
        .expect("open pty");
    // Drain the printer side so the link never blocks.
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        loop {
            match dev.read(&mut buf) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => break,
            }
        }
    });
    g.bench_function("first PCL byte to the printer (300 dpi)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let first = Cell::new(None);
                let start = Instant::now();
                let mut w = FirstByte {
                    inner: &mut pad,
                    first: &first,
                };
                let _ = print::send_raster(&doc, Profile::Pcl5, 300, &mut w, &mut |_| {});
                total += first.get().map_or(Duration::ZERO, |t| t - start);
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
