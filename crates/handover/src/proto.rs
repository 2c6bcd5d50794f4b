//! Sans-IO state machines of the handover: [`Requester`] (the receiving pad,
//! whose user started the transfer) and [`Responder`] (the sending pad, whose
//! user must confirm within the deadline).
//!
//! Both are fed decoded [`Msg`]s and the time (`now_ms`, any monotonic
//! millisecond clock) and hand out messages to send and [`UiEvent`]s. Store
//! access goes through the [`Source`] / [`Sink`] traits, so tests can run
//! them without IO.
//!
//! Flow: `Request` → `Prompting` → (user) → `Decision` → `Manifest` → `Have`
//! (resume point) → `Plan` → units (`EventBatch` / `StripChunk`s, each
//! acknowledged with `Ack` after the receiver applied it durably, at most
//! [`WINDOW`] unacknowledged) → `Done` → `Finished`.
//!
//! Invariants:
//! - Nothing but `Prompting` and `Decision` leaves the sender before its
//!   user allowed the transfer; no answer before the deadline is a refusal.
//!   The deadline is fixed when the request arrives (a PIN prompt on the
//!   sender does not move it).
//! - The receiver applies only whole units whose hash verifies; a cut link
//!   leaves it with whole batches, and the next `Have` resumes after them.

use super::frame::{
    Decision, DoneEntry, ErrorCode, HaveEntry, MAX_BATCH_RAW, MAX_STRIP_RAW, ManifestEntry,
    MissionSel, Msg, STRIP_CHUNK,
};
use super::{Failure, MissionReport, MissionSummary, Report, Role};
use rettpad_crypto::sha256;
use rettpad_record::{Event, Hash, MissionId};
use std::collections::{BTreeMap, VecDeque};

/// The confirmation time on the sending pad.
pub const CONFIRM_MS: u64 = 10_000;
/// Extra time the receiver waits beyond the sender's deadline (link delay).
pub const DECISION_GRACE_MS: u64 = 5_000;
/// Silence from the peer after which a running transfer is given up.
pub const IDLE_MS: u64 = 30_000;
/// Unacknowledged units in flight.
pub const WINDOW: usize = 4;
/// Events per batch (small batches make resumes cheap).
pub const BATCH_EVENTS: usize = 32;
/// Raw bytes per batch before a batch is closed early.
pub const BATCH_BYTES: usize = 256 * 1024;
/// zstd level: fast enough for a pad CPU, good on JSON and ECG.
pub const ZSTD_LEVEL: i32 = 6;

/// The sending pad's data, as the responder needs it.
pub trait Source {
    /// The missions the selection names, for the prompt; empty if none.
    fn describe(&mut self, sel: MissionSel) -> Result<Vec<MissionSummary>, String>;
    fn manifest(&mut self, missions: &[MissionId]) -> Result<Vec<ManifestEntry>, String>;
    /// Events of `m` above `heads` (per device), in `(device, seq)` order.
    fn events_after(
        &mut self,
        m: MissionId,
        heads: &BTreeMap<String, u64>,
    ) -> Result<Vec<Event>, String>;
    /// `Strip::encode()` bytes of one strip.
    fn strip_bytes(&mut self, m: MissionId, strip: &Hash) -> Result<Option<Vec<u8>>, String>;
    /// Records the handover (`HandedOver { mode: PadToPad }`) and, if asked,
    /// closes the missions.
    fn handed_over(
        &mut self,
        to_call_sign: &str,
        sent: &[DoneEntry],
        after: AfterHandover,
    ) -> Result<(), String>;
}

/// The receiving pad's store, as the requester needs it.
pub trait Sink {
    /// What the receiver already holds of the offered missions.
    fn have(&mut self, offered: &[ManifestEntry]) -> Result<Vec<HaveEntry>, String>;
    /// Merges one verified batch durably; returns (added, duplicates, rejected).
    fn apply_events(
        &mut self,
        m: MissionId,
        events: &[Event],
    ) -> Result<(usize, usize, usize), String>;
    /// Stores one verified strip (`Strip::encode()` bytes).
    fn apply_strip(&mut self, m: MissionId, raw: &[u8]) -> Result<(), String>;
    /// Records `LogMerged` per mission (once per sender digest) and returns
    /// the receiver's digests after the merge.
    fn merged(
        &mut self,
        from_call_sign: &str,
        done: &[DoneEntry],
    ) -> Result<Vec<DoneEntry>, String>;
}

/// What the sending pad does with its copy after a completed handover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterHandover {
    /// Keep it as "übergeben" until its own upload.
    #[default]
    Keep,
    /// Close it (status "abgeschlossen"); refused closes keep it as "übergeben".
    Close,
}

/// The sending user's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserDecision {
    Allow(AfterHandover),
    Deny,
}

/// What the UI shows.
#[derive(Debug, Clone, PartialEq)]
pub enum UiEvent {
    /// Sender: show the full-screen prompt until `deadline_ms`.
    IncomingRequest {
        from_call_sign: String,
        missions: Vec<MissionSummary>,
        deadline_ms: u64,
    },
    /// Receiver: the sender shows its prompt until about `deadline_ms`.
    AwaitingConfirmation {
        deadline_ms: u64,
    },
    /// Units (event batches, strips) done of total.
    Progress {
        done: u32,
        total: u32,
    },
    Finished(Report),
    Failed(Failure),
}

fn fail_msg(code: ErrorCode, detail: &str) -> Msg {
    Msg::Error {
        code,
        detail: detail.chars().take(super::frame::MAX_TEXT).collect(),
    }
}

