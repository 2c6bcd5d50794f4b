//! User and station administration, on both databases: the roles that may
//! use it, its reach (own organisation only), its limits (no escalation, no
//! change of oneself) and its audit entries.

use rettpad_backoffice::Archive;
use rettpad_backoffice::access::{Access, AuditEvent, Caller, Role, verify_audit_chain};
use rettpad_backoffice::admin::{Admin, AdminError, Field, StationRow, UserRow};
use rettpad_backoffice::auth::{HashParams, LockReason, Outcome, PasswordPolicy};
use rettpad_backoffice::users::{NewUser, UserError, Users, system_caller};
use uuid::Uuid;

mod common;
use common::*;

both!(
    an_administrator_manages_users_and_stations_and_each_change_is_audited,
    other_roles_are_forbidden_and_their_attempts_audited,
    another_organisation_is_invisible_and_untouchable,
    role_escalation_is_refused_and_audited,
    nobody_changes_their_own_role_or_disables_themselves,
    a_password_reset_forces_a_change_and_ends_sessions,
    a_disabled_user_cannot_sign_in_until_enabled,
    station_and_user_input_is_validated,
);

const T: i64 = 1_900_000_000_000;
const PW: &str = "Anfang!2026x";

fn users(a: &Archive) -> Users<'_> {
    Users::new(a, PasswordPolicy::seed(), HashParams::test())
}

fn admin(a: &Archive) -> Admin<'_> {
    Admin::new(a, PasswordPolicy::seed(), HashParams::test())
}

fn new_user<'a>(login: &'a str, role: Role, stations: &'a [String]) -> NewUser<'a> {
    NewUser {
        login,
        given_name: "Karl",
        family_name: "Müller",
        role,
        stations,
        district: &[],
        staff_id: None,
    }
}

/// A user made by the CLI path, signed in: their real caller.
fn member(a: &Archive, org: &str, login: &str, role: Role) -> Caller {
    member_in(a, org, login, role).0
}

/// The signed-in caller and their session cookie.
fn member_in(a: &Archive, org: &str, login: &str, role: Role) -> (Caller, String) {
    let u = users(a);
    u.create(&system_caller(org), &new_user(login, role, &[]), PW, T)
        .unwrap();
    let s = u.sign_in(org, login, PW, T).unwrap();
    (s.caller, s.cookie)
}

fn row(adm: &Admin<'_>, by: &Caller, id: Uuid) -> UserRow {
    adm.users(by, T)
        .unwrap()
        .into_iter()
        .find(|r| r.id == id)
        .unwrap()
}

fn audit(a: &Archive, org: &str) -> Vec<AuditEvent> {
    let mut auditor = system_caller(org);
    auditor.role = Role::Auditor;
    Access::new(a).audit_log(&auditor, None).unwrap()
}

fn by<'e>(log: &'e [AuditEvent], c: &Caller) -> Vec<&'e AuditEvent> {
    log.iter()
        .filter(|e| e.user == c.user.to_string() && e.action != "sign_in")
        .collect()
}

fn forbidden<T: std::fmt::Debug>(r: Result<T, AdminError>) {
    match r {
        Err(e) if e.is_forbidden() => {}
        other => panic!("expected Forbidden, got {other:?}"),
    }
}

fn user_not_found<T: std::fmt::Debug>(r: Result<T, AdminError>) {
    assert!(
        matches!(r, Err(AdminError::UserNotFound)),
        "expected UserNotFound, got {r:?}"
    );
}

