//! `[[devices]]` of the pad configuration.

use serde::{Deserialize, Serialize};

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
    pub protocol: String,
    /// `/dev/rfcommN`, `tcp:127.0.0.1:PORT` (simulator) or `sim` (demo:
    /// start the simulator in-process on a loopback port).
    pub link: String,
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
