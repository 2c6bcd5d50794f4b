//! The fleet end to end on loopback: `rettpad-gateway provision …` as the
//! operator runs it beside a real gateway process, and a real pad core
//! (vault on disk, uploader and channel over mTLS) enrolled with the
//! organisation's root: packages applied and refused, remote lock, unlock
//! and wipe, a replayed command, and the pads' status.

mod common;
use common::fleet::*;
use common::*;

use rettpad_gateway::fleet;
use rettpad_pad::session::Qualification;
use rettpad_pad::{PadEvent, Unlock};
use rettpad_provision::keys::{KeyCert, Purpose, RootKey, SigningKey, public_hex_of};
use rettpad_provision::package::{Builder, PartName, Target};
use rettpad_transfer::channel_link::{ChannelLink, LinkError, PadStatus};
use serde_json::json;
use std::time::{Duration, Instant};

const NEF_SERIAL: &str = "DEMO-PAD-0002";

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn packages_are_built_published_applied_and_refused_with_their_reasons() {
    let pki = Pki::new();
    fast_channel(&pki);
    let tmp = tempfile::tempdir().unwrap();

    // Keys: the root offline, private modes, never overwritten.
    let trust = keys(&pki);
    assert_eq!(trust.org, ORG);
    for f in [
        "offline/root.pkcs8",
        "fleet-packages.key",
        "fleet-commands.key",
    ] {
        assert_eq!(mode(&pki.dir.join(f)), 0o600, "{f}");
    }
    assert_eq!(mode(&pki.dir.join("offline")), 0o700);
    let root_before = std::fs::read(pki.dir.join("offline/root.pkcs8")).unwrap();
    let key_before = std::fs::read(pki.dir.join("fleet-packages.key")).unwrap();
    let again = provision(&pki, &["keys", "--org", ORG]);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("refusing to overwrite"),
        "{}",
        text(&again)
    );
    assert_eq!(
        std::fs::read(pki.dir.join("offline/root.pkcs8")).unwrap(),
        root_before
    );
    assert_eq!(
        std::fs::read(pki.dir.join("fleet-packages.key")).unwrap(),
        key_before
    );
    let f = pki.gateway_config().fleet.expect("[fleet] in gateway.toml");
    assert_eq!(
        (f.org.as_str(), f.root_key.as_str()),
        (ORG, trust.root_key.as_str())
    );

    // A bad staff list: the file and the problem named, nothing written.
    let bad = parts_dir(
        tmp.path(),
        &[
            (
                "staff.toml",
                "[[staff]]\nnumber = \"4711\"\nname = \"Anna Berger\"\nqualification = \"chef\"\n",
            ),
            ("hospitals.toml", &hospitals_toml(&pki, "Klinikum Mitte")),
        ],
    );
    let bad_out = tmp.path().join("bad.rpp");
    let o = provision(
        &pki,
        &[
            "build",
            "--from",
            bad.to_str().unwrap(),
            "--to",
            SERIAL,
            "--out",
            bad_out.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    let msg = text(&o);
    assert!(
        msg.contains("staff.toml") && msg.contains("staff member 1: unknown qualification"),
        "{msg}"
    );
    assert!(!bad_out.exists(), "no package file written");

    let _gw = Gw::start(&pki);
    let mut p = FleetPad::start(&pki, &trust);

    // Build and publish for this pad: applied, in effect, reported.
    let parts = parts_dir(
        tmp.path(),
        &[
            (
                "hospitals.toml",
                &hospitals_toml(&pki, "Klinikum Mitte (provisioniert)"),
            ),
            (
                "device.toml",
                &format!("call_sign = \"{CALL_SIGN}\"\ndevice_record_every_min = 2\n"),
            ),
        ],
    );
    let pkg = tmp.path().join("pad-0001.rpp");
    let out = provision_ok(
        &pki,
        &[
            "build",
            "--from",
            parts.to_str().unwrap(),
            "--to",
            SERIAL,
            "--out",
            pkg.to_str().unwrap(),
        ],
    );
    assert!(
        out.contains("device v1, hospitals v1"),
        "the refused build counted no version: {out}"
    );
    assert_eq!(mode(&pkg), 0o600, "the package holds the staff list");
    // A device part for more than one pad is refused at build time.
    let o = provision(
        &pki,
        &[
            "build",
            "--from",
            parts.to_str().unwrap(),
            "--to",
            "all",
            "--out",
            tmp.path().join("x.rpp").to_str().unwrap(),
        ],
    );
    assert!(
        !o.status.success() && text(&o).contains("exactly one pad"),
        "{}",
        text(&o)
    );

    provision_ok(&pki, &["publish", pkg.to_str().unwrap(), "--to", SERIAL]);
    let rep = p.wait("the package", |e| match e {
        PadEvent::Provisioned(r) => Some(r.clone()),
        _ => None,
    });
    assert_eq!(
        rep.parts,
        vec![(PartName::Device, 1), (PartName::Hospitals, 1)]
    );
    assert_eq!(
        p.pad.config().hospitals,
        vec!["Klinikum Mitte (provisioniert)".to_string()]
    );
    assert_eq!(p.pad.config().device_record_every_min, 2);
    assert_eq!(p.pad.config().call_sign, CALL_SIGN);
    let applied = rettpad_pad::fleet::applied(&p.store.lock()).unwrap();
    assert_eq!(
        (
            applied.version(PartName::Device),
            applied.version(PartName::Hospitals)
        ),
        (1, 1)
    );
    let row = wait_status(&pki, SERIAL, "the applied versions", |r| {
        r["parts"]
            == json!([
                { "part": "device", "applied": 1, "published": 1 },
                { "part": "hospitals", "applied": 1, "published": 1 }
            ])
    });
    assert_eq!(row["connected"], true, "{row:#}");
    assert_eq!(row["last_package"]["delivered"], true);
    assert_eq!(row["status"]["last_package"], rep.package_id.to_string());
    let table = provision_ok(&pki, &["status"]);
    let line = table
        .lines()
        .find(|l| l.starts_with(SERIAL))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(
        line.contains("| connected |") && line.contains("device 1/1, hospitals 1/1"),
        "{line}"
    );

    // Built for the other pad, published to ours: the pad refuses it.
    let other_parts = parts_dir(
        tmp.path(),
        &[("hospitals.toml", &hospitals_toml(&pki, "Anderes Klinikum"))],
    );
    let other = tmp.path().join("pad-0002.rpp");
    provision_ok(
        &pki,
        &[
            "build",
            "--from",
            other_parts.to_str().unwrap(),
            "--to",
            NEF_SERIAL,
            "--out",
            other.to_str().unwrap(),
        ],
    );
    let o = provision(&pki, &["publish", other.to_str().unwrap(), "--to", SERIAL]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("not addressed to {SERIAL}")),
        "{}",
        text(&o)
    );
    let n = p.wait("the refusal", |e| match e {
        PadEvent::ProvisionRefused(n) => Some(n.clone()),
        _ => None,
    });
    assert!(n.de.contains("anderes Gerät"), "{n:?}");
    assert_eq!(
        p.pad.config().hospitals,
        vec!["Klinikum Mitte (provisioniert)".to_string()]
    );
    let row = wait_status(&pki, SERIAL, "the refusal", |r| {
        r["status"]["last_refusal"] == "not_for_this_pad"
    });
    assert_eq!(
        row["parts"][1],
        json!({ "part": "hospitals", "applied": 1, "published": 2 })
    );
    let table = provision_ok(&pki, &["status"]);
    assert!(
        table.contains("hospitals 1/2 (pending)") && table.contains("not_for_this_pad"),
        "{table}"
    );

    // A file that does not verify against our root never reaches a pad.
    let queued_before = status_row(&pki, SERIAL)["last_package"].clone();
    let mut tampered = std::fs::read(&pkg).unwrap();
    let mid = tampered.len() / 2;
    tampered[mid] ^= 0x01;
    let (root, _) = RootKey::generate().unwrap();
    let der = SigningKey::generate_pkcs8().unwrap();
    let cert = root
        .certify(&KeyCert {
            org: ORG.into(),
            public_key: public_hex_of(&der).unwrap(),
            purposes: vec![Purpose::Packages],
            not_before_ms: 0,
            expires_ms: i64::MAX,
        })
        .unwrap();
    let foreign = Builder::new(ORG, Target::All, 1)
        .part(
            PartName::Hospitals,
            99,
            rettpad_provision::parts::from_toml(
                PartName::Hospitals,
                &hospitals_toml(&pki, "Fremd"),
            )
            .unwrap(),
        )
        .sign(&SigningKey::new(&der, cert).unwrap())
        .unwrap();
    for (name, bytes, why) in [
        ("tampered.rpp", tampered, ""),
        (
            "foreign.rpp",
            foreign,
            "the signing key is not certified by the enrolled root",
        ),
    ] {
        let path = tmp.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let o = provision(&pki, &["publish", path.to_str().unwrap(), "--to", "all"]);
        let msg = text(&o);
        assert!(!o.status.success(), "{msg}");
        assert!(
            msg.contains(&format!(
                "does not verify against the root of organisation {ORG}"
            )) && msg.contains(why)
                && msg.contains("Nothing was published"),
            "{msg}"
        );
    }
    assert_eq!(status_row(&pki, SERIAL)["last_package"], queued_before);
    assert!(status_row(&pki, NEF_SERIAL)["last_package"].is_null());
}

