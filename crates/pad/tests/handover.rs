//! Pad-to-pad handover end to end: two pad cores (two real stores in
//! tempdirs), real TLS 1.3 with test certificates from an rcgen CA, over a
//! PTY pair and loopback TCP.

use rettpad_clock::{SharedClock, TestClock};
use rettpad_devices::link::{Link, SerialLink, TcpLink};
use rettpad_handover::frame::MissionSel;
use rettpad_handover::link::CutAfter;
use rettpad_handover::proto::{AfterHandover, UiEvent, UserDecision};
use rettpad_handover::session::{
    Control, Credentials, Io, Peer, WireStats, run_requester, run_responder,
};
use rettpad_handover::{Failure, Report, conflicts};
use rettpad_pad::handover_io::{StoreSink, StoreSource};
use rettpad_pki::issue::{Ca, Issued};
use rettpad_pki::{Identity, Trust};
use rettpad_record::keys;
use rettpad_record::{Author, Event, HandoverMode, MissionId, Payload, Status, Target, Value};
use rettpad_sim::sample;
use rettpad_text::{Lang, UserMessage};
use rettpad_vault::FileKeyProvider;
use rettpad_vault::store::{SharedStore, Store, StoreOptions};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

const T0: i64 = 1_795_305_600_000;
const NEF: (&str, &str) = ("PAD-NEF-0002", "NEF 3/82-1");
const RTW: (&str, &str) = ("PAD-RTW-0001", "RTW 3/83-1");

struct Org {
    ca: Ca,
    nef: Issued,
    rtw: Issued,
}

fn org() -> Org {
    let ca = Ca::generate("Rettungsdienst Test-CA").unwrap();
    let nef = ca.issue_pad(NEF.0, NEF.1).unwrap();
    let rtw = ca.issue_pad(RTW.0, RTW.1).unwrap();
    Org { ca, nef, rtw }
}

fn creds(ca: &Ca, me: &Issued, crls: &[String]) -> Credentials {
    let crls: Vec<Vec<u8>> = crls.iter().map(|c| c.as_bytes().to_vec()).collect();
    Credentials {
        identity: Arc::new(
            Identity::from_pem(me.cert_pem.as_bytes(), me.key_pem.as_bytes()).unwrap(),
        ),
        trust: Arc::new(Trust::from_pem(ca.cert_pem().as_bytes(), &crls).unwrap()),
    }
}

fn peer(p: (&str, &str)) -> Peer {
    Peer {
        serial: p.0.into(),
        call_sign: p.1.into(),
    }
}

fn store(dir: &Path, device: &str) -> SharedStore {
    let clock: SharedClock = TestClock::new(T0 + 3_600_000);
    let mut s = Store::open(
        &dir.join(device),
        Arc::new(FileKeyProvider::new(dir.join(format!("{device}.key")))),
        clock,
        StoreOptions::default(),
    )
    .unwrap();
    s.set_author(Some(Author {
        device: device.into(),
        crew_member: Uuid::from_u128(u128::from(device.len() as u32)),
    }));
    SharedStore::new(s)
}

/// The NEF pad with the resuscitation sample (events by the NEF pad and its
/// monitor, two 12-lead strips) plus a local remark.
fn nef_pad(dir: &Path) -> (SharedStore, MissionId) {
    let s = store(dir, NEF.0);
    let sample = sample::resuscitation();
    let m = sample.mission();
    {
        let mut g = s.lock();
        g.merge(m, &sample.events).unwrap();
        for st in &sample.strips {
            g.merge_strip(m, &st.encode()).unwrap();
        }
        // A noisy strip (like real ECG) spans several compressed chunks.
        let mut noisy = sample.strips[0].clone();
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        for l in &mut noisy.leads {
            for x in &mut l.samples {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                *x = x.saturating_add((rng % 17) as i16 - 8);
            }
        }
        noisy.label = "12-Kanal-EKG (verrauscht)".into();
        let patient = sample.patients()[0];
        g.put_strip(m, patient, &noisy).unwrap();
        g.apply(
            m,
            Payload::Set {
                target: Target::Mission,
                field: keys::remarks::TEXT.into(),
                value: Value::Text("Notarzt fährt nicht mit".into()),
            },
        )
        .unwrap();
    }
    (s, m)
}

