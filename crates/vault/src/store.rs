//! The pad's open protocols: in RAM, every event durable before it is
//! acknowledged.
//!
//! Invariants:
//! - [`Store::apply`] returns `Ok(Saved)` only after the event's journal row
//!   is committed (`synchronous=FULL`). The UI shows "gespeichert" only then.
//! - If the disk is full, the event stays in RAM (state and log include it),
//!   is queued in order, and every later call retries the queue first. What
//!   is already stored is never touched by a failed write.
//! - Journal rows hold one encoded event each; a snapshot holds all events of
//!   a mission and replaces the rows it covers (compaction).
//! - Recovery never drops an authentic event: a mission whose data cannot be
//!   read is reported and left on disk untouched.

use super::VaultError;
use super::journal::{Dropped, Journal, JournalOptions, WipeReport};
use super::keys::KeyProvider;
use rettpad_clock::SharedClock;
use rettpad_record::log::{LogError, LogIssue, MergeReport};
use rettpad_record::wave::WaveError;
use rettpad_record::{
    Author, CrewRef, EditError, Event, EventId, Hash, MissionId, MissionLog, MissionState,
    PatientId, Payload, Status, Strip,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Compact a mission after this many journal rows.
    pub snapshot_every: u64,
    pub journal: JournalOptions,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            snapshot_every: 256,
            journal: JournalOptions::default(),
        }
    }
}