fn an_administrator_manages_users_and_stations_and_each_change_is_audited(f: &Fixture) {
    let a = archive(f, "node-a");
    let (adm, u) = (admin(&a), users(&a));
    let boss = member(&a, "org-a", "verwaltung", Role::Admin);

    adm.create_station(&boss, "wache-1", "  Rettungswache Nord ", T)
        .unwrap();
    assert_eq!(
        adm.stations(&boss, T).unwrap(),
        [StationRow {
            id: "wache-1".into(),
            name: "Rettungswache Nord".into()
        }]
    );
    let st = ["wache-1".to_string()];
    let created = adm
        .create_user(
            &boss,
            &NewUser {
                staff_id: Some("S-4711"),
                ..new_user("kmueller", Role::Crew, &st)
            },
            T,
        )
        .unwrap();
    let id = created.id;
    let pw = created.transport_password.to_string();
    let k = row(&adm, &boss, id);
    assert_eq!(
        (
            k.login.as_str(),
            k.given_name.as_str(),
            k.role,
            &k.stations[..],
            k.staff_id.as_deref()
        ),
        ("kmueller", "Karl", Role::Crew, &st[..], Some("S-4711"))
    );
    assert_eq!(
        (
            k.must_change,
            k.disabled,
            k.locked,
            k.last_login_ms,
            k.created_ms
        ),
        (true, false, None, None, T)
    );
    assert!(
        u.sign_in("org-a", "kmueller", &pw, T + 1)
            .unwrap()
            .must_change
    );

    // Five wrong passwords lock (seed); the list says why; unlock lifts it.
    for i in 0..5 {
        assert!(
            u.sign_in("org-a", "kmueller", "Falsch!123x", T + 10 + i)
                .is_err()
        );
    }
    let k = row(&adm, &boss, id);
    assert_eq!(
        (k.locked, k.failures, k.last_login_ms),
        (Some(LockReason::TooManyFailures), 5, Some(T + 1))
    );
    assert!(matches!(
        u.sign_in("org-a", "kmueller", &pw, T + 20),
        Err(UserError::Refused(Outcome::Locked(
            LockReason::TooManyFailures
        )))
    ));
    adm.unlock(&boss, id, T + 100).unwrap();
    assert_eq!(row(&adm, &boss, id).locked, None);
    assert!(u.sign_in("org-a", "kmueller", &pw, T + 101).is_ok());

    adm.set_role(&boss, id, Role::StationLead, &st, T + 200)
        .unwrap();
    assert_eq!(row(&adm, &boss, id).role, Role::StationLead);
    let s = u.sign_in("org-a", "kmueller", &pw, T + 201).unwrap();
    assert_eq!(
        (s.caller.role, &s.caller.stations[..]),
        (Role::StationLead, &st[..])
    );

    adm.disable(&boss, id, T + 300).unwrap();
    assert!(row(&adm, &boss, id).disabled);
    assert!(u.sign_in("org-a", "kmueller", &pw, T + 301).is_err());
    adm.enable(&boss, id, T + 400).unwrap();
    assert!(!row(&adm, &boss, id).disabled);
    assert!(u.sign_in("org-a", "kmueller", &pw, T + 401).is_ok());

    let fresh = adm.reset_password(&boss, id, T + 500).unwrap();
    assert_ne!(fresh.as_str(), pw);
    assert!(
        u.sign_in("org-a", "kmueller", &fresh, T + 501)
            .unwrap()
            .must_change
    );

    adm.rename_station(&boss, "wache-1", "Wache Nord", T + 600)
        .unwrap();
    assert_eq!(adm.stations(&boss, T).unwrap()[0].name, "Wache Nord");

    // Each change: its action, the administrator as actor, the target.
    let log = audit(&a, "org-a");
    let mine = by(&log, &boss);
    let actions: Vec<(&str, &str)> = mine
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("station.create", "ok"),
            ("user_created:kmueller:crew", "ok"),
            ("user.unlock", "ok"),
            ("user.role", "ok"),
            ("user.disable", "ok"),
            ("user.enable", "ok"),
            ("user.password_reset", "ok"),
            ("station.rename", "ok"),
        ]
    );
    for e in &mine {
        assert_eq!((e.login.as_str(), e.role.as_str()), ("verwaltung", "admin"));
        if e.action.starts_with("user.") {
            let r = e.reason.as_deref().unwrap_or_default();
            assert!(r.contains("kmueller") && r.contains(&id.to_string()), "{r}");
        }
    }
    let reason = |action: &str| {
        mine.iter()
            .find(|e| e.action == action)
            .and_then(|e| e.reason.clone())
            .unwrap_or_default()
    };
    assert!(reason("user.role").contains("role crew -> station_lead"));
    assert!(reason("user.unlock").contains("too_many_failures -> none"));
    assert!(reason("station.create").contains("wache-1"));
    assert!(reason("station.rename").contains("\"Rettungswache Nord\" -> \"Wache Nord\""));
    let all = format!("{log:?}");
    for secret in [pw.as_str(), fresh.as_str(), PW, "$argon2"] {
        assert!(!all.contains(secret), "{secret} in the audit trail");
    }
    assert_eq!(verify_audit_chain(&a, "org-a"), Ok(log.len()));
}

