//! Closing leads to the gateway: the PDF and the exports are made, the
//! mission is sealed into the vault's outbox, and the uploader thread sends
//! it. The mission is deleted only after the gateway's verified receipt
//! (by the uploader). A closed mission that is not yet in the outbox (a
//! crash between the two steps, a failed render) is sealed again on the
//! next tick, so nothing closed is ever stranded.

use super::*;
use rettpad_export::{self as export, ExportContext, Hospital};
use rettpad_report::{self as report, ReportInput};
use rettpad_transfer::UploadConfig;
use rettpad_transfer::uploader::{self, OutboxPersist, UploaderHandle};
use rettpad_transfer::{PreNotice, SealInput, SealKeys};

#[derive(Default)]
pub(super) struct UploadFeed {
    handle: Option<UploaderHandle>,
    keys: Option<SealKeys>,
    /// Missions whose sealing failed this session (not retried every second).
    failed: Vec<MissionId>,
    _keep: Option<Keep>,
}

impl Controller {
    /// Starts the uploader for `[upload]`. `keep` holds e.g. the demo's
    /// local gateway.
    pub fn attach_upload(&mut self, u: &UploadConfig, keep: Option<Keep>) {
        self.up._keep = keep;
        let keys = match SealKeys::from_config(u) {
            Ok(k) => k,
            Err(e) => {
                tracing::error!(error = %e, "upload keys unusable; missions stay on the pad");
                return;
            }
        };
        let serial = self.cfg.device_serial.clone();
        match rettpad_transfer::uploader_from_config(u, &serial, &self.cfg.call_sign) {
            Ok(up) => {
                self.up.handle = Some(uploader::spawn(
                    self.store.0.clone(),
                    up,
                    self.clock.clone(),
                    std::time::Duration::from_secs(2),
                ));
                self.up.keys = Some(keys);
            }
            Err(e) => tracing::error!(error = %e, "uploader not started; missions stay on the pad"),
        }
    }

    /// Seals every closed mission that is not yet queued.
    pub(super) fn queue_closed_missions(&mut self) {
        let Some(keys) = self.up.keys.clone() else {
            return;
        };
        let closed: Vec<MissionId> = {
            let st = self.store.lock();
            let queued: Vec<uuid::Uuid> = st
                .outbox_entries()
                .map(|v| v.into_iter().map(|e| e.mission_id).collect())
                .unwrap_or_default();
            st.mission_ids()
                .filter(|m| !queued.contains(&m.0) && !self.up.failed.contains(m))
                .filter(|m| st.state(*m).is_some_and(|s| s.status == Status::Closed))
                .collect()
        };
        for m in closed {
            match self.seal(m, &keys) {
                Ok(()) => {
                    if let Some(h) = &self.up.handle {
                        h.wake();
                    }
                }
                Err(msg) => {
                    self.up.failed.push(m);
                    self.set_toast(msg, true);
                }
            }
        }
    }

    fn seal(&mut self, m: MissionId, keys: &SealKeys) -> Result<(), String> {
        let (state, log, strips) = self.document_parts(m).ok_or("Einsatz nicht gefunden.")?;
        let doc = report::render(&ReportInput {
            state: &state,
            log: &log,
            strips: &strips,
        })
        .map_err(|e| e.text_de())?;
        let hospital = target_hospital(&state);
        let ctx = ExportContext {
            document_id: uuid::Uuid::now_v7(),
            timestamp_ms: export::log_timestamp(log.events()).unwrap_or(doc.created_ms),
            device_serial: self.cfg.device_serial.clone(),
            call_sign: state.call_sign.clone(),
            target_hospital: hospital.clone(),
            patient: None,
        };
        let fhir = export::fhir::bundles(&state, &ctx).map_err(|e| e.user_message_de())?;
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
        let mind_xml = export::mind::xml(&state, &ctx).map_err(|e| e.user_message_de())?;
        let events_json = serde_json::to_vec(log.events()).map_err(|e| e.to_string())?;
        let input = SealInput {
            mission_id: m.0,
            device_serial: self.cfg.device_serial.clone(),
            call_sign: state.call_sign.clone(),
            created_ms: self.clock.wall_ms(),
            target_hospital: hospital.map(|h| h.id),
            events_json,
            mind_xml,
            fhir_json,
            pdf_sha256: doc.pdf_sha256.0,
            pdf: doc.pdf,
            handover_summary: handover_summary(&state),
            prenotice: prenotice(&state, self.clock.wall_ms()),
        };
        let now = self.clock.wall_ms();
        let mut st = self.store.lock();
        rettpad_pad::close::close_and_queue(&mut st, m, input, keys, now)
            .map(|_| ())
            .map_err(|e| {
                tracing::error!(mission = %m, error = %e, "mission not queued for upload");
                e.text_de().to_string()
            })
    }

