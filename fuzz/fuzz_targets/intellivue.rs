//! IntelliVue Data Export framing and PDU decoding: arbitrary bytes through
//! the deframer (transparency, FCS-16, header check, length cap) and every
//! payload, and the input itself, through `pdu::decode` and the attribute
//! decoders the host driver uses. A PDU that decodes must re-encode to
//! bytes that decode to the same PDU. Seeds: `fuzz/seeds/intellivue`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rettpad_devices::intellivue::frame::{Deframer, RawDeframer};
use rettpad_devices::intellivue::pdu::{self, Pdu};

fn check_payload(p: &[u8]) {
    let Ok(decoded) = pdu::decode(p) else {
        return;
    };
    let attrs: Vec<&pdu::Ava> = match &decoded {
        Pdu::MdsCreateEvent { attrs, .. } => attrs.iter().collect(),
        Pdu::PollReply { reply, .. } => reply
            .contexts
            .iter()
            .flat_map(|c| c.polls.iter().flat_map(|o| o.attrs.iter()))
            .collect(),
        Pdu::SetRequest { mods, .. } => mods.iter().map(|(_, a)| a).collect(),
        Pdu::SetResult { attrs, .. } => attrs.iter().collect(),
        _ => Vec::new(),
    };
    for a in attrs {
        let _ = pdu::nu_values(a);
        let _ = pdu::sa_values(a);
        let _ = pdu::SaSpec::parse(&a.value);
        let _ = pdu::ScaleSpec::parse(&a.value);
        let _ = pdu::attr_u32(a);
        let _ = pdu::system_model(&a.value);
        let _ = pdu::serial_number(&a.value);
        let _ = pdu::text_id_list(&a.value);
        if let Ok(b) = <[u8; 8]>::try_from(a.value.as_slice()) {
            let _ = pdu::abs_time(&b);
        }
    }
    // Session-level PDUs and `Other` are fixed or summarised on decode, so
    // only the data PDUs must survive a round trip.
    if matches!(
        decoded,
        Pdu::MdsCreateEvent { .. }
            | Pdu::MdsCreateResult { .. }
            | Pdu::PollRequest { .. }
            | Pdu::PollReply { .. }
            | Pdu::SetRequest { .. }
            | Pdu::SetResult { .. }
            | Pdu::Error { .. }
    ) {
        let again = pdu::decode(&pdu::encode(&decoded));
        assert_eq!(
            again.as_ref(),
            Ok(&decoded),
            "encode∘decode changed the PDU"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    check_payload(data);
    // Split the stream to exercise the deframer's state across pushes.
    let cut = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    let (a, b) = data.split_at(cut);
    let mut d = Deframer::new();
    d.push(a, check_payload);
    d.push(b, check_payload);
    let s = d.stats();
    assert!(s.frames <= data.len() as u64);
    let mut raw = RawDeframer::new(64);
    raw.push(data, |c| assert!(c.len() <= 64));
});