fn other_roles_are_forbidden_and_their_attempts_audited(f: &Fixture) {
    let a = archive(f, "node-a");
    let (adm, u) = (admin(&a), users(&a));
    let boss = member(&a, "org-a", "verwaltung", Role::Admin);
    adm.create_station(&boss, "wache-1", "Nord", T).unwrap();
    let target = adm
        .create_user(&boss, &new_user("ziel", Role::Crew, &[]), T)
        .unwrap();
    let pw = target.transport_password.to_string();
    let roles = [
        ("besatzung", Role::Crew),
        ("wachleiter", Role::StationLead),
        ("aelrd", Role::MedicalDirector),
        ("datenschutz", Role::Auditor),
    ];
    for (login, role) in roles {
        let c = member(&a, "org-a", login, role);
        forbidden(adm.users(&c, T));
        forbidden(adm.stations(&c, T));
        forbidden(adm.create_user(&c, &new_user("neu", Role::Crew, &[]), T));
        forbidden(adm.unlock(&c, target.id, T));
        forbidden(adm.set_role(&c, target.id, Role::Admin, &[], T));
        forbidden(adm.disable(&c, target.id, T));
        forbidden(adm.enable(&c, target.id, T));
        forbidden(adm.reset_password(&c, target.id, T));
        forbidden(adm.create_station(&c, "wache-2", "Süd", T));
        forbidden(adm.rename_station(&c, "wache-1", "Süd", T));
        // Every refused change is on record, with the caller's role.
        let log = audit(&a, "org-a");
        let refused: Vec<&str> = by(&log, &c)
            .iter()
            .filter(|e| e.outcome == "refused" && e.role == role.name())
            .map(|e| e.action.as_str())
            .collect();
        assert_eq!(
            refused,
            [
                "user.create",
                "user.unlock",
                "user.role",
                "user.disable",
                "user.enable",
                "user.password_reset",
                "station.create",
                "station.rename",
            ],
            "{login}"
        );
    }
    // Nothing changed.
    let t = row(&adm, &boss, target.id);
    assert_eq!((t.role, t.disabled), (Role::Crew, false));
    assert!(
        adm.users(&boss, T)
            .unwrap()
            .iter()
            .all(|r| r.login != "neu")
    );
    assert_eq!(adm.stations(&boss, T).unwrap().len(), 1);
    assert_eq!(adm.stations(&boss, T).unwrap()[0].name, "Nord");
    assert!(u.sign_in("org-a", "ziel", &pw, T + 1).is_ok());
    // The head of service may.
    let lrd = member(&a, "org-a", "lrd", Role::HeadOfService);
    assert!(adm.users(&lrd, T).unwrap().len() >= 6);
    adm.create_station(&lrd, "wache-2", "Süd", T).unwrap();
    let log = audit(&a, "org-a");
    assert_eq!(verify_audit_chain(&a, "org-a"), Ok(log.len()));
}

