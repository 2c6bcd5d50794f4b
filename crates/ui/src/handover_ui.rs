//! Pad-to-pad handover in the UI. The handover service runs on its own
//! thread; the UI drains its events, shows the sender's prompt with its
//! countdown (also as a banner on the lock screen: the PIN prompt does not
//! stop the clock) and the receiver's progress and result.

use super::*;
use rettpad_handover::Role;
use rettpad_handover::frame::MissionSel;
use rettpad_handover::proto::{AfterHandover, UserDecision};
use rettpad_pad::handover_service::SetupError;
use rettpad_pad::{Service, ServiceConfig, ServiceEvent};
use std::time::Instant;

#[derive(Default)]
pub(super) struct HandoverFeed {
    svc: Option<Service>,
    not_set_up: bool,
    prompt: Option<Prompt>,
    status: (String, bool),
    /// 0..1, negative hides the bar.
    progress: f32,
    busy: bool,
    waiting_until: Option<Instant>,
}

struct Prompt {
    from: String,
    missions: Vec<String>,
    deadline: Instant,
}

impl Controller {
    /// Starts the handover service from `[handover]`; without certificates
    /// the pad shows "nicht eingerichtet" and everything else works.
    pub fn attach_handover_from_config(&mut self) {
        let started = ServiceConfig::from_config(self.pad.config())
            .and_then(|c| Service::start(c, self.pad.store().clone()));
        match started {
            Ok(svc) => self.ho.svc = Some(svc),
            Err(SetupError::Missing(what)) => {
                tracing::info!(missing = what, "pad-to-pad handover not configured");
                self.ho.not_set_up = true;
            }
            Err(e) => {
                tracing::error!(error = %e, "pad-to-pad handover not started");
                self.ho.not_set_up = true;
                self.ho.status = (e.message(self.lang), true);
            }
        }
        self.ho.progress = -1.0;
    }

    /// For tests: a service started elsewhere.
    pub fn attach_handover(&mut self, svc: Service) {
        self.ho.svc = Some(svc);
        self.ho.progress = -1.0;
    }

    pub(super) fn poll_handover(&mut self) {
        let events: Vec<ServiceEvent> = match &self.ho.svc {
            Some(s) => std::iter::from_fn(|| s.events().try_recv().ok()).collect(),
            None => return,
        };
        for e in events {
            match e {
                ServiceEvent::IncomingRequest {
                    from_call_sign,
                    missions,
                    deadline,
                } => {
                    let lines = missions
                        .iter()
                        .map(|m| {
                            let patients: Vec<String> = m
                                .patients
                                .iter()
                                .filter(|p| !p.retracted)
                                .map(|p| match (&p.name, &p.birth_date) {
                                    (n, Some(b)) if !n.is_empty() => format!("{n} ({b})"),
                                    (n, _) if !n.is_empty() => n.clone(),
                                    _ => msg::UNNAMED_PATIENT.message(self.lang),
                                })
                                .collect();
                            let opened = m.opened_ms.map(view::date_time_text).unwrap_or_default();
                            format!("{} {opened}: {}", m.call_sign, patients.join(", "))
                        })
                        .collect();
                    self.ho.prompt = Some(Prompt {
                        from: from_call_sign,
                        missions: lines,
                        deadline,
                    });
                }
                ServiceEvent::AwaitingConfirmation { deadline } => {
                    self.ho.waiting_until = Some(deadline);
                }
                ServiceEvent::Progress { done, total } => {
                    self.ho.waiting_until = None;
                    self.ho.prompt = None;
                    self.ho.progress = if total == 0 {
                        1.0
                    } else {
                        done as f32 / total as f32
                    };
                    self.ho.status = (
                        msg::transfer_progress(done, total).message(self.lang),
                        false,
                    );
                }
                ServiceEvent::Finished(r) => {
                    self.ho.prompt = None;
                    self.ho.busy = false;
                    self.ho.waiting_until = None;
                    self.ho.progress = 1.0;
                    let added: usize = r.missions.iter().map(|m| m.added).sum();
                    let text = match (r.role, self.lang) {
                        (Role::Receiver, Lang::De) => format!(
                            "Übernommen von {}: {} Einsatz/Einsätze, {added} neue Einträge.",
                            r.peer_call_sign,
                            r.missions.len()
                        ),
                        (Role::Receiver, Lang::En) => format!(
                            "Received from {}: {} mission(s), {added} new entries.",
                            r.peer_call_sign,
                            r.missions.len()
                        ),
                        (Role::Sender, Lang::De) => {
                            format!("An {} übergeben.", r.peer_call_sign)
                        }
                        (Role::Sender, Lang::En) => format!("Handed over to {}.", r.peer_call_sign),
                    };
                    self.set_toast(text.clone(), false);
                    self.ho.status = (text, false);
                }
                ServiceEvent::Failed(f) => {
                    self.ho.prompt = None;
                    self.ho.busy = false;
                    self.ho.waiting_until = None;
                    self.ho.progress = -1.0;
                    self.ho.status = (f.message(self.lang), true);
                }
            }
        }
        // The service refuses on its own at the deadline.
        if self
            .ho
            .prompt
            .as_ref()
            .is_some_and(|p| p.deadline <= Instant::now())
        {
            self.ho.prompt = None;
        }
    }

