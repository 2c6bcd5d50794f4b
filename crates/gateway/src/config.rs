//! `gateway.toml`. Relative paths are relative to the file's directory.

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PadEntry {
    pub serial: String,
    pub call_sign: String,
    /// The dispatch centre whose missions this pad's unit takes. A centre
    /// that alarms a unit registered to another centre is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub centre: Option<String>,
    /// The station (Rettungswache) of the pad's vehicle: packages for
    /// `--to station:NAME` go to every pad of that station.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station: Option<String>,
    /// The vehicle type (RTW, NEF, KTW …): `--to type:NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vehicle_type: Option<String>,
    /// The organisation whose archive keeps this pad's protocols (a
    /// gateway may serve several); default `[archive] org`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

/// `[backoffice]`: the web client (docs/backoffice.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackofficeEntry {
    /// Without `tls`: plain HTTP, loopback only (the demo, a reverse proxy
    /// on the same host). With `tls`: HTTPS on any address, and every
    /// connection needs a user certificate of an organisation's CA.
    pub listen: SocketAddr,
    /// `seed` (the default: the modelled system's rules) or `nist`.
    #[serde(default = "default_profile")]
    pub password_profile: String,
    /// Mark the session cookie `Secure` (browsers accept it from
    /// http://localhost and https).
    #[serde(default = "default_true")]
    pub secure_cookie: bool,
    /// Argon2id memory in KiB (t = 3, p = 1); at least OWASP's 19 MiB.
    #[serde(default = "default_hash_memory")]
    pub hash_memory_kib: u32,
    /// The second factor: HTTPS with a client certificate per user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<BackofficeTls>,
}

/// `[backoffice.tls]`: the server's certificate and, per organisation,
/// the CA that issues its users' certificates (subject `serialNumber` =
/// the user's login).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackofficeTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    #[serde(default)]
    pub client_ca: Vec<OrgCa>,
}

/// One organisation's user CA and its revocation lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgCa {
    pub org: String,
    pub ca: PathBuf,
    #[serde(default)]
    pub crls: Vec<PathBuf>,
}

impl BackofficeEntry {
    pub fn hash_params(&self) -> rettpad_backoffice::auth::HashParams {
        rettpad_backoffice::auth::HashParams {
            m_kib: self.hash_memory_kib,
            ..rettpad_backoffice::auth::HashParams::server()
        }
    }
}

fn default_hash_memory() -> u32 {
    rettpad_backoffice::auth::HashParams::server().m_kib
}

fn default_profile() -> String {
    "seed".into()
}

/// `[archive]`: where every accepted protocol is filed for ten years
/// (docs/backoffice.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveEntry {
    /// `sqlite:PATH` or a PostgreSQL connection string (use the Unix
    /// socket with peer authentication: no password in this file).
    /// Default: `archive.sqlite` in `data_dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The organisation of pads without their own `org`; default the
    /// `[fleet]` organisation, else `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// Hex 32-byte key that wraps the organisations' archive keys; every
    /// node of one archive needs the same. Default: the storage key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_key: Option<PathBuf>,
    /// This node's name in the rows it writes; default `gateway`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// `[fleet]`: the organisation whose packages and commands this gateway
/// signs (docs/fleet.md). The root's private key is not here: it lives
/// offline; only its public key, to check what is published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetEntry {
    pub org: String,
    /// Hex Ed25519 public key of the organisation root.
    pub root_key: String,
    /// Hex PKCS#8 of the key that signs packages, and its certificate.
    #[serde(default = "default_packages_key")]
    pub packages_key: PathBuf,
    #[serde(default = "default_packages_cert")]
    pub packages_cert: PathBuf,
    /// The same for remote commands.
    #[serde(default = "default_commands_key")]
    pub commands_key: PathBuf,
    #[serde(default = "default_commands_cert")]
    pub commands_cert: PathBuf,
}

fn default_packages_key() -> PathBuf {
    "fleet-packages.key".into()
}
fn default_packages_cert() -> PathBuf {
    "fleet-packages.cert".into()
}
fn default_commands_key() -> PathBuf {
    "fleet-commands.key".into()
}
fn default_commands_cert() -> PathBuf {
    "fleet-commands.cert".into()
}

/// A dispatch centre (Leitstelle) that may send missions and statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentreEntry {
    /// The centre id of `rettpad.dispatch/1` (e.g. "by-ils-71").
    pub id: String,
    pub name: String,
    /// Hex SHA-256 of the centre's API token.
    pub token_sha256: String,
    /// FMS/TETRA status → time fields; the nationwide default if absent.
    #[serde(default)]
    pub status_map: rettpad_dispatch::StatusMap,
    /// An MQTT feed (FE2-style) the gateway subscribes to for this centre.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mqtt: Option<crate::mqtt::MqttFeed>,
    /// Where the gateway sends the documented times of this centre's
    /// missions; none: the centre only pulls them (lookup).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<crate::report::ReportTarget>,
}

