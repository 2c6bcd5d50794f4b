//! The pad's workflows without a screen: unlock and lock, shift start and
//! restore, mission create/open/edit/close, and close → seal → queue on a
//! worker. The UI (or a test) calls these and shows the [`Notice`]s; every
//! edit is acknowledged only after the vault committed it.

use crate::config::Config;
use crate::outbox::Outbox;
use crate::session::{
    CrewMember, LockState, Pin, Qualification, Session, SessionError, Shift, UnlockOutcome,
    UnlockStep,
};
use rettpad_clock::SharedClock;
use rettpad_record::catalog::{self, Collection, FieldDef, Kind, Scope};
use rettpad_record::rules;
use rettpad_record::text::{self, Notice};
use rettpad_record::{
    Author, EntryId, MissionId, MissionState, PatientId, Payload, Status, Target, TimeSource,
    TimeValue, Value,
};
use rettpad_vault::store::SharedStore;
use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, TryRecvError};

/// Vault meta key of the logged-in shift (restored after a restart).
const SHIFT_META: &str = "session.shift";

/// Where edits go: the open mission and the patient and entry in view.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub mission: Option<MissionId>,
    pub patient: Option<PatientId>,
    pub entry: Option<EntryId>,
}

/// What an unlock attempt led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unlock {
    /// Unlocked; `shift` says whether a shift is logged in (restored).
    Open { shift: bool },
    /// Refused (wrong or malformed PIN, store error); still locked.
    Refused(Notice),
    /// Too many wrong PINs: every protocol on the pad was destroyed.
    Wiped(Notice),
}

pub use crate::events::PadEvent;

/// The headless application core.
pub struct Pad {
    /// The configuration in effect: `base` with what was provisioned.
    cfg: Config,
    /// The configuration file's.
    base: Config,
    clock: SharedClock,
    store: SharedStore,
    session: Session,
    pub cursor: Cursor,
    outbox: Outbox,
    /// The counted attempt whose PIN check runs on a worker.
    unlocking: Option<(u32, Receiver<Result<bool, SessionError>>)>,
    /// The permanent channel to the gateway (dispatch), with `[upload]`.
    channel: Option<crate::channel::ChannelHandle>,
    prenotify: crate::prenotify::PreNotifier,
}

fn add_patient_first() -> Notice {
    Notice::new(
        "Bitte zuerst einen Patienten anlegen.",
        "Add a patient first.",
    )
}

