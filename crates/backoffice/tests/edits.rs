//! The crew's personal remark and rescue-technical corrections after the
//! archive (seed §2.7.1), on both databases.

use rettpad_backoffice::access::{Access, AccessError, Caller, Role, verify_audit_chain};
use rettpad_backoffice::db::Dialect;
use rettpad_backoffice::edits::{CORRECTABLE, EditError, Edits, MAX_REMARK_CHARS};
use rettpad_backoffice::{Archive, ArchiveError, DbError, Scope, params};
use rettpad_record::keys;
use rettpad_sim::sample;
use uuid::Uuid;

mod common;
use common::*;

both!(
    the_crew_keeps_a_remark_only_its_author_reads,
    only_the_own_missions_crew_edits,
    only_rescue_technical_fields_with_valid_values,
    corrections_supersede_keep_history_and_show_to_readers,
    the_remark_is_sealed_and_crew_edit_append_only,
    every_edit_is_audited_and_the_chain_verifies,
    the_years_shred_takes_the_edits_with_it,
);

const T: i64 = 1_900_000_000_000;
const SECRET: &str = "Sohn Bernd Anders war aufgebracht, Verdacht auf Sturz";

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

fn crew_member(org: &str, staff: String) -> Caller {
    let mut c = caller(Role::Crew, org);
    c.staff_id = Some(staff);
    c
}

struct Setup {
    a: Archive,
    /// Org A's protocol (station "wache-1") and org B's.
    pa: Uuid,
    pb: Uuid,
    /// The two crew members of A's protocol, and B's first.
    anna: Caller,
    jonas: Caller,
    b_crew: String,
}

fn setup(f: &Fixture) -> Setup {
    let a = archive(f, "node-a");
    let pa = packet(1, "Anders");
    let pb = packet(2, "Kanarienvogel");
    file(&a, "org-a", &pa).unwrap();
    file(&a, "org-b", &pb).unwrap();
    let crew = sample::standard_at(1).state().crew;
    assert!(crew.len() >= 2, "the sample has two crew members");
    Setup {
        a,
        pa: pa.packet_id,
        pb: pb.packet_id,
        anna: crew_member("org-a", crew[0].id.to_string()),
        jonas: crew_member("org-a", crew[1].id.to_string()),
        b_crew: sample::standard_at(2).state().crew[0].id.to_string(),
    }
}

fn is_forbidden<T: std::fmt::Debug>(r: Result<T, EditError>) -> bool {
    matches!(r, Err(EditError::Access(AccessError::Forbidden)))
}

fn is_not_found<T: std::fmt::Debug>(r: Result<T, EditError>) -> bool {
    matches!(r, Err(EditError::Access(AccessError::NotFound)))
}

fn the_crew_keeps_a_remark_only_its_author_reads(f: &Fixture) {
    let s = setup(f);
    let ed = Edits::new(&s.a);
    assert_eq!(ed.remark(&s.anna, s.pa).unwrap(), None);
    ed.set_remark(&s.anna, s.pa, SECRET, T).unwrap();
    let r = ed.remark(&s.anna, s.pa).unwrap().unwrap();
    assert_eq!((r.text.as_str(), r.at_ms), (SECRET, T));
    // The other crew member of the same mission does not see it…
    assert_eq!(ed.remark(&s.jonas, s.pa).unwrap(), None);
    // …and keeps a remark of his own, which does not replace Anna's.
    ed.set_remark(&s.jonas, s.pa, "Trage klemmt", T + 1)
        .unwrap();
    assert_eq!(ed.remark(&s.anna, s.pa).unwrap().unwrap().text, SECRET);
    assert_eq!(
        ed.remark(&s.jonas, s.pa).unwrap().unwrap().text,
        "Trage klemmt"
    );
    // One per crew member: the newest wins; line breaks are kept; an
    // empty text removes it.
    ed.set_remark(&s.anna, s.pa, "  Zeile 1\r\nZeile 2  ", T + 2)
        .unwrap();
    let r = ed.remark(&s.anna, s.pa).unwrap().unwrap();
    assert_eq!((r.text.as_str(), r.at_ms), ("Zeile 1\nZeile 2", T + 2));
    ed.set_remark(&s.anna, s.pa, "   ", T + 3).unwrap();
    assert_eq!(ed.remark(&s.anna, s.pa).unwrap(), None);
    // Length and control characters.
    let long = "x".repeat(MAX_REMARK_CHARS + 1);
    assert!(matches!(
        ed.set_remark(&s.anna, s.pa, &long, T + 4),
        Err(EditError::TooLong(MAX_REMARK_CHARS))
    ));
    assert!(matches!(
        ed.set_remark(&s.anna, s.pa, "Klingel\u{7}", T + 4),
        Err(EditError::ControlChars)
    ));
    assert_eq!(
        ed.remark(&s.anna, s.pa).unwrap(),
        None,
        "refused: unchanged"
    );
    let full = "ä".repeat(MAX_REMARK_CHARS);
    ed.set_remark(&s.anna, s.pa, &full, T + 5).unwrap();
    assert_eq!(ed.remark(&s.anna, s.pa).unwrap().unwrap().text, full);
    // The remark is not a correction: nobody sees it in the list.
    let mut lead = caller(Role::StationLead, "org-a");
    lead.stations = vec!["wache-1".into()];
    assert!(ed.corrections(&lead, s.pa).unwrap().is_empty());
    assert!(ed.corrections(&s.jonas, s.pa).unwrap().is_empty());
}

