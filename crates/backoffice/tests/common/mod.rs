//! Shared by the suites: a database of each kind, a sample packet.
#![allow(dead_code)]

use std::collections::BTreeMap;

use rettpad_backoffice::{Archive, ArchiveError, Db, Filed, Incoming};
use rettpad_crypto::SecretKey;
use rettpad_record::keys;
use rettpad_record::{Author, HandoverMode, Payload, Target, Value};
use rettpad_sim::postgres::TempCluster;
use rettpad_sim::sample;
use uuid::Uuid;

pub struct Fixture {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub fn sqlite() -> Fixture {
    let d = tempfile::tempdir().unwrap();
    Fixture {
        url: format!("sqlite:{}", d.path().join("archive.sqlite").display()),
        _dir: Some(d),
    }
}

pub fn postgres() -> Fixture {
    Fixture {
        url: TempCluster::fresh_database().expect("PostgreSQL test cluster"),
        _dir: None,
    }
}

/// Each test runs once per database.
#[macro_export]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            pub fn sqlite() {
                super::$name(&super::sqlite());
            }
            #[test]
            pub fn postgres() {
                super::$name(&super::postgres());
            }
        }
    )*};
}

pub const MASTER: [u8; 32] = [7; 32];

pub fn archive(f: &Fixture, node: &str) -> Archive {
    Archive::new(
        Db::open(&f.url).unwrap(),
        SecretKey::from_bytes(MASTER),
        node,
    )
}

/// A packet's parts: the sample mission (seed shifts it by days), handed
/// over and changed afterwards, with a PDF and a remark.
pub struct Pkt {
    pub packet_id: Uuid,
    pub mission_id: Uuid,
    pub sha: String,
    pub parts: BTreeMap<String, Vec<u8>>,
}

pub fn packet(seed: u64, family_name: &str) -> Pkt {
    packet_with(seed, family_name, &[])
}

/// [`packet`] with more patient fields set before the handover.
pub fn packet_with(seed: u64, family_name: &str, patient_fields: &[(&str, Value)]) -> Pkt {
    let s = sample::standard_at(seed);
    let mut log = s.log();
    let st = s.state();
    let p = st.patients[0].id;
    let a = Author {
        device: sample::RTW_PAD.into(),
        crew_member: st.crew[0].id,
    };
    let t = st.opened_ms.unwrap() + 3_600_000;
    let mut push = |at: i64, payload: Payload| {
        let ev = log.prepare(&a, at, 0, payload);
        log.insert(ev).unwrap();
    };
    push(
        t,
        Payload::Set {
            target: Target::Patient(p),
            field: keys::patient::FAMILY_NAME.into(),
            value: Value::text(family_name),
        },
    );
    for (field, value) in patient_fields {
        push(
            t,
            Payload::Set {
                target: Target::Patient(p),
                field: (*field).into(),
                value: value.clone(),
            },
        );
    }
    push(
        t,
        Payload::Set {
            target: Target::Mission,
            field: keys::remarks::TEXT.into(),
            value: Value::text("Angehörige informiert"),
        },
    );
    push(
        t + 1,
        Payload::HandedOver {
            mode: HandoverMode::Printed,
            to: "ZNA".into(),
            document_sha256: None,
        },
    );
    push(
        t + 2,
        Payload::Set {
            target: Target::Patient(p),
            field: keys::patient::SEX.into(),
            value: Value::code("W"),
        },
    );
    let events = serde_json::to_vec(log.events()).unwrap();
    let pdf = format!("%PDF-1.7 protocol of {family_name}").into_bytes();
    let mut parts = BTreeMap::new();
    parts.insert("events.json".to_string(), events);
    parts.insert("protocol.pdf".to_string(), pdf);
    parts.insert("mind.xml".to_string(), b"<mind/>".to_vec());
    Pkt {
        packet_id: Uuid::now_v7(),
        mission_id: s.mission().0,
        sha: format!("{:064x}", seed + 1),
        parts,
    }
}

pub fn file(a: &Archive, org: &str, p: &Pkt) -> Result<Filed, ArchiveError> {
    let pdf = hex_sha(&p.parts["protocol.pdf"]);
    a.file(&Incoming {
        org,
        packet_id: p.packet_id,
        mission_id: p.mission_id,
        device_serial: sample::RTW_PAD,
        call_sign: sample::RTW_CALL_SIGN,
        station: Some("wache-1"),
        vehicle_type: Some("RTW"),
        received_ms: 1_800_000_000_000,
        packet_sha256: &p.sha,
        pdf_sha256: Some(&pdf),
        receipt_json: "{\"receipt\":1}",
        parts: &p.parts,
    })
}

pub fn hex_sha(b: &[u8]) -> String {
    rettpad_crypto::sha256(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}