fn pty_pair() -> (Box<dyn Link>, Box<dyn Link>) {
    let (a, b) = serialport::TTYPort::pair().unwrap();
    (
        Box::new(SerialLink::from_port(a)),
        Box::new(SerialLink::from_port(b)),
    )
}

fn tcp_pair() -> (Box<dyn Link>, Box<dyn Link>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    c.set_nodelay(true).unwrap();
    s.set_nodelay(true).unwrap();
    (
        Box::new(TcpLink::from_stream(c)),
        Box::new(TcpLink::from_stream(s)),
    )
}

struct Run {
    recv: Result<Report, Failure>,
    send: Result<Report, Failure>,
    recv_events: Vec<UiEvent>,
    send_events: Vec<UiEvent>,
    recv_stats: WireStats,
}

struct Setup {
    recv_creds: Credentials,
    send_creds: Credentials,
    /// What the sender's user does and after how many ms.
    answer: Option<(u64, UserDecision)>,
    confirm_ms: u64,
    sel: MissionSel,
}

/// Runs one handover: the sender (NEF) in a thread, the receiver (RTW) here.
fn handover(
    links: (Box<dyn Link>, Box<dyn Link>),
    send_store: &SharedStore,
    recv_store: &SharedStore,
    setup: &Setup,
) -> Run {
    let (mut lr, mut ls) = links;
    let start = Instant::now();
    let send_store = send_store.clone();
    let (send_creds, answer, confirm_ms) =
        (setup.send_creds.clone(), setup.answer, setup.confirm_ms);
    let sender = std::thread::spawn(move || {
        let now = move || start.elapsed().as_millis() as u64;
        let mut prompted_at: Option<u64> = None;
        let mut answered = false;
        let mut events = Vec::new();
        let mut src = StoreSource { store: send_store };
        let (r, stats) = {
            let prompted = std::cell::Cell::new(None::<u64>);
            let mut on_event = |e: UiEvent| {
                if matches!(e, UiEvent::IncomingRequest { .. }) {
                    prompted.set(Some(now()));
                }
                events.push(e);
            };
            let mut control = || {
                if prompted_at.is_none() {
                    prompted_at = prompted.get();
                }
                match (prompted_at, answer) {
                    (Some(t), Some((after, d))) if !answered && now() >= t + after => {
                        answered = true;
                        Some(Control::Decide(d))
                    }
                    _ => None,
                }
            };
            let mut io = Io {
                now_ms: &now,
                control: &mut control,
                on_event: &mut on_event,
                stats: WireStats::default(),
            };
            let r = run_responder(
                ls.as_mut(),
                &send_creds,
                &[peer(RTW)],
                confirm_ms,
                &mut src,
                &mut io,
            );
            (r, io.stats)
        };
        let _ = stats;
        (r, events)
    });
    let now = move || start.elapsed().as_millis() as u64;
    let mut recv_events = Vec::new();
    let mut sink = StoreSink {
        store: recv_store.clone(),
    };
    let mut on_event = |e: UiEvent| recv_events.push(e);
    let mut control = || None;
    let mut io = Io {
        now_ms: &now,
        control: &mut control,
        on_event: &mut on_event,
        stats: WireStats::default(),
    };
    let recv = run_requester(
        lr.as_mut(),
        &setup.recv_creds,
        &peer(NEF),
        RTW.1,
        setup.sel,
        &mut sink,
        &mut io,
    );
    let recv_stats = io.stats;
    drop(lr); // the sender must see the end even if we failed early
    let (send, send_events) = sender.join().unwrap();
    Run {
        recv,
        send,
        recv_events,
        send_events,
        recv_stats,
    }
}

fn allow_setup(o: &Org, m: MissionId) -> Setup {
    Setup {
        recv_creds: creds(&o.ca, &o.rtw, &[]),
        send_creds: creds(&o.ca, &o.nef, &[]),
        answer: Some((300, UserDecision::Allow(AfterHandover::Keep))),
        confirm_ms: 10_000,
        sel: MissionSel::One(m),
    }
}