fn only_the_own_missions_crew_edits(f: &Fixture) {
    let s = setup(f);
    let ed = Edits::new(&s.a);
    let call = keys::mission::CALL_SIGN;
    ed.set_remark(&s.anna, s.pa, SECRET, T).unwrap();
    ed.correct(&s.anna, s.pa, call, "RTW 3/83-2", T).unwrap();

    // Every other role: forbidden to edit, and no one else reads a remark.
    let mut lead = caller(Role::StationLead, "org-a");
    lead.stations = vec!["wache-1".into()];
    let head = caller(Role::HeadOfService, "org-a");
    let mut aelrd = caller(Role::MedicalDirector, "org-a");
    aelrd.district = vec!["org-b".into()];
    let admin = caller(Role::Admin, "org-a");
    let auditor = caller(Role::Auditor, "org-a");
    for c in [&lead, &head, &aelrd, &admin, &auditor] {
        assert!(is_forbidden(ed.set_remark(c, s.pa, "x", T)), "{:?}", c.role);
        assert!(
            is_forbidden(ed.correct(c, s.pa, call, "RTW 9", T)),
            "{:?}",
            c.role
        );
        assert!(is_forbidden(ed.remark(c, s.pa)), "{:?}", c.role);
    }
    // A role that sees the protocol sees its corrections, but no remark.
    for c in [&lead, &head, &aelrd] {
        let list = ed.corrections(c, s.pa).unwrap();
        assert_eq!(list.len(), 1, "{:?}", c.role);
        assert!(!format!("{list:?}").contains(SECRET));
    }
    for c in [&admin, &auditor] {
        assert!(is_forbidden(ed.corrections(c, s.pa)), "{:?}", c.role);
    }
    // A station lead of another station does not see the protocol at all.
    let mut other_lead = caller(Role::StationLead, "org-a");
    other_lead.stations = vec!["wache-2".into()];
    assert!(is_not_found(ed.corrections(&other_lead, s.pa)));

    // Crew of another mission, crew without a staff id, the protocol of
    // another organisation (even for that protocol's own staff id): not
    // found, like a missing protocol.
    let stranger = crew_member("org-a", Uuid::now_v7().to_string());
    let mut no_staff = caller(Role::Crew, "org-a");
    no_staff.staff_id = None;
    let b_staff_in_a = crew_member("org-a", s.b_crew.clone());
    for (c, p) in [
        (&stranger, s.pa),
        (&no_staff, s.pa),
        (&s.anna, s.pb),
        (&b_staff_in_a, s.pb),
        (&s.anna, Uuid::now_v7()),
    ] {
        assert!(is_not_found(ed.set_remark(c, p, "x", T)), "{}", c.login);
        assert!(is_not_found(ed.correct(c, p, call, "RTW 9", T)));
        assert!(is_not_found(ed.remark(c, p)));
        assert!(is_not_found(ed.corrections(c, p)));
    }
    // B's own crew edits B's protocol; A sees none of it.
    let b_crew = crew_member("org-b", s.b_crew.clone());
    ed.correct(&b_crew, s.pb, call, "RTW 7", T).unwrap();
    assert_eq!(ed.corrections(&b_crew, s.pb).unwrap().len(), 1);
    assert_eq!(ed.corrections(&s.anna, s.pa).unwrap().len(), 1);
    let rows =
        s.a.db()
            .read(&Scope::org("org-a"), |tx| {
                tx.query("SELECT org_id FROM v_crew_edit", &[])
            })
            .unwrap();
    assert_eq!(rows.len(), 2, "A's remark and correction only");
    assert!(rows.iter().all(|r| r.text(0).unwrap() == "org-a"));
}