/// Proof that an event is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Saved {
    pub event: EventId,
    pub hash: Hash,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("edit refused: {0}")]
    Edit(#[from] EditError),
    #[error("unknown mission")]
    UnknownMission,
    #[error("no shift is logged in")]
    NoShift,
    /// The edit is in RAM but not yet on disk; it is retried automatically.
    #[error("{pending} event(s) not yet durable: {source}")]
    NotDurable {
        pending: usize,
        #[source]
        source: VaultError,
    },
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error("event log refused the event: {0}")]
    Log(#[from] LogError),
    #[error("ECG strip refused: {0}")]
    Strip(#[from] WaveError),
}

impl rettpad_record::text::UserMessage for StoreError {
    fn message(&self, lang: rettpad_record::text::Lang) -> String {
        use rettpad_record::text::Lang;
        match (self, lang) {
            (_, Lang::De) => self.german(),
            (StoreError::Edit(e), Lang::En) => e.message(lang),
            (StoreError::UnknownMission, Lang::En) => "Mission not found.".into(),
            (StoreError::NoShift, Lang::En) => "Please log in the shift first.".into(),
            (StoreError::NotDurable { source, .. }, Lang::En) => source.message(lang),
            (StoreError::Vault(v), Lang::En) => v.message(lang),
            (StoreError::Log(_), Lang::En) => {
                "The entry does not fit the protocol's history and was not taken.".into()
            }
            (StoreError::Strip(_), Lang::En) => {
                "The ECG strip is damaged and was not taken.".into()
            }
        }
    }
}

impl StoreError {
    fn german(&self) -> String {
        use rettpad_record::text::{Lang, UserMessage};
        match self {
            StoreError::Edit(e) => e.message(Lang::De),
            StoreError::UnknownMission => "Einsatz nicht gefunden.".into(),
            StoreError::NoShift => "Bitte zuerst die Schicht anmelden.".into(),
            StoreError::NotDurable { source, .. } => source.message(Lang::De),
            StoreError::Vault(v) => v.message(Lang::De),
            StoreError::Log(_) => {
                "Eintrag passt nicht zum Protokollverlauf und wurde nicht übernommen.".into()
            }
            StoreError::Strip(_) => {
                "EKG-Streifen ist beschädigt und wurde nicht übernommen.".into()
            }
        }
    }
}

/// What recovery found for one mission.
#[derive(Debug, Clone, Default)]
pub struct MissionRecovery {
    pub mission: MissionId,
    pub events: usize,
    /// Journal rows that failed authentication (torn tail or tampering).
    pub dropped: Vec<Dropped>,
    /// Authentic rows that did not decode as events.
    pub undecodable: usize,
    pub log_issues: Vec<LogIssue>,
    /// Set when the mission could not be loaded at all (it stays on disk).
    pub failed: Option<String>,
    /// Acknowledged entries the database lost (found against the
    /// high-water mark; reported at every open until the mission is
    /// deleted).
    pub missing: u64,
}

impl MissionRecovery {
    /// True when nothing at all was wrong.
    pub fn clean(&self) -> bool {
        self.dropped.is_empty()
            && self.undecodable == 0
            && self.log_issues.is_empty()
            && self.failed.is_none()
            && self.missing == 0
    }
}

/// What the crew reads about a damaged mission: how many acknowledged
/// entries are missing or damaged, so they can be completed on paper.
impl rettpad_record::text::UserMessage for MissionRecovery {
    fn message(&self, lang: rettpad_record::text::Lang) -> String {
        let short: String = self.mission.0.to_string().chars().take(8).collect();
        let damaged = self.dropped.len() + self.undecodable;
        let mut parts: Vec<String> = Vec::new();
        if self.missing > 0 {
            parts.push(match lang {
                rettpad_record::text::Lang::De => {
                    format!("{} bestätigte Einträge fehlen", self.missing)
                }
                rettpad_record::text::Lang::En => {
                    format!("{} acknowledged entries are missing", self.missing)
                }
            });
        }
        if damaged > 0 {
            parts.push(match lang {
                rettpad_record::text::Lang::De => format!("{damaged} Einträge beschädigt"),
                rettpad_record::text::Lang::En => format!("{damaged} entries damaged"),
            });
        }
        if self.failed.is_some() {
            parts.push(
                lang.pick("Einsatz nicht lesbar", "mission cannot be read")
                    .to_string(),
            );
        }
        if parts.is_empty() {
            return lang
                .pick("Einsatz {m} vollständig.", "Mission {m} complete.")
                .replace("{m}", &short);
        }
        let tail = lang.pick(
            "Speicher beschädigt: bitte auf Papier ergänzen und melden.",
            "Storage damaged: complete it on paper and report it.",
        );
        format!(
            "{} {short}: {}. {tail}",
            lang.pick("Einsatz", "Mission"),
            parts.join(", ")
        )
    }
}

#[derive(Serialize, Deserialize)]
struct Snapshot {
    v: u32,
    events: Vec<Event>,
}

const SNAPSHOT_VERSION: u32 = 1;

struct OpenMission {
    log: MissionLog,
    state: MissionState,
    next_row: u64,
    rows_since_snapshot: u64,
    persisted_status: Status,
}

pub struct Store {
    journal: Option<Journal>,
    keys: Arc<dyn KeyProvider>,
    dir: PathBuf,
    opts: StoreOptions,
    clock: SharedClock,
    author: Option<Author>,
    missions: BTreeMap<MissionId, OpenMission>,
    /// Events in RAM whose rows are not yet committed, in order.
    pending: VecDeque<(MissionId, u64, Event)>,
    recovery: Vec<MissionRecovery>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("missions", &self.missions.len())
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Open => "open",
        Status::HandedOver => "handed_over",
        Status::Closed => "closed",
    }
}

impl Store {
    /// Opens the vault in `dir` and recovers every mission in it.
    pub fn open(
        dir: &Path,
        keys: Arc<dyn KeyProvider>,
        clock: SharedClock,
        opts: StoreOptions,
    ) -> Result<Store, VaultError> {
        let journal = Journal::open(dir, keys.clone(), opts.journal.clone())?;
        let mut store = Store {
            journal: Some(journal),
            keys,
            dir: dir.to_path_buf(),
            opts,
            clock,
            author: None,
            missions: BTreeMap::new(),
            pending: VecDeque::new(),
            recovery: Vec::new(),
        };
        store.recover()?;
        Ok(store)
    }

    pub(super) fn journal(&self) -> Result<&Journal, VaultError> {
        self.journal
            .as_ref()
            .ok_or(VaultError::InvalidInput("vault is closed"))
    }

    pub(super) fn journal_mut(&mut self) -> Result<&mut Journal, VaultError> {
        self.journal
            .as_mut()
            .ok_or(VaultError::InvalidInput("vault is closed"))
    }

