//! The fleet on the pad: provisioning packages and remote commands. The
//! checks are `rettpad_provision`'s; this is the IO around them. The vault
//! keeps what was applied, sealed under the device key: every part of a
//! package and the new versions in **one** transaction, so a power cut
//! leaves the old configuration or the new one, never a mix. An open
//! mission is never touched by a package.

use crate::config::{Config, DeviceOverlay};
use rettpad_provision::command::{self, Action, Command};
use rettpad_provision::package::{self, Applied, PartName};
use rettpad_provision::parts::{self, Parts};
use rettpad_provision::{ProvisionError, Trust};
use rettpad_report::print::HospitalPrinter;
use rettpad_text::{Lang, UserMessage};
use rettpad_vault::VaultError;
use rettpad_vault::store::{SharedStore, Store};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::staff::{find_staff, is_listed, qualification_of};
pub use rettpad_provision::parts::StaffMember;

pub const APPLIED_META: &str = "fleet.applied";
pub const COMMAND_SEQ_META: &str = "fleet.command_seq";
pub const REMOTE_LOCK_META: &str = "fleet.remote_lock";
pub const LAST_REFUSAL_META: &str = "fleet.last_refusal";
/// Wall time of the last contact with the gateway (channel or package).
pub const LAST_CONTACT_META: &str = "fleet.last_contact";

fn part_meta(p: PartName) -> String {
    format!("fleet.part.{}", p.name())
}

#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("this pad is not enrolled in a fleet ([fleet] is missing)")]
    NotEnrolled,
    #[error(transparent)]
    Refused(#[from] ProvisionError),
    /// A part the provisioning crate took but this pad cannot use.
    #[error("{part} part refused: {reason}")]
    Part { part: &'static str, reason: String },
    /// Not durable: nothing changed, the package or command may come again.
    #[error("vault: {0}")]
    Vault(#[from] VaultError),
    #[error("package file {path}: {error}")]
    File { path: String, error: String },
}

impl FleetError {
    /// A refusal is final for this package; a vault error is not.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, FleetError::Vault(_) | FleetError::File { .. })
    }

    /// A short code for the gateway's status page (no content).
    pub fn code(&self) -> &'static str {
        match self {
            FleetError::NotEnrolled => "not_enrolled",
            FleetError::Refused(ProvisionError::Rollback { .. }) => "rollback",
            FleetError::Refused(ProvisionError::Replayed(_)) => "replayed",
            FleetError::Refused(ProvisionError::NotForThisPad) => "not_for_this_pad",
            FleetError::Refused(ProvisionError::ForeignOrganisation(_)) => "foreign_organisation",
            FleetError::Refused(
                ProvisionError::KeyExpired(_)
                | ProvisionError::KeyNotYetValid(_)
                | ProvisionError::Expired(_)
                | ProvisionError::CommandExpired(_),
            ) => "expired",
            FleetError::Refused(
                ProvisionError::UntrustedKey
                | ProvisionError::BadSignature
                | ProvisionError::WrongPurpose(_)
                | ProvisionError::Key(_),
            ) => "signature",
            FleetError::Refused(ProvisionError::BadPart { .. }) | FleetError::Part { .. } => {
                "bad_part"
            }
            FleetError::Refused(_) => "corrupt",
            FleetError::Vault(_) => "not_stored",
            FleetError::File { .. } => "file",
        }
    }
}

impl UserMessage for FleetError {
    fn message(&self, lang: Lang) -> String {
        match self {
            FleetError::NotEnrolled => lang
                .pick(
                    "Dieses Gerät ist keiner Organisation zugeordnet; Pakete werden nicht angenommen.",
                    "This pad is not enrolled with an organisation; packages are not taken.",
                )
                .into(),
            FleetError::Refused(e) => e.message(lang),
            FleetError::Part { part, .. } => ProvisionError::BadPart {
                part: (*part).into(),
                reason: String::new(),
            }
            .message(lang),
            FleetError::Vault(e) => e.message(lang),
            FleetError::File { .. } => lang
                .pick(
                    "Die Paketdatei kann nicht gelesen werden.",
                    "The package file cannot be read.",
                )
                .into(),
        }
    }
}