/// Events of `m` on a pad, without the receiver's own handover records.
fn data_events(s: &SharedStore, m: MissionId) -> Vec<Event> {
    s.lock()
        .log(m)
        .map(|l| {
            l.events()
                .iter()
                .filter(|e| !matches!(e.payload, Payload::LogMerged { .. }))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn check_confirmed(run: &Run, send: &SharedStore, recv: &SharedStore, m: MissionId) {
    let rep = run.recv.as_ref().expect("receiver finished");
    assert!(run.send.is_ok(), "{:?}", run.send);
    let (s, r) = (send.lock(), recv.lock());
    let (ss, rs) = (s.state(m).unwrap(), r.state(m).unwrap());
    // Field by field: mission fields, crew, patients, entries with histories
    // (so every value keeps its author and device), strips.
    assert_eq!(rs.call_sign, ss.call_sign);
    assert_eq!(rs.crew, ss.crew);
    assert_eq!(rs.fields, ss.fields);
    assert_eq!(rs.patients, ss.patients);
    assert_eq!(rs.entries, ss.entries);
    assert_eq!(rs.opened_ms, ss.opened_ms);
    assert!(rs.rejected.is_empty(), "{:?}", rs.rejected);
    let remark = rs.fields[keys::remarks::TEXT].history.last().unwrap();
    assert_eq!(remark.device, NEF.0, "the remark stays the NEF pad's");
    assert_eq!(remark.author, Uuid::from_u128(NEF.0.len() as u128));
    // Every sender event arrived unchanged (author, device, chain).
    let sent_log = s.log(m).unwrap();
    let got_log = r.log(m).unwrap();
    for e in sent_log.events() {
        if matches!(e.payload, Payload::HandedOver { .. }) {
            continue; // recorded after the transfer
        }
        assert_eq!(got_log.hash_of(e.id), Some(e.hash()));
    }
    assert!(got_log.verify().is_empty());
    // Strips: both 12-lead strips decrypt on the receiver.
    let refs = r.strip_refs(m).unwrap();
    assert!(refs.len() >= 3);
    assert!(refs.iter().all(|(_, here)| *here));
    for (h, _) in &refs {
        assert_eq!(r.strip(m, h).unwrap(), s.strip(m, h).unwrap());
    }
    // Both pads recorded the handover with both call signs and the digest.
    let digest = rep.missions[0].sender_digest;
    assert_eq!(rs.merges.len(), 1);
    assert_eq!(rs.merges[0].from_call_sign, NEF.1);
    assert_eq!(rs.merges[0].log_digest, digest);
    let ho = ss.handovers.last().unwrap();
    assert_eq!(
        (ho.mode, ho.to.as_str(), ho.document_sha256),
        (HandoverMode::PadToPad, RTW.1, Some(digest))
    );
    assert_eq!(ss.status, Status::HandedOver, "kept as übergeben");
    assert!(
        run.recv_events
            .iter()
            .any(|e| matches!(e, UiEvent::AwaitingConfirmation { .. }))
    );
    assert!(run.send_events.iter().any(
        |e| matches!(e, UiEvent::IncomingRequest { from_call_sign, missions, .. }
            if from_call_sign == RTW.1 && missions.len() == 1 && missions[0].patients.len() == 1)
    ));
    let last = run.recv_events.iter().rev().find_map(|e| match e {
        UiEvent::Progress { done, total } => Some((*done, *total)),
        _ => None,
    });
    assert!(matches!(last, Some((d, t)) if d == t && t >= 3));
}

#[test]
fn confirmed_handover_over_pty() {
    let tmp = tempfile::tempdir().unwrap();
    let o = org();
    let (nef, m) = nef_pad(tmp.path());
    let rtw = store(tmp.path(), RTW.0);
    let run = handover(pty_pair(), &nef, &rtw, &allow_setup(&o, m));
    check_confirmed(&run, &nef, &rtw, m);
}

#[test]
fn confirmed_handover_over_tcp_and_repeat_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    let o = org();
    let (nef, m) = nef_pad(tmp.path());
    let rtw = store(tmp.path(), RTW.0);
    let run = handover(tcp_pair(), &nef, &rtw, &allow_setup(&o, m));
    check_confirmed(&run, &nef, &rtw, m);
    let before = data_events(&rtw, m).len();
    let mut setup = allow_setup(&o, m);
    setup.sel = MissionSel::AllOpen;
    let again = handover(tcp_pair(), &nef, &rtw, &setup);
    let rep = again.recv.unwrap();
    // Only the sender's own handover record is new; no strip again.
    assert_eq!(rep.missions[0].added, 1);
    assert_eq!(rep.missions[0].strips, 0);
    assert_eq!(data_events(&rtw, m).len(), before + 1);
}

#[test]
fn refused_handover_sends_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let o = org();
    let (nef, m) = nef_pad(tmp.path());
    let rtw = store(tmp.path(), RTW.0);
    let mut setup = allow_setup(&o, m);
    setup.answer = Some((200, UserDecision::Deny));
    let run = handover(tcp_pair(), &nef, &rtw, &setup);
    assert_eq!(run.recv, Err(Failure::Refused));
    assert_eq!(run.send, Err(Failure::Refused));
    assert!(rtw.lock().log(m).is_none());
    assert!(nef.lock().state(m).unwrap().handovers.is_empty());
}

#[test]
fn no_answer_times_out_and_nothing_is_received() {
    let tmp = tempfile::tempdir().unwrap();
    let o = org();
    let (nef, m) = nef_pad(tmp.path());
    let rtw = store(tmp.path(), RTW.0);
    let mut setup = allow_setup(&o, m);
    setup.answer = None;
    setup.confirm_ms = 1_500; // the 10 s rule itself is in proto's unit tests
    let run = handover(pty_pair(), &nef, &rtw, &setup);
    assert_eq!(run.recv, Err(Failure::NoConfirmation));
    assert_eq!(run.send, Err(Failure::NoConfirmation));
    assert!(
        Failure::NoConfirmation
            .message(Lang::De)
            .contains("Abgelehnt / keine Bestätigung")
    );
    assert!(rtw.lock().log(m).is_none());
    assert!(
        run.recv_stats.received < 8_000,
        "only handshake and refusal"
    );
}

#[test]
fn foreign_certificate_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let o = org();
    let foreign = Ca::generate("Fremde Organisation").unwrap();
    let intruder = foreign.issue_pad(RTW.0, RTW.1).unwrap();
    let (nef, m) = nef_pad(tmp.path());
    let rtw = store(tmp.path(), RTW.0);
    // A foreign receiver asks the NEF pad.
    let mut setup = allow_setup(&o, m);
    setup.recv_creds = creds(&o.ca, &intruder, &[]);
    let run = handover(tcp_pair(), &nef, &rtw, &setup);
    assert_eq!(run.send, Err(Failure::UntrustedPeer));
    assert!(
        matches!(run.recv, Err(Failure::RefusedByPeer(_))),
        "{:?}",
        run.recv
    );
    assert!(
        run.send_events
            .iter()
            .all(|e| !matches!(e, UiEvent::IncomingRequest { .. }))
    );
    // A foreign sender answers our receiver.
    let mut setup = allow_setup(&o, m);
    setup.send_creds = creds(&foreign, &foreign.issue_pad(NEF.0, NEF.1).unwrap(), &[]);
    let run = handover(pty_pair(), &nef, &rtw, &setup);
    assert_eq!(run.recv, Err(Failure::UntrustedPeer));
    assert!(
        Failure::UntrustedPeer
            .message(Lang::De)
            .contains("Fremdes Gerät")
    );
    assert!(rtw.lock().log(m).is_none());
}

