//! The mission list and the protocol view over a large archive on
//! PostgreSQL (fsync on): 200 protocols filed for real, then N generated
//! protocol rows (default 1,000,000) across 5 organisations, 8 stations and
//! 3 years, with their crew rows. Reports p50/p99 of each list query (as
//! `Access::missions` issues it, page of 50) and of a protocol view.
//! `cargo bench -p rettpad-backoffice --bench million [-- N]`

use std::collections::BTreeMap;
use std::time::Instant;

use rettpad_backoffice::access::{Access, Caller, Role};
use rettpad_backoffice::search::Filter;
use rettpad_backoffice::{Archive, Db, Incoming};
use rettpad_crypto::SecretKey;
use rettpad_sim::postgres::TempCluster;
use rettpad_sim::sample;
use uuid::Uuid;

fn caller(role: Role) -> Caller {
    Caller {
        user: Uuid::now_v7(),
        login: "bench".into(),
        role,
        org: "org-a".into(),
        district: vec!["org-b".into(), "org-c".into()],
        stations: vec!["wache-3".into()],
        staff_id: None,
        session: "bench".into(),
    }
}

fn pct(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    (at(0.5), at(0.99))
}

fn time(label: &str, runs: usize, mut f: impl FnMut(usize) -> usize) {
    let mut ms = Vec::with_capacity(runs);
    let mut rows = 0;
    for i in 0..runs {
        let t = Instant::now();
        rows = f(i);
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (p50, p99) = pct(ms);
    println!("  {label:<52} p50 {p50:7.2} ms  p99 {p99:7.2} ms  ({rows} rows)");
}

fn main() {
    let n: i64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let cluster = TempCluster::start_with(true).unwrap();
    let url = cluster.create_database("million").unwrap();
    let a = Archive::new(
        Db::open(&url).unwrap(),
        SecretKey::from_bytes([1; 32]),
        "bench",
    );
    let mut real = Vec::new();
    for i in 0..200u64 {
        let s = sample::standard_at(i);
        let mut parts = BTreeMap::new();
        parts.insert(
            "events.json".to_string(),
            serde_json::to_vec(&s.events).unwrap(),
        );
        parts.insert("protocol.pdf".to_string(), b"%PDF-1.7 bench".to_vec());
        let id = Uuid::now_v7();
        a.file(&Incoming {
            org: "org-a",
            packet_id: id,
            mission_id: s.mission().0,
            device_serial: sample::RTW_PAD,
            call_sign: sample::RTW_CALL_SIGN,
            station: Some("wache-3"),
            vehicle_type: Some("RTW"),
            received_ms: 1_790_000_000_000 + i as i64,
            packet_sha256: "00",
            pdf_sha256: None,
            receipt_json: "{}",
            parts: &parts,
        })
        .unwrap();
        real.push(id);
    }
    // The generated rows, written as the owner (server-side, one statement).
    let mut owner = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for org in ["org-b", "org-c", "org-d", "org-e"] {
        owner
            .execute(
                "INSERT INTO org (id, name, created_ms) VALUES ($1, $1, 0) ON CONFLICT DO NOTHING",
                &[&org],
            )
            .unwrap();
    }
    let t = Instant::now();
    owner
        .batch_execute(&format!(
            "INSERT INTO protocol (org_id, id, mission_id, node, device_serial, call_sign, station_id,
                 els_number, opened_ms, closed_ms, received_ms, archived_ms, year, retain_until_ms,
                 key_year, packet_sha256, receipt, patients, changes)
             SELECT (ARRAY['org-a','org-b','org-c','org-d','org-e'])[1 + i % 5],
                    gen_random_uuid()::text, gen_random_uuid()::text, 'gen', 'PAD-' || (i % 400),
                    (ARRAY['RTW','NEF','KTW'])[1 + i % 3] || ' ' || (i % 40) || '/83-' || (i % 7),
                    'wache-' || (1 + i % 8), 'ELS-' || i,
                    t, t + 3600000, t + 3700000, t + 3700000, 2024 + (i % 3), 0, 2024,
                    'gen', '{{}}', 1, (i % 50 = 0)::int
             FROM (SELECT i, 1700000000000 + (i::bigint * 94608) AS t
                   FROM generate_series(1, {n}) AS i) g;
             INSERT INTO protocol_crew (org_id, protocol_id, staff_id)
             SELECT org_id, id, 'staff-' || (abs(hashtext(id)) % 300) FROM protocol WHERE node = 'gen';
             ANALYZE;"
        ))
        .unwrap();
    println!(
        "archive of {} protocols ({} generated in {:.0} s), PostgreSQL, fsync on:",
        n + 200,
        n,
        t.elapsed().as_secs_f64()
    );
    let acc = Access::new(&a);
    let head = caller(Role::HeadOfService);
    let lead = caller(Role::StationLead);
    let mut crew = caller(Role::Crew);
    crew.staff_id = Some("staff-17".into());
    let aelrd = caller(Role::MedicalDirector);
    let page = |c: &Caller, f: &Filter| acc.missions(c, f).unwrap().len();
    time("newest page, head of service (org)", 200, |_| {
        page(&head, &Filter::newest(50))
    });
    time("newest page, medical director (3 orgs)", 200, |_| {
        page(&aelrd, &Filter::newest(50))
    });
    time("newest page, station lead (1 station)", 200, |_| {
        page(&lead, &Filter::newest(50))
    });
    time("newest page, crew member (own missions)", 200, |_| {
        page(&crew, &Filter::newest(50))
    });
    time("text filter \"NEF 1\" (common)", 200, |_| {
        page(
            &head,
            &Filter {
                text: Some("NEF 1".into()),
                ..Filter::newest(50)
            },
        )
    });
    time("text filter, one ELS number (rare)", 50, |i| {
        page(
            &head,
            &Filter {
                text: Some(format!("ELS-{}", 5 * (1000 + i))),
                ..Filter::newest(50)
            },
        )
    });
    let mid = 1_700_000_000_000 + n / 2 * 94_608;
    time("one week, head of service", 200, |_| {
        page(
            &head,
            &Filter {
                from_ms: Some(mid),
                to_ms: Some(mid + 7 * 86_400_000),
                ..Filter::newest(50)
            },
        )
    });
    let mut f = Filter::newest(50);
    time("paging on (keyset), 200 pages deep", 200, |_| {
        let rows = acc.missions(&head, &f).unwrap();
        if let Some(l) = rows.last() {
            f.after = Some((l.received_ms, l.id.to_string()));
        }
        rows.len()
    });
    time(
        "protocol view (summary, record, changes, PDF hash)",
        200,
        |i| {
            let id = real[i % real.len()];
            let _ = acc.summary(&head, id).unwrap();
            let m = acc.medical(&head, id).unwrap();
            let c = acc.changes(&head, id).unwrap();
            let ok = acc.document_intact(&head, id, "protocol.pdf").unwrap();
            usize::from(ok) + c.len() + usize::from(m.is_object())
        },
    );
}
