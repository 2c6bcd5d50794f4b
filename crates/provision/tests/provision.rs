//! Packages and commands: the good path and every refusal.

use proptest::prelude::*;
use rettpad_provision::command::{self, Action, Command};
use rettpad_provision::keys::{Purpose, RootKey, SigningKey};
use rettpad_provision::package::{self, Applied, Builder, PartName, Target};
use rettpad_provision::parts::{self, from_toml};
use rettpad_provision::{ProvisionError, signed};
use rettpad_text::{Lang, UserMessage};
use uuid::Uuid;

const NOW: i64 = 1_796_000_000_000;
const DAY: i64 = 86_400_000;
const ORG: &str = "rd-musterstadt";
const SERIAL: &str = "PAD-0815";

const SETTINGS: &str = r#"
pin_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$0123456789abcdef0123456789abcdef0123456789a"
idle_lock_minutes = 10
max_wrong_pins = 5
max_offline_days = 14
"#;

const STAFF: &str = r#"
[[staff]]
number = "4711"
name = "Anna Berger"
qualification = "notsan"
rfid_sha256 = "5f2b0e8a9c3d4e1f5f2b0e8a9c3d4e1f5f2b0e8a9c3d4e1f5f2b0e8a9c3d4e1f"

[[staff]]
number = "4712"
name = "Jonas Keller"
qualification = "rettsan"
"#;

struct Org {
    root: RootKey,
    packages: SigningKey,
    commands: SigningKey,
}

fn signing(root: &RootKey, org: &str, purposes: Vec<Purpose>, from: i64, to: i64) -> SigningKey {
    root.new_signing_key(org, purposes, from, to).unwrap().key
}

fn org() -> Org {
    let (root, _) = RootKey::generate().unwrap();
    let packages = signing(
        &root,
        ORG,
        vec![Purpose::Packages],
        NOW - DAY,
        NOW + 90 * DAY,
    );
    let commands = signing(
        &root,
        ORG,
        vec![Purpose::Commands],
        NOW - DAY,
        NOW + 90 * DAY,
    );
    Org {
        root,
        packages,
        commands,
    }
}

fn package(o: &Org, target: Target, parts: &[(PartName, u64, &str)]) -> Vec<u8> {
    let mut b = Builder::new(ORG, target, NOW);
    for (p, v, text) in parts {
        b = b.part(*p, *v, from_toml(*p, text).unwrap());
    }
    b.sign(&o.packages).unwrap()
}

fn verify(o: &Org, bytes: &[u8], applied: &Applied) -> Result<package::Verified, ProvisionError> {
    package::verify(bytes, &o.root.trust(ORG), SERIAL, applied, NOW)
}

#[test]
fn a_signed_package_verifies_and_decodes_its_parts() {
    let o = org();
    let bytes = package(
        &o,
        Target::All,
        &[
            (PartName::Settings, 3, SETTINGS),
            (PartName::Staff, 7, STAFF),
        ],
    );
    let v = verify(&o, &bytes, &Applied::default()).unwrap();
    let p = parts::decode(&v).unwrap();
    assert_eq!(p.settings.as_ref().unwrap().idle_lock_minutes, 10);
    let staff = p.staff.unwrap().staff;
    assert_eq!(staff.len(), 2);
    assert_eq!(staff[1].name, "Jonas Keller");
    assert!(p.hospitals.is_none(), "a part not sent stays as it is");
    let after = v.applied_after(&Applied::default());
    assert_eq!(after.version(PartName::Settings), 3);
    assert_eq!(after.version(PartName::Staff), 7);
    assert_eq!(after.version(PartName::Hospitals), 0);
    assert_eq!(after.last_issued_ms, NOW);
    // The same package delivered again is known, not a rollback.
    assert_eq!(
        verify(&o, &bytes, &after).unwrap_err(),
        ProvisionError::AlreadyApplied
    );
    // One part alone, newer, on top.
    let staff_only = package(&o, Target::All, &[(PartName::Staff, 8, STAFF)]);
    let v2 = verify(&o, &staff_only, &after).unwrap();
    assert_eq!(v2.applied_after(&after).version(PartName::Settings), 3);
}

#[test]
fn a_package_not_newer_than_what_was_applied_is_refused() {
    let o = org();
    let bytes = package(&o, Target::All, &[(PartName::Settings, 3, SETTINGS)]);
    let applied = verify(&o, &bytes, &Applied::default())
        .unwrap()
        .applied_after(&Applied::default());
    // The same package again (replay), and an older one (rollback).
    for v in [3, 2] {
        let old = package(&o, Target::All, &[(PartName::Settings, v, SETTINGS)]);
        assert_eq!(
            verify(&o, &old, &applied).unwrap_err(),
            ProvisionError::Rollback {
                part: "settings".into(),
                got: v,
                have: 3
            }
        );
    }
    // One old part spoils the whole package.
    let mixed = package(
        &o,
        Target::All,
        &[
            (PartName::Staff, 9, STAFF),
            (PartName::Settings, 3, SETTINGS),
        ],
    );
    assert!(matches!(
        verify(&o, &mixed, &applied),
        Err(ProvisionError::Rollback { .. })
    ));
}

