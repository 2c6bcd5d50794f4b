//! The statistics extracts (issue 17, item 1), on both databases: the
//! pseudonymised level for the head of service, the anonymised counts for
//! the medical director, nothing for anyone else.

use std::collections::BTreeSet;

use rettpad_backoffice::access::{Access, AccessError, Caller, Role, verify_audit_chain};
use rettpad_backoffice::qm::{
    self, AnonFilter, Dim, FIELDS, Keep, MIN_K, Period, PseudoFilter, Qm, QmError, Recipient,
};
use rettpad_backoffice::{Archive, Scope};
use rettpad_crypto::SecretKey;
use rettpad_record::{Value, keys};
use uuid::Uuid;

mod common;
use common::*;

both!(
    the_extracts_carry_no_identity,
    pseudonyms_are_stable_per_recipient_and_differ_between_recipients,
    anonymised_counts_suppress_small_cells_and_refuse_a_small_k,
    roles_without_an_extract_are_forbidden,
    the_head_of_service_sees_only_the_own_organisation,
    every_build_and_read_is_audited,
    the_years_shred_takes_the_pseudonymised_rows,
);

const T: i64 = 1_900_000_000_000;

fn caller(role: Role, org: &str) -> Caller {
    Caller {
        user: Uuid::now_v7(),
        login: format!("{}-{org}-{}", role.name(), Uuid::now_v7().simple()),
        role,
        org: org.into(),
        district: Vec::new(),
        stations: Vec::new(),
        staff_id: None,
        session: Uuid::now_v7().to_string(),
    }
}

fn aelrd(org: &str, district: &[&str]) -> Caller {
    let mut c = caller(Role::MedicalDirector, org);
    c.district = district.iter().map(|d| d.to_string()).collect();
    c
}

fn key(b: u8) -> SecretKey {
    SecretKey::from_bytes([b; 32])
}

/// Files `n` sample protocols into `org` (seeds from `seed`), all of the
/// patient `family` with the insurance number `KV-<family>`; returns their
/// ids.
fn fill(a: &Archive, org: &str, seed: u64, n: u64, family: &str) -> Vec<Uuid> {
    let kvnr = Value::text(&format!("KV-{family}"));
    (seed..seed + n)
        .map(|s| {
            let p = packet_with(s, family, &[(keys::insurance::NUMBER, kvnr.clone())]);
            file(a, org, &p).unwrap();
            p.packet_id
        })
        .collect()
}

/// Every value of every row of a view, as text.
fn all_values(a: &Archive, scope: &Scope, view: &str) -> Vec<String> {
    let rows = a
        .db()
        .read(scope, |tx| tx.query(&format!("SELECT * FROM {view}"), &[]))
        .unwrap();
    let mut out = Vec::new();
    for r in &rows {
        for i in 0.. {
            if let Ok(t) = r.opt_text(i) {
                out.extend(t);
            } else if let Ok(n) = r.opt_int(i) {
                out.extend(n.map(|n| n.to_string()));
            } else if r.opt_bytes(i).is_ok() {
                panic!("bytes in {view}");
            } else {
                break;
            }
        }
    }
    assert!(!out.is_empty(), "{view} is empty");
    out
}