fn peer_error(code: ErrorCode) -> Failure {
    match code {
        ErrorCode::Cancelled => Failure::CancelledByPeer,
        ErrorCode::NoSuchMission => Failure::NoSuchMission,
        ErrorCode::NotPaired => Failure::NotPaired,
        ErrorCode::Busy => Failure::Busy,
        ErrorCode::Storage => Failure::PeerStorage,
        ErrorCode::Protocol => Failure::Protocol("peer reported a protocol error".into()),
    }
}

/// One unit of transfer as the sender plans it.
#[derive(Debug, Clone)]
enum Unit {
    Events {
        mission: MissionId,
        batch: u32,
        events: Vec<Event>,
    },
    Strip {
        mission: MissionId,
        hash: Hash,
    },
}

#[derive(Debug)]
enum RState {
    AwaitRequest,
    Prompt {
        deadline_ms: u64,
        missions: Vec<MissionId>,
    },
    AwaitHave {
        manifest: Vec<ManifestEntry>,
        after: AfterHandover,
    },
    Sending {
        manifest: Vec<ManifestEntry>,
        after: AfterHandover,
        units: Vec<Unit>,
        next: usize,
        acked: usize,
    },
    AwaitFinished {
        sent: Vec<DoneEntry>,
        after: AfterHandover,
        units: u32,
    },
    End,
}

/// The sending pad's side.
#[derive(Debug)]
pub struct Responder {
    peer_call_sign: String,
    confirm_ms: u64,
    state: RState,
    out: VecDeque<Msg>,
    events: VecDeque<UiEvent>,
    last_rx_ms: u64,
    outcome: Option<Result<Report, Failure>>,
}

impl Responder {
    /// `peer_call_sign` comes from the peer's verified certificate.
    pub fn new(peer_call_sign: &str, confirm_ms: u64, now_ms: u64) -> Self {
        Responder {
            peer_call_sign: peer_call_sign.to_string(),
            confirm_ms,
            state: RState::AwaitRequest,
            out: VecDeque::new(),
            events: VecDeque::new(),
            last_rx_ms: now_ms,
            outcome: None,
        }
    }

    /// Final result once the exchange is over.
    pub fn outcome(&self) -> Option<&Result<Report, Failure>> {
        self.outcome.as_ref()
    }

    pub fn is_over(&self) -> bool {
        matches!(self.state, RState::End)
    }

    /// True while the prompt is shown.
    pub fn prompting(&self) -> bool {
        matches!(self.state, RState::Prompt { .. })
    }

    pub fn poll_event(&mut self) -> Option<UiEvent> {
        self.events.pop_front()
    }

    fn fail(&mut self, f: Failure, tell: Option<Msg>) {
        if let Some(m) = tell {
            self.out.push_back(m);
        }
        tracing::info!(reason = f.code(), role = "sender", "handover failed");
        self.events.push_back(UiEvent::Failed(f.clone()));
        self.outcome = Some(Err(f));
        self.state = RState::End;
    }

    /// Time passes: the confirmation deadline and the idle limit.
    pub fn tick(&mut self, now_ms: u64) {
        match &self.state {
            RState::Prompt { deadline_ms, .. } if now_ms >= *deadline_ms => {
                self.fail(
                    Failure::NoConfirmation,
                    Some(Msg::Decision {
                        decision: Decision::Timeout,
                    }),
                );
            }
            RState::Prompt { .. } | RState::End => {}
            _ if now_ms.saturating_sub(self.last_rx_ms) > IDLE_MS => {
                self.fail(
                    Failure::Timeout,
                    Some(fail_msg(ErrorCode::Protocol, "idle")),
                );
            }
            _ => {}
        }
    }

    /// The next moment `tick` has something to do.
    pub fn next_deadline(&self) -> Option<u64> {
        match &self.state {
            RState::Prompt { deadline_ms, .. } => Some(*deadline_ms),
            RState::End => None,
            _ => Some(self.last_rx_ms + IDLE_MS + 1),
        }
    }

    /// The local user cancels.
    pub fn cancel(&mut self) {
        if !self.is_over() {
            self.fail(
                Failure::Cancelled,
                Some(fail_msg(ErrorCode::Cancelled, "cancelled by user")),
            );
        }
    }

    /// The local user answered the prompt.
    pub fn decide(&mut self, now_ms: u64, d: UserDecision, src: &mut dyn Source) {
        self.tick(now_ms);
        let RState::Prompt { missions, .. } = &self.state else {
            return; // too late (already timed out) or no prompt: ignored
        };
        let missions = missions.clone();
        match d {
            UserDecision::Deny => self.fail(
                Failure::Refused,
                Some(Msg::Decision {
                    decision: Decision::Deny,
                }),
            ),
            UserDecision::Allow(after) => match src.manifest(&missions) {
                Ok(manifest) => {
                    self.out.push_back(Msg::Decision {
                        decision: Decision::Allow,
                    });
                    self.out.push_back(Msg::Manifest {
                        missions: manifest.clone(),
                    });
                    // The receiver's clock starts now, not at the request.
                    self.last_rx_ms = now_ms;
                    self.state = RState::AwaitHave { manifest, after };
                }
                Err(e) => self.fail(
                    Failure::Storage(e),
                    Some(fail_msg(ErrorCode::Storage, "sender storage")),
                ),
            },
        }
    }

