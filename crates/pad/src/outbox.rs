//! Close leads to the gateway: a worker renders the PDF and the exports
//! and seals the mission into the vault's outbox; the uploader thread sends
//! it, and deletes the mission only after the gateway's verified receipt.
//! A closed mission not yet in the outbox (a crash between the steps, a
//! failed render) is sealed again by the next tick: nothing closed is ever
//! stranded. Nothing of this runs on the caller's (the UI's) thread.

use crate::close::close_and_queue;
use crate::workflow::PadEvent;
use rettpad_clock::SharedClock;
use rettpad_export::{self as export, ExportContext, Hospital};
use rettpad_record::catalog::Collection;
use rettpad_record::keys;
use rettpad_record::text::Notice;
use rettpad_record::{MissionId, MissionLog, MissionState, Status, Strip, Value};
use rettpad_report::{self as report, ReportInput};
use rettpad_transfer::uploader::{self, OutboxPersist, UploaderHandle};
use rettpad_transfer::{OutboxStatus, PreNotice, SealInput, SealKeys, UploadConfig};
use rettpad_vault::store::SharedStore;
use std::sync::mpsc::{Receiver, Sender, channel};

/// The pad side of the upload: sealing workers and the uploader thread.
pub struct Outbox {
    handle: Option<UploaderHandle>,
    keys: Option<SealKeys>,
    /// Hospital ids by name, for missions that name only the hospital.
    hospitals: Vec<(String, String)>,
    /// Missions being sealed now, and those whose sealing failed this
    /// session (not retried every second; the next start retries them).
    busy: Vec<MissionId>,
    failed: Vec<MissionId>,
    tx: Sender<(MissionId, Result<(), Notice>)>,
    rx: Receiver<(MissionId, Result<(), Notice>)>,
}

impl Default for Outbox {
    fn default() -> Outbox {
        let (tx, rx) = channel();
        Outbox {
            handle: None,
            keys: None,
            hospitals: Vec::new(),
            busy: Vec::new(),
            failed: Vec::new(),
            tx,
            rx,
        }
    }
}

impl Outbox {
    /// Starts the uploader for `[upload]`. `hospitals` are (id, name) pairs
    /// of hospitals the gateway knows by name.
    pub fn attach(
        &mut self,
        u: &UploadConfig,
        store: &SharedStore,
        clock: &SharedClock,
        serial: &str,
        call_sign: &str,
        hospitals: Vec<(String, String)>,
    ) -> Result<(), Notice> {
        let keys = SealKeys::from_config(u).map_err(|e| {
            tracing::error!(error = %e, "upload keys unusable; missions stay on the pad");
            Notice::new(
                "Upload-Schlüssel unbrauchbar: Einsätze bleiben auf dem Gerät.",
                "Upload keys unusable: missions stay on the pad.",
            )
        })?;
        let up = rettpad_transfer::uploader_from_config(u, serial, call_sign).map_err(|e| {
            tracing::error!(error = %e, "uploader not started; missions stay on the pad");
            Notice::new(
                "Upload nicht gestartet: Einsätze bleiben auf dem Gerät.",
                "Upload not started: missions stay on the pad.",
            )
        })?;
        self.handle = Some(uploader::spawn(
            store.0.clone(),
            up,
            clock.clone(),
            std::time::Duration::from_secs(2),
        ));
        self.keys = Some(keys);
        self.hospitals = hospitals;
        Ok(())
    }

    /// Hospitals the gateway knows by name, as (id, name).
    pub fn hospitals(&self) -> &[(String, String)] {
        &self.hospitals
    }

    /// The recipients' keys of `[upload]`, once attached.
    pub fn seal_keys(&self) -> Option<&SealKeys> {
        self.keys.as_ref()
    }

    /// The outbox for the status bar; `None` without upload.
    pub fn status(&self) -> Option<OutboxStatus> {
        self.handle.as_ref().map(UploaderHandle::status)
    }

    /// True while a mission is being sealed.
    pub fn sealing(&self) -> bool {
        !self.busy.is_empty()
    }

    /// Starts a sealing worker for every closed mission not yet queued.
    pub fn queue_closed(&mut self, store: &SharedStore, serial: &str, clock: &SharedClock) {
        let Some(keys) = self.keys.clone() else {
            return;
        };
        let closed: Vec<MissionId> = {
            let st = store.lock();
            let queued: Vec<uuid::Uuid> = st
                .outbox_entries()
                .map(|v| v.into_iter().map(|e| e.mission_id).collect())
                .unwrap_or_default();
            st.mission_ids()
                .filter(|m| !queued.contains(&m.0))
                .filter(|m| !self.busy.contains(m) && !self.failed.contains(m))
                .filter(|m| st.state(*m).is_some_and(|s| s.status == Status::Closed))
                .collect()
        };
        for m in closed {
            self.busy.push(m);
            let (store, keys, clock, tx) =
                (store.clone(), keys.clone(), clock.clone(), self.tx.clone());
            let (serial, hospitals) = (serial.to_string(), self.hospitals.clone());
            let spawned = std::thread::Builder::new()
                .name("seal".into())
                .spawn(move || {
                    let r = seal(&store, m, &keys, &serial, &hospitals, &clock);
                    let _ = tx.send((m, r));
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "sealing worker not started");
                self.busy.retain(|b| *b != m);
            }
        }
    }