fn another_organisation_is_invisible_and_untouchable(f: &Fixture) {
    let a = archive(f, "node-a");
    let (adm, u) = (admin(&a), users(&a));
    let boss_a = member(&a, "org-a", "verwaltung-a", Role::Admin);
    let boss_b = member(&a, "org-b", "verwaltung-b", Role::Admin);
    adm.create_station(&boss_b, "wache-b", "Wache B", T)
        .unwrap();
    let sb = ["wache-b".to_string()];
    let in_b = adm
        .create_user(&boss_b, &new_user("bnutzer", Role::StationLead, &sb), T)
        .unwrap();
    let pw_b = in_b.transport_password.to_string();
    adm.create_station(&boss_a, "wache-1", "Wache A", T)
        .unwrap();
    let in_a = adm
        .create_user(&boss_a, &new_user("anutzer", Role::Crew, &[]), T)
        .unwrap();

    // A's lists hold A's rows only.
    let mut logins: Vec<String> = adm
        .users(&boss_a, T)
        .unwrap()
        .into_iter()
        .map(|r| r.login)
        .collect();
    logins.sort();
    assert_eq!(logins, ["anutzer", "verwaltung-a"]);
    assert_eq!(
        adm.stations(&boss_a, T).unwrap(),
        [StationRow {
            id: "wache-1".into(),
            name: "Wache A".into()
        }]
    );
    // B's ids are not found from A.
    user_not_found(adm.unlock(&boss_a, in_b.id, T));
    user_not_found(adm.set_role(&boss_a, in_b.id, Role::Crew, &[], T));
    user_not_found(adm.disable(&boss_a, in_b.id, T));
    user_not_found(adm.enable(&boss_a, in_b.id, T));
    user_not_found(adm.reset_password(&boss_a, in_b.id, T));
    user_not_found(adm.disable(&boss_a, boss_b.user, T));
    assert!(matches!(
        adm.rename_station(&boss_a, "wache-b", "Übernommen", T),
        Err(AdminError::StationNotFound)
    ));
    assert!(matches!(
        adm.set_role(&boss_a, in_a.id, Role::StationLead, &sb, T),
        Err(AdminError::UnknownStation(s)) if s == "wache-b"
    ));
    // Ids and logins are per organisation.
    adm.create_station(&boss_a, "wache-b", "Eigene B", T)
        .unwrap();
    adm.create_user(&boss_a, &new_user("bnutzer", Role::Crew, &[]), T)
        .unwrap();

    // B is as it was.
    let b = row(&adm, &boss_b, in_b.id);
    assert_eq!(
        (b.role, &b.stations[..], b.disabled, b.must_change),
        (Role::StationLead, &sb[..], false, true)
    );
    assert_eq!(adm.stations(&boss_b, T).unwrap()[0].name, "Wache B");
    assert_eq!(adm.users(&boss_b, T).unwrap().len(), 2);
    assert!(u.sign_in("org-b", "bnutzer", &pw_b, T + 1).is_ok());
    assert!(u.sign_in("org-b", "verwaltung-b", PW, T + 1).is_ok());
    let log_b = audit(&a, "org-b");
    assert!(log_b.iter().all(|e| e.login != "verwaltung-a"));
    // A's trail records the probes, naming only the id.
    let log_a = audit(&a, "org-a");
    let probes: Vec<String> = by(&log_a, &boss_a)
        .into_iter()
        .filter(|e| e.outcome == "not_found")
        .map(|e| e.reason.clone().unwrap_or_default())
        .collect();
    let (id_b, admin_b) = (format!("user {}", in_b.id), format!("user {}", boss_b.user));
    assert_eq!(
        probes,
        [
            &id_b,
            &id_b,
            &id_b,
            &id_b,
            &id_b,
            &admin_b,
            "station wache-b"
        ]
    );
    assert_eq!(verify_audit_chain(&a, "org-a"), Ok(log_a.len()));
    assert_eq!(verify_audit_chain(&a, "org-b"), Ok(log_b.len()));
}

