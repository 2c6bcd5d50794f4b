//! The archive's suite, run against both databases: SQLite files and a real
//! PostgreSQL cluster started by the test (initdb + pg_ctl in a temp dir).

use rettpad_backoffice::archive::{year_of, year_start_ms};
use rettpad_backoffice::db::{DbError, Dialect};
use rettpad_backoffice::{Archive, ArchiveError, Db, Filed, Scope, params};
use rettpad_crypto::SecretKey;
use rettpad_record::keys;
use uuid::Uuid;

mod common;
use common::*;

both!(
    files_a_protocol_into_separate_tables,
    two_organisations_never_see_each_other,
    crypto_shred_expires_a_year_and_legal_hold_survives,
    bad_content_is_reported_and_tampered_rows_refused,
    two_nodes_file_the_same_packets_once,
    migrations_are_versioned,
    search_filters_in_sql_and_pages_without_gaps,
);

fn files_a_protocol_into_separate_tables(f: &Fixture) {
    let a = archive(f, "node-a");
    let p = packet(0, "Müller");
    assert_eq!(file(&a, "org-a", &p).unwrap(), Filed::New);
    assert_eq!(
        file(&a, "org-a", &p).unwrap(),
        Filed::Already,
        "a repeat files nothing"
    );
    let mut other = packet(0, "Müller");
    other.packet_id = p.packet_id;
    other.sha = "ff".repeat(32);
    assert!(matches!(
        file(&a, "org-a", &other),
        Err(ArchiveError::Conflict)
    ));

    let scope = Scope::org("org-a");
    let list = a.list(&scope, None, 10).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, p.packet_id);
    assert_eq!(list[0].els_number.as_deref(), Some("2026-0314-00123"));
    assert_eq!(list[0].station.as_deref(), Some("wache-1"));
    // The pad's station is known now: the administration can assign it.
    let stations = a
        .db()
        .read(&scope, |tx| {
            tx.query("SELECT id, name FROM v_station WHERE org_id = 'org-a'", &[])
        })
        .unwrap();
    assert_eq!(stations.len(), 1);
    assert_eq!(stations[0].text(0).unwrap(), "wache-1");

    let med = a.medical(&scope, p.packet_id).unwrap().unwrap().to_string();
    assert!(med.contains("Brustschmerz") || med.contains(keys::patient::SEX));
    for secret in ["Müller", "Angehörige"] {
        assert!(!med.contains(secret), "medical record holds {secret}");
    }
    let text = a
        .free_text(&scope, p.packet_id)
        .unwrap()
        .unwrap()
        .to_string();
    assert!(text.contains("Angehörige informiert"));
    assert!(!text.contains("Müller"));
    let id = a.identity(&scope, p.packet_id).unwrap();
    assert_eq!(id.len(), 1);
    assert!(id.values().next().unwrap().to_string().contains("Müller"));

    // Statistics: coded values only.
    let stats = a
        .db()
        .read(&scope, |tx| {
            tx.query(
                "SELECT field, code, num FROM v_stat WHERE protocol_id = $1",
                params![p.packet_id],
            )
        })
        .unwrap();
    assert!(!stats.is_empty());
    for r in &stats {
        let field = r.text(0).unwrap();
        assert!(
            field != keys::patient::FAMILY_NAME && field != keys::remarks::TEXT,
            "{field} in statistics"
        );
        let code = r.opt_text(1).unwrap().unwrap_or_default();
        assert!(!code.contains("Müller"));
    }
    assert!(
        stats
            .iter()
            .any(|r| r.text(0).unwrap() == keys::patient::SEX
                && r.opt_text(1).unwrap().as_deref() == Some("W"))
    );

    // The §630f list: the change after the handover, with both values.
    let changes = a.changes(&scope, p.packet_id).unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c.field.as_deref() == Some(keys::patient::SEX)),
        "{changes:?}"
    );
    assert_eq!(list[0].changes, changes.len() as i64);

    // Documents come back checked against their hashes.
    let pdf = a
        .document(&scope, p.packet_id, "protocol.pdf")
        .unwrap()
        .unwrap();
    assert_eq!(pdf, p.parts["protocol.pdf"]);
    assert!(
        a.document(&scope, p.packet_id, "fhir.json")
            .unwrap()
            .is_none()
    );

    // The event log and its hash chain.
    let (events, issues) = a
        .db()
        .read(&scope, |tx| {
            let r = tx
                .query_opt(
                    "SELECT events, chain_issues FROM v_event_log WHERE protocol_id = $1",
                    params![p.packet_id],
                )?
                .unwrap();
            Ok::<_, DbError>((r.int(0)?, r.int(1)?))
        })
        .unwrap();
    assert!(events > 10);
    assert_eq!(issues, 0, "the chain verifies");
}