    fn recover(&mut self) -> Result<(), VaultError> {
        let metas = self.journal()?.missions()?;
        for meta in metas {
            let id = MissionId(meta.id);
            let mut rep = MissionRecovery {
                mission: id,
                ..Default::default()
            };
            match self.load_mission(id, &mut rep) {
                Ok(m) => {
                    rep.events = m.log.len();
                    self.missions.insert(id, m);
                }
                Err(e) => rep.failed = Some(e.to_string()),
            }
            if rep.clean() {
                tracing::info!(mission = %id, events = rep.events, "mission recovered");
            } else {
                tracing::warn!(
                    mission = %id,
                    events = rep.events,
                    dropped = rep.dropped.len(),
                    undecodable = rep.undecodable,
                    log_issues = rep.log_issues.len(),
                    failed = rep.failed.as_deref().unwrap_or(""),
                    "mission recovered with problems"
                );
            }
            self.recovery.push(rep);
        }
        let losses = self.journal()?.losses().to_vec();
        for loss in losses {
            let id = MissionId(loss.mission);
            if let Some(rep) = self.recovery.iter_mut().find(|r| r.mission == id) {
                rep.missing = loss.missing;
            } else {
                self.recovery.push(MissionRecovery {
                    mission: id,
                    missing: loss.missing,
                    failed: Some("the mission is gone from the database".into()),
                    ..Default::default()
                });
            }
            tracing::error!(
                mission = %id,
                missing = loss.missing,
                mission_gone = loss.mission_gone,
                "mission recovered with acknowledged entries missing"
            );
        }
        Ok(())
    }

    /// The vault's key check record was damaged and written anew at open.
    pub fn key_check_repaired(&self) -> bool {
        self.journal().is_ok_and(Journal::key_check_repaired)
    }

    fn load_mission(
        &self,
        id: MissionId,
        rep: &mut MissionRecovery,
    ) -> Result<OpenMission, VaultError> {
        let rec = self.journal()?.load(id.0)?;
        let mut events = Vec::new();
        let mut last_row = 0;
        if let Some((upto, bytes)) = &rec.snapshot {
            last_row = *upto;
            let snap: Snapshot = serde_json::from_slice(&bytes[..]).map_err(|_| {
                VaultError::Corrupt(format!("snapshot of mission {id} does not decode"))
            })?;
            events.extend(snap.events);
        }
        let rows_since_snapshot = rec.records.len() as u64;
        for (seq, bytes) in &rec.records {
            last_row = last_row.max(*seq);
            match Event::decode(bytes) {
                Ok(e) => events.push(e),
                Err(_) => rep.undecodable += 1,
            }
        }
        for d in &rec.dropped {
            last_row = last_row.max(d.seq);
        }
        rep.dropped = rec.dropped.clone();
        let (log, issues) = MissionLog::restore(id, events);
        rep.log_issues = issues;
        let state = MissionState::fold(id, log.events());
        Ok(OpenMission {
            persisted_status: state.status,
            log,
            state,
            next_row: last_row + 1,
            rows_since_snapshot,
        })
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// What the last open recovered, per mission.
    pub fn recovery_report(&self) -> &[MissionRecovery] {
        &self.recovery
    }

    /// Sets who documents from now on (after shift login), or nobody.
    pub fn set_author(&mut self, author: Option<Author>) {
        self.author = author;
    }

    pub fn author(&self) -> Option<&Author> {
        self.author.as_ref()
    }

    pub fn mission_ids(&self) -> impl Iterator<Item = MissionId> + '_ {
        self.missions.keys().copied()
    }

    pub fn state(&self, m: MissionId) -> Option<&MissionState> {
        self.missions.get(&m).map(|x| &x.state)
    }

    pub fn log(&self, m: MissionId) -> Option<&MissionLog> {
        self.missions.get(&m).map(|x| &x.log)
    }