fn role_escalation_is_refused_and_audited(f: &Fixture) {
    let a = archive(f, "node-a");
    let adm = admin(&a);
    let boss = member(&a, "org-a", "verwaltung", Role::Admin);
    let lrd = member(&a, "org-a", "lrd", Role::HeadOfService);
    let crew = adm
        .create_user(&boss, &new_user("kmueller", Role::Crew, &[]), T)
        .unwrap();

    // Creating above one's reach.
    forbidden(adm.create_user(&boss, &new_user("lrd2", Role::HeadOfService, &[]), T));
    forbidden(adm.create_user(&boss, &new_user("aelrd", Role::MedicalDirector, &[]), T));
    forbidden(adm.create_user(&lrd, &new_user("aelrd", Role::MedicalDirector, &[]), T));
    let district = ["org-b".to_string()];
    forbidden(adm.create_user(
        &boss,
        &NewUser {
            district: &district,
            ..new_user("kreis", Role::Crew, &[])
        },
        T,
    ));
    let logins: Vec<String> = adm
        .users(&boss, T)
        .unwrap()
        .into_iter()
        .map(|r| r.login)
        .collect();
    for l in ["lrd2", "aelrd", "kreis"] {
        assert!(!logins.contains(&l.to_string()), "{l} created");
    }
    // Every role the administrator may give, and only those.
    for (i, role) in [Role::Crew, Role::StationLead, Role::Admin, Role::Auditor]
        .into_iter()
        .enumerate()
    {
        adm.create_user(&boss, &new_user(&format!("u{i}"), role, &[]), T)
            .unwrap();
    }
    // Raising a user above one's reach, or touching a user above it.
    forbidden(adm.set_role(&boss, crew.id, Role::HeadOfService, &[], T));
    forbidden(adm.set_role(&boss, crew.id, Role::MedicalDirector, &[], T));
    forbidden(adm.set_role(&boss, lrd.user, Role::Crew, &[], T));
    forbidden(adm.reset_password(&boss, lrd.user, T));
    forbidden(adm.disable(&boss, lrd.user, T));
    forbidden(adm.enable(&boss, lrd.user, T));
    assert_eq!(row(&adm, &boss, crew.id).role, Role::Crew);
    let l = row(&adm, &boss, lrd.user);
    assert_eq!(
        (l.role, l.disabled, l.must_change),
        (Role::HeadOfService, false, true)
    );
    // An unlock hands over nothing: open for any account of the organisation.
    adm.unlock(&boss, lrd.user, T).unwrap();

    // The head of service reaches one step further, not to the district.
    let lrd2 = adm
        .create_user(&lrd, &new_user("lrd2", Role::HeadOfService, &[]), T)
        .unwrap();
    forbidden(adm.set_role(&lrd, crew.id, Role::MedicalDirector, &[], T));
    adm.set_role(&lrd, crew.id, Role::HeadOfService, &[], T)
        .unwrap();
    adm.set_role(&lrd, lrd2.id, Role::Admin, &[], T).unwrap();
    assert_eq!(row(&adm, &lrd, crew.id).role, Role::HeadOfService);
    assert_eq!(row(&adm, &lrd, lrd2.id).role, Role::Admin);

    let log = audit(&a, "org-a");
    let refused: Vec<(&str, String)> = by(&log, &boss)
        .into_iter()
        .filter(|e| e.outcome == "refused")
        .map(|e| (e.action.as_str(), e.reason.clone().unwrap_or_default()))
        .collect();
    let actions: Vec<&str> = refused.iter().map(|(a, _)| *a).collect();
    assert_eq!(
        actions,
        [
            "user.create",
            "user.create",
            "user.create",
            "user.role",
            "user.role",
            "user.role",
            "user.password_reset",
            "user.disable",
            "user.enable",
        ]
    );
    assert!(refused[0].1.contains("\"lrd2\" role head_of_service"));
    assert!(refused[1].1.contains("role medical_director"));
    assert!(refused[2].1.contains("district [org-b]"));
    assert!(refused[3].1.contains("kmueller") && refused[3].1.contains("crew -> head_of_service"));
    assert!(refused[5].1.contains("lrd") && refused[5].1.contains("head_of_service -> crew"));
    let by_lrd: Vec<(&str, &str)> = by(&log, &lrd)
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        by_lrd,
        [
            ("user.create", "refused"),
            ("user_created:lrd2:head_of_service", "ok"),
            ("user.role", "refused"),
            ("user.role", "ok"),
            ("user.role", "ok"),
        ]
    );
    assert_eq!(verify_audit_chain(&a, "org-a"), Ok(log.len()));
}

fn nobody_changes_their_own_role_or_disables_themselves(f: &Fixture) {
    let a = archive(f, "node-a");
    let (adm, u) = (admin(&a), users(&a));
    for (login, role) in [("verwaltung", Role::Admin), ("lrd", Role::HeadOfService)] {
        let (me, cookie) = member_in(&a, "org-a", login, role);
        forbidden(adm.set_role(&me, me.user, Role::Crew, &[], T));
        forbidden(adm.set_role(&me, me.user, role, &[], T));
        forbidden(adm.disable(&me, me.user, T));
        let r = row(&adm, &me, me.user);
        assert_eq!((r.role, r.disabled), (role, false));
        assert!(u.session(&cookie, T + 1).unwrap().is_some());
        assert!(u.sign_in("org-a", login, PW, T + 2).is_ok());
        let log = audit(&a, "org-a");
        let refused: Vec<(&str, String)> = by(&log, &me)
            .into_iter()
            .filter(|e| e.outcome == "refused")
            .map(|e| (e.action.as_str(), e.reason.clone().unwrap_or_default()))
            .collect();
        assert_eq!(refused.len(), 3, "{refused:?}");
        assert_eq!(
            refused.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
            ["user.role", "user.role", "user.disable"]
        );
        assert!(
            refused
                .iter()
                .all(|(_, r)| r.contains("own") && r.contains(login))
        );
    }
}

