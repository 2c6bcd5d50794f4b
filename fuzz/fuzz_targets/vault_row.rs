//! The vault's row decoder (issue 19): the plaintext of an authentic
//! journal row or snapshot goes through `Event::decode` (or the snapshot's
//! event list), then `MissionLog::restore` and `MissionState::fold`, as
//! `Store::open` does. The input is several rows separated by 0xFF (a byte
//! that never occurs in JSON text). Oracle: a decoded event encodes to
//! bytes that decode to the same event with the same hash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rettpad_record::log::MissionLog;
use rettpad_record::{Event, MissionState};

fuzz_target!(|data: &[u8]| {
    let mut events = Vec::new();
    for row in data.split(|b| *b == 0xFF) {
        if let Ok(ev) = Event::decode(row) {
            let again = Event::decode(&ev.encode()).expect("an encoded event decodes");
            assert_eq!(again, ev, "decode(encode(e)) == e");
            assert_eq!(again.hash(), ev.hash(), "the hash is stable");
            events.push(ev);
        }
    }
    // A snapshot is the list of events as one JSON array.
    if let Ok(list) = serde_json::from_slice::<Vec<Event>>(data) {
        events.extend(list);
    }
    let Some(mission) = events.first().map(|e| e.mission) else {
        return;
    };
    let (log, _issues) = MissionLog::restore(mission, events);
    let _ = log.verify();
    let _ = MissionState::fold(mission, log.events());
});