    /// A message from the receiver.
    pub fn on_msg(&mut self, now_ms: u64, msg: Msg, src: &mut dyn Source) {
        self.last_rx_ms = now_ms;
        let state = std::mem::replace(&mut self.state, RState::End);
        match (state, msg) {
            (_, Msg::Cancel) => self.fail(Failure::CancelledByPeer, None),
            (_, Msg::Error { code, .. }) => self.fail(peer_error(code), None),
            (RState::AwaitRequest, Msg::Request { missions, .. }) => match src.describe(missions) {
                Ok(found) if !found.is_empty() => {
                    let deadline_ms = now_ms + self.confirm_ms;
                    self.out.push_back(Msg::Prompting {
                        deadline_in_ms: self.confirm_ms,
                    });
                    tracing::info!(missions = found.len(), "handover request, prompting");
                    self.events.push_back(UiEvent::IncomingRequest {
                        from_call_sign: self.peer_call_sign.clone(),
                        missions: found.clone(),
                        deadline_ms,
                    });
                    self.state = RState::Prompt {
                        deadline_ms,
                        missions: found.iter().map(|m| m.mission).collect(),
                    };
                }
                Ok(_) => self.fail(
                    Failure::NoSuchMission,
                    Some(fail_msg(ErrorCode::NoSuchMission, "no such mission")),
                ),
                Err(e) => self.fail(
                    Failure::Storage(e),
                    Some(fail_msg(ErrorCode::Storage, "sender storage")),
                ),
            },
            (RState::AwaitHave { manifest, after }, Msg::Have { missions }) => {
                match plan(&manifest, &missions, src) {
                    Ok(units) => {
                        let total = units.len() as u32;
                        self.out.push_back(Msg::Plan { units: total });
                        self.events.push_back(UiEvent::Progress { done: 0, total });
                        self.state = RState::Sending {
                            manifest,
                            after,
                            units,
                            next: 0,
                            acked: 0,
                        };
                        self.pump(src);
                    }
                    Err(e) => self.fail(
                        Failure::Storage(e),
                        Some(fail_msg(ErrorCode::Storage, "sender storage")),
                    ),
                }
            }
            (
                RState::Sending {
                    manifest,
                    after,
                    units,
                    next,
                    acked,
                },
                Msg::Ack { unit },
            ) if unit as usize == acked && acked < next => {
                let acked = acked + 1;
                self.events.push_back(UiEvent::Progress {
                    done: acked as u32,
                    total: units.len() as u32,
                });
                self.state = RState::Sending {
                    manifest,
                    after,
                    units,
                    next,
                    acked,
                };
                self.pump(src);
            }
            (RState::AwaitFinished { sent, after, units }, Msg::Finished { .. }) => {
                match src.handed_over(&self.peer_call_sign, &sent, after) {
                    Ok(()) => {
                        let report = Report {
                            role: Role::Sender,
                            peer_call_sign: self.peer_call_sign.clone(),
                            units,
                            missions: sent
                                .iter()
                                .map(|d| MissionReport {
                                    mission: d.mission,
                                    sender_digest: d.digest,
                                    receiver_digest: None,
                                    added: 0,
                                    duplicates: 0,
                                    rejected: 0,
                                    strips: 0,
                                })
                                .collect(),
                        };
                        tracing::info!(units, "handover sent");
                        self.events.push_back(UiEvent::Finished(report.clone()));
                        self.outcome = Some(Ok(report));
                    }
                    // The receiver has everything; only our own record failed.
                    Err(e) => self.fail(Failure::Storage(e), None),
                }
            }
            (_, m) => {
                tracing::warn!(msg = m.name(), "unexpected handover message from receiver");
                self.fail(
                    Failure::Protocol(format!("unexpected {}", m.name())),
                    Some(fail_msg(ErrorCode::Protocol, "unexpected message")),
                );
            }
        }
    }