fn a_password_reset_forces_a_change_and_ends_sessions(f: &Fixture) {
    let a = archive(f, "node-a");
    let (adm, u) = (admin(&a), users(&a));
    let (boss, boss_cookie) = member_in(&a, "org-a", "verwaltung", Role::Admin);
    let c = adm
        .create_user(&boss, &new_user("kmueller", Role::Crew, &[]), T)
        .unwrap();
    let first = u
        .sign_in("org-a", "kmueller", &c.transport_password, T + 1)
        .unwrap();
    u.change_password(
        &first.caller,
        &c.transport_password,
        "Neuanfang#2027y",
        T + 2,
    )
    .unwrap();
    let second = u
        .sign_in("org-a", "kmueller", "Neuanfang#2027y", T + 3)
        .unwrap();
    assert!(!second.must_change);
    assert!(!row(&adm, &boss, c.id).must_change);
    for s in [&first, &second] {
        assert!(u.session(&s.cookie, T + 4).unwrap().is_some());
    }

    let fresh = adm.reset_password(&boss, c.id, T + 5).unwrap();
    for s in [&first, &second] {
        assert!(
            u.session(&s.cookie, T + 6).unwrap().is_none(),
            "session ended"
        );
    }
    assert!(matches!(
        u.sign_in("org-a", "kmueller", "Neuanfang#2027y", T + 7),
        Err(UserError::BadCredentials)
    ));
    assert!(row(&adm, &boss, c.id).must_change);
    let third = u.sign_in("org-a", "kmueller", &fresh, T + 8).unwrap();
    assert!(third.must_change);
    let (_, _, must) = u.session(&third.cookie, T + 9).unwrap().unwrap();
    assert!(must, "only the password change is open");
    // The administrator's own session lives on.
    assert!(u.session(&boss_cookie, T + 9).unwrap().is_some());

    let log = audit(&a, "org-a");
    let e = log
        .iter()
        .find(|e| e.action == "user.password_reset")
        .unwrap();
    assert_eq!((e.login.as_str(), e.outcome.as_str()), ("verwaltung", "ok"));
    assert!(
        e.reason
            .as_deref()
            .unwrap_or_default()
            .contains("2 sessions ended")
    );
    assert!(!format!("{log:?}").contains(fresh.as_str()));
    assert_eq!(verify_audit_chain(&a, "org-a"), Ok(log.len()));
}

fn a_disabled_user_cannot_sign_in_until_enabled(f: &Fixture) {
    let a = archive(f, "node-a");
    let (adm, u) = (admin(&a), users(&a));
    let boss = member(&a, "org-a", "verwaltung", Role::Admin);
    let c = adm
        .create_user(&boss, &new_user("kmueller", Role::Crew, &[]), T)
        .unwrap();
    let pw = c.transport_password.to_string();
    let s = u.sign_in("org-a", "kmueller", &pw, T + 1).unwrap();

    adm.disable(&boss, c.id, T + 2).unwrap();
    assert!(u.session(&s.cookie, T + 3).unwrap().is_none());
    let off = Outcome::Locked(LockReason::Disabled);
    assert!(matches!(
        u.sign_in("org-a", "kmueller", &pw, T + 4),
        Err(UserError::Refused(o)) if o == off
    ));
    // An unlock does not switch it on again.
    adm.unlock(&boss, c.id, T + 5).unwrap();
    assert!(matches!(
        u.sign_in("org-a", "kmueller", &pw, T + 6),
        Err(UserError::Refused(o)) if o == off
    ));
    let r = row(&adm, &boss, c.id);
    assert_eq!((r.disabled, r.locked, r.failures), (true, None, 0));

    adm.enable(&boss, c.id, T + 7).unwrap();
    assert!(!row(&adm, &boss, c.id).disabled);
    let back = u.sign_in("org-a", "kmueller", &pw, T + 8).unwrap();
    assert!(u.session(&back.cookie, T + 9).unwrap().is_some());
    let log = audit(&a, "org-a");
    let actions: Vec<&str> = by(&log, &boss).iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "user_created:kmueller:crew",
            "user.disable",
            "user.unlock",
            "user.enable"
        ]
    );
    assert_eq!(verify_audit_chain(&a, "org-a"), Ok(log.len()));
}