#[test]
fn remote_lock_unlock_a_replay_and_the_wipe_reach_the_pad_over_mtls() {
    let pki = Pki::new();
    fast_channel(&pki);
    let trust = keys(&pki);
    let _gw = Gw::start(&pki);
    let mut p = FleetPad::start(&pki, &trust);
    assert!(matches!(p.pad.unlock("1234"), Unlock::Open { .. }));
    p.pad
        .start_shift(
            CALL_SIGN,
            &[("Anna Berger".into(), "4711".into(), Qualification::NotSan)],
        )
        .unwrap();
    let m = p.pad.create_mission().unwrap();

    let o = provision(
        &pki,
        &["command", "lock", "--serial", "PAD-9999", "--reason", "x"],
    );
    assert!(
        !o.status.success() && text(&o).contains("PAD-9999 is not registered"),
        "{}",
        text(&o)
    );

    // Lock: the PIN no longer opens the pad.
    let o = provision(
        &pki,
        &[
            "command",
            "lock",
            "--serial",
            SERIAL,
            "--reason",
            "verloren gemeldet",
            "--issuer",
            "ops:test",
        ],
    );
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("seq 1") && out.contains("valid until"),
        "{out}"
    );
    assert!(
        out.contains("WARN")
            && out.contains("remote command queued")
            && out.contains("issuer=\"ops:test\"")
            && out.contains("seq=1"),
        "logged at warn: {out}"
    );
    assert!(
        !out.contains("verloren gemeldet"),
        "no reason in the log: {out}"
    );
    let reason = p.wait("the remote lock", |e| match e {
        PadEvent::RemoteLocked { reason } => Some(reason.clone()),
        _ => None,
    });
    assert_eq!(reason, "verloren gemeldet");
    assert!(p.pad.session().is_remote_locked());
    assert!(matches!(p.pad.unlock("1234"), Unlock::Refused(_)));
    let row = wait_status(&pki, SERIAL, "the lock", |r| {
        r["status"]["remote_locked"] == true
    });
    assert_eq!(row["last_command"]["what"], "lock");
    let lock_id: uuid::Uuid = row["last_command"]["id"].as_str().unwrap().parse().unwrap();

    // Unlock.
    let out = provision_ok(
        &pki,
        &[
            "command", "unlock", "--serial", SERIAL, "--reason", "gefunden",
        ],
    );
    assert!(out.contains("seq 2"), "{out}");
    p.wait("the unlock", |e| {
        matches!(e, PadEvent::RemoteUnlocked).then_some(())
    });
    assert!(!p.pad.session().is_remote_locked());
    assert!(matches!(p.pad.unlock("1234"), Unlock::Open { .. }));
    wait_status(&pki, SERIAL, "the unlock", |r| {
        r["status"]["remote_locked"] == false && r["status"]["command_seq"] == 2
    });

    // The lock's signed bytes again: taken off the queue, not executed.
    let d = dispatcher(&pki);
    let bytes = fleet::command_signed(&d, lock_id).unwrap().unwrap();
    let seq =
        fleet::resend_command(&d, SERIAL, &bytes, rettpad_gateway::fleet_cli::now_ms()).unwrap();
    wait_status(&pki, SERIAL, "the replay acknowledged", |r| {
        r["acked"].as_u64() >= Some(seq)
    });
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        for e in p.pad.tick() {
            assert!(
                !matches!(e, PadEvent::RemoteLocked { .. }),
                "a replayed lock was executed"
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!p.pad.session().is_remote_locked());
    let row = status_row(&pki, SERIAL);
    assert_eq!(
        (
            &row["status"]["command_seq"],
            &row["status"]["remote_locked"]
        ),
        (&json!(2), &json!(false))
    );

    // Wipe: acknowledged, then the vault is gone with its key.
    let old_key = std::fs::read(p.key_file()).unwrap();
    let out = provision_ok(
        &pki,
        &[
            "command",
            "wipe",
            "--serial",
            SERIAL,
            "--reason",
            "gestohlen",
        ],
    );
    assert!(
        out.contains("seq 3") && !out.contains("valid until"),
        "a wipe does not expire: {out}"
    );
    p.wait("the wipe", |e| {
        matches!(e, PadEvent::RemoteWiped(_)).then_some(())
    });
    assert_eq!(p.store.lock().mission_ids().count(), 0);
    assert!(p.store.lock().state(m).is_none());
    assert_ne!(
        std::fs::read(p.key_file()).ok(),
        Some(old_key),
        "the device key is destroyed"
    );
    let row = wait_status(&pki, SERIAL, "the wipe acknowledged", |r| {
        r["last_command"]["what"] == "wipe" && r["last_command"]["delivered"] == true
    });
    assert!(row["acked"].as_u64() >= row["last_command"]["chan_seq"].as_u64());
}