    /// Results of finished sealing workers.
    pub fn poll(&mut self) -> Vec<PadEvent> {
        let mut out = Vec::new();
        while let Ok((m, r)) = self.rx.try_recv() {
            self.busy.retain(|b| *b != m);
            match r {
                Ok(()) => {
                    if let Some(h) = &self.handle {
                        h.wake();
                    }
                    out.push(PadEvent::Queued(m));
                }
                Err(n) => {
                    self.failed.push(m);
                    out.push(PadEvent::SealFailed(m, n));
                }
            }
        }
        out
    }
}

/// A mission's state, log and the ECG strips this pad holds: what the PDF
/// and the upload packet are made of.
pub fn document_parts(
    store: &SharedStore,
    m: MissionId,
) -> Option<(MissionState, MissionLog, Vec<Strip>)> {
    let st = store.lock();
    let state = st.state(m).cloned()?;
    let log = st.log(m).cloned()?;
    let strips = state
        .patients
        .iter()
        .flat_map(|p| p.strips.iter())
        .filter_map(|r| st.strip(m, &r.hash).ok().flatten())
        .collect();
    Some((state, log, strips))
}

/// Render, export and seal one closed mission into the outbox. The vault
/// is locked only to read the mission and to queue the packet.
fn seal(
    store: &SharedStore,
    m: MissionId,
    keys: &SealKeys,
    serial: &str,
    hospitals: &[(String, String)],
    clock: &SharedClock,
) -> Result<(), Notice> {
    let (state, log, strips) = document_parts(store, m)
        .ok_or_else(|| Notice::new("Einsatz nicht gefunden.", "Mission not found."))?;
    let doc = report::render(&ReportInput {
        state: &state,
        log: &log,
        strips: &strips,
    })
    .map_err(|e| crate::logged(&e, "protocol not rendered"))?;
    let hospital = target_hospital(&state, hospitals);
    let ctx = ExportContext {
        document_id: uuid::Uuid::now_v7(),
        timestamp_ms: export::log_timestamp(log.events()).unwrap_or(doc.created_ms),
        device_serial: serial.to_string(),
        call_sign: state.call_sign.clone(),
        target_hospital: hospital.clone(),
        patient: None,
    };
    let fhir =
        export::fhir::bundles(&state, &ctx).map_err(|e| crate::logged(&e, "FHIR export failed"))?;
    // One document Bundle per patient; several are sent as a JSON array.
    let fhir_json = match fhir.as_slice() {
        [one] => one.1.clone(),
        many => {
            let mut v = b"[".to_vec();
            for (i, d) in many.iter().enumerate() {
                if i > 0 {
                    v.push(b',');
                }
                v.extend_from_slice(&d.1);
            }
            v.push(b']');
            v
        }
    };
    let mind_xml =
        export::mind::xml(&state, &ctx).map_err(|e| crate::logged(&e, "MIND export failed"))?;
    let events_json = serde_json::to_vec(log.events()).map_err(|e| {
        tracing::error!(error = %e, "mission events not serialisable");
        Notice::new("Einsatz nicht lesbar.", "The mission cannot be read.")
    })?;
    let now = clock.wall_ms();
    let input = SealInput {
        mission_id: m.0,
        device_serial: serial.to_string(),
        call_sign: state.call_sign.clone(),
        created_ms: now,
        target_hospital: hospital.map(|h| h.id),
        events_json,
        mind_xml,
        fhir_json,
        pdf_sha256: doc.pdf_sha256.0,
        pdf: doc.pdf,
        handover_summary: handover_summary(&state),
        prenotice: prenotice(&state, now),
    };
    let mut st = store.lock();
    close_and_queue(&mut st, m, input, keys, now)
        .map(|_| ())
        .map_err(|e| {
            tracing::error!(mission = %m, error = %e, "mission not queued for upload");
            Notice::of(&e)
        })
}