fn two_organisations_never_see_each_other(f: &Fixture) {
    let a = archive(f, "node-a");
    let pa = packet(1, "Anders");
    let pb = packet(2, "Kanarienvogel");
    file(&a, "org-a", &pa).unwrap();
    file(&a, "org-b", &pb).unwrap();
    let sa = Scope::org("org-a");
    // Every read path of org A.
    let list = a.list(&sa, None, 100).unwrap();
    assert_eq!(list.len(), 1);
    assert!(list.iter().all(|s| s.org == "org-a"));
    assert!(a.summary(&sa, pb.packet_id).unwrap().is_none());
    assert!(a.medical(&sa, pb.packet_id).unwrap().is_none());
    assert!(a.free_text(&sa, pb.packet_id).unwrap().is_none());
    assert!(a.identity(&sa, pb.packet_id).unwrap().is_empty());
    assert!(
        a.document(&sa, pb.packet_id, "protocol.pdf")
            .unwrap()
            .is_none()
    );
    assert!(a.changes(&sa, pb.packet_id).unwrap().is_empty());
    assert!(!a.set_legal_hold(&sa, pb.packet_id, true).unwrap());
    // No view shows a row of B to A, and no scope shows anything at all.
    for t in rettpad_backoffice::schema::TENANT_TABLES {
        let count = |scope: &Scope| {
            a.db()
                .read(scope, |tx| {
                    tx.query_opt(
                        &format!("SELECT count(*) FROM v_{t} WHERE org_id = 'org-b'"),
                        &[],
                    )
                })
                .unwrap()
                .unwrap()
                .int(0)
                .unwrap()
        };
        assert_eq!(count(&sa), 0, "{t}");
        assert_eq!(count(&Scope::none()), 0, "{t}");
    }
    // A write into B's rows from A's scope is refused, and changes nothing.
    let w = a.db().tx(&sa, |tx| {
        tx.exec(
            "INSERT INTO station (org_id, id, name) VALUES ('org-b', 'x', 'Fremdwache')",
            &[],
        )
    });
    assert!(matches!(w, Err(DbError::Foreign)), "{w:?}");
    let u = a.db().tx(&sa, |tx| {
        tx.exec(
            "UPDATE protocol SET legal_hold = 1 WHERE org_id = 'org-b'",
            &[],
        )
    });
    // PostgreSQL's policy hides B's rows (0 updated); SQLite's trigger refuses.
    match a.db().dialect() {
        Dialect::Postgres => assert_eq!(u.unwrap(), 0),
        Dialect::Sqlite => assert!(matches!(u, Err(DbError::Foreign))),
    }
    let sb = Scope::org("org-b");
    assert!(!a.summary(&sb, pb.packet_id).unwrap().unwrap().legal_hold);
    // The scope is transaction-local: alternate scopes on the pooled
    // connections and never see the previous transaction's organisation.
    for _ in 0..20 {
        assert_eq!(a.list(&sb, None, 10).unwrap().len(), 1);
        assert!(a.list(&Scope::none(), None, 10).unwrap().is_empty());
    }
    // The district (ÄLRD) scope sees both.
    let both = Scope::orgs(["org-a", "org-b"]);
    assert_eq!(a.list(&both, None, 10).unwrap().len(), 2);
}

fn crypto_shred_expires_a_year_and_legal_hold_survives(f: &Fixture) {
    let a = archive(f, "node-a");
    let old = packet(0, "Alt");
    let held = packet(3, "Gehalten");
    let newer = packet(400, "Neu");
    for p in [&old, &held, &newer] {
        file(&a, "org-a", p).unwrap();
    }
    let s = Scope::org("org-a");
    let year = year_of(
        a.summary(&s, old.packet_id)
            .unwrap()
            .unwrap()
            .opened_ms
            .unwrap(),
    );
    assert_eq!(year, 2026);
    assert!(a.set_legal_hold(&s, held.packet_id, true).unwrap());
    // Not before the end of the tenth year after the year of treatment.
    let expiry = year_start_ms(year + 11);
    assert_eq!(a.shred_expired(expiry - 1).unwrap().keys, 0);
    assert!(a.medical(&s, old.packet_id).unwrap().is_some());

    let rep = a.shred_expired(expiry).unwrap();
    assert_eq!(rep.keys, 1);
    assert_eq!(rep.protocols, 1, "the held protocol moved out of the year");
    assert_eq!(rep.held, 1);
    // The year's key is gone and so is every sealed row.
    assert!(a.summary(&s, old.packet_id).unwrap().is_none());
    assert!(a.medical(&s, old.packet_id).unwrap().is_none());
    let (wrapped_null, rows) = a
        .db()
        .read(&s, |tx| {
            let k = tx
                .query_opt(
                    "SELECT wrapped IS NULL FROM v_archive_key WHERE year = $1",
                    params![year],
                )?
                .unwrap();
            let n = tx
                .query_opt(
                    "SELECT count(*) FROM v_medical WHERE protocol_id = $1",
                    params![old.packet_id],
                )?
                .unwrap();
            Ok::<_, DbError>((k.int(0)? != 0, n.int(0)?))
        })
        .unwrap();
    assert!(wrapped_null, "the key is destroyed");
    assert_eq!(rows, 0);
    // The held protocol still opens (under the hold key), the newer year too.
    let held_med = a.medical(&s, held.packet_id).unwrap().unwrap();
    assert!(held_med.to_string().contains(keys::patient::SEX));
    assert!(
        a.identity(&s, held.packet_id)
            .unwrap()
            .values()
            .any(|v| v.to_string().contains("Gehalten"))
    );
    assert!(a.medical(&s, newer.packet_id).unwrap().is_some());
    // A late packet of the shredded year cannot be filed: reported instead.
    let late = packet(5, "Spät");
    let e = file(&a, "org-a", &late).unwrap_err();
    assert!(matches!(e, ArchiveError::Shredded { .. }), "{e}");
    assert!(e.is_permanent());
    // Shredding again changes nothing.
    assert_eq!(a.shred_expired(expiry).unwrap().keys, 0);
}