    /// Events in RAM that are not yet durable.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Opens a new mission for the logged-in crew.
    pub fn open_mission(
        &mut self,
        call_sign: &str,
        crew: Vec<CrewRef>,
    ) -> Result<MissionId, StoreError> {
        let author = self.author.clone().ok_or(StoreError::NoShift)?;
        self.open_mission_as(MissionId::new(), &author, call_sign, crew)
    }

    /// Opens mission `id` (e.g. the one id dispatch derived for every pad
    /// of an ELS mission) with `author` as the first events' author.
    pub fn open_mission_as(
        &mut self,
        id: MissionId,
        author: &Author,
        call_sign: &str,
        crew: Vec<CrewRef>,
    ) -> Result<MissionId, StoreError> {
        if self.missions.contains_key(&id) {
            return Err(StoreError::Edit(EditError::Duplicate));
        }
        let now = self.clock.wall_ms();
        self.journal_mut()?.create_mission(id.0, now)?;
        let state = MissionState::new(id);
        self.missions.insert(
            id,
            OpenMission {
                log: MissionLog::new(id),
                persisted_status: state.status,
                state,
                next_row: 1,
                rows_since_snapshot: 0,
            },
        );
        self.apply_as(
            id,
            author,
            Payload::MissionOpened {
                call_sign: call_sign.to_string(),
            },
        )?;
        if !crew.is_empty() {
            self.apply_as(id, author, Payload::CrewJoined { crew })?;
        }
        Ok(id)
    }

    /// Records one change. `Ok` means it is on disk.
    pub fn apply(&mut self, m: MissionId, payload: Payload) -> Result<Saved, StoreError> {
        let author = self.author.clone().ok_or(StoreError::NoShift)?;
        self.apply_as(m, &author, payload)
    }

    /// Records one change by `author` (the dispatch centre for the values
    /// it delivered, so the record shows where they came from).
    pub fn apply_as(
        &mut self,
        m: MissionId,
        author: &Author,
        payload: Payload,
    ) -> Result<Saved, StoreError> {
        // Earlier edits that are still waiting go first, so order is kept.
        if !self.pending.is_empty() {
            let _ = self.flush_pending();
        }
        let (wall, mono) = (self.clock.wall_ms(), self.clock.mono());
        let om = self
            .missions
            .get_mut(&m)
            .ok_or(StoreError::UnknownMission)?;
        om.state.precheck(&payload)?;
        let mono_ns = u64::try_from(mono.as_nanos()).unwrap_or(u64::MAX);
        let ev = om.log.prepare(author, wall, mono_ns, payload);
        let saved = Saved {
            event: ev.id,
            hash: ev.hash(),
        };
        om.log.insert(ev.clone())?;
        om.state.apply(&ev);
        let row = om.next_row;
        om.next_row += 1;
        tracing::debug!(mission = %m, row, kind = ev.payload.kind_name(), "event recorded");
        self.pending.push_back((m, row, ev));
        self.flush_pending()?;
        self.after_write(m);
        Ok(saved)
    }

    /// Merges another pad's events into mission `m` (created if unknown) and
    /// persists the new ones.
    pub fn merge(&mut self, m: MissionId, events: &[Event]) -> Result<MergeReport, StoreError> {
        if !self.missions.contains_key(&m) {
            let now = self.clock.wall_ms();
            self.journal_mut()?.create_mission(m.0, now)?;
            let state = MissionState::new(m);
            self.missions.insert(
                m,
                OpenMission {
                    log: MissionLog::new(m),
                    persisted_status: state.status,
                    state,
                    next_row: 1,
                    rows_since_snapshot: 0,
                },
            );
        }
        let om = self
            .missions
            .get_mut(&m)
            .ok_or(StoreError::UnknownMission)?;
        let before: std::collections::HashSet<EventId> =
            om.log.events().iter().map(|e| e.id).collect();
        let report = om.log.merge_from(events);
        let mut new: Vec<Event> = om
            .log
            .events()
            .iter()
            .filter(|e| !before.contains(&e.id))
            .cloned()
            .collect();
        // Rows in chain order so that a restore links each chain.
        new.sort_by(|a, b| (&a.device, a.seq).cmp(&(&b.device, b.seq)));
        for ev in new {
            let row = om.next_row;
            om.next_row += 1;
            self.pending.push_back((m, row, ev));
        }
        om.state = MissionState::fold(m, om.log.events());
        self.flush_pending()?;
        self.after_write(m);
        Ok(report)
    }