#[test]
fn revoked_certificate_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let o = org();
    let (nef, m) = nef_pad(tmp.path());
    let rtw = store(tmp.path(), RTW.0);
    let now = T0 / 1000;
    let crl = o.ca.crl_pem(&[&o.rtw], now).unwrap();
    let mut setup = allow_setup(&o, m);
    setup.send_creds = creds(&o.ca, &o.nef, &[crl]);
    let run = handover(tcp_pair(), &nef, &rtw, &setup);
    assert_eq!(run.send, Err(Failure::RevokedPeer));
    assert!(matches!(run.recv, Err(Failure::RefusedByPeer(_))));
    // The receiver refuses a revoked sender the same way.
    let crl = o.ca.crl_pem(&[&o.nef], now).unwrap();
    let mut setup = allow_setup(&o, m);
    setup.recv_creds = creds(&o.ca, &o.rtw, &[crl]);
    let run = handover(tcp_pair(), &nef, &rtw, &setup);
    assert_eq!(run.recv, Err(Failure::RevokedPeer));
    assert!(rtw.lock().log(m).is_none());
}

#[test]
fn link_cut_at_random_points_then_retry_gives_the_same_state() {
    let tmp = tempfile::tempdir().unwrap();
    let o = org();
    let (nef, m) = nef_pad(tmp.path());
    // Reference: one clean handover.
    let clean = store(tmp.path(), "PAD-RTW-CLEAN");
    let mut setup = allow_setup(&o, m);
    setup.answer = Some((0, UserDecision::Allow(AfterHandover::Keep)));
    let run = handover(tcp_pair(), &nef, &clean, &setup);
    let total = run.recv_stats.received + run.recv_stats.sent;
    let want = data_events(&clean, m);
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    for seed in 0..5u64 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let cut = (rng % total) as usize;
        let dir = tmp.path().join(format!("cut{seed}"));
        let rtw = store(&dir, RTW.0);
        let (a, b) = tcp_pair();
        let cut_link: Box<dyn Link> = Box::new(CutAfter::new(a, cut));
        let first = handover((cut_link, b), &nef, &rtw, &setup);
        // A cut inside the final close_notify exchange no longer matters.
        assert!(
            first.recv.is_err() || cut + 200 > total as usize,
            "cut at {cut} of {total}"
        );
        // Whatever arrived is whole and verifies.
        if let Some(l) = rtw.lock().log(m) {
            assert!(l.verify().is_empty());
        }
        let retry = handover(tcp_pair(), &nef, &rtw, &setup);
        let rep = retry
            .recv
            .unwrap_or_else(|f| panic!("retry after cut {cut}: {f:?}"));
        assert_eq!(rep.missions[0].duplicates, 0, "resume sends only the rest");
        let got = data_events(&rtw, m);
        // The same events (the sender's handover records may differ in number).
        let strip = |v: &[Event]| -> Vec<Event> {
            v.iter()
                .filter(|e| !matches!(e.payload, Payload::HandedOver { .. }))
                .cloned()
                .collect()
        };
        assert_eq!(strip(&got), strip(&want), "cut at {cut}");
        let g = rtw.lock();
        assert!(g.strip_refs(m).unwrap().iter().all(|(_, here)| *here));
        assert_eq!(g.state(m).unwrap().merges.len(), 1);
    }
}