fn only_rescue_technical_fields_with_valid_values(f: &Fixture) {
    let s = setup(f);
    let ed = Edits::new(&s.a);
    let scope = Scope::org("org-a");
    let medical = s.a.medical(&scope, s.pa).unwrap();
    let free_text = s.a.free_text(&scope, s.pa).unwrap();
    // Medical, identity, free text and other handover fields are not
    // editable, whatever the value.
    for field in [
        keys::patient::FAMILY_NAME,
        keys::patient::BIRTH_DATE,
        keys::insurance::NUMBER,
        keys::patient::SEX,
        keys::naca::SCORE,
        keys::diagnosis::TRACER,
        keys::remarks::TEXT,
        keys::transport::HOSPITAL,
        keys::mission::ADDRESS_STREET,
        keys::mission::STATION,
        "no.such_field",
        "",
    ] {
        assert!(
            matches!(
                ed.correct(&s.anna, s.pa, field, "01", T),
                Err(EditError::NotEditable(ref f)) if f == field
            ),
            "{field}"
        );
    }
    // Invalid values of editable fields.
    type Refusal = fn(&EditError) -> bool;
    let bad: &[(&str, &str, Refusal)] = &[
        (keys::mission::NUMBER, "2026\u{0}-1", |e| {
            matches!(e, EditError::ControlChars)
        }),
        (keys::mission::KEYWORD, "RD 1\nPatient Anders", |e| {
            matches!(e, EditError::ControlChars)
        }),
        (keys::mission::KEYWORD, &"k".repeat(81), |e| {
            matches!(e, EditError::TooLong(80))
        }),
        // The catalog's own limit (32) is tighter than 80.
        (keys::mission::CALL_SIGN, &"R".repeat(33), |e| {
            matches!(e, EditError::TooLong(32))
        }),
        (keys::transport::WITH_DOCTOR, "yes", |e| {
            matches!(e, EditError::NotBool)
        }),
        (keys::transport::EMERGENCY_LIGHTS, "", |e| {
            matches!(e, EditError::NotBool)
        }),
        (keys::transport::EMERGENCY_LIGHTS, "TRUE", |e| {
            matches!(e, EditError::NotBool)
        }),
        (keys::mission::FALSE_MISSION, "77", |e| {
            matches!(e, EditError::UnknownCode)
        }),
        (keys::mission::FIRST_ON_SCENE, "RD vor NA", |e| {
            matches!(e, EditError::UnknownCode)
        }),
    ];
    for (field, value, want) in bad {
        let r = ed.correct(&s.anna, s.pa, field, value, T);
        assert!(r.as_ref().is_err_and(want), "{field} = {value:?}: {r:?}");
        // Every refusal has a German text for the UI.
        assert!(!r.unwrap_err().de().is_empty());
    }
    assert!(
        ed.corrections(&s.anna, s.pa).unwrap().is_empty(),
        "none stored"
    );
    // Every allowlisted field takes a valid value.
    let good = [
        (keys::mission::NUMBER, "2026-0314-00999"),
        (keys::mission::CALL_SIGN, "RTW 3/83-2"),
        (keys::mission::KEYWORD, "RD 2"),
        (keys::mission::FALSE_MISSION, "01"),
        (keys::mission::FIRST_ON_SCENE, "03"),
        (keys::transport::EMERGENCY_LIGHTS, "false"),
        (keys::transport::WITH_DOCTOR, "true"),
    ];
    assert_eq!(good.len(), CORRECTABLE.len());
    for (i, (field, value)) in good.iter().enumerate() {
        ed.correct(&s.anna, s.pa, field, value, T + i as i64)
            .unwrap();
    }
    // An empty value removes a wrong code (the false mission was none).
    ed.correct(&s.anna, s.pa, keys::mission::FALSE_MISSION, "", T + 100)
        .unwrap();
    let list = ed.corrections(&s.anna, s.pa).unwrap();
    assert_eq!(list.len(), good.len() + 1);
    let got: Vec<(&str, &str)> = list
        .iter()
        .map(|c| (c.field.as_str(), c.value.as_str()))
        .collect();
    let mut want: Vec<(&str, &str)> = good.to_vec();
    want.push((keys::mission::FALSE_MISSION, ""));
    assert_eq!(got, want);
    // The archived record itself is untouched.
    assert_eq!(s.a.medical(&scope, s.pa).unwrap(), medical);
    assert_eq!(s.a.free_text(&scope, s.pa).unwrap(), free_text);
}

