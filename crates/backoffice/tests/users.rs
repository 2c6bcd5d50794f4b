//! Users, sign-in and sessions in the archive's database, on both.

use rettpad_backoffice::access::{Access, Role};
use rettpad_backoffice::auth::{HashParams, LockReason, Outcome, PasswordPolicy};
use rettpad_backoffice::users::{NewUser, SESSION_IDLE_MS, UserError, Users, system_caller};
use uuid::Uuid;

mod common;
use common::*;

both!(
    a_user_signs_in_changes_the_transport_password_and_is_audited,
    wrong_passwords_lock_under_seed_and_throttle_under_nist,
    sessions_expire_and_stay_in_their_organisation,
    only_administrators_manage_their_own_organisation,
);

const T: i64 = 1_900_000_000_000;
const TRANSPORT: &str = "Anfang!2026x";

fn head(login: &str) -> NewUser<'_> {
    NewUser {
        login,
        given_name: "Maria",
        family_name: "Schäfer",
        role: Role::HeadOfService,
        stations: &[],
        district: &[],
        staff_id: None,
    }
}

fn a_user_signs_in_changes_the_transport_password_and_is_audited(f: &Fixture) {
    let a = archive(f, "node-a");
    let u = Users::new(&a, PasswordPolicy::seed(), HashParams::test());
    u.create(&system_caller("org-a"), &head("mschaefer"), TRANSPORT, T)
        .unwrap();
    assert!(matches!(
        u.create(&system_caller("org-a"), &head("mschaefer"), TRANSPORT, T),
        Err(UserError::Exists)
    ));
    // A weak transport password is refused with its reasons.
    let weak = u.create(&system_caller("org-a"), &head("other"), "passwort", T);
    assert!(matches!(weak, Err(UserError::Policy(v)) if v.len() >= 3));

    let s = u.sign_in("org-a", "mschaefer", TRANSPORT, T).unwrap();
    assert!(s.must_change, "transport password");
    assert_eq!(s.caller.role, Role::HeadOfService);
    let (c, csrf, must) = u.session(&s.cookie, T + 1_000).unwrap().unwrap();
    assert_eq!(
        (c.user, csrf.as_str(), must),
        (s.caller.user, s.csrf.as_str(), true)
    );
    // The new password must follow the rules and differ from the old one.
    assert!(matches!(
        u.change_password(&c, TRANSPORT, TRANSPORT, T + 2_000),
        Err(UserError::Policy(_))
    ));
    assert!(matches!(
        u.change_password(&c, "falsch", "Neuanfang#2027y", T + 2_000),
        Err(UserError::BadCredentials)
    ));
    u.change_password(&c, TRANSPORT, "Neuanfang#2027y", T + 2_000)
        .unwrap();
    let (_, _, must) = u.session(&s.cookie, T + 3_000).unwrap().unwrap();
    assert!(!must);
    assert!(matches!(
        u.sign_in("org-a", "mschaefer", TRANSPORT, T + 4_000),
        Err(UserError::BadCredentials)
    ));
    let s2 = u
        .sign_in("org-a", "mschaefer", "Neuanfang#2027y", T + 5_000)
        .unwrap();
    assert!(!s2.must_change);
    u.sign_out(&s2.caller, T + 6_000).unwrap();
    assert!(u.session(&s2.cookie, T + 7_000).unwrap().is_none());

    // The audit trail has every step, without any password.
    let mut auditor = system_caller("org-a");
    auditor.role = Role::Auditor;
    let log = Access::new(&a).audit_log(&auditor, None).unwrap();
    let actions: Vec<(&str, &str)> = log
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("user_created:mschaefer:head_of_service", "ok"),
            ("sign_in", "ok_must_change"),
            ("password_changed", "ok"),
            ("sign_in", "wrong"),
            ("sign_in", "ok"),
            ("sign_out", "ok"),
        ]
    );
    let all = format!("{log:?}");
    // Nor the session tokens: whoever reads the trail could take over a
    // live session with one. It names the session by the token's hash.
    let token = |cookie: &str| cookie.split_once(':').unwrap().1.to_string();
    for secret in [
        TRANSPORT.to_string(),
        "Neuanfang#2027y".into(),
        "falsch".into(),
        token(&s.cookie),
        token(&s2.cookie),
    ] {
        assert!(!all.contains(&secret));
    }
    let hashed = hex::encode(rettpad_crypto::sha256(token(&s2.cookie).as_bytes()));
    assert!(
        log.iter()
            .any(|e| e.action == "sign_out" && e.session == hashed)
    );
}

