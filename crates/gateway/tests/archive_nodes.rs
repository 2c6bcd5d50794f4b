//! Several gateway processes on one PostgreSQL archive (the DIVERA case: a
//! node added while packets flow). Every receipted packet ends up in the
//! archive exactly once, under its pad's organisation, with no id handed
//! out twice, whichever node took it.

mod common;

use common::{GW, Gw, Pki, free_port};
use rettpad_backoffice::Scope;
use rettpad_gateway::GatewayConfig;
use rettpad_pad::config::Config;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use uuid::Uuid;

const PADS: [(&str, &str, &str); 2] = [
    ("DEMO-PAD-0001", "RTW 1/83-1", "org-a"),
    ("DEMO-PAD-0002", "NEF 1/82-1", "org-b"),
];

fn node_config(pki: &Pki, url: &str, i: usize) -> (std::path::PathBuf, u16) {
    let mut c = GatewayConfig::load(&pki.dir.join("gateway.toml")).unwrap();
    let port = free_port();
    c.listen = format!("127.0.0.1:{port}").parse().unwrap();
    c.hospital_listen = "127.0.0.1:0".parse().unwrap();
    c.data_dir = pki.dir.join(format!("gw-{i}"));
    c.archive.url = Some(url.to_string());
    c.archive.node = Some(format!("gw-{i}"));
    for p in &mut c.pads {
        p.org = PADS
            .iter()
            .find(|(s, _, _)| *s == p.serial)
            .map(|(_, _, o)| o.to_string());
    }
    let path = pki.dir.join(format!("gateway-{i}.toml"));
    std::fs::write(&path, c.to_toml()).unwrap();
    (path, port)
}

fn uploader(
    pki: &Pki,
    serial: &str,
    call_sign: &str,
    port: u16,
) -> rettpad_transfer::uploader::Uploader {
    let cfg = Config::load(&pki.dir.join(format!("pad-{serial}.toml"))).unwrap();
    let mut u = cfg.upload.unwrap();
    u.gateway_url = format!("https://localhost:{port}");
    rettpad_transfer::uploader_from_config(&u, serial, call_sign).unwrap()
}

#[test]
fn three_nodes_one_archive_every_receipt_filed_once() {
    let pki = Pki::new();
    let _ = GW;
    let url = rettpad_sim::postgres::TempCluster::fresh_database().unwrap();
    let mut nodes = Vec::new();
    let mut ports = Vec::new();
    for i in 0..2 {
        let (path, port) = node_config(&pki, &url, i);
        nodes.push(Gw::start_config(&path));
        ports.push(port);
    }
    // Four pads' worth of senders at once (two per organisation); the
    // third node starts when half the packets are receipted.
    const SENDERS: usize = 4;
    const EACH: usize = 30;
    let ports = std::sync::Mutex::new(ports);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    // packet id → the pad's organisation, for every receipt received.
    let receipted: BTreeMap<Uuid, &str> = std::thread::scope(|sc| {
        let senders: Vec<_> = (0..SENDERS)
            .map(|t| {
                let (pki, ports, done) = (&pki, &ports, &done);
                sc.spawn(move || {
                    let mut mine = Vec::new();
                    for k in 0..EACH {
                        let round = t * EACH + k;
                        let (serial, call_sign, org) = PADS[t % 2];
                        let s = rettpad_sim::sample::standard_at(round as u64);
                        let p = common::backoffice::sealed(
                            pki,
                            round as u64,
                            serial,
                            call_sign,
                            serde_json::to_vec(&s.events).unwrap(),
                        );
                        let now: Vec<u16> = ports.lock().unwrap().clone();
                        let port = now[round % now.len()];
                        uploader(pki, serial, call_sign, port)
                            .send(p.packet_id, &p.sha256, &p.bytes)
                            .unwrap();
                        mine.push((p.packet_id, org));
                        done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        // Every fifth packet is sent again to another node
                        // (a pad that failed over before its receipt came):
                        // a second receipt, one protocol.
                        if round.is_multiple_of(5) {
                            let other = now[(round + 1) % now.len()];
                            uploader(pki, serial, call_sign, other)
                                .send(p.packet_id, &p.sha256, &p.bytes)
                                .unwrap();
                        }
                    }
                    mine
                })
            })
            .collect();
        while done.load(std::sync::atomic::Ordering::SeqCst) < SENDERS * EACH / 2 {
            std::thread::sleep(Duration::from_millis(20));
        }
        let (path, port) = node_config(&pki, &url, 2);
        nodes.push(Gw::start_config(&path));
        ports.lock().unwrap().push(port);
        senders
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(receipted.len(), SENDERS * EACH);

    let archive = rettpad_gateway::archiver::open_archive(&{
        let mut c = GatewayConfig::load(&pki.dir.join("gateway-0.toml")).unwrap();
        c.archive.node = Some("test".into());
        c
    })
    .unwrap();
    let all = Scope::orgs(["org-a", "org-b"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = archive.list(&all, None, 1_000).unwrap().len();
        if n >= receipted.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{n} of {} archived",
            receipted.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // A figure for docs/backoffice.md, not an assertion.
    println!(
        "archive_nodes: {} packets ({} receipts) from {SENDERS} senders over 3 nodes, all archived after {:.1} s",
        receipted.len(),
        receipted.len() + receipted.len() / 5,
        started.elapsed().as_secs_f64()
    );
    let list = archive.list(&all, None, 1_000).unwrap();
    let ids: BTreeSet<Uuid> = list.iter().map(|s| s.id).collect();
    assert_eq!(list.len(), ids.len(), "no protocol twice");
    assert_eq!(
        ids,
        receipted.keys().copied().collect::<BTreeSet<_>>(),
        "every receipt's packet in the archive, nothing else"
    );
    for s in &list {
        assert_eq!(
            s.org, receipted[&s.id],
            "{} filed under the wrong organisation",
            s.id
        );
    }
    // Each organisation sees exactly its own pad's protocols.
    for (_, _, org) in PADS {
        let own = archive.list(&Scope::org(org), None, 1_000).unwrap();
        assert_eq!(own.len(), SENDERS * EACH / 2);
        assert!(own.iter().all(|s| s.org == org));
    }
    assert!(archive.issues(&all).unwrap().is_empty());
    // All three nodes filed, and the third from the moment it started.
    let nodes_seen = archive
        .db()
        .read(&all, |tx| {
            tx.query("SELECT DISTINCT node FROM v_protocol ORDER BY node", &[])
        })
        .unwrap()
        .iter()
        .map(|r| r.text(0).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(nodes_seen, ["gw-0", "gw-1", "gw-2"]);
    drop(nodes);
}