/// What an applied package changed, for the log and the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    pub package_id: Uuid,
    pub key_id: String,
    pub parts: Vec<(PartName, u64)>,
    pub applied: Applied,
}

/// What the pad has applied. An unreadable record refuses every package
/// (it cannot be told apart from a rollback).
pub fn applied(store: &Store) -> Result<Applied, VaultError> {
    match store.meta_get(APPLIED_META)? {
        None => Ok(Applied::default()),
        Some(b) => serde_json::from_slice(&b)
            .map_err(|e| VaultError::Corrupt(format!("applied fleet versions: {e}"))),
    }
}

/// Verifies `bytes` and applies the package: all parts and the versions in
/// one vault transaction. A refusal leaves everything as it was and is
/// remembered for the settings page.
pub fn apply_package(
    store: &SharedStore,
    trust: Option<&Trust>,
    serial: &str,
    bytes: &[u8],
    now_ms: i64,
) -> Result<ApplyReport, FleetError> {
    let r = apply_inner(store, trust, serial, bytes, now_ms);
    match &r {
        Ok(rep) => tracing::info!(
            package = %rep.package_id,
            key = %rep.key_id,
            parts = ?rep.parts.iter().map(|(p, v)| format!("{}={v}", p.name())).collect::<Vec<_>>(),
            "provisioning package applied"
        ),
        Err(e) => {
            tracing::warn!(error = %e, code = e.code(), "provisioning package refused");
            if e.is_refusal() {
                let rec = Refusal {
                    at_ms: now_ms,
                    code: e.code().into(),
                    de: e.message(Lang::De),
                    en: e.message(Lang::En),
                };
                if let Ok(j) = serde_json::to_vec(&rec) {
                    let _ = store.lock().meta_put(LAST_REFUSAL_META, &j);
                }
            }
        }
    }
    r
}

fn apply_inner(
    store: &SharedStore,
    trust: Option<&Trust>,
    serial: &str,
    bytes: &[u8],
    now_ms: i64,
) -> Result<ApplyReport, FleetError> {
    let trust = trust.ok_or(FleetError::NotEnrolled)?;
    let mut st = store.lock();
    let prev = applied(&st)?;
    let v = package::verify(bytes, trust, serial, &prev, now_ms)?;
    let decoded = parts::decode(&v)?;
    if let Some(d) = &decoded.device {
        DeviceOverlay::parse(d).map_err(|reason| FleetError::Part {
            part: "device",
            reason,
        })?;
    }
    // Certificates and CRLs as the TLS setup will read them.
    if let Some(p) = &decoded.pki {
        check_pki(p).map_err(|reason| FleetError::Part {
            part: "pki",
            reason,
        })?;
    }
    // A PIN hash the session cannot use would keep the pad from starting.
    if let Some(s) = &decoded.settings {
        crate::session::validate_pin_hash(&s.pin_hash).map_err(|e| FleetError::Part {
            part: "settings",
            reason: e.to_string(),
        })?;
    }
    let next = v.applied_after(&prev);
    let next_json = serde_json::to_vec(&next).map_err(|e| VaultError::Corrupt(e.to_string()))?;
    let names: Vec<String> = v.parts.iter().map(|(e, _)| part_meta(e.name)).collect();
    let mut items: Vec<(&str, &[u8])> = names
        .iter()
        .zip(&v.parts)
        .map(|(n, (_, b))| (n.as_str(), b.as_slice()))
        .collect();
    items.push((APPLIED_META, &next_json));
    // A package is contact with the operator (also from the USB stick).
    let contact = now_ms.to_string();
    items.push((LAST_CONTACT_META, contact.as_bytes()));
    st.meta_put_all(&items)?;
    Ok(ApplyReport {
        package_id: v.header.package_id,
        key_id: v.key_id.clone(),
        parts: v.parts.iter().map(|(e, _)| (e.name, e.version)).collect(),
        applied: next,
    })
}