fn the_extracts_carry_no_identity(f: &Fixture) {
    let a = archive(f, "node-a");
    fill(&a, "org-a", 1, 2, "Kanarienvogel");
    let qm = Qm::new(&a);
    let hos = caller(Role::HeadOfService, "org-a");
    let k1 = key(1);
    let r1 = Recipient {
        id: "uni-1",
        key: &k1,
    };
    let b = qm.build(&hos, Period::all(), Some(&r1), T).unwrap();
    assert_eq!(b.protocols, 2);
    assert!(b.rows > 4, "{b:?}");
    qm.build(&aelrd("org-a", &[]), Period::all(), None, T)
        .unwrap();

    // The sample patient's identity and the crew's free text.
    let secrets = [
        "Kanarienvogel",
        "kanarienvogel",
        "Jürgen",
        "jürgen",
        "1958-07-03",
        "1958",
        "Lindenallee",
        "Musterstadt",
        "12345",
        "A123456780",
        "KV-Kanarienvogel",
        "kv-kanarienvogel",
        "kvkanarienvogel",
        "109519005",
        "AOK Nordost",
        "Angehörige informiert",
    ];
    let scope = Scope::org("org-a");
    for view in ["v_qm_pseudo", "v_qm_anon"] {
        let values = all_values(&a, &scope, view);
        for v in &values {
            for s in secrets {
                // Numbers (times) may hold the digits by chance; text not.
                let hit = if v.parse::<i64>().is_ok() {
                    v == s
                } else {
                    v.contains(s)
                };
                assert!(!hit, "{view} holds {s}: {v}");
            }
        }
    }

    // What is kept: coded statistics and the age in years.
    let rows = qm
        .pseudo_rows(
            &hos,
            &PseudoFilter {
                recipient: "uni-1".into(),
                field: None,
            },
            T,
        )
        .unwrap();
    let fields: BTreeSet<&str> = rows.iter().map(|r| r.field.as_str()).collect();
    for want in [keys::naca::SCORE, keys::patient::SEX] {
        assert!(fields.contains(want), "{want} missing: {fields:?}");
    }
    for never in rettpad_backoffice::split::IDENTITY {
        assert!(!fields.contains(never), "{never} in the extract");
    }
    assert!(!fields.contains(keys::mission::GPS_LAT));
    let naca = rows.iter().find(|r| r.field == keys::naca::SCORE).unwrap();
    assert_eq!(naca.code.as_deref(), Some("4"));
    let age = naca.age_years.expect("age in years");
    assert_eq!(age, 67, "born 1958-07-03, treated in spring 2026");
    assert!(naca.pseudonym.is_some());
    assert_eq!(naca.hour, naca.opened_ms.map(|t| t / 3_600_000 % 24));

    // The documented table says the same.
    let rule = |name: &str| FIELDS.iter().find(|f| f.0 == name).copied().unwrap();
    assert_eq!(rule("pseudonym"), ("pseudonym", Keep::Kept, Keep::Dropped));
    for dropped in ["name", "birth date", "address", "insurance", "free text"] {
        let (_, p, an) = rule(dropped);
        assert_eq!((p, an), (Keep::Dropped, Keep::Dropped), "{dropped}");
    }
    assert!(matches!(rule("age").2, Keep::Coarsened(_)));
    assert!(matches!(rule("postcode").1, Keep::Dropped));
    assert!(!qm::keeps_stat(keys::patient::BIRTH_DATE));
    assert!(!qm::keeps_stat(keys::remarks::TEXT));
    assert!(qm::keeps_stat(keys::naca::SCORE));
}

fn pseudonyms(qm: &Qm<'_>, c: &Caller, recipient: &str) -> Vec<(String, String)> {
    qm.pseudo_rows(
        c,
        &PseudoFilter {
            recipient: recipient.into(),
            field: Some(keys::naca::SCORE.into()),
        },
        T,
    )
    .unwrap()
    .into_iter()
    .map(|r| (r.protocol, r.pseudonym.unwrap()))
    .collect()
}