    pub(super) fn handover_request(&mut self, i: usize) {
        let Some(svc) = &self.ho.svc else { return };
        let Some(peer) = svc.paired().get(i) else {
            return;
        };
        svc.request(&peer.serial, MissionSel::AllOpen);
        self.ho.busy = true;
        self.ho.progress = 0.0;
        self.ho.status = (msg::request_sent(&peer.call_sign).message(self.lang), false);
    }

    pub(super) fn handover_respond(&mut self, allow: bool) {
        if self.ho.prompt.take().is_none() {
            return;
        }
        if let Some(svc) = &self.ho.svc {
            svc.respond(if allow {
                UserDecision::Allow(AfterHandover::Keep)
            } else {
                UserDecision::Deny
            });
        }
    }

    /// "Erlauben und hier abschließen": the sending pad closes its copy
    /// after a completed handover (it stays "übergeben" if the close rules
    /// refuse).
    pub(super) fn handover_allow_and_close(&mut self) {
        if self.ho.prompt.take().is_none() {
            return;
        }
        if let Some(svc) = &self.ho.svc {
            svc.respond(UserDecision::Allow(AfterHandover::Close));
        }
    }

    pub(super) fn handover_cancel(&mut self) {
        if let Some(svc) = &self.ho.svc {
            svc.cancel();
        }
        self.ho.busy = false;
    }

    fn handover_pill(&self) -> String {
        let text = if self.ho.prompt.is_some() {
            msg::pill::REQUEST
        } else if self.ho.busy {
            msg::pill::RUNNING
        } else if self.ho.svc.is_some() {
            msg::pill::READY
        } else if self.ho.not_set_up {
            msg::pill::NOT_SET_UP
        } else {
            msg::OFF
        };
        text.message(self.lang)
    }

    pub(super) fn refresh_handover(&self, ui: &AppWindow) {
        ui.global::<AppState>()
            .set_handover_state(ss(self.handover_pill()));
        let h = ui.global::<HandoverAdapter>();
        let pads: Vec<SharedString> = self
            .ho
            .svc
            .as_ref()
            .map(|s| s.paired().iter().map(|p| ss(&p.call_sign)).collect())
            .unwrap_or_default();
        sync_model(&h.get_pads(), pads, |new| h.set_pads(new));
        let mut status = self.ho.status.clone();
        if let Some(until) = self.ho.waiting_until {
            let left = until.saturating_duration_since(Instant::now()).as_secs();
            status = (msg::awaiting_confirmation(left).message(self.lang), false);
        }
        h.set_status(ss(&status.0));
        h.set_status_error(status.1);
        h.set_progress(self.ho.progress);
        h.set_busy(self.ho.busy);
        let lock = ui.global::<LockAdapter>();
        match &self.ho.prompt {
            Some(p) => {
                let secs = p
                    .deadline
                    .saturating_duration_since(Instant::now())
                    .as_secs() as i32;
                h.set_prompt_visible(true);
                h.set_prompt_from(ss(&p.from));
                sync_model(
                    &h.get_prompt_missions(),
                    p.missions.iter().map(ss).collect(),
                    |m| h.set_prompt_missions(m),
                );
                h.set_prompt_seconds(secs);
                lock.set_banner(ss(msg::handover_request(&p.from, secs).message(self.lang)));
            }
            None => {
                h.set_prompt_visible(false);
                lock.set_banner(SharedString::new());
            }
        }
    }
}