impl Pad {
    pub fn new(base: Config, clock: SharedClock, store: SharedStore, mut session: Session) -> Pad {
        let (cfg, remote) = crate::fleet::load(&base, &store);
        session.set_remote_lock(remote);
        Pad {
            cfg,
            base,
            clock,
            store,
            session,
            cursor: Cursor::default(),
            outbox: Outbox::default(),
            unlocking: None,
            channel: None,
            prenotify: Default::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The configuration file's, and the one in effect, for a reload.
    pub(crate) fn configs_mut(&mut self) -> (&Config, &mut Config, &mut Session) {
        (&self.base, &mut self.cfg, &mut self.session)
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn session_mut(&mut self) -> &mut Session {
        &mut self.session
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    pub fn outbox_mut(&mut self) -> &mut Outbox {
        &mut self.outbox
    }

    // ---- session --------------------------------------------------------

    /// Checks the PIN on this thread; on success a shift saved before a
    /// restart comes back. The UI uses [`Pad::start_unlock`].
    pub fn unlock(&mut self, pin: &str) -> Unlock {
        let pin = match Pin::new(pin.to_string()) {
            Ok(p) => p,
            Err(e) => return Unlock::Refused(Notice::of(&e)),
        };
        let r = self.session.unlock(&pin);
        self.unlock_outcome(r)
    }

    /// Starts an unlock: the attempt is counted durably now, and the slow
    /// Argon2id check runs on a worker ([`Pad::poll_unlock`] brings the
    /// result). `Some` when it was decided at once. One check at a time.
    pub fn start_unlock(&mut self, pin: &str) -> Option<Unlock> {
        if self.unlocking.is_some() {
            return None;
        }
        let pin = match Pin::new(pin.to_string()) {
            Ok(p) => p,
            Err(e) => return Some(Unlock::Refused(Notice::of(&e))),
        };
        let check = match self.session.begin_unlock(pin) {
            Ok(UnlockStep::Done(o)) => return Some(self.unlock_outcome(Ok(o))),
            Ok(UnlockStep::Check(c)) => c,
            Err(e) => return Some(self.unlock_outcome(Err(e))),
        };
        let attempt = check.attempt;
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("pin-check".into())
            .spawn(move || {
                let _ = tx.send(check.run());
            });
        match spawned {
            Ok(_) => {
                self.unlocking = Some((attempt, rx));
                None
            }
            Err(e) => {
                tracing::error!(error = %e, "PIN check worker not started");
                let r = self.session.finish_unlock(
                    attempt,
                    Err(SessionError::Hashing("no worker thread".into())),
                );
                Some(self.unlock_outcome(r))
            }
        }
    }

    /// A PIN check is running.
    pub fn unlock_pending(&self) -> bool {
        self.unlocking.is_some()
    }

    /// The result of the running PIN check, once it is there.
    pub fn poll_unlock(&mut self) -> Option<Unlock> {
        let (attempt, rx) = self.unlocking.as_ref()?;
        let verified = match rx.try_recv() {
            Ok(v) => v,
            Err(TryRecvError::Empty) => return None,
            Err(TryRecvError::Disconnected) => {
                Err(SessionError::Hashing("PIN check worker died".into()))
            }
        };
        let attempt = *attempt;
        self.unlocking = None;
        let r = self.session.finish_unlock(attempt, verified);
        Some(self.unlock_outcome(r))
    }

    pub(crate) fn unlock_outcome(&mut self, r: Result<UnlockOutcome, SessionError>) -> Unlock {
        match r {
            Ok(UnlockOutcome::Unlocked) | Ok(UnlockOutcome::AlreadyUnlocked) => {
                self.restore_shift();
                Unlock::Open {
                    shift: self.session.shift().is_some(),
                }
            }
            Ok(o @ UnlockOutcome::WrongPin { .. }) => Unlock::Refused(Notice::of(&o)),
            Ok(o @ UnlockOutcome::Wiped) => {
                self.cursor = Cursor::default();
                self.store.lock().set_author(None);
                Unlock::Wiped(Notice::of(&o))
            }
            Err(e) => Unlock::Refused(Notice::of(&e)),
        }
    }

    pub fn lock(&mut self) {
        self.session.lock();
    }

    /// Keeps the pad awake (any user input).
    pub fn touch(&mut self) {
        self.session.touch();
    }

    /// Called about once a second: the idle lock, finished seal workers and
    /// closed missions not yet queued.
    pub fn tick(&mut self) -> Vec<PadEvent> {
        let mut out = self.outbox.poll();
        let evs = self.channel.as_ref().map(|c| c.poll()).unwrap_or_default();
        out.extend(evs.into_iter().filter_map(|e| self.channel_event(e)));
        out.extend(self.prenotify_tick());
        self.queue_closed_missions();
        if self.check_offline() {
            self.cursor = Cursor::default();
            out.push(PadEvent::OfflineLocked);
        }
        if self.session.tick() == LockState::Locked {
            out.push(PadEvent::Locked);
        }
        out
    }

    /// Starts a shift and keeps it in the vault, so a restart does not ask
    /// for the crew again. A shift that cannot be kept is not started.
    pub fn start_shift(
        &mut self,
        call_sign: &str,
        crew: &[(String, String, Qualification)],
    ) -> Result<(), Notice> {
        let staff = self.staff();
        let crew: Vec<CrewMember> = crew
            .iter()
            .map(|(name, number, q)| {
                let mut m = CrewMember::new(name, number, *q);
                m.listed = crate::fleet::is_listed(&staff, &m);
                m
            })
            .collect();
        let shift = Shift::new(call_sign, crew, self.clock.as_ref()).map_err(|e| Notice::of(&e))?;
        let json = serde_json::to_vec(&shift).map_err(|e| {
            tracing::error!(error = %e, "shift not serialisable");
            Notice::new(
                "Schicht konnte nicht gespeichert werden.",
                "The shift could not be saved.",
            )
        })?;
        let author = shift.crew[0].id;
        self.store.lock().meta_put(SHIFT_META, &json).map_err(|e| {
            tracing::warn!(error = %e, "shift not persisted");
            Notice::of(&e)
        })?;
        if let Err(e) = self.session.start_shift(shift) {
            // Keep vault and session in step: no shift that only the disk knows.
            if let Err(e) = self.store.lock().meta_put(SHIFT_META, b"") {
                tracing::warn!(error = %e, "stale shift not cleared");
            }
            return Err(Notice::of(&e));
        }
        self.store.lock().set_author(Some(Author {
            device: self.cfg.device_serial.clone(),
            crew_member: author,
        }));
        Ok(())
    }

    /// A shift logged in before a restart comes back after the PIN.
    pub fn restore_shift(&mut self) {
        if self.session.shift().is_some() {
            return;
        }
        let saved = match self.store.lock().meta_get(SHIFT_META) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "saved shift unreadable");
                None
            }
        };
        let Some(shift) = saved.and_then(|b| serde_json::from_slice::<Shift>(&b).ok()) else {
            return;
        };
        let author = shift.crew.first().map(|m| m.id);
        if self.session.start_shift(shift).is_ok()
            && let Some(a) = author
        {
            self.store.lock().set_author(Some(Author {
                device: self.cfg.device_serial.clone(),
                crew_member: a,
            }));
        }
    }

    /// Ends the shift: no author for new edits until the next login.
    pub fn end_shift(&mut self) -> Result<(), Notice> {
        self.session.end_shift().map_err(|e| Notice::of(&e))?;
        let mut st = self.store.lock();
        st.set_author(None);
        st.meta_put(SHIFT_META, b"").map_err(|e| Notice::of(&e))?;
        drop(st);
        self.cursor = Cursor::default();
        Ok(())
    }

    /// What the crew must know about the vault after start: missions that
    /// came back damaged or with acknowledged entries missing (the first
    /// one in full, the rest counted). `None` when all came back whole.
    pub fn recovery_warning(&self) -> Option<Notice> {
        let store = self.store.lock();
        let bad: Vec<_> = store
            .recovery_report()
            .iter()
            .filter(|r| !r.clean())
            .collect();
        let first = Notice::of(*bad.first()?);
        Some(match bad.len() - 1 {
            0 => first,
            more => first.then(&Notice::new(
                format!("(+{more} weitere)"),
                format!("(+{more} more)"),
            )),
        })
    }

    // ---- missions -------------------------------------------------------

    pub fn state(&self) -> Option<MissionState> {
        let m = self.cursor.mission?;
        self.store.lock().state(m).cloned()
    }

    /// Opens a new mission for the shift's vehicle and crew, with its first patient.
    pub fn create_mission(&mut self) -> Result<MissionId, Notice> {
        let (call_sign, crew) = match self.session.shift() {
            Some(s) => (s.call_sign.clone(), s.crew_refs()),
            None => (String::new(), Vec::new()),
        };
        let m = self
            .store
            .lock()
            .open_mission(&call_sign, crew)
            .map_err(|e| Notice::of(&e))?;
        self.cursor = Cursor {
            mission: Some(m),
            patient: None,
            entry: None,
        };
        let p = PatientId::new();
        self.apply(Payload::PatientAdded { patient: p })?;
        self.cursor.patient = Some(p);
        tracing::info!(mission = %m, "mission opened");
        Ok(m)
    }

    /// Opens a mission of this pad for editing; a closed one only waits for upload.
    pub fn open_mission(&mut self, m: MissionId) -> Result<(), Notice> {
        let st = self.store.lock().state(m).cloned();
        let Some(st) = st else {
            return Err(Notice::new("Einsatz nicht gefunden.", "Mission not found."));
        };
        if st.status == Status::Closed {
            return Err(Notice::new(
                "Abgeschlossen: wartet auf das Hochladen.",
                "Closed: waiting for upload.",
            ));
        }
        self.cursor = Cursor {
            mission: Some(m),
            patient: st.active_patients().next().map(|p| p.id),
            entry: None,
        };
        Ok(())
    }

    /// Records one change of the open mission; `Ok` only once it is durable.
    pub fn apply(&mut self, p: Payload) -> Result<(), Notice> {
        let Some(m) = self.cursor.mission else {
            return Err(Notice::new("Kein Einsatz geöffnet.", "No mission open."));
        };
        self.session.touch();
        let res = self.store.lock().apply(m, p);
        res.map(|_| ()).map_err(|e| {
            tracing::warn!(error = %e, "edit not saved");
            Notice::of(&e)
        })
    }

    /// Where an edit of `def` goes; `None` for an entry field with no entry yet.
    pub fn target_for(&self, def: &FieldDef) -> Option<Target> {
        match def.scope {
            Scope::Mission => Some(Target::Mission),
            Scope::Patient => self.cursor.patient.map(Target::Patient),
            Scope::Entry(_) => self.cursor.entry.map(Target::Entry),
        }
    }

    /// The value of `def` where an edit of it would go.
    pub fn current_value(&self, st: &MissionState, def: &FieldDef) -> Option<Value> {
        match self.target_for(def)? {
            Target::Mission => st.get(def.key).cloned(),
            Target::Patient(p) => st.patient(p)?.get(def.key).cloned(),
            Target::Entry(e) => st.entries.get(&e)?.get(def.key).cloned(),
        }
    }

    /// Sets a field, then the values it implies where those are still empty
    /// (`catalog::implied`: a tracer diagnosis names its group).
    pub fn set_field(&mut self, key: &str, value: Option<Value>) -> Result<(), Notice> {
        let implied = value
            .as_ref()
            .map(|v| catalog::implied(key, v))
            .unwrap_or_default();
        self.set_one_field(key, value)?;
        for (k, v) in implied {
            let (Some(def), Some(st)) = (catalog::field(k), self.state()) else {
                continue;
            };
            if self.target_for(def).is_some() && self.current_value(&st, def).is_none() {
                self.set_one_field(k, Some(v))?;
            }
        }
        Ok(())
    }

    /// Sets a field; on an entry page without an entry, creates the entry.
    fn set_one_field(&mut self, key: &str, value: Option<Value>) -> Result<(), Notice> {
        let Some(def) = catalog::field(key) else {
            return Err(Notice::new("Unbekanntes Feld.", "Unknown field."));
        };
        if let Some(target) = self.target_for(def) {
            let field = key.to_string();
            self.apply(match value {
                Some(value) => Payload::Set {
                    target,
                    field,
                    value,
                },
                None => Payload::Clear { target, field },
            })?;
            // The key only, never the value.
            tracing::debug!(field = %key, "field saved");
            return Ok(());
        }
        match (def.scope, value) {
            (Scope::Entry(c), Some(v)) => self.add_entry(c, vec![(key.to_string(), v)]),
            (Scope::Patient, _) => Err(add_patient_first()),
            _ => Ok(()),
        }
    }

    /// Adds an entry (a vital set, a drug, …) for the patient in view; the
    /// collection's time field defaults to now. The new entry is in view.
    pub fn add_entry(&mut self, c: Collection, fields: Vec<(String, Value)>) -> Result<(), Notice> {
        let Some(p) = self.cursor.patient else {
            return Err(add_patient_first());
        };
        let mut map: BTreeMap<String, Value> = fields.into_iter().collect();
        if let Some(t) = catalog::entry_time_field(c) {
            map.entry(t.to_string())
                .or_insert_with(|| Value::manual_time(self.clock.wall_ms()));
        }
        let entry = EntryId::new();
        self.apply(Payload::EntryAdded {
            patient: p,
            collection: c,
            entry,
            fields: map,
        })?;
        self.cursor.entry = Some(entry);
        Ok(())
    }

    /// A tile tapped: sets the code, or takes it back when it was set.
    pub fn choose(&mut self, key: &str, code: &str) -> Result<(), Notice> {
        let (Some(def), Some(st)) = (catalog::field(key), self.state()) else {
            return Ok(());
        };
        let current = self.current_value(&st, def);
        let new = match def.kind {
            Kind::Code(_) => {
                (current.as_ref().and_then(Value::as_code) != Some(code)).then(|| Value::code(code))
            }
            Kind::Codes(_) => {
                let mut list = match current {
                    Some(Value::Codes(l)) => l,
                    _ => Vec::new(),
                };
                if let Some(i) = list.iter().position(|c| c == code) {
                    list.remove(i);
                } else {
                    list.push(code.to_string());
                }
                (!list.is_empty()).then_some(Value::Codes(list))
            }
            Kind::Bool => {
                let b = code == "1";
                (current.and_then(|v| v.as_bool()) != Some(b)).then_some(Value::Bool(b))
            }
            Kind::Int { .. } => {
                let Ok(i) = code.parse::<i64>() else {
                    return Ok(());
                };
                (current != Some(Value::Int(i))).then_some(Value::Int(i))
            }
            _ => return Ok(()),
        };
        self.set_field(key, new)
    }

    /// "Jetzt" on a time field.
    pub fn time_now(&mut self, key: &str) -> Result<(), Notice> {
        let now = self.clock.wall_ms();
        self.set_field(key, Some(Value::manual_time(now)))
    }

    /// "±N" on a time field that has a time.
    pub fn time_shift(&mut self, key: &str, minutes: i32) -> Result<(), Notice> {
        let (Some(def), Some(st)) = (catalog::field(key), self.state()) else {
            return Ok(());
        };
        let Some(Value::Time(t)) = self.current_value(&st, def) else {
            return Ok(());
        };
        let at_ms = t.at_ms + i64::from(minutes) * 60_000;
        self.set_field(
            key,
            Some(Value::Time(TimeValue {
                at_ms,
                source: TimeSource::Manual,
            })),
        )
    }

    /// Text typed into a field (a date as TT.MM.JJJJ); empty clears it.
    pub fn set_text(&mut self, key: &str, text: &str) -> Result<(), Notice> {
        let Some(def) = catalog::field(key) else {
            return Ok(());
        };
        let text = text.trim();
        let value = match def.kind {
            _ if text.is_empty() => None,
            Kind::Date => match text::parse_date(text) {
                Some(d) => Some(Value::Date(d)),
                None => {
                    return Err(Notice::new(
                        "Datum als TT.MM.JJJJ eingeben (unbekannt: 00).",
                        "Enter the date as DD.MM.YYYY (unknown: 00).",
                    ));
                }
            },
            _ => Some(Value::text(text)),
        };
        if value.is_none()
            && let Some(st) = self.state()
            && self.current_value(&st, def).is_none()
        {
            return Ok(()); // nothing to clear
        }
        self.set_field(key, value)
    }

    /// "Wiederholen": the last entry of `c` again, with a new time.
    pub fn repeat_last(&mut self, c: Collection) -> Result<(), Notice> {
        let (Some(p), Some(st)) = (self.cursor.patient, self.state()) else {
            return Ok(());
        };
        let Some(last) = st.entries_of(p, c).last() else {
            return Ok(());
        };
        let time_key = catalog::entry_time_field(c);
        let fields: Vec<(String, Value)> = last
            .fields
            .iter()
            .filter(|(k, _)| Some(k.as_str()) != time_key)
            .filter_map(|(k, f)| f.current().map(|v| (k.clone(), v.clone())))
            .collect();
        self.add_entry(c, fields)
    }

    /// A preset: a new entry, or for findings the fields of the entry in view.
    pub fn apply_preset(
        &mut self,
        c: Collection,
        fields: Vec<(String, Value)>,
    ) -> Result<(), Notice> {
        if c == Collection::Finding && self.cursor.entry.is_some() {
            for (k, v) in fields {
                self.set_field(&k, Some(v))?;
            }
            Ok(())
        } else {
            self.add_entry(c, fields)
        }
    }

    /// Takes back the entry in view (kept in the audit trail).
    pub fn retract_entry(&mut self, reason: &str) -> Result<(), Notice> {
        let Some(e) = self.cursor.entry else {
            return Ok(());
        };
        self.apply(Payload::EntryRetracted {
            entry: e,
            reason: reason.to_string(),
        })?;
        self.cursor.entry = None;
        Ok(())
    }

    /// One more patient on this mission; the new one is in view.
    pub fn add_patient(&mut self) -> Result<PatientId, Notice> {
        let p = PatientId::new();
        self.apply(Payload::PatientAdded { patient: p })?;
        self.cursor.patient = Some(p);
        self.cursor.entry = None;
        Ok(p)
    }

    /// Closes the open mission unless a hard rule blocks it; it is then
    /// sealed for upload on a worker and leaves the cursor.
    pub fn close_mission(&mut self) -> Result<(), Notice> {
        let Some(st) = self.state() else {
            return Err(Notice::new("Kein Einsatz geöffnet.", "No mission open."));
        };
        let blockers = rules::close_blockers(&st, self.clock.wall_ms());
        if !blockers.is_empty() {
            return Err(Notice::new(
                format!(
                    "Abschluss nicht möglich: {} Pflichtangaben fehlen.",
                    blockers.len()
                ),
                format!("Cannot close: {} required items missing.", blockers.len()),
            ));
        }
        self.apply(Payload::Closed)?;
        self.cursor = Cursor::default();
        self.queue_closed_missions();
        Ok(())
    }

    /// Starts the uploader for `[upload]`; `hospitals` are (id, name) pairs
    /// of hospitals the gateway knows by name.
    pub fn attach_upload(
        &mut self,
        u: &rettpad_transfer::UploadConfig,
        hospitals: Vec<(String, String)>,
    ) -> Result<(), Notice> {
        self.outbox.attach(
            u,
            &self.store,
            &self.clock,
            &self.cfg.device_serial,
            &self.cfg.call_sign,
            hospitals,
        )?;
        self.attach_channel(u, rettpad_channel::client::Config::default());
        Ok(())
    }

    /// Starts the permanent channel to the gateway of `[upload]`: dispatch
    /// arrives by itself. Without it the pad works as before (typed).
    pub fn attach_channel(
        &mut self,
        u: &rettpad_transfer::UploadConfig,
        cfg: rettpad_channel::client::Config,
    ) {
        let link = || {
            rettpad_transfer::client_tls(u).and_then(|tls| {
                rettpad_transfer::channel_link::ChannelLink::new(
                    &u.gateway_url,
                    tls,
                    &self.cfg.device_serial,
                    &self.cfg.call_sign,
                    cfg.dead_after,
                )
            })
        };
        if let Ok(l) = link() {
            self.prenotify.attach(l);
        }
        match link() {
            Ok(l) => {
                self.channel = Some(crate::channel::start(
                    l,
                    cfg,
                    self.store.clone(),
                    self.clock.clone(),
                    self.cfg.device_serial.clone(),
                    self.base.fleet.clone(),
                ));
            }
            Err(e) => tracing::error!(error = %e, "dispatch channel not started"),
        }
    }

    /// Sends the open mission's pre-notice en route when it has a target
    /// hospital and its content changed (also retries a failed one).
    fn prenotify_tick(&mut self) -> Vec<PadEvent> {
        let now = self.clock.wall_ms();
        if let Some(st) = self.state() {
            let (keys, store, m) = (self.outbox.seal_keys(), &self.store, st.id);
            let seal = |hospital: &str, strip: &rettpad_record::Hash| {
                let pk = keys?.hospitals.get(hospital)?;
                let bytes = store.lock().strip_bytes(m, strip).ok().flatten()?;
                rettpad_transfer::ecg::seal_ecg(pk, m.0, hospital, &bytes).ok()
            };
            self.prenotify
                .update(&st, self.outbox.hospitals(), now, &seal);
        }
        let mut out = Vec::new();
        for r in self.prenotify.poll(now) {
            match r {
                crate::prenotify::PreNoticeResult::Sent { mission, at_ms } => {
                    self.mark_prenotified(mission, at_ms);
                    out.push(PadEvent::PreNotified(mission));
                }
                crate::prenotify::PreNoticeResult::Failed(m, n) => {
                    out.push(PadEvent::PreNoticeFailed(m, n));
                }
            }
        }
        out
    }

    /// `transport.prenotified_at` of the mission's first patient.
    fn mark_prenotified(&mut self, m: MissionId, at_ms: i64) {
        let p = self
            .store
            .lock()
            .state(m)
            .and_then(|s| s.active_patients().next().map(|p| p.id));
        let Some(p) = p else { return };
        let res = self.store.lock().apply(
            m,
            Payload::Set {
                target: Target::Patient(p),
                field: rettpad_record::keys::transport::PRENOTIFIED_AT.to_string(),
                value: Value::manual_time(at_ms),
            },
        );
        if let Err(e) = res {
            tracing::warn!(error = %e, "pre-notice time not recorded");
        }
    }

    /// The channel's state for the status bar; `None` without one.
    pub fn channel_view(&self) -> Option<crate::channel::LinkView> {
        self.channel
            .as_ref()
            .map(crate::channel::ChannelHandle::view)
    }

    /// Seals every closed mission that is not yet queued, each on a worker.
    pub fn queue_closed_missions(&mut self) {
        self.outbox
            .queue_closed(&self.store, &self.cfg.device_serial, &self.clock);
    }
}