/// The routing id of the target hospital: the documented id, else the id
/// of a hospital known by that name.
pub(crate) fn target_hospital(st: &MissionState, known: &[(String, String)]) -> Option<Hospital> {
    let p = st.active_patients().next()?;
    let name = p.get(keys::transport::HOSPITAL).and_then(Value::as_text)?;
    let id = p
        .get(keys::transport::HOSPITAL_ID)
        .and_then(Value::as_text)
        .map(str::to_string)
        .or_else(|| {
            known
                .iter()
                .find(|(_, n)| n == name)
                .map(|(id, _)| id.clone())
        })?;
    Some(Hospital {
        id,
        name: name.to_string(),
    })
}

/// What the hospital reads first (inside its encrypted envelope).
fn handover_summary(st: &MissionState) -> String {
    let mut out = format!("Einsatz {} ({})\n", st.id, st.call_sign);
    for p in st.active_patients() {
        let text = |k: &str| p.get(k).and_then(Value::as_text).unwrap_or("").to_string();
        out.push_str(&format!(
            "Patient: {} {}\n",
            text(keys::patient::GIVEN_NAME),
            text(keys::patient::FAMILY_NAME)
        ));
        for e in st.entries_of(p.id, Collection::Diagnosis) {
            if let Some(d) = e.get(keys::diagnosis::TEXT).and_then(Value::as_text) {
                out.push_str(&format!("Diagnose: {d}\n"));
            }
        }
        if let Some(n) = p.get(keys::naca::SCORE).and_then(Value::as_code) {
            out.push_str(&format!("NACA: {n}\n"));
        }
    }
    out
}

/// The arrival board entry: no name, only what the emergency room needs.
/// Also the en-route pre-notice (`Pad::prenotify`).
pub fn prenotice(st: &MissionState, now_ms: i64) -> Option<PreNotice> {
    let p = st.active_patients().next()?;
    let age = match p.get(keys::patient::AGE_YEARS) {
        Some(Value::Int(a)) => u16::try_from(*a).ok(),
        _ => match p.get(keys::patient::BIRTH_DATE) {
            Some(Value::Date(d)) if d.year > 0 => {
                let (y, _, _) = rettpad_record::value::civil_from_ms(now_ms);
                y.checked_sub(d.year)
            }
            _ => None,
        },
    };
    let sex = match p.get(keys::patient::SEX).and_then(Value::as_code) {
        Some("M") => "m",
        Some("W") => "w",
        Some("D") | Some("X") => "d",
        _ => "",
    };
    let diag = st
        .entries_of(p.id, Collection::Diagnosis)
        .find_map(|e| {
            e.get(keys::diagnosis::TEXT)
                .and_then(Value::as_text)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let tracer = st
        .entries_of(p.id, Collection::Diagnosis)
        .any(|e| e.get(keys::diagnosis::TRACER).is_some());
    // ETA: the minutes the crew entered, from the moment they entered them.
    let eta_ms = p
        .fields
        .get(keys::transport::ETA_MIN)
        .and_then(|f| f.history.last())
        .and_then(|r| match &r.value {
            Some(Value::Int(m)) => Some(r.wall_ms + m * 60_000),
            _ => None,
        });
    Some(PreNotice {
        age_years: age,
        sex: sex.into(),
        suspected_diagnosis: diag,
        priority: if tracer { "Schockraum" } else { "normal" }.into(),
        eta_ms,
        pzc: p
            .get(keys::transport::PZC)
            .and_then(Value::as_text)
            .map(str::to_string),
        vitals: vitals_summary(st, p.id),
    })
}

/// The latest vital set, short: "HF 92 · RR 150/90 · SpO₂ 94 %".
fn vitals_summary(st: &MissionState, p: rettpad_record::PatientId) -> String {
    use keys::vitals as v;
    let Some(e) = st
        .entries_of(p, Collection::Vitals)
        .filter(|e| e.retracted.is_none())
        .max_by_key(|e| match e.get(v::AT) {
            Some(Value::Time(t)) => t.at_ms,
            _ => e.created_ms,
        })
    else {
        return String::new();
    };
    let whole = |k| match e.get(k) {
        Some(Value::Measured(m)) => m.value.map(|n| n.0.div_euclid(1000)),
        _ => None,
    };
    let mut parts = Vec::new();
    if let Some(hr) = whole(v::HR) {
        parts.push(format!("HF {hr}"));
    }
    match (whole(v::BP_SYS), whole(v::BP_DIA)) {
        (Some(s), Some(d)) => parts.push(format!("RR {s}/{d}")),
        (Some(s), None) => parts.push(format!("RR {s}")),
        _ => {}
    }
    if let Some(s) = whole(v::SPO2) {
        parts.push(format!("SpO₂ {s} %"));
    }
    if let Some(g) = whole(v::GLUCOSE) {
        parts.push(format!("BZ {g}"));
    }
    parts.join(" · ")
}