fn corrections_supersede_keep_history_and_show_to_readers(f: &Fixture) {
    let s = setup(f);
    let ed = Edits::new(&s.a);
    let call = keys::mission::CALL_SIGN;
    let lights = keys::transport::EMERGENCY_LIGHTS;
    ed.correct(&s.anna, s.pa, call, "RTW 3/83-2", T).unwrap();
    ed.correct(&s.jonas, s.pa, call, "RTW 3/83-9", T + 5)
        .unwrap();
    ed.correct(&s.anna, s.pa, call, " RTW 3/83-4 ", T + 10)
        .unwrap();
    ed.correct(&s.anna, s.pa, lights, "false", T + 20).unwrap();
    ed.correct(&s.anna, s.pa, keys::mission::NUMBER, "2026-1", T + 30)
        .unwrap();
    ed.correct(&s.anna, s.pa, keys::mission::FIRST_ON_SCENE, "01", T + 40)
        .unwrap();

    let mut lead = caller(Role::StationLead, "org-a");
    lead.stations = vec!["wache-1".into()];
    let list = ed.corrections(&lead, s.pa).unwrap();
    let rows: Vec<(&str, &str, &str, i64, bool)> = list
        .iter()
        .map(|c| {
            (
                c.field.as_str(),
                c.value.as_str(),
                c.login.as_str(),
                c.at_ms,
                c.superseded,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            // Anna's first call sign gave way to her second; Jonas's stands
            // beside it (his own, not superseded by hers).
            (call, "RTW 3/83-2", s.anna.login.as_str(), T, true),
            (call, "RTW 3/83-9", s.jonas.login.as_str(), T + 5, false),
            (call, "RTW 3/83-4", s.anna.login.as_str(), T + 10, false),
            (lights, "false", s.anna.login.as_str(), T + 20, false),
            (
                keys::mission::NUMBER,
                "2026-1",
                s.anna.login.as_str(),
                T + 30,
                false
            ),
            (
                keys::mission::FIRST_ON_SCENE,
                "01",
                s.anna.login.as_str(),
                T + 40,
                false
            ),
        ]
    );
    assert_eq!(list[1].user, s.jonas.user);
    // The filed value stays visible beside each correction: text from the
    // free text, booleans from the patient, none where nothing was filed.
    let summary = s.a.summary(&Scope::org("org-a"), s.pa).unwrap().unwrap();
    for c in &list[..3] {
        assert_eq!(c.original.as_deref(), Some(sample::RTW_CALL_SIGN));
    }
    assert_eq!(list[3].original.as_deref(), Some("true"));
    assert_eq!(list[4].original, summary.els_number);
    assert!(list[4].original.is_some());
    assert_eq!(list[5].original, None);
    // Everyone who sees the protocol sees the same list.
    let head = caller(Role::HeadOfService, "org-a");
    let mut aelrd = caller(Role::MedicalDirector, "org-b");
    aelrd.district = vec!["org-a".into()];
    for c in [&head, &aelrd, &s.anna, &s.jonas] {
        assert_eq!(ed.corrections(c, s.pa).unwrap(), list, "{}", c.login);
    }
    // A second reader of the archive (another node) sees the same.
    let b = archive(f, "node-b");
    assert_eq!(Edits::new(&b).corrections(&head, s.pa).unwrap(), list);
    // The record the readers open is unchanged.
    let med = Access::new(&s.a).medical(&lead, s.pa).unwrap().to_string();
    assert!(!med.contains("RTW 3/83-4"));
}

fn the_remark_is_sealed_and_crew_edit_append_only(f: &Fixture) {
    let s = setup(f);
    let ed = Edits::new(&s.a);
    ed.set_remark(&s.anna, s.pa, SECRET, T).unwrap();
    ed.correct(&s.anna, s.pa, keys::mission::KEYWORD, "RD 2", T)
        .unwrap();
    let scope = Scope::org("org-a");
    // The stored row holds no plaintext, in no column.
    let rows =
        s.a.db()
            .read(&scope, |tx| {
                tx.query(
                "SELECT id, user_id, login, kind, field, value FROM v_crew_edit ORDER BY kind DESC",
                &[],
            )
            })
            .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].text(3).unwrap(), "remark");
    for r in &rows {
        for i in 0..5 {
            assert!(!r.text(i).unwrap().contains("Anders"));
        }
        let v = r.bytes(5).unwrap();
        assert!(!v.windows(4).any(|w| w == b"RD 2"));
        assert!(!v.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));
    }
    if f.url.starts_with("sqlite:") {
        // The database files themselves: the remark is nowhere, while the
        // unsealed login beside it is (the scan reads what was written).
        let path = f.url.trim_start_matches("sqlite:");
        let mut raw = Vec::new();
        for p in [path.to_string(), format!("{path}-wal")] {
            raw.extend(std::fs::read(p).unwrap_or_default());
        }
        let has = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
        assert!(has(s.anna.login.as_bytes()), "the scan found the login");
        assert!(!has(SECRET.as_bytes()), "remark in plaintext on disk");
        assert!(!has("aufgebracht".as_bytes()));
    }

    // Neither changed nor deleted, on either database.
    for sql in [
        "UPDATE crew_edit SET login = 'jemand' WHERE org_id = 'org-a'",
        "UPDATE crew_edit SET created_ms = 0 WHERE org_id = 'org-a'",
        "DELETE FROM crew_edit WHERE org_id = 'org-a'",
    ] {
        let r = s.a.db().tx(&scope, |tx| tx.exec(sql, &[]));
        // PostgreSQL: the app role has no UPDATE/DELETE privilege; SQLite:
        // the append-only trigger.
        let refused = match s.a.db().dialect() {
            Dialect::Postgres => matches!(r, Err(DbError::Foreign)),
            Dialect::Sqlite => matches!(&r, Err(DbError::Db(m)) if m.contains("append-only")),
        };
        assert!(refused, "{sql}: {r:?}");
        if s.a.db().dialect() == Dialect::Postgres {
            // Not even the owner, who bypasses row-level security: the
            // trigger refuses.
            let mut owner = postgres::Client::connect(&f.url, postgres::NoTls).unwrap();
            let e = owner.batch_execute(sql).unwrap_err();
            assert!(
                e.as_db_error()
                    .is_some_and(|d| d.message().contains("append-only")),
                "{sql}: {e}"
            );
        }
    }
    let count = |a: &Archive| {
        a.db()
            .read(&scope, |tx| {
                tx.query_opt("SELECT count(*) FROM v_crew_edit", &[])
            })
            .unwrap()
            .unwrap()
            .int(0)
            .unwrap()
    };
    assert_eq!(count(&s.a), 2);
    assert_eq!(ed.remark(&s.anna, s.pa).unwrap().unwrap().text, SECRET);

    // A sealed remark copied to another user's row does not open for them
    // (the AAD names the row and its author).
    let copied = s.a.db().tx(&scope, |tx| {
        tx.exec(
            "INSERT INTO crew_edit (org_id, id, protocol_id, user_id, login, kind, field,
                 key_year, value, created_ms)
             SELECT org_id, $1, protocol_id, $2, $3, kind, field, key_year, value, created_ms + 1
             FROM v_crew_edit WHERE kind = 'remark'",
            params![Uuid::now_v7(), s.jonas.user, s.jonas.login],
        )
    });
    assert_eq!(copied.unwrap(), 1);
    assert!(matches!(
        ed.remark(&s.jonas, s.pa),
        Err(EditError::Access(AccessError::Archive(
            ArchiveError::Corrupt(_)
        )))
    ));
    // Nor does a row of another organisation: the scope refuses the write.
    let foreign = s.a.db().tx(&scope, |tx| {
        tx.exec(
            "INSERT INTO crew_edit (org_id, id, protocol_id, user_id, login, kind, field,
                 key_year, value, created_ms)
             VALUES ('org-b', $1, $2, $3, 'x', 'remark', '', 2026, $4, 0)",
            params![Uuid::now_v7(), s.pb, s.anna.user, vec![0u8; 40]],
        )
    });
    assert!(matches!(foreign, Err(DbError::Foreign)), "{foreign:?}");
}

