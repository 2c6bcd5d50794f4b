//! Card figures (issue 4): a full eGK read (connect, transaction, 2 SELECT +
//! 5 READ BINARY, gunzip, XML, disconnect) through pcscd + vpcd on
//! loopback, target < 5 ms; and the same read against the in-process
//! simulated card (the sans-IO cost alone). Run as root, with no other
//! pcscd running: `cargo bench --bench card`.

use criterion::Criterion;
use rettpad_card::sim::{Faults, SimCard};
use rettpad_card::{pcsc_io, read_card};
use rettpad_sim::vpcd::{self, Pcscd, PcscdLock, VPCD_PORT, VPCD_READER};
use std::ffi::CString;
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn in_process(c: &mut Criterion) {
    // The card is built once (gzip of the fixtures); each read starts from
    // a reset card, as after insertion.
    let mut card = SimCard::sample_egk(Faults::default());
    let atr = card.atr();
    c.bench_function("card/egk_read_in_process", |b| {
        b.iter(|| {
            card.reset();
            read_card(&mut card, atr).expect("read")
        })
    });
}

fn through_pcscd(c: &mut Criterion) {
    let _lock = PcscdLock::acquire().expect("lock");
    let mut daemon = Pcscd::start()
        .unwrap_or_else(|e| panic!("card/egk_read_pcscd_vpcd cannot be measured: {e}"));
    let stream = vpcd::connect(VPCD_PORT, Duration::from_secs(10)).expect("vpcd");
    let emu = std::thread::spawn(move || {
        let mut card = SimCard::sample_egk(Faults::default());
        vpcd::serve(stream, &mut card, None)
    });
    let ctx = pcsc_io::establish().expect("context");
    let reader = CString::new(VPCD_READER).expect("name");
    let deadline = Instant::now() + Duration::from_secs(10);
    let data = loop {
        match pcsc_io::read_reader(&ctx, &reader) {
            Ok(d) => break d,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("card never readable: {e}"),
        }
    };
    assert_eq!(data.person.given_name, "Jürgen Karl");

    // Percentiles over 500 reads, for the README.
    let mut t: Vec<Duration> = (0..500)
        .map(|_| {
            let s = Instant::now();
            pcsc_io::read_reader(&ctx, &reader).expect("read");
            s.elapsed()
        })
        .collect();
    t.sort();
    println!(
        "card/egk_read_pcscd_vpcd: 500 reads p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&t, 0.5).as_secs_f64() * 1e3,
        percentile(&t, 0.99).as_secs_f64() * 1e3,
        t[t.len() - 1].as_secs_f64() * 1e3
    );

    c.bench_function("card/egk_read_pcscd_vpcd", |b| {
        b.iter(|| pcsc_io::read_reader(&ctx, &reader).expect("read"))
    });
    drop(ctx);
    daemon.stop();
    let _ = emu.join();
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    in_process(&mut c);
    through_pcscd(&mut c);
    c.final_summary();
}