/// The last refused package, for the settings page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub at_ms: i64,
    pub code: String,
    pub de: String,
    pub en: String,
}

pub fn last_refusal(store: &Store) -> Option<Refusal> {
    let b = store.meta_get(LAST_REFUSAL_META).ok()??;
    serde_json::from_slice(&b).ok()
}

/// The parts kept in the vault, read back through the same checks. A part
/// that no longer passes them is left out and logged: the pad then runs on
/// its file configuration for that part.
pub fn provisioned(store: &Store) -> Parts {
    let mut out = Parts::default();
    for p in PartName::ALL {
        match store.meta_get(&part_meta(p)) {
            Ok(None) => {}
            Ok(Some(b)) => {
                if let Err(e) = parts::decode_one(p, &b, &mut out) {
                    tracing::error!(part = p.name(), error = %e, "provisioned part unusable; ignored");
                }
            }
            Err(e) => {
                tracing::error!(part = p.name(), error = %e, "provisioned part unreadable; ignored")
            }
        }
    }
    out
}

/// The configuration in effect: the file's, with what was provisioned on top.
pub fn effective(cfg: &Config, p: &Parts) -> Config {
    let mut c = cfg.clone();
    if let Some(s) = p
        .settings
        .as_ref()
        .filter(|s| crate::session::validate_pin_hash(&s.pin_hash).is_ok())
    {
        c.pin_hash = s.pin_hash.clone();
        c.idle_lock_minutes = s.idle_lock_minutes;
        c.max_wrong_pins = s.max_wrong_pins;
        if s.max_offline_days.is_some() {
            c.max_offline_days = s.max_offline_days;
        }
    }
    if let Some(h) = &p.hospitals {
        c.hospitals = h.hospitals.iter().map(|x| x.name.clone()).collect();
        if let Some(u) = &mut c.upload {
            u.hospital_keys = h
                .hospitals
                .iter()
                .map(|x| (x.id.clone(), x.hpke_public_key.clone()))
                .collect();
        }
        c.printers.hospital = h
            .hospitals
            .iter()
            .filter_map(|x| {
                x.printer.as_ref().map(|uri| HospitalPrinter {
                    hospital: x.name.clone(),
                    name: x.name.clone(),
                    uri: uri.clone(),
                })
            })
            .collect();
    }
    if let Some(pki) = &p.pki {
        let ca = pki.ca_pem.join("\n").into_bytes();
        let crls: Vec<Vec<u8>> = pki.crl_pem.iter().map(|c| c.clone().into_bytes()).collect();
        if let Some(u) = &mut c.upload {
            u.provisioned_ca_pem = ca.clone();
            u.provisioned_crl_pem = crls.clone();
        }
        c.handover.provisioned_ca_pem = ca;
        c.handover.provisioned_crl_pem = crls;
    }
    if let Some(d) = p
        .device
        .as_deref()
        .and_then(|t| DeviceOverlay::parse(t).ok())
    {
        if let Some(v) = d.call_sign {
            c.call_sign = v;
        }
        if let Some(v) = d.card_reader {
            c.card_reader = v;
        }
        if let Some(v) = d.devices {
            c.devices = v;
        }
        if let Some(v) = d.device_record_every_min {
            c.device_record_every_min = v;
        }
        if let Some(v) = d.printers {
            let hospital = std::mem::take(&mut c.printers.hospital);
            c.printers = v;
            if c.printers.hospital.is_empty() {
                c.printers.hospital = hospital;
            }
        }
    }
    c
}

/// A remote lock in force: the PIN does not open the pad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteLock {
    pub cmd_id: Uuid,
    pub at_ms: i64,
    pub reason: String,
}