#[test]
fn another_organisations_root_or_key_is_refused() {
    let o = org();
    let other = org();
    let bytes = package(&other, Target::All, &[(PartName::Settings, 1, SETTINGS)]);
    assert_eq!(
        verify(&o, &bytes, &Applied::default()).unwrap_err(),
        ProvisionError::UntrustedKey
    );
    // Our root certified a key for another organisation.
    let foreign = signing(
        &o.root,
        "rd-anderswo",
        vec![Purpose::Packages],
        NOW - DAY,
        NOW + DAY,
    );
    let bytes = Builder::new("rd-anderswo", Target::All, NOW)
        .part(
            PartName::Settings,
            1,
            from_toml(PartName::Settings, SETTINGS).unwrap(),
        )
        .sign(&foreign)
        .unwrap();
    assert!(matches!(
        verify(&o, &bytes, &Applied::default()),
        Err(ProvisionError::ForeignOrganisation(_))
    ));
    // Our key, a header naming another organisation.
    let bytes = Builder::new("rd-anderswo", Target::All, NOW)
        .part(
            PartName::Settings,
            1,
            from_toml(PartName::Settings, SETTINGS).unwrap(),
        )
        .sign(&o.packages)
        .unwrap();
    assert!(matches!(
        verify(&o, &bytes, &Applied::default()),
        Err(ProvisionError::ForeignOrganisation(_))
    ));
}

#[test]
fn an_expired_or_not_yet_valid_signing_key_is_refused_even_with_a_late_clock() {
    let o = org();
    let expired = signing(
        &o.root,
        ORG,
        vec![Purpose::Packages],
        NOW - 10 * DAY,
        NOW - DAY,
    );
    let bytes = Builder::new(ORG, Target::All, NOW - 2 * DAY)
        .part(
            PartName::Settings,
            1,
            from_toml(PartName::Settings, SETTINGS).unwrap(),
        )
        .sign(&expired)
        .unwrap();
    assert_eq!(
        verify(&o, &bytes, &Applied::default()).unwrap_err(),
        ProvisionError::KeyExpired(NOW - DAY)
    );
    // A pad whose clock went back two weeks still knows the newest issue time.
    let seen = Applied {
        last_issued_ms: NOW,
        ..Applied::default()
    };
    let err = package::verify(&bytes, &o.root.trust(ORG), SERIAL, &seen, NOW - 14 * DAY);
    assert_eq!(err.unwrap_err(), ProvisionError::KeyExpired(NOW - DAY));
    let future = signing(
        &o.root,
        ORG,
        vec![Purpose::Packages],
        NOW + DAY,
        NOW + 9 * DAY,
    );
    let bytes = Builder::new(ORG, Target::All, NOW)
        .part(
            PartName::Settings,
            1,
            from_toml(PartName::Settings, SETTINGS).unwrap(),
        )
        .sign(&future)
        .unwrap();
    assert_eq!(
        verify(&o, &bytes, &Applied::default()).unwrap_err(),
        ProvisionError::KeyNotYetValid(NOW + DAY)
    );
}

#[test]
fn a_command_key_cannot_sign_packages_nor_a_package_key_commands() {
    let o = org();
    let bytes = Builder::new(ORG, Target::All, NOW)
        .part(
            PartName::Settings,
            1,
            from_toml(PartName::Settings, SETTINGS).unwrap(),
        )
        .sign(&o.commands)
        .unwrap();
    assert_eq!(
        verify(&o, &bytes, &Applied::default()).unwrap_err(),
        ProvisionError::WrongPurpose("packages")
    );
    let c = lock_command(5).sign(&o.packages).unwrap();
    assert_eq!(
        command::verify(&c, &o.root.trust(ORG), SERIAL, 0, NOW).unwrap_err(),
        ProvisionError::WrongPurpose("commands")
    );
    // A package is not a command, whatever its key.
    let p = package(&o, Target::All, &[(PartName::Settings, 1, SETTINGS)]);
    assert!(matches!(
        command::verify(&p, &o.root.trust(ORG), SERIAL, 0, NOW),
        Err(ProvisionError::Corrupt(_))
    ));
}

#[test]
fn a_tampered_package_is_refused_at_every_byte() {
    let o = org();
    let bytes = package(&o, Target::All, &[(PartName::Staff, 1, STAFF)]);
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        assert!(
            verify(&o, &b, &Applied::default()).is_err(),
            "flipped byte {i} was taken"
        );
    }
}