fn pseudonyms_are_stable_per_recipient_and_differ_between_recipients(f: &Fixture) {
    let a = archive(f, "node-a");
    let same = fill(&a, "org-a", 1, 2, "Anders");
    let other = fill(&a, "org-a", 3, 1, "Berger");
    let qm = Qm::new(&a);
    let hos = caller(Role::HeadOfService, "org-a");
    let (k1, k2) = (key(1), key(2));
    let r1 = Recipient {
        id: "uni-1",
        key: &k1,
    };
    let r2 = Recipient {
        id: "kv-2",
        key: &k2,
    };
    assert_eq!(
        qm.build(&hos, Period::all(), Some(&r1), T)
            .unwrap()
            .protocols,
        3
    );
    qm.build(&hos, Period::all(), Some(&r2), T).unwrap();
    let of = |ps: &[(String, String)], id: Uuid| {
        ps.iter()
            .find(|(p, _)| *p == id.to_string())
            .map(|(_, s)| s.clone())
            .unwrap()
    };
    let p1 = pseudonyms(&qm, &hos, "uni-1");
    let p2 = pseudonyms(&qm, &hos, "kv-2");
    assert_eq!(p1.len(), 3);
    // One patient, one pseudonym per recipient, across protocols.
    assert_eq!(of(&p1, same[0]), of(&p1, same[1]));
    assert_ne!(of(&p1, same[0]), of(&p1, other[0]));
    assert_eq!(of(&p2, same[0]), of(&p2, same[1]));
    // Another recipient's pseudonyms do not match.
    let s1: BTreeSet<String> = p1.iter().map(|p| p.1.clone()).collect();
    let s2: BTreeSet<String> = p2.iter().map(|p| p.1.clone()).collect();
    assert!(s1.is_disjoint(&s2), "{s1:?} {s2:?}");
    assert_eq!(s1.iter().next().unwrap().len(), 64, "HMAC-SHA256 in hex");

    // The job is idempotent; a new protocol is added with the same
    // pseudonym for the same patient.
    assert_eq!(
        qm.build(&hos, Period::all(), Some(&r1), T).unwrap(),
        Default::default()
    );
    assert_eq!(pseudonyms(&qm, &hos, "uni-1"), p1);
    let late = fill(&a, "org-a", 4, 1, "Anders");
    assert_eq!(
        qm.build(&hos, Period::all(), Some(&r1), T)
            .unwrap()
            .protocols,
        1
    );
    let again = pseudonyms(&qm, &hos, "uni-1");
    assert_eq!(again.len(), 4);
    assert_eq!(of(&again, late[0]), of(&p1, same[0]));
    // The insurance number comes first: a new family name, same person.
    let married = packet_with(
        5,
        "Anders-Neumann",
        &[(keys::insurance::NUMBER, Value::text("KV-Anders"))],
    );
    file(&a, "org-a", &married).unwrap();
    qm.build(&hos, Period::all(), Some(&r1), T).unwrap();
    let again = pseudonyms(&qm, &hos, "uni-1");
    assert_eq!(of(&again, married.packet_id), of(&p1, same[0]));

    // A period outside every protocol extracts nothing.
    let k3 = key(3);
    let r3 = Recipient {
        id: "empty",
        key: &k3,
    };
    let none = Period {
        from_ms: 0,
        to_ms: 1,
    };
    assert_eq!(qm.build(&hos, none, Some(&r3), T).unwrap().protocols, 0);
}

