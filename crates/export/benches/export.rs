//! Export figures: FHIR document Bundle and MIND XML of the sample missions
//! (standard: one hour of vitals every 5 min; resuscitation: merged NEF log,
//! strips). Run: `cargo bench --bench export`.

use criterion::Criterion;
use rettpad_export::{ExportContext, Hospital, fhir, log_timestamp, mind};
use rettpad_sim::sample;
use std::hint::black_box;
use std::time::Duration;
use uuid::Uuid;

fn main() {
    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    for (name, s) in [
        ("standard", sample::standard()),
        ("resuscitation", sample::resuscitation()),
    ] {
        let state = s.state();
        let log = s.log();
        let ctx = ExportContext {
            document_id: Uuid::from_u128(1),
            timestamp_ms: log_timestamp(log.events()).unwrap_or(0),
            device_serial: sample::RTW_PAD.into(),
            call_sign: sample::RTW_CALL_SIGN.into(),
            target_hospital: Some(Hospital {
                id: "260914050".into(),
                name: "Klinikum".into(),
            }),
            patient: None,
        };
        let fhir_len: usize = fhir::bundles(&state, &ctx)
            .expect("fhir")
            .iter()
            .map(|(_, d)| d.len())
            .sum();
        let xml_len = mind::xml(&state, &ctx).expect("mind").len();
        println!("{name}: FHIR {fhir_len} bytes, MIND XML {xml_len} bytes");
        c.bench_function(&format!("fhir bundle: {name}"), |b| {
            b.iter(|| fhir::bundles(black_box(&state), &ctx).expect("fhir"))
        });
        c.bench_function(&format!("mind xml: {name}"), |b| {
            b.iter(|| mind::xml(black_box(&state), &ctx).expect("mind"))
        });
    }
    c.final_summary();
}