fn every_edit_is_audited_and_the_chain_verifies(f: &Fixture) {
    let s = setup(f);
    let ed = Edits::new(&s.a);
    let acc = Access::new(&s.a);
    let auditor = caller(Role::Auditor, "org-a");
    let call = keys::mission::CALL_SIGN;
    ed.set_remark(&s.anna, s.pa, SECRET, T).unwrap();
    ed.correct(&s.anna, s.pa, call, "RTW 3/83-4", T + 1)
        .unwrap();
    ed.correct(&s.jonas, s.pa, keys::transport::WITH_DOCTOR, "true", T + 2)
        .unwrap();
    ed.set_remark(&s.jonas, s.pa, "", T + 3).unwrap();
    // Refused edits leave no entry.
    let head = caller(Role::HeadOfService, "org-a");
    assert!(ed.correct(&head, s.pa, call, "RTW 1", T).is_err());
    assert!(
        ed.correct(&s.anna, s.pa, keys::patient::FAMILY_NAME, "Meier", T)
            .is_err()
    );
    assert!(ed.correct(&s.anna, s.pa, call, "R\u{1b}", T).is_err());
    // Reads leave none either.
    ed.remark(&s.anna, s.pa).unwrap();
    ed.corrections(&head, s.pa).unwrap();

    let log = acc.audit_log(&auditor, Some(s.pa)).unwrap();
    let got: Vec<(&str, &str, &str, i64)> = log
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.login.as_str(),
                e.outcome.as_str(),
                e.at_ms,
            )
        })
        .collect();
    let with_doctor = format!("corrected {}", keys::transport::WITH_DOCTOR);
    let call_sign = format!("corrected {call}");
    assert_eq!(
        got,
        [
            ("protocol.remark", s.anna.login.as_str(), "remark saved", T),
            (
                "protocol.correct",
                s.anna.login.as_str(),
                call_sign.as_str(),
                T + 1
            ),
            (
                "protocol.correct",
                s.jonas.login.as_str(),
                with_doctor.as_str(),
                T + 2
            ),
            (
                "protocol.remark",
                s.jonas.login.as_str(),
                "remark cleared",
                T + 3
            ),
        ]
    );
    let pa = s.pa.to_string();
    for e in &log {
        assert_eq!(e.protocol.as_deref(), Some(pa.as_str()));
        assert_eq!(e.role, "crew");
        // Neither the remark nor a value.
        let all = format!("{e:?}");
        for secret in [SECRET, "Anders", "RTW 3/83-4", "Meier"] {
            assert!(!all.contains(secret), "{secret} in {all}");
        }
    }
    assert_eq!(verify_audit_chain(&s.a, "org-a"), Ok(4));
}