#[test]
fn a_truncated_or_extended_package_is_refused_as_corrupt() {
    let o = org();
    let bytes = package(&o, Target::All, &[(PartName::Staff, 1, STAFF)]);
    for n in 0..bytes.len() {
        assert!(
            verify(&o, &bytes[..n], &Applied::default()).is_err(),
            "prefix of {n} was taken"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        verify(&o, &longer, &Applied::default()).unwrap_err(),
        ProvisionError::Corrupt("bytes after the signature".into())
    );
    let err = verify(&o, &bytes[..bytes.len() / 2], &Applied::default()).unwrap_err();
    assert!(err.message(Lang::De).contains("beschädigt"), "{err:?}");
    assert!(
        err.message(Lang::De)
            .ends_with("Die bisherige Konfiguration bleibt unverändert.")
    );
}

#[test]
fn a_package_for_another_pad_or_an_expired_one_is_refused() {
    let o = org();
    let bytes = package(
        &o,
        Target::Serials(vec!["PAD-0001".into(), "PAD-0002".into()]),
        &[(PartName::Settings, 1, SETTINGS)],
    );
    assert_eq!(
        verify(&o, &bytes, &Applied::default()).unwrap_err(),
        ProvisionError::NotForThisPad
    );
    let ours = package(
        &o,
        Target::Serials(vec!["PAD-0001".into(), SERIAL.into()]),
        &[(PartName::Settings, 1, SETTINGS)],
    );
    assert!(verify(&o, &ours, &Applied::default()).is_ok());
    let expired = Builder::new(ORG, Target::All, NOW - 2 * DAY)
        .expires(NOW - DAY)
        .part(
            PartName::Settings,
            1,
            from_toml(PartName::Settings, SETTINGS).unwrap(),
        )
        .sign(&o.packages)
        .unwrap();
    assert_eq!(
        verify(&o, &expired, &Applied::default()).unwrap_err(),
        ProvisionError::Expired(NOW - DAY)
    );
}

#[test]
fn a_device_part_goes_to_one_pad_only() {
    let o = org();
    let device = "call_sign = \"RTW 1/83-2\"\n";
    let all = package(&o, Target::All, &[(PartName::Device, 1, device)]);
    assert!(matches!(
        verify(&o, &all, &Applied::default()),
        Err(ProvisionError::BadPart { .. })
    ));
    let one = package(
        &o,
        Target::Serials(vec![SERIAL.into()]),
        &[(PartName::Device, 1, device)],
    );
    let v = verify(&o, &one, &Applied::default()).unwrap();
    assert_eq!(parts::decode(&v).unwrap().device.as_deref(), Some(device));
}

#[test]
fn a_newer_format_is_refused_by_name() {
    let o = org();
    let header = br#"{"format":2,"org":"rd-musterstadt"}"#;
    let mut payload = (header.len() as u32).to_be_bytes().to_vec();
    payload.extend_from_slice(header);
    let bytes = signed::seal(signed::PACKAGE_MAGIC, &o.packages, &payload).unwrap();
    assert_eq!(
        verify(&o, &bytes, &Applied::default()).unwrap_err(),
        ProvisionError::Format(2)
    );
}

#[test]
fn bad_part_contents_are_refused_when_building_and_when_decoding() {
    let plain_pin = SETTINGS.replace("$argon2id$v=19", "1234$");
    assert!(matches!(
        from_toml(PartName::Settings, &plain_pin),
        Err(ProvisionError::BadPart { .. })
    ));
    for bad in [
        STAFF.replace("notsan", "chef"),
        STAFF.replace("4712", "4711"),
        STAFF.replace("Anna Berger", ""),
        STAFF.replace("5f2b0e8a9c3d4e1f5f2b", "zz"),
        format!("{STAFF}\nextra = 1\n"),
    ] {
        assert!(
            from_toml(PartName::Staff, &bad).is_err(),
            "staff list taken: {bad}"
        );
    }
    let hospital = |key: &str| {
        format!(
            "[[hospitals]]\nid = \"klinikum-mitte\"\nname = \"Klinikum Mitte, ZNA\"\nik = \"260100012\"\nhpke_public_key = \"{key}\"\n"
        )
    };
    let good_key = format!("04{}", "ab".repeat(64));
    assert!(from_toml(PartName::Hospitals, &hospital(&good_key)).is_ok());
    assert!(from_toml(PartName::Hospitals, &hospital("04abcd")).is_err());
    assert!(from_toml(PartName::Device, "call_sign = ").is_err());
    // A part the gateway did not check is still checked by the pad.
    let o = org();
    let bytes = Builder::new(ORG, Target::All, NOW)
        .part(
            PartName::Staff,
            1,
            br#"{"staff":[{"number":"1","name":"X","qualification":"boss"}]}"#.to_vec(),
        )
        .sign(&o.packages)
        .unwrap();
    let v = verify(&o, &bytes, &Applied::default()).unwrap();
    assert!(matches!(
        parts::decode(&v),
        Err(ProvisionError::BadPart { part, .. }) if part == "staff"
    ));
}

fn lock_command(seq: u64) -> Command {
    Command {
        action: Action::Lock,
        org: ORG.into(),
        serial: SERIAL.into(),
        cmd_id: Uuid::now_v7(),
        seq,
        issued_ms: NOW,
        not_after_ms: Some(NOW + DAY),
        reason: "verloren gemeldet".into(),
        issuer: "ops:mueller".into(),
    }
}

#[test]
fn a_command_runs_once_on_its_pad_only() {
    let o = org();
    let trust = o.root.trust(ORG);
    let c = lock_command(5);
    let bytes = c.sign(&o.commands).unwrap();
    assert_eq!(command::verify(&bytes, &trust, SERIAL, 4, NOW).unwrap(), c);
    // Replayed, or older than the last executed.
    for last in [5, 9] {
        assert_eq!(
            command::verify(&bytes, &trust, SERIAL, last, NOW).unwrap_err(),
            ProvisionError::Replayed(5)
        );
    }
    assert_eq!(
        command::verify(&bytes, &trust, "PAD-0001", 0, NOW).unwrap_err(),
        ProvisionError::NotForThisPad
    );
    assert_eq!(
        command::verify(&bytes, &trust, SERIAL, 0, NOW + 2 * DAY).unwrap_err(),
        ProvisionError::CommandExpired(NOW + DAY)
    );
    let mut b = bytes.clone();
    let n = b.len();
    b[n - 70] ^= 0x20;
    assert_eq!(
        command::verify(&b, &trust, SERIAL, 0, NOW).unwrap_err(),
        ProvisionError::BadSignature
    );
    let other = org();
    let foreign = lock_command(6).sign(&other.commands).unwrap();
    assert_eq!(
        command::verify(&foreign, &trust, SERIAL, 0, NOW).unwrap_err(),
        ProvisionError::UntrustedKey
    );
}

#[test]
fn a_certificate_for_another_key_is_not_taken_as_the_signing_key() {
    let o = org();
    let der = SigningKey::generate_pkcs8().unwrap();
    assert!(SigningKey::new(&der, o.packages.cert().to_vec()).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Arbitrary bytes, and a real package with arbitrary edits, never
    /// panic and never verify.
    #[test]
    fn arbitrary_input_never_verifies(
        noise in proptest::collection::vec(any::<u8>(), 0..600),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let (root, _) = RootKey::generate().unwrap();
        let trust = root.trust(ORG);
        prop_assert!(package::verify(&noise, &trust, SERIAL, &Applied::default(), NOW).is_err());
        prop_assert!(command::verify(&noise, &trust, SERIAL, 0, NOW).is_err());
        let key = signing(&root, ORG, vec![Purpose::Packages], NOW - DAY, NOW + DAY);
        let good = Builder::new(ORG, Target::All, NOW)
            .part(PartName::Staff, 1, from_toml(PartName::Staff, STAFF).unwrap())
            .sign(&key)
            .unwrap();
        let mut b = good.clone();
        for (i, x) in edits {
            let i = i % b.len();
            b[i] = x;
        }
        prop_assume!(b != good);
        prop_assert!(package::verify(&b, &trust, SERIAL, &Applied::default(), NOW).is_err());
    }
}

/// A catalog preset must name a field of the record's collection and give
/// it a value the record takes (code lists, numbers).
#[test]
fn catalog_presets_follow_the_record() {
    use rettpad_provision::parts::{Catalog, Preset, PresetField, catalog_presets};
    use rettpad_record::keys::{measure, med};
    let one = |collection: &str, key: &str, kind: &str, value: &str| Catalog {
        presets: vec![Preset {
            collection: collection.into(),
            de: "x".into(),
            en: "x".into(),
            fields: vec![PresetField {
                key: key.into(),
                kind: kind.into(),
                value: value.into(),
            }],
        }],
    };
    assert_eq!(
        catalog_presets(&one("measure", measure::KIND, "code", "17"))
            .unwrap()
            .len(),
        1
    );
    let e = catalog_presets(&one("measure", measure::KIND, "code", "99")).unwrap_err();
    assert!(e.starts_with("preset 1: "), "{e}");
    assert!(catalog_presets(&one("medication", measure::KIND, "code", "17")).is_err());
    assert!(catalog_presets(&one("medication", med::DOSE, "number", "zwei")).is_err());
    assert!(catalog_presets(&one("vitals", med::DOSE, "number", "1")).is_err());
    assert!(
        one("medication", med::DOSE, "number", "zwei")
            .validate()
            .is_err()
    );
}