pub fn remote_lock(store: &Store) -> Option<RemoteLock> {
    match store.meta_get(REMOTE_LOCK_META) {
        Ok(Some(b)) if b.is_empty() => None,
        Ok(Some(b)) => Some(serde_json::from_slice(&b).unwrap_or_else(|e| {
            // A damaged record keeps the pad locked: fail closed.
            tracing::error!(error = %e, "remote lock record unreadable; staying locked");
            RemoteLock {
                cmd_id: Uuid::nil(),
                at_ms: 0,
                reason: String::new(),
            }
        })),
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "remote lock record unreadable; staying locked");
            Some(RemoteLock {
                cmd_id: Uuid::nil(),
                at_ms: 0,
                reason: String::new(),
            })
        }
    }
}

fn last_seq(store: &Store) -> Result<u64, VaultError> {
    match store.meta_get(COMMAND_SEQ_META)? {
        None => Ok(0),
        Some(b) => std::str::from_utf8(&b)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| VaultError::Corrupt("command sequence".into())),
    }
}

/// Verifies a remote command and makes its effect durable before anyone
/// acts on it: the sequence number (no replay) and, for a lock, the lock
/// itself. The caller then locks the session or runs the wipe.
pub fn take_command(
    store: &SharedStore,
    trust: Option<&Trust>,
    serial: &str,
    bytes: &[u8],
    now_ms: i64,
) -> Result<Command, FleetError> {
    let trust = trust.ok_or(FleetError::NotEnrolled)?;
    let mut st = store.lock();
    let r = command::verify(bytes, trust, serial, last_seq(&st)?, now_ms);
    let c = match r {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "remote command refused");
            return Err(e.into());
        }
    };
    let seq = c.seq.to_string();
    let lock = serde_json::to_vec(&RemoteLock {
        cmd_id: c.cmd_id,
        at_ms: now_ms,
        reason: c.reason.clone(),
    })
    .map_err(|e| VaultError::Corrupt(e.to_string()))?;
    match c.action {
        Action::Lock | Action::Wipe => st.meta_put_all(&[
            (COMMAND_SEQ_META, seq.as_bytes()),
            (REMOTE_LOCK_META, &lock),
        ])?,
        // Empty: no lock in force.
        Action::Unlock => {
            st.meta_put_all(&[(COMMAND_SEQ_META, seq.as_bytes()), (REMOTE_LOCK_META, b"")])?
        }
    }
    tracing::warn!(
        action = c.action.name(),
        cmd = %c.cmd_id,
        seq = c.seq,
        issuer = %c.issuer,
        "remote command taken"
    );
    Ok(c)
}