fn bad_content_is_reported_and_tampered_rows_refused(f: &Fixture) {
    let a = archive(f, "node-a");
    let s = Scope::org("org-a");
    // No event log, an event log that is no JSON, one of another mission.
    let mut p = packet(6, "Fehler");
    p.parts.remove("events.json");
    let e = file(&a, "org-a", &p).unwrap_err();
    assert!(e.is_permanent(), "{e}");
    p.parts.insert("events.json".into(), b"[{\"kaputt".to_vec());
    assert!(file(&a, "org-a", &p).unwrap_err().is_permanent());
    p = packet(6, "Fehler");
    p.mission_id = Uuid::now_v7();
    assert!(file(&a, "org-a", &p).unwrap_err().is_permanent());
    assert!(
        a.list(&s, None, 10).unwrap().is_empty(),
        "nothing half-filed"
    );
    a.report_issue("org-a", p.packet_id, 5, "no event log of the mission")
        .unwrap();
    let issues = a.issues(&s).unwrap();
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].packet_id, p.packet_id);
    assert!(a.issues(&Scope::org("org-b")).unwrap().is_empty());

    // A flipped byte, or a row moved to another protocol, does not open.
    let p1 = packet(7, "Eins");
    let p2 = packet(8, "Zwei");
    file(&a, "org-a", &p1).unwrap();
    file(&a, "org-a", &p2).unwrap();
    a.db()
        .tx(&s, |tx| {
            let r = tx
                .query_opt(
                    "SELECT sealed FROM v_medical WHERE protocol_id = $1",
                    params![p1.packet_id],
                )?
                .unwrap();
            let mut b = r.bytes(0)?;
            let last = b.len() - 1;
            b[last] ^= 1;
            tx.exec(
                "UPDATE medical SET sealed = $1 WHERE org_id = 'org-a' AND protocol_id = $2",
                params![b, p1.packet_id],
            )?;
            let r2 = tx
                .query_opt(
                    "SELECT sealed FROM v_free_text WHERE protocol_id = $1",
                    params![p1.packet_id],
                )?
                .unwrap();
            tx.exec(
                "UPDATE free_text SET sealed = $1 WHERE org_id = 'org-a' AND protocol_id = $2",
                params![r2.bytes(0)?, p2.packet_id],
            )?;
            Ok::<_, DbError>(())
        })
        .unwrap();
    assert!(matches!(
        a.medical(&s, p1.packet_id),
        Err(ArchiveError::Corrupt(_))
    ));
    assert!(matches!(
        a.free_text(&s, p2.packet_id),
        Err(ArchiveError::Corrupt(_))
    ));
    // A document whose content no longer matches the manifest's PDF hash.
    assert!(a.document(&s, p2.packet_id, "protocol.pdf").is_ok());
    a.db()
        .tx(&s, |tx| {
            tx.exec(
                "UPDATE protocol SET pdf_sha256 = $1 WHERE org_id = 'org-a' AND id = $2",
                params!["00".repeat(32), p2.packet_id],
            )
        })
        .unwrap();
    assert!(matches!(
        a.document(&s, p2.packet_id, "protocol.pdf"),
        Err(ArchiveError::Corrupt(_))
    ));
    // A wrong master key opens no organisation key.
    let wrong = Archive::new(
        Db::open(&f.url).unwrap(),
        SecretKey::from_bytes([9; 32]),
        "node-x",
    );
    assert!(matches!(
        wrong.medical(&s, p2.packet_id),
        Err(ArchiveError::Corrupt(_))
    ));
}