/// Five naca rows in org-a, two in org-b, six in org-c (not in the district).
fn anonymised_counts_suppress_small_cells_and_refuse_a_small_k(f: &Fixture) {
    let a = archive(f, "node-a");
    let pa = fill(&a, "org-a", 1, 5, "Anders");
    let pb = fill(&a, "org-b", 10, 2, "Berger");
    fill(&a, "org-c", 20, 6, "Conrad");
    let qm = Qm::new(&a);
    let dr = aelrd("org-a", &["org-b"]);
    let b = qm.build(&dr, Period::all(), None, T).unwrap();
    assert_eq!(b.protocols, 7, "the district, not org-c");
    let naca = AnonFilter {
        field: Some(keys::naca::SCORE.into()),
        code: None,
    };
    let by_org = qm.anon_counts(&dr, &[Dim::Org], &naca, MIN_K, T).unwrap();
    assert_eq!(
        by_org,
        vec![qm::Cell {
            key: vec![Some("org-a".into())],
            count: 5
        }],
        "org-b's cell of 2 is suppressed"
    );
    let total = qm.anon_counts(&dr, &[], &naca, 7, T).unwrap();
    assert_eq!(total[0].count, 7);
    assert!(qm.anon_counts(&dr, &[], &naca, 8, T).unwrap().is_empty());
    // Age band and region, not age and postcode.
    let cells = qm
        .anon_counts(&dr, &[Dim::AgeBand, Dim::Region], &naca, MIN_K, T)
        .unwrap();
    assert_eq!(
        cells,
        vec![qm::Cell {
            key: vec![Some("65-69".into()), Some("12".into())],
            count: 7
        }]
    );
    let months = qm
        .anon_counts(&dr, &[Dim::Month, Dim::Weekday], &naca, 1_000, T)
        .unwrap();
    assert!(months.is_empty(), "k above every cell shows none");
    let months = qm.anon_counts(&dr, &[Dim::Month], &naca, MIN_K, T).unwrap();
    assert_eq!(
        months,
        vec![qm::Cell {
            key: vec![Some("3".into())],
            count: 7
        }],
        "the samples are treated in March"
    );
    for k in [MIN_K - 1, 1, 0, -3] {
        assert!(
            matches!(
                qm.anon_counts(&dr, &[Dim::Org], &naca, k, T),
                Err(QmError::KTooSmall(x)) if x == k
            ),
            "k = {k}"
        );
    }
    // No link back: no protocol id, times to the hour.
    let scope = Scope::orgs(["org-a", "org-b"]);
    let values = all_values(&a, &scope, "v_qm_anon");
    for id in pa.iter().chain(&pb) {
        assert!(!values.contains(&id.to_string()));
    }
    let times = a
        .db()
        .read(&scope, |tx| {
            tx.query(
                "SELECT field, num FROM v_qm_anon WHERE num IS NOT NULL",
                &[],
            )
        })
        .unwrap();
    let time_rows: Vec<i64> = times
        .iter()
        .filter(|r| r.text(0).unwrap().starts_with("time."))
        .map(|r| r.int(1).unwrap())
        .collect();
    assert!(!time_rows.is_empty());
    assert!(
        time_rows.iter().all(|t| t % 3_600_000 == 0),
        "{time_rows:?}"
    );
    // Building again adds nothing.
    assert_eq!(
        qm.build(&dr, Period::all(), None, T).unwrap(),
        Default::default()
    );
    assert_eq!(
        qm.anon_counts(&dr, &[], &naca, MIN_K, T).unwrap()[0].count,
        7
    );
}

fn is_forbidden<T: std::fmt::Debug>(r: Result<T, QmError>) -> bool {
    matches!(r, Err(QmError::Access(AccessError::Forbidden)))
}

fn roles_without_an_extract_are_forbidden(f: &Fixture) {
    let a = archive(f, "node-a");
    fill(&a, "org-a", 1, 1, "Anders");
    let qm = Qm::new(&a);
    let k1 = key(1);
    let r1 = Recipient {
        id: "uni-1",
        key: &k1,
    };
    let hos = caller(Role::HeadOfService, "org-a");
    qm.build(&hos, Period::all(), Some(&r1), T).unwrap();
    let filter = PseudoFilter {
        recipient: "uni-1".into(),
        field: None,
    };
    for role in [Role::Crew, Role::StationLead, Role::Admin, Role::Auditor] {
        let mut c = caller(role, "org-a");
        c.stations = vec!["wache-1".into()];
        c.staff_id = Some("x".into());
        assert!(is_forbidden(qm.build(&c, Period::all(), Some(&r1), T)));
        assert!(is_forbidden(qm.build(&c, Period::all(), None, T)));
        assert!(is_forbidden(qm.pseudo_rows(&c, &filter, T)), "{role:?}");
        assert!(is_forbidden(qm.anon_counts(
            &c,
            &[Dim::Org],
            &AnonFilter::default(),
            MIN_K,
            T
        )));
    }
    // Each its own level only.
    let dr = aelrd("org-a", &[]);
    assert!(is_forbidden(qm.pseudo_rows(&dr, &filter, T)));
    assert!(is_forbidden(qm.build(&dr, Period::all(), Some(&r1), T)));
    assert!(is_forbidden(qm.anon_counts(
        &hos,
        &[],
        &AnonFilter::default(),
        MIN_K,
        T
    )));
    assert!(matches!(
        qm.build(&hos, Period::all(), None, T),
        Err(QmError::NoRecipient)
    ));
    let bad = Recipient {
        id: "Uni 1,x",
        key: &k1,
    };
    assert!(matches!(
        qm.build(&hos, Period::all(), Some(&bad), T),
        Err(QmError::BadRecipient)
    ));
    // Forbidden means nothing was read or written for them.
    assert!(!qm.pseudo_rows(&hos, &filter, T).unwrap().is_empty());
}

