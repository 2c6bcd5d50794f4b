//! The role matrix, the reason gate and the audit trail, on both databases.

use rettpad_backoffice::access::{
    Access, AccessError, Caller, GRANT_MS, ReasonCategory, Role, verify_audit_chain,
};
use rettpad_backoffice::search::Filter;
use rettpad_backoffice::{Archive, Scope};
use uuid::Uuid;

mod common;
use common::*;

both!(
    each_role_sees_what_the_matrix_grants,
    identity_opens_only_after_a_typed_reason_and_is_audited,
    the_audit_trail_is_append_only_and_chained,
);

const T: i64 = 1_900_000_000_000;

fn caller(role: Role, org: &str) -> Caller {
    Caller {
        user: Uuid::now_v7(),
        login: format!("{}-{org}", role.name()),
        role,
        org: org.into(),
        district: Vec::new(),
        stations: Vec::new(),
        staff_id: None,
        session: Uuid::now_v7().to_string(),
    }
}

/// Org A: one protocol of station "wache-1" (the fixture's station). Org B:
/// one protocol. Returns (archive, A's protocol, B's protocol, A's crew id).
fn setup(f: &Fixture) -> (Archive, Uuid, Uuid, String) {
    let a = archive(f, "node-a");
    let pa = packet(1, "Anders");
    let pb = packet(2, "Kanarienvogel");
    file(&a, "org-a", &pa).unwrap();
    file(&a, "org-b", &pb).unwrap();
    let crew = rettpad_sim::sample::standard_at(1).state().crew[0]
        .id
        .to_string();
    (a, pa.packet_id, pb.packet_id, crew)
}

fn each_role_sees_what_the_matrix_grants(f: &Fixture) {
    let (a, pa, pb, crew) = setup(f);
    let acc = Access::new(&a);
    // Crew: its own mission only.
    let mut own = caller(Role::Crew, "org-a");
    own.staff_id = Some(crew.clone());
    assert_eq!(acc.missions(&own, &Filter::newest(10)).unwrap().len(), 1);
    assert!(acc.medical(&own, pa).is_ok());
    let mut stranger = caller(Role::Crew, "org-a");
    stranger.staff_id = Some(Uuid::now_v7().to_string());
    assert!(
        acc.missions(&stranger, &Filter::newest(10))
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        acc.medical(&stranger, pa),
        Err(AccessError::NotFound)
    ));
    // The crew sees its own patient's identity without a reason (audited).
    let id = acc.identity(&own, pa, T).unwrap();
    assert!(id.values().any(|v| v.to_string().contains("Anders")));

    // Station lead: own stations only.
    let mut lead = caller(Role::StationLead, "org-a");
    lead.stations = vec!["wache-1".into()];
    assert!(acc.medical(&lead, pa).is_ok());
    let mut other_lead = caller(Role::StationLead, "org-a");
    other_lead.stations = vec!["wache-2".into()];
    assert!(matches!(
        acc.medical(&other_lead, pa),
        Err(AccessError::NotFound)
    ));
    assert!(
        acc.missions(&other_lead, &Filter::newest(10))
            .unwrap()
            .is_empty()
    );

    // Head of service: the organisation, never another one (by id).
    let head = caller(Role::HeadOfService, "org-a");
    assert_eq!(acc.missions(&head, &Filter::newest(10)).unwrap().len(), 1);
    assert!(matches!(acc.medical(&head, pb), Err(AccessError::NotFound)));
    // Medical director: the district.
    let mut aelrd = caller(Role::MedicalDirector, "org-a");
    aelrd.district = vec!["org-b".into()];
    assert_eq!(acc.missions(&aelrd, &Filter::newest(10)).unwrap().len(), 2);
    assert!(acc.medical(&aelrd, pb).is_ok());

    // Administrator and auditor: no clinical data at all.
    for role in [Role::Admin, Role::Auditor] {
        let c = caller(role, "org-a");
        assert!(matches!(
            acc.missions(&c, &Filter::newest(10)),
            Err(AccessError::Forbidden)
        ));
        assert!(matches!(acc.medical(&c, pa), Err(AccessError::Forbidden)));
        assert!(matches!(
            acc.identity(&c, pa, T),
            Err(AccessError::Forbidden)
        ));
    }
    // Only the auditor reads the audit trail.
    assert!(matches!(
        acc.audit_log(&head, None),
        Err(AccessError::Forbidden)
    ));
    assert!(acc.audit_log(&caller(Role::Auditor, "org-a"), None).is_ok());
}