    /// Queues units while the window allows, then `Done`.
    fn pump(&mut self, src: &mut dyn Source) {
        let RState::Sending {
            units, next, acked, ..
        } = &mut self.state
        else {
            return;
        };
        let mut err = None;
        while *next < units.len() && *next - *acked < WINDOW {
            let Some(unit) = units.get(*next) else { break };
            match unit_frames(*next as u32, unit, src) {
                Ok(frames) => self.out.extend(frames),
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
            *next += 1;
        }
        if let Some(e) = err {
            self.fail(
                Failure::Storage(e),
                Some(fail_msg(ErrorCode::Storage, "sender storage")),
            );
            return;
        }
        if *acked == units.len() {
            let RState::Sending {
                manifest,
                after,
                units,
                ..
            } = std::mem::replace(&mut self.state, RState::End)
            else {
                return;
            };
            let sent: Vec<DoneEntry> = manifest
                .iter()
                .map(|m| DoneEntry {
                    mission: m.mission,
                    digest: m.digest,
                    events: m.events,
                })
                .collect();
            self.out.push_back(Msg::Done {
                missions: sent.clone(),
            });
            self.state = RState::AwaitFinished {
                sent,
                after,
                units: units.len() as u32,
            };
        }
    }

    /// The next message to send.
    pub fn poll_send(&mut self) -> Option<Msg> {
        self.out.pop_front()
    }
}

/// Which units the receiver still lacks.
fn plan(
    manifest: &[ManifestEntry],
    have: &[HaveEntry],
    src: &mut dyn Source,
) -> Result<Vec<Unit>, String> {
    let mut units = Vec::new();
    for m in manifest {
        let h = have.iter().find(|h| h.mission == m.mission);
        let empty = BTreeMap::new();
        let heads = h.map_or(&empty, |h| &h.heads);
        let events = src.events_after(m.mission, heads)?;
        let mut batch = 0u32;
        let mut cur: Vec<Event> = Vec::new();
        let mut cur_bytes = 0usize;
        for e in events {
            let n = e.encode().len();
            if !cur.is_empty() && (cur.len() >= BATCH_EVENTS || cur_bytes + n > BATCH_BYTES) {
                units.push(Unit::Events {
                    mission: m.mission,
                    batch,
                    events: std::mem::take(&mut cur),
                });
                batch += 1;
                cur_bytes = 0;
            }
            cur_bytes += n;
            cur.push(e);
        }
        if !cur.is_empty() {
            units.push(Unit::Events {
                mission: m.mission,
                batch,
                events: cur,
            });
        }
        for s in &m.strips {
            if !h.is_some_and(|h| h.strips.contains(s)) {
                units.push(Unit::Strip {
                    mission: m.mission,
                    hash: *s,
                });
            }
        }
    }
    Ok(units)
}

fn unit_frames(unit: u32, u: &Unit, src: &mut dyn Source) -> Result<Vec<Msg>, String> {
    match u {
        Unit::Events {
            mission,
            batch,
            events,
        } => {
            let raw = serde_json::to_vec(events).map_err(|_| "event encoding".to_string())?;
            let zdata = zstd::bulk::compress(&raw, ZSTD_LEVEL).map_err(|e| e.to_string())?;
            Ok(vec![Msg::EventBatch {
                unit,
                mission: *mission,
                batch: *batch,
                events: events.len() as u32,
                sha256: Hash(sha256(&raw)),
                zdata,
            }])
        }
        Unit::Strip { mission, hash } => {
            let raw = src
                .strip_bytes(*mission, hash)?
                .ok_or_else(|| "strip listed but not stored".to_string())?;
            let z = zstd::bulk::compress(&raw, ZSTD_LEVEL).map_err(|e| e.to_string())?;
            let chunks: Vec<&[u8]> = z.chunks(STRIP_CHUNK).collect();
            let n = chunks.len();
            Ok(chunks
                .into_iter()
                .enumerate()
                .map(|(i, c)| Msg::StripChunk {
                    unit,
                    mission: *mission,
                    strip: *hash,
                    chunk: i as u32,
                    last: i + 1 == n,
                    zdata: c.to_vec(),
                })
                .collect())
        }
    }
}

#[derive(Debug)]
struct StripAsm {
    unit: u32,
    mission: MissionId,
    hash: Hash,
    next_chunk: u32,
    z: Vec<u8>,
}

#[derive(Debug)]
enum QState {
    AwaitPrompt,
    AwaitDecision {
        deadline_ms: u64,
    },
    AwaitManifest,
    AwaitPlan {
        missions: Vec<MissionId>,
    },
    Receiving {
        missions: Vec<MissionId>,
        total: u32,
        done: u32,
        strip: Option<StripAsm>,
    },
    End,
}

/// The receiving pad's side: it asks, then merges what arrives.
#[derive(Debug)]
pub struct Requester {
    peer_call_sign: String,
    state: QState,
    out: VecDeque<Msg>,
    events: VecDeque<UiEvent>,
    last_rx_ms: u64,
    report: BTreeMap<MissionId, MissionReport>,
    outcome: Option<Result<Report, Failure>>,
}

impl Requester {
    /// `peer_call_sign` is the paired pad's call sign, already checked
    /// against its certificate; the `Request` goes out at once.
    pub fn new(peer_call_sign: &str, own_call_sign: &str, sel: MissionSel, now_ms: u64) -> Self {
        let mut out = VecDeque::new();
        out.push_back(Msg::Request {
            missions: sel,
            call_sign: own_call_sign.to_string(),
        });
        Requester {
            peer_call_sign: peer_call_sign.to_string(),
            state: QState::AwaitPrompt,
            out,
            events: VecDeque::new(),
            last_rx_ms: now_ms,
            report: BTreeMap::new(),
            outcome: None,
        }
    }

    pub fn outcome(&self) -> Option<&Result<Report, Failure>> {
        self.outcome.as_ref()
    }

    pub fn is_over(&self) -> bool {
        matches!(self.state, QState::End)
    }

    pub fn poll_event(&mut self) -> Option<UiEvent> {
        self.events.pop_front()
    }

    pub fn poll_send(&mut self) -> Option<Msg> {
        self.out.pop_front()
    }

    fn fail(&mut self, f: Failure, tell: Option<Msg>) {
        if let Some(m) = tell {
            self.out.push_back(m);
        }
        tracing::info!(reason = f.code(), role = "receiver", "handover failed");
        self.events.push_back(UiEvent::Failed(f.clone()));
        self.outcome = Some(Err(f));
        self.state = QState::End;
    }

    pub fn cancel(&mut self) {
        if !self.is_over() {
            self.fail(
                Failure::Cancelled,
                Some(fail_msg(ErrorCode::Cancelled, "cancelled by user")),
            );
        }
    }

    pub fn tick(&mut self, now_ms: u64) {
        match &self.state {
            QState::End => {}
            QState::AwaitDecision { deadline_ms } if now_ms >= *deadline_ms => {
                self.fail(
                    Failure::NoConfirmation,
                    Some(fail_msg(ErrorCode::Cancelled, "no decision")),
                );
            }
            QState::AwaitDecision { .. } => {}
            _ if now_ms.saturating_sub(self.last_rx_ms) > IDLE_MS => {
                self.fail(
                    Failure::Timeout,
                    Some(fail_msg(ErrorCode::Protocol, "idle")),
                );
            }
            _ => {}
        }
    }