fn the_years_shred_takes_the_edits_with_it(f: &Fixture) {
    use rettpad_backoffice::archive::{RETAIN_YEARS, year_of, year_start_ms};
    let s = setup(f);
    let ed = Edits::new(&s.a);
    let call = keys::mission::CALL_SIGN;
    let b_crew = crew_member("org-b", s.b_crew.clone());
    ed.correct(&b_crew, s.pb, call, "RTW 7", T).unwrap();
    ed.set_remark(&b_crew, s.pb, SECRET, T).unwrap();
    ed.correct(&s.anna, s.pa, call, "RTW 3/83-2", T).unwrap();
    // A's protocol is on legal hold and survives its year; B's does not.
    assert!(
        s.a.set_legal_hold(&Scope::org("org-a"), s.pa, true)
            .unwrap()
    );
    let opened =
        s.a.summary(&Scope::org("org-b"), s.pb)
            .unwrap()
            .unwrap()
            .opened_ms
            .unwrap();
    let year = year_of(opened);
    s.a.shred_expired(year_start_ms(year + RETAIN_YEARS + 1))
        .unwrap();
    // B's protocol is gone, and with it every way to its edits.
    assert!(is_not_found(ed.corrections(&b_crew, s.pb)));
    assert!(is_not_found(ed.remark(&b_crew, s.pb)));
    assert!(is_not_found(ed.correct(&b_crew, s.pb, call, "RTW 8", T)));
    // The held protocol keeps its edits (copied under the hold key) and
    // takes new ones.
    let kept = ed.corrections(&s.anna, s.pa).unwrap();
    assert_eq!(
        kept.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(),
        ["RTW 3/83-2"]
    );
    ed.correct(&s.anna, s.pa, call, "RTW 3/83-5", T + 1)
        .unwrap();
    ed.set_remark(&s.anna, s.pa, "nach der Sperre", T + 1)
        .unwrap();
    let list = ed.corrections(&s.anna, s.pa).unwrap();
    let last = list.last().unwrap();
    assert_eq!(
        (last.value.as_str(), last.superseded),
        ("RTW 3/83-5", false)
    );
    assert_eq!(
        ed.remark(&s.anna, s.pa).unwrap().unwrap().text,
        "nach der Sperre"
    );
}
