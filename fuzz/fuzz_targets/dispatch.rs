//! A dispatch centre's message as the gateway takes it, and as the pad
//! plans it: arbitrary bytes must never panic the parser; whatever parses
//! must survive the canonical round trip the gateway stores, validate on
//! the pad as routed, and plan against an empty and a planned mission
//! without panicking. Seeds: `fuzz/seeds/dispatch`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rettpad_dispatch::msg::{self, Body};
use rettpad_dispatch::{StatusMap, ToPad, mission_id, plan};
use rettpad_record::{MissionLog, MissionState};

fuzz_target!(|data: &[u8]| {
    let Ok(d) = msg::parse(data) else {
        return;
    };
    let canon = serde_json::to_vec(&d).expect("a parsed message serialises");
    let back: msg::Dispatch = serde_json::from_slice(&canon).expect("and reads back");
    assert_eq!(back, d);
    let units: Vec<String> = match &d.body {
        Body::Mission(m) => m.units.iter().map(|u| u.call_sign.clone()).collect(),
        Body::Status(s) => vec![s.call_sign.clone()],
        Body::Cancel(_) => vec!["RTW 1".into()],
    };
    let fields = match &d.body {
        Body::Status(s) => StatusMap::default().fields(s.status).to_vec(),
        _ => Vec::new(),
    };
    for call_sign in units {
        let to = ToPad {
            mission_id: mission_id(&d.centre, d.number()),
            dispatch: d.clone(),
            call_sign,
            received_ms: 1_700_000_000_000,
            fields: fields.clone(),
        };
        assert!(to.validate().is_ok(), "what the gateway routes, the pad takes");
        let p = plan(None, false, &to);
        // Applying the plan must pass the record's own checks.
        let mut st = MissionState::new(p.mission);
        let mut log = MissionLog::new(p.mission);
        let author = rettpad_record::Author {
            device: "FUZZ".into(),
            crew_member: p.author,
        };
        for e in &p.edits {
            if st.precheck(e).is_ok() {
                let ev = log.prepare(&author, 1, 1, e.clone());
                if log.insert(ev.clone()).is_ok() {
                    st.apply(&ev);
                }
            }
        }
        let _ = plan(Some(&st), false, &to);
    }
});
