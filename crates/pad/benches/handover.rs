//! A typical mission (one patient, 60 min of vitals, ~30 events, two 10 s
//! 12-lead strips) handed over pad to pad over loopback TCP throttled to
//! 1 Mbit/s per direction, TLS 1.3 handshake included, the sender's user
//! answering at once. Prints the bytes on the wire once.
//!
//! `cargo bench --bench handover`

use criterion::{Criterion, criterion_group, criterion_main};
use rettpad_clock::{SharedClock, TestClock};
use rettpad_devices::link::{Link, TcpLink};
use rettpad_handover::frame::MissionSel;
use rettpad_handover::link::Throttled;
use rettpad_handover::proto::{AfterHandover, UiEvent, UserDecision};
use rettpad_handover::session::{
    Control, Credentials, Io, Peer, WireStats, run_requester, run_responder,
};
use rettpad_pad::handover_io::{StoreSink, StoreSource};
use rettpad_pki::issue::Ca;
use rettpad_pki::{Identity, Trust};
use rettpad_record::wave::StripKind;
use rettpad_record::{Author, MissionId};
use rettpad_sim::sample;
use rettpad_vault::FileKeyProvider;
use rettpad_vault::store::{SharedStore, Store, StoreOptions};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BPS: u64 = 1_000_000;

fn store(dir: &Path, device: &str) -> SharedStore {
    let clock: SharedClock = TestClock::new(1_795_309_200_000);
    let mut s = Store::open(
        &dir.join(device),
        Arc::new(FileKeyProvider::new(dir.join(format!("{device}.key")))),
        clock,
        StoreOptions::default(),
    )
    .expect("store");
    s.set_author(Some(Author {
        device: device.into(),
        crew_member: uuid::Uuid::from_u128(1),
    }));
    SharedStore::new(s)
}

fn pair() -> (Box<dyn Link>, Box<dyn Link>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let c = TcpStream::connect(l.local_addr().expect("addr")).expect("connect");
    let (s, _) = l.accept().expect("accept");
    c.set_nodelay(true).expect("nodelay");
    s.set_nodelay(true).expect("nodelay");
    (
        Box::new(Throttled::new(TcpLink::from_stream(c), BPS)),
        Box::new(Throttled::new(TcpLink::from_stream(s), BPS)),
    )
}

struct Pads {
    ca_pem: String,
    nef: (String, String),
    rtw: (String, String),
}

fn creds(p: &Pads, me: &(String, String)) -> Credentials {
    Credentials {
        identity: Arc::new(Identity::from_pem(me.0.as_bytes(), me.1.as_bytes()).expect("id")),
        trust: Arc::new(Trust::from_pem(p.ca_pem.as_bytes(), &[]).expect("trust")),
    }
}

/// One handover; returns the time and the bytes on the wire.
fn once(p: &Pads, nef: &SharedStore, rtw: &SharedStore, m: MissionId) -> (Duration, WireStats) {
    let (mut lr, mut ls) = pair();
    let (send_creds, recv_creds) = (creds(p, &p.nef), creds(p, &p.rtw));
    let nef = nef.clone();
    let start = Instant::now();
    let sender = std::thread::spawn(move || {
        let now = move || start.elapsed().as_millis() as u64;
        // Erlauben as soon as the prompt shows.
        let prompted = std::cell::Cell::new(false);
        let mut answered = false;
        let mut control = || {
            (prompted.get() && !answered).then(|| {
                answered = true;
                Control::Decide(UserDecision::Allow(AfterHandover::Keep))
            })
        };
        let mut on_event = |e: UiEvent| {
            if matches!(e, UiEvent::IncomingRequest { .. }) {
                prompted.set(true);
            }
        };
        let mut io = Io {
            now_ms: &now,
            control: &mut control,
            on_event: &mut on_event,
            stats: WireStats::default(),
        };
        let rtw = Peer {
            serial: sample::RTW_PAD.into(),
            call_sign: sample::RTW_CALL_SIGN.into(),
        };
        let mut src = StoreSource { store: nef };
        run_responder(ls.as_mut(), &send_creds, &[rtw], 10_000, &mut src, &mut io).is_ok()
    });
    let now = move || start.elapsed().as_millis() as u64;
    let mut control = || None;
    let mut on_event = |_e: UiEvent| {};
    let mut io = Io {
        now_ms: &now,
        control: &mut control,
        on_event: &mut on_event,
        stats: WireStats::default(),
    };
    let nef_peer = Peer {
        serial: sample::NEF_PAD.into(),
        call_sign: sample::NEF_CALL_SIGN.into(),
    };
    let mut sink = StoreSink { store: rtw.clone() };
    let r = run_requester(
        lr.as_mut(),
        &recv_creds,
        &nef_peer,
        sample::RTW_CALL_SIGN,
        MissionSel::One(m),
        &mut sink,
        &mut io,
    );
    let took = start.elapsed();
    assert!(r.is_ok(), "{r:?}");
    assert!(sender.join().unwrap_or(false));
    (took, io.stats)
}

fn bench(c: &mut Criterion) {
    let ca = Ca::generate("Bench CA").expect("ca");
    let nef_i = ca
        .issue_pad(sample::NEF_PAD, sample::NEF_CALL_SIGN)
        .expect("nef");
    let rtw_i = ca
        .issue_pad(sample::RTW_PAD, sample::RTW_CALL_SIGN)
        .expect("rtw");
    let pads = Pads {
        ca_pem: ca.cert_pem(),
        nef: (nef_i.cert_pem, nef_i.key_pem),
        rtw: (rtw_i.cert_pem, rtw_i.key_pem),
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let mut g = c.benchmark_group("handover");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    // The sample strips are synthetic and compress extremely well; real ECG
    // carries noise, so the second case adds ±8 LSB of pseudo-random noise.
    for (name, noise) in [
        ("typical_mission_1mbit", 0i16),
        ("typical_mission_noisy_ecg_1mbit", 8),
    ] {
        let nef = store(&tmp.path().join(name), sample::NEF_PAD);
        let std = sample::standard();
        let m = std.mission();
        let Some(&patient) = std.patients().first() else {
            return;
        };
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let strips: Vec<_> = sample::resuscitation()
            .strips
            .into_iter()
            .filter(|s| s.kind == StripKind::TwelveLead)
            .take(2)
            .map(|mut s| {
                for l in &mut s.leads {
                    for x in &mut l.samples {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let span = (2 * noise + 1) as u64;
                        *x = x.saturating_add((rng % span) as i16 - noise);
                    }
                }
                s
            })
            .collect();
        {
            let mut st = nef.lock();
            st.merge(m, &std.events).expect("merge");
            for s in &strips {
                st.put_strip(m, patient, s).expect("strip");
            }
        }
        let events = nef.lock().log(m).map_or(0, |l| l.len());
        let raw: usize = strips.iter().map(|s| s.encode().len()).sum();
        let probe = store(&tmp.path().join(format!("{name}-probe")), sample::RTW_PAD);
        let (took, stats) = once(&pads, &nef, &probe, m);
        eprintln!(
            "{name}: {events} events, {} strips ({raw} B raw): {:.2} s, wire {} B to receiver, {} B to sender",
            strips.len(),
            took.as_secs_f64(),
            stats.received,
            stats.sent
        );
        let mut n = 0u32;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    n += 1;
                    let rtw = store(&tmp.path().join(format!("{name}-{n}")), sample::RTW_PAD);
                    total += once(&pads, &nef, &rtw, m).0;
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