    /// Writes queued events; returns how many became durable.
    pub fn retry_pending(&mut self) -> Result<usize, StoreError> {
        let n = self.pending.len();
        self.flush_pending()?;
        Ok(n)
    }

    fn flush_pending(&mut self) -> Result<(), StoreError> {
        while let Some((m, _, _)) = self.pending.front() {
            let m = *m;
            // One transaction per mission run keeps the common case to one fsync.
            let batch: Vec<(u64, Vec<u8>)> = self
                .pending
                .iter()
                .take_while(|(pm, _, _)| *pm == m)
                .map(|(_, row, ev)| (*row, ev.encode()))
                .collect();
            let refs: Vec<(u64, &[u8])> = batch.iter().map(|(r, b)| (*r, b.as_slice())).collect();
            let res = match self.journal.as_mut() {
                Some(j) => j.append_batch(m.0, &refs),
                None => Err(VaultError::InvalidInput("vault is closed")),
            };
            match res {
                Ok(()) => {
                    for _ in 0..batch.len() {
                        self.pending.pop_front();
                    }
                    if let Some(om) = self.missions.get_mut(&m) {
                        om.rows_since_snapshot += batch.len() as u64;
                    }
                }
                Err(e) => {
                    tracing::warn!(pending = self.pending.len(), error = %e, "events not yet durable");
                    return Err(StoreError::NotDurable {
                        pending: self.pending.len(),
                        source: e,
                    });
                }
            }
        }
        Ok(())
    }

    /// Status bookkeeping and compaction after a durable write. Failures
    /// here lose nothing (the rows are committed) and are retried later.
    fn after_write(&mut self, m: MissionId) {
        let Some(om) = self.missions.get(&m) else {
            return;
        };
        let (status, due) = (
            om.state.status,
            om.rows_since_snapshot >= self.opts.snapshot_every,
        );
        if status != om.persisted_status {
            let ok = match self.journal.as_mut() {
                Some(j) => j.set_state(m.0, status_name(status)).is_ok(),
                None => false,
            };
            if let (true, Some(om)) = (ok, self.missions.get_mut(&m)) {
                om.persisted_status = status;
            }
        }
        if due
            && self.pending.is_empty()
            && let Err(e) = self.compact(m)
        {
            tracing::warn!(mission = %m, error = %e, "compaction postponed");
        }
    }

    /// Writes a snapshot of all events of `m` and drops the rows it covers.
    pub fn compact(&mut self, m: MissionId) -> Result<(), StoreError> {
        if self.pending.iter().any(|(pm, _, _)| *pm == m) {
            return Ok(()); // rows not yet durable cannot be covered
        }
        let om = self.missions.get(&m).ok_or(StoreError::UnknownMission)?;
        let upto = om.next_row - 1;
        if upto == 0 {
            return Ok(());
        }
        let snap = Snapshot {
            v: SNAPSHOT_VERSION,
            events: om.log.events().to_vec(),
        };
        let bytes =
            serde_json::to_vec(&snap).map_err(|_| VaultError::InvalidInput("snapshot encoding"))?;
        self.journal_mut()?.write_snapshot(m.0, upto, &bytes)?;
        if let Some(om) = self.missions.get_mut(&m) {
            om.rows_since_snapshot = 0;
        }
        tracing::debug!(mission = %m, upto, bytes = bytes.len(), "mission compacted");
        Ok(())
    }

    /// Records an ECG strip: first its bytes (encrypted blob), then the
    /// event that names them. `Ok` means both are on disk. A crash between
    /// the two leaves an unreferenced blob, which is harmless and goes with
    /// the mission.
    pub fn put_strip(
        &mut self,
        m: MissionId,
        patient: PatientId,
        strip: &Strip,
    ) -> Result<Saved, StoreError> {
        strip.validate()?;
        let payload = Payload::StripRecorded {
            patient,
            strip: strip.to_ref(),
        };
        self.missions
            .get(&m)
            .ok_or(StoreError::UnknownMission)?
            .state
            .precheck(&payload)?;
        self.journal_mut()?.put_blob(m.0, &strip.encode())?;
        self.apply(m, payload)
    }