/// The pki part as rustls will take it: every certificate and CRL parses.
fn check_pki(p: &parts::Pki) -> Result<(), String> {
    let crls: Vec<Vec<u8>> = p.crl_pem.iter().map(|c| c.clone().into_bytes()).collect();
    rettpad_pki::Trust::check_crls(&crls).map_err(|e| e.to_string())?;
    if !p.ca_pem.is_empty() {
        rettpad_pki::Trust::from_pem(p.ca_pem.join("\n").as_bytes(), &crls)
            .and_then(|t| t.check())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// `rettpad --provision FILE`: a package from the workshop's USB stick into
/// the vault of `store`, with the same checks as over the channel. The
/// running app takes it at its next start (the PIN at the next lock).
pub fn apply_file(
    store: &SharedStore,
    cfg: &Config,
    path: &std::path::Path,
    now_ms: i64,
) -> Result<ApplyReport, FleetError> {
    use std::io::Read;
    let file_error = |e: String| FleetError::File {
        path: path.display().to_string(),
        error: e,
    };
    let f = std::fs::File::open(path).map_err(|e| file_error(e.to_string()))?;
    let mut bytes = Vec::new();
    // One byte over the bound is enough to refuse it.
    f.take(rettpad_provision::MAX_PACKAGE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| file_error(e.to_string()))?;
    apply_package(
        store,
        cfg.fleet.as_ref(),
        &cfg.device_serial,
        &bytes,
        now_ms,
    )
}

/// The configuration in effect at start, and whether a remote lock holds.
pub fn load(base: &Config, store: &SharedStore) -> (Config, bool) {
    let st = store.lock();
    (
        effective(base, &provisioned(&st)),
        remote_lock(&st).is_some(),
    )
}

impl crate::Pad {
    /// A package from a file (the workshop's USB stick, `rettpad
    /// --provision`): the same checks as over the channel.
    pub fn apply_package(&mut self, bytes: &[u8]) -> Result<ApplyReport, FleetError> {
        let (trust, serial) = (
            self.config().fleet.clone(),
            self.config().device_serial.clone(),
        );
        let now = self.clock().wall_ms();
        let r = apply_package(self.store(), trust.as_ref(), &serial, bytes, now)?;
        self.reload_config();
        Ok(r)
    }

    /// Puts what was provisioned in effect: at once, except the PIN and
    /// lock settings, which wait for the next lock.
    fn reload_config(&mut self) {
        let parts = provisioned(&self.store().lock());
        let (base, cfg, session) = self.configs_mut();
        let next = effective(base, &parts);
        if (
            next.pin_hash.as_str(),
            next.idle_lock_minutes,
            next.max_wrong_pins,
        ) != (
            cfg.pin_hash.as_str(),
            cfg.idle_lock_minutes,
            cfg.max_wrong_pins,
        ) {
            match next.session_config().map(|c| session.stage_config(c)) {
                Ok(Ok(())) => tracing::info!("new PIN and lock settings from the next lock"),
                Ok(Err(e)) => tracing::error!(error = %e, "provisioned lock settings unusable"),
                Err(e) => tracing::error!(error = %e, "provisioned lock settings unusable"),
            }
        }
        *cfg = next;
    }

    /// What the channel worker made durable, now in effect on this thread.
    pub(crate) fn channel_event(
        &mut self,
        e: crate::channel::ChannelEvent,
    ) -> Option<crate::PadEvent> {
        use crate::PadEvent;
        use crate::channel::ChannelEvent;
        match e {
            ChannelEvent::Dispatched(a) => Some(PadEvent::Dispatched(a)),
            ChannelEvent::Refused(n) => Some(PadEvent::ChannelRefused(n)),
            ChannelEvent::Provisioned(Ok(r)) => {
                self.reload_config();
                Some(PadEvent::Provisioned(r))
            }
            ChannelEvent::Provisioned(Err(n)) => Some(PadEvent::ProvisionRefused(n)),
            ChannelEvent::Command(Err(n)) => {
                tracing::warn!(error = %n, "remote command refused");
                None
            }
            ChannelEvent::Command(Ok(c)) => Some(self.run_command(&c)),
        }
    }

    /// Acts on a command whose effect the vault already keeps.
    fn run_command(&mut self, c: &Command) -> crate::PadEvent {
        use crate::PadEvent;
        match c.action {
            Action::Lock => {
                self.session_mut().set_remote_lock(true);
                self.cursor = crate::Cursor::default();
                PadEvent::RemoteLocked {
                    reason: c.reason.clone(),
                }
            }
            Action::Unlock => {
                self.session_mut().set_remote_lock(false);
                PadEvent::RemoteUnlocked
            }
            Action::Wipe => {
                self.cursor = crate::Cursor::default();
                self.session_mut().set_remote_lock(true);
                let n = match self.session_mut().wipe_now() {
                    Ok(()) => rettpad_text::Notice::new(
                        "Gerät vom Betreiber gelöscht. Neu-Provisionierung erforderlich.",
                        "Pad wiped by the operator. It must be provisioned again.",
                    ),
                    Err(e) => rettpad_text::Notice::of(&e),
                };
                PadEvent::RemoteWiped(n)
            }
        }
    }
}

/// This pad's state for the gateway (`POST /v1/pad/status`): versions and
/// counts from the vault, never patient data.
pub fn status(store: &SharedStore, now_ms: i64) -> rettpad_transfer::channel_link::PadStatus {
    use rettpad_transfer::uploader::OutboxPersist;
    let st = store.lock();
    let applied = applied(&st).unwrap_or_default();
    let open = st
        .mission_ids()
        .filter(|m| {
            st.state(*m)
                .is_some_and(|s| s.status != rettpad_record::Status::Closed)
        })
        .count();
    rettpad_transfer::channel_link::PadStatus {
        app_version: env!("CARGO_PKG_VERSION").into(),
        config_versions: applied
            .versions
            .iter()
            .map(|(p, v)| (p.name().to_string(), *v))
            .collect(),
        last_package: applied.last_package,
        last_refusal: last_refusal(&st).map(|r| r.code),
        outbox_pending: st.outbox_entries().map_or(0, |l| l.len()) as u32,
        open_missions: open as u32,
        remote_locked: remote_lock(&st).is_some(),
        command_seq: last_seq(&st).unwrap_or(0),
        sent_ms: now_ms,
    }
}

/// What the settings page shows of the fleet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FleetView {
    /// The organisation the pad is enrolled with.
    pub org: Option<String>,
    /// Applied part versions (name, version).
    pub versions: Vec<(&'static str, u64)>,
    pub refusal: Option<Refusal>,
    pub remote_lock: Option<RemoteLock>,
}

impl crate::Pad {
    pub fn fleet_view(&self) -> FleetView {
        let st = self.store().lock();
        FleetView {
            org: self.config().fleet.as_ref().map(|t| t.org.clone()),
            versions: applied(&st)
                .unwrap_or_default()
                .versions
                .iter()
                .map(|(p, v)| (p.name(), *v))
                .collect(),
            refusal: last_refusal(&st),
            remote_lock: remote_lock(&st),
        }
    }
}

/// Records contact with the gateway (the channel is up).
pub fn contact(store: &SharedStore, now_ms: i64) {
    if let Err(e) = store
        .lock()
        .meta_put(LAST_CONTACT_META, now_ms.to_string().as_bytes())
    {
        tracing::warn!(error = %e, "gateway contact not recorded");
    }
}

/// When the pad last had contact; `None`: never (the safeguard then waits
/// for the first contact rather than locking a fresh pad).
pub fn last_contact(store: &Store) -> Option<i64> {
    let b = store.meta_get(LAST_CONTACT_META).ok()??;
    std::str::from_utf8(&b).ok()?.parse().ok()
}

impl crate::Pad {
    /// The offline safeguard, checked by the tick: too long without
    /// contact locks the pad; contact lifts it.
    pub(crate) fn check_offline(&mut self) -> bool {
        let Some(days) = self.config().max_offline_days else {
            return false;
        };
        let now = self.clock().wall_ms();
        let last = last_contact(&self.store().lock());
        let over = last.is_some_and(|t| now - t > i64::from(days) * 86_400_000);
        let was = self.session().is_offline_locked();
        self.session_mut().set_offline_lock(over);
        over && !was
    }
}

pub use rettpad_provision::parts::{CatalogPreset, catalog_presets};

impl crate::Pad {
    /// The provisioned presets; `None` without a catalog part (the built-in
    /// ones apply). Reads the catalog part alone.
    pub fn catalog_presets(&self) -> Option<Vec<CatalogPreset>> {
        let b = self
            .store()
            .lock()
            .meta_get(&part_meta(PartName::Catalog))
            .ok()??;
        let mut p = Parts::default();
        parts::decode_one(PartName::Catalog, &b, &mut p).ok()?;
        catalog_presets(&p.catalog?).ok()
    }
}