#[test]
fn both_crews_edit_the_same_mission_and_the_conflict_is_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let o = org();
    let (nef, m) = nef_pad(tmp.path());
    let rtw = store(tmp.path(), RTW.0);
    let setup = allow_setup(&o, m);
    handover(tcp_pair(), &nef, &rtw, &setup).recv.unwrap();
    // Both crews go on documenting the same field differently.
    let set = |s: &SharedStore, text: &str| {
        s.lock()
            .apply(
                m,
                Payload::Set {
                    target: Target::Mission,
                    field: keys::remarks::TEXT.into(),
                    value: Value::Text(text.into()),
                },
            )
            .unwrap();
    };
    set(&nef, "NA: Übergabe an RTW, Pat. stabil");
    set(&rtw, "RTW: Transport ins Herzzentrum");
    let run = handover(tcp_pair(), &nef, &rtw, &setup);
    run.recv.unwrap();
    let r = rtw.lock();
    let st = r.state(m).unwrap();
    let hist = &st.fields[keys::remarks::TEXT].history;
    let texts: Vec<String> = hist
        .iter()
        .filter_map(|h| match &h.value {
            Some(Value::Text(t)) => Some(format!("{}:{t}", h.device)),
            _ => None,
        })
        .collect();
    assert!(texts.contains(&format!("{}:NA: Übergabe an RTW, Pat. stabil", NEF.0)));
    assert!(texts.contains(&format!("{}:RTW: Transport ins Herzzentrum", RTW.0)));
    let c = conflicts(st);
    let remark = c
        .iter()
        .find(|c| c.field == keys::remarks::TEXT)
        .expect("conflict shown");
    let devices: Vec<&str> = remark.values.iter().map(|v| v.device.as_str()).collect();
    assert!(devices.contains(&NEF.0) && devices.contains(&RTW.0));
    assert!(!remark.message(Lang::De).is_empty());
}