fn two_nodes_file_the_same_packets_once(f: &Fixture) {
    let a = archive(f, "node-a");
    let b = archive(f, "node-b");
    let pkts: Vec<Pkt> = (10..30).map(|i| packet(i, "Parallel")).collect();
    let new = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|sc| {
        for node in [&a, &b] {
            let (pkts, new) = (&pkts, &new);
            sc.spawn(move || {
                for p in pkts {
                    if file(node, "org-a", p).unwrap() == Filed::New {
                        new.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            });
        }
    });
    assert_eq!(new.into_inner(), pkts.len(), "each packet filed once");
    let list = a.list(&Scope::org("org-a"), None, 100).unwrap();
    assert_eq!(list.len(), pkts.len());
    // One key for the year, whichever node made it.
    let keys = a
        .db()
        .read(&Scope::org("org-a"), |tx| {
            tx.query_opt("SELECT count(*) FROM v_archive_key", &[])
        })
        .unwrap()
        .unwrap()
        .int(0)
        .unwrap();
    assert_eq!(keys, 1);
    for p in &pkts {
        assert!(
            b.medical(&Scope::org("org-a"), p.packet_id)
                .unwrap()
                .is_some()
        );
    }
}

fn migrations_are_versioned(f: &Fixture) {
    let a = archive(f, "node-a");
    drop(a);
    let db = Db::open(&f.url).unwrap();
    let v = db
        .read(&Scope::none(), |tx| {
            tx.query("SELECT version, name FROM schema_version", &[])
        })
        .unwrap();
    let versions: Vec<i64> = v.iter().map(|r| r.int(0).unwrap()).collect();
    let want: Vec<i64> = (1..=rettpad_backoffice::schema::LATEST).collect();
    assert!(want.len() >= 5);
    assert_eq!(versions, want, "reopening applies nothing twice");
}

fn search_filters_in_sql_and_pages_without_gaps(f: &Fixture) {
    use rettpad_backoffice::search::Filter;
    let a = archive(f, "node-a");
    // 25 protocols on 25 days (seed = day offset).
    let mut ids = Vec::new();
    for i in 0..25 {
        let p = packet(i, "Suche");
        file(&a, "org-a", &p).unwrap();
        ids.push(p.packet_id);
    }
    let s = Scope::org("org-a");
    let all = a.search(&s, &Filter::newest(100)).unwrap();
    assert_eq!(all.len(), 25);
    // Pages of 10 by keyset: every protocol once, in order.
    let mut seen = Vec::new();
    let mut f = Filter::newest(10);
    loop {
        let page = a.search(&s, &f).unwrap();
        if page.is_empty() {
            break;
        }
        let last = page.last().unwrap();
        f.after = Some((last.received_ms, last.id.to_string()));
        seen.extend(page.iter().map(|p| p.id));
    }
    assert_eq!(seen, all.iter().map(|p| p.id).collect::<Vec<_>>());
    // Text: call sign or mission number, any case; wildcards are literal.
    let by = |text: &str| {
        a.search(
            &s,
            &Filter {
                text: Some(text.into()),
                ..Filter::newest(100)
            },
        )
        .unwrap()
        .len()
    };
    assert_eq!(by("rtw 3/83"), 25);
    assert_eq!(by("2026-0314"), 25);
    assert_eq!(by("%"), 0);
    assert_eq!(by("_"), 0);
    assert_eq!(by("' OR 1=1 --"), 0);
    // Dates: the opened time, from inclusive, to exclusive.
    let t0 = all.iter().filter_map(|p| p.opened_ms).min().unwrap();
    let day = 86_400_000;
    let range = a
        .search(
            &s,
            &Filter {
                from_ms: Some(t0 + 5 * day),
                to_ms: Some(t0 + 10 * day),
                ..Filter::newest(100)
            },
        )
        .unwrap();
    assert_eq!(range.len(), 5);
    // Station, and a station lead's reach.
    let st = |station: Option<&str>, stations: Option<Vec<String>>| {
        a.search(
            &s,
            &Filter {
                station: station.map(Into::into),
                stations,
                ..Filter::newest(100)
            },
        )
        .unwrap()
        .len()
    };
    assert_eq!(st(Some("wache-1"), None), 25);
    assert_eq!(st(Some("wache-2"), None), 0);
    assert_eq!(st(None, Some(vec!["wache-2".into(), "wache-1".into()])), 25);
    assert_eq!(st(None, Some(vec![])), 0);
    // Another organisation sees none.
    assert!(
        a.search(&Scope::org("org-b"), &Filter::newest(100))
            .unwrap()
            .is_empty()
    );
    let _ = ids;
}
