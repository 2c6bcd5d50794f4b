//! The pre-notice en route: once the crew picked the target hospital, the
//! pad sends what the emergency room needs (no name: age, sex, suspected
//! diagnosis, priority, PZC, the latest vital signs, ETA, call sign) to the
//! hospital's arrival board over the channel's mTLS link, with the latest
//! 12-lead ECG sealed for that hospital (the gateway cannot open it). Every
//! change of that content replaces it; sending runs on a worker, one per
//! mission at a time, and a change made meanwhile is sent when it is done.

use crate::outbox::{prenotice, target_hospital};
use rettpad_record::wave::StripKind;
use rettpad_record::{Hash, MissionId, MissionState, Status};
use rettpad_text::Notice;
use rettpad_transfer::PreNotice;
use rettpad_transfer::channel_link::{ChannelLink, LinkError};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

type Sent = (MissionId, String, PreNotice, Option<Hash>);

pub struct PreNotifier {
    link: Option<Arc<ChannelLink>>,
    /// What the board has, per mission (hospital, notice, ECG).
    sent: HashMap<MissionId, (String, PreNotice, Option<Hash>)>,
    in_flight: Vec<MissionId>,
    /// A failed send is retried after 30 s, not every tick.
    failed_at: HashMap<MissionId, i64>,
    tx: Sender<(Sent, Result<(), LinkError>)>,
    rx: Receiver<(Sent, Result<(), LinkError>)>,
}

impl Default for PreNotifier {
    fn default() -> Self {
        let (tx, rx) = channel();
        PreNotifier {
            link: None,
            sent: HashMap::new(),
            in_flight: Vec::new(),
            failed_at: HashMap::new(),
            tx,
            rx,
        }
    }
}

/// What came back from the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreNoticeResult {
    /// On the board; `at_ms` goes to `transport.prenotified_at`.
    Sent {
        mission: MissionId,
        at_ms: i64,
    },
    Failed(MissionId, Notice),
}

impl PreNotifier {
    pub fn attach(&mut self, link: ChannelLink) {
        self.link = Some(Arc::new(link));
    }

    /// Sends the mission's pre-notice if it has a hospital and differs from
    /// what the board has. `seal_ecg(hospital, strip)` seals the latest
    /// 12-lead strip for the hospital (only called when sending). True when
    /// a send started.
    pub fn update(
        &mut self,
        st: &MissionState,
        hospitals: &[(String, String)],
        now_ms: i64,
        seal_ecg: &dyn Fn(&str, &Hash) -> Option<Vec<u8>>,
    ) -> bool {
        let Some(link) = self.link.clone() else {
            return false;
        };
        if st.status == Status::Closed
            || self.in_flight.contains(&st.id)
            || self
                .failed_at
                .get(&st.id)
                .is_some_and(|t| now_ms - t < 30_000)
        {
            return false;
        }
        let (Some(h), Some(n)) = (target_hospital(st, hospitals), prenotice(st, now_ms)) else {
            return false;
        };
        let ecg = latest_twelve_lead(st);
        if self.sent.get(&st.id) == Some(&(h.id.clone(), n.clone(), ecg)) {
            return false;
        }
        let sealed = ecg.and_then(|e| seal_ecg(&h.id, &e));
        self.in_flight.push(st.id);
        let tx = self.tx.clone();
        let m = st.id;
        let spawned = std::thread::Builder::new()
            .name("prenotice".into())
            .spawn(move || {
                let r = link.prenotice(m.0, &h.id, &n, sealed.as_deref());
                let _ = tx.send(((m, h.id, n, ecg), r));
            });
        if spawned.is_err() {
            self.in_flight.retain(|x| *x != m);
            return false;
        }
        tracing::info!(mission = %m, "pre-notice en route sent");
        true
    }

    /// Finished sends.
    pub fn poll(&mut self, now_ms: i64) -> Vec<PreNoticeResult> {
        let mut out = Vec::new();
        while let Ok(((m, h, n, ecg), r)) = self.rx.try_recv() {
            self.in_flight.retain(|x| *x != m);
            match r {
                Ok(()) => {
                    self.failed_at.remove(&m);
                    self.sent.insert(m, (h, n, ecg));
                    out.push(PreNoticeResult::Sent {
                        mission: m,
                        at_ms: now_ms,
                    });
                }
                Err(e) => {
                    self.failed_at.insert(m, now_ms);
                    tracing::warn!(mission = %m, error = %e, "pre-notice not sent");
                    out.push(PreNoticeResult::Failed(
                        m,
                        Notice::new(
                            "Voranmeldung nicht gesendet – bitte telefonisch voranmelden.",
                            "Pre-notice not sent – please notify by phone.",
                        ),
                    ));
                }
            }
        }
        out
    }
}

/// The latest 12-lead ECG of the mission's first patient.
fn latest_twelve_lead(st: &MissionState) -> Option<Hash> {
    let p = st.active_patients().next()?;
    p.strips
        .iter()
        .rev()
        .find(|s| s.kind == StripKind::TwelveLead)
        .map(|s| s.hash)
}
