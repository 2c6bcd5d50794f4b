use rettpad_devices::driver::{Action, Driver};
use rettpad_devices::intellivue::frame::Deframer;
use rettpad_devices::intellivue::host::{Host, HostConfig};
use rettpad_devices::intellivue::monitor::{Monitor, MonitorConfig};
use rettpad_devices::obs::HostTime;
use rettpad_devices::sim::{Scenario, ScenarioPhysiology};
use std::path::Path;

fn packets(root: &Path) {
    use rettpad_transfer::packet::{seal, verify};
    use rettpad_transfer::{HpkeSecretKey, PreNotice, SealInput};
    let dir = root.join("packet");
    std::fs::create_dir_all(&dir).unwrap();
    let pdf = b"%PDF-1.7 synthetic seed".to_vec();
    let input = |hosp: Option<&str>| SealInput {
        mission_id: uuid_like(),
        device_serial: "SN-FUZZ".into(),
        call_sign: "RTW 9/99-1".into(),
        created_ms: 1_700_000_000_000,
        target_hospital: hosp.map(str::to_string),
        events_json: b"[]".to_vec(),
        mind_xml: b"<mind/>".to_vec(),
        fhir_json: b"{}".to_vec(),
        pdf_sha256: rettpad_crypto::sha256(&pdf),
        pdf: pdf.clone(),
        handover_summary: "synthetisch".into(),
        prenotice: Some(PreNotice {
            age_years: Some(50),
            sex: "d".into(),
            suspected_diagnosis: "Test".into(),
            priority: "normal".into(),
            eta_ms: None,
        }),
    };
    let gw = HpkeSecretKey::generate().unwrap().0;
    let h1 = HpkeSecretKey::generate().unwrap().0;
    let h2 = HpkeSecretKey::generate().unwrap().0;
    let two = seal(
        &input(Some("klinikum-a")),
        &gw.public(),
        &[
            ("klinikum-a".into(), h1.public()),
            ("klinikum-b".into(), h2.public()),
        ],
    )
    .unwrap();
    let none = seal(&input(None), &gw.public(), &[]).unwrap();
    std::fs::write(dir.join("sealed_two_hospitals"), &two.bytes).unwrap();
    std::fs::write(dir.join("sealed_no_hospital"), &none.bytes).unwrap();
    let v = verify(&two.bytes).unwrap();
    for (i, (_, e)) in v.envelopes.iter().enumerate() {
        std::fs::write(dir.join(format!("envelope_{i}")), e).unwrap();
    }
}

/// Rows as the vault stores them: single events of every kind of payload,
/// several rows joined by 0xFF, and a snapshot (the events as one array).
fn vault_rows(root: &Path) {
    use rettpad_record::log::MissionLog;
    use rettpad_record::{
        Author, Collection, EntryId, MissionId, PatientId, Payload, Target, Value, keys,
    };
    let dir = root.join("vault_row");
    std::fs::create_dir_all(&dir).unwrap();
    let mut log = MissionLog::new(MissionId::new());
    let author = Author {
        device: "SN-FUZZ".into(),
        crew_member: uuid_like(),
    };
    let p = PatientId::new();
    let e = EntryId::new();
    let payloads = vec![
        Payload::MissionOpened {
            call_sign: "RTW 9/99-1".into(),
        },
        Payload::PatientAdded { patient: p },
        Payload::Set {
            target: Target::Patient(p),
            field: keys::patient::FAMILY_NAME.into(),
            value: Value::Text("Synthetisch".into()),
        },
        Payload::EntryAdded {
            patient: p,
            collection: Collection::Vitals,
            entry: e,
            fields: [(keys::vitals::HR.to_string(), Value::Text("88".into()))].into(),
        },
        Payload::Clear {
            target: Target::Entry(e),
            field: keys::vitals::HR.into(),
        },
        Payload::EntryRetracted {
            entry: e,
            reason: "Irrtum".into(),
        },
    ];
    let mut rows = Vec::new();
    for (i, pl) in payloads.into_iter().enumerate() {
        let ev = log.prepare(&author, 1_800_000_000_000 + i as i64, i as u64, pl);
        log.insert(ev.clone()).unwrap();
        let bytes = ev.encode();
        std::fs::write(dir.join(format!("row_{i}")), &bytes).unwrap();
        rows.push(bytes);
    }
    std::fs::write(dir.join("rows_joined"), rows.join(&0xFFu8)).unwrap();
    std::fs::write(
        dir.join("snapshot"),
        serde_json::to_vec(log.events()).unwrap(),
    )
    .unwrap();
}

fn uuid_like() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

fn main() {
    let root = Path::new(std::env::args().nth(1).unwrap().as_str()).to_path_buf();
    packets(&root);
    vault_rows(&root);
    let iv = root.join("intellivue");
    let ih = root.join("intellivue_host");
    std::fs::create_dir_all(&iv).unwrap();
    std::fs::create_dir_all(&ih).unwrap();
    for (name, scen, ms_total, step) in [
        ("stable", Scenario::Stable, 3000u64, 16u64),
        ("vf", Scenario::VfArrest, 6000, 40),
    ] {
        let mut m = Monitor::new(
            MonitorConfig::default(),
            Box::new(ScenarioPhysiology::new(scen, 7)),
        );
        let mut h = Host::new(HostConfig::default());
        let t = |ms: u64| HostTime {
            wall_ms: 1_800_000_000_000 + ms as i64,
            mono_ms: ms,
        };
        let mut host_out = Vec::new();
        let mut frames = Vec::new();
        let mut stream = Vec::new();
        let mut script = Vec::new();
        let mut last = 0u64;
        let mut nframe = 0;
        h.start(t(0), &mut host_out);
        let mut ms = 0;
        while ms < ms_total {
            for a in host_out.drain(..) {
                if let Action::Send(b) = a {
                    m.on_bytes(&b, t(ms), &mut frames);
                }
            }
            m.on_tick(t(ms), &mut frames);
            for f in frames.drain(..) {
                // tick op to reach `ms`
                let mut dt = (ms - last) / 20;
                while dt > 0 {
                    let s = dt.min(255);
                    script.push(0);
                    script.push(s as u8);
                    dt -= s;
                }
                last = ms;
                let mut d = Deframer::new();
                d.push(&f, |p| {
                    script.push(2);
                    script.extend_from_slice(&(p.len() as u16).to_le_bytes());
                    script.extend_from_slice(p);
                });
                if nframe < 16 && name == "stable" {
                    std::fs::write(iv.join(format!("frame_{nframe:02}")), &f).unwrap();
                    let mut d = Deframer::new();
                    d.push(&f, |p| {
                        std::fs::write(iv.join(format!("payload_{nframe:02}")), p).unwrap()
                    });
                }
                nframe += 1;
                h.on_bytes(&f, t(ms), &mut host_out);
                stream.extend_from_slice(&f);
            }
            h.on_tick(t(ms), &mut host_out);
            ms += step;
        }
        std::fs::write(
            iv.join(format!("stream_{name}")),
            &stream[..stream.len().min(8192)],
        )
        .unwrap();
        // Short script (handshake + first data) and a link drop variant.
        let short = &script[..script.len().min(6000)];
        std::fs::write(ih.join(format!("session_{name}")), short).unwrap();
        let mut drop = short.to_vec();
        drop.push(3);
        drop.extend_from_slice(&short[..short.len().min(2000)]);
        std::fs::write(ih.join(format!("session_{name}_reconnect")), drop).unwrap();
        eprintln!(
            "{name}: {} frames, stream {} B, script {} B",
            nframe,
            stream.len(),
            script.len()
        );
    }
}