fn wrong_passwords_lock_under_seed_and_throttle_under_nist(f: &Fixture) {
    let a = archive(f, "node-a");
    let seed = Users::new(&a, PasswordPolicy::seed(), HashParams::test());
    seed.create(&system_caller("org-a"), &head("lrd"), TRANSPORT, T)
        .unwrap();
    for i in 0..4 {
        assert!(matches!(
            seed.sign_in("org-a", "lrd", "Falsch!123x", T + i),
            Err(UserError::BadCredentials)
        ));
    }
    assert!(matches!(
        seed.sign_in("org-a", "lrd", "Falsch!123x", T + 5),
        Err(UserError::Refused(Outcome::Wrong { locked_now: true }))
    ));
    // Locked: the right password is refused too.
    assert!(matches!(
        seed.sign_in("org-a", "lrd", TRANSPORT, T + 6),
        Err(UserError::Refused(Outcome::Locked(
            LockReason::TooManyFailures
        )))
    ));
    // An unknown login gets the same answer as a wrong password.
    assert!(matches!(
        seed.sign_in("org-a", "niemand", TRANSPORT, T),
        Err(UserError::BadCredentials)
    ));

    let nist = Users::new(&a, PasswordPolicy::nist(), HashParams::test());
    nist.create(
        &system_caller("org-a"),
        &head("aelrd"),
        "lange Passphrase ohne Ziffern",
        T,
    )
    .unwrap();
    let mut throttled = false;
    for i in 0..8 {
        match nist.sign_in("org-a", "aelrd", "falsch falsch falsch", T + i) {
            Err(UserError::Refused(Outcome::Throttled { retry_after_ms })) => {
                assert!(retry_after_ms > 0);
                throttled = true;
            }
            Err(UserError::BadCredentials) => {}
            other => panic!("{other:?}"),
        }
    }
    assert!(throttled, "nist throttles");
    // Never locked: after the delay the right password works.
    let later = T + 3_600_000;
    assert!(
        nist.sign_in("org-a", "aelrd", "lange Passphrase ohne Ziffern", later)
            .is_ok()
    );
}

fn sessions_expire_and_stay_in_their_organisation(f: &Fixture) {
    let a = archive(f, "node-a");
    let u = Users::new(&a, PasswordPolicy::seed(), HashParams::test());
    u.create(&system_caller("org-a"), &head("anna"), TRANSPORT, T)
        .unwrap();
    let s = u.sign_in("org-a", "anna", TRANSPORT, T).unwrap();
    // The cookie of org A presented as org B's: no session.
    let token = s.cookie.split_once(':').unwrap().1;
    assert!(u.session(&format!("org-b:{token}"), T).unwrap().is_none());
    for bad in [
        "",
        "org-a",
        "org-a:",
        "org-a:zz",
        "ORG A:x",
        &format!("org-a:{}", "0".repeat(64)),
    ] {
        assert!(u.session(bad, T).unwrap().is_none(), "{bad}");
    }
    // Idle for 15 minutes: gone.
    assert!(
        u.session(&s.cookie, T + SESSION_IDLE_MS - 1)
            .unwrap()
            .is_some()
    );
    assert!(
        u.session(&s.cookie, T + 2 * SESSION_IDLE_MS - 1)
            .unwrap()
            .is_none()
    );
    let _ = Uuid::nil();
}

fn only_administrators_manage_their_own_organisation(f: &Fixture) {
    let a = archive(f, "node-a");
    let u = Users::new(&a, PasswordPolicy::seed(), HashParams::test());
    let mut crew = system_caller("org-a");
    crew.role = Role::Crew;
    assert!(matches!(
        u.create(&crew, &head("x"), TRANSPORT, T),
        Err(UserError::Forbidden)
    ));
    let mut lead = system_caller("org-a");
    lead.role = Role::StationLead;
    assert!(matches!(
        u.create(&lead, &head("x"), TRANSPORT, T),
        Err(UserError::Forbidden)
    ));
    // An administrator of B creates users in B only: A's login stays free.
    u.create(&system_caller("org-b"), &head("gleich"), TRANSPORT, T)
        .unwrap();
    u.create(&system_caller("org-a"), &head("gleich"), TRANSPORT, T)
        .unwrap();
    assert!(u.sign_in("org-b", "gleich", TRANSPORT, T).is_ok());
    assert!(matches!(
        u.sign_in("org-c", "gleich", TRANSPORT, T),
        Err(UserError::BadCredentials)
    ));
}
