//! `[[devices]]` of the pad configuration.

use crate::pairing::{BtAddr, DeviceProtocol};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// `link`: where the device is reached, parsed once when the configuration
/// is read. An unknown form is a configuration error naming the forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceLink {
    /// A tty: `/dev/rfcommN` (bound by the system) or a PTY.
    Serial(String),
    /// `tcp:127.0.0.1:PORT`: a simulator on loopback (others are refused
    /// when connecting).
    Tcp(SocketAddr),
    /// `rfcomm:AA:BB:CC:DD:EE:FF:CHANNEL`: a Bluetooth SPP socket.
    Rfcomm { addr: BtAddr, channel: u8 },
    /// `ble:AA:BB:CC:DD:EE:FF`: a BLE health device.
    Ble(BtAddr),
    /// `sim`: the demo's in-process simulator of the same protocol.
    Sim,
}

/// The forms `link` takes, for error messages.
pub const LINK_FORMS: &str = "/dev/rfcommN, tcp:127.0.0.1:PORT, rfcomm:AA:BB:CC:DD:EE:FF:CHANNEL, ble:AA:BB:CC:DD:EE:FF or sim";

impl TryFrom<String> for DeviceLink {
    type Error = String;

    fn try_from(s: String) -> Result<DeviceLink, String> {
        let bad = |why: String| format!("link `{s}`: {why} (expected {LINK_FORMS})");
        if s == "sim" {
            return Ok(DeviceLink::Sim);
        }
        if let Some(a) = s.strip_prefix("tcp:") {
            return a
                .parse()
                .map(DeviceLink::Tcp)
                .map_err(|e| bad(e.to_string()));
        }
        if s.starts_with("rfcomm:") {
            let (addr, channel) = crate::rfcomm::parse_link(&s).map_err(bad)?;
            return Ok(DeviceLink::Rfcomm { addr, channel });
        }
        if let Some(a) = s.strip_prefix("ble:") {
            return BtAddr::parse(a)
                .map(DeviceLink::Ble)
                .ok_or_else(|| bad("bad Bluetooth address".into()));
        }
        if s.starts_with('/') {
            return Ok(DeviceLink::Serial(s));
        }
        Err(bad("unknown form".into()))
    }
}

impl From<DeviceLink> for String {
    fn from(l: DeviceLink) -> String {
        l.to_string()
    }
}

impl std::fmt::Display for DeviceLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceLink::Serial(p) => f.write_str(p),
            DeviceLink::Tcp(a) => write!(f, "tcp:{a}"),
            DeviceLink::Rfcomm { addr, channel } => write!(f, "rfcomm:{addr}:{channel}"),
            DeviceLink::Ble(a) => write!(f, "ble:{a}"),
            DeviceLink::Sim => f.write_str("sim"),
        }
    }
}

impl DeviceLink {
    /// The Bluetooth address in the link, if it is a Bluetooth link.
    pub fn bt_addr(&self) -> Option<BtAddr> {
        match self {
            DeviceLink::Rfcomm { addr, .. } | DeviceLink::Ble(addr) => Some(*addr),
            _ => None,
        }
    }
}

/// One paired device (from its pairing record / MIFARE tag).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Shown in the status bar and as the source of every value.
    pub label: String,
    /// `intellivue` (Philips IntelliVue Data Export over MIB/RS232) or
    /// `datex` (GE Datex-Ohmeda S/5 computer interface, 19200 8E1 RTS/CTS).
    /// The S/5 reports no serial: for `datex` leave `serial` empty (a set
    /// serial can never be verified and gives "falsches Gerät") and put
    /// `S/5` or `S/5 DRI-Lnn` (pins the DRI level) in `model`.
    pub protocol: DeviceProtocol,
    /// `/dev/rfcommN`, `tcp:127.0.0.1:PORT` (simulator) or `sim` (demo:
    /// start the simulator in-process on a loopback port).
    pub link: DeviceLink,
    /// The serial the device must report, else "falsches Gerät".
    #[serde(default)]
    pub serial: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// Bluetooth address `AA:BB:CC:DD:EE:FF` (from the pairing record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Bluetooth pairing PIN: for the pairing agent only; `Debug` redacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<crate::pairing::PairingPin>,
    /// Waves to export, in priority order. IntelliVue: `I`…`III`, `aVR`…
    /// `aVF`, `V1`…`V6`, `MCL` (at most 3 ECG), `Pleth`, `ABP`, `ART`, `CVP`,
    /// `Resp`, `CO2` (at most 8 others); unset = `["II", "I", "III",
    /// "Pleth", "CO2"]`, `[]` = the monitor's own choice. Datex: `ECG1`…
    /// `ECG3`, `INVP1`, `PLETH`, `CO2`, `O2`, `AWP`, `RESP` (at most 8);
    /// unset = ECG1, PLETH, CO2; `[]` = no waves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waves: Option<Vec<String>>,
}