    pub fn next_deadline(&self) -> Option<u64> {
        match &self.state {
            QState::End => None,
            QState::AwaitDecision { deadline_ms } => Some(*deadline_ms),
            _ => Some(self.last_rx_ms + IDLE_MS + 1),
        }
    }

    fn entry(&mut self, m: MissionId) -> &mut MissionReport {
        self.report.entry(m).or_insert_with(|| MissionReport {
            mission: m,
            sender_digest: Hash::ZERO,
            receiver_digest: None,
            added: 0,
            duplicates: 0,
            rejected: 0,
            strips: 0,
        })
    }

    pub fn on_msg(&mut self, now_ms: u64, msg: Msg, sink: &mut dyn Sink) {
        self.last_rx_ms = now_ms;
        let state = std::mem::replace(&mut self.state, QState::End);
        match (state, msg) {
            (_, Msg::Cancel) => self.fail(Failure::CancelledByPeer, None),
            (_, Msg::Error { code, .. }) => self.fail(peer_error(code), None),
            (QState::AwaitPrompt, Msg::Prompting { deadline_in_ms }) => {
                let deadline_ms = now_ms + deadline_in_ms.min(CONFIRM_MS * 6) + DECISION_GRACE_MS;
                self.events
                    .push_back(UiEvent::AwaitingConfirmation { deadline_ms });
                self.state = QState::AwaitDecision { deadline_ms };
            }
            (QState::AwaitDecision { .. }, Msg::Decision { decision }) => match decision {
                Decision::Allow => self.state = QState::AwaitManifest,
                Decision::Deny => self.fail(Failure::Refused, None),
                Decision::Timeout => self.fail(Failure::NoConfirmation, None),
            },
            (QState::AwaitManifest, Msg::Manifest { missions }) => match sink.have(&missions) {
                Ok(have) => {
                    for m in &missions {
                        self.entry(m.mission).sender_digest = m.digest;
                    }
                    self.out.push_back(Msg::Have { missions: have });
                    self.state = QState::AwaitPlan {
                        missions: missions.iter().map(|m| m.mission).collect(),
                    };
                }
                Err(e) => self.fail(
                    Failure::Storage(e),
                    Some(fail_msg(ErrorCode::Storage, "receiver storage")),
                ),
            },
            (QState::AwaitPlan { missions }, Msg::Plan { units }) => {
                self.events.push_back(UiEvent::Progress {
                    done: 0,
                    total: units,
                });
                self.state = QState::Receiving {
                    missions,
                    total: units,
                    done: 0,
                    strip: None,
                };
            }
            (
                QState::Receiving {
                    missions,
                    total,
                    done,
                    strip: None,
                },
                Msg::EventBatch {
                    unit,
                    mission,
                    events,
                    sha256: want,
                    zdata,
                    ..
                },
            ) if unit == done && done < total && missions.contains(&mission) => {
                match verify_batch(mission, events, &want, &zdata)
                    .and_then(|evs| sink.apply_events(mission, &evs).map_err(Failure::Storage))
                {
                    Ok((added, dups, rejected)) => {
                        let r = self.entry(mission);
                        r.added += added;
                        r.duplicates += dups;
                        r.rejected += rejected;
                        self.unit_done(missions, total, done);
                    }
                    Err(f) => self.fail(f, Some(fail_msg(ErrorCode::Protocol, "batch refused"))),
                }
            }
            (
                QState::Receiving {
                    missions,
                    total,
                    done,
                    strip,
                },
                Msg::StripChunk {
                    unit,
                    mission,
                    strip: hash,
                    chunk,
                    last,
                    zdata,
                },
            ) if unit == done && done < total && missions.contains(&mission) => {
                let mut asm = match strip {
                    None if chunk == 0 => StripAsm {
                        unit,
                        mission,
                        hash,
                        next_chunk: 0,
                        z: Vec::new(),
                    },
                    Some(a) if a.unit == unit && a.hash == hash && a.mission == mission => a,
                    _ => {
                        self.fail(
                            Failure::Protocol("strip chunk out of order".into()),
                            Some(fail_msg(ErrorCode::Protocol, "strip chunk order")),
                        );
                        return;
                    }
                };
                if chunk != asm.next_chunk || asm.z.len() + zdata.len() > MAX_STRIP_RAW {
                    self.fail(
                        Failure::Protocol("strip chunk out of order".into()),
                        Some(fail_msg(ErrorCode::Protocol, "strip chunk order")),
                    );
                    return;
                }
                asm.z.extend_from_slice(&zdata);
                asm.next_chunk += 1;
                if !last {
                    self.state = QState::Receiving {
                        missions,
                        total,
                        done,
                        strip: Some(asm),
                    };
                    return;
                }
                match verify_strip(&asm)
                    .and_then(|raw| sink.apply_strip(mission, &raw).map_err(Failure::Storage))
                {
                    Ok(()) => {
                        self.entry(mission).strips += 1;
                        self.unit_done(missions, total, done);
                    }
                    Err(f) => self.fail(f, Some(fail_msg(ErrorCode::Protocol, "strip refused"))),
                }
            }
            (
                QState::Receiving {
                    total,
                    done,
                    strip: None,
                    ..
                },
                Msg::Done { missions },
            ) if done == total => match sink.merged(&self.peer_call_sign, &missions) {
                Ok(ours) => {
                    for d in &ours {
                        self.entry(d.mission).receiver_digest = Some(d.digest);
                    }
                    self.out.push_back(Msg::Finished { missions: ours });
                    let report = Report {
                        role: Role::Receiver,
                        peer_call_sign: self.peer_call_sign.clone(),
                        units: total,
                        missions: self.report.values().cloned().collect(),
                    };
                    tracing::info!(units = total, "handover received");
                    self.events.push_back(UiEvent::Finished(report.clone()));
                    self.outcome = Some(Ok(report));
                }
                Err(e) => self.fail(
                    Failure::Storage(e),
                    Some(fail_msg(ErrorCode::Storage, "receiver storage")),
                ),
            },
            (_, m) => {
                tracing::warn!(msg = m.name(), "unexpected handover message from sender");
                self.fail(
                    Failure::Protocol(format!("unexpected {}", m.name())),
                    Some(fail_msg(ErrorCode::Protocol, "unexpected message")),
                );
            }
        }
    }