    pub(super) fn upload_text(&self) -> Option<String> {
        let h = self.up.handle.as_ref()?;
        use rettpad_transfer::OutboxStatus as O;
        let s = h.status();
        Some(match (&s, self.lang) {
            (O::Empty, Lang::De) => "bereit".into(),
            (O::Empty, Lang::En) => "ready".into(),
            (O::Waiting { count }, Lang::De) => format!("wartet ({count})"),
            (O::Waiting { count }, Lang::En) => format!("waiting ({count})"),
            (O::Sending { count }, Lang::De) => format!("sendet ({count})"),
            (O::Sending { count }, Lang::En) => format!("sending ({count})"),
            (O::Done { sent }, Lang::De) => format!("✓ {sent} bestätigt"),
            (O::Done { sent }, Lang::En) => format!("✓ {sent} confirmed"),
            (O::Error { reason, .. }, Lang::De) => format!("Fehler: {}", reason.text_de()),
            (O::Error { .. }, Lang::En) => "error – retrying".into(),
        })
    }
}

/// The routing id of the target hospital: the documented id, else the
/// demo gateway's id for a known hospital name.
fn target_hospital(st: &MissionState) -> Option<Hospital> {
    let p = st.active_patients().next()?;
    let name = p.get("transport.hospital").and_then(Value::as_text)?;
    let id = p
        .get("transport.hospital_id")
        .and_then(Value::as_text)
        .map(str::to_string)
        .or_else(|| demo_hospital_id(name))?;
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
            text("patient.given_name"),
            text("patient.family_name")
        ));
        for e in st.entries_of(p.id, Collection::Diagnosis) {
            if let Some(d) = e.get("diagnosis.text").and_then(Value::as_text) {
                out.push_str(&format!("Diagnose: {d}\n"));
            }
        }
        if let Some(n) = p.get("naca.score").and_then(Value::as_code) {
            out.push_str(&format!("NACA: {n}\n"));
        }
    }
    out
}

/// The arrival board entry: no name, only what the emergency room needs.
fn prenotice(st: &MissionState, now_ms: i64) -> Option<PreNotice> {
    let p = st.active_patients().next()?;
    let age = match p.get("patient.age_years") {
        Some(Value::Int(a)) => u16::try_from(*a).ok(),
        _ => match p.get("patient.birth_date") {
            Some(Value::Date(d)) if d.year > 0 => {
                let (y, _, _) = rettpad_record::value::civil_from_ms(now_ms);
                y.checked_sub(d.year)
            }
            _ => None,
        },
    };
    let sex = match p.get("patient.sex").and_then(Value::as_code) {
        Some("M") => "m",
        Some("W") => "w",
        Some("D") | Some("X") => "d",
        _ => "",
    };
    let diag = st
        .entries_of(p.id, Collection::Diagnosis)
        .find_map(|e| {
            e.get("diagnosis.text")
                .and_then(Value::as_text)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let tracer = st
        .entries_of(p.id, Collection::Diagnosis)
        .any(|e| e.get("diagnosis.tracer").is_some());
    Some(PreNotice {
        age_years: age,
        sex: sex.into(),
        suspected_diagnosis: diag,
        priority: if tracer { "Schockraum" } else { "normal" }.into(),
        eta_ms: None,
    })
}

/// The demo gateway's id of a hospital it knows by name.
#[cfg(feature = "demo")]
fn demo_hospital_id(name: &str) -> Option<String> {
    rettpad_gateway::init::DEMO_HOSPITALS
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(id, _)| (*id).to_string())
}

#[cfg(not(feature = "demo"))]
fn demo_hospital_id(_: &str) -> Option<String> {
    None
}