fn identity_opens_only_after_a_typed_reason_and_is_audited(f: &Fixture) {
    let (a, pa, pb, _) = setup(f);
    let acc = Access::new(&a);
    let head = caller(Role::HeadOfService, "org-a");
    // Without a reason: refused, and nothing recorded.
    assert!(matches!(
        acc.identity(&head, pa, T),
        Err(AccessError::ReasonRequired)
    ));
    for empty in ["", "   ", "kurz"] {
        assert!(matches!(
            acc.reveal(&head, pa, ReasonCategory::Qm, empty, T),
            Err(AccessError::ReasonRequired)
        ));
    }
    let auditor = caller(Role::Auditor, "org-a");
    assert!(acc.audit_log(&auditor, None).unwrap().is_empty());
    // Another organisation's protocol by id: not found, no grant.
    assert!(matches!(
        acc.reveal(
            &head,
            pb,
            ReasonCategory::Qm,
            "Fallbesprechung Reanimation",
            T
        ),
        Err(AccessError::NotFound)
    ));
    // With a reason: shown, granted for 15 minutes to this session only.
    let id = acc
        .reveal(
            &head,
            pa,
            ReasonCategory::HospitalLinkage,
            "Abgleich Entlassbrief Klinikum",
            T,
        )
        .unwrap();
    assert!(id.values().any(|v| v.to_string().contains("Anders")));
    assert!(acc.identity(&head, pa, T + GRANT_MS - 1).is_ok());
    assert!(matches!(
        acc.identity(&head, pa, T + GRANT_MS),
        Err(AccessError::ReasonRequired)
    ));
    let mut other_session = head.clone();
    other_session.session = "another-session".into();
    assert!(matches!(
        acc.identity(&other_session, pa, T),
        Err(AccessError::ReasonRequired)
    ));
    // The auditor sees who, when, which protocol, why.
    let log = acc.audit_log(&auditor, Some(pa)).unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[0].action, "identity_reveal");
    assert_eq!(log[0].login, head.login);
    assert_eq!(log[0].role, "head_of_service");
    assert_eq!(log[0].category.as_deref(), Some("hospital_linkage"));
    assert_eq!(
        log[0].reason.as_deref(),
        Some("Abgleich Entlassbrief Klinikum")
    );
    assert_eq!(log[0].at_ms, T);
    assert_eq!(log[1].action, "identity_read");
    // No patient data in the trail.
    assert!(log.iter().all(|e| !format!("{e:?}").contains("Anders")));
    // Org B's auditor sees none of it.
    assert!(
        acc.audit_log(&caller(Role::Auditor, "org-b"), None)
            .unwrap()
            .is_empty()
    );
}

fn the_audit_trail_is_append_only_and_chained(f: &Fixture) {
    let (a, pa, _, _) = setup(f);
    let acc = Access::new(&a);
    let mut lead = caller(Role::StationLead, "org-a");
    lead.stations = vec!["wache-1".into()];
    for i in 0..5 {
        acc.reveal(
            &lead,
            pa,
            ReasonCategory::Qm,
            "Qualitätszirkel Thoraxschmerz",
            T + i,
        )
        .unwrap();
    }
    assert_eq!(verify_audit_chain(&a, "org-a"), Ok(5));
    // Neither the app nor anyone may change or delete an entry.
    let s = Scope::org("org-a");
    let upd = a.db().tx(&s, |tx| {
        tx.exec(
            "UPDATE audit_event SET reason = 'harmlos' WHERE org_id = 'org-a'",
            &[],
        )
    });
    assert!(upd.is_err(), "{upd:?}");
    let del = a.db().tx(&s, |tx| {
        tx.exec("DELETE FROM audit_event WHERE org_id = 'org-a'", &[])
    });
    assert!(del.is_err(), "{del:?}");
    assert_eq!(verify_audit_chain(&a, "org-a"), Ok(5));
    // Concurrent appends from two nodes never fork the chain.
    let b = archive(f, "node-b");
    std::thread::scope(|sc| {
        for arch in [&a, &b] {
            let lead = lead.clone();
            sc.spawn(move || {
                let acc = Access::new(arch);
                for i in 0..10 {
                    acc.reveal(
                        &lead,
                        pa,
                        ReasonCategory::Legal,
                        "Anfrage Staatsanwaltschaft",
                        T + i,
                    )
                    .unwrap();
                }
            });
        }
    });
    assert_eq!(verify_audit_chain(&a, "org-a"), Ok(25));
}
