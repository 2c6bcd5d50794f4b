//! Headless demonstration of the core, until the kiosk UI lands: it walks a
//! crew through one mission and prints what happened (German, like the UI).
//! The mission stays in the vault, so the next start shows its recovery.

use crate::config::{Config, DEMO_PIN};
use crate::session::{CrewMember, Pin, Qualification, Session, Shift, UnlockOutcome};
use rettpad_clock::SharedClock;
use rettpad_record::keys;
use rettpad_record::rules::{self, Severity};
use rettpad_record::value::civil_from_ms;
use rettpad_record::{
    Author, Collection, CrewRef, EntryId, HandoverMode, Measured, MissionId, Num, PartialDate,
    PatientId, Payload, Target, TimeSource, TimeValue, Value, ValueSource,
};
use rettpad_text::{Lang, UserMessage};
use rettpad_vault::FileKeyProvider;
use rettpad_vault::store::{SharedStore, Store, StoreOptions};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

fn hhmm(ms: i64) -> String {
    let (y, m, d) = civil_from_ms(ms);
    let secs = ms.rem_euclid(86_400_000) / 1000;
    format!(
        "{d:02}.{m:02}.{y} {:02}:{:02} UTC",
        secs / 3600,
        (secs / 60) % 60
    )
}

/// Runs the demo; `out` receives the transcript.
pub fn run(
    cfg: &Config,
    data_dir: &Path,
    key_file: &Path,
    clock: SharedClock,
    out: &mut dyn Write,
) -> anyhow_like::Result {
    let keys = Arc::new(FileKeyProvider::new(key_file));
    let opts = StoreOptions {
        snapshot_every: cfg.snapshot_every,
        ..Default::default()
    };
    let store = match Store::open(data_dir, keys, clock.clone(), opts) {
        Ok(s) => s,
        Err(e) => {
            writeln!(out, "FEHLER: {}", e.message(Lang::De))?;
            return Err(e.into());
        }
    };
    let shared = SharedStore::new(store);
    writeln!(
        out,
        "rettpad {} – Demo (ohne Bedienoberfläche)",
        env!("CARGO_PKG_VERSION")
    )?;
    writeln!(out, "Datenverzeichnis: {}", data_dir.display())?;
    {
        let s = shared.lock();
        let rec = s.recovery_report();
        writeln!(
            out,
            "Wiederhergestellt: {} Einsätze aus dem verschlüsselten Speicher",
            rec.len()
        )?;
        for r in rec {
            let state = s.state(r.mission);
            let status = state.map_or("nicht lesbar".to_string(), |st| format!("{:?}", st.status));
            let note = if r.clean() {
                "vollständig"
            } else {
                "mit Problemen (siehe Protokolldatei)"
            };
            writeln!(
                out,
                "  Einsatz {} – {} Ereignisse, Status {status}, {note}",
                r.mission, r.events
            )?;
        }
    }

    let mut session = Session::new(
        cfg.session_config()?,
        clock.clone(),
        shared.clone(),
        shared.clone(),
    )?;
    writeln!(
        out,
        "\n[Sperrbildschirm] Gerät gesperrt. Demo-PIN: {DEMO_PIN}"
    )?;
    let wrong = Pin::new("0000".to_string())?;
    match session.unlock(&wrong)? {
        UnlockOutcome::WrongPin { remaining } => writeln!(
            out,
            "PIN 0000 → {}",
            UnlockOutcome::WrongPin { remaining }.message(Lang::De)
        )?,
        other => writeln!(out, "PIN 0000 → {other:?}")?,
    }
    let outcome = session.unlock(&Pin::new(DEMO_PIN.to_string())?)?;
    writeln!(out, "PIN {DEMO_PIN} → {}", outcome.message(Lang::De))?;

    let crew = vec![
        CrewMember::new("Anna Berger", "4711", Qualification::NotSan),
        CrewMember::new("Jonas Keller", "4712", Qualification::RettSan),
    ];
    let shift = Shift::new(&cfg.call_sign, crew, clock.as_ref())?;
    let crew_refs: Vec<CrewRef> = shift.crew_refs();
    let lead = shift.crew[0].id;
    session.start_shift(shift)?;
    writeln!(
        out,
        "\n[Schichtanmeldung] {} mit 2 Besatzungsmitgliedern",
        cfg.call_sign
    )?;

    let mut st = shared.lock();
    st.set_author(Some(Author {
        device: cfg.device_serial.clone(),
        crew_member: lead,
    }));
    let m: MissionId = st.open_mission(&cfg.call_sign, crew_refs)?;
    writeln!(out, "[Einsatz] neu: {m}")?;
    let now = clock.wall_ms();
    let t = |min: i64| now - (40 - min) * 60_000;
    let dispatch = |min: i64, status: Option<u8>| {
        Value::Time(TimeValue {
            at_ms: t(min),
            source: TimeSource::Dispatch { status },
        })
    };
    let apply = |st: &mut Store, p: Payload| -> anyhow_like::Result {
        st.apply(m, p)?;
        Ok(())
    };
    let set = |target: Target, f: &str, v: Value| Payload::Set {
        target,
        field: f.into(),
        value: v,
    };
    apply(
        &mut st,
        set(
            Target::Mission,
            keys::mission::NUMBER,
            Value::text("2026-112233"),
        ),
    )?;
    apply(
        &mut st,
        set(Target::Mission, keys::mission::TYPE, Value::code("01")),
    )?;
    apply(
        &mut st,
        set(Target::Mission, keys::time::ALARM, dispatch(0, None)),
    )?;
    apply(
        &mut st,
        set(Target::Mission, keys::time::DEPARTURE, dispatch(1, Some(3))),
    )?;
    apply(
        &mut st,
        set(Target::Mission, keys::time::AT_SCENE, dispatch(9, Some(4))),
    )?;
    let p = PatientId::new();
    apply(&mut st, Payload::PatientAdded { patient: p })?;
    let pt = Target::Patient(p);
    apply(
        &mut st,
        set(
            pt.clone(),
            keys::patient::FAMILY_NAME,
            Value::text("Mustermann"),
        ),
    )?;
    apply(
        &mut st,
        set(pt.clone(), keys::patient::GIVEN_NAME, Value::text("Erika")),
    )?;
    apply(
        &mut st,
        set(
            pt.clone(),
            keys::patient::BIRTH_DATE,
            Value::Date(PartialDate {
                year: 1950,
                month: 0,
                day: 0,
            }),
        ),
    )?;
    for (i, (hr, sys, spo2)) in [(112, 95, 91), (104, 105, 94), (96, 118, 97)]
        .into_iter()
        .enumerate()
    {
        let mut fields = BTreeMap::new();
        let at = t(12 + 5 * i as i64);
        let src = TimeSource::Device {
            device: "SIM-DEFI-01".into(),
        };
        fields.insert(
            keys::vitals::AT.into(),
            Value::Time(TimeValue {
                at_ms: at,
                source: src,
            }),
        );
        fields.insert(
            keys::vitals::HR.into(),
            Value::Measured(Measured::device(Num::int(hr), "SIM-DEFI-01")),
        );
        fields.insert(
            keys::vitals::BP_SYS.into(),
            Value::Measured(Measured::device(Num::int(sys), "SIM-DEFI-01")),
        );
        fields.insert(
            keys::vitals::SPO2.into(),
            Value::Measured(Measured::device(Num::int(spo2), "SIM-DEFI-01")),
        );
        fields.insert(
            keys::vitals::TEMP.into(),
            Value::Measured(Measured::not_measurable(ValueSource::Manual)),
        );
        let entry = EntryId::new();
        apply(
            &mut st,
            Payload::EntryAdded {
                patient: p,
                collection: Collection::Vitals,
                entry,
                fields,
            },
        )?;
    }
    let mut med = BTreeMap::new();
    med.insert(keys::med::SUBSTANCE.into(), Value::text("Sauerstoff"));
    med.insert(keys::med::DOSE.into(), Value::Num(Num::int(6)));
    med.insert(keys::med::UNIT.into(), Value::code("l/min"));
    med.insert(keys::med::ROUTE.into(), Value::code("inh"));
    med.insert(keys::med::AT.into(), Value::manual_time(t(13)));
    apply(
        &mut st,
        Payload::EntryAdded {
            patient: p,
            collection: Collection::Medication,
            entry: EntryId::new(),
            fields: med,
        },
    )?;
    let n = st.log(m).map_or(0, |l| l.len());
    writeln!(
        out,
        "[Protokoll] {n} Änderungen, jede verschlüsselt gespeichert, bevor sie bestätigt wurde"
    )?;

    let state = st
        .state(m)
        .ok_or(anyhow_like::Error::msg("mission vanished"))?;
    let findings = rules::check(state, clock.wall_ms());
    writeln!(out, "\n[Abschluss prüfen] {} Hinweise:", findings.len())?;
    for f in &findings {
        let sev = if f.severity == Severity::Hard {
            "blockiert den Abschluss"
        } else {
            "Hinweis"
        };
        writeln!(out, "  {sev}: {}", f.message_de)?;
    }
    apply(
        &mut st,
        set(pt.clone(), keys::naca::SCORE, Value::code("3")),
    )?;
    apply(
        &mut st,
        set(pt.clone(), keys::outcome::RESULT, Value::code("02")),
    )?;
    apply(
        &mut st,
        set(
            pt.clone(),
            keys::transport::HOSPITAL,
            Value::text("Klinikum Mitte, ZNA"),
        ),
    )?;
    apply(
        &mut st,
        Payload::HandedOver {
            mode: HandoverMode::Printed,
            to: "ZNA Klinikum Mitte".into(),
            document_sha256: None,
        },
    )?;
    apply(
        &mut st,
        set(pt.clone(), keys::naca::SCORE, Value::code("4")),
    )?;
    let state = st
        .state(m)
        .ok_or(anyhow_like::Error::msg("mission vanished"))?;
    writeln!(
        out,
        "[Übergabe] gedruckt; danach geändert: NACA 3 → 4, sichtbar im Änderungsnachweis:"
    )?;
    for a in &state.audit {
        writeln!(
            out,
            "  {} {}: {} → {} (Autor {})",
            hhmm(a.wall_ms),
            a.field
                .as_deref()
                .and_then(rettpad_record::catalog::field)
                .map_or("-", |d| d.de),
            a.original.as_ref().and_then(Value::as_code).unwrap_or("–"),
            a.new.as_ref().and_then(Value::as_code).unwrap_or("–"),
            a.author
        )?;
    }
    let blockers = rules::close_blockers(state, clock.wall_ms());
    if blockers.is_empty() {
        apply(&mut st, Payload::Closed)?;
        writeln!(
            out,
            "[Abschluss] Einsatz abgeschlossen; wartet verschlüsselt auf das Hochladen (folgt)"
        )?;
    } else {
        writeln!(
            out,
            "[Abschluss] nicht möglich: {} Pflichtangaben fehlen",
            blockers.len()
        )?;
    }
    let log = st
        .log(m)
        .ok_or(anyhow_like::Error::msg("mission vanished"))?;
    writeln!(
        out,
        "Ereignisse: {}, Hash-Kette geprüft: {}, Kopf: {}",
        log.len(),
        log.verify().is_empty(),
        &log.digest().to_hex()[..16]
    )?;
    drop(st);
    session.lock();
    writeln!(
        out,
        "\n[Sperre] Gerät gesperrt. Beim nächsten Start wird der Einsatz hinter der PIN wiederhergestellt."
    )?;
    Ok(())
}

/// A minimal boxed error so the demo can use `?` on every error type.
pub mod anyhow_like {
    pub type Result<T = ()> = std::result::Result<T, Error>;

    #[derive(Debug)]
    pub struct Error(pub Box<dyn std::error::Error + Send + Sync>);

    impl Error {
        pub fn msg(m: &'static str) -> Error {
            Error(m.into())
        }
    }

    impl std::fmt::Display for Error {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            self.0.fmt(f)
        }
    }

    impl<E: std::error::Error + Send + Sync + 'static> From<E> for Error {
        fn from(e: E) -> Self {
            Error(Box::new(e))
        }
    }
}
