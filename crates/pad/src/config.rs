//! Pad configuration and where files live.
//!
//! Later a signed configuration package replaces the file; the demo uses the
//! embedded defaults ([`Config::demo`]) with PIN 1234, which the first screen
//! states.

use crate::session::{Pin, SessionConfig, SessionError, hash_pin};
pub use rettpad_devices::DeviceConfig;
pub use rettpad_transfer::UploadConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The PIN of the demo configuration.
pub const DEMO_PIN: &str = "1234";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Hardware serial of the pad; the device id on every event.
    pub device_serial: String,
    /// Call sign of the vehicle the pad belongs to (shift login default).
    pub call_sign: String,
    /// Argon2id PHC string of the PIN. Empty in the demo: hashed from
    /// [`DEMO_PIN`] at start.
    #[serde(default)]
    pub pin_hash: String,
    #[serde(default = "default_idle")]
    pub idle_lock_minutes: u32,
    #[serde(default = "default_max_pins")]
    pub max_wrong_pins: u32,
    /// Data directory; default `$XDG_DATA_HOME/rettpad`.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// Device key file, outside the data directory; default
    /// `$XDG_CONFIG_HOME/rettpad/device.key`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// Target hospitals offered as one-tap choices.
    #[serde(default)]
    pub hospitals: Vec<String>,
    /// Journal rows per mission before a snapshot compacts them.
    #[serde(default = "default_snapshot_every")]
    pub snapshot_every: u64,
    /// Pad-to-pad handover: certificates, paired pads, confirmation time.
    #[serde(default)]
    pub handover: crate::handover_service::HandoverConfig,
    /// Card reader: `pcsc` (watch pcscd), `sim` (demo: a simulated eGK is
    /// read through the real card code when the crew asks) or `off`.
    #[serde(default)]
    pub card_reader: CardReader,
    /// Paired monitors and defibrillators.
    #[serde(default)]
    pub devices: Vec<DeviceConfig>,
    /// Monitor values go into the protocol by themselves: the first, then
    /// one set every this many minutes (0: only on "übernehmen"). Episodic
    /// values (NIBP) and events always go in. The crew can change it in
    /// the settings.
    #[serde(default = "default_device_record_every_min")]
    pub device_record_every_min: u32,
    /// `[pairing]`: the key of the MIFARE pairing tags (never logged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairing: Option<rettpad_devices::pairing::PairingConfig>,
    /// Hospital IPP printers and the vehicle's mobile printer.
    #[serde(default)]
    pub printers: rettpad_report::print::Printers,
    /// Upload to the gateway; `None` = missions stay on the pad.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadConfig>,
    /// `[fleet]`: the organisation and root key the pad was enrolled with;
    /// only packages and commands under this root are taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<rettpad_provision::Trust>,
    /// The offline safeguard: without gateway contact for this many days
    /// the pad locks until it has contact again (provisioned or here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_offline_days: Option<u32>,
}

/// What a device part of a provisioning package may set: the pad's own
/// settings, in this file's format. Anything else in it is refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceOverlay {
    #[serde(default)]
    pub call_sign: Option<String>,
    #[serde(default)]
    pub card_reader: Option<CardReader>,
    #[serde(default)]
    pub devices: Option<Vec<DeviceConfig>>,
    #[serde(default)]
    pub device_record_every_min: Option<u32>,
    #[serde(default)]
    pub printers: Option<rettpad_report::print::Printers>,
}

impl DeviceOverlay {
    pub fn parse(text: &str) -> Result<DeviceOverlay, String> {
        let o: DeviceOverlay = toml::from_str(text).map_err(|e| e.message().to_string())?;
        if o.call_sign
            .as_ref()
            .is_some_and(|c| c.trim().is_empty() || c.len() > 64 || c.chars().any(char::is_control))
        {
            return Err("call_sign must be 1-64 characters".into());
        }
        Ok(o)
    }
}

fn default_device_record_every_min() -> u32 {
    5
}

/// `card_reader`: where eGK/KVK and pairing tags are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CardReader {
    /// Watch pcscd's readers (the tablet's reader).
    #[default]
    Pcsc,
    /// Demo: a simulated eGK, read through the real card code on a tap.
    Sim,
    /// No card reader.
    Off,
}