fn the_head_of_service_sees_only_the_own_organisation(f: &Fixture) {
    let a = archive(f, "node-a");
    let pa = fill(&a, "org-a", 1, 1, "Anders");
    fill(&a, "org-b", 2, 2, "Berger");
    let qm = Qm::new(&a);
    let k1 = key(1);
    let r1 = Recipient {
        id: "uni-1",
        key: &k1,
    };
    let hos_a = caller(Role::HeadOfService, "org-a");
    let hos_b = caller(Role::HeadOfService, "org-b");
    assert_eq!(
        qm.build(&hos_a, Period::all(), Some(&r1), T)
            .unwrap()
            .protocols,
        1
    );
    let filter = PseudoFilter {
        recipient: "uni-1".into(),
        field: None,
    };
    let rows = qm.pseudo_rows(&hos_a, &filter, T).unwrap();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.org == "org-a"));
    assert!(rows.iter().all(|r| r.protocol == pa[0].to_string()));
    // Org B's head sees nothing of A's extract; their own build is theirs.
    assert!(qm.pseudo_rows(&hos_b, &filter, T).unwrap().is_empty());
    assert_eq!(
        qm.build(&hos_b, Period::all(), Some(&r1), T)
            .unwrap()
            .protocols,
        2
    );
    let b_rows = qm.pseudo_rows(&hos_b, &filter, T).unwrap();
    assert!(b_rows.iter().all(|r| r.org == "org-b"));
    assert_eq!(qm.pseudo_rows(&hos_a, &filter, T).unwrap(), rows);
    // The same patient name in another organisation: another pseudonym
    // (the organisation is part of the HMAC input).
    let pa_ps: BTreeSet<_> = rows.iter().filter_map(|r| r.pseudonym.clone()).collect();
    let pb_ps: BTreeSet<_> = b_rows.iter().filter_map(|r| r.pseudonym.clone()).collect();
    assert!(pa_ps.is_disjoint(&pb_ps));
    // The medical director of a district without org-a counts none of it.
    let dr = aelrd("org-b", &[]);
    assert_eq!(qm.build(&dr, Period::all(), None, T).unwrap().protocols, 2);
}