#[test]
fn a_pad_that_is_not_paired_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let o = org();
    let stranger = o.ca.issue_pad("PAD-KTW-0009", "KTW 3/85-1").unwrap();
    let (nef, m) = nef_pad(tmp.path());
    let rtw = store(tmp.path(), RTW.0);
    let mut setup = allow_setup(&o, m);
    setup.recv_creds = creds(&o.ca, &stranger, &[]);
    let run = handover(tcp_pair(), &nef, &rtw, &setup);
    assert_eq!(run.send, Err(Failure::NotPaired));
    assert_eq!(run.recv, Err(Failure::NotPaired));
    let _ = Duration::ZERO;
}

#[test]
fn service_facade_runs_a_handover_between_two_threads() {
    use rettpad_pad::handover_service::{LinkSpec, PairedLink};
    use rettpad_pad::{Service, ServiceConfig, ServiceEvent};
    let tmp = tempfile::tempdir().unwrap();
    let o = org();
    let (nef, m) = nef_pad(tmp.path());
    let rtw = store(tmp.path(), RTW.0);
    // A free loopback port for the NEF pad's listener.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let nef_svc = Service::start(
        ServiceConfig {
            own_call_sign: NEF.1.into(),
            creds: creds(&o.ca, &o.nef, &[]),
            paired: vec![PairedLink {
                peer: peer(RTW),
                link: LinkSpec::Tcp("127.0.0.1:9".parse().unwrap()),
            }],
            listen: Some(LinkSpec::Tcp(addr)),
            confirm_ms: 10_000,
        },
        nef.clone(),
    )
    .unwrap();
    let rtw_svc = Service::start(
        ServiceConfig {
            own_call_sign: RTW.1.into(),
            creds: creds(&o.ca, &o.rtw, &[]),
            paired: vec![PairedLink {
                peer: peer(NEF),
                link: LinkSpec::parse(&format!("tcp:{addr}")).unwrap(),
            }],
            listen: None,
            confirm_ms: 10_000,
        },
        rtw.clone(),
    )
    .unwrap();
    assert_eq!(rtw_svc.paired()[0].call_sign, NEF.1);
    rtw_svc.request(NEF.0, MissionSel::AllOpen);
    let deadline = Instant::now() + Duration::from_secs(20);
    let (mut recv_done, mut send_done) = (None, None);
    while (recv_done.is_none() || send_done.is_none()) && Instant::now() < deadline {
        if let Ok(ev) = nef_svc.events().recv_timeout(Duration::from_millis(20)) {
            match ev {
                ServiceEvent::IncomingRequest {
                    from_call_sign,
                    deadline,
                    ..
                } => {
                    assert_eq!(from_call_sign, RTW.1);
                    assert!(deadline > Instant::now());
                    nef_svc.respond(UserDecision::Allow(AfterHandover::Close));
                }
                ServiceEvent::Finished(r) => send_done = Some(Ok(r)),
                ServiceEvent::Failed(f) => send_done = Some(Err(f)),
                _ => {}
            }
        }
        while let Ok(ev) = rtw_svc.events().try_recv() {
            match ev {
                ServiceEvent::Finished(r) => recv_done = Some(Ok(r)),
                ServiceEvent::Failed(f) => recv_done = Some(Err(f)),
                _ => {}
            }
        }
    }
    assert!(matches!(recv_done, Some(Ok(_))), "{recv_done:?}");
    assert!(matches!(send_done, Some(Ok(_))), "{send_done:?}");
    let got = rtw.lock().log(m).unwrap().clone();
    for e in nef.lock().log(m).unwrap().events() {
        if !matches!(e.payload, Payload::HandedOver { .. } | Payload::Closed) {
            assert_eq!(got.hash_of(e.id), Some(e.hash()));
        }
    }
    // Closed after the handover if the rules allow it, else kept "übergeben".
    let status = nef.lock().state(m).unwrap().status;
    assert!(matches!(status, Status::Closed | Status::HandedOver));
    drop(nef_svc);
    drop(rtw_svc);
}