#[test]
fn a_status_from_another_pads_certificate_is_refused_and_not_stored() {
    let pki = Pki::new();
    let _gw = Gw::start(&pki);
    let s = PadStatus {
        app_version: "9.9.9".into(),
        config_versions: [("staff".to_string(), 4)].into(),
        ..PadStatus::default()
    };
    // Pad 1's certificate, pad 2's serial and call sign in the headers.
    let u = pki.pad_config().upload.unwrap();
    let forged = ChannelLink::new(
        &u.gateway_url,
        rettpad_transfer::client_tls(&u).unwrap(),
        NEF_SERIAL,
        "NEF 1/82-1",
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(
        forged.status(&s),
        Err(LinkError::Refused {
            status: 403,
            code: "device_mismatch".into()
        })
    );
    for serial in [SERIAL, NEF_SERIAL] {
        let r = status_row(&pki, serial);
        assert!(
            r["status"].is_null() && r["last_seen_ms"].is_null(),
            "{r:#}"
        );
    }
    // The same status from pad 1 itself is kept; a bad one is not.
    let link = channel_link(&pki, SERIAL, CALL_SIGN, Duration::from_secs(10));
    let long = PadStatus {
        app_version: "x".repeat(65),
        ..s.clone()
    };
    assert!(matches!(
        link.status(&long),
        Err(LinkError::Refused { status: 400, .. })
    ));
    let huge = PadStatus {
        app_version: "x".repeat(20_000),
        ..s.clone()
    };
    assert!(matches!(
        link.status(&huge),
        Err(LinkError::Refused { status: 413, .. })
    ));
    assert!(status_row(&pki, SERIAL)["status"].is_null());
    link.status(&s).unwrap();
    let r = status_row(&pki, SERIAL);
    assert_eq!(r["status"]["app_version"], "9.9.9");
    assert!(r["last_seen_ms"].as_i64().unwrap() > 0);
    assert!(status_row(&pki, NEF_SERIAL)["status"].is_null());
    // Without [fleet] the view works; no link was ever opened.
    assert!(r["connected"].is_null());
    let table = provision_ok(&pki, &["status"]);
    assert!(
        table.contains("| 9.9.9 |") && table.contains("staff 4/-"),
        "{table}"
    );
}