/// The permanent pad channel (`[channel]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelLimits {
    /// A comment on every idle stream this often (carrier NATs drop idle
    /// TCP after minutes; docs/dispatch.md).
    pub keepalive_secs: u64,
    /// Messages kept per pad while it is offline; beyond this the oldest
    /// is dropped, counted and logged (the pad sees the gap).
    pub max_queue: u32,
    /// Messages older than this are dropped from an offline pad's queue.
    pub max_queue_age_hours: u32,
}

impl Default for ChannelLimits {
    fn default() -> Self {
        ChannelLimits {
            keepalive_secs: 25,
            max_queue: 1_000,
            max_queue_age_hours: 72,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HospitalEntry {
    pub id: String,
    pub name: String,
    /// Hex SHA-256 of the hospital's mailbox token (the token itself is
    /// only in the hospital's own file).
    pub token_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Pad intake (mTLS). Any port.
    pub listen: SocketAddr,
    /// Arrival board and hospital mailboxes: plain HTTP, loopback only
    /// (a reverse proxy with TLS fronts it in production; envelopes are
    /// end-to-end encrypted anyway).
    pub hospital_listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Organisation CA (PEM) that issued the pad certificates.
    pub ca: PathBuf,
    #[serde(default)]
    pub crls: Vec<PathBuf>,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Hex P-256 private key: opens the server payload.
    pub hpke_key: PathBuf,
    /// Hex PKCS#8 Ed25519 key: signs receipts.
    pub signing_key: PathBuf,
    /// Hex 32-byte AES-256-GCM key: seals everything at rest.
    pub storage_key: PathBuf,
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    #[serde(default = "default_sweep")]
    pub sweep_interval_secs: u64,
    #[serde(default = "default_mailbox")]
    pub mailbox_hours: u32,
    #[serde(default = "default_board")]
    pub board_hours: u32,
    /// Accept TLS 1.2 besides 1.3 (older pads); never below 1.2.
    #[serde(default = "default_true")]
    pub tls12: bool,
    #[serde(default)]
    pub pads: Vec<PadEntry>,
    #[serde(default)]
    pub hospitals: Vec<HospitalEntry>,
    /// The dispatch API for ELS adapters: plain HTTP, loopback only (the
    /// adapter runs beside the gateway or behind the VPN's TLS endpoint);
    /// each centre authenticates with its own token. None: no dispatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch_listen: Option<SocketAddr>,
    #[serde(default)]
    pub centres: Vec<CentreEntry>,
    #[serde(default)]
    pub channel: ChannelLimits,
    /// Test hook: wait this long after storing before answering (lets a
    /// test kill the pad between send and receipt). 0 in production.
    #[serde(default)]
    pub debug_reply_delay_ms: u64,
    /// Sizes, timeouts and plausibility bounds (`[limits]`).
    #[serde(default)]
    pub limits: Limits,
    /// Provisioning and remote commands; none: `provision keys` not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetEntry>,
    #[serde(default)]
    pub archive: ArchiveEntry,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoffice: Option<BackofficeEntry>,
    /// `rettpad-gateway backup` / `restore` (docs/backup.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<BackupEntry>,
    /// The passphrase mode (`keys wrap`, docs/backup.md): the keys on
    /// disk only wrapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<KeysEntry>,
}

/// `[keys]`: the keyring that wraps the storage, archive and backup keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysEntry {
    pub keyring: PathBuf,
}

/// `[backup]`: where the encrypted backups go and how long they stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupEntry {
    /// Best on other storage than `data_dir`: a backup on the same disk
    /// dies with it.
    pub dir: PathBuf,
    /// 32 bytes, hex, 0600. Keep a copy apart from the backups: without
    /// it they do not open.
    pub key: PathBuf,
    #[serde(default = "default_backup_days")]
    pub retention_days: u32,
    /// PostgreSQL's programs (`pg_basebackup`, `pg_ctl`) for an archive on
    /// PostgreSQL; default: found under /usr/lib/postgresql.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pg_bindir: Option<PathBuf>,
}

fn default_backup_days() -> u32 {
    28
}

/// Limits on what pads may send and how slowly. Defaults suit a fleet of
/// pads on mobile networks; every value can be set in `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// One upload; refused from its declared length (413). Defaults to the
    /// packet format's cap, so no packet a pad can seal is ever too big.
    pub max_body_bytes: u64,
    /// Sum of the declared lengths of all uploads being received or
    /// processed. An upload that does not fit waits up to
    /// `inflight_wait_ms`, then gets 503 and is retried by the pad. One
    /// pad's uploads together may declare at most `max_body_bytes` (429),
    /// so with the default of two packets' room one pad cannot fill it.
    pub max_inflight_body_bytes: u64,
    pub inflight_wait_ms: u64,
    /// TLS handshake, from the TCP accept.
    pub handshake_timeout_secs: u64,
    /// The whole request head, from its first byte.
    pub header_timeout_secs: u64,
    /// A kept-alive connection without a request is closed after this.
    pub idle_timeout_secs: u64,
    /// No body byte for this long: 408.
    pub body_stall_secs: u64,
    /// Minimum average body rate (bytes/s) after `rate_grace_secs`: by
    /// second t of the body, at least (t - grace) × rate bytes must be in.
    pub min_body_rate: u64,
    pub rate_grace_secs: u64,
    /// Open connections per pad (certificate serial); more get 429.
    pub max_connections_per_pad: usize,
    /// A manifest's creation time may be at most this far in the future
    /// (pad clock ahead of the gateway's)...
    pub max_clock_skew_secs: u64,
    /// ...and at most this old (a pad offline for weeks is still accepted).
    pub max_packet_age_days: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: rettpad_transfer::packet::MAX_PACKET as u64,
            max_inflight_body_bytes: 2 * rettpad_transfer::packet::MAX_PACKET as u64,
            inflight_wait_ms: 5_000,
            handshake_timeout_secs: 10,
            header_timeout_secs: 10,
            idle_timeout_secs: 30,
            body_stall_secs: 15,
            min_body_rate: 2_048,
            rate_grace_secs: 10,
            max_connections_per_pad: 8,
            max_clock_skew_secs: 600,
            max_packet_age_days: 60,
        }
    }
}