fn station_and_user_input_is_validated(f: &Fixture) {
    let a = archive(f, "node-a");
    let adm = admin(&a);
    let boss = member(&a, "org-a", "verwaltung", Role::Admin);
    let long_id = "w".repeat(33);
    for bad in [
        "",
        long_id.as_str(),
        "wache 1",
        "wache/1",
        "wäche",
        "wache.1",
        "w'1",
    ] {
        assert!(
            matches!(
                adm.create_station(&boss, bad, "Nord", T),
                Err(AdminError::BadStationId)
            ),
            "{bad:?}"
        );
    }
    let long_name = "x".repeat(81);
    for bad in [
        "",
        "   ",
        long_name.as_str(),
        "Nord\nSüd",
        "Nord\u{7}",
        "\u{85}",
    ] {
        assert!(
            matches!(
                adm.create_station(&boss, "wache-1", bad, T),
                Err(AdminError::BadText(Field::StationName))
            ),
            "{bad:?}"
        );
    }
    assert!(adm.stations(&boss, T).unwrap().is_empty(), "nothing stored");
    let max_id = "A_b-9".repeat(6) + "zz";
    let umlauts = "ä".repeat(80);
    adm.create_station(&boss, &max_id, &umlauts, T).unwrap();
    adm.create_station(&boss, "wache-1", " Nord ", T).unwrap();
    assert!(matches!(
        adm.create_station(&boss, "wache-1", "Noch eine", T),
        Err(AdminError::StationExists)
    ));
    assert!(matches!(
        adm.rename_station(&boss, "wache-9", "Süd", T),
        Err(AdminError::StationNotFound)
    ));
    assert!(matches!(
        adm.rename_station(&boss, "wache-1", "\t", T),
        Err(AdminError::BadText(Field::StationName))
    ));
    assert!(matches!(
        adm.rename_station(&boss, "wache 1", "Süd", T),
        Err(AdminError::BadStationId)
    ));
    let names: Vec<(String, usize)> = adm
        .stations(&boss, T)
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s.name.chars().count()))
        .collect();
    assert_eq!(names, [(max_id, 80), ("wache-1".to_string(), 4)]);

    // A user's fields.
    assert!(matches!(
        adm.create_user(&boss, &new_user("mit leerzeichen", Role::Crew, &[]), T),
        Err(AdminError::BadLogin)
    ));
    assert!(matches!(
        adm.create_user(
            &boss,
            &NewUser {
                given_name: " ",
                ..new_user("kmueller", Role::Crew, &[])
            },
            T
        ),
        Err(AdminError::BadText(Field::GivenName))
    ));
    assert!(matches!(
        adm.create_user(
            &boss,
            &NewUser {
                staff_id: Some("S 1"),
                ..new_user("kmueller", Role::Crew, &[])
            },
            T
        ),
        Err(AdminError::BadStaffId)
    ));
    let unknown = ["wache-9".to_string()];
    assert!(matches!(
        adm.create_user(&boss, &new_user("kmueller", Role::StationLead, &unknown), T),
        Err(AdminError::UnknownStation(s)) if s == "wache-9"
    ));
    assert!(matches!(
        adm.create_user(&boss, &new_user("verwaltung", Role::Crew, &[]), T),
        Err(AdminError::LoginExists)
    ));
    assert_eq!(adm.users(&boss, T).unwrap().len(), 1, "nothing stored");

    // English messages, German UI texts.
    assert_eq!(
        AdminError::BadText(Field::StationName).to_string(),
        "station name: 1-80 characters, no control characters"
    );
    assert_eq!(
        AdminError::BadText(Field::StationName).de(),
        "Name der Wache: 1 bis 80 Zeichen, keine Steuerzeichen"
    );
    assert_eq!(
        AdminError::forbidden().de(),
        "Für diese Rolle nicht erlaubt"
    );
    assert_eq!(AdminError::UserNotFound.de(), "Benutzer nicht gefunden");
    assert!(
        AdminError::BadStationId
            .de()
            .starts_with("Kennung der Wache: 1 bis 32")
    );
    assert_eq!(
        AdminError::UnknownStation("wache-9".into()).de(),
        "Unbekannte Wache: wache-9"
    );
}