fn every_build_and_read_is_audited(f: &Fixture) {
    let a = archive(f, "node-a");
    fill(&a, "org-a", 1, 5, "Anders");
    let qm = Qm::new(&a);
    let k1 = key(1);
    let r1 = Recipient {
        id: "uni-1",
        key: &k1,
    };
    let hos = caller(Role::HeadOfService, "org-a");
    let dr = aelrd("org-a", &[]);
    qm.build(&hos, Period::all(), Some(&r1), T).unwrap();
    qm.pseudo_rows(
        &hos,
        &PseudoFilter {
            recipient: "uni-1".into(),
            field: None,
        },
        T + 1,
    )
    .unwrap();
    qm.build(&dr, Period::all(), None, T + 2).unwrap();
    qm.anon_counts(&dr, &[Dim::Org], &AnonFilter::default(), 6, T + 3)
        .unwrap();
    // A refused k reads nothing and is not an access.
    qm.anon_counts(&dr, &[Dim::Org], &AnonFilter::default(), 1, T + 4)
        .unwrap_err();
    let auditor = caller(Role::Auditor, "org-a");
    let log = Access::new(&a).audit_log(&auditor, None).unwrap();
    let got: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e.action.as_str(), e.role.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("qm_build", "head_of_service"),
            ("qm_pseudo_read", "head_of_service"),
            ("qm_build", "medical_director"),
            ("qm_anon_read", "medical_director"),
        ]
    );
    assert!(
        log[0].outcome.starts_with("pseudo:5:"),
        "{}",
        log[0].outcome
    );
    assert_eq!(log[1].outcome, "recipient:uni-1");
    assert!(log[2].outcome.starts_with("anon:5:"), "{}", log[2].outcome);
    assert_eq!(log[3].outcome, "k:6");
    assert_eq!(log.len(), 4);
    assert_eq!(log[0].user, hos.user.to_string());
    assert_eq!(log[3].user, dr.user.to_string());
    assert_eq!(verify_audit_chain(&a, "org-a"), Ok(4));
}

fn the_years_shred_takes_the_pseudonymised_rows(f: &Fixture) {
    let a = archive(f, "node-a");
    fill(&a, "org-a", 1, 5, "Anders");
    let qm = Qm::new(&a);
    let k1 = key(1);
    let r1 = Recipient {
        id: "uni-1",
        key: &k1,
    };
    let hos = caller(Role::HeadOfService, "org-a");
    let dr = aelrd("org-a", &[]);
    qm.build(&hos, Period::all(), Some(&r1), T).unwrap();
    qm.build(&dr, Period::all(), None, T).unwrap();
    let filter = PseudoFilter {
        recipient: "uni-1".into(),
        field: None,
    };
    assert!(!qm.pseudo_rows(&hos, &filter, T).unwrap().is_empty());
    let rep = a
        .shred_expired(rettpad_backoffice::archive::year_start_ms(2100))
        .unwrap();
    assert_eq!(rep.protocols, 5);
    assert!(qm.pseudo_rows(&hos, &filter, T).unwrap().is_empty());
    let left = a
        .db()
        .read(&Scope::org("org-a"), |tx| {
            tx.query("SELECT count(*) FROM v_qm_build", &[])
        })
        .unwrap();
    assert_eq!(left[0].int(0).unwrap(), 0);
    // The anonymised rows hold no link to the protocol: they stay.
    let naca = AnonFilter {
        field: Some(keys::naca::SCORE.into()),
        code: None,
    };
    assert_eq!(
        qm.anon_counts(&dr, &[], &naca, MIN_K, T).unwrap()[0].count,
        5
    );
    // A rebuild after the shred extracts nothing.
    assert_eq!(
        qm.build(&hos, Period::all(), Some(&r1), T).unwrap(),
        Default::default()
    );
}

#[test]
fn hmac_matches_rfc_4231() {
    // Test case 2.
    let mac = qm::hmac_sha256(b"Jefe", b"what do ya want for nothing?");
    assert_eq!(
        hex(&mac),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // Test case 6: a key longer than the block.
    let mac = qm::hmac_sha256(
        &[0xaa; 131],
        b"Test Using Larger Than Block-Size Key - Hash Key First",
    );
    assert_eq!(
        hex(&mac),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
}

#[test]
fn age_bands() {
    let bands: Vec<String> = [0, 4, 5, 17, 67, 89, 90, 104]
        .into_iter()
        .map(qm::age_band)
        .collect();
    assert_eq!(
        bands,
        ["0-4", "0-4", "5-9", "15-19", "65-69", "85-89", "90+", "90+"]
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