    fn unit_done(&mut self, missions: Vec<MissionId>, total: u32, done: u32) {
        self.out.push_back(Msg::Ack { unit: done });
        let done = done + 1;
        self.events.push_back(UiEvent::Progress { done, total });
        self.state = QState::Receiving {
            missions,
            total,
            done,
            strip: None,
        };
    }
}

fn decompress_capped(z: &[u8], cap: usize) -> Result<Vec<u8>, Failure> {
    use std::io::Read;
    let dec = zstd::stream::read::Decoder::new(z).map_err(|_| Failure::Protocol("zstd".into()))?;
    let mut out = Vec::new();
    dec.take(cap as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|_| Failure::Protocol("zstd data does not decompress".into()))?;
    if out.len() > cap {
        return Err(Failure::Protocol("decompressed data too large".into()));
    }
    Ok(out)
}

fn verify_batch(m: MissionId, n: u32, want: &Hash, z: &[u8]) -> Result<Vec<Event>, Failure> {
    let raw = decompress_capped(z, MAX_BATCH_RAW)?;
    if Hash(sha256(&raw)) != *want {
        return Err(Failure::Protocol("batch hash mismatch".into()));
    }
    let events: Vec<Event> = serde_json::from_slice(&raw)
        .map_err(|_| Failure::Protocol("batch does not decode".into()))?;
    if events.len() != n as usize || events.iter().any(|e| e.mission != m) {
        return Err(Failure::Protocol("batch does not match its header".into()));
    }
    Ok(events)
}

fn verify_strip(a: &StripAsm) -> Result<Vec<u8>, Failure> {
    let raw = decompress_capped(&a.z, MAX_STRIP_RAW)?;
    if Hash(sha256(&raw)) != a.hash {
        return Err(Failure::Protocol("strip hash mismatch".into()));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{self, Decoder};
    use rettpad_record::keys;
    use rettpad_record::{Author, MissionLog, Payload, Target, Value};
    use std::collections::HashMap;

    /// A pad in memory: one log per mission, strips by hash.
    #[derive(Default)]
    struct Mem {
        logs: BTreeMap<MissionId, MissionLog>,
        strips: HashMap<Hash, Vec<u8>>,
        merged: Vec<(String, Hash)>,
        handed: Vec<(String, Hash)>,
    }

    impl Source for Mem {
        fn describe(&mut self, sel: MissionSel) -> Result<Vec<MissionSummary>, String> {
            Ok(self
                .logs
                .keys()
                .filter(|m| sel == MissionSel::AllOpen || sel == MissionSel::One(**m))
                .map(|m| MissionSummary {
                    mission: *m,
                    call_sign: "NEF".into(),
                    opened_ms: None,
                    events: 0,
                    patients: vec![],
                })
                .collect())
        }
        fn manifest(&mut self, ms: &[MissionId]) -> Result<Vec<ManifestEntry>, String> {
            Ok(ms
                .iter()
                .filter_map(|m| self.logs.get(m))
                .map(|l| ManifestEntry {
                    mission: l.mission(),
                    events: l.len() as u32,
                    digest: l.digest(),
                    heads: l
                        .events()
                        .iter()
                        .map(|e| (e.device.clone(), l.head(&e.device)))
                        .collect(),
                    strips: self.strips.keys().copied().collect(),
                })
                .collect())
        }
        fn events_after(
            &mut self,
            m: MissionId,
            h: &BTreeMap<String, u64>,
        ) -> Result<Vec<Event>, String> {
            let mut v: Vec<Event> = self
                .logs
                .get(&m)
                .map(|l| l.events().to_vec())
                .unwrap_or_default();
            v.retain(|e| e.seq > h.get(&e.device).copied().unwrap_or(0));
            v.sort_by(|a, b| (&a.device, a.seq).cmp(&(&b.device, b.seq)));
            Ok(v)
        }
        fn strip_bytes(&mut self, _m: MissionId, s: &Hash) -> Result<Option<Vec<u8>>, String> {
            Ok(self.strips.get(s).cloned())
        }
        fn handed_over(
            &mut self,
            to: &str,
            sent: &[DoneEntry],
            _a: AfterHandover,
        ) -> Result<(), String> {
            self.handed
                .extend(sent.iter().map(|d| (to.to_string(), d.digest)));
            Ok(())
        }
    }

    impl Sink for Mem {
        fn have(&mut self, offered: &[ManifestEntry]) -> Result<Vec<HaveEntry>, String> {
            Ok(offered
                .iter()
                .map(|m| HaveEntry {
                    mission: m.mission,
                    heads: self
                        .logs
                        .get(&m.mission)
                        .map(|l| m.heads.keys().map(|d| (d.clone(), l.head(d))).collect())
                        .unwrap_or_default(),
                    strips: m
                        .strips
                        .iter()
                        .filter(|h| self.strips.contains_key(h))
                        .copied()
                        .collect(),
                })
                .collect())
        }
        fn apply_events(
            &mut self,
            m: MissionId,
            evs: &[Event],
        ) -> Result<(usize, usize, usize), String> {
            let r = self
                .logs
                .entry(m)
                .or_insert_with(|| MissionLog::new(m))
                .merge_from(evs);
            Ok((r.added, r.duplicates, r.rejected.len()))
        }
        fn apply_strip(&mut self, _m: MissionId, raw: &[u8]) -> Result<(), String> {
            self.strips.insert(Hash(sha256(raw)), raw.to_vec());
            Ok(())
        }
        fn merged(&mut self, from: &str, done: &[DoneEntry]) -> Result<Vec<DoneEntry>, String> {
            self.merged
                .extend(done.iter().map(|d| (from.to_string(), d.digest)));
            Ok(done
                .iter()
                .map(|d| DoneEntry {
                    mission: d.mission,
                    digest: self
                        .logs
                        .get(&d.mission)
                        .map(|l| l.digest())
                        .unwrap_or_default(),
                    events: 0,
                })
                .collect())
        }
    }

    fn sender_pad(n: usize) -> (Mem, MissionId) {
        let m = MissionId::new();
        let mut log = MissionLog::new(m);
        let a = Author {
            device: "NEF-PAD".into(),
            crew_member: uuid::Uuid::from_u128(1),
        };
        for i in 0..n {
            let e = log.prepare(
                &a,
                1_000 + i as i64,
                0,
                Payload::Set {
                    target: Target::Mission,
                    field: keys::remarks::TEXT.into(),
                    value: Value::Text(format!("r{i}")),
                },
            );
            log.insert(e).unwrap();
        }
        let mut mem = Mem::default();
        mem.logs.insert(m, log);
        let raw: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        mem.strips.insert(Hash(sha256(&raw)), raw);
        (mem, m)
    }

    /// Moves messages through real frames until both are quiet; `decide`
    /// is called when the prompt shows. Returns UI events of both sides.
    fn run(
        q: &mut Requester,
        r: &mut Responder,
        src: &mut Mem,
        sink: &mut Mem,
        now: &mut u64,
        mut decide: impl FnMut(u64) -> Option<(u64, UserDecision)>,
        mut cut_after_frames: Option<usize>,
    ) -> (Vec<UiEvent>, Vec<UiEvent>) {
        let (mut qe, mut re) = (Vec::new(), Vec::new());
        for _ in 0..10_000 {
            let mut moved = false;
            while let Some(m) = q.poll_send() {
                let mut d = Decoder::new();
                d.push(&frame::encode(&m).unwrap());
                let m = d.next_msg().unwrap().unwrap();
                if cut_after_frames == Some(0) {
                    return (qe, re);
                }
                cut_after_frames = cut_after_frames.map(|n| n - 1);
                r.on_msg(*now, m, src);
                moved = true;
            }
            while let Some(m) = r.poll_send() {
                let mut d = Decoder::new();
                d.push(&frame::encode(&m).unwrap());
                let m = d.next_msg().unwrap().unwrap();
                if cut_after_frames == Some(0) {
                    return (qe, re);
                }
                cut_after_frames = cut_after_frames.map(|n| n - 1);
                q.on_msg(*now, m, sink);
                moved = true;
            }
            while let Some(e) = q.poll_event() {
                qe.push(e);
            }
            while let Some(e) = r.poll_event() {
                re.push(e);
            }
            if r.prompting()
                && let Some((t, d)) = decide(*now)
            {
                *now = t;
                r.decide(*now, d, src);
                continue;
            }
            if !moved {
                if q.is_over() && r.is_over() {
                    break;
                }
                *now += 500;
                q.tick(*now);
                r.tick(*now);
            }
        }
        (qe, re)
    }

    #[test]
    fn confirmed_transfer_then_idempotent_repeat() {
        let (mut src, m) = sender_pad(70);
        let mut sink = Mem::default();
        let mut now = 0;
        let mut q = Requester::new("NEF 1", "RTW 1", MissionSel::One(m), now);
        let mut r = Responder::new("RTW 1", CONFIRM_MS, now);
        let (qe, _) = run(
            &mut q,
            &mut r,
            &mut src,
            &mut sink,
            &mut now,
            |t| Some((t + 3_000, UserDecision::Allow(AfterHandover::Keep))),
            None,
        );
        let rep = q.outcome().unwrap().clone().unwrap();
        assert_eq!(rep.units, 4, "3 batches + 1 strip");
        assert_eq!(rep.missions[0].added, 70);
        assert_eq!(rep.missions[0].strips, 1);
        assert_eq!(sink.logs[&m].events(), src.logs[&m].events());
        assert_eq!(sink.strips, src.strips);
        assert!(qe.contains(&UiEvent::Progress { done: 4, total: 4 }));
        assert_eq!(
            src.handed,
            vec![("RTW 1".to_string(), src.logs[&m].digest())]
        );
        // again: nothing left to send
        let mut q = Requester::new("NEF 1", "RTW 1", MissionSel::AllOpen, now);
        let mut r = Responder::new("RTW 1", CONFIRM_MS, now);
        run(
            &mut q,
            &mut r,
            &mut src,
            &mut sink,
            &mut now,
            |t| Some((t, UserDecision::Allow(AfterHandover::Keep))),
            None,
        );
        let rep = q.outcome().unwrap().clone().unwrap();
        assert_eq!((rep.units, rep.missions[0].added), (0, 0));
    }

    #[test]
    fn no_answer_is_refused_at_ten_seconds_and_late_allow_is_ignored() {
        let (mut src, m) = sender_pad(5);
        let mut sink = Mem::default();
        let mut now = 0;
        let mut q = Requester::new("NEF 1", "RTW 1", MissionSel::One(m), now);
        let mut r = Responder::new("RTW 1", CONFIRM_MS, now);
        // The user unlocks the pad (PIN) and taps Erlauben after 10.5 s.
        let mut asked = false;
        let (qe, re) = run(
            &mut q,
            &mut r,
            &mut src,
            &mut sink,
            &mut now,
            |t| {
                if t >= 10_500 && !asked {
                    asked = true;
                    Some((t, UserDecision::Allow(AfterHandover::Keep)))
                } else {
                    None
                }
            },
            None,
        );
        assert!(matches!(
            re.first(),
            Some(UiEvent::IncomingRequest {
                deadline_ms: 10_000,
                ..
            })
        ));
        assert_eq!(q.outcome(), Some(&Err(Failure::NoConfirmation)));
        assert_eq!(r.outcome(), Some(&Err(Failure::NoConfirmation)));
        assert!(
            qe.iter()
                .any(|e| matches!(e, UiEvent::Failed(Failure::NoConfirmation)))
        );
        assert!(sink.logs.is_empty() && sink.strips.is_empty());
        assert!(src.handed.is_empty());
    }

    #[test]
    fn deny_sends_nothing() {
        let (mut src, m) = sender_pad(5);
        let mut sink = Mem::default();
        let mut now = 0;
        let mut q = Requester::new("NEF 1", "RTW 1", MissionSel::One(m), now);
        let mut r = Responder::new("RTW 1", CONFIRM_MS, now);
        run(
            &mut q,
            &mut r,
            &mut src,
            &mut sink,
            &mut now,
            |t| Some((t + 1, UserDecision::Deny)),
            None,
        );
        assert_eq!(q.outcome(), Some(&Err(Failure::Refused)));
        assert!(sink.logs.is_empty());
    }

    #[test]
    fn unknown_mission_is_reported() {
        let (mut src, _) = sender_pad(1);
        let mut sink = Mem::default();
        let mut now = 0;
        let mut q = Requester::new("NEF 1", "RTW 1", MissionSel::One(MissionId::new()), now);
        let mut r = Responder::new("RTW 1", CONFIRM_MS, now);
        run(
            &mut q,
            &mut r,
            &mut src,
            &mut sink,
            &mut now,
            |_| None,
            None,
        );
        assert_eq!(q.outcome(), Some(&Err(Failure::NoSuchMission)));
    }

    #[test]
    fn cut_at_every_frame_then_resume_gives_the_same_log() {
        let (src0, m) = sender_pad(70);
        for cut in 0..14 {
            let mut src = Mem {
                logs: src0.logs.clone(),
                strips: src0.strips.clone(),
                ..Default::default()
            };
            let mut sink = Mem::default();
            let mut now = 0;
            let mut q = Requester::new("NEF 1", "RTW 1", MissionSel::One(m), now);
            let mut r = Responder::new("RTW 1", CONFIRM_MS, now);
            run(
                &mut q,
                &mut r,
                &mut src,
                &mut sink,
                &mut now,
                |t| Some((t, UserDecision::Allow(AfterHandover::Keep))),
                Some(cut),
            );
            let partial = sink.logs.get(&m).map_or(0, |l| l.len());
            assert!(
                partial % BATCH_EVENTS == 0 || partial == 70,
                "whole batches only"
            );
            let mut q = Requester::new("NEF 1", "RTW 1", MissionSel::One(m), now);
            let mut r = Responder::new("RTW 1", CONFIRM_MS, now);
            run(
                &mut q,
                &mut r,
                &mut src,
                &mut sink,
                &mut now,
                |t| Some((t, UserDecision::Allow(AfterHandover::Keep))),
                None,
            );
            let rep = q.outcome().unwrap().clone().unwrap();
            assert_eq!(rep.missions[0].added + partial, 70, "cut {cut}");
            assert_eq!(rep.missions[0].duplicates, 0, "resume sends only the rest");
            assert_eq!(sink.logs[&m].events(), src.logs[&m].events());
            assert_eq!(sink.strips, src.strips);
        }
    }

    #[test]
    fn corrupted_batch_is_refused_whole() {
        let (mut src, m) = sender_pad(5);
        let mut sink = Mem::default();
        let mut q = Requester::new("NEF 1", "RTW 1", MissionSel::One(m), 0);
        let mut r = Responder::new("RTW 1", CONFIRM_MS, 0);
        r.on_msg(0, q.poll_send().unwrap(), &mut src);
        r.decide(1, UserDecision::Allow(AfterHandover::Keep), &mut src);
        while let Some(x) = r.poll_send() {
            q.on_msg(1, x, &mut sink);
        }
        while let Some(x) = q.poll_send() {
            r.on_msg(1, x, &mut src);
        }
        let _plan = r.poll_send().unwrap();
        q.on_msg(1, _plan, &mut sink);
        let Some(Msg::EventBatch {
            unit,
            mission,
            batch,
            events,
            sha256,
            mut zdata,
        }) = r.poll_send()
        else {
            panic!()
        };
        let last = zdata.len() - 1;
        zdata[last] ^= 1;
        q.on_msg(
            2,
            Msg::EventBatch {
                unit,
                mission,
                batch,
                events,
                sha256,
                zdata,
            },
            &mut sink,
        );
        assert!(matches!(q.outcome(), Some(Err(Failure::Protocol(_)))));
        assert!(sink.logs.is_empty());
    }
}