    /// A strip of mission `m` by its hash; `None` if the blob is not on
    /// this pad (yet).
    pub fn strip(&self, m: MissionId, hash: &Hash) -> Result<Option<Strip>, StoreError> {
        match self.journal()?.get_blob(m.0, &hash.0)? {
            None => Ok(None),
            Some(b) => Ok(Some(Strip::decode_verified(&b, hash)?)),
        }
    }

    /// The stored bytes of a strip (for a handover), checked against `hash`.
    pub fn strip_bytes(&self, m: MissionId, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.journal()?.get_blob(m.0, &hash.0)?)
    }

    /// Every strip the log of `m` names, with whether its bytes are here.
    pub fn strip_refs(&self, m: MissionId) -> Result<Vec<(Hash, bool)>, StoreError> {
        let om = self.missions.get(&m).ok_or(StoreError::UnknownMission)?;
        let have: std::collections::HashSet<[u8; 32]> =
            self.journal()?.blob_hashes(m.0)?.into_iter().collect();
        Ok(om
            .state
            .patients
            .iter()
            .flat_map(|p| p.strips.iter())
            .map(|s| (s.hash, have.contains(&s.hash.0)))
            .collect())
    }

    /// Stores a strip that came with another pad's log (handover). Only the
    /// blob: the `StripRecorded` event arrives through [`Store::merge`].
    /// Idempotent; the bytes must decode and be a valid strip.
    pub fn merge_strip(&mut self, m: MissionId, bytes: &[u8]) -> Result<Hash, StoreError> {
        Strip::decode(bytes)?;
        if !self.missions.contains_key(&m) {
            return Err(StoreError::UnknownMission);
        }
        Ok(Hash(self.journal_mut()?.put_blob(m.0, bytes)?))
    }

    /// Removes a mission for good (after the gateway's verified receipt).
    pub fn delete_mission(&mut self, m: MissionId) -> Result<(), StoreError> {
        if self.pending.iter().any(|(pm, _, _)| *pm == m) {
            self.flush_pending()?;
        }
        self.journal_mut()?.delete_mission(m.0)?;
        self.missions.remove(&m);
        Ok(())
    }

    /// Crypto-shreds everything and starts an empty vault with a new key.
    pub fn wipe(&mut self) -> Result<WipeReport, VaultError> {
        self.missions.clear();
        self.pending.clear();
        self.recovery.clear();
        let report = match self.journal.take() {
            Some(j) => j.wipe()?,
            None => super::journal::wipe_dir(&self.dir, self.keys.clone())?,
        };
        self.journal = Some(Journal::open(
            &self.dir,
            self.keys.clone(),
            self.opts.journal.clone(),
        )?);
        Ok(report)
    }

    /// Encrypted small values (wrong-PIN count, shift login).
    pub fn meta_put(&mut self, name: &str, value: &[u8]) -> Result<(), VaultError> {
        self.journal_mut()?.meta_put(name, value)
    }

    /// Several values in one transaction: all or none after a crash.
    pub fn meta_put_all(&mut self, items: &[(&str, &[u8])]) -> Result<(), VaultError> {
        self.journal_mut()?.meta_put_all(items)
    }

    pub fn meta_get(&self, name: &str) -> Result<Option<Vec<u8>>, VaultError> {
        self.journal()?.meta_get(name)
    }
}

/// A store shared between the UI, workers and the session.
#[derive(Clone, Debug)]
pub struct SharedStore(pub Arc<Mutex<Store>>);

impl SharedStore {
    pub fn new(store: Store) -> Self {
        SharedStore(Arc::new(Mutex::new(store)))
    }

    /// Locks the store; a panic elsewhere must not make the data unreachable.
    pub fn lock(&self) -> MutexGuard<'_, Store> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