fn default_idle() -> u32 {
    15
}
fn default_max_pins() -> u32 {
    5
}
fn default_log_level() -> String {
    "info".into()
}
fn default_snapshot_every() -> u64 {
    256
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration {path} is invalid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("no data directory: set XDG_DATA_HOME or HOME, or pass --data-dir")]
    NoDataDir,
    #[error("cannot create the data directory {path}: {source}")]
    CreateDataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Session(#[from] SessionError),
}

/// What the lock screen shows when the pad cannot start; the log line
/// (`Display`) names the file, the key and the allowed values.
impl rettpad_text::UserMessage for ConfigError {
    fn message(&self, lang: rettpad_text::Lang) -> String {
        let (de, en) = match self {
            ConfigError::Read { .. } | ConfigError::Parse { .. } | ConfigError::Session(_) => (
                "Die Geräte-Konfiguration ist fehlerhaft. Bitte den Administrator verständigen.",
                "The device configuration is faulty. Please call the administrator.",
            ),
            ConfigError::NoDataDir => (
                "Kein Datenverzeichnis festgelegt. Bitte den Administrator verständigen.",
                "No data directory set. Please call the administrator.",
            ),
            ConfigError::CreateDataDir { .. } => (
                "Das Datenverzeichnis kann nicht angelegt werden. Bitte den Administrator verständigen.",
                "The data directory cannot be created. Please call the administrator.",
            ),
        };
        lang.pick(de, en).into()
    }
}

impl Config {
    /// The embedded demo configuration.
    pub fn demo() -> Config {
        Config {
            device_serial: "DEMO-PAD-0001".into(),
            call_sign: "RTW 1/83-1".into(),
            pin_hash: String::new(),
            idle_lock_minutes: default_idle(),
            max_wrong_pins: default_max_pins(),
            data_dir: None,
            key_file: None,
            log_level: default_log_level(),
            snapshot_every: default_snapshot_every(),
            handover: Default::default(),
            card_reader: CardReader::Sim,
            device_record_every_min: default_device_record_every_min(),
            devices: vec![DeviceConfig {
                label: "Monitor".into(),
                protocol: rettpad_devices::pairing::DeviceProtocol::IntelliVue,
                link: rettpad_devices::DeviceLink::Sim,
                serial: Some("DE00000001".into()),
                model: None,
                address: None,
                pin: None,
                waves: None,
            }],
            pairing: None,
            printers: rettpad_report::print::Printers {
                mobile: Some(rettpad_report::print::MobilePrinter {
                    name: "Mobildrucker RTW".into(),
                    path: "/dev/rfcomm0".into(),
                    profile: rettpad_report::print::Profile::Pcl5,
                    dpi: 300,
                    baud: 115_200,
                }),
                hospital: vec![rettpad_report::print::HospitalPrinter {
                    hospital: "Klinikum Mitte, ZNA".into(),
                    name: "ZNA Anmeldung".into(),
                    uri: "ipp://127.0.0.1:631/printers/KioskPDF".into(),
                }],
            },
            upload: None,
            fleet: None,
            max_offline_days: None,
            hospitals: vec![
                "Klinikum Mitte, ZNA".into(),
                "St.-Marien-Krankenhaus".into(),
                "Universitätsklinikum, Herzzentrum".into(),
            ],
        }
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Config::parse(&text).map_err(|message| ConfigError::Parse {
            path: path.into(),
            message,
        })
    }

    /// Parses a configuration; the error names the line with its key and
    /// what was expected (for an enum: every allowed value).
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                let src = text.lines().nth(line - 1).unwrap_or("").trim();
                format!("line {line} (`{src}`): ")
            });
            format!("{}{}", at.unwrap_or_default(), e.message())
        })
    }

    pub fn is_demo_pin(&self) -> bool {
        self.pin_hash.is_empty()
    }

    /// Lock settings; hashes the demo PIN when no hash is configured.
    pub fn session_config(&self) -> Result<SessionConfig, ConfigError> {
        let pin_hash = if self.pin_hash.is_empty() {
            let pin = Pin::new(DEMO_PIN.to_string()).map_err(SessionError::from)?;
            hash_pin(&pin)?
        } else {
            self.pin_hash.clone()
        };
        let mut c = SessionConfig::new(pin_hash);
        c.idle_timeout = Duration::from_secs(u64::from(self.idle_lock_minutes) * 60);
        c.max_failures = self.max_wrong_pins;
        Ok(c)
    }

    pub fn data_dir(&self, override_dir: Option<&Path>) -> Result<PathBuf, ConfigError> {
        if let Some(d) = override_dir.or(self.data_dir.as_deref()) {
            return Ok(d.to_path_buf());
        }
        xdg_dir("XDG_DATA_HOME", ".local/share")
            .map(|d| d.join("rettpad"))
            .ok_or(ConfigError::NoDataDir)
    }

    pub fn key_file(&self, override_file: Option<&Path>) -> PathBuf {
        override_file
            .or(self.key_file.as_deref())
            .map(Path::to_path_buf)
            .unwrap_or_else(rettpad_vault::FileKeyProvider::default_path)
    }
}

fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(v) if !v.is_empty() => Some(PathBuf::from(v)),
        _ => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(fallback)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rettpad_text::{Lang, UserMessage};

    #[test]
    fn unknown_values_are_refused_with_the_line_and_the_allowed_values() {
        let base = "device_serial = \"P1\"\ncall_sign = \"x\"\n";
        let e = Config::parse(&format!("{base}card_reader = \"usb\"\n")).unwrap_err();
        assert!(e.starts_with("line 3 (`card_reader = \"usb\"`)"), "{e}");
        assert!(
            e.contains("`pcsc`") && e.contains("`sim`") && e.contains("`off`"),
            "{e}"
        );
        let dev = |protocol: &str, link: &str| {
            format!(
                "{base}[[devices]]\nlabel = \"M\"\nprotocol = \"{protocol}\"\nlink = \"{link}\"\n"
            )
        };
        let e = Config::parse(&dev("corpuls", "/dev/rfcomm0")).unwrap_err();
        assert!(e.contains("line 5") && e.contains("corpuls"), "{e}");
        assert!(
            e.contains("`intellivue`") && e.contains("`datex`") && e.contains("`ble`"),
            "{e}"
        );
        let e = Config::parse(&dev("datex", "bluetooth")).unwrap_err();
        assert!(e.contains("line 6") && e.contains("rfcomm:"), "{e}");
        let e = Config::parse(&dev("datex", "rfcomm:00:1B:DC:0F:12:34:99")).unwrap_err();
        assert!(e.contains("channel"), "{e}");
        let c = Config::parse(&dev("ble", "ble:00:1B:DC:0F:12:34")).unwrap();
        assert_eq!(c.card_reader, CardReader::Pcsc, "the default reader");
        assert_eq!(c.devices[0].link.to_string(), "ble:00:1B:DC:0F:12:34");
        // What is written is read back the same.
        let demo = Config::demo();
        let text = toml::to_string_pretty(&demo).unwrap();
        assert_eq!(Config::parse(&text).unwrap(), demo);
    }

    #[test]
    fn a_file_that_cannot_be_parsed_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pad.toml");
        std::fs::write(
            &f,
            "device_serial = \"P1\"\ncall_sign = \"x\"\ncard_reader = 3\n",
        )
        .unwrap();
        let e = Config::load(&f).unwrap_err();
        let log = e.to_string();
        assert!(log.contains("pad.toml") && log.contains("line 3"), "{log}");
        assert!(e.message(Lang::De).contains("Konfiguration"));
    }

    #[test]
    fn parses_and_rejects_unknown_keys() {
        let c: Config = toml::from_str("device_serial = \"P1\"\ncall_sign = \"NEF 1\"\n").unwrap();
        assert_eq!(c.idle_lock_minutes, 15);
        assert_eq!(c.max_wrong_pins, 5);
        assert!(c.is_demo_pin());
        assert!(
            toml::from_str::<Config>("device_serial = \"P1\"\ncall_sign = \"x\"\npin = \"1234\"\n")
                .is_err()
        );
    }

    #[test]
    fn printers_section() {
        let c: Config = toml::from_str(
            "device_serial = \"P1\"\ncall_sign = \"x\"\n[printers]\nmobile = { name = \"M\", path = \"/dev/rfcomm0\", profile = \"escp\", dpi = 360 }\n[[printers.hospital]]\nhospital = \"H\"\nname = \"Z\"\nuri = \"ipp://h/printers/z\"\n",
        )
        .unwrap();
        assert_eq!(c.printers.for_hospital("H", "").len(), 2);
        assert_eq!(c.printers.validate(), Ok(()));
        assert_eq!(Config::demo().printers.validate(), Ok(()));
    }

    #[test]
    fn explicit_dirs_win() {
        let c = Config::demo();
        assert_eq!(
            c.data_dir(Some(Path::new("/x"))).unwrap(),
            PathBuf::from("/x")
        );
        assert_eq!(c.key_file(Some(Path::new("/k"))), PathBuf::from("/k"));
    }
}