fn default_retention() -> u32 {
    92 // 3 months
}
fn default_sweep() -> u64 {
    3600
}
fn default_mailbox() -> u32 {
    24
}
fn default_board() -> u32 {
    3
}
fn default_true() -> bool {
    true
}

#[derive(Debug, thiserror::Error)]
pub enum GwConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
}

impl GatewayConfig {
    pub fn load(path: &Path) -> Result<GatewayConfig, GwConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| GwConfigError::Read {
            path: path.into(),
            source,
        })?;
        let mut c: GatewayConfig = toml::from_str(&text).map_err(|e| GwConfigError::Parse {
            path: path.into(),
            message: e.message().to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        c.resolve(base);
        c.validate().map_err(|message| GwConfigError::Parse {
            path: path.into(),
            message,
        })?;
        Ok(c)
    }

    fn resolve(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for p in [
            &mut self.data_dir,
            &mut self.ca,
            &mut self.cert,
            &mut self.key,
            &mut self.hpke_key,
            &mut self.signing_key,
            &mut self.storage_key,
        ] {
            fix(p);
        }
        self.crls.iter_mut().for_each(fix);
        if let Some(p) = &mut self.archive.master_key {
            fix(p);
        }
        if let Some(b) = &mut self.backup {
            fix(&mut b.dir);
            fix(&mut b.key);
            if let Some(p) = &mut b.pg_bindir {
                fix(p);
            }
        }
        if let Some(k) = &mut self.keys {
            fix(&mut k.keyring);
        }
        if let Some(t) = self.backoffice.as_mut().and_then(|b| b.tls.as_mut()) {
            fix(&mut t.cert);
            fix(&mut t.key);
            for c in &mut t.client_ca {
                fix(&mut c.ca);
                c.crls.iter_mut().for_each(fix);
            }
        }
        for c in &mut self.centres {
            if let Some(p) = c.report.as_mut().and_then(|r| r.token_file.as_mut()) {
                fix(p);
            }
        }
        if let Some(f) = &mut self.fleet {
            for p in [
                &mut f.packages_key,
                &mut f.packages_cert,
                &mut f.commands_key,
                &mut f.commands_cert,
            ] {
                fix(p);
            }
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if !self.hospital_listen.ip().is_loopback() {
            return Err("hospital_listen must be a loopback address".into());
        }
        if let Some(b) = &self.backoffice {
            match &b.tls {
                None if !b.listen.ip().is_loopback() => {
                    return Err(
                        "backoffice.listen must be a loopback address unless [backoffice.tls] is set"
                            .into(),
                    );
                }
                Some(t) if t.client_ca.is_empty() => {
                    return Err(
                        "backoffice.tls needs at least one [[backoffice.tls.client_ca]]".into(),
                    );
                }
                Some(t) => {
                    let mut orgs: Vec<&str> = t.client_ca.iter().map(|c| c.org.as_str()).collect();
                    orgs.sort_unstable();
                    if orgs.windows(2).any(|w| w[0] == w[1]) {
                        return Err("backoffice.tls.client_ca names an organisation twice".into());
                    }
                }
                None => {}
            }
            if !(19_456..=1_048_576).contains(&b.hash_memory_kib) {
                return Err("backoffice.hash_memory_kib must be between 19456 and 1048576".into());
            }
            if !["seed", "nist"].contains(&b.password_profile.as_str()) {
                return Err("backoffice.password_profile must be \"seed\" or \"nist\"".into());
            }
        }
        if self.backup.as_ref().is_some_and(|b| b.retention_days == 0) {
            return Err("backup.retention_days must be > 0".into());
        }
        if self.retention_days == 0 || self.mailbox_hours == 0 || self.board_hours == 0 {
            return Err("retention_days, mailbox_hours and board_hours must be > 0".into());
        }
        let l = &self.limits;
        if l.max_body_bytes == 0 || l.max_body_bytes > u64::from(u32::MAX) {
            return Err("limits.max_body_bytes must be between 1 and 4294967295".into());
        }
        if l.max_inflight_body_bytes < l.max_body_bytes
            || l.max_inflight_body_bytes > u64::from(u32::MAX)
        {
            return Err(
                "limits.max_inflight_body_bytes must be at least max_body_bytes and below 4 GiB"
                    .into(),
            );
        }
        if l.handshake_timeout_secs == 0
            || l.header_timeout_secs == 0
            || l.idle_timeout_secs == 0
            || l.body_stall_secs == 0
            || l.min_body_rate == 0
            || l.max_connections_per_pad == 0
            || l.max_packet_age_days == 0
        {
            return Err("limits: timeouts, rates and counts must be > 0".into());
        }
        if self.dispatch_listen.is_some_and(|a| !a.ip().is_loopback()) {
            return Err("dispatch_listen must be a loopback address".into());
        }
        let c = &self.channel;
        if c.keepalive_secs == 0 || c.max_queue == 0 || c.max_queue_age_hours == 0 {
            return Err(
                "channel: keepalive_secs, max_queue and max_queue_age_hours must be > 0".into(),
            );
        }
        for (i, c) in self.centres.iter().enumerate() {
            if c.id.is_empty() || c.id.len() > 64 || self.centres[..i].iter().any(|o| o.id == c.id)
            {
                return Err(format!("invalid or repeated centre id {:?}", c.id));
            }
            if hex::decode(&c.token_sha256).map_or(true, |b| b.len() != 32) {
                return Err(format!(
                    "centre {}: token_sha256 must be 64 hex digits",
                    c.id
                ));
            }
            if let Some(r) = &c.report {
                r.check().map_err(|e| format!("centre {}: {e}", c.id))?;
            }
        }
        for p in &self.pads {
            if let Some(c) = &p.centre
                && !self.centres.iter().any(|x| &x.id == c)
            {
                return Err(format!("pad {}: unknown centre {c:?}", p.serial));
            }
        }
        if let Some(f) = &self.fleet {
            crate::fleet::check_org(&f.org).map_err(|e| format!("fleet: {e}"))?;
            if hex::decode(&f.root_key).map_or(true, |b| b.len() != 32) {
                return Err("fleet: root_key must be 64 hex digits".into());
            }
        }
        for h in &self.hospitals {
            if !rettpad_transfer::packet::valid_hospital_id(&h.id) {
                return Err(format!("invalid hospital id {:?}", h.id));
            }
        }
        Ok(())
    }

    /// The archive's database URL.
    pub fn archive_url(&self) -> String {
        self.archive
            .url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{}", self.data_dir.join("archive.sqlite").display()))
    }

    /// The organisation of a pad's protocols.
    pub fn org_of(&self, serial: &str) -> String {
        self.pads
            .iter()
            .find(|p| p.serial == serial)
            .and_then(|p| p.org.clone())
            .or_else(|| self.archive.org.clone())
            .or_else(|| self.fleet.as_ref().map(|f| f.org.clone()))
            .unwrap_or_else(|| "default".into())
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}

/// Reads a hex key file (trimmed).
pub fn read_hex_file(path: &Path) -> Result<Vec<u8>, String> {
    let t = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    hex::decode(t.trim()).map_err(|_| format!("{}: not hex", path.display()))
}
